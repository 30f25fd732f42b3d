/* SPDX-License-Identifier: ISC */
/*
 * Early delivery (SQLite nodes): a copy is pushed to its connected device as
 * soon as its send is staged, while its commit is still under way; the sender
 * still hears OK only after the commit. Delivery then costs what the network
 * costs, not a turn through the database's write lock and an fsync.
 *
 * For that a copy needs its seq before it is stored: the node allocates seqs
 * itself from a counter shared by its workers (seqs are node-wide: a SQLite
 * file has one node). Three things keep it right:
 *
 * - A device's Ack may come before the commit that stores the copy (the ack
 *   is committed by another worker's batch). Every worker publishes the lowest
 *   seq it allocated that is not yet settled (committed or failed); an ack
 *   that misses a seq at or above the node's lowest unsettled one, and below
 *   the counter, waits in the next batch instead of being answered
 *   (early_ack_waits).
 * - A device that begins fetching between the early push and the commit gets
 *   neither (its Fetch read the store before the commit): after the commit a
 *   wake-up of kind EARLY_COPY goes out, and every fetching connection whose
 *   fetching began after the seq was allocated (seq < fetch_from) gets the
 *   copy pushed again (early_missed). A device may so see a copy twice;
 *   clients drop repeated msg ids (DESIGN.md 4). A worker whose DELIVER
 *   record was lost (a full pipe) takes the EARLY_COPY as a plain COPY
 *   (early_had).
 * - A seq pushed early and never committed (a crash) must not come back for
 *   another copy of the same device, whose Ack the device may still hold: a
 *   restarted node starts EARLY_RESTART_GAP above the highest seq ever
 *   stored, far more than can be in flight.
 *
 * A send refused after its early push (another recipient device's mailbox
 * full, a storage error) leaves a connected recipient with a copy the sender
 * was told failed. The library's own retries carry the same msg id, which the
 * recipient drops as a repeat; a user who sends the text again makes a new
 * message, which that device shows a second time (docs/OPERATIONS.md,
 * "Early delivery").
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "metrics.h"
#include "server.h"
#include "sotto/error.h"

/* Seqs skipped at each start: more than every worker's two batches can hold. */
#define EARLY_RESTART_GAP	(1ULL << 24)
/* DELIVER seqs a worker remembers (early_got): a commit lagging more copies
 * than this behind its pushes only costs a repeated push. */
#define EARLY_SEEN_SLOTS	65536
/* How long an Ack waits for the commit of a copy it names (a worker that died
 * with unsettled seqs holds the node's lowest until it is restarted). */
#define EARLY_ACK_WAIT_MS	5000

/* Slots of the route map (a power of two): 2 MiB shared. */
#define EARLY_ROUTE_SLOTS	(1u << 18)

struct early_seqs {
	/* The node's committers take turns here instead of polling SQLite's write
	 * lock (its busy handler sleeps and retries): a waiter sleeps in the
	 * kernel until the holder is done, and the cores stay with the loops.
	 * Robust: a worker that dies holding it passes it on. */
	pthread_mutex_t commit_lock;
	_Atomic uint64_t next;
	_Atomic uint64_t low[STORE_MAX_WORKERS];	/* UINT64_MAX: nothing unsettled */
	/*
	 * Which workers hold a fetching connection of a device: bit w of
	 * route[slot(device)], set by worker w only (its own counts say when).
	 * Devices sharing a slot share the bits: a wake-up may go to a worker that
	 * does not need it, never miss one that does. Copies and their wake-ups
	 * go only where the bits say, not to every worker.
	 */
	_Atomic uint64_t route[EARLY_ROUTE_SLOTS];
	/* Bumped after every commit that changed a device list (dircache.c). */
	_Atomic uint64_t dir_gen;
};

int
early_seqs_new(early_seqs **out, uint64_t highest_stored)
{
	early_seqs *e;

	*out = NULL;
	e = mmap(NULL, sizeof(*e), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (e == MAP_FAILED)
		return SOTTO_ERR_NOMEM;
	{
		pthread_mutexattr_t a;
		int bad;

		pthread_mutexattr_init(&a);
		bad = pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED) != 0 ||
		    pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST) != 0 ||
		    pthread_mutex_init(&e->commit_lock, &a) != 0;
		pthread_mutexattr_destroy(&a);
		if (bad) {
			munmap(e, sizeof(*e));
			return SOTTO_ERR_INTERNAL;
		}
	}
	atomic_init(&e->next, highest_stored + EARLY_RESTART_GAP);
	for (size_t i = 0; i < STORE_MAX_WORKERS; i++)
		atomic_init(&e->low[i], UINT64_MAX);
	*out = e;
	return SOTTO_OK;
}

void
early_seqs_free(early_seqs *e)
{
	if (e != NULL)
		munmap(e, sizeof(*e));
}

void
early_commit_lock(early_seqs *e)
{
	if (e != NULL && pthread_mutex_lock(&e->commit_lock) == EOWNERDEAD)
		pthread_mutex_consistent(&e->commit_lock);	/* guards no data of its own */
}

void
early_commit_unlock(early_seqs *e)
{
	if (e != NULL)
		pthread_mutex_unlock(&e->commit_lock);
}

void
early_dir_changed(early_seqs *e)
{
	if (e != NULL)
		atomic_fetch_add(&e->dir_gen, 1);
}

uint64_t
early_dir_gen(const early_seqs *e)
{
	return atomic_load(&((early_seqs *)e)->dir_gen);
}

