/*
 * err.h - the project's one error table.
 *
 * Every fallible function in jit-ssh returns 0 on success or one of the
 * negative JIT_ERR_* codes below.  The table is an X-macro so a code, its
 * symbolic name and its message cannot drift apart.  Codes are stable:
 * append new ones at the end of their group, never renumber.
 *
 * Translation happens at the edges: the store maps LMDB codes, the key code
 * maps OpenSSL errors, and only api/ maps codes to HTTP statuses.
 */
#ifndef JIT_ERR_H
#define JIT_ERR_H

#define JIT_ERRORS(X)                                                        \
	X(OK,                    0, "success")                               \
	X(INTERNAL,             -1, "internal error")                        \
	X(ALLOC,                -2, "out of memory")                         \
	X(INVALID_ARGUMENT,     -3, "invalid argument")                      \
	X(SYSTEM,               -4, "system call failed (see errno)")        \
	X(CRYPTO,               -5, "cryptographic library error")           \
	X(MESSAGE_INCOMPLETE,   -6, "truncated data")                        \
	X(NO_BUFFER_SPACE,      -7, "buffer size limit exceeded")            \
	X(INVALID_FORMAT,       -8, "invalid format")                        \
	X(STRING_TOO_LARGE,     -9, "string too large")                      \
	X(NUL_IN_STRING,       -10, "string contains a NUL byte")            \
	X(BAD_MPINT,           -11, "invalid or non-minimal integer")        \
	X(TRAILING_DATA,       -12, "unexpected trailing data")              \
	X(FORMAT_UNSUPPORTED,  -13, "format or encryption not supported")    \
	X(KEY_TYPE_UNKNOWN,    -20, "unknown key type")                      \
	X(KEY_TYPE_UNSUPPORTED,-21, "key type not supported (DSA and ssh-rsa SHA-1 are refused)") \
	X(KEY_TOO_SMALL,       -22, "key too small")                         \
	X(KEY_IS_CERT,         -23, "a certificate was given where a plain public key is needed") \
	X(KEY_ENCRYPTED,       -24, "private key is passphrase-protected; decrypt it first (ssh-keygen -p -N '' -f KEY)") \
	X(KEY_MISMATCH,        -25, "public and private key do not match")   \
	X(KEY_NO_PRIVATE,      -26, "key has no private part")               \
	X(BAD_PUBLIC_KEY,      -27, "invalid public key")                    \
	X(BAD_PRIVATE_KEY,     -28, "invalid private key")                   \
	X(BAD_PASSPHRASE,      -29, "wrong passphrase (or the encrypted key is damaged)") \
	X(SIGNATURE_INVALID,   -30, "incorrect signature")                   \
	X(SIGNATURE_ALG,       -31, "signature algorithm not allowed")       \
	X(CERT_INVALID,        -40, "invalid certificate")                   \
	X(CERT_WRONG_CA,       -41, "certificate is not signed by the expected CA") \
	X(CERT_WRONG_KEY,      -42, "certificate is for a different key")   \
	X(CERT_NOT_YET_VALID,  -43, "certificate is not yet valid")          \
	X(CERT_EXPIRED,        -44, "certificate has expired")               \
	X(CERT_PRINCIPALS,     -45, "certificate principals differ from the grant") \
	X(CERT_TYPE,           -46, "certificate is not a user certificate") \
	X(CERT_OPTION,         -47, "invalid or duplicate certificate option") \
	X(FILE_EXISTS,         -50, "file already exists")                   \
	X(NOT_FOUND,           -51, "not found")                             \
	X(PERMISSION,          -52, "permission denied")                     \
	X(IO,                  -53, "input/output error")                    \
	X(BAD_DURATION,        -54, "invalid duration (use e.g. 90s, 30m, 1h, 2d)") \
	X(POLICY,              -60, "invalid policy")                        \
	X(POLICY_ROLE,         -61, "no such role in the policy")            \
	X(POLICY_DURATION,     -62, "duration not allowed for the role")     \
	X(POLICY_REASON,       -63, "reason missing or not in the form the role requires") \
	X(POLICY_KEY_TYPE,     -64, "key type not allowed for the role")     \
	X(STORE,               -70, "storage error")                         \
	X(STORE_FULL,          -71, "storage is full")                       \
	X(STORE_LOCKED,        -72, "data directory is locked by another process") \
	X(STORE_CORRUPT,       -73, "stored data is corrupt")                \
	X(CONFLICT,            -74, "operation not allowed in the current state") \
	X(STORE_RETRY,         -75, "the write was not committed; try again") \
	X(AUTH,                -80, "authentication required or token invalid") \
	X(FORBIDDEN,           -81, "not allowed by policy")                 \
	X(HTTP,                -90, "HTTP error")                            \
	X(AGENT,               -91, "ssh-agent error")                       \
	X(AUDIT_CHAIN,         -100, "audit chain is broken")

enum jit_err {
#define JIT_ERR_ENUM_(name, code, msg) JIT_ERR_##name = (code),
	JIT_ERRORS(JIT_ERR_ENUM_)
#undef JIT_ERR_ENUM_
};

/* Human-readable message for a code; never NULL, never needs freeing. */
const char *jit_err(int code);

/* Symbolic name ("KEY_TOO_SMALL") for a code; never NULL. */
const char *jit_err_name(int code);

#endif
