/* SPDX-License-Identifier: ISC */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"

/* The chain state while walking the server's answer. */
typedef struct walk {
	dl_list *prev;		/* latest verified, NULL-equivalent when !have */
	uint8_t *prev_bytes;
	size_t prev_len;
	int have;
	uint64_t latest_v;	/* the latest version verified before this walk, 0 if none */
	int saw_latest;		/* the server showed it again, byte for byte */
	int account_signed;	/* a new version was signed by the account key */
} walk;

static int
is_mine(const sotto_client *c, const char *handle)
{
	return strcmp(handle, c->cfg.handle) == 0;
}

/* `"name" (fingerprint xxxx ...)`, the way a person compares devices. */
static void
describe(char *out, size_t max, const char *what, const dl_device *d)
{
	char fp[DL_FINGERPRINT_LEN + 1];

	dl_fingerprint(fp, d);
	snprintf(out, max, "%s \"%s\" (fingerprint %s)", what, d->name, fp);
}

/* Alerts for what changed between the list verified before and the latest. */
static int
alert_changes(sotto_client *c, const char *handle, const dl_list *old, const dl_list *now,
    int account_signed)
{
	char text[1024], one[1280], full[1400], by[80], id[SC_DEVICE_ID * 2 + 1];
	const uint8_t *first = NULL;
	int mine = is_mine(c, handle), r;
	size_t i, used = 0;

	text[0] = '\0';
	for (int pass = 0; pass < 2; pass++) {
		const dl_list *a = pass == 0 ? now : old, *b = pass == 0 ? old : now;

		for (i = 0; i < a->n_devices; i++) {
			const dl_device *d = &a->devices[i];

			if (dl_find(b, d->id) != NULL)
				continue;
			if (mine) {
				sc_hex(id, d->id, SC_DEVICE_ID);
				if (pass == 0 && !sc_is_zero(d->approved_by, SC_DEVICE_ID)) {
					char ab[SC_DEVICE_ID * 2 + 1];

					sc_hex(ab, d->approved_by, SC_DEVICE_ID);
					snprintf(by, sizeof(by), ", approved by device %s", ab);
				} else
					snprintf(by, sizeof(by), "%s", pass == 0 ? ", signed by the account key" : "");
				describe(one, sizeof(one), pass == 0 ? "a device was added to your account:" :
				    "a device was removed from your account:", d);
				snprintf(full, sizeof(full), "%s, id %s%s", one, id, by);
				if ((r = client_alert(c, pass == 0 ? "device_added" : "device_removed",
				    handle, d->id, full, full)) != SOTTO_OK)
					return r;
				continue;
			}
			if (first == NULL)
				first = d->id;
			describe(one, sizeof(one), pass == 0 ? "added" : "removed", d);
			if (used < sizeof(text)) {
				int k = snprintf(text + used, sizeof(text) - used, "%s%s",
				    used ? "; " : "", one);
				used += k > 0 ? (size_t)k : 0;
			}
		}
	}
	if (mine || first == NULL)
		return SOTTO_OK;
	snprintf(one, sizeof(one), "%s's devices changed: %s%s", handle, text,
	    account_signed ? " (signed by the account key: the account was recovered)" : "");
	snprintf(full, sizeof(full), "%.1300s (list version %llu)", one, (unsigned long long)now->version);
	return client_alert(c, "contact_devices_changed", handle, first, full, one);
}

/*
 * A chain break. For a contact: an identity reset, sends refused until
 * `trust`. For my own account it means someone other than my devices changed
 * the list: the same refusal, said louder.
 */
