/*
 * libssh-login.c - log in to an sshd with libssh as the client, using a
 * user certificate, run one command and print its output.  The
 * integration tests use it to show that a second SSH implementation,
 * besides OpenSSH's ssh, accepts the certificates jit-ca signs.
 *
 *   libssh-login [-H HOST] -p PORT -l USER -i KEY -c CERT -k HOSTKEY.pub
 *                [-v] COMMAND...
 *
 * HOST defaults to 127.0.0.1; -v prints libssh's protocol log.  The server's host key must equal the
 * public key in HOSTKEY.pub (no known_hosts, no ~/.ssh/config).  The
 * client first asks whether the server would accept the certificate
 * (ssh_userauth_try_publickey), then signs with the private key the
 * certificate was copied to (ssh_pki_copy_cert_to_privkey).
 *
 * The command's stdout and stderr go to ours (stdout is read to its end
 * first: enough for the short outputs of tests).  Exit status: the
 * command's; 255 when anything before it fails (one line on stderr
 * saying what: "libssh-login: ..."); 2 for usage errors.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libssh/libssh.h>

#define FAIL 255

static void
say(const char *fmt, ...)
{
	va_list ap;

	fputs("libssh-login: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void
usage(void)
{
	fprintf(stderr, "usage: libssh-login [-H HOST] -p PORT -l USER -i KEY "
	    "-c CERT -k HOSTKEY.pub [-v] COMMAND...\n");
	exit(2);
}

/* Copy everything the channel sends on one stream to fd; 0 or -1. */
static int
drain(ssh_channel ch, int is_stderr, int fd)
{
	char buf[4096];
	int n;

	while ((n = ssh_channel_read(ch, buf, sizeof(buf), is_stderr)) > 0)
		if (write(fd, buf, (size_t)n) != n)
			return -1;
	return n < 0 ? -1 : 0;
}

/* The command's arguments joined with spaces, as ssh(1) does. */
static char *
join(int argc, char **argv)
{
	size_t len = 1, off = 0;
	char *s;
	int i;

	for (i = 0; i < argc; i++)
		len += strlen(argv[i]) + 1;
	if ((s = malloc(len)) == NULL)
		return NULL;
	for (i = 0; i < argc; i++) {
		size_t l = strlen(argv[i]);
		memcpy(s + off, argv[i], l);
		off += l;
		s[off++] = i + 1 < argc ? ' ' : '\0';
	}
	if (argc == 0)
		s[0] = '\0';
	return s;
}

int
main(int argc, char **argv)
{
	const char *user = NULL, *keyfile = NULL, *certfile = NULL;
	const char *hostkeyfile = NULL, *host = "127.0.0.1";
	ssh_session s = NULL;
	ssh_channel ch = NULL;
	ssh_key priv = NULL, cert = NULL, srv = NULL, want = NULL;
	char *command = NULL;
	long timeout = 10;
	int port = 0, c, rc, verbose = 0, ret = FAIL, no = 0;

	while ((c = getopt(argc, argv, "+H:p:l:i:c:k:v")) != -1) {
		switch (c) {
		case 'H': host = optarg; break;
		case 'p': port = atoi(optarg); break;
		case 'l': user = optarg; break;
		case 'i': keyfile = optarg; break;
		case 'c': certfile = optarg; break;
		case 'k': hostkeyfile = optarg; break;
		case 'v': verbose = 1; break;
		default: usage();
		}
	}
	if (port <= 0 || port > 65535 || user == NULL || keyfile == NULL ||
	    certfile == NULL || hostkeyfile == NULL || optind >= argc)
		usage();
	if ((command = join(argc - optind, argv + optind)) == NULL) {
		say("out of memory");
		goto out;
	}
	ssh_set_log_level(verbose ? SSH_LOG_PROTOCOL : SSH_LOG_NOLOG);

	/* The user's key and certificate, joined as libssh 0.10 wants. */
	if (ssh_pki_import_privkey_file(keyfile, NULL, NULL, NULL,
	    &priv) != SSH_OK) {
		say("cannot read the private key %s", keyfile);
		goto out;
	}
	if (ssh_pki_import_cert_file(certfile, &cert) != SSH_OK) {
		say("cannot read the certificate %s", certfile);
		goto out;
	}
	if (ssh_pki_copy_cert_to_privkey(cert, priv) != SSH_OK) {
		say("the certificate %s does not fit the key %s", certfile,
		    keyfile);
		goto out;
	}
	if (ssh_pki_import_pubkey_file(hostkeyfile, &want) != SSH_OK) {
		say("cannot read the host key %s", hostkeyfile);
		goto out;
	}

	if ((s = ssh_new()) == NULL) {
		say("ssh_new failed");
		goto out;
	}
	if (ssh_options_set(s, SSH_OPTIONS_HOST, host) != 0 ||
	    ssh_options_set(s, SSH_OPTIONS_PORT, &port) != 0 ||
	    ssh_options_set(s, SSH_OPTIONS_USER, user) != 0 ||
	    ssh_options_set(s, SSH_OPTIONS_TIMEOUT, &timeout) != 0 ||
	    ssh_options_set(s, SSH_OPTIONS_PROCESS_CONFIG, &no) != 0 ||
	    ssh_options_set(s, SSH_OPTIONS_KNOWNHOSTS, "/dev/null") != 0 ||
	    ssh_options_set(s, SSH_OPTIONS_GLOBAL_KNOWNHOSTS,
	    "/dev/null") != 0) {
		say("cannot set the session options: %s", ssh_get_error(s));
		goto out;
	}
	if (ssh_connect(s) != SSH_OK) {
		say("cannot connect to %s port %d: %s", host, port,
		    ssh_get_error(s));
		goto out;
	}
	if (ssh_get_server_publickey(s, &srv) != SSH_OK ||
	    ssh_key_cmp(srv, want, SSH_KEY_CMP_PUBLIC) != 0) {
		say("the server's host key is not the one in %s",
		    hostkeyfile);
		goto out;
	}

	rc = ssh_userauth_try_publickey(s, NULL, cert);
	if (rc != SSH_AUTH_SUCCESS) {
		say("the server does not accept the certificate %s for %s "
		    "(%s)", certfile, user, rc == SSH_AUTH_DENIED ? "denied" :
		    ssh_get_error(s));
		goto out;
	}
	rc = ssh_userauth_publickey(s, NULL, priv);
	if (rc != SSH_AUTH_SUCCESS) {
		say("authentication as %s with the certificate failed (%s)",
		    user, rc == SSH_AUTH_DENIED ? "denied" : ssh_get_error(s));
		goto out;
	}

	if ((ch = ssh_channel_new(s)) == NULL ||
	    ssh_channel_open_session(ch) != SSH_OK ||
	    ssh_channel_request_exec(ch, command) != SSH_OK) {
		say("cannot run the command: %s", ssh_get_error(s));
		goto out;
	}
	if (drain(ch, 0, STDOUT_FILENO) != 0 ||
	    drain(ch, 1, STDERR_FILENO) != 0) {
		say("reading the command's output failed: %s",
		    ssh_get_error(s));
		goto out;
	}
	ssh_channel_send_eof(ch);
	rc = ssh_channel_get_exit_status(ch);
	ret = rc >= 0 && rc < FAIL ? rc : FAIL;
out:
	if (ch != NULL) {
		ssh_channel_close(ch);
		ssh_channel_free(ch);
	}
	if (s != NULL) {
		ssh_disconnect(s);
		ssh_free(s);
	}
	ssh_key_free(priv);
	ssh_key_free(cert);
	ssh_key_free(srv);
	ssh_key_free(want);
	free(command);
	return ret;
}
