/* SPDX-License-Identifier: ISC */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "caps.h"
#include "sotto/error.h"
#include "store.h"
#include "store_wake.h"
#include "wire.h"

#define SQLITE_BUSY_MS 5000
#define COPY_WRAP_MAX 256

enum stmt_id {
	ST_BEGIN, ST_COMMIT, ST_ROLLBACK, ST_MARK, ST_RELEASE, ST_UNDO,
	ST_ACCOUNT_EXISTS, ST_ACCOUNT_ADD,
	ST_LIST_ADD, ST_DEVICES_CLEAR, ST_DEVICE_ADD, ST_LIST_CURRENT, ST_LIST_HISTORY, ST_LIST_RECENT,
	ST_INVITE_ADD, ST_INVITE_CANDIDATES, ST_INVITE_USE,
	ST_COPY_ADD, ST_COPY_COUNT, ST_COPY_FETCH, ST_COPY_ACK, ST_COPY_SWEEP, ST_COPY_TOTAL, ST_COPY_GET,
	ST_COPY_PURGE, ST_RDV_SWEEP, ST_RDV_COUNT, ST_RDV_OWNED, ST_RDV_EXISTS, ST_RDV_ADD, ST_RDV_GET, ST_RDV_USE,
	ST_RDV_EXTEND,
	ST_COPY_COUNT_SENDER, ST_USAGE_GET, ST_USAGE_TOTAL,
	ST_DEVICE_OWNER, ST_DEVICE_CLAIM, ST_COPY_MOVE,
	ST__COUNT
};

static const char *const stmt_sql[ST__COUNT] = {
	[ST_BEGIN] = "BEGIN IMMEDIATE",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
	[ST_MARK] = "SAVEPOINT step",
	[ST_RELEASE] = "RELEASE step",
	[ST_UNDO] = "ROLLBACK TO step",
	[ST_ACCOUNT_EXISTS] = "SELECT 1 FROM accounts WHERE handle = ?1",
	[ST_ACCOUNT_ADD] = "INSERT INTO accounts(handle, account_pub, created_at) VALUES (?1, ?2, ?3)",
	[ST_LIST_ADD] = "INSERT INTO device_lists(handle, version, list, published_at) VALUES (?1, ?2, ?3, ?4)",
	[ST_DEVICES_CLEAR] = "DELETE FROM devices WHERE handle = ?1",
	/* No OR REPLACE: a device id another handle holds is refused (list_add). */
	[ST_DEVICE_ADD] = "INSERT INTO devices(device_id, handle, sig_pub) VALUES (?1, ?2, ?3)",
	[ST_LIST_CURRENT] = "SELECT version, list FROM device_lists WHERE handle = ?1 "
	    "ORDER BY version DESC LIMIT 1",
	[ST_LIST_HISTORY] = "SELECT version, list FROM device_lists WHERE handle = ?1 AND version > ?2 "
	    "ORDER BY version ASC LIMIT ?3",
	[ST_LIST_RECENT] = "SELECT count(*) FROM (SELECT published_at FROM device_lists WHERE handle = ?1 "
	    "ORDER BY version DESC LIMIT ?3) WHERE published_at > ?2",
	[ST_INVITE_ADD] = "INSERT INTO invites(secret_hash, handle, created_at, used_at) VALUES (?1, ?2, ?3, NULL)",
	[ST_INVITE_CANDIDATES] = "SELECT rowid, secret_hash FROM invites WHERE handle = ?1 "
	    "AND used_at IS NULL AND created_at > ?2",
	[ST_INVITE_USE] = "UPDATE invites SET used_at = ?2 WHERE rowid = ?1 AND used_at IS NULL",
	/* ?7 NULL: AUTOINCREMENT picks the seq. */
	/* Only a repeated (device, msg id) is a no-op; a taken seq is an error. */
	[ST_COPY_ADD] = "INSERT INTO copies(seq, device_id, msg_id, envelope, wrap, stored_at, expires_at, "
	    "account, sender, size) VALUES (?7, ?1, ?2, ?3, ?4, ?5, ?6, ?8, ?9, ?10) "
	    "ON CONFLICT(device_id, msg_id) DO NOTHING",
	[ST_COPY_COUNT] = "SELECT count(*) FROM copies WHERE account = ?3 AND device_id = ?1 "
	    "AND expires_at > ?2",
	[ST_COPY_FETCH] = "SELECT seq, msg_id, envelope, wrap, stored_at, expires_at FROM copies "
	    "WHERE account = ?4 AND device_id = ?1 AND expires_at > ?2 ORDER BY seq ASC LIMIT ?3",
	[ST_COPY_ACK] = "DELETE FROM copies WHERE seq = ?1 AND device_id = ?2 AND account = ?3",
	[ST_COPY_SWEEP] = "DELETE FROM copies WHERE seq IN (SELECT seq FROM copies WHERE expires_at <= ?1 "
	    "ORDER BY expires_at LIMIT ?2)",
	[ST_COPY_TOTAL] = "SELECT count(*) FROM copies",
	[ST_COPY_GET] = "SELECT seq, msg_id, envelope, wrap, stored_at, expires_at FROM copies "
	    "WHERE account = ?4 AND device_id = ?1 AND seq = ?2 AND expires_at > ?3",
	[ST_COPY_PURGE] = "DELETE FROM copies WHERE account = ?2 AND device_id = ?1",
	[ST_RDV_SWEEP] = "DELETE FROM link_rendezvous WHERE expires_at <= ?1",
	[ST_RDV_COUNT] = "SELECT count(*) FROM link_rendezvous",
	[ST_RDV_OWNED] = "SELECT count(*) FROM link_rendezvous WHERE owner = ?1",
	[ST_RDV_EXISTS] = "SELECT 1 FROM link_rendezvous WHERE id = ?1 AND slot = ?2",
	[ST_RDV_ADD] = "INSERT INTO link_rendezvous(id, slot, blob, expires_at, used, owner) "
	    "VALUES (?1, ?2, ?3, ?4, 0, ?5)",
	[ST_RDV_GET] = "SELECT blob FROM link_rendezvous WHERE id = ?1 AND slot = ?2 AND used = 0 "
	    "AND expires_at > ?3",
	[ST_RDV_USE] = "UPDATE link_rendezvous SET used = 1 WHERE id = ?1 AND slot = ?2 AND used = 0",
	[ST_RDV_EXTEND] = "UPDATE link_rendezvous SET expires_at = ?4 WHERE id = ?1 AND slot = ?2 AND used = 0 "
	    "AND expires_at > ?3",
	[ST_COPY_COUNT_SENDER] = "SELECT count(*) FROM copies WHERE device_id = ?1 AND sender = ?2 "
	    "AND expires_at > ?3",
	[ST_USAGE_GET] = "SELECT max(bytes, 0), max(copies, 0) FROM account_usage WHERE sender = ?1",
	[ST_USAGE_TOTAL] = "SELECT max(coalesce(sum(bytes), 0), 0) FROM account_usage",
	[ST_DEVICE_OWNER] = "SELECT handle FROM devices WHERE device_id = ?1",
	/* handle = ?2: only the row the caller saw moves (device_reclaim). */
	[ST_DEVICE_CLAIM] = "UPDATE devices SET handle = ?3 WHERE device_id = ?1 AND handle = ?2",
	[ST_COPY_MOVE] = "UPDATE copies SET account = ?3 WHERE account = ?2 AND device_id = ?1",
};

