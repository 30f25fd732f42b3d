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
#include "buf.h"
#include "client.h"
#include "hkdf.h"

/* Keys derived from the history key (cstore_unlock), in guarded memory. */
typedef struct seal_keys {
	uint8_t seal[SC_AEAD_KEY];	/* XChaCha20-Poly1305 of the private columns */
	uint8_t id[SC_SHA256];		/* HMAC key of the message-id lookup keys */
} seal_keys;

struct cstore {
	sqlite3 *db;
	unsigned depth;		/* open cstore_begin levels: the outer one is the transaction */
	int version;		/* PRAGMA user_version when opened (CSTORE_VERSION once migrated) */
	seal_keys *keys;	/* NULL until cstore_unlock */
	size_t skipped;		/* rows the last messages walk could not open */
	int64_t skipped_row;	/* the first of them */
};

/*
 * Schema version 1 (PRAGMA user_version): what a message says, who said it to
 * whom and when, sits in one sealed value per row (SEALED_* below), looked up
 * by a keyed hash of its message id, not the id the server saw. Version 0
 * (homes made before) kept them in the clear: cstore_migrate converts them.
 */
#define MESSAGES_V1(name) \
    "CREATE TABLE IF NOT EXISTS " name "(" \
    "  id INTEGER PRIMARY KEY, msg_key BLOB NOT NULL UNIQUE, received_at INTEGER NOT NULL," \
    "  shown INTEGER NOT NULL DEFAULT 0, sealed BLOB NOT NULL);"

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS config("
    "  key TEXT PRIMARY KEY, value BLOB NOT NULL);"
    "CREATE TABLE IF NOT EXISTS contacts("
    "  handle TEXT PRIMARY KEY, account_pub BLOB NOT NULL,"
    "  verified INTEGER NOT NULL DEFAULT 0, state INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE IF NOT EXISTS device_lists("
    "  handle TEXT NOT NULL, version INTEGER NOT NULL, signed BLOB NOT NULL,"
    "  PRIMARY KEY(handle, version));"
    MESSAGES_V1("messages")
    /* text: sealed (a BLOB), since schema version 1; the declared type is
     * kept so that homes made before it need no new table. */
    "CREATE TABLE IF NOT EXISTS alerts("
    "  id INTEGER PRIMARY KEY, kind TEXT NOT NULL, handle TEXT NOT NULL, device BLOB,"
    "  at INTEGER NOT NULL, text TEXT NOT NULL, seen INTEGER NOT NULL DEFAULT 0,"
    "  count INTEGER NOT NULL DEFAULT 1);"
    /* Keyed by the envelope's hash, not its (unauthenticated) msg id: a
     * forged copy stored first must not shut the real one out. Since schema
     * version 1, sender and env_hash hold keyed hashes, envelope and wrap
     * sealed values (held_key, seal). */
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

static int config_put(cstore *s, const char *key, const void *v, size_t n);
static int config_get(cstore *s, const char *key, uint8_t *out, size_t n, int exact, size_t *got);

static int
user_version(cstore *s, int *v)
{
	sqlite3_stmt *st = NULL;
	int r;

	if ((r = prepare(s, &st, "PRAGMA user_version")) != SOTTO_OK)
		return r;
	r = SOTTO_ERR_DB;
	if (sqlite3_step(st) == SQLITE_ROW) {
		*v = sqlite3_column_int(st, 0);
		r = SOTTO_OK;
	}
	sqlite3_finalize(st);
	return r;
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
	/* secure_delete: a page freed (a migrated plaintext row, a dropped table)
	 * is overwritten with zeros, not left for someone reading the file. */
	if ((r = exec(s, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
	    "PRAGMA foreign_keys=ON; PRAGMA secure_delete=ON;")) != SOTTO_OK)
		goto out;
	if ((r = exec(s, schema)) != SOTTO_OK || (r = alerts_upgrade(s)) != SOTTO_OK)
		goto out;
	if (create && (r = exec(s, "PRAGMA user_version = " CSTORE_VERSION_STR)) != SOTTO_OK)
		goto out;
	if ((r = user_version(s, &s->version)) != SOTTO_OK)
		goto out;
	/* Made by a newer sotto: its rows are not ours to read, nor to rewrite. */
	if (s->version < 0 || s->version > CSTORE_VERSION) {
		r = SOTTO_ERR_VERSION;
		goto out;
	}
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
	sc_secure_free(s->keys);
	free(s);
}

int
cstore_version(const cstore *s)
{
	return s->version;
}

/* ---- sealed values ----
 *
 * A sealed value is u8 SEALED_FORMAT, a 24-byte random nonce, then
 * XChaCha20-Poly1305 of the value with its tag. The associated data names
 * the table, the column and the row (its message key, or its id), so a
 * value moved to another row or column no longer opens.
 */
#define SEALED_FORMAT 1
#define SEALED_OVERHEAD (1 + SC_XAEAD_NONCE + SC_AEAD_TAG)
#define SEAL_AD_MAX 160

/* The associated data into ad; 0 if it would not fit (a bug: the names are
 * constants, the rows at most two hashes). */
static size_t
seal_ad(uint8_t ad[static SEAL_AD_MAX], const char *table, const char *column, const uint8_t *row,
    size_t rowlen)
{
	static const char label[] = "sotto history v1";
	size_t n = 0, tl = strlen(table) + 1, cl = strlen(column) + 1;

	/* Each name with its NUL: no two (table, column) pairs give the same bytes. */
	if (tl > SEAL_AD_MAX - sizeof(label) || cl > SEAL_AD_MAX - sizeof(label) - tl ||
	    rowlen > SEAL_AD_MAX - sizeof(label) - tl - cl)
		return 0;
	memcpy(ad, label, sizeof(label));
	n += sizeof(label);
	memcpy(ad + n, table, tl);
	n += tl;
	memcpy(ad + n, column, cl);
	n += cl;
	if (rowlen > 0)
		memcpy(ad + n, row, rowlen);
	return n + rowlen;
}

/* *out (caller frees) of *outlen bytes: m sealed for (table, column, row). */
static int
seal(const cstore *s, const char *table, const char *column, const uint8_t *row, size_t rowlen,
    const uint8_t *m, size_t mlen, uint8_t **out, size_t *outlen)
{
	uint8_t ad[SEAL_AD_MAX], *c;
	size_t adlen;

	*out = NULL;
	if (s->keys == NULL)
		return SOTTO_ERR_INTERNAL;	/* cstore_unlock first */
	if (mlen > SIZE_MAX - SEALED_OVERHEAD)
		return SOTTO_ERR_TOO_LARGE;
	if ((adlen = seal_ad(ad, table, column, row, rowlen)) == 0)
		return SOTTO_ERR_INTERNAL;
	if ((c = malloc(mlen + SEALED_OVERHEAD)) == NULL)
		return SOTTO_ERR_NOMEM;
	c[0] = SEALED_FORMAT;
	sc_random(c + 1, SC_XAEAD_NONCE);
	sc_xaead_encrypt(c + 1 + SC_XAEAD_NONCE, m, mlen, ad, adlen, c + 1, s->keys->seal);
	*out = c;
	*outlen = mlen + SEALED_OVERHEAD;
	return SOTTO_OK;
}

/* Open a sealed value of at most max plaintext bytes into *out (caller frees;
 * one NUL byte more is allocated and set). SOTTO_ERR_DECRYPT if it was
 * altered, moved or sealed under another key. */
static int
unseal(const cstore *s, const char *table, const char *column, const uint8_t *row, size_t rowlen,
    const uint8_t *c, size_t clen, size_t max, uint8_t **out, size_t *outlen)
{
	uint8_t ad[SEAL_AD_MAX], *m;
	size_t adlen, mlen;
	int r;

	*out = NULL;
	*outlen = 0;
	if (s->keys == NULL)
		return SOTTO_ERR_INTERNAL;
	if (c == NULL || clen < SEALED_OVERHEAD || c[0] != SEALED_FORMAT)
		return SOTTO_ERR_DECRYPT;
	mlen = clen - SEALED_OVERHEAD;
	if (mlen > max)
		return SOTTO_ERR_TOO_LARGE;
	if ((adlen = seal_ad(ad, table, column, row, rowlen)) == 0)
		return SOTTO_ERR_INTERNAL;
	if ((m = malloc(mlen + 1)) == NULL)
		return SOTTO_ERR_NOMEM;
	if ((r = sc_xaead_decrypt(m, c + 1 + SC_XAEAD_NONCE, clen - 1 - SC_XAEAD_NONCE, ad, adlen,
	    c + 1, s->keys->seal)) != SOTTO_OK) {
		free(m);
		return r;
	}
	m[mlen] = '\0';
	*out = m;
	*outlen = mlen;
	return SOTTO_OK;
}

static void
rowid_bytes(uint8_t b[static 8], int64_t id)
{
	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)((uint64_t)id >> (56 - 8 * i));
}

