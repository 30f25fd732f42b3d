/* SPDX-License-Identifier: ISC */
/*
 * libsotto's client API: everything a bot or an app needs to hold a Sotto
 * device, send and receive end-to-end encrypted messages, and watch the device
 * lists of its contacts.
 *
 * A device lives in a home folder (created 0700) holding sotto.db (state,
 * history, alerts) and device.key (the device's private keys, encrypted under a
 * passphrase unless made explicitly unprotected).
 *
 * Conventions: every function returns SOTTO_OK (0) or a negative sotto_err
 * (sotto/error.h); outputs are written only on success. Strings are
 * NUL-terminated UTF-8. Times are milliseconds since the Unix epoch, UTC. Ids
 * (message ids, device ids) are lower-case hex. A sotto_client is not thread
 * safe: use one per thread. The library never prints and never exits.
 */
#ifndef SOTTO_SOTTO_H
#define SOTTO_SOTTO_H

#include <stddef.h>
#include <stdint.h>

#include "sotto/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SOTTO_HANDLE_MAX	64	/* bytes of a handle: [a-z0-9._-] */
#define SOTTO_DEVICE_NAME_MAX	64	/* bytes of a device name */
#define SOTTO_RECIPIENTS_MAX	64	/* handles in one message */
#define SOTTO_BODY_MAX		65536	/* bytes of one message body */
#define SOTTO_ID_HEX_LEN	32	/* hex of a message id or a device id */
#define SOTTO_FINGERPRINT_LEN	39	/* "xxxx xxxx ... xxxx" (8 groups) */
#define SOTTO_SAFETY_NUMBER_LEN	71	/* 12 groups of 5 digits, spaces between */
#define SOTTO_RECOVERY_CODE_LEN	43	/* unpadded base64url of 32 bytes */
#define SOTTO_ALERT_KIND_MAX	32

typedef struct sotto_client sotto_client;

/* What sotto_init needs. Either invite (a "sotto1-..." code, which carries the
 * server address and key pin), or server ("HOST:PORT") and pin (43 characters)
 * for a server in open mode. All pointers are borrowed for the call. */
typedef struct sotto_init_options {
	const char *invite;		/* NULL in open mode */
	const char *server;		/* NULL with an invite */
	const char *pin;		/* NULL with an invite */
	const char *handle;		/* NULL: the handle named by the invite */
	const char *device_name;	/* NULL: "device" */
	const char *passphrase;		/* NULL: the key file is left unprotected */
} sotto_init_options;

/* Create a new account and its first device in `home`, which must not hold a
 * device yet (SOTTO_ERR_EXISTS). Registers with the server, then writes the home.
 * On failure nothing is left behind (a home folder this call created is removed).
 * recovery: receives the account recovery code, shown once and stored nowhere;
 * the caller should wipe it after showing it. device_id: this device's id.
 * Errors include SOTTO_ERR_INVITE, SOTTO_ERR_HANDLE_TAKEN, SOTTO_ERR_PIN,
 * SOTTO_ERR_NETWORK, SOTTO_ERR_INVALID_ARG. */
int sotto_init(const char *home, const sotto_init_options *opts,
    char recovery[SOTTO_RECOVERY_CODE_LEN + 1], char device_id[SOTTO_ID_HEX_LEN + 1])
    __attribute__((warn_unused_result));

/* 1 if the home's key file needs a passphrase, 0 if it is unprotected, or a
 * negative sotto_err (SOTTO_ERR_NOT_FOUND if there is no device in home). */
int sotto_home_needs_passphrase(const char *home);

/* Open the device in home. passphrase: borrowed for the call; NULL for an
 * unprotected key file (a protected one then gives SOTTO_ERR_PASSPHRASE).
 * *out: caller frees with sotto_close. Opening does not touch the network. */
int sotto_open(sotto_client **out, const char *home, const char *passphrase)
    __attribute__((warn_unused_result));

