/* util.c - see util.h. */
#include "util.h"
#include "err.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <strings.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <sodium.h>

/* The characters application/x-www-form-urlencoded keeps as they are. */
#define FORM_SAFE "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz" \
	"0123456789-._~"

int
jit_err_from_errno(int e)
{
	switch (e) {
	case ENOENT: case ENOTDIR:
		return JIT_ERR_NOT_FOUND;
	case EACCES: case EPERM: case EROFS:
		return JIT_ERR_PERMISSION;
	case EEXIST:
		return JIT_ERR_FILE_EXISTS;
	case ENOSPC: case EDQUOT:
		return JIT_ERR_STORE_FULL;
	case ENOMEM:
		return JIT_ERR_ALLOC;
	case EIO:
		return JIT_ERR_IO;
	default:
		return JIT_ERR_SYSTEM;
	}
}

int
jit_parse_duration(const char *s, uint64_t *seconds)
{
	uint64_t total = 0, v, mul;
	const char *p = s;

	*seconds = 0;
	if (s == NULL || *s == '\0')
		return JIT_ERR_BAD_DURATION;
	while (*p != '\0') {
		if (*p < '0' || *p > '9')
			return JIT_ERR_BAD_DURATION;
		v = 0;
		while (*p >= '0' && *p <= '9') {
			if (v > (UINT64_MAX - 9) / 10)
				return JIT_ERR_BAD_DURATION;
			v = v * 10 + (uint64_t)(*p - '0');
			p++;
		}
		switch (*p) {
		case 's': mul = 1; p++; break;
		case 'm': mul = 60; p++; break;
		case 'h': mul = 3600; p++; break;
		case 'd': mul = 86400; p++; break;
		case 'w': mul = 7 * 86400; p++; break;
		case '\0':
			/* A bare number is seconds, only as the whole string. */
			if (p - s > 0 && total == 0) {
				mul = 1;
				break;
			}
			return JIT_ERR_BAD_DURATION;
		default:
			return JIT_ERR_BAD_DURATION;
		}
		if (v > UINT64_MAX / mul || total > UINT64_MAX - v * mul)
			return JIT_ERR_BAD_DURATION;
		total += v * mul;
	}
	/* Cap at ~100 years so later arithmetic on times cannot overflow. */
	if (total == 0 || total > 100ull * 365 * 86400)
		return JIT_ERR_BAD_DURATION;
	*seconds = total;
	return 0;
}

void
jit_format_duration(uint64_t s, char *out, size_t len)
{
	static const struct { uint64_t n; char u; } units[] = {
		{ 86400, 'd' }, { 3600, 'h' }, { 60, 'm' }, { 1, 's' } };
	size_t used = 0;
	size_t i;

	if (len == 0)
		return;
	out[0] = '\0';
	if (s == 0) {
		snprintf(out, len, "0s");
		return;
	}
	for (i = 0; i < sizeof(units) / sizeof(units[0]) && s > 0; i++) {
		if (s >= units[i].n) {
			int n = snprintf(out + used, len - used, "%llu%c",
			    (unsigned long long)(s / units[i].n), units[i].u);
			if (n < 0 || (size_t)n >= len - used)
				return;
			used += (size_t)n;
			s %= units[i].n;
		}
	}
}

/* v (< 10^n) as n decimal digits at p. */
static void
put_digits(char *p, unsigned v, int n)
{
	while (n-- > 0) {
		p[n] = (char)('0' + v % 10);
		v /= 10;
	}
}

/*
 * By arithmetic (the proleptic Gregorian calendar, days since 1970 to a
 * date as in Howard Hinnant's civil_from_days), not gmtime_r and
 * strftime: a request's JSON holds several times, and those two took a
 * lock and a format parse for each.
 */
void
jit_format_time(uint64_t t, char out[JIT_TIME_LEN])
{
	uint64_t z, era, doe, yoe, y, doy, mp, d, m, sec;

	if (t > (uint64_t)253402300799ull)
		t = 253402300799ull;         /* 9999-12-31T23:59:59Z */
	sec = t % 86400;
	z = t / 86400 + 719468;              /* days since 0000-03-01 */
	era = z / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	d = doy - (153 * mp + 2) / 5 + 1;
	m = mp < 10 ? mp + 3 : mp - 9;
	y = yoe + era * 400 + (m <= 2);
	memcpy(out, "0000-00-00T00:00:00Z", JIT_TIME_LEN);
	put_digits(out, (unsigned)y, 4);
	put_digits(out + 5, (unsigned)m, 2);
	put_digits(out + 8, (unsigned)d, 2);
	put_digits(out + 11, (unsigned)(sec / 3600), 2);
	put_digits(out + 14, (unsigned)(sec / 60 % 60), 2);
	put_digits(out + 17, (unsigned)(sec % 60), 2);
}

