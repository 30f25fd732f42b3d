/* SPDX-License-Identifier: ISC */
/* placeholder so the object library is never empty; the CLI helper replaces it */
