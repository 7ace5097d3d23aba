/*
 * cmd_ca.c - jit-ca init, ca and sign: CA administration without the
 * server.  See cmds.h for the exit-status contract: 0 success, 1 runtime
 * failure, 2 usage error (unknown or missing options, malformed values),
 * each failure reported as one line "jit-ca CMD: message" on stderr.
 */
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/rand.h>

#include "buf.h"
#include "cadir.h"
#include "cert.h"
#include "cmds.h"
#include "config.h"
#include "err.h"
#include "hosts.h"
#include "key.h"
#include "store.h"
#include "terms.h"
#include "util.h"

#define EXIT_USAGE 2
#define CLOCK_SKEW 60            /* seconds valid_after is backdated */
#define USER_KEY_MAX (64 * 1024) /* largest .pub file we read */
#define RSA_MAX_BITS 16384
/* Stay below 2^63: Go's x/crypto/ssh reads larger times as negative. */
#define TIME_MAX ((uint64_t)INT64_MAX - 1)

/* Long-only options get values outside the char range. */
enum {
	OPT_DURATION = 256,
	OPT_FORCE_COMMAND,
	OPT_SOURCE_ADDRESS,
	OPT_EXTENSION,
	OPT_NO_EXTENSIONS,
	OPT_VALID_FROM,
	OPT_KEY_TYPE,
	OPT_BITS,
	OPT_FINGERPRINT,
	OPT_ENCRYPT,
	OPT_PASSPHRASE_FILE,
	OPT_HOST,
};

/*
 * Report a getopt_long failure in our one-line format.  opterr is 0 and
 * the option string starts with ':' so getopt returns ':' for a missing
 * argument and '?' for an unknown option, leaving the message to us.
 */
static int
bad_option(const char *cmd, int c, char **argv)
{
	const char *arg = argv[optind - 1];
	char shortopt[3] = { '-', (char)optopt, '\0' };

	/* For a short option in a group ("-xk") argv[optind-1] is the whole
	 * group; name the option itself. */
	if (optopt > 0 && optopt < 256 && strncmp(arg, "--", 2) != 0)
		arg = shortopt;
	if (c == ':')
		cmd_fail(cmd, "option '%s' needs a value (try jit-ca %s --help)",
		    arg, cmd);
	else
		cmd_fail(cmd, "unknown option '%s' (try jit-ca %s --help)",
		    arg, cmd);
	return EXIT_USAGE;
}

static int
no_operands(const char *cmd, int argc, char **argv)
{
	if (optind < argc) {
		cmd_fail(cmd, "unexpected argument '%s' (try jit-ca %s --help)",
		    argv[optind], cmd);
		return EXIT_USAGE;
	}
	return 0;
}

/* jit_err(r), but with the errno text for SYSTEM errors, which the
 * library leaves in errno (EFBIG, EISDIR, ... have no code of their own). */
static const char *
errmsg(int r)
{
	if (r == JIT_ERR_SYSTEM && errno != 0)
		return strerror(errno);
	return jit_err(r);
}

/* Say why the CA key in data could not be read or loaded (what: "read
 * the CA key in"), with the way to create one when there is none; why is
 * cadir's sentence about the encryption or the passphrase, if any. */
static void
ca_key_fail(const char *cmd, const char *data, const char *what, int r,
    const char *why)
{
	if (*why != '\0')
		cmd_fail(cmd, "%s", why);
	else if (r == JIT_ERR_NOT_FOUND)
		cmd_fail(cmd, "no CA in %s (create one with 'jit-ca init "
		    "--data %s')", data, data);
	else
		cmd_fail(cmd, "cannot %s %s: %s", what, data, errmsg(r));
}

static void
getopt_reset(void)
{
	/* main() dispatches after its own look at argv; glibc needs 0 to
	 * reinitialise fully. */
	optind = 0;
	opterr = 0;
}

/* ------------------------------------------------------------------ */
/* jit-ca init                                                          */

