#!/usr/bin/env bash
# /public-keys: every configured region's digest-signing public keys, as
# ListPublicKeys gives them (keys.json) and one PEM file per key named by
# its fingerprint (MD5 hex of the PKCS#1 DER, as AWS computes it); rotate
# makes a new key on demand and the old one keeps its window.  The keys
# the digests name are the ones listed here.
. "$(dirname "$0")/lib.sh"

command -v openssl >/dev/null || { echo "1..0 # SKIP no openssl"; exit 77; }
T0=1767225600                       # 2026-01-01T00:00:00Z
CLOCK=$TF_ROOT/clock
echo "$T0" > "$CLOCK"
tf_start -o "regions=us-east-1:eu-west-1,delivery_interval=1,digest_interval=60,test_clock=$CLOCK" ||
	done_testing
cd "$MNT" || exit 1

eq "ls / shows public-keys" "buckets errors events keys public-keys trails" "$(ls | tr '\n' ' ' | sed 's/ $//')"
eq "a directory per configured region" "eu-west-1 us-east-1" "$(ls public-keys | tr '\n' ' ' | sed 's/ $//')"
eq "a region that never signed lists no key" "keys.json rotate" "$(ls public-keys/us-east-1 | tr '\n' ' ' | sed 's/ $//')"
eq "its keys.json is an empty list" "[]" "$(jq -c .PublicKeyList public-keys/us-east-1/keys.json)"
eq "modes: the directory read-only, keys.json 0444, rotate 0200" "555 444 200" \
	"$(stat -c %a public-keys/us-east-1 public-keys/us-east-1/keys.json public-keys/us-east-1/rotate | tr '\n' ' ' | sed 's/ $//')"
expect_fail "an unconfigured region does not exist" "No such file" ls public-keys/ap-south-1

check "echo now > rotate makes the region's first key" sh -c 'echo now > public-keys/us-east-1/rotate'
fp1=$(jq -r '.PublicKeyList[0].Fingerprint' public-keys/us-east-1/keys.json)
eq "keys.json holds one key" 1 "$(jq '.PublicKeyList | length' public-keys/us-east-1/keys.json)"
eq "it is valid from the test clock's now, with no end" "$T0 null" \
	"$(jq -r '.PublicKeyList[0] | "\(.ValidityStartTime) \(.ValidityEndTime)"' public-keys/us-east-1/keys.json)"
eq "its PEM file is listed by fingerprint" "$fp1.pem keys.json rotate" \
	"$(ls public-keys/us-east-1 | tr '\n' ' ' | sed 's/ $//')"
eq "the fingerprint is the MD5 of the Value's DER" "$fp1" \
	"$(jq -r '.PublicKeyList[0].Value' public-keys/us-east-1/keys.json | base64 -d | md5sum | cut -d' ' -f1)"
eq "the PEM is the same PKCS#1 key" "$fp1" \
	"$(openssl rsa -RSAPublicKey_in -in "public-keys/us-east-1/$fp1.pem" -RSAPublicKey_out -outform DER 2>/dev/null | md5sum | cut -d' ' -f1)"
contains "an RSA-2048 key" "Public-Key: (2048 bit)" \
	"$(openssl rsa -RSAPublicKey_in -in "public-keys/us-east-1/$fp1.pem" -noout -text 2>&1)"
eq "stat knows the PEM's size" "$(cat "public-keys/us-east-1/$fp1.pem" | wc -c)" \
	"$(stat -c %s "public-keys/us-east-1/$fp1.pem")"
eq "the other region still has none" "[]" "$(jq -c .PublicKeyList public-keys/eu-west-1/keys.json)"

echo $((T0 + 100)) > "$CLOCK"
check "rotating again" sh -c 'echo now > public-keys/us-east-1/rotate'
eq "two keys, the old one closed at the rotation" "$fp1 $T0 $((T0 + 100))" \
	"$(jq -r '.PublicKeyList[0] | "\(.Fingerprint) \(.ValidityStartTime) \(.ValidityEndTime)"' public-keys/us-east-1/keys.json)"
