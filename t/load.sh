#!/bin/bash
# t/load.sh: the gatherer under load.  tallyd with short timeouts (-i 5
# --handshake-timeout 2, or 5 over TLS, --idle-timeout 15) and t/loadgen
# with 2,000 healthy provider connections (50 metrics each) plus 200
# stalled ones (they connect, send half a HELLO, then go silent), all at
# once.  Verified:
#   - the descriptor limit is raised to the hard limit, and covers both
#     processes' connections (else SKIP);
#   - every healthy connection completes its handshake;
#   - every healthy provider's snapshot lands each round, for ROUNDS
#     consecutive rounds: from a second T0 on, within an interval (1.5 for
#     the first round; plus 1 s, plus slack) every load node's time= in the
#     nodes table is past T0; the rounds outlast the idle timeout, so that
#     it drops no healthy connection; at the end each load node's counters
#     show that many polls;
#   - the handshake timeout drops all 200 stalled connections (loadgen's
#     stalled-closed line, within the timeout plus slack), tallyd logs a
#     handshake timeout for each, and nothing of theirs is written;
#   - tallyd's RSS, sampled throughout, and its VmHWM stay under RSS_MAX;
#   - no loadgen error, no healthy connection closed, no accept pause in
#     tallyd's log; both stop cleanly; mdb_stat -a and tally check pass.
# It prints the figures as a Markdown table for the README.  Not part of
# make check: it takes about a minute.
#
# Environment: TALLY_LOAD_CONNECTIONS (2000), TALLY_LOAD_STALLED (200),
# TALLY_LOAD_METRICS (50), TALLY_LOAD_INTERVAL (5), TALLY_LOAD_HANDSHAKE
# (2, or 5 over TLS: 2,000 TLS handshakes at once took 1.2 s on a
# 2-CPU VM, on handshake threads; 5 s leaves room for a busy machine),
# TALLY_LOAD_IDLE (15), TALLY_LOAD_ROUNDS (6, at least 2),
# TALLY_LOAD_RSS_MAX_MIB (128), TALLY_LOADGEN (default BUILDDIR/t/loadgen),
# TALLY_TALLYD_ARGS (extra tallyd arguments, word-split),
# TALLY_LOAD_TRANSPORT (auto; any other value forbids the fallback
# below), and lib.sh's.
#
# The transport: the furl is passed through opaquely, as tallyd printed it
# (tally:// or tally+tls://).  If it is not tally:// and a one-connection
# probe shows that loadgen cannot complete a handshake with it (a loadgen
# without TLS), the load runs against tallyd --plaintext instead, and the
# figures say so.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"

require_cmd mdb_dump mdb_stat
require_tallyd
TALLY=$TALLY_BUILDDIR/tally
LOADGEN=${TALLY_LOADGEN:-$TALLY_BUILDDIR/t/loadgen}
[ -x "$TALLY" ] || fail "$TALLY not built (run make first)"
[ -x "$LOADGEN" ] || fail "$LOADGEN not built (run make t/loadgen)"
[ -n "${EPOCHREALTIME:-}" ] || skip "needs bash 5 (EPOCHREALTIME)"

N=${TALLY_LOAD_CONNECTIONS:-2000}
S=${TALLY_LOAD_STALLED:-200}
M=${TALLY_LOAD_METRICS:-50}
INTERVAL=${TALLY_LOAD_INTERVAL:-5}
HANDSHAKE=${TALLY_LOAD_HANDSHAKE:-auto}	# auto: 2 s, or 5 s over TLS
IDLE=${TALLY_LOAD_IDLE:-15}
ROUNDS=${TALLY_LOAD_ROUNDS:-6}
[ "$ROUNDS" -ge 2 ] || fail "TALLY_LOAD_ROUNDS must be 2 or more"
RSS_MAX_MIB=${TALLY_LOAD_RSS_MAX_MIB:-128}
read -r -a TALLYD_ARGS <<<"${TALLY_TALLYD_ARGS:-}"
SLACK=3		# seconds of slack on every timed expectation
NEED=$((N + S + 64))	# descriptors each process needs

# ---- the descriptor limit ------------------------------------------------

FD_HARD=$(ulimit -Hn)
ulimit -n "$FD_HARD" 2>/dev/null || note "ulimit -n $FD_HARD refused"
FD_SOFT=$(ulimit -n)
note "descriptor limit: soft $FD_SOFT, hard $FD_HARD (need $NEED per process)"
if [ "$FD_SOFT" != unlimited ] && [ "$FD_SOFT" -lt "$NEED" ]; then
	skip "the descriptor limit $FD_SOFT is below $NEED (raise the hard" \
	    "limit: ulimit -Hn, or LimitNOFILE=)"
