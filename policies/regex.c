/* regex.c - reason patterns: PCRE2, compiled once at load, matched with
 * limits.  The only file that includes pcre2.h (policy_int.h). */
#include "policy_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "err.h"

#define MAX_PATTERN_COST 4096
#define MAX_PATTERN_DEPTH 16
/*
 * Bounds on one search.  A reason is at most JIT_POLICY_MAX_REASON
 * bytes, so a sensible pattern stays far below them, even against a
 * reason made to miss it; a pattern that backtracks catastrophically,
 * such as "(a+)+$" against "aaa...b", stops at the match limit after
 * some milliseconds instead of running for years, and the reason is
 * refused.
 */
#define MATCH_LIMIT 1000000    /* backtracking steps */
#define DEPTH_LIMIT 10000      /* nested backtracking points */
#define HEAP_LIMIT 16384       /* KiB of backtracking memory */

struct jit_policy_regex {
	pcre2_code *code;
	pcre2_match_context *mctx;   /* the limits; only read when matching,
	                                so threads may share it */
};

/* At "{" (*p): the repetition factor of a counted quantifier (its
 * largest count + 1), moving *p to its "}"; 0 for a literal brace. */
static uint64_t
counted_factor(const char **p)
{
	uint64_t v = 0, hi = 0;
	const char *q = *p + 1;

	if (*q < '0' || *q > '9')
		return 0;
	for (; *q != '\0' && *q != '}'; q++) {
		if (*q >= '0' && *q <= '9') {
			if (v < 100000)
				v = v * 10 + (uint64_t)(*q - '0');
		} else
			v = 0;
		if (v > hi)
			hi = v;
	}
	if (*q == '\0')
		return 0;
	*p = q;
	return hi + 1;
}

/* At "[" (p): the "]" that ends the class, or NULL if none does.  "]"
 * right after "[" or "[^" is a member, as are [:class:] parts and
 * escaped characters. */
static const char *
class_end(const char *p)
{
	const char *q = p + 1;

	if (*q == '^')
		q++;
	if (*q == ']')
		q++;
	while (*q != '\0' && *q != ']') {
		if (*q == '[' && (q[1] == ':' || q[1] == '.' || q[1] == '=')) {
			const char *e = strchr(q + 2, q[1]);
			if (e == NULL || e[1] != ']')
				break;
			q = e + 2;
		} else if (*q == '\\' && q[1] != '\0')
			q += 2;
		else
			q++;
	}
	return *q == '\0' ? NULL : q;
}

/*
 * PCRE2 copies a group once for each fixed repetition ("(ab){3}" is
 * compiled as three groups), so nested counted repetitions multiply the
 * size of the compiled pattern, and a short pattern can ask for a huge
 * one (the fuzzer found such patterns).  Estimate the size of the
 * expanded pattern, nesting included, and refuse big ones, as well as
 * quantifiers that follow each other: lazy ("a*?") and possessive
 * ("a++") forms are not needed to decide whether a reason matches, and
 * refusing them keeps "a+++++" from meaning anything.
 */
const char *
pol_pattern_problem(const char *s)
{
	struct frame { uint64_t sum, last; } st[MAX_PATTERN_DEPTH + 1];
	size_t depth = 0;
	int quantified = 0;

	memset(st, 0, sizeof(st));
	for (const char *p = s; *p != '\0'; p++) {
		uint64_t factor = 0;
		struct frame *f = &st[depth];

		switch (*p) {
		case '(':
			if (depth == MAX_PATTERN_DEPTH)
				return "parentheses nested too deeply";
			st[++depth] = (struct frame){ 0, 0 };
			quantified = 0;
			continue;
		case ')':
			if (depth == 0)
				break;  /* the compiler reports it */
			depth--;
			st[depth].last = f->sum + 1;
			st[depth].sum += f->sum + 1;
			quantified = 0;
			continue;
		case '|':
			quantified = 0;
			f->last = 0;
			continue;
		case '*':
		case '?':
			factor = 1;
			break;
		case '+':
			factor = 2;
			break;
		case '{':
			/* "{N}", "{N,}", "{N,M}": a quantifier; else a
			 * literal brace (or an error the compiler reports). */
			factor = counted_factor(&p);
			break;
		case '[':
			/* A character class is one atom. */
			if ((p = class_end(p)) == NULL)
				return NULL;  /* the compiler reports it */
			break;
		case '\\':
			if (p[1] != '\0')
				p++;
			break;
		default:
			break;
		}
		if (factor == 0) {
			/* An atom. */
			f->sum += 1;
			f->last = 1;
			quantified = 0;
		} else {
			if (quantified)
				return "repetition operators may not follow "
				    "each other (lazy and possessive "
				    "quantifiers are not supported)";
			if (f->last == 0)
				continue;  /* the compiler reports it or takes
				              it literally */
			f->sum += f->last * (factor - 1) + 1;
			f->last *= factor;
			quantified = 1;
		}
		if (f->sum > MAX_PATTERN_COST || f->last > MAX_PATTERN_COST)
			return "pattern expands too much when compiled "
			    "(nested or large repetitions)";
	}
	return NULL;
}

