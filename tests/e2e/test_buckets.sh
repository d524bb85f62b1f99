#!/usr/bin/env bash
# /buckets: the object store's buckets.  mkdir makes one (S3's naming
# rules), policy.json holds its policy (validated as IAM policy JSON),
# rmdir removes an empty one; a trail takes a bucket only when the policy
# lets CloudTrail write to it.
. "$(dirname "$0")/lib.sh"

tf_start || done_testing
cd "$MNT" || exit 1

n_errors() { wc -l < errors; }

# refused DESC ERRNO-TEXT EXCEPTION COMMAND...: COMMAND fails with
# ERRNO-TEXT, and exactly one new line in /errors names EXCEPTION.
refused() {
	local desc=$1 text=$2 exc=$3 before
	shift 3
	before=$(n_errors)
	expect_fail "$desc" "$text" "$@"
	eq "$desc: one new line in /errors" $((before + 1)) "$(n_errors)"
	contains "$desc: /errors says $exc" " $exc: " "$(last_error)"
}

account=$(jq -r .account "$STATE/registry.json")

# ---- mkdir and its naming rules ----
eq "no buckets at first" "" "$(ls buckets)"
check "mkdir buckets/my-bucket" mkdir buckets/my-bucket
eq "ls buckets shows it" my-bucket "$(ls buckets)"
eq "a bucket directory holds policy.json" policy.json "$(ls buckets/my-bucket)"
eq "a new bucket has no policy: policy.json is empty" 0 "$(stat -c %s buckets/my-bucket/policy.json)"
eq "and reads as nothing" "" "$(cat buckets/my-bucket/policy.json)"
for b in Bad ab a..b xn--x a_b -ab ab- 192.168.1.1 my-bucket-s3alias "$(printf 'b%.0s' {1..64})"; do
	refused "mkdir buckets/${b:0:16} is refused" "Invalid argument" InvalidBucketName \
		mkdir "buckets/$b"
done
contains "the message explains" 'may not start with "xn--"' \
	"$(grep ' /buckets/xn--x ' errors)"
# The kernel itself answers for a name it knows: no request reaches trailfs.
expect_fail "mkdir of an existing bucket is refused" "File exists" mkdir buckets/my-bucket
check "a.b-c.d and 63 characters are valid names" \
	mkdir buckets/a.b-c.d "buckets/$(printf 'c%.0s' {1..63})"
eq "ls buckets lists them sorted" "a.b-c.d $(printf 'c%.0s' {1..63}) my-bucket" \
	"$(LC_ALL=C ls buckets | tr '\n' ' ' | sed 's/ $//')"
expect_fail "files cannot be made in /buckets" "Operation not permitted" \
	bash -c "echo x > buckets/file"

# ---- policy.json ----
P=buckets/my-bucket/policy.json
policy='{"Version":"2012-10-17","Statement":[{"Sid":"Readers","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::'$account':root"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::my-bucket/*"}]}'
check "a valid policy is written" bash -c "echo '$policy' > $P"
eq "it reads back" "$policy" "$(cat $P)"
eq "its size is what cat reads" "$(cat $P | wc -c)" "$(stat -c %s $P)"
refused "invalid JSON is refused" "Invalid argument" MalformedPolicy \
	bash -c "echo '{bad' > $P"
refused "an Effect other than Allow or Deny is refused" "Invalid argument" MalformedPolicy \
	bash -c "echo '${policy/Allow/Permit}' > $P"
contains "the message names the member" '"Effect" must be "Allow" or "Deny"' "$(last_error)"
refused "a statement without Principal is refused" "Invalid argument" MalformedPolicy \
	bash -c "jq -c 'del(.Statement[0].Principal)' <<<'$policy' > $P"
refused "a resource in another bucket is refused" "Invalid argument" MalformedPolicy \
	bash -c "echo '${policy/my-bucket\/\*/other-bucket/*}' > $P"
contains "the message names the bucket" 'is not in bucket "my-bucket"' "$(last_error)"
refused "a statement without Action is refused" "Invalid argument" MalformedPolicy \
	bash -c "jq -c 'del(.Statement[0].Action)' <<<'$policy' > $P"
refused "an unknown Version is refused" "Invalid argument" MalformedPolicy \
	bash -c "jq -c '.Version=\"2099-01-01\"' <<<'$policy' > $P"
eq "a document cut short is refused when the file is closed" "close EINVAL" "$(python3 - "$P" "${policy:0:60}" <<'EOF'
import errno, os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_TRUNC)
os.write(fd, sys.argv[2].encode())
try:
    os.close(fd)
    print("ok")
