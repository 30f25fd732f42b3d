/* SPDX-License-Identifier: ISC */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "crypto.h"
#include "hkdf.h"
#include "sotto/error.h"

static size_t
unhex(uint8_t *out, size_t max, const char *hex)
{
	size_t n = 0;

	assert_int_equal(sc_unhex(out, max, &n, hex, strlen(hex)), SOTTO_OK);
	return n;
}

static void
check_case(const uint8_t *ikm, size_t ikmlen, const uint8_t *salt, size_t saltlen,
    const uint8_t *info, size_t infolen, const char *prk_hex, const char *okm_hex)
{
	uint8_t prk[32], want_prk[32], okm[128], want_okm[128];
	size_t okmlen;

	assert_int_equal(unhex(want_prk, sizeof(want_prk), prk_hex), 32);
	okmlen = unhex(want_okm, sizeof(want_okm), okm_hex);
	hkdf_sha256_extract(prk, salt, saltlen, ikm, ikmlen);
	assert_memory_equal(prk, want_prk, 32);
	memset(okm, 0xaa, sizeof(okm));
	assert_int_equal(hkdf_sha256_expand(okm, okmlen, prk, info, infolen), SOTTO_OK);
	assert_memory_equal(okm, want_okm, okmlen);
	/* nothing written past okmlen */
	assert_int_equal(okm[okmlen], 0xaa);
}

/* RFC 5869 A.1: basic test case with SHA-256 */
static void
test_rfc5869_case1(void **state)
{
	uint8_t ikm[22], salt[13], info[10];
	size_t i;

	(void)state;
	memset(ikm, 0x0b, sizeof(ikm));
	for (i = 0; i < sizeof(salt); i++)
		salt[i] = (uint8_t)i;
	for (i = 0; i < sizeof(info); i++)
		info[i] = (uint8_t)(0xf0 + i);
	check_case(ikm, sizeof(ikm), salt, sizeof(salt), info, sizeof(info),
	    "077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5",
	    "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf"
	    "34007208d5b887185865");
}

/* RFC 5869 A.2: longer inputs and outputs */
static void
test_rfc5869_case2(void **state)
{
	uint8_t ikm[80], salt[80], info[80];
	size_t i;

	(void)state;
	for (i = 0; i < 80; i++) {
		ikm[i] = (uint8_t)i;
		salt[i] = (uint8_t)(0x60 + i);
		info[i] = (uint8_t)(0xb0 + i);
	}
	check_case(ikm, sizeof(ikm), salt, sizeof(salt), info, sizeof(info),
	    "06a6b88c5853361a06104c9ceb35b45cef760014904671014a193f40c15fc244",
	    "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c"
	    "59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71"
	    "cc30c58179ec3e87c14c01d5c1f3434f1d87");
}

/* RFC 5869 A.3: zero-length salt and info */
static void
test_rfc5869_case3(void **state)
{
	uint8_t ikm[22];

	(void)state;
	memset(ikm, 0x0b, sizeof(ikm));
	check_case(ikm, sizeof(ikm), NULL, 0, NULL, 0,
	    "19ef24a32c717b167f33a91d6f648bdf96596776afdb6377ac434c1c293ccb04",
	    "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d"
	    "9d201395faa4b61a96c8");
	/* an explicit empty (non-NULL) salt is the same as none */
	check_case(ikm, sizeof(ikm), (const uint8_t *)"", 0, (const uint8_t *)"", 0,
	    "19ef24a32c717b167f33a91d6f648bdf96596776afdb6377ac434c1c293ccb04",
	    "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d"
	    "9d201395faa4b61a96c8");
}

static void
test_expand_limits(void **state)
{
	uint8_t prk[32], *okm, *again;

	(void)state;
	memset(prk, 0x42, sizeof(prk));
	okm = malloc(HKDF_SHA256_MAX_OKM + 1);
	again = malloc(HKDF_SHA256_MAX_OKM);
	assert_non_null(okm);
	assert_non_null(again);
	memset(okm, 0x5a, HKDF_SHA256_MAX_OKM + 1);
	assert_int_equal(hkdf_sha256_expand(okm, HKDF_SHA256_MAX_OKM + 1, prk, NULL, 0),
	    SOTTO_ERR_TOO_LARGE);
	assert_int_equal(hkdf_sha256_expand(okm, (size_t)-1, prk, NULL, 0), SOTTO_ERR_TOO_LARGE);
	/* refused means untouched */
	assert_int_equal(okm[0], 0x5a);
	assert_int_equal(hkdf_sha256_expand(okm, HKDF_SHA256_MAX_OKM, prk, NULL, 0), SOTTO_OK);
	/* a shorter output is a prefix of a longer one */
	assert_int_equal(hkdf_sha256_expand(again, 33, prk, NULL, 0), SOTTO_OK);
	assert_memory_equal(okm, again, 33);
	assert_int_equal(hkdf_sha256_expand(again, 0, prk, NULL, 0), SOTTO_OK);
	free(okm);
	free(again);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc5869_case1),
		cmocka_unit_test(test_rfc5869_case2),
		cmocka_unit_test(test_rfc5869_case3),
		cmocka_unit_test(test_expand_limits),
	};

	if (sc_init() != SOTTO_OK)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
