/* test-config.c - server config loader (api/config.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "err.h"
#include "test.h"

static int
parse(const char *text, struct jit_config *c, char *err, size_t errlen)
{
	return jit_config_parse("t.yaml", (const unsigned char *)text,
	    strlen(text), c, err, errlen);
}

/* The text must be refused with an error containing want. */
static void
refuse(const char *text, const char *want)
{
	struct jit_config c;
	char err[512];
	int r = parse(text, &c, err, sizeof(err));

	CHECK_INT(r, JIT_ERR_INVALID_FORMAT);
	if (strstr(err, want) == NULL) {
		fprintf(stderr, "error \"%s\" lacks \"%s\" (input: %s)\n", err,
		    want, text);
		test_failures++;
	}
	/* Released on error: a second release is harmless. */
	jit_config_release(&c);
}

static void
test_defaults(void)
{
	struct jit_config c;

	REQUIRE_OK(jit_config_defaults(&c));
	CHECK_STR(c.listen_text, "127.0.0.1:8787");
	CHECK_INT(c.listen.kind, JIT_LISTEN_INET);
	CHECK_STR(c.listen.host, "127.0.0.1");
	CHECK_INT(c.listen.port, 8787);
	CHECK_STR(c.data, "./jit-data");
	CHECK_STR(c.policies, "policies/examples/");
	CHECK_U64(c.clock_skew, 60);
	CHECK_U64(c.max_body, 65536);
	CHECK(c.tls_cert == NULL && c.tls_key == NULL);
	CHECK_U64(c.web_session_idle, 30 * 60);
	CHECK_U64(c.web_session_max, 12 * 3600);
	CHECK(c.web_origin == NULL);
	CHECK_INT(c.from_file, 0);
	CHECK_INT(c.max_pending, 20);
	CHECK(c.metrics_token_file == NULL);
	jit_config_release(&c);
}

static void
test_web(void)
{
	struct jit_config c;
	char err[256];

	REQUIRE_OK(parse("web:\n  session_idle: 10m\n  session_max: 8h\n"
	    "  origin: https://jit.example.com:8443\n", &c, err,
	    sizeof(err)));
	CHECK_U64(c.web_session_idle, 600);
	CHECK_U64(c.web_session_max, 8 * 3600);
	CHECK_STR(c.web_origin, "https://jit.example.com:8443");
	jit_config_release(&c);
	REQUIRE_OK(parse("web: {session_max: 1h}\n", &c, err, sizeof(err)));
	CHECK_U64(c.web_session_idle, 30 * 60);
	CHECK_U64(c.web_session_max, 3600);
	jit_config_release(&c);
	REQUIRE_OK(parse("web:\n", &c, err, sizeof(err)));
	CHECK_U64(c.web_session_max, 12 * 3600);
	jit_config_release(&c);
	refuse("web: {session_idle: 0}\n", "web.session_idle: invalid");
	refuse("web: {session_max: soon}\n", "web.session_max: invalid");
	refuse("web: {idle: 5m}\n", "web: unknown key 'idle'");
	refuse("web: {session_idle: 5m, session_idle: 6m}\n",
	    "duplicate key 'session_idle'");
	refuse("web: {origin: jit.example.com}\n", "web.origin: expected");
	refuse("web: {origin: 'https://jit.example.com/app'}\n",
	    "web.origin: expected");
	refuse("web: [a]\n", "web: expected a mapping");
}

