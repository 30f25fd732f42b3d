/* SPDX-License-Identifier: ISC */
/* The fake server of fake_server.h: ctransport_* of client.h, in memory. */
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client.h"
#include "devicelist.h"
#include "fake_server.h"

#define FAKE_MAX_ACCOUNTS 64
#define FAKE_MAX_VERSIONS 64

typedef struct fake_account {
	char handle[SOTTO_MAX_HANDLE + 1];
	size_t n;
	uint8_t *list[FAKE_MAX_VERSIONS];
	size_t len[FAKE_MAX_VERSIONS];
} fake_account;

typedef struct fake_copy {
	uint64_t seq;
	uint8_t device[SC_DEVICE_ID];
	uint8_t *env, *wrap;
	size_t env_len, wrap_len;
	int acked;
} fake_copy;

typedef struct out_node {
	uint8_t *p;
	size_t n;
	struct out_node *next;
} out_node;

struct ctransport {
	conn *owner;
	uint8_t device[SC_DEVICE_ID];
	int authed;
	int closed;
	out_node *head, *tail;
	uint64_t pending_hints;
};

static struct {
	fake_account acct[FAKE_MAX_ACCOUNTS];
	size_t n_acct;
	fake_copy *copies;
	size_t n_copies, cap_copies;
	uint64_t next_seq, hint_serial, request_limit;
	fake_hostile hostile;
	fake_stats stats;
} F;

size_t
fake_heap_now(void)
{
	return mallinfo2().uordblks;
}

static void
sample_heap(void)
{
	size_t h = fake_heap_now();

	if (h > F.stats.heap_peak)
		F.stats.heap_peak = h;
}

void
fake_reset(void)
{
	for (size_t i = 0; i < F.n_acct; i++)
		for (size_t v = 0; v < F.acct[i].n; v++)
			free(F.acct[i].list[v]);
	for (size_t i = 0; i < F.n_copies; i++) {
		free(F.copies[i].env);
		free(F.copies[i].wrap);
	}
	free(F.copies);
	memset(&F, 0, sizeof(F));
}

fake_hostile *
fake_hostile_get(void)
{
	return &F.hostile;
}

fake_stats *
fake_stats_get(void)
{
	return &F.stats;
}

void
fake_stats_reset(void)
{
	memset(&F.stats, 0, sizeof(F.stats));
	F.stats.heap_peak = fake_heap_now();
}

void
fake_request_limit(uint64_t n)
{
	F.request_limit = n;
}

static uint8_t *
dup_bytes(const uint8_t *p, size_t n)
{
	uint8_t *d = malloc(n > 0 ? n : 1);

	if (d != NULL && n > 0)
		memcpy(d, p, n);
	return d;
}

int
fake_queue_copy(const uint8_t device_id[static SC_DEVICE_ID], const uint8_t *env, size_t env_len,
    const uint8_t *wrap, size_t wrap_len)
{
	fake_copy *c;

	if (F.n_copies == F.cap_copies) {
		size_t cap = F.cap_copies ? F.cap_copies * 2 : 64;
		fake_copy *n = realloc(F.copies, cap * sizeof(*n));

		if (n == NULL)
			return SOTTO_ERR_NOMEM;
		F.copies = n;
		F.cap_copies = cap;
	}
	c = &F.copies[F.n_copies];
	memset(c, 0, sizeof(*c));
	c->seq = ++F.next_seq;
	memcpy(c->device, device_id, SC_DEVICE_ID);
	if ((c->env = dup_bytes(env, env_len)) == NULL || (c->wrap = dup_bytes(wrap, wrap_len)) == NULL) {
		free(c->env);
		return SOTTO_ERR_NOMEM;
	}
	c->env_len = env_len;
	c->wrap_len = wrap_len;
	F.n_copies++;
	return SOTTO_OK;
}

size_t
fake_queued(const uint8_t device_id[static SC_DEVICE_ID])
{
	size_t n = 0;

	for (size_t i = 0; i < F.n_copies; i++)
		n += !F.copies[i].acked && memcmp(F.copies[i].device, device_id, SC_DEVICE_ID) == 0;
	return n;
}

static fake_account *
account(const char *handle)
{
	for (size_t i = 0; i < F.n_acct; i++)
		if (strcmp(F.acct[i].handle, handle) == 0)
			return &F.acct[i];
	return NULL;
}

static void
out_push(ctransport *t, const wire_frame *f)
{
	out_node *n = calloc(1, sizeof(*n));

	if (n == NULL || wire_encode(f, 0, &n->p, &n->n) != SOTTO_OK) {
		free(n);
		t->closed = 1;
		return;
	}
	if (t->tail != NULL)
		t->tail->next = n;
	else
		t->head = n;
	t->tail = n;
}