static const char schema_sql[] =
    "CREATE TABLE IF NOT EXISTS accounts("
    " handle TEXT PRIMARY KEY, account_pub BLOB NOT NULL, created_at INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS device_lists("
    " handle TEXT NOT NULL, version INTEGER NOT NULL, list BLOB NOT NULL,"
    " PRIMARY KEY(handle, version));"
    "CREATE TABLE IF NOT EXISTS devices("
    " device_id BLOB PRIMARY KEY, handle TEXT NOT NULL, sig_pub BLOB NOT NULL);"
    "CREATE INDEX IF NOT EXISTS devices_handle ON devices(handle);"
    "CREATE TABLE IF NOT EXISTS invites("
    " secret_hash BLOB PRIMARY KEY, handle TEXT NOT NULL, created_at INTEGER NOT NULL,"
    " used_at INTEGER);"
    "CREATE INDEX IF NOT EXISTS invites_handle ON invites(handle);"
    "CREATE TABLE IF NOT EXISTS copies("
    " seq INTEGER PRIMARY KEY AUTOINCREMENT, device_id BLOB NOT NULL, msg_id BLOB NOT NULL,"
    " envelope BLOB NOT NULL, wrap BLOB NOT NULL, stored_at INTEGER NOT NULL,"
    " expires_at INTEGER NOT NULL, sender TEXT NOT NULL DEFAULT '', size INTEGER NOT NULL DEFAULT 0,"
    " UNIQUE(device_id, msg_id));"
    "DROP INDEX IF EXISTS copies_device_seq;"
    /* Replaced by copies_queue (copies_account_sql). */
    "DROP INDEX IF EXISTS copies_device_seq_exp;"
    "CREATE INDEX IF NOT EXISTS copies_expires ON copies(expires_at);"
    /* The rendezvous before entries had an owner: its entries lived minutes. */
    "DROP TABLE IF EXISTS rendezvous;"
    "CREATE TABLE IF NOT EXISTS link_rendezvous("
    " id BLOB NOT NULL, slot INTEGER NOT NULL, blob BLOB NOT NULL, expires_at INTEGER NOT NULL,"
    " used INTEGER NOT NULL, owner BLOB NOT NULL, PRIMARY KEY(id, slot));"
    "CREATE INDEX IF NOT EXISTS link_rendezvous_expires ON link_rendezvous(expires_at);"
    "CREATE INDEX IF NOT EXISTS link_rendezvous_owner ON link_rendezvous(owner);";

/*
 * Queues are per (account, device) (store.h): copies.account, added to a store
 * made before it, filled from the devices table (the owner then), '' where no
 * account lists the device any more (unreachable; swept at expiry).
 * expires_at in the index: counting a queue for the cap, and skipping expired
 * copies in a fetch, never touch the rows themselves.
 */
static const char copies_account_sql[] =
    "ALTER TABLE copies ADD COLUMN account TEXT NOT NULL DEFAULT '';"
    "UPDATE copies SET account = coalesce((SELECT handle FROM devices d "
    " WHERE d.device_id = copies.device_id), '');";
/* When each version was published (list_recent: the publish rate). */
static const char lists_published_sql[] =
    "ALTER TABLE device_lists ADD COLUMN published_at INTEGER NOT NULL DEFAULT 0;";
static const char copies_queue_sql[] =
    "CREATE INDEX IF NOT EXISTS copies_queue ON copies(account, device_id, seq, expires_at);";

/*
 * Stored bytes and copies per sender, kept by triggers, so that every insert
 * and delete of a copy (send, ack, sweep, purge, whatever comes later) counts
 * without any op having to. SQLite has one writer at a time: the sender's row
 * is never contended. Made once, filled from the copies already stored (a
 * store from before the sender column: their sender is '', size computed).
 */
static const char usage_sql[] =
    "CREATE TABLE account_usage("
    " sender TEXT PRIMARY KEY, bytes INTEGER NOT NULL, copies INTEGER NOT NULL);"
    "INSERT INTO account_usage(sender, bytes, copies)"
    " SELECT sender, sum(size), count(*) FROM copies GROUP BY sender;"
    "CREATE TRIGGER copies_usage_add AFTER INSERT ON copies BEGIN"
    " INSERT INTO account_usage(sender, bytes, copies) VALUES (NEW.sender, NEW.size, 1)"
    " ON CONFLICT(sender) DO UPDATE SET bytes = bytes + excluded.bytes, copies = copies + 1; END;"
    "CREATE TRIGGER copies_usage_del AFTER DELETE ON copies BEGIN"
    " UPDATE account_usage SET bytes = bytes - OLD.size, copies = copies - 1"
    " WHERE sender = OLD.sender; END;";

typedef struct store_sqlite {
	store base;	/* first: a store * is a store_sqlite * */
	sqlite3 *db;
	sqlite3_stmt *st[ST__COUNT];
	int in_tx;
	wakeq wq;		/* announced in the open transaction */
	wakepipe wp;		/* the node's other workers */
	sbuf rec;		/* one DELIVER record at a time (store_sqlite_deliver) */
} store_sqlite;

static store_sqlite *
SQ(store *s)
{
	return (store_sqlite *)s;
}

/* Every statement is reset after use, so none holds a read snapshot open. */
static sqlite3_stmt *
stmt(store_sqlite *q, enum stmt_id id)
{
	sqlite3_stmt *st = q->st[id];

	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return st;
}

static int
step_done(sqlite3_stmt *st)
{
	int r = sqlite3_step(st);

	sqlite3_reset(st);
	return r == SQLITE_DONE ? SOTTO_OK : SOTTO_ERR_DB;
}

static int
bind_blob(sqlite3_stmt *st, int i, const void *p, size_t n)
{
	/* A zero-length blob must still be a blob, not NULL. */
	static const uint8_t empty;

	if (n > 0x7fffffff)
		return SOTTO_ERR_TOO_LARGE;
	return sqlite3_bind_blob(st, i, n == 0 ? &empty : p, (int)n, SQLITE_STATIC) == SQLITE_OK ?
	    SOTTO_OK : SOTTO_ERR_DB;
}

static int
bind_text(sqlite3_stmt *st, int i, const char *s)
{
	return sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC) == SQLITE_OK ? SOTTO_OK : SOTTO_ERR_DB;
}

static int
bind_u64(sqlite3_stmt *st, int i, uint64_t v)
{
	if (v > INT64_MAX)
		return SOTTO_ERR_INVALID_ARG;
	return sqlite3_bind_int64(st, i, (sqlite3_int64)v) == SQLITE_OK ? SOTTO_OK : SOTTO_ERR_DB;
}

/* A column read back as an owned copy, refused beyond max bytes. */
static int
col_blob(sqlite3_stmt *st, int i, size_t max, uint8_t **out, size_t *len)
{
	const void *p;
	int n;

	*out = NULL;
	*len = 0;
	if (sqlite3_column_type(st, i) != SQLITE_BLOB)
		return SOTTO_ERR_DB;
	p = sqlite3_column_blob(st, i);
	n = sqlite3_column_bytes(st, i);
	if (n < 0 || (size_t)n > max)
		return SOTTO_ERR_TOO_LARGE;
	if ((*out = malloc(n > 0 ? (size_t)n : 1)) == NULL)
		return SOTTO_ERR_NOMEM;
	if (n > 0)
		memcpy(*out, p, (size_t)n);
	*len = (size_t)n;
	return SOTTO_OK;
}

