/* SPDX-License-Identifier: ISC */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "crypto.h"
#include "devicelist.h"
#include "sotto/error.h"
#include "wire.h"

#define DL_MAGIC "SDL1"
#define DL_SIGN_LABEL "sotto-devicelist-v1"
#define DL_TRAILER (SC_DEVICE_ID + SC_SIG)
#define SAFETY_LABEL "sotto-safety-v1"
#define SAFETY_ROUNDS 5200
#define SAFETY_DIGITS 30

static const uint8_t zero_id[SC_DEVICE_ID];

/*
 * Names are shown on screens: strict UTF-8 (no overlong forms, surrogates or
 * code points above U+10FFFF) and no control characters (C0, DEL, C1), so a
 * name cannot move the cursor or rewrite what the user reads.
 */
static int
name_valid(const uint8_t *p, size_t n)
{
	size_t i = 0, k, len;
	uint32_t cp, min;

	while (i < n) {
		if (p[i] < 0x80) {
			if (p[i] < 0x20 || p[i] == 0x7f)
				return 0;
			i++;
			continue;
		}
		if ((p[i] & 0xe0) == 0xc0) {
			len = 2, min = 0x80, cp = p[i] & 0x1f;
		} else if ((p[i] & 0xf0) == 0xe0) {
			len = 3, min = 0x800, cp = p[i] & 0x0f;
		} else if ((p[i] & 0xf8) == 0xf0) {
			len = 4, min = 0x10000, cp = p[i] & 0x07;
		} else
			return 0;
		if (len > n - i)
			return 0;
		for (k = 1; k < len; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (p[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) ||
		    (cp >= 0x80 && cp <= 0x9f))
			return 0;
		i += len;
	}
	return 1;
}

int
dl_name_valid(const char *name)
{
	size_t n = name != NULL ? strlen(name) : 0;

	return n > 0 && n <= SOTTO_MAX_DEVICE_NAME && name_valid((const uint8_t *)name, n);
}

static int
write_body(sbuf *b, const dl_list *l)
{
	size_t i, hlen, nlen;
	const dl_device *d;

	hlen = strnlen(l->handle, sizeof(l->handle));
	if (l->n_devices > SOTTO_MAX_DEVICES)
		return SOTTO_ERR_INVALID_ARG;
	sbw_put(b, DL_MAGIC, 4);
	sbw_str8(b, l->handle, hlen);
	sbw_put(b, l->account_pub, SC_SIGN_PUB);
	sbw_u64(b, l->version);
	sbw_put(b, l->prev_hash, SC_SHA256);
	sbw_u64(b, l->created_at);
	sbw_u8(b, (uint8_t)l->n_devices);
	for (i = 0; i < l->n_devices; i++) {
		d = &l->devices[i];
		nlen = strnlen(d->name, sizeof(d->name));
		sbw_put(b, d->id, SC_DEVICE_ID);
		sbw_str8(b, d->name, nlen);
		sbw_put(b, d->sig_pub, SC_SIGN_PUB);
		sbw_put(b, d->enc_pub, SC_KX_PUB);
		sbw_u64(b, d->added_at);
		sbw_put(b, d->approved_by, SC_DEVICE_ID);
	}
	return sbw_error(b);
}

/* The signed message: label || 0x00 || body. Caller frees. */
static uint8_t *
signed_message(const uint8_t *body, size_t n, size_t *mlen)
{
	uint8_t *m;

	if ((m = malloc(sizeof(DL_SIGN_LABEL) + n)) == NULL)
		return NULL;
	memcpy(m, DL_SIGN_LABEL, sizeof(DL_SIGN_LABEL));	/* includes the 0x00 */
	memcpy(m + sizeof(DL_SIGN_LABEL), body, n);
	*mlen = sizeof(DL_SIGN_LABEL) + n;
	return m;
}

/*
 * Both signers go through here. The output is parsed back before it is handed
 * out, so a list the caller filled in wrongly (bad handle, id not matching its
 * key, duplicates) is refused here rather than published and refused by every
 * reader.
 */
static int
sign_common(dl_list *l, const uint8_t signer[static SC_DEVICE_ID],
    const uint8_t sec[static SC_SIGN_SEC], uint8_t **out, size_t *outlen)
{
	uint8_t *m = NULL, *bytes = NULL;
	dl_list *check = NULL;
	size_t mlen, blen, len;
	sbuf b;
	int rc;

	*out = NULL;
	*outlen = 0;
	sbw_init(&b, SOTTO_MAX_DEVICE_LIST);
	if ((rc = write_body(&b, l)) != SOTTO_OK)
		goto out;
	rc = SOTTO_ERR_NOMEM;
	if ((m = signed_message(b.p, b.len, &mlen)) == NULL)
		goto out;
	memcpy(l->signer, signer, SC_DEVICE_ID);
	sc_sign(l->sig, m, mlen, sec);
	sbw_put(&b, l->signer, SC_DEVICE_ID);
	sbw_put(&b, l->sig, SC_SIG);
	if ((rc = sbw_error(&b)) != SOTTO_OK)
		goto out;
	blen = b.len;
	bytes = sbw_steal(&b, &len);
	rc = SOTTO_ERR_NOMEM;
	if ((check = malloc(sizeof(*check))) == NULL)
		goto out;
	rc = SOTTO_ERR_INVALID_ARG;
	if (dl_parse(check, bytes, blen) != SOTTO_OK)
		goto out;
	*out = bytes;
	*outlen = blen;
	bytes = NULL;
	rc = SOTTO_OK;
out:
	free(m);
	free(bytes);
	free(check);
	sbw_free(&b);
	return rc;
}

int
dl_sign_account(dl_list *l, const uint8_t account_sec[static SC_SIGN_SEC],
    uint8_t **out, size_t *outlen)
{
	*out = NULL;
	*outlen = 0;
	/* An Ed25519 secret key carries its public half in its last 32 bytes. */
	if (!sc_memeq(account_sec + SC_SIGN_SEED, l->account_pub, SC_SIGN_PUB))
		return SOTTO_ERR_INVALID_ARG;
	return sign_common(l, zero_id, account_sec, out, outlen);
}

int
dl_sign_device(dl_list *l, const uint8_t device_id[static SC_DEVICE_ID],
    const uint8_t device_sec[static SC_SIGN_SEC], uint8_t **out, size_t *outlen)
{
	uint8_t id[SC_DEVICE_ID];

	*out = NULL;
	*outlen = 0;
	sc_device_id(id, device_sec + SC_SIGN_SEED);
	if (l->version < 2 || sc_is_zero(device_id, SC_DEVICE_ID) ||
	    !sc_memeq(id, device_id, SC_DEVICE_ID))
		return SOTTO_ERR_INVALID_ARG;
	return sign_common(l, device_id, device_sec, out, outlen);
}

static int
parse_device(sbuf_reader *r, dl_device *d)
{
	uint8_t id[SC_DEVICE_ID];
	const uint8_t *name;
	size_t nlen;
	int rc;

	if ((rc = sbr_copy(r, d->id, SC_DEVICE_ID)) != SOTTO_OK ||
	    (rc = sbr_str8(r, SOTTO_MAX_DEVICE_NAME, &name, &nlen)) != SOTTO_OK ||
	    (rc = sbr_copy(r, d->sig_pub, SC_SIGN_PUB)) != SOTTO_OK ||
	    (rc = sbr_copy(r, d->enc_pub, SC_KX_PUB)) != SOTTO_OK ||
	    (rc = sbr_u64(r, &d->added_at)) != SOTTO_OK ||
	    (rc = sbr_copy(r, d->approved_by, SC_DEVICE_ID)) != SOTTO_OK)
		return rc;
	if (!name_valid(name, nlen))
		return SOTTO_ERR_FORMAT;
	memcpy(d->name, name, nlen);
	d->name[nlen] = '\0';
	sc_device_id(id, d->sig_pub);
	if (!sc_memeq(id, d->id, SC_DEVICE_ID) || sc_is_zero(d->id, SC_DEVICE_ID))
		return SOTTO_ERR_FORMAT;
	return SOTTO_OK;
}

int
dl_parse(dl_list *l, const uint8_t *p, size_t n)
{
	uint8_t magic[4], ndev;
	const uint8_t *handle;
	size_t hlen, i, j;
	sbuf_reader r;
	int rc;

	memset(l, 0, sizeof(*l));
	rc = SOTTO_ERR_TOO_LARGE;
	if (n > SOTTO_MAX_DEVICE_LIST)
		goto out;
	sbr_init(&r, p, n);
	if ((rc = sbr_copy(&r, magic, sizeof(magic))) != SOTTO_OK)
		goto out;
	rc = SOTTO_ERR_FORMAT;
	if (memcmp(magic, DL_MAGIC, sizeof(magic)) != 0)	/* not secret: magic bytes */
		goto out;
	if ((rc = sbr_str8(&r, SOTTO_MAX_HANDLE, &handle, &hlen)) != SOTTO_OK)
		goto out;
	memcpy(l->handle, handle, hlen);
	l->handle[hlen] = '\0';
	rc = SOTTO_ERR_FORMAT;
	if (strlen(l->handle) != hlen || !handle_valid(l->handle))
		goto out;
	if ((rc = sbr_copy(&r, l->account_pub, SC_SIGN_PUB)) != SOTTO_OK ||
	    (rc = sbr_u64(&r, &l->version)) != SOTTO_OK ||
	    (rc = sbr_copy(&r, l->prev_hash, SC_SHA256)) != SOTTO_OK ||
	    (rc = sbr_u64(&r, &l->created_at)) != SOTTO_OK ||
	    (rc = sbr_u8(&r, &ndev)) != SOTTO_OK)
		goto out;
	rc = SOTTO_ERR_FORMAT;
	if (l->version == 0 ||
	    (l->version == 1) != (sc_is_zero(l->prev_hash, SC_SHA256) != 0))
		goto out;
	if (ndev == 0)
		goto out;
	rc = SOTTO_ERR_TOO_LARGE;
	if (ndev > SOTTO_MAX_DEVICES)
		goto out;
	l->n_devices = ndev;
	for (i = 0; i < l->n_devices; i++) {
		if ((rc = parse_device(&r, &l->devices[i])) != SOTTO_OK)
			goto out;
		for (j = 0; j < i; j++) {
			if (memcmp(l->devices[j].id, l->devices[i].id, SC_DEVICE_ID) == 0) { /* not secret: device ids are public */
				rc = SOTTO_ERR_FORMAT;
				goto out;
			}
		}
	}
	if ((rc = sbr_copy(&r, l->signer, SC_DEVICE_ID)) != SOTTO_OK ||
	    (rc = sbr_copy(&r, l->sig, SC_SIG)) != SOTTO_OK ||
	    (rc = sbr_done(&r)) != SOTTO_OK)
		goto out;
	rc = SOTTO_OK;
out:
	if (rc != SOTTO_OK)
		memset(l, 0, sizeof(*l));
	return rc;
}

void
dl_hash(uint8_t out[static SC_SHA256], const uint8_t *p, size_t n)
{
	sc_sha256(out, p, n);
}

static int
device_equal(const dl_device *a, const dl_device *b)
{
	return memcmp(a->id, b->id, SC_DEVICE_ID) == 0 &&	/* not secret: public ids */
	    strcmp(a->name, b->name) == 0 &&
	    memcmp(a->sig_pub, b->sig_pub, SC_SIGN_PUB) == 0 &&	/* not secret: public keys */
	    memcmp(a->enc_pub, b->enc_pub, SC_KX_PUB) == 0 &&	/* not secret: public keys */
	    a->added_at == b->added_at &&
	    memcmp(a->approved_by, b->approved_by, SC_DEVICE_ID) == 0;	/* not secret: public ids */
}

/*
 * The verifiers take both the parsed list and its bytes. The signature covers the
 * bytes, the caller will act on the struct: re-parse and compare so that a struct
 * that is not what the bytes say can never pass as verified.
 */
static int
matches_bytes(const dl_list *l, const uint8_t *p, size_t n)
{
	dl_list *t;
	size_t i;
	int ok = 0;

	if ((t = malloc(sizeof(*t))) == NULL)
		return SOTTO_ERR_NOMEM;
	if (dl_parse(t, p, n) != SOTTO_OK)
		goto out;
	if (strcmp(t->handle, l->handle) != 0 ||
	    memcmp(t->account_pub, l->account_pub, SC_SIGN_PUB) != 0 ||	/* not secret: public key */
	    t->version != l->version ||
	    memcmp(t->prev_hash, l->prev_hash, SC_SHA256) != 0 ||	/* not secret: hash of a public list */
	    t->created_at != l->created_at || t->n_devices != l->n_devices ||
	    memcmp(t->signer, l->signer, SC_DEVICE_ID) != 0 ||	/* not secret: public id */
	    memcmp(t->sig, l->sig, SC_SIG) != 0)	/* not secret: public signature */
		goto out;
	for (i = 0; i < t->n_devices; i++)
		if (!device_equal(&t->devices[i], &l->devices[i]))
			goto out;
	ok = 1;
out:
	free(t);
	return ok ? SOTTO_OK : SOTTO_ERR_INVALID_ARG;
}

static int
check_signature(const uint8_t *p, size_t n, const uint8_t pub[static SC_SIGN_PUB])
{
	uint8_t *m;
	size_t mlen;
	int rc;

	if (n < DL_TRAILER)
		return SOTTO_ERR_FORMAT;
	if ((m = signed_message(p, n - DL_TRAILER, &mlen)) == NULL)
		return SOTTO_ERR_NOMEM;
	rc = sc_verify(p + n - SC_SIG, m, mlen, pub);
	free(m);
	return rc == SOTTO_OK ? SOTTO_OK : SOTTO_ERR_BAD_SIGNATURE;
}

/* Every key of the list usable: a low-order X25519 key makes every send to
 * its account fail, a small-order or non-canonical Ed25519 key is no key. */
static int
keys_valid(const dl_list *l)
{
	if (!sc_sign_pub_valid(l->account_pub))
		return SOTTO_ERR_BAD_KEY;
	for (size_t i = 0; i < l->n_devices; i++)
		if (!sc_sign_pub_valid(l->devices[i].sig_pub) || !sc_kx_pub_valid(l->devices[i].enc_pub))
			return SOTTO_ERR_BAD_KEY;
	return SOTTO_OK;
}

int
dl_verify_first(const dl_list *l, const uint8_t *p, size_t n)
{
	int rc;

	if ((rc = matches_bytes(l, p, n)) != SOTTO_OK)
		return rc;
	if (l->version != 1 || !sc_is_zero(l->prev_hash, SC_SHA256) ||
	    !sc_is_zero(l->signer, SC_DEVICE_ID))
		return SOTTO_ERR_CHAIN;
	/* Before the signature: a bad account key could not verify one at all. */
	if ((rc = keys_valid(l)) != SOTTO_OK)
		return rc;
	return check_signature(p, n, l->account_pub);
}

int
dl_verify_next(const dl_list *prev, const uint8_t prev_hash[static SC_SHA256],
    const dl_list *next, const uint8_t *p, size_t n)
{
	const dl_device *signer;
	const uint8_t *pub;
	int rc;

	if ((rc = matches_bytes(next, p, n)) != SOTTO_OK)
		return rc;
	if (strcmp(prev->handle, next->handle) != 0 ||
	    !sc_memeq(prev->account_pub, next->account_pub, SC_SIGN_PUB) ||
	    prev->version == UINT64_MAX || next->version != prev->version + 1 ||
	    !sc_memeq(prev_hash, next->prev_hash, SC_SHA256))
		return SOTTO_ERR_CHAIN;
	if (sc_is_zero(next->signer, SC_DEVICE_ID))
		pub = next->account_pub;
	else if ((signer = dl_find(prev, next->signer)) != NULL)
		pub = signer->sig_pub;
	else
		return SOTTO_ERR_CHAIN;
	if ((rc = keys_valid(next)) != SOTTO_OK)
		return rc;
	return check_signature(p, n, pub);
}

const dl_device *
dl_find(const dl_list *l, const uint8_t id[static SC_DEVICE_ID])
{
	size_t i;

	if (sc_is_zero(id, SC_DEVICE_ID))
		return NULL;
	for (i = 0; i < l->n_devices && i < SOTTO_MAX_DEVICES; i++)
		if (memcmp(l->devices[i].id, id, SC_DEVICE_ID) == 0)	/* not secret: device ids are public */
			return &l->devices[i];
	return NULL;
}

void
dl_fingerprint(char *out, const dl_device *d)
{
	uint8_t keys[SC_SIGN_PUB + SC_KX_PUB], h[SC_SHA256];
	char hex[2 * 16 + 1];
	size_t i, o = 0;

	memcpy(keys, d->sig_pub, SC_SIGN_PUB);
	memcpy(keys + SC_SIGN_PUB, d->enc_pub, SC_KX_PUB);
	sc_sha256(h, keys, sizeof(keys));
	sc_hex(hex, h, 16);
	for (i = 0; i < 8; i++) {
		if (i > 0)
			out[o++] = ' ';
		memcpy(out + o, hex + 4 * i, 4);
		o += 4;
	}
	out[o] = '\0';
}

/* 30 decimal digits for one account. */
static void
safety_half(char out[static SAFETY_DIGITS], const char *handle,
    const uint8_t pub[static SC_SIGN_PUB])
{
	uint8_t in[sizeof(SAFETY_LABEL) + SC_SIGN_PUB + SOTTO_MAX_HANDLE];
	uint8_t d[SC_SHA512 + SC_SIGN_PUB], next[SC_SHA512];
	size_t hlen, len, i, j;
	uint64_t v;

	hlen = strnlen(handle, SOTTO_MAX_HANDLE);
	memcpy(in, SAFETY_LABEL, sizeof(SAFETY_LABEL));	/* includes the 0x00 */
	memcpy(in + sizeof(SAFETY_LABEL), pub, SC_SIGN_PUB);
	memcpy(in + sizeof(SAFETY_LABEL) + SC_SIGN_PUB, handle, hlen);
	len = sizeof(SAFETY_LABEL) + SC_SIGN_PUB + hlen;
	sc_sha512(d, in, len);
	memcpy(d + SC_SHA512, pub, SC_SIGN_PUB);
	for (i = 1; i < SAFETY_ROUNDS; i++) {
		sc_sha512(next, d, sizeof(d));
		memcpy(d, next, SC_SHA512);
	}
	for (i = 0; i < 6; i++) {
		v = 0;
		for (j = 0; j < 5; j++)
			v = (v << 8) | d[5 * i + j];
		v %= 100000;
		for (j = 5; j > 0; j--) {
			out[5 * i + j - 1] = (char)('0' + v % 10);
			v /= 10;
		}
	}
}

void
safety_number(char *out, const char *handle_a, const uint8_t account_a[static SC_SIGN_PUB],
    const char *handle_b, const uint8_t account_b[static SC_SIGN_PUB])
{
	char digits[2 * SAFETY_DIGITS];
	size_t i, o = 0;
	int c;

	c = strncmp(handle_a, handle_b, SOTTO_MAX_HANDLE);
	if (c == 0)
		c = memcmp(account_a, account_b, SC_SIGN_PUB);	/* not secret: ordering of public keys */
	if (c <= 0) {
		safety_half(digits, handle_a, account_a);
		safety_half(digits + SAFETY_DIGITS, handle_b, account_b);
	} else {
		safety_half(digits, handle_b, account_b);
		safety_half(digits + SAFETY_DIGITS, handle_a, account_a);
	}
	for (i = 0; i < 12; i++) {
		if (i > 0)
			out[o++] = ' ';
		memcpy(out + o, digits + 5 * i, 5);
		o += 5;
	}
	out[o] = '\0';
}
