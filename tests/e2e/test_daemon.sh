#!/usr/bin/env bash
# The daemon itself: --help and --version, clean stops (SIGTERM, SIGINT,
# fusermount3 -u) that lose nothing, the background mode, region= and
# regions=, test_clock=, a trail from another home region, store=, and the
# lock on the state directory.
. "$(dirname "$0")/lib.sh"

# ---- --help and --version ----
help=$("$TRAILFS" --help 2>&1); rc=$?
eq "--help exits 0" 0 "$rc"
for opt in state= store= account= region= regions= test_clock= allow_other -f -d --version; do
	contains "--help lists $opt" "$opt" "$help"
done
contains "--help shows the usage" "MOUNTPOINT" "$help"
eq "-h is --help" "$help" "$("$TRAILFS" -h 2>&1)"
version=$("$TRAILFS" --version 2>&1); rc=$?
eq "--version exits 0" 0 "$rc"
eq "--version prints trailfs and a version number" 1 "$(grep -cE '^trailfs [0-9]+\.[0-9]+' <<<"$version")"
eq "-V is --version" "$version" "$("$TRAILFS" -V 2>&1)"
out=$("$TRAILFS" 2>&1); rc=$?
check "no mount point: a non-zero exit" test "$rc" -ne 0
contains "no mount point: says so" "no mount point" "$out"
check "--help and --version made no state" test ! -e "$STATE"

# ---- clean stops: SIGTERM, SIGINT, fusermount3 -u ----
# A daemon started in the background of a script ignores SIGINT (bash sets
# it so); env --default-signal gives it the default back, as a terminal would.
real_trailfs=$TRAILFS
cat > "$TF_ROOT/trailfs-sigint" <<EOF
#!/bin/sh
exec env --default-signal=INT "$real_trailfs" "\$@"
EOF
chmod 755 "$TF_ROOT/trailfs-sigint"

# stop_with SIGNAL: the daemon must unmount and exit 0.
stop_with() {
	local sig=$1 rc=0
	kill -s "$sig" "$TF_PID"
	wait "$TF_PID" || rc=$?
	TF_PID=
	eq "SIG$sig: the daemon exits 0" 0 "$rc"
	check "SIG$sig: the mount point is no longer mounted" bash -c "! mountpoint -q '$MNT'"
	tf_check_stderr
}

tf_start || done_testing
check "mkdir trails/main" mkdir "$MNT/trails/main"
check "tags before SIGTERM" bash -c "echo stage=term > '$MNT/trails/main/tags'"
stop_with TERM
tf_start || done_testing
eq "after SIGTERM the state is there" "stage=term" "$(cat "$MNT/trails/main/tags")"
check "tags before SIGINT" bash -c "echo stage=int > '$MNT/trails/main/tags'"
tf_stop
TRAILFS=$TF_ROOT/trailfs-sigint
tf_start || done_testing
TRAILFS=$real_trailfs
stop_with INT
tf_start || done_testing
eq "after SIGINT the state is there" "stage=int" "$(cat "$MNT/trails/main/tags")"
check "tags before fusermount3 -u" bash -c "echo stage=fusermount > '$MNT/trails/main/tags'"
check "fusermount3 -u unmounts" fusermount3 -u "$MNT"
rc=0; wait "$TF_PID" || rc=$?; TF_PID=
eq "after fusermount3 -u the daemon exits 0" 0 "$rc"
check "after fusermount3 -u nothing is mounted" bash -c "! mountpoint -q '$MNT'"
tf_check_stderr
tf_start || done_testing
eq "after fusermount3 -u the state is there" "stage=fusermount" "$(cat "$MNT/trails/main/tags")"

# ---- the lock: one daemon per state directory ----
mkdir -p "$TF_ROOT/mnt2"
tf_refuses "a second daemon on the same state refuses" "in use" "$TF_ROOT/mnt2"
contains "its message names the state directory" "$STATE" "$(cat "$TF_ROOT/refused.stderr")"
check "the first daemon keeps working" bash -c "echo stage=locked > '$MNT/trails/main/tags'"
eq "and reads back" "stage=locked" "$(cat "$MNT/trails/main/tags")"
tf_stop

