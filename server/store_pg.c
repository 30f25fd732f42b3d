/* SPDX-License-Identifier: ISC */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "buf.h"
#include "caps.h"
#include "sotto/error.h"
#include "store.h"
#include "store_wake.h"
#include "wire.h"

#define COPY_WRAP_MAX		256
#define PG_MAX_PARAMS		9
#define PG_WAKE_CHANNEL		"sotto_wake"
/* pg_notify payloads must stay under 8000 bytes; ours are far below. */
#define PG_WAKE_TEXT_MAX	(1 + 16 + SOTTO_MAX_HANDLE + 1)
/* One id for every sottod creating the schema: the first does it, the others wait. */
#define PG_SCHEMA_LOCK		"7061236001"

/* Parameter types by letter: b bytea, i int8, t text, a text[] literal. */
enum stmt_id {
	Q_ACCOUNT_EXISTS, Q_ACCOUNT_ADD,
	Q_LIST_ADD, Q_DEVICES_CLEAR, Q_DEVICE_ADD, Q_LIST_CURRENT, Q_LIST_HISTORY, Q_LIST_RECENT,
	Q_INVITE_ADD, Q_INVITE_CANDIDATES, Q_INVITE_USE,
	Q_COPY_ADD, Q_COPY_COUNT, Q_COPY_FETCH, Q_COPY_ACK, Q_COPY_SWEEP, Q_COPY_TOTAL, Q_COPY_GET,
	Q_COPY_PURGE, Q_RDV_SWEEP, Q_RDV_COUNT, Q_RDV_OWNED, Q_RDV_ADD, Q_RDV_GET, Q_RDV_USE, Q_RDV_EXTEND,
	Q_NOTIFY,
	Q_COPY_COUNT_SENDER, Q_USAGE_GET, Q_USAGE_TOTAL,
	Q_DEVICE_OWNER, Q_DEVICE_CLAIM, Q_COPY_MOVE,
	Q__COUNT
};

static const struct {
	const char *types;
	const char *sql;
} stmts[Q__COUNT] = {
	[Q_ACCOUNT_EXISTS] = { "t", "SELECT 1 FROM accounts WHERE handle = $1" },
	[Q_ACCOUNT_ADD] = { "tbi", "INSERT INTO accounts(handle, account_pub, created_at) "
	    "VALUES ($1, $2, $3) ON CONFLICT DO NOTHING" },
	[Q_LIST_ADD] = { "tibi", "INSERT INTO device_lists(handle, version, list, published_at) "
	    "VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING" },
	[Q_LIST_RECENT] = { "tii", "SELECT count(*) FROM (SELECT published_at FROM device_lists "
	    "WHERE handle = $1 ORDER BY version DESC LIMIT $3) AS r WHERE published_at > $2" },
	[Q_DEVICES_CLEAR] = { "t", "DELETE FROM devices WHERE handle = $1" },
	/* No row: another handle holds the device id (list_add refuses). A
	 * concurrent insert of the same id waits for the other's commit. */
	[Q_DEVICE_ADD] = { "btb", "INSERT INTO devices(device_id, handle, sig_pub) VALUES ($1, $2, $3) "
	    "ON CONFLICT (device_id) DO NOTHING" },
	[Q_LIST_CURRENT] = { "t", "SELECT version, list FROM device_lists WHERE handle = $1 "
	    "ORDER BY version DESC LIMIT 1" },
	[Q_LIST_HISTORY] = { "tii", "SELECT version, list FROM device_lists WHERE handle = $1 "
	    "AND version > $2 ORDER BY version ASC LIMIT $3" },
	[Q_INVITE_ADD] = { "bti", "INSERT INTO invites(secret_hash, handle, created_at, used_at) "
	    "VALUES ($1, $2, $3, NULL)" },
	[Q_INVITE_CANDIDATES] = { "ti", "SELECT id, secret_hash FROM invites WHERE handle = $1 "
	    "AND used_at IS NULL AND created_at > $2" },
	[Q_INVITE_USE] = { "ii", "UPDATE invites SET used_at = $2 WHERE id = $1 AND used_at IS NULL" },
	[Q_COPY_ADD] = { "bbbbiitti", "INSERT INTO copies(device_id, msg_id, envelope, wrap, stored_at, "
	    "expires_at, account, sender, size) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) "
	    "ON CONFLICT (device_id, msg_id) DO NOTHING RETURNING seq" },
	[Q_COPY_COUNT] = { "bit", "SELECT count(*) FROM copies WHERE account = $3 AND device_id = $1 "
	    "AND expires_at > $2" },
	[Q_COPY_FETCH] = { "biit", "SELECT seq, msg_id, envelope, wrap, stored_at, expires_at FROM copies "
	    "WHERE account = $4 AND device_id = $1 AND expires_at > $2 ORDER BY seq ASC LIMIT $3" },
	[Q_COPY_ACK] = { "bat", "DELETE FROM copies WHERE account = $3 AND device_id = $1 "
	    "AND seq = ANY($2::int8[])" },
	[Q_COPY_SWEEP] = { "ii", "DELETE FROM copies WHERE seq IN (SELECT seq FROM copies WHERE "
	    "expires_at <= $1 ORDER BY expires_at LIMIT $2)" },
	[Q_COPY_TOTAL] = { "", "SELECT count(*) FROM copies" },
	[Q_COPY_GET] = { "biit", "SELECT seq, msg_id, envelope, wrap, stored_at, expires_at FROM copies "
	    "WHERE account = $4 AND device_id = $1 AND seq = $2 AND expires_at > $3" },
	[Q_COPY_PURGE] = { "bt", "DELETE FROM copies WHERE account = $2 AND device_id = $1" },
	[Q_RDV_SWEEP] = { "i", "DELETE FROM link_rendezvous WHERE expires_at <= $1" },
	[Q_RDV_COUNT] = { "", "SELECT count(*) FROM link_rendezvous" },
	[Q_RDV_OWNED] = { "b", "SELECT count(*) FROM link_rendezvous WHERE owner = $1" },
	[Q_RDV_ADD] = { "bibib", "INSERT INTO link_rendezvous(id, slot, blob, expires_at, used, owner) "
	    "VALUES ($1, $2, $3, $4, 0, $5) ON CONFLICT DO NOTHING" },
	[Q_RDV_GET] = { "bii", "SELECT blob FROM link_rendezvous WHERE id = $1 AND slot = $2 AND used = 0 "
	    "AND expires_at > $3" },
	/* One statement: two nodes taking the same blob at once, one gets it. */
	[Q_RDV_USE] = { "bii", "UPDATE link_rendezvous SET used = 1 WHERE id = $1 AND slot = $2 AND used = 0 "
	    "AND expires_at > $3 RETURNING blob" },
	[Q_RDV_EXTEND] = { "biii", "UPDATE link_rendezvous SET expires_at = $4 WHERE id = $1 AND slot = $2 "
	    "AND used = 0 AND expires_at > $3" },
	[Q_NOTIFY] = { "a", "SELECT pg_notify('" PG_WAKE_CHANNEL "', w) FROM unnest($1::text[]) AS w" },
	[Q_COPY_COUNT_SENDER] = { "bti", "SELECT count(*) FROM copies WHERE device_id = $1 AND sender = $2 "
	    "AND expires_at > $3" },
	/* The committed count plus what this transaction changed (usage_fold_sql). */
	[Q_USAGE_GET] = { "t", "SELECT greatest(coalesce((SELECT bytes FROM account_usage WHERE sender = $1), 0)"
	    " + coalesce((SELECT sum(bytes) FROM pg_temp.usage_pending WHERE sender = $1), 0), 0)::int8,"
	    " greatest(coalesce((SELECT copies FROM account_usage WHERE sender = $1), 0)"
	    " + coalesce((SELECT sum(copies) FROM pg_temp.usage_pending WHERE sender = $1), 0), 0)::int8" },
	[Q_USAGE_TOTAL] = { "", "SELECT greatest(coalesce(sum(bytes), 0), 0)::int8 FROM account_usage" },
	[Q_DEVICE_OWNER] = { "b", "SELECT handle FROM devices WHERE device_id = $1" },
	/* handle = $2: only the row the caller saw moves (device_reclaim). */
	[Q_DEVICE_CLAIM] = { "btt", "UPDATE devices SET handle = $3 WHERE device_id = $1 AND handle = $2" },
	[Q_COPY_MOVE] = { "btt", "UPDATE copies SET account = $3 WHERE account = $2 AND device_id = $1" },
};

