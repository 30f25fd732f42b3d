/* SPDX-License-Identifier: ISC */
/*
 * Sotto driver of the load generator: devices with keys derived from their handle
 * (so any process can compute any device's public keys without talking to the
 * others), registered with signed device lists, authenticated, sending real
 * envelopes sealed with env_seal to the recipient devices' keys.
 *
 * Envelopes are sealed before the timed part of a scenario (client CPU is not the
 * server's cost, and both run on the same two cores); send times are taken when
 * the frame is written, keyed by msg id, which encodes (stream, sequence).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "devicelist.h"
#include "envelope.h"
#include "lg.h"
#include "sotto/error.h"
#include "sotto_lg.h"
#include "wire.h"

#define CONTENT_LEN 200
#define MAX_RDEV 3		/* devices per recipient account in these scenarios */
#define MAGIC_PAIRS 0x50414952u
#define MAGIC_FAN 0x46414e4fu
#define MAGIC_PROBE 0x50524f42u
#define MAGIC_QUEUE 0x51554555u
#define CONNECT_BURST 128	/* handshakes in flight per process */
#define POOL_MAX 32		/* groups of registered handles lookups draw from */

lg_env lg;
unsigned lg_accounts;

typedef struct ident {
	char handle[SOTTO_MAX_HANDLE + 1];
	uint8_t acct_pub[SC_SIGN_PUB], acct_sec[SC_SIGN_SEC];
	uint8_t sig_pub[SC_SIGN_PUB], sig_sec[SC_SIGN_SEC];
	uint8_t enc_pub[SC_KX_PUB], enc_sec[SC_KX_SEC];
	uint8_t id[SC_DEVICE_ID];
} ident;

typedef struct sealed {
	uint8_t *env;
	size_t env_len;
	uint8_t *wraps;
} sealed;

typedef struct tset {
	size_t n;
	struct {
		char handle[SOTTO_MAX_HANDLE + 1];
		uint64_t version;
		unsigned ndev;
		uint8_t id[MAX_RDEV][SC_DEVICE_ID];
		uint8_t enc[MAX_RDEV][SC_KX_PUB];
	} r[SOTTO_MAX_RECIPIENTS];
} tset;

enum role { R_SEND, R_RECV, R_LOOKUP, R_REGONLY, R_DRAIN, R_PUBLISH };

typedef struct dconn {
	wsc w;
	ident me;
	int reg;			/* register (1) or authenticate (0) */
	uint8_t *list;			/* register: the signed v1 list */
	size_t list_len;
	int st;				/* 0 wait challenge, 1 wait auth answer, 2 authed, 3 gone */
	uint64_t next_id;
	enum role role;
	unsigned slot, nslots;		/* receivers: column in the latency table */
	/* senders */
	sealed *msgs;
	unsigned nmsgs, sent, okd, inflight, errs;
	uint64_t stream;
	const tset *ts;
	/* receivers, lookups, drain */
	uint64_t recvd, acked, fetch_id;
	unsigned lk_left, lk_done;
	int fetched, drained;
	uint32_t drain_batch;
	/* publish (fan-out setup): how many more versions to publish */
	unsigned pub_next, pub_upto;
	char kind[16];
	unsigned idx;
} dconn;

/* Process-wide state of one worker. */
static struct {
	lg_board *b;
	int wid;
	uint64_t *send_ns;		/* shared, by message number */
	uint32_t *lat_us;		/* shared, by message number * nslots + slot */
	uint64_t nmsg_total;
	unsigned nslots;
	uint32_t magic;
	unsigned window;
	int paced;			/* (b): only the schedule sends */
	uint64_t *lk_start;		/* lookups: per conn start time */
	uint32_t *lk_lat;
	uint64_t lk_n, lk_cap;
	struct sockaddr_in dst, src;
	int use_src;
	unsigned pool_n;
	char pool_prefix[POOL_MAX][24];
	unsigned pool_base[POOL_MAX], pool_count[POOL_MAX];
	unsigned opening;		/* handshakes in flight */
} W;

static struct {
	char prefix[POOL_MAX][24];
	unsigned base[POOL_MAX], count[POOL_MAX];
	unsigned n;
} pool;

/* Handles prefix-base .. prefix-(base+count-1) are registered. */
static void
pool_add_range(const char *prefix, unsigned base, unsigned count)
{
	lg_accounts += count;
	if (pool.n >= POOL_MAX || count == 0)
		return;
	snprintf(pool.prefix[pool.n], sizeof(pool.prefix[0]), "%s", prefix);
	pool.base[pool.n] = base;
	pool.count[pool.n++] = count;
}

static void
pool_add(const char *prefix, unsigned count)
{
	pool_add_range(prefix, 0, count);
}

static uint64_t
wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
set_why(const char *why)
{
	snprintf(W.b->w[W.wid].why, sizeof(W.b->w[0].why), "%s", why);
}

/* Keys from the handle: reproducible in every process of the run. */
static void
ident_make(ident *d, const char *prefix, unsigned idx, unsigned devno)
{
	uint8_t seed[SC_SHA512];
	char buf[160];
	int n;

	memset(d, 0, sizeof(*d));
	snprintf(d->handle, sizeof(d->handle), "%s%s-%u", lg.tag, prefix, idx);
	n = snprintf(buf, sizeof(buf), "%s/account", d->handle);
	sc_sha512(seed, buf, (size_t)n);
	if (sc_sign_seed_keypair(d->acct_pub, d->acct_sec, seed) != SOTTO_OK)
		abort();
	n = snprintf(buf, sizeof(buf), "%s/device%u/sign", d->handle, devno);
	sc_sha512(seed, buf, (size_t)n);
	if (sc_sign_seed_keypair(d->sig_pub, d->sig_sec, seed) != SOTTO_OK)
		abort();
	n = snprintf(buf, sizeof(buf), "%s/device%u/enc", d->handle, devno);
	sc_sha256(d->enc_sec, buf, (size_t)n);
	if (sc_kx_public(d->enc_pub, d->enc_sec) != SOTTO_OK)
		abort();
	sc_device_id(d->id, d->sig_pub);
	sc_wipe(seed, sizeof(seed));
}

/* Version ndev of an account whose devices are 0..ndev-1: v1 signed by the
 * account key with device 0, each later version by device 0 adding one. */
static int
list_build(const char *prefix, unsigned idx, unsigned ndev, uint8_t **out, size_t *outlen)
{
	dl_list *l = calloc(1, sizeof(*l));
	uint8_t *prev = NULL;
	size_t prevlen = 0;
	ident d0, dk;
	int r = SOTTO_ERR_NOMEM;

	*out = NULL;
	if (l == NULL)
		return r;
	ident_make(&d0, prefix, idx, 0);
	for (unsigned v = 1; v <= ndev; v++) {
		memset(l, 0, sizeof(*l));
		snprintf(l->handle, sizeof(l->handle), "%s", d0.handle);
		memcpy(l->account_pub, d0.acct_pub, SC_SIGN_PUB);
		l->version = v;
		if (v > 1)
			dl_hash(l->prev_hash, prev, prevlen);
		l->created_at = lg.created_ms + v;
		l->n_devices = v;
		for (unsigned k = 0; k < v; k++) {
			dl_device *dv = &l->devices[k];

			ident_make(&dk, prefix, idx, k);
			memcpy(dv->id, dk.id, SC_DEVICE_ID);
			snprintf(dv->name, sizeof(dv->name), "bench%u", k);
			memcpy(dv->sig_pub, dk.sig_pub, SC_SIGN_PUB);
			memcpy(dv->enc_pub, dk.enc_pub, SC_KX_PUB);
			dv->added_at = lg.created_ms;
			if (k > 0)
				memcpy(dv->approved_by, d0.id, SC_DEVICE_ID);
		}
		free(prev);
		prev = NULL;
		r = v == 1 ? dl_sign_account(l, d0.acct_sec, &prev, &prevlen) :
		    dl_sign_device(l, d0.id, d0.sig_sec, &prev, &prevlen);
		if (r != SOTTO_OK)
			break;
	}
	free(l);
	if (r == SOTTO_OK) {
		*out = prev;
		*outlen = prevlen;
	} else
		free(prev);
	return r;
}

static int
send_frame(dconn *c, wire_frame *f)
{
	uint8_t *buf = NULL;
	size_t n = 0;
	int r;

	if (c->st >= 3 || wire_encode(f, 0, &buf, &n) != SOTTO_OK)
		return -1;
	r = wsc_send(&c->w, buf, n);
	free(buf);
	return r;
}

