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

/*
 * A device that just authenticated as handle is handle's: only the holder of
 * its signing key can, and this server never lets a second account take a
 * device id (list_add). So a devices row naming another account can only be
 * left by an earlier server, whose INSERT OR REPLACE let that account list
 * the id too and whose upgrade then filed the device's queue under it
 * (docs/OPERATIONS.md, on older databases). Give back both in one
 * transaction; from then on the other account's lists naming it are refused
 * DEVICE_TAKEN. The normal case costs one read by primary key.
 */
static int
reclaim_device(conn *c, const char *handle, const uint8_t device_id[SC_DEVICE_ID])
{
	store *st = c->srv->st;
	char owner[SOTTO_MAX_HANDLE + 1], hex[2 * SC_DEVICE_ID + 1];
	size_t moved = 0;
	int rc, in_tx = 0;

	if ((rc = st->ops->device_owner(st, device_id, owner)) != SOTTO_OK) {
		/* No row: nothing another account holds (handle's next list adds it). */
		if (rc == SOTTO_ERR_NOT_FOUND)
			rc = SOTTO_OK;
		goto out;
	}
	if (strcmp(owner, handle) == 0)
		goto out;
	sc_hex(hex, device_id, SC_DEVICE_ID);
	/* Bound into statements and logged: only a handle as we store them. */
	if (!handle_valid(owner)) {
		log_error("db_corrupt", "what=devices device=%s", hex);
		rc = SOTTO_ERR_DB;
		goto out;
	}
	if ((rc = st->ops->begin(st)) != SOTTO_OK)
		goto out;
	in_tx = 1;
	if ((rc = st->ops->device_reclaim(st, device_id, owner, handle, &moved)) != SOTTO_OK) {
		if (rc == SOTTO_ERR_NOT_FOUND)	/* reclaimed meanwhile, by another worker */
			rc = SOTTO_OK;
		goto out;
	}
	in_tx = 0;
	if ((rc = st->ops->commit(st)) != SOTTO_OK)
		goto out;
	log_warn("device_reclaimed", "handle=%s from=%s device=%s copies=%zu conn=%llu", handle, owner,
	    hex, moved, (unsigned long long)c->serial);
out:
	if (in_tx)
		st->ops->rollback(st);
	return rc;
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
	/* Before the session reads its queue, so it reads the reclaimed one. */
	if (reclaim_device(c, rq->handle, d->id) != SOTTO_OK) {
		auth_failed(c, id, ST(INTERNAL), "storage error", rq->handle);
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
	if (l->version != 1 ||
	    (rc = dl_verify_first(l, rq->device_list.data, rq->device_list.len)) != SOTTO_OK) {
		if (l->version == 1 && rc == SOTTO_ERR_BAD_KEY)
			auth_failed(c, id, ST(BAD_KEY), dir_list_error(SOTTO_ERR_BAD_KEY), rq->handle);
		else
			auth_failed(c, id, ST(CHAIN_INVALID), "device list is not a valid first version",
			    rq->handle);
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
	in_tx = 0;
	if ((rc = dir_list_commit(c->srv, NULL, l, rq->device_list.data, rq->device_list.len, NULL)) !=
	    SOTTO_OK) {
		if (rc == SOTTO_ERR_EXISTS)	/* registered meanwhile, on another node */
			auth_failed(c, id, ST(HANDLE_TAKEN), "handle already registered", rq->handle);
		else
			auth_failed(c, id, rc == SOTTO_ERR_DEVICE_TAKEN ? ST(DEVICE_TAKEN) : ST(INTERNAL),
			    dir_list_error(rc), rq->handle);
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
	dir_follow(c, rq->handle);
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

/* A device no longer listed loses its connections at once; the hint of its
 * own account's change (broadcast_change, just before) goes out first. */
static void
drop_removed_devices(server *s, const dl_list *l)
{
	for (conn *c = s->conns; c != NULL; c = c->next)
		if (c->state == CONN_AUTHED && strcmp(c->handle, l->handle) == 0 &&
		    dl_find(l, c->device_id) == NULL) {
			log_info("device_removed", "conn=%llu handle=%s version=%llu reason=\"not in the "
			    "account's device list\"", (unsigned long long)c->serial, c->handle,
			    (unsigned long long)l->version);
			conn_close_after_flush(c);
		}
}

/*
 * Follows: a hint that a list changed goes only to connections that have a
 * reason to care (their own account, a handle they looked up or sent to on
 * that connection). Everyone else hearing of every change would be a
 * metadata leak (who changes devices when) and one publish a frame to every
 * connection of the node. Past the cap the oldest is forgotten: a client
 * re-checks a contact's list before every send anyway, the hint only saves
 * it a wait.
 */
void
dir_follow(conn *c, const char *handle)
{
	size_t i;

	if (c->state != CONN_AUTHED || strcmp(handle, c->handle) == 0 || !handle_valid(handle))
		return;
	for (i = 0; i < c->follow_n; i++)
		if (strcmp(c->follow[i], handle) == 0)
			return;
	if (c->follow == NULL && (c->follow = calloc(SOTTOD_MAX_FOLLOWS, sizeof(*c->follow))) == NULL)
		return;	/* out of memory: only the hint is lost */
	if (c->follow_n < SOTTOD_MAX_FOLLOWS)
		i = c->follow_n++;
	else {
		i = c->follow_oldest;
		c->follow_oldest = (c->follow_oldest + 1) % SOTTOD_MAX_FOLLOWS;
	}
	snprintf(c->follow[i], sizeof(c->follow[i]), "%s", handle);
}

int
dir_follows(const conn *c, const char *handle)
{
	if (strcmp(handle, c->handle) == 0)
		return 1;
	for (size_t i = 0; i < c->follow_n; i++)
		if (strcmp(c->follow[i], handle) == 0)
			return 1;
	return 0;
}

void
dir_follow_free(conn *c)
{
	free(c->follow);
	c->follow = NULL;
	c->follow_n = c->follow_oldest = 0;
}

static void
broadcast_change(server *s, const char *handle, uint64_t version, const conn *except)
{
	Sotto__Wire__DeviceListChanged ch = SOTTO__WIRE__DEVICE_LIST_CHANGED__INIT;
	wire_frame f = SOTTO__WIRE__FRAME__INIT;

	ch.handle = (char *)handle;
	ch.version = version;
	f.id = 0;
	f.msg_case = SOTTO__WIRE__FRAME__MSG_DEVICE_LIST_CHANGED;
	f.device_list_changed = &ch;
	for (conn *c = s->conns; c != NULL; c = c->next)
		if (c->state == CONN_AUTHED && c != except && dir_follows(c, handle))
			(void)conn_send(c, &f);
}

/* A removed device's queue would otherwise sit until expiry, readable by
 * nobody but still the server's to hand out: it goes with the device. Only
 * the account's own queue of it (store.h: queues are per account). */
static int
purge_removed(store *st, const dl_list *prev, const dl_list *l)
{
	size_t deleted;
	int rc;

	for (size_t i = 0; i < prev->n_devices; i++) {
		if (dl_find(l, prev->devices[i].id) != NULL)
			continue;
		if ((rc = st->ops->copy_purge(st, l->handle, prev->devices[i].id, &deleted)) != SOTTO_OK)
			return rc;
		if (deleted > 0)
			log_info("copies_purged", "handle=%s n=%zu", l->handle, deleted);
	}
	return SOTTO_OK;
}

void
dir_published(server *s, const dl_list *l, const conn *except)
{
	broadcast_change(s, l->handle, l->version, except);
	drop_removed_devices(s, l);
}

const char *
dir_list_error(int rc)
{
	switch (rc) {
	case SOTTO_ERR_DEVICE_TAKEN:
		return "a device in the list belongs to another account";
	case SOTTO_ERR_BAD_KEY:
		/* Every send to the account would fail on the key (one copy per
		 * device): refused here, it is the publisher who hears of it. */
		return "a key in the device list is of small order or not canonical";
	case SOTTO_ERR_EXISTS:
		return "that version of the device list is already stored";
	case SOTTO_ERR_TOO_LARGE:
		return "the account's device list has reached the last version clients follow (1024)";
	default:
		return "could not store the device list";
	}
}

_Static_assert(SOTTO_CLIENT_MAX_LIST_VERSIONS == 1024, "dir_list_error's text names the cap");

Sotto__Wire__Status
dir_list_status(int rc)
{
	switch (rc) {
	case SOTTO_ERR_DEVICE_TAKEN:
		return ST(DEVICE_TAKEN);
	case SOTTO_ERR_EXISTS:
		return ST(CHAIN_INVALID);
	case SOTTO_ERR_TOO_LARGE:
		return ST(TOO_LARGE);
	default:
		return ST(INTERNAL);
	}
}

int
dir_list_commit(server *s, const dl_list *prev, const dl_list *next, const uint8_t *p, size_t n,
    const conn *origin)
{
	store *st = s->st;
	int rc;

	/* Clients follow no longer chain (caps.h; the text above names it): a
	 * version past it would make the account unreachable for every
	 * contact, so its owner hears it here instead. */
	if (next->version > SOTTO_CLIENT_MAX_LIST_VERSIONS) {
		rc = SOTTO_ERR_TOO_LARGE;
		goto fail;
	}
	if ((rc = st->ops->list_add(st, next, p, n, now_ms())) != SOTTO_OK ||
	    (prev != NULL && (rc = purge_removed(st, prev, next)) != SOTTO_OK))
		goto fail;
	wake_announce_list(st, next->handle, next->version);
	rc = st->ops->commit(st);
	early_dir_changed(s->seqs);	/* committed or not: caches re-read */
	if (rc != SOTTO_OK)
		return rc;
	dir_published(s, next, origin);
	return SOTTO_OK;
fail:
	if (rc == SOTTO_ERR_DEVICE_TAKEN)
		log_info("device_taken", "handle=%s version=%llu", next->handle,
		    (unsigned long long)next->version);
	st->ops->rollback(st);
	return rc;
}

/*
 * Every version is kept for ever and shown to everyone who looks the handle
 * up, and each one is hinted to its followers: an account publishing in a
 * loop would grow the directory and every contact's chain without end. The
 * count is in the store, inside the publish's transaction: the same for every
 * worker and node (two publishes of one account chain to the same version,
 * so at most one of them commits).
 *
 * A recovery is a publish too (the holder of the recovery code could loop
 * RecoverRequests as fast as it connects), but it must not be locked out by a
 * thief's device spending the cap: devices publish while fewer than cap of
 * the last hour's versions exist, a recovery while fewer than twice the cap.
 * A device's publishes alone never reach past the cap, so there is always
 * room for the owner's recovery, and no account publishes more than twice
 * the cap in an hour.
 */
#define PUBLISH_WINDOW_MS	(3600ULL * 1000)

int
dir_publish_room(store *st, const sottod_config *cfg, const char *handle, int recovery)
{
	uint64_t cap = cfg->list_publishes_per_hour * (recovery ? 2 : 1), now = now_ms(), recent = 0;
	int rc;

	if ((rc = st->ops->list_recent(st, handle, now > PUBLISH_WINDOW_MS ? now - PUBLISH_WINDOW_MS : 0,
	    cap, &recent)) != SOTTO_OK)
		return rc;
	return recent < cap ? SOTTO_OK : SOTTO_ERR_RATE_LIMITED;
}

static int
publish_rate_ok(conn *c, uint64_t id)
{
	uint64_t cap = c->srv->cfg.list_publishes_per_hour;
	char text[96];
	int rc;

	if ((rc = dir_publish_room(c->srv->st, &c->srv->cfg, c->handle, 0)) == SOTTO_OK)
		return 1;
	if (rc != SOTTO_ERR_RATE_LIMITED) {
		session_respond_status(c, id, ST(INTERNAL), "storage error");
		return 0;
	}
	cap_exceeded(c, "list_publishes_per_hour", "handle=%s", c->handle);
	snprintf(text, sizeof(text), "too many device list publishes for this account (at most %llu an hour)",
	    (unsigned long long)cap);
	session_respond_status(c, id, ST(RATE_LIMITED), text);
	return 0;
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
	if (!publish_rate_ok(c, id))
		goto out;
	dl_hash(prev_hash, raw, rawlen);
	if ((rc = dl_verify_next(prev, prev_hash, next, rq->device_list.data, rq->device_list.len)) !=
	    SOTTO_OK) {
		if (rc == SOTTO_ERR_BAD_KEY)
			session_respond_status(c, id, ST(BAD_KEY), dir_list_error(SOTTO_ERR_BAD_KEY));
		else
			session_respond_status(c, id, ST(CHAIN_INVALID),
			    "device list does not chain to the current one");
		goto out;
	}
	in_tx = 0;
	if ((rc = dir_list_commit(c->srv, prev, next, rq->device_list.data, rq->device_list.len, c)) !=
	    SOTTO_OK) {
		session_respond_status(c, id, dir_list_status(rc), dir_list_error(rc));
		goto out;
	}
	log_info("list_published", "conn=%llu handle=%s version=%llu devices=%zu",
	    (unsigned long long)c->serial, next->handle, (unsigned long long)next->version, next->n_devices);
	session_respond_status(c, id, ST(OK), NULL);
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
