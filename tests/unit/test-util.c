/* test-util.c - unit tests for ca/util.c (and the error table). */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "err.h"
#include "util.h"
#include "test.h"

static char tmpdir[] = "/tmp/jit-test-util-XXXXXX";

static void
test_durations(void)
{
	static const struct { const char *s; uint64_t v; } ok[] = {
		{ "90s", 90 }, { "30m", 1800 }, { "1h", 3600 },
		{ "2d", 172800 }, { "1h30m", 5400 }, { "90", 90 },
		{ "1w", 604800 }, { "1d2h3m4s", 93784 }, { "1", 1 },
		{ "0h1s", 1 }, { "3650d", 3650ull * 86400 } };
	static const char *const bad[] = {
		"", "0", "0s", "0h0m", "-1h", "+1h", "1x", "h", "1h ", " 1h",
		"1 h", "1.5h", "1h30", "30 ", "99999999999999999999",
		"18446744073709551615s", "213503982334601w",
		"36600d", "1s1", "1hh", "m1", "1H", "0x10" };
	uint64_t v;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		v = 0;
		CHECK_OK(jit_parse_duration(ok[i].s, &v));
		CHECK_U64(v, ok[i].v);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		v = 12345;
		if (jit_parse_duration(bad[i], &v) != JIT_ERR_BAD_DURATION)
			fprintf(stderr, "duration \"%s\" accepted\n", bad[i]);
		CHECK_INT(jit_parse_duration(bad[i], &v), JIT_ERR_BAD_DURATION);
		CHECK_U64(v, 0);
	}
	CHECK_INT(jit_parse_duration(NULL, &v), JIT_ERR_BAD_DURATION);
}

static void
test_format_duration(void)
{
	static const struct { uint64_t v; const char *s; } kat[] = {
		{ 0, "0s" }, { 45, "45s" }, { 60, "1m" }, { 90, "1m30s" },
		{ 5400, "1h30m" }, { 172800, "2d" }, { 93784, "1d2h3m4s" },
		{ 86401, "1d1s" } };
	char out[64];
	uint64_t back;

	for (size_t i = 0; i < sizeof(kat) / sizeof(kat[0]); i++) {
		jit_format_duration(kat[i].v, out, sizeof(out));
		CHECK_STR(out, kat[i].s);
		if (kat[i].v > 0) {
			CHECK_OK(jit_parse_duration(out, &back));
			CHECK_U64(back, kat[i].v);
		}
	}
	/* small buffers truncate safely, always NUL-terminated */
	memset(out, 'x', sizeof(out));
	jit_format_duration(93784, out, 4);
	CHECK(memchr(out, '\0', 4) != NULL);
	jit_format_duration(93784, out, 1);
	CHECK_STR(out, "");
	jit_format_duration(93784, out, 0);             /* writes nothing */
}

