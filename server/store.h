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

#include "caps.h"
#include "crypto.h"
#include "devicelist.h"
#include "invite.h"

#define STORE_MSG_ID_LEN 16
#define STORE_RDV_ID_LEN 16	/* linking rendezvous id */
#define STORE_RDV_OWNER_LEN 16	/* who posted an entry: a keyed hash of its address (link.c) */
/* list_recent's widest count: a recovery's budget is twice the publish cap
 * (directory.c dir_publish_room), and the cap is at most SOTTO_MAX_LIST_HISTORY. */
#define STORE_LIST_RECENT_MAX (2 * SOTTO_MAX_LIST_HISTORY)
/* Workers of one node sharing a SQLite store (see store_wakegroup). */
#define STORE_MAX_WORKERS 64

/*
 * Wake-ups: what one process committed that another must act on at once. A
 * worker announces them inside the transaction that made the change; they
 * reach every other worker of this node and every other node on the same
 * backend only if that transaction commits, and never come back to the
 * announcing store itself. Delivery is best effort (a full queue drops them):
 * clients still fetch on connect, so a lost wake-up delays, never loses, data.
 */
enum store_wake_kind {
	STORE_WAKE_COPY = 1,	/* a copy was queued: device_id, seq */
	STORE_WAKE_LIST = 2,	/* a device list was published: handle, version */
	/* SQLite's pipes only (server/early.c): */
	STORE_WAKE_EARLY_COPY = 3,	/* a copy pushed before its commit was committed */
	STORE_WAKE_DELIVER = 4,		/* push this copy now (not committed yet): all fields */
};

typedef struct store_wake {
	enum store_wake_kind kind;
	uint8_t device_id[SC_DEVICE_ID];
	uint64_t seq;
	char handle[SOTTO_MAX_HANDLE + 1];
	uint64_t version;
	/* DELIVER: the copy itself, borrowed for the callback. */
	uint64_t stored_at;
	const uint8_t *envelope;
	size_t envelope_len;
	const uint8_t *wrap;
	size_t wrap_len;
} store_wake;

/* Called once per wake-up by wake_drain; w is borrowed for the call. */
typedef void (*store_wake_fn)(void *arg, const store_wake *w);

/* Copy of a message for one device. Blobs owned by whoever filled the struct:
 * from copy_fetch they are owned by the array (store_copies_free). */
