/* SPDX-License-Identifier: ISC */
/*
 * Invite codes: invite_decode of the input as a C string (it stops at the
 * first NUL, as a code pasted on a command line would). A code that decodes
 * must encode back to exactly itself (the format has one spelling per invite)
 * and decode again to the same invite.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "caps.h"
#include "fuzz_common.h"
#include "invite.h"
#include "sotto/error.h"

/* Codes far beyond the cap are refused by length alone; no need to feed more. */
#define MAX_INPUT (4 * SOTTO_MAX_INVITE)

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	invite inv, again;
	char *code, out[SOTTO_MAX_INVITE + 1], secret[23];

	if (size > MAX_INPUT)
		return 0;
	FUZZ_ASSERT((code = malloc(size + 1)) != NULL);
	memcpy(code, data, size);
	code[size] = '\0';
	if (invite_decode(&inv, code) != SOTTO_OK) {
		FUZZ_ASSERT(sc_is_zero(&inv, sizeof(inv)));
		goto out;
	}
	FUZZ_ASSERT(strlen(inv.address) <= SOTTO_MAX_ADDRESS && strlen(inv.handle) <= SOTTO_MAX_HANDLE);
	FUZZ_ASSERT(invite_encode(&inv, out, sizeof(out)) == SOTTO_OK);
	FUZZ_ASSERT(strcmp(out, code) == 0);
	FUZZ_ASSERT(invite_decode(&again, out) == SOTTO_OK);
	FUZZ_ASSERT(memcmp(&inv, &again, sizeof(inv)) == 0);
	invite_secret_text(secret, inv.secret);
	FUZZ_ASSERT(strlen(secret) == 22);
out:
	free(code);
	return 0;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	invite inv;
	char code[SOTTO_MAX_INVITE + 1];

	(void)argc;
	(void)argv;
	fuzz_init_crypto();
	memset(&inv, 0, sizeof(inv));
	memset(inv.pin, 0x11, sizeof(inv.pin));
	memset(inv.secret, 0x22, sizeof(inv.secret));
	snprintf(inv.address, sizeof(inv.address), "127.0.0.1:7443");
	snprintf(inv.handle, sizeof(inv.handle), "alice");
	FUZZ_ASSERT(invite_encode(&inv, code, sizeof(code)) == SOTTO_OK);
	fuzz_seed("ipv4", code, strlen(code));

	snprintf(inv.address, sizeof(inv.address), "[::1]:443");
	snprintf(inv.handle, sizeof(inv.handle), "bob.smith-2_x");
	FUZZ_ASSERT(invite_encode(&inv, code, sizeof(code)) == SOTTO_OK);
	fuzz_seed("ipv6", code, strlen(code));

	memset(inv.address, 'a', SOTTO_MAX_ADDRESS - 6);
	memcpy(inv.address + SOTTO_MAX_ADDRESS - 6, ".:7443", 7);
	memset(inv.handle, 'z', SOTTO_MAX_HANDLE);
	inv.handle[SOTTO_MAX_HANDLE] = '\0';
	if (invite_encode(&inv, code, sizeof(code)) == SOTTO_OK)
		fuzz_seed("longest", code, strlen(code));

	fuzz_seed("prefix_only", INVITE_PREFIX, strlen(INVITE_PREFIX));
	fuzz_seed("bad_b64", INVITE_PREFIX "AAAA*AAA", strlen(INVITE_PREFIX) + 8);
	return 0;
}
