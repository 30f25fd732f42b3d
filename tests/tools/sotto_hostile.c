/* SPDX-License-Identifier: ISC */
/*
 * sotto_hostile: a hostile network peer for tests/integration/hostile_network.sh.
 * It speaks to a running sottod over TCP, TLS and WebSocket by hand (OpenSSL
 * directly, frames and protobuf bytes built here), so it can say what no
 * honest client says, and checks that the server answers the way
 * docs/PROTOCOL.md promises: a Response with a status where the protocol
 * allows, else a closed connection.
 *
 *   sotto_hostile HOST:PORT tcp-garbage N     random bytes, then a TLS record header
 *                                              promising more than follows
 *   sotto_hostile HOST:PORT tls-garbage N     a TLS handshake, then records of garbage
 *   sotto_hostile HOST:PORT ws-garbage N      after the upgrade: bytes that are no
 *                                              frame, a text frame, an unmasked frame
 *   sotto_hostile HOST:PORT ws-oversize N     frame headers declaring 2^40 and 2^62 bytes
 *   sotto_hostile HOST:PORT pb-garbage N      binary frames of random bytes
 *   sotto_hostile HOST:PORT pb-absurd HOME    as HOME's device: absurd lengths and counts
 *   sotto_hostile HOST:PORT idle N SECS STAGE FIRST NADDR
 *                                              N connections from 127.0.0.FIRST ..
 *                                              FIRST+NADDR-1 that never speak past STAGE
 *                                              (tcp, tls or ws); held up to SECS
 *   sotto_hostile HOST:PORT slow-reader HOME N
 *                                              as HOME's device: N Fetch requests whose
 *                                              answers are never read
 *   sotto_hostile HOST:PORT enumerate HOME N  as HOME's device: N lookups of handles
 *                                              that do not exist, as fast as answered
 *   sotto_hostile HOST:PORT partial HOME N KIB SECS
 *                                              as HOME's device: N connections each sending
 *                                              KIB KiB of a message declared at the largest
 *                                              frame, never its end; how long each is kept
 *   sotto_hostile HOST:PORT device-conns HOME N
 *                                              as HOME's device: N connections at once; how
 *                                              many the server keeps
 *   sotto_hostile HOST:PORT flood N SECS FIRST NADDR RATE
 *                                              for SECS, N connections that never start TLS
 *                                              from 127.0.0.FIRST ..; each one the server
 *                                              drops is replaced (at most RATE a second)
 *   sotto_hostile HOST:PORT probe PATH HOME SECS OCTET
 *                                              handles that do not exist, as fast as answered
 *                                              for SECS, through PATH: lookup or send (as
 *                                              HOME's device) or recover (no account, one
 *                                              fresh connection each, from 127.0.0.OCTET;
 *                                              HOME's handle is the known one to compare)
 *   sotto_hostile HOST:PORT pipeline HOME N   as HOME's device: a ping and N lookups, each
 *                                              its own TLS record, in one TCP segment; all
 *                                              N answers must come, in order, with nothing
 *                                              more sent (records the server read ahead
 *                                              must not wait for more bytes)
 *   sotto_hostile HOST:PORT send-flood HOME TO BYTES SECS
 *                                              as HOME's device: SendRequests to every
 *                                              device of TO (envelopes of BYTES junk:
 *                                              the server never opens them), 32 in
 *                                              flight, for SECS seconds; counts the
 *                                              answers by status and the bytes stored
 *                                              per second (docs/OPERATIONS.md "Sender
 *                                              shares and account quotas")
 *
 * Prints one "key=value ..." summary line per case; exits 1 when the server
 * did not behave (kept a connection it should have dropped, answered wrongly).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "client.h"
#include "crypto.h"
#include "devicelist.h"
#include "sotto/error.h"
#include "wire.h"

#define IO_TIMEOUT_S	15
#define RX_MAX		(SOTTO_MAX_FRAME + 64)

static struct sockaddr_in dst;
static SSL_CTX *tls_ctx;
static int failures;

typedef struct peer {
	int fd;
	SSL *ssl;
} peer;

static void __attribute__((format(printf, 1, 2)))
bad(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "sotto_hostile: FAIL: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	failures++;
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
rnd(void *p, size_t n)
{
	sc_random(p, n);
}

/* ---- TCP and TLS ---- */

static int
tcp_connect(int src_octet, int blocking)
{
	struct sockaddr_in src;
	struct timeval tv = { IO_TIMEOUT_S, 0 };
	int fd, one = 1;

	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (src_octet > 0) {
		memset(&src, 0, sizeof(src));
		src.sin_family = AF_INET;
		src.sin_addr.s_addr = htonl(0x7f000000u | (uint32_t)src_octet);
		(void)setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
		if (bind(fd, (struct sockaddr *)&src, sizeof(src)) != 0) {
			close(fd);
			return -1;
		}
	}
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&dst, sizeof(dst)) != 0) {
		close(fd);
		return -1;
	}
	(void)blocking;
	return fd;
}

static void
peer_close(peer *p)
{
	if (p->ssl != NULL)
		SSL_free(p->ssl);
	if (p->fd >= 0)
		close(p->fd);
	p->ssl = NULL;
	p->fd = -1;
}

static int
tls_open(peer *p, int src_octet)
{
	p->ssl = NULL;
	if ((p->fd = tcp_connect(src_octet, 1)) == -1)
		return -1;
	if ((p->ssl = SSL_new(tls_ctx)) == NULL || SSL_set_fd(p->ssl, p->fd) != 1 ||
	    SSL_connect(p->ssl) != 1) {
		peer_close(p);
		return -1;
	}
	return 0;
}

static int
tls_write(peer *p, const void *b, size_t n)
{
	return SSL_write(p->ssl, b, (int)n) == (int)n ? 0 : -1;
}

static int
tls_read_full(peer *p, uint8_t *b, size_t n)
{
	size_t got = 0;
	int r;

	while (got < n) {
		if ((r = SSL_read(p->ssl, b + got, (int)(n - got))) <= 0)
			return -1;
		got += (size_t)r;
	}
	return 0;
}

/* 1 when the server ended the connection (EOF, reset, close_notify) within
 * the timeout; reads and drops anything before that. */
static int
closed_by_server(peer *p)
{
	uint8_t buf[4096];
	int r;

	for (;;) {
		if (p->ssl != NULL)
			r = SSL_read(p->ssl, buf, sizeof(buf));
		else
			r = (int)read(p->fd, buf, sizeof(buf));
		if (r > 0)
			continue;
		if (r == 0)
			return 1;
		if (p->ssl != NULL) {
			int e = SSL_get_error(p->ssl, r);

			if (e == SSL_ERROR_ZERO_RETURN || e == SSL_ERROR_SSL)
				return 1;
		}
		return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : 1;
	}
}

