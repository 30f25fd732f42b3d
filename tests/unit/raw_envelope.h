/* SPDX-License-Identifier: ISC */
/*
 * Envelopes made byte by byte (docs/PROTOCOL.md "Envelope"), validly signed
 * and wrapped whatever their header fields hold, so tests and the
 * client_copy fuzz target get past the signature check with values env_seal
 * would never write. Shared by tests/unit/test_client_net_hostile.c and
 * tests/fuzz/fuzz_client_copy.c.
 */
#ifndef SOTTO_RAW_ENVELOPE_H
#define SOTTO_RAW_ENVELOPE_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "caps.h"
#include "crypto.h"
#include "envelope.h"
#include "hpke.h"
#include "sotto/error.h"

#define RAW_MAX_RCPT 255

typedef struct raw_env {
	uint8_t version;
	uint8_t msg_id[ENV_MSG_ID_LEN];
	const char *sender;		/* written as given (any bytes up to 255) */
	size_t sender_len;
	uint8_t sender_device[SC_DEVICE_ID];
	uint64_t sent_at;
	size_t n_rcpt;			/* written as a u8: up to RAW_MAX_RCPT */
	const char *rcpt[RAW_MAX_RCPT];
	size_t rcpt_len[RAW_MAX_RCPT];
	const uint8_t *content;
	size_t content_len;		/* up to SOTTO_MAX_BODY */
} raw_env;

/* Header, body, signature by sign_sec and the wrap for (enc_pub, device_id).
 * *env: caller frees with free(). */
static inline int
raw_seal(const raw_env *e, const uint8_t sign_sec[static SC_SIGN_SEC],
    const uint8_t enc_pub[static SC_KX_PUB], const uint8_t device_id[static SC_DEVICE_ID],
    uint8_t **env, size_t *env_len, uint8_t wrap[static ENV_WRAP_LEN])
{
	static const uint8_t zero_nonce[SC_AEAD_NONCE];
	static const char sign_label[] = "sotto-envelope-v1", wrap_label[] = "sotto-wrap-v1";
	uint8_t key[SC_AEAD_KEY], m[sizeof(sign_label) + 2 * SC_SHA256], sig[SC_SIG];
	uint8_t info[sizeof(wrap_label) + SC_SHA256], *padded = NULL, *body = NULL;
	size_t bucket = 256, plen = 0, i;
	sbuf hb, eb;
	int r = SOTTO_ERR_INVALID_ARG;

	*env = NULL;
	sbw_init(&hb, 1 << 20);
	sbw_init(&eb, 1 << 21);
	if (e->content_len > SOTTO_MAX_BODY || e->n_rcpt > RAW_MAX_RCPT)
		goto out;
	(void)sbw_u8(&hb, e->version);
	(void)sbw_put(&hb, e->msg_id, ENV_MSG_ID_LEN);
	(void)sbw_str8(&hb, e->sender, e->sender_len);
	(void)sbw_put(&hb, e->sender_device, SC_DEVICE_ID);
	(void)sbw_u64(&hb, e->sent_at);
	(void)sbw_u8(&hb, (uint8_t)e->n_rcpt);
	for (i = 0; i < e->n_rcpt; i++)
		(void)sbw_str8(&hb, e->rcpt[i], e->rcpt_len[i]);
	if ((r = sbw_error(&hb)) != SOTTO_OK || hb.len > 0xffff)
		goto out;
	while (bucket < e->content_len + 1)
		bucket *= 2;
	r = SOTTO_ERR_NOMEM;
	if ((padded = calloc(1, bucket)) == NULL || (body = malloc(bucket + SC_AEAD_TAG)) == NULL)
		goto out;
	if (e->content_len > 0)
		memcpy(padded, e->content, e->content_len);
	if ((r = sc_pad(&plen, padded, e->content_len, bucket, bucket)) != SOTTO_OK)
		goto out;
	sc_random(key, sizeof(key));
	sc_aead_encrypt(body, padded, plen, hb.p, hb.len, zero_nonce, key);
	memcpy(m, sign_label, sizeof(sign_label));
	sc_sha256(m + sizeof(sign_label), hb.p, hb.len);
	sc_sha256(m + sizeof(sign_label) + SC_SHA256, body, plen + SC_AEAD_TAG);
	sc_sign(sig, m, sizeof(m), sign_sec);
	(void)sbw_u16(&eb, (uint16_t)hb.len);
	(void)sbw_put(&eb, hb.p, hb.len);
	(void)sbw_u32(&eb, (uint32_t)(plen + SC_AEAD_TAG));
	(void)sbw_put(&eb, body, plen + SC_AEAD_TAG);
	(void)sbw_put(&eb, sig, sizeof(sig));
	if ((r = sbw_error(&eb)) != SOTTO_OK)
		goto out;
	memcpy(info, wrap_label, sizeof(wrap_label));
	sc_sha256(info + sizeof(wrap_label), hb.p, hb.len);
	if ((r = hpke_seal_base(wrap, wrap + HPKE_ENC_LEN, enc_pub, info, sizeof(info), device_id,
	    SC_DEVICE_ID, key, sizeof(key))) != SOTTO_OK)
		goto out;
	*env = sbw_steal(&eb, env_len);
	r = SOTTO_OK;
out:
	sc_wipe(key, sizeof(key));
	free(padded);
	free(body);
	sbw_free(&hb);
	sbw_free(&eb);
	return r;
}

#endif
