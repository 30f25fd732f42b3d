/* SPDX-License-Identifier: ISC */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "caps.h"
#include "config.h"
#include "sotto/error.h"

/* Parse text (which may hold NULs: len given) over the defaults. */
static int
parse_n(sottod_config *c, const char *text, size_t len, char *err, size_t errlen)
{
	FILE *f = fmemopen((void *)text, len, "r");
	int rc;

	assert_non_null(f);
	config_defaults(c);
	rc = config_parse_stream(c, f, err, errlen);
	fclose(f);
	return rc;
}

static int
parse(sottod_config *c, const char *text, char *err, size_t errlen)
{
	return parse_n(c, text, strlen(text), err, errlen);
}

static void
test_defaults(void **state)
{
	sottod_config c;
	char err[256];

	(void)state;
	assert_int_equal(parse(&c, "", err, sizeof(err)), SOTTO_OK);
	assert_string_equal(c.address, "127.0.0.1:7443");
	assert_string_equal(c.listen, "127.0.0.1:7443");
	assert_int_equal(c.registration_open, 0);
	assert_int_equal(c.expiry_seconds, SOTTO_DEFAULT_EXPIRY_SECONDS);
	assert_int_equal(c.mailbox_cap, SOTTO_DEFAULT_MAILBOX_CAP);
	assert_int_equal(c.log_debug, 0);
}

static void
test_values_and_overrides(void **state)
{
	sottod_config c;
	char err[256];

	(void)state;
	assert_int_equal(parse(&c,
	    "# a comment\n"
	    "\n"
	    "address = chat.example.org:9000\n"
	    "  registration=open  \n"
	    "expiry_seconds = 60\n"
	    "mailbox_cap = 5\n"
	    "log_level = debug\r\n"
	    "   # indented comment\n"
	    "mailbox_cap = 2\n"
	    "expiry_seconds = 2", err, sizeof(err)), SOTTO_OK);
	assert_string_equal(c.address, "chat.example.org:9000");
	/* listen follows address unless set */
	assert_string_equal(c.listen, "chat.example.org:9000");
	assert_int_equal(c.registration_open, 1);
	assert_int_equal(c.expiry_seconds, 2);
	assert_int_equal(c.mailbox_cap, 2);
	assert_int_equal(c.log_debug, 1);

	assert_int_equal(parse(&c, "listen = 0.0.0.0:0\naddress = [::1]:7443\nregistration = open\n"
	    "registration = invite\nlog_level = debug\nlog_level = info\n", err, sizeof(err)), SOTTO_OK);
	assert_string_equal(c.listen, "0.0.0.0:0");
	assert_string_equal(c.address, "[::1]:7443");
	assert_int_equal(c.registration_open, 0);
	assert_int_equal(c.log_debug, 0);
}

static void
expect_error(const char *text, int want_rc, const char *want_in_err)
{
	sottod_config c;
	char err[256];

	assert_int_equal(parse(&c, text, err, sizeof(err)), want_rc);
	if (strstr(err, want_in_err) == NULL)
		fail_msg("error \"%s\" does not contain \"%s\" (input %s)", err, want_in_err, text);
}

static void
test_bad_lines(void **state)
{
	(void)state;
	expect_error("address = 1.2.3.4:1\nfrobnicate = 1\n", SOTTO_ERR_FORMAT, "line 2");
	expect_error("frobnicate = 1\n", SOTTO_ERR_FORMAT, "unknown key \"frobnicate\"");
	expect_error("# ok\nno equals sign here\n", SOTTO_ERR_FORMAT, "line 2");
	expect_error("= value\n", SOTTO_ERR_FORMAT, "line 1");
	expect_error("mailbox_cap = \n", SOTTO_ERR_FORMAT, "line 1");
	expect_error("mailbox_cap = 12x\n", SOTTO_ERR_FORMAT, "mailbox_cap");
	expect_error("mailbox_cap = -1\n", SOTTO_ERR_FORMAT, "line 1");
	expect_error("mailbox_cap = 0\n", SOTTO_ERR_FORMAT, "line 1");
	/* caps may only be lowered */
	expect_error("mailbox_cap = 10001\n", SOTTO_ERR_FORMAT, "line 1");
	expect_error("mailbox_cap = 99999999999999999999999\n", SOTTO_ERR_FORMAT, "line 1");
	expect_error("expiry_seconds = 0\n", SOTTO_ERR_FORMAT, "expiry_seconds");
	expect_error("expiry_seconds = 604801\n", SOTTO_ERR_FORMAT, "line 1");
	expect_error("expiry_seconds = 1e3\n", SOTTO_ERR_FORMAT, "line 1");
	expect_error("registration = maybe\n", SOTTO_ERR_FORMAT, "registration");
	expect_error("log_level = loud\n", SOTTO_ERR_FORMAT, "log_level");
	expect_error("address = nohostport\n", SOTTO_ERR_FORMAT, "address");
	expect_error("address = host:0\n", SOTTO_ERR_FORMAT, "line 1");
	expect_error("address = host:65536\n", SOTTO_ERR_FORMAT, "line 1");
	expect_error("address = :7443\n", SOTTO_ERR_FORMAT, "line 1");
	expect_error("address = ::1:7443\n", SOTTO_ERR_FORMAT, "line 1");
	expect_error("address = a b:7443\n", SOTTO_ERR_FORMAT, "line 1");
	expect_error("listen = host:\n", SOTTO_ERR_FORMAT, "line 1");
	expect_error("\n\n\nregistration = open\nmailbox_cap = many\n", SOTTO_ERR_FORMAT, "line 5");
}

