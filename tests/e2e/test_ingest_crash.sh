#!/usr/bin/env bash
# Sustained ingest from four writers while the daemon is killed with SIGKILL
# at random moments, again and again (each dead mount cleared with
# fusermount3 -uz).  Then, reading the objects straight from the local store:
# every log file is whole (one gzip member of {"Records":[...]}, its sidecar
# describing it, no temporary file left behind), every acknowledged record is
# delivered exactly once to each trail that routes it (counted by eventID),
# a record whose write was not acknowledged at most once, and nothing else.
. "$(dirname "$0")/lib.sh"

ROUNDS=${TF_INGEST_CRASH_ROUNDS:-20}
W=$TF_ROOT/w          # the writers' acked/unacked files and their stats
mkdir -p "$W"

# ---- the writers ----
# writer.py MNT DIR ID: until DIR/stop exists, write batches of 1-50 records
# to MNT/events, one os.write per batch (under 128 KiB: one FUSE write
# request, all or nothing).  A full-length return acknowledges the batch:
# "eventID region eventName" per record go to DIR/acked.ID; anything else
# (the daemon died under the write) sends them to DIR/unacked.ID, and the
# writer reopens /events once the mount is back.
cat > "$TF_ROOT/writer.py" <<'EOF'
import errno, json, os, random, sys, time, uuid

mnt, out, wid = sys.argv[1], sys.argv[2], int(sys.argv[3])
events = os.path.join(mnt, "events")
stop = os.path.join(out, "stop")
acked = open(os.path.join(out, "acked.%d" % wid), "a")
unacked = open(os.path.join(out, "unacked.%d" % wid), "a")
rng = random.Random()
NAMES = ["PutWidget", "DeleteWidget", "DescribeWidgets", "GetWidget"]
REGIONS = ["us-east-1", "eu-west-1"]
stats = {"acked_batches": 0, "acked_records": 0, "unacked_batches": 0,
         "unacked_records": 0, "short": 0, "open_retries": 0}
errs = {}
fd = None
batch = 0
while not os.path.exists(stop):
    if fd is None:
        try:
            fd = os.open(events, os.O_WRONLY | os.O_APPEND)
        except OSError:
            stats["open_retries"] += 1
            time.sleep(0.02)
            continue
    batch += 1
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    lines, ids = [], []
    for i in range(rng.randint(1, 50)):
        eid = str(uuid.uuid4())
        region = rng.choice(REGIONS)
        name = rng.choice(NAMES)
        lines.append(json.dumps({
            "eventTime": now, "eventSource": "crashtest.trailfs.test",
            "eventName": name, "awsRegion": region, "eventID": eid,
            "requestParameters": {"writer": wid, "batch": batch, "i": i,
                                  "pad": "p" * rng.randint(0, 1000)}},
            separators=(",", ":")))
        ids.append("%s %s %s" % (eid, region, name))
    data = ("\n".join(lines) + "\n").encode()
    assert len(data) < 128 * 1024
    try:
        n = os.write(fd, data)
    except OSError as e:
        n = None
        name = errno.errorcode.get(e.errno, str(e.errno))
        errs[name] = errs.get(name, 0) + 1
    if n == len(data):
        acked.write("\n".join(ids) + "\n")
        acked.flush()
        stats["acked_batches"] += 1
        stats["acked_records"] += len(ids)
        time.sleep(rng.uniform(0, 0.06))   # about 2 MB/s from the four
        continue
    if n is not None:
        stats["short"] += 1
    unacked.write("\n".join(ids) + "\n")
    unacked.flush()
    stats["unacked_batches"] += 1
    stats["unacked_records"] += len(ids)
    try:
        os.close(fd)
    except OSError:
        pass
    fd = None
if fd is not None:
    os.close(fd)
stats["errors"] = errs
with open(os.path.join(out, "stats.%d" % wid), "w") as f:
    json.dump(stats, f)
EOF

# ---- the checker ----
# verify.py MODE STORE ACCOUNT DIR TRAIL:BUCKET:RULE...
#   count: print the number of crashtest records in the store
#   dups:  the files so far are whole and hold no record twice
#   final: all of it, and every acknowledged record is there exactly once
# Prints "ok DESC", "not_ok DESC", "diag TEXT" and "stat NAME VALUE" lines.
cat > "$TF_ROOT/verify.py" <<'EOF'
import glob, json, os, re, sys, zlib

