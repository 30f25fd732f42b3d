/* SPDX-License-Identifier: ISC */
#include <string.h>

#include "crypto.h"
#include "hkdf.h"
#include "sotto/error.h"

void
hkdf_sha256_extract(uint8_t prk[static 32], const uint8_t *salt, size_t saltlen,
    const uint8_t *ikm, size_t ikmlen)
{
	static const uint8_t zero_salt[SC_SHA256];
	sc_hmac_ctx c;

	/* RFC 5869 2.2: absent salt is HashLen zeros (HMAC would pad an empty key the same way). */
	if (salt == NULL || saltlen == 0) {
		salt = zero_salt;
		saltlen = sizeof(zero_salt);
	}
	sc_hmac_sha256_init(&c, salt, saltlen);
	sc_hmac_sha256_update(&c, ikm, ikmlen);
	sc_hmac_sha256_final(&c, prk);
}

int
hkdf_sha256_expand(uint8_t *okm, size_t okmlen, const uint8_t prk[static 32],
    const uint8_t *info, size_t infolen)
{
	uint8_t t[SC_SHA256];
	sc_hmac_ctx c;
	size_t off = 0, n;
	uint8_t ctr;

	if (okmlen > HKDF_SHA256_MAX_OKM)
		return SOTTO_ERR_TOO_LARGE;
	for (ctr = 1; off < okmlen; ctr++) {
		sc_hmac_sha256_init(&c, prk, 32);
		if (ctr > 1)
			sc_hmac_sha256_update(&c, t, sizeof(t));
		if (infolen > 0)
			sc_hmac_sha256_update(&c, info, infolen);
		sc_hmac_sha256_update(&c, &ctr, 1);
		sc_hmac_sha256_final(&c, t);
		n = okmlen - off < sizeof(t) ? okmlen - off : sizeof(t);
		memcpy(okm + off, t, n);
		off += n;
	}
	sc_wipe(t, sizeof(t));
	return SOTTO_OK;
}
