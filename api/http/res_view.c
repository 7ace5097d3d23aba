/*
 * res_view.c - the request as the web page shows it (GET
 * /v1/requests[/ID]?view=1): the request object plus what the caller may
 * do to it, how far its approval rule is, and the options its
 * certificate gets from the role.
 */
#include "api_int.h"

#include <stdlib.h>

#include "err.h"

/* "allowed_actions": the names of the JIT_LC_CAN_* bits set in ops. */
static json_t *
actions_json(unsigned ops)
{
	static const struct { unsigned bit; const char *name; } names[] = {
		{ JIT_LC_CAN_APPROVE, "approve" },
		{ JIT_LC_CAN_DENY, "deny" },
		{ JIT_LC_CAN_CANCEL, "cancel" },
		{ JIT_LC_CAN_REVOKE, "revoke" },
	};
	json_t *a = json_array();
	size_t i;

	for (i = 0; a != NULL && i < sizeof(names) / sizeof(names[0]); i++)
		if ((ops & names[i].bit) != 0 &&
		    json_array_append_new(a, json_string(names[i].name)) != 0) {
			json_decref(a);
			a = NULL;
		}
	return a;
}

/* "progress": the policy's line about the approval rule ("1 of 2
 * approvals; still needs one from group security"), or null when the
 * role is no longer in the policy. */
static json_t *
progress_json(const struct call *c, const struct jit_request *r)
{
	const char **who = NULL;
	char msg[256];
	size_t i;
	int met;

	if (r->napprovals > 0 &&
	    (who = calloc(r->napprovals, sizeof(*who))) == NULL)
		return NULL;
	for (i = 0; i < r->napprovals; i++)
		who[i] = r->approvals[i].user;
	met = jit_policy_approval_status(c->p, r->role, r->user, who,
	    r->napprovals, msg, sizeof(msg));
	free(who);
	return met < 0 ? json_null() : json_string(msg);
}

/* "terms": what the role adds to the certificate (the principals, start
 * and duration are the request's own members). */
static json_t *
terms_json(const struct call *c, const struct jit_request *r)
{
	const struct jit_policy_role *role = jit_policy_role(c->p, r->role);
	json_t *ext;
	size_t i;

	if (role == NULL)
		return json_null();
	if ((ext = json_array()) == NULL)
		return NULL;
	for (i = 0; i < role->nextensions; i++)
		if (json_array_append_new(ext,
		    json_string(role->extensions[i])) != 0) {
			json_decref(ext);
			return NULL;
		}
	return json_pack("{s:o, s:s?, s:s?, s:s?}", "extensions", ext,
	    "force_command", role->force_command, "source_address",
	    role->source_address, "description", role->description);
}

json_t *
request_view_json(const struct call *c, const struct jit_request *r)
{
	json_t *j = jit_request_to_json(r);

	if (j == NULL ||
	    json_object_set_new(j, "allowed_actions", actions_json(
	    jit_lc_allowed_as(c->p, &c->who, r, c->now))) != 0 ||
	    json_object_set_new(j, "progress", progress_json(c, r)) != 0 ||
	    json_object_set_new(j, "terms", terms_json(c, r)) != 0) {
		json_decref(j);
		return NULL;
	}
	return j;
}