static void
test_times(void)
{
	static const uint64_t samples[] = {
		0, 1, 59, 86399, 951782400 /* 2000-02-29 */, 1700000000,
		1796024520, 4102444800ull /* 2100-01-01 */, 253402300799ull };
	static const struct { const char *s; uint64_t t; } parse[] = {
		{ "1970-01-01T00:00:00Z", 0 },
		{ "2026-11-30T07:42:00Z", 1796024520 },
		{ "2026-11-30t07:42:00z", 1796024520 },
		{ "2026-11-30 07:42:00Z", 1796024520 },
		{ "2026-11-30T08:42:00+01:00", 1796024520 },
		{ "2026-11-30T02:12:00-05:30", 1796024520 },
		{ "2026-11-30T07:42:00.999Z", 1796024520 },
		{ "2026-11-30T07:42Z", 1796024520 },
		{ "2026-11-30", 1795996800 },
		{ "2028-02-29T00:00:00Z", 1835395200 },
		{ "2000-02-29T00:00:00Z", 951782400 },
		{ "1796024520", 1796024520 },
		{ "0", 0 } };
	static const char *const bad[] = {
		"", "2026-11-30T07:42:00", "2026-13-01T00:00:00Z",
		"2026-00-01T00:00:00Z", "2026-11-32T00:00:00Z",
		"2026-11-30T24:00:00Z", "2026-11-30T07:60:00Z",
		"2026-11-30T07:42:00+1:00", "1969-12-31T23:59:59Z",
		"1970-01-01T00:00:00+01:00", "26-11-30T07:42:00Z",
		"2026/11/30", "2026-11-30T07:42:00Zjunk", "-1", "1e9",
		"99999999999999999999", "now",
		/* not real dates: no rolling over into the next month, no
		 * leap seconds */
		"2027-02-31T00:00:00Z", "2026-02-29T00:00:00Z",
		"2026-04-31T12:00:00Z", "2026-11-30T23:59:60Z",
		"2100-02-29T00:00:00Z" };
	char out[JIT_TIME_LEN];
	uint64_t t;

	jit_format_time(0, out);
	CHECK_STR(out, "1970-01-01T00:00:00Z");
	jit_format_time(1796024520, out);
	CHECK_STR(out, "2026-11-30T07:42:00Z");
	jit_format_time(UINT64_MAX, out);
	CHECK_STR(out, "9999-12-31T23:59:59Z");
	for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
		jit_format_time(samples[i], out);
		CHECK_INT(strlen(out), JIT_TIME_LEN - 1);
		CHECK_OK(jit_parse_time(out, &t));
		CHECK_U64(t, samples[i]);
	}
	/* The same text as gmtime_r and strftime, from 1970 to 9999, at
	 * a step that lands on every time of day and every day of the
	 * 400-year cycle over the run. */
	for (uint64_t s = 0; s <= 253402300799ull; s += 86400 * 37 + 4817) {
		char want[JIT_TIME_LEN];
		struct tm tm;
		time_t tt = (time_t)s;

		REQUIRE(gmtime_r(&tt, &tm) != NULL);
		strftime(want, sizeof(want), "%Y-%m-%dT%H:%M:%SZ", &tm);
		jit_format_time(s, out);
		if (strcmp(out, want) != 0) {
			CHECK_STR(out, want);
			break;
		}
	}
	jit_format_time(253402300799ull, out);
	CHECK_STR(out, "9999-12-31T23:59:59Z");
	jit_format_time(951782400, out);
	CHECK_STR(out, "2000-02-29T00:00:00Z");
	jit_format_time(4107542399ull, out);
	CHECK_STR(out, "2100-02-28T23:59:59Z");
	for (size_t i = 0; i < sizeof(parse) / sizeof(parse[0]); i++) {
		t = 1;
		CHECK_OK(jit_parse_time(parse[i].s, &t));
		CHECK_U64(t, parse[i].t);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		t = 1;
		if (jit_parse_time(bad[i], &t) == 0)
			fprintf(stderr, "time \"%s\" accepted\n", bad[i]);
		CHECK(jit_parse_time(bad[i], &t) != 0);
		CHECK_U64(t, 0);
	}
	CHECK(jit_parse_time(NULL, &t) != 0);
}

static void
test_clocks(void)
{
	uint64_t a, b;

	CHECK(jit_now() > 1700000000ull);
	a = jit_monotonic_ms();
	usleep(20000);
	b = jit_monotonic_ms();
	CHECK(b >= a + 15);
	CHECK(b < a + 5000);
}

static size_t
count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t n = 0;

	if (d == NULL)
		return 0;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static void
