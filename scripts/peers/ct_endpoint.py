#!/usr/bin/env python3
"""A small CloudTrail endpoint (JSON 1.1) for `aws cloudtrail validate-logs`.

It answers the two calls the CLI makes (reference, 4.2 to 4.5):
  DescribeTrails  the trail(s) given on the command line
  ListPublicKeys  the public keys of a trailfs signing key ring (backend/sign.h:
                  DIR/REGION/index.json and DIR/REGION/FINGERPRINT.pub, PKCS#1
                  RSAPublicKey DER), for the region the request is signed for
and every other operation with an AWS-style error (HTTP 400,
{"__type": NAME, "message": TEXT}).  It checks no signature; it reads the
region from the SigV4 credential scope (.../DATE/REGION/cloudtrail/aws4_request).

Usage:
  ct_endpoint.py serve TRAIL... --keys DIR [--port N] [--port-file F]
        run in the foreground on 127.0.0.1 (port 0, the default, is a free one,
        written to --port-file when given)
  ct_endpoint.py start PIDFILE TRAIL... --keys DIR [--port N] [--log F]
        start `serve` in the background, wait until it answers (at most 20 s),
        print its URL http://127.0.0.1:PORT; the pid goes to PIDFILE
  ct_endpoint.py stop PIDFILE
        stop it by pid and wait for it to exit

TRAIL is either
  --config FILE     a trail as trailfs's trails/NAME/config.json (or a saved
                    DescribeTrails entry) shows it: Name, S3BucketName,
                    S3KeyPrefix?, HomeRegion, TrailARN, IsMultiRegionTrail
  --name N --bucket B --home-region R --account A [--prefix P] [--multi-region]
                    the ARN is arn:aws:cloudtrail:R:A:trail/N
(--config may be repeated for several trails.)
"""
import argparse
import base64
import http.server
import json
import os
import re
import signal
import socketserver
import subprocess
import sys
import time
import urllib.error
import urllib.request

TARGET_PREFIX = "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101."
JSON_TYPE = "application/x-amz-json-1.1"
REGION_RE = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+$")
FINGERPRINT_RE = re.compile(r"^[0-9a-f]{32}$")
SCOPE_RE = re.compile(r"Credential=[^/,\s]+/\d{8}/([^/,\s]+)/([^/,\s]+)/aws4_request")
BODY_MAX = 1 << 20            # requests here are tiny; refuse anything large
# ValidityEndTime shown for the current key (index.json's 0): the later of the
# request's EndTime and now, plus this margin, so that it covers the range.
CURRENT_KEY_MARGIN = 86400
START_TIMEOUT = 20.0


class ApiError(Exception):
    def __init__(self, name, message):
        super().__init__(message)
        self.name = name
        self.message = message


def trail_from_config(path):
    with open(path, "rb") as f:
        doc = json.load(f)
    if not isinstance(doc, dict):
        raise ValueError(f"{path}: not a JSON object")
    for k in ("Name", "S3BucketName", "HomeRegion", "TrailARN"):
        if not isinstance(doc.get(k), str) or not doc[k]:
            raise ValueError(f"{path}: missing or empty {k}")
    t = {
        "Name": doc["Name"],
        "S3BucketName": doc["S3BucketName"],
        "TrailARN": doc["TrailARN"],
        "HomeRegion": doc["HomeRegion"],
        "IsMultiRegionTrail": bool(doc.get("IsMultiRegionTrail", False)),
        "IsOrganizationTrail": False,
        "LogFileValidationEnabled": True,
        "IncludeGlobalServiceEvents": bool(doc.get("IncludeGlobalServiceEvents", True)),
    }
    if doc.get("S3KeyPrefix"):
        t["S3KeyPrefix"] = doc["S3KeyPrefix"]
    return t


def trail_from_args(name, bucket, home_region, account, prefix, multi_region):
    if not re.fullmatch(r"\d{12}", account or ""):
        raise ValueError(f"account must be 12 digits, not {account!r}")
    if not REGION_RE.match(home_region or ""):
        raise ValueError(f"bad home region {home_region!r}")
    t = {
        "Name": name,
        "S3BucketName": bucket,
        "TrailARN": f"arn:aws:cloudtrail:{home_region}:{account}:trail/{name}",
        "HomeRegion": home_region,
        "IsMultiRegionTrail": bool(multi_region),
        "IsOrganizationTrail": False,
        "LogFileValidationEnabled": True,
        "IncludeGlobalServiceEvents": True,
    }
    if prefix:
        t["S3KeyPrefix"] = prefix
    return t


