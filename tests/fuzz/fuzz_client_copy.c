/* SPDX-License-Identifier: ISC */
/*
 * Everything after the signature check: the fuzzer's bytes become the header
 * fields and content of an envelope that is then signed by alice's device a1
 * and wrapped for bob's b1 (fixed keys, fuzz_samples.h), and bob's client
 * takes it as a delivered copy: client_copy_open (parse, verify against the
 * list of alice it trusts, recipient rule, unwrap, decrypt, unpad) and
 * client_copies_store (held, rejected, replay, stored), with no network.
 *
 * Input: u8 version || msg_id (16) || u8 flags || u64 sent_at (big-endian)
 *        || str8 sender || u8 n || n x str8 recipient || content (the rest,
 *        at most SOTTO_MAX_BODY bytes).
 *   flags bit 0: the sender is the input's str8 (else "alice", whose list bob
 *                trusts, and the str8 is still read and ignored);
 *   flags bit 1: sign with a2, a device not in the list bob trusts;
 *   flags bit 2: add "bob" as the first recipient;
 *   flags bit 3: the wrap is truncated to flags >> 4 bytes.
 * Whatever the fields hold, storing never fails as a whole (the store itself
 * is sound); a stored copy holds exactly the content signed, and a copy is
 * stored only if its fields are in the ranges of docs/PROTOCOL.md.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client.h"
#include "fuzz_common.h"
#include "fuzz_samples.h"
#include "../unit/raw_envelope.h"

#define FLAG_SENDER 1
#define FLAG_OTHER_KEY 2
#define FLAG_BOB 4
#define FLAG_SHORT_WRAP 8
#define STORE_ROUNDS 2000	/* inputs before the store starts afresh (it only grows) */

static const fuzz_samples *S;
static sotto_client *C;
static char db_path[96];
/* Whatever key: the harness checks what is stored, not at-rest sealing. */
static const uint8_t history_key[CSTORE_HISTORY_KEY] = { 1 };
static unsigned rounds;

static void
store_fresh(void)
{
	cstore_contact k;

	if (C->st != NULL)
		cstore_close(C->st);
	C->st = NULL;
	(void)unlink(db_path);
	FUZZ_ASSERT(cstore_open(&C->st, db_path, 1) == SOTTO_OK);
	FUZZ_ASSERT(cstore_unlock(C->st, history_key) == SOTTO_OK);
	FUZZ_ASSERT(cstore_config_set(C->st, &C->cfg) == SOTTO_OK);
	memset(&k, 0, sizeof(k));
	snprintf(k.handle, sizeof(k.handle), "alice");
	memcpy(k.account_pub, S->account_pub, SC_SIGN_PUB);
	FUZZ_ASSERT(cstore_contact_put(C->st, &k) == SOTTO_OK);
	/* alice's list v1 holds a1 only: a2's signatures are of an unknown device */
	FUZZ_ASSERT(cstore_list_add(C->st, "alice", 1, S->list1, S->list1_len) == SOTTO_OK);
	rounds = 0;
}

static void
seed(void)
{
	static const char *names[] = { "plain", "binary", "sent_2_63", "not_for_bob" };
	uint8_t in[128];
	size_t n;

	for (int i = 0; i < 4; i++) {
		n = 0;
		in[n++] = 1;
		memset(in + n, 0x11 * (i + 1), 16);
		n += 16;
		in[n++] = i == 3 ? 0 : FLAG_BOB;
		memset(in + n, 0, 8);
		in[n] = i == 2 ? 0x80 : 0;
		in[n + 5] = 0x01;	/* about 2004 */
		n += 8;
		in[n++] = 0;		/* str8 sender, unused */
		in[n++] = 1;
		in[n++] = 5;
		memcpy(in + n, i == 3 ? "carol" : "alice", 5);
		n += 5;
		if (i == 1) {
			in[n++] = 0;
			in[n++] = 0xff;
			in[n++] = 0xc3;
		} else {
			memcpy(in + n, "hello", 5);
			n += 5;
		}
		fuzz_seed(names[i], in, n);
	}
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	S = fuzz_samples_init();
	FUZZ_ASSERT((C = calloc(1, sizeof(*C))) != NULL);
	FUZZ_ASSERT((C->keys = sc_secure_alloc(CLIENT_KEYS_LEN)) != NULL);
	memcpy(CLIENT_SIGN_SEC(C), S->b1.sec, SC_SIGN_SEC);
	memcpy(CLIENT_ENC_SEC(C), S->b1.enc_sec, SC_KX_SEC);
	snprintf(C->cfg.address, sizeof(C->cfg.address), "127.0.0.1:1");
	snprintf(C->cfg.handle, sizeof(C->cfg.handle), "bob");
	memcpy(C->cfg.device_id, S->b1.id, SC_DEVICE_ID);
	sc_hex(C->device_hex, S->b1.id, SC_DEVICE_ID);
	fuzz_tmp_path(db_path, sizeof(db_path), "client-copy");
	store_fresh();
	seed();
	return 0;
}

