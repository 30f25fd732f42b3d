/* SPDX-License-Identifier: ISC */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client.h"
#include "envelope.h"

/* One delivered copy on its way from the wire to the store. */
typedef struct incoming {
	uint64_t seq;
	const uint8_t *env, *wrap;	/* as delivered, borrowed: kept if held */
	size_t env_len, wrap_len;
	env_header h;
	uint8_t *content;	/* NULL if rejected or a replay */
	size_t content_len;
	int err;		/* why it was rejected, or SOTTO_OK */
	int stored;
} incoming;

/* The sender device's signing key, from the sender's verified list; the list
 * is brought up to date once if the device is not (yet) in it (local_only:
 * never — a device not in the stored list is unknown). */
static int
sender_key(sotto_client *c, const env_header *h, uint8_t pub[static SC_SIGN_PUB], int local_only)
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
	if (local_only) {
		r = SOTTO_ERR_UNKNOWN_DEVICE;
		goto out;
	}
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

static void
open_bytes(sotto_client *c, const uint8_t *env, size_t env_len, const uint8_t *wrap, size_t wrap_len,
    int local_only, incoming *in)
{
	uint8_t pub[SC_SIGN_PUB];
	env_header *opened = NULL;
	int r;

	in->env = env;
	in->env_len = env_len;
	in->wrap = wrap;
	in->wrap_len = wrap_len;
	if ((r = env_parse_header(&in->h, env, env_len)) != SOTTO_OK)
		goto bad;
	if ((r = sender_key(c, &in->h, pub, local_only)) != SOTTO_OK)
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
	free(in->content);
	in->content = NULL;
	in->err = r;
}

static void
open_one(sotto_client *c, const Sotto__Wire__Delivery *d, incoming *in)
{
	in->seq = d->seq;
	open_bytes(c, d->envelope.data, d->envelope.len, d->wrap.data, d->wrap.len, 0, in);
}

/* Not the copy's fault: this device or the way to the server failed. Nothing
 * is acknowledged; the copy comes back next time. */
static int
is_local_failure(int err)
{
	return client_err_transient(err) || err == SOTTO_ERR_DB || err == SOTTO_ERR_NOMEM ||
	    err == SOTTO_ERR_PIN || err == SOTTO_ERR_INTERNAL;
}

static int
store_batch(sotto_client *c, incoming *in, size_t n)
{
	cstore_message *m = NULL;
	char text[512];
	uint64_t now = client_now_ms();
	uint8_t env_hash[SC_SHA256];
	size_t i, j, used;
	int r, first = 0;

	if ((m = calloc(1, sizeof(*m))) == NULL)
		return SOTTO_ERR_NOMEM;
	if ((r = cstore_begin(c->st)) != SOTTO_OK)
		goto out;
	for (i = 0; i < n; i++) {
		/* From a sender whose identity reset waits for `trust`: it cannot be
		 * verified now, and must not be lost either. Kept as delivered and
		 * opened again once the user trusts the sender (client_release_held). */
		if (in[i].err == SOTTO_ERR_IDENTITY_RESET && in[i].h.sender[0] != '\0') {
			sc_sha256(env_hash, in[i].env, in[i].env_len);
			r = cstore_held_add(c->st, in[i].h.sender, env_hash, in[i].env, in[i].env_len,
			    in[i].wrap, in[i].wrap_len, now, &first);
			if (r != SOTTO_OK && r != SOTTO_ERR_TOO_LARGE)
				goto fail;
			if (r == SOTTO_OK) {
				snprintf(text, sizeof(text), "messages from %s are held: %s's identity was "
				    "reset; check it, then after `sotto trust %s` the next receive shows "
				    "them", in[i].h.sender, in[i].h.sender, in[i].h.sender);
				if (first && (r = client_alert(c, "held_message", in[i].h.sender, NULL, text,
				    text)) != SOTTO_OK)
					goto fail;
				continue;
			}
			/* Beyond the caps: rejected, as any copy that cannot be verified. */
		}
		if (in[i].err != SOTTO_OK) {
			snprintf(text, sizeof(text), "a message %s%s was rejected: %s",
			    in[i].h.sender[0] ? "from " : "", in[i].h.sender, sotto_strerror(in[i].err));
			if ((r = cstore_alert_add(c->st, "rejected_message",
			    in[i].h.sender[0] ? in[i].h.sender : "", in[i].h.sender[0] ?
			    in[i].h.sender_device : NULL, now, text)) != SOTTO_OK)
				goto fail;
			continue;
		}
		memset(m, 0, sizeof(*m));
		memcpy(m->msg_id, in[i].h.msg_id, sizeof(m->msg_id));
		snprintf(m->from, sizeof(m->from), "%s", in[i].h.sender);
		memcpy(m->device, in[i].h.sender_device, SC_DEVICE_ID);
		for (j = 0, used = 0; j < in[i].h.n_recipients; j++) {
			int k = snprintf(m->to + used, sizeof(m->to) - used, "%s%s", j ? "," : "",
			    in[i].h.recipients[j]);

			if (k < 0 || (size_t)k >= sizeof(m->to) - used) {
				r = SOTTO_ERR_INTERNAL;
				goto fail;
			}
			used += (size_t)k;
		}
		m->sent_at = in[i].h.sent_at;
		m->body = in[i].content;
		m->body_len = in[i].content_len;
		m->outgoing = strcmp(in[i].h.sender, c->cfg.handle) == 0;
		m->received_at = now;
		r = cstore_message_add(c->st, m);
		if (r == SOTTO_ERR_REPLAY)
			continue;	/* seen before: dropped without a word */
		if (r != SOTTO_OK)
			goto fail;
		in[i].stored = 1;
	}
	if ((r = cstore_commit(c->st)) != SOTTO_OK)
		goto fail;
	goto out;
fail:
	cstore_rollback(c->st);
	for (i = 0; i < n; i++)
		in[i].stored = 0;
out:
	free(m);
	return r;
}