static int
parse_digits(const char **p, int n, int *v)
{
	int x = 0;

	for (int i = 0; i < n; i++) {
		if ((*p)[i] < '0' || (*p)[i] > '9')
			return -1;
		x = x * 10 + ((*p)[i] - '0');
	}
	*p += n;
	*v = x;
	return 0;
}

static int
days_in_month(int y, int mo)
{
	static const int days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31,
	    30, 31 };
	int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return mo == 2 && leap ? 29 : days[mo - 1];
}

int
jit_parse_time(const char *s, uint64_t *t)
{
	struct tm tm;
	int y, mo, d, h, mi, sec, oh = 0, om = 0, sign = 0;
	const char *p = s;
	char *end;
	time_t tt;

	*t = 0;
	if (s == NULL || *s == '\0')
		return JIT_ERR_INVALID_FORMAT;
	if (strspn(s, "0123456789") == strlen(s)) {
		unsigned long long v;
		errno = 0;
		v = strtoull(s, &end, 10);
		if (errno != 0 || *end != '\0')
			return JIT_ERR_INVALID_FORMAT;
		*t = v;
		return 0;
	}
	if (parse_digits(&p, 4, &y) || *p++ != '-' ||
	    parse_digits(&p, 2, &mo) || *p++ != '-' ||
	    parse_digits(&p, 2, &d))
		return JIT_ERR_INVALID_FORMAT;
	h = mi = sec = 0;
	if (*p == 'T' || *p == 't' || *p == ' ') {
		p++;
		if (parse_digits(&p, 2, &h) || *p++ != ':' ||
		    parse_digits(&p, 2, &mi))
			return JIT_ERR_INVALID_FORMAT;
		if (*p == ':') {
			p++;
			if (parse_digits(&p, 2, &sec))
				return JIT_ERR_INVALID_FORMAT;
			if (*p == '.') {
				p++;
				while (*p >= '0' && *p <= '9')
					p++;
			}
		}
		if (*p == 'Z' || *p == 'z') {
			p++;
		} else if (*p == '+' || *p == '-') {
			sign = *p == '-' ? -1 : 1;
			p++;
			if (parse_digits(&p, 2, &oh) || *p++ != ':' ||
			    parse_digits(&p, 2, &om))
				return JIT_ERR_INVALID_FORMAT;
		} else {
			return JIT_ERR_INVALID_FORMAT;
		}
	}
	/* A real date: no February 31st (timegm would roll it into March)
	 * and no leap second (we cannot know which minutes have one). */
	if (*p != '\0' || mo < 1 || mo > 12 || d < 1 ||
	    d > days_in_month(y, mo) || h > 23 || mi > 59 || sec > 59 ||
	    oh > 23 || om > 59 || y < 1970)
		return JIT_ERR_INVALID_FORMAT;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	if ((tt = timegm(&tm)) == (time_t)-1)
		return JIT_ERR_INVALID_FORMAT;
	tt -= sign * (oh * 3600 + om * 60);
	if (tt < 0)
		return JIT_ERR_INVALID_FORMAT;
	*t = (uint64_t)tt;
	return 0;
}

uint64_t
jit_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec;
}

