/*
 * jit-ssh-guard - end SSH sessions when their jit-ssh certificate expires.
 *
 * OpenSSH checks a certificate only at login; an open session outlives
 * it.  sshd runs this program for every session through
 *
 *     ExposeAuthInfo yes
 *     ForceCommand /usr/bin/jit-ssh-guard
 *
 * It reads the keys the session authenticated with from the file named by
 * $SSH_USER_AUTH (lines "publickey TYPE BASE64"), and if one of them is a
 * certificate signed by a jit-ssh CA (a key in --ca FILE, default
 * /etc/ssh/jit_ca.pub), it runs the session -
 * $SSH_ORIGINAL_COMMAND through the user's shell, or the user's login
 * shell - as a child in its own process group (which gets the terminal's
 * foreground), warns on the terminal --warn before the certificate's
 * valid_before, and at valid_before hangs up the session: SIGHUP, then
 * SIGTERM, then SIGKILL to the child's process group, to every process of
 * the same login session and user, and to every descendant (the guard is
 * a child subreaper, so daemons that double-fork stay its descendants).
 * It then exits with status 124.  If the command ends first, the guard
 * exits with its status; processes it left behind are ended at
 * valid_before by a small watcher that keeps no file descriptors of the
 * session open.
 *
 * Sessions that did not authenticate with one of our certificates (plain
 * keys, other CAs, passwords) are not touched: the guard execs the shell
 * exactly as sshd would have.
 *
 * Limits, by design: the guard runs as the user, so it is a guarantee
 * against forgotten sessions, not against a user who sets out to evade it
 * (killing it, or escaping with setsid before it can see the process).
 * Port forwardings without a session (ssh -N) never run ForceCommand;
 * roles that allow forwarding should be short.  The $SSH_USER_AUTH file
 * belongs to the user and lives as long as the connection: a user who
 * rewrites it while the certificate is valid can open new, unguarded
 * sessions on the same (multiplexed) connection after expiry.  A missing
 * or unreadable file therefore refuses the session, but a forged one
 * cannot be told apart.
 *
 * The CA file is taken from --ca only, never from the environment: with
 * AcceptEnv or PermitUserEnvironment the user could point it at a key of
 * their own and go unguarded.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <syslog.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "cert.h"
#include "err.h"
#include "host_paths.h"
#include "jit_version.h"
#include "key.h"
#include "util.h"

#define DEFAULT_CA JIT_HOST_CA_FILE
#define DEFAULT_WARN 300          /* seconds before valid_before */
#define LAST_WARN 60
#define MAX_AUTH_FILE (1024 * 1024)
#define MAX_CA_FILE (1024 * 1024)
#define KILL_STEP_MS 1000         /* between SIGHUP, SIGTERM, SIGKILL */
#define EXIT_EXPIRED 124
#define SFTP_SERVER "/usr/lib/openssh/sftp-server"

static const char *progname = "jit-ssh-guard";

static void
usage(FILE *f)
{
	fprintf(f, "usage: jit-ssh-guard [--ca FILE] [--warn DURATION] "
	    "[--require]\n       jit-ssh-guard --help | --version\n\n"
	    "Run from sshd_config (ExposeAuthInfo yes; ForceCommand "
	    "jit-ssh-guard):\nruns the session's command or shell and ends "
	    "it when the jit-ssh\ncertificate it logged in with expires.  "
	    "Other sessions are not touched.\n\n"
	    "  --ca FILE        jit-ssh CA public key(s), one per line "
	    "(default:\n"
	    "                   %s)\n"
	    "  --warn DURATION  warn on the terminal this long before the end "
	    "(default\n"
	    "                   5m; 0 = no warning)\n"
	    "  --require        refuse every session that was not opened with "
	    "a\n"
	    "                   currently valid jit-ssh certificate (for "
	    "accounts\n"
	    "                   reached only through jit-ssh: fails closed)\n\n"
	    "Exit status: the command's; 124 when the session was ended at "
	    "expiry;\n1 when the session could not be started.\n",
	    DEFAULT_CA);
}

/* Write all of buf; a warning that cannot be shown is not an error. */
static int
put(int fd, const char *buf, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, buf, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		buf += w;
		n -= (size_t)w;
	}
	return 0;
}

