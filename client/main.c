/* main.c - jit-ssh: argument parsing and dispatch (see client.h). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "client.h"
#include "jit_version.h"

enum {
	O_JSON = 1 << 0, O_YES = 1 << 1, O_PENDING = 1 << 2,
	O_NO_AGENT = 1 << 3, O_NO_WAIT = 1 << 4, O_URL = 1 << 5,
	O_TOKEN = 1 << 6, O_CA_KEY = 1 << 7, O_TLS_CA = 1 << 8,
	O_CONFIG = 1 << 9, O_FOR = 1 << 10, O_REASON = 1 << 11,
	O_KEY = 1 << 12, O_RESUME = 1 << 13, O_COMMENT = 1 << 14,
	O_TIMEOUT = 1 << 15, O_TOKEN_FILE = 1 << 16, O_REVOKE = 1 << 17,
	O_SSO = 1 << 18,
	O_NBITS = 19,
};

/* Options every server-talking command takes. */
#define O_CONN (O_JSON | O_URL | O_TOKEN | O_TOKEN_FILE | O_TLS_CA | \
    O_CONFIG | O_CA_KEY)

struct subcommand {
	const char *name;
	int (*run)(const struct client_opts *o);
	unsigned allowed;
	const char *usage;
	const char *help;
};

static const struct subcommand subcommands[] = {
	{ "setup", client_cmd_setup,
	  O_JSON | O_TOKEN | O_TOKEN_FILE | O_TLS_CA | O_CONFIG | O_YES |
	  O_SSO,
	  "setup URL [--token-file FILE | --token - | --sso]\n"
	  "      [--tls-ca FILE] [--config FILE] [--yes] [--json]",
	  "Write ~/.config/jit-ssh/config (0600) for the server at URL. The\n"
	  "CA key is fetched (GET /v1/ca) and its SHA256 fingerprint shown;\n"
	  "on a terminal you are asked to confirm it, --yes or a stdin that\n"
	  "is not a terminal accepts. The pinned key is the only CA whose\n"
	  "certificates jit-ssh will install. A token is checked with\n"
	  "GET /v1/whoami before it is saved. Give the token with\n"
	  "--token-file FILE or --token - (the first line of standard input,\n"
	  "typed without echo on a terminal); --token TOKEN also works but\n"
	  "shows the token to other users of this machine (ps, /proc).\n"
	  "--sso signs in through the server's identity provider instead\n"
	  "(single sign-on): open the URL shown (a browser opens it when\n"
	  "there is a display) and enter the code; the session token is\n"
	  "saved, and any command signs in again once it has ended.\n"
	  "A server with a host CA (GET /v1/ca/host) has its @cert-authority\n"
	  "line put into ~/.ssh/known_hosts: enrolled hosts are then trusted\n"
	  "without a prompt." },
	{ "login", client_cmd_login, O_CONN | O_FOR | O_REASON | O_KEY |
	  O_NO_AGENT | O_NO_WAIT | O_RESUME | O_TIMEOUT,
	  "login ROLE [--for DURATION] [--reason TEXT] [--key PATH]\n"
	  "      [--no-agent] [--no-wait] [--timeout DURATION]\n"
	  "  jit-ssh login --resume ID [--key PATH] [--no-agent]",
	  "Ask for ROLE, wait for the decision (one live progress line on a\n"
	  "terminal), then fetch the certificate, verify it against the\n"
	  "pinned CA, our key, the granted principals and window, and install\n"
	  "~/.ssh/jit/ROLE and ROLE-cert.pub and the ssh-agent identity\n"
	  "(lifetime = time left in the grant; older ones of ROLE removed).\n"
	  "A fresh Ed25519 key is made unless --key names an unencrypted\n"
	  "private key. Ctrl-C leaves the request pending (resume it with\n"
	  "--resume ID). --timeout gives up waiting (exit 4), the request\n"
	  "stays pending. --no-wait prints the request ID and exits. The\n"
	  "progress line says what the request still needs (\"needs 1 more\n"
	  "approval from group:security\"). --resume of a request that is\n"
	  "over says how it ended (exit 3 denied, 4 cancelled, expired,\n"
	  "revoked or ended). The key made for a request is kept in\n"
	  "~/.ssh/jit/pending until it is installed, and deleted when the\n"
	  "request ends without a certificate or the certificate is\n"
	  "refused. Without a token, on a server that offers single\n"
	  "sign-on, it signs you in first, as jit-ssh setup does for single\n"
	  "sign-on." },
	{ "status", client_cmd_status, O_CONN, "status [ID]",
	  "Show one request, or your requests and installed certificates.\n"
	  "A request that is over says why it ended (end reason).\n"
	  "The request of each installed certificate is looked up: a\n"
	  "revoked grant is marked REVOKED and its certificate removed from\n"
	  "ssh-agent. Keys kept for requests that ended without a\n"
	  "certificate are deleted. --json: {\"requests\": [...],\n"
	  "\"installed\": [...]}." },
	{ "list", client_cmd_list, O_CONN | O_PENDING, "list [--pending]",
	  "Requests you may see: yours and those you may approve, with the\n"
	  "start of each (\"at approval\" unless one was asked for), its\n"
	  "duration, and for a pending one what it still needs (\"needs 1\n"
	  "more approval from group:security\").\n"
	  "--pending: only those waiting for a decision." },
	{ "approve", client_cmd_approve, O_CONN | O_COMMENT,
	  "approve ID [--comment TEXT]",
	  "Approve a pending request. Prints what was approved: the user,\n"
	  "the role and its principals, the window (its start or \"at\n"
	  "approval\" and the duration; the exact times once approved) and\n"
	  "what is still needed." },
	{ "deny", client_cmd_deny, O_CONN | O_COMMENT, "deny ID --comment TEXT",
	  "Deny a pending request; the comment is required." },
	{ "cancel", client_cmd_cancel, O_CONN, "cancel ID",
	  "Cancel your own pending request." },
	{ "revoke", client_cmd_revoke, O_CONN | O_COMMENT,
	  "revoke ID [--comment TEXT]",
	  "End an approved grant early (its serial joins the KRL): one of a\n"
	  "role you approve, or your own (jit-ssh logout ROLE --revoke also\n"
	  "removes it from this machine)." },
	{ "logout", client_cmd_logout, O_CONN | O_REVOKE | O_COMMENT,
	  "logout [ROLE] [--revoke [--comment TEXT]] [--json]",
	  "Remove ROLE's (or every role's) identities from ssh-agent and\n"
	  "delete its files under ~/.ssh/jit/; without ROLE also the keys\n"
	  "kept in ~/.ssh/jit/pending for requests not installed.\n"
	  "--revoke first ends each grant early on the server (you\n"
	  "relinquish it: its serial joins the KRL); a grant that cannot be\n"
	  "revoked keeps its files. The server options apply only with\n"
	  "--revoke." },
	{ "ca", client_cmd_ca, O_CONN, "ca",
	  "Print the CA public key line for sshd's TrustedUserCAKeys\n"
	  "(refused if it differs from the pinned key)." },
	{ "whoami", client_cmd_whoami, O_CONN, "whoami",
	  "Who the server thinks you are, and what you may do." },
};

