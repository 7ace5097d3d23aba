#!/bin/sh
# make-keys.sh - regenerate the reference keys used by tests/unit/test-key.c.
#
# Run from this directory: sh make-keys.sh.  Needs ssh-keygen (OpenSSH 9.x)
# and openssl.  Every key is unencrypted unless its name says otherwise;
# NAME.fp holds the line `ssh-keygen -lf NAME.pub` printed, which the test
# compares with jit_key_fingerprint().  These are throwaway test keys.
set -eu
cd "$(dirname "$0")"
rm -f ed25519* ecdsa256* ecdsa384* ecdsa521* rsa2048* rsa3072* rsa1024* \
    dsa* encrypted* pem-* cert-ca* user-cert* *.fp

gen() {  # name, ssh-keygen arguments...
	name=$1
	shift
	ssh-keygen -q -N '' -C "$name@jit-ssh-test" -f "$name" "$@"
	ssh-keygen -lf "$name.pub" > "$name.fp"
}

gen ed25519 -t ed25519
gen ecdsa256 -t ecdsa -b 256
gen ecdsa384 -t ecdsa -b 384
gen ecdsa521 -t ecdsa -b 521
gen rsa3072 -t rsa -b 3072
gen rsa2048 -t rsa -b 2048
gen rsa1024 -t rsa -b 1024
gen dsa -t dsa

# Passphrase-protected (aes256-ctr + bcrypt) container.
ssh-keygen -q -N 'correct horse' -C encrypted -t ed25519 -f encrypted-ed25519
# More of them for test-key-libssh.c: ECDSA; RSA in OpenSSH format (which
# libssh 0.10 cannot hand back) and the same key converted to encrypted
# PEM (which it can); a cipher libssh does not decrypt.
ssh-keygen -q -N 'correct horse' -C encrypted -t ecdsa -b 384 \
    -f encrypted-ecdsa384
ssh-keygen -q -N 'correct horse' -C encrypted -t rsa -b 3072 \
    -f encrypted-rsa3072
cp encrypted-rsa3072 encrypted-rsa3072-pem
ssh-keygen -q -p -m PEM -P 'correct horse' -N 'correct horse' \
    -f encrypted-rsa3072-pem >/dev/null
ssh-keygen -q -N 'correct horse' -C encrypted -t ed25519 \
    -Z chacha20-poly1305@openssh.com -f encrypted-chacha
rm -f encrypted-chacha.pub

# PEM private keys: traditional RSA, PKCS#8 ECDSA, PKCS#8 Ed25519 (openssl),
# and an encrypted PKCS#8 key.
ssh-keygen -q -N '' -C pem -t rsa -b 3072 -m PEM -f pem-rsa3072
ssh-keygen -lf pem-rsa3072.pub > pem-rsa3072.fp
ssh-keygen -q -N '' -C pem -t ecdsa -b 384 -m PKCS8 -f pem-ecdsa384
ssh-keygen -lf pem-ecdsa384.pub > pem-ecdsa384.fp
# The same key with its public point stored compressed (traditional PEM).
openssl ec -in pem-ecdsa384 -conv_form compressed \
    -out pem-ecdsa384-compressed 2>/dev/null
cp pem-ecdsa384.pub pem-ecdsa384-compressed.pub
cp pem-ecdsa384.fp pem-ecdsa384-compressed.fp
openssl genpkey -algorithm ed25519 -out pem-ed25519 2>/dev/null
chmod 600 pem-ed25519
# ssh-keygen 9.2 cannot read PKCS#8 Ed25519: build the .pub line from the
# raw public key (the last 32 bytes of the SubjectPublicKeyInfo DER).
{ printf '\000\000\000\013ssh-ed25519\000\000\000\040'
  openssl pkey -in pem-ed25519 -pubout -outform DER | tail -c 32
} | base64 -w0 | sed 's/^/ssh-ed25519 /; s/$/ pem\n/' > pem-ed25519.pub
ssh-keygen -lf pem-ed25519.pub > pem-ed25519.fp
openssl genpkey -algorithm ec -pkeyopt ec_paramgen_curve:P-256 \
    -aes-256-cbc -pass pass:secret -out pem-encrypted 2>/dev/null

# A user certificate, to check that cert lines are refused as plain keys.
ssh-keygen -q -N '' -C ca -t ed25519 -f cert-ca
ssh-keygen -q -s cert-ca -I test-cert -n alice -V +52w ed25519.pub
mv ed25519-cert.pub user-cert.pub
rm -f cert-ca cert-ca.pub
