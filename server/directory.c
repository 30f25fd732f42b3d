/* SPDX-License-Identifier: ISC */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "server.h"
#include "sotto/error.h"

#define ST(x) SOTTO__WIRE__STATUS__##x

int
dir_current(store *st, const char *handle, dl_list *l, uint8_t **raw, size_t *rawlen)
{
	uint8_t *p = NULL;
	size_t n = 0;
	uint64_t v;
	int rc;

	if (raw != NULL)
		*raw = NULL;
	if (rawlen != NULL)
		*rawlen = 0;
	if ((rc = st->ops->list_current(st, handle, &p, &n, &v)) != SOTTO_OK)
		goto out;
	/* The database is not trusted to hold what we stored: reparse, recheck. */
	if (dl_parse(l, p, n) != SOTTO_OK || l->version != v || strcmp(l->handle, handle) != 0) {
		log_error("db_corrupt", "what=device_list handle=%s", handle);
		rc = SOTTO_ERR_DB;
		goto out;
	}
	if (raw != NULL) {
		*raw = p;
		*rawlen = n;
		p = NULL;
	}
	rc = SOTTO_OK;
out:
	free(p);
	return rc;
}

static int
check_signature(conn *c, const char *handle, const uint8_t sig[SC_SIG], const uint8_t pub[SC_SIGN_PUB])
{
	uint8_t msg[WIRE_AUTH_MSG_MAX];
	size_t n;

	n = wire_auth_message(msg, c->srv->pin, c->nonce, handle);
	return sc_verify(sig, msg, n, pub);
}

/*
 * The nonce is spent by the first attempt: a failed one ends the connection,
 * so a signature can never be tried twice against the same challenge.
 */
static void
auth_failed(conn *c, uint64_t id, Sotto__Wire__Status st, const char *why, const char *handle)
{
	log_info("auth_fail", "conn=%llu handle=%s peer=%s reason=\"%s\"", (unsigned long long)c->serial,
	    handle, c->peer, why);
	session_respond_status(c, id, st, why);
	conn_close_after_flush(c);
}

void
dir_auth(conn *c, uint64_t id, const Sotto__Wire__AuthRequest *rq)
{
	Sotto__Wire__Response r = SOTTO__WIRE__RESPONSE__INIT;
	dl_list *l = NULL;
	const dl_device *d;
	int rc;

	if (c->state != CONN_PREAUTH || c->nonce_used) {
		session_respond_status(c, id, ST(BAD_REQUEST), "already authenticated");
		return;
	}
	c->nonce_used = 1;
	if ((l = malloc(sizeof(*l))) == NULL) {
		auth_failed(c, id, ST(INTERNAL), "out of memory", rq->handle);
		return;
	}
	if ((rc = dir_current(c->srv->st, rq->handle, l, NULL, NULL)) != SOTTO_OK) {
		if (rc == SOTTO_ERR_NOT_FOUND)
			auth_failed(c, id, ST(UNAUTHENTICATED), "unknown handle or device", rq->handle);
		else
			auth_failed(c, id, ST(INTERNAL), "storage error", rq->handle);
		goto out;
	}
	if ((d = dl_find(l, rq->device_id.data)) == NULL) {
		auth_failed(c, id, ST(UNAUTHENTICATED), "unknown handle or device", rq->handle);
		goto out;
	}
	if (check_signature(c, rq->handle, rq->signature.data, d->sig_pub) != SOTTO_OK) {
		auth_failed(c, id, ST(UNAUTHENTICATED), "bad signature", rq->handle);
		goto out;
	}
	session_authenticated(c, rq->handle, d->id);
	r.status = ST(OK);
	r.device_id.data = c->device_id;
	r.device_id.len = SC_DEVICE_ID;
	session_respond(c, id, &r);
out:
	free(l);
}