static int
identity_reset(sotto_client *c, const char *handle, const char *why)
{
	cstore_contact k;
	char text[640];
	int r, mine = is_mine(c, handle);

	snprintf(c->reset_why, sizeof(c->reset_why), "%s", why);
	if ((r = cstore_contact_get(c->st, handle, &k)) != SOTTO_OK)
		return r;
	if (mine)
		snprintf(text, sizeof(text), "YOUR ACCOUNT's device list changed in a way no device of "
		    "yours signed (%s): someone may be adding a device to your account; sending is "
		    "refused until `sotto trust %s`", why, handle);
	else
		snprintf(text, sizeof(text), "the device list of %s no longer chains to the one verified "
		    "(%s): messages to %s are refused until `sotto trust %s`", handle, why, handle, handle);
	if ((r = cstore_begin(c->st)) != SOTTO_OK)
		return r;
	k.state = CONTACT_RESET_PENDING;
	if ((r = cstore_contact_put(c->st, &k)) != SOTTO_OK ||
	    (r = client_alert(c, mine ? "account_changed_unsigned" : "identity_reset", handle, NULL,
	    text, text)) != SOTTO_OK ||
	    (r = cstore_commit(c->st)) != SOTTO_OK) {
		cstore_rollback(c->st);
		return r;
	}
	client_set_detail(c, "%s", handle);
	return SOTTO_ERR_IDENTITY_RESET;
}

/* First sight of handle (or a `trust` after a reset): trust the account key of
 * a valid version 1. */
static int
accept_first(sotto_client *c, const char *handle, const dl_list *l, const uint8_t *p, size_t n)
{
	cstore_contact k;
	int r;

	if ((r = dl_verify_first(l, p, n)) != SOTTO_OK)
		return r;
	/* My own account is known from the start: never trusted from the server. */
	if (is_mine(c, handle) && !sc_memeq(l->account_pub, c->cfg.account_pub, SC_SIGN_PUB))
		return SOTTO_ERR_CHAIN;
	memset(&k, 0, sizeof(k));
	snprintf(k.handle, sizeof(k.handle), "%s", handle);
	memcpy(k.account_pub, l->account_pub, SC_SIGN_PUB);
	k.state = CONTACT_NORMAL;
	if ((r = cstore_begin(c->st)) != SOTTO_OK)
		return r;
	if ((r = cstore_contact_put(c->st, &k)) != SOTTO_OK ||
	    (r = cstore_list_add(c->st, handle, l->version, p, n)) != SOTTO_OK ||
	    (r = cstore_commit(c->st)) != SOTTO_OK)
		cstore_rollback(c->st);
	return r;
}

/* 1 if the stored list of that version has exactly these bytes, 0 if not (or
 * none is stored), negative on error. */
static int
list_matches_stored(sotto_client *c, const char *handle, uint64_t version, const uint8_t *p,
    size_t n)
{
	dl_list *l;
	uint8_t *b = NULL;
	size_t bn = 0;
	int r;

	if ((l = calloc(1, sizeof(*l))) == NULL)
		return SOTTO_ERR_NOMEM;
	r = cstore_list_get(c->st, handle, version, l, &b, &bn);
	if (r == SOTTO_OK)
		r = bn == n && sc_memeq(b, p, n);
	else if (r == SOTTO_ERR_NOT_FOUND)
		r = 0;
	free(b);
	free(l);
	return r;
}

