/* SPDX-License-Identifier: ISC */
/*
 * Wire frames: wire_decode under both caps (authenticated and pre-auth), then
 * what a client does with a Response or Delivery (every field walked, device
 * lists through dl_parse, envelopes through env_parse_header), then the
 * property that a frame wire_decode accepted re-encodes into one it accepts.
 * That property is only asked of frames without unknown fields: protobuf-c
 * keeps an unknown field numbered 0 (sent as the over-long varint 81 00) and
 * then cannot read back its own encoding of it. Sotto never re-encodes a
 * received frame, so this is no fault of ours.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "caps.h"
#include "devicelist.h"
#include "envelope.h"
#include "fuzz_common.h"
#include "fuzz_samples.h"
#include "sotto/error.h"
#include "wire.h"

static volatile uint64_t sink;

static void
touch(const uint8_t *p, size_t n)
{
	uint8_t h[SC_SHA256];

	sc_sha256(h, p, n);
	sink += h[0];
}

static void
walk_delivery(const Sotto__Wire__Delivery *d)
{
	env_header *h;

	FUZZ_ASSERT(d->envelope.len <= SOTTO_MAX_ENVELOPE && d->wrap.len <= 256);
	touch(d->envelope.data, d->envelope.len);
	touch(d->wrap.data, d->wrap.len);
	sink += d->seq + d->stored_at;
	FUZZ_ASSERT((h = malloc(sizeof(*h))) != NULL);
	if (env_parse_header(h, d->envelope.data, d->envelope.len) == SOTTO_OK)
		sink += h->n_recipients + strlen(h->sender);
	free(h);
}

static void
walk(const wire_frame *f)
{
	const Sotto__Wire__Response *r;
	dl_list *l;
	size_t i;

	switch (f->msg_case) {
	case SOTTO__WIRE__FRAME__MSG_RESPONSE:
		r = f->response;
		FUZZ_ASSERT(r->error != NULL && r->handle != NULL);
		sink += strlen(r->error) + strlen(r->handle) + (uint64_t)r->status + r->more;
		touch(r->device_id.data, r->device_id.len);
		FUZZ_ASSERT(r->n_device_lists <= SOTTO_MAX_LIST_HISTORY);
		FUZZ_ASSERT((l = malloc(sizeof(*l))) != NULL);
		for (i = 0; i < r->n_device_lists; i++) {
			FUZZ_ASSERT(r->device_lists[i].len <= SOTTO_MAX_DEVICE_LIST);
			if (dl_parse(l, r->device_lists[i].data, r->device_lists[i].len) == SOTTO_OK)
				sink += l->version + l->n_devices;
		}
		free(l);
		FUZZ_ASSERT(r->n_deliveries <= SOTTO_MAX_FETCH_BATCH);
		for (i = 0; i < r->n_deliveries; i++)
			walk_delivery(r->deliveries[i]);
		for (i = 0; i < r->n_stale; i++) {
			FUZZ_ASSERT(handle_valid(r->stale[i]->handle));
			sink += r->stale[i]->version;
		}
		(void)wire_status_to_err(r->status);
		break;
	case SOTTO__WIRE__FRAME__MSG_DELIVERY:
		walk_delivery(f->delivery);
		break;
	case SOTTO__WIRE__FRAME__MSG_CHALLENGE:
		FUZZ_ASSERT(f->challenge->nonce.len == WIRE_NONCE_LEN);
		break;
	case SOTTO__WIRE__FRAME__MSG_AUTH:
		FUZZ_ASSERT(handle_valid(f->auth->handle) && f->auth->device_id.len == SC_DEVICE_ID &&
		    f->auth->signature.len == SC_SIG);
		break;
	case SOTTO__WIRE__FRAME__MSG_SEND:
		FUZZ_ASSERT(f->send->msg_id.len == 16 && f->send->n_recipients >= 1);
		for (i = 0; i < f->send->n_recipients; i++)
			sink += f->send->recipients[i]->n_copies + strlen(f->send->recipients[i]->handle);
		break;
	default:
		break;
	}
}

static int
has_unknown(const ProtobufCMessage *m)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;
	const ProtobufCFieldDescriptor *fd;
	const uint8_t *base = (const uint8_t *)m;
	size_t i, j, count;

	if (m->n_unknown_fields > 0)
		return 1;
	for (i = 0; i < d->n_fields; i++) {
		fd = &d->fields[i];
		if (fd->type != PROTOBUF_C_TYPE_MESSAGE)
			continue;
		if (fd->label == PROTOBUF_C_LABEL_REPEATED) {
			ProtobufCMessage *const *v = *(ProtobufCMessage *const *const *)(base + fd->offset);

			memcpy(&count, base + fd->quantifier_offset, sizeof(count));
			for (j = 0; j < count; j++)
				if (has_unknown(v[j]))
					return 1;
			continue;
		}
		if ((fd->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) != 0) {
			uint32_t which;

			memcpy(&which, base + fd->quantifier_offset, sizeof(which));
			if (which != fd->id)
				continue;
		}
		{
			const ProtobufCMessage *sub = *(ProtobufCMessage *const *)(base + fd->offset);

			if (sub != NULL && has_unknown(sub))
				return 1;
		}
	}
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	wire_frame *f = NULL, *g = NULL;
	uint8_t *enc = NULL;
	size_t n = 0;
	int preauth_ok;

	preauth_ok = wire_decode(&f, data, size, SOTTO_MAX_FRAME_PREAUTH) == SOTTO_OK;
	wire_free(f);
	f = NULL;
	if (wire_decode(&f, data, size, SOTTO_MAX_FRAME) != SOTTO_OK) {
		FUZZ_ASSERT(f == NULL);
		/* A frame within the smaller cap is judged the same under the larger. */
		FUZZ_ASSERT(!preauth_ok);
		return 0;
	}
	walk(f);
	FUZZ_ASSERT(wire_encode(f, 16, &enc, &n) == SOTTO_OK);
	if (!has_unknown(&f->base)) {
		FUZZ_ASSERT(wire_decode(&g, enc + 16, n, SIZE_MAX) == SOTTO_OK);
		FUZZ_ASSERT(g->msg_case == f->msg_case && g->id == f->id);
		wire_free(g);
	}
	free(enc);
	wire_free(f);
	return 0;
}

