/* SPDX-License-Identifier: ISC */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int
cmd_devices(const char *home, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	sotto_client *c = NULL;
	sotto_device *d = NULL;
	const char *handle = NULL;
	char t[32];
	size_t n = 0;
	int ch, json = 0, r, rc, verified = -1;

	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (ch != 'j')
			return cli_usage("devices");
		json = 1;
	}
	if (argc - optind > 1)
		return cli_usage("devices");
	if (optind < argc)
		handle = argv[optind];
	if ((rc = cli_open(home, &c)) != CLI_EXIT_OK)
		return rc;
	if ((r = sotto_devices(c, handle, &d, &n)) != SOTTO_OK) {
		rc = cli_fail_err(c, r);
		goto out;
	}
	/* A contact's safety number is verified or not; my own account has none. */
	if (handle != NULL && strcmp(handle, sotto_handle(c)) != 0 &&
	    (verified = sotto_contact_verified(c, handle)) < 0) {
		rc = cli_fail_err(c, verified);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		cli_iso8601(t, sizeof(t), d[i].added_at);
		if (json) {
			printf("{\"id\":\"%s\",\"name\":", d[i].id);
			cli_json_str(stdout, d[i].name, strlen(d[i].name));
			printf(",\"fingerprint\":\"%s\",\"added\":\"%s\",\"approved_by\":", d[i].fingerprint, t);
			if (d[i].approved_by[0] != '\0')
				printf("\"%s\"", d[i].approved_by);
			else
				printf("\"account\"");
			printf(",\"this_device\":%s", strcmp(d[i].id, sotto_device_id(c)) == 0 ? "true" : "false");
			if (verified >= 0)
				printf(",\"verified\":%s", verified ? "true" : "false");
			printf("}\n");
		} else {
			printf("%s  ", d[i].id);
			cli_text(stdout, d[i].name, strlen(d[i].name));
			printf("  %s  added %s  approved by %s%s\n", d[i].fingerprint, t,
			    d[i].approved_by[0] != '\0' ? d[i].approved_by : "the account key",
			    strcmp(d[i].id, sotto_device_id(c)) == 0 ? "  (this device)" : "");
		}
	}
	if (!json && verified == 1)
		printf("safety number verified\n");
	else if (!json && verified == 0)
		printf("safety number not verified: compare `sotto safety-number %s` with %s in person, "
		    "then run `sotto verify %s NUMBER`\n", handle, handle, handle);
	rc = CLI_EXIT_OK;
out:
	free(d);
	sotto_close(c);
	return rc;
}
