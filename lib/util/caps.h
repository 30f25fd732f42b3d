/* SPDX-License-Identifier: ISC */
/*
 * Every size cap in Sotto, named for its purpose, in one place. Parsers check a
 * declared length against these before anything else. The server's tunable caps
 * (sottod.conf) default to these values and may only be set lower.
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

#endif
