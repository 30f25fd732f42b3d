/* SPDX-License-Identifier: ISC */
/*
 * libsotto client internals shared by lib/client_*.c: the client object, the
 * device's SQLite store (client_store.c), the server connection
 * (client_conn.c) and device-list verification (client_lists.c). Not public:
 * programs use sotto/sotto.h.
 */
#ifndef SOTTO_CLIENT_H
#define SOTTO_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "caps.h"
#include "crypto.h"
#include "devicelist.h"
#include "envelope.h"
#include "sotto/sotto.h"
#include "tls.h"
#include "wire.h"

#define CLIENT_DB_NAME "sotto.db"
#define CLIENT_KEY_NAME "device.key"
/* device.key holds the Ed25519 secret key, the X25519 secret key, then the
 * history key (CSTORE_HISTORY_KEY). A key file of homes made before history was
 * encrypted (and of link and recover, which leave it to the first open) ends
 * after the X25519 key: sotto_open adds the history key. */
#define CLIENT_KEYS_LEN (SC_SIGN_SEC + SC_KX_SEC)
#define CLIENT_SECRETS_LEN (CLIENT_KEYS_LEN + CSTORE_HISTORY_KEY)
#define CLIENT_TIMEOUT_MS 15000

/* ---- store (client_store.c) ---- */

typedef struct cstore cstore;

/* The device's own identity, one row set in config. */
typedef struct cstore_config {
	char address[SOTTO_MAX_ADDRESS + 1];
	uint8_t pin[TLS_PIN_LEN];
	char handle[SOTTO_MAX_HANDLE + 1];
	uint8_t device_id[SC_DEVICE_ID];
	uint8_t account_pub[SC_SIGN_PUB];
} cstore_config;

#define CONTACT_NORMAL 0
#define CONTACT_RESET_PENDING 1

typedef struct cstore_contact {
	char handle[SOTTO_MAX_HANDLE + 1];
	uint8_t account_pub[SC_SIGN_PUB];
	int verified;
	int verified_lost;	/* not verified: the identity verified before was replaced by a trust */
	int state;		/* CONTACT_* */
} cstore_contact;

/* A stored message; strings and body owned by the caller of cstore_message_*. */
typedef struct cstore_message {
	uint8_t msg_id[16];
	char from[SOTTO_MAX_HANDLE + 1];
	uint8_t device[SC_DEVICE_ID];
	char to[SOTTO_MAX_RECIPIENTS * (SOTTO_MAX_HANDLE + 1)];	/* comma separated */
	uint64_t sent_at;
	const uint8_t *body;	/* borrowed for cstore_message_add */
	size_t body_len;
	int outgoing;
	uint64_t received_at;
	int shown;		/* handed to the application (receive callback) */
} cstore_message;

/* Open (create = 1: create, mode 0600, schema) the store at path. *out: caller
 * frees with cstore_close. SOTTO_ERR_NOT_FOUND if !create and it does not exist,
 * SOTTO_ERR_VERSION if a newer sotto made it. Messages and alert texts are
 * read and written only after cstore_unlock (SOTTO_ERR_INTERNAL before). */
int cstore_open(cstore **out, const char *path, int create) __attribute__((warn_unused_result));
void cstore_close(cstore *s);

/* Schema version (PRAGMA user_version). 0: a home made before history was
 * encrypted at rest, its messages and alert texts in the clear. 1: they are
 * sealed (XChaCha20-Poly1305, random nonce, associated data naming table,
 * column and row) under keys derived from the history key in device.key. */
#define CSTORE_VERSION 1
#define CSTORE_VERSION_STR "1"
#define CSTORE_HISTORY_KEY 32
/* The version the store had when opened (or reached by cstore_migrate). */
int cstore_version(const cstore *s);
/* Derive the sealing keys from the device's history key (copied: the caller
 * wipes its own). The first unlock stores a check value; a later one with
 * another key is SOTTO_ERR_DECRYPT (the key file is not this history's). */
int cstore_unlock(cstore *s, const uint8_t history_key[static CSTORE_HISTORY_KEY])
    __attribute__((warn_unused_result));
