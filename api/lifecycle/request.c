/* request.c - see request.h. */
#include "request.h"

#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "util.h"

static const char *const state_names[JIT_STATE_COUNT] = {
	"pending", "approved", "denied", "cancelled", "expired", "revoked",
	"ended",
};

const char *
jit_state_name(enum jit_state s)
{
	return (unsigned)s < JIT_STATE_COUNT ? state_names[s] : "unknown";
}

int
jit_state_parse(const char *name, enum jit_state *out)
{
	size_t i;

	for (i = 0; name != NULL && i < JIT_STATE_COUNT; i++)
		if (strcmp(name, state_names[i]) == 0) {
			*out = (enum jit_state)i;
			return 0;
		}
	return JIT_ERR_INVALID_ARGUMENT;
}

int
jit_state_is_final(enum jit_state s)
{
	return s != JIT_STATE_PENDING && s != JIT_STATE_APPROVED;
}

/* ---- memory ----------------------------------------------------------- */

static void
strv_free(char **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void
decisions_free(struct jit_decision *d, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(d[i].user);
		free(d[i].comment);
		strv_free(d[i].groups, d[i].ngroups);
	}
	free(d);
}

static void
missing_free(struct jit_missing *m, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(m[i].from);
	free(m);
}

int
jit_request_set_missing(struct jit_request *r, const struct jit_missing *m,
    size_t n)
{
	struct jit_missing *v = NULL;
	size_t i;

	if (n > 0 && (v = calloc(n, sizeof(*v))) == NULL)
		return JIT_ERR_ALLOC;
	for (i = 0; i < n; i++) {
		v[i].count = m[i].count;
		if ((v[i].from = jit_strdup(m[i].from)) == NULL) {
			missing_free(v, i);
			return JIT_ERR_ALLOC;
		}
	}
	missing_free(r->missing, r->nmissing);
	r->missing = v;
	r->nmissing = n;
	return 0;
}

void
jit_request_free(struct jit_request *r)
{
	size_t i;

	if (r == NULL)
		return;
	free(r->user);
	strv_free(r->user_groups, r->nuser_groups);
	free(r->role);
	for (i = 0; i < r->nprincipals; i++)
		free(r->principals[i]);
	free(r->principals);
	free(r->reason);
	free(r->public_key);
	free(r->key_type);
	free(r->key_fingerprint);
	decisions_free(r->approvals, r->napprovals);
	decisions_free(r->denials, r->ndenials);
	free(r->revoked_by);
	free(r->revoke_comment);
	free(r->end_reason);
	strv_free(r->extensions, r->nextensions);
	free(r->force_command);
	free(r->source_address);
	strv_free(r->require_groups, r->nrequire_groups);
	free(r->role_digest);
	missing_free(r->missing, r->nmissing);
	free(r);
}

/* *dst = a copy of src (NULL stays NULL); 0 or ALLOC. */
static int
dup_opt(char **dst, const char *src)
{
	*dst = NULL;
	if (src == NULL)
		return 0;
	return (*dst = jit_strdup(src)) != NULL ? 0 : JIT_ERR_ALLOC;
}

static int strv_copy(char ***out, size_t *nout, const char *const *p,
    size_t n);

int
jit_request_add_decision_as(struct jit_request *r, int deny,
    const char *user, const char *const *groups, size_t ngroups,
    uint64_t at, const char *comment)
{
	struct jit_decision **v = deny ? &r->denials : &r->approvals, *nv, d;
	size_t *n = deny ? &r->ndenials : &r->napprovals;

	memset(&d, 0, sizeof(d));
	d.at = at;
	if (dup_opt(&d.user, user) != 0 || dup_opt(&d.comment, comment) != 0 ||
	    strv_copy(&d.groups, &d.ngroups, groups, ngroups) != 0 ||
	    (nv = realloc(*v, (*n + 1) * sizeof(**v))) == NULL) {
		free(d.user);
		free(d.comment);
		strv_free(d.groups, d.ngroups);
		return JIT_ERR_ALLOC;
	}
	nv[(*n)++] = d;
	*v = nv;
	return 0;
}

