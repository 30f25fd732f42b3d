/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client.h"
#include "invite.h"
#include "keyfile.h"

/* Secrets of a device being created, in one guarded allocation. */
typedef struct init_secrets {
	uint8_t account_sec[SC_SIGN_SEC];
	uint8_t keys[CLIENT_SECRETS_LEN];	/* device sign secret || enc secret || history key */
	uint8_t invite_secret[INVITE_SECRET_LEN];
	char invite_text[23];
} init_secrets;

static int
path_join(char *out, size_t max, const char *dir, const char *name)
{
	int n = snprintf(out, max, "%s/%s", dir, name);

	return n < 0 || (size_t)n >= max ? SOTTO_ERR_INVALID_ARG : SOTTO_OK;
}

static void
remove_home(const char *home, int made_dir)
{
	static const char *const names[] = {
		CLIENT_KEY_NAME, CLIENT_DB_NAME, CLIENT_DB_NAME "-wal", CLIENT_DB_NAME "-shm",
		CLIENT_DB_NAME "-journal",
	};
	char p[4096];

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (path_join(p, sizeof(p), home, names[i]) == SOTTO_OK)
			(void)unlink(p);
	if (made_dir)
		(void)rmdir(home);
}

/* Register the new account; the device proves its key by signing the challenge. */
static int
do_register(const cstore_config *cfg, const init_secrets *s, int with_invite,
    const uint8_t *list, size_t list_len)
{
	Sotto__Wire__Frame f = SOTTO__WIRE__FRAME__INIT;
	Sotto__Wire__RegisterRequest rq = SOTTO__WIRE__REGISTER_REQUEST__INIT;
	wire_frame *resp = NULL;
	uint8_t msg[WIRE_AUTH_MSG_MAX], sig[SC_SIG];
	size_t mlen;
	conn *cn = NULL;
	int r;

	if ((r = conn_open(&cn, cfg->address, cfg->pin)) != SOTTO_OK)
		goto out;
	mlen = wire_auth_message(msg, cfg->pin, conn_nonce(cn), cfg->handle);
	sc_sign(sig, msg, mlen, s->keys);
	rq.invite_secret = with_invite ? (char *)s->invite_text : (char *)"";
	rq.handle = (char *)cfg->handle;
	rq.device_list.data = (uint8_t *)list;
	rq.device_list.len = list_len;
	rq.signature.data = sig;
	rq.signature.len = SC_SIG;
	f.msg_case = SOTTO__WIRE__FRAME__MSG_REGISTER;
	f.register_ = &rq;
	if ((r = conn_request(cn, &f, &resp)) != SOTTO_OK)
		goto out;
	if (resp->response->device_id.len != 0 &&
	    (resp->response->device_id.len != SC_DEVICE_ID ||
	    !sc_memeq(resp->response->device_id.data, cfg->device_id, SC_DEVICE_ID)))
		r = SOTTO_ERR_PROTOCOL;
out:
	wire_free(resp);
	conn_close(cn);
	return r;
}

static int
store_home(const char *home, const cstore_config *cfg, const init_secrets *s,
    const char *passphrase, const uint8_t *list, size_t list_len)
{
	cstore_contact me;
	cstore *st = NULL;
	char p[4096];
	int r;

	if ((r = path_join(p, sizeof(p), home, CLIENT_DB_NAME)) != SOTTO_OK ||
	    (r = cstore_open(&st, p, 1)) != SOTTO_OK)
		goto out;
	memset(&me, 0, sizeof(me));
	snprintf(me.handle, sizeof(me.handle), "%s", cfg->handle);
	memcpy(me.account_pub, cfg->account_pub, SC_SIGN_PUB);
	me.verified = 1;
	me.state = CONTACT_NORMAL;
	if ((r = cstore_unlock(st, s->keys + CLIENT_KEYS_LEN)) != SOTTO_OK ||
	    (r = cstore_begin(st)) != SOTTO_OK)
		goto out;
	if ((r = cstore_config_set(st, cfg)) != SOTTO_OK ||
	    (r = cstore_contact_put(st, &me)) != SOTTO_OK ||
	    (r = cstore_list_add(st, cfg->handle, 1, list, list_len)) != SOTTO_OK ||
	    (r = cstore_commit(st)) != SOTTO_OK) {
		cstore_rollback(st);
		goto out;
	}
	if ((r = path_join(p, sizeof(p), home, CLIENT_KEY_NAME)) != SOTTO_OK ||
	    (r = keyfile_write(p, s->keys, CLIENT_SECRETS_LEN, passphrase, 0, 0)) != SOTTO_OK)
		goto out;
out:
	cstore_close(st);
	return r;
}

