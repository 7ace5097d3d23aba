/*
 * cadir.h - the CA key files inside a jit-ssh data directory.
 *
 * Layout (the data directory also holds the LMDB environment, which is not
 * this module's business):
 *
 *   DIR/             mode 0700 when created here
 *   DIR/ca_key       CA private key, unencrypted openssh-key-v1, mode 0600
 *                    (ssh-keygen -y / -s can read it)
 *   DIR/ca_key.pub   CA public key line "TYPE BASE64 jit-ssh-ca", 0644,
 *                    the line hosts put in TrustedUserCAKeys
 *
 * A data directory "has a CA" when either file exists.
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

/* "DIR/name" as a new string.  Errors: ALLOC. */
int jit_cadir_path(const char *dir, const char *name, char **out);

/* 1 if DIR holds a CA key or CA public key file, else 0 (also when DIR
 * does not exist). */
int jit_cadir_exists(const char *dir);

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

/* 0 if DIR/ca_key is a regular file that neither its group nor others
 * may read, write or execute (mode & 077 == 0).  PERMISSION when they
 * may (*mode, if non-NULL, receives the permission bits for the
 * message), INVALID_ARGUMENT when it is not a regular file, NOT_FOUND or
 * another errno-derived code when it cannot be examined.  The server
 * calls this before loading the key (OpenSSH refuses such keys too). */
int jit_cadir_check_key_mode(const char *dir, unsigned *mode);

/* Load the CA private key from DIR/ca_key.  Errors: NOT_FOUND when there
 * is no CA, plus those of jit_key_load_private(). */
int jit_cadir_load(const char *dir, struct jit_key **out);

/*
 * The CA public key line "TYPE BASE64 jit-ssh-ca" (no newline) as a new
 * string.  Reads DIR/ca_key.pub, or derives the line from DIR/ca_key if
 * the .pub file is missing.  Errors: NOT_FOUND when there is no CA, plus
 * file and parse errors.
 */
int jit_cadir_public_line(const char *dir, char **line);

#endif