static uint64_t
msg_number(const uint8_t *msg_id, uint32_t *magic)
{
	uint32_t m = (uint32_t)msg_id[0] << 24 | (uint32_t)msg_id[1] << 16 |
	    (uint32_t)msg_id[2] << 8 | msg_id[3];
	uint64_t k = 0;

	for (int i = 4; i < 12; i++)
		k = k << 8 | msg_id[i];
	*magic = m;
	return k;
}

static void
make_msg_id(uint8_t id[ENV_MSG_ID_LEN], uint32_t magic, uint64_t k)
{
	for (int i = 0; i < 4; i++)
		id[i] = (uint8_t)(magic >> (24 - 8 * i));
	for (int i = 0; i < 8; i++)
		id[4 + i] = (uint8_t)(k >> (56 - 8 * i));
	sc_random(id + 12, 4);
}

static void
tset_add(tset *ts, const char *prefix, unsigned idx, unsigned ndev)
{
	ident d;

	for (unsigned k = 0; k < ndev; k++) {
		ident_make(&d, prefix, idx, k);
		memcpy(ts->r[ts->n].id[k], d.id, SC_DEVICE_ID);
		memcpy(ts->r[ts->n].enc[k], d.enc_pub, SC_KX_PUB);
		if (k == 0)
			snprintf(ts->r[ts->n].handle, sizeof(ts->r[0].handle), "%s", d.handle);
	}
	ts->r[ts->n].ndev = ndev;
	ts->r[ts->n].version = ndev;
	ts->n++;
}

static int
seal(const ident *from, const tset *ts, uint32_t magic, uint64_t k, sealed *out)
{
	env_target tg[SOTTO_MAX_RECIPIENTS * MAX_RDEV];
	uint8_t content[CONTENT_LEN];
	env_header h;
	size_t nt = 0;
	int r;

	memset(&h, 0, sizeof(h));
	memset(content, 'x', sizeof(content));
	snprintf((char *)content, sizeof(content), "bench message %llu sent %llu",
	    (unsigned long long)k, (unsigned long long)wall_ms());
	make_msg_id(h.msg_id, magic, k);
	snprintf(h.sender, sizeof(h.sender), "%s", from->handle);
	memcpy(h.sender_device, from->id, SC_DEVICE_ID);
	h.n_recipients = ts->n;
	for (size_t i = 0; i < ts->n; i++) {
		snprintf(h.recipients[i], sizeof(h.recipients[0]), "%s", ts->r[i].handle);
		for (unsigned d = 0; d < ts->r[i].ndev; d++) {
			tg[nt].device_id = ts->r[i].id[d];
			tg[nt].enc_pub = ts->r[i].enc[d];
			nt++;
		}
	}
	if ((out->wraps = malloc(nt * ENV_WRAP_LEN)) == NULL)
		return SOTTO_ERR_NOMEM;
	r = env_seal(&h, content, sizeof(content), from->sig_sec, tg, nt, &out->env, &out->env_len,
	    out->wraps);
	if (r != SOTTO_OK) {
		free(out->wraps);
		out->wraps = NULL;
	}
	return r;
}

static void
sealed_free(sealed *s, unsigned n)
{
	for (unsigned i = 0; s != NULL && i < n; i++) {
		free(s[i].env);
		free(s[i].wraps);
	}
	free(s);
}

static int
send_sealed(dconn *c, const tset *ts, const sealed *s)
{
	Sotto__Wire__Frame f = SOTTO__WIRE__FRAME__INIT;
	Sotto__Wire__SendRequest rq = SOTTO__WIRE__SEND_REQUEST__INIT;
	Sotto__Wire__Recipient rc[SOTTO_MAX_RECIPIENTS], *rcp[SOTTO_MAX_RECIPIENTS];
	Sotto__Wire__Copy cp[SOTTO_MAX_RECIPIENTS * MAX_RDEV], *cpp[SOTTO_MAX_RECIPIENTS * MAX_RDEV];
	size_t nc = 0;

	for (size_t i = 0; i < ts->n; i++) {
		sotto__wire__recipient__init(&rc[i]);
		rc[i].handle = (char *)ts->r[i].handle;
		rc[i].list_version = ts->r[i].version;
		rc[i].n_copies = ts->r[i].ndev;
		rc[i].copies = &cpp[nc];
		for (unsigned d = 0; d < ts->r[i].ndev; d++) {
			sotto__wire__copy__init(&cp[nc]);
			cp[nc].device_id.data = (uint8_t *)ts->r[i].id[d];
			cp[nc].device_id.len = SC_DEVICE_ID;
			cp[nc].wrap.data = s->wraps + nc * ENV_WRAP_LEN;
			cp[nc].wrap.len = ENV_WRAP_LEN;
			cpp[nc] = &cp[nc];
			nc++;
		}
		rcp[i] = &rc[i];
	}
	rq.msg_id.data = s->env + 3;	/* u16 header_len, u8 version, then the msg id */
	rq.msg_id.len = ENV_MSG_ID_LEN;
	rq.envelope.data = s->env;
	rq.envelope.len = s->env_len;
	rq.n_recipients = ts->n;
	rq.recipients = rcp;
	f.id = ++c->next_id;
	f.msg_case = SOTTO__WIRE__FRAME__MSG_SEND;
	f.send = &rq;
	return send_frame(c, &f);
}

static int
send_fetch(dconn *c, uint32_t max)
{
	Sotto__Wire__Frame f = SOTTO__WIRE__FRAME__INIT;
	Sotto__Wire__FetchRequest rq = SOTTO__WIRE__FETCH_REQUEST__INIT;

	rq.max = max;
	f.id = c->fetch_id = ++c->next_id;
	f.msg_case = SOTTO__WIRE__FRAME__MSG_FETCH;
	f.fetch = &rq;
	return send_frame(c, &f);
}

static int
send_ack(dconn *c, uint64_t *seqs, size_t n)
{
	Sotto__Wire__Frame f = SOTTO__WIRE__FRAME__INIT;
	Sotto__Wire__AckRequest rq = SOTTO__WIRE__ACK_REQUEST__INIT;

	rq.seqs = seqs;
	rq.n_seqs = n;
	f.id = ++c->next_id;
	f.msg_case = SOTTO__WIRE__FRAME__MSG_ACK;
	f.ack = &rq;
	return send_frame(c, &f);
}

static int
send_lookup(dconn *c)
{
	Sotto__Wire__Frame f = SOTTO__WIRE__FRAME__INIT;
	Sotto__Wire__GetDeviceListRequest rq = SOTTO__WIRE__GET_DEVICE_LIST_REQUEST__INIT;
	char h[SOTTO_MAX_HANDLE + 1];
	unsigned total = 0, pick, i;

	for (i = 0; i < W.pool_n; i++)
		total += W.pool_count[i];
	pick = sc_random_uniform(total);
	for (i = 0; i < W.pool_n && pick >= W.pool_count[i]; i++)
		pick -= W.pool_count[i];
	snprintf(h, sizeof(h), "%s%s-%u", lg.tag, W.pool_prefix[i], W.pool_base[i] + pick);
	rq.handle = h;
	f.id = ++c->next_id;
	f.msg_case = SOTTO__WIRE__FRAME__MSG_GET_DEVICE_LIST;
	f.get_device_list = &rq;
	return send_frame(c, &f);
}

static int
send_publish(dconn *c)
{
	Sotto__Wire__Frame f = SOTTO__WIRE__FRAME__INIT;
	Sotto__Wire__PublishDeviceListRequest rq = SOTTO__WIRE__PUBLISH_DEVICE_LIST_REQUEST__INIT;
	uint8_t *l = NULL;
	size_t ln = 0;
	int r;

	if (list_build(c->kind, c->idx, c->pub_next, &l, &ln) != SOTTO_OK)
		return -1;
	rq.device_list.data = l;
	rq.device_list.len = ln;
	f.id = ++c->next_id;
	f.msg_case = SOTTO__WIRE__FRAME__MSG_PUBLISH_DEVICE_LIST;
	f.publish_device_list = &rq;
	r = send_frame(c, &f);
	free(l);
	return r;
}

