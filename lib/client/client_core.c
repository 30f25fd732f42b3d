/* SPDX-License-Identifier: ISC */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "client.h"
#include "keyfile.h"

_Static_assert(SOTTO_HANDLE_MAX == SOTTO_MAX_HANDLE, "public and internal caps agree");
_Static_assert(SOTTO_DEVICE_NAME_MAX == SOTTO_MAX_DEVICE_NAME, "public and internal caps agree");
_Static_assert(SOTTO_RECIPIENTS_MAX == SOTTO_MAX_RECIPIENTS, "public and internal caps agree");
_Static_assert(SOTTO_BODY_MAX == SOTTO_MAX_BODY, "public and internal caps agree");
_Static_assert(SOTTO_FINGERPRINT_LEN == DL_FINGERPRINT_LEN, "public and internal caps agree");
_Static_assert(SOTTO_SAFETY_NUMBER_LEN == SAFETY_NUMBER_LEN, "public and internal caps agree");

int
client_err_transient(int err)
{
	return err == SOTTO_ERR_NETWORK || err == SOTTO_ERR_TIMEOUT || err == SOTTO_ERR_TLS ||
	    err == SOTTO_ERR_RATE_LIMITED || err == SOTTO_ERR_SERVER;
}

uint64_t
client_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void
client_set_detail(sotto_client *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->detail, sizeof(c->detail), fmt, ap);
	va_end(ap);
}

const char *
sotto_error_detail(const sotto_client *c)
{
	return c != NULL ? c->detail : "";
}

const char *
sotto_handle(const sotto_client *c)
{
	return c->cfg.handle;
}

const char *
sotto_device_id(const sotto_client *c)
{
	return c->device_hex;
}

static char *
join(const char *dir, const char *name)
{
	char *p;

	if (asprintf(&p, "%s/%s", dir, name) == -1)
		return NULL;
	return p;
}

int
sotto_home_needs_passphrase(const char *home)
{
	char *path;
	int r;

	if (home == NULL)
		return SOTTO_ERR_INVALID_ARG;
	if ((path = join(home, CLIENT_KEY_NAME)) == NULL)
		return SOTTO_ERR_NOMEM;
	r = keyfile_is_protected(path);
	free(path);
	if (r == SOTTO_ERR_IO)
		r = SOTTO_ERR_NOT_FOUND;
	return r;
}

/* The key file must be this device's: its public half names the device id. */
static int
keys_match(const sotto_client *c, size_t n)
{
	uint8_t pub[SC_SIGN_PUB], id[SC_DEVICE_ID];

	if (n != CLIENT_KEYS_LEN && n != CLIENT_SECRETS_LEN)
		return 0;
	memcpy(pub, CLIENT_SIGN_SEC(c) + SC_SIGN_SEED, SC_SIGN_PUB);
	sc_device_id(id, pub);
	return sc_memeq(id, c->cfg.device_id, SC_DEVICE_ID);
}

/*
 * Unlock the history; in a home made before it was encrypted, first give the
 * key file a history key and seal the stored rows, in one transaction. Under
 * the store's write lock, and with the key file read again under it, so two
 * processes opening the same old home cannot each make a history key. A
 * crash after the new key file and before the commit leaves a key file with
 * the history key and rows in the clear: the next open seals them under it.
 */
static int
open_history(sotto_client *c, const char *key, const char *passphrase, size_t n)
{
	size_t skipped = 0;
	int r, prot, migrated = 0;

	if (n == CLIENT_SECRETS_LEN && cstore_version(c->st) == CSTORE_VERSION)
		return cstore_unlock(c->st, CLIENT_HISTORY_KEY(c));
	if ((r = cstore_begin(c->st)) != SOTTO_OK)
		return r;
	if ((r = keyfile_read(key, c->keys, CLIENT_SECRETS_LEN, &n, passphrase)) != SOTTO_OK)
		goto out;
	r = SOTTO_ERR_FORMAT;
	if (!keys_match(c, n))
		goto out;
	if (n == CLIENT_KEYS_LEN) {
		sc_random(CLIENT_HISTORY_KEY(c), CSTORE_HISTORY_KEY);
		/* Protected stays protected, under the same passphrase; unprotected stays so. */
		if ((r = prot = keyfile_is_protected(key)) < 0 ||
		    (r = keyfile_replace(key, c->keys, CLIENT_SECRETS_LEN, prot ? passphrase : NULL,
		    0, 0)) != SOTTO_OK)
			goto out;
	}
	if ((r = cstore_unlock(c->st, CLIENT_HISTORY_KEY(c))) != SOTTO_OK ||
	    (r = cstore_migrate(c->st, &migrated, &skipped)) != SOTTO_OK ||
	    (r = cstore_commit(c->st)) != SOTTO_OK)
		goto out;
	/* Best effort: the freed pages were already zeroed (secure_delete). */
	if (migrated && cstore_scrub(c->st) != SOTTO_OK)
		client_set_detail(c, "the history was encrypted, but the database file could not be "
		    "compacted");
	if (skipped > 0)
		client_set_detail(c, "%zu stored rows were unreadable before the history was encrypted "
		    "and were left out", skipped);
	return SOTTO_OK;
out:
	cstore_rollback(c->st);
	return r;
}

