/* SPDX-License-Identifier: ISC */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "envelope.h"

#define SEND_ATTEMPTS 3

/* Everything one send needs: the verified lists of every handle that gets copies. */
typedef struct send_plan {
	size_t n;				/* handles getting copies */
	char handles[SOTTO_MAX_RECIPIENTS + 1][SOTTO_MAX_HANDLE + 1];
	dl_list *lists;				/* n of them */
} send_plan;

static int
plan_lists(sotto_client *c, send_plan *pl)
{
	int r;

	for (size_t i = 0; i < pl->n; i++)
		if ((r = client_list_refresh(c, pl->handles[i], &pl->lists[i], NULL, NULL)) != SOTTO_OK)
			return r;
	return SOTTO_OK;
}

/* Seal once for every device in the plan except this one, and send. */
static int
seal_and_send(sotto_client *c, const send_plan *pl, env_header *h, const uint8_t *body,
    size_t body_len, wire_frame **resp)
{
	Sotto__Wire__Frame f = SOTTO__WIRE__FRAME__INIT;
	Sotto__Wire__SendRequest sr = SOTTO__WIRE__SEND_REQUEST__INIT;
	Sotto__Wire__Recipient *recips = NULL, **rp = NULL;
	Sotto__Wire__Copy *copies = NULL, **cp = NULL;
	env_target *targets = NULL;
	uint8_t *wraps = NULL, *envelope = NULL;
	size_t env_len = 0, nt = 0, nr = 0, i, j, k;
	int r = SOTTO_ERR_NOMEM;

	*resp = NULL;
	for (i = 0; i < pl->n; i++)
		nt += pl->lists[i].n_devices;
	if ((targets = calloc(nt + 1, sizeof(*targets))) == NULL ||
	    (wraps = calloc(nt + 1, ENV_WRAP_LEN)) == NULL ||
	    (copies = calloc(nt + 1, sizeof(*copies))) == NULL ||
	    (cp = calloc(nt + 1, sizeof(*cp))) == NULL ||
	    (recips = calloc(pl->n + 1, sizeof(*recips))) == NULL ||
	    (rp = calloc(pl->n + 1, sizeof(*rp))) == NULL)
		goto out;
	nt = 0;
	for (i = 0; i < pl->n; i++)
		for (j = 0; j < pl->lists[i].n_devices; j++) {
			const dl_device *d = &pl->lists[i].devices[j];

			if (sc_memeq(d->id, c->cfg.device_id, SC_DEVICE_ID))
				continue;
			targets[nt].device_id = d->id;
			targets[nt].enc_pub = d->enc_pub;
			nt++;
		}
	if (nt == 0) {
		r = SOTTO_ERR_INVALID_ARG;
		client_set_detail(c, "no device to send to: you have no other device");
		goto out;
	}
	if ((r = env_seal(h, body, body_len, CLIENT_SIGN_SEC(c), targets, nt, &envelope, &env_len,
	    wraps)) != SOTTO_OK)
		goto out;
	/* One Recipient per handle with a copy per device; the targets above are in
	 * the same order, so copy k is targets[k]. */
	k = 0;
	for (i = 0; i < pl->n; i++) {
		Sotto__Wire__Recipient *rc = &recips[nr];
		size_t first = k;

		sotto__wire__recipient__init(rc);
		rc->handle = (char *)pl->handles[i];
		rc->list_version = pl->lists[i].version;
		for (j = 0; j < pl->lists[i].n_devices; j++) {
			if (sc_memeq(pl->lists[i].devices[j].id, c->cfg.device_id, SC_DEVICE_ID))
				continue;
			sotto__wire__copy__init(&copies[k]);
			copies[k].device_id.data = (uint8_t *)targets[k].device_id;
			copies[k].device_id.len = SC_DEVICE_ID;
			copies[k].wrap.data = wraps + k * ENV_WRAP_LEN;
			copies[k].wrap.len = ENV_WRAP_LEN;
			cp[k] = &copies[k];
			k++;
		}
		if (k == first)
			continue;	/* my own handle with no other device */
		rc->n_copies = k - first;
		rc->copies = &cp[first];
		rp[nr++] = rc;
	}
	sr.msg_id.data = h->msg_id;
	sr.msg_id.len = ENV_MSG_ID_LEN;
	sr.envelope.data = envelope;
	sr.envelope.len = env_len;
	sr.n_recipients = nr;
	sr.recipients = rp;
	f.msg_case = SOTTO__WIRE__FRAME__MSG_SEND;
	f.send = &sr;
	if ((r = client_connect(c)) != SOTTO_OK)
		goto out;
	r = conn_request(c->cn, &f, resp);
	if (r != SOTTO_OK && *resp == NULL)
		client_disconnect(c);
out:
	free(targets);
	free(wraps);
	free(copies);
	free(cp);
	free(recips);
	free(rp);
	free(envelope);
	return r;
}

