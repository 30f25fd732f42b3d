/* SPDX-License-Identifier: ISC */
/* placeholder so the object library is never empty; the server helper replaces it */
