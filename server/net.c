/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ev.h>
#include <libwebsockets.h>

#include "log.h"
#include "metrics.h"
#include "server.h"
#include "sotto/error.h"

/* Bytes lws hands us per RECEIVE callback; messages are reassembled above it. */
#define NET_RX_CHUNK		65536
/* Seconds a closing connection gets to take its last frames. */
#define NET_CLOSE_GRACE		5
#define NET_SWEEP_MAX_SECONDS	60
#define NET_SWEEP_AGAIN_US	(20 * LWS_US_PER_MS)	/* next batch of a sweep backlog */
/* TCP keepalive on every connection, so dead peers do not hold descriptors and
 * push registrations for ever: probes after 60 s of silence, every 15 s, closed
 * after 6 unanswered (150 s); unacknowledged data also gives up at 150 s. */
#define NET_KEEPALIVE_IDLE	60
#define NET_KEEPALIVE_INTVL	15
#define NET_KEEPALIVE_CNT	6
#define NET_USER_TIMEOUT_MS	150000
/* Bytes of one /metrics answer. */
#define NET_METRICS_MAX		16384
#define NET_WAKE_PROTOCOL	"sotto-wake"
#define NET_ACCEPT_PROTOCOL	"sotto-accept"
/* Connections accepted per readiness of the listening socket, so a flood of
 * new connections cannot starve the established ones. */
#define NET_ACCEPT_BURST	64
#define NET_TICK_SECONDS	1.0	/* tick_cb */
/* After this many connections ended, free heap goes back to the system (a
 * flood of connections must not leave its memory behind). */
#define NET_TRIM_AFTER_CLOSES	256
#define NET_TRIM_DELAY_US	(500 * LWS_US_PER_MS)
/* Output buffers (out_write). */
#define NET_OUT_BUF		16384		/* pooled buffer size */
#define NET_OUT_POOL		256		/* pooled buffers kept per worker */
#define NET_OUT_WRITE_MAX	(256 * 1024)	/* per lws_write: bounds what lws copies */
#define NET_WS_HDR_MAX		10

/* An accepted socket until its WebSocket authenticates (the opaque user data
 * of its wsi): its place in the worker's lists of unauthenticated connections,
 * oldest first, and its count in the per-address table. */
enum { PRE_SOCKET = 0, PRE_TLS, PRE_WEBSOCKET, PRE__LISTS };
typedef struct pending {
	struct lws *wsi;
	limit_entry *e;
	int listed;
	int list;			/* PRE_*: how far it got (PRE_TLS: found, when
					 * pre_evict looked, to have sent something) */
	uint64_t at;			/* accepted (ms) */
	struct pending *prev, *next;
} pending;

typedef struct net {
	server *srv;
	struct lws_context *ctx;
	struct lws_vhost *vh;
	struct lws_vhost *local_vh;	/* our listening socket and the wake-up descriptor */
	int listen_fd;
	int failed;			/* the wake-up path broke: the worker stops */
	lws_sorted_usec_list_t flush_sul;
	lws_sorted_usec_list_t sweep_sul;
	lws_sorted_usec_list_t trim_sul;
	size_t closed_since_trim;
	int trim_pending;
	int spare_fd;			/* given up when out of descriptors (accept_refuse) */
	struct conn *out_list;		/* connections with frames to write this turn */
	struct conn *rx_list;		/* connections whose TLS records were read */
	uint8_t *pool[NET_OUT_POOL];		/* empty output buffers (NET_OUT_POOL) */
	size_t npool;
	unsigned long long refused;	/* connections refused since the last log line */
	uint64_t refused_logged_at;
	/* Unauthenticated connections, oldest first: those still at TCP, TLS or
	 * HTTP, and those with a WebSocket (they have shown they speak). */
	pending *pre_head[PRE__LISTS], *pre_tail[PRE__LISTS];
	size_t n_pre, pre_cap;		/* both lists; SOTTOD_PREAUTH_FD_SHARE */
} net;

struct pss {
	conn *c;
};

static volatile sig_atomic_t got_signal;
static struct lws_context *signal_ctx;

void
conn_ref(conn *c)
{
	c->refs++;
}

void
conn_unref(conn *c)
{
	if (c == NULL || --c->refs > 0)
		return;
	free(c->rx);
	free(c->out);
	free(c);
}

/* The message c was receiving is dropped (done, or c is cut off). */
static void
rx_release(conn *c)
{
	c->srv->rx_total -= c->rx_cap;
	free(c->rx);
	c->rx = NULL;
	c->rx_len = c->rx_cap = 0;
}

static void
pre_unlist(net *n, pending *p)
{
	if (p == NULL || !p->listed)
		return;
	if (p->prev != NULL)
		p->prev->next = p->next;
	else
		n->pre_head[p->list] = p->next;
	if (p->next != NULL)
		p->next->prev = p->prev;
	else
		n->pre_tail[p->list] = p->prev;
	p->prev = p->next = NULL;
	p->listed = 0;
	n->n_pre--;
}

static void
pre_list(net *n, pending *p, int list)
{
	p->list = list;
	p->prev = n->pre_tail[list];
	p->next = NULL;
	if (n->pre_tail[list] != NULL)
		n->pre_tail[list]->next = p;
	else
		n->pre_head[list] = p;
	n->pre_tail[list] = p;
	p->listed = 1;
	n->n_pre++;
}

/* 1 when p's peer has sent something: a ClientHello OpenSSL has read, or
 * bytes still waiting in the socket (a loop busy accepting a flood may not
 * have read an honest client's ClientHello yet). */
static int
pre_spoke(pending *p)
{
	int fd, waiting = 0;

	if (tls_handshake_begun(lws_get_ssl(p->wsi)))
		return 1;
	fd = (int)lws_get_socket_fd(p->wsi);
	return fd >= 0 && ioctl(fd, FIONREAD, &waiting) == 0 && waiting > 0;
}

