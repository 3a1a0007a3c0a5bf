#!/bin/bash
# t/storm.sh: a crash storm.  One gatherer (tallyd -i 1) on BASEDIR, 8
# remote demo nodes dialling it, 4 local demo nodes writing BASEDIR/stats
# directly (a flush every 50 ms, 200 extra counters each) and a reader
# (`tally export` stuck on a full pipe, so it always holds a read
# transaction) share one statsfile.  KILLS times, a seeded random victim
# (tallyd with twice the odds of another) is SIGKILLed at a seeded random
# moment and restarted at once: a node with the same id, tallyd on the same
# BASEDIR (the same furl: the nodes must reconnect by themselves), the
# reader with a new pipe.
#
# Throughout, a sampler reads the whole database in one read transaction
# (mdb_dump -a) as fast as it can and records, for every node, its counter
# (storage_server.get; tallyd.snapshots for the gatherer's own node), its
# demo.start_id (which the demo node draws at random at each start and
# puts in every snapshot, beside the counters), its node.uptime (for the
# messages), its time= and the cumulative count of its histogram of get
# latencies (storage_server.latencies.get.count).  Verified:
#   - no node's time= ever goes backwards, and no counter or histogram
#     count ever does, except
#     a remote node's in a snapshot of a new run (its start id changed): a
#     remote-only provider cannot read its slot, so it starts its counters
#     from 0.  Such resets are counted and reported, and never more than
#     the kills of that node (TALLY_STORM_STRICT=1 fails on them).  Uptime
#     cannot tell a new run: one killed right after its start and restarted
#     at once may show a larger uptime than its predecessor;
#   - every demo node's snapshot carries its start id; a node's start id
#     changes no more often than the node was killed, and one replaced never
#     comes back (an older run's snapshot written over a newer one's);
#   - every CHECK_EVERY kills and at the end: mdb_stat -e and -a pass,
#     `tally check` passes, every node is alive and writes a snapshot taken
#     after the check began, every demo node's slot holds all its 200 extra
#     counters (no partial snapshot), and the reader table (mdb_stat -r)
#     holds only live pids; mdb_stat -rr then clears 0 stale readers;
#   - after a victim that held a reader slot dies (always the reader, and
#     anyone killed inside a read transaction), its slot is stale until the
#     restarted victim opens the environment, and gone right after (LMDB's
#     mdb_reader_check, run by libtally at each open);
#   - a victim is still running when it is killed (it did not die by
#     itself);
#   - after every tallyd restart the furl is unchanged and the new tallyd
#     logs a connect line of every remote node within RECONNECT seconds;
#     a restarted remote node logs a new "connected" line as quickly;
#   - at the end every process stops cleanly on SIGTERM (exit 0), the final
#     flushes do not go backwards either, and the environment still passes.
#
# Environment: TALLY_STORM_KILLS (50), TALLY_STORM_SEED (4242),
# TALLY_STORM_DELAY_MS (the largest random delay before a kill, 250),
# TALLY_STORM_CHECK_EVERY (25), TALLY_STORM_BUDGET (seconds, 60 + 10 per
# kill, ten times what a loaded machine takes under ASan: a guard against
# a hang, not a figure), TALLY_STORM_STRICT (0),
# TALLY_TALLYD_ARGS (extra tallyd arguments, word-split), and lib.sh's.
# The furl is passed through opaquely (tally:// or tally+tls://).
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"

require_cmd mdb_dump mdb_stat
require_built
require_tallyd
TALLY=$TALLY_BUILDDIR/tally
[ -x "$TALLY" ] || fail "$TALLY not built (run make first)"
setup