static const char schema_sql[] =
    "BEGIN;"
    "SELECT pg_advisory_xact_lock(" PG_SCHEMA_LOCK ");"
    "CREATE TABLE IF NOT EXISTS accounts("
    " handle text PRIMARY KEY, account_pub bytea NOT NULL, created_at bigint NOT NULL);"
    "CREATE TABLE IF NOT EXISTS device_lists("
    " handle text NOT NULL, version bigint NOT NULL, list bytea NOT NULL,"
    " PRIMARY KEY(handle, version));"
    "CREATE TABLE IF NOT EXISTS devices("
    " device_id bytea PRIMARY KEY, handle text NOT NULL, sig_pub bytea NOT NULL);"
    "CREATE INDEX IF NOT EXISTS devices_handle ON devices(handle);"
    "CREATE TABLE IF NOT EXISTS invites("
    " id bigserial PRIMARY KEY, secret_hash bytea NOT NULL UNIQUE, handle text NOT NULL,"
    " created_at bigint NOT NULL, used_at bigint);"
    "CREATE INDEX IF NOT EXISTS invites_handle ON invites(handle);"
    "CREATE TABLE IF NOT EXISTS copies("
    " seq bigserial PRIMARY KEY, device_id bytea NOT NULL, msg_id bytea NOT NULL,"
    " envelope bytea NOT NULL, wrap bytea NOT NULL, stored_at bigint NOT NULL,"
    " expires_at bigint NOT NULL, UNIQUE(device_id, msg_id));"
    "DROP INDEX IF EXISTS copies_device_seq;"
    /* Queues are per (account, device) (store.h): copies.account, added to a
     * store made before it, filled from the devices table (the owner then),
     * '' where no account lists the device any more (unreachable; swept at
     * expiry). expires_at in the index: counting a queue for the cap, and
     * skipping expired copies in a fetch, never touch the rows themselves. */
    "DO $$ BEGIN"
    " IF NOT EXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema()"
    "  AND table_name = 'copies' AND column_name = 'account') THEN"
    "  ALTER TABLE copies ADD COLUMN account text NOT NULL DEFAULT '';"
    "  UPDATE copies SET account = coalesce((SELECT handle FROM devices d"
    "   WHERE d.device_id = copies.device_id), '');"
    " END IF; END $$;"
    "DROP INDEX IF EXISTS copies_device_seq_exp;"
    /* When each version was published (list_recent: the publish rate). */
    "ALTER TABLE device_lists ADD COLUMN IF NOT EXISTS published_at bigint NOT NULL DEFAULT 0;"
    "CREATE INDEX IF NOT EXISTS copies_queue ON copies(account, device_id, seq, expires_at);"
    "CREATE INDEX IF NOT EXISTS copies_expires ON copies(expires_at);"
    /* The rendezvous before entries had an owner: its entries lived minutes. */
    "DROP TABLE IF EXISTS rendezvous;"
    "CREATE TABLE IF NOT EXISTS link_rendezvous("
    " id bytea NOT NULL, slot bigint NOT NULL, blob bytea NOT NULL, expires_at bigint NOT NULL,"
    " used integer NOT NULL, owner bytea NOT NULL, PRIMARY KEY(id, slot));"
    "CREATE INDEX IF NOT EXISTS link_rendezvous_expires ON link_rendezvous(expires_at);"
    "CREATE INDEX IF NOT EXISTS link_rendezvous_owner ON link_rendezvous(owner);"
    /*
     * Stored bytes and copies per sender (store.h "Sender shares"), kept by
     * triggers so that every insert and delete of a copy counts, whichever op
     * does it. Several writers share the database: a trigger updating the
     * sender's row at once would lock it until commit, and two batches
     * touching two senders in opposite orders would deadlock. So a sottod
     * session's triggers only append to its own temporary usage_pending
     * (made at open); its commit folds that into account_usage in one
     * statement, in sender order (usage_fold_sql): every writer locks usage
     * rows in the same order, at the end. Any other session (psql) updates
     * account_usage at once. A store from before gets the columns (sender '',
     * size computed) and a usage table filled from its copies.
     */
    "DO $m$ BEGIN"
    " IF NOT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = 'copies'::regclass"
    "  AND attname = 'size' AND NOT attisdropped) THEN"
    "  ALTER TABLE copies ADD COLUMN sender text NOT NULL DEFAULT '',"
    "   ADD COLUMN size bigint NOT NULL DEFAULT 0;"
    "  UPDATE copies SET size = length(envelope) + length(wrap);"
    " END IF;"
    " IF to_regclass('account_usage') IS NULL THEN"
    "  CREATE TABLE account_usage(sender text PRIMARY KEY, bytes bigint NOT NULL, copies bigint NOT NULL);"
    "  INSERT INTO account_usage SELECT sender, sum(size), count(*) FROM copies GROUP BY sender;"
    " END IF;"
    "END $m$;"
    "CREATE INDEX IF NOT EXISTS copies_device_sender ON copies(device_id, sender, expires_at);"
    "CREATE OR REPLACE FUNCTION sotto_usage_add() RETURNS trigger LANGUAGE plpgsql AS $f$ BEGIN"
    " IF to_regclass('pg_temp.usage_pending') IS NOT NULL THEN"
    "  INSERT INTO pg_temp.usage_pending SELECT sender, sum(size), count(*) FROM nt GROUP BY sender;"
    " ELSE"
    "  INSERT INTO account_usage SELECT sender, sum(size), count(*) FROM nt GROUP BY sender"
    "   ORDER BY sender ON CONFLICT (sender) DO UPDATE SET bytes = account_usage.bytes + EXCLUDED.bytes,"
    "   copies = account_usage.copies + EXCLUDED.copies;"
    " END IF;"
    " RETURN NULL; END $f$;"
    "CREATE OR REPLACE FUNCTION sotto_usage_del() RETURNS trigger LANGUAGE plpgsql AS $f$ BEGIN"
    " IF to_regclass('pg_temp.usage_pending') IS NOT NULL THEN"
    "  INSERT INTO pg_temp.usage_pending SELECT sender, -sum(size), -count(*) FROM ot GROUP BY sender;"
    " ELSE"
    "  INSERT INTO account_usage SELECT sender, -sum(size), -count(*) FROM ot GROUP BY sender"
    "   ORDER BY sender ON CONFLICT (sender) DO UPDATE SET bytes = account_usage.bytes + EXCLUDED.bytes,"
    "   copies = account_usage.copies + EXCLUDED.copies;"
    " END IF;"
    " RETURN NULL; END $f$;"
    "CREATE OR REPLACE TRIGGER copies_usage_add AFTER INSERT ON copies REFERENCING NEW TABLE AS nt"
    " FOR EACH STATEMENT EXECUTE FUNCTION sotto_usage_add();"
    "CREATE OR REPLACE TRIGGER copies_usage_del AFTER DELETE ON copies REFERENCING OLD TABLE AS ot"
    " FOR EACH STATEMENT EXECUTE FUNCTION sotto_usage_del();"
    "COMMIT;";

