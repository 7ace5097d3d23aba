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
refuse_view(struct jit_lc_why *why)
{
	return lc_refuse(why, JIT_ERR_FORBIDDEN, "forbidden", "only the "
	    "requester, the role's approvers, admins and auditors may see "
	    "this request");
}

int
jit_lc_get(struct jit_lifecycle *lc, const struct jit_policy *p,
    const struct jit_actor *who, const char *id, struct jit_request **out,
    struct jit_lc_why *why)
{
	int r;

	lc_why_clear(why);
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
    struct jit_request **out, struct jit_lc_why *why)
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
		return lc_refuse(why, JIT_ERR_ALLOC, NULL, "out of memory");
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
    struct jit_lc_why *why)
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

struct listed {
	uint64_t seq;
	struct jit_request *req;
};

struct list_ctx {
	const struct jit_policy *p;
	const char *user;
	const struct jit_actor *who;
	const struct jit_lc_filter *f;
	int all;                     /* admin or auditor */
	int dedupe;                  /* skip ids listed already */
	struct listed *items;
	size_t n, cap;
};

static int
already_listed(const struct list_ctx *l, const char *id)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (strcmp(l->items[i].req->id, id) == 0)
			return 1;
	return 0;
}

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
	    (!l->all && !lc_can_view(l->p, l->who, r)) ||
	    (l->dedupe && already_listed(l, r->id))) {
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
	return l->n >= f->limit ? 1 : 0;
}

static int
list_fn(struct jit_store_txn *t, void *vctx)
{
	struct list_ctx *l = vctx;
	struct jit_store_list opt = { 0, 0, 1 };
	int r;

	if (l->f->mine)
		return jit_store_list_by_user(t, l->user, &opt, list_add, l);
	if (l->f->has_state)
		return jit_store_list_by_state(t, jit_state_name(l->f->state),
		    &opt, list_add, l);
	if (l->all)
		return jit_store_list_all(t, &opt, list_add, l);
	/* Own requests, then the pending ones this user may decide on. */
	if ((r = jit_store_list_by_user(t, l->user, &opt, list_add, l)) != 0)
		return r;
	if (l->n >= l->f->limit)
		return 0;
	l->dedupe = 1;
	return jit_store_list_by_state(t, jit_state_name(JIT_STATE_PENDING),
	    &opt, list_add, l);
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
    struct jit_request ***items, size_t *n, struct jit_lc_why *why)
{
	struct list_ctx l;
	struct jit_policy_who w;
	size_t i;
	int r;

	lc_why_clear(why);
	*items = NULL;
	*n = 0;
	memset(&l, 0, sizeof(l));
	l.p = p;
	l.user = who->user;
	l.who = who;
	l.f = f;
	lc_policy_who(who, &w);
	l.all = jit_policy_is_admin_as(p, &w) ||
	    jit_policy_is_auditor_as(p, &w);
	if (f->limit == 0)
		return lc_refuse(why, JIT_ERR_INVALID_ARGUMENT, "bad_query",
		    "limit must be at least 1");
	r = jit_store_read(lc->store, list_fn, &l);
	if (r == 0 && l.n > 0 &&
	    (*items = calloc(l.n, sizeof(**items))) == NULL)
		r = JIT_ERR_ALLOC;
	if (r != 0) {
		for (i = 0; i < l.n; i++)
			jit_request_free(l.items[i].req);
		free(l.items);
		return lc_refuse(why, r, NULL, "could not list requests");
	}
	if (l.n > 1)
		qsort(l.items, l.n, sizeof(*l.items), cmp_seq_desc);
	for (i = 0; i < l.n; i++)
		(*items)[i] = l.items[i].req;
	*n = l.n;
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
