/* why.c - see why.h. */
#include "why.h"

#include <stdarg.h>
#include <stdio.h>

int
jit_refuse(struct jit_why *why, int code, const char *slug,
    const char *fmt, ...)
{
	va_list ap;

	if (why != NULL) {
		why->slug = slug;
		va_start(ap, fmt);
		vsnprintf(why->message, sizeof(why->message), fmt, ap);
		va_end(ap);
	}
	return code;
}

void
jit_why_clear(struct jit_why *why)
{
	if (why != NULL) {
		why->slug = NULL;
		why->message[0] = '\0';
	}
}
