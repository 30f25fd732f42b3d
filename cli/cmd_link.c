/* SPDX-License-Identifier: ISC */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* The code goes out alone on the first line, at once: a script reads it
 * while this process keeps waiting. The fingerprint is what the approving
 * device will show: the user compares the two screens. */
static void
show_code(const char *code, const sotto_link_offer *self, void *arg)
{
	/* Kept for the message if this device gives up after being approved. */
	snprintf((char *)arg, SOTTO_ID_HEX_LEN + 1, "%s", self->id);
	printf("%s\n", code);
	fflush(stdout);
	fprintf(stderr, "On a device of %s run: sotto approve %s\n", self->handle, code);
	fprintf(stderr, "It will show this device as \"");
	cli_text(stderr, self->name, strlen(self->name));
	fprintf(stderr, "\", fingerprint %s: check that it does.\n", self->fingerprint);
	fprintf(stderr, "Waiting for approval (stopping here withdraws the request)...\n");
}

int
cmd_link(const char *home, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "server", required_argument, NULL, 's' },
		{ "pin", required_argument, NULL, 'p' },
		{ "handle", required_argument, NULL, 'H' },
		{ "device-name", required_argument, NULL, 'n' },
		{ "timeout", required_argument, NULL, 't' },
		{ "no-passphrase", no_argument, NULL, 'N' },
		{ NULL, 0, NULL, 0 },
	};
	sotto_link_options o;
	char id[SOTTO_ID_HEX_LEN + 1], self_id[SOTTO_ID_HEX_LEN + 1] = "", *pass = NULL;
	long timeout = 600;
	int ch, no_pass = 0, r;

	memset(&o, 0, sizeof(o));
	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 's': o.server = optarg; break;
		case 'p': o.pin = optarg; break;
		case 'H': o.handle = optarg; break;
		case 'n': o.device_name = optarg; break;
		case 'N': no_pass = 1; break;
		case 't':
			if (cli_parse_int(optarg, 1, 24 * 3600, &timeout) != 0)
				return cli_usage("link");
			break;
		default: return cli_usage("link");
		}
	}
	if (optind != argc || o.server == NULL || o.pin == NULL || o.handle == NULL)
		return cli_usage("link");
	if ((r = cli_check_new_device(o.handle, o.device_name)) != CLI_EXIT_OK)
		return r;
	if (!no_pass && cli_passphrase(&pass, 1) != CLI_EXIT_OK)
		return CLI_EXIT_FAIL;
	o.passphrase = pass;
	o.timeout_seconds = (int)timeout;
	r = sotto_link(home, &o, show_code, self_id, id);
	cli_free_secret(pass);
	switch (r) {
	case SOTTO_OK:
		printf("linked: %s\n", o.handle);
		printf("device id: %s\n", id);
		return CLI_EXIT_OK;
	case SOTTO_ERR_EXISTS:
		return cli_fail("%s already holds a device", home);
	case SOTTO_ERR_TIMEOUT:
		return cli_fail("not approved within %ld s, or approved but the device list never "
		    "appeared: nothing was linked here (if the other device lists %s, remove it there "
		    "with `sotto remove-device %s`)", timeout, self_id, self_id);
	case SOTTO_ERR_BAD_SIGNATURE:
		return cli_fail("the approval failed its check against the link code: someone "
		    "tampered with it; nothing was linked");
	case SOTTO_ERR_CHAIN:
		return cli_fail("the device lists the server shows do not match the approval: "
		    "nothing was linked");
	default:
		return cli_fail_err(NULL, r);
	}
}

static int
ask(const sotto_link_offer *o, void *arg)
{
	int yes = *(int *)arg, r;

	printf("device \"");
	cli_text(stdout, o->name, strlen(o->name));
	printf("\" asks to join %s\n  id:          %s\n  fingerprint: %s\n", o->handle, o->id,
	    o->fingerprint);
	fflush(stdout);
	if (yes)
		return 1;
	if ((r = cli_confirm("Compare the name and fingerprint with the new device's screen. "
	    "Approve it?")) < 0) {
		*(int *)arg = -1;
		return 0;
	}
	return r;
}