/* Take one list from the server into the walk. */
static int
step(sotto_client *c, const char *handle, walk *w, dl_list *l, const uint8_t *p, size_t n,
    int trusting)
{
	uint8_t h[SC_SHA256];
	uint8_t *copy;
	int r;

	if (n == 0 || n > SOTTO_MAX_DEVICE_LIST || dl_parse(l, p, n) != SOTTO_OK ||
	    strcmp(l->handle, handle) != 0)
		return SOTTO_ERR_PROTOCOL;
	/* A server makes chains for free: the client follows none longer than
	 * this, so what one handle costs it to fetch, verify and store is bounded. */
	if (l->version > SOTTO_CLIENT_MAX_LIST_VERSIONS)
		return SOTTO_ERR_TOO_LARGE;
	if (w->have && l->version <= w->prev->version) {
		/* A version already verified must be byte for byte the one verified:
		 * anything else is a fork (or a rollback) of the chain. */
		r = list_matches_stored(c, handle, l->version, p, n);
		if (r == 1) {
			if (l->version == w->latest_v)
				w->saw_latest = 1;
			return SOTTO_OK;
		}
		if (r < 0)
			return r;
		if (trusting && dl_verify_first(l, p, n) == SOTTO_OK) {
			if ((r = cstore_contact_forget(c->st, handle)) != SOTTO_OK)
				return r;
			w->have = 0;
		} else
			return identity_reset(c, handle, "the server shows a different list for a "
			    "version already verified");
	}
	if (!w->have) {
		if ((r = accept_first(c, handle, l, p, n)) != SOTTO_OK) {
			if (r == SOTTO_ERR_BAD_KEY)
				client_set_detail(c, "%s", handle);
			return r == SOTTO_ERR_DB || r == SOTTO_ERR_BAD_KEY ? r : SOTTO_ERR_PROTOCOL;
		}
	} else {
		dl_hash(h, w->prev_bytes, w->prev_len);
		if ((r = dl_verify_next(w->prev, h, l, p, n)) == SOTTO_ERR_BAD_KEY) {
			/* Validly chained, but no copy could be made for it: the
			 * list is invalid (not a reset), and says whose it is. */
			client_set_detail(c, "%s", handle);
			return r;
		} else if (r != SOTTO_OK) {
			/* After `trust`, a new chain may start where the old one broke. */
			if (trusting && dl_verify_first(l, p, n) == SOTTO_OK) {
				if ((r = cstore_contact_forget(c->st, handle)) != SOTTO_OK ||
				    (r = accept_first(c, handle, l, p, n)) != SOTTO_OK)
					return r;
			} else
				return identity_reset(c, handle, r == SOTTO_ERR_BAD_SIGNATURE ?
				    "bad signature" : "different account key or broken chain");
		} else if (sc_is_zero(l->signer, SC_DEVICE_ID) && is_mine(c, handle)) {
			/* This device did not recover the account (the one that does
			 * stores the list itself): the account key is in other hands. */
			return identity_reset(c, handle, "a new version was signed by the account "
			    "key, as in a recovery");
		} else {
			if (sc_is_zero(l->signer, SC_DEVICE_ID))
				w->account_signed = 1;
			if ((r = cstore_list_add(c->st, handle, l->version, p, n)) != SOTTO_OK)
				return r;
		}
	}
	if ((copy = malloc(n)) == NULL)
		return SOTTO_ERR_NOMEM;
	memcpy(copy, p, n);
	free(w->prev_bytes);
	w->prev_bytes = copy;
	w->prev_len = n;
	*w->prev = *l;
	w->have = 1;
	return SOTTO_OK;
}

/* since: the version to ask from, or REFRESH_FROM_LATEST for the latest verified. */
#define REFRESH_FROM_LATEST UINT64_MAX

