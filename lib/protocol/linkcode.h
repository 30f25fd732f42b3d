/* SPDX-License-Identifier: ISC */
/*
 * Linking a new device (docs/PROTOCOL.md, "Linking"): the link code and the two
 * blobs the devices exchange through the server's rendezvous.
 *
 * link code = base64url(rendezvous id (16) || secret (16)), 43 characters, shown on
 *             the new device and typed on the approving one. The server sees only
 *             the rendezvous id.
 * mac_key   = HKDF-SHA256(salt "sotto-link-v1", ikm secret, info "mac" || rid)
 * MAC       = HMAC-SHA256(mac_key, label || 0x00 || rid || body)
 * offer     = "SLO1" || str8 handle || str8 name || sig_pub (32) || enc_pub (32) || MAC,
 *             label "sotto-link-offer-v1"  (new device -> approver)
 * answer    = "SLA1" || account_pub (32) || u64 version || SHA-256(signed list) || MAC,
 *             label "sotto-link-answer-v1" (approver -> new device)
 * pickup    = "SLP1" || SHA-256(signed list) || MAC, label "sotto-link-pickup-v1"
 *             (new device -> approver: it holds the answer and still has its
 *             keys; the approver publishes the list only after this)
 * Parsers check the MAC (constant time) before they read the body, and refuse
 * trailing bytes; outputs are zeroed on failure.
 */
#ifndef SOTTO_LINKCODE_H
#define SOTTO_LINKCODE_H

#include <stddef.h>
#include <stdint.h>

#include "caps.h"
#include "crypto.h"
#include "wire.h"

/* The link code: rendezvous id || secret, base64url. */
#define LINK_SECRET_LEN 16
#define LINK_CODE_RAW (WIRE_RENDEZVOUS_LEN + LINK_SECRET_LEN)
#define LINK_MAC_LEN SC_SHA256
#define LINK_OFFER_MAGIC "SLO1"
#define LINK_ANSWER_MAGIC "SLA1"
#define LINK_PICKUP_MAGIC "SLP1"
#define LINK_PICKUP_LABEL "sotto-link-pickup-v1"
#define LINK_OFFER_LABEL "sotto-link-offer-v1"
#define LINK_ANSWER_LABEL "sotto-link-answer-v1"
#define LINK_HKDF_SALT "sotto-link-v1"
#define LINK_CODE_TEXT_LEN 43

/* The new device's offer, as posted under the rendezvous id. */
typedef struct link_offer {
	char handle[SOTTO_MAX_HANDLE + 1];
	char name[SOTTO_MAX_DEVICE_NAME + 1];
	uint8_t sig_pub[SC_SIGN_PUB];
	uint8_t enc_pub[SC_KX_PUB];
} link_offer;

/* The approver's answer: which account, and which signed list holds the device. */
typedef struct link_answer {
	uint8_t account_pub[SC_SIGN_PUB];
	uint64_t version;
	uint8_t list_hash[SC_SHA256];
} link_answer;

/* out holds LINK_CODE_TEXT_LEN + 1 bytes. */
void link_code_encode(char *out, const uint8_t rid[static WIRE_RENDEZVOUS_LEN],
    const uint8_t secret[static LINK_SECRET_LEN]);
/* SOTTO_ERR_FORMAT unless code is exactly a well-formed link code. */
int link_code_decode(const char *code, uint8_t rid[static WIRE_RENDEZVOUS_LEN],
    uint8_t secret[static LINK_SECRET_LEN]) __attribute__((warn_unused_result));
/* The MAC key of a rendezvous; the caller wipes it. */
int link_mac_key(uint8_t key[static SC_SHA256], const uint8_t rid[static WIRE_RENDEZVOUS_LEN],
    const uint8_t secret[static LINK_SECRET_LEN]) __attribute__((warn_unused_result));
/* Encoders: *out caller frees with free(). */
int link_offer_encode(const link_offer *o, const uint8_t key[static SC_SHA256],
    const uint8_t rid[static WIRE_RENDEZVOUS_LEN], uint8_t **out, size_t *n)
    __attribute__((warn_unused_result));
int link_answer_encode(const link_answer *a, const uint8_t key[static SC_SHA256],
    const uint8_t rid[static WIRE_RENDEZVOUS_LEN], uint8_t **out, size_t *n)
    __attribute__((warn_unused_result));
/* SOTTO_ERR_BAD_SIGNATURE if the MAC does not verify, SOTTO_ERR_FORMAT and the
 * reader's errors for a malformed body. */
int link_offer_parse(link_offer *o, const uint8_t *p, size_t n, const uint8_t key[static SC_SHA256],
    const uint8_t rid[static WIRE_RENDEZVOUS_LEN]) __attribute__((warn_unused_result));
int link_answer_parse(link_answer *a, const uint8_t *p, size_t n, const uint8_t key[static SC_SHA256],
    const uint8_t rid[static WIRE_RENDEZVOUS_LEN]) __attribute__((warn_unused_result));
/* The pickup names the list the answer named (its hash). */
int link_pickup_encode(const uint8_t list_hash[static SC_SHA256], const uint8_t key[static SC_SHA256],
    const uint8_t rid[static WIRE_RENDEZVOUS_LEN], uint8_t **out, size_t *n)
    __attribute__((warn_unused_result));
int link_pickup_parse(uint8_t list_hash[static SC_SHA256], const uint8_t *p, size_t n,
    const uint8_t key[static SC_SHA256], const uint8_t rid[static WIRE_RENDEZVOUS_LEN])
    __attribute__((warn_unused_result));

#endif
