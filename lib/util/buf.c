/* SPDX-License-Identifier: ISC */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "crypto.h"
#include "sotto/error.h"

void
sbr_init(sbuf_reader *r, const void *p, size_t len)
{
	r->p = p;
	r->len = p != NULL ? len : 0;
	r->off = 0;
}

size_t
sbr_remaining(const sbuf_reader *r)
{
	return r->len - r->off;
}

int
sbr_ptr(sbuf_reader *r, size_t n, const uint8_t **p)
{
	*p = NULL;
	if (n > sbr_remaining(r))
		return SOTTO_ERR_TRUNCATED;
	*p = r->p + r->off;
	r->off += n;
	return SOTTO_OK;
}

int
sbr_copy(sbuf_reader *r, void *out, size_t n)
{
	const uint8_t *p;
	int rc;

	if ((rc = sbr_ptr(r, n, &p)) != SOTTO_OK) {
		if (n > 0)
			memset(out, 0, n);
		return rc;
	}
	if (n > 0)
		memcpy(out, p, n);
	return SOTTO_OK;
}

static int
get_be(sbuf_reader *r, size_t n, uint64_t *v)
{
	const uint8_t *p;
	uint64_t x = 0;
	size_t i;
	int rc;

	*v = 0;
	if ((rc = sbr_ptr(r, n, &p)) != SOTTO_OK)
		return rc;
	for (i = 0; i < n; i++)
		x = (x << 8) | p[i];
	*v = x;
	return SOTTO_OK;
}

int
sbr_u8(sbuf_reader *r, uint8_t *v)
{
	uint64_t x;
	int rc = get_be(r, 1, &x);

	*v = (uint8_t)x;
	return rc;
}

int
sbr_u16(sbuf_reader *r, uint16_t *v)
{
	uint64_t x;
	int rc = get_be(r, 2, &x);

	*v = (uint16_t)x;
	return rc;
}

int
sbr_u32(sbuf_reader *r, uint32_t *v)
{
	uint64_t x;
	int rc = get_be(r, 4, &x);

	*v = (uint32_t)x;
	return rc;
}

int
sbr_u64(sbuf_reader *r, uint64_t *v)
{
	return get_be(r, 8, v);
}

/* Length prefix of width w bytes, then that many bytes; cursor unchanged on failure. */
static int
get_str(sbuf_reader *r, size_t w, size_t max, const uint8_t **p, size_t *n)
{
	size_t start = r->off;
	uint64_t len;
	int rc;

	*p = NULL;
	*n = 0;
	if ((rc = get_be(r, w, &len)) != SOTTO_OK)
		return rc;
	if (len > max) {
		r->off = start;
		return SOTTO_ERR_TOO_LARGE;
	}
	if ((rc = sbr_ptr(r, (size_t)len, p)) != SOTTO_OK) {
		r->off = start;
		return rc;
	}
	*n = (size_t)len;
	return SOTTO_OK;
}

int
sbr_str8(sbuf_reader *r, size_t max, const uint8_t **p, size_t *n)
{
	return get_str(r, 1, max, p, n);
}

int
sbr_str16(sbuf_reader *r, size_t max, const uint8_t **p, size_t *n)
{
	return get_str(r, 2, max, p, n);
}

int
sbr_str32(sbuf_reader *r, size_t max, const uint8_t **p, size_t *n)
{
	return get_str(r, 4, max, p, n);
}

int
sbr_done(const sbuf_reader *r)
{
	return sbr_remaining(r) == 0 ? SOTTO_OK : SOTTO_ERR_TRAILING;
}

void
sbw_init(sbuf *b, size_t max)
{
	memset(b, 0, sizeof(*b));
	b->max = max;
}

void
sbw_free(sbuf *b)
{
	if (b == NULL)
		return;
	if (b->p != NULL) {
		sc_wipe(b->p, b->cap);
		free(b->p);
	}
	b->p = NULL;
	b->len = b->cap = 0;
}

void
sbw_clear(sbuf *b)
{
	b->len = 0;
	b->err = 0;
}

int
sbw_error(const sbuf *b)
{
	return b->err;
}

uint8_t *
sbw_reserve(sbuf *b, size_t n)
{
	uint8_t *np;
	size_t ncap;

	if (b->err != SOTTO_OK)
		return NULL;
	if (n > b->max || b->len > b->max - n) {
		b->err = SOTTO_ERR_TOO_LARGE;
		return NULL;
	}
	if (b->len + n > b->cap) {
		ncap = b->cap ? b->cap : 64;
		while (ncap < b->len + n)
			ncap = ncap > b->max / 2 ? b->max : ncap * 2;
		/* Grow by copying so that the old bytes can be wiped (they may be secret). */
		if ((np = malloc(ncap)) == NULL) {
			b->err = SOTTO_ERR_NOMEM;
			return NULL;
		}
		if (b->p != NULL) {
			memcpy(np, b->p, b->len);
			sc_wipe(b->p, b->cap);
			free(b->p);
		}
		b->p = np;
		b->cap = ncap;
	}
	np = b->p + b->len;
	b->len += n;
	return np;
}

int
sbw_put(sbuf *b, const void *p, size_t n)
{
	uint8_t *d;

	if (n == 0)
		return b->err;
	if ((d = sbw_reserve(b, n)) == NULL)
		return b->err;
	memcpy(d, p, n);
	return SOTTO_OK;
}

static int
put_be(sbuf *b, size_t n, uint64_t v)
{
	uint8_t t[8];
	size_t i;

	for (i = 0; i < n; i++)
		t[n - 1 - i] = (uint8_t)(v >> (8 * i));
	return sbw_put(b, t, n);
}

int sbw_u8(sbuf *b, uint8_t v) { return put_be(b, 1, v); }
int sbw_u16(sbuf *b, uint16_t v) { return put_be(b, 2, v); }
int sbw_u32(sbuf *b, uint32_t v) { return put_be(b, 4, v); }
int sbw_u64(sbuf *b, uint64_t v) { return put_be(b, 8, v); }

static int
put_str(sbuf *b, size_t w, uint64_t lim, const void *p, size_t n)
{
	if ((uint64_t)n > lim) {
		if (b->err == SOTTO_OK)
			b->err = SOTTO_ERR_TOO_LARGE;
		return b->err;
	}
	put_be(b, w, n);
	return sbw_put(b, p, n);
}

int sbw_str8(sbuf *b, const void *p, size_t n) { return put_str(b, 1, 0xff, p, n); }
int sbw_str16(sbuf *b, const void *p, size_t n) { return put_str(b, 2, 0xffff, p, n); }
int sbw_str32(sbuf *b, const void *p, size_t n) { return put_str(b, 4, 0xffffffffu, p, n); }

uint8_t *
sbw_steal(sbuf *b, size_t *len)
{
	uint8_t *p = b->p;

	*len = b->len;
	b->p = NULL;
	b->len = b->cap = 0;
	return p;
}