int
jit_request_add_decision(struct jit_request *r, int deny, const char *user,
    uint64_t at, const char *comment)
{
	return jit_request_add_decision_as(r, deny, user, NULL, 0, at,
	    comment);
}

int
jit_request_set_user_groups(struct jit_request *r, const char *const *groups,
    size_t n)
{
	char **v = NULL;
	size_t nv = 0;

	if (strv_copy(&v, &nv, groups, n) != 0)
		return JIT_ERR_ALLOC;
	strv_free(r->user_groups, r->nuser_groups);
	r->user_groups = v;
	r->nuser_groups = nv;
	return 0;
}

int
jit_request_approved_by(const struct jit_request *r, const char *user)
{
	size_t i;

	for (i = 0; i < r->napprovals; i++)
		if (strcmp(r->approvals[i].user, user) == 0)
			return 1;
	return 0;
}

/* *out = a copy of the n strings p, *nout = n (0 leaves *out NULL). */
static int
strv_copy(char ***out, size_t *nout, const char *const *p, size_t n)
{
	size_t i;

	if (n == 0)
		return 0;
	if ((*out = calloc(n, sizeof(**out))) == NULL)
		return JIT_ERR_ALLOC;
	for (i = 0; i < n; i++) {
		if (((*out)[i] = jit_strdup(p[i])) == NULL)
			return JIT_ERR_ALLOC;
		*nout = i + 1;
	}
	return 0;
}

int
jit_request_new(const struct jit_request_terms *t, struct jit_request **out)
{
	struct jit_request *r;
	int rc = JIT_ERR_INTERNAL;

	*out = NULL;
	if (t == NULL || t->user == NULL || t->role == NULL ||
	    t->public_key == NULL || t->key_type == NULL ||
	    t->key_fingerprint == NULL || t->duration == 0)
		return JIT_ERR_INVALID_ARGUMENT;
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return JIT_ERR_ALLOC;
	if ((rc = jit_store_new_request_id(r->id)) != 0)
		goto out;
	rc = JIT_ERR_ALLOC;
	r->state = JIT_STATE_PENDING;
	if (dup_opt(&r->user, t->user) != 0 ||
	    dup_opt(&r->role, t->role->name) != 0 ||
	    strv_copy(&r->principals, &r->nprincipals, t->role->principals,
	    t->role->nprincipals) != 0 ||
	    strv_copy(&r->extensions, &r->nextensions, t->role->extensions,
	    t->role->nextensions) != 0 ||
	    strv_copy(&r->require_groups, &r->nrequire_groups,
	    t->role->require_groups, t->role->nrequire_groups) != 0 ||
	    dup_opt(&r->force_command, t->role->force_command) != 0 ||
	    dup_opt(&r->source_address, t->role->source_address) != 0 ||
	    dup_opt(&r->role_digest, t->role_digest) != 0 ||
	    dup_opt(&r->reason, t->reason != NULL && *t->reason != '\0' ?
	    t->reason : NULL) != 0 ||
	    dup_opt(&r->public_key, t->public_key) != 0 ||
	    dup_opt(&r->key_type, t->key_type) != 0 ||
	    dup_opt(&r->key_fingerprint, t->key_fingerprint) != 0)
		goto out;
	r->terms_recorded = 1;
	r->duration = t->duration;
	r->approvals_needed = jit_policy_approvals_needed(t->role);
	r->created_at = t->now;
	r->start = t->start > t->now ? t->start : 0;
	r->expires_at = t->now + t->role->pending_timeout;
	*out = r;
	r = NULL;
	rc = 0;
out:
	jit_request_free(r);
	return rc;
}

int
jit_request_copy(const struct jit_request *r, struct jit_request **out)
{
	json_t *j = jit_request_to_json(r);
	int rc;

	*out = NULL;
	if (j == NULL)
		return JIT_ERR_ALLOC;
	rc = jit_request_from_json(j, out);
	json_decref(j);
	return rc;
}

/* ---- the stored form -------------------------------------------------- */

