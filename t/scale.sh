#!/bin/bash
# scale.sh: `make scale`, a fleet of SCALE_PROVIDERS (10,000) providers
# of SCALE_METRICS (200) metrics each against one tallyd on this machine,
# plaintext and then TLS 1.3.  For each transport it prints the first
# round's time (connections, handshakes and HELLOs included), a steady
# round's time, tallyd's peak RSS (VmHWM) and tallyd's CPU per round
# (utime + stime from /proc/PID/stat over the round), then
# "fleet: 10,000 of 10,000" once every provider was seen landing every
# round from both ends.  A transport that lost a provider prints no
# figure, says what was lost, and makes the script exit 1 (after the
# other transport has run).  Exit 2: a usage or setup error.
#
# usage: scale.sh TALLYD LOADGEN
#
# Rounds.  The first round runs from loadgen's start until every
# provider's first snapshot is committed (N load nodes in the statsfile,
# every counter and stat entry there, and loadgen's "answered N").  Later
# polls keep to each node's phase, a hash of its id, so a steady round is
# spread over the interval: its time is loadgen's, from its 2N-th answer
# to its 4N-th, halved (rounds 3 and 4), and equals the interval while
# tallyd keeps pace; tallyd's CPU over those two rounds, halved, is what a
# round costs it with the connections up.
#
# Every provider lands every round, from both ends:
#  - loadgen: no `lost` line (no connection failed or was closed), its
#    "answered K" lines for K = N, 2N, 3N and 4N, and at its stop no
#    error, no close and no dropped poll in its `done` line;
#  - the statsfile: after the first round N load nodes with all their
#    entries (mdb_stat -a, mdb_dump of `nodes`).  Every node's record
#    `time` is read every quarter interval from loadgen's start: a
#    node's polls are at least half an interval apart, so each new time
#    is one snapshot landed, and none is overwritten unseen.  Each node
#    must be seen landing 4 snapshots or more, never more than 1.5
#    intervals (+1 s) apart (the first two polls are half an interval to
#    1.5 apart, later ones one interval: a skipped poll makes a gap of
#    two), and one within the last 1.5 intervals (looks more than half
#    an interval apart fail the phase: one could have missed a
#    snapshot); after loadgen and then tallyd stopped (tallyd commits
#    what it read), each node's count of snapshots, which loadgen
#    writes into its counter load.counter.0000 (node number x 1000 +
#    polls answered), at least 4, and their sum equal to the
#    answers loadgen sent: not one snapshot lost between the two.
#
# The choices, for a 2-CPU machine that runs tallyd, loadgen (both
# sides' TLS) and this script at once:
#  - tallyd -i SCALE_INTERVAL (20): a steady round of 2,000,000 samples
#    costs tallyd about 3 s of CPU here, plaintext or TLS (most of it
#    LMDB's page writes and the values' text), so 20 s leaves its loop
#    idle 85% of each interval beside loadgen, and four rounds take
#    about 80 s a transport.  At -i 5 tallyd would need 60% of a CPU for
#    the rounds alone, and the TLS fleet's first round (about 13 s of
#    handshakes) would run into its third.
#  - --poll-timeout equal to the interval (tallyd's default is half): a
#    poll that waits a whole interval is lost anyway, and the first
#    round's polls go out right after each HELLO while the handshake
#    thread and loadgen hold both CPUs; t/bench-gatherer.sh's steady
#    phase saw half the interval lose first polls at high load.
#  - --handshake-timeout SCALE_HS_TIMEOUT (30, default 10): with a window
#    of 500 the slowest handshake here takes about 1 s, but the timeout
#    runs from accept(), and on a busy machine (t/bench-gatherer.sh saw
#    9.8 s at load average 17) the default would cut a fleet rather than
#    measure it.
#  - --first-flight-timeout the same (default 3 s, from accept() to the
#    ClientHello's first byte): loadgen is one process for the whole
#    fleet, on the 2 CPUs that tallyd and the machine's other work use,
#    and under load it sends some ClientHellos late: at -w 2000 and a
#    load average of 9 tallyd rightly closed 321 connections as silent,
#    all of them loadgen's lateness.  A real node sends its ClientHello
#    within a round trip of its connect; the timeout is for silent peers,
#    which this fleet has none of.
#  - --max-connections N + 100 and --max-handshakes-per-addr N + 100:
#    the default connection limit is 10,000, the fleet with no room for a
#    reconnection, and all of the fleet comes from 127.0.0.1, where a real
#    one comes from as many addresses.
#  - --tls-threads: tallyd's default, one handshake thread beside the
#    loop on 2 CPUs.
#  - loadgen -t SCALE_THREADS (a thread per CPU): a fleet's client
#    handshakes run on machines of their own; one thread doing 10,000 in
#    a row would bill the fleet's latency to the gatherer.
#  - loadgen -w SCALE_WINDOW (500): at most 500 connections connecting or
#    in their handshake at once.  10,000 at once (-w 0) overflows the
#    listen backlog (net.core.somaxconn, 4096 here; tallyd asks 4096:
#    SYNs retried after 1 s), queues 10,000 handshakes on tallyd's one
#    handshake thread (about 10 s for the last), and makes loadgen send
#    ClientHellos late (598 closed at the default first-flight timeout
#    in a trial).  With 500, a handshake waits under a second here; 2,000
#    made neither round faster.
#  - the first round's CPU holds the kernel's work for nodes.lock: tallyd
#    takes an open file description lock per node id at its HELLO, and
#    Linux keeps a file's locks in one list that every lock and unlock
#    walks, so the fleet's locks cost O(N^2): 10,000 locks on one file
#    took 1.7 s of CPU in a separate test here (1,000: 9 ms; 30,000:
#    28 s).  See README, Performance.
#  - descriptors: each side holds one per connection; the script raises
#    its soft limit to the hard one, and needs N + 200; tallyd raises its
#    own to --max-connections + 64.
#  - ports: every connection is 127.0.0.1 to one port, so each needs an
#    ephemeral port of its own: net.ipv4.ip_local_port_range (32768-60999
#    on Debian, 28,232 ports) holds one fleet.  The plaintext fleet's
#    sockets sit in TIME_WAIT for 60 s after it stops (loadgen closes
#    first); with net.ipv4.tcp_tw_reuse 0 they are not reusable, and the
#    TLS fleet needs N more.  The script counts the free ports before
#    each fleet and stops with what to change when they are short; no
#    second listen address was needed here.
#
# Environment: SCALE_PROVIDERS (10000), SCALE_METRICS (200),
# SCALE_INTERVAL (20, whole seconds), SCALE_POLL_TIMEOUT (the interval),
# SCALE_HS_TIMEOUT (30), SCALE_WINDOW (500), SCALE_THREADS (nproc),
# SCALE_DEADLINE (seconds the first round may take, 180), SCALE_MODES
# ("plain tls"), SCALE_KEEP=1 keeps the temporary directory.
# Only bash, coreutils, grep, procps and lmdb-utils; no awk, bc or python.

