/* SPDX-License-Identifier: ISC */
/*
 * sotto_forge: what a hostile server could write into its own database, for
 * the integration tests of tests/integration/hostile_*.sh. It forges device
 * lists without any key of the account (it has none): the clients must catch
 * every one. Lists go in and out as hex, as sqlite3 shows and takes them.
 *
 *   sotto_forge next HEX [--add NAME] [--drop ID] [--signer ID]
 *       the version after HEX (chained by prev_hash), with a phantom device
 *       added and/or a device dropped, signed by a fresh key; --signer puts
 *       ID in the signer field (the signature then does not verify);
 *       --account-code CODE signs with the account key of that recovery code
 *       instead (a stolen recovery code)
 *   sotto_forge same HEX [--add NAME] [--drop ID] [--signer ID]
 *       the same version as HEX, edited the same way (a fork)
 *   sotto_forge account HANDLE [HEX]
 *       version 1 of a brand-new account under HANDLE (a different account key);
 *       with HEX, holding HEX's devices (their public keys: the real devices
 *       still authenticate) instead of a phantom
 *   sotto_forge ids HEX
 *       the device ids of HEX, one a line, then "version N"
 *   sotto_forge pickup CODE
 *       "RID BLOB" (hex): a pickup for the rendezvous of link code CODE, made
 *       with its key but naming a list nobody approved (a random hash), as
 *       someone who holds the code could post
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "devicelist.h"
#include "linkcode.h"
#include "sotto/error.h"

static int
die(const char *what)
{
	fprintf(stderr, "sotto_forge: %s\n", what);
	return 1;
}

static int
unhex_list(const char *hex, uint8_t **p, size_t *n)
{
	size_t len = strlen(hex);

	if ((*p = malloc(len / 2 + 1)) == NULL)
		return -1;
	if (sc_unhex(*p, len / 2 + 1, n, hex, len) != SOTTO_OK)
		return -1;
	return 0;
}

static void
print_hex(const uint8_t *p, size_t n)
{
	char *h = malloc(n * 2 + 1);

	if (h == NULL)
		exit(1);
	sc_hex(h, p, n);
	printf("%s\n", h);
	free(h);
}

/* A device with fresh keys nobody in the account holds. */
static void
phantom(dl_device *d, const char *name, uint64_t at)
{
	uint8_t sec[SC_SIGN_SEC], kx[SC_KX_SEC];

	memset(d, 0, sizeof(*d));
	sc_sign_keypair(d->sig_pub, sec);
	sc_kx_keypair(d->enc_pub, kx);
	sc_device_id(d->id, d->sig_pub);
	snprintf(d->name, sizeof(d->name), "%s", name);
	d->added_at = at;
}

static int
cmd_edit(int next, int argc, char **argv)
{
	static dl_list l;
	uint8_t *in = NULL, *out = NULL, sec[SC_SIGN_SEC], pub[SC_SIGN_PUB], id[SC_DEVICE_ID];
	uint8_t signer[SC_DEVICE_ID];
	size_t n = 0, outlen = 0, k;
	const char *add = NULL, *drop = NULL, *signer_hex = NULL, *code = NULL;

	if (argc < 3 || unhex_list(argv[2], &in, &n) != 0 || dl_parse(&l, in, n) != SOTTO_OK)
		return die("not a device list");
	for (int i = 3; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--add") == 0)
			add = argv[i + 1];
		else if (strcmp(argv[i], "--drop") == 0)
			drop = argv[i + 1];
		else if (strcmp(argv[i], "--signer") == 0)
			signer_hex = argv[i + 1];
		else if (strcmp(argv[i], "--account-code") == 0)
			code = argv[i + 1];
		else
			return die("unknown option");
	}
	if (next) {
		dl_hash(l.prev_hash, in, n);
		l.version++;
	}
	if (l.version < 2)
		return die("version 1 cannot be edited: use `account`");
	l.created_at++;
	if (drop != NULL) {
		if (sc_unhex(id, sizeof(id), &k, drop, strlen(drop)) != SOTTO_OK || k != SC_DEVICE_ID)
			return die("bad --drop id");
		for (size_t i = 0, j = 0; i < l.n_devices; i++)
			if (memcmp(l.devices[i].id, id, SC_DEVICE_ID) != 0)	/* not secret: device ids are public */
				l.devices[j++] = l.devices[i];
			else
				k = 0;
		if (k != 0)
			return die("--drop: no such device");
		l.n_devices--;
	}
	if (add != NULL) {
		if (l.n_devices >= SOTTO_MAX_DEVICES)
			return die("list full");
		phantom(&l.devices[l.n_devices++], add, l.created_at);
	}
	if (code != NULL) {
		uint8_t seed[SC_SIGN_SEED + 8];

		if (sc_unb64(seed, sizeof(seed), &k, code, strlen(code)) != SOTTO_OK || k != SC_SIGN_SEED ||
		    sc_sign_seed_keypair(pub, sec, seed) != SOTTO_OK || dl_sign_account(&l, sec, &out,
		    &outlen) != SOTTO_OK)
			return die("cannot sign with that recovery code");
	} else {
		sc_sign_keypair(pub, sec);
		sc_device_id(id, pub);
		if (dl_sign_device(&l, id, sec, &out, &outlen) != SOTTO_OK)
			return die("cannot sign");
	}
	if (signer_hex != NULL) {
		if (sc_unhex(signer, sizeof(signer), &k, signer_hex, strlen(signer_hex)) != SOTTO_OK ||
		    k != SC_DEVICE_ID)
			return die("bad --signer id");
		memcpy(out + outlen - SC_SIG - SC_DEVICE_ID, signer, SC_DEVICE_ID);
	}
	print_hex(out, outlen);
	free(in);
	free(out);
	return 0;
}

