/* SPDX-License-Identifier: ISC */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "crypto.h"
#include "envelope.h"
#include "hpke.h"
#include "sotto/error.h"
#include "wire.h"

#define ENV_SIGN_LABEL "sotto-envelope-v1"
#define ENV_WRAP_LABEL "sotto-wrap-v1"
#define ENV_MIN_BUCKET 256
#define ENV_SIGN_MSG_LEN (sizeof(ENV_SIGN_LABEL) + 2 * SC_SHA256)	/* label, 0x00, 2 hashes */
#define ENV_WRAP_INFO_LEN (sizeof(ENV_WRAP_LABEL) + SC_SHA256)

_Static_assert(ENV_WRAP_LEN == HPKE_ENC_LEN + SC_AEAD_KEY + HPKE_TAG_LEN, "wrap = enc || ct(K)");
_Static_assert(SC_AEAD_TAG == 16, "body_len bounds assume a 16-byte tag");
_Static_assert(SOTTO_MAX_HEADER <= 0xffff, "header_len is a u16");

/* K encrypts exactly one body, so one fixed nonce never repeats under a key. */
static const uint8_t zero_nonce[SC_AEAD_NONCE];

/* Borrowed slices of one envelope. */
typedef struct env_parts {
	const uint8_t *header;
	size_t header_len;
	const uint8_t *body;
	size_t body_len;
	const uint8_t *sig;
} env_parts;

/* The rules a header must satisfy, whether we write it or read it. */
static int
header_valid(const env_header *h)
{
	size_t i, j;

	if (h->version != ENV_VERSION)
		return SOTTO_ERR_VERSION;
	/* Ranges the receiver can store and show (docs/PROTOCOL.md): a value
	 * beyond them is refused here, on both sides, not deep in a receiver. */
	if (!handle_valid(h->sender) || h->sent_at == 0 || h->sent_at > ENV_MAX_SENT_AT ||
	    h->n_recipients == 0 || h->n_recipients > SOTTO_MAX_RECIPIENTS)
		return SOTTO_ERR_FORMAT;
	for (i = 0; i < h->n_recipients; i++) {
		if (!handle_valid(h->recipients[i]))
			return SOTTO_ERR_FORMAT;
		for (j = 0; j < i; j++)
			if (strcmp(h->recipients[i], h->recipients[j]) == 0)
				return SOTTO_ERR_FORMAT;
	}
	return SOTTO_OK;
}

static int
write_header(sbuf *b, const env_header *h)
{
	size_t i;
	int rc;

	if ((rc = header_valid(h)) != SOTTO_OK)
		return rc;
	sbw_u8(b, h->version);
	sbw_put(b, h->msg_id, ENV_MSG_ID_LEN);
	sbw_str8(b, h->sender, strlen(h->sender));
	sbw_put(b, h->sender_device, SC_DEVICE_ID);
	sbw_u64(b, h->sent_at);
	sbw_u8(b, (uint8_t)h->n_recipients);
	for (i = 0; i < h->n_recipients; i++)
		sbw_str8(b, h->recipients[i], strlen(h->recipients[i]));
	return sbw_error(b);
}

static int
read_handle(sbuf_reader *r, char out[static SOTTO_MAX_HANDLE + 1])
{
	const uint8_t *p;
	size_t n;

	if (sbr_str8(r, SOTTO_MAX_HANDLE, &p, &n) != SOTTO_OK)
		return SOTTO_ERR_FORMAT;
	memcpy(out, p, n);
	out[n] = '\0';
	/* handle_valid cannot see past an embedded NUL */
	return strlen(out) == n ? SOTTO_OK : SOTTO_ERR_FORMAT;
}

static int
parse_header(env_header *h, const uint8_t *p, size_t n)
{
	sbuf_reader r;
	uint8_t nrec;
	size_t i;
	int rc;

	sbr_init(&r, p, n);
	if (sbr_u8(&r, &h->version) != SOTTO_OK)
		return SOTTO_ERR_FORMAT;
	if (h->version != ENV_VERSION)
		return SOTTO_ERR_VERSION;
	if (sbr_copy(&r, h->msg_id, ENV_MSG_ID_LEN) != SOTTO_OK ||
	    (rc = read_handle(&r, h->sender)) != SOTTO_OK ||
	    sbr_copy(&r, h->sender_device, SC_DEVICE_ID) != SOTTO_OK ||
	    sbr_u64(&r, &h->sent_at) != SOTTO_OK ||
	    sbr_u8(&r, &nrec) != SOTTO_OK || nrec == 0 || nrec > SOTTO_MAX_RECIPIENTS)
		return SOTTO_ERR_FORMAT;
	h->n_recipients = nrec;
	for (i = 0; i < h->n_recipients; i++)
		if ((rc = read_handle(&r, h->recipients[i])) != SOTTO_OK)
			return rc;
	if (sbr_done(&r) != SOTTO_OK)
		return SOTTO_ERR_FORMAT;
	return header_valid(h);
}