/* Close the connection, wipe the keys, free c. Accepts NULL. */
void sotto_close(sotto_client *c);

/* Detail of the last error returned on c (e.g. the handle a send was refused
 * for), or "" if none. Borrowed; valid until the next call on c. */
const char *sotto_error_detail(const sotto_client *c);

/* This device's handle and id (hex). Borrowed; valid until sotto_close. */
const char *sotto_handle(const sotto_client *c);
const char *sotto_device_id(const sotto_client *c);

/* Send body to every device of every handle in `to` (duplicates ignored; my own
 * handle may be named only if I have other devices) and to my own other devices.
 * Every recipient's device list is verified first; a handle whose identity was
 * reset is refused (SOTTO_ERR_IDENTITY_RESET) until sotto_trust. The message is
 * added to history once the server has accepted it.
 * msg_id: receives the message id. Errors: SOTTO_ERR_NO_SUCH_HANDLE,
 * SOTTO_ERR_MAILBOX_FULL and SOTTO_ERR_SHARE_FULL (sotto_error_detail names the
 * handle), SOTTO_ERR_QUOTA, SOTTO_ERR_RATE_LIMITED, SOTTO_ERR_TOO_LARGE,
 * SOTTO_ERR_STALE (device lists kept changing), network errors. */
int sotto_send(sotto_client *c, const char *const *to, size_t n_to, const uint8_t *body,
    size_t body_len, char msg_id[SOTTO_ID_HEX_LEN + 1]) __attribute__((warn_unused_result));

/* One received message. Every pointer is borrowed for the duration of the
 * callback only. */
typedef struct sotto_message {
	const char *id;			/* message id, hex */
	const char *from;		/* sender handle */
	const char *device;		/* sender device id, hex */
	const char *const *to;		/* recipient handles */
	size_t n_to;
	uint64_t sent_at;		/* sender's clock, ms */
	const uint8_t *body;		/* body bytes, NUL-terminated (not counted in body_len) */
	size_t body_len;
	int outgoing;			/* 1: my own message, copied from my other device */
} sotto_message;

/* Called once per new message, in arrival order, after it is stored. A
 * non-zero return stops the calls (the messages are already stored). */
typedef int (*sotto_message_cb)(const sotto_message *m, void *arg);

/* Fetch every queued message; if none arrived and wait_seconds > 0, wait up to
 * that long for one to be pushed, then drain again. Each message is verified,
 * stored, handed to cb, and only then acknowledged to the server; messages stored
 * by an earlier receive that ended before handing them over come first (so cb
 * sees every message at least once, and twice only if the process dies inside
 * cb before it returns); copies that fail
 * verification or cannot be stored become `rejected_message` alerts (grouped
 * per claimed sender) and are acknowledged: no copy blocks the ones behind
 * it; replays are dropped silently. Bounded against a hostile server
 * (docs/PROTOCOL.md "Client bounds"): the whole call ends within
 * wait_seconds plus 60 s (SOTTO_ERR_TIMEOUT if its work was cut short: the
 * rest stays queued on the server), and fetches, pushes acted on, list
 * checks and senders looked up are capped per call (copies from senders past
 * that cap stay queued for the next call).
 * cb may be NULL. n_new (may be NULL): number of new messages. */
int sotto_receive(sotto_client *c, int wait_seconds, sotto_message_cb cb, void *arg,
    size_t *n_new) __attribute__((warn_unused_result));

/* Every message stored on this device, received and sent, oldest stored
 * first, each exactly once (the store keeps one row per message id); handle
 * not NULL: only those from handle or sent to it. Calls cb for each (a
 * non-zero return stops the walk, and sotto_history returns SOTTO_OK). Reads
 * the local store only: no network. SOTTO_ERR_INVALID_ARG (a handle that is
 * not valid), SOTTO_ERR_DB. */
