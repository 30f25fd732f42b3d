/* SPDX-License-Identifier: ISC */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "crypto.h"
#include "invite.h"
#include "sotto/error.h"

#define PREFIX_LEN (sizeof(INVITE_PREFIX) - 1)
/* u8 format | pin | secret | u8 len | address | u8 len | handle */
#define OFF_PIN 1
#define OFF_SECRET (OFF_PIN + 32)
#define OFF_ADDRLEN (OFF_SECRET + INVITE_SECRET_LEN)

static void
make_invite(invite *inv, const char *addr, const char *handle)
{
	memset(inv, 0, sizeof(*inv));
	sc_random(inv->pin, sizeof(inv->pin));
	sc_random(inv->secret, sizeof(inv->secret));
	snprintf(inv->address, sizeof(inv->address), "%s", addr);
	snprintf(inv->handle, sizeof(inv->handle), "%s", handle);
}

static void
assert_invite_equal(const invite *a, const invite *b)
{
	assert_memory_equal(a->pin, b->pin, sizeof(a->pin));
	assert_memory_equal(a->secret, b->secret, sizeof(a->secret));
	assert_string_equal(a->address, b->address);
	assert_string_equal(a->handle, b->handle);
}

/* raw bytes -> "sotto1-" + base64url */
static void
encode_raw(char *out, size_t outmax, const uint8_t *raw, size_t n)
{
	assert_true(outmax >= PREFIX_LEN + sc_b64_len(n));
	memcpy(out, INVITE_PREFIX, PREFIX_LEN);
	sc_b64(out + PREFIX_LEN, outmax - PREFIX_LEN, raw, n);
}

static size_t
decode_raw(uint8_t *raw, size_t max, const char *code)
{
	size_t n = 0;

	assert_memory_equal(code, INVITE_PREFIX, PREFIX_LEN);
	assert_int_equal(sc_unb64(raw, max, &n, code + PREFIX_LEN, strlen(code + PREFIX_LEN)),
	    SOTTO_OK);
	return n;
}

static void
test_roundtrip(void **state)
{
	invite a, b;
	char code[SOTTO_MAX_INVITE + 1], again[SOTTO_MAX_INVITE + 1], text[23];
	uint8_t raw[1024];
	size_t n;

	(void)state;
	make_invite(&a, "sotto.example.org:7443", "alice");
	assert_int_equal(invite_encode(&a, code, sizeof(code)), SOTTO_OK);
	assert_memory_equal(code, INVITE_PREFIX, PREFIX_LEN);
	memset(&b, 0xee, sizeof(b));
	assert_int_equal(invite_decode(&b, code), SOTTO_OK);
	assert_invite_equal(&a, &b);
	assert_int_equal(invite_encode(&b, again, sizeof(again)), SOTTO_OK);
	assert_string_equal(code, again);

	/* the layout is the one invite.h documents */
	n = decode_raw(raw, sizeof(raw), code);
	assert_int_equal(n, 1 + 32 + 16 + 1 + strlen(a.address) + 1 + strlen(a.handle));
	assert_int_equal(raw[0], 1);
	assert_memory_equal(raw + OFF_PIN, a.pin, 32);
	assert_memory_equal(raw + OFF_SECRET, a.secret, 16);
	assert_int_equal(raw[OFF_ADDRLEN], strlen(a.address));

	/* the largest invite: 255-byte address, 64-byte handle, fits SOTTO_MAX_INVITE */
	memset(&a, 0, sizeof(a));
	memset(a.address, 'h', SOTTO_MAX_ADDRESS);
	memset(a.handle, 'z', SOTTO_MAX_HANDLE);
	assert_int_equal(invite_encode(&a, code, sizeof(code)), SOTTO_OK);
	assert_true(strlen(code) <= SOTTO_MAX_INVITE);
	assert_int_equal(invite_decode(&b, code), SOTTO_OK);
	assert_invite_equal(&a, &b);

	/* too small an output buffer */
	make_invite(&a, "h:1", "bob");
	assert_int_equal(invite_encode(&a, code, PREFIX_LEN + 5), SOTTO_ERR_TOO_LARGE);

	invite_secret_text(text, a.secret);
	assert_int_equal(strlen(text), 22);
	assert_int_equal(sc_unb64(raw, sizeof(raw), &n, text, 22), SOTTO_OK);
	assert_int_equal(n, 16);
	assert_memory_equal(raw, a.secret, 16);
}

