#!/usr/bin/env python3
"""Lay out a trail's log files and its signed hourly digest chain, the way
AWS CloudTrail does (shared/reference/cloudtrail-formats.md, sections 1 to 3),
in trailfs's local store format and signing key ring format.

Written from the reference, not from trailfs's C code, so that the real
`aws cloudtrail validate-logs` accepting it checks the reference, and trailfs
reading it checks trailfs.

Store (backend/store_local.c): STORE/BUCKET/KEY is the object;
STORE/.meta/BUCKET/objects/KEY.json its sidecar {"size":N,"meta":{...}}.
Key ring (backend/sign.h): KEYS/REGION/index.json
{"format":1,"keys":[{"Fingerprint","ValidityStartTime","ValidityEndTime"}]}
(ValidityEndTime 0 for the current key, the last), KEYS/REGION/FP.pub (PKCS#1
RSAPublicKey DER), and KEYS/REGION/FP.key (PKCS#1 RSAPrivateKey DER, 0600) for
the current key only.

Per region and hour h (0 <= h < --hours) there is one digest window
[T + h*3600, T + (h+1)*3600], T = --start + --offset seconds; its digest lists
the log files delivered in the window (--files-per-hour of them, none in an
--empty-hours hour) and links to the previous digest.  In a --stop-hours hour
logging is off: no log files and no digest, and the next digest starts a new
chain (the five previousDigest* members null).  --rotate-hour H closes the
first key at the end of window H-1 and signs later digests with a second key.

Also writes --config (the trail as trailfs's trails/NAME/config.json shows
it) and --manifest: {"trail": {...}, "regions": {REGION: [{"key", "start",
"end", "previous", "logs": [KEY...]}...]}}, digests oldest first.

Example (what tests/e2e/test_aws_cli_peers.sh uses):
  make_fixture.py --store S --keys K --config trail.json --manifest m.json \\
      --regions us-east-1,eu-west-1 --start 2026-01-10T21:00:00Z --hours 5
"""
import argparse
import datetime as dt
import gzip
import hashlib
import json
import os
import random
import sys
import uuid

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

TIME_FMT = "%Y-%m-%dT%H:%M:%SZ"


def iso(t):
    return dt.datetime.fromtimestamp(t, dt.timezone.utc).strftime(TIME_FMT)


def parse_time(s):
    return int(dt.datetime.strptime(s, TIME_FMT).replace(tzinfo=dt.timezone.utc).timestamp())


def utc(t):
    return dt.datetime.fromtimestamp(t, dt.timezone.utc)


def compact(doc):
    return json.dumps(doc, separators=(",", ":")).encode()


class Store:
    """Writes objects and sidecars in trailfs's local store layout."""

    def __init__(self, root, bucket):
        self.root, self.bucket = root, bucket
        for d in (os.path.join(root, bucket), os.path.join(root, ".meta", bucket, "objects")):
            os.makedirs(d, mode=0o700, exist_ok=True)

    def put(self, key, data, meta=None):
        path = os.path.join(self.root, self.bucket, key)
        side = os.path.join(self.root, ".meta", self.bucket, "objects", key + ".json")
        for p, body, mode in ((side, compact({"size": len(data), "meta": meta or {}}), 0o600),
                              (path, data, 0o600)):
            os.makedirs(os.path.dirname(p), mode=0o700, exist_ok=True)
            fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
            with os.fdopen(fd, "wb") as f:
                f.write(body)


class Key:
    def __init__(self, start):
        self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.der = self.private.public_key().public_bytes(serialization.Encoding.DER,
                                                          serialization.PublicFormat.PKCS1)
        self.fingerprint = hashlib.md5(self.der).hexdigest()
        self.start, self.end = start, 0

    def sign(self, data):
        return self.private.sign(data, padding.PKCS1v15(), hashes.SHA256()).hex()


