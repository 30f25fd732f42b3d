/* SPDX-License-Identifier: ISC */
/*
 * One fake server for the client's unit tests, linked in place of
 * lib/client/client_transport.c (tests named test_client_net_*): the client's
 * conn layer, frame decoding and caps run for real; the fake answers the
 * wire protocol (proto/sotto.proto) from memory, in process, and can be told
 * to behave as a hostile server would. One state for the whole process:
 * every client a test opens talks to it (address FAKE_ADDRESS, pin FAKE_PIN).
 */
#ifndef SOTTO_FAKE_SERVER_H
#define SOTTO_FAKE_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "crypto.h"

#define FAKE_ADDRESS "127.0.0.1:1"
#define FAKE_PIN "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"

/* A device list version v of handle, made on demand (a chain as long as the
 * hostile server likes without holding it): *p caller frees with free(). */
typedef int (*fake_chain_fn)(const char *handle, uint64_t v, uint8_t **p, size_t *n, void *arg);

typedef struct fake_hostile {
	unsigned hints_per_answer;	/* DeviceListChanged pushed after every answer */
	int hint_distinct;		/* 1: each about a new handle "h<i>", 0: hint_handle */
	char hint_handle[65];
	int fetch_more_forever;		/* Fetch always says more, and serves acknowledged copies again */
	const char *chain_handle;	/* its lists come from chain (versions 1..chain_len) */
	uint64_t chain_len;
	fake_chain_fn chain;
	void *chain_arg;
} fake_hostile;

typedef struct fake_stats {
	uint64_t requests;		/* every request frame the clients sent */
	uint64_t by_kind[40];		/* ... by Frame.msg_case */
	uint64_t pushes;		/* frames pushed */
	size_t heap_peak;		/* highest mallinfo2().uordblks seen while serving */
} fake_stats;

/* Forget every account, queue and counter; hostile behaviour off. */
void fake_reset(void);
fake_hostile *fake_hostile_get(void);
fake_stats *fake_stats_get(void);
/* Counters and the heap peak from now on. */
void fake_stats_reset(void);
/* Bytes of heap in use now (mallinfo2). */
size_t fake_heap_now(void);
/* Queue a copy for device_id as a sender's SendRequest would. */
int fake_queue_copy(const uint8_t device_id[static SC_DEVICE_ID], const uint8_t *env, size_t env_len,
    const uint8_t *wrap, size_t wrap_len);
/* Copies still queued for device_id. */
size_t fake_queued(const uint8_t device_id[static SC_DEVICE_ID]);
/* After this many requests the fake closes every connection (a safety net
 * for a client that loops; 0: never). */
void fake_request_limit(uint64_t n);

#endif
