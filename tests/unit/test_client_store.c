/* SPDX-License-Identifier: ISC */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include <sqlite3.h>

#include "client.h"
#include "keyfile.h"

static const uint8_t HKEY[CSTORE_HISTORY_KEY] = { 0x5a, 0x01, 0x02, 0x03 };

typedef struct fixture {
	char dir[64];
	char path[128];
	cstore *st;
} fixture;

static int
setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	assert_int_equal(sc_init(), SOTTO_OK);
	snprintf(f->dir, sizeof(f->dir), "/tmp/sotto-store-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/sotto.db", f->dir);
	assert_int_equal(cstore_open(&f->st, f->path, 1), SOTTO_OK);
	assert_int_equal(cstore_version(f->st), CSTORE_VERSION);
	assert_int_equal(cstore_unlock(f->st, HKEY), SOTTO_OK);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	fixture *f = *state;
	char p[160];

	cstore_close(f->st);
	unlink(f->path);
	snprintf(p, sizeof(p), "%s-wal", f->path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", f->path);
	unlink(p);
	rmdir(f->dir);
	free(f);
	return 0;
}

static void
test_create_mode_and_exclusive(void **state)
{
	fixture *f = *state;
	struct stat sb;
	cstore *again = NULL;

	assert_int_equal(stat(f->path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	assert_int_equal(cstore_open(&again, f->path, 1), SOTTO_ERR_EXISTS);
	assert_null(again);
	assert_int_equal(cstore_open(&again, "/nonexistent-sotto/x.db", 0), SOTTO_ERR_NOT_FOUND);
}

static void
test_config_round_trip(void **state)
{
	fixture *f = *state;
	cstore_config a, b;

	memset(&a, 0, sizeof(a));
	snprintf(a.address, sizeof(a.address), "127.0.0.1:7443");
	snprintf(a.handle, sizeof(a.handle), "alice");
	memset(a.pin, 0x11, sizeof(a.pin));
	memset(a.device_id, 0x22, sizeof(a.device_id));
	memset(a.account_pub, 0x33, sizeof(a.account_pub));
	assert_int_equal(cstore_config_get(f->st, &b), SOTTO_ERR_DB);
	assert_int_equal(cstore_config_set(f->st, &a), SOTTO_OK);
	memset(&b, 0, sizeof(b));
	assert_int_equal(cstore_config_get(f->st, &b), SOTTO_OK);
	assert_memory_equal(&a, &b, sizeof(a));
}

static cstore_message
message(uint8_t idbyte, const char *body)
{
	cstore_message m;

	memset(&m, 0, sizeof(m));
	memset(m.msg_id, idbyte, sizeof(m.msg_id));
	snprintf(m.from, sizeof(m.from), "bob");
	memset(m.device, 0x44, sizeof(m.device));
	snprintf(m.to, sizeof(m.to), "alice,carol");
	m.sent_at = 1700000000000ULL;
	m.body = (const uint8_t *)body;
	m.body_len = strlen(body);
	m.received_at = 1700000000500ULL;
	return m;
}

static void
test_replay_dropped(void **state)
{
	fixture *f = *state;
	cstore_message m = message(0xaa, "hello"), other = message(0xbb, "hello");
	uint8_t id[16];

	memset(id, 0xaa, sizeof(id));
	assert_int_equal(cstore_message_seen(f->st, id), 0);
	assert_int_equal(cstore_message_add(f->st, &m), SOTTO_OK);
	assert_int_equal(cstore_message_seen(f->st, id), 1);
	/* The same id again, even with another body, is a replay. */
	m.body = (const uint8_t *)"changed";
	m.body_len = 7;
	assert_int_equal(cstore_message_add(f->st, &m), SOTTO_ERR_REPLAY);
	/* Inside a transaction too, and the transaction still commits the rest. */
	assert_int_equal(cstore_begin(f->st), SOTTO_OK);
	assert_int_equal(cstore_message_add(f->st, &m), SOTTO_ERR_REPLAY);
	assert_int_equal(cstore_message_add(f->st, &other), SOTTO_OK);
	assert_int_equal(cstore_commit(f->st), SOTTO_OK);
	memset(id, 0xbb, sizeof(id));
	assert_int_equal(cstore_message_seen(f->st, id), 1);
	/* A rolled-back message was never seen. */
	m = message(0xcc, "rolled back");
	assert_int_equal(cstore_begin(f->st), SOTTO_OK);
	assert_int_equal(cstore_message_add(f->st, &m), SOTTO_OK);
	cstore_rollback(f->st);
	memset(id, 0xcc, sizeof(id));
	assert_int_equal(cstore_message_seen(f->st, id), 0);
	/* Over-long bodies are refused before the database. */
	m.body_len = SOTTO_MAX_BODY + 1;
	assert_int_equal(cstore_message_add(f->st, &m), SOTTO_ERR_INVALID_ARG);
}

/* Nested transactions: an inner rollback undoes only its level; an inner
 * commit lasts only if the outer one commits; three levels deep as well. */
static void
test_nested_transactions(void **state)
{
	fixture *f = *state;
	cstore_message a = message(0x01, "a"), b = message(0x02, "b"), c = message(0x03, "c"),
	    d = message(0x04, "d");
	uint8_t id[16];

	assert_int_equal(cstore_commit(f->st), SOTTO_ERR_INTERNAL);	/* nothing open */
	assert_int_equal(cstore_begin(f->st), SOTTO_OK);
	assert_int_equal(cstore_message_add(f->st, &a), SOTTO_OK);
	assert_int_equal(cstore_begin(f->st), SOTTO_OK);
	assert_int_equal(cstore_message_add(f->st, &b), SOTTO_OK);
	cstore_rollback(f->st);					/* b undone */
	assert_int_equal(cstore_begin(f->st), SOTTO_OK);
	assert_int_equal(cstore_message_add(f->st, &c), SOTTO_OK);
	assert_int_equal(cstore_begin(f->st), SOTTO_OK);	/* three deep */
	assert_int_equal(cstore_message_add(f->st, &d), SOTTO_OK);
	assert_int_equal(cstore_commit(f->st), SOTTO_OK);
	assert_int_equal(cstore_commit(f->st), SOTTO_OK);
	assert_int_equal(cstore_commit(f->st), SOTTO_OK);	/* a, c, d kept */
	memset(id, 0x01, sizeof(id));
	assert_int_equal(cstore_message_seen(f->st, id), 1);
	memset(id, 0x02, sizeof(id));
	assert_int_equal(cstore_message_seen(f->st, id), 0);
	memset(id, 0x03, sizeof(id));
	assert_int_equal(cstore_message_seen(f->st, id), 1);
	memset(id, 0x04, sizeof(id));
	assert_int_equal(cstore_message_seen(f->st, id), 1);
	/* Committed inside, rolled back outside: gone. */
	a = message(0x05, "e");
	assert_int_equal(cstore_begin(f->st), SOTTO_OK);
	assert_int_equal(cstore_begin(f->st), SOTTO_OK);
	assert_int_equal(cstore_message_add(f->st, &a), SOTTO_OK);
	assert_int_equal(cstore_commit(f->st), SOTTO_OK);
	cstore_rollback(f->st);
	memset(id, 0x05, sizeof(id));
	assert_int_equal(cstore_message_seen(f->st, id), 0);
	/* Back at depth 0: a new transaction works. */
	assert_int_equal(cstore_begin(f->st), SOTTO_OK);
	assert_int_equal(cstore_commit(f->st), SOTTO_OK);
}

static int
count_held(const uint8_t *env, size_t env_len, const uint8_t *wrap, size_t wrap_len, void *arg)
{
	assert_true(env_len == 3 && memcmp(env, "env", 3) == 0);
	assert_true(wrap_len == 4 && memcmp(wrap, "wrap", 4) == 0);
	(*(int *)arg)++;
	return 0;
}

/* Held messages: once per msg id, capped per sender, alerted once, dropped. */
static void
test_held(void **state)
{
	fixture *f = *state;
	uint8_t id[32];
	int first = 0, n = 0;

	memset(id, 0, sizeof(id));
	assert_int_equal(cstore_held_add(f->st, "bob", id, (const uint8_t *)"env", 3,
	    (const uint8_t *)"wrap", 4, 1000, &first), SOTTO_OK);
	assert_int_equal(first, 1);
	/* The same id again: kept once, no second alert. */
	assert_int_equal(cstore_held_add(f->st, "bob", id, (const uint8_t *)"env", 3,
	    (const uint8_t *)"wrap", 4, 1001, &first), SOTTO_OK);
	assert_int_equal(first, 0);
	for (int i = 1; i < CSTORE_MAX_HELD_PER_SENDER; i++) {
		id[0] = (uint8_t)i;
		id[1] = (uint8_t)(i >> 8);
		assert_int_equal(cstore_held_add(f->st, "bob", id, (const uint8_t *)"env", 3,
		    (const uint8_t *)"wrap", 4, 1002, &first), SOTTO_OK);
		assert_int_equal(first, 0);
	}
	/* One already held, delivered again at the cap: still fine, no alert. */
	memset(id, 0, sizeof(id));
	assert_int_equal(cstore_held_add(f->st, "bob", id, (const uint8_t *)"env", 3,
	    (const uint8_t *)"wrap", 4, 1003, &first), SOTTO_OK);
	assert_int_equal(first, 0);
	/* The cap of one claimed sender does not block another. */
	id[2] = 0xff;
	assert_int_equal(cstore_held_add(f->st, "bob", id, (const uint8_t *)"env", 3,
	    (const uint8_t *)"wrap", 4, 1003, &first), SOTTO_ERR_TOO_LARGE);
	assert_int_equal(cstore_held_add(f->st, "carol", id, (const uint8_t *)"env", 3,
	    (const uint8_t *)"wrap", 4, 1003, &first), SOTTO_OK);
	assert_int_equal(first, 1);
	assert_int_equal(cstore_held_each(f->st, "bob", count_held, &n), SOTTO_OK);
	assert_int_equal(n, CSTORE_MAX_HELD_PER_SENDER);
	assert_int_equal(cstore_held_drop(f->st, "bob"), SOTTO_OK);
	n = 0;
	assert_int_equal(cstore_held_each(f->st, "bob", count_held, &n), SOTTO_OK);
	assert_int_equal(n, 0);
	assert_int_equal(cstore_held_each(f->st, "carol", count_held, &n), SOTTO_OK);
	assert_int_equal(n, 1);
	/* Empty or oversized bytes are refused before the database. */
	assert_int_equal(cstore_held_add(f->st, "dave", id, (const uint8_t *)"", 0,
	    (const uint8_t *)"wrap", 4, 1003, &first), SOTTO_ERR_INVALID_ARG);
}

static void
test_alerts_round_trip(void **state)
{
	fixture *f = *state;
	sotto_alert *a = NULL;
	size_t n = 0;
	uint8_t dev[SC_DEVICE_ID];

	memset(dev, 0xab, sizeof(dev));
	assert_int_equal(cstore_alerts(f->st, &a, &n), SOTTO_OK);
	assert_int_equal(n, 0);
	sotto_alerts_free(a, n);
	assert_int_equal(cstore_alert_add(f->st, "identity_reset", "bob", NULL, 1000, "reset \"x\""), SOTTO_OK);
	assert_int_equal(cstore_alert_add(f->st, "device_added", "alice", dev, 2000, "added"), SOTTO_OK);
	assert_int_equal(cstore_alerts(f->st, &a, &n), SOTTO_OK);
	assert_int_equal(n, 2);
	assert_string_equal(a[0].kind, "identity_reset");
	assert_string_equal(a[0].handle, "bob");
	assert_string_equal(a[0].device, "");
	assert_int_equal(a[0].at, 1000);
	assert_string_equal(a[0].text, "reset \"x\"");
	assert_int_equal(a[0].seen, 0);
	assert_string_equal(a[1].kind, "device_added");
	assert_string_equal(a[1].device, "abababababababababababababababab");
	assert_int_equal(a[1].at, 2000);
	sotto_alerts_free(a, n);
	/* Listing marks them seen. */
	assert_int_equal(cstore_alerts(f->st, &a, &n), SOTTO_OK);
	assert_int_equal(n, 2);
	assert_int_equal(a[0].seen, 1);
	assert_int_equal(a[1].seen, 1);
	sotto_alerts_free(a, n);
}

/* A signed chain v1 (account key) and v2 (signed by v1's device). */
static void
make_chain(uint8_t **v1, size_t *n1, uint8_t **v2, size_t *n2, dl_list *l)
{
	uint8_t account_sec[SC_SIGN_SEC], dev_sec[SC_SIGN_SEC], dev2_sec[SC_SIGN_SEC], kx_sec[SC_KX_SEC];

	memset(l, 0, sizeof(*l));
	snprintf(l->handle, sizeof(l->handle), "bob");
	sc_sign_keypair(l->account_pub, account_sec);
	l->version = 1;
	l->created_at = 1000;
	l->n_devices = 1;
	sc_sign_keypair(l->devices[0].sig_pub, dev_sec);
	sc_kx_keypair(l->devices[0].enc_pub, kx_sec);
	sc_device_id(l->devices[0].id, l->devices[0].sig_pub);
	snprintf(l->devices[0].name, sizeof(l->devices[0].name), "phone");
	l->devices[0].added_at = 1000;
	assert_int_equal(dl_sign_account(l, account_sec, v1, n1), SOTTO_OK);

	l->version = 2;
	dl_hash(l->prev_hash, *v1, *n1);
	l->n_devices = 2;
	sc_sign_keypair(l->devices[1].sig_pub, dev2_sec);
	sc_kx_keypair(l->devices[1].enc_pub, kx_sec);
	sc_device_id(l->devices[1].id, l->devices[1].sig_pub);
	snprintf(l->devices[1].name, sizeof(l->devices[1].name), "laptop");
	l->devices[1].added_at = 2000;
	memcpy(l->devices[1].approved_by, l->devices[0].id, SC_DEVICE_ID);
	assert_int_equal(dl_sign_device(l, l->devices[0].id, dev_sec, v2, n2), SOTTO_OK);
	sc_wipe(account_sec, sizeof(account_sec));
	sc_wipe(dev_sec, sizeof(dev_sec));
	sc_wipe(dev2_sec, sizeof(dev2_sec));
	sc_wipe(kx_sec, sizeof(kx_sec));
}

static void
test_device_list_history(void **state)
{
	fixture *f = *state;
	dl_list *l = calloc(1, sizeof(*l)), *got = calloc(1, sizeof(*got)), *first = calloc(1, sizeof(*first));
	uint8_t *v1 = NULL, *v2 = NULL, *b = NULL, h[SC_SHA256];
	size_t n1, n2, bn = 0;
	cstore_contact k, k2;

	assert_non_null(l);
	assert_non_null(got);
	assert_non_null(first);
	make_chain(&v1, &n1, &v2, &n2, l);
	assert_int_equal(cstore_list_latest(f->st, "bob", got, &b, &bn), SOTTO_ERR_NOT_FOUND);

	memset(&k, 0, sizeof(k));
	snprintf(k.handle, sizeof(k.handle), "bob");
	memcpy(k.account_pub, l->account_pub, SC_SIGN_PUB);
	assert_int_equal(cstore_contact_put(f->st, &k), SOTTO_OK);
	assert_int_equal(cstore_list_add(f->st, "bob", 1, v1, n1), SOTTO_OK);
	assert_int_equal(cstore_list_add(f->st, "bob", 2, v2, n2), SOTTO_OK);

	/* Latest is v2, re-parsed from the database, and still chains to v1. */
	assert_int_equal(cstore_list_latest(f->st, "bob", got, &b, &bn), SOTTO_OK);
	assert_int_equal(got->version, 2);
	assert_int_equal(got->n_devices, 2);
	assert_int_equal(bn, n2);
	assert_memory_equal(b, v2, n2);
	free(b);
	b = NULL;
	assert_int_equal(cstore_list_get(f->st, "bob", 1, first, &b, &bn), SOTTO_OK);
	assert_int_equal(first->version, 1);
	assert_int_equal(dl_verify_first(first, b, bn), SOTTO_OK);
	dl_hash(h, b, bn);
	assert_int_equal(dl_verify_next(first, h, got, v2, n2), SOTTO_OK);
	free(b);
	b = NULL;

	/* Stored bytes are not trusted: a list filed under another handle is refused. */
	assert_int_equal(cstore_list_add(f->st, "carol", 1, v1, n1), SOTTO_OK);
	assert_int_equal(cstore_list_latest(f->st, "carol", got, &b, &bn), SOTTO_ERR_DB);
	assert_null(b);
	/* ... as is one under the wrong version, or corrupted bytes. */
	assert_int_equal(cstore_list_add(f->st, "bob", 3, v1, n1), SOTTO_OK);
	assert_int_equal(cstore_list_latest(f->st, "bob", got, &b, &bn), SOTTO_ERR_DB);
	v2[n2 / 2] ^= 0xff;
	assert_int_equal(cstore_contact_forget(f->st, "bob"), SOTTO_OK);
	assert_int_equal(cstore_list_add(f->st, "bob", 2, v2, n2 - 1), SOTTO_OK);
	assert_int_equal(cstore_list_latest(f->st, "bob", got, &b, &bn), SOTTO_ERR_DB);

	/* Forgetting removes the contact and its history. */
	assert_int_equal(cstore_contact_forget(f->st, "bob"), SOTTO_OK);
	assert_int_equal(cstore_contact_get(f->st, "bob", &k2), SOTTO_ERR_NOT_FOUND);
	assert_int_equal(cstore_list_latest(f->st, "bob", got, &b, &bn), SOTTO_ERR_NOT_FOUND);
	free(v1);
	free(v2);
	free(l);
	free(got);
	free(first);
}

static void
test_contacts(void **state)
{
	fixture *f = *state;
	cstore_contact k, g;
	sqlite3 *db;

	memset(&k, 0, sizeof(k));
	snprintf(k.handle, sizeof(k.handle), "dave");
	memset(k.account_pub, 7, sizeof(k.account_pub));
	k.state = CONTACT_RESET_PENDING;
	assert_int_equal(cstore_contact_put(f->st, &k), SOTTO_OK);
	assert_int_equal(cstore_contact_get(f->st, "dave", &g), SOTTO_OK);
	assert_memory_equal(&k, &g, sizeof(k));
	k.state = CONTACT_NORMAL;
	k.verified = 1;
	assert_int_equal(cstore_contact_put(f->st, &k), SOTTO_OK);
	assert_int_equal(cstore_contact_get(f->st, "dave", &g), SOTTO_OK);
	assert_int_equal(g.verified, 1);
	assert_int_equal(g.state, CONTACT_NORMAL);
	/* A short key blob written behind our back is refused. */
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "UPDATE contacts SET account_pub = x'0102' WHERE handle = 'dave'",
	    NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "UPDATE config SET value = x'00' WHERE key = 'pin'",
	    NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(cstore_contact_get(f->st, "dave", &g), SOTTO_ERR_DB);
}


/* ---- history at rest ---- */

/* 1 if the file at path holds needle anywhere in its raw bytes. */
static int
file_has(const char *path, const char *needle)
{
	FILE *fp = fopen(path, "rb");
	size_t n = 0, cap = 0, k, nl = strlen(needle);
	uint8_t *b = NULL;
	int found = 0;

	if (fp == NULL)
		return 0;
	for (;;) {
		if (n == cap) {
			cap = cap ? cap * 2 : 65536;
			assert_non_null(b = realloc(b, cap));
		}
		if ((k = fread(b + n, 1, cap - n, fp)) == 0)
			break;
		n += k;
	}
	fclose(fp);
	for (size_t i = 0; i + nl <= n && !found; i++)
		found = memcmp(b + i, needle, nl) == 0;
	free(b);
	return found;
}

/* Neither sotto.db nor its WAL holds any of the needles. */
static void
assert_no_plaintext(const char *db, const char *const *needles, size_t n)
{
	char wal[4200];

	snprintf(wal, sizeof(wal), "%s-wal", db);
	for (size_t i = 0; i < n; i++) {
		if (file_has(db, needles[i]) || file_has(wal, needles[i]))
			fail_msg("\"%s\" is stored in the clear", needles[i]);
	}
}

typedef struct seen {
	int n;
	char bodies[8][64];
	char from[8][SOTTO_MAX_HANDLE + 1];
	char to[8][128];
	uint64_t sent_at[8];
	int outgoing[8];
	uint8_t ids[8][16];
} seen;

static int
collect(const cstore_message *m, void *arg)
{
	seen *s = arg;

	assert_true(s->n < 8);
	snprintf(s->bodies[s->n], sizeof(s->bodies[0]), "%.*s", (int)m->body_len, m->body);
	snprintf(s->from[s->n], sizeof(s->from[0]), "%s", m->from);
	snprintf(s->to[s->n], sizeof(s->to[0]), "%.100s", m->to);
	s->sent_at[s->n] = m->sent_at;
	s->outgoing[s->n] = m->outgoing;
	memcpy(s->ids[s->n], m->msg_id, 16);
	s->n++;
	return 0;
}

/* What a thief copies: the database and its WAL, with no key. */
static void
test_at_rest_no_plaintext(void **state)
{
	static const char *const secrets[] = {
		"zebra-body-received", "quokka-body-sent", "sender-handle-xq", "recipient-xq",
		"alert-text-pangolin", "held-sender-xq", "held-envelope-plain", "held-wrap-plain",
	};
	fixture *f = *state;
	cstore_message in = message(0x61, "zebra-body-received"), out = message(0x62, "quokka-body-sent");
	uint8_t id[16];
	seen s;

	snprintf(in.from, sizeof(in.from), "sender-handle-xq");
	snprintf(in.to, sizeof(in.to), "alice,recipient-xq");
	snprintf(out.from, sizeof(out.from), "alice");
	snprintf(out.to, sizeof(out.to), "recipient-xq");
	out.outgoing = 1;
	out.sent_at = 1700000000123ULL;
	assert_int_equal(cstore_message_add(f->st, &in), SOTTO_OK);
	assert_int_equal(cstore_message_add(f->st, &out), SOTTO_OK);
	assert_int_equal(cstore_alert_add(f->st, "rejected_message", "bob", NULL, 5,
	    "alert-text-pangolin"), SOTTO_OK);
	{
		uint8_t h[32];
		int first = 0;
		uint64_t n = 0;

		memset(h, 0x99, sizeof(h));
		assert_int_equal(cstore_held_add(f->st, "held-sender-xq", h, (const uint8_t *)"held-envelope-plain",
		    19, (const uint8_t *)"held-wrap-plain", 15, 7, &first), SOTTO_OK);
		assert_int_equal(first, 1);
		assert_int_equal(cstore_held_count(f->st, "held-sender-xq", &n), SOTTO_OK);
		assert_int_equal(n, 1);
	}
	/* While open (the rows are in the WAL) and after closing. */
	assert_no_plaintext(f->path, secrets, sizeof(secrets) / sizeof(secrets[0]));
	memset(&s, 0, sizeof(s));
	assert_int_equal(cstore_messages_all(f->st, NULL, collect, &s), SOTTO_OK);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.bodies[0], "zebra-body-received");
	assert_string_equal(s.from[0], "sender-handle-xq");
	assert_string_equal(s.to[0], "alice,recipient-xq");
	assert_int_equal(s.outgoing[0], 0);
	assert_string_equal(s.bodies[1], "quokka-body-sent");
	assert_int_equal(s.outgoing[1], 1);
	assert_int_equal(s.sent_at[1], 1700000000123ULL);
	memset(id, 0x62, sizeof(id));
	assert_memory_equal(s.ids[1], id, 16);
	/* The handle filter works on the opened rows. */
	memset(&s, 0, sizeof(s));
	assert_int_equal(cstore_messages_all(f->st, "recipient-xq", collect, &s), SOTTO_OK);
	assert_int_equal(s.n, 2);
	memset(&s, 0, sizeof(s));
	assert_int_equal(cstore_messages_all(f->st, "sender-handle-xq", collect, &s), SOTTO_OK);
	assert_int_equal(s.n, 1);
	memset(&s, 0, sizeof(s));
	assert_int_equal(cstore_messages_all(f->st, "recipient", collect, &s), SOTTO_OK);
	assert_int_equal(s.n, 0);
	cstore_close(f->st);
	f->st = NULL;
	assert_no_plaintext(f->path, secrets, sizeof(secrets) / sizeof(secrets[0]));
	/* The id the server saw is not the row's key either. */
	memset(id, 0x61, sizeof(id));
	{
		char hex[33];
		sqlite3 *db;
		sqlite3_stmt *st;
		int hits = -1;

		sc_hex(hex, id, 16);
		assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
		assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM messages WHERE msg_key = ? "
		    "OR instr(sealed, ?) > 0", -1, &st, NULL), SQLITE_OK);
		sqlite3_bind_blob(st, 1, id, 16, SQLITE_STATIC);
		sqlite3_bind_blob(st, 2, id, 16, SQLITE_STATIC);
		assert_int_equal(sqlite3_step(st), SQLITE_ROW);
		hits = sqlite3_column_int(st, 0);
		sqlite3_finalize(st);
		sqlite3_close(db);
		assert_int_equal(hits, 0);
	}
	/* Another key does not open this history, and says so at once. */
	assert_int_equal(cstore_open(&f->st, f->path, 0), SOTTO_OK);
	{
		uint8_t other[CSTORE_HISTORY_KEY];

		memcpy(other, HKEY, sizeof(other));
		other[31] ^= 1;
		assert_int_equal(cstore_unlock(f->st, other), SOTTO_ERR_DECRYPT);
		memset(&s, 0, sizeof(s));
		assert_int_equal(cstore_messages_all(f->st, NULL, collect, &s), SOTTO_ERR_INTERNAL);
	}
	assert_int_equal(cstore_unlock(f->st, HKEY), SOTTO_OK);
	memset(&s, 0, sizeof(s));
	assert_int_equal(cstore_messages_all(f->st, NULL, collect, &s), SOTTO_OK);
	assert_int_equal(s.n, 2);
}

