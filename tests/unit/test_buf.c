/* SPDX-License-Identifier: ISC */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "array.h"
#include "buf.h"
#include "sotto/error.h"

static const uint8_t ints[] = {
	0x81,
	0x82, 0x83,
	0x84, 0x85, 0x86, 0x87,
	0x88, 0x89, 0x8a, 0x8b, 0x8c, 0x8d, 0x8e, 0x8f,
};

static void
test_ints(void **state)
{
	sbuf_reader r;
	uint8_t a;
	uint16_t b;
	uint32_t c;
	uint64_t d;

	(void)state;
	sbr_init(&r, ints, sizeof(ints));
	assert_int_equal(sbr_remaining(&r), sizeof(ints));
	assert_int_equal(sbr_u8(&r, &a), SOTTO_OK);
	assert_int_equal(sbr_u16(&r, &b), SOTTO_OK);
	assert_int_equal(sbr_u32(&r, &c), SOTTO_OK);
	assert_int_equal(sbr_u64(&r, &d), SOTTO_OK);
	assert_int_equal(a, 0x81);
	assert_int_equal(b, 0x8283);
	assert_int_equal(c, 0x84858687u);
	assert_true(d == 0x88898a8b8c8d8e8fULL);
	assert_int_equal(sbr_remaining(&r), 0);
	assert_int_equal(sbr_done(&r), SOTTO_OK);
	/* reading past the end is refused and clears the output */
	a = 0xff;
	assert_int_equal(sbr_u8(&r, &a), SOTTO_ERR_TRUNCATED);
	assert_int_equal(a, 0);
}

/* Each getter, from each starting offset, over each too-short input. */
static void
test_int_truncation(void **state)
{
	uint8_t data[16];
	sbuf_reader r;
	size_t w, start, avail;
	uint8_t a;
	uint16_t b;
	uint32_t c;
	uint64_t d;
	int rc;

	(void)state;
	memset(data, 0xa5, sizeof(data));
	for (w = 1; w <= 8; w *= 2) {
		for (start = 0; start <= 4; start++) {
			for (avail = 0; avail < w; avail++) {
				const uint8_t *skip;

				sbr_init(&r, data, start + avail);
				assert_int_equal(sbr_ptr(&r, start, &skip), SOTTO_OK);
				a = 0xff;
				b = 0xffff;
				c = 0xffffffffu;
				d = UINT64_MAX;
				switch (w) {
				case 1:
					rc = sbr_u8(&r, &a);
					assert_int_equal(a, 0);
					break;
				case 2:
					rc = sbr_u16(&r, &b);
					assert_int_equal(b, 0);
					break;
				case 4:
					rc = sbr_u32(&r, &c);
					assert_int_equal(c, 0);
					break;
				default:
					rc = sbr_u64(&r, &d);
					assert_true(d == 0);
					break;
				}
				assert_int_equal(rc, SOTTO_ERR_TRUNCATED);
				assert_int_equal(r.off, start);
				assert_int_equal(sbr_remaining(&r), avail);
			}
			/* and exactly enough succeeds */
			sbr_init(&r, data, start + w);
			r.off = start;
			switch (w) {
			case 1: assert_int_equal(sbr_u8(&r, &a), SOTTO_OK); break;
			case 2: assert_int_equal(sbr_u16(&r, &b), SOTTO_OK); break;
			case 4: assert_int_equal(sbr_u32(&r, &c), SOTTO_OK); break;
			default: assert_int_equal(sbr_u64(&r, &d), SOTTO_OK); break;
			}
			assert_int_equal(sbr_done(&r), SOTTO_OK);
		}
	}
}

