/*
 * support.c - what both backends share (store_int.h): JSON records, name
 * checks, wake-up slots; and the parts of store.h that need no storage:
 * request ids, token hashes, encoding records ahead of a write.
 */
#include "store_int.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "err.h"
#include "util.h"

unsigned
jit_store__slot_of(const char *id)
{
	uint32_t h = 2166136261u;  /* FNV-1a */

	for (; *id != '\0'; id++) {
		h ^= (unsigned char)*id;
		h *= 16777619u;
	}
	return h % NSLOTS;
}

void
jit_store__mark_changed(struct jit_store_txn *t, const char *id)
{
	unsigned slot = jit_store__slot_of(id);

	t->slots[slot / 8] |= (unsigned char)(1u << (slot % 8));
}

const char *
jit_store__get_name(const json_t *o, const char *key, size_t max)
{
	json_t *v = json_object_get(o, key);
	const char *s;
	size_t n;

	if (!json_is_string(v))
		return NULL;
	s = json_string_value(v);
	n = json_string_length(v);
	if (n == 0 || n > max || strlen(s) != n)
		return NULL;
	return s;
}

int
jit_store__check_name(const char *s, size_t max)
{
	size_t n;

	if (s == NULL)
		return JIT_ERR_INVALID_ARGUMENT;
	n = strlen(s);
	return (n == 0 || n > max) ? JIT_ERR_INVALID_ARGUMENT : 0;
}

int
jit_store__parse_json(const void *data, size_t len, size_t flags,
    json_t **out)
{
	json_error_t e;

	*out = json_loadb(data, len, flags, &e);
	return *out == NULL ? JIT_ERR_STORE_CORRUPT : 0;
}

int
jit_store__parse_object(const void *data, size_t len, json_t **out)
{
	int r;

	if ((r = jit_store__parse_json(data, len, 0, out)) != 0)
		return r;
	if (!json_is_object(*out)) {
		json_decref(*out);
		*out = NULL;
		return JIT_ERR_STORE_CORRUPT;
	}
	return 0;
}

/* A value that fits is encoded on the stack, then copied once: json_dumps
 * grows its buffer by doubling from 16 bytes and copies the result again
 * (some ten allocations for a request). */
#define DUMP_STACK 4096

int
jit_store__dump_json(const json_t *j, size_t flags, char **out, size_t *len)
{
	char buf[DUMP_STACK];
	size_t n = json_dumpb(j, buf, sizeof(buf), flags | JSON_COMPACT);

	if (n > 0 && n <= sizeof(buf)) {
		if ((*out = malloc(n + 1)) == NULL)
			return JIT_ERR_ALLOC;
		memcpy(*out, buf, n);
		(*out)[n] = '\0';
		*len = n;
		return 0;
	}
	*out = json_dumps(j, flags | JSON_COMPACT);
	if (*out == NULL)
		return JIT_ERR_ALLOC;
	*len = strlen(*out);
	return 0;
}

int
jit_store__encode_object(const json_t *obj, char **out, size_t *len)
{
	if (out != NULL)
		*out = NULL;
	if (len != NULL)
		*len = 0;
	if (out == NULL || len == NULL || !json_is_object(obj))
		return JIT_ERR_INVALID_ARGUMENT;
	return jit_store__dump_json(obj, 0, out, len);
}

int
jit_store__request_fields(const json_t *req, const char **id,
    const char **state, const char **user)
{
	if (!json_is_object(req))
		return JIT_ERR_INVALID_ARGUMENT;
	*id = jit_store__get_name(req, "id", MAX_ID);
	*state = jit_store__get_name(req, "state", MAX_NAME);
	*user = jit_store__get_name(req, "user", MAX_NAME);
	if (*id == NULL || *state == NULL || *user == NULL)
		return JIT_ERR_INVALID_ARGUMENT;
	return 0;
}

void
jit_store__request_keys(const json_t *req, const char **role,
    uint64_t *not_after)
{
	const char *na = json_string_value(json_object_get(req, "not_after"));

	*role = jit_store__get_name(req, "role", MAX_NAME);
	if (na == NULL || jit_parse_time(na, not_after) != 0)
		*not_after = 0;
}

int
jit_store__need_write(struct jit_store_txn *t)
{
	if (t == NULL || t->s == NULL)
		return JIT_ERR_INVALID_ARGUMENT;
	return t->write ? 0 : JIT_ERR_PERMISSION;
}

int
jit_store__copy_text(const void *p, size_t len, char **out, size_t *outlen)
{
	if (len == SIZE_MAX || (*out = malloc(len + 1)) == NULL)
		return JIT_ERR_ALLOC;
	memcpy(*out, p, len);
	(*out)[len] = '\0';
	if (outlen != NULL)
		*outlen = len;
	return 0;
}

/* ---- store.h functions that need no storage --------------------------- */

/*
 * Randomness and SHA-256 come from libsodium: OpenSSL 3's RAND_bytes and
 * SHA256() look their algorithm up at every call, which cost about 2% of
 * the server's CPU per issued certificate.  SHA-256 is SHA-256: a token
 * hash is the same bytes as before (test-store checks a known vector).
 */

int
jit_store_new_request_id(char out[JIT_REQUEST_ID_LEN])
{
	static const char b32[] = "abcdefghijklmnopqrstuvwxyz234567";
	unsigned char rnd[12];

	out[0] = '\0';
	if (jit_sodium_ready() != 0)
		return JIT_ERR_CRYPTO;
	jit_random(rnd, sizeof(rnd));
	out[0] = 'r';
	out[1] = '-';
	for (int i = 0; i < 12; i++)
		out[2 + i] = b32[rnd[i] & 31];
	out[14] = '\0';
	return 0;
}

void
jit_store_token_hash(const char *token, unsigned char hash[JIT_TOKEN_HASH_LEN])
{
	crypto_hash_sha256(hash, (const unsigned char *)token, strlen(token));
}

int
jit_store_encode_request(const json_t *req, char **out, size_t *len)
{
	return jit_store__encode_object(req, out, len);
}

int
jit_store_encode_cert(const json_t *rec, char **out, size_t *len)
{
	return jit_store__encode_object(rec, out, len);
}
