/* SPDX-License-Identifier: ISC */
/*
 * sc_unb64 accepts exactly the base64url alphabet: libsodium 1.0.18 decodes any
 * byte >= 0x80 as '_', which gave an invite code many spellings (found by
 * tests/fuzz/fuzz_invite). Every byte value is tried at every position.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "crypto.h"
#include "invite.h"
#include "sotto/error.h"

static int
in_alphabet(int c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	    c == '-' || c == '_';
}

static void
test_every_byte_every_position(void **state)
{
	char text[8];
	uint8_t out[8];
	size_t n, pos;
	int c;

	(void)state;
	for (pos = 0; pos < 8; pos++)
		for (c = 0; c < 256; c++) {
			memcpy(text, "QUJDREVG", 8);	/* "ABCDEF" */
			text[pos] = (char)c;
			n = 99;
			if (in_alphabet(c))
				assert_int_equal(sc_unb64(out, sizeof(out), &n, text, 8), SOTTO_OK);
			else
				assert_int_equal(sc_unb64(out, sizeof(out), &n, text, 8), SOTTO_ERR_FORMAT);
		}
}

static void
test_invite_high_byte(void **state)
{
	invite inv, got;
	char code[SOTTO_MAX_INVITE + 1];
	size_t len, i;

	(void)state;
	memset(&inv, 0, sizeof(inv));
	memset(inv.pin, 0x11, sizeof(inv.pin));
	memset(inv.secret, 0xff, sizeof(inv.secret));	/* base64url "____..." */
	snprintf(inv.address, sizeof(inv.address), "127.0.0.1:7443");
	snprintf(inv.handle, sizeof(inv.handle), "alice");
	assert_int_equal(invite_encode(&inv, code, sizeof(code)), SOTTO_OK);
	assert_int_equal(invite_decode(&got, code), SOTTO_OK);
	len = strlen(code);
	for (i = strlen(INVITE_PREFIX); i < len; i++) {
		char saved = code[i];

		if (saved != '_')
			continue;
		code[i] = (char)0x98;
		assert_int_equal(invite_decode(&got, code), SOTTO_ERR_FORMAT);
		code[i] = saved;
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_byte_every_position),
		cmocka_unit_test(test_invite_high_byte),
	};

	if (sc_init() != 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
