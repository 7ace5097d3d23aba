/*
 * test-agent.c - the ssh-agent client against a real `ssh-agent -D`
 * started here, plus a fake agent for hostile replies, plus the reply
 * parser on hand-made messages.
 *
 * Keys and certificates are made with ssh-keygen, so the agent sees
 * exactly what OpenSSH would produce; the private keys are loaded with
 * jit_key_load_private.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "buf.h"
#include "err.h"
#include "key.h"
#include "util.h"
#include "test.h"

static char tmpdir[] = "/tmp/jit-test-agent-XXXXXX";
static char sockpath[256];
static pid_t agent_pid = -1;

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static void run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
run(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	REQUIRE(n > 0 && (size_t)n < sizeof(cmd));
	if (system(cmd) != 0) {
		fprintf(stderr, "command failed: %s\n", cmd);
		exit(1);
	}
}

static void
start_agent(void)
{
	struct stat st;
	int i;

	snprintf(sockpath, sizeof(sockpath), "%s/agent.sock", tmpdir);
	agent_pid = fork();
	REQUIRE(agent_pid >= 0);
	if (agent_pid == 0) {
		int devnull = open("/dev/null", 0);

		if (devnull >= 0) {
			dup2(devnull, 1);
			dup2(devnull, 2);
		}
		execlp("ssh-agent", "ssh-agent", "-D", "-a", sockpath,
		    (char *)NULL);
		_exit(127);
	}
	for (i = 0; i < 500; i++) {
		if (stat(sockpath, &st) == 0)
			return;
		sleep_ms(10);
	}
	fprintf(stderr, "ssh-agent did not start\n");
	exit(1);
}

static void
cleanup(void)
{
	char cmd[512];

	if (agent_pid > 0) {
		kill(agent_pid, SIGTERM);
		waitpid(agent_pid, NULL, 0);
		agent_pid = -1;
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "cleanup of %s failed\n", tmpdir);
}

/* Make key NAME (type args) with ssh-keygen and a cert for it signed by
 * the CA "ca" with the given extra ssh-keygen -s arguments. */
static void
make_key(const char *name, const char *typeargs)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	run("ssh-keygen -q -N '' %s -C test -f '%s'", typeargs, path);
}

static void
make_cert(const char *name, const char *args)
{
	char path[512], full[1024];

	snprintf(path, sizeof(path), "%s/%s.pub", tmpdir, name);
	snprintf(full, sizeof(full), "-s '%s/ca' %s", tmpdir, args);
	run("ssh-keygen -q %s '%s'", full, path);
}

static struct jit_key *
load_priv(const char *name)
{
	char path[512];
	struct jit_key *k = NULL;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	REQUIRE_OK(jit_key_load_private(path, &k));
	return k;
}

/* Blob from "TYPE BASE64 comment" in file NAME. */
static unsigned char *
load_blob(const char *name, size_t *len)
{
	char path[512];
	unsigned char *data = NULL, *blob = NULL;
	size_t dlen;
	char *sp, *end;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	REQUIRE_OK(jit_read_file(path, 65536, &data, &dlen));
	sp = strchr((char *)data, ' ');
	REQUIRE(sp != NULL);
	sp++;
	end = sp + strcspn(sp, " \n");
	REQUIRE_OK(jit_b64_decode(sp, (size_t)(end - sp), &blob, len));
	free(data);
	return blob;
}

static int
list_has(struct jit_agent *a, const unsigned char *blob, size_t len,
    const char *comment)
{
	struct jit_agent_idlist *l = NULL;
	size_t i;
	int found = 0;

	REQUIRE_OK(jit_agent_list(a, &l));
	for (i = 0; i < l->n; i++) {
		if (l->ids[i].blob_len == len &&
		    memcmp(l->ids[i].blob, blob, len) == 0 &&
		    (comment == NULL || strcmp(l->ids[i].comment,
		    comment) == 0))
			found++;
	}
	jit_agent_idlist_free(l);
	return found;
}

static size_t
list_count(struct jit_agent *a)
{
	struct jit_agent_idlist *l = NULL;
	size_t n;

	REQUIRE_OK(jit_agent_list(a, &l));
	n = l->n;
	jit_agent_idlist_free(l);
	return n;
}