static int
col_u64(sqlite3_stmt *st, int i, uint64_t *v)
{
	sqlite3_int64 x;

	*v = 0;
	if (sqlite3_column_type(st, i) != SQLITE_INTEGER || (x = sqlite3_column_int64(st, i)) < 0)
		return SOTTO_ERR_DB;
	*v = (uint64_t)x;
	return SOTTO_OK;
}

static void
sq_close(store *s)
{
	store_sqlite *q = SQ(s);

	if (q == NULL)
		return;
	if (q->in_tx && q->db != NULL)
		sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
	for (int i = 0; i < ST__COUNT; i++)
		sqlite3_finalize(q->st[i]);
	sqlite3_close(q->db);
	wakeq_free(&q->wq);
	wakepipe_free(&q->wp);
	sbw_free(&q->rec);
	free(q);
}

static int
sq_begin(store *s)
{
	store_sqlite *q = SQ(s);
	int rc;

	if (q->in_tx)
		return SOTTO_ERR_INTERNAL;
	if ((rc = step_done(stmt(q, ST_BEGIN))) == SOTTO_OK)
		q->in_tx = 1;
	return rc;
}

static int
sq_commit(store *s)
{
	store_sqlite *q = SQ(s);
	int rc;

	if (!q->in_tx)
		return SOTTO_ERR_INTERNAL;
	if ((rc = step_done(stmt(q, ST_COMMIT))) != SOTTO_OK) {
		/* A COMMIT that failed may leave the transaction open: end it. */
		if (!sqlite3_get_autocommit(q->db))
			step_done(stmt(q, ST_ROLLBACK));
	} else
		wakepipe_send(&q->wp, &q->wq);
	wakeq_clear(&q->wq);
	q->in_tx = 0;
	return rc;
}

static void
sq_rollback(store *s)
{
	store_sqlite *q = SQ(s);

	if (!q->in_tx)
		return;
	if (!sqlite3_get_autocommit(q->db))
		step_done(stmt(q, ST_ROLLBACK));
	wakeq_clear(&q->wq);
	q->in_tx = 0;
}

static int
sq_mark(store *s)
{
	store_sqlite *q = SQ(s);

	return q->in_tx ? step_done(stmt(q, ST_MARK)) : SOTTO_ERR_INTERNAL;
}

static int
sq_release(store *s)
{
	store_sqlite *q = SQ(s);

	return q->in_tx ? step_done(stmt(q, ST_RELEASE)) : SOTTO_ERR_INTERNAL;
}

static void
sq_undo(store *s)
{
	store_sqlite *q = SQ(s);

	if (!q->in_tx)
		return;
	/* ROLLBACK TO keeps the savepoint open; RELEASE then drops it. */
	step_done(stmt(q, ST_UNDO));
	step_done(stmt(q, ST_RELEASE));
}

static int
sq_account_exists(store *s, const char *handle)
{
	sqlite3_stmt *st = stmt(SQ(s), ST_ACCOUNT_EXISTS);
	int r;

	if (bind_text(st, 1, handle) != SOTTO_OK)
		return SOTTO_ERR_DB;
	r = sqlite3_step(st);
	sqlite3_reset(st);
	if (r == SQLITE_ROW)
		return 1;
	return r == SQLITE_DONE ? 0 : SOTTO_ERR_DB;
}

static int
sq_account_add(store *s, const char *handle, const uint8_t account_pub[SC_SIGN_PUB], uint64_t now)
{
	sqlite3_stmt *st;
	int rc;

	if ((rc = sq_account_exists(s, handle)) != 0)
		return rc == 1 ? SOTTO_ERR_HANDLE_TAKEN : rc;
	st = stmt(SQ(s), ST_ACCOUNT_ADD);
	if ((rc = bind_text(st, 1, handle)) != SOTTO_OK ||
	    (rc = bind_blob(st, 2, account_pub, SC_SIGN_PUB)) != SOTTO_OK ||
	    (rc = bind_u64(st, 3, now)) != SOTTO_OK)
		return rc;
	return step_done(st);
}

static int
sq_list_add(store *s, const dl_list *l, const uint8_t *signed_list, size_t len, uint64_t now)
{
	store_sqlite *q = SQ(s);
	sqlite3_stmt *st;
	int rc, r;

	if (len > SOTTO_MAX_DEVICE_LIST || l->version == 0)
		return SOTTO_ERR_TOO_LARGE;
	st = stmt(q, ST_LIST_ADD);
	if ((rc = bind_text(st, 1, l->handle)) != SOTTO_OK ||
	    (rc = bind_u64(st, 2, l->version)) != SOTTO_OK ||
	    (rc = bind_blob(st, 3, signed_list, len)) != SOTTO_OK ||
	    (rc = bind_u64(st, 4, now)) != SOTTO_OK)
		return rc;
	r = sqlite3_step(st);
	sqlite3_reset(st);
	if (r == SQLITE_CONSTRAINT)
		return SOTTO_ERR_EXISTS;
	if (r != SQLITE_DONE)
		return SOTTO_ERR_DB;
	st = stmt(q, ST_DEVICES_CLEAR);
	if ((rc = bind_text(st, 1, l->handle)) != SOTTO_OK || (rc = step_done(st)) != SOTTO_OK)
		return rc;
	for (size_t i = 0; i < l->n_devices; i++) {
		st = stmt(q, ST_DEVICE_ADD);
		if ((rc = bind_blob(st, 1, l->devices[i].id, SC_DEVICE_ID)) != SOTTO_OK ||
		    (rc = bind_text(st, 2, l->handle)) != SOTTO_OK ||
		    (rc = bind_blob(st, 3, l->devices[i].sig_pub, SC_SIGN_PUB)) != SOTTO_OK)
			return rc;
		/* The handle's own rows were just cleared: a conflict is another's. */
		r = sqlite3_step(st);
		sqlite3_reset(st);
		if (r == SQLITE_CONSTRAINT)
			return SOTTO_ERR_DEVICE_TAKEN;
		if (r != SQLITE_DONE)
			return SOTTO_ERR_DB;
	}
	return SOTTO_OK;
}

static int
sq_list_current(store *s, const char *handle, uint8_t **list, size_t *len, uint64_t *version)
{
	sqlite3_stmt *st = stmt(SQ(s), ST_LIST_CURRENT);
	int rc, r;

	*list = NULL;
	*len = 0;
	*version = 0;
	if ((rc = bind_text(st, 1, handle)) != SOTTO_OK)
		return rc;
	if ((r = sqlite3_step(st)) == SQLITE_DONE) {
		rc = SOTTO_ERR_NOT_FOUND;
		goto out;
	}
	rc = SOTTO_ERR_DB;
	if (r != SQLITE_ROW)
		goto out;
	if ((rc = col_u64(st, 0, version)) != SOTTO_OK ||
	    (rc = col_blob(st, 1, SOTTO_MAX_DEVICE_LIST, list, len)) != SOTTO_OK)
		goto out;
	rc = SOTTO_OK;
out:
	sqlite3_reset(st);
	if (rc != SOTTO_OK) {
		free(*list);
		*list = NULL;
		*len = 0;
		*version = 0;
	}
	return rc;
}

