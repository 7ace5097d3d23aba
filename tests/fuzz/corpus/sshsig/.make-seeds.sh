#!/bin/sh
# Regenerate the sshsig seed corpus: signatures by ssh-keygen -Y sign over
# "jit-ssh fuzz\n" in namespace "file" (what fuzz-sshsig.c verifies
# against), armoured (*.sig) and raw (*.bin), for each key type and hash.
# Keys are throwaway and not kept.  Run from this directory.
set -eu
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
printf 'jit-ssh fuzz\n' > "$t/msg"
for k in "ed25519:-t ed25519" "ecdsa256:-t ecdsa -b 256" \
    "ecdsa384:-t ecdsa -b 384" "ecdsa521:-t ecdsa -b 521" \
    "rsa3072:-t rsa -b 3072"; do
	name=${k%%:*}
	ssh-keygen -q ${k#*:} -N '' -C '' -f "$t/$name"
	for h in sha512 sha256; do
		rm -f "$t/msg.sig"
		ssh-keygen -q -Y sign -f "$t/$name" -n file -O hashalg=$h \
		    "$t/msg" 2>/dev/null
		cp "$t/msg.sig" "$name-$h.sig"
		sed '1d;$d' "$t/msg.sig" | tr -d '\n' | base64 -d > "$name-$h.bin"
	done
done
