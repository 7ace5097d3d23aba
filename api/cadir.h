/*
 * cadir.h - the CA key files inside a jit-ssh data directory.
 *
 * Layout (the data directory also holds the LMDB environment, which is not
 * this module's business):
 *
 *   DIR/             mode 0700 when created here
 *   DIR/ca_key       CA private key, mode 0600: unencrypted openssh-key-v1
 *                    as jit-ca init writes it, or encrypted (init
 *                    --encrypt, or an operator's ssh-keygen -N key; see
 *                    key_libssh.h for the kinds); ssh-keygen -y / -s can
 *                    read it
 *   DIR/ca_key.pub   CA public key line "TYPE BASE64 jit-ssh-ca", 0644,
 *                    the line hosts put in TrustedUserCAKeys
 *   DIR/host_ca_key  the host CA's private key, which signs host
 *                    certificates (api/hosts/hosts.h): a separate key,
 *                    so user and host certificates can be trusted and
 *                    rotated apart; 0600, plain or encrypted as ca_key
 *   DIR/host_ca_key.pub  "TYPE BASE64 jit-ssh-host-ca", 0644, the key of
 *                    the @cert-authority line clients put in known_hosts
 *
 * A data directory "has a CA" when either ca_key file exists, and "has a
 * host CA" when either host_ca_key file exists.  The functions without
 * "host" in their name are about the user CA.
 *
 * All functions return 0 or a negative JIT_ERR_* code (err.h) and never
 * print.  Output parameters are cleared on entry; returned strings and
 * keys are new allocations the caller frees (free(), jit_key_free()).
 */
#ifndef JIT_CADIR_H
#define JIT_CADIR_H

#include "key.h"

#define JIT_CADIR_KEY "ca_key"
#define JIT_CADIR_PUB "ca_key.pub"
#define JIT_CADIR_COMMENT "jit-ssh-ca"
#define JIT_CADIR_HOST_KEY "host_ca_key"
#define JIT_CADIR_HOST_PUB "host_ca_key.pub"
#define JIT_CADIR_HOST_COMMENT "jit-ssh-host-ca"

/* "DIR/name" as a new string.  Errors: ALLOC. */
int jit_cadir_path(const char *dir, const char *name, char **out);

/* 1 if DIR holds a CA key or CA public key file, else 0 (also when DIR
 * does not exist).  jit_cadir_host_exists: the same for the host CA. */
int jit_cadir_exists(const char *dir);
int jit_cadir_host_exists(const char *dir);

/*
 * Create a new CA of type t (bits: RSA only, 0 = default) in dir,
 * creating dir itself (mode 0700, parent must exist) if it does not exist.
 * On success *out (if non-NULL) receives the new private key.
 *
 * Errors: FILE_EXISTS when dir already has a CA (nothing is changed);
 * INVALID_ARGUMENT when dir exists but is not a directory; whatever
 * mkdir, key generation or the file writes return (NOT_FOUND when the
 * parent is missing, PERMISSION, ...).  On any error nothing is left
 * behind: the key files are removed and dir is removed if this call
 * created it.  For SYSTEM errors errno still holds the cause.
 */
int jit_cadir_create(const char *dir, enum jit_key_type t, unsigned bits,
    struct jit_key **out);
/* The same, but DIR/ca_key is written encrypted with passphrase
 * (non-empty), by jit_key_libssh_generate(), which also makes the key. */
int jit_cadir_create_encrypted(const char *dir, enum jit_key_type t,
    unsigned bits, const char *passphrase, struct jit_key **out);
/* The host CA (DIR/host_ca_key, DIR/host_ca_key.pub), as
 * jit_cadir_create(), encrypted when passphrase is not NULL (then it must
 * not be empty).  FILE_EXISTS when DIR already has a host CA; a user CA
 * in DIR is left alone either way. */
int jit_cadir_create_host(const char *dir, enum jit_key_type t,
    unsigned bits, const char *passphrase, struct jit_key **out);
/* Both CAs at once (what jit-ca init and a first server start make), of
 * the same type, both encrypted with passphrase when it is not NULL.
 * FILE_EXISTS when DIR has either; on any error neither is left behind
 * (nor DIR when this call created it).  *user and *host receive the new
 * private keys. */
int jit_cadir_create_with_host(const char *dir, enum jit_key_type t,
    unsigned bits, const char *passphrase, struct jit_key **user,
    struct jit_key **host);

/* 0 if DIR/ca_key is a regular file that neither its group nor others
 * may read, write or execute (mode & 077 == 0).  PERMISSION when they
 * may (*mode, if non-NULL, receives the permission bits for the
 * message), INVALID_ARGUMENT when it is not a regular file, NOT_FOUND or
 * another errno-derived code when it cannot be examined.  The server
 * calls this before loading the key (OpenSSH refuses such keys too).
 * The _host_ variant checks DIR/host_ca_key. */
int jit_cadir_check_key_mode(const char *dir, unsigned *mode);
int jit_cadir_check_host_key_mode(const char *dir, unsigned *mode);

