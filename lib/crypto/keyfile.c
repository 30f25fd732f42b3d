/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "buf.h"
#include "crypto.h"
#include "keyfile.h"
#include "sotto/error.h"

#define KEYFILE_MAGIC "SOTTOKEY"
#define KEYFILE_MAGIC_LEN 8
#define KEYFILE_FORMAT 1
#define MODE_PLAIN 0
#define MODE_ARGON2ID 1
#define KEYFILE_HEADER_LEN (KEYFILE_MAGIC_LEN + 1 + 1 + SC_PWHASH_SALT + 8 + 8)
#define KEYFILE_MAX_FILE (KEYFILE_HEADER_LEN + 4 + KEYFILE_MAX_SECRET + SC_AEAD_TAG)

struct keyfile {
	uint8_t mode;
	uint8_t salt[SC_PWHASH_SALT];
	uint64_t opslimit;
	uint64_t memlimit;
	const uint8_t *body;	/* borrowed from the file bytes */
	size_t bodylen;
};

/* The defaults are small constants (2 passes, 64 MiB), so 4x cannot overflow a u64. */
static int
limits_ok(uint64_t opslimit, uint64_t memlimit)
{
	return opslimit >= sc_pwhash_opslimit_min() &&
	    opslimit <= 4 * (uint64_t)sc_pwhash_opslimit_default() &&
	    memlimit >= sc_pwhash_memlimit_min() &&
	    memlimit <= 4 * (uint64_t)sc_pwhash_memlimit_default() &&
	    memlimit <= SIZE_MAX;
}

static int
derive_key(uint8_t key[static SC_AEAD_KEY], const char *passphrase, const struct keyfile *kf)
{
	return sc_pwhash(key, SC_AEAD_KEY, passphrase, strlen(passphrase), kf->salt,
	    kf->opslimit, (size_t)kf->memlimit);
}

static int
write_all(int fd, const uint8_t *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		if ((w = write(fd, p, n)) < 0) {
			if (errno == EINTR)
				continue;
			return SOTTO_ERR_IO;
		}
		p += w;
		n -= (size_t)w;
	}
	return SOTTO_OK;
}

int
keyfile_write(const char *path, const uint8_t *secret, size_t len, const char *passphrase,
    uint64_t opslimit, size_t memlimit)
{
	static const uint8_t zero_nonce[SC_AEAD_NONCE];
	struct keyfile kf;
	uint8_t key[SC_AEAD_KEY], *ct;
	sbuf b;
	int fd = -1, created = 0, rc = SOTTO_ERR_INVALID_ARG;

	memset(&kf, 0, sizeof(kf));
	sbw_init(&b, KEYFILE_MAX_FILE);
	if (len > KEYFILE_MAX_SECRET) {
		rc = SOTTO_ERR_TOO_LARGE;
		goto out;
	}
	if (passphrase != NULL) {
		kf.mode = MODE_ARGON2ID;
		kf.opslimit = opslimit != 0 ? opslimit : sc_pwhash_opslimit_default();
		kf.memlimit = memlimit != 0 ? memlimit : sc_pwhash_memlimit_default();
		if (!limits_ok(kf.opslimit, kf.memlimit))
			goto out;
		sc_random(kf.salt, sizeof(kf.salt));
	}
	sbw_put(&b, KEYFILE_MAGIC, KEYFILE_MAGIC_LEN);
	sbw_u8(&b, KEYFILE_FORMAT);
	sbw_u8(&b, kf.mode);
	sbw_put(&b, kf.salt, sizeof(kf.salt));
	sbw_u64(&b, kf.opslimit);
	sbw_u64(&b, kf.memlimit);
	if (kf.mode == MODE_ARGON2ID) {
		sbw_u32(&b, (uint32_t)(len + SC_AEAD_TAG));
		if ((rc = sbw_error(&b)) != SOTTO_OK ||
		    (ct = sbw_reserve(&b, len + SC_AEAD_TAG)) == NULL)
			goto out;
		if ((rc = derive_key(key, passphrase, &kf)) != SOTTO_OK)
			goto out;
		sc_aead_encrypt(ct, secret, len, b.p, KEYFILE_HEADER_LEN, zero_nonce, key);
	} else {
		sbw_u32(&b, (uint32_t)len);
		sbw_put(&b, secret, len);
	}
	if ((rc = sbw_error(&b)) != SOTTO_OK)
		goto out;

	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600)) < 0) {
		rc = errno == EEXIST ? SOTTO_ERR_EXISTS : SOTTO_ERR_IO;
		goto out;
	}
	created = 1;
	if ((rc = write_all(fd, b.p, b.len)) != SOTTO_OK)
		goto out;
	if (fsync(fd) != 0) {
		rc = SOTTO_ERR_IO;
		goto out;
	}
	rc = close(fd) == 0 ? SOTTO_OK : SOTTO_ERR_IO;
	fd = -1;
