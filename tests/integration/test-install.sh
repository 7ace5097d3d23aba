#!/bin/bash
# `meson install` for meson's default prefix /usr/local and for /usr: every
# installed file names the same paths, and they are the ones the table in
# contrib/README.md gives.  A build directory of its own is configured with
# the default prefix, built (the installed programs only) and installed
# into a DESTDIR; then it is switched to --prefix=/usr with `meson
# configure`, as contrib/README.md tells an existing build directory, and
# installed again.  Each time:
#   - the programs are in the table's directories and run (--version
#     prints meson's project version);
#   - jit-ca.service reads server.yaml from the configuration directory and
#     points at the installed guide; jit-ssh-host-sync's default --config
#     is host-sync.conf there; the host-sync unit runs the installed
#     script; the example configurations name those same files;
#   - the sshd snippet's ForceCommand is the installed guard, and its CA
#     key and KRL are the defaults of jit-ssh-host-sync and the guard;
#   - the units, server.yaml and sysusers agree on the data directory;
#   - no template placeholder is left in an installed file.
# Only what is installed is built, for a plain (unoptimised) build type.
# For /usr, the layout the guide's commands use, also: every installed
# path the guide's text names exists, and every configuration path it and
# the man pages name is one the units and the script read.
. "$(dirname "$0")/lib.sh"

need_cmd meson ninja cmp jq
[ -n "${JIT_VERSION:-}" ] ||
	skip "JIT_VERSION is not set (run through meson test)"