static void
check_refused(const char *code)
{
	invite b;
	size_t i;

	memset(&b, 0xee, sizeof(b));
	assert_int_equal(invite_decode(&b, code), SOTTO_ERR_FORMAT);
	for (i = 0; i < sizeof(b); i++)
		assert_int_equal(((uint8_t *)&b)[i], 0);
}

static void
test_bit_flips(void **state)
{
	invite a, b;
	char code[SOTTO_MAX_INVITE + 1], mut[SOTTO_MAX_INVITE + 1], again[SOTTO_MAX_INVITE + 1];
	uint8_t raw[512], bad[512];
	size_t n, i, alen;
	int rc, accepted = 0;

	(void)state;
	make_invite(&a, "chat.example.net:443", "carol.b-2_x");
	alen = strlen(a.address);
	assert_int_equal(invite_encode(&a, code, sizeof(code)), SOTTO_OK);
	n = decode_raw(raw, sizeof(raw), code);
	for (i = 0; i < n * 8; i++) {
		size_t byte = i / 8;

		memcpy(bad, raw, n);
		bad[byte] ^= (uint8_t)(1u << (i % 8));
		encode_raw(mut, sizeof(mut), bad, n);
		memset(&b, 0xee, sizeof(b));
		rc = invite_decode(&b, mut);
		if (rc != SOTTO_OK) {
			assert_int_equal(rc, SOTTO_ERR_FORMAT);
			check_refused(mut);
			continue;
		}
		accepted++;
		/* a flip that is accepted decodes to exactly the bytes that were sent */
		assert_int_equal(invite_encode(&b, again, sizeof(again)), SOTTO_OK);
		assert_string_equal(again, mut);
		if (byte == 0 || byte == OFF_ADDRLEN || byte == OFF_ADDRLEN + 1 + alen)
			fail_msg("flip of a format or length byte %zu accepted", byte);
		if (byte >= OFF_PIN && byte < OFF_SECRET) {
			assert_memory_not_equal(b.pin, a.pin, 32);
			assert_memory_equal(b.secret, a.secret, 16);
		} else if (byte >= OFF_SECRET && byte < OFF_ADDRLEN) {
			assert_memory_equal(b.pin, a.pin, 32);
			assert_memory_not_equal(b.secret, a.secret, 16);
		} else if (byte > OFF_ADDRLEN && byte <= OFF_ADDRLEN + alen) {
			assert_string_not_equal(b.address, a.address);
			assert_string_equal(b.handle, a.handle);
		} else {
			assert_string_equal(b.address, a.address);
			assert_string_not_equal(b.handle, a.handle);
		}
	}
	/* every pin and secret flip at least is accepted */
	assert_true(accepted >= (32 + 16) * 8);

	/* the same at the level of characters: change each character of the code */
	for (i = 0; i < strlen(code); i++) {
		static const char alphabet[] = "Aa0_-/+= .\x01";
		size_t k;

		for (k = 0; k < sizeof(alphabet) - 1; k++) {
			if (code[i] == alphabet[k])
				continue;
			memcpy(mut, code, sizeof(code));
			mut[i] = alphabet[k];
			if (invite_decode(&b, mut) == SOTTO_OK) {
				assert_int_equal(invite_encode(&b, again, sizeof(again)), SOTTO_OK);
				assert_string_equal(again, mut);
			} else
				check_refused(mut);
		}
	}
}

static void
test_truncation(void **state)
{
	invite a;
	char code[SOTTO_MAX_INVITE + 1], mut[SOTTO_MAX_INVITE + 1];
	uint8_t raw[512];
	size_t n, i;

	(void)state;
	make_invite(&a, "[::1]:7443", "dave");
	assert_int_equal(invite_encode(&a, code, sizeof(code)), SOTTO_OK);
	n = decode_raw(raw, sizeof(raw), code);
	for (i = 0; i < n; i++) {
		encode_raw(mut, sizeof(mut), raw, i);
		check_refused(mut);
	}
	/* one byte more, of any value */
	for (i = 0; i < 256; i++) {
		raw[n] = (uint8_t)i;
		encode_raw(mut, sizeof(mut), raw, n + 1);
		check_refused(mut);
	}
	/* every truncation of the text itself */
	for (i = 0; i < strlen(code); i++) {
		memcpy(mut, code, i);
		mut[i] = '\0';
		check_refused(mut);
	}
}