if [ -z "$BASH_VERSION" ]; then
	exec bash "$0" "$@"
fi
set -u
export LC_ALL=C		# a '.' in EPOCHREALTIME and in printf's numbers
ME=scale

if [ $# -ne 2 ]; then
	echo "usage: $0 TALLYD LOADGEN" >&2
	exit 2
fi
TALLYD=$1
LOADGEN=$2
N=${SCALE_PROVIDERS:-10000}
M=${SCALE_METRICS:-200}
IV=${SCALE_INTERVAL:-20}
POLL_TIMEOUT=${SCALE_POLL_TIMEOUT:-$IV}
HS_TIMEOUT=${SCALE_HS_TIMEOUT:-30}
WINDOW=${SCALE_WINDOW:-500}
THREADS=${SCALE_THREADS:-$(nproc 2> /dev/null || echo 1)}
DEADLINE=${SCALE_DEADLINE:-180}
MODES=${SCALE_MODES:-plain tls}
POLL=0.05		# seconds between looks at the database
ROUNDS=4			# rounds a phase runs, the first included
MAX_GAP=$(( (3 * IV + 1) / 2 + 1 ))	# s between two snapshots of a node, at most
OBSERVE_MS=$((IV * 1000 / 4))	# between two looks at every node
OBSERVE_MAX_MS=$((IV * 1000 / 2 - 500))	# a look later than this may miss one

for prog in "$TALLYD" "$LOADGEN"; do
	if [ ! -x "$prog" ]; then
		echo "$ME: $prog: not an executable" >&2
		exit 2
	fi
done
for tool in mdb_stat mdb_dump grep; do
	if ! command -v "$tool" > /dev/null; then
		echo "$ME: $tool not found (lmdb-utils, grep)" >&2
		exit 2
	fi
done
if [ -z "${EPOCHREALTIME:-}" ]; then
	echo "$ME: needs bash 5 (EPOCHREALTIME)" >&2
	exit 2
fi
if ((N < 1 || N > 99999 || M < 2 || IV < 2)); then
	echo "$ME: SCALE_PROVIDERS 1-99999, SCALE_METRICS 2 or more," \
	    "SCALE_INTERVAL 2 or more" >&2
	exit 2
fi

pids=()
. "$(dirname "$0")/bench-lib.sh"

# Descriptors: a connection each, on each side.
ulimit -n "$(ulimit -Hn)" 2> /dev/null
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt $((N + 200)) ]; then
	echo "$ME: the descriptor limit is $(ulimit -n) (hard $(ulimit -Hn))," \
	    "below the $((N + 200)) a fleet of $N needs on each side: raise" \
	    "the hard limit (as root, ulimit -Hn; or limits.conf)" >&2
	exit 2