int sotto_history(sotto_client *c, const char *handle, sotto_message_cb cb, void *arg)
    __attribute__((warn_unused_result));

/* One device of a verified device list. */
typedef struct sotto_device {
	char id[SOTTO_ID_HEX_LEN + 1];
	char name[SOTTO_DEVICE_NAME_MAX + 1];
	char fingerprint[SOTTO_FINGERPRINT_LEN + 1];
	uint64_t added_at;				/* ms */
	char approved_by[SOTTO_ID_HEX_LEN + 1];		/* "" when the account key */
} sotto_device;

/* The devices of handle (NULL: mine) after verifying its device list with the
 * server. *out: caller frees with free(); *n: count. SOTTO_ERR_NO_SUCH_HANDLE,
 * SOTTO_ERR_IDENTITY_RESET. */
int sotto_devices(sotto_client *c, const char *handle, sotto_device **out, size_t *n)
    __attribute__((warn_unused_result));

/* One alert raised on this device. */
typedef struct sotto_alert {
	char kind[SOTTO_ALERT_KIND_MAX + 1];	/* identity_reset, contact_devices_changed,
						   device_added, device_removed, rejected_message,
						   account_changed_unsigned,
						   directory_unreachable */
	char handle[SOTTO_HANDLE_MAX + 1];
	char device[SOTTO_ID_HEX_LEN + 1];	/* "" if none */
	uint64_t at;				/* ms */
	char *text;				/* owned by the array */
	int seen;				/* 1 if listed before */
	uint64_t count;				/* alerts this row stands for (>= 1):
						   rejected messages are grouped per
						   sender, and a full list per kind */
} sotto_alert;

/* Every alert, oldest first; marks them seen. *out: caller frees with
 * sotto_alerts_free(*out, *n). */
int sotto_alerts(sotto_client *c, sotto_alert **out, size_t *n)
    __attribute__((warn_unused_result));
void sotto_alerts_free(sotto_alert *a, size_t n);

/* The safety number of my account and handle's (verifying handle's list with the
 * server first): compare it out of band. */
int sotto_safety_number(sotto_client *c, const char *handle,
    char out[SOTTO_SAFETY_NUMBER_LEN + 1]) __attribute__((warn_unused_result));

/* Mark handle verified if number (spaces ignored) equals the safety number;
 * SOTTO_ERR_BAD_SIGNATURE if it does not. */
int sotto_verify(sotto_client *c, const char *handle, const char *number)
    __attribute__((warn_unused_result));

/* 1 if handle's safety number was verified on this device (sotto_verify) for
 * the identity it trusts now, 0 if not (never, or trusted again since), or a
 * negative sotto_err (SOTTO_ERR_NOT_FOUND: never looked up). Local only. */
int sotto_contact_verified(sotto_client *c, const char *handle) __attribute__((warn_unused_result));

/* 1 if handle is not verified because `trust` replaced an identity whose
 * safety number was verified (until sotto_verify again), 0 if not, or a
 * negative sotto_err as sotto_contact_verified. Local only. */
int sotto_contact_verified_lost(sotto_client *c, const char *handle) __attribute__((warn_unused_result));

/* Accept handle's current identity after a reset: forget what was verified for
 * it and verify its device list afresh (trust on first use again). The contact
 * is no longer marked verified. Trusts whatever the server shows at that
 * moment: a program that shows the user what it trusts uses
 * sotto_identity_compare, then sotto_trust_shown. */
int sotto_trust(sotto_client *c, const char *handle) __attribute__((warn_unused_result));

#define SOTTO_LIST_HASH_HEX_LEN 64

/* One identity of a contact: its account key's safety number with mine, and
 * the devices of one of its verified device lists. */
