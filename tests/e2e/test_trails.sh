#!/usr/bin/env bash
# Trails as directories: names (valid and invalid, table-driven), existing
# names, the five-trails quota, renames, deletes, directories and files that
# cannot be made, concurrent mkdir of one name, and the listing's order.
. "$(dirname "$0")/lib.sh"

tf_start || done_testing
cd "$MNT" || exit 1

n_errors() { wc -l < errors; }
n_buckets() { ls buckets | wc -l; }
listing() { ls -U trails | tr '\n' ' ' | sed 's/ $//'; }

long128=$(printf 'a%.0s' $(seq 128))
long129=b$long128

# ---- valid names: each is created, shows up, has its ARN, and goes again ----
account=$(jq -r .account "$STATE/registry.json")
for name in abc my-trail a.b_c-d "$long128" 1.2.3 Trail1 a1b 9-9 x_y.z; do
	short=${name:0:24}; [ ${#name} -gt 24 ] && short="$short... (${#name} chars)"
	check "valid name $short: mkdir succeeds" mkdir "trails/$name"
	eq "valid name $short: ls trails shows it" "$name" "$(listing)"
	eq "valid name $short: its arn names it" "arn:aws:cloudtrail:us-east-1:$account:trail/$name" \
		"$(cat "trails/$name/arn")"
	eq "valid name $short: config.json names it" "$name" "$(jq -r .Name "trails/$name/config.json")"
	check "valid name $short: rmdir deletes it" rmdir "trails/$name"
done
eq "no trails left after the valid names" "" "$(listing)"

# ---- invalid names: EINVAL, InvalidTrailNameException, nothing made ----
# name | a piece of the explanation /errors must give
invalid=(
	"ab|too short"
	"$long129|"
	"my--trail|\"--\""
	"my-_x|\"-_\""
	"a._b|"
	"-abc|start with a letter or digit"
	"abc-|"
	"_abc|"
	"abc.|"
	"192.168.5.4|IP address"
	"10.0.0.1|IP address"
	"a b|\" \""
	"a@b|\"@\""
	"tr/ail|"
	"tráil|"
)
buckets_before=$(n_buckets)
for row in "${invalid[@]}"; do
	name=${row%%|*} why=${row#*|}
	short=${name:0:24}; [ ${#name} -gt 24 ] && short="$short... (${#name} chars)"
	if [[ $name == */* ]]; then
		# A slash makes a path: the kernel looks up "tr" first.
		expect_fail "invalid name $short: refused" "No such file or directory" mkdir "trails/$name"
		continue
	fi
	before=$(n_errors)
	expect_fail "invalid name $short: mkdir fails with EINVAL" "Invalid argument" mkdir "trails/$name"
	eq "invalid name $short: one line more in /errors" $((before + 1)) "$(n_errors)"
	contains "invalid name $short: /errors says InvalidTrailNameException" \
		"mkdir /trails/$name InvalidTrailNameException: " "$(last_error)"
	[ -n "$why" ] && contains "invalid name $short: /errors explains ($why)" "$why" "$(last_error)"
done
eq "no invalid name made a trail" "" "$(listing)"
eq "no invalid name made a bucket" "$buckets_before" "$(n_buckets)"

# ---- an existing name ----
check "mkdir trails/main" mkdir trails/main
cfg_before=$(cat trails/main/config.json)
# The kernel knows the name already and answers EEXIST itself; the daemon
# (and so /errors) never sees the call.
expect_fail "mkdir of an existing trail fails with EEXIST" "File exists" mkdir trails/main
eq "the existing trail is unchanged" "$cfg_before" "$(cat trails/main/config.json)"

# ---- the quota: five trails per home region ----
for t in tr2 tr3 tr4 tr5; do check "mkdir trails/$t (trail ${t#tr} of 5)" mkdir "trails/$t"; done
eq "five trails" "main tr2 tr3 tr4 tr5" "$(listing)"
buckets_before=$(n_buckets)
expect_fail "a sixth trail fails with EDQUOT" "Disk quota exceeded" mkdir trails/tr6
contains "/errors says MaximumNumberOfTrailsExceededException" \
	"mkdir /trails/tr6 MaximumNumberOfTrailsExceededException: " "$(last_error)"
contains "/errors says how to make room" "rmdir" "$(last_error)"
eq "still five trails" "main tr2 tr3 tr4 tr5" "$(listing)"
eq "the refused trail made no bucket" "$buckets_before" "$(n_buckets)"
check "rmdir trails/tr3 makes room" rmdir trails/tr3
check "now the sixth name works" mkdir trails/tr6
eq "five trails again" "main tr2 tr4 tr5 tr6" "$(listing)"
expect_fail "and the quota holds again" "Disk quota exceeded" mkdir trails/tr7

# ---- renames ----
cfg_before=$(cat trails/main/config.json)
expect_fail "mv trails/main trails/audit fails with EPERM" "Operation not permitted" \
	mv trails/main trails/audit
contains "/errors says OperationNotPermittedException for the rename" \
	"rename /trails/main OperationNotPermittedException: " "$(last_error)"
contains "/errors says trails cannot be renamed" "cannot be renamed" "$(last_error)"
expect_fail "mv trails/main onto another trail fails with EPERM" "Operation not permitted" \
	mv -T trails/main trails/tr2
expect_fail "mv trails/main buckets/ fails with EPERM" "Operation not permitted" mv trails/main buckets/
contains "/errors says OperationNotPermittedException" \
	"rename /trails/main OperationNotPermittedException: " "$(last_error)"
expect_fail "mv trails/main trails/main.2 (python os.rename) fails with EPERM" "Operation not permitted" \
	python3 -c 'import os; os.rename("trails/main", "trails/main.2")'
eq "the trails are as they were" "main tr2 tr4 tr5 tr6" "$(listing)"
eq "main's configuration is unchanged" "$cfg_before" "$(cat trails/main/config.json)"
check "nothing called audit appeared" test ! -e trails/audit
check "nothing called main appeared in buckets" test ! -e buckets/main
expect_fail "a setting cannot be moved out of its trail" "Operation not permitted" \
	mv trails/main/tags trails/tr2/tags
contains "/errors says OperationNotPermittedException for it" \
	"rename /trails/main/tags OperationNotPermittedException: " "$(last_error)"

# ---- rmdir ----
expect_fail "rmdir of an unknown trail fails with ENOENT" "No such file or directory" rmdir trails/nosuch
expect_fail "rmdir of a setting fails with ENOTDIR" "Not a directory" rmdir trails/main/logging
expect_fail "rmdir trails is refused" "Operation not permitted" rmdir trails
contains "/errors says OperationNotPermittedException for rmdir trails" \
	"rmdir /trails OperationNotPermittedException: " "$(last_error)"
check "rmdir trails/tr6" rmdir trails/tr6
expect_fail "rmdir trails/tr6 a second time fails with ENOENT" "No such file or directory" rmdir trails/tr6

# ---- directories and files that cannot be made ----
before=$(n_errors)
expect_fail "mkdir inside a trail is refused" "Operation not permitted" mkdir trails/main/sub
contains "/errors says OperationNotPermittedException for it" \
	"mkdir /trails/main/sub OperationNotPermittedException: " "$(last_error)"
expect_fail "mkdir at the root is refused" "Operation not permitted" mkdir newdir
contains "/errors says OperationNotPermittedException for it" \
	"mkdir /newdir OperationNotPermittedException: " "$(last_error)"
expect_fail "mkdir of an existing setting's name fails with EEXIST" "File exists" mkdir trails/main/logging
expect_fail "touch trails/newfile is refused" "Operation not permitted" touch trails/newfile
contains "/errors says OperationNotPermittedException for it" \
	"create /trails/newfile OperationNotPermittedException: " "$(last_error)"
check "no file appeared" test ! -e trails/newfile
expect_fail "echo > newfile at the root is refused" "Operation not permitted" bash -c 'echo x > newfile'
contains "/errors says OperationNotPermittedException for it" \
	"create /newfile OperationNotPermittedException: " "$(last_error)"
expect_fail "a symlink in trails is refused" "Operation not permitted" ln -s main trails/link
contains "/errors says OperationNotPermittedException for it" \
	"symlink /trails/link OperationNotPermittedException: " "$(last_error)"
check "no link appeared" test ! -e trails/link
expect_fail "a hard link is refused" "Operation not permitted" ln trails/main/arn trails/main/arn2
expect_fail "a FIFO is refused" "Operation not permitted" mkfifo trails/main/fifo
eq "the root still lists only the tree" "buckets errors events keys public-keys trails" "$(ls | tr '\n' ' ' | sed 's/ $//')"
eq "trails lists only trails" "main tr2 tr4 tr5" "$(listing)"
eq "seven lines more in /errors for the refusals the daemon saw" $((before + 7)) "$(n_errors)"

# ---- settings cannot be removed ----
expect_fail "rm trails/main/logging fails with EPERM" "Operation not permitted" rm trails/main/logging
contains "/errors says OperationNotPermittedException for it" \
	"unlink /trails/main/logging OperationNotPermittedException: " "$(last_error)"
eq "logging is still on" on "$(cat trails/main/logging)"
expect_fail "rm -f trails/main/arn fails with EPERM" "Operation not permitted" rm -f trails/main/arn
expect_fail "rm errors fails with EPERM" "Operation not permitted" rm -f errors
expect_fail "rm -r of a trail removes nothing" "Operation not permitted" rm -rf trails/tr5
check "the trail survived rm -r" test -f trails/tr5/logging
eq "trails unchanged" "main tr2 tr4 tr5" "$(listing)"

# ---- concurrent mkdir of one name: exactly one wins ----
for t in tr2 tr4 tr5; do rmdir "trails/$t"; done
# race NAME...: one process per NAME runs mkdir trails/NAME, all at once.
# Process i leaves race.i.won when it succeeded and its stderr in race.i.err.
race() {
	local i=0 name pids=()
	rm -f "$TF_ROOT"/race.* "$TF_ROOT/go"
	for name in "$@"; do
		i=$((i + 1))
		(
			while [ ! -e "$TF_ROOT/go" ]; do sleep 0.005; done
			if mkdir "trails/$name" 2>"$TF_ROOT/race.$i.err"; then touch "$TF_ROOT/race.$i.won"; fi
		) &
		pids+=($!)
	done
	sleep 0.2
	touch "$TF_ROOT/go"
	wait "${pids[@]}"   # not a bare wait: the daemon is a child too
}
for round in 1 2 3; do
	race same same same same same same same same
	eq "round $round: of 8 concurrent mkdir trails/same exactly one succeeds" 1 \
		"$(ls "$TF_ROOT" | grep -c '^race\..*\.won$')"
	eq "round $round: the 7 others fail with EEXIST" 7 \
		"$(cat "$TF_ROOT"/race.*.err | grep -c 'File exists')"
	eq "round $round: ls shows it once" "main same" "$(listing)"
	eq "round $round: the registry holds it once" 1 \
		"$(jq '[.trails[] | select(.name == "same")] | length' "$STATE/registry.json")"
	check "round $round: rmdir it" rmdir trails/same
done

# Different names against the quota: with four trails free, 8 racers get 4.
race race1 race2 race3 race4 race5 race6 race7 race8
eq "of 8 concurrent mkdirs of new names with 4 places free, 4 succeed" 4 \
	"$(ls "$TF_ROOT" | grep -c '^race\..*\.won$')"
eq "the 4 others fail with EDQUOT" 4 "$(cat "$TF_ROOT"/race.*.err | grep -c 'Disk quota exceeded')"
eq "five trails in the listing" 5 "$(ls trails | wc -l)"
eq "five trails in the registry" 5 "$(jq '.trails | length' "$STATE/registry.json")"
for t in $(ls trails); do [ "$t" != main ] && rmdir "trails/$t"; done

# ---- the listing is sorted (bytewise), whatever the order of creation ----
for t in zeta Alpha 100 999; do mkdir "trails/$t"; done
eq "ls -U trails lists every trail, sorted" "$(printf '%s\n' main zeta Alpha 100 999 | LC_ALL=C sort | tr '\n' ' ' | sed 's/ $//')" \
	"$(listing)"
eq "find sees the same trails" "100 999 Alpha main zeta" \
	"$(find trails -mindepth 1 -maxdepth 1 -printf '%f\n' | LC_ALL=C sort | tr '\n' ' ' | sed 's/ $//')"
check "every listed trail is a directory" bash -c 'for t in trails/*; do test -d "$t" || exit 1; done'

cd / || exit 1
done_testing
