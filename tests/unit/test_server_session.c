/* SPDX-License-Identifier: ISC */
/*
 * The protocol as sottod serves it (session.c, directory.c, mailbox.c over the
 * SQLite store), driven frame by frame in process. This file supplies the
 * network layer (conn_send and friends) in place of net.c, capturing every
 * frame the server sends so it can be decoded and checked.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "crypto.h"
#include "devicelist.h"
#include "invite.h"
#include "log.h"
#include "metrics.h"
#include "server.h"
#include "sotto/error.h"
#include "wire.h"

#define ST(x) SOTTO__WIRE__STATUS__##x

/* ---- the network layer, captured ---- */

typedef struct captured {
	conn *c;
	uint8_t *buf;
	size_t len;
} captured;

static captured cap[512];
static size_t n_cap;
static int flush_requested;

int
conn_send(conn *c, const wire_frame *f)
{
	uint8_t *buf;
	size_t n;
	int rc;

	if (c->wsi == NULL || c->closing)
		return SOTTO_OK;
	if ((rc = wire_encode(f, 0, &buf, &n)) != SOTTO_OK)
		return rc;
	assert_true(n_cap < sizeof(cap) / sizeof(cap[0]));
	cap[n_cap++] = (captured){ c, buf, n };
	return SOTTO_OK;
}

void
conn_close_after_flush(conn *c)
{
	c->closing = 1;
}

void
conn_ref(conn *c)
{
	c->refs++;
}

void
conn_unref(conn *c)
{
	if (--c->refs == 0) {
		free(c->rx);
		free(c);
	}
}

void
net_request_flush(server *s)
{
	(void)s;
	flush_requested = 1;
}

void
net_request_flush_after(server *s, uint64_t us)
{
	(void)us;
	net_request_flush(s);
}

int
net_run(server *s)
{
	(void)s;
	return SOTTO_ERR_INTERNAL;
}

/* Next frame sent to c (decoded as a client would), or NULL. */
static wire_frame *
pop(conn *c)
{
	wire_frame *f = NULL;

	for (size_t i = 0; i < n_cap; i++) {
		if (cap[i].c != c)
			continue;
		assert_int_equal(wire_decode(&f, cap[i].buf, cap[i].len, SOTTO_MAX_FRAME), SOTTO_OK);
		free(cap[i].buf);
		memmove(&cap[i], &cap[i + 1], (n_cap - i - 1) * sizeof(cap[0]));
		n_cap--;
		return f;
	}
	return NULL;
}

static void
drop_captured(void)
{
	for (size_t i = 0; i < n_cap; i++)
		free(cap[i].buf);
	n_cap = 0;
}

/* ---- fixture ---- */

static char tmpdir[64], dbpath[128];
static server *srv;

static int
setup(void **state)
{
	(void)state;
	assert_int_equal(sc_init(), SOTTO_OK);
	log_set_level(LOG_LVL_ERROR);
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/sotto-session-XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	snprintf(dbpath, sizeof(dbpath), "%s/sottod.db", tmpdir);
	srv = calloc(1, sizeof(*srv));
	assert_non_null(srv);
	config_defaults(&srv->cfg);
	sc_random(srv->pin, sizeof(srv->pin));
	assert_int_equal(store_sqlite_open(&srv->st, dbpath), SOTTO_OK);
	flush_requested = 0;
	return 0;
}

/* The same, as a worker of a SQLite node runs: early delivery, the route map
 * and the directory cache on (server/early.c, server/dircache.c). */
static int
setup_early(void **state)
{
	setup(state);
	assert_int_equal(early_seqs_new(&srv->seqs, 0), SOTTO_OK);
	return 0;
}

static int
teardown(void **state)
{
	char p[160];

	(void)state;
	while (srv->conns != NULL) {
		conn *c = srv->conns;

		srv->conns = c->next;
		session_closed(c);
		c->wsi = NULL;
		conn_unref(c);
	}
	mailbox_discard(srv);
	drop_captured();
	srv->st->ops->close(srv->st);
	mailbox_free(srv);
	early_seqs_free(srv->seqs);
	free(srv);
	snprintf(p, sizeof(p), "%s-wal", dbpath);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", dbpath);
	unlink(p);
	unlink(dbpath);
	rmdir(tmpdir);
	return 0;
}

/* ---- accounts and devices, as a client holds them ---- */

typedef struct device {
	uint8_t sec[SC_SIGN_SEC];
	uint8_t id[SC_DEVICE_ID];
} device;

typedef struct account {
	char handle[SOTTO_MAX_HANDLE + 1];
	uint8_t acct_pub[SC_SIGN_PUB], acct_sec[SC_SIGN_SEC];
	device dev[4];
	size_t n_dev;
	dl_list l;
	uint8_t *raw;		/* current signed list */
	size_t rawlen;
} account;

static void
account_new(account *a, const char *handle)
{
	uint8_t kx_sec[SC_KX_SEC];
	dl_device *d;

	memset(a, 0, sizeof(*a));
	snprintf(a->handle, sizeof(a->handle), "%s", handle);
	sc_sign_keypair(a->acct_pub, a->acct_sec);
	snprintf(a->l.handle, sizeof(a->l.handle), "%s", handle);
	memcpy(a->l.account_pub, a->acct_pub, SC_SIGN_PUB);
	a->l.version = 1;
	a->l.created_at = now_ms();
	d = &a->l.devices[a->l.n_devices++];
	sc_sign_keypair(d->sig_pub, a->dev[0].sec);
	sc_kx_keypair(d->enc_pub, kx_sec);
	sc_device_id(d->id, d->sig_pub);
	memcpy(a->dev[0].id, d->id, SC_DEVICE_ID);
	snprintf(d->name, sizeof(d->name), "first");
	a->n_dev = 1;
	assert_int_equal(dl_sign_account(&a->l, a->acct_sec, &a->raw, &a->rawlen), SOTTO_OK);
}

/* Next version with one more device, signed by device 0. Returns the new raw
 * list (caller frees) without making it current unless commit. */
static void
account_add_device(account *a, uint8_t **raw, size_t *rawlen, int commit)
{
	dl_list next = a->l;
	uint8_t kx_sec[SC_KX_SEC];
	dl_device *d;
	device nd;

	dl_hash(next.prev_hash, a->raw, a->rawlen);
	next.version++;
	d = &next.devices[next.n_devices++];
	memset(d, 0, sizeof(*d));
	sc_sign_keypair(d->sig_pub, nd.sec);
	sc_kx_keypair(d->enc_pub, kx_sec);
	sc_device_id(d->id, d->sig_pub);
	memcpy(nd.id, d->id, SC_DEVICE_ID);
	memcpy(d->approved_by, a->dev[0].id, SC_DEVICE_ID);
	snprintf(d->name, sizeof(d->name), "dev%zu", a->n_dev);
	assert_int_equal(dl_sign_device(&next, a->dev[0].id, a->dev[0].sec, raw, rawlen), SOTTO_OK);
	if (commit) {
		a->l = next;
		a->dev[a->n_dev++] = nd;
		free(a->raw);
		a->raw = malloc(*rawlen);
		memcpy(a->raw, *raw, *rawlen);
		a->rawlen = *rawlen;
	}
}

static conn *
connect_(void)
{
	conn *c = calloc(1, sizeof(*c));
	wire_frame *f;

	assert_non_null(c);
	c->srv = srv;
	c->wsi = (void *)c;	/* any non-NULL: "open" */
	c->refs = 1;
	c->serial = ++srv->next_serial;
	c->next = srv->conns;
	if (srv->conns != NULL)
		srv->conns->prev = c;
	srv->conns = c;
	srv->n_conns++;
	session_open(c);
	f = pop(c);
	assert_non_null(f);
	assert_int_equal(f->id, 0);
	assert_int_equal(f->msg_case, SOTTO__WIRE__FRAME__MSG_CHALLENGE);
	assert_int_equal(f->challenge->nonce.len, WIRE_NONCE_LEN);
	assert_memory_equal(f->challenge->nonce.data, c->nonce, WIRE_NONCE_LEN);
	assert_int_equal(f->challenge->protocol_version, 1);
	assert_true(f->challenge->server_time > 0);
	wire_free(f);
	return c;
}

static void
disconnect(conn *c)
{
	wire_frame *f;

	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		srv->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	srv->n_conns--;
	session_closed(c);
	c->wsi = NULL;
	/* Frames it never read: a later conn may get its address. */
	while ((f = pop(c)) != NULL)
		wire_free(f);
	conn_unref(c);
}

static void
deliver(conn *c, const wire_frame *f)
{
	uint8_t *buf;
	size_t n;

	assert_int_equal(wire_encode(f, 0, &buf, &n), SOTTO_OK);
	session_frame(c, buf, n);
	free(buf);
}

/* The response to request id on c (must be the next frame for c). */
static wire_frame *
response(conn *c, uint64_t id)
{
	wire_frame *f = pop(c);

	assert_non_null(f);
	assert_int_equal(f->msg_case, SOTTO__WIRE__FRAME__MSG_RESPONSE);
	assert_int_equal(f->id, id);
	return f;
}

static Sotto__Wire__Status
status_of(conn *c, uint64_t id)
{
	wire_frame *f = response(c, id);
	Sotto__Wire__Status st = f->response->status;

	wire_free(f);
	return st;
}

static void
sign_auth(uint8_t sig[SC_SIG], const conn *c, const char *handle, const uint8_t sec[SC_SIGN_SEC])
{
	uint8_t msg[WIRE_AUTH_MSG_MAX];
	size_t n = wire_auth_message(msg, srv->pin, c->nonce, handle);

	sc_sign(sig, msg, n, sec);
}

