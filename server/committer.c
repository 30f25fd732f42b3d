/* SPDX-License-Identifier: ISC */
/*
 * One thread per worker that commits the mailbox's batches (mailbox.c) on its
 * own store connection, so that the event loop never waits for a commit: the
 * database's write lock (other workers hold it in turn) and the fsync (1.5 ms
 * on the benchmark machine) used to stop every connection of the worker for
 * their length. While one batch commits, the loop answers, pushes and stages
 * the next.
 *
 * The hand-off is one batch at a time: the loop submits, the thread runs
 * mailbox_commit() (which touches only the batch and the writer store), then
 * marks it done and writes the eventfd the loop watches. The loop owns the
 * batch again once committer_done() says so.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "log.h"
#include "server.h"
#include "sotto/error.h"

struct committer {
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;		/* job submitted, or quit */
	pthread_cond_t done_cv;		/* job done */
	mbatch *job;			/* submitted, not yet done */
	int done;			/* job finished (the loop has not taken it yet) */
	int quit;
	int efd;			/* written once per finished job */
	store *st;			/* the writer connection; owned */
	const sottod_config *cfg;	/* borrowed from the server */
	early_seqs *seqs;		/* borrowed (its commit lock); NULL: none */
};

static void *
run(void *arg)
{
	committer *cm = arg;
	uint64_t one = 1;
	mbatch *b;

	pthread_mutex_lock(&cm->mu);
	for (;;) {
		while (!cm->quit && (cm->job == NULL || cm->done))
			pthread_cond_wait(&cm->cv, &cm->mu);
		if (cm->quit)
			break;
		b = cm->job;
		pthread_mutex_unlock(&cm->mu);
		early_commit_lock(cm->seqs);
		mailbox_commit(cm->st, b, cm->cfg, cm->seqs);
		early_commit_unlock(cm->seqs);
		pthread_mutex_lock(&cm->mu);
		cm->done = 1;
		pthread_cond_broadcast(&cm->done_cv);
		/* A full counter (2^64 - 2 unread jobs) cannot happen: one at a time. */
		while (write(cm->efd, &one, sizeof(one)) == -1 && errno == EINTR)
			;
	}
	pthread_mutex_unlock(&cm->mu);
	return NULL;
}

int
committer_start(committer **out, store *writer, const sottod_config *cfg, early_seqs *seqs)
{
	committer *cm;
	sigset_t all, old;
	int started;

	*out = NULL;
	if ((cm = calloc(1, sizeof(*cm))) == NULL)
		return SOTTO_ERR_NOMEM;
	cm->st = writer;
	cm->cfg = cfg;
	cm->seqs = seqs;
	if ((cm->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1) {
		free(cm);
		return SOTTO_ERR_IO;
	}
	pthread_mutex_init(&cm->mu, NULL);
	pthread_cond_init(&cm->cv, NULL);
	pthread_cond_init(&cm->done_cv, NULL);
	/* Signals stay with the loop (its handlers, its interrupted waits). */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	started = pthread_create(&cm->th, NULL, run, cm) == 0;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (!started) {
		pthread_cond_destroy(&cm->done_cv);
		pthread_cond_destroy(&cm->cv);
		pthread_mutex_destroy(&cm->mu);
		close(cm->efd);
		free(cm);
		return SOTTO_ERR_INTERNAL;
	}
	*out = cm;
	return SOTTO_OK;
}

int
committer_fd(const committer *cm)
{
	return cm->efd;
}

void
committer_submit(committer *cm, mbatch *b)
{
	pthread_mutex_lock(&cm->mu);
	cm->job = b;
	cm->done = 0;
	pthread_cond_signal(&cm->cv);
	pthread_mutex_unlock(&cm->mu);
}

int
committer_done(committer *cm)
{
	uint64_t v;
	int done;

	/* Reset the eventfd first: a job finishing after this read writes it again. */
	while (read(cm->efd, &v, sizeof(v)) == -1 && errno == EINTR)
		;
	pthread_mutex_lock(&cm->mu);
	done = cm->job != NULL && cm->done;
	if (done)
		cm->job = NULL;
	pthread_mutex_unlock(&cm->mu);
	return done;
}

void
committer_wait(committer *cm)
{
	pthread_mutex_lock(&cm->mu);
	while (cm->job != NULL && !cm->done)
		pthread_cond_wait(&cm->done_cv, &cm->mu);
	cm->job = NULL;
	pthread_mutex_unlock(&cm->mu);
}

void
committer_stop(committer *cm)
{
	if (cm == NULL)
		return;
	committer_wait(cm);
	pthread_mutex_lock(&cm->mu);
	cm->quit = 1;
	pthread_cond_signal(&cm->cv);
	pthread_mutex_unlock(&cm->mu);
	pthread_join(cm->th, NULL);
	pthread_cond_destroy(&cm->done_cv);
	pthread_cond_destroy(&cm->cv);
	pthread_mutex_destroy(&cm->mu);
	close(cm->efd);
	cm->st->ops->close(cm->st);
	free(cm);
}
