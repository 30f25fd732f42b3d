/* SPDX-License-Identifier: ISC */
/*
 * Per-worker abuse limits: connections per source address, and token buckets
 * (a burst, refilled at a rate per second) for lookups, sends and linking,
 * per source address, per device, per account and for the whole server. The
 * values come from sottod.conf (config.h; the defaults and ceilings from
 * caps.h) and, for the buckets sottod.conf does not name, from here.
 *
 * LIMIT_LOOKUP is the budget of everything that tells whether a handle
 * exists (docs/OPERATIONS.md "Enumeration"): a lookup, a send's answer, a
 * recovery attempt, an open registration. A request needs room for a miss
 * (SOTTO_LOOKUP_MISS_COST) before it is looked at, and a miss is charged
 * after the fact: so no bucket, however it is spent, lets more than
 * rate / SOTTO_LOOKUP_MISS_COST misses a second through.
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

/* Per account: its devices together get this many times one device's
 * lookup budget (an account has several devices, not several people). */
#define LIMITS_ACCOUNT_FACTOR	2
/* The whole node (split evenly over its workers): lookups a second and burst.
 * Misses cost SOTTO_LOOKUP_MISS_COST, so at most 1,000 unknown handles a
 * second are confirmed on a node whoever asks, from however many addresses. */
#define LIMITS_GLOBAL_LOOKUP_RATE	10000
#define LIMITS_GLOBAL_LOOKUP_BURST	40000
/* A recovery attempt (unauthenticated: only its address and the node pay)
 * costs this many lookup tokens: 10 a second per address by default. */
#define LIMITS_RECOVER_COST	100
/* Linking (LinkPost and LinkGet, before or after authentication): per source
 * address, and for the node. A new device polls once a second; an approver a
 * few times in all. */
#define LIMITS_LINK_ADDR_RATE		10
#define LIMITS_LINK_ADDR_BURST		60
#define LIMITS_GLOBAL_LINK_RATE		1000
#define LIMITS_GLOBAL_LINK_BURST	5000

enum limit_kind { LIMIT_LOOKUP = 0, LIMIT_SEND, LIMIT_LINK, LIMIT__COUNT };

typedef struct limits limits;
typedef struct limit_entry limit_entry;

/* Whom a request is charged to. device NULL or account NULL/"": not
 * authenticated (those buckets are skipped); addr NULL/"": no address. */
typedef struct limit_who {
	const uint8_t *device;
	const char *account;
	const char *addr;
} limit_who;

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

/* Take cost tokens of kind from each of who's buckets (device, account,
 * address) and the node's, when every one holds at least need (>= cost): 1
 * then (all charged), else 0 (none charged; *which names the bucket that
 * refused: "device", "account", "address" or "server"). A bucket the
 * configuration does not give kind is not consulted. */
int limits_take(limits *l, enum limit_kind kind, const limit_who *who, double need, double cost,
    uint64_t now_ms, const char **which);
/* Charge cost more after the fact (a lookup that missed) to the same buckets.
 * A bucket may go into debt, down to minus its burst: later requests pay for
 * it, so what is charged afterwards limits as surely as what is taken first. */
void limits_charge(limits *l, enum limit_kind kind, const limit_who *who, double cost, uint64_t now_ms);

/* Drop entries with no connection whose buckets are full again. */
void limits_sweep(limits *l, uint64_t now_ms);
/* Entries held (for tests and logs). */
size_t limits_entries(const limits *l);

#endif
