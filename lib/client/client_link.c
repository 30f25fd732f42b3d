/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "client.h"
#include "hkdf.h"
#include "keyfile.h"
#include "linkcode.h"

_Static_assert(SOTTO_LINK_CODE_LEN == LINK_CODE_TEXT_LEN, "public and protocol code lengths agree");

#define LINK_DEFAULT_TIMEOUT 600
#define LINK_POLL_MS 1000
/* After the answer: how long the new device waits for the approved list to be
 * published, and how often it looks. */
#define LINK_PUBLISH_WAIT_MS 30000
#define LINK_PUBLISH_POLL_MS 250
/* The approver: how long it waits for the new device to pick up the answer
 * (the new device polls once a second), and how often it looks. */
#define LINK_PICKUP_WAIT_MS 10000
#define LINK_PICKUP_POLL_MS 500


/* The account's device lists, each verified against the one before: no more
 * than a client follows for any handle (SOTTO_CLIENT_MAX_LIST_VERSIONS). */
typedef struct chain {
	uint8_t account_pub[SC_SIGN_PUB];
	size_t n;
	uint8_t *p[SOTTO_CLIENT_MAX_LIST_VERSIONS];
	size_t len[SOTTO_CLIENT_MAX_LIST_VERSIONS];
	dl_list last;
} chain;

/* Empty again, keeping the account key the chain must start from. */
static void
chain_reset(chain *ch)
{
	for (size_t i = 0; i < ch->n; i++)
		free(ch->p[i]);
	ch->n = 0;
	memset(&ch->last, 0, sizeof(ch->last));
}

static void
chain_free(chain *ch)
{
	if (ch == NULL)
		return;
	chain_reset(ch);
	free(ch);
}

/* Append one signed list: version 1 signed by the expected account key, every
 * later one chained to the one before. */
static int
chain_add(chain *ch, const uint8_t *p, size_t n)
{
	dl_list *l = NULL;
	uint8_t h[SC_SHA256];
	int r = SOTTO_ERR_NOMEM;

	if (ch->n == sizeof(ch->p) / sizeof(ch->p[0]))
		return SOTTO_ERR_TOO_LARGE;
	if ((l = malloc(sizeof(*l))) == NULL)
		goto out;
	r = SOTTO_ERR_CHAIN;
	if (n == 0 || n > SOTTO_MAX_DEVICE_LIST || dl_parse(l, p, n) != SOTTO_OK)
		goto out;
	if (ch->n == 0) {
		if (dl_verify_first(l, p, n) != SOTTO_OK ||
		    !sc_memeq(l->account_pub, ch->account_pub, SC_SIGN_PUB))
			goto out;
	} else {
		dl_hash(h, ch->p[ch->n - 1], ch->len[ch->n - 1]);
		if (dl_verify_next(&ch->last, h, l, p, n) != SOTTO_OK)
			goto out;
	}
	r = SOTTO_ERR_NOMEM;
	if ((ch->p[ch->n] = malloc(n)) == NULL)
		goto out;
	memcpy(ch->p[ch->n], p, n);
	ch->len[ch->n++] = n;
	ch->last = *l;
	r = SOTTO_OK;
out:
	free(l);
	return r;
}

/* ---- requests ---- */

static int
link_request(conn *cn, int post, uint32_t slot, const uint8_t rid[static WIRE_RENDEZVOUS_LEN],
    const uint8_t *blob, size_t n, wire_frame **resp)
{
	Sotto__Wire__Frame f = SOTTO__WIRE__FRAME__INIT;
	Sotto__Wire__LinkPostRequest lp = SOTTO__WIRE__LINK_POST_REQUEST__INIT;
	Sotto__Wire__LinkGetRequest lg = SOTTO__WIRE__LINK_GET_REQUEST__INIT;

	if (post) {
		lp.rendezvous_id.data = (uint8_t *)rid;
		lp.rendezvous_id.len = WIRE_RENDEZVOUS_LEN;
		lp.slot = slot;
		lp.blob.data = (uint8_t *)blob;
		lp.blob.len = n;
		f.msg_case = SOTTO__WIRE__FRAME__MSG_LINK_POST;
		f.link_post = &lp;
	} else {
		lg.rendezvous_id.data = (uint8_t *)rid;
		lg.rendezvous_id.len = WIRE_RENDEZVOUS_LEN;
		lg.slot = slot;
		f.msg_case = SOTTO__WIRE__FRAME__MSG_LINK_GET;
		f.link_get = &lg;
	}
	return conn_request(cn, &f, resp);
}

/* Authenticate cn as device id of handle with its signing key. */
static int
conn_auth(conn *cn, const uint8_t pin[static TLS_PIN_LEN], const char *handle,
    const uint8_t id[static SC_DEVICE_ID], const uint8_t sign_sec[static SC_SIGN_SEC])
{
	Sotto__Wire__Frame f = SOTTO__WIRE__FRAME__INIT;
	Sotto__Wire__AuthRequest a = SOTTO__WIRE__AUTH_REQUEST__INIT;
	wire_frame *resp = NULL;
	uint8_t msg[WIRE_AUTH_MSG_MAX], sig[SC_SIG];
	size_t mlen;
	int r;

	mlen = wire_auth_message(msg, pin, conn_nonce(cn), handle);
	sc_sign(sig, msg, mlen, sign_sec);
	a.handle = (char *)handle;
	a.device_id.data = (uint8_t *)id;
	a.device_id.len = SC_DEVICE_ID;
	a.signature.data = sig;
	a.signature.len = SC_SIG;
	f.msg_case = SOTTO__WIRE__FRAME__MSG_AUTH;
	f.auth = &a;
	r = conn_request(cn, &f, &resp);
	wire_free(resp);
	return r;
}

