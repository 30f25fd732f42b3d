/* SPDX-License-Identifier: ISC */
#include <stdint.h>
#include <string.h>

#include "buf.h"
#include "crypto.h"
#include "hkdf.h"
#include "hpke.h"
#include "sotto/error.h"

#define KEM_ID 0x0020
#define KDF_ID 0x0001
#define AEAD_ID 0x0003
#define MODE_BASE 0x00

/* "KEM" || I2OSP(kem_id, 2) */
static const uint8_t suite_kem[] = { 'K', 'E', 'M', KEM_ID >> 8, KEM_ID & 0xff };
/* "HPKE" || I2OSP(kem_id, 2) || I2OSP(kdf_id, 2) || I2OSP(aead_id, 2) */
static const uint8_t suite_hpke[] = { 'H', 'P', 'K', 'E', KEM_ID >> 8, KEM_ID & 0xff,
	KDF_ID >> 8, KDF_ID & 0xff, AEAD_ID >> 8, AEAD_ID & 0xff };

/* Room for I2OSP(L, 2) || "HPKE-v1" || suite_id || label || the longest input. */
#define LABELED_MAX (2 + 7 + sizeof(suite_hpke) + 32 + \
	(HPKE_MAX_INFO > HPKE_MAX_EXPORTER_CONTEXT ? HPKE_MAX_INFO : HPKE_MAX_EXPORTER_CONTEXT))

/*
 * The labeled inputs are assembled in an sbuf (wiped on free) because they carry
 * secrets: the DH output and the KEM context go through here.
 */
static int
labeled_extract(uint8_t prk[static 32], const uint8_t *suite, size_t suitelen,
    const uint8_t *salt, size_t saltlen, const char *label, const uint8_t *ikm, size_t ikmlen)
{
	sbuf b;
	int rc;

	sbw_init(&b, LABELED_MAX);
	sbw_put(&b, "HPKE-v1", 7);
	sbw_put(&b, suite, suitelen);
	sbw_put(&b, label, strlen(label));
	sbw_put(&b, ikm, ikmlen);
	if ((rc = sbw_error(&b)) != SOTTO_OK)
		goto out;
	hkdf_sha256_extract(prk, salt, saltlen, b.p, b.len);
out:
	sbw_free(&b);
	return rc;
}

static int
labeled_expand(uint8_t *out, size_t outlen, const uint8_t *suite, size_t suitelen,
    const uint8_t prk[static 32], const char *label, const uint8_t *info, size_t infolen)
{
	sbuf b;
	int rc = SOTTO_ERR_TOO_LARGE;

	sbw_init(&b, LABELED_MAX);
	if (outlen > HKDF_SHA256_MAX_OKM)
		goto out;
	sbw_u16(&b, (uint16_t)outlen);
	sbw_put(&b, "HPKE-v1", 7);
	sbw_put(&b, suite, suitelen);
	sbw_put(&b, label, strlen(label));
	sbw_put(&b, info, infolen);
	if ((rc = sbw_error(&b)) != SOTTO_OK)
		goto out;
	rc = hkdf_sha256_expand(out, outlen, prk, b.p, b.len);
out:
	sbw_free(&b);
	return rc;
}

int
hpke_derive_keypair(uint8_t sk[static 32], uint8_t pk[static 32], const uint8_t *ikm, size_t ikmlen)
{
	uint8_t prk[32];
	int rc = SOTTO_ERR_TOO_LARGE;

	if (ikmlen > HPKE_MAX_INFO)
		goto out;
	if ((rc = labeled_extract(prk, suite_kem, sizeof(suite_kem), NULL, 0, "dkp_prk",
	    ikm, ikmlen)) != SOTTO_OK ||
	    (rc = labeled_expand(sk, 32, suite_kem, sizeof(suite_kem), prk, "sk", NULL, 0)) != SOTTO_OK ||
	    (rc = sc_kx_public(pk, sk)) != SOTTO_OK)
		goto out;
out:
	sc_wipe(prk, sizeof(prk));
	if (rc != SOTTO_OK) {
		sc_wipe(sk, 32);
		sc_wipe(pk, 32);
	}
	return rc;
}

/* ExtractAndExpand(dh, kem_context) with kem_context = enc || pkRm */
static int
extract_and_expand(uint8_t shared_secret[static HPKE_SECRET_LEN], const uint8_t dh[static 32],
    const uint8_t enc[static HPKE_ENC_LEN], const uint8_t pkR[static 32])
{
	uint8_t prk[32], kem_context[HPKE_ENC_LEN + 32];
	int rc;

	memcpy(kem_context, enc, HPKE_ENC_LEN);
	memcpy(kem_context + HPKE_ENC_LEN, pkR, 32);
	if ((rc = labeled_extract(prk, suite_kem, sizeof(suite_kem), NULL, 0, "eae_prk",
	    dh, 32)) != SOTTO_OK)
		goto out;
	rc = labeled_expand(shared_secret, HPKE_SECRET_LEN, suite_kem, sizeof(suite_kem), prk,
	    "shared_secret", kem_context, sizeof(kem_context));
out:
	sc_wipe(prk, sizeof(prk));
	sc_wipe(kem_context, sizeof(kem_context));
	return rc;
}

