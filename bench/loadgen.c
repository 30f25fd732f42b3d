/* SPDX-License-Identifier: ISC */
/*
 * loadgen: drives a running sottod (and, for the peer figures, a running
 * Mosquitto) through scenarios (a)..(f) of issue 5 and prints Markdown tables.
 * bench/run.sh starts both servers and calls this; see bench/README.md.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "crypto.h"
#include "lg.h"
#include "sotto/error.h"
#include "sotto_lg.h"
#include "tls.h"

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr,
	    "usage: loadgen --port P --pin PIN --server-pid PID [--db FILE]\n"
	    "               [--mqtt-port P --mqtt-pid PID --mqtt-ca FILE]\n"
	    "               [--only abcdef] [--pairs N] [--window W] [--msgs N] [--rounds N] [--rate R]\n"
	    "               [--idle N] [--idle-procs N] [--queue N] [--queue-devices N] [--queue-procs N]\n"
	    "               [--fan-msgs N] [--lookup-conns N] [--timeout S]\n");
	exit(2);
}

static unsigned long
num(const char *s)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || end == s)
		usage();
	return v;
}

static double
ratio(double a, double b)
{
	return b > 0 ? a / b : 0;
}

/* The round with the median throughput among n (1 <= n <= LG_MAX_ROUNDS). */
static unsigned
median_round(const lg_run *r, unsigned n)
{
	unsigned idx[LG_MAX_ROUNDS];

	for (unsigned i = 0; i < n; i++) {
		unsigned j = i;

		for (; j > 0 && r[i].msgs_per_s < r[idx[j - 1]].msgs_per_s; j--)
			idx[j] = idx[j - 1];
		idx[j] = i;
	}
	return idx[n / 2];
}

static void
print_pairs(const char *title, const lg_run *s, const lg_run *m, int with_rate)
{
	printf("\n### %s\n\n", title);
	printf("| | Sotto | Mosquitto | Sotto / Mosquitto |\n|---|---:|---:|---:|\n");
	if (with_rate)
		printf("| offered rate (msg/s) | %.0f | %.0f | |\n", s->rate, m ? m->rate : 0);
	printf("| delivered | %llu | %llu | |\n", (unsigned long long)s->delivered,
	    m ? (unsigned long long)m->delivered : 0ULL);
	printf("| msgs/s end to end | %.0f | %.0f | %.2f |\n", s->msgs_per_s, m ? m->msgs_per_s : 0,
	    m ? ratio(s->msgs_per_s, m->msgs_per_s) : 0);
	printf("| p50 latency (ms) | %.2f | %.2f | %.2f |\n", s->p50 / 1000.0, m ? m->p50 / 1000.0 : 0,
	    m ? ratio(s->p50, m->p50) : 0);
	printf("| p99 latency (ms) | %.2f | %.2f | %.2f |\n", s->p99 / 1000.0, m ? m->p99 / 1000.0 : 0,
	    m ? ratio(s->p99, m->p99) : 0);
	printf("| p99.9 latency (ms) | %.2f | %.2f | %.2f |\n", s->p999 / 1000.0, m ? m->p999 / 1000.0 : 0,
	    m ? ratio(s->p999, m->p999) : 0);
	printf("| max latency (ms) | %.2f | %.2f | |\n", s->pmax / 1000.0, m ? m->pmax / 1000.0 : 0);
	printf("| errors | %llu | %llu | |\n", (unsigned long long)s->errors,
	    m ? (unsigned long long)m->errors : 0ULL);
	if (s->note[0] != '\0')
		printf("\nSotto note: %s\n", s->note);
	if (m != NULL && m->note[0] != '\0')
		printf("\nMosquitto note: %s\n", m->note);
	fflush(stdout);
}