/* ---- WebSocket (RFC 6455), client side ---- */

static int
ws_upgrade(peer *p)
{
	char req[512], resp[2048];
	uint8_t key[16];
	char key64[32];
	size_t got = 0;
	int r;

	rnd(key, sizeof(key));
	sc_b64(key64, sizeof(key64), key, sizeof(key));
	snprintf(req, sizeof(req),
	    "GET / HTTP/1.1\r\nHost: sottod\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	    "Sec-WebSocket-Key: %s==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: %s\r\n\r\n",
	    key64, WIRE_SUBPROTOCOL);
	if (tls_write(p, req, strlen(req)) != 0)
		return -1;
	while (got < sizeof(resp) - 1) {
		if ((r = SSL_read(p->ssl, resp + got, 1)) <= 0)
			return -1;
		got++;
		resp[got] = '\0';
		if (got >= 4 && memcmp(resp + got - 4, "\r\n\r\n", 4) == 0)
			break;
	}
	return strncmp(resp, "HTTP/1.1 101", 12) == 0 ? 0 : -1;
}

/* A frame with any header the caller likes: declared is the length the
 * header states, n the payload bytes actually sent (masked if mask). */
static int
ws_send_raw(peer *p, int opcode, int mask, uint64_t declared, const uint8_t *pl, size_t n)
{
	uint8_t h[14], mk[4], *b;
	size_t hl = 0;
	int rc;

	h[hl++] = (uint8_t)(0x80 | (opcode & 0x0f));
	if (declared < 126)
		h[hl++] = (uint8_t)((mask ? 0x80 : 0) | declared);
	else if (declared <= 0xffff) {
		h[hl++] = (uint8_t)((mask ? 0x80 : 0) | 126);
		h[hl++] = (uint8_t)(declared >> 8);
		h[hl++] = (uint8_t)declared;
	} else {
		h[hl++] = (uint8_t)((mask ? 0x80 : 0) | 127);
		for (int i = 7; i >= 0; i--)
			h[hl++] = (uint8_t)(declared >> (i * 8));
	}
	if (mask) {
		rnd(mk, sizeof(mk));
		memcpy(h + hl, mk, 4);
		hl += 4;
	}
	if ((b = malloc(hl + n + 1)) == NULL)
		return -1;
	memcpy(b, h, hl);
	for (size_t i = 0; i < n; i++)
		b[hl + i] = mask ? (uint8_t)(pl[i] ^ mk[i % 4]) : pl[i];
	rc = tls_write(p, b, hl + n);
	free(b);
	return rc;
}

static int
ws_send(peer *p, const uint8_t *pl, size_t n)
{
	return ws_send_raw(p, 2, 1, n, pl, n);
}

/* Next data frame from the server: *op its opcode (8: close, whose code is
 * in *n's first two bytes). *out: caller frees. */
static int
ws_recv(peer *p, int *op, uint8_t **out, size_t *n)
{
	uint8_t h[8], *b;
	uint64_t len;

	*out = NULL;
	*n = 0;
	for (;;) {
		if (tls_read_full(p, h, 2) != 0)
			return -1;
		/* Before h is reused for an extended length. */
		*op = h[0] & 0x0f;
		len = h[1] & 0x7f;
		if (len == 126) {
			if (tls_read_full(p, h, 2) != 0)
				return -1;
			len = ((uint64_t)h[0] << 8) | h[1];
		} else if (len == 127) {
			if (tls_read_full(p, h, 8) != 0)
				return -1;
			len = 0;
			for (int i = 0; i < 8; i++)
				len = (len << 8) | h[i];
		}
		if (len > RX_MAX || (b = malloc(len + 1)) == NULL)
			return -1;
		if (tls_read_full(p, b, len) != 0) {
			free(b);
			return -1;
		}
		if (*op == 9 || *op == 10) {	/* ping, pong: not data */
			free(b);
			continue;
		}
		*out = b;
		*n = len;
		return 0;
	}
}

/* The next protobuf frame (skipping pushes when want_response). */
static wire_frame *
recv_frame(peer *p, int want_response)
{
	wire_frame *f = NULL;
	uint8_t *b;
	size_t n;
	int op;

	for (;;) {
		if (ws_recv(p, &op, &b, &n) != 0)
			return NULL;
		if (op != 2) {
			free(b);
			return NULL;
		}
		if (wire_decode(&f, b, n, SOTTO_MAX_FRAME) != SOTTO_OK) {
			free(b);
			return NULL;
		}
		free(b);
		if (!want_response || f->msg_case == SOTTO__WIRE__FRAME__MSG_RESPONSE)
			return f;
		wire_free(f);
	}
}

static int
send_frame(peer *p, const wire_frame *f)
{
	uint8_t *b;
	size_t n;
	int rc;

	if (wire_encode(f, 0, &b, &n) != SOTTO_OK)
		return -1;
	rc = ws_send(p, b, n);
	free(b);
	return rc;
}

/* TLS, WebSocket, and the Challenge read: ready for requests. */
static int
ws_open(peer *p, int src_octet, uint8_t nonce[WIRE_NONCE_LEN])
{
	wire_frame *f;

	if (tls_open(p, src_octet) != 0)
		return -1;
	if (ws_upgrade(p) != 0 || (f = recv_frame(p, 0)) == NULL) {
		peer_close(p);
		return -1;
	}
	if (f->msg_case != SOTTO__WIRE__FRAME__MSG_CHALLENGE) {
		wire_free(f);
		peer_close(p);
		return -1;
	}
	if (nonce != NULL)
		memcpy(nonce, f->challenge->nonce.data, WIRE_NONCE_LEN);
	wire_free(f);
	return 0;
}

static sotto_client *dev;

/* A connection authenticated as the device of HOME. */
static int
authed_open(peer *p)
{
	Sotto__Wire__AuthRequest rq = SOTTO__WIRE__AUTH_REQUEST__INIT;
	wire_frame f = SOTTO__WIRE__FRAME__INIT, *r;
	uint8_t nonce[WIRE_NONCE_LEN], msg[WIRE_AUTH_MSG_MAX], sig[SC_SIG];
	size_t n;
	int ok;

	if (ws_open(p, 0, nonce) != 0)
		return -1;
	n = wire_auth_message(msg, dev->cfg.pin, nonce, dev->cfg.handle);
	sc_sign(sig, msg, n, CLIENT_SIGN_SEC(dev));
	rq.handle = dev->cfg.handle;
	rq.device_id.data = dev->cfg.device_id;
	rq.device_id.len = SC_DEVICE_ID;
	rq.signature.data = sig;
	rq.signature.len = SC_SIG;
	f.id = 1;
	f.msg_case = SOTTO__WIRE__FRAME__MSG_AUTH;
	f.auth = &rq;
	if (send_frame(p, &f) != 0 || (r = recv_frame(p, 1)) == NULL) {
		peer_close(p);
		return -1;
	}
	ok = r->response->status == SOTTO__WIRE__STATUS__OK;
	wire_free(r);
	if (!ok)
		peer_close(p);
	return ok ? 0 : -1;
}

