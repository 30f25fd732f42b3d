/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "server.h"
#include "sotto/error.h"

int
priv_is_root(void)
{
	return getuid() == 0 || geteuid() == 0;
}

int
priv_drop(const char *user, char *err, size_t errlen)
{
	struct passwd *pw;
	uid_t uid;
	gid_t gid, groups[2];

	if (errlen > 0)
		err[0] = '\0';
	if (!priv_is_root())
		return SOTTO_OK;
	errno = 0;
	if (user == NULL || *user == '\0' || (pw = getpwnam(user)) == NULL) {
		snprintf(err, errlen, "no such user \"%s\"", user != NULL ? user : "");
		return SOTTO_ERR_INVALID_ARG;
	}
	uid = pw->pw_uid;
	gid = pw->pw_gid;
	if (uid == 0) {
		snprintf(err, errlen, "user \"%s\" is root", user);
		return SOTTO_ERR_INVALID_ARG;
	}
	/* Groups first, then the gid, then the uid: each later step takes away
	 * the right to do the earlier ones. */
	if (setgroups(1, &gid) != 0) {
		snprintf(err, errlen, "setgroups: %s", strerror(errno));
		return SOTTO_ERR_INTERNAL;
	}
	if (setresgid(gid, gid, gid) != 0) {
		snprintf(err, errlen, "setresgid(%u): %s", (unsigned)gid, strerror(errno));
		return SOTTO_ERR_INTERNAL;
	}
	if (setresuid(uid, uid, uid) != 0) {
		snprintf(err, errlen, "setresuid(%u): %s", (unsigned)uid, strerror(errno));
		return SOTTO_ERR_INTERNAL;
	}
	/* Like OpenSSH's permanently_set_uid: prove there is no way back. */
	if (setuid(0) == 0 || seteuid(0) == 0 || setgid(0) == 0 || getuid() != uid || geteuid() != uid ||
	    getgid() != gid || getegid() != gid || getgroups(2, groups) != 1 || groups[0] != gid) {
		snprintf(err, errlen, "could regain root after dropping to \"%s\"", user);
		return SOTTO_ERR_INTERNAL;
	}
#if defined(__SANITIZE_ADDRESS__)
	/* Sanitizer builds only: LeakSanitizer stops the threads with ptrace,
	 * which a process that changed uid refuses unless it stays dumpable. */
	(void)prctl(PR_SET_DUMPABLE, 1);
#endif
	return SOTTO_OK;
}