static void
test_bad_fields(void **state)
{
	invite a;
	char code[SOTTO_MAX_INVITE + 1], mut[SOTTO_MAX_INVITE + 1];
	uint8_t raw[512];
	size_t n, hoff;

	(void)state;
	make_invite(&a, "h:1", "erin");
	assert_int_equal(invite_encode(&a, code, sizeof(code)), SOTTO_OK);
	n = decode_raw(raw, sizeof(raw), code);
	hoff = OFF_ADDRLEN + 1 + 3 + 1;

	/* a NUL inside the handle or the address would decode to something else */
	raw[hoff + 2] = '\0';
	encode_raw(mut, sizeof(mut), raw, n);
	check_refused(mut);
	n = decode_raw(raw, sizeof(raw), code);
	raw[OFF_ADDRLEN + 2] = '\0';
	encode_raw(mut, sizeof(mut), raw, n);
	check_refused(mut);
	/* handle characters outside [a-z0-9._-] */
	n = decode_raw(raw, sizeof(raw), code);
	raw[hoff] = 'E';
	encode_raw(mut, sizeof(mut), raw, n);
	check_refused(mut);
	/* empty address, empty handle */
	make_invite(&a, "", "erin");
	assert_int_equal(invite_encode(&a, code, sizeof(code)), SOTTO_OK);
	check_refused(code);
	make_invite(&a, "h:1", "");
	assert_int_equal(invite_encode(&a, code, sizeof(code)), SOTTO_OK);
	check_refused(code);
	/* format other than 1 */
	make_invite(&a, "h:1", "erin");
	assert_int_equal(invite_encode(&a, code, sizeof(code)), SOTTO_OK);
	n = decode_raw(raw, sizeof(raw), code);
	raw[0] = 2;
	encode_raw(mut, sizeof(mut), raw, n);
	check_refused(mut);
	raw[0] = 0;
	encode_raw(mut, sizeof(mut), raw, n);
	check_refused(mut);
}

static void
test_prefix_and_size(void **state)
{
	invite a;
	char code[SOTTO_MAX_INVITE + 1], mut[SOTTO_MAX_INVITE + 64];
	uint8_t raw[1024];
	size_t n;

	(void)state;
	make_invite(&a, "h:1", "frank");
	assert_int_equal(invite_encode(&a, code, sizeof(code)), SOTTO_OK);
	check_refused("");
	check_refused("sotto1-");
	check_refused("sotto1");
	snprintf(mut, sizeof(mut), "sotto2-%s", code + PREFIX_LEN);
	check_refused(mut);
	snprintf(mut, sizeof(mut), "Sotto1-%s", code + PREFIX_LEN);
	check_refused(mut);
	snprintf(mut, sizeof(mut), "%s", code + PREFIX_LEN);
	check_refused(mut);
	snprintf(mut, sizeof(mut), " %s", code);
	check_refused(mut);
	snprintf(mut, sizeof(mut), "%s ", code);
	check_refused(mut);
	snprintf(mut, sizeof(mut), "%s\n", code);
	check_refused(mut);
	snprintf(mut, sizeof(mut), "%s=", code);
	check_refused(mut);

	/* a well-formed record too large for an invite */
	memset(raw, 'a', sizeof(raw));
	raw[0] = 1;
	raw[OFF_ADDRLEN] = 255;
	raw[OFF_ADDRLEN + 1 + 255] = 255;
	n = OFF_ADDRLEN + 1 + 255 + 1 + 255;
	encode_raw(mut, sizeof(mut), raw, n < 370 ? n : 370);
	check_refused(mut);
	/* text longer than SOTTO_MAX_INVITE */
	memset(mut, 'A', sizeof(mut) - 1);
	memcpy(mut, INVITE_PREFIX, PREFIX_LEN);
	mut[SOTTO_MAX_INVITE + 1] = '\0';
	check_refused(mut);
	/* and a valid code with junk appended past the cap */
	memset(mut, 0, sizeof(mut));
	memcpy(mut, code, strlen(code));
	memset(mut + strlen(code), 'A', SOTTO_MAX_INVITE + 1 - strlen(code));
	check_refused(mut);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_bit_flips),
		cmocka_unit_test(test_truncation),
		cmocka_unit_test(test_bad_fields),
		cmocka_unit_test(test_prefix_and_size),
	};

	if (sc_init() != SOTTO_OK)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
