#!/usr/bin/env bash
# Editors and `sed -i` write a temporary file beside the file they edit and
# rename it over: that works on settings and on bucket policies, applies the
# whole new content, and a bad edit changes nothing.
. "$(dirname "$0")/lib.sh"

tf_start || done_testing
cd "$MNT" || exit 1

T=trails/main
SETTINGS="arn cloudwatch_logs_group config.json data_events digests global_service_events home_region kms_key log_file_validation logging logs management_events multi_region raw s3_bucket s3_key_prefix sns_topic status tags"
n_errors() { wc -l < errors; }
listing() { LC_ALL=C ls -A "$1" | tr '\n' ' ' | sed 's/ $//'; }

# refused DESC ERRNO-TEXT EXCEPTION SHELL-COMMAND (see test_settings.sh)
refused() {
	local before
	before=$(n_errors)
	expect_fail "$1" "$2" bash -c "$4"
	eq "$1: one new line in /errors" $((before + 1)) "$(n_errors)"
	contains "$1: /errors says $3" " $3: " "$(last_error)"
}

check "mkdir trails/main" mkdir "$T"
bucket=$(cat $T/s3_bucket)
account=$(jq -r .account "$STATE/registry.json")

# ---- sed -i ----
check "sed -i 's/All/ReadOnly/' management_events" sed -i 's/All/ReadOnly/' $T/management_events
eq "the edit is applied" ReadOnly "$(cat $T/management_events)"
eq "sed's temporary file is gone" "$SETTINGS" "$(listing $T)"
refused "sed -i producing a bad value fails" "Invalid argument" InvalidEventSelectorsException \
	"sed -i 's/ReadOnly/Sometimes/' $T/management_events"
contains "sed says it could not rename" "sed: cannot rename" "$(cat "$TF_OUT")"
contains "/errors has the rename onto the setting" "rename /trails/main/management_events" \
	"$(last_error)"
eq "management_events is unchanged" ReadOnly "$(cat $T/management_events)"
eq "no temporary file is left" "$SETTINGS" "$(listing $T)"

check "a multi-line setting: tags" bash -c "printf 'team=security\nenv=prod\n' > $T/tags"
check "sed -i 's/env=prod/env=dev/' tags" sed -i 's/env=prod/env=dev/' $T/tags
eq "tags are edited" "team=security
env=dev" "$(cat $T/tags)"
check "sed -i '/^team=/d' tags" sed -i '/^team=/d' $T/tags
eq "one tag left" "env=dev" "$(cat $T/tags)"
refused "sed -i that drops the '=' fails" "Invalid argument" InvalidTagParameterException \
	"sed -i 's/=/:/' $T/tags"
eq "tags are unchanged" "env=dev" "$(cat $T/tags)"

check "sed -i on config.json" \
	sed -i -E 's/"LogFileValidationEnabled":[[:space:]]*true/"LogFileValidationEnabled": false/' \
	$T/config.json
eq "log_file_validation is no" no "$(cat $T/log_file_validation)"
refused "sed -i that renames the trail in config.json fails" "Invalid argument" \
	InvalidParameterException "sed -i 's/\"main\"/\"other\"/' $T/config.json"
eq "the trail keeps its name" main "$(jq -r .Name $T/config.json)"
check "sed -i that empties kms_key (already empty) succeeds" sed -i 's/.*//' $T/kms_key
eq "kms_key is empty" "" "$(cat $T/kms_key)"

# ---- perl -pi ----
if command -v perl >/dev/null; then
	check "perl -pi -e 's/ReadOnly/WriteOnly/' management_events" \
		perl -pi -e 's/ReadOnly/WriteOnly/' $T/management_events
	eq "the edit is applied" WriteOnly "$(cat $T/management_events)"
	eq "no temporary file is left" "$SETTINGS" "$(listing $T)"
else
	ok "# SKIP perl is not installed"
	ok "# SKIP perl is not installed"
	ok "# SKIP perl is not installed"
fi

