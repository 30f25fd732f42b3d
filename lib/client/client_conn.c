/* SPDX-License-Identifier: ISC */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libwebsockets.h>

#include "client.h"

typedef struct frame_node {
	wire_frame *f;
	struct frame_node *next;
} frame_node;

typedef struct tx_node {
	uint8_t *buf;		/* LWS_PRE headroom, then the frame */
	size_t len;
	struct tx_node *next;
} tx_node;

struct conn {
	struct lws_context *ctx;
	struct lws *wsi;
	lws_sorted_usec_list_t tick;
	uint8_t pin[TLS_PIN_LEN];
	int established;
	int closed;
	int err;		/* first failure; sticky */
	uint8_t *rx;		/* message being reassembled */
	size_t rx_len;
	frame_node *in_head, *in_tail;
	tx_node *tx_head, *tx_tail;
	uint64_t next_id;
	uint8_t nonce[WIRE_NONCE_LEN];
	char host[SOTTO_MAX_ADDRESS + 1];
	int port;
};

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
fail(conn *c, int err)
{
	if (c->err == SOTTO_OK)
		c->err = err;
}

static int
pin_matches(conn *c, int r, const uint8_t got[TLS_PIN_LEN])
{
	if (r != SOTTO_OK) {
		fail(c, SOTTO_ERR_TLS);
		return 0;
	}
	if (!sc_memeq(got, c->pin, TLS_PIN_LEN)) {
		fail(c, SOTTO_ERR_PIN);
		return 0;
	}
	return 1;
}

static void
queue_in(conn *c, wire_frame *f)
{
	frame_node *n;

	if ((n = calloc(1, sizeof(*n))) == NULL) {
		wire_free(f);
		fail(c, SOTTO_ERR_NOMEM);
		return;
	}
	n->f = f;
	if (c->in_tail != NULL)
		c->in_tail->next = n;
	else
		c->in_head = n;
	c->in_tail = n;
}

/* A WebSocket message may arrive in pieces; the frame cap bounds the whole. */
static int
on_receive(conn *c, struct lws *wsi, const void *in, size_t len)
{
	wire_frame *f = NULL;
	int r;

	if (!lws_frame_is_binary(wsi) && c->rx_len == 0 && lws_is_first_fragment(wsi)) {
		fail(c, SOTTO_ERR_PROTOCOL);
		return -1;
	}
	if (len > SOTTO_MAX_FRAME - c->rx_len) {
		fail(c, SOTTO_ERR_PROTOCOL);
		return -1;
	}
	if (c->rx == NULL && (c->rx = malloc(SOTTO_MAX_FRAME)) == NULL) {
		fail(c, SOTTO_ERR_NOMEM);
		return -1;
	}
	if (len > 0)
		memcpy(c->rx + c->rx_len, in, len);
	c->rx_len += len;
	if (!lws_is_final_fragment(wsi))
		return 0;
	r = wire_decode(&f, c->rx, c->rx_len, SOTTO_MAX_FRAME);
	c->rx_len = 0;
	if (r != SOTTO_OK) {
		fail(c, SOTTO_ERR_PROTOCOL);
		return -1;
	}
	queue_in(c, f);
	return 0;
}

static int
on_writeable(conn *c, struct lws *wsi)
{
	tx_node *t = c->tx_head;

	if (t == NULL)
		return 0;
	if (lws_write(wsi, t->buf + LWS_PRE, t->len, LWS_WRITE_BINARY) < (int)t->len) {
		fail(c, SOTTO_ERR_NETWORK);
		return -1;
	}
	c->tx_head = t->next;
	if (c->tx_head == NULL)
		c->tx_tail = NULL;
	free(t->buf);
	free(t);
	if (c->tx_head != NULL)
		lws_callback_on_writable(wsi);
	return 0;
}

static int
callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	conn *c = lws_context_user(lws_get_context(wsi));
	uint8_t got[TLS_PIN_LEN];
	int r;

	if (c == NULL)
		return 0;
	switch (reason) {
	case LWS_CALLBACK_OPENSSL_PERFORM_SERVER_CERT_VERIFICATION:
		/* user is the X509_STORE_CTX: every certificate of the chain must be
		 * the pinned key, so a wrong server fails the handshake itself. */
		r = tls_pin_from_store_ctx(user, got);
		return pin_matches(c, r, got) ? 0 : 1;
	case LWS_CALLBACK_CLIENT_ESTABLISHED:
		/* Checked again on the live session before any frame moves. */
		r = tls_pin_from_ssl_peer(lws_get_ssl(wsi), got);
		if (!pin_matches(c, r, got))
			return -1;
		c->established = 1;
		if (c->tx_head != NULL)
			lws_callback_on_writable(wsi);
		return 0;
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		fail(c, SOTTO_ERR_NETWORK);
		c->closed = 1;
		c->wsi = NULL;
		return 0;
	case LWS_CALLBACK_CLIENT_RECEIVE:
		if (!c->established)
			return -1;
		return on_receive(c, wsi, in, len);
	case LWS_CALLBACK_CLIENT_WRITEABLE:
		if (!c->established)
			return 0;
		return on_writeable(c, wsi);
	case LWS_CALLBACK_CLIENT_CLOSED:
	case LWS_CALLBACK_WSI_DESTROY:
		if (wsi == c->wsi) {
			fail(c, SOTTO_ERR_NETWORK);
			c->closed = 1;
			c->wsi = NULL;
		}
		return 0;
	default:
		return 0;
	}
}