/* ---- the cases ---- */

/* After a hostile frame: a Response (status, text) and/or a close. */
static void
expect_answer(peer *p, const char *name, int want_status, int want_close)
{
	wire_frame *r = recv_frame(p, 1);
	int status = r != NULL ? (int)r->response->status : -1;
	int closed;

	printf("case=%s status=%d text=\"%s\"", name, status,
	    r != NULL && r->response->error != NULL ? r->response->error : "");
	if (want_status >= 0 && status != want_status)
		bad("%s: wrong or no status", name);
	wire_free(r);
	if (want_close) {
		closed = closed_by_server(p);
		printf(" closed=%d", closed);
		if (!closed)
			bad("%s: the server kept the connection", name);
	}
	printf("\n");
}

/* Wait (up to secs) for the server to end every connection in ps; returns
 * how many it ended. Raw reads: only the end of the stream matters here. */
static int
wait_closed(peer *ps, int n, int secs)
{
	struct pollfd *pf = calloc((size_t)n, sizeof(*pf));
	double t0 = now_s();
	int left = 0, closed = 0;
	uint8_t buf[4096];

	if (pf == NULL)
		return 0;
	for (int i = 0; i < n; i++) {
		pf[i].fd = ps[i].fd;
		pf[i].events = POLLIN;
		left += ps[i].fd >= 0;
	}
	while (left > 0 && now_s() - t0 < secs) {
		if (poll(pf, (nfds_t)n, 200) < 0 && errno != EINTR)
			break;
		for (int i = 0; i < n; i++) {
			ssize_t r;

			if (pf[i].fd < 0 || pf[i].revents == 0)
				continue;
			r = recv(pf[i].fd, buf, sizeof(buf), MSG_DONTWAIT);
			if (r > 0 || (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)))
				continue;
			pf[i].fd = -1;
			left--;
			closed++;
		}
	}
	free(pf);
	return closed;
}

static int
run_conns(const char *mode, int n)
{
	int closed, opened = 0, answered = 0;
	uint8_t junk[4096];
	peer *ps = calloc((size_t)n, sizeof(*ps));
	double t0 = now_s();

	if (ps == NULL)
		return 1;
	for (int i = 0; i < n; i++) {
		peer *p = &ps[i];

		p->fd = -1;
		rnd(junk, sizeof(junk));
		if (strcmp(mode, "tcp-garbage") == 0) {
			/* A handshake record promising 16 KiB, 5 bytes of it, then silence. */
			static const uint8_t rec[] = { 0x16, 0x03, 0x01, 0x40, 0x00, 0x01, 0x00, 0x3f, 0xfc };

			if ((p->fd = tcp_connect(0, 1)) == -1)
				continue;
			opened++;
			if (i % 2 == 0)
				(void)!write(p->fd, junk, sizeof(junk));
			else
				(void)!write(p->fd, rec, sizeof(rec));
		} else if (strcmp(mode, "tls-garbage") == 0) {
			if (tls_open(p, 0) != 0)
				continue;
			opened++;
			/* Records the TLS layer cannot authenticate: straight onto the socket. */
			junk[0] = 0x17;
			junk[1] = 0x03;
			junk[2] = 0x03;
			junk[3] = 0x01;
			junk[4] = 0x00;
			(void)!write(p->fd, junk, i % 2 == 0 ? 261 : 3);
		} else {
			wire_frame *r;

			if (ws_open(p, 0, NULL) != 0)
				continue;
			opened++;
			if (strcmp(mode, "ws-garbage") == 0) {
				if (i % 3 == 0)
					(void)tls_write(p, junk, sizeof(junk));
				else if (i % 3 == 1)
					(void)ws_send_raw(p, 1, 1, 5, (const uint8_t *)"hello", 5);
				else
					(void)ws_send_raw(p, 2, 0, 64, junk, 64);
			} else if (strcmp(mode, "ws-oversize") == 0) {
				(void)ws_send_raw(p, 2, 1, i % 2 == 0 ? (1ULL << 40) : (1ULL << 62), junk,
				    sizeof(junk));
			} else if (strcmp(mode, "pb-garbage") == 0) {
				(void)ws_send(p, junk, 1 + (size_t)(junk[0] % 200));
			}
			if ((r = recv_frame(p, 1)) != NULL) {
				answered++;
				if (i < 3)
					printf("case=%s answer=%d text=\"%s\"\n", mode, (int)r->response->status,
					    r->response->error != NULL ? r->response->error : "");
				wire_free(r);
			}
		}
	}
	closed = wait_closed(ps, n, 30);
	printf("mode=%s conns=%d opened=%d answered=%d closed_by_server=%d secs=%.1f\n", mode, n, opened,
	    answered, closed, now_s() - t0);
	for (int i = 0; i < n; i++)
		peer_close(&ps[i]);
	free(ps);
	if (opened == 0 || closed != opened)
		bad("%s: a connection stayed open", mode);
	return 0;
}

/* Hand-built protobuf: tag, varint, length-delimited. */
static size_t
pb_varint(uint8_t *b, uint64_t v)
{
	size_t n = 0;

	do {
		b[n] = (uint8_t)(v & 0x7f);
		v >>= 7;
		if (v != 0)
			b[n] |= 0x80;
		n++;
	} while (v != 0);
	return n;
}

