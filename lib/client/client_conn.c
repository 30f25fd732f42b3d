/* SPDX-License-Identifier: ISC */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client.h"

typedef struct frame_node {
	wire_frame *f;
	size_t len;		/* encoded bytes: what the push queue's byte cap counts */
	struct frame_node *next;
} frame_node;

struct conn {
	ctransport *t;
	int err;		/* first failure; sticky */
	int have_challenge;
	uint8_t nonce[WIRE_NONCE_LEN];
	uint64_t next_id;
	uint64_t want_id;	/* the request waiting for its answer, 0 if none */
	wire_frame *resp;	/* its answer, once here */
	frame_node *in_head, *in_tail;	/* pushes, oldest first */
	size_t n_pushes, push_bytes;
	int dropped;		/* a push was dropped since conn_pushes_dropped last said so */
	int64_t deadline;	/* conn_set_deadline; 0: none */
};

int64_t
client_mono_ms(void)
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

/* A hint for a handle already queued says nothing new: the check it asks for
 * is the same. */
static int
hint_queued(const conn *c, const char *handle)
{
	for (const frame_node *n = c->in_head; n != NULL; n = n->next)
		if (n->f->msg_case == SOTTO__WIRE__FRAME__MSG_DEVICE_LIST_CHANGED &&
		    strcmp(n->f->device_list_changed->handle, handle) == 0)
			return 1;
	return 0;
}

/*
 * Everything a server sends is held here only within caps: an answer only
 * if a request waits for it, pushes up to SOTTO_CLIENT_MAX_PUSHES and
 * SOTTO_CLIENT_MAX_PUSH_BYTES. A push dropped costs nothing that matters: a
 * Delivery stays in the server's queue until acknowledged (the next Fetch has
 * it), and a hint only asks for a check the client makes anyway.
 */
int
conn_frame_in(conn *c, const uint8_t *p, size_t n)
{
	wire_frame *f = NULL;
	frame_node *node;
	int r;

	if ((r = wire_decode(&f, p, n, SOTTO_MAX_FRAME)) != SOTTO_OK) {
		fail(c, SOTTO_ERR_PROTOCOL);
		return SOTTO_ERR_PROTOCOL;
	}
	if (!c->have_challenge) {
		/* The server speaks first, with its challenge, and nothing else. */
		if (f->msg_case != SOTTO__WIRE__FRAME__MSG_CHALLENGE ||
		    f->challenge->protocol_version != WIRE_PROTOCOL_VERSION) {
			wire_free(f);
			fail(c, SOTTO_ERR_PROTOCOL);
			return SOTTO_ERR_PROTOCOL;
		}
		memcpy(c->nonce, f->challenge->nonce.data, WIRE_NONCE_LEN);
		c->have_challenge = 1;
		wire_free(f);
		return SOTTO_OK;
	}
	switch (f->msg_case) {
	case SOTTO__WIRE__FRAME__MSG_RESPONSE:
		/* An answer to a request given up on, or to none: dropped. */
		if (c->want_id != 0 && f->id == c->want_id && c->resp == NULL) {
			c->resp = f;
			return SOTTO_OK;
		}
		break;
	case SOTTO__WIRE__FRAME__MSG_DEVICE_LIST_CHANGED:
		if (hint_queued(c, f->device_list_changed->handle))
			break;
		/* FALLTHROUGH */
	case SOTTO__WIRE__FRAME__MSG_DELIVERY:
		if (c->n_pushes >= SOTTO_CLIENT_MAX_PUSHES ||
		    n > SOTTO_CLIENT_MAX_PUSH_BYTES - c->push_bytes) {
			c->dropped = 1;
			break;
		}
		if ((node = calloc(1, sizeof(*node))) == NULL) {
			wire_free(f);
			fail(c, SOTTO_ERR_NOMEM);
			return SOTTO_ERR_NOMEM;
		}
		node->f = f;
		node->len = n;
		if (c->in_tail != NULL)
			c->in_tail->next = node;
		else
			c->in_head = node;
		c->in_tail = node;
		c->n_pushes++;
		c->push_bytes += n;
		return SOTTO_OK;
	default:
		/* Nothing else is a push the client knows: ignored, not kept. */
		break;
	}
	wire_free(f);
	return SOTTO_OK;
}

