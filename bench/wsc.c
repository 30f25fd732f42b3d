/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <openssl/ssl.h>

#include "caps.h"
#include "crypto.h"
#include "sotto/error.h"
#include "tls.h"
#include "wsc.h"
#include "wire.h"

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
/* A reply to the upgrade larger than this is not a WebSocket server. */
#define WSC_MAX_HTTP 8192
#define WSC_MAX_IN (SOTTO_MAX_FRAME + 64)
#define WSC_READ_CHUNK 16384

static SSL_CTX *client_ctx;
static uint64_t mask_state = 0x9e3779b97f4a7c15ULL;

int
wsc_global_init(void)
{
	if ((client_ctx = SSL_CTX_new(TLS_client_method())) == NULL)
		return -1;
	if (SSL_CTX_set_min_proto_version(client_ctx, TLS1_3_VERSION) != 1 ||
	    SSL_CTX_set_max_proto_version(client_ctx, TLS1_3_VERSION) != 1)
		return -1;
	/* The pin is checked by hand after the handshake, as the product does in it. */
	SSL_CTX_set_verify(client_ctx, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_mode(client_ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_session_cache_mode(client_ctx, SSL_SESS_CACHE_OFF);
	return 0;
}

void *
wsc_ssl_ctx(void)
{
	return client_ctx;
}

/* Masks need not be secret here (RFC 6455 10.3 is about browsers); xorshift is enough. */
static uint32_t
mask_next(void)
{
	mask_state ^= mask_state << 13;
	mask_state ^= mask_state >> 7;
	mask_state ^= mask_state << 17;
	return (uint32_t)mask_state;
}

static int
grow(uint8_t **p, size_t *cap, size_t need, size_t max)
{
	size_t ncap;
	uint8_t *np;

	if (need <= *cap)
		return 0;
	if (need > max)
		return -1;
	ncap = *cap == 0 ? 1024 : *cap;
	while (ncap < need)
		ncap *= 2;
	if (ncap > max)
		ncap = max;
	if ((np = realloc(*p, ncap)) == NULL)
		return -1;
	*p = np;
	*cap = ncap;
	return 0;
}

static void
set_events(wsc *c, uint32_t ev)
{
	struct epoll_event e;

	if (c->fd < 0 || ev == c->cur_ev)
		return;
	memset(&e, 0, sizeof(e));
	e.events = ev;
	e.data.ptr = &c->h;
	if (epoll_ctl(c->ep, EPOLL_CTL_MOD, c->fd, &e) == 0)
		c->cur_ev = ev;
}

void
wsc_close(wsc *c, const char *why)
{
	if (c->state == WSC_CLOSED || c->state == WSC_IDLE)
		return;
	c->state = WSC_CLOSED;
	if (c->ssl != NULL)
		SSL_free(c->ssl);
	c->ssl = NULL;
	if (c->fd >= 0) {
		epoll_ctl(c->ep, EPOLL_CTL_DEL, c->fd, NULL);
		close(c->fd);
	}
	c->fd = -1;
	free(c->in);
	free(c->out);
	free(c->msg);
	c->in = c->out = c->msg = NULL;
	c->in_len = c->in_cap = c->out_len = c->out_off = c->out_cap = c->msg_len = c->msg_cap = 0;
	if (c->on_close != NULL)
		c->on_close(c, why);
}

static int
queue_raw(wsc *c, const uint8_t *p, size_t n)
{
	if (c->out_off > 0 && c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
	if (grow(&c->out, &c->out_cap, c->out_len + n, (size_t)1 << 30) != 0)
		return -1;
	memcpy(c->out + c->out_len, p, n);
	c->out_len += n;
	return 0;
}

static int
queue_frame(wsc *c, int opcode, const uint8_t *p, size_t n)
{
	uint8_t hdr[14];
	size_t hl = 0, i, start;
	uint32_t m = mask_next();
	uint8_t mk[4] = { (uint8_t)(m >> 24), (uint8_t)(m >> 16), (uint8_t)(m >> 8), (uint8_t)m };

	hdr[hl++] = (uint8_t)(0x80 | opcode);
	if (n < 126)
		hdr[hl++] = (uint8_t)(0x80 | n);
	else if (n <= 0xffff) {
		hdr[hl++] = 0x80 | 126;
		hdr[hl++] = (uint8_t)(n >> 8);
		hdr[hl++] = (uint8_t)n;
	} else {
		hdr[hl++] = 0x80 | 127;
		for (i = 0; i < 8; i++)
			hdr[hl++] = (uint8_t)((uint64_t)n >> (56 - 8 * i));
	}
	memcpy(hdr + hl, mk, 4);
	hl += 4;
	if (queue_raw(c, hdr, hl) != 0)
		return -1;
	start = c->out_len;
	if (queue_raw(c, p, n) != 0)
		return -1;
	for (i = 0; i < n; i++)
		c->out[start + i] ^= mk[i & 3];
	return 0;
}

/* Write what is queued; 0 (done or would block) or -1. */
static int
flush_out(wsc *c)
{
	int n, e;

	while (c->out_off < c->out_len) {
		ERR_clear_error();
		n = SSL_write(c->ssl, c->out + c->out_off, (int)(c->out_len - c->out_off));
		if (n > 0) {
			c->out_off += (size_t)n;
			continue;
		}
		e = SSL_get_error(c->ssl, n);
		if (e == SSL_ERROR_WANT_WRITE) {
			set_events(c, EPOLLIN | EPOLLOUT);
			return 0;
		}
		if (e == SSL_ERROR_WANT_READ)
			return 0;
		return -1;
	}
	c->out_off = c->out_len = 0;
	set_events(c, EPOLLIN);
	return 0;
}

int
wsc_send(wsc *c, const uint8_t *p, size_t n)
{
	if (c->state != WSC_OPEN)
		return -1;
	if (queue_frame(c, 0x2, p, n) != 0 || flush_out(c) != 0) {
		wsc_close(c, "write failed");
		return -1;
	}
	return 0;
}

static void
b64std(char *out, const uint8_t *in, size_t n)
{
	EVP_EncodeBlock((unsigned char *)out, in, (int)n);
}

static int
send_upgrade(wsc *c)
{
	uint8_t key[16], sha[SHA_DIGEST_LENGTH];
	char k64[32], cat[128], req[512];
	int n;

	sc_random(key, sizeof(key));
	b64std(k64, key, sizeof(key));
	snprintf(cat, sizeof(cat), "%s%s", k64, WS_GUID);
	SHA1((const unsigned char *)cat, strlen(cat), sha);
	b64std(c->accept, sha, sizeof(sha));
	n = snprintf(req, sizeof(req),
	    "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	    "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
	    "Sec-WebSocket-Protocol: " WIRE_SUBPROTOCOL "\r\n\r\n", k64);
	if (n < 0 || (size_t)n >= sizeof(req))
		return -1;
	return queue_raw(c, (const uint8_t *)req, (size_t)n);
}

static int
header_has(const char *hdrs, const char *name, const char *value)
{
	const char *p = hdrs;
	size_t nl = strlen(name), vl = strlen(value);

	while ((p = strstr(p, "\r\n")) != NULL) {
		p += 2;
		if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
			const char *v = p + nl + 1;

			while (*v == ' ')
				v++;
			if (strncmp(v, value, vl) == 0 && (v[vl] == '\r' || v[vl] == ' '))
				return 1;
		}
	}
	return 0;
}

/* The upgrade answer: 101, our accept value, our subprotocol. */
static int
parse_http(wsc *c)
{
	char hdrs[WSC_MAX_HTTP + 1];
	uint8_t *end;
	size_t hl;

	end = memmem(c->in, c->in_len, "\r\n\r\n", 4);
	if (end == NULL)
		return c->in_len > WSC_MAX_HTTP ? -1 : 0;
	hl = (size_t)(end - c->in) + 4;
	memcpy(hdrs, c->in, hl - 2);
	hdrs[hl - 2] = '\0';
	if (strncmp(hdrs, "HTTP/1.1 101", 12) != 0 ||
	    !header_has(hdrs, "Sec-WebSocket-Accept", c->accept) ||
	    !header_has(hdrs, "Sec-WebSocket-Protocol", WIRE_SUBPROTOCOL))
		return -1;
	memmove(c->in, c->in + hl, c->in_len - hl);
	c->in_len -= hl;
	c->state = WSC_OPEN;
	if (c->on_open != NULL)
		c->on_open(c);
	return c->state == WSC_OPEN ? 1 : -1;
}

/* Complete server frames out of c->in (servers do not mask). */
static int
parse_frames(wsc *c)
{
	size_t off = 0, hl, i;
	uint64_t len;
	int fin, op;
	const uint8_t *p;

	while (c->state == WSC_OPEN) {
		p = c->in + off;
		if (c->in_len - off < 2)
			break;
		fin = p[0] & 0x80;
		op = p[0] & 0x0f;
		if (p[1] & 0x80)
			return -1;
		len = p[1] & 0x7f;
		hl = 2;
		if (len == 126) {
			if (c->in_len - off < 4)
				break;
			len = (uint64_t)p[2] << 8 | p[3];
			hl = 4;
		} else if (len == 127) {
			if (c->in_len - off < 10)
				break;
			len = 0;
			for (i = 0; i < 8; i++)
				len = len << 8 | p[2 + i];
			hl = 10;
		}
		if (len > WSC_MAX_IN)
			return -1;
		if (c->in_len - off - hl < len)
			break;
		p += hl;
		switch (op) {
		case 0x0:
		case 0x2:
			if (op == 0x2 && c->msg_len != 0)
				return -1;
			if (fin && c->msg_len == 0) {
				if (c->on_msg != NULL)
					c->on_msg(c, p, (size_t)len);
				break;
			}
			if (grow(&c->msg, &c->msg_cap, c->msg_len + len, WSC_MAX_IN) != 0)
				return -1;
			memcpy(c->msg + c->msg_len, p, (size_t)len);
			c->msg_len += len;
			if (fin) {
				if (c->on_msg != NULL)
					c->on_msg(c, c->msg, c->msg_len);
				c->msg_len = 0;
			}
			break;
		case 0x8:
			return -1;
		case 0x9:
			if (len > 125 || queue_frame(c, 0xa, p, (size_t)len) != 0)
				return -1;
			break;
		case 0xa:
			break;
		default:
			return -1;
		}
		off += hl + (size_t)len;
	}
	if (c->state != WSC_OPEN)
		return 0;
	if (off > 0) {
		memmove(c->in, c->in + off, c->in_len - off);
		c->in_len -= off;
	}
	/* Nothing buffered between messages: an idle connection keeps no read buffer. */
	if (c->in_len == 0 && c->in_cap > 65536) {
		free(c->in);
		c->in = NULL;
		c->in_cap = 0;
	}
	return 0;
}

static int
pin_ok(wsc *c)
{
	uint8_t got[TLS_PIN_LEN];

	if (tls_pin_from_ssl_peer(c->ssl, got) != SOTTO_OK)
		return 0;
	return sc_memeq(got, c->pin, TLS_PIN_LEN);
}

static void
do_handshake(wsc *c)
{
	int r = SSL_connect(c->ssl), e;

	if (r == 1) {
		if (!pin_ok(c)) {
			wsc_close(c, "pin mismatch");
			return;
		}
		c->state = WSC_HTTP;
		if (send_upgrade(c) != 0 || flush_out(c) != 0)
			wsc_close(c, "upgrade write failed");
		return;
	}
	e = SSL_get_error(c->ssl, r);
	if (e == SSL_ERROR_WANT_READ)
		set_events(c, EPOLLIN);
	else if (e == SSL_ERROR_WANT_WRITE)
		set_events(c, EPOLLIN | EPOLLOUT);
	else
		wsc_close(c, "tls handshake failed");
}

static void
do_read(wsc *c)
{
	int n, e, guard;

	for (guard = 0; guard < 4096 && c->state >= WSC_HTTP && c->state <= WSC_OPEN; guard++) {
		if (grow(&c->in, &c->in_cap, c->in_len + WSC_READ_CHUNK, WSC_MAX_IN + WSC_READ_CHUNK) != 0) {
			wsc_close(c, "message too large");
			return;
		}
		ERR_clear_error();
		n = SSL_read(c->ssl, c->in + c->in_len, WSC_READ_CHUNK);
		if (n <= 0) {
			e = SSL_get_error(c->ssl, n);
			if (e == SSL_ERROR_WANT_READ)
				break;
			if (e == SSL_ERROR_WANT_WRITE) {
				set_events(c, EPOLLIN | EPOLLOUT);
				break;
			}
			wsc_close(c, e == SSL_ERROR_ZERO_RETURN ? "server closed" : "read failed");
			return;
		}
		c->in_len += (size_t)n;
		if (c->state == WSC_HTTP) {
			int r = parse_http(c);

			if (r < 0) {
				wsc_close(c, "bad upgrade answer");
				return;
			}
		}
		if (c->state == WSC_OPEN && parse_frames(c) != 0) {
			wsc_close(c, "bad frame");
			return;
		}
	}
	if (c->in_len == 0 && c->in_cap > 0 && c->state == WSC_OPEN) {
		free(c->in);
		c->in = NULL;
		c->in_cap = 0;
	}
}

static void
on_event(evh *h, uint32_t ev)
{
	wsc *c = (wsc *)h;
	int err = 0;
	socklen_t el = sizeof(err);

	if (c->state == WSC_CONNECTING) {
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0 || err != 0) {
			wsc_close(c, "connect failed");
			return;
		}
		c->state = WSC_TLS;
	}
	if (c->state == WSC_TLS) {
		do_handshake(c);
		return;
	}
	if ((ev & (EPOLLERR | EPOLLHUP)) && !(ev & EPOLLIN)) {
		wsc_close(c, "hangup");
		return;
	}
	if (ev & EPOLLIN)
		do_read(c);
	if (c->state == WSC_HTTP || c->state == WSC_OPEN) {
		if (flush_out(c) != 0)
			wsc_close(c, "write failed");
	}
}

int
wsc_start(wsc *c, int ep, const struct sockaddr_in *src, const struct sockaddr_in *dst,
    const uint8_t pin[32])
{
	struct epoll_event e;
	int fd, one = 1;

	c->h.fn = on_event;
	c->ep = ep;
	c->pin = pin;
	c->fd = -1;
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (src != NULL) {
		/* Many source addresses: let connect() pick the port per address. */
		setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
		if (bind(fd, (const struct sockaddr *)src, sizeof(*src)) != 0) {
			close(fd);
			return -1;
		}
	}
	if (connect(fd, (const struct sockaddr *)dst, sizeof(*dst)) != 0 && errno != EINPROGRESS) {
		close(fd);
		return -1;
	}
	if ((c->ssl = SSL_new(client_ctx)) == NULL || SSL_set_fd(c->ssl, fd) != 1) {
		if (c->ssl != NULL)
			SSL_free(c->ssl);
		c->ssl = NULL;
		close(fd);
		return -1;
	}
	c->fd = fd;
	memset(&e, 0, sizeof(e));
	e.events = EPOLLIN | EPOLLOUT;
	e.data.ptr = &c->h;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e) != 0) {
		SSL_free(c->ssl);
		c->ssl = NULL;
		close(fd);
		c->fd = -1;
		return -1;
	}
	c->cur_ev = e.events;
	c->state = WSC_CONNECTING;
	return 0;
}

size_t
wsc_footprint(const wsc *c)
{
	return sizeof(*c) + c->in_cap + c->out_cap + c->msg_cap;
}