static void
seed_frame(const char *name, const wire_frame *f)
{
	uint8_t *p = NULL;
	size_t n = 0;
	wire_frame *check = NULL;

	FUZZ_ASSERT(wire_encode(f, 0, &p, &n) == SOTTO_OK);
	FUZZ_ASSERT(wire_decode(&check, p, n, SOTTO_MAX_FRAME) == SOTTO_OK);
	wire_free(check);
	fuzz_seed(name, p, n);
	free(p);
}

static void
write_seeds(const fuzz_samples *s)
{
	static uint8_t nonce[WIRE_NONCE_LEN], sig[SC_SIG], msg_id[16];
	static uint64_t seqs[3] = { 1, 2, 99 };
	Sotto__Wire__Frame f = SOTTO__WIRE__FRAME__INIT;
	Sotto__Wire__Challenge ch = SOTTO__WIRE__CHALLENGE__INIT;
	Sotto__Wire__AuthRequest au = SOTTO__WIRE__AUTH_REQUEST__INIT;
	Sotto__Wire__RegisterRequest rg = SOTTO__WIRE__REGISTER_REQUEST__INIT;
	Sotto__Wire__GetDeviceListRequest gl = SOTTO__WIRE__GET_DEVICE_LIST_REQUEST__INIT;
	Sotto__Wire__PublishDeviceListRequest pb = SOTTO__WIRE__PUBLISH_DEVICE_LIST_REQUEST__INIT;
	Sotto__Wire__SendRequest sd = SOTTO__WIRE__SEND_REQUEST__INIT;
	Sotto__Wire__Recipient rc[2] = { SOTTO__WIRE__RECIPIENT__INIT, SOTTO__WIRE__RECIPIENT__INIT };
	Sotto__Wire__Recipient *rcp[2] = { &rc[0], &rc[1] };
	Sotto__Wire__Copy cp[2] = { SOTTO__WIRE__COPY__INIT, SOTTO__WIRE__COPY__INIT };
	Sotto__Wire__Copy *cpp0[1] = { &cp[0] }, *cpp1[1] = { &cp[1] };
	Sotto__Wire__AckRequest ak = SOTTO__WIRE__ACK_REQUEST__INIT;
	Sotto__Wire__FetchRequest fe = SOTTO__WIRE__FETCH_REQUEST__INIT;
	Sotto__Wire__Delivery dv = SOTTO__WIRE__DELIVERY__INIT;
	Sotto__Wire__Delivery *dvp[1] = { &dv };
	Sotto__Wire__StaleList st = SOTTO__WIRE__STALE_LIST__INIT;
	Sotto__Wire__StaleList *stp[1] = { &st };
	Sotto__Wire__Response rs = SOTTO__WIRE__RESPONSE__INIT;
	Sotto__Wire__DeviceListChanged dc = SOTTO__WIRE__DEVICE_LIST_CHANGED__INIT;
	ProtobufCBinaryData lists[2];
	wire_frame fr;

	memset(nonce, 0x11, sizeof(nonce));
	memset(sig, 0x22, sizeof(sig));
	memset(msg_id, 0x42, sizeof(msg_id));

	fr = f;
	ch.nonce.data = nonce;
	ch.nonce.len = sizeof(nonce);
	ch.server_time = 1700000000000ULL;
	ch.protocol_version = WIRE_PROTOCOL_VERSION;
	fr.msg_case = SOTTO__WIRE__FRAME__MSG_CHALLENGE;
	fr.challenge = &ch;
	seed_frame("challenge", &fr);

	fr = f;
	fr.id = 1;
	au.handle = (char *)"alice";
	au.device_id.data = (uint8_t *)s->a1.id;
	au.device_id.len = SC_DEVICE_ID;
	au.signature.data = sig;
	au.signature.len = sizeof(sig);
	fr.msg_case = SOTTO__WIRE__FRAME__MSG_AUTH;
	fr.auth = &au;
	seed_frame("auth", &fr);

	fr = f;
	fr.id = 2;
	rg.invite_secret = (char *)"AAAAAAAAAAAAAAAAAAAAAA";
	rg.handle = (char *)"alice";
	rg.device_list.data = s->list1;
	rg.device_list.len = s->list1_len;
	rg.signature.data = sig;
	rg.signature.len = sizeof(sig);
	fr.msg_case = SOTTO__WIRE__FRAME__MSG_REGISTER;
	fr.register_ = &rg;
	seed_frame("register", &fr);

	fr = f;
	fr.id = 3;
	gl.handle = (char *)"bob";
	gl.since_version = 1;
	fr.msg_case = SOTTO__WIRE__FRAME__MSG_GET_DEVICE_LIST;
	fr.get_device_list = &gl;
	seed_frame("get_device_list", &fr);

	fr = f;
	fr.id = 4;
	pb.device_list.data = s->list2;
	pb.device_list.len = s->list2_len;
	fr.msg_case = SOTTO__WIRE__FRAME__MSG_PUBLISH_DEVICE_LIST;
	fr.publish_device_list = &pb;
	seed_frame("publish", &fr);

	fr = f;
	fr.id = 5;
	cp[0].device_id.data = (uint8_t *)s->b1.id;
	cp[0].device_id.len = SC_DEVICE_ID;
	cp[0].wrap.data = (uint8_t *)s->wrap_b1;
	cp[0].wrap.len = ENV_WRAP_LEN;
	cp[1].device_id.data = (uint8_t *)s->a2.id;
	cp[1].device_id.len = SC_DEVICE_ID;
	cp[1].wrap.data = (uint8_t *)s->wrap_a2;
	cp[1].wrap.len = ENV_WRAP_LEN;
	rc[0].handle = (char *)"bob";
	rc[0].list_version = 1;
	rc[0].n_copies = 1;
	rc[0].copies = cpp0;
	rc[1].handle = (char *)"alice";
	rc[1].list_version = 2;
	rc[1].n_copies = 1;
	rc[1].copies = cpp1;
	sd.msg_id.data = msg_id;
	sd.msg_id.len = sizeof(msg_id);
	sd.envelope.data = s->env;
	sd.envelope.len = s->env_len;
	sd.n_recipients = 2;
	sd.recipients = rcp;
	fr.msg_case = SOTTO__WIRE__FRAME__MSG_SEND;
	fr.send = &sd;
	seed_frame("send", &fr);

	fr = f;
	fr.id = 6;
	ak.n_seqs = 3;
	ak.seqs = seqs;
	fr.msg_case = SOTTO__WIRE__FRAME__MSG_ACK;
	fr.ack = &ak;
	seed_frame("ack", &fr);

	fr = f;
	fr.id = 7;
	fe.max = 64;
	fr.msg_case = SOTTO__WIRE__FRAME__MSG_FETCH;
	fr.fetch = &fe;
	seed_frame("fetch", &fr);

	dv.seq = 17;
	dv.envelope.data = s->env;
	dv.envelope.len = s->env_len;
	dv.wrap.data = (uint8_t *)s->wrap_b1;
	dv.wrap.len = ENV_WRAP_LEN;
	dv.stored_at = 1700000000456ULL;
	fr = f;
	fr.msg_case = SOTTO__WIRE__FRAME__MSG_DELIVERY;
	fr.delivery = &dv;
	seed_frame("delivery", &fr);

	lists[0].data = s->list1;
	lists[0].len = s->list1_len;
	lists[1].data = s->list2;
	lists[1].len = s->list2_len;
	fr = f;
	fr.id = 3;
	rs.status = SOTTO__WIRE__STATUS__OK;
	rs.n_device_lists = 2;
	rs.device_lists = lists;
	rs.more = 1;
	fr.msg_case = SOTTO__WIRE__FRAME__MSG_RESPONSE;
	fr.response = &rs;
	seed_frame("response_lists", &fr);

	rs = (Sotto__Wire__Response)SOTTO__WIRE__RESPONSE__INIT;
	rs.n_deliveries = 1;
	rs.deliveries = dvp;
	fr.id = 7;
	fr.response = &rs;
	seed_frame("response_fetch", &fr);

	rs = (Sotto__Wire__Response)SOTTO__WIRE__RESPONSE__INIT;
	rs.status = SOTTO__WIRE__STATUS__STALE_DEVICE_LIST;
	rs.error = (char *)"stale device list";
	st.handle = (char *)"bob";
	st.version = 3;
	rs.n_stale = 1;
	rs.stale = stp;
	rs.handle = (char *)"bob";
	rs.device_id.data = (uint8_t *)s->a1.id;
	rs.device_id.len = SC_DEVICE_ID;
	fr.id = 5;
	fr.response = &rs;
	seed_frame("response_stale", &fr);

	fr = f;
	dc.handle = (char *)"alice";
	dc.version = 2;
	fr.msg_case = SOTTO__WIRE__FRAME__MSG_DEVICE_LIST_CHANGED;
	fr.device_list_changed = &dc;
	seed_frame("device_list_changed", &fr);

	fuzz_seed("empty", "", 0);
	fuzz_seed("garbage", "\xff\xff\xff\xff\xff\xff\xff\xff\x0f", 9);
	/* field 21 (Delivery), length-delimited, declaring 2^32 bytes it does not have */
	fuzz_seed("absurd_length", "\xaa\x01\x80\x80\x80\x80\x10", 7);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	write_seeds(fuzz_samples_init());
	return 0;
}
