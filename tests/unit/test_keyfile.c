/* SPDX-License-Identifier: ISC */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto.h"
#include "keyfile.h"
#include "sotto/error.h"

#define PASS "correct horse battery staple"
#define HEADER_LEN 42

static char dir[64];
static char pathbuf[256];
static uint8_t secret[64];

static const char *
tpath(const char *name)
{
	snprintf(pathbuf, sizeof(pathbuf), "%s/%s", dir, name);
	return pathbuf;
}

static int
write_protected(const char *path)
{
	return keyfile_write(path, secret, sizeof(secret), PASS, sc_pwhash_opslimit_min(),
	    sc_pwhash_memlimit_min());
}

static size_t
slurp(const char *path, uint8_t *buf, size_t max)
{
	FILE *f = fopen(path, "rb");
	size_t n;

	assert_non_null(f);
	n = fread(buf, 1, max, f);
	fclose(f);
	return n;
}

static void
spit(const char *path, const uint8_t *buf, size_t n)
{
	int fd;

	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_true(n == 0 || write(fd, buf, n) == (ssize_t)n);
	assert_int_equal(close(fd), 0);
}

static void
test_roundtrip_protected(void **state)
{
	const char *p = tpath("prot");
	uint8_t out[KEYFILE_MAX_SECRET];
	size_t len = 0;
	struct stat st;

	(void)state;
	assert_int_equal(write_protected(p), SOTTO_OK);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(keyfile_is_protected(p), 1);
	assert_int_equal(keyfile_read(p, out, sizeof(out), &len, PASS), SOTTO_OK);
	assert_int_equal(len, sizeof(secret));
	assert_memory_equal(out, secret, sizeof(secret));

	/* the secret is not in the file in the clear, and the header says what it is */
	{
		uint8_t raw[512];
		size_t n = slurp(p, raw, sizeof(raw)), i;

		assert_int_equal(n, HEADER_LEN + 4 + sizeof(secret) + 16);
		assert_memory_equal(raw, "SOTTOKEY\x01\x01", 10);
		for (i = 0; i + 8 <= n; i++)
			assert_memory_not_equal(raw + i, secret, 8);
	}

	/* exactly max fits; one less is refused and leaves nothing behind */
	assert_int_equal(keyfile_read(p, out, sizeof(secret), &len, PASS), SOTTO_OK);
	memset(out, 0xee, sizeof(out));
	assert_int_equal(keyfile_read(p, out, sizeof(secret) - 1, &len, PASS), SOTTO_ERR_TOO_LARGE);
	assert_int_equal(len, 0);
	assert_true(sc_is_zero(out, sizeof(secret) - 1));
	unlink(p);
}

static void
test_roundtrip_unprotected(void **state)
{
	const char *p = tpath("plain");
	uint8_t out[KEYFILE_MAX_SECRET], big[KEYFILE_MAX_SECRET + 1];
	size_t len = 0;

	(void)state;
	assert_int_equal(keyfile_write(p, secret, sizeof(secret), NULL, 0, 0), SOTTO_OK);
	assert_int_equal(keyfile_is_protected(p), 0);
	assert_int_equal(keyfile_read(p, out, sizeof(out), &len, NULL), SOTTO_OK);
	assert_int_equal(len, sizeof(secret));
	assert_memory_equal(out, secret, sizeof(secret));
	/* a passphrase given for an unprotected file is not needed */
	assert_int_equal(keyfile_read(p, out, sizeof(out), &len, PASS), SOTTO_OK);
	assert_memory_equal(out, secret, sizeof(secret));
	unlink(p);

	/* largest secret in both modes; one more byte refused */
	sc_random(big, sizeof(big));
	assert_int_equal(keyfile_write(p, big, KEYFILE_MAX_SECRET, NULL, 0, 0), SOTTO_OK);
	assert_int_equal(keyfile_read(p, out, sizeof(out), &len, NULL), SOTTO_OK);
	assert_int_equal(len, KEYFILE_MAX_SECRET);
	assert_memory_equal(out, big, KEYFILE_MAX_SECRET);
	unlink(p);
	assert_int_equal(keyfile_write(p, big, KEYFILE_MAX_SECRET, PASS, sc_pwhash_opslimit_min(),
	    sc_pwhash_memlimit_min()), SOTTO_OK);
	assert_int_equal(keyfile_read(p, out, sizeof(out), &len, PASS), SOTTO_OK);
	assert_int_equal(len, KEYFILE_MAX_SECRET);
	assert_memory_equal(out, big, KEYFILE_MAX_SECRET);
	unlink(p);
	assert_int_equal(keyfile_write(p, big, sizeof(big), NULL, 0, 0), SOTTO_ERR_TOO_LARGE);
	assert_int_equal(access(p, F_OK), -1);
	/* an empty secret is still a file */
	assert_int_equal(keyfile_write(p, big, 0, NULL, 0, 0), SOTTO_OK);
	assert_int_equal(keyfile_read(p, out, sizeof(out), &len, NULL), SOTTO_OK);
	assert_int_equal(len, 0);
	unlink(p);
}

