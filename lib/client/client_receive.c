/* SPDX-License-Identifier: ISC */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "envelope.h"

static int
looked_up(const client_budget *b, const char *handle)
{
	for (size_t i = 0; i < b->n; i++)
		if (strcmp(b->handle[i], handle) == 0)
			return 1;
	return 0;
}

/* The sender device's signing key, from the sender's verified list; the list
 * is brought up to date once per receive if the device is not (yet) in it,
 * while the budget lasts (*defer: it is spent; budget NULL: never, a device
 * not in the stored list is unknown). */
static int
sender_key(sotto_client *c, const env_header *h, uint8_t pub[static SC_SIGN_PUB],
    client_budget *budget, int *defer)
{
	dl_list *l = NULL;
	cstore_contact k;
	const dl_device *d;
	int r;

	if ((l = calloc(1, sizeof(*l))) == NULL)
		return SOTTO_ERR_NOMEM;
	r = cstore_contact_get(c->st, h->sender, &k);
	if (r == SOTTO_OK && k.state == CONTACT_RESET_PENDING) {
		r = SOTTO_ERR_IDENTITY_RESET;
		goto out;
	}
	if (r == SOTTO_OK)
		r = cstore_list_latest(c->st, h->sender, l, NULL, NULL);
	if (r == SOTTO_OK && (d = dl_find(l, h->sender_device)) != NULL)
		goto found;
	if (r != SOTTO_OK && r != SOTTO_ERR_NOT_FOUND)
		goto out;
	r = SOTTO_ERR_UNKNOWN_DEVICE;
	if (budget == NULL || looked_up(budget, h->sender))
		goto out;
	if (budget->n >= SOTTO_CLIENT_MAX_LOOKUPS) {
		*defer = 1;
		goto out;
	}
	snprintf(budget->handle[budget->n++], sizeof(budget->handle[0]), "%s", h->sender);
	if ((r = client_list_refresh(c, h->sender, l, NULL, NULL)) != SOTTO_OK)
		goto out;
	/* Still unknown: check the whole history, so a forked chain (another
	 * account under this handle) is caught as an identity reset. */
	if ((d = dl_find(l, h->sender_device)) == NULL &&
	    (r = client_list_recheck(c, h->sender, 0, l)) != SOTTO_OK)
		goto out;
	r = SOTTO_ERR_UNKNOWN_DEVICE;
	if (d == NULL && (d = dl_find(l, h->sender_device)) == NULL)
		goto out;
found:
	memcpy(pub, d->sig_pub, SC_SIGN_PUB);
	r = SOTTO_OK;
out:
	free(l);
	return r;
}

void
client_copy_open(sotto_client *c, const uint8_t *env, size_t env_len, const uint8_t *wrap,
    size_t wrap_len, client_budget *budget, client_copy *in)
{
	uint8_t pub[SC_SIGN_PUB];
	env_header *opened = NULL;
	int r;

	in->env = env;
	in->env_len = env_len;
	in->wrap = wrap;
	in->wrap_len = wrap_len;
	/* Named in the alert even if nothing else of the copy can be read. */
	if (env_claimed_sender(in->claimed, env, env_len) != SOTTO_OK)
		in->claimed[0] = '\0';
	if ((r = env_parse_header(&in->h, env, env_len)) != SOTTO_OK)
		goto bad;
	if ((r = sender_key(c, &in->h, pub, budget, &in->defer)) != SOTTO_OK)
		goto bad;
	r = SOTTO_ERR_NOMEM;
	if ((opened = calloc(1, sizeof(*opened))) == NULL)
		goto bad;
	/* The parsed header stays in `in` for the alert if opening fails. */
	if ((r = env_open(opened, &in->content, &in->content_len, env, env_len, wrap, wrap_len, pub,
	    c->cfg.handle, c->cfg.device_id, CLIENT_ENC_SEC(c))) != SOTTO_OK)
		goto bad;
	if (in->content_len > SOTTO_MAX_BODY) {
		r = SOTTO_ERR_TOO_LARGE;
		goto bad;
	}
	in->h = *opened;
	free(opened);
	return;
bad:
	free(opened);
	if (in->content != NULL)
		sc_wipe(in->content, in->content_len);
	free(in->content);
	in->content = NULL;
	in->content_len = 0;
	in->err = r;
}

