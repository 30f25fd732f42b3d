/* SPDX-License-Identifier: ISC */
/*
 * Device lists (DESIGN.md section 3; byte format in docs/PROTOCOL.md).
 *
 * A signed device list is: body || signer (16) || signature (64), where the
 * signature is Ed25519 over "sotto-devicelist-v1" || 0x00 || body by either the
 * account key (signer = 16 zero bytes) or a device of the previous version
 * (signer = its device id). Version 1 must be signed by the account key. Each
 * later version names SHA-256 of the previous signed list in prev_hash, keeps the
 * account key and handle, and has version = previous + 1. A list that does not
 * chain this way to the last one a client verified is an identity reset.
 */
#ifndef SOTTO_DEVICELIST_H
#define SOTTO_DEVICELIST_H

#include <stddef.h>
#include <stdint.h>

#include "crypto.h"
#include "caps.h"

typedef struct dl_device {
	uint8_t id[SC_DEVICE_ID];		/* = sc_device_id(sig_pub), checked on parse */
	char name[SOTTO_MAX_DEVICE_NAME + 1];
	uint8_t sig_pub[SC_SIGN_PUB];
	uint8_t enc_pub[SC_KX_PUB];
	uint64_t added_at;			/* ms since the Unix epoch */
	uint8_t approved_by[SC_DEVICE_ID];	/* zeros: the account key */
} dl_device;

typedef struct dl_list {
	char handle[SOTTO_MAX_HANDLE + 1];
	uint8_t account_pub[SC_SIGN_PUB];
	uint64_t version;			/* 1, 2, ... */
	uint8_t prev_hash[SC_SHA256];		/* zeros in version 1 */
	uint64_t created_at;			/* ms */
	size_t n_devices;			/* 1..SOTTO_MAX_DEVICES */
	dl_device devices[SOTTO_MAX_DEVICES];
	uint8_t signer[SC_DEVICE_ID];		/* zeros: the account key */
	uint8_t sig[SC_SIG];
} dl_list;

/* Fill l->signer and l->sig and write the signed bytes. *out: caller frees with free().
 * The caller fills every other field (device ids = sc_device_id(sig_pub)); a list
 * that dl_parse would refuse, an account_sec that is not l->account_pub's, a
 * device_sec that is not device_id's, or a device signature on version 1 is
 * SOTTO_ERR_INVALID_ARG.
 * With the account key: account_sec is the account's Ed25519 secret key.
 * With a device: that device's id and secret key (the caller ensures it belongs to
 * the previous version; dl_verify_next checks it anyway). */
int dl_sign_account(dl_list *l, const uint8_t account_sec[static SC_SIGN_SEC],
    uint8_t **out, size_t *outlen) __attribute__((warn_unused_result));
int dl_sign_device(dl_list *l, const uint8_t device_id[static SC_DEVICE_ID],
    const uint8_t device_sec[static SC_SIGN_SEC], uint8_t **out, size_t *outlen)
    __attribute__((warn_unused_result));

/* Parse signed bytes into l: structure and field rules only (magic "SDL1", handle
 * valid, version >= 1 with prev_hash all zero exactly in version 1, 1..MAX devices,
 * unique ids, id = hash of sig key, names strict UTF-8 of at most
 * SOTTO_MAX_DEVICE_NAME bytes without control characters, at most
 * SOTTO_MAX_DEVICE_LIST bytes, no trailing bytes). Does NOT verify the signature.
 * l is zeroed on failure. SOTTO_ERR_FORMAT, SOTTO_ERR_TRUNCATED, SOTTO_ERR_TRAILING,
 * SOTTO_ERR_TOO_LARGE. */
int dl_parse(dl_list *l, const uint8_t *p, size_t n) __attribute__((warn_unused_result));

/* 1 if name (NUL-terminated) is a device name a list can hold: 1 to
 * SOTTO_MAX_DEVICE_NAME bytes, strict UTF-8, no control characters. */
int dl_name_valid(const char *name);

/* SHA-256 of the whole signed list: what the next version puts in prev_hash. */
void dl_hash(uint8_t out[static SC_SHA256], const uint8_t *p, size_t n);

/* Version 1 of a chain: version == 1, prev_hash zero, signed by its own account key.
 * l must come from dl_parse of bytes p/n (checked: SOTTO_ERR_INVALID_ARG if not).
 * SOTTO_ERR_BAD_SIGNATURE, SOTTO_ERR_CHAIN, SOTTO_ERR_BAD_KEY (checked before the
 * signature: the account key or a device's signing key small-order or not
 * canonical, or a device's X25519 key of small order). */
int dl_verify_first(const dl_list *l, const uint8_t *p, size_t n) __attribute__((warn_unused_result));

/* next (parsed from p/n) follows prev (whose signed bytes hash to prev_hash):
 * same handle and account key, version + 1, prev_hash matches, signed by the
 * account key (recovery) or by a device listed in prev. next must come from
 * dl_parse of p/n (checked: SOTTO_ERR_INVALID_ARG if not). SOTTO_ERR_CHAIN (a
 * rule, or a signer that is not a device of prev), SOTTO_ERR_BAD_KEY (as in
 * dl_verify_first, for next) or SOTTO_ERR_BAD_SIGNATURE. */
int dl_verify_next(const dl_list *prev, const uint8_t prev_hash[static SC_SHA256],
    const dl_list *next, const uint8_t *p, size_t n) __attribute__((warn_unused_result));

/* Device with that id, or NULL. Borrowed from l. */
const dl_device *dl_find(const dl_list *l, const uint8_t id[static SC_DEVICE_ID]);

/* Human fingerprint of a device's keys: SHA-256(sig_pub || enc_pub), first 16 bytes,
 * as 8 groups of 4 hex digits separated by spaces. out holds DL_FINGERPRINT_LEN + 1. */
#define DL_FINGERPRINT_LEN 39
void dl_fingerprint(char *out, const dl_device *d);

/* Safety number of two accounts (DESIGN.md section 3): 60 decimal digits in 12
 * groups of 5 separated by spaces, identical whichever side computes it.
 * out holds SAFETY_NUMBER_LEN + 1.
 * Per account: D = SHA-512("sotto-safety-v1" || 0x00 || account_pub || handle), then
 * 5199 more rounds of D = SHA-512(D || account_pub) (5200 hashes in all); the first
 * 30 bytes of D as 6 chunks of 5 bytes, each a big-endian 40-bit integer mod 100000
 * written as 5 digits: 30 digits. The account with the smaller (handle by byte
 * comparison, then account_pub by memcmp) comes first; the 60 digits are printed
 * as 12 groups of 5 separated by single spaces. */
#define SAFETY_NUMBER_LEN 71
void safety_number(char *out, const char *handle_a, const uint8_t account_a[static SC_SIGN_PUB],
    const char *handle_b, const uint8_t account_b[static SC_SIGN_PUB]);

#endif
