/* fuzz-policy.c - the policy loader on arbitrary bytes; when a policy
 * loads, exercise every query so the evaluator runs on odd policies. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct jit_policy *p = NULL;
	struct jit_policy_error e;
	char line[1024], msg[256];
	size_t nu, nr;

	if (jit_policy_load_mem("fuzz.yaml", (const char *)data, size, &p,
	    &e) != 0) {
		jit_policy_error_format(&e, line, sizeof(line));
		return 0;
	}
	nu = jit_policy_user_count(p);
	nr = jit_policy_role_count(p);
	for (size_t i = 0; i < nr; i++) {
		const struct jit_policy_role *r = jit_policy_role_at(p, i);
		const char *users[4];
		size_t n = 0;
		uint64_t eff;

		for (size_t j = 0; j < nu && n < 4; j++)
			users[n++] = jit_policy_user_at(p, j);
		for (size_t j = 0; j < n; j++) {
			jit_policy_can_request(p, users[j], r->name, msg,
			    sizeof(msg));
			jit_policy_can_approve(p, users[j], users[0], r->name,
			    msg, sizeof(msg));
			jit_policy_is_admin(p, users[j]);
			jit_policy_is_auditor(p, users[j]);
		}
		jit_policy_approval_status(p, r->name, n ? users[0] : "x",
		    users, n, msg, sizeof(msg));
		jit_policy_check_request(p, r->name, 0, "INC-1 x",
		    JIT_KEY_ED25519, &eff, msg, sizeof(msg));
		jit_policy_check_request(p, r->name, r->max_duration + 1,
		    NULL, JIT_KEY_RSA, &eff, msg, sizeof(msg));
		if (jit_policy_role(p, r->name) != r)
			__builtin_trap();
	}
	jit_policy_free(p);
	return 0;
}
