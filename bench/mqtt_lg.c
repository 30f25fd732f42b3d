/* SPDX-License-Identifier: ISC */
/*
 * Mosquitto driver of the load generator: the same scenarios (a), (b), (c) through
 * libmosquitto, QoS 1, TLS 1.3, driven by the same epoll loop (mosquitto_socket,
 * mosquitto_loop_read/write/misc). A publisher's window is its un-PUBACKed
 * messages, as a Sotto sender's window is its unanswered SendRequests; a
 * subscriber's PUBACK is libmosquitto's automatic QoS 1 acknowledgement.
 * Payload: 200 bytes whose first 12 carry (magic, message number).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <mosquitto.h>
#include <openssl/ssl.h>

#include "crypto.h"
#include "lg.h"
#include "sotto/error.h"
#include "sotto_lg.h"

#define PAYLOAD_LEN 200
#define MQ_MAGIC 0x4d515454u
#define MQ_PROBE 0x4d50524fu
#define MQ_BURST 128
#define MQ_KEEPALIVE 300

enum mq_role { MQ_PUB, MQ_SUB };

typedef struct mq {
	evh h;
	struct mosquitto *m;
	int fd;
	uint32_t cur_ev;
	enum mq_role role;
	int st;				/* 0 connecting, 1 connected, 2 ready, 3 gone */
	char topic[64];
	uint64_t stream;
	unsigned nmsgs, sent, acked, inflight;
	uint64_t started;
	unsigned retries;
} mq;

static struct {
	lg_board *b;
	int wid;
	uint64_t *send_ns;
	uint32_t *lat_us;
	uint64_t nmsg_total;
	unsigned window;
	int paced;
	unsigned opening;
} M;

static void
set_why(const char *why)
{
	snprintf(M.b->w[M.wid].why, sizeof(M.b->w[0].why), "%s", why);
}

static void
interest(mq *c)
{
	struct epoll_event e;
	uint32_t ev;

	if (c->fd < 0)
		return;
	ev = EPOLLIN | (mosquitto_want_write(c->m) || c->st == 0 ? EPOLLOUT : 0);
	if (ev == c->cur_ev)
		return;
	memset(&e, 0, sizeof(e));
	e.events = ev;
	e.data.ptr = &c->h;
	if (epoll_ctl(lg_epoll(), EPOLL_CTL_MOD, c->fd, &e) == 0)
		c->cur_ev = ev;
}

static void
gone(mq *c, const char *why)
{
	lg_wstat *ws = &M.b->w[M.wid];

	if (c->st == 3)
		return;
	if (c->st == 2) {
		ws->dropped++;
		snprintf(ws->why, sizeof(ws->why), "dropped: %s", why);
	} else {
		ws->failed++;
		M.opening--;
		snprintf(ws->why, sizeof(ws->why), "connect: %s", why);
	}
	if (c->fd >= 0)
		epoll_ctl(lg_epoll(), EPOLL_CTL_DEL, c->fd, NULL);
	c->fd = -1;
	c->st = 3;
}

static void
on_event(evh *h, uint32_t ev)
{
	mq *c = (mq *)h;
	int rc = MOSQ_ERR_SUCCESS;

	if (c->st == 3)
		return;
	if (ev & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
		SSL *ssl;
		int guard = 0;

		rc = mosquitto_loop_read(c->m, 1);
		/* Records OpenSSL already holds do not wake epoll again. */
		while (rc == MOSQ_ERR_SUCCESS && c->st != 3 && (ssl = mosquitto_ssl_get(c->m)) != NULL &&
		    SSL_pending(ssl) > 0 && guard++ < 1024)
			rc = mosquitto_loop_read(c->m, 1);
	}
	if (rc == MOSQ_ERR_SUCCESS && c->st != 3 && (ev & EPOLLOUT))
		rc = mosquitto_loop_write(c->m, 1);
	if (rc != MOSQ_ERR_SUCCESS && c->st != 3) {
		gone(c, mosquitto_strerror(rc));
		return;
	}
	interest(c);
}