static int
is_pow2(size_t x)
{
	return x != 0 && (x & (x - 1)) == 0;
}

static int
parse_envelope(env_header *h, env_parts *e, const uint8_t *p, size_t n)
{
	sbuf_reader r;
	uint16_t hlen;
	uint32_t blen;
	int rc = SOTTO_ERR_FORMAT;

	memset(h, 0, sizeof(*h));
	memset(e, 0, sizeof(*e));
	if (p == NULL || n > SOTTO_MAX_ENVELOPE)
		goto out;
	sbr_init(&r, p, n);
	if (sbr_u16(&r, &hlen) != SOTTO_OK || hlen > SOTTO_MAX_HEADER ||
	    sbr_ptr(&r, hlen, &e->header) != SOTTO_OK)
		goto out;
	e->header_len = hlen;
	if (sbr_u32(&r, &blen) != SOTTO_OK ||
	    blen < ENV_MIN_BUCKET + SC_AEAD_TAG || blen > SOTTO_MAX_PADDED_BODY + SC_AEAD_TAG ||
	    !is_pow2(blen - SC_AEAD_TAG) ||
	    sbr_ptr(&r, blen, &e->body) != SOTTO_OK)
		goto out;
	e->body_len = blen;
	if (sbr_ptr(&r, SC_SIG, &e->sig) != SOTTO_OK || sbr_done(&r) != SOTTO_OK)
		goto out;
	rc = parse_header(h, e->header, e->header_len);
out:
	if (rc != SOTTO_OK) {
		memset(h, 0, sizeof(*h));
		memset(e, 0, sizeof(*e));
	}
	return rc;
}

int
env_parse_header(env_header *h, const uint8_t *envelope, size_t envelope_len)
{
	env_parts e;

	return parse_envelope(h, &e, envelope, envelope_len);
}

int
env_claimed_sender(char out[static SOTTO_MAX_HANDLE + 1], const uint8_t *envelope, size_t envelope_len)
{
	sbuf_reader r, hr;
	const uint8_t *hp, *skip;
	uint16_t hlen;
	uint8_t version;
	int rc = SOTTO_ERR_FORMAT;

	out[0] = '\0';
	if (envelope == NULL || envelope_len > SOTTO_MAX_ENVELOPE)
		return rc;
	sbr_init(&r, envelope, envelope_len);
	if (sbr_u16(&r, &hlen) != SOTTO_OK || hlen > SOTTO_MAX_HEADER ||
	    sbr_ptr(&r, hlen, &hp) != SOTTO_OK)
		return rc;
	sbr_init(&hr, hp, hlen);
	if (sbr_u8(&hr, &version) != SOTTO_OK || sbr_ptr(&hr, ENV_MSG_ID_LEN, &skip) != SOTTO_OK ||
	    read_handle(&hr, out) != SOTTO_OK || !handle_valid(out)) {
		out[0] = '\0';
		return rc;
	}
	return SOTTO_OK;
}

static void
sign_message(uint8_t m[static ENV_SIGN_MSG_LEN], const env_parts *e)
{
	memcpy(m, ENV_SIGN_LABEL, sizeof(ENV_SIGN_LABEL));	/* includes the 0x00 */
	sc_sha256(m + sizeof(ENV_SIGN_LABEL), e->header, e->header_len);
	sc_sha256(m + sizeof(ENV_SIGN_LABEL) + SC_SHA256, e->body, e->body_len);
}

static void
wrap_info(uint8_t info[static ENV_WRAP_INFO_LEN], const uint8_t *header, size_t header_len)
{
	memcpy(info, ENV_WRAP_LABEL, sizeof(ENV_WRAP_LABEL));	/* includes the 0x00 */
	sc_sha256(info + sizeof(ENV_WRAP_LABEL), header, header_len);
}