# ---- the background mode (no -f) ----
"$TRAILFS" "$MNT" -o "state=$STATE" 2>"$TF_ROOT/bg.stderr"; rc=$?
eq "without -f the command returns 0" 0 "$rc"
for i in $(seq 100); do mountpoint -q "$MNT" && break; sleep 0.05; done
check "without -f the daemon mounts in the background" mountpoint -q "$MNT"
eq "the background daemon serves" "stage=locked" "$(cat "$MNT/trails/main/tags" 2>&1)"
bg_pid=$(pgrep -xf -- "$TRAILFS $MNT -o state=$STATE")
eq "the lock file names the serving daemon" "$bg_pid" "$(cat "$STATE/lock" 2>/dev/null)"
tf_refuses "a second daemon beside the background one refuses" "pid $bg_pid" "$TF_ROOT/mnt2"
check "fusermount3 -u stops the background daemon" fusermount3 -u "$MNT"
for i in $(seq 100); do kill -0 "$bg_pid" 2>/dev/null || break; sleep 0.05; done
check "the background daemon is gone" bash -c "! kill -0 $bg_pid 2>/dev/null"
check "a daemon starts on the state again" tf_start
tf_stop

# The background daemon changes to "/": relative paths must still work.
echo 1767225600 > "$TF_ROOT/rel-clock"
(cd "$TF_ROOT" && "$TRAILFS" mnt -o state=rel-state,store=rel-store,test_clock=rel-clock) 2>"$TF_ROOT/bg.stderr"
rc=$?
eq "relative state=, store=, test_clock= in the background: starts" 0 "$rc"
for i in $(seq 100); do mountpoint -q "$MNT" && break; sleep 0.05; done
check "relative paths: mkdir trails/rel works" mkdir "$MNT/trails/rel"
check "relative paths: the registry is under the working directory" \
	test "$(jq -r '.trails[0].name' "$TF_ROOT/rel-state/registry.json" 2>&1)" == rel
check "relative paths: the bucket is in the relative store" test -d "$TF_ROOT/rel-store/$(cat "$MNT/trails/rel/s3_bucket")"
eq "relative paths: the test clock is read" '"2026-01-01T00:00:00Z"' "$(jq .StartLoggingTime "$MNT/trails/rel/status")"
bg_pid=$(cat "$TF_ROOT/rel-state/lock")
check "relative paths: fusermount3 -u" fusermount3 -u "$MNT"
for i in $(seq 100); do kill -0 "$bg_pid" 2>/dev/null || break; sleep 0.05; done
check "relative paths: the daemon is gone" bash -c "! kill -0 $bg_pid 2>/dev/null"
eq "relative paths: the background daemon printed nothing" "" "$(cat "$TF_ROOT/bg.stderr")"

# ---- region= ----
STATE=$TF_ROOT/state-eu
tf_start -o region=eu-west-1 || done_testing
check "region=eu-west-1: mkdir trails/euro" mkdir "$MNT/trails/euro"
account=$(jq -r .account "$STATE/registry.json")
eq "region=eu-west-1: home_region" eu-west-1 "$(cat "$MNT/trails/euro/home_region")"
eq "region=eu-west-1: the arn uses it" "arn:aws:cloudtrail:eu-west-1:$account:trail/euro" "$(cat "$MNT/trails/euro/arn")"
eq "region=eu-west-1: config.json's HomeRegion" eu-west-1 "$(jq -r .HomeRegion "$MNT/trails/euro/config.json")"
eq "region=eu-west-1: the bucket policy's SourceArn uses it" "arn:aws:cloudtrail:eu-west-1:$account:trail/euro" \
	"$(jq -r '.Statement[0].Condition.StringEquals["aws:SourceArn"]' "$MNT/buckets/$(cat "$MNT/trails/euro/s3_bucket")/policy.json")"