static void
send_register(conn *c, uint64_t id, const account *a, const char *secret_text)
{
	Sotto__Wire__RegisterRequest rq = SOTTO__WIRE__REGISTER_REQUEST__INIT;
	wire_frame f = SOTTO__WIRE__FRAME__INIT;
	uint8_t sig[SC_SIG];

	sign_auth(sig, c, a->handle, a->dev[0].sec);
	rq.invite_secret = (char *)secret_text;
	rq.handle = (char *)a->handle;
	rq.device_list.data = a->raw;
	rq.device_list.len = a->rawlen;
	rq.signature.data = sig;
	rq.signature.len = SC_SIG;
	f.id = id;
	f.msg_case = SOTTO__WIRE__FRAME__MSG_REGISTER;
	f.register_ = &rq;
	deliver(c, &f);
}

static void
send_auth(conn *c, uint64_t id, const char *handle, const device *d, int corrupt)
{
	Sotto__Wire__AuthRequest rq = SOTTO__WIRE__AUTH_REQUEST__INIT;
	wire_frame f = SOTTO__WIRE__FRAME__INIT;
	uint8_t sig[SC_SIG], did[SC_DEVICE_ID];

	sign_auth(sig, c, handle, d->sec);
	if (corrupt)
		sig[5] ^= 1;
	memcpy(did, d->id, SC_DEVICE_ID);
	rq.handle = (char *)handle;
	rq.device_id.data = did;
	rq.device_id.len = SC_DEVICE_ID;
	rq.signature.data = sig;
	rq.signature.len = SC_SIG;
	f.id = id;
	f.msg_case = SOTTO__WIRE__FRAME__MSG_AUTH;
	f.auth = &rq;
	deliver(c, &f);
}

/* An invite for handle; text: the secret as the client sends it. */
static void
make_invite(const char *handle, char text[23])
{
	uint8_t secret[INVITE_SECRET_LEN];

	assert_int_equal(dir_invite_create(srv->st, handle, secret, now_ms()), SOTTO_OK);
	invite_secret_text(text, secret);
}

/* Register a (with an invite) on a new connection, authenticated. */
static conn *
registered(account *a)
{
	char text[23];
	conn *c = connect_();
	wire_frame *f;

	make_invite(a->handle, text);
	send_register(c, 1, a, text);
	f = response(c, 1);
	assert_int_equal(f->response->status, ST(OK));
	assert_int_equal(f->response->device_id.len, SC_DEVICE_ID);
	assert_memory_equal(f->response->device_id.data, a->dev[0].id, SC_DEVICE_ID);
	wire_free(f);
	assert_int_equal(c->state, CONN_AUTHED);
	return c;
}

static conn *
logged_in(const account *a, size_t dev)
{
	conn *c = connect_();

	send_auth(c, 7, a->handle, &a->dev[dev], 0);
	assert_int_equal(status_of(c, 7), ST(OK));
	return c;
}

/* ---- requests ---- */

typedef struct send_rcpt {
	const account *a;
	uint64_t version;
	int skip_dev;		/* a device index to leave out, or -1 */
	int self_dev;		/* the sending device (own handle), or -1 */
} send_rcpt;

static void
send_msg(conn *c, uint64_t id, uint8_t msg, const char *body, const send_rcpt *r, size_t nr)
{
	Sotto__Wire__SendRequest rq = SOTTO__WIRE__SEND_REQUEST__INIT;
	Sotto__Wire__Recipient rs[8], *rp[8];
	Sotto__Wire__Copy cs[8][4], *cp[8][4];
	wire_frame f = SOTTO__WIRE__FRAME__INIT;
	uint8_t msg_id[16], wrap[80], ids[8][4][SC_DEVICE_ID];

	memset(msg_id, msg, sizeof(msg_id));
	memset(wrap, msg, sizeof(wrap));
	for (size_t i = 0; i < nr; i++) {
		sotto__wire__recipient__init(&rs[i]);
		rs[i].handle = (char *)r[i].a->handle;
		rs[i].list_version = r[i].version;
		rs[i].copies = cp[i];
		for (size_t j = 0; j < r[i].a->n_dev; j++) {
			size_t k = rs[i].n_copies;

			if ((int)j == r[i].skip_dev || (int)j == r[i].self_dev)
				continue;
			sotto__wire__copy__init(&cs[i][k]);
			memcpy(ids[i][k], r[i].a->dev[j].id, SC_DEVICE_ID);
			cs[i][k].device_id.data = ids[i][k];
			cs[i][k].device_id.len = SC_DEVICE_ID;
			cs[i][k].wrap.data = wrap;
			cs[i][k].wrap.len = sizeof(wrap);
			cp[i][k] = &cs[i][k];
			rs[i].n_copies++;
		}
		rp[i] = &rs[i];
	}
	rq.msg_id.data = msg_id;
	rq.msg_id.len = sizeof(msg_id);
	rq.envelope.data = (uint8_t *)body;
	rq.envelope.len = strlen(body);
	rq.n_recipients = nr;
	rq.recipients = rp;
	f.id = id;
	f.msg_case = SOTTO__WIRE__FRAME__MSG_SEND;
	f.send = &rq;
	deliver(c, &f);
}

static wire_frame *
fetch(conn *c, uint64_t id, uint32_t max)
{
	Sotto__Wire__FetchRequest rq = SOTTO__WIRE__FETCH_REQUEST__INIT;
	wire_frame f = SOTTO__WIRE__FRAME__INIT, *r;

	rq.max = max;
	f.id = id;
	f.msg_case = SOTTO__WIRE__FRAME__MSG_FETCH;
	f.fetch = &rq;
	deliver(c, &f);
	r = response(c, id);
	assert_int_equal(r->response->status, ST(OK));
	return r;
}

static void
ack(conn *c, uint64_t id, uint64_t *seqs, size_t n)
{
	Sotto__Wire__AckRequest rq = SOTTO__WIRE__ACK_REQUEST__INIT;
	wire_frame f = SOTTO__WIRE__FRAME__INIT;

	rq.seqs = seqs;
	rq.n_seqs = n;
	f.id = id;
	f.msg_case = SOTTO__WIRE__FRAME__MSG_ACK;
	f.ack = &rq;
	deliver(c, &f);
}

static void
get_lists(conn *c, uint64_t id, const char *handle, uint64_t since)
{
	Sotto__Wire__GetDeviceListRequest rq = SOTTO__WIRE__GET_DEVICE_LIST_REQUEST__INIT;
	wire_frame f = SOTTO__WIRE__FRAME__INIT;

	rq.handle = (char *)handle;
	rq.since_version = since;
	f.id = id;
	f.msg_case = SOTTO__WIRE__FRAME__MSG_GET_DEVICE_LIST;
	f.get_device_list = &rq;
	deliver(c, &f);
}

static void
publish(conn *c, uint64_t id, const uint8_t *raw, size_t len)
{
	Sotto__Wire__PublishDeviceListRequest rq = SOTTO__WIRE__PUBLISH_DEVICE_LIST_REQUEST__INIT;
	wire_frame f = SOTTO__WIRE__FRAME__INIT;

	rq.device_list.data = (uint8_t *)raw;
	rq.device_list.len = len;
	f.id = id;
	f.msg_case = SOTTO__WIRE__FRAME__MSG_PUBLISH_DEVICE_LIST;
	f.publish_device_list = &rq;
	deliver(c, &f);
}

/* ---- tests ---- */

static void
test_register_and_invites(void **state)
{
	account a, b;
	char text[23], bad[23];
	uint8_t secret[INVITE_SECRET_LEN];
	conn *c;

	(void)state;
	account_new(&a, "alice");
	account_new(&b, "bob");

	/* requests before auth */
	c = connect_();
	get_lists(c, 3, "alice", 0);
	assert_int_equal(status_of(c, 3), ST(UNAUTHENTICATED));
	assert_false(c->closing);

	/* no invite / a wrong secret: refused, and the nonce is spent */
	make_invite("alice", text);
	sc_random(secret, sizeof(secret));
	invite_secret_text(bad, secret);
	send_register(c, 4, &a, bad);
	assert_int_equal(status_of(c, 4), ST(INVITE_INVALID));
	assert_true(c->closing);
	disconnect(c);
	c = connect_();
	send_register(c, 4, &a, "not base64!");
	assert_int_equal(status_of(c, 4), ST(INVITE_INVALID));
	disconnect(c);
	/* alice's invite does not register bob */
	c = connect_();
	send_register(c, 5, &b, text);
	assert_int_equal(status_of(c, 5), ST(INVITE_INVALID));
	disconnect(c);
	/* the good one */
	c = connect_();
	send_register(c, 6, &a, text);
	assert_int_equal(status_of(c, 6), ST(OK));
	assert_int_equal(c->state, CONN_AUTHED);
	/* a second register on an authenticated connection */
	send_register(c, 8, &a, text);
	assert_int_equal(status_of(c, 8), ST(BAD_REQUEST));
	disconnect(c);
	/* single use */
	c = connect_();
	send_register(c, 9, &a, text);
	assert_int_equal(status_of(c, 9), ST(INVITE_INVALID));
	disconnect(c);
	/* no invite for a taken handle */
	assert_int_equal(dir_invite_create(srv->st, "alice", secret, now_ms()), SOTTO_ERR_HANDLE_TAKEN);
	assert_int_equal(dir_invite_create(srv->st, "Bad Handle", secret, now_ms()), SOTTO_ERR_INVALID_ARG);

	/* open mode: no invite, but the handle must be free */
	srv->cfg.registration_open = 1;
	c = connect_();
	send_register(c, 10, &a, "");
	assert_int_equal(status_of(c, 10), ST(HANDLE_TAKEN));
	disconnect(c);
	c = connect_();
	send_register(c, 11, &b, "");
	assert_int_equal(status_of(c, 11), ST(OK));
	disconnect(c);
	free(a.raw);
	free(b.raw);
}