def load_ring(ring, region):
    """The region's public keys from the ring: a list of dicts with
    Fingerprint, ValidityStartTime, ValidityEndTime (0 = current) and der.
    A region without a directory has no keys."""
    d = os.path.join(ring, region)
    index = os.path.join(d, "index.json")
    if not os.path.exists(index):
        return []
    with open(index, "rb") as f:
        doc = json.load(f)
    if not isinstance(doc, dict) or doc.get("format") != 1 or not isinstance(doc.get("keys"), list):
        raise ApiError("InternalFailure", f"{index}: not a format 1 key ring index")
    keys = []
    for e in doc["keys"]:
        fp = e.get("Fingerprint") if isinstance(e, dict) else None
        start, end = (e.get("ValidityStartTime"), e.get("ValidityEndTime")) if fp else (None, None)
        if not isinstance(fp, str) or not FINGERPRINT_RE.match(fp) or \
           not isinstance(start, (int, float)) or not isinstance(end, (int, float)):
            raise ApiError("InternalFailure", f"{index}: malformed entry {e!r}")
        with open(os.path.join(d, fp + ".pub"), "rb") as f:
            der = f.read()
        keys.append({"Fingerprint": fp, "ValidityStartTime": int(start),
                     "ValidityEndTime": int(end), "der": der})
    return keys


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "trailfs-ct-endpoint"

    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write("ct_endpoint: " + (fmt % args) + "\n")

    def send_json(self, status, doc, extra=None):
        body = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Content-Type", JSON_TYPE)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("x-amzn-RequestId", "%08x-0000-4000-8000-%012x" % (os.getpid(), time.monotonic_ns() % (1 << 48)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def send_error_json(self, err):
        self.send_json(400, {"__type": err.name, "message": err.message}, {"X-Amzn-ErrorType": err.name})

    def do_GET(self):
        # A probe (the start command's readiness check), or a lost client.
        self.send_error_json(ApiError("UnknownOperationException", "Only POST / with X-Amz-Target is served"))

    def do_POST(self):
        try:
            n = int(self.headers.get("Content-Length") or 0)
            if n < 0 or n > BODY_MAX:
                raise ApiError("SerializationException", "request body too large")
            raw = self.rfile.read(n) if n else b"{}"
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                raise ApiError("SerializationException", "request body is not JSON")
            if not isinstance(body, dict):
                raise ApiError("SerializationException", "request body is not a JSON object")
            target = self.headers.get("X-Amz-Target") or ""
            if not target.startswith(TARGET_PREFIX):
                raise ApiError("UnknownOperationException", f"Unknown target {target!r}")
            op = target[len(TARGET_PREFIX):]
            region = self.region()
            if op == "DescribeTrails":
                self.send_json(200, self.describe_trails(body, region))
            elif op == "ListPublicKeys":
                self.send_json(200, self.list_public_keys(body, region))
            else:
                raise ApiError("UnknownOperationException",
                               f"{op} is not served by this endpoint (only DescribeTrails and ListPublicKeys)")
        except ApiError as e:
            self.send_error_json(e)
        except (OSError, ValueError) as e:
            self.send_error_json(ApiError("InternalFailure", str(e)))

    def region(self):
        auth = self.headers.get("Authorization") or ""
        m = SCOPE_RE.search(auth)
        if not m:
            raise ApiError("MissingAuthenticationTokenException",
                           "Request is missing a SigV4 Authorization header with a credential scope")
        region, service = m.group(1), m.group(2)
        if service != "cloudtrail":
            raise ApiError("InvalidSignatureException",
                           f"Credential should be scoped to correct service: 'cloudtrail', not '{service}'")
        if not REGION_RE.match(region):
            raise ApiError("InvalidSignatureException", f"Credential scope names no region: {region!r}")
        return region

    def describe_trails(self, body, region):
        names = body.get("trailNameList")
        shadows = body.get("includeShadowTrails", True)
        out = []
        for t in self.server.trails:
            home = t["HomeRegion"] == region
            if not home and not (t["IsMultiRegionTrail"] and shadows):
                continue
            if names and t["Name"] not in names and t["TrailARN"] not in names:
                continue
            out.append(dict(t))
        return {"trailList": out}

    def list_public_keys(self, body, region):
        now = int(time.time())
        start, end = body.get("StartTime", now), body.get("EndTime", now)
        if not isinstance(start, (int, float)) or not isinstance(end, (int, float)):
            raise ApiError("InvalidTimeRangeException", "StartTime and EndTime must be epoch seconds")
        if start > end:
            raise ApiError("InvalidTimeRangeException", "StartTime must not be after EndTime")
        if body.get("NextToken"):
            raise ApiError("InvalidTokenException", "NextToken is not used by this endpoint")
        out = []
        for k in load_ring(self.server.ring, region):
            kstart, kend = k["ValidityStartTime"], k["ValidityEndTime"]
            if kend == 0:
                kend = max(int(end), now) + CURRENT_KEY_MARGIN
            if kstart > end or kend < start:
                continue
            out.append({"Value": base64.b64encode(k["der"]).decode(), "ValidityStartTime": kstart,
                        "ValidityEndTime": kend, "Fingerprint": k["Fingerprint"]})
        return {"PublicKeyList": out}


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def add_trail_args(p):
    p.add_argument("--config", action="append", default=[], help="trail config.json (repeatable)")
    p.add_argument("--name")
    p.add_argument("--bucket")
    p.add_argument("--prefix", default="")
    p.add_argument("--home-region")
    p.add_argument("--account")
    p.add_argument("--multi-region", action="store_true")
    p.add_argument("--keys", required=True, help="signing key ring directory (DIR/REGION/index.json)")


