/* SPDX-License-Identifier: ISC */
/*
 * sottod's shared state: the server (configuration, store, pin, connection
 * registry, the staged group-commit batch) and one conn per WebSocket.
 *
 * Everything runs on one event loop thread (net.c), but for the committer
 * thread (committer.c), which sees only the batch handed to it. A conn is
 * owned by net.c; it outlives its WebSocket while staged operations still
 * refer to it (conn->refs), and is then freed by conn_unref().
 */
#ifndef SOTTOD_SERVER_H
#define SOTTOD_SERVER_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "caps.h"
#include "config.h"
#include "crypto.h"
#include "ratelimit.h"
#include "store.h"
#include "tls.h"
#include "wire.h"

/* Bytes of encoded frames queued for one connection before it is cut off as a
 * reader too slow to keep up. */
#define SOTTOD_MAX_OUTQ_BYTES		(16 * 1024 * 1024)
/* Bytes queued over all of a worker's connections; past it, a connection
 * holding at least the fair share is cut off as a slow reader. */
#define SOTTOD_MAX_OUTQ_TOTAL		(256 * 1024 * 1024)
#define SOTTOD_OUTQ_FAIR_SHARE		(1024 * 1024)
/* Input: a WebSocket message being received must be complete this long
 * after its first bytes came (401,872 bytes in 30 s is 13 KiB/s: a slow
 * mobile link), else the connection is closed; bytes held in such partial
 * messages over all of a worker's connections, past which the connection
 * holding the most is closed. */
#define SOTTOD_FRAME_SECONDS		30
#define SOTTOD_MAX_RX_TOTAL		(64 * 1024 * 1024)
/* Authenticated connections of one device on one worker; a new one past it
 * closes the device's oldest (a crashed client's connection lingers until
 * TCP keepalive finds it; the newest is the one in use). */
#define SOTTOD_MAX_CONNS_PER_DEVICE	16
/* Connections not yet authenticated (TCP, TLS, WebSocket stages) a worker
 * holds: its descriptor limit divided by this. A new connection past it
 * closes the oldest one still unauthenticated, so a flood of connections
 * that never speak cannot take every descriptor from honest clients. */
#define SOTTOD_PREAUTH_FD_SHARE		2
/* Operations staged in one group-commit batch before it is flushed at once. */
#define SOTTOD_MAX_BATCH_OPS		256
/* Rows one batch may write (copies inserted + copies acknowledged): bounds how
 * long a commit holds the database's write lock, which the other workers wait
 * for (at most SQLITE_BUSY_MS). 256 acks of 64 copies each held it for seconds
 * on a 7 GiB queue; 2,048 rows is tens of milliseconds. */
#define SOTTOD_MAX_BATCH_ROWS		2048
/* Backlog of each worker's listening socket. */
#define SOTTOD_LISTEN_BACKLOG		4096
/* Buckets of the device-id -> connections table. */
#define SOTTOD_CONN_BUCKETS		4096
/* Room kept in a frame for everything but the deliveries or lists it carries. */
#define SOTTOD_FRAME_SLACK		4096
/* Invites are single use and expire after this long. */
#define SOTTOD_INVITE_MAX_AGE_MS	(7ULL * 24 * 3600 * 1000)
/* Linking rendezvous: how long an offer or answer lives, how many may be alive
 * at once in the whole store, and LinkPost/LinkGet requests per connection
 * (burst and refill per second; the new device polls about once a second). */
#define SOTTOD_LINK_TTL_MS		(10ULL * 60 * 1000)
/* A pickup is read by the approver within seconds; anyone may post one, so
 * it must not hold a place in the store for long. */
#define SOTTOD_LINK_PICKUP_TTL_MS	(30ULL * 1000)
#define SOTTOD_LINK_MAX_LIVE		10000
#define SOTTOD_LINK_BURST		20
#define SOTTOD_LINK_PER_SEC		3
/* Handles one connection follows for DeviceListChanged besides its own
 * (directory.c dir_follow): 32 x 65 bytes, allocated on the first. */
