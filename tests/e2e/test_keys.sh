#!/usr/bin/env bash
# The key ring in the tree: mkdir/ls/cat/echo/rmdir on keys/, key policy
# edits (valid, invalid, editors' rename-over), state transitions, the
# deletion window crossed with a test clock, a trail's kms_key in every form
# and its refusals (errno and /errors), modes for a second user, and the KMS
# management events each action records.
. "$(dirname "$0")/lib.sh"

tf_second_user

T0=1767225600                            # 2026-01-01T00:00:00Z
echo $T0 > "$TF_ROOT/clock"
tf_refuses "key_deletion_days=6 is refused (7 to 30)" "key_deletion_days=6" "$MNT" -o key_deletion_days=6
tf_refuses "key_deletion_days=31 is refused" "key_deletion_days=31" "$MNT" -o key_deletion_days=31
tf_start -o allow_other,delivery_interval=1,key_deletion_days=7,test_clock="$TF_ROOT/clock" || done_testing
cd "$MNT" || exit 1
account=$(jq -r .account "$STATE/registry.json")

# A trail that keeps every management event, read from the store directly
# (so counting makes no calls); it stays unencrypted (trails/audit gets a
# kms_key below).
check "mkdir trails/audit" mkdir trails/audit
check "mkdir trails/records" mkdir trails/records
bucket=$(cat trails/records/s3_bucket)
records() { # JQ-CONDITION
	find "$STATE/store/$bucket" -name '*.json.gz' -print0 2>/dev/null |
		xargs -0 -r cat | gzip -dc 2>/dev/null | jq -c ".Records[] | select($1)"
}
count() { records "$1" | wc -l; }
wait_count() { # JQ-CONDITION N
	local i
	for i in $(seq 100); do
		[ "$(count "$1")" -ge "$2" ] && return 0
		sleep 0.1
	done
	return 1
}
kms='.eventSource == "kms.amazonaws.com"'

# ---- mkdir, ls, cat ----
eq "keys/ is listed at the root" "buckets errors events keys public-keys trails" "$(ls | paste -sd' ')"
eq "keys/ starts empty" "" "$(ls keys)"
check "mkdir keys/app" mkdir keys/app
eq "ls keys" app "$(ls keys)"
eq "a key's files" "arn id policy.json state" "$(ls keys/app | paste -sd' ')"
id=$(cat keys/app/id)
check "id is a lowercase UUID" grep -Eqx '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}' keys/app/id
eq "arn is the key's ARN" "arn:aws:kms:us-east-1:$account:key/$id" "$(cat keys/app/arn)"
eq "a new key is Enabled" Enabled "$(cat keys/app/state)"
eq "its policy is KMS's default (root may do everything)" \
	"[\"Enable IAM User Permissions\",\"arn:aws:iam::$account:root\",\"kms:*\"]" \
	"$(jq -c '[.Statement[0].Sid, .Statement[0].Principal.AWS, .Statement[0].Action]' keys/app/policy.json)"
expect_fail "mkdir of an existing key: EEXIST (the kernel knows the name)" "File exists" mkdir keys/app
expect_fail "mkdir keys/bad.name: EINVAL" "Invalid argument" mkdir keys/bad.name
contains "/errors: InvalidAliasNameException" "InvalidAliasNameException" "$(last_error)"
check "mkdir keys/aws-like works (only alias/aws/ is reserved)" mkdir keys/aws-like
expect_fail "id is read-only" "Operation not permitted" bash -c 'echo x > keys/app/id'
expect_fail "arn is read-only" "Operation not permitted" bash -c 'echo x > keys/app/arn'
expect_fail "keys cannot be renamed" "Operation not permitted" mv keys/app keys/other

# ---- modes: the owner administers, others read ----
eq "keys/ is 0755" 755 "$(stat -c %a keys)"
eq "a key directory is 0755" 755 "$(stat -c %a keys/app)"
eq "state and policy.json are 0644, id and arn 0444" "444 444 644 644" \
	"$(stat -c %a keys/app/id keys/app/arn keys/app/state keys/app/policy.json | paste -sd' ')"