static void
push_hint(ctransport *t)
{
	Sotto__Wire__Frame f = SOTTO__WIRE__FRAME__INIT;
	Sotto__Wire__DeviceListChanged d = SOTTO__WIRE__DEVICE_LIST_CHANGED__INIT;
	char h[SOTTO_MAX_HANDLE + 1];
	uint8_t *p = NULL;
	size_t n = 0;

	if (F.hostile.hint_distinct)
		snprintf(h, sizeof(h), "h%llu", (unsigned long long)++F.hint_serial);
	else
		snprintf(h, sizeof(h), "%s", F.hostile.hint_handle);
	d.handle = h;
	d.version = F.hint_serial + 2;
	f.msg_case = SOTTO__WIRE__FRAME__MSG_DEVICE_LIST_CHANGED;
	f.device_list_changed = &d;
	F.stats.pushes++;
	if (wire_encode(&f, 0, &p, &n) != SOTTO_OK) {
		t->closed = 1;
		return;
	}
	if (conn_frame_in(t->owner, p, n) != SOTTO_OK)
		t->closed = 1;
	free(p);
}

int
ctransport_open(ctransport **out, conn *owner, const char *address, const uint8_t pin[static TLS_PIN_LEN])
{
	Sotto__Wire__Frame f = SOTTO__WIRE__FRAME__INIT;
	Sotto__Wire__Challenge ch = SOTTO__WIRE__CHALLENGE__INIT;
	uint8_t nonce[WIRE_NONCE_LEN];
	ctransport *t;

	(void)pin;
	*out = NULL;
	if (strcmp(address, FAKE_ADDRESS) != 0)
		return SOTTO_ERR_NETWORK;
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return SOTTO_ERR_NOMEM;
	t->owner = owner;
	sc_random(nonce, sizeof(nonce));
	ch.nonce.data = nonce;
	ch.nonce.len = sizeof(nonce);
	ch.protocol_version = WIRE_PROTOCOL_VERSION;
	f.msg_case = SOTTO__WIRE__FRAME__MSG_CHALLENGE;
	f.challenge = &ch;
	out_push(t, &f);
	*out = t;
	return SOTTO_OK;
}

void
ctransport_close(ctransport *t)
{
	out_node *n;

	if (t == NULL)
		return;
	while ((n = t->head) != NULL) {
		t->head = n->next;
		free(n->p);
		free(n);
	}
	free(t);
}

static void
answer_lists(const Sotto__Wire__GetDeviceListRequest *g, Sotto__Wire__Response *rs, ProtobufCBinaryData *bl,
    uint8_t **owned, size_t *n_owned)
{
	fake_account *a;
	uint64_t v;
	size_t k = 0;

	if (F.hostile.chain_handle != NULL && strcmp(g->handle, F.hostile.chain_handle) == 0) {
		for (v = g->since_version + 1; v <= F.hostile.chain_len && k < SOTTO_MAX_LIST_HISTORY; v++) {
			uint8_t *p = NULL;
			size_t n = 0;

			if (F.hostile.chain(g->handle, v, &p, &n, F.hostile.chain_arg) != SOTTO_OK)
				break;
			owned[(*n_owned)++] = p;
			bl[k].data = p;
			bl[k].len = n;
			k++;
		}
		rs->n_device_lists = k;
		rs->more = v <= F.hostile.chain_len;
		return;
	}
	if ((a = account(g->handle)) == NULL) {
		rs->status = SOTTO__WIRE__STATUS__NO_SUCH_HANDLE;
		return;
	}
	for (v = g->since_version; v < a->n && k < SOTTO_MAX_LIST_HISTORY; v++, k++) {
		bl[k].data = a->list[v];
		bl[k].len = a->len[v];
	}
	rs->n_device_lists = k;
}