int
sotto_init(const char *home, const sotto_init_options *o, char recovery[SOTTO_RECOVERY_CODE_LEN + 1],
    char device_id[SOTTO_ID_HEX_LEN + 1])
{
	init_secrets *s = NULL;
	invite inv;
	cstore_config cfg;
	dl_list *l = NULL, *check = NULL;
	uint8_t *list = NULL;
	size_t list_len = 0;
	const char *name;
	char p[4096];
	struct stat sb;
	int r, made_dir = 0, with_invite = 0, wrote = 0;

	memset(&inv, 0, sizeof(inv));
	memset(&cfg, 0, sizeof(cfg));
	if (home == NULL || o == NULL || recovery == NULL || device_id == NULL)
		return SOTTO_ERR_INVALID_ARG;
	if ((r = sc_init()) != SOTTO_OK)
		return r;
	name = o->device_name != NULL ? o->device_name : "device";
	if (!dl_name_valid(name))
		return SOTTO_ERR_INVALID_ARG;
	if (o->invite != NULL) {
		if (o->server != NULL || o->pin != NULL)
			return SOTTO_ERR_INVALID_ARG;
		if (invite_decode(&inv, o->invite) != SOTTO_OK)
			return SOTTO_ERR_INVITE;
		with_invite = 1;
		if (o->handle != NULL && inv.handle[0] != '\0' && strcmp(o->handle, inv.handle) != 0) {
			r = SOTTO_ERR_INVITE;
			goto out;
		}
		snprintf(cfg.address, sizeof(cfg.address), "%s", inv.address);
		memcpy(cfg.pin, inv.pin, TLS_PIN_LEN);
		snprintf(cfg.handle, sizeof(cfg.handle), "%s", o->handle != NULL ? o->handle : inv.handle);
	} else {
		if (o->server == NULL || o->pin == NULL || o->handle == NULL ||
		    strlen(o->server) > SOTTO_MAX_ADDRESS || strlen(o->handle) > SOTTO_MAX_HANDLE)
			return SOTTO_ERR_INVALID_ARG;
		if (tls_pin_from_text(cfg.pin, o->pin) != SOTTO_OK)
			return SOTTO_ERR_INVALID_ARG;
		snprintf(cfg.address, sizeof(cfg.address), "%s", o->server);
		snprintf(cfg.handle, sizeof(cfg.handle), "%s", o->handle);
	}
	r = SOTTO_ERR_INVALID_ARG;
	if (!handle_valid(cfg.handle) || strchr(cfg.address, ':') == NULL)
		goto out;

	/* Refuse an existing device before anything touches the network. */
	r = SOTTO_ERR_EXISTS;
	if ((path_join(p, sizeof(p), home, CLIENT_DB_NAME) == SOTTO_OK && lstat(p, &sb) == 0) ||
	    (path_join(p, sizeof(p), home, CLIENT_KEY_NAME) == SOTTO_OK && lstat(p, &sb) == 0))
		goto out;
	r = SOTTO_ERR_IO;
	if (mkdir(home, 0700) == 0)
		made_dir = 1;
	else if (errno != EEXIST || stat(home, &sb) != 0 || !S_ISDIR(sb.st_mode))
		goto out;
	wrote = 1;

	r = SOTTO_ERR_NOMEM;
	if ((s = sc_secure_alloc(sizeof(*s))) == NULL || (l = calloc(1, sizeof(*l))) == NULL ||
	    (check = calloc(1, sizeof(*check))) == NULL)
		goto out;
	memset(s, 0, sizeof(*s));
	if (with_invite) {
		memcpy(s->invite_secret, inv.secret, INVITE_SECRET_LEN);
		invite_secret_text(s->invite_text, s->invite_secret);
	}
	sc_sign_keypair(cfg.account_pub, s->account_sec);
	sc_sign_keypair(l->devices[0].sig_pub, s->keys);
	sc_kx_keypair(l->devices[0].enc_pub, s->keys + SC_SIGN_SEC);
	sc_random(s->keys + CLIENT_KEYS_LEN, CSTORE_HISTORY_KEY);
	sc_device_id(cfg.device_id, l->devices[0].sig_pub);

	snprintf(l->handle, sizeof(l->handle), "%s", cfg.handle);
	memcpy(l->account_pub, cfg.account_pub, SC_SIGN_PUB);
	l->version = 1;
	l->created_at = client_now_ms();
	l->n_devices = 1;
	memcpy(l->devices[0].id, cfg.device_id, SC_DEVICE_ID);
	snprintf(l->devices[0].name, sizeof(l->devices[0].name), "%s", name);
	l->devices[0].added_at = l->created_at;
	if ((r = dl_sign_account(l, s->account_sec, &list, &list_len)) != SOTTO_OK)
		goto out;
	/* What we sign must be what every verifier accepts (e.g. the device name). */
	if (dl_parse(check, list, list_len) != SOTTO_OK || dl_verify_first(check, list, list_len) != SOTTO_OK) {
		r = SOTTO_ERR_INVALID_ARG;
		goto out;
	}

	if ((r = do_register(&cfg, s, with_invite, list, list_len)) != SOTTO_OK)
		goto out;
	if ((r = store_home(home, &cfg, s, o->passphrase, list, list_len)) != SOTTO_OK)
		goto out;
	/* The recovery code is the account key's seed: shown once, kept nowhere. */
	sc_b64(recovery, SOTTO_RECOVERY_CODE_LEN + 1, s->account_sec, SC_SIGN_SEED);
	sc_hex(device_id, cfg.device_id, SC_DEVICE_ID);
	wrote = 0;
	r = SOTTO_OK;
out:
	if (wrote)
		remove_home(home, made_dir);
	sc_secure_free(s);
	sc_wipe(&inv, sizeof(inv));
	free(l);
	free(check);
	free(list);
	return r;
}

int
sotto_device_name_valid(const char *name)
{
	return dl_name_valid(name);
}

int
sotto_handle_valid(const char *handle)
{
	return handle != NULL && handle_valid(handle);
}
