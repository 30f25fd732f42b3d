/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "metrics.h"
#include "server.h"
#include "sotto/error.h"

/* A worker that dies sooner than this after it started is restarted only
 * after a pause, so a worker that cannot run does not spin the supervisor. */
#define RESTART_QUICK_MS	1000
#define RESTART_PAUSE_MS	500

typedef struct worker {
	pid_t pid;		/* 0: not running */
	uint64_t started_ms;
	uint64_t restart_at_ms;	/* 0: none pending */
} worker;

int
server_store_open(const sottod_config *cfg, const char *dir, store **out)
{
	char path[4200];

	*out = NULL;
	if (cfg->storage == CONFIG_STORAGE_POSTGRES)
		return store_pg_open(out, cfg->postgres_url);
	if ((size_t)snprintf(path, sizeof(path), "%s/sottod.db", dir) >= sizeof(path))
		return SOTTO_ERR_INVALID_ARG;
	return store_sqlite_open(out, path);
}

static uint64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/*
 * A TCP socket bound to host:port, SO_REUSEADDR always (a restart binds past
 * TIME_WAIT), SO_REUSEPORT when reuseport; listening when backlog > 0.
 */
static int
bind_socket(const char *host, int port, int reuseport, int backlog, int *fd_out, int *port_out)
{
	struct addrinfo hints, *ai = NULL;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char portstr[8];
	int fd = -1, one = 1, rc = SOTTO_ERR_NETWORK;

	*fd_out = -1;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	snprintf(portstr, sizeof(portstr), "%d", port);
	if (getaddrinfo(host, portstr, &hints, &ai) != 0 || ai == NULL)
		goto out;
	if ((fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 ||
	    (backlog > 0 && listen(fd, backlog) != 0) ||
	    getsockname(fd, (struct sockaddr *)&ss, &sl) != 0)
		goto out;
	if (port_out != NULL)
		*port_out = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port :
		    ((struct sockaddr_in *)&ss)->sin_port);
	*fd_out = fd;
	fd = -1;
	rc = SOTTO_OK;
out:
	if (fd != -1) {
		int e = errno;

		close(fd);
		errno = e;
	}
	if (ai != NULL)
		freeaddrinfo(ai);
	return rc;
}

int
server_bind(const char *host, int port, int backlog, int *fd_out, int *port_out)
{
	return bind_socket(host, port, 1, backlog, fd_out, port_out);
}

int
server_port_free(const char *host, int port)
{
	int fd, rc;

	if (port == 0)
		return SOTTO_OK;
	/*
	 * Without SO_REUSEPORT this bind fails (EADDRINUSE) while anyone listens
	 * there, also another sottod of the same user that SO_REUSEPORT would
	 * otherwise let us join, silently splitting its clients with us. A
	 * previous sottod's workers may still be going away (a restart right
	 * after a crash: they follow their supervisor by signal): up to 2 s.
	 */
	for (int i = 0; (rc = bind_socket(host, port, 0, 0, &fd, NULL)) != SOTTO_OK; i++) {
		struct timespec step = { 0, 50 * 1000 * 1000 };

		if (errno != EADDRINUSE || i == 40)
			return rc;
		nanosleep(&step, NULL);
	}
	close(fd);
	return SOTTO_OK;
}

static uint64_t
route_of(void *arg, const uint8_t device_id[SC_DEVICE_ID])
{
	return early_route(arg, device_id);
}

/* The worker's committer on a second store connection: on SQLite it announces
 * to the other workers as worker i; on PostgreSQL the worker's own store
 * ignores what it announces (the worker pushes its own copies). */
static int
committer_open(server *s, const store_wakegroup *g, size_t i)
{
	store *w = NULL;
	int rc;

	if ((rc = server_store_open(&s->cfg, s->dir, &w)) != SOTTO_OK)
		return rc;
	if (s->cfg.storage == CONFIG_STORAGE_SQLITE) {
		rc = g->n > 1 ? store_sqlite_join(w, g, i) : SOTTO_OK;
		/* A copy's wake-up goes only to workers holding its device. */
		if (rc == SOTTO_OK && s->seqs != NULL)
			rc = store_sqlite_route(w, route_of, s->seqs);
	} else
		rc = store_pg_pair(s->st, w);
	if (rc == SOTTO_OK && (rc = committer_start(&s->cm, w, &s->cfg, s->seqs)) == SOTTO_OK)
		return SOTTO_OK;
	w->ops->close(w);
	return rc;
}

