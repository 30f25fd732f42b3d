/* SPDX-License-Identifier: ISC */
/*
 * Bounded byte buffers: the only way libsotto, sottod and sotto read bytes that
 * came from the network, a database or a file, and the way they write the
 * binary formats of docs/PROTOCOL.md.
 *
 * Reader: a cursor over borrowed bytes. Every getter checks what remains (by
 * subtraction, so the check cannot overflow) before reading; on failure it
 * returns a negative sotto_err, leaves the cursor where it was and clears its
 * outputs. All integers are big-endian.
 *
 * Writer: a growable buffer with a hard maximum and a sticky error: callers may
 * chain puts and check sbw_error() once. Freed contents are wiped.
 */
#ifndef SOTTO_BUF_H
#define SOTTO_BUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct sbuf_reader {
	const uint8_t *p;	/* borrowed, not owned */
	size_t len;
	size_t off;
} sbuf_reader;

void sbr_init(sbuf_reader *r, const void *p, size_t len);
size_t sbr_remaining(const sbuf_reader *r);
int sbr_u8(sbuf_reader *r, uint8_t *v) __attribute__((warn_unused_result));
int sbr_u16(sbuf_reader *r, uint16_t *v) __attribute__((warn_unused_result));
int sbr_u32(sbuf_reader *r, uint32_t *v) __attribute__((warn_unused_result));
int sbr_u64(sbuf_reader *r, uint64_t *v) __attribute__((warn_unused_result));
/* Copy exactly n bytes into out. */
int sbr_copy(sbuf_reader *r, void *out, size_t n) __attribute__((warn_unused_result));
/* Borrow exactly n bytes (pointer valid as long as the underlying bytes). */
int sbr_ptr(sbuf_reader *r, size_t n, const uint8_t **p) __attribute__((warn_unused_result));
/* Length-prefixed (u8/u16/u32 length) borrowed byte strings; a length above max
 * is SOTTO_ERR_TOO_LARGE, checked before what remains. */
int sbr_str8(sbuf_reader *r, size_t max, const uint8_t **p, size_t *n) __attribute__((warn_unused_result));
int sbr_str16(sbuf_reader *r, size_t max, const uint8_t **p, size_t *n) __attribute__((warn_unused_result));
int sbr_str32(sbuf_reader *r, size_t max, const uint8_t **p, size_t *n) __attribute__((warn_unused_result));
/* SOTTO_OK if nothing remains, else SOTTO_ERR_TRAILING. */
int sbr_done(const sbuf_reader *r) __attribute__((warn_unused_result));

typedef struct sbuf {
	uint8_t *p;	/* owned; NULL until the first put */
	size_t len;
	size_t cap;
	size_t max;	/* hard maximum length */
	int err;	/* sticky: first error of any put */
} sbuf;

void sbw_init(sbuf *b, size_t max);
void sbw_free(sbuf *b);		/* wipes and frees; accepts a zeroed sbuf */
/* Empty b (and forget its error) but keep its memory: one sbuf for many records. */
void sbw_clear(sbuf *b);
int sbw_error(const sbuf *b);
int sbw_put(sbuf *b, const void *p, size_t n);
int sbw_u8(sbuf *b, uint8_t v);
int sbw_u16(sbuf *b, uint16_t v);
int sbw_u32(sbuf *b, uint32_t v);
int sbw_u64(sbuf *b, uint64_t v);
int sbw_str8(sbuf *b, const void *p, size_t n);	/* n <= 255 */
int sbw_str16(sbuf *b, const void *p, size_t n);	/* n <= 65535 */
int sbw_str32(sbuf *b, const void *p, size_t n);
/* Reserve n bytes at the end and return a pointer to them (NULL on error). */
uint8_t *sbw_reserve(sbuf *b, size_t n);
/* Hand the bytes to the caller (caller frees with free()); b is reset. */
uint8_t *sbw_steal(sbuf *b, size_t *len);

#endif
