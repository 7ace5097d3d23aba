/*
 * passphrase.c - the passphrase sources of jit-ca's commands (cmds.h):
 * --passphrase-file, the systemd credential, and a no-echo prompt on the
 * terminal (cadir.h tries them in that order).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "buf.h"
#include "cadir.h"
#include "cmds.h"
#include "err.h"

/* The terminal settings to put back if a signal ends the prompt. */
static struct termios saved_tio;
static volatile sig_atomic_t tio_changed;

static const int prompt_signals[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };
#define NSIGNALS (sizeof(prompt_signals) / sizeof(prompt_signals[0]))

/* Restore echo, then die of the signal as if no handler were there. */
static void
restore_and_reraise(int sig)
{
	if (tio_changed)
		(void)tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_tio);
	signal(sig, SIG_DFL);
	raise(sig);
}

static int
tty_prompt(void *ctx, const char *question, char *buf, size_t len)
{
	struct sigaction sa, old_sa[NSIGNALS];
	struct termios tio;
	sigset_t set, old_set;
	size_t n = 0, i;
	int r = JIT_ERR_INTERNAL, too_long = 0;
	ssize_t got;
	char c;

	(void)ctx;
	if (len == 0)
		return JIT_ERR_INVALID_ARGUMENT;
	buf[0] = '\0';
	if (tcgetattr(STDIN_FILENO, &saved_tio) != 0)
		return JIT_ERR_IO;
	/* jit-ca serve blocks these signals before it loads the CA key: let
	 * Ctrl-C end the prompt, with echo restored. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = restore_and_reraise;
	sigemptyset(&sa.sa_mask);
	sigemptyset(&set);
	for (i = 0; i < NSIGNALS; i++) {
		sigaction(prompt_signals[i], &sa, &old_sa[i]);
		sigaddset(&set, prompt_signals[i]);
	}
	tio = saved_tio;
	tio.c_lflag &= ~(tcflag_t)(ECHO | ECHOE | ECHOK | ECHONL);
	tio_changed = 1;
	if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &tio) != 0) {
		r = JIT_ERR_IO;
		goto out;
	}
	pthread_sigmask(SIG_UNBLOCK, &set, &old_set);
	fputs(question, stderr);
	fflush(stderr);
	for (;;) {
		got = read(STDIN_FILENO, &c, 1);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0 || c == '\n')
			break;
		if (n + 1 < len)
			buf[n++] = c;
		else
			too_long = 1;
	}
	buf[n] = '\0';
	fputc('\n', stderr);
	pthread_sigmask(SIG_SETMASK, &old_set, NULL);
	if (got < 0 || (got == 0 && n == 0))
		r = JIT_ERR_IO;
	else
		r = too_long ? JIT_ERR_NO_BUFFER_SPACE : 0;
out:
	(void)tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_tio);
	tio_changed = 0;
	for (i = 0; i < NSIGNALS; i++)
		sigaction(prompt_signals[i], &old_sa[i], NULL);
	if (r != 0)
		jit_wipe(buf, len);
	return r;
}

void
cmd_pass_init(struct jit_cadir_pass *pass, const char *file)
{
	memset(pass, 0, sizeof(*pass));
	pass->file = file;
	if (isatty(STDIN_FILENO))
		pass->prompt = tty_prompt;
}