void
client_copy_clear(client_copy *in)
{
	if (in->content != NULL)
		sc_wipe(in->content, in->content_len);
	free(in->content);
	in->content = NULL;
	in->content_len = 0;
}

/* Not the copy's fault: this device or the way to the server failed. Nothing
 * is acknowledged; the copy comes back next time. */
static int
is_local_failure(int err)
{
	return client_err_transient(err) || err == SOTTO_ERR_DB || err == SOTTO_ERR_NOMEM ||
	    err == SOTTO_ERR_PIN || err == SOTTO_ERR_INTERNAL;
}

typedef struct reject_text {
	const char *sender;
	int err;
} reject_text;

/* "a message from carol was rejected: ...", then "37 messages from carol
 * could not be opened (last: ...)": one row per claimed sender. */
static void
reject_text_fn(char *out, size_t max, uint64_t count, void *arg)
{
	const reject_text *t = arg;

	if (count == 1)
		snprintf(out, max, "a message %s%s was rejected: %s", t->sender[0] ? "from " : "",
		    t->sender, sotto_strerror(t->err));
	else if (t->sender[0] != '\0')
		snprintf(out, max, "%llu messages from %s could not be opened (last: %s)",
		    (unsigned long long)count, t->sender, sotto_strerror(t->err));
	else
		snprintf(out, max, "%llu messages that name no valid sender could not be opened (last: %s)",
		    (unsigned long long)count, sotto_strerror(t->err));
}

/* The alert for a copy set aside. The sender is the one the bytes claim:
 * the header's if it parsed, else what env_claimed_sender could read. */
static int
reject(sotto_client *c, const client_copy *in, uint64_t now)
{
	reject_text t;

	t.sender = in->h.sender[0] != '\0' ? in->h.sender : in->claimed;
	t.err = in->err;
	return cstore_alert_group(c->st, "rejected_message", t.sender,
	    in->h.sender[0] != '\0' ? in->h.sender_device : NULL, now, reject_text_fn, &t);
}

/* From a sender whose identity reset waits for `trust`: it cannot be verified
 * now, and must not be lost either. Kept as delivered and opened again once
 * the user trusts the sender (client_release_held). *kept 0: beyond the caps,
 * rejected as any copy that cannot be verified. */
static int
hold(sotto_client *c, const client_copy *in, uint64_t now, int *kept)
{
	uint8_t env_hash[SC_SHA256];
	char text[512];
	int r, first = 0;

	*kept = 0;
	sc_sha256(env_hash, in->env, in->env_len);
	r = cstore_held_add(c->st, in->h.sender, env_hash, in->env, in->env_len, in->wrap, in->wrap_len,
	    now, &first);
	if (r == SOTTO_ERR_TOO_LARGE)
		return SOTTO_OK;
	if (r != SOTTO_OK)
		return r;
	*kept = 1;
	snprintf(text, sizeof(text), "messages from %s are held: %s's identity was reset; check it, "
	    "then after `sotto trust %s` the next receive shows them", in->h.sender, in->h.sender,
	    in->h.sender);
	return first ? client_alert(c, "held_message", in->h.sender, NULL, text, text) : SOTTO_OK;
}

/* One opened copy into the store: SOTTO_OK (stored, held, set aside or a
 * replay), else why its bytes could not be stored. */
static int
store_one(sotto_client *c, client_copy *in, uint64_t now, cstore_message *m)
{
	size_t j, used;
	int r, kept = 0;

	if (in->err == SOTTO_ERR_IDENTITY_RESET && in->h.sender[0] != '\0') {
		r = hold(c, in, now, &kept);
		if ((r == SOTTO_OK && kept) || (r != SOTTO_OK && is_local_failure(r)))
			return r;
		/* Beyond the caps, or bytes the held table refuses: rejected. */
	}
	if (in->err != SOTTO_OK)
		return reject(c, in, now);
	memset(m, 0, sizeof(*m));
	memcpy(m->msg_id, in->h.msg_id, sizeof(m->msg_id));
	snprintf(m->from, sizeof(m->from), "%s", in->h.sender);
	memcpy(m->device, in->h.sender_device, SC_DEVICE_ID);
	for (j = 0, used = 0; j < in->h.n_recipients; j++) {
		int k = snprintf(m->to + used, sizeof(m->to) - used, "%s%s", j ? "," : "",
		    in->h.recipients[j]);

		if (k < 0 || (size_t)k >= sizeof(m->to) - used)
			return SOTTO_ERR_TOO_LARGE;
		used += (size_t)k;
	}
	m->sent_at = in->h.sent_at;
	m->body = in->content;
	m->body_len = in->content_len;
	m->outgoing = strcmp(in->h.sender, c->cfg.handle) == 0;
	m->received_at = now;
	r = cstore_message_add(c->st, m);
	if (r == SOTTO_ERR_REPLAY)
		return SOTTO_OK;	/* seen before: dropped without a word */
	if (r == SOTTO_OK)
		in->stored = 1;
	return r;
}

