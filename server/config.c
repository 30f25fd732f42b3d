/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "sotto/error.h"

void
config_defaults(sottod_config *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->address, sizeof(c->address), "%s", CONFIG_DEFAULT_ADDRESS);
	c->listen[0] = '\0';
	c->registration_open = 0;
	c->expiry_seconds = SOTTO_DEFAULT_EXPIRY_SECONDS;
	c->mailbox_cap = SOTTO_DEFAULT_MAILBOX_CAP;
	c->log_debug = 0;
	c->max_frame = SOTTO_MAX_FRAME;
	c->max_recipients = SOTTO_MAX_RECIPIENTS;
	c->max_conns_per_addr = SOTTO_DEFAULT_MAX_CONNS_PER_ADDR;
	c->preauth_seconds = SOTTO_PREAUTH_SECONDS;
	c->link_offer_seconds = CONFIG_DEFAULT_LINK_OFFER_SECONDS;
	c->list_publishes_per_hour = CONFIG_DEFAULT_LIST_PUBLISHES_PER_HOUR;
	c->mailbox_sender_cap = CONFIG_DEFAULT_MAILBOX_SENDER_CAP;
	c->account_quota_bytes = CONFIG_DEFAULT_ACCOUNT_QUOTA_BYTES;
	c->account_byte_rate = CONFIG_DEFAULT_ACCOUNT_BYTE_RATE;
	c->account_byte_burst = CONFIG_DEFAULT_ACCOUNT_BYTE_BURST;
	c->lookup_rate = SOTTO_DEFAULT_LOOKUP_RATE;
	c->lookup_burst = SOTTO_DEFAULT_LOOKUP_BURST;
	c->addr_lookup_rate = SOTTO_DEFAULT_ADDR_LOOKUP_RATE;
	c->addr_lookup_burst = SOTTO_DEFAULT_ADDR_LOOKUP_BURST;
	c->send_rate = SOTTO_DEFAULT_SEND_RATE;
	c->send_burst = SOTTO_DEFAULT_SEND_BURST;
	c->addr_send_rate = SOTTO_DEFAULT_ADDR_SEND_RATE;
	c->addr_send_burst = SOTTO_DEFAULT_ADDR_SEND_BURST;
}

static int
parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (*s == '\0' || strlen(s) > 19)
		return SOTTO_ERR_FORMAT;
	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] < '0' || s[i] > '9')
			return SOTTO_ERR_FORMAT;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v < min || v > max)
		return SOTTO_ERR_FORMAT;
	*out = v;
	return SOTTO_OK;
}

int
config_split_address(const char *addr, char *host, size_t hostlen, int *port, int allow_zero)
{
	const char *colon, *hs, *he;
	uint64_t p;
	size_t n = strnlen(addr, SOTTO_MAX_ADDRESS + 1);

	*port = 0;
	if (hostlen > 0)
		host[0] = '\0';
	if (n == 0 || n > SOTTO_MAX_ADDRESS || (colon = strrchr(addr, ':')) == NULL)
		return SOTTO_ERR_FORMAT;
	hs = addr;
	he = colon;
	if (*hs == '[') {
		if (he - hs < 3 || he[-1] != ']')
			return SOTTO_ERR_FORMAT;
		hs++;
		he--;
	} else if (memchr(hs, ':', (size_t)(he - hs)) != NULL)
		return SOTTO_ERR_FORMAT;	/* bare IPv6 needs brackets */
	if (he == hs || (size_t)(he - hs) >= hostlen)
		return SOTTO_ERR_FORMAT;
	for (const char *q = hs; q < he; q++)
		if (*q <= ' ' || *q > '~' || *q == '[' || *q == ']' || *q == '/')
			return SOTTO_ERR_FORMAT;
	if (parse_u64(colon + 1, allow_zero ? 0 : 1, 65535, &p) != SOTTO_OK)
		return SOTTO_ERR_FORMAT;
	memcpy(host, hs, (size_t)(he - hs));
	host[he - hs] = '\0';
	*port = (int)p;
	return SOTTO_OK;
}

static char *
trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n'))
		*--e = '\0';
	return s;
}

/* The numeric caps and rates: key, field, bounds, and the message naming them. */
typedef struct num_key {
	const char *key;
	size_t off;
	uint64_t min, max;
	const char *why;
} num_key;