fi

setup

# A pause that forks nothing (pacing, not synchronisation).
if { exec {nap_fd}<> <(:); } 2>/dev/null; then
	nap() { read -r -t "$1" -u "$nap_fd" _; }
else
	nap() { sleep "$1"; }
fi

# fx NUM DEN DECIMALS: NUM / DEN rounded, with DECIMALS digits.
fx() {
	awk -v n="$1" -v d="$2" -v k="$3" 'BEGIN { printf "%.*f\n", k, n / d }'
}

# commas N: N with thousands separators.
commas() {
	echo "$1" | sed ':a;s/\B[0-9]\{3\}\>/,&/;ta'
}

# status_kib PID FIELD: a /proc/PID/status field, in KiB.
status_kib() {
	awk -v f="$2:" '$1 == f { print $2; found = 1 } END { exit !found }' \
	    "/proc/$1/status" 2>/dev/null
}

# ---- tallyd, with the furl read opaquely --------------------------------

GATHERER_LOG=$T/gatherer.err

# start_tallyd BASEDIR [ARG...]: tallyd with the load's options on a fresh
# BASEDIR; sets GATHERER_PID, FURL, BASE and STATS.
start_tallyd() {
	BASE=$1
	STATS=$BASE/stats
	shift
	: >"$T/gatherer.out"
	: >"$GATHERER_LOG"
	"$TALLYD" -l 127.0.0.1:0 -i "$INTERVAL" \
	    --handshake-timeout "$HS_ARG" --idle-timeout "$IDLE" \
	    --max-connections $((N + S + 100)) \
	    --max-handshakes-per-addr $((N + S + 100)) "${TALLYD_ARGS[@]}" "$@" \
	    "$BASE" >"$T/gatherer.out" 2>"$GATHERER_LOG" </dev/null &
	GATHERER_PID=$!
	NODE_PID[gatherer]=$GATHERER_PID
	wait_for "tallyd to print its furl" furl_printed
	[ "$(cat "$BASE/stats_gatherer.furl")" = "$FURL" ] ||
	    fail "stats_gatherer.furl differs from the furl tallyd printed"
}

furl_printed() {
	local n line

	nodes_alive gatherer
	n=$(wc -l <"$T/gatherer.out") || return 1
	[ "$n" -gt 0 ] || return 1
	line=$(head -n "$n" "$T/gatherer.out" |
	    grep -m 1 -E '^[a-z][a-z0-9+.-]*://') || return 1
	FURL=$line
}

# The transport.  The furl is passed through as tallyd printed it; but if
# it is not tally:// and loadgen cannot complete a handshake with it (a
# loadgen without TLS), the load runs on a plaintext tallyd (--plaintext),
# and the figures say so.  TALLY_LOAD_TRANSPORT=default forbids that.
probe_done() {
	nodes_alive gatherer
	grep -q '^handshaken 1 ' "$T/probe.out" && { PROBE=ok; return 0; }
	grep -q '^loadgen: load-00000: ' "$T/probe.err" &&
	    { PROBE=failed; return 0; }
	node_alive probe || { PROBE=failed; return 0; }
	return 1
}
TRANSPORT_NOTE=
HS_ARG=10
start_tallyd "$T/probe-gatherer"
SCHEME=${FURL%%://*}
if [ "$SCHEME" != tally ]; then
	: >"$T/probe.out"
	: >"$T/probe.err"
	"$LOADGEN" -f "$FURL" -n 1 -m 1 -q >"$T/probe.out" 2>"$T/probe.err" \
	    </dev/null &
	NODE_PID[probe]=$!
	PROBE=
	wait_for "a probe connection to finish its handshake or fail" probe_done
	# A probe that failed may have exited by itself already.
	kill -KILL "${NODE_PID[probe]}" 2>/dev/null
	wait "${NODE_PID[probe]}" 2>/dev/null
	unset "NODE_PID[probe]"
	if [ "$PROBE" = failed ]; then
		note "loadgen cannot complete a $SCHEME:// handshake:" \
		    "$(sed -n 's/^loadgen: load-00000: //p' "$T/probe.err" |
		    head -n 1)"
		[ "${TALLY_LOAD_TRANSPORT:-auto}" = auto ] ||
		    fail "TALLY_LOAD_TRANSPORT=${TALLY_LOAD_TRANSPORT}: no fallback"
		"$TALLYD" -h 2>&1 | grep -q -- --plaintext ||
		    fail "tallyd has no --plaintext to fall back on"
		TALLYD_ARGS+=(--plaintext)
		TRANSPORT_NOTE=" (tallyd --plaintext: this loadgen speaks no $SCHEME://)"
	fi