static void
print_idle(const lg_run *s, const lg_run *m)
{
	double sp = s->idle_reached ? (double)(s->rss_kb[s->steps_done] - s->rss_kb[0]) / s->idle_reached : 0;
	double mp = m && m->idle_reached ? (double)(m->rss_kb[m->steps_done] - m->rss_kb[0]) / m->idle_reached : 0;

	printf("\n### (c) idle scale: connected, authenticated, idle devices\n\n");
	printf("| | Sotto | Mosquitto | Sotto / Mosquitto |\n|---|---:|---:|---:|\n");
	printf("| asked for | %u | %u | |\n", s->idle_max, m ? m->idle_max : 0);
	printf("| reached | %u | %u | %.2f |\n", s->idle_reached, m ? m->idle_reached : 0,
	    m ? ratio(s->idle_reached, m->idle_reached) : 0);
	printf("| server RSS before (MiB) | %.1f | %.1f | |\n", s->rss_kb[0] / 1024.0, m ? m->rss_kb[0] / 1024.0 : 0);
	printf("| server RSS at the top (MiB) | %.1f | %.1f | |\n", s->rss_kb[s->steps_done] / 1024.0,
	    m ? m->rss_kb[m->steps_done] / 1024.0 : 0);
	printf("| RSS per connection (KiB) | %.1f | %.1f | %.2f |\n", sp, mp, m ? ratio(sp, mp) : 0);
	printf("| delivery to a random idle device, p50 (ms) | %.2f | %.2f | %.2f |\n", s->p50 / 1000.0,
	    m ? m->p50 / 1000.0 : 0, m ? ratio(s->p50, m->p50) : 0);
	printf("| same, p99 (ms) | %.2f | %.2f | %.2f |\n", s->p99 / 1000.0, m ? m->p99 / 1000.0 : 0,
	    m ? ratio(s->p99, m->p99) : 0);
	printf("| same, max (ms) | %.2f | %.2f | |\n", s->pmax / 1000.0, m ? m->pmax / 1000.0 : 0);
	printf("| probes delivered | %llu | %llu | |\n", (unsigned long long)s->delivered,
	    m ? (unsigned long long)m->delivered : 0ULL);
	printf("\nRamp (server RSS as connections grow):\n\n| connections | Sotto RSS (MiB) | Sotto KiB/conn | Mosquitto connections | Mosquitto RSS (MiB) | Mosquitto KiB/conn |\n|---:|---:|---:|---:|---:|---:|\n");
	for (unsigned i = 0; i < s->steps_done || (m && i < m->steps_done); i++) {
		unsigned sc = i < s->steps_done ? s->step_conns[i] : 0;
		unsigned mc = m && i < m->steps_done ? m->step_conns[i] : 0;

		printf("| %u | %.1f | %.1f | %u | %.1f | %.1f |\n", sc,
		    i < s->steps_done ? s->rss_kb[i + 1] / 1024.0 : 0,
		    sc ? (double)(s->rss_kb[i + 1] - s->rss_kb[0]) / sc : 0, mc,
		    mc ? m->rss_kb[i + 1] / 1024.0 : 0, mc ? (double)(m->rss_kb[i + 1] - m->rss_kb[0]) / mc : 0);
	}
	if (s->note[0] != '\0')
		printf("\nSotto note: %s\n", s->note);
	if (m != NULL && m->note[0] != '\0')
		printf("\nMosquitto note: %s\n", m->note);
	fflush(stdout);
}

