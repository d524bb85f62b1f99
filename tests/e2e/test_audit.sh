#!/usr/bin/env bash
# Every action through the tree is an event: which file operations are which
# API calls (exact counts, whatever the kernel caches), the records' shape,
# failed calls with errorCode and errorMessage, the caller's identity (root
# and a real second user), and GetObject data events for reading logs/ and
# raw/ — while the engine's own delivery writes are never recorded.
. "$(dirname "$0")/lib.sh"

tf_second_user

echo 1767225600 > "$TF_ROOT/clock"     # 2026-01-01T00:00:00Z
tf_start -o allow_other,delivery_interval=1,test_clock="$TF_ROOT/clock" || done_testing
cd "$MNT" || exit 1
account=$(jq -r .account "$STATE/registry.json")

# The audit trail takes every management event; probe is what is acted on.
check "mkdir trails/audit" mkdir trails/audit
A=trails/audit

# Records delivered to audit that match a jq condition (reading the store
# directly, so that counting does not itself make calls).
records() { # JQ-CONDITION
	find "$STATE/store/$bucket" -name '*.json.gz' -print0 2>/dev/null |
		xargs -0 -r cat | gzip -dc 2>/dev/null | jq -c ".Records[] | select($1)"
}
count() { records "$1" | wc -l; }
# wait_count JQ-CONDITION N: wait (at most 10 s) until N such records are delivered.
wait_count() {
	local i
	for i in $(seq 100); do
		[ "$(count "$1")" -ge "$2" ] && return 0
		sleep 0.1
	done
	return 1
}
bucket=$(cat $A/s3_bucket)

# ---- mkdir is the console's calls ----
check "mkdir trails/probe" mkdir trails/probe
P=trails/probe
probe_bucket=$(ls "$STATE/store" | grep -v -x "$bucket" | grep aws-cloudtrail-logs)
is_probe='.requestParameters.name == "probe"'
wait_count "$is_probe and .eventName == \"StartLogging\"" 1
eq "mkdir: one CreateTrail" 1 "$(count "$is_probe and .eventName == \"CreateTrail\"")"
eq "mkdir: one StartLogging" 1 "$(count "$is_probe and .eventName == \"StartLogging\"")"
eq "mkdir: CreateBucket and PutBucketPolicy for its new bucket" 2 \
	"$(count ".eventSource == \"s3.amazonaws.com\" and .requestParameters.bucketName == \"$probe_bucket\"")"
rec=$(records "$is_probe and .eventName == \"CreateTrail\"")
eq "CreateTrail: eventSource" cloudtrail.amazonaws.com "$(jq -r .eventSource <<<"$rec")"
eq "CreateTrail: awsRegion is the home region" us-east-1 "$(jq -r .awsRegion <<<"$rec")"
eq "CreateTrail: eventTime from the clock" 2026-01-01T00:00:00Z "$(jq -r .eventTime <<<"$rec")"
eq "CreateTrail: requestParameters as the console sends them" \
	"{\"name\":\"probe\",\"s3BucketName\":\"$probe_bucket\",\"isMultiRegionTrail\":true,\"includeGlobalServiceEvents\":true,\"enableLogFileValidation\":true}" \
	"$(jq -c .requestParameters <<<"$rec")"
eq "CreateTrail: responseElements are the Trail, in lower camel case" \
	"arn:aws:cloudtrail:us-east-1:$account:trail/probe true false" \
	"$(jq -r '.responseElements | "\(.trailARN) \(.logFileValidationEnabled) \(.isOrganizationTrail)"' <<<"$rec")"
eq "CreateTrail: no HomeRegion in the response, as AWS answers" null "$(jq -r .responseElements.homeRegion <<<"$rec")"
eq "CreateTrail: uid 0 is the account's Root" "Root arn:aws:iam::$account:root $account" \
	"$(jq -r '.userIdentity | "\(.type) \(.arn) \(.accountId)"' <<<"$rec")"
