/* SPDX-License-Identifier: ISC */
#include <getopt.h>
#include <string.h>

#include "cli.h"

/* A message counts as shown only once it is out of our buffer: on failure the
 * library keeps it unshown, and the next receive shows it again. */
static int
shown(void *arg)
{
	int *failed = arg;

	if (fflush(stdout) != 0 || ferror(stdout)) {
		*failed = 1;
		return -1;
	}
	return 0;
}

static int
print_json(const sotto_message *m, void *arg)
{
	cli_print_message(m, 1);
	return shown(arg);
}

static int
print_human(const sotto_message *m, void *arg)
{
	cli_print_message(m, 0);
	return shown(arg);
}

int
cmd_receive(const char *home, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "wait", required_argument, NULL, 'w' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	sotto_client *c = NULL;
	long wait = 0;
	int ch, json = 0, r, rc, failed = 0;

	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'w':
			if (cli_parse_int(optarg, 0, 24 * 3600, &wait) != 0)
				return cli_usage("receive");
			break;
		case 'j': json = 1; break;
		default: return cli_usage("receive");
		}
	}
	if (optind != argc)
		return cli_usage("receive");
	if ((rc = cli_open(home, &c)) != CLI_EXIT_OK)
		return rc;
	r = sotto_receive(c, (int)wait, json ? print_json : print_human, &failed, NULL);
	if (r == SOTTO_OK && failed)
		rc = cli_fail("cannot write to standard output; the messages stay unshown");
	else
		rc = r == SOTTO_OK ? CLI_EXIT_OK : cli_fail_err(c, r);
	if (rc == CLI_EXIT_OK)
		cli_warnings(c);
	sotto_close(c);
	return rc;
}
