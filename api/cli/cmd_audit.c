/*
 * cmd_audit.c - `jit-ca audit export` and `jit-ca audit verify`: signed
 * exports of the audit log and their offline verification
 * (audit_export.h; docs/AUDIT.md).
 *
 * export reads LMDB directly with a read-only open (no server lock), so
 * it works while the server runs; it signs with the CA key of the data
 * directory unless --key names another private key (a dedicated audit
 * key).  verify needs nothing but the file and the expected public key.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit_export.h"
#include "cadir.h"
#include "cmds.h"
#include "config.h"
#include "err.h"
#include "key.h"
#include "sshsig.h"
#include "store.h"
#include "util.h"

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: jit-ca audit export [--data DIR | --config FILE] "
	    "[--since T] [--until T]\n"
	    "                           [--user U] [--role R] [--event E] "
	    "[--format jsonl|csv]\n"
	    "                           [-o FILE|-] [--sig FILE] "
	    "[--key PRIVATE_KEY]\n"
	    "                           [--passphrase-file FILE]\n"
	    "       jit-ca audit verify FILE|- (--ca-key CA.pub | --data DIR) "
	    "[--sig FILE.sig]\n\n"
	    "export  writes the audit log (JSON lines, or CSV) and a trailer "
	    "naming the\n"
	    "        chain head it was cut from, signed with the CA key (sshsig,"
	    " namespace\n"
	    "        " JIT_AUDIT_NAMESPACE "). With -o FILE the signature goes "
	    "to FILE.sig\n"
	    "        (ssh-keygen -Y verify -s FILE.sig < FILE); on stdout "
	    "(no -o, or -o -)\n"
	    "        it follows the trailer inline, unless --sig FILE names a "
	    "file for it.\n"
	    "        Works while the server runs.\n"
	    "verify  recomputes every entry's hash and the chain, checks the "
	    "trailer and\n"
	    "        the signature; prints a summary, or FILE:LINE: reason and "
	    "exits 1.\n"
	    "        The signature is --sig, else inline, else FILE.sig.\n\n"
	    "  --data DIR       data directory (default: the config's, else "
	    "%s)\n"
	    "  --config FILE    take the data directory from a server config\n"
	    "  --since T        entries at or after T (RFC 3339 or epoch "
	    "seconds)\n"
	    "  --until T        entries before T\n"
	    "  --user U         entries whose user or actor is U\n"
	    "  --role R         entries of role R\n"
	    "  --event E        comma-separated events; 'request.*' matches a "
	    "prefix\n"
	    "  --format F       jsonl (default) or csv\n"
	    "  -o, --output FILE\n"
	    "                   write FILE and FILE.sig (mode 0600); - is "
	    "stdout\n"
	    "  --key FILE       sign with this private key instead of the CA "
	    "key\n"
	    "  --passphrase-file FILE\n"
	    "                   passphrase of an encrypted signing key (first "
	    "line);\n"
	    "                   else the systemd credential "
	    JIT_CADIR_CREDENTIAL ", else asked\n"
	    "                   on a terminal\n"
	    "  --ca-key FILE    the public key that must have signed (e.g. "
	    "GET /v1/ca)\n"
	    "  --sig FILE       the signature file (export: where to write "
	    "it)\n\n"
	    "Exit status: 0 success, 1 failure, 2 usage error.\n",
	    JIT_CONFIG_DEFAULT_DATA);
}

/* Write all of p or fail. */
static int
write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return jit_err_from_errno(errno);
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/*
 * Export to out (NULL: stdout) with the detached signature written to
 * sigout, or, when sigout is NULL, to out.sig (a file) or inline after
 * the trailer (stdout).
 */