#define SOTTOD_MAX_FOLLOWS		32
/* Live entries one source address (an IPv6 /64) may hold, so that filling
 * the store takes SOTTOD_LINK_MAX_LIVE / this many addresses (per worker:
 * each worker keys its own hash of the address). The per-address and
 * node-wide request rates are in ratelimit.h (LIMITS_LINK_*). */
#define SOTTOD_LINK_MAX_PER_ADDR	64

enum conn_state {
	CONN_PREAUTH = 0,	/* challenge sent, nonce unused */
	CONN_AUTHED,		/* authenticated as handle/device_id */
	CONN_DEAD,		/* WebSocket gone; kept only for refs */
};

typedef struct server server;

typedef struct conn {
	server *srv;
	void *wsi;			/* struct lws *, NULL once closed */
	uint64_t serial;		/* for logs */
	enum conn_state state;
	int closing;			/* flushing its last frames, then closed */
	int timeout_cleared;		/* pre-auth deadline lifted */
	int nonce_used;
	int test_withheld;		/* test mode: this connection was shown a stale list */
	uint8_t nonce[WIRE_NONCE_LEN];
	char handle[SOTTO_MAX_HANDLE + 1];
	uint8_t device_id[SC_DEVICE_ID];
	int fetching;			/* push deliveries (after the first Fetch) */
	uint64_t fetch_from;		/* node's next seq when fetching began (early.c) */
	char peer[64];
	/* Handles looked up or sent to on this connection (directory.c); NULL
	 * until the first. A ring: past SOTTOD_MAX_FOLLOWS the oldest goes. */
	char (*follow)[SOTTO_MAX_HANDLE + 1];
	size_t follow_n, follow_oldest;
	double link_tokens;		/* LinkPost/LinkGet budget (link.c) */
	uint64_t link_at_ms;		/* 0: budget not started */

	uint8_t *rx;			/* message being reassembled */
	size_t rx_len, rx_cap;		/* rx_cap counts in srv->rx_total */
	int rx_timed;			/* SOTTOD_FRAME_SECONDS timer armed for it */

	/* WebSocket frames not written yet (net.c): bytes out_off..out_len of
	 * out. Written together at the end of the loop turn that queued them. */
	uint8_t *out;
	size_t out_off, out_len, out_cap;
	int out_listed;			/* on the worker's list of connections to write */
	struct conn *out_next;
	int rx_listed;			/* records read this turn: more may wait in TLS */
	struct conn *rx_next;

	unsigned refs;			/* 1 while open + 1 per staged operation
				 * + 1 on each of net.c's turn lists */
	struct conn *next, *prev;	/* all connections */
	struct conn *dnext, *dprev;	/* same device-id bucket (authenticated) */
} conn;

typedef struct staged_op staged_op;
typedef struct push_rec push_rec;

/* One group-commit batch (mailbox.c): staged on the loop, committed by the
 * committer thread (or inline without one), answered on the loop. */
typedef struct mbatch {
	staged_op *ops;			/* sends and acks, in arrival order */
	size_t n, cap;
	size_t rows;			/* rows they write (SOTTOD_MAX_BATCH_ROWS) */
	push_rec *pushes;		/* new copies, filled by the commit */
	size_t np, pcap;
	uint64_t now;			/* stored_at of its copies */
	uint64_t first_seq;		/* lowest seq allocated for it (early.c); 0: none */
	uint64_t commit_us;		/* begin to commit */
	size_t wake_errors;		/* announcements that could not be queued */
	int committed;
	int store_broken;		/* the writer's connection is gone (restart) */
	struct qcount *qc;		/* queue counts in its transaction (qcount.h) */
} mbatch;

typedef struct committer committer;
typedef struct early_seqs early_seqs;

