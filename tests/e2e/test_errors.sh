#!/usr/bin/env bash
# /errors: one line per rejected operation, newest last, in the form
# "ISO-TIME uid=UID OP PATH ExceptionName: message"; the last 1,000 kept,
# across restarts; read-only.
. "$(dirname "$0")/lib.sh"

CLOCK=$TF_ROOT/clock
echo 1800000000 > "$CLOCK"             # 2027-01-15T08:00:00Z
tf_start -o "test_clock=$CLOCK" || done_testing
cd "$MNT" || exit 1

T=trails/main
n_errors() { wc -l < errors; }
LINE='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z uid=[0-9]+ [a-z]+ /[^ ]* [A-Za-z0-9]+: .+$'

eq "/errors is empty at first" "" "$(cat errors)"
eq "the root lists it" "buckets errors events keys public-keys trails" "$(ls | tr '\n' ' ' | sed 's/ $//')"
eq "it is a read-only file" "-r--r--r--" "$(stat -c %A errors)"
check "mkdir trails/main" mkdir "$T"
eq "a success leaves nothing" 0 "$(n_errors)"

# ---- one line per rejection, in the documented form ----
expect_fail "mkdir trails/a--b is refused" "Invalid argument" mkdir trails/a--b
eq "one line" 1 "$(n_errors)"
eq "time, uid, operation, path, AWS error name, message" \
	'2027-01-15T08:00:00Z uid=0 mkdir /trails/a--b InvalidTrailNameException: trail names may not contain two punctuation characters in a row ("--"); use letters, digits, '"'"'.'"'"', '"'"'_'"'"' or '"'"'-'"'"' with a letter or digit between punctuation' \
	"$(last_error)"

echo 1800000060 > "$CLOCK"
expect_fail "echo Sometimes > management_events is refused" "Invalid argument" \
	bash -c "echo Sometimes > $T/management_events"
expect_fail "echo x > arn is refused" "Operation not permitted" bash -c "echo x > $T/arn"
expect_fail "mv of a setting is refused" "Operation not permitted" \
	mv $T/logging $T/log
expect_fail "sed -i to a bad value is refused" "Invalid argument" \
	sed -i 's/yes/maybe/' $T/multi_region
expect_fail "a bad bucket is refused" "Invalid argument" mkdir buckets/Bad
expect_fail "a bad policy is refused" "Invalid argument" \
	bash -c "echo '{}' > buckets/$(cat $T/s3_bucket)/policy.json"
expect_fail "rm errors is refused" "Operation not permitted" rm -f errors
python3 - "$T/management_events" <<'EOF'
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY)
os.write(fd, b"Wri")
try:
    os.close(fd)
except OSError:
    pass
EOF
eq "one line for each of the nine rejections" 9 "$(n_errors)"
eq "every line has the form" 9 "$(grep -cE "$LINE" errors)"
eq "newest last: the operations in order" "mkdir write open rename rename mkdir write unlink close" \
	"$(cut -d' ' -f3 errors | tr '\n' ' ' | sed 's/ $//')"
eq "the paths" "/trails/a--b /trails/main/management_events /trails/main/arn /trails/main/logging /trails/main/multi_region /buckets/Bad /buckets/$(cat $T/s3_bucket)/policy.json /errors /trails/main/management_events" \
	"$(cut -d' ' -f4 errors | tr '\n' ' ' | sed 's/ $//')"
eq "the AWS error names" "InvalidTrailNameException: InvalidEventSelectorsException: OperationNotPermittedException: OperationNotPermittedException: InvalidParameterException: InvalidBucketName: MalformedPolicy: OperationNotPermittedException: InvalidEventSelectorsException:" \
	"$(cut -d' ' -f5 errors | tr '\n' ' ' | sed 's/ $//')"
eq "the times follow the clock" "2027-01-15T08:01:00Z" "$(last_error | cut -d' ' -f1)"
eq "uid is the caller's" 9 "$(grep -c ' uid=0 ' errors)"
eq "the size ls shows is the size cat reads" "$(cat errors | wc -c)" "$(stat -c %s errors)"
eq "tail -n 1 gives the newest" "$(sed -n '$p' errors)" "$(tail -n 1 errors)"

# ---- read-only ----
before=$(cat errors)
expect_fail "echo x > errors is refused" "Operation not permitted" bash -c "echo x > errors"
expect_fail "echo x >> errors is refused" "Operation not permitted" bash -c "echo x >> errors"
expect_fail "truncate errors is refused" "Operation not permitted" truncate -s 0 errors
expect_fail "mv errors is refused" "Operation not permitted" mv errors errs
contains "the refusal itself is recorded" "open /errors OperationNotPermittedException" \
	"$(grep ' open /errors ' errors)"
eq "nothing written got in" "" "$(grep -x x errors)"
eq "what was there is still there" "$before" "$(head -n 9 errors)"

# ---- the last 1,000 ----
expect_fail "1010 refused mkdirs" "Invalid argument" mkdir trails/a--{1..1010}
eq "/errors keeps 1000 lines" 1000 "$(n_errors)"
eq "the newest is last" "mkdir /trails/a--1010" "$(last_error | cut -d' ' -f3,4)"
eq "the oldest kept is the 11th of the burst" "mkdir /trails/a--11" "$(head -n 1 errors | cut -d' ' -f3,4)"
eq "the first ten are gone" "" "$(grep -E ' /trails/a--([1-9]|10) ' errors)"
eq "and so is everything before them" "" "$(grep -v ' /trails/a--' errors)"
eq "every line still has the form" 1000 "$(grep -cE "$LINE" errors)"
expect_fail "one more" "Invalid argument" mkdir trails/b--c
eq "still 1000" 1000 "$(n_errors)"
eq "a--11 went out" "mkdir /trails/a--12" "$(head -n 1 errors | cut -d' ' -f3,4)"

# ---- across a restart ----
cat errors > "$TF_ROOT/errors.before"
cd / && tf_restart && cd "$MNT" || exit 1
eq "after a restart /errors is the same" "$(cat "$TF_ROOT/errors.before")" "$(cat errors)"
expect_fail "a new rejection after the restart" "Invalid argument" mkdir trails/c--d
eq "still 1000 lines" 1000 "$(n_errors)"
eq "it comes last" "mkdir /trails/c--d" "$(last_error | cut -d' ' -f3,4)"
eq "the oldest went out" "mkdir /trails/a--13" "$(head -n 1 errors | cut -d' ' -f3,4)"

cd / || exit 1
done_testing
