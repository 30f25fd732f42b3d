/* SPDX-License-Identifier: ISC */
#ifndef SOTTOD_QCOUNT_H
#define SOTTOD_QCOUNT_H

#include <stdint.h>

#include "crypto.h"

/*
 * Copies queued per device, as one batch's transaction sees them: the mailbox
 * cap is checked against a count of the device's queue, and counting is a scan
 * of its index entries. Within one transaction the count is taken once per
 * device, then kept up to date by the batch's own inserts and deletions.
 * Forgotten (qcount_reset) at every new transaction and whenever part of one
 * is rolled back. Fixed size: when it is full, devices are counted again. A
 * NULL table (out of memory) keeps nothing. An Ack deleting a copy that had
 * expired (not yet swept) lowers the count by one the scan would not have
 * counted: the cap may then be passed by as many copies, until the sweep.
 */
typedef struct qcount qcount;

qcount *qcount_new(void);
void qcount_free(qcount *q);
void qcount_reset(qcount *q);
/* The count kept for id, or NULL when it was not counted in this transaction. */
uint64_t *qcount_find(qcount *q, const uint8_t id[SC_DEVICE_ID]);
/* Keep n as id's count (id not kept yet); NULL when the table is full. */
uint64_t *qcount_put(qcount *q, const uint8_t id[SC_DEVICE_ID], uint64_t n);

#endif