/* Too many unauthenticated: the oldest of those that never said a word (no
 * ClientHello) goes, but never the socket accepted last (an honest client
 * has not had the time to say anything yet: with every other place taken by
 * WebSockets that never authenticate, it would go at once); else the oldest
 * of those that have spoken (in their handshake, or a WebSocket that has not
 * authenticated): honest clients pass through quickly, so the oldest has had
 * its chance. A connection that speaks TLS is worth more than one that sends
 * nothing, whatever its age: a flood of silent sockets, however fast, then
 * only ever pushes out its own. Each connection moves to PRE_TLS at most
 * once, so the walk costs O(1) per accept overall. */
static void
pre_evict(net *n)
{
	pending *old, *tls, *ws;

	if (n->n_pre <= n->pre_cap)
		return;
	while ((old = n->pre_head[PRE_SOCKET]) != NULL && pre_spoke(old)) {
		pre_unlist(n, old);
		pre_list(n, old, PRE_TLS);
	}
	if (old == NULL || old == n->pre_tail[PRE_SOCKET]) {
		tls = n->pre_head[PRE_TLS];
		ws = n->pre_head[PRE_WEBSOCKET];
		if (tls != NULL || ws != NULL)
			old = ws == NULL || (tls != NULL && tls->at <= ws->at) ? tls : ws;
	}
	if (old == NULL)
		return;
	pre_unlist(n, old);
	cap_exceeded(NULL, "preauth_conns", "limit=%zu", n->pre_cap);
	/* At once, not at the next turn: a burst of accepts would otherwise
	 * run out of descriptors first. Not inside old's own callback (we are
	 * in the listening socket's), so closing it here is safe; its
	 * WSI_DESTROY frees old. */
	lws_set_timeout(old->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_SYNC);
}

static void
trim_cb(lws_sorted_usec_list_t *sul)
{
	net *n = lws_container_of(sul, net, trim_sul);

	n->trim_pending = 0;
	n->closed_since_trim = 0;
	malloc_trim(0);
}

/* Connections ended (weight: how many it counts for): after many, give
 * their memory back. */
static void
net_closed_one(server *s, size_t weight)
{
	net *n = s->net;

	if (n == NULL || (n->closed_since_trim += weight) < NET_TRIM_AFTER_CLOSES || n->trim_pending)
		return;
	n->trim_pending = 1;
	lws_sul_schedule(n->ctx, 0, &n->trim_sul, trim_cb, NET_TRIM_DELAY_US);
}

/*
 * Output. A frame is framed (RFC 6455 5.2: FIN, binary, not masked from the
 * server) straight into its connection's buffer; at the end of the loop turn
 * every connection that got frames writes them with one lws_write (one TLS
 * record, one system call) instead of one writable callback, one record and
 * one write per frame. The frames are whole, so nothing lws writes itself (a
 * pong, a close) can land inside one; lws keeps what the socket did not take
 * and writes it before anything else. Buffers come from a small per-worker
 * pool and go back once written, so an idle connection holds none.
 */

static size_t
ws_header(uint8_t *p, size_t len)
{
	p[0] = 0x82;
	if (len < 126) {
		p[1] = (uint8_t)len;
		return 2;
	}
	if (len <= 0xffff) {
		p[1] = 126;
		p[2] = (uint8_t)(len >> 8);
		p[3] = (uint8_t)len;
		return 4;
	}
	p[1] = 127;
	for (int i = 0; i < 8; i++)
		p[2 + i] = (uint8_t)((uint64_t)len >> (56 - 8 * i));
	return 10;
}

/* The buffer is written or dropped: back to the pool (or freed). */
static void
out_release(conn *c)
{
	net *n = c->srv->net;

	c->srv->out_total -= c->out_len - c->out_off;
	if (c->out != NULL && n != NULL && c->out_cap == NET_OUT_BUF && n->npool < NET_OUT_POOL)
		n->pool[n->npool++] = c->out;
	else
		free(c->out);
	c->out = NULL;
	c->out_off = c->out_len = c->out_cap = 0;
}

/* Room for need more bytes after out_len. */
static int
out_reserve(conn *c, size_t need)
{
	net *n = c->srv->net;
	size_t ncap;
	uint8_t *nb;

	if (need <= c->out_cap - c->out_len)
		return SOTTO_OK;
	if (c->out_off > 0) {
		memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
		c->out_len -= c->out_off;
		c->out_off = 0;
		if (need <= c->out_cap - c->out_len)
			return SOTTO_OK;
	}
	if (c->out == NULL && need <= NET_OUT_BUF && n != NULL && n->npool > 0) {
		c->out = n->pool[--n->npool];
		c->out_cap = NET_OUT_BUF;
		return SOTTO_OK;
	}
	/* need is bounded by SOTTOD_MAX_OUTQ_BYTES (conn_send), so this ends. */
	for (ncap = c->out_cap > 0 ? c->out_cap : NET_OUT_BUF; ncap - c->out_len < need; ncap *= 2)
		;
	if ((nb = realloc(c->out, ncap)) == NULL)
		return SOTTO_ERR_NOMEM;
	c->out = nb;
	c->out_cap = ncap;
	return SOTTO_OK;
}

/* Write what is queued (at most NET_OUT_WRITE_MAX); -1: the connection broke. */
static int
out_write(conn *c, struct lws *wsi)
{
	size_t len = c->out_len - c->out_off;

	if (len > NET_OUT_WRITE_MAX)
		len = NET_OUT_WRITE_MAX;
	if (len == 0)
		return 0;
	/* LWS_WRITE_RAW: the bytes as they are, through TLS; they are frames. */
	if (lws_write(wsi, c->out + c->out_off, len, LWS_WRITE_RAW) < 0)
		return -1;
	c->out_off += len;
	c->srv->out_total -= len;
	if (c->out_off == c->out_len)
		out_release(c);
	else
		lws_callback_on_writable(wsi);
	return 0;
}

