/* SPDX-License-Identifier: ISC */
/*
 * sottod's storage interface. directory.c, mailbox.c and session.c see only
 * this: a store is a table of operations (store_ops) over an opaque backend.
 * store_sqlite.c implements it on SQLite (WAL, synchronous=FULL); a PostgreSQL
 * backend implements the same table. No SQL or backend type appears above it.
 *
 * Conventions: functions return SOTTO_OK or a negative sotto_err (SOTTO_ERR_DB
 * for backend failures, SOTTO_ERR_NOT_FOUND when the item does not exist).
 * Times are ms since the Unix epoch. Blobs read back from storage are
 * untrusted: the backend checks their lengths against the caps, callers parse
 * signed lists with dl_parse. Every write happens inside begin()/commit() (or
 * rollback()); reads may happen outside a transaction. A failed commit leaves
 * nothing written.
 */
#ifndef SOTTOD_STORE_H
#define SOTTOD_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "crypto.h"
#include "devicelist.h"
#include "invite.h"

#define STORE_MSG_ID_LEN 16

/* Copy of a message for one device. Blobs owned by whoever filled the struct:
 * from copy_fetch they are owned by the array (store_copies_free). */
typedef struct store_copy {
	uint64_t seq;				/* assigned by the store, > 0 */
	uint8_t device_id[SC_DEVICE_ID];
	uint8_t msg_id[STORE_MSG_ID_LEN];
	uint8_t *envelope;
	size_t envelope_len;
	uint8_t *wrap;
	size_t wrap_len;
	uint64_t stored_at;
	uint64_t expires_at;
} store_copy;

typedef struct store_blob {
	uint8_t *p;	/* owned; free() */
	size_t len;
} store_blob;

typedef struct store store;

typedef struct store_ops {
	const char *name;
	/* Closes and frees; accepts NULL. An open transaction is rolled back. */
	void (*close)(store *s);

	int (*begin)(store *s);
	int (*commit)(store *s);
	void (*rollback)(store *s);
	/* Nested all-or-nothing steps inside a transaction (SQL savepoints):
	 * mark() opens one, release() keeps its writes, undo() discards them. */
	int (*mark)(store *s);
	int (*release)(store *s);
	void (*undo)(store *s);

	/* Directory. account_exists: 1 yes, 0 no, or an error. */
	int (*account_exists)(store *s, const char *handle);
	/* SOTTO_ERR_HANDLE_TAKEN if it exists. */
	int (*account_add)(store *s, const char *handle, const uint8_t account_pub[SC_SIGN_PUB],
	    uint64_t now);
	/* Store a signed list (parsed into l) as version l->version of l->handle, and
	 * make its devices the handle's current devices. SOTTO_ERR_EXISTS if that
	 * version is already stored. */
	int (*list_add)(store *s, const dl_list *l, const uint8_t *signed_list, size_t len);
	/* The newest version. *list: caller frees. SOTTO_ERR_NOT_FOUND. */
	int (*list_current)(store *s, const char *handle, uint8_t **list, size_t *len,
	    uint64_t *version);
	/* Versions > since, oldest first, at most max_count of them and (beyond the
	 * first) at most max_bytes in total; *more when some were left out.
	 * *out: array of *n blobs, caller frees with store_blobs_free. */
	int (*list_history)(store *s, const char *handle, uint64_t since, size_t max_count,
	    size_t max_bytes, store_blob **out, size_t *n, int *more);

	/* Invites: only SHA-256(secret) is stored. invite_take marks used the unused
	 * invite for handle whose hash equals hash (constant-time comparison) and
	 * that was created after now - max_age_ms; SOTTO_ERR_INVITE otherwise. */
	int (*invite_add)(store *s, const uint8_t hash[SC_SHA256], const char *handle, uint64_t now);
	int (*invite_take)(store *s, const uint8_t hash[SC_SHA256], const char *handle, uint64_t now,
	    uint64_t max_age_ms);

	/* Mailbox. copy_add: *seq = the new seq, or 0 if (device_id, msg_id) is
	 * already queued (idempotent retry). */
	int (*copy_add)(store *s, const store_copy *c, uint64_t *seq);
	/* Unexpired copies queued for device. */
	int (*copy_count)(store *s, const uint8_t device_id[SC_DEVICE_ID], uint64_t now,
	    uint64_t *count);
	/* Oldest unexpired copies of device, at most max and (beyond the first) at
	 * most max_bytes of envelopes and wraps; *more if others remain.
	 * *out: caller frees with store_copies_free. */
	int (*copy_fetch)(store *s, const uint8_t device_id[SC_DEVICE_ID], uint64_t now, size_t max,
	    size_t max_bytes, store_copy **out, size_t *n, int *more);
	/* Delete the listed seqs that belong to device; others are ignored. */
	int (*copy_ack)(store *s, const uint8_t device_id[SC_DEVICE_ID], const uint64_t *seqs,
	    size_t n, size_t *deleted);
	/* Delete every copy with expires_at <= now. */
	int (*copy_sweep)(store *s, uint64_t now, size_t *deleted);
} store_ops;

struct store {
	const store_ops *ops;
};

/* Open (creating if missing) the SQLite store at path. *out: close with
 * (*out)->ops->close. SOTTO_ERR_DB. */
int store_sqlite_open(store **out, const char *path) __attribute__((warn_unused_result));

void store_blobs_free(store_blob *b, size_t n);
void store_copies_free(store_copy *c, size_t n);

#endif
