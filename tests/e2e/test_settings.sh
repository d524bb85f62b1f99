#!/usr/bin/env bash
# Every settings file of a trail, set with echo and read with cat: the
# values AWS accepts, the ones it refuses (errno in the shell, the AWS error
# in /errors, the old value kept), and how writes to a setting behave
# (pieces, >>, O_TRUNC, no newline).
. "$(dirname "$0")/lib.sh"

CLOCK=$TF_ROOT/clock
echo 1800000000 > "$CLOCK"             # 2027-01-15T08:00:00Z
tf_start -o "test_clock=$CLOCK" || done_testing
cd "$MNT" || exit 1

T=trails/main
n_errors() { wc -l < errors; }

# refused DESC ERRNO-TEXT EXCEPTION SHELL-COMMAND: the command fails with
# ERRNO-TEXT where the shell sees it, and exactly one new line in /errors
# names EXCEPTION.
refused() {
	local before
	before=$(n_errors)
	expect_fail "$1" "$2" bash -c "$4"
	eq "$1: one new line in /errors" $((before + 1)) "$(n_errors)"
	contains "$1: /errors says $3" " $3: " "$(last_error)"
}

# value FILE: the file's content with its trailing newline made visible.
value() { cat "$T/$1"; printf '|'; }

check "mkdir trails/main" mkdir "$T"
account=$(jq -r .account "$STATE/registry.json")
bucket=$(cat "$T/s3_bucket")

# ---- reading ----
eq "a setting reads as its value and a newline" $'yes\n|' "$(value multi_region)"
eq "management_events reads as its value and a newline" $'All\n|' "$(value management_events)"
eq "an empty setting reads as a bare newline" $'\n|' "$(value s3_key_prefix)"
eq "arn" "arn:aws:cloudtrail:us-east-1:$account:trail/main" "$(cat $T/arn)"

# ---- read-only files ----
for f in arn home_region status; do
	refused "writing $f is refused" "Operation not permitted" OperationNotPermittedException \
		"echo x > $T/$f"
done
contains "the refusal names the file" "/trails/main/status" "$(last_error)"
eq "arn is unchanged" "arn:aws:cloudtrail:us-east-1:$account:trail/main" "$(cat $T/arn)"
eq "home_region is unchanged" us-east-1 "$(cat $T/home_region)"

# ---- yes | no ----
for f in log_file_validation multi_region; do
	check "echo no > $f" bash -c "echo no > $T/$f"
	eq "$f reads no" no "$(cat $T/$f)"
	refused "echo maybe > $f is refused" "Invalid argument" InvalidParameterException \
		"echo maybe > $T/$f"
	refused "echo Yes > $f is refused (exact spelling)" "Invalid argument" \
		InvalidParameterException "echo Yes > $T/$f"
	eq "$f is still no" no "$(cat $T/$f)"
done
contains "the message says what is right" "multi_region takes yes or no" "$(last_error)"

check "with multi_region no, global_service_events no is accepted" \
	bash -c "echo no > $T/global_service_events"
eq "global_service_events reads no" no "$(cat $T/global_service_events)"
refused "multi_region yes without global service events is refused" "Invalid argument" \
	InvalidParameterCombinationException "echo yes > $T/multi_region"
eq "multi_region is still no" no "$(cat $T/multi_region)"
check "global_service_events yes" bash -c "echo yes > $T/global_service_events"
check "then multi_region yes" bash -c "echo yes > $T/multi_region"
check "log_file_validation yes" bash -c "echo yes > $T/log_file_validation"
refused "global_service_events no on a multi-region trail is refused" "Invalid argument" \
	InvalidParameterCombinationException "echo no > $T/global_service_events"
eq "global_service_events is still yes" yes "$(cat $T/global_service_events)"
eq "multi_region reads yes" yes "$(cat $T/multi_region)"
eq "log_file_validation reads yes" yes "$(cat $T/log_file_validation)"