static void
record_delivery(dconn *c, const Sotto__Wire__Delivery *d, uint64_t now)
{
	uint32_t magic;
	uint64_t k;

	c->recvd++;
	W.b->w[W.wid].recvd++;
	if (d->envelope.len < 3 + ENV_MSG_ID_LEN)
		return;
	k = msg_number(d->envelope.data + 3, &magic);
	if (magic == MAGIC_PROBE) {
		if (k < LG_PROBES && W.b->probe_recv[k] == 0)
			W.b->probe_recv[k] = now;
		return;
	}
	if (magic != W.magic || k >= W.nmsg_total || W.lat_us == NULL)
		return;
	if (W.lat_us[k * W.nslots + c->slot] != 0) {
		W.b->w[W.wid].dups++;
		return;
	}
	W.lat_us[k * W.nslots + c->slot] = (uint32_t)((now - W.send_ns[k]) / 1000) + 1;
	W.b->w[W.wid].t_last_ns = now;
}

static void
send_next(dconn *c)
{
	uint64_t k;

	while (c->sent < c->nmsgs && c->inflight < W.window && c->st == 2) {
		k = c->stream * c->nmsgs + c->sent;
		if (W.send_ns != NULL && k < W.nmsg_total)
			W.send_ns[k] = lg_now_ns();
		if (send_sealed(c, c->ts, &c->msgs[c->sent]) != 0)
			return;
		c->sent++;
		c->inflight++;
		W.b->w[W.wid].sent++;
	}
}

static void
on_ready(dconn *c)
{
	W.b->w[W.wid].authed++;
	switch (c->role) {
	case R_RECV:
	case R_DRAIN:
		if (send_fetch(c, SOTTO_MAX_FETCH_BATCH) != 0)
			set_why("fetch write failed");
		break;
	case R_REGONLY:
		c->st = 3;
		wsc_close(&c->w, "done");
		break;
	case R_PUBLISH:
		if (c->pub_next <= c->pub_upto && send_publish(c) != 0)
			set_why("publish write failed");
		break;
	default:
		break;
	}
}

/* A request answered with an error: kept as the worker's last reason (and
 * printed at once with LG_DEBUG set). */
static void
answer_failed(const dconn *c, lg_wstat *ws, const char *what, const char *error)
{
	snprintf(ws->why, sizeof(ws->why), "%s: %s", what, error != NULL ? error : "");
	if (getenv("LG_DEBUG") != NULL)
		fprintf(stderr, "loadgen: %s: %s\n", c->me.handle, ws->why);
}

static void
handle_response(dconn *c, wire_frame *f, uint64_t now)
{
	Sotto__Wire__Response *r = f->response;
	uint64_t seqs[SOTTO_MAX_FETCH_BATCH];
	lg_wstat *ws = &W.b->w[W.wid];
	size_t n = 0;

	if (c->st == 1) {
		if (r->status != SOTTO__WIRE__STATUS__OK) {
			snprintf(ws->why, sizeof(ws->why), "auth/register: %s", r->error);
			ws->failed++;
			c->st = 3;
			wsc_close(&c->w, "refused");
			return;
		}
		c->st = 2;
		W.opening--;
		on_ready(c);
		return;
	}
	switch (c->role) {
	case R_SEND:
		if (r->status == SOTTO__WIRE__STATUS__OK) {
			c->okd++;
			ws->okd++;
			ws->t_last_ns = now;
		} else {
			ws->errs++;
			c->errs++;
			answer_failed(c, ws, "send", r->error);
		}
		c->inflight--;
		if (!W.paced)
			send_next(c);
		break;
	case R_RECV:
	case R_DRAIN:
		if (f->id == c->fetch_id) {
			c->fetched = 1;
			for (size_t i = 0; i < r->n_deliveries && n < SOTTO_MAX_FETCH_BATCH; i++) {
				record_delivery(c, r->deliveries[i], now);
				seqs[n++] = r->deliveries[i]->seq;
			}
			if (c->role == R_DRAIN) {
				c->drain_batch = (uint32_t)n;
				if (n == 0 && !r->more) {
					c->drained = 1;
					ws->t_last_ns = now;
				} else if (n == 0 && send_fetch(c, SOTTO_MAX_FETCH_BATCH) != 0)
					set_why("fetch write failed");
			}
			if (n > 0 && send_ack(c, seqs, n) != 0)
				set_why("ack write failed");
			break;
		}
		if (r->status != SOTTO__WIRE__STATUS__OK) {
			ws->errs++;
			answer_failed(c, ws, "ack", r->error);
		}
		c->acked += c->role == R_DRAIN ? c->drain_batch : 1;
		ws->acked += c->role == R_DRAIN ? c->drain_batch : 1;
		ws->t_last_ns = now;
		if (c->role == R_DRAIN && send_fetch(c, SOTTO_MAX_FETCH_BATCH) != 0)
			set_why("fetch write failed");
		break;
	case R_LOOKUP:
		if (r->status == SOTTO__WIRE__STATUS__OK && r->n_device_lists > 0) {
			ws->okd++;
			if (W.lk_n < W.lk_cap)
				W.lk_lat[W.lk_n++] = (uint32_t)((now - c->recvd) / 1000);
		} else if (r->status == SOTTO__WIRE__STATUS__RATE_LIMITED)
			ws->rate_limited++;
		else {
			ws->errs++;
			snprintf(ws->why, sizeof(ws->why), "lookup: %s", r->error);
		}
		c->lk_done++;
		if (c->lk_left > 0) {
			c->lk_left--;
			c->recvd = lg_now_ns();
			if (send_lookup(c) != 0)
				set_why("lookup write failed");
		}
		break;
	case R_PUBLISH:
		if (r->status != SOTTO__WIRE__STATUS__OK) {
			ws->errs++;
			snprintf(ws->why, sizeof(ws->why), "publish: %s", r->error);
			break;
		}
		if (++c->pub_next <= c->pub_upto && send_publish(c) != 0)
			set_why("publish write failed");
		break;
	default:
		break;
	}
}

static void
on_msg(wsc *w, const uint8_t *p, size_t n)
{
	dconn *c = w->user;
	Sotto__Wire__Frame rf = SOTTO__WIRE__FRAME__INIT;
	Sotto__Wire__AuthRequest ar = SOTTO__WIRE__AUTH_REQUEST__INIT;
	Sotto__Wire__RegisterRequest rr = SOTTO__WIRE__REGISTER_REQUEST__INIT;
	uint8_t msg[WIRE_AUTH_MSG_MAX], sig[SC_SIG];
	wire_frame *f = NULL;
	uint64_t now = lg_now_ns();
	size_t mlen;

	if (wire_decode(&f, p, n, SOTTO_MAX_FRAME) != SOTTO_OK) {
		set_why("undecodable frame from server");
		wsc_close(w, "bad frame");
		return;
	}
	switch (f->msg_case) {
	case SOTTO__WIRE__FRAME__MSG_CHALLENGE:
		if (c->st != 0)
			break;
		mlen = wire_auth_message(msg, lg.pin, f->challenge->nonce.data, c->me.handle);
		sc_sign(sig, msg, mlen, c->me.sig_sec);
		rf.id = ++c->next_id;
		if (c->reg) {
			rr.invite_secret = (char *)"";
			rr.handle = c->me.handle;
			rr.device_list.data = c->list;
			rr.device_list.len = c->list_len;
			rr.signature.data = sig;
			rr.signature.len = SC_SIG;
			rf.msg_case = SOTTO__WIRE__FRAME__MSG_REGISTER;
			rf.register_ = &rr;
		} else {
			ar.handle = c->me.handle;
			ar.device_id.data = c->me.id;
			ar.device_id.len = SC_DEVICE_ID;
			ar.signature.data = sig;
			ar.signature.len = SC_SIG;
			rf.msg_case = SOTTO__WIRE__FRAME__MSG_AUTH;
			rf.auth = &ar;
		}
		c->st = 1;
		if (send_frame(c, &rf) != 0)
			set_why("auth write failed");
		free(c->list);
		c->list = NULL;
		break;
	case SOTTO__WIRE__FRAME__MSG_RESPONSE:
		handle_response(c, f, now);
		break;
	case SOTTO__WIRE__FRAME__MSG_DELIVERY:
		if (c->role == R_RECV || c->role == R_DRAIN) {
			uint64_t seq = f->delivery->seq;

			record_delivery(c, f->delivery, now);
			if (send_ack(c, &seq, 1) != 0)
				set_why("ack write failed");
		}
		break;
	default:
		break;
	}
	wire_free(f);
}