/* In the child: serve as worker i until SIGTERM; returns the exit status. */
static int
worker_main(server *s, size_t i, const store_wakegroup *g, int ready_w)
{
	int rc;

	s->worker = i;
	s->ready_fd = ready_w;
	/* What a worker that died here had in flight is settled: it will never commit. */
	early_worker_reset(s->seqs, i);
	metrics_select(i);
	if (limits_new(&s->lim, &s->cfg, s->n_workers) != SOTTO_OK) {
		log_error("worker_failed", "worker=%zu what=limits err=\"out of memory\"", i);
		return 1;
	}
	if ((rc = server_store_open(&s->cfg, s->dir, &s->st)) != SOTTO_OK) {
		log_error("worker_failed", "worker=%zu what=store err=\"%s\"", i, sotto_strerror(rc));
		return 1;
	}
	if (g->n > 1 && (rc = store_sqlite_join(s->st, g, i)) != SOTTO_OK) {
		log_error("worker_failed", "worker=%zu what=wake err=\"%s\"", i, sotto_strerror(rc));
		s->st->ops->close(s->st);
		return 1;
	}
	if ((rc = committer_open(s, g, i)) != SOTTO_OK) {
		log_error("worker_failed", "worker=%zu what=committer err=\"%s\"", i, sotto_strerror(rc));
		s->st->ops->close(s->st);
		return 1;
	}
	rc = net_run(s);
	committer_stop(s->cm);
	s->cm = NULL;
	s->inflight = 0;	/* committer_stop waited for it; net_run answered it */
	mailbox_free(s);
	s->st->ops->close(s->st);
	s->st = NULL;
	limits_free(s->lim);
	s->lim = NULL;
	wake_free(s);
	if (rc != SOTTO_OK) {
		log_error("worker_failed", "worker=%zu err=\"%s\"", i, sotto_strerror(rc));
		return 1;
	}
	log_info("worker_stopped", "worker=%zu", i);
	return 0;
}

/* Returns -1 in the parent (w->pid set), else the child's exit status. */
static int
spawn(server *s, size_t i, worker *w, const store_wakegroup *g, int sfd, int ready[2],
    const int *lfd, size_t n, const sigset_t *oldmask)
{
	pid_t parent = getpid(), pid;

	if ((pid = fork()) == -1) {
		log_error("fork_failed", "worker=%zu err=\"%s\"", i, strerror(errno));
		w->restart_at_ms = mono_ms() + RESTART_PAUSE_MS;
		return -1;
	}
	if (pid > 0) {
		w->pid = pid;
		w->started_ms = mono_ms();
		w->restart_at_ms = 0;
		return -1;
	}
	/* A worker never outlives its supervisor (SIGKILL of the supervisor included). */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
		_exit(1);
	close(sfd);
	close(ready[0]);
	for (size_t j = 0; j < n; j++)
		if (j != i)
			close(lfd[j]);
	s->listen_fd = lfd[i];
	sigprocmask(SIG_SETMASK, oldmask, NULL);
	return worker_main(s, i, g, ready[1]);
}

static size_t
default_workers(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	if (n < 1)
		return 1;
	return n > CONFIG_MAX_WORKERS ? CONFIG_MAX_WORKERS : (size_t)n;
}

