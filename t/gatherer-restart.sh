#!/bin/bash
# t/gatherer-restart.sh: SIGKILL the gatherer in the middle of a round and
# restart it; the providers reconnect by themselves and the next round
# lands.  One gatherer (tallyd -i 1) and three remote demo nodes, which are
# never restarted.  Each of KILLS cycles waits for a snapshot to land, then
# kills tallyd at a seeded random moment within the next second (with -i 1
# and polls spread over the interval, that is always inside a round); the
# environment then passes mdb_stat -e and -a; tallyd restarts on the same
# BASEDIR with the same furl (same port, same secret: the file is
# unchanged) and, within 30 s, every node's snapshot is newer than the
# restart, and its counters did not go backwards.  The gatherer's log shows
# each node connect in every run; each node's log shows its reconnects.  The
# gatherer's own node (nickname tallyd) keeps its id across restarts, and
# its tallyd.snapshots counter never goes backwards either.
# The nodes resume their TLS sessions after each restart: tallyd counts
# them (tallyd.tls_resumed, at least one run's three).
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"

require_cmd mdb_dump mdb_stat
require_built
require_tallyd
setup

RANDOM=${TALLY_RESTART_SEED:-17}
KILLS=${TALLY_RESTART_KILLS:-3}
RECONNECT=30	# seconds the nodes may take to come back after a restart

BASE=$T/gatherer
start_gatherer "$BASE"
STATS=$BASE/stats
FURLFILE=$BASE/stats_gatherer.furl
FURL0=$GATHERER_FURL
[ "$(cat "$FURLFILE")" = "$FURL0" ] ||
    fail "$FURLFILE holds '$(cat "$FURLFILE")', tallyd printed '$FURL0'"
cp -p "$FURLFILE" "$T/furl.orig"

IDS=(node-a node-b node-c)
NICKS=('node a' 'node b' 'node c')
ALL=()
for i in 0 1 2; do
	start_node "n$i" -g "$FURL0" -n "${IDS[$i]}" -N "${NICKS[$i]}" -r 200
	ALL+=("n$i")
done
declare -A PID0=()
for n in "${ALL[@]}"; do
	PID0[$n]=${NODE_PID[$n]}
done

# Every node landed with a counter that moved.
for id in "${IDS[@]}"; do
	wait_landed "$id" 0 storage_server.get 1
done

# The gatherer's own node: one, with its snapshots counted.
gatherer_node() {
	local ids

	ids=$(node_id_of tallyd) || return 1
	[ "$(printf '%s\n' "$ids" | wc -l)" -eq 1 ] ||
	    fail "several nodes are nicknamed tallyd: $(printf '%s\n' "$ids" | tr '\n' ' ')"
	GID=$ids
	counter_value "$GID" tallyd.snapshots >/dev/null
}
wait_for "the gatherer's own stats" gatherer_node
GID0=$GID

# The counters and times of every node now; a counter must never go below
# what was seen, in the database, at any earlier moment.
declare -A seen_c=()
record_counters() {
	local id v

	for id in "${IDS[@]}"; do
		v=$(counter_value "$id" storage_server.get) ||
		    fail "$1: no storage_server.get for $id"
		[ "$v" -ge "${seen_c[$id]:-0}" ] ||
		    fail "$1: $id's storage_server.get went back from ${seen_c[$id]} to $v"
		seen_c[$id]=$v
	done
	gatherer_node || fail "$1: the gatherer's own stats are gone"
	[ "$GID" = "$GID0" ] ||
	    fail "$1: the gatherer's node id changed from $GID0 to $GID"
	v=$(counter_value "$GID" tallyd.snapshots) ||
	    fail "$1: no tallyd.snapshots"
	[ "$v" -ge "${seen_c[tallyd]:-0}" ] ||
	    fail "$1: tallyd.snapshots went back from ${seen_c[tallyd]} to $v"
	seen_c[tallyd]=$v
}

# A new snapshot of any node has landed since the times in since[].
declare -A since=()
some_landed() {
	local id

	nodes_alive "${ALL[@]}" gatherer
	for id in "${IDS[@]}"; do
		node_newer "$id" "${since[$id]}" && return 0
	done
	return 1
}

# Every node's snapshot is newer than $restart, with counters >= seen_c.
all_back() {
	local id

	nodes_alive "${ALL[@]}" gatherer
	for id in "${IDS[@]}"; do
		node_landed "$id" "$restart" storage_server.get \
		    "${seen_c[$id]}" || return 1
	done
}