static void
test_bad_passphrase(void **state)
{
	const char *p = tpath("badpass");
	uint8_t out[128];
	size_t len = 99;

	(void)state;
	assert_int_equal(write_protected(p), SOTTO_OK);
	memset(out, 0xee, sizeof(out));
	assert_int_equal(keyfile_read(p, out, sizeof(out), &len, "wrong"), SOTTO_ERR_PASSPHRASE);
	assert_int_equal(len, 0);
	assert_true(sc_is_zero(out, sizeof(out)));
	assert_int_equal(keyfile_read(p, out, sizeof(out), &len, ""), SOTTO_ERR_PASSPHRASE);
	assert_int_equal(keyfile_read(p, out, sizeof(out), &len, PASS "x"), SOTTO_ERR_PASSPHRASE);
	len = 99;
	assert_int_equal(keyfile_read(p, out, sizeof(out), &len, NULL), SOTTO_ERR_PASSPHRASE);
	assert_int_equal(len, 0);
	unlink(p);
}

static void
test_exists(void **state)
{
	const char *p = tpath("exists");
	uint8_t before[512], after[512];
	size_t nb, na;

	(void)state;
	assert_int_equal(write_protected(p), SOTTO_OK);
	nb = slurp(p, before, sizeof(before));
	assert_int_equal(write_protected(p), SOTTO_ERR_EXISTS);
	assert_int_equal(keyfile_write(p, secret, sizeof(secret), NULL, 0, 0), SOTTO_ERR_EXISTS);
	na = slurp(p, after, sizeof(after));
	assert_int_equal(na, nb);
	assert_memory_equal(before, after, na);
	unlink(p);
}

static void
test_permissions(void **state)
{
	const char *p = tpath("perm");
	static const mode_t bad[] = { 0640, 0604, 0620, 0602, 0610, 0601, 0644 };
	uint8_t out[128];
	size_t len, i;

	(void)state;
	assert_int_equal(write_protected(p), SOTTO_OK);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(chmod(p, bad[i]), 0);
		assert_int_equal(keyfile_read(p, out, sizeof(out), &len, PASS), SOTTO_ERR_PERMISSIONS);
		assert_int_equal(keyfile_is_protected(p), SOTTO_ERR_PERMISSIONS);
	}
	assert_int_equal(chmod(p, 0400), 0);
	assert_int_equal(keyfile_read(p, out, sizeof(out), &len, PASS), SOTTO_OK);
	unlink(p);
}

static void
test_symlink(void **state)
{
	char target[256], link[256];
	uint8_t out[128];
	size_t len;

	(void)state;
	snprintf(target, sizeof(target), "%s", tpath("target"));
	snprintf(link, sizeof(link), "%s", tpath("link"));
	assert_int_equal(write_protected(target), SOTTO_OK);
	assert_int_equal(symlink(target, link), 0);
	assert_int_equal(keyfile_read(link, out, sizeof(out), &len, PASS), SOTTO_ERR_PERMISSIONS);
	assert_int_equal(keyfile_is_protected(link), SOTTO_ERR_PERMISSIONS);
	assert_int_equal(write_protected(link), SOTTO_ERR_EXISTS);
	unlink(link);
	unlink(target);
	/* a dangling link must not be followed to create its target */
	assert_int_equal(symlink(target, link), 0);
	assert_int_equal(write_protected(link), SOTTO_ERR_EXISTS);
	assert_int_equal(access(target, F_OK), -1);
	unlink(link);
}