eq "CreateTrail: userAgent names trailfs and the program" "trailfs mkdir" \
	"$(jq -r '.userAgent | split("/")[0] + " " + split(" ")[1]' <<<"$rec")"
eq "CreateTrail: sourceIPAddress" 127.0.0.1 "$(jq -r .sourceIPAddress <<<"$rec")"
eq "CreateTrail: a write, a management event, an API call" "false true Management AwsApiCall" \
	"$(jq -r '"\(.readOnly) \(.managementEvent) \(.eventCategory) \(.eventType)"' <<<"$rec")"
check "CreateTrail: requestID and eventID are UUIDs" bash -c \
	"jq -e '(.requestID | test(\"^[0-9a-f-]{36}\$\")) and (.eventID | test(\"^[0-9a-f-]{36}\$\"))' <<<'$rec'"
eq "CreateTrail: no ingest stamp (trailfs made it)" null "$(jq -r .additionalEventData <<<"$rec")"

# ---- reads: one call per open, none for lookup, getattr or read ----
for i in 1 2 3; do cat $P/s3_bucket >/dev/null; done
cat $P/arn $P/multi_region $P/config.json >/dev/null
stat $P/s3_bucket $P/logging >/dev/null          # getattr: no call
ls -l $P >/dev/null                              # readdir of a trail: no call
dd if=$P/kms_key bs=1 count=1 status=none >/dev/null   # one open, however it reads
cat $P/status >/dev/null; cat $P/status >/dev/null
cat $P/management_events $P/data_events >/dev/null
cat $P/tags >/dev/null
wait_count "$is_probe and .eventName == \"GetTrail\"" 7
wait_count "$is_probe and .eventName == \"GetTrailStatus\"" 2
wait_count '.requestParameters.trailName == "probe" and .eventName == "GetEventSelectors"' 2
eq "cat of settings: one GetTrail per open (3 s3_bucket, arn, multi_region, config.json, kms_key)" 7 \
	"$(count "$is_probe and .eventName == \"GetTrail\"")"
eq "cat status twice: two GetTrailStatus" 2 "$(count "$is_probe and .eventName == \"GetTrailStatus\"")"
eq "cat of the selector files: GetEventSelectors each" 2 \
	"$(count '.requestParameters.trailName == "probe" and .eventName == "GetEventSelectors"')"
eq "cat tags: ListTags naming the trail's ARN" 1 \
	"$(count ".eventName == \"ListTags\" and .requestParameters.resourceIdList == [\"arn:aws:cloudtrail:us-east-1:$account:trail/probe\"]")"
eq "reads are readOnly" true "$(records "$is_probe and .eventName == \"GetTrail\"" | jq -s -r 'all(.readOnly)')"
eq "reads have null responseElements" true \
	"$(records "$is_probe and .eventName == \"GetTrail\"" | jq -s -r 'all(.responseElements == null)')"
eq "cat's userAgent" true "$(records "$is_probe and .eventName == \"GetTrail\"" | jq -s -r 'map(.userAgent | endswith(" cat") or endswith(" dd")) | all')"

before=$(count '.eventName == "DescribeTrails"')
ls trails >/dev/null; ls trails >/dev/null; ls trails >/dev/null
wait_count '.eventName == "DescribeTrails"' $((before + 3))
eq "ls trails three times: three DescribeTrails" $((before + 3)) "$(count '.eventName == "DescribeTrails"')"
ls buckets >/dev/null
cat "buckets/$probe_bucket/policy.json" >/dev/null
wait_count ".eventName == \"GetBucketPolicy\" and .requestParameters.bucketName == \"$probe_bucket\"" 1
eq "ls buckets: ListBuckets" 1 "$(count '.eventName == "ListBuckets"')"
eq "cat policy.json: GetBucketPolicy on the bucket, an S3 call" s3.amazonaws.com \
	"$(records ".eventName == \"GetBucketPolicy\" and .requestParameters.bucketName == \"$probe_bucket\"" | jq -r .eventSource)"

