/* SPDX-License-Identifier: ISC */
/*
 * Secrets at rest (device private keys): a small file, created exclusively with
 * mode 0600 and never through a symlink, holding an opaque secret blob either
 * encrypted under an Argon2id key from a passphrase, or - explicitly, and said
 * so in the file - unprotected (tests and bots). Byte format in docs/PROTOCOL.md.
 * Reading refuses a file that group or others can read (SOTTO_ERR_PERMISSIONS).
 */
#ifndef SOTTO_KEYFILE_H
#define SOTTO_KEYFILE_H

#include <stddef.h>
#include <stdint.h>

#define KEYFILE_MAX_SECRET 4096

/* passphrase NULL: unprotected. opslimit/memlimit 0: sc_pwhash_*_default().
 * SOTTO_ERR_EXISTS if path exists. */
int keyfile_write(const char *path, const uint8_t *secret, size_t len, const char *passphrase,
    uint64_t opslimit, size_t memlimit) __attribute__((warn_unused_result));

/* Decrypt into secret (max bytes; use sc_secure_alloc'd memory). passphrase may be NULL
 * for an unprotected file; a protected file then gives SOTTO_ERR_PASSPHRASE, as does a
 * wrong passphrase. */
int keyfile_read(const char *path, uint8_t *secret, size_t max, size_t *len, const char *passphrase)
    __attribute__((warn_unused_result));

/* 1 if the file at path is passphrase-protected, 0 if not, negative sotto_err on error. */
int keyfile_is_protected(const char *path);

#endif