static int
cmd_account(const char *handle, const char *devices_hex)
{
	static dl_list l, from;
	uint8_t sec[SC_SIGN_SEC], *in = NULL, *out = NULL;
	size_t n = 0, outlen = 0;

	memset(&l, 0, sizeof(l));
	snprintf(l.handle, sizeof(l.handle), "%s", handle);
	sc_sign_keypair(l.account_pub, sec);
	l.version = 1;
	l.created_at = 1;
	l.n_devices = 1;
	phantom(&l.devices[0], "device", 1);
	if (devices_hex != NULL) {
		if (unhex_list(devices_hex, &in, &n) != 0 || dl_parse(&from, in, n) != SOTTO_OK)
			return die("not a device list");
		free(in);
		l.n_devices = from.n_devices;
		memcpy(l.devices, from.devices, sizeof(l.devices));
		for (size_t i = 0; i < l.n_devices; i++)
			memset(l.devices[i].approved_by, 0, SC_DEVICE_ID);
	}
	if (dl_sign_account(&l, sec, &out, &outlen) != SOTTO_OK)
		return die("cannot sign");
	print_hex(out, outlen);
	free(out);
	return 0;
}

static int
cmd_ids(const char *hex)
{
	static dl_list l;
	uint8_t *in = NULL;
	char id[SC_DEVICE_ID * 2 + 1];
	size_t n = 0;

	if (unhex_list(hex, &in, &n) != 0 || dl_parse(&l, in, n) != SOTTO_OK)
		return die("not a device list");
	for (size_t i = 0; i < l.n_devices; i++) {
		sc_hex(id, l.devices[i].id, SC_DEVICE_ID);
		printf("%s\n", id);
	}
	printf("version %llu\n", (unsigned long long)l.version);
	free(in);
	return 0;
}

static int
cmd_pickup(const char *code)
{
	uint8_t rid[WIRE_RENDEZVOUS_LEN], secret[LINK_SECRET_LEN], key[SC_SHA256], hash[SC_SHA256];
	uint8_t *blob = NULL;
	char ridhex[WIRE_RENDEZVOUS_LEN * 2 + 1];
	size_t n = 0;

	if (link_code_decode(code, rid, secret) != SOTTO_OK || link_mac_key(key, rid, secret) != SOTTO_OK)
		return die("not a link code");
	sc_random(hash, sizeof(hash));
	if (link_pickup_encode(hash, key, rid, &blob, &n) != SOTTO_OK)
		return die("cannot make the pickup");
	sc_hex(ridhex, rid, sizeof(rid));
	printf("%s ", ridhex);
	print_hex(blob, n);
	free(blob);
	return 0;
}

int
main(int argc, char **argv)
{
	if (sc_init() != SOTTO_OK)
		return die("sc_init");
	if (argc >= 3 && strcmp(argv[1], "next") == 0)
		return cmd_edit(1, argc, argv);
	if (argc >= 3 && strcmp(argv[1], "same") == 0)
		return cmd_edit(0, argc, argv);
	if ((argc == 3 || argc == 4) && strcmp(argv[1], "account") == 0)
		return cmd_account(argv[2], argc == 4 ? argv[3] : NULL);
	if (argc == 3 && strcmp(argv[1], "ids") == 0)
		return cmd_ids(argv[2]);
	if (argc == 3 && strcmp(argv[1], "pickup") == 0)
		return cmd_pickup(argv[2]);
	fprintf(stderr, "usage: sotto_forge next|same HEX [--add NAME] [--drop ID] [--signer ID]\n"
	    "       sotto_forge account HANDLE [HEX]\n       sotto_forge ids HEX\n"
	    "       sotto_forge pickup CODE\n");
	return 2;
}