tf_stop

# ---- bad region= and regions= ----
STATE=$TF_ROOT/state-regions
tf_refuses "region= outside regions= is refused" "not among the configured regions" "$MNT" \
	-o regions=us-east-1:eu-west-1 -o region=ap-south-1
contains "the message names the region" "ap-south-1" "$(cat "$TF_ROOT/refused.stderr")"
tf_refuses "region= defaults to us-east-1, which must be among regions=" "us-east-1" "$MNT" \
	-o regions=eu-west-1:eu-west-2
tf_refuses "regions= with a bad name is refused" "not a region name" "$MNT" -o regions=us-east-1:nowhere
contains "the message names the bad region" '"nowhere"' "$(cat "$TF_ROOT/refused.stderr")"
tf_refuses "regions= listing a region twice is refused" "twice" "$MNT" -o regions=us-east-1:us-east-1
tf_refuses "an empty regions= is refused" "no regions" "$MNT" -o regions=
tf_refuses "regions=: is refused" "no regions" "$MNT" -o regions=:
tf_refuses "region= with a bad name is refused" "not a region name" "$MNT" -o region=US-EAST-1
tf_refuses "region= with a path in it is refused" "not a region name" "$MNT" -o region=../x
tf_start -o regions=us-east-1:eu-west-1 -o region=eu-west-1 || done_testing
check "a good regions= and region= start" mkdir "$MNT/trails/two"
eq "and the trail's home region is the given one" eu-west-1 "$(cat "$MNT/trails/two/home_region")"
tf_stop

# ---- test_clock= ----
STATE=$TF_ROOT/state-clock
clock=$TF_ROOT/clock
echo 1767225600 > "$clock"
tf_start -o "test_clock=$clock" || done_testing
check "test_clock: mkdir trails/timed" mkdir "$MNT/trails/timed"
eq "test_clock: StartLoggingTime is the clock's" '"2026-01-01T00:00:00Z"' \
	"$(jq .StartLoggingTime "$MNT/trails/timed/status")"
check "test_clock: no StopLoggingTime yet" bash -c "! jq -e .StopLoggingTime '$MNT/trails/timed/status'"
expect_fail "test_clock: a rejection" "Invalid argument" mkdir "$MNT/trails/bad--name"
eq "test_clock: /errors lines are stamped with the clock" "2026-01-01T00:00:00Z uid=0 mkdir /trails/bad--name" \
	"$(last_error | cut -d' ' -f1-4)"
echo 1767229200 > "$clock"
check "test_clock: echo off > logging an hour later" bash -c "echo off > '$MNT/trails/timed/logging'"
eq "test_clock: StopLoggingTime is an hour later" '"2026-01-01T01:00:00Z"' \
	"$(jq .StopLoggingTime "$MNT/trails/timed/status")"
eq "test_clock: StartLoggingTime is unchanged" '"2026-01-01T00:00:00Z"' \
	"$(jq .StartLoggingTime "$MNT/trails/timed/status")"
eq "test_clock: IsLogging is false" false "$(jq .IsLogging "$MNT/trails/timed/status")"
echo 1767312000 > "$clock"
check "test_clock: echo on > logging the next day" bash -c "echo on > '$MNT/trails/timed/logging'"
eq "test_clock: StartLoggingTime moves on" '"2026-01-02T00:00:00Z"' "$(jq .StartLoggingTime "$MNT/trails/timed/status")"
eq "test_clock: StopLoggingTime stays" '"2026-01-01T01:00:00Z"' "$(jq .StopLoggingTime "$MNT/trails/timed/status")"
expect_fail "test_clock: a rejection the next day" "Invalid argument" bash -c "echo maybe > '$MNT/trails/timed/logging'"
contains "test_clock: it is stamped the next day" "2026-01-02T00:00:00Z uid=0 " "$(last_error)"
tf_stop
rm "$clock"
tf_refuses "test_clock= naming no file is refused" "test_clock" "$MNT" -o "test_clock=$clock"
echo "noon" > "$clock"
tf_refuses "test_clock= with no number in the file is refused" "epoch seconds" "$MNT" -o "test_clock=$clock"