KILLS=${TALLY_STORM_KILLS:-50}
SEED=${TALLY_STORM_SEED:-4242}
DELAY_MS=${TALLY_STORM_DELAY_MS:-250}
CHECK_EVERY=${TALLY_STORM_CHECK_EVERY:-25}
BUDGET=${TALLY_STORM_BUDGET:-$((60 + 10 * KILLS))}
STRICT=${TALLY_STORM_STRICT:-0}
read -r -a TALLYD_ARGS <<<"${TALLY_TALLYD_ARGS:-}"
RECONNECT=30	# seconds remote nodes may take to come back after a restart
NLOCAL=4
NREMOTE=8
EXTRA=200	# extra counters per demo node
RATE=200	# simulated operations per second per demo node
RANDOM=$SEED
note "seed $SEED (TALLY_STORM_SEED), $KILLS kills, delay 0-$DELAY_MS ms," \
    "checks every $CHECK_EVERY kills"

BASE=$T/gatherer
STATS=$BASE/stats
FURLFILE=$BASE/stats_gatherer.furl
SAMPLES=$T/samples	# the sampler's records, one line per sample
SAMPLER_STOP=$T/sampler.stop
MAIN_PID=$$

# A pause that forks nothing (pacing, not synchronisation).
if { exec {nap_fd}<> <(:); } 2>/dev/null; then
	nap() { read -r -t "$1" -u "$nap_fd" _; }
else
	nap() { sleep "$1"; }
fi

# ---- the gatherer -------------------------------------------------------

# lib.sh's start_gatherer on the storm's BASEDIR (-l only on the first
# start, which writes FURLFILE), with the storm's extra tallyd arguments.
storm_start_gatherer() {
	start_gatherer "$BASE" "${TALLYD_ARGS[@]}"
}

# ---- the nodes -------------------------------------------------------------

LOCALS=() REMOTES=() NODES=()
for ((i = 0; i < NLOCAL; i++)); do
	LOCALS+=("l$i")
done
for ((i = 0; i < NREMOTE; i++)); do
	REMOTES+=("r$i")
done
NODES=("${LOCALS[@]}" "${REMOTES[@]}")

# The node id of a process name: l3 -> local-3, r5 -> remote-5.
node_id() {
	case $1 in
	l*)	echo "local-${1#l}" ;;
	r*)	echo "remote-${1#r}" ;;
	esac
}

start_demo() {
	local n=$1 id

	id=$(node_id "$n")
	case $n in
	l*)	start_node "$n" -s "$STATS" -n "$id" -N "local ${n#l}" \
		    -i 0.05 -c "$EXTRA" -r "$RATE" ;;
	r*)	start_node "$n" -g "$FURL0" -n "$id" -N "remote ${n#r}" \
		    -c "$EXTRA" -r "$RATE" ;;
	esac
}

# connects NAME: how many times remote node NAME logged a connection (its
# stderr is appended to across restarts).
connects() {
	grep -c ': connected' "$T/$1.err" 2>/dev/null
}

# connected_since NAME COUNT: NAME connected more than COUNT times; fails
# the test at once if the gatherer or NAME died.  COUNT is read once the
# previous run of NAME is dead, so a new line is the new run's.
connected_since() {
	nodes_alive gatherer "$1"
	[ "$(connects "$1")" -gt "$2" ]
}

# reconnected NAME: the current run of tallyd logged a connect line of
# remote node NAME (its log since its start: nothing of a run before).  A
# node's own "connected" line would not do: a WELCOME that the killed
# tallyd sent just before its death may still be read after it.
reconnected() {
	nodes_alive gatherer "$1"
	gatherer_connects "$(node_id "$1")" "remote ${1#r}" >/dev/null
}

# ---- the reader --------------------------------------------------------

# `tally export` writes into a FIFO that this shell holds open but never
# reads: once the pipe is full it blocks inside its read transaction.  Each
# incarnation gets a fresh pipe (closing both ends discards the old data).
READER_FD=
start_reader() {
	rm -f "$T/reader.fifo"
	mkfifo "$T/reader.fifo" || fail "mkfifo"
	exec {READER_FD}<>"$T/reader.fifo"
	"$TALLY" -s "$STATS" export --openmetrics >"$T/reader.fifo" \
	    2>>"$T/reader.err" </dev/null &
	NODE_PID[reader]=$!
	wait_for "the reader to hold a reader slot" reader_holds_slot
}