int
client_copies_store(sotto_client *c, client_copy *in, size_t n)
{
	cstore_message *m = NULL;
	uint64_t now = client_now_ms();
	size_t i;
	int r;

	if ((m = calloc(1, sizeof(*m))) == NULL)
		return SOTTO_ERR_NOMEM;
	if ((r = cstore_begin(c->st)) != SOTTO_OK)
		goto out;
	for (i = 0; i < n; i++) {
		in[i].stored = 0;
		if (in[i].defer)
			continue;
		/*
		 * Each copy in its own savepoint: whatever a validly signed copy
		 * carries, if the store refuses what it holds it is set aside like
		 * one that does not open, never taking the batch with it. A failure
		 * of the store itself (SQLite, memory: a full disk) is no copy's
		 * fault: then nothing is stored or acknowledged, and it all comes
		 * again (the envelope's field ranges are what the store takes, so
		 * no content can cause one).
		 */
		if ((r = cstore_begin(c->st)) != SOTTO_OK)
			goto fail;
		if ((r = store_one(c, &in[i], now, m)) == SOTTO_OK) {
			if ((r = cstore_commit(c->st)) != SOTTO_OK)
				goto fail_inner;
			continue;
		}
		cstore_rollback(c->st);
		in[i].stored = 0;
		/* its alert failed, or the store did: the store is failing */
		if (in[i].err != SOTTO_OK || is_local_failure(r))
			goto fail;
		in[i].err = r;
		if (in[i].content != NULL)
			sc_wipe(in[i].content, in[i].content_len);
		free(in[i].content);
		in[i].content = NULL;
		in[i].content_len = 0;
		if ((r = cstore_begin(c->st)) != SOTTO_OK)
			goto fail;
		if ((r = reject(c, &in[i], now)) != SOTTO_OK || (r = cstore_commit(c->st)) != SOTTO_OK)
			goto fail_inner;
	}
	if ((r = cstore_commit(c->st)) != SOTTO_OK)
		goto fail;
	goto out;
fail_inner:
	cstore_rollback(c->st);
fail:
	cstore_rollback(c->st);
	for (i = 0; i < n; i++)
		in[i].stored = 0;
out:
	free(m);
	return r;
}

static int
ack(sotto_client *c, const client_copy *in, size_t n)
{
	Sotto__Wire__Frame f = SOTTO__WIRE__FRAME__INIT;
	Sotto__Wire__AckRequest a = SOTTO__WIRE__ACK_REQUEST__INIT;
	wire_frame *resp = NULL;
	uint64_t seqs[SOTTO_MAX_FETCH_BATCH];
	size_t i, k = 0;
	int r;

	for (i = 0; i < n && k < SOTTO_MAX_FETCH_BATCH; i++)
		if (!in[i].defer)
			seqs[k++] = in[i].seq;
	if (k == 0)
		return SOTTO_OK;
	a.n_seqs = k;
	a.seqs = seqs;
	f.msg_case = SOTTO__WIRE__FRAME__MSG_ACK;
	f.ack = &a;
	r = conn_request(c->cn, &f, &resp);
	wire_free(resp);
	return r;
}

