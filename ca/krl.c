/* krl.c - OpenSSH key revocation lists (PROTOCOL.krl); see krl.h. */
#include "krl.h"
#include "err.h"

#include <stdlib.h>
#include <string.h>

#define KRL_MAGIC "SSHKRL\n\0"
#define KRL_MAGIC_LEN 8
#define KRL_FORMAT_VERSION 1

#define KRL_SECTION_CERTIFICATES 1
#define KRL_SECTION_EXPLICIT_KEY 2
#define KRL_SECTION_FINGERPRINT_SHA1 3
#define KRL_SECTION_FINGERPRINT_SHA256 5

#define KRL_CERT_SERIAL_LIST 0x20
#define KRL_CERT_SERIAL_RANGE 0x21
#define KRL_CERT_SERIAL_BITMAP 0x22
#define KRL_CERT_KEY_ID 0x23

/* sshd refuses bitmaps whose magnitude exceeds 16384 bits. */
#define KRL_BITMAP_MAX_BYTES (16384 / 8)

/*
 * Builder tuning.  A list entry costs 8 bytes, a range subsection 21, a
 * bitmap one bit per serial it spans plus 22 bytes of framing.  Runs of
 * LONG_RUN or more serials are always cheaper as ranges; clusters are
 * built only across gaps of at most BITMAP_GAP serials (64 bits of
 * bitmap = one list entry) and span at most BITMAP_MAX_BITS, well under
 * sshd's limit.
 */
#define LONG_RUN 128
#define BITMAP_GAP 64
#define BITMAP_MAX_BITS 8192
#define COST_LIST 8
#define COST_RANGE 21
#define COST_BITMAP_FRAME 22