static void
test_register_refusals(void **state)
{
	account a, other;
	char text[23];
	uint8_t *raw2;
	size_t len2;
	conn *c;

	(void)state;
	srv->cfg.registration_open = 1;
	account_new(&a, "alice");
	account_new(&other, "mallory");

	/* a list for another handle */
	c = connect_();
	{
		account fake = a;

		snprintf(fake.handle, sizeof(fake.handle), "mallory");
		send_register(c, 1, &fake, "");
	}
	assert_int_equal(status_of(c, 1), ST(BAD_REQUEST));
	disconnect(c);
	/* garbage instead of a list */
	c = connect_();
	{
		account fake = a;
		uint8_t junk[40] = { 1, 2, 3 };

		fake.raw = junk;
		fake.rawlen = sizeof(junk);
		send_register(c, 2, &fake, "");
	}
	assert_int_equal(status_of(c, 2), ST(BAD_REQUEST));
	disconnect(c);
	/* version 2 is no first version */
	account_add_device(&a, &raw2, &len2, 0);
	c = connect_();
	{
		account fake = a;

		fake.raw = raw2;
		fake.rawlen = len2;
		send_register(c, 3, &fake, "");
	}
	assert_int_not_equal(status_of(c, 3), ST(OK));
	disconnect(c);
	free(raw2);
	/* the challenge signed by a key that is not the device's */
	c = connect_();
	{
		account fake = a;

		memcpy(fake.dev[0].sec, other.dev[0].sec, SC_SIGN_SEC);
		send_register(c, 4, &fake, "");
	}
	assert_int_equal(status_of(c, 4), ST(UNAUTHENTICATED));
	assert_true(c->closing);
	disconnect(c);
	assert_int_equal(srv->st->ops->account_exists(srv->st, "alice"), 0);
	/* invite mode again: a real invite still works after all that */
	srv->cfg.registration_open = 0;
	make_invite("alice", text);
	c = connect_();
	send_register(c, 5, &a, text);
	assert_int_equal(status_of(c, 5), ST(OK));
	disconnect(c);
	free(a.raw);
	free(other.raw);
}

static void
test_auth(void **state)
{
	account a;
	conn *c;
	device unknown;
	wire_frame *f;

	(void)state;
	account_new(&a, "alice");
	disconnect(registered(&a));

	/* bad signature: UNAUTHENTICATED and closed */
	c = connect_();
	send_auth(c, 1, "alice", &a.dev[0], 1);
	assert_int_equal(status_of(c, 1), ST(UNAUTHENTICATED));
	assert_true(c->closing);
	assert_int_equal(c->state, CONN_PREAUTH);
	/* nothing more is answered on it */
	send_auth(c, 2, "alice", &a.dev[0], 0);
	assert_null(pop(c));
	disconnect(c);
	/* a device that is not in the list, an unknown handle */
	unknown = a.dev[0];
	unknown.id[0] ^= 1;
	c = connect_();
	send_auth(c, 3, "alice", &unknown, 0);
	assert_int_equal(status_of(c, 3), ST(UNAUTHENTICATED));
	disconnect(c);
	c = connect_();
	send_auth(c, 4, "nobody", &a.dev[0], 0);
	assert_int_equal(status_of(c, 4), ST(UNAUTHENTICATED));
	disconnect(c);
	/* the good one, once */
	c = connect_();
	send_auth(c, 5, "alice", &a.dev[0], 0);
	f = response(c, 5);
	assert_int_equal(f->response->status, ST(OK));
	assert_memory_equal(f->response->device_id.data, a.dev[0].id, SC_DEVICE_ID);
	wire_free(f);
	assert_int_equal(c->state, CONN_AUTHED);
	send_auth(c, 6, "alice", &a.dev[0], 0);
	assert_int_equal(status_of(c, 6), ST(BAD_REQUEST));
	disconnect(c);
	free(a.raw);
}

static void
test_bad_frames(void **state)
{
	conn *c;
	wire_frame *f;
	uint8_t junk[64];
	wire_frame resp = SOTTO__WIRE__FRAME__INIT;
	Sotto__Wire__Response r = SOTTO__WIRE__RESPONSE__INIT;

	(void)state;
	c = connect_();
	memset(junk, 0xff, sizeof(junk));
	session_frame(c, junk, sizeof(junk));
	f = response(c, 0);
	assert_int_equal(f->response->status, ST(BAD_REQUEST));
	wire_free(f);
	assert_true(c->closing);
	disconnect(c);
	/* over the pre-auth cap */
	c = connect_();
	{
		uint8_t *big = calloc(1, SOTTO_MAX_FRAME_PREAUTH + 1);

		session_frame(c, big, SOTTO_MAX_FRAME_PREAUTH + 1);
		free(big);
	}
	f = response(c, 0);
	assert_int_equal(f->response->status, ST(TOO_LARGE));
	wire_free(f);
	assert_true(c->closing);
	disconnect(c);
	/* a frame only the server may send */
	c = connect_();
	resp.id = 42;
	resp.msg_case = SOTTO__WIRE__FRAME__MSG_RESPONSE;
	resp.response = &r;
	deliver(c, &resp);
	assert_int_equal(status_of(c, 42), ST(BAD_REQUEST));
	disconnect(c);
}

static void
test_directory_and_publish(void **state)
{
	account a, b, m;
	conn *ca, *cb, *cm;
	wire_frame *f;
	uint8_t *raw2, *raw3, *bad;
	size_t len2, len3, badlen;
	dl_list l;

	(void)state;
	account_new(&a, "alice");
	account_new(&b, "bob");
	account_new(&m, "mallory");
	ca = registered(&a);
	cb = registered(&b);
	cm = registered(&m);

	get_lists(cb, 1, "nobody", 0);
	f = response(cb, 1);
	assert_int_equal(f->response->status, ST(NO_SUCH_HANDLE));
	assert_string_equal(f->response->handle, "nobody");
	wire_free(f);
	get_lists(cb, 2, "alice", 0);
	f = response(cb, 2);
	assert_int_equal(f->response->status, ST(OK));
	assert_int_equal(f->response->n_device_lists, 1);
	assert_int_equal(f->response->device_lists[0].len, a.rawlen);
	assert_memory_equal(f->response->device_lists[0].data, a.raw, a.rawlen);
	assert_false(f->response->more);
	wire_free(f);

	/* alice adds a device: v2 signed by her first device */
	account_add_device(&a, &raw2, &len2, 1);
	/* mallory cannot publish it */
	publish(cm, 3, raw2, len2);
	assert_int_equal(status_of(cm, 3), ST(FORBIDDEN));
	publish(ca, 4, raw2, len2);
	assert_int_equal(status_of(ca, 4), ST(OK));
	/* bob looked alice up on this connection: he hears of it. mallory did
	 * not: who changes devices when is not hers to see (and one publish is
	 * not a frame to every connection). alice's own connection made it. */
	f = pop(cb);
	assert_non_null(f);
	assert_int_equal(f->msg_case, SOTTO__WIRE__FRAME__MSG_DEVICE_LIST_CHANGED);
	assert_string_equal(f->device_list_changed->handle, "alice");
	assert_int_equal(f->device_list_changed->version, 2);
	wire_free(f);
	assert_null(pop(cb));
	assert_null(pop(cm));
	assert_null(pop(ca));
	/* the same version again does not chain */
	publish(ca, 5, raw2, len2);
	assert_int_equal(status_of(ca, 5), ST(CHAIN_INVALID));
	/* nor does one signed by a device that is not listed */
	{
		dl_list next = a.l;
		uint8_t pub[SC_SIGN_PUB], sec[SC_SIGN_SEC], id[SC_DEVICE_ID];

		sc_sign_keypair(pub, sec);
		sc_device_id(id, pub);
		next.version++;
		dl_hash(next.prev_hash, a.raw, a.rawlen);
		assert_int_equal(dl_sign_device(&next, id, sec, &bad, &badlen), SOTTO_OK);
		assert_int_equal(dl_parse(&l, bad, badlen), SOTTO_OK);
	}
	publish(ca, 6, bad, badlen);
	assert_int_equal(status_of(ca, 6), ST(CHAIN_INVALID));
	free(bad);
	publish(ca, 7, (const uint8_t *)"junk", 4);
	assert_int_equal(status_of(ca, 7), ST(BAD_REQUEST));

	/* the new device logs in; history grows */
	{
		conn *c2 = logged_in(&a, 1);

		disconnect(c2);
	}
	account_add_device(&a, &raw3, &len3, 1);
	publish(ca, 8, raw3, len3);
	assert_int_equal(status_of(ca, 8), ST(OK));
	drop_captured();
	get_lists(cb, 9, "alice", 1);
	f = response(cb, 9);
	assert_int_equal(f->response->n_device_lists, 2);
	assert_memory_equal(f->response->device_lists[0].data, raw2, len2);
	assert_memory_equal(f->response->device_lists[1].data, raw3, len3);
	wire_free(f);
	get_lists(cb, 10, "alice", 3);
	f = response(cb, 10);
	assert_int_equal(f->response->status, ST(OK));
	assert_int_equal(f->response->n_device_lists, 0);
	wire_free(f);
	free(raw2);
	free(raw3);
	free(a.raw);
	free(b.raw);
	free(m.raw);
}