/* Inside a transaction, after cstore_unlock: bring a version-0 store to
 * CSTORE_VERSION, sealing every message and alert text; *migrated 1 if rows
 * were converted now (then call cstore_scrub after the commit), *skipped the
 * rows the old reader would have refused too (left out, or for an alert its
 * text replaced by a note). Nothing to do at CSTORE_VERSION. */
int cstore_migrate(cstore *s, int *migrated, size_t *skipped) __attribute__((warn_unused_result));
/* Outside a transaction: rewrite the file and empty the WAL so that no copy of
 * a page from before the migration remains in either. */
int cstore_scrub(cstore *s) __attribute__((warn_unused_result));
/* How many rows the last cstore_messages_* walk skipped because they did not
 * open or parse (altered, moved to another row, sealed under another key),
 * and the id of the first (*first_row; may be NULL). */
size_t cstore_skipped(const cstore *s, int64_t *first_row);

/* Transactions nest: the outermost begin opens a write transaction, inner
 * ones are savepoints. An inner commit is durable only when the outermost one
 * commits; a rollback undoes its own level. Every begin that succeeded is
 * ended by exactly one commit that succeeded or one rollback (also after a
 * failed commit). SOTTO_ERR_DB if SQLite ended the transaction on its own (a
 * full disk, an I/O error): the caller rolls back. */
int cstore_begin(cstore *s) __attribute__((warn_unused_result));
int cstore_commit(cstore *s) __attribute__((warn_unused_result));
void cstore_rollback(cstore *s);

int cstore_config_set(cstore *s, const cstore_config *cfg) __attribute__((warn_unused_result));
int cstore_config_get(cstore *s, cstore_config *cfg) __attribute__((warn_unused_result));

/* A number kept with the config under key (not one of cstore_config's keys).
 * cstore_u64_get: SOTTO_ERR_NOT_FOUND if never set. */
int cstore_u64_set(cstore *s, const char *key, uint64_t v) __attribute__((warn_unused_result));
int cstore_u64_get(cstore *s, const char *key, uint64_t *v) __attribute__((warn_unused_result));

/* SOTTO_ERR_NOT_FOUND if handle is unknown. */
int cstore_contact_get(cstore *s, const char *handle, cstore_contact *c) __attribute__((warn_unused_result));
/* Insert or replace. */
int cstore_contact_put(cstore *s, const cstore_contact *c) __attribute__((warn_unused_result));
/* Forget the contact and its device-list history. */
int cstore_contact_forget(cstore *s, const char *handle) __attribute__((warn_unused_result));

/* Append a verified signed list (version taken from the caller's parse). */
int cstore_list_add(cstore *s, const char *handle, uint64_t version, const uint8_t *p,
    size_t n) __attribute__((warn_unused_result));
/* The latest verified list of handle, re-parsed (and checked against handle):
 * *bytes caller frees with free(). SOTTO_ERR_NOT_FOUND if none. */
int cstore_list_latest(cstore *s, const char *handle, dl_list *l, uint8_t **bytes,
    size_t *n) __attribute__((warn_unused_result));
/* A given version, as cstore_list_latest. */
int cstore_list_get(cstore *s, const char *handle, uint64_t version, dl_list *l,
    uint8_t **bytes, size_t *n) __attribute__((warn_unused_result));

/* Store a message unless its id is known: SOTTO_OK, or SOTTO_ERR_REPLAY. */
int cstore_message_add(cstore *s, const cstore_message *m) __attribute__((warn_unused_result));
/* Hand one stored message to an application callback (receive's catch-up and
 * history share it); returns what cb returns. */
int client_show_stored(const cstore_message *sm, sotto_message_cb cb, void *arg);

/* Add a warning line (sotto_warnings) if the last messages walk skipped rows
 * it could not open (client_history.c). */
void client_warn_skipped(sotto_client *c);

/* Mark a stored message as handed to the application. */
int cstore_message_mark_shown(cstore *s, const uint8_t msg_id[static 16]) __attribute__((warn_unused_result));
/* Call fn for each stored message not yet shown, oldest first (a receive that
 * died after storing but before showing). m and its body are borrowed for the
 * call; a non-zero return from fn stops the walk and is returned. */
int cstore_messages_unshown(cstore *s, int (*fn)(const cstore_message *m, void *arg), void *arg)
    __attribute__((warn_unused_result));
