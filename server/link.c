/* SPDX-License-Identifier: ISC */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "server.h"
#include "sotto/error.h"

#define ST(x) SOTTO__WIRE__STATUS__##x

/* Pre-auth peers may use these too: a budget per connection, one per
 * address and one for the node (reconnecting starts a connection's budget
 * afresh, not its address's), plus a share of the store's live entries per
 * address and a cap on all of them, bound what anyone can make us keep. */
static int
link_allowed(conn *c)
{
	uint64_t now = now_ms();

	if (c->link_at_ms == 0) {
		c->link_tokens = SOTTOD_LINK_BURST;
		c->link_at_ms = now;
	}
	if (now > c->link_at_ms) {
		c->link_tokens += (double)(now - c->link_at_ms) * SOTTOD_LINK_PER_SEC / 1000.0;
		if (c->link_tokens > SOTTOD_LINK_BURST)
			c->link_tokens = SOTTOD_LINK_BURST;
	}
	c->link_at_ms = now;
	if (c->link_tokens < 1.0)
		return 0;
	c->link_tokens -= 1.0;
	return 1;
}

/*
 * Whose entry a post makes: a keyed hash of its source address (an IPv6
 * address's /64, what one subscriber gets), so the store can count an
 * address's live entries without holding addresses. The key is this worker's,
 * random, never stored.
 */
static void
owner_of(const conn *c, uint8_t owner[STORE_RDV_OWNER_LEN])
{
	static uint8_t key[SC_SHA256];
	static int keyed;
	uint8_t a[16], mac[SC_SHA256];
	size_t n = 0;
	sc_hmac_ctx h;

	if (!keyed) {
		sc_random(key, sizeof(key));
		keyed = 1;
	}
	if (inet_pton(AF_INET6, c->peer, a) == 1)
		n = 8;
	else if (inet_pton(AF_INET, c->peer, a) == 1)
		n = 4;
	sc_hmac_sha256_init(&h, key, sizeof(key));
	if (n > 0)
		sc_hmac_sha256_update(&h, a, n);
	else
		sc_hmac_sha256_update(&h, c->peer, strnlen(c->peer, sizeof(c->peer)));
	sc_hmac_sha256_final(&h, mac);
	memcpy(owner, mac, STORE_RDV_OWNER_LEN);
}

/*
 * An offer lives only while its new device waits for the answer: each of its
 * polls (about one a second) moves the offer's end this far ahead. A device
 * that gave up, was interrupted or crashed stops polling, and its offer can no
 * longer be approved a few seconds later: approving it would add a device
 * whose keys nobody holds any more.
 */
static uint64_t
offer_alive_ms(const conn *c)
{
	return c->srv->cfg.link_offer_seconds * 1000;
}

/* How long a posted blob lives: an offer while its device polls, a pickup
 * briefly (anyone may post one), an answer for the rendezvous' full life. */
static uint64_t
slot_life_ms(const conn *c, uint32_t slot)
{
	if (slot == WIRE_LINK_OFFER)
		return offer_alive_ms(c);
	return slot == WIRE_LINK_PICKUP ? SOTTOD_LINK_PICKUP_TTL_MS : SOTTOD_LINK_TTL_MS;
}

static int
backend_ready(conn *c, uint64_t id)
{
	const store_ops *o = c->srv->st->ops;

	if (o->rdv_put != NULL && o->rdv_take != NULL && o->rdv_extend != NULL &&
	    o->copy_purge != NULL)
		return 1;
	session_respond_status(c, id, ST(INTERNAL), "not supported by this storage backend");
	return 0;
}

