/* SPDX-License-Identifier: ISC */
#include <stdlib.h>
#include <string.h>

#include "caps.h"
#include "sotto/error.h"
#include "wire.h"

static int
len_is(const ProtobufCBinaryData *b, size_t n)
{
	return b->len == n;
}

static int
str_ok(const char *s, size_t max)
{
	return s != NULL && strnlen(s, max + 1) <= max;
}

/* Fixed-length fields are checked once here, so no handler has to. */
static int
validate(const wire_frame *f)
{
	size_t i, j;

	switch (f->msg_case) {
	case SOTTO__WIRE__FRAME__MSG_CHALLENGE:
		return len_is(&f->challenge->nonce, WIRE_NONCE_LEN);
	case SOTTO__WIRE__FRAME__MSG_AUTH:
		return handle_valid(f->auth->handle) && len_is(&f->auth->device_id, 16) &&
		    len_is(&f->auth->signature, 64);
	case SOTTO__WIRE__FRAME__MSG_REGISTER:
		return str_ok(f->register_->invite_secret, SOTTO_MAX_INVITE) &&
		    handle_valid(f->register_->handle) &&
		    f->register_->device_list.len <= SOTTO_MAX_DEVICE_LIST &&
		    len_is(&f->register_->signature, 64);
	case SOTTO__WIRE__FRAME__MSG_GET_DEVICE_LIST:
		return handle_valid(f->get_device_list->handle);
	case SOTTO__WIRE__FRAME__MSG_PUBLISH_DEVICE_LIST:
		return f->publish_device_list->device_list.len <= SOTTO_MAX_DEVICE_LIST;
	case SOTTO__WIRE__FRAME__MSG_SEND:
		if (!len_is(&f->send->msg_id, 16) || f->send->envelope.len > SOTTO_MAX_ENVELOPE ||
		    f->send->n_recipients == 0 || f->send->n_recipients > SOTTO_MAX_RECIPIENTS + 1)
			return 0;
		for (i = 0; i < f->send->n_recipients; i++) {
			const Sotto__Wire__Recipient *r = f->send->recipients[i];

			if (!handle_valid(r->handle) || r->n_copies > SOTTO_MAX_DEVICES)
				return 0;
			for (j = 0; j < r->n_copies; j++)
				if (!len_is(&r->copies[j]->device_id, 16) || r->copies[j]->wrap.len > 256)
					return 0;
		}
		return 1;
	case SOTTO__WIRE__FRAME__MSG_ACK:
		return f->ack->n_seqs <= SOTTO_MAX_FETCH_BATCH * 4;
	case SOTTO__WIRE__FRAME__MSG_FETCH:
		return 1;
	case SOTTO__WIRE__FRAME__MSG_RESPONSE:
		if (!str_ok(f->response->error, 1024) || !str_ok(f->response->handle, SOTTO_MAX_HANDLE) ||
		    f->response->link_blob.len > SOTTO_MAX_LINK_BLOB ||
		    f->response->n_device_lists > SOTTO_MAX_LIST_HISTORY ||
		    f->response->n_deliveries > SOTTO_MAX_FETCH_BATCH ||
		    f->response->n_stale > SOTTO_MAX_RECIPIENTS + 1)
			return 0;
		for (i = 0; i < f->response->n_device_lists; i++)
			if (f->response->device_lists[i].len > SOTTO_MAX_DEVICE_LIST)
				return 0;
		for (i = 0; i < f->response->n_stale; i++)
			if (!handle_valid(f->response->stale[i]->handle))
				return 0;
		return 1;
	case SOTTO__WIRE__FRAME__MSG_DELIVERY:
		return f->delivery->envelope.len <= SOTTO_MAX_ENVELOPE && f->delivery->wrap.len <= 256;
	case SOTTO__WIRE__FRAME__MSG_DEVICE_LIST_CHANGED:
		return handle_valid(f->device_list_changed->handle);
	case SOTTO__WIRE__FRAME__MSG_LINK_POST:
		return len_is(&f->link_post->rendezvous_id, WIRE_RENDEZVOUS_LEN) &&
		    f->link_post->slot <= WIRE_LINK_PICKUP && f->link_post->blob.len > 0 &&
		    f->link_post->blob.len <= SOTTO_MAX_LINK_BLOB;
	case SOTTO__WIRE__FRAME__MSG_LINK_GET:
		return len_is(&f->link_get->rendezvous_id, WIRE_RENDEZVOUS_LEN) && f->link_get->slot <= WIRE_LINK_PICKUP;
	case SOTTO__WIRE__FRAME__MSG_RECOVER:
		return handle_valid(f->recover->handle) &&
		    f->recover->device_list.len <= SOTTO_MAX_DEVICE_LIST &&
		    len_is(&f->recover->signature, 64);
	case SOTTO__WIRE__FRAME__MSG__NOT_SET:
	default:
		return 0;
	}
}

