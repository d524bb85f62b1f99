# The end-to-end harness, sourced by every tests/e2e/test_*.sh.
#
# Mounts the real filesystem in a private temporary directory with the daemon
# in the foreground, always unmounts (also when a test dies), fails on
# unexpected daemon stderr, and can restart on the same state or kill -9.
# Output is TAP.  Needs $TRAILFS (the daemon binary); skips (exit 77) only
# when the machine has no FUSE.
#
#   tf_start [-o OPTS]...   start the daemon on $MNT with state $STATE
#   tf_stop                 unmount cleanly; the daemon must exit 0
#   tf_restart [...]        tf_stop, then tf_start with the same state
#   tf_kill9                SIGKILL the daemon and clear the dead mount
#   tf_refuses DESC TEXT MNT [ARG]...   a daemon that must refuse to start
#   tf_second_user, as_user CMD...      a real second user, and running as it
#   ok/not_ok/check/expect_fail/eq/contains   TAP assertions
#   done_testing            print the plan and exit

set -u
: "${TRAILFS:?TRAILFS must name the trailfs binary}"

if [ ! -c /dev/fuse ] || ! command -v fusermount3 >/dev/null; then
	echo "1..0 # SKIP no FUSE on this machine"
	exit 77
fi

TF_ROOT=$(mktemp -d /tmp/trailfs-e2e.XXXXXX)
chmod 755 "$TF_ROOT"     # other users must be able to reach the mount point
MNT=$TF_ROOT/mnt
STATE=$TF_ROOT/state
TF_ERR=$TF_ROOT/daemon.stderr
TF_OUT=$TF_ROOT/out
TF_PID=
TF_ARGS=()
TF_N=0
TF_FAILED=0
mkdir -p "$MNT"
: > "$TF_ERR"

tf_cleanup() {
	if [ -n "$TF_PID" ] && kill -0 "$TF_PID" 2>/dev/null; then
		fusermount3 -u "$MNT" 2>/dev/null || fusermount3 -uz "$MNT" 2>/dev/null
		sleep 0.2
		kill -9 "$TF_PID" 2>/dev/null
	fi
	mountpoint -q "$MNT" 2>/dev/null && fusermount3 -uz "$MNT" 2>/dev/null
	rm -rf "$TF_ROOT"
}
trap tf_cleanup EXIT

ok() { TF_N=$((TF_N + 1)); echo "ok $TF_N - $*"; }
not_ok() { TF_N=$((TF_N + 1)); TF_FAILED=$((TF_FAILED + 1)); echo "not ok $TF_N - $*"; }
diag() { sed 's/^/# /' <<<"$*"; }

# check DESC CMD...: CMD must succeed.
check() {
	local desc=$1; shift
	if "$@" >"$TF_OUT" 2>&1; then ok "$desc"; else not_ok "$desc"; diag "$(cat "$TF_OUT")"; fi
}

# expect_fail DESC TEXT CMD...: CMD must fail, with TEXT (e.g. "Invalid argument")
# in what it prints.
expect_fail() {
	local desc=$1 text=$2; shift 2
	if "$@" >"$TF_OUT" 2>&1; then
		not_ok "$desc (it succeeded)"
	elif grep -qF -- "$text" "$TF_OUT"; then
		ok "$desc"
	else
		not_ok "$desc (wanted \"$text\")"; diag "$(cat "$TF_OUT")"
	fi
}

# eq DESC EXPECTED ACTUAL
eq() {
	if [ "$2" == "$3" ]; then ok "$1"; else not_ok "$1"; diag "expected: $2"; diag "     got: $3"; fi
}

# contains DESC NEEDLE HAYSTACK
contains() {
	if grep -qF -- "$2" <<<"$3"; then ok "$1"; else not_ok "$1"; diag "wanted: $2"; diag "   got: $3"; fi
}

# tf_second_user: the multi-user tests' second real user, trailfs-test (made
# with useradd if missing, and kept for the other tests), in USER2 and uid2.
# Skips the test (exit 77) when no user can be made.  as_user CMD... runs
# CMD as that user with none of root's groups (setpriv would keep gid 0).
tf_second_user() {
	USER2=trailfs-test
	if ! id "$USER2" >/dev/null 2>&1; then
		useradd -M -s /usr/sbin/nologin "$USER2" || { echo "1..0 # SKIP cannot useradd $USER2"; exit 77; }
	fi
	uid2=$(id -u "$USER2")
}
as_user() { setpriv --reuid="$USER2" --regid="$USER2" --clear-groups -- "$@"; }

