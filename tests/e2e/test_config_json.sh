#!/usr/bin/env bash
# config.json: every setting as one JSON document of AWS member names, read
# with cat and jq, edited with jq and written back, applied all-or-nothing.
. "$(dirname "$0")/lib.sh"

tf_start || done_testing
cd "$MNT" || exit 1

T=trails/main
C=$TF_ROOT/config.json
n_errors() { wc -l < errors; }

# refused DESC ERRNO-TEXT EXCEPTION SHELL-COMMAND (see test_settings.sh)
refused() {
	local before
	before=$(n_errors)
	expect_fail "$1" "$2" bash -c "$4"
	eq "$1: one new line in /errors" $((before + 1)) "$(n_errors)"
	contains "$1: /errors says $3" " $3: " "$(last_error)"
}

# edit DESC JQ-FILTER: jq the trail's config.json into $C (to write back).
edit() { jq "$1" "$T/config.json" > "$C"; }

check "mkdir trails/main" mkdir "$T"
account=$(jq -r .account "$STATE/registry.json")
bucket=$(cat $T/s3_bucket)

# ---- reading ----
check "config.json is JSON" jq -e . $T/config.json
check "it is pretty-printed (one member a line)" test "$(wc -l < $T/config.json)" -gt 10
eq "it holds the Trail members with IsLogging, EventSelectors and TagsList" \
	'["EventSelectors","HasCustomEventSelectors","HasInsightSelectors","HomeRegion","IncludeGlobalServiceEvents","IsLogging","IsMultiRegionTrail","IsOrganizationTrail","LogFileValidationEnabled","Name","S3BucketName","TagsList","TrailARN"]' \
	"$(jq -c keys $T/config.json)"
eq "Name" main "$(jq -r .Name $T/config.json)"
eq "TrailARN" "arn:aws:cloudtrail:us-east-1:$account:trail/main" "$(jq -r .TrailARN $T/config.json)"
eq "HomeRegion" us-east-1 "$(jq -r .HomeRegion $T/config.json)"
eq "S3BucketName" "$bucket" "$(jq -r .S3BucketName $T/config.json)"
eq "the booleans of a new trail" "true true true true false" \
	"$(jq -r '[.IsMultiRegionTrail, .IncludeGlobalServiceEvents, .LogFileValidationEnabled, .IsLogging, .HasCustomEventSelectors] | map(tostring) | join(" ")' $T/config.json)"
eq "EventSelectors: All management events, no data resources" \
	'[{"ReadWriteType":"All","IncludeManagementEvents":true,"DataResources":[],"ExcludeManagementEventSources":[]}]' \
	"$(jq -c .EventSelectors $T/config.json)"
eq "TagsList is empty" '[]' "$(jq -c .TagsList $T/config.json)"
check "the settings files change it: tags" bash -c "printf 'team=security\nenv=prod\n' > $T/tags"
eq "TagsList" '[{"Key":"team","Value":"security"},{"Key":"env","Value":"prod"}]' \
	"$(jq -c .TagsList $T/config.json)"
check "management_events" bash -c "echo WriteOnly > $T/management_events"
eq "ReadWriteType" WriteOnly "$(jq -r '.EventSelectors[0].ReadWriteType' $T/config.json)"
check "echo All > management_events" bash -c "echo All > $T/management_events"

# ---- round trip ----
cat $T/config.json > "$TF_ROOT/orig"
before=$(n_errors)
check "cat config.json > c; cat c > config.json succeeds" bash -c "cat $TF_ROOT/orig > $T/config.json"
eq "it changed nothing" "$(cat "$TF_ROOT/orig")" "$(cat $T/config.json)"
eq "and left nothing in /errors" "$before" "$(n_errors)"
check "the compact form written back" bash -c "jq -c . $TF_ROOT/orig > $T/config.json"
eq "changes nothing either" "$(cat "$TF_ROOT/orig")" "$(cat $T/config.json)"

# ---- editing with jq ----
edit '.IsMultiRegionTrail=false | .IncludeGlobalServiceEvents=false'
check "jq sets two members and cat writes them back" bash -c "cat $C > $T/config.json"
eq "multi_region is no" no "$(cat $T/multi_region)"
eq "global_service_events is no" no "$(cat $T/global_service_events)"
eq "config.json says so" "false false" \
	"$(jq -r '[.IsMultiRegionTrail, .IncludeGlobalServiceEvents] | map(tostring) | join(" ")' $T/config.json)"

