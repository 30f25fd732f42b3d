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
 *   sotto_forge steal HOME HEX
 *       a registered user's attack (issue 11 item 1), not a server's: the
 *       account of HOME (an unprotected home) publishes its next list with
 *       the devices of HEX (another account's list: public keys only) added,
 *       then the next without them. Prints one line per publish, "publish
 *       N: ok" or "publish N: refused: TEXT"; exit 0 when both were taken.
 *   sotto_forge publish HOME HEX
 *       publish HEX as HOME's account, on its own authenticated connection;
 *       prints as steal does, exit 0 when taken
 *   sotto_forge steal-hex HOME HEX
 *       the two lists of steal, signed the same way, printed (one hex a
 *       line) rather than published: what a server before device ownership
 *       took and stored (tests/attack: a store migrated from then)
 *   sotto_forge bump HOME N
 *       N publishes in a row by HOME's device (an unprotected home), each
 *       the next version with the same devices: a thief's device spending
 *       the account's publish budget. Prints as steal does; exit 0 when
 *       every one was taken
 *   sotto_forge badkey HOME
 *       the next list of HOME's account (an unprotected home), validly signed
 *       by its device, adding a device whose X25519 key is of small order:
 *       what a server that skipped the key rules could hand out
 *   sotto_forge envelope HOME HEX SENT_AT TEXT
 *       a copy as a user could make it (issue 11 item 2): an envelope from the
 *       device in HOME (an unprotected home) to HEX's handle, validly signed,
 *       whatever SENT_AT is (any u64), with TEXT as content, wrapped for the
 *       first device of HEX; prints its msg id, that device's id, the
 *       envelope and the wrap, in hex, one a line
 *   sotto_forge pickup CODE
 *       "RID BLOB" (hex): a pickup for the rendezvous of link code CODE, made
 *       with its key but naming a list nobody approved (a random hash), as
 *       someone who holds the code could post
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "crypto.h"
#include "devicelist.h"
#include "linkcode.h"
#include "sotto/error.h"
#include "../unit/raw_envelope.h"

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

/* Publish p/n (version v) on c's connection; says what the server answered. */
static int
publish_raw(sotto_client *c, const uint8_t *p, size_t n, uint64_t v)
{
	Sotto__Wire__Frame f = SOTTO__WIRE__FRAME__INIT;
	Sotto__Wire__PublishDeviceListRequest pr = SOTTO__WIRE__PUBLISH_DEVICE_LIST_REQUEST__INIT;
	wire_frame *resp = NULL;
	int r;

	pr.device_list.data = (uint8_t *)p;
	pr.device_list.len = n;
	f.msg_case = SOTTO__WIRE__FRAME__MSG_PUBLISH_DEVICE_LIST;
	f.publish_device_list = &pr;
	r = conn_request(c->cn, &f, &resp);
	if (r == SOTTO_OK)
		printf("publish %llu: ok\n", (unsigned long long)v);
	else
		printf("publish %llu: refused: %s\n", (unsigned long long)v,
		    resp != NULL && resp->response->error != NULL ? resp->response->error : sotto_strerror(r));
	fflush(stdout);
	wire_free(resp);
	return r;
}

/* Sign l (the next version of the home's account) with its device and publish it. */
static int
steal_publish(sotto_client *c, dl_list *l)
{
	uint8_t *out = NULL;
	size_t n = 0;
	int r;

	if ((r = dl_sign_device(l, c->cfg.device_id, CLIENT_SIGN_SEC(c), &out, &n)) != SOTTO_OK)
		return r;
	r = publish_raw(c, out, n, l->version);
	free(out);
	return r;
}

static int
cmd_publish(const char *home, const char *hex)
{
	static dl_list l;
	sotto_client *c = NULL;
	uint8_t *in = NULL;
	size_t n = 0;
	int r;

	if (unhex_list(hex, &in, &n) != 0 || dl_parse(&l, in, n) != SOTTO_OK)
		return die("not a device list");
	if (sotto_open(&c, home, NULL) != SOTTO_OK || client_connect(c) != SOTTO_OK)
		return die("cannot open the home or reach its server");
	r = publish_raw(c, in, n, l.version);
	free(in);
	sotto_close(c);
	return r == SOTTO_OK ? 0 : 3;
}

static int
cmd_steal(const char *home, const char *hex)
{
	static dl_list victim, l;
	sotto_client *c = NULL;
	uint8_t *in = NULL, *cur = NULL;
	size_t n = 0, curlen = 0, mine;
	int r;

	if (unhex_list(hex, &in, &n) != 0 || dl_parse(&victim, in, n) != SOTTO_OK)
		return die("not a device list");
	if (sotto_open(&c, home, NULL) != SOTTO_OK || client_connect(c) != SOTTO_OK ||
	    cstore_list_latest(c->st, c->cfg.handle, &l, &cur, &curlen) != SOTTO_OK)
		return die("cannot open the home or reach its server");
	mine = l.n_devices;
	/* next: my devices and the victim's */
	dl_hash(l.prev_hash, cur, curlen);
	l.version++;
	l.created_at++;
	for (size_t i = 0; i < victim.n_devices && l.n_devices < SOTTO_MAX_DEVICES; i++)
		l.devices[l.n_devices++] = victim.devices[i];
	r = steal_publish(c, &l);
	if (r == SOTTO_OK) {
		/* and the one after, without them: the server's purge of "removed"
		 * devices is what would take the victim's queue */
		uint8_t *p = NULL;
		size_t pn = 0;

		if (dl_sign_device(&l, c->cfg.device_id, CLIENT_SIGN_SEC(c), &p, &pn) != SOTTO_OK)
			return die("cannot sign");
		dl_hash(l.prev_hash, p, pn);
		free(p);
		l.version++;
		l.created_at++;
		l.n_devices = mine;
		r = steal_publish(c, &l);
	}
	free(in);
	free(cur);
	sotto_close(c);
	return r == SOTTO_OK ? 0 : 3;
}

static int
print_signed(sotto_client *c, dl_list *l, uint8_t **p, size_t *pn)
{
	if (dl_sign_device(l, c->cfg.device_id, CLIENT_SIGN_SEC(c), p, pn) != SOTTO_OK)
		return -1;
	print_hex(*p, *pn);
	return 0;
}

static int
cmd_steal_hex(const char *home, const char *hex)
{
	static dl_list victim, l;
	sotto_client *c = NULL;
	uint8_t *in = NULL, *cur = NULL, *p = NULL;
	size_t n = 0, curlen = 0, pn = 0, mine;

	if (unhex_list(hex, &in, &n) != 0 || dl_parse(&victim, in, n) != SOTTO_OK)
		return die("not a device list");
	if (sotto_open(&c, home, NULL) != SOTTO_OK ||
	    cstore_list_latest(c->st, c->cfg.handle, &l, &cur, &curlen) != SOTTO_OK)
		return die("cannot open the home");
	mine = l.n_devices;
	dl_hash(l.prev_hash, cur, curlen);
	l.version++;
	l.created_at++;
	for (size_t i = 0; i < victim.n_devices && l.n_devices < SOTTO_MAX_DEVICES; i++)
		l.devices[l.n_devices++] = victim.devices[i];
	if (print_signed(c, &l, &p, &pn) != 0)
		return die("cannot sign");
	dl_hash(l.prev_hash, p, pn);
	free(p);
	p = NULL;
	l.version++;
	l.created_at++;
	l.n_devices = mine;
	if (print_signed(c, &l, &p, &pn) != 0)
		return die("cannot sign");
	free(p);
	free(in);
	free(cur);
	sotto_close(c);
	return 0;
}

static int
cmd_bump(const char *home, const char *count)
{
	static dl_list l;
	sotto_client *c = NULL;
	uint8_t *cur = NULL, *p = NULL;
	size_t curlen = 0, pn = 0;
	long n = strtol(count, NULL, 10);
	int r = SOTTO_OK;

	if (n < 1 || n > 1000)
		return die("bump: N from 1 to 1000");
	if (sotto_open(&c, home, NULL) != SOTTO_OK || client_connect(c) != SOTTO_OK ||
	    cstore_list_latest(c->st, c->cfg.handle, &l, &cur, &curlen) != SOTTO_OK)
		return die("cannot open the home or reach its server");
	for (long i = 0; i < n && r == SOTTO_OK; i++) {
		dl_hash(l.prev_hash, cur, curlen);
		l.version++;
		l.created_at++;
		free(cur);
		cur = NULL;
		if (dl_sign_device(&l, c->cfg.device_id, CLIENT_SIGN_SEC(c), &p, &pn) != SOTTO_OK)
			return die("cannot sign");
		r = publish_raw(c, p, pn, l.version);
		cur = p;
		curlen = pn;
	}
	free(cur);
	sotto_close(c);
	return r == SOTTO_OK ? 0 : 3;
}

static int
cmd_badkey(const char *home)
{
	/* order 8 on Curve25519 (libsodium's has_small_order list) */
	static const uint8_t low[SC_KX_PUB] = {
		0xe0, 0xeb, 0x7a, 0x7c, 0x3b, 0x41, 0xb8, 0xae, 0x16, 0x56, 0xe3, 0xfa, 0xf1, 0x9f, 0xc4, 0x6a,
		0xda, 0x09, 0x8d, 0xeb, 0x9c, 0x32, 0xb1, 0xfd, 0x86, 0x62, 0x05, 0x16, 0x5f, 0x49, 0xb8, 0x00,
	};
	static dl_list l;
	sotto_client *c = NULL;
	uint8_t *cur = NULL, *out = NULL;
	size_t curlen = 0, outlen = 0;

	if (sotto_open(&c, home, NULL) != SOTTO_OK ||
	    cstore_list_latest(c->st, c->cfg.handle, &l, &cur, &curlen) != SOTTO_OK)
		return die("cannot open the home");
	if (l.n_devices >= SOTTO_MAX_DEVICES)
		return die("list full");
	dl_hash(l.prev_hash, cur, curlen);
	l.version++;
	l.created_at++;
	phantom(&l.devices[l.n_devices], "low-order", l.created_at);
	memcpy(l.devices[l.n_devices].enc_pub, low, SC_KX_PUB);
	memcpy(l.devices[l.n_devices].approved_by, c->cfg.device_id, SC_DEVICE_ID);
	l.n_devices++;
	if (dl_sign_device(&l, c->cfg.device_id, CLIENT_SIGN_SEC(c), &out, &outlen) != SOTTO_OK)
		return die("cannot sign");
	print_hex(out, outlen);
	free(out);
	free(cur);
	sotto_close(c);
	return 0;
}

static int
cmd_envelope(const char *home, const char *hex, const char *sent_at, const char *text)
{
	static dl_list l;
	sotto_client *c = NULL;
	uint8_t *in = NULL, *env = NULL, wrap[ENV_WRAP_LEN];
	char *end;
	size_t n = 0, env_len = 0;
	raw_env e;
	int rc = 1;

	if (unhex_list(hex, &in, &n) != 0 || dl_parse(&l, in, n) != SOTTO_OK)
		return die("not a device list");
	if (sotto_open(&c, home, NULL) != SOTTO_OK)
		return die("cannot open the sender's home");
	memset(&e, 0, sizeof(e));
	e.version = ENV_VERSION;
	sc_random(e.msg_id, sizeof(e.msg_id));
	e.sender = c->cfg.handle;
	e.sender_len = strlen(c->cfg.handle);
	memcpy(e.sender_device, c->cfg.device_id, SC_DEVICE_ID);
	e.sent_at = strtoull(sent_at, &end, 10);
	if (*sent_at == '\0' || *end != '\0') {
		die("SENT_AT: a number");
		goto out;
	}
	e.n_rcpt = 1;
	e.rcpt[0] = l.handle;
	e.rcpt_len[0] = strlen(l.handle);
	e.content = (const uint8_t *)text;
	e.content_len = strlen(text);
	if (raw_seal(&e, CLIENT_SIGN_SEC(c), l.devices[0].enc_pub, l.devices[0].id, &env, &env_len,
	    wrap) != SOTTO_OK) {
		die("cannot seal");
		goto out;
	}
	print_hex(e.msg_id, sizeof(e.msg_id));
	print_hex(l.devices[0].id, SC_DEVICE_ID);
	print_hex(env, env_len);
	print_hex(wrap, sizeof(wrap));
	rc = 0;
out:
	free(env);
	free(in);
	sotto_close(c);
	return rc;
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
	if (argc == 4 && strcmp(argv[1], "publish") == 0)
		return cmd_publish(argv[2], argv[3]);
	if (argc == 4 && strcmp(argv[1], "steal-hex") == 0)
		return cmd_steal_hex(argv[2], argv[3]);
	if (argc == 4 && strcmp(argv[1], "bump") == 0)
		return cmd_bump(argv[2], argv[3]);
	if (argc == 3 && strcmp(argv[1], "badkey") == 0)
		return cmd_badkey(argv[2]);
	if (argc == 4 && strcmp(argv[1], "steal") == 0)
		return cmd_steal(argv[2], argv[3]);
	if (argc == 6 && strcmp(argv[1], "envelope") == 0)
		return cmd_envelope(argv[2], argv[3], argv[4], argv[5]);
	if (argc == 3 && strcmp(argv[1], "pickup") == 0)
		return cmd_pickup(argv[2]);
	fprintf(stderr, "usage: sotto_forge next|same HEX [--add NAME] [--drop ID] [--signer ID]\n"
	    "       sotto_forge account HANDLE [HEX]\n       sotto_forge ids HEX\n"
	    "       sotto_forge steal HOME HEX\n       sotto_forge steal-hex HOME HEX\n"
	    "       sotto_forge bump HOME N\n       sotto_forge publish HOME HEX\n"
	    "       sotto_forge badkey HOME\n       sotto_forge envelope HOME HEX SENT_AT TEXT\n"
	    "       sotto_forge pickup CODE\n");
	return 2;
}