# ---- changes: the call each setting stands for ----
check "echo ReadOnly > management_events" bash -c "echo ReadOnly > $P/management_events"
wait_count '.eventName == "PutEventSelectors" and .requestParameters.trailName == "probe"' 1
rec=$(records '.eventName == "PutEventSelectors" and .requestParameters.trailName == "probe"')
eq "PutEventSelectors: the selectors in the request" ReadOnly \
	"$(jq -r '.requestParameters.eventSelectors[0].readWriteType' <<<"$rec")"
eq "PutEventSelectors: the trail's ARN in the response" "arn:aws:cloudtrail:us-east-1:$account:trail/probe" \
	"$(jq -r .responseElements.trailARN <<<"$rec")"
expect_fail "echo Sometimes > management_events fails" "Invalid argument" \
	bash -c "echo Sometimes > $P/management_events"
wait_count '.eventName == "PutEventSelectors" and .errorCode != null' 1
rec=$(records '.eventName == "PutEventSelectors" and .errorCode != null')
eq "a failed call carries errorCode" InvalidEventSelectorsException "$(jq -r .errorCode <<<"$rec")"
contains "and errorMessage, the message /errors shows" "Sometimes" "$(jq -r .errorMessage <<<"$rec")"
eq "a failed call names its trail, and has no response" '{"trailName":"probe"} null' \
	"$(jq -c '[.requestParameters, .responseElements] | "\(.[0]|tojson) \(.[1])"' -r <<<"$rec")"
eq "a refused write is one failed call, not one per check" 1 "$(count '.eventName == "PutEventSelectors" and .errorCode != null')"

check "printf team=security > tags" bash -c "printf 'team=security\n' > $P/tags"
check "printf env=prod > tags (replaces the set)" bash -c "printf 'env=prod\n' > $P/tags"
wait_count '.eventName == "RemoveTags"' 1
eq "tags: AddTags with the set written" '[{"key":"team","value":"security"}] [{"key":"env","value":"prod"}]' \
	"$(records '.eventName == "AddTags"' | jq -c .requestParameters.tagsList | paste -sd' ')"
eq "tags: RemoveTags with the keys that went" '[{"key":"team"}]' \
	"$(records '.eventName == "RemoveTags"' | jq -c .requestParameters.tagsList)"
eq "tags: the resource is the trail's ARN" "arn:aws:cloudtrail:us-east-1:$account:trail/probe" \
	"$(records '.eventName == "RemoveTags"' | jq -r .requestParameters.resourceId)"

check "echo no > log_file_validation" bash -c "echo no > $P/log_file_validation"
wait_count "$is_probe and .eventName == \"UpdateTrail\"" 1
rec=$(records "$is_probe and .eventName == \"UpdateTrail\"")
eq "UpdateTrail: the member changed" '{"name":"probe","enableLogFileValidation":false}' "$(jq -c .requestParameters <<<"$rec")"
eq "UpdateTrail: the Trail as it now is" false "$(jq -r .responseElements.logFileValidationEnabled <<<"$rec")"

check "echo off > logging" bash -c "echo off > $P/logging"
check "echo on > logging" bash -c "echo on > $P/logging"
wait_count "$is_probe and .eventName == \"StartLogging\"" 2
eq "logging off: StopLogging" 1 "$(count "$is_probe and .eventName == \"StopLogging\"")"
eq "logging on: StartLogging (with mkdir's, two)" 2 "$(count "$is_probe and .eventName == \"StartLogging\"")"

expect_fail "mkdir trails/my--trail fails" "Invalid argument" mkdir trails/my--trail
wait_count '.eventName == "CreateTrail" and .errorCode != null' 1
eq "the failed CreateTrail is recorded with its name and error" "my--trail InvalidTrailNameException" \
	"$(records '.eventName == "CreateTrail" and .errorCode != null' | jq -r '"\(.requestParameters.name) \(.errorCode)"')"