reader_holds_slot() {
	nodes_alive reader
	reader_pids | grep -qx "${NODE_PID[reader]}"
}

kill_reader() {
	kill_node reader
	exec {READER_FD}>&-
	READER_FD=
}

# ---- the reader table --------------------------------------------------

# reader_pids: the pids in the environment's reader table, one a line;
# false if mdb_stat could not read it.  (mdb_stat -r exits 1 whenever the
# table is not empty: its status says nothing, its output does.)
reader_pids() {
	mdb_stat -r "$STATS" 2>&1 | awk '
		/^Reader Table Status$/ { ok = 1; next }
		ok && $1 ~ /^[0-9]+$/ && NF >= 3 { print $1 }
		END { exit !ok }'
}

# stale_cleared: mdb_stat -rr, which clears stale slots itself, cleared 0.
stale_cleared() {
	local out

	out=$(mdb_stat -rr "$STATS" 2>&1)
	printf '%s\n' "$out" | grep -q '^ *0 stale readers cleared' && return 0
	echo "$out"
	return 1
}

# stale_pids: the pids of the reader table whose process is gone; false
# if mdb_stat could not read the table.  A
# process that exits cleanly frees its slot before it is gone, so a pid
# seen dead and still in a table read after that is stale (one that was
# just exiting, such as the sampler's mdb_dump, is not).
stale_pids() {
	local p pids dead=()

	pids=$(reader_pids) || return 1
	for p in $pids; do
		kill -0 "$p" 2>/dev/null || dead+=("$p")
	done
	[ ${#dead[@]} -gt 0 ] || return 0
	pids=$(reader_pids) || return 1
	for p in "${dead[@]}"; do
		printf '%s\n' "$pids" | grep -qx "$p" && echo "$p"
	done
	return 0
}

# ---- the sampler -----------------------------------------------------------

# One sample: the whole database in one read transaction, as a line
#	S MS ID:COUNTER:START:UPTIME:TIME:HIST ... E
# (START is demo.start_id; HIST the cumulative count of the demo's
# histogram storage_server.latencies.get; the gatherer's own node as ID
# "tallyd", its counter tallyd.snapshots; "-" for a missing field), or
# "F MS message E"
# if mdb_dump failed.  The final E tells a whole line from one being
# written.
sample_once() {
	local ms out rc

	ms=$(now_ms)
	out=$(mdb_dump -p -a "$STATS" 2>&1)
	rc=$?
	if [ "$rc" -ne 0 ]; then
		printf 'F %s %s E\n' "$ms" "$(printf '%s' "$out" | tr '\n' ' ')"
		return
	fi
	printf '%s\n' "$out" | awk -v ms="$ms" \
	    -v hist=storage_server.latencies.get.count '
		/^database=/	{ db = substr($0, 10); next }
		/^HEADER=END$/	{ data = 1; havekey = 0; next }
		/^DATA=END$/	{ data = 0; next }
		!data		{ next }
		{
			line = substr($0, 2)
			if (!havekey) { key = line; havekey = 1; next }
			havekey = 0
			if (db == "nodes") {
				seen[key] = 1
				n = split(line, a, /\\0a/)
				for (i = 1; i <= n; i++) {
					if (a[i] ~ /^time=/)
						tm[key] = substr(a[i], 6)
					else if (a[i] == "nickname=tallyd")
						self[key] = 1
				}
			} else if (db == "counters") {
				s = index(key, "/")
				id = substr(key, 1, s - 1)
				name = substr(key, s + 1)
				if (name == "storage_server.get" ||
				    name == "tallyd.snapshots")
					ctr[id] = line
				else if (name == hist)
					hc[id] = line
			} else if (db == "stats") {
				s = index(key, "/")
				name = substr(key, s + 1)
				if (name == "node.uptime")
					up[substr(key, 1, s - 1)] = line
				else if (name == "demo.start_id")
					sid[substr(key, 1, s - 1)] = line
			}
		}
		END {
			out = "S " ms
			for (id in seen) {
				label = (id in self) ? "tallyd" : id
				if (id in self && nself++)
					label = "tallyd-dup-" id
				out = out " " label ":" \
				    ((id in ctr) ? ctr[id] : "-") ":" \
				    ((id in sid) ? sid[id] : "-") ":" \
				    ((id in up) ? up[id] : "-") ":" \
				    ((id in tm) ? tm[id] : "-") ":" \
				    ((id in hc) ? hc[id] : "-")
			}
			print out " E"
		}'
}

# The sampler runs in the background until SAMPLER_STOP exists (or this
# test's shell is gone).  Before the database exists there is no sample.
sampler() {
	while [ ! -e "$SAMPLER_STOP" ] && kill -0 "$MAIN_PID" 2>/dev/null; do
		if [ -e "$STATS/data.mdb" ]; then
			sample_once >>"$SAMPLES"
		fi
		nap 0.02
	done
}

# check_samples: read every whole sample so far; print a report on stdout
# (one "max ID VALUE SAMPLES RESETS STARTS" line per node, "samples N",
# "failures N") and every violation as a "VIOLATION ..." line.  A line
# without its final E is still being written, and is read next time.
#
# A node's counter may drop only in a remote node's snapshot whose start id
# differs from the one of the snapshot that held the higher value: that is
# a new run, from 0.  STARTS counts the changes of a demo node's start id.
check_samples() {
	awk -v strict="$STRICT" '
		$NF != "E" { next }
		$1 == "F" { failures++
			if (failures <= 5) print "VIOLATION mdb_dump failed at " \
			    $2 ": " $0
			next }
		$1 != "S" { next }
		{
			nsamples++
			for (f = 3; f < NF; f++) {
				split($f, a, ":")
				id = a[1]; c = a[2]; st = a[3]; u = a[4]; t = a[5]
				h = a[6]
				if (id ~ /^tallyd-dup-/) {
					print "VIOLATION two nodes nicknamed" \
					    " tallyd at " $2
					continue
				}
				count[id]++
				if (t != "-" && (id in lt) && t + 0 < lt[id] + 0)
					print "VIOLATION " id " time= went back" \
					    " from " lt[id] " to " t " at " $2
				if (t != "-") lt[id] = t
				demo = id ~ /^(local|remote)-/
				if (demo && st == "-")
					print "VIOLATION " id " snapshot without" \
					    " demo.start_id at " $2
				if (st != "-" && (id in ls) && st != ls[id]) {
					if ((id SUBSEP st) in gone)
						print "VIOLATION " id " start id " \
						    st " came back after " ls[id] \
						    " at " $2
					else
						starts[id]++
					gone[id, ls[id]] = 1
				}
				if (st != "-") ls[id] = st
				# A histogram count, as a counter: never back
				# but in a new run of a remote node.
				if (h != "-" && (id in lh) && h + 0 < lh[id] + 0 &&
				    !(id ~ /^remote-/ && st != "-" &&
				    lhs[id] != "-" && st != lhs[id]))
					print "VIOLATION " id " histogram count" \
					    " went back from " lh[id] " to " h \
					    " at " $2
				if (h != "-") {
					lh[id] = h; lhs[id] = st
				}
				if (c == "-") continue
				if (!(id in max) || c + 0 > max[id] + 0)
					max[id] = c
				if ((id in lc) && c + 0 < lc[id] + 0) {
					if (id ~ /^remote-/ && st != "-" &&
					    lcs[id] != "-" && st != lcs[id]) {
						resets[id]++
						if (strict)
							print "VIOLATION " id \
							    " counter reset" \
							    " from " lc[id] \
							    " to " c " at " $2
					} else
						print "VIOLATION " id \
						    " counter went back from " \
						    lc[id] " to " c " (start id " \
						    lcs[id] " -> " st ", uptime " \
						    lu[id] " -> " u ") at " $2
				}
				lc[id] = c; lcs[id] = st; lu[id] = u
			}
		}
		END {
			for (id in count)
				print "max " id " " (id in max ? max[id] : "-") \
				    " " count[id] " " resets[id] + 0 \
				    " " starts[id] + 0 " " (id in lh ? lh[id] : "-")
			print "samples " nsamples + 0
			print "failures " failures + 0
		}' "$SAMPLES"
}

# verify_samples WHEN: fail on any violation so far.
verify_samples() {
	local r

	r=$(check_samples)
	if printf '%s\n' "$r" | grep -q '^VIOLATION'; then
		printf '%s\n' "$r" | grep '^VIOLATION' | head -n 20 >&2
		fail "$1: the samples show violations (above)"
	fi
	SAMPLE_REPORT=$r
}

# ---- checks ------------------------------------------------------------

# writing_since SECOND: every node (and the gatherer's own) has written a
# snapshot taken after SECOND.  Progress since a moment, not a window of
# recent writes: a node at a high load under ASan may flush far less
# often than every 50 ms, but it does flush.
writing_since() {
	local n id

	nodes_alive "${NODES[@]}" gatherer reader
	for n in "${NODES[@]}"; do
		id=$(node_id "$n")
		node_newer "$id" "$1" || return 1
	done
	node_newer "$GID" "$1"
}

# full_check WHEN: the environment is sound, everyone is writing, and no
# dead process holds a reader slot.
full_check() {
	local out stale since

	since=$(date +%s)
	mdb_stat -e "$STATS" >"$T/stat" 2>&1 ||
	    fail "$1: mdb_stat -e: $(cat "$T/stat")"
	mdb_stat -a "$STATS" >"$T/stat" 2>&1 ||
	    fail "$1: mdb_stat -a: $(cat "$T/stat")"
	"$TALLY" -s "$STATS" check >"$T/check" 2>&1 ||
	    fail "$1: tally check: $(cat "$T/check")"
	wait_for "$1: every node writing (a snapshot with time > $since)" \
	    writing_since "$since"
	# Whole snapshots: every demo node's slot holds all its extra
	# counters (bumped every 10 ms, so written from the first snapshot).
	out=$(db_pairs counters | awk -F '\t' -v want="$EXTRA" '
		$1 ~ /^(local|remote)-[0-9]+\/demo\.extra\./ {
			id = substr($1, 1, index($1, "/") - 1)
			if (!(id in n)) nodes++
			n[id]++ }
		END { for (id in n) if (n[id] != want)
			print id ": " n[id] " of " want " extra counters"
		      print nodes + 0 " nodes" }')
	[ "$out" = "$(( NLOCAL + NREMOTE )) nodes" ] ||
	    fail "$1: partial slots: $out"
	stale=$(stale_pids) || fail "$1: mdb_stat -r $STATS failed"
	[ -z "$stale" ] ||
	    fail "$1: dead pids hold reader slots: $(echo $stale)"
	out=$(stale_cleared) || fail "$1: mdb_stat -rr: $out"
	verify_samples "$1"
	CHECKS=$((CHECKS + 1))
}

# ---- setup -------------------------------------------------------------

START_MS=$(now_ms)
storm_start_gatherer
FURL0=$GATHERER_FURL
[ "$(cat "$FURLFILE")" = "$FURL0" ] ||
    fail "$FURLFILE holds '$(cat "$FURLFILE")', tallyd printed '$FURL0'"
cp -p "$FURLFILE" "$T/furl.orig"
note "furl scheme ${FURL0%%://*}://"

for n in "${NODES[@]}"; do
	start_demo "$n"
done
for n in "${LOCALS[@]}"; do
	wait_landed "$(node_id "$n")" 0 storage_server.get 1
done
for n in "${REMOTES[@]}"; do
	wait_landed -t "$RECONNECT" "$(node_id "$n")" 0 storage_server.get 1
done
gatherer_self() {
	GID=$(node_id_of tallyd) && [ "$(printf '%s\n' "$GID" | wc -l)" -eq 1 ]
}
wait_for "the gatherer's own node" gatherer_self
GID0=$GID
start_reader

: >"$SAMPLES"
sampler &
NODE_PID[sampler]=$!

declare -A KILLED=()
CHECKS=0 STALE_SEEN=0 STALE_CLEANED=0 RESTARTS=0
SAMPLE_REPORT=
# tallyd twice: its kills hit all 8 remote nodes at once and matter most.
VICTIMS=("${NODES[@]}" gatherer gatherer reader)
wait_for "the first samples" test -s "$SAMPLES"
full_check "before the storm"

# ---- the storm -----------------------------------------------------------

for ((k = 1; k <= KILLS; k++)); do
	[ "$SECONDS" -lt "$BUDGET" ] ||
	    fail "over the ${BUDGET}s budget after $((k - 1)) kills"
	v=${VICTIMS[RANDOM % ${#VICTIMS[@]}]}
	d=$((RANDOM % (DELAY_MS + 1)))
	nap "$(printf '%d.%03d' $((d / 1000)) $((d % 1000)))"
	victim_pid=${NODE_PID[$v]}

	case $v in
	gatherer)	kill_gatherer ;;
	reader)		kill_reader ;;
	*)		kill_node "$v" ;;
	esac
	KILLED[$v]=$(( ${KILLED[$v]:-0} + 1 ))
	# A remote victim's connect lines, counted once it is dead: a line
	# counted later is its new run's.
	before=
	[[ $v == r* ]] && before=$(connects "$v")
	# Did the victim die holding a reader slot?  It is stale until the
	# restarted victim's open clears it (nothing else opens meanwhile).
	held=0
	if reader_pids | grep -qx "$victim_pid"; then
		held=1
		STALE_SEEN=$((STALE_SEEN + 1))
	fi

	case $v in
	gatherer)
		storm_start_gatherer
		[ "$GATHERER_FURL" = "$FURL0" ] ||
		    fail "kill $k: restarted tallyd printed '$GATHERER_FURL'"
		cmp -s "$FURLFILE" "$T/furl.orig" ||
		    fail "kill $k: $FURLFILE changed"
		for n in "${REMOTES[@]}"; do
			wait_for -t "$RECONNECT" \
			    "kill $k: $n to reconnect to tallyd" reconnected "$n"
		done
		;;
	reader)
		start_reader
		;;
	r*)
		start_demo "$v"
		wait_for -t "$RECONNECT" "kill $k: $v to connect" \
		    connected_since "$v" "$before"
		;;
	*)
		start_demo "$v"
		;;
	esac
	RESTARTS=$((RESTARTS + 1))
	if [ "$held" = 1 ]; then
		if [ "$v" = gatherer ] || [ "$v" = reader ] || [[ $v == l* ]]
		then
			reader_pids | grep -qx "$victim_pid" &&
			    fail "kill $k: $v's dead pid $victim_pid still" \
				"holds a reader slot after its restart opened" \
				"the environment"
			STALE_CLEANED=$((STALE_CLEANED + 1))
		fi
	fi
	if ((k % CHECK_EVERY == 0)) && ((k < KILLS)); then
		full_check "after kill $k"
		note "kill $k: checks pass ($(grep -c . "$SAMPLES") samples," \
		    "${SECONDS}s)"
	fi