static int
absurd(void)
{
	uint8_t *b, hdr[32];
	size_t n, k;
	peer p = { -1, NULL };
	/* A million two-byte recipients, or a frame's worth, plus headers. */
	const size_t big = 2000000 + (size_t)SOTTO_MAX_FRAME + 1024;

	if ((b = malloc(big)) == NULL)
		return 1;
	/* 1. Frame.id, then Frame.send claiming 2^31 bytes: 8 follow. */
	if (authed_open(&p) != 0)
		goto fail;
	n = 0;
	b[n++] = 0x08;
	b[n++] = 0x05;
	b[n++] = (13 << 3) | 2;
	n += pb_varint(b + n, 0x7fffffffULL);
	memset(b + n, 0x0a, 8);
	n += 8;
	(void)ws_send(&p, b, n);
	expect_answer(&p, "send_length_2^31", SOTTO__WIRE__STATUS__BAD_REQUEST, 1);
	peer_close(&p);

	/* 2. A SendRequest declaring a million recipients (each "1a 00"). */
	if (authed_open(&p) != 0)
		goto fail;
	k = 0;
	for (size_t i = 0; i < 1000000; i++) {
		b[64 + k++] = (3 << 3) | 2;
		b[64 + k++] = 0;
	}
	n = 0;
	hdr[n++] = 0x08;
	hdr[n++] = 0x06;
	hdr[n++] = (13 << 3) | 2;
	n += pb_varint(hdr + n, k);
	memcpy(b + 64 - n, hdr, n);
	(void)ws_send(&p, b + 64 - n, n + k);
	expect_answer(&p, "recipients_10^6", SOTTO__WIRE__STATUS__TOO_LARGE, 1);
	peer_close(&p);

	/* 3. As many recipients as fit in the frame cap: decodes, then refused. */
	if (authed_open(&p) != 0)
		goto fail;
	k = 0;
	while (k + 2 < (size_t)SOTTO_MAX_FRAME - 64) {
		b[64 + k++] = (3 << 3) | 2;
		b[64 + k++] = 0;
	}
	n = 0;
	hdr[n++] = 0x08;
	hdr[n++] = 0x07;
	hdr[n++] = (13 << 3) | 2;
	n += pb_varint(hdr + n, k);
	memcpy(b + 64 - n, hdr, n);
	(void)ws_send(&p, b + 64 - n, n + k);
	printf("case=recipients_in_cap count=%zu bytes=%zu\n", k / 2, n + k);
	expect_answer(&p, "recipients_in_cap", SOTTO__WIRE__STATUS__BAD_REQUEST, 1);
	peer_close(&p);

	/* 4. An AckRequest with 60000 packed seqs. */
	if (authed_open(&p) != 0)
		goto fail;
	k = 0;
	for (uint64_t i = 0; i < 60000; i++)
		k += pb_varint(b + 64 + k, 1 + i);
	{
		uint8_t inner[16];
		size_t in = 0;

		inner[in++] = (1 << 3) | 2;
		in += pb_varint(inner + in, k);
		n = 0;
		hdr[n++] = 0x08;
		hdr[n++] = 0x08;
		hdr[n++] = (14 << 3) | 2;
		n += pb_varint(hdr + n, k + in);
		memcpy(hdr + n, inner, in);
		n += in;
	}
	memcpy(b + 64 - n, hdr, n);
	(void)ws_send(&p, b + 64 - n, n + k);
	expect_answer(&p, "ack_60000_seqs", SOTTO__WIRE__STATUS__BAD_REQUEST, 1);
	peer_close(&p);

	/* 5. A varint of 11 bytes for the request id. */
	if (authed_open(&p) != 0)
		goto fail;
	n = 0;
	b[n++] = 0x08;
	memset(b + n, 0xff, 10);
	n += 10;
	b[n++] = 0x01;
	(void)ws_send(&p, b, n);
	expect_answer(&p, "varint_11_bytes", SOTTO__WIRE__STATUS__BAD_REQUEST, 1);
	peer_close(&p);

	/* 6. Fetch asking for 2^32-1 copies: capped, answered, connection kept. */
	if (authed_open(&p) != 0)
		goto fail;
	{
		Sotto__Wire__FetchRequest fr = SOTTO__WIRE__FETCH_REQUEST__INIT;
		wire_frame f = SOTTO__WIRE__FRAME__INIT, *r;

		fr.max = 0xffffffffu;
		f.id = 9;
		f.msg_case = SOTTO__WIRE__FRAME__MSG_FETCH;
		f.fetch = &fr;
		(void)send_frame(&p, &f);
		r = recv_frame(&p, 1);
		printf("case=fetch_max_2^32 status=%d deliveries=%zu\n", r != NULL ? (int)r->response->status : -1,
		    r != NULL ? r->response->n_deliveries : 0);
		if (r == NULL || r->response->status != SOTTO__WIRE__STATUS__OK ||
		    r->response->n_deliveries > SOTTO_MAX_FETCH_BATCH)
			bad("%s: not answered within the batch cap", "fetch_max");
		wire_free(r);
	}
	/* 7. Twenty recipients of valid form: over max_recipients if configured lower. */
	{
		Sotto__Wire__SendRequest rq = SOTTO__WIRE__SEND_REQUEST__INIT;
		Sotto__Wire__Recipient rs[20], *rp[20];
		Sotto__Wire__Copy cs[20], *cp[20];
		wire_frame f = SOTTO__WIRE__FRAME__INIT;
		char names[20][16];
		uint8_t id[16], ids[20][16], wrap[80];

		rnd(id, sizeof(id));
		memset(wrap, 7, sizeof(wrap));
		for (int i = 0; i < 20; i++) {
			snprintf(names[i], sizeof(names[i]), "nobody%d", i);
			sotto__wire__recipient__init(&rs[i]);
			sotto__wire__copy__init(&cs[i]);
			rnd(ids[i], 16);
			cs[i].device_id.data = ids[i];
			cs[i].device_id.len = 16;
			cs[i].wrap.data = wrap;
			cs[i].wrap.len = sizeof(wrap);
			cp[i] = &cs[i];
			rs[i].handle = names[i];
			rs[i].list_version = 1;
			rs[i].n_copies = 1;
			rs[i].copies = &cp[i];
			rp[i] = &rs[i];
		}
		rq.msg_id.data = id;
		rq.msg_id.len = 16;
		rq.envelope.data = wrap;
		rq.envelope.len = sizeof(wrap);
		rq.n_recipients = 20;
		rq.recipients = rp;
		f.id = 10;
		f.msg_case = SOTTO__WIRE__FRAME__MSG_SEND;
		f.send = &rq;
		(void)send_frame(&p, &f);
		expect_answer(&p, "recipients_20", -1, 0);
	}
	peer_close(&p);
	free(b);
	return 0;
fail:
	bad("%s: could not authenticate", "pb-absurd");
	free(b);
	return 1;
}

