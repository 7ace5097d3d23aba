/*
 * terms.h - checks of what a certificate may carry, written once for the
 * policy loader (a role's source_address and extensions) and for
 * `jit-ca sign` (--source-address, --extension), so that both accept
 * exactly the same entries and explain a refusal in the same words.
 *
 * Both functions return 0 if the entry is acceptable, otherwise -1 with
 * a one-line reason in why (NUL-terminated, truncated to whylen; why may
 * be NULL).  Reasons quote the entry with anything unprintable replaced,
 * so they are safe to print.
 */
#ifndef JIT_TERMS_H
#define JIT_TERMS_H

#include <stddef.h>

/*
 * One entry of the source-address critical option, len bytes at s (need
 * not be NUL-terminated): an IPv4 or IPv6 address, optionally followed
 * by "/" and a prefix length of 1 to 3 digits no larger than the
 * address's bits, with no host bits set after the prefix (sshd refuses
 * a certificate with such an entry, which would lock everyone out).
 */
int jit_check_source_entry(const char *s, size_t len, char *why,
    size_t whylen);

/*
 * A certificate extension name: one of the OpenSSH extensions
 * (permit-X11-forwarding, permit-agent-forwarding,
 * permit-port-forwarding, permit-pty, permit-user-rc, no-touch-required)
 * or a vendor extension NAME@DOMAIN of at most 128 bytes, NAME of
 * [A-Za-z0-9._-] and DOMAIN of [A-Za-z0-9.-], neither empty.
 */
int jit_check_extension(const char *name, char *why, size_t whylen);

/*
 * An email address for notifications (a user's email in the policy, the
 * sender of api/notify's mail): LOCAL@DOMAIN of at most 254 bytes, LOCAL
 * of 1 to 64 of [A-Za-z0-9] and !#$%&'*+/=?^_`{|}~.-, DOMAIN of dot-
 * separated non-empty labels of [A-Za-z0-9-].  Nothing that could end a
 * mail header or an SMTP command (spaces, quotes, <>, commas, controls).
 */
int jit_check_email(const char *addr, char *why, size_t whylen);

#endif
