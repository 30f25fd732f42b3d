/* SPDX-License-Identifier: ISC */
/*
 * Envelopes: env_parse_header, and env_open as device b1 of "bob" with the
 * fixed keys of fuzz_samples.h, so that the sealed seed (made by
 * LLVMFuzzerInitialize) opens and its mutations reach the signature check.
 *
 * Input: u8 mode || wrap (ENV_WRAP_LEN) || envelope.
 *   mode bit 0: re-sign the envelope with a1's key before opening, so mutated
 *               headers get past the signature to the recipient rule and the
 *               wrap;
 *   mode bit 1: also re-seal: treat the body's first body_len - 16 bytes as
 *               the padded plaintext, encrypt them under a fixed body key and
 *               wrap that key for b1, so fuzzed padding reaches sc_unpad.
 * Whatever env_open returns must agree with env_parse_header, and content it
 * returns must be within the caps, NUL-terminated, and (when re-sealed) a
 * prefix of the plaintext the harness encrypted.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "caps.h"
#include "envelope.h"
#include "fuzz_common.h"
#include "fuzz_samples.h"
#include "hpke.h"
#include "sotto/error.h"

#define MODE_RESIGN 1
#define MODE_RESEAL 2

static const fuzz_samples *S;

/* Encrypt the body region in place under a fixed key, and wrap that key for b1. */
static void
reseal(uint8_t *p, size_t n, uint8_t wrap[static ENV_WRAP_LEN])
{
	static const uint8_t zero_nonce[SC_AEAD_NONCE];
	static const char wrap_label[] = "sotto-wrap-v1";
	uint8_t key[SC_AEAD_KEY], info[sizeof(wrap_label) + SC_SHA256], *plain;
	size_t hlen, blen;

	hlen = (size_t)p[0] << 8 | p[1];
	blen = (size_t)p[2 + hlen] << 24 | (size_t)p[3 + hlen] << 16 | (size_t)p[4 + hlen] << 8 |
	    p[5 + hlen];
	FUZZ_ASSERT(n == 2 + hlen + 4 + blen + SC_SIG && blen > SC_AEAD_TAG);
	memset(key, 0x5a, sizeof(key));
	FUZZ_ASSERT((plain = malloc(blen - SC_AEAD_TAG)) != NULL);
	memcpy(plain, p + 6 + hlen, blen - SC_AEAD_TAG);
	sc_aead_encrypt(p + 6 + hlen, plain, blen - SC_AEAD_TAG, p + 2, hlen, zero_nonce, key);
	free(plain);
	memcpy(info, wrap_label, sizeof(wrap_label));
	sc_sha256(info + sizeof(wrap_label), p + 2, hlen);
	FUZZ_ASSERT(hpke_seal_base(wrap, wrap + HPKE_ENC_LEN, S->b1.enc_pub, info, sizeof(info),
	    S->b1.id, SC_DEVICE_ID, key, sizeof(key)) == SOTTO_OK);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	env_header *h = NULL, *o = NULL;
	uint8_t wrap[ENV_WRAP_LEN], *env = NULL, *plain = NULL, *content = NULL, mode;
	size_t env_len, content_len = 0, hlen, plen = 0;
	int parsed, rc;

	if (size < 1 + ENV_WRAP_LEN) {
		FUZZ_ASSERT((h = malloc(sizeof(*h))) != NULL);
		(void)env_parse_header(h, data, size);
		free(h);
		return 0;
	}
	mode = data[0];
	memcpy(wrap, data + 1, ENV_WRAP_LEN);
	env_len = size - 1 - ENV_WRAP_LEN;
	FUZZ_ASSERT((h = calloc(1, sizeof(*h))) != NULL && (o = calloc(1, sizeof(*o))) != NULL);
	FUZZ_ASSERT((env = malloc(env_len + 1)) != NULL);
	memcpy(env, data + 1 + ENV_WRAP_LEN, env_len);

	parsed = env_parse_header(h, env, env_len) == SOTTO_OK;
	if (!parsed)
		FUZZ_ASSERT(sc_is_zero(h, sizeof(*h)));
	if (parsed && (mode & MODE_RESEAL) != 0) {
		hlen = (size_t)env[0] << 8 | env[1];
		plen = env_len - 2 - hlen - 4 - SC_SIG - SC_AEAD_TAG;
		FUZZ_ASSERT((plain = malloc(plen)) != NULL);
		memcpy(plain, env + 6 + hlen, plen);
		reseal(env, env_len, wrap);
	}
	if (parsed && (mode & (MODE_RESIGN | MODE_RESEAL)) != 0)
		fuzz_resign_envelope(env, env_len, S->a1.sec);

	rc = env_open(o, &content, &content_len, env, env_len, wrap, sizeof(wrap), S->a1.pub, "bob",
	    S->b1.id, S->b1.enc_sec);
	if (rc == SOTTO_OK) {
		FUZZ_ASSERT(parsed && content != NULL && content_len <= SOTTO_MAX_BODY);
		FUZZ_ASSERT(content[content_len] == '\0');
		FUZZ_ASSERT(memcmp(o, h, sizeof(*h)) == 0);
		if (plain != NULL)
			FUZZ_ASSERT(content_len < plen && memcmp(content, plain, content_len) == 0);
	} else {
		FUZZ_ASSERT(content == NULL && content_len == 0 && sc_is_zero(o, sizeof(*o)));
		FUZZ_ASSERT(parsed || rc == SOTTO_ERR_FORMAT || rc == SOTTO_ERR_VERSION);
	}
	free(content);
	free(plain);
	free(env);
	free(o);
	free(h);
	return 0;
}

static void
seed(const char *name, uint8_t mode, const uint8_t wrap[static ENV_WRAP_LEN], const uint8_t *env,
    size_t env_len)
{
	uint8_t *p;

	FUZZ_ASSERT((p = malloc(1 + ENV_WRAP_LEN + env_len)) != NULL);
	p[0] = mode;
	memcpy(p + 1, wrap, ENV_WRAP_LEN);
	memcpy(p + 1 + ENV_WRAP_LEN, env, env_len);
	fuzz_seed(name, p, 1 + ENV_WRAP_LEN + env_len);
	free(p);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	env_header h;
	uint8_t *c = NULL, *copy;
	size_t clen;

	(void)argc;
	(void)argv;
	S = fuzz_samples_init();
	/* The sealed sample must open, or the fuzzer would never get past the signature. */
	FUZZ_ASSERT(env_open(&h, &c, &clen, S->env, S->env_len, S->wrap_b1, ENV_WRAP_LEN, S->a1.pub,
	    "bob", S->b1.id, S->b1.enc_sec) == SOTTO_OK);
	FUZZ_ASSERT(clen == strlen(S->content) && memcmp(c, S->content, clen) == 0);
	free(c);

	seed("sealed", 0, S->wrap_b1, S->env, S->env_len);
	seed("sealed_resign", MODE_RESIGN, S->wrap_b1, S->env, S->env_len);
	seed("sealed_reseal", MODE_RESEAL, S->wrap_b1, S->env, S->env_len);
	seed("sealed_other_wrap", 0, S->wrap_a2, S->env, S->env_len);
	seed("truncated", 0, S->wrap_b1, S->env, S->env_len / 2);
	FUZZ_ASSERT((copy = malloc(S->env_len)) != NULL);
	memcpy(copy, S->env, S->env_len);
	copy[2] = 2;	/* version */
	seed("version2", MODE_RESIGN, S->wrap_b1, copy, S->env_len);
	free(copy);
	fuzz_seed("short", S->env, 40);
	return 0;
}