/* This session's own usage table, and the fold its commits run first. */
static const char usage_pending_sql[] =
    "CREATE TEMP TABLE IF NOT EXISTS usage_pending("
    " sender text NOT NULL, bytes bigint NOT NULL, copies bigint NOT NULL)";
static const char usage_fold_commit_sql[] =
    "INSERT INTO account_usage SELECT sender, sum(bytes), sum(copies) FROM pg_temp.usage_pending"
    " GROUP BY sender HAVING sum(bytes) <> 0 OR sum(copies) <> 0 ORDER BY sender"
    " ON CONFLICT (sender) DO UPDATE SET bytes = account_usage.bytes + EXCLUDED.bytes,"
    " copies = account_usage.copies + EXCLUDED.copies;"
    "DELETE FROM pg_temp.usage_pending;"
    "COMMIT";

typedef struct store_pg {
	store base;	/* first: a store * is a store_pg * */
	PGconn *db;
	int in_tx;
	int self_pid;	/* our backend: its own notifications are not wake-ups */
	int writer_pid;	/* the node's writer connection (store_pg_pair): nor its */
	wakeq wq;
} store_pg;

/* Parameters of one statement: text and arrays as text, the rest binary. */
typedef struct pgparams {
	const char *v[PG_MAX_PARAMS];
	int len[PG_MAX_PARAMS];
	int fmt[PG_MAX_PARAMS];
	uint8_t ints[PG_MAX_PARAMS][8];
	int n;
	int err;
} pgparams;

static store_pg *
PQ(store *s)
{
	return (store_pg *)s;
}

static void
p_text(pgparams *p, const char *s)
{
	p->v[p->n] = s;
	p->len[p->n] = 0;
	p->fmt[p->n++] = 0;
}

static void
p_blob(pgparams *p, const void *b, size_t n)
{
	/* A zero-length bytea must still be a value, not NULL. */
	static const uint8_t empty;

	if (n > 0x7fffffff)
		p->err = SOTTO_ERR_TOO_LARGE;
	p->v[p->n] = n == 0 ? (const char *)&empty : b;
	p->len[p->n] = (int)(n > 0x7fffffff ? 0 : n);
	p->fmt[p->n++] = 1;
}

static void
p_u64(pgparams *p, uint64_t v)
{
	uint8_t *o = p->ints[p->n];

	if (v > INT64_MAX)
		p->err = SOTTO_ERR_INVALID_ARG;
	for (int i = 0; i < 8; i++)
		o[i] = (uint8_t)(v >> (56 - 8 * i));
	p->v[p->n] = (const char *)o;
	p->len[p->n] = 8;
	p->fmt[p->n++] = 1;
}

/* Run prepared statement id; every result comes back in binary. *res: caller
 * PQclear()s; NULL on error. */
static int
run(store_pg *q, enum stmt_id id, const pgparams *p, ExecStatusType want, PGresult **res)
{
	char name[16];
	PGresult *r;

	*res = NULL;
	if (p->err != SOTTO_OK)
		return p->err;
	snprintf(name, sizeof(name), "q%d", (int)id);
	r = PQexecPrepared(q->db, name, p->n, p->v, p->len, p->fmt, 1);
	if (PQresultStatus(r) != want) {
		PQclear(r);
		return SOTTO_ERR_DB;
	}
	*res = r;
	return SOTTO_OK;
}

static int
run_cmd(store_pg *q, enum stmt_id id, const pgparams *p, uint64_t *affected)
{
	PGresult *r;
	const char *t;
	int rc;

	if ((rc = run(q, id, p, PGRES_COMMAND_OK, &r)) != SOTTO_OK)
		return rc;
	if (affected != NULL) {
		t = PQcmdTuples(r);
		*affected = 0;
		for (; *t >= '0' && *t <= '9' && *affected < UINT32_MAX; t++)
			*affected = *affected * 10 + (uint64_t)(*t - '0');
	}
	PQclear(r);
	return SOTTO_OK;
}

static int
exec_plain(store_pg *q, const char *sql)
{
	PGresult *r = PQexec(q->db, sql);
	int ok = PQresultStatus(r) == PGRES_COMMAND_OK;

	PQclear(r);
	return ok ? SOTTO_OK : SOTTO_ERR_DB;
}

/* A column read back as a binary int8, refused if not exactly that or negative. */
static int
col_u64(const PGresult *r, int row, int col, uint64_t *v)
{
	sbuf_reader br;

	*v = 0;
	if (col >= PQnfields(r) || PQgetisnull(r, row, col) || PQfformat(r, col) != 1 ||
	    PQgetlength(r, row, col) != 8)
		return SOTTO_ERR_DB;
	sbr_init(&br, PQgetvalue(r, row, col), 8);
	if (sbr_u64(&br, v) != SOTTO_OK || *v > INT64_MAX) {
		*v = 0;
		return SOTTO_ERR_DB;
	}
	return SOTTO_OK;
}

/* An owned copy of a bytea column, refused beyond max bytes. */
static int
col_blob(const PGresult *r, int row, int col, size_t max, uint8_t **out, size_t *len)
{
	int n;

	*out = NULL;
	*len = 0;
	if (col >= PQnfields(r) || PQgetisnull(r, row, col) || PQfformat(r, col) != 1)
		return SOTTO_ERR_DB;
	n = PQgetlength(r, row, col);
	if (n < 0 || (size_t)n > max)
		return SOTTO_ERR_TOO_LARGE;
	if ((*out = malloc(n > 0 ? (size_t)n : 1)) == NULL)
		return SOTTO_ERR_NOMEM;
	if (n > 0)
		memcpy(*out, PQgetvalue(r, row, col), (size_t)n);
	*len = (size_t)n;
	return SOTTO_OK;
}

static void
pg_close(store *s)
{
	store_pg *q = PQ(s);

	if (q == NULL)
		return;
	if (q->in_tx && q->db != NULL && PQstatus(q->db) == CONNECTION_OK)
		(void)exec_plain(q, "ROLLBACK");
	PQfinish(q->db);
	wakeq_free(&q->wq);
	free(q);
}

static int
pg_begin(store *s)
{
	store_pg *q = PQ(s);
	int rc;

	if (q->in_tx)
		return SOTTO_ERR_INTERNAL;
	if ((rc = exec_plain(q, "BEGIN")) == SOTTO_OK)
		q->in_tx = 1;
	return rc;
}

