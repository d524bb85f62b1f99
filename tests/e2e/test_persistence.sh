#!/usr/bin/env bash
# State survives unmount and remount: every kind of setting, the account,
# bucket policies and /errors.  A damaged or newer registry, a different
# account= and a second daemon on the same state are refused at start-up
# with a message that names the path, and nothing is silently reset.
. "$(dirname "$0")/lib.sh"

tf_start || done_testing
cd "$MNT" || exit 1

SETTINGS="arn cloudwatch_logs_group config.json data_events digests global_service_events home_region
	kms_key log_file_validation logging management_events multi_region s3_bucket
	s3_key_prefix sns_topic status tags"

# Everything the tree shows about trails and buckets, as one text.
snapshot() {
	local t b f
	echo "trails: $(ls trails | tr '\n' ' ')"
	for t in $(ls trails); do
		for f in $SETTINGS; do echo "--- $t/$f"; cat "trails/$t/$f"; done
	done
	echo "buckets: $(ls buckets | tr '\n' ' ')"
	for b in $(ls buckets); do echo "--- $b/policy.json"; cat "buckets/$b/policy.json" 2>&1; done
}

# ---- set every kind of setting ----
check "mkdir trails/main" mkdir trails/main
check "mkdir trails/audit" mkdir trails/audit
check "mkdir trails/third" mkdir trails/third
account=$(jq -r .account "$STATE/registry.json")
bucket=$(cat trails/main/s3_bucket)

check "management_events ReadOnly" bash -c 'echo ReadOnly > trails/main/management_events'
check "data_events, three lines" bash -c \
	"printf 'my-data-bucket/reports/ WriteOnly\nother-bucket ReadOnly\narn:aws:s3:::third-bucket/x/\n' > trails/main/data_events"
check "tags, three" bash -c "printf 'team=security\nenv=prod\nempty=\n' > trails/main/tags"
check "log_file_validation no" bash -c 'echo no > trails/main/log_file_validation'
# A prefix needs a bucket policy that lets CloudTrail write under it.
jq --arg r "arn:aws:s3:::$bucket/team/logs/AWSLogs/$account/*" \
	'(.Statement[] | select(.Sid == "AWSCloudTrailWrite20150319") | .Resource) = $r' \
	"buckets/$bucket/policy.json" > "$TF_ROOT/policy.json"
check "the bucket policy is changed for a prefix" bash -c "cat '$TF_ROOT/policy.json' > 'buckets/$bucket/policy.json'"
check "s3_key_prefix team/logs" bash -c 'echo team/logs > trails/main/s3_key_prefix'
eq "the prefix reads back" team/logs "$(cat trails/main/s3_key_prefix)"

check "audit: multi_region no" bash -c 'echo no > trails/audit/multi_region'
check "audit: global_service_events no" bash -c 'echo no > trails/audit/global_service_events'
check "audit: management_events None" bash -c 'echo None > trails/audit/management_events'
check "audit: logging off" bash -c 'echo off > trails/audit/logging'
check "audit: a tag whose key holds '=' through config.json" bash -c \
	'echo "{\"TagsList\":[{\"Key\":\"a=b\",\"Value\":\"x y\"},{\"Key\":\"owner\",\"Value\":\"ops\"}]}" > trails/audit/config.json'
check "third: a new bucket of its own" bash -c 'echo my-third-trail-bucket > trails/third/s3_bucket'
check "third: data_events for every bucket" bash -c 'echo "arn:aws:s3 ReadOnly" > trails/third/data_events'
check "third: logging off and on again" bash -c 'echo off > trails/third/logging && echo on > trails/third/logging'

eq "main's settings took" "ReadOnly no team/logs" \
	"$(cat trails/main/management_events trails/main/log_file_validation trails/main/s3_key_prefix | tr '\n' ' ' | sed 's/ $//')"
eq "main's tags took" "$(printf 'team=security\nenv=prod\nempty=')" "$(cat trails/main/tags)"
eq "main has three data resources" 3 "$(cat trails/main/data_events | wc -l)"
eq "audit's settings took" "no no None off" \
	"$(cat trails/audit/multi_region trails/audit/global_service_events trails/audit/management_events trails/audit/logging | tr '\n' ' ' | sed 's/ $//')"