static void
on_close(wsc *w, const char *why)
{
	dconn *c = w->user;
	lg_wstat *ws = &W.b->w[W.wid];

	if (getenv("LG_DEBUG") != NULL)
		fprintf(stderr, "loadgen: %s closed in state %d: %s\n", c->me.handle, c->st, why);
	if (c->st == 2 && c->role != R_REGONLY) {
		ws->dropped++;
		snprintf(ws->why, sizeof(ws->why), "dropped: %s", why);
	} else if (c->st < 2) {
		ws->failed++;
		W.opening--;
		snprintf(ws->why, sizeof(ws->why), "connect: %s", why);
	}
	c->st = 3;
}

/* Start a device's connection: register (with its list version 1) or authenticate. */
static int
dconn_start(dconn *c, const char *prefix, unsigned idx, unsigned devno, int reg, enum role role)
{
	memset(c, 0, sizeof(*c));
	ident_make(&c->me, prefix, idx, devno);
	snprintf(c->kind, sizeof(c->kind), "%s", prefix);
	c->idx = idx;
	c->reg = reg;
	c->role = role;
	c->w.user = c;
	c->w.on_msg = on_msg;
	c->w.on_close = on_close;
	if (reg && list_build(prefix, idx, 1, &c->list, &c->list_len) != SOTTO_OK)
		return -1;
	W.b->w[W.wid].opened++;
	W.opening++;
	if (wsc_start(&c->w, lg_epoll(), W.use_src ? &W.src : NULL, &W.dst, lg.pin) != 0) {
		W.b->w[W.wid].failed++;
		W.opening--;
		c->st = 3;
		free(c->list);
		c->list = NULL;
		return -1;
	}
	return 0;
}

static void
dconn_close(dconn *c)
{
	if (c->st != 3) {
		c->st = 3;
		wsc_close(&c->w, "done");
	}
	free(c->list);
	c->list = NULL;
}

static void
worker_init(int wid, lg_board *b)
{
	memset(&W, 0, sizeof(W));
	W.b = b;
	W.wid = wid;
	lg_addr(&W.dst, 1, lg.sotto_port);
	if (sc_init() != SOTTO_OK || wsc_global_init() != 0) {
		fprintf(stderr, "loadgen: crypto/TLS init failed\n");
		_exit(1);
	}
}

/* ---- waiting helpers ---- */

typedef struct waitc {
	dconn *c;
	size_t n;
	unsigned want;		/* 0: all authed; 1: receivers fetched; 2: phase */
	uint32_t phase;
} waitc;

static int
all_ready(void *arg)
{
	waitc *wc = arg;

	if (wc->want == 2)
		return W.b->phase >= wc->phase;
	for (size_t i = 0; i < wc->n; i++) {
		dconn *c = &wc->c[i];

		if (c->st == 3 && c->role != R_REGONLY)
			return 1;	/* a failure: the caller sees it */
		if (c->role == R_REGONLY ? c->st != 3 : c->st != 2)
			return 0;
		if ((c->role == R_RECV || c->role == R_DRAIN) && !c->fetched)
			return 0;
		if (c->role == R_PUBLISH && c->pub_next <= c->pub_upto)
			return 0;
	}
	return 1;
}

static uint64_t
deadline_x(unsigned k)
{
	return lg_now_ns() + (uint64_t)lg.timeout_s * k * 1000000000ULL;
}

static uint64_t
deadline(void)
{
	return deadline_x(1);
}

static int
wait_phase(uint32_t phase)
{
	waitc wc = { .want = 2, .phase = phase };

	return lg_loop(deadline_x(40), all_ready, NULL, &wc);
}

static void
report_phase(uint32_t phase)
{
	W.b->w[W.wid].done_phase = phase;
}

/* Parent side: wait until every worker reported phase (or one died). */
static int
parent_wait(lg_board *b, int procs, uint32_t phase, unsigned timeout_s)
{
	uint64_t end = lg_now_ns() + (uint64_t)timeout_s * 1000000000ULL;

	for (;;) {
		int all = 1;

		for (int i = 0; i < procs; i++)
			all &= b->w[i].done_phase >= phase;
		if (all)
			return 0;
		/* A worker that died (crash, kill) never reports: do not wait for it. */
		if (lg_now_ns() > end || lg_child_died())
			return -1;
		usleep(2000);
	}
}

static void
why_all(lg_board *b, int procs, char *out, size_t n)
{
	out[0] = '\0';
	for (int i = 0; i < procs; i++)
		if (b->w[i].why[0] != '\0') {
			snprintf(out, n, "worker %d: %s", i, b->w[i].why);
			return;
		}
}

/* ---------------- (a), (b): pairs ---------------- */

typedef struct pairs_arg {
	lg_run *r;
	lg_board *b;
	char sp[16], rp[16];
	uint64_t *send_ns;
	uint32_t *lat_us;
} pairs_arg;

typedef struct pace {
	dconn *c;
	unsigned n;		/* senders here */
	uint64_t next, total, t0;
	double rate;
	unsigned per_sender;
	int done_sending;
} pace;

static void
pace_tick(void *arg)
{
	pace *p = arg;
	uint64_t now = lg_now_ns(), due;
	unsigned guard = 0;

	if (p->rate <= 0 || now < p->t0)
		return;
	while (p->next < p->total && guard++ < 10000) {
		dconn *c = &p->c[2 * (p->next % p->n)];
		uint64_t k;

		due = p->t0 + (uint64_t)((double)p->next * 1e9 / p->rate);
		if (due > now)
			break;
		if (c->st != 2 || c->sent >= c->nmsgs) {
			p->next++;
			continue;
		}
		k = c->stream * c->nmsgs + c->sent;
		W.send_ns[k] = due;	/* intended time: no coordinated omission */
		if (send_sealed(c, c->ts, &c->msgs[c->sent]) != 0)
			break;
		c->sent++;
		c->inflight++;
		W.b->w[W.wid].sent++;
		if (lg_now_ns() > due + 1000000)
			W.b->w[W.wid].late++;
		p->next++;
	}
}

static int
pairs_done(void *arg)
{
	pace *p = arg;

	for (unsigned i = 0; i < p->n; i++) {
		dconn *s = &p->c[2 * i], *r = &p->c[2 * i + 1];

		if (s->st != 2 || r->st != 2)
			return 1;
		if (s->okd + (uint64_t)0 < s->nmsgs || r->acked < s->nmsgs)
			return 0;
	}
	return 1;
}

static int
w_pairs(int wid, void *arg)
{
	pairs_arg *pa = arg;
	lg_run *r = pa->r;
	unsigned lo = r->pairs * (unsigned)wid / (unsigned)r->procs;
	unsigned hi = r->pairs * (unsigned)(wid + 1) / (unsigned)r->procs, n = hi - lo;
	dconn *c = calloc(2 * (n ? n : 1), sizeof(*c));
	tset *ts = calloc(n ? n : 1, sizeof(*ts));
	waitc wc;
	pace p;
	int rc = 1;

	worker_init(wid, pa->b);
	W.send_ns = pa->send_ns;
	W.lat_us = pa->lat_us;
	W.nmsg_total = (uint64_t)r->pairs * r->per_sender;
	W.nslots = 1;
	W.magic = MAGIC_PAIRS;
	W.window = r->window;
	W.paced = r->rate > 0;
	if (c == NULL || ts == NULL)
		goto out;
	for (unsigned i = 0; i < n; i++) {
		if (dconn_start(&c[2 * i], pa->sp, lo + i, 0, 1, R_SEND) != 0 ||
		    dconn_start(&c[2 * i + 1], pa->rp, lo + i, 0, 1, R_RECV) != 0) {
			set_why("connect failed");
			goto out;
		}
	}
	wc = (waitc){ .c = c, .n = 2 * n, .want = 0 };
	if (lg_loop(deadline(), all_ready, NULL, &wc) != 0) {
		set_why("devices did not all register in time");
		goto out;
	}
	for (unsigned i = 0; i < 2 * n; i++)
		if (c[i].st != 2) {
			set_why("a device failed to register");
			goto out;
		}
	/* Seal every message before the clock starts. */
	for (unsigned i = 0; i < n; i++) {
		dconn *s = &c[2 * i];

		tset_add(&ts[i], pa->rp, lo + i, 1);
		s->ts = &ts[i];
		s->stream = lo + i;
		s->nmsgs = r->per_sender;
		if ((s->msgs = calloc(r->per_sender, sizeof(*s->msgs))) == NULL)
			goto out;
		for (unsigned m = 0; m < r->per_sender; m++)
			if (seal(&s->me, s->ts, MAGIC_PAIRS, s->stream * r->per_sender + m, &s->msgs[m]) != SOTTO_OK) {
				set_why("env_seal failed");
				goto out;
			}
	}
	report_phase(1);
	if (wait_phase(2) != 0)
		goto out;
	memset(&p, 0, sizeof(p));
	p.c = c;
	p.n = n;
	p.t0 = W.b->t0_ns;
	p.rate = r->rate / r->procs;
	p.total = (uint64_t)n * r->per_sender;
	if (r->rate <= 0)
		for (unsigned i = 0; i < n; i++)
			send_next(&c[2 * i]);
	if (lg_loop(deadline(), pairs_done, pace_tick, &p) != 0)
		set_why("timed out before every message was delivered and acked");
	rc = 0;
out:
	report_phase(3);
	for (unsigned i = 0; c != NULL && i < 2 * n; i++) {
		sealed_free(c[i].msgs, c[i].nmsgs);
		dconn_close(&c[i]);
	}
	free(c);
	free(ts);
	return rc;
}

