/* SPDX-License-Identifier: ISC */
/*
 * Records read back from the databases. Neither store has a pure parsing
 * function to call: rows are checked column by column as they are read
 * (server/store_sqlite.c col_blob/col_u64, lib/client/client_store.c
 * col_text/col_blob and the per-row checks), and the stored signed device
 * lists and envelopes then go through dl_parse and env_parse_header - the
 * parsers fuzz_devicelist and fuzz_envelope already cover. So this harness
 * plays a corrupted database file: it writes the input, as typed SQLite values,
 * straight into the rows of a real client store and a real server store
 * through a second connection, then reads everything back through the
 * stores' own functions, as sotto and sottod do (list_current then dl_parse,
 * with the checks of server/directory.c dir_current).
 *
 * Input: a sequence of rows, each u8 table, then for each of that table's
 * fuzzed columns u8 type (NULL, INTEGER, REAL, TEXT, BLOB) and the value
 * (8 bytes big-endian for numbers, u16 length and bytes for TEXT and BLOB).
 * Lookup keys are fixed ("alice", device b1) so the readers find the rows.
 * The databases live in /dev/shm (or /tmp) as sotto-fuzz-{client,server}.db.<pid>.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "caps.h"
#include "client.h"
#include "devicelist.h"
#include "envelope.h"
#include "fuzz_common.h"
#include "fuzz_samples.h"
#include "sotto/error.h"
#include "store.h"

enum { V_NULL, V_INT, V_REAL, V_TEXT, V_BLOB, V__COUNT };

static const struct table {
	int server;
	int ncols;
	const char *sql;
} tables[] = {
	{ 0, 2, "INSERT OR REPLACE INTO device_lists(handle, version, signed) VALUES('alice', ?1, ?2)" },
	{ 0, 3, "INSERT OR REPLACE INTO contacts(handle, account_pub, verified, state) "
	    "VALUES('alice', ?1, ?2, ?3)" },
	{ 0, 3, "INSERT INTO messages(msg_key, received_at, sealed, shown) VALUES(?1, ?2, ?3, 0)" },
	{ 0, 2, "INSERT OR REPLACE INTO config(key, value) VALUES(?1, ?2)" },
	{ 0, 6, "INSERT INTO alerts(kind, handle, device, at, text, seen) VALUES(?1, ?2, ?3, ?4, ?5, ?6)" },
	{ 1, 2, "INSERT OR REPLACE INTO accounts(handle, account_pub, created_at) VALUES('alice', ?1, ?2)" },
	{ 1, 2, "INSERT OR REPLACE INTO device_lists(handle, version, list) VALUES('alice', ?1, ?2)" },
	{ 1, 6, "INSERT OR REPLACE INTO copies(seq, device_id, msg_id, envelope, wrap, stored_at, "
	    "expires_at, account) VALUES(?1, ?7, ?2, ?3, ?4, ?5, ?6, 'alice')" },
	{ 1, 3, "INSERT OR REPLACE INTO invites(secret_hash, handle, created_at, used_at) "
	    "VALUES(?1, 'alice', ?2, ?3)" },
};
#define N_TABLES (sizeof(tables) / sizeof(tables[0]))

#define NOW_MS 1700000000000ULL

static const fuzz_samples *S;
static char cpath[160], spath[160];
static cstore *cs;
static store *ss;
static sqlite3 *craw, *sraw;
static sqlite3_stmt *ins[N_TABLES];
static volatile size_t sink;

static uint64_t
be64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

/* Bind the next value of the input to column i; 0 when the input ran out. */
static int
bind_next(sqlite3_stmt *st, int i, const uint8_t **p, size_t *n)
{
	uint8_t type;
	size_t len;
	uint64_t v;
	double d;

	if (*n < 1)
		return 0;
	type = (*p)[0] % V__COUNT;
	(*p)++;
	(*n)--;
	switch (type) {
	case V_NULL:
		sqlite3_bind_null(st, i);
		return 1;
	case V_INT:
	case V_REAL:
		if (*n < 8)
			return 0;
		v = be64(*p);
		*p += 8;
		*n -= 8;
		if (type == V_INT)
			sqlite3_bind_int64(st, i, (sqlite3_int64)v);
		else {
			memcpy(&d, &v, sizeof(d));
			sqlite3_bind_double(st, i, d);
		}
		return 1;
	default:
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
			sqlite3_bind_blob(st, i, len ? (const void *)*p : (const void *)"", (int)len,
			    SQLITE_TRANSIENT);
		*p += len;
		*n -= len;
		return 1;
	}
}