static int
refresh(sotto_client *c, const char *handle, int trusting, uint64_t since, dl_list *out,
    uint8_t **bytes, size_t *nout)
{
	Sotto__Wire__Frame f = SOTTO__WIRE__FRAME__INIT;
	Sotto__Wire__GetDeviceListRequest g = SOTTO__WIRE__GET_DEVICE_LIST_REQUEST__INIT;
	wire_frame *resp = NULL;
	dl_list *orig = NULL, *l = NULL;
	walk w;
	cstore_contact k;
	int r, had_orig = 0, more, asked = 0;
	unsigned pages = 0;
	size_t i;

	memset(&w, 0, sizeof(w));
	if (bytes != NULL)
		*bytes = NULL;
	if (!handle_valid(handle))
		return SOTTO_ERR_INVALID_ARG;
	r = SOTTO_ERR_NOMEM;
	if ((orig = calloc(1, sizeof(*orig))) == NULL || (l = calloc(1, sizeof(*l))) == NULL ||
	    (w.prev = calloc(1, sizeof(*w.prev))) == NULL)
		goto out;
	r = cstore_contact_get(c->st, handle, &k);
	if (r == SOTTO_OK) {
		if (k.state == CONTACT_RESET_PENDING) {
			client_set_detail(c, "%s", handle);
			r = SOTTO_ERR_IDENTITY_RESET;
			goto out;
		}
		r = cstore_list_latest(c->st, handle, w.prev, &w.prev_bytes, &w.prev_len);
		if (r == SOTTO_OK) {
			/* The stored list must be of the account this contact is pinned to. */
			if (!sc_memeq(w.prev->account_pub, k.account_pub, SC_SIGN_PUB)) {
				r = SOTTO_ERR_DB;
				goto out;
			}
			w.have = had_orig = 1;
			*orig = *w.prev;
		} else if (r != SOTTO_ERR_NOT_FOUND)
			goto out;
	} else if (r != SOTTO_ERR_NOT_FOUND)
		goto out;

	asked = 1;	/* from here on, a failure may be the server's doing */
	if ((r = client_connect(c)) != SOTTO_OK)
		goto out;
	/* Ask from one before the latest verified: the server must show that
	 * version again, byte for byte, or it rolled the list back (or forked it). */
	if (since == REFRESH_FROM_LATEST || !w.have || since >= w.prev->version)
		since = w.have ? w.prev->version - 1 : 0;
	w.latest_v = w.have ? w.prev->version : 0;
	do {
		/* Each page must move on (checked below); and there are only so many. */
		r = SOTTO_ERR_TOO_LARGE;
		if (pages++ >= SOTTO_CLIENT_MAX_LIST_PAGES)
			goto out;
		g.handle = (char *)handle;
		g.since_version = since;
		f.msg_case = SOTTO__WIRE__FRAME__MSG_GET_DEVICE_LIST;
		f.get_device_list = &g;
		wire_free(resp);
		resp = NULL;
		if ((r = conn_request(c->cn, &f, &resp)) != SOTTO_OK) {
			if (r == SOTTO_ERR_NO_SUCH_HANDLE)
				client_set_detail(c, "%s", handle);
			else if (resp == NULL)
				client_disconnect(c);
			goto out;
		}
		r = SOTTO_ERR_PROTOCOL;
		if (resp->response->n_device_lists > SOTTO_MAX_LIST_HISTORY)
			goto out;
		for (i = 0; i < resp->response->n_device_lists; i++)
			if ((r = step(c, handle, &w, l, resp->response->device_lists[i].data,
			    resp->response->device_lists[i].len, trusting)) != SOTTO_OK)
				goto out;
		more = resp->response->more && resp->response->n_device_lists > 0;
		if (more) {
			uint64_t last = 0;

			/* Continue after the last version this answer held. */
			if (dl_parse(l, resp->response->device_lists[resp->response->n_device_lists - 1].data,
			    resp->response->device_lists[resp->response->n_device_lists - 1].len) != SOTTO_OK ||
			    (last = l->version) <= since) {
				r = SOTTO_ERR_PROTOCOL;
				goto out;
			}
			since = last;
		}
	} while (more);
	r = SOTTO_ERR_PROTOCOL;
	if (!w.have)
		goto out;
	if (had_orig && !w.saw_latest) {
		char why[128];

		snprintf(why, sizeof(why), "the server no longer shows version %llu, verified before: "
		    "rolled back", (unsigned long long)orig->version);
		r = identity_reset(c, handle, why);
		goto out;
	}
	if (had_orig && orig->version != w.prev->version &&
	    sc_memeq(orig->account_pub, w.prev->account_pub, SC_SIGN_PUB) &&
	    (r = alert_changes(c, handle, orig, w.prev, w.account_signed)) != SOTTO_OK)
		goto out;
	if (out != NULL)
		*out = *w.prev;
	if (bytes != NULL) {
		*bytes = w.prev_bytes;
		w.prev_bytes = NULL;
	}
	if (nout != NULL)
		*nout = w.prev_len;
	r = SOTTO_OK;
out:
	/* My own list is the one whose silence must not go unnoticed (a refusal
	 * kept locally, before asking, says nothing about the directory). */
	if (is_mine(c, handle) && asked) {
		if (r == SOTTO_OK)
			client_directory_ok(c);
		else
			client_directory_failed(c, r);
	}
	wire_free(resp);
	free(w.prev_bytes);
	free(w.prev);
	free(orig);
	free(l);
	return r;
}