#define NCOMMANDS (sizeof(subcommands) / sizeof(subcommands[0]))

static const struct option longopts[] = {
	{ "json", no_argument, NULL, 'J' },
	{ "yes", no_argument, NULL, 'y' },
	{ "pending", no_argument, NULL, 'P' },
	{ "no-agent", no_argument, NULL, 'A' },
	{ "no-wait", no_argument, NULL, 'W' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ "url", required_argument, NULL, 'u' },
	{ "token", required_argument, NULL, 't' },
	{ "token-file", required_argument, NULL, 'F' },
	{ "ca-key", required_argument, NULL, 'C' },
	{ "tls-ca", required_argument, NULL, 'T' },
	{ "config", required_argument, NULL, 'c' },
	{ "for", required_argument, NULL, 'f' },
	{ "reason", required_argument, NULL, 'r' },
	{ "key", required_argument, NULL, 'k' },
	{ "resume", required_argument, NULL, 'R' },
	{ "comment", required_argument, NULL, 'm' },
	{ "timeout", required_argument, NULL, 'O' },
	{ "revoke", no_argument, NULL, 'X' },
	{ "sso", no_argument, NULL, 'S' },
	{ NULL, 0, NULL, 0 },
};

static void
print_usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: jit-ssh COMMAND [OPTIONS]\n\n"
	    "Just-in-time SSH access: ask for a role, get it approved, and "
	    "use plain ssh\nwith a short-lived certificate.\n\nCommands:\n");
	for (i = 0; i < NCOMMANDS; i++)
		fprintf(f, "  jit-ssh %s\n", subcommands[i].usage);
	fprintf(f, "\n"
	    "Options for subcommands that talk to the server:\n"
	    "  --url URL          server URL (else JIT_SSH_URL, else config)\n"
	    "  --token-file FILE  API token: the first line of FILE (else\n"
	    "                     JIT_SSH_TOKEN, else config)\n"
	    "  --token -          API token from standard input\n"
	    "  --token TOKEN      API token on the command line (warns: "
	    "other\n"
	    "                     users see it in ps and /proc)\n"
	    "  --ca-key FILE      CA public key to trust instead of the "
	    "pinned one\n"
	    "  --tls-ca FILE      CA bundle for the server's TLS "
	    "certificate\n"
	    "  --config FILE      instead of ~/.config/jit-ssh/config\n"
	    "  --json             machine-readable output on stdout\n"
	    "\nFiles: ~/.config/jit-ssh/config (url, token, ca_key, tls_ca, "
	    "sso,\n"
	    "token_expires), ~/.ssh/jit/.\n"
	    "\nExit status:\n"
	    "  0    success\n"
	    "  1    error (server unreachable, bad URL or token, HTTP or "
	    "file errors)\n"
	    "  2    usage error\n"
	    "  3    the request was denied\n"
	    "  4    the request was cancelled, expired or revoked, its "
	    "window ended,\n"
	    "       or --timeout passed\n"
	    "  5    the certificate failed verification; nothing was "
	    "installed\n"
	    "  130  interrupted (Ctrl-C); a pending request stays pending\n"
	    "\nRun 'jit-ssh COMMAND --help' for a command's details.\n");
}