/* The message's row key: a keyed hash of its id, so that the stored key does
 * not match the id in the envelope the server saw. */
static void
msg_key(const cstore *s, uint8_t key[static SC_SHA256], const uint8_t msg_id[static 16])
{
	sc_hmac_ctx h;

	sc_hmac_sha256_init(&h, s->keys->id, sizeof(s->keys->id));
	sc_hmac_sha256_update(&h, "msg_id", 6);
	sc_hmac_sha256_update(&h, msg_id, 16);
	sc_hmac_sha256_final(&h, key);
}

#define KEY_HISTORY_CHECK "history_check"

int
cstore_unlock(cstore *s, const uint8_t history_key[static CSTORE_HISTORY_KEY])
{
	static const uint8_t check_row[1];
	uint8_t prk[SC_SHA256], *c = NULL, *m = NULL, buf[SEALED_OVERHEAD];
	seal_keys *k = NULL;
	size_t clen = 0, mlen = 0;
	int r;

	if ((k = sc_secure_alloc(sizeof(*k))) == NULL)
		return SOTTO_ERR_NOMEM;
	hkdf_sha256_extract(prk, NULL, 0, history_key, CSTORE_HISTORY_KEY);
	if ((r = hkdf_sha256_expand(k->seal, sizeof(k->seal), prk, (const uint8_t *)"sotto history seal",
	    18)) != SOTTO_OK ||
	    (r = hkdf_sha256_expand(k->id, sizeof(k->id), prk, (const uint8_t *)"sotto history id",
	    16)) != SOTTO_OK)
		goto out;
	sc_secure_free(s->keys);
	s->keys = k;
	k = NULL;
	/* A value sealed once under this key: a key file that is not this
	 * history's is told apart from rows that were altered. */
	r = config_get(s, KEY_HISTORY_CHECK, buf, sizeof(buf), 1, NULL);
	if (r == SOTTO_ERR_NOT_FOUND) {
		if ((r = seal(s, "config", KEY_HISTORY_CHECK, check_row, 0, NULL, 0, &c, &clen)) == SOTTO_OK)
			r = config_put(s, KEY_HISTORY_CHECK, c, clen);
	} else if (r == SOTTO_OK) {
		if (unseal(s, "config", KEY_HISTORY_CHECK, check_row, 0, buf, sizeof(buf), 0, &m,
		    &mlen) != SOTTO_OK)
			r = SOTTO_ERR_DECRYPT;
	} else
		r = SOTTO_ERR_DB;
out:
	if (r != SOTTO_OK) {
		sc_secure_free(s->keys);
		s->keys = NULL;
	}
	sc_wipe(prk, sizeof(prk));
	sc_secure_free(k);
	free(c);
	free(m);
	return r;
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
	/* verified: 1 verified, 2 not verified and the mark of the identity
	 * before lost to a trust, 0 not verified. */
	k.verified = sqlite3_column_int(st, 2) == 1;
	k.verified_lost = sqlite3_column_int(st, 2) == 2;
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
	    sqlite3_bind_int(st, 3, c->verified ? 1 : c->verified_lost ? 2 : 0) != SQLITE_OK ||
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

/*
 * A message's sealed value, padded to a multiple of MSG_PAD so that its
 * stored size tells the body's length only roughly:
 *   u8 MSG_FORMAT, msg_id (16), device (16), u64 sent_at, u8 outgoing,
 *   str8 sender, str16 recipients (comma separated), str32 body, then padding
 *   (ISO/IEC 7816-4).
 */
#define MSG_FORMAT 1
#define MSG_PAD 256
#define MSG_PLAIN_MAX (1 + 16 + SC_DEVICE_ID + 8 + 1 + 1 + SOTTO_MAX_HANDLE + 2 + \
    sizeof(((cstore_message *)0)->to) + 4 + SOTTO_MAX_BODY)
