/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "crypto.h"
#include "invite.h"
#include "log.h"
#include "server.h"
#include "sotto/error.h"
#include "store.h"
#include "tls.h"
#include "wire.h"

#define DB_FILE "sottod.db"
#define KEY_FILE "server.key"
#define CERT_FILE "server.crt"

static void __attribute__((noreturn, format(printf, 1, 2)))
die(const char *fmt, ...)
{
	va_list ap;

	fputs("sottod: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void
path_in(char *out, size_t outlen, const char *dir, const char *name)
{
	if ((size_t)snprintf(out, outlen, "%s/%s", dir, name) >= outlen)
		die("path too long: %s/%s", dir, name);
}

static void
load_config(sottod_config *cfg, const char *dir)
{
	char path[PATH_MAX], err[256];
	int rc;

	path_in(path, sizeof(path), dir, CONFIG_FILE_NAME);
	config_defaults(cfg);
	if ((rc = config_load(cfg, path, err, sizeof(err))) != SOTTO_OK) {
		if (rc == SOTTO_ERR_NOT_FOUND)
			die("%s has no %s (run `sottod init %s` first)", dir, CONFIG_FILE_NAME, dir);
		die("%s: %s", path, err);
	}
}

static store *
open_store(const sottod_config *cfg, const char *dir)
{
	char path[PATH_MAX];
	store *st;
	int rc;

	path_in(path, sizeof(path), dir, DB_FILE);
	if ((rc = server_store_open(cfg, dir, &st)) != SOTTO_OK) {
		if (cfg->storage == CONFIG_STORAGE_POSTGRES)
			die("cannot open the PostgreSQL database (postgres_url): %s", sotto_strerror(rc));
		die("cannot open database %s: %s", path, sotto_strerror(rc));
	}
	return st;
}

static void
load_pin(const char *dir, uint8_t pin[TLS_PIN_LEN])
{
	char path[PATH_MAX];
	int rc;

	path_in(path, sizeof(path), dir, CERT_FILE);
	if ((rc = tls_pin_from_cert_file(path, pin)) != SOTTO_OK)
		die("cannot read certificate %s: %s", path, sotto_strerror(rc));
}

/* Like mkdir -p for every component but the last. */
static int
mkdir_parents(const char *dir)
{
	char buf[PATH_MAX], *p;

	if ((size_t)snprintf(buf, sizeof(buf), "%s", dir) >= sizeof(buf))
		return -1;
	for (p = buf + 1; (p = strchr(p, '/')) != NULL; p++) {
		*p = '\0';
		if (mkdir(buf, 0700) != 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return 0;
}

/*
 * The TLS key and certificate, read now (sottod may still be root) so the
 * workers need no access to the key file once privileges are dropped. The
 * key lives in guarded memory, freed with the server.
 */
/*
 * A misbehaving server for one test (tests/integration/stale_retry.sh): the
 * client's answer to a send refused as stale — re-fetch, verify, warn, retry —
 * can only be reached when the lists a sender was shown are older than the
 * server's, which an honest server never does between a lookup and a send.
 * Said loudly in the log; never set outside that test.
 */
static void
test_mode(server *s)
{
	const char *h = getenv("SOTTOD_TEST_WITHHOLD_ONCE");

	if (h == NULL || *h == '\0')
		return;
	if (!handle_valid(h))
		die("SOTTOD_TEST_WITHHOLD_ONCE: not a handle: %s", h);
	snprintf(s->test_withhold, sizeof(s->test_withhold), "%s", h);
	log_warn("test_mode", "withhold_once=%s: this server MISBEHAVES on purpose (tests only)", h);
}

static void
read_tls_files(server *s, const char *dir)
{
	char path[PATH_MAX];
	FILE *f;
	long n;
	uint8_t **dst[2] = { &s->tls_key, &s->tls_cert };
	size_t *len[2] = { &s->tls_key_len, &s->tls_cert_len };
	const char *names[2] = { KEY_FILE, CERT_FILE };

	for (int i = 0; i < 2; i++) {
		path_in(path, sizeof(path), dir, names[i]);
		if ((f = fopen(path, "re")) == NULL)
			die("cannot read %s: %s", path, strerror(errno));
		/* Unbuffered: no copy of the key left in a stdio buffer. */
		setvbuf(f, NULL, _IONBF, 0);
		if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) <= 0 || n > 65536 || fseek(f, 0, SEEK_SET) != 0)
			die("%s: not a key or certificate file (empty, or over 64 KiB)", path);
		if ((*dst[i] = i == 0 ? sc_secure_alloc((size_t)n + 1) : malloc((size_t)n + 1)) == NULL)
			die("out of memory");
		if (fread(*dst[i], 1, (size_t)n, f) != (size_t)n)
			die("cannot read %s", path);
		(*dst[i])[n] = '\0';
		*len[i] = (size_t)n + 1;	/* lws wants the NUL of a PEM counted */
		fclose(f);
	}
}

/* Like sshd: a private key others may read is refused, not used. */
static void
check_key_file(const char *dir)
{
	char path[PATH_MAX];
	struct stat sb;

	path_in(path, sizeof(path), dir, KEY_FILE);
	if (lstat(path, &sb) != 0)
		die("cannot read %s: %s", path, strerror(errno));
	if (!S_ISREG(sb.st_mode))
		die("%s is not a regular file", path);
	if ((sb.st_mode & 077) != 0)
		die("%s is readable by others (mode %03o): chmod 600 it", path, (unsigned)(sb.st_mode & 0777));
}

#define USAGE \
	"usage: sottod init DIR [--address HOST:PORT] [--open]\n" \
	"       sottod run DIR [--listen HOST:PORT]\n" \
	"       sottod invite DIR HANDLE\n"

static int
usage(void)
{
	fputs(USAGE, stderr);
	return 2;
}

static int
cmd_init(int argc, char **argv)
{
	sottod_config cfg;
	char path[PATH_MAX], key[PATH_MAX], cert[PATH_MAX], host[SOTTO_MAX_ADDRESS + 1];
	char pintext[TLS_PIN_TEXT_LEN + 1];
	uint8_t pin[TLS_PIN_LEN];
	struct stat sb;
	const char *dir = NULL;
	store *st;
	int port, rc, i;

	config_defaults(&cfg);
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--address") == 0 && i + 1 < argc) {
			if (config_split_address(argv[++i], host, sizeof(host), &port, 0) != SOTTO_OK)
				die("bad --address %s (want HOST:PORT)", argv[i]);
			snprintf(cfg.address, sizeof(cfg.address), "%s", argv[i]);
		} else if (strcmp(argv[i], "--open") == 0)
			cfg.registration_open = 1;
		else if (argv[i][0] != '-' && dir == NULL)
			dir = argv[i];
		else
			return usage();
	}
	if (dir == NULL)
		return usage();
	if (config_split_address(cfg.address, host, sizeof(host), &port, 0) != SOTTO_OK)
		die("bad address %s", cfg.address);
	path_in(path, sizeof(path), dir, CONFIG_FILE_NAME);
	path_in(key, sizeof(key), dir, KEY_FILE);
	path_in(cert, sizeof(cert), dir, CERT_FILE);
	if (lstat(path, &sb) == 0)
		die("%s already has a configuration (%s)", dir, path);
	if (mkdir_parents(dir) != 0)
		die("cannot create the parents of %s: %s", dir, strerror(errno));
	if (mkdir(dir, 0700) != 0) {
		if (errno != EEXIST)
			die("cannot create %s: %s", dir, strerror(errno));
		if (lstat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
			die("%s exists and is not a directory", dir);
		if (chmod(dir, 0700) != 0)
			die("cannot restrict %s: %s", dir, strerror(errno));
	}
	if ((rc = tls_make_selfsigned(key, cert, host)) != SOTTO_OK)
		die("cannot make the server key in %s: %s", dir, sotto_strerror(rc));
	st = open_store(&cfg, dir);
	st->ops->close(st);
	/* The config goes last: its presence means the directory is complete. */
	if ((rc = config_write_new(path, &cfg)) != SOTTO_OK)
		die("cannot write %s: %s", path, sotto_strerror(rc));
	if ((rc = tls_pin_from_cert_file(cert, pin)) != SOTTO_OK)
		die("cannot read %s: %s", cert, sotto_strerror(rc));
	tls_pin_to_text(pintext, pin);
	printf("initialized %s\n", dir);
	printf("address: %s\n", cfg.address);
	printf("registration: %s\n", cfg.registration_open ? "open" : "invite");
	printf("pin: %s\n", pintext);
	return 0;
}

/*
 * One `sottod run` per folder: two would hand out the same copy seqs from two
 * counters (early.c) and each think it alone holds the node's shared memory.
 * The lock (flock on sottod.lock) is the supervisor's, shared by the workers
 * it forks, and goes with the last of them however they end. Opened read-only,
 * so a lock file made by root still serves the user sottod runs as.
 */
#define LOCK_WAIT_US	50000
#define LOCK_WAIT_TRIES	100	/* 5 s */

static int
lock_dir(const char *dir)
{
	char path[4200];
	int fd;

	snprintf(path, sizeof(path), "%s/sottod.lock", dir);
	if ((fd = open(path, O_RDONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644)) == -1)
		die("cannot open %s: %s", path, strerror(errno));
	/* A sottod just stopped may still have workers exiting (they follow
	 * their supervisor through PR_SET_PDEATHSIG): wait for them a while. */
	for (int i = 0; flock(fd, LOCK_EX | LOCK_NB) == -1; i++) {
		if (errno != EWOULDBLOCK && errno != EINTR)
			die("cannot lock %s: %s", path, strerror(errno));
		if (i >= LOCK_WAIT_TRIES)
			die("another sottod is already running on %s (it holds %s)", dir, path);
		usleep(LOCK_WAIT_US);
	}
	return fd;
}

static int
cmd_run(int argc, char **argv)
{
	server *s;
	const char *dir = NULL, *listen = NULL;
	char host[SOTTO_MAX_ADDRESS + 1];
	int port, rc, i, lock_fd;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc)
			listen = argv[++i];
		else if (argv[i][0] != '-' && dir == NULL)
			dir = argv[i];
		else
			return usage();
	}
	if (dir == NULL)
		return usage();
	if ((s = calloc(1, sizeof(*s))) == NULL)
		die("out of memory");
	load_config(&s->cfg, dir);
	if (listen != NULL) {
		if (config_split_address(listen, host, sizeof(host), &port, 1) != SOTTO_OK)
			die("bad --listen %s (want HOST:PORT)", listen);
		snprintf(s->cfg.listen, sizeof(s->cfg.listen), "%s", listen);
	}
	log_set_level(s->cfg.log_debug ? LOG_LVL_DEBUG : LOG_LVL_INFO);
	if ((size_t)snprintf(s->dir, sizeof(s->dir), "%s", dir) >= sizeof(s->dir))
		die("path too long: %s", dir);
	/* Root may only start sottod, never keep it: supervisor_run drops to
	 * cfg.user once the port is bound. */
	if (priv_is_root() && s->cfg.user[0] == '\0')
		die("refusing to run as root: set \"user = NAME\" in %s/%s (sottod binds the port and "
		    "reads its key as root, then runs as NAME; the folder must belong to NAME)", dir,
		    CONFIG_FILE_NAME);
	s->listen_fd = -1;
	s->ready_fd = -1;
	lock_fd = lock_dir(dir);
	check_key_file(dir);
	load_pin(dir, s->pin);
	read_tls_files(s, dir);
	test_mode(s);
	log_info("start", "dir=%s address=%s listen=%s registration=%s expiry_seconds=%llu mailbox_cap=%llu "
	    "storage=%s", dir, s->cfg.address, s->cfg.listen, s->cfg.registration_open ? "open" : "invite",
	    (unsigned long long)s->cfg.expiry_seconds, (unsigned long long)s->cfg.mailbox_cap,
	    s->cfg.storage == CONFIG_STORAGE_POSTGRES ? "postgres" : "sqlite");
	rc = supervisor_run(s);
	close(lock_fd);
	sc_secure_free(s->tls_key);
	free(s->tls_cert);
	free(s);
	return rc;
}

