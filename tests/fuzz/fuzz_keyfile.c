/* SPDX-License-Identifier: ISC */
/*
 * Key files: keyfile_read and keyfile_is_protected only take a path, so the
 * input is written (mode 0600) to /tmp/sotto-fuzz-keyfile.<pid> first.
 *
 * The passphrase "fuzz" is given only when the file asks for the cheapest
 * Argon2id cost (libsodium's minimum opslimit and memlimit): every protected
 * seed does, so the decryption path is reached, while a file asking for the
 * dearest cost a reader allows (seconds, hundreds of MB) is refused without
 * being derived, as it is for anyone without the passphrase.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_common.h"
#include "keyfile.h"
#include "sotto/error.h"

#define PASSPHRASE "fuzz"
/* magic (8) || format || mode || salt (16) || u64 opslimit || u64 memlimit */
#define OPS_OFFSET 26
#define MEM_OFFSET 34

static char path[128];
static uint8_t secret[KEYFILE_MAX_SECRET];

static uint64_t
be64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static void
cleanup(void)
{
	unlink(path);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *pass = NULL;
	size_t len = 12345;
	int rc, prot;

	if (size >= MEM_OFFSET + 8 && be64(data + OPS_OFFSET) == sc_pwhash_opslimit_min() &&
	    be64(data + MEM_OFFSET) == sc_pwhash_memlimit_min())
		pass = PASSPHRASE;
	FUZZ_ASSERT(fuzz_write_file(path, data, size) == 0);
	prot = keyfile_is_protected(path);
	rc = keyfile_read(path, secret, sizeof(secret), &len, pass);
	if (rc == SOTTO_OK) {
		FUZZ_ASSERT(len <= KEYFILE_MAX_SECRET);
		FUZZ_ASSERT(prot == 0 || (prot == 1 && pass != NULL));
	} else {
		FUZZ_ASSERT(len == 0 && sc_is_zero(secret, sizeof(secret)));
		/* The same checks short of decrypting: a parse failure fails both alike. */
		if (prot < 0)
			FUZZ_ASSERT(rc == prot);
	}
	return 0;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const uint8_t key[] = "0123456789abcdef0123456789abcdef seed secret";
	char p2[160];
	uint8_t buf[KEYFILE_MAX_SECRET + 256];
	ssize_t n;
	int fd;

	(void)argc;
	(void)argv;
	fuzz_init_crypto();
	fuzz_tmp_path(path, sizeof(path), "keyfile");
	atexit(cleanup);

	/* Seeds: an unprotected file, a protected one at the cheapest cost, an empty secret. */
	struct {
		const char *name;
		const char *pass;
		size_t len;
	} seeds[] = {
		{ "plain", NULL, sizeof(key) - 1 },
		{ "protected_min_cost", PASSPHRASE, sizeof(key) - 1 },
		{ "plain_empty", NULL, 0 },
		{ "protected_empty", PASSPHRASE, 0 },
	};
	for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
		FUZZ_ASSERT((size_t)snprintf(p2, sizeof(p2), "%s.seed", path) < sizeof(p2));
		unlink(p2);
		FUZZ_ASSERT(keyfile_write(p2, key, seeds[i].len, seeds[i].pass,
		    seeds[i].pass ? sc_pwhash_opslimit_min() : 0,
		    seeds[i].pass ? sc_pwhash_memlimit_min() : 0) == SOTTO_OK);
		FUZZ_ASSERT((fd = open(p2, O_RDONLY)) >= 0);
		FUZZ_ASSERT((n = read(fd, buf, sizeof(buf))) > 0);
		close(fd);
		unlink(p2);
		fuzz_seed(seeds[i].name, buf, (size_t)n);
		if (i == 1) {
			/* the same file, asking for the default cost: must be refused unread */
			buf[OPS_OFFSET + 7] = 2;
			fuzz_seed("protected_default_cost", buf, (size_t)n);
		}
	}
	fuzz_seed("magic_only", "SOTTOKEY", 8);
	return 0;
}
