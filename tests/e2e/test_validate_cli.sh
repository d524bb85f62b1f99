#!/bin/bash
# trailfs validate, end to end: the built binary over a fixture store (made
# by tests/tools/validate_fixture) and over a directory laid out as a
# trailfs mount shows a trail (config.json, digests/ with the signature
# xattrs, raw/, public-keys/), compared with exact expected output; the
# regions of a multi-region trail merged; usage and time errors; and, when
# moto and the aws CLI are installed, the real `aws cloudtrail
# validate-logs` over the same objects, which must print the same bytes.
# Needs $TRAILFS and $VALIDATE_FIXTURE.  No FUSE needed.
set -u
TF_N=0
TF_FAILED=0
ok() { TF_N=$((TF_N + 1)); echo "ok $TF_N - $*"; }
not_ok() { TF_N=$((TF_N + 1)); TF_FAILED=$((TF_FAILED + 1)); echo "not ok $TF_N - $*"; }
diag() { sed 's/^/# /' <<<"$*"; }
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
T=$(mktemp -d /tmp/trailfs-validate.XXXXXX)
trap 'rm -rf "$T"' EXIT
ARN=arn:aws:cloudtrail:us-east-1:123456789012:trail/main
S=2026-01-10T09:00:00Z
E=2026-01-10T12:00:00Z

# same DESC FILE_GOT EXPECTED_TEXT
same() {
	if [ "$(cat "$2")" == "$3" ]; then ok "$1"; else not_ok "$1"; diag "want:"; diag "$3"; diag "got:"; diag "$(cat "$2")"; fi
}
# code DESC GOT WANT
code() { if [ "$2" -eq "$3" ]; then ok "$1 (exit $3)"; else not_ok "$1: exit $2, want $3"; fi; }

validate_store() { # DIR [ARGS...]
	local d=$1; shift
	"$TRAILFS" validate --store "$d/store" --trail-arn $ARN --s3-bucket ct-bucket --public-keys "$d/keys" \
		--start-time $S --end-time $E --no-progress "$@" >"$T/out" 2>"$T/err"
}

HEADER="Validating log files for trail $ARN between $S and $E"
REQ="Results requested for $S to $E"
FOUND="Results found for 2026-01-10T09:00:31Z to $E:"

# ---- clean, and a changed log file, over the store ----
"$VALIDATE_FIXTURE" "$T/clean" clean >"$T/keys.txt"
validate_store "$T/clean"; rc=$?
code "a clean chain" $rc 0
same "a clean chain: stdout" "$T/out" "$HEADER

$REQ
$FOUND

3/3 digest files valid
6/6 log files valid"
same "a clean chain: stderr empty" "$T/err" ""

"$VALIDATE_FIXTURE" "$T/lc" log-changed >"$T/keys.txt"
LOG=$(sed -n 2p "$T/keys.txt")
validate_store "$T/lc"; rc=$?
code "a changed log file" $rc 1
same "a changed log file: stderr" "$T/err" "Log file	s3://ct-bucket/$LOG	INVALID: hash value doesn't match"
grep -q "^5/6 log files valid, 1/6 log files INVALID$" "$T/out" && ok "a changed log file: the ratio" || not_ok "a changed log file: the ratio"

"$VALIDATE_FIXTURE" "$T/dd" digest-deleted >"$T/keys.txt"
DIG=$(sed -n 1p "$T/keys.txt")
validate_store "$T/dd"; rc=$?
code "a deleted digest" $rc 1
same "a deleted digest: stderr" "$T/err" "Digest file	s3://ct-bucket/$DIG	INVALID: not found"

# ---- the same objects through a mount's layout ----
M="$T/mnt"
python3 - "$T/clean/store" "$M" "$T/clean/keys" <<'PY' || not_ok "lay out a mount directory"
import gzip, json, os, sys
store, mnt, keys = sys.argv[1:]
bucket = "ct-bucket"
root = os.path.join(store, bucket)
t = os.path.join(mnt, "trails", "main")
os.makedirs(t)
json.dump({"Name": "main", "S3BucketName": bucket, "HomeRegion": "us-east-1",
           "TrailARN": "arn:aws:cloudtrail:us-east-1:123456789012:trail/main",
           "IsMultiRegionTrail": True}, open(os.path.join(t, "config.json"), "w"))