static void
test_open_errors(void)
{
	struct jit_agent *a = (struct jit_agent *)1;
	char *saved = jit_strdup(getenv("SSH_AUTH_SOCK"));
	char path[512];

	unsetenv("SSH_AUTH_SOCK");
	CHECK_INT(jit_agent_open(NULL, &a), JIT_ERR_NOT_FOUND);
	CHECK(a == NULL);
	snprintf(path, sizeof(path), "%s/nothing-here", tmpdir);
	CHECK_INT(jit_agent_open(path, &a), JIT_ERR_NOT_FOUND);
	setenv("SSH_AUTH_SOCK", sockpath, 1);
	REQUIRE_OK(jit_agent_open(NULL, &a));
	CHECK_INT(list_count(a), 0);
	jit_agent_close(a);
	jit_agent_close(NULL);
	if (saved != NULL)
		setenv("SSH_AUTH_SOCK", saved, 1);
	else
		unsetenv("SSH_AUTH_SOCK");
	free(saved);
}

static void
test_cert_lifecycle(void)
{
	struct jit_agent *a = NULL;
	struct jit_key *k, *other;
	unsigned char *c1, *c2, *plain;
	size_t c1len, c2len, plainlen, removed = 9;
	char cmd[1024];

	make_key("ca", "-t ed25519");
	make_key("user", "-t ed25519");
	make_key("other", "-t ed25519");
	make_cert("user", "-I one -n alice -V -1m:+1h -z 1");
	run("mv '%s/user-cert.pub' '%s/user-cert1.pub'", tmpdir, tmpdir);
	make_cert("user", "-I two -n alice -V -1m:+2h -z 2");
	k = load_priv("user");
	other = load_priv("other");
	c1 = load_blob("user-cert1.pub", &c1len);
	c2 = load_blob("user-cert.pub", &c2len);
	plain = load_blob("user.pub", &plainlen);

	REQUIRE_OK(jit_agent_open(sockpath, &a));

	/* A cert for someone else's key: the agent refuses it (it checks
	 * the Ed25519 pk against the cert). */
	CHECK_INT(jit_agent_add_cert(a, other, c1, c1len, "jit-ssh:x", 60),
	    JIT_ERR_AGENT);
	CHECK_INT(list_count(a), 0);
	/* A cert of another key type is refused before sending. */
	CHECK_INT(jit_agent_add_cert(a, k, plain, plainlen, "jit-ssh:x", 60),
	    JIT_ERR_INVALID_ARGUMENT);

	CHECK_OK(jit_agent_add_cert(a, k, c1, c1len, "jit-ssh:prod", 3600));
	CHECK_INT(list_has(a, c1, c1len, "jit-ssh:prod"), 1);
	/* ssh-add sees the same identity. */
	snprintf(cmd, sizeof(cmd), "SSH_AUTH_SOCK='%s' ssh-add -L | "
	    "grep -q 'ssh-ed25519-cert-v01@openssh.com .* jit-ssh:prod'",
	    sockpath);
	CHECK_INT(system(cmd), 0);

	/* A second cert for the same key is a separate identity. */
	CHECK_OK(jit_agent_add_cert(a, k, c2, c2len, "jit-ssh:prod", 3600));
	CHECK_OK(jit_agent_add_key(a, k, "jit-ssh:other", 3600));
	CHECK_INT(list_count(a), 3);
	CHECK_INT(list_has(a, plain, plainlen, "jit-ssh:other"), 1);

	CHECK_OK(jit_agent_remove_by_comment(a, "jit-ssh:prod", &removed));
	CHECK_INT(removed, 2);
	CHECK_INT(list_has(a, c1, c1len, NULL), 0);
	CHECK_INT(list_has(a, c2, c2len, NULL), 0);
	CHECK_INT(list_count(a), 1);
	CHECK_OK(jit_agent_remove_by_comment(a, "jit-ssh:prod", &removed));
	CHECK_INT(removed, 0);

	/* Removing what the agent does not hold is a FAILURE reply and
	 * the connection stays usable. */
	CHECK_INT(jit_agent_remove(a, c1, c1len), JIT_ERR_AGENT);
	CHECK_OK(jit_agent_remove(a, plain, plainlen));
	CHECK_INT(list_count(a), 0);

	/* Lifetime: the agent forgets the cert on its own. */
	CHECK_OK(jit_agent_add_cert(a, k, c1, c1len, "jit-ssh:short", 1));
	CHECK_INT(list_has(a, c1, c1len, "jit-ssh:short"), 1);
	sleep_ms(2100);
	CHECK_INT(list_has(a, c1, c1len, NULL), 0);

	/* Unconstrained add works too. */
	CHECK_OK(jit_agent_add_cert(a, k, c1, c1len, NULL, 0));
	CHECK_INT(list_has(a, c1, c1len, ""), 1);
	CHECK_OK(jit_agent_remove(a, c1, c1len));

	jit_agent_close(a);
	jit_key_free(k);
	jit_key_free(other);
	free(c1);
	free(c2);
	free(plain);
}

