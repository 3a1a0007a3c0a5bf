#!/bin/bash
# t/identity.sh: each remote node is known by its own key, and its counters
# survive its crashes.  One gatherer (tallyd -i 1, TLS) and a remote-only
# demo node:
#
# 1. The node counts, is killed with SIGKILL at a seeded random moment,
#    restarts with the same key, counts again, KILLS times: its counter
#    never goes backwards in the statsfile (the gatherer's WELCOME returns
#    the stored counters and the node resumes them), and its record binds
#    the same key fingerprint throughout.
# 2. A process with another key claims the node id: tallyd refuses it (its
#    log names the node id and both fingerprints), the claimant logs the
#    refusal, and nothing is written for it.
# 3. tally show prints the bound key; tally forget accepts the new key,
#    which the claimant, retrying by itself, then binds.
# 4. A second process with the node id of a live local node on the
#    gatherer's statsfile is refused: one live writer per node id.
# 5. Over plaintext (tallyd --plaintext on the same statsfile), a node id
#    bound to a key cannot be claimed; an unbound one still connects.
# Every wait has a deadline; nothing waits on a bare sleep.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"

require_cmd mdb_dump mdb_stat
require_built
require_tallyd
setup

RANDOM=${TALLY_IDENTITY_SEED:-23}
KILLS=${TALLY_IDENTITY_KILLS:-4}
ID=resume-node
TALLY=$TALLY_BUILDDIR/tally

BASE=$T/gatherer
start_gatherer "$BASE"
STATS=$BASE/stats
FURL=$GATHERER_FURL

# The node's storage_server.get as stored; 0 before its first snapshot.
get_count() {
	counter_value "$ID" storage_server.get || echo 0
}

# The first snapshot of a new run has landed: demo.start_id, drawn at
# random at each start, is no longer the last run's.  Its counter is then
# checked at once, before later snapshots could hide a reset.
new_run() {
	local id

	nodes_alive r
	id=$(db_get stats "$ID/demo.start_id") || return 1
	[ "$id" != "$RUN" ] || return 1
	RUN=$id
}

# A later snapshot of this run has landed: the counter moved past $last.
counter_moved() {
	local v

	nodes_alive r
	v=$(get_count)
	[[ $v =~ ^[0-9]+$ ]] && [ "$v" -gt "$last" ]
}

# check_back WHEN: the counter did not go back, and the key stayed.
check_back() {
	local v k

	v=$(get_count)
	[[ $v =~ ^[0-9]+$ ]] || fail "$1: storage_server.get = '$v'"
	[ "$v" -ge "$last" ] ||
	    fail "$1: storage_server.get went back from $last to $v"
	k=$(node_field "$ID" key) || fail "$1: no key= in $ID's record"
	[ -z "$KEY" ] || [ "$k" = "$KEY" ] ||
	    fail "$1: the bound key changed from $KEY to $k"
	KEY=$k
	last=$v
}

# ---- 1. crashes of a remote-only node ------------------------------------

last=0
KEY=
RUN=
for i in $(seq "$KILLS"); do
	start_node r -g "$FURL" -n "$ID" -r 500
	wait_for "the first snapshot after start $i" new_run
	check_back "after start $i"
	# A few polls, then die at a random moment between two of them.
	wait_for "another snapshot of run $i" counter_moved
	check_back "in run $i"
	sleep "$(printf '0.%03d' $((RANDOM % 900)))"
	kill_node r
	check_back "after kill $i"
done
[[ $KEY =~ ^[a-z2-7]{52}$ ]] || fail "key fingerprint '$KEY'"
[ "$(stat -c %a "$T/r.key")" = 600 ] ||
    fail "the node's key file has mode $(stat -c %a "$T/r.key"), want 600"
grep -q "resumed .* counters from the gatherer" "$T/r.err" ||
    fail "the node never said it resumed its counters: $(cat "$T/r.err")"

# ---- 2. another key claims the node id ---------------------------------

