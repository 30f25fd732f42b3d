/* SPDX-License-Identifier: ISC */
/*
 * Access control, request by request, and the rate limits (server/ratelimit.c)
 * as sottod applies them: every request type of proto/sotto.proto tried by
 * someone who must not get what it asks for — unauthenticated, as another
 * device, as a removed device, against another account's queue, with a
 * replayed or stale challenge signature, with a spent invite. In process, as
 * test_server_session.c does: this file supplies net.c's functions and
 * captures every frame the server sends.
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
#include "ratelimit.h"
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

static captured cap[256];
static size_t n_cap;

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
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/sotto-access-XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	snprintf(dbpath, sizeof(dbpath), "%s/sottod.db", tmpdir);
	assert_non_null(srv = calloc(1, sizeof(*srv)));
	config_defaults(&srv->cfg);
	srv->cfg.registration_open = 1;
	sc_random(srv->pin, sizeof(srv->pin));
	assert_int_equal(store_sqlite_open(&srv->st, dbpath), SOTTO_OK);
	assert_int_equal(limits_new(&srv->lim, &srv->cfg, 1), SOTTO_OK);
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
	limits_free(srv->lim);
	srv->st->ops->close(srv->st);
	mailbox_free(srv);
	free(srv);
	snprintf(p, sizeof(p), "%s-wal", dbpath);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", dbpath);
	unlink(p);
	unlink(dbpath);
	rmdir(tmpdir);
	return 0;
}

/* New limits from the (edited) configuration. */
static void
relimit(void)
{
	limits_free(srv->lim);
	assert_int_equal(limits_new(&srv->lim, &srv->cfg, 1), SOTTO_OK);
}

/* ---- accounts, as a client holds them ---- */

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
	uint8_t *raw;
	size_t rawlen;
} account;

static void
new_device(dl_device *d, device *dv, const char *name)
{
	uint8_t kx_sec[SC_KX_SEC];

	memset(d, 0, sizeof(*d));
	sc_sign_keypair(d->sig_pub, dv->sec);
	sc_kx_keypair(d->enc_pub, kx_sec);
	sc_device_id(d->id, d->sig_pub);
	memcpy(dv->id, d->id, SC_DEVICE_ID);
	snprintf(d->name, sizeof(d->name), "%s", name);
}

static void
account_new(account *a, const char *handle)
{
	memset(a, 0, sizeof(*a));
	snprintf(a->handle, sizeof(a->handle), "%s", handle);
	sc_sign_keypair(a->acct_pub, a->acct_sec);
	snprintf(a->l.handle, sizeof(a->l.handle), "%s", handle);
	memcpy(a->l.account_pub, a->acct_pub, SC_SIGN_PUB);
	a->l.version = 1;
	a->l.created_at = now_ms();
	new_device(&a->l.devices[a->l.n_devices++], &a->dev[0], "first");
	a->n_dev = 1;
	assert_int_equal(dl_sign_account(&a->l, a->acct_sec, &a->raw, &a->rawlen), SOTTO_OK);
}

/* The next version (signed by device 0) with a new device, or without
 * device drop (> 0); made current. Returns the signed bytes (caller frees). */
static uint8_t *
account_next(account *a, int drop, size_t *len)
{
	dl_list next = a->l;
	uint8_t *raw;

	dl_hash(next.prev_hash, a->raw, a->rawlen);
	next.version++;
	if (drop > 0) {
		memmove(&next.devices[drop], &next.devices[drop + 1],
		    (next.n_devices - (size_t)drop - 1) * sizeof(next.devices[0]));
		next.n_devices--;
	} else {
		new_device(&next.devices[next.n_devices], &a->dev[a->n_dev], "another");
		memcpy(next.devices[next.n_devices].approved_by, a->dev[0].id, SC_DEVICE_ID);
		next.n_devices++;
		a->n_dev++;
	}
	assert_int_equal(dl_sign_device(&next, a->dev[0].id, a->dev[0].sec, &raw, len), SOTTO_OK);
	a->l = next;
	free(a->raw);
	assert_non_null(a->raw = malloc(*len));
	memcpy(a->raw, raw, *len);
	a->rawlen = *len;
	return raw;
}

static conn *
connect_from(const char *peer)
{
	conn *c = calloc(1, sizeof(*c));
	wire_frame *f;

	assert_non_null(c);
	c->srv = srv;
	c->wsi = (void *)c;
	c->refs = 1;
	c->serial = ++srv->next_serial;
	snprintf(c->peer, sizeof(c->peer), "%s", peer);
	c->next = srv->conns;
	if (srv->conns != NULL)
		srv->conns->prev = c;
	srv->conns = c;
	srv->n_conns++;
	session_open(c);
	assert_non_null(f = pop(c));
	assert_int_equal(f->msg_case, SOTTO__WIRE__FRAME__MSG_CHALLENGE);
	wire_free(f);
	return c;
}

