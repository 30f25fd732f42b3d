/* SPDX-License-Identifier: ISC */
/* HKDF-SHA256 (RFC 5869), composed from HMAC-SHA256 in crypto.c. */
#ifndef SOTTO_HKDF_H
#define SOTTO_HKDF_H

#include <stddef.h>
#include <stdint.h>

#define HKDF_SHA256_MAX_OKM (255 * 32)

/* PRK = HMAC-SHA256(salt, IKM); an empty salt means 32 zero bytes. */
void hkdf_sha256_extract(uint8_t prk[static 32], const uint8_t *salt, size_t saltlen,
    const uint8_t *ikm, size_t ikmlen);
/* OKM = T(1) || T(2) || ... truncated to okmlen; SOTTO_ERR_TOO_LARGE above 255*32. */
int hkdf_sha256_expand(uint8_t *okm, size_t okmlen, const uint8_t prk[static 32],
    const uint8_t *info, size_t infolen) __attribute__((warn_unused_result));

#endif