/* End of a loop turn: every connection that got frames writes them. */
static void
out_flush(net *n)
{
	conn *c;

	while ((c = n->out_list) != NULL) {
		n->out_list = c->out_next;
		c->out_next = NULL;
		c->out_listed = 0;
		if (c->wsi != NULL && c->out_len > c->out_off) {
			/* lws still holds part of an earlier write: its writable
			 * callback comes once that is out (on_writable). */
			if (lws_partial_buffered(c->wsi))
				lws_callback_on_writable(c->wsi);
			else if (out_write(c, c->wsi) < 0) {
				out_release(c);
				c->closing = 1;
				lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
			}
		}
		conn_unref(c);
	}
}

static void
out_pool_free(net *n)
{
	while (n->npool > 0)
		free(n->pool[--n->npool]);
}

/*
 * Input. An established connection's TLS reads ahead (tls_conn_read_ahead):
 * one read() takes every record the socket holds, and lws, reading one record
 * per SSL_read, leaves the rest in OpenSSL's buffer, where no poll sees them.
 * Every connection whose records were read this turn is listed (on_records); at
 * the end of the turn each one whose buffer holds a whole record is serviced
 * again as if its socket were readable, at most NET_RX_DRAIN_MAX records each.
 * A connection read from meanwhile is listed again (on_records), so what is
 * left (a sender faster than that) is found by the next turn, which then does
 * not wait for the sockets.
 */
#define NET_RX_DRAIN_MAX	64

static void
on_records(void *user)
{
	conn *c = user;
	net *n = c->srv->net;

	if (c->rx_listed || c->wsi == NULL || n == NULL)
		return;
	c->rx_listed = 1;
	conn_ref(c);
	c->rx_next = n->rx_list;
	n->rx_list = c;
}

static void
rx_drain(net *n)
{
	struct lws_pollfd pfd;
	conn *c, *list = n->rx_list;

	n->rx_list = NULL;
	while ((c = list) != NULL) {
		list = c->rx_next;
		c->rx_next = NULL;
		c->rx_listed = 0;
		for (int i = 0; i < NET_RX_DRAIN_MAX && c->wsi != NULL &&
		    tls_record_buffered(lws_get_ssl(c->wsi)); i++) {
			memset(&pfd, 0, sizeof(pfd));
			pfd.fd = lws_get_socket_fd(c->wsi);
			pfd.events = pfd.revents = LWS_POLLIN;
			if (pfd.fd < 0 || lws_service_fd(n->ctx, &pfd) < 0)
				break;
		}
		conn_unref(c);
	}
}

int
conn_send(conn *c, const wire_frame *f)
{
	net *n = c->srv->net;
	size_t len, queued;
	uint8_t *p;
	int rc;

	if (c->wsi == NULL || c->closing)
		return SOTTO_OK;
	if ((len = wire_size(f)) > SOTTO_MAX_FRAME)
		return SOTTO_ERR_TOO_LARGE;
	queued = c->out_len - c->out_off;
	/* A reader this far behind would hold memory without bound: cut it off.
	 * So is one with a fair share queued while the worker's total is at its
	 * cap (many slow readers at once). */
	if (len + NET_WS_HDR_MAX > SOTTOD_MAX_OUTQ_BYTES - queued ||
	    (c->srv->out_total + len > SOTTOD_MAX_OUTQ_TOTAL && queued >= SOTTOD_OUTQ_FAIR_SHARE)) {
		log_info("slow_reader", "conn=%llu queued=%zu worker_queued=%zu", (unsigned long long)c->serial,
		    queued, c->srv->out_total);
		metrics_error(ME_SLOW_READER);
		out_release(c);
		net_closed_one(c->srv, NET_TRIM_AFTER_CLOSES);
		c->closing = 1;
		lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
		return SOTTO_ERR_TOO_LARGE;
	}
	if ((rc = out_reserve(c, NET_WS_HDR_MAX + len)) != SOTTO_OK)
		return rc;
	p = c->out + c->out_len;
	p += ws_header(p, len);
	if ((rc = wire_pack(f, p, len)) != SOTTO_OK) {
		if (c->out_len == c->out_off)
			out_release(c);
		return rc;
	}
	len += (size_t)(p - (c->out + c->out_len));
	c->out_len += len;
	c->srv->out_total += len;
	if (!c->out_listed && n != NULL) {
		c->out_listed = 1;
		conn_ref(c);
		c->out_next = n->out_list;
		n->out_list = c;
	}
	return SOTTO_OK;
}

void
conn_close_after_flush(conn *c)
{
	if (c->wsi == NULL || c->closing)
		return;
	c->closing = 1;
	lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, NET_CLOSE_GRACE);
	lws_callback_on_writable(c->wsi);
}

static void
flush_cb(lws_sorted_usec_list_t *sul)
{
	net *n = lws_container_of(sul, net, flush_sul);

	mailbox_kick(n->srv);
}

/* The committer finished a batch: answer it (and hand over the next). */
static void
committer_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop;
	(void)revents;
	mailbox_reap(w->data);
}

void
net_request_flush_after(server *s, uint64_t us)
{
	net *n = s->net;

	lws_sul_schedule(n->ctx, 0, &n->flush_sul, flush_cb, (lws_usec_t)us);
	/* From outside an lws callback lws would arm its timer only at its next
	 * service (tick_cb): poke it now. */
	lws_cancel_service(n->ctx);
}

void
net_request_flush(server *s)
{
	net *n = s->net;

	/* Due at once: runs at the start of the next loop turn, after every frame
	 * this turn's poll() returned has been staged. */
	lws_sul_schedule(n->ctx, 0, &n->flush_sul, flush_cb, 0);
}

static lws_usec_t
sweep_interval(server *s)
{
	uint64_t secs = s->cfg.expiry_seconds < NET_SWEEP_MAX_SECONDS ? s->cfg.expiry_seconds :
	    NET_SWEEP_MAX_SECONDS;

	return (lws_usec_t)secs * LWS_US_PER_SEC;
}

