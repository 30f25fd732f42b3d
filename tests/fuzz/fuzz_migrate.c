/* SPDX-License-Identifier: ISC */
/*
 * The client store's migration from schema version 0 (rows in the clear, as
 * homes made before history was encrypted hold them) to version 1: the rows
 * of an old sotto.db are as untrusted as any file. The input is a sequence of
 * rows, each u8 table (messages, alerts, held_messages) and then, for each of
 * its columns, u8 type (NULL, INTEGER, REAL, TEXT, BLOB) and the value (8 bytes
 * big-endian for numbers, u16 length and bytes for TEXT and BLOB), written into
 * a fresh version-0 database; then cstore_migrate runs under a fixed history
 * key, and everything is read back (history, alerts, held for one sender) as
 * sotto does. A migration either succeeds, and every row it kept opens, or
 * fails and leaves version 0.
 * The database lives in /dev/shm (or /tmp) as sotto-fuzz-migrate.db.<pid>.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "caps.h"
#include "client.h"
#include "fuzz_common.h"
#include "sotto/error.h"

enum { V_NULL, V_INT, V_REAL, V_TEXT, V_BLOB, V__COUNT };

/* The version-0 schema, as lib/client/client_store.c wrote it before version 1. */
static const char schema_v0[] =
    "PRAGMA journal_mode=WAL; PRAGMA synchronous=OFF;"
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

static const struct table {
	int ncols;
	const char *sql;
} tables[] = {
	{ 9, "INSERT INTO messages(msg_id, sender, device, recipients, sent_at, body, outgoing, "
	    "received_at, shown) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)" },
	{ 5, "INSERT INTO alerts(kind, handle, device, at, text) VALUES(?1, ?2, ?3, ?4, ?5)" },
	{ 5, "INSERT INTO held_messages(sender, env_hash, envelope, wrap, at) VALUES(?1, ?2, ?3, ?4, ?5)" },
};
#define N_TABLES (sizeof(tables) / sizeof(tables[0]))

static const uint8_t HKEY[CSTORE_HISTORY_KEY] = { 0x42, 0x17 };
static char path[160];
static volatile size_t sink;

static void
remove_db(void)
{
	char p[200];

	unlink(path);
	snprintf(p, sizeof(p), "%s-wal", path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", path);
	unlink(p);
}

/* Bind the next value of the input to column i; 0 when the input ran out. */
static int
bind_next(sqlite3_stmt *st, int i, const uint8_t **p, size_t *n)
{
	uint8_t type;
	uint64_t v = 0;
	size_t len;
	double d;

	if (*n < 1)
		return 0;
	type = (*p)[0] % V__COUNT;
	(*p)++;
	(*n)--;
	if (type == V_NULL)
		return sqlite3_bind_null(st, i) == SQLITE_OK;
	if (type == V_INT || type == V_REAL) {
		if (*n < 8)
			return 0;
		for (int k = 0; k < 8; k++)
			v = v << 8 | (*p)[k];
		*p += 8;
		*n -= 8;
		if (type == V_INT)
			return sqlite3_bind_int64(st, i, (sqlite3_int64)v) == SQLITE_OK;
		memcpy(&d, &v, sizeof(d));
		return sqlite3_bind_double(st, i, d) == SQLITE_OK;
	}
	if (*n < 2)
		return 0;
	len = (size_t)(*p)[0] << 8 | (*p)[1];
	*p += 2;
	*n -= 2;
	if (len > *n)
		len = *n;
	if (type == V_TEXT)
		sqlite3_bind_text(st, i, (const char *)*p, (int)len, SQLITE_TRANSIENT);
	else
		sqlite3_bind_blob(st, i, len ? (const void *)*p : (const void *)"", (int)len, SQLITE_TRANSIENT);
	*p += len;
	*n -= len;
	return 1;
}

static void
write_v0(const uint8_t *p, size_t n)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st[N_TABLES];
	size_t k;
	int i;

	remove_db();
	FUZZ_ASSERT(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) == SQLITE_OK);
	FUZZ_ASSERT(sqlite3_exec(db, schema_v0, NULL, NULL, NULL) == SQLITE_OK);
	for (k = 0; k < N_TABLES; k++)
		FUZZ_ASSERT(sqlite3_prepare_v2(db, tables[k].sql, -1, &st[k], NULL) == SQLITE_OK);
	FUZZ_ASSERT(sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) == SQLITE_OK);
	while (n > 0) {
		k = p[0] % N_TABLES;
		p++;
		n--;
		sqlite3_reset(st[k]);
		sqlite3_clear_bindings(st[k]);
		for (i = 1; i <= tables[k].ncols; i++)
			if (!bind_next(st[k], i, &p, &n))
				break;
		if (i <= tables[k].ncols)
			break;
		/* NOT NULL, UNIQUE and friends may refuse a row: as a real file could not hold it. */
		(void)sqlite3_step(st[k]);
	}
	FUZZ_ASSERT(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK);
	for (k = 0; k < N_TABLES; k++)
		sqlite3_finalize(st[k]);
	sqlite3_close(db);
}

