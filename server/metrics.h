/* SPDX-License-Identifier: ISC */
/*
 * sottod's counters for GET /metrics (Prometheus text format 0.0.4).
 *
 * With several workers, the supervisor maps one shared anonymous region before
 * it forks (metrics_init): one slot per worker, each written only by its
 * worker (relaxed atomics, no locks), summed by whichever worker answers a
 * scrape, so every scrape sees the whole node. A restarted worker keeps its
 * slot: counters never go back; its connection gauge is zeroed by the
 * supervisor (metrics_worker_reset). Without metrics_init (tests, tools) the
 * counters live in one process-local slot.
 */
#ifndef SOTTOD_METRICS_H
#define SOTTOD_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

enum metrics_error {
	ME_STORAGE = 0,		/* a request answered INTERNAL: storage failed */
	ME_COMMIT,		/* a group commit failed */
	ME_BAD_FRAME,		/* a frame refused (not binary, too large) */
	ME_SLOW_READER,		/* a connection cut off for not reading */
	ME_WAKE,		/* the wake-up path broke (worker restarts) */
	ME_WORKER_RESTART,	/* a worker died and was restarted */
	ME_ACCEPT,		/* a connection refused: the worker is out of descriptors */
	ME__COUNT
};

/* Sends refused by the sender shares and account quotas (quota.h). */
enum metrics_refusal {
	MR_MAILBOX_FULL = 0,	/* the recipient device's whole queue was full */
	MR_SENDER_SHARE,	/* the sender's share of that queue was full */
	MR_ACCOUNT_QUOTA,	/* the sender's stored bytes were at its quota */
	MR_BYTE_RATE,		/* the sender's byte rate was spent */
	MR__COUNT
};

/* Supervisor, before forking: room for workers slots. SOTTO_ERR_NOMEM. */
int metrics_init(size_t workers) __attribute__((warn_unused_result));
/* Worker self (< workers) writes its own slot from now on. */
void metrics_select(size_t self);
/* Supervisor: worker i is gone; its connections went with it. */
void metrics_worker_reset(size_t i);

void metrics_connections(int delta);
void metrics_sends(uint64_t n);
void metrics_deliveries(uint64_t n);
void metrics_commit(uint64_t usec);
void metrics_error(enum metrics_error kind);
void metrics_refusal(enum metrics_refusal reason);

/* The exposition text: every counter summed over the workers, plus
 * queue_depth and stored_bytes (from the store) and workers.
 * SOTTO_ERR_NOMEM and friends from the writer. */
int metrics_render(sbuf *b, uint64_t queue_depth, uint64_t stored_bytes) __attribute__((warn_unused_result));

#endif