static void
sweep_cb(lws_sorted_usec_list_t *sul)
{
	net *n = lws_container_of(sul, net, sweep_sul);
	int more = mailbox_sweep(n->srv);

	if (n->srv->lim != NULL)
		limits_sweep(n->srv->lim, now_ms());
	/* A backlog goes in short transactions, with the loop's work between. */
	lws_sul_schedule(n->ctx, 0, &n->sweep_sul, sweep_cb,
	    more ? NET_SWEEP_AGAIN_US : sweep_interval(n->srv));
}

static conn *
conn_new(server *s, struct lws *wsi)
{
	conn *c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->srv = s;
	c->wsi = wsi;
	c->serial = ++s->next_serial;
	c->refs = 1;
	c->next = s->conns;
	if (s->conns != NULL)
		s->conns->prev = c;
	s->conns = c;
	s->n_conns++;
	metrics_connections(1);
	lws_get_peer_simple(wsi, c->peer, sizeof(c->peer));
	return c;
}

static void
conn_gone(conn *c)
{
	server *s = c->srv;

	session_closed(c);
	out_release(c);
	(void)tls_conn_read_ahead(lws_get_ssl(c->wsi), on_records, NULL);
	rx_release(c);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	c->next = c->prev = NULL;
	s->n_conns--;
	metrics_connections(-1);
	c->wsi = NULL;
	log_info("conn_close", "conn=%llu conns=%zu", (unsigned long long)c->serial, s->n_conns);
	conn_unref(c);
}

static int
protocol_offered(struct lws *wsi)
{
	char buf[256], *tok, *save = NULL;

	if (lws_hdr_copy(wsi, buf, sizeof(buf), WSI_TOKEN_PROTOCOL) <= 0)
		return 0;
	for (tok = strtok_r(buf, ", ", &save); tok != NULL; tok = strtok_r(NULL, ", ", &save))
		if (strcmp(tok, WIRE_SUBPROTOCOL) == 0)
			return 1;
	return 0;
}

/* Too big or not binary: answer once, then close. */
static void
reject_input(conn *c, Sotto__Wire__Status st, const char *why)
{
	if (st == SOTTO__WIRE__STATUS__TOO_LARGE)
		cap_exceeded(c, c->state == CONN_AUTHED ? "max_frame" : "max_frame_preauth", "limit=%llu",
		    c->state == CONN_AUTHED ? (unsigned long long)c->srv->cfg.max_frame :
		    (unsigned long long)SOTTO_MAX_FRAME_PREAUTH);
	else
		log_info("bad_frame", "conn=%llu reason=\"%s\"", (unsigned long long)c->serial, why);
	metrics_error(ME_BAD_FRAME);
	rx_release(c);
	session_respond_status(c, 0, st, why);
	conn_close_after_flush(c);
}

/*
 * The worker holds more than SOTTOD_MAX_RX_TOTAL in messages being received:
 * the connection holding the most is cut off (as a slow reader is on the
 * output side), until the total is under the cap again. Returns 1 when c
 * itself was cut.
 */
static int
rx_over_budget(conn *c)
{
	server *s = c->srv;
	conn *big, *x;
	int cut_self = 0;

	while (s->rx_total > SOTTOD_MAX_RX_TOTAL) {
		big = NULL;
		for (x = s->conns; x != NULL; x = x->next)
			if (x->rx_cap > 0 && (big == NULL || x->rx_cap > big->rx_cap))
				big = x;
		if (big == NULL)
			break;
		cap_exceeded(big, "rx_total", "held=%zu worker_held=%zu limit=%llu", big->rx_cap, s->rx_total,
		    (unsigned long long)SOTTOD_MAX_RX_TOTAL);
		cut_self |= big == c;
		reject_input(big, SOTTO__WIRE__STATUS__TOO_LARGE, "server busy: message dropped");
		net_closed_one(s, NET_TRIM_AFTER_CLOSES);
	}
	return cut_self;
}

static int
on_receive(conn *c, struct lws *wsi, const uint8_t *in, size_t len)
{
	size_t cap = c->state == CONN_AUTHED ? (size_t)c->srv->cfg.max_frame : SOTTO_MAX_FRAME_PREAUTH;
	size_t remaining = lws_remaining_packet_payload(wsi), ncap;
	uint8_t *nb;

	if (c->closing)
		return 0;
	if (lws_is_first_fragment(wsi))
		c->rx_len = 0;
	if (!lws_frame_is_binary(wsi)) {
		reject_input(c, SOTTO__WIRE__STATUS__BAD_REQUEST, "frames must be binary");
		return 0;
	}
	/* Checked by subtraction against the cap, before anything is copied. */
	if (len > cap - c->rx_len || remaining > cap - c->rx_len - len) {
		reject_input(c, SOTTO__WIRE__STATUS__TOO_LARGE, "frame too large");
		return 0;
	}
	/* Memory for what came, not for what the header promises: a peer that
	 * declares a large message and sends a byte holds a byte. */
	if (c->rx_len + len > c->rx_cap) {
		for (ncap = c->rx_cap > 4096 ? c->rx_cap : 4096; ncap < c->rx_len + len; ncap *= 2)
			;
		if (ncap > cap)
			ncap = cap;
		if ((nb = realloc(c->rx, ncap)) == NULL) {
			reject_input(c, SOTTO__WIRE__STATUS__INTERNAL, "out of memory");
			return 0;
		}
		c->srv->rx_total += ncap - c->rx_cap;
		c->rx = nb;
		c->rx_cap = ncap;
		if (rx_over_budget(c))
			return 0;
	}
	if (len > 0)
		memcpy(c->rx + c->rx_len, in, len);
	c->rx_len += len;
	if (!lws_is_final_fragment(wsi) || remaining > 0) {
		/* Unfinished: it must be finished in time (callback, TIMER). */
		if (c->state == CONN_AUTHED && !c->rx_timed) {
			c->rx_timed = 1;
			lws_set_timer_usecs(wsi, (lws_usec_t)SOTTOD_FRAME_SECONDS * LWS_US_PER_SEC);
		}
		return 0;
	}
	if (c->rx_timed) {
		c->rx_timed = 0;
		lws_set_timer_usecs(wsi, LWS_SET_TIMER_USEC_CANCEL);
	}
	session_frame(c, c->rx, c->rx_len);
	/* An idle connection holds no input buffer (nor any of rx_total). */
	rx_release(c);
	if (c->state == CONN_AUTHED && !c->timeout_cleared && !c->closing) {
		lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0);
		lws_set_timer_usecs(wsi, LWS_SET_TIMER_USEC_CANCEL);
		c->timeout_cleared = 1;
		/* No longer one of the unauthenticated the oldest of which goes. */
		pre_unlist(c->srv->net, lws_get_opaque_user_data(wsi));
	}
	return 0;
}

