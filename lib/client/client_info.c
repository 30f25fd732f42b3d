/* SPDX-License-Identifier: ISC */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"

int
client_devices_of(const dl_list *l, sotto_device **out, size_t *n)
{
	sotto_device *d;

	*out = NULL;
	*n = 0;
	if ((d = calloc(l->n_devices > 0 ? l->n_devices : 1, sizeof(*d))) == NULL)
		return SOTTO_ERR_NOMEM;
	for (size_t i = 0; i < l->n_devices; i++) {
		const dl_device *s = &l->devices[i];

		sc_hex(d[i].id, s->id, SC_DEVICE_ID);
		snprintf(d[i].name, sizeof(d[i].name), "%s", s->name);
		dl_fingerprint(d[i].fingerprint, s);
		d[i].added_at = s->added_at;
		if (!sc_is_zero(s->approved_by, SC_DEVICE_ID))
			sc_hex(d[i].approved_by, s->approved_by, SC_DEVICE_ID);
	}
	*out = d;
	*n = l->n_devices;
	return SOTTO_OK;
}

int
sotto_devices(sotto_client *c, const char *handle, sotto_device **out, size_t *n)
{
	dl_list *l = NULL;
	int r;

	*out = NULL;
	*n = 0;
	c->detail[0] = '\0';
	if (handle == NULL)
		handle = c->cfg.handle;
	if ((l = calloc(1, sizeof(*l))) == NULL)
		return SOTTO_ERR_NOMEM;
	if ((r = client_list_refresh(c, handle, l, NULL, NULL)) == SOTTO_OK)
		r = client_devices_of(l, out, n);
	free(l);
	return r;
}

int
sotto_alerts(sotto_client *c, sotto_alert **out, size_t *n)
{
	c->detail[0] = '\0';
	return cstore_alerts(c->st, out, n);
}

/* The safety number with handle's account as verified on this device. */
static int
number_for(sotto_client *c, const char *handle, char out[SAFETY_NUMBER_LEN + 1])
{
	dl_list *l = NULL;
	int r;

	if (!handle_valid(handle))
		return SOTTO_ERR_INVALID_ARG;
	/* A number compares two accounts' keys; my own devices need none (each
	 * verified the account's chain itself). */
	if (strcmp(handle, c->cfg.handle) == 0) {
		client_set_detail(c, "a safety number is between two accounts, and %s is your own",
		    handle);
		return SOTTO_ERR_INVALID_ARG;
	}
	if ((l = calloc(1, sizeof(*l))) == NULL)
		return SOTTO_ERR_NOMEM;
	if ((r = client_list_refresh(c, handle, l, NULL, NULL)) == SOTTO_OK)
		safety_number(out, c->cfg.handle, c->cfg.account_pub, handle, l->account_pub);
	free(l);
	return r;
}

int
sotto_safety_number(sotto_client *c, const char *handle, char out[SOTTO_SAFETY_NUMBER_LEN + 1])
{
	c->detail[0] = '\0';
	return number_for(c, handle, out);
}

int
sotto_verify(sotto_client *c, const char *handle, const char *number)
{
	char want[SAFETY_NUMBER_LEN + 1], a[SAFETY_NUMBER_LEN + 1], b[SAFETY_NUMBER_LEN + 1];
	cstore_contact k;
	size_t na = 0, nb = 0, i;
	int r;

	c->detail[0] = '\0';
	if (number == NULL)
		return SOTTO_ERR_INVALID_ARG;
	if ((r = number_for(c, handle, want)) != SOTTO_OK)
		return r;
	/* Compare digits only: people type the groups with or without spaces. */
	for (i = 0; want[i] != '\0'; i++)
		if (want[i] != ' ')
			a[na++] = want[i];
	for (i = 0; number[i] != '\0'; i++) {
		if (number[i] == ' ' || number[i] == '\t')
			continue;
		if (nb >= sizeof(b) - 1 || number[i] < '0' || number[i] > '9')
			return SOTTO_ERR_FORMAT;
		b[nb++] = number[i];
	}
	if (na != nb || !sc_memeq(a, b, na))
		return SOTTO_ERR_BAD_SIGNATURE;
	if ((r = cstore_contact_get(c->st, handle, &k)) != SOTTO_OK)
		return r;
	k.verified = 1;
	return cstore_contact_put(c->st, &k);
}

int
sotto_contact_verified(sotto_client *c, const char *handle)
{
	cstore_contact k;
	int r;

	c->detail[0] = '\0';
	if (handle == NULL || !handle_valid(handle))
		return SOTTO_ERR_INVALID_ARG;
	if ((r = cstore_contact_get(c->st, handle, &k)) != SOTTO_OK)
		return r;
	return k.verified ? 1 : 0;
}

int
sotto_contact_verified_lost(sotto_client *c, const char *handle)
{
	cstore_contact k;
	int r;

	c->detail[0] = '\0';
	if (handle == NULL || !handle_valid(handle))
		return SOTTO_ERR_INVALID_ARG;
	if ((r = cstore_contact_get(c->st, handle, &k)) != SOTTO_OK)
		return r;
	return k.verified_lost ? 1 : 0;
}