eq "user: ls keys works (positive control)" "app aws-like" "$(as_user ls "$MNT/keys" 2>&1 | paste -sd' ')"
eq "user: cat state works" Enabled "$(as_user cat "$MNT/keys/app/state" 2>&1)"
expect_fail "user: writing state: EACCES" "Permission denied" \
	as_user bash -c "echo Disabled > '$MNT/keys/app/state'"
expect_fail "user: writing policy.json: EACCES" "Permission denied" \
	as_user bash -c "echo '{}' > '$MNT/keys/app/policy.json'"
expect_fail "user: mkdir keys/x: EACCES" "Permission denied" as_user mkdir "$MNT/keys/userkey"
expect_fail "user: rmdir keys/app: EACCES" "Permission denied" as_user rmdir "$MNT/keys/app"
eq "the user's refusals changed nothing" Enabled "$(cat keys/app/state)"

# ---- policy edits ----
good=$(jq -c '.Statement += [{"Sid":"Let the test user decrypt","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::'"$account"':user/'"$USER2"'"},"Action":"kms:Decrypt","Resource":"*"}]' keys/app/policy.json)
check "a valid policy is written" bash -c "printf '%s\n' '$good' > keys/app/policy.json"
eq "and reads back" "Let the test user decrypt" "$(jq -r '.Statement[1].Sid' keys/app/policy.json)"
before=$(cat keys/app/policy.json)
expect_fail "an unknown statement member: EINVAL at write" "Invalid argument" \
	bash -c "jq -c '.Statement[0].Bogus = 1' keys/app/policy.json > /tmp/p.$$ && cat /tmp/p.$$ > keys/app/policy.json"
rm -f /tmp/p.$$
contains "/errors: MalformedPolicyDocumentException" "write /keys/app/policy.json MalformedPolicyDocumentException" "$(last_error)"
contains "/errors names the member" "Bogus" "$(last_error)"
eq "a refused policy changes nothing" "$before" "$(cat keys/app/policy.json)"
expect_fail "a policy that locks its writer out: EINVAL" "Invalid argument" bash -c \
	"jq -c '.Statement |= map(select(.Sid != \"Enable IAM User Permissions\"))' keys/app/policy.json > /tmp/p.$$ && cat /tmp/p.$$ > keys/app/policy.json"
rm -f /tmp/p.$$
contains "/errors: the lockout safety check" "will not allow you to update the key policy" "$(last_error)"
expect_fail "a principal that is no local user: EINVAL" "Invalid argument" bash -c \
	"jq -c '.Statement[1].Principal.AWS = \"arn:aws:iam::$account:user/nobody-here-xyz\"' keys/app/policy.json > /tmp/p.$$ && cat /tmp/p.$$ > keys/app/policy.json"
rm -f /tmp/p.$$
contains "/errors: invalid principals" "invalid principals" "$(last_error)"
expect_fail "text that is no JSON document fails at write" "Invalid argument" bash -c 'echo nope > keys/app/policy.json'
eq "still unchanged" "$before" "$(cat keys/app/policy.json)"
# A document that arrives in pieces is checked whole at close.
check "a document in two writes" bash -c \
	"{ printf '%s' '${good:0:40}'; sleep 0.2; printf '%s\n' '${good:40}'; } > keys/app/policy.json"
eq "arrived whole" "Let the test user decrypt" "$(jq -r '.Statement[1].Sid' keys/app/policy.json)"
expect_fail "an empty policy is refused (a key always has one)" "Invalid argument" \
	bash -c "printf '\n' > keys/app/policy.json"
check ": > policy.json (O_TRUNC, nothing written) changes nothing" bash -c ': > keys/app/policy.json'
eq "still the policy" "Let the test user decrypt" "$(jq -r '.Statement[1].Sid' keys/app/policy.json)"
check "sed -i (an editor's rename-over) edits the policy" sed -i 's/Let the test user decrypt/Test user decrypts/' keys/app/policy.json
eq "the edit is applied" "Test user decrypts" "$(jq -r '.Statement[1].Sid' keys/app/policy.json)"
expect_fail "sed -i that breaks the document: refused at the rename" "sed" bash -c \
	"sed -i 's/\"Effect\"/\"Effekt\"/' keys/app/policy.json"