static int
on_writable(conn *c, struct lws *wsi)
{
	if (out_write(c, wsi) < 0)
		return -1;
	/* More to write: out_write or lws asked for another callback. */
	if (c->out_len > c->out_off || lws_partial_buffered(wsi))
		return 0;
	if (c->closing) {
		lws_close_reason(wsi, LWS_CLOSE_STATUS_NORMAL, NULL, 0);
		return -1;
	}
	return 0;
}

/*
 * GET /metrics on the same TLS listener: the sum over every worker of the
 * node (metrics.h), the queue depth counted by the store. Anything else is 404.
 */
static int
serve_http(struct lws *wsi, server *s, const char *uri)
{
	uint8_t hdr[LWS_PRE + 512], *start = hdr + LWS_PRE, *p = start, *end = hdr + sizeof(hdr) - 1;
	uint64_t depth = 0, stored = 0;
	size_t body_len;
	sbuf b;
	int rc = -1;

	sbw_init(&b, LWS_PRE + NET_METRICS_MAX);
	if (uri == NULL || strcmp(uri, "/metrics") != 0 || lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) == 0) {
		if (lws_return_http_status(wsi, HTTP_STATUS_NOT_FOUND, NULL) == 0 &&
		    lws_http_transaction_completed(wsi) == 0)
			rc = 0;
		goto out;
	}
	if (s->st->ops->copy_total(s->st, &depth) != SOTTO_OK ||
	    s->st->ops->usage_total(s->st, &stored) != SOTTO_OK)
		metrics_error(ME_STORAGE);
	if (sbw_reserve(&b, LWS_PRE) == NULL || metrics_render(&b, depth, stored) != SOTTO_OK)
		goto out;
	body_len = b.len - LWS_PRE;
	if (lws_add_http_common_headers(wsi, HTTP_STATUS_OK, "text/plain; version=0.0.4; charset=utf-8",
	    body_len, &p, end) != 0 || lws_finalize_write_http_header(wsi, start, &p, end) != 0)
		goto out;
	if (lws_write(wsi, b.p + LWS_PRE, body_len, LWS_WRITE_HTTP_FINAL) != (int)body_len)
		goto out;
	rc = lws_http_transaction_completed(wsi) ? -1 : 0;
out:
	sbw_free(&b);
	return rc;
}

static int
callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	struct pss *pss = user;
	struct lws_context *ctx = lws_get_context(wsi);
	server *s = ctx != NULL ? lws_context_user(ctx) : NULL;

	switch (reason) {
	case LWS_CALLBACK_WSI_DESTROY:
		/* Every accepted socket ends here, however far it got. */
		if (s != NULL && lws_get_opaque_user_data(wsi) != NULL) {
			pending *p = lws_get_opaque_user_data(wsi);

			pre_unlist(s->net, p);
			limits_conn_close(s->lim, p->e);
			free(p);
			lws_set_opaque_user_data(wsi, NULL);
		}
		if (s != NULL)
			net_closed_one(s, 1);
		return 0;
	case LWS_CALLBACK_TIMER:
		/* A message not finished in time: its bytes go, and the connection. */
		if (pss != NULL && pss->c != NULL && pss->c->state == CONN_AUTHED && pss->c->rx_timed &&
		    !pss->c->closing) {
			pss->c->rx_timed = 0;
			cap_exceeded(pss->c, "frame_seconds", "held=%zu limit=%d", pss->c->rx_len,
			    SOTTOD_FRAME_SECONDS);
			reject_input(pss->c, SOTTO__WIRE__STATUS__BAD_REQUEST, "message not completed in time");
			return 0;
		}
		/* The pre-authentication time is up: say so, then close. */
		if (pss != NULL && pss->c != NULL && pss->c->state == CONN_PREAUTH && !pss->c->closing) {
			cap_exceeded(pss->c, "preauth_seconds", "limit=%llu",
			    (unsigned long long)s->cfg.preauth_seconds);
			session_respond_status(pss->c, 0, SOTTO__WIRE__STATUS__UNAUTHENTICATED,
			    "authentication timed out");
			conn_close_after_flush(pss->c);
		}
		return 0;
	case LWS_CALLBACK_OPENSSL_LOAD_EXTRA_SERVER_VERIFY_CERTS:
		if (tls_server_ctx_setup(user) != SOTTO_OK) {
			log_error("tls_setup_failed", "what=min_protocol");
			return 1;
		}
		return 0;
	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
		if (!protocol_offered(wsi)) {
			log_info("conn_refused", "reason=\"subprotocol %s not offered\"", WIRE_SUBPROTOCOL);
			return 1;
		}
		return 0;
	case LWS_CALLBACK_ESTABLISHED:
		if (s == NULL || (pss->c = conn_new(s, wsi)) == NULL)
			return -1;
		if (lws_get_opaque_user_data(wsi) != NULL) {
			pending *p = lws_get_opaque_user_data(wsi);

			pre_unlist(s->net, p);
			pre_list(s->net, p, PRE_WEBSOCKET);
		}
		log_info("conn_open", "conn=%llu peer=%s conns=%zu", (unsigned long long)pss->c->serial,
		    pss->c->peer, s->n_conns);
		/* Without it, two reads and a loop turn per record. */
		if (tls_conn_read_ahead(lws_get_ssl(wsi), on_records, pss->c) != SOTTO_OK)
			log_warn("read_ahead_failed", "conn=%llu", (unsigned long long)pss->c->serial);
		/* The timer answers (UNAUTHENTICATED) and closes; the timeout is
		 * the backstop for a peer that does not even take that answer. */
		lws_set_timer_usecs(wsi, (lws_usec_t)s->cfg.preauth_seconds * LWS_US_PER_SEC);
		lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, (int)s->cfg.preauth_seconds + NET_CLOSE_GRACE);
		session_open(pss->c);
		return 0;
	case LWS_CALLBACK_RECEIVE:
		if (pss == NULL || pss->c == NULL)
			return -1;
		return on_receive(pss->c, wsi, in, len);
	case LWS_CALLBACK_SERVER_WRITEABLE:
		if (pss == NULL || pss->c == NULL)
			return -1;
		return on_writable(pss->c, wsi);
	case LWS_CALLBACK_CLOSED:
		if (pss != NULL && pss->c != NULL) {
			conn_gone(pss->c);
			pss->c = NULL;
		}
		return 0;
	case LWS_CALLBACK_HTTP:
		return s != NULL ? serve_http(wsi, s, in) : -1;
	default:
		break;
	}
	return lws_callback_http_dummy(wsi, reason, user, in, len);
}