static int
on_message(const cstore_message *m, void *arg)
{
	(void)arg;
	FUZZ_ASSERT(strlen(m->from) <= SOTTO_MAX_HANDLE && strlen(m->to) < sizeof(m->to));
	FUZZ_ASSERT(m->body_len <= SOTTO_MAX_BODY && m->body != NULL);
	sink += m->body_len;
	return 0;
}

static int
on_held(const uint8_t *env, size_t env_len, const uint8_t *wrap, size_t wrap_len, void *arg)
{
	(void)arg;
	FUZZ_ASSERT(env_len > 0 && env_len <= CSTORE_HELD_MAX_BYTES && wrap_len > 0 &&
	    wrap_len <= CSTORE_HELD_MAX_BYTES);
	sink += env[0] + wrap[0];
	return 0;
}

/* What the store shows for an alert text that does not open. */
#define UNREADABLE "could not be read"

/* Alerts of the file at path whose text holds UNREADABLE already (the
 * fuzzer's own bytes may spell it: only a change in the count is a finding). */
static size_t
unreadable_before(void)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	size_t n = 0;

	FUZZ_ASSERT(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK);
	if (sqlite3_prepare_v2(db, "SELECT count(*) FROM alerts WHERE instr(CAST(text AS BLOB), "
	    "CAST('" UNREADABLE "' AS BLOB)) > 0", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		n = (size_t)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cstore *cs = NULL;
	sotto_alert *a = NULL;
	size_t n = 0, skipped = 0, before, after = 0;
	int migrated = 0, r;

	write_v0(data, size);
	before = unreadable_before();
	FUZZ_ASSERT(cstore_open(&cs, path, 0) == SOTTO_OK);
	FUZZ_ASSERT(cstore_version(cs) == 0);
	FUZZ_ASSERT(cstore_begin(cs) == SOTTO_OK);
	FUZZ_ASSERT(cstore_unlock(cs, HKEY) == SOTTO_OK);
	if ((r = cstore_migrate(cs, &migrated, &skipped)) == SOTTO_OK)
		r = cstore_commit(cs);
	if (r != SOTTO_OK) {
		cstore_rollback(cs);
		cstore_close(cs);
		return 0;
	}
	FUZZ_ASSERT(migrated == 1 && cstore_version(cs) == CSTORE_VERSION);
	/* What the migration kept, it sealed: every row opens. */
	FUZZ_ASSERT(cstore_messages_all(cs, NULL, on_message, NULL) == SOTTO_OK);
	FUZZ_ASSERT(cstore_skipped(cs, NULL) == 0);
	FUZZ_ASSERT(cstore_messages_all(cs, "alice", on_message, NULL) == SOTTO_OK);
	if (cstore_alerts(cs, &a, &n) == SOTTO_OK) {
		for (size_t i = 0; i < n; i++) {
			FUZZ_ASSERT(a[i].text != NULL);
			after += strstr(a[i].text, UNREADABLE) != NULL;
		}
		/* Every text the migration sealed opens (as itself). */
		FUZZ_ASSERT(after <= before);
		sotto_alerts_free(a, n);
	}
	(void)cstore_held_each(cs, "alice", on_held, NULL);
	cstore_close(cs);
	return 0;
}

/* ---- seeds ---- */

typedef struct rows {
	uint8_t buf[4096];
	size_t n;
} rows;

static void
put(rows *r, const void *p, size_t n)
{
	FUZZ_ASSERT(n <= sizeof(r->buf) - r->n);
	memcpy(r->buf + r->n, p, n);
	r->n += n;
}

static void
v_int(rows *r, uint64_t v)
{
	uint8_t b[9] = { V_INT };

	for (int i = 0; i < 8; i++)
		b[1 + i] = (uint8_t)(v >> (56 - 8 * i));
	put(r, b, sizeof(b));
}

static void
v_bytes(rows *r, uint8_t type, const void *p, size_t n)
{
	uint8_t b[3] = { type, (uint8_t)(n >> 8), (uint8_t)n };

	put(r, b, sizeof(b));
	put(r, p, n);
}

static void
seeds(void)
{
	static const uint8_t id[16] = { 1 }, dev[16] = { 2 }, hash[32] = { 3 };
	rows *r;
	uint8_t t;

	FUZZ_ASSERT((r = calloc(1, sizeof(*r))) != NULL);
	/* one of each, as an old home holds them */
	t = 0;
	put(r, &t, 1);
	v_bytes(r, V_BLOB, id, 16); v_bytes(r, V_TEXT, "bob", 3); v_bytes(r, V_BLOB, dev, 16);
	v_bytes(r, V_TEXT, "alice", 5); v_int(r, 1700000000000ULL); v_bytes(r, V_BLOB, "hello", 5);
	v_int(r, 0); v_int(r, 1700000000001ULL); v_int(r, 1);
	t = 1;
	put(r, &t, 1);
	v_bytes(r, V_TEXT, "identity_reset", 14); v_bytes(r, V_TEXT, "bob", 3); v_bytes(r, V_BLOB, dev, 16);
	v_int(r, 5); v_bytes(r, V_TEXT, "the device list of bob changed", 30);
	t = 2;
	put(r, &t, 1);
	v_bytes(r, V_TEXT, "alice", 5); v_bytes(r, V_BLOB, hash, 32); v_bytes(r, V_BLOB, "envelope", 8);
	v_bytes(r, V_BLOB, "wrap", 4); v_int(r, 9);
	fuzz_seed("old_home", r->buf, r->n);
	/* rows the old reader refused too: a short id, a NUL in a handle, a negative time */
	r->n = 0;
	t = 0;
	put(r, &t, 1);
	v_bytes(r, V_BLOB, id, 15); v_bytes(r, V_BLOB, "b\0b", 3); v_bytes(r, V_BLOB, dev, 16);
	v_bytes(r, V_TEXT, "alice", 5); v_int(r, UINT64_MAX); v_bytes(r, V_TEXT, "x", 1);
	v_int(r, 0); v_int(r, 0); v_int(r, 0);
	t = 1;
	put(r, &t, 1);
	v_bytes(r, V_TEXT, "k", 1); v_bytes(r, V_TEXT, "bob", 3); v_bytes(r, V_TEXT, "dev", 3);
	v_int(r, UINT64_MAX); v_bytes(r, V_BLOB, "a\0b", 3);
	t = 2;
	put(r, &t, 1);
	v_bytes(r, V_TEXT, "alice", 5); v_bytes(r, V_BLOB, hash, 31); v_bytes(r, V_BLOB, "", 0);
	v_bytes(r, V_BLOB, "wrap", 4); v_int(r, UINT64_MAX);
	fuzz_seed("corrupt", r->buf, r->n);
	free(r);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct stat st;
	const char *dir = stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) ? "/dev/shm" : "/tmp";

	(void)argc;
	(void)argv;
	fuzz_init_crypto();
	snprintf(path, sizeof(path), "%s/sotto-fuzz-migrate.db.%ld", dir, (long)getpid());
	atexit(remove_db);
	seeds();
	return 0;
}