# ---- logging on | off: StopLogging / StartLogging ----
# The digest members come from the delivery thread a moment after a change
# (test_digests.sh checks them): left out here.
status() { jq -c 'del(.LatestDigestDeliveryTime, .LatestDigestDeliveryError)' "$T/status"; }
eq "status before: logging since the trail was made" \
	'{"IsLogging":true,"StartLoggingTime":"2027-01-15T08:00:00Z"}' "$(status)"
echo 1800000600 > "$CLOCK"
check "echo off > logging (StopLogging)" bash -c "echo off > $T/logging"
eq "logging reads off" off "$(cat $T/logging)"
eq "status has IsLogging false, StopLoggingTime, and the delivery StopLogging made" \
	'{"IsLogging":false,"LatestDeliveryTime":"2027-01-15T08:10:00Z","StartLoggingTime":"2027-01-15T08:00:00Z","StopLoggingTime":"2027-01-15T08:10:00Z"}' \
	"$(status)"
echo 1800001200 > "$CLOCK"
check "echo on > logging (StartLogging)" bash -c "echo on > $T/logging"
eq "logging reads on" on "$(cat $T/logging)"
eq "StartLoggingTime is updated, StopLoggingTime kept" \
	'{"IsLogging":true,"LatestDeliveryTime":"2027-01-15T08:10:00Z","StartLoggingTime":"2027-01-15T08:20:00Z","StopLoggingTime":"2027-01-15T08:10:00Z"}' \
	"$(status)"
refused "echo yes > logging is refused" "Invalid argument" InvalidParameterException \
	"echo yes > $T/logging"
eq "logging is still on" on "$(cat $T/logging)"

# ---- management_events ----
for v in ReadOnly WriteOnly None All; do
	check "echo $v > management_events" bash -c "echo $v > $T/management_events"
	eq "management_events reads $v" "$v" "$(cat $T/management_events)"
done
for v in read-only readonly all Sometimes; do
	refused "echo $v > management_events is refused" "Invalid argument" \
		InvalidEventSelectorsException "echo $v > $T/management_events"
done
eq "management_events is still All" All "$(cat $T/management_events)"

# ---- s3_key_prefix ----
for v in /logs logs/ a//b a/./b a/../b $'a\tb' "$(printf 'p%.0s' {1..201})"; do
	refused "prefix \"${v:0:12}\" is refused" "Invalid argument" InvalidS3PrefixException \
		"printf '%s\n' '$v' > $T/s3_key_prefix"
done
contains "the message explains the rule" "at most 200" "$(last_error)"
refused "a new prefix on the auto-created bucket is refused: its policy names the old one" \
	"Permission denied" InsufficientS3BucketPolicyException "echo logs/2027 > $T/s3_key_prefix"
contains "the message says which resource the policy must allow" \
	"arn:aws:s3:::$bucket/logs/2027/AWSLogs/$account/*" "$(last_error)"
eq "the prefix is still empty" "" "$(cat $T/s3_key_prefix)"

check "the bucket policy is edited to allow the prefix" \
	sed -i "s#$bucket/AWSLogs/#$bucket/logs/2027/AWSLogs/#" "buckets/$bucket/policy.json"
check "now echo logs/2027 > s3_key_prefix works" bash -c "echo logs/2027 > $T/s3_key_prefix"
eq "the prefix reads back" logs/2027 "$(cat $T/s3_key_prefix)"
eq "config.json has S3KeyPrefix" logs/2027 "$(jq -r .S3KeyPrefix $T/config.json)"
refused "clearing it is refused while the policy names only logs/2027" "Permission denied" \
	InsufficientS3BucketPolicyException "echo > $T/s3_key_prefix"
check "the policy is opened to every prefix" \
	sed -i "s#$bucket/logs/2027/AWSLogs/#$bucket/*/AWSLogs/#" "buckets/$bucket/policy.json"
