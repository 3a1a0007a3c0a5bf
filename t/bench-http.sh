#!/bin/bash
# bench-http.sh: tallyd --http's figures for `make bench`, in
# t/bench-gatherer.sh's table format.  It prints figures and never passes
# or fails on them.  It exits non-zero only when a part did not run as
# described, and then prints no figure for it: tallyd did not start or
# died, a scrape failed or did not cover the whole fleet, or a connection
# of the fleet was lost.
#
# usage: bench-http.sh BUILDDIR	(its tallyd, tally, t/loadgen and
#				 contrib/tally-demo-node)
#
# 1. A scrape: a statsfile of BENCH_HTTP_NODES (1,000) nodes x
#    BENCH_HTTP_METRICS (200) metrics, half counters, half stats, built
#    with the stock mdb_load as t/bench-cli.sh builds its own; tallyd
#    --http on it (no provider connected), and the wall time of one GET
#    /metrics (curl's time_total, the body to /dev/null), plain and with
#    Accept-Encoding: gzip (curl does not inflate it), beside `tally -s
#    STATSFILE export --prometheus > /dev/null` on the same statsfile
#    (its whole process).  BENCH_HTTP_REPEAT (5) runs of each, in turns,
#    so that a neighbour's load falls on all three; medians compared,
#    target at most 1.5x.  Before any figure, one scrape of each kind is
#    checked to hold every sample of every node, byte for byte as tally
#    export writes it; each timed scrape must answer 200 with a body of
#    that size (to 1%: tallyd's own node changes beside the fleet).
# 2. Polls while a scraper pulls /metrics: tallyd --http -i
#    BENCH_HTTP_INTERVAL (1) --plaintext, a fleet of loadgen connections
#    (BENCH_HTTP_NODES x BENCH_HTTP_METRICS) kept connected; loadgen
#    measures every gap between two consecutive polls of one connection
#    (its `gaps` line at each SIGUSR2).  After the first rounds (3 x the
#    fleet answered), BENCH_HTTP_WINDOWS (2) turns of three windows of
#    BENCH_HTTP_WINDOW (5) seconds: nothing beside the polls; a scraper
#    that GETs /metrics in a loop (curl, one at a time, as fast as answers
#    come); and, for comparison, `tally export --prometheus` of the same
#    statsfile in a loop (the same work, outside tallyd: what a busy
#    machine alone does to the polls).  The worst gap less the interval
#    (the fleet's worst poll delay) with the scraper, beside the same
#    without, worst of each kind's windows; the gaps of a loop's start
#    and wind-down go in none.  The figure stands only if loadgen lost
#    no connection, tallyd logged each of the fleet connected and none
#    gone, every scrape answered 200 (every export exited 0), and a last
#    scrape held every sample of every load node.
#
# Environment: BENCH_HTTP_NODES, BENCH_HTTP_METRICS, BENCH_HTTP_REPEAT,
# BENCH_HTTP_INTERVAL (whole seconds), BENCH_HTTP_WINDOW,
# BENCH_HTTP_WINDOWS, BENCH_HTTP_PHASES (scrape poll; default both),
# BENCH_LOADGEN_THREADS (one per CPU), BENCH_DEADLINE (seconds a start or
# the first rounds may take, 60), BENCH_KEEP=1 keeps the temporary
# directory and prints its name.
# Needs bash 5, curl, gzip, awk and lmdb-utils (mdb_load); no python.

if [ -z "$BASH_VERSION" ]; then
	exec bash "$0" "$@"
fi
set -u
export LC_ALL=C		# a '.' in EPOCHREALTIME and in printf's numbers