test_files(void)
{
	char path[600], path2[600];
	unsigned char *data = NULL;
	size_t len = 99;
	struct stat st;
	mode_t old;

	snprintf(path, sizeof(path), "%s/secret", tmpdir);
	/* The mode is exact whatever the umask. */
	old = umask(0);
	CHECK_OK(jit_write_file_atomic(path, "one", 3, 0600, 1));
	umask(old);
	REQUIRE(stat(path, &st) == 0);
	CHECK_INT(st.st_mode & 07777, 0600);
	/* exclusive: an existing file is left alone */
	CHECK_INT(jit_write_file_atomic(path, "two", 3, 0600, 1),
	    JIT_ERR_FILE_EXISTS);
	CHECK_OK(jit_read_file(path, 100, &data, &len));
	CHECK_INT(len, 3);
	CHECK_STR((char *)data, "one");
	free(data);
	/* not exclusive: replaced, with the new mode */
	old = umask(077);
	CHECK_OK(jit_write_file_atomic(path, "three", 5, 0644, 0));
	umask(old);
	REQUIRE(stat(path, &st) == 0);
	CHECK_INT(st.st_mode & 07777, 0644);
	CHECK_OK(jit_read_file(path, 100, &data, &len));
	CHECK_STR((char *)data, "three");
	free(data);
	/* no temporary files left behind by any of that */
	CHECK_INT(count_entries(tmpdir), 1);
	/* empty file */
	snprintf(path2, sizeof(path2), "%s/empty", tmpdir);
	CHECK_OK(jit_write_file_atomic(path2, "", 0, 0600, 1));
	CHECK_OK(jit_read_file(path2, 100, &data, &len));
	CHECK_INT(len, 0);
	CHECK(data != NULL && data[0] == '\0');
	free(data);
	/* read limits and errors */
	data = (unsigned char *)1;
	CHECK_INT(jit_read_file(path, 4, &data, &len), JIT_ERR_NO_BUFFER_SPACE);
	CHECK(data == NULL);
	CHECK_OK(jit_read_file(path, 5, &data, &len));
	free(data);
	snprintf(path2, sizeof(path2), "%s/missing", tmpdir);
	CHECK_INT(jit_read_file(path2, 100, &data, &len), JIT_ERR_NOT_FOUND);
	snprintf(path2, sizeof(path2), "%s/no/such/dir", tmpdir);
	CHECK_INT(jit_write_file_atomic(path2, "x", 1, 0600, 1),
	    JIT_ERR_NOT_FOUND);
	/* a file larger than the first read chunk */
	{
		size_t n = 100000;
		unsigned char *big = malloc(n);
		REQUIRE(big != NULL);
		for (size_t i = 0; i < n; i++)
			big[i] = (unsigned char)(i * 13);
		snprintf(path2, sizeof(path2), "%s/big", tmpdir);
		CHECK_OK(jit_write_file_atomic(path2, big, n, 0600, 1));
		CHECK_OK(jit_read_file(path2, n, &data, &len));
		CHECK_INT(len, n);
		if (data != NULL && len == n)
			CHECK_MEM(data, big, n);
		free(data);
		CHECK_INT(jit_read_file(path2, n - 1, &data, &len),
		    JIT_ERR_NO_BUFFER_SPACE);
		free(big);
	}
	/* a directory where the file should be */
	CHECK(jit_write_file_atomic(tmpdir, "x", 1, 0600, 0) != 0);
	CHECK_INT(jit_write_file_atomic(tmpdir, "x", 1, 0600, 1),
	    JIT_ERR_FILE_EXISTS);
}