/* A message for the person at the terminal: /dev/tty if there is one,
 * else stderr. */
static void
tell(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
tell(const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	int fd, n;

	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(msg))
		n = sizeof(msg) - 1;
	if ((fd = open("/dev/tty", O_WRONLY | O_NOCTTY | O_CLOEXEC)) >= 0) {
		/* Raw mode terminals need the carriage returns. */
		if (put(fd, "\r\n", 2) == 0 && put(fd, msg, (size_t)n) == 0)
			put(fd, "\r\n", 2);
		close(fd);
		return;
	}
	if (put(STDERR_FILENO, msg, (size_t)n) == 0)
		put(STDERR_FILENO, "\n", 1);
}

/* ---- which session is this? ------------------------------------------- */

/* Split a NUL-terminated text into lines in place: returns the next line
 * (without its newline) or NULL at the end. */
static char *
next_line(char **cur)
{
	char *line = *cur, *nl;

	if (line == NULL || *line == '\0')
		return NULL;
	if ((nl = strchr(line, '\n')) != NULL) {
		*nl = '\0';
		*cur = nl + 1;
	} else
		*cur = NULL;
	return line;
}

static int
load_cas(const char *path, struct jit_key ***cas, size_t *ncas)
{
	unsigned char *data = NULL;
	size_t len, n = 0;
	char *line, *cur, *p;
	struct jit_key **v = NULL, *k, **nv;
	int r;

	*cas = NULL;
	*ncas = 0;
	if ((r = jit_read_file(path, MAX_CA_FILE, &data, &len)) != 0)
		return r;
	cur = (char *)data;
	while ((line = next_line(&cur)) != NULL) {
		for (p = line; *p == ' ' || *p == '\t'; p++)
			;
		if (*p == '\0' || *p == '#' || *p == '\r')
			continue;
		if (jit_key_parse_public(p, &k, NULL) != 0)
			continue;   /* as sshd: a bad line is skipped */
		if ((nv = realloc(v, (n + 1) * sizeof(*v))) == NULL) {
			jit_key_free(k);
			r = JIT_ERR_ALLOC;
			goto fail;
		}
		v = nv;
		v[n++] = k;
	}
	free(data);
	if (n == 0)
		return JIT_ERR_INVALID_FORMAT;
	*cas = v;
	*ncas = n;
	return 0;
fail:
	while (n > 0)
		jit_key_free(v[--n]);
	free(v);
	free(data);
	return r;
}

/*
 * Look through the auth info for certificates.  Returns 1 and sets
 * *valid_before (the earliest, if there are several) when one of ours is
 * there, 0 when none is, or -1 with why set to a message when we cannot
 * tell, so the session is refused: the auth file cannot be read (sshd
 * always writes it with ExposeAuthInfo, so it was removed or replaced) or
 * the session has a certificate but the CA file cannot be read.
 */
static int
find_jit_cert(const char *auth_path, const char *ca_path,
    uint64_t *valid_before, uint64_t *serial, char **key_id,
    char *why, size_t whylen)
{
	unsigned char *data = NULL;
	size_t len, ncas = 0, i;
	struct jit_key **cas = NULL;
	char *line, *cur;
	int found = 0, r;

	*valid_before = 0;
	*serial = 0;
	*key_id = NULL;
	if ((r = jit_read_file(auth_path, MAX_AUTH_FILE, &data, &len)) != 0) {
		snprintf(why, whylen, "cannot read SSH_USER_AUTH file %s (%s)",
		    auth_path, jit_err(r));
		return -1;
	}
	cur = (char *)data;
	while ((line = next_line(&cur)) != NULL) {
		struct jit_cert *c = NULL;
		int ours = 0;

		if (strncmp(line, "publickey ", 10) != 0 ||
		    strstr(line, "-cert-v01@openssh.com ") == NULL)
			continue;
		if (jit_cert_parse_line(line + 10, &c) != 0)
			continue;
		if (cas == NULL && (r = load_cas(ca_path, &cas, &ncas)) != 0) {
			jit_cert_free(c);
			snprintf(why, whylen, "cannot read the CA key file %s "
			    "(%s)", ca_path, jit_err(r));
			found = -1;
			break;
		}
		for (i = 0; i < ncas && !ours; i++)
			ours = jit_key_equal_public(c->signature_key,
			    cas[i]) == 1;
		/* sshd checked it already; a mismatch here means the file
		 * was not written by sshd, so do not trust it. */
		if (ours && jit_cert_verify_signature(c) == 0 &&
		    (!found || c->valid_before < *valid_before)) {
			found = 1;
			*valid_before = c->valid_before;
			*serial = c->serial;
			free(*key_id);
			*key_id = jit_strdup(c->key_id);
		}
		jit_cert_free(c);
	}
	for (i = 0; i < ncas; i++)
		jit_key_free(cas[i]);
	free(cas);
	free(data);
	return found;
}

