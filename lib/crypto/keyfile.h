/* SPDX-License-Identifier: ISC */
/*
 * Secrets at rest (device private keys): a small file, created exclusively with
 * mode 0600 and never through a symlink, holding an opaque secret blob either
 * encrypted under an Argon2id key from a passphrase, or - explicitly, and said
 * so in the file - unprotected (tests and bots).
 * Reading refuses a file that group or others can read (SOTTO_ERR_PERMISSIONS).
 *
 * Byte format (integers big-endian):
 *   magic "SOTTOKEY" (8)
 *   u8  format (1)
 *   u8  mode: 0 unprotected, 1 Argon2id + ChaCha20-Poly1305
 *   salt (16): Argon2id salt, fresh on every write; all zero if unprotected
 *   u64 opslimit, u64 memlimit: Argon2id cost; both 0 if unprotected. When reading,
 *       each must lie in [libsodium minimum, 4 x sc_pwhash_*_default()], so that a
 *       hostile file cannot make us spend minutes or gigabytes
 *   u32 n, then n bytes:
 *       mode 0: the secret itself (n <= KEYFILE_MAX_SECRET)
 *       mode 1: ChaCha20-Poly1305-IETF(key = Argon2id(passphrase, salt, opslimit,
 *               memlimit), nonce = 12 zero bytes, aad = the 42 header bytes before n,
 *               the secret) with its 16-byte tag (n <= KEYFILE_MAX_SECRET + 16).
 *               A zero nonce is safe: the salt, hence the key, is new for every write.
 *   nothing after.
 */
#ifndef SOTTO_KEYFILE_H
#define SOTTO_KEYFILE_H

#include <stddef.h>
#include <stdint.h>

#define KEYFILE_MAX_SECRET 4096

/* passphrase NULL: unprotected. opslimit/memlimit 0: sc_pwhash_*_default(); otherwise
 * they must lie in the range a reader accepts (SOTTO_ERR_INVALID_ARG). len at most
 * KEYFILE_MAX_SECRET (SOTTO_ERR_TOO_LARGE). SOTTO_ERR_EXISTS if path exists (even as a
 * dangling symlink), SOTTO_ERR_IO if it cannot be created or written (nothing is left
 * behind), SOTTO_ERR_NOMEM if Argon2id cannot have its memory. */
int keyfile_write(const char *path, const uint8_t *secret, size_t len, const char *passphrase,
    uint64_t opslimit, size_t memlimit) __attribute__((warn_unused_result));

/* Replace the key file at path by one holding secret, as keyfile_write does,
 * atomically: written in full to path + ".new" (a leftover of an interrupted
 * replace is removed first), synced, then renamed over path, and the folder
 * synced. A crash leaves either the old file or the new one, never a mix.
 * Errors as keyfile_write (SOTTO_ERR_EXISTS only if the ".new" file cannot be
 * removed). */
int keyfile_replace(const char *path, const uint8_t *secret, size_t len, const char *passphrase,
    uint64_t opslimit, size_t memlimit) __attribute__((warn_unused_result));

/* Decrypt into secret (max bytes; use sc_secure_alloc'd memory) and set *len. passphrase
 * may be NULL for an unprotected file (and is ignored for one); a protected file then
 * gives SOTTO_ERR_PASSPHRASE, as does a wrong passphrase or a tampered file.
 * Other errors: SOTTO_ERR_NOT_FOUND, SOTTO_ERR_PERMISSIONS (group/other bits set, or a
 * symlink), SOTTO_ERR_IO (not a regular file, read error), SOTTO_ERR_TOO_LARGE (file
 * too big, or secret longer than max), SOTTO_ERR_FORMAT / _VERSION / _TRUNCATED /
 * _TRAILING (malformed). secret and *len are cleared on failure. */
int keyfile_read(const char *path, uint8_t *secret, size_t max, size_t *len, const char *passphrase)
    __attribute__((warn_unused_result));

/* 1 if the file at path is passphrase-protected, 0 if not, negative sotto_err on error
 * (the same checks as keyfile_read, short of decrypting). */
int keyfile_is_protected(const char *path);

#endif