static void
test_send_fetch_ack_push(void **state)
{
	account a, b;
	conn *ca, *cb, *ca2;
	wire_frame *f;
	uint8_t *raw2;
	size_t len2;
	uint64_t seqs[4];
	store_copy *cp;
	size_t n;
	int more;

	(void)state;
	account_new(&a, "alice");
	account_new(&b, "bob");
	ca = registered(&a);
	cb = registered(&b);

	/* unknown handle: the whole send refused, naming it */
	{
		account ghost;

		account_new(&ghost, "ghost");
		send_rcpt r[] = { { &b, 1, -1, -1 }, { &ghost, 1, -1, -1 } };

		send_msg(ca, 1, 1, "to ghost", r, 2);
		f = response(ca, 1);
		assert_int_equal(f->response->status, ST(NO_SUCH_HANDLE));
		assert_string_equal(f->response->handle, "ghost");
		wire_free(f);
		free(ghost.raw);
	}
	/* wrong version for bob */
	{
		send_rcpt r[] = { { &b, 2, -1, -1 } };

		send_msg(ca, 2, 2, "stale", r, 1);
		f = response(ca, 2);
		assert_int_equal(f->response->status, ST(STALE_DEVICE_LIST));
		assert_int_equal(f->response->n_stale, 1);
		assert_string_equal(f->response->stale[0]->handle, "bob");
		assert_int_equal(f->response->stale[0]->version, 1);
		wire_free(f);
	}
	/* a good send is answered only once committed */
	{
		send_rcpt r[] = { { &b, 1, -1, -1 } };

		flush_requested = 0;
		send_msg(ca, 3, 3, "hello bob", r, 1);
		assert_null(pop(ca));
		assert_true(flush_requested);
		assert_int_equal(mailbox_staged(srv), 1);
		mailbox_flush(srv);
		assert_int_equal(status_of(ca, 3), ST(OK));
		/* a retry is answered OK and stores nothing new */
		send_msg(ca, 4, 3, "hello bob", r, 1);
		mailbox_flush(srv);
		assert_int_equal(status_of(ca, 4), ST(OK));
	}
	/* bob was not fetching: nothing pushed; fetch gets one copy */
	assert_null(pop(cb));
	f = fetch(cb, 5, 0);
	assert_int_equal(f->response->n_deliveries, 1);
	assert_false(f->response->more);
	assert_int_equal(f->response->deliveries[0]->envelope.len, strlen("hello bob"));
	assert_memory_equal(f->response->deliveries[0]->envelope.data, "hello bob", 9);
	assert_int_equal(f->response->deliveries[0]->wrap.len, 80);
	assert_true(f->response->deliveries[0]->stored_at > 0);
	seqs[0] = f->response->deliveries[0]->seq;
	wire_free(f);

	/* now bob is fetching: a new copy is pushed once committed (with early
	 * delivery, once staged: it is then already waiting) */
	{
		send_rcpt r[] = { { &b, 1, -1, -1 } };

		send_msg(ca, 6, 6, "pushed", r, 1);
		if (srv->seqs == NULL)
			assert_null(pop(cb));
		mailbox_flush(srv);
		assert_int_equal(status_of(ca, 6), ST(OK));
		f = pop(cb);
		assert_non_null(f);
		assert_int_equal(f->id, 0);
		assert_int_equal(f->msg_case, SOTTO__WIRE__FRAME__MSG_DELIVERY);
		assert_memory_equal(f->delivery->envelope.data, "pushed", 6);
		seqs[1] = f->delivery->seq;
		assert_true(seqs[1] > seqs[0]);
		wire_free(f);
	}
	/* alice acknowledging bob's seqs deletes nothing */
	ack(ca, 7, seqs, 2);
	mailbox_flush(srv);
	assert_int_equal(status_of(ca, 7), ST(OK));
	assert_int_equal(srv->st->ops->copy_fetch(srv->st, "bob", b.dev[0].id, now_ms(), 0, 1 << 20, &cp, &n,
	    &more), SOTTO_OK);
	assert_int_equal(n, 2);
	store_copies_free(cp, n);
	/* bob's own ack does */
	ack(cb, 8, seqs, 2);
	assert_null(pop(cb));
	mailbox_flush(srv);
	assert_int_equal(status_of(cb, 8), ST(OK));
	f = fetch(cb, 9, 0);
	assert_int_equal(f->response->n_deliveries, 0);
	wire_free(f);

	/* alice gets a second device: sends must now carry a copy for it */
	account_add_device(&a, &raw2, &len2, 1);
	publish(ca, 10, raw2, len2);
	assert_int_equal(status_of(ca, 10), ST(OK));
	free(raw2);
	drop_captured();
	{
		send_rcpt r[] = { { &b, 1, -1, -1 } };

		send_msg(ca, 11, 11, "forgot my other device", r, 1);
		f = response(ca, 11);
		assert_int_equal(f->response->status, ST(STALE_DEVICE_LIST));
		assert_int_equal(f->response->n_stale, 1);
		assert_string_equal(f->response->stale[0]->handle, "alice");
		assert_int_equal(f->response->stale[0]->version, 2);
		wire_free(f);
	}
	{
		/* a copy for the sending device itself is wrong too */
		send_rcpt r[] = { { &b, 1, -1, -1 }, { &a, 2, -1, -1 } };

		send_msg(ca, 12, 12, "copy to myself", r, 2);
		assert_int_equal(status_of(ca, 12), ST(STALE_DEVICE_LIST));
	}
	ca2 = logged_in(&a, 1);
	drop_captured();
	f = fetch(ca2, 13, 0);
	assert_int_equal(f->response->n_deliveries, 0);
	wire_free(f);
	{
		send_rcpt r[] = { { &b, 1, -1, -1 }, { &a, 2, -1, 0 } };

		send_msg(ca, 14, 14, "to bob and my other device", r, 2);
		mailbox_flush(srv);
		assert_int_equal(status_of(ca, 14), ST(OK));
		/* both fetching devices get it pushed; the sender does not */
		f = pop(ca2);
		assert_non_null(f);
		assert_int_equal(f->msg_case, SOTTO__WIRE__FRAME__MSG_DELIVERY);
		wire_free(f);
		f = pop(cb);
		assert_non_null(f);
		assert_int_equal(f->msg_case, SOTTO__WIRE__FRAME__MSG_DELIVERY);
		wire_free(f);
		assert_null(pop(ca));
	}
	disconnect(ca2);
	free(a.raw);
	free(b.raw);
}

/* The next frame for c is a Delivery (returned: its seq). */
static uint64_t
delivery_seq(conn *c)
{
	wire_frame *f = pop(c);
	uint64_t seq;

	assert_non_null(f);
	assert_int_equal(f->msg_case, SOTTO__WIRE__FRAME__MSG_DELIVERY);
	seq = f->delivery->seq;
	wire_free(f);
	return seq;
}

/*
 * Early delivery (server/early.c): a copy reaches a fetching device when its
 * send is staged, before the commit, under the seq it is then stored with; a
 * connection that began fetching in between gets it after the commit; an Ack
 * of a copy another worker has not committed yet waits for that commit.
 */
static void
test_early_delivery(void **state)
{
	account a, b;
	conn *ca, *cb, *cb2, *ca2;
	server *one = srv, *two;
	wire_frame *f;
	uint64_t seq, seq2, count;

	(void)state;
	assert_int_equal(early_seqs_new(&srv->seqs, 0), SOTTO_OK);
	account_new(&a, "alice");
	account_new(&b, "bob");
	ca = registered(&a);
	cb = registered(&b);
	assert_int_equal(early_route(srv->seqs, b.dev[0].id), 0);
	wire_free(fetch(cb, 2, 0));
	/* the route map: bob's device has a fetching connection on worker 0 */
	assert_int_equal(early_route(srv->seqs, b.dev[0].id), 1);
	{
		send_rcpt r[] = { { &b, 1, -1, -1 } };

		/* pushed at once, before the commit and before alice hears OK */
		send_msg(ca, 3, 3, "early", r, 1);
		seq = delivery_seq(cb);
		assert_null(pop(ca));
		/* bob's second connection starts fetching before the commit: the
		 * store does not have the copy yet */
		cb2 = logged_in(&b, 0);
		f = fetch(cb2, 4, 0);
		assert_int_equal(f->response->n_deliveries, 0);
		wire_free(f);
		mailbox_flush(srv);
		assert_int_equal(status_of(ca, 3), ST(OK));
		/* ... so the commit pushes it to cb2, and not again to cb */
		assert_int_equal(delivery_seq(cb2), seq);
		assert_null(pop(cb));
		/* stored under the seq it was pushed with: bob's ack deletes it */
		ack(cb, 5, &seq, 1);
		mailbox_flush(srv);
		assert_int_equal(status_of(cb, 5), ST(OK));
		assert_int_equal(srv->st->ops->copy_count(srv->st, "bob", b.dev[0].id, now_ms(), &count), SOTTO_OK);
		assert_int_equal(count, 0);
	}
	/* a second worker of the same node: same database, same seq counter */
	assert_non_null(two = calloc(1, sizeof(*two)));
	two->cfg = srv->cfg;
	memcpy(two->pin, srv->pin, sizeof(two->pin));
	two->worker = 1;
	two->seqs = srv->seqs;
	assert_int_equal(store_sqlite_open(&two->st, dbpath), SOTTO_OK);
	srv = two;
	ca2 = logged_in(&a, 0);
	{
		send_rcpt r[] = { { &b, 1, -1, -1 } };

		seq2 = early_next(two);
		send_msg(ca2, 6, 6, "from worker two", r, 1);	/* staged there, not committed */
	}
	srv = one;
	/* bob acks it (its push came through the pipe) before worker two commits:
	 * the ack waits instead of deleting nothing */
	ack(cb, 7, &seq2, 1);
	mailbox_flush(srv);
	assert_null(pop(cb));
	assert_int_equal(mailbox_staged(srv), 1);
	srv = two;
	mailbox_flush(two);
	assert_int_equal(status_of(ca2, 6), ST(OK));
	srv = one;
	mailbox_flush(srv);
	assert_int_equal(status_of(cb, 7), ST(OK));
	assert_int_equal(srv->st->ops->copy_count(srv->st, "bob", b.dev[0].id, now_ms(), &count), SOTTO_OK);
	assert_int_equal(count, 0);
	/* an ack of a seq nobody holds unsettled is answered at once */
	seq2 = early_next(srv) - 1;
	ack(cb, 8, &seq2, 1);
	mailbox_flush(srv);
	assert_int_equal(status_of(cb, 8), ST(OK));
	srv = two;
	disconnect(ca2);
	mailbox_discard(two);
	two->st->ops->close(two->st);
	mailbox_free(two);
	free(two);
	srv = one;
	disconnect(cb2);
	assert_int_equal(early_route(srv->seqs, b.dev[0].id), 1);	/* cb still fetches */
	disconnect(cb);
	assert_int_equal(early_route(srv->seqs, b.dev[0].id), 0);
	disconnect(ca);
	early_seqs_free(srv->seqs);
	srv->seqs = NULL;
	free(a.raw);
	free(b.raw);
}

