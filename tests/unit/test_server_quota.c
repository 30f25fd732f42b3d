/* SPDX-License-Identifier: ISC */
/*
 * The sender shares and account quotas alone (server/quota.h, qcount.h): the
 * share and bytes decisions at and around their bounds, the byte-rate bucket
 * (burst, refill, debt, one bucket per account shared by its devices, the
 * per-worker split, a table full of busy accounts), the counts a batch keeps
 * and what an Ack makes stale, and the config keys (only lowered).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "config.h"
#include "crypto.h"
#include "qcount.h"
#include "quota.h"
#include "sotto/error.h"

static void
test_share_and_queue(void **state)
{
	sottod_config c;

	(void)state;
	config_defaults(&c);
	assert_int_equal(quota_share_cap(&c), CONFIG_DEFAULT_MAILBOX_SENDER_CAP);
	/* the share: up to its cap from one sender, whatever the others hold */
	assert_int_equal(quota_copy_check(&c, 0, 0), QV_OK);
	assert_int_equal(quota_copy_check(&c, 5000, 999), QV_OK);
	assert_int_equal(quota_copy_check(&c, 1000, 1000), QV_SHARE_FULL);
	assert_int_equal(quota_copy_check(&c, 9999, 1000), QV_SHARE_FULL);
	/* one sender at its cap does not stop another: the queue has room */
	assert_int_equal(quota_copy_check(&c, 1000, 0), QV_OK);
	/* the whole queue is named first: every sender waits for the recipient */
	assert_int_equal(quota_copy_check(&c, 10000, 0), QV_MAILBOX_FULL);
	assert_int_equal(quota_copy_check(&c, 10000, 1000), QV_MAILBOX_FULL);
	/* a share never above the queue cap */
	c.mailbox_cap = 10;
	assert_int_equal(quota_share_cap(&c), 10);
	assert_int_equal(quota_copy_check(&c, 9, 9), QV_OK);
	assert_int_equal(quota_copy_check(&c, 10, 10), QV_MAILBOX_FULL);
	c.mailbox_sender_cap = 3;
	assert_int_equal(quota_copy_check(&c, 3, 3), QV_SHARE_FULL);
	assert_int_equal(quota_copy_check(&c, 3, 2), QV_OK);
}

static void
test_bytes(void **state)
{
	sottod_config c;

	(void)state;
	config_defaults(&c);
	c.account_quota_bytes = 1000;
	assert_int_equal(quota_bytes_check(&c, 0, 1000), QV_OK);
	assert_int_equal(quota_bytes_check(&c, 999, 1), QV_OK);
	assert_int_equal(quota_bytes_check(&c, 999, 2), QV_ACCOUNT_FULL);
	assert_int_equal(quota_bytes_check(&c, 0, 1001), QV_ACCOUNT_FULL);
	assert_int_equal(quota_bytes_check(&c, 1000, 0), QV_OK);
	assert_int_equal(quota_bytes_check(&c, 1001, 0), QV_ACCOUNT_FULL);
	/* no sum that wraps around lets a send through */
	assert_int_equal(quota_bytes_check(&c, UINT64_MAX, 2), QV_ACCOUNT_FULL);
	assert_int_equal(quota_bytes_check(&c, 2, UINT64_MAX), QV_ACCOUNT_FULL);
	assert_int_equal(quota_bytes_check(&c, UINT64_MAX - 1, UINT64_MAX - 1), QV_ACCOUNT_FULL);
}