/* ---- running the session ---------------------------------------------- */

struct shell {
	char path[4096];
	char argv0[4096];
	const char *command;   /* NULL = interactive login shell */
	char sftp[4096];
};

static void
pick_shell(struct shell *sh)
{
	struct passwd *pw = getpwuid(getuid());
	const char *s = pw != NULL && pw->pw_shell != NULL &&
	    *pw->pw_shell != '\0' ? pw->pw_shell : "/bin/sh";
	char tmp[4096], *base;

	snprintf(sh->path, sizeof(sh->path), "%s", s);
	snprintf(tmp, sizeof(tmp), "%s", s);
	base = basename(tmp);
	sh->command = getenv("SSH_ORIGINAL_COMMAND");
	/* With ForceCommand, an sftp subsystem configured as internal-sftp
	 * arrives as the command "internal-sftp", which no shell can run:
	 * use the external server instead. */
	if (sh->command != NULL &&
	    strncmp(sh->command, "internal-sftp", 13) == 0 &&
	    (sh->command[13] == '\0' || sh->command[13] == ' ')) {
		snprintf(sh->sftp, sizeof(sh->sftp), "%s%s", SFTP_SERVER,
		    sh->command + 13);
		sh->command = sh->sftp;
	}
	/* As sshd does: "-sh" for a login shell, "sh -c CMD" otherwise. */
	snprintf(sh->argv0, sizeof(sh->argv0), "%s%s",
	    sh->command == NULL ? "-" : "", base);
}

static void
exec_shell(const struct shell *sh)
{
	char *argv[4];

	argv[0] = (char *)sh->argv0;
	if (sh->command != NULL) {
		argv[1] = (char *)"-c";
		argv[2] = (char *)sh->command;
		argv[3] = NULL;
	} else
		argv[1] = NULL;
	execv(sh->path, argv);
	fprintf(stderr, "%s: %s: %s\n", progname, sh->path, strerror(errno));
	_exit(127);
}

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- finding the session's processes ------------------------------- */

struct procinfo {
	pid_t pid, ppid, sid;
	uid_t uid;
};