static void
test_not_regular(void **state)
{
	uint8_t out[128];
	size_t len;
	char fifo[256];

	(void)state;
	assert_int_equal(keyfile_read(tpath("missing"), out, sizeof(out), &len, PASS),
	    SOTTO_ERR_NOT_FOUND);
	assert_int_equal(keyfile_is_protected(tpath("missing")), SOTTO_ERR_NOT_FOUND);
	assert_int_equal(mkdir(tpath("adir"), 0700), 0);
	assert_true(keyfile_read(tpath("adir"), out, sizeof(out), &len, PASS) < 0);
	rmdir(tpath("adir"));
	/* a FIFO must be refused, not waited on */
	snprintf(fifo, sizeof(fifo), "%s", tpath("fifo"));
	assert_int_equal(mkfifo(fifo, 0600), 0);
	assert_int_equal(keyfile_read(fifo, out, sizeof(out), &len, PASS), SOTTO_ERR_IO);
	unlink(fifo);
	/* cannot create in a missing directory: an I/O error, nothing else */
	assert_int_equal(write_protected(tpath("nodir/key")), SOTTO_ERR_IO);
}

static void
test_write_limits(void **state)
{
	const char *p = tpath("limits");

	(void)state;
	assert_int_equal(keyfile_write(p, secret, sizeof(secret), PASS, sc_pwhash_opslimit_min(),
	    sc_pwhash_memlimit_min() - 1), SOTTO_ERR_INVALID_ARG);
	assert_int_equal(keyfile_write(p, secret, sizeof(secret), PASS, sc_pwhash_opslimit_min(),
	    sc_pwhash_memlimit_default() * 4 + 1), SOTTO_ERR_INVALID_ARG);
	assert_int_equal(keyfile_write(p, secret, sizeof(secret), PASS,
	    sc_pwhash_opslimit_default() * 4 + 1, sc_pwhash_memlimit_min()), SOTTO_ERR_INVALID_ARG);
	assert_int_equal(access(p, F_OK), -1);
}

