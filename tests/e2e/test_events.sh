#!/usr/bin/env bash
# Events in, log files out: a person's session with two trails, records from
# several processes, one delivery, and grep and jq over the views.
. "$(dirname "$0")/lib.sh"

echo 1767225600 > "$TF_ROOT/clock"     # 2026-01-01T00:00:00Z
tf_start -o delivery_interval=1,test_clock="$TF_ROOT/clock" || done_testing
cd "$MNT" || exit 1

check "mkdir trails/all" mkdir trails/all
check "mkdir trails/writes" mkdir trails/writes
check "writes: management WriteOnly" bash -c 'echo WriteOnly > trails/writes/management_events'
check "writes: home region only, no global services" bash -c 'echo no > trails/writes/multi_region && echo no > trails/writes/global_service_events'
check "writes: S3 data events on one bucket" bash -c 'echo "finance-reports/2026 ReadOnly" > trails/writes/data_events'
account=$(jq -r .account "$STATE/registry.json")

# The records written to /events (they carry the ingest stamp), not the
# management events of what this test does through the tree.
ingested() { cat "$@" | jq -c 'select(.additionalEventData.trailfsIngest != null)'; }

# One record per line, from several processes at once.
rec() { # region source name [extra-json]
	printf '{"eventTime":"2026-01-01T00:00:%02dZ","eventSource":"%s","eventName":"%s","awsRegion":"%s"%s}\n' \
		"$((RANDOM % 60))" "$2" "$3" "$1" "${4:-}"
}
for p in 1 2 3 4; do
	(
		for i in $(seq 25); do rec us-east-1 ec2.amazonaws.com DescribeInstances; done
		for i in $(seq 10); do rec us-east-1 ec2.amazonaws.com RunInstances; done
		for i in $(seq 5); do rec eu-west-1 ec2.amazonaws.com TerminateInstances; done
		for i in $(seq 3); do rec us-east-1 s3.amazonaws.com GetObject ',"requestParameters":{"bucketName":"finance-reports","key":"2026/q1.csv"}'; done
		for i in $(seq 2); do rec us-east-1 s3.amazonaws.com GetObject ',"requestParameters":{"bucketName":"other-bucket","key":"x"}'; done
	) > "$TF_ROOT/batch$p"
done
writers=()
for p in 1 2 3 4; do cat "$TF_ROOT/batch$p" >> events & writers+=($!); done
wait_ok=0
for j in "${writers[@]}"; do wait "$j" || wait_ok=1; done   # not the daemon: it is a job too
eq "four writers append 45 records each" 0 "$wait_ok"
check "a {\"Records\":[...]} document, pretty-printed, is taken too" bash -c \
	"printf '{\n  \"Records\": [\n    {\"eventTime\":\"2026-01-01T00:00:00Z\",\"eventSource\":\"iam.amazonaws.com\",\"eventName\":\"CreateUser\",\"awsRegion\":\"us-east-1\"}\n  ]\n}\n' >> events"

# Wait for a delivery (the interval is one second).
for i in $(seq 100); do
	n=$(ingested trails/all/logs/*/*/*/*/*.json 2>/dev/null | wc -l)
	[ "$n" -ge 161 ] && break
	sleep 0.1
done
# all (the console's defaults) takes every management event and no data events.
eq "all: every management record, once (160 + 1)" 161 "$(ingested trails/all/logs/*/*/*/*/*.json | wc -l)"
eq "all: us-east-1 has 140 + 1" 141 "$(ingested trails/all/logs/us-east-1/*/*/*/*.json | wc -l)"
eq "all: no data events" 0 "$(cat trails/all/logs/*/*/*/*/*.json | grep -c GetObject)"
eq "all: eu-west-1 has 20" 20 "$(ingested trails/all/logs/eu-west-1/*/*/*/*.json | wc -l)"
eq "writes: writes and its selected data reads in us-east-1" 52 \
	"$(ingested trails/writes/logs/*/*/*/*/*.json | wc -l)"
eq "writes: no DescribeInstances (read-only management)" 0 \
	"$(grep -ch '"eventName":"DescribeInstances"' trails/writes/logs/*/*/*/*/*.json | paste -sd+ | bc)"
eq "writes: no eu-west-1 (home region only)" "" "$(ls trails/writes/logs | grep -v us-east-1)"
eq "writes: no global IAM event" 0 "$(grep -c CreateUser trails/writes/logs/us-east-1/*/*/*/*.json | cut -d: -f2 | paste -sd+ | bc)"
eq "writes: GetObject on finance-reports only" 12 \
	"$(grep -h GetObject trails/writes/logs/us-east-1/*/*/*/*.json | grep -c finance-reports)"
check "every line is a JSON object" bash -c 'cat trails/all/logs/*/*/*/*/*.json | jq -e "type == \"object\"" >/dev/null'
all_lines=$(cat trails/all/logs/*/*/*/*/*.json | wc -l)
eq "eventIDs are unique, management events of the tree's calls included" "$all_lines" \
	"$(cat trails/all/logs/*/*/*/*/*.json | jq -r .eventID | sort -u | wc -l)"