static void
command_help(const struct subcommand *cmd)
{
	printf("usage: jit-ssh %s\n\n%s\n", cmd->usage, cmd->help);
	if (cmd->allowed & O_URL)
		printf("\nAlso: --url, --token-file, --token, --ca-key, "
		    "--tls-ca, --config, --json (see jit-ssh --help).\n");
	printf("Exit status: see jit-ssh --help.\n");
}

static unsigned
bit_of(int ch)
{
	switch (ch) {
	case 'J': return O_JSON;
	case 'y': return O_YES;
	case 'P': return O_PENDING;
	case 'A': return O_NO_AGENT;
	case 'W': return O_NO_WAIT;
	case 'u': return O_URL;
	case 't': return O_TOKEN;
	case 'F': return O_TOKEN_FILE;
	case 'C': return O_CA_KEY;
	case 'T': return O_TLS_CA;
	case 'c': return O_CONFIG;
	case 'f': return O_FOR;
	case 'r': return O_REASON;
	case 'k': return O_KEY;
	case 'R': return O_RESUME;
	case 'm': return O_COMMENT;
	case 'O': return O_TIMEOUT;
	case 'X': return O_REVOKE;
	case 'S': return O_SSO;
	default: return 0;
	}
}

static const char *
name_of(unsigned bit)
{
	const struct option *lo;

	for (lo = longopts; lo->name != NULL; lo++)
		if (bit_of(lo->val) == bit)
			return lo->name;
	return "?";
}

/*
 * --token-file FILE and --token - read the token into *owned (a secret:
 * main wipes it); --token VALUE is used as given, with a warning, since
 * every user of the machine can read a command line.
 */
static int
resolve_token(struct client_opts *o, const char *file, char **owned)
{
	char msg[512];

	*owned = NULL;
	if (file != NULL && o->token != NULL) {
		client_fail("--token and --token-file exclude each other");
		return JIT_EXIT_USAGE;
	}
	if (o->token != NULL && strcmp(o->token, "-") != 0) {
		client_fail("warning: a token given with --token is visible to "
		    "other users (ps, /proc); use --token-file FILE or "
		    "--token - (stdin)");
		return 0;
	}
	if (o->token != NULL)
		file = "-";
	if (file == NULL)
		return 0;
	if (client_token_read(file, owned, msg, sizeof(msg)) != 0) {
		client_fail("%s", msg);
		return JIT_EXIT_ERROR;
	}
	o->token = *owned;
	return 0;
}