done

# ---- the end -------------------------------------------------------------

full_check "after the storm"
[ "$GID" = "$GID0" ] || fail "the gatherer's node id changed: $GID0 -> $GID"
: >"$SAMPLER_STOP"
wait_for "the sampler to stop" node_gone sampler
wait "${NODE_PID[sampler]}" 2>/dev/null
unset "NODE_PID[sampler]"

# A last stale slot: the reader dies inside its transaction, and the next
# process to open the environment (here `tally check`) clears it.
victim_pid=${NODE_PID[reader]}
kill_reader
reader_pids | grep -qx "$victim_pid" ||
    fail "the reader ($victim_pid) died in a read transaction but left no slot"
STALE_SEEN=$((STALE_SEEN + 1))
"$TALLY" -s "$STATS" check >"$T/check" 2>&1 ||
    fail "tally check: $(cat "$T/check")"
reader_pids | grep -qx "$victim_pid" &&
    fail "tally check opened the environment, yet the dead reader" \
	"$victim_pid still holds its slot"
STALE_CLEANED=$((STALE_CLEANED + 1))

# Clean stops: the nodes, whose final flushes (and the remote nodes' last
# answers) are written, then tallyd.
for n in "${NODES[@]}"; do
	stop_node "$n"
done
stop_gatherer
sample_once >>"$SAMPLES"
verify_samples "after the clean stops"
mdb_stat -a "$STATS" >"$T/stat" 2>&1 ||
    fail "after the clean stops: mdb_stat -a: $(cat "$T/stat")"
