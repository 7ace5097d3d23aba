#!/bin/sh
# Regenerate the jwt seed corpus for fuzz-jwt.c: for each key type (RSA
# 2048, EC P-256, Ed25519) a line with the public key set and a token it
# signs, with claims fuzz-jwt.c accepts (and one with alg none).  Keys
# are throwaway and not kept.  Needs python3 with cryptography and jq.
# Run from this directory.
set -eu
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
tool=../../../oidc/jwt_tool.py
python3 "$tool" keys "$t/k.json" s
keys=$(jq -c '{keys: [.keys[] | del(.d, .p, .q, .dp, .dq, .qi)]}' "$t/k.json")
claims='{"iss":"https://idp.example","aud":"jit-cli","sub":"u1","iat":1900000000,"exp":1900000600,"nonce":"n-1","preferred_username":"alice","amr":["pwd","otp"]}'
for k in rsa ec ed; do
	printf '%s\n%s' "$keys" "$(python3 "$tool" sign "$t/k.json" "s-$k" \
	    "$claims")" > "$k.jwt"
done
printf '%s\n%s' "$keys" "$(python3 "$tool" none "$claims")" > none.jwt
