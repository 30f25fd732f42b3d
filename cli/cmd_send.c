/* SPDX-License-Identifier: ISC */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

/* All of stdin, at most SOTTO_BODY_MAX bytes. */
static int
read_stdin(uint8_t **out, size_t *n)
{
	uint8_t *b;
	size_t len = 0, k;

	if ((b = malloc(SOTTO_BODY_MAX + 1)) == NULL)
		return cli_fail("out of memory");
	while ((k = fread(b + len, 1, SOTTO_BODY_MAX + 1 - len, stdin)) > 0) {
		len += k;
		if (len > SOTTO_BODY_MAX) {
			free(b);
			return cli_fail("message is longer than %d bytes", SOTTO_BODY_MAX);
		}
	}
	if (ferror(stdin)) {
		free(b);
		return cli_fail("could not read the message from stdin");
	}
	/* `printf 'text\n' | sotto send bob -` sends "text". */
	if (len > 0 && b[len - 1] == '\n')
		len--;
	*out = b;
	*n = len;
	return CLI_EXIT_OK;
}

static int
blank(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != ' ' && p[i] != '\t' && p[i] != '\n' && p[i] != '\r')
			return 0;
	return 1;
}

int
cmd_send(const char *home, int argc, char **argv)
{
	sotto_client *c = NULL;
	char id[SOTTO_ID_HEX_LEN + 1];
	const char *text;
	uint8_t *body = NULL;
	size_t body_len = 0;
	int first = 1, r, rc;

	if (first < argc && strcmp(argv[first], "--") == 0)
		first++;
	/* Handles, then the text; no options, so a text may start with '-'. */
	if (argc - first < 2)
		return cli_usage("send");
	for (int i = first; i < argc - 1; i++)
		if (argv[i][0] == '-')
			return cli_usage("send");
	if (argc - first - 1 > SOTTO_RECIPIENTS_MAX)
		return cli_fail("too many recipients (at most %d)", SOTTO_RECIPIENTS_MAX);
	text = argv[argc - 1];
	if (strcmp(text, "-") == 0) {
		if ((rc = read_stdin(&body, &body_len)) != CLI_EXIT_OK)
			return rc;
	} else {
		body_len = strlen(text);
		if (body_len > SOTTO_BODY_MAX)
			return cli_fail("message is longer than %d bytes", SOTTO_BODY_MAX);
		if ((body = malloc(body_len + 1)) == NULL)
			return cli_fail("out of memory");
		memcpy(body, text, body_len + 1);
	}
	/* An empty or blank message is a slip (an empty pipe, a missing
	 * argument), not something to put on every recipient's screen. */
	if (blank(body, body_len)) {
		rc = cli_fail("nothing to send: the message is empty");
		goto out;
	}
	if ((rc = cli_open(home, &c)) != CLI_EXIT_OK)
		goto out;
	r = sotto_send(c, (const char *const *)&argv[first], (size_t)(argc - first - 1), body,
	    body_len, id);
	if (r != SOTTO_OK) {
		rc = cli_fail_err(c, r);
		goto out;
	}
	printf("sent %s\n", id);
	cli_warnings(c);
	rc = CLI_EXIT_OK;
out:
	sotto_close(c);
	if (body != NULL)
		explicit_bzero(body, body_len);
	free(body);
	return rc;
}
