/* SPDX-License-Identifier: ISC */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "array.h"
#include "log.h"
#include "metrics.h"
#include "qcount.h"
#include "quota.h"
#include "server.h"
#include "sotto/error.h"

#define ST(x) SOTTO__WIRE__STATUS__##x

enum op_kind { OP_SEND, OP_ACK };

/* An ack waiting for a copy another worker has not committed yet is tried
 * again this long after (early.c). */
#define MAILBOX_ACK_RETRY_US	1000

struct staged_op {
	enum op_kind kind;
	conn *c;			/* referenced (conn_ref) until answered */
	uint64_t serial;		/* c->serial, for the committer's log lines */
	uint64_t id;
	wire_frame *f;			/* owned: the request */
	uint8_t device_id[SC_DEVICE_ID];	/* the requesting device */
	char account[SOTTO_MAX_HANDLE + 1];	/* ... and its account: the queue an ack names */
	Sotto__Wire__Status status;	/* filled by the commit */
	const char *full_handle;	/* MAILBOX_FULL, SENDER_SHARE_FULL: which recipient */
	char sender[SOTTO_MAX_HANDLE + 1];	/* SEND: the sending account */
	uint64_t bytes;			/* SEND: what its copies store (quota.h) */
	uint64_t stored;		/* ACCOUNT_QUOTA_FULL: the sender's stored bytes */
	size_t deleted;			/* ACK: copies removed */
	uint64_t first_seq;		/* SEND pushed early: its copies' seqs from here (early.c) */
	int early_remote;		/* ... and to the other workers too */
	int waits;			/* ACK: named a seq not yet committed: stage again */
	uint64_t wait_until;		/* ACK: answer anyway from then (ms) */
};

struct push_rec {
	size_t op;
	size_t rcpt, copy;
	uint64_t seq;
};

static mbatch *
staging(server *s)
{
	return &s->mb[s->staging];
}

size_t
mailbox_staged(const server *s)
{
	return s->mb[s->staging].n;
}

/* A new slot at the end of b (uninitialised), or NULL out of memory. */
static staged_op *
batch_add(mbatch *b)
{
	if (array_grow(&b->ops, &b->cap, b->n, sizeof(*b->ops), 32, SIZE_MAX) != SOTTO_OK)
		return NULL;
	return &b->ops[b->n++];
}

static void wait_inflight(server *s);

/* A batch at its bounds is handed on at once, so no batch grows without end;
 * if the committer still holds the previous one, the loop waits for it. */
static void
stage_full(server *s)
{
	wait_inflight(s);
	mailbox_kick(s);
}

/* Bytes a send stores: every copy holds the envelope and its wrap. */
static uint64_t
send_bytes(const Sotto__Wire__SendRequest *rq)
{
	uint64_t n = 0;

	for (size_t i = 0; i < rq->n_recipients; i++)
		for (size_t j = 0; j < rq->recipients[i]->n_copies; j++)
			n += (uint64_t)rq->envelope.len + rq->recipients[i]->copies[j]->wrap.len;
	return n;
}

static uint64_t mono_us(void);

/*
 * The sending account's byte rate (quota.h), charged what the send would
 * store once it has passed every other check: 1 when it may be staged; 0 when
 * it was answered (RATE_LIMITED, or INTERNAL without memory for the table).
 */
static int
byte_rate_ok(conn *c, uint64_t id, const Sotto__Wire__SendRequest *rq)
{
	server *s = c->srv;
	char text[160];

	if (s->qrate == NULL && quota_rate_new(&s->qrate, &s->cfg, s->n_workers) != SOTTO_OK) {
		session_respond_status(c, id, ST(INTERNAL), "out of memory");
		return 0;
	}
	if (quota_rate_take(s->qrate, c->handle, send_bytes(rq), mono_us() / 1000))
		return 1;
	snprintf(text, sizeof(text), "rate limited: this account stores too many bytes (%llu per second "
	    "on this server); slow down", (unsigned long long)s->cfg.account_byte_rate);
	cap_exceeded(c, "account_byte_rate", "handle=%s bytes=%llu", c->handle,
	    (unsigned long long)send_bytes(rq));
	metrics_refusal(MR_BYTE_RATE);
	session_respond_status(c, id, ST(RATE_LIMITED), text);
	return 0;
}