static void
raw_exec(const char *path, const char *sql)
{
	sqlite3 *db;
	char *err = NULL;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
		fail_msg("%s: %s", sql, err);
	sqlite3_close(db);
}

/* fn of cstore_held_each: adds the envelope's number (env1, env2). */
static int
sum_held(const uint8_t *env, size_t env_len, const uint8_t *wrap, size_t wrap_len, void *arg)
{
	(void)wrap;
	(void)wrap_len;
	if (env_len == 4 && memcmp(env, "env", 3) == 0)
		*(int *)arg += env[3] - '0';
	return 0;
}

/* An altered value, or one moved to another row, is an error for that row
 * alone: the walk goes on, receive's catch-up too, and says what it skipped. */
static void
test_tampered_rows(void **state)
{
	fixture *f = *state;
	cstore_message m1 = message(0x71, "one"), m2 = message(0x72, "two"), m3 = message(0x73, "three"),
	    m4 = message(0x74, "four");
	sotto_alert *a = NULL;
	size_t n = 0;
	int64_t first = 0;
	seen s;

	assert_int_equal(cstore_message_add(f->st, &m1), SOTTO_OK);
	assert_int_equal(cstore_message_add(f->st, &m2), SOTTO_OK);
	assert_int_equal(cstore_message_add(f->st, &m3), SOTTO_OK);
	assert_int_equal(cstore_message_add(f->st, &m4), SOTTO_OK);
	assert_int_equal(cstore_alert_add(f->st, "identity_reset", "bob", NULL, 1, "first"), SOTTO_OK);
	assert_int_equal(cstore_alert_add(f->st, "identity_reset", "bob", NULL, 2, "second"), SOTTO_OK);
	assert_int_equal(cstore_alert_add(f->st, "identity_reset", "bob", NULL, 3, "third"), SOTTO_OK);
	/* Row 2: one bit of its ciphertext flipped. Rows 3 and 4: values swapped.
	 * Alert 1: its tag altered; alerts 2 and 3: texts swapped. */
	raw_exec(f->path,
	    "UPDATE messages SET sealed = substr(sealed, 1, 40) || CASE WHEN substr(sealed, 41, 1) = X'00' "
	    "  THEN X'01' ELSE X'00' END || substr(sealed, 42) WHERE id = 2;"
	    "CREATE TEMP TABLE m AS SELECT id, sealed FROM messages WHERE id IN (3, 4);"
	    "UPDATE messages SET sealed = (SELECT sealed FROM m WHERE m.id = 7 - messages.id) "
	    "  WHERE id IN (3, 4);"
	    "UPDATE alerts SET text = substr(text, 1, length(text) - 1) || X'00' WHERE id = 1;"
	    "CREATE TEMP TABLE a AS SELECT id, text FROM alerts WHERE id IN (2, 3);"
	    "UPDATE alerts SET text = (SELECT text FROM a WHERE a.id = 5 - alerts.id) WHERE id IN (2, 3);");
	memset(&s, 0, sizeof(s));
	assert_int_equal(cstore_messages_all(f->st, NULL, collect, &s), SOTTO_OK);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.bodies[0], "one");
	assert_int_equal(cstore_skipped(f->st, &first), 3);
	assert_int_equal(first, 2);
	memset(&s, 0, sizeof(s));
	assert_int_equal(cstore_messages_unshown(f->st, collect, &s), SOTTO_OK);
	assert_int_equal(s.n, 1);
	assert_int_equal(cstore_skipped(f->st, NULL), 3);
	/* A message after the damaged ones is stored and read as ever. */
	m1 = message(0x75, "five");
	assert_int_equal(cstore_message_add(f->st, &m1), SOTTO_OK);
	memset(&s, 0, sizeof(s));
	assert_int_equal(cstore_messages_unshown(f->st, collect, &s), SOTTO_OK);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.bodies[1], "five");
	/* A held row whose envelope and wrap were swapped (columns) does not
	 * open; the other one does. */
	{
		uint8_t h1[32], h2[32];
		int fh = 0, seen_env = 0;

		memset(h1, 1, sizeof(h1));
		memset(h2, 2, sizeof(h2));
		assert_int_equal(cstore_held_add(f->st, "carol", h1, (const uint8_t *)"env1", 4,
		    (const uint8_t *)"wrap1", 5, 1, &fh), SOTTO_OK);
		assert_int_equal(cstore_held_add(f->st, "carol", h2, (const uint8_t *)"env2", 4,
		    (const uint8_t *)"wrap2", 5, 2, &fh), SOTTO_OK);
		raw_exec(f->path, "UPDATE held_messages SET envelope = wrap, wrap = envelope "
		    "WHERE id = (SELECT min(id) FROM held_messages);");
		assert_int_equal(cstore_held_each(f->st, "carol", sum_held, &seen_env), SOTTO_OK);
		assert_int_equal(seen_env, 2);
	}
	/* Every alert is still listed; the damaged texts say so. */
	assert_int_equal(cstore_alerts(f->st, &a, &n), SOTTO_OK);
	assert_int_equal(n, 3);
	for (size_t i = 0; i < n; i++)
		assert_non_null(strstr(a[i].text, "could not be read"));
	sotto_alerts_free(a, n);
}