#define MSG_PADDED_MAX (MSG_PLAIN_MAX + MSG_PAD)

static int
message_seal(cstore *s, const cstore_message *m, const uint8_t key[static SC_SHA256], uint8_t **out,
    size_t *outlen)
{
	size_t fl = strlen(m->from), tl = strlen(m->to), padded = 0;
	uint8_t *p;
	sbuf b;
	int r;

	sbw_init(&b, MSG_PADDED_MAX);
	if (fl > SOTTO_MAX_HANDLE || tl >= sizeof(m->to) || m->body_len > SOTTO_MAX_BODY) {
		r = SOTTO_ERR_INVALID_ARG;
		goto out;
	}
	sbw_u8(&b, MSG_FORMAT);
	sbw_put(&b, m->msg_id, sizeof(m->msg_id));
	sbw_put(&b, m->device, sizeof(m->device));
	sbw_u64(&b, m->sent_at);
	sbw_u8(&b, m->outgoing ? 1 : 0);
	sbw_str8(&b, m->from, fl);
	sbw_str16(&b, m->to, tl);
	sbw_str32(&b, m->body, m->body_len);
	/* sodium_pad always adds at least one byte: room for MSG_PAD more. */
	if ((r = sbw_error(&b)) != SOTTO_OK || sbw_reserve(&b, MSG_PAD) == NULL) {
		r = r != SOTTO_OK ? r : SOTTO_ERR_TOO_LARGE;
		goto out;
	}
	b.len -= MSG_PAD;
	p = b.p;
	if ((r = sc_pad(&padded, p, b.len, MSG_PAD, b.len + MSG_PAD)) != SOTTO_OK)
		goto out;
	r = seal(s, "messages", "sealed", key, SC_SHA256, p, padded, out, outlen);
out:
	sbw_free(&b);
	return r;
}

/* Parse an opened message value into m (strings copied, body borrowed from p). */
static int
message_parse(cstore_message *m, const uint8_t *p, size_t n)
{
	const uint8_t *from, *to, *body;
	size_t fl, tl, bl, len;
	uint8_t fmt, out;
	sbuf_reader r;

	if (sc_unpad(&len, p, n, MSG_PAD) != SOTTO_OK)
		return SOTTO_ERR_FORMAT;
	sbr_init(&r, p, len);
	if (sbr_u8(&r, &fmt) != SOTTO_OK || fmt != MSG_FORMAT ||
	    sbr_copy(&r, m->msg_id, sizeof(m->msg_id)) != SOTTO_OK ||
	    sbr_copy(&r, m->device, sizeof(m->device)) != SOTTO_OK ||
	    sbr_u64(&r, &m->sent_at) != SOTTO_OK || sbr_u8(&r, &out) != SOTTO_OK || out > 1 ||
	    sbr_str8(&r, SOTTO_MAX_HANDLE, &from, &fl) != SOTTO_OK ||
	    sbr_str16(&r, sizeof(m->to) - 1, &to, &tl) != SOTTO_OK ||
	    sbr_str32(&r, SOTTO_MAX_BODY, &body, &bl) != SOTTO_OK || sbr_done(&r) != SOTTO_OK ||
	    memchr(from, '\0', fl) != NULL || memchr(to, '\0', tl) != NULL)
		return SOTTO_ERR_FORMAT;
	memcpy(m->from, from, fl);
	m->from[fl] = '\0';
	memcpy(m->to, to, tl);
	m->to[tl] = '\0';
	m->outgoing = out;
	m->body = body;
	m->body_len = bl;
	return SOTTO_OK;
}

