/* SPDX-License-Identifier: ISC */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const cli_cmd commands[] = {
	{ "init", "--invite CODE --handle H [--device-name N] [--no-passphrase]\n"
	    "       sotto init --server HOST:PORT --pin PIN --handle H [--device-name N] [--no-passphrase]",
	    cmd_init },
	{ "send", "H... (TEXT | -)", cmd_send },
	{ "receive", "[--wait SECONDS] [--json]", cmd_receive },
	{ "history", "[H] [--json]", cmd_history },
	{ "devices", "[H] [--json]", cmd_devices },
	{ "alerts", "[--json]", cmd_alerts },
	{ "safety-number", "H [--json]", cmd_safety_number },
	{ "verify", "H NUMBER", cmd_verify },
	{ "trust", "H [--yes] [--list HASH]", cmd_trust },
	{ "link", "--server HOST:PORT --pin PIN --handle H [--device-name N] [--timeout SECONDS]\n"
	    "       [--no-passphrase]", cmd_link },
	{ "approve", "CODE [--yes]", cmd_approve },
	{ "remove-device", "ID", cmd_remove_device },
	{ "recover", "--handle H --code CODE --server HOST:PORT --pin PIN [--device-name N]\n"
	    "       [--no-passphrase]", cmd_recover },
};
#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static void
usage_all(FILE *f)
{
	fprintf(f, "usage: sotto [--home DIR] COMMAND [ARGS]\n");
	for (size_t i = 0; i < N_COMMANDS; i++)
		fprintf(f, "       sotto %s %s\n", commands[i].name, commands[i].usage);
}

/* Errors are one line (DESIGN.md section 7), usage errors too: the usage
 * text's continuation lines are joined into it. */
int
cli_usage(const char *name)
{
	const char *u;

	for (size_t i = 0; i < N_COMMANDS; i++) {
		if (strcmp(commands[i].name, name) != 0)
			continue;
		fprintf(stderr, "sotto: wrong arguments; usage: sotto %s ", commands[i].name);
		for (u = commands[i].usage; *u != '\0'; u++) {
			if (*u != '\n') {
				fputc(*u, stderr);
				continue;
			}
			while (u[1] == ' ')
				u++;
			fputs(strncmp(u + 1, "sotto ", 6) == 0 ? " | " : " ", stderr);
		}
		fputc('\n', stderr);
		return CLI_EXIT_USAGE;
	}
	fprintf(stderr, "sotto: wrong arguments (sotto --help lists the commands)\n");
	return CLI_EXIT_USAGE;
}

/* --home DIR, else SOTTO_HOME, else $XDG_DATA_HOME/sotto, else ~/.local/share/sotto. */
static char *
default_home(void)
{
	const char *e;
	char *p = NULL;

	if ((e = getenv("SOTTO_HOME")) != NULL && *e != '\0')
		return strdup(e);
	if ((e = getenv("XDG_DATA_HOME")) != NULL && *e == '/') {
		if (asprintf(&p, "%s/sotto", e) == -1)
			return NULL;
		return p;
	}
	if ((e = getenv("HOME")) != NULL && *e == '/') {
		if (asprintf(&p, "%s/.local/share/sotto", e) == -1)
			return NULL;
		return p;
	}
	return NULL;
}

int
cli_main(int argc, char **argv)
{
	const char *home_arg = NULL;
	char **args = NULL, *home = NULL;
	int n = 0, i, rc = CLI_EXIT_USAGE, opts_done = 0;

	if ((args = calloc((size_t)argc + 1, sizeof(*args))) == NULL)
		return cli_fail("out of memory");
	/* --home is global: accepted before or after the command, until "--". */
	for (i = 1; i < argc; i++) {
		if (!opts_done && strcmp(argv[i], "--") == 0)
			opts_done = 1;
		if (!opts_done && strcmp(argv[i], "--home") == 0) {
			if (i + 1 >= argc) {
				fprintf(stderr, "sotto: --home needs a folder\n");
				goto out;
			}
			home_arg = argv[++i];
			continue;
		}
		if (!opts_done && strncmp(argv[i], "--home=", 7) == 0) {
			home_arg = argv[i] + 7;
			continue;
		}
		args[n++] = argv[i];
	}
	if (n == 0) {
		fprintf(stderr, "sotto: no command given (sotto --help lists them)\n");
		goto out;
	}
	if (strcmp(args[0], "help") == 0 || strcmp(args[0], "--help") == 0 ||
	    strcmp(args[0], "-h") == 0) {
		usage_all(stdout);
		rc = CLI_EXIT_OK;
		goto out;
	}
	for (size_t k = 0; k < N_COMMANDS; k++) {
		if (strcmp(commands[k].name, args[0]) != 0)
			continue;
		if (home_arg != NULL && *home_arg == '\0') {
			rc = cli_fail("--home needs a folder");
			goto out;
		}
		home = home_arg != NULL ? strdup(home_arg) : default_home();
		if (home == NULL) {
			rc = cli_fail("no home folder: use --home DIR or set SOTTO_HOME");
			goto out;
		}
		rc = commands[k].run(home, n, args);
		goto out;
	}
	fprintf(stderr, "sotto: unknown command: %s (sotto --help lists them)\n", args[0]);
	rc = CLI_EXIT_USAGE;
out:
	free(home);
	free(args);
	return rc;
}