static void
exec(sqlite3 *db, const char *sql)
{
	char *err = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
		fprintf(stderr, "fuzz_store: %s: %s\n", sql, err ? err : "?");
		abort();
	}
}

static void
load(const uint8_t *p, size_t n)
{
	const struct table *t;
	sqlite3_stmt *st;
	size_t k;
	int i;

	exec(craw, "BEGIN; DELETE FROM device_lists; DELETE FROM contacts; DELETE FROM messages;"
	    "DELETE FROM config; DELETE FROM alerts;");
	exec(sraw, "BEGIN; DELETE FROM accounts; DELETE FROM device_lists; DELETE FROM copies;"
	    "DELETE FROM invites; DELETE FROM devices;");
	while (n > 0) {
		k = p[0] % N_TABLES;
		p++;
		n--;
		t = &tables[k];
		st = ins[k];
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
		for (i = 1; i <= t->ncols; i++)
			if (!bind_next(st, i, &p, &n))
				break;
		if (i <= t->ncols)
			break;
		if (k == 7)
			sqlite3_bind_blob(st, 7, S->b1.id, SC_DEVICE_ID, SQLITE_STATIC);
		/* NOT NULL, UNIQUE and friends may refuse a row: as a real file could not hold it. */
		(void)sqlite3_step(st);
		sqlite3_reset(st);
	}
	exec(craw, "COMMIT");
	exec(sraw, "COMMIT");
}

static int
on_message(const cstore_message *m, void *arg)
{
	(void)arg;
	FUZZ_ASSERT(strlen(m->from) <= SOTTO_MAX_HANDLE && strlen(m->to) < sizeof(m->to));
	FUZZ_ASSERT(m->body_len <= SOTTO_MAX_BODY && m->body != NULL);
	if (m->body_len > 0)
		sink += m->body[0] + m->body[m->body_len - 1];
	return 0;
}

static void
read_client(void)
{
	cstore_config cfg;
	cstore_contact k;
	dl_list *l;
	sotto_alert *a = NULL;
	uint8_t *bytes = NULL, id[16];
	size_t n = 0, i;

	FUZZ_ASSERT((l = malloc(sizeof(*l))) != NULL);
	if (cstore_config_get(cs, &cfg) == SOTTO_OK)
		FUZZ_ASSERT(handle_valid(cfg.handle) && strlen(cfg.address) <= SOTTO_MAX_ADDRESS);
	if (cstore_contact_get(cs, "alice", &k) == SOTTO_OK)
		FUZZ_ASSERT(strcmp(k.handle, "alice") == 0 &&
		    (k.state == CONTACT_NORMAL || k.state == CONTACT_RESET_PENDING));
	if (cstore_list_latest(cs, "alice", l, &bytes, &n) == SOTTO_OK) {
		FUZZ_ASSERT(n > 0 && n <= SOTTO_MAX_DEVICE_LIST && strcmp(l->handle, "alice") == 0);
		free(bytes);
	}
	for (uint64_t v = 1; v <= 2; v++)
		if (cstore_list_get(cs, "alice", v, l, NULL, NULL) == SOTTO_OK)
			FUZZ_ASSERT(l->version == v);
	(void)cstore_messages_unshown(cs, on_message, NULL);
	memset(id, 0x42, sizeof(id));
	(void)cstore_message_seen(cs, id);
	if (cstore_alerts(cs, &a, &n) == SOTTO_OK) {
		for (i = 0; i < n; i++)
			FUZZ_ASSERT(a[i].text != NULL && strlen(a[i].handle) <= SOTTO_MAX_HANDLE &&
			    (a[i].device[0] == '\0' || strlen(a[i].device) == 2 * SC_DEVICE_ID));
		sotto_alerts_free(a, n);
	}
	free(l);
}