static void
test_full(void)
{
	struct jit_config c;
	char err[256];

	REQUIRE_OK(parse("listen: '[::1]:9000'\n"
	    "data: /var/lib/jit-ssh\n"
	    "policies: /etc/jit-ssh/policies\n"
	    "tls: {cert: /etc/jit/tls.crt, key: /etc/jit/tls.key}\n"
	    "clock_skew: 2m\n"
	    "max_body: 1MiB\n"
	    "max_wait: 30s\n"
	    "sweep_interval: 10s\n"
	    "connection_timeout: 1m\n"
	    "threads: 0\n"
	    "max_connections: 50\n"
	    "rate_limit: 0\n"
	    "max_pending: 5\n"
	    "metrics_token_file: /etc/jit-ssh/metrics.token\n"
	    "request_timeout: 5s\n"
	    "max_connections_per_address: 8\n", &c, err, sizeof(err)));
	CHECK_INT(c.listen.kind, JIT_LISTEN_INET6);
	CHECK_STR(c.listen.host, "::1");
	CHECK_INT(c.listen.port, 9000);
	CHECK_STR(c.data, "/var/lib/jit-ssh");
	CHECK_STR(c.policies, "/etc/jit-ssh/policies");
	CHECK_STR(c.tls_cert, "/etc/jit/tls.crt");
	CHECK_STR(c.tls_key, "/etc/jit/tls.key");
	CHECK_U64(c.clock_skew, 120);
	CHECK_U64(c.max_body, 1024 * 1024);
	CHECK_U64(c.max_wait, 30);
	CHECK_U64(c.sweep_interval, 10);
	CHECK_U64(c.connection_timeout, 60);
	CHECK_INT(c.max_connections, 50);
	CHECK_INT(c.rate_limit, 0);
	CHECK_INT(c.max_pending, 5);
	CHECK_STR(c.metrics_token_file, "/etc/jit-ssh/metrics.token");
	CHECK_U64(c.request_timeout, 5);
	CHECK_INT(c.max_connections_per_address, 8);
	CHECK_INT(c.from_file, 1);
	jit_config_release(&c);
	REQUIRE_OK(parse("max_pending: 0\n", &c, err, sizeof(err)));
	CHECK_INT(c.max_pending, 0);
	jit_config_release(&c);

	/* Unset keys keep the defaults; an empty file is all defaults. */
	REQUIRE_OK(parse("listen: unix:/run/jit.sock\n", &c, err,
	    sizeof(err)));
	CHECK_INT(c.listen.kind, JIT_LISTEN_UNIX);
	CHECK_STR(c.listen.host, "/run/jit.sock");
	CHECK_STR(c.data, "./jit-data");
	CHECK_U64(c.clock_skew, 60);
	CHECK_U64(c.request_timeout, 10);
	CHECK_U64(c.connection_timeout, 30);
	CHECK_INT(c.max_connections, 1024);
	CHECK_INT(c.max_connections_per_address, 64);
	CHECK_INT(c.threads, 0);
	jit_config_release(&c);
	REQUIRE_OK(parse("", &c, err, sizeof(err)));
	CHECK_STR(c.listen_text, "127.0.0.1:8787");
	jit_config_release(&c);
	REQUIRE_OK(parse("# only a comment\n", &c, err, sizeof(err)));
	jit_config_release(&c);
	REQUIRE_OK(parse("tls: null\nclock_skew: 0\n", &c, err, sizeof(err)));
	CHECK(c.tls_cert == NULL);
	CHECK_U64(c.clock_skew, 0);
	jit_config_release(&c);
}