static int
ack(sotto_client *c, const incoming *in, size_t n)
{
	Sotto__Wire__Frame f = SOTTO__WIRE__FRAME__INIT;
	Sotto__Wire__AckRequest a = SOTTO__WIRE__ACK_REQUEST__INIT;
	wire_frame *resp = NULL;
	uint64_t seqs[SOTTO_MAX_FETCH_BATCH];
	size_t i;
	int r;

	if (n == 0)
		return SOTTO_OK;
	for (i = 0; i < n; i++)
		seqs[i] = in[i].seq;
	a.n_seqs = n;
	a.seqs = seqs;
	f.msg_case = SOTTO__WIRE__FRAME__MSG_ACK;
	f.ack = &a;
	r = conn_request(c->cn, &f, &resp);
	wire_free(resp);
	return r;
}

static int
deliver(sotto_client *c, const incoming *in, sotto_message_cb cb, void *arg)
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

typedef struct rx_state {
	sotto_message_cb cb;
	void *arg;
	size_t n_new;
	int stop;
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
	incoming *in = NULL;
	size_t i;
	int r = SOTTO_OK;

	if (n == 0)
		return SOTTO_OK;
	if (n > SOTTO_MAX_FETCH_BATCH)
		return SOTTO_ERR_PROTOCOL;
	if ((in = calloc(n, sizeof(*in))) == NULL)
		return SOTTO_ERR_NOMEM;
	for (i = 0; i < n; i++) {
		open_one(c, ds[i], &in[i]);
		if (is_local_failure(in[i].err)) {
			r = in[i].err;	/* nothing acked: it all comes back next time */
			goto out;
		}
	}
	if ((r = store_batch(c, in, n)) != SOTTO_OK)
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
	for (i = 0; i < n; i++) {
		if (in[i].content != NULL)
			sc_wipe(in[i].content, in[i].content_len);
		free(in[i].content);
	}
	free(in);
	return r;
}