static void
init_usage(FILE *f)
{
	fprintf(f,
	    "usage: jit-ca init [--data DIR | --config FILE] [--host]\n"
	    "                   [--key-type TYPE] [--bits N]\n"
	    "                   [--encrypt [--passphrase-file FILE]]\n"
	    "\n"
	    "Create a new CA key in the data directory DIR (created with mode\n"
	    "0700 if missing) and print its public key line, the line hosts\n"
	    "trust with TrustedUserCAKeys.  Writes DIR/ca_key (0600) and\n"
	    "DIR/ca_key.pub (0644), and the host CA that signs host\n"
	    "certificates, DIR/host_ca_key (0600) and DIR/host_ca_key.pub\n"
	    "(0644), of the same type and passphrase.  An existing CA is\n"
	    "never overwritten.\n"
	    "\n"
	    "  -d, --data DIR      data directory (default: the config's,\n"
	    "                      else %s)\n"
	    "  -c, --config FILE   take the data directory from a server\n"
	    "                      config\n"
	    "      --host          create only the host CA, and print its "
	    "line\n"
	    "                      (for a data directory made without one)\n"
	    "      --key-type TYPE ed25519 (default), ecdsa-p256, ecdsa-p384,\n"
	    "                      ecdsa-p521, ecdsa (= ecdsa-p256) or rsa\n"
	    "      --bits N        RSA modulus size (default %d, minimum %d)\n"
	    "      --encrypt       write DIR/ca_key encrypted with a "
	    "passphrase\n"
	    "                      (ssh-keygen -y -f reads it with the same)\n"
	    "      --passphrase-file FILE\n"
	    "                      with --encrypt: the passphrase is FILE's "
	    "first\n"
	    "                      line; else the systemd credential\n"
	    "                      " JIT_CADIR_CREDENTIAL ", else asked twice "
	    "on a terminal\n"
	    "  -h, --help          show this help\n"
	    "\n"
	    "Exit status: 0 success, 1 failure, 2 usage error.\n",
	    JIT_CONFIG_DEFAULT_DATA, JIT_RSA_DEFAULT_BITS,
	    JIT_RSA_MIN_CA_BITS);
}

/* Parse a positive decimal number no larger than max. */
static int
parse_uint(const char *s, uint64_t max, uint64_t *v)
{
	uint64_t x = 0, d;

	*v = 0;
	if (s == NULL || *s == '\0')
		return -1;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		d = (uint64_t)(*s - '0');
		if (x > (UINT64_MAX - d) / 10)
			return -1;
		x = x * 10 + d;
	}
	if (x > max)
		return -1;
	*v = x;
	return 0;
}

/* 1 if the directory that would contain path exists. */
static int
parent_exists(const char *path)
{
	char *copy = jit_strdup(path);
	struct stat st;
	int r;

	if (copy == NULL)
		return 1;
	r = stat(dirname(copy), &st) == 0 && S_ISDIR(st.st_mode);
	free(copy);
	return r;
}