static int
sq_list_history(store *s, const char *handle, uint64_t since, size_t max_count, size_t max_bytes,
    store_blob **out, size_t *n, int *more)
{
	sqlite3_stmt *st = stmt(SQ(s), ST_LIST_HISTORY);
	store_blob *b = NULL;
	size_t cnt = 0, total = 0;
	uint64_t v;
	int rc, r, cut = 0;

	*out = NULL;
	*n = 0;
	*more = 0;
	if (max_count == 0 || max_count > SOTTO_MAX_LIST_HISTORY)
		max_count = SOTTO_MAX_LIST_HISTORY;
	/* No version is stored above INT64_MAX (they count up from 1), so a
	 * larger since (a peer's number) asks for the same nothing. */
	if (since > INT64_MAX)
		since = INT64_MAX;
	if ((rc = sq_account_exists(s, handle)) != 1) {
		rc = rc == 0 ? SOTTO_ERR_NOT_FOUND : rc;
		goto out;
	}
	st = stmt(SQ(s), ST_LIST_HISTORY);
	if ((rc = bind_text(st, 1, handle)) != SOTTO_OK || (rc = bind_u64(st, 2, since)) != SOTTO_OK ||
	    (rc = bind_u64(st, 3, (uint64_t)max_count + 1)) != SOTTO_OK)
		goto out;
	rc = SOTTO_ERR_NOMEM;
	if ((b = calloc(max_count, sizeof(*b))) == NULL)
		goto out;
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		if (cnt == max_count) {
			cut = 1;
			break;
		}
		if ((rc = col_u64(st, 0, &v)) != SOTTO_OK ||
		    (rc = col_blob(st, 1, SOTTO_MAX_DEVICE_LIST, &b[cnt].p, &b[cnt].len)) != SOTTO_OK)
			goto out;
		if (cnt > 0 && (total >= max_bytes || b[cnt].len > max_bytes - total)) {
			free(b[cnt].p);
			b[cnt].p = NULL;
			cut = 1;
			break;
		}
		total += b[cnt].len;
		cnt++;
	}
	rc = SOTTO_ERR_DB;
	if (r != SQLITE_ROW && r != SQLITE_DONE)
		goto out;
	*out = b;
	*n = cnt;
	*more = cut;
	b = NULL;
	rc = SOTTO_OK;
out:
	sqlite3_reset(st);
	store_blobs_free(b, cnt);
	return rc;
}

static int
sq_list_recent(store *s, const char *handle, uint64_t since, uint64_t max, uint64_t *count)
{
	sqlite3_stmt *st = stmt(SQ(s), ST_LIST_RECENT);
	int rc;

	*count = 0;
	if (max == 0 || max > STORE_LIST_RECENT_MAX)
		return SOTTO_ERR_INVALID_ARG;
	if ((rc = bind_text(st, 1, handle)) != SOTTO_OK || (rc = bind_u64(st, 2, since)) != SOTTO_OK ||
	    (rc = bind_u64(st, 3, max)) != SOTTO_OK)
		return rc;
	rc = SOTTO_ERR_DB;
	if (sqlite3_step(st) == SQLITE_ROW)
		rc = col_u64(st, 0, count);
	sqlite3_reset(st);
	return rc;
}

static int
sq_invite_add(store *s, const uint8_t hash[SC_SHA256], const char *handle, uint64_t now)
{
	sqlite3_stmt *st = stmt(SQ(s), ST_INVITE_ADD);
	int rc;

	if ((rc = bind_blob(st, 1, hash, SC_SHA256)) != SOTTO_OK ||
	    (rc = bind_text(st, 2, handle)) != SOTTO_OK || (rc = bind_u64(st, 3, now)) != SOTTO_OK)
		return rc;
	return step_done(st);
}

/*
 * Candidates are found by handle, never by the secret's hash, and every one is
 * compared in constant time: the query's timing says nothing about the secret.
 */
static int
sq_invite_take(store *s, const uint8_t hash[SC_SHA256], const char *handle, uint64_t now,
    uint64_t max_age_ms)
{
	sqlite3_stmt *st = stmt(SQ(s), ST_INVITE_CANDIDATES);
	sqlite3_int64 match = 0;
	int rc, r, found = 0;

	if ((rc = bind_text(st, 1, handle)) != SOTTO_OK ||
	    (rc = bind_u64(st, 2, now > max_age_ms ? now - max_age_ms : 0)) != SOTTO_OK)
		return rc;
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		const void *p = sqlite3_column_blob(st, 1);

		if (sqlite3_column_bytes(st, 1) != SC_SHA256 || p == NULL)
			continue;
		if (sc_memeq(p, hash, SC_SHA256) && !found) {
			found = 1;
			match = sqlite3_column_int64(st, 0);
		}
	}
	sqlite3_reset(st);
	if (r != SQLITE_DONE)
		return SOTTO_ERR_DB;
	if (!found)
		return SOTTO_ERR_INVITE;
	st = stmt(SQ(s), ST_INVITE_USE);
	if (sqlite3_bind_int64(st, 1, match) != SQLITE_OK || (rc = bind_u64(st, 2, now)) != SOTTO_OK)
		return SOTTO_ERR_DB;
	if ((rc = step_done(st)) != SOTTO_OK)
		return rc;
	return sqlite3_changes(SQ(s)->db) == 1 ? SOTTO_OK : SOTTO_ERR_INVITE;
}

static int
sq_copy_add(store *s, const char *account, const store_copy *c, uint64_t *seq)
{
	store_sqlite *q = SQ(s);
	sqlite3_stmt *st = stmt(q, ST_COPY_ADD);
	int rc;

	*seq = 0;
	if (c->envelope_len > SOTTO_MAX_ENVELOPE || c->wrap_len > COPY_WRAP_MAX)
		return SOTTO_ERR_TOO_LARGE;
	if (memchr(c->sender, '\0', sizeof(c->sender)) == NULL)
		return SOTTO_ERR_INVALID_ARG;
	if ((rc = bind_blob(st, 1, c->device_id, SC_DEVICE_ID)) != SOTTO_OK ||
	    (rc = bind_blob(st, 2, c->msg_id, STORE_MSG_ID_LEN)) != SOTTO_OK ||
	    (rc = bind_blob(st, 3, c->envelope, c->envelope_len)) != SOTTO_OK ||
	    (rc = bind_blob(st, 4, c->wrap, c->wrap_len)) != SOTTO_OK ||
	    (rc = bind_u64(st, 5, c->stored_at)) != SOTTO_OK ||
	    (rc = bind_u64(st, 6, c->expires_at)) != SOTTO_OK ||
	    (rc = bind_text(st, 8, account)) != SOTTO_OK ||
	    (rc = bind_text(st, 9, c->sender)) != SOTTO_OK ||
	    (rc = bind_u64(st, 10, (uint64_t)c->envelope_len + c->wrap_len)) != SOTTO_OK)
		return rc;
	if (c->seq > INT64_MAX)
		return SOTTO_ERR_INVALID_ARG;
	if ((c->seq != 0 ? bind_u64(st, 7, c->seq) : (sqlite3_bind_null(st, 7) == SQLITE_OK ?
	    SOTTO_OK : SOTTO_ERR_DB)) != SOTTO_OK)
		return SOTTO_ERR_DB;
	if ((rc = step_done(st)) != SOTTO_OK)
		return rc;
	if (sqlite3_changes(q->db) == 1)
		*seq = (uint64_t)sqlite3_last_insert_rowid(q->db);
	return SOTTO_OK;
}

