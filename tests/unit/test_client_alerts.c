/* SPDX-License-Identifier: ISC */
/* The alert list: grouped per kind and handle while unseen, capped in rows,
 * and homes from before grouping upgraded on open. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <sqlite3.h>

#include "client.h"

/* The history key the alert texts are sealed under (cstore_unlock). */
static const uint8_t hkey[CSTORE_HISTORY_KEY] = { 7 };

static void
text_fn(char *out, size_t max, uint64_t count, void *arg)
{
	snprintf(out, max, "%llu from %s", (unsigned long long)count, (const char *)arg);
}

static void
tmp_db(char dir[64], char path[128])
{
	snprintf(dir, 64, "/tmp/sotto-alerts-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(path, 128, "%s/sotto.db", dir);
}

static void
rm_db(const char *dir, const char *path)
{
	char p[160];

	(void)unlink(path);
	snprintf(p, sizeof(p), "%s-wal", path);
	(void)unlink(p);
	snprintf(p, sizeof(p), "%s-shm", path);
	(void)unlink(p);
	assert_int_equal(rmdir(dir), 0);
}

static void
test_group_then_new_row_once_seen(void **state)
{
	char dir[64], path[128];
	sotto_alert *a = NULL;
	cstore *st = NULL;
	size_t n = 0;

	(void)state;
	tmp_db(dir, path);
	assert_int_equal(cstore_open(&st, path, 1), SOTTO_OK);
	assert_int_equal(cstore_unlock(st, hkey), SOTTO_OK);
	for (int i = 0; i < 37; i++)
		assert_int_equal(cstore_alert_group(st, "rejected_message", "carol", NULL, 1000 + i, text_fn,
		    "carol"), SOTTO_OK);
	assert_int_equal(cstore_alert_group(st, "rejected_message", "dave", NULL, 5, text_fn, "dave"),
	    SOTTO_OK);
	assert_int_equal(cstore_alerts(st, &a, &n), SOTTO_OK);
	assert_int_equal(n, 2);
	assert_int_equal(a[0].count, 37);
	assert_string_equal(a[0].text, "37 from carol");
	assert_int_equal(a[0].at, 1036);
	assert_int_equal(a[1].count, 1);
	sotto_alerts_free(a, n);
	/* seen now: the next one is a row of its own */
	assert_int_equal(cstore_alert_group(st, "rejected_message", "carol", NULL, 2000, text_fn, "carol"),
	    SOTTO_OK);
	assert_int_equal(cstore_alerts(st, &a, &n), SOTTO_OK);
	assert_int_equal(n, 3);
	assert_int_equal(a[2].count, 1);
	assert_false(a[2].seen);
	sotto_alerts_free(a, n);
	cstore_close(st);
	rm_db(dir, path);
}

static void
test_rows_capped(void **state)
{
	char dir[64], path[128], h[16];
	sotto_alert *a = NULL;
	cstore *st = NULL;
	size_t n = 0, full = 0;

	(void)state;
	tmp_db(dir, path);
	assert_int_equal(cstore_open(&st, path, 1), SOTTO_OK);
	assert_int_equal(cstore_unlock(st, hkey), SOTTO_OK);
	assert_int_equal(cstore_begin(st), SOTTO_OK);
	/* the first 10 listed (seen): they make room first */
	for (int i = 0; i < 10; i++)
		assert_int_equal(cstore_alert_add(st, "device_added", "me", NULL, 1, "old"), SOTTO_OK);
	assert_int_equal(cstore_commit(st), SOTTO_OK);
	assert_int_equal(cstore_alerts(st, &a, &n), SOTTO_OK);
	sotto_alerts_free(a, n);
	assert_int_equal(cstore_begin(st), SOTTO_OK);
	for (int i = 0; i < SOTTO_CLIENT_MAX_ALERTS + 500; i++) {
		snprintf(h, sizeof(h), "u%d", i);
		assert_int_equal(cstore_alert_group(st, "rejected_message", h, NULL, 2, text_fn, h), SOTTO_OK);
	}
	assert_int_equal(cstore_commit(st), SOTTO_OK);
	assert_int_equal(cstore_alerts(st, &a, &n), SOTTO_OK);
	assert_int_equal(n, SOTTO_CLIENT_MAX_ALERTS + 1);
	for (size_t i = 0; i < n; i++) {
		assert_string_not_equal(a[i].kind, "device_added");	/* the seen ones made room */
		if (a[i].handle[0] == '\0') {
			full++;
			/* 1,500 new: 990 rows, then 10 in place of the seen ones, 500 counted here */
			assert_int_equal(a[i].count, 500);
			assert_non_null(strstr(a[i].text, "more than the alert list holds"));
		}
	}
	assert_int_equal(full, 1);
	sotto_alerts_free(a, n);
	cstore_close(st);
	rm_db(dir, path);
}

static void
test_old_home_upgraded(void **state)
{
	char dir[64], path[128];
	sotto_alert *a = NULL;
	cstore *st = NULL;
	sqlite3 *db = NULL;
	size_t n = 0;

	(void)state;
	tmp_db(dir, path);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	/* main's format before sealing (schema version 0): messages in the clear */
	assert_int_equal(sqlite3_exec(db, "CREATE TABLE messages(id INTEGER PRIMARY KEY, "
	    "msg_id BLOB NOT NULL UNIQUE, sender TEXT NOT NULL, device BLOB NOT NULL, "
	    "recipients TEXT NOT NULL, sent_at INTEGER NOT NULL, body BLOB NOT NULL, "
	    "outgoing INTEGER NOT NULL, received_at INTEGER NOT NULL, shown INTEGER NOT NULL DEFAULT 0);",
	    NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "CREATE TABLE alerts(id INTEGER PRIMARY KEY, kind TEXT NOT NULL, "
	    "handle TEXT NOT NULL, device BLOB, at INTEGER NOT NULL, text TEXT NOT NULL, "
	    "seen INTEGER NOT NULL DEFAULT 0); INSERT INTO alerts(kind, handle, at, text) "
	    "VALUES('rejected_message', 'carol', 7, 'a message from carol was rejected: x');", NULL, NULL,
	    NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(cstore_open(&st, path, 0), SOTTO_OK);
	assert_int_equal(cstore_unlock(st, hkey), SOTTO_OK);
	{
		int migrated = 0;
		size_t skipped = 0;

		/* a home from before sealing and grouping: its text sealed once */
		assert_int_equal(cstore_begin(st), SOTTO_OK);
		assert_int_equal(cstore_migrate(st, &migrated, &skipped), SOTTO_OK);
		assert_int_equal(cstore_commit(st), SOTTO_OK);
		assert_int_equal(migrated, 1);
		assert_int_equal(skipped, 0);
	}
	assert_int_equal(cstore_alert_group(st, "rejected_message", "carol", NULL, 9, text_fn, "carol"),
	    SOTTO_OK);
	assert_int_equal(cstore_alerts(st, &a, &n), SOTTO_OK);
	assert_int_equal(n, 1);
	assert_int_equal(a[0].count, 2);
	assert_string_equal(a[0].text, "2 from carol");
	sotto_alerts_free(a, n);
	cstore_close(st);
	/* and opening again changes nothing */
	assert_int_equal(cstore_open(&st, path, 0), SOTTO_OK);
	cstore_close(st);
	rm_db(dir, path);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_group_then_new_row_once_seen),
		cmocka_unit_test(test_rows_capped),
		cmocka_unit_test(test_old_home_upgraded),
	};

	assert_int_equal(sc_init(), SOTTO_OK);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
