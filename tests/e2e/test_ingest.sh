#!/usr/bin/env bash
# /events at its edges: who may write it (the owner and -o ingest_group,
# with a real second user and a positive control), the ingest stamp of
# another user, records split across writes, a write(2) larger than one
# FUSE request that fails in its second request (returns short, the first
# stays), the 256 KB record limit, and a full spool (ENOSPC, nothing
# accepted is dropped).
. "$(dirname "$0")/lib.sh"

tf_second_user
GROUP=trailfs-ingest
getent group "$GROUP" >/dev/null || groupadd "$GROUP" || { echo "1..0 # SKIP cannot groupadd $GROUP"; exit 77; }
gid_ingest=$(getent group "$GROUP" | cut -d: -f3)
# The second user with the ingest group (as_user: without it).
as_ingester() { setpriv --reuid="$USER2" --regid="$USER2" --groups="$gid_ingest" -- "$@"; }

rec() { # region name [extra-json]
	printf '{"eventTime":"2026-01-01T00:00:00Z","eventSource":"ec2.amazonaws.com","eventName":"%s","awsRegion":"%s"%s}\n' \
		"$2" "$1" "${3:-}"
}
ingested() { cat "$@" 2>/dev/null | jq -c 'select(.additionalEventData.trailfsIngest != null)'; }
# wait_lines N: wait until N ingested records are delivered to main (the
# glob is expanded afresh each time: the files appear while we wait).
wait_lines() {
	local i
	for i in $(seq 100); do
		[ "$(ingested $L | wc -l)" -ge "$1" ] && return 0
		sleep 0.1
	done
	return 1
}

echo 1767225600 > "$TF_ROOT/clock"
tf_start -o allow_other,ingest_group=$GROUP,delivery_interval=1,test_clock="$TF_ROOT/clock" || done_testing
cd "$MNT" || exit 1
check "mkdir trails/main" mkdir trails/main
L="trails/main/logs/*/*/*/*/*.json"

# ---- who may write ----
eq "events is mode 0220, group $GROUP" "220 $GROUP" "$(stat -c '%a %G' events)"
check "positive control: the user can read what it may (ls trails)" as_user ls "$MNT/trails"
expect_fail "a user outside the ingest group cannot write events" "Permission denied" \
	as_user bash -c "echo '$(rec us-east-1 FromOutsider)' >> '$MNT/events'"
check "a member of the ingest group can" as_ingester bash -c "echo '$(rec us-east-1 FromIngester)' >> '$MNT/events'"
expect_fail "not even the group may read it" "Permission denied" as_ingester cat "$MNT/events"
check "a record forging another's stamp is taken..." as_ingester bash -c \
	"echo '$(rec us-east-1 Forged ',"additionalEventData":{"trailfsIngest":{"uid":0,"userName":"root","program":"x"},"note":"kept"}')' >> '$MNT/events'"
wait_lines 2
eq "the outsider's record is nowhere" 0 "$(ingested $L | grep -c FromOutsider)"
stamp=$(ingested $L | jq -c 'select(.eventName == "FromIngester") | .additionalEventData.trailfsIngest')
eq "the ingester's record carries its uid, user name and program" \
	"{\"uid\":$uid2,\"userName\":\"$USER2\",\"program\":\"bash\"}" "$stamp"
eq "...but the stamp is the writer's, and the record's other members stay" "$uid2 $USER2 kept" \
	"$(ingested $L | jq -r 'select(.eventName == "Forged") | .additionalEventData | "\(.trailfsIngest.uid) \(.trailfsIngest.userName) \(.note)"')"

# ---- a record split across writes, and what close says ----
check "a record split across three writes is assembled" python3 - "$MNT/events" <<'EOF'
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND)
rec = b'{"eventTime":"2026-01-01T00:00:00Z","eventSource":"ec2.amazonaws.com","eventName":"Split","awsRegion":"us-east-1"}\n'
for part in (rec[:10], rec[10:70], rec[70:]):
    assert os.write(fd, part) == len(part)
os.close(fd)
EOF
wait_lines 3
eq "it is delivered once, whole" 1 "$(ingested $L | grep -c '"eventName":"Split"')"