out:
	if (fd >= 0)
		close(fd);
	/* Never leave a partial key file behind: the next run would refuse to overwrite it. */
	if (rc != SOTTO_OK && created)
		unlink(path);
	sc_wipe(key, sizeof(key));
	sbw_free(&b);
	return rc;
}

int
keyfile_replace(const char *path, const uint8_t *secret, size_t len, const char *passphrase,
    uint64_t opslimit, size_t memlimit)
{
	char tmp[PATH_MAX], dir[PATH_MAX];
	int n, fd, rc;

	n = snprintf(tmp, sizeof(tmp), "%s.new", path);
	if (n < 0 || (size_t)n >= sizeof(tmp) || snprintf(dir, sizeof(dir), "%s", path) >= (int)sizeof(dir))
		return SOTTO_ERR_INVALID_ARG;
	/* unlink removes a planted symlink itself, never what it points to. */
	if (unlink(tmp) != 0 && errno != ENOENT)
		return SOTTO_ERR_EXISTS;
	if ((rc = keyfile_write(tmp, secret, len, passphrase, opslimit, memlimit)) != SOTTO_OK)
		return rc;
	if (rename(tmp, path) != 0) {
		unlink(tmp);
		return SOTTO_ERR_IO;
	}
	/* The rename is durable only once the folder is. */
	if ((fd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return SOTTO_ERR_IO;
	rc = fsync(fd) == 0 ? SOTTO_OK : SOTTO_ERR_IO;
	close(fd);
	return rc;
}

/* Read the whole file into buf (max bytes), after checking it is a private regular file. */
static int
load(const char *path, uint8_t *buf, size_t max, size_t *len)
{
	struct stat st;
	ssize_t r;
	size_t off = 0;
	int fd, rc = SOTTO_ERR_IO;

	*len = 0;
	/* O_NONBLOCK: opening a FIFO planted at path must not hang us; fstat then refuses it. */
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)) < 0) {
		if (errno == ENOENT)
			return SOTTO_ERR_NOT_FOUND;
		return errno == ELOOP ? SOTTO_ERR_PERMISSIONS : SOTTO_ERR_IO;
	}
	if (fstat(fd, &st) != 0)
		goto out;
	if (!S_ISREG(st.st_mode)) {
		rc = SOTTO_ERR_IO;
		goto out;
	}
	if ((st.st_mode & 077) != 0) {
		rc = SOTTO_ERR_PERMISSIONS;
		goto out;
	}
	if (st.st_size < 0 || (uint64_t)st.st_size > max) {
		rc = SOTTO_ERR_TOO_LARGE;
		goto out;
	}
	/* Read to EOF but never past max: the file may have grown since fstat. */
	for (;;) {
		if (off == max) {
			uint8_t extra;

			if ((r = read(fd, &extra, 1)) < 0 && errno == EINTR)
				continue;
			if (r != 0) {
				rc = r < 0 ? SOTTO_ERR_IO : SOTTO_ERR_TOO_LARGE;
				goto out;
			}
			break;
		}
		if ((r = read(fd, buf + off, max - off)) < 0) {
			if (errno == EINTR)
				continue;
			goto out;
		}
		if (r == 0)
			break;
		off += (size_t)r;
	}
	*len = off;
	rc = SOTTO_OK;
out:
	close(fd);
	return rc;
}