# ---- an editor's way, step by step (python: temporary file, rename) ----
editor() {
	python3 - "$@" <<'EOF'
import errno, os, sys, tempfile
target, value = sys.argv[1], sys.argv[2]
d = os.path.dirname(target)
fd, tmp = tempfile.mkstemp(dir=d, prefix=".edit-")
os.write(fd, value.encode())
os.fsync(fd)
os.close(fd)
print("during:", " ".join(n for n in sorted(os.listdir(d)) if n.startswith(".edit-")) != "")
try:
    os.rename(tmp, target)
    print("rename: ok")
except OSError as e:
    print("rename:", errno.errorcode[e.errno])
    os.unlink(tmp)
print("after:", any(n.startswith(".edit-") for n in os.listdir(d)))
EOF
}
eq "python: temp file shows while it exists, rename applies, temp file gone" \
	"during: True
rename: ok
after: False" "$(editor $T/management_events $'None\n')"
eq "management_events is None" None "$(cat $T/management_events)"
eq "python: a bad value is refused at rename" "during: True
rename: EINVAL
after: False" "$(editor $T/management_events $'Never\n')"
contains "/errors has it" "rename /trails/main/management_events InvalidEventSelectorsException" \
	"$(last_error)"
eq "management_events is still None" None "$(cat $T/management_events)"
eq "python: renaming onto a read-only file is refused" "during: True
rename: EPERM
after: False" "$(editor $T/arn 'x')"
contains "/errors has it" "rename /trails/main/arn OperationNotPermittedException" "$(last_error)"

# ---- temporary files are ordinary files while they live ----
check "a temporary file can be made beside the settings" bash -c "echo All > $T/.draft"
eq "ls shows it" ".draft $SETTINGS" "$(listing $T)"
eq "it reads back" All "$(cat $T/.draft)"
check "it can be appended to and truncated" bash -c "echo x >> $T/.draft && truncate -s 3 $T/.draft"
eq "it holds what a file would" All "$(cat $T/.draft)"
check "mv .draft management_events applies it" mv $T/.draft $T/management_events
eq "management_events is All" All "$(cat $T/management_events)"
eq "the temporary file is gone" "$SETTINGS" "$(listing $T)"
check "a temporary file can be removed" bash -c "echo x > $T/.junk && rm $T/.junk"
eq "it is gone" "$SETTINGS" "$(listing $T)"
check "cp onto a setting works (open with O_TRUNC, write)" \
	bash -c "echo WriteOnly > $TF_ROOT/v && cp $TF_ROOT/v $T/management_events"
eq "management_events is WriteOnly" WriteOnly "$(cat $T/management_events)"

# ---- settings cannot be renamed away ----
refused "mv management_events elsewhere is refused" "Operation not permitted" \
	OperationNotPermittedException "mv $T/management_events $T/me"
refused "mv a setting out of the trail is refused" "Operation not permitted" \
	OperationNotPermittedException "mv $T/multi_region trails/"
refused "mv one setting onto another is refused" "Operation not permitted" \
	OperationNotPermittedException "mv $T/logging $T/multi_region"
refused "rm of a setting is refused" "Operation not permitted" OperationNotPermittedException \
	"rm -f $T/tags"
eq "every setting is still there" "$SETTINGS" "$(listing $T)"
eq "management_events is still WriteOnly" WriteOnly "$(cat $T/management_events)"

# ---- sed -i on a bucket policy ----
P=buckets/$bucket/policy.json
check "sed -i on buckets/B/policy.json" sed -i 's/AWSCloudTrailAclCheck20150319/AclCheck/' $P
eq "the policy is edited" AclCheck "$(jq -r '.Statement[0].Sid' $P)"
eq "no temporary file in the bucket" policy.json "$(listing buckets/$bucket)"
refused "sed -i making the policy name another bucket fails" "Invalid argument" MalformedPolicy \
	"sed -i 's/$bucket/another-bucket/g' $P"
eq "the policy is unchanged" "arn:aws:s3:::$bucket/AWSLogs/$account/*" \
	"$(jq -r '.Statement[1].Resource' $P)"
check "sed -i that allows a prefix" sed -i "s#$bucket/AWSLogs/#$bucket/audit/AWSLogs/#" $P
check "so the trail can take it" bash -c "echo audit > $T/s3_key_prefix"
eq "s3_key_prefix is audit" audit "$(cat $T/s3_key_prefix)"

cd / || exit 1
done_testing
