#!/bin/bash
# bench-gatherer.sh: the gatherer's figures for `make bench`, in t/bench's
# table format.  It prints figures and never passes or fails on them.  It
# exits non-zero only when a phase did not run as described, and then
# prints no figure for it: tallyd did not start or died, a round never
# completed, or a connection of the fleet was lost (the message names the
# phase, how many were lost, and tallyd's reasons).
#
# usage: bench-gatherer.sh TALLYD LOADGEN
#
# Each figure is measured twice in the same run, on the two transports:
# plaintext (tallyd --plaintext) and TLS 1.3 (tallyd's default; loadgen
# then pins the certificate as a provider does).
#
# 1. A round: tallyd on a fresh BASEDIR (-i 60), then loadgen with
#    BENCH_CONNECTIONS (1,000) connections x BENCH_METRICS (1,000) metrics;
#    the time from loadgen's start until every load node's slot is committed
#    (handshakes included), and tallyd's peak RSS.  The TLS round's time
#    against the plaintext round's: the target is at most 2x.  Rounds
#    alternate between the transports, BENCH_REPEAT (3) of each, and the
#    medians are compared, so that a neighbour's load falls on both.
# 2. The cost of an idle connection: tallyd's VmRSS after that round, the
#    connections idle until their next poll, less its VmRSS before any
#    connection; and again on a second tallyd whose nodes send 10 metrics,
#    which shows the per-connection overhead without 1,000-metric buffers.
# 3. A steady round: tallyd at -i BENCH_STEADY_INTERVAL (5) with polls
#    timing out after BENCH_STEADY_POLL_TIMEOUT (twice the interval), and
#    a fleet kept connected; tallyd's CPU per round over rounds 6 and 7,
#    TLS against plaintext.  The first round pays for the handshakes; this
#    is what every later one costs.
#    Beside the plaintext one, its floor: t/floor (beside LOADGEN), a
#    plain LMDB program, writes what one such round changed in the
#    statsfile (a copy taken after round 4, before the measured rounds,
#    against the file after them), in as many write transactions as
#    tallyd committed per round;
#    tallyd's CPU against the floor's (target at most 1.5x), and tallyd's
#    CPU per million samples (target at most 0.25 s).  No t/floor, no
#    floor row, with a line saying so.
# 4. The handshake's cost per connection: BENCH_HANDSHAKES (200)
#    connections one after the other (loadgen -w 1), each timed from
#    connect() to WELCOME; and tallyd's CPU per connection in the
#    10-metric round, where 1,000 connect at once.
# 5. Polls under attack (t/attack, beside LOADGEN): one good provider
#    from 127.0.0.1 beside tallyd (TLS, -i 1) for BENCH_ATTACK_SECONDS
#    (20), first alone, then under t/dos.sh's mix from 127.0.0.2
#    (record-flood x4, alert-flood x4, keyupdate-flood x4, onebyte x200,
#    slow-reader x4); the largest gap between two of its consecutive
#    polls under attack, beside the same alone.  The poll timeout is the
#    whole run, so that a late poll is measured rather than cut short.
#    BENCH_ATTACK=0 skips it; so does a t/attack not built (make t/attack)
#    or no 127.0.0.2 to bind, with a line saying so.
# 6. The first round after a restart: for each of BENCH_RESTART_FLEETS
#    (1000 5000) load nodes of BENCH_RESTART_METRICS (200) metrics, a first
#    round, then tallyd stopped and started again on the same BASEDIR (its
#    certificate, ticket keys, secret and port; a fresh statsfile, so the
#    round is counted as the first was); the fleet (loadgen -r) comes back
#    at once, BENCH_RESTART_WINDOW (1000) connections in flight, each
#    resuming its TLS session as a provider does; the round is timed from
#    then until every snapshot is committed.  TLS against plaintext, the
#    target at most 2x; the count of resumed handshakes is shown, and the
#    same round with full handshakes (the ticket keys removed before the
#    restart, so that nothing resumes) beside the same plaintext one.
#
# The fleet behind every figure is checked when the figure is taken, from
# both ends: loadgen lost no connection (its `lost` lines), and tallyd's
# log has a `connected node` line for each of the fleet and no
# `disconnected node` line.  Stopping loadgen cleanly (exit 0) then says
# that none was lost after the check either.
#
# loadgen runs on the same machine, with a thread per CPU
# (BENCH_LOADGEN_THREADS): a fleet's client handshakes happen in parallel,
# on machines of their own, and one thread doing a thousand of them in a
# row would bill the fleet's latency to the gatherer.  Its CPU is shown.
#
# Environment: BENCH_CONNECTIONS, BENCH_METRICS, BENCH_HANDSHAKES,
# BENCH_REPEAT, BENCH_LOADGEN_THREADS, BENCH_STEADY_INTERVAL,
# BENCH_STEADY_POLL_TIMEOUT, BENCH_ATTACK (0 skips phase 5),
# BENCH_ATTACK_SECONDS, BENCH_ATTACK_PROG (default: attack beside LOADGEN),
# BENCH_DEADLINE (seconds a round may take before it counts as hung, 60),
# BENCH_FLOOR_PROG (default: floor beside LOADGEN),
# BENCH_RESTART_FLEETS, BENCH_RESTART_METRICS, BENCH_RESTART_WINDOW,
# BENCH_PHASES (the phases to run, by name: round steady small restart
# attack; default all; "small" is phases 2b and 4; steady includes the
# floor),
# BENCH_KEEP=1 keeps the temporary directory and prints its name.
# Only bash, coreutils, grep, procps and lmdb-utils; no awk, bc or python.

if [ -z "$BASH_VERSION" ]; then
	exec bash "$0" "$@"
fi
set -u
export LC_ALL=C		# a '.' in EPOCHREALTIME and in printf's numbers