static int
message_insert(cstore *s, const char *table, const cstore_message *m)
{
	sqlite3_stmt *st = NULL;
	uint8_t key[SC_SHA256], *sealed = NULL;
	size_t sealed_len = 0;
	char sql[160];
	int r;

	if (m->sent_at > INT64_MAX || m->received_at > INT64_MAX)
		return SOTTO_ERR_INVALID_ARG;
	if (s->keys == NULL)
		return SOTTO_ERR_INTERNAL;
	msg_key(s, key, m->msg_id);
	if ((r = message_seal(s, m, key, &sealed, &sealed_len)) != SOTTO_OK)
		goto out;
	snprintf(sql, sizeof(sql), "INSERT OR IGNORE INTO %s(msg_key, received_at, shown, sealed) "
	    "VALUES(?, ?, ?, ?)", table);
	if ((r = prepare(s, &st, sql)) != SOTTO_OK)
		goto out;
	r = SOTTO_ERR_DB;
	if (sqlite3_bind_blob(st, 1, key, sizeof(key), SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 2, (sqlite3_int64)m->received_at) != SQLITE_OK ||
	    sqlite3_bind_int(st, 3, m->shown ? 1 : 0) != SQLITE_OK ||
	    sqlite3_bind_blob(st, 4, sealed, (int)sealed_len, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_DONE)
		goto out;
	/* INSERT OR IGNORE on the UNIQUE msg_key is the replay rule. */
	r = sqlite3_changes(s->db) == 1 ? SOTTO_OK : SOTTO_ERR_REPLAY;
out:
	sqlite3_finalize(st);
	free(sealed);
	return r;
}

int
cstore_message_add(cstore *s, const cstore_message *m)
{
	if (m->body_len > SOTTO_MAX_BODY || m->sent_at > INT64_MAX || m->received_at > INT64_MAX)
		return SOTTO_ERR_INVALID_ARG;
	if (s->version != CSTORE_VERSION)
		return SOTTO_ERR_INTERNAL;
	return message_insert(s, "messages", m);
}

/* Run sql with the message key of msg_id bound as parameter 1: SOTTO_OK
 * (done), 1 (a row), or an error. */
static int
by_msg_key(cstore *s, const char *sql, const uint8_t msg_id[static 16])
{
	sqlite3_stmt *st = NULL;
	uint8_t key[SC_SHA256];
	int r, step;

	if (s->keys == NULL || s->version != CSTORE_VERSION)
		return SOTTO_ERR_INTERNAL;
	msg_key(s, key, msg_id);
	if ((r = prepare(s, &st, sql)) != SOTTO_OK)
		return r;
	r = SOTTO_ERR_DB;
	if (sqlite3_bind_blob(st, 1, key, sizeof(key), SQLITE_STATIC) == SQLITE_OK) {
		step = sqlite3_step(st);
		r = step == SQLITE_ROW ? 1 : step == SQLITE_DONE ? SOTTO_OK : SOTTO_ERR_DB;
	}
	sqlite3_finalize(st);
	return r;
}

int
cstore_message_mark_shown(cstore *s, const uint8_t msg_id[static 16])
{
	return by_msg_key(s, "UPDATE messages SET shown = 1 WHERE msg_key = ?", msg_id);
}

/* 1 if handle is m's sender or one of its recipients. */
static int
message_names(const cstore_message *m, const char *handle)
{
	size_t hl = strlen(handle);
	const char *p = m->to, *e;

	if (strcmp(m->from, handle) == 0)
		return 1;
	for (;;) {
		e = strchr(p, ',');
		if ((e != NULL ? (size_t)(e - p) : strlen(p)) == hl && strncmp(p, handle, hl) == 0)
			return 1;
		if (e == NULL)
			return 0;
		p = e + 1;
	}
}

/* Call fn for each row of a messages query selecting id, msg_key, sealed,
 * received_at, shown; handle (may be NULL) keeps only the messages naming it.
 * A row that does not open (altered, moved, another key) or does not parse is
 * skipped and counted (cstore_skipped): one damaged row must not hide the
 * others, nor stop a receive. */
static int
messages_walk(cstore *s, const char *sql, const char *handle,
    int (*fn)(const cstore_message *m, void *arg), void *arg)
{
	sqlite3_stmt *st = NULL;
	cstore_message *m = NULL;
	const void *key, *sealed;
	uint8_t *plain = NULL;
	size_t plen = 0;
	int r, step, kl, sl;

	s->skipped = 0;
	s->skipped_row = 0;
	if (s->keys == NULL || s->version != CSTORE_VERSION)
		return SOTTO_ERR_INTERNAL;
	if ((m = calloc(1, sizeof(*m))) == NULL)
		return SOTTO_ERR_NOMEM;
	if ((r = prepare(s, &st, sql)) != SOTTO_OK)
		goto out;
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		memset(m, 0, sizeof(*m));
		free(plain);
		plain = NULL;
		key = sqlite3_column_blob(st, 1);
		kl = sqlite3_column_bytes(st, 1);
		sealed = sqlite3_column_blob(st, 2);
		sl = sqlite3_column_bytes(st, 2);
		r = SOTTO_ERR_DECRYPT;
		/* Rows are untrusted: the key must be the hash of the id sealed inside. */
		if (key != NULL && kl == SC_SHA256 && sealed != NULL && sl > 0) {
			r = unseal(s, "messages", "sealed", key, SC_SHA256, sealed, (size_t)sl,
			    MSG_PADDED_MAX, &plain, &plen);
			if (r == SOTTO_OK && (r = message_parse(m, plain, plen)) == SOTTO_OK) {
				uint8_t want[SC_SHA256];

				msg_key(s, want, m->msg_id);
				if (!sc_memeq(want, key, SC_SHA256))
					r = SOTTO_ERR_DECRYPT;
			}
		}
		if (r == SOTTO_ERR_NOMEM)
			goto out;
		if (r != SOTTO_OK) {
			if (s->skipped++ == 0)
				s->skipped_row = sqlite3_column_int64(st, 0);
			continue;
		}
		m->received_at = (uint64_t)sqlite3_column_int64(st, 3);
		m->shown = sqlite3_column_int(st, 4) != 0;
		if (handle != NULL && !message_names(m, handle))
			continue;
		if ((r = fn(m, arg)) != 0)
			goto out;
	}
	r = step == SQLITE_DONE ? SOTTO_OK : SOTTO_ERR_DB;
out:
	sqlite3_finalize(st);
	if (plain != NULL) {
		sc_wipe(plain, plen);
		free(plain);
	}
	if (m != NULL)
		sc_wipe(m, sizeof(*m));
	free(m);
	return r;
}

#define MSG_COLUMNS "id, msg_key, sealed, received_at, shown"

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
	/* Who a message names is sealed: the filter runs on the opened rows. */
	return messages_walk(s, "SELECT " MSG_COLUMNS " FROM messages ORDER BY id", handle, fn, arg);
}

size_t
cstore_skipped(const cstore *s, int64_t *first_row)
{
	if (first_row != NULL)
		*first_row = s->skipped_row;
	return s->skipped;
}

int
cstore_message_seen(cstore *s, const uint8_t msg_id[static 16])
{
	int r = by_msg_key(s, "SELECT 1 FROM messages WHERE msg_key = ?", msg_id);

	return r == 1 ? 1 : r == SOTTO_OK ? 0 : r;
}

/*
 * Held messages (schema version 1): the claimed sender and the envelope's
 * hash are stored as keyed hashes (held_key), envelope and wrap as sealed
 * values bound to both: the envelope's header names sender, recipients and
 * time, which a thief must not read either.
 */