contains "audit's tag with '=' in its key" "a=b" "$(jq -r '.TagsList[].Key' trails/audit/config.json)"
contains "audit's status has StopLoggingTime" StopLoggingTime "$(cat trails/audit/status)"
eq "third's bucket" my-third-trail-bucket "$(cat trails/third/s3_bucket)"

# Some rejections for /errors.
expect_fail "a bad value is refused" "Invalid argument" bash -c 'echo Sometimes > trails/main/management_events'
expect_fail "a bad name is refused" "Invalid argument" mkdir trails/bad--name
errors_before=$(cat errors)
eq "two lines in /errors" 2 "$(wc -l <<<"$errors_before")"

before=$(snapshot)
registry_before=$(jq -S . "$STATE/registry.json")

# ---- restart: everything reads back the same ----
cd / || exit 1
tf_restart || done_testing
cd "$MNT" || exit 1
after=$(snapshot)
eq "after a restart every setting, status and policy reads back the same" "$before" "$after"
[ "$before" == "$after" ] || diff <(echo "$before") <(echo "$after") | sed 's/^/# /'
eq "the registry holds the same" "$registry_before" "$(jq -S . "$STATE/registry.json")"
eq "the account is the same" "$account" "$(jq -r .account "$STATE/registry.json")"
eq "the arn keeps the account" "arn:aws:cloudtrail:us-east-1:$account:trail/main" "$(cat trails/main/arn)"
eq "/errors survives the restart" "$errors_before" "$(cat errors)"
expect_fail "a new rejection after the restart" "Invalid argument" mkdir trails/x
eq "it comes after the old lines" 3 "$(wc -l < errors)"
contains "newest last" "mkdir /trails/x InvalidTrailNameException" "$(last_error)"
eq "the state directory is private (700)" 700 "$(stat -c %a "$STATE")"
eq "registry.json is private (600)" 600 "$(stat -c %a "$STATE/registry.json")"
eq "registry.json carries a format number" 1 "$(jq .format "$STATE/registry.json")"

# A second restart changes nothing either, and changes made after a restart persist.
check "after the restart, settings still change" bash -c 'echo WriteOnly > trails/main/management_events'
before=$(snapshot)
cd / || exit 1
tf_restart || done_testing
cd "$MNT" || exit 1
eq "the change made after the first restart persists" WriteOnly "$(cat trails/main/management_events)"
eq "a second restart reads back the same too" "$before" "$(snapshot)"

# ---- a second daemon on the same state ----
mkdir -p "$TF_ROOT/mnt2"
tf_refuses "a second daemon on the same state directory refuses" "in use" "$TF_ROOT/mnt2"
contains "its message names the state directory" "$STATE" "$(cat "$TF_ROOT/refused.stderr")"
contains "its message names the daemon holding it" "pid $TF_PID" "$(cat "$TF_ROOT/refused.stderr")"
check "the first daemon keeps working: mkdir" mkdir trails/later
check "the first daemon keeps working: a setting" bash -c 'echo off > trails/main/logging'
eq "the first daemon keeps working: read back" off "$(cat trails/main/logging)"
check "the first daemon is still mounted" mountpoint -q "$MNT"
check "trails/later is in the registry" test "$(jq '[.trails[] | select(.name == "later")] | length' "$STATE/registry.json")" -eq 1

