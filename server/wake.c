/* SPDX-License-Identifier: ISC */
#include <stdlib.h>
#include <string.h>

#include "array.h"
#include "log.h"
#include "metrics.h"
#include "server.h"
#include "sotto/error.h"

/* Wake-ups held between a drain and acting on them; more are dropped (the
 * devices still get their copies on their next fetch). */
#define WAKE_BATCH_MAX	65536

static void
collect(void *arg, const store_wake *w)
{
	server *s = arg;

	/* A copy pushed before its commit (early.c): its bytes are borrowed from
	 * the pipe's buffer, so it goes out now rather than into the queue. */
	if (w->kind == STORE_WAKE_DELIVER) {
		early_push(s, w->device_id, w->seq, w->stored_at, w->envelope, w->envelope_len, w->wrap,
		    w->wrap_len, 0);
		early_got(s, w->seq);
		return;
	}

	if (array_grow(&s->wakes, &s->wakes_cap, s->wakes_n, sizeof(*s->wakes), 256, WAKE_BATCH_MAX) !=
	    SOTTO_OK) {
		metrics_error(ME_WAKE);
		return;
	}
	s->wakes[s->wakes_n++] = *w;
}

/* A fetching connection of the device, or NULL: its account names the queue. */
static const conn *
fetching_conn(server *s, const uint8_t id[SC_DEVICE_ID])
{
	for (conn *c = conn_first_device(s, id); c != NULL; c = conn_next_device(c->dnext, id))
		if (c->fetching)
			return c;
	return NULL;
}

/* Another worker or node published a list: the same hint and cut-off as for a
 * list published here, from the list now stored. A worker none of whose
 * connections follows the handle (the account's own follow it) has nothing to
 * do: one publish is not a read of the store on every worker of every node. */
static void
list_changed(server *s, const char *handle)
{
	dl_list *l;
	conn *c;

	for (c = s->conns; c != NULL; c = c->next)
		if (c->state == CONN_AUTHED && dir_follows(c, handle))
			break;
	if (c == NULL)
		return;
	if ((l = malloc(sizeof(*l))) == NULL)
		return;
	if (dir_current(s->st, handle, l, NULL, NULL) == SOTTO_OK)
		dir_published(s, l, NULL);
	else
		metrics_error(ME_STORAGE);
	free(l);
}

/*
 * The copy is read back from the store: the worker that committed it holds
 * the bytes, this one only its seq. A copy already acknowledged (or expired)
 * is simply gone.
 */
static void
push_copy(server *s, const store_wake *w, uint64_t now, int missed_only)
{
	store_copy *cp = NULL;
	const conn *fc;
	int rc;

	if ((fc = fetching_conn(s, w->device_id)) == NULL ||
	    (missed_only && !early_missed(s, w->device_id, w->seq)))
		return;
	if ((rc = s->st->ops->copy_get(s->st, fc->handle, w->device_id, w->seq, now, &cp)) != SOTTO_OK) {
		if (rc != SOTTO_ERR_NOT_FOUND) {
			metrics_error(ME_STORAGE);
			log_warn("wake_fetch_failed", "seq=%llu err=\"%s\"", (unsigned long long)w->seq,
			    sotto_strerror(rc));
		}
		return;
	}
	early_push(s, w->device_id, cp->seq, cp->stored_at, cp->envelope, cp->envelope_len, cp->wrap,
	    cp->wrap_len, missed_only);
	store_copies_free(cp, 1);
}

int
wake_run(server *s, int io)
{
	uint64_t now;
	size_t n;
	int rc;

	rc = s->st->ops->wake_drain(s->st, io, collect, s);
	if ((n = s->wakes_n) == 0)
		return rc;
	now = now_ms();
	s->wakes_n = 0;
	for (size_t i = 0; i < n; i++) {
		const store_wake *w = &s->wakes[i];

		/* An EARLY_COPY whose DELIVER never came (a full pipe) is a COPY. */
		if (w->kind == STORE_WAKE_COPY || w->kind == STORE_WAKE_EARLY_COPY)
			push_copy(s, w, now, w->kind == STORE_WAKE_EARLY_COPY && early_had(s, w->seq));
		else if (w->kind == STORE_WAKE_LIST)
			list_changed(s, w->handle);
	}
	log_debug("wake", "n=%zu", n);
	return rc;
}

void
wake_free(server *s)
{
	free(s->wakes);
	s->wakes = NULL;
	s->wakes_n = s->wakes_cap = 0;
}

void
wake_announce_list(store *st, const char *handle, uint64_t version)
{
	store_wake w;

	memset(&w, 0, sizeof(w));
	w.kind = STORE_WAKE_LIST;
	w.version = version;
	snprintf(w.handle, sizeof(w.handle), "%s", handle);
	/* A hint only: if it cannot be queued, devices still see the list on lookup. */
	if (st->ops->announce(st, &w) != SOTTO_OK)
		metrics_error(ME_WAKE);
}