typedef struct store_copy {
	uint64_t seq;				/* > 0; copy_add: 0 = the store assigns it */
	uint8_t device_id[SC_DEVICE_ID];
	uint8_t msg_id[STORE_MSG_ID_LEN];
	uint8_t *envelope;
	size_t envelope_len;
	uint8_t *wrap;
	size_t wrap_len;
	uint64_t stored_at;
	uint64_t expires_at;
	/* copy_add only (fetch and get leave it empty): the sending account,
	 * whose mailbox share and stored-bytes quota the copy counts against. */
	char sender[SOTTO_MAX_HANDLE + 1];
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
	 * version is already stored. A device id belongs to one account at a time:
	 * SOTTO_ERR_DEVICE_TAKEN if another handle's current devices hold one of
	 * l's (a uniqueness constraint, so of two transactions adding the same id
	 * for different handles at most one commits; the caller rolls back).
	 * now: when it was published (list_recent). */
	int (*list_add)(store *s, const dl_list *l, const uint8_t *signed_list, size_t len, uint64_t now);
	/* *count: how many of handle's newest max (1..STORE_LIST_RECENT_MAX)
	 * versions were published after since (versions stored before the
	 * time was kept count as published at 0). */
	int (*list_recent)(store *s, const char *handle, uint64_t since, uint64_t max, uint64_t *count);
	/* The newest version. *list: caller frees. SOTTO_ERR_NOT_FOUND. */
	int (*list_current)(store *s, const char *handle, uint8_t **list, size_t *len,
	    uint64_t *version);
	/* Versions > since, oldest first, at most max_count of them and (beyond the
	 * first) at most max_bytes in total; *more when some were left out.
	 * *out: array of *n blobs, caller frees with store_blobs_free. */
	int (*list_history)(store *s, const char *handle, uint64_t since, size_t max_count,
	    size_t max_bytes, store_blob **out, size_t *n, int *more);

	/* Device ownership. device_owner: the handle whose devices row holds
	 * device_id (handle_out: at most SOTTO_MAX_HANDLE bytes and a NUL), or
	 * SOTTO_ERR_NOT_FOUND. device_reclaim: if from holds device_id, make it
	 * to's and move from's queue of it to to (*moved: the copies moved), one
	 * conditional write each, so of two reclaims at once the second moves
	 * nothing; SOTTO_ERR_NOT_FOUND (nothing written) if from does not hold
	 * it. Only inside a transaction. Only for a row an earlier server let
	 * from take from to (dir_auth: to's device authenticated as to). */
	int (*device_owner)(store *s, const uint8_t device_id[SC_DEVICE_ID],
	    char handle_out[SOTTO_MAX_HANDLE + 1]);
	int (*device_reclaim)(store *s, const uint8_t device_id[SC_DEVICE_ID], const char *from,
	    const char *to, size_t *moved);

	/* Invites: only SHA-256(secret) is stored. invite_take marks used the unused
	 * invite for handle whose hash equals hash (constant-time comparison) and
	 * that was created after now - max_age_ms; SOTTO_ERR_INVITE otherwise. */
	int (*invite_add)(store *s, const uint8_t hash[SC_SHA256], const char *handle, uint64_t now);
	int (*invite_take)(store *s, const uint8_t hash[SC_SHA256], const char *handle, uint64_t now,
	    uint64_t max_age_ms);

	/* Mailbox. A queue is (account, device_id): account is the handle whose
	 * list named the device when the copy was queued. Every operation but the
	 * sweep and the total names both, so nothing one account does (even
	 * listing another's device id) reaches a queue of another account.
	 * copy_add: *seq = the new seq, or 0 if (device_id, msg_id) is
	 * already queued (idempotent retry). c->seq != 0 asks for that seq (SQLite
	 * only, for early delivery; PostgreSQL: SOTTO_ERR_INVALID_ARG). */
	int (*copy_add)(store *s, const char *account, const store_copy *c, uint64_t *seq);
	/* Unexpired copies queued for (account, device). */
	int (*copy_count)(store *s, const char *account, const uint8_t device_id[SC_DEVICE_ID],
	    uint64_t now, uint64_t *count);
	/* Oldest unexpired copies of (account, device), at most max and (beyond the
	 * first) at most max_bytes of envelopes and wraps; *more if others remain.
	 * *out: caller frees with store_copies_free. */
	int (*copy_fetch)(store *s, const char *account, const uint8_t device_id[SC_DEVICE_ID],
	    uint64_t now, size_t max, size_t max_bytes, store_copy **out, size_t *n, int *more);
	/* Delete the listed seqs that belong to (account, device); others are ignored. */
	int (*copy_ack)(store *s, const char *account, const uint8_t device_id[SC_DEVICE_ID],
	    const uint64_t *seqs, size_t n, size_t *deleted);
	/* Delete at most max copies with expires_at <= now, the longest expired
	 * first (*deleted < max: none is left). */
	int (*copy_sweep)(store *s, uint64_t now, size_t max, size_t *deleted);
	/* Copy seq of (account, device) if still queued and unexpired at now (a
	 * wake-up names it). *out: caller frees with store_copies_free(*out, 1).
	 * SOTTO_ERR_NOT_FOUND. */
	int (*copy_get)(store *s, const char *account, const uint8_t device_id[SC_DEVICE_ID],
	    uint64_t seq, uint64_t now, store_copy **out);
	/* Every stored copy, expired or not (for metrics: one count query). */
	int (*copy_total)(store *s, uint64_t *count);
	/* Delete every copy queued for (account, device) (no longer in account's list). */
	int (*copy_purge)(store *s, const char *account, const uint8_t device_id[SC_DEVICE_ID],
	    size_t *deleted);

	/* Sender shares and quotas (docs/OPERATIONS.md "Limits"). Every copy row
	 * holds its sender account and its size (envelope + wrap bytes), and
	 * the store keeps per sender the bytes and copies still stored, over
	 * all recipients, expired but not yet swept included, as every insert
	 * and delete of a copy changes them (whichever op does it).
	 * copy_count_sender: unexpired copies queued for device from sender.
	 * usage_get: sender's stored bytes and copies, this transaction's own
	 * writes included (0, 0 for a sender with none).
	 * usage_total: stored bytes of every copy (for metrics). */
	int (*copy_count_sender)(store *s, const uint8_t device_id[SC_DEVICE_ID], const char *sender,
	    uint64_t now, uint64_t *count);
	int (*usage_get)(store *s, const char *sender, uint64_t *bytes, uint64_t *copies);
	int (*usage_total)(store *s, uint64_t *bytes);

	/* Linking rendezvous (docs/PROTOCOL.md "Linking a device"): at most one blob
	 * per (id, slot), each single use and alive until expires_at. The backend
	 * stores them, never this process's memory: any worker or node may serve
	 * the next request of the same rendezvous.
	 * rdv_put: first deletes every entry with expires_at <= now; then
	 * SOTTO_ERR_RATE_LIMITED if max_per_owner of the remaining entries are
	 * owner's or max_live entries remain (so no one owner fills the table
	 * for the others), SOTTO_ERR_EXISTS if
	 * (id, slot) is still stored (used or not), else stores the blob
	 * (len 1..SOTTO_MAX_LINK_BLOB, else SOTTO_ERR_TOO_LARGE).
	 * rdv_take: the blob of (id, slot) if stored, unused and expires_at > now
	 * (*blob: caller frees), else SOTTO_ERR_NOT_FOUND; consume = 1 also marks
	 * it used (then only inside a transaction), so no later take sees it.
	 * rdv_extend: moves expires_at of (id, slot) if stored, unused and
	 * expires_at > now, else SOTTO_ERR_NOT_FOUND (a link offer lives only while
	 * its new device keeps asking for the answer). */
	int (*rdv_put)(store *s, const uint8_t id[STORE_RDV_ID_LEN], uint32_t slot,
	    const uint8_t *blob, size_t len, uint64_t now, uint64_t expires_at, uint64_t max_live,
	    const uint8_t owner[STORE_RDV_OWNER_LEN], uint64_t max_per_owner);
	int (*rdv_take)(store *s, const uint8_t id[STORE_RDV_ID_LEN], uint32_t slot, uint64_t now,
	    int consume, uint8_t **blob, size_t *len);
	int (*rdv_extend)(store *s, const uint8_t id[STORE_RDV_ID_LEN], uint32_t slot, uint64_t now,
	    uint64_t expires_at);

	/* Wake-ups (see store_wake). announce: only inside a transaction; dropped
	 * by rollback(). wake_fd: a descriptor that turns readable when wake-ups
	 * from others may be waiting, or -1 when this store has no wake-up path
	 * (borrowed: never close it; valid until close()). wake_drain: hand every
	 * waiting wake-up to fn; io = 0 only looks at what is already buffered in
	 * the process (no system call: cheap after every event-loop turn), io = 1
	 * also reads the descriptor. Returns SOTTO_OK, or SOTTO_ERR_DB when the
	 * path broke (the caller should restart). */
	int (*announce)(store *s, const store_wake *w);
	int (*wake_fd)(store *s);
	int (*wake_drain)(store *s, int io, store_wake_fn fn, void *arg);
} store_ops;

