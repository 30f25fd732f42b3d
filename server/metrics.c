/* SPDX-License-Identifier: ISC */
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "metrics.h"
#include "sotto/error.h"

/* Upper bounds of the commit-latency buckets, in microseconds. */
static const uint64_t bucket_us[] = {
	250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 1000000,
};
#define N_BUCKETS (sizeof(bucket_us) / sizeof(bucket_us[0]))

static const char *const error_kind[ME__COUNT] = {
	[ME_STORAGE] = "storage",
	[ME_COMMIT] = "commit",
	[ME_BAD_FRAME] = "bad_frame",
	[ME_SLOW_READER] = "slow_reader",
	[ME_WAKE] = "wake",
	[ME_WORKER_RESTART] = "worker_restart",
	[ME_ACCEPT] = "accept",
};

static const char *const refusal_reason[MR__COUNT] = {
	[MR_MAILBOX_FULL] = "mailbox_full",
	[MR_SENDER_SHARE] = "sender_share",
	[MR_ACCOUNT_QUOTA] = "account_quota",
	[MR_BYTE_RATE] = "byte_rate",
};

typedef struct slot {
	int64_t connections;
	uint64_t sends, deliveries;
	uint64_t commit_le[N_BUCKETS];	/* not cumulative: summed when rendered */
	uint64_t commit_count, commit_sum_us;
	uint64_t errors[ME__COUNT];
	uint64_t refusals[MR__COUNT];
} slot;

static slot local_slot;
static slot *slots = &local_slot;
static size_t n_slots = 1;
static slot *me = &local_slot;

#define ADD(field, v) __atomic_fetch_add(&(field), (v), __ATOMIC_RELAXED)
#define GET(field) __atomic_load_n(&(field), __ATOMIC_RELAXED)

