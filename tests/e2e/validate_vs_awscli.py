#!/usr/bin/env python3
"""Run the real `aws cloudtrail validate-logs` (aws-cli 1.45) over a local
store's objects and compare it with `trailfs validate --store`, line for line.

    validate_vs_awscli.py TRAILFS FIXTURE_DIR START END [--verbose] [--region R]

The store's objects (FIXTURE_DIR/store/BUCKET/..., metadata from the
.meta sidecars) are copied with their metadata into a moto S3 server on
127.0.0.1; a small CloudTrail endpoint answers DescribeTrails and
ListPublicKeys from FIXTURE_DIR/keys/REGION.json.  Prints both outputs when
they differ; exit 0 when stdout, stderr and the exit code are identical,
1 when not, 77 when moto or the aws CLI is missing."""
import json
import os
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

ACCOUNT = "123456789012"
ARN = "arn:aws:cloudtrail:us-east-1:123456789012:trail/main"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def main():
    args = sys.argv[1:]
    trailfs, fixture, start, end = args[:4]
    extra = args[4:]
    region = "us-east-1"
    if "--region" in extra:
        region = extra[extra.index("--region") + 1]
    try:
        import boto3  # noqa: F401
        import moto  # noqa: F401
    except ImportError:
        return 77
    if subprocess.run(["aws", "--version"], capture_output=True).returncode != 0:
        return 77
    s3port, ctport = free_port(), free_port()
    moto_proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(s3port)],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        return run(trailfs, fixture, start, end, extra, region, s3port, ctport)
    finally:
        moto_proc.terminate()
        moto_proc.wait()


def run(trailfs, fixture, start, end, extra, region, s3port, ctport):
    import boto3
    env = dict(os.environ, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
               AWS_DEFAULT_REGION="us-east-1")
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", s3port), 0.2).close()
            break
        except OSError:
            time.sleep(0.1)
    s3 = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{s3port}", region_name="us-east-1",
                      aws_access_key_id="testing", aws_secret_access_key="testing")
    store = os.path.join(fixture, "store")
    for bucket in sorted(os.listdir(store)):
        if bucket.startswith("."):
            continue
        s3.create_bucket(Bucket=bucket)
        root = os.path.join(store, bucket)
        for d, _, files in os.walk(root):
            for name in files:
                if name.startswith("."):
                    continue
                path = os.path.join(d, name)
                key = os.path.relpath(path, root)
                side = os.path.join(store, ".meta", bucket, "objects", key + ".json")
                meta = {}
                if os.path.exists(side):
                    doc = json.load(open(side))
                    if doc.get("size") == os.path.getsize(path):
                        meta = doc.get("meta", {})
                s3.put_object(Bucket=bucket, Key=key, Body=open(path, "rb").read(), Metadata=meta)

    class CT(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])) or b"{}")
            target = self.headers.get("X-Amz-Target", "").split(".")[-1]
            auth = self.headers.get("Authorization", "")
            req_region = auth.split("/")[2] if "/" in auth else "us-east-1"
            if target == "DescribeTrails":
                out = {"trailList": [{"Name": "main", "S3BucketName": "ct-bucket", "TrailARN": ARN,
                                      "HomeRegion": "us-east-1", "IsOrganizationTrail": False,
                                      "IsMultiRegionTrail": True}]}
            else:
                path = os.path.join(fixture, "keys", req_region + ".json")
                keys = json.load(open(path))["PublicKeyList"] if os.path.exists(path) else []
                s, e = body.get("StartTime", 0), body.get("EndTime", 1e12)
                out = {"PublicKeyList": [k for k in keys if k["ValidityStartTime"] <= e and
                                         (not k["ValidityEndTime"] or k["ValidityEndTime"] >= s)]}
            data = json.dumps(out).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/x-amz-json-1.1")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    srv = HTTPServer(("127.0.0.1", ctport), CT)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    cli_env = dict(env, AWS_ENDPOINT_URL_S3=f"http://127.0.0.1:{s3port}")
    verbose = ["--verbose"] if "--verbose" in extra else []
    t0 = time.time()
    cli = subprocess.run(["aws", "--region", region, "--endpoint-url", f"http://127.0.0.1:{ctport}",
                          "cloudtrail", "validate-logs", "--trail-arn", ARN, "--start-time", start,
                          "--end-time", end] + verbose, capture_output=True, env=cli_env)
    t_cli = time.time() - t0
    srv.shutdown()
    t0 = time.time()
    ours = subprocess.run([trailfs, "validate", "--store", store, "--trail-arn", ARN, "--s3-bucket", "ct-bucket",
                           "--public-keys", os.path.join(fixture, "keys"), "--region", region,
                           "--start-time", start, "--end-time", end] + verbose, capture_output=True)
    t_ours = time.time() - t0
    same = (cli.stdout, cli.stderr, cli.returncode) == (ours.stdout, ours.stderr, ours.returncode)
    if not same or os.environ.get("VALIDATE_SHOW"):
        for name, p in (("aws", cli), ("trailfs", ours)):
            print(f"# --- {name}: exit {p.returncode}")
            for line in p.stdout.decode().splitlines():
                print("# out| " + line)
            for line in p.stderr.decode().splitlines():
                print("# err| " + line)
    print(f"# aws {t_cli:.2f}s, trailfs {t_ours:.3f}s")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