void
link_post(conn *c, uint64_t id, const Sotto__Wire__LinkPostRequest *rq)
{
	store *st = c->srv->st;
	uint8_t *offer = NULL, owner[STORE_RDV_OWNER_LEN];
	size_t offer_len = 0;
	uint64_t now = now_ms();
	int rc, in_tx = 0;

	if (!backend_ready(c, id))
		return;
	if (!link_allowed(c)) {
		session_respond_status(c, id, ST(RATE_LIMITED), "too many link requests");
		return;
	}
	if (!session_rate_ok(c, id, LIMIT_LINK))
		return;
	/* Only a device of an account can answer; anyone may offer or pick up
	 * (both MACed with the code's secret, which the approver checks). */
	if (rq->slot == WIRE_LINK_ANSWER && c->state != CONN_AUTHED) {
		session_respond_status(c, id, ST(UNAUTHENTICATED), "authenticate first");
		return;
	}
	if ((rc = st->ops->begin(st)) != SOTTO_OK)
		goto out;
	in_tx = 1;
	/* An answer spends its offer: one offer is approved at most once. */
	if (rq->slot == WIRE_LINK_ANSWER &&
	    (rc = st->ops->rdv_take(st, rq->rendezvous_id.data, WIRE_LINK_OFFER, now, 1, &offer,
	    &offer_len)) != SOTTO_OK)
		goto out;
	owner_of(c, owner);
	if ((rc = st->ops->rdv_put(st, rq->rendezvous_id.data, rq->slot, rq->blob.data, rq->blob.len,
	    now, now + slot_life_ms(c, rq->slot),
	    SOTTOD_LINK_MAX_LIVE, owner, SOTTOD_LINK_MAX_PER_ADDR)) != SOTTO_OK)
		goto out;
	in_tx = 0;
	if ((rc = st->ops->commit(st)) != SOTTO_OK)
		goto out;
	log_info("link_post", "conn=%llu slot=%s", (unsigned long long)c->serial,
	    rq->slot == WIRE_LINK_ANSWER ? "answer" : rq->slot == WIRE_LINK_PICKUP ? "pickup" : "offer");
out:
	if (in_tx)
		st->ops->rollback(st);
	free(offer);
	switch (rc) {
	case SOTTO_OK:
		session_respond_status(c, id, ST(OK), NULL);
		break;
	case SOTTO_ERR_NOT_FOUND:
		session_respond_status(c, id, ST(NOT_FOUND), "no such link offer (expired or used)");
		break;
	case SOTTO_ERR_EXISTS:
		session_respond_status(c, id, ST(FORBIDDEN), "rendezvous id already used");
		break;
	case SOTTO_ERR_RATE_LIMITED:
		cap_exceeded(c, "link_live", "per_addr=%d all=%d", SOTTOD_LINK_MAX_PER_ADDR, SOTTOD_LINK_MAX_LIVE);
		session_respond_status(c, id, ST(RATE_LIMITED), "too many pending links (from this address, or in all)");
		break;
	default:
		session_respond_status(c, id, ST(INTERNAL), "storage error");
		break;
	}
}

void
link_get(conn *c, uint64_t id, const Sotto__Wire__LinkGetRequest *rq)
{
	Sotto__Wire__Response r = SOTTO__WIRE__RESPONSE__INIT;
	store *st = c->srv->st;
	uint8_t *blob = NULL;
	size_t len = 0;
	uint64_t now = now_ms();
	int rc, in_tx = 0, consume = rq->slot != WIRE_LINK_OFFER;

	if (!backend_ready(c, id))
		return;
	if (!link_allowed(c)) {
		session_respond_status(c, id, ST(RATE_LIMITED), "too many link requests");
		return;
	}
	if (!session_rate_ok(c, id, LIMIT_LINK))
		return;
	/* The answer and the pickup are handed out once; the offer may be looked
	 * at until answered. */
	if (consume) {
		if ((rc = st->ops->begin(st)) != SOTTO_OK)
			goto fail;
		in_tx = 1;
	}
	rc = st->ops->rdv_take(st, rq->rendezvous_id.data, rq->slot, now, consume, &blob, &len);
	if (rc != SOTTO_OK && rc != SOTTO_ERR_NOT_FOUND)
		goto fail;
	/* Asking for the answer is the new device saying it still waits. No
	 * offer (answered, or withdrawn already) is not an error here. */
	if (rq->slot == WIRE_LINK_ANSWER && rc == SOTTO_ERR_NOT_FOUND) {
		int ext = st->ops->rdv_extend(st, rq->rendezvous_id.data, WIRE_LINK_OFFER, now,
		    now + offer_alive_ms(c));

		if (ext != SOTTO_OK && ext != SOTTO_ERR_NOT_FOUND)
			goto fail;
	}
	if (in_tx) {
		in_tx = 0;
		if (st->ops->commit(st) != SOTTO_OK)
			goto fail;
	}
	/* Nothing (yet), expired and used all look alike: an empty blob. */
	r.status = ST(OK);
	r.link_blob.data = blob;
	r.link_blob.len = rc == SOTTO_OK ? len : 0;
	session_respond(c, id, &r);
	goto out;
fail:
	if (in_tx)
		st->ops->rollback(st);
	session_respond_status(c, id, ST(INTERNAL), "storage error");
out:
	free(blob);
}

static int
auth_sig_ok(conn *c, const char *handle, const uint8_t sig[SC_SIG], const uint8_t pub[SC_SIGN_PUB])
{
	uint8_t msg[WIRE_AUTH_MSG_MAX];
	size_t n;

	n = wire_auth_message(msg, c->srv->pin, c->nonce, handle);
	return sc_verify(sig, msg, n, pub) == SOTTO_OK;
}