p200=$(printf 'p%.0s' {1..200})
check "a prefix of 200 characters is accepted" bash -c "echo $p200 > $T/s3_key_prefix"
eq "it reads back whole" "$p200" "$(cat $T/s3_key_prefix)"
check "the policy is put back as the console made it" \
	sed -i "s#$bucket/\\*/AWSLogs/#$bucket/AWSLogs/#" "buckets/$bucket/policy.json"
check "echo > s3_key_prefix clears it" bash -c "echo > $T/s3_key_prefix"
eq "the prefix is empty" "" "$(cat $T/s3_key_prefix)"
eq "config.json leaves S3KeyPrefix out" null "$(jq .S3KeyPrefix $T/config.json)"

# ---- s3_bucket ----
for v in a.-b Bad_Name ab xn--x 192.168.5.4 "$(printf 'b%.0s' {1..64})"; do
	refused "bucket \"${v:0:12}\" is refused" "Invalid argument" InvalidS3BucketNameException \
		"echo $v > $T/s3_bucket"
done
refused "an empty bucket is refused" "Invalid argument" InvalidS3BucketNameException \
	"echo > $T/s3_bucket"
eq "s3_bucket is unchanged" "$bucket" "$(cat $T/s3_bucket)"

check "an unknown bucket is created for the trail" bash -c "echo main-trail-logs > $T/s3_bucket"
eq "s3_bucket reads it" main-trail-logs "$(cat $T/s3_bucket)"
check "it is under /buckets" test -d buckets/main-trail-logs
eq "with CloudTrail's policy for this trail" "arn:aws:cloudtrail:us-east-1:$account:trail/main" \
	"$(jq -r '.Statement[] | select(.Sid=="AWSCloudTrailWrite20150319") | .Condition.StringEquals."aws:SourceArn"' buckets/main-trail-logs/policy.json)"
check "the old bucket stays" test -d "buckets/$bucket"

check "mkdir buckets/no-policy" mkdir buckets/no-policy
refused "an existing bucket without a policy is refused" "Permission denied" \
	InsufficientS3BucketPolicyException "echo no-policy > $T/s3_bucket"
contains "the message says the bucket has no policy" "has no policy" "$(last_error)"
check "a policy that does not let CloudTrail write" bash -c \
	"echo '{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"arn:aws:iam::$account:root\"},\"Action\":\"s3:GetObject\",\"Resource\":\"arn:aws:s3:::no-policy/*\"}]}' > buckets/no-policy/policy.json"
refused "an existing bucket with an insufficient policy is refused" "Permission denied" \
	InsufficientS3BucketPolicyException "echo no-policy > $T/s3_bucket"
eq "s3_bucket is unchanged" main-trail-logs "$(cat $T/s3_bucket)"
check "the trail goes back to its first bucket" bash -c "echo $bucket > $T/s3_bucket"
eq "s3_bucket reads it" "$bucket" "$(cat $T/s3_bucket)"

# ---- data_events ----
check "data_events: prefixes, whole buckets, full ARNs, all buckets" bash -c \
	"printf 'finance-reports/2026 ReadOnly\nlogs-bucket\narn:aws:s3:::other-bucket/x/ WriteOnly\narn:aws:s3\n' > $T/data_events"
eq "data_events reads back normalised" \
	"finance-reports/2026 ReadOnly
logs-bucket/ All
other-bucket/x/ WriteOnly
arn:aws:s3 All" "$(cat $T/data_events)"
eq "config.json has the resources as ARNs" \
	'["arn:aws:s3","arn:aws:s3:::finance-reports/2026","arn:aws:s3:::logs-bucket/","arn:aws:s3:::other-bucket/x/"]' \
	"$(jq -c '[.EventSelectors[].DataResources[].Values[]] | sort' $T/config.json)"
refused "an unknown read/write type is refused" "Invalid argument" \
	InvalidEventSelectorsException "echo 'logs-bucket Sometimes' > $T/data_events"