static int
stage(conn *c, enum op_kind kind, wire_frame *f, uint64_t first_seq, int early_remote)
{
	server *s = c->srv;
	mbatch *b = staging(s);
	staged_op *op;

	if ((op = batch_add(b)) == NULL)
		return SOTTO_ERR_NOMEM;
	if (kind == OP_ACK)
		b->rows += f->ack->n_seqs;
	else
		for (size_t i = 0; i < f->send->n_recipients; i++)
			b->rows += f->send->recipients[i]->n_copies;
	memset(op, 0, sizeof(*op));
	op->kind = kind;
	op->c = c;
	op->serial = c->serial;
	op->id = f->id;
	op->f = f;
	op->first_seq = first_seq;
	op->early_remote = first_seq != 0 && early_remote;
	memcpy(op->device_id, c->device_id, SC_DEVICE_ID);
	snprintf(op->account, sizeof(op->account), "%s", c->handle);
	if (kind == OP_SEND) {
		snprintf(op->sender, sizeof(op->sender), "%s", c->handle);
		op->bytes = send_bytes(f->send);
	}
	if (kind == OP_ACK)
		op->wait_until = early_ack_deadline(now_ms());
	conn_ref(c);
	if (b->n >= SOTTOD_MAX_BATCH_OPS || b->rows >= SOTTOD_MAX_BATCH_ROWS)
		stage_full(s);
	else if (b->n == 1)
		net_request_flush(s);
	return SOTTO_OK;
}

/*
 * Does recipient r's set of copies match list l exactly: one copy per device,
 * except the sending device itself when r is the sender's own handle?
 */
static int
copies_match(const Sotto__Wire__Recipient *r, const dl_list *l, const uint8_t *skip)
{
	size_t expect = l->n_devices, i, j;

	if (skip != NULL && dl_find(l, skip) != NULL)
		expect--;
	if (r->n_copies != expect)
		return 0;
	for (i = 0; i < r->n_copies; i++) {
		const uint8_t *id = r->copies[i]->device_id.data;

		if (dl_find(l, id) == NULL || (skip != NULL && memcmp(id, skip, SC_DEVICE_ID) == 0))	/* not secret: device ids are public */
			return 0;
		for (j = 0; j < i; j++)
			if (memcmp(r->copies[j]->device_id.data, id, SC_DEVICE_ID) == 0)	/* not secret: device ids are public */
				return 0;
	}
	return 1;
}

static size_t
other_devices(const dl_list *l, const uint8_t self[SC_DEVICE_ID])
{
	return l->n_devices - (dl_find(l, self) != NULL ? 1 : 0);
}

/*
 * Stage a checked send; on a node with early delivery (early.c) its copies get
 * their seqs now and go to their connected devices at once, here and (in one
 * write per loop turn) through the other workers.
 */
static void
send_staged(conn *c, wire_frame *f)
{
	server *s = c->srv;
	const Sotto__Wire__SendRequest *rq = f->send;
	uint64_t first = 0, seq, now, members;
	size_t n = 0, wrap_max = 0;
	int remote;

	if (s->seqs != NULL) {
		for (size_t i = 0; i < rq->n_recipients; i++) {
			n += rq->recipients[i]->n_copies;
			for (size_t j = 0; j < rq->recipients[i]->n_copies; j++)
				if (rq->recipients[i]->copies[j]->wrap.len > wrap_max)
					wrap_max = rq->recipients[i]->copies[j]->wrap.len;
		}
		if (n > 0)
			first = early_alloc(s, n);
	}
	/* Too big for one pipe write: the other workers push it after the commit. */
	remote = rq->envelope.len + wrap_max <= EARLY_PAYLOAD_MAX;
	if (stage(c, OP_SEND, f, first, remote) != SOTTO_OK) {
		session_respond_status(c, f->id, ST(INTERNAL), "out of memory");
		wire_free(f);
		return;
	}
	if (first == 0)
		return;
	now = now_ms();
	seq = first;
	for (size_t i = 0; i < rq->n_recipients; i++)
		for (size_t j = 0; j < rq->recipients[i]->n_copies; j++, seq++) {
			const Sotto__Wire__Copy *cp = rq->recipients[i]->copies[j];
			store_wake w;

			early_push(s, cp->device_id.data, seq, now, rq->envelope.data, rq->envelope.len,
			    cp->wrap.data, cp->wrap.len, 0);
			if (!remote)
				continue;
			/* Only workers holding the device (none: an offline device). */
			if ((members = early_route(s->seqs, cp->device_id.data) & ~(1ULL << s->worker)) == 0)
				continue;
			memset(&w, 0, sizeof(w));
			w.kind = STORE_WAKE_DELIVER;
			memcpy(w.device_id, cp->device_id.data, SC_DEVICE_ID);
			w.seq = seq;
			w.stored_at = now;
			w.envelope = rq->envelope.data;
			w.envelope_len = rq->envelope.len;
			w.wrap = cp->wrap.data;
			w.wrap_len = cp->wrap.len;
			if (store_sqlite_deliver(s->st, &w, members) != SOTTO_OK)
				metrics_error(ME_WAKE);
		}
	/* Written at the end of this turn (mailbox_kick), even if the batch
	 * went to the committer meanwhile. */
	net_request_flush(s);
}

