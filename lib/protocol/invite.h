/* SPDX-License-Identifier: ISC */
/*
 * Invite codes: "sotto1-" then unpadded base64url of
 *   u8 format (1) | pin (32) | secret (16) | u8 len | address (HOST:PORT) | u8 len | handle
 * The server keeps only SHA-256(secret), bound to the handle, single use.
 */
#ifndef SOTTO_INVITE_H
#define SOTTO_INVITE_H

#include <stddef.h>
#include <stdint.h>

#include "caps.h"

#define INVITE_PREFIX "sotto1-"
#define INVITE_SECRET_LEN 16

typedef struct invite {
	uint8_t pin[32];
	uint8_t secret[INVITE_SECRET_LEN];
	char address[SOTTO_MAX_ADDRESS + 1];
	char handle[SOTTO_MAX_HANDLE + 1];
} invite;

/* out holds SOTTO_MAX_INVITE + 1 bytes. */
int invite_encode(const invite *inv, char *out, size_t outmax) __attribute__((warn_unused_result));
/* SOTTO_ERR_FORMAT on anything but a well-formed code; inv cleared on failure. */
int invite_decode(invite *inv, const char *code) __attribute__((warn_unused_result));
/* The secret as the client sends it (base64url, 22 chars + NUL). */
void invite_secret_text(char out[static 23], const uint8_t secret[static INVITE_SECRET_LEN]);

#endif
