/* SPDX-License-Identifier: ISC */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static enum log_level cur_level = LOG_LVL_INFO;

static const char *const level_names[] = { "error", "warn", "info", "debug" };

void
log_set_level(enum log_level lvl)
{
	cur_level = lvl;
}

int
log_enabled(enum log_level lvl)
{
	return lvl <= cur_level;
}

void
log_event(enum log_level lvl, const char *event, const char *fmt, ...)
{
	char line[2048], ts[32];
	struct timespec now;
	struct tm tm;
	va_list ap;
	int n, m;

	if (!log_enabled(lvl))
		return;
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	if (strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm) == 0)
		ts[0] = '\0';
	/* pid: sottod runs several worker processes into one log. */
	n = snprintf(line, sizeof(line), "ts=%s.%03ldZ level=%s pid=%ld event=%s", ts,
	    now.tv_nsec / 1000000, level_names[lvl], (long)getpid(), event);
	if (n < 0)
		return;
	if ((size_t)n < sizeof(line) - 2 && fmt != NULL && *fmt != '\0') {
		line[n++] = ' ';
		va_start(ap, fmt);
		m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
		va_end(ap);
		if (m < 0)
			m = 0;
		n = (size_t)n + (size_t)m < sizeof(line) - 1 ? n + m : (int)sizeof(line) - 2;
	}
	if ((size_t)n > sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	/* One event, one line: nothing logged may break the line structure. */
	for (int i = 0; i < n; i++)
		if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
			line[i] = '?';
	line[n++] = '\n';
	/* One write per line keeps concurrent writers from interleaving. */
	fwrite(line, 1, (size_t)n, stderr);
	fflush(stderr);
}