#define NUM_KEY(k, lo, hi, w) { #k, offsetof(sottod_config, k), lo, hi, w }
static const num_key num_keys[] = {
	NUM_KEY(max_frame, SOTTO_MAX_FRAME_PREAUTH, SOTTO_MAX_FRAME,
	    "max_frame must be a number from 16384 to the compiled SOTTO_MAX_FRAME"),
	NUM_KEY(max_recipients, 1, SOTTO_MAX_RECIPIENTS, "max_recipients must be a number from 1 to 64"),
	NUM_KEY(max_conns_per_addr, 1, SOTTO_MAX_CONNS_PER_ADDR,
	    "max_conns_per_addr must be a number from 1 to 65536"),
	NUM_KEY(preauth_seconds, 1, SOTTO_PREAUTH_SECONDS, "preauth_seconds must be a number from 1 to 10"),
	NUM_KEY(link_offer_seconds, 1, CONFIG_MAX_LINK_OFFER_SECONDS,
	    "link_offer_seconds must be a number from 1 to 60"),
	NUM_KEY(list_publishes_per_hour, 1, CONFIG_MAX_LIST_PUBLISHES_PER_HOUR,
	    "list_publishes_per_hour must be a number from 1 to 256"),
	NUM_KEY(mailbox_sender_cap, 1, CONFIG_DEFAULT_MAILBOX_SENDER_CAP,
	    "mailbox_sender_cap must be a number from 1 to 1000"),
	NUM_KEY(account_quota_bytes, 1, CONFIG_DEFAULT_ACCOUNT_QUOTA_BYTES,
	    "account_quota_bytes must be a number from 1 to 1073741824"),
	NUM_KEY(account_byte_rate, 1, CONFIG_DEFAULT_ACCOUNT_BYTE_RATE,
	    "account_byte_rate must be a number from 1 to 2097152"),
	NUM_KEY(account_byte_burst, 1, CONFIG_DEFAULT_ACCOUNT_BYTE_BURST,
	    "account_byte_burst must be a number from 1 to 33554432"),
	NUM_KEY(lookup_rate, 1, SOTTO_MAX_RATE, "rates and bursts must be numbers from 1 to 1000000"),
	NUM_KEY(lookup_burst, 1, SOTTO_MAX_RATE, "rates and bursts must be numbers from 1 to 1000000"),
	NUM_KEY(addr_lookup_rate, 1, SOTTO_MAX_RATE, "rates and bursts must be numbers from 1 to 1000000"),
	NUM_KEY(addr_lookup_burst, 1, SOTTO_MAX_RATE, "rates and bursts must be numbers from 1 to 1000000"),
	NUM_KEY(send_rate, 1, SOTTO_MAX_RATE, "rates and bursts must be numbers from 1 to 1000000"),
	NUM_KEY(send_burst, 1, SOTTO_MAX_RATE, "rates and bursts must be numbers from 1 to 1000000"),
	NUM_KEY(addr_send_rate, 1, SOTTO_MAX_RATE, "rates and bursts must be numbers from 1 to 1000000"),
	NUM_KEY(addr_send_burst, 1, SOTTO_MAX_RATE, "rates and bursts must be numbers from 1 to 1000000"),
};

/* A user name as useradd takes it: no path or shell tricks reach getpwnam. */
static int
user_valid(const char *u)
{
	size_t n = strlen(u);

	if (n == 0 || n > CONFIG_MAX_USER || u[0] == '-')
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((u[i] >= 'a' && u[i] <= 'z') || (u[i] >= 'A' && u[i] <= 'Z') ||
		    (u[i] >= '0' && u[i] <= '9') || u[i] == '_' || u[i] == '-' || u[i] == '.'))
			return 0;
	return 1;
}