static void
test_errors(void)
{
	refuse("listen: 1.2.3.4:80\nlistn: x\n", "t.yaml:2: config: unknown "
	    "key 'listn'");
	refuse("data: /a\ndata: /b\n", "t.yaml:2: data: duplicate key");
	refuse("listen: nowhere\n", "t.yaml:1: listen: invalid address");
	refuse("listen: 1.2.3.4:99999\n", "listen: invalid address");
	refuse("listen: ::1:80\n", "listen: invalid address");
	refuse("listen: 'unix:'\n", "listen: invalid address");
	refuse("data: ''\n", "data: must not be empty");
	refuse("data: [a, b]\n", "data: expected a string");
	refuse("policies:\n", "policies: must not be empty");
	refuse("tls: {cert: a}\n", "tls: needs both cert and key");
	refuse("tls: {cert: a, key: b, ca: c}\n", "tls: unknown key 'ca'");
	refuse("tls: yes\n", "tls: expected a mapping");
	refuse("clock_skew: soon\n", "clock_skew: invalid duration");
	refuse("clock_skew: 2h\n", "clock_skew: at most 1h");
	refuse("max_body: 0\n", "max_body: expected a size");
	refuse("max_body: 2GiB\n", "max_body: expected a size");
	refuse("max_body: 64 KiB\n", "max_body: expected a size");
	refuse("max_body: 64XB\n", "max_body");
	refuse("max_wait: 0\n", "max_wait: invalid duration");
	refuse("max_wait: 1h\n", "max_wait: at most 10m");
	refuse("threads: -1\n", "threads: expected a non-negative integer");
	refuse("max_connections: 0\n", "max_connections: must be at least 1");
	refuse("max_connections_per_address: 0\n",
	    "max_connections_per_address: must be at least 1");
	refuse("request_timeout: 0\n", "request_timeout: invalid duration");
	refuse("request_timeout: 2h\n", "request_timeout: at most 1h");
	refuse("rate_limit: lots\n", "rate_limit");
	refuse("max_pending: 100001\n", "t.yaml:1: max_pending: must be at "
	    "most 100000");
	refuse("max_pending: -1\n", "max_pending: expected a non-negative");
	refuse("metrics_token_file: ''\n", "metrics_token_file: must not be "
	    "empty");
	refuse("metrics_token_file: [a]\n", "metrics_token_file: expected a "
	    "string");
	refuse("- a\n- b\n", "t.yaml:1: config: expected a mapping");
	refuse("listen: [unclosed\n", "t.yaml:");
	refuse("a: 1\n---\nb: 2\n", "config");
	refuse("? [a]\n: b\n", "keys must be strings");
}

static void
test_host_keys(void)
{
	struct jit_config c;
	char err[256];

	REQUIRE_OK(jit_config_defaults(&c));
	CHECK_INT(c.nhost_domains, 0);
	CHECK_U64(c.host_cert_validity, 30 * 86400);
	jit_config_release(&c);
	REQUIRE_OK(parse("host_domains: [example.com, corp.example.org]\n"
	    "host_cert_validity: 7d\n", &c, err, sizeof(err)));
	REQUIRE(c.nhost_domains == 2);
	CHECK_STR(c.host_domains[0], "example.com");
	CHECK_STR(c.host_domains[1], "corp.example.org");
	CHECK_U64(c.host_cert_validity, 7 * 86400);
	jit_config_release(&c);
	CHECK(c.host_domains == NULL && c.nhost_domains == 0);
	REQUIRE_OK(parse("host_domains: []\nhost_cert_validity: 10s\n", &c,
	    err, sizeof(err)));
	CHECK_INT(c.nhost_domains, 0);
	CHECK_U64(c.host_cert_validity, 10);
	jit_config_release(&c);
	refuse("host_domains: example.com\n", "host_domains: expected a "
	    "list");
	refuse("host_domains: ['*.example.com']\n", "host_domains: invalid "
	    "domain '*.example.com'");
	refuse("host_domains: [a..b]\n", "invalid domain");
	refuse("host_domains: [ok.example, '.bad']\n", "t.yaml:1: "
	    "host_domains: invalid domain '.bad'");
	refuse("host_domains: [[a]]\n", "host_domains: expected a domain");
	refuse("host_cert_validity: 5s\n", "host_cert_validity: out of "
	    "range");
	refuse("host_cert_validity: 400d\n", "host_cert_validity: out of "
	    "range");
}

/* What the configuration takes from the shared YAML reader
 * (policies/yaml_doc.h). */
