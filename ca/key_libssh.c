/* key_libssh.c - see key_libssh.h. */
#include "key_libssh.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libssh/libssh.h>

#include "err.h"

#define MAX_KEY_TEXT (256 * 1024)
#define WRAP 70   /* characters per line of key file text */

#define OPENSSH_BEGIN "-----BEGIN OPENSSH PRIVATE KEY-----"
#define OPENSSH_END "-----END OPENSSH PRIVATE KEY-----"
#define OPENSSH_MAGIC "openssh-key-v1"   /* followed by a NUL byte */
#define OPENSSH_MAGIC_LEN (sizeof(OPENSSH_MAGIC))

static const char why_rsa[] =
    "libssh 0.10 cannot read an encrypted RSA key in OpenSSH format back "
    "out; convert it to PEM, which keeps it encrypted: ssh-keygen -p -m "
    "PEM -f KEY";
static const char why_cipher[] =
    "libssh cannot decrypt its cipher or kdf (it knows aes*-ctr, aes*-cbc "
    "and 3des-cbc with bcrypt); re-encrypt it: ssh-keygen -p -Z "
    "aes256-ctr -f KEY";

/* The ciphers libssh 0.10 decrypts key containers with (tested against
 * files from ssh-keygen -Z; the AEAD ciphers fail). */
static const char *const container_ciphers[] = {
	"aes128-ctr", "aes192-ctr", "aes256-ctr",
	"aes128-cbc", "aes192-cbc", "aes256-cbc",
	"3des-cbc",
};

static int
str_is(const unsigned char *p, size_t len, const char *s)
{
	return len == strlen(s) && memcmp(p, s, len) == 0;
}

static int
is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Base64-decode the body of an OpenSSH armoured key (whitespace between
 * the BEGIN and END lines is dropped).  *bin is a new allocation. */
static int
openssh_unarmor(const unsigned char *data, size_t len, unsigned char **bin,
    size_t *binlen)
{
	struct jit_buf text = JIT_BUF_INIT;
	const unsigned char *p, *end;
	size_t bl = sizeof(OPENSSH_BEGIN) - 1, el = sizeof(OPENSSH_END) - 1;
	int r = JIT_ERR_INTERNAL;

	*bin = NULL;
	*binlen = 0;
	if ((p = memmem(data, len, OPENSSH_BEGIN, bl)) == NULL)
		return JIT_ERR_INVALID_FORMAT;
	p += bl;
	if ((end = memmem(p, len - (size_t)(p - data), OPENSSH_END, el)) ==
	    NULL)
		return JIT_ERR_INVALID_FORMAT;
	for (; p < end; p++) {
		if (is_space(*p))
			continue;
		if ((r = jit_buf_put_u8(&text, *p)) != 0)
			goto out;
	}
	r = jit_b64_decode((const char *)jit_buf_ptr(&text),
	    jit_buf_len(&text), bin, binlen);
out:
	jit_buf_release(&text);
	return r;
}

/* The clear header of an encrypted openssh-key-v1 container (PROTOCOL.key):
 * cipher, kdf and the public key's type decide whether libssh can give it
 * back to us. */
static int
check_openssh(const unsigned char *data, size_t len, const char **why)
{
	struct jit_buf b, pub;
	const unsigned char *cipher, *kdf, *type;
	unsigned char *bin = NULL;
	size_t binlen = 0, clen, klen, tlen, i;
	uint32_t nkeys;
	int r = JIT_ERR_INTERNAL, known = 0;

	if ((r = openssh_unarmor(data, len, &bin, &binlen)) != 0)
		return JIT_ERR_INVALID_FORMAT;
	jit_buf_view(&b, bin, binlen);
	if (binlen < OPENSSH_MAGIC_LEN ||
	    memcmp(bin, OPENSSH_MAGIC, OPENSSH_MAGIC_LEN) != 0 ||
	    jit_buf_skip(&b, OPENSSH_MAGIC_LEN) != 0 ||
	    jit_buf_get_string_direct(&b, &cipher, &clen) != 0 ||
	    jit_buf_get_string_direct(&b, &kdf, &klen) != 0 ||
	    jit_buf_get_string_direct(&b, NULL, NULL) != 0 ||
	    jit_buf_get_u32(&b, &nkeys) != 0 || nkeys != 1 ||
	    jit_buf_get_stringb_view(&b, &pub) != 0 ||
	    jit_buf_get_string_direct(&pub, &type, &tlen) != 0) {
		r = JIT_ERR_INVALID_FORMAT;
		goto out;
	}
	if (str_is(cipher, clen, "none")) {
		r = JIT_ERR_INVALID_FORMAT;   /* not encrypted: key.c's job */
		goto out;
	}
	for (i = 0; i < sizeof(container_ciphers) /
	    sizeof(container_ciphers[0]); i++)
		if (str_is(cipher, clen, container_ciphers[i]))
			known = 1;
	if (!known || !str_is(kdf, klen, "bcrypt")) {
		*why = why_cipher;
		r = JIT_ERR_FORMAT_UNSUPPORTED;
		goto out;
	}
	if (str_is(type, tlen, "ssh-rsa")) {
		*why = why_rsa;
		r = JIT_ERR_FORMAT_UNSUPPORTED;
		goto out;
	}
	r = 0;
out:
	free(bin);   /* the clear header and the still encrypted keys */
	return r;
}