static void
lat_summary(uint32_t *lat, size_t n, lg_run *r, uint64_t *got)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++)
		if (lat[i] != 0)
			lat[k++] = lat[i] - 1;
	lg_sort_u32(lat, k);
	r->p50 = lg_quantile(lat, k, 0.50);
	r->p99 = lg_quantile(lat, k, 0.99);
	r->p999 = lg_quantile(lat, k, 0.999);
	r->pmax = k ? lat[k - 1] : 0;
	*got = k;
}

int
sotto_pairs(lg_run *r)
{
	pairs_arg pa;
	pid_t pids[LG_MAX_WORKERS];
	uint64_t total = (uint64_t)r->pairs * r->per_sender, got = 0, tlast = 0, errs = 0;
	char why[160];
	int rc = -1;

	memset(&pa, 0, sizeof(pa));
	pa.r = r;
	lg.scen_serial++;
	snprintf(pa.sp, sizeof(pa.sp), "s%u", lg.scen_serial);
	snprintf(pa.rp, sizeof(pa.rp), "r%u", lg.scen_serial);
	pa.b = lg_shared(sizeof(lg_board));
	pa.send_ns = lg_shared(total * sizeof(uint64_t));
	pa.lat_us = lg_shared(total * sizeof(uint32_t));
	if (pa.b == NULL || pa.send_ns == NULL || pa.lat_us == NULL)
		return -1;
	if (lg_workers_start(r->procs, w_pairs, &pa, pids) != 0)
		return -1;
	if (parent_wait(pa.b, r->procs, 1, lg.timeout_s * 3) != 0)
		goto stop;
	pa.b->t0_ns = lg_now_ns() + 20000000;
	pa.b->phase = 2;
	parent_wait(pa.b, r->procs, 3, lg.timeout_s * 3);
	rc = 0;
stop:
	pa.b->phase = 3;
	if (lg_workers_wait(r->procs, pids) != 0)
		rc = -1;
	pool_add(pa.sp, r->pairs);
	pool_add(pa.rp, r->pairs);
	for (int i = 0; i < r->procs; i++) {
		if (pa.b->w[i].t_last_ns > tlast)
			tlast = pa.b->w[i].t_last_ns;
		errs += pa.b->w[i].errs + pa.b->w[i].dropped + pa.b->w[i].failed;
	}
	lat_summary(pa.lat_us, total, r, &got);
	r->delivered = got;
	r->errors = errs;
	r->secs = tlast > pa.b->t0_ns ? (double)(tlast - pa.b->t0_ns) / 1e9 : 0;
	r->msgs_per_s = r->secs > 0 ? (double)got / r->secs : 0;
	why_all(pa.b, r->procs, why, sizeof(why));
	snprintf(r->note, sizeof(r->note), "%s", why);
	if (got != total)
		rc = -1;
	return rc;
}

/* ---------------- (c) idle scale ---------------- */

typedef struct idle_arg {
	lg_run *r;
	lg_board *b;
	char ip[16], sp[16];
	unsigned per_proc;
} idle_arg;

typedef struct idle_state {
	idle_arg *ia;
	dconn *c;
	unsigned opened;
	dconn prober;
	uint32_t probes_done;
	uint64_t counted_at;
} idle_state;

static void
idle_tick(void *arg)
{
	idle_state *is = arg;
	idle_arg *ia = is->ia;
	unsigned target = W.b->target;

	if (target > ia->per_proc)
		target = ia->per_proc;
	while (is->opened < target && W.opening < CONNECT_BURST) {
		unsigned idx = W.wid * ia->per_proc + is->opened;

		if (dconn_start(&is->c[is->opened], ia->ip, idx, 0, 1, R_RECV) != 0)
			set_why("socket/connect failed (fd limit?)");
		is->opened++;
	}
	if (W.wid == 0 && is->prober.st == 2 && is->probes_done < W.b->probe_seq &&
	    is->probes_done < LG_PROBES) {
		uint32_t k = is->probes_done, t = W.b->probe_target[k];
		tset ts;
		sealed s;

		memset(&ts, 0, sizeof(ts));
		tset_add(&ts, ia->ip, t, 1);
		memset(&s, 0, sizeof(s));
		if (seal(&is->prober.me, &ts, MAGIC_PROBE, k, &s) == SOTTO_OK) {
			W.b->probe_sent[k] = lg_now_ns();
			if (send_sealed(&is->prober, &ts, &s) != 0)
				set_why("probe write failed");
		}
		free(s.env);
		free(s.wraps);
		is->probes_done++;
	}
	/* Counting every connection each millisecond would be the load generator's
	 * main cost at 20,000 connections a process: every 100 ms is enough. */
	if (lg_now_ns() - is->counted_at > 100000000ULL) {
		unsigned ok = 0, bad = 0;

		is->counted_at = lg_now_ns();
		for (unsigned i = 0; i < is->opened; i++) {
			if (is->c[i].st == 2 && is->c[i].fetched)
				ok++;
			else if (is->c[i].st == 3)
				bad++;
		}
		W.b->w[W.wid].authed = ok;
		W.b->w[W.wid].failed = bad;
	}
}

static int
idle_stop(void *arg)
{
	(void)arg;
	return W.b->phase >= 9;
}

static int
w_idle(int wid, void *arg)
{
	idle_arg *ia = arg;
	idle_state is;

	worker_init(wid, ia->b);
	memset(&is, 0, sizeof(is));
	is.ia = ia;
	W.use_src = 1;
	lg_addr(&W.src, 10 + wid, 0);
	if ((is.c = calloc(ia->per_proc, sizeof(*is.c))) == NULL)
		return 1;
	if (wid == 0 && dconn_start(&is.prober, ia->sp, 0, 0, 1, R_SEND) != 0)
		set_why("prober connect failed");
	W.window = 1 << 30;
	/* The tick counts, opens to the current target and sends probes; the
	 * parent drives the ramp and reads the server's memory. */
	lg_loop(lg_now_ns() + (uint64_t)lg.timeout_s * 40 * 1000000000ULL, idle_stop, idle_tick, &is);
	for (unsigned i = 0; i < is.opened; i++)
		dconn_close(&is.c[i]);
	dconn_close(&is.prober);
	free(is.c);
	return 0;
}

