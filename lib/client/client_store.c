/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "array.h"
#include "client.h"

struct cstore {
	sqlite3 *db;
	unsigned depth;		/* open cstore_begin levels: the outer one is the transaction */
};

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS config("
    "  key TEXT PRIMARY KEY, value BLOB NOT NULL);"
    "CREATE TABLE IF NOT EXISTS contacts("
    "  handle TEXT PRIMARY KEY, account_pub BLOB NOT NULL,"
    "  verified INTEGER NOT NULL DEFAULT 0, state INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE IF NOT EXISTS device_lists("
    "  handle TEXT NOT NULL, version INTEGER NOT NULL, signed BLOB NOT NULL,"
    "  PRIMARY KEY(handle, version));"
    "CREATE TABLE IF NOT EXISTS messages("
    "  id INTEGER PRIMARY KEY, msg_id BLOB NOT NULL UNIQUE, sender TEXT NOT NULL,"
    "  device BLOB NOT NULL, recipients TEXT NOT NULL, sent_at INTEGER NOT NULL,"
    "  body BLOB NOT NULL, outgoing INTEGER NOT NULL, received_at INTEGER NOT NULL,"
    "  shown INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE IF NOT EXISTS alerts("
    "  id INTEGER PRIMARY KEY, kind TEXT NOT NULL, handle TEXT NOT NULL, device BLOB,"
    "  at INTEGER NOT NULL, text TEXT NOT NULL, seen INTEGER NOT NULL DEFAULT 0,"
    "  count INTEGER NOT NULL DEFAULT 1);"
    /* Keyed by the envelope's hash, not its (unauthenticated) msg id: a
     * forged copy stored first must not shut the real one out. */
    "CREATE TABLE IF NOT EXISTS held_messages("
    "  id INTEGER PRIMARY KEY, sender TEXT NOT NULL, env_hash BLOB NOT NULL, envelope BLOB NOT NULL,"
    "  wrap BLOB NOT NULL, at INTEGER NOT NULL, UNIQUE(sender, env_hash));";

static int
exec(cstore *s, const char *sql)
{
	return sqlite3_exec(s->db, sql, NULL, NULL, NULL) == SQLITE_OK ? SOTTO_OK : SOTTO_ERR_DB;
}

static int
prepare(cstore *s, sqlite3_stmt **st, const char *sql)
{
	return sqlite3_prepare_v2(s->db, sql, -1, st, NULL) == SQLITE_OK ? SOTTO_OK : SOTTO_ERR_DB;
}

/* Text column copied into out (max bytes + NUL); over-long or absent is corrupt. */
static int
col_text(sqlite3_stmt *st, int i, char *out, size_t max)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	int n = sqlite3_column_bytes(st, i);

	if (t == NULL || n < 0 || (size_t)n > max || strlen((const char *)t) != (size_t)n)
		return SOTTO_ERR_DB;
	memcpy(out, t, (size_t)n);
	out[n] = '\0';
	return SOTTO_OK;
}

/* Blob column of exactly n bytes. */
static int
col_blob(sqlite3_stmt *st, int i, uint8_t *out, size_t n)
{
	const void *b = sqlite3_column_blob(st, i);

	if (b == NULL || sqlite3_column_bytes(st, i) != (int)n)
		return SOTTO_ERR_DB;
	memcpy(out, b, n);
	return SOTTO_OK;
}

#define ALERT_TEXT_MAX 4096

static int alerts_upgrade(cstore *s);

int
cstore_open(cstore **out, const char *path, int create)
{
	cstore *s = NULL;
	int r = SOTTO_ERR_DB, fd;

	*out = NULL;
	if (create) {
		/* Made here, exclusively and 0600, so SQLite never creates it world-readable. */
		if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600)) == -1)
			return errno == EEXIST ? SOTTO_ERR_EXISTS : SOTTO_ERR_IO;
		close(fd);
	} else if (access(path, F_OK) != 0)
		return SOTTO_ERR_NOT_FOUND;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return SOTTO_ERR_NOMEM;
	if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW, NULL) != SQLITE_OK)
		goto out;
	sqlite3_busy_timeout(s->db, 5000);
	if ((r = exec(s, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
	    "PRAGMA foreign_keys=ON;")) != SOTTO_OK)
		goto out;
	if ((r = exec(s, schema)) != SOTTO_OK || (r = alerts_upgrade(s)) != SOTTO_OK)
		goto out;
	*out = s;
	s = NULL;
	r = SOTTO_OK;
out:
	cstore_close(s);
	return r;
}

void
cstore_close(cstore *s)
{
	if (s == NULL)
		return;
	sqlite3_close(s->db);
	free(s);
}

/*
 * Transactions nest: the outer level is a write transaction (IMMEDIATE: the
 * lock is taken at once, not upgraded later), inner ones are savepoints, so a
 * caller can make several steps that commit on their own all-or-nothing
 * (`trust` replaces a contact's chain only if the new one verifies).
 */