def write_ring(keys_dir, region, ring):
    d = os.path.join(keys_dir, region)
    os.makedirs(d, mode=0o700, exist_ok=True)
    for i, k in enumerate(ring):
        with open(os.path.join(d, k.fingerprint + ".pub"), "wb") as f:
            f.write(k.der)
        if i == len(ring) - 1:
            fd = os.open(os.path.join(d, k.fingerprint + ".key"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(k.private.private_bytes(serialization.Encoding.DER,
                                                serialization.PrivateFormat.TraditionalOpenSSL,
                                                serialization.NoEncryption()))
    index = {"format": 1, "keys": [{"Fingerprint": k.fingerprint, "ValidityStartTime": k.start,
                                    "ValidityEndTime": k.end} for k in ring]}
    with open(os.path.join(d, "index.json"), "wb") as f:
        f.write(compact(index))


def unique(rng):
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    return "".join(rng.choice(alphabet) for _ in range(16))


def record(rng, account, region, t):
    name = rng.choice(["DescribeInstances", "GetObject", "ListBuckets", "AssumeRole", "PutObject",
                       "DescribeTrails", "CreateTrail", "GetBucketAcl"])
    source = {"DescribeInstances": "ec2", "AssumeRole": "sts", "DescribeTrails": "cloudtrail",
              "CreateTrail": "cloudtrail"}.get(name, "s3") + ".amazonaws.com"
    read_only = name.startswith(("Describe", "Get", "List"))
    return {
        "eventVersion": "1.08",
        "userIdentity": {"type": "IAMUser", "principalId": "AIDAEXAMPLE" + "%09d" % rng.randrange(10**9),
                         "arn": f"arn:aws:iam::{account}:user/alice", "accountId": account,
                         "accessKeyId": "AKIAEXAMPLE" + "%09d" % rng.randrange(10**9), "userName": "alice"},
        "eventTime": iso(t),
        "eventSource": source,
        "eventName": name,
        "awsRegion": region,
        "sourceIPAddress": "198.51.100.%d" % rng.randrange(1, 255),
        "userAgent": "aws-cli/1.45.11 Python/3.11.7 Linux/6.1 botocore/1.43.11",
        "requestParameters": {"maxResults": rng.randrange(1, 1000)} if read_only else {"bucketName": "data"},
        "responseElements": None,
        "requestID": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "eventID": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "readOnly": read_only,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": account,
        "eventCategory": "Management",
    }


def hour_set(text):
    return {int(x) for x in text.split(",") if x.strip()} if text else set()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--store", required=True)
    ap.add_argument("--keys", required=True)
    ap.add_argument("--config")
    ap.add_argument("--manifest")
    ap.add_argument("--account", default="123456789012")
    ap.add_argument("--name", default="peers-trail")
    ap.add_argument("--bucket", default="peers-bucket")
    ap.add_argument("--prefix", default="")
    ap.add_argument("--home-region", default="us-east-1")
    ap.add_argument("--regions", default="us-east-1")
    ap.add_argument("--start", default="2026-01-10T21:00:00Z", help="YYYY-MM-DDTHH:MM:SSZ")
    ap.add_argument("--offset", type=int, default=31, help="seconds from --start to the first window")
    ap.add_argument("--hours", type=int, default=5)
    ap.add_argument("--files-per-hour", type=int, default=3)
    ap.add_argument("--records-per-file", type=int, default=5)
    ap.add_argument("--empty-hours", default="", help="comma-separated windows without log files")
    ap.add_argument("--stop-hours", default="", help="comma-separated windows with logging off")
    ap.add_argument("--rotate-hour", type=int, default=-1)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()

    regions = [r for r in a.regions.split(",") if r]
    if a.home_region not in regions:
        sys.exit("make_fixture: --regions must include --home-region")
    if a.prefix.startswith("/") or a.prefix.endswith("/"):
        sys.exit("make_fixture: --prefix without a leading or trailing '/'")
    if not 1 <= a.files_per_hour <= 3000 or a.records_per_file < 1 or a.hours < 1:
        sys.exit("make_fixture: --files-per-hour 1..3000, --records-per-file and --hours at least 1")
    empty, stopped = hour_set(a.empty_hours), hour_set(a.stop_hours)
    rng = random.Random(a.seed)
    base = parse_time(a.start) + a.offset
    pre = a.prefix + "/" if a.prefix else ""
    arn = f"arn:aws:cloudtrail:{a.home_region}:{a.account}:trail/{a.name}"
    store = Store(a.store, a.bucket)
    manifest = {"trail": {"Name": a.name, "S3BucketName": a.bucket, "HomeRegion": a.home_region,
                          "TrailARN": arn, "account": a.account, "prefix": a.prefix,
                          "IsMultiRegionTrail": len(regions) > 1},
                "regions": {}}

    for region in regions:
        ring = [Key(base - 3600)]
        if a.rotate_hour > 0:
            ring[0].end = base + a.rotate_hour * 3600
            ring.append(Key(ring[0].end))
        write_ring(a.keys, region, ring)
        previous = None       # (key, inflated sha256 hex, signature) of the last digest
        digests = []
        for h in range(a.hours):
            start, end = base + h * 3600, base + (h + 1) * 3600
            if h in stopped:
                previous = None
                continue
            logs = []
            n_files = 0 if h in empty else a.files_per_hour
            for i in range(n_files):
                # Deliveries spread over the window, never on its edges.
                delivered = start + 1 + (i * 3598) // n_files + rng.randrange(0, max(1, 3598 // n_files))
                delivered = min(delivered, end - 1)
                times = sorted(delivered - rng.randrange(60, 900) for _ in range(a.records_per_file))
                body = compact({"Records": [record(rng, a.account, region, t) for t in times]})
                d = utc(delivered)
                key = (f"{pre}AWSLogs/{a.account}/CloudTrail/{region}/{d:%Y/%m/%d}/"
                       f"{a.account}_CloudTrail_{region}_{d:%Y%m%dT%H%M}Z_{unique(rng)}.json.gz")
                store.put(key, gzip.compress(body, mtime=0))
                logs.append({"s3Bucket": a.bucket, "s3Object": key,
                             "hashValue": hashlib.sha256(body).hexdigest(), "hashAlgorithm": "SHA-256",
                             "newestEventTime": iso(times[-1]), "oldestEventTime": iso(times[0])})
            e = utc(end)
            key = (f"{pre}AWSLogs/{a.account}/CloudTrail-Digest/{region}/{e:%Y/%m/%d}/"
                   f"{a.account}_CloudTrail-Digest_{region}_{a.name}_{a.home_region}_{e:%Y%m%dT%H%M%S}Z.json.gz")
            signer = next(k for k in ring if k.start <= end and (k.end == 0 or end <= k.end))
            doc = {
                "awsAccountId": a.account,
                "digestStartTime": iso(start),
                "digestEndTime": iso(end),
                "digestS3Bucket": a.bucket,
                "digestS3Object": key,
                "digestPublicKeyFingerprint": signer.fingerprint,
                "digestSignatureAlgorithm": "SHA256withRSA",
                "newestEventTime": max((l["newestEventTime"] for l in logs), default=None),
                "oldestEventTime": min((l["oldestEventTime"] for l in logs), default=None),
                "previousDigestS3Bucket": a.bucket if previous else None,
                "previousDigestS3Object": previous[0] if previous else None,
                "previousDigestHashValue": previous[1] if previous else None,
                "previousDigestHashAlgorithm": "SHA-256" if previous else None,
                "previousDigestSignature": previous[2] if previous else None,
                "logFiles": logs,
            }
            body = compact(doc)
            body_hash = hashlib.sha256(body).hexdigest()
            to_sign = f"{iso(end)}\n{a.bucket}/{key}\n{body_hash}\n{previous[2] if previous else 'null'}"
            signature = signer.sign(to_sign.encode())
            store.put(key, gzip.compress(body, mtime=0),
                      {"signature": signature, "signature-algorithm": "SHA256withRSA"})
            digests.append({"key": key, "start": iso(start), "end": iso(end),
                            "previous": previous[0] if previous else None,
                            "logs": [l["s3Object"] for l in logs]})
            previous = (key, body_hash, signature)
        manifest["regions"][region] = digests

    if a.config:
        config = {"Name": a.name, "S3BucketName": a.bucket, "IncludeGlobalServiceEvents": True,
                  "IsMultiRegionTrail": len(regions) > 1, "HomeRegion": a.home_region, "TrailARN": arn,
                  "LogFileValidationEnabled": True, "HasCustomEventSelectors": False,
                  "HasInsightSelectors": False, "IsOrganizationTrail": False, "IsLogging": True}
        if a.prefix:
            config["S3KeyPrefix"] = a.prefix
        with open(a.config, "w") as f:
            json.dump(config, f, indent=2)
            f.write("\n")
    if a.manifest:
        with open(a.manifest, "w") as f:
            json.dump(manifest, f, indent=1)
            f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