/* Connections that never speak past stage; how long the server keeps them. */
static int
idle(int n, int secs, const char *stage, int first, int naddr)
{
	peer *ps = calloc((size_t)n, sizeof(*ps));
	struct pollfd *pf = calloc((size_t)n, sizeof(*pf));
	double t0 = now_s(), *open_at = calloc((size_t)n, sizeof(double)), max_held = 0, refused_max = 0.5;
	int opened = 0, failed = 0, dropped = 0, refused = 0, left;
	uint8_t buf[512];

	if (ps == NULL || pf == NULL || open_at == NULL)
		return 1;
	for (int i = 0; i < n; i++) {
		int oct = first + i % naddr, rc;

		ps[i].fd = -1;
		if (strcmp(stage, "tcp") == 0)
			rc = (ps[i].fd = tcp_connect(oct, 0)) == -1 ? -1 : 0;
		else if (strcmp(stage, "tls") == 0)
			rc = tls_open(&ps[i], oct);
		else
			rc = ws_open(&ps[i], oct, NULL);
		if (rc != 0) {
			failed++;
			ps[i].fd = -1;
			continue;
		}
		opened++;
		open_at[i] = now_s();
		pf[i].fd = ps[i].fd;
		pf[i].events = POLLIN;
	}
	printf("mode=idle stage=%s opened=%d failed=%d addrs=%d open_s=%.1f\n", stage, opened, failed, naddr,
	    now_s() - t0);
	left = opened;
	/* secs from the last one opened: on a busy machine opening them all
	 * may take much of it. */
	t0 = now_s();
	while (left > 0 && now_s() - t0 < secs) {
		if (poll(pf, (nfds_t)n, 200) < 0 && errno != EINTR)
			break;
		for (int i = 0; i < n; i++) {
			ssize_t r;

			if (pf[i].fd < 0 || pf[i].revents == 0)
				continue;
			/* TLS bytes (alerts, close frames) or the end: end means dropped. */
			r = read(pf[i].fd, buf, sizeof(buf));
			if (r > 0)
				continue;
			if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
				continue;
			{
				double held = now_s() - open_at[i];

				if (held < refused_max)
					refused++;
				else
					dropped++;
				if (held > max_held)
					max_held = held;
			}
			pf[i].fd = -1;
			left--;
		}
	}
	printf("mode=idle stage=%s dropped=%d refused_at_once=%d still_open=%d max_held_s=%.1f\n", stage, dropped,
	    refused, left, max_held);
	for (int i = 0; i < n; i++)
		peer_close(&ps[i]);
	free(ps);
	free(pf);
	free(open_at);
	return 0;
}

/* Ask for the queue again and again; never read a byte of the answers. */
static int
slow_reader(int nreq)
{
	peer p = { -1, NULL };
	Sotto__Wire__FetchRequest fr = SOTTO__WIRE__FETCH_REQUEST__INIT;
	wire_frame f = SOTTO__WIRE__FRAME__INIT;
	int small = 4096, sent = 0;
	double t0;
	struct pollfd pf;

	if (authed_open(&p) != 0) {
		bad("%s: could not authenticate", "slow-reader");
		return 1;
	}
	(void)setsockopt(p.fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	t0 = now_s();
	for (int i = 0; i < nreq; i++) {
		fr.max = SOTTO_MAX_FETCH_BATCH;
		f.id = 100 + (uint64_t)i;
		f.msg_case = SOTTO__WIRE__FRAME__MSG_FETCH;
		f.fetch = &fr;
		if (send_frame(&p, &f) != 0)
			break;
		sent++;
	}
	/* Still not reading: wait for the server to give up on us. */
	pf.fd = p.fd;
	pf.events = POLLRDHUP;
	while (now_s() - t0 < 60) {
		if (poll(&pf, 1, 500) > 0 && (pf.revents & (POLLRDHUP | POLLHUP | POLLERR)))
			break;
		if (send_frame(&p, &f) != 0)
			break;
	}
	printf("mode=slow-reader requests=%d cut_off_after_s=%.1f\n", sent, now_s() - t0);
	if (now_s() - t0 >= 60)
		bad("%s: the server never cut the reader off", "slow-reader");
	peer_close(&p);
	return 0;
}

/* Lookups of handles nobody has: how many answered before RATE_LIMITED. */
static int
enumerate(int n)
{
	peer p = { -1, NULL };
	Sotto__Wire__GetDeviceListRequest rq = SOTTO__WIRE__GET_DEVICE_LIST_REQUEST__INIT;
	wire_frame f = SOTTO__WIRE__FRAME__INIT, *r;
	char h[32];
	uint8_t x[8];
	int miss = 0, limited = 0, other = 0, first_limited = -1;
	double t0;
	const char *text = "";
	char saved[200] = "";

	if (authed_open(&p) != 0) {
		bad("%s: could not authenticate", "enumerate");
		return 1;
	}
	t0 = now_s();
	for (int i = 0; i < n; i++) {
		rnd(x, sizeof(x));
		snprintf(h, sizeof(h), "probe%02x%02x%02x%02x%02x", x[0], x[1], x[2], x[3], x[4]);
		rq.handle = h;
		f.id = 1000 + (uint64_t)i;
		f.msg_case = SOTTO__WIRE__FRAME__MSG_GET_DEVICE_LIST;
		f.get_device_list = &rq;
		if (send_frame(&p, &f) != 0 || (r = recv_frame(&p, 1)) == NULL)
			break;
		if (r->response->status == SOTTO__WIRE__STATUS__NO_SUCH_HANDLE)
			miss++;
		else if (r->response->status == SOTTO__WIRE__STATUS__RATE_LIMITED) {
			if (first_limited < 0) {
				first_limited = i;
				text = r->response->error != NULL ? r->response->error : "";
				snprintf(saved, sizeof(saved), "%s", text);
			}
			limited++;
		} else
			other++;
		wire_free(r);
	}
	printf("mode=enumerate lookups=%d no_such_handle=%d rate_limited=%d other=%d first_limited_at=%d "
	    "secs=%.2f misses_per_s=%.1f text=\"%s\"\n", n, miss, limited, other, first_limited, now_s() - t0,
	    (double)miss / (now_s() - t0), saved);
	peer_close(&p);
	return 0;
}

/* Connections whose message never ends; the server must cut each off. */
static int
partial(int n, int kib, int secs)
{
	peer *ps = calloc((size_t)n, sizeof(*ps));
	uint8_t *junk = malloc((size_t)kib * 1024 + 1);
	double t0, held;
	int opened = 0, closed;

	if (ps == NULL || junk == NULL)
		return 1;
	rnd(junk, (size_t)kib * 1024);
	for (int i = 0; i < n; i++) {
		ps[i].fd = -1;
		if (authed_open(&ps[i]) != 0)
			continue;
		opened++;
		if (ws_send_raw(&ps[i], 2, 1, SOTTO_MAX_FRAME - 64, junk, (size_t)kib * 1024) != 0)
			bad("%s: could not write", "partial");
	}
	t0 = now_s();
	closed = wait_closed(ps, n, secs);
	held = now_s() - t0;
	printf("mode=partial conns=%d opened=%d sent_kib=%d closed=%d still_open=%d held_s=%.1f\n", n, opened, kib,
	    closed, opened - closed, held);
	for (int i = 0; i < n; i++)
		peer_close(&ps[i]);
	free(ps);
	free(junk);
	return 0;
}

/* N connections of one device: how many are still open a moment later. */
static int
device_conns(int n)
{
	peer *ps = calloc((size_t)n, sizeof(*ps));
	int opened = 0, closed;

	if (ps == NULL)
		return 1;
	for (int i = 0; i < n; i++) {
		ps[i].fd = -1;
		if (authed_open(&ps[i]) == 0)
			opened++;
	}
	/* The cut is immediate; 3 s lets a busy server get to it. */
	closed = wait_closed(ps, n, 3);
	printf("mode=device-conns conns=%d opened=%d closed_by_server=%d kept=%d\n", n, opened, closed,
	    opened - closed);
	for (int i = 0; i < n; i++)
		peer_close(&ps[i]);
	free(ps);
	return 0;
}

/* A sustained flood of silent TCP connections, each dropped one replaced. */
static int
flood(int n, int secs, int first, int naddr, int rate)
{
	struct pollfd *pf = calloc((size_t)n, sizeof(*pf));
	double t0 = now_s(), budget = 0, last = t0;
	long opened = 0, dropped = 0, failed = 0;
	uint8_t buf[512];

	if (pf == NULL)
		return 1;
	for (int i = 0; i < n; i++)
		pf[i].fd = -1;
	while (now_s() - t0 < secs) {
		double now = now_s();

		budget += (now - last) * rate;
		if (budget > rate)
			budget = rate;
		last = now;
		for (int i = 0; i < n && budget >= 1; i++) {
			if (pf[i].fd >= 0)
				continue;
			budget -= 1;
			if ((pf[i].fd = tcp_connect(first + i % naddr, 0)) == -1) {
				failed++;
				continue;
			}
			pf[i].events = POLLIN;
			opened++;
		}
		if (poll(pf, (nfds_t)n, 50) < 0 && errno != EINTR)
			break;
		for (int i = 0; i < n; i++) {
			ssize_t r;

			if (pf[i].fd < 0 || pf[i].revents == 0)
				continue;
			r = read(pf[i].fd, buf, sizeof(buf));
			if (r > 0 || (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)))
				continue;
			close(pf[i].fd);
			pf[i].fd = -1;
			dropped++;
		}
	}
	printf("mode=flood conns=%d addrs=%d secs=%d opened=%ld dropped_by_server=%ld connect_failed=%ld\n", n, naddr,
	    secs, opened, dropped, failed);
	for (int i = 0; i < n; i++)
		if (pf[i].fd >= 0)
			close(pf[i].fd);
	free(pf);
	return 0;
}