# ---- damaged and newer registries are refused, never reset ----
cd / || exit 1
tf_stop
good=$TF_ROOT/registry.good
cp "$STATE/registry.json" "$good"
reg=$STATE/registry.json
damage() {   # damage DESC TEXT: the registry as it is now must be refused with TEXT
	local desc=$1 text=$2 sum
	sum=$(md5sum < "$reg")
	tf_refuses "$desc: refused" "$text" "$MNT"
	contains "$desc: the message names registry.json's path" "$reg" "$(cat "$TF_ROOT/refused.stderr")"
	eq "$desc: the file is left as it was" "$sum" "$(md5sum < "$reg")"
}
head -c $(($(stat -c %s "$good") / 2)) "$good" > "$reg"
damage "a registry cut in half" "damaged"
contains "a registry cut in half: the message says what to do" "backup" "$(cat "$TF_ROOT/refused.stderr")"
echo 'this is not JSON at all' > "$reg"
damage "a registry of garbage" "not valid JSON"
: > "$reg"
damage "an empty registry" "damaged"
head -c 300 /dev/urandom > "$reg"
damage "a registry of random bytes" "damaged"
echo '{"format": 1, "account": "12345", "trails": []}' > "$reg"
damage "a registry with a bad account" "account"
echo '{"format": 1, "account": "123456789012"}' > "$reg"
damage "a registry without trails" "trails"
echo '{"account": "123456789012", "trails": []}' > "$reg"
damage "a registry without a format" "format"
jq '.trails[0].name = "bad--name"' "$good" > "$reg"
damage "a registry with a bad trail name" "trail 0"
jq '.trails[1].name = "tr/ail"' "$good" > "$reg"
damage "a registry with a '/' in a trail name" "trail 1"
jq '.trails[2].name = "main"' "$good" > "$reg"
damage "a registry with a trail listed twice" "listed twice"
jq '.trails[0].homeRegion = "../x"' "$good" > "$reg"
damage "a registry with a bad home region" "homeRegion"
jq '.trails[0].logging = "yes"' "$good" > "$reg"
damage "a registry with a bad member type" "logging"
jq '.format = 99' "$good" > "$reg"
damage "a registry of format 99" "newer"
contains "format 99: the message says which formats are understood" "format 99" "$(cat "$TF_ROOT/refused.stderr")"
jq '.format = 0' "$good" > "$reg"
damage "a registry of format 0" "format"
rm "$reg" && mkdir "$reg"
tf_refuses "a registry that is a directory: refused" "$reg" "$MNT"
rmdir "$reg"

cp "$good" "$reg"
tf_start || done_testing
cd "$MNT" || exit 1
eq "with the good registry back, every trail is there" "audit later main third" "$(ls trails | tr '\n' ' ' | sed 's/ $//')"
eq "and main's settings too" "WriteOnly off team/logs" \
	"$(cat trails/main/management_events trails/main/logging trails/main/s3_key_prefix | tr '\n' ' ' | sed 's/ $//')"
cd / || exit 1
tf_stop

# ---- account= ----
STATE=$TF_ROOT/state-account
tf_start -o account=111122223333 || done_testing
eq "account= on a fresh state sets the account" 111122223333 "$(jq -r .account "$STATE/registry.json")"
check "mkdir trails/acct" mkdir "$MNT/trails/acct"
eq "the arn shows it" "arn:aws:cloudtrail:us-east-1:111122223333:trail/acct" "$(cat "$MNT/trails/acct/arn")"
contains "the new bucket's name shows it" "aws-cloudtrail-logs-111122223333-" "$(cat "$MNT/trails/acct/s3_bucket")"
tf_stop
tf_start || done_testing
eq "without account= the kept account stays" "arn:aws:cloudtrail:us-east-1:111122223333:trail/acct" \
	"$(cat "$MNT/trails/acct/arn")"
tf_stop
tf_start -o account=111122223333 || done_testing
check "the same account= again is fine" test -d "$MNT/trails/acct"
tf_stop
sum=$(md5sum < "$STATE/registry.json")
tf_refuses "a different account= on an existing state is refused" "$STATE" "$MNT" -o account=999988887777
contains "the message names both accounts" "111122223333" "$(cat "$TF_ROOT/refused.stderr")"
contains "the message names the wanted account" "999988887777" "$(cat "$TF_ROOT/refused.stderr")"
eq "the registry is untouched" "$sum" "$(md5sum < "$STATE/registry.json")"
tf_refuses "account= that is not 12 digits is refused" "12 digits" "$MNT" -o account=12345
tf_refuses "account= with letters is refused" "12 digits" "$MNT" -o account=11112222333a

STATE=$TF_ROOT/state-fresh
tf_refuses "a bad account= on a fresh state is refused too" "12 digits" "$MNT" -o account=1
check "and it leaves no registry behind" test ! -e "$STATE/registry.json"

done_testing