static void
test_group_commit_and_cap(void **state)
{
	account a, b;
	conn *ca, *cb;
	wire_frame *f;
	uint64_t count;

	(void)state;
	srv->cfg.mailbox_cap = 2;
	account_new(&a, "alice");
	account_new(&b, "bob");
	ca = registered(&a);
	cb = registered(&b);
	{
		send_rcpt r[] = { { &b, 1, -1, -1 } };

		/* three sends in one loop turn: one transaction; the third is over the cap */
		send_msg(ca, 1, 1, "one", r, 1);
		send_msg(ca, 2, 2, "two", r, 1);
		send_msg(ca, 3, 3, "three", r, 1);
		assert_int_equal(mailbox_staged(srv), 3);
		assert_null(pop(ca));
		mailbox_flush(srv);
		assert_int_equal(mailbox_staged(srv), 0);
		assert_int_equal(status_of(ca, 1), ST(OK));
		assert_int_equal(status_of(ca, 2), ST(OK));
		f = response(ca, 3);
		assert_int_equal(f->response->status, ST(MAILBOX_FULL));
		assert_string_equal(f->response->handle, "bob");
		wire_free(f);
	}
	assert_int_equal(srv->st->ops->copy_count(srv->st, "bob", b.dev[0].id, now_ms(), &count), SOTTO_OK);
	assert_int_equal(count, 2);
	/* fetch with max 1: one, and more */
	f = fetch(cb, 4, 1);
	assert_int_equal(f->response->n_deliveries, 1);
	assert_true(f->response->more);
	{
		send_rcpt r[] = { { &b, 1, -1, -1 } };
		uint64_t seq = f->response->deliveries[0]->seq;

		/* One transaction, 2 queued, cap 3: a send that fills the queue, an
		 * ack that makes room, a send that fits only because of that ack,
		 * one that does not fit (the queue is counted once, then followed
		 * through the batch's own rows: qcount.h). */
		srv->cfg.mailbox_cap = 3;
		send_msg(ca, 40, 40, "fills", r, 1);
		ack(cb, 41, &seq, 1);
		send_msg(ca, 42, 42, "fits", r, 1);
		send_msg(ca, 43, 43, "full", r, 1);
		mailbox_flush(srv);
		assert_int_equal(status_of(ca, 40), ST(OK));
		assert_int_equal(status_of(ca, 42), ST(OK));
		assert_int_equal(status_of(ca, 43), ST(MAILBOX_FULL));
		/* bob: the ack's answer and the push of "fits" (on a SQLite worker
		 * pushed before the commit, with those of the refused sends, which
		 * clients drop: docs/PROTOCOL.md). */
		{
			int answered = 0, pushed = 0;
			wire_frame *g;

			while ((g = pop(cb)) != NULL) {
				if (g->msg_case == SOTTO__WIRE__FRAME__MSG_DELIVERY)
					pushed++;
				else {
					assert_int_equal(g->id, 41);
					assert_int_equal(g->response->status, ST(OK));
					answered++;
				}
				wire_free(g);
			}
			assert_int_equal(answered, 1);
			assert_true(pushed >= 1);
		}
	}
	wire_free(f);
	assert_int_equal(srv->st->ops->copy_count(srv->st, "bob", b.dev[0].id, now_ms(), &count), SOTTO_OK);
	assert_int_equal(count, 3);

	/* a connection that goes away with a staged send: still committed */
	srv->cfg.mailbox_cap = 10;
	{
		send_rcpt r[] = { { &b, 1, -1, -1 } };

		send_msg(ca, 5, 5, "sender gone", r, 1);
		disconnect(ca);
		mailbox_flush(srv);
	}
	assert_int_equal(srv->st->ops->copy_count(srv->st, "bob", b.dev[0].id, now_ms(), &count), SOTTO_OK);
	assert_int_equal(count, 4);
	free(a.raw);
	free(b.raw);
}

/* Fetch answers stay within the frame cap however large the envelopes. */
static void
test_fetch_fits_frame(void **state)
{
	account a, b;
	conn *ca, *cb;
	wire_frame *f;
	char *big;
	size_t total = 0, rounds = 0;
	uint64_t seqs[SOTTO_MAX_FETCH_BATCH];

	(void)state;
	account_new(&a, "alice");
	account_new(&b, "bob");
	ca = registered(&a);
	cb = registered(&b);
	big = malloc(SOTTO_MAX_ENVELOPE + 1);
	assert_non_null(big);
	memset(big, 'e', SOTTO_MAX_ENVELOPE);
	big[SOTTO_MAX_ENVELOPE] = '\0';
	for (int i = 0; i < 5; i++) {
		send_rcpt r[] = { { &b, 1, -1, -1 } };

		send_msg(ca, (uint64_t)i + 1, (uint8_t)(i + 1), big, r, 1);
	}
	mailbox_flush(srv);
	for (int i = 0; i < 5; i++)
		assert_int_equal(status_of(ca, (uint64_t)i + 1), ST(OK));
	do {
		size_t n;

		f = fetch(cb, 100 + rounds, 0);
		n = f->response->n_deliveries;
		assert_true(n >= 1 && n < 5);
		for (size_t i = 0; i < n; i++) {
			assert_int_equal(f->response->deliveries[i]->envelope.len, SOTTO_MAX_ENVELOPE);
			seqs[i] = f->response->deliveries[i]->seq;
		}
		total += n;
		rounds++;
		if (!f->response->more) {
			wire_free(f);
			break;
		}
		wire_free(f);
		ack(cb, 200 + rounds, seqs, n);
		mailbox_flush(srv);
		assert_int_equal(status_of(cb, 200 + rounds), ST(OK));
	} while (rounds < 10);
	assert_int_equal(total, 5);
	assert_true(rounds >= 2);
	free(big);
	free(a.raw);
	free(b.raw);
}

/* Every truncation and every bit flip of a register frame: always one answer
 * (or a closed connection), never a crash, never an account from a broken frame. */
static void
test_mutated_register(void **state)
{
	account a;
	conn *c;
	wire_frame fr = SOTTO__WIRE__FRAME__INIT, *f;
	Sotto__Wire__RegisterRequest rq = SOTTO__WIRE__REGISTER_REQUEST__INIT;
	uint8_t sig[SC_SIG], *buf, *m;
	size_t n, ok = 0;

	(void)state;
	srv->cfg.registration_open = 1;
	account_new(&a, "alice");
	/* a signature over a fixed nonce, replayed into each connection's nonce */
	rq.handle = a.handle;
	rq.invite_secret = "";
	rq.device_list.data = a.raw;
	rq.device_list.len = a.rawlen;
	memset(sig, 0, sizeof(sig));
	rq.signature.data = sig;
	rq.signature.len = SC_SIG;
	fr.id = 9;
	fr.msg_case = SOTTO__WIRE__FRAME__MSG_REGISTER;
	fr.register_ = &rq;
	assert_int_equal(wire_encode(&fr, 0, &buf, &n), SOTTO_OK);
	assert_non_null(m = malloc(n));
	for (size_t i = 0; i <= n * 8; i++) {
		size_t len = n;

		memcpy(m, buf, n);
		if (i < n * 8)
			m[i / 8] ^= (uint8_t)(1u << (i % 8));
		else
			len = n / 2;
		c = connect_();
		session_frame(c, m, len);
		f = pop(c);
		assert_non_null(f);
		assert_int_equal(f->msg_case, SOTTO__WIRE__FRAME__MSG_RESPONSE);
		/* the zero signature never verifies: nothing may register */
		assert_int_not_equal(f->response->status, ST(OK));
		ok += f->response->status == ST(UNAUTHENTICATED);
		wire_free(f);
		assert_null(pop(c));
		disconnect(c);
	}
	assert_true(ok > 0);
	assert_int_equal(srv->st->ops->account_exists(srv->st, "alice"), 0);
	free(m);
	free(buf);
	free(a.raw);
}