refused "a bad bucket name is refused" "Invalid argument" InvalidEventSelectorsException \
	"printf 'logs-bucket\nBad_Bucket All\n' > $T/data_events"
contains "the message names the line" "data_events line 2" "$(last_error)"
seq -f 'bucket-%03g/p All' 0 250 > "$TF_ROOT/251"
refused "251 resources are refused" "Invalid argument" InvalidEventSelectorsException \
	"cat $TF_ROOT/251 > $T/data_events"
contains "the message gives the limit" "at most 250" "$(last_error)"
eq "data_events is unchanged" 4 "$(grep -c . $T/data_events)"
head -n 250 "$TF_ROOT/251" > "$TF_ROOT/250"
echo arn:aws:s3 >> "$TF_ROOT/250"
check "250 resources and arn:aws:s3 (which is not counted) are accepted" \
	bash -c "cat $TF_ROOT/250 > $T/data_events"
eq "all 251 lines read back" 251 "$(grep -c . $T/data_events)"
check "echo > data_events clears them" bash -c "echo > $T/data_events"
eq "no data events" "" "$(cat $T/data_events)"

# ---- tags ----
check "tags: one key=value a line, empty values, '=' in values" bash -c \
	"printf 'team=security\nenv=prod\nempty=\nurl=a=b\n' > $T/tags"
eq "tags read back" "team=security
env=prod
empty=
url=a=b" "$(cat $T/tags)"
refused "a line without '=' is refused" "Invalid argument" InvalidTagParameterException \
	"echo no-equals > $T/tags"
refused "a key given twice is refused" "Invalid argument" InvalidTagParameterException \
	"printf 'a=1\na=2\n' > $T/tags"
refused "a key of 129 characters is refused" "Invalid argument" InvalidTagParameterException \
	"echo $(printf 'k%.0s' {1..129})=v > $T/tags"
refused "a value of 257 characters is refused" "Invalid argument" InvalidTagParameterException \
	"echo k=$(printf 'v%.0s' {1..257}) > $T/tags"
seq -f 'key%g=v' 1 51 > "$TF_ROOT/51tags"
refused "51 tags are refused" "Disk quota exceeded" TagsLimitExceededException \
	"cat $TF_ROOT/51tags > $T/tags"
eq "tags are unchanged" 4 "$(grep -c . $T/tags)"
head -n 50 "$TF_ROOT/51tags" > "$TF_ROOT/50tags"
check "50 tags are accepted" bash -c "cat $TF_ROOT/50tags > $T/tags"
eq "50 tags read back" 50 "$(grep -c . $T/tags)"
k128=$(printf 'k%.0s' {1..128})
check "a key of 128 characters is accepted" bash -c "echo $k128=v > $T/tags"
eq "it replaced the 50" "$k128=v" "$(cat $T/tags)"
check "echo > tags clears them" bash -c "echo > $T/tags"
eq "no tags" "" "$(cat $T/tags)"

# ---- kms_key (test_keys.sh has the key ring), sns_topic, cloudwatch_logs_group ----
for v in arn:aws:kms:eu-west-1:$account:alias/audit \
	 arn:aws:kms:us-east-1:$account:key/1234abcd-12ab-34cd-56ef-1234567890ab \
	 1234abcd-12ab-34cd-56ef-1234567890ab; do
	refused "kms_key ${v:0:20}... is well formed but there is no such key" \
		"No such file or directory" KmsKeyNotFoundException "echo $v > $T/kms_key"
done
for v in 'bad key!' alias/ 'alias/has space'; do
	refused "kms_key \"$v\" is malformed" "Invalid argument" InvalidKmsKeyIdException \
		"echo '$v' > $T/kms_key"
done
for v in audit-topic arn:aws:sns:us-east-1:$account:audit-topic; do
	refused "sns_topic ${v:0:20}... does not exist" "Permission denied" \
		InsufficientSnsTopicPolicyException "echo $v > $T/sns_topic"
