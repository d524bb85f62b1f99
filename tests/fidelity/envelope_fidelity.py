#!/usr/bin/env python3
"""Format fidelity of backend/envelope.c, checked by an independent decryptor.

Runs envelope_emit (argv[1]) into a temporary directory, then, using only
Python's `cryptography` and the published S3 encryption client V2 format
(reference section 9.2), decrypts the object with the data key and checks
the plaintext byte for byte.  It also unwraps the data key itself from
x-amz-key-v2 following the wrapped-key format documented in backend/crypto.h
and the ring's state layout in backend/keyring.h.  Prints TAP.
"""
import base64
import json
import os
import struct
import subprocess
import sys
import tempfile

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

count = 0
failed = 0


def ok(cond, name):
    global count, failed
    count += 1
    if not cond:
        failed += 1
    print(("ok" if cond else "not ok") + " %d - %s" % (count, name))
    sys.stdout.flush()


def b64(s):
    # Strict: standard alphabet, padding required.
    return base64.b64decode(s.encode("ascii"), validate=True)


def canonical_context(ctx):
    """crypto.h: u32be count, then sorted by key bytes, each pair as
    u32be len + key bytes, u32be len + value bytes."""
    out = struct.pack(">I", len(ctx))
    for k in sorted(ctx, key=lambda k: k.encode("utf-8")):
        kb, vb = k.encode("utf-8"), ctx[k].encode("utf-8")
        out += struct.pack(">I", len(kb)) + kb + struct.pack(">I", len(vb)) + vb
    return out


def main():
    emit = sys.argv[1]
    with tempfile.TemporaryDirectory() as d:
        r = subprocess.run([emit, d])
        ok(r.returncode == 0, "envelope_emit ran")
        if r.returncode != 0:
            print("1..%d" % count)
            return 1
        obj = open(os.path.join(d, "object.bin"), "rb").read()
        meta = json.load(open(os.path.join(d, "metadata.json")))
        data_key = open(os.path.join(d, "datakey.bin"), "rb").read()
        plain = open(os.path.join(d, "plaintext.bin"), "rb").read()

        # The V2 metadata, by the published format.
        want = {"x-amz-key-v2", "x-amz-iv", "x-amz-cek-alg", "x-amz-wrap-alg",
                "x-amz-matdesc", "x-amz-tag-len", "x-amz-unencrypted-content-length"}
        ok(set(meta) == want, "exactly the V2 metadata keys, without x-amz-meta-: %s" % sorted(meta))
        ok("x-amz-key" not in meta and not any(k in meta for k in ("x-amz-3", "x-amz-c", "x-amz-d", "x-amz-i")),
           "no V1 or V3 keys beside them")
        ok(meta.get("x-amz-cek-alg") == "AES/GCM/NoPadding", "x-amz-cek-alg AES/GCM/NoPadding")
        ok(meta.get("x-amz-wrap-alg") == "kms+context", "x-amz-wrap-alg kms+context")
        ok(meta.get("x-amz-tag-len") == "128", "x-amz-tag-len 128")
        matdesc = json.loads(meta["x-amz-matdesc"])
        ok(isinstance(matdesc, dict) and all(isinstance(v, str) for v in matdesc.values()),
           "x-amz-matdesc is a JSON object of strings")
        ok(matdesc.get("aws:x-amz-cek-alg") == meta["x-amz-cek-alg"],
           "matdesc's aws:x-amz-cek-alg equals x-amz-cek-alg (the v2 decrypter's check)")
        ok(matdesc.get("aws:cloudtrail:arn") == "arn:aws:cloudtrail:us-east-1:123456789012:trail/audit",
           "matdesc holds aws:cloudtrail:arn")
        ok(all(0x20 <= ord(c) < 0x7f for v in meta.values() for c in v), "metadata values are printable ASCII")
        iv = b64(meta["x-amz-iv"])
        ok(len(iv) == 12, "x-amz-iv is 12 bytes")
        ok(len(obj) == len(plain) + 16, "object = plaintext + 16-byte tag")
        ok(int(meta["x-amz-unencrypted-content-length"]) == len(plain), "x-amz-unencrypted-content-length")

        # The content: AES-256-GCM, no AAD, tag appended.
        got = AESGCM(data_key).decrypt(iv, obj, None)
        ok(got == plain, "independent decryption gives byte-identical plaintext (%d bytes)" % len(plain))
        ok(b"FIDELITY-MARKER-1999" in got and b"FIDELITY-MARKER" not in obj, "marker in plaintext only")
        bad = bytearray(obj)
        bad[len(bad) // 2] ^= 1
        try:
            AESGCM(data_key).decrypt(iv, bytes(bad), None)
            ok(False, "a tampered object fails the tag")
        except InvalidTag:
            ok(True, "a tampered object fails the tag")

        # The wrapped key, by crypto.h's documented format.
        blob = b64(meta["x-amz-key-v2"])
        ok(len(blob) == 97, "x-amz-key-v2 is 97 bytes")
        version, key_id = blob[0], blob[1:37].decode("ascii")
        wiv, wkey, wtag = blob[37:49], blob[49:81], blob[81:97]
        ok(version == 1, "wrapped key version 1")
        index = json.load(open(os.path.join(d, "ring", "keyring.json")))
        ok(index.get("format") == 1 and [k["KeyId"] for k in index["keys"]] == [key_id],
           "the blob names the ring's key (keyring.json, format 1)")
        ring_key = open(os.path.join(d, "ring", key_id + ".key"), "rb").read()
        ok(len(ring_key) == 32, "ring key material: 32 raw bytes in ID.key")
        ok(os.stat(os.path.join(d, "ring", key_id + ".key")).st_mode & 0o777 == 0o600, "ID.key is 0600")
        aad = blob[:37] + canonical_context(matdesc)
        unwrapped = AESGCM(ring_key).decrypt(wiv, wkey + wtag, aad)
        ok(unwrapped == data_key, "unwrapping by the documented format gives the data key")
        other = dict(matdesc)
        other["aws:cloudtrail:arn"] += "x"
        try:
            AESGCM(ring_key).decrypt(wiv, wkey + wtag, blob[:37] + canonical_context(other))
            ok(False, "another context does not unwrap")
        except InvalidTag:
            ok(True, "another context does not unwrap")
    print("1..%d" % count)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
