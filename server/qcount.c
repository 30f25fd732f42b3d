/* SPDX-License-Identifier: ISC */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qcount.h"
#include "server.h"

/* Four times the rows a batch may write (SOTTOD_MAX_BATCH_ROWS): a copy keeps
 * up to three counts (its queue, its sender's share of it, its sender's
 * bytes), most shared with the batch's other copies; at most half is used,
 * so open addressing stays short. */
#define QCOUNT_SLOTS	8192

typedef struct {
	uint8_t kind;
	uint8_t id[SC_DEVICE_ID];
	char sender[SOTTO_MAX_HANDLE + 1];
	uint64_t n;
	uint32_t gen;		/* valid while it is the table's */
	/* QC_QUEUE: bumped by each Ack deleting from the queue. QC_SHARE: its
	 * device's when counted; QC_BYTES: the table's bytes_epoch then. */
	uint32_t epoch;
} qslot;

struct qcount {
	qslot slot[QCOUNT_SLOTS];
	uint32_t gen;
	uint32_t bytes_epoch;	/* bumped by each Ack deleting anything */
	size_t used;
	uint64_t seed[3];	/* so no peer can choose ids or handles that share a slot */
};

static const uint8_t no_id[SC_DEVICE_ID];

qcount *
qcount_new(void)
{
	qcount *q = calloc(1, sizeof(*q));

	if (q != NULL) {
		q->gen = 1;
		sc_random(q->seed, sizeof(q->seed));
	}
	return q;
}

void
qcount_free(qcount *q)
{
	free(q);
}

void
qcount_reset(qcount *q)
{
	if (q == NULL)
		return;
	q->used = 0;
	/* A new generation empties every slot at once; on wrap-around the old
	 * generations are cleared for real. */
	if (++q->gen == 0) {
		memset(q->slot, 0, sizeof(q->slot));
		q->gen = 1;
	}
}

/* Device ids are hashes of keys a client picks, handles are chosen by their
 * owners: mixed with a secret seed. */
static size_t
home(const qcount *q, enum qcount_kind kind, const uint8_t id[SC_DEVICE_ID], const char *sender)
{
	uint64_t a, b, h = q->seed[2] ^ (uint64_t)kind;

	memcpy(&a, id, sizeof(a));
	memcpy(&b, id + 8, sizeof(b));
	a = (a ^ q->seed[0]) * 0x9e3779b97f4a7c15ULL;
	b = (b ^ q->seed[1]) * 0xc2b2ae3d27d4eb4fULL;
	for (const char *p = sender; p != NULL && *p != '\0'; p++)
		h = (h ^ (uint8_t)*p) * 0x100000001b3ULL;
	h ^= h >> 29;
	return (size_t)((a ^ b ^ (h * 0x9e3779b97f4a7c15ULL)) >> 51) & (QCOUNT_SLOTS - 1);
}

/* A key's parts as stored: a sender too long to be a handle matches nothing. */
static int
key_ok(const char *sender)
{
	return sender == NULL || strnlen(sender, SOTTO_MAX_HANDLE + 1) <= SOTTO_MAX_HANDLE;
}

static int
same(const qslot *s, enum qcount_kind kind, const uint8_t id[SC_DEVICE_ID], const char *sender)
{
	return s->kind == (uint8_t)kind &&
	    memcmp(s->id, id, SC_DEVICE_ID) == 0 &&	/* not secret: device ids are public */
	    strcmp(s->sender, sender != NULL ? sender : "") == 0;
}

/* The slot holding (kind, id, sender), stale or not; NULL if none. */
static qslot *
slot_of(qcount *q, enum qcount_kind kind, const uint8_t id[SC_DEVICE_ID], const char *sender)
{
	for (size_t i = home(q, kind, id, sender), k = 0; k < QCOUNT_SLOTS;
	    i = (i + 1) & (QCOUNT_SLOTS - 1), k++) {
		qslot *s = &q->slot[i];

		if (s->gen != q->gen)
			return NULL;
		if (same(s, kind, id, sender))
			return s;
	}
	return NULL;
}

/* What a count of kind for id must have been taken under to be current. A
 * share kept implies its queue kept (counted() counts the queue first), so
 * a missing queue slot only happens for a share never kept. */
static uint32_t
epoch_now(qcount *q, enum qcount_kind kind, const uint8_t id[SC_DEVICE_ID])
{
	qslot *d;

	if (kind == QC_BYTES)
		return q->bytes_epoch;
	if (kind == QC_SHARE && (d = slot_of(q, QC_QUEUE, id, NULL)) != NULL)
		return d->epoch;
	return 0;
}

uint64_t *
qcount_find_key(qcount *q, enum qcount_kind kind, const uint8_t *id, const char *sender)
{
	qslot *s;

	if (q == NULL || !key_ok(sender))
		return NULL;
	if (id == NULL)
		id = no_id;
	if ((s = slot_of(q, kind, id, sender)) == NULL)
		return NULL;
	if (kind != QC_QUEUE && s->epoch != epoch_now(q, kind, id))
		return NULL;
	return &s->n;
}

uint64_t *
qcount_put_key(qcount *q, enum qcount_kind kind, const uint8_t *id, const char *sender, uint64_t n)
{
	qslot *s;
	size_t i;

	if (q == NULL || !key_ok(sender))
		return NULL;
	if (id == NULL)
		id = no_id;
	if ((s = slot_of(q, kind, id, sender)) == NULL) {
		if (q->used >= QCOUNT_SLOTS / 2)
			return NULL;
		i = home(q, kind, id, sender);
		while (q->slot[i].gen == q->gen)
			i = (i + 1) & (QCOUNT_SLOTS - 1);
		s = &q->slot[i];
		s->kind = (uint8_t)kind;
		memcpy(s->id, id, SC_DEVICE_ID);
		snprintf(s->sender, sizeof(s->sender), "%s", sender != NULL ? sender : "");
		s->gen = q->gen;
		s->epoch = 0;
		q->used++;
	}
	s->n = n;
	if (kind != QC_QUEUE)
		s->epoch = epoch_now(q, kind, id);
	return &s->n;
}

void
qcount_deleted(qcount *q, const uint8_t id[SC_DEVICE_ID], uint64_t n)
{
	qslot *d;

	if (q == NULL || n == 0)
		return;
	q->bytes_epoch++;
	if ((d = slot_of(q, QC_QUEUE, id, NULL)) == NULL)
		return;
	d->n -= n < d->n ? n : d->n;
	d->epoch++;
}

uint64_t *
qcount_find(qcount *q, const uint8_t id[SC_DEVICE_ID])
{
	return qcount_find_key(q, QC_QUEUE, id, NULL);
}

uint64_t *
qcount_put(qcount *q, const uint8_t id[SC_DEVICE_ID], uint64_t n)
{
	return qcount_put_key(q, QC_QUEUE, id, NULL, n);
}