uint64_t
jit_monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int
jit_read_file(const char *path, size_t max, unsigned char **data, size_t *len)
{
	unsigned char *buf = NULL;
	size_t cap = 0, used = 0;
	int fd, r = JIT_ERR_INTERNAL;
	ssize_t n;

	*data = NULL;
	if (len != NULL)
		*len = 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return jit_err_from_errno(errno);
	for (;;) {
		if (used == cap) {
			size_t ncap = cap == 0 ? 4096 : cap * 2;
			unsigned char *nb;
			if (cap >= max + 1) {
				r = JIT_ERR_NO_BUFFER_SPACE;
				goto out;
			}
			if (ncap > max + 1)
				ncap = max + 1;
			if ((nb = malloc(ncap + 1)) == NULL) {
				r = JIT_ERR_ALLOC;
				goto out;
			}
			if (buf != NULL) {
				memcpy(nb, buf, used);
				OPENSSL_cleanse(buf, cap);
				free(buf);
			}
			buf = nb;
			cap = ncap;
		}
		n = read(fd, buf + used, cap - used);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = jit_err_from_errno(errno);
			goto out;
		}
		if (n == 0)
			break;
		used += (size_t)n;
		if (used > max) {
			r = JIT_ERR_NO_BUFFER_SPACE;
			goto out;
		}
	}
	if (buf == NULL && (buf = malloc(1)) == NULL) {
		r = JIT_ERR_ALLOC;
		goto out;
	}
	buf[used] = '\0';
	*data = buf;
	buf = NULL;
	if (len != NULL)
		*len = used;
	r = 0;
out:
	if (buf != NULL) {
		OPENSSL_cleanse(buf, cap);
		free(buf);
	}
	close(fd);
	return r;
}

static int
fsync_parent(const char *path)
{
	char *dir = jit_strdup(path), *slash;
	int fd, r = 0;

	if (dir == NULL)
		return JIT_ERR_ALLOC;
	slash = strrchr(dir, '/');
	if (slash == NULL)
		strcpy(dir, ".");
	else if (slash == dir)
		slash[1] = '\0';
	else
		*slash = '\0';
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		r = jit_err_from_errno(errno);
	else {
		if (fsync(fd) != 0)
			r = jit_err_from_errno(errno);
		close(fd);
	}
	free(dir);
	return r;
}

int
jit_write_file_atomic(const char *path, const void *data, size_t len,
    unsigned mode, int exclusive)
{
	size_t plen = strlen(path);
	char *tmp = NULL;
	const unsigned char *p = data;
	unsigned char rnd[6];
	int fd = -1, r = JIT_ERR_INTERNAL;
	size_t off = 0;

	if ((tmp = malloc(plen + 32)) == NULL)
		return JIT_ERR_ALLOC;
	if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
		r = JIT_ERR_CRYPTO;
		goto out;
	}
	snprintf(tmp, plen + 32, "%s.tmp-%02x%02x%02x%02x%02x%02x", path,
	    rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5]);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    (mode_t)mode)) < 0) {
		r = jit_err_from_errno(errno);
		goto out;
	}
	/* The umask may have narrowed the mode; set it exactly. */
	if (fchmod(fd, (mode_t)mode) != 0) {
		r = jit_err_from_errno(errno);
		goto fail;
	}
	while (off < len) {
		ssize_t n = write(fd, p + off, len - off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = jit_err_from_errno(errno);
			goto fail;
		}
		off += (size_t)n;
	}
	if (fsync(fd) != 0) {
		r = jit_err_from_errno(errno);
		goto fail;
	}
	close(fd);
	fd = -1;
	if (exclusive) {
		/* link() fails if the target exists: no window for a race. */
		if (link(tmp, path) != 0) {
			r = jit_err_from_errno(errno);
			goto fail;
		}
		unlink(tmp);
	} else if (rename(tmp, path) != 0) {
		r = jit_err_from_errno(errno);
		goto fail;
	}
	r = fsync_parent(path);
	goto out;
fail:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
out:
	free(tmp);
	return r;
}

int
jit_ct_equal(const void *a, const void *b, size_t len)
{
	return CRYPTO_memcmp(a, b, len) == 0;
}

void
jit_seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

char *
jit_strdup(const char *s)
{
	return s == NULL ? NULL : jit_memdup(s, strlen(s));
}

char *
jit_memdup(const void *p, size_t len)
{
	char *d;

	if (len == SIZE_MAX || (d = malloc(len + 1)) == NULL)
		return NULL;
	if (len > 0)
		memcpy(d, p, len);
	d[len] = '\0';
	return d;
}

void
jit_hex(const unsigned char *in, size_t len, char *out)
{
	static const char hx[] = "0123456789abcdef";

	for (size_t i = 0; i < len; i++) {
		out[2 * i] = hx[in[i] >> 4];
		out[2 * i + 1] = hx[in[i] & 15];
	}
	out[2 * len] = '\0';
}