/* The version-0 schema, as homes made before history was encrypted have it. */
static const char schema_v0[] =
    "CREATE TABLE config(key TEXT PRIMARY KEY, value BLOB NOT NULL);"
    "CREATE TABLE contacts(handle TEXT PRIMARY KEY, account_pub BLOB NOT NULL,"
    "  verified INTEGER NOT NULL DEFAULT 0, state INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE device_lists(handle TEXT NOT NULL, version INTEGER NOT NULL, signed BLOB NOT NULL,"
    "  PRIMARY KEY(handle, version));"
    "CREATE TABLE messages(id INTEGER PRIMARY KEY, msg_id BLOB NOT NULL UNIQUE, sender TEXT NOT NULL,"
    "  device BLOB NOT NULL, recipients TEXT NOT NULL, sent_at INTEGER NOT NULL,"
    "  body BLOB NOT NULL, outgoing INTEGER NOT NULL, received_at INTEGER NOT NULL,"
    "  shown INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE alerts(id INTEGER PRIMARY KEY, kind TEXT NOT NULL, handle TEXT NOT NULL, device BLOB,"
    "  at INTEGER NOT NULL, text TEXT NOT NULL, seen INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE held_messages(id INTEGER PRIMARY KEY, sender TEXT NOT NULL, env_hash BLOB NOT NULL,"
    "  envelope BLOB NOT NULL, wrap BLOB NOT NULL, at INTEGER NOT NULL, UNIQUE(sender, env_hash));";