int
jit_key_libssh_check(const unsigned char *data, size_t len,
    const char **why)
{
	const char *dummy;

	if (why == NULL)
		why = &dummy;
	*why = NULL;
	if (data == NULL || len > MAX_KEY_TEXT || memchr(data, '\0', len))
		return JIT_ERR_INVALID_FORMAT;
	if (memmem(data, len, OPENSSH_BEGIN, sizeof(OPENSSH_BEGIN) - 1))
		return check_openssh(data, len, why);
	if (memmem(data, len, "-----BEGIN ENCRYPTED PRIVATE KEY-----", 37) ||
	    (memmem(data, len, "-----BEGIN ", 11) &&
	    memmem(data, len, "Proc-Type: 4,ENCRYPTED", 22)))
		return 0;
	return JIT_ERR_INVALID_FORMAT;
}

/* Parse the unencrypted key text libssh exported and wipe it. */
static int
parse_export(char *plain, struct jit_key **out)
{
	size_t len = strlen(plain);
	int r;

	r = jit_key_parse_private((const unsigned char *)plain, len, out);
	jit_wipe(plain, len);
	ssh_string_free_char(plain);
	return r;
}

int
jit_key_libssh_decrypt(const unsigned char *data, size_t len,
    const char *passphrase, struct jit_key **out)
{
	ssh_key key = NULL;
	char *text = NULL, *plain = NULL;
	int r = JIT_ERR_INTERNAL;

	*out = NULL;
	if ((r = jit_key_libssh_check(data, len, NULL)) != 0)
		return r;
	if (passphrase == NULL)
		return JIT_ERR_INVALID_ARGUMENT;
	/* libssh takes a C string. */
	if ((text = malloc(len + 1)) == NULL)
		return JIT_ERR_ALLOC;
	memcpy(text, data, len);
	text[len] = '\0';
	ssh_set_log_level(SSH_LOG_NOLOG);
	if (ssh_pki_import_privkey_base64(text, passphrase, NULL, NULL,
	    &key) != SSH_OK) {
		r = JIT_ERR_BAD_PASSPHRASE;
		goto out;
	}
	if (ssh_pki_export_privkey_base64(key, NULL, NULL, NULL,
	    &plain) != SSH_OK || plain == NULL) {
		r = JIT_ERR_CRYPTO;
		goto out;
	}
	r = parse_export(plain, out);
out:
	ssh_key_free(key);
	jit_wipe(text, len);
	free(text);
	return r;
}

/* Append key file text, breaking lines longer than 70 characters the way
 * ssh-keygen does (libssh writes the openssh-key-v1 body as one line),
 * and end it with a newline. */
static int
put_wrapped(struct jit_buf *b, const char *text)
{
	const char *p = text, *nl;
	size_t len, chunk;
	int r;

	while (*p != '\0') {
		nl = strchr(p, '\n');
		len = nl != NULL ? (size_t)(nl - p) : strlen(p);
		do {
			chunk = len > WRAP ? WRAP : len;
			if ((r = jit_buf_put(b, p, chunk)) != 0 ||
			    (r = jit_buf_put_u8(b, '\n')) != 0)
				return r;
			p += chunk;
			len -= chunk;
		} while (len > 0);
		if (nl != NULL)
			p++;
	}
	return 0;
}

static int
ssh_type(enum jit_key_type t, enum ssh_keytypes_e *st)
{
	switch (t) {
	case JIT_KEY_ED25519: *st = SSH_KEYTYPE_ED25519; return 0;
	case JIT_KEY_ECDSA_P256: *st = SSH_KEYTYPE_ECDSA_P256; return 0;
	case JIT_KEY_ECDSA_P384: *st = SSH_KEYTYPE_ECDSA_P384; return 0;
	case JIT_KEY_ECDSA_P521: *st = SSH_KEYTYPE_ECDSA_P521; return 0;
	case JIT_KEY_RSA: *st = SSH_KEYTYPE_RSA; return 0;
	default: return JIT_ERR_KEY_TYPE_UNKNOWN;
	}
}

int
jit_key_libssh_generate(enum jit_key_type t, unsigned bits,
    const char *passphrase, struct jit_buf *text, struct jit_key **out)
{
	enum ssh_keytypes_e st = SSH_KEYTYPE_UNKNOWN;
	ssh_key key = NULL;
	char *enc = NULL, *plain = NULL;
	struct jit_key *k = NULL, *back = NULL;
	size_t enclen, before = jit_buf_len(text);
	int r = JIT_ERR_INTERNAL;

	*out = NULL;
	if (passphrase == NULL || *passphrase == '\0')
		return JIT_ERR_INVALID_ARGUMENT;
	if ((r = jit_key_generate_bits(t, &bits)) != 0 ||
	    (r = ssh_type(t, &st)) != 0)
		return r;
	ssh_set_log_level(SSH_LOG_NOLOG);
	if (ssh_pki_generate(st, (int)bits, &key) != SSH_OK ||
	    ssh_pki_export_privkey_base64(key, passphrase, NULL, NULL,
	    &enc) != SSH_OK || enc == NULL ||
	    ssh_pki_export_privkey_base64(key, NULL, NULL, NULL,
	    &plain) != SSH_OK || plain == NULL) {
		r = JIT_ERR_CRYPTO;
		goto out;
	}
	r = parse_export(plain, &k);
	plain = NULL;
	if (r != 0)
		goto out;
	/* Read back what will be written, the way a later start will. */
	enclen = strlen(enc);
	if ((r = jit_key_libssh_decrypt((const unsigned char *)enc, enclen,
	    passphrase, &back)) != 0)
		goto out;
	if (!jit_key_equal_public(k, back)) {
		r = JIT_ERR_INTERNAL;
		goto out;
	}
	if ((r = put_wrapped(text, enc)) != 0) {
		jit_buf_truncate(text, before);
		goto out;
	}
	*out = k;
	k = NULL;
	r = 0;
out:
	if (enc != NULL) {
		jit_wipe(enc, strlen(enc));
		ssh_string_free_char(enc);
	}
	ssh_key_free(key);
	jit_key_free(k);
	jit_key_free(back);
	return r;
}