void
dir_register(conn *c, uint64_t id, const Sotto__Wire__RegisterRequest *rq)
{
	Sotto__Wire__Response r = SOTTO__WIRE__RESPONSE__INIT;
	store *st = c->srv->st;
	uint8_t secret[INVITE_SECRET_LEN + 8], hash[SC_SHA256];
	size_t slen = 0;
	dl_list *l = NULL;
	int rc, in_tx = 0;

	if (c->state != CONN_PREAUTH || c->nonce_used) {
		session_respond_status(c, id, ST(BAD_REQUEST), "already authenticated");
		return;
	}
	c->nonce_used = 1;
	if ((l = malloc(sizeof(*l))) == NULL) {
		auth_failed(c, id, ST(INTERNAL), "out of memory", rq->handle);
		goto out;
	}
	if (dl_parse(l, rq->device_list.data, rq->device_list.len) != SOTTO_OK) {
		auth_failed(c, id, ST(BAD_REQUEST), "device list does not parse", rq->handle);
		goto out;
	}
	if (strcmp(l->handle, rq->handle) != 0 || l->n_devices != 1) {
		auth_failed(c, id, ST(BAD_REQUEST), "device list must name the handle and one device",
		    rq->handle);
		goto out;
	}
	if (l->version != 1 || dl_verify_first(l, rq->device_list.data, rq->device_list.len) != SOTTO_OK) {
		auth_failed(c, id, ST(CHAIN_INVALID), "device list is not a valid first version", rq->handle);
		goto out;
	}
	if (check_signature(c, rq->handle, rq->signature.data, l->devices[0].sig_pub) != SOTTO_OK) {
		auth_failed(c, id, ST(UNAUTHENTICATED), "bad signature", rq->handle);
		goto out;
	}
	if (!c->srv->cfg.registration_open) {
		if (sc_unb64(secret, sizeof(secret), &slen, rq->invite_secret,
		    strlen(rq->invite_secret)) != SOTTO_OK || slen != INVITE_SECRET_LEN) {
			auth_failed(c, id, ST(INVITE_INVALID), "invite invalid, used or expired", rq->handle);
			goto out;
		}
		sc_sha256(hash, secret, INVITE_SECRET_LEN);
	}
	if ((rc = st->ops->begin(st)) != SOTTO_OK) {
		auth_failed(c, id, ST(INTERNAL), "storage error", rq->handle);
		goto out;
	}
	in_tx = 1;
	/* The invite first: who holds no invite learns nothing about the handle. */
	if (!c->srv->cfg.registration_open &&
	    (rc = st->ops->invite_take(st, hash, rq->handle, now_ms(), SOTTOD_INVITE_MAX_AGE_MS)) != SOTTO_OK) {
		if (rc == SOTTO_ERR_INVITE)
			auth_failed(c, id, ST(INVITE_INVALID), "invite invalid, used or expired", rq->handle);
		else
			auth_failed(c, id, ST(INTERNAL), "storage error", rq->handle);
		goto out;
	}
	if ((rc = st->ops->account_add(st, rq->handle, l->account_pub, now_ms())) != SOTTO_OK) {
		if (rc == SOTTO_ERR_HANDLE_TAKEN)
			auth_failed(c, id, ST(HANDLE_TAKEN), "handle already registered", rq->handle);
		else
			auth_failed(c, id, ST(INTERNAL), "storage error", rq->handle);
		goto out;
	}
	if ((rc = st->ops->list_add(st, l, rq->device_list.data, rq->device_list.len)) != SOTTO_OK) {
		auth_failed(c, id, rc == SOTTO_ERR_EXISTS ? ST(HANDLE_TAKEN) : ST(INTERNAL),
		    "could not store the device list", rq->handle);
		goto out;
	}
	in_tx = 0;
	rc = st->ops->commit(st);
	early_dir_changed(c->srv->seqs);	/* committed or not: caches re-read */
	if (rc != SOTTO_OK) {
		auth_failed(c, id, ST(INTERNAL), "storage error", rq->handle);
		goto out;
	}
	log_info("register", "conn=%llu handle=%s mode=%s", (unsigned long long)c->serial, rq->handle,
	    c->srv->cfg.registration_open ? "open" : "invite");
	session_authenticated(c, rq->handle, l->devices[0].id);
	r.status = ST(OK);
	r.device_id.data = c->device_id;
	r.device_id.len = SC_DEVICE_ID;
	session_respond(c, id, &r);
out:
	if (in_tx)
		st->ops->rollback(st);
	sc_wipe(secret, sizeof(secret));
	free(l);
}

