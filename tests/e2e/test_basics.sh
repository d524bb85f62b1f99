#!/usr/bin/env bash
# A newcomer's first session: mount, look around, make a trail, read it,
# change it, see a rejection explained, delete it.
. "$(dirname "$0")/lib.sh"

tf_start || done_testing
cd "$MNT" || exit 1

eq "the root lists the tree" "buckets errors events keys public-keys trails" "$(ls | tr '\n' ' ' | sed 's/ $//')"
eq "no trails at first" "" "$(ls trails)"
eq "errors is empty at first" "" "$(cat errors)"

check "mkdir trails/main creates a trail" mkdir trails/main
eq "ls trails shows it" "main" "$(ls trails)"
eq "a trail directory holds every setting" \
	"arn cloudwatch_logs_group config.json data_events digests global_service_events home_region kms_key log_file_validation logging logs management_events multi_region raw s3_bucket s3_key_prefix sns_topic status tags" \
	"$(ls trails/main | tr '\n' ' ' | sed 's/ $//')"

account=$(jq -r .account "$STATE/registry.json")
bucket=$(cat trails/main/s3_bucket)
contains "the new bucket is named like the console's" "aws-cloudtrail-logs-$account-" "$bucket"
eq "bucket name has 8 hex characters at the end" 1 "$(grep -cE "^aws-cloudtrail-logs-$account-[0-9a-f]{8}$" <<<"$bucket")"
eq "multi_region defaults to yes" yes "$(cat trails/main/multi_region)"
eq "logging defaults to on" on "$(cat trails/main/logging)"
eq "management events default to All" All "$(cat trails/main/management_events)"
eq "log file validation defaults to yes" yes "$(cat trails/main/log_file_validation)"
eq "global service events default to yes" yes "$(cat trails/main/global_service_events)"
eq "no data events" "" "$(cat trails/main/data_events)"
eq "no prefix" "" "$(cat trails/main/s3_key_prefix)"
eq "no key" "" "$(cat trails/main/kms_key)"
eq "no tags" "" "$(cat trails/main/tags)"
eq "arn" "arn:aws:cloudtrail:us-east-1:$account:trail/main" "$(cat trails/main/arn)"
eq "home_region" us-east-1 "$(cat trails/main/home_region)"
contains "status says it is logging" '"IsLogging":true' "$(cat trails/main/status)"
contains "status has StartLoggingTime as ISO-8601" '"StartLoggingTime":"20' "$(cat trails/main/status)"
check "status is JSON" jq -e . trails/main/status
check "config.json is JSON" jq -e . trails/main/config.json
eq "config.json names the trail" main "$(jq -r .Name trails/main/config.json)"
check "the bucket exists under /buckets" test -d "buckets/$bucket"
check "the bucket has CloudTrail's policy" grep -q AWSCloudTrailWrite20150319 "buckets/$bucket/policy.json"
eq "the policy lets CloudTrail write under AWSLogs/ACCOUNT" \
	"arn:aws:s3:::$bucket/AWSLogs/$account/*" \
	"$(jq -r '.Statement[] | select(.Sid=="AWSCloudTrailWrite20150319") | .Resource' "buckets/$bucket/policy.json")"

check "echo WriteOnly > management_events" bash -c 'echo WriteOnly > trails/main/management_events'
eq "it reads back" WriteOnly "$(cat trails/main/management_events)"
expect_fail "echo Sometimes > management_events fails in the shell" "Invalid argument" \
	bash -c 'echo Sometimes > trails/main/management_events'
eq "the rejected value changed nothing" WriteOnly "$(cat trails/main/management_events)"
contains "errors explains it" "InvalidEventSelectorsException" "$(last_error)"
contains "errors names the path" "/trails/main/management_events" "$(last_error)"

expect_fail "mkdir trails/my--trail is refused" "Invalid argument" mkdir trails/my--trail
contains "errors says why" 'InvalidTrailNameException' "$(last_error)"
contains "errors quotes the bad part" '"--"' "$(last_error)"
contains "errors says who and what" "uid=0 mkdir /trails/my--trail" "$(last_error)"
eq "errors lines start with an ISO time" 1 "$(last_error | grep -cE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z ')"

expect_fail "mv renames no trail" "Operation not permitted" mv trails/main trails/audit
check "the trail is still there" test -d trails/main

check "rmdir deletes the trail" rmdir trails/main
eq "no trails left" "" "$(ls trails)"
check "its bucket stays" test -d "buckets/$bucket"

cd / || exit 1
done_testing