static void
test_reader(void)
{
	struct jit_config c;
	char err[256];

	/* Any key may come first (max_body first returned garbage once). */
	REQUIRE_OK(parse("max_body: 1MiB\n", &c, err, sizeof(err)));
	CHECK_U64(c.max_body, 1024 * 1024);
	jit_config_release(&c);
	/* Aliases are followed here; only policies refuse them. */
	REQUIRE_OK(parse("data: &d /srv/jit\npolicies: *d\n", &c, err,
	    sizeof(err)));
	CHECK_STR(c.policies, "/srv/jit");
	jit_config_release(&c);
	refuse("listn: x\n", "t.yaml:1: config: unknown key 'listn' (did you "
	    "mean 'listen'?)");
	refuse("tls: {cert: a, cert: b}\n", "t.yaml:1: tls.cert: duplicate "
	    "key 'cert'");
	refuse("tls: {[a]: b}\n", "t.yaml:1: tls: keys must be strings");
	refuse("? [a]\n: b\n", "t.yaml:1: config: keys must be strings");
	/* A NUL byte inside a value is refused, not cut short. */
	refuse("max_body: \"64K\\0x\"\n", "max_body: expected a size");
	refuse("clock_skew: \"5m\\0x\"\n", "clock_skew: value contains a "
	    "NUL byte");
	refuse("data: \"a\\0b\"\n", "data: value contains a NUL byte");
	refuse("listen: [unclosed\n", "t.yaml:2: config: YAML syntax error: ");
	refuse("a: 1\n---\nb: 2\n", "t.yaml:2: config: only one YAML document");
	refuse("data: \xff\n", "t.yaml:1: config: invalid text: ");
}

static void
test_listen(void)
{
	struct jit_listen l;

	REQUIRE_OK(jit_listen_parse("localhost:0", &l));
	CHECK_INT(l.kind, JIT_LISTEN_INET);
	CHECK_STR(l.host, "localhost");
	CHECK_INT(l.port, 0);
	jit_listen_release(&l);
	CHECK_INT(jit_listen_parse("", &l), JIT_ERR_INVALID_FORMAT);
	CHECK_INT(jit_listen_parse(":80", &l), JIT_ERR_INVALID_FORMAT);
	CHECK_INT(jit_listen_parse("[::1]", &l), JIT_ERR_INVALID_FORMAT);
	CHECK_INT(jit_listen_parse("[]:80", &l), JIT_ERR_INVALID_FORMAT);
	CHECK_INT(jit_listen_parse("[x;y]:80", &l), JIT_ERR_INVALID_FORMAT);
	CHECK_INT(jit_listen_parse("host:80x", &l), JIT_ERR_INVALID_FORMAT);
	CHECK_INT(jit_listen_parse("a b:80", &l), JIT_ERR_INVALID_FORMAT);
}

static void
test_size(void)
{
	size_t n;

	CHECK_OK(jit_parse_size("65536", &n));
	CHECK_U64(n, 65536);
	CHECK_OK(jit_parse_size("64KiB", &n));
	CHECK_U64(n, 65536);
	CHECK_OK(jit_parse_size("64K", &n));
	CHECK_U64(n, 65536);
	CHECK_OK(jit_parse_size("2MiB", &n));
	CHECK_U64(n, 2u * 1024 * 1024);
	CHECK_OK(jit_parse_size("1024MiB", &n));
	CHECK_INT(jit_parse_size("1025MiB", &n), JIT_ERR_INVALID_FORMAT);
	CHECK_INT(jit_parse_size("0", &n), JIT_ERR_INVALID_FORMAT);
	CHECK_INT(jit_parse_size("-1", &n), JIT_ERR_INVALID_FORMAT);
	CHECK_INT(jit_parse_size("K", &n), JIT_ERR_INVALID_FORMAT);
	CHECK_INT(jit_parse_size("99999999999999999999", &n),
	    JIT_ERR_INVALID_FORMAT);
}

static void
test_load_file(void)
{
	struct jit_config c;
	char err[512];

	CHECK_INT(jit_config_load("/nonexistent/jit.yaml", &c, err,
	    sizeof(err)), JIT_ERR_NOT_FOUND);
	CHECK(strstr(err, "/nonexistent/jit.yaml") != NULL);
	jit_config_release(&c);
}

