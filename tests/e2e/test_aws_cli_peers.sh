#!/usr/bin/env bash
# The real `aws cloudtrail validate-logs` (aws-cli 1.45, unmodified) over a
# trailfs local store, through scripts/peers/aws_validate (moto S3 plus the
# local CloudTrail endpoint).  The store is laid out by tests/peers/make_fixture.py,
# which follows the reference (cloudtrail-formats.md 1 to 3), not trailfs's
# code: so this checks the peers, and the fixture's format, against the CLI.
# No mount is needed.
#
# Fixture: a multi-region trail (us-east-1 home, eu-west-1) with a key prefix,
# six hourly windows from 2026-01-10T21:00:31Z (crossing midnight): window 1
# empty, window 4 with logging off (so window 5 starts a new chain), the
# signing key rotated after window 1.  Per region: digests D0..D4 (windows
# 0, 1, 2, 3, 5), 3 log files in every window but the empty one (12 logs).
# Clean: every digest and log valid, exit 0, the gap reported.  Tampered
# copies: the CLI's INVALID line, its counts, exit 1.
. "$(dirname "$0")/lib.sh"

SRC=${TRAILFS_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
AV=$SRC/scripts/peers/aws_validate
command -v aws >/dev/null || { echo "1..0 # SKIP no aws CLI on PATH"; exit 77; }
python3 -c 'import moto.server, boto3, cryptography' 2>/dev/null ||
	{ echo "1..0 # SKIP python3 lacks moto, boto3 or cryptography"; exit 77; }

FX=$TF_ROOT/fixture
B=peers-bucket
P=audit
ACCT=123456789012
ARN=arn:aws:cloudtrail:us-east-1:$ACCT:trail/peers-trail
S=2026-01-10T21:00:00Z
E=2026-01-11T03:00:00Z
mkdir -p "$FX"
check "make_fixture lays out the trail" python3 "$SRC/tests/peers/make_fixture.py" \
	--store "$FX/store" --keys "$FX/keys" --config "$FX/trail.json" --manifest "$FX/manifest.json" \
	--bucket "$B" --prefix "$P" --account "$ACCT" --regions us-east-1,eu-west-1 \
	--start "$S" --hours 6 --files-per-hour 3 --empty-hours 1 --stop-hours 4 --rotate-hour 2

# mf REGION EXPR: EXPR (Python) over d, the region's digest list (oldest first).
mf() {
	python3 -c 'import json, sys; d = json.load(open(sys.argv[1]))["regions"][sys.argv[2]]; print(eval(sys.argv[3]))' \
		"$FX/manifest.json" "$1" "$2"
}
eq "fixture: 5 digests in us-east-1" 5 "$(mf us-east-1 'len(d)')"
eq "fixture: 12 log files in us-east-1" 12 "$(mf us-east-1 'sum(len(x["logs"]) for x in d)')"
eq "fixture: the digest after the stop starts a chain" None "$(mf us-east-1 'd[4]["previous"]')"

# av NAME ARGS...: run aws_validate; its stdout, stderr and status in
# $TF_ROOT/NAME.{out,err} and $rc.
av() {
	local n=$1; shift
	rc=0
	"$AV" "$@" >"$TF_ROOT/$n.out" 2>"$TF_ROOT/$n.err" || rc=$?
	out=$(cat "$TF_ROOT/$n.out"; echo x); out=${out%x}
	err=$(cat "$TF_ROOT/$n.err"; echo x); err=${err%x}
}
# text VAR CMD...: VAR = CMD's output, trailing newlines kept (the
# comparisons are exact, blank lines included).
text() {
	local v=$1 t; shift
	t=$("$@"; echo x)
	printf -v "$v" '%s' "${t%x}"
}

# summary FOUND_START RATIO...: validate-logs's stdout without --verbose.
summary() {
	local found=$1; shift
	printf 'Validating log files for trail %s between %s and %s\n\n' "$ARN" "$S" "$E"
	printf 'Results requested for %s to %s\nResults found for %s to %s:\n\n' "$S" "$E" "$found" "$E"
	printf '%s\n' "$@"
}
# The stderr line for the gap the stop leaves between D3 and D4.
gap() {
	local region=$1
	printf 'No log files were delivered by CloudTrail between %s and %s\n\n' \
		"$(mf "$region" 'd[3]["end"]')" "$(mf "$region" 'd[4]["start"]')"
}
d0start=$(mf us-east-1 'd[0]["start"]')
want="" want2=""   # set by text

# ---- clean, verbose, from config.json, the home region ----
av clean --config "$FX/trail.json" --store "$FX/store" --keys "$FX/keys" \
	--start-time "$S" --end-time "$E" --verbose
eq "clean: exit 0" 0 "$rc"
verbose_clean() {
	printf 'Validating log files for trail %s between %s and %s\n\n' "$ARN" "$S" "$E"
	python3 - "$FX/manifest.json" "$B" <<-'EOF'
		import json, sys
		d = json.load(open(sys.argv[1]))["regions"]["us-east-1"]
		for x in reversed(d):
		    print(f"Digest file\ts3://{sys.argv[2]}/{x['key']}\tvalid")
		    for k in x["logs"]:
		        print(f"Log file\ts3://{sys.argv[2]}/{k}\tvalid")
	EOF
	echo
	printf 'Results requested for %s to %s\nResults found for %s to %s:\n\n' "$S" "$E" "$d0start" "$E"
	printf '%s\n' "5/5 digest files valid" "12/12 log files valid"
}
text want verbose_clean
eq "clean: every digest and log valid, newest first, and the summary" "$want" "$out"
# After a valid line, verbose, the CLI puts a blank line before an error line.
text want gap us-east-1
eq "clean: only the gap on stderr" $'\n'"$want" "$err"

# ---- clean, the other region, the trail given by its fields ----
av clean-eu --name peers-trail --bucket "$B" --prefix "$P" --home-region us-east-1 --account "$ACCT" \
	--multi-region --store "$FX/store" --keys "$FX/keys" --start-time "$S" --end-time "$E" --region eu-west-1
eq "clean eu-west-1: exit 0" 0 "$rc"
text want summary "$(mf eu-west-1 'd[0]["start"]')" "5/5 digest files valid" "12/12 log files valid"
eq "clean eu-west-1: summary" "$want" "$out"
text want gap eu-west-1
eq "clean eu-west-1: only the gap on stderr" "$want" "$err"

# ---- tampered copies ----
# One set of servers (--load-only) serves them all, each copy loaded in turn
# (--use --store); a last clean reload shows a reload leaves nothing behind.
PEERS=
stop_peers() { [ -z "$PEERS" ] || "$AV" --stop "$PEERS" || true; PEERS=; }
trap 'stop_peers; tf_cleanup' EXIT
if envs=$("$AV" --load-only --config "$FX/trail.json" --store "$FX/store" --keys "$FX/keys" 2>"$TF_OUT"); then
	PEERS=$(sed -n 's/^export TRAILFS_PEERS=//p' <<<"$envs")
	ok "--load-only starts and loads the peers"
else
	not_ok "--load-only starts and loads the peers"; diag "$(cat "$TF_OUT")"
	done_testing
fi
eq "--load-only: an environment to eval" "$ARN" "$(eval "$envs"; echo "$TRAILFS_PEERS_ARN")"

# tamper NAME: a fresh copy of the store in $T; obj KEY / side KEY its paths.
tamper() { T=$TF_ROOT/$1; mkdir -p "$T"; cp -a "$FX/store" "$T/store"; }
obj() { echo "$T/store/$B/$1"; }
side() { echo "$T/store/.meta/$B/objects/$1.json"; }
# run_tampered NAME: validate $T's store in the home region.
run_tampered() {
	av "$1" --use "$PEERS" --store "$T/store" --start-time "$S" --end-time "$E"
}
# expect NAME FOUND_START STDERR_LINE RATIO...
expect() {
	local n=$1 found=$2 line=$3; shift 3
	local want
	eq "$n: exit 1" 1 "$rc"
	text want gap us-east-1
	eq "$n: the INVALID line (after the gap) on stderr" "$want$line"$'\n\n' "$err"
	text want summary "$found" "$@"
	eq "$n: summary" "$want" "$out"
}

# A log file changed: valid gzip, other records.
tamper log-changed
k=$(mf us-east-1 'd[0]["logs"][0]')
printf '{"Records":[]}' | gzip -n >"$(obj "$k")"
run_tampered log-changed
expect log-changed "$d0start" "$(printf "Log file\ts3://%s/%s\tINVALID: hash value doesn't match" "$B" "$k")" \
	"5/5 digest files valid" "11/12 log files valid, 1/12 log files INVALID"

# A log file deleted (with its sidecar).
tamper log-deleted
k=$(mf us-east-1 'd[2]["logs"][1]')
rm -f "$(obj "$k")" "$(side "$k")"
run_tampered log-deleted
expect log-deleted "$d0start" "$(printf 'Log file\ts3://%s/%s\tINVALID: not found' "$B" "$k")" \
	"5/5 digest files valid" "11/12 log files valid, 1/12 log files INVALID"

# A log file rewritten as two gzip members of its own bytes: CLI 1.45 hashes
# the first member only.
tamper log-two-members
k=$(mf us-east-1 'd[3]["logs"][0]')
f=$(obj "$k")
gzip -dc "$f" >"$T/plain"
{ head -c 100 "$T/plain" | gzip -n; tail -c +101 "$T/plain" | gzip -n; } >"$f"
run_tampered log-two-members
expect log-two-members "$d0start" "$(printf "Log file\ts3://%s/%s\tINVALID: hash value doesn't match" "$B" "$k")" \
	"5/5 digest files valid" "11/12 log files valid, 1/12 log files INVALID"

# A digest deleted from the middle of the chain: the next one's link finds
# nothing; its 3 log files are not checked; the walk goes on with D1.
tamper digest-deleted
k=$(mf us-east-1 'd[2]["key"]')
rm -f "$(obj "$k")" "$(side "$k")"
run_tampered digest-deleted
expect digest-deleted "$d0start" "$(printf 'Digest file\ts3://%s/%s\tINVALID: not found' "$B" "$k")" \
	"4/5 digest files valid, 1/5 digest files INVALID" "9/9 log files valid"

# A digest's signature metadata removed (signature-algorithm kept).
tamper digest-unsigned
k=$(mf us-east-1 'd[3]["key"]')
python3 - "$(side "$k")" <<-'EOF'
	import json, sys
	doc = json.load(open(sys.argv[1]))
	del doc["meta"]["signature"]
	open(sys.argv[1], "w").write(json.dumps(doc))
EOF
run_tampered digest-unsigned
expect digest-unsigned "$d0start" "$(printf 'Digest file\ts3://%s/%s\tINVALID: signature verification failed' "$B" "$k")" \
	"4/5 digest files valid, 1/5 digest files INVALID" "9/9 log files valid"

# A digest's content changed (still gzip JSON, same metadata): the oldest, so
# the results found start at D1.
tamper digest-changed
k=$(mf us-east-1 'd[0]["key"]')
f=$(obj "$k")
gzip -dc "$f" | sed 's/"awsAccountId":"123456789012"/"awsAccountId":"210987654321"/' | gzip -n >"$T/new"
mv "$T/new" "$f"
python3 - "$(side "$k")" "$(stat -c %s "$f")" <<-'EOF'
	import json, sys
	doc = json.load(open(sys.argv[1]))
	doc["size"] = int(sys.argv[2])
	open(sys.argv[1], "w").write(json.dumps(doc))
EOF
run_tampered digest-changed
expect digest-changed "$(mf us-east-1 'd[1]["start"]')" \
	"$(printf 'Digest file\ts3://%s/%s\tINVALID: signature verification failed' "$B" "$k")" \
	"4/5 digest files valid, 1/5 digest files INVALID" "9/9 log files valid"

# Another trail's key ring (--use --keys restarts the endpoint on it): no
# digest's key is found, so no log file is checked.
check "make_fixture: another key ring" python3 "$SRC/tests/peers/make_fixture.py" \
	--store "$TF_ROOT/other/store" --keys "$TF_ROOT/other/keys" --hours 1 --regions us-east-1
av other-keys --use "$PEERS" --store "$FX/store" --keys "$TF_ROOT/other/keys" --start-time "$S" --end-time "$E"
eq "other key ring: exit 1" 1 "$rc"
text want python3 - "$FX/store" "$B" "$FX/manifest.json" <<-'EOF'
	import gzip, json, sys
	store, b, m = sys.argv[1:]
	for x in reversed(json.load(open(m))["regions"]["us-east-1"]):
	    fp = json.loads(gzip.open(f"{store}/{b}/{x['key']}").read())["digestPublicKeyFingerprint"]
	    print(f"Digest file\ts3://{b}/{x['key']}\tINVALID: public key not found in region us-east-1 for fingerprint {fp}\n")
EOF
eq "other key ring: every digest's key not found, newest first" "$want" "$err"
text want printf '%s\n\n%s\n%s\n\n%s\n' "Validating log files for trail $ARN between $S and $E" \
	"Results requested for $S to $E" "No valid digests found in range" "0/5 digest files valid, 5/5 digest files INVALID"
eq "other key ring: no valid digests, no log files" "$want" "$out"

# Back to the clean store and its ring: deleted objects come back, changed
# ones are replaced.  Every region, in name order.
av clean-again --use "$PEERS" --store "$FX/store" --keys "$FX/keys" --start-time "$S" --end-time "$E" --all-regions
eq "clean again, --all-regions: exit 0" 0 "$rc"
text want summary "$(mf eu-west-1 'd[0]["start"]')" "5/5 digest files valid" "12/12 log files valid"
text want2 summary "$d0start" "5/5 digest files valid" "12/12 log files valid"
eq "clean again, --all-regions: eu-west-1's summary, then us-east-1's" "$want$want2" "$out"

# The CloudTrail endpoint itself, through the CLI.
(
	eval "$envs"
	aws cloudtrail list-public-keys --region us-east-1 --endpoint-url "$TRAILFS_PEERS_CT_URL" \
		--start-time "$S" --end-time "$E" --output json >"$TF_ROOT/keys.json" 2>&1
)
eq "ListPublicKeys: both keys of the ring, PKCS#1 DER in base64, fingerprint its MD5" ok "$(python3 - "$TF_ROOT/keys.json" "$FX/keys/us-east-1" <<-'EOF'
	import base64, hashlib, json, sys
	try:
	    got = json.load(open(sys.argv[1]))["PublicKeyList"]
	except ValueError:
	    sys.exit(open(sys.argv[1]).read())
	ring = json.load(open(sys.argv[2] + "/index.json"))["keys"]
	fps = [k["Fingerprint"] for k in ring]
	assert [k["Fingerprint"] for k in got] == fps, (got, fps)
	for k in got:
	    der = base64.b64decode(k["Value"])
	    assert der == open(f"{sys.argv[2]}/{k['Fingerprint']}.pub", "rb").read()
	    assert hashlib.md5(der).hexdigest() == k["Fingerprint"]
	    assert der[:2] == bytes.fromhex("3082") and der[4:6] == bytes.fromhex("0282"), "not PKCS#1"
	print("ok")
EOF
)"
expect_fail "another operation: an AWS-style error" "An error occurred (UnknownOperationException) when calling the GetTrail operation" \
	bash -c "$envs"'
	aws cloudtrail get-trail --name peers-trail --region us-east-1 --endpoint-url "$TRAILFS_PEERS_CT_URL"'
# A region without keys: the CLI's own error and its exit status, 255.
av no-keys --use "$PEERS" --start-time "$S" --end-time "$E" --region ap-south-1
eq "a region without signing keys: exit 255" 255 "$rc"
contains "a region without signing keys: the CLI says so" "No public keys found between $S and 2026-01-11T05:00:00Z" "$err"

dir=$PEERS
pids=$(cat "$dir/moto.pid" "$dir/ct.pid")
stop_peers
eq "--stop removes the peers' directory" no "$([ -e "$dir" ] && echo yes || echo no)"
# Gone, or a zombie waiting for init.
running() { local st; st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1); [ -n "$st" ] && [ "$st" != Z ]; }
eq "--stop ends both servers" "" "$(for p in $pids; do running "$p" && echo "$p"; done)"
done_testing