base = "AWSLogs/123456789012/"
for d, _, files in os.walk(root):
    for name in files:
        path = os.path.join(d, name)
        key = os.path.relpath(path, root)
        data = open(path, "rb").read()
        if key.startswith(base + "CloudTrail-Digest/"):
            dst = os.path.join(t, "digests", key[len(base + "CloudTrail-Digest/"):-3])
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            open(dst, "wb").write(gzip.decompress(data))
            side = json.load(open(os.path.join(store, ".meta", bucket, "objects", key + ".json")))
            for k, v in side["meta"].items():
                os.setxattr(dst, "user.trailfs." + k, v.encode())
        else:
            dst = os.path.join(t, "raw", key[len(base + "CloudTrail/"):])
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            open(dst, "wb").write(data)
os.makedirs(os.path.join(mnt, "public-keys", "us-east-1"))
os.rename(os.path.join(keys, "us-east-1.json"), os.path.join(mnt, "public-keys", "us-east-1", "keys.json"))
PY
"$TRAILFS" validate "$M" --trail main --start-time $S --end-time $E --verbose --no-progress >"$T/mout" 2>"$T/merr"; rc=$?
"$TRAILFS" validate --store "$T/clean/store" --trail-arn $ARN --s3-bucket ct-bucket --public-keys "$T/clean/keys" \
	--start-time $S --end-time $E --verbose --no-progress >"$T/sout" 2>"$T/serr"
code "through a mount's layout" $rc 0
if cmp -s "$T/mout" "$T/sout" && cmp -s "$T/merr" "$T/serr"; then ok "the mount gives the store's output, --verbose"; else not_ok "the mount gives the store's output"; diag "$(diff "$T/mout" "$T/sout")"; fi
# A digest whose signature xattr is gone, through the mount.
D1=$(find "$M/trails/main/digests" -name '*T110031Z.json')
setfattr -x user.trailfs.signature "$D1" 2>/dev/null || python3 -c "import os,sys; os.removexattr(sys.argv[1], 'user.trailfs.signature')" "$D1"
"$TRAILFS" validate "$M" --trail main --start-time $S --end-time $E --no-progress >"$T/mout" 2>"$T/merr"; rc=$?
code "through the mount, a digest without its signature" $rc 1
grep -q "T110031Z.json.gz	INVALID: signature verification failed$" "$T/merr" && ok "the mount: signature verification failed" || not_ok "the mount: signature verification failed"
"$TRAILFS" validate "$M" --trail nosuch --start-time $S --end-time $E >"$T/out" 2>"$T/err"; rc=$?
code "an unknown trail on the mount" $rc 255

# ---- a plain copy of a bucket: no sidecars, metadata from KEY.head.json ----
mkdir -p "$T/copy/store" && cp -r "$T/clean/store/ct-bucket" "$T/copy/store/" && cp -r "$T/clean/keys" "$T/copy/keys"
"$TRAILFS" validate --store "$T/copy/store" --trail-arn $ARN --s3-bucket ct-bucket --public-keys "$T/copy/keys" \
	--start-time $S --end-time $E --no-progress >"$T/out" 2>"$T/err"; rc=$?
code "a copy without metadata" $rc 1
[ "$(grep -c "INVALID: signature verification failed" "$T/err")" -eq 3 ] && ok "a copy without metadata: every digest fails its signature, as the CLI says" \
	|| not_ok "a copy without metadata"
python3 - "$T/clean/store" "$T/copy/store" <<'PY'
import json, os, sys
src, dst = sys.argv[1:]
meta = os.path.join(src, ".meta", "ct-bucket", "objects")
for d, _, files in os.walk(meta):
    for name in files:
        side = json.load(open(os.path.join(d, name)))
        if not side["meta"]:
            continue
        key = os.path.relpath(os.path.join(d, name), meta)[:-len(".json")]
        head = {"AcceptRanges": "bytes", "ContentLength": side["size"], "ContentType": "application/json",
                "ContentEncoding": "gzip", "ServerSideEncryption": "AES256", "Metadata": side["meta"]}
        json.dump(head, open(os.path.join(dst, "ct-bucket", key + ".head.json"), "w"), indent=4)
PY
"$TRAILFS" validate --store "$T/copy/store" --trail-arn $ARN --s3-bucket ct-bucket --public-keys "$T/copy/keys" \
	--start-time $S --end-time $E --no-progress >"$T/out" 2>"$T/err"; rc=$?
code "a copy with head-object files beside the digests" $rc 0
grep -q "^3/3 digest files valid$" "$T/out" && ok "a copy with head-object files: every digest valid" || not_ok "a copy with head-object files"