static void
test_byte_rate(void **state)
{
	sottod_config c;
	quota_rate *q = NULL;
	uint64_t t = 1000000;

	(void)state;
	config_defaults(&c);
	c.account_byte_rate = 1000;
	c.account_byte_burst = 5000;
	assert_int_equal(quota_rate_new(&q, &c, 1), SOTTO_OK);
	assert_int_equal(quota_rate_per_worker(q), 1000);
	/* the burst, then nothing until it refills; a refusal charges nothing */
	assert_true(quota_rate_take(q, "alice", 4000, t));
	assert_true(quota_rate_take(q, "alice", 1000, t));
	assert_false(quota_rate_take(q, "alice", 1, t));
	assert_false(quota_rate_take(q, "alice", 500, t + 499));
	assert_true(quota_rate_take(q, "alice", 500, t + 500));
	/* one bucket per account: its devices share it, others have their own */
	assert_false(quota_rate_take(q, "alice", 1, t + 500));
	assert_true(quota_rate_take(q, "bob", 5000, t + 500));
	/* a send above the burst goes when the bucket is full, and leaves a debt */
	assert_true(quota_rate_take(q, "carol", 20000, t));
	assert_false(quota_rate_take(q, "carol", 1, t + 14999));
	assert_true(quota_rate_take(q, "carol", 1, t + 15001));
	/* never more than the burst is saved up */
	assert_true(quota_rate_take(q, "dave", 5000, t + 3600 * 1000));
	assert_false(quota_rate_take(q, "dave", 1, t + 3600 * 1000));
	/* a clock going back refills nothing */
	assert_false(quota_rate_take(q, "dave", 1, t));
	/* no account, or a name longer than a handle: refused */
	assert_false(quota_rate_take(q, "", 1, t));
	{
		char big[SOTTO_MAX_HANDLE + 2];

		memset(big, 'a', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		assert_false(quota_rate_take(q, big, 1, t));
	}
	quota_rate_free(q);
	/* N workers: each allows its share, rounded up */
	assert_int_equal(quota_rate_new(&q, &c, 3), SOTTO_OK);
	assert_int_equal(quota_rate_per_worker(q), 334);
	assert_true(quota_rate_take(q, "alice", 1667, t));
	assert_false(quota_rate_take(q, "alice", 1, t));
	quota_rate_free(q);
	quota_rate_free(NULL);
}

/* More accounts than the table holds, all busy: each still has a bucket (the
 * oldest gives way), none is ever let past its rate by its own earlier
 * sends, and a full-bucket slot is reused before a busy one. */
static void
test_byte_rate_table_full(void **state)
{
	sottod_config c;
	quota_rate *q = NULL;
	char h[32];
	uint64_t t = 5000;

	(void)state;
	config_defaults(&c);
	c.account_byte_rate = 1;
	c.account_byte_burst = 10;
	assert_int_equal(quota_rate_new(&q, &c, 1), SOTTO_OK);
	for (int i = 0; i < 3 * QUOTA_SLOTS; i++) {
		snprintf(h, sizeof(h), "acct%d", i);
		assert_true(quota_rate_take(q, h, 10, t));
		assert_false(quota_rate_take(q, h, 1, t));
	}
	quota_rate_free(q);
}

static void
test_qcount_keys(void **state)
{
	qcount *q = qcount_new();
	uint8_t d1[SC_DEVICE_ID], d2[SC_DEVICE_ID];
	uint64_t *p;

	(void)state;
	assert_non_null(q);
	memset(d1, 1, sizeof(d1));
	memset(d2, 2, sizeof(d2));
	assert_null(qcount_find(q, d1));
	assert_non_null(qcount_put(q, d1, 7));
	assert_non_null(qcount_put_key(q, QC_SHARE, d1, "alice", 3));
	assert_non_null(qcount_put_key(q, QC_SHARE, d1, "bob", 4));
	assert_non_null(qcount_put(q, d2, 1));
	assert_non_null(qcount_put_key(q, QC_SHARE, d2, "alice", 1));
	assert_non_null(qcount_put_key(q, QC_BYTES, NULL, "alice", 900));
	/* every key apart: kind, device and sender */
	assert_int_equal(*qcount_find(q, d1), 7);
	assert_int_equal(*qcount_find_key(q, QC_SHARE, d1, "alice"), 3);
	assert_int_equal(*qcount_find_key(q, QC_SHARE, d1, "bob"), 4);
	assert_int_equal(*qcount_find_key(q, QC_SHARE, d2, "alice"), 1);
	assert_int_equal(*qcount_find_key(q, QC_BYTES, NULL, "alice"), 900);
	assert_null(qcount_find_key(q, QC_BYTES, NULL, "bob"));
	assert_null(qcount_find_key(q, QC_SHARE, d2, "bob"));
	/* an ack on d1: its queue down, its shares and all bytes stale; d2's shares kept */
	qcount_deleted(q, d1, 2);
	assert_int_equal(*qcount_find(q, d1), 5);
	assert_null(qcount_find_key(q, QC_SHARE, d1, "alice"));
	assert_null(qcount_find_key(q, QC_SHARE, d1, "bob"));
	assert_null(qcount_find_key(q, QC_BYTES, NULL, "alice"));
	assert_int_equal(*qcount_find_key(q, QC_SHARE, d2, "alice"), 1);
	/* counted again: kept in the same slot, current again */
	p = qcount_put_key(q, QC_SHARE, d1, "alice", 2);
	assert_non_null(p);
	assert_ptr_equal(qcount_find_key(q, QC_SHARE, d1, "alice"), p);
	assert_int_equal(*p, 2);
	/* deleting more than counted stops at 0 */
	qcount_deleted(q, d2, 10);
	assert_int_equal(*qcount_find(q, d2), 0);
	/* a new transaction keeps nothing */
	qcount_reset(q);
	assert_null(qcount_find(q, d1));
	assert_null(qcount_find_key(q, QC_SHARE, d2, "alice"));
	/* a sender longer than a handle is never kept */
	{
		char big[SOTTO_MAX_HANDLE + 2];

		memset(big, 'b', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		assert_null(qcount_put_key(q, QC_BYTES, NULL, big, 1));
	}
	qcount_free(q);
	/* out of memory: nothing kept, nothing breaks */
	assert_null(qcount_find_key(NULL, QC_BYTES, NULL, "alice"));
	assert_null(qcount_put_key(NULL, QC_BYTES, NULL, "alice", 1));
	qcount_deleted(NULL, d1, 1);
}

/* The table holds at most half its slots, then says so: counts are taken again. */
static void
test_qcount_full(void **state)
{
	qcount *q = qcount_new();
	uint8_t d[SC_DEVICE_ID];
	size_t kept = 0;

	(void)state;
	assert_non_null(q);
	memset(d, 0, sizeof(d));
	for (uint32_t i = 0; i < 10000; i++) {
		memcpy(d, &i, sizeof(i));
		if (qcount_put_key(q, QC_SHARE, d, "s", i) != NULL)
			kept++;
	}
	assert_int_equal(kept, 4096);
	for (uint32_t i = 0; i < 4096; i++) {
		memcpy(d, &i, sizeof(i));
		assert_int_equal(*qcount_find_key(q, QC_SHARE, d, "s"), i);
	}
	qcount_free(q);
}

static int
parse(sottod_config *c, const char *text, char *err, size_t errlen)
{
	FILE *f = fmemopen((void *)text, strlen(text), "r");
	int rc;

	assert_non_null(f);
	config_defaults(c);
	rc = config_parse_stream(c, f, err, errlen);
	fclose(f);
	return rc;
}

static void
test_config_keys(void **state)
{
	sottod_config c;
	char err[256];

	(void)state;
	assert_int_equal(parse(&c, "mailbox_sender_cap = 5\naccount_quota_bytes = 123456\n"
	    "account_byte_rate = 1000\naccount_byte_burst = 2000\n", err, sizeof(err)), SOTTO_OK);
	assert_int_equal(c.mailbox_sender_cap, 5);
	assert_int_equal(c.account_quota_bytes, 123456);
	assert_int_equal(c.account_byte_rate, 1000);
	assert_int_equal(c.account_byte_burst, 2000);
	/* caps: only lowered, never 0 */
	assert_int_equal(parse(&c, "mailbox_sender_cap = 1001\n", err, sizeof(err)), SOTTO_ERR_FORMAT);
	assert_non_null(strstr(err, "mailbox_sender_cap"));
	assert_int_equal(parse(&c, "mailbox_sender_cap = 0\n", err, sizeof(err)), SOTTO_ERR_FORMAT);
	assert_int_equal(parse(&c, "account_quota_bytes = 1073741825\n", err, sizeof(err)), SOTTO_ERR_FORMAT);
	assert_int_equal(parse(&c, "account_byte_rate = 2097153\n", err, sizeof(err)), SOTTO_ERR_FORMAT);
	assert_int_equal(parse(&c, "account_byte_burst = 33554433\n", err, sizeof(err)), SOTTO_ERR_FORMAT);
	assert_int_equal(parse(&c, "account_byte_burst = -1\n", err, sizeof(err)), SOTTO_ERR_FORMAT);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_share_and_queue),
		cmocka_unit_test(test_bytes),
		cmocka_unit_test(test_byte_rate),
		cmocka_unit_test(test_byte_rate_table_full),
		cmocka_unit_test(test_qcount_keys),
		cmocka_unit_test(test_qcount_full),
		cmocka_unit_test(test_config_keys),
	};

	if (sc_init() != SOTTO_OK)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