/* The announcements, as one text[] literal of hex payloads (no quoting needed). */
static int
notify_queued(store_pg *q)
{
	char one[PG_WAKE_TEXT_MAX + 2 * SC_DEVICE_ID + 1];
	pgparams p = { .n = 0 };
	PGresult *r = NULL;
	sbuf b;
	int rc;

	if (q->wq.n == 0)
		return SOTTO_OK;
	sbw_init(&b, (size_t)WAKEQ_MAX * (sizeof(one) + 1) + 3);
	sbw_u8(&b, '{');
	for (size_t i = 0; i < q->wq.n; i++) {
		const store_wake *w = &q->wq.w[i];
		char hex[2 * SC_DEVICE_ID + 1];

		if (w->kind == STORE_WAKE_COPY || w->kind == STORE_WAKE_EARLY_COPY) {
			sc_hex(hex, w->device_id, SC_DEVICE_ID);
			snprintf(one, sizeof(one), "c%s%016" PRIx64, hex, w->seq);
		} else
			snprintf(one, sizeof(one), "l%016" PRIx64 "%s", w->version, w->handle);
		if (i > 0)
			sbw_u8(&b, ',');
		sbw_put(&b, one, strlen(one));
	}
	sbw_put(&b, "}", 2);	/* with the NUL */
	if ((rc = sbw_error(&b)) != SOTTO_OK)
		goto out;
	p_text(&p, (const char *)b.p);
	if ((rc = run(q, Q_NOTIFY, &p, PGRES_TUPLES_OK, &r)) != SOTTO_OK)
		goto out;
	rc = SOTTO_OK;
out:
	PQclear(r);
	sbw_free(&b);
	return rc;
}

/*
 * NOTIFY inside the transaction: PostgreSQL delivers it only if COMMIT
 * succeeds, after the rows are visible to every other session.
 */
static int
pg_commit(store *s)
{
	store_pg *q = PQ(s);
	PGresult *r = NULL;
	int rc = SOTTO_ERR_DB;

	if (!q->in_tx)
		return SOTTO_ERR_INTERNAL;
	if (notify_queued(q) != SOTTO_OK) {
		(void)exec_plain(q, "ROLLBACK");
		goto out;
	}
	/* One round trip: the fold, then COMMIT (PQexec answers with the last
	 * result, or with the first error, after which nothing else ran). */
	r = PQexec(q->db, usage_fold_commit_sql);
	/* COMMIT of a transaction that failed answers ROLLBACK, not an error. */
	if (PQresultStatus(r) == PGRES_COMMAND_OK && strcmp(PQcmdStatus(r), "COMMIT") == 0)
		rc = SOTTO_OK;
	else if (PQtransactionStatus(q->db) != PQTRANS_IDLE)
		(void)exec_plain(q, "ROLLBACK");
out:
	PQclear(r);
	wakeq_clear(&q->wq);
	q->in_tx = 0;
	return rc;
}

static void
pg_rollback(store *s)
{
	store_pg *q = PQ(s);

	if (!q->in_tx)
		return;
	(void)exec_plain(q, "ROLLBACK");
	wakeq_clear(&q->wq);
	q->in_tx = 0;
}

static int
pg_mark(store *s)
{
	store_pg *q = PQ(s);

	return q->in_tx ? exec_plain(q, "SAVEPOINT step") : SOTTO_ERR_INTERNAL;
}

static int
pg_release(store *s)
{
	store_pg *q = PQ(s);

	return q->in_tx ? exec_plain(q, "RELEASE SAVEPOINT step") : SOTTO_ERR_INTERNAL;
}

static void
pg_undo(store *s)
{
	store_pg *q = PQ(s);

	if (!q->in_tx)
		return;
	(void)exec_plain(q, "ROLLBACK TO SAVEPOINT step");
	(void)exec_plain(q, "RELEASE SAVEPOINT step");
}

static int
pg_account_exists(store *s, const char *handle)
{
	pgparams p = { .n = 0 };
	PGresult *r;
	int rc;

	p_text(&p, handle);
	if ((rc = run(PQ(s), Q_ACCOUNT_EXISTS, &p, PGRES_TUPLES_OK, &r)) != SOTTO_OK)
		return rc;
	rc = PQntuples(r) > 0 ? 1 : 0;
	PQclear(r);
	return rc;
}

static int
pg_account_add(store *s, const char *handle, const uint8_t account_pub[SC_SIGN_PUB], uint64_t now)
{
	pgparams p = { .n = 0 };
	uint64_t added;
	int rc;

	p_text(&p, handle);
	p_blob(&p, account_pub, SC_SIGN_PUB);
	p_u64(&p, now);
	if ((rc = run_cmd(PQ(s), Q_ACCOUNT_ADD, &p, &added)) != SOTTO_OK)
		return rc;
	/* ON CONFLICT: a handle taken, by this node or another, adds no row. */
	return added == 1 ? SOTTO_OK : SOTTO_ERR_HANDLE_TAKEN;
}

static int
pg_list_add(store *s, const dl_list *l, const uint8_t *signed_list, size_t len, uint64_t now)
{
	store_pg *q = PQ(s);
	pgparams p = { .n = 0 };
	uint64_t added;
	int rc;

	if (len > SOTTO_MAX_DEVICE_LIST || l->version == 0)
		return SOTTO_ERR_TOO_LARGE;
	p_text(&p, l->handle);
	p_u64(&p, l->version);
	p_blob(&p, signed_list, len);
	p_u64(&p, now);
	if ((rc = run_cmd(q, Q_LIST_ADD, &p, &added)) != SOTTO_OK)
		return rc;
	if (added != 1)
		return SOTTO_ERR_EXISTS;
	p.n = 0;
	p_text(&p, l->handle);
	if ((rc = run_cmd(q, Q_DEVICES_CLEAR, &p, NULL)) != SOTTO_OK)
		return rc;
	for (size_t i = 0; i < l->n_devices; i++) {
		p.n = 0;
		p_blob(&p, l->devices[i].id, SC_DEVICE_ID);
		p_text(&p, l->handle);
		p_blob(&p, l->devices[i].sig_pub, SC_SIGN_PUB);
		if ((rc = run_cmd(q, Q_DEVICE_ADD, &p, &added)) != SOTTO_OK)
			return rc;
		/* The handle's own rows were just cleared: a conflict is another's. */
		if (added != 1)
			return SOTTO_ERR_DEVICE_TAKEN;
	}
	return SOTTO_OK;
}

static int
pg_list_current(store *s, const char *handle, uint8_t **list, size_t *len, uint64_t *version)
{
	pgparams p = { .n = 0 };
	PGresult *r = NULL;
	int rc;

	*list = NULL;
	*len = 0;
	*version = 0;
	p_text(&p, handle);
	if ((rc = run(PQ(s), Q_LIST_CURRENT, &p, PGRES_TUPLES_OK, &r)) != SOTTO_OK)
		goto out;
	if (PQntuples(r) == 0) {
		rc = SOTTO_ERR_NOT_FOUND;
		goto out;
	}
	if ((rc = col_u64(r, 0, 0, version)) != SOTTO_OK ||
	    (rc = col_blob(r, 0, 1, SOTTO_MAX_DEVICE_LIST, list, len)) != SOTTO_OK)
		goto out;
	rc = SOTTO_OK;
out:
	PQclear(r);
	if (rc != SOTTO_OK) {
		free(*list);
		*list = NULL;
		*len = 0;
		*version = 0;
	}
	return rc;
}