static uint64_t
now_ms(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
		return 1;
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int
env_seal(env_header *h, const uint8_t *content, size_t content_len,
    const uint8_t sender_sec[static SC_SIGN_SEC], const env_target *targets, size_t n_targets,
    uint8_t **envelope, size_t *envelope_len, uint8_t *wraps)
{
	uint8_t key[SC_AEAD_KEY], id[SC_DEVICE_ID], sig[SC_SIG];
	uint8_t m[ENV_SIGN_MSG_LEN], info[ENV_WRAP_INFO_LEN];
	uint8_t saved_id[ENV_MSG_ID_LEN], *padded = NULL, *body = NULL, *w;
	uint64_t saved_sent_at = h->sent_at;
	size_t bucket = ENV_MIN_BUCKET, plen = 0, i;
	env_parts e;
	sbuf hb, eb;
	int rc;

	*envelope = NULL;
	*envelope_len = 0;
	memcpy(saved_id, h->msg_id, sizeof(saved_id));
	sbw_init(&hb, SOTTO_MAX_HEADER);
	sbw_init(&eb, SOTTO_MAX_ENVELOPE);
	rc = SOTTO_ERR_TOO_LARGE;
	if (content_len > SOTTO_MAX_BODY)
		goto out;
	rc = SOTTO_ERR_INVALID_ARG;
	if ((content == NULL && content_len > 0) ||
	    (n_targets > 0 && (targets == NULL || wraps == NULL)) ||
	    n_targets > (size_t)SOTTO_MAX_RECIPIENTS * SOTTO_MAX_DEVICES + SOTTO_MAX_DEVICES)
		goto out;
	for (i = 0; i < n_targets; i++)
		if (targets[i].device_id == NULL || targets[i].enc_pub == NULL)
			goto out;
	/* The header names the signing device; a mismatch would make every copy unverifiable. */
	sc_device_id(id, sender_sec + SC_SIGN_SEED);
	if (!sc_memeq(id, h->sender_device, SC_DEVICE_ID))
		goto out;
	h->version = ENV_VERSION;
	if (sc_is_zero(h->msg_id, ENV_MSG_ID_LEN))
		sc_random(h->msg_id, ENV_MSG_ID_LEN);
	if (h->sent_at == 0)
		h->sent_at = now_ms();
	if ((rc = write_header(&hb, h)) != SOTTO_OK) {
		if (rc == SOTTO_ERR_FORMAT)
			rc = SOTTO_ERR_INVALID_ARG;
		goto out;
	}

	while (bucket < content_len + 1)
		bucket *= 2;
	rc = SOTTO_ERR_NOMEM;
	if ((padded = malloc(bucket)) == NULL || (body = malloc(bucket + SC_AEAD_TAG)) == NULL)
		goto out;
	if (content_len > 0)
		memcpy(padded, content, content_len);
	if ((rc = sc_pad(&plen, padded, content_len, bucket, bucket)) != SOTTO_OK)
		goto out;
	rc = SOTTO_ERR_INTERNAL;
	if (plen != bucket)
		goto out;
	sc_random(key, sizeof(key));
	sc_aead_encrypt(body, padded, plen, hb.p, hb.len, zero_nonce, key);

	e.header = hb.p;
	e.header_len = hb.len;
	e.body = body;
	e.body_len = plen + SC_AEAD_TAG;
	e.sig = NULL;
	sign_message(m, &e);
	sc_sign(sig, m, sizeof(m), sender_sec);

	sbw_u16(&eb, (uint16_t)hb.len);
	sbw_put(&eb, hb.p, hb.len);
	sbw_u32(&eb, (uint32_t)e.body_len);
	sbw_put(&eb, body, e.body_len);
	sbw_put(&eb, sig, sizeof(sig));
	if ((rc = sbw_error(&eb)) != SOTTO_OK)
		goto out;

	wrap_info(info, hb.p, hb.len);
	for (i = 0; i < n_targets; i++) {
		w = wraps + i * ENV_WRAP_LEN;
		if ((rc = hpke_seal_base(w, w + HPKE_ENC_LEN, targets[i].enc_pub, info, sizeof(info),
		    targets[i].device_id, SC_DEVICE_ID, key, sizeof(key))) != SOTTO_OK)
			goto out;
	}
	*envelope = sbw_steal(&eb, envelope_len);
	rc = SOTTO_OK;
out:
	sc_wipe(key, sizeof(key));
	if (padded != NULL) {
		sc_wipe(padded, bucket);
		free(padded);
	}
	free(body);
	sbw_free(&hb);
	sbw_free(&eb);
	if (rc != SOTTO_OK) {
		memcpy(h->msg_id, saved_id, sizeof(saved_id));
		h->sent_at = saved_sent_at;
		if (wraps != NULL && n_targets > 0 &&
		    n_targets <= (size_t)SOTTO_MAX_RECIPIENTS * SOTTO_MAX_DEVICES + SOTTO_MAX_DEVICES)
			memset(wraps, 0, n_targets * ENV_WRAP_LEN);
	}
	return rc;
}

/* A recipient, or the sender's own other device (it shows what was sent). */
static int
is_recipient(const env_header *h, const char *my_handle,
    const uint8_t my_device_id[static SC_DEVICE_ID])
{
	size_t i;

	for (i = 0; i < h->n_recipients; i++)
		if (strcmp(h->recipients[i], my_handle) == 0)
			return 1;
	return strcmp(h->sender, my_handle) == 0 &&
	    !sc_memeq(h->sender_device, my_device_id, SC_DEVICE_ID);
}

int
env_open(env_header *h, uint8_t **content, size_t *content_len,
    const uint8_t *envelope, size_t envelope_len, const uint8_t *wrap, size_t wrap_len,
    const uint8_t sender_sig_pub[static SC_SIGN_PUB], const char *my_handle,
    const uint8_t my_device_id[static SC_DEVICE_ID], const uint8_t my_enc_sec[static SC_KX_SEC])
{
	uint8_t key[SC_AEAD_KEY], id[SC_DEVICE_ID];
	uint8_t m[ENV_SIGN_MSG_LEN], info[ENV_WRAP_INFO_LEN];
	uint8_t *plain = NULL;
	size_t plen = 0, ulen;
	env_parts e;
	int rc;

	*content = NULL;
	*content_len = 0;
	memset(key, 0, sizeof(key));
	if ((rc = parse_envelope(h, &e, envelope, envelope_len)) != SOTTO_OK)
		goto out;

	/*
	 * Verify before anything is decrypted: a re-signed or mauled envelope must
	 * never reach the AEAD (the 2016 iMessage attack). The key must also be the
	 * one of the device the header names, so a valid signature by another of the
	 * sender's devices cannot stand in for it.
	 */
	rc = SOTTO_ERR_BAD_SIGNATURE;
	sc_device_id(id, sender_sig_pub);
	if (!sc_memeq(id, h->sender_device, SC_DEVICE_ID))
		goto out;
	sign_message(m, &e);
	if (sc_verify(e.sig, m, sizeof(m), sender_sig_pub) != SOTTO_OK)
		goto out;

	rc = SOTTO_ERR_NOT_RECIPIENT;
	if (my_handle == NULL || !is_recipient(h, my_handle, my_device_id))
		goto out;

	rc = SOTTO_ERR_FORMAT;
	if (wrap == NULL || wrap_len != ENV_WRAP_LEN)
		goto out;
	wrap_info(info, e.header, e.header_len);
	rc = SOTTO_ERR_DECRYPT;
	if (hpke_open_base(key, wrap, my_enc_sec, info, sizeof(info), my_device_id, SC_DEVICE_ID,
	    wrap + HPKE_ENC_LEN, ENV_WRAP_LEN - HPKE_ENC_LEN) != SOTTO_OK)
		goto out;

	plen = e.body_len - SC_AEAD_TAG;
	rc = SOTTO_ERR_NOMEM;
	if ((plain = malloc(plen)) == NULL)
		goto out;
	rc = SOTTO_ERR_DECRYPT;
	if (sc_aead_decrypt(plain, e.body, e.body_len, e.header, e.header_len, zero_nonce, key) != SOTTO_OK)
		goto out;
	rc = SOTTO_ERR_FORMAT;
	if (sc_unpad(&ulen, plain, plen, plen) != SOTTO_OK || ulen > SOTTO_MAX_BODY)
		goto out;
	/* ulen < plen: the byte after the content is the padding marker */
	plain[ulen] = '\0';
	*content = plain;
	*content_len = ulen;
	plain = NULL;
	rc = SOTTO_OK;
out:
	sc_wipe(key, sizeof(key));
	if (plain != NULL) {
		sc_wipe(plain, plen);
		free(plain);
	}
	if (rc != SOTTO_OK)
		memset(h, 0, sizeof(*h));
	return rc;
}