static const struct lws_protocols protocols[] = {
	{ WIRE_SUBPROTOCOL, callback, 0, 65536, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 }
};

static void
tick_cb(lws_sorted_usec_list_t *sul)
{
	(void)sul;	/* only here to make lws_service return */
}

/* Service the connection until done(c, arg) holds, an error, or the deadline. */
static int
pump(conn *c, int64_t deadline, int (*done)(conn *, void *), void *arg)
{
	int64_t now, step;

	for (;;) {
		if (done(c, arg))
			return SOTTO_OK;
		if (c->err != SOTTO_OK)
			return c->err;
		if (c->closed)
			return SOTTO_ERR_NETWORK;
		if ((now = mono_ms()) >= deadline)
			return SOTTO_ERR_TIMEOUT;
		step = deadline - now;
		if (step > 200)
			step = 200;
		lws_sul_schedule(c->ctx, 0, &c->tick, tick_cb, step * LWS_US_PER_MS);
		if (lws_service(c->ctx, 0) < 0)
			fail(c, SOTTO_ERR_NETWORK);
	}
}

static int
have_frame(conn *c, void *arg)
{
	(void)arg;
	return c->in_head != NULL;
}

static int
parse_address(conn *c, const char *address)
{
	const char *colon = strrchr(address, ':');
	const char *h = address;
	size_t hl;
	char *end;
	long port;

	if (colon == NULL || colon == address)
		return SOTTO_ERR_INVALID_ARG;
	hl = (size_t)(colon - address);
	if (h[0] == '[' && hl >= 2 && h[hl - 1] == ']') {
		h++;
		hl -= 2;
	}
	if (hl == 0 || hl > SOTTO_MAX_ADDRESS)
		return SOTTO_ERR_INVALID_ARG;
	memcpy(c->host, h, hl);
	c->host[hl] = '\0';
	port = strtol(colon + 1, &end, 10);
	if (*end != '\0' || end == colon + 1 || port < 1 || port > 65535)
		return SOTTO_ERR_INVALID_ARG;
	c->port = (int)port;
	return SOTTO_OK;
}

int
conn_open(conn **out, const char *address, const uint8_t pin[static TLS_PIN_LEN])
{
	struct lws_context_creation_info info;
	struct lws_client_connect_info ci;
	frame_node *n;
	conn *c = NULL;
	int r;

	*out = NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return SOTTO_ERR_NOMEM;
	memcpy(c->pin, pin, TLS_PIN_LEN);
	if ((r = parse_address(c, address)) != SOTTO_OK)
		goto out;
	/* The library never prints: lws logs nothing. */
	lws_set_log_level(0, NULL);
	memset(&info, 0, sizeof(info));
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = protocols;
	info.gid = -1;
	info.uid = -1;
	info.user = c;
	info.fd_limit_per_thread = 16;
	info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
	/* TLS 1.3 only (constants from the OpenSSL header libwebsockets.h includes). */
	info.ssl_client_options_set = SSL_OP_NO_SSLv3 | SSL_OP_NO_TLSv1 | SSL_OP_NO_TLSv1_1 |
	    SSL_OP_NO_TLSv1_2;
	r = SOTTO_ERR_TLS;
	if ((c->ctx = lws_create_context(&info)) == NULL)
		goto out;
	memset(&ci, 0, sizeof(ci));
	ci.context = c->ctx;
	ci.address = c->host;
	ci.port = c->port;
	ci.path = "/";
	ci.host = c->host;
	ci.origin = c->host;
	ci.protocol = WIRE_SUBPROTOCOL;
	ci.ssl_connection = LCCSCF_USE_SSL | LCCSCF_ALLOW_SELFSIGNED |
	    LCCSCF_SKIP_SERVER_CERT_HOSTNAME_CHECK | LCCSCF_ALLOW_EXPIRED;
	ci.pwsi = &c->wsi;
	r = SOTTO_ERR_NETWORK;
	if (lws_client_connect_via_info(&ci) == NULL) {
		r = c->err != SOTTO_OK ? c->err : SOTTO_ERR_NETWORK;
		goto out;
	}
	if ((r = pump(c, mono_ms() + CLIENT_TIMEOUT_MS, have_frame, NULL)) != SOTTO_OK)
		goto out;
	n = c->in_head;
	r = SOTTO_ERR_PROTOCOL;
	if (n->f->msg_case != SOTTO__WIRE__FRAME__MSG_CHALLENGE ||
	    n->f->challenge->protocol_version != WIRE_PROTOCOL_VERSION)
		goto out;
	memcpy(c->nonce, n->f->challenge->nonce.data, WIRE_NONCE_LEN);
	c->in_head = n->next;
	if (c->in_head == NULL)
		c->in_tail = NULL;
	wire_free(n->f);
	free(n);
	*out = c;
	c = NULL;
	r = SOTTO_OK;
out:
	conn_close(c);
	return r;
}

