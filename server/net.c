/* SPDX-License-Identifier: ISC */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libwebsockets.h>

#include "log.h"
#include "server.h"
#include "sotto/error.h"

/* Bytes lws hands us per RECEIVE callback; messages are reassembled above it. */
#define NET_RX_CHUNK		65536
/* Seconds a closing connection gets to take its last frames. */
#define NET_CLOSE_GRACE		5
#define NET_SWEEP_MAX_SECONDS	60
/* A silent connection is pinged, and dropped if still silent: dead peers do
 * not hold descriptors and push registrations for ever. */
#define NET_IDLE_PING_SECONDS	60
#define NET_IDLE_HANGUP_SECONDS	150

typedef struct net {
	server *srv;
	struct lws_context *ctx;
	struct lws_vhost *vh;
	lws_sorted_usec_list_t flush_sul;
	lws_sorted_usec_list_t sweep_sul;
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
	free(c);
}

static void
outq_clear(conn *c)
{
	outmsg *m;

	while ((m = c->out_head) != NULL) {
		c->out_head = m->next;
		free(m->buf);
		free(m);
	}
	c->out_tail = NULL;
	c->out_bytes = 0;
}

int
conn_send(conn *c, const wire_frame *f)
{
	outmsg *m = NULL;
	uint8_t *buf = NULL;
	size_t n;
	int rc;

	if (c->wsi == NULL || c->closing)
		return SOTTO_OK;
	if ((rc = wire_encode(f, LWS_PRE, &buf, &n)) != SOTTO_OK)
		goto fail;
	if (n > SOTTOD_MAX_OUTQ_BYTES - c->out_bytes) {
		/* A reader this far behind would hold memory without bound: cut it off. */
		log_info("slow_reader", "conn=%llu queued=%zu", (unsigned long long)c->serial, c->out_bytes);
		free(buf);
		outq_clear(c);
		c->closing = 1;
		lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
		return SOTTO_ERR_TOO_LARGE;
	}
	rc = SOTTO_ERR_NOMEM;
	if ((m = calloc(1, sizeof(*m))) == NULL)
		goto fail;
	m->buf = buf;
	m->len = n;
	if (c->out_tail != NULL)
		c->out_tail->next = m;
	else
		c->out_head = m;
	c->out_tail = m;
	c->out_bytes += n;
	lws_callback_on_writable(c->wsi);
	return SOTTO_OK;
fail:
	free(buf);
	return rc;
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

	mailbox_flush(n->srv);
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

	mailbox_sweep(n->srv);
	lws_sul_schedule(n->ctx, 0, &n->sweep_sul, sweep_cb, sweep_interval(n->srv));
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
	lws_get_peer_simple(wsi, c->peer, sizeof(c->peer));
	return c;
}

static void
conn_gone(conn *c)
{
	server *s = c->srv;

	session_closed(c);
	outq_clear(c);
	free(c->rx);
	c->rx = NULL;
	c->rx_len = c->rx_cap = 0;
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	c->next = c->prev = NULL;
	s->n_conns--;
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
	log_info("bad_frame", "conn=%llu reason=\"%s\"", (unsigned long long)c->serial, why);
	c->rx_len = 0;
	session_respond_status(c, 0, st, why);
	conn_close_after_flush(c);
}

static int
on_receive(conn *c, struct lws *wsi, const uint8_t *in, size_t len)
{
	size_t cap = c->state == CONN_AUTHED ? SOTTO_MAX_FRAME : SOTTO_MAX_FRAME_PREAUTH;
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
	if (c->rx_len + len + remaining > c->rx_cap) {
		ncap = c->rx_len + len + remaining;
		if (ncap < 4096)
			ncap = 4096;
		if ((nb = realloc(c->rx, ncap)) == NULL) {
			reject_input(c, SOTTO__WIRE__STATUS__INTERNAL, "out of memory");
			return 0;
		}
		c->rx = nb;
		c->rx_cap = ncap;
	}
	if (len > 0)
		memcpy(c->rx + c->rx_len, in, len);
	c->rx_len += len;
	if (!lws_is_final_fragment(wsi) || remaining > 0)
		return 0;
	session_frame(c, c->rx, c->rx_len);
	c->rx_len = 0;
	if (c->rx_cap > NET_RX_CHUNK) {
		/* Give back what one large message needed. */
		free(c->rx);
		c->rx = NULL;
		c->rx_cap = 0;
	}
	if (c->state == CONN_AUTHED && !c->timeout_cleared && !c->closing) {
		lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0);
		c->timeout_cleared = 1;
	}
	return 0;
}

