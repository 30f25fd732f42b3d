/* SPDX-License-Identifier: ISC */
#include <stdlib.h>
#include <string.h>

#include "ratelimit.h"
#include "sotto/error.h"

#define LIMITS_BUCKETS	8192

struct limit_entry {
	limit_entry *next;
	int is_device;
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
	double rate[2][LIMIT__COUNT];	/* [is_device][kind] per second */
	double burst[2][LIMIT__COUNT];
};

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
	l->rate[1][LIMIT_LOOKUP] = (double)cfg->lookup_rate;
	l->burst[1][LIMIT_LOOKUP] = (double)cfg->lookup_burst;
	l->rate[0][LIMIT_LOOKUP] = (double)cfg->addr_lookup_rate;
	l->burst[0][LIMIT_LOOKUP] = (double)cfg->addr_lookup_burst;
	l->rate[1][LIMIT_SEND] = (double)cfg->send_rate;
	l->burst[1][LIMIT_SEND] = (double)cfg->send_burst;
	l->rate[0][LIMIT_SEND] = (double)cfg->addr_send_rate;
	l->burst[0][LIMIT_SEND] = (double)cfg->addr_send_burst;
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
hash(int is_device, const uint8_t *k, size_t n)
{
	uint32_t h = 2166136261u ^ (uint32_t)is_device;

	for (size_t i = 0; i < n; i++)
		h = (h ^ k[i]) * 16777619u;
	return h % LIMITS_BUCKETS;
}

static void
refill(const limits *l, limit_entry *e, enum limit_kind k, uint64_t now)
{
	double burst = l->burst[e->is_device][k];

	if (e->at_ms[k] == 0) {
		e->tokens[k] = burst;
		e->at_ms[k] = now;
		return;
	}
	if (now > e->at_ms[k]) {
		e->tokens[k] += (double)(now - e->at_ms[k]) * l->rate[e->is_device][k] / 1000.0;
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
		if (e->tokens[k] < l->burst[e->is_device][k])
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
entry(limits *l, int is_device, const uint8_t *key, size_t n, uint64_t now)
{
	size_t h;
	limit_entry *e;

	if (n == 0 || n > LIMITS_ADDR_MAX)
		return NULL;
	h = hash(is_device, key, n);
	for (e = l->b[h]; e != NULL; e = e->next)
		if (e->is_device == is_device && e->keylen == n && memcmp(e->key, key, n) == 0)	/* not secret: addresses and device ids */
			return e;
	if (l->n >= LIMITS_MAX_ENTRIES) {
		limits_sweep(l, now);
		if (l->n >= LIMITS_MAX_ENTRIES)
			return NULL;
	}
	if ((e = calloc(1, sizeof(*e))) == NULL)
		return NULL;
	e->is_device = is_device;
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
	return entry(l, 0, (const uint8_t *)addr, strnlen(addr, LIMITS_ADDR_MAX + 1), now);
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

int
limits_take(limits *l, enum limit_kind kind, const uint8_t device[SC_DEVICE_ID], const char *addr,
    double cost, uint64_t now_ms, const char **which)
{
	limit_entry *d = NULL, *a = NULL;

	*which = "device";
	if (device != NULL && (d = entry(l, 1, device, SC_DEVICE_ID, now_ms)) == NULL)
		return 0;
	*which = "address";
	if (addr != NULL && *addr != '\0' && (a = addr_entry(l, addr, now_ms)) == NULL)
		return 0;
	if (d != NULL) {
		refill(l, d, kind, now_ms);
		if (d->tokens[kind] < cost) {
			*which = "device";
			return 0;
		}
	}
	if (a != NULL) {
		refill(l, a, kind, now_ms);
		if (a->tokens[kind] < cost) {
			*which = "address";
			return 0;
		}
	}
	if (d != NULL)
		d->tokens[kind] -= cost;
	if (a != NULL)
		a->tokens[kind] -= cost;
	return 1;
}

static void
charge_one(const limits *l, limit_entry *e, enum limit_kind kind, double cost, uint64_t now)
{
	if (e == NULL)
		return;
	refill(l, e, kind, now);
	e->tokens[kind] -= cost;
	if (e->tokens[kind] < 0)
		e->tokens[kind] = 0;
}

void
limits_charge(limits *l, enum limit_kind kind, const uint8_t device[SC_DEVICE_ID], const char *addr,
    double cost, uint64_t now_ms)
{
	if (device != NULL)
		charge_one(l, entry(l, 1, device, SC_DEVICE_ID, now_ms), kind, cost, now_ms);
	if (addr != NULL && *addr != '\0')
		charge_one(l, addr_entry(l, addr, now_ms), kind, cost, now_ms);
}
