/* SPDX-License-Identifier: ISC */
#include <stdlib.h>
#include <string.h>

#include "qcount.h"
#include "server.h"

/* Twice the rows a batch may write (SOTTOD_MAX_BATCH_ROWS), so open
 * addressing stays short; at most half of it is used. */
#define QCOUNT_SLOTS	4096

typedef struct {
	uint8_t id[SC_DEVICE_ID];
	uint64_t n;
	uint32_t gen;		/* valid while it is the table's */
} qslot;

struct qcount {
	qslot slot[QCOUNT_SLOTS];
	uint32_t gen;
	size_t used;
	uint64_t seed[2];	/* so no peer can choose ids that share a slot */
};

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

/* Device ids are hashes of keys a client picks: mixed with a secret seed. */
static size_t
home(const qcount *q, const uint8_t id[SC_DEVICE_ID])
{
	uint64_t a, b;

	memcpy(&a, id, sizeof(a));
	memcpy(&b, id + 8, sizeof(b));
	a = (a ^ q->seed[0]) * 0x9e3779b97f4a7c15ULL;
	b = (b ^ q->seed[1]) * 0xc2b2ae3d27d4eb4fULL;
	return (size_t)((a ^ b) >> 52) & (QCOUNT_SLOTS - 1);
}

uint64_t *
qcount_find(qcount *q, const uint8_t id[SC_DEVICE_ID])
{
	if (q == NULL)
		return NULL;
	for (size_t i = home(q, id), k = 0; k < QCOUNT_SLOTS; i = (i + 1) & (QCOUNT_SLOTS - 1), k++) {
		qslot *s = &q->slot[i];

		if (s->gen != q->gen)
			return NULL;
		if (memcmp(s->id, id, SC_DEVICE_ID) == 0) /* not secret: device ids are public */
			return &s->n;
	}
	return NULL;
}

uint64_t *
qcount_put(qcount *q, const uint8_t id[SC_DEVICE_ID], uint64_t n)
{
	size_t i;

	if (q == NULL || q->used >= QCOUNT_SLOTS / 2)
		return NULL;
	i = home(q, id);
	while (q->slot[i].gen == q->gen)
		i = (i + 1) & (QCOUNT_SLOTS - 1);
	memcpy(q->slot[i].id, id, SC_DEVICE_ID);
	q->slot[i].n = n;
	q->slot[i].gen = q->gen;
	q->used++;
	return &q->slot[i].n;
}