edit '.IsMultiRegionTrail=true'
refused "multi-region without global service events is refused" "Invalid argument" \
	InvalidParameterCombinationException "cat $C > $T/config.json"
edit '.IsMultiRegionTrail=true | .IncludeGlobalServiceEvents=true'
check "both together are accepted (checked as a whole)" bash -c "cat $C > $T/config.json"
eq "multi_region is yes" yes "$(cat $T/multi_region)"
eq "global_service_events is yes" yes "$(cat $T/global_service_events)"

cat $T/config.json > "$TF_ROOT/orig"
edit '.LogFileValidationEnabled=false | .S3KeyPrefix="/bad"'
refused "a good change beside a bad S3KeyPrefix is refused" "Invalid argument" \
	InvalidS3PrefixException "cat $C > $T/config.json"
eq "all or nothing: log_file_validation is still yes" yes "$(cat $T/log_file_validation)"
eq "config.json is unchanged" "$(cat "$TF_ROOT/orig")" "$(cat $T/config.json)"
edit '.IsLogging=false | .S3BucketName="Bad_Bucket"'
refused "a good change beside a bad S3BucketName is refused" "Invalid argument" \
	InvalidS3BucketNameException "cat $C > $T/config.json"
eq "logging is still on" on "$(cat $T/logging)"
edit '.IsLogging=false | .S3KeyPrefix="logs"'
refused "a prefix the bucket policy does not allow is refused" "Permission denied" \
	InsufficientS3BucketPolicyException "cat $C > $T/config.json"
eq "logging is still on" on "$(cat $T/logging)"
edit '.IsLogging=false | .TagsList += [{"Key":"k","Value":"'"$(printf 'v%.0s' {1..257})"'"}]'
refused "a good change beside a bad tag is refused" "Invalid argument" \
	InvalidTagParameterException "cat $C > $T/config.json"
eq "tags are unchanged" "team=security
env=prod" "$(cat $T/tags)"
edit '.KmsKeyId="1234abcd-12ab-34cd-56ef-1234567890ab" | .IsLogging=false'
refused "a key that does not exist is refused" "No such file or directory" \
	KmsKeyNotFoundException "cat $C > $T/config.json"
eq "config.json is still unchanged" "$(cat "$TF_ROOT/orig")" "$(cat $T/config.json)"

# ---- read-only members ----
edit '.Name="other"'
refused "changing Name is refused" "Invalid argument" InvalidParameterException \
	"cat $C > $T/config.json"
contains "the message says trails cannot be renamed" "cannot be renamed" "$(last_error)"
edit '.TrailARN="arn:aws:cloudtrail:us-east-1:'"$account"':trail/other"'
refused "changing TrailARN is refused" "Invalid argument" InvalidParameterException \
	"cat $C > $T/config.json"
edit '.HomeRegion="eu-west-1"'
refused "changing HomeRegion is refused" "Invalid argument" InvalidParameterException \
	"cat $C > $T/config.json"
check "the trail is still main" test "$(ls trails)" = main

# ---- unknown members, wrong types, not JSON ----
edit '.Colour="blue"'
refused "an unknown member is refused" "Invalid argument" InvalidParameterException \
	"cat $C > $T/config.json"
contains "the message names it" '"Colour"' "$(last_error)"
refused "IsMultiRegionTrail as a string is refused" "Invalid argument" \
	InvalidParameterException "echo '{\"IsMultiRegionTrail\": \"yes\"}' > $T/config.json"
refused "S3BucketName as a number is refused" "Invalid argument" InvalidParameterException \
	"echo '{\"S3BucketName\": 5}' > $T/config.json"
refused "TagsList as an object is refused" "Invalid argument" InvalidTagParameterException \
	"echo '{\"TagsList\": {\"a\": \"b\"}}' > $T/config.json"
refused "EventSelectors as a string is refused" "Invalid argument" \
	InvalidEventSelectorsException "echo '{\"EventSelectors\": \"All\"}' > $T/config.json"
