/* SPDX-License-Identifier: ISC */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "hkdf.h"
#include "linkcode.h"
#include "sotto/error.h"

_Static_assert(LINK_CODE_TEXT_LEN == 43, "43 base64url characters hold 32 bytes");

void
link_code_encode(char *out, const uint8_t rid[static WIRE_RENDEZVOUS_LEN],
    const uint8_t secret[static LINK_SECRET_LEN])
{
	uint8_t raw[LINK_CODE_RAW];

	memcpy(raw, rid, WIRE_RENDEZVOUS_LEN);
	memcpy(raw + WIRE_RENDEZVOUS_LEN, secret, LINK_SECRET_LEN);
	sc_b64(out, LINK_CODE_TEXT_LEN + 1, raw, sizeof(raw));
	sc_wipe(raw, sizeof(raw));
}

int
link_code_decode(const char *code, uint8_t rid[static WIRE_RENDEZVOUS_LEN],
    uint8_t secret[static LINK_SECRET_LEN])
{
	uint8_t raw[LINK_CODE_RAW + 8];
	size_t n = 0;
	int r = SOTTO_ERR_FORMAT;

	if (code == NULL || strlen(code) != LINK_CODE_TEXT_LEN ||
	    sc_unb64(raw, sizeof(raw), &n, code, LINK_CODE_TEXT_LEN) != SOTTO_OK || n != LINK_CODE_RAW)
		goto out;
	memcpy(rid, raw, WIRE_RENDEZVOUS_LEN);
	memcpy(secret, raw + WIRE_RENDEZVOUS_LEN, LINK_SECRET_LEN);
	r = SOTTO_OK;
out:
	sc_wipe(raw, sizeof(raw));
	return r;
}

/* mac_key = HKDF-SHA256(salt "sotto-link-v1", ikm secret, info "mac" || rid). */
int
link_mac_key(uint8_t key[static SC_SHA256], const uint8_t rid[static WIRE_RENDEZVOUS_LEN],
    const uint8_t secret[static LINK_SECRET_LEN])
{
	uint8_t prk[SC_SHA256], info[3 + WIRE_RENDEZVOUS_LEN];
	int r;

	hkdf_sha256_extract(prk, (const uint8_t *)LINK_HKDF_SALT, strlen(LINK_HKDF_SALT), secret,
	    LINK_SECRET_LEN);
	memcpy(info, "mac", 3);
	memcpy(info + 3, rid, WIRE_RENDEZVOUS_LEN);
	r = hkdf_sha256_expand(key, SC_SHA256, prk, info, sizeof(info));
	sc_wipe(prk, sizeof(prk));
	return r;
}

/* HMAC-SHA256(key, label || 0x00 || rid || body). */
static void
link_mac(uint8_t out[static LINK_MAC_LEN], const uint8_t key[static SC_SHA256], const char *label,
    const uint8_t rid[static WIRE_RENDEZVOUS_LEN], const uint8_t *body, size_t n)
{
	sc_hmac_ctx h;

	sc_hmac_sha256_init(&h, key, SC_SHA256);
	sc_hmac_sha256_update(&h, label, strlen(label) + 1);
	sc_hmac_sha256_update(&h, rid, WIRE_RENDEZVOUS_LEN);
	sc_hmac_sha256_update(&h, body, n);
	sc_hmac_sha256_final(&h, out);
	sc_wipe(&h, sizeof(h));
}

/* Append the MAC of what b holds; *out caller frees. */
static int
seal_blob(sbuf *b, const uint8_t key[static SC_SHA256], const char *label,
    const uint8_t rid[static WIRE_RENDEZVOUS_LEN], uint8_t **out, size_t *n)
{
	uint8_t mac[LINK_MAC_LEN];
	int r;

	if ((r = sbw_error(b)) != SOTTO_OK)
		return r;
	link_mac(mac, key, label, rid, b->p, b->len);
	if ((r = sbw_put(b, mac, sizeof(mac))) != SOTTO_OK)
		return r;
	if ((*out = sbw_steal(b, n)) == NULL)
		return SOTTO_ERR_NOMEM;
	return SOTTO_OK;
}

