#!/usr/bin/env bash
# The proof of issue 4 on trailfs's own output: a real mount with a test
# clock writes a multi-region trail (us-east-1 home, eu-west-1) under a key
# prefix, with log files from several writing processes, an empty window, a
# day boundary (the clock starts at 23:55 UTC), a scheduled key rotation and
# a chain restart (logging off, later on).  Then:
#   - clean: `trailfs validate` over the store and over the mount (its keys
#     from public-keys/REGION/keys.json) prints exactly what the real,
#     unmodified `aws cloudtrail validate-logs` (through
#     scripts/peers/aws_validate: moto S3 and a local CloudTrail endpoint)
#     prints, per region, plain and --verbose: every digest and log valid,
#     exit 0, the gap of the restart on stderr;
#   - tampered copies of the state (a log file changed, deleted, rewritten as
#     two gzip members; a digest changed, deleted, moved, its signature
#     altered, its metadata removed): the CLI's verdict, and trailfs validate
#     (store, and mount over the copy) matching it byte for byte; the mount's
#     user.trailfs.integrity of the files concerned, and -o verify_reads.
# The mount's public-keys/REGION/ (keys.json, FINGERPRINT.pem) is checked
# against the key ring.
# Skips (77) without the aws CLI, moto, boto3 or python3's cryptography.
. "$(dirname "$0")/lib.sh"

SRC=${TRAILFS_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
AV=$SRC/scripts/peers/aws_validate
command -v aws >/dev/null || { echo "1..0 # SKIP no aws CLI on PATH"; exit 77; }
python3 -c 'import moto.server, boto3, cryptography' 2>/dev/null ||
	{ echo "1..0 # SKIP python3 lacks moto, boto3 or cryptography"; exit 77; }
command -v jq >/dev/null || { echo "1..0 # SKIP no jq"; exit 77; }

T0=1767311700                       # 2026-01-01T23:55:00Z
CLOCK=$TF_ROOT/clock
NOW=$T0
echo "$T0" > "$CLOCK"
OPTS="regions=us-east-1:eu-west-1,delivery_interval=1,digest_interval=60,key_rotation=150,test_clock=$CLOCK"
PREFIX=audit
REGIONS=(eu-west-1 us-east-1)       # byte order, as trailfs validate takes them
ST=2026-01-01T23:50:00Z             # the range validated
ET=2026-01-02T00:10:00Z

iso() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ; }
stamp() { date -u -d "@$1" +%Y%m%dT%H%M%SZ; }
set_clock() { NOW=$1; echo "$1" > "$CLOCK"; }