contains "/errors: the rename's refusal" "rename /keys/app/policy.json MalformedPolicyDocumentException" "$(last_error)"
eq "the broken edit changed nothing" "Test user decrypts" "$(jq -r '.Statement[1].Sid' keys/app/policy.json)"

# ---- state ----
check "echo Disabled > state" bash -c 'echo Disabled > keys/app/state'
eq "state reads Disabled" Disabled "$(cat keys/app/state)"
check "echo Disabled again (no change, no error)" bash -c 'echo Disabled > keys/app/state'
check "echo Enabled > state" bash -c 'echo Enabled > keys/app/state'
eq "state reads Enabled" Enabled "$(cat keys/app/state)"
expect_fail "echo Sometimes > state: EINVAL" "Invalid argument" bash -c 'echo Sometimes > keys/app/state'
contains "/errors: ValidationException" "ValidationException" "$(last_error)"
expect_fail "echo PendingDeletion > state: EINVAL (rmdir schedules)" "Invalid argument" \
	bash -c 'echo PendingDeletion > keys/app/state'

# ---- rmdir: the pending window ----
check "rmdir keys/aws-like schedules its deletion" rmdir keys/aws-like
eq "it stays listed while pending" "app aws-like" "$(ls keys | paste -sd' ')"
eq "state: PendingDeletion and the deletion date" "PendingDeletion 2026-01-08T00:00:00Z" \
	"$(cat keys/aws-like/state | paste -sd' ')"
expect_fail "rmdir of a pending key: EINVAL (KMSInvalidState)" "Invalid argument" rmdir keys/aws-like
contains "/errors: KMSInvalidStateException" "KMSInvalidStateException" "$(last_error)"
expect_fail "Enabled while pending: EINVAL" "Invalid argument" bash -c 'echo Enabled > keys/aws-like/state'
contains "/errors says to cancel first" "CancelKeyDeletion" "$(last_error)"
check "Disabled while pending cancels the deletion" bash -c 'echo Disabled > keys/aws-like/state'
eq "and leaves the key Disabled" Disabled "$(cat keys/aws-like/state)"
check "Enabled again" bash -c 'echo Enabled > keys/aws-like/state'
check "rmdir again" rmdir keys/aws-like
doomed=$(jq -r --arg a alias/aws-like '.aliases[] | select(.AliasName == $a) | .TargetKeyId' "$STATE/keyring/keyring.json")
check "its material is in the state directory, owner-only" test "$(stat -c %a "$STATE/keyring/$doomed.key")" = 600
check "the ring's directory is 0700" test "$(stat -c %a "$STATE/keyring")" = 700
echo $((T0 + 7 * 86400 - 1)) > "$TF_ROOT/clock"
sleep 1.5
eq "a second before the window ends: still there" "app aws-like" "$(ls keys | paste -sd' ')"
echo $((T0 + 7 * 86400)) > "$TF_ROOT/clock"
for i in $(seq 50); do [ "$(ls keys | paste -sd' ')" = app ] && break; sleep 0.1; done
eq "at the window's end the alias disappears" app "$(ls keys | paste -sd' ')"
check "and the material is gone" test ! -e "$STATE/keyring/$doomed.key"
expect_fail "keys/aws-like is gone" "No such file" cat keys/aws-like/state

# ---- the trail's kms_key ----
T=trails/audit
trail_arn="arn:aws:cloudtrail:us-east-1:$account:trail/audit"
expect_fail "kms_key naming an unknown key id: ENOENT" "No such file or directory" \
	bash -c "echo 11111111-2222-3333-4444-555555555555 > $T/kms_key"
contains "/errors: KmsKeyNotFoundException" "KmsKeyNotFoundException" "$(last_error)"
expect_fail "kms_key of a key whose policy does not let CloudTrail encrypt: EACCES" \
	"Permission denied" bash -c "echo alias/app > $T/kms_key"
