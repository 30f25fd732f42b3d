/* SPDX-License-Identifier: ISC */
#include <stdlib.h>
#include <string.h>

#include "ratelimit.h"
#include "sotto/error.h"

#define LIMITS_BUCKETS	8192

/* Whose bucket an entry is; the node's has the key GLOBAL_KEY. */
enum limit_scope { SCOPE_ADDR = 0, SCOPE_DEVICE, SCOPE_ACCOUNT, SCOPE_GLOBAL, SCOPE__COUNT };
#define GLOBAL_KEY	"*"

struct limit_entry {
	limit_entry *next;
	enum limit_scope scope;
	uint8_t key[LIMITS_ADDR_MAX];
	size_t keylen;
	uint64_t conns;
	double tokens[LIMIT__COUNT];
	uint64_t at_ms[LIMIT__COUNT];	/* 0: never used, the bucket is full */
};

struct limits {
	limit_entry *b[LIMITS_BUCKETS];
	size_t n;
	uint64_t conn_cap;
	double rate[SCOPE__COUNT][LIMIT__COUNT];	/* per second; 0: no such bucket */
	double burst[SCOPE__COUNT][LIMIT__COUNT];
};

static const char *const scope_name[SCOPE__COUNT] = { "address", "device", "account", "server" };

/* A node-wide figure as one worker's share of it (at least 1). */
static double
share(double v, size_t workers)
{
	return v / (double)workers < 1.0 ? 1.0 : v / (double)workers;
}

int
limits_new(limits **out, const sottod_config *cfg, size_t workers)
{
	limits *l;

	*out = NULL;
	if ((l = calloc(1, sizeof(*l))) == NULL)
		return SOTTO_ERR_NOMEM;
	if (workers == 0)
		workers = 1;
	l->conn_cap = (cfg->max_conns_per_addr + workers - 1) / workers;
	l->rate[SCOPE_DEVICE][LIMIT_LOOKUP] = (double)cfg->lookup_rate;
	l->burst[SCOPE_DEVICE][LIMIT_LOOKUP] = (double)cfg->lookup_burst;
	l->rate[SCOPE_ACCOUNT][LIMIT_LOOKUP] = (double)cfg->lookup_rate * LIMITS_ACCOUNT_FACTOR;
	l->burst[SCOPE_ACCOUNT][LIMIT_LOOKUP] = (double)cfg->lookup_burst * LIMITS_ACCOUNT_FACTOR;
	l->rate[SCOPE_ADDR][LIMIT_LOOKUP] = (double)cfg->addr_lookup_rate;
	l->burst[SCOPE_ADDR][LIMIT_LOOKUP] = (double)cfg->addr_lookup_burst;
	l->rate[SCOPE_GLOBAL][LIMIT_LOOKUP] = share(LIMITS_GLOBAL_LOOKUP_RATE, workers);
	l->burst[SCOPE_GLOBAL][LIMIT_LOOKUP] = share(LIMITS_GLOBAL_LOOKUP_BURST, workers);
	l->rate[SCOPE_DEVICE][LIMIT_SEND] = (double)cfg->send_rate;
	l->burst[SCOPE_DEVICE][LIMIT_SEND] = (double)cfg->send_burst;
	l->rate[SCOPE_ADDR][LIMIT_SEND] = (double)cfg->addr_send_rate;
	l->burst[SCOPE_ADDR][LIMIT_SEND] = (double)cfg->addr_send_burst;
	l->rate[SCOPE_ADDR][LIMIT_LINK] = LIMITS_LINK_ADDR_RATE;
	l->burst[SCOPE_ADDR][LIMIT_LINK] = LIMITS_LINK_ADDR_BURST;
	l->rate[SCOPE_GLOBAL][LIMIT_LINK] = share(LIMITS_GLOBAL_LINK_RATE, workers);
	l->burst[SCOPE_GLOBAL][LIMIT_LINK] = share(LIMITS_GLOBAL_LINK_BURST, workers);
	*out = l;
	return SOTTO_OK;
}

void
limits_free(limits *l)
{
	limit_entry *e, *next;

	if (l == NULL)
		return;
	for (size_t i = 0; i < LIMITS_BUCKETS; i++)
		for (e = l->b[i]; e != NULL; e = next) {
			next = e->next;
			free(e);
		}
	free(l);
}

uint64_t
limits_conn_cap(const limits *l)
{
	return l->conn_cap;
}

size_t
limits_entries(const limits *l)
{
	return l->n;
}

static size_t
hash(enum limit_scope scope, const uint8_t *k, size_t n)
{
	uint32_t h = 2166136261u ^ (uint32_t)scope;

	for (size_t i = 0; i < n; i++)
		h = (h ^ k[i]) * 16777619u;
	return h % LIMITS_BUCKETS;
}

static void
refill(const limits *l, limit_entry *e, enum limit_kind k, uint64_t now)
{
	double burst = l->burst[e->scope][k];

	if (e->at_ms[k] == 0) {
		e->tokens[k] = burst;
		e->at_ms[k] = now;
		return;
	}
	if (now > e->at_ms[k]) {
		e->tokens[k] += (double)(now - e->at_ms[k]) * l->rate[e->scope][k] / 1000.0;
		if (e->tokens[k] > burst)
			e->tokens[k] = burst;
		e->at_ms[k] = now;
	}
}

static int
idle(const limits *l, limit_entry *e, uint64_t now)
{
	if (e->conns > 0)
		return 0;
	for (int k = 0; k < LIMIT__COUNT; k++) {
		if (e->at_ms[k] == 0)
			continue;
		refill(l, e, (enum limit_kind)k, now);
		if (e->tokens[k] < l->burst[e->scope][k])
			return 0;
	}
	return 1;
}