static int
sq_copy_count(store *s, const char *account, const uint8_t device_id[SC_DEVICE_ID], uint64_t now,
    uint64_t *count)
{
	sqlite3_stmt *st = stmt(SQ(s), ST_COPY_COUNT);
	int rc;

	*count = 0;
	if ((rc = bind_blob(st, 1, device_id, SC_DEVICE_ID)) != SOTTO_OK ||
	    (rc = bind_u64(st, 2, now)) != SOTTO_OK || (rc = bind_text(st, 3, account)) != SOTTO_OK)
		return rc;
	rc = SOTTO_ERR_DB;
	if (sqlite3_step(st) == SQLITE_ROW)
		rc = col_u64(st, 0, count);
	sqlite3_reset(st);
	return rc;
}

static int
sq_copy_fetch(store *s, const char *account, const uint8_t device_id[SC_DEVICE_ID], uint64_t now,
    size_t max, size_t max_bytes, store_copy **out, size_t *n, int *more)
{
	sqlite3_stmt *st = stmt(SQ(s), ST_COPY_FETCH);
	store_copy *c = NULL, *e;
	size_t cnt = 0, total = 0, mlen;
	uint8_t *mid = NULL;
	int rc, r, cut = 0;

	*out = NULL;
	*n = 0;
	*more = 0;
	if (max == 0 || max > SOTTO_MAX_FETCH_BATCH)
		max = SOTTO_MAX_FETCH_BATCH;
	if ((rc = bind_blob(st, 1, device_id, SC_DEVICE_ID)) != SOTTO_OK ||
	    (rc = bind_u64(st, 2, now)) != SOTTO_OK || (rc = bind_u64(st, 3, (uint64_t)max + 1)) != SOTTO_OK ||
	    (rc = bind_text(st, 4, account)) != SOTTO_OK)
		goto out;
	rc = SOTTO_ERR_NOMEM;
	if ((c = calloc(max, sizeof(*c))) == NULL)
		goto out;
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		if (cnt == max) {
			cut = 1;
			break;
		}
		e = &c[cnt];
		memcpy(e->device_id, device_id, SC_DEVICE_ID);
		if ((rc = col_u64(st, 0, &e->seq)) != SOTTO_OK ||
		    (rc = col_blob(st, 1, STORE_MSG_ID_LEN, &mid, &mlen)) != SOTTO_OK ||
		    (rc = col_blob(st, 2, SOTTO_MAX_ENVELOPE, &e->envelope, &e->envelope_len)) != SOTTO_OK ||
		    (rc = col_blob(st, 3, COPY_WRAP_MAX, &e->wrap, &e->wrap_len)) != SOTTO_OK ||
		    (rc = col_u64(st, 4, &e->stored_at)) != SOTTO_OK ||
		    (rc = col_u64(st, 5, &e->expires_at)) != SOTTO_OK) {
			cnt++;	/* so its blobs are freed */
			goto out;
		}
		rc = SOTTO_ERR_DB;
		if (mlen != STORE_MSG_ID_LEN || e->seq == 0) {
			cnt++;
			goto out;
		}
		memcpy(e->msg_id, mid, STORE_MSG_ID_LEN);
		free(mid);
		mid = NULL;
		if (cnt > 0 && (total >= max_bytes ||
		    e->envelope_len + e->wrap_len > max_bytes - total)) {
			free(e->envelope);
			free(e->wrap);
			memset(e, 0, sizeof(*e));
			cut = 1;
			break;
		}
		total += e->envelope_len + e->wrap_len;
		cnt++;
	}
	rc = SOTTO_ERR_DB;
	if (r != SQLITE_ROW && r != SQLITE_DONE)
		goto out;
	*out = c;
	*n = cnt;
	*more = cut;
	c = NULL;
	rc = SOTTO_OK;
out:
	sqlite3_reset(st);
	free(mid);
	store_copies_free(c, cnt);
	return rc;
}

static int
sq_copy_ack(store *s, const char *account, const uint8_t device_id[SC_DEVICE_ID], const uint64_t *seqs,
    size_t n, size_t *deleted)
{
	store_sqlite *q = SQ(s);
	sqlite3_stmt *st;
	int rc;

	*deleted = 0;
	for (size_t i = 0; i < n; i++) {
		if (seqs[i] == 0 || seqs[i] > INT64_MAX)
			continue;
		st = stmt(q, ST_COPY_ACK);
		if ((rc = bind_u64(st, 1, seqs[i])) != SOTTO_OK ||
		    (rc = bind_blob(st, 2, device_id, SC_DEVICE_ID)) != SOTTO_OK ||
		    (rc = bind_text(st, 3, account)) != SOTTO_OK ||
		    (rc = step_done(st)) != SOTTO_OK)
			return rc;
		*deleted += (size_t)sqlite3_changes(q->db);
	}
	return SOTTO_OK;
}

static int
sq_copy_sweep(store *s, uint64_t now, size_t max, size_t *deleted)
{
	store_sqlite *q = SQ(s);
	sqlite3_stmt *st = stmt(q, ST_COPY_SWEEP);
	int rc;

	*deleted = 0;
	if ((rc = bind_u64(st, 1, now)) != SOTTO_OK || (rc = bind_u64(st, 2, max)) != SOTTO_OK ||
	    (rc = step_done(st)) != SOTTO_OK)
		return rc;
	*deleted = (size_t)sqlite3_changes(q->db);
	return SOTTO_OK;
}

static int
sq_copy_total(store *s, uint64_t *count)
{
	sqlite3_stmt *st = stmt(SQ(s), ST_COPY_TOTAL);
	int rc = SOTTO_ERR_DB;

	*count = 0;
	if (sqlite3_step(st) == SQLITE_ROW)
		rc = col_u64(st, 0, count);
	sqlite3_reset(st);
	return rc;
}

static int
sq_copy_purge(store *s, const char *account, const uint8_t device_id[SC_DEVICE_ID], size_t *deleted)
{
	store_sqlite *q = SQ(s);
	sqlite3_stmt *st = stmt(q, ST_COPY_PURGE);
	int rc;

	*deleted = 0;
	if ((rc = bind_blob(st, 1, device_id, SC_DEVICE_ID)) != SOTTO_OK ||
	    (rc = bind_text(st, 2, account)) != SOTTO_OK || (rc = step_done(st)) != SOTTO_OK)
		return rc;
	*deleted = (size_t)sqlite3_changes(q->db);
	return SOTTO_OK;
}