mode, store, account, wdir = sys.argv[1:5]
trails = [t.split(":") for t in sys.argv[5:]]
MARK = "crashtest.trailfs.test"
READ_ONLY = ("Describe", "Get")
TEMP = re.compile(r"^\..*\.tmp\.[0-9]+$")
NAME = re.compile(r"^%s_CloudTrail_([a-z0-9-]+)_[0-9]{8}T[0-9]{4}Z_[A-Za-z0-9]{16}\.json\.gz$"
                  % account)
out = []
def ok(cond, desc, *diags):
    out.append(("ok " if cond else "not_ok ") + desc)
    if not cond:
        out.extend("diag " + d for d in diags[:20])
def stat(k, v):
    out.append("stat %s %s" % (k, v))

def routes(rule, region, name):
    if rule == "all":
        return True
    if rule == "east":
        return region == "us-east-1"
    if rule == "writes":
        return not name.startswith(READ_ONLY)
    raise SystemExit("unknown rule " + rule)

def read_bucket(bucket):
    """Every object under AWSLogs/: {eventID: count} of crashtest records
    and a list of problems (half-written files, misplaced records)."""
    base = os.path.join(store, bucket, "AWSLogs", account, "CloudTrail")
    counts, bad, files, records = {}, [], 0, 0
    for d, _, names in os.walk(base):
        for fn in names:
            p = os.path.join(d, fn)
            if fn.startswith("."):
                continue          # a put under way (final mode looks for these below)
            files += 1
            m = NAME.match(fn)
            rel = os.path.relpath(p, base)
            if not m or rel.split("/")[0] != m.group(1):
                bad.append("unexpected name: " + rel)
                continue
            region = m.group(1)
            raw = open(p, "rb").read()
            z = zlib.decompressobj(wbits=31)
            try:
                body = z.decompress(raw) + z.flush()
            except zlib.error as e:
                bad.append("%s: not gzip: %s" % (rel, e)); continue
            if not z.eof or z.unused_data:
                bad.append("%s: not exactly one whole gzip member (eof=%s, %d bytes after)"
                           % (rel, z.eof, len(z.unused_data)))
                continue
            try:
                doc = json.loads(body)
            except ValueError as e:
                bad.append("%s: not JSON: %s" % (rel, e)); continue
            if not isinstance(doc, dict) or list(doc) != ["Records"] or \
               not isinstance(doc["Records"], list) or not doc["Records"]:
                bad.append(rel + ': not {"Records":[...]} with records'); continue
            side = os.path.join(store, ".meta", bucket, "objects",
                                os.path.relpath(p, os.path.join(store, bucket)) + ".json")
            try:
                sc = json.load(open(side))
                if sc.get("size") != len(raw) or \
                   sc.get("meta", {}).get("trailfs-records") != str(len(doc["Records"])):
                    bad.append("%s: sidecar %s does not describe it (%d bytes, %d records)"
                               % (rel, sc, len(raw), len(doc["Records"])))
            except (OSError, ValueError) as e:
                bad.append("%s: sidecar: %s" % (rel, e))
            for r in doc["Records"]:
                records += 1
                if r.get("eventSource") != MARK:
                    continue
                if r.get("awsRegion") != region:
                    bad.append("%s: record %s of %s in %s's file" % (rel, r.get("eventID"),
                               r.get("awsRegion"), region))
                eid = r.get("eventID")
                counts[eid] = counts.get(eid, 0) + 1
    return counts, bad, files, records

def load(kind):
    recs = {}
    for p in glob.glob(os.path.join(wdir, kind + ".*")):
        for line in open(p):
            parts = line.split()
            if len(parts) == 3:
                recs[parts[0]] = (parts[1], parts[2])
    return recs

if mode == "count":
    print(sum(sum(read_bucket(b)[0].values()) for _, b, _ in trails))
    sys.exit(0)