static int
do_export(const struct jit_config *cfg, const char *data,
    const struct jit_audit_filter *f, const char *out, const char *sigout,
    const char *keyfile, const char *pass_file)
{
	struct jit_cadir_pass pass;
	char err[1024];
	struct jit_store *store = NULL;
	struct jit_key *key = NULL;
	struct jit_audit_export *x = NULL;
	char *tmp = NULL, *sigpath = NULL, buf[64 * 1024];
	uint64_t count, first, last, head;
	int fd = -1, r, ret = 1;
	ssize_t n;
	size_t plen;

	cmd_pass_init(&pass, pass_file);
	r = keyfile != NULL ? jit_cadir_load_private(keyfile, "the key",
	    &pass, &key, err, sizeof(err)) :
	    jit_cadir_load_pass(data, &pass, &key, err, sizeof(err));
	if (r != 0 && *err != '\0') {
		cmd_fail("audit", "%s", err);
		goto out;
	} else if (r != 0) {
		cmd_fail("audit", "%s: %s", keyfile != NULL ? keyfile : data,
		    r == JIT_ERR_NOT_FOUND && keyfile == NULL ?
		    "no CA key in this data directory" : jit_err(r));
		goto out;
	}
	if ((r = jit_config_open_store(cfg, data, JIT_STORE_READONLY, &store,
	    err, sizeof(err))) != 0) {
		if (r == JIT_ERR_NOT_FOUND && cfg->store_url == NULL)
			cmd_fail("audit", "%s: no store here yet (the server "
			    "has not run on this data directory)", data);
		else
			cmd_fail("audit", "%s", err);
		goto out;
	}
	if (sigout != NULL) {
		if ((sigpath = jit_strdup(sigout)) == NULL) {
			cmd_fail("audit", "out of memory");
			goto out;
		}
	} else if (out != NULL) {
		plen = strlen(out);
		if ((sigpath = malloc(plen + 5)) == NULL) {
			cmd_fail("audit", "out of memory");
			goto out;
		}
		snprintf(sigpath, plen + 5, "%s.sig", out);
	}
	if ((r = jit_audit_export_new(store, f, key, sigpath == NULL ?
	    JIT_AUDIT_EXPORT_INLINE_SIG : 0, &x)) != 0) {
		cmd_fail("audit", "%s", jit_err(r));
		goto out;
	}
	if (out == NULL) {
		fd = STDOUT_FILENO;
	} else {
		plen = strlen(out);
		if ((tmp = malloc(plen + 16)) == NULL) {
			cmd_fail("audit", "out of memory");
			goto out;
		}
		snprintf(tmp, plen + 16, "%s.tmp.XXXXXX", out);
		if ((fd = mkstemp(tmp)) < 0) {
			cmd_fail("audit", "%s: %s", tmp, strerror(errno));
			free(tmp);
			tmp = NULL;
			goto out;
		}
	}
	while ((n = jit_audit_export_read(x, buf, sizeof(buf))) > 0) {
		if ((r = write_all(fd, buf, (size_t)n)) != 0) {
			cmd_fail("audit", "%s: %s", out != NULL ? out :
			    "stdout", strerror(errno));
			goto out;
		}
	}
	if (n < 0) {
		cmd_fail("audit", "export failed: %s", jit_err((int)n));
		goto out;
	}
	if (out == NULL && fflush(stdout) != 0) {
		cmd_fail("audit", "stdout: %s", strerror(errno));
		goto out;
	}
	if (out != NULL) {
		if (fsync(fd) != 0 || close(fd) != 0) {
			fd = -1;
			cmd_fail("audit", "%s: %s", tmp, strerror(errno));
			goto out;
		}
		fd = -1;
		if (rename(tmp, out) != 0) {
			cmd_fail("audit", "%s: %s", out, strerror(errno));
			goto out;
		}
		free(tmp);
		tmp = NULL;
	}
	if (sigpath != NULL) {
		const char *sig = jit_audit_export_signature(x);
		if ((r = jit_write_file_atomic(sigpath, sig, strlen(sig), 0600,
		    0)) != 0) {
			cmd_fail("audit", "%s: %s", sigpath, jit_err(r));
			goto out;
		}
	}
	jit_audit_export_info(x, &count, &first, &last, &head);
	fprintf(stderr, "jit-ca audit: exported %llu entries", (unsigned long
	    long)count);
	if (count > 0)
		fprintf(stderr, " (seq %llu..%llu)", (unsigned long long)first,
		    (unsigned long long)last);
	fprintf(stderr, " of %llu", (unsigned long long)head);
	fprintf(stderr, " to %s", out != NULL ? out : "stdout");
	fprintf(stderr, ", signature %s", sigpath != NULL ? sigpath :
	    "inline");
	fputc('\n', stderr);
	ret = 0;
out:
	if (fd >= 0 && fd != STDOUT_FILENO)
		close(fd);
	if (tmp != NULL) {
		unlink(tmp);
		free(tmp);
	}
	free(sigpath);
	jit_audit_export_free(x);
	jit_store_close(store);
	jit_key_free(key);
	return ret;
}

/* 1 if the last part of the regular file f holds an inline signature
 * (a line that is exactly the BEGIN line). */