/* Call fn for every stored message (handle not NULL: those from handle or
 * naming it among the recipients), oldest stored first; as
 * cstore_messages_unshown otherwise. */
int cstore_messages_all(cstore *s, const char *handle, int (*fn)(const cstore_message *m, void *arg),
    void *arg) __attribute__((warn_unused_result));
/* 1 if a message with that id is stored, 0 if not, negative on error. */
int cstore_message_seen(cstore *s, const uint8_t msg_id[static 16]);

/* Messages held while their sender's identity reset waits for `trust`: kept
 * as delivered (envelope and wrap), acknowledged to the server, opened again
 * once the sender is trusted. cstore_held_add: an envelope (by its SHA-256)
 * already held from sender is not stored twice; SOTTO_ERR_TOO_LARGE once CSTORE_MAX_HELD are
 * held, or CSTORE_MAX_HELD_PER_SENDER from sender (anyone can send bytes that
 * claim a sender: they must not fill the disk); *first: 1 if it is the first
 * held from sender (alert once per sender, not once per message).
 * cstore_held_each: fn for each of sender's, oldest first (bytes borrowed for
 * the call; a non-zero return stops the walk and is returned).
 * cstore_held_drop: forget all of sender's. */
#define CSTORE_HELD_MAX_BYTES SOTTO_MAX_ENVELOPE
#define CSTORE_MAX_HELD 1000
#define CSTORE_MAX_HELD_PER_SENDER 100
int cstore_held_add(cstore *s, const char *sender, const uint8_t env_hash[static 32], const uint8_t *env,
    size_t env_len, const uint8_t *wrap, size_t wrap_len, uint64_t at, int *first)
    __attribute__((warn_unused_result));
int cstore_held_each(cstore *s, const char *sender, int (*fn)(const uint8_t *env, size_t env_len,
    const uint8_t *wrap, size_t wrap_len, void *arg), void *arg) __attribute__((warn_unused_result));
int cstore_held_drop(cstore *s, const char *sender) __attribute__((warn_unused_result));
/* How many are held from sender. */
int cstore_held_count(cstore *s, const char *sender, uint64_t *n) __attribute__((warn_unused_result));

/* Record an alert; device may be NULL. The list holds SOTTO_CLIENT_MAX_ALERTS
 * rows: beyond that the oldest seen alert is deleted, or, if every one is
 * unseen, the alert is counted into one row per kind (handle "") that says the
 * list is full. SOTTO_ERR_INVALID_ARG: text longer than 3968 bytes. */
int cstore_alert_add(cstore *s, const char *kind, const char *handle, const uint8_t *device,
    uint64_t at, const char *text) __attribute__((warn_unused_result));
/* Alerts grouped per kind and handle: an unseen alert of kind about handle
 * counts one more (its text made again by text for the new count, its time
 * and device the latest), else a new one is added as cstore_alert_add does.
 * text writes at most max bytes (NUL included) into out. */
typedef void (*cstore_alert_text_fn)(char *out, size_t max, uint64_t count, void *arg);
int cstore_alert_group(cstore *s, const char *kind, const char *handle, const uint8_t *device,
    uint64_t at, cstore_alert_text_fn text, void *arg) __attribute__((warn_unused_result));
/* Every alert, oldest first, then mark all seen. See sotto_alerts. */
int cstore_alerts(cstore *s, sotto_alert **out, size_t *n) __attribute__((warn_unused_result));

/* ---- connection (client_conn.c) over a transport (client_transport.c) ---- */

typedef struct conn conn;
typedef struct ctransport ctransport;

/* The transport: TLS 1.3 to address, accepting only a server key whose SPKI
 * hash is pin, one WebSocket. Each complete binary message it receives goes to
 * conn_frame_in(owner, ...); a non-zero return closes it. Tests replace this
 * file at link time (tests/unit/fake_server.c). ctransport_open: *out freed
 * with ctransport_close (accepts NULL). ctransport_send: f borrowed for the
 * call. ctransport_service: waits up to timeout_ms for traffic and handles it;
 * the transport's first error (sticky): SOTTO_ERR_PIN, SOTTO_ERR_TLS,
 * SOTTO_ERR_NETWORK, SOTTO_ERR_PROTOCOL. */
