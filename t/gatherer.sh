#!/bin/bash
# t/gatherer.sh: the whole remote path.  One gatherer (tallyd -i 1), three
# demo nodes in remote mode (-g FURL) and one local-mode node writing
# straight into the gatherer's statsfile, all in one database.  Checks: the
# furl (printed, in BASEDIR/stats_gatherer.furl, mode 0600); every node in
# `nodes`, the remote ones with source "remote 127.0.0.1:PORT" and the local
# one "local"; the real munin-run shows a numeric value for each of the four
# nodes in a DERIVE counter graph, a stats graph and a built-in monitor's
# graph; a connect line per remote node in the gatherer's log; the
# gatherer's own stats (nickname tallyd) in the same database; counters of
# remote nodes growing round after round; disconnect lines when the nodes
# stop; a clean SIGTERM (exit 0) and an environment mdb_stat accepts.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"

require_cmd munin-run mdb_dump mdb_stat stat
require_built
require_tallyd
setup

BASE=$T/gatherer
start_gatherer "$BASE" -v
STATS=$BASE/stats

# ---- the furl -----------------------------------------------------------
# TLS by default: tally+tls://FINGERPRINT@HOST:PORT/SECRET.
[[ $GATHERER_FURL =~ ^tally(\+tls://[a-z2-7]{52}@|://)127\.0\.0\.1:([0-9]+)/[a-z2-7]{16,64}$ ]] ||
    fail "tallyd printed '$GATHERER_FURL', want tally+tls://FP@127.0.0.1:PORT/SECRET"
PORT=${BASH_REMATCH[2]}
[ "$PORT" -gt 0 ] || fail "the furl has port 0: $GATHERER_FURL"
FURLFILE=$BASE/stats_gatherer.furl
[ -f "$FURLFILE" ] || fail "no $FURLFILE"
[ "$(cat "$FURLFILE")" = "$GATHERER_FURL" ] ||
    fail "$FURLFILE holds '$(cat "$FURLFILE")', tallyd printed '$GATHERER_FURL'"
[ "$(wc -l <"$FURLFILE")" -eq 1 ] || fail "$FURLFILE is not one line"
mode=$(stat -c %a "$FURLFILE")
[ "$mode" = 600 ] || fail "$FURLFILE has mode $mode, want 600"
[ -d "$STATS" ] || fail "tallyd did not create its statsfile $STATS"
note "gatherer on port $PORT"

# ---- the nodes ----------------------------------------------------------
# Remote ids and nicknames: one starts with a digit, two have a space.
RIDS=(remote-1 remote-2 3rd-remote)
RNICKS=('remote one' remote-two '3rd remote')
LID=local-1
LNICK='local one'
for i in 0 1 2; do
	start_node "r$i" -g "$GATHERER_FURL" -n "${RIDS[$i]}" \
	    -N "${RNICKS[$i]}" -r 100
done
start_node l -s "$STATS" -n "$LID" -N "$LNICK" -i 0.2 -r 100
ALL=(r0 r1 r2 l gatherer)

all_in_nodes() {
	local id

	nodes_alive "${ALL[@]}"
	for id in "${RIDS[@]}" "$LID"; do
		db_has_node "$id" || return 1
	done
}
wait_for "the four nodes in the nodes database" all_in_nodes

# source: "remote 127.0.0.1:PORT" (the node's end, one per connection) for
# the remote nodes, "local" for the local one.
declare -A seen=()
for id in "${RIDS[@]}"; do
	src=$(node_field "$id" source) ||
	    fail "$id has no source field: $(db_get nodes "$id")"
	[[ $src =~ ^remote\ 127\.0\.0\.1:[1-9][0-9]*$ ]] ||
	    fail "$id: source='$src', want 'remote 127.0.0.1:PORT'"
	[ -z "${seen[$src]:-}" ] ||
	    fail "$id and ${seen[$src]} share source '$src'"
	seen[$src]=$id
done
src=$(node_field "$LID" source) || fail "$LID has no source field"
[ "$src" = local ] || fail "$LID: source='$src', want 'local'"
for i in 0 1 2; do
	nick=$(node_field "${RIDS[$i]}" nickname) ||
	    fail "${RIDS[$i]} has no nickname field"
	[ "$nick" = "${RNICKS[$i]}" ] ||
	    fail "${RIDS[$i]}: nickname='$nick', want '${RNICKS[$i]}'"
done

# ---- the gatherer's log: a connect line per remote node -----------------
all_connected() {
	local i

	for i in 0 1 2; do
		gatherer_connects "${RIDS[$i]}" "${RNICKS[$i]}" >/dev/null ||
		    return 1
	done
}
wait_for "a connect line per remote node in the gatherer's log" all_connected
for i in 0 1 2; do
	# The line names the node's address too, as in its source field.  (A
	# node may have connected twice: with -i 1 the default poll timeout is
	# 0.5 s, which a loaded machine can miss; the reconnect is then logged.)
	addr=$(node_field "${RIDS[$i]}" source) && addr=${addr#remote }
	lines=$(gatherer_connects "${RIDS[$i]}" "${RNICKS[$i]}")
	grep -qE "from $addr([^0-9]|\$)" <<<"$lines" ||
	    fail "no connect line of ${RIDS[$i]} names its address $addr: $lines"
	n=$(wc -l <<<"$lines")
	[ "$n" -eq 1 ] || note "${RIDS[$i]} connected $n times:" \
	    "$(grep -F -- "${RIDS[$i]}" "$GATHERER_LOG" | grep -iv snapshot)"
done
gatherer_connects "$LID" "$LNICK" all >/dev/null &&
    fail "the local node $LID appears in the gatherer's connect lines"

# ---- the gatherer's own stats, in the same database ---------------------
gatherer_counted() {
	local id v

	nodes_alive gatherer
	id=$(node_id_of tallyd) || return 1
	[ "$(printf '%s\n' "$id" | wc -l)" -eq 1 ] ||
	    fail "several nodes are nicknamed tallyd: $id"
	GID=$id
	v=$(counter_value "$GID" tallyd.snapshots) || return 1
	[ "$v" -gt 0 ]
}
wait_for "the gatherer's own stats (tallyd.snapshots > 0)" gatherer_counted
for id in "${RIDS[@]}" "$LID"; do
	[ "$GID" != "$id" ] || fail "the gatherer took node id $id"
done
note "the gatherer is node $GID ($(node_field "$GID" source)); its counters:" \
    "$(db_pairs counters | awk -F '\t' -v p="$GID/" \
	'index($1, p) == 1 { printf "%s=%s ", substr($1, length(p) + 1), $2 }')"

# ---- munin-run shows the four nodes -------------------------------------
munin_setup "$STATS"
GRAPHS='tahoe_storage_operations_get tahoe_storage_allocated tally_load_avg'
# shellcheck disable=SC2086
munin_link $GRAPHS

# field_of GRAPH ID: the field of node ID in GRAPH's config ("F.info node
# ID, source ..."); its label is the nickname.
field_of() {
	sed -n 's/^\([^.[:space:]]*\)\.info node '"$2"', source .*/\1/p' \
	    "$T/$1.config"
}

# four_numeric GRAPH: munin-run GRAPH gives a number for each demo node
# (the load monitor needs a second for its first sample; the gatherer's
# own node may read U in the storage graphs).
four_numeric() {
	local out=$T/$1.fetch f v id

	munin_run "$1" >"$out" 2>"$T/$1.fetch.err" || return 1
	for id in "${RIDS[@]}" "$LID"; do
		f=$(field_of "$1" "$id")
		v=$(fetch_pairs "$out" | awk -v f="$f" '$1 == f { print $2 }')
		is_number "$v" || return 1
	done
}

# config_fields_at_least GRAPH N: munin-run GRAPH config succeeds with at
# least N fields. A graph lists the nodes that have its stat, and a node has
# its load monitor's only after the first sample, a second after it starts.
config_fields_at_least() {
	munin_run "$1" config >"$T/$1.config" 2>"$T/$1.config.err" ||
	    return 1
	[ "$(config_fields "$T/$1.config" | wc -l)" -ge "$2" ]
}

for g in $GRAPHS; do
	# Four demo nodes, and the gatherer's own in the graph of a stat it
	# has (its load monitor): a graph lists the nodes that have its stat.
	nwant=4
	[ "$g" = tally_load_avg ] && nwant=5
	wait_for "$nwant fields in munin-run $g config" \
	    config_fields_at_least "$g" "$nwant"
	grep -q '^graph_title .' "$T/$g.config" ||
	    fail "$g config has no graph_title: $(cat "$T/$g.config")"
	nf=$(config_fields "$T/$g.config" | wc -l)
	[ "$(config_fields "$T/$g.config" | sort -u | wc -l)" -eq "$nf" ] ||
	    fail "$g config repeats a field: $(cat "$T/$g.config")"
	[ "$nf" -eq "$nwant" ] ||
	    fail "$g config has $nf fields, want $nwant: $(cat "$T/$g.config")"
	for i in 0 1 2 3; do
		if [ "$i" -lt 3 ]; then
			id=${RIDS[$i]} nick=${RNICKS[$i]} want='remote 127.0.0.1:'
		else
			id=$LID nick=$LNICK want=local
		fi
		f=$(field_of "$g" "$id")
		[[ -n $f && $f != *$'\n'* ]] ||
		    fail "$g config has no one field for node $id: $(cat "$T/$g.config")"
		[[ $f =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] ||
		    fail "$g: '$f' is not a valid munin field name"
		grep -qxF "$f.label $nick" "$T/$g.config" ||
		    fail "$g: $f is not labelled '$nick': $(cat "$T/$g.config")"
		grep -q "^$f\.info node $id, source $want" "$T/$g.config" ||
		    fail "$g: $f's info lacks source '$want': $(grep "^$f\." "$T/$g.config")"
	done
	wait_for "numeric values for the four nodes from munin-run $g" \
	    four_numeric "$g"
	note "$g: $(fetch_pairs "$T/$g.fetch" | tr '\n' ' ')"
done
g=tahoe_storage_operations_get
for f in $(config_fields "$T/$g.config"); do
	grep -q "^$f\.type DERIVE\$" "$T/$g.config" ||
	    fail "$g: $f is not DERIVE: $(cat "$T/$g.config")"
done

# ---- rounds: the remote nodes' counters grow ----------------------------
# Rounds 2 and 3: each remote node's snapshot gets newer and its
# storage_server.get grows (40 gets/s at -r 100); the gatherer counts the
# snapshots it received.
declare -A last_t=() last_c=()
snapshots_moved() {
	local v

	v=$(counter_value "$GID" tallyd.snapshots) && [ "$v" -gt "$gsnap" ]
}
for round in 2 3; do
	for id in "${RIDS[@]}"; do
		last_t[$id]=$(node_field "$id" time) || fail "$id: no time"
		last_c[$id]=$(counter_value "$id" storage_server.get) ||
		    last_c[$id]=0
	done
	gsnap=$(counter_value "$GID" tallyd.snapshots) ||
	    fail "no tallyd.snapshots"
	for id in "${RIDS[@]}"; do
		nodes_alive "${ALL[@]}"
		wait_landed "$id" "${last_t[$id]}" storage_server.get \
		    $((last_c[$id] + 1))
	done
	wait_for "tallyd.snapshots to grow past $gsnap (round $round)" \
	    snapshots_moved
done

# Histograms come over the wire as counters and stats (tally(5)): each
# remote node's get latencies, counted, their buckets adding up to the
# count, with an interval mean (a number, or nan for a poll without get).
# Count and buckets from one read transaction (one mdb_dump): the nodes
# go on writing.
for id in "${RIDS[@]}"; do
	h=storage_server.latencies.get
	read -r c b < <(db_pairs counters | awk -F '\t' \
	    -v k="$id/$h.count" -v p="$id/$h.bucket." '
		$1 == k { c = $2 }
		index($1, p) == 1 { s += $2 }
		END { print (c == "" ? "-" : c), s + 0 }')
	[ "$c" != - ] || fail "$id: no $h.count"
	[ "$c" -gt 0 ] || fail "$id: $h.count is $c"
	[ "$b" -eq "$c" ] || fail "$id: $h buckets add up to $b, count $c"
	m=$(db_get stats "$id/$h.mean") || fail "$id: no $h.mean"
	is_number "$m" || [ "$m" = nan ] || fail "$id: $h.mean is '$m'"
done

# -v: a log line per snapshot, naming the node (at least the three rounds
# waited for above).
for id in "${RIDS[@]}"; do
	n=$(gatherer_log_run | grep -F -- "$id" | grep -ciw snapshot)
	[ "$n" -ge 3 ] ||
	    fail "tallyd -v logged $n snapshot lines for $id, want >= 3"
done

# ---- stop: the nodes, then the gatherer ---------------------------------
for i in 0 1 2; do
	stop_node "r$i"
done
stop_node l
all_disconnected() {
	local id

	for id in "${RIDS[@]}"; do
		gatherer_disconnects "$id" >/dev/null || return 1
	done
}
wait_for "a disconnect line per remote node in the gatherer's log" \
    all_disconnected
stop_gatherer
mdb_stat -a "$STATS" >"$T/stat" 2>&1 || fail "mdb_stat -a: $(cat "$T/stat")"

# ---- the first poll comes right after the handshake ---------------------
# Restarted (after a clean stop) with an interval of an hour, the gatherer
# has the same furl, and a new node's first snapshot lands within the usual
# wait (seconds), not at the node's phase of the hour: a wait far longer
# than the handshake and poll ever take, and still far shorter than the
# interval.
start_gatherer "$BASE" -i 3600
[ "$GATHERER_FURL" = "$(cat "$FURLFILE")" ] ||
    fail "after a restart tallyd printed '$GATHERER_FURL', not its furl $(cat "$FURLFILE")"
t0=$(now_ms)
start_node late -g "$GATHERER_FURL" -n late-node -N late
wait_for "late-node's first snapshot, polled at once at -i 3600" \
    db_has_node late-node
note "late-node polled $(( $(now_ms) - t0 )) ms after its start, at -i 3600"
stop_node late
stop_gatherer

note "4 nodes (3 remote, 1 local) and the gatherer in one database"
exit 0