void
mbox_send(conn *c, wire_frame *f)
{
	Sotto__Wire__Response r = SOTTO__WIRE__RESPONSE__INIT;
	const Sotto__Wire__SendRequest *rq = f->send;
	/* Every recipient, plus the sender's own handle when it was left out. */
	Sotto__Wire__StaleList stale_buf[SOTTO_MAX_RECIPIENTS + 2], *stale_ptr[SOTTO_MAX_RECIPIENTS + 2];
	dl_list *l = NULL;		/* read into when there is no cache */
	const dl_list *cur;
	size_t i, j, n_stale = 0;
	int rc, own_seen = 0, own;

	if (c->srv->seqs == NULL && (l = malloc(sizeof(*l))) == NULL) {
		session_respond_status(c, f->id, ST(INTERNAL), "out of memory");
		goto fail;
	}
	if (rq->envelope.len == 0) {
		session_respond_status(c, f->id, ST(BAD_REQUEST), "empty envelope");
		goto fail;
	}
	for (i = 0; i < rq->n_recipients; i++)
		own_seen |= strcmp(rq->recipients[i]->handle, c->handle) == 0;
	/* Only the sender's own handle may come on top of max_recipients. */
	if (rq->n_recipients - (own_seen ? 1 : 0) > c->srv->cfg.max_recipients) {
		char text[96];

		snprintf(text, sizeof(text), "too many recipients (at most %llu)",
		    (unsigned long long)c->srv->cfg.max_recipients);
		cap_exceeded(c, "max_recipients", "n=%zu", rq->n_recipients);
		session_respond_status(c, f->id, ST(TOO_LARGE), text);
		goto fail;
	}
	for (i = 0; i < rq->n_recipients; i++) {
		const Sotto__Wire__Recipient *rc_ = rq->recipients[i];

		for (j = 0; j < i; j++)
			if (strcmp(rq->recipients[j]->handle, rc_->handle) == 0) {
				session_respond_status(c, f->id, ST(BAD_REQUEST), "recipient named twice");
				goto fail;
			}
		for (j = 0; j < rc_->n_copies; j++)
			if (rc_->copies[j]->wrap.len == 0) {
				session_respond_status(c, f->id, ST(BAD_REQUEST), "empty wrap");
				goto fail;
			}
	}
	for (i = 0; i < rq->n_recipients; i++) {
		const Sotto__Wire__Recipient *rc_ = rq->recipients[i];

		own = strcmp(rc_->handle, c->handle) == 0;
		if ((rc = dircache_get(c->srv, rc_->handle, l, &cur)) != SOTTO_OK) {
			if (rc == SOTTO_ERR_NOT_FOUND) {
				/* As a lookup's miss, and the lists before it as hits. */
				session_charge_lookup(c, SOTTO_LOOKUP_MISS_COST + (double)i);
				r.status = ST(NO_SUCH_HANDLE);
				r.error = "no such handle";
				r.handle = rc_->handle;
				session_respond(c, f->id, &r);
			} else
				session_respond_status(c, f->id, ST(INTERNAL), "storage error");
			goto fail;
		}
		dir_follow(c, rc_->handle);
		if (rc_->list_version != cur->version || !copies_match(rc_, cur, own ? c->device_id : NULL)) {
			sotto__wire__stale_list__init(&stale_buf[n_stale]);
			stale_buf[n_stale].handle = rc_->handle;
			stale_buf[n_stale].version = cur->version;
			stale_ptr[n_stale] = &stale_buf[n_stale];
			n_stale++;
		}
	}
	/* Leaving out one's own handle is only right with no other device to tell. */
	if (!own_seen) {
		if ((rc = dircache_get(c->srv, c->handle, l, &cur)) != SOTTO_OK) {
			session_respond_status(c, f->id, ST(INTERNAL), "storage error");
			goto fail;
		}
		if (other_devices(cur, c->device_id) > 0) {
			sotto__wire__stale_list__init(&stale_buf[n_stale]);
			stale_buf[n_stale].handle = c->handle;
			stale_buf[n_stale].version = cur->version;
			stale_ptr[n_stale] = &stale_buf[n_stale];
			n_stale++;
		}
	}
	if (n_stale > 0) {
		session_charge_lookup(c, (double)n_stale);	/* each names a list, as a lookup */
		r.status = ST(STALE_DEVICE_LIST);
		r.error = "device lists changed";
		r.n_stale = n_stale;
		r.stale = stale_ptr;
		session_respond(c, f->id, &r);
		log_debug("send_stale", "conn=%llu stale=%zu", (unsigned long long)c->serial, n_stale);
		goto fail;
	}
	free(l);
	l = NULL;
	if (!byte_rate_ok(c, f->id, rq))
		goto fail;
	send_staged(c, f);
	return;
fail:
	free(l);
	wire_free(f);
}

