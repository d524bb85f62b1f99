#!/usr/bin/env bash
# Digest files on a real mount: with a test clock, delivery_interval=1 and
# digest_interval=60, a trail's digests appear in the store one per window
# and region, with the metadata validate-logs reads (signature,
# signature-algorithm); python3's cryptography module verifies a signature
# with the region's public key from the key ring and the hashes of the log
# files; the next window links back; StopLogging ends the chain with a
# final digest; StartLogging starts a new one with null links; a kill -9
# loses nothing; GetTrailStatus has LatestDigestDeliveryTime.
. "$(dirname "$0")/lib.sh"

python3 -c 'import cryptography' 2>/dev/null || { echo "1..0 # SKIP python3 has no cryptography module"; exit 77; }

T0=1767225600                       # 2026-01-01T00:00:00Z
CLOCK=$TF_ROOT/clock
echo "$T0" > "$CLOCK"
tf_refuses "digest_interval=0 is refused" "digest_interval=0: give whole seconds from 1 to 86400" \
	"$MNT" -o digest_interval=0
tf_refuses "key_rotation=soon is refused" "key_rotation=soon: give whole seconds" "$MNT" -o key_rotation=soon
check "--help names digest_interval and key_rotation" bash -c \
	"'$TRAILFS' --help | grep -q 'digest_interval=S' && '$TRAILFS' --help | grep -q 'key_rotation=S'"
OPTS="regions=us-east-1:eu-west-1,delivery_interval=1,digest_interval=60,test_clock=$CLOCK"
tf_start -o "$OPTS" || done_testing
cd "$MNT" || exit 1
check "mkdir trails/main (validation on, multi-region)" mkdir trails/main
BUCKET=$(cat trails/main/s3_bucket)
ACCOUNT=$(jq -r .TrailARN trails/main/config.json | cut -d: -f5)
STORE=$STATE/store
DIG=$STORE/$BUCKET/AWSLogs/$ACCOUNT/CloudTrail-Digest

rec() { # region time name
	printf '{"eventTime":"%s","eventSource":"ec2.amazonaws.com","eventName":"%s","awsRegion":"%s"}\n' "$2" "$3" "$1"
}
# wait_for PATH: until the file exists (30 s: the first digest of a region
# waits for its signing key to be made).
wait_for() {
	local i
	for i in $(seq 300); do [ -e "$1" ] && return 0; sleep 0.1; done
	return 1
}
digest() { # region end-stamp (YYYYMMDDTHHMMSS)
	local d=${2:0:4}/${2:4:2}/${2:6:2}
	echo "$DIG/$1/$d/${ACCOUNT}_CloudTrail-Digest_$1_main_us-east-1_$2Z.json.gz"
}
logs_of() { find "$STORE/$BUCKET/AWSLogs/$ACCOUNT/CloudTrail/$1" -name '*.json.gz' 2>/dev/null | sort; }

# ---- records in two regions, delivered in the first window ----
put_events() {
	{ rec us-east-1 2026-01-01T00:00:05Z RunInstances; rec eu-west-1 2026-01-01T00:00:07Z StopInstances; } > events
}
echo $((T0 + 10)) > "$CLOCK"
check "records for us-east-1 and eu-west-1 are accepted" put_events
for i in $(seq 100); do [ -n "$(logs_of us-east-1)" ] && [ -n "$(logs_of eu-west-1)" ] && break; sleep 0.1; done
check "a log file is delivered in each region" test -n "$(logs_of us-east-1)" -a -n "$(logs_of eu-west-1)"

