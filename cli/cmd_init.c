/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

/* Make the parents of the default home (e.g. ~/.local/share), 0700 if new. */
static void
make_parents(const char *home)
{
	char *p, *s;

	if ((p = strdup(home)) == NULL)
		return;
	for (s = p + 1; (s = strchr(s, '/')) != NULL; s++) {
		*s = '\0';
		if (mkdir(p, 0700) == -1 && errno != EEXIST)
			break;
		*s = '/';
	}
	free(p);
}

int
cmd_init(const char *home, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "invite", required_argument, NULL, 'i' },
		{ "server", required_argument, NULL, 's' },
		{ "pin", required_argument, NULL, 'p' },
		{ "handle", required_argument, NULL, 'H' },
		{ "device-name", required_argument, NULL, 'n' },
		{ "no-passphrase", no_argument, NULL, 'N' },
		{ NULL, 0, NULL, 0 },
	};
	sotto_init_options o;
	char recovery[SOTTO_RECOVERY_CODE_LEN + 1], id[SOTTO_ID_HEX_LEN + 1];
	char *pass = NULL;
	int ch, no_pass = 0, r, rc;

	memset(&o, 0, sizeof(o));
	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'i': o.invite = optarg; break;
		case 's': o.server = optarg; break;
		case 'p': o.pin = optarg; break;
		case 'H': o.handle = optarg; break;
		case 'n': o.device_name = optarg; break;
		case 'N': no_pass = 1; break;
		default: return cli_usage("init");
		}
	}
	if (optind != argc || o.handle == NULL)
		return cli_usage("init");
	if (o.invite != NULL ? (o.server != NULL || o.pin != NULL) : (o.server == NULL || o.pin == NULL))
		return cli_usage("init");
	if ((rc = cli_check_new_device(o.handle, o.device_name)) != CLI_EXIT_OK)
		return rc;
	if (!no_pass && (rc = cli_passphrase(&pass, 1)) != CLI_EXIT_OK)
		return rc;
	o.passphrase = pass;
	make_parents(home);
	r = sotto_init(home, &o, recovery, id);
	cli_free_secret(pass);
	/* The invite's secret is in argv: gone from memory once spent. */
	if (o.invite != NULL)
		explicit_bzero((char *)o.invite, strlen(o.invite));
	if (r != SOTTO_OK) {
		if (r == SOTTO_ERR_INVITE && o.invite != NULL)
			return cli_fail("invite code is invalid, already used, or not for handle %s",
			    o.handle);
		if (r == SOTTO_ERR_INVITE)
			return cli_fail("the server at %s registers only with an invite code: ask its "
			    "operator for one (sottod invite)", o.server);
		if (r == SOTTO_ERR_EXISTS)
			return cli_fail("%s already holds a device", home);
		if ((r == SOTTO_ERR_NETWORK || r == SOTTO_ERR_TIMEOUT) && o.server != NULL)
			return cli_fail("%s: could not reach %s", sotto_strerror(r), o.server);
		if (r == SOTTO_ERR_HANDLE_TAKEN)
			return cli_fail("handle is already registered: %s", o.handle);
		return cli_fail_err(NULL, r);
	}
	printf("handle: %s\n", o.handle);
	printf("device id: %s\n", id);
	printf("recovery code: %s\n", recovery);
	printf("The recovery code is shown once and stored nowhere: write it down and keep it safe.\n");
	explicit_bzero(recovery, sizeof(recovery));
	fflush(stdout);
	return CLI_EXIT_OK;
}