fi
CLK_TCK=$(getconf CLK_TCK 2> /dev/null || echo 100)

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tally-scale.XXXXXX") || exit 2
cleanup() {
	local pid
	for pid in "${pids[@]}"; do
		stop "$pid" "process $pid"
	done
	if [ "${SCALE_KEEP:-0}" = 1 ]; then
		echo "$ME: kept $tmp" >&2
	else
		rm -rf "$tmp"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ports_check: enough ephemeral ports for a fleet to one address and port,
# or exit 2 saying what to change.
ports_check() {
	local lo hi range used reuse
	read -r lo hi < /proc/sys/net/ipv4/ip_local_port_range || return 0
	read -r reuse < /proc/sys/net/ipv4/tcp_tw_reuse || reuse=0
	range=$((hi - lo + 1))
	# every TCP socket of the machine, less those in TIME_WAIT (state
	# 06) when connect() may reuse them (tcp_tw_reuse 1, or 2 on loopback)
	if [ "$reuse" = 0 ]; then
		used=$(cat /proc/net/tcp /proc/net/tcp6 2> /dev/null |
		    grep -c ':')
	else
		used=$(cat /proc/net/tcp /proc/net/tcp6 2> /dev/null |
		    grep ':' | grep -vc '^ *[0-9]*: [0-9A-F:]* [0-9A-F:]* 06 ')
	fi
	if ((range - used < N + 100)); then
		echo "$ME: $range ephemeral ports ($lo-$hi), $used sockets in" \
		    "use (tcp_tw_reuse $reuse): fewer than the $N a fleet" \
		    "needs to one address.  Widen them (sysctl -w" \
		    "net.ipv4.ip_local_port_range='1024 65535'), or wait a" \
		    "minute for TIME_WAIT to pass" >&2
		exit 2
	fi
}

# start_tallyd plain|tls: G_PID, G_STATS, G_FURL, G_ERR of a new gatherer.
start_tallyd() {
	local line i mode=()
	[ "$1" = plain ] && mode=(--plaintext)
	G_BASE=$tmp/$1
	G_STATS=$G_BASE/stats
	G_OUT=$tmp/$1.tallyd.out
	G_ERR=$tmp/$1.tallyd.err
	G_ARGS=(-i "$IV" --poll-timeout "$POLL_TIMEOUT"
	    --handshake-timeout "$HS_TIMEOUT"
	    --first-flight-timeout "$HS_TIMEOUT"
	    --max-connections $((N + 100))
	    --max-handshakes-per-addr $((N + 100)))
	: > "$G_OUT"
	"$TALLYD" -l 127.0.0.1:0 "${G_ARGS[@]}" "${mode[@]}" "$G_BASE" \
	    > "$G_OUT" 2> "$G_ERR" &
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
		[ -n "$G_FURL" ] && [ -e "$G_STATS/data.mdb" ] && break
		nap 0.02
	done
	if [ -z "$G_FURL" ] || [ ! -e "$G_STATS/data.mdb" ]; then
		tail_log "$G_ERR"
		broken "tallyd printed no furl, or made no statsfile, in 10 s"
	fi
}

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
	done < <(mdb_stat -a "$G_STATS" 2> /dev/null)
}

