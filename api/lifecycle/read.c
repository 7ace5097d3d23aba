/* read.c - see lifecycle.h: who may see which request, the long-poll,
 * and lists. */
#include "lifecycle_int.h"

#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "util.h"

int
lc_can_view(const struct jit_policy *p, const struct jit_actor *a,
    const struct jit_request *req)
{
	struct jit_policy_who w;

	if (strcmp(req->user, a->user) == 0)
		return 1;
	lc_policy_who(a, &w);
	return jit_policy_is_admin_as(p, &w) ||
	    jit_policy_is_auditor_as(p, &w) ||
	    jit_policy_is_approver_as(p, &w, req->role);
}

int
jit_lc_can_view(const struct jit_policy *p, const char *user,
    const struct jit_request *req)
{
	struct jit_actor a;

	memset(&a, 0, sizeof(a));
	a.user = user;
	return lc_can_view(p, &a, req);
}

static int
refuse_view(struct jit_why *why)
{
	return jit_refuse(why, JIT_ERR_FORBIDDEN, "forbidden", "only the "
	    "requester, the role's approvers, admins and auditors may see "
	    "this request");
}

int
jit_lc_get(struct jit_lifecycle *lc, const struct jit_policy *p,
    const struct jit_actor *who, const char *id, struct jit_request **out,
    struct jit_why *why)
{
	int r;

	jit_why_clear(why);
	if ((r = lc_load(lc, id, out, why)) != 0)
		return r;
	if (!lc_can_view(p, who, *out)) {
		jit_request_free(*out);
		*out = NULL;
		return refuse_view(why);
	}
	return 0;
}

/* Did anything a waiting requester cares about change? */
static int
same_progress(const struct jit_request *a, const struct jit_request *b)
{
	return a->state == b->state && a->napprovals == b->napprovals &&
	    a->ndenials == b->ndenials;
}

struct jit_lc_wait {
	struct jit_lifecycle *lc;
	struct jit_request *seen;    /* as read when the wait began */
	uint64_t since;              /* store version before the last read */
	unsigned slot;
};

int
jit_lc_wait_begin(struct jit_lifecycle *lc, const struct jit_policy *p,
    const struct jit_actor *who, const char *id, struct jit_lc_wait **w,
    struct jit_request **out, struct jit_why *why)
{
	struct jit_request *req = NULL;
	uint64_t version;
	int r;

	*w = NULL;
	*out = NULL;
	/* The version is taken BEFORE the read, so a change that lands
	 * between the read and the wait still wakes us (store.h). */
	version = jit_store_version(lc->store);
	if ((r = jit_lc_get(lc, p, who, id, &req, why)) != 0)
		return r;
	if (req->state != JIT_STATE_PENDING) {
		*out = req;
		return 0;
	}
	if ((*w = calloc(1, sizeof(**w))) == NULL) {
		jit_request_free(req);
		return jit_refuse(why, JIT_ERR_ALLOC, NULL, "out of memory");
	}
	(*w)->lc = lc;
	(*w)->seen = req;
	(*w)->since = version;
	(*w)->slot = jit_store_wake_slot(req->id);
	return 0;
}

unsigned
jit_lc_wait_key(const struct jit_lc_wait *w)
{
	return w->slot;
}

int
jit_lc_wait_poll(struct jit_lc_wait *w, int final, struct jit_request **out)
{
	struct jit_request *cur = NULL;
	uint64_t version;
	int r;

	*out = NULL;
	if (!final && jit_store_wait_change(w->lc->store, w->seen->id,
	    w->since, 0) != 1)
		return 0;
	version = jit_store_version(w->lc->store);
	if ((r = lc_load(w->lc, w->seen->id, &cur, NULL)) != 0)
		return final ? r : 0;
	if (!final && same_progress(w->seen, cur)) {
		jit_request_free(cur);
		w->since = version;
		return 0;
	}
	*out = cur;
	return 1;
}

void
jit_lc_wait_free(struct jit_lc_wait *w)
{
	if (w == NULL)
		return;
	jit_request_free(w->seen);
	free(w);
}

int
jit_lc_wait(struct jit_lifecycle *lc, const struct jit_policy *p,
    const struct jit_actor *who, const char *id, uint64_t wait_ms,
    const atomic_int *stop, struct jit_request **out,
    struct jit_why *why)
{
	struct jit_lc_wait *w;
	uint64_t deadline;
	int r;