/* Every list of handle from version 1, into ch (over an authenticated cn). */
static int
fetch_chain(conn *cn, const char *handle, chain *ch)
{
	Sotto__Wire__Frame f = SOTTO__WIRE__FRAME__INIT;
	Sotto__Wire__GetDeviceListRequest g = SOTTO__WIRE__GET_DEVICE_LIST_REQUEST__INIT;
	wire_frame *resp = NULL;
	uint64_t since = 0;
	int r, more;

	do {
		g.handle = (char *)handle;
		g.since_version = since;
		f.msg_case = SOTTO__WIRE__FRAME__MSG_GET_DEVICE_LIST;
		f.get_device_list = &g;
		wire_free(resp);
		resp = NULL;
		if ((r = conn_request(cn, &f, &resp)) != SOTTO_OK)
			goto out;
		for (size_t i = 0; i < resp->response->n_device_lists; i++)
			if ((r = chain_add(ch, resp->response->device_lists[i].data,
			    resp->response->device_lists[i].len)) != SOTTO_OK)
				goto out;
		more = resp->response->more && resp->response->n_device_lists > 0;
		if (more && ch->last.version <= since) {
			r = SOTTO_ERR_PROTOCOL;
			goto out;
		}
		since = ch->last.version;
	} while (more);
	r = ch->n > 0 ? SOTTO_OK : SOTTO_ERR_PROTOCOL;
out:
	wire_free(resp);
	return r;
}

/* ---- the new device's home ---- */

static int
path_join(char *out, size_t max, const char *dir, const char *name)
{
	int n = snprintf(out, max, "%s/%s", dir, name);

	return n < 0 || (size_t)n >= max ? SOTTO_ERR_INVALID_ARG : SOTTO_OK;
}

/* Refuse a home that holds a device; make the folder (0700) if missing. */
static int
home_claim(const char *home, int *made_dir)
{
	struct stat sb;
	char p[4096];

	*made_dir = 0;
	if ((path_join(p, sizeof(p), home, CLIENT_DB_NAME) == SOTTO_OK && lstat(p, &sb) == 0) ||
	    (path_join(p, sizeof(p), home, CLIENT_KEY_NAME) == SOTTO_OK && lstat(p, &sb) == 0))
		return SOTTO_ERR_EXISTS;
	if (mkdir(home, 0700) == 0)
		*made_dir = 1;
	else if (errno != EEXIST || stat(home, &sb) != 0 || !S_ISDIR(sb.st_mode))
		return SOTTO_ERR_IO;
	return SOTTO_OK;
}

static void
home_release(const char *home, int made_dir)
{
	static const char *const names[] = {
		CLIENT_KEY_NAME, CLIENT_DB_NAME, CLIENT_DB_NAME "-wal", CLIENT_DB_NAME "-shm",
		CLIENT_DB_NAME "-journal",
	};
	char p[4096];

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (path_join(p, sizeof(p), home, names[i]) == SOTTO_OK)
			(void)unlink(p);
	if (made_dir)
		(void)rmdir(home);
}

/* The store (config, me as a verified contact, every verified list), then the key file. */
static int
home_write(const char *home, const cstore_config *cfg, const uint8_t *keys, const char *passphrase,
    const chain *ch)
{
	cstore_contact me;
	cstore *st = NULL;
	dl_list *l = NULL;
	char p[4096];
	int r;

	if ((l = malloc(sizeof(*l))) == NULL)
		return SOTTO_ERR_NOMEM;
	if ((r = path_join(p, sizeof(p), home, CLIENT_DB_NAME)) != SOTTO_OK ||
	    (r = cstore_open(&st, p, 1)) != SOTTO_OK)
		goto out;
	memset(&me, 0, sizeof(me));
	snprintf(me.handle, sizeof(me.handle), "%s", cfg->handle);
	memcpy(me.account_pub, cfg->account_pub, SC_SIGN_PUB);
	me.verified = 1;
	me.state = CONTACT_NORMAL;
	if ((r = cstore_begin(st)) != SOTTO_OK)
		goto out;
	if ((r = cstore_config_set(st, cfg)) != SOTTO_OK || (r = cstore_contact_put(st, &me)) != SOTTO_OK ||
	    (r = cstore_u64_set(st, "dir_ok_at", client_now_ms())) != SOTTO_OK)
		goto fail;
	for (size_t i = 0; i < ch->n; i++)
		if ((r = dl_parse(l, ch->p[i], ch->len[i])) != SOTTO_OK ||
		    (r = cstore_list_add(st, cfg->handle, l->version, ch->p[i], ch->len[i])) != SOTTO_OK)
			goto fail;
	if ((r = cstore_commit(st)) != SOTTO_OK)
		goto fail;
	if ((r = path_join(p, sizeof(p), home, CLIENT_KEY_NAME)) != SOTTO_OK)
		goto out;
	r = keyfile_write(p, keys, CLIENT_KEYS_LEN, passphrase, 0, 0);
	goto out;
fail:
	cstore_rollback(st);
out:
	cstore_close(st);
	free(l);
	return r;
}