fp2=$(jq -r '.PublicKeyList[1].Fingerprint' public-keys/us-east-1/keys.json)
eq "the new one open from then" "$((T0 + 100)) null" \
	"$(jq -r '.PublicKeyList[1] | "\(.ValidityStartTime) \(.ValidityEndTime)"' public-keys/us-east-1/keys.json)"
check "both PEM files are there" test -s "public-keys/us-east-1/$fp1.pem" -a -s "public-keys/us-east-1/$fp2.pem"

before=$(wc -l < errors)
expect_fail "rotate takes only the word now" "Invalid argument" bash -c 'echo later > public-keys/us-east-1/rotate'
contains "/errors says why" "rotate takes the word now" "$(last_error)"
eq "and nothing rotated" 2 "$(jq '.PublicKeyList | length' public-keys/us-east-1/keys.json)"
expect_fail "rotate is write-only" "Operation not permitted" cat public-keys/us-east-1/rotate
expect_fail "a PEM file is read-only" "Operation not permitted" sh -c "echo x > public-keys/us-east-1/$fp1.pem"
expect_fail "keys.json is read-only" "Operation not permitted" sh -c 'echo x > public-keys/us-east-1/keys.json'
expect_fail "an unknown fingerprint is absent" "No such file" cat public-keys/us-east-1/0123456789abcdef0123456789abcdef.pem
eq "four refusals, four lines in /errors (a missing file is no refusal)" $((before + 4)) "$(wc -l < errors)"

# The digests name the keys listed here.
check "mkdir trails/main" mkdir trails/main
printf '{"eventTime":"2026-01-01T00:01:00Z","eventSource":"ec2.amazonaws.com","eventName":"RunInstances","awsRegion":"us-east-1"}\n' > events
echo $((T0 + 200)) > "$CLOCK"
for _ in $(seq 300); do
	[ -n "$(jq -r '.LatestDigestDeliveryTime // empty' trails/main/status)" ] && break
	sleep 0.1
done
dig=$(find trails/main/digests/us-east-1 -name '*.json' | head -n 1)
check "a digest was delivered in us-east-1" test -n "$dig"
eq "it is signed with the current key" "$fp2" "$(jq -r .digestPublicKeyFingerprint "$dig")"
check "the digest's signature verifies with that PEM" sh -c "
	printf '%s\n%s/%s\n%s\n%s' \"\$(jq -r .digestEndTime '$dig')\" \"\$(jq -r .digestS3Bucket '$dig')\" \
		\"\$(jq -r .digestS3Object '$dig')\" \"\$(sha256sum < '$dig' | cut -d' ' -f1)\" \
		\"\$(jq -r '.previousDigestSignature // \"null\"' '$dig')\" > '$TF_ROOT/tosign'
	getfattr -n user.trailfs.signature --only-values '$dig' | xxd -r -p > '$TF_ROOT/sig'
	openssl rsa -RSAPublicKey_in -in 'public-keys/us-east-1/$fp2.pem' -pubout -out '$TF_ROOT/pub.pem' 2>/dev/null
	openssl dgst -sha256 -verify '$TF_ROOT/pub.pem' -signature '$TF_ROOT/sig' '$TF_ROOT/tosign'"
eq "eu-west-1 got its own key when it first signed" 1 "$(jq '.PublicKeyList | length' public-keys/eu-west-1/keys.json)"

# Reading keys is ListPublicKeys, once per open; a stat or ls is no call.
# Since mkdir trails/main: openssl opened a PEM, jq the eu-west-1 list, and
# now cat opens the us-east-1 list.
stat public-keys/us-east-1/keys.json >/dev/null
ls -l public-keys/us-east-1 >/dev/null
cat public-keys/us-east-1/keys.json >/dev/null
check "StopLogging delivers what came before it" sh -c 'echo off > trails/main/logging'
recs=$(cat trails/main/logs/*/*/*/*/*.json | jq -c 'select(.eventName == "ListPublicKeys")')
eq "three ListPublicKeys records, one per open" 3 "$(grep -c . <<<"$recs")"
eq "a read-only CloudTrail management call" "cloudtrail.amazonaws.com true Management" \
	"$(tail -n 1 <<<"$recs" | jq -r '"\(.eventSource) \(.readOnly) \(.eventCategory)"')"

cd /
done_testing
