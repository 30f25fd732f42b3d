/* SPDX-License-Identifier: ISC */
/*
 * Helpers shared by the store backends for wake-ups (store.h): the queue of
 * announcements made inside the open transaction, the byte form of one
 * wake-up, and SQLite's pipe path between the workers of one node. Only
 * store_*.c include this.
 */
#ifndef SOTTOD_STORE_WAKE_H
#define SOTTOD_STORE_WAKE_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "store.h"

/* Announcements queued in one transaction before they are dropped (a wake-up
 * lost is a push delayed, never data lost). */
#define WAKEQ_MAX		65536
/* Largest byte form of one wake-up but DELIVER: kind, version, length, handle. */
#define WAKE_RECORD_MAX		(1 + 8 + 1 + SOTTO_MAX_HANDLE)

typedef struct wakeq {
	store_wake *w;		/* owned */
	size_t n, cap;
	size_t dropped;		/* over WAKEQ_MAX since the last clear */
} wakeq;

/* Queue a copy of w; a malformed w is SOTTO_ERR_INVALID_ARG. */
int wakeq_push(wakeq *q, const store_wake *w) __attribute__((warn_unused_result));
void wakeq_clear(wakeq *q);
void wakeq_free(wakeq *q);

/* The byte form: u8 kind, then COPY: device id, u64 seq; LIST: u64 version,
 * str8 handle. wake_get parses one from r, refusing any malformed record
 * (SOTTO_ERR_FORMAT and friends), handle checked with handle_valid. */
int wake_put(sbuf *b, const store_wake *w);
int wake_get(sbuf_reader *r, store_wake *w) __attribute__((warn_unused_result));

/* SQLite's pipes. A member holds the group (borrowed) and its own read state. */
typedef struct wakepipe {
	const store_wakegroup *g;	/* NULL: not joined */
	size_t self;
	uint8_t in[8192];
	size_t in_len;
	size_t dropped;			/* records not written: a full pipe */
	uint8_t *out;			/* per member, PIPE_BUF each: DELIVERs not yet written */
	size_t out_len[STORE_MAX_WORKERS], out_records[STORE_MAX_WORKERS];
	/* Which members a copy's wake-up goes to (NULL: all); see store_sqlite_route. */
	uint64_t (*route)(void *arg, const uint8_t device_id[SC_DEVICE_ID]);
	void *route_arg;
} wakepipe;

/* Write q to the other members' pipes (a copy only to those its route names),
 * whole records per write (<= PIPE_BUF); a full pipe drops them (counted).
 * What wakepipe_queue holds goes out too. */
void wakepipe_send(wakepipe *p, const wakeq *q);
/* Queue one record (already in byte form) for the other members in mask; a
 * member's full queue is written first. SOTTO_ERR_TOO_LARGE over PIPE_BUF. */
int wakepipe_queue(wakepipe *p, uint64_t mask, const uint8_t *rec, size_t len);
void wakepipe_flush(wakepipe *p);
/* Frees the queues. */
void wakepipe_free(wakepipe *p);
/* Read everything waiting on our pipe and hand each record to fn. SOTTO_OK;
 * SOTTO_ERR_IO when the pipe broke; a malformed record drops what is buffered. */
int wakepipe_drain(wakepipe *p, store_wake_fn fn, void *arg);

#endif