int
sotto_open(sotto_client **out, const char *home, const char *passphrase)
{
	sotto_client *c = NULL;
	char *db = NULL, *key = NULL;
	size_t n = 0;
	int r;

	*out = NULL;
	if (home == NULL)
		return SOTTO_ERR_INVALID_ARG;
	if ((r = sc_init()) != SOTTO_OK)
		return r;
	r = SOTTO_ERR_NOMEM;
	if ((c = calloc(1, sizeof(*c))) == NULL || (c->home = strdup(home)) == NULL ||
	    (db = join(home, CLIENT_DB_NAME)) == NULL || (key = join(home, CLIENT_KEY_NAME)) == NULL ||
	    (c->keys = sc_secure_alloc(CLIENT_SECRETS_LEN)) == NULL)
		goto out;
	if ((r = cstore_open(&c->st, db, 0)) != SOTTO_OK ||
	    (r = cstore_config_get(c->st, &c->cfg)) != SOTTO_OK)
		goto out;
	if ((r = keyfile_read(key, c->keys, CLIENT_SECRETS_LEN, &n, passphrase)) != SOTTO_OK)
		goto out;
	r = SOTTO_ERR_FORMAT;
	if (!keys_match(c, n))
		goto out;
	if ((r = open_history(c, key, passphrase, n)) != SOTTO_OK)
		goto out;
	sc_hex(c->device_hex, c->cfg.device_id, SC_DEVICE_ID);
	*out = c;
	c = NULL;
	r = SOTTO_OK;
out:
	free(db);
	free(key);
	sotto_close(c);
	return r;
}

void
sotto_close(sotto_client *c)
{
	if (c == NULL)
		return;
	conn_close(c->cn);
	cstore_close(c->st);
	sc_secure_free(c->keys);
	free(c->home);
	free(c);
}

void
client_disconnect(sotto_client *c)
{
	conn_close(c->cn);
	c->cn = NULL;
}

int
client_connect(sotto_client *c)
{
	Sotto__Wire__Frame f = SOTTO__WIRE__FRAME__INIT;
	Sotto__Wire__AuthRequest a = SOTTO__WIRE__AUTH_REQUEST__INIT;
	wire_frame *resp = NULL;
	uint8_t msg[WIRE_AUTH_MSG_MAX], sig[SC_SIG];
	size_t mlen;
	conn *cn = NULL;
	int r;

	if (c->cn != NULL)
		return SOTTO_OK;
	/* Inside a receive, its deadline holds for the new connection too. */
	if ((r = conn_open_until(&cn, c->cfg.address, c->cfg.pin, c->deadline)) != SOTTO_OK) {
		client_directory_failed(c, r);
		goto out;
	}
	mlen = wire_auth_message(msg, c->cfg.pin, conn_nonce(cn), c->cfg.handle);
	sc_sign(sig, msg, mlen, CLIENT_SIGN_SEC(c));
	a.handle = c->cfg.handle;
	a.device_id.data = c->cfg.device_id;
	a.device_id.len = SC_DEVICE_ID;
	a.signature.data = sig;
	a.signature.len = SC_SIG;
	f.msg_case = SOTTO__WIRE__FRAME__MSG_AUTH;
	f.auth = &a;
	if ((r = conn_request(cn, &f, &resp)) != SOTTO_OK) {
		/* A server that refuses this device hides its account's list too. */
		client_directory_failed(c, r);
		goto out;
	}
	c->cn = cn;
	cn = NULL;
out:
	wire_free(resp);
	conn_close(cn);
	return r;
}