/* ---------------------------------------------------------------------
 * Building
 */

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int
cmp_cstr(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int
put_subsection(struct jit_buf *cs, uint8_t type, const struct jit_buf *data)
{
	int r;

	if ((r = jit_buf_put_u8(cs, type)) != 0 ||
	    (r = jit_buf_put_stringb(cs, data)) != 0)
		return r;
	return 0;
}

static int
put_range(struct jit_buf *cs, const struct jit_krl_range *rg)
{
	struct jit_buf d = JIT_BUF_INIT;
	int r;

	if ((r = jit_buf_put_u64(&d, rg->lo)) == 0 &&
	    (r = jit_buf_put_u64(&d, rg->hi)) == 0)
		r = put_subsection(cs, KRL_CERT_SERIAL_RANGE, &d);
	jit_buf_release(&d);
	return r;
}

/* One bitmap subsection for runs[0..n), which span less than
 * BITMAP_MAX_BITS serials. */
static int
put_bitmap(struct jit_buf *cs, const struct jit_krl_range *runs, size_t n)
{
	struct jit_buf d = JIT_BUF_INIT;
	unsigned char *mag = NULL;
	uint64_t off = runs[0].lo, s, bit;
	size_t nbytes, i;
	int r = JIT_ERR_INTERNAL;

	nbytes = (size_t)((runs[n - 1].hi - off) / 8 + 1);
	if ((mag = calloc(1, nbytes)) == NULL)
		return JIT_ERR_ALLOC;
	for (i = 0; i < n; i++) {
		for (s = runs[i].lo;; s++) {
			bit = s - off;
			mag[nbytes - 1 - (size_t)(bit / 8)] |=
			    (unsigned char)(1u << (bit % 8));
			if (s == runs[i].hi)
				break;
		}
	}
	if ((r = jit_buf_put_u64(&d, off)) != 0 ||
	    (r = jit_buf_put_mpint(&d, mag, nbytes)) != 0 ||
	    (r = put_subsection(cs, KRL_CERT_SERIAL_BITMAP, &d)) != 0)
		goto out;
	r = 0;
 out:
	free(mag);
	jit_buf_release(&d);
	return r;
}

static uint64_t
run_len(const struct jit_krl_range *rg)
{
	return rg->hi - rg->lo + 1;
}

/* Emit runs[0..n) (sorted, disjoint, non-adjacent) into cs. */
static int
put_serials(struct jit_buf *cs, const struct jit_krl_range *runs, size_t n)
{
	struct jit_buf list = JIT_BUF_INIT;
	size_t i = 0, j, k;
	uint64_t alt, span;
	int r = JIT_ERR_INTERNAL;

	while (i < n) {
		/* Grow a cluster of short runs separated by small gaps. */
		j = i;
		if (run_len(&runs[i]) < LONG_RUN) {
			while (j + 1 < n && run_len(&runs[j + 1]) < LONG_RUN &&
			    runs[j + 1].lo - runs[j].hi <= BITMAP_GAP &&
			    runs[j + 1].hi - runs[i].lo < BITMAP_MAX_BITS)
				j++;
		}
		if (j > i) {
			span = runs[j].hi - runs[i].lo + 1;
			for (alt = 0, k = i; k <= j; k++)
				alt += run_len(&runs[k]) > 1 ? COST_RANGE :
				    COST_LIST;
			if (COST_BITMAP_FRAME + span / 8 + 1 < alt) {
				if ((r = put_bitmap(cs, &runs[i],
				    j - i + 1)) != 0)
					goto out;
				i = j + 1;
				continue;
			}
		}
		for (k = i; k <= j; k++) {
			if (run_len(&runs[k]) > 1)
				r = put_range(cs, &runs[k]);
			else
				r = jit_buf_put_u64(&list, runs[k].lo);
			if (r != 0)
				goto out;
		}
		i = j + 1;
	}
	if (jit_buf_len(&list) > 0 &&
	    (r = put_subsection(cs, KRL_CERT_SERIAL_LIST, &list)) != 0)
		goto out;
	r = 0;
 out:
	jit_buf_release(&list);
	return r;
}

/* Sorted, deduplicated, non-zero serials folded into maximal runs. */
static int
make_runs(const uint64_t *serials, size_t n, struct jit_krl_range **out,
    size_t *nout)
{
	uint64_t *s = NULL;
	struct jit_krl_range *runs = NULL;
	size_t i, m = 0;

	*out = NULL;
	*nout = 0;
	if (n == 0)
		return 0;
	if (n > SIZE_MAX / sizeof(*s) || n > SIZE_MAX / sizeof(*runs))
		return JIT_ERR_ALLOC;
	if ((s = malloc(n * sizeof(*s))) == NULL)
		return JIT_ERR_ALLOC;
	memcpy(s, serials, n * sizeof(*s));
	qsort(s, n, sizeof(*s), cmp_u64);
	if ((runs = malloc(n * sizeof(*runs))) == NULL) {
		free(s);
		return JIT_ERR_ALLOC;
	}
	for (i = 0; i < n; i++) {
		if (s[i] == 0)
			continue;  /* serial 0 is never revocable by serial */
		if (m > 0 && s[i] <= runs[m - 1].hi)
			continue;  /* duplicate */
		if (m > 0 && s[i] == runs[m - 1].hi + 1) {
			runs[m - 1].hi = s[i];
			continue;
		}
		runs[m].lo = runs[m].hi = s[i];
		m++;
	}
	free(s);
	if (m == 0) {
		free(runs);
		return 0;
	}
	*out = runs;
	*nout = m;
	return 0;
}

/* Check one CA's revocations (spec's own or a further section). */
static int
check_section(const struct jit_krl_section *sec)
{
	size_t i;

	if (sec->ca == NULL ||
	    (sec->serials == NULL && sec->nserials > 0) ||
	    (sec->key_ids == NULL && sec->nkey_ids > 0))
		return JIT_ERR_INVALID_ARGUMENT;
	for (i = 0; i < sec->nkey_ids; i++) {
		if (sec->key_ids[i] == NULL)
			return JIT_ERR_INVALID_ARGUMENT;
	}
	return 0;
}

/* Append the CERTIFICATES section of sec to k, if it revokes anything. */
static int
put_ca_section(struct jit_buf *k, const struct jit_krl_section *sec)
{
	struct jit_buf cs = JIT_BUF_INIT, ids = JIT_BUF_INIT;
	struct jit_krl_range *runs = NULL;
	const char **sorted = NULL;
	const unsigned char *cablob;
	size_t nruns = 0, calen, i;
	int r = JIT_ERR_INTERNAL;

	if ((r = make_runs(sec->serials, sec->nserials, &runs, &nruns)) != 0)
		goto out;
	if (sec->nkey_ids > 0) {
		if (sec->nkey_ids > SIZE_MAX / sizeof(*sorted)) {
			r = JIT_ERR_ALLOC;
			goto out;
		}
		if ((sorted = malloc(sec->nkey_ids * sizeof(*sorted))) ==
		    NULL) {
			r = JIT_ERR_ALLOC;
			goto out;
		}
		memcpy(sorted, sec->key_ids, sec->nkey_ids * sizeof(*sorted));
		qsort(sorted, sec->nkey_ids, sizeof(*sorted), cmp_cstr);
		for (i = 0; i < sec->nkey_ids; i++) {
			if (i > 0 && strcmp(sorted[i], sorted[i - 1]) == 0)
				continue;
			if ((r = jit_buf_put_cstring(&ids, sorted[i])) != 0)
				goto out;
		}
	}
	r = 0;
	if (nruns == 0 && jit_buf_len(&ids) == 0)
		goto out;
	if ((r = jit_key_public_blob(sec->ca, &cablob, &calen)) != 0)
		goto out;
	if ((r = jit_buf_put_string(&cs, cablob, calen)) != 0 ||
	    (r = jit_buf_put_string(&cs, NULL, 0)) != 0 ||
	    (r = put_serials(&cs, runs, nruns)) != 0)
		goto out;
	if (jit_buf_len(&ids) > 0 &&
	    (r = put_subsection(&cs, KRL_CERT_KEY_ID, &ids)) != 0)
		goto out;
	if ((r = jit_buf_put_u8(k, KRL_SECTION_CERTIFICATES)) != 0 ||
	    (r = jit_buf_put_stringb(k, &cs)) != 0)
		goto out;
 out:
	free(runs);
	free(sorted);
	jit_buf_release(&cs);
	jit_buf_release(&ids);
	return r;
}

int
jit_krl_build(const struct jit_krl_spec *spec, struct jit_buf *out)
{
	struct jit_buf k = JIT_BUF_INIT;
	struct jit_krl_section own;
	size_t i;
	int r = JIT_ERR_INTERNAL;

	if (spec == NULL || out == NULL ||
	    (spec->more == NULL && spec->nmore > 0))
		return JIT_ERR_INVALID_ARGUMENT;
	own.ca = spec->ca;
	own.serials = spec->serials;
	own.nserials = spec->nserials;
	own.key_ids = spec->key_ids;
	own.nkey_ids = spec->nkey_ids;
	if ((r = check_section(&own)) != 0)
		return r;
	for (i = 0; i < spec->nmore; i++) {
		if ((r = check_section(&spec->more[i])) != 0)
			return r;
	}

	/* Header. */
	if ((r = jit_buf_put(&k, KRL_MAGIC, KRL_MAGIC_LEN)) != 0 ||
	    (r = jit_buf_put_u32(&k, KRL_FORMAT_VERSION)) != 0 ||
	    (r = jit_buf_put_u64(&k, spec->version)) != 0 ||
	    (r = jit_buf_put_u64(&k, spec->generated)) != 0 ||
	    (r = jit_buf_put_u64(&k, 0)) != 0 ||          /* flags */
	    (r = jit_buf_put_string(&k, NULL, 0)) != 0 ||  /* reserved */
	    (r = jit_buf_put_cstring(&k, spec->comment != NULL ?
	    spec->comment : "")) != 0)
		goto out;
	if ((r = put_ca_section(&k, &own)) != 0)
		goto out;
	for (i = 0; i < spec->nmore; i++) {
		if ((r = put_ca_section(&k, &spec->more[i])) != 0)
			goto out;
	}
	r = jit_buf_put(out, jit_buf_ptr(&k), jit_buf_len(&k));
 out:
	jit_buf_release(&k);
	return r;
}

/* ---------------------------------------------------------------------
 * Parsing
 */

/*
 * Grow *arr so it can hold n + 1 elements, given that it was grown by
 * this function for every element so far: capacity is the next power of
 * two at or above n (at least 8), so it is implied by n.
 */
static int
array_grow(void **arr, size_t n, size_t elsize)
{
	size_t ncap;
	void *p;

	if (n != 0 && (n < 8 || (n & (n - 1)) != 0))
		return 0;
	ncap = n == 0 ? 8 : n;
	if (ncap > SIZE_MAX / 2 / elsize)
		return JIT_ERR_ALLOC;
	ncap *= n == 0 ? 1 : 2;
	if ((p = realloc(*arr, ncap * elsize)) == NULL)
		return JIT_ERR_ALLOC;
	*arr = p;
	return 0;
}

/*
 * A length-prefixed section as a view.  Sections may be longer than the
 * single-string limit of jit_buf_get_string_direct (a KRL revoking many
 * scattered serials), so the length is checked here against what is left.
 */
static int
get_section(struct jit_buf *b, struct jit_buf *view)
{
	uint32_t n;
	int r;

	if ((r = jit_buf_get_u32(b, &n)) != 0)
		return r;
	if (n > jit_buf_len(b))
		return JIT_ERR_MESSAGE_INCOMPLETE;
	jit_buf_view(view, jit_buf_ptr(b), n);
	return jit_buf_skip(b, n);
}

/* A section header (byte type, then a section); an empty section is
 * INVALID_FORMAT, as in OpenSSH. */
static int
get_typed_section(struct jit_buf *b, uint8_t *type, struct jit_buf *view)
{
	int r;

	if ((r = jit_buf_get_u8(b, type)) != 0 ||
	    (r = get_section(b, view)) != 0)
		return r;
	return jit_buf_len(view) == 0 ? JIT_ERR_INVALID_FORMAT : 0;
}

/* After a section parser: its result, or TRAILING_DATA if it left bytes
 * unread. */
static int
section_done(int r, const struct jit_buf *view)
{
	if (r == 0 && jit_buf_len(view) != 0)
		return JIT_ERR_TRAILING_DATA;
	return r;
}

static void
ca_release(struct jit_krl_ca *c)
{
	size_t i;

	free(c->ca_blob);
	free(c->ranges);
	for (i = 0; i < c->nkey_ids; i++)
		free(c->key_ids[i]);
	free(c->key_ids);
	memset(c, 0, sizeof(*c));
}

void
jit_krl_free(struct jit_krl *krl)
{
	size_t i;

	if (krl == NULL)
		return;
	for (i = 0; i < krl->ncas; i++)
		ca_release(&krl->cas[i]);
	free(krl->cas);
	free(krl->comment);
	free(krl);
}

static struct jit_krl_ca *
find_ca(const struct jit_krl *krl, const unsigned char *blob, size_t len)
{
	size_t i;

	for (i = 0; i < krl->ncas; i++) {
		const struct jit_krl_ca *c = &krl->cas[i];
		if (blob == NULL ? c->ca_blob == NULL :
		    (c->ca_blob != NULL && c->ca_blob_len == len &&
		    memcmp(c->ca_blob, blob, len) == 0))
			return &krl->cas[i];
	}
	return NULL;
}

/* Find or add the entry for a CA blob (NULL = any CA); the blob is
 * copied. */
static int
get_ca(struct jit_krl *krl, const unsigned char *blob, size_t len,
    struct jit_krl_ca **out)
{
	struct jit_krl_ca *c;
	int r;

	if ((*out = find_ca(krl, blob, len)) != NULL)
		return 0;
	if ((r = array_grow((void **)&krl->cas, krl->ncas,
	    sizeof(*krl->cas))) != 0)
		return r;
	c = &krl->cas[krl->ncas];
	memset(c, 0, sizeof(*c));
	if (blob != NULL) {
		if ((c->ca_blob = malloc(len)) == NULL)
			return JIT_ERR_ALLOC;
		memcpy(c->ca_blob, blob, len);
		c->ca_blob_len = len;
	}
	krl->ncas++;
	*out = c;
	return 0;
}

static int
add_range(struct jit_krl_ca *c, uint64_t lo, uint64_t hi)
{
	int r;

	if (lo == 0 || lo > hi)
		return JIT_ERR_INVALID_FORMAT;
	if ((r = array_grow((void **)&c->ranges, c->nranges,
	    sizeof(*c->ranges))) != 0)
		return r;
	c->ranges[c->nranges].lo = lo;
	c->ranges[c->nranges].hi = hi;
	c->nranges++;
	return 0;
}

static int
parse_serial_list(struct jit_krl_ca *c, struct jit_buf *sub)
{
	uint64_t s;
	int r;

	while (jit_buf_len(sub) > 0) {
		if ((r = jit_buf_get_u64(sub, &s)) != 0 ||
		    (r = add_range(c, s, s)) != 0)
			return r;
	}
	return 0;
}

static int
parse_serial_range(struct jit_krl_ca *c, struct jit_buf *sub)
{
	uint64_t lo, hi;
	int r;

	if ((r = jit_buf_get_u64(sub, &lo)) != 0 ||
	    (r = jit_buf_get_u64(sub, &hi)) != 0)
		return r;
	return add_range(c, lo, hi);
}

static int
parse_serial_bitmap(struct jit_krl_ca *c, struct jit_buf *sub)
{
	const unsigned char *mag;
	size_t len, nbits, i;
	uint64_t off, start = 0;
	int r, set, inrun = 0;

	if ((r = jit_buf_get_u64(sub, &off)) != 0 ||
	    (r = jit_buf_get_mpint_direct(sub, &mag, &len)) != 0)
		return r;
	if (len == 0)
		return JIT_ERR_INVALID_FORMAT;  /* revokes nothing */
	if (len > KRL_BITMAP_MAX_BYTES)
		return JIT_ERR_BAD_MPINT;
	nbits = len * 8;
	/* Bit i (least significant first) revokes serial off + i; set bits
	 * are folded into runs as they are found. */
	for (i = 0; i <= nbits; i++) {
		set = i < nbits &&
		    ((mag[len - 1 - i / 8] >> (i % 8)) & 1) != 0;
		if (set && !inrun) {
			if ((uint64_t)i > UINT64_MAX - off)
				return JIT_ERR_INVALID_FORMAT;  /* wraps */
			start = off + i;
			inrun = 1;
		} else if (set && (uint64_t)i > UINT64_MAX - off) {
			return JIT_ERR_INVALID_FORMAT;
		} else if (!set && inrun) {
			if ((r = add_range(c, start, off + (i - 1))) != 0)
				return r;
			inrun = 0;
		}
	}
	return 0;
}

static int
parse_key_ids(struct jit_krl_ca *c, struct jit_buf *sub)
{
	char *id = NULL;
	int r;

	while (jit_buf_len(sub) > 0) {
		if ((r = jit_buf_get_cstring(sub, &id, NULL)) != 0)
			return r;
		if ((r = array_grow((void **)&c->key_ids, c->nkey_ids,
		    sizeof(*c->key_ids))) != 0) {
			free(id);
			return r;
		}
		c->key_ids[c->nkey_ids++] = id;
	}
	return 0;
}

static int
parse_certs(struct jit_krl *krl, struct jit_buf *sect)
{
	struct jit_buf sub;
	struct jit_key *ca = NULL;
	struct jit_krl_ca *c = NULL;
	const unsigned char *blob, *canon = NULL;
	size_t blen, clen = 0;
	uint8_t type;
	int r = JIT_ERR_INTERNAL;

	if ((r = jit_buf_get_string_direct(sect, &blob, &blen)) != 0 ||
	    (r = jit_buf_get_string_direct(sect, NULL, NULL)) != 0)
		goto out;
	if (blen > 0) {
		/* Store the canonical encoding so lookups by key compare
		 * like sshd's sshkey_equal(). */
		if ((r = jit_key_from_blob(blob, blen, &ca)) != 0 ||
		    (r = jit_key_public_blob(ca, &canon, &clen)) != 0)
			goto out;
	}
	if ((r = get_ca(krl, canon, clen, &c)) != 0)
		goto out;
	if (jit_buf_len(sect) == 0) {
		r = JIT_ERR_INVALID_FORMAT;
		goto out;
	}
	while (jit_buf_len(sect) > 0) {
		if ((r = get_typed_section(sect, &type, &sub)) != 0)
			goto out;
		switch (type) {
		case KRL_CERT_SERIAL_LIST:
			r = parse_serial_list(c, &sub);
			break;
		case KRL_CERT_SERIAL_RANGE:
			r = parse_serial_range(c, &sub);
			break;
		case KRL_CERT_SERIAL_BITMAP:
			r = parse_serial_bitmap(c, &sub);
			break;
		case KRL_CERT_KEY_ID:
			r = parse_key_ids(c, &sub);
			break;
		default:
			r = JIT_ERR_INVALID_FORMAT;
			break;
		}
		if ((r = section_done(r, &sub)) != 0)
			goto out;
	}
	r = 0;
 out:
	jit_key_free(ca);
	return r;
}

/* A list of opaque strings; hashes must have exactly hlen bytes and be
 * strictly ascending. */
static int
parse_blobs(struct jit_buf *sect, size_t hlen, size_t *count)
{
	const unsigned char *p, *prev = NULL;
	size_t len;
	int r;

	while (jit_buf_len(sect) > 0) {
		if ((r = jit_buf_get_string_direct(sect, &p, &len)) != 0)
			return r;
		if (hlen != 0) {
			if (len != hlen)
				return JIT_ERR_INVALID_FORMAT;
			if (prev != NULL && memcmp(prev, p, hlen) >= 0)
				return JIT_ERR_INVALID_FORMAT;
			prev = p;
		} else if (len == 0) {
			return JIT_ERR_INVALID_FORMAT;
		}
		if (*count == SIZE_MAX)
			return JIT_ERR_INVALID_FORMAT;
		(*count)++;
	}
	return 0;
}

static int
cmp_range(const void *a, const void *b)
{
	const struct jit_krl_range *x = a, *y = b;

	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	return x->hi < y->hi ? -1 : x->hi > y->hi;
}

/* Sort and merge ranges and key IDs so lookups can bisect. */
static void
normalise(struct jit_krl_ca *c)
{
	size_t i, m;

	if (c->nranges > 1) {
		qsort(c->ranges, c->nranges, sizeof(*c->ranges), cmp_range);
		for (m = 0, i = 1; i < c->nranges; i++) {
			struct jit_krl_range *cur = &c->ranges[m];
			if (cur->hi == UINT64_MAX ||
			    c->ranges[i].lo <= cur->hi + 1) {
				if (c->ranges[i].hi > cur->hi)
					cur->hi = c->ranges[i].hi;
				continue;
			}
			c->ranges[++m] = c->ranges[i];
		}
		c->nranges = m + 1;
	}
	if (c->nkey_ids > 1) {
		qsort(c->key_ids, c->nkey_ids, sizeof(*c->key_ids), cmp_cstr);
		for (m = 0, i = 1; i < c->nkey_ids; i++) {
			if (strcmp(c->key_ids[i], c->key_ids[m]) == 0) {
				free(c->key_ids[i]);
				continue;
			}
			c->key_ids[++m] = c->key_ids[i];
		}
		c->nkey_ids = m + 1;
	}
}

int
jit_krl_parse(const unsigned char *data, size_t len, struct jit_krl **out)
{
	struct jit_buf b, sect;
	struct jit_krl *krl = NULL;
	unsigned char magic[KRL_MAGIC_LEN];
	uint32_t format;
	uint64_t flags;
	uint8_t type;
	size_t i;
	int r = JIT_ERR_INTERNAL;

	if (out == NULL)
		return JIT_ERR_INVALID_ARGUMENT;
	*out = NULL;
	if (data == NULL && len > 0)
		return JIT_ERR_INVALID_ARGUMENT;
	if ((krl = calloc(1, sizeof(*krl))) == NULL)
		return JIT_ERR_ALLOC;
	jit_buf_view(&b, data, len);
	if ((r = jit_buf_get(&b, magic, sizeof(magic))) != 0)
		goto out;
	if (memcmp(magic, KRL_MAGIC, KRL_MAGIC_LEN) != 0) {
		r = JIT_ERR_INVALID_FORMAT;
		goto out;
	}
	if ((r = jit_buf_get_u32(&b, &format)) != 0)
		goto out;
	if (format != KRL_FORMAT_VERSION) {
		r = JIT_ERR_INVALID_FORMAT;
		goto out;
	}
	if ((r = jit_buf_get_u64(&b, &krl->version)) != 0 ||
	    (r = jit_buf_get_u64(&b, &krl->generated)) != 0 ||
	    (r = jit_buf_get_u64(&b, &flags)) != 0 ||
	    (r = jit_buf_get_string_direct(&b, NULL, NULL)) != 0 ||
	    (r = jit_buf_get_cstring(&b, &krl->comment, NULL)) != 0)
		goto out;
	if (flags != 0) {
		r = JIT_ERR_INVALID_FORMAT;
		goto out;
	}
	while (jit_buf_len(&b) > 0) {
		if ((r = get_typed_section(&b, &type, &sect)) != 0)
			goto out;
		switch (type) {
		case KRL_SECTION_CERTIFICATES:
			r = parse_certs(krl, &sect);
			break;
		case KRL_SECTION_EXPLICIT_KEY:
			r = parse_blobs(&sect, 0, &krl->nexplicit_keys);
			break;
		case KRL_SECTION_FINGERPRINT_SHA1:
			r = parse_blobs(&sect, 20, &krl->nsha1);
			break;
		case KRL_SECTION_FINGERPRINT_SHA256:
			r = parse_blobs(&sect, 32, &krl->nsha256);
			break;
		default:
			r = JIT_ERR_INVALID_FORMAT;
			break;
		}
		if ((r = section_done(r, &sect)) != 0)
			goto out;
	}
	for (i = 0; i < krl->ncas; i++)
		normalise(&krl->cas[i]);
	*out = krl;
	krl = NULL;
	r = 0;
 out:
	jit_krl_free(krl);
	return r;
}

/* ---------------------------------------------------------------------
 * Lookups
 */

static int
serial_in(const struct jit_krl_ca *c, uint64_t serial)
{
	size_t lo = 0, hi = c->nranges, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (serial < c->ranges[mid].lo)
			hi = mid;
		else if (serial > c->ranges[mid].hi)
			lo = mid + 1;
		else
			return 1;
	}
	return 0;
}

