#!/usr/bin/env bash
# digests/: the digest files in the trail's delivery location
# (PREFIX/AWSLogs/ACCOUNT/CloudTrail-Digest/), decompressed to their exact
# bytes, with the object's signature metadata as extended attributes.  The
# objects here are laid into the store by hand, so the view is tested apart
# from the engine that writes digests.
. "$(dirname "$0")/lib.sh"

tf_start || done_testing
cd "$MNT" || exit 1

check "mkdir trails/main" mkdir trails/main
bucket=$(cat trails/main/s3_bucket)
account=$(cut -d: -f5 trails/main/arn)
eq "digests/ is listed in the trail" digests "$(ls trails/main | grep -x digests)"
eq "digests/ is empty before any digest" "" "$(ls trails/main/digests)"

# put KEY TEXT [META-JSON]: an object in the trail's bucket, gzip of TEXT.
put() {
	local key=$1 text=$2 meta=${3:-{\}} dir side
	dir=$STATE/store/$bucket/$(dirname "$key")
	side=$STATE/store/.meta/$bucket/objects/$key.json
	mkdir -p "$dir" "$(dirname "$side")"
	printf '%s' "$text" | gzip -n > "$STATE/store/$bucket/$key"
	printf '{"size":%d,"meta":%s}' "$(stat -c %s "$STATE/store/$bucket/$key")" "$meta" > "$side"
}

day=AWSLogs/$account/CloudTrail-Digest/us-east-1/2026/12/01
name=${account}_CloudTrail-Digest_us-east-1_main_us-east-1_20261201T010000Z
body='{"awsAccountId":"'$account'","logFiles":[]}'
sig=$(printf '%0512d' 7)
put "$day/$name.json.gz" "$body" '{"signature":"'$sig'","signature-algorithm":"SHA256withRSA"}'
put "$day/${account}_CloudTrail-Digest_us-east-1_main_us-east-1_20261201T020000Z.json.gz" '{}'
put "$day/unrelated.txt" 'x'
# A new object is not announced to the kernel (nothing delivered it):
# drop the cached listing the way a remount would.
cd / && tf_restart && cd "$MNT" || exit 1

f=trails/main/digests/us-east-1/2026/12/01/$name.json
eq "ls digests/ gives the region" us-east-1 "$(ls trails/main/digests)"
eq "the day lists both digests, without .gz, and nothing else" \
	"$name.json ${account}_CloudTrail-Digest_us-east-1_main_us-east-1_20261201T020000Z.json" \
	"$(ls trails/main/digests/us-east-1/2026/12/01 | tr '\n' ' ' | sed 's/ $//')"
eq "cat gives the inflated bytes exactly" "$body" "$(cat "$f")"
eq "st_size is the inflated size" "${#body}" "$(stat -c %s "$f")"
eq "sha256sum matches what previousDigestHashValue would hold" \
	"$(printf '%s' "$body" | sha256sum | cut -d' ' -f1)" "$(sha256sum < "$f" | cut -d' ' -f1)"
eq "user.trailfs.signature is the object's signature metadata" "$sig" \
	"$(getfattr -n user.trailfs.signature --only-values "$f")"
eq "user.trailfs.signature-algorithm" SHA256withRSA \
	"$(getfattr -n user.trailfs.signature-algorithm --only-values "$f")"
eq "getfattr -d lists exactly the two" "user.trailfs.signature=\"$sig\"
user.trailfs.signature-algorithm=\"SHA256withRSA\"" "$(getfattr -d "$f" 2>/dev/null | grep '^user')"
g=trails/main/digests/us-east-1/2026/12/01/${account}_CloudTrail-Digest_us-east-1_main_us-east-1_20261201T020000Z.json
expect_fail "a digest without metadata has no signature attribute" "No such attribute" \
	getfattr -n user.trailfs.signature "$g"
expect_fail "an unknown attribute is absent" "No such attribute" getfattr -n user.trailfs.x "$f"
expect_fail "attributes cannot be set" "Operation not supported" setfattr -n user.trailfs.signature -v 0 "$f"
expect_fail "digests are read-only" "Operation not permitted" sh -c "echo x > '$f'"
expect_fail "a .gz name is not in digests/" "No such file" cat "$f.gz"

# As validate-logs reads a digest: the first gzip member, whatever follows.
obj=$STATE/store/$bucket/$day/$name.json.gz
printf 'more' | gzip -n >> "$obj"
printf '{"size":%d,"meta":{}}' "$(stat -c %s "$obj")" > "$STATE/store/.meta/$bucket/objects/$day/$name.json.gz.json"
cd / && tf_restart && cd "$MNT" || exit 1
eq "a digest of two gzip members reads as its first" "$body" "$(cat "$f")"
# A member cut short is damage.
head -c 20 "$obj" > "$obj.cut" && mv "$obj.cut" "$obj"
printf '{"size":20,"meta":{}}' > "$STATE/store/.meta/$bucket/objects/$day/$name.json.gz.json"
cd / && tf_restart && cd "$MNT" || exit 1
expect_fail "a truncated digest fails with EIO" "Input/output error" cat "$f"

# A digest that is not gzip reads as an I/O error, not as garbage.
printf 'not gzip' > "$STATE/store/$bucket/$day/$name.json.gz"
printf '{"size":8,"meta":{}}' > "$STATE/store/.meta/$bucket/objects/$day/$name.json.gz.json"
cd / && tf_restart && cd "$MNT" || exit 1
expect_fail "a damaged digest fails with EIO" "Input/output error" cat "$f"

# A new bucket moves the view: the digests stay where they were written.
check "s3_bucket set to a new bucket" sh -c "echo trailfs-digest-view-moved > trails/main/s3_bucket"
eq "the view follows the bucket (empty there)" "" "$(ls trails/main/digests)"
check "s3_bucket set back" sh -c "echo $bucket > trails/main/s3_bucket"
eq "and back" us-east-1 "$(ls trails/main/digests)"

cd /
done_testing
