/* SPDX-License-Identifier: ISC */
/*
 * Valid samples for the fuzz harnesses, from fixed keys (fuzz_common.h), so
 * that a sample made in one run verifies in every other:
 *   account "alice": account key, devices a1 and a2; account "bob": device b1.
 *   list v1 of alice: a1, signed by the account key.
 *   list v2 of alice: a1 and a2, chained to v1, signed by a1.
 *   envelope: alice/a1 to bob, wrapped for b1 (and a2, alice's other device).
 * fuzz_samples_init must run first (it calls sc_init). All buffers are owned by
 * this module and live for the whole process.
 */
#ifndef SOTTO_FUZZ_SAMPLES_H
#define SOTTO_FUZZ_SAMPLES_H

#include <stddef.h>
#include <stdint.h>

#include "crypto.h"
#include "devicelist.h"
#include "envelope.h"

typedef struct fuzz_device {
	uint8_t pub[SC_SIGN_PUB];
	uint8_t sec[SC_SIGN_SEC];
	uint8_t enc_pub[SC_KX_PUB];
	uint8_t enc_sec[SC_KX_SEC];
	uint8_t id[SC_DEVICE_ID];
} fuzz_device;

typedef struct fuzz_samples {
	uint8_t account_pub[SC_SIGN_PUB];
	uint8_t account_sec[SC_SIGN_SEC];
	fuzz_device a1, a2, b1;

	dl_list l1, l2;			/* parsed forms of list1, list2 */
	uint8_t *list1, *list2;
	size_t list1_len, list2_len;
	uint8_t list1_hash[SC_SHA256];

	uint8_t *env;			/* alice/a1 -> bob */
	size_t env_len;
	uint8_t wrap_b1[ENV_WRAP_LEN];
	uint8_t wrap_a2[ENV_WRAP_LEN];
	const char *content;		/* what env holds */
} fuzz_samples;

/* Build the samples once; later calls return the same object. Aborts on failure. */
const fuzz_samples *fuzz_samples_init(void);

/* Replace the 64-byte signature at the end of a signed device list p/n (n >= 80)
 * with one by sec over "sotto-devicelist-v1" || 0x00 || body. */
void fuzz_resign_list(uint8_t *p, size_t n, const uint8_t sec[static SC_SIGN_SEC]);

/* Replace an envelope's signature with one by sec over its header and body.
 * The envelope must already pass env_parse_header. */
void fuzz_resign_envelope(uint8_t *p, size_t n, const uint8_t sec[static SC_SIGN_SEC]);

#endif