/* Read /proc/PID/stat: ppid and session. */
static int
read_proc(pid_t pid, struct procinfo *pi)
{
	char path[64], buf[1024], *p;
	struct stat st;
	ssize_t n;
	int fd, ppid, pgrp, sid;
	char state;

	snprintf(path, sizeof(path), "/proc/%d", (int)pid);
	if (stat(path, &st) != 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	/* The command name may contain anything: parse after the last ')'. */
	if ((p = strrchr(buf, ')')) == NULL ||
	    sscanf(p + 1, " %c %d %d %d", &state, &ppid, &pgrp, &sid) != 4)
		return -1;
	if (state == 'Z')
		return -1;      /* already dead */
	pi->pid = pid;
	pi->ppid = ppid;
	pi->sid = sid;
	pi->uid = st.st_uid;
	return 0;
}

struct proclist {
	struct procinfo *v;
	size_t n, cap;
};

static void
scan_procs(struct proclist *l)
{
	DIR *d;
	struct dirent *e;
	struct procinfo pi;

	l->n = 0;
	if ((d = opendir("/proc")) == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		char *end;
		long pid = strtol(e->d_name, &end, 10);

		if (*end != '\0' || pid <= 0 || read_proc((pid_t)pid, &pi) != 0)
			continue;
		if (l->n == l->cap) {
			size_t ncap = l->cap ? l->cap * 2 : 256;
			struct procinfo *nv = realloc(l->v, ncap * sizeof(*nv));
			if (nv == NULL)
				break;
			l->v = nv;
			l->cap = ncap;
		}
		l->v[l->n++] = pi;
	}
	closedir(d);
}

/*
 * Signal everything that belongs to this session except the guard and its
 * parent: processes of our user in login session sid, and all
 * descendants of the guard.  Returns how many were signalled.
 */
static size_t
signal_session(pid_t sid, int sig)
{
	static struct proclist l;
	pid_t self = getpid(), parent = getppid();
	uid_t uid = getuid();
	size_t i, count = 0;
	int changed;
	unsigned char *mark;

	scan_procs(&l);
	if ((mark = calloc(l.n ? l.n : 1, 1)) == NULL)
		return 0;
	for (i = 0; i < l.n; i++)
		if (l.v[i].ppid == self || (sid > 0 && l.v[i].sid == sid &&
		    l.v[i].uid == uid))
			mark[i] = 1;
	/* Close over descendants (daemons that double-forked were
	 * reparented to us, the subreaper, but their children were not). */
	do {
		changed = 0;
		for (i = 0; i < l.n; i++) {
			size_t j;
			if (mark[i])
				continue;
			for (j = 0; j < l.n; j++)
				if (mark[j] && l.v[i].ppid == l.v[j].pid) {
					mark[i] = 1;
					changed = 1;
					break;
				}
		}
	} while (changed);
	for (i = 0; i < l.n; i++) {
		if (!mark[i] || l.v[i].pid == self || l.v[i].pid == parent)
			continue;
		if (kill(l.v[i].pid, sig) == 0)
			count++;
	}
	free(mark);
	return count;
}

/* Reap any children without blocking; note the main child's status. */
static void
reap(pid_t child, int *child_done, int *status)
{
	pid_t p;
	int st;

	while ((p = waitpid(-1, &st, WNOHANG)) > 0)
		if (p == child) {
			*child_done = 1;
			*status = st;
		}
}

/* Hang up, then terminate, then kill the session. */
static void
end_session(pid_t child, pid_t sid, int *child_done, int *status)
{
	static const int sigs[] = { SIGHUP, SIGTERM, SIGKILL };
	size_t i;
	uint64_t until;

	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		if (!*child_done) {
			kill(-child, sigs[i]);
			/* SIGHUP alone leaves stopped jobs stopped. */
			kill(-child, SIGCONT);
		}
		if (signal_session(sid, sigs[i]) == 0 && *child_done)
			return;
		until = now_ms() + KILL_STEP_MS;
		while (now_ms() < until) {
			reap(child, child_done, status);
			if (*child_done && signal_session(sid, 0) == 0)
				return;
			usleep(50 * 1000);
		}
	}
	reap(child, child_done, status);
}

/*
 * The command finished before the certificate expired but left processes
 * behind (a background job holding the session open, a daemon): fork a
 * watcher that keeps none of the session's descriptors, stays in the
 * session (so its id cannot be reused) and ends what is left at
 * valid_before.  The guard itself exits at once with the command's status.
 */