int
wire_decode(wire_frame **out, const uint8_t *p, size_t n, size_t max)
{
	wire_frame *f;

	*out = NULL;
	if (n > max)
		return SOTTO_ERR_TOO_LARGE;
	if ((f = sotto__wire__frame__unpack(NULL, n, p)) == NULL)
		return SOTTO_ERR_FORMAT;
	if (f->msg_case == SOTTO__WIRE__FRAME__MSG_RESPONSE)
		for (size_t i = 0; i < f->response->n_deliveries; i++)
			if (f->response->deliveries[i]->envelope.len > SOTTO_MAX_ENVELOPE ||
			    f->response->deliveries[i]->wrap.len > 256) {
				sotto__wire__frame__free_unpacked(f, NULL);
				return SOTTO_ERR_FORMAT;
			}
	if (!validate(f)) {
		sotto__wire__frame__free_unpacked(f, NULL);
		return SOTTO_ERR_FORMAT;
	}
	*out = f;
	return SOTTO_OK;
}

void
wire_free(wire_frame *f)
{
	if (f != NULL)
		sotto__wire__frame__free_unpacked(f, NULL);
}

int
wire_encode(const wire_frame *f, size_t headroom, uint8_t **out, size_t *n)
{
	size_t len = sotto__wire__frame__get_packed_size(f);
	uint8_t *b;

	*out = NULL;
	*n = 0;
	if (len > SOTTO_MAX_FRAME)
		return SOTTO_ERR_TOO_LARGE;
	if ((b = malloc(headroom + len + 1)) == NULL)
		return SOTTO_ERR_NOMEM;
	if (sotto__wire__frame__pack(f, b + headroom) != len) {
		free(b);
		return SOTTO_ERR_INTERNAL;
	}
	*out = b;
	*n = len;
	return SOTTO_OK;
}

size_t
wire_size(const wire_frame *f)
{
	return sotto__wire__frame__get_packed_size(f);
}

int
wire_pack(const wire_frame *f, uint8_t *dst, size_t len)
{
	/* Checked again here: packing more than len would overrun dst. */
	if (sotto__wire__frame__get_packed_size(f) != len)
		return SOTTO_ERR_INTERNAL;
	if (len > SOTTO_MAX_FRAME)
		return SOTTO_ERR_TOO_LARGE;
	if (sotto__wire__frame__pack(f, dst) != len)
		return SOTTO_ERR_INTERNAL;
	return SOTTO_OK;
}