int
sotto_idle(lg_run *r)
{
	idle_arg ia;
	pid_t pids[LG_MAX_WORKERS];
	lg_board *b;
	uint32_t lat[LG_PROBES];
	unsigned got = 0;
	char why[160];
	int rc = 0;

	memset(&ia, 0, sizeof(ia));
	lg.scen_serial++;
	snprintf(ia.ip, sizeof(ia.ip), "i%u", lg.scen_serial);
	snprintf(ia.sp, sizeof(ia.sp), "p%u", lg.scen_serial);
	ia.r = r;
	ia.per_proc = (r->idle_max + (unsigned)r->procs - 1) / (unsigned)r->procs;
	if ((ia.b = b = lg_shared(sizeof(lg_board))) == NULL)
		return -1;
	r->rss_kb[0] = lg_rss_tree_kb(lg.sotto_pid);
	if (lg_workers_start(r->procs, w_idle, &ia, pids) != 0)
		return -1;
	r->steps_done = 0;
	for (unsigned s = 0; s < r->n_steps; s++) {
		unsigned want = r->steps[s], ok = 0, bad = 0, stall = 0, last = 0;
		uint64_t end = lg_now_ns() + (uint64_t)lg.timeout_s * 4 * 1000000000ULL;

		b->target = (want + (unsigned)r->procs - 1) / (unsigned)r->procs;
		for (;;) {
			ok = bad = 0;
			for (int i = 0; i < r->procs; i++) {
				ok += b->w[i].authed;
				bad += b->w[i].failed;
			}
			if (ok + bad >= b->target * (unsigned)r->procs || lg_now_ns() > end)
				break;
			/* No progress for 10 s: the server (or the box) is at its limit. */
			stall = ok == last ? stall + 1 : 0;
			last = ok;
			if (stall > 1000)
				break;
			usleep(10000);
		}
		sleep(1);	/* let the server settle before reading its memory */
		r->rss_kb[s + 1] = lg_rss_tree_kb(lg.sotto_pid);
		r->step_conns[s] = ok;
		r->steps_done = s + 1;
		r->idle_reached = ok;
		fprintf(stderr, "  idle %s: %u connected (asked %u), %u failed, server RSS %ld KiB\n",
		    r->name, ok, want, bad, r->rss_kb[s + 1]);
		if (bad > want / 100 + 10 || ok < want * 95 / 100)
			break;
	}
	/* Probes: a message to a random idle device, one at a time. */
	for (unsigned k = 0; k < r->probes && k < LG_PROBES && r->idle_reached > 0; k++) {
		uint64_t end = lg_now_ns() + 5000000000ULL;
		unsigned t = 0;

		do {
			int p = (int)sc_random_uniform((uint32_t)r->procs);
			unsigned have = b->w[p].authed;

			if (have == 0)
				continue;
			t = (unsigned)p * ia.per_proc + sc_random_uniform(have);
			break;
		} while (lg_now_ns() < end);
		b->probe_target[k] = t;
		b->probe_seq = k + 1;
		while (b->probe_recv[k] == 0 && lg_now_ns() < end)
			usleep(200);
		if (b->probe_recv[k] != 0 && b->probe_sent[k] != 0)
			lat[got++] = (uint32_t)((b->probe_recv[k] - b->probe_sent[k]) / 1000);
	}
	lg_sort_u32(lat, got);
	r->p50 = lg_quantile(lat, got, 0.5);
	r->p99 = lg_quantile(lat, got, 0.99);
	r->pmax = got ? lat[got - 1] : 0;
	r->delivered = got;
	why_all(b, r->procs, why, sizeof(why));
	snprintf(r->note, sizeof(r->note), "%s", why);
	b->phase = 9;
	if (lg_workers_wait(r->procs, pids) != 0)
		rc = -1;
	for (int i = 0; i < r->procs; i++)
		pool_add_range(ia.ip, (unsigned)i * ia.per_proc, b->w[i].authed);
	return rc;
}

/* ---------------- (d) fan-out ---------------- */

typedef struct fan_arg {
	lg_fanout *fo;
	lg_board *b;
	char rp[16], sp[16];
	uint64_t *send_ns;
	uint32_t *lat_us;
} fan_arg;

static int
fan_done(void *arg)
{
	waitc *wc = arg;
	dconn *s = &wc->c[0];

	if (s->st != 2 || s->okd < s->nmsgs)
		return s->st != 2;
	for (size_t i = 1; i < wc->n; i++)
		if (wc->c[i].st != 2 || wc->c[i].acked < s->nmsgs)
			return wc->c[i].st != 2;
	return 1;
}

static int
w_fan(int wid, void *arg)
{
	fan_arg *fa = arg;
	lg_fanout *fo = fa->fo;
	unsigned nr = fo->recipients, nd = fo->devices, nrx = nr * nd;
	dconn *c = calloc(1 + nrx, sizeof(*c));
	tset *ts = calloc(1, sizeof(*ts));
	waitc wc;
	int rc = 1;

	worker_init(wid, fa->b);
	W.send_ns = fa->send_ns;
	W.lat_us = fa->lat_us;
	W.nmsg_total = fo->messages;
	W.nslots = nrx;
	W.magic = MAGIC_FAN;
	W.window = fo->window;
	if (c == NULL || ts == NULL)
		goto out;
	/* Device 0 of each account registers, then publishes versions 2..nd. */
	for (unsigned a = 0; a < nr; a++) {
		dconn *d0 = &c[1 + a * nd];

		if (dconn_start(d0, fa->rp, a, 0, 1, R_PUBLISH) != 0)
			goto out;
		d0->pub_next = 2;
		d0->pub_upto = nd;
	}
	{
		dconn *pubs[SOTTO_MAX_RECIPIENTS];
		uint64_t end = deadline();
		int ok = 0;

		for (unsigned a = 0; a < nr; a++)
			pubs[a] = &c[1 + a * nd];
		while (lg_now_ns() < end && !ok) {
			ok = 1;
			for (unsigned a = 0; a < nr; a++)
				if (pubs[a]->st == 3 || pubs[a]->st != 2 || pubs[a]->pub_next <= pubs[a]->pub_upto)
					ok = pubs[a]->st == 3 ? -1 : 0;
			if (ok == -1)
				break;
			lg_loop(lg_now_ns() + 2000000, NULL, NULL, NULL);
		}
		if (ok != 1) {
			set_why("fan-out accounts did not publish their lists");
			goto out;
		}
	}
	/* Now every device of every account connects (device 0 becomes a receiver). */
	for (unsigned a = 0; a < nr; a++) {
		dconn *d0 = &c[1 + a * nd];

		d0->role = R_RECV;
		d0->slot = a * nd;
		if (send_fetch(d0, SOTTO_MAX_FETCH_BATCH) != 0)
			goto out;
		for (unsigned k = 1; k < nd; k++) {
			if (dconn_start(&c[1 + a * nd + k], fa->rp, a, k, 0, R_RECV) != 0)
				goto out;
			c[1 + a * nd + k].slot = a * nd + k;
		}
		tset_add(ts, fa->rp, a, nd);
	}
	if (dconn_start(&c[0], fa->sp, 0, 0, 1, R_SEND) != 0)
		goto out;
	wc = (waitc){ .c = c, .n = 1 + nrx, .want = 0 };
	if (lg_loop(deadline(), all_ready, NULL, &wc) != 0) {
		set_why("fan-out devices did not all connect");
		goto out;
	}
	c[0].ts = ts;
	c[0].nmsgs = fo->messages;
	if ((c[0].msgs = calloc(fo->messages, sizeof(sealed))) == NULL)
		goto out;
	for (unsigned m = 0; m < fo->messages; m++)
		if (seal(&c[0].me, ts, MAGIC_FAN, m, &c[0].msgs[m]) != SOTTO_OK) {
			set_why("env_seal failed");
			goto out;
		}
	W.b->t0_ns = lg_now_ns();
	send_next(&c[0]);
	if (lg_loop(deadline(), fan_done, NULL, &wc) != 0)
		set_why("fan-out timed out");
	rc = 0;
out:
	for (unsigned i = 0; c != NULL && i < 1 + nrx; i++) {
		sealed_free(c[i].msgs, c[i].nmsgs);
		dconn_close(&c[i]);
	}
	free(c);
	free(ts);
	return rc;
}