int
jit_text_printable(const char *s)
{
	const unsigned char *p;

	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p < 0x20 || *p == 0x7f)
			return 0;
		/* C1 controls: U+0080..U+009F, UTF-8 C2 80..C2 9F. */
		if (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)
			return 0;
		/* Bidi embeddings, overrides and isolates, which make text
		 * read other than it is stored: U+202A..U+202E (E2 80
		 * AA..AE), U+2066..U+2069 (E2 81 A6..A9). */
		if (p[0] == 0xe2 && ((p[1] == 0x80 && p[2] >= 0xaa &&
		    p[2] <= 0xae) || (p[1] == 0x81 && p[2] >= 0xa6 &&
		    p[2] <= 0xa9)))
			return 0;
	}
	return 1;
}

int
jit_strset(char **dst, const char *v)
{
	char *n = jit_strdup(v);

	if (n == NULL)
		return JIT_ERR_ALLOC;
	free(*dst);
	*dst = n;
	return 0;
}

int
jit_host_loopback(const char *host)
{
	struct in_addr a4;
	struct in6_addr a6;
	size_t n = host != NULL ? strlen(host) : 0;
	char h[64];

	if (n == 0 || n >= sizeof(h))
		return 0;
	if (strcasecmp(host, "localhost") == 0)
		return 1;
	memcpy(h, host, n + 1);
	if (h[0] == '[' && n > 2 && h[n - 1] == ']') {
		memmove(h, h + 1, n - 2);
		h[n - 2] = '\0';
	}
	if (inet_pton(AF_INET, h, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, h, &a6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&a6);
	return 0;
}

/* Bytes of s once percent-encoded. */
static size_t
form_len(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++)
		n += strchr(FORM_SAFE, *s) != NULL ? 1 : 3;
	return n;
}

static size_t
form_put(char *out, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (strchr(FORM_SAFE, c) != NULL) {
			out[o++] = (char)c;
			continue;
		}
		out[o++] = '%';
		out[o++] = hex[c >> 4];
		out[o++] = hex[c & 15];
	}
	return o;
}

int
jit_form_add(char **form, const char *name, const char *value)
{
	size_t old = *form != NULL ? strlen(*form) : 0, nl, vl, total;
	char *n;

	nl = form_len(name);
	vl = form_len(value);
	/* Each part is at most three times a C string's length. */
	if (nl > SIZE_MAX / 4 || vl > SIZE_MAX / 4 ||
	    old > SIZE_MAX / 4 - nl - vl)
		return JIT_ERR_ALLOC;
	total = old + (old != 0) + nl + 1 + vl;
	if ((n = malloc(total + 1)) == NULL)
		return JIT_ERR_ALLOC;
	memcpy(n, *form != NULL ? *form : "", old);
	if (old != 0)
		n[old++] = '&';
	old += form_put(n + old, name);
	n[old++] = '=';
	old += form_put(n + old, value);
	n[old] = '\0';
	if (*form != NULL) {
		OPENSSL_cleanse(*form, strlen(*form));
		free(*form);
	}
	*form = n;
	return 0;
}

static pthread_once_t sodium_once = PTHREAD_ONCE_INIT;
static int sodium_ok;

static void
sodium_start(void)
{
	sodium_ok = sodium_init() >= 0;
}

int
jit_sodium_ready(void)
{
	pthread_once(&sodium_once, sodium_start);
	return sodium_ok ? 0 : JIT_ERR_CRYPTO;
}

/* Bumped in a child after fork(): a pool made before it is dropped. */
static atomic_uint random_gen = 1;
static pthread_once_t random_once = PTHREAD_ONCE_INIT;

static void
random_forked(void)
{
	atomic_fetch_add(&random_gen, 1);
}

static void
random_start(void)
{
	pthread_atfork(NULL, NULL, random_forked);
}

void
jit_random(void *out, size_t n)
{
	static _Thread_local unsigned char pool[JIT_RANDOM_POOL];
	static _Thread_local size_t left;
	static _Thread_local unsigned gen;
	unsigned now;

	if (n > JIT_RANDOM_POOL / 4) {
		randombytes_buf(out, n);
		return;
	}
	pthread_once(&random_once, random_start);
	now = atomic_load(&random_gen);
	if (left < n || gen != now) {
		randombytes_buf(pool, sizeof(pool));
		left = sizeof(pool);
		gen = now;
	}
	memcpy(out, pool + sizeof(pool) - left, n);
	sodium_memzero(pool + sizeof(pool) - left, n);
	left -= n;
}