int ctransport_open(ctransport **out, conn *owner, const char *address,
    const uint8_t pin[static TLS_PIN_LEN]) __attribute__((warn_unused_result));
void ctransport_close(ctransport *t);
int ctransport_send(ctransport *t, const wire_frame *f) __attribute__((warn_unused_result));
int ctransport_service(ctransport *t, int timeout_ms);
/* One message from the server (n bytes, borrowed): decoded and kept within
 * the caps of caps.h (SOTTO_CLIENT_MAX_PUSHES...), or dropped. */
int conn_frame_in(conn *c, const uint8_t *p, size_t n);

/* CLOCK_MONOTONIC in ms: what deadlines are measured in. */
int64_t client_mono_ms(void);

/* Connect to address ("HOST:PORT") over TLS 1.3, accepting only a server key
 * whose SPKI hash is pin, open the WebSocket and read the server's Challenge.
 * SOTTO_ERR_PIN, SOTTO_ERR_TLS, SOTTO_ERR_NETWORK, SOTTO_ERR_TIMEOUT,
 * SOTTO_ERR_PROTOCOL. *out: caller frees with conn_close. */
int conn_open(conn **out, const char *address, const uint8_t pin[static TLS_PIN_LEN])
    __attribute__((warn_unused_result));
/* As conn_open, with conn_set_deadline(deadline) from the start (the
 * handshake included). */
int conn_open_until(conn **out, const char *address, const uint8_t pin[static TLS_PIN_LEN],
    int64_t deadline) __attribute__((warn_unused_result));
void conn_close(conn *c);
/* The challenge nonce (WIRE_NONCE_LEN bytes), borrowed from c. */
const uint8_t *conn_nonce(const conn *c);
/* Send req (its id is set here) and wait for the Response with that id.
 * Pushes received meanwhile are queued. *resp: caller frees with wire_free;
 * returned only when its status is OK, else the mapped error (and *resp is
 * still returned so the caller can read the details). */
int conn_request(conn *c, wire_frame *req, wire_frame **resp) __attribute__((warn_unused_result));
/* Next queued push (Delivery, DeviceListChanged), waiting up to timeout_ms
 * (0: do not wait). SOTTO_ERR_TIMEOUT if none. *f: caller frees with wire_free. */
int conn_next_push(conn *c, int timeout_ms, wire_frame **f) __attribute__((warn_unused_result));
/* Every later wait on c ends by deadline (client_mono_ms), however long it
 * would wait otherwise; 0: no deadline but each call's own. */
void conn_set_deadline(conn *c, int64_t deadline);
/* 1 if a push was dropped (queue full) since the last call: copies pushed may
 * be waiting in the server's queue. */
int conn_pushes_dropped(conn *c);

/* ---- the client object ---- */

struct sotto_client {
	char *home;
	cstore *st;
	cstore_config cfg;
	char device_hex[SC_DEVICE_ID * 2 + 1];
	uint8_t *keys;		/* CLIENT_SECRETS_LEN bytes, sc_secure_alloc */
	conn *cn;		/* NULL until the first network call */
	char detail[256];
	char reset_why[160];	/* why the last identity reset was raised */
	char warnings[2048];	/* sotto_warnings: lines raised by the current call */
	uint64_t dir_alert_ms;	/* directory_unreachable after this long without a check */
	int64_t deadline;	/* client_mono_ms by which every wait ends (a receive); 0: none */
};

/* Default of sotto_client.dir_alert_ms: a day. */
#define CLIENT_DIR_ALERT_MS (24ULL * 3600 * 1000)

#define CLIENT_SIGN_SEC(c) ((c)->keys)
#define CLIENT_ENC_SEC(c) ((c)->keys + SC_SIGN_SEC)
#define CLIENT_HISTORY_KEY(c) ((c)->keys + CLIENT_KEYS_LEN)

uint64_t client_now_ms(void);
/* 1 for the errors worth another try: the network or the server's load
 * (NETWORK, TIMEOUT, TLS, RATE_LIMITED, SERVER). */