# poll SECONDS CMD...: until CMD succeeds, every 50 ms.  No fixed sleeps.
poll() {
	local n=$(($1 * 20)) i; shift
	for ((i = 0; i < n; i++)); do "$@" && return 0; sleep 0.05; done
	return 1
}
status_is() { [ "$(jq -r ".$1 // empty" "$MNT/trails/main/status" 2>/dev/null)" = "$2" ]; }

tf_start -o "$OPTS" || done_testing
cd "$MNT" || exit 1

# ---- the trail: reads not logged (so reading status leaves a window empty),
# a key prefix the bucket policy allows ----
check "mkdir trails/main" mkdir trails/main
check "management_events WriteOnly" bash -c "echo WriteOnly > trails/main/management_events"
B=$(cat trails/main/s3_bucket)
ACCT=$(jq -r .TrailARN trails/main/config.json | cut -d: -f5)
ARN=arn:aws:cloudtrail:us-east-1:$ACCT:trail/main
check "the bucket policy allows the prefix" \
	sed -i "s#$B/AWSLogs/#$B/$PREFIX/AWSLogs/#" "buckets/$B/policy.json"
check "echo $PREFIX > s3_key_prefix" bash -c "echo $PREFIX > trails/main/s3_key_prefix"
cp trails/main/config.json "$TF_ROOT/config.json"
eq "config.json: prefix and multi-region" "$PREFIX true" \
	"$(jq -r '"\(.S3KeyPrefix) \(.IsMultiRegionTrail)"' "$TF_ROOT/config.json")"
STORE=$STATE/store
KEYS=$STATE/signing-keys
BASE=$STORE/$B/$PREFIX/AWSLogs/$ACCT

# The records written so far to /events, and those of them delivered.
SENT=0
delivered() {
	find "$BASE/CloudTrail" -name '*.json.gz' -exec gzip -dc {} + 2>/dev/null |
		jq -s '[.[].Records[] | select(.eventSource == "ec2.amazonaws.com")] | length'
}
all_delivered() { [ "$(delivered)" = "$SENT" ] && status_is LatestDeliveryTime "$(iso "$NOW")"; }
rec() { # region time name
	printf '{"eventTime":"%s","eventSource":"ec2.amazonaws.com","eventName":"%s","awsRegion":"%s"}\n' "$2" "$3" "$1"
}
# batch: at the clock's time, three processes append records of both regions
# to /events at once; wait until all of them are in delivered log files.
batch() {
	local t p pids=()
	t=$(iso "$NOW")
	for p in 1 2 3; do
		( for i in 1 2; do rec us-east-1 "$t" RunInstances; rec eu-west-1 "$t" TerminateInstances; done \
			>> "$MNT/events" ) &
		pids+=($!)
	done
	local bad=0
	for p in "${pids[@]}"; do wait "$p" || bad=1; done
	SENT=$((SENT + 12))
	if [ "$bad" = 0 ] && poll 30 all_delivered; then
		ok "records from 3 processes at $t are delivered"
	else
		not_ok "records from 3 processes at $t are delivered"
		diag "delivered $(delivered) of $SENT; status $(cat trails/main/status)"
	fi
}
digest_of() { # region end-epoch
	local s
	s=$(stamp "$2")
	echo "$BASE/CloudTrail-Digest/$1/${s:0:4}/${s:4:2}/${s:6:2}/${ACCT}_CloudTrail-Digest_$1_main_us-east-1_$s.json.gz"
}
both_digests() { [ -e "$(digest_of us-east-1 "$1")" ] && [ -e "$(digest_of eu-west-1 "$1")" ]; }
# window_closes END: the clock one second past END; both regions' digests
# ending at END appear, and status says when.
window_closes() {
	set_clock $(($1 + 1))
	if poll 30 status_is LatestDigestDeliveryTime "$(iso "$NOW")" && poll 10 both_digests "$1"; then
		ok "the digests ending $(iso "$1") are delivered in both regions"
	else
		not_ok "the digests ending $(iso "$1") are delivered in both regions"
		diag "status $(cat trails/main/status)"
	fi
}

# ---- the first chain: windows from T0 (the prefix change started it) ----
check "the set-up's own records are delivered" poll 30 status_is LatestDeliveryTime "$(iso "$T0")"
set_clock $((T0 + 10)); batch
window_closes $((T0 + 60))
window_closes $((T0 + 120))                            # empty in both regions
set_clock $((T0 + 150)); batch
window_closes $((T0 + 180))
set_clock $((T0 + 200)); batch
window_closes $((T0 + 240))
set_clock $((T0 + 290)); batch                         # 23:59:50, in 2026/01/01
window_closes $((T0 + 300))                            # 00:00:00, in 2026/01/02
set_clock $((T0 + 310)); batch
set_clock $((T0 + 345))
check "echo off > logging (00:00:45): the chain ends" bash -c "echo off > trails/main/logging"
check "with a final digest in both regions" both_digests $((T0 + 345))
# ---- the second chain: windows from the StartLogging ----
set_clock $((T0 + 400))
check "echo on > logging (00:01:40): a new chain" bash -c "echo on > trails/main/logging"
set_clock $((T0 + 410)); batch
window_closes $((T0 + 460))
window_closes $((T0 + 520))
ND=$(find "$BASE/CloudTrail-Digest" -name '*.json.gz' | wc -l)
eq "digests: 8 windows in each of 2 regions" 16 "$ND"
# ---- what the store holds: the facts the runs below are judged by ----
# digests_of REGION: the region's digest keys, oldest first; logs_of REGION:
# its log file keys.  key PATH: the object key of a store path.
key() { echo "${1#"$STORE/$B/"}"; }
digests_of() { find "$BASE/CloudTrail-Digest/$1" -name '*.json.gz' | LC_ALL=C sort; }
logs_of() { find "$BASE/CloudTrail/$1" -name '*.json.gz' | LC_ALL=C sort; }
listed_logs() { # REGION: the log files the region's digests list, sorted
	local d
	for d in $(digests_of "$1"); do gzip -dc "$d" | jq -r '.logFiles[].s3Object'; done | LC_ALL=C sort
}
declare -A NDIG NLOG
for R in "${REGIONS[@]}"; do
	NDIG[$R]=$(digests_of "$R" | wc -l)
	NLOG[$R]=$(logs_of "$R" | wc -l)
	eq "$R: every log file delivered is listed in a digest, once" \
		"$(for f in $(logs_of "$R"); do key "$f"; done)" "$(listed_logs "$R")"
	eq "$R: an empty window (23:56-23:57): logFiles []" '[]' \
		"$(gzip -dc "$(digest_of "$R" $((T0 + 120)))" | jq -c .logFiles)"
	check "$R: the digest ending 00:00:00 is in 2026/01/02 and lists a log file of 2026/01/01" bash -c \
		"gzip -dc '$(digest_of "$R" $((T0 + 300)))' | jq -e '[.logFiles[].s3Object | select(test(\"/2026/01/01/\"))] | length > 0'"
	eq "$R: the second chain starts with null links" null \
		"$(gzip -dc "$(digest_of "$R" $((T0 + 460)))" | jq -c .previousDigestS3Object)"
	eq "$R: digests are signed with 3 keys (key_rotation)" 3 \
		"$(for d in $(digests_of "$R"); do gzip -dc "$d" | jq -r .digestPublicKeyFingerprint; done | sort -u | wc -l)"
done

# ---- the runs ----
# run NAME CMD...: CMD's stdout, stderr and exit status in $TF_ROOT/NAME.{out,err,rc}.
run() {
	local n=$1 rc=0; shift
	"$@" >"$TF_ROOT/$n.out" 2>"$TF_ROOT/$n.err" || rc=$?
	echo "$rc" >"$TF_ROOT/$n.rc"
}
# cli NAME ARGS...: the real validate-logs through the peers (aws_validate --use).
cli() { local n=$1; shift; run "$n" "$AV" --use "$PEERS" --start-time "$ST" --end-time "$ET" "$@"; }
# tfv_store NAME STORE KEYS ARGS...; tfv_mount NAME MOUNTPOINT ARGS...: trailfs validate.
tfv_store() {
	local n=$1 s=$2 k=$3; shift 3
	run "$n" "$TRAILFS" validate --store "$s" --trail-arn "$ARN" --s3-bucket "$B" --s3-prefix "$PREFIX" \
		--keys-dir "$k" --start-time "$ST" --end-time "$ET" --no-progress "$@"
}
tfv_mount() {
	local n=$1 m=$2; shift 2
	run "$n" "$TRAILFS" validate "$m" --trail main --start-time "$ST" --end-time "$ET" --no-progress "$@"
}
rc_of() { cat "$TF_ROOT/$1.rc"; }
out_of() { cat "$TF_ROOT/$1.out"; }
err_of() { cat "$TF_ROOT/$1.err"; }
# same DESC A B: runs A and B printed the same bytes on each stream and exited alike.
same() {
	local a=$TF_ROOT/$2 b=$TF_ROOT/$3
	if cmp -s "$a.out" "$b.out" && cmp -s "$a.err" "$b.err" && cmp -s "$a.rc" "$b.rc"; then
		ok "$1"
	else
		not_ok "$1"
		diag "exit $(cat "$a.rc") vs $(cat "$b.rc")"
		diag "$(diff -u --label "$2.out" --label "$3.out" "$a.out" "$b.out")"
		diag "$(diff -u --label "$2.err" --label "$3.err" "$a.err" "$b.err")"
	fi
}
# Mount mode takes the keys from the mount's public-keys/REGION/keys.json:
# each region's keys.json and .pem files, against the key ring.
mount_keys() { [ -e "$1/public-keys/us-east-1/keys.json" ] && [ -e "$1/public-keys/eu-west-1/keys.json" ]; }
check "the mount has public-keys/REGION/keys.json for both regions" mount_keys "$MNT"
for R in "${REGIONS[@]}"; do
	eq "public-keys/$R: keys.json is the ring's ListPublicKeys, a .pem per key, each the PKCS#1 key of its MD5" ok \
		"$(python3 - "$MNT/public-keys/$R" "$KEYS/$R" 2>&1 <<-'PY'
		import base64, hashlib, json, os, sys
		view, ring = sys.argv[1:]
		want = json.load(open(ring + "/index.json"))["keys"]
		got = json.load(open(view + "/keys.json"))["PublicKeyList"]
		fps = sorted(k["Fingerprint"] for k in want)
		assert sorted(k["Fingerprint"] for k in got) == fps, (got, fps)
		assert sorted(n[:-4] for n in os.listdir(view) if n.endswith(".pem")) == fps, os.listdir(view)
		for k in got:
		    der = open(f"{ring}/{k['Fingerprint']}.pub", "rb").read()
		    assert base64.b64decode(k["Value"]) == der, k["Fingerprint"]
		    pem = open(f"{view}/{k['Fingerprint']}.pem").read().split("\n")
		    assert pem[0] == "-----BEGIN RSA PUBLIC KEY-----", pem[0]
		    body = base64.b64decode("".join(pem[1:pem.index("-----END RSA PUBLIC KEY-----")]))
		    assert body == der and hashlib.md5(body).hexdigest() == k["Fingerprint"], k["Fingerprint"]
		print("ok")
		PY
		)"
done

# ---- the peers: moto holding a copy of the store, the CloudTrail endpoint the ring ----
# (started from /: a server whose working directory is in the mount would
# keep the mount busy)
cd / || exit 1
PEERS=
stop_peers() { [ -z "$PEERS" ] || "$AV" --stop "$PEERS" || true; PEERS=; }
trap 'stop_peers; tf_cleanup' EXIT
if envs=$("$AV" --load-only --config "$TF_ROOT/config.json" --store "$STORE" --keys "$KEYS" 2>"$TF_OUT"); then
	PEERS=$(sed -n 's/^export TRAILFS_PEERS=//p' <<<"$envs")
	ok "aws_validate --load-only: moto and the CloudTrail endpoint serve the trail"
else
	not_ok "aws_validate --load-only: moto and the CloudTrail endpoint serve the trail"
	diag "$(cat "$TF_OUT")"
	done_testing
fi

# ---- clean: per region, plain and verbose ----
GAP_LINE="No log files were delivered by CloudTrail between 2026-01-02T00:00:45Z and 2026-01-02T00:01:40Z"
for R in "${REGIONS[@]}"; do
	for V in "" --verbose; do
		n=clean-$R${V:+-v}
		cli "$n.cli" --region "$R" $V
		eq "$n: the CLI exits 0" 0 "$(rc_of "$n.cli")"
		contains "$n: the CLI: ${NDIG[$R]}/${NDIG[$R]} digest files valid" \
			"${NDIG[$R]}/${NDIG[$R]} digest files valid"$'\n'"${NLOG[$R]}/${NLOG[$R]} log files valid" "$(out_of "$n.cli")"
		contains "$n: the CLI reports the restart's gap" "$GAP_LINE" "$(err_of "$n.cli")"
		eq "$n: and nothing else on stderr" 1 "$(grep -c . "$TF_ROOT/$n.cli.err")"
		tfv_store "$n.store" "$STORE" "$KEYS" --region "$R" $V
		same "$n: trailfs validate --store prints what the CLI prints" "$n.cli" "$n.store"
		tfv_mount "$n.mount" "$MNT" --region "$R" $V
		same "$n: trailfs validate MOUNTPOINT prints what the CLI prints" "$n.cli" "$n.mount"
	done
	eq "$R verbose: a valid line for each digest and log file" $((NDIG[$R] + NLOG[$R])) \
		"$(grep -cP '\tvalid$' "$TF_ROOT/clean-$R-v.cli.out")"
done
# Without --region: every region, one header and one summary.
tfv_store clean-all.store "$STORE" "$KEYS"
eq "all regions, store: exit 0" 0 "$(rc_of clean-all.store)"
contains "all regions, store: the summary counts both" \
	"$((NDIG[eu-west-1] + NDIG[us-east-1]))/$((NDIG[eu-west-1] + NDIG[us-east-1])) digest files valid"$'\n'"$((NLOG[eu-west-1] + NLOG[us-east-1]))/$((NLOG[eu-west-1] + NLOG[us-east-1])) log files valid" \
	"$(out_of clean-all.store)"
cat "$TF_ROOT/clean-eu-west-1.cli.err" "$TF_ROOT/clean-us-east-1.cli.err" >"$TF_ROOT/gaps"
check "all regions, store: stderr is each region's, eu-west-1 then us-east-1" cmp "$TF_ROOT/gaps" "$TF_ROOT/clean-all.store.err"
tfv_mount clean-all.mount "$MNT"
same "all regions: the mount prints what the store prints" clean-all.store clean-all.mount
tfv_mount clean-all-v.mount "$MNT" --verbose
tfv_store clean-all-v.store "$STORE" "$KEYS" --verbose
same "all regions, verbose: the mount prints what the store prints" clean-all-v.store clean-all-v.mount

# The integrity attribute of every log file, in logs/ and raw/: valid
# (across the day boundary and the restart too).
integrity() { getfattr --absolute-names -n user.trailfs.integrity --only-values "$1" 2>&1; }
eq "user.trailfs.integrity: valid for each of the $((NLOG[eu-west-1] + NLOG[us-east-1])) log files in logs/ and raw/" \
	"$((2 * (NLOG[eu-west-1] + NLOG[us-east-1]))) valid" \
	"$(find "$MNT/trails/main/logs" "$MNT/trails/main/raw" -type f | while read -r f; do integrity "$f"; echo; done |
		sort | uniq -c | sed 's/^ *//')"