static int
set_key(sottod_config *c, const char *key, const char *val, const char **why)
{
	char host[SOTTO_MAX_ADDRESS + 1];
	int port;

	*why = "bad value";
	for (size_t i = 0; i < sizeof(num_keys) / sizeof(num_keys[0]); i++) {
		if (strcmp(key, num_keys[i].key) != 0)
			continue;
		if (parse_u64(val, num_keys[i].min, num_keys[i].max,
		    (uint64_t *)(void *)((char *)c + num_keys[i].off)) != SOTTO_OK) {
			*why = num_keys[i].why;
			return SOTTO_ERR_FORMAT;
		}
		return SOTTO_OK;
	}
	if (strcmp(key, "user") == 0) {
		if (!user_valid(val)) {
			*why = "user must be a user name";
			return SOTTO_ERR_FORMAT;
		}
		snprintf(c->user, sizeof(c->user), "%s", val);
	} else if (strcmp(key, "address") == 0 || strcmp(key, "listen") == 0) {
		int is_listen = key[0] == 'l';

		if (config_split_address(val, host, sizeof(host), &port, is_listen) != SOTTO_OK) {
			*why = "bad address (want HOST:PORT)";
			return SOTTO_ERR_FORMAT;
		}
		snprintf(is_listen ? c->listen : c->address, SOTTO_MAX_ADDRESS + 1, "%s", val);
	} else if (strcmp(key, "registration") == 0) {
		if (strcmp(val, "invite") == 0)
			c->registration_open = 0;
		else if (strcmp(val, "open") == 0)
			c->registration_open = 1;
		else {
			*why = "registration must be invite or open";
			return SOTTO_ERR_FORMAT;
		}
	} else if (strcmp(key, "expiry_seconds") == 0) {
		if (parse_u64(val, 1, SOTTO_DEFAULT_EXPIRY_SECONDS, &c->expiry_seconds) != SOTTO_OK) {
			*why = "expiry_seconds must be a number from 1 to 604800";
			return SOTTO_ERR_FORMAT;
		}
	} else if (strcmp(key, "mailbox_cap") == 0) {
		if (parse_u64(val, 1, SOTTO_DEFAULT_MAILBOX_CAP, &c->mailbox_cap) != SOTTO_OK) {
			*why = "mailbox_cap must be a number from 1 to 10000";
			return SOTTO_ERR_FORMAT;
		}
	} else if (strcmp(key, "workers") == 0) {
		uint64_t w;

		if (parse_u64(val, 1, CONFIG_MAX_WORKERS, &w) != SOTTO_OK) {
			*why = "workers must be a number from 1 to 64";
			return SOTTO_ERR_FORMAT;
		}
		c->workers = (unsigned)w;
	} else if (strcmp(key, "storage") == 0) {
		if (strcmp(val, "sqlite") == 0)
			c->storage = CONFIG_STORAGE_SQLITE;
		else if (strcmp(val, "postgres") == 0)
			c->storage = CONFIG_STORAGE_POSTGRES;
		else {
			*why = "storage must be sqlite or postgres";
			return SOTTO_ERR_FORMAT;
		}
	} else if (strcmp(key, "postgres_url") == 0) {
		if (*val == '\0') {
			*why = "postgres_url must not be empty";
			return SOTTO_ERR_FORMAT;
		}
		snprintf(c->postgres_url, sizeof(c->postgres_url), "%s", val);
	} else if (strcmp(key, "log_level") == 0) {
		if (strcmp(val, "info") == 0)
			c->log_debug = 0;
		else if (strcmp(val, "debug") == 0)
			c->log_debug = 1;
		else {
			*why = "log_level must be info or debug";
			return SOTTO_ERR_FORMAT;
		}
	} else {
		*why = "unknown key";
		return SOTTO_ERR_FORMAT;
	}
	return SOTTO_OK;
}

int
config_parse_stream(sottod_config *c, FILE *f, char *err, size_t errlen)
{
	/* +2: room for the newline and the NUL, so an overlong line is seen as one. */
	char line[SOTTO_MAX_CONFIG_LINE + 2], *s, *eq, *key, *val;
	const char *why;
	unsigned long lineno = 0;
	size_t n;
	int rc = SOTTO_OK;

	if (errlen > 0)
		err[0] = '\0';
	while (fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		n = strlen(line);
		if (n > 0 && line[n - 1] == '\n')
			line[--n] = '\0';
		else if (!feof(f) || n > SOTTO_MAX_CONFIG_LINE) {
			snprintf(err, errlen, "line %lu: longer than %d bytes", lineno, SOTTO_MAX_CONFIG_LINE);
			rc = SOTTO_ERR_TOO_LARGE;
			goto out;
		}
		if (n > SOTTO_MAX_CONFIG_LINE || memchr(line, '\0', n) != NULL) {
			snprintf(err, errlen, "line %lu: longer than %d bytes or holds a NUL", lineno,
			    SOTTO_MAX_CONFIG_LINE);
			rc = SOTTO_ERR_TOO_LARGE;
			goto out;
		}
		s = trim(line);
		if (*s == '\0' || *s == '#')
			continue;
		if ((eq = strchr(s, '=')) == NULL) {
			snprintf(err, errlen, "line %lu: expected key = value", lineno);
			rc = SOTTO_ERR_FORMAT;
			goto out;
		}
		*eq = '\0';
		key = trim(s);
		val = trim(eq + 1);
		if (*key == '\0') {
			snprintf(err, errlen, "line %lu: expected key = value", lineno);
			rc = SOTTO_ERR_FORMAT;
			goto out;
		}
		if (set_key(c, key, val, &why) != SOTTO_OK) {
			snprintf(err, errlen, "line %lu: %s \"%.64s\"", lineno, why,
			    strcmp(why, "unknown key") == 0 ? key : val);
			rc = SOTTO_ERR_FORMAT;
			goto out;
		}
	}
	if (ferror(f)) {
		snprintf(err, errlen, "read error");
		rc = SOTTO_ERR_IO;
		goto out;
	}
	if (c->listen[0] == '\0')
		snprintf(c->listen, sizeof(c->listen), "%s", c->address);
	if (c->storage == CONFIG_STORAGE_POSTGRES && c->postgres_url[0] == '\0') {
		snprintf(err, errlen, "storage = postgres needs postgres_url");
		rc = SOTTO_ERR_FORMAT;
	}
out:
	return rc;
}