int
cmd_init(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "data", required_argument, NULL, 'd' },
		{ "config", required_argument, NULL, 'c' },
		{ "key-type", required_argument, NULL, OPT_KEY_TYPE },
		{ "bits", required_argument, NULL, OPT_BITS },
		{ "encrypt", no_argument, NULL, OPT_ENCRYPT },
		{ "passphrase-file", required_argument, NULL,
		    OPT_PASSPHRASE_FILE },
		{ "host", no_argument, NULL, OPT_HOST },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cmd = "init", *data = NULL, *type_name = "ed25519";
	const char *bits_arg = NULL, *config = NULL, *pass_file = NULL;
	struct jit_config cfg;
	enum jit_key_type type;
	struct jit_key *k = NULL, *host = NULL;
	struct jit_cadir_pass pass;
	char *line = NULL, err[1024], what[PATH_MAX + 32];
	char secret[JIT_PASSPHRASE_MAX + 1];
	uint64_t bits = 0;
	int c, r, ret = 1, encrypt = 0, host_only = 0;

	memset(&cfg, 0, sizeof(cfg));
	getopt_reset();
	while ((c = getopt_long(argc, argv, ":d:c:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'd': data = optarg; break;
		case 'c': config = optarg; break;
		case OPT_KEY_TYPE: type_name = optarg; break;
		case OPT_BITS: bits_arg = optarg; break;
		case OPT_ENCRYPT: encrypt = 1; break;
		case OPT_PASSPHRASE_FILE: pass_file = optarg; break;
		case OPT_HOST: host_only = 1; break;
		case 'h': init_usage(stdout); return 0;
		default: return bad_option(cmd, c, argv);
		}
	}
	if ((r = no_operands(cmd, argc, argv)) != 0)
		return r;
	if (data != NULL && *data == '\0') {
		cmd_fail(cmd, "empty --data (try jit-ca init --help)");
		return EXIT_USAGE;
	}
	type = jit_key_type_from_short_name(type_name);
	if (type == JIT_KEY_UNKNOWN) {
		cmd_fail(cmd, "unknown key type '%s' (use ed25519, ecdsa-p256, "
		    "ecdsa-p384, ecdsa-p521 or rsa)", type_name);
		return EXIT_USAGE;
	}
	if (bits_arg != NULL) {
		if (type != JIT_KEY_RSA) {
			cmd_fail(cmd, "--bits applies only to --key-type rsa");
			return EXIT_USAGE;
		}
		if (parse_uint(bits_arg, RSA_MAX_BITS, &bits) != 0 ||
		    bits < JIT_RSA_MIN_CA_BITS) {
			cmd_fail(cmd, "invalid --bits '%s' (RSA CA keys need "
			    "%d to %d bits)", bits_arg, JIT_RSA_MIN_CA_BITS,
			    RSA_MAX_BITS);
			return EXIT_USAGE;
		}
	}
	if (pass_file != NULL && !encrypt) {
		cmd_fail(cmd, "--passphrase-file needs --encrypt");
		return EXIT_USAGE;
	}
	if (cmd_config_load(cmd, config, &cfg, &data, NULL) != 0)
		goto out;
	if (host_only ? jit_cadir_host_exists(data) :
	    jit_cadir_exists(data) || jit_cadir_host_exists(data)) {
		cmd_fail(cmd, "%s already holds a %sCA key; refusing to "
		    "overwrite it", data, host_only ||
		    !jit_cadir_exists(data) ? "host " : "");
		goto out;
	}
	if (encrypt) {
		cmd_pass_init(&pass, pass_file);
		if (host_only)
			snprintf(what, sizeof(what), "the new host CA key "
			    "%s/%s", data, JIT_CADIR_HOST_KEY);
		else
			snprintf(what, sizeof(what), "the new CA keys in %s",
			    data);
		if (jit_cadir_pass_get(&pass, what, 1, secret, sizeof(secret),
		    err, sizeof(err)) != 0) {
			cmd_fail(cmd, "%s", err);
			goto out;
		}
	}
	if (host_only)
		r = jit_cadir_create_host(data, type, (unsigned)bits,
		    encrypt ? secret : NULL, &k);
	else
		r = jit_cadir_create_with_host(data, type, (unsigned)bits,
		    encrypt ? secret : NULL, &k, &host);
	jit_wipe(secret, sizeof(secret));
	if (r == JIT_ERR_FILE_EXISTS) {
		cmd_fail(cmd, "%s already holds a CA key; refusing to "
		    "overwrite it", data);
		goto out;
	} else if (r == JIT_ERR_INVALID_ARGUMENT) {
		cmd_fail(cmd, "%s exists and is not a directory", data);
		goto out;
	} else if (r == JIT_ERR_NOT_FOUND && !parent_exists(data)) {
		cmd_fail(cmd, "cannot create %s: its parent directory does not "
		    "exist", data);
		goto out;
	} else if (r != 0) {
		cmd_fail(cmd, "cannot create a CA in %s: %s", data, errmsg(r));
		goto out;
	}
	if ((r = jit_key_format_public(k, host_only ? JIT_CADIR_HOST_COMMENT :
	    JIT_CADIR_COMMENT, &line)) != 0) {
		cmd_fail(cmd, "cannot format the CA public key: %s",
		    jit_err(r));
		goto out;
	}
	printf("%s\n", line);
	if (fflush(stdout) != 0) {
		cmd_fail(cmd, "cannot write to stdout");
		goto out;
	}
	if (!host_only)
		fprintf(stderr, "jit-ca init: the host CA is %s/%s; clients "
		    "trust it with the line of 'jit-ca ca --host'\n", data,
		    JIT_CADIR_HOST_KEY);
	ret = 0;
out:
	jit_key_free(k);
	jit_key_free(host);
	free(line);
	jit_config_release(&cfg);
	return ret;
}

/* ------------------------------------------------------------------ */
/* jit-ca ca                                                            */

static void
ca_usage(FILE *f)
{
	fprintf(f,
	    "usage: jit-ca ca [--data DIR | --config FILE] [--host] "
	    "[--fingerprint]\n"
	    "                 [--passphrase-file FILE]\n"
	    "\n"
	    "Print the CA public key line (for TrustedUserCAKeys) of the CA in\n"
	    "the data directory DIR, or with --host the known_hosts line that\n"
	    "makes clients trust the host CA: \"@cert-authority *.DOMAIN "
	    "KEY\"\n"
	    "for the config's host_domains (\"*\" when it names none).\n"
	    "\n"
	    "  -d, --data DIR      data directory (default: the config's,\n"
	    "                      else %s)\n"
	    "  -c, --config FILE   server config (data, host_domains)\n"
	    "      --host          the host CA's @cert-authority line\n"
	    "  -l, --fingerprint   print the SHA256 fingerprint instead\n"
	    "      --passphrase-file FILE\n"
	    "                      passphrase of an encrypted DIR/ca_key, "
	    "needed only\n"
	    "                      when DIR/ca_key.pub is missing\n"
	    "  -h, --help          show this help\n"
	    "\n"
	    "Exit status: 0 success, 1 failure, 2 usage error.\n",
	    JIT_CONFIG_DEFAULT_DATA);
}