def trails_of(a):
    trails = [trail_from_config(c) for c in a.config]
    if a.name or a.bucket or a.home_region or a.account:
        if not (a.name and a.bucket and a.home_region and a.account):
            raise ValueError("--name, --bucket, --home-region and --account go together")
        trails.append(trail_from_args(a.name, a.bucket, a.home_region, a.account, a.prefix, a.multi_region))
    if not trails:
        raise ValueError("no trail: give --config FILE or --name/--bucket/--home-region/--account")
    return trails


def trail_argv(a):
    argv = []
    for c in a.config:
        argv += ["--config", os.path.abspath(c)]
    for flag, v in (("--name", a.name), ("--bucket", a.bucket), ("--prefix", a.prefix),
                    ("--home-region", a.home_region), ("--account", a.account)):
        if v:
            argv += [flag, v]
    if a.multi_region:
        argv.append("--multi-region")
    return argv + ["--keys", os.path.abspath(a.keys)]


def serve(a):
    srv = Server(("127.0.0.1", a.port), Handler)
    srv.trails = trails_of(a)
    srv.ring = a.keys
    srv.verbose = a.verbose
    port = srv.server_address[1]
    if a.port_file:
        tmp = a.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(f"{port}\n")
        os.replace(tmp, a.port_file)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        srv.serve_forever()
    finally:
        srv.server_close()


def pid_alive(pid):
    """The process exists and is not a zombie (an orphan's zombie stays until
    init reaps it, which here can take seconds)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def start(a):
    trails_of(a)   # refuse a bad description here, not in the background
    if not os.path.isdir(a.keys):
        raise ValueError(f"key ring {a.keys} is not a directory")
    if os.path.exists(a.pidfile):
        text = open(a.pidfile).read().strip()
        if text.isdigit() and pid_alive(int(text)):
            raise ValueError(f"{a.pidfile} names a running process ({text}); stop it first")
    port_file = a.pidfile + ".port"
    try:
        os.unlink(port_file)
    except FileNotFoundError:
        pass
    log = open(a.log or a.pidfile + ".log", "ab")
    cmd = [sys.executable, os.path.abspath(__file__), "serve", "--port", str(a.port),
           "--port-file", port_file] + trail_argv(a)
    if a.verbose:
        cmd.append("--verbose")
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
    with open(a.pidfile, "w") as f:
        f.write(f"{p.pid}\n")
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if p.poll() is not None:
            os.unlink(a.pidfile)
            raise RuntimeError(f"the endpoint exited at start (status {p.returncode}; log {log.name})")
        if os.path.exists(port_file):
            url = "http://127.0.0.1:" + open(port_file).read().strip()
            try:
                urllib.request.urlopen(url + "/", timeout=2)
            except urllib.error.HTTPError:
                print(url)           # the expected 400: it answers
                return 0
            except OSError:
                pass
        time.sleep(0.05)
    p.kill()
    p.wait()
    os.unlink(a.pidfile)
    raise RuntimeError(f"the endpoint did not answer within {START_TIMEOUT:.0f}s (log {log.name})")


def stop(a):
    try:
        pid = int(open(a.pidfile).read().strip())
    except (OSError, ValueError) as e:
        raise ValueError(f"no pid in {a.pidfile}: {e}")
    try:
        if pid_alive(pid):
            os.kill(pid, signal.SIGTERM)
            for _ in range(50):
                if not pid_alive(pid):
                    break
                time.sleep(0.1)
            else:
                os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    for f in (a.pidfile, a.pidfile + ".port"):
        try:
            os.unlink(f)
        except FileNotFoundError:
            pass
    return 0


def main():
    ap = argparse.ArgumentParser(description="CloudTrail DescribeTrails/ListPublicKeys endpoint for validate-logs")
    sub = ap.add_subparsers(dest="cmd", required=True)
    ps = sub.add_parser("serve")
    add_trail_args(ps)
    ps.add_argument("--port", type=int, default=0)
    ps.add_argument("--port-file")
    ps.add_argument("--verbose", action="store_true", help="log each request on stderr")
    pst = sub.add_parser("start")
    pst.add_argument("pidfile")
    add_trail_args(pst)
    pst.add_argument("--port", type=int, default=0, help="0 (the default): a free port")
    pst.add_argument("--log")
    pst.add_argument("--verbose", action="store_true")
    pstop = sub.add_parser("stop")
    pstop.add_argument("pidfile")
    a = ap.parse_args()
    try:
        if a.cmd == "serve":
            return serve(a)
        if a.cmd == "start":
            return start(a)
        return stop(a)
    except (ValueError, RuntimeError, OSError) as e:
        print(f"ct_endpoint: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