struct server {
	sottod_config cfg;
	char dir[4096];
	store *st;
	uint8_t pin[TLS_PIN_LEN];
	void *net;			/* net.c's state */
	conn *conns;
	size_t n_conns;
	uint64_t next_serial;
	conn *by_device[SOTTOD_CONN_BUCKETS];
	mbatch mb[2];			/* one staging, one with the committer */
	size_t staging;			/* index of the staging batch in mb */
	int inflight;			/* mb[!staging] is with the committer */
	committer *cm;			/* NULL: batches commit inline on st */
	early_seqs *seqs;		/* shared by the node's workers; NULL: no early delivery */
	uint64_t *early_seen;		/* DELIVER seqs received (early_got); owned */
	uint16_t *route_cnt;		/* fetching connections per route slot (early.c); owned */
	struct dircache *dc;		/* dircache.c; owned */
	int store_failed;		/* the committer's store broke: the worker restarts */
	volatile int stopping;
	size_t worker;			/* this worker's index (supervisor.c) */
	int ready_fd;			/* >= 0: write one byte there when listening */
	store_wake *wakes;		/* wake-ups drained, not yet acted on (wake.c) */
	size_t wakes_n, wakes_cap;
	size_t n_workers;		/* worker processes of this node */
	limits *lim;			/* this worker's rate limits; NULL: none */
	struct quota_rate *qrate;	/* accounts' byte rates (quota.h), made by the first send; owned */
	int listen_fd;			/* >= 0: the listening socket the supervisor bound */
	size_t out_total;		/* bytes queued over all connections (net.c) */
	size_t rx_total;		/* bytes of messages being received (net.c) */
	uint8_t *tls_key;		/* PEM, read before privileges were dropped */
	size_t tls_key_len;		/* (sc_secure_alloc; NULL: read the files) */
	uint8_t *tls_cert;
	size_t tls_cert_len;
	/* Test mode (SOTTOD_TEST_WITHHOLD_ONCE=HANDLE, for the client's retry
	 * test): the first lookup of HANDLE on each connection is answered
	 * without its newest list, as a server withholding it would. "": off. */
	char test_withhold[SOTTO_MAX_HANDLE + 1];
};

uint64_t now_ms(void);

/* net.c: queue one frame for c (dropped if c is closing or dead); a conn over
 * SOTTOD_MAX_OUTQ_BYTES is closed. */
int conn_send(conn *c, const wire_frame *f);
/* Send what is queued, then close. */
void conn_close_after_flush(conn *c);
void conn_ref(conn *c);
void conn_unref(conn *c);
/* Ask for mailbox_flush() at the end of this event-loop turn. */
void net_request_flush(server *s);
/* The same, us microseconds from now (or sooner if asked again meanwhile). */
void net_request_flush_after(server *s, uint64_t us);
/* Run the loop until SIGTERM/SIGINT; prints "listening on ..." when ready. */
int net_run(server *s);

/* session.c */
void session_open(conn *c);
void session_frame(conn *c, const uint8_t *p, size_t n);
void session_closed(conn *c);
/* Mark c authenticated as device id of handle and register it for pushes. */
void session_authenticated(conn *c, const char *handle, const uint8_t id[SC_DEVICE_ID]);
/* Authenticated connections of a device; iterate with conn_next_device. */
conn *conn_first_device(server *s, const uint8_t id[SC_DEVICE_ID]);
conn *conn_next_device(conn *c, const uint8_t id[SC_DEVICE_ID]);
/* Log a breached cap or rate limit (event=cap_exceeded cap=NAME conn peer,
 * then fmt's key=value pairs); at most one line a second per cap, with the
 * number suppressed meanwhile. c may be NULL (before a connection exists). */