if [ $# -ne 2 ]; then
	echo "usage: $0 TALLYD LOADGEN" >&2
	exit 2
fi
TALLYD=$1
LOADGEN=$2
N=${BENCH_CONNECTIONS:-1000}
M=${BENCH_METRICS:-1000}
DEADLINE=${BENCH_DEADLINE:-60}
HS=${BENCH_HANDSHAKES:-200}
REPEAT=${BENCH_REPEAT:-3}
PHASES=" ${BENCH_PHASES:-round steady small restart attack} "
phase() { [[ $PHASES == *" $1 "* ]]; }
RESTART_FLEETS=${BENCH_RESTART_FLEETS:-1000 5000}
RESTART_M=${BENCH_RESTART_METRICS:-200}
RESTART_WINDOW=${BENCH_RESTART_WINDOW:-1000}
LG_THREADS=${BENCH_LOADGEN_THREADS:-$(nproc 2> /dev/null || echo 1)}
SMALL_M=10
POLL=0.02		# seconds between looks at the database
# The steady rounds: an interval, and a poll timeout that no poll reaches
# on a loaded machine.  tallyd's default poll timeout is half the
# interval: at -i 1 (0.5 s) two busy loops on this 2-CPU machine cost
# 63 to 640 of the 1,000 connections, though loadgen sent each answer
# within a millisecond of reading its poll: the wait is tallyd's.  The
# first polls go out together, each right after its handshake, and
# tallyd reads the answers in turn: with two busy loops and the
# machine's other work (load average 10 to 15) a 4 s poll timeout lost
# 22 TLS connections on their first poll; 10 s lost none in four runs at
# load averages up to 18.  Later rounds are spread over the interval.
# -i 5 keeps rounds 6 and 7 within about 35 s.
STEADY_IV=${BENCH_STEADY_INTERVAL:-5}	# whole seconds
STEADY_POLL_TIMEOUT=${BENCH_STEADY_POLL_TIMEOUT:-$((2 * STEADY_IV))}
# The handshake timeout of every tallyd here.  1,000 TLS handshakes at
# once, with two busy loops and the machine's other work: the slowest
# took up to 9.8 s (load average 17), against tallyd's default 10 s.  The
# bench measures their cost, not the timeout; a row says how long the
# slowest took.
HS_TIMEOUT=30

for prog in "$TALLYD" "$LOADGEN"; do
	if [ ! -x "$prog" ]; then
		echo "bench-gatherer: $prog: not an executable" >&2
		exit 2
	fi
done
for tool in mdb_stat mdb_dump grep; do
	if ! command -v "$tool" > /dev/null; then
		echo "bench-gatherer: $tool not found (lmdb-utils, grep)" >&2
		exit 2
	fi
done
if [ -z "${EPOCHREALTIME:-}" ]; then
	echo "bench-gatherer: needs bash 5 (EPOCHREALTIME)" >&2
	exit 2
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tally-bench-gatherer.XXXXXX") || exit 1
pids=()

cleanup() {
	local pid

	for pid in "${pids[@]}"; do
		stop "$pid" "process $pid"
	done
	if [ "${BENCH_KEEP:-0}" = 1 ]; then
		echo "bench-gatherer: kept $tmp" >&2
	else
		rm -rf "$tmp"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Both tallyd and loadgen hold a descriptor per connection.
ulimit -n "$(ulimit -Hn)" 2> /dev/null
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt $((N + 64)) ]; then
	echo "bench-gatherer: the descriptor limit $(ulimit -n) is below" \
	    "$((N + 64)); figures will show failures" >&2
fi
CLK_TCK=$(getconf CLK_TCK 2> /dev/null || echo 100)

# The shared helpers (nap, clock and /proc readers, stop, tail_log), as
# t/scale.sh uses them.
ME=bench-gatherer
# shellcheck source=t/bench-lib.sh
. "$(dirname "$0")/bench-lib.sh"

broken() {
	echo "bench-gatherer: $*" >&2
	exit 1
}

# start_tallyd NAME plain|tls [INTERVAL [POLL_TIMEOUT]]: G_PID, G_BASE,
# G_STATS, G_FURL, G_ERR (its log) of a new gatherer on that transport,
# polling every INTERVAL seconds (60: one poll per round).
start_tallyd() {
	local name=$1 line i mode=()
	[ "$2" = plain ] && mode=(--plaintext)
	[ -n "${4:-}" ] && mode+=(--poll-timeout "$4")
	# The fleet comes from one loopback address, a real one from many:
	# lift the cap on handshakes per address, but not under attack.
	case $name in
	attack-*) ;;
	*) mode+=(--max-handshakes-per-addr $((2 * N + 100))) ;;
	esac
	G_BASE=$tmp/$name
	G_STATS=$G_BASE/stats
	G_OUT=$tmp/$name.out
	G_ERR=$tmp/$name.err
	: > "$G_OUT"
	"$TALLYD" -l 127.0.0.1:0 -i "${3:-60}" \
	    --handshake-timeout "$HS_TIMEOUT" \
	    --max-connections $((2 * N + 100)) \
	    "${mode[@]}" "$G_BASE" > "$G_OUT" 2> "$G_ERR" &
	G_PID=$!
	pids+=("$G_PID")
	G_FURL=
	for ((i = 0; i < 500; i++)); do
		if ! alive "$G_PID"; then
			tail_log "$G_ERR"
			broken "tallyd exited at start"
		fi
		while read -r line; do
			case $line in
			tally://* | tally+tls://*) G_FURL=$line ;;
			esac
		done < "$G_OUT"
		if [ -n "$G_FURL" ] && [ -e "$G_STATS" ]; then
			break
		fi
		nap 0.02
	done
	if [ -z "$G_FURL" ]; then
		tail_log "$G_ERR"
		broken "tallyd printed no furl in 10 s"
	fi
	if [ ! -e "$G_STATS" ]; then
		tail_log "$G_ERR"
		broken "tallyd created no $G_STATS in 10 s"
	fi
	# mdb_stat wants -n for an environment that is a file, not a directory.
	if [ -d "$G_STATS" ]; then
		MDB_OPT=()
	else
		MDB_OPT=(-n)
	fi
}

# --- the database ----------------------------------------------------------

# db_entries: E_NODES, E_COUNTERS, E_STATS from one mdb_stat run.
db_entries() {
	local line db=
	E_NODES=0 E_COUNTERS=0 E_STATS=0
	while read -r line; do
		case $line in
		"Status of "*) db=${line#Status of } ;;
		"Entries: "*)
			case $db in
			nodes) E_NODES=${line#Entries: } ;;
			counters) E_COUNTERS=${line#Entries: } ;;
			stats) E_STATS=${line#Entries: } ;;
			esac
			;;
		esac
	done < <(mdb_stat "${MDB_OPT[@]}" -a "$G_STATS" 2> /dev/null)
}

# load_nodes: REPLY = how many load-NNNNN nodes have a slot.
load_nodes() {
	REPLY=$(mdb_dump "${MDB_OPT[@]}" -p -s nodes "$G_STATS" 2> /dev/null |
	    grep -c '^ load-')
}

# --- loadgen and the fleet ---------------------------------------------

