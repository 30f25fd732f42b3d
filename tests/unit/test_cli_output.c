/* SPDX-License-Identifier: ISC */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cli.h"

static char *
json(const char *s, size_t n)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	cli_json_str(f, s, n);
	fclose(f);
	return buf;
}

static void
check(const char *in, size_t n, const char *want)
{
	char *got = json(in, n);

	assert_string_equal(got, want);
	free(got);
}

static void
test_json_escapes(void **state)
{
	(void)state;
	check("plain", 5, "\"plain\"");
	check("a\"b\\c", 5, "\"a\\\"b\\\\c\"");
	check("l1\nl2\tx\r", 8, "\"l1\\nl2\\tx\\r\"");
	check("\x01\x1f\x7f", 3, "\"\\u0001\\u001f\\u007f\"");
	check("nul\0in", 6, "\"nul\\u0000in\"");
	/* Valid UTF-8 passes; broken sequences become U+FFFD. */
	check("\xc3\xa7" "a", 3, "\"\xc3\xa7" "a\"");
	check("\xf0\x9f\x98\x80", 4, "\"\xf0\x9f\x98\x80\"");
	check("\xc3", 1, "\"\\ufffd\"");
	check("\xc0\xaf", 2, "\"\\ufffd\\ufffd\"");		/* overlong */
	check("\xed\xa0\x80", 3, "\"\\ufffd\\ufffd\\ufffd\"");	/* surrogate */
	check("\xff", 1, "\"\\ufffd\"");
}

static void
test_iso8601(void **state)
{
	char t[32];

	(void)state;
	cli_iso8601(t, sizeof(t), 0);
	assert_string_equal(t, "1970-01-01T00:00:00Z");
	cli_iso8601(t, sizeof(t), 1700000000999ULL);
	assert_string_equal(t, "2023-11-14T22:13:20Z");
}

static void
test_text_line(void **state)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	(void)state;
	assert_non_null(f);
	cli_text(f, "a\nb\x1b[2Jc\xc3\xa7", 10);
	fclose(f);
	assert_string_equal(buf, "a\\nb?[2Jc\xc3\xa7");
	free(buf);
	/* C1 control, right-to-left override, isolate, line separator, Arabic
	 * letter mark, invalid byte: one '?' each; other non-ASCII kept. */
	buf = NULL;
	f = open_memstream(&buf, &len);
	assert_non_null(f);
	cli_text(f, "x\xc2\x9by\xe2\x80\xae" "evil\xe2\x81\xa6" "z\xe2\x80\xa8\xd8\x9c\xff\xe2\x82\xac", 24);
	fclose(f);
	assert_string_equal(buf, "x?y?evil?z???\xe2\x82\xac");
	free(buf);
}

static void
test_parse_int(void **state)
{
	long v;

	(void)state;
	assert_int_equal(cli_parse_int("20", 0, 100, &v), 0);
	assert_int_equal(v, 20);
	assert_int_equal(cli_parse_int("", 0, 100, &v), -1);
	assert_int_equal(cli_parse_int("5x", 0, 100, &v), -1);
	assert_int_equal(cli_parse_int("-1", 0, 100, &v), -1);
	assert_int_equal(cli_parse_int("101", 0, 100, &v), -1);
	assert_int_equal(cli_parse_int("99999999999999999999", 0, 100, &v), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_escapes),
		cmocka_unit_test(test_iso8601),
		cmocka_unit_test(test_text_line),
		cmocka_unit_test(test_parse_int),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