/* Member names, written once. */
#define M_ID "id"
#define M_STATE "state"
#define M_USER "user"
#define M_ROLE "role"
#define M_PRINCIPALS "principals"
#define M_REASON "reason"
#define M_DURATION "duration"
#define M_PUBLIC_KEY "public_key"
#define M_KEY_TYPE "key_type"
#define M_KEY_FP "key_fingerprint"
#define M_APPROVALS "approvals"
#define M_DENIALS "denials"
#define M_APPROVALS_NEEDED "approvals_needed"
#define M_SERIAL "serial"
#define M_REVOKED_BY "revoked_by"
#define M_REVOKE_COMMENT "revoke_comment"
#define M_END_REASON "end_reason"
#define M_EXTENSIONS "extensions"
#define M_FORCE_COMMAND "force_command"
#define M_SOURCE_ADDRESS "source_address"
#define M_REQUIRE_GROUPS "require_groups"
#define M_ROLE_DIGEST "role_digest"
#define M_MISSING "missing"
#define M_USER_GROUPS "user_groups"
#define M_GROUPS "groups"

/* The time members, in the order they are written. */
static const struct {
	const char *name;
	size_t off;
} time_members[] = {
	{ "created_at", offsetof(struct jit_request, created_at) },
	{ "start", offsetof(struct jit_request, start) },
	{ "expires_at", offsetof(struct jit_request, expires_at) },
	{ "not_before", offsetof(struct jit_request, not_before) },
	{ "not_after", offsetof(struct jit_request, not_after) },
	{ "decided_at", offsetof(struct jit_request, decided_at) },
	{ "cancelled_at", offsetof(struct jit_request, cancelled_at) },
	{ "expired_at", offsetof(struct jit_request, expired_at) },
	{ "revoked_at", offsetof(struct jit_request, revoked_at) },
	{ "ended_at", offsetof(struct jit_request, ended_at) },
	{ "issued_at", offsetof(struct jit_request, issued_at) },
};
#define NTIMES (sizeof(time_members) / sizeof(time_members[0]))

static uint64_t *
time_at(struct jit_request *r, size_t i)
{
	return (uint64_t *)(void *)((char *)r + time_members[i].off);
}

static uint64_t
time_of(const struct jit_request *r, size_t i)
{
	return *(const uint64_t *)(const void *)((const char *)r +
	    time_members[i].off);
}

static json_t *
time_json(uint64_t t)
{
	char buf[JIT_TIME_LEN];

	jit_format_time(t, buf);
	return json_string_nocheck(buf);     /* ASCII */
}

static json_t *
opt_string(const char *s)
{
	return s != NULL ? json_string(s) : json_null();
}

/* Set key (one of the member names above: ASCII, not checked again) to
 * v (stolen); a NULL v is an allocation failure. */
static int
put(json_t *o, const char *key, json_t *v)
{
	return v != NULL && json_object_set_new_nocheck(o, key, v) == 0 ?
	    0 : -1;
}

static json_t *
strv_json(char *const *v, size_t n)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; a != NULL && i < n; i++)
		if (json_array_append_new(a, json_string(v[i])) != 0) {
			json_decref(a);
			return NULL;
		}
	return a;
}