int
cstore_begin(cstore *s)
{
	int r;

	if (s->depth == UINT_MAX)
		return SOTTO_ERR_INTERNAL;
	/* Inside a transaction SQLite has already ended (SQLITE_FULL, IOERR): a
	 * savepoint now would start a new one and commit on its own. */
	if (s->depth > 0 && sqlite3_get_autocommit(s->db))
		return SOTTO_ERR_DB;
	if ((r = exec(s, s->depth == 0 ? "BEGIN IMMEDIATE" : "SAVEPOINT nested")) == SOTTO_OK)
		s->depth++;
	return r;
}

int
cstore_commit(cstore *s)
{
	int r;

	if (s->depth == 0)
		return SOTTO_ERR_INTERNAL;
	if (sqlite3_get_autocommit(s->db))
		return SOTTO_ERR_DB;	/* ended by SQLite: nothing of it is kept */
	if ((r = exec(s, s->depth == 1 ? "COMMIT" : "RELEASE nested")) == SOTTO_OK)
		s->depth--;
	return r;
}

void
cstore_rollback(cstore *s)
{
	if (s->depth == 0)
		return;
	if (s->depth == 1)
		(void)exec(s, "ROLLBACK");
	else
		(void)exec(s, "ROLLBACK TO nested; RELEASE nested");
	s->depth--;
}

static int
config_put(cstore *s, const char *key, const void *v, size_t n)
{
	sqlite3_stmt *st = NULL;
	int r;

	if ((r = prepare(s, &st, "INSERT OR REPLACE INTO config(key, value) VALUES(?, ?)")) != SOTTO_OK)
		return r;
	r = SOTTO_ERR_DB;
	if (sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_blob(st, 2, v, (int)n, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_DONE)
		goto out;
	r = SOTTO_OK;
out:
	sqlite3_finalize(st);
	return r;
}

/* Value of key into out: exactly n bytes if exact, else up to n bytes (*got). */
static int
config_get(cstore *s, const char *key, uint8_t *out, size_t n, int exact, size_t *got)
{
	sqlite3_stmt *st = NULL;
	const void *b;
	int r, len;

	if ((r = prepare(s, &st, "SELECT value FROM config WHERE key = ?")) != SOTTO_OK)
		return r;
	r = SOTTO_ERR_DB;
	if (sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC) != SQLITE_OK)
		goto out;
	if (sqlite3_step(st) != SQLITE_ROW) {
		r = SOTTO_ERR_NOT_FOUND;
		goto out;
	}
	b = sqlite3_column_blob(st, 0);
	len = sqlite3_column_bytes(st, 0);
	if (len < 0 || (exact && (size_t)len != n) || (size_t)len > n || (len > 0 && b == NULL))
		goto out;
	if (len > 0)
		memcpy(out, b, (size_t)len);
	if (got != NULL)
		*got = (size_t)len;
	r = SOTTO_OK;
out:
	sqlite3_finalize(st);
	return r;
}

int
cstore_config_set(cstore *s, const cstore_config *cfg)
{
	int r;

	if ((r = config_put(s, "address", cfg->address, strlen(cfg->address))) != SOTTO_OK ||
	    (r = config_put(s, "pin", cfg->pin, sizeof(cfg->pin))) != SOTTO_OK ||
	    (r = config_put(s, "handle", cfg->handle, strlen(cfg->handle))) != SOTTO_OK ||
	    (r = config_put(s, "device_id", cfg->device_id, sizeof(cfg->device_id))) != SOTTO_OK ||
	    (r = config_put(s, "account_pub", cfg->account_pub, sizeof(cfg->account_pub))) != SOTTO_OK)
		return r;
	return SOTTO_OK;
}

int
cstore_config_get(cstore *s, cstore_config *cfg)
{
	cstore_config c;
	size_t n;
	int r;

	memset(&c, 0, sizeof(c));
	if ((r = config_get(s, "address", (uint8_t *)c.address, SOTTO_MAX_ADDRESS, 0, &n)) != SOTTO_OK)
		goto out;
	c.address[n] = '\0';
	if (strlen(c.address) != n || n == 0) {
		r = SOTTO_ERR_DB;
		goto out;
	}
	if ((r = config_get(s, "handle", (uint8_t *)c.handle, SOTTO_MAX_HANDLE, 0, &n)) != SOTTO_OK)
		goto out;
	c.handle[n] = '\0';
	if ((r = config_get(s, "pin", c.pin, sizeof(c.pin), 1, NULL)) != SOTTO_OK ||
	    (r = config_get(s, "device_id", c.device_id, sizeof(c.device_id), 1, NULL)) != SOTTO_OK ||
	    (r = config_get(s, "account_pub", c.account_pub, sizeof(c.account_pub), 1, NULL)) != SOTTO_OK)
		goto out;
	r = SOTTO_ERR_DB;
	if (!handle_valid(c.handle) || strlen(c.handle) != n)
		goto out;
	*cfg = c;
	r = SOTTO_OK;
out:
	return r == SOTTO_ERR_NOT_FOUND ? SOTTO_ERR_DB : r;
}

