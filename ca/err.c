#include "err.h"

const char *
jit_err(int code)
{
	switch (code) {
#define JIT_ERR_MSG_(name, c, msg) case (c): return (msg);
	JIT_ERRORS(JIT_ERR_MSG_)
#undef JIT_ERR_MSG_
	}
	return "unknown error";
}

const char *
jit_err_name(int code)
{
	switch (code) {
#define JIT_ERR_NAME_(name, c, msg) case (c): return #name;
	JIT_ERRORS(JIT_ERR_NAME_)
#undef JIT_ERR_NAME_
	}
	return "UNKNOWN";
}
