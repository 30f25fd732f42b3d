/* SPDX-License-Identifier: ISC */
#include <string.h>

#include "buf.h"
#include "crypto.h"
#include "invite.h"
#include "sotto/error.h"
#include "wire.h"

#define INVITE_FORMAT 1
#define INVITE_MAX_RAW (1 + 32 + INVITE_SECRET_LEN + 1 + SOTTO_MAX_ADDRESS + 1 + SOTTO_MAX_HANDLE)

int
invite_encode(const invite *inv, char *out, size_t outmax)
{
	sbuf b;
	int rc;

	sbw_init(&b, INVITE_MAX_RAW);
	sbw_u8(&b, INVITE_FORMAT);
	sbw_put(&b, inv->pin, 32);
	sbw_put(&b, inv->secret, INVITE_SECRET_LEN);
	sbw_str8(&b, inv->address, strlen(inv->address));
	sbw_str8(&b, inv->handle, strlen(inv->handle));
	if ((rc = sbw_error(&b)) != SOTTO_OK)
		goto out;
	rc = SOTTO_ERR_TOO_LARGE;
	if (outmax < sizeof(INVITE_PREFIX) - 1 + sc_b64_len(b.len))
		goto out;
	memcpy(out, INVITE_PREFIX, sizeof(INVITE_PREFIX) - 1);
	sc_b64(out + sizeof(INVITE_PREFIX) - 1, outmax - (sizeof(INVITE_PREFIX) - 1), b.p, b.len);
	rc = SOTTO_OK;
out:
	sbw_free(&b);
	return rc;
}

int
invite_decode(invite *inv, const char *code)
{
	uint8_t raw[INVITE_MAX_RAW];
	const uint8_t *addr, *handle;
	size_t rawlen, alen, hlen, clen;
	sbuf_reader r;
	uint8_t fmt;
	int rc = SOTTO_ERR_FORMAT;

	memset(inv, 0, sizeof(*inv));
	clen = strnlen(code, SOTTO_MAX_INVITE + 1);
	if (clen > SOTTO_MAX_INVITE || clen < sizeof(INVITE_PREFIX) - 1 ||
	    memcmp(code, INVITE_PREFIX, sizeof(INVITE_PREFIX) - 1) != 0)	/* not secret: the public prefix */
		goto out;
	if (sc_unb64(raw, sizeof(raw), &rawlen, code + sizeof(INVITE_PREFIX) - 1,
	    clen - (sizeof(INVITE_PREFIX) - 1)) != SOTTO_OK)
		goto out;
	sbr_init(&r, raw, rawlen);
	if (sbr_u8(&r, &fmt) != SOTTO_OK || fmt != INVITE_FORMAT ||
	    sbr_copy(&r, inv->pin, 32) != SOTTO_OK ||
	    sbr_copy(&r, inv->secret, INVITE_SECRET_LEN) != SOTTO_OK ||
	    sbr_str8(&r, SOTTO_MAX_ADDRESS, &addr, &alen) != SOTTO_OK || alen == 0 ||
	    sbr_str8(&r, SOTTO_MAX_HANDLE, &handle, &hlen) != SOTTO_OK ||
	    sbr_done(&r) != SOTTO_OK)
		goto out;
	memcpy(inv->address, addr, alen);
	memcpy(inv->handle, handle, hlen);
	/* A NUL inside either field would decode to a shorter string than was sent. */
	if (memchr(inv->address, '\0', alen) != NULL || memchr(inv->handle, '\0', hlen) != NULL ||
	    !handle_valid(inv->handle))
		goto out;
	rc = SOTTO_OK;
out:
	sc_wipe(raw, sizeof(raw));
	if (rc != SOTTO_OK)
		sc_wipe(inv, sizeof(*inv));
	return rc;
}

void
invite_secret_text(char out[static 23], const uint8_t secret[static INVITE_SECRET_LEN])
{
	sc_b64(out, 23, secret, INVITE_SECRET_LEN);
}