/*
 * Where the passphrase of an encrypted key comes from.  The sources are
 * tried in this order and the first one present is used (a wrong
 * passphrase from it does not lead on to the next):
 *   1. file, when non-NULL (jit-ca's --passphrase-file FILE);
 *   2. the systemd credential $CREDENTIALS_DIRECTORY/jit-ca-passphrase
 *      (LoadCredential=, LoadCredentialEncrypted=), when that variable is
 *      set and the file exists;
 *   3. prompt, when non-NULL: ask a person (jit-ca passes a no-echo
 *      terminal prompt when its stdin is a terminal).
 * From a file the passphrase is the first line without its end ("\n" or
 * "\r\n"); a regular file that group or others may access is refused,
 * like the CA key itself.  prompt shows question, reads one line into
 * buf[len] (NUL-terminated, without the line end) and returns 0, or a
 * negative JIT_ERR_* (NO_BUFFER_SPACE: longer than len - 1; IO: nothing
 * could be read).  A struct with every field NULL still has source 2.
 */
struct jit_cadir_pass {
	const char *file;
	int (*prompt)(void *ctx, const char *question, char *buf,
	    size_t len);
	void *prompt_ctx;
};

#define JIT_CADIR_CREDENTIAL "jit-ca-passphrase"
#define JIT_PASSPHRASE_MAX 1024   /* bytes, without the NUL */

/*
 * Get a passphrase into buf[len] (len > JIT_PASSPHRASE_MAX) from the
 * first source of src that is present.  what names the key in messages
 * and the prompt ("the new CA key /var/lib/jit-ssh/ca_key").  With
 * confirm set a prompt asks twice and both answers must agree (for a new
 * key).  Returns 0; NOT_FOUND when no source is present; INVALID_ARGUMENT
 * for a file that does not exist, an empty passphrase or two answers that
 * differ; NO_BUFFER_SPACE for one longer than JIT_PASSPHRASE_MAX; the
 * file's or the prompt's error otherwise.  err receives a sentence for
 * every error.  buf holds a secret: the caller wipes it (jit_wipe) after
 * use; on error it is wiped here.
 */
int jit_cadir_pass_get(const struct jit_cadir_pass *src, const char *what,
    int confirm, char *buf, size_t len, char *err, size_t errlen);

/*
 * Load a private key file that may be encrypted.  An unencrypted key
 * loads exactly as with jit_key_load_private() and no passphrase source
 * is touched.  An encrypted one is checked with jit_key_libssh_check()
 * first (nobody is asked for the passphrase of a key that cannot be
 * used), then decrypted with the passphrase from pass (NULL: no sources
 * at all, not even the credential), which is wiped right after.  label
 * names the file in messages and the prompt ("the CA key").
 *
 * Errors: those of jit_key_load_private() and jit_key_libssh_decrypt();
 * KEY_ENCRYPTED when the key is encrypted and no source is present;
 * FORMAT_UNSUPPORTED; BAD_PASSPHRASE; the errors of jit_cadir_pass_get().
 * err receives one sentence for each error that concerns the encryption
 * or the passphrase, e.g. "the CA key DIR/ca_key is encrypted and the
 * passphrase is wrong", and is left empty for the others, whose code
 * says enough.
 */
int jit_cadir_load_private(const char *path, const char *label,
    const struct jit_cadir_pass *pass, struct jit_key **out, char *err,
    size_t errlen);

/* Load the CA private key from DIR/ca_key (label "the CA key").  Errors:
 * NOT_FOUND when there is no CA, plus those of jit_cadir_load_private().
 * jit_cadir_load() is jit_cadir_load_pass() without passphrase sources:
 * an encrypted key gives KEY_ENCRYPTED. */
int jit_cadir_load_pass(const char *dir, const struct jit_cadir_pass *pass,
    struct jit_key **out, char *err, size_t errlen);
int jit_cadir_load(const char *dir, struct jit_key **out);
/* The host CA's private key from DIR/host_ca_key (label "the host CA
 * key"), as jit_cadir_load_pass(). */
int jit_cadir_load_host_pass(const char *dir,
    const struct jit_cadir_pass *pass, struct jit_key **out, char *err,
    size_t errlen);

/*
 * The CA public key line "TYPE BASE64 jit-ssh-ca" (no newline) as a new
 * string.  Reads DIR/ca_key.pub, or derives the line from DIR/ca_key if
 * the .pub file is missing.  Errors: NOT_FOUND when there is no CA, plus
 * file and parse errors.
 */
int jit_cadir_public_line(const char *dir, char **line);
/* The same; deriving the line from an encrypted DIR/ca_key takes its
 * passphrase from pass, and err is filled as by jit_cadir_load_pass(). */
int jit_cadir_public_line_pass(const char *dir,
    const struct jit_cadir_pass *pass, char **line, char *err,
    size_t errlen);
/* The host CA's line "TYPE BASE64 jit-ssh-host-ca", from
 * DIR/host_ca_key.pub or derived from DIR/host_ca_key. */
int jit_cadir_host_public_line_pass(const char *dir,
    const struct jit_cadir_pass *pass, char **line, char *err,
    size_t errlen);

#endif
