/* SPDX-License-Identifier: ISC */
/*
 * Envelope v1 (DESIGN.md section 4; bytes in docs/PROTOCOL.md).
 *
 * envelope = u16 header_len || header || u32 body_len || body || signature (64)
 * header   = u8 version (1) || msg_id (16) || str8 sender handle || sender device id (16)
 *            || u64 sent_at (ms) || u8 n || n x str8 recipient handle
 * body     = ChaCha20-Poly1305-IETF(K, nonce = 12 zero bytes, aad = header, pad(content))
 * signature= Ed25519(sender device, "sotto-envelope-v1" || 0x00 || SHA-256(header) || SHA-256(body))
 * wrap     = HPKE base seal to the device's X25519 key of K, info = "sotto-wrap-v1" || 0x00 ||
 *            SHA-256(header), aad = the device id: enc (32) || ct (48) = ENV_WRAP_LEN bytes.
 * Content is padded (ISO/IEC 7816-4) to the smallest power of two >= 256 that holds it + 1.
 */
#ifndef SOTTO_ENVELOPE_H
#define SOTTO_ENVELOPE_H

#include <stddef.h>
#include <stdint.h>

#include "crypto.h"
#include "caps.h"

#define ENV_VERSION 1
#define ENV_MSG_ID_LEN 16
#define ENV_WRAP_LEN (32 + 32 + 16)
/* sent_at is 1..ENV_MAX_SENT_AT ms (9999-12-31T23:59:59.999Z): every value a
 * receiver stores and shows as a date. */
#define ENV_MAX_SENT_AT 253402300799999ULL

typedef struct env_header {
	uint8_t version;
	uint8_t msg_id[ENV_MSG_ID_LEN];
	char sender[SOTTO_MAX_HANDLE + 1];
	uint8_t sender_device[SC_DEVICE_ID];
	uint64_t sent_at;
	size_t n_recipients;		/* 1..SOTTO_MAX_RECIPIENTS, no duplicates */
	char recipients[SOTTO_MAX_RECIPIENTS][SOTTO_MAX_HANDLE + 1];
} env_header;

/* One device the body key is wrapped for. Pointers borrowed for the call. */
typedef struct env_target {
	const uint8_t *device_id;	/* SC_DEVICE_ID bytes */
	const uint8_t *enc_pub;		/* SC_KX_PUB bytes */
} env_target;

/* Seal content for h (h->msg_id and h->sent_at are filled in here if msg_id is all
 * zero / sent_at is 0; h->version is set to ENV_VERSION). *envelope: caller frees with
 * free(). wraps: caller provides n_targets * ENV_WRAP_LEN bytes; wraps[i] is for
 * targets[i]. The body key is wiped. h->sender_device must be the device id of
 * sender_sec's key. Errors: SOTTO_ERR_TOO_LARGE (content_len > SOTTO_MAX_BODY),
 * SOTTO_ERR_INVALID_ARG (header breaking the parse rules of env_parse_header,
 * e.g. sent_at above ENV_MAX_SENT_AT, sender_device mismatch,
 * more than SOTTO_MAX_RECIPIENTS * SOTTO_MAX_DEVICES + SOTTO_MAX_DEVICES targets),
 * SOTTO_ERR_CRYPTO (a target key HPKE refuses), SOTTO_ERR_NOMEM; on failure h is
 * as it was, *envelope NULL and wraps zeroed. */
int env_seal(env_header *h, const uint8_t *content, size_t content_len,
    const uint8_t sender_sec[static SC_SIGN_SEC], const env_target *targets, size_t n_targets,
    uint8_t **envelope, size_t *envelope_len, uint8_t *wraps) __attribute__((warn_unused_result));

/* Parse without any cryptography, e.g. to learn which sender device to look up.
 * Rules: version 1, sender and every recipient handle_valid, sent_at
 * 1..ENV_MAX_SENT_AT, 1..SOTTO_MAX_RECIPIENTS recipients without duplicates, header_len <= SOTTO_MAX_HEADER, body_len - 16 a
 * power of two from 256 to SOTTO_MAX_PADDED_BODY, no trailing bytes anywhere.
 * h zeroed on failure. SOTTO_ERR_VERSION (version not 1) or SOTTO_ERR_FORMAT. */
int env_parse_header(env_header *h, const uint8_t *envelope, size_t envelope_len)
    __attribute__((warn_unused_result));

/* The sender handle an envelope claims (its header's, unverified: for naming
 * it in an alert about a copy that does not parse or open). SOTTO_ERR_FORMAT
 * if the bytes do not get that far or it is not handle_valid; out "" then. */
int env_claimed_sender(char out[static SOTTO_MAX_HANDLE + 1], const uint8_t *envelope,
    size_t envelope_len) __attribute__((warn_unused_result));

/* The receiver's rules, in this order: parse; the signature must verify against
 * sender_sig_pub (the sender device's key from the sender's *verified* device list,
 * looked up by the caller from env_parse_header's result) - before anything is
 * decrypted; my_handle must be a recipient, or the sender (a copy of my own message
 * on my other device) with a sender device other than mine; unwrap K with my X25519
 * key and my device id; decrypt; unpad.
 * Replay (a msg id seen before) is checked by the caller's store.
 * *content: caller frees with free() (NUL-terminated for convenience; content_len
 * excludes it). The signature also fails if sender_sig_pub is not the key of the
 * header's sender device. wrap_len must be ENV_WRAP_LEN. h is zeroed and the key and
 * plaintext wiped on failure. Errors: SOTTO_ERR_FORMAT, SOTTO_ERR_VERSION,
 * SOTTO_ERR_BAD_SIGNATURE, SOTTO_ERR_NOT_RECIPIENT, SOTTO_ERR_DECRYPT, SOTTO_ERR_NOMEM. */
int env_open(env_header *h, uint8_t **content, size_t *content_len,
    const uint8_t *envelope, size_t envelope_len, const uint8_t *wrap, size_t wrap_len,
    const uint8_t sender_sig_pub[static SC_SIGN_PUB], const char *my_handle,
    const uint8_t my_device_id[static SC_DEVICE_ID], const uint8_t my_enc_sec[static SC_KX_SEC])
    __attribute__((warn_unused_result));

#endif