# ---- a trail of another home region: readable, not changeable ----
STATE=$TF_ROOT/state-home
tf_start || done_testing
for t in east1 east2 east3 east4 east5; do mkdir "$MNT/trails/$t"; done
echo team=east > "$MNT/trails/east1/tags"
cfg=$(cat "$MNT/trails/east1/config.json")
tf_stop
tf_start -o region=eu-west-1 || done_testing
eq "another region: ls shows the trails" "east1 east2 east3 east4 east5" "$(ls "$MNT/trails" | tr '\n' ' ' | sed 's/ $//')"
eq "another region: config.json reads" "$cfg" "$(cat "$MNT/trails/east1/config.json")"
eq "another region: home_region is the trail's" us-east-1 "$(cat "$MNT/trails/east1/home_region")"
check "another region: status reads" jq -e .IsLogging "$MNT/trails/east1/status"
expect_fail "another region: echo off > logging fails with EINVAL" "Invalid argument" \
	bash -c "echo off > '$MNT/trails/east1/logging'"
contains "another region: /errors says InvalidHomeRegionException" \
	"/trails/east1/logging InvalidHomeRegionException: " "$(last_error)"
contains "another region: /errors names the home region" "us-east-1" "$(last_error)"
eq "another region: logging is still on" on "$(cat "$MNT/trails/east1/logging")"
expect_fail "another region: tags cannot change" "Invalid argument" \
	bash -c "echo team=west > '$MNT/trails/east1/tags'"
contains "another region: /errors says InvalidHomeRegionException for tags" \
	"InvalidHomeRegionException" "$(last_error)"
expect_fail "another region: config.json cannot change" "Invalid argument" \
	bash -c "echo '{\"IsLogging\":false}' > '$MNT/trails/east1/config.json'"
expect_fail "another region: rmdir fails with EINVAL" "Invalid argument" rmdir "$MNT/trails/east1"
contains "another region: /errors says InvalidHomeRegionException for rmdir" \
	"rmdir /trails/east1 InvalidHomeRegionException: " "$(last_error)"
check "another region: the trail is still there" test -d "$MNT/trails/east1"
eq "another region: nothing changed" "$cfg" "$(cat "$MNT/trails/east1/config.json")"
check "another region: the quota counts per home region, so a sixth trail here works" \
	mkdir "$MNT/trails/west1"
eq "another region: it has this home region" eu-west-1 "$(cat "$MNT/trails/west1/home_region")"
tf_stop
tf_start || done_testing
check "back home: the trail changes again" bash -c "echo off > '$MNT/trails/east1/logging'"
expect_fail "back home: the eu-west-1 trail is the one that cannot change" "Invalid argument" \
	bash -c "echo off > '$MNT/trails/west1/logging'"
expect_fail "back home: the quota of us-east-1 is full" "Disk quota exceeded" mkdir "$MNT/trails/east6"
tf_stop

# ---- store= ----
STATE=$TF_ROOT/state-store
store=$TF_ROOT/objects
tf_start -o "store=$store" || done_testing
check "store=: mkdir trails/stored" mkdir "$MNT/trails/stored"
bucket=$(cat "$MNT/trails/stored/s3_bucket")
check "store=: the trail's bucket is a directory in the store" test -d "$store/$bucket"
check "store=: and not in the state directory" test ! -e "$STATE/store/$bucket"
check "store=: mkdir buckets/my-own-bucket-1" mkdir "$MNT/buckets/my-own-bucket-1"
check "store=: it appears in the store" test -d "$store/my-own-bucket-1"
tf_stop
tf_start -o "store=$store" || done_testing
eq "store=: after a restart the buckets are listed" "$(printf '%s\n' "$bucket" my-own-bucket-1 | LC_ALL=C sort)" \
	"$(ls "$MNT/buckets")"
tf_stop

done_testing