static void
pub_next(mq *c)
{
	uint8_t payload[PAYLOAD_LEN];
	uint64_t k;

	while (c->sent < c->nmsgs && c->inflight < M.window && c->st == 2) {
		k = c->stream * c->nmsgs + c->sent;
		memset(payload, 'x', sizeof(payload));
		for (int i = 0; i < 4; i++)
			payload[i] = (uint8_t)(MQ_MAGIC >> (24 - 8 * i));
		for (int i = 0; i < 8; i++)
			payload[4 + i] = (uint8_t)(k >> (56 - 8 * i));
		if (M.send_ns != NULL && k < M.nmsg_total)
			M.send_ns[k] = lg_now_ns();
		if (mosquitto_publish(c->m, NULL, c->topic, sizeof(payload), payload, 1, false) !=
		    MOSQ_ERR_SUCCESS) {
			set_why("publish failed");
			return;
		}
		c->sent++;
		c->inflight++;
		M.b->w[M.wid].sent++;
	}
	interest(c);
}

static void
cb_connect(struct mosquitto *m, void *obj, int rc)
{
	mq *c = obj;

	if (rc != 0) {
		gone(c, mosquitto_connack_string(rc));
		return;
	}
	c->st = 1;
	if (c->role == MQ_SUB) {
		if (mosquitto_subscribe(m, NULL, c->topic, 1) != MOSQ_ERR_SUCCESS)
			gone(c, "subscribe failed");
		return;
	}
	c->st = 2;
	M.opening--;
	M.b->w[M.wid].authed++;
}

static void
cb_subscribe(struct mosquitto *m, void *obj, int mid, int qos_count, const int *granted)
{
	mq *c = obj;

	(void)m;
	(void)mid;
	if (qos_count < 1 || granted[0] != 1) {
		gone(c, "subscription refused");
		return;
	}
	c->st = 2;
	M.opening--;
	M.b->w[M.wid].authed++;
}

static void
cb_publish(struct mosquitto *m, void *obj, int mid)
{
	mq *c = obj;
	lg_wstat *ws = &M.b->w[M.wid];

	(void)m;
	(void)mid;
	c->acked++;
	c->inflight--;
	ws->okd++;
	ws->t_last_ns = lg_now_ns();
	if (M.send_ns != NULL && !M.paced)
		pub_next(c);
}

static void
cb_message(struct mosquitto *m, void *obj, const struct mosquitto_message *msg)
{
	mq *c = obj;
	lg_wstat *ws = &M.b->w[M.wid];
	const uint8_t *p = msg->payload;
	uint64_t now = lg_now_ns(), k = 0;
	uint32_t magic = 0;

	(void)m;
	c->acked++;
	ws->recvd++;
	ws->acked++;
	if (msg->payloadlen < 12)
		return;
	for (int i = 0; i < 4; i++)
		magic = magic << 8 | p[i];
	for (int i = 4; i < 12; i++)
		k = k << 8 | p[i];
	if (magic == MQ_PROBE) {
		if (k < LG_PROBES && M.b->probe_recv[k] == 0)
			M.b->probe_recv[k] = now;
		return;
	}
	if (magic != MQ_MAGIC || k >= M.nmsg_total || M.lat_us == NULL)
		return;
	if (M.lat_us[k] != 0) {
		ws->dups++;
		return;
	}
	M.lat_us[k] = (uint32_t)((now - M.send_ns[k]) / 1000) + 1;
	ws->t_last_ns = now;
}

static int
mq_start(mq *c, const char *id, enum mq_role role, const char *topic, const char *bind)
{
	struct epoll_event e;

	memset(c, 0, sizeof(*c));
	c->fd = -1;
	c->h.fn = on_event;
	c->role = role;
	c->started = lg_now_ns();
	snprintf(c->topic, sizeof(c->topic), "%s", topic);
	M.b->w[M.wid].opened++;
	M.opening++;
	/* Subscribers keep their session: QoS 1 copies wait for them as Sotto's do. */
	if ((c->m = mosquitto_new(id, role == MQ_PUB, c)) == NULL)
		goto fail;
	mosquitto_int_option(c->m, MOSQ_OPT_SEND_MAXIMUM, (int)(M.window < 65535 ? M.window : 65535));
	if (mosquitto_tls_set(c->m, lg.mqtt_ca, NULL, NULL, NULL, NULL) != MOSQ_ERR_SUCCESS ||
	    mosquitto_tls_insecure_set(c->m, true) != MOSQ_ERR_SUCCESS ||
	    mosquitto_tls_opts_set(c->m, 1, "tlsv1.3", NULL) != MOSQ_ERR_SUCCESS)
		goto fail;
	mosquitto_connect_callback_set(c->m, cb_connect);
	mosquitto_subscribe_callback_set(c->m, cb_subscribe);
	mosquitto_publish_callback_set(c->m, cb_publish);
	mosquitto_message_callback_set(c->m, cb_message);
	if (mosquitto_connect_bind_async(c->m, "127.0.0.1", lg.mqtt_port, MQ_KEEPALIVE, bind) !=
	    MOSQ_ERR_SUCCESS)
		goto fail;
	if ((c->fd = mosquitto_socket(c->m)) < 0)
		goto fail;
	memset(&e, 0, sizeof(e));
	e.events = EPOLLIN | EPOLLOUT;
	e.data.ptr = &c->h;
	if (epoll_ctl(lg_epoll(), EPOLL_CTL_ADD, c->fd, &e) != 0)
		goto fail;
	c->cur_ev = e.events;
	return 0;
fail:
	M.opening--;
	M.b->w[M.wid].failed++;
	c->st = 3;
	c->fd = -1;
	return -1;
}