static int
cmd_invite(int argc, char **argv)
{
	sottod_config cfg;
	invite inv;
	char code[SOTTO_MAX_INVITE + 1];
	store *st;
	int rc;

	if (argc != 3)
		return usage();
	if (!handle_valid(argv[2]))
		die("invalid handle \"%s\" (1-%d characters of a-z 0-9 . _ -, not starting with . or -)",
		    argv[2], SOTTO_MAX_HANDLE);
	load_config(&cfg, argv[1]);
	memset(&inv, 0, sizeof(inv));
	load_pin(argv[1], inv.pin);
	/* As the user the server runs as: files SQLite makes stay that user's. */
	if (priv_is_root() && cfg.user[0] != '\0') {
		char err[256];

		if (priv_drop(cfg.user, err, sizeof(err)) != SOTTO_OK)
			die("cannot drop privileges to user \"%s\": %s", cfg.user, err);
	}
	snprintf(inv.address, sizeof(inv.address), "%s", cfg.address);
	snprintf(inv.handle, sizeof(inv.handle), "%s", argv[2]);
	st = open_store(&cfg, argv[1]);
	rc = dir_invite_create(st, argv[2], inv.secret, now_ms());
	st->ops->close(st);
	if (rc == SOTTO_ERR_HANDLE_TAKEN)
		die("handle \"%s\" is already registered", argv[2]);
	if (rc != SOTTO_OK)
		die("cannot store the invite: %s", sotto_strerror(rc));
	rc = invite_encode(&inv, code, sizeof(code));
	sc_wipe(&inv, sizeof(inv));
	if (rc != SOTTO_OK)
		die("cannot encode the invite: %s", sotto_strerror(rc));
	printf("Invite for \"%s\" at %s: single use, valid for 7 days.\n", argv[2], cfg.address);
	printf("Give it to them privately; they run: sotto init --invite CODE --handle %s\n", argv[2]);
	printf("%s\n", code);
	sc_wipe(code, sizeof(code));
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc < 2)
		return usage();
	umask(077);
	if (sc_init() != SOTTO_OK)
		die("cannot initialise libsodium");
	if (strcmp(argv[1], "init") == 0)
		return cmd_init(argc - 1, argv + 1);
	if (strcmp(argv[1], "run") == 0)
		return cmd_run(argc - 1, argv + 1);
	if (strcmp(argv[1], "invite") == 0)
		return cmd_invite(argc - 1, argv + 1);
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		fputs(USAGE, stdout);
		return 0;
	}
	fprintf(stderr, "sottod: unknown command: %s\n", argv[1]);
	return usage();
}
