/* SPDX-License-Identifier: ISC */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "quota.h"
#include "sotto/error.h"

uint64_t
quota_share_cap(const sottod_config *cfg)
{
	return cfg->mailbox_sender_cap < cfg->mailbox_cap ? cfg->mailbox_sender_cap : cfg->mailbox_cap;
}

enum quota_verdict
quota_copy_check(const sottod_config *cfg, uint64_t queued, uint64_t from_sender)
{
	if (queued >= cfg->mailbox_cap)
		return QV_MAILBOX_FULL;
	if (from_sender >= quota_share_cap(cfg))
		return QV_SHARE_FULL;
	return QV_OK;
}

enum quota_verdict
quota_bytes_check(const sottod_config *cfg, uint64_t stored, uint64_t add)
{
	if (add > cfg->account_quota_bytes || stored > cfg->account_quota_bytes - add)
		return QV_ACCOUNT_FULL;
	return QV_OK;
}

typedef struct qr_slot {
	char handle[SOTTO_MAX_HANDLE + 1];	/* "": free */
	double tokens;				/* may be negative: a send above the burst */
	uint64_t at_ms;
} qr_slot;

struct quota_rate {
	double rate, burst;	/* this worker's share */
	uint64_t seed[2];
	qr_slot slot[QUOTA_SLOTS];
};

static uint64_t
ceil_div(uint64_t a, uint64_t b)
{
	return a / b + (a % b != 0);
}

int
quota_rate_new(quota_rate **out, const sottod_config *cfg, size_t workers)
{
	quota_rate *q;

	*out = NULL;
	if (workers == 0)
		workers = 1;
	if ((q = calloc(1, sizeof(*q))) == NULL)
		return SOTTO_ERR_NOMEM;
	q->rate = (double)ceil_div(cfg->account_byte_rate, workers);
	q->burst = (double)ceil_div(cfg->account_byte_burst, workers);
	sc_random(q->seed, sizeof(q->seed));
	*out = q;
	return SOTTO_OK;
}

void
quota_rate_free(quota_rate *q)
{
	free(q);
}

uint64_t
quota_rate_per_worker(const quota_rate *q)
{
	return (uint64_t)q->rate;
}

/* Handles are chosen by their owners: mixed with a secret seed. */
static size_t
home(const quota_rate *q, const char *h)
{
	uint64_t x = q->seed[0];

	for (; *h != '\0'; h++)
		x = (x ^ (uint8_t)*h) * 0x100000001b3ULL;
	x ^= q->seed[1];
	x *= 0x9e3779b97f4a7c15ULL;
	return (size_t)(x >> 50) & (QUOTA_SLOTS - 1);
}

static void
refill(const quota_rate *q, qr_slot *e, uint64_t now_ms)
{
	if (now_ms > e->at_ms) {
		e->tokens += (double)(now_ms - e->at_ms) * q->rate / 1000.0;
		if (e->tokens > q->burst)
			e->tokens = q->burst;
		e->at_ms = now_ms;
	}
}

/* handle's slot in its window; else a free one, else one whose bucket is
 * full again (nothing lost by forgetting it), else the least recently used. */
static qr_slot *
lookup(quota_rate *q, const char *handle, uint64_t now_ms)
{
	size_t i = home(q, handle);
	qr_slot *spare = NULL, *oldest = NULL;

	for (size_t k = 0; k < QUOTA_PROBE; k++) {
		qr_slot *e = &q->slot[(i + k) & (QUOTA_SLOTS - 1)];

		if (e->handle[0] == '\0') {
			if (spare == NULL)
				spare = e;
			continue;
		}
		if (strcmp(e->handle, handle) == 0)	/* not secret: handles are public */
			return e;
		refill(q, e, now_ms);
		if (spare == NULL && e->tokens >= q->burst)
			spare = e;
		if (oldest == NULL || e->at_ms < oldest->at_ms)
			oldest = e;
	}
	if (spare == NULL)
		spare = oldest;
	snprintf(spare->handle, sizeof(spare->handle), "%s", handle);
	spare->tokens = q->burst;
	spare->at_ms = now_ms;
	return spare;
}

int
quota_rate_take(quota_rate *q, const char *handle, uint64_t cost, uint64_t now_ms)
{
	qr_slot *e;
	double need;

	if (q == NULL || handle[0] == '\0' || strnlen(handle, SOTTO_MAX_HANDLE + 1) > SOTTO_MAX_HANDLE)
		return 0;
	e = lookup(q, handle, now_ms);
	refill(q, e, now_ms);
	/* A send above the burst needs a full bucket, and leaves it in debt. */
	need = (double)cost < q->burst ? (double)cost : q->burst;
	if (e->tokens < need)
		return 0;
	e->tokens -= (double)cost;
	return 1;
}