void
mbox_ack(conn *c, wire_frame *f)
{
	if (f->ack->n_seqs == 0) {
		session_respond_status(c, f->id, ST(OK), NULL);
		wire_free(f);
		return;
	}
	if (stage(c, OP_ACK, f, 0, 0) != SOTTO_OK) {
		session_respond_status(c, f->id, ST(INTERNAL), "out of memory");
		wire_free(f);
	}
}

static void
deliveries_fill(Sotto__Wire__Delivery *d, const store_copy *cp)
{
	sotto__wire__delivery__init(d);
	d->seq = cp->seq;
	d->envelope.data = cp->envelope;
	d->envelope.len = cp->envelope_len;
	d->wrap.data = cp->wrap;
	d->wrap.len = cp->wrap_len;
	d->stored_at = cp->stored_at;
}

void
mbox_fetch(conn *c, uint64_t id, const Sotto__Wire__FetchRequest *rq)
{
	Sotto__Wire__Response r = SOTTO__WIRE__RESPONSE__INIT;
	Sotto__Wire__Delivery *d = NULL, **dp = NULL;
	store *st = c->srv->st;
	store_copy *cp = NULL;
	size_t n = 0, max = rq->max;
	int more = 0;

	if (max == 0 || max > SOTTO_MAX_FETCH_BATCH)
		max = SOTTO_MAX_FETCH_BATCH;
	/* Pushes begin before the store is read: a copy committed after the
	 * read is pushed, one committed before is in the answer (early.c). */
	if (!c->fetching) {
		c->fetch_from = early_next(c->srv);
		early_route_add(c->srv, c->device_id);
		c->fetching = 1;
	}
	if (st->ops->copy_fetch(st, c->handle, c->device_id, now_ms(), max, SOTTO_MAX_FRAME - SOTTOD_FRAME_SLACK,
	    &cp, &n, &more) != SOTTO_OK) {
		session_respond_status(c, id, ST(INTERNAL), "storage error");
		goto out;
	}
	if (n > 0 && ((d = calloc(n, sizeof(*d))) == NULL || (dp = calloc(n, sizeof(*dp))) == NULL)) {
		session_respond_status(c, id, ST(INTERNAL), "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		deliveries_fill(&d[i], &cp[i]);
		dp[i] = &d[i];
	}
	r.status = ST(OK);
	r.n_deliveries = n;
	r.deliveries = dp;
	r.more = more;
	session_respond(c, id, &r);
	metrics_deliveries(n);
	log_debug("fetch", "conn=%llu n=%zu more=%d", (unsigned long long)c->serial, n, more);
out:
	free(dp);
	free(d);
	store_copies_free(cp, n);
}

/* A count kept for this transaction, or counted now (and kept if there is room). */
static int
counted(store *st, mbatch *b, enum qcount_kind kind, const char *account, const uint8_t *id,
    const char *sender, uint64_t *n, uint64_t **kept)
{
	uint64_t copies;
	int rc;

	if ((*kept = qcount_find_key(b->qc, kind, id, sender)) != NULL) {
		*n = **kept;
		return SOTTO_OK;
	}
	if (kind == QC_QUEUE)
		rc = st->ops->copy_count(st, account, id, b->now, n);
	else if (kind == QC_SHARE)
		rc = st->ops->copy_count_sender(st, id, sender, b->now, n);
	else
		rc = st->ops->usage_get(st, sender, n, &copies);
	if (rc == SOTTO_OK)
		*kept = qcount_put_key(b->qc, kind, id, sender, *n);
	return rc;
}

static int
apply_send(store *st, mbatch *b, size_t opi, const sottod_config *cfg, uint64_t expiry_ms)
{
	staged_op *op = &b->ops[opi];
	const Sotto__Wire__SendRequest *rq = op->f->send;
	store_copy cp;
	uint64_t count, share, stored, seq, k = 0, *kept, *kept_share, *kept_bytes;
	size_t start = b->np;
	enum quota_verdict v;
	int rc;

	if ((rc = st->ops->mark(st)) != SOTTO_OK)
		return rc;
	/* The whole send against the sender's quota: what it would store. */
	if ((rc = counted(st, b, QC_BYTES, NULL, NULL, op->sender, &stored, &kept_bytes)) != SOTTO_OK)
		goto fail;
	if (quota_bytes_check(cfg, stored, op->bytes) != QV_OK) {
		op->stored = stored;
		rc = SOTTO_ERR_QUOTA;
		goto fail;
	}
	for (size_t i = 0; i < rq->n_recipients; i++) {
		const Sotto__Wire__Recipient *r = rq->recipients[i];
		/* The sender's own other devices: no other user to protect, and a
		 * device offline for long must not stop its account from sending. */
		int own = strcmp(r->handle, op->sender) == 0;

		for (size_t j = 0; j < r->n_copies; j++) {
			const Sotto__Wire__Copy *c = r->copies[j];

			share = 0;
			kept_share = NULL;
			if ((rc = counted(st, b, QC_QUEUE, r->handle, c->device_id.data, NULL, &count, &kept)) !=
			    SOTTO_OK ||
			    (!own && (rc = counted(st, b, QC_SHARE, r->handle, c->device_id.data, op->sender, &share,
			    &kept_share)) != SOTTO_OK))
				goto fail;
			if ((v = quota_copy_check(cfg, count, share)) != QV_OK) {
				op->full_handle = r->handle;
				rc = v == QV_SHARE_FULL ? SOTTO_ERR_SHARE_FULL : SOTTO_ERR_MAILBOX_FULL;
				goto fail;
			}
			memset(&cp, 0, sizeof(cp));
			memcpy(cp.device_id, c->device_id.data, SC_DEVICE_ID);
			memcpy(cp.msg_id, rq->msg_id.data, STORE_MSG_ID_LEN);
			cp.envelope = rq->envelope.data;
			cp.envelope_len = rq->envelope.len;
			cp.wrap = c->wrap.data;
			cp.wrap_len = c->wrap.len;
			cp.stored_at = b->now;
			cp.expires_at = b->now + expiry_ms;
			snprintf(cp.sender, sizeof(cp.sender), "%s", op->sender);
			/* Pushed early under this seq: stored under it. */
			cp.seq = op->first_seq != 0 ? op->first_seq + k : 0;
			k++;
			if ((rc = st->ops->copy_add(st, r->handle, &cp, &seq)) != SOTTO_OK)
				goto fail;
			if (seq == 0)
				continue;	/* already queued: a retried send */
			if (kept != NULL)
				(*kept)++;
			if (kept_share != NULL)
				(*kept_share)++;
			if (kept_bytes != NULL)
				*kept_bytes += (uint64_t)cp.envelope_len + cp.wrap_len;
			if ((rc = array_grow(&b->pushes, &b->pcap, b->np, sizeof(*b->pushes), 64, SIZE_MAX)) !=
			    SOTTO_OK)
				goto fail;
			b->pushes[b->np++] = (push_rec){ .op = opi, .rcpt = i, .copy = j, .seq = seq };
		}
	}
	return st->ops->release(st);
fail:
	st->ops->undo(st);
	/* The counts kept include what was just undone. */
	qcount_reset(b->qc);
	b->np = start;
	return rc;
}

/* Every new copy is announced: its device may be connected to another worker
 * or node (or to several), which then pushes it from the store. */
static void
announce_copies(store *st, mbatch *b)
{
	store_wake w;

	memset(&w, 0, sizeof(w));
	for (size_t i = 0; i < b->np; i++) {
		const Sotto__Wire__SendRequest *rq = b->ops[b->pushes[i].op].f->send;

		memcpy(w.device_id, rq->recipients[b->pushes[i].rcpt]->copies[b->pushes[i].copy]->device_id.data,
		    SC_DEVICE_ID);
		w.seq = b->pushes[i].seq;
		w.kind = b->ops[b->pushes[i].op].early_remote ? STORE_WAKE_EARLY_COPY : STORE_WAKE_COPY;
		if (st->ops->announce(st, &w) != SOTTO_OK) {
			b->wake_errors++;
			break;
		}
	}
}

static void
ignore_wake(void *arg, const store_wake *w)
{
	(void)arg;
	(void)w;
}

static uint64_t
mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/*
 * Group commit: every send and ack of the batch shares one transaction (one
 * fsync); nobody hears OK before that commit returns (answer()).
 */
void
mailbox_commit(store *st, mbatch *b, const sottod_config *cfg, const early_seqs *seqs)
{
	uint64_t expiry_ms = cfg->expiry_seconds * 1000, us0 = mono_us();
	size_t i;
	int rc;

	b->now = now_ms();
	b->np = 0;
	b->committed = 0;
	b->store_broken = 0;
	b->wake_errors = 0;
	/* Without it (out of memory) every copy counts its queue. */
	if (b->qc == NULL)
		b->qc = qcount_new();
	qcount_reset(b->qc);
	if ((rc = st->ops->begin(st)) != SOTTO_OK) {
		log_error("begin_failed", "ops=%zu rows=%zu err=\"%s\"", b->n, b->rows, sotto_strerror(rc));
		for (i = 0; i < b->n; i++)
			b->ops[i].status = ST(INTERNAL);
		b->commit_us = mono_us() - us0;
		b->store_broken = st->ops->wake_drain(st, 0, ignore_wake, NULL) != SOTTO_OK;
		return;
	}
	for (i = 0; i < b->n; i++) {
		staged_op *op = &b->ops[i];

		if (op->kind == OP_SEND) {
			rc = apply_send(st, b, i, cfg, expiry_ms);
			op->status = rc == SOTTO_OK ? ST(OK) :
			    rc == SOTTO_ERR_MAILBOX_FULL ? ST(MAILBOX_FULL) :
			    rc == SOTTO_ERR_SHARE_FULL ? ST(SENDER_SHARE_FULL) :
			    rc == SOTTO_ERR_QUOTA ? ST(ACCOUNT_QUOTA_FULL) : ST(INTERNAL);
		} else {
			size_t del = 0;

			rc = st->ops->copy_ack(st, op->account, op->device_id, op->f->ack->seqs,
			    op->f->ack->n_seqs, &del);
			op->deleted += del;
			qcount_deleted(b->qc, op->device_id, del);
			op->status = rc == SOTTO_OK ? ST(OK) : ST(INTERNAL);
			/* A seq pushed early whose copy is not committed yet: again later. */
			op->waits = rc == SOTTO_OK && del < op->f->ack->n_seqs && b->now < op->wait_until &&
			    early_ack_waits(seqs, op->f->ack->seqs, op->f->ack->n_seqs);
		}
		if (op->status == ST(INTERNAL))
			log_error("store_failed", "conn=%llu op=%s err=\"%s\"", (unsigned long long)op->serial,
			    op->kind == OP_SEND ? "send" : "ack", sotto_strerror(rc));
	}
	announce_copies(st, b);
	if ((rc = st->ops->commit(st)) != SOTTO_OK) {
		log_error("commit_failed", "ops=%zu err=\"%s\"", b->n, sotto_strerror(rc));
		for (i = 0; i < b->n; i++)
			b->ops[i].status = ST(INTERNAL);
		b->np = 0;
	} else
		b->committed = 1;
	b->commit_us = mono_us() - us0;
	/* A PostgreSQL writer whose connection died fails every batch from now
	 * on: its wake_drain (io 0: no read) says so, and the worker restarts. */
	b->store_broken = !b->committed && st->ops->wake_drain(st, 0, ignore_wake, NULL) != SOTTO_OK;
}

/*
 * Empty b: every op's frame freed and reference dropped, but for ops moved to
 * another batch (c == NULL). The counts are reset first: conn_unref may free a
 * conn, which never re-enters the batch.
 */
static void
release(mbatch *b)
{
	size_t n = b->n;

	b->n = 0;
	b->rows = 0;
	b->np = 0;
	b->first_seq = 0;
	for (size_t i = 0; i < n; i++) {
		if (b->ops[i].c == NULL)
			continue;
		wire_free(b->ops[i].f);
		conn_unref(b->ops[i].c);
	}
}

/* An ack that must wait for a commit goes into the staging batch again, with
 * its reference and frame (never the batch being answered: that is b). */
static int
restage(server *s, const staged_op *op)
{
	mbatch *b = staging(s);
	staged_op *slot;

	if ((slot = batch_add(b)) == NULL)
		return SOTTO_ERR_NOMEM;
	*slot = *op;
	slot->waits = 0;
	b->rows += op->f->ack->n_seqs;
	return SOTTO_OK;
}

/* Back on the loop: answer every op of a committed (or failed) batch, push its
 * new copies to this worker's devices, and empty it. */
static size_t
answer(server *s, mbatch *b)
{
	size_t i, sent_ok = 0, sends = 0, moved = 0;

	metrics_commit(b->commit_us);
	if (!b->committed)
		metrics_error(ME_COMMIT);
	if (b->store_broken)
		s->store_failed = 1;
	for (i = 0; i < b->wake_errors; i++)
		metrics_error(ME_WAKE);
	for (i = 0; i < b->n; i++) {
		staged_op *op = &b->ops[i];
		Sotto__Wire__Response r = SOTTO__WIRE__RESPONSE__INIT;
		char text[192];

		if (op->waits && b->committed && restage(s, op) == SOTTO_OK) {
			op->c = NULL;	/* moved: neither answered nor released here */
			moved++;
			continue;
		}
		r.status = op->status;
		if (op->status == ST(INTERNAL))
			metrics_error(ME_STORAGE);
		else if (op->status == ST(OK) && op->kind == OP_SEND)
			sent_ok++;
		if (op->status == ST(MAILBOX_FULL)) {
			cap_exceeded(op->c, "mailbox_cap", "handle=%s cap=%llu", op->full_handle,
			    (unsigned long long)s->cfg.mailbox_cap);
			metrics_refusal(MR_MAILBOX_FULL);
			r.error = "recipient mailbox is full";
			r.handle = (char *)op->full_handle;
		} else if (op->status == ST(SENDER_SHARE_FULL)) {
			cap_exceeded(op->c, "mailbox_sender_cap", "handle=%s sender=%s cap=%llu", op->full_handle,
			    op->sender, (unsigned long long)quota_share_cap(&s->cfg));
			metrics_refusal(MR_SENDER_SHARE);
			snprintf(text, sizeof(text), "this account's share of the recipient's mailbox is full "
			    "(%llu copies per device); wait until they receive",
			    (unsigned long long)quota_share_cap(&s->cfg));
			r.error = text;
			r.handle = (char *)op->full_handle;
		} else if (op->status == ST(ACCOUNT_QUOTA_FULL)) {
			cap_exceeded(op->c, "account_quota_bytes", "sender=%s stored=%llu bytes=%llu quota=%llu",
			    op->sender, (unsigned long long)op->stored, (unsigned long long)op->bytes,
			    (unsigned long long)s->cfg.account_quota_bytes);
			metrics_refusal(MR_ACCOUNT_QUOTA);
			snprintf(text, sizeof(text), "this account's storage quota is full: its copies not yet "
			    "received hold %llu bytes, this send needs %llu more (quota %llu)",
			    (unsigned long long)op->stored, (unsigned long long)op->bytes,
			    (unsigned long long)s->cfg.account_quota_bytes);
			r.error = text;
		} else if (op->status != ST(OK))
			r.error = "storage error";
		session_respond(op->c, op->id, &r);
		if (op->kind == OP_SEND) {
			sends++;
			log_debug("send", "conn=%llu status=%d", (unsigned long long)op->c->serial,
			    (int)op->status);
		} else
			log_debug("ack", "conn=%llu n=%zu deleted=%zu", (unsigned long long)op->c->serial,
			    op->f->ack->n_seqs, op->deleted);
	}
	metrics_sends(sent_ok);
	for (i = 0; i < b->np; i++) {
		const staged_op *op = &b->ops[b->pushes[i].op];
		const Sotto__Wire__SendRequest *rq = op->f->send;
		const Sotto__Wire__Copy *cp = rq->recipients[b->pushes[i].rcpt]->copies[b->pushes[i].copy];

		/* Pushed early: only to a connection that may have missed it. */
		early_push(s, cp->device_id.data, b->pushes[i].seq, b->now, rq->envelope.data, rq->envelope.len,
		    cp->wrap.data, cp->wrap.len, op->first_seq != 0);
	}
	log_debug("batch_commit", "ops=%zu sends=%zu copies=%zu ok=%d us=%llu", b->n, sends, b->np,
	    b->committed, (unsigned long long)b->commit_us);
	release(b);
	return moved;
}

void
mailbox_kick(server *s)
{
	mbatch *b = staging(s);

	/* This turn's early pushes to the other workers: one write each. */
	if (s->seqs != NULL)
		store_sqlite_deliver_flush(s->st);
	if (b->n == 0) {
		if (b->first_seq != 0) {
			b->first_seq = 0;	/* its send was never staged */
			early_publish(s);
		}
		return;
	}
	if (s->cm == NULL) {
		/* A waiting ack is staged again: inline, commit until none waits. */
		for (int round = 0; round < 64 && staging(s)->n > 0; round++) {
			mbatch *cur = staging(s);

			s->staging = !s->staging;
			mailbox_commit(s->st, cur, &s->cfg, s->seqs);
			answer(s, cur);
		}
		early_publish(s);
		return;
	}
	if (s->inflight)
		return;		/* mailbox_reap kicks again */
	s->inflight = 1;
	s->staging = !s->staging;
	committer_submit(s->cm, b);
}

void
mailbox_reap(server *s)
{
	size_t moved;

	if (s->cm == NULL || !s->inflight || !committer_done(s->cm))
		return;
	s->inflight = 0;
	moved = answer(s, &s->mb[!s->staging]);
	early_publish(s);
	/* Only acks waiting for another worker's commit: try again shortly, not
	 * in a tight loop of commits that cannot help them yet. */
	if (moved > 0 && moved == staging(s)->n)
		net_request_flush_after(s, MAILBOX_ACK_RETRY_US);
	else
		mailbox_kick(s);
}

/* Block until the committer is done with its batch, and answer it. */
static void
wait_inflight(server *s)
{
	if (s->cm == NULL || !s->inflight)
		return;
	committer_wait(s->cm);
	s->inflight = 0;
	answer(s, &s->mb[!s->staging]);
	early_publish(s);
}

void
mailbox_flush(server *s)
{
	wait_inflight(s);
	mailbox_kick(s);
	wait_inflight(s);
}

void
mailbox_discard(server *s)
{
	for (int k = 0; k < 2; k++)
		if (k == (int)s->staging || !s->inflight)	/* else still the committer's */
			release(&s->mb[k]);
}

void
mailbox_free(server *s)
{
	mailbox_discard(s);
	free(s->early_seen);
	s->early_seen = NULL;
	free(s->route_cnt);
	s->route_cnt = NULL;
	dircache_free(s);
	quota_rate_free(s->qrate);
	s->qrate = NULL;
	for (int k = 0; k < 2; k++) {
		free(s->mb[k].ops);
		free(s->mb[k].pushes);
		qcount_free(s->mb[k].qc);
		memset(&s->mb[k], 0, sizeof(s->mb[k]));
	}
}

int
mailbox_sweep(server *s)
{
	store *st = s->st;
	size_t deleted = 0;
	int rc;

	if (s->worker != 0)
		return 0;
	if ((rc = st->ops->begin(st)) != SOTTO_OK ||
	    (rc = st->ops->copy_sweep(st, now_ms(), SOTTOD_SWEEP_BATCH, &deleted)) != SOTTO_OK) {
		st->ops->rollback(st);
		log_error("sweep_failed", "err=\"%s\"", sotto_strerror(rc));
		return 0;
	}
	if ((rc = st->ops->commit(st)) != SOTTO_OK) {
		log_error("sweep_failed", "err=\"%s\"", sotto_strerror(rc));
		return 0;
	}
	if (deleted > 0)
		log_info("expired", "copies=%zu", deleted);
	return deleted == SOTTOD_SWEEP_BATCH;
}