int
main(int argc, char **argv)
{
	lg_run a, am, b, bm, h, hm, c, cm;
	lg_fanout fo;
	lg_lookup lk1, lk2;
	lg_queue q;
	const char *only = "abcdef", *db = NULL;
	unsigned pairs = 32, window = 32, msgs = 64000, idle = 100000, idle_procs = 6, rounds = 3;
	unsigned queue = 1000000, queue_devices = 1024, queue_procs = 2, fan_msgs = 300, lookup_conns = 400, timeout = 120;
	double rate = 5000;
	int have_mqtt, rc = 0;
	struct rlimit rl;
	uint8_t rnd[3];

	memset(&lg, 0, sizeof(lg));
	for (int i = 1; i < argc; i++) {
		const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (v == NULL)
			usage();
		i++;
		if (strcmp(o, "--port") == 0)
			lg.sotto_port = (int)num(v);
		else if (strcmp(o, "--pin") == 0) {
			if (tls_pin_from_text(lg.pin, v) != SOTTO_OK)
				usage();
		} else if (strcmp(o, "--server-pid") == 0)
			lg.sotto_pid = (pid_t)num(v);
		else if (strcmp(o, "--db") == 0)
			db = v;
		else if (strcmp(o, "--mqtt-port") == 0)
			lg.mqtt_port = (int)num(v);
		else if (strcmp(o, "--mqtt-pid") == 0)
			lg.mqtt_pid = (pid_t)num(v);
		else if (strcmp(o, "--mqtt-ca") == 0)
			snprintf(lg.mqtt_ca, sizeof(lg.mqtt_ca), "%s", v);
		else if (strcmp(o, "--only") == 0)
			only = v;
		else if (strcmp(o, "--pairs") == 0)
			pairs = (unsigned)num(v);
		else if (strcmp(o, "--window") == 0)
			window = (unsigned)num(v);
		else if (strcmp(o, "--msgs") == 0)
			msgs = (unsigned)num(v);
		else if (strcmp(o, "--rounds") == 0)
			rounds = (unsigned)num(v);
		else if (strcmp(o, "--rate") == 0)
			rate = (double)num(v);
		else if (strcmp(o, "--idle") == 0)
			idle = (unsigned)num(v);
		else if (strcmp(o, "--idle-procs") == 0)
			idle_procs = (unsigned)num(v);
		else if (strcmp(o, "--queue") == 0)
			queue = (unsigned)num(v);
		else if (strcmp(o, "--queue-devices") == 0)
			queue_devices = (unsigned)num(v);
		else if (strcmp(o, "--queue-procs") == 0)
			queue_procs = (unsigned)num(v);
		else if (strcmp(o, "--fan-msgs") == 0)
			fan_msgs = (unsigned)num(v);
		else if (strcmp(o, "--lookup-conns") == 0)
			lookup_conns = (unsigned)num(v);
		else if (strcmp(o, "--timeout") == 0)
			timeout = (unsigned)num(v);
		else
			usage();
	}
	if (lg.sotto_port == 0 || lg.sotto_pid == 0 || pairs == 0 || msgs < pairs || idle_procs == 0 ||
	    rounds == 0 || rounds > LG_MAX_ROUNDS ||
	    idle_procs > LG_MAX_WORKERS || queue_procs == 0 || queue_procs > 8 || queue_devices < 64 ||
	    queue_devices % 64 != 0)
		usage();
	have_mqtt = lg.mqtt_port != 0 && lg.mqtt_pid != 0 && lg.mqtt_ca[0] != '\0';
	if (sc_init() != SOTTO_OK)
		return 1;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	lg.timeout_s = timeout;
	sc_random(rnd, sizeof(rnd));
	snprintf(lg.tag, sizeof(lg.tag), "b%02x%02x%02x", rnd[0], rnd[1], rnd[2]);
	lg.created_ms = (uint64_t)time(NULL) * 1000;
	printf("loadgen: run %s; sottod pid %d on 127.0.0.1:%d%s; open-file limit %llu per process\n",
	    lg.tag, (int)lg.sotto_pid, lg.sotto_port, have_mqtt ? "; mosquitto too" : "",
	    (unsigned long long)rl.rlim_cur);

	memset(&a, 0, sizeof(a));
	a.name = "a";
	a.procs = 1;
	a.pairs = pairs;
	a.window = window;
	a.per_sender = msgs / pairs;
	am = a;
	if (strchr(only, 'a') != NULL) {
		/* The machine's own noise moves either side by 10-30 % from one run
		 * to the next: the two alternate, round after round, and the table
		 * shows each side's median round. */
		lg_run ra[LG_MAX_ROUNDS], rm[LG_MAX_ROUNDS];

		for (unsigned r = 0; r < rounds; r++) {
			ra[r] = a;
			rm[r] = am;
			fprintf(stderr, "(a) throughput, round %u of %u: Sotto...\n", r + 1, rounds);
			if (sotto_pairs(&ra[r]) != 0)
				rc = 1;
			if (have_mqtt) {
				fprintf(stderr, "(a) throughput, round %u of %u: Mosquitto...\n", r + 1, rounds);
				if (mqtt_pairs(&rm[r]) != 0)
					rc = 1;
			}
		}
		printf("\n_(a): %u senders to %u receivers one to one, window %u unanswered sends per sender, "
		    "%u messages of 200 bytes; Sotto: envelopes sealed before the clock starts, each send "
		    "answered after its commit, each delivery acked (AckRequest) and the ack answered; "
		    "Mosquitto: QoS 1 publish/PUBACK, subscriber PUBACK. %u rounds, Sotto and Mosquitto "
		    "alternating; the table shows each side's median round._\n", pairs, pairs, window,
		    a.per_sender * pairs, rounds);
		printf("\n| round | Sotto msgs/s | Mosquitto msgs/s | Sotto / Mosquitto |\n|---:|---:|---:|---:|\n");
		for (unsigned r = 0; r < rounds; r++) {
			printf("| %u | %.0f | %.0f | %.2f |\n", r + 1, ra[r].msgs_per_s, have_mqtt ? rm[r].msgs_per_s : 0,
			    have_mqtt ? ratio(ra[r].msgs_per_s, rm[r].msgs_per_s) : 0);
		}
		a = ra[median_round(ra, rounds)];
		am = rm[median_round(rm, rounds)];
		/* Errors: those of every round. */
		a.errors = am.errors = 0;
		for (unsigned r = 0; r < rounds; r++) {
			a.errors += ra[r].errors;
			am.errors += have_mqtt ? rm[r].errors : 0;
		}
		print_pairs("(a) throughput (median rounds)", &a, have_mqtt ? &am : NULL, 0);
	}
	if (strchr(only, 'b') != NULL) {
		memset(&b, 0, sizeof(b));
		b.name = "b";
		b.procs = 1;
		b.pairs = pairs;
		b.window = 1 << 30;
		b.rate = rate;
		b.per_sender = (unsigned)(rate * 8 / pairs);
		bm = b;
		fprintf(stderr, "(b) latency at %.0f msg/s: Sotto...\n", rate);
		if (sotto_pairs(&b) != 0)
			rc = 1;
		if (have_mqtt) {
			fprintf(stderr, "(b) latency at %.0f msg/s: Mosquitto...\n", rate);
			if (mqtt_pairs(&bm) != 0)
				rc = 1;
		}
		printf("\n_(b): open loop, messages sent on a fixed schedule for 8 s, latency from the "
		    "scheduled send time to receipt (no coordinated omission)._\n");
		print_pairs("(b) latency at a fixed rate", &b, have_mqtt ? &bm : NULL, 1);
		if (a.msgs_per_s > 0) {
			h = b;
			h.rate = (double)(unsigned)(a.msgs_per_s / 2);
			h.per_sender = (unsigned)(h.rate * 8 / pairs);
			h.delivered = 0;
			hm = h;
			fprintf(stderr, "(b) latency at %.0f msg/s: Sotto...\n", h.rate);
			if (sotto_pairs(&h) != 0)
				rc = 1;
			if (have_mqtt) {
				fprintf(stderr, "(b) latency at %.0f msg/s: Mosquitto...\n", h.rate);
				if (mqtt_pairs(&hm) != 0)
					rc = 1;
			}
			print_pairs("(b) latency at half of Sotto's measured maximum", &h, have_mqtt ? &hm : NULL, 1);
		}
	}
	if (strchr(only, 'e') != NULL) {
		memset(&lk1, 0, sizeof(lk1));
		lk1.conns = lookup_conns;
		lk1.per_conn = 150;
		fprintf(stderr, "(e) directory lookups...\n");
		if (sotto_lookups(&lk1, 1) != 0)
			rc = 1;
	}
	if (strchr(only, 'd') != NULL) {
		memset(&fo, 0, sizeof(fo));
		fo.recipients = 20;
		fo.devices = 3;
		fo.messages = fan_msgs;
		fo.window = 8;
		fprintf(stderr, "(d) fan-out...\n");
		if (sotto_fanout(&fo) != 0)
			rc = 1;
		printf("\n### (d) fan-out: one sender to 20 recipients x 3 devices (60 copies per message)\n\n");
		printf("| messages | window | sends/s | copies delivered+acked/s | copy latency p50 (ms) | p99 (ms) | last copy p50 (ms) | last copy p99 (ms) | errors |\n");
		printf("|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
		printf("| %u | %u | %.0f | %.0f | %.2f | %.2f | %.2f | %.2f | %llu |\n", fo.messages, fo.window,
		    fo.sends_per_s, fo.copies_per_s, fo.p50 / 1000.0, fo.p99 / 1000.0, fo.last_p50 / 1000.0,
		    fo.last_p99 / 1000.0, (unsigned long long)fo.errors);
		fflush(stdout);
	}
	if (strchr(only, 'c') != NULL) {
		static const unsigned steps[] = { 1000, 5000, 10000, 15000, 19000, 25000, 40000, 60000, 80000, 100000 };

		memset(&c, 0, sizeof(c));
		c.name = "sotto";
		c.procs = (int)idle_procs;
		c.idle_max = idle;
		c.probes = 100;
		for (unsigned i = 0; i < sizeof(steps) / sizeof(steps[0]) && steps[i] <= idle; i++)
			c.steps[c.n_steps++] = steps[i];
		if (c.n_steps == 0 || c.steps[c.n_steps - 1] != idle)
			c.steps[c.n_steps++] = idle;
		cm = c;
		cm.name = "mosquitto";
		fprintf(stderr, "(c) idle scale: Sotto...\n");
		if (sotto_idle(&c) != 0)
			rc = 1;
		if (have_mqtt) {
			fprintf(stderr, "(c) idle scale: Mosquitto...\n");
			if (mqtt_idle(&cm) != 0)
				rc = 1;
		}
		print_idle(&c, have_mqtt ? &cm : NULL);
	}
	if (strchr(only, 'e') != NULL) {
		memset(&lk2, 0, sizeof(lk2));
		lk2.conns = lookup_conns;
		lk2.per_conn = 150;
		fprintf(stderr, "(e) directory lookups, larger directory...\n");
		if (sotto_lookups(&lk2, 1) != 0)
			rc = 1;
		printf("\n### (e) directory lookups (GetDeviceList of a random registered handle)\n\n");
		printf("_%u connections, one lookup in flight each, %u lookups per connection (the server "
		    "allows a burst of 200 then 50/s per connection)._\n\n", lookup_conns, lk1.per_conn);
		printf("| accounts in the directory | lookups/s | ok | rate limited | errors | p50 (ms) | p99 (ms) |\n|---:|---:|---:|---:|---:|---:|---:|\n");
		printf("| %u | %.0f | %llu | %llu | %llu | %.2f | %.2f |\n", lk1.dir_accounts, lk1.per_s,
		    (unsigned long long)lk1.ok, (unsigned long long)lk1.rate_limited,
		    (unsigned long long)lk1.errors, lk1.p50 / 1000.0, lk1.p99 / 1000.0);
		printf("| %u | %.0f | %llu | %llu | %llu | %.2f | %.2f |\n", lk2.dir_accounts, lk2.per_s,
		    (unsigned long long)lk2.ok, (unsigned long long)lk2.rate_limited,
		    (unsigned long long)lk2.errors, lk2.p50 / 1000.0, lk2.p99 / 1000.0);
		fflush(stdout);
	}
	if (strchr(only, 'f') != NULL) {
		memset(&q, 0, sizeof(q));
		q.recipients = queue_devices;
		q.copies = queue;
		q.procs = queue_procs;
		q.window = 16;
		fprintf(stderr, "(f) offline queue of %u copies...\n", queue);
		if (sotto_queue(&q, db) != 0)
			rc = 1;
		printf("\n### (f) stored copies for offline devices\n\n");
		printf("_%u offline devices (single-device accounts); each message is sealed to 64 of them "
		    "(64 wraps), %u senders with %u sends in flight each; then every device comes back and "
		    "drains with Fetch(64) + Ack until its queue is empty. Sealing took %.1f s before the "
		    "clock started._\n\n", q.recipients, q.procs, q.window, q.seal_secs);
		printf("| step | copies stored | seconds | copies/s | server RSS after (MiB) |\n|---|---:|---:|---:|---:|\n");
		printf("| empty queue | 0 | | | %.1f |\n", q.rss_kb[0] / 1024.0);
		printf("| insert first half | %llu | %.1f | %.0f | %.1f |\n", (unsigned long long)(q.inserted / 2),
		    q.insert_secs[0], q.insert_per_s[0], q.rss_kb[1] / 1024.0);
		printf("| insert second half | %llu | %.1f | %.0f | %.1f |\n", (unsigned long long)q.inserted,
		    q.insert_secs[1], q.insert_per_s[1], q.rss_kb[2] / 1024.0);
		printf("| drain (fetch + ack) | %llu | %.1f | %.0f | %.1f |\n", (unsigned long long)q.drained,
		    q.drain_secs, q.drain_per_s, q.rss_kb[3] / 1024.0);
		printf("\nDatabase (sottod.db + WAL) with the full queue: %.1f MiB. Errors: %llu.\n",
		    q.db_bytes / 1048576.0, (unsigned long long)q.errors);
		fflush(stdout);
	}
	return rc;
}
