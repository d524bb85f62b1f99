#!/usr/bin/env bash
# Encryption at delivery and decrypt on read, with several users on one
# mount: a trail with kms_key alias/audit beside a plain trail taking the
# same events; the owner reads plaintext, a real second user gets EACCES
# until the key policy names them (a positive control before every
# refusal: the same user reads the plain trail's files through the same
# directories), the store holds only ciphertext, an independent decryptor
# opens a delivered object by the published format, digests stay plain, a
# disabled key holds the records back, tampering and a destroyed key are EIO.
. "$(dirname "$0")/lib.sh"

tf_second_user
check "the test user can traverse to the mount point" as_user ls "$TF_ROOT"
tf_start -o allow_other,delivery_interval=1,digest_interval=2,key_deletion_days=7 || done_testing
cd "$MNT" || exit 1
account=$(jq -r .account "$STATE/registry.json")

check "mkdir trails/enc" mkdir trails/enc
check "mkdir trails/plain" mkdir trails/plain
check "kms_key alias/audit (a new key with CloudTrail's policy)" bash -c 'echo alias/audit > trails/enc/kms_key'
enc_bucket=$(cat trails/enc/s3_bucket)
plain_bucket=$(cat trails/plain/s3_bucket)
key_id=$(cat keys/audit/id)
key_arn=$(cat keys/audit/arn)

