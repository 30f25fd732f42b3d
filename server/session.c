/* SPDX-License-Identifier: ISC */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "server.h"
#include "sotto/error.h"

uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static size_t
bucket(const uint8_t id[SC_DEVICE_ID])
{
	/* Device ids are hash outputs: their first bytes are already uniform. */
	return (((size_t)id[0] << 8) | id[1]) % SOTTOD_CONN_BUCKETS;
}

conn *
conn_next_device(conn *c, const uint8_t id[SC_DEVICE_ID])
{
	for (; c != NULL; c = c->dnext)
		if (c->state == CONN_AUTHED && memcmp(c->device_id, id, SC_DEVICE_ID) == 0)	/* not secret: device ids are public */
			return c;
	return NULL;
}

conn *
conn_first_device(server *s, const uint8_t id[SC_DEVICE_ID])
{
	return conn_next_device(s->by_device[bucket(id)], id);
}

static void
attach_device(conn *c)
{
	size_t b = bucket(c->device_id);

	c->dprev = NULL;
	c->dnext = c->srv->by_device[b];
	if (c->dnext != NULL)
		c->dnext->dprev = c;
	c->srv->by_device[b] = c;
}

static void
detach_device(conn *c)
{
	size_t b = bucket(c->device_id);

	if (c->dprev != NULL)
		c->dprev->dnext = c->dnext;
	else if (c->srv->by_device[b] == c)
		c->srv->by_device[b] = c->dnext;
	if (c->dnext != NULL)
		c->dnext->dprev = c->dprev;
	c->dnext = c->dprev = NULL;
}

/* c (not attached yet) is its device's newest connection: past the cap, the
 * oldest still open goes. */
static void
drop_oldest_past_cap(conn *c)
{
	conn *x, *oldest = NULL;
	size_t n = 0;

	for (x = conn_first_device(c->srv, c->device_id); x != NULL;
	    x = conn_next_device(x->dnext, c->device_id)) {
		if (x->closing)
			continue;
		n++;
		if (oldest == NULL || x->serial < oldest->serial)
			oldest = x;
	}
	if (n < SOTTOD_MAX_CONNS_PER_DEVICE || oldest == NULL)
		return;
	cap_exceeded(oldest, "conns_per_device", "limit=%d", SOTTOD_MAX_CONNS_PER_DEVICE);
	session_respond_status(oldest, 0, SOTTO__WIRE__STATUS__RATE_LIMITED,
	    "too many connections of this device: the oldest is closed");
	conn_close_after_flush(oldest);
}

void
session_authenticated(conn *c, const char *handle, const uint8_t id[SC_DEVICE_ID])
{
	char hex[SC_DEVICE_ID * 2 + 1];

	snprintf(c->handle, sizeof(c->handle), "%s", handle);
	memcpy(c->device_id, id, SC_DEVICE_ID);
	c->state = CONN_AUTHED;
	drop_oldest_past_cap(c);
	attach_device(c);
	sc_hex(hex, id, SC_DEVICE_ID);
	log_info("auth_ok", "conn=%llu handle=%s device=%s", (unsigned long long)c->serial, handle, hex);
}

void
session_respond(conn *c, uint64_t id, Sotto__Wire__Response *r)
{
	wire_frame f = SOTTO__WIRE__FRAME__INIT;

	f.id = id;
	f.msg_case = SOTTO__WIRE__FRAME__MSG_RESPONSE;
	f.response = r;
	if (conn_send(c, &f) != SOTTO_OK)
		log_warn("send_failed", "conn=%llu", (unsigned long long)c->serial);
}

void
session_respond_status(conn *c, uint64_t id, Sotto__Wire__Status st, const char *detail)
{
	Sotto__Wire__Response r = SOTTO__WIRE__RESPONSE__INIT;

	r.status = st;
	if (st != SOTTO__WIRE__STATUS__OK && detail != NULL)
		r.error = (char *)detail;
	session_respond(c, id, &r);
}

void
session_open(conn *c)
{
	Sotto__Wire__Challenge ch = SOTTO__WIRE__CHALLENGE__INIT;
	wire_frame f = SOTTO__WIRE__FRAME__INIT;

	c->state = CONN_PREAUTH;
	sc_random(c->nonce, sizeof(c->nonce));
	c->nonce_used = 0;
	ch.nonce.data = c->nonce;
	ch.nonce.len = sizeof(c->nonce);
	ch.server_time = now_ms();
	ch.protocol_version = WIRE_PROTOCOL_VERSION;
	f.id = 0;
	f.msg_case = SOTTO__WIRE__FRAME__MSG_CHALLENGE;
	f.challenge = &ch;
	if (conn_send(c, &f) != SOTTO_OK)
		conn_close_after_flush(c);
}