static void
serve(ctransport *t, const wire_frame *req)
{
	Sotto__Wire__Frame f = SOTTO__WIRE__FRAME__INIT;
	Sotto__Wire__Response rs = SOTTO__WIRE__RESPONSE__INIT;
	static ProtobufCBinaryData bl[SOTTO_MAX_LIST_HISTORY];
	static uint8_t *owned[SOTTO_MAX_LIST_HISTORY];
	static Sotto__Wire__Delivery dv[SOTTO_MAX_FETCH_BATCH], *dp[SOTTO_MAX_FETCH_BATCH];
	size_t n_owned = 0, i, k;
	fake_account *a;
	dl_list *l;

	rs.status = SOTTO__WIRE__STATUS__OK;
	rs.device_lists = bl;
	rs.deliveries = dp;
	switch (req->msg_case) {
	case SOTTO__WIRE__FRAME__MSG_AUTH:
		if (req->auth->device_id.len == SC_DEVICE_ID) {
			memcpy(t->device, req->auth->device_id.data, SC_DEVICE_ID);
			t->authed = 1;
		}
		break;
	case SOTTO__WIRE__FRAME__MSG_REGISTER:
		if ((l = calloc(1, sizeof(*l))) == NULL || F.n_acct == FAKE_MAX_ACCOUNTS ||
		    dl_parse(l, req->register_->device_list.data, req->register_->device_list.len) != SOTTO_OK ||
		    account(l->handle) != NULL) {
			rs.status = SOTTO__WIRE__STATUS__BAD_REQUEST;
			free(l);
			break;
		}
		a = &F.acct[F.n_acct++];
		snprintf(a->handle, sizeof(a->handle), "%s", l->handle);
		a->list[0] = dup_bytes(req->register_->device_list.data, req->register_->device_list.len);
		a->len[0] = req->register_->device_list.len;
		a->n = 1;
		memcpy(t->device, l->devices[0].id, SC_DEVICE_ID);
		t->authed = 1;
		rs.device_id.data = t->device;
		rs.device_id.len = SC_DEVICE_ID;
		free(l);
		break;
	case SOTTO__WIRE__FRAME__MSG_GET_DEVICE_LIST:
		answer_lists(req->get_device_list, &rs, bl, owned, &n_owned);
		break;
	case SOTTO__WIRE__FRAME__MSG_SEND:
		for (i = 0; i < req->send->n_recipients; i++)
			for (k = 0; k < req->send->recipients[i]->n_copies; k++) {
				const Sotto__Wire__Copy *c = req->send->recipients[i]->copies[k];

				if (c->device_id.len == SC_DEVICE_ID &&
				    fake_queue_copy(c->device_id.data, req->send->envelope.data,
				    req->send->envelope.len, c->wrap.data, c->wrap.len) != SOTTO_OK)
					rs.status = SOTTO__WIRE__STATUS__INTERNAL;
			}
		break;
	case SOTTO__WIRE__FRAME__MSG_FETCH:
		for (i = 0, k = 0; i < F.n_copies; i++) {
			/* More for ever: what was acknowledged comes again and again. */
			if ((F.copies[i].acked && !F.hostile.fetch_more_forever) ||
			    memcmp(F.copies[i].device, t->device, SC_DEVICE_ID) != 0)
				continue;
			if (k == SOTTO_MAX_FETCH_BATCH) {
				rs.more = 1;
				break;
			}
			sotto__wire__delivery__init(&dv[k]);
			dv[k].seq = F.copies[i].seq;
			dv[k].envelope.data = F.copies[i].env;
			dv[k].envelope.len = F.copies[i].env_len;
			dv[k].wrap.data = F.copies[i].wrap;
			dv[k].wrap.len = F.copies[i].wrap_len;
			dp[k] = &dv[k];
			k++;
		}
		rs.n_deliveries = k;
		if (F.hostile.fetch_more_forever)
			rs.more = 1;
		break;
	case SOTTO__WIRE__FRAME__MSG_ACK:
		for (k = 0; k < req->ack->n_seqs; k++)
			for (i = 0; i < F.n_copies; i++)
				if (F.copies[i].seq == req->ack->seqs[k] &&
				    memcmp(F.copies[i].device, t->device, SC_DEVICE_ID) == 0)
					F.copies[i].acked = 1;
		break;
	default:
		break;
	}
	f.id = req->id;
	f.msg_case = SOTTO__WIRE__FRAME__MSG_RESPONSE;
	f.response = &rs;
	out_push(t, &f);
	for (i = 0; i < n_owned; i++)
		free(owned[i]);
	t->pending_hints += F.hostile.hints_per_answer;
}

int
ctransport_send(ctransport *t, const wire_frame *f)
{
	uint8_t *p = NULL;
	wire_frame *req = NULL;
	size_t n = 0;
	int r;

	if (t->closed)
		return SOTTO_ERR_NETWORK;
	/* Through the encoder and decoder, as on the wire. */
	if ((r = wire_encode(f, 0, &p, &n)) != SOTTO_OK)
		return r;
	r = wire_decode(&req, p, n, SOTTO_MAX_FRAME);
	free(p);
	if (r != SOTTO_OK)
		return r;
	F.stats.requests++;
	if ((size_t)req->msg_case < sizeof(F.stats.by_kind) / sizeof(F.stats.by_kind[0]))
		F.stats.by_kind[req->msg_case]++;
	if (F.request_limit != 0 && F.stats.requests >= F.request_limit)
		t->closed = 1;
	else
		serve(t, req);
	wire_free(req);
	return SOTTO_OK;
}

int
ctransport_service(ctransport *t, int timeout_ms)
{
	struct timespec ts;
	out_node *n;
	unsigned k = 0;
	int busy = 0;

	while ((n = t->head) != NULL && !t->closed) {
		t->head = n->next;
		if (t->head == NULL)
			t->tail = NULL;
		if (conn_frame_in(t->owner, n->p, n->n) != SOTTO_OK)
			t->closed = 1;
		free(n->p);
		free(n);
		busy = 1;
		sample_heap();
	}
	/* A hostile server's pushes, made one at a time: its own memory stays
	 * flat, so the heap measures the client. */
	while (t->pending_hints > 0 && !t->closed) {
		t->pending_hints--;
		push_hint(t);
		busy = 1;
		if (++k % 64 == 0)
			sample_heap();
	}
	sample_heap();
	if (t->closed)
		return SOTTO_ERR_NETWORK;
	if (!busy && timeout_ms > 0) {
		/* Nothing comes unasked from this server: waiting is sleeping. */
		ts.tv_sec = timeout_ms / 1000;
		ts.tv_nsec = (long)(timeout_ms % 1000) * 1000000L;
		nanosleep(&ts, NULL);
	}
	return SOTTO_OK;
}