typedef struct sotto_identity {
	int present;			/* 0: none (never seen; the fields are empty) */
	char safety_number[SOTTO_SAFETY_NUMBER_LEN + 1];	/* "" for my own account */
	int verified;			/* its safety number was verified (sotto_verify) */
	uint64_t version;		/* of the device list */
	char list_hash[SOTTO_LIST_HASH_HEX_LEN + 1];	/* SHA-256 of that signed list, hex */
	sotto_device *devices;		/* owned: sotto_identity_clear */
	size_t n_devices;
} sotto_identity;

/* What sotto_trust would replace and by what, changing nothing: old is the
 * identity trusted now (kept during an identity reset; present 0 if handle was
 * never seen), now the one the server shows, verified as a first sight.
 * *reset: 1 if handle's identity reset waits for a trust. *held: messages that
 * arrived during the reset and that a trust would show as from handle. Both
 * sotto_identity are set on success; clear them with sotto_identity_clear.
 * If nothing the server shows verifies even as a first sight, now.present is 0
 * and sotto_error_detail says why (a trust would be refused). Errors:
 * SOTTO_ERR_NO_SUCH_HANDLE, network errors. */
int sotto_identity_compare(sotto_client *c, const char *handle, sotto_identity *old,
    sotto_identity *now, int *reset, size_t *held) __attribute__((warn_unused_result));
void sotto_identity_clear(sotto_identity *id);

/* sotto_trust, but only of the identity the user was shown: list_hash is
 * now.list_hash from sotto_identity_compare. If the server shows another list
 * by then, nothing is trusted (SOTTO_ERR_CHAIN; ask again). *lost_verified
 * (may be NULL): 1 if the identity replaced had its safety number verified:
 * that mark does not carry over. */
int sotto_trust_shown(sotto_client *c, const char *handle, const char *list_hash, int *lost_verified)
    __attribute__((warn_unused_result));

/* ---- several devices per account (docs/PROTOCOL.md "Linking a device") ---- */

#define SOTTO_LINK_CODE_LEN	43	/* unpadded base64url of 32 bytes */

/* Lines (each ending in '\n') that the last sotto_send or sotto_receive on c
 * raised as alerts and that a person should see now, e.g. "bob's devices
 * changed: added ...". "" if none. Borrowed; valid until the next call on c.
 * They are warnings, not errors: the call may still have succeeded. */
const char *sotto_warnings(const sotto_client *c);

/* Record a directory_unreachable alert when a command cannot reach the
 * directory and my own device list was last checked more than seconds ago
 * (0: the default, 24 hours). Once per outage. */
void sotto_set_directory_alert(sotto_client *c, uint64_t seconds);

/* What sotto_link needs. All pointers are borrowed for the call. */
typedef struct sotto_link_options {
	const char *server;		/* "HOST:PORT" */
	const char *pin;		/* the server's key pin (43 characters) */
	const char *handle;		/* the account to join */
	const char *device_name;	/* NULL: "device" */
	const char *passphrase;		/* NULL: the key file is left unprotected */
	int timeout_seconds;		/* how long to wait for approval; 0: 600 */
} sotto_link_options;

/* A device asking to join, as sotto_approve shows it (and sotto_link, so the
 * two screens can be compared). */
typedef struct sotto_link_offer {
	char handle[SOTTO_HANDLE_MAX + 1];
	char name[SOTTO_DEVICE_NAME_MAX + 1];
	char id[SOTTO_ID_HEX_LEN + 1];
	char fingerprint[SOTTO_FINGERPRINT_LEN + 1];
} sotto_link_offer;

/* Called once with the link code to show and the new device as the approver
 * will see it (both borrowed for the call). */
typedef void (*sotto_link_code_cb)(const char *code, const sotto_link_offer *self, void *arg);

