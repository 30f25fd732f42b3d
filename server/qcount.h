/* SPDX-License-Identifier: ISC */
#ifndef SOTTOD_QCOUNT_H
#define SOTTOD_QCOUNT_H

#include <stdint.h>

#include "caps.h"
#include "crypto.h"

/*
 * Counts a batch's transaction needs for its caps, as that transaction sees
 * them: copies queued per device (mailbox_cap), copies queued per device from
 * one sender account (its share: mailbox_sender_cap), and bytes stored per
 * sender account (account_quota_bytes). Counting the first two is a scan of
 * index entries, the third a lookup. Within one transaction each is taken
 * once, then kept up to date by the batch's own inserts and deletions.
 * Forgotten (qcount_reset) at every new transaction and whenever part of one
 * is rolled back. Fixed size: when it is full, counts are taken again. A NULL
 * table (out of memory) keeps nothing. An Ack deleting a copy that had
 * expired (not yet swept) lowers the queue count by one the scan would not
 * have counted: the cap may then be passed by as many copies, until the
 * sweep. An Ack does not say whose copies it deleted (qcount_deleted): the
 * device's shares and every sender's bytes are counted again when next
 * asked for, which a count kept for the queue alone never needs.
 */
typedef struct qcount qcount;

enum qcount_kind {
	QC_QUEUE = 0,	/* copies queued for id */
	QC_SHARE,	/* copies queued for id from sender */
	QC_BYTES,	/* bytes stored from sender (id unused: zeros) */
};

qcount *qcount_new(void);
void qcount_free(qcount *q);
void qcount_reset(qcount *q);
/* The count kept for (kind, id, sender), or NULL when it was not counted in
 * this transaction. sender: a handle (NULL for QC_QUEUE); id NULL: zeros. */
uint64_t *qcount_find_key(qcount *q, enum qcount_kind kind, const uint8_t *id, const char *sender);
/* Keep n as that count (replacing a stale one); NULL when the table is full. */
uint64_t *qcount_put_key(qcount *q, enum qcount_kind kind, const uint8_t *id, const char *sender,
    uint64_t n);
/* An Ack deleted n copies queued for id: its queue count goes down by n, and
 * its shares and all bytes kept are stale from now (found no more). */
void qcount_deleted(qcount *q, const uint8_t id[SC_DEVICE_ID], uint64_t n);
/* QC_QUEUE of id. */
uint64_t *qcount_find(qcount *q, const uint8_t id[SC_DEVICE_ID]);
uint64_t *qcount_put(qcount *q, const uint8_t id[SC_DEVICE_ID], uint64_t n);

#endif