uint64_t
early_next(const server *s)
{
	return s->seqs != NULL ? atomic_load(&s->seqs->next) : 0;
}

/* This worker's lowest unsettled seq: the batch with the committer holds the
 * older ones. */
void
early_publish(server *s)
{
	const mbatch *in = &s->mb[!s->staging], *st = &s->mb[s->staging];
	uint64_t low = UINT64_MAX;

	if (s->seqs == NULL)
		return;
	if (s->inflight && in->first_seq != 0)
		low = in->first_seq;
	else if (st->first_seq != 0)
		low = st->first_seq;
	atomic_store(&s->seqs->low[s->worker], low);
}

void
early_worker_reset(early_seqs *e, size_t worker)
{
	if (e != NULL && worker < STORE_MAX_WORKERS)
		atomic_store(&e->low[worker], UINT64_MAX);
}

uint64_t
early_alloc(server *s, size_t n)
{
	mbatch *b = &s->mb[s->staging];
	uint64_t first = atomic_fetch_add(&s->seqs->next, n);

	/* Published before any of them is pushed: an Ack can only follow a push. */
	if (b->first_seq == 0) {
		b->first_seq = first;
		early_publish(s);
	}
	return first;
}

int
early_ack_waits(const early_seqs *e, const uint64_t *seqs, size_t n)
{
	uint64_t low = UINT64_MAX, next;

	if (e == NULL)
		return 0;
	next = atomic_load(&e->next);
	for (size_t i = 0; i < STORE_MAX_WORKERS; i++) {
		uint64_t l = atomic_load(&e->low[i]);

		if (l < low)
			low = l;
	}
	for (size_t i = 0; i < n; i++)
		if (seqs[i] >= low && seqs[i] < next)
			return 1;
	return 0;
}

uint64_t
early_ack_deadline(uint64_t now)
{
	return now + EARLY_ACK_WAIT_MS;
}

void
early_push(server *s, const uint8_t device_id[SC_DEVICE_ID], uint64_t seq, uint64_t stored_at,
    const uint8_t *env, size_t env_len, const uint8_t *wrap, size_t wrap_len, int missed_only)
{
	Sotto__Wire__Delivery d = SOTTO__WIRE__DELIVERY__INIT;
	wire_frame f = SOTTO__WIRE__FRAME__INIT;

	d.seq = seq;
	d.envelope.data = (uint8_t *)env;
	d.envelope.len = env_len;
	d.wrap.data = (uint8_t *)wrap;
	d.wrap.len = wrap_len;
	d.stored_at = stored_at;
	f.id = 0;
	f.msg_case = SOTTO__WIRE__FRAME__MSG_DELIVERY;
	f.delivery = &d;
	for (conn *c = conn_first_device(s, device_id); c != NULL; c = conn_next_device(c->dnext, device_id))
		if (c->fetching && (!missed_only || seq < c->fetch_from) && conn_send(c, &f) == SOTTO_OK)
			metrics_deliveries(1);
}

void
early_got(server *s, uint64_t seq)
{
	if (s->early_seen == NULL &&
	    (s->early_seen = calloc(EARLY_SEEN_SLOTS, sizeof(*s->early_seen))) == NULL)
		return;
	s->early_seen[seq % EARLY_SEEN_SLOTS] = seq;
}

int
early_had(const server *s, uint64_t seq)
{
	return s->early_seen != NULL && s->early_seen[seq % EARLY_SEEN_SLOTS] == seq;
}

static size_t
route_slot(const uint8_t device_id[SC_DEVICE_ID])
{
	uint64_t h;

	/* Device ids are hashes of public keys: any 8 bytes of one spread well. */
	memcpy(&h, device_id, sizeof(h));
	return (size_t)(h & (EARLY_ROUTE_SLOTS - 1));
}

void
early_route_add(server *s, const uint8_t device_id[SC_DEVICE_ID])
{
	size_t i;

	if (s->seqs == NULL)
		return;
	if (s->route_cnt == NULL && (s->route_cnt = calloc(EARLY_ROUTE_SLOTS, sizeof(*s->route_cnt))) == NULL) {
		/* Without counts, say "everything here" for this slot for good. */
		atomic_fetch_or(&s->seqs->route[route_slot(device_id)], 1ULL << s->worker);
		return;
	}
	i = route_slot(device_id);
	if (s->route_cnt[i]++ == 0)
		atomic_fetch_or(&s->seqs->route[i], 1ULL << s->worker);
}

void
early_route_del(server *s, const uint8_t device_id[SC_DEVICE_ID])
{
	size_t i;

	if (s->seqs == NULL || s->route_cnt == NULL)
		return;
	i = route_slot(device_id);
	if (s->route_cnt[i] > 0 && --s->route_cnt[i] == 0)
		atomic_fetch_and(&s->seqs->route[i], ~(1ULL << s->worker));
}

uint64_t
early_route(const early_seqs *e, const uint8_t device_id[SC_DEVICE_ID])
{
	return e != NULL ? atomic_load(&((early_seqs *)e)->route[route_slot(device_id)]) : UINT64_MAX;
}

int
early_missed(server *s, const uint8_t device_id[SC_DEVICE_ID], uint64_t seq)
{
	for (conn *c = conn_first_device(s, device_id); c != NULL; c = conn_next_device(c->dnext, device_id))
		if (c->fetching && seq < c->fetch_from)
			return 1;
	return 0;
}
