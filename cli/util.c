/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

#define PASSPHRASE_MAX 1024

int
cli_fail(const char *fmt, ...)
{
	va_list ap;

	fputs("sotto: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return CLI_EXIT_FAIL;
}

int
cli_fail_err(const sotto_client *c, int err)
{
	const char *d = c != NULL ? sotto_error_detail(c) : "";

	switch (err) {
	case SOTTO_ERR_IDENTITY_RESET:
		if (*d != '\0')
			return cli_fail("the identity of %s was reset; check it, then run `sotto trust %s`",
			    d, d);
		break;
	case SOTTO_ERR_INVALID_ARG:
		if (*d != '\0')
			return cli_fail("%s", d);
		break;
	case SOTTO_ERR_UNAUTHENTICATED:
		if (c != NULL)
			return cli_fail("the server refused this device: it is not in its account's "
			    "device list (removed, or the account was recovered elsewhere)");
		break;
	case SOTTO_ERR_NOT_FOUND:
		if (c == NULL)
			return cli_fail("no device here: run `sotto init` first");
		break;
	default:
		break;
	}
	if (*d != '\0')
		return cli_fail("%s: %s", sotto_strerror(err), d);
	return cli_fail("%s", sotto_strerror(err));
}

int
cli_check_new_device(const char *handle, const char *name)
{
	if (handle != NULL && !sotto_handle_valid(handle))
		return cli_fail("invalid handle: %s (1 to %d of a-z 0-9 . _ -, not starting with . or -)",
		    handle, SOTTO_HANDLE_MAX);
	if (name != NULL && !sotto_device_name_valid(name))
		return cli_fail("invalid device name: 1 to %d bytes of UTF-8 without control characters",
		    SOTTO_DEVICE_NAME_MAX);
	return CLI_EXIT_OK;
}

void
cli_free_secret(char *s)
{
	if (s == NULL)
		return;
	explicit_bzero(s, strlen(s));
	free(s);
}

/* One line from the terminal with echo off. */
static int
prompt(int fd, const char *what, char *buf, size_t max)
{
	struct termios old, raw;
	size_t n = 0;
	ssize_t k;
	char ch;
	int restore = 0, r = -1;

	if (write(fd, what, strlen(what)) < 0)
		return -1;
	if (tcgetattr(fd, &old) == 0) {
		raw = old;
		raw.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
		raw.c_lflag |= ICANON;
		if (tcsetattr(fd, TCSAFLUSH, &raw) == 0)
			restore = 1;
	}
	for (;;) {
		k = read(fd, &ch, 1);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0 || ch == '\n' || ch == '\r')
			break;
		if (n + 1 >= max)
			goto out;
		buf[n++] = ch;
	}
	buf[n] = '\0';
	r = k < 0 ? -1 : 0;
out:
	explicit_bzero(&ch, sizeof(ch));
	if (restore)
		(void)tcsetattr(fd, TCSAFLUSH, &old);
	if (write(fd, "\n", 1) < 0)
		r = -1;
	return r;
}

int
cli_passphrase(char **out, int confirm)
{
	const char *e = getenv("SOTTO_PASSPHRASE");
	char *a = NULL, *b = NULL;
	int fd = -1, rc = CLI_EXIT_FAIL;

	*out = NULL;
	if (e != NULL) {
		if (*e == '\0')
			return cli_fail("SOTTO_PASSPHRASE is empty");
		if ((*out = strdup(e)) == NULL)
			return cli_fail("out of memory");
		return CLI_EXIT_OK;
	}
	if ((fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY)) == -1)
		return cli_fail("no terminal for the passphrase: set SOTTO_PASSPHRASE%s",
		    confirm ? " or use --no-passphrase" : "");
	if ((a = calloc(1, PASSPHRASE_MAX)) == NULL || (b = calloc(1, PASSPHRASE_MAX)) == NULL) {
		rc = cli_fail("out of memory");
		goto out;
	}
	if (prompt(fd, "passphrase: ", a, PASSPHRASE_MAX) != 0) {
		rc = cli_fail("could not read the passphrase");
		goto out;
	}
	if (*a == '\0') {
		rc = cli_fail("empty passphrase%s", confirm ? " (use --no-passphrase for none)" : "");
		goto out;
	}
	if (confirm) {
		if (prompt(fd, "passphrase again: ", b, PASSPHRASE_MAX) != 0) {
			rc = cli_fail("could not read the passphrase");
			goto out;
		}
		if (strcmp(a, b) != 0) {
			rc = cli_fail("the passphrases differ");
			goto out;
		}
	}
	*out = a;
	a = NULL;
	rc = CLI_EXIT_OK;
out:
	if (fd != -1)
		close(fd);
	if (a != NULL)
		explicit_bzero(a, PASSPHRASE_MAX);
	if (b != NULL)
		explicit_bzero(b, PASSPHRASE_MAX);
	free(a);
	free(b);
	return rc;
}