"$TALLY" -s "$STATS" check >"$T/check" 2>&1 ||
    fail "after the clean stops: tally check: $(cat "$T/check")"
# Nobody has it open now: LMDB resets the table at the next open, so this
# only shows that the statsfile is left reusable.
[ -z "$(reader_pids)" ] ||
    fail "readers left after every process stopped: $(reader_pids | tr '\n' ' ')"
out=$(stale_cleared) || fail "after the clean stops: mdb_stat -rr: $out"

# ---- the summary -----------------------------------------------------------

ELAPSED_MS=$(( $(now_ms) - START_MS ))
SAMPLES_N=$(printf '%s\n' "$SAMPLE_REPORT" | awk '$1 == "samples" { print $2 }')
kills_of() {
	local v n=0

	for v; do
		n=$((n + ${KILLED[$v]:-0}))
	done
	echo "$n"
}
note "summary: seed $SEED; $KILLS kills (local $(kills_of "${LOCALS[@]}")," \
    "remote $(kills_of "${REMOTES[@]}"), tallyd ${KILLED[gatherer]:-0}," \
    "reader ${KILLED[reader]:-0}), $RESTARTS restarts, $CHECKS full checks," \
    "$SAMPLES_N samples, stale reader slots seen $STALE_SEEN and cleaned" \
    "$STALE_CLEANED, $((ELAPSED_MS / 1000)).$(printf '%03d' $((ELAPSED_MS % 1000)))s"