done
refused "sns_topic \"bad topic!\" is malformed" "Invalid argument" InvalidSnsTopicNameException \
	"echo 'bad topic!' > $T/sns_topic"
refused "cloudwatch_logs_group audit-group does not exist" "Invalid argument" \
	InvalidCloudWatchLogsLogGroupArnException "echo audit-group > $T/cloudwatch_logs_group"
contains "the message says it does not exist" "does not exist" "$(last_error)"
refused "cloudwatch_logs_group \"bad group!\" is malformed" "Invalid argument" \
	InvalidCloudWatchLogsLogGroupArnException "echo 'bad group!' > $T/cloudwatch_logs_group"
for f in kms_key sns_topic cloudwatch_logs_group; do
	check "an empty $f is accepted" bash -c "echo > $T/$f"
	eq "$f stays empty" "" "$(cat $T/$f)"
done

# ---- how writes behave ----
check "echo WriteOnly >> management_events works like >" \
	bash -c "echo WriteOnly >> $T/management_events"
eq "it replaced the value" WriteOnly "$(cat $T/management_events)"
check ": > logging (O_TRUNC, nothing written) succeeds" bash -c ": > $T/logging"
eq "and does not clear logging" on "$(cat $T/logging)"
check "truncate -s 0 multi_region succeeds" truncate -s 0 "$T/multi_region"
eq "and does not clear multi_region" yes "$(cat $T/multi_region)"
check "printf ReadOnly (no newline) works" bash -c "printf ReadOnly > $T/management_events"
eq "management_events reads ReadOnly" ReadOnly "$(cat $T/management_events)"

before=$(n_errors)
check "a value written in two pieces, with a child closing the file between them" \
	bash -c "{ printf Write; sleep 0.1; printf 'Only\n'; } > $T/management_events"
eq "is applied whole at close" WriteOnly "$(cat $T/management_events)"
eq "and leaves nothing in /errors" "$before" "$(n_errors)"
check "two pieces from two processes" \
	bash -c "{ printf Read; /usr/bin/printf 'Only\n'; } > $T/management_events"
eq "are applied whole" ReadOnly "$(cat $T/management_events)"

refused "a second piece that makes the value impossible fails in write" "Invalid argument" \
	InvalidEventSelectorsException "{ printf Write; printf 'Xyz\n'; } > $T/management_events"
contains "the message quotes what arrived" '"WriteXyz"' "$(last_error)"
refused "printf Sometimes (no newline, no valid value starts so) fails in write" \
	"Invalid argument" InvalidEventSelectorsException "printf Sometimes > $T/management_events"
eq "management_events is still ReadOnly" ReadOnly "$(cat $T/management_events)"

# Shells ignore close(); python shows where each error comes.
pieces() {
	python3 - "$T/management_events" "$@" <<'EOF'
import errno, os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_TRUNC)
step = "write"
try:
    for piece in sys.argv[2:]:
        os.write(fd, piece.encode())
    step = "close"
    os.close(fd)
    print("ok")
except OSError as e:
    print(step, errno.errorcode[e.errno])
EOF
}
eq "Read then Wri: the second write fails (no value starts ReadWri)" "write EINVAL" \
	"$(pieces Read Wri)"
contains "/errors has the write" "write /trails/main/management_events InvalidEventSelectorsException" \
	"$(last_error)"
before=$(n_errors)
eq "Wri then te: each write is a possible start, the whole fails at close" "close EINVAL" \
	"$(pieces Wri te)"
eq "one new line in /errors" $((before + 1)) "$(n_errors)"
contains "/errors has the close" "close /trails/main/management_events InvalidEventSelectorsException" \
	"$(last_error)"
contains "it quotes the whole value" '"Write"' "$(last_error)"
eq "management_events is unchanged" ReadOnly "$(cat $T/management_events)"
eq "None in two pieces works" ok "$(pieces No ne)"
eq "management_events reads None" None "$(cat $T/management_events)"

cd / || exit 1
done_testing