int
client_list_refresh(sotto_client *c, const char *handle, dl_list *out, uint8_t **bytes, size_t *n)
{
	return refresh(c, handle, 0, REFRESH_FROM_LATEST, out, bytes, n);
}

int
client_list_recheck(sotto_client *c, const char *handle, uint64_t since, dl_list *out)
{
	return refresh(c, handle, 0, since, out, NULL, NULL);
}

/*
 * Forget the verified chain and accept the one the server shows now — all or
 * nothing: if the new chain cannot be fetched or does not verify either, the
 * old state (and its refusal to send) stays as it was. Otherwise a failed
 * trust would leave a contact with no chain, and the next send would take
 * whatever the server showed as a first sight. want (may be NULL): the hash
 * of the list the user was shown; another one is not trusted.
 */
static int
trust(sotto_client *c, const char *handle, const uint8_t *want, int *lost_verified)
{
	cstore_contact k;
	dl_list *l = NULL;
	uint8_t *bytes = NULL, h[SC_SHA256];
	size_t n = 0;
	int r, was_verified = 0;

	c->detail[0] = '\0';
	c->reset_why[0] = '\0';
	if (!handle_valid(handle))
		return SOTTO_ERR_INVALID_ARG;
	if ((l = calloc(1, sizeof(*l))) == NULL)
		return SOTTO_ERR_NOMEM;
	if ((r = cstore_contact_get(c->st, handle, &k)) == SOTTO_OK)
		was_verified = k.verified && !is_mine(c, handle);
	else if (r != SOTTO_ERR_NOT_FOUND)
		goto out;
	if ((r = cstore_begin(c->st)) != SOTTO_OK)
		goto out;
	if ((r = cstore_contact_forget(c->st, handle)) == SOTTO_OK)
		r = refresh(c, handle, 1, 0, l, &bytes, &n);
	if (r == SOTTO_OK && want != NULL) {
		dl_hash(h, bytes, n);
		if (!sc_memeq(h, want, SC_SHA256)) {
			client_set_detail(c, "the server now shows another device list for %s (version %llu) "
			    "than the one shown: nothing was trusted; look again", handle,
			    (unsigned long long)l->version);
			r = SOTTO_ERR_CHAIN;
		}
	}
	/* The new identity is not verified, and says that a verified one was lost. */
	if (r == SOTTO_OK && was_verified && (r = cstore_contact_get(c->st, handle, &k)) == SOTTO_OK) {
		k.verified_lost = 1;
		r = cstore_contact_put(c->st, &k);
	}
	if (r == SOTTO_OK && (r = cstore_commit(c->st)) == SOTTO_OK) {
		if (lost_verified != NULL)
			*lost_verified = was_verified;
		/* Trusted: what was held from it can be verified now. A failure
		 * here keeps them held for the next trust; the trust stands. */
		if (client_release_held(c, handle) != SOTTO_OK)
			client_set_detail(c, "messages held from %s could not be opened yet", handle);
		goto out;
	}
	cstore_rollback(c->st);
	if (r == SOTTO_ERR_IDENTITY_RESET)
		client_set_detail(c, "the device lists the server shows for %s do not verify either (%s): "
		    "nothing was trusted", handle, c->reset_why[0] != '\0' ? c->reset_why : "fork");
out:
	free(bytes);
	free(l);
	return r;
}

int
sotto_trust(sotto_client *c, const char *handle)
{
	return trust(c, handle, NULL, NULL);
}

int
sotto_trust_shown(sotto_client *c, const char *handle, const char *list_hash, int *lost_verified)
{
	uint8_t want[SC_SHA256];
	size_t n = 0;

	if (list_hash == NULL || strlen(list_hash) != 2 * SC_SHA256 ||
	    sc_unhex(want, sizeof(want), &n, list_hash, strlen(list_hash)) != SOTTO_OK || n != SC_SHA256)
		return SOTTO_ERR_INVALID_ARG;
	if (lost_verified != NULL)
		*lost_verified = 0;
	return trust(c, handle, want, lost_verified);
}