/* ---- sotto_link: the new device ---- */

typedef struct link_secrets {
	uint8_t keys[CLIENT_KEYS_LEN];
	uint8_t secret[LINK_SECRET_LEN];
	uint8_t key[SC_SHA256];
	char code[SOTTO_LINK_CODE_LEN + 1];
} link_secrets;

static void
sleep_ms(int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Poll the answer slot until it holds something or the deadline passes. A
 * pre-auth connection does not live long: reconnect whenever it drops. */
static int
wait_answer(const cstore_config *cfg, const uint8_t rid[static WIRE_RENDEZVOUS_LEN], int64_t deadline,
    wire_frame **answer)
{
	wire_frame *resp = NULL;
	conn *cn = NULL;
	int r = SOTTO_ERR_TIMEOUT;

	*answer = NULL;
	while (mono_ms() < deadline) {
		if (cn == NULL && (r = conn_open(&cn, cfg->address, cfg->pin)) != SOTTO_OK) {
			if (r == SOTTO_ERR_PIN)
				goto out;
			sleep_ms(LINK_POLL_MS);
			continue;
		}
		r = link_request(cn, 0, WIRE_LINK_ANSWER, rid, NULL, 0, &resp);
		if (r == SOTTO_OK && resp->response->link_blob.len > 0) {
			*answer = resp;
			resp = NULL;
			goto out;
		}
		if (r != SOTTO_OK && resp == NULL) {
			conn_close(cn);
			cn = NULL;
		} else if (r != SOTTO_OK && r != SOTTO_ERR_RATE_LIMITED)
			goto out;
		wire_free(resp);
		resp = NULL;
		sleep_ms(LINK_POLL_MS);
		r = SOTTO_ERR_TIMEOUT;
	}
	r = SOTTO_ERR_TIMEOUT;
out:
	wire_free(resp);
	conn_close(cn);
	return r;
}

/* Post the pickup, reconnecting a few times if the connection drops. */
static int
post_pickup(const cstore_config *cfg, const uint8_t rid[static WIRE_RENDEZVOUS_LEN], const uint8_t *blob,
    size_t blen)
{
	wire_frame *resp = NULL;
	conn *cn = NULL;
	int r = SOTTO_ERR_NETWORK;

	for (int attempt = 0; attempt < 3; attempt++) {
		if ((r = conn_open(&cn, cfg->address, cfg->pin)) == SOTTO_OK) {
			r = link_request(cn, 1, WIRE_LINK_PICKUP, rid, blob, blen, &resp);
			wire_free(resp);
			resp = NULL;
			conn_close(cn);
			cn = NULL;
		}
		if (!client_err_transient(r))
			break;
		sleep_ms(LINK_POLL_MS);
	}
	return r;
}

int
sotto_link(const char *home, const sotto_link_options *o, sotto_link_code_cb show, void *arg,
    char device_id[SOTTO_ID_HEX_LEN + 1])
{
	link_secrets *s = NULL;
	link_offer offer;
	link_answer ans;
	cstore_config cfg;
	chain *ch = NULL;
	wire_frame *resp = NULL;
	conn *cn = NULL;
	uint8_t rid[WIRE_RENDEZVOUS_LEN], *blob = NULL, h[SC_SHA256];
	size_t blen = 0, i;
	const dl_device *me;
	int64_t deadline, publish_deadline;
	int r, made_dir = 0, claimed = 0, found = 0;

	memset(&cfg, 0, sizeof(cfg));
	memset(&offer, 0, sizeof(offer));
	if (home == NULL || o == NULL || show == NULL || device_id == NULL || o->server == NULL ||
	    o->pin == NULL || o->handle == NULL || strlen(o->server) > SOTTO_MAX_ADDRESS ||
	    strchr(o->server, ':') == NULL || !handle_valid(o->handle) || o->timeout_seconds < 0)
		return SOTTO_ERR_INVALID_ARG;
	/* A name the approver could not put in a list is refused here, before
	 * anyone is asked to approve it. */
	if (!dl_name_valid(o->device_name != NULL ? o->device_name : "device"))
		return SOTTO_ERR_INVALID_ARG;
	snprintf(offer.name, sizeof(offer.name), "%s", o->device_name != NULL ? o->device_name : "device");
	if ((r = sc_init()) != SOTTO_OK)
		return r;
	if (tls_pin_from_text(cfg.pin, o->pin) != SOTTO_OK)
		return SOTTO_ERR_INVALID_ARG;
	snprintf(cfg.address, sizeof(cfg.address), "%s", o->server);
	snprintf(cfg.handle, sizeof(cfg.handle), "%s", o->handle);
	snprintf(offer.handle, sizeof(offer.handle), "%s", o->handle);
	deadline = mono_ms() + (int64_t)(o->timeout_seconds > 0 ? o->timeout_seconds : LINK_DEFAULT_TIMEOUT) * 1000;

	if ((r = home_claim(home, &made_dir)) != SOTTO_OK)
		return r;
	claimed = 1;
	r = SOTTO_ERR_NOMEM;
	if ((s = sc_secure_alloc(sizeof(*s))) == NULL || (ch = calloc(1, sizeof(*ch))) == NULL)
		goto out;
	memset(s, 0, sizeof(*s));
	sc_sign_keypair(offer.sig_pub, s->keys);
	sc_kx_keypair(offer.enc_pub, s->keys + SC_SIGN_SEC);
	sc_device_id(cfg.device_id, offer.sig_pub);
	sc_random(rid, sizeof(rid));
	sc_random(s->secret, sizeof(s->secret));
	if ((r = link_mac_key(s->key, rid, s->secret)) != SOTTO_OK ||
	    (r = link_offer_encode(&offer, s->key, rid, &blob, &blen)) != SOTTO_OK)
		goto out;
	link_code_encode(s->code, rid, s->secret);

	if ((r = conn_open(&cn, cfg.address, cfg.pin)) != SOTTO_OK ||
	    (r = link_request(cn, 1, WIRE_LINK_OFFER, rid, blob, blen, &resp)) != SOTTO_OK)
		goto out;
	wire_free(resp);
	resp = NULL;
	conn_close(cn);
	cn = NULL;
	{
		sotto_link_offer self;
		dl_device d;

		memset(&self, 0, sizeof(self));
		memset(&d, 0, sizeof(d));
		memcpy(d.sig_pub, offer.sig_pub, SC_SIGN_PUB);
		memcpy(d.enc_pub, offer.enc_pub, SC_KX_PUB);
		snprintf(self.handle, sizeof(self.handle), "%s", offer.handle);
		snprintf(self.name, sizeof(self.name), "%s", offer.name);
		sc_hex(self.id, cfg.device_id, SC_DEVICE_ID);
		dl_fingerprint(self.fingerprint, &d);
		show(s->code, &self, arg);
	}

	if ((r = wait_answer(&cfg, rid, deadline, &resp)) != SOTTO_OK)
		goto out;
	/* A blob that fails the MAC came from someone without the code: the
	 * server, or whoever it let post. Nothing in it is used. */
	if ((r = link_answer_parse(&ans, resp->response->link_blob.data, resp->response->link_blob.len,
	    s->key, rid)) != SOTTO_OK) {
		r = SOTTO_ERR_BAD_SIGNATURE;
		goto out;
	}
	memcpy(cfg.account_pub, ans.account_pub, SC_SIGN_PUB);
	memcpy(ch->account_pub, ans.account_pub, SC_SIGN_PUB);
	/* Tell the approver this device holds the answer (and its keys): only
	 * then does it publish the list that names this device. */
	free(blob);
	blob = NULL;
	if ((r = link_pickup_encode(ans.list_hash, s->key, rid, &blob, &blen)) != SOTTO_OK)
		goto out;
	/* Whatever the post's answer, the pickup may have been stored (a reply
	 * lost, a retry refused as a repeat): from here on, give up only when
	 * the wait below ends, never at once. */
	(void)post_pickup(&cfg, rid, blob, blen);

	/* Now a device of the account: authenticate and verify the chain here.
	 * The approver publishes only after the pickup (so that a device that
	 * stopped waiting is never added): until then the server does not know
	 * this device yet, or shows an older chain. Wait for it, within bounds,
	 * through passing network trouble. */
	publish_deadline = mono_ms() + LINK_PUBLISH_WAIT_MS;
	for (;;) {
		conn_close(cn);
		cn = NULL;
		chain_reset(ch);
		if ((r = conn_open(&cn, cfg.address, cfg.pin)) == SOTTO_OK &&
		    (r = conn_auth(cn, cfg.pin, cfg.handle, cfg.device_id, s->keys)) == SOTTO_OK &&
		    (r = fetch_chain(cn, cfg.handle, ch)) != SOTTO_OK && !client_err_transient(r)) {
			if (r == SOTTO_ERR_CHAIN || r == SOTTO_ERR_PROTOCOL)
				r = SOTTO_ERR_CHAIN;
			goto out;
		}
		if (r == SOTTO_OK) {
			for (i = 0; i < ch->n; i++) {
				dl_hash(h, ch->p[i], ch->len[i]);
				if (sc_memeq(h, ans.list_hash, SC_SHA256))
					break;
			}
			if (i < ch->n) {
				found = 1;
				break;
			}
			/* A chain past the approved version without it: not coming. */
			if (ch->last.version >= ans.version) {
				r = SOTTO_ERR_CHAIN;
				goto out;
			}
		} else if (r != SOTTO_ERR_UNAUTHENTICATED && !client_err_transient(r))
			goto out;
		if (mono_ms() >= publish_deadline) {
			r = SOTTO_ERR_TIMEOUT;
			goto out;
		}
		sleep_ms(LINK_PUBLISH_POLL_MS);
	}
	r = SOTTO_ERR_CHAIN;
	/* The approved list and the latest must both hold this very device. */
	if (!found || (me = dl_find(&ch->last, cfg.device_id)) == NULL ||
	    !sc_memeq(me->enc_pub, offer.enc_pub, SC_KX_PUB))
		goto out;
	{
		dl_list *al;

		if ((al = malloc(sizeof(*al))) == NULL) {
			r = SOTTO_ERR_NOMEM;
			goto out;
		}
		if (dl_parse(al, ch->p[i], ch->len[i]) != SOTTO_OK || al->version != ans.version ||
		    (me = dl_find(al, cfg.device_id)) == NULL ||
		    !sc_memeq(me->enc_pub, offer.enc_pub, SC_KX_PUB)) {
			free(al);
			goto out;
		}
		free(al);
	}
	if ((r = home_write(home, &cfg, s->keys, o->passphrase, ch)) != SOTTO_OK)
		goto out;
	sc_hex(device_id, cfg.device_id, SC_DEVICE_ID);
	claimed = 0;
	r = SOTTO_OK;
out:
	if (claimed)
		home_release(home, made_dir);
	conn_close(cn);
	wire_free(resp);
	free(blob);
	chain_free(ch);
	sc_secure_free(s);
	return r;
}

/* ---- sotto_approve, sotto_remove_device: an existing device ---- */

/* Publish next, already signed by this device as p/n, and keep it as my
 * latest verified list. */
static int
publish_signed(sotto_client *c, const dl_list *next, const uint8_t *p, size_t n)
{
	Sotto__Wire__Frame f = SOTTO__WIRE__FRAME__INIT;
	Sotto__Wire__PublishDeviceListRequest pr = SOTTO__WIRE__PUBLISH_DEVICE_LIST_REQUEST__INIT;
	wire_frame *resp = NULL;
	int r;

	if ((r = client_connect(c)) != SOTTO_OK)
		goto out;
	pr.device_list.data = (uint8_t *)p;
	pr.device_list.len = n;
	f.msg_case = SOTTO__WIRE__FRAME__MSG_PUBLISH_DEVICE_LIST;
	f.publish_device_list = &pr;
	if ((r = conn_request(c->cn, &f, &resp)) != SOTTO_OK) {
		if (resp == NULL)
			client_disconnect(c);
		goto out;
	}
	r = cstore_list_add(c->st, c->cfg.handle, next->version, p, n);
out:
	wire_free(resp);
	return r;
}

/* Sign next with this device's key and publish it. */
static int
publish(sotto_client *c, dl_list *next)
{
	uint8_t *out = NULL;
	size_t n = 0;
	int r;

	if ((r = dl_sign_device(next, c->cfg.device_id, CLIENT_SIGN_SEC(c), &out, &n)) == SOTTO_OK)
		r = publish_signed(c, next, out, n);
	free(out);
	return r;
}

/* The account's change made here is in its alert history too, as on every
 * other device of the account. */
static int
note_change(sotto_client *c, const char *kind, const dl_device *d, const char *how)
{
	char text[512], fp[DL_FINGERPRINT_LEN + 1], id[SC_DEVICE_ID * 2 + 1];

	dl_fingerprint(fp, d);
	sc_hex(id, d->id, SC_DEVICE_ID);
	snprintf(text, sizeof(text), "a device was %s your account: \"%s\" (fingerprint %s), id %s, %s",
	    strcmp(kind, "device_added") == 0 ? "added to" : "removed from", d->name, fp, id, how);
	return client_alert(c, kind, c->cfg.handle, d->id, text, NULL);
}

/* My verified latest list and the next version built on it (same devices). */
static int
next_of_mine(sotto_client *c, dl_list *cur, dl_list *next)
{
	uint8_t *bytes = NULL;
	size_t n = 0;
	int r;

	if ((r = client_list_refresh(c, c->cfg.handle, cur, &bytes, &n)) != SOTTO_OK)
		goto out;
	*next = *cur;
	next->version = cur->version + 1;
	dl_hash(next->prev_hash, bytes, n);
	next->created_at = client_now_ms();
out:
	free(bytes);
	return r;
}

/* The approver, after answering: wait until the new device picks the answer
 * up (it still runs and holds its keys), so a device that has gone away is
 * never published. */
static int
wait_pickup(sotto_client *c, const uint8_t rid[static WIRE_RENDEZVOUS_LEN],
    const uint8_t key[static SC_SHA256], const uint8_t list_hash[static SC_SHA256])
{
	uint8_t h[SC_SHA256];
	wire_frame *resp = NULL;
	int64_t deadline = mono_ms() + LINK_PICKUP_WAIT_MS;
	int r;

	for (;;) {
		if ((r = client_connect(c)) == SOTTO_OK &&
		    (r = link_request(c->cn, 0, WIRE_LINK_PICKUP, rid, NULL, 0, &resp)) == SOTTO_OK &&
		    resp->response->link_blob.len > 0)
			break;
		if (r != SOTTO_OK && resp == NULL)
			client_disconnect(c);
		if (r != SOTTO_OK && !client_err_transient(r))
			goto out;
		if (mono_ms() >= deadline) {
			client_set_detail(c, "the new device did not pick up the approval (it gave up or "
			    "was stopped): nothing was approved");
			r = SOTTO_ERR_TIMEOUT;
			goto out;
		}
		wire_free(resp);
		resp = NULL;
		sleep_ms(LINK_PICKUP_POLL_MS);
	}
	if (link_pickup_parse(h, resp->response->link_blob.data, resp->response->link_blob.len, key,
	    rid) != SOTTO_OK || !sc_memeq(h, list_hash, SC_SHA256)) {
		client_set_detail(c, "the pickup failed its check against the link code: nothing was "
		    "approved");
		r = SOTTO_ERR_BAD_SIGNATURE;
		goto out;
	}
	r = SOTTO_OK;
out:
	wire_free(resp);
	return r;
}

int
sotto_approve(sotto_client *c, const char *code, sotto_approve_cb confirm, void *arg,
    char device_id[SOTTO_ID_HEX_LEN + 1])
{
	uint8_t rid[WIRE_RENDEZVOUS_LEN], secret[LINK_SECRET_LEN], key[SC_SHA256], *signed_list = NULL;
	uint8_t *blob = NULL;
	size_t signed_len = 0, blen = 0;
	link_offer offer;
	link_answer ans;
	sotto_link_offer shown;
	wire_frame *resp = NULL;
	dl_list *cur = NULL, *next = NULL;
	dl_device *d;
	int r;

	c->detail[0] = '\0';
	client_warnings_clear(c);
	if (confirm == NULL || device_id == NULL)
		return SOTTO_ERR_INVALID_ARG;
	if ((r = link_code_decode(code, rid, secret)) != SOTTO_OK) {
		client_set_detail(c, "that is not a link code");
		r = SOTTO_ERR_INVALID_ARG;
		goto out;
	}
	if ((r = link_mac_key(key, rid, secret)) != SOTTO_OK)
		goto out;
	r = SOTTO_ERR_NOMEM;
	if ((cur = malloc(sizeof(*cur))) == NULL || (next = malloc(sizeof(*next))) == NULL)
		goto out;
	if ((r = client_connect(c)) != SOTTO_OK)
		goto out;
	if ((r = link_request(c->cn, 0, WIRE_LINK_OFFER, rid, NULL, 0, &resp)) != SOTTO_OK) {
		if (resp == NULL)
			client_disconnect(c);
		goto out;
	}
	if (resp->response->link_blob.len == 0) {
		client_set_detail(c, "no device is waiting with that link code (mistyped, expired or used)");
		r = SOTTO_ERR_NOT_FOUND;
		goto out;
	}
	if ((r = link_offer_parse(&offer, resp->response->link_blob.data, resp->response->link_blob.len,
	    key, rid)) != SOTTO_OK) {
		client_set_detail(c, "the waiting device's offer failed its check against the link "
		    "code: not approved");
		r = SOTTO_ERR_BAD_SIGNATURE;
		goto out;
	}
	if (strcmp(offer.handle, c->cfg.handle) != 0) {
		client_set_detail(c, "that device asks to join %s, not %s", offer.handle, c->cfg.handle);
		r = SOTTO_ERR_INVALID_ARG;
		goto out;
	}
	if ((r = next_of_mine(c, cur, next)) != SOTTO_OK)
		goto out;
	r = SOTTO_ERR_TOO_LARGE;
	if (next->n_devices >= SOTTO_MAX_DEVICES)
		goto out;
	d = &next->devices[next->n_devices];
	memset(d, 0, sizeof(*d));
	memcpy(d->sig_pub, offer.sig_pub, SC_SIGN_PUB);
	memcpy(d->enc_pub, offer.enc_pub, SC_KX_PUB);
	sc_device_id(d->id, d->sig_pub);
	snprintf(d->name, sizeof(d->name), "%s", offer.name);
	d->added_at = next->created_at;
	memcpy(d->approved_by, c->cfg.device_id, SC_DEVICE_ID);
	if (dl_find(cur, d->id) != NULL) {
		r = SOTTO_ERR_EXISTS;
		goto out;
	}
	memset(&shown, 0, sizeof(shown));
	snprintf(shown.handle, sizeof(shown.handle), "%s", offer.handle);
	snprintf(shown.name, sizeof(shown.name), "%s", offer.name);
	sc_hex(shown.id, d->id, SC_DEVICE_ID);
	dl_fingerprint(shown.fingerprint, d);
	if (confirm(&shown, arg) != 1) {
		r = SOTTO_ERR_UNTRUSTED;
		goto out;
	}
	next->n_devices++;
	if ((r = dl_sign_device(next, c->cfg.device_id, CLIENT_SIGN_SEC(c), &signed_list,
	    &signed_len)) != SOTTO_OK) {
		if (r == SOTTO_ERR_INVALID_ARG)
			client_set_detail(c, "the device's name cannot go in a device list");
		goto out;
	}
	/* Answer first: the answer spends the offer, which the server keeps only
	 * while the new device is still waiting. A device that gave up, was
	 * interrupted or crashed is refused here, before any list names it. */
	memcpy(ans.account_pub, c->cfg.account_pub, SC_SIGN_PUB);
	ans.version = next->version;
	dl_hash(ans.list_hash, signed_list, signed_len);
	if ((r = link_answer_encode(&ans, key, rid, &blob, &blen)) != SOTTO_OK)
		goto out;
	wire_free(resp);
	resp = NULL;
	if ((r = client_connect(c)) != SOTTO_OK)
		goto out;
	if ((r = link_request(c->cn, 1, WIRE_LINK_ANSWER, rid, blob, blen, &resp)) != SOTTO_OK) {
		if (r == SOTTO_ERR_NOT_FOUND)
			client_set_detail(c, "the new device is no longer waiting (it gave up or was "
			    "stopped): nothing was approved");
		if (resp == NULL)
			client_disconnect(c);
		goto out;
	}
	if ((r = wait_pickup(c, rid, key, ans.list_hash)) != SOTTO_OK)
		goto out;
	if ((r = publish_signed(c, next, signed_list, signed_len)) != SOTTO_OK) {
		/* Say what is known: no answer means the server may have stored it. */
		if (r == SOTTO_ERR_NETWORK || r == SOTTO_ERR_TIMEOUT)
			client_set_detail(c, "no answer to the publish (%s): the device may or may not "
			    "have been added; `sotto devices` shows which", sotto_strerror(r));
		else if (r == SOTTO_ERR_DB)
			client_set_detail(c, "the device was added, but this device could not store the "
			    "new list; its next check fetches it");
		else
			client_set_detail(c, "the device list could not be published (%s): the device "
			    "was not added, and will give up", sotto_strerror(r));
		goto out;
	}
	if ((r = note_change(c, "device_added", d, "approved by this device")) != SOTTO_OK)
		goto out;
	memcpy(device_id, shown.id, sizeof(shown.id));
	r = SOTTO_OK;
out:
	sc_wipe(secret, sizeof(secret));
	sc_wipe(key, sizeof(key));
	wire_free(resp);
	free(signed_list);
	free(blob);
	free(cur);
	free(next);
	return r;
}

int
sotto_remove_device(sotto_client *c, const char *device_id)
{
	uint8_t id[SC_DEVICE_ID];
	dl_list *cur = NULL, *next = NULL;
	size_t n = 0, i, k;
	int r;

	c->detail[0] = '\0';
	client_warnings_clear(c);
	if (device_id == NULL || strlen(device_id) != SC_DEVICE_ID * 2 ||
	    sc_unhex(id, sizeof(id), &n, device_id, strlen(device_id)) != SOTTO_OK || n != SC_DEVICE_ID) {
		client_set_detail(c, "not a device id: %s", device_id != NULL ? device_id : "");
		return SOTTO_ERR_INVALID_ARG;
	}
	if (sc_memeq(id, c->cfg.device_id, SC_DEVICE_ID)) {
		client_set_detail(c, "this is this device: remove it from another device of the account");
		return SOTTO_ERR_INVALID_ARG;
	}
	r = SOTTO_ERR_NOMEM;
	if ((cur = malloc(sizeof(*cur))) == NULL || (next = malloc(sizeof(*next))) == NULL)
		goto out;
	if ((r = next_of_mine(c, cur, next)) != SOTTO_OK)
		goto out;
	if (dl_find(cur, id) == NULL) {
		client_set_detail(c, "%s is not a device of %s", device_id, c->cfg.handle);
		r = SOTTO_ERR_NOT_FOUND;
		goto out;
	}
	for (i = 0, k = 0; i < cur->n_devices; i++)
		if (!sc_memeq(cur->devices[i].id, id, SC_DEVICE_ID))
			next->devices[k++] = cur->devices[i];
	next->n_devices = k;
	if ((r = publish(c, next)) != SOTTO_OK)
		goto out;
	r = note_change(c, "device_removed", dl_find(cur, id), "removed by this device");
out:
	free(cur);
	free(next);
	return r;
}

/* ---- sotto_recover ---- */

typedef struct recover_secrets {
	uint8_t account_sec[SC_SIGN_SEC];
	uint8_t seed[SC_SIGN_SEED + 8];
	uint8_t keys[CLIENT_KEYS_LEN];
} recover_secrets;

/* One RecoverRequest on a fresh connection; signed by sign_sec. */
static int
recover_request(const cstore_config *cfg, const uint8_t *list, size_t n, uint64_t since,
    const uint8_t sign_sec[static SC_SIGN_SEC], wire_frame **resp)
{
	Sotto__Wire__Frame f = SOTTO__WIRE__FRAME__INIT;
	Sotto__Wire__RecoverRequest rq = SOTTO__WIRE__RECOVER_REQUEST__INIT;
	uint8_t msg[WIRE_AUTH_MSG_MAX], sig[SC_SIG];
	size_t mlen;
	conn *cn = NULL;
	int r;

	*resp = NULL;
	if ((r = conn_open(&cn, cfg->address, cfg->pin)) != SOTTO_OK)
		goto out;
	mlen = wire_auth_message(msg, cfg->pin, conn_nonce(cn), cfg->handle);
	sc_sign(sig, msg, mlen, sign_sec);
	rq.handle = (char *)cfg->handle;
	rq.device_list.data = (uint8_t *)list;
	rq.device_list.len = n;
	rq.signature.data = sig;
	rq.signature.len = SC_SIG;
	rq.since_version = since;
	f.msg_case = SOTTO__WIRE__FRAME__MSG_RECOVER;
	f.recover = &rq;
	r = conn_request(cn, &f, resp);
out:
	conn_close(cn);
	return r;
}

int
sotto_recover(const char *home, const sotto_recover_options *o, char device_id[SOTTO_ID_HEX_LEN + 1])
{
	recover_secrets *s = NULL;
	cstore_config cfg;
	chain *ch = NULL;
	dl_list *next = NULL;
	wire_frame *resp = NULL;
	uint8_t *signed_list = NULL;
	size_t n = 0, signed_len = 0, i;
	uint64_t since = 0;
	const char *name;
	int r, made_dir = 0, claimed = 0, more;

	memset(&cfg, 0, sizeof(cfg));
	if (home == NULL || o == NULL || device_id == NULL || o->server == NULL || o->pin == NULL ||
	    o->handle == NULL || o->code == NULL || strlen(o->server) > SOTTO_MAX_ADDRESS ||
	    strchr(o->server, ':') == NULL || !handle_valid(o->handle))
		return SOTTO_ERR_INVALID_ARG;
	name = o->device_name != NULL ? o->device_name : "device";
	if (!dl_name_valid(name))
		return SOTTO_ERR_INVALID_ARG;
	if ((r = sc_init()) != SOTTO_OK)
		return r;
	if (tls_pin_from_text(cfg.pin, o->pin) != SOTTO_OK)
		return SOTTO_ERR_INVALID_ARG;
	snprintf(cfg.address, sizeof(cfg.address), "%s", o->server);
	snprintf(cfg.handle, sizeof(cfg.handle), "%s", o->handle);
	r = SOTTO_ERR_NOMEM;
	if ((s = sc_secure_alloc(sizeof(*s))) == NULL || (ch = calloc(1, sizeof(*ch))) == NULL ||
	    (next = calloc(1, sizeof(*next))) == NULL)
		goto out;
	memset(s, 0, sizeof(*s));
	r = SOTTO_ERR_FORMAT;
	if (strlen(o->code) != SOTTO_RECOVERY_CODE_LEN ||
	    sc_unb64(s->seed, sizeof(s->seed), &n, o->code, strlen(o->code)) != SOTTO_OK ||
	    n != SC_SIGN_SEED)
		goto out;
	if ((r = sc_sign_seed_keypair(cfg.account_pub, s->account_sec, s->seed)) != SOTTO_OK)
		goto out;
	memcpy(ch->account_pub, cfg.account_pub, SC_SIGN_PUB);
	if ((r = home_claim(home, &made_dir)) != SOTTO_OK)
		goto out;
	claimed = 1;

	/* The history, proven to the server with the account key, verified here. */
	do {
		wire_free(resp);
		if ((r = recover_request(&cfg, NULL, 0, since, s->account_sec, &resp)) != SOTTO_OK) {
			if (r == SOTTO_ERR_UNAUTHENTICATED)
				r = SOTTO_ERR_BAD_SIGNATURE;
			goto out;
		}
		for (i = 0; i < resp->response->n_device_lists; i++)
			if ((r = chain_add(ch, resp->response->device_lists[i].data,
			    resp->response->device_lists[i].len)) != SOTTO_OK)
				goto out;
		more = resp->response->more && resp->response->n_device_lists > 0;
		if (ch->n == 0 || (more && ch->last.version <= since)) {
			r = SOTTO_ERR_CHAIN;
			goto out;
		}
		since = ch->last.version;
	} while (more);

	sc_sign_keypair(next->devices[0].sig_pub, s->keys);
	sc_kx_keypair(next->devices[0].enc_pub, s->keys + SC_SIGN_SEC);
	sc_device_id(cfg.device_id, next->devices[0].sig_pub);
	memcpy(next->devices[0].id, cfg.device_id, SC_DEVICE_ID);
	snprintf(next->devices[0].name, sizeof(next->devices[0].name), "%s", name);
	snprintf(next->handle, sizeof(next->handle), "%s", cfg.handle);
	memcpy(next->account_pub, cfg.account_pub, SC_SIGN_PUB);
	next->version = ch->last.version + 1;
	dl_hash(next->prev_hash, ch->p[ch->n - 1], ch->len[ch->n - 1]);
	next->created_at = client_now_ms();
	next->devices[0].added_at = next->created_at;
	next->n_devices = 1;
	if ((r = dl_sign_account(next, s->account_sec, &signed_list, &signed_len)) != SOTTO_OK ||
	    (r = chain_add(ch, signed_list, signed_len)) != SOTTO_OK)
		goto out;
	wire_free(resp);
	if ((r = recover_request(&cfg, signed_list, signed_len, 0, s->keys, &resp)) != SOTTO_OK)
		goto out;
	if ((r = home_write(home, &cfg, s->keys, o->passphrase, ch)) != SOTTO_OK)
		goto out;
	sc_hex(device_id, cfg.device_id, SC_DEVICE_ID);
	claimed = 0;
	r = SOTTO_OK;
out:
	if (claimed)
		home_release(home, made_dir);
	wire_free(resp);
	free(signed_list);
	free(next);
	chain_free(ch);
	sc_secure_free(s);
	return r;
}