/* store: lmdb, a URL, or a mapping with the URL and its options. */
static void
test_store(void)
{
	struct jit_config c;
	char err[512];

	REQUIRE_OK(parse("listen: 127.0.0.1:1\n", &c, err, sizeof(err)));
	CHECK(c.store_url == NULL);
	jit_config_release(&c);
	REQUIRE_OK(parse("store: lmdb\n", &c, err, sizeof(err)));
	CHECK(c.store_url == NULL);
	jit_config_release(&c);
	REQUIRE_OK(parse("store: postgres://db/jit\n", &c, err, sizeof(err)));
	CHECK_STR(c.store_url, "postgres://db/jit");
	CHECK(c.store_password_file == NULL && c.store_sslmode == NULL);
	jit_config_release(&c);
	REQUIRE_OK(parse("store:\n"
	    "  url: postgresql://jit@db1,db2/jit\n"
	    "  password_file: /etc/jit-ssh/pw\n"
	    "  sslmode: verify-full\n"
	    "  sslrootcert: /etc/jit-ssh/ca.crt\n"
	    "  schema: jit_prod\n"
	    "  connections: 16\n", &c, err, sizeof(err)));
	CHECK_STR(c.store_url, "postgresql://jit@db1,db2/jit");
	CHECK_STR(c.store_password_file, "/etc/jit-ssh/pw");
	CHECK_STR(c.store_sslmode, "verify-full");
	CHECK_STR(c.store_sslrootcert, "/etc/jit-ssh/ca.crt");
	CHECK_STR(c.store_schema, "jit_prod");
	CHECK_INT(c.store_connections, 16);
	jit_config_release(&c);
	CHECK(c.store_url == NULL && c.store_schema == NULL);

	refuse("store: mysql://db/jit\n",
	    "t.yaml:1: store: expected lmdb or a postgresql:// URL");
	refuse("store: ''\n", "store: must not be empty");
	refuse("store:\n  sslmode: require\n", "store: needs url");
	refuse("store:\n  url: lmdb\n", "store.url: expected a postgresql://");
	refuse("store:\n  url: postgresql://x/y\n  sslmode: maybe\n",
	    "t.yaml:3: store.sslmode: expected disable, allow");
	refuse("store:\n  url: postgresql://x/y\n  schema: 9lives\n",
	    "store.schema: expected at most 48");
	refuse("store:\n  url: postgresql://x/y\n  schema: Jit\n",
	    "store.schema");
	refuse("store:\n  url: postgresql://x/y\n  connections: 1001\n",
	    "store.connections: must be at most 1000");
	refuse("store:\n  url: postgresql://x/y\n  passwd_file: x\n",
	    "unknown key 'passwd_file'");
	refuse("store:\n  url: postgresql://x/y\n  url: postgresql://z/y\n",
	    "duplicate key 'url'");
}

/* Write text to a new file of the given mode in dir; returns its path
 * (static). */
static const char *
secret_file(const char *dir, const char *text, mode_t mode)
{
	static char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/token", dir);
	unlink(path);
	REQUIRE((f = fopen(path, "w")) != NULL);
	fputs(text, f);
	fclose(f);
	REQUIRE(chmod(path, mode) == 0);
	return path;
}

/* metrics_token_file: one line of 16..1024 printable characters, in a
 * file only its owner may access; oidc.client_secret_file the same from
 * 1 character. */
