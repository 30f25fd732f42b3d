/* SPDX-License-Identifier: ISC */
#include <stdio.h>
#include <string.h>

#include "client.h"
#include "envelope.h"
#include "wire.h"

typedef struct hist_state {
	sotto_message_cb cb;
	void *arg;
	int stopped;
} hist_state;

int
client_show_stored(const cstore_message *sm, sotto_message_cb cb, void *arg)
{
	const char *to[SOTTO_MAX_RECIPIENTS];
	char id[ENV_MSG_ID_LEN * 2 + 1], dev[SC_DEVICE_ID * 2 + 1];
	char list[sizeof(sm->to)];
	char *p, *save = NULL;
	sotto_message m;
	size_t n = 0;

	snprintf(list, sizeof(list), "%s", sm->to);
	for (p = strtok_r(list, ",", &save); p != NULL && n < SOTTO_MAX_RECIPIENTS;
	    p = strtok_r(NULL, ",", &save))
		to[n++] = p;
	sc_hex(id, sm->msg_id, ENV_MSG_ID_LEN);
	sc_hex(dev, sm->device, SC_DEVICE_ID);
	memset(&m, 0, sizeof(m));
	m.id = id;
	m.from = sm->from;
	m.device = dev;
	m.to = to;
	m.n_to = n;
	m.sent_at = sm->sent_at;
	m.body = sm->body;
	m.body_len = sm->body_len;
	m.outgoing = sm->outgoing;
	return cb(&m, arg);
}

static int
one(const cstore_message *sm, void *arg)
{
	hist_state *st = arg;

	if (client_show_stored(sm, st->cb, st->arg) != 0) {
		st->stopped = 1;
		return 1;
	}
	return 0;
}

int
sotto_history(sotto_client *c, const char *handle, sotto_message_cb cb, void *arg)
{
	hist_state st;
	int r;

	c->detail[0] = '\0';
	if (cb == NULL || (handle != NULL && !handle_valid(handle)))
		return SOTTO_ERR_INVALID_ARG;
	memset(&st, 0, sizeof(st));
	st.cb = cb;
	st.arg = arg;
	client_warnings_clear(c);
	r = cstore_messages_all(c->st, handle, one, &st);
	client_warn_skipped(c);
	return st.stopped ? SOTTO_OK : r;
}

void
client_warn_skipped(sotto_client *c)
{
	int64_t first = 0;
	size_t n = cstore_skipped(c->st, &first), used = strlen(c->warnings);

	if (n == 0)
		return;
	snprintf(c->warnings + used, sizeof(c->warnings) - used, "%zu stored message%s could not be "
	    "read (row %lld%s): altered in the database, or sealed under another key; skipped\n", n,
	    n == 1 ? "" : "s", (long long)first, n == 1 ? "" : " and others");
}