static int
store_sent(sotto_client *c, const env_header *h, const uint8_t *body, size_t body_len)
{
	cstore_message m;
	size_t used = 0;

	memset(&m, 0, sizeof(m));
	memcpy(m.msg_id, h->msg_id, sizeof(m.msg_id));
	snprintf(m.from, sizeof(m.from), "%s", c->cfg.handle);
	memcpy(m.device, c->cfg.device_id, SC_DEVICE_ID);
	for (size_t i = 0; i < h->n_recipients; i++) {
		int k = snprintf(m.to + used, sizeof(m.to) - used, "%s%s", i ? "," : "",
		    h->recipients[i]);

		if (k < 0 || (size_t)k >= sizeof(m.to) - used)
			return SOTTO_ERR_INTERNAL;
		used += (size_t)k;
	}
	m.sent_at = h->sent_at;
	m.body = body;
	m.body_len = body_len;
	m.outgoing = 1;
	m.received_at = client_now_ms();
	m.shown = 1;	/* the user wrote it: there is nothing to show */
	return cstore_message_add(c->st, &m);
}

int
sotto_send(sotto_client *c, const char *const *to, size_t n_to, const uint8_t *body,
    size_t body_len, char msg_id[SOTTO_ID_HEX_LEN + 1])
{
	send_plan *pl = NULL;
	env_header *h = NULL;
	wire_frame *resp = NULL;
	int r, attempt;
	size_t i, j;

	c->detail[0] = '\0';
	client_warnings_clear(c);
	if (to == NULL || n_to == 0 || n_to > SOTTO_MAX_RECIPIENTS || (body == NULL && body_len > 0))
		return SOTTO_ERR_INVALID_ARG;
	if (body_len > SOTTO_MAX_BODY)
		return SOTTO_ERR_TOO_LARGE;
	r = SOTTO_ERR_NOMEM;
	if ((pl = calloc(1, sizeof(*pl))) == NULL || (h = calloc(1, sizeof(*h))) == NULL ||
	    (pl->lists = calloc(SOTTO_MAX_RECIPIENTS + 1, sizeof(*pl->lists))) == NULL)
		goto out;
	/* Recipients, duplicates dropped, in the order given. */
	for (i = 0; i < n_to; i++) {
		if (!handle_valid(to[i])) {
			client_set_detail(c, "invalid handle: %s", to[i] != NULL ? to[i] : "");
			r = SOTTO_ERR_INVALID_ARG;
			goto out;
		}
		for (j = 0; j < h->n_recipients; j++)
			if (strcmp(h->recipients[j], to[i]) == 0)
				break;
		if (j < h->n_recipients)
			continue;
		snprintf(h->recipients[h->n_recipients++], SOTTO_MAX_HANDLE + 1, "%s", to[i]);
		if (strcmp(to[i], c->cfg.handle) != 0)
			snprintf(pl->handles[pl->n++], SOTTO_MAX_HANDLE + 1, "%s", to[i]);
	}
	/* My own handle last: copies for my other devices, if any. */
	snprintf(pl->handles[pl->n++], SOTTO_MAX_HANDLE + 1, "%s", c->cfg.handle);
	snprintf(h->sender, sizeof(h->sender), "%s", c->cfg.handle);
	memcpy(h->sender_device, c->cfg.device_id, SC_DEVICE_ID);
	h->version = ENV_VERSION;

	if ((r = plan_lists(c, pl)) != SOTTO_OK)
		goto out;
	for (attempt = 0; ; attempt++) {
		wire_free(resp);
		resp = NULL;
		r = seal_and_send(c, pl, h, body, body_len, &resp);
		if (r != SOTTO_ERR_STALE || attempt + 1 >= SEND_ATTEMPTS)
			break;
		/* The server saw newer lists: verify them ourselves and try again. */
		for (i = 0; i < resp->response->n_stale; i++) {
			const Sotto__Wire__StaleList *sl = resp->response->stale[i];

			for (j = 0; j < pl->n; j++) {
				if (strcmp(sl->handle, pl->handles[j]) != 0)
					continue;
				/* A server version not newer than ours means the server holds
				 * another list at a version we verified: re-check from there. */
				r = sl->version <= pl->lists[j].version ?
				    client_list_recheck(c, pl->handles[j], sl->version > 0 ?
				    sl->version - 1 : 0, &pl->lists[j]) :
				    client_list_refresh(c, pl->handles[j], &pl->lists[j], NULL, NULL);
				if (r != SOTTO_OK)
					goto out;
			}
		}
		if (resp->response->n_stale == 0 && (r = plan_lists(c, pl)) != SOTTO_OK)
			goto out;
	}
	if (r != SOTTO_OK) {
		if (resp != NULL && (r == SOTTO_ERR_NO_SUCH_HANDLE || r == SOTTO_ERR_MAILBOX_FULL ||
		    r == SOTTO_ERR_SHARE_FULL) &&
		    handle_valid(resp->response->handle))
			client_set_detail(c, "%s", resp->response->handle);
		goto out;
	}
	if ((r = store_sent(c, h, body, body_len)) != SOTTO_OK)
		goto out;
	sc_hex(msg_id, h->msg_id, ENV_MSG_ID_LEN);
out:
	wire_free(resp);
	if (pl != NULL)
		free(pl->lists);
	free(pl);
	free(h);
	return r;
}
