/* SPDX-License-Identifier: ISC */
/*
 * The wire, shared by sottod and libsotto: one protobuf Frame per WebSocket
 * binary message (proto/sotto.proto). wire_decode is the only place a frame from
 * the network is unpacked; it enforces the frame cap and the fixed lengths of
 * ids, keys, nonces and signatures, so code above it may rely on them.
 */
#ifndef SOTTO_WIRE_H
#define SOTTO_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "sotto.pb-c.h"

typedef Sotto__Wire__Frame wire_frame;

#define WIRE_SUBPROTOCOL "sotto.v1"
#define WIRE_PROTOCOL_VERSION 1
#define WIRE_NONCE_LEN 32
#define WIRE_AUTH_LABEL "sotto-auth-v1"
#define WIRE_RENDEZVOUS_LEN 16	/* LinkPost/LinkGet rendezvous id */
#define WIRE_LINK_OFFER 0	/* LinkPost/LinkGet slots */
#define WIRE_LINK_ANSWER 1
#define WIRE_LINK_PICKUP 2	/* the new device: "I hold the answer" */

/* Unpack and validate a frame of at most max bytes. *out: caller frees with
 * wire_free. SOTTO_ERR_TOO_LARGE, SOTTO_ERR_FORMAT. */
int wire_decode(wire_frame **out, const uint8_t *p, size_t n, size_t max)
    __attribute__((warn_unused_result));
void wire_free(wire_frame *f);

/* Pack f into a new buffer with `headroom` free bytes before the frame (for
 * LWS_PRE). *out: caller frees with free(); frame bytes start at *out + headroom. */
int wire_encode(const wire_frame *f, size_t headroom, uint8_t **out, size_t *n)
    __attribute__((warn_unused_result));

/* The encoded size of f, and f packed into exactly that many bytes at dst
 * (the caller owns dst; no allocation): for a sender that frames many
 * messages into one buffer. wire_pack: SOTTO_ERR_TOO_LARGE past
 * SOTTO_MAX_FRAME, SOTTO_ERR_INTERNAL if len is not wire_size(f). */
size_t wire_size(const wire_frame *f);
int wire_pack(const wire_frame *f, uint8_t *dst, size_t len) __attribute__((warn_unused_result));

/* Map a wire status to a sotto_err, and back. */
int wire_status_to_err(Sotto__Wire__Status st);
Sotto__Wire__Status wire_err_to_status(int err);

/* The bytes a device signs to authenticate (AuthRequest and RegisterRequest):
 * "sotto-auth-v1" || 0x00 || pin (32) || nonce (32) || handle.
 * buf must hold WIRE_AUTH_MSG_MAX bytes; returns the length. */
#define WIRE_AUTH_MSG_MAX (sizeof(WIRE_AUTH_LABEL) + 32 + WIRE_NONCE_LEN + 64)
size_t wire_auth_message(uint8_t *buf, const uint8_t pin[32], const uint8_t nonce[WIRE_NONCE_LEN],
    const char *handle);

/* 1 if h is a valid handle: 1..SOTTO_MAX_HANDLE bytes of [a-z0-9._-], not
 * starting with '.' or '-'. */
int handle_valid(const char *h);

#endif
