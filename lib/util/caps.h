/* SPDX-License-Identifier: ISC */
/*
 * Every size cap in Sotto, named for its purpose, in one place. Parsers check a
 * declared length against these before anything else. The server's tunable caps
 * (sottod.conf: max_frame, max_recipients, mailbox_cap, max_conns_per_addr,
 * preauth_seconds) default to these values and may only be set lower.
 */
#ifndef SOTTO_CAPS_H
#define SOTTO_CAPS_H

#define SOTTO_MAX_HANDLE		64	/* bytes of a handle: [a-z0-9._-] */
#define SOTTO_MAX_DEVICE_NAME		64	/* bytes of a device name (UTF-8) */
#define SOTTO_MAX_DEVICES		32	/* devices in one account's list */
#define SOTTO_MAX_RECIPIENTS		64	/* handles in one message */
#define SOTTO_MAX_BODY			65536	/* plaintext content of one message */
#define SOTTO_MAX_PADDED_BODY		(SOTTO_MAX_BODY * 2)	/* after bucket padding */
#define SOTTO_MAX_HEADER		(64 + SOTTO_MAX_RECIPIENTS * (SOTTO_MAX_HANDLE + 1) + SOTTO_MAX_HANDLE)
#define SOTTO_MAX_ENVELOPE		(SOTTO_MAX_PADDED_BODY + 16 + SOTTO_MAX_HEADER + 256)
#define SOTTO_MAX_DEVICE_LIST		8192	/* bytes of one signed device list */
#define SOTTO_MAX_LIST_HISTORY		256	/* device-list versions in one answer */
#define SOTTO_MAX_FRAME			(SOTTO_MAX_ENVELOPE + SOTTO_MAX_RECIPIENTS * SOTTO_MAX_DEVICES * 128 + 4096)
#define SOTTO_MAX_FRAME_PREAUTH		16384	/* before a device has authenticated */
#define SOTTO_MAX_FETCH_BATCH		64	/* copies in one Fetch answer */
#define SOTTO_MAX_INVITE		512	/* characters of an invite code */
#define SOTTO_MAX_ADDRESS		255	/* characters of HOST:PORT */
#define SOTTO_MAX_CONFIG_LINE		1024	/* bytes of one sottod.conf line */
#define SOTTO_DEFAULT_MAILBOX_CAP	10000	/* stored copies per device */
#define SOTTO_DEFAULT_EXPIRY_SECONDS	(7 * 24 * 3600)
#define SOTTO_MAX_LINK_BLOB		512	/* bytes of one linking offer or answer */
#define SOTTO_PREAUTH_SECONDS		10	/* to authenticate before being dropped */
#define SOTTO_MAX_CONNS_PER_ADDR	65536	/* connections from one source address */
#define SOTTO_DEFAULT_MAX_CONNS_PER_ADDR 1000	/* ... unless sottod.conf says otherwise */

/*
 * Rate limits of sottod (token buckets: a burst, refilled at a rate per
 * second), per device and per source address. Defaults; sottod.conf may set
 * any value from 1 to SOTTO_MAX_RATE. A failed lookup (NO_SUCH_HANDLE) costs
 * SOTTO_LOOKUP_MISS_COST tokens: probing for handles is what enumeration does.
 */
#define SOTTO_MAX_RATE			1000000
#define SOTTO_DEFAULT_LOOKUP_RATE	50	/* GetDeviceList per device per second */
#define SOTTO_DEFAULT_LOOKUP_BURST	200
#define SOTTO_DEFAULT_ADDR_LOOKUP_RATE	1000	/* ... per source address */
#define SOTTO_DEFAULT_ADDR_LOOKUP_BURST	5000
#define SOTTO_DEFAULT_SEND_RATE		500	/* SendRequest per device per second */
#define SOTTO_DEFAULT_SEND_BURST	1000
#define SOTTO_DEFAULT_ADDR_SEND_RATE	20000	/* ... per source address */
#define SOTTO_DEFAULT_ADDR_SEND_BURST	40000
#define SOTTO_LOOKUP_MISS_COST		10

/*
 * What a client takes from a server, which may be hostile (docs/PROTOCOL.md
 * "Client bounds"): everything it queues, fetches, verifies and stores, and
 * the time one receive may take, has a cap.
 */
#define SOTTO_CLIENT_MAX_PUSHES		256	/* pushes queued unread; more are dropped */
#define SOTTO_CLIENT_MAX_PUSH_BYTES	(4 * 1024 * 1024)	/* ... and their bytes */
#define SOTTO_CLIENT_MAX_LIST_VERSIONS	1024	/* versions of one account's device list */
#define SOTTO_CLIENT_MAX_LIST_PAGES	64	/* GetDeviceList answers in one check */
#define SOTTO_CLIENT_MAX_FETCH_ROUNDS	256	/* Fetch answers in one receive */
#define SOTTO_CLIENT_MAX_PUSHES_HANDLED	1024	/* pushes one receive acts on */
#define SOTTO_CLIENT_MAX_HINT_HANDLES	64	/* handles a receive re-checks on a hint */
#define SOTTO_CLIENT_MAX_HINT_CHECKS	2	/* ... and checks of one handle */
#define SOTTO_CLIENT_MAX_LOOKUPS	32	/* senders a receive looks up; the rest wait */
#define SOTTO_CLIENT_RECEIVE_WORK_MS	60000	/* a receive's work after its wait */
#define SOTTO_CLIENT_MAX_ALERTS		1000	/* rows in the alert list */

#endif