static void
held_key(const cstore *s, uint8_t out[static SC_SHA256], const char *label, const void *p, size_t n)
{
	sc_hmac_ctx h;

	sc_hmac_sha256_init(&h, s->keys->id, sizeof(s->keys->id));
	sc_hmac_sha256_update(&h, label, strlen(label) + 1);
	sc_hmac_sha256_update(&h, p, n);
	sc_hmac_sha256_final(&h, out);
}

/* How many are held, from sender (NULL: from anyone). */
static int
held_count(cstore *s, const char *sender, uint64_t *n)
{
	sqlite3_stmt *st = NULL;
	uint8_t k[SC_SHA256];
	int r;

	if (sender != NULL) {
		if (s->keys == NULL)
			return SOTTO_ERR_INTERNAL;
		held_key(s, k, "sender", sender, strlen(sender));
	}
	if ((r = prepare(s, &st, sender != NULL ? "SELECT count(*) FROM held_messages WHERE sender = ?" :
	    "SELECT count(*) FROM held_messages")) != SOTTO_OK)
		return r;
	r = SOTTO_ERR_DB;
	if ((sender == NULL || sqlite3_bind_blob(st, 1, k, sizeof(k), SQLITE_STATIC) == SQLITE_OK) &&
	    sqlite3_step(st) == SQLITE_ROW) {
		*n = (uint64_t)sqlite3_column_int64(st, 0);
		r = SOTTO_OK;
	}
	sqlite3_finalize(st);
	return r;
}

/* Insert one held row (sealed), unless (sender, env_hash) is held: 1 then. */
static int
held_insert(cstore *s, const char *sender, const uint8_t env_hash[static 32], const uint8_t *env,
    size_t env_len, const uint8_t *wrap, size_t wrap_len, uint64_t at)
{
	sqlite3_stmt *st = NULL;
	uint8_t row[2 * SC_SHA256], *se = NULL, *sw = NULL;
	size_t sel = 0, swl = 0;
	int r;

	held_key(s, row, "sender", sender, strlen(sender));
	held_key(s, row + SC_SHA256, "env_hash", env_hash, 32);
	if ((r = seal(s, "held_messages", "envelope", row, sizeof(row), env, env_len, &se, &sel)) != SOTTO_OK ||
	    (r = seal(s, "held_messages", "wrap", row, sizeof(row), wrap, wrap_len, &sw, &swl)) != SOTTO_OK ||
	    (r = prepare(s, &st, "INSERT OR IGNORE INTO held_messages(sender, env_hash, envelope, wrap, at) "
	    "VALUES(?, ?, ?, ?, ?)")) != SOTTO_OK)
		goto out;
	r = SOTTO_ERR_DB;
	if (sqlite3_bind_blob(st, 1, row, SC_SHA256, SQLITE_STATIC) == SQLITE_OK &&
	    sqlite3_bind_blob(st, 2, row + SC_SHA256, SC_SHA256, SQLITE_STATIC) == SQLITE_OK &&
	    sqlite3_bind_blob(st, 3, se, (int)sel, SQLITE_STATIC) == SQLITE_OK &&
	    sqlite3_bind_blob(st, 4, sw, (int)swl, SQLITE_STATIC) == SQLITE_OK &&
	    sqlite3_bind_int64(st, 5, (sqlite3_int64)at) == SQLITE_OK && sqlite3_step(st) == SQLITE_DONE)
		r = sqlite3_changes(s->db) == 1 ? SOTTO_OK : 1;
out:
	sqlite3_finalize(st);
	free(se);
	free(sw);
	return r;
}

int
cstore_held_add(cstore *s, const char *sender, const uint8_t env_hash[static 32], const uint8_t *env,
    size_t env_len, const uint8_t *wrap, size_t wrap_len, uint64_t at, int *first)
{
	sqlite3_stmt *st = NULL;
	uint8_t sk[SC_SHA256], ek[SC_SHA256];
	uint64_t all = 0, mine = 0;
	int r;

	*first = 0;
	if (at > INT64_MAX || env_len == 0 || env_len > CSTORE_HELD_MAX_BYTES || wrap_len == 0 ||
	    wrap_len > CSTORE_HELD_MAX_BYTES)
		return SOTTO_ERR_INVALID_ARG;
	if (s->keys == NULL || s->version != CSTORE_VERSION)
		return SOTTO_ERR_INTERNAL;
	held_key(s, sk, "sender", sender, strlen(sender));
	held_key(s, ek, "env_hash", env_hash, 32);
	/* Already held (a copy delivered again): nothing to add, nothing to refuse. */
	if ((r = prepare(s, &st, "SELECT 1 FROM held_messages WHERE sender = ? AND env_hash = ?")) !=
	    SOTTO_OK)
		return r;
	r = SOTTO_ERR_DB;
	if (sqlite3_bind_blob(st, 1, sk, sizeof(sk), SQLITE_STATIC) == SQLITE_OK &&
	    sqlite3_bind_blob(st, 2, ek, sizeof(ek), SQLITE_STATIC) == SQLITE_OK) {
		int step = sqlite3_step(st);

		r = step == SQLITE_ROW ? 1 : step == SQLITE_DONE ? SOTTO_OK : SOTTO_ERR_DB;
	}
	sqlite3_finalize(st);
	if (r != SOTTO_OK)
		return r == 1 ? SOTTO_OK : r;
	if ((r = held_count(s, NULL, &all)) != SOTTO_OK || (r = held_count(s, sender, &mine)) != SOTTO_OK)
		return r;
	/* Anyone can send bytes that claim a sender whose reset waits: a cap per
	 * claimed sender, and one for all, bound what they can make us keep. */
	if (all >= CSTORE_MAX_HELD || mine >= CSTORE_MAX_HELD_PER_SENDER)
		return SOTTO_ERR_TOO_LARGE;
	if ((r = held_insert(s, sender, env_hash, env, env_len, wrap, wrap_len, at)) < 0)
		return r;
	/* The first held from sender: the one worth an alert. */
	*first = mine == 0 && r == SOTTO_OK;
	return SOTTO_OK;
}