# ---- the first window closes ----
echo $((T0 + 61)) > "$CLOCK"
D1=$(digest us-east-1 20260101T000100)
check "the us-east-1 digest of 00:00:00-00:01:00 appears in the store" wait_for "$D1"
check "and the eu-west-1 one" wait_for "$(digest eu-west-1 20260101T000100)"
SIDECAR=$STORE/.meta/$BUCKET/objects/${D1#"$STORE/$BUCKET/"}.json
eq "its metadata: signature-algorithm SHA256withRSA" SHA256withRSA \
	"$(jq -r '.meta["signature-algorithm"]' "$SIDECAR" 2>/dev/null)"
check "its metadata: signature, 512 lowercase hex" bash -c \
	"jq -r '.meta.signature' '$SIDECAR' | grep -qxE '[0-9a-f]{512}'"
check "it is one gzip member of JSON" bash -c "gzip -dc '$D1' | jq -e .logFiles"
eq "a chain start: previousDigestSignature null" null "$(gzip -dc "$D1" | jq -c .previousDigestSignature)"
eq "digestS3Object is its own key" "${D1#"$STORE/$BUCKET/"}" "$(gzip -dc "$D1" | jq -r .digestS3Object)"
eq "it lists the us-east-1 log file" "$(logs_of us-east-1 | sed "s|^$STORE/$BUCKET/||")" \
	"$(gzip -dc "$D1" | jq -r '.logFiles[].s3Object')"

# verify STORE BUCKET KEY: the signature with the public key whose
# fingerprint the digest names (the key ring's PKCS#1 DER), each log file's
# hash, and, when given PREVKEY, the link to it.
verify() {
	python3 - "$STORE" "$BUCKET" "$1" "$STATE/signing-keys" "${2:-}" <<'EOF'
import gzip, hashlib, json, os, sys
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
store, bucket, key, ring, prev = sys.argv[1:6]
def obj(k):
    with open(os.path.join(store, bucket, k), 'rb') as f:
        return gzip.decompress(f.read())
def meta(k):
    with open(os.path.join(store, '.meta', bucket, 'objects', k + '.json')) as f:
        return json.load(f)['meta']
body = obj(key)
d = json.loads(body)
region = key.split('/CloudTrail-Digest/')[1].split('/')[0]
fp = d['digestPublicKeyFingerprint']
with open(os.path.join(ring, region, fp + '.pub'), 'rb') as f:
    der = f.read()
assert hashlib.md5(der).hexdigest() == fp, 'fingerprint is not the MD5 of the DER'
pub = serialization.load_der_public_key(der)
sig = meta(key)['signature']
ps = d['previousDigestSignature']
data = '%s\n%s/%s\n%s\n%s' % (d['digestEndTime'], d['digestS3Bucket'], d['digestS3Object'],
                               hashlib.sha256(body).hexdigest(), 'null' if ps is None else ps)
pub.verify(bytes.fromhex(sig), data.encode(), padding.PKCS1v15(), hashes.SHA256())
for l in d['logFiles']:
    assert hashlib.sha256(obj(l['s3Object'])).hexdigest() == l['hashValue'], l['s3Object']
if prev:
    pb = obj(prev)
    assert d['previousDigestS3Object'] == prev, 'previous key'
    assert d['previousDigestHashValue'] == hashlib.sha256(pb).hexdigest(), 'previous hash'
    assert d['previousDigestSignature'] == meta(prev)['signature'], 'previous signature'
    assert d['digestStartTime'] == json.loads(pb)['digestEndTime'], 'windows meet'
print('valid')
EOF
}
K1=${D1#"$STORE/$BUCKET/"}
eq "python3 cryptography verifies the signature and the log file hashes" valid "$(verify "$K1" 2>&1)"

# ---- an empty window links back ----
echo $((T0 + 121)) > "$CLOCK"
D2=$(digest us-east-1 20260101T000200)
check "the next window's digest appears" wait_for "$D2"
eq "an empty window: logFiles [] and null event times" '[] null null' \
	"$(gzip -dc "$D2" | jq -c '.logFiles, .oldestEventTime, .newestEventTime' | tr '\n' ' ' | sed 's/ $//')"
eq "it verifies and links to the first" valid "$(verify "${D2#"$STORE/$BUCKET/"}" "$K1" 2>&1)"
contains "GetTrailStatus has LatestDigestDeliveryTime" '"LatestDigestDeliveryTime":"2026-01-01T00:02:01Z"' \
	"$(cat trails/main/status)"

# ---- kill -9, restart: the chain goes on ----
tf_kill9
tf_start -o "$OPTS" || done_testing
cd "$MNT" || exit 1
echo $((T0 + 181)) > "$CLOCK"
D3=$(digest us-east-1 20260101T000300)
check "after kill -9 and a restart the next digest appears" wait_for "$D3"
eq "and links to the one before the kill" valid "$(verify "${D3#"$STORE/$BUCKET/"}" "${D2#"$STORE/$BUCKET/"}" 2>&1)"

# ---- StopLogging: a final digest; StartLogging: a new chain ----
echo $((T0 + 200)) > "$CLOCK"
check "echo off > logging" bash -c "echo off > trails/main/logging"
DF=$(digest us-east-1 20260101T000320)
check "a final digest ends at the StopLogging" wait_for "$DF"
eq "the final digest verifies and links back" valid "$(verify "${DF#"$STORE/$BUCKET/"}" "${D3#"$STORE/$BUCKET/"}" 2>&1)"
echo $((T0 + 400)) > "$CLOCK"
sleep 1.5
eq "no digests while logging is off" 0 "$(find "$DIG/us-east-1" -name '*T0004*' -o -name '*T0005*' | wc -l)"
check "echo on > logging" bash -c "echo on > trails/main/logging"
echo $((T0 + 461)) > "$CLOCK"
D5=$(digest us-east-1 20260101T000740)
check "the new chain's first digest appears" wait_for "$D5"
eq "with null links" 'null null' "$(gzip -dc "$D5" | jq -c '.previousDigestS3Object, .previousDigestSignature' | tr '\n' ' ' | sed 's/ $//')"
eq "and a good signature" valid "$(verify "${D5#"$STORE/$BUCKET/"}" 2>&1)"
check "digests are not under logs/ (they are not log files)" bash -c "! find trails/main/logs -name '*Digest*' | grep -q ."

cd / || exit 1
done_testing