int
hpke_encap_derand(uint8_t shared_secret[static HPKE_SECRET_LEN], uint8_t enc[static HPKE_ENC_LEN],
    const uint8_t skE[static 32], const uint8_t pkR[static 32])
{
	uint8_t dh[32];
	int rc;

	if ((rc = sc_kx_public(enc, skE)) != SOTTO_OK ||
	    (rc = sc_x25519(dh, skE, pkR)) != SOTTO_OK)
		goto out;
	rc = extract_and_expand(shared_secret, dh, enc, pkR);
out:
	sc_wipe(dh, sizeof(dh));
	if (rc != SOTTO_OK)
		sc_wipe(shared_secret, HPKE_SECRET_LEN);
	return rc;
}

int
hpke_decap(uint8_t shared_secret[static HPKE_SECRET_LEN], const uint8_t enc[static HPKE_ENC_LEN],
    const uint8_t skR[static 32])
{
	uint8_t dh[32], pkR[32];
	int rc;

	if ((rc = sc_x25519(dh, skR, enc)) != SOTTO_OK ||
	    (rc = sc_kx_public(pkR, skR)) != SOTTO_OK)
		goto out;
	rc = extract_and_expand(shared_secret, dh, enc, pkR);
out:
	sc_wipe(dh, sizeof(dh));
	sc_wipe(pkR, sizeof(pkR));
	if (rc != SOTTO_OK)
		sc_wipe(shared_secret, HPKE_SECRET_LEN);
	return rc;
}

int
hpke_key_schedule_base(hpke_ctx *ctx, const uint8_t shared_secret[static HPKE_SECRET_LEN],
    const uint8_t *info, size_t infolen)
{
	uint8_t ksc[1 + 32 + 32], secret[32];
	int rc = SOTTO_ERR_TOO_LARGE;

	memset(ctx, 0, sizeof(*ctx));
	if (infolen > HPKE_MAX_INFO)
		goto out;
	ksc[0] = MODE_BASE;
	/* psk and psk_id are empty in mode_base; default_psk = default_psk_id = "" */
	if ((rc = labeled_extract(ksc + 1, suite_hpke, sizeof(suite_hpke), NULL, 0, "psk_id_hash",
	    NULL, 0)) != SOTTO_OK ||
	    (rc = labeled_extract(ksc + 33, suite_hpke, sizeof(suite_hpke), NULL, 0, "info_hash",
	    info, infolen)) != SOTTO_OK ||
	    (rc = labeled_extract(secret, suite_hpke, sizeof(suite_hpke), shared_secret,
	    HPKE_SECRET_LEN, "secret", NULL, 0)) != SOTTO_OK ||
	    (rc = labeled_expand(ctx->key, sizeof(ctx->key), suite_hpke, sizeof(suite_hpke), secret,
	    "key", ksc, sizeof(ksc))) != SOTTO_OK ||
	    (rc = labeled_expand(ctx->base_nonce, sizeof(ctx->base_nonce), suite_hpke,
	    sizeof(suite_hpke), secret, "base_nonce", ksc, sizeof(ksc))) != SOTTO_OK ||
	    (rc = labeled_expand(ctx->exporter_secret, sizeof(ctx->exporter_secret), suite_hpke,
	    sizeof(suite_hpke), secret, "exp", ksc, sizeof(ksc))) != SOTTO_OK)
		goto out;
	ctx->seq = 0;
out:
	sc_wipe(secret, sizeof(secret));
	sc_wipe(ksc, sizeof(ksc));
	if (rc != SOTTO_OK)
		hpke_ctx_wipe(ctx);
	return rc;
}

int
hpke_setup_base_s(hpke_ctx *ctx, uint8_t enc[static HPKE_ENC_LEN], const uint8_t skE[static 32],
    const uint8_t pkR[static 32], const uint8_t *info, size_t infolen)
{
	uint8_t ss[HPKE_SECRET_LEN];
	int rc;

	memset(ctx, 0, sizeof(*ctx));
	if ((rc = hpke_encap_derand(ss, enc, skE, pkR)) != SOTTO_OK)
		goto out;
	rc = hpke_key_schedule_base(ctx, ss, info, infolen);
out:
	sc_wipe(ss, sizeof(ss));
	return rc;
}