fi
if [ "$HANDSHAKE" = auto ]; then
	HANDSHAKE=2
	case $TRANSPORT_NOTE:$FURL in
	:tally://*) ;;
	:*)	HANDSHAKE=5 ;;
	esac
fi
stop_gatherer
HS_ARG=$HANDSHAKE
start_tallyd "$T/gatherer"
TRANSPORT="${FURL%%://*}://$TRANSPORT_NOTE"
TALLYD_NOFILE=$(awk '/^Max open files/ { print $4 }' \
    "/proc/$GATHERER_PID/limits")
note "transport $TRANSPORT; tallyd's descriptor limit $TALLYD_NOFILE"
[ "$TALLYD_NOFILE" = unlimited ] || [ "$TALLYD_NOFILE" -ge "$NEED" ] ||
    fail "tallyd's descriptor limit $TALLYD_NOFILE is below $NEED"
RSS0=$(status_kib "$GATHERER_PID" VmRSS)

# ---- the RSS sampler -----------------------------------------------------

# tallyd's VmRSS (KiB) and descriptor count every 0.1 s, one "RSS FDS"
# line each, until tallyd is gone.
rss_sampler() {
	local r f

	while r=$(status_kib "$GATHERER_PID" VmRSS); do
		f=$(ls "/proc/$GATHERER_PID/fd" 2>/dev/null | wc -l)
		echo "$r $f"
		nap 0.1
	done
}
rss_sampler >"$T/rss" &
NODE_PID[rss]=$!

# ---- the load ------------------------------------------------------------

: >"$T/loadgen.out"
"$LOADGEN" -f "$FURL" -n "$N" -m "$M" -s "$S" >"$T/loadgen.out" \
    2>"$T/loadgen.err" </dev/null &
NODE_PID[loadgen]=$!
note "loadgen: $N healthy connections x $M metrics, $S stalled;" \
    "tallyd -i $INTERVAL --handshake-timeout $HANDSHAKE --idle-timeout $IDLE"

# loadgen_line WORD: loadgen printed a line starting with WORD (sets LINE).
loadgen_line() {
	local rc

	if ! node_alive loadgen; then
		wait "${NODE_PID[loadgen]}" 2>/dev/null
		rc=$?
		unset "NODE_PID[loadgen]"
		fail "loadgen exited ($rc): $(tail -n 5 "$T/loadgen.err")"
	fi
	nodes_alive gatherer
	LINE=$(grep -m 1 "^$1 " "$T/loadgen.out") && return 0
	# A connection lost (a failure, or a healthy one closed) is reported
	# at once: no use waiting.  Every loss is a "lost" line on stdout;
	# stderr names only the first ten, which may all be stalled ones.
	# (The one line of a stalled connection closed as it should, "...
	# after S s", is not a loss.)
	grep -q '^lost ' "$T/loadgen.out" &&
	    fail "loadgen: $(grep -c '^lost ' "$T/loadgen.out") connections" \
		"lost:" "$(grep '^loadgen: [a-z]*-[0-9]*: ' "$T/loadgen.err" |
		grep -v ' after [0-9.]* s$' | head -n 3)"
	return 1
}
wait_for -t 60 "loadgen: every connection made" loadgen_line connected
wait_for -t 60 "loadgen: $N handshakes" loadgen_line handshaken
set -- $LINE
[ "$2" = "$N" ] || fail "loadgen: $LINE"
SHAKE_S=$3
wait_for -t $((HANDSHAKE + SLACK + 10)) "the $S stalled connections to be closed" \
    loadgen_line stalled-closed
set -- $LINE
[ "$2" = "$S" ] || fail "loadgen: $LINE"
STALL_S=$3
awk -v s="$STALL_S" -v lim=$((HANDSHAKE + SLACK)) 'BEGIN { exit !(s <= lim) }' ||
    fail "the stalled connections were closed after ${STALL_S}s, over" \
	"the handshake timeout ($HANDSHAKE s) plus ${SLACK}s"
note "handshakes done after ${SHAKE_S}s; stalled closed after ${STALL_S}s"

# ---- the rounds -----------------------------------------------------------