/* A str8 from the input, or 0 if it runs out. */
static int
take_str8(const uint8_t **p, size_t *left, const char **s, size_t *n)
{
	if (*left < 1 || (size_t)(*p)[0] > *left - 1)
		return 0;
	*n = (*p)[0];
	*s = (const char *)*p + 1;
	*p += 1 + *n;
	*left -= 1 + *n;
	return 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = data;
	uint8_t *env = NULL, wrap[ENV_WRAP_LEN], flags;
	size_t left = size, env_len = 0, wrap_len = ENV_WRAP_LEN, sender_len = 0, i, nr;
	const char *sender = NULL;
	client_copy in;
	raw_env e;
	int r;

	if (size < 1 + 16 + 1 + 8 + 1 + 1)
		return 0;
	memset(&e, 0, sizeof(e));
	e.version = *p++;
	memcpy(e.msg_id, p, 16);
	p += 16;
	flags = *p++;
	for (i = 0; i < 8; i++)
		e.sent_at = e.sent_at << 8 | *p++;
	left -= 26;
	if (!take_str8(&p, &left, &sender, &sender_len))
		return 0;
	if (flags & FLAG_SENDER) {
		e.sender = sender;
		e.sender_len = sender_len;
	} else {
		e.sender = "alice";
		e.sender_len = 5;
	}
	memcpy(e.sender_device, (flags & FLAG_OTHER_KEY) ? S->a2.id : S->a1.id, SC_DEVICE_ID);
	if (left < 1)
		return 0;
	nr = *p++;
	left--;
	if (flags & FLAG_BOB) {
		e.rcpt[e.n_rcpt] = "bob";
		e.rcpt_len[e.n_rcpt++] = 3;
	}
	for (i = 0; i < nr && e.n_rcpt < RAW_MAX_RCPT; i++, e.n_rcpt++)
		if (!take_str8(&p, &left, &e.rcpt[e.n_rcpt], &e.rcpt_len[e.n_rcpt]))
			return 0;
	e.content = p;
	e.content_len = left > SOTTO_MAX_BODY ? SOTTO_MAX_BODY : left;
	if (raw_seal(&e, (flags & FLAG_OTHER_KEY) ? S->a2.sec : S->a1.sec, S->b1.enc_pub, S->b1.id, &env,
	    &env_len, wrap) != SOTTO_OK)
		return 0;	/* a header over 64 KiB: no envelope can hold it */
	if (flags & FLAG_SHORT_WRAP)
		wrap_len = (size_t)(flags >> 4);

	memset(&in, 0, sizeof(in));
	client_copy_open(C, env, env_len, wrap, wrap_len, NULL, &in);
	FUZZ_ASSERT(!in.defer);		/* without a budget nothing waits */
	FUZZ_ASSERT((in.err == SOTTO_OK) == (in.content != NULL));
	r = client_copies_store(C, &in, 1);
	FUZZ_ASSERT(r == SOTTO_OK);
	if (in.stored) {
		FUZZ_ASSERT(in.err == SOTTO_OK);
		FUZZ_ASSERT(in.content_len == e.content_len);
		FUZZ_ASSERT(e.content_len == 0 || memcmp(in.content, e.content, e.content_len) == 0);
		FUZZ_ASSERT(in.h.sent_at >= 1 && in.h.sent_at <= ENV_MAX_SENT_AT);
		FUZZ_ASSERT(in.h.version == ENV_VERSION && strcmp(in.h.sender, "alice") == 0);
		FUZZ_ASSERT(!(flags & FLAG_OTHER_KEY));
	}
	client_copy_clear(&in);
	free(env);
	if (++rounds >= STORE_ROUNDS)
		store_fresh();
	return 0;
}