check "mkdir buckets/audit-spare-bucket" mkdir buckets/audit-spare-bucket
expect_fail "a malformed policy is refused" "Invalid argument" \
	bash -c "echo '{\"Version\":\"1999-01-01\",\"Statement\":[]}' > buckets/audit-spare-bucket/policy.json"
check "rmdir buckets/audit-spare-bucket" rmdir buckets/audit-spare-bucket
wait_count '.requestParameters.bucketName == "audit-spare-bucket" and .eventName == "DeleteBucket"' 1
eq "buckets: CreateBucket, a failed PutBucketPolicy, DeleteBucket" \
	"CreateBucket: PutBucketPolicy:MalformedPolicy DeleteBucket:" \
	"$(records '.requestParameters.bucketName == "audit-spare-bucket"' | jq -r '"\(.eventName):\(.errorCode // "")"' | paste -sd' ')"

check "rmdir trails/probe" rmdir trails/probe
wait_count "$is_probe and .eventName == \"DeleteTrail\"" 1
eq "rmdir: DeleteTrail" 1 "$(count "$is_probe and .eventName == \"DeleteTrail\"")"

# ---- another user: positive control, then the identity it is recorded with ----
eq "user: cat arn works" "arn:aws:cloudtrail:us-east-1:$account:trail/audit" "$(as_user cat "$MNT/$A/arn" 2>&1)"
wait_count ".userIdentity.type == \"IAMUser\" and .eventName == \"GetTrail\"" 1
rec=$(records '.userIdentity.type == "IAMUser" and .eventName == "GetTrail"')
eq "user: recorded as the IAM user of its name, principalId its uid" \
	"arn:aws:iam::$account:user/$USER2 $USER2 $uid2" \
	"$(jq -r '.userIdentity | "\(.arn) \(.userName) \(.principalId)"' <<<"$rec")"
expect_fail "user: echo off > logging is refused by the kernel" "Permission denied" \
	as_user bash -c "echo off > '$MNT/$A/logging'"

# ---- reading logs/ and raw/ is GetObject, delivery writes are nothing ----
eq "no PutObject: the engine's delivery writes are not recorded" 0 "$(count '.eventName == "PutObject"')"
check "audit selects S3 data events on its own bucket" bash -c "echo '$bucket' > $A/data_events"
sleep 1.5
f=$(ls $A/logs/us-east-1/2026/01/01/*.json | head -n 1)
name=$(basename "$f")
key="AWSLogs/$account/CloudTrail/us-east-1/2026/01/01/$name.gz"
ls -l $A/logs/us-east-1/2026/01/01 >/dev/null     # listing: no call
cat "$f" >/dev/null
cat "$A/raw/us-east-1/2026/01/01/$name.gz" >/dev/null
wait_count ".eventName == \"GetObject\" and .requestParameters.key == \"$key\"" 2
eq "cat of logs/ and of raw/: one GetObject each, naming the object" 2 \
	"$(count ".eventName == \"GetObject\" and .requestParameters.key == \"$key\"")"
rec=$(records ".eventName == \"GetObject\" and .requestParameters.key == \"$key\"" | head -n 1)
eq "GetObject is a data event" "s3.amazonaws.com Data false true" \
	"$(jq -r '"\(.eventSource) \(.eventCategory) \(.managementEvent) \(.readOnly)"' <<<"$rec")"
eq "GetObject: the object and bucket in resources" \
	"AWS::S3::Object=arn:aws:s3:::$bucket/$key AWS::S3::Bucket=arn:aws:s3:::$bucket" \
	"$(jq -r '[.resources[] | "\(.type)=\(.ARN)"] | join(" ")' <<<"$rec")"
eq "GetObject: bytesTransferredOut is the object's size" "$(stat -c %s "$STATE/store/$bucket/$key")" \
	"$(jq -r .additionalEventData.bytesTransferredOut <<<"$rec")"
eq "still no PutObject after more deliveries" 0 "$(count '.eventName == "PutObject"')"
cd / || exit 1
done_testing