static void
spawn_watcher(pid_t sid, uint64_t deadline_ms)
{
	pid_t p = fork();
	int fd;

	if (p != 0)
		return;
	/* Watcher: detach from the guard's parent so the guard can exit. */
	if (fork() != 0)
		_exit(0);
	signal(SIGHUP, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	signal(SIGQUIT, SIG_IGN);
	if ((fd = open("/dev/null", O_RDWR)) >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		if (fd > 2)
			close(fd);
	}
	for (fd = 3; fd < 1024; fd++)
		close(fd);
	for (;;) {
		uint64_t now = now_ms();

		if (signal_session(sid, 0) == 0)
			_exit(0);
		if (now >= deadline_ms)
			break;
		usleep((useconds_t)((deadline_ms - now < 2000 ?
		    deadline_ms - now : 2000) * 1000));
	}
	syslog(LOG_NOTICE, "certificate expired: ending processes left in "
	    "session %d", (int)sid);
	signal_session(sid, SIGHUP);
	usleep(KILL_STEP_MS * 1000);
	signal_session(sid, SIGTERM);
	usleep(KILL_STEP_MS * 1000);
	signal_session(sid, SIGKILL);
	_exit(0);
}

static int
guard(const struct shell *sh, uint64_t valid_before, uint64_t warn,
    uint64_t serial, const char *key_id)
{
	static const int fwd[] = { SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1,
	    SIGUSR2 };
	sigset_t set, old;
	pid_t child, sid = getsid(0);
	int ttyfd, fg = 0, child_done = 0, status = 0, expired = 0;
	uint64_t deadline = valid_before * 1000, warn_at[2] = { 0, 0 };
	char end[JIT_TIME_LEN];
	size_t i, nwarn = 0;

	jit_format_time(valid_before, end);
	if (now_ms() >= deadline) {
		tell("jit-ssh: the certificate of this session expired at %s",
		    end);
		return EXIT_EXPIRED;
	}
	/* Warnings, latest first to the list end: at --warn and at 1 min. */
	if (warn > 0)
		warn_at[nwarn++] = deadline - (warn * 1000 < deadline ?
		    warn * 1000 : deadline);
	if (warn > LAST_WARN)
		warn_at[nwarn++] = deadline - LAST_WARN * 1000;
	if (nwarn > 0 && now_ms() >= warn_at[0]) {
		uint64_t left = (deadline - now_ms() + 999) / 1000;
		tell("jit-ssh: access ends at %s (in %llus): this session will "
		    "be closed then.", end, (unsigned long long)left);
		while (nwarn > 0 && now_ms() >= warn_at[0]) {
			warn_at[0] = warn_at[1];
			nwarn--;
		}
	}

	prctl(PR_SET_CHILD_SUBREAPER, 1);
	signal(SIGTTOU, SIG_IGN);
	signal(SIGTTIN, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	for (i = 0; i < sizeof(fwd) / sizeof(fwd[0]); i++)
		sigaddset(&set, fwd[i]);
	sigprocmask(SIG_BLOCK, &set, &old);

	ttyfd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (ttyfd >= 0 && tcgetpgrp(ttyfd) == getpgrp())
		fg = 1;
	if ((child = fork()) < 0) {
		fprintf(stderr, "%s: fork: %s\n", progname, strerror(errno));
		return 1;
	}
	if (child == 0) {
		setpgid(0, 0);
		if (fg)
			tcsetpgrp(ttyfd, getpid());
		if (ttyfd >= 0)
			close(ttyfd);
		signal(SIGTTOU, SIG_DFL);
		signal(SIGTTIN, SIG_DFL);
		sigprocmask(SIG_SETMASK, &old, NULL);
		exec_shell(sh);
	}
	/* Both sides set the group and the foreground: whichever runs first
	 * wins the race, the other is a no-op. */
	setpgid(child, child);
	if (fg)
		tcsetpgrp(ttyfd, child);
	syslog(LOG_INFO, "session of certificate serial %llu (%s) guarded "
	    "until %s", (unsigned long long)serial, key_id, end);

	while (!child_done) {
		uint64_t now = now_ms(), next = deadline;
		struct timespec ts;
		siginfo_t si;
		int sig;

		if (now >= deadline) {
			expired = 1;
			break;
		}
		if (nwarn > 0 && now >= warn_at[0]) {
			uint64_t left = (deadline - now + 999) / 1000;

			if (left >= 90)
				tell("jit-ssh: access ends at %s (in %llu min):"
				    " this session will be closed then.", end,
				    (unsigned long long)((left + 30) / 60));
			else
				tell("jit-ssh: access ends at %s (in %llus): "
				    "this session will be closed then.", end,
				    (unsigned long long)left);
			warn_at[0] = warn_at[1];
			nwarn--;
			continue;
		}
		if (nwarn > 0 && warn_at[0] < next)
			next = warn_at[0];
		/* Wake at least every 5 s: the wall clock may jump. */
		if (next - now > 5000)
			next = now + 5000;
		ts.tv_sec = (time_t)((next - now) / 1000);
		ts.tv_nsec = (long)((next - now) % 1000) * 1000000;
		sig = sigtimedwait(&set, &si, &ts);
		if (sig == SIGCHLD)
			reap(child, &child_done, &status);
		else if (sig > 0)
			kill(-child, sig);
	}
	if (expired) {
		syslog(LOG_NOTICE, "certificate serial %llu (%s) expired at %s:"
		    " ending the session", (unsigned long long)serial, key_id,
		    end);
		tell("jit-ssh: access ended at %s (certificate expired): "
		    "closing this session.", end);
		end_session(child, sid, &child_done, &status);
		return EXIT_EXPIRED;
	}
	if (fg)
		tcsetpgrp(ttyfd, getpgrp());
	if (ttyfd >= 0)
		close(ttyfd);
	if (signal_session(sid, 0) > 0)
		spawn_watcher(sid, deadline);
	reap(child, &child_done, &status);
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return 1;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "ca", required_argument, NULL, 'c' },
		{ "warn", required_argument, NULL, 'w' },
		{ "require", no_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *ca = DEFAULT_CA, *auth;
	struct shell sh;
	uint64_t warn = DEFAULT_WARN, valid_before, serial;
	char *key_id = NULL, why[512];
	int c, r, require = 0;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":c:w:rh", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			ca = optarg;
			break;
		case 'w':
			if (strcmp(optarg, "0") == 0)
				warn = 0;
			else if (jit_parse_duration(optarg, &warn) != 0) {
				fprintf(stderr, "%s: --warn: invalid duration "
				    "'%s' (e.g. 5m, 0)\n", progname, optarg);
				return 2;
			}
			break;
		case 'r':
			require = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("jit-ssh-guard %s\n", JIT_VERSION);
			return 0;
		default:
			fprintf(stderr, "%s: %s '%s' (try --help)\n", progname,
			    c == ':' ? "option needs a value:" :
			    "unknown option", argv[optind - 1]);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "%s: unexpected argument '%s' (the command "
		    "comes from SSH_ORIGINAL_COMMAND)\n", progname,
		    argv[optind]);
		return 2;
	}
	openlog("jit-ssh-guard", LOG_PID, LOG_AUTHPRIV);
	pick_shell(&sh);
	auth = getenv("SSH_USER_AUTH");
	if ((auth == NULL || *auth == '\0') && require) {
		fprintf(stderr, "%s: SSH_USER_AUTH is not set (ExposeAuthInfo "
		    "no?): refusing the session (--require)\n", progname);
		syslog(LOG_ERR, "SSH_USER_AUTH is not set: session refused "
		    "(--require)");
		return 1;
	}
	if (auth == NULL || *auth == '\0') {
		syslog(LOG_WARNING, "SSH_USER_AUTH is not set (ExposeAuthInfo "
		    "no?): session not guarded");
		exec_shell(&sh);
	}
	r = find_jit_cert(auth, ca, &valid_before, &serial, &key_id, why,
	    sizeof(why));
	if (r < 0) {
		fprintf(stderr, "%s: %s: refusing the session\n", progname,
		    why);
		syslog(LOG_ERR, "%s: session refused", why);
		return 1;
	}
	/* With --require only a live certificate of ours opens a session:
	 * a plain key, another CA, or a rewritten auth file on a multiplexed
	 * connection after expiry are all refused. */
	if (require && (r == 0 || valid_before <= jit_now())) {
		fprintf(stderr, "%s: %s: refusing the session (--require)\n",
		    progname, r == 0 ? "not opened with a jit-ssh certificate"
		    : "the jit-ssh certificate has expired");
		syslog(LOG_NOTICE, "session without a live jit-ssh "
		    "certificate refused (--require)");
		free(key_id);
		return 1;
	}
	/* Not one of ours: unaffected.  (Ours never say "forever", but such
	 * a cert has nothing to end.) */
	if (r == 0 || valid_before > UINT64_MAX / 1000)
		exec_shell(&sh);
	r = guard(&sh, valid_before, warn, serial, key_id != NULL ? key_id :
	    "");
	free(key_id);
	return r;
}
