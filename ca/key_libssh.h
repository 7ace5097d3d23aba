/*
 * key_libssh.h - passphrase-protected private keys, through libssh.
 *
 * OpenSSL cannot open OpenSSH's own encrypted key container
 * (openssh-key-v1 with bcrypt_pbkdf), which is what `ssh-keygen -N PASS`
 * writes.  libssh can, so encrypted keys take this path: libssh decrypts
 * the file, writes the key out again unencrypted into memory, and key.c's
 * parser builds the struct jit_key from that text.  Signing never goes
 * through libssh.  The other direction, a new key written encrypted, is
 * libssh's writer.  This file is the only one that includes libssh's
 * headers.
 *
 * What libssh 0.10 can read (the files ssh-keygen and OpenSSL make):
 *   - openssh-key-v1 with kdf bcrypt and cipher aes128/192/256-ctr,
 *     aes128/192/256-cbc or 3des-cbc, holding an Ed25519 or ECDSA key;
 *   - encrypted PEM: PKCS#8 ("BEGIN ENCRYPTED PRIVATE KEY") and the
 *     traditional "Proc-Type: 4,ENCRYPTED" RSA and EC keys.
 * What it cannot, refused by jit_key_libssh_check() before any passphrase
 * is asked for (FORMAT_UNSUPPORTED):
 *   - an RSA key in openssh-key-v1: libssh 0.10 keeps only n, e and d of
 *     it and then fails to write it out again.  The same key converted to
 *     PEM (ssh-keygen -p -m PEM -f KEY, which keeps the passphrase) works;
 *   - the aes*-gcm@openssh.com and chacha20-poly1305@openssh.com ciphers
 *     (ssh-keygen -Z), and any kdf but bcrypt.
 * What it writes (jit_key_libssh_generate): Ed25519 as openssh-key-v1
 * with bcrypt_pbkdf (16 rounds) and aes128-cbc; ECDSA and RSA as PKCS#8
 * "BEGIN ENCRYPTED PRIVATE KEY" (PBKDF2 and AES-128-CBC, OpenSSL's
 * defaults).  ssh-keygen -y -f reads both with the passphrase.
 *
 * Secrets: every copy of the decrypted key text this module makes is
 * wiped before it is freed; the passphrase is the caller's to wipe.
 * libssh logging is switched off in the calling thread before each call,
 * so nothing about the key or the passphrase reaches a log.
 *
 * All functions return 0 or a negative JIT_ERR_* code (err.h) and clear
 * their output parameters on entry.  Keys returned through struct jit_key
 * ** are new objects for jit_key_free().
 */
#ifndef JIT_KEY_LIBSSH_H
#define JIT_KEY_LIBSSH_H

#include <stddef.h>

#include "buf.h"
#include "key.h"

/*
 * Whether data, the text of a private key file that key.c refused with
 * KEY_ENCRYPTED, is a kind this module can decrypt; no passphrase needed.
 * data need not be NUL-terminated (at most 256 KiB, no NUL byte inside).
 * Returns 0 if it can; FORMAT_UNSUPPORTED for the kinds listed above,
 * with *why (if non-NULL) pointing at a static sentence saying what to do
 * (it names the file "KEY"); INVALID_FORMAT when data is not an encrypted
 * private key at all (an unencrypted one included).
 */
int jit_key_libssh_check(const unsigned char *data, size_t len,
    const char **why);

/*
 * Decrypt data (as for jit_key_libssh_check) with passphrase, a
 * NUL-terminated string, and return the key.  Errors: those of
 * jit_key_libssh_check(); BAD_PASSPHRASE when libssh cannot decrypt it,
 * which for a file that passed the check means the passphrase is wrong
 * or the encrypted part is damaged (the two cannot be told apart);
 * INVALID_ARGUMENT for a NULL passphrase; then whatever
 * jit_key_parse_private() says about the decrypted key
 * (KEY_TYPE_UNSUPPORTED for DSA, KEY_TOO_SMALL for RSA below 2048 bits,
 * ...).
 */
int jit_key_libssh_decrypt(const unsigned char *data, size_t len,
    const char *passphrase, struct jit_key **out);

/*
 * Generate a new key of type t (bits: RSA only, 0 = JIT_RSA_DEFAULT_BITS,
 * below JIT_RSA_MIN_CA_BITS KEY_TOO_SMALL) with libssh, append its file
 * text encrypted with passphrase (non-empty; INVALID_ARGUMENT otherwise)
 * to text, ending in a newline, and return the key in *out.  Before it
 * returns, the text is decrypted again with the passphrase and must give
 * the same key, so what is written can be read back.  On error text is
 * unchanged.
 */
int jit_key_libssh_generate(enum jit_key_type t, unsigned bits,
    const char *passphrase, struct jit_buf *text, struct jit_key **out);

#endif