# ---- a write(2) of several FUSE requests, one of them bad ----
# A write(2) larger than the mount's write size (1 MiB here; 128 KiB on
# older kernels) arrives as several requests.  The first MiB carries good
# records, and a bad one follows it.
out=$(python3 - "$MNT/events" <<'EOF'
import errno, json, os, sys
MIB = 1024 * 1024
good = b''
n = 0
ends = []
while True:
    r = json.dumps({"eventTime": "2026-01-01T00:00:00Z", "eventSource": "ec2.amazonaws.com",
                    "eventName": "BigWrite", "awsRegion": "us-east-1", "n": n, "pad": "x" * 400}).encode() + b'\n'
    if len(good) + len(r) > MIB:
        break
    good += r
    n += 1
    ends.append(len(good))
good += b' ' * (MIB - len(good))          # the good part ends on a request boundary
bad = b'{"eventTime":"never","eventSource":"x","eventName":"y","awsRegion":"us-east-1"}\n'
rest = bad + b' ' * (1500000 - len(good) - len(bad))
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND)
try:
    w = os.write(fd, good + rest)
    # What the requests before the bad one carried: the records that end
    # within the w bytes acknowledged.
    print("short" if MIB // 8 <= w < len(good) + len(rest) else "wrote %d" % w,
          sum(1 for e in ends if e <= w))
except OSError as e:
    print("error", errno.errorcode[e.errno], 0)
EOF
)
records_first=$(awk '{print $NF}' <<<"$out")
eq "the write(2) returns short: what the requests before the bad one carried" short \
	"$(cut -d' ' -f1 <<<"$out")"
check "the requests before it carried records ($records_first)" test "$records_first" -gt 1000
wait_lines $((3 + records_first))
eq "and those records are accepted, exactly" "$records_first" "$(ingested $L | grep -c '"eventName":"BigWrite"')"
contains "/errors names the bad record" "InvalidEventException" "$(last_error)"

# ---- the 256 KB record limit ----
expect_fail "a record over 256 KB is refused" "Invalid argument" python3 - "$MNT/events" <<'EOF'
import json, os, sys
r = json.dumps({"eventTime": "2026-01-01T00:00:00Z", "eventSource": "ec2.amazonaws.com",
                "eventName": "TooBig", "awsRegion": "us-east-1", "pad": "x" * (257 * 1024)}).encode() + b'\n'
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND)
try:
    os.write(fd, r)
except OSError as e:
    print(os.strerror(e.errno)); raise SystemExit(1)
EOF
contains "/errors says why" "256" "$(last_error)"
check "a record just under the limit is taken" python3 - "$MNT/events" <<'EOF'
import json, os, sys
r = json.dumps({"eventTime": "2026-01-01T00:00:00Z", "eventSource": "ec2.amazonaws.com",
                "eventName": "JustUnder", "awsRegion": "us-east-1", "pad": "x" * (250 * 1024)}).encode() + b'\n'
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND)
os.write(fd, r)
EOF
wait_lines $((4 + records_first))
eq "it is delivered" 1 "$(ingested $L | grep -c JustUnder)"

# ---- a full spool: ENOSPC, and nothing accepted is dropped ----
cd / || exit 1
tf_restart -o spool_max=256K,delivery_interval=86400,test_clock="$TF_ROOT/clock"
cd "$MNT" || exit 1
before=$(ingested $L | wc -l)
out=$(python3 - "$MNT/events" <<'EOF'
import errno, json, os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND)
acked = 0
for i in range(10000):
    r = json.dumps({"eventTime": "2026-01-01T00:00:00Z", "eventSource": "ec2.amazonaws.com",
                    "eventName": "Spooled", "awsRegion": "us-east-1", "i": i, "pad": "y" * 1000}).encode() + b'\n'
    try:
        os.write(fd, r * 4)
        acked += 4
    except OSError as e:
        print(errno.errorcode[e.errno], acked)
        break
EOF
)
acked=$(cut -d' ' -f2 <<<"$out")
eq "past spool_max, writes fail with ENOSPC" ENOSPC "$(cut -d' ' -f1 <<<"$out")"
check "some were accepted before" test "${acked:-0}" -gt 0
contains "/errors says the spool is full" "spool" "$(last_error)"
cd / || exit 1
tf_restart -o delivery_interval=1,test_clock="$TF_ROOT/clock"
cd "$MNT" || exit 1
wait_lines $((before + acked))
eq "after a restart every accepted record is delivered, once" "$acked" \
	"$(ingested $L | grep -c '"eventName":"Spooled"')"
eq "each exactly once (distinct eventIDs)" "$acked" \
	"$(ingested $L | jq -r 'select(.eventName == "Spooled") | .eventID' | sort -u | wc -l)"
cd / || exit 1
done_testing