static void
mq_free(mq *c)
{
	if (c->m == NULL)
		return;
	if (c->fd >= 0)
		epoll_ctl(lg_epoll(), EPOLL_CTL_DEL, c->fd, NULL);
	c->fd = -1;
	c->st = 3;
	mosquitto_disconnect(c->m);
	mosquitto_destroy(c->m);
	c->m = NULL;
}

static void
mq_init(int wid, lg_board *b)
{
	memset(&M, 0, sizeof(M));
	M.b = b;
	M.wid = wid;
	if (sc_init() != SOTTO_OK || wsc_global_init() != 0 || mosquitto_lib_init() != MOSQ_ERR_SUCCESS) {
		fprintf(stderr, "loadgen: init failed\n");
		_exit(1);
	}
}

static uint64_t
deadline_x(unsigned k)
{
	return lg_now_ns() + (uint64_t)lg.timeout_s * k * 1000000000ULL;
}

typedef struct mq_set {
	mq *c;
	size_t n;
	uint64_t last_misc;
	/* pacing (b) */
	uint64_t next, total, t0;
	double rate;
	unsigned npub;
	uint32_t phase;
} mq_set;

static void
misc_tick(mq_set *s)
{
	uint64_t now = lg_now_ns();

	if (now - s->last_misc < 1000000000ULL)
		return;
	s->last_misc = now;
	for (size_t i = 0; i < s->n; i++)
		if (s->c[i].st != 3 && s->c[i].m != NULL) {
			if (mosquitto_loop_misc(s->c[i].m) != MOSQ_ERR_SUCCESS)
				gone(&s->c[i], "keepalive");
			else
				interest(&s->c[i]);
		}
}

static int
all_up(void *arg)
{
	mq_set *s = arg;

	for (size_t i = 0; i < s->n; i++) {
		if (s->c[i].st == 3)
			return 1;
		if (s->c[i].st != 2)
			return 0;
	}
	return 1;
}

static int
at_phase(void *arg)
{
	mq_set *s = arg;

	return M.b->phase >= s->phase;
}

static void
tick(void *arg)
{
	mq_set *s = arg;
	uint64_t now = lg_now_ns(), due;
	unsigned guard = 0;

	misc_tick(s);
	if (s->rate <= 0 || s->t0 == 0 || now < s->t0)
		return;
	while (s->next < s->total && guard++ < 10000) {
		mq *c = &s->c[2 * (s->next % s->npub)];
		uint8_t payload[PAYLOAD_LEN];
		uint64_t k;

		due = s->t0 + (uint64_t)((double)s->next * 1e9 / s->rate);
		if (due > now)
			break;
		s->next++;
		if (c->st != 2 || c->sent >= c->nmsgs)
			continue;
		k = c->stream * c->nmsgs + c->sent;
		memset(payload, 'x', sizeof(payload));
		for (int i = 0; i < 4; i++)
			payload[i] = (uint8_t)(MQ_MAGIC >> (24 - 8 * i));
		for (int i = 0; i < 8; i++)
			payload[4 + i] = (uint8_t)(k >> (56 - 8 * i));
		M.send_ns[k] = due;
		if (mosquitto_publish(c->m, NULL, c->topic, sizeof(payload), payload, 1, false) !=
		    MOSQ_ERR_SUCCESS)
			continue;
		c->sent++;
		c->inflight++;
		M.b->w[M.wid].sent++;
		interest(c);
	}
}