void
limits_sweep(limits *l, uint64_t now_ms)
{
	limit_entry **pp, *e;

	for (size_t i = 0; i < LIMITS_BUCKETS; i++) {
		for (pp = &l->b[i]; (e = *pp) != NULL;) {
			if (idle(l, e, now_ms)) {
				*pp = e->next;
				free(e);
				l->n--;
			} else
				pp = &e->next;
		}
	}
}

/* The entry for key, made if absent (NULL: the table is full of live entries). */
static limit_entry *
entry(limits *l, enum limit_scope scope, const uint8_t *key, size_t n, uint64_t now)
{
	size_t h;
	limit_entry *e;

	if (n == 0 || n > LIMITS_ADDR_MAX)
		return NULL;
	h = hash(scope, key, n);
	for (e = l->b[h]; e != NULL; e = e->next)
		if (e->scope == scope && e->keylen == n && memcmp(e->key, key, n) == 0)	/* not secret: addresses and device ids */
			return e;
	if (l->n >= LIMITS_MAX_ENTRIES) {
		limits_sweep(l, now);
		if (l->n >= LIMITS_MAX_ENTRIES)
			return NULL;
	}
	if ((e = calloc(1, sizeof(*e))) == NULL)
		return NULL;
	e->scope = scope;
	memcpy(e->key, key, n);
	e->keylen = n;
	e->next = l->b[h];
	l->b[h] = e;
	l->n++;
	return e;
}

static limit_entry *
addr_entry(limits *l, const char *addr, uint64_t now)
{
	return entry(l, SCOPE_ADDR, (const uint8_t *)addr, strnlen(addr, LIMITS_ADDR_MAX + 1), now);
}

limit_entry *
limits_conn_open(limits *l, const char *addr)
{
	limit_entry *e = addr_entry(l, addr, 0);

	if (e == NULL || e->conns >= l->conn_cap)
		return NULL;
	e->conns++;
	return e;
}

void
limits_conn_close(limits *l, limit_entry *e)
{
	(void)l;
	if (e != NULL && e->conns > 0)
		e->conns--;
}

/* The entries who is charged to for kind, in scope order; NULL where the
 * scope has no bucket for kind or who has no key there. 0: the table is full. */
static int
entries(limits *l, enum limit_kind kind, const limit_who *who, uint64_t now, limit_entry *e[SCOPE__COUNT],
    const char **which)
{
	const uint8_t *key[SCOPE__COUNT] = { NULL };
	size_t len[SCOPE__COUNT] = { 0 };

	if (who->addr != NULL && who->addr[0] != '\0') {
		key[SCOPE_ADDR] = (const uint8_t *)who->addr;
		len[SCOPE_ADDR] = strnlen(who->addr, LIMITS_ADDR_MAX + 1);
	}
	if (who->device != NULL) {
		key[SCOPE_DEVICE] = who->device;
		len[SCOPE_DEVICE] = SC_DEVICE_ID;
	}
	if (who->account != NULL && who->account[0] != '\0') {
		key[SCOPE_ACCOUNT] = (const uint8_t *)who->account;
		len[SCOPE_ACCOUNT] = strnlen(who->account, LIMITS_ADDR_MAX + 1);
	}
	key[SCOPE_GLOBAL] = (const uint8_t *)GLOBAL_KEY;
	len[SCOPE_GLOBAL] = sizeof(GLOBAL_KEY) - 1;
	for (int sc = 0; sc < SCOPE__COUNT; sc++)
		e[sc] = NULL;
	for (int sc = 0; sc < SCOPE__COUNT; sc++) {
		if (key[sc] == NULL || l->rate[sc][kind] <= 0)
			continue;
		if ((e[sc] = entry(l, (enum limit_scope)sc, key[sc], len[sc], now)) == NULL) {
			*which = scope_name[sc];
			return 0;
		}
	}
	return 1;
}

int
limits_take(limits *l, enum limit_kind kind, const limit_who *who, double need, double cost,
    uint64_t now_ms, const char **which)
{
	limit_entry *e[SCOPE__COUNT];

	*which = "server";
	if (!entries(l, kind, who, now_ms, e, which))
		return 0;
	if (need < cost)
		need = cost;
	for (int sc = 0; sc < SCOPE__COUNT; sc++) {
		if (e[sc] == NULL)
			continue;
		refill(l, e[sc], kind, now_ms);
		if (e[sc]->tokens[kind] < need) {
			*which = scope_name[sc];
			return 0;
		}
	}
	for (int sc = 0; sc < SCOPE__COUNT; sc++)
		if (e[sc] != NULL)
			e[sc]->tokens[kind] -= cost;
	return 1;
}

void
limits_charge(limits *l, enum limit_kind kind, const limit_who *who, double cost, uint64_t now_ms)
{
	limit_entry *e[SCOPE__COUNT];
	const char *which;

	/* A full table: whatever entries were found are still charged. */
	(void)entries(l, kind, who, now_ms, e, &which);
	for (int sc = 0; sc < SCOPE__COUNT; sc++) {
		if (e[sc] == NULL)
			continue;
		refill(l, e[sc], kind, now_ms);
		e[sc]->tokens[kind] -= cost;
		if (e[sc]->tokens[kind] < -l->burst[sc][kind])
			e[sc]->tokens[kind] = -l->burst[sc][kind];
	}
}
