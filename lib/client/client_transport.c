/* SPDX-License-Identifier: ISC */
/*
 * The client's transport: TLS 1.3 with a pinned key, one WebSocket, binary
 * messages. Everything above it (frames, the queue, requests) is in
 * client_conn.c, so tests can replace this file alone (tests/unit/fake_server.c).
 */
#include <stdlib.h>
#include <string.h>

#include <libwebsockets.h>

#include "client.h"

typedef struct tx_node {
	uint8_t *buf;		/* LWS_PRE headroom, then the frame */
	size_t len;
	struct tx_node *next;
} tx_node;

struct ctransport {
	struct lws_context *ctx;
	struct lws *wsi;
	lws_sorted_usec_list_t tick;
	conn *owner;
	uint8_t pin[TLS_PIN_LEN];
	int established;
	int closed;
	int err;		/* first failure; sticky */
	uint8_t *rx;		/* message being reassembled */
	size_t rx_len;
	tx_node *tx_head, *tx_tail;
	char host[SOTTO_MAX_ADDRESS + 1];
	int port;
};

static void
fail(ctransport *t, int err)
{
	if (t->err == SOTTO_OK)
		t->err = err;
}

static int
pin_matches(ctransport *t, int r, const uint8_t got[TLS_PIN_LEN])
{
	if (r != SOTTO_OK) {
		fail(t, SOTTO_ERR_TLS);
		return 0;
	}
	if (!sc_memeq(got, t->pin, TLS_PIN_LEN)) {
		fail(t, SOTTO_ERR_PIN);
		return 0;
	}
	return 1;
}

/* A WebSocket message may arrive in pieces; the frame cap bounds the whole. */
static int
on_receive(ctransport *t, struct lws *wsi, const void *in, size_t len)
{
	int r;

	if (!lws_frame_is_binary(wsi) && t->rx_len == 0 && lws_is_first_fragment(wsi)) {
		fail(t, SOTTO_ERR_PROTOCOL);
		return -1;
	}
	if (len > SOTTO_MAX_FRAME - t->rx_len) {
		fail(t, SOTTO_ERR_PROTOCOL);
		return -1;
	}
	if (t->rx == NULL && (t->rx = malloc(SOTTO_MAX_FRAME)) == NULL) {
		fail(t, SOTTO_ERR_NOMEM);
		return -1;
	}
	if (len > 0)
		memcpy(t->rx + t->rx_len, in, len);
	t->rx_len += len;
	if (!lws_is_final_fragment(wsi))
		return 0;
	r = conn_frame_in(t->owner, t->rx, t->rx_len);
	t->rx_len = 0;
	if (r != SOTTO_OK) {
		fail(t, r);
		return -1;
	}
	return 0;
}

static int
on_writeable(ctransport *t, struct lws *wsi)
{
	tx_node *n = t->tx_head;

	if (n == NULL)
		return 0;
	if (lws_write(wsi, n->buf + LWS_PRE, n->len, LWS_WRITE_BINARY) < (int)n->len) {
		fail(t, SOTTO_ERR_NETWORK);
		return -1;
	}
	t->tx_head = n->next;
	if (t->tx_head == NULL)
		t->tx_tail = NULL;
	free(n->buf);
	free(n);
	if (t->tx_head != NULL)
		lws_callback_on_writable(wsi);
	return 0;
}

