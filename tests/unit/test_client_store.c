/* SPDX-License-Identifier: ISC */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include <sqlite3.h>

#include "client.h"

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
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