/* a's next list: its devices plus d (a copy of someone's, say), signed by
 * its device 0. *raw: caller frees. */
static void
list_plus(const account *a, const dl_device *d, uint8_t **raw, size_t *rawlen)
{
	dl_list next = a->l;

	dl_hash(next.prev_hash, a->raw, a->rawlen);
	next.version++;
	next.devices[next.n_devices++] = *d;
	assert_int_equal(dl_sign_device(&next, a->dev[0].id, a->dev[0].sec, raw, rawlen), SOTTO_OK);
}

/*
 * Issue 11 items 1 and 7 at the session: a list naming another account's
 * device is refused (DEVICE_TAKEN) on publish and register, so the attacker's
 * next list cannot purge the victim's queue; a list with a low-order key is
 * refused (BAD_KEY); publishes are capped per account; a change is hinted
 * only to followers.
 */
static void
test_device_ownership_and_churn(void **state)
{
	account a, b, m, a2;
	conn *ca, *cb, *cm, *c;
	send_rcpt to_a = { NULL, 1, -1, -1 };
	dl_device bad;
	uint8_t *raw;
	size_t len;
	uint64_t count;
	wire_frame *f;

	(void)state;
	account_new(&a, "alice");
	account_new(&b, "bob");
	account_new(&m, "mallory");
	ca = registered(&a);
	cb = registered(&b);
	cm = registered(&m);
	to_a.a = &a;
	send_msg(cb, 2, 1, "for alice", &to_a, 1);
	mailbox_flush(srv);
	assert_int_equal(status_of(cb, 2), ST(OK));

	/* mallory copies alice's device into her own list: refused */
	list_plus(&m, &a.l.devices[0], &raw, &len);
	publish(cm, 3, raw, len);
	f = response(cm, 3);
	assert_int_equal(f->response->status, ST(DEVICE_TAKEN));
	assert_string_equal(f->response->error, "a device in the list belongs to another account");
	wire_free(f);
	free(raw);
	assert_int_equal(srv->st->ops->copy_count(srv->st, "alice", a.dev[0].id, now_ms(), &count), SOTTO_OK);
	assert_int_equal(count, 1);
	/* nor can alice's device open a second account */
	a2 = a;
	snprintf(a2.handle, sizeof(a2.handle), "alice2");
	snprintf(a2.l.handle, sizeof(a2.l.handle), "alice2");
	assert_int_equal(dl_sign_account(&a2.l, a2.acct_sec, &a2.raw, &a2.rawlen), SOTTO_OK);
	c = connect_();
	{
		char text[23];

		make_invite("alice2", text);
		send_register(c, 4, &a2, text);
	}
	assert_int_equal(status_of(c, 4), ST(DEVICE_TAKEN));
	disconnect(c);
	free(a2.raw);
	drop_captured();

	/* a device with a low-order X25519 key: refused with its own status */
	bad = a.l.devices[0];
	sc_sign_keypair(bad.sig_pub, a2.dev[0].sec);
	sc_device_id(bad.id, bad.sig_pub);
	memset(bad.enc_pub, 0, sizeof(bad.enc_pub));
	bad.enc_pub[0] = 1;
	list_plus(&a, &bad, &raw, &len);
	publish(ca, 5, raw, len);
	assert_int_equal(status_of(ca, 5), ST(BAD_KEY));
	free(raw);

	/* alice adds a device: bob, who sent to her, hears of it; mallory not */
	account_add_device(&a, &raw, &len, 1);
	publish(ca, 6, raw, len);
	assert_int_equal(status_of(ca, 6), ST(OK));
	free(raw);
	f = pop(cb);
	assert_non_null(f);
	assert_int_equal(f->msg_case, SOTTO__WIRE__FRAME__MSG_DEVICE_LIST_CHANGED);
	assert_string_equal(f->device_list_changed->handle, "alice");
	wire_free(f);
	assert_null(pop(cm));

	/* two versions this hour; at most three: one more, then refused */
	srv->cfg.list_publishes_per_hour = 3;
	account_add_device(&a, &raw, &len, 1);
	publish(ca, 7, raw, len);
	assert_int_equal(status_of(ca, 7), ST(OK));
	free(raw);
	account_add_device(&a, &raw, &len, 0);
	publish(ca, 8, raw, len);
	f = response(ca, 8);
	assert_int_equal(f->response->status, ST(RATE_LIMITED));
	assert_non_null(strstr(f->response->error, "at most 3 an hour"));
	wire_free(f);
	free(raw);
	srv->cfg.list_publishes_per_hour = CONFIG_DEFAULT_LIST_PUBLISHES_PER_HOUR;

	/* a connection follows at most SOTTOD_MAX_FOLLOWS handles besides its
	 * own: past it the oldest is forgotten, never its own account */
	for (int i = 0; i < SOTTOD_MAX_FOLLOWS + 1; i++) {
		char h[16];

		snprintf(h, sizeof(h), "h%d", i);
		dir_follow(cm, h);
	}
	assert_int_equal(cm->follow_n, SOTTOD_MAX_FOLLOWS);
	assert_false(dir_follows(cm, "alice"));
	assert_false(dir_follows(cm, "h0"));
	assert_true(dir_follows(cm, "h1"));
	assert_true(dir_follows(cm, "h32"));
	assert_true(dir_follows(cm, "mallory"));
	dir_follow(cm, "h5");	/* already followed: no slot taken */
	assert_true(dir_follows(cm, "h1"));

	disconnect(ca);
	disconnect(cb);
	disconnect(cm);
	free(a.raw);
	free(b.raw);
	free(m.raw);
}

/* A counter of /metrics as rendered now (0 if absent). */
static uint64_t
metric(const char *series)
{
	sbuf b;
	const char *p;
	char key[128];
	uint64_t v = 0;

	sbw_init(&b, 65536);
	assert_int_equal(metrics_render(&b, 0, 0), SOTTO_OK);
	assert_int_equal(sbw_put(&b, "", 1), SOTTO_OK);
	snprintf(key, sizeof(key), "\n%s ", series);
	if ((p = strstr((const char *)b.p, key)) != NULL)
		v = strtoull(p + strlen(key), NULL, 10);
	sbw_free(&b);
	return v;
}

/* The attack of issue 11 item 3: one sender fills a device's mailbox. With a
 * share of 3 copies per sender (queue cap 10), alice's fourth copy is refused
 * with SENDER_SHARE_FULL naming bob, in the batch and after it; carol still
 * gets through and bob gets her message; an ack in the batch makes room for
 * alice again. */
static void
test_sender_share(void **state)
{
	account a, b, cr;
	conn *ca, *cb, *cc;
	wire_frame *f;
	uint64_t count, refused0 = metric("sottod_send_refusals_total{reason=\"sender_share\"}"), seq;
	send_rcpt r[] = { { NULL, 1, -1, -1 } };

	(void)state;
	srv->cfg.mailbox_cap = 10;
	srv->cfg.mailbox_sender_cap = 3;
	account_new(&a, "alice");
	account_new(&b, "bob");
	account_new(&cr, "carol");
	ca = registered(&a);
	cb = registered(&b);
	cc = registered(&cr);
	r[0].a = &b;
	for (uint8_t i = 1; i <= 4; i++)
		send_msg(ca, i, i, "flood", r, 1);
	mailbox_flush(srv);
	for (uint8_t i = 1; i <= 3; i++)
		assert_int_equal(status_of(ca, i), ST(OK));
	f = response(ca, 4);
	assert_int_equal(f->response->status, ST(SENDER_SHARE_FULL));
	assert_string_equal(f->response->handle, "bob");
	assert_non_null(strstr(f->response->error, "share"));
	wire_free(f);
	/* counted from the store in a later batch too */
	send_msg(ca, 5, 5, "flood", r, 1);
	send_msg(cc, 6, 60, "from carol", r, 1);
	mailbox_flush(srv);
	assert_int_equal(status_of(ca, 5), ST(SENDER_SHARE_FULL));
	assert_int_equal(status_of(cc, 6), ST(OK));
	assert_int_equal(metric("sottod_send_refusals_total{reason=\"sender_share\"}"), refused0 + 2);
	assert_int_equal(srv->st->ops->copy_count_sender(srv->st, b.dev[0].id, "alice", now_ms(), &count),
	    SOTTO_OK);
	assert_int_equal(count, 3);
	assert_int_equal(srv->st->ops->copy_count_sender(srv->st, b.dev[0].id, "carol", now_ms(), &count),
	    SOTTO_OK);
	assert_int_equal(count, 1);
	/* bob gets carol's message */
	f = fetch(cb, 7, 0);
	assert_int_equal(f->response->n_deliveries, 4);
	assert_int_equal(f->response->deliveries[3]->envelope.len, strlen("from carol"));
	assert_memory_equal(f->response->deliveries[3]->envelope.data, "from carol", strlen("from carol"));
	seq = f->response->deliveries[0]->seq;
	wire_free(f);
	/* one transaction: bob acks one of alice's, alice's next fits (its share
	 * counted again after the ack), the one after does not */
	ack(cb, 8, &seq, 1);
	send_msg(ca, 9, 9, "fits", r, 1);
	send_msg(ca, 10, 10, "full", r, 1);
	mailbox_flush(srv);
	assert_int_equal(status_of(ca, 9), ST(OK));
	assert_int_equal(status_of(ca, 10), ST(SENDER_SHARE_FULL));
	drop_captured();
	/* the whole queue full (another sender's share is not): MAILBOX_FULL */
	srv->cfg.mailbox_cap = 4;	/* alice 3 + carol 1 queued */
	send_msg(cc, 11, 61, "carol again", r, 1);
	mailbox_flush(srv);
	assert_int_equal(status_of(cc, 11), ST(MAILBOX_FULL));
	(void)cb;
	free(a.raw);
	free(b.raw);
	free(cr.raw);
}