/* Like a failed AuthRequest: the nonce is spent, the connection ends. */
static void
recover_failed(conn *c, uint64_t id, Sotto__Wire__Status st, const char *why, const char *handle)
{
	log_info("recover_fail", "conn=%llu handle=%s peer=%s reason=\"%s\"",
	    (unsigned long long)c->serial, handle, c->peer, why);
	session_respond_status(c, id, st, why);
	conn_close_after_flush(c);
}

/*
 * What a recovery that does not hold the account key is told, whether the
 * handle exists or not: the answer must not tell which (an unknown handle is
 * refused at the same step, with the same words, after the same checks of the
 * request itself, and a signature is verified either way).
 */
#define RECOVER_NO_HISTORY	"unknown handle or bad signature"
#define RECOVER_NO_CHAIN	"device list does not chain to the current one"

/* An unknown handle's stand-in for the account key's signature check. */
static void
verify_as_if(const uint8_t sig[SC_SIG], const uint8_t *msg, size_t n)
{
	static uint8_t pub[SC_SIGN_PUB];
	static int made;
	uint8_t sec[SC_SIGN_SEC];

	if (!made) {
		sc_sign_keypair(pub, sec);
		sc_wipe(sec, sizeof(sec));
		made = 1;
	}
	if (sc_verify(sig, msg, n, pub) == SOTTO_OK)
		log_warn("recover_unknown", "what=signature_by_a_key_nobody_holds");
}

/* Step 1: who holds the account key may read the list history it will chain to. */
static void
recover_history(conn *c, uint64_t id, const Sotto__Wire__RecoverRequest *rq, const dl_list *cur)
{
	Sotto__Wire__Response r = SOTTO__WIRE__RESPONSE__INIT;
	store *st = c->srv->st;
	store_blob *b = NULL;
	ProtobufCBinaryData *lists = NULL;
	size_t n = 0;
	int more = 0;

	if (!auth_sig_ok(c, rq->handle, rq->signature.data, cur->account_pub)) {
		recover_failed(c, id, ST(UNAUTHENTICATED), RECOVER_NO_HISTORY, rq->handle);
		return;
	}
	if (st->ops->list_history(st, rq->handle, rq->since_version, SOTTO_MAX_LIST_HISTORY,
	    SOTTO_MAX_FRAME - SOTTOD_FRAME_SLACK, &b, &n, &more) != SOTTO_OK ||
	    (n > 0 && (lists = calloc(n, sizeof(*lists))) == NULL)) {
		recover_failed(c, id, ST(INTERNAL), "storage error", rq->handle);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		lists[i].data = b[i].p;
		lists[i].len = b[i].len;
	}
	r.status = ST(OK);
	r.n_device_lists = n;
	r.device_lists = lists;
	r.more = more;
	session_respond(c, id, &r);
	log_info("recover_history", "conn=%llu handle=%s n=%zu", (unsigned long long)c->serial,
	    rq->handle, n);
out:
	free(lists);
	store_blobs_free(b, n);
}

/* Step 2's checks of the request alone (before the handle is looked up, so
 * that they answer alike for every handle): next gets the parsed list. */
static int
recover_request_ok(conn *c, uint64_t id, const Sotto__Wire__RecoverRequest *rq, dl_list *next)
{
	if (dl_parse(next, rq->device_list.data, rq->device_list.len) != SOTTO_OK) {
		recover_failed(c, id, ST(BAD_REQUEST), "device list does not parse", rq->handle);
		return 0;
	}
	if (strcmp(next->handle, rq->handle) != 0 || next->n_devices != 1 ||
	    !sc_is_zero(next->signer, SC_DEVICE_ID)) {
		recover_failed(c, id, ST(BAD_REQUEST), "a recovery list names the handle and one device "
		    "and is signed by the account key", rq->handle);
		return 0;
	}
	if (!auth_sig_ok(c, rq->handle, rq->signature.data, next->devices[0].sig_pub)) {
		recover_failed(c, id, ST(UNAUTHENTICATED), "bad signature", rq->handle);
		return 0;
	}
	return 1;
}