/* The store's wake-up descriptor turned readable: other workers or nodes
 * committed something for this worker's devices. */
static int
wake_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	struct lws_context *ctx = lws_get_context(wsi);
	server *s = ctx != NULL ? lws_context_user(ctx) : NULL;
	net *n = s != NULL ? s->net : NULL;
	int rc;

	(void)user;
	(void)in;
	(void)len;
	if (reason != LWS_CALLBACK_RAW_RX_FILE || n == NULL)
		return 0;
	if ((rc = wake_run(s, 1)) != SOTTO_OK) {
		log_error("wake_failed", "err=\"%s\"", sotto_strerror(rc));
		metrics_error(ME_WAKE);
		n->failed = 1;
		lws_cancel_service(n->ctx);
		return -1;
	}
	return 0;
}

/* The source address as text, IPv4-mapped IPv6 as plain IPv4. */
static void
peer_text(const struct sockaddr_storage *ss, char *out, size_t outlen)
{
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;

	snprintf(out, outlen, "?");
	if (ss->ss_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr, out, (socklen_t)outlen);
	else if (ss->ss_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))
		inet_ntop(AF_INET, &s6->sin6_addr.s6_addr[12], out, (socklen_t)outlen);
	else if (ss->ss_family == AF_INET6)
		inet_ntop(AF_INET6, &s6->sin6_addr, out, (socklen_t)outlen);
}

/* The kernel finds dead peers: no timer of ours (or of lws) per connection. */
static void
keepalive_on(int fd)
{
	int one = 1, idle = NET_KEEPALIVE_IDLE, intvl = NET_KEEPALIVE_INTVL, cnt = NET_KEEPALIVE_CNT;
	unsigned int ut = NET_USER_TIMEOUT_MS;

	(void)setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
	(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
	(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
	(void)setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &ut, sizeof(ut));
}

/*
 * accept4 failed for want of descriptors: the listening socket stays readable,
 * so returning would spin the loop on it. The spare descriptor is given up to
 * take the connection and close it at once (the peer sees the close and may
 * come back later), then taken again: the backlog drains at the cost of one
 * accept and one close per refused connection.
 */
static int
accept_refuse(net *n, int err)
{
	uint64_t now = now_ms();
	int fd, took = 0;

	/* Lost when it could not be reopened last time (the system's table full). */
	if (n->spare_fd < 0)
		n->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (n->spare_fd >= 0) {
		close(n->spare_fd);
		n->spare_fd = -1;
		if ((fd = accept4(n->listen_fd, NULL, NULL, SOCK_CLOEXEC)) != -1) {
			close(fd);
			n->refused++;
			took = 1;
		}
		n->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	}
	metrics_error(ME_ACCEPT);
	/* One line a second at most, however hard the flood. */
	if (now - n->refused_logged_at >= 1000) {
		log_warn("accept_refused", "err=\"%s\" refused=%llu conns=%zu", strerror(err),
		    (unsigned long long)n->refused, n->srv->n_conns);
		n->refused_logged_at = now;
		n->refused = 0;
	}
	return took;
}

/*
 * Our own listening socket (lws 4.1 cannot set SO_REUSEPORT on its own): each
 * accepted connection is handed to the TLS vhost as if lws had accepted it.
 */
static int
accept_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	struct lws_context *ctx = lws_get_context(wsi);
	server *s = ctx != NULL ? lws_context_user(ctx) : NULL;
	net *n = s != NULL ? s->net : NULL;
	struct sockaddr_storage ss;
	socklen_t sl;
	char peer[LIMITS_ADDR_MAX];
	limit_entry *e = NULL;
	pending *p;
	struct lws *nw;
	int one = 1, fd;

	(void)user;
	(void)in;
	(void)len;
	if (reason != LWS_CALLBACK_RAW_RX_FILE || n == NULL)
		return 0;
	for (int i = 0; i < NET_ACCEPT_BURST; i++) {
		sl = sizeof(ss);
		if ((fd = accept4(n->listen_fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC)) == -1) {
			/* Without a spare to give up, the next turn tries again. */
			if ((errno == EMFILE || errno == ENFILE) && accept_refuse(n, errno))
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
			    errno != ECONNABORTED)
				log_warn("accept_failed", "err=\"%s\"", strerror(errno));
			break;
		}
		/* Counted before any TLS work: a peer over its share costs us one
		 * accept and one close, and hears nothing (there is no channel for
		 * words yet); the log says why. */
		if (s->lim != NULL) {
			peer_text(&ss, peer, sizeof(peer));
			if ((e = limits_conn_open(s->lim, peer)) == NULL) {
				close(fd);
				cap_exceeded(NULL, "max_conns_per_addr", "addr=%s limit=%llu workers=%zu", peer,
				    (unsigned long long)limits_conn_cap(s->lim), s->n_workers);
				continue;
			}
		}
		if ((p = calloc(1, sizeof(*p))) == NULL) {
			close(fd);
			limits_conn_close(s->lim, e);
			continue;
		}
		p->e = e;
		p->at = now_ms();
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		keepalive_on(fd);
		/* On failure lws closes fd itself. */
		if ((nw = lws_adopt_socket_vhost(n->vh, fd)) == NULL) {
			limits_conn_close(s->lim, e);
			free(p);
			continue;
		}
		p->wsi = nw;
		lws_set_opaque_user_data(nw, p);
		pre_list(n, p, PRE_SOCKET);
		pre_evict(n);
	}
	return 0;
}