	if ((r = jit_lc_wait_begin(lc, p, who, id, &w, out, why)) != 0 ||
	    w == NULL)
		return r;
	deadline = jit_monotonic_ms() + wait_ms;
	for (;;) {
		uint64_t nowms = jit_monotonic_ms(), slice;
		int last = nowms >= deadline || (stop != NULL &&
		    atomic_load(stop) != 0);

		if ((r = jit_lc_wait_poll(w, last, out)) == 1)
			break;
		if (r < 0) {
			/* The request was read once: answer it as it was. */
			*out = w->seen;
			w->seen = NULL;
			break;
		}
		/* Wake at least once a second to notice a stop. */
		slice = deadline - nowms;
		if (slice > 1000)
			slice = 1000;
		(void)jit_store_wait_change(lc->store, id, w->since,
		    (int)slice);
	}
	jit_lc_wait_free(w);
	return 0;
}

/* ---- lists -------------------------------------------------------------- */

/*
 * A list is read from one or more index walks (sources), each newest
 * first from the cursor, each stopping after limit + 1 matches: the
 * newest limit + 1 of their union are among those, and the extra one
 * says whether another page follows.  Every source is an index whose
 * entries are what the caller may see (their own requests, those of a
 * role they approve, or anything for admins), so a walk reads what it
 * returns, not the whole state's history.
 */

struct listed {
	uint64_t seq;
	struct jit_request *req;
};

struct list_ctx {
	const struct jit_policy *p;
	const char *user;
	const struct jit_actor *who;
	struct jit_policy_who pwho;  /* who, as the policy's rules see it */
	const struct jit_lc_filter *f;
	int all;                     /* admin or auditor */
	size_t taken;                /* matches of the current source */
	struct listed *items;
	size_t n, cap;
};

static int
list_add(json_t *j, uint64_t seq, void *vctx)
{
	struct list_ctx *l = vctx;
	const struct jit_lc_filter *f = l->f;
	struct jit_request *r;
	void *nv;

	if (jit_request_from_json(j, &r) != 0)
		return 0;         /* unreadable records are not listed */
	if ((f->has_state && r->state != f->state) ||
	    (f->role != NULL && strcmp(r->role, f->role) != 0) ||
	    (f->mine && strcmp(r->user, l->user) != 0) ||
	    (!l->all && !lc_can_view(l->p, l->who, r))) {
		jit_request_free(r);
		return 0;
	}
	if (l->n == l->cap) {
		size_t cap = l->cap != 0 ? l->cap * 2 : 16;
		if ((nv = realloc(l->items, cap * sizeof(*l->items))) == NULL) {
			jit_request_free(r);
			return JIT_ERR_ALLOC;
		}
		l->items = nv;
		l->cap = cap;
	}
	l->items[l->n].seq = seq;
	l->items[l->n++].req = r;
	return ++l->taken > f->limit ? 1 : 0;
}

enum source { SRC_ALL, SRC_STATE, SRC_USER, SRC_USER_STATE,
    SRC_ROLE_STATE };

/* One walk, newest first from the cursor; name is the user or role. */
static int
walk(struct jit_store_txn *t, struct list_ctx *l, enum source src,
    const char *name, const char *state)
{
	struct jit_store_list opt = { l->f->before, 0, 1 };

	l->taken = 0;
	switch (src) {
	case SRC_ALL:
		return jit_store_list_all(t, &opt, list_add, l);
	case SRC_STATE:
		return jit_store_list_by_state(t, state, &opt, list_add, l);
	case SRC_USER:
		return jit_store_list_by_user(t, name, &opt, list_add, l);
	case SRC_USER_STATE:
		return jit_store_list_by_user_state(t, name, state, &opt,
		    list_add, l);
	case SRC_ROLE_STATE:
		return jit_store_list_by_role_state(t, name, state, &opt,
		    list_add, l);
	}
	return JIT_ERR_INTERNAL;
}

/* A role's requests in state, or in every state. */
static int
walk_role(struct jit_store_txn *t, struct list_ctx *l, const char *role,
    const char *state)
{
	int i, r;

	if (state != NULL)
		return walk(t, l, SRC_ROLE_STATE, role, state);
	for (i = 0; i < JIT_STATE_COUNT; i++)
		if ((r = walk(t, l, SRC_ROLE_STATE, role,
		    jit_state_name((enum jit_state)i))) != 0)
			return r;
	return 0;
}