int
sotto_fanout(lg_fanout *fo)
{
	fan_arg fa;
	uint64_t n = (uint64_t)fo->messages * fo->recipients * fo->devices, got = 0;
	uint32_t *last;
	lg_run tmp;
	int rc;

	memset(&fa, 0, sizeof(fa));
	fa.fo = fo;
	lg.scen_serial++;
	snprintf(fa.rp, sizeof(fa.rp), "f%u", lg.scen_serial);
	snprintf(fa.sp, sizeof(fa.sp), "g%u", lg.scen_serial);
	fa.b = lg_shared(sizeof(lg_board));
	fa.send_ns = lg_shared(fo->messages * sizeof(uint64_t));
	fa.lat_us = lg_shared(n * sizeof(uint32_t));
	last = calloc(fo->messages, sizeof(uint32_t));
	if (fa.b == NULL || fa.send_ns == NULL || fa.lat_us == NULL || last == NULL)
		return -1;
	rc = lg_workers(1, w_fan, &fa);
	pool_add(fa.rp, fo->recipients);
	pool_add(fa.sp, 1);
	for (unsigned m = 0; m < fo->messages; m++)
		for (unsigned k = 0; k < fo->recipients * fo->devices; k++)
			if (fa.lat_us[(size_t)m * fo->recipients * fo->devices + k] > last[m])
				last[m] = fa.lat_us[(size_t)m * fo->recipients * fo->devices + k];
	memset(&tmp, 0, sizeof(tmp));
	lat_summary(fa.lat_us, n, &tmp, &got);
	fo->p50 = tmp.p50;
	fo->p99 = tmp.p99;
	lat_summary(last, fo->messages, &tmp, &n);
	fo->last_p50 = tmp.p50;
	fo->last_p99 = tmp.p99;
	fo->errors = fa.b->w[0].errs + fa.b->w[0].dropped + fa.b->w[0].failed;
	fo->secs = fa.b->w[0].t_last_ns > fa.b->t0_ns ? (double)(fa.b->w[0].t_last_ns - fa.b->t0_ns) / 1e9 : 0;
	fo->sends_per_s = fo->secs > 0 ? fa.b->w[0].okd / fo->secs : 0;
	fo->copies_per_s = fo->secs > 0 ? got / fo->secs : 0;
	if (fa.b->w[0].why[0] != '\0')
		fprintf(stderr, "  fan-out: %s\n", fa.b->w[0].why);
	free(last);
	return rc == 0 && got == (uint64_t)fo->messages * fo->recipients * fo->devices ? 0 : -1;
}

/* ---------------- (e) directory lookups ---------------- */

typedef struct lk_arg {
	lg_lookup *lk;
	lg_board *b;
	char lp[16];
	int procs;
	uint32_t *lat;		/* shared: per worker slices */
	uint64_t per_worker_cap;
} lk_arg;

static int
lk_done(void *arg)
{
	waitc *wc = arg;

	for (size_t i = 0; i < wc->n; i++)
		if (wc->c[i].st == 2 && wc->c[i].lk_done < wc->phase)
			return 0;
	return 1;
}

static int
w_lookup(int wid, void *arg)
{
	lk_arg *la = arg;
	lg_lookup *lk = la->lk;
	unsigned lo = lk->conns * (unsigned)wid / (unsigned)la->procs;
	unsigned hi = lk->conns * (unsigned)(wid + 1) / (unsigned)la->procs, n = hi - lo;
	dconn *c = calloc(n ? n : 1, sizeof(*c));
	waitc wc;
	int rc = 1;

	worker_init(wid, la->b);
	W.pool_n = pool.n;
	memcpy(W.pool_prefix, pool.prefix, sizeof(pool.prefix));
	memcpy(W.pool_count, pool.count, sizeof(pool.count));
	memcpy(W.pool_base, pool.base, sizeof(pool.base));
	W.lk_lat = la->lat + la->per_worker_cap * (uint64_t)wid;
	W.lk_cap = la->per_worker_cap;
	if (c == NULL)
		goto out;
	for (unsigned i = 0; i < n; i++) {
		if (W.opening >= CONNECT_BURST)
			lg_loop(lg_now_ns() + 50000000, NULL, NULL, NULL);
		if (dconn_start(&c[i], la->lp, lo + i, 0, 1, R_LOOKUP) != 0)
			goto out;
	}
	wc = (waitc){ .c = c, .n = n, .want = 0 };
	if (lg_loop(deadline(), all_ready, NULL, &wc) != 0) {
		set_why("lookup devices did not connect");
		goto out;
	}
	report_phase(1);
	if (wait_phase(2) != 0)
		goto out;
	/* One lookup in flight per connection, so each has its own send time. */
	for (unsigned i = 0; i < n; i++) {
		c[i].lk_left = lk->per_conn - 1;
		c[i].recvd = lg_now_ns();
		if (send_lookup(&c[i]) != 0)
			set_why("lookup write failed");
	}
	wc.phase = lk->per_conn;
	if (lg_loop(deadline(), lk_done, NULL, &wc) != 0)
		set_why("lookups timed out");
	W.b->w[wid].t_last_ns = lg_now_ns();
	W.b->w[wid].recvd = W.lk_n;
	rc = 0;
out:
	report_phase(3);
	for (unsigned i = 0; c != NULL && i < n; i++)
		dconn_close(&c[i]);
	free(c);
	return rc;
}

int
sotto_lookups(lg_lookup *lk, unsigned procs)
{
	lk_arg la;
	pid_t pids[LG_MAX_WORKERS];
	uint64_t tlast = 0, k = 0;
	int rc = -1;

	memset(&la, 0, sizeof(la));
	la.lk = lk;
	la.procs = (int)procs;
	lg.scen_serial++;
	snprintf(la.lp, sizeof(la.lp), "l%u", lg.scen_serial);
	la.per_worker_cap = (uint64_t)lk->conns * lk->per_conn;
	la.b = lg_shared(sizeof(lg_board));
	la.lat = lg_shared(la.per_worker_cap * procs * sizeof(uint32_t));
	if (la.b == NULL || la.lat == NULL)
		return -1;
	/* The lookup devices register first, so the pool is never empty. */
	pool_add(la.lp, lk->conns);
	lk->dir_accounts = lg_accounts;
	if (lg_workers_start((int)procs, w_lookup, &la, pids) != 0)
		return -1;
	if (parent_wait(la.b, (int)procs, 1, lg.timeout_s * 3) == 0) {
		la.b->t0_ns = lg_now_ns();
		la.b->phase = 2;
		parent_wait(la.b, (int)procs, 3, lg.timeout_s * 3);
		rc = 0;
	}
	la.b->phase = 3;
	if (lg_workers_wait((int)procs, pids) != 0)
		rc = -1;
	lk->ok = lk->rate_limited = lk->errors = 0;
	for (unsigned i = 0; i < procs; i++) {
		lk->ok += la.b->w[i].okd;
		lk->rate_limited += la.b->w[i].rate_limited;
		lk->errors += la.b->w[i].errs + la.b->w[i].failed + la.b->w[i].dropped;
		if (la.b->w[i].t_last_ns > tlast)
			tlast = la.b->w[i].t_last_ns;
		for (uint64_t j = 0; j < la.b->w[i].recvd; j++)
			la.lat[k++] = la.lat[la.per_worker_cap * i + j];
		if (la.b->w[i].why[0] != '\0')
			fprintf(stderr, "  lookups: worker %u: %s\n", i, la.b->w[i].why);
	}
	lg_sort_u32(la.lat, k);
	lk->p50 = lg_quantile(la.lat, k, 0.5);
	lk->p99 = lg_quantile(la.lat, k, 0.99);
	lk->secs = tlast > la.b->t0_ns ? (double)(tlast - la.b->t0_ns) / 1e9 : 0;
	lk->per_s = lk->secs > 0 ? (double)(lk->ok + lk->rate_limited) / lk->secs : 0;
	return rc;
}

/* ---------------- (f) the offline queue ---------------- */

typedef struct q_arg {
	lg_queue *q;
	lg_board *b;
	char rp[16], sp[16];
	unsigned per_msg;	/* recipients per message */
	unsigned msgs;		/* messages in all */
} q_arg;

static int
q_sent(void *arg)
{
	dconn *s = arg;

	return s->st != 2 || s->okd + s->errs >= s->nmsgs;
}

static int
q_drained(void *arg)
{
	waitc *wc = arg;

	for (size_t i = 0; i < wc->n; i++)
		if (wc->c[i].st != 3 && !wc->c[i].drained)
			return 0;
	return 1;
}