static int
parse(struct keyfile *kf, const uint8_t *p, size_t len)
{
	uint8_t magic[KEYFILE_MAGIC_LEN], format;
	sbuf_reader r;
	int rc;

	memset(kf, 0, sizeof(*kf));
	sbr_init(&r, p, len);
	if ((rc = sbr_copy(&r, magic, sizeof(magic))) != SOTTO_OK)
		goto out;
	rc = SOTTO_ERR_FORMAT;
	if (memcmp(magic, KEYFILE_MAGIC, KEYFILE_MAGIC_LEN) != 0)	/* not secret: magic bytes */
		goto out;
	if ((rc = sbr_u8(&r, &format)) != SOTTO_OK)
		goto out;
	if (format != KEYFILE_FORMAT) {
		rc = SOTTO_ERR_VERSION;
		goto out;
	}
	if ((rc = sbr_u8(&r, &kf->mode)) != SOTTO_OK ||
	    (rc = sbr_copy(&r, kf->salt, sizeof(kf->salt))) != SOTTO_OK ||
	    (rc = sbr_u64(&r, &kf->opslimit)) != SOTTO_OK ||
	    (rc = sbr_u64(&r, &kf->memlimit)) != SOTTO_OK)
		goto out;
	rc = SOTTO_ERR_FORMAT;
	if (kf->mode == MODE_ARGON2ID) {
		if (!limits_ok(kf->opslimit, kf->memlimit))
			goto out;
		if ((rc = sbr_str32(&r, KEYFILE_MAX_SECRET + SC_AEAD_TAG, &kf->body,
		    &kf->bodylen)) != SOTTO_OK)
			goto out;
		rc = SOTTO_ERR_FORMAT;
		if (kf->bodylen < SC_AEAD_TAG)
			goto out;
	} else if (kf->mode == MODE_PLAIN) {
		/* an unprotected file says so in every field */
		if (!sc_is_zero(kf->salt, sizeof(kf->salt)) || kf->opslimit != 0 || kf->memlimit != 0)
			goto out;
		if ((rc = sbr_str32(&r, KEYFILE_MAX_SECRET, &kf->body, &kf->bodylen)) != SOTTO_OK)
			goto out;
	} else
		goto out;
	rc = sbr_done(&r);
out:
	if (rc != SOTTO_OK)
		memset(kf, 0, sizeof(*kf));
	return rc;
}

int
keyfile_read(const char *path, uint8_t *secret, size_t max, size_t *len, const char *passphrase)
{
	static const uint8_t zero_nonce[SC_AEAD_NONCE];
	uint8_t buf[KEYFILE_MAX_FILE], key[SC_AEAD_KEY];
	struct keyfile kf;
	size_t buflen = 0, n;
	int rc;

	*len = 0;
	memset(&kf, 0, sizeof(kf));
	if ((rc = load(path, buf, sizeof(buf), &buflen)) != SOTTO_OK ||
	    (rc = parse(&kf, buf, buflen)) != SOTTO_OK)
		goto out;
	n = kf.mode == MODE_ARGON2ID ? kf.bodylen - SC_AEAD_TAG : kf.bodylen;
	if (n > max) {
		rc = SOTTO_ERR_TOO_LARGE;
		goto out;
	}
	if (kf.mode == MODE_PLAIN) {
		if (n > 0)
			memcpy(secret, kf.body, n);
	} else {
		rc = SOTTO_ERR_PASSPHRASE;
		if (passphrase == NULL)
			goto out;
		if ((rc = derive_key(key, passphrase, &kf)) != SOTTO_OK)
			goto out;
		/* A wrong passphrase and a tampered file look the same here, by design of AEAD. */
		if (sc_aead_decrypt(secret, kf.body, kf.bodylen, buf, KEYFILE_HEADER_LEN,
		    zero_nonce, key) != SOTTO_OK) {
			rc = SOTTO_ERR_PASSPHRASE;
			goto out;
		}
	}
	*len = n;
	rc = SOTTO_OK;
out:
	sc_wipe(key, sizeof(key));
	sc_wipe(buf, sizeof(buf));
	if (rc != SOTTO_OK && max > 0)
		sc_wipe(secret, max);
	return rc;
}

int
keyfile_is_protected(const char *path)
{
	uint8_t buf[KEYFILE_MAX_FILE];
	struct keyfile kf;
	size_t buflen = 0;
	int rc;

	if ((rc = load(path, buf, sizeof(buf), &buflen)) != SOTTO_OK ||
	    (rc = parse(&kf, buf, buflen)) != SOTTO_OK)
		goto out;
	rc = kf.mode == MODE_ARGON2ID ? 1 : 0;
out:
	sc_wipe(buf, sizeof(buf));
	return rc;
}
