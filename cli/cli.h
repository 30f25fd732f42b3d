/* SPDX-License-Identifier: ISC */
/*
 * The `sotto` command: a table of subcommands (cli.c), one file per command
 * group (cmd_*.c), and the few helpers they share (util.c). Output formats are
 * the contract of DESIGN.md section 7; errors are one `sotto: ...` line on
 * stderr with exit code 1, usage errors exit 2.
 */
#ifndef SOTTO_CLI_H
#define SOTTO_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "sotto/sotto.h"

#define CLI_EXIT_OK 0
#define CLI_EXIT_FAIL 1
#define CLI_EXIT_USAGE 2

typedef struct cli_cmd {
	const char *name;
	const char *usage;	/* arguments after the name */
	/* argv[0] is the command name; home is the resolved home folder. */
	int (*run)(const char *home, int argc, char **argv);
} cli_cmd;

/* Entry point used by main(): parses --home anywhere, dispatches. */
int cli_main(int argc, char **argv);

/* Usage line of a command on stderr; returns CLI_EXIT_USAGE. */
int cli_usage(const char *name);

/* Print `sotto: <msg>` on stderr; returns CLI_EXIT_FAIL. */
int cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The message for err from a library call on c (c may be NULL). */
int cli_fail_err(const sotto_client *c, int err);

/* Open the device in home, asking for the passphrase only if its key file
 * needs one. Returns CLI_EXIT_OK and *c, or the exit code after printing. */
int cli_open(const char *home, sotto_client **c);

/* Each line of sotto_warnings(c) as `sotto: warning: <line>` on stderr. */
void cli_warnings(const sotto_client *c);

/* 1 if there is a terminal to ask on (cli_confirm, cli_passphrase). */
int cli_has_terminal(void);

/* Ask "QUESTION [y/N] " on /dev/tty: 1 yes, 0 no, -1 no terminal. */
int cli_confirm(const char *question);

/* Passphrase: SOTTO_PASSPHRASE, else a no-echo prompt on /dev/tty (confirm:
 * asked twice). *out: caller frees with cli_free_secret. */
int cli_passphrase(char **out, int confirm);
void cli_free_secret(char *s);

/* "YYYY-MM-DDTHH:MM:SSZ" of ms since the epoch; out holds 32 bytes. */
void cli_iso8601(char *out, size_t max, uint64_t ms);

/* JSON string (with quotes) of n bytes: escapes quotes, backslashes and
 * control characters; invalid UTF-8 becomes U+FFFD. */
void cli_json_str(FILE *f, const char *s, size_t n);
/* Text for a terminal line: control characters shown as `\n` or `?`. */
void cli_text(FILE *f, const char *s, size_t n);

/* One message on stdout: a JSON object line (DESIGN.md section 7), or
 * "TIME FROM -> TO: TEXT" for a person. */
void cli_print_message(const sotto_message *m, int json);

/* The handle and device name of a new device (init, link, recover), checked
 * before any work so each gets its own message. CLI_EXIT_OK or the exit code
 * after printing. name may be NULL (the default name). */
int cli_check_new_device(const char *handle, const char *name);

/* Parse a decimal int in [min, max]; 0 on success. */
int cli_parse_int(const char *s, long min, long max, long *out);

/* The devices d[0..n) as `sotto devices` prints them: a line each, or with json
 * a JSON object each; identity (may be NULL) adds "identity":"old"/"new" and
 * verified (>= 0) "verified" to every object (2: false, and "verified_lost":
 * true), indent (text) a prefix. */
void cli_print_devices(const sotto_client *c, const sotto_device *d, size_t n, int json,
    const char *identity, int verified, const char *indent);
/* During an identity reset of handle: what is trusted and what the server
 * shows, for safety-number and devices (what = "safety-number" or "devices").
 * CLI_EXIT_OK or the exit code after printing. */
int cli_show_reset(sotto_client *c, const char *handle, int json, const char *what);

int cmd_init(const char *home, int argc, char **argv);
int cmd_send(const char *home, int argc, char **argv);
int cmd_receive(const char *home, int argc, char **argv);
int cmd_devices(const char *home, int argc, char **argv);
int cmd_alerts(const char *home, int argc, char **argv);
int cmd_safety_number(const char *home, int argc, char **argv);
int cmd_verify(const char *home, int argc, char **argv);
int cmd_trust(const char *home, int argc, char **argv);
int cmd_link(const char *home, int argc, char **argv);
int cmd_approve(const char *home, int argc, char **argv);
int cmd_remove_device(const char *home, int argc, char **argv);
int cmd_recover(const char *home, int argc, char **argv);
int cmd_history(const char *home, int argc, char **argv);

#endif