void
session_closed(conn *c)
{
	if (c->state == CONN_AUTHED) {
		if (c->fetching)
			early_route_del(c->srv, c->device_id);
		detach_device(c);
	}
	sc_wipe(c->nonce, sizeof(c->nonce));
	dir_follow_free(c);
	c->state = CONN_DEAD;
}

/* One log line a second per cap at most: a flood of refusals must not
 * become a flood of log lines. */
#define CAP_LOG_SLOTS 16

void
cap_exceeded(const conn *c, const char *cap, const char *fmt, ...)
{
	static struct {
		const char *cap;
		uint64_t last_ms, suppressed;
	} slot[CAP_LOG_SLOTS];
	char detail[256];
	uint64_t now = now_ms();
	va_list ap;
	size_t i;

	for (i = 0; i < CAP_LOG_SLOTS && slot[i].cap != NULL && strcmp(slot[i].cap, cap) != 0; i++)
		;
	if (i == CAP_LOG_SLOTS)
		i = CAP_LOG_SLOTS - 1;
	slot[i].cap = cap;
	if (slot[i].last_ms != 0 && now - slot[i].last_ms < 1000) {
		slot[i].suppressed++;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	log_info("cap_exceeded", "cap=%s conn=%llu peer=%s %s suppressed=%llu", cap,
	    c != NULL ? (unsigned long long)c->serial : 0ULL, c != NULL ? c->peer : "-", detail,
	    (unsigned long long)slot[i].suppressed);
	slot[i].last_ms = now;
	slot[i].suppressed = 0;
}

/* Whom c's requests are charged to: its device and account once
 * authenticated, its address always. */
static limit_who
who_of(const conn *c)
{
	limit_who w = { NULL, NULL, c->peer };

	if (c->state == CONN_AUTHED) {
		w.device = c->device_id;
		w.account = c->handle;
	}
	return w;
}

/* The bucket that refused (limits_take's *which): device, account, address, server. */
static int
scope_of(const char *which)
{
	static const char *const scopes[] = { "device", "account", "address" };

	for (int i = 0; i < 3; i++)
		if (strcmp(which, scopes[i]) == 0)
			return i;
	return 3;
}

/* Its rate, for the peer's text, and the cap's name, for the log. */
static uint64_t
refused_rate(const sottod_config *cfg, enum limit_kind kind, int scope)
{
	const uint64_t rates[LIMIT__COUNT][4] = {
		{ cfg->lookup_rate, cfg->lookup_rate * LIMITS_ACCOUNT_FACTOR, cfg->addr_lookup_rate,
		    LIMITS_GLOBAL_LOOKUP_RATE },
		{ cfg->send_rate, cfg->send_rate, cfg->addr_send_rate, cfg->addr_send_rate },
		{ LIMITS_LINK_ADDR_RATE, LIMITS_LINK_ADDR_RATE, LIMITS_LINK_ADDR_RATE, LIMITS_GLOBAL_LINK_RATE },
	};

	return rates[kind][scope];
}

static const char *
cap_name(enum limit_kind kind, int scope)
{
	static const char *const names[LIMIT__COUNT][4] = {
		{ "lookup_rate", "account_lookup_rate", "addr_lookup_rate", "global_lookup_rate" },
		{ "send_rate", "send_rate", "addr_send_rate", "addr_send_rate" },
		{ "addr_link_rate", "addr_link_rate", "addr_link_rate", "global_link_rate" },
	};

	return names[kind][scope];
}

static int
take(conn *c, uint64_t id, enum limit_kind kind, double need, double cost)
{
	const char *which, *what = kind == LIMIT_LOOKUP ? "lookups" : kind == LIMIT_SEND ? "sends" :
	    "link requests";
	limit_who w = who_of(c);
	char text[160];

	if (c->srv->lim == NULL || limits_take(c->srv->lim, kind, &w, need, cost, now_ms(), &which))
		return 1;
	snprintf(text, sizeof(text), "rate limited: too many %s %s this %s (%llu per second); slow down",
	    what, scope_of(which) == 3 ? "on" : "from", which, (unsigned long long)refused_rate(&c->srv->cfg, kind, scope_of(which)));
	cap_exceeded(c, cap_name(kind, scope_of(which)), "handle=%s", c->state == CONN_AUTHED ? c->handle : "-");
	session_respond_status(c, id, SOTTO__WIRE__STATUS__RATE_LIMITED, text);
	return 0;
}

int
session_rate_ok(conn *c, uint64_t id, enum limit_kind kind)
{
	/* A lookup needs room for a miss: what it costs is known only after. */
	return take(c, id, kind, kind == LIMIT_LOOKUP ? SOTTO_LOOKUP_MISS_COST : 1.0, 1.0);
}

int
session_probe_ok(conn *c, uint64_t id, double cost)
{
	return take(c, id, LIMIT_LOOKUP, cost > SOTTO_LOOKUP_MISS_COST ? cost : SOTTO_LOOKUP_MISS_COST, cost);
}

void
session_charge_lookup(conn *c, double cost)
{
	limit_who w = who_of(c);

	if (c->srv->lim != NULL && cost > 0)
		limits_charge(c->srv->lim, LIMIT_LOOKUP, &w, cost, now_ms());
}

void
session_frame(conn *c, const uint8_t *p, size_t n)
{
	wire_frame *f = NULL;
	size_t max = c->state == CONN_AUTHED ? (size_t)c->srv->cfg.max_frame : SOTTO_MAX_FRAME_PREAUTH;
	uint64_t id;
	int rc;

	if (c->state != CONN_PREAUTH && c->state != CONN_AUTHED)
		return;
	if ((rc = wire_decode(&f, p, n, max)) != SOTTO_OK) {
		log_info("bad_frame", "conn=%llu len=%zu err=\"%s\"", (unsigned long long)c->serial, n,
		    sotto_strerror(rc));
		session_respond_status(c, 0, rc == SOTTO_ERR_TOO_LARGE ? SOTTO__WIRE__STATUS__TOO_LARGE :
		    SOTTO__WIRE__STATUS__BAD_REQUEST, "frame does not decode");
		conn_close_after_flush(c);
		return;
	}
	id = f->id;
	log_debug("request", "conn=%llu id=%llu kind=%d", (unsigned long long)c->serial,
	    (unsigned long long)id, (int)f->msg_case);
	switch (f->msg_case) {
	case SOTTO__WIRE__FRAME__MSG_AUTH:
		dir_auth(c, id, f->auth);
		break;
	case SOTTO__WIRE__FRAME__MSG_REGISTER:
		/* Open registration answers HANDLE_TAKEN for a handle that exists. */
		if (!c->srv->cfg.registration_open || session_probe_ok(c, id, 1.0))
			dir_register(c, id, f->register_);
		break;
	case SOTTO__WIRE__FRAME__MSG_LINK_POST:
		link_post(c, id, f->link_post);
		break;
	case SOTTO__WIRE__FRAME__MSG_LINK_GET:
		link_get(c, id, f->link_get);
		break;
	case SOTTO__WIRE__FRAME__MSG_RECOVER:
		/* Its answer does not tell, but its timing might: as a probe. */
		if (session_probe_ok(c, id, LIMITS_RECOVER_COST))
			link_recover(c, id, f->recover);
		break;
	case SOTTO__WIRE__FRAME__MSG_GET_DEVICE_LIST:
	case SOTTO__WIRE__FRAME__MSG_PUBLISH_DEVICE_LIST:
	case SOTTO__WIRE__FRAME__MSG_SEND:
	case SOTTO__WIRE__FRAME__MSG_ACK:
	case SOTTO__WIRE__FRAME__MSG_FETCH:
		if (c->state != CONN_AUTHED) {
			session_respond_status(c, id, SOTTO__WIRE__STATUS__UNAUTHENTICATED,
			    "authenticate first");
			break;
		}
		if (f->msg_case == SOTTO__WIRE__FRAME__MSG_GET_DEVICE_LIST) {
			if (session_rate_ok(c, id, LIMIT_LOOKUP))
				dir_get_lists(c, id, f->get_device_list);
		} else if (f->msg_case == SOTTO__WIRE__FRAME__MSG_PUBLISH_DEVICE_LIST)
			dir_publish(c, id, f->publish_device_list);
		else if (f->msg_case == SOTTO__WIRE__FRAME__MSG_FETCH)
			mbox_fetch(c, id, f->fetch);
		else if (f->msg_case == SOTTO__WIRE__FRAME__MSG_SEND) {
			/* A send's answer tells which recipients exist
			 * (NO_SUCH_HANDLE, STALE_DEVICE_LIST): it needs room for
			 * a miss, as a lookup does, and mbox_send charges. */
			if (session_rate_ok(c, id, LIMIT_SEND) && session_probe_ok(c, id, 0.0)) {
				mbox_send(c, f);
				f = NULL;
			}
		} else {
			mbox_ack(c, f);
			f = NULL;
		}
		break;
	default:
		session_respond_status(c, id, SOTTO__WIRE__STATUS__BAD_REQUEST, "unsupported frame");
		break;
	}
	/* An invite secret does not outlive its request in our heap. */
	if (f != NULL && f->msg_case == SOTTO__WIRE__FRAME__MSG_REGISTER && f->register_->invite_secret != NULL)
		sc_wipe(f->register_->invite_secret, strlen(f->register_->invite_secret));
	wire_free(f);
}
