#!/usr/bin/env bash
# With -o allow_other the mount owner administers and other users read: the
# mode bits say so and the kernel enforces them.  Uses a real second user
# (trailfs-test, made here with useradd if missing and kept for other tests),
# a positive control first, then the refused writes.  Without allow_other the
# other user cannot even look.
. "$(dirname "$0")/lib.sh"

tf_second_user
check "the test user exists" id "$USER2"
check "the test user can reach the mount point's parent" as_user ls "$TF_ROOT"

tf_start -o allow_other || done_testing
cd "$MNT" || exit 1
check "root: mkdir trails/main" mkdir trails/main
bucket=$(cat trails/main/s3_bucket)
policy_before=$(cat "buckets/$bucket/policy.json")
cfg_before=$(cat trails/main/config.json)

# ---- positive control: the other user reads what it may read ----
eq "user: ls trails works" main "$(as_user ls "$MNT/trails" 2>&1)"
eq "user: cat logging works" on "$(as_user cat "$MNT/trails/main/logging" 2>&1)"
eq "user: config.json reads the same as root's" "$cfg_before" "$(as_user cat "$MNT/trails/main/config.json" 2>&1)"
check "user: status is readable JSON" as_user jq -e .IsLogging "$MNT/trails/main/status"
check "user: arn is readable" as_user cat "$MNT/trails/main/arn"
eq "user: ls buckets works" "$bucket" "$(as_user ls "$MNT/buckets" 2>&1)"
eq "user: a bucket policy reads" "$policy_before" "$(as_user cat "$MNT/buckets/$bucket/policy.json" 2>&1)"
check "user: /errors is readable" as_user cat "$MNT/errors"
check "user: ls -l of a trail works" as_user ls -l "$MNT/trails/main"

# ---- refusals: the kernel enforces the modes ----
# (The kernel refuses these itself, so the daemon and /errors never see them.)
expect_fail "user: echo off > logging fails with EACCES" "Permission denied" \
	as_user bash -c "echo off > '$MNT/trails/main/logging'"
eq "logging is still on" on "$(cat trails/main/logging)"
expect_fail "user: >> tags fails with EACCES" "Permission denied" \
	as_user bash -c "echo evil=1 >> '$MNT/trails/main/tags'"
expect_fail "user: writing config.json fails with EACCES" "Permission denied" \
	as_user bash -c "echo '{\"IsLogging\":false}' > '$MNT/trails/main/config.json'"
expect_fail "user: mkdir trails/x fails with EACCES" "Permission denied" as_user mkdir "$MNT/trails/xyz"
check "no trail xyz appeared" test ! -e trails/xyz
expect_fail "user: rmdir trails/main fails with EACCES" "Permission denied" as_user rmdir "$MNT/trails/main"
check "trails/main is still there" test -d trails/main
expect_fail "user: mv trails/main fails with EACCES" "Permission denied" \
	as_user mv "$MNT/trails/main" "$MNT/trails/other"
expect_fail "user: rm of a setting fails with EACCES" "Permission denied" as_user rm -f "$MNT/trails/main/logging"
expect_fail "user: touch a new file in a trail fails with EACCES" "Permission denied" \
	as_user touch "$MNT/trails/main/newfile"
expect_fail "user: writing a bucket policy fails with EACCES" "Permission denied" \
	as_user bash -c "echo '{}' > '$MNT/buckets/$bucket/policy.json'"
eq "the bucket policy is unchanged" "$policy_before" "$(cat "buckets/$bucket/policy.json")"
expect_fail "user: mkdir buckets/x fails with EACCES" "Permission denied" as_user mkdir "$MNT/buckets/user-bucket-x"
check "no bucket appeared" test ! -e buckets/user-bucket-x
expect_fail "user: chmod of a setting fails" "Operation not permitted" as_user chmod 666 "$MNT/trails/main/logging"
expect_fail "user: truncate of a setting fails with EACCES" "Permission denied" \
	as_user truncate -s 0 "$MNT/trails/main/logging"
eq "the trail's configuration is unchanged" "$cfg_before" "$(cat trails/main/config.json)"
eq "no trail was made or removed" main "$(ls trails)"

# ---- the owner administers, also with allow_other ----
check "root: echo off > logging" bash -c 'echo off > trails/main/logging'
eq "user: sees the change" off "$(as_user cat "$MNT/trails/main/logging")"
check "root: echo on > logging" bash -c 'echo on > trails/main/logging'

# ---- the mode bits ----
mode_of() { stat -c '%A %U %G' "$1"; }
for f in multi_region s3_bucket s3_key_prefix management_events data_events kms_key \
	log_file_validation sns_topic cloudwatch_logs_group global_service_events logging tags config.json; do
	eq "trails/main/$f is rw-r--r-- root root" "-rw-r--r-- root root" "$(mode_of "trails/main/$f")"
done
for f in arn home_region status; do
	eq "trails/main/$f is r--r--r-- root root" "-r--r--r-- root root" "$(mode_of "trails/main/$f")"
done
eq "errors is r--r--r-- root root" "-r--r--r-- root root" "$(mode_of errors)"
eq "buckets/B/policy.json is rw-r--r-- root root" "-rw-r--r-- root root" "$(mode_of "buckets/$bucket/policy.json")"
for d in . trails trails/main buckets "buckets/$bucket"; do
	eq "$d is drwxr-xr-x root root" "drwxr-xr-x root root" "$(mode_of "$d")"
done
eq "the user sees the same modes" "-rw-r--r-- root root" "$(as_user stat -c '%A %U %G' "$MNT/trails/main/logging")"
expect_fail "root cannot chmod a setting" "Operation not permitted" chmod 666 trails/main/logging
contains "/errors says OperationNotPermittedException for chmod" \
	"setattr /trails/main/logging OperationNotPermittedException" "$(last_error)"
expect_fail "root cannot chown a setting to the user" "Operation not permitted" chown "$USER2" trails/main/logging
eq "the modes stay" "-rw-r--r-- root root" "$(mode_of trails/main/logging)"

# ---- without allow_other, other users cannot look at all ----
cd / || exit 1
tf_stop
tf_start || done_testing
expect_fail "without allow_other: user ls of the mount fails with EACCES" "Permission denied" as_user ls "$MNT"
expect_fail "without allow_other: user cat of a setting fails with EACCES" "Permission denied" \
	as_user cat "$MNT/trails/main/logging"
expect_fail "without allow_other: user stat of the mount fails with EACCES" "Permission denied" \
	as_user stat "$MNT"
check "without allow_other: the user still sees the mount point's parent" as_user ls "$TF_ROOT"
eq "without allow_other: root reads as before" on "$(cat "$MNT/trails/main/logging")"

done_testing