static int
callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	ctransport *t = lws_context_user(lws_get_context(wsi));
	uint8_t got[TLS_PIN_LEN];
	int r;

	if (t == NULL)
		return 0;
	switch (reason) {
	case LWS_CALLBACK_OPENSSL_PERFORM_SERVER_CERT_VERIFICATION:
		/* user is the X509_STORE_CTX: every certificate of the chain must be
		 * the pinned key, so a wrong server fails the handshake itself. */
		r = tls_pin_from_store_ctx(user, got);
		return pin_matches(t, r, got) ? 0 : 1;
	case LWS_CALLBACK_CLIENT_ESTABLISHED:
		/* Checked again on the live session before any frame moves. */
		r = tls_pin_from_ssl_peer(lws_get_ssl(wsi), got);
		if (!pin_matches(t, r, got))
			return -1;
		t->established = 1;
		if (t->tx_head != NULL)
			lws_callback_on_writable(wsi);
		return 0;
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		fail(t, SOTTO_ERR_NETWORK);
		t->closed = 1;
		t->wsi = NULL;
		return 0;
	case LWS_CALLBACK_CLIENT_RECEIVE:
		if (!t->established)
			return -1;
		return on_receive(t, wsi, in, len);
	case LWS_CALLBACK_CLIENT_WRITEABLE:
		if (!t->established)
			return 0;
		return on_writeable(t, wsi);
	case LWS_CALLBACK_CLIENT_CLOSED:
	case LWS_CALLBACK_WSI_DESTROY:
		if (wsi == t->wsi) {
			fail(t, SOTTO_ERR_NETWORK);
			t->closed = 1;
			t->wsi = NULL;
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

static int
parse_address(ctransport *t, const char *address)
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
	memcpy(t->host, h, hl);
	t->host[hl] = '\0';
	port = strtol(colon + 1, &end, 10);
	if (*end != '\0' || end == colon + 1 || port < 1 || port > 65535)
		return SOTTO_ERR_INVALID_ARG;
	t->port = (int)port;
	return SOTTO_OK;
}

int
ctransport_open(ctransport **out, conn *owner, const char *address,
    const uint8_t pin[static TLS_PIN_LEN])
{
	struct lws_context_creation_info info;
	struct lws_client_connect_info ci;
	ctransport *t = NULL;
	int r;

	*out = NULL;
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return SOTTO_ERR_NOMEM;
	t->owner = owner;
	memcpy(t->pin, pin, TLS_PIN_LEN);
	if ((r = parse_address(t, address)) != SOTTO_OK)
		goto out;
	/* The library never prints: lws logs nothing. */
	lws_set_log_level(0, NULL);
	memset(&info, 0, sizeof(info));
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = protocols;
	info.gid = -1;
	info.uid = -1;
	info.user = t;
	info.fd_limit_per_thread = 16;
	info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
	/* TLS 1.3 only (constants from the OpenSSL header libwebsockets.h includes). */
	info.ssl_client_options_set = SSL_OP_NO_SSLv3 | SSL_OP_NO_TLSv1 | SSL_OP_NO_TLSv1_1 |
	    SSL_OP_NO_TLSv1_2;
	r = SOTTO_ERR_TLS;
	if ((t->ctx = lws_create_context(&info)) == NULL)
		goto out;
	memset(&ci, 0, sizeof(ci));
	ci.context = t->ctx;
	ci.address = t->host;
	ci.port = t->port;
	ci.path = "/";
	ci.host = t->host;
	ci.origin = t->host;
	ci.protocol = WIRE_SUBPROTOCOL;
	ci.ssl_connection = LCCSCF_USE_SSL | LCCSCF_ALLOW_SELFSIGNED |
	    LCCSCF_SKIP_SERVER_CERT_HOSTNAME_CHECK | LCCSCF_ALLOW_EXPIRED;
	ci.pwsi = &t->wsi;
	if (lws_client_connect_via_info(&ci) == NULL) {
		r = t->err != SOTTO_OK ? t->err : SOTTO_ERR_NETWORK;
		goto out;
	}
	*out = t;
	t = NULL;
	r = SOTTO_OK;
out:
	ctransport_close(t);
	return r;
}

void
ctransport_close(ctransport *t)
{
	tx_node *n;

	if (t == NULL)
		return;
	if (t->ctx != NULL) {
		lws_sul_cancel(&t->tick);
		lws_context_destroy(t->ctx);
	}
	while ((n = t->tx_head) != NULL) {
		t->tx_head = n->next;
		free(n->buf);
		free(n);
	}
	if (t->rx != NULL)
		sc_wipe(t->rx, SOTTO_MAX_FRAME);
	free(t->rx);
	free(t);
}

int
ctransport_send(ctransport *t, const wire_frame *f)
{
	tx_node *n;
	int r;

	if ((n = calloc(1, sizeof(*n))) == NULL)
		return SOTTO_ERR_NOMEM;
	if ((r = wire_encode(f, LWS_PRE, &n->buf, &n->len)) != SOTTO_OK) {
		free(n);
		return r;
	}
	if (t->tx_tail != NULL)
		t->tx_tail->next = n;
	else
		t->tx_head = n;
	t->tx_tail = n;
	if (t->wsi != NULL && t->established)
		lws_callback_on_writable(t->wsi);
	return SOTTO_OK;
}

int
ctransport_service(ctransport *t, int timeout_ms)
{
	if (t->err != SOTTO_OK)
		return t->err;
	if (t->closed)
		return SOTTO_ERR_NETWORK;
	lws_sul_schedule(t->ctx, 0, &t->tick, tick_cb, (lws_usec_t)timeout_ms * LWS_US_PER_MS);
	if (lws_service(t->ctx, 0) < 0)
		fail(t, SOTTO_ERR_NETWORK);
	return t->err;
}