contains "/errors: InsufficientEncryptionPolicyException" "InsufficientEncryptionPolicyException" "$(last_error)"
eq "kms_key is still empty" "" "$(cat $T/kms_key)"
check "kms_key alias/trail-key: a new alias makes a key" bash -c "echo alias/trail-key > $T/kms_key"
eq "the key is in keys/" "app trail-key" "$(ls keys | paste -sd' ')"
tkarn=$(cat keys/trail-key/arn)
eq "kms_key holds the key's ARN" "$tkarn" "$(cat $T/kms_key)"
eq "config.json's KmsKeyId is the key ARN" "$tkarn" "$(jq -r .KmsKeyId $T/config.json)"
eq "the new key has CloudTrail's console policy" \
	'["Enable IAM User Permissions","Allow CloudTrail to encrypt logs","Allow CloudTrail to describe key"]' \
	"$(jq -c '[.Statement[].Sid]' keys/trail-key/policy.json)"
eq "encrypt for this trail only" "$trail_arn" \
	"$(jq -r '.Statement[1].Condition.StringEquals."aws:SourceArn"' keys/trail-key/policy.json)"
check "clear kms_key" bash -c "echo > $T/kms_key"
eq "kms_key empty" "" "$(cat $T/kms_key)"
check "kms_key by key ARN" bash -c "echo $tkarn > $T/kms_key"
eq "stored as the ARN" "$tkarn" "$(cat $T/kms_key)"
check "kms_key by key id" bash -c "echo > $T/kms_key && cat keys/trail-key/id > $T/kms_key"
eq "stored as the ARN" "$tkarn" "$(cat $T/kms_key)"
check "kms_key by alias ARN" bash -c "echo > $T/kms_key && echo arn:aws:kms:us-east-1:$account:alias/trail-key > $T/kms_key"
eq "stored as the ARN" "$tkarn" "$(cat $T/kms_key)"
check "kms_key by existing alias" bash -c "echo > $T/kms_key && echo alias/trail-key > $T/kms_key"
eq "stored as the ARN" "$tkarn" "$(cat $T/kms_key)"
check "Disabled > the trail key's state" bash -c 'echo Disabled > keys/trail-key/state'
expect_fail "kms_key of a disabled key: EINVAL" "Invalid argument" \
	bash -c "echo > $T/kms_key && echo alias/trail-key > $T/kms_key"
contains "/errors: KmsException" "KmsException" "$(last_error)"
check "Enabled again" bash -c 'echo Enabled > keys/trail-key/state'
expect_fail "kms_key of another account's key: ENOENT" "No such file" \
	bash -c "echo arn:aws:kms:us-east-1:999999999999:key/11111111-2222-3333-4444-555555555555 > $T/kms_key"
expect_fail "kms_key of a malformed id: EINVAL" "Invalid argument" bash -c "echo 'not a key' > $T/kms_key"
contains "/errors: InvalidKmsKeyIdException" "InvalidKmsKeyIdException" "$(last_error)"
check "config.json's KmsKeyId takes an alias" bash -c \
	"jq '.KmsKeyId = \"alias/trail-key\"' $T/config.json > /tmp/c.$$ && cat /tmp/c.$$ > $T/config.json"
rm -f /tmp/c.$$
eq "and stores the key ARN" "$tkarn" "$(jq -r .KmsKeyId $T/config.json)"
expect_fail "config.json's KmsKeyId with a key CloudTrail may not use: EACCES, nothing changed" \
	"Permission denied" bash -c \
	"jq '.KmsKeyId = \"alias/app\" | .IsLogging = false' $T/config.json > /tmp/c.$$ && cat /tmp/c.$$ > $T/config.json"
rm -f /tmp/c.$$
eq "config.json unchanged (still logging, same key)" "true $tkarn" "$(jq -r '"\(.IsLogging) \(.KmsKeyId)"' $T/config.json)"

# ---- the records ----
wait_count "$kms and .eventName == \"DeleteKey\"" 1
wait_count "$kms and .eventName == \"CreateAlias\" and .requestParameters.aliasName == \"alias/trail-key\"" 1
rec=$(records "$kms and .eventName == \"CreateKey\" and .responseElements.keyMetadata.arn == \"$tkarn\"")
eq "CreateKey: the request" '{"keyUsage":"ENCRYPT_DECRYPT","keySpec":"SYMMETRIC_DEFAULT","origin":"AWS_KMS"}' \
	"$(jq -c .requestParameters <<<"$rec")"