/* Stored bytes per account: alice's copies hold 90 bytes each (10 of
 * envelope, 80 of wrap); a quota of 200 takes two, the third is refused with
 * ACCOUNT_QUOTA_FULL in the same batch and the next; bob's ack frees room;
 * another account is not touched by alice's quota. */
static void
test_account_quota(void **state)
{
	account a, b, cr;
	conn *ca, *cb, *cc;
	wire_frame *f;
	uint64_t bytes, copies, total, refused0 = metric("sottod_send_refusals_total{reason=\"account_quota\"}");
	send_rcpt r[] = { { NULL, 1, -1, -1 } };

	(void)state;
	srv->cfg.account_quota_bytes = 200;
	account_new(&a, "alice");
	account_new(&b, "bob");
	account_new(&cr, "carol");
	ca = registered(&a);
	cb = registered(&b);
	cc = registered(&cr);
	r[0].a = &b;
	send_msg(ca, 1, 1, "0123456789", r, 1);
	send_msg(ca, 2, 2, "0123456789", r, 1);
	send_msg(ca, 3, 3, "0123456789", r, 1);
	mailbox_flush(srv);
	assert_int_equal(status_of(ca, 1), ST(OK));
	assert_int_equal(status_of(ca, 2), ST(OK));
	f = response(ca, 3);
	assert_int_equal(f->response->status, ST(ACCOUNT_QUOTA_FULL));
	assert_non_null(strstr(f->response->error, "quota"));
	wire_free(f);
	assert_int_equal(srv->st->ops->usage_get(srv->st, "alice", &bytes, &copies), SOTTO_OK);
	assert_int_equal(bytes, 180);
	assert_int_equal(copies, 2);
	send_msg(cc, 4, 40, "0123456789", r, 1);
	send_msg(ca, 5, 5, "0123456789", r, 1);
	mailbox_flush(srv);
	assert_int_equal(status_of(cc, 4), ST(OK));
	assert_int_equal(status_of(ca, 5), ST(ACCOUNT_QUOTA_FULL));
	assert_int_equal(metric("sottod_send_refusals_total{reason=\"account_quota\"}"), refused0 + 2);
	assert_int_equal(srv->st->ops->usage_total(srv->st, &total), SOTTO_OK);
	assert_int_equal(total, 270);
	/* bob receives and acks alice's first: in the same batch her send fits */
	{
		uint64_t seq;

		f = fetch(cb, 6, 1);
		seq = f->response->deliveries[0]->seq;
		wire_free(f);
		ack(cb, 7, &seq, 1);
		send_msg(ca, 8, 8, "0123456789", r, 1);
		mailbox_flush(srv);
		assert_int_equal(status_of(ca, 8), ST(OK));
	}
	assert_int_equal(srv->st->ops->usage_get(srv->st, "alice", &bytes, &copies), SOTTO_OK);
	assert_int_equal(bytes, 180);
	drop_captured();
	free(a.raw);
	free(b.raw);
	free(cr.raw);
}

/* The byte rate: one bucket per account, shared by its devices (a second
 * device of alice's meets the same empty bucket), answered at once with
 * RATE_LIMITED; another account has its own. */
static void
test_byte_rate(void **state)
{
	account a, b, cr;
	conn *ca, *ca2, *cc;
	wire_frame *f;
	uint8_t *raw;
	size_t rawlen;
	uint64_t refused0 = metric("sottod_send_refusals_total{reason=\"byte_rate\"}");

	(void)state;
	/* 1 byte a second: nothing refills while the test runs. Alice's sends
	 * store 2 copies of 90 bytes (bob, and her other device). */
	srv->cfg.account_byte_rate = 1;
	srv->cfg.account_byte_burst = 400;
	account_new(&a, "alice");
	account_new(&b, "bob");
	account_new(&cr, "carol");
	ca = registered(&a);
	(void)registered(&b);
	cc = registered(&cr);
	account_add_device(&a, &raw, &rawlen, 1);
	publish(ca, 1, raw, rawlen);
	free(raw);
	assert_int_equal(status_of(ca, 1), ST(OK));
	ca2 = logged_in(&a, 1);
	drop_captured();
	{
		send_rcpt from0[] = { { &b, 1, -1, -1 }, { &a, 2, -1, 0 } };
		send_rcpt from1[] = { { &b, 1, -1, -1 }, { &a, 2, -1, 1 } };
		send_rcpt to_bob[] = { { &b, 1, -1, -1 } };

		send_msg(ca, 2, 2, "0123456789", from0, 2);
		send_msg(ca2, 3, 3, "0123456789", from1, 2);
		/* refused before it is staged: 40 bytes left, 180 needed */
		send_msg(ca, 4, 4, "0123456789", from0, 2);
		f = response(ca, 4);
		assert_int_equal(f->response->status, ST(RATE_LIMITED));
		assert_non_null(strstr(f->response->error, "bytes"));
		wire_free(f);
		send_msg(ca2, 5, 5, "0123456789", from1, 2);
		assert_int_equal(status_of(ca2, 5), ST(RATE_LIMITED));
		send_msg(cc, 6, 6, "0123456789", to_bob, 1);
		mailbox_flush(srv);
		assert_int_equal(status_of(ca, 2), ST(OK));
		assert_int_equal(status_of(ca2, 3), ST(OK));
		assert_int_equal(status_of(cc, 6), ST(OK));
	}
	assert_int_equal(metric("sottod_send_refusals_total{reason=\"byte_rate\"}"), refused0 + 2);
	drop_captured();
	free(a.raw);
	free(b.raw);
	free(cr.raw);
}

/* The sender's own other devices are held to mailbox_cap, not to a share: a
 * device of alice's offline for long does not stop alice from sending. */
static void
test_own_devices_no_share(void **state)
{
	account a;
	conn *ca;
	uint8_t *raw;
	size_t rawlen;
	send_rcpt own[] = { { NULL, 2, -1, 0 } };

	(void)state;
	srv->cfg.mailbox_sender_cap = 1;
	srv->cfg.mailbox_cap = 3;
	account_new(&a, "alice");
	ca = registered(&a);
	account_add_device(&a, &raw, &rawlen, 1);
	publish(ca, 1, raw, rawlen);
	free(raw);
	assert_int_equal(status_of(ca, 1), ST(OK));
	drop_captured();
	own[0].a = &a;
	for (uint8_t i = 2; i <= 5; i++)
		send_msg(ca, i, i, "note to self", own, 1);
	mailbox_flush(srv);
	assert_int_equal(status_of(ca, 2), ST(OK));
	assert_int_equal(status_of(ca, 3), ST(OK));
	assert_int_equal(status_of(ca, 4), ST(OK));
	assert_int_equal(status_of(ca, 5), ST(MAILBOX_FULL));
	drop_captured();
	free(a.raw);
}

/* Recovery step 2 on a fresh connection: raw (version n+1, signed by the
 * account key) with the auth message signed by its one device (dev_sec). */
static void
send_recover(conn *c, uint64_t id, const char *handle, const uint8_t *raw, size_t len,
    const uint8_t dev_sec[SC_SIGN_SEC])
{
	Sotto__Wire__RecoverRequest rq = SOTTO__WIRE__RECOVER_REQUEST__INIT;
	wire_frame f = SOTTO__WIRE__FRAME__INIT;
	uint8_t sig[SC_SIG];

	sign_auth(sig, c, handle, dev_sec);
	rq.handle = (char *)handle;
	rq.device_list.data = (uint8_t *)raw;
	rq.device_list.len = len;
	rq.signature.data = sig;
	rq.signature.len = SC_SIG;
	f.id = id;
	f.msg_case = SOTTO__WIRE__FRAME__MSG_RECOVER;
	f.recover = &rq;
	deliver(c, &f);
}

/* The recovery list after a's current one: d alone, signed by the account key. */
static void
recovery_list(const account *a, const dl_device *d, uint8_t **raw, size_t *rawlen)
{
	dl_list next = a->l;

	dl_hash(next.prev_hash, a->raw, a->rawlen);
	next.version++;
	next.n_devices = 1;
	next.devices[0] = *d;
	memset(next.devices[0].approved_by, 0, SC_DEVICE_ID);
	assert_int_equal(dl_sign_account(&next, a->acct_sec, raw, rawlen), SOTTO_OK);
}

/*
 * The attack pass on the third publish path: a recovery list is held to the
 * same rules as a publish. A new device with a low-order X25519 key is
 * BAD_KEY, another account's device is DEVICE_TAKEN, and the holder of the
 * recovery code cannot publish without bound by recovering in a loop: at
 * most twice list_publishes_per_hour versions an hour (before: no count).
 */
