/* SPDX-License-Identifier: ISC */
#include <stdio.h>
#include <string.h>

#include "client.h"

/* Config keys of the directory watch. */
#define KEY_DIR_OK_AT "dir_ok_at"
#define KEY_DIR_ALERTED "dir_alerted"

int
client_alert(sotto_client *c, const char *kind, const char *handle, const uint8_t *device,
    const char *text, const char *warn)
{
	size_t used;
	int r;

	if ((r = cstore_alert_add(c->st, kind, handle, device, client_now_ms(), text)) != SOTTO_OK)
		return r;
	if (warn != NULL) {
		used = strlen(c->warnings);
		/* A line that does not fit is dropped whole: the alert itself is stored. */
		if (strlen(warn) + 2 <= sizeof(c->warnings) - used)
			snprintf(c->warnings + used, sizeof(c->warnings) - used, "%s\n", warn);
	}
	return SOTTO_OK;
}

void
client_warnings_clear(sotto_client *c)
{
	c->warnings[0] = '\0';
}

const char *
sotto_warnings(const sotto_client *c)
{
	return c != NULL ? c->warnings : "";
}

void
sotto_set_directory_alert(sotto_client *c, uint64_t seconds)
{
	c->dir_alert_ms = seconds > 0 ? seconds * 1000 : CLIENT_DIR_ALERT_MS;
}

void
client_directory_ok(sotto_client *c)
{
	/* Best effort: failing to note a success only makes a later alert early. */
	int ignored = cstore_u64_set(c->st, KEY_DIR_OK_AT, client_now_ms());

	if (ignored == SOTTO_OK)
		ignored = cstore_u64_set(c->st, KEY_DIR_ALERTED, 0);
	(void)ignored;
}

/* Failures of this device itself, not of the server: they say nothing about
 * whether the directory answers. */
static int
local_failure(int err)
{
	return err == SOTTO_ERR_INTERNAL || err == SOTTO_ERR_NOMEM || err == SOTTO_ERR_INVALID_ARG ||
	    err == SOTTO_ERR_DB || err == SOTTO_ERR_PASSPHRASE || err == SOTTO_ERR_PERMISSIONS;
}

/*
 * Blocking the directory must not hide an added device forever: after a set
 * time without a verified check of my own list, say so, once per outage (the
 * next good check ends the outage). Every failure the server could cause
 * counts — no answer, but also an answer that refuses this device, says the
 * handle is unknown or does not verify: a hostile server answers too.
 */
void
client_directory_failed(sotto_client *c, int err)
{
	uint64_t ok_at = 0, alerted = 0, now = client_now_ms(), limit;
	char text[640], since[32];

	if (local_failure(err))
		return;
	limit = c->dir_alert_ms > 0 ? c->dir_alert_ms : CLIENT_DIR_ALERT_MS;
	if (cstore_u64_get(c->st, KEY_DIR_OK_AT, &ok_at) != SOTTO_OK) {
		/* A home from before the watch: its clock starts now (best effort). */
		int ignored = cstore_u64_set(c->st, KEY_DIR_OK_AT, now);

		(void)ignored;
		return;
	}
	if (cstore_u64_get(c->st, KEY_DIR_ALERTED, &alerted) == SOTTO_OK && alerted != 0)
		return;
	if (now < ok_at || now - ok_at <= limit)
		return;
	snprintf(since, sizeof(since), "%llu", (unsigned long long)((now - ok_at) / 1000));
	snprintf(text, sizeof(text), "the directory at %s has not answered a device-list check for %s s "
	    "(last: %s): a device added to your account or a contact's could go unnoticed",
	    c->cfg.address, since, sotto_strerror(err));
	if (cstore_begin(c->st) != SOTTO_OK)
		return;
	if (client_alert(c, "directory_unreachable", c->cfg.handle, NULL, text, text) != SOTTO_OK ||
	    cstore_u64_set(c->st, KEY_DIR_ALERTED, now) != SOTTO_OK || cstore_commit(c->st) != SOTTO_OK)
		cstore_rollback(c->st);
}