static int
key_id_in(const struct jit_krl_ca *c, const char *id)
{
	size_t lo = 0, hi = c->nkey_ids, mid;
	int d;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		d = strcmp(id, c->key_ids[mid]);
		if (d == 0)
			return 1;
		if (d < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return 0;
}

/* The entries for ca and for "any CA" (either may be NULL). */
static int
lookup_cas(const struct jit_krl *krl, const struct jit_key *ca,
    const struct jit_krl_ca **mine, const struct jit_krl_ca **any)
{
	const unsigned char *blob;
	size_t len;
	int r;

	*mine = *any = NULL;
	if (krl == NULL || ca == NULL)
		return JIT_ERR_INVALID_ARGUMENT;
	if ((r = jit_key_public_blob(ca, &blob, &len)) != 0)
		return r;
	*mine = find_ca(krl, blob, len);
	*any = find_ca(krl, NULL, 0);
	return 0;
}

int
jit_krl_is_revoked_serial(const struct jit_krl *krl,
    const struct jit_key *ca, uint64_t serial)
{
	const struct jit_krl_ca *mine, *any;
	int r;

	if ((r = lookup_cas(krl, ca, &mine, &any)) != 0)
		return r;
	if (serial == 0)
		return 0;
	return (mine != NULL && serial_in(mine, serial)) ||
	    (any != NULL && serial_in(any, serial));
}

int
jit_krl_is_revoked_key_id(const struct jit_krl *krl,
    const struct jit_key *ca, const char *key_id)
{
	const struct jit_krl_ca *mine, *any;
	int r;

	if (key_id == NULL)
		return JIT_ERR_INVALID_ARGUMENT;
	if ((r = lookup_cas(krl, ca, &mine, &any)) != 0)
		return r;
	return (mine != NULL && key_id_in(mine, key_id)) ||
	    (any != NULL && key_id_in(any, key_id));
}

uint64_t
jit_krl_count_serials(const struct jit_krl *krl, const struct jit_key *ca)
{
	const struct jit_krl_ca *mine, *any;
	uint64_t total = 0, n;
	size_t i;

	if (lookup_cas(krl, ca, &mine, &any) != 0 || mine == NULL)
		return 0;
	for (i = 0; i < mine->nranges; i++) {
		n = mine->ranges[i].hi - mine->ranges[i].lo + 1;
		if (n > UINT64_MAX - total)
			return UINT64_MAX;
		total += n;
	}
	return total;
}
