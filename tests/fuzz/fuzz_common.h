/* SPDX-License-Identifier: ISC */
/*
 * Shared by the libFuzzer harnesses in tests/fuzz/ (each fuzz_<name>.c is one
 * parser's harness, built with clang -fsanitize=fuzzer,address,undefined).
 *
 * Fixed keys: every harness that needs keys derives them from fixed seeds, so a
 * sample sealed or signed by one run (the committed seed corpus) stays valid
 * for every later run.
 *
 * Seed corpus: when the environment names a directory in SOTTO_FUZZ_SEED_DIR,
 * a harness's LLVMFuzzerInitialize writes its valid samples and edge cases
 * there (fuzz_seed); tests/fuzz/corpus/<name>/ was made that way, once.
 *
 * Temporary files: fuzz_tmp_path gives a fixed path under /tmp, unique per
 * process (harnesses whose parser only takes a path, and the stores).
 */
#ifndef SOTTO_FUZZ_COMMON_H
#define SOTTO_FUZZ_COMMON_H

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A harness calls this for an impossible outcome: libFuzzer records the input. */
#define FUZZ_ASSERT(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "%s:%d: assertion failed: %s\n",	\
		    __FILE__, __LINE__, #cond);				\
		abort();						\
	}								\
} while (0)

static inline void
fuzz_init_crypto(void)
{
	if (sc_init() != 0) {
		fprintf(stderr, "fuzz: sc_init failed\n");
		abort();
	}
}

/* Ed25519 key pair from a seed of 32 copies of the byte tag. */
static inline void
fuzz_sign_key(uint8_t tag, uint8_t pub[static SC_SIGN_PUB], uint8_t sec[static SC_SIGN_SEC])
{
	uint8_t seed[SC_SIGN_SEED];

	memset(seed, tag, sizeof(seed));
	FUZZ_ASSERT(sc_sign_seed_keypair(pub, sec, seed) == 0);
}

/* X25519 key pair whose secret is 32 copies of the byte tag. */
static inline void
fuzz_kx_key(uint8_t tag, uint8_t pub[static SC_KX_PUB], uint8_t sec[static SC_KX_SEC])
{
	memset(sec, tag, SC_KX_SEC);
	FUZZ_ASSERT(sc_kx_public(pub, sec) == 0);
}

/* Write one seed sample as $SOTTO_FUZZ_SEED_DIR/<name>; no-op without the variable. */
static inline void
fuzz_seed(const char *name, const void *p, size_t n)
{
	const char *dir = getenv("SOTTO_FUZZ_SEED_DIR");
	char path[4096];
	FILE *f;

	if (dir == NULL || *dir == '\0')
		return;
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path))
		abort();
	if ((f = fopen(path, "wb")) == NULL) {
		perror(path);
		abort();
	}
	if ((n > 0 && fwrite(p, 1, n, f) != n) || fclose(f) != 0) {
		perror(path);
		abort();
	}
}

/* "/tmp/sotto-fuzz-<what>.<pid>" into out (outlen >= 64). */
static inline void
fuzz_tmp_path(char *out, size_t outlen, const char *what)
{
	if ((size_t)snprintf(out, outlen, "/tmp/sotto-fuzz-%s.%ld", what, (long)getpid()) >= outlen)
		abort();
}

/* Replace path's contents with p/n, mode 0600. 0 on success. */
static inline int
fuzz_write_file(const char *path, const uint8_t *p, size_t n)
{
	int fd;
	size_t off = 0;
	ssize_t w;

	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600)) == -1)
		return -1;
	if (fchmod(fd, 0600) != 0) {
		close(fd);
		return -1;
	}
	while (off < n) {
		if ((w = write(fd, p + off, n - off)) <= 0) {
			close(fd);
			return -1;
		}
		off += (size_t)w;
	}
	return close(fd);
}

#endif
