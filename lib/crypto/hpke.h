/* SPDX-License-Identifier: ISC */
/*
 * HPKE (RFC 9180), base mode only, one suite:
 * DHKEM(X25519, HKDF-SHA256) (0x0020), HKDF-SHA256 (0x0001), ChaCha20Poly1305 (0x0003).
 * Composed from crypto.c and hkdf.c exactly as the RFC's sections 4, 5 and 7.1 say.
 */
#ifndef SOTTO_HPKE_H
#define SOTTO_HPKE_H

#include <stddef.h>
#include <stdint.h>

#define HPKE_ENC_LEN 32		/* encapsulated key (X25519 public) */
#define HPKE_TAG_LEN 16
#define HPKE_SECRET_LEN 32	/* shared_secret, key, exporter_secret */
#define HPKE_NONCE_LEN 12
/* Longest info and exporter_context accepted (RFC 9180 7.2.1 lets us bound them);
 * longer is SOTTO_ERR_TOO_LARGE. */
#define HPKE_MAX_INFO 1024
#define HPKE_MAX_EXPORTER_CONTEXT 1024

/* Single-shot seal under a fresh ephemeral key: ct must hold ptlen + HPKE_TAG_LEN bytes.
 * SOTTO_ERR_CRYPTO if pkR is a low-order point, SOTTO_ERR_TOO_LARGE if infolen >
 * HPKE_MAX_INFO; enc is cleared on failure. */
int hpke_seal_base(uint8_t enc[static HPKE_ENC_LEN], uint8_t *ct, const uint8_t pkR[static 32],
    const uint8_t *info, size_t infolen, const uint8_t *aad, size_t aadlen,
    const uint8_t *pt, size_t ptlen) __attribute__((warn_unused_result));

/* Single-shot open: pt must hold ctlen - HPKE_TAG_LEN bytes; plaintext is written only
 * if the tag checks (on failure pt may be zeroed). SOTTO_ERR_DECRYPT on any failure. */
int hpke_open_base(uint8_t *pt, const uint8_t enc[static HPKE_ENC_LEN], const uint8_t skR[static 32],
    const uint8_t *info, size_t infolen, const uint8_t *aad, size_t aadlen,
    const uint8_t *ct, size_t ctlen) __attribute__((warn_unused_result));

/*
 * The RFC's building blocks, for the known-answer tests and for later sessions
 * (phase 2) that need a multi-message context. hpke_seal_base/hpke_open_base are
 * what the envelope uses; nothing else should need these yet.
 */

/* DeriveKeyPair (RFC 9180 7.1.3, X25519): sk = LabeledExpand(LabeledExtract("",
 * "dkp_prk", ikm), "sk", "", 32), pk = X25519(sk, 9). SOTTO_ERR_TOO_LARGE if
 * ikmlen > HPKE_MAX_INFO. */
int hpke_derive_keypair(uint8_t sk[static 32], uint8_t pk[static 32], const uint8_t *ikm,
    size_t ikmlen) __attribute__((warn_unused_result));

/* Encap with an explicit ephemeral secret skE (the RFC's test hook; never reuse skE).
 * enc = pk(skE). SOTTO_ERR_CRYPTO if the DH output is all zero (bad pkR). */
int hpke_encap_derand(uint8_t shared_secret[static HPKE_SECRET_LEN], uint8_t enc[static HPKE_ENC_LEN],
    const uint8_t skE[static 32], const uint8_t pkR[static 32]) __attribute__((warn_unused_result));
/* Decap. SOTTO_ERR_CRYPTO if the DH output is all zero (bad enc). */
int hpke_decap(uint8_t shared_secret[static HPKE_SECRET_LEN], const uint8_t enc[static HPKE_ENC_LEN],
    const uint8_t skR[static 32]) __attribute__((warn_unused_result));

/* An encryption context (RFC 9180 5.2). Holds secrets: wipe it with hpke_ctx_wipe()
 * once done. seq is the next sequence number; seal and open use it and advance it
 * only on success. Tests may set seq directly to reach a given nonce. */
typedef struct hpke_ctx {
	uint8_t key[HPKE_SECRET_LEN];
	uint8_t base_nonce[HPKE_NONCE_LEN];
	uint8_t exporter_secret[HPKE_SECRET_LEN];
	uint64_t seq;
} hpke_ctx;

/* KeySchedule for mode_base (empty psk and psk_id). ctx is cleared on failure. */
int hpke_key_schedule_base(hpke_ctx *ctx, const uint8_t shared_secret[static HPKE_SECRET_LEN],
    const uint8_t *info, size_t infolen) __attribute__((warn_unused_result));
/* SetupBaseS with an explicit ephemeral secret skE (tests only: hpke_seal_base draws a
 * fresh one); writes enc. SetupBaseR. Both clear ctx on failure. */
int hpke_setup_base_s(hpke_ctx *ctx, uint8_t enc[static HPKE_ENC_LEN], const uint8_t skE[static 32],
    const uint8_t pkR[static 32], const uint8_t *info, size_t infolen)
    __attribute__((warn_unused_result));
int hpke_setup_base_r(hpke_ctx *ctx, const uint8_t enc[static HPKE_ENC_LEN], const uint8_t skR[static 32],
    const uint8_t *info, size_t infolen) __attribute__((warn_unused_result));
/* Seal/open at ctx->seq (nonce = base_nonce XOR seq), then advance seq. ct holds
 * ptlen + HPKE_TAG_LEN; pt holds ctlen - HPKE_TAG_LEN and gets plaintext only if the
 * tag checks (else SOTTO_ERR_DECRYPT, pt maybe zeroed). SOTTO_ERR_TOO_LARGE once seq would wrap. */
int hpke_ctx_seal(hpke_ctx *ctx, uint8_t *ct, const uint8_t *aad, size_t aadlen,
    const uint8_t *pt, size_t ptlen) __attribute__((warn_unused_result));
int hpke_ctx_open(hpke_ctx *ctx, uint8_t *pt, const uint8_t *aad, size_t aadlen,
    const uint8_t *ct, size_t ctlen) __attribute__((warn_unused_result));
/* Export (RFC 9180 5.3): outlen <= 255*32, exporter_context <= HPKE_MAX_EXPORTER_CONTEXT,
 * else SOTTO_ERR_TOO_LARGE. */
int hpke_ctx_export(const hpke_ctx *ctx, uint8_t *out, size_t outlen,
    const uint8_t *exporter_context, size_t exporter_contextlen) __attribute__((warn_unused_result));
/* Wipes all of ctx; accepts NULL. */
void hpke_ctx_wipe(hpke_ctx *ctx);

#endif