static void
test_copy_ptr(void **state)
{
	uint8_t out[8];
	const uint8_t *p;
	sbuf_reader r;
	size_t n;

	(void)state;
	for (n = 0; n <= sizeof(ints); n++) {
		sbr_init(&r, ints, n);
		memset(out, 0xee, sizeof(out));
		if (n >= sizeof(out)) {
			assert_int_equal(sbr_copy(&r, out, sizeof(out)), SOTTO_OK);
			assert_memory_equal(out, ints, sizeof(out));
			assert_int_equal(r.off, sizeof(out));
		} else {
			size_t i;

			assert_int_equal(sbr_copy(&r, out, sizeof(out)), SOTTO_ERR_TRUNCATED);
			for (i = 0; i < sizeof(out); i++)
				assert_int_equal(out[i], 0);
			assert_int_equal(r.off, 0);
		}
		sbr_init(&r, ints, n);
		p = (const uint8_t *)&r;
		if (n >= 5) {
			assert_int_equal(sbr_ptr(&r, 5, &p), SOTTO_OK);
			assert_ptr_equal(p, ints);
			assert_int_equal(sbr_remaining(&r), n - 5);
		} else {
			assert_int_equal(sbr_ptr(&r, 5, &p), SOTTO_ERR_TRUNCATED);
			assert_null(p);
			assert_int_equal(r.off, 0);
		}
	}
	/* zero-length reads always succeed and do not move */
	sbr_init(&r, ints, 0);
	assert_int_equal(sbr_copy(&r, out, 0), SOTTO_OK);
	assert_int_equal(sbr_ptr(&r, 0, &p), SOTTO_OK);
	assert_int_equal(r.off, 0);
	/* a huge n cannot wrap the check */
	sbr_init(&r, ints, sizeof(ints));
	assert_int_equal(sbr_u8(&r, &out[0]), SOTTO_OK);
	assert_int_equal(sbr_ptr(&r, SIZE_MAX, &p), SOTTO_ERR_TRUNCATED);
	assert_int_equal(sbr_ptr(&r, SIZE_MAX - 1, &p), SOTTO_ERR_TRUNCATED);
	assert_int_equal(r.off, 1);
	/* NULL bytes read as empty */
	sbr_init(&r, NULL, 100);
	assert_int_equal(sbr_remaining(&r), 0);
	assert_int_equal(sbr_done(&r), SOTTO_OK);
}

typedef int (*strfn)(sbuf_reader *, size_t, const uint8_t **, size_t *);

static void
check_str(strfn fn, size_t w)
{
	uint8_t data[64];
	const uint8_t *p;
	sbuf_reader r;
	size_t n, i, cut;
	int rc;

	/* prefix of w bytes saying 5, then "hello", then one trailing byte */
	memset(data, 0, sizeof(data));
	data[w - 1] = 5;
	memcpy(data + w, "hello", 5);
	data[w + 5] = '!';

	sbr_init(&r, data, w + 6);
	assert_int_equal(fn(&r, 5, &p, &n), SOTTO_OK);
	assert_int_equal(n, 5);
	assert_memory_equal(p, "hello", 5);
	assert_int_equal(sbr_done(&r), SOTTO_ERR_TRAILING);
	assert_int_equal(sbr_remaining(&r), 1);

	/* length over max: TOO_LARGE, whether or not the bytes are there */
	for (cut = w; cut <= w + 6; cut++) {
		sbr_init(&r, data, cut);
		p = data;
		n = 77;
		assert_int_equal(fn(&r, 4, &p, &n), SOTTO_ERR_TOO_LARGE);
		assert_null(p);
		assert_int_equal(n, 0);
		assert_int_equal(r.off, 0);
	}
	/* every truncation, with max large enough: TRUNCATED, nothing moved or returned */
	for (cut = 0; cut < w + 5; cut++) {
		sbr_init(&r, data, cut);
		p = data;
		n = 77;
		rc = fn(&r, 1000, &p, &n);
		assert_int_equal(rc, SOTTO_ERR_TRUNCATED);
		assert_null(p);
		assert_int_equal(n, 0);
		assert_int_equal(r.off, 0);
	}
	/* from a non-zero offset as well */
	memmove(data + 3, data, w + 6);
	for (cut = 3; cut < 3 + w + 5; cut++) {
		sbr_init(&r, data, cut);
		r.off = 3;
		assert_int_equal(fn(&r, 1000, &p, &n), SOTTO_ERR_TRUNCATED);
		assert_int_equal(r.off, 3);
	}
	sbr_init(&r, data, 3 + w + 5);
	r.off = 3;
	assert_int_equal(fn(&r, 5, &p, &n), SOTTO_OK);
	assert_ptr_equal(p, data + 3 + w);
	assert_int_equal(sbr_done(&r), SOTTO_OK);

	/* the largest length the prefix can say, with max SIZE_MAX: truncated, no wrap */
	memset(data, 0xff, w);
	sbr_init(&r, data, w + 10);
	assert_int_equal(fn(&r, SIZE_MAX, &p, &n), SOTTO_ERR_TRUNCATED);
	assert_int_equal(r.off, 0);
	/* empty string */
	memset(data, 0, w);
	sbr_init(&r, data, w);
	assert_int_equal(fn(&r, 0, &p, &n), SOTTO_OK);
	assert_int_equal(n, 0);
	assert_int_equal(sbr_done(&r), SOTTO_OK);
	for (i = 0; i < w; i++)
		assert_int_equal(data[i], 0);
}