/* One RecoverRequest (step 1) for handle on a fresh connection from octet,
 * signed by a key nobody registered: the answer's status and text. */
static int
recover_once(int octet, const char *handle, char *text, size_t len)
{
	Sotto__Wire__RecoverRequest rq = SOTTO__WIRE__RECOVER_REQUEST__INIT;
	wire_frame f = SOTTO__WIRE__FRAME__INIT, *r;
	uint8_t nonce[WIRE_NONCE_LEN], msg[WIRE_AUTH_MSG_MAX], sig[SC_SIG], pub[SC_SIGN_PUB], sec[SC_SIGN_SEC];
	peer p = { -1, NULL };
	int st = -1;
	size_t n;

	text[0] = '\0';
	if (ws_open(&p, octet, nonce) != 0)
		return -1;
	sc_sign_keypair(pub, sec);
	n = wire_auth_message(msg, dev->cfg.pin, nonce, handle);
	sc_sign(sig, msg, n, sec);
	rq.handle = (char *)handle;
	rq.signature.data = sig;
	rq.signature.len = SC_SIG;
	f.id = 1;
	f.msg_case = SOTTO__WIRE__FRAME__MSG_RECOVER;
	f.recover = &rq;
	if (send_frame(&p, &f) == 0 && (r = recv_frame(&p, 1)) != NULL) {
		st = (int)r->response->status;
		snprintf(text, len, "%s", r->response->error != NULL ? r->response->error : "");
		wire_free(r);
	}
	peer_close(&p);
	return st;
}

/*
 * Probing for handles through one path for secs seconds, as fast as the
 * server answers: how many answers told that a handle does not exist
 * (confirmed), against how many were refused (RATE_LIMITED). Recovery must
 * tell nothing: its answers for HOME's (known) handle and for unknown ones
 * are compared (distinct=0).
 */
static int
probe(const char *path, int secs, int octet)
{
	peer p = { -1, NULL };
	wire_frame f = SOTTO__WIRE__FRAME__INIT, *r;
	Sotto__Wire__GetDeviceListRequest gl = SOTTO__WIRE__GET_DEVICE_LIST_REQUEST__INIT;
	Sotto__Wire__SendRequest sr = SOTTO__WIRE__SEND_REQUEST__INIT;
	Sotto__Wire__Recipient rc = SOTTO__WIRE__RECIPIENT__INIT, *rcp = &rc;
	uint8_t msg_id[16], env[64], x[8];
	char h[32], known[240] = "", unknown[240] = "", text[200];
	long asked = 0, confirmed = 0, limited = 0, other = 0, distinct = 0;
	int is_recover = strcmp(path, "recover") == 0, st;
	double t0;

	if (!is_recover && authed_open(&p) != 0) {
		bad("%s: could not authenticate", "probe");
		return 1;
	}
	memset(env, 0x42, sizeof(env));
	t0 = now_s();
	while (now_s() - t0 < secs) {
		rnd(x, sizeof(x));
		snprintf(h, sizeof(h), "probe%02x%02x%02x%02x%02x", x[0], x[1], x[2], x[3], x[4]);
		asked++;
		if (is_recover) {
			/* Every tenth attempt names the known handle, to compare. */
			const char *who = asked % 10 == 0 ? dev->cfg.handle : h;

			if ((st = recover_once(octet, who, text, sizeof(text))) < 0) {
				other++;
				continue;
			}
			if (st == SOTTO__WIRE__STATUS__RATE_LIMITED) {
				limited++;
				continue;
			}
			snprintf(who == h ? unknown : known, sizeof(known), "%d %.200s", st, text);
			if (known[0] != '\0' && unknown[0] != '\0' && strcmp(known, unknown) != 0)
				distinct = 1;
			/* Not RATE_LIMITED: one probe served. */
			confirmed++;
			continue;
		}
		f.id = 1000 + (uint64_t)asked;
		if (strcmp(path, "send") == 0) {
			rnd(msg_id, sizeof(msg_id));
			rc.handle = h;
			rc.list_version = 1;
			sr.msg_id.data = msg_id;
			sr.msg_id.len = sizeof(msg_id);
			sr.envelope.data = env;
			sr.envelope.len = sizeof(env);
			sr.n_recipients = 1;
			sr.recipients = &rcp;
			f.msg_case = SOTTO__WIRE__FRAME__MSG_SEND;
			f.send = &sr;
		} else {
			gl.handle = h;
			f.msg_case = SOTTO__WIRE__FRAME__MSG_GET_DEVICE_LIST;
			f.get_device_list = &gl;
		}
		if (send_frame(&p, &f) != 0 || (r = recv_frame(&p, 1)) == NULL)
			break;
		if (r->response->status == SOTTO__WIRE__STATUS__NO_SUCH_HANDLE)
			confirmed++;
		else if (r->response->status == SOTTO__WIRE__STATUS__RATE_LIMITED)
			limited++;
		else
			other++;
		wire_free(r);
	}
	printf("mode=probe path=%s secs=%.1f asked=%ld confirmed=%ld rate_limited=%ld other=%ld distinct=%ld "
	    "per_s=%.1f known=\"%s\" unknown=\"%s\"\n", path, now_s() - t0, asked, confirmed, limited, other,
	    distinct, (double)confirmed / (now_s() - t0), known, unknown);
	peer_close(&p);
	return 0;
}