# node_times: NT[i] = the record time of node load-i, for every load node
# in the statsfile; REPLY = how many there are.
node_times() {
	local k v t n=0
	NT=()
	while read -r k && read -r v; do
		case $k in
		load-*)
			t=${v#*time=}
			NT[10#${k#load-}]=${t%%\\*}
			n=$((n + 1))
			;;
		esac
	done < <(mdb_dump -p -s nodes "$G_STATS" 2> /dev/null | grep '^ ')
	REPLY=$n
}

# node_counts: NC[i] = the snapshots of node load-i committed, from the
# counter loadgen sets to i * 1000 + its polls; REPLY = their sum.
node_counts() {
	local k v i sum=0
	NC=()
	while read -r k && read -r v; do
		k=${k%/load.counter.0000}
		i=$((10#${k#load-}))
		NC[i]=$((v - i * 1000))
		sum=$((sum + NC[i]))
	done < <(mdb_dump -p -s counters "$G_STATS" 2> /dev/null |
	    grep -A1 '^ load-[0-9]*/load\.counter\.0000$' | grep '^ ')
	REPLY=$sum
}

broken() {
	echo "$ME: $L_PHASE: $*" >&2
	exit 1
}

# --- loadgen ---------------------------------------------------------------

# start_loadgen: the fleet against G_FURL.  L_PID, L_OUT, L_ERR, L_FD.
start_loadgen() {
	L_OUT=$tmp/$L_PHASE.loadgen.out
	L_ERR=$tmp/$L_PHASE.loadgen.err
	L_T0= L_PART= L_MARKS=() L_CPU=()
	: > "$L_OUT"
	"$LOADGEN" -f "$G_FURL" -n "$N" -m "$M" -t "$THREADS" -w "$WINDOW" \
	    -q > "$L_OUT" 2> "$L_ERR" &
	L_PID=$!
	pids+=("$L_PID")
	exec {L_FD}< "$L_OUT"
}

# lg_lines: loadgen's event lines so far.  L_T0 (its start, us of the wall
# clock); L_MARKS[K] = ms after it of its K*N-th answer, and tallyd's CPU
# ticks when the script read it, L_CPU[K].  A lost connection ends the
# phase.
lg_lines() {
	local l k
	while read -r -u "$L_FD" l; do
		L_PART+=$l
		set -- $L_PART
		L_PART=
		case ${1:-} in
		start) L_T0=$(( 10#${4%.*} * 1000000 + 10#${4#*.} )) ;;
		answered)
			k=$(($2 / N))
			L_MARKS[k]=$((10#${3/./}))
			cpu_ticks "$G_PID"; L_CPU[k]=$REPLY
			;;
		lost) fleet_lost "loadgen lost a connection" ;;
		esac
	done
	L_PART+=${l:-}		# a partial line, finished next time
}

lg_alive() {
	if ! alive "$G_PID"; then
		tail_log "$G_ERR"
		broken "tallyd died"
	fi
	if ! alive "$L_PID"; then
		lg_lines
		tail_log "$L_OUT"
		tail_log "$L_ERR" 12
		broken "loadgen exited"
	fi
}

# fleet_lost WHAT: say how many were lost and tallyd's reasons; no figure.
fleet_lost() {
	local lost line r
	nap 2		# let the rest of the damage show
	lost=$(grep -c '^lost ' "$L_OUT")
	{
		echo "$ME: $L_PHASE: $1: loadgen lost $lost of $N" \
		    "connections.  No figure for $L_PHASE."
		echo "--- tallyd's reasons, most frequent first:"
		grep -e '^tallyd: node load-' -e '^tallyd: 127\.' "$G_ERR" |
		while read -r line; do
			r=${line#tallyd: }
			case $r in
			"node "*) r=${r#* from } ;;
			esac
			echo "${r#*: }"
		done | sort | uniq -c | sort -rn | head -n 5
		echo "--- loadgen's first errors:"
		grep '^loadgen: load-' "$L_ERR" | head -n 3
	} >&2
	exit 1
}

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

# observe: one look at every node's record time.  A time not seen before
# is a snapshot landed: SEEN[i] counts them, LAST[i] is the newest, and
# GAP[i] the longest wait between two (seconds, the node's clock).  The
# looks are OBSERVE_MS apart, less than the half interval that separates
# two polls of a node, so that no snapshot is overwritten unseen; OBS_GAP
# is the longest time between two looks (us).
observe() {
	local i t
	now_us
	if ((OBS_LAST > 0 && REPLY - OBS_LAST > OBS_GAP)); then
		OBS_GAP=$((REPLY - OBS_LAST))
	fi
	OBS_LAST=$REPLY
	OBS_NEXT=$((REPLY + OBSERVE_MS * 1000))
	node_times
	for ((i = 0; i < N; i++)); do
		t=${NT[i]:-0}
		((t == 0 || t == LAST[i])) && continue
		if ((LAST[i] > 0 && t - LAST[i] > GAP[i])); then
			GAP[i]=$((t - LAST[i]))
		fi
		LAST[i]=$t
		SEEN[i]=$((SEEN[i] + 1))
	done
}

# observe_init: no node seen yet.
observe_init() {
	local i
	LAST=() GAP=() SEEN=()
	for ((i = 0; i < N; i++)); do
		LAST[i]=0 GAP[i]=0 SEEN[i]=0
	done
	OBS_LAST=0 OBS_GAP=0 OBS_NEXT=0
}

# observe_due: observe if it is time to.
observe_due() {
	now_us
	((REPLY >= OBS_NEXT)) && observe
	return 0
}

# fleet_landed: every node seen landing ROUNDS snapshots or more, none
# waiting more than MAX_GAP s for its next.  REPLY = the nodes short of
# ROUNDS; R_GAPPED = the nodes with a longer wait.
fleet_landed() {
	local i short=0
	R_GAPPED=0
	for ((i = 0; i < N; i++)); do
		((SEEN[i] < ROUNDS)) && short=$((short + 1))
		((GAP[i] > MAX_GAP)) && R_GAPPED=$((R_GAPPED + 1))
	done
	REPLY=$short
}

row() {
	printf '  %-44s %12s  %s\n' "$@"
}

# --- a phase: one transport --------------------------------------------

# phase plain|tls: run in a subshell; prints its figures only once its
# fleet was whole through every round, else exits 1 with no figure.
phase() {
	local mode=$1 c=$(( (M + 1) / 2 )) s=$(( M / 2 ))
	local b_c b_s cpu0 t1 now cpu1 hwm anon file sent sum min i
	local first steady cpu_first cpu_steady label figures
	L_PHASE=$mode
	trap cleanup_phase EXIT
	trap 'exit 130' INT TERM
	ports_check
	start_tallyd "$mode"
	nap 0.3
	db_entries
	b_c=$E_COUNTERS b_s=$E_STATS
	cpu_ticks "$G_PID"; cpu0=$REPLY
	observe_init
	start_loadgen
	now_us; L_T0=$REPLY		# until loadgen says when it began
	PHASE_END=$((L_T0 + (DEADLINE + 4 * IV + 60) * 1000000))

	# 1. The first round: every provider's first snapshot committed.
	while :; do
		lg_lines
		lg_alive
		observe_due
		now_us; now=$REPLY
		db_entries
		if ((E_COUNTERS >= N * c + b_c && E_STATS >= N * s + b_s)) &&
		    [ -n "${L_MARKS[1]:-}" ]; then
			node_times
			if ((REPLY == N)); then
				t1=$now
				cpu_ticks "$G_PID"; cpu1=$REPLY
				break
			fi
		fi
		if ((now > L_T0 + DEADLINE * 1000000)); then
			node_times
			echo "$ME: $mode: the first round is not done after" \
			    "$DEADLINE s: $REPLY of $N load nodes committed;" \
			    "entries: counters $E_COUNTERS (want" \
			    "$((N * c + b_c))), stats $E_STATS (want" \
			    "$((N * s + b_s))).  No figure for $mode." >&2
			tail_log "$L_OUT" 5
			tail_log "$G_ERR" 5
			exit 1
		fi
		nap $POLL
	done
	observe
	first=$((t1 - L_T0))
	cpu_first=$((cpu1 - cpu0))

	# 2. Rounds 2 to ROUNDS: until loadgen's ROUNDS*N-th answer, and
	# every node seen landing ROUNDS snapshots.
	while :; do
		lg_lines
		lg_alive
		observe_due
		if [ -n "${L_MARKS[ROUNDS]:-}" ]; then
			fleet_landed
			((REPLY == 0)) && break
		fi
		now_us; now=$REPLY
		if ((now > PHASE_END)); then
			fleet_landed
			commas "$REPLY"
			echo "$ME: $mode: $REPLY of $N nodes were not seen" \
			    "landing $ROUNDS snapshots within the phase's" \
			    "$(( (PHASE_END - L_T0) / 1000000 )) s (loadgen's" \
			    "answers: ${#L_MARKS[@]} rounds).  No figure for" \
			    "$mode." >&2
			tail_log "$L_OUT" 5
			tail_log "$G_ERR" 5
			exit 1
		fi
		nap $POLL
	done
	observe
	fleet_landed
	local stale=0 cutoff=$(( OBS_LAST / 1000000 - MAX_GAP ))
	for ((i = 0; i < N; i++)); do
		((LAST[i] < cutoff)) && stale=$((stale + 1))
	done
	if ((R_GAPPED > 0 || stale > 0)); then
		broken "$R_GAPPED nodes waited more than $MAX_GAP s" \
		    "(1.5 intervals) between two snapshots, and $stale" \
		    "landed none in the last $MAX_GAP s: polls were skipped." \
		    "No figure for $mode."
	fi
	if ((OBS_GAP > OBSERVE_MAX_MS * 1000)); then
		fx "$OBS_GAP" 1000000 1
		broken "two looks at the statsfile were $REPLY s apart:" \
		    "a snapshot may have gone unseen (the machine is too" \
		    "busy for this check).  No figure for $mode."
	fi
	steady=$(( (L_MARKS[4] - L_MARKS[2]) / 2 ))
	cpu_steady=$(( (L_CPU[4] - L_CPU[2]) / 2 ))
	status_kib "$G_PID" VmHWM; hwm=$REPLY
	status_kib "$G_PID" RssAnon; anon=$REPLY
	status_kib "$G_PID" RssFile; file=$REPLY

	# 3. Stop loadgen, then tallyd, which commits what it read; then
	# every snapshot loadgen sent must be in the statsfile.
	lg_lines
	exec {L_FD}<&-
	stop "$L_PID" loadgen
	if [ "$REPLY" -ne 0 ] || ! done_field errors || [ "$REPLY" != 0 ] ||
	    ! done_field closed || [ "$REPLY" != 0 ] ||
	    ! done_field dropped_polls || [ "$REPLY" != 0 ]; then
		grep '^done' "$L_OUT" >&2
		tail_log "$L_ERR" 5
		broken "loadgen's summary has errors, closes or dropped" \
		    "polls.  No figure for $mode."
	fi
	done_field answered; sent=$REPLY
	stop "$G_PID" tallyd
	if [ "$REPLY" -ne 0 ]; then
		tail_log "$G_ERR" 5
		broken "tallyd exited $REPLY on SIGTERM.  No figure for $mode."
	fi
	node_counts; sum=$REPLY
	min=999999
	for ((i = 0; i < N; i++)); do
		((${NC[i]:-0} < min)) && min=${NC[i]:-0}
	done
	if ((${#NC[@]} != N || min < 4 || sum != sent)); then
		broken "the statsfile holds ${#NC[@]} load nodes, the fewest" \
		    "snapshots of one is $min (want 4 or more), $sum in all," \
		    "where loadgen sent $sent.  No figure for $mode."
	fi

	# The figures, now that the fleet is known whole.
	commas "$N"; local cn=$REPLY
	commas "$M"; local cm=$REPLY
	commas $((N * M)); local cs=$REPLY
	if [ "$mode" = plain ]; then
		label="plaintext"
	else
		label="TLS 1.3"
	fi
	echo
	read -r load1 _ < /proc/loadavg
	echo "$label: $cn providers x $cm metrics ($cs samples a round);" \
	    "load average $load1 at its end"
	fx "$first" 1000000 2; local f=$REPLY
	fx "$((L_MARKS[1]))" 1000 2; local f_lg=$REPLY
	row "first round, handshakes included" "$f s" \
	    "(loadgen's last first answer sent at $f_lg s)"
	fx "$steady" 1000 2
	row "steady round (rounds 3-4, connections up)" "$REPLY s" \
	    "(the interval, -i $IV: tallyd spreads the polls over it)"
	fx "$cpu_first" "$CLK_TCK" 2; local cf=$REPLY
	fx "$cpu_steady" "$CLK_TCK" 2; local cst=$REPLY
	row "tallyd CPU, first round" "$cf s" "(utime + stime)"
	row "tallyd CPU per steady round" "$cst s" \
	    "(rounds 3-4, halved)"
	fx "$hwm" 1024 1; local h=$REPLY
	fx "$anon" 1024 1; local a=$REPLY
	fx "$file" 1024 1
	row "tallyd peak RSS (VmHWM)" "$h MiB" \
	    "(after round 4: RssAnon $a MiB, RssFile $REPLY MiB)"
	commas "$sent"
	echo "  fleet: $cn of $cn (loadgen: none lost, no error; statsfile:" \
	    "every node seen landing $ROUNDS+ snapshots, never" \
	    "more than $MAX_GAP s apart; $REPLY committed, as many as" \
	    "loadgen sent)"
}

cleanup_phase() {
	local pid
	for pid in "${pids[@]}"; do
		stop "$pid" "process $pid"
	done
}

# --- the run ---------------------------------------------------------------

read -r load1 load5 _ < /proc/loadavg
commas "$N"; cn=$REPLY
printf 'tally scale: %s providers x %s metrics against one tallyd;' \
    "$cn" "$M"
printf ' %s CPUs, load average %s %s\n' \
    "$(nproc 2> /dev/null || echo '?')" "$load1" "$load5"
echo "tallyd -i $IV --poll-timeout $POLL_TIMEOUT --handshake-timeout" \
    "$HS_TIMEOUT --first-flight-timeout $HS_TIMEOUT" \
    "--max-connections $((N + 100))" \
    "--max-handshakes-per-addr $((N + 100)); loadgen -t $THREADS -w $WINDOW"
failed=
for mode in $MODES; do
	case $mode in
	plain | tls) ;;
	*) echo "$ME: SCALE_MODES: plain or tls, not $mode" >&2; exit 2 ;;
	esac
	( phase "$mode" )
	rc=$?
	if ((rc == 2)); then
		exit 2
	elif ((rc != 0)); then
		failed+=" $mode"
	fi
done
if [ -n "$failed" ]; then
	echo "$ME: a provider was lost in:$failed (no figure printed for it)" >&2
	exit 1
fi
exit 0
