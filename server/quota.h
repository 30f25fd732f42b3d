/* SPDX-License-Identifier: ISC */
/*
 * Sender shares of a device's mailbox and account quotas (issue 11 item 3;
 * docs/OPERATIONS.md "Limits"): what one sender account may hold in another
 * device's queue, and on the server's disk, and how fast it may add to it.
 *
 * The decisions are pure functions of the counts (qcount.h keeps those for a
 * batch), so the tests can check them alone. The byte rate is a token bucket
 * per account handle, shared by all the account's devices on one worker:
 * each of N workers allows ceil(rate / N) and ceil(burst / N), so the node as
 * a whole allows at most the configured rate however the kernel spreads the
 * account's connections (and an account on one worker gets its 1/N). A send
 * is charged what it stores (every copy's envelope and wrap); one costing
 * more than the burst is let through when the bucket is full, which then goes
 * into debt: over any time T an account stores at most burst + rate * T plus
 * one send. The table is bounded (QUOTA_SLOTS); an account that finds every
 * slot of its probe window busy takes the oldest one's, whose account starts
 * again with a full bucket (seeded hashing: no one can aim at a window).
 */
#ifndef SOTTOD_QUOTA_H
#define SOTTOD_QUOTA_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

/* Accounts one worker's byte-rate table holds, and the slots one probes. */
#define QUOTA_SLOTS		16384
#define QUOTA_PROBE		16

enum quota_verdict {
	QV_OK = 0,
	QV_SHARE_FULL,		/* the sender's share of the device's queue is full */
	QV_MAILBOX_FULL,	/* the device's whole queue is full */
	QV_ACCOUNT_FULL,	/* the sender's stored bytes would pass its quota */
};

/* The share cap in force: mailbox_sender_cap, never above mailbox_cap. */
uint64_t quota_share_cap(const sottod_config *cfg);
/* One more copy for a device that holds queued copies, from_sender of them
 * from this copy's sender: a full queue is named first (whoever filled it,
 * the send must wait for the recipient), then the sender's own share. The
 * caller passes from_sender 0 for the sender's own other devices: the share
 * protects a recipient from other accounts, and an own device offline for
 * long must not stop its account from sending (mailbox_cap still holds). */
enum quota_verdict quota_copy_check(const sottod_config *cfg, uint64_t queued, uint64_t from_sender);
/* A send adding add bytes for a sender whose copies hold stored bytes
 * (overflow-safe). */
enum quota_verdict quota_bytes_check(const sottod_config *cfg, uint64_t stored, uint64_t add);

typedef struct quota_rate quota_rate;

/* One worker's table for workers workers (0 counts as 1). *out: caller
 * frees with quota_rate_free. SOTTO_ERR_NOMEM. */
int quota_rate_new(quota_rate **out, const sottod_config *cfg, size_t workers)
    __attribute__((warn_unused_result));
void quota_rate_free(quota_rate *q);
/* Charge cost bytes to handle at now_ms: 1 when allowed (charged), 0 when
 * refused (nothing charged). */
int quota_rate_take(quota_rate *q, const char *handle, uint64_t cost, uint64_t now_ms);
/* This worker's share of the rate (bytes per second). */
uint64_t quota_rate_per_worker(const quota_rate *q);

#endif