eq "records carry who ingested them" root \
	"$(ingested trails/all/logs/us-east-1/*/*/*/*.json | head -n 1 | jq -r .additionalEventData.trailfsIngest.userName)"
eq "recipientAccountId filled in" "$account" \
	"$(ingested trails/all/logs/us-east-1/*/*/*/*.json | head -n 1 | jq -r .recipientAccountId)"

f=$(ls trails/all/logs/us-east-1/2026/01/01/*.json | head -n 1)
base=$(basename "$f")
eq "file names follow AWS" 1 \
	"$(grep -cE "^${account}_CloudTrail_us-east-1_20260101T0000Z_[A-Za-z0-9]{16}\.json$" <<<"$base")"
eq "stat gives the exact size" "$(cat "$f" | wc -c)" "$(stat -c %s "$f")"
raw=trails/all/raw/us-east-1/2026/01/01/$base.gz
check "raw holds the object" test -f "$raw"
check "raw is one gzip member of AWS's JSON" bash -c "gzip -dc '$raw' | jq -e '.Records | length > 0' >/dev/null"
eq "raw bytes are the store's bytes" "$(sha256sum < "$raw")" \
	"$(sha256sum < "$STATE/store/$(cat trails/all/s3_bucket)/AWSLogs/$account/CloudTrail/us-east-1/2026/01/01/$base.gz")"
contains "status has LatestDeliveryTime" '"LatestDeliveryTime":"2026-01-01T00:00:00Z"' "$(cat trails/all/status)"

# Bad records: EINVAL, nothing of that write accepted, /errors names the line.
before=$(ingested trails/all/logs/*/*/*/*/*.json | wc -l)
{ rec us-east-1 ec2.amazonaws.com A
  echo '{"eventTime":"yesterday","eventSource":"x","eventName":"y","awsRegion":"us-east-1"}'; } > "$TF_ROOT/bad"
expect_fail "a write with a bad second record fails whole (cat writes it at once)" "Invalid argument" \
	bash -c "cat '$TF_ROOT/bad' >> events"
contains "/errors names the line and why" "line 2" "$(last_error)"
contains "/errors names the exception" "InvalidEventException" "$(last_error)"
expect_fail "an unknown region is refused" "Invalid argument" bash -c \
	"echo '{\"eventTime\":\"2026-01-01T00:00:00Z\",\"eventSource\":\"x\",\"eventName\":\"y\",\"awsRegion\":\"mars-1\"}' >> events"
expect_fail "an unfinished record at close is an error (close returns EINVAL)" "EINVAL" python3 -c '
import errno, os
fd = os.open("events", os.O_WRONLY | os.O_APPEND)
os.write(fd, b"{\"eventTime\":\"2026-01-01T00:00:00Z\"")
try:
    os.close(fd)
except OSError as e:
    print(errno.errorcode[e.errno]); raise SystemExit(1)
'
contains "/errors says the record was unfinished" "line 1" "$(last_error)"
expect_fail "events cannot be read" "Operation not permitted" cat events
sleep 1.5
eq "nothing of the refused writes was delivered" "$before" "$(ingested trails/all/logs/*/*/*/*/*.json | wc -l)"

check "logs are read-only" bash -c "! echo x >> '$f'"

# New deliveries appear in listings the kernel keeps (it is told what a
# delivery adds), and a moved delivery location shows at once.
day=trails/all/logs/us-east-1/2026/01/01
n_before=$(ls $day | wc -l)
ls -l $day trails/all/logs trails/all/logs/us-east-1 >/dev/null
echo 1767229200 > "$TF_ROOT/clock"     # an hour later: a new file name, and a new hour's key
rec us-east-1 ec2.amazonaws.com RebootInstances >> events
for i in $(seq 100); do [ "$(ls $day | wc -l)" -gt "$n_before" ] && break; sleep 0.1; done
eq "a new delivery appears in a listed day" $((n_before + 1)) "$(ls $day | wc -l)"
eq "and its file is readable at once" 1 "$(grep -l RebootInstances $day/*.json | wc -l)"
echo 1767312000 > "$TF_ROOT/clock"     # the next day
rec us-east-1 ec2.amazonaws.com StopInstances >> events
for i in $(seq 100); do [ -d trails/all/logs/us-east-1/2026/01/02 ] && break; sleep 0.1; done
eq "a new day appears in a listed month" "01 02" "$(ls trails/all/logs/us-east-1/2026/01 | paste -sd' ')"
ls -R trails/writes/logs >/dev/null
check "writes moves to a new bucket" bash -c "echo trailfs-moved-bucket-e2e > trails/writes/s3_bucket"
eq "its logs/ shows the new location at once: empty" "" "$(ls trails/writes/logs)"
echo 1767225600 > "$TF_ROOT/clock"
cd / || exit 1
tf_restart
eq "the views survive a restart" 163 "$(ingested "$MNT"/trails/all/logs/*/*/*/*/*.json | wc -l)"
done_testing
