/* SPDX-License-Identifier: ISC */
/*
 * sottod.conf: lines "key = value"; '#' starts a comment line; blank lines are
 * ignored; a later line overrides an earlier one for the same key. Keys:
 *   address         HOST:PORT clients dial (goes into invite codes); default 127.0.0.1:7443
 *   listen          HOST:PORT to bind (port 0: any free port); default = address
 *   registration    invite | open; default invite
 *   expiry_seconds  1..SOTTO_DEFAULT_EXPIRY_SECONDS; default SOTTO_DEFAULT_EXPIRY_SECONDS
 *   mailbox_cap     1..SOTTO_DEFAULT_MAILBOX_CAP copies per device; default that cap
 *   log_level       info | debug; default info
 *   workers         1..CONFIG_MAX_WORKERS processes serving the port; default 0 = one
 *                   per core (capped at CONFIG_MAX_WORKERS)
 *   storage         sqlite | postgres; default sqlite (DIR/sottod.db)
 *   postgres_url    libpq conninfo (postgresql://... or key=value ...), required
 *                   with storage = postgres
 *   user            when started as root: the user to run as (groups, gid, uid
 *                   dropped after binding the port and reading the key); root
 *                   with no user configured is refused
 * Caps (caps.h; each may only be lowered):
 *   max_frame       SOTTO_MAX_FRAME_PREAUTH..SOTTO_MAX_FRAME bytes of one frame
 *                   from an authenticated device
 *   max_recipients  1..SOTTO_MAX_RECIPIENTS handles in one send (plus the own)
 *   max_conns_per_addr 1..SOTTO_MAX_CONNS_PER_ADDR connections from one source
 *                   address (default SOTTO_DEFAULT_MAX_CONNS_PER_ADDR); each of
 *                   N workers allows its share, rounded up
 *   preauth_seconds 1..SOTTO_PREAUTH_SECONDS to finish TLS, WebSocket and
 *                   authentication
 *   link_offer_seconds 1..CONFIG_MAX_LINK_OFFER_SECONDS: a link offer is
 *                   withdrawn this long after its new device last asked for the
 *                   answer (it asks every second while it waits); default
 *                   CONFIG_DEFAULT_LINK_OFFER_SECONDS
 *   list_publishes_per_hour 1..CONFIG_MAX_LIST_PUBLISHES_PER_HOUR device lists
 *                   one account may publish in any hour, over all workers and
 *                   nodes (recovery is not counted); default
 *                   CONFIG_DEFAULT_LIST_PUBLISHES_PER_HOUR
 *   mailbox_sender_cap 1..CONFIG_DEFAULT_MAILBOX_SENDER_CAP copies one sender
 *                   account may have queued for one device (its share of that
 *                   mailbox; never more than mailbox_cap); SENDER_SHARE_FULL
 *   account_quota_bytes 1..CONFIG_DEFAULT_ACCOUNT_QUOTA_BYTES bytes of copies
 *                   one account has sent that are still stored, over all
 *                   recipients; ACCOUNT_QUOTA_FULL
 *   account_byte_rate, account_byte_burst 1..CONFIG_DEFAULT_ACCOUNT_BYTE_RATE
 *                   (_BURST): bytes of copies one account may store per second,
 *                   over all its devices, token bucket; each of N workers
 *                   allows its share, rounded up (quota.h); RATE_LIMITED
 * Rate limits (token buckets, per worker; 1..SOTTO_MAX_RATE; caps.h defaults):
 *   lookup_rate, lookup_burst            GetDeviceList per device
 *   addr_lookup_rate, addr_lookup_burst  GetDeviceList per source address
 *   send_rate, send_burst                SendRequest per device
 *   addr_send_rate, addr_send_burst      SendRequest per source address
 * Lines longer than SOTTO_MAX_CONFIG_LINE bytes, unknown keys, missing '=',
 * bad numbers and bad addresses are errors naming the line number.
 */
#ifndef SOTTOD_CONFIG_H
#define SOTTOD_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "caps.h"