int
main(int argc, char **argv)
{
	const struct subcommand *cmd = NULL;
	struct client_opts o;
	const char *token_file = NULL;
	char **pos, *token = NULL;
	unsigned seen = 0, bit;
	int ch, npos = 0, rc, i, version = 0;
	size_t k;

	memset(&o, 0, sizeof(o));
	if ((pos = calloc((size_t)argc + 1, sizeof(*pos))) == NULL)
		return JIT_EXIT_ERROR;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "-:hym:", longopts, NULL)) != -1) {
		switch (ch) {
		case 1:
			pos[npos++] = optarg;
			continue;
		case 'h': o.help = 1; continue;
		case 'V': version = 1; continue;
		case 'J': o.json = 1; break;
		case 'y': o.yes = 1; break;
		case 'P': o.pending = 1; break;
		case 'A': o.no_agent = 1; break;
		case 'W': o.no_wait = 1; break;
		case 'u': o.url = optarg; break;
		case 't': o.token = optarg; break;
		case 'F': token_file = optarg; break;
		case 'C': o.ca_key_file = optarg; break;
		case 'T': o.tls_ca = optarg; break;
		case 'c': o.config = optarg; break;
		case 'f': o.duration = optarg; break;
		case 'r': o.reason = optarg; break;
		case 'k': o.key = optarg; break;
		case 'R': o.resume = optarg; break;
		case 'm': o.comment = optarg; break;
		case 'O': o.timeout = optarg; break;
		case 'X': o.revoke = 1; break;
		case 'S': o.sso = 1; break;
		case ':':
			fprintf(stderr, "jit-ssh: option %s needs a value\n",
			    argv[optind - 1]);
			free(pos);
			return JIT_EXIT_USAGE;
		default:
			fprintf(stderr, "jit-ssh: unknown option '%s' (try "
			    "jit-ssh --help)\n", argv[optind - 1]);
			free(pos);
			return JIT_EXIT_USAGE;
		}
		seen |= bit_of(ch);
	}
	if (version) {
		printf("jit-ssh %s\n", JIT_VERSION);
		free(pos);
		return JIT_EXIT_OK;
	}
	if (npos == 0 || strcmp(pos[0], "help") == 0) {
		if (npos > 1) {
			for (k = 0; k < NCOMMANDS; k++)
				if (strcmp(pos[1], subcommands[k].name) == 0) {
					command_help(&subcommands[k]);
					free(pos);
					return JIT_EXIT_OK;
				}
		}
		print_usage(o.help || npos > 0 ? stdout : stderr);
		free(pos);
		return o.help || npos > 0 ? JIT_EXIT_OK : JIT_EXIT_USAGE;
	}
	for (k = 0; k < NCOMMANDS; k++)
		if (strcmp(pos[0], subcommands[k].name) == 0)
			cmd = &subcommands[k];
	if (cmd == NULL) {
		fprintf(stderr, "jit-ssh: unknown command '%s' (try jit-ssh "
		    "--help)\n", pos[0]);
		free(pos);
		return JIT_EXIT_USAGE;
	}
	if (o.help) {
		command_help(cmd);
		free(pos);
		return JIT_EXIT_OK;
	}
	for (i = 0; i < O_NBITS; i++) {
		bit = 1u << i;
		if ((seen & bit) && !(cmd->allowed & bit)) {
			fprintf(stderr, "jit-ssh %s: --%s does not apply here "
			    "(usage: jit-ssh %s)\n", cmd->name, name_of(bit),
			    cmd->usage);
			free(pos);
			return JIT_EXIT_USAGE;
		}
	}
	o.args = pos + 1;
	o.nargs = npos - 1;
	if ((rc = resolve_token(&o, token_file, &token)) != 0) {
		free(pos);
		return rc;
	}

	client_install_sigint();
	if (client_http_global_init() != 0) {
		fprintf(stderr, "jit-ssh: cannot initialise libcurl\n");
		rc = JIT_EXIT_ERROR;
		goto out;
	}
	rc = cmd->run(&o);
	client_http_global_cleanup();
 out:
	if (token != NULL) {
		jit_wipe(token, strlen(token));
		free(token);
	}
	free(pos);
	return rc;
}
