/* SPDX-License-Identifier: ISC */
/*
 * The bytes a device signs to authenticate, written out by hand
 * (docs/PROTOCOL.md; lib/protocol/wire.h): client and server build them with
 * the same function, so a change to it (the pin left out, say: a signature a
 * relay could replay to another server) keeps every round trip working and
 * only a known answer sees it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "sotto/error.h"
#include "wire.h"

static void
test_auth_message_known_answer(void **state)
{
	uint8_t pin[32], nonce[WIRE_NONCE_LEN], want[WIRE_AUTH_MSG_MAX], got[WIRE_AUTH_MSG_MAX];
	static const char *handles[] = { "a", "alice", "0123456789012345678901234567890123456789012345678901234567890123" };
	size_t n, wn;

	(void)state;
	for (size_t i = 0; i < sizeof(pin); i++)
		pin[i] = (uint8_t)(0xa0 + i);
	for (size_t i = 0; i < sizeof(nonce); i++)
		nonce[i] = (uint8_t)(0x30 + i);
	for (size_t h = 0; h < sizeof(handles) / sizeof(handles[0]); h++) {
		/* "sotto-auth-v1" || 0x00 || pin (32) || nonce (32) || handle */
		memcpy(want, "sotto-auth-v1", 13);
		want[13] = 0x00;
		memcpy(want + 14, pin, 32);
		memcpy(want + 46, nonce, 32);
		memcpy(want + 78, handles[h], strlen(handles[h]));
		wn = 78 + strlen(handles[h]);
		assert_true(wn <= sizeof(want));
		memset(got, 0xee, sizeof(got));
		n = wire_auth_message(got, pin, nonce, handles[h]);
		assert_int_equal(n, wn);
		assert_memory_equal(got, want, wn);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_auth_message_known_answer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
