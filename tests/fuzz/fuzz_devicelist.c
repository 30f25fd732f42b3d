/* SPDX-License-Identifier: ISC */
/*
 * Device lists: dl_parse, then dl_verify_first, and dl_verify_next against the
 * fixed valid version 1 of fuzz_samples.h; dl_find, dl_fingerprint and
 * safety_number on what parsed.
 *
 * Input: u8 mode || signed list.
 *   mode bit 0: re-sign the list before verifying - with the account key if
 *               its signer field is zero, with a1's key otherwise - so that
 *               mutated lists get past the signature to the chain rules.
 * A list both verifications accept would be at version 1 and 2 at once.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "caps.h"
#include "devicelist.h"
#include "fuzz_common.h"
#include "fuzz_samples.h"
#include "sotto/error.h"

#define MODE_RESIGN 1
#define TRAILER (SC_DEVICE_ID + SC_SIG)

static const fuzz_samples *S;
static volatile size_t sink;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	dl_list *l = NULL;
	uint8_t *p = NULL, h[SC_SHA256];
	char fp[DL_FINGERPRINT_LEN + 1], sn[SAFETY_NUMBER_LEN + 1];
	size_t n, i;
	int first, next;

	if (size < 1)
		return 0;
	n = size - 1;
	FUZZ_ASSERT((l = malloc(sizeof(*l))) != NULL && (p = malloc(n + 1)) != NULL);
	memcpy(p, data + 1, n);
	if ((data[0] & MODE_RESIGN) != 0 && n >= TRAILER)
		fuzz_resign_list(p, n, sc_is_zero(p + n - TRAILER, SC_DEVICE_ID) ?
		    S->account_sec : S->a1.sec);
	if (dl_parse(l, p, n) != SOTTO_OK) {
		FUZZ_ASSERT(sc_is_zero(l, sizeof(*l)));
		goto out;
	}
	FUZZ_ASSERT(n <= SOTTO_MAX_DEVICE_LIST && l->n_devices >= 1 && l->n_devices <= SOTTO_MAX_DEVICES);
	FUZZ_ASSERT(strlen(l->handle) <= SOTTO_MAX_HANDLE && l->version >= 1);
	dl_hash(h, p, n);
	first = dl_verify_first(l, p, n) == SOTTO_OK;
	next = dl_verify_next(&S->l1, S->list1_hash, l, p, n) == SOTTO_OK;
	FUZZ_ASSERT(!(first && next));
	if (first)
		FUZZ_ASSERT(l->version == 1);
	if (next)
		FUZZ_ASSERT(l->version == 2 && strcmp(l->handle, S->l1.handle) == 0 &&
		    memcmp(l->prev_hash, S->list1_hash, SC_SHA256) == 0);
	for (i = 0; i < l->n_devices; i++) {
		FUZZ_ASSERT(dl_find(l, l->devices[i].id) == &l->devices[i]);
		FUZZ_ASSERT(strlen(l->devices[i].name) <= SOTTO_MAX_DEVICE_NAME);
		dl_fingerprint(fp, &l->devices[i]);
		FUZZ_ASSERT(strlen(fp) == DL_FINGERPRINT_LEN);
	}
	/* 5200 SHA-512s: only now and then, or it would be all the fuzzer measures. */
	if (h[0] == 0) {
		safety_number(sn, l->handle, l->account_pub, S->l1.handle, S->l1.account_pub);
		FUZZ_ASSERT(strlen(sn) == SAFETY_NUMBER_LEN);
	}
	sink += l->n_devices;
out:
	free(p);
	free(l);
	return 0;
}

static void
seed(const char *name, uint8_t mode, const uint8_t *list, size_t n)
{
	uint8_t *p;

	FUZZ_ASSERT((p = malloc(1 + n)) != NULL);
	p[0] = mode;
	memcpy(p + 1, list, n);
	fuzz_seed(name, p, 1 + n);
	free(p);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	dl_list *l;
	uint8_t *copy;

	(void)argc;
	(void)argv;
	S = fuzz_samples_init();
	FUZZ_ASSERT((l = malloc(sizeof(*l))) != NULL);
	FUZZ_ASSERT(dl_parse(l, S->list2, S->list2_len) == SOTTO_OK);
	FUZZ_ASSERT(dl_verify_first(&S->l1, S->list1, S->list1_len) == SOTTO_OK);
	FUZZ_ASSERT(dl_verify_next(&S->l1, S->list1_hash, l, S->list2, S->list2_len) == SOTTO_OK);
	free(l);

	seed("v1", 0, S->list1, S->list1_len);
	seed("v2", 0, S->list2, S->list2_len);
	seed("v1_resign", MODE_RESIGN, S->list1, S->list1_len);
	seed("v2_resign", MODE_RESIGN, S->list2, S->list2_len);
	seed("v2_truncated", 0, S->list2, S->list2_len - 1);
	FUZZ_ASSERT((copy = malloc(S->list2_len + 1)) != NULL);
	memcpy(copy, S->list2, S->list2_len);
	copy[S->list2_len] = 0;
	seed("v2_trailing", 0, copy, S->list2_len + 1);
	memcpy(copy, S->list2, S->list2_len);
	memset(copy + S->list2_len - TRAILER, 0, SC_DEVICE_ID);	/* "signed by the account" */
	seed("v2_account_signer", MODE_RESIGN, copy, S->list2_len);
	free(copy);
	fuzz_seed("magic_only", "\x00SDL1", 5);
	return 0;
}