int
cstore_u64_set(cstore *s, const char *key, uint64_t v)
{
	uint8_t b[8];

	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)(v >> (56 - 8 * i));
	return config_put(s, key, b, sizeof(b));
}

int
cstore_u64_get(cstore *s, const char *key, uint64_t *v)
{
	uint8_t b[8];
	int r;

	*v = 0;
	if ((r = config_get(s, key, b, sizeof(b), 1, NULL)) != SOTTO_OK)
		return r;
	for (int i = 0; i < 8; i++)
		*v = (*v << 8) | b[i];
	return SOTTO_OK;
}

int
cstore_contact_get(cstore *s, const char *handle, cstore_contact *c)
{
	sqlite3_stmt *st = NULL;
	cstore_contact k;
	int r, step;

	memset(&k, 0, sizeof(k));
	if ((r = prepare(s, &st, "SELECT handle, account_pub, verified, state FROM contacts "
	    "WHERE handle = ?")) != SOTTO_OK)
		return r;
	r = SOTTO_ERR_DB;
	if (sqlite3_bind_text(st, 1, handle, -1, SQLITE_STATIC) != SQLITE_OK)
		goto out;
	if ((step = sqlite3_step(st)) == SQLITE_DONE) {
		r = SOTTO_ERR_NOT_FOUND;
		goto out;
	}
	if (step != SQLITE_ROW ||
	    col_text(st, 0, k.handle, SOTTO_MAX_HANDLE) != SOTTO_OK ||
	    col_blob(st, 1, k.account_pub, sizeof(k.account_pub)) != SOTTO_OK)
		goto out;
	k.verified = sqlite3_column_int(st, 2) != 0;
	k.state = sqlite3_column_int(st, 3);
	if (k.state != CONTACT_NORMAL && k.state != CONTACT_RESET_PENDING)
		goto out;
	*c = k;
	r = SOTTO_OK;
out:
	sqlite3_finalize(st);
	return r;
}