/* Service the connection until done(c, arg) holds, an error, or the deadline
 * (the earlier of deadline and the one conn_set_deadline set). */
static int
pump(conn *c, int64_t deadline, int (*done)(conn *, void *), void *arg)
{
	int64_t now, step;
	int r;

	if (c->deadline != 0 && c->deadline < deadline)
		deadline = c->deadline;
	for (;;) {
		if (done(c, arg))
			return SOTTO_OK;
		if (c->err != SOTTO_OK)
			return c->err;
		if ((now = client_mono_ms()) >= deadline)
			return SOTTO_ERR_TIMEOUT;
		step = deadline - now;
		if (step > 200)
			step = 200;
		if ((r = ctransport_service(c->t, (int)step)) != SOTTO_OK)
			fail(c, r);
	}
}

static int
have_challenge(conn *c, void *arg)
{
	(void)arg;
	return c->have_challenge;
}

int
conn_open(conn **out, const char *address, const uint8_t pin[static TLS_PIN_LEN])
{
	return conn_open_until(out, address, pin, 0);
}

int
conn_open_until(conn **out, const char *address, const uint8_t pin[static TLS_PIN_LEN],
    int64_t deadline)
{
	conn *c = NULL;
	int r;

	*out = NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return SOTTO_ERR_NOMEM;
	c->deadline = deadline;
	if ((r = ctransport_open(&c->t, c, address, pin)) != SOTTO_OK)
		goto out;
	if ((r = pump(c, client_mono_ms() + CLIENT_TIMEOUT_MS, have_challenge, NULL)) != SOTTO_OK)
		goto out;
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

	if (c == NULL)
		return;
	ctransport_close(c->t);
	while ((n = c->in_head) != NULL) {
		c->in_head = n->next;
		wire_free(n->f);
		free(n);
	}
	wire_free(c->resp);
	free(c);
}

const uint8_t *
conn_nonce(const conn *c)
{
	return c->nonce;
}

void
conn_set_deadline(conn *c, int64_t deadline)
{
	c->deadline = deadline;
}

int
conn_pushes_dropped(conn *c)
{
	int d = c->dropped;

	c->dropped = 0;
	return d;
}

static int
have_response(conn *c, void *arg)
{
	(void)arg;
	return c->resp != NULL;
}

int
conn_request(conn *c, wire_frame *req, wire_frame **resp)
{
	int r;

	*resp = NULL;
	if (c->err != SOTTO_OK)
		return c->err;
	req->id = ++c->next_id;
	c->want_id = req->id;
	wire_free(c->resp);
	c->resp = NULL;
	if ((r = ctransport_send(c->t, req)) != SOTTO_OK)
		goto out;
	if ((r = pump(c, client_mono_ms() + CLIENT_TIMEOUT_MS, have_response, NULL)) != SOTTO_OK)
		goto out;
	*resp = c->resp;
	c->resp = NULL;
	r = wire_status_to_err((*resp)->response->status);
out:
	c->want_id = 0;
	return r;
}

static int
have_push(conn *c, void *arg)
{
	(void)arg;
	return c->in_head != NULL;
}

int
conn_next_push(conn *c, int timeout_ms, wire_frame **f)
{
	frame_node *n;
	int r;

	*f = NULL;
	if (c->in_head == NULL) {
		if (timeout_ms <= 0)
			return SOTTO_ERR_TIMEOUT;
		if ((r = pump(c, client_mono_ms() + timeout_ms, have_push, NULL)) != SOTTO_OK)
			return r;
	}
	n = c->in_head;
	c->in_head = n->next;
	if (c->in_head == NULL)
		c->in_tail = NULL;
	c->n_pushes--;
	c->push_bytes -= n->len;
	*f = n->f;
	free(n);
	return SOTTO_OK;
}