static void
test_str(void **state)
{
	(void)state;
	check_str(sbr_str8, 1);
	check_str(sbr_str16, 2);
	check_str(sbr_str32, 4);
}

static void
test_writer_roundtrip(void **state)
{
	const uint8_t *p;
	sbuf_reader r;
	uint8_t a, *out;
	uint16_t b;
	uint32_t c;
	uint64_t d;
	size_t n, len;
	sbuf w;
	int i;

	(void)state;
	sbw_init(&w, 1 << 16);
	assert_int_equal(sbw_u8(&w, 0x81), SOTTO_OK);
	assert_int_equal(sbw_u16(&w, 0x8283), SOTTO_OK);
	assert_int_equal(sbw_u32(&w, 0x84858687u), SOTTO_OK);
	assert_int_equal(sbw_u64(&w, 0x88898a8b8c8d8e8fULL), SOTTO_OK);
	assert_int_equal(w.len, sizeof(ints));
	assert_memory_equal(w.p, ints, sizeof(ints));
	assert_int_equal(sbw_str8(&w, "abc", 3), SOTTO_OK);
	assert_int_equal(sbw_str16(&w, "defg", 4), SOTTO_OK);
	assert_int_equal(sbw_str32(&w, "", 0), SOTTO_OK);
	/* grow through several reallocations; contents must survive */
	for (i = 0; i < 1000; i++)
		assert_int_equal(sbw_u8(&w, (uint8_t)i), SOTTO_OK);
	assert_int_equal(sbw_error(&w), SOTTO_OK);

	sbr_init(&r, w.p, w.len);
	assert_int_equal(sbr_u8(&r, &a), SOTTO_OK);
	assert_int_equal(sbr_u16(&r, &b), SOTTO_OK);
	assert_int_equal(sbr_u32(&r, &c), SOTTO_OK);
	assert_int_equal(sbr_u64(&r, &d), SOTTO_OK);
	assert_true(a == 0x81 && b == 0x8283 && c == 0x84858687u && d == 0x88898a8b8c8d8e8fULL);
	assert_int_equal(sbr_str8(&r, 3, &p, &n), SOTTO_OK);
	assert_memory_equal(p, "abc", 3);
	assert_int_equal(sbr_str16(&r, 4, &p, &n), SOTTO_OK);
	assert_memory_equal(p, "defg", 4);
	assert_int_equal(sbr_str32(&r, 0, &p, &n), SOTTO_OK);
	assert_int_equal(n, 0);
	for (i = 0; i < 1000; i++) {
		assert_int_equal(sbr_u8(&r, &a), SOTTO_OK);
		assert_int_equal(a, (uint8_t)i);
	}
	assert_int_equal(sbr_done(&r), SOTTO_OK);

	len = 0;
	n = w.len;
	out = sbw_steal(&w, &len);
	assert_non_null(out);
	assert_int_equal(len, n);
	assert_null(w.p);
	assert_int_equal(w.len, 0);
	assert_memory_equal(out, ints, sizeof(ints));
	free(out);
	/* after steal the writer is usable again */
	assert_int_equal(sbw_u8(&w, 1), SOTTO_OK);
	assert_int_equal(w.len, 1);
	sbw_free(&w);
	assert_null(w.p);
	sbw_free(&w);
	sbw_free(NULL);

	/* stealing from an empty writer gives nothing */
	sbw_init(&w, 10);
	len = 99;
	assert_null(sbw_steal(&w, &len));
	assert_int_equal(len, 0);
}