void cap_exceeded(const conn *c, const char *cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Take one token of kind for c's device, account, address and the server
 * (a lookup needs room for a miss, ratelimit.h); on refusal answer id with
 * RATE_LIMITED and a clear text, log, and return 0. */
int session_rate_ok(conn *c, uint64_t id, enum limit_kind kind);
/* The same for a request whose answer may tell whether a handle exists:
 * needs room for a miss (or cost, if more) in the lookup buckets, takes cost. */
int session_probe_ok(conn *c, uint64_t id, double cost);
/* After an answer that told more (a miss, a stale list): charge cost more
 * lookup tokens to c's buckets, into debt if need be. */
void session_charge_lookup(conn *c, double cost);
/* Send a Response with status (and optional detail) answering id. */
void session_respond_status(conn *c, uint64_t id, Sotto__Wire__Status st, const char *detail);
void session_respond(conn *c, uint64_t id, Sotto__Wire__Response *r);

/* directory.c: handlers; each answers the request itself. */
void dir_auth(conn *c, uint64_t id, const Sotto__Wire__AuthRequest *rq);
void dir_register(conn *c, uint64_t id, const Sotto__Wire__RegisterRequest *rq);
void dir_get_lists(conn *c, uint64_t id, const Sotto__Wire__GetDeviceListRequest *rq);
void dir_publish(conn *c, uint64_t id, const Sotto__Wire__PublishDeviceListRequest *rq);
/* Create an invite for handle (not registered): *secret gets the random secret.
 * SOTTO_ERR_HANDLE_TAKEN, SOTTO_ERR_INVALID_ARG, SOTTO_ERR_DB. */
int dir_invite_create(store *st, const char *handle, uint8_t secret[static INVITE_SECRET_LEN],
    uint64_t now) __attribute__((warn_unused_result));
/* The current signed list of handle, parsed. SOTTO_ERR_NOT_FOUND, SOTTO_ERR_DB
 * (also for a stored list that does not parse). *raw: caller frees (may be NULL). */
int dir_current(store *st, const char *handle, dl_list *l, uint8_t **raw, size_t *rawlen)
    __attribute__((warn_unused_result));

/* dircache.c: the current list of handle for the send path, from a per-worker
 * cache valid while the node's directory generation holds (SQLite nodes), or
 * read into *buf (caller's, may be NULL then). *out: borrowed until the next
 * call. Errors as dir_current. */
int dircache_get(server *s, const char *handle, dl_list *buf, const dl_list **out)
    __attribute__((warn_unused_result));
void dircache_free(server *s);

/* The one way a device list becomes current (register, publish, recover), in
 * the transaction the caller began and checked next in: store it (a device
 * id another account lists: SOTTO_ERR_DEVICE_TAKEN), delete the queues of
 * prev's devices that next drops (prev NULL: a first list), announce it to
 * the other workers and nodes, commit; then dir_published (origin, if not
 * NULL, gets no hint: it made the change). The transaction is ended either
 * way. SOTTO_ERR_EXISTS (that version is stored), SOTTO_ERR_DB. */
int dir_list_commit(server *s, const dl_list *prev, const dl_list *next, const uint8_t *p, size_t n,
    const conn *origin) __attribute__((warn_unused_result));
/* Whether handle may publish another version now, read in the caller's
 * transaction (list_publishes_per_hour; recovery: twice that, see
 * directory.c). SOTTO_OK, SOTTO_ERR_RATE_LIMITED, or the store's error. */
int dir_publish_room(store *st, const sottod_config *cfg, const char *handle, int recovery)
    __attribute__((warn_unused_result));
/* A short text for an error of dir_list_commit (or SOTTO_ERR_BAD_KEY of the
 * list's verification), for the Response. */
const char *dir_list_error(int rc);
/* ... and the Status that answers it (DEVICE_TAKEN, CHAIN_INVALID for a
 * version stored meanwhile, TOO_LARGE past the last version clients follow,
 * else INTERNAL). */
Sotto__Wire__Status dir_list_status(int rc);
/* After that commit (here or, through a wake-up, on another worker): hint the
 * connections following l->handle, close the removed devices' connections. */
void dir_published(server *s, const dl_list *l, const conn *except);
/* c follows handle from now on (its own account it always follows). */
void dir_follow(conn *c, const char *handle);
int dir_follows(const conn *c, const char *handle);
/* Frees the follows; the connection is closing. */
void dir_follow_free(conn *c);

/* link.c: linking rendezvous and recovery (docs/PROTOCOL.md). */
void link_post(conn *c, uint64_t id, const Sotto__Wire__LinkPostRequest *rq);
void link_get(conn *c, uint64_t id, const Sotto__Wire__LinkGetRequest *rq);
void link_recover(conn *c, uint64_t id, const Sotto__Wire__RecoverRequest *rq);

/* wake.c: take the wake-ups other workers and nodes announced (store.h) and
 * act on them: push a copy to this worker's fetching connections of its
 * device, pass a list change on to dir_published. io as in wake_drain of
 * store_ops. SOTTO_ERR_DB (and friends) when the wake-up path broke. */
int wake_run(server *s, int io);
/* Frees the wake-up buffer. */
void wake_free(server *s);
/* Announce, inside the open transaction, that handle published version. */
void wake_announce_list(store *st, const char *handle, uint64_t version);

/* privdrop.c: started as root, become user (supplementary groups, then gid,
 * then uid; then check that root cannot be regained). Not root: nothing to
 * do (SOTTO_OK). On failure err holds why. SOTTO_ERR_INVALID_ARG (no such
 * user, or user is root), SOTTO_ERR_INTERNAL (a step failed). */
int priv_drop(const char *user, char *err, size_t errlen) __attribute__((warn_unused_result));
/* 1 when the process runs as root (real or effective uid 0). */
int priv_is_root(void);

/* supervisor.c: serve with s->cfg.workers processes (sottod run); returns the
 * exit status for main(). Binds every worker's listening socket, then drops
 * privileges (s->cfg.user) before the first fork. */
int supervisor_run(server *s);
/* A TCP socket bound to host:port with SO_REUSEPORT (every worker binds the
 * same port; the kernel spreads connections over those listening), listening
 * when backlog > 0; non-blocking, close-on-exec. *port_out: the bound port.
 * SOTTO_ERR_NETWORK (errno says why). */
int server_bind(const char *host, int port, int backlog, int *fd_out, int *port_out)
    __attribute__((warn_unused_result));
/* SOTTO_OK when nothing listens on host:port (port 0: always), checked by a
 * bind without SO_REUSEPORT just before server_bind; SOTTO_ERR_NETWORK with
 * errno (EADDRINUSE) otherwise. */
int server_port_free(const char *host, int port) __attribute__((warn_unused_result));
/* Open the store the configuration names (DIR/sottod.db or postgres_url). */
int server_store_open(const sottod_config *cfg, const char *dir, store **out)
    __attribute__((warn_unused_result));

/* mailbox.c: Send and Ack take ownership of f (the frame holding the request). */
void mbox_send(conn *c, wire_frame *f);
void mbox_ack(conn *c, wire_frame *f);
void mbox_fetch(conn *c, uint64_t id, const Sotto__Wire__FetchRequest *rq);
/* Operations staged and not yet handed to a commit. */
size_t mailbox_staged(const server *s);
/* End of a loop turn: hand what is staged to the committer if it is idle
 * (with none, commit inline). Answers come from mailbox_reap. */
void mailbox_kick(server *s);
/* The committer's descriptor turned readable: answer and push its finished
 * batch, then kick. */
void mailbox_reap(server *s);
/* Commit everything staged and in flight, and answer, before returning. */
void mailbox_flush(server *s);
/* Drop every operation still staged (no answers) — only at shutdown after a flush. */
void mailbox_discard(server *s);
/* Free both batches' buffers (the worker is done). */
void mailbox_free(server *s);
/* Run b in one transaction on st: status of every op, pushes for the new
 * copies. Touches nothing but b and st (the committer thread calls it). */
void mailbox_commit(store *st, mbatch *b, const sottod_config *cfg, const early_seqs *seqs);

/* Envelope + wrap bytes of a copy pushed early through the other workers (one
 * pipe write, PIPE_BUF, holds the record with its header). */
#define EARLY_PAYLOAD_MAX		(PIPE_BUF - 64)

/* early.c: pushing a copy before its commit (the file's comment says how it
 * stays right). The shared counter starts above highest_stored. */
int early_seqs_new(early_seqs **out, uint64_t highest_stored) __attribute__((warn_unused_result));
void early_seqs_free(early_seqs *e);
/* A (re)started worker has nothing unsettled. */
void early_worker_reset(early_seqs *e, size_t worker);
/* Around each mailbox commit of the node's committers (NULL: nothing). */
void early_commit_lock(early_seqs *e);
void early_commit_unlock(early_seqs *e);
/* The node's directory generation: bumped after each commit of a list. */
void early_dir_changed(early_seqs *e);
uint64_t early_dir_gen(const early_seqs *e);
/* The node's next seq (0 without early delivery). */
uint64_t early_next(const server *s);
/* n consecutive seqs for the staging batch; returns the first. */
uint64_t early_alloc(server *s, size_t n);
/* Publish this worker's lowest unsettled seq (after its batches changed). */
void early_publish(server *s);
/* 1 when an ack that missed some of seqs must wait for a commit. */
int early_ack_waits(const early_seqs *e, const uint64_t *seqs, size_t n);
uint64_t early_ack_deadline(uint64_t now);
/* Push a copy to this worker's fetching connections of the device; missed_only:
 * only those that began fetching before seq was allocated. */
void early_push(server *s, const uint8_t device_id[SC_DEVICE_ID], uint64_t seq, uint64_t stored_at,
    const uint8_t *env, size_t env_len, const uint8_t *wrap, size_t wrap_len, int missed_only);
/* The route map: a fetching connection of the device begins (before its
 * first read of the store) or ends on this worker; early_route: the workers
 * that may hold one (UINT64_MAX without early delivery). */
void early_route_add(server *s, const uint8_t device_id[SC_DEVICE_ID]);
void early_route_del(server *s, const uint8_t device_id[SC_DEVICE_ID]);
uint64_t early_route(const early_seqs *e, const uint8_t device_id[SC_DEVICE_ID]);
/* A DELIVER for seq came through the pipe; did one? (a small memory) */
void early_got(server *s, uint64_t seq);
int early_had(const server *s, uint64_t seq);
/* 1 when a connection of the device may have missed seq's early push. */
int early_missed(server *s, const uint8_t device_id[SC_DEVICE_ID], uint64_t seq);

/* committer.c: a thread that runs mailbox_commit on its own store (writer,
 * owned from then on) one batch at a time. */
int committer_start(committer **out, store *writer, const sottod_config *cfg, early_seqs *seqs)
    __attribute__((warn_unused_result));
/* Readable when a submitted batch is done. */
int committer_fd(const committer *cm);
/* Hand b over; only when the committer holds no other batch. */
void committer_submit(committer *cm, mbatch *b);
/* 1 when the submitted batch is done (it is the caller's again); resets the fd. */
int committer_done(committer *cm);
/* Block until the submitted batch (if any) is done. */
void committer_wait(committer *cm);
/* Wait, stop the thread, close the writer store. Accepts NULL. */
void committer_stop(committer *cm);
/* Delete expired copies, at most SOTTOD_SWEEP_BATCH in one transaction (a
 * short stop of the loop, not one as long as the backlog); logs how many.
 * Returns 1 if more may be left (sweep again soon), else 0. Only worker 0
 * sweeps: the store is shared by the node's workers. */
#define SOTTOD_SWEEP_BATCH 1000
int mailbox_sweep(server *s);

#endif
