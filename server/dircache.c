/* SPDX-License-Identifier: ISC */
/*
 * The send path's device lists, parsed once. Every send checks each
 * recipient's list (and the sender's own) against the current one: two reads
 * of the store and two parses per message. On a SQLite node the workers share
 * a directory generation (early.c), bumped after every commit that changed a
 * list; an entry is used only while the generation it was read under holds.
 *
 * The generation is read before the store: a list committed after that read
 * bumps it, so the entry dies at once. A send checked between a list's commit
 * and the bump (the same worker, microseconds) is checked against the list
 * before, as if it had come just before the commit.
 *
 * PostgreSQL nodes share no memory: there every call reads the store.
 */
#include <stdlib.h>
#include <string.h>

#include "server.h"
#include "sotto/error.h"

/* Lists kept per worker (direct-mapped by handle): at most this many parsed
 * lists (about 4 KiB each) stay in memory. */
#define DIRCACHE_SLOTS	1024

typedef struct dc_entry {
	uint64_t gen;
	char handle[SOTTO_MAX_HANDLE + 1];	/* "": empty */
	dl_list *l;
} dc_entry;

struct dircache {
	dc_entry e[DIRCACHE_SLOTS];
};

static size_t
slot_of(const char *handle)
{
	uint64_t h = 1469598103934665603ULL;	/* FNV-1a */

	for (; *handle != '\0'; handle++)
		h = (h ^ (uint8_t)*handle) * 1099511628211ULL;
	return (size_t)(h % DIRCACHE_SLOTS);
}

int
dircache_get(server *s, const char *handle, dl_list *buf, const dl_list **out)
{
	dc_entry *e;
	uint64_t gen;
	int rc;

	*out = NULL;
	if (s->seqs == NULL || (s->dc == NULL && (s->dc = calloc(1, sizeof(*s->dc))) == NULL)) {
		if (buf == NULL)
			return SOTTO_ERR_NOMEM;
		if ((rc = dir_current(s->st, handle, buf, NULL, NULL)) == SOTTO_OK)
			*out = buf;
		return rc;
	}
	gen = early_dir_gen(s->seqs);
	e = &s->dc->e[slot_of(handle)];
	if (e->handle[0] != '\0' && e->gen == gen && strcmp(e->handle, handle) == 0) {
		*out = e->l;
		return SOTTO_OK;
	}
	e->handle[0] = '\0';
	if (e->l == NULL && (e->l = malloc(sizeof(*e->l))) == NULL)
		return SOTTO_ERR_NOMEM;
	if ((rc = dir_current(s->st, handle, e->l, NULL, NULL)) != SOTTO_OK)
		return rc;
	e->gen = gen;
	snprintf(e->handle, sizeof(e->handle), "%s", handle);
	*out = e->l;
	return SOTTO_OK;
}

void
dircache_free(server *s)
{
	if (s->dc == NULL)
		return;
	for (size_t i = 0; i < DIRCACHE_SLOTS; i++)
		free(s->dc->e[i].l);
	free(s->dc);
	s->dc = NULL;
}