static void
test_writer_max(void **state)
{
	uint8_t big[300];
	sbuf w;
	size_t i;

	(void)state;
	memset(big, 'x', sizeof(big));
	/* exactly max is fine, one more is not */
	for (i = 0; i <= 70; i++) {
		sbw_init(&w, i);
		assert_int_equal(sbw_put(&w, big, i), SOTTO_OK);
		assert_int_equal(w.len, i);
		assert_int_equal(sbw_u8(&w, 1), SOTTO_ERR_TOO_LARGE);
		assert_int_equal(w.len, i);
		sbw_free(&w);
	}
	/* sticky: once failed, every later put fails, even ones that would fit */
	sbw_init(&w, 8);
	assert_int_equal(sbw_u32(&w, 1), SOTTO_OK);
	assert_int_equal(sbw_u64(&w, 2), SOTTO_ERR_TOO_LARGE);
	assert_int_equal(w.len, 4);
	assert_int_equal(sbw_u8(&w, 3), SOTTO_ERR_TOO_LARGE);
	assert_int_equal(sbw_put(&w, big, 0), SOTTO_ERR_TOO_LARGE);
	assert_int_equal(sbw_str8(&w, "", 0), SOTTO_ERR_TOO_LARGE);
	assert_null(sbw_reserve(&w, 1));
	assert_int_equal(w.len, 4);
	assert_int_equal(sbw_error(&w), SOTTO_ERR_TOO_LARGE);
	/* cleared: empty, the error forgotten, the same memory and max kept */
	{
		const uint8_t *mem = w.p;

		sbw_clear(&w);
		assert_int_equal(w.len, 0);
		assert_int_equal(sbw_error(&w), SOTTO_OK);
		assert_int_equal(sbw_u64(&w, 5), SOTTO_OK);
		assert_ptr_equal(w.p, mem);
		assert_int_equal(sbw_u8(&w, 6), SOTTO_ERR_TOO_LARGE);
	}
	sbw_free(&w);

	/* string lengths above what the prefix can say */
	sbw_init(&w, 1 << 20);
	assert_int_equal(sbw_str8(&w, big, 256), SOTTO_ERR_TOO_LARGE);
	assert_int_equal(w.len, 0);
	sbw_free(&w);
	sbw_init(&w, 1 << 20);
	assert_int_equal(sbw_str8(&w, big, 255), SOTTO_OK);
	assert_int_equal(w.len, 256);
	assert_int_equal(w.p[0], 255);
	sbw_free(&w);
	{
		uint8_t *huge = calloc(1, 65536);

		assert_non_null(huge);
		sbw_init(&w, 1 << 20);
		assert_int_equal(sbw_str16(&w, huge, 65536), SOTTO_ERR_TOO_LARGE);
		assert_int_equal(w.len, 0);
		sbw_free(&w);
		sbw_init(&w, 1 << 20);
		assert_int_equal(sbw_str16(&w, huge, 65535), SOTTO_OK);
		assert_int_equal(w.len, 65537);
		sbw_free(&w);
		free(huge);
	}
	/* the prefix counts against max too */
	sbw_init(&w, 5);
	assert_int_equal(sbw_str32(&w, "ab", 2), SOTTO_ERR_TOO_LARGE);
	sbw_free(&w);
	sbw_init(&w, 6);
	assert_int_equal(sbw_str32(&w, "ab", 2), SOTTO_OK);
	sbw_free(&w);
	/* reserve cannot wrap */
	sbw_init(&w, 100);
	assert_int_equal(sbw_u8(&w, 0), SOTTO_OK);
	assert_null(sbw_reserve(&w, SIZE_MAX));
	assert_int_equal(sbw_error(&w), SOTTO_ERR_TOO_LARGE);
	sbw_free(&w);
}

/* array_grow: doubles from `first`, stops at max, refuses an overflowing size,
 * keeps the elements, and leaves the array as it was when it refuses. */
static void
test_array_grow(void **state)
{
	uint32_t *a = NULL;
	size_t cap = 0, n = 0;

	(void)state;
	for (uint32_t i = 0; i < 20; i++) {
		assert_int_equal(array_grow(&a, &cap, n, sizeof(*a), 4, 20), SOTTO_OK);
		assert_true(n < cap && cap <= 20);
		a[n++] = i;
	}
	assert_int_equal(cap, 20);	/* 4, 8, 16, then clamped to max */
	assert_int_equal(array_grow(&a, &cap, n, sizeof(*a), 4, 20), SOTTO_ERR_TOO_LARGE);
	assert_int_equal(cap, 20);
	for (uint32_t i = 0; i < 20; i++)
		assert_int_equal(a[i], i);
	/* Room left: nothing to do. */
	assert_int_equal(array_grow(&a, &cap, 3, sizeof(*a), 4, 20), SOTTO_OK);
	free(a);

	/* A byte count that would overflow is refused before realloc. */
	a = NULL;
	cap = SIZE_MAX / 8 + 1;
	assert_int_equal(array_grow(&a, &cap, cap, sizeof(*a), 4, SIZE_MAX), SOTTO_ERR_TOO_LARGE);
	assert_null(a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ints),
		cmocka_unit_test(test_int_truncation),
		cmocka_unit_test(test_copy_ptr),
		cmocka_unit_test(test_str),
		cmocka_unit_test(test_writer_roundtrip),
		cmocka_unit_test(test_writer_max),
		cmocka_unit_test(test_array_grow),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
