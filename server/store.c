/* SPDX-License-Identifier: ISC */
#include <stdlib.h>

#include "store.h"

void
store_blobs_free(store_blob *b, size_t n)
{
	if (b == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		free(b[i].p);
	free(b);
}

void
store_copies_free(store_copy *c, size_t n)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < n; i++) {
		free(c[i].envelope);
		free(c[i].wrap);
	}
	free(c);
}