if [ $# -ne 1 ]; then
	echo "usage: $0 BUILDDIR" >&2
	exit 2
fi
B=$1
N=${BENCH_HTTP_NODES:-1000}
M=${BENCH_HTTP_METRICS:-200}
REPEAT=${BENCH_HTTP_REPEAT:-5}
IV=${BENCH_HTTP_INTERVAL:-1}
WIN=${BENCH_HTTP_WINDOW:-5}
WINS=${BENCH_HTTP_WINDOWS:-2}
DEADLINE=${BENCH_DEADLINE:-60}
LG_THREADS=${BENCH_LOADGEN_THREADS:-$(nproc 2> /dev/null || echo 1)}
PHASES=" ${BENCH_HTTP_PHASES:-scrape poll} "
phase() { [[ $PHASES == *" $1 "* ]]; }
TALLYD=$B/tallyd TALLY=$B/tally LOADGEN=$B/t/loadgen
DEMO=$B/contrib/tally-demo-node

for prog in "$TALLYD" "$TALLY" "$LOADGEN" "$DEMO"; do
	if [ ! -x "$prog" ]; then
		echo "bench-http: $prog: not an executable" >&2
		exit 2
	fi
done
for tool in curl gzip awk mdb_load grep; do
	if ! command -v "$tool" > /dev/null; then
		echo "bench-http: $tool not found (curl, gzip, awk," \
		    "lmdb-utils, grep)" >&2
		exit 2
	fi
done
if [ -z "${EPOCHREALTIME:-}" ]; then
	echo "bench-http: needs bash 5 (EPOCHREALTIME)" >&2
	exit 2
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tally-bench-http.XXXXXX") || exit 1
pids=()
cleanup() {
	local pid
	[ -n "${S_PID:-}" ] && : > "$tmp/loop.stop"
	for pid in "${pids[@]}"; do
		stop "$pid" "process $pid"
	done
	if [ "${BENCH_KEEP:-0}" = 1 ]; then
		echo "bench-http: kept $tmp" >&2
	else
		rm -rf "$tmp"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ulimit -n "$(ulimit -Hn)" 2> /dev/null
CLK_TCK=$(getconf CLK_TCK 2> /dev/null || echo 100)

# nap, now_us, fx, commas, cpu_ticks, alive, stop, tail_log
ME=bench-http
# shellcheck source=t/bench-lib.sh
. "$(dirname "$0")/bench-lib.sh"

broken() {
	echo "bench-http: $*" >&2
	exit 1
}

row() {
	printf '%-44s %12s %12s %8s %s\n' "$@"
}

# median LIST: REPLY = the median of the integers in LIST.
median() {
	local sorted
	sorted=($(printf '%s\n' $1 | sort -n))
	REPLY=${sorted[$(( ${#sorted[@]} / 2 ))]}
}

# list LIST: REPLY = the microseconds of LIST as seconds, 3 decimals.
list() {
	local t out=
	for t in $1; do
		fx "$t" 1000000 3
		out+="$REPLY "
	done
	REPLY=${out% }
}

# us SECONDS: REPLY = SECONDS (6 decimals, as curl and loadgen print
# them) in microseconds.
us() {
	local s=$1 frac
	[[ $s == *.* ]] || s=$s.0
	frac=${s#*.}000000
	REPLY=$(( 10#${s%%.*} * 1000000 + 10#${frac:0:6} ))
}

# fleet_lines FILE PREFIX: the sample lines of nodes PREFIX-NNNNN, less
# their snapshot times (as t/bench-cli.sh counts them).
fleet_lines() {
	grep -v -e '^#' -e '^tally_node_last_snapshot' "$1" |
	    grep "{node=\"$2-"
}

# node_count FILE: the nodes in FILE's sample lines.
node_count() {
	sed 's/^[^{]*{node="\([^"]*\)".*/\1/' "$1" | sort -u | wc -l
}

# start_tallyd NAME ARG...: tallyd --http on an ephemeral loopback port,
# BASEDIR $tmp/NAME.  Sets G_PID, G_ERR, G_FURL, G_URL (/metrics).
start_tallyd() {
	local name=$1 i line
	shift
	G_ERR=$tmp/$name.err G_OUT=$tmp/$name.out G_FURL= G_URL=
	: > "$G_OUT"
	: > "$G_ERR"
	"$TALLYD" -l 127.0.0.1:0 --plaintext --http 127.0.0.1:0 "$@" \
	    "$tmp/$name" > "$G_OUT" 2> "$G_ERR" &
	G_PID=$!
	pids+=("$G_PID")
	for ((i = 0; i < 500; i++)); do
		if ! alive "$G_PID"; then
			tail_log "$G_ERR"
			broken "$name: tallyd exited at start"
		fi
		while read -r line; do
			case $line in
			tally://*) G_FURL=$line ;;
			esac
		done < "$G_OUT"
		while read -r line; do
			case $line in
			"tallyd: http: listening on "*)
				G_URL=${line#tallyd: http: listening on }
				G_URL=${G_URL%/}/metrics ;;
			esac
		done < "$G_ERR"
		[ -n "$G_FURL" ] && [ -n "$G_URL" ] && return 0
		nap 0.02
	done
	tail_log "$G_ERR"
	broken "$name: tallyd printed no furl or http address in 10 s"
}

# stop_tallyd NAME: SIGTERM, and a clean exit, else the run is broken.
stop_tallyd() {
	stop "$G_PID" tallyd
	if [ "$REPLY" -ne 0 ]; then
		tail_log "$G_ERR" 5
		broken "$1: tallyd exited $REPLY on SIGTERM"
	fi
}

# scrape OUT [CURL ARG...]: one GET of G_URL, its body to OUT.  Sets
# S_CODE, S_SIZE (bytes received) and S_US (curl's time_total).
scrape() {
	local out=$1 w
	shift
	w=($(curl -s -o "$out" -w '%{http_code} %{size_download} %{time_total}' \
	    "$@" "$G_URL"))
	S_CODE=${w[0]:-000} S_SIZE=${w[1]:-0}
	us "${w[2]:-0.0}"; S_US=$REPLY
}

read -r load1 load5 _ < /proc/loadavg
printf '\ntally --http benchmarks, %s CPUs, load average %s %s\n\n' \
    "$(nproc 2> /dev/null || echo '?')" "$load1" "$load5"
row figure tally reference ratio target
commas "$N"; cn=$REPLY
commas "$M"; cm=$REPLY

# --- 1. a scrape beside tally export ---------------------------------------

scrape_phase() {
	local D=$tmp/scrape now n i t0 t1
	local a_plain= a_gz= a_export= size_plain size_gz mp mg me x
	mkdir -p "$D/stats"
	# A real tally environment (meta/format and the four tables), then
	# the bulk, as t/bench-cli.sh makes it.
	"$DEMO" -s "$D/stats" -n seed -i 0.1 -d 0.2 -r 0 > /dev/null ||
	    broken "scrape: tally-demo-node failed"
	now=$(date +%s)
	hdr() { printf 'VERSION=3\nformat=print\ntype=btree\nmapsize=4294967296\nHEADER=END\n'; }
	{ hdr; awk -v n="$N" -v t="$now" 'BEGIN { for (i = 0; i < n; i++)
		printf " node-%05d\n nickname=storage %05d\\0atime=%d\\0asource=local\\0ainterval=10\\0a\n", i, i, t - i }'
	  echo DATA=END; } | mdb_load -s nodes "$D/stats" &&
	{ hdr; awk -v n="$N" -v m="$M" 'BEGIN { for (i = 0; i < n; i++) for (j = 0; j < m / 2; j++)
		printf " node-%05d/storage_server.ops_%04d\n %d\n", i, j, i * 7919 + j * 104729 }'
	  echo DATA=END; } | mdb_load -s counters "$D/stats" &&
	{ hdr; awk -v n="$N" -v m="$M" 'BEGIN { for (i = 0; i < n; i++) for (j = 0; j < m / 2; j++)
		printf " node-%05d/storage_server.latencies.get_%04d\n %.17g\n", i, j, (i + 1) / (j + 3) }'
	  echo DATA=END; } | mdb_load -s stats "$D/stats" ||
	    broken "scrape: mdb_load failed"

	start_tallyd scrape-tallyd -s "$D/stats"

	# The whole fleet, byte for byte as tally export writes it, in a
	# scrape of each kind; these runs also warm the page cache.
	"$TALLY" -s "$D/stats" export --prometheus > "$D/export.txt" ||
	    broken "scrape: tally export failed"
	fleet_lines "$D/export.txt" node > "$D/export.fleet"
	n=$(wc -l < "$D/export.fleet")
	i=$(node_count "$D/export.fleet")
	((n == N * M && i == N)) ||
	    broken "scrape: tally export: $n values of $i nodes, not" \
	    "$((N * M)) of $N: the fleet is short; no figure"
	scrape "$D/scrape.txt"
	[ "$S_CODE" = 200 ] ||
	    broken "scrape: GET /metrics answered $S_CODE:" \
	    "$(head -c 300 "$D/scrape.txt")"
	size_plain=$S_SIZE
	fleet_lines "$D/scrape.txt" node > "$D/scrape.fleet"
	cmp -s "$D/export.fleet" "$D/scrape.fleet" ||
	    broken "scrape: /metrics: $(wc -l < "$D/scrape.fleet") values," \
	    "not tally export's $((N * M)) (or not the same bytes): no figure"
	scrape "$D/scrape.gz" -H 'Accept-Encoding: gzip' -D "$D/gz.headers"
	[ "$S_CODE" = 200 ] ||
	    broken "scrape: GET /metrics (gzip) answered $S_CODE"
	grep -qi '^content-encoding: gzip' "$D/gz.headers" ||
	    broken "scrape: /metrics answered Accept-Encoding: gzip unzipped"
	size_gz=$S_SIZE
	gzip -dc < "$D/scrape.gz" > "$D/scrape-gz.txt" ||
	    broken "scrape: /metrics (gzip): not gzip"
	fleet_lines "$D/scrape-gz.txt" node > "$D/scrape.fleet"
	cmp -s "$D/export.fleet" "$D/scrape.fleet" ||
	    broken "scrape: /metrics (gzip): $(wc -l < "$D/scrape.fleet")" \
	    "values, not tally export's $((N * M)): no figure"
	rm -f "$D"/*.txt "$D"/*.fleet "$D/scrape.gz"

	# ok SIZE: this run's answer was 200 and of SIZE, to 1%.
	ok() {
		[ "$S_CODE" = 200 ] && ((S_SIZE * 100 >= $1 * 99 &&
		    S_SIZE * 100 <= $1 * 101)) ||
		    broken "scrape: a timed GET /metrics answered $S_CODE," \
		    "$S_SIZE bytes, not 200 and about $1; no figure"
	}
	for ((i = 0; i < REPEAT; i++)); do
		now_us; t0=$REPLY
		"$TALLY" -s "$D/stats" export --prometheus > /dev/null ||
		    broken "scrape: tally export failed"
		now_us; t1=$REPLY
		a_export+=" $((t1 - t0))"
		scrape /dev/null
		ok "$size_plain"
		a_plain+=" $S_US"
		scrape /dev/null -H 'Accept-Encoding: gzip'
		ok "$size_gz"
		a_gz+=" $S_US"
	done
	alive "$G_PID" || { tail_log "$G_ERR"; broken "scrape: tallyd died"; }
	if grep -v '^tallyd: http: listening ' "$G_ERR" |
	    grep -q '^tallyd: http: '; then
		tail_log "$G_ERR" 5
		broken "scrape: tallyd logged an http error"
	fi
	stop_tallyd scrape

	median "$a_plain"; mp=$REPLY
	median "$a_gz"; mg=$REPLY
	median "$a_export"; me=$REPLY
	echo
	fx "$mp" 1000000 3; t0=$REPLY
	fx "$me" 1000000 3; t1=$REPLY
	fx "$mp" "$me" 2; x=$REPLY
	fx "$size_plain" 1000000 1
	row "/metrics scrape, $cn nodes x $cm metrics" "$t0 s" "$t1 s" \
	    "${x}x" "<= 1.5x tally export --prometheus ($REPLY MB)"
	fx "$mg" 1000000 3; t0=$REPLY
	fx "$mg" "$me" 2; x=$REPLY
	fx "$size_gz" 1000000 1
	row "  the same, Accept-Encoding: gzip" "$t0 s" "$t1 s" "${x}x" \
	    "(context: $REPLY MB sent, not inflated)"
	list "$a_plain"; t0=$REPLY
	list "$a_gz"; t1=$REPLY
	list "$a_export"
	echo "  the runs, in seconds: scrape $t0; gzip $t1; export $REPLY"
	echo "  fleet: each scrape kind held all $((N * M)) values of the" \
	    "$cn nodes, byte for byte as tally export"
}
phase scrape && scrape_phase

# --- 2. polls while a scraper pulls /metrics -------------------------------

# lg_check: loadgen and tallyd alive, no connection lost.
lg_check() {
	alive "$G_PID" || { tail_log "$G_ERR"; broken "poll: tallyd died"; }
	if ! alive "$L_PID"; then
		tail_log "$L_OUT"
		tail_log "$L_ERR" 5
		broken "poll: loadgen exited"
	fi
	if grep -q '^lost ' "$L_OUT"; then
		nap 1
		tail_log "$L_ERR" 5
		grep '^tallyd: node load-' "$G_ERR" | head -n 3 >&2
		broken "poll: loadgen lost $(grep -c '^lost ' "$L_OUT") of" \
		    "$N connections; no figure"
	fi
}

# gap_mark: close loadgen's gap window (SIGUSR2) and open the next.  Sets
# GAP_K (gaps in the window) and GAP_US (the longest, us).
GAP_LINES=0
gap_mark() {
	local i w
	kill -USR2 "$L_PID"
	GAP_LINES=$((GAP_LINES + 1))
	for ((i = 0; i < 500; i++)); do
		(($(grep -c '^gaps ' "$L_OUT") >= GAP_LINES)) && break
		nap 0.01
	done
	w=($(grep '^gaps ' "$L_OUT" | tail -n 1))
	(($(grep -c '^gaps ' "$L_OUT") >= GAP_LINES)) && [ ${#w[@]} -ge 3 ] ||
	    broken "poll: loadgen printed no gaps line on SIGUSR2"
	GAP_K=${w[1]}
	us "${w[2]}"; GAP_US=$REPLY
}

# looper_start KIND: http (curl GETs G_URL) or export (tally export
# --prometheus of tallyd's statsfile, the same work outside tallyd) in a
# loop, one at a time, until $tmp/loop.stop appears; a line each in
# $tmp/KIND.log: the code (HTTP's, or the exit status), the bytes and the
# seconds (curl's time_total; export's are not timed).
looper_start() {
	rm -f "$tmp/loop.stop"
	case $1 in
	http)
		while [ ! -e "$tmp/loop.stop" ]; do
			curl -s -o /dev/null -w \
			    '%{http_code} %{size_download} %{time_total}\n' \
			    "$G_URL"
		done >> "$tmp/http.log" &
		;;
	export)
		while [ ! -e "$tmp/loop.stop" ]; do
			"$TALLY" -s "$G_STATS" export --prometheus > /dev/null \
			    2>> "$tmp/export.err"
			echo "$? - -"
		done >> "$tmp/export.log" &
		;;
	esac
	S_PID=$!
	pids+=("$S_PID")
}
# looper_stop: the loop ends after its current run (up to 10 s).
looper_stop() {
	local i
	: > "$tmp/loop.stop"
	for ((i = 0; i < 500; i++)); do
		alive "$S_PID" || break
		nap 0.02
	done
	stop "$S_PID" "the $1 loop"
	S_PID=
}

# window KIND: WIN seconds of polls with KIND running beside them (none,
# http or export).  Keeps the worst gap of KIND's windows in W_US[KIND]
# (us), and adds up their gaps (W_K) and tallyd's CPU (W_CPU, ticks).  The
# gaps of a loop's start and wind-down go in no window.
declare -A W_US=() W_K=() W_CPU=()
window() {
	local kind=$1 g0
	if [ "$kind" != none ]; then
		looper_start "$kind"
		gap_mark
	fi
	cpu_ticks "$G_PID"; g0=$REPLY
	nap "$WIN"
	gap_mark
	cpu_ticks "$G_PID"
	W_CPU[$kind]=$(( ${W_CPU[$kind]:-0} + REPLY - g0 ))
	W_K[$kind]=$(( ${W_K[$kind]:-0} + GAP_K ))
	((GAP_US > ${W_US[$kind]:-0})) && W_US[$kind]=$GAP_US
	if [ "$kind" != none ]; then
		looper_stop "$kind"
		gap_mark
	fi
	lg_check
}

poll_phase() {
	local i t_end n k size x d d_off d_off_s kind cpu
	start_tallyd poll-tallyd -i "$IV" --poll-timeout $((10 * IV)) \
	    --max-connections $((2 * N + 100))
	G_STATS=$tmp/poll-tallyd/stats
	L_OUT=$tmp/loadgen.out L_ERR=$tmp/loadgen.err
	"$LOADGEN" -f "$G_FURL" -n "$N" -m "$M" -t "$LG_THREADS" -q \
	    > "$L_OUT" 2> "$L_ERR" &
	L_PID=$!
	pids+=("$L_PID")
	# The first rounds: a connection's first two polls may be 1.5
	# intervals apart; after three answers per connection, none is.
	now_us; t_end=$((REPLY + DEADLINE * 1000000))
	until grep -q "^answered $((3 * N)) " "$L_OUT"; do
		lg_check
		now_us
		((REPLY < t_end)) || { tail_log "$L_OUT"; broken "poll: the" \
		    "fleet's first 3 rounds not done in $DEADLINE s"; }
		nap 0.05
	done
	gap_mark		# the first rounds' gaps go in no figure
	: > "$tmp/http.log"
	: > "$tmp/export.log"
	for ((i = 0; i < WINS; i++)); do
		window none
		window http
		window export
	done

	# The loops' runs: every scrape 200, every export 0; a last scrape,
	# taken now, holds every value of every load node.
	n=$(wc -l < "$tmp/http.log")
	k=$(grep -vc '^200 ' "$tmp/http.log")
	((n > 0 && k == 0)) ||
	    broken "poll: $k of $n scrapes did not answer 200:" \
	    "$(grep -v '^200 ' "$tmp/http.log" | head -n 3)"
	k=$(grep -vc '^0 ' "$tmp/export.log")
	(($(wc -l < "$tmp/export.log") > 0 && k == 0)) ||
	    broken "poll: $k tally exports failed: $(head -n 3 "$tmp/export.err")"
	scrape "$tmp/last.txt"
	[ "$S_CODE" = 200 ] || broken "poll: the last scrape answered $S_CODE"
	fleet_lines "$tmp/last.txt" load > "$tmp/last.fleet"
	k=$(wc -l < "$tmp/last.fleet")
	size=$(node_count "$tmp/last.fleet")
	((k == N * M && size == N)) ||
	    broken "poll: the last scrape held $k values of $size load nodes," \
	    "not $((N * M)) of $N: the fleet is short; no figure"
	rm -f "$tmp/last.txt" "$tmp/last.fleet"
	lg_check
	i=$(grep -c '^tallyd: connected node load-' "$G_ERR")
	k=$(grep -c -e '^tallyd: disconnected node load-' \
	    -e '^tallyd: node load-' "$G_ERR")
	((i == N && k == 0)) ||
	    broken "poll: tallyd logged $i of the fleet connected and $k" \
	    "gone or in trouble, not $N and 0; no figure"

	# The figures: a delay is the worst gap less the interval.
	echo
	d_off=$((W_US[none] - IV * 1000000))
	fx "$d_off" 1000000 3; d_off_s=$REPLY
	for kind in http export; do
		d=$((W_US[$kind] - IV * 1000000))
		x=-
		((d_off >= 1000)) && { fx "$d" "$d_off" 2; x=${REPLY}x; }
		fx "$d" 1000000 3
		if [ "$kind" = http ]; then
			row "fleet's worst poll delay, /metrics scraped" \
			    "$REPLY s" "$d_off_s s" "$x" \
			    "(context: -i $IV; vs no scraper, same run)"
		else
			row "  the same, tally export looping instead" \
			    "$REPLY s" "$d_off_s s" "$x" \
			    "(context: that work outside tallyd)"
		fi
	done
	fx "${W_US[http]}" 1000000 3; x=$REPLY
	fx "${W_US[none]}" 1000000 3; d=$REPLY
	commas "${W_K[http]}"; k=$REPLY
	commas "${W_K[none]}"
	row "  worst gap between two polls, scraped" "$x s" "$d s" - \
	    "(context: of $k and $REPLY gaps)"
	fx $((W_CPU[http] * 1000000 / CLK_TCK / (WINS * WIN))) 1000000 2
	cpu=$REPLY
	fx $((W_CPU[none] * 1000000 / CLK_TCK / (WINS * WIN))) 1000000 2
	row "  tallyd CPU per second, scraped" "$cpu s" "$REPLY s" - \
	    "(context: its loop and http thread, not its readers)"
	median "$(while read -r _ _ t; do us "$t"; echo "$REPLY"; done \
	    < "$tmp/http.log")"
	fx "$REPLY" 1000000 3
	row "  scrapes while polled, median time" "$REPLY s" - - \
	    "(context: $n scrapes, all 200, in $((WINS * WIN)) s)"
	echo "  fleet: $cn connections x $cm metrics (plaintext, loadgen" \
	    "-t $LG_THREADS), windows of $WIN s, $WINS of each kind; none lost," \
	    "and a last scrape held all $((N * M)) values"

	stop "$L_PID" loadgen
	((REPLY == 0)) || { tail_log "$L_ERR" 5; broken "poll: loadgen" \
	    "exited $REPLY (a connection failed)"; }
	stop_tallyd poll
}
phase poll && poll_phase
exit 0