void
dir_get_lists(conn *c, uint64_t id, const Sotto__Wire__GetDeviceListRequest *rq)
{
	Sotto__Wire__Response r = SOTTO__WIRE__RESPONSE__INIT;
	store *st = c->srv->st;
	store_blob *b = NULL;
	ProtobufCBinaryData *lists = NULL;
	size_t n = 0;
	int rc, more = 0;

	rc = st->ops->list_history(st, rq->handle, rq->since_version, SOTTO_MAX_LIST_HISTORY,
	    SOTTO_MAX_FRAME - SOTTOD_FRAME_SLACK, &b, &n, &more);
	if (rc == SOTTO_ERR_NOT_FOUND) {
		/* A miss costs more: probing for handles is what enumeration does. */
		session_charge_lookup(c, SOTTO_LOOKUP_MISS_COST - 1);
		r.status = ST(NO_SUCH_HANDLE);
		r.error = "no such handle";
		r.handle = rq->handle;
		session_respond(c, id, &r);
		goto out;
	}
	if (rc != SOTTO_OK) {
		session_respond_status(c, id, ST(INTERNAL), "storage error");
		goto out;
	}
	if (n > 0 && (lists = calloc(n, sizeof(*lists))) == NULL) {
		session_respond_status(c, id, ST(INTERNAL), "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		lists[i].data = b[i].p;
		lists[i].len = b[i].len;
	}
	r.status = ST(OK);
	r.n_device_lists = n;
	/* Test mode only (main.c test_mode): hide the newest list, once. */
	if (c->srv->test_withhold[0] != '\0' && !c->test_withheld && n > 1 && !more &&
	    strcmp(rq->handle, c->srv->test_withhold) == 0) {
		c->test_withheld = 1;
		r.n_device_lists = n - 1;
		log_warn("test_withheld", "conn=%llu handle=%s", (unsigned long long)c->serial, rq->handle);
	}
	r.device_lists = lists;
	r.more = more;
	session_respond(c, id, &r);
	log_debug("lookup", "conn=%llu handle=%s since=%llu n=%zu", (unsigned long long)c->serial,
	    rq->handle, (unsigned long long)rq->since_version, n);
out:
	free(lists);
	store_blobs_free(b, n);
}

/* A device no longer listed loses its connections at once. */
static void
drop_removed_devices(server *s, const dl_list *l)
{
	for (conn *c = s->conns; c != NULL; c = c->next)
		if (c->state == CONN_AUTHED && strcmp(c->handle, l->handle) == 0 &&
		    dl_find(l, c->device_id) == NULL) {
			log_info("device_removed", "conn=%llu handle=%s", (unsigned long long)c->serial,
			    c->handle);
			conn_close_after_flush(c);
		}
}

static void
broadcast_change(server *s, const char *handle, uint64_t version)
{
	Sotto__Wire__DeviceListChanged ch = SOTTO__WIRE__DEVICE_LIST_CHANGED__INIT;
	wire_frame f = SOTTO__WIRE__FRAME__INIT;

	ch.handle = (char *)handle;
	ch.version = version;
	f.id = 0;
	f.msg_case = SOTTO__WIRE__FRAME__MSG_DEVICE_LIST_CHANGED;
	f.device_list_changed = &ch;
	for (conn *c = s->conns; c != NULL; c = c->next)
		if (c->state == CONN_AUTHED)
			(void)conn_send(c, &f);
}

/* A removed device's queue would otherwise sit until expiry, readable by
 * nobody but still the server's to hand out: it goes with the device. */
int
dir_purge_removed(store *st, const dl_list *prev, const dl_list *l)
{
	size_t deleted;
	int rc;

	if (st->ops->copy_purge == NULL)
		return SOTTO_ERR_INTERNAL;
	for (size_t i = 0; i < prev->n_devices; i++) {
		if (dl_find(l, prev->devices[i].id) != NULL)
			continue;
		if ((rc = st->ops->copy_purge(st, prev->devices[i].id, &deleted)) != SOTTO_OK)
			return rc;
		if (deleted > 0)
			log_info("copies_purged", "handle=%s n=%zu", l->handle, deleted);
	}
	return SOTTO_OK;
}

void
dir_published(server *s, const dl_list *l)
{
	broadcast_change(s, l->handle, l->version);
	drop_removed_devices(s, l);
}

void
dir_publish(conn *c, uint64_t id, const Sotto__Wire__PublishDeviceListRequest *rq)
{
	store *st = c->srv->st;
	dl_list *prev = NULL, *next = NULL;
	uint8_t *raw = NULL, prev_hash[SC_SHA256];
	size_t rawlen = 0;
	int rc, in_tx = 0;

	if ((prev = malloc(sizeof(*prev))) == NULL || (next = malloc(sizeof(*next))) == NULL) {
		session_respond_status(c, id, ST(INTERNAL), "out of memory");
		goto out;
	}
	if (dl_parse(next, rq->device_list.data, rq->device_list.len) != SOTTO_OK) {
		session_respond_status(c, id, ST(BAD_REQUEST), "device list does not parse");
		goto out;
	}
	if (strcmp(next->handle, c->handle) != 0) {
		session_respond_status(c, id, ST(FORBIDDEN), "device list of another handle");
		goto out;
	}
	if (st->ops->begin(st) != SOTTO_OK) {
		session_respond_status(c, id, ST(INTERNAL), "storage error");
		goto out;
	}
	in_tx = 1;
	if ((rc = dir_current(st, c->handle, prev, &raw, &rawlen)) != SOTTO_OK) {
		session_respond_status(c, id, ST(INTERNAL), "storage error");
		goto out;
	}
	dl_hash(prev_hash, raw, rawlen);
	if (dl_verify_next(prev, prev_hash, next, rq->device_list.data, rq->device_list.len) != SOTTO_OK) {
		session_respond_status(c, id, ST(CHAIN_INVALID), "device list does not chain to the current one");
		goto out;
	}
	if ((rc = st->ops->list_add(st, next, rq->device_list.data, rq->device_list.len)) != SOTTO_OK) {
		session_respond_status(c, id, rc == SOTTO_ERR_EXISTS ? ST(CHAIN_INVALID) : ST(INTERNAL),
		    "could not store the device list");
		goto out;
	}
	if (dir_purge_removed(st, prev, next) != SOTTO_OK) {
		session_respond_status(c, id, ST(INTERNAL), "storage error");
		goto out;
	}
	wake_announce_list(st, next->handle, next->version);
	in_tx = 0;
	rc = st->ops->commit(st);
	early_dir_changed(c->srv->seqs);	/* committed or not: caches re-read */
	if (rc != SOTTO_OK) {
		session_respond_status(c, id, ST(INTERNAL), "storage error");
		goto out;
	}
	log_info("list_published", "conn=%llu handle=%s version=%llu devices=%zu",
	    (unsigned long long)c->serial, next->handle, (unsigned long long)next->version, next->n_devices);
	session_respond_status(c, id, ST(OK), NULL);
	dir_published(c->srv, next);
out:
	if (in_tx)
		st->ops->rollback(st);
	free(raw);
	free(prev);
	free(next);
}

int
dir_invite_create(store *st, const char *handle, uint8_t secret[static INVITE_SECRET_LEN], uint64_t now)
{
	uint8_t hash[SC_SHA256];
	int rc, in_tx = 0;

	memset(secret, 0, INVITE_SECRET_LEN);
	if (!handle_valid(handle))
		return SOTTO_ERR_INVALID_ARG;
	if ((rc = st->ops->begin(st)) != SOTTO_OK)
		goto out;
	in_tx = 1;
	if ((rc = st->ops->account_exists(st, handle)) != 0) {
		rc = rc == 1 ? SOTTO_ERR_HANDLE_TAKEN : rc;
		goto out;
	}
	sc_random(secret, INVITE_SECRET_LEN);
	sc_sha256(hash, secret, INVITE_SECRET_LEN);
	if ((rc = st->ops->invite_add(st, hash, handle, now)) != SOTTO_OK)
		goto out;
	in_tx = 0;
	rc = st->ops->commit(st);
out:
	if (in_tx)
		st->ops->rollback(st);
	if (rc != SOTTO_OK)
		sc_wipe(secret, INVITE_SECRET_LEN);
	return rc;
}
