/* SPDX-License-Identifier: ISC */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "array.h"
#include "sotto/error.h"

int
array_grow(void *arrp, size_t *cap, size_t n, size_t elem, size_t first, size_t max)
{
	void *p, *np;
	size_t ncap;

	if (n < *cap)
		return SOTTO_OK;
	if (*cap >= max || (*cap > 0 && *cap > SIZE_MAX / 2))
		return SOTTO_ERR_TOO_LARGE;
	ncap = *cap == 0 ? first : *cap * 2;
	if (ncap > max)
		ncap = max;
	if (ncap == 0 || elem == 0 || ncap > SIZE_MAX / elem)
		return SOTTO_ERR_TOO_LARGE;
	/* Through memcpy: the caller's pointer may be of any object type. */
	memcpy(&p, arrp, sizeof(p));
	if ((np = realloc(p, ncap * elem)) == NULL)
		return SOTTO_ERR_NOMEM;
	memcpy(arrp, &np, sizeof(np));
	*cap = ncap;
	return SOTTO_OK;
}