static int
list_fn(struct jit_store_txn *t, void *vctx)
{
	struct list_ctx *l = vctx;
	const struct jit_lc_filter *f = l->f;
	const char *st = f->has_state ? jit_state_name(f->state) : NULL;
	const struct jit_policy_role *role;
	size_t i;
	int r;

	if (f->mine)
		return st != NULL ? walk(t, l, SRC_USER_STATE, l->user, st) :
		    walk(t, l, SRC_USER, l->user, NULL);
	if (l->all) {
		if (f->role != NULL)
			return walk_role(t, l, f->role, st);
		return st != NULL ? walk(t, l, SRC_STATE, NULL, st) :
		    walk(t, l, SRC_ALL, NULL, NULL);
	}
	/* Their own requests, and those of the roles they approve: with
	 * no state asked for, the pending ones they may decide on. */
	if ((r = st != NULL ? walk(t, l, SRC_USER_STATE, l->user, st) :
	    walk(t, l, SRC_USER, l->user, NULL)) != 0)
		return r;
	for (i = 0; i < jit_policy_role_count(l->p); i++) {
		role = jit_policy_role_at(l->p, i);
		if ((f->role != NULL && strcmp(role->name, f->role) != 0) ||
		    !jit_policy_is_approver_as(l->p, &l->pwho, role->name))
			continue;
		if ((r = walk(t, l, SRC_ROLE_STATE, role->name, st != NULL ?
		    st : jit_state_name(JIT_STATE_PENDING))) != 0)
			return r;
	}
	return 0;
}

static int
cmp_seq_desc(const void *a, const void *b)
{
	uint64_t x = ((const struct listed *)a)->seq;
	uint64_t y = ((const struct listed *)b)->seq;

	return x < y ? 1 : x > y ? -1 : 0;
}

int
jit_lc_list(struct jit_lifecycle *lc, const struct jit_policy *p,
    const struct jit_actor *who, const struct jit_lc_filter *f,
    struct jit_request ***items, size_t *n, uint64_t *next,
    struct jit_why *why)
{
	struct list_ctx l;
	size_t i, kept = 0;
	int r;

	jit_why_clear(why);
	*items = NULL;
	*n = 0;
	*next = 0;
	memset(&l, 0, sizeof(l));
	l.p = p;
	l.user = who->user;
	l.who = who;
	l.f = f;
	lc_policy_who(who, &l.pwho);
	l.all = jit_policy_is_admin_as(p, &l.pwho) ||
	    jit_policy_is_auditor_as(p, &l.pwho);
	if (f->limit == 0 || f->limit > JIT_LC_LIST_MAX)
		return jit_refuse(why, JIT_ERR_INVALID_ARGUMENT, "bad_query",
		    "limit must be 1..%d", JIT_LC_LIST_MAX);
	r = jit_store_read(lc->store, list_fn, &l);
	if (r == 0 && l.n > 0 &&
	    (*items = calloc(l.n, sizeof(**items))) == NULL)
		r = JIT_ERR_ALLOC;
	if (r != 0) {
		for (i = 0; i < l.n; i++)
			jit_request_free(l.items[i].req);
		free(l.items);
		return jit_refuse(why, r, NULL, "could not list requests");
	}
	if (l.n > 1)
		qsort(l.items, l.n, sizeof(*l.items), cmp_seq_desc);
	/* Sources overlap (an approver's own request of a role they
	 * approve): keep the first of equal seqs, and at most limit. */
	for (i = 0; i < l.n; i++) {
		if ((kept > 0 && l.items[i].seq == l.items[i - 1].seq) ||
		    kept == f->limit) {
			if (kept == f->limit && *next == 0 &&
			    l.items[i].seq != l.items[i - 1].seq)
				*next = l.items[i - 1].seq;
			jit_request_free(l.items[i].req);
			continue;
		}
		(*items)[kept++] = l.items[i].req;
	}
	*n = kept;
	free(l.items);
	return 0;
}

void
jit_lc_list_free(struct jit_request **items, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		jit_request_free(items[i]);
	free(items);
}