int
cmd_approve(const char *home, int argc, char **argv)
{
	sotto_client *c = NULL;
	const char *code = NULL;
	char id[SOTTO_ID_HEX_LEN + 1];
	int yes = 0, r, rc, i, dashdash = 0;

	/* Parsed by hand, not getopt: a link code is base64url and one in 64 starts
	 * with '-', which getopt would take for an option. */
	for (i = 1; i < argc; i++) {
		if (!dashdash && strcmp(argv[i], "--yes") == 0)
			yes = 1;
		else if (!dashdash && strcmp(argv[i], "--") == 0)
			dashdash = 1;
		else if (code == NULL && (dashdash || argv[i][0] != '-' ||
		    strlen(argv[i]) == SOTTO_LINK_CODE_LEN))
			code = argv[i];
		else
			return cli_usage("approve");
	}
	if (code == NULL)
		return cli_usage("approve");
	/* Refused before anything is shown or fetched, not after. */
	if (!yes && !cli_has_terminal())
		return cli_fail("no terminal to confirm on: use --yes");
	if ((rc = cli_open(home, &c)) != CLI_EXIT_OK)
		return rc;
	r = sotto_approve(c, code, ask, &yes, id);
	if (r == SOTTO_OK) {
		printf("approved %s\n", id);
		rc = CLI_EXIT_OK;
	} else if (r == SOTTO_ERR_UNTRUSTED)
		rc = cli_fail(yes < 0 ? "no terminal to confirm on: use --yes" : "not approved");
	else
		rc = cli_fail_err(c, r);
	sotto_close(c);
	return rc;
}

int
cmd_remove_device(const char *home, int argc, char **argv)
{
	sotto_client *c = NULL;
	int r, rc;

	if (argc != 2 || argv[1][0] == '-')
		return cli_usage("remove-device");
	if ((rc = cli_open(home, &c)) != CLI_EXIT_OK)
		return rc;
	if ((r = sotto_remove_device(c, argv[1])) != SOTTO_OK)
		rc = cli_fail_err(c, r);
	else
		printf("removed %s\n", argv[1]);
	sotto_close(c);
	return rc;
}

int
cmd_recover(const char *home, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "server", required_argument, NULL, 's' },
		{ "pin", required_argument, NULL, 'p' },
		{ "handle", required_argument, NULL, 'H' },
		{ "code", required_argument, NULL, 'c' },
		{ "device-name", required_argument, NULL, 'n' },
		{ "no-passphrase", no_argument, NULL, 'N' },
		{ NULL, 0, NULL, 0 },
	};
	sotto_recover_options o;
	char id[SOTTO_ID_HEX_LEN + 1], *pass = NULL;
	int ch, no_pass = 0, r;

	memset(&o, 0, sizeof(o));
	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 's': o.server = optarg; break;
		case 'p': o.pin = optarg; break;
		case 'H': o.handle = optarg; break;
		case 'c': o.code = optarg; break;
		case 'n': o.device_name = optarg; break;
		case 'N': no_pass = 1; break;
		default: return cli_usage("recover");
		}
	}
	if (optind != argc || o.server == NULL || o.pin == NULL || o.handle == NULL || o.code == NULL)
		return cli_usage("recover");
	if ((r = cli_check_new_device(o.handle, o.device_name)) != CLI_EXIT_OK)
		return r;
	if (!no_pass && cli_passphrase(&pass, 1) != CLI_EXIT_OK)
		return CLI_EXIT_FAIL;
	o.passphrase = pass;
	r = sotto_recover(home, &o, id);
	cli_free_secret(pass);
	/* The recovery code (the account key's seed) is in argv: wipe it. */
	explicit_bzero((char *)o.code, strlen(o.code));
	switch (r) {
	case SOTTO_OK:
		printf("recovered: %s\n", o.handle);
		printf("device id: %s\n", id);
		printf("Every other device of %s was removed; contacts will see the change.\n", o.handle);
		return CLI_EXIT_OK;
	case SOTTO_ERR_EXISTS:
		return cli_fail("%s already holds a device", home);
	case SOTTO_ERR_FORMAT:
		return cli_fail("that is not a recovery code");
	case SOTTO_ERR_BAD_SIGNATURE:
		return cli_fail("the recovery code is not the one of %s", o.handle);
	case SOTTO_ERR_CHAIN:
		return cli_fail("the device lists of %s the server shows do not verify: not recovered",
		    o.handle);
	default:
		return cli_fail_err(NULL, r);
	}
}