static json_t *
decisions_json(const struct jit_decision *d, size_t n)
{
	json_t *a = json_array(), *e;
	size_t i;

	for (i = 0; a != NULL && i < n; i++) {
		e = json_pack("{s:s, s:o, s:o}", "user", d[i].user, "at",
		    time_json(d[i].at), "comment", opt_string(d[i].comment));
		/* Groups only when the identity provider gave some. */
		if (e != NULL && d[i].ngroups > 0 && put(e, M_GROUPS,
		    strv_json(d[i].groups, d[i].ngroups)) != 0) {
			json_decref(e);
			e = NULL;
		}
		if (e == NULL || json_array_append_new(a, e) != 0) {
			json_decref(e);
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

/* The recorded grant terms. */
static int
put_terms(json_t *o, const struct jit_request *r)
{
	if (put(o, M_EXTENSIONS, strv_json(r->extensions, r->nextensions))
	    != 0 ||
	    put(o, M_FORCE_COMMAND, opt_string(r->force_command)) != 0 ||
	    put(o, M_SOURCE_ADDRESS, opt_string(r->source_address)) != 0 ||
	    put(o, M_REQUIRE_GROUPS, strv_json(r->require_groups,
	    r->nrequire_groups)) != 0 ||
	    put(o, M_ROLE_DIGEST, opt_string(r->role_digest)) != 0)
		return -1;
	return 0;
}

static json_t *
missing_json(const struct jit_request *r)
{
	json_t *a = json_array(), *e;
	size_t i;

	for (i = 0; a != NULL && i < r->nmissing; i++) {
		e = json_pack("{s:I, s:s}", "count",
		    (json_int_t)r->missing[i].count, "from", r->missing[i].from);
		if (e == NULL || json_array_append_new(a, e) != 0) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

json_t *
jit_request_to_json(const struct jit_request *r)
{
	json_t *o = json_object(), *p = json_array();
	size_t i;

	if (o == NULL || p == NULL)
		goto fail;
	for (i = 0; i < r->nprincipals; i++)
		if (json_array_append_new(p, json_string(r->principals[i])) != 0)
			goto fail;
	if (put(o, M_ID, json_string(r->id)) != 0 ||
	    put(o, M_STATE, json_string_nocheck(jit_state_name(r->state)))
	    != 0 ||
	    put(o, M_USER, json_string(r->user)) != 0 ||
	    put(o, M_ROLE, json_string(r->role)) != 0 ||
	    put(o, M_PRINCIPALS, p) != 0)
		goto fail_o;
	p = NULL;
	if (r->nuser_groups > 0 && put(o, M_USER_GROUPS,
	    strv_json(r->user_groups, r->nuser_groups)) != 0)
		goto fail_o;
	if (put(o, M_REASON, opt_string(r->reason)) != 0 ||
	    put(o, M_DURATION, json_integer((json_int_t)r->duration)) != 0 ||
	    put(o, M_PUBLIC_KEY, json_string(r->public_key)) != 0 ||
	    put(o, M_KEY_TYPE, json_string(r->key_type)) != 0 ||
	    put(o, M_KEY_FP, json_string(r->key_fingerprint)) != 0 ||
	    put(o, M_APPROVALS, decisions_json(r->approvals,
	    r->napprovals)) != 0 ||
	    put(o, M_DENIALS, decisions_json(r->denials, r->ndenials)) != 0 ||
	    put(o, M_APPROVALS_NEEDED,
	    json_integer((json_int_t)r->approvals_needed)) != 0)
		goto fail_o;
	for (i = 0; i < NTIMES; i++)
		if (time_of(r, i) != 0 && put(o, time_members[i].name,
		    time_json(time_of(r, i))) != 0)
			goto fail_o;
	if (r->terms_recorded && put_terms(o, r) != 0)
		goto fail_o;
	if (put(o, M_MISSING, missing_json(r)) != 0)
		goto fail_o;
	if ((r->serial != 0 && put(o, M_SERIAL,
	    json_integer((json_int_t)r->serial)) != 0) ||
	    (r->revoked_by != NULL && put(o, M_REVOKED_BY,
	    json_string(r->revoked_by)) != 0) ||
	    (r->revoke_comment != NULL && put(o, M_REVOKE_COMMENT,
	    json_string(r->revoke_comment)) != 0) ||
	    (jit_request_end_reason(r) != NULL && put(o, M_END_REASON,
	    json_string(jit_request_end_reason(r))) != 0))
		goto fail_o;
	return o;
fail:
	json_decref(p);
fail_o:
	json_decref(o);
	return NULL;
}

/* A string member: required -> present and a string; optional -> absent,
 * null or a string.  0 or STORE_CORRUPT/ALLOC. */
static int
get_str(const json_t *j, const char *key, int required, char **out)
{
	json_t *v = json_object_get(j, key);

	*out = NULL;
	if (v == NULL || json_is_null(v))
		return required ? JIT_ERR_STORE_CORRUPT : 0;
	if (!json_is_string(v))
		return JIT_ERR_STORE_CORRUPT;
	return dup_opt(out, json_string_value(v));
}

static int
get_time(const json_t *j, const char *key, uint64_t *out)
{
	json_t *v = json_object_get(j, key);

	*out = 0;
	if (v == NULL)
		return 0;
	if (!json_is_string(v) || jit_parse_time(json_string_value(v), out)
	    != 0)
		return JIT_ERR_STORE_CORRUPT;
	return 0;
}

static int
get_uint(const json_t *j, const char *key, uint64_t *out)
{
	json_t *v = json_object_get(j, key);

	*out = 0;
	if (v == NULL)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return JIT_ERR_STORE_CORRUPT;
	*out = (uint64_t)json_integer_value(v);
	return 0;
}

static int get_strv(const json_t *j, const char *key, char ***out,
    size_t *n);

static int
get_decisions(const json_t *j, const char *key, struct jit_request *r,
    int deny)
{
	json_t *a = json_object_get(j, key), *e;
	uint64_t at;
	char *user, *comment, **groups;
	size_t i, ngroups;
	int rc;

	if (a == NULL)
		return 0;
	if (!json_is_array(a))
		return JIT_ERR_STORE_CORRUPT;
	json_array_foreach(a, i, e) {
		groups = NULL;
		ngroups = 0;
		comment = NULL;
		if ((rc = get_str(e, "user", 1, &user)) != 0)
			return rc;
		if ((rc = get_str(e, "comment", 0, &comment)) != 0 ||
		    (rc = get_time(e, "at", &at)) != 0 ||
		    (rc = get_strv(e, M_GROUPS, &groups, &ngroups)) != 0 ||
		    (rc = jit_request_add_decision_as(r, deny, user,
		    (const char *const *)groups, ngroups, at, comment)) != 0) {
			free(user);
			free(comment);
			strv_free(groups, ngroups);
			return rc;
		}
		free(user);
		free(comment);
		strv_free(groups, ngroups);
	}
	return 0;
}

/* An optional array of strings. */
static int
get_strv(const json_t *j, const char *key, char ***out, size_t *n)
{
	json_t *a = json_object_get(j, key), *e;
	size_t i;

	if (a == NULL || json_is_null(a))
		return 0;
	if (!json_is_array(a))
		return JIT_ERR_STORE_CORRUPT;
	if (json_array_size(a) == 0)
		return 0;
	if ((*out = calloc(json_array_size(a), sizeof(**out))) == NULL)
		return JIT_ERR_ALLOC;
	json_array_foreach(a, i, e) {
		if (!json_is_string(e))
			return JIT_ERR_STORE_CORRUPT;
		if (((*out)[i] = jit_strdup(json_string_value(e))) == NULL)
			return JIT_ERR_ALLOC;
		*n = i + 1;
	}
	return 0;
}

static int
get_missing(const json_t *j, struct jit_request *r)
{
	json_t *a = json_object_get(j, M_MISSING), *e, *c;
	const char *from;
	size_t i;

	if (a == NULL)
		return 0;
	if (!json_is_array(a))
		return JIT_ERR_STORE_CORRUPT;
	if (json_array_size(a) == 0)
		return 0;
	if ((r->missing = calloc(json_array_size(a), sizeof(*r->missing))) ==
	    NULL)
		return JIT_ERR_ALLOC;
	json_array_foreach(a, i, e) {
		c = json_object_get(e, "count");
		from = json_string_value(json_object_get(e, "from"));
		if (!json_is_integer(c) || json_integer_value(c) < 0 ||
		    json_integer_value(c) > 1000 || from == NULL)
			return JIT_ERR_STORE_CORRUPT;
		if ((r->missing[i].from = jit_strdup(from)) == NULL)
			return JIT_ERR_ALLOC;
		r->missing[i].count = (unsigned)json_integer_value(c);
		r->nmissing = i + 1;
	}
	return 0;
}

int
jit_request_from_json(const json_t *j, struct jit_request **out)
{
	struct jit_request *r;
	json_t *p, *e;
	const char *s;
	uint64_t n;
	size_t i;
	int rc = JIT_ERR_STORE_CORRUPT;

	*out = NULL;
	if (!json_is_object(j))
		return JIT_ERR_STORE_CORRUPT;
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return JIT_ERR_ALLOC;
	s = json_string_value(json_object_get(j, M_ID));
	if (s == NULL || strlen(s) >= sizeof(r->id) ||
	    jit_state_parse(json_string_value(json_object_get(j, M_STATE)),
	    &r->state) != 0)
		goto out;
	memcpy(r->id, s, strlen(s) + 1);
	p = json_object_get(j, M_PRINCIPALS);
	if (p != NULL && !json_is_array(p))
		goto out;
	if (json_array_size(p) > 0) {
		if ((r->principals = calloc(json_array_size(p),
		    sizeof(char *))) == NULL) {
			rc = JIT_ERR_ALLOC;
			goto out;
		}
		json_array_foreach(p, i, e) {
			if (!json_is_string(e))
				goto out;
			if ((r->principals[i] = jit_strdup(
			    json_string_value(e))) == NULL) {
				rc = JIT_ERR_ALLOC;
				goto out;
			}
			r->nprincipals = i + 1;
		}
	}
	if ((rc = get_str(j, M_USER, 1, &r->user)) != 0 ||
	    (rc = get_strv(j, M_USER_GROUPS, &r->user_groups,
	    &r->nuser_groups)) != 0 ||
	    (rc = get_str(j, M_ROLE, 1, &r->role)) != 0 ||
	    (rc = get_str(j, M_REASON, 0, &r->reason)) != 0 ||
	    (rc = get_str(j, M_PUBLIC_KEY, 1, &r->public_key)) != 0 ||
	    (rc = get_str(j, M_KEY_TYPE, 0, &r->key_type)) != 0 ||
	    (rc = get_str(j, M_KEY_FP, 0, &r->key_fingerprint)) != 0 ||
	    (rc = get_str(j, M_REVOKED_BY, 0, &r->revoked_by)) != 0 ||
	    (rc = get_str(j, M_REVOKE_COMMENT, 0, &r->revoke_comment)) != 0 ||
	    (rc = get_str(j, M_END_REASON, 0, &r->end_reason)) != 0 ||
	    (rc = get_uint(j, M_DURATION, &r->duration)) != 0 ||
	    (rc = get_uint(j, M_SERIAL, &r->serial)) != 0 ||
	    (rc = get_uint(j, M_APPROVALS_NEEDED, &n)) != 0 ||
	    (rc = get_decisions(j, M_APPROVALS, r, 0)) != 0 ||
	    (rc = get_decisions(j, M_DENIALS, r, 1)) != 0 ||
	    (rc = get_missing(j, r)) != 0)
		goto out;
	/* The recorded terms; a request stored before they were recorded
	 * has no "extensions" member. */
	if (json_object_get(j, M_EXTENSIONS) != NULL) {
		r->terms_recorded = 1;
		if ((rc = get_strv(j, M_EXTENSIONS, &r->extensions,
		    &r->nextensions)) != 0 ||
		    (rc = get_strv(j, M_REQUIRE_GROUPS, &r->require_groups,
		    &r->nrequire_groups)) != 0 ||
		    (rc = get_str(j, M_FORCE_COMMAND, 0, &r->force_command))
		    != 0 ||
		    (rc = get_str(j, M_SOURCE_ADDRESS, 0, &r->source_address))
		    != 0 ||
		    (rc = get_str(j, M_ROLE_DIGEST, 0, &r->role_digest)) != 0)
			goto out;
	}
	r->approvals_needed = n > 1000 ? 1000 : (unsigned)n;
	for (i = 0; i < NTIMES; i++)
		if ((rc = get_time(j, time_members[i].name, time_at(r, i))) != 0)
			goto out;
	/* What each state cannot do without. */
	rc = JIT_ERR_STORE_CORRUPT;
	if (r->state == JIT_STATE_PENDING && r->expires_at == 0)
		goto out;
	if ((r->state == JIT_STATE_APPROVED || r->state == JIT_STATE_ENDED) &&
	    (r->not_before == 0 || r->not_after <= r->not_before))
		goto out;
	*out = r;
	r = NULL;
	rc = 0;
out:
	jit_request_free(r);
	return rc;
}

int
jit_request_set_end_reason(struct jit_request *r, const char *why)
{
	char *c = jit_strdup(why);

	if (c == NULL)
		return JIT_ERR_ALLOC;
	free(r->end_reason);
	r->end_reason = c;
	return 0;
}

const char *
jit_request_end_reason(const struct jit_request *r)
{
	if (r->end_reason != NULL)
		return r->end_reason;
	switch (r->state) {
	case JIT_STATE_DENIED:
		return JIT_END_DENIED;
	case JIT_STATE_CANCELLED:
		return JIT_END_CANCELLED;
	case JIT_STATE_EXPIRED:
		/* The sweeper expires only pending requests. */
		return r->decided_at != 0 ? JIT_END_POLICY_CHANGED :
		    JIT_END_EXPIRED;
	case JIT_STATE_REVOKED:
		if (r->revoked_by != NULL && strcmp(r->revoked_by,
		    "system") == 0)
			return JIT_END_POLICY_CHANGED;
		return r->revoked_by != NULL && r->user != NULL &&
		    strcmp(r->revoked_by, r->user) == 0 ?
		    JIT_END_RELINQUISHED : JIT_END_REVOKED;
	case JIT_STATE_ENDED:
		return JIT_END_ENDED;
	default:
		return NULL;
	}
}

uint64_t
jit_request_deadline(const struct jit_request *r)
{
	switch (r->state) {
	case JIT_STATE_PENDING:
		return r->expires_at;
	case JIT_STATE_APPROVED:
		return r->not_after;
	default:
		return 0;
	}
}

/* ---- in a store transaction ------------------------------------------ */

int
jit_request_load(struct jit_store_txn *t, const char *id,
    struct jit_request **out)
{
	json_t *j = NULL;
	int rc;

	*out = NULL;
	if ((rc = jit_store_get_request(t, id, &j, NULL)) != 0)
		return rc;
	rc = jit_request_from_json(j, out);
	json_decref(j);
	return rc;
}

int
jit_request_encode(const struct jit_request *r, struct jit_request_enc *e)
{
	int rc;

	memset(e, 0, sizeof(*e));
	if ((e->json = jit_request_to_json(r)) == NULL)
		return JIT_ERR_ALLOC;
	if ((rc = jit_store_encode_request(e->json, &e->js, &e->jl)) != 0)
		jit_request_enc_release(e);
	return rc;
}

void
jit_request_enc_release(struct jit_request_enc *e)
{
	json_decref(e->json);
	free(e->js);
	memset(e, 0, sizeof(*e));
}

/* Store r, new or replacing, encoding it here unless e is given. */
static int
store_request(struct jit_store_txn *t, const struct jit_request *r,
    const struct jit_request_enc *e, int create)
{
	struct jit_request_enc here;
	uint64_t dl = jit_request_deadline(r);
	int rc;

	if (e == NULL) {
		if ((rc = jit_request_encode(r, &here)) != 0)
			return rc;
		e = &here;
	}
	if (create)
		rc = jit_store_create_request_encoded(t, e->json, e->js, e->jl,
		    dl, NULL);
	else
		rc = jit_store_put_request_encoded(t, e->json, e->js, e->jl,
		    dl);
	if (e == &here)
		jit_request_enc_release(&here);
	return rc;
}

int
jit_request_store_new(struct jit_store_txn *t, const struct jit_request *r,
    const struct jit_request_enc *e)
{
	return store_request(t, r, e, 1);
}

int
jit_request_store_put(struct jit_store_txn *t, const struct jit_request *r,
    const struct jit_request_enc *e)
{
	return store_request(t, r, e, 0);
}