/* ECDSA and RSA certs: the private-field layouts differ per type. */
static void
test_other_types(void)
{
	static const struct { const char *name, *args; } types[] = {
		{ "uec", "-t ecdsa -b 256" },
		{ "uec384", "-t ecdsa -b 384" },
		{ "ursa", "-t rsa -b 2048" },
	};
	struct jit_agent *a = NULL;
	struct jit_key *k;
	unsigned char *c, *plain;
	size_t clen, plainlen, i;
	char name[64];

	REQUIRE_OK(jit_agent_open(sockpath, &a));
	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		make_key(types[i].name, types[i].args);
		make_cert(types[i].name, "-I t -n alice -V -1m:+1h -z 7");
		k = load_priv(types[i].name);
		snprintf(name, sizeof(name), "%s-cert.pub", types[i].name);
		c = load_blob(name, &clen);
		snprintf(name, sizeof(name), "%s.pub", types[i].name);
		plain = load_blob(name, &plainlen);
		CHECK_OK(jit_agent_add_cert(a, k, c, clen, "c", 60));
		CHECK_INT(list_has(a, c, clen, "c"), 1);
		CHECK_OK(jit_agent_add_key(a, k, "p", 60));
		CHECK_INT(list_has(a, plain, plainlen, "p"), 1);
		CHECK_OK(jit_agent_remove(a, c, clen));
		CHECK_OK(jit_agent_remove(a, plain, plainlen));
		jit_key_free(k);
		free(c);
		free(plain);
	}
	CHECK_INT(list_count(a), 0);
	jit_agent_close(a);
}

static void
test_parse(void)
{
	static const unsigned char empty[] = { 12, 0, 0, 0, 0 };
	static const unsigned char one[] = { 12, 0, 0, 0, 1,
	    0, 0, 0, 2, 'k', 'b', 0, 0, 0, 3, 'a', 'b', 'c' };
	static const unsigned char trailing[] = { 12, 0, 0, 0, 0, 1 };
	static const unsigned char lie[] = { 12, 0xff, 0xff, 0xff, 0xff,
	    0, 0, 0, 0, 0, 0, 0, 0 };
	static const unsigned char trunc[] = { 12, 0, 0, 0, 1,
	    0, 0, 0, 9, 'k', 'l', 'm', 'n' };
	static const unsigned char nul[] = { 12, 0, 0, 0, 1,
	    0, 0, 0, 1, 'k', 0, 0, 0, 2, 'a', 0 };
	static const unsigned char emptyblob[] = { 12, 0, 0, 0, 1,
	    0, 0, 0, 0, 0, 0, 0, 0 };
	static const unsigned char failure[] = { 5 };
	static const unsigned char success[] = { 6 };
	static const unsigned char other[] = { 99 };
	struct jit_agent_idlist *l = NULL;

	CHECK_OK(jit_agent_parse_identities(empty, sizeof(empty), &l));
	REQUIRE(l != NULL);
	CHECK_INT(l->n, 0);
	jit_agent_idlist_free(l);
	CHECK_OK(jit_agent_parse_identities(one, sizeof(one), &l));
	REQUIRE(l != NULL && l->n == 1);
	CHECK_INT(l->ids[0].blob_len, 2);
	CHECK_STR(l->ids[0].comment, "abc");
	jit_agent_idlist_free(l);
	CHECK_INT(jit_agent_parse_identities(trailing, sizeof(trailing), &l),
	    JIT_ERR_TRAILING_DATA);
	CHECK(l == NULL);
	CHECK_INT(jit_agent_parse_identities(lie, sizeof(lie), &l),
	    JIT_ERR_INVALID_FORMAT);
	CHECK_INT(jit_agent_parse_identities(trunc, sizeof(trunc), &l),
	    JIT_ERR_MESSAGE_INCOMPLETE);
	CHECK_INT(jit_agent_parse_identities(nul, sizeof(nul), &l),
	    JIT_ERR_INVALID_FORMAT);
	CHECK_INT(jit_agent_parse_identities(emptyblob, sizeof(emptyblob),
	    &l), JIT_ERR_INVALID_FORMAT);
	CHECK_INT(jit_agent_parse_identities(failure, sizeof(failure), &l),
	    JIT_ERR_AGENT);
	CHECK_INT(jit_agent_parse_identities(other, sizeof(other), &l),
	    JIT_ERR_INVALID_FORMAT);
	CHECK_INT(jit_agent_parse_identities(NULL, 0, &l),
	    JIT_ERR_MESSAGE_INCOMPLETE);
	CHECK(l == NULL);
	CHECK_OK(jit_agent_parse_status(success, 1));
	CHECK_INT(jit_agent_parse_status(failure, 1), JIT_ERR_AGENT);
	CHECK_INT(jit_agent_parse_status(other, 1), JIT_ERR_INVALID_FORMAT);
	CHECK_INT(jit_agent_parse_status(empty, sizeof(empty)),
	    JIT_ERR_INVALID_FORMAT);
}