acked, unacked = load("acked"), load("unacked")
for name, bucket, rule in trails:
    counts, bad, files, records = read_bucket(bucket)
    ok(not bad, "%s: every log file is one whole gzip member of {\"Records\":[...]} that its "
       "sidecar describes (%d files)" % (name, files), *bad)
    dups = sorted(e for e, c in counts.items() if c > 1)
    ok(not dups, "%s: no record delivered twice (%d delivered)" % (name, sum(counts.values())),
       *["%s delivered %d times" % (e, counts[e]) for e in dups])
    if mode != "final":
        continue
    want = {e for e, (reg, nm) in acked.items() if routes(rule, reg, nm)}
    maybe = {e for e, (reg, nm) in unacked.items() if routes(rule, reg, nm)}
    missing = sorted(want - counts.keys())
    ok(not missing, "%s: every acknowledged record it routes is delivered (%d of %d)"
       % (name, len(want) - len(missing), len(want)),
       *["acknowledged %s %s missing" % (e, acked[e]) for e in missing])
    unknown = sorted(counts.keys() - want - maybe)
    ok(not unknown, "%s: no record it should not have" % name,
       *["%s: %s" % (e, "unacknowledged, not routed here" if e in unacked else
                    "acknowledged, not routed here" if e in acked else "never written")
         for e in unknown])
    stat(name + "_files", files)
    stat(name + "_delivered", sum(counts.values()))
    stat(name + "_acked_routed", len(want))
    stat(name + "_unacked_routed", len(maybe))
    stat(name + "_unacked_delivered", len(maybe & counts.keys()))

if mode == "final":
    temps = []
    for d, dirs, names in os.walk(store):
        temps += [os.path.relpath(os.path.join(d, n), store) for n in names + dirs
                  if TEMP.match(n)]
    ok(not temps, "no temporary file is left in the store", *temps)
    both = sorted(acked.keys() & unacked.keys())
    ok(not both, "no eventID was written twice", *both)
    stat("acked_records", len(acked))
    stat("unacked_records", len(unacked))
print("\n".join(out))
EOF

# Run verify.py MODE and turn its lines into TAP.
verify() {
	local kind rest
	python3 "$TF_ROOT/verify.py" "$1" "$STATE/store" "$account" "$W" \
		"${trail_specs[@]}" > "$TF_ROOT/verify.out" 2>&1 || {
		not_ok "verify.py $1 runs"; diag "$(cat "$TF_ROOT/verify.out")"; return; }
	while read -r kind rest; do
		case $kind in
		ok) ok "${2:-}$rest" ;;
		not_ok) not_ok "${2:-}$rest" ;;
		diag) diag "$rest" ;;
		stat) printf -v "stat_${rest%% *}" %s "${rest#* }" ;;
		esac
	done < "$TF_ROOT/verify.out"
}

delivered_count() {
	python3 "$TF_ROOT/verify.py" count "$STATE/store" "$account" "$W" \
		"${trail_specs[@]}"
}

# Frames still in the spool: the bytes of its segments.
spool_bytes() {
	find "$STATE/spool" -name '*.seg' -printf '%s\n' 2>/dev/null | paste -sd+ | sed 's/^$/0/' | bc
}

tf_start -o delivery_interval=1 || done_testing
check "mkdir trails/all" mkdir "$MNT/trails/all"
check "mkdir trails/east" mkdir "$MNT/trails/east"
check "east: home region only" bash -c "echo no > '$MNT/trails/east/multi_region'"
check "mkdir trails/writes" mkdir "$MNT/trails/writes"
check "writes: management WriteOnly" bash -c "echo WriteOnly > '$MNT/trails/writes/management_events'"
account=$(jq -r .account "$STATE/registry.json")
trail_specs=()
for t in all east writes; do trail_specs+=("$t:$(cat "$MNT/trails/$t/s3_bucket"):$t"); done
eq "three trails, three buckets" 3 "$(printf '%s\n' "${trail_specs[@]}" | cut -d: -f2 | sort -u | wc -l)"

started=$SECONDS
writers=()
for i in 1 2 3 4; do python3 "$TF_ROOT/writer.py" "$MNT" "$W" "$i" & writers+=($!); done
for i in $(seq 200); do   # the first kill comes once all four are writing
	[ "$(find "$W" -name 'acked.*' -size +0 | wc -l)" -eq 4 ] && break
	sleep 0.05
done

# aim.py FILE: return once FILE (STATE/delivery.json) records a run under way
# (its intent), after a random 0-40 ms, for a kill inside a delivery, which a
# random pause only rarely gives.  Says whether it saw the run (it gives up
# after 5 s).
cat > "$TF_ROOT/aim.py" <<'EOF'
import random, sys, time
path = sys.argv[1]
end = time.monotonic() + 5
seen = False
while time.monotonic() < end and not seen:
    try:
        seen = '"intent"' in open(path).read()
    except OSError:
        pass
    if not seen:
        time.sleep(0.001)
if seen:
    time.sleep(random.uniform(0, 0.04))
print("seen" if seen else "not seen")
EOF