static const struct lws_protocols local_protocols[] = {
	{ NET_WAKE_PROTOCOL, wake_callback, 0, 0, 0, NULL, 0 },
	{ NET_ACCEPT_PROTOCOL, accept_callback, 0, 0, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 },
};

static int
adopt_fd(net *n, int fd, const char *protocol)
{
	lws_sock_file_fd_type f;

	f.filefd = fd;
	if (lws_adopt_descriptor_vhost(n->local_vh, LWS_ADOPT_RAW_FILE_DESC, f, protocol, NULL) == NULL) {
		close(fd);
		return SOTTO_ERR_NETWORK;
	}
	return SOTTO_OK;
}

/* The listening socket and the store's wake-up descriptor (a dup: lws closes
 * what it adopts, the store keeps its own) go on a vhost that listens on
 * nothing itself. */
static int
adopt_local(net *n, server *s, const char *host, int *port)
{
	struct lws_context_creation_info info;
	int sfd, rc, lfd;

	memset(&info, 0, sizeof(info));
	info.vhost_name = "sottod-local";
	info.port = CONTEXT_PORT_NO_LISTEN_SERVER;
	info.protocols = local_protocols;
	info.user = s;
	if ((n->local_vh = lws_create_vhost(n->ctx, &info)) == NULL)
		return SOTTO_ERR_NETWORK;
	if (s->listen_fd >= 0) {
		/* Bound by the supervisor (before it gave up root); ours to close. */
		lfd = s->listen_fd;
		s->listen_fd = -1;
	} else if ((rc = server_port_free(host, *port)) != SOTTO_OK ||
	    (rc = server_bind(host, *port, SOTTOD_LISTEN_BACKLOG, &lfd, port)) != SOTTO_OK) {
		log_error("start_failed", "what=listen address=%s err=\"%s\"", s->cfg.listen,
		    strerror(errno));
		return rc;
	}
	n->listen_fd = lfd;
	if ((rc = adopt_fd(n, lfd, NET_ACCEPT_PROTOCOL)) != SOTTO_OK)
		return rc;
	if ((sfd = s->st->ops->wake_fd(s->st)) < 0)
		return SOTTO_OK;
	if ((sfd = dup(sfd)) == -1)
		return SOTTO_ERR_IO;
	return adopt_fd(n, sfd, NET_WAKE_PROTOCOL);
}

static const struct lws_protocols protocols[] = {
	{ WIRE_SUBPROTOCOL, callback, sizeof(struct pss), NET_RX_CHUNK, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 },
};

static void
lws_log_emit(int level, const char *line)
{
	char buf[512];
	size_t n;

	snprintf(buf, sizeof(buf), "%s", line);
	n = strlen(buf);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	for (size_t i = 0; i < n; i++)
		if (buf[i] == '"' || (unsigned char)buf[i] < 0x20)
			buf[i] = '\'';
	log_event(level == LLL_ERR ? LOG_LVL_ERROR : LOG_LVL_WARN, "lws", "msg=\"%s\"", buf);
}

/*
 * lws (4.1) arms its libev timer only after servicing a descriptor, so a
 * timeout set meanwhile (a connection's pre-authentication bound, a close
 * grace) could wait for unrelated traffic on a quiet worker. Once a second
 * the context's own wake pipe is poked: lws services it, then runs every
 * timer that is due and re-arms for the next.
 */
static void
tick_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	(void)loop;
	(void)revents;
	lws_cancel_service(t->data);
}

static void
on_signal(int sig)
{
	got_signal = sig;
	if (signal_ctx != NULL)
		lws_cancel_service(signal_ctx);
}

