/* SPDX-License-Identifier: ISC */
/*
 * Per-worker abuse limits: connections per source address, and token buckets
 * (a burst, refilled at a rate per second) for lookups and sends, per device
 * and per source address. The values come from sottod.conf (config.h; the
 * defaults and ceilings from caps.h).
 *
 * Each worker keeps its own table: a peer whose connections the kernel spreads
 * over N workers meets N tables. The connection cap is therefore split (each
 * worker allows ceil(max_conns_per_addr / N)); rates are per worker
 * (docs/OPERATIONS.md "Limits"). Entries are created for connections and for
 * authenticated requests only, so the table is bounded by the connections a
 * worker holds; idle entries (no connection, full buckets) are dropped by
 * limits_sweep or when room is needed.
 */
#ifndef SOTTOD_RATELIMIT_H
#define SOTTOD_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "crypto.h"

/* Entries in one worker's table (addresses + devices). */
#define LIMITS_MAX_ENTRIES	65536
/* Longest address key (IPv6 text, with room). */
#define LIMITS_ADDR_MAX		64

enum limit_kind { LIMIT_LOOKUP = 0, LIMIT_SEND, LIMIT__COUNT };

typedef struct limits limits;
typedef struct limit_entry limit_entry;

/* A table for one of workers worker processes. *out: caller frees with
 * limits_free. SOTTO_ERR_NOMEM. */
int limits_new(limits **out, const sottod_config *cfg, size_t workers)
    __attribute__((warn_unused_result));
void limits_free(limits *l);

/* This worker's share of max_conns_per_addr. */
uint64_t limits_conn_cap(const limits *l);

/* A connection from addr opens: returns its entry (pass it to
 * limits_conn_close), or NULL when addr is at its cap or the table is full
 * (nothing counted). */
limit_entry *limits_conn_open(limits *l, const char *addr);
/* Accepts NULL. */
void limits_conn_close(limits *l, limit_entry *e);

/* Take cost tokens of kind from both the device's bucket and addr's: 1 when
 * both had them (both charged), 0 when either was short (neither charged).
 * *which names the bucket that refused ("device" or "address"). */
int limits_take(limits *l, enum limit_kind kind, const uint8_t device[SC_DEVICE_ID], const char *addr,
    double cost, uint64_t now_ms, const char **which);
/* Charge cost more after the fact (a lookup that missed), down to an empty
 * bucket: the next request pays for it. */
void limits_charge(limits *l, enum limit_kind kind, const uint8_t device[SC_DEVICE_ID], const char *addr,
    double cost, uint64_t now_ms);

/* Drop entries with no connection whose buckets are full again. */
void limits_sweep(limits *l, uint64_t now_ms);
/* Entries held (for tests and logs). */
size_t limits_entries(const limits *l);

#endif