static void
test_overlong_line(void **state)
{
	sottod_config c;
	char err[256], *text;
	size_t n;

	(void)state;
	text = malloc(SOTTO_MAX_CONFIG_LINE * 3);
	assert_non_null(text);

	/* exactly the cap (without the newline) is fine */
	n = (size_t)snprintf(text, SOTTO_MAX_CONFIG_LINE * 3, "# ");
	memset(text + n, 'x', SOTTO_MAX_CONFIG_LINE - n);
	n = SOTTO_MAX_CONFIG_LINE;
	text[n++] = '\n';
	n += (size_t)sprintf(text + n, "mailbox_cap = 3\n");
	assert_int_equal(parse_n(&c, text, n, err, sizeof(err)), SOTTO_OK);
	assert_int_equal(c.mailbox_cap, 3);

	/* one byte more is refused, naming the line, also as the last line without newline */
	memset(text, '#', SOTTO_MAX_CONFIG_LINE + 1);
	text[SOTTO_MAX_CONFIG_LINE + 1] = '\n';
	assert_int_equal(parse_n(&c, text, SOTTO_MAX_CONFIG_LINE + 2, err, sizeof(err)), SOTTO_ERR_TOO_LARGE);
	assert_non_null(strstr(err, "line 1"));
	assert_int_equal(parse_n(&c, text, SOTTO_MAX_CONFIG_LINE + 1, err, sizeof(err)), SOTTO_ERR_TOO_LARGE);

	/* a long line after good ones: the good ones were not the problem */
	n = (size_t)sprintf(text, "mailbox_cap = 4\n");
	memset(text + n, 'a', SOTTO_MAX_CONFIG_LINE * 2);
	assert_int_equal(parse_n(&c, text, n + SOTTO_MAX_CONFIG_LINE * 2, err, sizeof(err)),
	    SOTTO_ERR_TOO_LARGE);
	assert_non_null(strstr(err, "line 2"));
	free(text);
}

static void
test_file_roundtrip(void **state)
{
	sottod_config a, b;
	char dir[] = "/tmp/sotto-conf-XXXXXX", path[64], err[256];
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/sottod.conf", dir);
	config_defaults(&a);
	snprintf(a.address, sizeof(a.address), "10.0.0.1:443");
	a.registration_open = 1;
	assert_int_equal(config_write_new(path, &a), SOTTO_OK);
	/* never over an existing file */
	assert_int_equal(config_write_new(path, &a), SOTTO_ERR_EXISTS);
	config_defaults(&b);
	assert_int_equal(config_load(&b, path, err, sizeof(err)), SOTTO_OK);
	assert_string_equal(b.address, "10.0.0.1:443");
	assert_string_equal(b.listen, "10.0.0.1:443");
	assert_int_equal(b.registration_open, 1);
	assert_int_equal(b.mailbox_cap, SOTTO_DEFAULT_MAILBOX_CAP);
	/* appended lines override, as the tests and operators do */
	f = fopen(path, "a");
	assert_non_null(f);
	fprintf(f, "mailbox_cap = 2\nlisten = 127.0.0.1:0\n");
	fclose(f);
	config_defaults(&b);
	assert_int_equal(config_load(&b, path, err, sizeof(err)), SOTTO_OK);
	assert_int_equal(b.mailbox_cap, 2);
	assert_string_equal(b.listen, "127.0.0.1:0");
	unlink(path);
	config_defaults(&b);
	assert_int_equal(config_load(&b, path, err, sizeof(err)), SOTTO_ERR_NOT_FOUND);
	rmdir(dir);
}

static void
test_split_address(void **state)
{
	char host[SOTTO_MAX_ADDRESS + 1];
	int port;

	(void)state;
	assert_int_equal(config_split_address("127.0.0.1:7443", host, sizeof(host), &port, 0), SOTTO_OK);
	assert_string_equal(host, "127.0.0.1");
	assert_int_equal(port, 7443);
	assert_int_equal(config_split_address("[::1]:80", host, sizeof(host), &port, 0), SOTTO_OK);
	assert_string_equal(host, "::1");
	assert_int_equal(port, 80);
	assert_int_equal(config_split_address("h:0", host, sizeof(host), &port, 1), SOTTO_OK);
	assert_int_equal(port, 0);
	assert_int_equal(config_split_address("h:0", host, sizeof(host), &port, 0), SOTTO_ERR_FORMAT);
	assert_int_equal(config_split_address("[]:1", host, sizeof(host), &port, 0), SOTTO_ERR_FORMAT);
	assert_int_equal(config_split_address("h:1:2", host, sizeof(host), &port, 0), SOTTO_ERR_FORMAT);
	assert_int_equal(config_split_address("h:+1", host, sizeof(host), &port, 0), SOTTO_ERR_FORMAT);
	assert_int_equal(config_split_address("example.org:7443", host, 4, &port, 0), SOTTO_ERR_FORMAT);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_values_and_overrides),
		cmocka_unit_test(test_bad_lines),
		cmocka_unit_test(test_overlong_line),
		cmocka_unit_test(test_file_roundtrip),
		cmocka_unit_test(test_split_address),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