int
supervisor_run(server *s)
{
	worker w[CONFIG_MAX_WORKERS];
	int lfd[CONFIG_MAX_WORKERS];
	store_wakegroup g;
	store *db;
	char err[256];
	sigset_t set, old;
	struct signalfd_siginfo si;
	struct sigaction sa;
	char host[SOTTO_MAX_ADDRESS + 1], buf[64];
	size_t n = s->cfg.workers > 0 ? s->cfg.workers : default_workers(), alive = 0, ready_count = 0;
	int sfd = -1, ready[2] = { -1, -1 }, port, rc = 1, printed = 0, stopping = 0;
	int failed = 0, masked = 0, st, r;
	pid_t pid;

	memset(w, 0, sizeof(w));
	memset(&g, 0, sizeof(g));
	for (size_t i = 0; i < CONFIG_MAX_WORKERS; i++)
		lfd[i] = -1;
	s->n_workers = n;
	if (config_split_address(s->cfg.listen, host, sizeof(host), &port, 1) != SOTTO_OK) {
		fprintf(stderr, "sottod: bad listen address %s\n", s->cfg.listen);
		return 1;
	}
	/*
	 * Every worker's listening socket is bound here, while sottod may still be
	 * root (a port below 1024; SO_REUSEPORT wants one owner for the group),
	 * and held for restarts: a restarted worker takes its socket back with
	 * the connections that queued meanwhile. The first turns port 0 into the
	 * one port the others bind.
	 */
	if (server_port_free(host, port) != SOTTO_OK) {
		fprintf(stderr, "sottod: cannot bind %s: %s\n", s->cfg.listen, strerror(errno));
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		if (server_bind(host, port, SOTTOD_LISTEN_BACKLOG, &lfd[i], &port) != SOTTO_OK) {
			fprintf(stderr, "sottod: cannot bind %s: %s\n", s->cfg.listen, strerror(errno));
			goto out;
		}
	}
	snprintf(s->cfg.listen, sizeof(s->cfg.listen), strchr(host, ':') != NULL ? "[%s]:%d" : "%s:%d",
	    host, port);
	if (priv_is_root()) {
		if (priv_drop(s->cfg.user, err, sizeof(err)) != SOTTO_OK) {
			fprintf(stderr, "sottod: cannot drop privileges to user \"%s\": %s\n", s->cfg.user, err);
			goto out;
		}
		log_info("privileges_dropped", "user=%s uid=%u gid=%u", s->cfg.user, (unsigned)getuid(),
		    (unsigned)getgid());
	}
	/* Opened once, as the user the workers run as, so a database that user
	 * cannot write (or a bad postgres_url) fails here, before any fork. */
	if ((r = server_store_open(&s->cfg, s->dir, &db)) != SOTTO_OK) {
		fprintf(stderr, "sottod: cannot open the database%s: %s%s\n",
		    s->cfg.storage == CONFIG_STORAGE_POSTGRES ? " (postgres_url)" : "", sotto_strerror(r),
		    s->cfg.user[0] != '\0' && s->cfg.storage == CONFIG_STORAGE_SQLITE ?
		    " (the folder and sottod.db must belong to the configured user)" : "");
		goto out;
	}
	/* SQLite: the node is the only writer, so it hands out seqs itself and
	 * pushes copies before their commit (early.c). */
	if (s->cfg.storage == CONFIG_STORAGE_SQLITE) {
		uint64_t high;

		if ((r = store_sqlite_seq_high(db, &high)) != SOTTO_OK ||
		    (r = early_seqs_new(&s->seqs, high)) != SOTTO_OK) {
			fprintf(stderr, "sottod: cannot read the database: %s\n", sotto_strerror(r));
			db->ops->close(db);
			goto out;
		}
	}
	db->ops->close(db);
	if (metrics_init(n) != SOTTO_OK ||
	    (s->cfg.storage == CONFIG_STORAGE_SQLITE && n > 1 && store_wakegroup_make(&g, n) != SOTTO_OK) ||
	    pipe2(ready, O_CLOEXEC | O_NONBLOCK) != 0) {
		fprintf(stderr, "sottod: cannot set up the workers: %s\n", strerror(errno));
		goto out;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGPIPE, &sa, NULL);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_BLOCK, &set, &old);
	masked = 1;
	if ((sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK)) == -1) {
		fprintf(stderr, "sottod: signalfd: %s\n", strerror(errno));
		goto out;
	}
	log_info("workers", "n=%zu listen=%s storage=%s", n, s->cfg.listen,
	    s->cfg.storage == CONFIG_STORAGE_POSTGRES ? "postgres" : "sqlite");
	for (size_t i = 0; i < n; i++) {
		if ((r = spawn(s, i, &w[i], &g, sfd, ready, lfd, n, &old)) >= 0) {
			rc = r;	/* the child: done serving */
			goto child;
		}
		alive += w[i].pid > 0;
	}
	while (alive > 0 || (!stopping && printed)) {
		struct pollfd pfd[2] = { { .fd = sfd, .events = POLLIN }, { .fd = ready[0], .events = POLLIN } };
		uint64_t now = mono_ms(), next = 0;
		int timeout = -1;

		for (size_t i = 0; i < n; i++)
			if (w[i].restart_at_ms != 0 && (next == 0 || w[i].restart_at_ms < next))
				next = w[i].restart_at_ms;
		if (next != 0)
			timeout = next > now ? (int)(next - now) : 0;
		if (poll(pfd, 2, timeout) < 0 && errno != EINTR)
			break;
		if (pfd[1].revents & POLLIN) {
			ssize_t got;

			while ((got = read(ready[0], buf, sizeof(buf))) > 0)
				ready_count += (size_t)got;
			if (!printed && ready_count >= n && !stopping) {
				printf("listening on %s\n", s->cfg.listen);
				fflush(stdout);
				printed = 1;
			}
		}
		while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
			if ((si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) && !stopping) {
				stopping = 1;
				log_info("shutdown", "signal=%u workers=%zu", si.ssi_signo, alive);
				for (size_t i = 0; i < n; i++) {
					w[i].restart_at_ms = 0;
					if (w[i].pid > 0)
						kill(w[i].pid, SIGTERM);
				}
			}
		}
		while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
			for (size_t i = 0; i < n; i++) {
				if (w[i].pid != pid)
					continue;
				w[i].pid = 0;
				alive--;
				metrics_worker_reset(i);
				if (stopping) {
					if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
						failed = 1;
					break;
				}
				log_error("worker_died", "worker=%zu pid=%ld status=%d signal=%d", i, (long)pid,
				    WIFEXITED(st) ? WEXITSTATUS(st) : -1, WIFSIGNALED(st) ? WTERMSIG(st) : 0);
				if (!printed) {
					/* It could not even start: the others will not either. */
					fprintf(stderr, "sottod: a worker could not start (see the log)\n");
					stopping = failed = 1;
					for (size_t j = 0; j < n; j++)
						if (w[j].pid > 0)
							kill(w[j].pid, SIGTERM);
					break;
				}
				metrics_error(ME_WORKER_RESTART);
				w[i].restart_at_ms = mono_ms() - w[i].started_ms < RESTART_QUICK_MS ?
				    mono_ms() + RESTART_PAUSE_MS : mono_ms();
				break;
			}
		}
		now = mono_ms();
		for (size_t i = 0; i < n && !stopping; i++) {
			if (w[i].restart_at_ms == 0 || w[i].restart_at_ms > now)
				continue;
			if ((r = spawn(s, i, &w[i], &g, sfd, ready, lfd, n, &old)) >= 0) {
				rc = r;
				goto child;
			}
			if (w[i].pid > 0) {
				alive++;
				log_info("worker_restarted", "worker=%zu pid=%ld", i, (long)w[i].pid);
			}
		}
		if (stopping && alive == 0)
			break;
	}
	rc = failed ? 1 : 0;
	if (rc == 0)
		log_info("stopped", "%s", "");
out:
	if (sfd != -1)
		close(sfd);
	if (masked)
		sigprocmask(SIG_SETMASK, &old, NULL);
	if (ready[0] != -1)
		close(ready[0]);
	for (size_t i = 0; i < n && i < CONFIG_MAX_WORKERS; i++)
		if (lfd[i] != -1)
			close(lfd[i]);
child:
	/* spawn() closed the rest in the child. */
	if (ready[1] != -1)
		close(ready[1]);
	store_wakegroup_close(&g);
	early_seqs_free(s->seqs);
	s->seqs = NULL;
	return rc;
}