int
cstore_contact_put(cstore *s, const cstore_contact *c)
{
	sqlite3_stmt *st = NULL;
	int r;

	if ((r = prepare(s, &st, "INSERT OR REPLACE INTO contacts(handle, account_pub, verified, state) "
	    "VALUES(?, ?, ?, ?)")) != SOTTO_OK)
		return r;
	r = SOTTO_ERR_DB;
	if (sqlite3_bind_text(st, 1, c->handle, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_blob(st, 2, c->account_pub, sizeof(c->account_pub), SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_int(st, 3, c->verified ? 1 : 0) != SQLITE_OK ||
	    sqlite3_bind_int(st, 4, c->state) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_DONE)
		goto out;
	r = SOTTO_OK;
out:
	sqlite3_finalize(st);
	return r;
}

static int
delete_handle(cstore *s, const char *sql, const char *handle)
{
	sqlite3_stmt *st = NULL;
	int r;

	if ((r = prepare(s, &st, sql)) != SOTTO_OK)
		return r;
	r = SOTTO_ERR_DB;
	if (sqlite3_bind_text(st, 1, handle, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_DONE)
		goto out;
	r = SOTTO_OK;
out:
	sqlite3_finalize(st);
	return r;
}

int
cstore_contact_forget(cstore *s, const char *handle)
{
	int r;

	if ((r = cstore_begin(s)) != SOTTO_OK)
		return r;
	if ((r = delete_handle(s, "DELETE FROM contacts WHERE handle = ?", handle)) != SOTTO_OK ||
	    (r = delete_handle(s, "DELETE FROM device_lists WHERE handle = ?", handle)) != SOTTO_OK ||
	    (r = cstore_commit(s)) != SOTTO_OK) {
		cstore_rollback(s);
		return r;
	}
	return SOTTO_OK;
}

int
cstore_list_add(cstore *s, const char *handle, uint64_t version, const uint8_t *p, size_t n)
{
	sqlite3_stmt *st = NULL;
	int r;

	if (n == 0 || n > SOTTO_MAX_DEVICE_LIST || version > INT64_MAX)
		return SOTTO_ERR_INVALID_ARG;
	if ((r = prepare(s, &st, "INSERT OR REPLACE INTO device_lists(handle, version, signed) "
	    "VALUES(?, ?, ?)")) != SOTTO_OK)
		return r;
	r = SOTTO_ERR_DB;
	if (sqlite3_bind_text(st, 1, handle, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 2, (sqlite3_int64)version) != SQLITE_OK ||
	    sqlite3_bind_blob(st, 3, p, (int)n, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_DONE)
		goto out;
	r = SOTTO_OK;
out:
	sqlite3_finalize(st);
	return r;
}

/* The stored bytes are untrusted: re-parse, and they must be the list they claim. */
static int
list_query(cstore *s, const char *sql, const char *handle, uint64_t version, dl_list *l,
    uint8_t **bytes, size_t *n)
{
	sqlite3_stmt *st = NULL;
	const void *b;
	uint8_t *copy = NULL;
	int r, len, step;

	if ((r = prepare(s, &st, sql)) != SOTTO_OK)
		return r;
	r = SOTTO_ERR_DB;
	if (sqlite3_bind_text(st, 1, handle, -1, SQLITE_STATIC) != SQLITE_OK ||
	    (version != 0 && sqlite3_bind_int64(st, 2, (sqlite3_int64)version) != SQLITE_OK))
		goto out;
	if ((step = sqlite3_step(st)) == SQLITE_DONE) {
		r = SOTTO_ERR_NOT_FOUND;
		goto out;
	}
	if (step != SQLITE_ROW)
		goto out;
	b = sqlite3_column_blob(st, 1);
	len = sqlite3_column_bytes(st, 1);
	if (b == NULL || len <= 0 || len > SOTTO_MAX_DEVICE_LIST)
		goto out;
	if ((copy = malloc((size_t)len)) == NULL) {
		r = SOTTO_ERR_NOMEM;
		goto out;
	}
	memcpy(copy, b, (size_t)len);
	if (dl_parse(l, copy, (size_t)len) != SOTTO_OK || strcmp(l->handle, handle) != 0 ||
	    (uint64_t)sqlite3_column_int64(st, 0) != l->version)
		goto out;
	if (bytes != NULL) {
		*bytes = copy;
		copy = NULL;
	}
	if (n != NULL)
		*n = (size_t)len;
	r = SOTTO_OK;
out:
	free(copy);
	sqlite3_finalize(st);
	return r;
}

int
cstore_list_latest(cstore *s, const char *handle, dl_list *l, uint8_t **bytes, size_t *n)
{
	return list_query(s, "SELECT version, signed FROM device_lists WHERE handle = ? "
	    "ORDER BY version DESC LIMIT 1", handle, 0, l, bytes, n);
}

int
cstore_list_get(cstore *s, const char *handle, uint64_t version, dl_list *l, uint8_t **bytes,
    size_t *n)
{
	if (version == 0 || version > INT64_MAX)
		return SOTTO_ERR_INVALID_ARG;
	return list_query(s, "SELECT version, signed FROM device_lists WHERE handle = ? "
	    "AND version = ?", handle, version, l, bytes, n);
}

int
cstore_message_add(cstore *s, const cstore_message *m)
{
	sqlite3_stmt *st = NULL;
	int r;

	if (m->body_len > SOTTO_MAX_BODY || m->sent_at > INT64_MAX || m->received_at > INT64_MAX)
		return SOTTO_ERR_INVALID_ARG;
	if ((r = prepare(s, &st, "INSERT OR IGNORE INTO messages(msg_id, sender, device, recipients, "
	    "sent_at, body, outgoing, received_at, shown) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?)")) != SOTTO_OK)
		return r;
	r = SOTTO_ERR_DB;
	if (sqlite3_bind_blob(st, 1, m->msg_id, sizeof(m->msg_id), SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(st, 2, m->from, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_blob(st, 3, m->device, sizeof(m->device), SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(st, 4, m->to, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 5, (sqlite3_int64)m->sent_at) != SQLITE_OK ||
	    sqlite3_bind_blob(st, 6, m->body_len ? (const void *)m->body : "", (int)m->body_len,
	    SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_int(st, 7, m->outgoing ? 1 : 0) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 8, (sqlite3_int64)m->received_at) != SQLITE_OK ||
	    sqlite3_bind_int(st, 9, m->shown ? 1 : 0) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_DONE)
		goto out;
	/* INSERT OR IGNORE on the UNIQUE msg_id is the replay rule. */
	r = sqlite3_changes(s->db) == 1 ? SOTTO_OK : SOTTO_ERR_REPLAY;
out:
	sqlite3_finalize(st);
	return r;
}

int
cstore_message_mark_shown(cstore *s, const uint8_t msg_id[static 16])
{
	sqlite3_stmt *st = NULL;
	int r;

	if ((r = prepare(s, &st, "UPDATE messages SET shown = 1 WHERE msg_id = ?")) != SOTTO_OK)
		return r;
	r = SOTTO_ERR_DB;
	if (sqlite3_bind_blob(st, 1, msg_id, 16, SQLITE_STATIC) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_DONE)
		r = SOTTO_OK;
	sqlite3_finalize(st);
	return r;
}

/* Call fn for each row of a messages query whose columns are those of
 * MSG_COLUMNS; handle (may be NULL) binds parameter 1. */
#define MSG_COLUMNS "msg_id, sender, device, recipients, sent_at, body, outgoing, received_at, shown"

static int
messages_walk(cstore *s, const char *sql, const char *handle,
    int (*fn)(const cstore_message *m, void *arg), void *arg)
{
	sqlite3_stmt *st = NULL;
	cstore_message *m = NULL;
	const void *body;
	int r, step, len;

	if ((m = calloc(1, sizeof(*m))) == NULL)
		return SOTTO_ERR_NOMEM;
	if ((r = prepare(s, &st, sql)) != SOTTO_OK)
		goto out;
	r = SOTTO_ERR_DB;
	if (handle != NULL && sqlite3_bind_text(st, 1, handle, -1, SQLITE_STATIC) != SQLITE_OK)
		goto out;
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		memset(m, 0, sizeof(*m));
		/* Rows are untrusted: fixed sizes and caps are checked as on the wire. */
		r = SOTTO_ERR_DB;
		body = sqlite3_column_blob(st, 5);
		len = sqlite3_column_bytes(st, 5);
		if (col_blob(st, 0, m->msg_id, sizeof(m->msg_id)) != SOTTO_OK ||
		    col_text(st, 1, m->from, SOTTO_MAX_HANDLE) != SOTTO_OK ||
		    col_blob(st, 2, m->device, sizeof(m->device)) != SOTTO_OK ||
		    col_text(st, 3, m->to, sizeof(m->to) - 1) != SOTTO_OK ||
		    len < 0 || (size_t)len > SOTTO_MAX_BODY || (len > 0 && body == NULL))
			goto out;
		m->sent_at = (uint64_t)sqlite3_column_int64(st, 4);
		m->body = len > 0 ? body : (const uint8_t *)"";
		m->body_len = (size_t)len;
		m->outgoing = sqlite3_column_int(st, 6) != 0;
		m->received_at = (uint64_t)sqlite3_column_int64(st, 7);
		m->shown = sqlite3_column_int(st, 8) != 0;
		if ((r = fn(m, arg)) != 0)
			goto out;
	}
	r = step == SQLITE_DONE ? SOTTO_OK : SOTTO_ERR_DB;
out:
	sqlite3_finalize(st);
	free(m);
	return r;
}

int
cstore_messages_unshown(cstore *s, int (*fn)(const cstore_message *m, void *arg), void *arg)
{
	return messages_walk(s, "SELECT " MSG_COLUMNS " FROM messages WHERE shown = 0 ORDER BY id", NULL,
	    fn, arg);
}

int
cstore_messages_all(cstore *s, const char *handle, int (*fn)(const cstore_message *m, void *arg),
    void *arg)
{
	/* instr, not LIKE: '_' in a handle is no wildcard. */
	if (handle != NULL)
		return messages_walk(s, "SELECT " MSG_COLUMNS " FROM messages WHERE sender = ?1 OR "
		    "instr(',' || recipients || ',', ',' || ?1 || ',') > 0 ORDER BY id", handle, fn, arg);
	return messages_walk(s, "SELECT " MSG_COLUMNS " FROM messages ORDER BY id", NULL, fn, arg);
}

int
cstore_message_seen(cstore *s, const uint8_t msg_id[static 16])
{
	sqlite3_stmt *st = NULL;
	int r, step;

	if ((r = prepare(s, &st, "SELECT 1 FROM messages WHERE msg_id = ?")) != SOTTO_OK)
		return r;
	r = SOTTO_ERR_DB;
	if (sqlite3_bind_blob(st, 1, msg_id, 16, SQLITE_STATIC) != SQLITE_OK)
		goto out;
	step = sqlite3_step(st);
	if (step == SQLITE_ROW)
		r = 1;
	else if (step == SQLITE_DONE)
		r = 0;
out:
	sqlite3_finalize(st);
	return r;
}

/* How many are held, from sender (NULL: from anyone). */
static int
held_count(cstore *s, const char *sender, uint64_t *n)
{
	sqlite3_stmt *st = NULL;
	int r;

	if ((r = prepare(s, &st, sender != NULL ? "SELECT count(*) FROM held_messages WHERE sender = ?" :
	    "SELECT count(*) FROM held_messages")) != SOTTO_OK)
		return r;
	r = SOTTO_ERR_DB;
	if ((sender == NULL || sqlite3_bind_text(st, 1, sender, -1, SQLITE_STATIC) == SQLITE_OK) &&
	    sqlite3_step(st) == SQLITE_ROW) {
		*n = (uint64_t)sqlite3_column_int64(st, 0);
		r = SOTTO_OK;
	}
	sqlite3_finalize(st);
	return r;
}

int
cstore_held_add(cstore *s, const char *sender, const uint8_t env_hash[static 32], const uint8_t *env,
    size_t env_len, const uint8_t *wrap, size_t wrap_len, uint64_t at, int *first)
{
	sqlite3_stmt *st = NULL;
	uint64_t all = 0, mine = 0;
	int r;

	*first = 0;
	if (at > INT64_MAX || env_len == 0 || env_len > CSTORE_HELD_MAX_BYTES || wrap_len == 0 ||
	    wrap_len > CSTORE_HELD_MAX_BYTES)
		return SOTTO_ERR_INVALID_ARG;
	/* Already held (a copy delivered again): nothing to add, nothing to refuse. */
	if ((r = prepare(s, &st, "SELECT 1 FROM held_messages WHERE sender = ? AND env_hash = ?")) !=
	    SOTTO_OK)
		return r;
	r = SOTTO_ERR_DB;
	if (sqlite3_bind_text(st, 1, sender, -1, SQLITE_STATIC) == SQLITE_OK &&
	    sqlite3_bind_blob(st, 2, env_hash, 32, SQLITE_STATIC) == SQLITE_OK) {
		int step = sqlite3_step(st);

		r = step == SQLITE_ROW ? 1 : step == SQLITE_DONE ? SOTTO_OK : SOTTO_ERR_DB;
	}
	sqlite3_finalize(st);
	st = NULL;
	if (r != SOTTO_OK)
		return r == 1 ? SOTTO_OK : r;
	if ((r = held_count(s, NULL, &all)) != SOTTO_OK || (r = held_count(s, sender, &mine)) != SOTTO_OK)
		return r;
	/* Anyone can send bytes that claim a sender whose reset waits: a cap per
	 * claimed sender, and one for all, bound what they can make us keep. */
	if (all >= CSTORE_MAX_HELD || mine >= CSTORE_MAX_HELD_PER_SENDER)
		return SOTTO_ERR_TOO_LARGE;
	if ((r = prepare(s, &st, "INSERT OR IGNORE INTO held_messages(sender, env_hash, envelope, wrap, at) "
	    "VALUES(?, ?, ?, ?, ?)")) != SOTTO_OK)
		return r;
	r = SOTTO_ERR_DB;
	if (sqlite3_bind_text(st, 1, sender, -1, SQLITE_STATIC) == SQLITE_OK &&
	    sqlite3_bind_blob(st, 2, env_hash, 32, SQLITE_STATIC) == SQLITE_OK &&
	    sqlite3_bind_blob(st, 3, env, (int)env_len, SQLITE_STATIC) == SQLITE_OK &&
	    sqlite3_bind_blob(st, 4, wrap, (int)wrap_len, SQLITE_STATIC) == SQLITE_OK &&
	    sqlite3_bind_int64(st, 5, (sqlite3_int64)at) == SQLITE_OK && sqlite3_step(st) == SQLITE_DONE) {
		r = SOTTO_OK;
		/* The first held from sender: the one worth an alert. */
		*first = mine == 0 && sqlite3_changes(s->db) == 1;
	}
	sqlite3_finalize(st);
	return r;
}

int
cstore_held_each(cstore *s, const char *sender, int (*fn)(const uint8_t *env, size_t env_len,
    const uint8_t *wrap, size_t wrap_len, void *arg), void *arg)
{
	sqlite3_stmt *st = NULL;
	const void *e, *w;
	int r, step, el, wl;

	if ((r = prepare(s, &st, "SELECT envelope, wrap FROM held_messages WHERE sender = ? ORDER BY id")) !=
	    SOTTO_OK)
		return r;
	r = SOTTO_ERR_DB;
	if (sqlite3_bind_text(st, 1, sender, -1, SQLITE_STATIC) != SQLITE_OK)
		goto out;
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		/* Rows are untrusted: sizes capped here, contents parsed by the
		 * envelope's bounded reader like any delivery. */
		r = SOTTO_ERR_DB;
		e = sqlite3_column_blob(st, 0);
		el = sqlite3_column_bytes(st, 0);
		w = sqlite3_column_blob(st, 1);
		wl = sqlite3_column_bytes(st, 1);
		if (e == NULL || w == NULL || el <= 0 || wl <= 0 || (size_t)el > CSTORE_HELD_MAX_BYTES ||
		    (size_t)wl > CSTORE_HELD_MAX_BYTES)
			goto out;
		if ((r = fn(e, (size_t)el, w, (size_t)wl, arg)) != 0)
			goto out;
	}
	r = step == SQLITE_DONE ? SOTTO_OK : SOTTO_ERR_DB;
out:
	sqlite3_finalize(st);
	return r;
}

int
cstore_held_drop(cstore *s, const char *sender)
{
	return delete_handle(s, "DELETE FROM held_messages WHERE sender = ?", sender);
}

/* Homes from before alerts were grouped have no count column. */
static int
alerts_upgrade(cstore *s)
{
	sqlite3_stmt *st = NULL;
	int r, step;

	if ((r = prepare(s, &st, "SELECT 1 FROM pragma_table_info('alerts') WHERE name = 'count'")) !=
	    SOTTO_OK)
		return r;
	step = sqlite3_step(st);
	sqlite3_finalize(st);
	if (step == SQLITE_ROW)
		return SOTTO_OK;
	if (step != SQLITE_DONE)
		return SOTTO_ERR_DB;
	return exec(s, "ALTER TABLE alerts ADD COLUMN count INTEGER NOT NULL DEFAULT 1");
}

/* The first row of sql (kind binds ?1, handle ?2, each if not NULL): its
 * first column into *id, its second into *count if not NULL (a count must be
 * 1.. INT64_MAX - 1). SOTTO_ERR_NOT_FOUND if no row. */
static int
alert_query(cstore *s, const char *sql, const char *kind, const char *handle, int64_t *id,
    uint64_t *count)
{
	sqlite3_stmt *st = NULL;
	int r, step;

	if ((r = prepare(s, &st, sql)) != SOTTO_OK)
		return r;
	r = SOTTO_ERR_DB;
	if ((kind != NULL && sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC) != SQLITE_OK) ||
	    (handle != NULL && sqlite3_bind_text(st, 2, handle, -1, SQLITE_STATIC) != SQLITE_OK))
		goto out;
	if ((step = sqlite3_step(st)) == SQLITE_DONE) {
		r = SOTTO_ERR_NOT_FOUND;
		goto out;
	}
	if (step != SQLITE_ROW)
		goto out;
	*id = sqlite3_column_int64(st, 0);
	if (count != NULL) {
		*count = (uint64_t)sqlite3_column_int64(st, 1);
		if (*count == 0 || *count >= INT64_MAX)
			goto out;
	}
	r = SOTTO_OK;
out:
	sqlite3_finalize(st);
	return r;
}

/* The unseen alert of kind about handle that new ones of the same count into. */
static int
alert_group_find(cstore *s, const char *kind, const char *handle, int64_t *id, uint64_t *count)
{
	return alert_query(s, "SELECT id, count FROM alerts WHERE kind = ?1 AND handle = ?2 AND seen = 0 "
	    "ORDER BY id DESC LIMIT 1", kind, handle, id, count);
}

static int
alert_update(cstore *s, int64_t id, uint64_t count, const uint8_t *device, uint64_t at, const char *text)
{
	sqlite3_stmt *st = NULL;
	int r;

	if ((r = prepare(s, &st, "UPDATE alerts SET count = ?, at = ?, device = ?, text = ? WHERE id = ?")) !=
	    SOTTO_OK)
		return r;
	r = SOTTO_ERR_DB;
	if (sqlite3_bind_int64(st, 1, (sqlite3_int64)count) == SQLITE_OK &&
	    sqlite3_bind_int64(st, 2, (sqlite3_int64)at) == SQLITE_OK &&
	    (device != NULL ? sqlite3_bind_blob(st, 3, device, SC_DEVICE_ID, SQLITE_STATIC) :
	    sqlite3_bind_null(st, 3)) == SQLITE_OK &&
	    sqlite3_bind_text(st, 4, text, -1, SQLITE_STATIC) == SQLITE_OK &&
	    sqlite3_bind_int64(st, 5, id) == SQLITE_OK && sqlite3_step(st) == SQLITE_DONE)
		r = SOTTO_OK;
	sqlite3_finalize(st);
	return r;
}

static int
alert_insert(cstore *s, const char *kind, const char *handle, const uint8_t *device, uint64_t at,
    const char *text)
{
	sqlite3_stmt *st = NULL;
	int r;

	if ((r = prepare(s, &st, "INSERT INTO alerts(kind, handle, device, at, text) "
	    "VALUES(?, ?, ?, ?, ?)")) != SOTTO_OK)
		return r;
	r = SOTTO_ERR_DB;
	if (sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(st, 2, handle, -1, SQLITE_STATIC) != SQLITE_OK ||
	    (device != NULL ? sqlite3_bind_blob(st, 3, device, SC_DEVICE_ID, SQLITE_STATIC) :
	    sqlite3_bind_null(st, 3)) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 4, (sqlite3_int64)at) != SQLITE_OK ||
	    sqlite3_bind_text(st, 5, text, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_DONE)
		goto out;
	r = SOTTO_OK;
out:
	sqlite3_finalize(st);
	return r;
}

/*
 * Whoever can make this device raise alerts (a sender, a hostile server)
 * must not grow the list without end: beyond SOTTO_CLIENT_MAX_ALERTS rows the
 * oldest alert already listed makes room, and when none has been listed yet
 * the new one is counted into one row of its kind ("the list is full"), so
 * no unseen alert is ever lost without a trace.
 */
int
cstore_alert_add(cstore *s, const char *kind, const char *handle, const uint8_t *device,
    uint64_t at, const char *text)
{
	char full[ALERT_TEXT_MAX + 1];
	uint64_t count = 0;
	int64_t id = 0, rows = 0;
	int r;

	if (at > INT64_MAX || strlen(text) > ALERT_TEXT_MAX - 128)
		return SOTTO_ERR_INVALID_ARG;
	if ((r = alert_query(s, "SELECT count(*) FROM alerts", NULL, NULL, &rows, NULL)) != SOTTO_OK)
		return r;
	if (rows < SOTTO_CLIENT_MAX_ALERTS)
		return alert_insert(s, kind, handle, device, at, text);
	if ((r = exec(s, "DELETE FROM alerts WHERE id = (SELECT id FROM alerts WHERE seen = 1 "
	    "ORDER BY id LIMIT 1)")) != SOTTO_OK)
		return r;
	if (sqlite3_changes(s->db) == 1)
		return alert_insert(s, kind, handle, device, at, text);
	r = alert_group_find(s, kind, "", &id, &count);
	if (r == SOTTO_ERR_NOT_FOUND)
		count = 0;
	else if (r != SOTTO_OK)
		return r;
	snprintf(full, sizeof(full), "%llu %s alerts more than the alert list holds (%d); the last: %s",
	    (unsigned long long)count + 1, kind, SOTTO_CLIENT_MAX_ALERTS, text);
	/* One such row per kind, beyond the cap: the list stays bounded. */
	if (count == 0)
		return alert_insert(s, kind, "", device, at, full);
	return alert_update(s, id, count + 1, device, at, full);
}

int
cstore_alert_group(cstore *s, const char *kind, const char *handle, const uint8_t *device,
    uint64_t at, cstore_alert_text_fn text, void *arg)
{
	char t[ALERT_TEXT_MAX + 1];
	uint64_t count = 0;
	int64_t id = 0;
	int r;

	if (at > INT64_MAX)
		return SOTTO_ERR_INVALID_ARG;
	r = alert_group_find(s, kind, handle, &id, &count);
	if (r == SOTTO_ERR_NOT_FOUND) {
		text(t, sizeof(t) - 128, 1, arg);
		return cstore_alert_add(s, kind, handle, device, at, t);
	}
	if (r != SOTTO_OK)
		return r;
	text(t, sizeof(t), count + 1, arg);
	return alert_update(s, id, count + 1, device, at, t);
}

void
sotto_alerts_free(sotto_alert *a, size_t n)
{
	if (a == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		free(a[i].text);
	free(a);
}

int
cstore_alerts(cstore *s, sotto_alert **out, size_t *nout)
{
	sqlite3_stmt *st = NULL;
	sotto_alert *a = NULL;
	size_t n = 0, cap = 0;
	uint8_t dev[SC_DEVICE_ID];
	int r, step;

	*out = NULL;
	*nout = 0;
	if ((r = prepare(s, &st, "SELECT kind, handle, device, at, text, seen, count FROM alerts "
	    "ORDER BY id")) != SOTTO_OK)
		return r;
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		if ((r = array_grow(&a, &cap, n, sizeof(*a), 16, SIZE_MAX)) != SOTTO_OK)
			goto out;
		memset(&a[n], 0, sizeof(a[n]));
		n++;
		r = SOTTO_ERR_DB;
		if (col_text(st, 0, a[n - 1].kind, SOTTO_ALERT_KIND_MAX) != SOTTO_OK ||
		    col_text(st, 1, a[n - 1].handle, SOTTO_MAX_HANDLE) != SOTTO_OK)
			goto out;
		if (sqlite3_column_type(st, 2) != SQLITE_NULL) {
			if (col_blob(st, 2, dev, sizeof(dev)) != SOTTO_OK)
				goto out;
			sc_hex(a[n - 1].device, dev, sizeof(dev));
		}
		a[n - 1].at = (uint64_t)sqlite3_column_int64(st, 3);
		a[n - 1].seen = sqlite3_column_int(st, 5) != 0;
		if ((a[n - 1].count = (uint64_t)sqlite3_column_int64(st, 6)) == 0)
			goto out;
		if ((a[n - 1].text = malloc(ALERT_TEXT_MAX + 1)) == NULL) {
			r = SOTTO_ERR_NOMEM;
			goto out;
		}
		if (col_text(st, 4, a[n - 1].text, ALERT_TEXT_MAX) != SOTTO_OK)
			goto out;
	}
	if (step != SQLITE_DONE) {
		r = SOTTO_ERR_DB;
		goto out;
	}
	if ((r = exec(s, "UPDATE alerts SET seen = 1 WHERE seen = 0")) != SOTTO_OK)
		goto out;
	*out = a;
	*nout = n;
	a = NULL;
	n = 0;
	r = SOTTO_OK;
out:
	sqlite3_finalize(st);
	sotto_alerts_free(a, n);
	return r;
}