int
hpke_setup_base_r(hpke_ctx *ctx, const uint8_t enc[static HPKE_ENC_LEN], const uint8_t skR[static 32],
    const uint8_t *info, size_t infolen)
{
	uint8_t ss[HPKE_SECRET_LEN];
	int rc;

	memset(ctx, 0, sizeof(*ctx));
	if ((rc = hpke_decap(ss, enc, skR)) != SOTTO_OK)
		goto out;
	rc = hpke_key_schedule_base(ctx, ss, info, infolen);
out:
	sc_wipe(ss, sizeof(ss));
	return rc;
}

/* ComputeNonce: base_nonce XOR I2OSP(seq, Nn) */
static void
compute_nonce(uint8_t nonce[static HPKE_NONCE_LEN], const hpke_ctx *ctx)
{
	size_t i;

	memcpy(nonce, ctx->base_nonce, HPKE_NONCE_LEN);
	for (i = 0; i < 8; i++)
		nonce[HPKE_NONCE_LEN - 1 - i] ^= (uint8_t)(ctx->seq >> (8 * i));
}

int
hpke_ctx_seal(hpke_ctx *ctx, uint8_t *ct, const uint8_t *aad, size_t aadlen,
    const uint8_t *pt, size_t ptlen)
{
	uint8_t nonce[HPKE_NONCE_LEN];

	/* A 64-bit seq is far below the RFC's 2^96 - 1; stop before it could wrap. */
	if (ctx->seq == UINT64_MAX || ptlen > SIZE_MAX - HPKE_TAG_LEN)
		return SOTTO_ERR_TOO_LARGE;
	compute_nonce(nonce, ctx);
	sc_aead_encrypt(ct, pt, ptlen, aad, aadlen, nonce, ctx->key);
	sc_wipe(nonce, sizeof(nonce));
	ctx->seq++;
	return SOTTO_OK;
}

int
hpke_ctx_open(hpke_ctx *ctx, uint8_t *pt, const uint8_t *aad, size_t aadlen,
    const uint8_t *ct, size_t ctlen)
{
	uint8_t nonce[HPKE_NONCE_LEN];
	int rc;

	if (ctx->seq == UINT64_MAX)
		return SOTTO_ERR_TOO_LARGE;
	if (ctlen < HPKE_TAG_LEN)
		return SOTTO_ERR_DECRYPT;
	compute_nonce(nonce, ctx);
	rc = sc_aead_decrypt(pt, ct, ctlen, aad, aadlen, nonce, ctx->key);
	sc_wipe(nonce, sizeof(nonce));
	if (rc != SOTTO_OK)
		return SOTTO_ERR_DECRYPT;
	ctx->seq++;
	return SOTTO_OK;
}

int
hpke_ctx_export(const hpke_ctx *ctx, uint8_t *out, size_t outlen,
    const uint8_t *exporter_context, size_t exporter_contextlen)
{
	if (outlen > HKDF_SHA256_MAX_OKM || exporter_contextlen > HPKE_MAX_EXPORTER_CONTEXT)
		return SOTTO_ERR_TOO_LARGE;
	return labeled_expand(out, outlen, suite_hpke, sizeof(suite_hpke), ctx->exporter_secret,
	    "sec", exporter_context, exporter_contextlen);
}

void
hpke_ctx_wipe(hpke_ctx *ctx)
{
	sc_wipe(ctx, ctx != NULL ? sizeof(*ctx) : 0);
}

int
hpke_seal_base(uint8_t enc[static HPKE_ENC_LEN], uint8_t *ct, const uint8_t pkR[static 32],
    const uint8_t *info, size_t infolen, const uint8_t *aad, size_t aadlen,
    const uint8_t *pt, size_t ptlen)
{
	uint8_t skE[SC_KX_SEC];
	hpke_ctx ctx;
	int rc;

	/* GenerateKeyPair for X25519 is 32 random bytes; enc = pk(skE) comes from Encap. */
	sc_random(skE, sizeof(skE));
	if ((rc = hpke_setup_base_s(&ctx, enc, skE, pkR, info, infolen)) != SOTTO_OK)
		goto out;
	rc = hpke_ctx_seal(&ctx, ct, aad, aadlen, pt, ptlen);
out:
	sc_wipe(skE, sizeof(skE));
	hpke_ctx_wipe(&ctx);
	if (rc != SOTTO_OK)
		sc_wipe(enc, HPKE_ENC_LEN);
	return rc;
}

int
hpke_open_base(uint8_t *pt, const uint8_t enc[static HPKE_ENC_LEN], const uint8_t skR[static 32],
    const uint8_t *info, size_t infolen, const uint8_t *aad, size_t aadlen,
    const uint8_t *ct, size_t ctlen)
{
	hpke_ctx ctx;
	int rc;

	if ((rc = hpke_setup_base_r(&ctx, enc, skR, info, infolen)) != SOTTO_OK)
		goto out;
	rc = hpke_ctx_open(&ctx, pt, aad, aadlen, ct, ctlen);
out:
	hpke_ctx_wipe(&ctx);
	return rc != SOTTO_OK ? SOTTO_ERR_DECRYPT : SOTTO_OK;
}
