/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "array.h"
#include "sotto/error.h"
#include "store_wake.h"
#include "wire.h"

/* Pipes get this much room (Linux's unprivileged maximum is 1 MiB by default):
 * a worker busy for a moment must not make the others drop wake-ups. */
#define WAKEPIPE_SIZE	(1024 * 1024)

int
wakeq_push(wakeq *q, const store_wake *w)
{
	if ((w->kind != STORE_WAKE_COPY && w->kind != STORE_WAKE_EARLY_COPY &&
	    w->kind != STORE_WAKE_LIST) ||
	    (w->kind == STORE_WAKE_LIST && !handle_valid(w->handle)))
		return SOTTO_ERR_INVALID_ARG;
	if (q->n == WAKEQ_MAX) {
		q->dropped++;
		return SOTTO_OK;
	}
	if (array_grow(&q->w, &q->cap, q->n, sizeof(*q->w), 64, WAKEQ_MAX) != SOTTO_OK)
		return SOTTO_ERR_NOMEM;
	q->w[q->n++] = *w;
	return SOTTO_OK;
}

void
wakeq_clear(wakeq *q)
{
	q->n = 0;
	q->dropped = 0;
}

void
wakeq_free(wakeq *q)
{
	free(q->w);
	memset(q, 0, sizeof(*q));
}

int
wake_put(sbuf *b, const store_wake *w)
{
	sbw_u8(b, (uint8_t)w->kind);
	if (w->kind == STORE_WAKE_COPY || w->kind == STORE_WAKE_EARLY_COPY) {
		sbw_put(b, w->device_id, SC_DEVICE_ID);
		sbw_u64(b, w->seq);
	} else if (w->kind == STORE_WAKE_DELIVER) {
		sbw_put(b, w->device_id, SC_DEVICE_ID);
		sbw_u64(b, w->seq);
		sbw_u64(b, w->stored_at);
		sbw_u32(b, (uint32_t)w->wrap_len);
		sbw_put(b, w->wrap, w->wrap_len);
		sbw_u32(b, (uint32_t)w->envelope_len);
		sbw_put(b, w->envelope, w->envelope_len);
	} else {
		sbw_u64(b, w->version);
		sbw_str8(b, w->handle, strnlen(w->handle, SOTTO_MAX_HANDLE));
	}
	return sbw_error(b);
}

int
wake_get(sbuf_reader *r, store_wake *w)
{
	const uint8_t *h;
	size_t hl;
	uint8_t kind;
	int rc;

	memset(w, 0, sizeof(*w));
	if ((rc = sbr_u8(r, &kind)) != SOTTO_OK)
		return rc;
	if (kind == STORE_WAKE_COPY || kind == STORE_WAKE_EARLY_COPY || kind == STORE_WAKE_DELIVER) {
		uint32_t wl, el;

		w->kind = (enum store_wake_kind)kind;
		if ((rc = sbr_copy(r, w->device_id, SC_DEVICE_ID)) != SOTTO_OK ||
		    (rc = sbr_u64(r, &w->seq)) != SOTTO_OK)
			return rc;
		if (w->seq == 0)
			return SOTTO_ERR_FORMAT;
		if (kind != STORE_WAKE_DELIVER)
			return SOTTO_OK;
		if ((rc = sbr_u64(r, &w->stored_at)) != SOTTO_OK ||
		    (rc = sbr_u32(r, &wl)) != SOTTO_OK ||
		    (rc = sbr_ptr(r, wl, &w->wrap)) != SOTTO_OK ||
		    (rc = sbr_u32(r, &el)) != SOTTO_OK ||
		    (rc = sbr_ptr(r, el, &w->envelope)) != SOTTO_OK)
			return rc;
		w->wrap_len = wl;
		w->envelope_len = el;
		return wl == 0 || el == 0 ? SOTTO_ERR_FORMAT : SOTTO_OK;
	}
	if (kind != STORE_WAKE_LIST)
		return SOTTO_ERR_FORMAT;
	w->kind = STORE_WAKE_LIST;
	if ((rc = sbr_u64(r, &w->version)) != SOTTO_OK ||
	    (rc = sbr_str8(r, SOTTO_MAX_HANDLE, &h, &hl)) != SOTTO_OK)
		return rc;
	/* An embedded NUL would cut the handle short: not a handle. */
	if (memchr(h, '\0', hl) != NULL)
		return SOTTO_ERR_FORMAT;
	memcpy(w->handle, h, hl);
	w->handle[hl] = '\0';
	return handle_valid(w->handle) ? SOTTO_OK : SOTTO_ERR_FORMAT;
}