static void
test_secret(void)
{
	char dir[] = "/tmp/jit-test-secret-XXXXXX", err[512];
	char *tok = NULL;

	REQUIRE(mkdtemp(dir) != NULL);
	CHECK_OK(jit_config_read_secret(secret_file(dir,
	    "0123456789abcdefXYZ\n", 0600), 16, &tok, err, sizeof(err)));
	CHECK_STR(tok, "0123456789abcdefXYZ");
	free(tok);
	CHECK_OK(jit_config_read_secret(secret_file(dir,
	    "0123456789abcdef\r\n", 0400), 16, &tok, err, sizeof(err)));
	CHECK_STR(tok, "0123456789abcdef");
	free(tok);
	CHECK_INT(jit_config_read_secret(secret_file(dir,
	    "0123456789abcdefXYZ\n", 0640), 16, &tok, err, sizeof(err)),
	    JIT_ERR_PERMISSION);
	CHECK(tok == NULL && strstr(err, "group or others") != NULL);
	CHECK_INT(jit_config_read_secret(secret_file(dir,
	    "0123456789abcdefXYZ\n", 0602), 16, &tok, err, sizeof(err)),
	    JIT_ERR_PERMISSION);
	CHECK_INT(jit_config_read_secret(secret_file(dir, "short\n", 0600),
	    16, &tok, err, sizeof(err)), JIT_ERR_INVALID_FORMAT);
	CHECK(strstr(err, "16 to 1024") != NULL);
	/* A client secret is as long as the provider made it. */
	CHECK_OK(jit_config_read_secret(secret_file(dir, "short\n", 0600), 1,
	    &tok, err, sizeof(err)));
	CHECK_STR(tok, "short");
	free(tok);
	CHECK_INT(jit_config_read_secret(secret_file(dir,
	    "0123456789 abcdefXYZ\n", 0600), 16, &tok, err, sizeof(err)),
	    JIT_ERR_INVALID_FORMAT);
	CHECK_INT(jit_config_read_secret(secret_file(dir,
	    "0123456789abcdefXYZ\nsecond line\n", 0600), 16, &tok, err,
	    sizeof(err)), JIT_ERR_INVALID_FORMAT);
	CHECK_INT(jit_config_read_secret(dir, 16, &tok, err, sizeof(err)),
	    JIT_ERR_PERMISSION);
	CHECK_INT(jit_config_read_secret(secret_file(dir, "", 0600), 16, &tok,
	    err, sizeof(err)), JIT_ERR_INVALID_FORMAT);
	CHECK_INT(jit_config_read_secret(secret_file(dir, "\n", 0600), 1,
	    &tok, err, sizeof(err)), JIT_ERR_INVALID_FORMAT);
	CHECK(tok == NULL && strstr(err, "1 to 1024") != NULL);
	{
		char path[300], link[300];

		snprintf(link, sizeof(link), "%s/link", dir);
		/* A link is followed and its target checked: a mounted
		 * secret (Kubernetes) reads, a link to a readable file is
		 * refused for the target's mode. */
		REQUIRE(symlink(secret_file(dir, "0123456789abcdefXYZ\n",
		    0600), link) == 0);
		CHECK_OK(jit_config_read_secret(link, 1, &tok, err,
		    sizeof(err)));
		CHECK(tok != NULL && strcmp(tok, "0123456789abcdefXYZ") == 0);
		free(tok);
		tok = NULL;
		CHECK_INT(jit_config_read_secret(secret_file(dir,
		    "0123456789abcdefXYZ\n", 0644), 1, &tok, err,
		    sizeof(err)), JIT_ERR_PERMISSION);
		CHECK_INT(jit_config_read_secret(link, 1, &tok, err,
		    sizeof(err)), JIT_ERR_PERMISSION);
		CHECK(tok == NULL && strstr(err, "mode 0644") != NULL);
		unlink(link);
		snprintf(path, sizeof(path), "%s/token", dir);
		unlink(path);
		CHECK_INT(jit_config_read_secret(path, 16, &tok, err,
		    sizeof(err)), JIT_ERR_NOT_FOUND);
	}
	rmdir(dir);
}