/* Make a new device in home (which must not hold one: SOTTO_ERR_EXISTS) and
 * join handle's account: makes the device's keys, posts an offer to the
 * server, calls show with the link code, and waits for a device of the account
 * to approve it (sotto_approve), asking the server for the answer every second:
 * the server withdraws the offer a few seconds after that stops, so a device
 * that gave up or was interrupted cannot be approved later. Then verifies the
 * account's whole device-list chain itself, from version 1 to the list the
 * approver named, checks this device is in it, and writes the home. Nothing is
 * left behind on failure. SOTTO_ERR_TIMEOUT (not approved in time, or the
 * approved list never appeared), SOTTO_ERR_BAD_SIGNATURE (the approval failed
 * its check: tampered with), SOTTO_ERR_CHAIN (the lists the server showed do
 * not match the approval), SOTTO_ERR_INVALID_ARG (see sotto_device_name_valid),
 * network errors. */
int sotto_link(const char *home, const sotto_link_options *o, sotto_link_code_cb show, void *arg,
    char device_id[SOTTO_ID_HEX_LEN + 1]) __attribute__((warn_unused_result));

/* 1 if name can go in a device list: 1..SOTTO_DEVICE_NAME_MAX bytes of strict
 * UTF-8 without control characters (it is shown on other people's screens). */
int sotto_device_name_valid(const char *name);

/* 1 if handle is one the directory can hold: 1..SOTTO_HANDLE_MAX bytes of
 * [a-z0-9._-], not starting with '.' or '-'. */
int sotto_handle_valid(const char *handle);

/* Return 1 to approve, 0 to decline. o is borrowed for the call. */
typedef int (*sotto_approve_cb)(const sotto_link_offer *o, void *arg);

/* Approve the device that shows code: fetch its offer, check it with the
 * code's secret, let confirm decide, then answer the new device (which spends
 * its offer: refused if the device stopped waiting) and publish my account's
 * next device list with the device added (signed by this device), in that
 * order, so a device that is gone is never added. SOTTO_ERR_NOT_FOUND (no such
 * offer: wrong code, expired, used, or the device stopped waiting),
 * SOTTO_ERR_BAD_SIGNATURE (the offer failed its check), SOTTO_ERR_UNTRUSTED
 * (declined), SOTTO_ERR_EXISTS (already a device of the account),
 * SOTTO_ERR_TOO_LARGE (the list is full), SOTTO_ERR_INVALID_ARG (for another
 * handle, or a name a list cannot hold), network errors. device_id: the new
 * device's id. */
int sotto_approve(sotto_client *c, const char *code, sotto_approve_cb confirm, void *arg,
    char device_id[SOTTO_ID_HEX_LEN + 1]) __attribute__((warn_unused_result));

/* Publish my account's next device list without device_id (hex), signed by
 * this device. The server then refuses that device and deletes its queue.
 * SOTTO_ERR_NOT_FOUND (not a device of my account), SOTTO_ERR_INVALID_ARG
 * (this device itself: remove it from another one). */
int sotto_remove_device(sotto_client *c, const char *device_id) __attribute__((warn_unused_result));

/* What sotto_recover needs. All pointers are borrowed for the call. */
typedef struct sotto_recover_options {
	const char *server;		/* "HOST:PORT" */
	const char *pin;
	const char *handle;
	const char *code;		/* the recovery code sotto_init showed */
	const char *device_name;	/* NULL: "device" */
	const char *passphrase;		/* NULL: unprotected key file */
} sotto_recover_options;

/* On a new device when every device of the account is lost: rebuild the
 * account key from the recovery code, verify the account's device-list chain,
 * publish the next version holding only this new device, signed by the account
 * key, and write the home (SOTTO_ERR_EXISTS if it holds a device). The account
 * key, and so every safety number, stays the same; every old device is
 * removed. SOTTO_ERR_BAD_SIGNATURE (the code is not this account's),
 * SOTTO_ERR_CHAIN, network errors. */
int sotto_recover(const char *home, const sotto_recover_options *o,
    char device_id[SOTTO_ID_HEX_LEN + 1]) __attribute__((warn_unused_result));

#ifdef __cplusplus
}
#endif
#endif