static int
deliver(sotto_client *c, const client_copy *in, sotto_message_cb cb, void *arg)
{
	const char *to[SOTTO_MAX_RECIPIENTS];
	char id[ENV_MSG_ID_LEN * 2 + 1], dev[SC_DEVICE_ID * 2 + 1];
	sotto_message m;

	sc_hex(id, in->h.msg_id, ENV_MSG_ID_LEN);
	sc_hex(dev, in->h.sender_device, SC_DEVICE_ID);
	for (size_t i = 0; i < in->h.n_recipients; i++)
		to[i] = in->h.recipients[i];
	memset(&m, 0, sizeof(m));
	m.id = id;
	m.from = in->h.sender;
	m.device = dev;
	m.to = to;
	m.n_to = in->h.n_recipients;
	m.sent_at = in->h.sent_at;
	m.body = in->content;
	m.body_len = in->content_len;
	m.outgoing = strcmp(in->h.sender, c->cfg.handle) == 0;
	return cb(&m, arg);
}

/* A handle a receive re-checked because of hints, and how often. */
typedef struct hint_seen {
	char handle[SOTTO_MAX_HANDLE + 1];
	unsigned checks;
} hint_seen;

typedef struct rx_state {
	sotto_message_cb cb;
	void *arg;
	size_t n_new;
	int stop;
	int deferred;		/* a copy was left for the next receive: stop fetching */
	unsigned rounds;	/* Fetch answers: SOTTO_CLIENT_MAX_FETCH_ROUNDS */
	unsigned pushes;	/* pushes acted on: SOTTO_CLIENT_MAX_PUSHES_HANDLED */
	size_t n_hints;
	hint_seen hints[SOTTO_CLIENT_MAX_HINT_HANDLES];
	client_budget lk;
	sotto_client *c;
} rx_state;

/* A message stored by an earlier receive that ended before showing it. */
static int
deliver_stored(const cstore_message *sm, void *arg)
{
	rx_state *st = arg;
	int r;

	st->n_new++;
	if (st->cb != NULL && client_show_stored(sm, st->cb, st->arg) != 0) {
		st->stop = 1;
		return 1;
	}
	if ((r = cstore_message_mark_shown(st->c->st, sm->msg_id)) != SOTTO_OK)
		return r;
	return 0;
}

/* Verify, store, then acknowledge a batch of deliveries, then hand the new
 * messages to the caller. The ack comes only after the commit: a crash in
 * between redelivers, and the replay rule hides the second copy. */
static int
process(sotto_client *c, Sotto__Wire__Delivery *const *ds, size_t n, rx_state *st)
{
	client_copy *in = NULL;
	size_t i;
	int r = SOTTO_OK;

	if (n == 0)
		return SOTTO_OK;
	if (n > SOTTO_MAX_FETCH_BATCH)
		return SOTTO_ERR_PROTOCOL;
	if ((in = calloc(n, sizeof(*in))) == NULL)
		return SOTTO_ERR_NOMEM;
	for (i = 0; i < n; i++) {
		in[i].seq = ds[i]->seq;
		client_copy_open(c, ds[i]->envelope.data, ds[i]->envelope.len, ds[i]->wrap.data,
		    ds[i]->wrap.len, &st->lk, &in[i]);
		if (!in[i].defer && is_local_failure(in[i].err)) {
			r = in[i].err;	/* nothing acked: it all comes back next time */
			goto out;
		}
		if (in[i].defer)
			st->deferred = 1;
	}
	if ((r = client_copies_store(c, in, n)) != SOTTO_OK)
		goto out;
	/* Shown before the ack: once stored, a message must reach the user even if
	 * the server is gone by the time we acknowledge. A crash before it is
	 * marked shown shows it again on the next receive (from the store). */
	for (i = 0; i < n; i++) {
		if (!in[i].stored)
			continue;
		st->n_new++;
		if (st->cb != NULL && !st->stop && deliver(c, &in[i], st->cb, st->arg) != 0)
			st->stop = 1;
		if (!st->stop && (r = cstore_message_mark_shown(c->st, in[i].h.msg_id)) != SOTTO_OK)
			goto out;
	}
	if ((r = ack(c, in, n)) != SOTTO_OK)
		goto out;
out:
	for (i = 0; i < n; i++)
		client_copy_clear(&in[i]);
	free(in);
	return r;
}

/* Fetch until the queue is empty, a copy waits for the next receive, or the
 * rounds of this receive are spent: a server that always says `more` cannot
 * keep a receive going. */