static int
sq_device_owner(store *s, const uint8_t device_id[SC_DEVICE_ID], char handle_out[SOTTO_MAX_HANDLE + 1])
{
	sqlite3_stmt *st = stmt(SQ(s), ST_DEVICE_OWNER);
	const unsigned char *h;
	int rc, r, n;

	handle_out[0] = '\0';
	if ((rc = bind_blob(st, 1, device_id, SC_DEVICE_ID)) != SOTTO_OK)
		return rc;
	if ((r = sqlite3_step(st)) == SQLITE_DONE) {
		rc = SOTTO_ERR_NOT_FOUND;
		goto out;
	}
	rc = SOTTO_ERR_DB;
	if (r != SQLITE_ROW || sqlite3_column_type(st, 0) != SQLITE_TEXT)
		goto out;
	/* The database is not trusted: a handle longer than any is corrupt. */
	h = sqlite3_column_text(st, 0);
	n = sqlite3_column_bytes(st, 0);
	if (h == NULL || n < 0 || n > SOTTO_MAX_HANDLE || memchr(h, '\0', (size_t)n) != NULL)
		goto out;
	memcpy(handle_out, h, (size_t)n);
	handle_out[n] = '\0';
	rc = SOTTO_OK;
out:
	sqlite3_reset(st);
	return rc;
}

static int
sq_device_reclaim(store *s, const uint8_t device_id[SC_DEVICE_ID], const char *from, const char *to,
    size_t *moved)
{
	store_sqlite *q = SQ(s);
	sqlite3_stmt *st;
	int rc;

	*moved = 0;
	if (!q->in_tx)
		return SOTTO_ERR_INTERNAL;
	st = stmt(q, ST_DEVICE_CLAIM);
	if ((rc = bind_blob(st, 1, device_id, SC_DEVICE_ID)) != SOTTO_OK ||
	    (rc = bind_text(st, 2, from)) != SOTTO_OK || (rc = bind_text(st, 3, to)) != SOTTO_OK ||
	    (rc = step_done(st)) != SOTTO_OK)
		return rc;
	if (sqlite3_changes(q->db) != 1)
		return SOTTO_ERR_NOT_FOUND;
	st = stmt(q, ST_COPY_MOVE);
	if ((rc = bind_blob(st, 1, device_id, SC_DEVICE_ID)) != SOTTO_OK ||
	    (rc = bind_text(st, 2, from)) != SOTTO_OK || (rc = bind_text(st, 3, to)) != SOTTO_OK ||
	    (rc = step_done(st)) != SOTTO_OK)
		return rc;
	*moved = (size_t)sqlite3_changes(q->db);
	return SOTTO_OK;
}

static int
sq_copy_count_sender(store *s, const uint8_t device_id[SC_DEVICE_ID], const char *sender, uint64_t now,
    uint64_t *count)
{
	sqlite3_stmt *st = stmt(SQ(s), ST_COPY_COUNT_SENDER);
	int rc;

	*count = 0;
	if ((rc = bind_blob(st, 1, device_id, SC_DEVICE_ID)) != SOTTO_OK ||
	    (rc = bind_text(st, 2, sender)) != SOTTO_OK || (rc = bind_u64(st, 3, now)) != SOTTO_OK)
		return rc;
	rc = SOTTO_ERR_DB;
	if (sqlite3_step(st) == SQLITE_ROW)
		rc = col_u64(st, 0, count);
	sqlite3_reset(st);
	return rc;
}

static int
sq_usage_get(store *s, const char *sender, uint64_t *bytes, uint64_t *copies)
{
	sqlite3_stmt *st = stmt(SQ(s), ST_USAGE_GET);
	int rc, r;

	*bytes = 0;
	*copies = 0;
	if ((rc = bind_text(st, 1, sender)) != SOTTO_OK)
		return rc;
	if ((r = sqlite3_step(st)) == SQLITE_ROW) {
		if ((rc = col_u64(st, 0, bytes)) != SOTTO_OK || (rc = col_u64(st, 1, copies)) != SOTTO_OK) {
			*bytes = 0;
			*copies = 0;
		}
	} else
		rc = r == SQLITE_DONE ? SOTTO_OK : SOTTO_ERR_DB;
	sqlite3_reset(st);
	return rc;
}

static int
sq_usage_total(store *s, uint64_t *bytes)
{
	sqlite3_stmt *st = stmt(SQ(s), ST_USAGE_TOTAL);
	int rc = SOTTO_ERR_DB;

	*bytes = 0;
	if (sqlite3_step(st) == SQLITE_ROW)
		rc = col_u64(st, 0, bytes);
	sqlite3_reset(st);
	return rc;
}

static int
sq_count(sqlite3_stmt *st, uint64_t *n)
{
	int rc = SOTTO_ERR_DB;

	if (sqlite3_step(st) == SQLITE_ROW)
		rc = col_u64(st, 0, n);
	sqlite3_reset(st);
	return rc;
}

static int
sq_rdv_put(store *s, const uint8_t id[STORE_RDV_ID_LEN], uint32_t slot, const uint8_t *blob,
    size_t len, uint64_t now, uint64_t expires_at, uint64_t max_live,
    const uint8_t owner[STORE_RDV_OWNER_LEN], uint64_t max_per_owner)
{
	store_sqlite *q = SQ(s);
	sqlite3_stmt *st;
	uint64_t live = 0, owned = 0;
	int rc, r;

	if (len == 0 || len > SOTTO_MAX_LINK_BLOB)
		return SOTTO_ERR_TOO_LARGE;
	st = stmt(q, ST_RDV_SWEEP);
	if ((rc = bind_u64(st, 1, now)) != SOTTO_OK || (rc = step_done(st)) != SOTTO_OK)
		return rc;
	st = stmt(q, ST_RDV_OWNED);
	if ((rc = bind_blob(st, 1, owner, STORE_RDV_OWNER_LEN)) != SOTTO_OK ||
	    (rc = sq_count(st, &owned)) != SOTTO_OK)
		return rc;
	if (owned >= max_per_owner)
		return SOTTO_ERR_RATE_LIMITED;
	if ((rc = sq_count(stmt(q, ST_RDV_COUNT), &live)) != SOTTO_OK)
		return rc;
	if (live >= max_live)
		return SOTTO_ERR_RATE_LIMITED;
	st = stmt(q, ST_RDV_EXISTS);
	if ((rc = bind_blob(st, 1, id, STORE_RDV_ID_LEN)) != SOTTO_OK ||
	    (rc = bind_u64(st, 2, slot)) != SOTTO_OK)
		return rc;
	r = sqlite3_step(st);
	sqlite3_reset(st);
	if (r == SQLITE_ROW)
		return SOTTO_ERR_EXISTS;
	if (r != SQLITE_DONE)
		return SOTTO_ERR_DB;
	st = stmt(q, ST_RDV_ADD);
	if ((rc = bind_blob(st, 1, id, STORE_RDV_ID_LEN)) != SOTTO_OK ||
	    (rc = bind_u64(st, 2, slot)) != SOTTO_OK ||
	    (rc = bind_blob(st, 3, blob, len)) != SOTTO_OK ||
	    (rc = bind_u64(st, 4, expires_at)) != SOTTO_OK ||
	    (rc = bind_blob(st, 5, owner, STORE_RDV_OWNER_LEN)) != SOTTO_OK)
		return rc;
	return step_done(st);
}