int
cli_open(const char *home, sotto_client **c)
{
	const char *e;
	long secs;
	char *pass = NULL;
	int r, rc;

	*c = NULL;
	if ((r = sotto_home_needs_passphrase(home)) < 0)
		return cli_fail_err(NULL, r);
	if (r == 1 && (rc = cli_passphrase(&pass, 0)) != CLI_EXIT_OK)
		return rc;
	r = sotto_open(c, home, pass);
	cli_free_secret(pass);
	if (r != SOTTO_OK)
		return cli_fail_err(NULL, r);
	/* The directory alert's threshold (README "Using the client"); anything
	 * not a number of seconds is ignored, keeping the 24 h default. */
	if ((e = getenv("SOTTO_DIRECTORY_ALERT_SECONDS")) != NULL &&
	    cli_parse_int(e, 1, 365L * 24 * 3600, &secs) == 0)
		sotto_set_directory_alert(*c, (uint64_t)secs);
	return CLI_EXIT_OK;
}

void
cli_iso8601(char *out, size_t max, uint64_t ms)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL || strftime(out, max, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(out, max, "1970-01-01T00:00:00Z");
}

/* Length of the valid UTF-8 sequence at p (n bytes left), 0 if invalid. */
static size_t
utf8_len(const unsigned char *p, size_t n)
{
	size_t len, k;
	uint32_t cp, min;

	if (p[0] < 0x80)
		return 1;
	if ((p[0] & 0xe0) == 0xc0)
		len = 2, min = 0x80, cp = p[0] & 0x1f;
	else if ((p[0] & 0xf0) == 0xe0)
		len = 3, min = 0x800, cp = p[0] & 0x0f;
	else if ((p[0] & 0xf8) == 0xf0)
		len = 4, min = 0x10000, cp = p[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (k = 1; k < len; k++) {
		if ((p[k] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[k] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

void
cli_json_str(FILE *f, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, k;

	fputc('"', f);
	while (i < n) {
		unsigned char ch = p[i];

		if (ch == '"' || ch == '\\') {
			fputc('\\', f);
			fputc(ch, f);
		} else if (ch == '\n')
			fputs("\\n", f);
		else if (ch == '\r')
			fputs("\\r", f);
		else if (ch == '\t')
			fputs("\\t", f);
		else if (ch < 0x20 || ch == 0x7f)
			fprintf(f, "\\u%04x", ch);
		else if (ch < 0x80)
			fputc(ch, f);
		else if ((k = utf8_len(p + i, n - i)) == 0)
			fputs("\\ufffd", f);
		else {
			fwrite(p + i, 1, k, f);
			i += k;
			continue;
		}
		i++;
	}
	fputc('"', f);
}

/* Bidirectional controls (U+061C, U+200E/F, U+202A..E, U+2066..9) and the
 * line and paragraph separators (U+2028/9): on a terminal they reorder or
 * break what the reader sees, so one sender's text could pass for another's. */
static int
text_spoofer(const unsigned char *p, size_t k)
{
	if (k == 2)
		return p[0] == 0xd8 && p[1] == 0x9c;
	if (k != 3 || p[0] != 0xe2)
		return 0;
	if (p[1] == 0x80)
		return p[2] == 0x8e || p[2] == 0x8f || (p[2] >= 0xa8 && p[2] <= 0xae);
	return p[1] == 0x81 && p[2] >= 0xa6 && p[2] <= 0xa9;
}

void
cli_text(FILE *f, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, k;

	while (i < n) {
		if (p[i] == '\n')
			fputs("\\n", f);
		else if (p[i] < 0x20 || p[i] == 0x7f)
			fputc('?', f);
		else if (p[i] < 0x80)
			fputc(p[i], f);
		else if ((k = utf8_len(p + i, n - i)) == 0 ||
		    (k == 2 && p[i] == 0xc2 && p[i + 1] < 0xa0) ||	/* C1 controls */
		    text_spoofer(p + i, k)) {
			fputc('?', f);
			i += k > 0 ? k : 1;
			continue;
		}
		else {
			fwrite(p + i, 1, k, f);
			i += k;
			continue;
		}
		i++;
	}
}

int
cli_parse_int(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (*s == '\0' || *end != '\0' || errno != 0 || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

void
cli_warnings(const sotto_client *c)
{
	const char *p = sotto_warnings(c), *nl;

	while (*p != '\0') {
		if ((nl = strchr(p, '\n')) == NULL)
			nl = p + strlen(p);
		fputs("sotto: warning: ", stderr);
		cli_text(stderr, p, (size_t)(nl - p));
		fputc('\n', stderr);
		p = *nl != '\0' ? nl + 1 : nl;
	}
}

int
cli_has_terminal(void)
{
	int fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);

	if (fd == -1)
		return 0;
	close(fd);
	return 1;
}

int
cli_confirm(const char *question)
{
	char buf[16];
	size_t n = 0;
	ssize_t k;
	char ch;
	int fd, r;

	if ((fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY)) == -1)
		return -1;
	r = 0;
	if (write(fd, question, strlen(question)) < 0 || write(fd, " [y/N] ", 7) < 0)
		goto out;
	while ((k = read(fd, &ch, 1)) == 1 || (k < 0 && errno == EINTR)) {
		if (k < 0)
			continue;
		if (ch == '\n')
			break;
		if (n < sizeof(buf) - 1)
			buf[n++] = ch;
	}
	buf[n] = '\0';
	r = strcmp(buf, "y") == 0 || strcmp(buf, "Y") == 0 || strcmp(buf, "yes") == 0;
out:
	close(fd);
	return r;
}
