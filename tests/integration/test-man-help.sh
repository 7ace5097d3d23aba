#!/bin/bash
# test-man-help.sh - the man pages and --help cannot drift apart: for
# jit-ca and jit-ssh every subcommand has its own section (.SS NAME) in the
# page, and the long options in that section are exactly those of
# `COMMAND SUBCOMMAND --help` (jit-ssh's options shared by every command
# are in the page's OPTIONS section instead); jit-ssh-guard(8) and
# jit-ssh-host-sync(8) name exactly the options of their --help.  No page
# names an option its program does not take, and groff renders each page
# without a warning.  --help and --version are left out: every command
# takes them.
. "$(dirname "$0")/lib.sh"

need_env JIT_CA JIT_SSH JIT_SSH_GUARD
src=${JIT_SOURCE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
man=$src/man
# The script as built (from contrib/jit-ssh-host-sync.in where it is
# configured), else as checked in.
sync=${JIT_HOST_SYNC:-${JIT_BUILD_ROOT:-}/contrib/jit-ssh-host-sync}
[ -f "$sync" ] || sync=$src/contrib/jit-ssh-host-sync

# Long options in text (--help output, or roff with \- unescaped), one a
# line, sorted.
opts() {
	sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' | grep -oE -- '--[a-zA-Z][a-zA-Z0-9-]*' |
		grep -v -x -e --help -e --version | sort -u
}
# Lines of a page's section: .SH NAME or .SS NAME up to the next heading.
section() { # PAGE MACRO NAME
	awk -v m="$2" -v n="$3" '
		/^\.S[HS] / { on = ($1 == m && $2 == n); next }
		on' "$1"
}
lines() { printf '%s\n' "$1" | grep . || true; }
# Compare two sorted lists: equal, else fail naming what is on one side only.
same_opts() { # LABEL HELP_LIST MAN_LIST
	local only_help only_man
	only_help=$(comm -23 <(lines "$2") <(lines "$3") | tr '\n' ' ')
	only_man=$(comm -13 <(lines "$2") <(lines "$3") | tr '\n' ' ')
	if [ -z "$only_help$only_man" ]; then
		ok "$1: $(echo "$2" | grep -c .) options agree"
	else
		fail "$1" "in --help only: $only_help" "in the man page only: $only_man"
	fi
}
subset() { # LABEL SMALL BIG
	local extra
	extra=$(comm -23 <(lines "$2") <(lines "$3") | tr '\n' ' ')
	[ -z "$extra" ] && ok "$1" || fail "$1" "not taken: $extra"
}

# ---- groff renders every page cleanly -----------------------------------------
if command -v groff >/dev/null; then
	for p in "$man"/*.[18]; do
		run groff -man -ww -z "$p"
		assert_eq "" "$OUT$ERR" "groff: ${p##*/} renders without warnings"
	done
fi

# ---- jit-ca(1) ------------------------------------------------------------------
page=$man/jit-ca.1
subs=$("$JIT_CA" --help | awk '/^Commands:/ { on = 1; next } on && NF { print $1 } on && !NF { exit }' | sort)
assert_eq "$subs" "$(awk '/^\.SS / { print $2 }' "$page" | sort)" \
	"jit-ca(1) has one section per subcommand of jit-ca --help"
all=
for s in $subs; do
	h=$("$JIT_CA" "$s" --help | opts)
	all=$(printf '%s\n%s\n' "$all" "$h" | grep . | sort -u)
	same_opts "jit-ca $s" "$h" "$(section "$page" .SS "$s" | opts)"
done
subset "jit-ca(1) names no option jit-ca does not take" "$(opts <"$page")" "$all"
# Values drift too: the key types init takes.
types() { sed 's/\\-/-/g' | grep -oE '\b(ed25519|ecdsa(-p[0-9]+)?|rsa)\b' | sort -u; }
same_opts "jit-ca init --key-type values" "$("$JIT_CA" init --help | types)" \
	"$(section "$page" .SS init | types)"

# ---- jit-ssh(1) -----------------------------------------------------------------
page=$man/jit-ssh.1
common=$("$JIT_SSH" --help | sed -n '/^Options for/,/^$/p' | opts)
same_opts "jit-ssh common options (OPTIONS)" "$common" \
	"$(section "$page" .SH OPTIONS | opts)"
subs=$("$JIT_SSH" --help | awk '/^Commands:/ { on = 1; next } on && /^  jit-ssh / { print $2 } on && !NF { exit }' | sort -u)
assert_eq "$subs" "$(awk '/^\.SS / { print $2 }' "$page" | sort)" \
	"jit-ssh(1) has one section per subcommand of jit-ssh --help"
all=$common
for s in $subs; do
	h=$("$JIT_SSH" "$s" --help | opts)
	all=$(printf '%s\n%s\n' "$all" "$h" | grep . | sort -u)
	sec=$(section "$page" .SS "$s" | opts)
	# The options only this command takes are in its section...
	subset "jit-ssh $s: its own options are in its section" \
		"$(comm -23 <(lines "$h") <(lines "$common"))" "$sec"
	# ... and the section names none that the command refuses.
	subset "jit-ssh $s: its section names only options it takes" "$sec" "$h"
done
subset "jit-ssh(1) names no option jit-ssh does not take" "$(opts <"$page")" "$all"

# ---- jit-ssh-guard(8), jit-ssh-host-sync(8) ---------------------------------------
same_opts "jit-ssh-guard" "$("$JIT_SSH_GUARD" --help | opts)" \
	"$(opts <"$man/jit-ssh-guard.8")"
same_opts "jit-ssh-host-sync" "$(bash "$sync" --help | opts)" \
	"$(opts <"$man/jit-ssh-host-sync.8")"

# ---- the check itself notices drift --------------------------------------------------
sed 's/^\.BI \\-\\-bits " N"$/.BI \\-\\-bitz " N"/' "$man/jit-ca.1" >"$T/drift.1"
h=$("$JIT_CA" init --help | opts)
[ "$(section "$T/drift.1" .SS init | opts)" != "$h" ] &&
	ok "a renamed option in the page is noticed" ||
	fail "the drift check did not notice --bitz"
finish