except OSError as e:
    print("close", errno.errorcode[e.errno])
EOF
)"
contains "/errors has the close" "close /buckets/my-bucket/policy.json MalformedPolicy" "$(last_error)"
eq "nothing changed" "$policy" "$(cat $P)"
check "a pretty policy written by jq is accepted" bash -c "jq . <<<'$policy' > $P"
eq "it reads back as written" "$(jq . <<<"$policy")" "$(cat $P)"
check "a policy written in pieces is checked whole" \
	bash -c "{ printf '%s' '${policy:0:40}'; sleep 0.1; printf '%s\n' '${policy:40}'; } > $P"
eq "it reads back" "$policy" "$(cat $P)"
check ": > policy.json (O_TRUNC, nothing written) succeeds" bash -c ": > $P"
eq "and deletes nothing" "$policy" "$(cat $P)"
check "echo > policy.json (an empty value) deletes the policy" bash -c "echo > $P"
eq "policy.json is empty" 0 "$(stat -c %s $P)"
expect_fail "policy.json cannot be removed" "Operation not permitted" rm -f $P

# ---- rmdir ----
check "rmdir of an empty bucket (with or without a policy)" rmdir buckets/my-bucket
check "it is gone" test ! -e buckets/my-bucket
check "rmdir a.b-c.d" rmdir buckets/a.b-c.d
expect_fail "rmdir of a bucket that does not exist" "No such file or directory" \
	rmdir buckets/no-such-bucket

check "mkdir trails/main" mkdir trails/main
auto=$(cat trails/main/s3_bucket)
check "the trail's auto-created bucket is under /buckets" test -d "buckets/$auto"
check "rmdir of the trail's empty bucket works (AWS allows it)" rmdir "buckets/$auto"
check "it is gone" test ! -e "buckets/$auto"
eq "the trail still names it" "$auto" "$(cat trails/main/s3_bucket)"

# ---- a bucket made for a trail, with the console's policy ----
arn=$(cat trails/main/arn)
# console_policy BUCKET SOURCE-ARN: the policy of formats §8 for a trail.
console_policy() {
	cat <<EOF
{"Version":"2012-10-17","Statement":[
 {"Sid":"AWSCloudTrailAclCheck20150319","Effect":"Allow","Principal":{"Service":"cloudtrail.amazonaws.com"},
  "Action":"s3:GetBucketAcl","Resource":"arn:aws:s3:::$1",
  "Condition":{"StringEquals":{"aws:SourceArn":"$2"}}},
 {"Sid":"AWSCloudTrailWrite20150319","Effect":"Allow","Principal":{"Service":"cloudtrail.amazonaws.com"},
  "Action":"s3:PutObject","Resource":"arn:aws:s3:::$1/AWSLogs/$account/*",
  "Condition":{"StringEquals":{"s3:x-amz-acl":"bucket-owner-full-control","aws:SourceArn":"$2"}}}]}
EOF
}
check "mkdir buckets/shared-logs" mkdir buckets/shared-logs
refused "a trail cannot take a bucket without a policy" "Permission denied" \
	InsufficientS3BucketPolicyException bash -c "echo shared-logs > trails/main/s3_bucket"
console_policy shared-logs "${arn%/main}/other" > "$TF_ROOT/wrong"
check "the console policy for another trail (wrong aws:SourceArn) is a valid policy" \
	bash -c "cat $TF_ROOT/wrong > buckets/shared-logs/policy.json"
refused "but the trail cannot take the bucket" "Permission denied" \
	InsufficientS3BucketPolicyException bash -c "echo shared-logs > trails/main/s3_bucket"
contains "the message names the bucket" "bucket: shared-logs" "$(last_error)"
eq "s3_bucket is unchanged" "$auto" "$(cat trails/main/s3_bucket)"
console_policy shared-logs "$arn" > "$TF_ROOT/right"
check "the console policy for this trail is written" \
	bash -c "cat $TF_ROOT/right > buckets/shared-logs/policy.json"
check "now the trail takes the bucket" bash -c "echo shared-logs > trails/main/s3_bucket"
eq "s3_bucket reads it" shared-logs "$(cat trails/main/s3_bucket)"
eq "its policy is the one written" "$(cat "$TF_ROOT/right")" "$(cat buckets/shared-logs/policy.json)"
check "the policy is accepted through config.json too" \
	bash -c "echo '{\"S3BucketName\": \"shared-logs\"}' > trails/main/config.json"
check "the trail's bucket, empty, can still be removed" rmdir buckets/shared-logs

cd / || exit 1
done_testing
