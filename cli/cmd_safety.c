/* SPDX-License-Identifier: ISC */
#include <string.h>

#include "cli.h"

int
cmd_safety_number(const char *home, int argc, char **argv)
{
	sotto_client *c = NULL;
	char num[SOTTO_SAFETY_NUMBER_LEN + 1];
	int r, rc;

	if (argc != 2 || argv[1][0] == '-')
		return cli_usage("safety-number");
	if ((rc = cli_open(home, &c)) != CLI_EXIT_OK)
		return rc;
	if ((r = sotto_safety_number(c, argv[1], num)) != SOTTO_OK)
		rc = cli_fail_err(c, r);
	else
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

int
cmd_trust(const char *home, int argc, char **argv)
{
	sotto_client *c = NULL;
	int r, rc;

	if (argc != 2 || argv[1][0] == '-')
		return cli_usage("trust");
	if ((rc = cli_open(home, &c)) != CLI_EXIT_OK)
		return rc;
	if ((r = sotto_trust(c, argv[1])) == SOTTO_ERR_IDENTITY_RESET)
		rc = cli_fail("%s", sotto_error_detail(c));
	else if (r != SOTTO_OK)
		rc = cli_fail_err(c, r);
	else {
		printf("trusted %s\n", argv[1]);
		/* Trusted, but something after it (opening held messages) failed. */
		if (*sotto_error_detail(c) != '\0')
			fprintf(stderr, "sotto: warning: %s\n", sotto_error_detail(c));
	}
	sotto_close(c);
	return rc;
}