MARK=MARKER-ENC-$$-$RANDOM
emit() { # MARK N
	local i
	for i in $(seq "$2"); do
		printf '{"eventTime":"2026-03-04T05:06:07Z","eventSource":"ec2.amazonaws.com","eventName":"RunInstances","awsRegion":"eu-west-1","requestParameters":{"marker":"%s","n":%d}}\n' "$1" "$i"
	done > events
}
# files TRAIL VIEW: the view's files holding region eu-west-1
files() { find "trails/$1/$2/eu-west-1" -type f 2>/dev/null | sort; }
wait_grep() { # TRAIL TEXT: wait (10 s) until TEXT is in the trail's logs/
	local i
	for i in $(seq 100); do
		files "$1" logs | xargs -r grep -l -- "$2" 2>/dev/null | grep -q . && return 0
		sleep 0.1
	done
	return 1
}
check "events accepted" emit "$MARK" 20
check "delivered to enc" wait_grep enc "$MARK"
check "delivered to plain" wait_grep plain "$MARK"
ef=$(files enc logs | xargs grep -l -- "$MARK" | head -n 1)
er=trails/enc/raw/${ef#trails/enc/logs/}.gz
pf=$(files plain logs | xargs grep -l -- "$MARK" | head -n 1)

# ---- the owner reads plaintext; the store holds ciphertext ----
eq "owner: grep -c the marker in enc's logs/" 20 "$(grep -c -- "$MARK" "$ef")"
eq "owner: raw/ is the gzip bytes, decrypted" 20 "$(gzip -dc < "$er" | jq -c '.Records[]' | grep -c -- "$MARK")"
eq "an encrypted log file's integrity is not checked: unknown" unknown "$(getfattr -n user.trailfs.integrity --only-values "$ef" 2>&1)"
eq "stat of logs/ is the text's size" "$(wc -c < "$ef")" "$(stat -c %s "$ef")"
eq "stat of raw/ is the gzip's size (the plaintext's, not the ciphertext's)" "$(wc -c < "$er")" "$(stat -c %s "$er")"
check "the plain trail's bucket has the marker in its objects (positive control)" bash -c \
	"find '$STATE/store/$plain_bucket' -name '*.json.gz' -exec gzip -dc {} + | grep -q -- '$MARK'"
check "the encrypted bucket holds no plaintext: no marker, raw or gunzipped" bash -c \
	"! grep -r -q -- '$MARK' '$STATE/store/$enc_bucket' && ! find '$STATE/store/$enc_bucket' -path '*CloudTrail/*' -name '*.json.gz' -exec sh -c 'gzip -dc \"\$1\" 2>/dev/null' _ {} \\; | grep -q -- '$MARK'"
obj=$(find "$STATE/store/$enc_bucket" -name "$(basename "$ef").gz")
meta=$(find "$STATE/store/.meta/$enc_bucket" -name "$(basename "$ef").gz*" | head -n 1)
check "the stored object is not gzip (ciphertext)" bash -c "! gzip -t '$obj' 2>/dev/null"
eq "its metadata is the V2 envelope" "AES/GCM/NoPadding kms+context 128" \
	"$(jq -r '.meta | "\(.["x-amz-cek-alg"]) \(.["x-amz-wrap-alg"]) \(.["x-amz-tag-len"])"' "$meta")"
eq "the encryption context is the trail's ARN" "arn:aws:cloudtrail:us-east-1:$account:trail/enc" \
	"$(jq -r '.meta["x-amz-matdesc"] | fromjson | .["aws:cloudtrail:arn"]' "$meta")"
eq "the object is the plaintext + 16 bytes" $(( $(stat -c %s "$er") + 16 )) "$(stat -c %s "$obj")"

# Format fidelity on a delivered object: unwrap the data key by the
# documented blob format, decrypt by the published V2 format.
check "an independent decryptor gives raw/'s exact bytes" python3 - "$obj" "$meta" "$STATE/keyring/$key_id.key" "$er" <<'EOF'
import base64, json, struct, sys
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
obj = open(sys.argv[1], "rb").read()
meta = json.load(open(sys.argv[2]))["meta"]
ring = open(sys.argv[3], "rb").read()
raw = open(sys.argv[4], "rb").read()
ctx = json.loads(meta["x-amz-matdesc"])
aad_ctx = struct.pack(">I", len(ctx))
for k in sorted(ctx, key=lambda k: k.encode()):
    kb, vb = k.encode(), ctx[k].encode()
    aad_ctx += struct.pack(">I", len(kb)) + kb + struct.pack(">I", len(vb)) + vb
blob = base64.b64decode(meta["x-amz-key-v2"], validate=True)
dk = AESGCM(ring).decrypt(blob[37:49], blob[49:97], blob[:37] + aad_ctx)
pt = AESGCM(dk).decrypt(base64.b64decode(meta["x-amz-iv"]), obj, None)
sys.exit(0 if pt == raw and len(pt) == int(meta["x-amz-unencrypted-content-length"]) else 1)
EOF

# ---- digests stay plain ----
for i in $(seq 300); do   # 30 s: the first digest waits for its region's signing key
	[ -n "$(find "$STATE/store/$enc_bucket" -path '*CloudTrail-Digest*' -name '*.json.gz' | head -n 1)" ] && break
	sleep 0.1
done
dg=$(find "$STATE/store/$enc_bucket" -path '*CloudTrail-Digest*' -name '*.json.gz' | head -n 1)
check "a digest was delivered to the encrypted trail's bucket" test -n "$dg"
check "digest files are never encrypted: plain gzip JSON" bash -c "gzip -dc '$dg' | jq -e .logFiles >/dev/null"
check "and they carry no envelope" bash -c \
	"! grep -l x-amz-key-v2 \$(find '$STATE/store/.meta/$enc_bucket' -path '*CloudTrail-Digest*' -type f)"

# ---- a second user: EACCES until the key policy names them ----
eq "user: reads the plain trail's log (positive control, same directories)" 20 \
	"$(as_user grep -c -- "$MARK" "$MNT/$pf" 2>&1)"
check "user: may list enc's logs/" as_user ls "$MNT/$(dirname "$ef")"
expect_fail "user: enc's logs/ file: EACCES" "Permission denied" as_user cat "$MNT/$ef"
contains "/errors: AccessDeniedException for the user's uid" "uid=$uid2 open /$ef AccessDeniedException" "$(last_error)"
contains "/errors: AWS's message" "is not authorized to perform: kms:Decrypt" "$(last_error)"
expect_fail "user: enc's raw/ file: EACCES" "Permission denied" as_user cat "$MNT/$er"
eq "owner still reads (after the refusal, page cache or not)" 20 "$(grep -c -- "$MARK" "$ef")"
arn2="arn:aws:iam::$account:user/$USER2"
jq --arg a "$arn2" '.Statement += [{"Sid":"Enable CloudTrail log decrypt permissions","Effect":"Allow","Principal":{"AWS":$a},"Action":"kms:Decrypt","Resource":"*","Condition":{"Null":{"kms:EncryptionContext:aws:cloudtrail:arn":"false"}}}]' \
	keys/audit/policy.json > "$TF_ROOT/p"
check "the owner adds the user to the key policy" bash -c "cat '$TF_ROOT/p' > keys/audit/policy.json"
eq "user: now reads enc's logs/ (the edit takes effect on the next open)" 20 \
	"$(as_user grep -c -- "$MARK" "$MNT/$ef" 2>&1)"
eq "user: and raw/" 20 "$(as_user sh -c "gzip -dc < '$MNT/$er'" | jq -c '.Records[]' | grep -c -- "$MARK")"
jq --arg a "$arn2" '.Statement |= map(select(.Principal.AWS != $a))' keys/audit/policy.json > "$TF_ROOT/p"
check "the owner takes the user out again" bash -c "cat '$TF_ROOT/p' > keys/audit/policy.json"
expect_fail "user: EACCES again, though the kernel keeps the pages it read" "Permission denied" \
	as_user cat "$MNT/$ef"
eq "owner: still reads" 20 "$(grep -c -- "$MARK" "$ef")"

# ---- the records (from the plain trail's files, read from the store) ----
records() { # JQ-CONDITION
	find "$STATE/store/$plain_bucket" -path '*CloudTrail/*' -name '*.json.gz' -print0 |
		xargs -0 -r cat | gzip -dc 2>/dev/null | jq -c ".Records[] | select($1)"
}
wait_records() { # JQ-CONDITION N
	local i
	for i in $(seq 100); do
		[ "$(records "$1" | wc -l)" -ge "$2" ] && return 0
		sleep 0.1
	done
	return 1
}
denied=".eventName == \"Decrypt\" and .errorCode == \"AccessDenied\" and .userIdentity.userName == \"$USER2\""
wait_records "$denied" 3
eq "three denied Decrypt events for the user (logs/, raw/, logs/ again)" 3 "$(records "$denied" | wc -l)"
rec=$(records "$denied" | head -n 1)
eq "a denied Decrypt: kms, the key, the context" "kms.amazonaws.com $key_arn arn:aws:cloudtrail:us-east-1:$account:trail/enc" \
	"$(jq -r '"\(.eventSource) \(.requestParameters.keyId) \(.requestParameters.encryptionContext["aws:cloudtrail:arn"])"' <<<"$rec")"
contains "with KMS's message" "not authorized to perform: kms:Decrypt" "$(jq -r .errorMessage <<<"$rec")"
ok_dec=".eventName == \"Decrypt\" and .errorCode == null and .userIdentity.userName == \"$USER2\""
wait_records "$ok_dec" 2
eq "the user's successful reads are Decrypt events" 2 "$(records "$ok_dec" | wc -l)"
eq "no GenerateDataKey is recorded (CloudTrail's own calls would feed the next delivery)" 0 \
	"$(records '.eventName == "GenerateDataKey"' | wc -l)"

# ---- a disabled key holds the records back ----
check "echo Disabled > keys/audit/state" bash -c 'echo Disabled > keys/audit/state'
expect_fail "owner: a disabled key cannot decrypt: EACCES" "Permission denied" cat "$ef"
contains "/errors: DisabledException" "DisabledException" "$(last_error)"
M2=MARKER-HELD-$$-$RANDOM
check "more events" emit "$M2" 5
check "the plain trail gets them (positive control)" wait_grep plain "$M2"
for i in $(seq 50); do jq -e .LatestDeliveryError trails/enc/status >/dev/null 2>&1 && break; sleep 0.1; done
contains "enc's status: LatestDeliveryError says the key is disabled" "DisabledException" \
	"$(jq -r .LatestDeliveryError trails/enc/status)"
check "enc has no file with them" bash -c "! files enc logs | xargs -r grep -l -- '$M2' 2>/dev/null | grep -q ."
check "echo Enabled > keys/audit/state" bash -c 'echo Enabled > keys/audit/state'
check "the held records are delivered" wait_grep enc "$M2"
eq "exactly once" 5 "$(files enc logs | xargs cat | grep -c -- "$M2")"
for i in $(seq 50); do jq -e .LatestDeliveryError trails/enc/status >/dev/null 2>&1 || break; sleep 0.1; done
eq "and the delivery error is cleared" null "$(jq -r .LatestDeliveryError trails/enc/status)"

# A policy that no longer lets CloudTrail encrypt fails the delivery too.
jq '.Statement |= map(select(.Sid != "Allow CloudTrail to encrypt logs"))' keys/audit/policy.json > "$TF_ROOT/p"
check "the owner removes CloudTrail's statement" bash -c "cat '$TF_ROOT/p' > keys/audit/policy.json"
check "more events" emit "MARKER-NOPOLICY-$$" 1
for i in $(seq 50); do jq -e .LatestDeliveryError trails/enc/status >/dev/null 2>&1 && break; sleep 0.1; done
contains "LatestDeliveryError: InsufficientEncryptionPolicyException" "InsufficientEncryptionPolicyException" \
	"$(jq -r .LatestDeliveryError trails/enc/status)"

# ---- tampering ----
second=$(files enc logs | xargs grep -l -- "$M2" | head -n 1)
sobj=$(find "$STATE/store/$enc_bucket" -name "$(basename "$second").gz")
python3 -c 'import sys; p=sys.argv[1]; b=bytearray(open(p,"rb").read()); b[len(b)//2]^=1; open(p,"wb").write(b)' "$sobj"
expect_fail "a tampered object: EIO, never garbage" "Input/output error" cat "$second"
contains "/errors: InvalidCiphertextException" "InvalidCiphertextException" "$(last_error)"
eq "the untampered file still reads (positive control)" 20 "$(grep -c -- "$MARK" "$ef")"

# ---- a destroyed key: unreadable for good ----
check "rmdir keys/audit (pending deletion)" rmdir keys/audit
expect_fail "a key pending deletion cannot decrypt: EACCES" "Permission denied" cat "$ef"
cd /
tf_stop
echo $(( $(date +%s) + 8 * 86400 )) > "$TF_ROOT/clock"
tf_start -o allow_other,delivery_interval=1,digest_interval=2,key_deletion_days=7,test_clock="$TF_ROOT/clock" || done_testing
cd "$MNT" || exit 1
for i in $(seq 50); do [ -z "$(ls keys)" ] && break; sleep 0.1; done
eq "after the window the key is gone" "" "$(ls keys)"
check "its material too" test ! -e "$STATE/keyring/$key_id.key"
expect_fail "a destroyed key's files: EIO" "Input/output error" cat "$ef"
contains "/errors: NotFoundException" "NotFoundException" "$(last_error)"
check "the files stay listed" test -n "$(files enc logs)"

cd /
done_testing