static conn *
connect_(void)
{
	return connect_from("127.0.0.1");
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

/* Status of the answer to id, which must carry text containing want. */
static void
expect_text(conn *c, uint64_t id, Sotto__Wire__Status st, const char *want)
{
	wire_frame *f = response(c, id);

	assert_int_equal(f->response->status, st);
	assert_non_null(f->response->error);
	assert_non_null(strstr(f->response->error, want));
	wire_free(f);
}

/* The auth message for the nonce of c, signed with sec. */
static void
sign_nonce(uint8_t sig[SC_SIG], const uint8_t nonce[WIRE_NONCE_LEN], const char *handle,
    const uint8_t sec[SC_SIGN_SEC])
{
	uint8_t msg[WIRE_AUTH_MSG_MAX];
	size_t n = wire_auth_message(msg, srv->pin, nonce, handle);

	sc_sign(sig, msg, n, sec);
}

static void
send_auth_sig(conn *c, uint64_t id, const char *handle, const uint8_t did[SC_DEVICE_ID], const uint8_t sig[SC_SIG])
{
	Sotto__Wire__AuthRequest rq = SOTTO__WIRE__AUTH_REQUEST__INIT;
	wire_frame f = SOTTO__WIRE__FRAME__INIT;

	rq.handle = (char *)handle;
	rq.device_id.data = (uint8_t *)did;
	rq.device_id.len = SC_DEVICE_ID;
	rq.signature.data = (uint8_t *)sig;
	rq.signature.len = SC_SIG;
	f.id = id;
	f.msg_case = SOTTO__WIRE__FRAME__MSG_AUTH;
	f.auth = &rq;
	deliver(c, &f);
}

static void
send_auth(conn *c, uint64_t id, const char *handle, const uint8_t did[SC_DEVICE_ID], const uint8_t sec[SC_SIGN_SEC])
{
	uint8_t sig[SC_SIG];

	sign_nonce(sig, c->nonce, handle, sec);
	send_auth_sig(c, id, handle, did, sig);
}

static void
send_register(conn *c, uint64_t id, const account *a, const char *secret, const uint8_t *sig_over)
{
	Sotto__Wire__RegisterRequest rq = SOTTO__WIRE__REGISTER_REQUEST__INIT;
	wire_frame f = SOTTO__WIRE__FRAME__INIT;
	uint8_t sig[SC_SIG];

	sign_nonce(sig, sig_over != NULL ? sig_over : c->nonce, a->handle, a->dev[0].sec);
	rq.invite_secret = (char *)secret;
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

static conn *
registered(account *a)
{
	conn *c = connect_();

	send_register(c, 1, a, "", NULL);
	assert_int_equal(status_of(c, 1), ST(OK));
	return c;
}

static conn *
logged_in(const account *a, size_t dev)
{
	conn *c = connect_();

	send_auth(c, 7, a->handle, a->dev[dev].id, a->dev[dev].sec);
	assert_int_equal(status_of(c, 7), ST(OK));
	return c;
}

static void
get_list(conn *c, uint64_t id, const char *handle)
{
	Sotto__Wire__GetDeviceListRequest rq = SOTTO__WIRE__GET_DEVICE_LIST_REQUEST__INIT;
	wire_frame f = SOTTO__WIRE__FRAME__INIT;

	rq.handle = (char *)handle;
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

/* A send from c to every device of a (version v), msg id byte m. */
static void
send_to(conn *c, uint64_t id, uint8_t m, const account *a)
{
	Sotto__Wire__SendRequest rq = SOTTO__WIRE__SEND_REQUEST__INIT;
	Sotto__Wire__Recipient r = SOTTO__WIRE__RECIPIENT__INIT, *rp = &r;
	Sotto__Wire__Copy cs[4], *cp[4];
	wire_frame f = SOTTO__WIRE__FRAME__INIT;
	uint8_t msg_id[16], wrap[80], ids[4][SC_DEVICE_ID];

	memset(msg_id, m, sizeof(msg_id));
	memset(wrap, m, sizeof(wrap));
	r.handle = (char *)a->handle;
	r.list_version = a->l.version;
	for (size_t i = 0; i < a->l.n_devices; i++) {
		sotto__wire__copy__init(&cs[i]);
		memcpy(ids[i], a->l.devices[i].id, SC_DEVICE_ID);
		cs[i].device_id.data = ids[i];
		cs[i].device_id.len = SC_DEVICE_ID;
		cs[i].wrap.data = wrap;
		cs[i].wrap.len = sizeof(wrap);
		cp[i] = &cs[i];
	}
	r.n_copies = a->l.n_devices;
	r.copies = cp;
	rq.msg_id.data = msg_id;
	rq.msg_id.len = sizeof(msg_id);
	rq.envelope.data = wrap;
	rq.envelope.len = sizeof(wrap);
	rq.n_recipients = 1;
	rq.recipients = &rp;
	f.id = id;
	f.msg_case = SOTTO__WIRE__FRAME__MSG_SEND;
	f.send = &rq;
	deliver(c, &f);
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
fetch(conn *c, uint64_t id)
{
	Sotto__Wire__FetchRequest rq = SOTTO__WIRE__FETCH_REQUEST__INIT;
	wire_frame f = SOTTO__WIRE__FRAME__INIT;

	f.id = id;
	f.msg_case = SOTTO__WIRE__FRAME__MSG_FETCH;
	f.fetch = &rq;
	deliver(c, &f);
}

static void
rq_link_post(conn *c, uint64_t id, const uint8_t rid[WIRE_RENDEZVOUS_LEN], uint32_t slot)
{
	Sotto__Wire__LinkPostRequest rq = SOTTO__WIRE__LINK_POST_REQUEST__INIT;
	wire_frame f = SOTTO__WIRE__FRAME__INIT;
	uint8_t blob[64];

	memset(blob, 0x5a, sizeof(blob));
	rq.rendezvous_id.data = (uint8_t *)rid;
	rq.rendezvous_id.len = WIRE_RENDEZVOUS_LEN;
	rq.slot = slot;
	rq.blob.data = blob;
	rq.blob.len = sizeof(blob);
	f.id = id;
	f.msg_case = SOTTO__WIRE__FRAME__MSG_LINK_POST;
	f.link_post = &rq;
	deliver(c, &f);
}

static void
rq_link_get(conn *c, uint64_t id, const uint8_t rid[WIRE_RENDEZVOUS_LEN], uint32_t slot)
{
	Sotto__Wire__LinkGetRequest rq = SOTTO__WIRE__LINK_GET_REQUEST__INIT;
	wire_frame f = SOTTO__WIRE__FRAME__INIT;

	rq.rendezvous_id.data = (uint8_t *)rid;
	rq.rendezvous_id.len = WIRE_RENDEZVOUS_LEN;
	rq.slot = slot;
	f.id = id;
	f.msg_case = SOTTO__WIRE__FRAME__MSG_LINK_GET;
	f.link_get = &rq;
	deliver(c, &f);
}

static void
recover(conn *c, uint64_t id, const char *handle, const uint8_t sig[SC_SIG])
{
	Sotto__Wire__RecoverRequest rq = SOTTO__WIRE__RECOVER_REQUEST__INIT;
	wire_frame f = SOTTO__WIRE__FRAME__INIT;

	rq.handle = (char *)handle;
	rq.signature.data = (uint8_t *)sig;
	rq.signature.len = SC_SIG;
	f.id = id;
	f.msg_case = SOTTO__WIRE__FRAME__MSG_RECOVER;
	f.recover = &rq;
	deliver(c, &f);
}

/* Step 2 of a recovery: a's current list (one device, signed by its
 * account key), and the nonce signed by that device. */
static void
recover_list(conn *c, uint64_t id, const account *a)
{
	Sotto__Wire__RecoverRequest rq = SOTTO__WIRE__RECOVER_REQUEST__INIT;
	wire_frame f = SOTTO__WIRE__FRAME__INIT;
	uint8_t sig[SC_SIG];

	sign_nonce(sig, c->nonce, a->handle, a->dev[0].sec);
	rq.handle = (char *)a->handle;
	rq.signature.data = sig;
	rq.signature.len = SC_SIG;
	rq.device_list.data = a->raw;
	rq.device_list.len = a->rawlen;
	f.id = id;
	f.msg_case = SOTTO__WIRE__FRAME__MSG_RECOVER;
	f.recover = &rq;
	deliver(c, &f);
}

/* The answer to id: status and text, for comparing two answers. */
static void
answer_of(conn *c, uint64_t id, Sotto__Wire__Status *st, char *text, size_t len)
{
	wire_frame *f = response(c, id);

	*st = f->response->status;
	snprintf(text, len, "%s", f->response->error != NULL ? f->response->error : "");
	wire_free(f);
}

static uint64_t
copies_of(const char *handle, const uint8_t id[SC_DEVICE_ID])
{
	uint64_t n = 0;

	assert_int_equal(srv->st->ops->copy_count(srv->st, handle, id, now_ms(), &n), SOTTO_OK);
	return n;
}

/* ---- tests ---- */

/* Every request that needs a device, before authenticating: refused, named. */
static void
test_unauthenticated(void **state)
{
	account a;
	conn *c;
	uint8_t rid[WIRE_RENDEZVOUS_LEN], *raw;
	size_t len;
	uint64_t seq = 1;

	(void)state;
	account_new(&a, "alice");
	disconnect(registered(&a));
	c = connect_();
	get_list(c, 1, "alice");
	expect_text(c, 1, ST(UNAUTHENTICATED), "authenticate first");
	send_to(c, 2, 2, &a);
	expect_text(c, 2, ST(UNAUTHENTICATED), "authenticate first");
	ack(c, 3, &seq, 1);
	expect_text(c, 3, ST(UNAUTHENTICATED), "authenticate first");
	fetch(c, 4);
	expect_text(c, 4, ST(UNAUTHENTICATED), "authenticate first");
	raw = account_next(&a, 0, &len);
	publish(c, 5, raw, len);
	expect_text(c, 5, ST(UNAUTHENTICATED), "authenticate first");
	free(raw);
	/* Only a device of an account may answer a link offer. */
	sc_random(rid, sizeof(rid));
	rq_link_post(c, 6, rid, WIRE_LINK_ANSWER);
	expect_text(c, 6, ST(UNAUTHENTICATED), "authenticate first");
	/* An offer and a look at a slot are open by design (the new device has
	 * no key the server knows); they are rate limited per connection. */
	rq_link_post(c, 7, rid, WIRE_LINK_OFFER);
	assert_int_equal(status_of(c, 7), ST(OK));
	rq_link_get(c, 8, rid, WIRE_LINK_ANSWER);
	assert_int_equal(status_of(c, 8), ST(OK));
	/* So is the pickup (MACed: only the approver can check it). */
	rq_link_post(c, 9, rid, WIRE_LINK_PICKUP);
	assert_int_equal(status_of(c, 9), ST(OK));
	rq_link_get(c, 10, rid, WIRE_LINK_PICKUP);
	assert_int_equal(status_of(c, 10), ST(OK));
	assert_false(c->closing);
	/* No slot past the pickup: the frame does not even decode. */
	rq_link_post(c, 11, rid, WIRE_LINK_PICKUP + 1);
	assert_int_equal(status_of(c, 0), ST(BAD_REQUEST));
	assert_true(c->closing);
	/* Nothing was published or stored by any of it. */
	{
		dl_list cur;

		assert_int_equal(dir_current(srv->st, "alice", &cur, NULL, NULL), SOTTO_OK);
		assert_int_equal(cur.version, 1);
	}
	disconnect(c);
	free(a.raw);
}

/* Authentication as a device the signer does not hold. */
static void
test_wrong_device(void **state)
{
	account a, m;
	conn *c;
	uint8_t sig[SC_SIG];

	(void)state;
	account_new(&a, "alice");
	account_new(&m, "mallory");
	disconnect(registered(&a));
	disconnect(registered(&m));
	/* alice's handle, mallory's device id, signed by mallory's key */
	c = connect_();
	send_auth(c, 1, "alice", m.dev[0].id, m.dev[0].sec);
	expect_text(c, 1, ST(UNAUTHENTICATED), "unknown handle or device");
	assert_true(c->closing);
	disconnect(c);
	/* alice's device id, signed by mallory's key */
	c = connect_();
	send_auth(c, 2, "alice", a.dev[0].id, m.dev[0].sec);
	expect_text(c, 2, ST(UNAUTHENTICATED), "bad signature");
	disconnect(c);
	/* mallory's own device under alice's handle name */
	c = connect_();
	send_auth(c, 3, "mallory", a.dev[0].id, a.dev[0].sec);
	assert_int_equal(status_of(c, 3), ST(UNAUTHENTICATED));
	disconnect(c);
	/* recovery of alice signed with mallory's account key */
	c = connect_();
	sign_nonce(sig, c->nonce, "alice", m.acct_sec);
	recover(c, 4, "alice", sig);
	assert_int_equal(status_of(c, 4), ST(UNAUTHENTICATED));
	assert_true(c->closing);
	disconnect(c);
	/* mallory, logged in, publishes a list for alice */
	c = logged_in(&m, 0);
	{
		size_t len;
		uint8_t *raw = account_next(&a, 0, &len);

		publish(c, 5, raw, len);
		expect_text(c, 5, ST(FORBIDDEN), "another handle");
		free(raw);
	}
	disconnect(c);
	free(a.raw);
	free(m.raw);
}

/* A removed device: its connection closes, its queue goes, it cannot return. */
static void
test_removed_device(void **state)
{
	account a, b;
	conn *ca, *ca1, *cb, *c;
	uint8_t *raw, removed[SC_DEVICE_ID], removed_sec[SC_SIGN_SEC];
	size_t len;

	(void)state;
	account_new(&a, "alice");
	account_new(&b, "bob");
	ca = registered(&a);
	cb = registered(&b);
	raw = account_next(&a, 0, &len);
	publish(ca, 1, raw, len);
	assert_int_equal(status_of(ca, 1), ST(OK));
	free(raw);
	drop_captured();	/* the DeviceListChanged hints */
	ca1 = logged_in(&a, 1);
	memcpy(removed, a.dev[1].id, SC_DEVICE_ID);
	memcpy(removed_sec, a.dev[1].sec, SC_SIGN_SEC);
	/* bob sends to both of alice's devices: one copy is queued for each */
	send_to(cb, 2, 2, &a);
	mailbox_flush(srv);
	assert_int_equal(status_of(cb, 2), ST(OK));
	assert_int_equal(copies_of("alice", removed), 1);
	drop_captured();
	/* alice's first device removes the second */
	raw = account_next(&a, 1, &len);
	publish(ca, 3, raw, len);
	assert_int_equal(status_of(ca, 3), ST(OK));
	free(raw);
	assert_true(ca1->closing);
	assert_int_equal(copies_of("alice", removed), 0);
	assert_int_equal(copies_of("alice", a.dev[0].id), 1);
	disconnect(ca1);
	/* it cannot authenticate again */
	c = connect_();
	send_auth(c, 4, "alice", removed, removed_sec);
	expect_text(c, 4, ST(UNAUTHENTICATED), "unknown handle or device");
	disconnect(c);
	/* a send to the old list (with the removed device) is refused as stale */
	{
		account old = a;

		old.l.version = 2;
		old.l.n_devices = 2;
		memcpy(old.l.devices[1].id, removed, SC_DEVICE_ID);
		drop_captured();
		send_to(cb, 5, 5, &old);
		assert_int_equal(status_of(cb, 5), ST(STALE_DEVICE_LIST));
	}
	disconnect(ca);
	disconnect(cb);
	free(a.raw);
	free(b.raw);
}

/* Another account's queue: neither readable nor deletable. */
static void
test_other_queue(void **state)
{
	account b, m;
	conn *cb, *cm;
	wire_frame *f;
	uint64_t seqs[2];

	(void)state;
	account_new(&b, "bob");
	account_new(&m, "mallory");
	cb = registered(&b);
	cm = registered(&m);
	send_to(cm, 1, 1, &b);
	send_to(cm, 2, 2, &b);
	mailbox_flush(srv);
	assert_int_equal(status_of(cm, 1), ST(OK));
	assert_int_equal(status_of(cm, 2), ST(OK));
	/* mallory fetches: only her own (empty) queue */
	fetch(cm, 3);
	f = response(cm, 3);
	assert_int_equal(f->response->status, ST(OK));
	assert_int_equal(f->response->n_deliveries, 0);
	wire_free(f);
	/* bob's seqs, from bob's fetch */
	fetch(cb, 4);
	f = response(cb, 4);
	assert_int_equal(f->response->n_deliveries, 2);
	seqs[0] = f->response->deliveries[0]->seq;
	seqs[1] = f->response->deliveries[1]->seq;
	wire_free(f);
	/* mallory acks them: answered OK (acks are idempotent), nothing deleted */
	ack(cm, 5, seqs, 2);
	mailbox_flush(srv);
	assert_int_equal(status_of(cm, 5), ST(OK));
	assert_int_equal(copies_of("bob", b.dev[0].id), 2);
	/* bob's own ack deletes them */
	ack(cb, 6, seqs, 2);
	mailbox_flush(srv);
	assert_int_equal(status_of(cb, 6), ST(OK));
	assert_int_equal(copies_of("bob", b.dev[0].id), 0);
	disconnect(cb);
	disconnect(cm);
	free(b.raw);
	free(m.raw);
}

/* A challenge signature is good for its own connection once, never again. */
static void
test_replayed_challenge(void **state)
{
	account a, n;
	conn *c1, *c2;
	uint8_t sig[SC_SIG], old_nonce[WIRE_NONCE_LEN];

	(void)state;
	account_new(&a, "alice");
	disconnect(registered(&a));
	/* A signature over connection 1's nonce, replayed on connection 2. */
	c1 = connect_();
	memcpy(old_nonce, c1->nonce, WIRE_NONCE_LEN);
	sign_nonce(sig, c1->nonce, "alice", a.dev[0].sec);
	send_auth_sig(c1, 1, "alice", a.dev[0].id, sig);
	assert_int_equal(status_of(c1, 1), ST(OK));
	c2 = connect_();
	assert_memory_not_equal(c2->nonce, old_nonce, WIRE_NONCE_LEN);
	send_auth_sig(c2, 2, "alice", a.dev[0].id, sig);
	expect_text(c2, 2, ST(UNAUTHENTICATED), "bad signature");
	assert_true(c2->closing);
	/* on the spent connection, nothing more is answered */
	send_auth_sig(c2, 3, "alice", a.dev[0].id, sig);
	assert_null(pop(c2));
	disconnect(c2);
	/* a second Auth on the authenticated connection: refused */
	send_auth_sig(c1, 4, "alice", a.dev[0].id, sig);
	expect_text(c1, 4, ST(BAD_REQUEST), "already authenticated");
	disconnect(c1);
	/* A stale recovery signature (an earlier connection's nonce). */
	c1 = connect_();
	sign_nonce(sig, old_nonce, "alice", a.acct_sec);
	recover(c1, 5, "alice", sig);
	assert_int_equal(status_of(c1, 5), ST(UNAUTHENTICATED));
	disconnect(c1);
	/* A register signed over another connection's nonce. */
	account_new(&n, "newcomer");
	c1 = connect_();
	send_register(c1, 6, &n, "", old_nonce);
	assert_int_equal(status_of(c1, 6), ST(UNAUTHENTICATED));
	disconnect(c1);
	assert_int_equal(srv->st->ops->account_exists(srv->st, "newcomer"), 0);
	free(a.raw);
	free(n.raw);
}

/* An invite is spent by its first use, even across connections. */
static void
test_invite_twice(void **state)
{
	account a, b;
	uint8_t secret[INVITE_SECRET_LEN];
	char text[23];
	conn *c;

	(void)state;
	srv->cfg.registration_open = 0;
	account_new(&a, "alice");
	account_new(&b, "alice");	/* someone else who got hold of the code */
	assert_int_equal(dir_invite_create(srv->st, "alice", secret, now_ms()), SOTTO_OK);
	invite_secret_text(text, secret);
	c = connect_();
	send_register(c, 1, &a, text, NULL);
	assert_int_equal(status_of(c, 1), ST(OK));
	disconnect(c);
	c = connect_();
	send_register(c, 2, &b, text, NULL);
	expect_text(c, 2, ST(INVITE_INVALID), "invite invalid, used or expired");
	disconnect(c);
	free(a.raw);
	free(b.raw);
}

/* Lookups: per device, misses cost SOTTO_LOOKUP_MISS_COST, then per address. */
static void
test_lookup_rate(void **state)
{
	account a, b, m;
	conn *cm, *cb;
	size_t ok = 0, limited = 0;

	(void)state;
	srv->cfg.lookup_burst = 30;
	srv->cfg.lookup_rate = 1;
	relimit();
	account_new(&a, "alice");
	account_new(&b, "bob");
	account_new(&m, "mallory");
	disconnect(registered(&a));
	cb = registered(&b);
	cm = registered(&m);
	/* three misses spend mallory's 30 tokens; the fourth lookup is refused */
	for (int i = 0; i < 3; i++) {
		get_list(cm, 10 + (uint64_t)i, "nosuch");
		assert_int_equal(status_of(cm, 10 + (uint64_t)i), ST(NO_SUCH_HANDLE));
	}
	get_list(cm, 20, "alice");
	expect_text(cm, 20, ST(RATE_LIMITED), "too many lookups from this device");
	/* bob, from the same address, is not affected: each lookup needs room
	 * for a miss (10) and takes 1, so 21 of his 30 */
	for (int i = 0; i < 25; i++) {
		get_list(cb, 30 + (uint64_t)i, "alice");
		ok += status_of(cb, 30 + (uint64_t)i) == ST(OK);
	}
	assert_int_equal(ok, 21);
	/* the address bucket: a burst of 40 per address bites a fresh device
	 * (31 lookups leave 9, less than a miss) */
	srv->cfg.lookup_burst = 1000;
	srv->cfg.addr_lookup_burst = 40;
	srv->cfg.addr_lookup_rate = 1;
	relimit();
	for (int i = 0; i < 60; i++) {
		get_list(cb, 100 + (uint64_t)i, "alice");
		if (status_of(cb, 100 + (uint64_t)i) == ST(RATE_LIMITED))
			limited++;
	}
	assert_int_equal(limited, 29);
	get_list(cm, 200, "alice");
	expect_text(cm, 200, ST(RATE_LIMITED), "from this address");
	disconnect(cb);
	disconnect(cm);
	free(a.raw);
	free(b.raw);
	free(m.raw);
}

/* A send naming a handle nobody has costs what a lookup's miss does, from
 * the same buckets: the answer (NO_SUCH_HANDLE, not STALE_DEVICE_LIST) tells
 * as much. Once spent, lookups are refused too. */
static void
test_send_enumeration(void **state)
{
	account m, ghost;
	conn *cm;
	size_t miss = 0;

	(void)state;
	srv->cfg.lookup_burst = 30;
	srv->cfg.lookup_rate = 1;
	relimit();
	account_new(&m, "mallory");
	account_new(&ghost, "nosuch");
	cm = registered(&m);
	for (int i = 0; i < 10; i++) {
		send_to(cm, 10 + (uint64_t)i, (uint8_t)i, &ghost);
		mailbox_flush(srv);
		if (status_of(cm, 10 + (uint64_t)i) == ST(NO_SUCH_HANDLE))
			miss++;
		else
			break;
	}
	assert_int_equal(miss, 30 / SOTTO_LOOKUP_MISS_COST);
	send_to(cm, 50, 50, &ghost);
	expect_text(cm, 50, ST(RATE_LIMITED), "too many lookups from this device");
	get_list(cm, 51, "mallory");
	expect_text(cm, 51, ST(RATE_LIMITED), "too many lookups from this device");
	assert_int_equal(mailbox_staged(srv), 0);
	disconnect(cm);
	free(m.raw);
	free(ghost.raw);
}

/* Recovery tells nobody whether a handle exists: an unknown handle gets the
 * answer a known one gets without its account key, at either step; each
 * attempt is charged to its address as a probe. */
static void
test_recover_unknown(void **state)
{
	account a, m, ghost, fake;
	conn *c;
	uint8_t sig[SC_SIG];
	Sotto__Wire__Status st1, st2;
	char t1[200], t2[200];
	int answered = 0;

	(void)state;
	account_new(&a, "alice");
	account_new(&m, "mallory");
	account_new(&ghost, "nobody");
	account_new(&fake, "alice");	/* alice's handle, mallory's keys */
	disconnect(registered(&a));
	/* step 1: the history, signed by a key that is not alice's account key */
	c = connect_();
	sign_nonce(sig, c->nonce, "alice", m.acct_sec);
	recover(c, 1, "alice", sig);
	answer_of(c, 1, &st1, t1, sizeof(t1));
	disconnect(c);
	c = connect_();
	sign_nonce(sig, c->nonce, "nobody", m.acct_sec);
	recover(c, 2, "nobody", sig);
	answer_of(c, 2, &st2, t2, sizeof(t2));
	assert_true(c->closing);
	disconnect(c);
	assert_int_equal(st1, ST(UNAUTHENTICATED));
	assert_int_equal(st2, st1);
	assert_string_equal(t2, t1);
	/* step 2: a list for the handle, signed by someone's account key */
	c = connect_();
	recover_list(c, 3, &fake);
	answer_of(c, 3, &st1, t1, sizeof(t1));
	disconnect(c);
	c = connect_();
	recover_list(c, 4, &ghost);
	answer_of(c, 4, &st2, t2, sizeof(t2));
	disconnect(c);
	assert_int_equal(st1, ST(CHAIN_INVALID));
	assert_int_equal(st2, st1);
	assert_string_equal(t2, t1);
	/* each attempt costs LIMITS_RECOVER_COST of its address's lookups */
	srv->cfg.addr_lookup_burst = 3 * LIMITS_RECOVER_COST;
	srv->cfg.addr_lookup_rate = 1;
	relimit();
	for (int i = 0; i < 5; i++) {
		c = connect_from("10.9.9.9");
		sign_nonce(sig, c->nonce, "nobody", m.acct_sec);
		recover(c, 10 + (uint64_t)i, "nobody", sig);
		answer_of(c, 10 + (uint64_t)i, &st1, t1, sizeof(t1));
		disconnect(c);
		if (st1 == ST(RATE_LIMITED)) {
			assert_non_null(strstr(t1, "too many lookups from this address"));
			break;
		}
		answered++;
	}
	assert_int_equal(answered, 3);
	free(a.raw);
	free(m.raw);
	free(ghost.raw);
	free(fake.raw);
}

/* A stranger reconnecting to post link offers: its address's budget and its
 * share of the rendezvous store run out, long before the store does, and a
 * link from another address still goes through. (A budget per connection
 * alone let one address fill all SOTTOD_LINK_MAX_LIVE entries.) */
static void
test_link_flood(void **state)
{
	uint8_t rid[WIRE_RENDEZVOUS_LEN];
	uint64_t posted = 0, limited = 0;
	conn *c;

	(void)state;
	memset(rid, 0, sizeof(rid));
	for (int k = 0; k < 100; k++) {
		c = connect_from("10.6.6.6");
		for (int i = 0; i < SOTTOD_LINK_BURST; i++) {
			Sotto__Wire__Status st;
			char text[200];

			rid[0] = (uint8_t)k;
			rid[1] = (uint8_t)i;
			rid[2] = 0x66;
			rq_link_post(c, 1 + (uint64_t)i, rid, WIRE_LINK_OFFER);
			answer_of(c, 1 + (uint64_t)i, &st, text, sizeof(text));
			if (st == ST(OK))
				posted++;
			else {
				assert_int_equal(st, ST(RATE_LIMITED));
				limited++;
			}
		}
		disconnect(c);
	}
	assert_true(posted <= SOTTOD_LINK_MAX_PER_ADDR);
	assert_true(limited >= 100 * SOTTOD_LINK_BURST - SOTTOD_LINK_MAX_PER_ADDR);
	/* the honest new device, from elsewhere: offer, poll, pickup */
	c = connect_from("10.1.1.1");
	memset(rid, 0x11, sizeof(rid));
	rq_link_post(c, 1, rid, WIRE_LINK_OFFER);
	assert_int_equal(status_of(c, 1), ST(OK));
	rq_link_get(c, 2, rid, WIRE_LINK_ANSWER);
	assert_int_equal(status_of(c, 2), ST(OK));
	rq_link_post(c, 3, rid, WIRE_LINK_PICKUP);
	assert_int_equal(status_of(c, 3), ST(OK));
	disconnect(c);
}

/* One device holds at most SOTTOD_MAX_CONNS_PER_DEVICE connections: the next
 * closes its oldest (told why), the others stay; another device is not
 * affected. */
static void
test_conns_per_device(void **state)
{
	account a, b;
	conn *c[SOTTOD_MAX_CONNS_PER_DEVICE + 1], *cb;
	wire_frame *f;

	(void)state;
	account_new(&a, "alice");
	account_new(&b, "bob");
	disconnect(registered(&a));
	cb = registered(&b);
	for (int i = 0; i < SOTTOD_MAX_CONNS_PER_DEVICE + 1; i++)
		c[i] = logged_in(&a, 0);
	assert_true(c[0]->closing);
	assert_non_null(f = pop(c[0]));
	assert_int_equal(f->response->status, ST(RATE_LIMITED));
	assert_non_null(strstr(f->response->error, "too many connections of this device"));
	wire_free(f);
	for (int i = 1; i < SOTTOD_MAX_CONNS_PER_DEVICE + 1; i++)
		assert_false(c[i]->closing);
	assert_false(cb->closing);
	for (int i = 0; i < SOTTOD_MAX_CONNS_PER_DEVICE + 1; i++)
		disconnect(c[i]);
	disconnect(cb);
	free(a.raw);
	free(b.raw);
}

/* Sends: the device's burst, then RATE_LIMITED; the defaults let a bot send
 * a thousand at once (and 500 a second after). */
static void
test_send_rate(void **state)
{
	account a, b;
	conn *ca, *cb;
	size_t ok = 0;

	(void)state;
	account_new(&a, "alice");
	account_new(&b, "bob");
	ca = registered(&a);
	cb = registered(&b);
	for (int i = 0; i < 200; i++) {
		send_to(ca, 1 + (uint64_t)i, (uint8_t)i, &b);
		mailbox_flush(srv);
		ok += status_of(ca, 1 + (uint64_t)i) == ST(OK);
	}
	assert_int_equal(ok, 200);
	srv->cfg.send_burst = 5;
	srv->cfg.send_rate = 1;
	relimit();
	for (int i = 0; i < 5; i++) {
		send_to(ca, 300 + (uint64_t)i, (uint8_t)(100 + i), &b);
		mailbox_flush(srv);
		assert_int_equal(status_of(ca, 300 + (uint64_t)i), ST(OK));
	}
	send_to(ca, 400, 200, &b);
	expect_text(ca, 400, ST(RATE_LIMITED), "too many sends from this device");
	assert_int_equal(mailbox_staged(srv), 0);
	disconnect(ca);
	disconnect(cb);
	free(a.raw);
	free(b.raw);
}

/* The buckets refill at their rate; the connection cap is split over workers. */
static void
test_limits_module(void **state)
{
	sottod_config cfg;
	limits *l;
	limit_entry *e[4];
	limit_who w;
	const char *which;
	uint8_t dev[SC_DEVICE_ID];
	uint64_t t = 1000000;

	(void)state;
	config_defaults(&cfg);
	cfg.send_burst = 10;
	cfg.send_rate = 100;
	cfg.max_conns_per_addr = 5;
	assert_int_equal(limits_new(&l, &cfg, 2), SOTTO_OK);
	assert_int_equal(limits_conn_cap(l), 3);
	for (int i = 0; i < 3; i++)
		assert_non_null(e[i] = limits_conn_open(l, "10.0.0.1"));
	assert_null(limits_conn_open(l, "10.0.0.1"));
	assert_non_null(e[3] = limits_conn_open(l, "10.0.0.2"));
	limits_conn_close(l, e[0]);
	assert_non_null(e[0] = limits_conn_open(l, "10.0.0.1"));
	memset(dev, 7, sizeof(dev));
	w.device = dev;
	w.account = "alice";
	w.addr = "10.0.0.1";
	for (int i = 0; i < 10; i++)
		assert_true(limits_take(l, LIMIT_SEND, &w, 1.0, 1.0, t, &which));
	assert_false(limits_take(l, LIMIT_SEND, &w, 1.0, 1.0, t, &which));
	assert_string_equal(which, "device");
	/* 50 ms at 100 per second: five more */
	for (int i = 0; i < 5; i++)
		assert_true(limits_take(l, LIMIT_SEND, &w, 1.0, 1.0, t + 50, &which));
	assert_false(limits_take(l, LIMIT_SEND, &w, 1.0, 1.0, t + 50, &which));
	/* idle entries go; those holding connections stay */
	for (int i = 0; i < 4; i++)
		limits_conn_close(l, e[i]);
	limits_sweep(l, t + 60000);
	assert_int_equal(limits_entries(l), 0);
	limits_free(l);
}

/*
 * The lookup budget as enumeration meets it: a miss charged after the fact
 * goes into debt, so sustained misses get exactly rate / SOTTO_LOOKUP_MISS_COST
 * a second however they are spread (the old bucket stopped at empty, and a
 * device got one miss per token: 50 a second, not 5); the account's devices
 * share one bucket; the node has one for everybody.
 */
static void
test_limits_probes(void **state)
{
	sottod_config cfg;
	limits *l;
	limit_who w = { NULL, NULL, NULL };
	const char *which;
	uint8_t dev[3][SC_DEVICE_ID];
	uint64_t t = 1000000;
	int misses = 0, n;

	(void)state;
	config_defaults(&cfg);
	cfg.lookup_rate = 50;
	cfg.lookup_burst = 200;
	assert_int_equal(limits_new(&l, &cfg, 2), SOTTO_OK);
	memset(dev, 0, sizeof(dev));
	for (int i = 0; i < 3; i++)
		dev[i][0] = (uint8_t)(i + 1);
	w.device = dev[0];
	w.account = "mallory";
	w.addr = "10.0.0.9";
	/* 10 s of a miss every 10 ms: the burst's 20, then 5 a second */
	for (int ms = 0; ms < 10000; ms += 10)
		if (limits_take(l, LIMIT_LOOKUP, &w, SOTTO_LOOKUP_MISS_COST, 1.0, t + (uint64_t)ms, &which)) {
			limits_charge(l, LIMIT_LOOKUP, &w, SOTTO_LOOKUP_MISS_COST - 1, t + (uint64_t)ms);
			misses++;
		}
	assert_in_range(misses, 20 + 49, 20 + 51);
	/* the account's other devices: the account's bucket (twice a device's) */
	limits_free(l);
	assert_int_equal(limits_new(&l, &cfg, 2), SOTTO_OK);
	n = 0;
	for (int d = 0; d < 3; d++) {
		w.device = dev[d];
		while (limits_take(l, LIMIT_LOOKUP, &w, SOTTO_LOOKUP_MISS_COST, SOTTO_LOOKUP_MISS_COST, t, &which))
			n++;
	}
	assert_int_equal(n, 2 * 200 / SOTTO_LOOKUP_MISS_COST);
	assert_string_equal(which, "account");
	/* the node's bucket (this worker's half of it), whoever asks */
	w.device = NULL;
	w.account = NULL;
	n = 0;
	for (int i = 0; i < 100000; i++) {
		char a[32];

		snprintf(a, sizeof(a), "10.1.%d.%d", i / 250, i % 250);
		w.addr = a;
		if (!limits_take(l, LIMIT_LOOKUP, &w, 1.0, 1.0, t, &which))
			break;
		n++;
	}
	assert_string_equal(which, "server");
	assert_int_equal(n, LIMITS_GLOBAL_LOOKUP_BURST / 2 - 2 * 200);
	limits_free(l);
}

/* The caps and rates in sottod.conf: defaults from caps.h, only lower caps. */
static void
test_config_caps(void **state)
{
	static const char *const bad[] = {
		"max_recipients = 65\n", "max_recipients = 0\n", "preauth_seconds = 11\n",
		"max_frame = 999999999\n", "max_frame = 100\n", "max_conns_per_addr = 65537\n",
		"send_rate = 0\n", "lookup_burst = 1000001\n", "user = ../root\n", "user = -x\n",
		"user = \n",
	};
	const char *good = "max_recipients = 8\npreauth_seconds = 3\nmax_frame = 16384\n"
	    "max_conns_per_addr = 65536\nsend_rate = 1000000\naddr_lookup_burst = 7\nuser = sotto\n";
	sottod_config c;
	char err[256];
	FILE *f;

	(void)state;
	config_defaults(&c);
	assert_int_equal(c.max_frame, SOTTO_MAX_FRAME);
	assert_int_equal(c.max_recipients, SOTTO_MAX_RECIPIENTS);
	assert_int_equal(c.max_conns_per_addr, SOTTO_DEFAULT_MAX_CONNS_PER_ADDR);
	assert_int_equal(c.preauth_seconds, SOTTO_PREAUTH_SECONDS);
	assert_int_equal(c.lookup_rate, SOTTO_DEFAULT_LOOKUP_RATE);
	assert_int_equal(c.send_burst, SOTTO_DEFAULT_SEND_BURST);
	assert_string_equal(c.user, "");
	assert_non_null(f = fmemopen((void *)good, strlen(good), "r"));
	assert_int_equal(config_parse_stream(&c, f, err, sizeof(err)), SOTTO_OK);
	fclose(f);
	assert_int_equal(c.max_recipients, 8);
	assert_int_equal(c.preauth_seconds, 3);
	assert_int_equal(c.max_frame, 16384);
	assert_int_equal(c.max_conns_per_addr, 65536);
	assert_int_equal(c.send_rate, 1000000);
	assert_int_equal(c.addr_lookup_burst, 7);
	assert_string_equal(c.user, "sotto");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		config_defaults(&c);
		assert_non_null(f = fmemopen((void *)bad[i], strlen(bad[i]), "r"));
		assert_int_equal(config_parse_stream(&c, f, err, sizeof(err)), SOTTO_ERR_FORMAT);
		fclose(f);
		assert_non_null(strstr(err, "line 1"));
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_unauthenticated, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_device, setup, teardown),
		cmocka_unit_test_setup_teardown(test_removed_device, setup, teardown),
		cmocka_unit_test_setup_teardown(test_other_queue, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replayed_challenge, setup, teardown),
		cmocka_unit_test_setup_teardown(test_invite_twice, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lookup_rate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_send_rate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_send_enumeration, setup, teardown),
		cmocka_unit_test_setup_teardown(test_recover_unknown, setup, teardown),
		cmocka_unit_test_setup_teardown(test_link_flood, setup, teardown),
		cmocka_unit_test_setup_teardown(test_conns_per_device, setup, teardown),
		cmocka_unit_test(test_limits_module),
		cmocka_unit_test(test_limits_probes),
		cmocka_unit_test(test_config_caps),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