int
store_wakegroup_make(store_wakegroup *g, size_t n)
{
	int fds[2];

	memset(g, 0, sizeof(*g));
	for (size_t i = 0; i < STORE_MAX_WORKERS; i++)
		g->rd[i] = g->wr[i] = -1;
	if (n == 0 || n > STORE_MAX_WORKERS)
		return SOTTO_ERR_INVALID_ARG;
	for (size_t i = 0; i < n; i++) {
		if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) {
			store_wakegroup_close(g);
			return SOTTO_ERR_IO;
		}
		/* Best effort: the default 64 KiB still works, only drops sooner. */
		(void)fcntl(fds[1], F_SETPIPE_SZ, WAKEPIPE_SIZE);
		g->rd[i] = fds[0];
		g->wr[i] = fds[1];
		g->n = i + 1;
	}
	return SOTTO_OK;
}

void
store_wakegroup_close(store_wakegroup *g)
{
	for (size_t i = 0; i < g->n; i++) {
		if (g->rd[i] >= 0)
			close(g->rd[i]);
		if (g->wr[i] >= 0)
			close(g->wr[i]);
		g->rd[i] = g->wr[i] = -1;
	}
	g->n = 0;
}

static void
write_one(wakepipe *p, size_t member, const uint8_t *buf, size_t len, size_t records)
{
	/* <= PIPE_BUF: all of it or nothing, never interleaved with another writer. */
	if (write(p->g->wr[member], buf, len) != (ssize_t)len)
		p->dropped += records;
}

/*
 * Each record is encoded once and queued for the members that want it (a list
 * for all; a copy for those its route names), then every queue is written:
 * whole records, at most PIPE_BUF bytes per write.
 */
void
wakepipe_send(wakepipe *p, const wakeq *q)
{
	sbuf b;

	if (p->g == NULL || p->g->n < 2)
		return;
	sbw_init(&b, WAKE_RECORD_MAX);
	for (size_t i = 0; i < q->n; i++) {
		const store_wake *w = &q->w[i];
		uint64_t to = p->route == NULL || w->kind == STORE_WAKE_LIST ? UINT64_MAX :
		    p->route(p->route_arg, w->device_id);

		sbw_clear(&b);
		if (wake_put(&b, w) != SOTTO_OK || wakepipe_queue(p, to, b.p, b.len) != SOTTO_OK)
			p->dropped++;
	}
	sbw_free(&b);
	wakepipe_flush(p);
}

int
wakepipe_queue(wakepipe *p, uint64_t mask, const uint8_t *rec, size_t len)
{
	if (p->g == NULL || p->g->n < 2)
		return SOTTO_OK;
	if (len > PIPE_BUF)
		return SOTTO_ERR_TOO_LARGE;
	if (p->out == NULL && (p->out = malloc(p->g->n * (size_t)PIPE_BUF)) == NULL)
		return SOTTO_ERR_NOMEM;
	for (size_t j = 0; j < p->g->n; j++) {
		if (j == p->self || !((mask >> j) & 1))
			continue;
		if (len > PIPE_BUF - p->out_len[j]) {
			write_one(p, j, p->out + j * PIPE_BUF, p->out_len[j], p->out_records[j]);
			p->out_len[j] = p->out_records[j] = 0;
		}
		memcpy(p->out + j * PIPE_BUF + p->out_len[j], rec, len);
		p->out_len[j] += len;
		p->out_records[j]++;
	}
	return SOTTO_OK;
}

void
wakepipe_flush(wakepipe *p)
{
	if (p->g == NULL || p->out == NULL)
		return;
	for (size_t j = 0; j < p->g->n; j++)
		if (p->out_len[j] > 0) {
			write_one(p, j, p->out + j * PIPE_BUF, p->out_len[j], p->out_records[j]);
			p->out_len[j] = p->out_records[j] = 0;
		}
}

void
wakepipe_free(wakepipe *p)
{
	free(p->out);
	p->out = NULL;
}

int
wakepipe_drain(wakepipe *p, store_wake_fn fn, void *arg)
{
	sbuf_reader r;
	store_wake w;
	size_t keep;
	ssize_t got;

	if (p->g == NULL)
		return SOTTO_OK;
	for (;;) {
		got = read(p->g->rd[p->self], p->in + p->in_len, sizeof(p->in) - p->in_len);
		if (got < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN ? SOTTO_OK : SOTTO_ERR_IO;
		}
		if (got == 0)
			return SOTTO_ERR_IO;	/* every writer gone: the supervisor died */
		p->in_len += (size_t)got;
		sbr_init(&r, p->in, p->in_len);
		for (;;) {
			size_t at = r.off;
			int rc = wake_get(&r, &w);

			if (rc == SOTTO_ERR_TRUNCATED) {
				r.off = at;	/* the rest of it is still in the pipe */
				break;
			}
			if (rc != SOTTO_OK) {
				/* Only this node writes here; a bad record means a bug: resync. */
				r.off = r.len;
				break;
			}
			fn(arg, &w);
		}
		keep = r.len - r.off;
		memmove(p->in, p->in + r.off, keep);
		p->in_len = keep;
	}
}