static int
on_writable(conn *c, struct lws *wsi)
{
	outmsg *m;
	int n;

	if ((m = c->out_head) != NULL) {
		c->out_head = m->next;
		if (c->out_head == NULL)
			c->out_tail = NULL;
		c->out_bytes -= m->len;
		n = lws_write(wsi, m->buf + LWS_PRE, m->len, LWS_WRITE_BINARY);
		free(m->buf);
		free(m);
		if (n < 0)
			return -1;
	}
	if (c->out_head != NULL)
		lws_callback_on_writable(wsi);
	else if (c->closing) {
		lws_close_reason(wsi, LWS_CLOSE_STATUS_NORMAL, NULL, 0);
		return -1;
	}
	return 0;
}

static int
callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	struct pss *pss = user;
	struct lws_context *ctx = lws_get_context(wsi);
	server *s = ctx != NULL ? lws_context_user(ctx) : NULL;

	switch (reason) {
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
		log_info("conn_open", "conn=%llu peer=%s conns=%zu", (unsigned long long)pss->c->serial,
		    pss->c->peer, s->n_conns);
		lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, SOTTO_PREAUTH_SECONDS);
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
	default:
		break;
	}
	return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static const lws_retry_bo_t idle_policy = {
	.secs_since_valid_ping = NET_IDLE_PING_SECONDS,
	.secs_since_valid_hangup = NET_IDLE_HANGUP_SECONDS,
};

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
	net n;
	int port, rc = SOTTO_ERR_NETWORK;

	memset(&n, 0, sizeof(n));
	n.srv = s;
	s->net = &n;
	if (config_split_address(s->cfg.listen, host, sizeof(host), &port, 1) != SOTTO_OK)
		return SOTTO_ERR_INVALID_ARG;
	snprintf(cert, sizeof(cert), "%s/server.crt", s->dir);
	snprintf(key, sizeof(key), "%s/server.key", s->dir);
	lws_set_log_level(s->cfg.log_debug ? (LLL_ERR | LLL_WARN) : LLL_ERR, lws_log_emit);

	memset(&info, 0, sizeof(info));
	info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT | LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
	info.user = s;
	info.gid = (gid_t)-1;
	info.uid = (uid_t)-1;
	if ((n.ctx = lws_create_context(&info)) == NULL) {
		log_error("start_failed", "what=context");
		goto out;
	}
	memset(&info, 0, sizeof(info));
	info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
	info.vhost_name = "sottod";
	info.port = port;
	info.iface = strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0 ? NULL : host;
	info.protocols = protocols;
	info.ssl_cert_filepath = cert;
	info.ssl_private_key_filepath = key;
	info.ssl_options_set = tls_server_options();
	info.retry_and_idle_policy = &idle_policy;
	info.user = s;
	if ((n.vh = lws_create_vhost(n.ctx, &info)) == NULL) {
		log_error("start_failed", "what=listen address=%s", s->cfg.listen);
		goto out;
	}
	port = lws_get_vhost_listen_port(n.vh);

	signal_ctx = n.ctx;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);

	mailbox_sweep(s);
	lws_sul_schedule(n.ctx, 0, &n.sweep_sul, sweep_cb, sweep_interval(s));
	log_info("listening", "address=%s port=%d", host, port);
	if (strchr(host, ':') != NULL)
		printf("listening on [%s]:%d\n", host, port);
	else
		printf("listening on %s:%d\n", host, port);
	fflush(stdout);

	while (!got_signal)
		if (lws_service(n.ctx, 0) < 0)
			break;
	log_info("shutdown", "signal=%d conns=%zu staged=%zu", (int)got_signal, s->n_conns, s->batch_n);
	/* What was staged is committed before anything closes. */
	mailbox_flush(s);
	rc = SOTTO_OK;
out:
	if (n.ctx != NULL) {
		lws_sul_cancel(&n.flush_sul);
		lws_sul_cancel(&n.sweep_sul);
		lws_context_destroy(n.ctx);
	}
	mailbox_discard(s);
	signal_ctx = NULL;
	s->net = NULL;
	return rc;
}