int
metrics_init(size_t workers)
{
	void *p;

	if (workers == 0)
		return SOTTO_ERR_INVALID_ARG;
	p = mmap(NULL, workers * sizeof(slot), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return SOTTO_ERR_NOMEM;
	slots = p;
	n_slots = workers;
	me = &slots[0];
	return SOTTO_OK;
}

void
metrics_select(size_t self)
{
	if (self < n_slots)
		me = &slots[self];
}

void
metrics_worker_reset(size_t i)
{
	if (i < n_slots)
		__atomic_store_n(&slots[i].connections, 0, __ATOMIC_RELAXED);
}

void
metrics_connections(int delta)
{
	ADD(me->connections, (int64_t)delta);
}

void
metrics_sends(uint64_t n)
{
	ADD(me->sends, n);
}

void
metrics_deliveries(uint64_t n)
{
	ADD(me->deliveries, n);
}

void
metrics_commit(uint64_t usec)
{
	size_t i;

	for (i = 0; i < N_BUCKETS && usec > bucket_us[i]; i++)
		;
	if (i < N_BUCKETS)
		ADD(me->commit_le[i], 1);
	ADD(me->commit_count, 1);
	ADD(me->commit_sum_us, usec);
}

void
metrics_error(enum metrics_error kind)
{
	if ((unsigned)kind < ME__COUNT)
		ADD(me->errors[kind], 1);
}

void
metrics_refusal(enum metrics_refusal reason)
{
	if ((unsigned)reason < MR__COUNT)
		ADD(me->refusals[reason], 1);
}

static void
put(sbuf *b, const char *s)
{
	sbw_put(b, s, strlen(s));
}

/* One sample: series (name and labels), a space, the value. */
static void
putv(sbuf *b, const char *series, unsigned long long v)
{
	char line[160];
	int n = snprintf(line, sizeof(line), "%s %llu\n", series, v);

	if (n > 0 && (size_t)n < sizeof(line))
		sbw_put(b, line, (size_t)n);
}

int
metrics_render(sbuf *b, uint64_t queue_depth, uint64_t stored_bytes)
{
	slot t;
	uint64_t cum = 0;
	char fmt[96];

	memset(&t, 0, sizeof(t));
	for (size_t w = 0; w < n_slots; w++) {
		int64_t c = GET(slots[w].connections);

		t.connections += c > 0 ? c : 0;
		t.sends += GET(slots[w].sends);
		t.deliveries += GET(slots[w].deliveries);
		for (size_t i = 0; i < N_BUCKETS; i++)
			t.commit_le[i] += GET(slots[w].commit_le[i]);
		t.commit_count += GET(slots[w].commit_count);
		t.commit_sum_us += GET(slots[w].commit_sum_us);
		for (size_t k = 0; k < ME__COUNT; k++)
			t.errors[k] += GET(slots[w].errors[k]);
		for (size_t k = 0; k < MR__COUNT; k++)
			t.refusals[k] += GET(slots[w].refusals[k]);
	}
	put(b, "# HELP sottod_connections Open WebSocket connections.\n# TYPE sottod_connections gauge\n");
	putv(b, "sottod_connections", (unsigned long long)t.connections);
	put(b, "# HELP sottod_workers Worker processes serving the port.\n# TYPE sottod_workers gauge\n");
	putv(b, "sottod_workers", (unsigned long long)n_slots);
	put(b, "# HELP sottod_sends_total Sends committed.\n# TYPE sottod_sends_total counter\n");
	putv(b, "sottod_sends_total", (unsigned long long)t.sends);
	put(b, "# HELP sottod_deliveries_total Copies sent to devices (pushed or fetched).\n"
	    "# TYPE sottod_deliveries_total counter\n");
	putv(b, "sottod_deliveries_total", (unsigned long long)t.deliveries);
	put(b, "# HELP sottod_queue_depth Copies stored for devices, on the whole backend.\n"
	    "# TYPE sottod_queue_depth gauge\n");
	putv(b, "sottod_queue_depth", (unsigned long long)queue_depth);
	put(b, "# HELP sottod_stored_bytes Bytes of stored copies (envelopes and wraps), on the whole backend.\n"
	    "# TYPE sottod_stored_bytes gauge\n");
	putv(b, "sottod_stored_bytes", (unsigned long long)stored_bytes);
	put(b, "# HELP sottod_commit_seconds Group-commit latency: begin to commit returned.\n"
	    "# TYPE sottod_commit_seconds histogram\n");
	for (size_t i = 0; i < N_BUCKETS; i++) {
		cum += t.commit_le[i];
		snprintf(fmt, sizeof(fmt), "sottod_commit_seconds_bucket{le=\"%g\"}",
		    (double)bucket_us[i] / 1e6);
		putv(b, fmt, (unsigned long long)cum);
	}
	putv(b, "sottod_commit_seconds_bucket{le=\"+Inf\"}", (unsigned long long)t.commit_count);
	snprintf(fmt, sizeof(fmt), "sottod_commit_seconds_sum %.6f\n", (double)t.commit_sum_us / 1e6);
	put(b, fmt);
	putv(b, "sottod_commit_seconds_count", (unsigned long long)t.commit_count);
	put(b, "# HELP sottod_errors_total Errors by kind.\n# TYPE sottod_errors_total counter\n");
	for (size_t k = 0; k < ME__COUNT; k++) {
		snprintf(fmt, sizeof(fmt), "sottod_errors_total{kind=\"%s\"}", error_kind[k]);
		putv(b, fmt, (unsigned long long)t.errors[k]);
	}
	put(b, "# HELP sottod_send_refusals_total Sends refused by the mailbox caps and account quotas, by reason.\n"
	    "# TYPE sottod_send_refusals_total counter\n");
	for (size_t k = 0; k < MR__COUNT; k++) {
		snprintf(fmt, sizeof(fmt), "sottod_send_refusals_total{reason=\"%s\"}", refusal_reason[k]);
		putv(b, fmt, (unsigned long long)t.refusals[k]);
	}
	return sbw_error(b);
}