# The last line of /errors.
last_error() { tail -n 1 "$MNT/errors"; }

tf_start() {
	TF_ARGS=("$@")
	"$TRAILFS" "$MNT" -f -o "state=$STATE" "$@" 2>>"$TF_ERR" &
	TF_PID=$!
	local i
	for i in $(seq 200); do
		mountpoint -q "$MNT" && return 0
		kill -0 "$TF_PID" 2>/dev/null || break
		sleep 0.05
	done
	not_ok "daemon starts and mounts ($*)"
	diag "$(cat "$TF_ERR")"
	TF_PID=
	return 1
}

# Lines the daemon may print on stderr without failing the test.
TF_STDERR_OK=${TF_STDERR_OK:-'^$'}

tf_check_stderr() {
	local bad
	bad=$(grep -Ev -- "$TF_STDERR_OK" "$TF_ERR" || true)
	if [ -n "$bad" ]; then
		not_ok "daemon stderr has nothing unexpected"
		diag "$bad"
	fi
	: > "$TF_ERR"
}

tf_stop() {
	[ -n "$TF_PID" ] || return 0
	fusermount3 -u "$MNT" || fusermount3 -uz "$MNT"
	local rc=0
	wait "$TF_PID" || rc=$?
	TF_PID=
	if [ "$rc" -ne 0 ]; then
		not_ok "daemon exits 0 after unmount (exit $rc)"
		diag "$(cat "$TF_ERR")"
	fi
	tf_check_stderr
}

tf_restart() {
	tf_stop
	if [ $# -gt 0 ]; then tf_start "$@"; else tf_start "${TF_ARGS[@]}"; fi
}

# tf_refuses DESC TEXT MOUNTPOINT [ARG]...: a daemon started on MOUNTPOINT
# with state $STATE and ARGs must refuse to start: exit non-zero within 10 s,
# say TEXT on stderr, and leave MOUNTPOINT unmounted.  Its stderr stays in
# $TF_ROOT/refused.stderr.
tf_refuses() {
	local desc=$1 text=$2 mnt=$3; shift 3
	local err=$TF_ROOT/refused.stderr pid rc=0 i
	"$TRAILFS" "$mnt" -f -o "state=$STATE" "$@" >/dev/null 2>"$err" &
	pid=$!
	for i in $(seq 200); do
		kill -0 "$pid" 2>/dev/null || break
		mountpoint -q "$mnt" && break
		sleep 0.05
	done
	if mountpoint -q "$mnt"; then
		not_ok "$desc (it mounted)"
		fusermount3 -u "$mnt" 2>/dev/null || fusermount3 -uz "$mnt"
		wait "$pid"
		return 1
	fi
	if kill -0 "$pid" 2>/dev/null; then
		not_ok "$desc (still running after 10 s)"
		kill -9 "$pid"
		wait "$pid"
		return 1
	fi
	wait "$pid" || rc=$?
	if [ "$rc" -eq 0 ]; then
		not_ok "$desc (exit 0)"; diag "$(cat "$err")"
	elif ! grep -qF -- "$text" "$err"; then
		not_ok "$desc (wanted \"$text\" on stderr)"; diag "$(cat "$err")"
	else
		ok "$desc"
		return 0
	fi
	return 1
}

tf_kill9() {
	[ -n "$TF_PID" ] || return 0
	kill -9 "$TF_PID" 2>/dev/null
	wait "$TF_PID" 2>/dev/null
	TF_PID=
	fusermount3 -uz "$MNT" 2>/dev/null
	local i
	for i in $(seq 100); do mountpoint -q "$MNT" || break; sleep 0.05; done
	: > "$TF_ERR"   # a killed daemon's stderr is not judged
}

done_testing() {
	tf_stop
	echo "1..$TF_N"
	[ "$TF_FAILED" -eq 0 ]
	exit $?
}