static void
read_server(void)
{
	dl_list *l;
	env_header *h;
	store_blob *b = NULL;
	store_copy *c = NULL;
	uint8_t *p = NULL, hash[SC_SHA256];
	size_t n = 0, i;
	uint64_t v, count;
	int more;

	FUZZ_ASSERT((l = malloc(sizeof(*l))) != NULL && (h = malloc(sizeof(*h))) != NULL);
	(void)ss->ops->account_exists(ss, "alice");
	if (ss->ops->list_current(ss, "alice", &p, &n, &v) == SOTTO_OK) {
		FUZZ_ASSERT(n <= SOTTO_MAX_DEVICE_LIST && (p != NULL || n == 0));
		/* as dir_current: the database is not trusted to hold what was stored */
		if (dl_parse(l, p, n) == SOTTO_OK && l->version == v && strcmp(l->handle, "alice") == 0)
			sink += l->n_devices;
		free(p);
	}
	if (ss->ops->list_history(ss, "alice", 0, SOTTO_MAX_LIST_HISTORY, 1 << 20, &b, &n, &more) ==
	    SOTTO_OK) {
		for (i = 0; i < n; i++) {
			FUZZ_ASSERT(b[i].len <= SOTTO_MAX_DEVICE_LIST);
			if (dl_parse(l, b[i].p, b[i].len) == SOTTO_OK)
				sink += l->version;
		}
		store_blobs_free(b, n);
	}
	(void)ss->ops->copy_count(ss, "alice", S->b1.id, NOW_MS, &count);
	if (ss->ops->copy_fetch(ss, "alice", S->b1.id, NOW_MS, SOTTO_MAX_FETCH_BATCH, 1 << 20, &c, &n, &more) ==
	    SOTTO_OK) {
		for (i = 0; i < n; i++) {
			FUZZ_ASSERT(c[i].seq > 0 && c[i].envelope_len <= SOTTO_MAX_ENVELOPE &&
			    c[i].wrap_len <= 256 && c[i].expires_at > NOW_MS);
			if (env_parse_header(h, c[i].envelope, c[i].envelope_len) == SOTTO_OK)
				sink += h->n_recipients;
		}
		store_copies_free(c, n);
	}
	memset(hash, 0x33, sizeof(hash));
	FUZZ_ASSERT(ss->ops->begin(ss) == SOTTO_OK);
	(void)ss->ops->invite_take(ss, hash, "alice", NOW_MS, 24ULL * 3600 * 1000);
	ss->ops->rollback(ss);
	free(h);
	free(l);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	load(data, size);
	read_client();
	read_server();
	return 0;
}

/* ---- seeds: rows in the input encoding ---- */

