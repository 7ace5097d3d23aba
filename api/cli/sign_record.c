/*
 * sign_record.c - see cmds.h: an offline certificate (jit-ca sign) in the
 * data directory's store and audit log, so nothing is signed outside the
 * record when a store exists.
 */
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "audit.h"
#include "cert.h"
#include "cmds.h"
#include "config.h"
#include "err.h"
#include "store.h"
#include "util.h"

int
cmd_sign_store_open(const struct jit_config *cfg, const char *data,
    struct jit_store **out, char *err, size_t errlen)
{
	char *path = NULL;
	int here;

	*out = NULL;
	if (cfg->store_url == NULL) {
		if (asprintf(&path, "%s/data.mdb", data) < 0)
			return JIT_ERR_ALLOC;
		here = access(path, F_OK) == 0;
		free(path);
		if (!here)
			return 0;
	}
	return jit_config_open_store(cfg, data, 0, out, err, errlen);
}

struct serial_ctx {
	uint64_t given;           /* 0 = reserve one */
	uint64_t serial;
};

static int
serial_fn(struct jit_store_txn *t, void *vctx)
{
	struct serial_ctx *c = vctx;
	json_t *rec = NULL;
	int r;

	if (c->given == 0)
		return jit_store_reserve_serial(t, &c->serial);
	r = jit_store_get_cert(t, c->given, &rec);
	json_decref(rec);
	if (r == 0)
		return JIT_ERR_CONFLICT;
	if (r != JIT_ERR_NOT_FOUND)
		return r;
	c->serial = c->given;
	return 0;
}

int
cmd_sign_serial(struct jit_store *s, uint64_t given, uint64_t *serial)
{
	struct serial_ctx c = { given, 0 };
	int r;

	*serial = 0;
	if ((r = jit_store_read(s, serial_fn, &c)) == 0)
		*serial = c.serial;
	return r;
}

struct record_ctx {
	uint64_t serial;
	json_t *rec;
	json_t *audit;
};

static int
record_fn(struct jit_store_txn *t, void *vctx)
{
	struct record_ctx *c = vctx;
	int r;

	if ((r = jit_store_claim_serial(t, c->serial)) != 0 ||
	    (r = jit_store_put_cert(t, c->serial, c->rec)) != 0)
		return r;
	return jit_audit_append(t, c->audit, NULL, NULL);
}

/* "operator:NAME" for the user running jit-ca. */
static void
operator_name(char *out, size_t len)
{
	struct passwd *pw = getpwuid(getuid());

	snprintf(out, len, "operator:%s", pw != NULL && pw->pw_name != NULL ?
	    pw->pw_name : "unknown");
}

int
cmd_sign_record(struct jit_store *s, const struct jit_cert_spec *spec,
    const char *line, const char *key_fp, const char *ca_fp)
{
	struct record_ctx c;
	char actor[96], va[JIT_TIME_LEN], vb[JIT_TIME_LEN], now[JIT_TIME_LEN];
	json_t *pr = json_array();
	size_t i;
	int r;

	memset(&c, 0, sizeof(c));
	operator_name(actor, sizeof(actor));
	jit_format_time(spec->valid_after, va);
	jit_format_time(spec->valid_before, vb);
	jit_format_time(jit_now(), now);
	for (i = 0; pr != NULL && i < spec->nprincipals; i++)
		if (json_array_append_new(pr, json_string(spec->principals[i]))
		    != 0) {
			json_decref(pr);
			pr = NULL;
		}
	if (pr == NULL)
		return JIT_ERR_ALLOC;
	c.serial = spec->serial;
	c.rec = json_pack("{s:I, s:s?, s:s, s:O, s:s, s:s, s:s, s:s, s:b, "
	    "s:s}", "serial", (json_int_t)spec->serial, "key_id",
	    spec->key_id, "cert", line, "principals", pr, "key_fingerprint",
	    key_fp, "valid_after", va, "valid_before", vb, "ca_fingerprint",
	    ca_fp, "offline", 1, "issued_at", now);
	c.audit = json_pack("{s:s, s:s, s:I, s:s?, s:O, s:s, s:s, s:s, s:s, "
	    "s:b}", "event", "cert.issue", "actor", actor, "serial",
	    (json_int_t)spec->serial, "key_id", spec->key_id, "principals",
	    pr, "valid_after", va, "valid_before", vb, "key_fingerprint",
	    key_fp, "ca_fingerprint", ca_fp, "offline", 1);
	json_decref(pr);
	r = c.rec == NULL || c.audit == NULL ? JIT_ERR_ALLOC :
	    jit_store_write(s, record_fn, &c);
	json_decref(c.rec);
	json_decref(c.audit);
	return r;
}