# landed_after T0: print how many load nodes have time > T0, and the oldest
# time among them ("count oldest").
landed_after() {
	db_pairs nodes | awk -F '\t' -v t0="$1" '
		$1 ~ /^load-[0-9]+$/ {
			n = split($2, a, /\\0a/)
			for (i = 1; i <= n; i++)
				if (a[i] ~ /^time=/) {
					t = substr(a[i], 6) + 0
					if (t > t0) c++
					if (oldest == "" || t < oldest) oldest = t
				}
			total++
		}
		END { print c + 0, (oldest == "" ? 0 : oldest), total + 0 }'
}

all_landed() {
	local c oldest total

	nodes_alive gatherer loadgen
	read -r c oldest total < <(landed_after "$1")
	[ "$c" -ge "$N" ]
}

# A node's first poll comes right after its handshake, the second at its
# phase in the interval but at least half an interval later: the first
# round may take up to 1.5 intervals, the later ones one interval (plus up
# to 1 s, since time= is in whole seconds).
ROUND_MS=()
ROUND_RSS=()
rounds_start=$(now_ms)
for ((r = 1; r <= ROUNDS; r++)); do
	t0=$(date +%s)
	start=$(now_ms)
	limit=$((INTERVAL + 1 + SLACK))
	[ "$r" -gt 1 ] || limit=$(( (3 * INTERVAL + 1) / 2 + 1 + SLACK ))
	wait_for -t "$limit" \
	    "round $r: every load node's snapshot newer than $t0" \
	    all_landed "$t0"
	ms=$(( $(now_ms) - start ))
	ROUND_MS+=("$ms")
	rss=$(status_kib "$GATHERER_PID" VmRSS)
	ROUND_RSS+=("$rss")
	note "round $r: all $N landed past $t0 in $(fx "$ms" 1000 2) s;" \
	    "tallyd VmRSS $(fx "$rss" 1024 1) MiB"
done
ROUNDS_S=$(fx $(( $(now_ms) - rounds_start )) 1000 1)

# ---- the end --------------------------------------------------------------

# tallyd's own stats (flushed every interval): connected and errors.
self_id=$(node_id_of tallyd) || fail "no node nicknamed tallyd"
CONNECTED=$(db_get stats "$self_id/tallyd.connected") || CONNECTED=-
ERRORS=$(db_get counters "$self_id/tallyd.errors") || ERRORS=-
HWM=$(status_kib "$GATHERER_PID" VmHWM) || fail "no VmHWM for tallyd"
# The log up to here; stopping loadgen adds a disconnect line per node.
LOG_LINES=$(wc -l <"$GATHERER_LOG")

kill -TERM "${NODE_PID[loadgen]}"
wait_for "loadgen to stop" node_gone loadgen
wait "${NODE_PID[loadgen]}"
lg_rc=$?
unset "NODE_PID[loadgen]"
DONE=$(grep '^done ' "$T/loadgen.out") || fail "loadgen printed no done line"
lg() {
	printf '%s\n' "$DONE" | awk -v k="$1" '{
		for (i = 2; i < NF; i += 2) if ($i == k) print $(i + 1) }'
}
[ "$(lg errors)" = 0 ] || fail "loadgen: $(lg errors) connection errors"
[ "$(lg closed)" = 0 ] ||
    fail "loadgen: tallyd closed $(lg closed) healthy connections"
[ "$(lg stalled_closed)" = "$S" ] ||
    fail "loadgen: $(lg stalled_closed) of $S stalled connections closed"
[ "$lg_rc" -eq 0 ] || fail "loadgen exited $lg_rc: $DONE"

stop_gatherer
wait_for "the RSS sampler to end" node_gone rss
wait "${NODE_PID[rss]}" 2>/dev/null
unset "NODE_PID[rss]"

# What tallyd logged while under load: one handshake timeout per stalled
# connection, and nothing else going wrong (no other timeout, no refusal,
# no accept pause, no disconnection of a healthy node).
head -n "$LOG_LINES" "$GATHERER_LOG" >"$T/gatherer.load.log"
# ("no HELLO within 2 s"; over TLS, "no TLS handshake within 2 s").
HS_RE='no [A-Za-z ]+ within [0-9.]+ s'
NOHELLO=$(grep -cE "$HS_RE" "$T/gatherer.load.log")
[ "$NOHELLO" -eq "$S" ] ||
    fail "tallyd logged $NOHELLO handshake timeouts, want $S"
if grep -vE "$HS_RE" "$T/gatherer.load.log" |
    grep -iE 'timeout|unanswered|idle for|error|refused|pausing|disconnect'