/* The line jit-ca ca prints, in *line: the CA key line, or with host the
 * host CA's @cert-authority line for the domains of cfg. */
static int
ca_line(const char *cmd, const char *data, int host,
    const struct jit_config *cfg, const struct jit_cadir_pass *pass,
    char **line, char **key)
{
	char err[1024];
	int r;

	*line = *key = NULL;
	if (!host)
		r = jit_cadir_public_line_pass(data, pass, key, err,
		    sizeof(err));
	else
		r = jit_cadir_host_public_line_pass(data, pass, key, err,
		    sizeof(err));
	if (r == JIT_ERR_NOT_FOUND && host && *err == '\0') {
		cmd_fail(cmd, "no host CA in %s (create one with 'jit-ca init "
		    "--host --data %s')", data, data);
		return r;
	}
	if (r != 0) {
		ca_key_fail(cmd, data, host ? "read the host CA key in" :
		    "read the CA key in", r, err);
		return r;
	}
	if (!host)
		return (*line = jit_strdup(*key)) != NULL ? 0 : JIT_ERR_ALLOC;
	if ((r = jit_hosts_ca_line((const char *const *)cfg->host_domains,
	    cfg->nhost_domains, *key, line)) != 0)
		cmd_fail(cmd, "cannot make the @cert-authority line: %s",
		    jit_err(r));
	return r;
}

int
cmd_ca(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "data", required_argument, NULL, 'd' },
		{ "config", required_argument, NULL, 'c' },
		{ "host", no_argument, NULL, OPT_HOST },
		{ "fingerprint", no_argument, NULL, 'l' },
		{ "passphrase-file", required_argument, NULL,
		    OPT_PASSPHRASE_FILE },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cmd = "ca", *data = NULL, *config = NULL;
	const char *pass_file = NULL;
	struct jit_key *k = NULL;
	struct jit_cadir_pass pass;
	struct jit_config cfg;
	char *line = NULL, *key = NULL, *fp = NULL;
	int c, r, ret = 1, want_fp = 0, host = 0;

	memset(&cfg, 0, sizeof(cfg));
	getopt_reset();
	while ((c = getopt_long(argc, argv, ":d:c:lh", longopts, NULL)) != -1) {
		switch (c) {
		case 'd': data = optarg; break;
		case 'c': config = optarg; break;
		case OPT_HOST: host = 1; break;
		case 'l': want_fp = 1; break;
		case OPT_PASSPHRASE_FILE: pass_file = optarg; break;
		case 'h': ca_usage(stdout); return 0;
		default: return bad_option(cmd, c, argv);
		}
	}
	if ((r = no_operands(cmd, argc, argv)) != 0)
		return r;
	if (data != NULL && *data == '\0') {
		cmd_fail(cmd, "empty --data (try jit-ca ca --help)");
		return EXIT_USAGE;
	}
	if (cmd_config_load(cmd, config, &cfg, &data, NULL) != 0)
		goto out;
	cmd_pass_init(&pass, pass_file);
	if (ca_line(cmd, data, host, &cfg, &pass, &line, &key) != 0)
		goto out;
	if (want_fp) {
		if ((r = jit_key_parse_public(key, &k, NULL)) != 0 ||
		    (r = jit_key_fingerprint(k, &fp)) != 0) {
			cmd_fail(cmd, "cannot fingerprint the CA key: %s",
			    jit_err(r));
			goto out;
		}
		printf("%s\n", fp);
	} else {
		printf("%s\n", line);
	}
	if (fflush(stdout) != 0) {
		cmd_fail(cmd, "cannot write to stdout");
		goto out;
	}
	ret = 0;
out:
	jit_key_free(k);
	free(line);
	free(key);
	free(fp);
	jit_config_release(&cfg);
	return ret;
}

/* ------------------------------------------------------------------ */
/* jit-ca sign                                                          */

#define MAX_EXTENSIONS 64