static int
fetch_all(sotto_client *c, rx_state *st)
{
	Sotto__Wire__Frame f = SOTTO__WIRE__FRAME__INIT;
	Sotto__Wire__FetchRequest fr = SOTTO__WIRE__FETCH_REQUEST__INIT;
	wire_frame *resp = NULL;
	int r = SOTTO_OK, more;

	do {
		if (st->deferred || st->rounds >= SOTTO_CLIENT_MAX_FETCH_ROUNDS)
			break;
		st->rounds++;
		fr.max = SOTTO_MAX_FETCH_BATCH;
		f.msg_case = SOTTO__WIRE__FRAME__MSG_FETCH;
		f.fetch = &fr;
		if ((r = conn_request(c->cn, &f, &resp)) != SOTTO_OK)
			goto out;
		if ((r = process(c, resp->response->deliveries, resp->response->n_deliveries, st)) != SOTTO_OK)
			goto out;
		more = resp->response->more && resp->response->n_deliveries > 0;
		wire_free(resp);
		resp = NULL;
	} while (more);
out:
	wire_free(resp);
	return r;
}

/* 1 if a hint about handle may cause one more check in this receive:
 * SOTTO_CLIENT_MAX_HINT_CHECKS per handle, SOTTO_CLIENT_MAX_HINT_HANDLES
 * handles; a server sending hints without end gets no more requests. */
static int
hint_allowed(rx_state *st, const char *handle)
{
	size_t i;

	for (i = 0; i < st->n_hints; i++)
		if (strcmp(st->hints[i].handle, handle) == 0)
			break;
	if (i == st->n_hints) {
		if (st->n_hints >= SOTTO_CLIENT_MAX_HINT_HANDLES)
			return 0;
		snprintf(st->hints[i].handle, sizeof(st->hints[i].handle), "%s", handle);
		st->hints[i].checks = 0;
		st->n_hints++;
	}
	if (st->hints[i].checks >= SOTTO_CLIENT_MAX_HINT_CHECKS)
		return 0;
	st->hints[i].checks++;
	return 1;
}

/* Handle one push: a Delivery is processed; a DeviceListChanged hint makes us
 * check that list ourselves (the alert is computed here, never taken from the
 * server's word). */
static int
handle_push(sotto_client *c, wire_frame *f, rx_state *st)
{
	cstore_contact k;
	int r;

	st->pushes++;
	if (f->msg_case == SOTTO__WIRE__FRAME__MSG_DELIVERY)
		return st->deferred ? SOTTO_OK : process(c, &f->delivery, 1, st);
	if (f->msg_case != SOTTO__WIRE__FRAME__MSG_DEVICE_LIST_CHANGED ||
	    !handle_valid(f->device_list_changed->handle) ||
	    cstore_contact_get(c->st, f->device_list_changed->handle, &k) != SOTTO_OK ||
	    !hint_allowed(st, f->device_list_changed->handle))
		return SOTTO_OK;
	r = client_list_refresh(c, f->device_list_changed->handle, NULL, NULL, NULL);
	/* A reset is recorded as an alert; it must not stop the receive. */
	if (r != SOTTO_OK && r != SOTTO_ERR_IDENTITY_RESET && r != SOTTO_ERR_NO_SUCH_HANDLE)
		return r;
	return SOTTO_OK;
}

/* Pushes already queued, without waiting, while this receive may act on more. */
static int
drain_pushes(sotto_client *c, rx_state *st)
{
	wire_frame *f = NULL;
	int r;

	while (st->pushes < SOTTO_CLIENT_MAX_PUSHES_HANDLED &&
	    (r = conn_next_push(c->cn, 0, &f)) == SOTTO_OK) {
		r = handle_push(c, f, st);
		wire_free(f);
		f = NULL;
		if (r != SOTTO_OK)
			return r;
	}
	/* Copies pushed while the queue was full wait in the server's queue. */
	if (conn_pushes_dropped(c->cn))
		return fetch_all(c, st);
	return SOTTO_OK;
}

/*
 * One absolute deadline for the whole receive (the wait, then at most
 * SOTTO_CLIENT_RECEIVE_WORK_MS of fetching and checking): every request on
 * the connection ends by it, whatever the server keeps sending.
 */
