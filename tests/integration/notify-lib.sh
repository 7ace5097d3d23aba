# shellcheck shell=bash
# tests/integration/notify-lib.sh - helpers for the notification tests
# (test-notify.sh, tests/faults/test-notify-faults.sh), on top of lib.sh
# and api-lib.sh (source those first).
#
#   notify_policy             write $T/policy.yaml: alice (dev,
#       alice@example.com), bob and dave (sre, with addresses; dave admin),
#       gina (sre, no address), carol (security, carol@example.com);
#       roles ops (1 approval from sre, principal $JIT_USER1) and other
#       (the same, requested by carol)
#   receiver_start            start notify-receiver.py on a free port with
#       directory $T/rcv (RCV_PORT, RCV_PID); again after receiver_stop it
#       reuses the port
#   receiver_stop             kill it (SIGKILL: nothing more is answered)
#   smtp_start                start notify-smtp.py (aiosmtpd) on a free
#       port writing to $T/mail (SMTP_PORT); SKIPs without aiosmtpd
#   deliveries PATH [STATUS]  the receiver's log records (JSON, one a
#       line, in arrival order) for PATH answered with STATUS (default
#       200; "any" for all)
#   wait_deliveries N PATH [SECS]  wait until PATH has N records answered
#       200 (default 60 s)
#   check_signature FILE-BASE SECRET-FILE  0 if FILE-BASE.json's
#       X-Jit-Signature is the HMAC-SHA256 (openssl) of "t." + FILE-BASE.body
#   notify_metric NAME        the value of NAME on /metrics

notify_policy() {
	cat >"$T/policy.yaml" <<EOF
users:
  alice: {groups: [dev], email: alice@example.com}
  bob:   {groups: [sre], email: bob@example.com}
  dave:  {groups: [sre], email: dave@example.com}
  gina:  {groups: [sre]}
  carol: {groups: [security], email: carol@example.com}
admins: [dave]
roles:
  ops:
    principals: [$JIT_USER1]
    requesters: [group:dev]
    approvers: [group:sre]
    approvals: 1
    max_duration: 1h
    pending_timeout: 1h
  other:
    principals: [$JIT_USER1]
    requesters: [carol]
    approvers: [group:sre]
    approvals: 1
    max_duration: 1h
EOF
}

RCV_PORT=
RCV_PID=
receiver_start() {
	mkdir -p "$T/rcv"
	rm -f "$T/rcv/ready"
	[ -n "$RCV_PORT" ] || RCV_PORT=$(free_port) || return 1
	jit_bg "$T/rcv.log" python3 "$JIT_SOURCE_ROOT/tests/integration/notify-receiver.py" \
		"$RCV_PORT" "$T/rcv"
	RCV_PID=$JIT_BG_PID
	wait_for "[ -e '$T/rcv/ready' ]" 20 && wait_port "$RCV_PORT" 20
}

receiver_stop() {
	kill -KILL "$RCV_PID" 2>/dev/null
	jit_kill "$RCV_PID"
}

SMTP_PORT=
SMTP_PY=
smtp_start() {
	local py
	for py in /usr/bin/python3 python3; do
		if "$py" -c 'import aiosmtpd' 2>/dev/null; then
			SMTP_PY=$py
			break
		fi
	done
	[ -n "$SMTP_PY" ] || skip "python3-aiosmtpd is not installed"
	mkdir -p "$T/mail"
	# Another process may take the free port first: then the server
	# exits, and another port is tried.
	for _ in 1 2 3; do
		SMTP_PORT=$(free_port) || return 1
		jit_bg "$T/smtp.log" "$SMTP_PY" \
			"$JIT_SOURCE_ROOT/tests/integration/notify-smtp.py" \
			"$SMTP_PORT" "$T/mail"
		wait_for "[ -e '$T/mail/ready' ] ||
			! kill -0 $JIT_BG_PID 2>/dev/null" 90
		if [ -e "$T/mail/ready" ] && wait_port "$SMTP_PORT" 20; then
			return 0
		fi
		jit_kill "$JIT_BG_PID"
		cat "$T/smtp.log" >&2
	done
	return 1
}

deliveries() {
	local path=$1 status=${2:-200} f=("$T"/rcv/log/*.json)
	[ -e "${f[0]}" ] || return 0
	jq -c --arg p "$path" --arg s "$status" \
		'select(.path == $p and ($s == "any" or (.status|tostring) == $s))
		 + {file: input_filename}' "${f[@]}"
}

wait_deliveries() {
	local n=$1 path=$2 secs=${3:-60}
	wait_for "[ \$(deliveries '$path' | wc -l) -ge $n ]" "$secs"
}

check_signature() {
	local base=$1 secret=$2 sig t v mac
	sig=$(jq -r .signature "$base.json")
	case $sig in t=*,v1=*) ;; *) return 1 ;; esac
	t=${sig#t=}
	t=${t%%,*}
	v=${sig##*,v1=}
	mac=$({ printf '%s.' "$t"; cat "$base.body"; } |
		openssl dgst -sha256 -hmac "$(cat "$secret")" -r | cut -d' ' -f1)
	[ -n "$mac" ] && [ "$mac" = "$v" ]
}

notify_metric() {
	curl -s "$JURL/metrics" | awk -v n="$1" '$1 == n {print $2}'
}