for k in $(seq "$KILLS"); do
	# The middle of a round: just after a snapshot landed, plus a random
	# fraction of the interval.
	for id in "${IDS[@]}"; do
		since[$id]=$(node_field "$id" time) || fail "$id: no time"
	done
	wait_for "a new snapshot before kill $k" some_landed
	record_counters "before kill $k"
	sleep "$(printf '0.%03d' $((RANDOM % 1000)))"
	kill_gatherer
	note "kill $k: tallyd SIGKILLed"

	mdb_stat -e "$STATS" >"$T/stat" 2>&1 ||
	    fail "after kill $k: mdb_stat -e: $(cat "$T/stat")"
	mdb_stat -a "$STATS" >"$T/stat" 2>&1 ||
	    fail "after kill $k: mdb_stat -a: $(cat "$T/stat")"
	record_counters "after kill $k"

	# Restart at once (a short downtime keeps the nodes' backoff short),
	# on the same BASEDIR: the same furl, port and secret.
	restart=$(date +%s)
	start_gatherer "$BASE"
	[ "$GATHERER_FURL" = "$FURL0" ] ||
	    fail "restart $k: tallyd printed '$GATHERER_FURL', first run '$FURL0'"
	cmp -s "$FURLFILE" "$T/furl.orig" ||
	    fail "restart $k: $FURLFILE changed: '$(cat "$FURLFILE")'"
	mode=$(stat -c %a "$FURLFILE")
	[ "$mode" = 600 ] || fail "restart $k: $FURLFILE has mode $mode"

	# The nodes, never restarted, come back by themselves.
	wait_for -t "$RECONNECT" \
	    "every node's snapshot newer than restart $k ($restart)" all_back
	record_counters "after restart $k"
	for i in 0 1 2; do
		[ "${NODE_PID[n$i]}" = "${PID0[n$i]}" ] ||
		    fail "node n$i was restarted"
		gatherer_connects "${IDS[$i]}" "${NICKS[$i]}" >/dev/null ||
		    fail "restart $k: no connect line for ${IDS[$i]} in the gatherer's log: $(gatherer_log_run)"
	done
	note "restart $k: every node back within $(( $(date +%s) - restart )) s"
done

# The gatherer's log: a connect line per node per run, KILLS + 1 runs.
for i in 0 1 2; do
	n=$(gatherer_connects "${IDS[$i]}" "${NICKS[$i]}" all | wc -l)
	[ "$n" -ge $((KILLS + 1)) ] ||
	    fail "${IDS[$i]}: $n connect lines over $((KILLS + 1)) runs of tallyd"
done
# Each node's own log tells its reconnects: a "connected" line per run
# (libtally logs "gatherer ADDR: connected, ...").
for n in "${ALL[@]}"; do
	c=$(grep -c ": connected" "$T/$n.err")
	[ "$c" -ge $((KILLS + 1)) ] ||
	    fail "$n logged $c connections, want $((KILLS + 1)): $(cat "$T/$n.err")"
done

# A clean end: one more round, then the nodes, then the gatherer.
for id in "${IDS[@]}"; do
	since[$id]=$(node_field "$id" time)
	wait_landed "$id" "${since[$id]}" storage_server.get "${seen_c[$id]}"
done
record_counters "at the end"
for n in "${ALL[@]}"; do
	stop_node "$n"
done
stop_gatherer
mdb_stat -a "$STATS" >"$T/stat" 2>&1 || fail "mdb_stat -a: $(cat "$T/stat")"
# The nodes resumed their TLS sessions (libtally keeps each one's last
# session, tallyd its ticket keys in BASEDIR): the last run, stopped
# cleanly, counted at least its three returning nodes.
resumed=$(counter_value "$GID" tallyd.tls_resumed) ||
    fail "no tallyd.tls_resumed in the gatherer's own stats"
[ "$resumed" -ge 3 ] ||
    fail "tallyd.tls_resumed is $resumed after $KILLS restarts: the nodes did not resume their sessions"
note "$KILLS kills and restarts in ${SECONDS}s; storage_server.get:" \
    "$(for id in "${IDS[@]}"; do printf '%s=%s ' "$id" "${seen_c[$id]}"; done)" \
    "tallyd.snapshots=${seen_c[tallyd]} tallyd.tls_resumed=$resumed"
exit 0
