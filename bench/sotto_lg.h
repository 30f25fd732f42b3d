/* SPDX-License-Identifier: ISC */
/*
 * The two drivers of the load generator, behind one shape so every scenario runs
 * the same way against Sotto (sotto_lg.c, real sottod over TLS WebSockets) and
 * Mosquitto (mqtt_lg.c, libmosquitto over TLS, QoS 1).
 */
#ifndef BENCH_SOTTO_LG_H
#define BENCH_SOTTO_LG_H

#include <stdint.h>
#include <sys/types.h>

#define LG_PROBES 200		/* idle-scale delivery probes, at most */
#define LG_STEPS 16		/* idle-scale ramp points, at most */

/* Per-worker counters on the shared board. */
typedef struct lg_wstat {
	volatile uint32_t done_phase;
	volatile uint32_t opened, authed, failed, dropped;
	volatile uint64_t sent, okd, recvd, acked, errs, rate_limited, dups, late;
	volatile uint64_t t_last_ns;
	char why[96];
} lg_wstat;

typedef struct lg_board {
	volatile uint32_t phase;	/* set by the parent; workers run it, then report */
	volatile uint64_t t0_ns;	/* start of the timed part */
	volatile uint32_t target;	/* idle scale: connections per worker */
	volatile uint32_t probe_seq;	/* idle scale: probes asked for */
	volatile uint32_t probe_target[LG_PROBES];
	volatile uint64_t probe_sent[LG_PROBES], probe_recv[LG_PROBES];
	lg_wstat w[64];
} lg_board;

/* Everything a scenario needs; the same for both drivers. */
typedef struct lg_run {
	const char *name;
	int procs;
	/* pairs (a, b) */
	unsigned pairs, window, per_sender;
	double rate;			/* 0: closed loop (a); else msg/s (b) */
	/* idle (c) */
	unsigned idle_max;		/* total, over procs */
	unsigned steps[LG_STEPS], n_steps;
	unsigned probes;
	/* results */
	double msgs_per_s, secs;
	uint64_t delivered, errors;
	uint32_t p50, p99, p999, pmax;	/* us */
	unsigned idle_reached;
	long rss_kb[LG_STEPS + 1];	/* [0]: before, then after each step */
	unsigned step_conns[LG_STEPS];
	unsigned steps_done;
	char note[160];
} lg_run;

/* Options shared by both drivers, filled by main. */
typedef struct lg_env {
	int sotto_port;
	uint8_t pin[32];
	pid_t sotto_pid;
	int mqtt_port;
	pid_t mqtt_pid;
	char mqtt_ca[4096];
	char tag[16];			/* prefix of every handle of this run */
	uint64_t created_ms;
	unsigned scen_serial;		/* makes handles unique per scenario */
	unsigned timeout_s;		/* bound for any one phase */
} lg_env;

extern lg_env lg;

int sotto_pairs(lg_run *r);
int sotto_idle(lg_run *r);
int mqtt_pairs(lg_run *r);
int mqtt_idle(lg_run *r);

/* Sotto-only scenarios. */
typedef struct lg_fanout {
	unsigned recipients, devices, messages, window;
	double sends_per_s, copies_per_s, secs;
	uint32_t p50, p99, last_p50, last_p99;
	uint64_t errors;
} lg_fanout;
int sotto_fanout(lg_fanout *f);

typedef struct lg_lookup {
	unsigned conns, per_conn;
	unsigned dir_accounts;		/* accounts in the directory during the run */
	double per_s, secs;
	uint64_t ok, rate_limited, errors;
	uint32_t p50, p99;
} lg_lookup;
int sotto_lookups(lg_lookup *l, unsigned pool);

typedef struct lg_queue {
	unsigned recipients, copies, procs, window;
	double seal_secs, insert_per_s[2], insert_secs[2], drain_per_s, drain_secs;
	long rss_kb[4];			/* 0, half, full, drained */
	uint64_t inserted, drained, errors;
	long db_bytes;
} lg_queue;
int sotto_queue(lg_queue *q, const char *db_path);

/* Accounts registered so far in this run (the directory size). */
extern unsigned lg_accounts;

#endif