SRC=${JIT_SOURCE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
README=$SRC/contrib/README.md
B=$T/build

# readme_dir KEY COLUMN: the directory in the row of contrib/README.md's
# table whose first cell starts with KEY (column 2 = --prefix=/usr,
# 3 = /usr/local), without backticks and the trailing slash.
readme_dir() {
	awk -F'|' -v k="$1" -v c="$2" 'index($2, " " k) == 1 {
		v = $(c + 1); gsub(/[ `]/, "", v); sub(/\/$/, "", v)
		print v; exit }' "$README"
}

# exists PATH MSG: ok when PATH exists.
exists() {
	if [ -e "$1" ]; then ok "$2"; else fail "$2" "missing: $1"; fi
}

# line FILE KEY: the value of the first "KEY" or "KEY=" line of FILE.
line() {
	sed -n "s/^$2[= ]//p" "$1" | head -n 1
}

# The table's header says which column is which prefix.
header=$(grep -m1 '^| installed |' "$README")
# shellcheck disable=SC2016  # the backticks are the README's
assert_contains "$header" '| `--prefix=/usr` | default prefix `/usr/local` |' \
	"README: the path table has a column per prefix"

# build_install DESTDIR: build what $B installs (not the tests), install it
# into DESTDIR.
build_install() {
	local outs
	mapfile -t outs < <(meson introspect --targets "$B" |
		jq -r '.[] | select(.installed) | .filename[]' | sed "s|^$B/||")
	run ninja -C "$B" "${outs[@]}"
	assert_rc 0 "build the installed programs (${outs[*]})"
	run meson install -C "$B" --no-rebuild --destdir "$1"
	assert_rc 0 "meson install --destdir $1"
	[ "$RC" = 0 ] || finish
}

check_layout() {   # check_layout PREFIX COLUMN DESTDIR
	local p=$1 col=$2 d=$3 w="prefix $1"
	local bindir sbindir conf share units sysusers state hostdir man
	local sysd unit sync prog f left
	bindir=$(readme_dir programs "$col")
	sbindir=$(readme_dir "host sync" "$col")
	conf=$(readme_dir configuration "$col")
	share=$(readme_dir examples "$col")
	units=$(readme_dir "systemd units" "$col")
	sysusers=$(readme_dir sysusers "$col")
	state=$(readme_dir "data directory" "$col")
	hostdir=$(readme_dir "sshd's CA key" "$col")
	man=$(readme_dir "man pages" "$col")
	for f in bindir sbindir conf share units sysusers state hostdir man; do
		[ -n "${!f}" ] || fail "$w: README table has a $f row"
	done

	# Programs, where the table says, running.
	for prog in "$bindir/jit-ca" "$bindir/jit-ssh" "$bindir/jit-ssh-guard" \
		"$sbindir/jit-ssh-host-sync"; do
		run "$d$prog" --version
		assert_eq "${prog##*/} $JIT_VERSION" "$OUT" \
			"$w: installed $prog runs (--version)"
	done
	for f in man1/jit-ca.1 man1/jit-ssh.1 man8/jit-ssh-guard.8 \
		man8/jit-ssh-host-sync.8; do
		exists "$d$man/$f" "$w: man page $man/$f installed"
	done

	# Units: in systemd's directory (when its pkg-config file names one,
	# the table must too), reading the configuration directory.
	sysd=$(pkg-config --variable=systemdsystemunitdir systemd 2>/dev/null)
	if [ -n "$sysd" ]; then
		assert_eq "$sysd" "$units" \
			"$w: README names systemd's unit directory"
	else
		units=$p/lib/systemd/system
	fi
	unit=$d$units/jit-ca.service
	if [ ! -f "$unit" ]; then
		fail "$w: $units/jit-ca.service installed"
		return
	fi
	assert_eq "$bindir/jit-ca serve --config $conf/server.yaml" \
		"$(line "$unit" ExecStart)" \
		"$w: jit-ca.service reads $conf/server.yaml"
	assert_contains "$(line "$unit" Documentation)" \
		"file://$share/README.md" \
		"$w: jit-ca.service points at the installed guide"
	if cmp -s "$d$share/README.md" "$README"; then
		ok "$w: the guide is installed as $share/README.md"
	else
		fail "$w: the guide is installed as $share/README.md"
	fi
	assert_eq "$state" "$(line "$unit" ReadWritePaths)" \
		"$w: jit-ca.service writes the data directory"
	assert_eq "/var/lib/$(line "$unit" StateDirectory)" "$state" \
		"$w: the data directory is the unit's StateDirectory"
	unit=$d$units/jit-ssh-host-sync.service
	assert_eq "$sbindir/jit-ssh-host-sync --quiet" \
		"$(line "$unit" ExecStart)" \
		"$w: the host-sync unit runs the installed script"
	assert_eq "$hostdir" "$(line "$unit" ReadWritePaths)" \
		"$w: the host-sync unit may write sshd's directory"
	assert_contains "$(cat "$unit")" "Settings: $conf/host-sync.conf." \
		"$w: the host-sync unit names its settings file"
	exists "$d$units/jit-ssh-host-sync.timer" "$w: timer installed"
	assert_match "$(cat "$d$sysusers/jit-ssh.conf" 2>/dev/null)" \
		"^u jit-ssh - \".*\" $state " \
		"$w: sysusers home is the data directory"

	# The script's defaults (from its --help), and the guard's.
	sync=$d$sbindir/jit-ssh-host-sync
	run "$sync" --help
	assert_contains "$OUT" "settings (default $conf/host-sync.conf)" \
		"$w: jit-ssh-host-sync reads $conf/host-sync.conf by default"
	assert_contains "$OUT" "CA key file (default $hostdir/jit_ca.pub)" \
		"$w: jit-ssh-host-sync installs $hostdir/jit_ca.pub"
	assert_contains "$OUT" "KRL file (default $hostdir/jit.krl)" \
		"$w: jit-ssh-host-sync installs $hostdir/jit.krl"
	run "$d$bindir/jit-ssh-guard" --help
	assert_contains "$OUT" "$hostdir/jit_ca.pub)" \
		"$w: jit-ssh-guard's default --ca is $hostdir/jit_ca.pub"

	# The sshd snippet and the example configurations.
	f=$d$share/sshd_config.d/jit-ssh.conf
	assert_eq "$hostdir/jit_ca.pub" "$(line "$f" TrustedUserCAKeys)" \
		"$w: sshd snippet trusts the synced CA key"
	assert_eq "$hostdir/jit.krl" "$(line "$f" RevokedKeys)" \
		"$w: sshd snippet reads the synced KRL"
	assert_eq "$bindir/jit-ssh-guard" "$(line "$f" ForceCommand)" \
		"$w: sshd snippet runs the installed guard"
	f=$d$share/server.yaml
	assert_match "$(head -n 1 "$f")" "^# $conf/server.yaml " \
		"$w: example server.yaml says where it goes"
	assert_match "$(cat "$f")" "^policies: $conf/policies " \
		"$w: example server.yaml reads policies from $conf"
	assert_match "$(cat "$f")" "^data: $state " \
		"$w: example server.yaml keeps data in the data directory"
	f=$d$share/host-sync.conf
	assert_match "$(head -n 1 "$f")" "^# $conf/host-sync.conf " \
		"$w: example host-sync.conf says where it goes"
	assert_contains "$(cat "$f")" "#CA_FILE=$hostdir/jit_ca.pub" \
		"$w: example host-sync.conf shows the default CA key file"

	left=$(grep -rlE '@[a-z_]+@' "$d" --exclude-dir=bin --exclude-dir=man)
	assert_eq "" "$left" "$w: no template placeholder left"
	INSTALLED_CONF=$conf INSTALLED_BIN=$bindir INSTALLED_SBIN=$sbindir
	INSTALLED_SHARE=$share INSTALLED_MAN=$man
}

# ---- meson's default prefix ------------------------------------------------
run meson setup "$B" "$SRC" --buildtype=plain -Dintegration=false
assert_rc 0 "meson setup (default prefix)"
[ "$RC" = 0 ] || finish
prefix=$(meson introspect --buildoptions "$B" |
	jq -r '.[] | select(.name == "prefix") | .value')
assert_eq /usr/local "$prefix" "meson's default prefix is /usr/local"
build_install "$T/local"
check_layout /usr/local 3 "$T/local"

# ---- --prefix=/usr on the same, existing build directory --------------------
run meson configure "$B" --prefix=/usr
assert_rc 0 "meson configure --prefix=/usr"
assert_eq '"/etc"' "$(meson introspect --buildoptions "$B" |
	jq '.[] | select(.name == "sysconfdir") | .value')" \
	"sysconfdir follows the prefix to /etc"
build_install "$T/usr"
check_layout /usr 2 "$T/usr"

# ---- the guide's text and the man pages (they use --prefix=/usr) ------------
d=$T/usr
named="($INSTALLED_BIN|$INSTALLED_SBIN)/jit-[a-z-]+"
named="$named|$INSTALLED_SHARE/[A-Za-z0-9._/-]*[A-Za-z0-9]"
while read -r p; do
	exists "$d$p" "README names installed $p"
done < <(grep -oE "$named" "$README" | sort -u)
# Configuration paths: only the two the programs read, in their directory.
for doc in "$README" "$d$INSTALLED_MAN/man1/jit-ca.1" \
	"$d$INSTALLED_MAN/man8/jit-ssh-host-sync.8"; do
	while read -r p; do
		case $p in
		*/server.yaml|*/host-sync.conf)
			assert_eq "$INSTALLED_CONF/${p##*/}" "$p" \
				"${doc##*/} names $p" ;;
		esac
	done < <(grep -oE '/[a-z/]*etc/jit-ssh/[A-Za-z0-9._-]+' "$doc" |
		sort -u)
done

finish