static int
has_inline_sig(FILE *f)
{
	char buf[JIT_SSHSIG_MAX_ARMOR + 64], *p;
	struct stat st;
	size_t n;
	off_t start;
	int found = 0;

	if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode))
		return 1;  /* a pipe: only inline is possible */
	start = st.st_size > (off_t)(sizeof(buf) - 1) ?
	    st.st_size - (off_t)(sizeof(buf) - 1) : 0;
	if (fseeko(f, start, SEEK_SET) != 0)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	for (p = buf; (p = strstr(p, JIT_AUDIT_SIG_BEGIN "\n")) != NULL;
	    p++) {
		if ((p == buf && start == 0) || (p > buf && p[-1] == '\n')) {
			found = 1;
			break;
		}
	}
	rewind(f);
	return found;
}

static int
do_verify(const char *file, const char *ca_key, const char *data,
    const char *sigfile)
{
	struct jit_audit_verify_result res;
	struct jit_key *expected = NULL;
	unsigned char *sig = NULL;
	char *line = NULL, *autosig = NULL;
	size_t siglen = 0;
	FILE *f = NULL;
	int r, ret = 1, is_stdin = strcmp(file, "-") == 0;
	const char *name = is_stdin ? "(stdin)" : file;

	if (ca_key != NULL)
		r = jit_key_load_public(ca_key, &expected);
	else if ((r = jit_cadir_public_line(data, &line)) == 0)
		r = jit_key_parse_public(line, &expected, NULL);
	if (r != 0) {
		cmd_fail("audit", "%s: %s", ca_key != NULL ? ca_key : data,
		    jit_err(r));
		goto out;
	}
	if ((f = is_stdin ? stdin : fopen(file, "r")) == NULL) {
		cmd_fail("audit", "%s: %s", file, strerror(errno));
		goto out;
	}
	if (sigfile == NULL && !is_stdin && !has_inline_sig(f)) {
		size_t n = strlen(file) + 5;
		if ((autosig = malloc(n)) == NULL) {
			cmd_fail("audit", "out of memory");
			goto out;
		}
		snprintf(autosig, n, "%s.sig", file);
		if (access(autosig, F_OK) == 0)
			sigfile = autosig;
	}
	if (sigfile != NULL && (r = jit_read_file(sigfile,
	    JIT_SSHSIG_MAX_ARMOR, &sig, &siglen)) != 0) {
		cmd_fail("audit", "%s: %s", sigfile, jit_err(r));
		goto out;
	}
	r = jit_audit_verify_file(f, (const char *)sig, siglen, expected,
	    &res);
	/* has_inline_sig() only looks at text: a CSV cell may hold a line
	 * that looks like the armour.  If no inline signature was found
	 * after all, try FILE.sig. */
	if (r == JIT_ERR_SIGNATURE_INVALID && sigfile == NULL && !is_stdin &&
	    strstr(res.error, "no signature") != NULL) {
		size_t n = strlen(file) + 5;
		free(autosig);
		if ((autosig = malloc(n)) == NULL) {
			cmd_fail("audit", "out of memory");
			goto out;
		}
		snprintf(autosig, n, "%s.sig", file);
		if (access(autosig, F_OK) == 0) {
			sigfile = autosig;
			if ((r = jit_read_file(sigfile, JIT_SSHSIG_MAX_ARMOR,
			    &sig, &siglen)) != 0) {
				cmd_fail("audit", "%s: %s", sigfile,
				    jit_err(r));
				goto out;
			}
			rewind(f);
			r = jit_audit_verify_file(f, (const char *)sig, siglen,
			    expected, &res);
		}
	}
	if (r == JIT_ERR_AUDIT_CHAIN || r == JIT_ERR_SIGNATURE_INVALID) {
		if (res.line != 0)
			fprintf(stderr, "%s:%llu: %s\n", name,
			    (unsigned long long)res.line, res.error);
		else
			fprintf(stderr, "%s: %s\n", sigfile != NULL &&
			    r == JIT_ERR_SIGNATURE_INVALID ? sigfile : name,
			    res.error);
		goto out;
	}
	if (r != 0) {
		cmd_fail("audit", "%s: %s", name, jit_err(r));
		goto out;
	}
	printf("ok: %llu entries", (unsigned long long)res.count);
	if (res.count > 0)
		printf(", seq %llu..%llu", (unsigned long long)res.first_seq,
		    (unsigned long long)res.last_seq);
	if (res.contiguous)
		printf(" (complete and contiguous)");
	else
		printf(" (filtered: %s)", res.filters);
	printf(", chain head %llu %s, signed by %s (namespace %s), "
	    "generated %s\n", (unsigned long long)res.head_seq, res.head_hash,
	    res.signer_fp, JIT_AUDIT_NAMESPACE, res.generated_at);
	ret = 0;
out:
	if (f != NULL && !is_stdin)
		fclose(f);
	free(sig);
	free(line);
	free(autosig);
	jit_key_free(expected);
	return ret;
}