#define CONFIG_DEFAULT_ADDRESS "127.0.0.1:7443"
#define CONFIG_FILE_NAME "sottod.conf"
#define CONFIG_MAX_WORKERS 64
#define CONFIG_MAX_USER 32
#define CONFIG_DEFAULT_LINK_OFFER_SECONDS 10
#define CONFIG_MAX_LINK_OFFER_SECONDS 60
/* Device lists one account may publish in any hour (all workers and nodes:
 * counted in the store). Linking or removing a device is one each. */
#define CONFIG_DEFAULT_LIST_PUBLISHES_PER_HOUR 30
#define CONFIG_MAX_LIST_PUBLISHES_PER_HOUR SOTTO_MAX_LIST_HISTORY
/*
 * Sender shares and account quotas (docs/OPERATIONS.md "Limits"). A copy's
 * bytes are its envelope and its wrap, as stored: one send of an E-byte
 * envelope to D devices stores about D * E bytes. Caps: each may be lowered.
 * With the defaults, ten accounts filling their shares fill a device's
 * mailbox (mailbox_cap / mailbox_sender_cap); each of them is also held to
 * its own bytes quota and byte rate.
 */
#define CONFIG_DEFAULT_MAILBOX_SENDER_CAP	1000			/* copies per (device, sender) */
#define CONFIG_DEFAULT_ACCOUNT_QUOTA_BYTES	(1024ULL * 1024 * 1024)	/* stored per account */
#define CONFIG_DEFAULT_ACCOUNT_BYTE_RATE	(2ULL * 1024 * 1024)	/* stored per account per second */
#define CONFIG_DEFAULT_ACCOUNT_BYTE_BURST	(32ULL * 1024 * 1024)

enum config_storage { CONFIG_STORAGE_SQLITE = 0, CONFIG_STORAGE_POSTGRES };

typedef struct sottod_config {
	char address[SOTTO_MAX_ADDRESS + 1];
	char listen[SOTTO_MAX_ADDRESS + 1];	/* empty until parsed: then = address */
	int registration_open;
	uint64_t expiry_seconds;
	uint64_t mailbox_cap;
	int log_debug;
	unsigned workers;			/* 0: one per core */
	enum config_storage storage;
	char postgres_url[SOTTO_MAX_CONFIG_LINE + 1];
	char user[CONFIG_MAX_USER + 1];		/* "": none */
	uint64_t max_frame;
	uint64_t max_recipients;
	uint64_t max_conns_per_addr;
	uint64_t preauth_seconds;
	uint64_t link_offer_seconds;
	uint64_t list_publishes_per_hour;
	uint64_t mailbox_sender_cap;
	uint64_t account_quota_bytes;
	uint64_t account_byte_rate, account_byte_burst;
	uint64_t lookup_rate, lookup_burst, addr_lookup_rate, addr_lookup_burst;
	uint64_t send_rate, send_burst, addr_send_rate, addr_send_burst;
} sottod_config;

/* Defaults, as above. */
void config_defaults(sottod_config *c);

/* Parse a whole file/stream over c (which holds defaults or earlier values).
 * On error returns SOTTO_ERR_FORMAT (or SOTTO_ERR_TOO_LARGE for an overlong
 * line, SOTTO_ERR_IO) and writes a one-line reason ("line 3: unknown key
 * \"foo\"") into err (errlen bytes); c may then be partly updated. */
int config_parse_stream(sottod_config *c, FILE *f, char *err, size_t errlen)
    __attribute__((warn_unused_result));
int config_load(sottod_config *c, const char *path, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Split "HOST:PORT" (HOST may be "[v6]"). host holds SOTTO_MAX_ADDRESS + 1.
 * allow_zero: accept port 0. SOTTO_ERR_FORMAT. */
int config_split_address(const char *addr, char *host, size_t hostlen, int *port, int allow_zero)
    __attribute__((warn_unused_result));

/* Write a fresh config file (exclusive create, 0600). SOTTO_ERR_EXISTS, SOTTO_ERR_IO. */
int config_write_new(const char *path, const sottod_config *c) __attribute__((warn_unused_result));

#endif