/*
 * A fake agent that answers the first request with `reply` (raw bytes,
 * including whatever length prefix it claims) and then closes.
 */
static pid_t
fake_agent(const char path[100], const unsigned char *reply, size_t len)
{
	struct sockaddr_un sun;
	int s, c;
	pid_t pid;
	unsigned char tmp[4096];

	unlink(path);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	s = socket(AF_UNIX, SOCK_STREAM, 0);
	REQUIRE(s >= 0);
	REQUIRE(bind(s, (struct sockaddr *)&sun, sizeof(sun)) == 0);
	REQUIRE(listen(s, 1) == 0);
	pid = fork();
	REQUIRE(pid >= 0);
	if (pid == 0) {
		c = accept(s, NULL, NULL);
		if (c < 0)
			_exit(1);
		if (read(c, tmp, sizeof(tmp)) <= 0)
			_exit(1);
		if (len > 0 && write(c, reply, len) != (ssize_t)len)
			_exit(1);
		/* Linger a moment so the client reads before EOF. */
		sleep_ms(200);
		_exit(0);
	}
	close(s);
	return pid;
}

static void
test_hostile_agent(void)
{
	/* Claims a 1 MiB reply: refused without reading it. */
	static const unsigned char huge[] = { 0, 0x10, 0, 0, 12 };
	/* Claims 100 bytes, sends 5, then closes. */
	static const unsigned char shortr[] = { 0, 0, 0, 100, 12, 0, 0, 0, 0 };
	/* Zero-length frame. */
	static const unsigned char zero[] = { 0, 0, 0, 0 };
	/* Exactly at the limit is allowed by framing (then fails parsing
	 * here because the content is zeros). */
	static const struct {
		const unsigned char *reply;
		size_t len;
		int want;
	} cases[] = {
		{ huge, sizeof(huge), JIT_ERR_NO_BUFFER_SPACE },
		{ shortr, sizeof(shortr), JIT_ERR_AGENT },
		{ zero, sizeof(zero), JIT_ERR_INVALID_FORMAT },
		{ NULL, 0, JIT_ERR_AGENT },
	};
	struct jit_agent *a = NULL;
	struct jit_agent_idlist *l = NULL;
	char path[100];
	size_t i;
	pid_t pid;

	snprintf(path, sizeof(path), "%s/fake.sock", tmpdir);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		pid = fake_agent(path, cases[i].reply, cases[i].len);
		REQUIRE_OK(jit_agent_open(path, &a));
		CHECK_INT(jit_agent_list(a, &l), cases[i].want);
		CHECK(l == NULL);
		jit_agent_close(a);
		a = NULL;
		waitpid(pid, NULL, 0);
	}
	unlink(path);
}

int
main(void)
{
	REQUIRE(mkdtemp(tmpdir) != NULL);
	start_agent();
	test_parse();
	test_open_errors();
	test_cert_lifecycle();
	test_other_types();
	test_hostile_agent();
	cleanup();
	TEST_DONE();
}
