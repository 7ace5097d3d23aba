# shellcheck shell=bash
# tests/integration/pg-lib.sh - a throwaway PostgreSQL server for tests,
# from Debian's postgresql package (initdb and pg_ctl live in
# /usr/lib/postgresql/VERSION/bin, which is not on PATH).
#
# Use:   . lib.sh; . pg-lib.sh      (integration tests: $T is the temp dir)
#   or:  T=$(mktemp -d); . pg-lib.sh   (anything else that has a $T)
#
# Sourcing adds "stop the server" to the EXIT trap (keeping a trap that
# lib.sh set, and its exit status).
#
#   pg_need                 exit 77 (SKIP) unless initdb and pg_ctl exist
#   pg_start                initdb into $T/pg (once) and start the server
#       on a free 127.0.0.1 port, its socket in $T/pg/sock; a role "jit"
#       (password in $T/pg/password) owning a database "jit".  As root the
#       server runs as the "postgres" account (initdb refuses root).  Sets
#       PG_PORT, PG_URL (postgresql://jit:PASSWORD@127.0.0.1:PORT/jit),
#       PG_URL_NOPW (the same without the password) and PG_PWFILE.
#       PG_FSYNC=on keeps fsync (the default here is off: faster, and
#       nothing in the tests crashes the machine, only processes).
#   pg_stop [MODE]          pg_ctl stop -m MODE (default fast)
#   pg_restart [MODE]       stop (MODE, default fast) and start again on
#                           the same port
#   pg_psql SQL             run SQL as the superuser on database jit;
#                           prints unaligned, tuples-only output

PG_BIN=
PG_PORT=
PG_URL=
PG_URL_NOPW=
PG_PWFILE=
_PG_RUN=()
_PG_UP=0

pg_need() {
	local d
	for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V); do
		[ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && PG_BIN=$d
	done
	if [ -z "$PG_BIN" ]; then
		echo "SKIP: PostgreSQL server binaries missing" \
			"(apt-get install postgresql)"
		exit 77
	fi
	if [ "$(id -u)" = 0 ]; then
		getent passwd postgres >/dev/null || {
			echo "SKIP: running as root and no postgres account"
			exit 77
		}
		_PG_RUN=(runuser -u postgres --)
	fi
}

_pg_port_free() {
	! ss -Htln "sport = :$1" 2>/dev/null | grep -q .
}

_pg_ctl() {
	"${_PG_RUN[@]}" "$PG_BIN/pg_ctl" -D "$T/pg/data" -w -t 60 "$@" \
		>>"$T/pg/ctl.log" 2>&1
}

pg_psql() {
	"${_PG_RUN[@]}" "$PG_BIN/psql" -X -q -A -t -h "$T/pg/sock" \
		-p "$PG_PORT" -U pgadmin -d jit -v ON_ERROR_STOP=1 -c "$1"
}

_pg_init() {
	mkdir -p "$T/pg/sock"
	head -c 18 /dev/urandom | base64 | tr -d '/+=' >"$T/pg/password"
	chmod 600 "$T/pg/password"
	if [ "$(id -u)" = 0 ]; then
		chown -R postgres: "$T/pg"
		chmod 755 "$T"
	fi
	"${_PG_RUN[@]}" "$PG_BIN/initdb" -D "$T/pg/data" -U pgadmin -E UTF8 \
		--locale=C.UTF-8 --auth-local=trust --auth-host=scram-sha-256 \
		--no-sync >"$T/pg/initdb.log" 2>&1 || {
		cat "$T/pg/initdb.log" >&2
		return 1
	}
	cat >>"$T/pg/data/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
unix_socket_directories = '$T/pg/sock'
fsync = ${PG_FSYNC:-off}
max_connections = 200
log_min_messages = warning
EOF
}

pg_start() {
	local i pw
	[ -n "$PG_BIN" ] || pg_need
	[ -d "$T/pg/data" ] || _pg_init || return 1
	for i in 1 2 3 4 5; do
		if [ -z "$PG_PORT" ] || [ "$i" -gt 1 ]; then
			PG_PORT=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
			_pg_port_free "$PG_PORT" || continue
		fi
		if _pg_ctl start -o "-p $PG_PORT" -l "$T/pg/server.log"; then
			_PG_UP=1
			break
		fi
	done
	[ "$_PG_UP" = 1 ] || {
		echo "PostgreSQL did not start:" >&2
		tail -n 20 "$T/pg/server.log" "$T/pg/ctl.log" >&2
		return 1
	}
	pw=$(cat "$T/pg/password")
	if [ -z "$(pg_psql "SELECT 1 FROM pg_roles WHERE rolname = 'jit'" \
		2>/dev/null)" ]; then
		"${_PG_RUN[@]}" "$PG_BIN/psql" -X -q -h "$T/pg/sock" \
			-p "$PG_PORT" -U pgadmin -d postgres -v ON_ERROR_STOP=1 \
			-c "CREATE ROLE jit LOGIN PASSWORD '$pw'" \
			-c "CREATE DATABASE jit OWNER jit" >/dev/null || return 1
	fi
	PG_URL_NOPW="postgresql://jit@127.0.0.1:$PG_PORT/jit"
	PG_URL="postgresql://jit:$pw@127.0.0.1:$PG_PORT/jit"
	PG_PWFILE=$T/pg/password
}

pg_stop() {
	[ "$_PG_UP" = 1 ] || return 0
	_pg_ctl stop -m "${1:-fast}"
	_PG_UP=0
}

pg_restart() {
	pg_stop "${1:-fast}"
	pg_start
}

# Stop the server on exit, then run what was trapped before (lib.sh's
# cleanup, which reads the exit status from $?).
_PG_OLD_TRAP=$(trap -p EXIT | sed -e "s/^trap -- '//" -e "s/' EXIT$//")
_pg_exit() {
	local rc=$?
	pg_stop immediate >/dev/null 2>&1
	if [ -n "$_PG_OLD_TRAP" ]; then
		(exit "$rc")
		eval "$_PG_OLD_TRAP"
	fi
	exit "$rc"
}
trap _pg_exit EXIT