int
cstore_held_each(cstore *s, const char *sender, int (*fn)(const uint8_t *env, size_t env_len,
    const uint8_t *wrap, size_t wrap_len, void *arg), void *arg)
{
	sqlite3_stmt *st = NULL;
	uint8_t row[2 * SC_SHA256], *e = NULL, *w = NULL;
	size_t el = 0, wl = 0;
	int r, step;

	if (s->keys == NULL || s->version != CSTORE_VERSION)
		return SOTTO_ERR_INTERNAL;
	held_key(s, row, "sender", sender, strlen(sender));
	if ((r = prepare(s, &st, "SELECT env_hash, envelope, wrap FROM held_messages WHERE sender = ? "
	    "ORDER BY id")) != SOTTO_OK)
		return r;
	r = SOTTO_ERR_DB;
	if (sqlite3_bind_blob(st, 1, row, SC_SHA256, SQLITE_STATIC) != SQLITE_OK)
		goto out;
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		free(e);
		free(w);
		e = w = NULL;
		/* Rows are untrusted: a row that does not open is passed over (it
		 * is dropped with the rest once its sender is trusted); contents
		 * are parsed by the envelope's bounded reader like any delivery. */
		if (sqlite3_column_bytes(st, 0) != SC_SHA256)
			continue;
		memcpy(row + SC_SHA256, sqlite3_column_blob(st, 0), SC_SHA256);
		r = unseal(s, "held_messages", "envelope", row, sizeof(row), sqlite3_column_blob(st, 1),
		    (size_t)sqlite3_column_bytes(st, 1), CSTORE_HELD_MAX_BYTES, &e, &el);
		if (r == SOTTO_OK)
			r = unseal(s, "held_messages", "wrap", row, sizeof(row), sqlite3_column_blob(st, 2),
			    (size_t)sqlite3_column_bytes(st, 2), CSTORE_HELD_MAX_BYTES, &w, &wl);
		if (r == SOTTO_ERR_NOMEM)
			goto out;
		if (r != SOTTO_OK || el == 0 || wl == 0)
			continue;
		if ((r = fn(e, el, w, wl, arg)) != 0)
			goto out;
	}
	r = step == SQLITE_DONE ? SOTTO_OK : SOTTO_ERR_DB;
out:
	sqlite3_finalize(st);
	free(e);
	free(w);
	return r;
}

int
cstore_held_count(cstore *s, const char *sender, uint64_t *n)
{
	*n = 0;
	return held_count(s, sender, n);
}

int
cstore_held_drop(cstore *s, const char *sender)
{
	sqlite3_stmt *st = NULL;
	uint8_t k[SC_SHA256];
	int r;

	if (s->keys == NULL)
		return SOTTO_ERR_INTERNAL;
	held_key(s, k, "sender", sender, strlen(sender));
	if ((r = prepare(s, &st, "DELETE FROM held_messages WHERE sender = ?")) != SOTTO_OK)
		return r;
	r = SOTTO_ERR_DB;
	if (sqlite3_bind_blob(st, 1, k, sizeof(k), SQLITE_STATIC) == SQLITE_OK && sqlite3_step(st) == SQLITE_DONE)
		r = SOTTO_OK;
	sqlite3_finalize(st);
	return r;
}

static int
alert_seal_text(cstore *s, int64_t id, const char *text)
{
	sqlite3_stmt *st = NULL;
	uint8_t row[8], *c = NULL;
	size_t clen = 0, n = strlen(text);
	int r;

	rowid_bytes(row, id);
	if ((r = seal(s, "alerts", "text", row, sizeof(row), (const uint8_t *)text,
	    n < ALERT_TEXT_MAX ? n : ALERT_TEXT_MAX, &c, &clen)) != SOTTO_OK)
		return r;
	if ((r = prepare(s, &st, "UPDATE alerts SET text = ? WHERE id = ?")) != SOTTO_OK)
		goto out;
	r = SOTTO_ERR_DB;
	if (sqlite3_bind_blob(st, 1, c, (int)clen, SQLITE_STATIC) == SQLITE_OK &&
	    sqlite3_bind_int64(st, 2, id) == SQLITE_OK && sqlite3_step(st) == SQLITE_DONE)
		r = SOTTO_OK;
out:
	sqlite3_finalize(st);
	free(c);
	return r;
}

/* The alert text of the row (columns text, id) into out (ALERT_TEXT_MAX + 1
 * bytes). A text that does not open is shown as such: one altered row must
 * not hide every alert. */
static int
alert_open_text(cstore *s, sqlite3_stmt *st, int text_col, int id_col, char *out)
{
	uint8_t row[8], *m = NULL;
	size_t n = 0;
	int r;

	rowid_bytes(row, sqlite3_column_int64(st, id_col));
	r = unseal(s, "alerts", "text", row, sizeof(row), sqlite3_column_blob(st, text_col),
	    (size_t)sqlite3_column_bytes(st, text_col), ALERT_TEXT_MAX, &m, &n);
	if (r == SOTTO_ERR_NOMEM || r == SOTTO_ERR_INTERNAL)
		return r;
	if (r != SOTTO_OK || memchr(m, '\0', n) != NULL)
		snprintf(out, ALERT_TEXT_MAX + 1, "(the text of this alert could not be read: it was "
		    "altered in the database, or sealed under another key)");
	else {
		memcpy(out, m, n);
		out[n] = '\0';
	}
	free(m);
	return SOTTO_OK;
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

/* Row id's count, time and device, and its text sealed again (to the same id). */
static int
alert_update(cstore *s, int64_t id, uint64_t count, const uint8_t *device, uint64_t at, const char *text)
{
	sqlite3_stmt *st = NULL;
	int r;

	if ((r = prepare(s, &st, "UPDATE alerts SET count = ?, at = ?, device = ? WHERE id = ?")) != SOTTO_OK)
		return r;
	r = SOTTO_ERR_DB;
	if (sqlite3_bind_int64(st, 1, (sqlite3_int64)count) == SQLITE_OK &&
	    sqlite3_bind_int64(st, 2, (sqlite3_int64)at) == SQLITE_OK &&
	    (device != NULL ? sqlite3_bind_blob(st, 3, device, SC_DEVICE_ID, SQLITE_STATIC) :
	    sqlite3_bind_null(st, 3)) == SQLITE_OK &&
	    sqlite3_bind_int64(st, 4, id) == SQLITE_OK && sqlite3_step(st) == SQLITE_DONE)
		r = SOTTO_OK;
	sqlite3_finalize(st);
	if (r == SOTTO_OK)
		r = alert_seal_text(s, id, text);
	return r;
}

/* A new row; inside the caller's transaction. */
static int
alert_insert(cstore *s, const char *kind, const char *handle, const uint8_t *device, uint64_t at,
    const char *text)
{
	sqlite3_stmt *st = NULL;
	int r;

	if ((r = prepare(s, &st, "INSERT INTO alerts(kind, handle, device, at, text) "
	    "VALUES(?, ?, ?, ?, X'')")) != SOTTO_OK)
		return r;
	r = SOTTO_ERR_DB;
	if (sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(st, 2, handle, -1, SQLITE_STATIC) != SQLITE_OK ||
	    (device != NULL ? sqlite3_bind_blob(st, 3, device, SC_DEVICE_ID, SQLITE_STATIC) :
	    sqlite3_bind_null(st, 3)) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 4, (sqlite3_int64)at) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_DONE)
		goto out;
	/* The text is sealed to the row's id, known once the row exists. */
	r = alert_seal_text(s, sqlite3_last_insert_rowid(s->db), text);
out:
	sqlite3_finalize(st);
	return r;
}