int
net_run(server *s)
{
	struct lws_context_creation_info info;
	struct sigaction sa;
	char host[SOTTO_MAX_ADDRESS + 1], cert[4200], key[4200];
	struct ev_loop *loop = NULL;
	ev_timer tick;
	ev_io cmw;
	void *foreign[1];
	struct rlimit rl;
	net n;
	int port, rc = SOTTO_ERR_NETWORK;

	memset(&n, 0, sizeof(n));
	memset(&tick, 0, sizeof(tick));
	memset(&cmw, 0, sizeof(cmw));
	n.spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	n.srv = s;
	s->net = &n;
	n.pre_cap = 1024;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
		n.pre_cap = (size_t)rl.rlim_cur / SOTTOD_PREAUTH_FD_SHARE;
	if (n.pre_cap < 16)
		n.pre_cap = 16;
	if (config_split_address(s->cfg.listen, host, sizeof(host), &port, 1) != SOTTO_OK)
		return SOTTO_ERR_INVALID_ARG;
	snprintf(cert, sizeof(cert), "%s/server.crt", s->dir);
	snprintf(key, sizeof(key), "%s/server.key", s->dir);
	lws_set_log_level(s->cfg.log_debug ? (LLL_ERR | LLL_WARN) : LLL_ERR, lws_log_emit);

	/*
	 * lws's own loop calls poll() over every connection on every turn: at
	 * 20,000 idle devices a worker, each turn costs milliseconds even when
	 * one socket is ready. Through libev's epoll backend a turn costs what is
	 * ready. The loop is ours (foreign to lws), so this function keeps
	 * turning it one pass at a time, checking signals and wake-ups between.
	 */
	if ((loop = ev_loop_new(EVBACKEND_EPOLL | EVFLAG_NOSIGMASK)) == NULL) {
		log_error("start_failed", "what=event_loop");
		goto out;
	}
	foreign[0] = loop;
	memset(&info, 0, sizeof(info));
	info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT | LWS_SERVER_OPTION_EXPLICIT_VHOSTS |
	    LWS_SERVER_OPTION_LIBEV;
	info.foreign_loops = foreign;
	info.user = s;
	info.gid = (gid_t)-1;
	info.uid = (uid_t)-1;
	/* Adopted sockets that never finish a TLS handshake time out on the
	 * context's clock: the pre-authentication bound holds there too. */
	info.timeout_secs = (unsigned int)s->cfg.preauth_seconds;
	if ((n.ctx = lws_create_context(&info)) == NULL) {
		log_error("start_failed", "what=context");
		goto out;
	}
	if (tls_read_ahead_init() != SOTTO_OK) {
		log_error("start_failed", "what=tls_read_ahead");
		goto out;
	}
	memset(&info, 0, sizeof(info));
	info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
	info.vhost_name = "sottod";
	/* TLS server, fed by adopt_local's listening socket. */
	info.port = CONTEXT_PORT_NO_LISTEN_SERVER;
	info.protocols = protocols;
	if (s->tls_key != NULL && s->tls_cert != NULL) {
		/* Read while sottod was still root: the key file may stay root's. */
		info.server_ssl_cert_mem = s->tls_cert;
		info.server_ssl_cert_mem_len = (unsigned int)s->tls_cert_len;
		info.server_ssl_private_key_mem = s->tls_key;
		info.server_ssl_private_key_mem_len = (unsigned int)s->tls_key_len;
	} else {
		info.ssl_cert_filepath = cert;
		info.ssl_private_key_filepath = key;
	}
	/* TLS handshake and WebSocket upgrade: the same pre-authentication bound. */
	info.timeout_secs = (unsigned int)s->cfg.preauth_seconds;
	info.ssl_options_set = tls_server_options();
	/* HTTP/1.1 only: frames are written as raw bytes on the TLS stream
	 * (out_write), which a WebSocket inside HTTP/2 would not be. */
	info.alpn = "http/1.1";
	/*
	 * No lws idle policy ("validity" pings): lws 4.1 keeps every connection's
	 * validity timer in one sorted linked list and re-inserts it, scanning
	 * the whole list, on every frame received. At 12,000 idle devices a
	 * worker that alone used both cores (perf: 94 % in lws_dll2_add_sorted).
	 * Dead peers are found by TCP keepalive instead (accept_callback).
	 */
	info.user = s;
	if ((n.vh = lws_create_vhost(n.ctx, &info)) == NULL) {
		log_error("start_failed", "what=listen address=%s", s->cfg.listen);
		goto out;
	}
	if ((rc = adopt_local(&n, s, host, &port)) != SOTTO_OK) {
		log_error("start_failed", "what=local err=\"%s\"", sotto_strerror(rc));
		goto out;
	}
	rc = SOTTO_ERR_NETWORK;

	signal_ctx = n.ctx;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);

	ev_timer_init(&tick, tick_cb, NET_TICK_SECONDS, NET_TICK_SECONDS);
	tick.data = n.ctx;
	ev_timer_start(loop, &tick);
	if (s->cm != NULL) {
		ev_io_init(&cmw, committer_cb, committer_fd(s->cm), EV_READ);
		cmw.data = s;
		ev_io_start(loop, &cmw);
	}
	lws_sul_schedule(n.ctx, 0, &n.sweep_sul, sweep_cb,
	    mailbox_sweep(s) ? NET_SWEEP_AGAIN_US : sweep_interval(s));
	log_info("listening", "address=%s port=%d worker=%zu", host, port, s->worker);
	if (s->ready_fd >= 0) {
		/* The supervisor prints "listening on" once every worker said so. */
		if (write(s->ready_fd, "r", 1) != 1)
			log_warn("ready_failed", "worker=%zu", s->worker);
	} else {
		if (strchr(host, ':') != NULL)
			printf("listening on [%s]:%d\n", host, port);
		else
			printf("listening on %s:%d\n", host, port);
		fflush(stdout);
	}

	/* After each turn, wake-ups the store already holds (libpq keeps the
	 * notifications that came in during a query): no system call. */
	while (!got_signal && !n.failed && !s->store_failed) {
		/* Blocks until something is ready; a signal's lws_cancel_service
		 * makes the context's wake pipe ready. */
		ev_run(loop, n.rx_list != NULL ? EVRUN_NOWAIT : EVRUN_ONCE);
		if ((rc = wake_run(s, 0)) != SOTTO_OK) {
			log_error("wake_failed", "err=\"%s\"", sotto_strerror(rc));
			metrics_error(ME_WAKE);
			n.failed = 1;
		}
		rx_drain(&n);
		out_flush(&n);
	}
	log_info("shutdown", "signal=%d conns=%zu staged=%zu", (int)got_signal, s->n_conns, mailbox_staged(s));
	/* What was staged is committed before anything closes, and its answers
	 * written. */
	mailbox_flush(s);
	out_flush(&n);
	if (s->store_failed)
		log_error("store_failed", "what=committer");
	rc = n.failed || s->store_failed ? SOTTO_ERR_DB : SOTTO_OK;
out:
	if (n.ctx != NULL) {
		lws_sul_cancel(&n.flush_sul);
		lws_sul_cancel(&n.sweep_sul);
		lws_sul_cancel(&n.trim_sul);
		lws_context_destroy(n.ctx);
		/* Connections closed while listed: their references go. */
		rx_drain(&n);
		out_flush(&n);
	}
	if (loop != NULL) {
		if (ev_is_active(&tick))
			ev_timer_stop(loop, &tick);
		if (ev_is_active(&cmw))
			ev_io_stop(loop, &cmw);
		ev_loop_destroy(loop);
	}
	if (n.spare_fd >= 0)
		close(n.spare_fd);
	mailbox_discard(s);
	out_pool_free(&n);
	signal_ctx = NULL;
	s->net = NULL;
	return rc;
}
