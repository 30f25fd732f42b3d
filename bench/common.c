/* SPDX-License-Identifier: ISC */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lg.h"

#define LG_MAX_EVENTS 512
#define LG_MAX_TREE 4096

static int epfd = -1;

uint64_t
lg_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

void *
lg_shared(size_t n)
{
	void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

int
lg_workers_start(int n, int (*fn)(int wid, void *arg), void *arg, pid_t *pids)
{
	int i;

	if (n < 1 || n > LG_MAX_WORKERS)
		return -1;
	fflush(stdout);
	fflush(stderr);
	for (i = 0; i < n; i++) {
		if ((pids[i] = fork()) < 0) {
			lg_workers_wait(i, pids);
			return -1;
		}
		if (pids[i] == 0) {
			/* A fresh epoll set: the parent's is not ours. */
			if (epfd >= 0)
				close(epfd);
			epfd = -1;
			_exit(fn(i, arg) == 0 ? 0 : 1);
		}
	}
	return 0;
}

int
lg_workers_wait(int n, const pid_t *pids)
{
	int i, st, bad = 0;

	for (i = 0; i < n; i++) {
		while (waitpid(pids[i], &st, 0) < 0 && errno == EINTR)
			;
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			if (WIFSIGNALED(st))
				fprintf(stderr, "loadgen: worker %d killed by signal %d\n", i, WTERMSIG(st));
			else
				fprintf(stderr, "loadgen: worker %d failed\n", i);
			bad = 1;
		}
	}
	return bad ? -1 : 0;
}

int
lg_workers(int n, int (*fn)(int wid, void *arg), void *arg)
{
	pid_t pids[LG_MAX_WORKERS];

	if (lg_workers_start(n, fn, arg, pids) != 0)
		return -1;
	return lg_workers_wait(n, pids);
}

int
lg_child_died(void)
{
	siginfo_t si;

	memset(&si, 0, sizeof(si));
	if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) != 0 || si.si_pid == 0)
		return 0;
	return si.si_code != CLD_EXITED || si.si_status != 0;
}

int
lg_epoll(void)
{
	if (epfd < 0)
		epfd = epoll_create1(EPOLL_CLOEXEC);
	return epfd;
}

int
lg_loop(uint64_t deadline_ns, int (*done)(void *), void (*tick)(void *), void *arg)
{
	struct epoll_event ev[LG_MAX_EVENTS];
	int n, i, ep = lg_epoll();

	for (;;) {
		if (done != NULL && done(arg))
			return 0;
		if (lg_now_ns() >= deadline_ns)
			return -1;
		n = epoll_wait(ep, ev, LG_MAX_EVENTS, 1);
		for (i = 0; i < n; i++) {
			evh *h = ev[i].data.ptr;

			h->fn(h, ev[i].events);
		}
		if (tick != NULL)
			tick(arg);
	}
}

static long
status_field(pid_t pid, const char *key)
{
	char path[64], line[256];
	size_t kl = strlen(key);
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, key, kl) == 0) {
			v = strtol(line + kl, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

/* Every descendant of root, by ppid from /proc/N/status (bounded). */
static int
tree(pid_t root, pid_t *out, int max)
{
	pid_t all[LG_MAX_TREE], par[LG_MAX_TREE];
	int n = 0, k = 0, changed = 1;
	struct dirent *de;
	DIR *d;

	if ((d = opendir("/proc")) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL && n < LG_MAX_TREE) {
		char *end;
		long p = strtol(de->d_name, &end, 10);

		if (*end != '\0' || p <= 0)
			continue;
		all[n] = (pid_t)p;
		par[n] = (pid_t)status_field((pid_t)p, "PPid:");
		n++;
	}
	closedir(d);
	out[k++] = root;
	for (int round = 0; changed && round < 16; round++) {
		changed = 0;
		for (int i = 0; i < n && k < max; i++) {
			int in = 0, isp = 0;

			for (int j = 0; j < k; j++) {
				in |= out[j] == all[i];
				isp |= out[j] == par[i];
			}
			if (!in && isp) {
				out[k++] = all[i];
				changed = 1;
			}
		}
	}
	return k;
}

long
lg_rss_tree_kb(pid_t pid)
{
	pid_t t[256];
	long sum = 0, v;
	int n = tree(pid, t, 256);

	for (int i = 0; i < n; i++)
		if ((v = status_field(t[i], "VmRSS:")) > 0)
			sum += v;
	return sum;
}

int
lg_proc_tree_count(pid_t pid)
{
	pid_t t[256];

	return tree(pid, t, 256);
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

void
lg_sort_u32(uint32_t *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_u32);
}

uint32_t
lg_quantile(const uint32_t *sorted, size_t n, double q)
{
	size_t i;

	if (n == 0)
		return 0;
	i = (size_t)(q * (double)(n - 1) + 0.5);
	return sorted[i < n ? i : n - 1];
}

void
lg_addr(struct sockaddr_in *a, int last_octet, int port)
{
	memset(a, 0, sizeof(*a));
	a->sin_family = AF_INET;
	a->sin_port = htons((uint16_t)port);
	a->sin_addr.s_addr = htonl((127u << 24) | (unsigned)last_octet);
}
