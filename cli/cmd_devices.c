/* SPDX-License-Identifier: ISC */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

void
cli_print_devices(const sotto_client *c, const sotto_device *d, size_t n, int json, const char *identity,
    int verified, const char *indent)
{
	char t[32];

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
			if (identity != NULL)
				printf(",\"identity\":\"%s\"", identity);
			if (verified >= 0)
				printf(",\"verified\":%s", verified == 1 ? "true" : "false");
			if (verified == 2)
				printf(",\"verified_lost\":true");
			printf("}\n");
		} else {
			printf("%s%s  ", indent != NULL ? indent : "", d[i].id);
			cli_text(stdout, d[i].name, strlen(d[i].name));
			printf("  %s  added %s  approved by %s%s\n", d[i].fingerprint, t,
			    d[i].approved_by[0] != '\0' ? d[i].approved_by : "the account key",
			    strcmp(d[i].id, sotto_device_id(c)) == 0 ? "  (this device)" : "");
		}
	}
}

/*
 * An identity reset refuses sends to handle, but the user must still be able
 * to look: what was trusted (and whether its safety number was verified) next
 * to what the server shows now, nothing stored.
 */
int
cli_show_reset(sotto_client *c, const char *handle, int json, const char *what)
{
	sotto_identity old, now;
	size_t held = 0;
	int r, reset = 0, number = strcmp(what, "safety-number") == 0;

	memset(&old, 0, sizeof(old));
	memset(&now, 0, sizeof(now));
	if ((r = sotto_identity_compare(c, handle, &old, &now, &reset, &held)) != SOTTO_OK)
		return cli_fail_err(c, r);
	if (!now.present && !json)
		printf("the identity of %s was reset, and %s: nothing can be trusted now\n", handle,
		    sotto_error_detail(c));
	if (json && number) {
		printf("{\"handle\":");
		cli_json_str(stdout, handle, strlen(handle));
		printf(",\"reset\":true,\"old\":{\"safety_number\":\"%s\",\"verified\":%s,\"version\":%llu,"
		    "\"list_hash\":\"%s\"},\"new\":", old.safety_number, old.verified ? "true" : "false",
		    (unsigned long long)old.version, old.list_hash);
		if (now.present)
			printf("{\"safety_number\":\"%s\",\"verified\":false,\"version\":%llu,\"list_hash\":\"%s\"}",
			    now.safety_number, (unsigned long long)now.version, now.list_hash);
		else {
			printf("null,\"new_error\":");
			cli_json_str(stdout, sotto_error_detail(c), strlen(sotto_error_detail(c)));
		}
		printf(",\"held\":%zu}\n", held);
	} else if (json) {
		cli_print_devices(c, old.devices, old.n_devices, 1, "old", old.verified, NULL);
		cli_print_devices(c, now.devices, now.n_devices, 1, "new", 0, NULL);
	} else {
		printf("the identity of %s was reset: messages to %s are refused until `sotto trust %s`\n",
		    handle, handle, handle);
		if (number) {
			printf("old: %s  (%s)\n", old.safety_number, old.verified ? "verified" : "not verified");
			if (now.present)
				printf("new: %s  (not verified)\n", now.safety_number);
		} else {
			printf("old identity, list version %llu, safety number %s:\n",
			    (unsigned long long)old.version, old.verified ? "verified" : "not verified");
			cli_print_devices(c, old.devices, old.n_devices, 0, NULL, -1, "  ");
			if (now.present) {
				printf("new identity, list version %llu, safety number not verified:\n",
				    (unsigned long long)now.version);
				cli_print_devices(c, now.devices, now.n_devices, 0, NULL, -1, "  ");
			}
		}
		if (old.verified && now.present)
			printf("the verified mark belongs to the old identity: it is lost if you trust the new one\n");
		if (held > 0)
			printf("%zu message%s that arrived during the reset %s held until `sotto trust %s`\n",
			    held, held == 1 ? "" : "s", held == 1 ? "is" : "are", handle);
	}
	sotto_identity_clear(&old);
	sotto_identity_clear(&now);
	return CLI_EXIT_OK;
}

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
	size_t n = 0;
	int ch, json = 0, r, rc, verified = -1, lost = 0;

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
		/* My own account's list can break too (account_changed_unsigned). */
		rc = r == SOTTO_ERR_IDENTITY_RESET ? cli_show_reset(c, handle != NULL ? handle : sotto_handle(c),
		    json, "devices") : cli_fail_err(c, r);
		goto out;
	}
	/* A contact's safety number is verified or not; my own account has none. */
	if (handle != NULL && strcmp(handle, sotto_handle(c)) != 0 &&
	    (verified = sotto_contact_verified(c, handle)) < 0) {
		rc = cli_fail_err(c, verified);
		goto out;
	}
	if (verified == 0 && (lost = sotto_contact_verified_lost(c, handle)) < 0) {
		rc = cli_fail_err(c, lost);
		goto out;
	}
	cli_print_devices(c, d, n, json, NULL, lost == 1 ? 2 : verified, NULL);
	if (!json && verified == 1)
		printf("safety number verified\n");
	else if (!json && verified == 0)
		printf("safety number not verified%s: compare `sotto safety-number %s` with %s in person, "
		    "then run `sotto verify %s NUMBER`\n", lost == 1 ? " (the one verified before was lost "
		    "when `sotto trust` accepted a new identity)" : "", handle, handle, handle);
	rc = CLI_EXIT_OK;
out:
	free(d);
	sotto_close(c);
	return rc;
}