/* Step 2: the account key's list with the one new device, which proves its key. */
static void
recover_publish(conn *c, uint64_t id, const Sotto__Wire__RecoverRequest *rq, dl_list *cur,
    const uint8_t *cur_raw, size_t cur_len)
{
	Sotto__Wire__Response r = SOTTO__WIRE__RESPONSE__INIT;
	store *st = c->srv->st;
	dl_list *next = NULL;
	uint8_t h[SC_SHA256];
	int rc, in_tx = 0;

	if ((next = malloc(sizeof(*next))) == NULL) {
		recover_failed(c, id, ST(INTERNAL), "out of memory", rq->handle);
		goto out;
	}
	if (!recover_request_ok(c, id, rq, next))
		goto out;
	if (st->ops->begin(st) != SOTTO_OK) {
		recover_failed(c, id, ST(INTERNAL), "storage error", rq->handle);
		goto out;
	}
	in_tx = 1;
	dl_hash(h, cur_raw, cur_len);
	if ((rc = dl_verify_next(cur, h, next, rq->device_list.data, rq->device_list.len)) != SOTTO_OK) {
		recover_failed(c, id, rc == SOTTO_ERR_BAD_KEY ? ST(BAD_KEY) : ST(CHAIN_INVALID),
		    rc == SOTTO_ERR_BAD_KEY ? dir_list_error(rc) : RECOVER_NO_CHAIN, rq->handle);
		goto out;
	}
	/* Counted like every publish (directory.c dir_publish_room): the code's
	 * holder cannot grow the directory without bound by recovering in a loop.
	 * After the account key's signature: only its holder hears of the count. */
	if ((rc = dir_publish_room(st, &c->srv->cfg, rq->handle, 1)) != SOTTO_OK) {
		if (rc == SOTTO_ERR_RATE_LIMITED) {
			cap_exceeded(c, "list_publishes_per_hour", "handle=%s recovery=1", rq->handle);
			recover_failed(c, id, ST(RATE_LIMITED), "too many device list publishes for this "
			    "account: try the recovery again in an hour", rq->handle);
		} else
			recover_failed(c, id, ST(INTERNAL), "storage error", rq->handle);
		goto out;
	}
	/* The same path as every publish: announced to the other workers too. */
	in_tx = 0;
	if ((rc = dir_list_commit(c->srv, cur, next, rq->device_list.data, rq->device_list.len, NULL)) !=
	    SOTTO_OK) {
		recover_failed(c, id, dir_list_status(rc), dir_list_error(rc), rq->handle);
		goto out;
	}
	log_info("recovered", "conn=%llu handle=%s version=%llu", (unsigned long long)c->serial,
	    next->handle, (unsigned long long)next->version);
	session_authenticated(c, rq->handle, next->devices[0].id);
	r.status = ST(OK);
	r.device_id.data = c->device_id;
	r.device_id.len = SC_DEVICE_ID;
	session_respond(c, id, &r);
out:
	if (in_tx)
		st->ops->rollback(st);
	free(next);
}

/* No such handle: refused as a known one is without its account key. */
static void
recover_unknown(conn *c, uint64_t id, const Sotto__Wire__RecoverRequest *rq, dl_list *scratch)
{
	uint8_t msg[WIRE_AUTH_MSG_MAX];
	size_t n = wire_auth_message(msg, c->srv->pin, c->nonce, rq->handle);

	if (rq->device_list.len == 0) {
		verify_as_if(rq->signature.data, msg, n);
		recover_failed(c, id, ST(UNAUTHENTICATED), RECOVER_NO_HISTORY, rq->handle);
		return;
	}
	if (!recover_request_ok(c, id, rq, scratch))
		return;
	verify_as_if(rq->signature.data, msg, n);
	recover_failed(c, id, ST(CHAIN_INVALID), RECOVER_NO_CHAIN, rq->handle);
}

void
link_recover(conn *c, uint64_t id, const Sotto__Wire__RecoverRequest *rq)
{
	dl_list *cur = NULL;
	uint8_t *raw = NULL;
	size_t rawlen = 0;
	int rc;

	if (c->state != CONN_PREAUTH || c->nonce_used) {
		session_respond_status(c, id, ST(BAD_REQUEST), "recovery needs a fresh connection");
		return;
	}
	c->nonce_used = 1;
	if (!backend_ready(c, id))
		return;
	if ((cur = malloc(sizeof(*cur))) == NULL) {
		recover_failed(c, id, ST(INTERNAL), "out of memory", rq->handle);
		goto out;
	}
	if ((rc = dir_current(c->srv->st, rq->handle, cur, &raw, &rawlen)) == SOTTO_ERR_NOT_FOUND) {
		recover_unknown(c, id, rq, cur);
		goto out;
	}
	if (rc != SOTTO_OK) {
		recover_failed(c, id, ST(INTERNAL), "storage error", rq->handle);
		goto out;
	}
	if (rq->device_list.len == 0)
		recover_history(c, id, rq, cur);
	else
		recover_publish(c, id, rq, cur, raw, rawlen);
out:
	free(raw);
	free(cur);
}
