/* SPDX-License-Identifier: ISC */
/*
 * One error vocabulary for all of libsotto, sottod and sotto.
 * 0 is success; every failure is a negative sotto_err. Programs turn codes into
 * words at the edge with sotto_strerror(); the library never prints.
 */
#ifndef SOTTO_ERROR_H
#define SOTTO_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum sotto_err {
	SOTTO_OK = 0,
	SOTTO_ERR_INTERNAL = -1,	/* a bug or an impossible state */
	SOTTO_ERR_NOMEM = -2,		/* allocation failed */
	SOTTO_ERR_INVALID_ARG = -3,	/* API misuse or bad user argument */
	SOTTO_ERR_TRUNCATED = -4,	/* input ended before a field did */
	SOTTO_ERR_TRAILING = -5,	/* bytes left over after a complete parse */
	SOTTO_ERR_TOO_LARGE = -6,	/* a length or count above its named cap */
	SOTTO_ERR_FORMAT = -7,		/* malformed input */
	SOTTO_ERR_VERSION = -8,		/* unsupported format or protocol version */
	SOTTO_ERR_CRYPTO = -9,		/* a primitive refused (bad point, rng) */
	SOTTO_ERR_BAD_SIGNATURE = -10,	/* signature did not verify */
	SOTTO_ERR_DECRYPT = -11,	/* AEAD tag did not verify */
	SOTTO_ERR_NOT_RECIPIENT = -12,	/* message does not name this device/handle */
	SOTTO_ERR_REPLAY = -13,		/* message id already seen */
	SOTTO_ERR_UNKNOWN_DEVICE = -14,	/* device not in the verified device list */
	SOTTO_ERR_CHAIN = -15,		/* device list not chained to the last verified */
	SOTTO_ERR_PASSPHRASE = -16,	/* wrong passphrase */
	SOTTO_ERR_IO = -17,		/* file or socket I/O failed */
	SOTTO_ERR_DB = -18,		/* database error */
	SOTTO_ERR_TLS = -19,		/* TLS handshake or setup failed */
	SOTTO_ERR_PIN = -20,		/* server key does not match the pin */
	SOTTO_ERR_NETWORK = -21,	/* could not connect, or connection lost */
	SOTTO_ERR_TIMEOUT = -22,	/* no answer in time */
	SOTTO_ERR_PROTOCOL = -23,	/* peer broke the wire protocol */
	SOTTO_ERR_NO_SUCH_HANDLE = -24,	/* handle is not registered */
	SOTTO_ERR_MAILBOX_FULL = -25,	/* a recipient device's queue is at its cap */
	SOTTO_ERR_INVITE = -26,		/* invite code invalid, used or expired */
	SOTTO_ERR_HANDLE_TAKEN = -27,	/* handle already registered */
	SOTTO_ERR_STALE = -28,		/* device lists used for a send are outdated */
	SOTTO_ERR_RATE_LIMITED = -29,	/* too many requests */
	SOTTO_ERR_UNAUTHENTICATED = -30,/* request needs an authenticated device */
	SOTTO_ERR_FORBIDDEN = -31,	/* authenticated, but not allowed */
	SOTTO_ERR_EXISTS = -32,		/* already exists (e.g. home already set up) */
	SOTTO_ERR_NOT_FOUND = -33,	/* no such item */
	SOTTO_ERR_PERMISSIONS = -34,	/* a secret file is readable by others */
	SOTTO_ERR_IDENTITY_RESET = -35,	/* contact's identity reset; needs `trust` */
	SOTTO_ERR_UNTRUSTED = -36,	/* refused until the user decides */
	SOTTO_ERR_SERVER = -37,		/* server reported an internal error */
	SOTTO_ERR_DEVICE_TAKEN = -38,	/* a listed device belongs to another account */
	SOTTO_ERR_BAD_KEY = -39,	/* a key in a device list is low-order or not canonical */
	SOTTO_ERR_SHARE_FULL = -40,	/* this account's share of a recipient device's queue is full */
	SOTTO_ERR_QUOTA = -41,		/* this account's stored copies hold its byte quota */
} sotto_err;

/* Static string for an error code; never NULL. */
const char *sotto_strerror(int err);

#ifdef __cplusplus
}
#endif
#endif
