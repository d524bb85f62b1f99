#!/usr/bin/env python3
"""Copy buckets of a trailfs local store into an S3 endpoint, every object
with its user metadata.

  s3_load.py --store DIR --endpoint URL [--bucket B]... [--region R] [--jobs N] [--replace]

Store layout (backend/store_local.c): DIR/BUCKET/KEY is the object, and
DIR/.meta/BUCKET/objects/KEY.json its sidecar {"size":N,"meta":{NAME:VALUE}};
a sidecar whose size is not the object's describes another write and is
ignored, as the store ignores it.  Files whose name starts with '.' are a
put's temporary files (keys in this store never have such a segment) and are
skipped.  Without --bucket every bucket of the store is copied.  The bucket
is created (in --region, default us-east-1) if it does not exist.  Objects go
up with PutObject in --jobs parallel threads (default 16), with metadata and
nothing else: no Content-Encoding (validate-logs inflates the bytes itself).
With --replace, objects of the bucket that the store does not hold are
deleted first, so that the bucket ends up a copy of the store's (one server
can then serve one store after another).

Prints "s3_load: N objects (M bytes) into BUCKET in S s" per bucket on stderr.
Exits 1 on any failure.  Credentials: whatever the environment gives boto3;
aws_validate sets dummy ones (moto checks no signature).
"""
import argparse
import concurrent.futures
import json
import os
import sys
import time

import boto3
import botocore.config
import botocore.exceptions


def objects(store, bucket):
    """(key, path, metadata) of every object of bucket, in key order."""
    root = os.path.join(store, bucket)
    meta_root = os.path.join(store, ".meta", bucket, "objects")
    out = []
    for d, dirs, files in os.walk(root):
        dirs[:] = [x for x in dirs if not x.startswith(".")]
        for f in files:
            if f.startswith("."):
                continue
            path = os.path.join(d, f)
            if os.path.islink(path) or not os.path.isfile(path):
                continue
            key = os.path.relpath(path, root).replace(os.sep, "/")
            meta = {}
            side = os.path.join(meta_root, key + ".json")
            try:
                with open(side, "rb") as fh:
                    doc = json.load(fh)
                if (isinstance(doc, dict) and doc.get("size") == os.path.getsize(path)
                        and isinstance(doc.get("meta"), dict)):
                    meta = {k: v for k, v in doc["meta"].items() if isinstance(v, str)}
            except (OSError, ValueError):
                pass
            out.append((key, path, meta))
    out.sort()
    return out


def make_client(endpoint, region, jobs):
    cfg = botocore.config.Config(max_pool_connections=jobs, retries={"max_attempts": 3, "mode": "standard"},
                                 s3={"addressing_style": "path"},
                                 request_checksum_calculation="when_required",
                                 response_checksum_validation="when_required")
    return boto3.session.Session().client("s3", endpoint_url=endpoint, region_name=region, config=cfg)


def ensure_bucket(s3, bucket, region):
    try:
        if region == "us-east-1":
            s3.create_bucket(Bucket=bucket)
        else:
            s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})
    except botocore.exceptions.ClientError as e:
        if e.response.get("Error", {}).get("Code") not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
            raise


def delete_others(s3, bucket, keep):
    """Delete the bucket's objects whose keys are not in keep; their count."""
    stale = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        stale += [o["Key"] for o in page.get("Contents", []) if o["Key"] not in keep]
    for i in range(0, len(stale), 1000):
        r = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in stale[i:i + 1000]],
                                                     "Quiet": True})
        if r.get("Errors"):
            raise ValueError(f"deleting from {bucket}: {r['Errors'][0]}")
    return len(stale)


def load(s3, store, bucket, region, jobs, replace):
    t0 = time.monotonic()
    ensure_bucket(s3, bucket, region)
    items = objects(store, bucket)
    deleted = delete_others(s3, bucket, {k for k, _, _ in items}) if replace else 0

    def put(item):
        key, path, meta = item
        with open(path, "rb") as f:
            data = f.read()
        s3.put_object(Bucket=bucket, Key=key, Body=data, Metadata=meta)
        return len(data)

    total = 0
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        for n in pool.map(put, items):
            total += n
    gone = f", {deleted} others deleted" if replace else ""
    print(f"s3_load: {len(items)} objects ({total} bytes) into {bucket}{gone} in {time.monotonic() - t0:.2f} s",
          file=sys.stderr)


def main():
    ap = argparse.ArgumentParser(description="copy a trailfs local store's buckets into S3")
    ap.add_argument("--store", required=True, help="trailfs local store directory")
    ap.add_argument("--endpoint", required=True, help="S3 endpoint URL, e.g. http://127.0.0.1:PORT")
    ap.add_argument("--bucket", action="append", default=[], help="bucket to copy (repeatable; default all)")
    ap.add_argument("--region", default="us-east-1", help="region to create the bucket in")
    ap.add_argument("--jobs", type=int, default=16)
    ap.add_argument("--replace", action="store_true", help="delete the bucket's objects the store lacks")
    a = ap.parse_args()
    try:
        if not os.path.isdir(a.store):
            raise ValueError(f"{a.store} is not a directory")
        buckets = a.bucket or sorted(b for b in os.listdir(a.store)
                                     if not b.startswith(".") and os.path.isdir(os.path.join(a.store, b)))
        if not buckets:
            raise ValueError(f"{a.store} holds no bucket")
        for b in buckets:
            if b.startswith(".") or "/" in b or not os.path.isdir(os.path.join(a.store, b)):
                raise ValueError(f"no bucket {b!r} in {a.store}")
        s3 = make_client(a.endpoint, a.region, max(1, a.jobs))
        for b in buckets:
            load(s3, a.store, b, a.region, max(1, a.jobs), a.replace)
    except (ValueError, OSError, botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as e:
        print(f"s3_load: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