static void
test_misc(void)
{
	char hex[9], *s;
	static const unsigned char in[] = { 0x00, 0x1f, 0xa0, 0xff };

	jit_hex(in, sizeof(in), hex);
	CHECK_STR(hex, "001fa0ff");
	jit_hex(in, 0, hex);
	CHECK_STR(hex, "");
	CHECK(jit_ct_equal("abc", "abc", 3));
	CHECK(!jit_ct_equal("abc", "abd", 3));
	CHECK(jit_ct_equal("", "x", 0));
	CHECK(jit_strdup(NULL) == NULL);
	s = jit_strdup("hello");
	CHECK_STR(s, "hello");
	free(s);
	CHECK_INT(jit_err_from_errno(ENOENT), JIT_ERR_NOT_FOUND);
	CHECK_INT(jit_err_from_errno(EACCES), JIT_ERR_PERMISSION);
	CHECK_INT(jit_err_from_errno(EEXIST), JIT_ERR_FILE_EXISTS);
	CHECK_INT(jit_err_from_errno(ENOSPC), JIT_ERR_STORE_FULL);
	CHECK_INT(jit_err_from_errno(ENOMEM), JIT_ERR_ALLOC);
	CHECK_INT(jit_err_from_errno(EIO), JIT_ERR_IO);
	CHECK_INT(jit_err_from_errno(EINVAL), JIT_ERR_SYSTEM);
	/* error table */
	CHECK_STR(jit_err(0), "success");
	CHECK_STR(jit_err(JIT_ERR_KEY_TOO_SMALL), "key too small");
	CHECK_STR(jit_err(-9999), "unknown error");
	CHECK_STR(jit_err_name(JIT_ERR_KEY_TOO_SMALL), "KEY_TOO_SMALL");
	CHECK_STR(jit_err_name(-9999), "UNKNOWN");
	CHECK(strstr(jit_err(JIT_ERR_KEY_ENCRYPTED), "ssh-keygen -p") != NULL);
}

/* jit_text_printable: C0 controls and DEL are refused; space, printable
 * ASCII and UTF-8 beyond ASCII are text. */
static void
test_printable(void)
{
	static const char *const ok[] = { "", "INC-42 disk full", " ",
	    "~!@#$%^&*()", "caf\xc3\xa9", "\xe2\x80\x94 dash", "\x80" };
	static const char *const bad[] = { "a\tb", "line\n", "\r",
	    "\x1b[31mred", "\x7f", "x\x01", "\x1f" };

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		test_checks++;
		if (jit_text_printable(ok[i]) != 1) {
			fprintf(stderr, "ok[%zu] refused\n", i);
			test_failures++;
		}
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		test_checks++;
		if (jit_text_printable(bad[i]) != 0) {
			fprintf(stderr, "bad[%zu] accepted\n", i);
			test_failures++;
		}
	}
	/* Every byte value on its own. */
	for (unsigned c = 1; c < 256; c++) {
		char one[2] = { (char)c, '\0' };
		CHECK_INT(jit_text_printable(one), !(c < 0x20 || c == 0x7f));
	}
}

/* jit_random: no byte handed out twice (draws differ), large draws,
 * and a forked child does not repeat the parent's pool. */
static void
test_random(void)
{
	unsigned char a[32], b[32], big[200], c[32];
	int fd[2], st;
	pid_t pid;

	REQUIRE(jit_sodium_ready() == 0);
	jit_random(a, sizeof(a));
	for (int i = 0; i < 40; i++) {      /* past a refill */
		jit_random(b, sizeof(b));
		CHECK(memcmp(a, b, sizeof(a)) != 0);
	}
	memset(big, 0, sizeof(big));
	jit_random(big, sizeof(big));
	CHECK(memcmp(big + 100, a, sizeof(a)) != 0);
	jit_random(a, 1);                   /* a pool with bytes left */
	REQUIRE(pipe(fd) == 0);
	REQUIRE((pid = fork()) >= 0);
	if (pid == 0) {
		jit_random(c, sizeof(c));
		_exit(write(fd[1], c, sizeof(c)) == (ssize_t)sizeof(c) ? 0 : 1);
	}
	close(fd[1]);
	jit_random(b, sizeof(b));
	CHECK(read(fd[0], c, sizeof(c)) == (ssize_t)sizeof(c));
	close(fd[0]);
	CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) &&
	    WEXITSTATUS(st) == 0);
	CHECK(memcmp(b, c, sizeof(b)) != 0);
}

int
main(void)
{
	char cmd[128];

	REQUIRE(mkdtemp(tmpdir) != NULL);
	test_durations();
	test_format_duration();
	test_times();
	test_clocks();
	test_files();
	test_misc();
	test_printable();
	test_random();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tmpdir);
	TEST_DONE();
}