static int
sq_rdv_take(store *s, const uint8_t id[STORE_RDV_ID_LEN], uint32_t slot, uint64_t now, int consume,
    uint8_t **blob, size_t *len)
{
	store_sqlite *q = SQ(s);
	sqlite3_stmt *st = stmt(q, ST_RDV_GET);
	uint8_t *b = NULL;
	size_t n = 0;
	int rc, r;

	*blob = NULL;
	*len = 0;
	if (consume && !q->in_tx)
		return SOTTO_ERR_INTERNAL;
	if ((rc = bind_blob(st, 1, id, STORE_RDV_ID_LEN)) != SOTTO_OK ||
	    (rc = bind_u64(st, 2, slot)) != SOTTO_OK || (rc = bind_u64(st, 3, now)) != SOTTO_OK)
		return rc;
	r = sqlite3_step(st);
	if (r == SQLITE_ROW)
		rc = col_blob(st, 0, SOTTO_MAX_LINK_BLOB, &b, &n);
	else
		rc = r == SQLITE_DONE ? SOTTO_ERR_NOT_FOUND : SOTTO_ERR_DB;
	sqlite3_reset(st);
	if (rc != SOTTO_OK)
		goto out;
	if (consume) {
		st = stmt(q, ST_RDV_USE);
		if ((rc = bind_blob(st, 1, id, STORE_RDV_ID_LEN)) != SOTTO_OK ||
		    (rc = bind_u64(st, 2, slot)) != SOTTO_OK || (rc = step_done(st)) != SOTTO_OK)
			goto out;
		rc = SOTTO_ERR_NOT_FOUND;
		if (sqlite3_changes(q->db) != 1)
			goto out;
	}
	*blob = b;
	*len = n;
	b = NULL;
	rc = SOTTO_OK;
out:
	free(b);
	return rc;
}

static int
sq_rdv_extend(store *s, const uint8_t id[STORE_RDV_ID_LEN], uint32_t slot, uint64_t now,
    uint64_t expires_at)
{
	store_sqlite *q = SQ(s);
	sqlite3_stmt *st = stmt(q, ST_RDV_EXTEND);
	int rc;

	if ((rc = bind_blob(st, 1, id, STORE_RDV_ID_LEN)) != SOTTO_OK ||
	    (rc = bind_u64(st, 2, slot)) != SOTTO_OK || (rc = bind_u64(st, 3, now)) != SOTTO_OK ||
	    (rc = bind_u64(st, 4, expires_at)) != SOTTO_OK || (rc = step_done(st)) != SOTTO_OK)
		return rc;
	return sqlite3_changes(q->db) == 1 ? SOTTO_OK : SOTTO_ERR_NOT_FOUND;
}

static int
sq_copy_get(store *s, const char *account, const uint8_t device_id[SC_DEVICE_ID], uint64_t seq,
    uint64_t now, store_copy **out)
{
	sqlite3_stmt *st = stmt(SQ(s), ST_COPY_GET);
	store_copy *e = NULL;
	uint8_t *mid = NULL;
	size_t mlen = 0;
	int rc, r;

	*out = NULL;
	if ((rc = bind_blob(st, 1, device_id, SC_DEVICE_ID)) != SOTTO_OK ||
	    (rc = bind_u64(st, 2, seq)) != SOTTO_OK || (rc = bind_u64(st, 3, now)) != SOTTO_OK ||
	    (rc = bind_text(st, 4, account)) != SOTTO_OK)
		goto out;
	if ((r = sqlite3_step(st)) != SQLITE_ROW) {
		rc = r == SQLITE_DONE ? SOTTO_ERR_NOT_FOUND : SOTTO_ERR_DB;
		goto out;
	}
	rc = SOTTO_ERR_NOMEM;
	if ((e = calloc(1, sizeof(*e))) == NULL)
		goto out;
	memcpy(e->device_id, device_id, SC_DEVICE_ID);
	if ((rc = col_u64(st, 0, &e->seq)) != SOTTO_OK ||
	    (rc = col_blob(st, 1, STORE_MSG_ID_LEN, &mid, &mlen)) != SOTTO_OK ||
	    (rc = col_blob(st, 2, SOTTO_MAX_ENVELOPE, &e->envelope, &e->envelope_len)) != SOTTO_OK ||
	    (rc = col_blob(st, 3, COPY_WRAP_MAX, &e->wrap, &e->wrap_len)) != SOTTO_OK ||
	    (rc = col_u64(st, 4, &e->stored_at)) != SOTTO_OK ||
	    (rc = col_u64(st, 5, &e->expires_at)) != SOTTO_OK)
		goto out;
	rc = SOTTO_ERR_DB;
	if (mlen != STORE_MSG_ID_LEN || e->seq != seq)
		goto out;
	memcpy(e->msg_id, mid, STORE_MSG_ID_LEN);
	*out = e;
	e = NULL;
	rc = SOTTO_OK;
out:
	sqlite3_reset(st);
	free(mid);
	store_copies_free(e, e != NULL ? 1 : 0);
	return rc;
}

static int
sq_announce(store *s, const store_wake *w)
{
	store_sqlite *q = SQ(s);

	if (!q->in_tx)
		return SOTTO_ERR_INTERNAL;
	/* Alone on the node, nobody else could be woken. */
	if (q->wp.g == NULL || q->wp.g->n < 2)
		return SOTTO_OK;
	return wakeq_push(&q->wq, w);
}

static int
sq_wake_fd(store *s)
{
	store_sqlite *q = SQ(s);

	return q->wp.g != NULL ? q->wp.g->rd[q->wp.self] : -1;
}

static int
sq_wake_drain(store *s, int io, store_wake_fn fn, void *arg)
{
	/* Nothing is buffered in the process between reads of the pipe. */
	return io ? wakepipe_drain(&SQ(s)->wp, fn, arg) : SOTTO_OK;
}

int
store_sqlite_seq_high(store *s, uint64_t *high)
{
	store_sqlite *q = SQ(s);
	sqlite3_stmt *st = NULL;
	int rc = SOTTO_ERR_DB;

	*high = 0;
	if (s->ops->close != sq_close)
		return SOTTO_ERR_INVALID_ARG;
	/* AUTOINCREMENT keeps the highest seq ever inserted, deleted ones included. */
	if (sqlite3_prepare_v2(q->db, "SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'copies'), 0)",
	    -1, &st, NULL) != SQLITE_OK)
		goto out;
	if (sqlite3_step(st) == SQLITE_ROW)
		rc = col_u64(st, 0, high);
out:
	sqlite3_finalize(st);
	return rc;
}

int
store_sqlite_deliver(store *s, const store_wake *w, uint64_t members)
{
	store_sqlite *q = SQ(s);
	int rc;

	if (s->ops->close != sq_close || w->kind != STORE_WAKE_DELIVER)
		return SOTTO_ERR_INVALID_ARG;
	if (q->wp.g == NULL || q->wp.g->n < 2)
		return SOTTO_OK;
	/* The same buffer for every copy: no allocation per message. A record
	 * over PIPE_BUF fails in wake_put (the buffer's bound). */
	sbw_clear(&q->rec);
	if ((rc = wake_put(&q->rec, w)) != SOTTO_OK)
		return rc;
	return wakepipe_queue(&q->wp, members, q->rec.p, q->rec.len);
}

int
store_sqlite_route(store *s, uint64_t (*route)(void *arg, const uint8_t device_id[SC_DEVICE_ID]), void *arg)
{
	if (s->ops->close != sq_close)
		return SOTTO_ERR_INVALID_ARG;
	SQ(s)->wp.route = route;
	SQ(s)->wp.route_arg = arg;
	return SOTTO_OK;
}