static int
pipeline(int n)
{
	peer p = { -1, NULL };
	Sotto__Wire__GetDeviceListRequest rq = SOTTO__WIRE__GET_DEVICE_LIST_REQUEST__INIT;
	wire_frame f = SOTTO__WIRE__FRAME__INIT, *r;
	int on = 1, off = 0, answered = 0, in_order = 1;
	double t0;

	if (authed_open(&p) != 0) {
		bad("%s: could not authenticate", "pipeline");
		return 1;
	}
	/* Corked: the records leave together when uncorked, so the server's
	 * first read takes them all. */
	(void)setsockopt(p.fd, IPPROTO_TCP, TCP_CORK, &on, sizeof(on));
	if (ws_send_raw(&p, 9, 1, 4, (const uint8_t *)"ping", 4) != 0)
		bad("%s: ping not written", "pipeline");
	rq.handle = dev->cfg.handle;
	f.msg_case = SOTTO__WIRE__FRAME__MSG_GET_DEVICE_LIST;
	f.get_device_list = &rq;
	for (int i = 0; i < n; i++) {
		f.id = 5000 + (uint64_t)i;
		if (send_frame(&p, &f) != 0) {
			bad("%s: request %d not written", "pipeline", i);
			break;
		}
	}
	t0 = now_s();
	(void)setsockopt(p.fd, IPPROTO_TCP, TCP_CORK, &off, sizeof(off));
	/* Each read waits at most IO_TIMEOUT_S (SO_RCVTIMEO). */
	for (int i = 0; i < n; i++) {
		if ((r = recv_frame(&p, 1)) == NULL)
			break;
		if (r->id != 5000 + (uint64_t)i || r->response->status != SOTTO__WIRE__STATUS__OK)
			in_order = 0;
		answered++;
		wire_free(r);
	}
	printf("mode=pipeline requests=%d answered=%d in_order=%d secs=%.2f\n", n, answered, in_order,
	    now_s() - t0);
	if (answered != n || !in_order)
		bad("%s: %d of %d pipelined requests answered (in order: %d)", "pipeline", answered, n, in_order);
	peer_close(&p);
	return 0;
}


/* The flood: what one sender can make the server store, and when it is refused. */
#define FLOOD_WINDOW	32
static int
send_flood(const char *to, int bytes, int secs)
{
	peer p = { -1, NULL };
	Sotto__Wire__GetDeviceListRequest gq = SOTTO__WIRE__GET_DEVICE_LIST_REQUEST__INIT;
	Sotto__Wire__SendRequest rq = SOTTO__WIRE__SEND_REQUEST__INIT;
	Sotto__Wire__Recipient rc = SOTTO__WIRE__RECIPIENT__INIT, *rcp = &rc;
	Sotto__Wire__Copy cs[SOTTO_MAX_DEVICES], *cp[SOTTO_MAX_DEVICES];
	wire_frame f = SOTTO__WIRE__FRAME__INIT, *r;
	uint8_t msg_id[16], wrap[80], *env = NULL;
	dl_list l;
	double t0, first_refused_s = -1, first_full_s = -1;
	long sent = 0, answered = 0, ok = 0, by[64] = { 0 }, first_refused = -1, byte_rate = 0;
	char text[200] = "";
	uint64_t per_send;

	if (bytes <= 0 || secs <= 0 || (env = malloc((size_t)bytes)) == NULL || authed_open(&p) != 0) {
		bad("%s: could not start", "flood");
		free(env);
		return 1;
	}
	gq.handle = (char *)to;
	f.id = 2;
	f.msg_case = SOTTO__WIRE__FRAME__MSG_GET_DEVICE_LIST;
	f.get_device_list = &gq;
	if (send_frame(&p, &f) != 0 || (r = recv_frame(&p, 1)) == NULL) {
		bad("%s: no answer to the lookup", "flood");
		goto out;
	}
	if (r->response->status != SOTTO__WIRE__STATUS__OK || r->response->n_device_lists == 0 ||
	    dl_parse(&l, r->response->device_lists[r->response->n_device_lists - 1].data,
	    r->response->device_lists[r->response->n_device_lists - 1].len) != SOTTO_OK) {
		wire_free(r);
		bad("%s: no device list for %s", "flood", to);
		goto out;
	}
	wire_free(r);
	rnd(env, (size_t)bytes);
	rnd(wrap, sizeof(wrap));
	for (size_t i = 0; i < l.n_devices; i++) {
		sotto__wire__copy__init(&cs[i]);
		cs[i].device_id.data = l.devices[i].id;
		cs[i].device_id.len = SC_DEVICE_ID;
		cs[i].wrap.data = wrap;
		cs[i].wrap.len = sizeof(wrap);
		cp[i] = &cs[i];
	}
	rc.handle = (char *)to;
	rc.list_version = l.version;
	rc.copies = cp;
	rc.n_copies = l.n_devices;
	rq.msg_id.data = msg_id;
	rq.msg_id.len = sizeof(msg_id);
	rq.envelope.data = env;
	rq.envelope.len = (size_t)bytes;
	rq.recipients = &rcp;
	rq.n_recipients = 1;
	f.msg_case = SOTTO__WIRE__FRAME__MSG_SEND;
	f.send = &rq;
	per_send = (uint64_t)l.n_devices * ((uint64_t)bytes + sizeof(wrap));
	t0 = now_s();
	while (answered < sent || now_s() - t0 < secs) {
		while (sent - answered < FLOOD_WINDOW && now_s() - t0 < secs) {
			rnd(msg_id, sizeof(msg_id));
			f.id = 100 + (uint64_t)sent;
			if (send_frame(&p, &f) != 0)
				goto done;
			sent++;
		}
		if ((r = recv_frame(&p, 1)) == NULL)
			goto done;
		answered++;
		if (r->response->status == SOTTO__WIRE__STATUS__OK)
			ok++;
		else {
			if ((unsigned)r->response->status < 64)
				by[r->response->status]++;
			if (r->response->status == SOTTO__WIRE__STATUS__RATE_LIMITED && r->response->error != NULL &&
			    strstr(r->response->error, "bytes") != NULL)
				byte_rate++;
			if (first_full_s < 0 && (r->response->status == SOTTO__WIRE__STATUS__MAILBOX_FULL ||
			    r->response->status == SOTTO__WIRE__STATUS__SENDER_SHARE_FULL ||
			    r->response->status == SOTTO__WIRE__STATUS__ACCOUNT_QUOTA_FULL)) {
				first_full_s = now_s() - t0;
				snprintf(text, sizeof(text), "%s", r->response->error != NULL ? r->response->error : "");
			}
			if (first_refused < 0) {
				first_refused = (long)r->id - 100;
				first_refused_s = now_s() - t0;
				if (first_full_s < 0)
					snprintf(text, sizeof(text), "%s", r->response->error != NULL ?
					    r->response->error : "");
			}
		}
		wire_free(r);
	}
done:
	printf("mode=flood to=%s devices=%zu bytes=%d secs=%.2f sent=%ld ok=%ld stored_bytes=%llu "
	    "stored_bytes_per_s=%.0f first_refused_at=%ld first_refused_s=%.2f first_full_s=%.2f mailbox_full=%ld "
	    "sender_share_full=%ld account_quota_full=%ld rate_limited=%ld (bytes %ld) text=\"%s\"\n", to,
	    l.n_devices, bytes, now_s() - t0, sent, ok, (unsigned long long)(per_send * (uint64_t)ok),
	    (double)(per_send * (uint64_t)ok) / (now_s() - t0), first_refused, first_refused_s, first_full_s,
	    by[SOTTO__WIRE__STATUS__MAILBOX_FULL], by[SOTTO__WIRE__STATUS__SENDER_SHARE_FULL],
	    by[SOTTO__WIRE__STATUS__ACCOUNT_QUOTA_FULL], by[SOTTO__WIRE__STATUS__RATE_LIMITED], byte_rate, text);
out:
	free(env);
	peer_close(&p);
	return 0;
}

