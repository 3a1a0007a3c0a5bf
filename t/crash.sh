#!/bin/bash
# t/crash.sh: SIGKILL a busy node (5000 extra counters, a flush every 20 ms)
# at random moments, ten times.  After each kill the environment passes
# mdb_stat -e and -a, the snapshot is whole (all 5000 extra counters), and
# a counter never goes backwards: the restarted node resumes it from its
# slot.  Seeded (RANDOM=42); every wait has a deadline, and the whole run
# a budget ten times what it takes under ASan on a loaded machine.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"

require_cmd mdb_dump mdb_stat
require_built
setup

RANDOM=42
KILLS=${TALLY_CRASH_KILLS:-10}
EXTRA=5000
ID=crash-node
BUDGET=$((20 + 10 * KILLS))	# seconds for the whole test: a guard, not a figure

# get_count: the node's storage_server.get, 0 before its first flush; false
# if the database cannot be read.
get_count() {
	local v rc

	v=$(db_get counters "$ID/storage_server.get")
	rc=$?
	case $rc in
	0)	echo "$v" ;;
	1)	echo 0 ;;
	*)	[ "$last" -eq 0 ] && echo 0 || return 1 ;;
	esac
}

# The counter moved since $last: a flush of this run has landed (each flush
# brings new gets at 500 operations per second).  A node that died fails
# the wait at once.
counter_moved() {
	local v

	nodes_alive n
	v=$(get_count) && [ "$v" != "$last" ]
}

# check_env WHEN: the environment is sound and the counter did not go back.
check_env() {
	local v n

	mdb_stat -e "$STATS" >"$T/stat" 2>&1 ||
	    fail "$1: mdb_stat -e: $(cat "$T/stat")"
	mdb_stat -a "$STATS" >"$T/stat" 2>&1 ||
	    fail "$1: mdb_stat -a: $(cat "$T/stat")"
	v=$(get_count) || fail "$1: mdb_dump -s counters failed"
	[[ $v =~ ^[0-9]+$ ]] || fail "$1: storage_server.get = '$v'"
	[ "$v" -ge "$last" ] ||
	    fail "$1: storage_server.get went back from $last to $v"
	n=$(db_pairs counters | grep -c "^$ID/demo\.extra\.")
	# Every snapshot holds all the extra counters (they exist from before
	# start): fewer would be a torn or partial write.
	[ "$n" -eq "$EXTRA" ] ||
	    fail "$1: $n of $EXTRA extra counters in the database"
	last=$v
}

last=0
for i in $(seq "$KILLS"); do
	[ "$SECONDS" -lt "$BUDGET" ] || fail "over budget after $((i - 1)) kills"
	start_node n -s "$STATS" -n "$ID" -c "$EXTRA" -i 0.02 -r 500
	# At least one flush of this run, which resumed from the last one.
	wait_for "a flush after restart $i" counter_moved
	check_env "after restart $i"
	# Then die at a random moment, most likely in the middle of a commit.
	sleep "$(printf '0.%03d' $((RANDOM % 300)))"
	kill_node n
	check_env "after kill $i"
done

# A last, clean run: it resumes, flushes, and stops with a final flush.
start_node n -s "$STATS" -n "$ID" -c "$EXTRA" -i 0.02 -r 500
wait_for "a flush after the last restart" counter_moved
stop_node n
check_env "after a clean stop"
note "$KILLS kills in ${SECONDS}s; storage_server.get reached $last"
exit 0
