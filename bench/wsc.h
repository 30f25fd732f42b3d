/* SPDX-License-Identifier: ISC */
/*
 * The load generator's transport: a TLS 1.3 WebSocket client (RFC 6455) driven by
 * one epoll loop, written on plain non-blocking sockets and OpenSSL so that one
 * process can hold many thousands of connections with a few KiB each. Bench only:
 * the product's client is lib/client/client_conn.c.
 *
 * A connection checks the server's key pin (SHA-256 of the SPKI) right after the
 * TLS handshake, before any HTTP byte is sent, and offers subprotocol sotto.v1.
 */
#ifndef BENCH_WSC_H
#define BENCH_WSC_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

/* Everything put in the epoll set starts with this: the loop calls fn. */
typedef struct evh {
	void (*fn)(struct evh *h, uint32_t events);
} evh;

enum wsc_state { WSC_IDLE = 0, WSC_CONNECTING, WSC_TLS, WSC_HTTP, WSC_OPEN, WSC_CLOSED };

typedef struct wsc wsc;
struct wsc {
	evh h;
	int fd, ep;
	enum wsc_state state;
	void *ssl;			/* SSL * */
	uint32_t cur_ev;
	const uint8_t *pin;		/* 32 bytes, borrowed */
	uint8_t *in;			/* decrypted bytes not yet parsed */
	size_t in_len, in_cap;
	uint8_t *out;			/* bytes waiting for SSL_write */
	size_t out_off, out_len, out_cap;
	uint8_t *msg;			/* fragmented message being reassembled */
	size_t msg_len, msg_cap;
	char accept[32];		/* expected Sec-WebSocket-Accept */
	void (*on_open)(wsc *c);
	void (*on_msg)(wsc *c, const uint8_t *p, size_t n);
	void (*on_close)(wsc *c, const char *why);
	void *user;
};

/* Once per process: a client SSL_CTX (TLS 1.3 only). 0 or -1. */
int wsc_global_init(void);
/* That SSL_CTX * (shared with the MQTT driver's clients). */
void *wsc_ssl_ctx(void);

/* Start connecting c (zeroed by the caller, callbacks and user set) from src (port
 * 0, may be NULL) to dst. Events go to epoll ep. 0, or -1 (errno-style failure
 * before anything is in flight; on_close is not called). */
int wsc_start(wsc *c, int ep, const struct sockaddr_in *src, const struct sockaddr_in *dst,
    const uint8_t pin[32]);

/* Queue one binary message and try to write it now. 0 or -1 (closed). */
int wsc_send(wsc *c, const uint8_t *p, size_t n);

/* Close now (on_close is called once, with why). Frees the buffers. */
void wsc_close(wsc *c, const char *why);

/* Bytes the transport holds for c (buffers, not OpenSSL's own). */
size_t wsc_footprint(const wsc *c);

#endif