static void
test_recovery_rules(void **state)
{
	account a, m;
	conn *c;
	dl_device nd;
	uint8_t nd_sec[SC_SIGN_SEC], kx_sec[SC_KX_SEC], *raw;
	size_t len;
	wire_frame *f;

	(void)state;
	account_new(&a, "alice");
	account_new(&m, "mallory");
	disconnect(registered(&a));
	disconnect(registered(&m));

	/* a low-order X25519 key on the new device */
	memset(&nd, 0, sizeof(nd));
	sc_sign_keypair(nd.sig_pub, nd_sec);
	sc_device_id(nd.id, nd.sig_pub);
	snprintf(nd.name, sizeof(nd.name), "new");
	nd.enc_pub[0] = 1;
	recovery_list(&a, &nd, &raw, &len);
	c = connect_();
	send_recover(c, 1, "alice", raw, len, nd_sec);
	assert_int_equal(status_of(c, 1), ST(BAD_KEY));
	disconnect(c);
	free(raw);

	/* mallory's device as alice's new one (mallory holds its key) */
	recovery_list(&a, &m.l.devices[0], &raw, &len);
	c = connect_();
	send_recover(c, 2, "alice", raw, len, m.dev[0].sec);
	assert_int_equal(status_of(c, 2), ST(DEVICE_TAKEN));
	disconnect(c);
	free(raw);

	/* cap 1: version 1 this hour; recoveries until twice that, then refused */
	srv->cfg.list_publishes_per_hour = 1;
	sc_kx_keypair(nd.enc_pub, kx_sec);
	recovery_list(&a, &nd, &raw, &len);
	c = connect_();
	send_recover(c, 3, "alice", raw, len, nd_sec);
	assert_int_equal(status_of(c, 3), ST(OK));
	disconnect(c);
	free(a.raw);
	a.raw = raw;
	a.rawlen = len;
	assert_int_equal(dl_parse(&a.l, raw, len), SOTTO_OK);
	recovery_list(&a, &nd, &raw, &len);
	c = connect_();
	send_recover(c, 4, "alice", raw, len, nd_sec);
	f = response(c, 4);
	assert_int_equal(f->response->status, ST(RATE_LIMITED));
	wire_free(f);
	disconnect(c);
	free(raw);
	srv->cfg.list_publishes_per_hour = CONFIG_DEFAULT_LIST_PUBLISHES_PER_HOUR;
	free(a.raw);
	free(m.raw);
}

/* ---- a store that fails its commit (issue 11, item 14) ---- */

static const store_ops *real_ops;

static int
commit_fails(store *st)
{
	real_ops->rollback(st);
	return SOTTO_ERR_DB;
}

static int
begin_fails(store *st)
{
	(void)st;
	return SOTTO_ERR_DB;
}

static int
copy_add_fails(store *st, const char *acct, const store_copy *c, uint64_t *seq)
{
	(void)st;
	(void)acct;
	(void)c;
	*seq = 0;
	return SOTTO_ERR_DB;
}

static int
copy_ack_fails(store *st, const char *acct, const uint8_t device_id[SC_DEVICE_ID],
    const uint64_t *seqs, size_t n, size_t *deleted)
{
	(void)st;
	(void)acct;
	(void)device_id;
	(void)seqs;
	(void)n;
	*deleted = 0;
	return SOTTO_ERR_DB;
}

/* A batch whose commit (or begin, or one of its writes) fails is answered
 * with an error, every op of it: a send acknowledged but not stored would be
 * mail lost without a word. */
static void
test_failed_commit(void **state)
{
	static store_ops failing;
	account a, b;
	conn *ca, *cb;
	wire_frame *f;
	uint64_t seq;

	(void)state;
	account_new(&a, "alice");
	account_new(&b, "bob");
	ca = registered(&a);
	cb = registered(&b);
	real_ops = srv->st->ops;
	{
		send_rcpt r[] = { { &b, 1, -1, -1 } };

		for (int how = 0; how < 3; how++) {
			failing = *real_ops;
			if (how == 0)
				failing.commit = commit_fails;
			else if (how == 1)
				failing.begin = begin_fails;
			else
				failing.copy_add = copy_add_fails;
			srv->st->ops = &failing;
			send_msg(ca, 1, 1, "lost?", r, 1);
			mailbox_flush(srv);
			srv->st->ops = real_ops;
			f = response(ca, 1);
			assert_int_not_equal(f->response->status, ST(OK));
			wire_free(f);
			/* Nothing stored. (Early delivery may have pushed it to the
			 * fetching bob before the failure: documented in server/early.c,
			 * the retry's msg id is dropped as a repeat.) */
			while ((f = pop(cb)) != NULL) {
				assert_int_equal(f->msg_case, SOTTO__WIRE__FRAME__MSG_DELIVERY);
				wire_free(f);
			}
			f = fetch(cb, 2, 0);
			assert_int_equal(f->response->n_deliveries, 0);
			wire_free(f);
		}
		/* the same send with a working store: stored, answered OK */
		send_msg(ca, 3, 1, "stored", r, 1);
		mailbox_flush(srv);
		assert_int_equal(status_of(ca, 3), ST(OK));
	}
	drop_captured();
	f = fetch(cb, 4, 0);
	assert_int_equal(f->response->n_deliveries, 1);
	seq = f->response->deliveries[0]->seq;
	wire_free(f);
	/* an ack whose commit or delete fails is not OK, and the copy is still there */
	for (int how = 0; how < 2; how++) {
		failing = *real_ops;
		if (how == 0)
			failing.commit = commit_fails;
		else
			failing.copy_ack = copy_ack_fails;
		srv->st->ops = &failing;
		ack(cb, 5, &seq, 1);
		mailbox_flush(srv);
		srv->st->ops = real_ops;
		assert_int_not_equal(status_of(cb, 5), ST(OK));
		f = fetch(cb, 6, 0);
		assert_int_equal(f->response->n_deliveries, 1);
		wire_free(f);
	}
	free(a.raw);
	free(b.raw);
}

/* The authentication signature covers this server's pin and this
 * connection's nonce: one made for another server (another pin: a relay that
 * replays it) or another connection is refused. */
static void
test_auth_binds_pin_and_nonce(void **state)
{
	Sotto__Wire__AuthRequest rq = SOTTO__WIRE__AUTH_REQUEST__INIT;
	wire_frame fr = SOTTO__WIRE__FRAME__INIT;
	uint8_t msg[WIRE_AUTH_MSG_MAX], sig[SC_SIG], pin[32], nonce[WIRE_NONCE_LEN];
	account a;
	conn *c;
	size_t n;

	(void)state;
	account_new(&a, "alice");
	disconnect(registered(&a));
	for (int how = 0; how < 3; how++) {
		c = connect_();
		memcpy(pin, srv->pin, sizeof(pin));
		memcpy(nonce, c->nonce, sizeof(nonce));
		if (how == 0)
			pin[31] ^= 1;		/* another server's pin */
		else if (how == 1)
			nonce[0] ^= 1;		/* another connection's nonce */
		n = wire_auth_message(msg, pin, nonce, a.handle);
		sc_sign(sig, msg, n, a.dev[0].sec);
		rq.handle = a.handle;
		rq.device_id.data = a.dev[0].id;
		rq.device_id.len = SC_DEVICE_ID;
		rq.signature.data = sig;
		rq.signature.len = SC_SIG;
		fr.id = 1;
		fr.msg_case = SOTTO__WIRE__FRAME__MSG_AUTH;
		fr.auth = &rq;
		deliver(c, &fr);
		assert_int_equal(status_of(c, 1), how == 2 ? ST(OK) : ST(UNAUTHENTICATED));
		disconnect(c);
	}
	free(a.raw);
}

/* A version past the last one clients follow (caps.h) is refused at the one
 * publish path, so the owner hears it and the account stays reachable. */
static void
test_last_list_version(void **state)
{
	account a;
	dl_list next;
	uint8_t *raw = NULL;
	size_t len = 0;
	uint64_t v = 0;

	(void)state;
	account_new(&a, "alice");
	disconnect(registered(&a));
	next = a.l;
	dl_hash(next.prev_hash, a.raw, a.rawlen);
	next.version = SOTTO_CLIENT_MAX_LIST_VERSIONS + 1;
	assert_int_equal(dl_sign_device(&next, a.dev[0].id, a.dev[0].sec, &raw, &len), SOTTO_OK);
	assert_int_equal(srv->st->ops->begin(srv->st), SOTTO_OK);
	assert_int_equal(dir_list_commit(srv, &a.l, &next, raw, len, NULL), SOTTO_ERR_TOO_LARGE);
	assert_int_equal(dir_list_status(SOTTO_ERR_TOO_LARGE), ST(TOO_LARGE));
	free(raw);
	raw = NULL;
	assert_int_equal(srv->st->ops->list_current(srv->st, "alice", &raw, &len, &v), SOTTO_OK);
	assert_int_equal(v, 1);
	free(raw);
	free(a.raw);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_register_and_invites, setup, teardown),
		cmocka_unit_test_setup_teardown(test_register_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_auth, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_frames, setup, teardown),
		cmocka_unit_test_setup_teardown(test_directory_and_publish, setup, teardown),
		cmocka_unit_test_setup_teardown(test_send_fetch_ack_push, setup, teardown),
		cmocka_unit_test_setup_teardown(test_group_commit_and_cap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_send_fetch_ack_push, setup_early, teardown),
		cmocka_unit_test_setup_teardown(test_directory_and_publish, setup_early, teardown),
		cmocka_unit_test_setup_teardown(test_group_commit_and_cap, setup_early, teardown),
		cmocka_unit_test_setup_teardown(test_early_delivery, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fetch_fits_frame, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mutated_register, setup, teardown),
		cmocka_unit_test_setup_teardown(test_device_ownership_and_churn, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sender_share, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sender_share, setup_early, teardown),
		cmocka_unit_test_setup_teardown(test_account_quota, setup, teardown),
		cmocka_unit_test_setup_teardown(test_byte_rate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_own_devices_no_share, setup, teardown),
		cmocka_unit_test_setup_teardown(test_recovery_rules, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failed_commit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failed_commit, setup_early, teardown),
		cmocka_unit_test_setup_teardown(test_auth_binds_pin_and_nonce, setup, teardown),
		cmocka_unit_test_setup_teardown(test_last_list_version, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