static int
fetch_all(sotto_client *c, rx_state *st)
{
	Sotto__Wire__Frame f = SOTTO__WIRE__FRAME__INIT;
	Sotto__Wire__FetchRequest fr = SOTTO__WIRE__FETCH_REQUEST__INIT;
	wire_frame *resp = NULL;
	int r, more;

	do {
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

/* Handle one push: a Delivery is processed; a DeviceListChanged hint makes us
 * check that list ourselves (the alert is computed here, never taken from the
 * server's word). */
static int
handle_push(sotto_client *c, wire_frame *f, rx_state *st)
{
	cstore_contact k;

	if (f->msg_case == SOTTO__WIRE__FRAME__MSG_DELIVERY)
		return process(c, &f->delivery, 1, st);
	if (f->msg_case == SOTTO__WIRE__FRAME__MSG_DEVICE_LIST_CHANGED &&
	    cstore_contact_get(c->st, f->device_list_changed->handle, &k) == SOTTO_OK) {
		int r = client_list_refresh(c, f->device_list_changed->handle, NULL, NULL, NULL);

		/* A reset is recorded as an alert; it must not stop the receive. */
		if (r != SOTTO_OK && r != SOTTO_ERR_IDENTITY_RESET && r != SOTTO_ERR_NO_SUCH_HANDLE)
			return r;
	}
	return SOTTO_OK;
}

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Pushes already queued, without waiting. */
static int
drain_pushes(sotto_client *c, rx_state *st)
{
	wire_frame *f = NULL;
	int r;

	while ((r = conn_next_push(c->cn, 0, &f)) == SOTTO_OK) {
		r = handle_push(c, f, st);
		wire_free(f);
		f = NULL;
		if (r != SOTTO_OK)
			return r;
	}
	return r == SOTTO_ERR_TIMEOUT ? SOTTO_OK : r;
}

int
sotto_receive(sotto_client *c, int wait_seconds, sotto_message_cb cb, void *arg, size_t *n_new)
{
	rx_state st;
	wire_frame *f = NULL;
	int64_t deadline, left;
	int r;

	c->detail[0] = '\0';
	client_warnings_clear(c);
	memset(&st, 0, sizeof(st));
	st.cb = cb;
	st.arg = arg;
	st.c = c;
	if (wait_seconds < 0 || wait_seconds > 24 * 3600)
		return SOTTO_ERR_INVALID_ARG;
	/* First what an interrupted receive stored but did not show, even if the
	 * server is unreachable now. */
	r = cstore_messages_unshown(c->st, deliver_stored, &st);
	client_warn_skipped(c);
	if (r < 0)
		goto out;
	if (st.stop) {
		r = SOTTO_OK;
		goto out;
	}
	if ((r = client_connect(c)) != SOTTO_OK)
		goto out;
	/* Every contact with the server checks my own list: a device added to my
	 * account shows on my other devices now, not when one happens to write. A
	 * reset is an alert; it must not stop the receive. */
	if ((r = client_list_refresh(c, c->cfg.handle, NULL, NULL, NULL)) != SOTTO_OK &&
	    r != SOTTO_ERR_IDENTITY_RESET)
		goto out;
	if ((r = fetch_all(c, &st)) != SOTTO_OK || (r = drain_pushes(c, &st)) != SOTTO_OK)
		goto out;
	if (st.n_new == 0 && wait_seconds > 0) {
		deadline = mono_ms() + (int64_t)wait_seconds * 1000;
		while (st.n_new == 0 && (left = deadline - mono_ms()) > 0) {
			r = conn_next_push(c->cn, (int)left, &f);
			if (r == SOTTO_ERR_TIMEOUT) {
				r = SOTTO_OK;
				break;
			}
			if (r != SOTTO_OK)
				goto out;
			r = handle_push(c, f, &st);
			wire_free(f);
			f = NULL;
			if (r != SOTTO_OK)
				goto out;
		}
		if (st.n_new > 0 && (r = fetch_all(c, &st)) != SOTTO_OK)
			goto out;
	}
	r = SOTTO_OK;
out:
	wire_free(f);
	if (r == SOTTO_ERR_NETWORK || r == SOTTO_ERR_TIMEOUT || r == SOTTO_ERR_PROTOCOL)
		client_disconnect(c);
	if (n_new != NULL)
		*n_new = st.n_new;
	return r;
}

/* One held message, opened again now that its sender is trusted. */
static int
release_one(const uint8_t *env, size_t env_len, const uint8_t *wrap, size_t wrap_len, void *arg)
{
	sotto_client *c = arg;
	incoming in;
	int r;

	/* Against the list just trusted, without asking the server again per
	 * message: bytes from an unknown device are rejected, not looked up. */
	memset(&in, 0, sizeof(in));
	open_bytes(c, env, env_len, wrap, wrap_len, 1, &in);
	/* Reset again meanwhile, or a local failure: keep them all held. */
	if (is_local_failure(in.err) || in.err == SOTTO_ERR_IDENTITY_RESET)
		r = in.err;
	else
		r = store_batch(c, &in, 1);
	if (in.content != NULL)
		sc_wipe(in.content, in.content_len);
	free(in.content);
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