# start_loadgen PHASE FLEET ARG...: loadgen against G_FURL with FLEET
# connections (-n FLEET ARG...), for PHASE, which names it in messages.
# Sets L_PID, L_OUT, L_ERR, L_N, and L_FD, its stdout, read by lg_lines.
start_loadgen() {
	L_PHASE=$1
	L_N=$2
	shift 2
	L_OUT=$tmp/$L_PHASE.loadgen.out
	L_ERR=$tmp/$L_PHASE.loadgen.err
	L_T0= L_SHAKE=- L_ANSWER=- L_PART=
	L_DOWN=0
	: > "$L_OUT"
	"$LOADGEN" -f "$G_FURL" -n "$L_N" "$@" > "$L_OUT" 2> "$L_ERR" &
	L_PID=$!
	pids+=("$L_PID")
	exec {L_FD}< "$L_OUT"
}

on_answered() { :; }

# lg_lines: loadgen's event lines so far.  Sets L_T0 (its start, in us of
# the wall clock), L_SHAKE and L_ANSWER (ms after it: every handshake done,
# FLEET snapshots sent) and calls on_answered K at each multiple K of the
# fleet.  A lost connection ends the phase (fleet_lost).
lg_lines() {
	local l
	while read -r -u "$L_FD" l; do
		L_PART+=$l
		set -- $L_PART
		L_PART=
		case ${1:-} in
		start)
			# its own clock: exec and setup are not the round
			L_T0=$(( 10#${4%.*} * 1000000 + 10#${4#*.} )) ;;
		# SECONDS with 3 decimals: without the dot, ms
		handshaken) L_SHAKE=$((10#${3/./})) ;;
		answered)
			[ "$2" = "$L_N" ] && L_ANSWER=$((10#${3/./}))
			on_answered "$2"
			;;
		down) L_DOWN=1 ;;	# -r: the gatherer closed them all
		lost) fleet_lost "loadgen lost a connection" ;;
		esac
	done
	L_PART+=${l:-}		# a partial line, finished next time
}

# lg_alive: loadgen and tallyd are both still running, or the phase broke.
lg_alive() {
	if ! alive "$G_PID"; then
		tail_log "$G_ERR"
		broken "$L_PHASE: tallyd died"
	fi
	if ! alive "$L_PID"; then
		lg_lines
		tail_log "$L_OUT"
		tail_log "$L_ERR" 12
		broken "$L_PHASE: loadgen exited"
	fi
}

# fleet_lost WHAT: the phase's fleet is short.  Waits a little for the rest
# of the damage, then says how many connections were lost and tallyd's
# reasons, stops loadgen and tallyd, and exits 1: no figure for a smaller
# fleet than the phase says.
fleet_lost() {
	local lost up down line r
	nap 2		# let the rest of the damage show
	lost=$(grep -c '^lost ' "$L_OUT")
	up=$(grep -c '^tallyd: connected node load-' "$G_ERR")
	down=$(grep -c '^tallyd: node load-' "$G_ERR")
	{
		echo "bench-gatherer: $L_PHASE: $1: lost $lost of $L_N" \
		    "connections; tallyd logged $up connected and $down" \
		    "errors or timeouts.  No figure from this phase."
		echo "--- tallyd's reasons, most frequent first:"
		grep '^tallyd: node load-' "$G_ERR" |
		while read -r line; do
			r=${line#* from }
			echo "${r#*: }"
		done | sort | uniq -c | sort -rn | head -n 5
		echo "--- loadgen's first errors:"
		grep '^loadgen: load-' "$L_ERR" | head -n 3
	} >&2
	broken "$L_PHASE: the fleet shrank"
}

# fleet_check: the phase's whole fleet is up now, from both ends: loadgen
# lost none, and tallyd logged each of them connected, none disconnected
# and nothing about any (a timeout or an error is logged at once; the
# disconnection only after the connection's linger).  Call it when a
# figure is taken, before printing it.
fleet_check() {
	local up down said
	lg_lines
	up=$(grep -c '^tallyd: connected node load-' "$G_ERR")
	down=$(grep -c '^tallyd: disconnected node load-' "$G_ERR")
	said=$(grep -c '^tallyd: node load-' "$G_ERR")
	if ((up != L_N || down != 0 || said != 0)); then
		fleet_lost "tallyd's log counts $up connections up, $down" \
		    "down and $said in trouble, not $L_N, 0 and 0"
	fi
	FLEETS=$((FLEETS + 1))
}
FLEETS=0

# done_field KEY: REPLY = KEY's value in loadgen's done line.
done_field() {
	local words i
	REPLY=-
	words=($(grep '^done ' "$L_OUT"))
	for ((i = 1; i + 1 < ${#words[@]}; i++)); do
		if [ "${words[i]}" = "$1" ]; then
			REPLY=${words[i + 1]}
			return 0
		fi
	done
	return 1
}

# stop_all: stop loadgen, then tallyd.  A non-zero exit breaks the run,
# but the figures already printed stand: they were taken on a whole fleet.
BROKE=0
stop_all() {
	exec {L_FD}<&-
	stop "$L_PID" loadgen
	if [ "$REPLY" -ne 0 ]; then
		echo "bench-gatherer: $L_PHASE: loadgen exited $REPLY:" >&2
		grep '^done' "$L_OUT" >&2
		tail_log "$L_ERR" 12
		BROKE=1
	fi
	stop "$G_PID" tallyd
	if [ "$REPLY" -ne 0 ]; then
		echo "bench-gatherer: $L_PHASE: tallyd exited $REPLY on" \
		    "SIGTERM" >&2
		tail_log "$G_ERR" 5
		BROKE=1
	fi
}

# --- one round ---------------------------------------------------------

# round METRICS LABEL: start loadgen against G_FURL and wait until all N
# load nodes are committed.  Sets R_US (the round), R_SHAKE and R_ANSWER
# (loadgen's times, in ms), R_GCPU (tallyd's ticks in the round).
round() {
	local m=$1 label=$2 g0 b_c b_s
	db_entries
	b_c=$E_COUNTERS b_s=$E_STATS
	cpu_ticks "$G_PID"; g0=$REPLY
	start_loadgen "$label" "$N" -m "$m" -t "$LG_THREADS" "${LG_EXTRA[@]}"
	now_us; L_T0=$REPLY		# until loadgen says when it began
	await_round "$m" "$label" "$b_c" "$b_s"
	R_US=$((R_END - L_T0))
	R_SHAKE=$L_SHAKE R_ANSWER=$L_ANSWER
	cpu_ticks "$G_PID"; R_GCPU=$((REPLY - g0))
}
LG_EXTRA=()

# await_round METRICS LABEL B_C B_S: wait until all N load nodes of a round
# of METRICS metrics are committed (counters and stats beyond B_C and B_S,
# what the database held before), or break the phase after DEADLINE
# seconds from L_T0.  Sets R_END (us of the wall clock).
await_round() {
	local m=$1 label=$2 b_c=$3 b_s=$4 c=$(( ($1 + 1) / 2 )) s=$(( $1 / 2 ))
	local now got
	while :; do
		lg_lines
		now_us; now=$REPLY
		lg_alive
		db_entries
		if ((E_COUNTERS >= N * c + b_c && E_STATS >= N * s + b_s)); then
			load_nodes
			if ((REPLY >= N)); then
				R_END=$now
				break
			fi
		fi
		if ((now > L_T0 + DEADLINE * 1000000)); then
			load_nodes
			got=$REPLY
			fx $((now - L_T0)) 1000000 2
			echo "bench-gatherer: the $label round is not done" \
			    "after $REPLY s:" >&2
			echo "  load nodes committed: $got of $N;" \
			    "entries: nodes $E_NODES, counters $E_COUNTERS" \
			    "(want $((N * c)) + $b_c), stats $E_STATS" \
			    "(want $((N * s)) + $b_s)" >&2
			tail_log "$L_OUT"
			tail_log "$L_ERR" 5
			tail_log "$G_ERR"
			broken "$label: round incomplete"
		fi
		nap $POLL
	done
}

row() {
	printf '%-44s %12s %12s %8s %s\n' "$@"
}

# --- the figures -----------------------------------------------------------

read -r load1 load5 _ < /proc/loadavg
printf '\ntally gatherer benchmarks, %s CPUs, load average %s %s; ' \
    "$(nproc 2> /dev/null || echo '?')" "$load1" "$load5"
printf 'one run each\n\n'
row figure tally reference ratio target

samples=$((N * M))
commas "$N"; cn=$REPLY
commas "$M"; cm=$REPLY

# big MODE [N]: the N x M round on MODE and the idle cost after it;
# prints its rows.  Appends the round's time (us) and tallyd's CPU to
# B_ALL[MODE] and B_CPU[MODE]; with N (a repeat), only that.
declare -A B_US=() B_ALL=() B_CPU=()
big() {
	local mode=$1 rep=${2:-} secs krate hwm hwm_mib gcpu lcpu
	local rss0 anon0 rss1 anon1 file1 idle idle_anon shake answer
	start_tallyd "big-$mode$rep" "$mode"
	nap 0.3		# let it settle before the baseline
	status_kib "$G_PID" VmRSS; rss0=$REPLY
	status_kib "$G_PID" RssAnon; anon0=$REPLY

	round "$M" "big-$mode$rep"
	B_ALL[$mode]+=" $R_US"
	B_CPU[$mode]+=" $R_GCPU"
	if [ -n "$rep" ]; then
		fleet_check
		stop_all
		return
	fi
	B_US[$mode]=$R_US
	status_kib "$G_PID" VmHWM; hwm=$REPLY
	# Idle: every connection has answered its first poll; the next is
	# ~60 s off.
	nap 1
	status_kib "$G_PID" VmRSS; rss1=$REPLY
	status_kib "$G_PID" RssAnon; anon1=$REPLY
	status_kib "$G_PID" RssFile; file1=$REPLY
	cpu_ticks "$L_PID"; lcpu=$REPLY
	fleet_check

	fx "$R_US" 1000000 2; secs=$REPLY
	fx $(( samples * 1000000 / R_US )) 1000 0; krate=$REPLY
	fx "$hwm" 1024 1; hwm_mib=$REPLY
	echo
	if [ "$mode" = plain ]; then
		row "round, $cn conns x $cm metrics, plain" \
		    "$secs s" - - "<= 2 s"
	else
		fx "${B_US[plain]}" 1000000 2; local ref=$REPLY
		fx "$R_US" "${B_US[plain]}" 2; local x=$REPLY
		row "round, $cn conns x $cm metrics, TLS 1.3" \
		    "$secs s" "$ref s" "${x}x" "<= 2x the plaintext round"
	fi
	row "  samples committed per second" "$krate k/s" - - ">= 500 k/s"
	shake=- answer=-
	[ "$R_SHAKE" != - ] && { fx "$R_SHAKE" 1000 2; shake="$REPLY s"; }
	[ "$R_ANSWER" != - ] && { fx "$R_ANSWER" 1000 2; answer="$REPLY s"; }
	row "  of which: all handshakes done (loadgen)" "$shake" - - \
	    "(context)"
	row "  of which: all snapshots sent (loadgen)" "$answer" - - \
	    "(context)"
	fx "$R_GCPU" "$CLK_TCK" 2; gcpu=$REPLY
	fx "$lcpu" "$CLK_TCK" 2; lcpu=$REPLY
	row "  CPU: tallyd vs loadgen, in the round" "$gcpu s" "$lcpu s" - \
	    "(context; loadgen's is its whole life)"
	row "  tallyd peak RSS in the round (VmHWM)" "$hwm_mib MiB" - - \
	    "<= 128 MiB"
	fx $(( (rss1 - rss0) * 10 )) $((N * 10)) 1; idle=$REPLY
	fx $(( (anon1 - anon0) * 10 )) $((N * 10)) 1; idle_anon=$REPLY
	fx "$rss0" 1024 1; rss0=$REPLY
	fx "$rss1" 1024 1; rss1=$REPLY
	fx "$file1" 1024 1; file1=$REPLY
	row "  idle connection, after the round" "$idle KiB" - - \
	    "<= 32 KiB (VmRSS $rss0 -> $rss1 MiB)"
	row "  same, anonymous memory only (RssAnon)" "$idle_anon KiB" - - \
	    "(context; RssFile now $file1 MiB: the LMDB map)"
	stop_all
	done_field handshake_max
	row "  slowest handshake, connect to WELCOME" "$REPLY s" - - \
	    "(context: loadgen's)"
	echo "  fleet: $cn of $cn connections up at the figures (loadgen" \
	    "lost none; tallyd logged $cn up, none down)"
}

if phase round; then
big plain
# The gatherer's own figures, committed as it stopped (context).
own_stats() {
	local db=$1 own k v
	own=$(mdb_dump "${MDB_OPT[@]}" -p -s "$db" "$G_STATS" 2> /dev/null |
	    grep -v '^ load-' | grep -A1 '/' | grep -v '^--$' | head -n 80)
	[ -n "$own" ] || return 0
	echo "tallyd's own $db, committed at its exit after the round:"
	while read -r k && read -r v; do
		printf '  %-50s %s\n' "$k" "$v"
	done <<< "$own"
}
echo
own_stats counters
own_stats stats
big tls

# median LIST: REPLY = the median of the integers in LIST.
median() {
	local sorted
	sorted=($(printf '%s\n' $1 | sort -n))
	REPLY=${sorted[$(( ${#sorted[@]} / 2 ))]}
}
for ((i = 2; i <= REPEAT; i++)); do
	big plain "-$i"
	big tls "-$i"
done
median "${B_ALL[plain]}"; mp=$REPLY
median "${B_ALL[tls]}"; mt=$REPLY
fx "$mp" 1000000 2; ref=$REPLY
fx "$mt" 1000000 2; secs=$REPLY
fx "$mt" "$mp" 2; x=$REPLY
list() {
	local us out=
	for us in $1; do
		fx "$us" 1000000 2
		out+="$REPLY "
	done
	REPLY=${out% }
}
echo
row "round, TLS vs plaintext, median of $REPEAT each" "$secs s" "$ref s" \
    "${x}x" "<= 2x"
list "${B_ALL[tls]}"; lt=$REPLY
list "${B_ALL[plain]}"; lp=$REPLY
echo "  the rounds, in seconds: TLS $lt; plaintext $lp"
# tallyd's CPU is what a neighbour's load does not inflate; the wall time
# on a busy machine follows the CPU of tallyd and loadgen together.
median "${B_CPU[plain]}"; cp=$REPLY
median "${B_CPU[tls]}"; ct=$REPLY
fx "$cp" "$CLK_TCK" 2; ref=$REPLY
fx "$ct" "$CLK_TCK" 2; secs=$REPLY
x=-
((cp > 0)) && { fx "$ct" "$cp" 2; x=${REPLY}x; }
row "  tallyd CPU in the round, TLS vs plaintext" "$secs s" "$ref s" \
    "$x" "(context: median of $REPEAT each)"
fi

# steady MODE: the same fleet, kept connected and polled every STEADY_IV
# seconds: tallyd's CPU for rounds 6 and 7, from loadgen's 5N-th answer
# to its 7N-th, when the handshakes are long done and the file is in its
# steady state.  Sets ST_CPU[MODE]
# (ticks) and ST_TX[MODE], the write transactions committed to the
# statsfile meanwhile (LMDB's last transaction id, mdb_stat -e: every
# commit of tallyd, its own stats' flushes included, and nothing else,
# since no other process writes there).  On plaintext it also copies the
# statsfile at the 4N-th answer, for the floor (mdb_copy, a round before
# the measured ones: the copy is a reader and a disk load of its own).
# Not earlier: LMDB gives a write the pages that earlier transactions
# freed, and after round 1 there are hardly any, so a floor starting
# there writes its pages at the end of the file, in long runs, where
# tallyd fills the pages earlier rounds freed, one here and one there.
# On one 2-CPU machine, the same round's writes cost the floor 0.118 s of
# CPU from a copy taken after round 1, then 0.146, 0.157, 0.171 and
# 0.171 s after rounds 2 to 5; tallyd's own round grew from 0.34 s (round
# 2) to 0.38-0.45 s (rounds 3 to 12).
declare -A ST_CPU=() ST_TX=()
steady() {
	local mode=$1 now deadline_us
	start_tallyd "steady-$mode" "$mode" "$STEADY_IV" "$STEADY_POLL_TIMEOUT"
	ST_GA= ST_GB= ST_XA= ST_XB= ST_PREV=
	on_answered() {
		if (($1 == 4 * N)) && [ "$mode" = plain ]; then
			ST_PREV=$tmp/steady-$mode.prev
			mkdir -p "$ST_PREV"
			mdb_copy "${MDB_OPT[@]}" "$G_STATS" "$ST_PREV" ||
			    broken "$L_PHASE: mdb_copy of the statsfile failed"
		elif (($1 == 5 * N)); then
			cpu_ticks "$G_PID"; ST_GA=$REPLY
			last_txn; ST_XA=$REPLY
		elif (($1 == 7 * N)) && [ -n "$ST_GA" ]; then
			cpu_ticks "$G_PID"; ST_GB=$REPLY
			last_txn; ST_XB=$REPLY
		fi
	}
	start_loadgen "steady-$mode" "$N" -m "$M" -t "$LG_THREADS"
	# Seven rounds: the first, and six intervals.
	now_us; deadline_us=$(( REPLY + (DEADLINE + 7 * STEADY_IV) * 1000000 ))
	while [ -z "$ST_GB" ]; do
		lg_lines
		lg_alive
		now_us; now=$REPLY
		if ((now > deadline_us)); then
			tail_log "$L_OUT"
			broken "$L_PHASE: 7 rounds not done in" \
			    "$((DEADLINE + 7 * STEADY_IV)) s"
		fi
		nap $POLL
	done
	on_answered() { :; }
	fleet_check
	ST_CPU[$mode]=$(( (ST_GB - ST_GA) / 2 ))
	ST_TX[$mode]=$(( (ST_XB - ST_XA + 1) / 2 ))
	stop_all
}

# last_txn: REPLY = the statsfile's last committed transaction id.
last_txn() {
	local line
	REPLY=
	while read -r line; do
		case $line in
		"Last transaction ID: "*) REPLY=${line#*: } ;;
		esac
	done < <(mdb_stat "${MDB_OPT[@]}" -e "$G_STATS" 2> /dev/null)
	[ -n "$REPLY" ] || broken "$L_PHASE: mdb_stat -e gave no transaction id"
}

# floor: t/floor on the plaintext steady phase's statsfile (G_STATS, tallyd
# stopped): the changes of one round, from the copy taken before the
# measured rounds to the file after them, written in ST_TX[plain]
# transactions by a plain LMDB program.  Sets F_WALL and F_CPU (us).
floor() {
	local out w
	F_WALL= F_CPU=
	if [ ! -x "$FLOOR" ]; then
		echo "floor: skipped ($FLOOR not built: make t/floor)"
		return 1
	fi
	out=$("$FLOOR" "$ST_PREV" "$G_STATS" "${ST_TX[plain]}" 2> "$tmp/floor.err") ||
	    { tail_log "$tmp/floor.err" 5; broken "floor: $FLOOR failed"; }
	w=($out)
	# floor wall S cpu S puts N dels N txns N dbs N; 6 decimals: us
	F_WALL=$((10#${w[2]/./})) F_CPU=$((10#${w[4]/./}))
	F_PUTS=${w[6]} F_DELS=${w[8]} F_DBS=${w[12]}
	rm -rf "$ST_PREV"
}
FLOOR=${BENCH_FLOOR_PROG:-${LOADGEN%/*}/floor}
[ "$FLOOR" = "$LOADGEN/floor" ] && FLOOR=./floor	# LOADGEN had no '/'

if phase steady; then
steady plain
floor && have_floor=1 || have_floor=0
steady tls
fx "${ST_CPU[plain]}" "$CLK_TCK" 2; ref=$REPLY
fx "${ST_CPU[tls]}" "$CLK_TCK" 2; secs=$REPLY
x=-
((ST_CPU[plain] > 0)) && { fx "${ST_CPU[tls]}" "${ST_CPU[plain]}" 2; x=${REPLY}x; }
echo
row "steady round, connections up: tallyd CPU, TLS" "$secs s" "$ref s" \
    "$x" "(context: rounds 6-7 at -i $STEADY_IV, vs plaintext)"
if ((have_floor)); then
	# CPU against CPU: neither counts the wait for fdatasync, which
	# blocks tallyd's loop but not its CPU; the floor's wall shows it.
	st_us=$(( ST_CPU[plain] * 1000000 / CLK_TCK ))
	fx "$st_us" 1000000 3; g=$REPLY
	fx "$F_CPU" 1000000 3; f=$REPLY
	x=-
	((F_CPU > 0)) && { fx "$st_us" "$F_CPU" 2; x=${REPLY}x; }
	row "steady round, plaintext: tallyd CPU vs floor" "$g s" "$f s" \
	    "$x" "<= 1.5x (floor: plain LMDB, same writes and commits)"
	fx "$F_WALL" 1000000 3; f=$REPLY
	commas "$F_PUTS"; p=$REPLY
	row "  floor's wall time, ${ST_TX[plain]} commits" "$f s" - - \
	    "(context: $p puts, $F_DELS deletes in $F_DBS databases)"
	fx $(( st_us * 1000000 / samples )) 1000000 3
	row "  tallyd CPU per 1M samples, steady" "$REPLY s" - - "<= 0.25 s"
fi
echo "  fleet: $cn of $cn connections up through round 7, both transports"
fi

# small MODE: the same fleet with 10-metric snapshots: the connection's
# own overhead, and tallyd's CPU per connection, handshakes and all.
declare -A S_CPU=()
small() {
	local mode=$1 secs rss0 anon0 rss1 anon1 idle idle_anon
	start_tallyd "small-$mode" "$mode"
	nap 0.3		# let it settle before the baseline
	status_kib "$G_PID" VmRSS; rss0=$REPLY
	status_kib "$G_PID" RssAnon; anon0=$REPLY
	round "$SMALL_M" "small-$mode"
	S_CPU[$mode]=$R_GCPU
	nap 1
	status_kib "$G_PID" VmRSS; rss1=$REPLY
	status_kib "$G_PID" RssAnon; anon1=$REPLY
	fleet_check
	fx "$R_US" 1000000 2; secs=$REPLY
	fx $(( (rss1 - rss0) * 10 )) $((N * 10)) 1; idle=$REPLY
	fx $(( (anon1 - anon0) * 10 )) $((N * 10)) 1; idle_anon=$REPLY
	echo
	row "round, $cn conns x $SMALL_M metrics, $mode" "$secs s" \
	    - - "(context: mostly handshakes)"
	row "  idle connection, after the round" "$idle KiB" - - \
	    "<= 32 KiB"
	row "  same, anonymous memory only (RssAnon)" "$idle_anon KiB" - - \
	    "(context)"
	stop_all
}
if phase small; then
small plain
small tls

# handshakes MODE: HS connections one at a time (loadgen -w 1), each
# timed from connect() to WELCOME.  Sets H_US[MODE], microseconds.
declare -A H_US=()
handshakes() {
	local mode=$1 now deadline_us
	start_tallyd "hs-$mode" "$mode"
	start_loadgen "hs-$mode" "$HS" -m "$SMALL_M" -w 1 -q
	now_us; deadline_us=$(( REPLY + DEADLINE * 1000000 ))
	while [ "$L_SHAKE" = - ]; do
		lg_lines
		lg_alive
		now_us; now=$REPLY
		if ((now > deadline_us)); then
			tail_log "$L_ERR"
			broken "$L_PHASE: $HS handshakes not done in" \
			    "$DEADLINE s"
		fi
		nap $POLL
	done
	fleet_check
	stop_all
	done_field handshake_avg
	# seconds with 6 decimals: without the dot, microseconds
	H_US[$mode]=$((10#${REPLY/./}))
}
handshakes plain
handshakes tls
echo
fx "${H_US[plain]}" 1000 2; hp=$REPLY
fx "${H_US[tls]}" 1000 2; ht=$REPLY
fx $(( (H_US[tls] - H_US[plain]) )) 1000 2; hd=$REPLY
row "handshake, one connection at a time, TLS" "$ht ms" "$hp ms" \
    "+$hd ms" "(context: connect to WELCOME, loopback, $HS in a row)"
fx $(( S_CPU[tls] * 1000000 / CLK_TCK / N )) 1000 3; ct=$REPLY
fx $(( S_CPU[plain] * 1000000 / CLK_TCK / N )) 1000 3; cp=$REPLY
commas "$N"
row "tallyd CPU per connection, $REPLY at once" "$ct ms" "$cp ms" - \
    "(context: TLS vs plaintext, $SMALL_M-metric round)"
fi

# --- 6. the first round after a restart ------------------------------------

# restart MODE FLEET: tallyd on MODE (-i 60) and FLEET load nodes of
# RESTART_M metrics (loadgen -r: a connection the gatherer closes waits
# for SIGUSR1, then comes back, resuming its TLS session as a provider
# does); after the first round, tallyd stops (SIGTERM) and starts again
# on the same BASEDIR (its key, its ticket keys, its secret and port) and
# a fresh statsfile, so that the round after the restart is counted as
# the first was; once it listens, the fleet is told to come back, and
# the round is timed from then until every node's snapshot is committed.
# Sets RS_US[MODE-FLEET], RS_CPU[...] (tallyd's ticks) and RS_RES[...]
# (loadgen's resumed handshakes, over its life: the first round has
# none to resume).
declare -A RS_US=() RS_CPU=() RS_RES=()
restart() {
	local mode=$1 n=$2 label=restart-$1-$2 port i g0 b_c b_s keep_n=$N
	local transport=$1
	local opts=(--max-handshakes-per-addr $((2 * $2 + 100)))
	N=$n
	[ "$mode" = full ] && transport=tls
	start_tallyd "$label" "$transport"
	LG_EXTRA=(-r -w "$RESTART_WINDOW")
	round "$RESTART_M" "$label"
	LG_EXTRA=()
	fleet_check
	stop "$G_PID" tallyd
	((REPLY == 0)) || broken "$label: tallyd exited $REPLY on SIGTERM"
	for ((i = 0; i < DEADLINE * 50 && L_DOWN == 0; i++)); do
		lg_lines
		nap 0.02
	done
	((L_DOWN)) || broken "$label: loadgen did not see every connection" \
	    "closed in $DEADLINE s"
	port=${G_FURL##*:}
	port=${port%%/*}
	[ "$transport" = plain ] && opts+=(--plaintext)
	# full: no ticket keys survive, so no session resumes (the reference
	# of before resumption)
	[ "$mode" = full ] && rm -f "$G_BASE/tallyd.tickets"
	G_ERR=$tmp/$label-again.err
	: > "$G_ERR"
	G_STATS=$G_BASE/stats-again
	"$TALLYD" -l "127.0.0.1:$port" -i 60 -s "$G_STATS" \
	    --handshake-timeout "$HS_TIMEOUT" \
	    --max-connections $((2 * n + 100)) "${opts[@]}" "$G_BASE" \
	    > /dev/null 2> "$G_ERR" &
	G_PID=$!
	pids+=("$G_PID")
	for ((i = 0; i < 500; i++)); do
		alive "$G_PID" || { tail_log "$G_ERR"; broken "$label: tallyd" \
		    "exited at its restart"; }
		grep -q '^tallyd: listening on ' "$G_ERR" && [ -e "$G_STATS" ] &&
		    break
		nap 0.02
	done
	grep -q '^tallyd: listening on ' "$G_ERR" ||
	    broken "$label: tallyd did not listen again in 10 s"
	db_entries
	b_c=$E_COUNTERS b_s=$E_STATS
	cpu_ticks "$G_PID"; g0=$REPLY
	now_us; L_T0=$REPLY
	kill -USR1 "$L_PID"
	await_round "$RESTART_M" "$label, after the restart" "$b_c" "$b_s"
	RS_US[$mode-$n]=$((R_END - L_T0))
	cpu_ticks "$G_PID"; RS_CPU[$mode-$n]=$((REPLY - g0))
	fleet_check
	stop_all
	done_field resumed; RS_RES[$mode-$n]=$REPLY
	N=$keep_n
}

restart_phase() {
	local n x secs ref cn cpu rcpu
	for n in $RESTART_FLEETS; do
		if [ "$(ulimit -n)" != unlimited ] &&
		    [ "$(ulimit -n)" -lt $((n + 64)) ]; then
			echo "first round after a restart, $n nodes: skipped" \
			    "(the descriptor limit $(ulimit -n) is below" \
			    "$((n + 64)))"
			continue
		fi
		restart plain "$n"
		restart tls "$n"
		restart full "$n"
		commas "$n"; cn=$REPLY
		fx "${RS_US[tls-$n]}" 1000000 2; secs=$REPLY
		fx "${RS_US[plain-$n]}" 1000000 2; ref=$REPLY
		fx "${RS_US[tls-$n]}" "${RS_US[plain-$n]}" 2; x=$REPLY
		echo
		row "first round after a restart, $cn x $RESTART_M, TLS" \
		    "$secs s" "$ref s" "${x}x" "<= 2x the plaintext one"
		fx "${RS_CPU[tls-$n]}" "$CLK_TCK" 2; cpu=$REPLY
		fx "${RS_CPU[plain-$n]}" "$CLK_TCK" 2; rcpu=$REPLY
		row "  tallyd CPU in that round, TLS vs plaintext" "$cpu s" \
		    "$rcpu s" - "(context)"
		echo "  resumed TLS handshakes: ${RS_RES[tls-$n]} of $cn" \
		    "(loadgen -r -w $RESTART_WINDOW -t $LG_THREADS; the" \
		    "fleet reconnects at once, a window of $RESTART_WINDOW" \
		    "in flight)"
		fx "${RS_US[full-$n]}" 1000000 2; secs=$REPLY
		fx "${RS_US[full-$n]}" "${RS_US[plain-$n]}" 2; x=$REPLY
		row "  the same, full handshakes (no ticket keys)" "$secs s" \
		    "$ref s" "${x}x" "(context: before resumption)"
		fx "${RS_CPU[full-$n]}" "$CLK_TCK" 2; cpu=$REPLY
		row "  tallyd CPU in that round, full handshakes" "$cpu s" \
		    "$rcpu s" - "(context; resumed ${RS_RES[full-$n]})"
	done
}

phase restart && restart_phase
echo
if [ "$BROKE" = 0 ]; then
	echo "fleet: each of the $FLEETS phases above ran on its whole" \
	    "fleet ($cn connections, $HS one at a time): none lost, checked" \
	    "from both ends"
fi

# --- 5. polls under attack ---------------------------------------------

ATK_S=${BENCH_ATTACK_SECONDS:-20}
ATTACK=${BENCH_ATTACK_PROG:-${LOADGEN%/*}/attack}
[ "$ATTACK" = "$LOADGEN/attack" ] && ATTACK=./attack	# LOADGEN had no '/'
ATK_SRC=127.0.0.2

# good_run NAME: t/attack's good provider against G_FURL for ATK_S seconds,
# from 127.0.0.1.  Sets GOOD_POLLS, GOOD_GAP, GOOD_SINCE, GOOD_WELCOME
# (its summary's fields, in seconds) and GOOD_LOST (its message if it lost
# its connection, which under attack is a result, not a broken phase).
good_run() {
	local out=$tmp/$1.good.out err=$tmp/$1.good.err pid i w
	"$ATTACK" -m good -b 127.0.0.1 -i bench-good -d "$ATK_S" "$G_FURL" \
	    > "$out" 2> "$err" &
	pid=$!
	pids+=("$pid")
	for ((i = 0; i < (ATK_S + DEADLINE) * 50; i++)); do
		alive "$pid" || break
		nap 0.02
	done
	stop "$pid" "the good provider"
	GOOD_LOST=
	if [ "$REPLY" -ne 0 ]; then
		GOOD_LOST=$(head -n 1 "$err")
		[ -n "$GOOD_LOST" ] || GOOD_LOST="exit $REPLY"
	fi
	w=($(grep '^good polls ' "$out"))
	if [ "${#w[@]}" -lt 9 ]; then
		tail_log "$err"
		broken "attack: the good provider printed no summary"
	fi
	GOOD_POLLS=${w[2]} GOOD_GAP=${w[4]} GOOD_SINCE=${w[6]}
	GOOD_WELCOME=${w[8]}
	if ! alive "$G_PID"; then
		tail_log "$G_ERR"
		broken "attack: tallyd died"
	fi
}

# atk_attacking NAME: REPLY = 0 once attacker NAME said it attacks, 1
# while not yet, 2 if it cannot bind ATK_SRC or has died.
atk_attacking() {
	REPLY=1
	if grep -q '^attacking ' "$tmp/atk-$1.out" 2> /dev/null; then
		REPLY=0
	elif grep -q "bind $ATK_SRC: " "$tmp/atk-$1.err" 2> /dev/null ||
	    ! alive "${ATK_PID[$1]}"; then
		REPLY=2
	fi
}

declare -A ATK_PID=() ATK_STATE=()
ATK_NAMES=()

# atk_start NAME MODE COUNT: an attacker from ATK_SRC against G_FURL, in
# the order of t/dos.sh (floods first, onebyte last), waiting up to 10 s
# for its first attack: a gatherer that a flood stalls may never finish
# the handshakes of the attackers started after it, or may refuse some
# (a cap per source address), and the run goes on without them.
atk_start() {
	local i
	"$ATTACK" -m "$2" -c "$3" -b "$ATK_SRC" -q "$G_FURL" \
	    > "$tmp/atk-$1.out" 2> "$tmp/atk-$1.err" &
	ATK_PID[$1]=$!
	pids+=("$!")
	ATK_NAMES+=("$1")
	for ((i = 0; i < 500; i++)); do
		atk_attacking "$1"
		((REPLY == 1)) || break
		nap 0.02
	done
	ATK_STATE[$1]=$REPLY
}

# gap_row LABEL: a row of the good provider's figures, GOOD_* beside
# REF_* (the run without attackers).
gap_row() {
	local x=- note w=$GOOD_WELCOME r=$REF_WELCOME
	if [ "$w" = - ]; then w=never; else w="$w s"; fi
	if [ "$r" = - ]; then r=never; else r="$r s"; fi
	# seconds with 3 decimals: without the dot, ms
	if ((GOOD_POLLS >= 2 && REF_POLLS >= 2 && 10#${REF_GAP/./} > 0)); then
		fx $((10#${GOOD_GAP/./})) $((10#${REF_GAP/./})) 2
		x=${REPLY}x
	fi
	note="(context: -i 1, $ATK_S s; $GOOD_POLLS polls vs $REF_POLLS"
	note+=", connect to WELCOME $w vs $r"
	note+=", none for the last $GOOD_SINCE s)"
	if ((GOOD_POLLS < 2)); then
		row "$1" "no gap" "$REF_GAP s" - "$note"
	else
		row "$1" "$GOOD_GAP s" "$REF_GAP s" "$x" "$note"
	fi
}

attack_phase() {
	local name words g0 gcpu line
	if [ "${BENCH_ATTACK:-1}" = 0 ]; then
		echo "polls under attack: skipped (BENCH_ATTACK=0)"
		return
	fi
	if [ ! -x "$ATTACK" ]; then
		echo "polls under attack: skipped ($ATTACK not built: make" \
		    "t/attack)"
		return
	fi
	# Alone: the reference, in the same run.
	start_tallyd attack-alone tls 1 "$ATK_S"
	good_run attack-alone
	REF_POLLS=$GOOD_POLLS REF_GAP=$GOOD_GAP REF_WELCOME=$GOOD_WELCOME
	stop "$G_PID" tallyd
	if [ "$REPLY" -ne 0 ]; then
		tail_log "$G_ERR" 5
		broken "attack: tallyd exited $REPLY on SIGTERM (alone)"
	fi
	if [ -n "$GOOD_LOST" ]; then
		tail_log "$G_ERR" 5
		broken "attack: the good provider lost its connection with no" \
		    "attacker: $GOOD_LOST"
	fi

	# Under attack.
	start_tallyd attack-on tls 1 "$ATK_S"
	atk_start record record-flood 4
	if ((ATK_STATE[record] == 2)) &&
	    grep -q "bind $ATK_SRC: " "$tmp/atk-record.err"; then
		echo "polls under attack: skipped (cannot bind $ATK_SRC:" \
		    "$(head -n 1 "$tmp/atk-record.err"))"
		stop "${ATK_PID[record]}" attacker
		stop "$G_PID" tallyd
		return
	fi
	atk_start alert alert-flood 4
	atk_start keyupdate keyupdate-flood 4
	atk_start slow slow-reader 4
	atk_start onebyte onebyte 200
	cpu_ticks "$G_PID"; g0=$REPLY
	good_run attack-on
	cpu_ticks "$G_PID"; gcpu=$((REPLY - g0))
	for name in "${ATK_NAMES[@]}"; do
		stop "${ATK_PID[$name]}" "attacker $name"
		if [ "$REPLY" -ne 0 ]; then
			tail_log "$tmp/atk-$name.err" 5
			broken "attack: attacker $name exited $REPLY"
		fi
	done
	stop "$G_PID" tallyd
	if [ "$REPLY" -ne 0 ]; then
		echo "bench-gatherer: attack: tallyd exited $REPLY on SIGTERM" \
		    "after the attack" >&2
		tail_log "$G_ERR" 5
		BROKE=1
	fi

	echo
	gap_row "good provider's worst poll gap, under attack"
	fx "$gcpu" "$CLK_TCK" 2
	row "  tallyd CPU while the good one ran" "$REPLY s" - - \
	    "(context: under attack)"
	[ -n "$GOOD_LOST" ] &&
	    echo "  the good provider lost its connection: $GOOD_LOST"
	for name in "${ATK_NAMES[@]}"; do
		words=($(grep '^attack ' "$tmp/atk-$name.out"))
		line="  ${words[1]:-$name} x${words[3]:-?}:"
		line+=" ${words[7]:-?} handshakes, ${words[9]:-?} reconnects,"
		line+=" ${words[11]:-?} sent"
		grep -q "^attacking " "$tmp/atk-$name.out" ||
		    line+=" (never got to attack)"
		echo "$line"
	done
}
phase attack && attack_phase

exit $BROKE