# ROUNDS kills after a random pause, and after every fourth of them one more
# aimed at a delivery under way.
kills=0 restarts=0 aimed=0 aimed_seen=0 mid_delivery=0 progressed=0 acked_before=0
for round in $(seq "$ROUNDS"); do
	for how in random aimed; do
		[ "$how" == aimed ] && [ $((round % 4)) -ne 0 ] && continue
		alive=0
		for p in "${writers[@]}"; do kill -0 "$p" 2>/dev/null && alive=$((alive + 1)); done
		[ "$alive" -eq 4 ] || { not_ok "round $round: the four writers are still writing ($alive are)"; break 2; }
		if [ "$how" == random ]; then
			pause=$(awk -v r=$RANDOM 'BEGIN { printf "%.2f", 0.2 + 1.3 * r / 32767 }')
			sleep "$pause"
		else
			pause=aimed
			aimed=$((aimed + 1))
			[ "$(python3 "$TF_ROOT/aim.py" "$STATE/delivery.json")" == seen ] &&
				aimed_seen=$((aimed_seen + 1))
		fi
		n=$(cat "$W"/acked.* 2>/dev/null | wc -l)
		if [ "$n" -gt "$acked_before" ]; then
			progressed=$((progressed + 1))
		else
			diag "kill $((kills + 1)) (pause $pause): no write was acknowledged since the last"
		fi
		acked_before=$n
		tf_check_stderr          # what the daemon said before it was killed
		tf_kill9
		kills=$((kills + 1))
		jq -e .intent "$STATE/delivery.json" >/dev/null 2>&1 && mid_delivery=$((mid_delivery + 1))
		tf_start -o delivery_interval=1 || break 2
		restarts=$((restarts + 1))
	done
	if [ $((round % 5)) -eq 0 ]; then
		verify dups "round $round: "
	fi
done
eq "the daemon came back after each of the $kills kills" "$kills" "$restarts"
check "it was killed at least $ROUNDS times at random" test "$kills" -ge "$ROUNDS"
eq "before each kill, the writers had new writes acknowledged" "$kills" "$progressed"
diag "$aimed kills aimed at a delivery ($aimed_seen found one under way); $mid_delivery kills in all left a delivery to redo"
check "some kills interrupted a delivery, which the restart redid" test "$mid_delivery" -ge 1
sleep 0.5                    # the writers find the last mount and write to it
touch "$W/stop"
wait_ok=0
for p in "${writers[@]}"; do wait "$p" || wait_ok=1; done
eq "the writers finish cleanly" 0 "$wait_ok"
writing=$((SECONDS - started))

# The writers' tallies.
sum_stat() { jq -s "map(.$1) | add" "$W"/stats.*; }
acked_batches=$(sum_stat acked_batches) unacked_batches=$(sum_stat unacked_batches)
acked_records=$(sum_stat acked_records) unacked_records=$(sum_stat unacked_records)
errors=$(jq -sc 'map(.errors | to_entries) | add | group_by(.key) | map({(.[0].key): (map(.value) | add)}) | add // {}' "$W"/stats.*)
diag "$writing s of writing: $acked_batches batches acknowledged ($acked_records records), $unacked_batches not ($unacked_records records); errors $errors; short writes $(sum_stat short)"
check "some writes were under way at a kill" test "$unacked_batches" -ge 1
bad_errors=$(jq -r 'keys - ["ENOTCONN", "ECONNABORTED", "ENOENT", "EIO", "ENODEV"] | join(" ")' <<<"$errors")
eq "writes failed only because the daemon died" "" "$bad_errors"
eq "no write returned short" 0 "$(sum_stat short)"

# Wait for delivery: the spool is trimmed only below what every trail has
# in a delivered file, so it is empty when everything accepted is delivered.
for i in $(seq 120); do
	[ "$(spool_bytes)" -eq 0 ] && break
	sleep 0.5
done
eq "the spool drains" 0 "$(spool_bytes)"
verify final
diag "acknowledged records: $stat_acked_records, unacknowledged: $stat_unacked_records"
for t in all east writes; do
	f=stat_${t}_files d=stat_${t}_delivered a=stat_${t}_acked_routed u=stat_${t}_unacked_routed ud=stat_${t}_unacked_delivered
	diag "$t: ${!d:-?} records in ${!f:-?} files; ${!a:-?} acknowledged routed here, ${!ud:-?} of ${!u:-?} unacknowledged delivered"
done

# A clean restart redelivers nothing.
before=$(delivered_count)
tf_restart
sleep 2.5
eq "a clean restart delivers nothing again" "$before" "$(delivered_count)"
diag "the test took $((SECONDS - started)) s after setup"
done_testing