static int
pairs_done(void *arg)
{
	mq_set *s = arg;

	for (unsigned i = 0; i < s->npub; i++) {
		mq *p = &s->c[2 * i], *r = &s->c[2 * i + 1];

		if (p->st != 2 || r->st != 2)
			return 1;
		if (p->acked < p->nmsgs || r->acked < p->nmsgs)
			return 0;
	}
	return 1;
}

typedef struct mpairs_arg {
	lg_run *r;
	lg_board *b;
	uint64_t *send_ns;
	uint32_t *lat_us;
	unsigned serial;
} mpairs_arg;

static int
w_mpairs(int wid, void *arg)
{
	mpairs_arg *pa = arg;
	lg_run *r = pa->r;
	unsigned lo = r->pairs * (unsigned)wid / (unsigned)r->procs;
	unsigned hi = r->pairs * (unsigned)(wid + 1) / (unsigned)r->procs, n = hi - lo;
	mq *c = calloc(2 * (n ? n : 1), sizeof(*c));
	char id[64], topic[64];
	mq_set s;
	int rc = 1;

	mq_init(wid, pa->b);
	M.send_ns = pa->send_ns;
	M.lat_us = pa->lat_us;
	M.nmsg_total = (uint64_t)r->pairs * r->per_sender;
	M.window = r->window;
	M.paced = r->rate > 0;
	memset(&s, 0, sizeof(s));
	s.c = c;
	s.n = 2 * n;
	s.npub = n;
	if (c == NULL)
		goto out;
	for (unsigned i = 0; i < n; i++) {
		snprintf(topic, sizeof(topic), "%s/%u/p/%u", lg.tag, pa->serial, lo + i);
		snprintf(id, sizeof(id), "%s-%u-s%u", lg.tag, pa->serial, lo + i);
		if (mq_start(&c[2 * i], id, MQ_PUB, topic, NULL) != 0)
			goto out;
		snprintf(id, sizeof(id), "%s-%u-r%u", lg.tag, pa->serial, lo + i);
		if (mq_start(&c[2 * i + 1], id, MQ_SUB, topic, NULL) != 0)
			goto out;
		c[2 * i].stream = lo + i;
		c[2 * i].nmsgs = r->per_sender;
	}
	if (lg_loop(deadline_x(1), all_up, tick, &s) != 0) {
		set_why("clients did not all connect");
		goto out;
	}
	for (size_t i = 0; i < s.n; i++)
		if (c[i].st != 2) {
			set_why("a client failed to connect");
			goto out;
		}
	M.b->w[wid].done_phase = 1;
	s.phase = 2;
	if (lg_loop(deadline_x(40), at_phase, tick, &s) != 0)
		goto out;
	s.t0 = M.b->t0_ns;
	s.rate = r->rate / r->procs;
	s.total = (uint64_t)n * r->per_sender;
	if (r->rate <= 0)
		for (unsigned i = 0; i < n; i++)
			pub_next(&c[2 * i]);
	if (lg_loop(deadline_x(1), pairs_done, tick, &s) != 0)
		set_why("timed out before every message was delivered");
	rc = 0;
out:
	M.b->w[wid].done_phase = 3;
	for (size_t i = 0; c != NULL && i < 2 * n; i++)
		mq_free(&c[i]);
	free(c);
	mosquitto_lib_cleanup();
	return rc;
}

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

static unsigned mq_serial;