int client_err_transient(int err);
void client_set_detail(sotto_client *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Connect and authenticate if not yet done. */
int client_connect(sotto_client *c) __attribute__((warn_unused_result));
/* Drop the connection after an error so the next call reconnects. */
void client_disconnect(sotto_client *c);

/* ---- alerts and the directory watch (client_watch.c) ---- */

/* Record an alert (device may be NULL) and, if warn is not NULL, add it as a
 * line to c->warnings for the program to show now. */
int client_alert(sotto_client *c, const char *kind, const char *handle, const uint8_t *device,
    const char *text, const char *warn) __attribute__((warn_unused_result));
void client_warnings_clear(sotto_client *c);
/* My own device list was checked with the server just now. */
void client_directory_ok(sotto_client *c);
/* The directory could not be reached or did not answer (err): records
 * directory_unreachable once per outage if the last good check is older than
 * c->dir_alert_ms. Only network-like errors count; others are ignored. */
void client_directory_failed(sotto_client *c, int err);

/* ---- device lists (client_lists.c) ---- */

/* Bring the verified device list of handle up to date with the server and
 * return the latest (*bytes may be NULL; else caller frees with free()).
 * SOTTO_ERR_NO_SUCH_HANDLE, SOTTO_ERR_IDENTITY_RESET (alert recorded). */
int client_list_refresh(sotto_client *c, const char *handle, dl_list *out, uint8_t **bytes,
    size_t *n) __attribute__((warn_unused_result));

/* As client_list_refresh, but asks the server for every version after since
 * (older than the latest verified): versions already verified must match what
 * was verified byte for byte, else it is an identity reset. */
int client_list_recheck(sotto_client *c, const char *handle, uint64_t since, dl_list *out)
    __attribute__((warn_unused_result));

/* The devices of a verified list as the API shows them. *out: caller frees
 * with free() (client_info.c). */
int client_devices_of(const dl_list *l, sotto_device **out, size_t *n) __attribute__((warn_unused_result));

/* After `trust` of handle: open the messages held from it, store them (shown
 * by the next receive) and forget them, all or nothing (client_receive.c). */
int client_release_held(sotto_client *c, const char *handle) __attribute__((warn_unused_result));

/* ---- one delivered copy, from the wire to the store (client_receive.c) ---- */

/* What a receive may still spend on looking up senders (NULL: nothing, only
 * the lists stored on the device count): each sender at most once, at most
 * SOTTO_CLIENT_MAX_LOOKUPS of them. Zeroed by the caller to start. */
typedef struct client_budget {
	size_t n;		/* senders looked up so far */
	char handle[SOTTO_CLIENT_MAX_LOOKUPS][SOTTO_MAX_HANDLE + 1];
} client_budget;

typedef struct client_copy {
	uint64_t seq;
	const uint8_t *env, *wrap;	/* as delivered, borrowed: kept if held */
	size_t env_len, wrap_len;
	env_header h;			/* the header once opened (else parsed, for the alert) */
	char claimed[SOTTO_MAX_HANDLE + 1];	/* the sender the bytes claim, "" if none */
	uint8_t *content;		/* NULL if rejected, deferred or a replay */
	size_t content_len;
	int err;			/* why it was set aside, or SOTTO_OK */
	int defer;			/* not now: neither stored nor acknowledged */
	int stored;
} client_copy;

/* Open one copy (env, wrap borrowed until client_copy_clear): verify against
 * the sender's verified list, fetching it within budget (NULL: never), then
 * decrypt. Never fails as a whole: in->err says why a copy was set aside;
 * in->defer that it should come back later (the budget is spent). */
void client_copy_open(sotto_client *c, const uint8_t *env, size_t env_len, const uint8_t *wrap,
    size_t wrap_len, client_budget *budget, client_copy *in);
/* Store n opened copies in one transaction, each on its own: a copy whose
 * fields the store refuses is set aside as a rejected_message alert like one
 * that does not open, and the others are stored. Held (a sender whose reset
 * waits), replays dropped, deferred ones skipped. Fails only when the store
 * itself does (then nothing is stored, so nothing may be acknowledged):
 * SOTTO_ERR_DB, SOTTO_ERR_NOMEM, SOTTO_ERR_INTERNAL. */
int client_copies_store(sotto_client *c, client_copy *in, size_t n) __attribute__((warn_unused_result));
/* Wipe and free what client_copy_open made. */
void client_copy_clear(client_copy *in);

#endif
