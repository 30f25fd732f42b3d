/* SPDX-License-Identifier: ISC */
/*
 * The load generator's shared parts: the epoll loop, worker processes with a
 * shared-memory board, clocks, latency percentiles, server RSS from /proc.
 */
#ifndef BENCH_LG_H
#define BENCH_LG_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "wsc.h"

/* Monotonic clock, comparable between processes of one host. */
uint64_t lg_now_ns(void);
static inline uint64_t lg_now_us(void) { return lg_now_ns() / 1000; }

/* Anonymous shared memory for a board the workers write and the parent reads.
 * Never freed before exit (the children inherit it). NULL on failure. */
void *lg_shared(size_t n);

/* Fork n workers running fn(wid, arg); return only after all have exited.
 * 0 if every worker exited 0. */
int lg_workers(int n, int (*fn)(int wid, void *arg), void *arg);
/* The same in two halves, so the parent can measure while they run. */
#define LG_MAX_WORKERS 64
#define LG_MAX_ROUNDS 9		/* --rounds of (a) */
int lg_workers_start(int n, int (*fn)(int wid, void *arg), void *arg, pid_t *pids);
int lg_workers_wait(int n, const pid_t *pids);
/* 1 if a child has exited abnormally (not reaped: lg_workers_wait still sees it). */
int lg_child_died(void);

/* The per-process epoll set. */
int lg_epoll(void);
/* Run the loop until done(arg) returns non-zero or deadline_ns (lg_now_ns clock)
 * passes; tick(arg) runs at least every ms. 0 if done, -1 on the deadline. */
int lg_loop(uint64_t deadline_ns, int (*done)(void *), void (*tick)(void *), void *arg);

/* Sum of VmRSS (KiB) of pid and all its descendants, read from /proc. */
long lg_rss_tree_kb(pid_t pid);
/* Number of processes in pid's tree. */
int lg_proc_tree_count(pid_t pid);

/* Sort n latencies (us) and return the q-quantile (0..1); 0 for n == 0. */
void lg_sort_u32(uint32_t *v, size_t n);
uint32_t lg_quantile(const uint32_t *sorted, size_t n, double q);

/* 127.0.0.x */
void lg_addr(struct sockaddr_in *a, int last_octet, int port);

#endif