void
pol_regex_free(struct jit_policy_regex *re)
{
	if (re == NULL)
		return;
	pcre2_code_free(re->code);
	pcre2_match_context_free(re->mctx);
	free(re);
}

int
pol_regex_compile(const char *s, struct jit_policy_regex **out, char *why,
    size_t whylen)
{
	struct jit_policy_regex *re = NULL;
	PCRE2_UCHAR msg[160];
	PCRE2_SIZE off = 0;
	uint32_t backrefs = 0;
	int rc, r = JIT_ERR_INTERNAL;

	*out = NULL;
	if ((re = calloc(1, sizeof(*re))) == NULL)
		return JIT_ERR_ALLOC;
	/* UTF: "." and classes take characters, not bytes, and a reason
	 * that is not UTF-8 never matches.  \C would split a character. */
	re->code = pcre2_compile((PCRE2_SPTR)s, PCRE2_ZERO_TERMINATED,
	    PCRE2_UTF | PCRE2_NEVER_BACKSLASH_C, &rc, &off, NULL);
	if (re->code == NULL) {
		if (rc == PCRE2_ERROR_NOMEMORY) {
			r = JIT_ERR_ALLOC;
			goto out;
		}
		if (pcre2_get_error_message(rc, msg, sizeof(msg)) < 0)
			snprintf((char *)msg, sizeof(msg), "error %d", rc);
		snprintf(why, whylen, "invalid regular expression: %s (at "
		    "offset %zu)", (const char *)msg, (size_t)off);
		r = JIT_ERR_POLICY;
		goto out;
	}
	/* A back-reference makes matching exponential in the length of
	 * the reason, and reasons come from users. */
	if (pcre2_pattern_info(re->code, PCRE2_INFO_BACKREFMAX,
	    &backrefs) != 0 || backrefs > 0) {
		snprintf(why, whylen, "back-references are not supported");
		r = JIT_ERR_POLICY;
		goto out;
	}
	if ((re->mctx = pcre2_match_context_create(NULL)) == NULL) {
		r = JIT_ERR_ALLOC;
		goto out;
	}
	if (pcre2_set_match_limit(re->mctx, MATCH_LIMIT) != 0 ||
	    pcre2_set_depth_limit(re->mctx, DEPTH_LIMIT) != 0 ||
	    pcre2_set_heap_limit(re->mctx, HEAP_LIMIT) != 0)
		goto out;
	*out = re;
	re = NULL;
	r = 0;
out:
	pol_regex_free(re);
	return r;
}

int
pol_regex_search(const struct jit_policy_regex *re, const char *subject)
{
	pcre2_match_data *md;
	int rc;

	/* Match data per search, so one policy serves many threads. */
	if ((md = pcre2_match_data_create(1, NULL)) == NULL)
		return JIT_ERR_ALLOC;
	rc = pcre2_match(re->code, (PCRE2_SPTR)subject, strlen(subject), 0, 0,
	    md, re->mctx);
	pcre2_match_data_free(md);
	if (rc >= 0)
		return 1;
	switch (rc) {
	case PCRE2_ERROR_NOMATCH:
		return 0;
	case PCRE2_ERROR_MATCHLIMIT:
	case PCRE2_ERROR_DEPTHLIMIT:
	case PCRE2_ERROR_HEAPLIMIT:
		return JIT_ERR_NO_BUFFER_SPACE;
	case PCRE2_ERROR_NOMEMORY:
		return JIT_ERR_ALLOC;
	default:
		/* PCRE2_ERROR_UTF8_ERR1..21: not UTF-8. */
		if (rc <= PCRE2_ERROR_UTF8_ERR1 && rc >= PCRE2_ERROR_UTF8_ERR21)
			return JIT_ERR_INVALID_FORMAT;
		return JIT_ERR_INTERNAL;
	}
}