void
store_sqlite_deliver_flush(store *s)
{
	if (s->ops->close == sq_close)
		wakepipe_flush(&SQ(s)->wp);
}

int
store_sqlite_join(store *s, const store_wakegroup *g, size_t self)
{
	store_sqlite *q = SQ(s);

	if (s->ops->close != sq_close || g == NULL || self >= g->n)
		return SOTTO_ERR_INVALID_ARG;
	q->wp.g = g;
	q->wp.self = self;
	q->wp.in_len = 0;
	return SOTTO_OK;
}

static const store_ops sqlite_ops = {
	.name = "sqlite",
	.close = sq_close,
	.begin = sq_begin,
	.commit = sq_commit,
	.rollback = sq_rollback,
	.mark = sq_mark,
	.release = sq_release,
	.undo = sq_undo,
	.account_exists = sq_account_exists,
	.account_add = sq_account_add,
	.list_add = sq_list_add,
	.list_current = sq_list_current,
	.list_history = sq_list_history,
	.list_recent = sq_list_recent,
	.invite_add = sq_invite_add,
	.invite_take = sq_invite_take,
	.copy_add = sq_copy_add,
	.copy_count = sq_copy_count,
	.copy_fetch = sq_copy_fetch,
	.copy_ack = sq_copy_ack,
	.copy_sweep = sq_copy_sweep,
	.copy_get = sq_copy_get,
	.copy_total = sq_copy_total,
	.copy_purge = sq_copy_purge,
	.device_owner = sq_device_owner,
	.device_reclaim = sq_device_reclaim,
	.copy_count_sender = sq_copy_count_sender,
	.usage_get = sq_usage_get,
	.usage_total = sq_usage_total,
	.rdv_put = sq_rdv_put,
	.rdv_take = sq_rdv_take,
	.rdv_extend = sq_rdv_extend,
	.announce = sq_announce,
	.wake_fd = sq_wake_fd,
	.wake_drain = sq_wake_drain,
};

/*
 * Workers share one SQLite file, and a writer holds the lock through its commit's
 * fsync (about a millisecond here). SQLite's own busy timeout sleeps 1, 2, 5, ...
 * up to 100 ms between tries, which turned a short wait into most of a send's
 * latency under load; retrying every 100 us keeps the wait close to the holder's
 * commit, for the price of a few wake-ups. Gives up after SQLITE_BUSY_MS.
 */
#define SQLITE_BUSY_STEP_US 100

static int
busy_wait(void *arg, int tries)
{
	static __thread struct timespec start;
	struct timespec now, step = { 0, SQLITE_BUSY_STEP_US * 1000 };
	long long waited_ms;

	(void)arg;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (tries == 0)
		start = now;
	waited_ms = (long long)(now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
	if (waited_ms >= SQLITE_BUSY_MS)
		return 0;
	nanosleep(&step, NULL);
	return 1;
}

/* 1 when sql prepares (the tables and columns it names exist), else 0. */
static int
sq_prepares(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st = NULL;
	int ok = sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK;

	sqlite3_finalize(st);
	return ok;
}

/* Columns added since the first schema; one transaction: workers opening the
 * store at once add each once. */
static int
migrate_columns(sqlite3 *db)
{
	int rc = SOTTO_ERR_DB;

	if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		return SOTTO_ERR_DB;
	if ((!sq_prepares(db, "SELECT account FROM copies LIMIT 0") &&
	    sqlite3_exec(db, copies_account_sql, NULL, NULL, NULL) != SQLITE_OK) ||
	    (!sq_prepares(db, "SELECT published_at FROM device_lists LIMIT 0") &&
	    sqlite3_exec(db, lists_published_sql, NULL, NULL, NULL) != SQLITE_OK) ||
	    sqlite3_exec(db, copies_queue_sql, NULL, NULL, NULL) != SQLITE_OK)
		goto out;
	if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		goto out;
	rc = SOTTO_OK;
out:
	if (!sqlite3_get_autocommit(db))
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

/* A store from before the sender shares gets its columns, its usage table and
 * triggers, in one transaction (workers opening it at once wait their turn). */
static int
sq_usage_migrate(sqlite3 *db)
{
	int rc = SOTTO_ERR_DB;

	/* Done already (every open but the first): no write lock taken. */
	if (sq_prepares(db, "SELECT sender, size FROM copies LIMIT 0") &&
	    sq_prepares(db, "SELECT 1 FROM account_usage LIMIT 0") &&
	    sq_prepares(db, "SELECT 1 FROM copies INDEXED BY copies_device_sender LIMIT 0"))
		return SOTTO_OK;
	if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		return SOTTO_ERR_DB;
	if (!sq_prepares(db, "SELECT sender, size FROM copies LIMIT 0") &&
	    sqlite3_exec(db, "ALTER TABLE copies ADD COLUMN sender TEXT NOT NULL DEFAULT '';"
	    "ALTER TABLE copies ADD COLUMN size INTEGER NOT NULL DEFAULT 0;"
	    "UPDATE copies SET size = length(envelope) + length(wrap);", NULL, NULL, NULL) != SQLITE_OK)
		goto out;
	if (!sq_prepares(db, "SELECT 1 FROM account_usage LIMIT 0") &&
	    sqlite3_exec(db, usage_sql, NULL, NULL, NULL) != SQLITE_OK)
		goto out;
	/* A sender's share of one device's queue is counted on this index alone. */
	if (sqlite3_exec(db, "CREATE INDEX IF NOT EXISTS copies_device_sender ON "
	    "copies(device_id, sender, expires_at)", NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		goto out;
	return SOTTO_OK;
out:
	(void)sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

int
store_sqlite_open(store **out, const char *path)
{
	store_sqlite *q = NULL;
	int rc = SOTTO_ERR_NOMEM;

	*out = NULL;
	if ((q = calloc(1, sizeof(*q))) == NULL)
		goto out;
	q->base.ops = &sqlite_ops;
	sbw_init(&q->rec, PIPE_BUF);
	rc = SOTTO_ERR_DB;
	if (sqlite3_open_v2(path, &q->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
	    SQLITE_OPEN_NOFOLLOW | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK)
		goto out;
	sqlite3_extended_result_codes(q->db, 0);
	if (sqlite3_busy_handler(q->db, busy_wait, NULL) != SQLITE_OK ||
	    sqlite3_exec(q->db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_exec(q->db, "PRAGMA synchronous=FULL", NULL, NULL, NULL) != SQLITE_OK ||
	    /* Hot pages through the mapping rather than a pread copy each. */
	    sqlite3_exec(q->db, "PRAGMA mmap_size=268435456", NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_exec(q->db, "PRAGMA cache_size=-32768", NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_exec(q->db, "PRAGMA foreign_keys=ON", NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_exec(q->db, "PRAGMA secure_delete=ON", NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_exec(q->db, schema_sql, NULL, NULL, NULL) != SQLITE_OK ||
	    migrate_columns(q->db) != SOTTO_OK ||
	    sq_usage_migrate(q->db) != SOTTO_OK)
		goto out;
	for (int i = 0; i < ST__COUNT; i++)
		if (sqlite3_prepare_v3(q->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &q->st[i],
		    NULL) != SQLITE_OK)
			goto out;
	*out = &q->base;
	q = NULL;
	rc = SOTTO_OK;
out:
	sq_close(q ? &q->base : NULL);
	return rc;
}
