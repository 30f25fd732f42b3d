/* SPDX-License-Identifier: ISC */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "fuzz_samples.h"
#include "sotto/error.h"

#define LIST_TRAILER (SC_DEVICE_ID + SC_SIG)

static fuzz_samples S;
static int ready;

static void
make_device(fuzz_device *d, uint8_t tag)
{
	fuzz_sign_key(tag, d->pub, d->sec);
	fuzz_kx_key((uint8_t)(tag + 1), d->enc_pub, d->enc_sec);
	sc_device_id(d->id, d->pub);
}

static void
set_device(dl_device *d, const fuzz_device *k, const char *name, const uint8_t *approved_by)
{
	memset(d, 0, sizeof(*d));
	memcpy(d->id, k->id, SC_DEVICE_ID);
	snprintf(d->name, sizeof(d->name), "%s", name);
	memcpy(d->sig_pub, k->pub, SC_SIGN_PUB);
	memcpy(d->enc_pub, k->enc_pub, SC_KX_PUB);
	d->added_at = 1700000000000ULL;
	if (approved_by != NULL)
		memcpy(d->approved_by, approved_by, SC_DEVICE_ID);
}

static void
base_list(dl_list *l, uint64_t version, const uint8_t *prev_hash)
{
	memset(l, 0, sizeof(*l));
	snprintf(l->handle, sizeof(l->handle), "alice");
	memcpy(l->account_pub, S.account_pub, SC_SIGN_PUB);
	l->version = version;
	if (prev_hash != NULL)
		memcpy(l->prev_hash, prev_hash, SC_SHA256);
	l->created_at = 1700000000000ULL + version;
}

const fuzz_samples *
fuzz_samples_init(void)
{
	static const char content[] = "hello, bob: a fuzz seed";
	env_target t[2];
	env_header h;
	uint8_t wraps[2 * ENV_WRAP_LEN];

	if (ready)
		return &S;
	fuzz_init_crypto();
	fuzz_sign_key(0xa0, S.account_pub, S.account_sec);
	make_device(&S.a1, 0xa2);
	make_device(&S.a2, 0xa4);
	make_device(&S.b1, 0xb2);

	base_list(&S.l1, 1, NULL);
	S.l1.n_devices = 1;
	set_device(&S.l1.devices[0], &S.a1, "laptop", NULL);
	FUZZ_ASSERT(dl_sign_account(&S.l1, S.account_sec, &S.list1, &S.list1_len) == SOTTO_OK);
	dl_hash(S.list1_hash, S.list1, S.list1_len);

	base_list(&S.l2, 2, S.list1_hash);
	S.l2.n_devices = 2;
	set_device(&S.l2.devices[0], &S.a1, "laptop", NULL);
	set_device(&S.l2.devices[1], &S.a2, "phone \xc3\xa9", S.a1.id);
	FUZZ_ASSERT(dl_sign_device(&S.l2, S.a1.id, S.a1.sec, &S.list2, &S.list2_len) == SOTTO_OK);

	memset(&h, 0, sizeof(h));
	snprintf(h.sender, sizeof(h.sender), "alice");
	memcpy(h.sender_device, S.a1.id, SC_DEVICE_ID);
	h.n_recipients = 1;
	snprintf(h.recipients[0], sizeof(h.recipients[0]), "bob");
	memset(h.msg_id, 0x42, sizeof(h.msg_id));
	h.sent_at = 1700000000123ULL;
	t[0].device_id = S.b1.id;
	t[0].enc_pub = S.b1.enc_pub;
	t[1].device_id = S.a2.id;
	t[1].enc_pub = S.a2.enc_pub;
	FUZZ_ASSERT(env_seal(&h, (const uint8_t *)content, sizeof(content) - 1, S.a1.sec, t, 2,
	    &S.env, &S.env_len, wraps) == SOTTO_OK);
	memcpy(S.wrap_b1, wraps, ENV_WRAP_LEN);
	memcpy(S.wrap_a2, wraps + ENV_WRAP_LEN, ENV_WRAP_LEN);
	S.content = content;
	ready = 1;
	return &S;
}

void
fuzz_resign_list(uint8_t *p, size_t n, const uint8_t sec[static SC_SIGN_SEC])
{
	static const char label[] = "sotto-devicelist-v1";
	uint8_t *m;
	size_t body;

	FUZZ_ASSERT(n >= LIST_TRAILER);
	body = n - LIST_TRAILER;
	FUZZ_ASSERT((m = malloc(sizeof(label) + body)) != NULL);
	memcpy(m, label, sizeof(label));
	memcpy(m + sizeof(label), p, body);
	sc_sign(p + body + SC_DEVICE_ID, m, sizeof(label) + body, sec);
	free(m);
}

void
fuzz_resign_envelope(uint8_t *p, size_t n, const uint8_t sec[static SC_SIGN_SEC])
{
	static const char label[] = "sotto-envelope-v1";
	uint8_t m[sizeof(label) + 2 * SC_SHA256];
	size_t hlen, blen;

	/* Layout as env_parse_header accepted it: u16 hlen, header, u32 blen, body, sig. */
	FUZZ_ASSERT(n >= 2);
	hlen = (size_t)p[0] << 8 | p[1];
	FUZZ_ASSERT(n >= 2 + hlen + 4);
	blen = (size_t)p[2 + hlen] << 24 | (size_t)p[3 + hlen] << 16 | (size_t)p[4 + hlen] << 8 |
	    p[5 + hlen];
	FUZZ_ASSERT(n == 2 + hlen + 4 + blen + SC_SIG);
	memcpy(m, label, sizeof(label));
	sc_sha256(m + sizeof(label), p + 2, hlen);
	sc_sha256(m + sizeof(label) + SC_SHA256, p + 6 + hlen, blen);
	sc_sign(p + 6 + hlen + blen, m, sizeof(m), sec);
}
