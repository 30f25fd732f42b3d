/* SPDX-License-Identifier: ISC */
#include <stdio.h>
#include <string.h>

#include "cli.h"

int
cmd_safety_number(const char *home, int argc, char **argv)
{
	sotto_client *c = NULL;
	char num[SOTTO_SAFETY_NUMBER_LEN + 1];
	const char *handle = NULL;
	int r, rc, json = 0;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			json = 1;
		else if (handle == NULL && argv[i][0] != '-')
			handle = argv[i];
		else
			return cli_usage("safety-number");
	}
	if (handle == NULL)
		return cli_usage("safety-number");
	if ((rc = cli_open(home, &c)) != CLI_EXIT_OK)
		return rc;
	if ((r = sotto_safety_number(c, handle, num)) == SOTTO_ERR_IDENTITY_RESET)
		rc = cli_show_reset(c, handle, json, "safety-number");
	else if (r != SOTTO_OK)
		rc = cli_fail_err(c, r);
	else if (json) {
		printf("{\"handle\":");
		cli_json_str(stdout, handle, strlen(handle));
		printf(",\"reset\":false,\"safety_number\":\"%s\",\"verified\":%s}\n", num,
		    sotto_contact_verified(c, handle) == 1 ? "true" : "false");
	} else
		printf("%s\n", num);
	sotto_close(c);
	return rc;
}

int
cmd_verify(const char *home, int argc, char **argv)
{
	sotto_client *c = NULL;
	int r, rc;

	if (argc < 3 || argv[1][0] == '-')
		return cli_usage("verify");
	if ((rc = cli_open(home, &c)) != CLI_EXIT_OK)
		return rc;
	/* The number may be given as one argument or as its groups. */
	{
		char num[256];
		size_t used = 0;

		num[0] = '\0';
		for (int i = 2; i < argc; i++) {
			int k = snprintf(num + used, sizeof(num) - used, "%s%s", i > 2 ? " " : "", argv[i]);

			if (k < 0 || (size_t)k >= sizeof(num) - used) {
				rc = cli_fail("safety number too long");
				goto out;
			}
			used += (size_t)k;
		}
		r = sotto_verify(c, argv[1], num);
	}
	if (r == SOTTO_ERR_BAD_SIGNATURE || r == SOTTO_ERR_FORMAT)
		rc = cli_fail("safety number does not match for %s", argv[1]);
	else if (r != SOTTO_OK)
		rc = cli_fail_err(c, r);
	else
		printf("verified %s\n", argv[1]);
out:
	sotto_close(c);
	return rc;
}

/* What trust would replace, and by what, for a person to judge. */
static void
show_identity(const sotto_client *c, const char *label, const sotto_identity *id)
{
	if (!id->present) {
		printf("%s: nothing (never seen on this device)\n", label);
		return;
	}
	printf("%s: list version %llu, %zu device%s", label, (unsigned long long)id->version, id->n_devices,
	    id->n_devices == 1 ? "" : "s");
	if (id->safety_number[0] != '\0')
		printf(", safety number %s (%s)", id->safety_number, id->verified ? "verified" : "not verified");
	printf("\n");
	cli_print_devices(c, id->devices, id->n_devices, 0, NULL, -1, "  ");
}

int
cmd_trust(const char *home, int argc, char **argv)
{
	sotto_client *c = NULL;
	sotto_identity old, now;
	const char *handle = NULL, *want = NULL;
	char q[256];
	size_t held = 0;
	int r, rc, yes = 0, reset = 0, lost = 0, ok;

	memset(&old, 0, sizeof(old));
	memset(&now, 0, sizeof(now));
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--yes") == 0)
			yes = 1;
		else if (strcmp(argv[i], "--list") == 0 && i + 1 < argc && want == NULL)
			want = argv[++i];
		else if (handle == NULL && argv[i][0] != '-')
			handle = argv[i];
		else
			return cli_usage("trust");
	}
	if (handle == NULL)
		return cli_usage("trust");
	/* Refused before anything is fetched or changed, as approve does. */
	if (!yes && !cli_has_terminal())
		return cli_fail("no terminal to confirm on: use --yes");
	if ((rc = cli_open(home, &c)) != CLI_EXIT_OK)
		return rc;
	if ((r = sotto_identity_compare(c, handle, &old, &now, &reset, &held)) != SOTTO_OK) {
		rc = cli_fail_err(c, r);
		goto out;
	}
	if (!now.present) {
		rc = cli_fail("%s: nothing was trusted", sotto_error_detail(c));
		goto out;
	}
	printf(reset ? "the identity of %s was reset\n" : "%s's identity as the server shows it now "
	    "(no reset waits: trust starts its chain again)\n", handle);
	show_identity(c, "trusted until now", &old);
	show_identity(c, "to be trusted", &now);
	if (old.verified)
		printf("the safety number of %s was verified for the identity trusted until now: trusting "
		    "the new one loses that mark\n", handle);
	if (held > 0)
		printf("%zu message%s that arrived during the reset %s held: trusting opens %s as from %s "
		    "(if %s against the identity trusted)\n", held, held == 1 ? "" : "s",
		    held == 1 ? "is" : "are", held == 1 ? "it" : "them", handle,
		    held == 1 ? "it verifies" : "they verify");
	fflush(stdout);
	if (!yes) {
		snprintf(q, sizeof(q), "Compare the new safety number with %s in person. Trust this identity "
		    "of %s?", handle, handle);
		if ((ok = cli_confirm(q)) != 1) {
			rc = cli_fail(ok < 0 ? "no terminal to confirm on: use --yes" : "not trusted");
			goto out;
		}
	}
	/* --list: a script trusts only the list it checked (safety-number --json
	 * names it), not whatever the server shows by the time it runs. */
	if ((r = sotto_trust_shown(c, handle, want != NULL ? want : now.list_hash, &lost)) ==
	    SOTTO_ERR_IDENTITY_RESET ||
	    r == SOTTO_ERR_CHAIN)
		rc = cli_fail("%s", sotto_error_detail(c));
	else if (r == SOTTO_ERR_INVALID_ARG && want != NULL)
		rc = cli_fail("--list takes the 64 hex digits of a list hash (safety-number --json)");
	else if (r != SOTTO_OK)
		rc = cli_fail_err(c, r);
	else {
		if (now.safety_number[0] == '\0')
			printf("trusted %s\n", handle);
		else
			printf("trusted %s: safety number %s, not verified%s\n", handle, now.safety_number,
			    lost ? " (the verified mark of the identity before is lost)" : "");
		/* Trusted, but something after it (opening held messages) failed. */
		if (*sotto_error_detail(c) != '\0')
			fprintf(stderr, "sotto: warning: %s\n", sotto_error_detail(c));
	}
out:
	sotto_identity_clear(&old);
	sotto_identity_clear(&now);
	sotto_close(c);
	return rc;
}