static const struct {
	Sotto__Wire__Status st;
	int err;
} status_map[] = {
	{ SOTTO__WIRE__STATUS__OK, SOTTO_OK },
	{ SOTTO__WIRE__STATUS__BAD_REQUEST, SOTTO_ERR_PROTOCOL },
	{ SOTTO__WIRE__STATUS__UNAUTHENTICATED, SOTTO_ERR_UNAUTHENTICATED },
	{ SOTTO__WIRE__STATUS__NO_SUCH_HANDLE, SOTTO_ERR_NO_SUCH_HANDLE },
	{ SOTTO__WIRE__STATUS__STALE_DEVICE_LIST, SOTTO_ERR_STALE },
	{ SOTTO__WIRE__STATUS__MAILBOX_FULL, SOTTO_ERR_MAILBOX_FULL },
	{ SOTTO__WIRE__STATUS__INVITE_INVALID, SOTTO_ERR_INVITE },
	{ SOTTO__WIRE__STATUS__HANDLE_TAKEN, SOTTO_ERR_HANDLE_TAKEN },
	{ SOTTO__WIRE__STATUS__RATE_LIMITED, SOTTO_ERR_RATE_LIMITED },
	{ SOTTO__WIRE__STATUS__TOO_LARGE, SOTTO_ERR_TOO_LARGE },
	{ SOTTO__WIRE__STATUS__INTERNAL, SOTTO_ERR_SERVER },
	{ SOTTO__WIRE__STATUS__FORBIDDEN, SOTTO_ERR_FORBIDDEN },
	{ SOTTO__WIRE__STATUS__CHAIN_INVALID, SOTTO_ERR_CHAIN },
	{ SOTTO__WIRE__STATUS__NOT_FOUND, SOTTO_ERR_NOT_FOUND },
	{ SOTTO__WIRE__STATUS__DEVICE_TAKEN, SOTTO_ERR_DEVICE_TAKEN },
	{ SOTTO__WIRE__STATUS__BAD_KEY, SOTTO_ERR_BAD_KEY },
	{ SOTTO__WIRE__STATUS__SENDER_SHARE_FULL, SOTTO_ERR_SHARE_FULL },
	{ SOTTO__WIRE__STATUS__ACCOUNT_QUOTA_FULL, SOTTO_ERR_QUOTA },
};

int
wire_status_to_err(Sotto__Wire__Status st)
{
	for (size_t i = 0; i < sizeof(status_map) / sizeof(status_map[0]); i++)
		if (status_map[i].st == st)
			return status_map[i].err;
	return SOTTO_ERR_PROTOCOL;
}

Sotto__Wire__Status
wire_err_to_status(int err)
{
	for (size_t i = 0; i < sizeof(status_map) / sizeof(status_map[0]); i++)
		if (status_map[i].err == err)
			return status_map[i].st;
	switch (err) {
	case SOTTO_ERR_FORMAT: case SOTTO_ERR_TRUNCATED: case SOTTO_ERR_TRAILING:
	case SOTTO_ERR_VERSION: case SOTTO_ERR_INVALID_ARG:
		return SOTTO__WIRE__STATUS__BAD_REQUEST;
	case SOTTO_ERR_BAD_SIGNATURE: case SOTTO_ERR_UNKNOWN_DEVICE:
		return SOTTO__WIRE__STATUS__UNAUTHENTICATED;
	default:
		return SOTTO__WIRE__STATUS__INTERNAL;
	}
}

size_t
wire_auth_message(uint8_t *buf, const uint8_t pin[32], const uint8_t nonce[WIRE_NONCE_LEN], const char *handle)
{
	size_t n = 0, hl = strnlen(handle, SOTTO_MAX_HANDLE);

	memcpy(buf, WIRE_AUTH_LABEL, sizeof(WIRE_AUTH_LABEL));	/* includes the 0x00 */
	n += sizeof(WIRE_AUTH_LABEL);
	memcpy(buf + n, pin, 32);
	n += 32;
	memcpy(buf + n, nonce, WIRE_NONCE_LEN);
	n += WIRE_NONCE_LEN;
	memcpy(buf + n, handle, hl);
	return n + hl;
}

int
handle_valid(const char *h)
{
	size_t n, i;

	if (h == NULL || (n = strnlen(h, SOTTO_MAX_HANDLE + 1)) == 0 || n > SOTTO_MAX_HANDLE)
		return 0;
	if (h[0] == '.' || h[0] == '-')
		return 0;
	for (i = 0; i < n; i++) {
		char c = h[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}
