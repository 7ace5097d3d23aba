#!/usr/bin/env python3
"""jwt_tool.py - signing keys and hand-made ID tokens for test-oidc.sh.

  jwt_tool.py keys FILE PREFIX        write a key set of private JWKs: RSA
                                      2048 (kid PREFIX-rsa), EC P-256
                                      (PREFIX-ec), Ed25519 (PREFIX-ed)
  jwt_tool.py sign FILE KID CLAIMS    a JWS over the JSON CLAIMS with key
                                      KID of FILE, alg from the key type
  jwt_tool.py none CLAIMS             an unsigned token, alg "none"
  jwt_tool.py payload JWT             the payload of JWT as JSON

Uses the cryptography package (Debian's python3-cryptography).
"""
import base64
import json
import sys

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature)


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def num(n, size=None):
    size = size or (n.bit_length() + 7) // 8
    return b64(n.to_bytes(size, "big"))


def unnum(text):
    return int.from_bytes(unb64(text), "big")


def make_keys(path, prefix):
    r = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    rn = r.private_numbers()
    e = ec.generate_private_key(ec.SECP256R1())
    en = e.private_numbers()
    d = ed25519.Ed25519PrivateKey.generate()
    raw = serialization.Encoding.Raw
    keys = [
        {"kty": "RSA", "kid": prefix + "-rsa", "use": "sig", "alg": "RS256",
         "n": num(rn.public_numbers.n), "e": num(rn.public_numbers.e),
         "d": num(rn.d), "p": num(rn.p), "q": num(rn.q),
         "dp": num(rn.dmp1), "dq": num(rn.dmq1), "qi": num(rn.iqmp)},
        {"kty": "EC", "kid": prefix + "-ec", "use": "sig", "alg": "ES256",
         "crv": "P-256", "x": num(en.public_numbers.x, 32),
         "y": num(en.public_numbers.y, 32), "d": num(en.private_value, 32)},
        {"kty": "OKP", "kid": prefix + "-ed", "use": "sig", "alg": "EdDSA",
         "crv": "Ed25519",
         "x": b64(d.public_key().public_bytes(raw,
                                              serialization.PublicFormat.Raw)),
         "d": b64(d.private_bytes(raw, serialization.PrivateFormat.Raw,
                                  serialization.NoEncryption()))},
    ]
    with open(path, "w") as f:
        json.dump({"keys": keys}, f)


def load_key(path, kid):
    with open(path) as f:
        for k in json.load(f)["keys"]:
            if k["kid"] == kid:
                return k
    sys.exit("no key " + kid)


def sign(path, kid, claims):
    k = load_key(path, kid)
    header = {"alg": k["alg"], "kid": kid, "typ": "JWT"}
    data = (b64(json.dumps(header).encode()) + "." +
            b64(claims.encode())).encode()
    if k["kty"] == "RSA":
        pub = rsa.RSAPublicNumbers(unnum(k["e"]), unnum(k["n"]))
        key = rsa.RSAPrivateNumbers(
            unnum(k["p"]), unnum(k["q"]), unnum(k["d"]), unnum(k["dp"]),
            unnum(k["dq"]), unnum(k["qi"]), pub).private_key()
        sig = key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    elif k["kty"] == "EC":
        key = ec.derive_private_key(unnum(k["d"]), ec.SECP256R1())
        r, s = decode_dss_signature(key.sign(data,
                                             ec.ECDSA(hashes.SHA256())))
        sig = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    else:
        key = ed25519.Ed25519PrivateKey.from_private_bytes(unb64(k["d"]))
        sig = key.sign(data)
    return data.decode() + "." + b64(sig)


def main(argv):
    if len(argv) == 4 and argv[1] == "keys":
        make_keys(argv[2], argv[3])
    elif len(argv) == 5 and argv[1] == "sign":
        print(sign(argv[2], argv[3], argv[4]))
    elif len(argv) == 3 and argv[1] == "none":
        print(b64(b'{"alg":"none","typ":"JWT"}') + "." +
              b64(argv[2].encode()) + ".")
    elif len(argv) == 3 and argv[1] == "payload":
        print(unb64(argv[2].split(".")[1]).decode())
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
