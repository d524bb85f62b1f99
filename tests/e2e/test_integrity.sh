#!/usr/bin/env bash
# user.trailfs.integrity on the files under logs/ and raw/: unlisted until a
# digest lists the file, valid once a valid digest lists it with its hash,
# invalid when the object was changed or its digest is not valid; and with
# -o verify_reads an invalid log file does not open (EIO, /errors says why).
. "$(dirname "$0")/lib.sh"

T0=1767225600                       # 2026-01-01T00:00:00Z
CLOCK=$TF_ROOT/clock
echo $((T0 + 10)) > "$CLOCK"
OPTS="regions=us-east-1,delivery_interval=1,digest_interval=60,test_clock=$CLOCK"
tf_start -o "$OPTS" || done_testing
cd "$MNT" || exit 1
check "mkdir trails/main" mkdir trails/main
BUCKET=$(cat trails/main/s3_bucket)
STORE=$STATE/store

rec() { printf '{"eventTime":"%s","eventSource":"ec2.amazonaws.com","eventName":"%s","awsRegion":"us-east-1"}\n' "$1" "$2"; }
status_has() { [ "$(jq -r ".$1 // empty" trails/main/status)" \> "$2" ] || [ "$(jq -r ".$1 // empty" trails/main/status)" == "$2" ]; }
wait_status() { # MEMBER ISO: until status shows it at or after ISO
	local i
	for i in $(seq 300); do status_has "$1" "$2" && return 0; sleep 0.1; done
	return 1
}
integrity() { getfattr -n user.trailfs.integrity --only-values "$1" 2>&1; }
day=trails/main/logs/us-east-1/2026/01/01
rawday=trails/main/raw/us-east-1/2026/01/01

check "records accepted" sh -c "printf '%s\n' '$(rec 2026-01-01T00:00:05Z RunInstances)' > events"
check "delivered" wait_status LatestDeliveryTime 2026-01-01T00:00:10Z
f1=$(grep -l RunInstances $day/*.json | head -n 1)
r1=$rawday/$(basename "$f1").gz
eq "before any digest: unlisted" unlisted "$(integrity "$f1")"
eq "the attribute is listed" user.trailfs.integrity "$(getfattr -d "$f1" 2>/dev/null | grep -o '^user[^=]*')"

# The chain began at mkdir (00:00:10): its first window ends at 00:01:10.
echo $((T0 + 71)) > "$CLOCK"
check "the first window's digest" wait_status LatestDigestDeliveryTime 2026-01-01T00:01:10Z
eq "a valid digest lists it: valid" valid "$(integrity "$f1")"
eq "the same in raw/" valid "$(integrity "$r1")"
expect_fail "a digest has no integrity attribute" "No such attribute" \
	getfattr -n user.trailfs.integrity "$(ls trails/main/digests/us-east-1/2026/01/01/*.json | head -n 1)"

echo $((T0 + 80)) > "$CLOCK"
check "more records" sh -c "printf '%s\n' '$(rec 2026-01-01T00:01:15Z StopInstances)' > events"
check "delivered in the second window" wait_status LatestDeliveryTime 2026-01-01T00:01:20Z
f2=$(grep -l StopInstances $day/*.json | head -n 1)
eq "a file no digest lists yet: unlisted" unlisted "$(integrity "$f2")"

# Change the first log file in the store: same size metadata, new bytes.
key1=${f1#trails/main/logs/}
obj=$(find "$STORE/$BUCKET" -path "*CloudTrail/$key1.gz")
check "the log object is in the store" test -f "$obj"
gzip -dc "$obj" | sed 's/RunInstances/RunInstancez/' | gzip -n > "$TF_ROOT/changed" && cp "$TF_ROOT/changed" "$obj"
eq "a changed log file: invalid" invalid "$(integrity "$f1")"
eq "the other is still unlisted" unlisted "$(integrity "$f2")"
# (the kernel keeps what it read of a delivered file: a remount forgets it)
cd / && tf_restart -o "$OPTS" && cd "$MNT" || exit 1
check "without verify_reads a changed file still reads, changed" grep -q RunInstancez "$f1"

cd / && tf_restart -o "$OPTS,verify_reads" && cd "$MNT" || exit 1
expect_fail "with verify_reads an invalid log file fails with EIO" "Input/output error" cat "$f1"
contains "/errors says why" "LogFileIntegrityException" "$(last_error)"
expect_fail "and in raw/" "Input/output error" cat "$r1"
check "an unlisted file still reads" grep -q StopInstances "$f2"

# A digest whose signature is wrong vouches for nothing.
dkey=$(find "$STORE/$BUCKET" -path '*CloudTrail-Digest/*' -name '*.json.gz' | head -n 1)
side=$STORE/.meta/$BUCKET/objects/${dkey#"$STORE/$BUCKET/"}.json
jq -c '.meta.signature = ("0" * 512)' "$side" > "$TF_ROOT/side" && cp "$TF_ROOT/side" "$side"
gzip -dc "$TF_ROOT/changed" | sed 's/RunInstancez/RunInstances/' | gzip -n > "$obj"
eq "the log restored, but its digest's signature is bad: invalid" invalid "$(integrity "$f1")"
rm -f "$dkey" "$side"
eq "its digest gone: unlisted" unlisted "$(integrity "$f1")"
check "and it reads" grep -q RunInstances "$f1"

cd /
done_testing