int
config_load(sottod_config *c, const char *path, char *err, size_t errlen)
{
	FILE *f;
	int rc;

	if ((f = fopen(path, "re")) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return errno == ENOENT ? SOTTO_ERR_NOT_FOUND : SOTTO_ERR_IO;
	}
	rc = config_parse_stream(c, f, err, errlen);
	fclose(f);
	return rc;
}

int
config_write_new(const char *path, const sottod_config *c)
{
	FILE *f = NULL;
	int fd, rc = SOTTO_ERR_IO;

	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600)) == -1)
		return errno == EEXIST ? SOTTO_ERR_EXISTS : SOTTO_ERR_IO;
	if ((f = fdopen(fd, "w")) == NULL) {
		close(fd);
		goto out;
	}
	fprintf(f, "# sottod configuration: key = value; later lines override earlier ones.\n"
	    "# address: HOST:PORT clients dial (it goes into invite codes).\n"
	    "address = %s\n"
	    "# listen: HOST:PORT to bind (default: address).\n"
	    "# registration: invite (codes from `sottod invite`) or open.\n"
	    "registration = %s\n"
	    "# Undelivered copies are dropped after expiry_seconds.\n"
	    "expiry_seconds = %llu\n"
	    "# Stored copies per device before senders get MAILBOX_FULL.\n"
	    "mailbox_cap = %llu\n"
	    "# log_level: info or debug.\n"
	    "log_level = %s\n"
	    "# workers: processes serving the port (default: one per core).\n"
	    "# storage: sqlite (this directory) or postgres (then postgres_url =\n"
	    "# postgresql://USER@HOST/DB, shared by several nodes; docs/OPERATIONS.md).\n"
	    "# user: when started as root, run as this user (root without it is refused).\n"
	    "# Caps (may only be lowered): max_frame, max_recipients, mailbox_cap,\n"
	    "# mailbox_sender_cap (copies one sender may queue for one device),\n"
	    "# account_quota_bytes (bytes one account's stored copies hold),\n"
	    "# account_byte_rate, account_byte_burst (bytes one account may store per second),\n"
	    "# max_conns_per_addr, preauth_seconds. link_offer_seconds: a waiting device's link\n"
	    "# offer is withdrawn this long after it stops asking for the answer.\n"
	    "# list_publishes_per_hour: device lists one account may publish in any hour.\n"
	    "# Rate limits (per worker, token buckets):\n"
	    "# lookup_rate, lookup_burst, send_rate, send_burst (per device), addr_lookup_rate,\n"
	    "# addr_lookup_burst, addr_send_rate, addr_send_burst (per source address).\n",
	    c->address, c->registration_open ? "open" : "invite",
	    (unsigned long long)c->expiry_seconds, (unsigned long long)c->mailbox_cap,
	    c->log_debug ? "debug" : "info");
	if (c->listen[0] != '\0' && strcmp(c->listen, c->address) != 0)
		fprintf(f, "listen = %s\n", c->listen);
	if (fflush(f) != 0 || fsync(fileno(f)) != 0)
		goto out;
	rc = SOTTO_OK;
out:
	if (f != NULL && fclose(f) != 0 && rc == SOTTO_OK)
		rc = SOTTO_ERR_IO;
	if (rc != SOTTO_OK)
		unlink(path);
	return rc;
}
