/* SPDX-License-Identifier: ISC */
/*
 * Link codes and the linking blobs (lib/protocol/linkcode.h). The first input
 * byte (mod 7) picks what the rest is:
 *   0: a link code (as a C string): one that decodes must encode to itself;
 *   1/2/3: an offer/answer/pickup blob as the server would relay it (MAC
 *        checked first);
 *   4/5/6: an offer/answer/pickup *body*, MACed here with the fixed rendezvous
 *        key, so the fuzzer reaches the body parser; what parses must encode
 *        back to the same bytes (one spelling per blob).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "linkcode.h"
#include "sotto/error.h"

static uint8_t rid[WIRE_RENDEZVOUS_LEN], secret[LINK_SECRET_LEN], key[SC_SHA256];

/* The same MAC as the protocol, written out here from docs/PROTOCOL.md. */
static size_t
remac(uint8_t *out, const uint8_t *body, size_t n, const char *label)
{
	sc_hmac_ctx h;

	memcpy(out, body, n);
	sc_hmac_sha256_init(&h, key, sizeof(key));
	sc_hmac_sha256_update(&h, label, strlen(label) + 1);
	sc_hmac_sha256_update(&h, rid, sizeof(rid));
	sc_hmac_sha256_update(&h, body, n);
	sc_hmac_sha256_final(&h, out + n);
	return n + SC_SHA256;
}

static void
one_code(const uint8_t *data, size_t size)
{
	uint8_t r2[WIRE_RENDEZVOUS_LEN], s2[LINK_SECRET_LEN];
	char *code, out[LINK_CODE_TEXT_LEN + 1];

	FUZZ_ASSERT((code = malloc(size + 1)) != NULL);
	memcpy(code, data, size);
	code[size] = '\0';
	if (link_code_decode(code, r2, s2) == SOTTO_OK) {
		link_code_encode(out, r2, s2);
		FUZZ_ASSERT(strcmp(out, code) == 0);
	}
	free(code);
}

/* kind 0 offer, 1 answer, 2 pickup */
static void
one_blob(const uint8_t *p, size_t n, int kind)
{
	link_offer o;
	link_answer a;
	uint8_t h[SC_SHA256], *again = NULL;
	size_t m = 0;

	if (kind == 0) {
		if (link_offer_parse(&o, p, n, key, rid) != SOTTO_OK) {
			FUZZ_ASSERT(sc_is_zero(&o, sizeof(o)));
			return;
		}
		FUZZ_ASSERT(link_offer_encode(&o, key, rid, &again, &m) == SOTTO_OK);
	} else if (kind == 1) {
		if (link_answer_parse(&a, p, n, key, rid) != SOTTO_OK) {
			FUZZ_ASSERT(sc_is_zero(&a, sizeof(a)));
			return;
		}
		FUZZ_ASSERT(link_answer_encode(&a, key, rid, &again, &m) == SOTTO_OK);
	} else {
		if (link_pickup_parse(h, p, n, key, rid) != SOTTO_OK) {
			FUZZ_ASSERT(sc_is_zero(h, sizeof(h)));
			return;
		}
		FUZZ_ASSERT(link_pickup_encode(h, key, rid, &again, &m) == SOTTO_OK);
	}
	FUZZ_ASSERT(m == n && memcmp(again, p, n) == 0);
	free(again);
}

static const char *const labels[] = { "sotto-link-offer-v1", "sotto-link-answer-v1", "sotto-link-pickup-v1" };

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t buf[SOTTO_MAX_LINK_BLOB + SC_SHA256];

	if (size < 1 || size > 2 * SOTTO_MAX_LINK_BLOB)
		return 0;
	switch (data[0] % 7) {
	case 0:
		one_code(data + 1, size - 1);
		break;
	case 1:
	case 2:
	case 3:
		one_blob(data + 1, size - 1, data[0] % 7 - 1);
		break;
	default:
		if (size - 1 > SOTTO_MAX_LINK_BLOB)
			return 0;
		one_blob(buf, remac(buf, data + 1, size - 1, labels[data[0] % 7 - 4]), data[0] % 7 - 4);
		break;
	}
	return 0;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_init_crypto();
	memset(rid, 0x33, sizeof(rid));
	memset(secret, 0x44, sizeof(secret));
	FUZZ_ASSERT(link_mac_key(key, rid, secret) == SOTTO_OK);
	return 0;
}
