#!/bin/bash
# t/damage.sh: a statsfile damaged under its live writers.  A local node
# (libtally in a host program) and tallyd, with a remote node connected,
# write one statsfile; the file is then damaged behind their backs, once
# by zeroing every page but LMDB's two meta pages, once by truncating it
# to three pages.  Both writers must stay alive, say once why they stop
# writing, and go on with their work: the host keeps counting and tallyd
# keeps polling its remote node.  Readers (tally check, tally show) refuse
# the file with a message and a status, never a signal.  Every wait has a
# deadline.  (A lock.mdb damaged under live writers is not tested here:
# LMDB may corrupt a writer's heap walking a bad reader table; see the
# README's known limits.)
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"

require_cmd mdb_stat
require_built
require_tallyd
setup

TALLY=$TALLY_BUILDDIR/tally
PSIZE=4096

# snapshots_from ID: how many snapshot lines tallyd logged for node ID.
snapshots_from() {
	gatherer_log_run | grep -F "node $1 " | grep -c ' snapshot '
}

# more_snapshots ID N: tallyd logged more than N snapshots of ID, and both
# writers are alive.
more_snapshots() {
	nodes_alive gatherer loc
	[ "$(snapshots_from "$1")" -gt "$2" ]
}

# said WHO FILE PATTERN: FILE holds PATTERN, and WHO is alive.
said() {
	nodes_alive "$1"
	grep -qE "$3" "$2"
}

# no_signal WHAT RC: a reader's exit status is a refusal, not a signal.
no_signal() {
	[ "$2" -ne 0 ] || fail "$1 accepted a damaged statsfile"
	[ "$2" -lt 128 ] || fail "$1 died of signal $(($2 - 128))"
}

# run_case NAME DAMAGE...: one statsfile, damaged by the command DAMAGE.
run_case() {
	local name=$1 base n rc pages t0

	shift
	note "case $name"
	base=$T/$name
	STATS=$base/stats
	mkdir -p "$STATS" || fail "mkdir $STATS"
	start_gatherer "$base" -v -s "$STATS"
	: >"$T/loc.err"
	start_node loc -s "$STATS" -n loc-node -c 2000 -i 0.05 -r 200
	start_node rem -g "$GATHERER_FURL" -n rem-node -r 200
	wait_landed loc-node 0
	wait_landed rem-node 0
	pages=$(( $(stat -c %s "$STATS/data.mdb") / PSIZE ))
	[ "$pages" -gt 8 ] || fail "$name: only $pages pages written"

	# Damage it while both write.
	"$@" "$STATS/data.mdb" "$pages" || fail "$name: damage failed"
	t0=$(snapshots_from rem-node)

	wait_for "the local node to say why it stops writing" \
	    said loc "$T/loc.err" 'flush failed: .*(damaged|truncated)'
	wait_for "tallyd to say why it stops writing" \
	    said gatherer "$GATHERER_LOG" 'failed: .*(damaged|truncated)'
	# Once, not at every flush (the node flushes every 50 ms).
	n=$(grep -cE 'flush failed: ' "$T/loc.err")
	# tallyd's own stats, written through libtally, also fail.
	wait_for "tallyd to poll its remote node after the damage" \
	    more_snapshots rem-node "$((t0 + 2))"
	[ "$(grep -cE 'flush failed: ' "$T/loc.err")" -eq "$n" ] ||
	    fail "$name: the local node logged its failure more than once"
	[ "$n" -eq 1 ] ||
	    fail "$name: the local node logged $n failures, not one"
	n=$(gatherer_log_run | grep -cE 'commit of .* failed: ')
	[ "$n" -le 1 ] || fail "$name: tallyd logged $n failed commits"

	# Readers refuse the file with a message.
	"$TALLY" -s "$STATS" check >"$T/check.out" 2>&1
	rc=$?
	no_signal "tally check" "$rc"
	grep -qiE 'damaged|truncated|corrupt' "$T/check.out" ||
	    fail "$name: tally check said: $(head -c 300 "$T/check.out")"
	# check does not send its reader back to check.
	! grep -q 'check it with tally check' "$T/check.out" ||
	    fail "$name: tally check advised tally check:" \
	    "$(head -c 300 "$T/check.out")"
	"$TALLY" -s "$STATS" show >"$T/show.out" 2>&1
	no_signal "tally show" "$?"

	# Both writers end cleanly, without a signal.
	kill -TERM "${NODE_PID[loc]}"
	wait_for "the local node to stop" node_gone loc
	wait "${NODE_PID[loc]}"
	rc=$?
	unset "NODE_PID[loc]"
	[ "$rc" -lt 128 ] || fail "$name: local node died of signal $((rc - 128))"
	kill -TERM "$GATHERER_PID"
	wait_for "tallyd to stop" node_gone gatherer
	wait "$GATHERER_PID"
	rc=$?
	unset "NODE_PID[gatherer]"
	[ "$rc" -lt 128 ] || fail "$name: tallyd died of signal $((rc - 128))"
	kill -TERM "${NODE_PID[rem]}"
	wait_for "the remote node to stop" node_gone rem
	unset "NODE_PID[rem]"
	note "case $name: both writers stayed up and said so once"
}

# zero FILE PAGES: every page but the two meta pages becomes zeros.
zero() {
	dd if=/dev/zero of="$1" bs=$PSIZE seek=2 count=$(($2 - 2)) \
	    conv=notrunc status=none
}

# cut FILE PAGES: the file keeps its first three pages.
cut() {
	truncate -s $((3 * PSIZE)) "$1"
}

run_case zeroed zero
run_case truncated cut

exit 0