#define PASS "correct horse"

/* Write a home as today's main made it: a version-0 store with rows in the
 * clear and a key file of the two device keys only. */
static void
old_home(const char *dir, const char *pass)
{
	uint8_t keys[CLIENT_KEYS_LEN], pub[SC_SIGN_PUB], kx[SC_KX_PUB], id[SC_DEVICE_ID];
	char db[200], key[200], sql[2048], idhex[33];
	sqlite3 *h;
	int fd;

	snprintf(db, sizeof(db), "%s/sotto.db", dir);
	snprintf(key, sizeof(key), "%s/device.key", dir);
	sc_sign_keypair(pub, keys);
	sc_kx_keypair(kx, keys + SC_SIGN_SEC);
	sc_device_id(id, pub);
	sc_hex(idhex, id, sizeof(id));
	assert_true((fd = open(db, O_WRONLY | O_CREAT | O_EXCL, 0600)) >= 0);
	close(fd);
	assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
	assert_int_equal(sqlite3_exec(h, "PRAGMA journal_mode=WAL;", NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_exec(h, schema_v0, NULL, NULL, NULL), SQLITE_OK);
	snprintf(sql, sizeof(sql),
	    "INSERT INTO config VALUES('address', CAST('127.0.0.1:7443' AS BLOB));"
	    "INSERT INTO config VALUES('pin', zeroblob(32));"
	    "INSERT INTO config VALUES('handle', CAST('alice' AS BLOB));"
	    "INSERT INTO config VALUES('device_id', X'%s');"
	    "INSERT INTO config VALUES('account_pub', zeroblob(32));"
	    "INSERT INTO messages(msg_id, sender, device, recipients, sent_at, body, outgoing, received_at,"
	    "  shown) VALUES(X'01010101010101010101010101010101', 'old-sender-walrus', zeroblob(16),"
	    "  'alice', 1700000000000, CAST('old-body-narwhal' AS BLOB), 0, 1700000000001, 1);"
	    "INSERT INTO messages(msg_id, sender, device, recipients, sent_at, body, outgoing, received_at,"
	    "  shown) VALUES(X'02020202020202020202020202020202', 'alice', zeroblob(16),"
	    "  'old-recipient-okapi', 1700000000002, CAST('old-body-sent-ibex' AS BLOB), 1, 1700000000003, 0);"
	    "INSERT INTO messages(msg_id, sender, device, recipients, sent_at, body, outgoing, received_at,"
	    "  shown) VALUES(X'0303', 'broken', zeroblob(16), 'alice', 1, X'', 0, 1, 1);"
	    "INSERT INTO alerts(kind, handle, device, at, text) VALUES('identity_reset', 'bob', NULL, 5,"
	    "  'old-alert-text-tapir');"
	    "INSERT INTO held_messages(sender, env_hash, envelope, wrap, at) VALUES('old-held-sender-gnu',"
	    "  zeroblob(32), CAST('old-held-envelope-yak' AS BLOB), X'01', 9);", idhex);
	assert_int_equal(sqlite3_exec(h, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(h);
	assert_int_equal(keyfile_write(key, keys, sizeof(keys), pass, pass != NULL ?
	    sc_pwhash_opslimit_min() : 0, pass != NULL ? sc_pwhash_memlimit_min() : 0), SOTTO_OK);
	sc_wipe(keys, sizeof(keys));
}

typedef struct hist {
	int n;
	char body[4][64];
	char from[4][64];
} hist;

static int
hist_one(const sotto_message *m, void *arg)
{
	hist *h = arg;

	if (h->n < 4) {
		snprintf(h->body[h->n], sizeof(h->body[0]), "%.*s", (int)m->body_len, m->body);
		snprintf(h->from[h->n], sizeof(h->from[0]), "%s", m->from);
	}
	h->n++;
	return 0;
}

static int
held_env(const uint8_t *env, size_t env_len, const uint8_t *wrap, size_t wrap_len, void *arg)
{
	*(int *)arg = env_len == 21 && memcmp(env, "old-held-envelope-yak", 21) == 0 && wrap_len == 1 &&
	    wrap[0] == 1;
	return 0;
}

/* A home made by today's main opens; its rows are sealed in one go, the key
 * file gains the history key, and it all happens once. */
static void
test_migrate_old_home(void **state)
{
	static const char *const secrets[] = {
		"old-sender-walrus", "old-body-narwhal", "old-recipient-okapi", "old-body-sent-ibex",
		"old-alert-text-tapir", "old-held-sender-gnu", "old-held-envelope-yak",
	};
	fixture *f = *state;
	char home[128], key[200], db[200];
	uint8_t *secret;
	sotto_client *c = NULL;
	sotto_alert *a = NULL;
	size_t n = 0, len = 0;
	hist h;
	cstore *st = NULL;

	snprintf(home, sizeof(home), "%s/home", f->dir);
	assert_int_equal(mkdir(home, 0700), 0);
	snprintf(key, sizeof(key), "%s/device.key", home);
	snprintf(db, sizeof(db), "%s/sotto.db", home);
	old_home(home, PASS);
	/* The fixture is what the thief would have found before: in the clear. */
	assert_true(file_has(db, "old-body-narwhal") || file_has(strcat(strcpy((char[256]){0}, db),
	    "-wal"), "old-body-narwhal"));

	/* Without the passphrase, or with a wrong one: nothing opens, nothing changes. */
	assert_int_equal(sotto_open(&c, home, NULL), SOTTO_ERR_PASSPHRASE);
	assert_int_equal(sotto_open(&c, home, "wrong"), SOTTO_ERR_PASSPHRASE);
	assert_int_equal(cstore_open(&st, db, 0), SOTTO_OK);
	assert_int_equal(cstore_version(st), 0);
	cstore_close(st);

	assert_int_equal(sotto_open(&c, home, PASS), SOTTO_OK);
	/* The row the old reader refused too (a 2-byte id) is named, not kept. */
	assert_non_null(strstr(sotto_error_detail(c), "1 stored rows were unreadable"));
	memset(&h, 0, sizeof(h));
	assert_int_equal(sotto_history(c, NULL, hist_one, &h), SOTTO_OK);
	assert_int_equal(h.n, 2);
	assert_string_equal(h.body[0], "old-body-narwhal");
	assert_string_equal(h.from[0], "old-sender-walrus");
	assert_string_equal(h.body[1], "old-body-sent-ibex");
	assert_int_equal(sotto_alerts(c, &a, &n), SOTTO_OK);
	assert_int_equal(n, 1);
	assert_string_equal(a[0].text, "old-alert-text-tapir");
	sotto_alerts_free(a, n);
	{
		uint64_t held = 0;
		int env_ok = 0;

		assert_int_equal(cstore_held_count(c->st, "old-held-sender-gnu", &held), SOTTO_OK);
		assert_int_equal(held, 1);
		assert_int_equal(cstore_held_each(c->st, "old-held-sender-gnu", held_env, &env_ok), SOTTO_OK);
		assert_int_equal(env_ok, 1);
	}
	sotto_close(c);
	c = NULL;
	assert_no_plaintext(db, secrets, sizeof(secrets) / sizeof(secrets[0]));

	/* The key file gained the history key and is still protected. */
	assert_non_null(secret = sc_secure_alloc(CLIENT_SECRETS_LEN));
	assert_int_equal(keyfile_is_protected(key), 1);
	assert_int_equal(keyfile_read(key, secret, CLIENT_SECRETS_LEN, &len, NULL), SOTTO_ERR_PASSPHRASE);
	assert_int_equal(keyfile_read(key, secret, CLIENT_SECRETS_LEN, &len, PASS), SOTTO_OK);
	assert_int_equal(len, CLIENT_SECRETS_LEN);
	sc_secure_free(secret);
	assert_int_equal(cstore_open(&st, db, 0), SOTTO_OK);
	assert_int_equal(cstore_version(st), CSTORE_VERSION);
	cstore_close(st);

	/* Once: the next open neither migrates nor makes another key. */
	assert_int_equal(sotto_open(&c, home, PASS), SOTTO_OK);
	assert_string_equal(sotto_error_detail(c), "");
	memset(&h, 0, sizeof(h));
	assert_int_equal(sotto_history(c, "old-recipient-okapi", hist_one, &h), SOTTO_OK);
	assert_int_equal(h.n, 1);
	assert_string_equal(h.body[0], "old-body-sent-ibex");
	sotto_close(c);
	c = NULL;
	assert_int_equal(sotto_open(&c, home, NULL), SOTTO_ERR_PASSPHRASE);
}

/* An unprotected old home stays unprotected; a crash after the new key file
 * and before the commit is finished by the next open under the same key. */
static void
test_migrate_unprotected_and_interrupted(void **state)
{
	fixture *f = *state;
	char home[128], key[200], db[200];
	uint8_t *secret;
	sotto_client *c = NULL;
	size_t len = 0;
	hist h;

	snprintf(home, sizeof(home), "%s/home2", f->dir);
	assert_int_equal(mkdir(home, 0700), 0);
	snprintf(key, sizeof(key), "%s/device.key", home);
	snprintf(db, sizeof(db), "%s/sotto.db", home);
	old_home(home, NULL);
	/* Interrupted: the key file has its history key, the rows are not sealed yet. */
	assert_non_null(secret = sc_secure_alloc(CLIENT_SECRETS_LEN));
	assert_int_equal(keyfile_read(key, secret, CLIENT_SECRETS_LEN, &len, NULL), SOTTO_OK);
	assert_int_equal(len, CLIENT_KEYS_LEN);
	sc_random(secret + CLIENT_KEYS_LEN, CSTORE_HISTORY_KEY);
	assert_int_equal(keyfile_replace(key, secret, CLIENT_SECRETS_LEN, NULL, 0, 0), SOTTO_OK);
	assert_int_equal(sotto_open(&c, home, NULL), SOTTO_OK);
	memset(&h, 0, sizeof(h));
	assert_int_equal(sotto_history(c, NULL, hist_one, &h), SOTTO_OK);
	assert_int_equal(h.n, 2);
	sotto_close(c);
	assert_int_equal(keyfile_is_protected(key), 0);
	{
		uint8_t *again = sc_secure_alloc(CLIENT_SECRETS_LEN);

		assert_non_null(again);
		assert_int_equal(keyfile_read(key, again, CLIENT_SECRETS_LEN, &len, NULL), SOTTO_OK);
		assert_int_equal(len, CLIENT_SECRETS_LEN);
		/* the key it was interrupted with, not a new one */
		assert_memory_equal(again, secret, CLIENT_SECRETS_LEN);
		sc_secure_free(again);
	}
	sc_secure_free(secret);
}

static void
rm_home(const char *dir, const char *name)
{
	static const char *const files[] = { "sotto.db", "sotto.db-wal", "sotto.db-shm", "device.key",
		"device.key.new" };
	char p[256];

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s/%s", dir, name, files[i]);
		unlink(p);
	}
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	rmdir(p);
}

static int
teardown_homes(void **state)
{
	fixture *f = *state;

	rm_home(f->dir, "home");
	rm_home(f->dir, "home2");
	return teardown(state);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_create_mode_and_exclusive, setup, teardown),
		cmocka_unit_test_setup_teardown(test_config_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replay_dropped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nested_transactions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_held, setup, teardown),
		cmocka_unit_test_setup_teardown(test_alerts_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_device_list_history, setup, teardown),
		cmocka_unit_test_setup_teardown(test_contacts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_at_rest_no_plaintext, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tampered_rows, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migrate_old_home, setup, teardown_homes),
		cmocka_unit_test_setup_teardown(test_migrate_unprotected_and_interrupted, setup, teardown_homes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