int
mqtt_pairs(lg_run *r)
{
	mpairs_arg pa;
	pid_t pids[LG_MAX_WORKERS];
	uint64_t total = (uint64_t)r->pairs * r->per_sender, tlast = 0, k = 0, errs = 0;
	int rc = -1;

	memset(&pa, 0, sizeof(pa));
	pa.r = r;
	pa.serial = ++mq_serial;
	pa.b = lg_shared(sizeof(lg_board));
	pa.send_ns = lg_shared(total * sizeof(uint64_t));
	pa.lat_us = lg_shared(total * sizeof(uint32_t));
	if (pa.b == NULL || pa.send_ns == NULL || pa.lat_us == NULL)
		return -1;
	if (lg_workers_start(r->procs, w_mpairs, &pa, pids) != 0)
		return -1;
	if (parent_wait(pa.b, r->procs, 1, lg.timeout_s * 3) == 0) {
		pa.b->t0_ns = lg_now_ns() + 20000000;
		pa.b->phase = 2;
		parent_wait(pa.b, r->procs, 3, lg.timeout_s * 3);
		rc = 0;
	}
	pa.b->phase = 3;
	if (lg_workers_wait(r->procs, pids) != 0)
		rc = -1;
	r->note[0] = '\0';
	for (int i = 0; i < r->procs; i++) {
		if (pa.b->w[i].t_last_ns > tlast)
			tlast = pa.b->w[i].t_last_ns;
		errs += pa.b->w[i].errs + pa.b->w[i].dropped + pa.b->w[i].failed;
		if (pa.b->w[i].why[0] != '\0' && r->note[0] == '\0')
			snprintf(r->note, sizeof(r->note), "worker %d: %s", i, pa.b->w[i].why);
	}
	for (uint64_t i = 0; i < total; i++)
		if (pa.lat_us[i] != 0)
			pa.lat_us[k++] = pa.lat_us[i] - 1;
	lg_sort_u32(pa.lat_us, k);
	r->p50 = lg_quantile(pa.lat_us, k, 0.5);
	r->p99 = lg_quantile(pa.lat_us, k, 0.99);
	r->p999 = lg_quantile(pa.lat_us, k, 0.999);
	r->pmax = k ? pa.lat_us[k - 1] : 0;
	r->delivered = k;
	r->errors = errs;
	r->secs = tlast > pa.b->t0_ns ? (double)(tlast - pa.b->t0_ns) / 1e9 : 0;
	r->msgs_per_s = r->secs > 0 ? (double)k / r->secs : 0;
	return k == total ? rc : -1;
}

/* ---------------- (c) idle ---------------- */

typedef struct midle_arg {
	lg_run *r;
	lg_board *b;
	unsigned per_proc, serial;
} midle_arg;

typedef struct midle_state {
	midle_arg *ia;
	mq_set s;
	unsigned opened;
	mq prober;
	uint32_t probes_done;
	uint64_t counted_at;
} midle_state;

static void
idle_tick(void *arg)
{
	midle_state *is = arg;
	unsigned target = M.b->target, ok = 0, bad = 0;
	char id[64], topic[64], bind[32];

	if (target > is->ia->per_proc)
		target = is->ia->per_proc;
	snprintf(bind, sizeof(bind), "127.0.0.%d", 10 + M.wid);
	while (is->opened < target && M.opening < MQ_BURST) {
		unsigned idx = (unsigned)M.wid * is->ia->per_proc + is->opened;

		snprintf(topic, sizeof(topic), "%s/%u/i/%u", lg.tag, is->ia->serial, idx);
		snprintf(id, sizeof(id), "%s-%u-i%u", lg.tag, is->ia->serial, idx);
		mq_start(&is->s.c[is->opened], id, MQ_SUB, topic, bind);
		is->opened++;
		is->s.n = is->opened;
	}
	misc_tick(&is->s);
	if (M.wid == 0 && is->prober.st == 2 && is->probes_done < M.b->probe_seq &&
	    is->probes_done < LG_PROBES) {
		uint32_t k = is->probes_done;
		uint8_t payload[PAYLOAD_LEN];

		memset(payload, 'x', sizeof(payload));
		for (int i = 0; i < 4; i++)
			payload[i] = (uint8_t)(MQ_PROBE >> (24 - 8 * i));
		for (int i = 0; i < 8; i++)
			payload[4 + i] = (uint8_t)((uint64_t)k >> (56 - 8 * i));
		snprintf(topic, sizeof(topic), "%s/%u/i/%u", lg.tag, is->ia->serial, M.b->probe_target[k]);
		M.b->probe_sent[k] = lg_now_ns();
		if (mosquitto_publish(is->prober.m, NULL, topic, sizeof(payload), payload, 1, false) !=
		    MOSQ_ERR_SUCCESS)
			set_why("probe publish failed");
		interest(&is->prober);
		is->probes_done++;
	}
	if (is->prober.m != NULL && is->prober.st != 3) {
		uint64_t now = lg_now_ns();
		static uint64_t last;

		if (now - last > 1000000000ULL) {
			last = now;
			mosquitto_loop_misc(is->prober.m);
			interest(&is->prober);
		}
	}
	if (lg_now_ns() - is->counted_at < 100000000ULL)
		return;
	is->counted_at = lg_now_ns();
	for (unsigned i = 0; i < is->opened; i++) {
		mq *c = &is->s.c[i];

		/* A client stuck in its TLS/CONNECT/SUBSCRIBE exchange for 10 s is
		 * started again (counted in the note), as a real client would retry. */
		if ((c->st == 0 || c->st == 1) && lg_now_ns() - c->started > 10000000000ULL &&
		    c->retries < 3) {
			unsigned r = c->retries + 1;

			snprintf(topic, sizeof(topic), "%s/%u/i/%u", lg.tag, is->ia->serial,
			    (unsigned)M.wid * is->ia->per_proc + i);
			snprintf(id, sizeof(id), "%s-%u-i%u", lg.tag, is->ia->serial,
			    (unsigned)M.wid * is->ia->per_proc + i);
			mq_free(c);
			M.opening--;
			M.b->w[M.wid].errs++;
			mq_start(c, id, MQ_SUB, topic, bind);
			c->retries = r;
		}
		if (c->st == 2)
			ok++;
		else if (c->st == 3)
			bad++;
	}
	M.b->w[M.wid].authed = ok;
	M.b->w[M.wid].failed = bad;
}