static int
pg_list_history(store *s, const char *handle, uint64_t since, size_t max_count, size_t max_bytes,
    store_blob **out, size_t *n, int *more)
{
	pgparams p = { .n = 0 };
	PGresult *r = NULL;
	store_blob *b = NULL;
	size_t cnt = 0, total = 0, rows;
	uint64_t v;
	int rc, cut = 0;

	*out = NULL;
	*n = 0;
	*more = 0;
	if (max_count == 0 || max_count > SOTTO_MAX_LIST_HISTORY)
		max_count = SOTTO_MAX_LIST_HISTORY;
	/* No version is stored above INT64_MAX (they count up from 1), so a
	 * larger since (a peer's number) asks for the same nothing. */
	if (since > INT64_MAX)
		since = INT64_MAX;
	if ((rc = pg_account_exists(s, handle)) != 1) {
		rc = rc == 0 ? SOTTO_ERR_NOT_FOUND : rc;
		goto out;
	}
	p_text(&p, handle);
	p_u64(&p, since);
	p_u64(&p, (uint64_t)max_count + 1);
	if ((rc = run(PQ(s), Q_LIST_HISTORY, &p, PGRES_TUPLES_OK, &r)) != SOTTO_OK)
		goto out;
	rows = (size_t)PQntuples(r);
	rc = SOTTO_ERR_NOMEM;
	if ((b = calloc(max_count, sizeof(*b))) == NULL)
		goto out;
	for (size_t i = 0; i < rows; i++) {
		if (cnt == max_count) {
			cut = 1;
			break;
		}
		if ((rc = col_u64(r, (int)i, 0, &v)) != SOTTO_OK ||
		    (rc = col_blob(r, (int)i, 1, SOTTO_MAX_DEVICE_LIST, &b[cnt].p, &b[cnt].len)) != SOTTO_OK)
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
	*out = b;
	*n = cnt;
	*more = cut;
	b = NULL;
	rc = SOTTO_OK;
out:
	PQclear(r);
	store_blobs_free(b, cnt);
	return rc;
}

static int
pg_invite_add(store *s, const uint8_t hash[SC_SHA256], const char *handle, uint64_t now)
{
	pgparams p = { .n = 0 };

	p_blob(&p, hash, SC_SHA256);
	p_text(&p, handle);
	p_u64(&p, now);
	return run_cmd(PQ(s), Q_INVITE_ADD, &p, NULL);
}

/*
 * As in SQLite: candidates are found by handle, never by the secret's hash,
 * and every one is compared in constant time.
 */
static int
pg_invite_take(store *s, const uint8_t hash[SC_SHA256], const char *handle, uint64_t now,
    uint64_t max_age_ms)
{
	pgparams p = { .n = 0 };
	PGresult *r = NULL;
	uint64_t id, match = 0, used;
	int rc, found = 0;

	p_text(&p, handle);
	p_u64(&p, now > max_age_ms ? now - max_age_ms : 0);
	if ((rc = run(PQ(s), Q_INVITE_CANDIDATES, &p, PGRES_TUPLES_OK, &r)) != SOTTO_OK)
		return rc;
	for (int i = 0; i < PQntuples(r); i++) {
		if (PQnfields(r) != 2 || PQgetisnull(r, i, 1) || PQgetlength(r, i, 1) != SC_SHA256 ||
		    col_u64(r, i, 0, &id) != SOTTO_OK)
			continue;
		if (sc_memeq(PQgetvalue(r, i, 1), hash, SC_SHA256) && !found) {
			found = 1;
			match = id;
		}
	}
	PQclear(r);
	if (!found)
		return SOTTO_ERR_INVITE;
	p.n = 0;
	p_u64(&p, match);
	p_u64(&p, now);
	if ((rc = run_cmd(PQ(s), Q_INVITE_USE, &p, &used)) != SOTTO_OK)
		return rc;
	return used == 1 ? SOTTO_OK : SOTTO_ERR_INVITE;
}

static int
pg_copy_add(store *s, const char *account, const store_copy *c, uint64_t *seq)
{
	pgparams p = { .n = 0 };
	PGresult *r = NULL;
	int rc;

	*seq = 0;
	if (c->seq != 0)
		return SOTTO_ERR_INVALID_ARG;	/* seqs come from the database's sequence */
	if (c->envelope_len > SOTTO_MAX_ENVELOPE || c->wrap_len > COPY_WRAP_MAX)
		return SOTTO_ERR_TOO_LARGE;
	if (memchr(c->sender, '\0', sizeof(c->sender)) == NULL)
		return SOTTO_ERR_INVALID_ARG;
	p_blob(&p, c->device_id, SC_DEVICE_ID);
	p_blob(&p, c->msg_id, STORE_MSG_ID_LEN);
	p_blob(&p, c->envelope, c->envelope_len);
	p_blob(&p, c->wrap, c->wrap_len);
	p_u64(&p, c->stored_at);
	p_u64(&p, c->expires_at);
	p_text(&p, account);
	p_text(&p, c->sender);
	p_u64(&p, (uint64_t)c->envelope_len + c->wrap_len);
	if ((rc = run(PQ(s), Q_COPY_ADD, &p, PGRES_TUPLES_OK, &r)) != SOTTO_OK)
		return rc;
	/* No row: (device, msg id) already queued, an idempotent retry. */
	if (PQntuples(r) == 1 && ((rc = col_u64(r, 0, 0, seq)) != SOTTO_OK || *seq == 0)) {
		*seq = 0;
		rc = SOTTO_ERR_DB;
	}
	PQclear(r);
	return rc;
}

static int
one_count(store_pg *q, enum stmt_id id, const pgparams *p, uint64_t *count)
{
	PGresult *r;
	int rc;

	*count = 0;
	if ((rc = run(q, id, p, PGRES_TUPLES_OK, &r)) != SOTTO_OK)
		return rc;
	rc = PQntuples(r) == 1 ? col_u64(r, 0, 0, count) : SOTTO_ERR_DB;
	PQclear(r);
	return rc;
}

static int
pg_copy_count(store *s, const char *account, const uint8_t device_id[SC_DEVICE_ID], uint64_t now,
    uint64_t *count)
{
	pgparams p = { .n = 0 };

	p_blob(&p, device_id, SC_DEVICE_ID);
	p_u64(&p, now);
	p_text(&p, account);
	return one_count(PQ(s), Q_COPY_COUNT, &p, count);
}

static int
pg_copy_total(store *s, uint64_t *count)
{
	pgparams p = { .n = 0 };

	return one_count(PQ(s), Q_COPY_TOTAL, &p, count);
}

static int
pg_list_recent(store *s, const char *handle, uint64_t since, uint64_t max, uint64_t *count)
{
	pgparams p = { .n = 0 };

	*count = 0;
	if (max == 0 || max > STORE_LIST_RECENT_MAX)
		return SOTTO_ERR_INVALID_ARG;
	p_text(&p, handle);
	p_u64(&p, since);
	p_u64(&p, max);
	return one_count(PQ(s), Q_LIST_RECENT, &p, count);
}

static int
pg_copy_count_sender(store *s, const uint8_t device_id[SC_DEVICE_ID], const char *sender, uint64_t now,
    uint64_t *count)
{
	pgparams p = { .n = 0 };

	p_blob(&p, device_id, SC_DEVICE_ID);
	p_text(&p, sender);
	p_u64(&p, now);
	return one_count(PQ(s), Q_COPY_COUNT_SENDER, &p, count);
}

static int
pg_usage_get(store *s, const char *sender, uint64_t *bytes, uint64_t *copies)
{
	pgparams p = { .n = 0 };
	PGresult *r;
	int rc;

	*bytes = 0;
	*copies = 0;
	p_text(&p, sender);
	if ((rc = run(PQ(s), Q_USAGE_GET, &p, PGRES_TUPLES_OK, &r)) != SOTTO_OK)
		return rc;
	rc = SOTTO_ERR_DB;
	if (PQntuples(r) == 1 && (rc = col_u64(r, 0, 0, bytes)) == SOTTO_OK)
		rc = col_u64(r, 0, 1, copies);
	if (rc != SOTTO_OK) {
		*bytes = 0;
		*copies = 0;
	}
	PQclear(r);
	return rc;
}

static int
pg_usage_total(store *s, uint64_t *bytes)
{
	pgparams p = { .n = 0 };

	return one_count(PQ(s), Q_USAGE_TOTAL, &p, bytes);
}

static int
pg_copy_fetch(store *s, const char *account, const uint8_t device_id[SC_DEVICE_ID], uint64_t now,
    size_t max, size_t max_bytes, store_copy **out, size_t *n, int *more)
{
	pgparams p = { .n = 0 };
	PGresult *r = NULL;
	store_copy *c = NULL, *e;
	size_t cnt = 0, total = 0, rows, mlen;
	uint8_t *mid = NULL;
	int rc, cut = 0;

	*out = NULL;
	*n = 0;
	*more = 0;
	if (max == 0 || max > SOTTO_MAX_FETCH_BATCH)
		max = SOTTO_MAX_FETCH_BATCH;
	p_blob(&p, device_id, SC_DEVICE_ID);
	p_u64(&p, now);
	p_u64(&p, (uint64_t)max + 1);
	p_text(&p, account);
	if ((rc = run(PQ(s), Q_COPY_FETCH, &p, PGRES_TUPLES_OK, &r)) != SOTTO_OK)
		goto out;
	rows = (size_t)PQntuples(r);
	rc = SOTTO_ERR_NOMEM;
	if ((c = calloc(max, sizeof(*c))) == NULL)
		goto out;
	for (size_t i = 0; i < rows; i++) {
		int row = (int)i;

		if (cnt == max) {
			cut = 1;
			break;
		}
		e = &c[cnt];
		memcpy(e->device_id, device_id, SC_DEVICE_ID);
		if ((rc = col_u64(r, row, 0, &e->seq)) != SOTTO_OK ||
		    (rc = col_blob(r, row, 1, STORE_MSG_ID_LEN, &mid, &mlen)) != SOTTO_OK ||
		    (rc = col_blob(r, row, 2, SOTTO_MAX_ENVELOPE, &e->envelope, &e->envelope_len)) != SOTTO_OK ||
		    (rc = col_blob(r, row, 3, COPY_WRAP_MAX, &e->wrap, &e->wrap_len)) != SOTTO_OK ||
		    (rc = col_u64(r, row, 4, &e->stored_at)) != SOTTO_OK ||
		    (rc = col_u64(r, row, 5, &e->expires_at)) != SOTTO_OK) {
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
	*out = c;
	*n = cnt;
	*more = cut;
	c = NULL;
	rc = SOTTO_OK;
out:
	PQclear(r);
	free(mid);
	store_copies_free(c, cnt);
	return rc;
}

/* Row row of a copies result into e (device_id set by the caller). */
static int
copy_row(const PGresult *r, int row, store_copy *e)
{
	uint8_t *mid = NULL;
	size_t mlen = 0;
	int rc;

	if ((rc = col_u64(r, row, 0, &e->seq)) != SOTTO_OK ||
	    (rc = col_blob(r, row, 1, STORE_MSG_ID_LEN, &mid, &mlen)) != SOTTO_OK ||
	    (rc = col_blob(r, row, 2, SOTTO_MAX_ENVELOPE, &e->envelope, &e->envelope_len)) != SOTTO_OK ||
	    (rc = col_blob(r, row, 3, COPY_WRAP_MAX, &e->wrap, &e->wrap_len)) != SOTTO_OK ||
	    (rc = col_u64(r, row, 4, &e->stored_at)) != SOTTO_OK ||
	    (rc = col_u64(r, row, 5, &e->expires_at)) != SOTTO_OK)
		goto out;
	rc = SOTTO_ERR_DB;
	if (mlen != STORE_MSG_ID_LEN || e->seq == 0)
		goto out;
	memcpy(e->msg_id, mid, STORE_MSG_ID_LEN);
	rc = SOTTO_OK;
out:
	free(mid);
	return rc;
}

static int
pg_copy_get(store *s, const char *account, const uint8_t device_id[SC_DEVICE_ID], uint64_t seq,
    uint64_t now, store_copy **out)
{
	pgparams p = { .n = 0 };
	PGresult *r = NULL;
	store_copy *e = NULL;
	int rc;

	*out = NULL;
	p_blob(&p, device_id, SC_DEVICE_ID);
	p_u64(&p, seq);
	p_u64(&p, now);
	p_text(&p, account);
	if ((rc = run(PQ(s), Q_COPY_GET, &p, PGRES_TUPLES_OK, &r)) != SOTTO_OK)
		goto out;
	rc = SOTTO_ERR_NOT_FOUND;
	if (PQntuples(r) != 1)
		goto out;
	rc = SOTTO_ERR_NOMEM;
	if ((e = calloc(1, sizeof(*e))) == NULL)
		goto out;
	memcpy(e->device_id, device_id, SC_DEVICE_ID);
	if ((rc = copy_row(r, 0, e)) != SOTTO_OK)
		goto out;
	rc = SOTTO_ERR_DB;
	if (e->seq != seq)
		goto out;
	*out = e;
	e = NULL;
	rc = SOTTO_OK;
out:
	PQclear(r);
	store_copies_free(e, e != NULL ? 1 : 0);
	return rc;
}

/* The seqs as an int8[] literal, one round trip for the whole ack. */
static int
pg_copy_ack(store *s, const char *account, const uint8_t device_id[SC_DEVICE_ID], const uint64_t *seqs,
    size_t n, size_t *deleted)
{
	pgparams p = { .n = 0 };
	uint64_t del = 0;
	char num[24];
	size_t valid = 0;
	sbuf b;
	int rc;

	*deleted = 0;
	sbw_init(&b, n * sizeof(num) + 3);
	sbw_u8(&b, '{');
	for (size_t i = 0; i < n; i++) {
		if (seqs[i] == 0 || seqs[i] > INT64_MAX)
			continue;
		snprintf(num, sizeof(num), "%s%" PRIu64, valid > 0 ? "," : "", seqs[i]);
		sbw_put(&b, num, strlen(num));
		valid++;
	}
	sbw_put(&b, "}", 2);
	if ((rc = sbw_error(&b)) != SOTTO_OK || valid == 0)
		goto out;
	p_blob(&p, device_id, SC_DEVICE_ID);
	p_text(&p, (const char *)b.p);
	p_text(&p, account);
	if ((rc = run_cmd(PQ(s), Q_COPY_ACK, &p, &del)) != SOTTO_OK)
		goto out;
	*deleted = (size_t)del;
out:
	sbw_free(&b);
	return rc;
}

static int
pg_copy_sweep(store *s, uint64_t now, size_t max, size_t *deleted)
{
	pgparams p = { .n = 0 };
	uint64_t del = 0;
	int rc;

	*deleted = 0;
	p_u64(&p, now);
	p_u64(&p, max);
	if ((rc = run_cmd(PQ(s), Q_COPY_SWEEP, &p, &del)) != SOTTO_OK)
		return rc;
	*deleted = (size_t)del;
	return SOTTO_OK;
}

static int
pg_copy_purge(store *s, const char *account, const uint8_t device_id[SC_DEVICE_ID], size_t *deleted)
{
	pgparams p = { .n = 0 };
	uint64_t del = 0;
	int rc;

	*deleted = 0;
	p_blob(&p, device_id, SC_DEVICE_ID);
	p_text(&p, account);
	if ((rc = run_cmd(PQ(s), Q_COPY_PURGE, &p, &del)) != SOTTO_OK)
		return rc;
	*deleted = (size_t)del;
	return SOTTO_OK;
}

static int
pg_device_owner(store *s, const uint8_t device_id[SC_DEVICE_ID], char handle_out[SOTTO_MAX_HANDLE + 1])
{
	pgparams p = { .n = 0 };
	PGresult *r = NULL;
	int rc, n;

	handle_out[0] = '\0';
	p_blob(&p, device_id, SC_DEVICE_ID);
	if ((rc = run(PQ(s), Q_DEVICE_OWNER, &p, PGRES_TUPLES_OK, &r)) != SOTTO_OK)
		goto out;
	if (PQntuples(r) == 0) {
		rc = SOTTO_ERR_NOT_FOUND;
		goto out;
	}
	/* The database is not trusted: a handle longer than any is corrupt. */
	rc = SOTTO_ERR_DB;
	if (PQnfields(r) != 1 || PQgetisnull(r, 0, 0) || PQfformat(r, 0) != 1)
		goto out;
	n = PQgetlength(r, 0, 0);
	if (n < 0 || n > SOTTO_MAX_HANDLE || memchr(PQgetvalue(r, 0, 0), '\0', (size_t)n) != NULL)
		goto out;
	memcpy(handle_out, PQgetvalue(r, 0, 0), (size_t)n);
	handle_out[n] = '\0';
	rc = SOTTO_OK;
out:
	PQclear(r);
	return rc;
}

static int
pg_device_reclaim(store *s, const uint8_t device_id[SC_DEVICE_ID], const char *from, const char *to,
    size_t *moved)
{
	store_pg *q = PQ(s);
	pgparams p = { .n = 0 };
	uint64_t n = 0;
	int rc;

	*moved = 0;
	if (!q->in_tx)
		return SOTTO_ERR_INTERNAL;
	p_blob(&p, device_id, SC_DEVICE_ID);
	p_text(&p, from);
	p_text(&p, to);
	/* The row lock this takes orders a concurrent reclaim or list_add after it. */
	if ((rc = run_cmd(q, Q_DEVICE_CLAIM, &p, &n)) != SOTTO_OK)
		return rc;
	if (n != 1)
		return SOTTO_ERR_NOT_FOUND;
	if ((rc = run_cmd(q, Q_COPY_MOVE, &p, &n)) != SOTTO_OK)
		return rc;
	*moved = (size_t)n;
	return SOTTO_OK;
}

static int
pg_rdv_put(store *s, const uint8_t id[STORE_RDV_ID_LEN], uint32_t slot, const uint8_t *blob,
    size_t len, uint64_t now, uint64_t expires_at, uint64_t max_live,
    const uint8_t owner[STORE_RDV_OWNER_LEN], uint64_t max_per_owner)
{
	store_pg *q = PQ(s);
	pgparams p = { .n = 0 };
	uint64_t live = 0, owned = 0, added = 0;
	int rc;

	if (len == 0 || len > SOTTO_MAX_LINK_BLOB)
		return SOTTO_ERR_TOO_LARGE;
	p_u64(&p, now);
	if ((rc = run_cmd(q, Q_RDV_SWEEP, &p, NULL)) != SOTTO_OK)
		return rc;
	p.n = 0;
	p_blob(&p, owner, STORE_RDV_OWNER_LEN);
	if ((rc = one_count(q, Q_RDV_OWNED, &p, &owned)) != SOTTO_OK)
		return rc;
	if (owned >= max_per_owner)
		return SOTTO_ERR_RATE_LIMITED;
	p.n = 0;
	if ((rc = one_count(q, Q_RDV_COUNT, &p, &live)) != SOTTO_OK)
		return rc;
	if (live >= max_live)
		return SOTTO_ERR_RATE_LIMITED;
	p.n = 0;
	p_blob(&p, id, STORE_RDV_ID_LEN);
	p_u64(&p, slot);
	p_blob(&p, blob, len);
	p_u64(&p, expires_at);
	p_blob(&p, owner, STORE_RDV_OWNER_LEN);
	if ((rc = run_cmd(q, Q_RDV_ADD, &p, &added)) != SOTTO_OK)
		return rc;
	/* ON CONFLICT: (id, slot) still stored, used or not. */
	return added == 1 ? SOTTO_OK : SOTTO_ERR_EXISTS;
}

static int
pg_rdv_take(store *s, const uint8_t id[STORE_RDV_ID_LEN], uint32_t slot, uint64_t now, int consume,
    uint8_t **blob, size_t *len)
{
	store_pg *q = PQ(s);
	pgparams p = { .n = 0 };
	PGresult *r = NULL;
	int rc;

	*blob = NULL;
	*len = 0;
	if (consume && !q->in_tx)
		return SOTTO_ERR_INTERNAL;
	p_blob(&p, id, STORE_RDV_ID_LEN);
	p_u64(&p, slot);
	p_u64(&p, now);
	if ((rc = run(q, consume ? Q_RDV_USE : Q_RDV_GET, &p, PGRES_TUPLES_OK, &r)) != SOTTO_OK)
		return rc;
	rc = PQntuples(r) == 1 ? col_blob(r, 0, 0, SOTTO_MAX_LINK_BLOB, blob, len) : SOTTO_ERR_NOT_FOUND;
	if (rc == SOTTO_OK && *len == 0) {
		free(*blob);
		*blob = NULL;
		rc = SOTTO_ERR_DB;
	}
	PQclear(r);
	return rc;
}

static int
pg_rdv_extend(store *s, const uint8_t id[STORE_RDV_ID_LEN], uint32_t slot, uint64_t now,
    uint64_t expires_at)
{
	pgparams p = { .n = 0 };
	uint64_t changed = 0;
	int rc;

	p_blob(&p, id, STORE_RDV_ID_LEN);
	p_u64(&p, slot);
	p_u64(&p, now);
	p_u64(&p, expires_at);
	if ((rc = run_cmd(PQ(s), Q_RDV_EXTEND, &p, &changed)) != SOTTO_OK)
		return rc;
	return changed == 1 ? SOTTO_OK : SOTTO_ERR_NOT_FOUND;
}

static int
pg_announce(store *s, const store_wake *w)
{
	store_pg *q = PQ(s);

	return q->in_tx ? wakeq_push(&q->wq, w) : SOTTO_ERR_INTERNAL;
}

static int
pg_wake_fd(store *s)
{
	return PQsocket(PQ(s)->db);
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static int
hex_u64(const char *h, uint64_t *v)
{
	*v = 0;
	for (int i = 0; i < 16; i++) {
		int x = hexval(h[i]);

		if (x < 0)
			return SOTTO_ERR_FORMAT;
		*v = (*v << 4) | (uint64_t)x;
	}
	return SOTTO_OK;
}

/* A payload from another sottod on this database: parsed as untrusted text. */
static int
wake_parse(const char *t, store_wake *w)
{
	size_t n = strnlen(t, PG_WAKE_TEXT_MAX + 2 * SC_DEVICE_ID + 1);

	memset(w, 0, sizeof(*w));
	if (n == 1 + 2 * SC_DEVICE_ID + 16 && t[0] == 'c') {
		w->kind = STORE_WAKE_COPY;
		for (size_t i = 0; i < SC_DEVICE_ID; i++) {
			int hi = hexval(t[1 + 2 * i]), lo = hexval(t[2 + 2 * i]);

			if (hi < 0 || lo < 0)
				return SOTTO_ERR_FORMAT;
			w->device_id[i] = (uint8_t)(hi << 4 | lo);
		}
		if (hex_u64(t + 1 + 2 * SC_DEVICE_ID, &w->seq) != SOTTO_OK || w->seq == 0)
			return SOTTO_ERR_FORMAT;
		return SOTTO_OK;
	}
	if (n > 17 && n <= 17 + SOTTO_MAX_HANDLE && t[0] == 'l') {
		w->kind = STORE_WAKE_LIST;
		if (hex_u64(t + 1, &w->version) != SOTTO_OK)
			return SOTTO_ERR_FORMAT;
		memcpy(w->handle, t + 17, n - 17);
		w->handle[n - 17] = '\0';
		return handle_valid(w->handle) ? SOTTO_OK : SOTTO_ERR_FORMAT;
	}
	return SOTTO_ERR_FORMAT;
}

/*
 * libpq keeps notifications that arrived during any query; PQnotifies hands
 * them out without reading the socket, so io = 0 costs no system call.
 */
static int
pg_wake_drain(store *s, int io, store_wake_fn fn, void *arg)
{
	store_pg *q = PQ(s);
	PGnotify *nt;
	store_wake w;

	if (PQstatus(q->db) != CONNECTION_OK)
		return SOTTO_ERR_DB;
	if (io && PQconsumeInput(q->db) != 1)
		return SOTTO_ERR_DB;
	while ((nt = PQnotifies(q->db)) != NULL) {
		if (nt->be_pid != q->self_pid && nt->be_pid != q->writer_pid && strcmp(nt->relname, PG_WAKE_CHANNEL) == 0 &&
		    nt->extra != NULL && wake_parse(nt->extra, &w) == SOTTO_OK)
			fn(arg, &w);
		PQfreemem(nt);
	}
	return SOTTO_OK;
}

static const store_ops pg_ops = {
	.name = "postgres",
	.close = pg_close,
	.begin = pg_begin,
	.commit = pg_commit,
	.rollback = pg_rollback,
	.mark = pg_mark,
	.release = pg_release,
	.undo = pg_undo,
	.account_exists = pg_account_exists,
	.account_add = pg_account_add,
	.list_add = pg_list_add,
	.list_current = pg_list_current,
	.list_history = pg_list_history,
	.list_recent = pg_list_recent,
	.invite_add = pg_invite_add,
	.invite_take = pg_invite_take,
	.copy_add = pg_copy_add,
	.copy_count = pg_copy_count,
	.copy_fetch = pg_copy_fetch,
	.copy_ack = pg_copy_ack,
	.copy_sweep = pg_copy_sweep,
	.copy_get = pg_copy_get,
	.copy_total = pg_copy_total,
	.copy_purge = pg_copy_purge,
	.device_owner = pg_device_owner,
	.device_reclaim = pg_device_reclaim,
	.copy_count_sender = pg_copy_count_sender,
	.usage_get = pg_usage_get,
	.usage_total = pg_usage_total,
	.rdv_put = pg_rdv_put,
	.rdv_take = pg_rdv_take,
	.rdv_extend = pg_rdv_extend,
	.announce = pg_announce,
	.wake_fd = pg_wake_fd,
	.wake_drain = pg_wake_drain,
};

static int
prepare_all(store_pg *q)
{
	Oid types[PG_MAX_PARAMS];
	char name[16];
	PGresult *r;
	int ok;

	for (int i = 0; i < Q__COUNT; i++) {
		int n = (int)strlen(stmts[i].types);

		for (int j = 0; j < n; j++)
			/* bytea 17, int8 20, text 25 (pg_type.h); arrays are cast in the SQL */
			types[j] = stmts[i].types[j] == 'b' ? 17 : stmts[i].types[j] == 'i' ? 20 : 25;
		snprintf(name, sizeof(name), "q%d", i);
		r = PQprepare(q->db, name, stmts[i].sql, n, types);
		ok = PQresultStatus(r) == PGRES_COMMAND_OK;
		PQclear(r);
		if (!ok)
			return SOTTO_ERR_DB;
	}
	return SOTTO_OK;
}

int
store_pg_open(store **out, const char *conninfo)
{
	store_pg *q = NULL;
	PGresult *r = NULL;
	int rc = SOTTO_ERR_NOMEM;

	*out = NULL;
	if ((q = calloc(1, sizeof(*q))) == NULL)
		goto out;
	q->base.ops = &pg_ops;
	rc = SOTTO_ERR_DB;
	if ((q->db = PQconnectdb(conninfo)) == NULL || PQstatus(q->db) != CONNECTION_OK)
		goto out;
	/* schema_sql holds several statements: PQexec runs them as one string. */
	r = PQexec(q->db, "SET client_min_messages = warning");
	PQclear(r);
	r = PQexec(q->db, schema_sql);
	if (PQresultStatus(r) != PGRES_COMMAND_OK || PQtransactionStatus(q->db) != PQTRANS_IDLE)
		goto out;
	if (exec_plain(q, usage_pending_sql) != SOTTO_OK ||
	    exec_plain(q, "LISTEN " PG_WAKE_CHANNEL) != SOTTO_OK || prepare_all(q) != SOTTO_OK)
		goto out;
	q->self_pid = PQbackendPID(q->db);
	*out = &q->base;
	q = NULL;
	rc = SOTTO_OK;
out:
	PQclear(r);
	pg_close(q ? &q->base : NULL);
	return rc;
}

int
store_pg_pair(store *listener, store *writer)
{
	store_pg *l = PQ(listener), *w = PQ(writer);

	if (listener->ops != &pg_ops || writer->ops != &pg_ops || listener == writer)
		return SOTTO_ERR_INVALID_ARG;
	/* The writer never drains: what it heard would pile up in libpq. */
	if (exec_plain(w, "UNLISTEN *") != SOTTO_OK)
		return SOTTO_ERR_DB;
	l->writer_pid = w->self_pid;
	return SOTTO_OK;
}