typedef struct rows {
	uint8_t buf[16384];
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
row(rows *r, uint8_t table)
{
	put(r, &table, 1);
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
v_null(rows *r)
{
	uint8_t b = V_NULL;

	put(r, &b, 1);
}

/* The key and sealed value cstore_message_add stores for (msg_id, body): read
 * back through the raw connection, then deleted. */
static void
sealed_message(const uint8_t msg_id[16], const char *body, uint8_t key[SC_SHA256], uint8_t **sealed,
    size_t *len)
{
	cstore_message m;
	sqlite3_stmt *st;

	memset(&m, 0, sizeof(m));
	memcpy(m.msg_id, msg_id, 16);
	snprintf(m.from, sizeof(m.from), "alice");
	memcpy(m.device, S->a1.id, SC_DEVICE_ID);
	snprintf(m.to, sizeof(m.to), "bob");
	m.sent_at = NOW_MS;
	m.body = (const uint8_t *)body;
	m.body_len = strlen(body);
	m.received_at = NOW_MS + 5;
	FUZZ_ASSERT(cstore_message_add(cs, &m) == SOTTO_OK);
	FUZZ_ASSERT(sqlite3_prepare_v2(craw, "SELECT msg_key, sealed FROM messages", -1, &st, NULL) == SQLITE_OK);
	FUZZ_ASSERT(sqlite3_step(st) == SQLITE_ROW && sqlite3_column_bytes(st, 0) == SC_SHA256);
	memcpy(key, sqlite3_column_blob(st, 0), SC_SHA256);
	*len = (size_t)sqlite3_column_bytes(st, 1);
	FUZZ_ASSERT((*sealed = malloc(*len)) != NULL);
	memcpy(*sealed, sqlite3_column_blob(st, 1), *len);
	sqlite3_finalize(st);
	exec(craw, "DELETE FROM messages");
}

static void
seeds(void)
{
	static uint8_t pin[32], hash[SC_SHA256], msg_id[16], key[SC_SHA256];
	static const char body[] = "hello, bob";
	uint8_t *sealed = NULL;
	size_t sealed_len = 0;
	rows *r;

	memset(pin, 0x11, sizeof(pin));
	memset(hash, 0x33, sizeof(hash));
	memset(msg_id, 0x42, sizeof(msg_id));
	FUZZ_ASSERT((r = calloc(1, sizeof(*r))) != NULL);

	/* a healthy client: config, a contact with two list versions, a message, alerts */
	row(r, 3); v_bytes(r, V_TEXT, "address", 7); v_bytes(r, V_BLOB, "127.0.0.1:7443", 14);
	row(r, 3); v_bytes(r, V_TEXT, "pin", 3); v_bytes(r, V_BLOB, pin, sizeof(pin));
	row(r, 3); v_bytes(r, V_TEXT, "handle", 6); v_bytes(r, V_BLOB, "bob", 3);
	row(r, 3); v_bytes(r, V_TEXT, "device_id", 9); v_bytes(r, V_BLOB, S->b1.id, SC_DEVICE_ID);
	row(r, 3); v_bytes(r, V_TEXT, "account_pub", 11); v_bytes(r, V_BLOB, S->account_pub, SC_SIGN_PUB);
	row(r, 1); v_bytes(r, V_BLOB, S->account_pub, SC_SIGN_PUB); v_int(r, 1); v_int(r, 0);
	row(r, 0); v_int(r, 1); v_bytes(r, V_BLOB, S->list1, S->list1_len);
	row(r, 0); v_int(r, 2); v_bytes(r, V_BLOB, S->list2, S->list2_len);
	/* a message row as the store seals it (under the harness's fixed key) */
	sealed_message(msg_id, body, key, &sealed, &sealed_len);
	row(r, 2); v_bytes(r, V_BLOB, key, sizeof(key)); v_int(r, NOW_MS + 5);
	v_bytes(r, V_BLOB, sealed, sealed_len);
	row(r, 4); v_bytes(r, V_TEXT, "device_added", 12); v_bytes(r, V_TEXT, "alice", 5);
	v_bytes(r, V_BLOB, S->a2.id, SC_DEVICE_ID); v_int(r, NOW_MS); v_bytes(r, V_TEXT, "phone", 5);
	v_int(r, 0);
	row(r, 4); v_bytes(r, V_TEXT, "identity_reset", 14); v_bytes(r, V_TEXT, "alice", 5); v_null(r);
	v_int(r, NOW_MS); v_bytes(r, V_TEXT, "reset", 5); v_int(r, 1);
	fuzz_seed("client", r->buf, r->n);

	/* a healthy server: the account, its lists, a queued copy for b1, an invite */
	r->n = 0;
	row(r, 5); v_bytes(r, V_BLOB, S->account_pub, SC_SIGN_PUB); v_int(r, NOW_MS);
	row(r, 6); v_int(r, 1); v_bytes(r, V_BLOB, S->list1, S->list1_len);
	row(r, 6); v_int(r, 2); v_bytes(r, V_BLOB, S->list2, S->list2_len);
	row(r, 7); v_int(r, 7); v_bytes(r, V_BLOB, msg_id, 16); v_bytes(r, V_BLOB, S->env, S->env_len);
	v_bytes(r, V_BLOB, S->wrap_b1, ENV_WRAP_LEN); v_int(r, NOW_MS - 1000); v_int(r, NOW_MS + 1000);
	row(r, 8); v_bytes(r, V_BLOB, hash, sizeof(hash)); v_int(r, NOW_MS - 1000); v_null(r);
	fuzz_seed("server", r->buf, r->n);

	/* corrupt rows: wrong types, embedded NULs, oversized and negative values */
	r->n = 0;
	row(r, 3); v_bytes(r, V_TEXT, "handle", 6); v_bytes(r, V_BLOB, "b\0b", 3);
	row(r, 1); v_bytes(r, V_TEXT, "not a key", 9); v_int(r, 1); v_int(r, 7);
	row(r, 0); v_int(r, 2); v_bytes(r, V_BLOB, S->list1, S->list1_len);
	row(r, 2); v_bytes(r, V_BLOB, key, 31); v_int(r, UINT64_MAX); v_bytes(r, V_TEXT, sealed, sealed_len);
	row(r, 2); v_bytes(r, V_BLOB, msg_id, 16); v_null(r); v_bytes(r, V_BLOB, sealed, sealed_len - 1);
	row(r, 4); v_int(r, 5); v_bytes(r, V_TEXT, "alice", 5); v_bytes(r, V_TEXT, "abc", 3);
	v_int(r, 0); v_null(r); v_int(r, 0);
	row(r, 5); v_bytes(r, V_TEXT, "x", 1); v_int(r, UINT64_MAX);
	row(r, 6); v_int(r, UINT64_MAX); v_bytes(r, V_TEXT, "SDL1", 4);
	row(r, 7); v_int(r, 0); v_bytes(r, V_BLOB, msg_id, 16); v_bytes(r, V_BLOB, S->env, 10);
	v_bytes(r, V_BLOB, S->wrap_b1, ENV_WRAP_LEN); v_int(r, UINT64_MAX); v_int(r, UINT64_MAX);
	row(r, 7); v_int(r, 9); v_bytes(r, V_TEXT, msg_id, 16); v_null(r); v_int(r, 3); v_int(r, 0);
	v_int(r, NOW_MS + 1);
	row(r, 8); v_bytes(r, V_BLOB, hash, 31); v_bytes(r, V_TEXT, "soon", 4); v_int(r, 5);
	fuzz_seed("corrupt", r->buf, r->n);
	free(r);
	free(sealed);
}

static void
cleanup(void)
{
	char p[200];

	for (int i = 0; i < (int)N_TABLES; i++)
		sqlite3_finalize(ins[i]);
	sqlite3_close(craw);
	sqlite3_close(sraw);
	cstore_close(cs);
	if (ss != NULL)
		ss->ops->close(ss);
	for (int i = 0; i < 2; i++) {
		const char *base = i ? spath : cpath;

		unlink(base);
		snprintf(p, sizeof(p), "%s-wal", base);
		unlink(p);
		snprintf(p, sizeof(p), "%s-shm", base);
		unlink(p);
	}
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct stat st;
	const char *dir = stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) ? "/dev/shm" : "/tmp";

	(void)argc;
	(void)argv;
	S = fuzz_samples_init();
	snprintf(cpath, sizeof(cpath), "%s/sotto-fuzz-client.db.%ld", dir, (long)getpid());
	snprintf(spath, sizeof(spath), "%s/sotto-fuzz-server.db.%ld", dir, (long)getpid());
	unlink(cpath);
	unlink(spath);
	atexit(cleanup);
	FUZZ_ASSERT(cstore_open(&cs, cpath, 1) == SOTTO_OK);
	{
		/* Fixed, so that the seed rows open; fuzzed rows reach unseal and, past it, the parser. */
		static const uint8_t hk[CSTORE_HISTORY_KEY] = { 0x42 };

		FUZZ_ASSERT(cstore_unlock(cs, hk) == SOTTO_OK);
	}
	FUZZ_ASSERT(store_sqlite_open(&ss, spath) == SOTTO_OK);
	FUZZ_ASSERT(sqlite3_open_v2(cpath, &craw, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK);
	FUZZ_ASSERT(sqlite3_open_v2(spath, &sraw, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK);
	/* The writer plays a corrupted file, not a crash test: no fsync needed. */
	exec(craw, "PRAGMA synchronous=OFF");
	exec(sraw, "PRAGMA synchronous=OFF");
	for (size_t i = 0; i < N_TABLES; i++)
		FUZZ_ASSERT(sqlite3_prepare_v2(tables[i].server ? sraw : craw, tables[i].sql, -1, &ins[i],
		    NULL) == SQLITE_OK);
	seeds();
	return 0;
}