static void
put_be64(uint8_t *p, uint64_t v)
{
	int i;

	for (i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

/* A hostile header asking for a huge Argon2id cost is refused before any hashing. */
static void
test_hostile_limits(void **state)
{
	const char *p = tpath("hostile");
	uint8_t raw[512], bad[512], out[128];
	size_t n, len;

	(void)state;
	assert_int_equal(write_protected(p), SOTTO_OK);
	n = slurp(p, raw, sizeof(raw));
	memcpy(bad, raw, n);
	put_be64(bad + 34, (uint64_t)1 << 40);
	spit(p, bad, n);
	assert_int_equal(keyfile_read(p, out, sizeof(out), &len, PASS), SOTTO_ERR_FORMAT);
	memcpy(bad, raw, n);
	put_be64(bad + 26, UINT64_MAX);
	spit(p, bad, n);
	assert_int_equal(keyfile_read(p, out, sizeof(out), &len, PASS), SOTTO_ERR_FORMAT);
	memcpy(bad, raw, n);
	put_be64(bad + 26, 0);
	spit(p, bad, n);
	assert_int_equal(keyfile_read(p, out, sizeof(out), &len, PASS), SOTTO_ERR_FORMAT);
	/* trailing byte */
	memcpy(bad, raw, n);
	bad[n] = 0;
	spit(p, bad, n + 1);
	assert_int_equal(keyfile_read(p, out, sizeof(out), &len, PASS), SOTTO_ERR_TRAILING);
	/* a file far larger than any key file */
	memset(bad, 0, sizeof(bad));
	{
		uint8_t *huge = calloc(1, 1 << 16);

		assert_non_null(huge);
		memcpy(huge, raw, n);
		spit(p, huge, 1 << 16);
		free(huge);
	}
	assert_int_equal(keyfile_read(p, out, sizeof(out), &len, PASS), SOTTO_ERR_TOO_LARGE);
	unlink(p);
}

static void
check_refused(const char *p, const uint8_t *buf, size_t n, const char *pass)
{
	uint8_t out[KEYFILE_MAX_SECRET];
	size_t len = 12345;
	int rc;

	spit(p, buf, n);
	memset(out, 0xee, sizeof(out));
	rc = keyfile_read(p, out, sizeof(out), &len, pass);
	if (rc == SOTTO_OK)
		fail_msg("mutated key file (len %zu) accepted", n);
	assert_true(rc < 0);
	assert_int_equal(len, 0);
	assert_true(sc_is_zero(out, sizeof(out)));
}

static void
test_mutations(void **state)
{
	const char *p = tpath("mut");
	uint8_t raw[512], bad[512];
	size_t n, i;
	int prot;

	(void)state;
	for (prot = 0; prot <= 1; prot++) {
		unlink(p);
		if (prot)
			assert_int_equal(write_protected(p), SOTTO_OK);
		else
			assert_int_equal(keyfile_write(p, secret, sizeof(secret), NULL, 0, 0), SOTTO_OK);
		n = slurp(p, raw, sizeof(raw));
		assert_true(n > HEADER_LEN);
		for (i = 0; i < n; i++) {
			check_refused(p, raw, i, prot ? PASS : NULL);
			/* keyfile_is_protected parses the same way */
			assert_true(keyfile_is_protected(p) < 0);
		}
		/* every bit of a protected file is covered by the tag or a check; an
		 * unprotected file's secret bytes are free-form, so flip only its header */
		for (i = 0; i < (prot ? n : HEADER_LEN + 4) * 8; i++) {
			memcpy(bad, raw, n);
			bad[i / 8] ^= (uint8_t)(1u << (i % 8));
			check_refused(p, bad, n, prot ? PASS : NULL);
		}
	}
	unlink(p);
}

/* keyfile_replace: the new secret replaces the old in place, protection as
 * asked, mode 0600; a leftover ".new" (even a symlink to a file of ours) is
 * removed, never written through; nothing is left beside the file. */
static void
test_replace(void **state)
{
	uint8_t out[KEYFILE_MAX_SECRET + 1], longer[96];
	char p[256], tmp[300], victim[300];
	struct stat sb;
	size_t len = 0;
	int fd;

	(void)state;
	snprintf(p, sizeof(p), "%s", tpath("replace.key"));
	snprintf(tmp, sizeof(tmp), "%s.new", p);
	snprintf(victim, sizeof(victim), "%s", tpath("victim"));
	assert_int_equal(write_protected(p), SOTTO_OK);
	sc_random(longer, sizeof(longer));
	assert_int_equal(keyfile_replace(p, longer, sizeof(longer), PASS, sc_pwhash_opslimit_min(),
	    sc_pwhash_memlimit_min()), SOTTO_OK);
	assert_int_equal(keyfile_is_protected(p), 1);
	assert_int_equal(keyfile_read(p, out, sizeof(out), &len, PASS), SOTTO_OK);
	assert_int_equal(len, sizeof(longer));
	assert_memory_equal(out, longer, sizeof(longer));
	assert_int_equal(stat(p, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	assert_int_equal(lstat(tmp, &sb), -1);
	/* A leftover of an interrupted replace, and a planted symlink. */
	fd = open(victim, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "keep", 4), 4);
	close(fd);
	assert_int_equal(symlink(victim, tmp), 0);
	assert_int_equal(keyfile_replace(p, secret, sizeof(secret), NULL, 0, 0), SOTTO_OK);
	assert_int_equal(keyfile_is_protected(p), 0);
	assert_int_equal(keyfile_read(p, out, sizeof(out), &len, NULL), SOTTO_OK);
	assert_int_equal(len, sizeof(secret));
	assert_memory_equal(out, secret, sizeof(secret));
	assert_int_equal(stat(victim, &sb), 0);
	assert_int_equal(sb.st_size, 4);
	assert_int_equal(lstat(tmp, &sb), -1);
	/* Too large: refused, the file as it was. */
	assert_int_equal(keyfile_replace(p, out, KEYFILE_MAX_SECRET + 1, NULL, 0, 0), SOTTO_ERR_TOO_LARGE);
	assert_int_equal(keyfile_read(p, out, sizeof(out), &len, NULL), SOTTO_OK);
	assert_int_equal(len, sizeof(secret));
	unlink(victim);
	unlink(p);
}

static int
setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/sotto-keyfile-XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	sc_random(secret, sizeof(secret));
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	return rmdir(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip_protected),
		cmocka_unit_test(test_roundtrip_unprotected),
		cmocka_unit_test(test_bad_passphrase),
		cmocka_unit_test(test_exists),
		cmocka_unit_test(test_permissions),
		cmocka_unit_test(test_symlink),
		cmocka_unit_test(test_not_regular),
		cmocka_unit_test(test_write_limits),
		cmocka_unit_test(test_hostile_limits),
		cmocka_unit_test(test_mutations),
		cmocka_unit_test(test_replace),
	};

	if (sc_init() != SOTTO_OK)
		return 1;
	return cmocka_run_group_tests(tests, setup, teardown);
}