static int
w_queue(int wid, void *arg)
{
	q_arg *qa = arg;
	lg_queue *q = qa->q;
	unsigned P = q->procs, nrc = q->recipients;
	unsigned rlo = nrc * (unsigned)wid / P, rhi = nrc * (unsigned)(wid + 1) / P, nr = rhi - rlo;
	unsigned mlo = qa->msgs * (unsigned)wid / P, mhi = qa->msgs * (unsigned)(wid + 1) / P, nm = mhi - mlo;
	unsigned groups = nrc / qa->per_msg;
	dconn *c = calloc(nr + 1, sizeof(*c)), *s;
	tset *ts = calloc(groups, sizeof(*ts));
	sealed *msgs = NULL;
	waitc wc;
	int rc = 1;

	worker_init(wid, qa->b);
	W.window = q->window;
	W.paced = 1;	/* the phase loop below refills the window, not the answers */
	if (c == NULL || ts == NULL)
		goto out;
	s = &c[nr];
	/* Phase 1: the recipients register and go offline; the sender registers. */
	for (unsigned i = 0; i < nr; i++) {
		if (W.opening >= CONNECT_BURST)
			lg_loop(lg_now_ns() + 50000000, NULL, NULL, NULL);
		if (dconn_start(&c[i], qa->rp, rlo + i, 0, 1, R_REGONLY) != 0)
			goto out;
	}
	if (dconn_start(s, qa->sp, (unsigned)wid, 0, 1, R_SEND) != 0)
		goto out;
	wc = (waitc){ .c = c, .n = nr + 1, .want = 0 };
	if (lg_loop(deadline(), all_ready, NULL, &wc) != 0 || s->st != 2) {
		set_why("queue devices did not register");
		goto out;
	}
	report_phase(1);
	if (wait_phase(2) != 0)
		goto out;
	/* Phase 2: seal every message (recipient group g gets messages m % groups == g). */
	for (unsigned g = 0; g < groups; g++)
		for (unsigned i = 0; i < qa->per_msg; i++)
			tset_add(&ts[g], qa->rp, g * qa->per_msg + i, 1);
	if ((msgs = calloc(nm ? nm : 1, sizeof(*msgs))) == NULL)
		goto out;
	for (unsigned m = 0; m < nm; m++) {
		if (seal(&s->me, &ts[(mlo + m) % groups], MAGIC_QUEUE, mlo + m, &msgs[m]) != SOTTO_OK) {
			set_why("env_seal failed");
			goto out;
		}
		/* Keep the connection alive while sealing for a long time. */
		if ((m & 63) == 0)
			lg_loop(lg_now_ns() + 1000000, NULL, NULL, NULL);
	}
	report_phase(2);
	/* Phases 3 and 4: the first half, then the rest. */
	for (uint32_t ph = 3; ph <= 4; ph++) {
		if (wait_phase(ph) != 0)
			goto out;
		s->nmsgs = ph == 3 ? nm / 2 : nm;
		s->msgs = NULL;
		while (s->sent < s->nmsgs && s->inflight < W.window && s->st == 2) {
			unsigned m = s->sent;

			s->ts = &ts[(mlo + m) % groups];
			if (send_sealed(s, s->ts, &msgs[m]) != 0)
				break;
			s->sent++;
			s->inflight++;
			W.b->w[wid].sent++;
		}
		/* Refill the window as answers come (send_next needs one tset per message). */
		{
			uint64_t end = deadline_x(20);

			while (!q_sent(s) && lg_now_ns() < end) {
				lg_loop(lg_now_ns() + 1000000, NULL, NULL, NULL);
				while (s->sent < s->nmsgs && s->inflight < W.window && s->st == 2) {
					unsigned m = s->sent;

					if (send_sealed(s, &ts[(mlo + m) % groups], &msgs[m]) != 0)
						break;
					s->sent++;
					s->inflight++;
					W.b->w[wid].sent++;
				}
			}
		}
		W.b->w[wid].t_last_ns = lg_now_ns();
		report_phase(ph);
	}
	/* Phase 5: the recipients come back and drain their queues. */
	if (wait_phase(5) != 0)
		goto out;
	for (unsigned i = 0; i < nr; i++) {
		if (W.opening >= CONNECT_BURST)
			lg_loop(lg_now_ns() + 50000000, NULL, NULL, NULL);
		if (dconn_start(&c[i], qa->rp, rlo + i, 0, 0, R_DRAIN) != 0)
			goto out;
	}
	wc = (waitc){ .c = c, .n = nr, .want = 0 };
	if (lg_loop(deadline_x(20), q_drained, NULL, &wc) != 0)
		set_why("drain timed out");
	W.b->w[wid].t_last_ns = lg_now_ns();
	rc = 0;
out:
	report_phase(5);
	for (unsigned i = 0; c != NULL && i <= nr; i++)
		dconn_close(&c[i]);
	sealed_free(msgs, nm);
	free(c);
	free(ts);
	return rc;
}

static uint64_t
phase_end(lg_board *b, int procs)
{
	uint64_t t = 0;

	for (int i = 0; i < procs; i++)
		if (b->w[i].t_last_ns > t)
			t = b->w[i].t_last_ns;
	return t;
}

static long
file_size(const char *path)
{
	char p[4200];
	struct stat sb;
	long n = 0;

	if (path == NULL)
		return 0;
	if (stat(path, &sb) == 0)
		n += (long)sb.st_size;
	snprintf(p, sizeof(p), "%s-wal", path);
	if (stat(p, &sb) == 0)
		n += (long)sb.st_size;
	return n;
}

int
sotto_queue(lg_queue *q, const char *db_path)
{
	q_arg qa;
	pid_t pids[LG_MAX_WORKERS];
	lg_board *b;
	uint64_t t0;
	int P = (int)q->procs, rc = -1;

	memset(&qa, 0, sizeof(qa));
	qa.q = q;
	qa.per_msg = SOTTO_MAX_RECIPIENTS;
	if (q->recipients < qa.per_msg)
		qa.per_msg = q->recipients;
	qa.msgs = q->copies / qa.per_msg;
	lg.scen_serial++;
	snprintf(qa.rp, sizeof(qa.rp), "q%u", lg.scen_serial);
	snprintf(qa.sp, sizeof(qa.sp), "w%u", lg.scen_serial);
	if ((qa.b = b = lg_shared(sizeof(lg_board))) == NULL)
		return -1;
	q->rss_kb[0] = lg_rss_tree_kb(lg.sotto_pid);
	if (lg_workers_start(P, w_queue, &qa, pids) != 0)
		return -1;
	if (parent_wait(b, P, 1, lg.timeout_s * 3) != 0)
		goto stop;
	t0 = lg_now_ns();
	b->phase = 2;
	if (parent_wait(b, P, 2, lg.timeout_s * 20) != 0)
		goto stop;
	q->seal_secs = (double)(lg_now_ns() - t0) / 1e9;
	for (uint32_t ph = 3; ph <= 4; ph++) {
		uint64_t before = 0;

		for (int i = 0; i < P; i++)
			before += b->w[i].okd;
		t0 = lg_now_ns();
		b->phase = ph;
		if (parent_wait(b, P, ph, lg.timeout_s * 20) != 0)
			goto stop;
		q->insert_secs[ph - 3] = (double)(phase_end(b, P) - t0) / 1e9;
		{
			uint64_t okd = 0;

			for (int i = 0; i < P; i++)
				okd += b->w[i].okd;
			q->insert_per_s[ph - 3] = (double)(okd - before) * qa.per_msg / q->insert_secs[ph - 3];
			q->inserted = okd * qa.per_msg;
		}
		sleep(1);
		q->rss_kb[ph - 2] = lg_rss_tree_kb(lg.sotto_pid);
		fprintf(stderr, "  queue: %llu copies stored, server RSS %ld KiB\n",
		    (unsigned long long)q->inserted, q->rss_kb[ph - 2]);
	}
	q->db_bytes = file_size(db_path);
	t0 = lg_now_ns();
	b->phase = 5;
	if (parent_wait(b, P, 5, lg.timeout_s * 20) != 0)
		goto stop;
	q->drain_secs = (double)(phase_end(b, P) - t0) / 1e9;
	q->drained = 0;
	for (int i = 0; i < P; i++)
		q->drained += b->w[i].acked;
	q->drain_per_s = q->drain_secs > 0 ? (double)q->drained / q->drain_secs : 0;
	sleep(1);
	q->rss_kb[3] = lg_rss_tree_kb(lg.sotto_pid);
	rc = 0;
stop:
	b->phase = 9;
	if (lg_workers_wait(P, pids) != 0)
		rc = -1;
	q->errors = 0;
	for (int i = 0; i < P; i++) {
		q->errors += b->w[i].errs + b->w[i].dropped + b->w[i].failed;
		if (b->w[i].why[0] != '\0')
			fprintf(stderr, "  queue: worker %d: %s\n", i, b->w[i].why);
	}
	pool_add(qa.rp, q->recipients);
	return rc;
}