struct store {
	const store_ops *ops;
};

/* Open (creating if missing) the SQLite store at path. *out: close with
 * (*out)->ops->close. SOTTO_ERR_DB. */
int store_sqlite_open(store **out, const char *path) __attribute__((warn_unused_result));

/* Open the PostgreSQL store at conninfo (a URL or "key=value" string),
 * creating the tables if missing, and LISTEN for wake-ups from every other
 * store on the same database. SOTTO_ERR_DB (also when unreachable). */
int store_pg_open(store **out, const char *conninfo) __attribute__((warn_unused_result));

/* A worker's second PostgreSQL store, writer, commits its mailbox batches
 * (committer.c): it stops listening, and listener takes what writer announces
 * for its own (the worker pushes those copies itself), like its own. */
int store_pg_pair(store *listener, store *writer) __attribute__((warn_unused_result));

/*
 * SQLite's wake-up path between the workers of one node: one pipe per worker,
 * made by the supervisor before it forks and inherited by every worker. A
 * worker reads its own pipe and writes every other one; a record is written
 * in one write() of at most PIPE_BUF bytes, so writers never interleave.
 */
typedef struct store_wakegroup {
	size_t n;
	int rd[STORE_MAX_WORKERS];
	int wr[STORE_MAX_WORKERS];
} store_wakegroup;

/* n pipes (1..STORE_MAX_WORKERS), non-blocking, close-on-exec. SOTTO_ERR_IO. */
int store_wakegroup_make(store_wakegroup *g, size_t n) __attribute__((warn_unused_result));
/* Closes every descriptor; accepts a zeroed group. */
void store_wakegroup_close(store_wakegroup *g);
/* Join s (a SQLite store) to g as worker self: from then on it announces to the
 * others and reads wake-ups from rd[self]. g is borrowed until s is closed.
 * SOTTO_ERR_INVALID_ARG. */
int store_sqlite_join(store *s, const store_wakegroup *g, size_t self)
    __attribute__((warn_unused_result));

/* The highest seq a SQLite store ever gave a copy (AUTOINCREMENT's record). */
int store_sqlite_seq_high(store *s, uint64_t *high) __attribute__((warn_unused_result));
/* Queue w (DELIVER) for the other workers in the bit mask members; written by
 * store_sqlite_deliver_flush or when a queue fills. SOTTO_ERR_TOO_LARGE: a
 * copy too big for one pipe write (it goes by the commit's wake-up instead). */
int store_sqlite_deliver(store *s, const store_wake *w, uint64_t members)
    __attribute__((warn_unused_result));
/* From now on a copy's wake-ups go only to the workers route(arg, device)
 * names (bit i: worker i); lists still go to all. Called from any thread. */
int store_sqlite_route(store *s, uint64_t (*route)(void *arg, const uint8_t device_id[SC_DEVICE_ID]),
    void *arg) __attribute__((warn_unused_result));
void store_sqlite_deliver_flush(store *s);

void store_blobs_free(store_blob *b, size_t n);
void store_copies_free(store_copy *c, size_t n);

#endif