static int
num(const char *s)
{
	char *end;
	long v = strtol(s, &end, 10);

	return *s != '\0' && *end == '\0' && v >= 0 && v <= 1000000 ? (int)v : -1;
}

int
main(int argc, char **argv)
{
	char host[64];
	const char *colon;
	struct rlimit rl;
	int rc = 0;

	if (argc < 3 || (colon = strrchr(argv[1], ':')) == NULL || (size_t)(colon - argv[1]) >= sizeof(host)) {
		fprintf(stderr, "usage: sotto_hostile HOST:PORT MODE ARGS (see the source)\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	memcpy(host, argv[1], (size_t)(colon - argv[1]));
	host[colon - argv[1]] = '\0';
	memset(&dst, 0, sizeof(dst));
	dst.sin_family = AF_INET;
	dst.sin_port = htons((uint16_t)num(colon + 1));
	if (inet_pton(AF_INET, host, &dst.sin_addr) != 1 || sc_init() != SOTTO_OK)
		return 2;
	if ((tls_ctx = SSL_CTX_new(TLS_client_method())) == NULL)
		return 2;
	SSL_CTX_set_verify(tls_ctx, SSL_VERIFY_NONE, NULL);
	if ((strcmp(argv[2], "pb-absurd") == 0 || strcmp(argv[2], "slow-reader") == 0 ||
	    strcmp(argv[2], "enumerate") == 0 || strcmp(argv[2], "pipeline") == 0 ||
	    strcmp(argv[2], "send-flood") == 0 ||
	    strcmp(argv[2], "partial") == 0 || strcmp(argv[2], "device-conns") == 0)) {
		if (argc < 4 || sotto_open(&dev, argv[3], NULL) != SOTTO_OK) {
			fprintf(stderr, "sotto_hostile: cannot open the device in %s\n", argc > 3 ? argv[3] : "?");
			return 2;
		}
	}
	if (strcmp(argv[2], "probe") == 0 && (argc != 7 || sotto_open(&dev, argv[4], NULL) != SOTTO_OK)) {
		fprintf(stderr, "sotto_hostile: probe PATH HOME SECS OCTET\n");
		return 2;
	}
	if (strcmp(argv[2], "pb-absurd") == 0)
		rc = absurd();
	else if (strcmp(argv[2], "slow-reader") == 0 && argc == 5)
		rc = slow_reader(num(argv[4]));
	else if (strcmp(argv[2], "enumerate") == 0 && argc == 5)
		rc = enumerate(num(argv[4]));
	else if (strcmp(argv[2], "pipeline") == 0 && argc == 5)
		rc = pipeline(num(argv[4]));
	else if (strcmp(argv[2], "send-flood") == 0 && argc == 7)
		rc = send_flood(argv[4], num(argv[5]), num(argv[6]));
	else if (strcmp(argv[2], "partial") == 0 && argc == 7)
		rc = partial(num(argv[4]), num(argv[5]), num(argv[6]));
	else if (strcmp(argv[2], "device-conns") == 0 && argc == 5)
		rc = device_conns(num(argv[4]));
	else if (strcmp(argv[2], "flood") == 0 && argc == 8)
		rc = flood(num(argv[3]), num(argv[4]), num(argv[5]), num(argv[6]), num(argv[7]));
	else if (strcmp(argv[2], "probe") == 0)
		rc = probe(argv[3], num(argv[5]), num(argv[6]));
	else if (strcmp(argv[2], "idle") == 0 && argc == 8)
		rc = idle(num(argv[3]), num(argv[4]), argv[5], num(argv[6]), num(argv[7]));
	else if (argc == 4)
		rc = run_conns(argv[2], num(argv[3]));
	else {
		fprintf(stderr, "sotto_hostile: bad arguments for %s\n", argv[2]);
		rc = 2;
	}
	sotto_close(dev);
	SSL_CTX_free(tls_ctx);
	return rc != 0 ? rc : failures > 0;
}