int
sotto_receive(sotto_client *c, int wait_seconds, sotto_message_cb cb, void *arg, size_t *n_new)
{
	rx_state *st = NULL;
	wire_frame *f = NULL;
	int64_t start, wait_end, left;
	int r;

	c->detail[0] = '\0';
	client_warnings_clear(c);
	if (n_new != NULL)
		*n_new = 0;
	if (wait_seconds < 0 || wait_seconds > 24 * 3600)
		return SOTTO_ERR_INVALID_ARG;
	if ((st = calloc(1, sizeof(*st))) == NULL)
		return SOTTO_ERR_NOMEM;
	st->cb = cb;
	st->arg = arg;
	st->c = c;
	start = client_mono_ms();
	wait_end = start + (int64_t)wait_seconds * 1000;
	c->deadline = wait_end + SOTTO_CLIENT_RECEIVE_WORK_MS;
	/* First what an interrupted receive stored but did not show, even if the
	 * server is unreachable now. */
	r = cstore_messages_unshown(c->st, deliver_stored, st);
	client_warn_skipped(c);
	if (r < 0)
		goto out;
	if (st->stop) {
		r = SOTTO_OK;
		goto out;
	}
	if ((r = client_connect(c)) != SOTTO_OK)
		goto out;
	conn_set_deadline(c->cn, c->deadline);
	/* Every contact with the server checks my own list: a device added to my
	 * account shows on my other devices now, not when one happens to write. A
	 * reset is an alert; it must not stop the receive. */
	if ((r = client_list_refresh(c, c->cfg.handle, NULL, NULL, NULL)) != SOTTO_OK &&
	    r != SOTTO_ERR_IDENTITY_RESET)
		goto out;
	if ((r = fetch_all(c, st)) != SOTTO_OK || (r = drain_pushes(c, st)) != SOTTO_OK)
		goto out;
	while (st->n_new == 0 && !st->deferred && st->pushes < SOTTO_CLIENT_MAX_PUSHES_HANDLED &&
	    (left = wait_end - client_mono_ms()) > 0) {
		r = conn_next_push(c->cn, (int)left, &f);
		if (r == SOTTO_ERR_TIMEOUT) {
			r = SOTTO_OK;
			break;
		}
		if (r != SOTTO_OK)
			goto out;
		r = handle_push(c, f, st);
		wire_free(f);
		f = NULL;
		if (r != SOTTO_OK || (r = drain_pushes(c, st)) != SOTTO_OK)
			goto out;
		if (st->n_new > 0 && (r = fetch_all(c, st)) != SOTTO_OK)
			goto out;
	}
	r = SOTTO_OK;
out:
	wire_free(f);
	if (r == SOTTO_ERR_TIMEOUT && client_mono_ms() >= c->deadline)
		client_set_detail(c, "the receive took longer than its deadline (%d s after the wait); "
		    "what is left waits on the server", SOTTO_CLIENT_RECEIVE_WORK_MS / 1000);
	c->deadline = 0;
	if (c->cn != NULL)
		conn_set_deadline(c->cn, 0);
	if (r == SOTTO_ERR_NETWORK || r == SOTTO_ERR_TIMEOUT || r == SOTTO_ERR_PROTOCOL)
		client_disconnect(c);
	if (n_new != NULL)
		*n_new = st->n_new;
	free(st);
	return r;
}

/* One held message, opened again now that its sender is trusted. */
static int
release_one(const uint8_t *env, size_t env_len, const uint8_t *wrap, size_t wrap_len, void *arg)
{
	sotto_client *c = arg;
	client_copy in;
	int r;

	/* Against the list just trusted, without asking the server again per
	 * message: bytes from an unknown device are rejected, not looked up. */
	memset(&in, 0, sizeof(in));
	client_copy_open(c, env, env_len, wrap, wrap_len, NULL, &in);
	/* Reset again meanwhile, or a local failure: keep them all held. */
	if (is_local_failure(in.err) || in.err == SOTTO_ERR_IDENTITY_RESET)
		r = in.err;
	else
		r = client_copies_store(c, &in, 1);
	client_copy_clear(&in);
	return r;
}

int
client_release_held(sotto_client *c, const char *handle)
{
	int r;

	if ((r = cstore_begin(c->st)) != SOTTO_OK)
		return r;
	if ((r = cstore_held_each(c->st, handle, release_one, c)) != SOTTO_OK ||
	    (r = cstore_held_drop(c->st, handle)) != SOTTO_OK || (r = cstore_commit(c->st)) != SOTTO_OK) {
		cstore_rollback(c->st);
		return r;
	}
	return SOTTO_OK;
}