resets_total=0
for n in "${NODES[@]}" tallyd; do
	id=$n
	[ "$n" = tallyd ] || id=$(node_id "$n")
	line=$(printf '%s\n' "$SAMPLE_REPORT" | awk -v id="$id" '
		$1 == "max" && $2 == id { print $3, $4, $5, $6, $7 }')
	read -r mx cnt resets starts hist <<<"$line"
	[ -n "${mx:-}" ] || fail "no samples of $id"
	if [ "$n" = tallyd ]; then
		what="tallyd.snapshots" kills=${KILLED[gatherer]:-0}
	else
		what="storage_server.get" kills=${KILLED[$n]:-0}
	fi
	note "  $(printf '%-9s %-18s max %8s  kills %3s  samples %5s  resets %s  restarts seen %s  get latencies %s' \
	    "$id" "$what" "$mx" "$kills" "$cnt" "$resets" "$starts" "$hist")"
	# Every demo node's histogram was sampled, and never went back.
	[ "$n" = tallyd ] || [ "${hist:--}" != - ] ||
	    fail "$id: no storage_server.latencies.get.count in any sample"
	[ "$resets" -le "$kills" ] ||
	    fail "$id: $resets counter resets but only $kills kills"
	[ "$starts" -le "$kills" ] ||
	    fail "$id: its start id changed $starts times, but it was" \
		"killed $kills times"
	resets_total=$((resets_total + resets))
done
if [ "$resets_total" -gt 0 ]; then
	note "remote counter resets: $resets_total, each in a snapshot of a" \
	    "new run of that remote node (a new start id: a remote-only" \
	    "provider starts its counters from 0; TALLY_STORM_STRICT=1 makes" \
	    "this a failure)"
fi
exit 0
