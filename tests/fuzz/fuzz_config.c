/* SPDX-License-Identifier: ISC */
/*
 * sottod.conf: config_parse_stream over the input (through fmemopen, the same
 * stdio path config_load takes on a file), with a roomy and a one-byte error
 * buffer; config_split_address on the input as one string. A config that
 * parses holds only values within their documented ranges, and its address
 * and listen split again.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "caps.h"
#include "config.h"
#include "fuzz_common.h"
#include "sotto/error.h"

static void
parse(const uint8_t *data, size_t size, size_t errlen)
{
	sottod_config c;
	char err[256], host[SOTTO_MAX_ADDRESS + 1];
	FILE *f;
	int rc, port;

	/* fmemopen refuses a zero-length buffer: an empty input is fed as a blank line. */
	if ((f = fmemopen(size > 0 ? (void *)data : (void *)"\n", size > 0 ? size : 1, "r")) == NULL)
		abort();
	config_defaults(&c);
	memset(err, 'x', sizeof(err));
	rc = config_parse_stream(&c, f, err, errlen);
	fclose(f);
	FUZZ_ASSERT(memchr(err, '\0', errlen) != NULL);
	if (rc != SOTTO_OK) {
		FUZZ_ASSERT(rc == SOTTO_ERR_FORMAT || rc == SOTTO_ERR_TOO_LARGE || rc == SOTTO_ERR_IO);
		/* An error names its line, or is about the whole file (a setting
		 * that needs another one). */
		FUZZ_ASSERT(errlen < 8 || strncmp(err, "line ", 5) == 0 || strcmp(err, "read error") == 0 ||
		    strncmp(err, "storage = postgres needs postgres_url", errlen - 1) == 0);
		return;
	}
	FUZZ_ASSERT(config_split_address(c.address, host, sizeof(host), &port, 0) == SOTTO_OK);
	FUZZ_ASSERT(port >= 1 && port <= 65535);
	FUZZ_ASSERT(config_split_address(c.listen, host, sizeof(host), &port, 1) == SOTTO_OK);
	FUZZ_ASSERT(port >= 0 && port <= 65535);
	FUZZ_ASSERT(c.expiry_seconds >= 1 && c.expiry_seconds <= SOTTO_DEFAULT_EXPIRY_SECONDS);
	FUZZ_ASSERT(c.mailbox_cap >= 1 && c.mailbox_cap <= SOTTO_DEFAULT_MAILBOX_CAP);
	FUZZ_ASSERT(c.registration_open == 0 || c.registration_open == 1);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s, host[SOTTO_MAX_ADDRESS + 1];
	int port;

	parse(data, size, 256);
	parse(data, size, 1);

	FUZZ_ASSERT((s = malloc(size + 1)) != NULL);
	memcpy(s, data, size);
	s[size] = '\0';
	if (config_split_address(s, host, sizeof(host), &port, 1) == SOTTO_OK) {
		FUZZ_ASSERT(strlen(host) > 0 && strlen(host) <= SOTTO_MAX_ADDRESS);
		FUZZ_ASSERT(port >= 0 && port <= 65535);
	} else
		FUZZ_ASSERT(host[0] == '\0' && port == 0);
	free(s);
	return 0;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char full[] =
	    "# sottod configuration\n"
	    "address = chat.example.org:7443\n"
	    "listen = [::]:0\n"
	    "registration = open\n"
	    "expiry_seconds = 604800\n"
	    "mailbox_cap = 10000\n"
	    "log_level = debug\n";
	static const char spaces[] = "\t address=127.0.0.1:1 \r\n\n   # comment\nregistration =invite\n";
	static const char bad_key[] = "address = 127.0.0.1:7443\nfoo = bar\n";
	static const char no_eq[] = "address 127.0.0.1:7443\n";
	static const char bad_num[] = "mailbox_cap = 18446744073709551616\n";
	static const char nul[] = "log_level = info\0debug\n";
	char longline[SOTTO_MAX_CONFIG_LINE + 16];

	(void)argc;
	(void)argv;
	fuzz_seed("full", full, sizeof(full) - 1);
	fuzz_seed("spaces", spaces, sizeof(spaces) - 1);
	fuzz_seed("bad_key", bad_key, sizeof(bad_key) - 1);
	fuzz_seed("no_eq", no_eq, sizeof(no_eq) - 1);
	fuzz_seed("bad_number", bad_num, sizeof(bad_num) - 1);
	fuzz_seed("nul", nul, sizeof(nul) - 1);
	fuzz_seed("no_newline", "log_level = info", 16);
	memset(longline, 'a', sizeof(longline));
	memcpy(longline, "address = ", 10);
	longline[sizeof(longline) - 1] = '\n';
	fuzz_seed("long_line", longline, sizeof(longline));
	return 0;
}