/* Split blob into body and MAC and check the MAC in constant time. */
static int
open_blob(const uint8_t *p, size_t n, const uint8_t key[static SC_SHA256], const char *label,
    const uint8_t rid[static WIRE_RENDEZVOUS_LEN], size_t *body_len)
{
	uint8_t mac[LINK_MAC_LEN];

	if (n <= LINK_MAC_LEN || n > SOTTO_MAX_LINK_BLOB)
		return SOTTO_ERR_FORMAT;
	link_mac(mac, key, label, rid, p, n - LINK_MAC_LEN);
	if (!sc_memeq(mac, p + n - LINK_MAC_LEN, LINK_MAC_LEN))
		return SOTTO_ERR_BAD_SIGNATURE;
	*body_len = n - LINK_MAC_LEN;
	return SOTTO_OK;
}

/* offer = "SLO1" || str8 handle || str8 name || sig_pub || enc_pub || MAC */
int
link_offer_encode(const link_offer *o, const uint8_t key[static SC_SHA256],
    const uint8_t rid[static WIRE_RENDEZVOUS_LEN], uint8_t **out, size_t *n)
{
	sbuf b;
	int r;

	sbw_init(&b, SOTTO_MAX_LINK_BLOB);
	sbw_put(&b, LINK_OFFER_MAGIC, 4);
	sbw_str8(&b, o->handle, strlen(o->handle));
	sbw_str8(&b, o->name, strlen(o->name));
	sbw_put(&b, o->sig_pub, SC_SIGN_PUB);
	sbw_put(&b, o->enc_pub, SC_KX_PUB);
	r = seal_blob(&b, key, LINK_OFFER_LABEL, rid, out, n);
	sbw_free(&b);
	return r;
}

int
link_offer_parse(link_offer *o, const uint8_t *p, size_t n, const uint8_t key[static SC_SHA256],
    const uint8_t rid[static WIRE_RENDEZVOUS_LEN])
{
	sbuf_reader rd;
	const uint8_t *magic, *h, *nm;
	size_t body, hn, nn;
	int r;

	memset(o, 0, sizeof(*o));
	if ((r = open_blob(p, n, key, LINK_OFFER_LABEL, rid, &body)) != SOTTO_OK)
		return r;
	sbr_init(&rd, p, body);
	if ((r = sbr_ptr(&rd, 4, &magic)) != SOTTO_OK ||
	    (r = sbr_str8(&rd, SOTTO_MAX_HANDLE, &h, &hn)) != SOTTO_OK ||
	    (r = sbr_str8(&rd, SOTTO_MAX_DEVICE_NAME, &nm, &nn)) != SOTTO_OK ||
	    (r = sbr_copy(&rd, o->sig_pub, SC_SIGN_PUB)) != SOTTO_OK ||
	    (r = sbr_copy(&rd, o->enc_pub, SC_KX_PUB)) != SOTTO_OK || (r = sbr_done(&rd)) != SOTTO_OK)
		goto fail;
	r = SOTTO_ERR_FORMAT;
	if (memcmp(magic, LINK_OFFER_MAGIC, 4) != 0 || memchr(h, 0, hn) != NULL ||	/* not secret: a format tag */
	    memchr(nm, 0, nn) != NULL || nn == 0)
		goto fail;
	memcpy(o->handle, h, hn);
	memcpy(o->name, nm, nn);
	if (!handle_valid(o->handle))
		goto fail;
	return SOTTO_OK;
fail:
	memset(o, 0, sizeof(*o));
	return r;
}

