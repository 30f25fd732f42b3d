/* SPDX-License-Identifier: ISC */
#include <getopt.h>
#include <string.h>

#include "cli.h"

int
cmd_alerts(const char *home, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	sotto_client *c = NULL;
	sotto_alert *a = NULL;
	char t[32];
	size_t n = 0;
	int ch, json = 0, r, rc;

	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (ch != 'j')
			return cli_usage("alerts");
		json = 1;
	}
	if (optind != argc)
		return cli_usage("alerts");
	if ((rc = cli_open(home, &c)) != CLI_EXIT_OK)
		return rc;
	if ((r = sotto_alerts(c, &a, &n)) != SOTTO_OK) {
		rc = cli_fail_err(c, r);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		cli_iso8601(t, sizeof(t), a[i].at);
		if (json) {
			printf("{\"kind\":\"%s\",\"handle\":", a[i].kind);
			cli_json_str(stdout, a[i].handle, strlen(a[i].handle));
			printf(",\"device\":");
			if (a[i].device[0] != '\0')
				printf("\"%s\"", a[i].device);
			else
				printf("null");
			printf(",\"at\":\"%s\",\"text\":", t);
			cli_json_str(stdout, a[i].text, strlen(a[i].text));
			printf(",\"seen\":%s,\"count\":%llu}\n", a[i].seen ? "true" : "false",
			    (unsigned long long)a[i].count);
		} else {
			printf("%s %s %s %s ", t, a[i].kind, a[i].handle[0] ? a[i].handle : "-",
			    a[i].device[0] ? a[i].device : "-");
			cli_text(stdout, a[i].text, strlen(a[i].text));
			putchar('\n');
		}
	}
	rc = CLI_EXIT_OK;
out:
	sotto_alerts_free(a, n);
	sotto_close(c);
	return rc;
}