void
sotto_identity_clear(sotto_identity *id)
{
	if (id == NULL)
		return;
	free(id->devices);
	memset(id, 0, sizeof(*id));
}

/* id from a verified list l (bytes p, n) of handle's account. */
static int
identity_fill(sotto_client *c, const char *handle, const dl_list *l, const uint8_t *p, size_t n,
    int verified, sotto_identity *id)
{
	uint8_t h[SC_SHA256];
	int r;

	memset(id, 0, sizeof(*id));
	if ((r = client_devices_of(l, &id->devices, &id->n_devices)) != SOTTO_OK)
		return r;
	id->present = 1;
	id->verified = verified;
	id->version = l->version;
	dl_hash(h, p, n);
	sc_hex(id->list_hash, h, sizeof(h));
	if (!is_mine(c, handle))
		safety_number(id->safety_number, c->cfg.handle, c->cfg.account_pub, handle, l->account_pub);
	return SOTTO_OK;
}

int
sotto_identity_compare(sotto_client *c, const char *handle, sotto_identity *old, sotto_identity *now,
    int *reset, size_t *held)
{
	sotto_identity o, w;
	cstore_contact k;
	dl_list *l = NULL;
	uint8_t *bytes = NULL;
	uint64_t nh = 0;
	size_t n = 0;
	int r, pending = 0;

	memset(&o, 0, sizeof(o));
	memset(&w, 0, sizeof(w));
	c->detail[0] = '\0';
	c->reset_why[0] = '\0';
	if (!handle_valid(handle))
		return SOTTO_ERR_INVALID_ARG;
	if ((l = calloc(1, sizeof(*l))) == NULL)
		return SOTTO_ERR_NOMEM;
	/* What is trusted now, from the store alone: kept as it was during a reset. */
	if ((r = cstore_contact_get(c->st, handle, &k)) == SOTTO_OK) {
		pending = k.state == CONTACT_RESET_PENDING;
		if ((r = cstore_list_latest(c->st, handle, l, &bytes, &n)) == SOTTO_OK)
			r = identity_fill(c, handle, l, bytes, n, k.verified && !is_mine(c, handle), &o);
		else if (r == SOTTO_ERR_NOT_FOUND)
			r = SOTTO_OK;
	} else if (r == SOTTO_ERR_NOT_FOUND)
		r = SOTTO_OK;
	if (r != SOTTO_OK)
		goto out;
	free(bytes);
	bytes = NULL;
	if ((r = cstore_held_count(c->st, handle, &nh)) != SOTTO_OK)
		goto out;
	/* What a trust would take, verified exactly as trust does, then undone:
	 * nothing of it (nor an alert it raised) stays. */
	if ((r = cstore_begin(c->st)) != SOTTO_OK)
		goto out;
	if ((r = cstore_contact_forget(c->st, handle)) == SOTTO_OK &&
	    (r = refresh(c, handle, 1, 0, l, &bytes, &n)) == SOTTO_OK)
		r = identity_fill(c, handle, l, bytes, n, 0, &w);
	cstore_rollback(c->st);
	/* Nothing the server shows verifies even as a first sight: still an
	 * answer (the old identity is worth seeing), with nothing to trust. */
	if (r == SOTTO_ERR_IDENTITY_RESET) {
		client_set_detail(c, "the device lists the server shows for %s do not verify either (%s)",
		    handle, c->reset_why[0] != '\0' ? c->reset_why : "fork");
		sotto_identity_clear(&w);
		r = SOTTO_OK;
	}
	if (r != SOTTO_OK)
		goto out;
	*old = o;
	*now = w;
	memset(&o, 0, sizeof(o));
	memset(&w, 0, sizeof(w));
	*reset = pending;
	*held = (size_t)nh;
out:
	sotto_identity_clear(&o);
	sotto_identity_clear(&w);
	free(bytes);
	free(l);
	return r;
}