/* The oidc: section: every key, its defaults and its errors. */
static void
test_oidc(void)
{
	struct jit_config c;
	char err[256];

	REQUIRE_OK(parse("listen: 127.0.0.1:1\n", &c, err, sizeof(err)));
	CHECK(c.oidc.issuer == NULL);
	CHECK_U64(c.oidc.session_ttl, 12 * 3600);
	jit_config_release(&c);
	REQUIRE_OK(parse("oidc:\n"
	    "  issuer: https://idp.example/realms/corp\n"
	    "  client_id: jit-web\n"
	    "  cli_client_id: jit-cli\n"
	    "  client_secret_file: /etc/jit-ssh/oidc-secret\n"
	    "  username_claim: email\n"
	    "  groups_claim: roles\n"
	    "  scopes: openid email roles\n"
	    "  session_ttl: 8h\n"
	    "  ca_file: /etc/jit-ssh/idp-ca.pem\n", &c, err, sizeof(err)));
	CHECK_STR(c.oidc.issuer, "https://idp.example/realms/corp");
	CHECK_STR(c.oidc.client_id, "jit-web");
	CHECK_STR(c.oidc.cli_client_id, "jit-cli");
	CHECK_STR(c.oidc.client_secret_file, "/etc/jit-ssh/oidc-secret");
	CHECK_STR(c.oidc.username_claim, "email");
	CHECK_STR(c.oidc.groups_claim, "roles");
	CHECK_STR(c.oidc.scopes, "openid email roles");
	CHECK_U64(c.oidc.session_ttl, 8 * 3600);
	CHECK_STR(c.oidc.ca_file, "/etc/jit-ssh/idp-ca.pem");
	jit_config_release(&c);
	CHECK(c.oidc.issuer == NULL);
	REQUIRE_OK(parse("oidc: {issuer: 'http://127.0.0.1:9000', "
	    "client_id: x}\n", &c, err, sizeof(err)));
	CHECK(c.oidc.username_claim == NULL && c.oidc.cli_client_id == NULL);
	jit_config_release(&c);
	REQUIRE_OK(parse("oidc: {issuer: 'http://[::1]:9000/x', "
	    "client_id: x}\n", &c, err, sizeof(err)));
	jit_config_release(&c);

	refuse("oidc: {client_id: x}\n", "t.yaml:1: oidc: needs issuer and "
	    "client_id");
	refuse("oidc:\n  issuer: https://idp.example\n",
	    "t.yaml:2: oidc: needs issuer and client_id");
	refuse("oidc:\n  issuer: http://idp.example\n  client_id: x\n",
	    "t.yaml:2: oidc.issuer: must be https (http only on a loopback "
	    "address)");
	refuse("oidc: {issuer: 'https://u:p@idp.example', client_id: x}\n",
	    "oidc.issuer: a URL with a user name");
	refuse("oidc: {issuer: idp.example, client_id: x}\n",
	    "oidc.issuer: not a URL");
	refuse("oidc:\n  issuer: https://idp.example\n  client_id: x\n"
	    "  username_claim: sub\n", "t.yaml:4: oidc.username_claim: must "
	    "be preferred_username or email");
	refuse("oidc: {issuer: https://i.example, client_id: x, "
	    "session_ttl: 10s}\n", "oidc.session_ttl: out of range");
	refuse("oidc: {issuer: https://i.example, client_id: x, "
	    "session_ttl: 8d}\n", "oidc.session_ttl: at most 7d");
	refuse("oidc: {issuer: https://i.example, client_id: ''}\n",
	    "oidc.client_id: must not be empty");
	refuse("oidc: {issuer: https://i.example, client_id: x, "
	    "client_secret: s}\n", "t.yaml:1: oidc: unknown key "
	    "'client_secret'");
	refuse("oidc: {issuer: https://i.example, client_id: x, "
	    "isuer: y}\n", "oidc: unknown key 'isuer' (did you mean "
	    "'issuer'?)");
	refuse("oidc: {issuer: https://i.example, issuer: https://j.example, "
	    "client_id: x}\n", "oidc.issuer: duplicate key");
	refuse("oidc: https://idp.example\n", "t.yaml:1: oidc: expected a "
	    "mapping");
}

int
main(void)
{
	test_defaults();
	test_oidc();
	test_full();
	test_web();
	test_errors();
	test_host_keys();
	test_reader();
	test_listen();
	test_size();
	test_load_file();
	test_store();
	test_secret();
	TEST_DONE();
}