before=$(get_count)
start_node imp -g "$FURL" -n "$ID" -r 500
refused() {
	nodes_alive imp
	gatherer_log_run | grep -F "node $ID: key " |
	    grep -F "does not match the key $KEY bound to it" >/dev/null &&
	    grep -q "bound to another key" "$T/imp.err"
}
wait_for "tallyd to refuse the other key" refused
IMPKEY=$(gatherer_log_run | grep -F "node $ID: key " | tail -n 1 |
    sed -n 's/^.*node [^:]*: key \([a-z2-7]*\) from .*$/\1/p')
[[ $IMPKEY =~ ^[a-z2-7]{52}$ ]] && [ "$IMPKEY" != "$KEY" ] ||
    fail "the refusal names key '$IMPKEY': $(gatherer_log_run | tail -n 3)"
[ "$(node_field "$ID" key)" = "$KEY" ] || fail "the bound key was replaced"
[ "$(get_count)" = "$before" ] ||
    fail "a refused node's counter was written: $before -> $(get_count)"

# ---- 3. tally show, tally forget ----------------------------------------

"$TALLY" show -s "$STATS" "$ID" >"$T/show" 2>&1 || fail "tally show: $(cat "$T/show")"
grep -q "$KEY" "$T/show" || fail "tally show does not show the key: $(cat "$T/show")"
"$TALLY" forget -s "$STATS" "$ID" >"$T/forget" 2>&1 ||
    fail "tally forget: $(cat "$T/forget")"
grep -q "key forgotten" "$T/forget" || fail "tally forget said: $(cat "$T/forget")"
rebound() {
	nodes_alive imp
	[ "$(node_field "$ID" key)" = "$IMPKEY" ]
}
wait_for -t 90 "the new key to be bound after tally forget" rebound
v=$(get_count)
[ "$v" -ge "$before" ] ||
    fail "the accepted node's counter went back from $before to $v"
stop_node imp

# ---- 4. one live writer per node id ------------------------------------

start_node loc -s "$STATS" -n local-one -i 0.2
if run_demo -s "$STATS" -n local-one -d 1 >"$T/second.out" 2>"$T/second.err"
then
	fail "a second writer of local-one started: $(cat "$T/second.err")"
fi
grep -q "node local-one is being written by another live process" \
    "$T/second.err" || fail "the second writer said: $(cat "$T/second.err")"
# Remote: tallyd refuses the id a live local writer holds.
start_node rl -g "$FURL" -n local-one
locked() {
	nodes_alive rl
	grep -q "written by another live process" "$T/rl.err"
}
wait_for "tallyd to refuse a node id a local writer holds" locked
stop_node rl
stop_node loc
# The lock dies with its holder: the id is free again.
run_demo -s "$STATS" -n local-one -d 0.5 >"$T/third.out" 2>"$T/third.err" ||
    fail "local-one after its writer stopped: $(cat "$T/third.err")"

# ---- 5. plaintext cannot claim a bound id ------------------------------

stop_gatherer
PBASE=$T/plain
"$TALLYD" --plaintext -l 127.0.0.1:0 -i 1 -s "$STATS" "$PBASE" \
    >"$T/plain.out" 2>"$T/plain.err" </dev/null &
NODE_PID[plain]=$!
plain_ready() {
	nodes_alive plain
	grep -qE '^tally://' "$T/plain.out"
}
wait_for "the plaintext tallyd" plain_ready
PFURL=$(grep -m 1 -E '^tally://' "$T/plain.out")
start_node pc -g "$PFURL" -n "$ID"
plain_refused() {
	nodes_alive pc
	grep -q "is bound to key" "$T/pc.err"
}
wait_for "a plaintext claim of a bound id to be refused" plain_refused
[ "$(node_field "$ID" key)" = "$IMPKEY" ] || fail "plaintext changed the key"
start_node pu -g "$PFURL" -n plain-free
wait_landed plain-free 0
node_field plain-free key >/dev/null &&
    fail "a plaintext node got a key: $(node_field plain-free key)"
stop_node pc
stop_node pu
note "identity ok: $KILLS crashes, storage_server.get reached $last; key $KEY"
exit 0
