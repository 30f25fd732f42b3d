/* SPDX-License-Identifier: ISC */
#ifndef SOTTO_ARRAY_H
#define SOTTO_ARRAY_H

#include <stddef.h>

/*
 * Room for one more element in a growable array: *arrp (a pointer to the
 * array's pointer) holds *cap elements of elem bytes, n of them used. When
 * n == *cap the array doubles (to `first` when empty), never past max
 * elements and never so far that the byte count would overflow.
 * SOTTO_ERR_TOO_LARGE past max, SOTTO_ERR_NOMEM; the array is unchanged then.
 */
int array_grow(void *arrp, size_t *cap, size_t n, size_t elem, size_t first, size_t max)
    __attribute__((warn_unused_result));

#endif
