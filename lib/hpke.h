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

/* Single-shot seal: ct must hold ptlen + HPKE_TAG_LEN bytes. */
int hpke_seal_base(uint8_t enc[static HPKE_ENC_LEN], uint8_t *ct, const uint8_t pkR[static 32],
    const uint8_t *info, size_t infolen, const uint8_t *aad, size_t aadlen,
    const uint8_t *pt, size_t ptlen) __attribute__((warn_unused_result));

/* Single-shot open: pt must hold ctlen - HPKE_TAG_LEN bytes; written only if the tag
 * checks. SOTTO_ERR_DECRYPT on any failure. */
int hpke_open_base(uint8_t *pt, const uint8_t enc[static HPKE_ENC_LEN], const uint8_t skR[static 32],
    const uint8_t *info, size_t infolen, const uint8_t *aad, size_t aadlen,
    const uint8_t *ct, size_t ctlen) __attribute__((warn_unused_result));

#endif
