/* SPDX-License-Identifier: ISC */
#include "sotto/error.h"

const char *
sotto_strerror(int err)
{
	switch ((sotto_err)err) {
	case SOTTO_OK: return "success";
	case SOTTO_ERR_INTERNAL: return "internal error";
	case SOTTO_ERR_NOMEM: return "out of memory";
	case SOTTO_ERR_INVALID_ARG: return "invalid argument";
	case SOTTO_ERR_TRUNCATED: return "input truncated";
	case SOTTO_ERR_TRAILING: return "unexpected trailing data";
	case SOTTO_ERR_TOO_LARGE: return "length or count too large";
	case SOTTO_ERR_FORMAT: return "invalid format";
	case SOTTO_ERR_VERSION: return "unsupported version";
	case SOTTO_ERR_CRYPTO: return "cryptographic operation failed";
	case SOTTO_ERR_BAD_SIGNATURE: return "signature verification failed";
	case SOTTO_ERR_DECRYPT: return "decryption failed (message altered or not for this device)";
	case SOTTO_ERR_NOT_RECIPIENT: return "message is not addressed to this account";
	case SOTTO_ERR_REPLAY: return "message already received (replay)";
	case SOTTO_ERR_UNKNOWN_DEVICE: return "sender device is not in its verified device list";
	case SOTTO_ERR_CHAIN: return "device list does not chain to the verified one";
	case SOTTO_ERR_PASSPHRASE: return "wrong passphrase";
	case SOTTO_ERR_IO: return "I/O error";
	case SOTTO_ERR_DB: return "database error";
	case SOTTO_ERR_TLS: return "TLS error";
	case SOTTO_ERR_PIN: return "server key does not match the pinned key";
	case SOTTO_ERR_NETWORK: return "network error";
	case SOTTO_ERR_TIMEOUT: return "timed out";
	case SOTTO_ERR_PROTOCOL: return "protocol error";
	case SOTTO_ERR_NO_SUCH_HANDLE: return "no such handle";
	case SOTTO_ERR_MAILBOX_FULL: return "recipient mailbox is full";
	case SOTTO_ERR_INVITE: return "invite code is invalid or already used";
	case SOTTO_ERR_HANDLE_TAKEN: return "handle is already registered";
	case SOTTO_ERR_STALE: return "device lists changed; refetch needed";
	case SOTTO_ERR_RATE_LIMITED: return "rate limited";
	case SOTTO_ERR_UNAUTHENTICATED: return "not authenticated";
	case SOTTO_ERR_FORBIDDEN: return "forbidden";
	case SOTTO_ERR_EXISTS: return "already exists";
	case SOTTO_ERR_NOT_FOUND: return "not found";
	case SOTTO_ERR_PERMISSIONS: return "secret file has unsafe permissions";
	case SOTTO_ERR_IDENTITY_RESET: return "contact's identity was reset; run `sotto trust` after checking";
	case SOTTO_ERR_UNTRUSTED: return "refused: not trusted";
	case SOTTO_ERR_SERVER: return "server error";
	case SOTTO_ERR_DEVICE_TAKEN: return "a device in the list belongs to another account";
	case SOTTO_ERR_BAD_KEY: return "a device list holds an unusable key (low order or not canonical)";
	case SOTTO_ERR_SHARE_FULL: return "this account's share of the recipient's mailbox is full "
	    "(until they receive)";
	case SOTTO_ERR_QUOTA: return "this account's storage quota on the server is full "
	    "(until recipients receive)";
	}
	return "unknown error";
}
