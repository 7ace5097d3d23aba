/* terms.c - see terms.h. */
#include "terms.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "policy_int.h"
#include "util.h"

static const char *const known_extensions[] = {
	"permit-X11-forwarding", "permit-agent-forwarding",
	"permit-port-forwarding", "permit-pty", "permit-user-rc",
	"no-touch-required",
};
#define NKNOWN (sizeof(known_extensions) / sizeof(known_extensions[0]))

/* Clear the bits of addr (nbytes) after the first bits; returns 1 if any
 * was set. */
static int
clear_host_bits(unsigned char *addr, size_t nbytes, unsigned bits)
{
	int set = 0;

	for (unsigned i = bits; i < nbytes * 8; i++) {
		unsigned char m = (unsigned char)(0x80u >> (i % 8));
		if (addr[i / 8] & m) {
			set = 1;
			addr[i / 8] &= (unsigned char)~m;
		}
	}
	return set;
}

/* A prefix length of 1 to 3 digits (n bytes at d) into *bits. */
static int
parse_prefix(const char *d, size_t n, unsigned *bits)
{
	*bits = 0;
	if (n == 0 || n > 3)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (d[i] < '0' || d[i] > '9')
			return -1;
		*bits = *bits * 10 + (unsigned)(d[i] - '0');
	}
	return 0;
}

int
jit_check_source_entry(const char *s, size_t len, char *why, size_t whylen)
{
	unsigned char addr[16];
	char host[64], shown[POL_SHOWN_MAX], net[INET6_ADDRSTRLEN];
	const char *slash;
	size_t hlen;
	unsigned bits, maxbits;
	int af;

	if (len == 0) {
		jit_seterr(why, whylen, "empty entry");
		return -1;
	}
	pol_shown(s, len, shown);
	slash = memchr(s, '/', len);
	hlen = slash != NULL ? (size_t)(slash - s) : len;
	if (hlen == 0 || hlen >= sizeof(host) || memchr(s, '\0', len) != NULL)
		goto bad;
	memcpy(host, s, hlen);
	host[hlen] = '\0';
	if (inet_pton(AF_INET, host, addr) == 1) {
		af = AF_INET;
		maxbits = 32;
	} else if (inet_pton(AF_INET6, host, addr) == 1) {
		af = AF_INET6;
		maxbits = 128;
	} else
		goto bad;
	bits = maxbits;
	if (slash != NULL &&
	    parse_prefix(slash + 1, len - hlen - 1, &bits) != 0)
		jit_seterr(why, whylen, "'%s': bad prefix length", shown);
	else if (bits > maxbits)
		jit_seterr(why, whylen, "'%s': prefix longer than %u bits",
		    shown, maxbits);
	else if (clear_host_bits(addr, maxbits / 8, bits)) {
		if (inet_ntop(af, addr, net, sizeof(net)) == NULL)
			snprintf(net, sizeof(net), "?");
		jit_seterr(why, whylen, "'%s' has host bits set after the /%u "
		    "prefix (did you mean %s/%u?)", shown, bits, net, bits);
	} else
		return 0;
	return -1;
bad:
	jit_seterr(why, whylen, "invalid address or CIDR '%s' (e.g. "
	    "10.0.0.0/8 or 2001:db8::/32)", shown);
	return -1;
}

/* NAME@DOMAIN as PROTOCOL.certkeys has vendor extensions. */
static int
vendor_extension(const char *s)
{
	const char *at = strchr(s, '@');

	if (at == NULL || at == s || at[1] == '\0' || strlen(s) > 128)
		return 0;
	for (const char *d = s; *d != '\0'; d++) {
		if (d == at)
			continue;
		if ((*d >= 'a' && *d <= 'z') || (*d >= 'A' && *d <= 'Z') ||
		    (*d >= '0' && *d <= '9') || *d == '.' || *d == '-' ||
		    (d < at && *d == '_'))
			continue;
		return 0;
	}
	return 1;
}

int
jit_check_extension(const char *name, char *why, size_t whylen)
{
	char shown[POL_SHOWN_MAX];
	const char *hint;

	if (name == NULL) {
		jit_seterr(why, whylen, "no extension given");
		return -1;
	}
	for (size_t i = 0; i < NKNOWN; i++)
		if (strcmp(name, known_extensions[i]) == 0)
			return 0;
	if (vendor_extension(name))
		return 0;
	pol_shown(name, strlen(name), shown);
	if ((hint = pol_suggest(name, known_extensions, NKNOWN)) != NULL)
		jit_seterr(why, whylen, "unknown extension '%s' (did you mean "
		    "'%s'?)", shown, hint);
	else
		jit_seterr(why, whylen, "unknown extension '%s' (known: "
		    "permit-pty, permit-port-forwarding, "
		    "permit-agent-forwarding, permit-X11-forwarding, "
		    "permit-user-rc, no-touch-required; or NAME@DOMAIN)",
		    shown);
	return -1;
}

int
jit_check_email(const char *addr, char *why, size_t whylen)
{
	static const char local_extra[] = "!#$%&'*+/=?^_`{|}~.-";
	char shown[POL_SHOWN_MAX];
	const char *at, *p;
	size_t n;
	int label = 0;

	if (addr == NULL) {
		jit_seterr(why, whylen, "no address given");
		return -1;
	}
	n = strlen(addr);
	at = strchr(addr, '@');
	if (n > 254 || at == NULL || at == addr || at - addr > 64 ||
	    at[1] == '\0')
		goto bad;
	for (p = addr; p < at; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || strchr(local_extra, *p) != NULL))
			goto bad;
	for (p = at + 1; *p != '\0'; p++) {
		if (*p == '.') {
			if (!label)
				goto bad;
			label = 0;
		} else if ((*p >= 'a' && *p <= 'z') ||
		    (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		    *p == '-') {
			label = 1;
		} else {
			goto bad;
		}
	}
	if (label)
		return 0;
bad:
	jit_seterr(why, whylen, "invalid email address '%s' (expected "
	    "NAME@DOMAIN)", pol_shown(addr, n, shown));
	return -1;
}