int
cmd_audit(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "data", required_argument, NULL, 'd' },
		{ "config", required_argument, NULL, 'c' },
		{ "since", required_argument, NULL, 'S' },
		{ "until", required_argument, NULL, 'U' },
		{ "user", required_argument, NULL, 'u' },
		{ "role", required_argument, NULL, 'r' },
		{ "event", required_argument, NULL, 'e' },
		{ "format", required_argument, NULL, 'f' },
		{ "output", required_argument, NULL, 'o' },
		{ "key", required_argument, NULL, 'k' },
		{ "ca-key", required_argument, NULL, 'K' },
		{ "sig", required_argument, NULL, 's' },
		{ "passphrase-file", required_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static const char *const fname[128] = { ['S'] = "since",
	    ['U'] = "until", ['u'] = "user", ['r'] = "role", ['e'] = "event",
	    ['f'] = "format" };
	struct jit_audit_filter filt;
	struct jit_config cfg;
	const char *data = NULL, *config = NULL, *out = NULL, *key = NULL,
	    *ca_key = NULL, *sig = NULL, *sub, *pass_file = NULL;
	char err[1024];
	int c, ret = 2, export, out_given = 0;

	memset(&filt, 0, sizeof(filt));
	memset(&cfg, 0, sizeof(cfg));
	if (argc < 2 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	sub = argv[1];
	if (strcmp(sub, "export") != 0 && strcmp(sub, "verify") != 0) {
		cmd_fail("audit", "unknown subcommand '%s' (use export or "
		    "verify)", sub);
		return 2;
	}
	export = sub[0] == 'e';
	opterr = 0;
	optind = 2;
	while ((c = getopt_long(argc, argv, ":d:c:o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'd': data = optarg; break;
		case 'c': config = optarg; break;
		case 'o':
			/* "-" is standard output, as if -o were not given. */
			out = strcmp(optarg, "-") == 0 ? NULL : optarg;
			out_given = 1;
			break;
		case 'k': key = optarg; break;
		case 'K': ca_key = optarg; break;
		case 's': sig = optarg; break;
		case 'P': pass_file = optarg; break;
		case 'S': case 'U': case 'u': case 'r': case 'e': case 'f':
			if (!export) {
				cmd_fail("audit", "--%s is for export only",
				    fname[c]);
				goto out;
			}
			if (jit_audit_filter_set(&filt, fname[c], optarg, err,
			    sizeof(err)) != 0) {
				cmd_fail("audit", "--%s", err);
				goto out;
			}
			break;
		case 'h':
			usage(stdout);
			ret = 0;
			goto out;
		case ':':
			cmd_fail("audit", "option '%s' needs a value",
			    argv[optind - 1]);
			goto out;
		default:
			cmd_fail("audit", "unknown option '%s' (try jit-ca "
			    "audit --help)", argv[optind - 1]);
			goto out;
		}
	}
	if (export) {
		if (optind != argc || ca_key != NULL) {
			cmd_fail("audit", "export takes only filters, --data, "
			    "--config, -o, --sig, --key and --passphrase-file "
			    "(try jit-ca audit --help)");
			goto out;
		}
		if (sig != NULL && (strcmp(sig, "-") == 0 || *sig == '\0' ||
		    (out != NULL && strcmp(sig, out) == 0))) {
			cmd_fail("audit", "--sig needs a file other than the "
			    "export (leave it out for an inline signature on "
			    "stdout)");
			goto out;
		}
		if (out != NULL && *out == '\0') {
			cmd_fail("audit", "-o: empty file name");
			goto out;
		}
	} else {
		if (optind != argc - 1 || out_given || key != NULL ||
		    pass_file != NULL) {
			cmd_fail("audit", "verify takes one FILE (or -) and "
			    "--ca-key or --data, and --sig");
			goto out;
		}
		if ((ca_key == NULL) == (data == NULL && config == NULL)) {
			cmd_fail("audit", "verify needs the expected signer: "
			    "--ca-key CA.pub (or --data DIR)");
			goto out;
		}
	}
	ret = 1;
	if (data == NULL || config != NULL) {
		if (cmd_config_load("audit", config, &cfg, &data, NULL) != 0)
			goto out;
	}
	if (export)
		ret = do_export(&cfg, data, &filt, out, sig, key, pass_file);
	else
		ret = do_verify(argv[optind], ca_key, data, sig);
out:
	jit_audit_filter_release(&filt);
	jit_config_release(&cfg);
	return ret;
}