/*
 * Whoever can make this device raise alerts (a sender, a hostile server)
 * must not grow the list without end: beyond SOTTO_CLIENT_MAX_ALERTS rows the
 * oldest alert already listed makes room, and when none has been listed yet
 * the new one is counted into one row of its kind ("the list is full"), so
 * no unseen alert is ever lost without a trace. Inside a transaction.
 */
static int
alert_add(cstore *s, const char *kind, const char *handle, const uint8_t *device, uint64_t at,
    const char *text)
{
	char full[ALERT_TEXT_MAX + 1];
	uint64_t count = 0;
	int64_t id = 0, rows = 0;
	int r;

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

/* The steps of one alert, all or nothing. */
static int
alert_done(cstore *s, int r)
{
	if (r == SOTTO_OK)
		r = cstore_commit(s);
	if (r != SOTTO_OK)
		cstore_rollback(s);
	return r;
}

int
cstore_alert_add(cstore *s, const char *kind, const char *handle, const uint8_t *device,
    uint64_t at, const char *text)
{
	int r;

	if (at > INT64_MAX || strlen(text) > ALERT_TEXT_MAX - 128)
		return SOTTO_ERR_INVALID_ARG;
	if ((r = cstore_begin(s)) != SOTTO_OK)
		return r;
	return alert_done(s, alert_add(s, kind, handle, device, at, text));
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
	if ((r = cstore_begin(s)) != SOTTO_OK)
		return r;
	r = alert_group_find(s, kind, handle, &id, &count);
	if (r == SOTTO_ERR_NOT_FOUND) {
		text(t, sizeof(t) - 128, 1, arg);
		return alert_done(s, alert_add(s, kind, handle, device, at, t));
	}
	if (r == SOTTO_OK) {
		text(t, sizeof(t), count + 1, arg);
		r = alert_update(s, id, count + 1, device, at, t);
	}
	return alert_done(s, r);
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
	if ((r = prepare(s, &st, "SELECT kind, handle, device, at, text, seen, id, count FROM alerts "
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
		if ((a[n - 1].count = (uint64_t)sqlite3_column_int64(st, 7)) == 0)
			goto out;
		if ((a[n - 1].text = malloc(ALERT_TEXT_MAX + 1)) == NULL) {
			r = SOTTO_ERR_NOMEM;
			goto out;
		}
		if ((r = alert_open_text(s, st, 4, 6, a[n - 1].text)) != SOTTO_OK)
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

/* ---- migration from schema version 0 (rows in the clear) ---- */

/* One version-0 message row (columns of V0_COLUMNS) into the new table;
 * 1 if the row was not one the old reader would have shown (skipped). */
#define V0_COLUMNS "msg_id, sender, device, recipients, sent_at, body, outgoing, received_at, shown"

static int
migrate_message(cstore *s, sqlite3_stmt *st, cstore_message *m)
{
	const void *body = sqlite3_column_blob(st, 5);
	int len = sqlite3_column_bytes(st, 5), r;

	memset(m, 0, sizeof(*m));
	if (col_blob(st, 0, m->msg_id, sizeof(m->msg_id)) != SOTTO_OK ||
	    col_text(st, 1, m->from, SOTTO_MAX_HANDLE) != SOTTO_OK ||
	    col_blob(st, 2, m->device, sizeof(m->device)) != SOTTO_OK ||
	    col_text(st, 3, m->to, sizeof(m->to) - 1) != SOTTO_OK ||
	    len < 0 || (size_t)len > SOTTO_MAX_BODY || (len > 0 && body == NULL) ||
	    sqlite3_column_int64(st, 4) < 0 || sqlite3_column_int64(st, 7) < 0)
		return 1;
	m->sent_at = (uint64_t)sqlite3_column_int64(st, 4);
	m->body = len > 0 ? body : (const uint8_t *)"";
	m->body_len = (size_t)len;
	m->outgoing = sqlite3_column_int(st, 6) != 0;
	m->received_at = (uint64_t)sqlite3_column_int64(st, 7);
	m->shown = sqlite3_column_int(st, 8) != 0;
	r = message_insert(s, "messages_v1", m);
	/* Two rows of one id cannot exist (UNIQUE); a replay here is a corrupt file. */
	return r == SOTTO_ERR_REPLAY ? 1 : r;
}

static int
migrate_alerts(cstore *s, size_t *skipped)
{
	sqlite3_stmt *st = NULL;
	char *text = NULL;
	int64_t last = 0;
	int r, step;

	if ((text = malloc(ALERT_TEXT_MAX + 1)) == NULL)
		return SOTTO_ERR_NOMEM;
	/* One row at a time by id: the rows are rewritten while we walk them. */
	if ((r = prepare(s, &st, "SELECT id, text FROM alerts WHERE id > ? ORDER BY id LIMIT 1")) != SOTTO_OK)
		goto out;
	for (;;) {
		sqlite3_reset(st);
		r = SOTTO_ERR_DB;
		if (sqlite3_bind_int64(st, 1, last) != SQLITE_OK)
			goto out;
		if ((step = sqlite3_step(st)) == SQLITE_DONE)
			break;
		if (step != SQLITE_ROW)
			goto out;
		last = sqlite3_column_int64(st, 0);
		if (col_text(st, 1, text, ALERT_TEXT_MAX) != SOTTO_OK) {
			++*skipped;
			snprintf(text, ALERT_TEXT_MAX + 1, "(this alert's text was not readable before "
			    "the history was encrypted)");
		}
		if ((r = alert_seal_text(s, last, text)) != SOTTO_OK)
			goto out;
	}
	r = SOTTO_OK;
out:
	sqlite3_finalize(st);
	if (text != NULL)
		sc_wipe(text, ALERT_TEXT_MAX + 1);
	free(text);
	return r;
}

/* Version-0 held rows (sender and hash in the clear) re-inserted sealed. */
static int
migrate_held(cstore *s, size_t *skipped)
{
	sqlite3_stmt *st = NULL;
	char sender[SOTTO_MAX_HANDLE + 1];
	uint8_t h[32];
	const void *e, *w;
	int64_t last = 0;
	int r, step, el, wl;

	if ((r = exec(s, "CREATE TEMP TABLE held_v0 AS SELECT * FROM held_messages;"
	    "DELETE FROM held_messages;")) != SOTTO_OK)
		return r;
	if ((r = prepare(s, &st, "SELECT id, sender, env_hash, envelope, wrap, at FROM held_v0 "
	    "WHERE id > ? ORDER BY id LIMIT 1")) != SOTTO_OK)
		return r;
	for (;;) {
		sqlite3_reset(st);
		r = SOTTO_ERR_DB;
		if (sqlite3_bind_int64(st, 1, last) != SQLITE_OK)
			goto out;
		if ((step = sqlite3_step(st)) == SQLITE_DONE)
			break;
		if (step != SQLITE_ROW)
			goto out;
		last = sqlite3_column_int64(st, 0);
		e = sqlite3_column_blob(st, 3);
		el = sqlite3_column_bytes(st, 3);
		w = sqlite3_column_blob(st, 4);
		wl = sqlite3_column_bytes(st, 4);
		if (col_text(st, 1, sender, SOTTO_MAX_HANDLE) != SOTTO_OK || col_blob(st, 2, h, 32) != SOTTO_OK ||
		    e == NULL || w == NULL || el <= 0 || wl <= 0 || (size_t)el > CSTORE_HELD_MAX_BYTES ||
		    (size_t)wl > CSTORE_HELD_MAX_BYTES || sqlite3_column_int64(st, 5) < 0) {
			++*skipped;
			continue;
		}
		if ((r = held_insert(s, sender, h, e, (size_t)el, w, (size_t)wl,
		    (uint64_t)sqlite3_column_int64(st, 5))) < 0)
			goto out;
	}
	sqlite3_finalize(st);
	st = NULL;
	r = exec(s, "DROP TABLE temp.held_v0");
out:
	sqlite3_finalize(st);
	return r;
}

int
cstore_migrate(cstore *s, int *migrated, size_t *skipped)
{
	sqlite3_stmt *st = NULL;
	cstore_message *m = NULL;
	int r, v = 0, step;

	*migrated = 0;
	*skipped = 0;
	if (s->keys == NULL || s->depth == 0)
		return SOTTO_ERR_INTERNAL;
	/* Read again under the write lock: another process may have done it. */
	if ((r = user_version(s, &v)) != SOTTO_OK)
		return r;
	if (v == CSTORE_VERSION) {
		s->version = v;
		return SOTTO_OK;
	}
	if (v != 0)
		return SOTTO_ERR_VERSION;
	if ((m = calloc(1, sizeof(*m))) == NULL)
		return SOTTO_ERR_NOMEM;
	if ((r = exec(s, "DROP TABLE IF EXISTS messages_v1;" MESSAGES_V1("messages_v1"))) != SOTTO_OK ||
	    (r = prepare(s, &st, "SELECT " V0_COLUMNS " FROM messages ORDER BY id")) != SOTTO_OK)
		goto out;
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		if ((r = migrate_message(s, st, m)) < 0)
			goto out;
		*skipped += (size_t)r;
	}
	r = SOTTO_ERR_DB;
	if (step != SQLITE_DONE)
		goto out;
	sqlite3_finalize(st);
	st = NULL;
	if ((r = exec(s, "DROP TABLE messages; ALTER TABLE messages_v1 RENAME TO messages;")) != SOTTO_OK ||
	    (r = migrate_alerts(s, skipped)) != SOTTO_OK || (r = migrate_held(s, skipped)) != SOTTO_OK ||
	    (r = exec(s, "PRAGMA user_version = " CSTORE_VERSION_STR)) != SOTTO_OK)
		goto out;
	s->version = CSTORE_VERSION;
	*migrated = 1;
	r = SOTTO_OK;
out:
	sqlite3_finalize(st);
	if (m != NULL)
		sc_wipe(m, sizeof(*m));
	free(m);
	return r;
}

int
cstore_scrub(cstore *s)
{
	/* The pages the plaintext rows lived in were zeroed (secure_delete) in
	 * the WAL; VACUUM rewrites the file without them and the checkpoint
	 * empties the WAL, so neither file keeps an old copy. */
	if (s->depth != 0)
		return SOTTO_ERR_INTERNAL;
	return exec(s, "VACUUM; PRAGMA wal_checkpoint(TRUNCATE);");
}