# ---- a multi-region trail: merged ----
"$VALIDATE_FIXTURE" "$T/mr" clean 3 3 2 >/dev/null
validate_store "$T/mr"; rc=$?
code "three regions" $rc 0
grep -c "^Validating log files" "$T/out" | grep -qx 1 && grep -q "^9/9 digest files valid$" "$T/out" && grep -q "^18/18 log files valid$" "$T/out" \
	&& ok "three regions: one header, one summary over all" || { not_ok "three regions merged"; diag "$(cat "$T/out")"; }
validate_store "$T/mr" --verbose
awk -F'\t' '/^Digest file/ {split($2, p, "/"); print p[7]}' "$T/out" | uniq | tr '\n' ' ' >"$T/order"
same "three regions: each region in turn, in byte order" "$T/order" "ap-south-1 eu-west-1 us-east-1 "
validate_store "$T/mr" --region eu-west-1; rc=$?
grep -q "^3/3 digest files valid$" "$T/out" && ok "--region eu-west-1: that region only" || not_ok "--region eu-west-1"

# ---- usage and time errors, as the CLI ----
"$TRAILFS" validate --help >"$T/out" 2>&1; rc=$?
code "--help" $rc 0
grep -q -- "--public-keys" "$T/out" && ok "--help lists the options" || not_ok "--help lists the options"
"$TRAILFS" validate --store "$T/clean/store" >"$T/out" 2>"$T/err"; rc=$?
code "a missing --start-time" $rc 2
validate_store "$T/clean" --end-time 2026-01-10T08:00:00Z; rc=$?
code "start after end" $rc 255
same "start after end: the CLI's message" "$T/err" "
Invalid time range specified: start-time must occur before end-time"
"$TRAILFS" validate --store "$T/clean/store" --trail-arn foo --s3-bucket ct-bucket --public-keys "$T/clean/keys" --start-time $S >"$T/out" 2>"$T/err"; rc=$?
code "a bad ARN" $rc 255
same "a bad ARN: the CLI's message" "$T/err" "
Invalid trail ARN provided: foo"
"$TRAILFS" validate --store "$T/clean/store" --trail-arn $ARN --s3-bucket ct-bucket --public-keys "$T/clean/keys" --start-time nonsense >"$T/out" 2>"$T/err"; rc=$?
code "an unparsable time" $rc 255
same "an unparsable time: the CLI's message" "$T/err" "
Unable to parse date value: nonsense"
"$TRAILFS" validate --store "$T/clean/store" --trail-arn $ARN --s3-bucket ct-bucket --keys-dir "$T/clean/ring" \
	--start-time $S --end-time $E --no-progress >"$T/out" 2>"$T/err"; rc=$?
code "keys from the ring (--keys-dir)" $rc 0

# ---- the real aws CLI over the same objects ----
if [ -z "${SKIP_AWSCLI:-}" ] && python3 -c "import moto, boto3" 2>/dev/null && command -v aws >/dev/null; then
	for sc in clean log-changed log-deleted log-two-members digest-changed digest-deleted digest-moved \
		  sig-altered meta-removed restart no-keys key-spki backfill backfill-no-ts log-no-bucket; do
		rm -rf "$T/cli"
		"$VALIDATE_FIXTURE" "$T/cli" $sc 5 1 2 >/dev/null
		for v in "" --verbose; do
			if python3 "$here/validate_vs_awscli.py" "$TRAILFS" "$T/cli" $S 2026-01-10T14:00:00Z $v >"$T/cmp" 2>&1; then
				ok "aws cloudtrail validate-logs $v and trailfs validate agree byte for byte: $sc"
			else
				not_ok "aws cloudtrail validate-logs $v and trailfs validate differ: $sc"
				diag "$(cat "$T/cmp")"
			fi
		done
	done
	rm -rf "$T/cli"
	"$VALIDATE_FIXTURE" "$T/cli" clean 3 3 2 >/dev/null
	python3 "$here/validate_vs_awscli.py" "$TRAILFS" "$T/cli" $S $E --region eu-west-1 --verbose >"$T/cmp" 2>&1 \
		&& ok "aws CLI --region eu-west-1 and trailfs validate --region eu-west-1 agree" \
		|| { not_ok "aws CLI --region eu-west-1 differs"; diag "$(cat "$T/cmp")"; }
else
	echo "ok $((TF_N + 1)) # SKIP moto or the aws CLI not installed"; TF_N=$((TF_N + 1))
fi

echo "1..$TF_N"
[ $TF_FAILED -eq 0 ]
