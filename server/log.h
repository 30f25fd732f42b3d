/* SPDX-License-Identifier: ISC */
/*
 * sottod's structured log: one line per event on stderr,
 *   ts=<ISO 8601 UTC, ms> level=<info|debug|warn|error> event=<name> key=value ...
 * fmt/... add the key=value pairs (the caller quotes values that may hold spaces,
 * e.g. err="%s"). Values must never carry secrets or message contents.
 */
#ifndef SOTTOD_LOG_H
#define SOTTOD_LOG_H

enum log_level {
	LOG_LVL_ERROR = 0,
	LOG_LVL_WARN = 1,
	LOG_LVL_INFO = 2,
	LOG_LVL_DEBUG = 3,
};

/* Events above this level are dropped; default LOG_LVL_INFO. */
void log_set_level(enum log_level lvl);
int log_enabled(enum log_level lvl);
void log_event(enum log_level lvl, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define log_info(ev, ...) log_event(LOG_LVL_INFO, ev, __VA_ARGS__)
#define log_debug(ev, ...) log_event(LOG_LVL_DEBUG, ev, __VA_ARGS__)
#define log_warn(ev, ...) log_event(LOG_LVL_WARN, ev, __VA_ARGS__)
#define log_error(ev, ...) log_event(LOG_LVL_ERROR, ev, __VA_ARGS__)

#endif