/* answer = "SLA1" || account_pub || u64 version || SHA-256(signed list) || MAC */
int
link_answer_encode(const link_answer *a, const uint8_t key[static SC_SHA256],
    const uint8_t rid[static WIRE_RENDEZVOUS_LEN], uint8_t **out, size_t *n)
{
	sbuf b;
	int r;

	sbw_init(&b, SOTTO_MAX_LINK_BLOB);
	sbw_put(&b, LINK_ANSWER_MAGIC, 4);
	sbw_put(&b, a->account_pub, SC_SIGN_PUB);
	sbw_u64(&b, a->version);
	sbw_put(&b, a->list_hash, SC_SHA256);
	r = seal_blob(&b, key, LINK_ANSWER_LABEL, rid, out, n);
	sbw_free(&b);
	return r;
}

int
link_answer_parse(link_answer *a, const uint8_t *p, size_t n, const uint8_t key[static SC_SHA256],
    const uint8_t rid[static WIRE_RENDEZVOUS_LEN])
{
	sbuf_reader rd;
	const uint8_t *magic;
	size_t body;
	int r;

	memset(a, 0, sizeof(*a));
	if ((r = open_blob(p, n, key, LINK_ANSWER_LABEL, rid, &body)) != SOTTO_OK)
		return r;
	sbr_init(&rd, p, body);
	if ((r = sbr_ptr(&rd, 4, &magic)) != SOTTO_OK ||
	    (r = sbr_copy(&rd, a->account_pub, SC_SIGN_PUB)) != SOTTO_OK ||
	    (r = sbr_u64(&rd, &a->version)) != SOTTO_OK ||
	    (r = sbr_copy(&rd, a->list_hash, SC_SHA256)) != SOTTO_OK || (r = sbr_done(&rd)) != SOTTO_OK)
		goto fail;
	if (memcmp(magic, LINK_ANSWER_MAGIC, 4) != 0 || a->version < 2) {	/* not secret: a format tag */
		r = SOTTO_ERR_FORMAT;
		goto fail;
	}
	return SOTTO_OK;
fail:
	memset(a, 0, sizeof(*a));
	return r;
}

/* pickup = "SLP1" || SHA-256(signed list) || MAC */
int
link_pickup_encode(const uint8_t list_hash[static SC_SHA256], const uint8_t key[static SC_SHA256],
    const uint8_t rid[static WIRE_RENDEZVOUS_LEN], uint8_t **out, size_t *n)
{
	sbuf b;
	int r;

	sbw_init(&b, SOTTO_MAX_LINK_BLOB);
	sbw_put(&b, LINK_PICKUP_MAGIC, 4);
	sbw_put(&b, list_hash, SC_SHA256);
	r = seal_blob(&b, key, LINK_PICKUP_LABEL, rid, out, n);
	sbw_free(&b);
	return r;
}

int
link_pickup_parse(uint8_t list_hash[static SC_SHA256], const uint8_t *p, size_t n,
    const uint8_t key[static SC_SHA256], const uint8_t rid[static WIRE_RENDEZVOUS_LEN])
{
	sbuf_reader rd;
	const uint8_t *magic;
	size_t body;
	int r;

	memset(list_hash, 0, SC_SHA256);
	if ((r = open_blob(p, n, key, LINK_PICKUP_LABEL, rid, &body)) != SOTTO_OK)
		return r;
	sbr_init(&rd, p, body);
	if ((r = sbr_ptr(&rd, 4, &magic)) != SOTTO_OK || (r = sbr_copy(&rd, list_hash, SC_SHA256)) != SOTTO_OK ||
	    (r = sbr_done(&rd)) != SOTTO_OK)
		goto fail;
	if (memcmp(magic, LINK_PICKUP_MAGIC, 4) != 0) {	/* not secret: a format tag */
		r = SOTTO_ERR_FORMAT;
		goto fail;
	}
	return SOTTO_OK;
fail:
	memset(list_hash, 0, SC_SHA256);
	return r;
}