static void
sign_usage(FILE *f)
{
	fprintf(f,
	    "usage: jit-ca sign [--data DIR | --config FILE] --key USER.pub\n"
	    "                   --principal P [--principal P2 ...]\n"
	    "                   --duration TIME [options]\n"
	    "\n"
	    "Sign an OpenSSH user certificate for USER.pub with the CA in DIR,\n"
	    "offline, and print the certificate line.  The certificate is\n"
	    "valid from 60 s ago (clock skew) until now + TIME, or exactly\n"
	    "from --valid-from for TIME.\n"
	    "\n"
	    "  -d, --data DIR            data directory holding the CA\n"
	    "                            (default: the config's, else\n"
	    "                            %s)\n"
	    "  -c, --config FILE         take the data directory from a\n"
	    "                            server config\n"
	    "  -k, --key FILE            user public key (ed25519, ecdsa, or\n"
	    "                            rsa of at least %d bits)\n"
	    "  -n, --principal NAME      login name allowed; repeatable\n"
	    "      --duration TIME       validity, e.g. 90s, 30m, 1h, 2d\n"
	    "  -I, --identity ID         key ID logged by sshd (default: the\n"
	    "                            first principal)\n"
	    "  -z, --serial N            serial, non-zero (default: random)\n"
	    "      --force-command CMD   critical option force-command\n"
	    "      --source-address LIST critical option source-address: a\n"
	    "                            comma list of IPv4/IPv6 addresses or\n"
	    "                            CIDRs, e.g. 10.0.0.0/8,::1\n"
	    "      --extension NAME      extension to grant; repeatable, or a\n"
	    "                            comma list; replaces the default\n"
	    "                            (permit-pty only)\n"
	    "      --no-extensions       grant no extensions at all\n"
	    "      --valid-from TIME     start: RFC 3339 (2030-01-31T08:00:00Z),\n"
	    "                            epoch seconds, or +DURATION from now\n"
	    "  -o, --output FILE         write the certificate line to FILE\n"
	    "                            instead of stdout (- is stdout)\n"
	    "      --passphrase-file FILE  passphrase of an encrypted CA key\n"
	    "                            (first line; else the systemd\n"
	    "                            credential " JIT_CADIR_CREDENTIAL ",\n"
	    "                            else asked on a terminal)\n"
	    "  -h, --help                show this help\n"
	    "\n"
	    "Known extensions: permit-pty, permit-port-forwarding,\n"
	    "permit-agent-forwarding, permit-X11-forwarding, permit-user-rc,\n"
	    "no-touch-required; custom ones look like name@domain.\n"
	    "\n"
	    "Exit status: 0 success, 1 failure, 2 usage error.\n",
	    JIT_CONFIG_DEFAULT_DATA, JIT_RSA_MIN_USER_BITS);
}

/* A comma list of source-address entries, each checked as terms.h
 * says. */
static int
check_source_address(const char *list, char *why, size_t whylen)
{
	const char *p = list, *comma;
	size_t len;

	if (*list == '\0') {
		snprintf(why, whylen, "empty list");
		return -1;
	}
	for (;;) {
		comma = strchr(p, ',');
		len = comma != NULL ? (size_t)(comma - p) : strlen(p);
		if (jit_check_source_entry(p, len, why, whylen) != 0)
			return -1;
		if (comma == NULL)
			return 0;
		p = comma + 1;
	}
}

/* Split a comma list of extensions into ext[], checking each name. */
static int
add_extensions(const char *cmd, char *arg, const char **ext, size_t *next)
{
	char *p = arg, *comma, why[256];
	size_t i;

	for (;;) {
		if ((comma = strchr(p, ',')) != NULL)
			*comma = '\0';
		if (jit_check_extension(p, why, sizeof(why)) != 0) {
			cmd_fail(cmd, "%s", why);
			return -1;
		}
		for (i = 0; i < *next; i++) {
			if (strcmp(ext[i], p) == 0) {
				cmd_fail(cmd, "extension '%s' given twice", p);
				return -1;
			}
		}
		if (*next >= MAX_EXTENSIONS) {
			cmd_fail(cmd, "too many extensions (at most %d)",
			    MAX_EXTENSIONS);
			return -1;
		}
		ext[(*next)++] = p;
		if (comma == NULL)
			return 0;
		p = comma + 1;
	}
}

static int
check_principal(const char *cmd, const char *p, const char **seen,
    size_t nseen)
{
	size_t i;

	if (*p == '\0') {
		cmd_fail(cmd, "empty --principal");
		return -1;
	}
	/* sshd compares principals to login names and to
	 * AuthorizedPrincipalsFile lines; separators or control characters
	 * can only cause surprises there. */
	if (strpbrk(p, " \t,") != NULL || !jit_text_printable(p)) {
		cmd_fail(cmd, "invalid principal '%s' (no spaces, commas or "
		    "control characters)", p);
		return -1;
	}
	for (i = 0; i < nseen; i++) {
		if (strcmp(seen[i], p) == 0) {
			cmd_fail(cmd, "principal '%s' given twice", p);
			return -1;
		}
	}
	return 0;
}

/* The record and audit entry of an offline certificate (cmds.h). */
static int
record_offline(struct jit_store *s, const struct jit_cert_spec *spec,
    const char *line, const struct jit_key *user, const struct jit_key *ca)
{
	char *kfp = NULL, *cfp = NULL;
	int r;

	if ((r = jit_key_fingerprint(user, &kfp)) == 0 &&
	    (r = jit_key_fingerprint(ca, &cfp)) == 0)
		r = cmd_sign_record(s, spec, line, kfp, cfp);
	free(kfp);
	free(cfp);
	return r;
}

