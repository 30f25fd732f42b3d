/* SPDX-License-Identifier: ISC */
/*
 * The wake-up records sottod's workers write to each other's pipes
 * (server/store_wake.c wake_get: COPY, LIST, EARLY_COPY, and DELIVER, which
 * carries a whole copy). The input is what one read of a pipe returned: the
 * records are parsed one after another as wakepipe_drain does, until one is
 * cut short or malformed. Every record that parses must encode (wake_put) to
 * exactly the bytes it was read from: one spelling per record.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "fuzz_common.h"
#include "sotto/error.h"
#include "store_wake.h"

static void
seed(const char *name, const store_wake *w)
{
	sbuf b;

	sbw_init(&b, PIPE_BUF);
	FUZZ_ASSERT(wake_put(&b, w) == SOTTO_OK);
	fuzz_seed(name, b.p, b.len);
	sbw_free(&b);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const uint8_t env[300] = { 1 }, wrap[80] = { 2 };
	store_wake w;

	(void)argc;
	(void)argv;
	fuzz_init_crypto();
	memset(&w, 0, sizeof(w));
	w.kind = STORE_WAKE_COPY;
	memset(w.device_id, 0xb1, sizeof(w.device_id));
	w.seq = 42;
	seed("copy", &w);
	w.kind = STORE_WAKE_EARLY_COPY;
	seed("early_copy", &w);
	w.kind = STORE_WAKE_DELIVER;
	w.stored_at = 1700000000000ULL;
	w.envelope = env;
	w.envelope_len = sizeof(env);
	w.wrap = wrap;
	w.wrap_len = sizeof(wrap);
	seed("deliver", &w);
	memset(&w, 0, sizeof(w));
	w.kind = STORE_WAKE_LIST;
	w.version = 3;
	snprintf(w.handle, sizeof(w.handle), "alice");
	seed("list", &w);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	sbuf_reader r;
	store_wake w;
	sbuf b;

	sbr_init(&r, data, size);
	for (;;) {
		size_t at = r.off;

		if (wake_get(&r, &w) != SOTTO_OK)
			break;
		FUZZ_ASSERT(r.off > at && r.off <= size);
		sbw_init(&b, 2 * PIPE_BUF + size);
		FUZZ_ASSERT(wake_put(&b, &w) == SOTTO_OK);
		FUZZ_ASSERT(b.len == r.off - at && memcmp(b.p, data + at, b.len) == 0);
		sbw_free(&b);
	}
	return 0;
}