# ---- tampered copies of the state ----
# The daemon stops; each case is a copy of its state directory, tampered; the
# CLI sees it through the same peers (--use --store), trailfs validate over
# the copy's store, and over a mount of the copy (a daemon on it, the clock
# still: no new windows).
tf_stop
LIVE_MNT=$MNT LIVE_STATE=$STATE
# tamper NAME: a fresh copy of the state in $C; obj KEY / side KEY: its paths.
tamper() { C=$TF_ROOT/t-$1; cp -a "$LIVE_STATE" "$C"; }
obj() { echo "$C/store/$B/$1"; }
side() { echo "$C/store/.meta/$B/objects/$1.json"; }
# edit_side KEY PYTHON: run PYTHON over the sidecar's document d.
edit_side() {
	python3 - "$(side "$1")" "$2" <<-'PY'
		import json, sys
		d = json.load(open(sys.argv[1]))
		exec(sys.argv[2])
		open(sys.argv[1], "w").write(json.dumps(d))
	PY
}
dkey() { key "$(digest_of "$1" "$2")"; }   # REGION END: a digest's key
# logs_listed REGION END: the log files its digest lists.
logs_listed() { gzip -dc "$(digest_of "$1" "$2")" | jq -r '.logFiles[].s3Object'; }
# judge NAME REGION LINE...: the CLI exits $WANT_RC (default 1) and its
# stderr holds each LINE; trailfs validate prints the same bytes, from the
# store and from a mount.  $V: more options for all three (--verbose).
judge() {
	local n=$1 r=$2 l want=${WANT_RC:-1}; shift 2
	cli "$n.cli" --store "$C/store" --region "$r" ${V:+"$V"}
	eq "$n: the CLI exits $want" "$want" "$(rc_of "$n.cli")"
	for l in "$@"; do contains "$n: the CLI says: ${l#*$'\t'*$'\t'}" "$l" "$(err_of "$n.cli")"; done
	tfv_store "$n.store" "$C/store" "$C/signing-keys" --region "$r" ${V:+"$V"}
	same "$n: trailfs validate --store prints what the CLI prints" "$n.cli" "$n.store"
	MNT=$C-mnt STATE=$C
	mkdir -p "$MNT"
	if tf_start -o "$OPTS"; then
		tfv_mount "$n.mount" "$MNT" --region "$r" ${V:+"$V"}
		same "$n: trailfs validate MOUNTPOINT (a mount of the copy) prints what the CLI prints" "$n.cli" "$n.mount"
		if [ -n "${INTEG:-}" ]; then
			local f=${INTEG%=*}
			f=${f#"$PREFIX/AWSLogs/$ACCT/CloudTrail/"}
			eq "$n: user.trailfs.integrity of the log file, raw/ and logs/" "${INTEG##*=} ${INTEG##*=}" \
				"$(integrity "$MNT/trails/main/raw/$f") $(integrity "$MNT/trails/main/logs/${f%.gz}")"
		fi
		tf_stop
	fi
	MNT=$LIVE_MNT STATE=$LIVE_STATE
}
S3=s3://$B/
R=us-east-1

# A log file changed (valid gzip, other records): the one of 23:57:30.
tamper log-changed
k=$(logs_listed $R $((T0 + 180)) | head -n 1)
printf '{"Records":[]}' | gzip -n >"$(obj "$k")"
INTEG=$k=invalid V=--verbose judge log-changed $R "Log file	$S3$k	INVALID: hash value doesn't match"
contains "log-changed: the summary" "$((NLOG[$R] - 1))/${NLOG[$R]} log files valid, 1/${NLOG[$R]} log files INVALID" \
	"$(out_of log-changed.cli)"

# The same copy mounted with -o verify_reads: the changed file does not open.
MNT=$C-mnt STATE=$C
if tf_start -o "$OPTS,verify_reads"; then
	f=${k#"$PREFIX/AWSLogs/$ACCT/CloudTrail/"}
	expect_fail "verify_reads: the changed log file does not open (raw/)" "Input/output error" cat "$MNT/trails/main/raw/$f"
	expect_fail "verify_reads: nor under logs/" "Input/output error" cat "$MNT/trails/main/logs/${f%.gz}"
	contains "verify_reads: /errors says why" LogFileIntegrityException "$(tail -n 1 "$MNT/errors")"
	other=$(logs_listed $R $((T0 + 60)) | head -n 1)
	check "verify_reads: a valid log file opens" cat "$MNT/trails/main/raw/${other#"$PREFIX/AWSLogs/$ACCT/CloudTrail/"}"
	tf_stop
fi
MNT=$LIVE_MNT STATE=$LIVE_STATE

# A log file deleted (with its sidecar): the one of 23:59:50, in 2026/01/01,
# listed by the digest of 00:00:00 in 2026/01/02.
tamper log-deleted
k=$(logs_listed $R $((T0 + 300)) | head -n 1)
rm -f "$(obj "$k")" "$(side "$k")"
judge log-deleted $R "Log file	$S3$k	INVALID: not found"

# A log file rewritten as two gzip members of its own bytes (the second
# chain's): the CLI hashes the first member only.
tamper log-two-members
k=$(logs_listed $R $((T0 + 460)) | tail -n 1)
gzip -dc "$(obj "$k")" >"$C/plain"
{ head -c 100 "$C/plain" | gzip -n; tail -c +101 "$C/plain" | gzip -n; } >"$(obj "$k")"
eq "log-two-members: the same records in two members" "$(cat "$C/plain")" "$(gzip -dc "$(obj "$k")")"
INTEG=$k=invalid judge log-two-members $R "Log file	$S3$k	INVALID: hash value doesn't match"

# A digest changed (still gzip JSON, its metadata kept and sized to it): the
# empty window's.
tamper digest-changed
k=$(dkey $R $((T0 + 120)))
gzip -dc "$(obj "$k")" | sed 's/"newestEventTime":null/"newestEventTime":"2026-01-01T23:56:30Z"/' | gzip -n >"$C/new"
mv "$C/new" "$(obj "$k")"
edit_side "$k" "d['size'] = $(stat -c %s "$(obj "$k")")"
judge digest-changed $R "Digest file	$S3$k	INVALID: signature verification failed"

# A digest deleted (with its sidecar), in eu-west-1: the one of 00:00:00;
# its log files go unchecked.
tamper digest-deleted
k=$(dkey eu-west-1 $((T0 + 300)))
rm -f "$(obj "$k")" "$(side "$k")"
INTEG=$(logs_listed eu-west-1 $((T0 + 300)) | head -n 1)=unlisted judge digest-deleted eu-west-1 "Digest file	$S3$k	INVALID: not found"
contains "digest-deleted: the summary" \
	"$((NDIG[eu-west-1] - 1))/${NDIG[eu-west-1]} digest files valid, 1/${NDIG[eu-west-1]} digest files INVALID" \
	"$(out_of digest-deleted.cli)"

# A digest moved: the newest renamed, with its sidecar, to the key of a
# window 40 minutes later; the CLI finds it there first.
tamper digest-moved
k=$(dkey $R $((T0 + 520)))
k2=$(dkey $R $((T0 + 520 + 2400)))
mkdir -p "$(dirname "$(obj "$k2")")" "$(dirname "$(side "$k2")")"
mv "$(obj "$k")" "$(obj "$k2")"
mv "$(side "$k")" "$(side "$k2")"
judge digest-moved $R "Digest file	$S3$k2	INVALID: has been moved from its original location"

# A digest moved from the middle of the chain (23:58:00 renamed to 23:58:30):
# the next one's link finds nothing there.
tamper digest-moved-middle
k=$(dkey $R $((T0 + 180)))
k2=$(dkey $R $((T0 + 210)))
mv "$(obj "$k")" "$(obj "$k2")"
mv "$(side "$k")" "$(side "$k2")"
INTEG=$(logs_listed $R $((T0 + 180)) | head -n 1)=invalid judge digest-moved-middle $R "Digest file	$S3$k	INVALID: not found"

# A digest's signature metadata altered (one hex digit): the chain's first.
tamper digest-signature
k=$(dkey $R $((T0 + 60)))
edit_side "$k" "s = d['meta']['signature']; d['meta']['signature'] = ('1' if s[0] != '1' else '2') + s[1:]"
INTEG=$(logs_listed $R $((T0 + 60)) | head -n 1)=invalid judge digest-signature $R "Digest file	$S3$k	INVALID: signature verification failed"

# A signature that is not hex, or of odd length: the CLI's unhexlify fails,
# and it prints Python's message.
tamper digest-signature-not-hex
k=$(dkey $R $((T0 + 240)))
edit_side "$k" "d['meta']['signature'] = 'zz' + d['meta']['signature'][2:]"
judge digest-signature-not-hex $R "Digest file	$S3$k	INVALID: Non-hexadecimal digit found"
tamper digest-signature-odd
edit_side "$k" "d['meta']['signature'] = d['meta']['signature'][1:]"
judge digest-signature-odd $R "Digest file	$S3$k	INVALID: Odd-length string"

# signature-algorithm removed (the signature kept): the CLI needs both.
tamper digest-no-algorithm
k=$(dkey $R $((T0 + 300)))
edit_side "$k" "del d['meta']['signature-algorithm']"
judge digest-no-algorithm $R "Digest file	$S3$k	INVALID: signature verification failed"

# signature-algorithm of another value: the CLI only needs it present
# (python-rsa takes the hash from the signature), so the digest stays valid.
tamper digest-other-algorithm
edit_side "$k" "d['meta']['signature-algorithm'] = 'SHA1withRSA'"
INTEG=$(logs_listed $R $((T0 + 300)) | head -n 1)=valid WANT_RC=0 judge digest-other-algorithm $R

# A digest's metadata removed (signature and signature-algorithm): the
# second chain's first.
tamper digest-no-metadata
k=$(dkey $R $((T0 + 460)))
edit_side "$k" "d['meta'] = {}"
INTEG=$(logs_listed $R $((T0 + 460)) | head -n 1)=invalid judge digest-no-metadata $R "Digest file	$S3$k	INVALID: signature verification failed"

# Back to the clean store: a reload leaves nothing of the tampering behind.
cli clean-again.cli --store "$LIVE_STATE/store" --region $R
same "clean again: the CLI prints what it printed first" clean-$R.cli clean-again.cli

done_testing