then
	fail "tallyd logged trouble under load (above)"
fi

# The database: the load nodes, none of the stalled ones, and every load
# node polled once per round at least (load.counter.0000 = id * 1000 +
# polls).
mdb_stat -a "$STATS" >"$T/stat" 2>&1 || fail "mdb_stat -a: $(cat "$T/stat")"
"$TALLY" -s "$STATS" check >"$T/check" 2>&1 ||
    fail "tally check: $(cat "$T/check")"
read -r _ _ LOADNODES < <(landed_after 0)
[ "$LOADNODES" -eq "$N" ] || fail "$LOADNODES load nodes in the database"
db_pairs nodes | grep -q '^stall-' &&
    fail "a stalled connection has a slot in the database"
read -r PMIN PMAX < <(db_pairs counters | awk -F '\t' '
	$1 ~ /^load-[0-9]+\/load\.counter\.0000$/ {
		id = substr($1, 6, index($1, "/") - 6) + 0
		p = $2 - id * 1000
		if (min == "" || p < min) min = p
		if (p > max) max = p
	} END { print min + 0, max + 0 }')
[ "$PMIN" -gt "$ROUNDS" ] ||
    fail "a load node was polled only $PMIN times over $ROUNDS rounds"

# RSS: the samples and the high-water mark.
read -r RSS_MAX FDS_MAX < <(awk '
	$1 > r { r = $1 } $2 > f { f = $2 } END { print r + 0, f + 0 }' "$T/rss")
RSS_N=$(wc -l <"$T/rss")
[ "$RSS_MAX" -gt 0 ] || fail "no RSS sample"
[ "$RSS_MAX" -lt $((RSS_MAX_MIB * 1024)) ] ||
    fail "tallyd's RSS reached $(fx "$RSS_MAX" 1024 1) MiB, over $RSS_MAX_MIB MiB"
[ "$HWM" -lt $((RSS_MAX_MIB * 1024)) ] ||
    fail "tallyd's VmHWM is $(fx "$HWM" 1024 1) MiB, over $RSS_MAX_MIB MiB"

# ---- the figures -----------------------------------------------------------

slowest=0
for ms in "${ROUND_MS[@]:1}"; do
	[ "$ms" -gt "$slowest" ] && slowest=$ms
done
rss_first=${ROUND_RSS[0]} rss_last=${ROUND_RSS[${#ROUND_RSS[@]} - 1]}
cat <<EOF

Load test (t/load.sh, $(date -u +%Y-%m-%d), $(nproc) CPUs, $(uname -sr)):

| figure | value |
|---|---|
| descriptor limit (soft / hard; tallyd's own) | $FD_SOFT / $FD_HARD; $TALLYD_NOFILE |
| healthy provider connections | $(commas "$N") × $M metrics, connecting at once |
| stalled connections (half a HELLO, then silence) | $(commas "$S") |
| tallyd options; transport | \`-i $INTERVAL --handshake-timeout $HANDSHAKE --idle-timeout $IDLE\`; $TRANSPORT |
| all $(commas "$N") handshakes done | ${SHAKE_S} s after loadgen started |
| stalled connections dropped (handshake timeout $HANDSHAKE s) | all $(commas "$S") after ${STALL_S} s; $NOHELLO handshake-timeout lines in tallyd's log; nothing of theirs written |
| rounds verified | $ROUNDS consecutive rounds (${ROUNDS_S} s in all, longer than the ${IDLE} s idle timeout): every healthy snapshot landed in each; all of round 1 within $(fx "${ROUND_MS[0]}" 1000 2) s (the second poll may come up to 1.5 intervals after the first), of the later rounds within $(fx "$slowest" 1000 2) s at worst (the interval, $INTERVAL s, plus up to 1 s: time= has 1 s resolution); each node polled $PMIN–$PMAX times |
| healthy connections dropped, loadgen errors | $(lg closed), $(lg errors) |
| tallyd RSS | $(fx "$RSS0" 1024 1) MiB idle → $(fx "$rss_first" 1024 1) MiB after round 1 → $(fx "$rss_last" 1024 1) MiB after round $ROUNDS; max sampled $(fx "$RSS_MAX" 1024 1) MiB ($RSS_N samples, every 0.1 s), VmHWM $(fx "$HWM" 1024 1) MiB; bound $RSS_MAX_MIB MiB |
| tallyd descriptors at peak | $(commas "$FDS_MAX") |
| tallyd's own stats | tallyd.connected $CONNECTED, tallyd.errors $ERRORS |
EOF
exit 0