static int
idle_stop(void *arg)
{
	(void)arg;
	return M.b->phase >= 9;
}

static int
w_midle(int wid, void *arg)
{
	midle_arg *ia = arg;
	midle_state is;
	char id[64];

	mq_init(wid, ia->b);
	M.window = 1000;
	memset(&is, 0, sizeof(is));
	is.ia = ia;
	if ((is.s.c = calloc(ia->per_proc, sizeof(mq))) == NULL)
		return 1;
	if (wid == 0) {
		snprintf(id, sizeof(id), "%s-%u-prober", lg.tag, ia->serial);
		mq_start(&is.prober, id, MQ_PUB, "unused", NULL);
	}
	lg_loop(lg_now_ns() + (uint64_t)lg.timeout_s * 40 * 1000000000ULL, idle_stop, idle_tick, &is);
	for (unsigned i = 0; i < is.opened; i++)
		mq_free(&is.s.c[i]);
	mq_free(&is.prober);
	free(is.s.c);
	mosquitto_lib_cleanup();
	return 0;
}

int
mqtt_idle(lg_run *r)
{
	midle_arg ia;
	pid_t pids[LG_MAX_WORKERS];
	lg_board *b;
	uint32_t lat[LG_PROBES];
	unsigned got = 0;
	int rc = 0;

	memset(&ia, 0, sizeof(ia));
	ia.r = r;
	ia.serial = ++mq_serial;
	ia.per_proc = (r->idle_max + (unsigned)r->procs - 1) / (unsigned)r->procs;
	if ((ia.b = b = lg_shared(sizeof(lg_board))) == NULL)
		return -1;
	r->rss_kb[0] = lg_rss_tree_kb(lg.mqtt_pid);
	if (lg_workers_start(r->procs, w_midle, &ia, pids) != 0)
		return -1;
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
			stall = ok == last ? stall + 1 : 0;
			last = ok;
			if (stall > 1000)
				break;
			usleep(10000);
		}
		sleep(1);
		r->rss_kb[s + 1] = lg_rss_tree_kb(lg.mqtt_pid);
		r->step_conns[s] = ok;
		r->steps_done = s + 1;
		r->idle_reached = ok;
		fprintf(stderr, "  idle %s: %u connected (asked %u), %u failed, broker RSS %ld KiB\n",
		    r->name, ok, want, bad, r->rss_kb[s + 1]);
		if (bad > want / 100 + 10 || ok < want * 95 / 100)
			break;
	}
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
	r->note[0] = '\0';
	r->errors = 0;
	for (int i = 0; i < r->procs; i++) {
		r->errors += b->w[i].errs;
		if (b->w[i].why[0] != '\0' && r->note[0] == '\0')
			snprintf(r->note, sizeof(r->note), "worker %d: %s", i, b->w[i].why);
	}
	if (r->errors > 0 && r->note[0] == '\0')
		snprintf(r->note, sizeof(r->note), "%llu connection attempts stuck for 10 s and restarted",
		    (unsigned long long)r->errors);
	b->phase = 9;
	if (lg_workers_wait(r->procs, pids) != 0)
		rc = -1;
	return rc;
}