/* Non-zero 63-bit random serial. */
static int
random_serial(uint64_t *serial)
{
	unsigned char b[8];
	uint64_t v;
	size_t i;

	do {
		if (RAND_bytes(b, sizeof(b)) != 1)
			return JIT_ERR_CRYPTO;
		v = 0;
		for (i = 0; i < sizeof(b); i++)
			v = (v << 8) | b[i];
		v &= (uint64_t)INT64_MAX;
	} while (v == 0);
	*serial = v;
	return 0;
}

/* Read and parse the user's public key file, keeping its comment. */
static int
load_user_key(const char *path, struct jit_key **key, char **comment)
{
	unsigned char *data = NULL;
	size_t len = 0;
	int r;

	*key = NULL;
	*comment = NULL;
	if ((r = jit_read_file(path, USER_KEY_MAX, &data, &len)) != 0)
		return r;
	if (strlen((char *)data) != len)
		r = JIT_ERR_INVALID_FORMAT;
	else
		r = jit_key_parse_public((char *)data, key, comment);
	free(data);
	return r;
}

/* What jit-ca sign was asked for: its options, then the values made
 * from them (check_sign_args). */
struct sign_args {
	const char *data, *config, *keypath, *duration_arg, *identity;
	const char *serial_arg, *force, *source, *valid_from, *output;
	const char *pass_file;
	const char *principals[JIT_CERT_MAX_PRINCIPALS];
	const char *ext[MAX_EXTENSIONS];
	size_t nprincipals, next;
	int ext_given, no_ext;
	uint64_t serial, start, end;    /* serial 0: pick one */
};