void
conn_close(conn *c)
{
	frame_node *n;
	tx_node *t;

	if (c == NULL)
		return;
	if (c->ctx != NULL) {
		lws_sul_cancel(&c->tick);
		lws_context_destroy(c->ctx);
	}
	while ((n = c->in_head) != NULL) {
		c->in_head = n->next;
		wire_free(n->f);
		free(n);
	}
	while ((t = c->tx_head) != NULL) {
		c->tx_head = t->next;
		free(t->buf);
		free(t);
	}
	if (c->rx != NULL)
		sc_wipe(c->rx, SOTTO_MAX_FRAME);
	free(c->rx);
	free(c);
}

const uint8_t *
conn_nonce(const conn *c)
{
	return c->nonce;
}

static int
enqueue(conn *c, const wire_frame *f)
{
	tx_node *t;
	int r;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return SOTTO_ERR_NOMEM;
	if ((r = wire_encode(f, LWS_PRE, &t->buf, &t->len)) != SOTTO_OK) {
		free(t);
		return r;
	}
	if (c->tx_tail != NULL)
		c->tx_tail->next = t;
	else
		c->tx_head = t;
	c->tx_tail = t;
	if (c->wsi != NULL && c->established)
		lws_callback_on_writable(c->wsi);
	return SOTTO_OK;
}

static int
have_response(conn *c, void *arg)
{
	uint64_t id = *(uint64_t *)arg;

	for (frame_node *n = c->in_head; n != NULL; n = n->next)
		if (n->f->msg_case == SOTTO__WIRE__FRAME__MSG_RESPONSE && n->f->id == id)
			return 1;
	return 0;
}

/* Remove and return the first queued frame that is (want_response) the
 * response to id, or (!want_response) a push; responses to other ids are dropped. */
static wire_frame *
take(conn *c, int want_response, uint64_t id)
{
	frame_node **pp = &c->in_head, *n, *prev = NULL;
	wire_frame *f;
	int is_resp;

	while ((n = *pp) != NULL) {
		is_resp = n->f->msg_case == SOTTO__WIRE__FRAME__MSG_RESPONSE;
		if (want_response ? (is_resp && n->f->id == id) : !is_resp) {
			*pp = n->next;
			if (c->in_tail == n)
				c->in_tail = prev;
			f = n->f;
			free(n);
			return f;
		}
		prev = n;
		pp = &n->next;
	}
	return NULL;
}

int
conn_request(conn *c, wire_frame *req, wire_frame **resp)
{
	wire_frame *f;
	uint64_t id;
	int r;

	*resp = NULL;
	id = ++c->next_id;
	req->id = id;
	if ((r = enqueue(c, req)) != SOTTO_OK)
		return r;
	if ((r = pump(c, mono_ms() + CLIENT_TIMEOUT_MS, have_response, &id)) != SOTTO_OK)
		return r;
	if ((f = take(c, 1, id)) == NULL)
		return SOTTO_ERR_INTERNAL;
	*resp = f;
	return wire_status_to_err(f->response->status);
}

static int
have_push(conn *c, void *arg)
{
	(void)arg;
	for (frame_node *n = c->in_head; n != NULL; n = n->next)
		if (n->f->msg_case != SOTTO__WIRE__FRAME__MSG_RESPONSE)
			return 1;
	return 0;
}

int
conn_next_push(conn *c, int timeout_ms, wire_frame **f)
{
	int r;

	*f = NULL;
	if (!have_push(c, NULL)) {
		if (timeout_ms <= 0)
			return SOTTO_ERR_TIMEOUT;
		if ((r = pump(c, mono_ms() + timeout_ms, have_push, NULL)) != SOTTO_OK)
			return r;
	}
	if ((*f = take(c, 0, 0)) == NULL)
		return SOTTO_ERR_INTERNAL;
	return SOTTO_OK;
}
