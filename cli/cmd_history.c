/* SPDX-License-Identifier: ISC */
#include <getopt.h>
#include <string.h>

#include "cli.h"

/* Received and sent, as stored on this device; same formats as `receive`. */
void
cli_print_message(const sotto_message *m, int json)
{
	char t[32];

	cli_iso8601(t, sizeof(t), m->sent_at);
	if (!json) {
		printf("%s %s -> ", t, m->from);
		for (size_t i = 0; i < m->n_to; i++)
			printf("%s%s", i ? "," : "", m->to[i]);
		fputs(": ", stdout);
		cli_text(stdout, (const char *)m->body, m->body_len);
		putchar('\n');
		return;
	}
	printf("{\"id\":\"%s\",\"from\":", m->id);
	cli_json_str(stdout, m->from, strlen(m->from));
	printf(",\"device\":\"%s\",\"to\":[", m->device);
	for (size_t i = 0; i < m->n_to; i++) {
		if (i > 0)
			putchar(',');
		cli_json_str(stdout, m->to[i], strlen(m->to[i]));
	}
	printf("],\"sent_at\":\"%s\",\"sent_at_ms\":%llu,\"body\":", t,
	    (unsigned long long)m->sent_at);
	cli_json_str(stdout, (const char *)m->body, m->body_len);
	printf(",\"outgoing\":%s}\n", m->outgoing ? "true" : "false");
}

static int
print_one(const sotto_message *m, void *arg)
{
	cli_print_message(m, *(const int *)arg);
	return ferror(stdout) ? -1 : 0;
}

int
cmd_history(const char *home, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	sotto_client *c = NULL;
	const char *handle = NULL;
	int ch, json = 0, r, rc;

	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'j': json = 1; break;
		default: return cli_usage("history");
		}
	}
	if (argc - optind > 1)
		return cli_usage("history");
	if (optind < argc)
		handle = argv[optind];
	if ((rc = cli_open(home, &c)) != CLI_EXIT_OK)
		return rc;
	r = sotto_history(c, handle, print_one, &json);
	cli_warnings(c);
	if (r == SOTTO_OK && (fflush(stdout) != 0 || ferror(stdout)))
		rc = cli_fail("cannot write to standard output");
	else
		rc = r == SOTTO_OK ? CLI_EXIT_OK : cli_fail_err(c, r);
	sotto_close(c);
	return rc;
}