/* The command line into *a: -1 to go on, else the exit code. */
static int
parse_sign_args(int argc, char **argv, struct sign_args *a)
{
	static const struct option longopts[] = {
		{ "data", required_argument, NULL, 'd' },
		{ "config", required_argument, NULL, 'c' },
		{ "key", required_argument, NULL, 'k' },
		{ "principal", required_argument, NULL, 'n' },
		{ "duration", required_argument, NULL, OPT_DURATION },
		{ "identity", required_argument, NULL, 'I' },
		{ "serial", required_argument, NULL, 'z' },
		{ "force-command", required_argument, NULL, OPT_FORCE_COMMAND },
		{ "source-address", required_argument, NULL,
		    OPT_SOURCE_ADDRESS },
		{ "extension", required_argument, NULL, OPT_EXTENSION },
		{ "no-extensions", no_argument, NULL, OPT_NO_EXTENSIONS },
		{ "valid-from", required_argument, NULL, OPT_VALID_FROM },
		{ "output", required_argument, NULL, 'o' },
		{ "passphrase-file", required_argument, NULL,
		    OPT_PASSPHRASE_FILE },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cmd = "sign";
	int c, r;

	getopt_reset();
	while ((c = getopt_long(argc, argv, ":d:c:k:n:I:z:o:h", longopts,
	    NULL)) != -1) {
		switch (c) {
		case 'd': a->data = optarg; break;
		case 'c': a->config = optarg; break;
		case 'k': a->keypath = optarg; break;
		case 'n':
			if (a->nprincipals >= JIT_CERT_MAX_PRINCIPALS) {
				cmd_fail(cmd, "too many principals (at most "
				    "%d)", JIT_CERT_MAX_PRINCIPALS);
				return EXIT_USAGE;
			}
			if (check_principal(cmd, optarg, a->principals,
			    a->nprincipals) != 0)
				return EXIT_USAGE;
			a->principals[a->nprincipals++] = optarg;
			break;
		case OPT_DURATION: a->duration_arg = optarg; break;
		case 'I': a->identity = optarg; break;
		case 'z': a->serial_arg = optarg; break;
		case OPT_FORCE_COMMAND: a->force = optarg; break;
		case OPT_SOURCE_ADDRESS: a->source = optarg; break;
		case OPT_EXTENSION:
			a->ext_given = 1;
			if (add_extensions(cmd, optarg, a->ext, &a->next) != 0)
				return EXIT_USAGE;
			break;
		case OPT_NO_EXTENSIONS: a->no_ext = 1; break;
		case OPT_VALID_FROM: a->valid_from = optarg; break;
		case 'o':
			/* "-" is standard output, as if -o were not given. */
			a->output = strcmp(optarg, "-") == 0 ? NULL : optarg;
			break;
		case OPT_PASSPHRASE_FILE: a->pass_file = optarg; break;
		case 'h': sign_usage(stdout); return 0;
		default: return bad_option(cmd, c, argv);
		}
	}
	if ((r = no_operands(cmd, argc, argv)) != 0)
		return r;
	return -1;
}

/* The validity window of a->valid_from and duration: a->start, a->end.
 * 0, or -1 after a message. */
static int
sign_window(struct sign_args *a, uint64_t duration)
{
	const char *cmd = "sign", *vf = a->valid_from;
	uint64_t now = jit_now(), base = now, delta;

	/* Default window: backdated by the skew allowance, ending exactly
	 * duration from now.  An explicit start is taken as given. */
	if (vf == NULL) {
		a->start = now > CLOCK_SKEW ? now - CLOCK_SKEW : 0;
	} else if (vf[0] == '+') {
		if (jit_parse_duration(vf + 1, &delta) != 0) {
			cmd_fail(cmd, "invalid --valid-from '%s'", vf);
			return -1;
		}
		a->start = base = now + delta;
	} else if (jit_parse_time(vf, &a->start) != 0) {
		cmd_fail(cmd, "invalid --valid-from '%s' (use RFC 3339 like "
		    "2030-01-31T08:00:00Z, epoch seconds or +1h)", vf);
		return -1;
	} else {
		base = a->start;
	}
	/* duration is capped at ~100 years, so the sum cannot wrap. */
	if (base > TIME_MAX - duration) {
		cmd_fail(cmd, "validity window ends too far in the future");
		return -1;
	}
	a->end = base + duration;
	return 0;
}

/* Required options, in the order the usage line names them, then the
 * values of the others.  0, or -1 after a message. */
static int
check_sign_args(struct sign_args *a)
{
	const char *cmd = "sign";
	uint64_t duration = 0;
	char why[160];

	if (a->data != NULL && *a->data == '\0') {
		cmd_fail(cmd, "empty --data (try jit-ca sign --help)");
		return -1;
	}
	if (a->keypath == NULL || *a->keypath == '\0') {
		cmd_fail(cmd, "missing --key USER.pub (try jit-ca sign --help)");
		return -1;
	}
	if (a->nprincipals == 0) {
		cmd_fail(cmd, "missing --principal (a certificate without "
		    "principals is refused by sshd)");
		return -1;
	}
	if (a->duration_arg == NULL) {
		cmd_fail(cmd, "missing --duration (e.g. --duration 1h)");
		return -1;
	}
	if (jit_parse_duration(a->duration_arg, &duration) != 0) {
		cmd_fail(cmd, "invalid --duration '%s' (use e.g. 90s, 30m, "
		    "1h, 2d; must be more than zero)", a->duration_arg);
		return -1;
	}
	if (a->identity == NULL)
		a->identity = a->principals[0];
	if (*a->identity == '\0' || !jit_text_printable(a->identity)) {
		cmd_fail(cmd, "invalid --identity (must be non-empty "
		    "printable text)");
		return -1;
	}
	if (a->serial_arg != NULL &&
	    (parse_uint(a->serial_arg, UINT64_MAX, &a->serial) != 0 ||
	    a->serial == 0)) {
		cmd_fail(cmd, "invalid --serial '%s' (a non-zero decimal "
		    "number below 2^64)", a->serial_arg);
		return -1;
	}
	if (a->force != NULL && *a->force == '\0') {
		cmd_fail(cmd, "empty --force-command");
		return -1;
	}
	if (a->source != NULL &&
	    check_source_address(a->source, why, sizeof(why)) != 0) {
		cmd_fail(cmd, "invalid --source-address: %s", why);
		return -1;
	}
	if (a->no_ext && a->ext_given) {
		cmd_fail(cmd, "--no-extensions and --extension exclude each "
		    "other");
		return -1;
	}
	if (!a->ext_given && !a->no_ext) {
		a->ext[0] = "permit-pty";
		a->next = 1;
	}
	return sign_window(a, duration);
}

/* a->serial made final: from the store (a serial the server never
 * used, a->serial if given and free), or random without one.  0, or -1
 * after a message. */
static int
sign_pick_serial(struct sign_args *a, struct jit_store *store)
{
	const char *cmd = "sign";
	uint64_t given = a->serial;
	int r;

	if (store == NULL) {
		if (a->serial == 0 && (r = random_serial(&a->serial)) != 0) {
			cmd_fail(cmd, "cannot pick a serial: %s", jit_err(r));
			return -1;
		}
		return 0;
	}
	if ((r = cmd_sign_serial(store, given, &a->serial)) == 0)
		return 0;
	if (r == JIT_ERR_CONFLICT)
		cmd_fail(cmd, "serial %llu was already used by a certificate "
		    "of %s", (unsigned long long)given, a->data);
	else
		cmd_fail(cmd, "cannot pick a serial: %s", jit_err(r));
	return -1;
}

/* The certificate line to a->output (a file, 0644) or standard output.
 * 0, or -1 after a message. */
static int
sign_write(const struct sign_args *a, char *line)
{
	const char *cmd = "sign";
	size_t len;
	int r;

	if (a->output == NULL) {
		printf("%s\n", line);
		if (fflush(stdout) != 0) {
			cmd_fail(cmd, "cannot write to stdout");
			return -1;
		}
		return 0;
	}
	len = strlen(line);
	line[len] = '\n';   /* replaces the NUL; written by length */
	r = jit_write_file_atomic(a->output, line, len + 1, 0644, 0);
	line[len] = '\0';
	if (r != 0) {
		cmd_fail(cmd, "cannot write %s: %s", a->output, errmsg(r));
		return -1;
	}
	return 0;
}

int
cmd_sign(int argc, char **argv)
{
	const char *cmd = "sign";
	struct sign_args a;
	struct jit_config cfg;
	struct jit_key *user = NULL, *ca = NULL;
	struct jit_cert_spec spec;
	struct jit_cadir_pass pass;
	struct jit_buf blob = JIT_BUF_INIT;
	char *comment = NULL, *line = NULL, err[1024];
	struct stat st;
	int r, ret = 1;
	struct jit_store *store = NULL;

	memset(&a, 0, sizeof(a));
	if ((r = parse_sign_args(argc, argv, &a)) >= 0)
		return r;
	if (check_sign_args(&a) != 0)
		return EXIT_USAGE;
	memset(&cfg, 0, sizeof(cfg));

	/* Keys.  A directory would fail later with a bare EISDIR. */
	if (stat(a.keypath, &st) == 0 && !S_ISREG(st.st_mode)) {
		cmd_fail(cmd, "%s: not a regular file", a.keypath);
		goto out;
	}
	r = load_user_key(a.keypath, &user, &comment);
	if (r != 0) {
		cmd_fail(cmd, "%s: %s", a.keypath, errmsg(r));
		goto out;
	}
	if (cmd_config_load(cmd, a.config, &cfg, &a.data, NULL) != 0)
		goto out;
	cmd_pass_init(&pass, a.pass_file);
	if ((r = jit_cadir_load_pass(a.data, &pass, &ca, err,
	    sizeof(err))) != 0) {
		ca_key_fail(cmd, a.data, "load the CA key from", r, err);
		goto out;
	}
	/* With a store, the certificate goes into the record: a serial
	 * the server never used, its record and a cert.issue entry.
	 * Without one it is unaudited, and we say so. */
	if ((r = cmd_sign_store_open(&cfg, a.data, &store, err,
	    sizeof(err))) != 0) {
		cmd_fail(cmd, "cannot open the store: %s", err);
		goto out;
	}
	if (sign_pick_serial(&a, store) != 0)
		goto out;

	memset(&spec, 0, sizeof(spec));
	spec.key = user;
	spec.serial = a.serial;
	spec.key_id = a.identity;
	spec.principals = a.principals;
	spec.nprincipals = a.nprincipals;
	spec.valid_after = a.start;
	spec.valid_before = a.end;
	spec.force_command = a.force;
	spec.source_address = a.source;
	spec.extensions = a.ext;
	spec.nextensions = a.next;
	if ((r = jit_cert_sign(&spec, ca, jit_key_signer, ca, &blob)) != 0) {
		cmd_fail(cmd, "cannot sign the certificate: %s", jit_err(r));
		goto out;
	}
	if ((r = jit_cert_format(jit_buf_ptr(&blob), jit_buf_len(&blob),
	    comment, &line)) != 0) {
		cmd_fail(cmd, "cannot format the certificate: %s", jit_err(r));
		goto out;
	}
	if (store != NULL && (r = record_offline(store, &spec, line, user,
	    ca)) != 0) {
		if (r == JIT_ERR_CONFLICT)
			cmd_fail(cmd, "serial %llu was used meanwhile; sign "
			    "again", (unsigned long long)a.serial);
		else
			cmd_fail(cmd, "cannot record the certificate in %s: %s",
			    a.data, jit_err(r));
		goto out;
	}
	if (sign_write(&a, line) != 0)
		goto out;
	/* Said once the certificate is out, so a failure stays one line. */
	if (store == NULL)
		fprintf(stderr, "jit-ca sign: %s has no store: this "
		    "certificate is not in any audit log\n", a.data);
	ret = 0;
out:
	jit_store_close(store);
	jit_buf_release(&blob);
	jit_key_free(user);
	jit_key_free(ca);
	free(comment);
	free(line);
	jit_config_release(&cfg);
	return ret;
}