refused "AdvancedEventSelectors are refused" "Invalid argument" InvalidEventSelectorsException \
	"echo '{\"AdvancedEventSelectors\": []}' > $T/config.json"
refused "a JSON array is refused" "Invalid argument" InvalidParameterException \
	"echo '[1, 2]' > $T/config.json"
refused "invalid JSON is refused" "Invalid argument" InvalidParameterException \
	"echo '{\"IsLogging\": tru}' > $T/config.json"
contains "the message says it is not JSON" "not valid JSON" "$(last_error)"
refused "text after the document is refused" "Invalid argument" InvalidParameterException \
	"echo '{} {}' > $T/config.json"
eq "config.json is still unchanged" "$(cat "$TF_ROOT/orig")" "$(cat $T/config.json)"

# ---- members left out stay as they are ----
check "a document of one member" bash -c "echo '{\"LogFileValidationEnabled\": false}' > $T/config.json"
eq "changes that one" no "$(cat $T/log_file_validation)"
eq "and nothing else" "$(jq -S 'del(.LogFileValidationEnabled)' "$TF_ROOT/orig")" \
	"$(jq -S 'del(.LogFileValidationEnabled)' $T/config.json)"
check "an empty object changes nothing" bash -c "echo '{}' > $T/config.json"
eq "log_file_validation is still no" no "$(cat $T/log_file_validation)"
check "IsLogging false is StopLogging" bash -c "echo '{\"IsLogging\": false}' > $T/config.json"
eq "logging is off" off "$(cat $T/logging)"
contains "status says so" '"IsLogging":false' "$(cat $T/status)"
check "a document written in pieces, one line each" \
	bash -c "{ echo '{'; sleep 0.1; echo '\"IsLogging\": true,'; echo '\"LogFileValidationEnabled\": true'; echo '}'; } > $T/config.json"
eq "is applied whole: logging is on" on "$(cat $T/logging)"
eq "log_file_validation is yes" yes "$(cat $T/log_file_validation)"

# ---- EventSelectors ----
edit '.EventSelectors=[{"ReadWriteType":"ReadOnly","IncludeManagementEvents":true,"DataResources":[{"Type":"AWS::S3::Object","Values":["arn:aws:s3:::finance-reports/2026","arn:aws:s3:::logs-bucket/"]}]}]'
check "EventSelectors are set through config.json" bash -c "cat $C > $T/config.json"
eq "management_events shows them" ReadOnly "$(cat $T/management_events)"
eq "data_events shows them" "finance-reports/2026 ReadOnly
logs-bucket/ ReadOnly" "$(cat $T/data_events)"
eq "HasCustomEventSelectors is true" true "$(jq .HasCustomEventSelectors $T/config.json)"
edit '.EventSelectors=[{"ReadWriteType":"Sometimes","IncludeManagementEvents":true,"DataResources":[]}]'
refused "a bad ReadWriteType is refused" "Invalid argument" InvalidEventSelectorsException \
	"cat $C > $T/config.json"
eq "management_events is unchanged" ReadOnly "$(cat $T/management_events)"
edit '.EventSelectors=[{"ReadWriteType":"All","IncludeManagementEvents":true,"DataResources":[]}]'
check "All management events and no data resources again" bash -c "cat $C > $T/config.json"
eq "management_events is All" All "$(cat $T/management_events)"
eq "no data events" "" "$(cat $T/data_events)"

# ---- TagsList ----
edit '.TagsList=[{"Key":"owner","Value":"ops"},{"Key":"a=b","Value":""}]'
check "TagsList is set through config.json" bash -c "cat $C > $T/config.json"
eq "it replaces the tags (keys with '=' only this way)" "owner=ops
a=b=" "$(cat $T/tags)"
eq "TagsList reads back" '[{"Key":"owner","Value":"ops"},{"Key":"a=b","Value":""}]' \
	"$(jq -c .TagsList $T/config.json)"
edit '.TagsList=[range(51) | {"Key":"k\(.)","Value":"v"}]'
refused "51 tags are refused" "Disk quota exceeded" TagsLimitExceededException \
	"cat $C > $T/config.json"
check "an empty TagsList removes them" bash -c "echo '{\"TagsList\": []}' > $T/config.json"
eq "no tags" "" "$(cat $T/tags)"

cd / || exit 1
done_testing