eq "CreateKey: the key's metadata in the response" "$tkarn Enabled" \
	"$(jq -r '.responseElements.keyMetadata | "\(.arn) \(.keyState)"' <<<"$rec")"
eq "CreateKey: the key as resource" "[{\"accountId\":\"$account\",\"type\":\"AWS::KMS::Key\",\"ARN\":\"$tkarn\"}]" \
	"$(jq -c .resources <<<"$rec")"
eq "CreateKey: a management write event" "false true AwsApiCall" \
	"$(jq -r '"\(.readOnly) \(.managementEvent) \(.eventType)"' <<<"$rec")"
tkid=$(cat keys/trail-key/id)
eq "CreateAlias: alias and target" "{\"aliasName\":\"alias/trail-key\",\"targetKeyId\":\"$tkid\"}" \
	"$(records "$kms and .eventName == \"CreateAlias\" and .requestParameters.aliasName == \"alias/trail-key\"" | jq -c .requestParameters)"
for call in PutKeyPolicy GetKeyPolicy DescribeKey EnableKey DisableKey ScheduleKeyDeletion CancelKeyDeletion ListAliases; do
	n=$(count "$kms and .eventName == \"$call\" and .errorCode == null")
	check "$call is recorded ($n)" test "$n" -ge 1
done
eq "GetKeyPolicy is a read" true "$(records "$kms and .eventName == \"GetKeyPolicy\"" | jq -s 'all(.readOnly)')"
eq "DescribeKey is a read" true "$(records "$kms and .eventName == \"DescribeKey\"" | jq -s 'all(.readOnly)')"
rec=$(records "$kms and .eventName == \"PutKeyPolicy\" and .errorCode == null" | tail -n 1)
eq "PutKeyPolicy: keyId, policyName and the policy" "alias/app default Test user decrypts" \
	"$(jq -r '.requestParameters | "\(.keyId) \(.policyName) \(.policy | fromjson | .Statement[1].Sid)"' <<<"$rec")"
eq "a refused PutKeyPolicy is recorded with its errorCode" true \
	"$(records "$kms and .eventName == \"PutKeyPolicy\" and .errorCode == \"MalformedPolicyDocumentException\"" | jq -s 'length >= 3')"
rec=$(records "$kms and .eventName == \"ScheduleKeyDeletion\"" | tail -n 1)
eq "ScheduleKeyDeletion: the window and the date" "7 2026-01-01T00:00:00Z PendingDeletion" \
	"$(jq -r '"\(.requestParameters.pendingWindowInDays) \(.responseElements.deletionDate | sub("08T";"01T")) \(.responseElements.keyState)"' <<<"$rec")"
rec=$(records "$kms and .eventName == \"DeleteKey\"")
eq "DeleteKey: an AWS service event at the window's end" "AwsServiceEvent AWS Internal 2026-01-08T00:00:00Z" \
	"$(jq -r '"\(.eventType) \(.userIdentity.invokedBy) \(.eventTime)"' <<<"$rec")"
eq "DeleteKey: the key's ARN" "arn:aws:kms:us-east-1:$account:key/$doomed" "$(jq -r .responseElements.keyId <<<"$rec")"
eq "every KMS record's region is the home region" true "$(records "$kms" | jq -s 'all(.awsRegion == "us-east-1")')"
check "no record carries key material (no .key file's bytes in base64)" bash -c \
	"! records '$kms' | grep -qF \"\$(base64 -w0 < '$STATE/keyring/$tkid.key')\""

# ---- restart: the ring persists ----
cd /
tf_restart
cd "$MNT" || exit 1
eq "keys survive a restart" "app trail-key" "$(ls keys | paste -sd' ')"
eq "and the trail keeps its key" "$tkarn" "$(cat $T/kms_key)"
eq "and the policy edit" "Test user decrypts" "$(jq -r '.Statement[1].Sid' keys/app/policy.json)"

cd /
done_testing
