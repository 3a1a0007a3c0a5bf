# t/lib.sh: helpers shared by the shell integration tests (bash).
#
# Source it from a test as
#	[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
#	. "$(dirname "$0")/lib.sh"
#
# It gives the test a private temporary directory $T, removed on exit with
# every process the test started; fail/skip helpers that speak automake's
# exit codes (0 pass, 1 fail, 77 skip); wait_for, which polls a condition
# against a deadline (tests never sleep to let a race settle); demo nodes
# started in the background and waited for on their "ready" line; the
# gatherer (tallyd) started, stopped and killed the same way; the real
# munin-run on a private plugin directory; and mdb_dump readers, with waits
# for a node's snapshot to land.
#
# Environment: TALLY_BUILDDIR and TALLY_SRCDIR (set by make check; default to
# the current directory and this file's parent), TALLY_WAIT_TIMEOUT (seconds
# a wait_for may take, default 20), TALLY_KEEP_TMP=1 to keep $T.

set -u
export LC_ALL=C
umask 022
PATH=$PATH:/usr/sbin:/sbin

test_name=$(basename "$0" .sh)
: "${TALLY_SRCDIR:=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
: "${TALLY_BUILDDIR:=$PWD}"
DEMO=$TALLY_BUILDDIR/contrib/tally-demo-node
PLUGIN=$TALLY_BUILDDIR/munin/tally_
TALLYD=$TALLY_BUILDDIR/tallyd
WAIT_TIMEOUT=${TALLY_WAIT_TIMEOUT:-20}
T=
declare -A NODE_PID=()

# ---- messages and exit codes ------------------------------------------

note() {
	printf '%s: %s\n' "$test_name" "$*"
}

# fail MESSAGE: the test fails; the started nodes' logs are shown.
fail() {
	printf '%s: FAIL: %s\n' "$test_name" "$*" >&2
	show_logs >&2
	exit 1
}

# skip MESSAGE: the test cannot run here (exit 77).
skip() {
	printf '%s: SKIP: %s\n' "$test_name" "$*"
	exit 77
}

show_logs() {
	local f

	[ -n "$T" ] && [ -d "$T" ] || return 0
	for f in "$T"/*.out "$T"/*.err; do
		[ -s "$f" ] || continue
		printf -- '--- %s (last 20 lines)\n' "${f##*/}"
		tail -n 20 "$f"
	done
}

# require_cmd CMD...: skip unless every command exists.
require_cmd() {
	local c pkg

	for c; do
		command -v "$c" >/dev/null 2>&1 && continue
		case $c in
		munin-run)	pkg=munin-node ;;
		mdb_*)		pkg=lmdb-utils ;;
		setpriv)	pkg=util-linux ;;
		*)		pkg=$c ;;
		esac
		skip "$c not found (install $pkg)"
	done
}

require_built() {
	[ -x "$DEMO" ] || fail "$DEMO not built (run make first)"
	[ -x "$PLUGIN" ] || fail "$PLUGIN not built (run make first)"
}

require_tallyd() {
	[ -x "$TALLYD" ] || fail "$TALLYD not built (run make first)"
}

# ---- the temporary directory and cleanup ------------------------------

cleanup() {
	local name pid

	trap - EXIT INT TERM
	for name in "${!NODE_PID[@]}"; do
		pid=${NODE_PID[$name]}
		kill -0 "$pid" 2>/dev/null || continue
		kill -TERM "$pid" 2>/dev/null
	done
	for name in "${!NODE_PID[@]}"; do
		pid=${NODE_PID[$name]}
		# A bounded wait: SIGKILL whatever ignores SIGTERM for 5 s.
		for _ in $(seq 100); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.05
		done
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	if [ -n "$T" ] && [ -d "$T" ]; then
		if [ "${TALLY_KEEP_TMP:-0}" = 1 ]; then
			note "kept $T"
		else
			chmod -R u+rwX "$T" 2>/dev/null
			rm -rf "$T"
		fi
	fi
}

# setup: make $T and arrange for cleanup; STATS is a fresh statsfile
# (an existing, empty directory).
setup() {
	T=$(mktemp -d "${TMPDIR:-/tmp}/tally-$test_name.XXXXXX") ||
	    fail "mktemp -d failed"
	trap cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	STATS=$T/stats
	mkdir "$STATS" || fail "mkdir $STATS"
}

# ---- waiting ----------------------------------------------------------

now_ms() {
	if [ -n "${EPOCHREALTIME:-}" ]; then
		local t=${EPOCHREALTIME/[.,]/}
		echo $((10#$t / 1000))
	else
		date +%s%3N
	fi
}

# poll_until SECONDS CMD [ARG...]: run CMD every 0.05 s until it succeeds
# (0), or until SECONDS have passed (1).
poll_until() {
	local deadline=$(( $(now_ms) + $1 * 1000 ))

	shift
	while :; do
		"$@" && return 0
		[ "$(now_ms)" -lt "$deadline" ] || return 1
		sleep 0.05
	done
}

# wait_for [-t SECONDS] WHAT CMD [ARG...]: run CMD every 0.05 s until it
# succeeds; fail with "timed out waiting for WHAT" after the deadline
# (TALLY_WAIT_TIMEOUT seconds by default).  CMD may itself call fail to end
# the wait early (e.g. when the process it waits on died).
wait_for() {
	local t=$WAIT_TIMEOUT what

	if [ "$1" = -t ]; then
		t=$2
		shift 2
	fi
	what=$1
	shift
	poll_until "$t" "$@" ||
	    fail "timed out after ${t}s waiting for $what"
}

# ---- demo nodes -------------------------------------------------------

# start_node NAME ARG...: start tally-demo-node ARG... in the background,
# stdout in $T/NAME.out (truncated), stderr appended to $T/NAME.err, and
# wait for its "ready" line.  NODE_PID[NAME] is its pid.  With -g and no
# -k, the node's key is $T/NAME.key.
start_node() {
	local name=$1 arg key=()

	shift
	# A remote node needs a key of its own: each NAME gets one, kept
	# across its restarts, unless the test gives -k itself.
	for arg; do
		case $arg in
		-g) key=(-k "$T/$name.key") ;;
		-k|-f) key=(); break ;;
		esac
	done
	"$DEMO" "$@" "${key[@]}" >"$T/$name.out" 2>>"$T/$name.err" </dev/null &
	NODE_PID[$name]=$!
	wait_for "node $name to be ready" node_ready "$name"
}

node_alive() {
	kill -0 "${NODE_PID[$1]}" 2>/dev/null
}

node_ready() {
	grep -q '^ready ' "$T/$1.out" 2>/dev/null && return 0
	node_alive "$1" || { wait "${NODE_PID[$1]}" 2>/dev/null
		fail "node $1 exited ($?) before it was ready: $(cat "$T/$1.err")"; }
	return 1
}

node_gone() {
	! node_alive "$1"
}

# nodes_alive NAME...: fail at once if a started process has died (for wait
# conditions: a dead node would otherwise only show as a timeout).
nodes_alive() {
	local name rc

	for name; do
		node_alive "$name" && continue
		wait "${NODE_PID[$name]}" 2>/dev/null
		rc=$?
		fail "$name (pid ${NODE_PID[$name]}) died, exit $rc"
	done
}

# stop_node NAME: SIGTERM, which must end it cleanly (final flush, exit 0).
stop_node() {
	local pid=${NODE_PID[$1]} rc

	kill -TERM "$pid" 2>/dev/null || fail "node $1 ($pid) is not running"
	wait_for "node $1 to stop" node_gone "$1"
	wait "$pid"
	rc=$?
	unset "NODE_PID[$1]"
	[ "$rc" -eq 0 ] || fail "node $1 exited $rc after SIGTERM"
	grep -q '^stopped ' "$T/$1.out" || fail "node $1 did not say stopped"
}

# kill_node NAME: SIGKILL, as a crash.  NAME must still be running: the
# status must say it died of this SIGKILL, for a process that had already
# ended by itself (its own crash, which a test killing it at a random
# moment would otherwise never see) fails the test.
kill_node() {
	local pid=${NODE_PID[$1]} rc

	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	rc=$?
	unset "NODE_PID[$1]"
	[ "$rc" -eq 137 ] ||
	    fail "$1 (pid $pid) had already exited ($rc) when it was to be killed"
}

# run_demo ARG...: run tally-demo-node in the foreground, bounded in time.
run_demo() {
	timeout -k 5 "$WAIT_TIMEOUT" "$DEMO" "$@" </dev/null
}

# ---- the gatherer (tallyd) ---------------------------------------------

# One gatherer per test, known to cleanup as NODE_PID[gatherer].  Its stdout
# goes to $T/gatherer.out (truncated at each start), its stderr is appended
# to $T/gatherer.err (= GATHERER_LOG) across restarts; GATHERER_LOG_START is
# the number of lines the log had when the current run started.
GATHERER_PID=
GATHERER_FURL=
GATHERER_BASEDIR=
GATHERER_LOG=
GATHERER_LOG_START=0

# start_gatherer BASEDIR [TALLYD_ARG...]: start tallyd -i 1 [ARG...] BASEDIR
# in the background and wait (with the usual deadline) for the furl line on
# its stdout.  Exports GATHERER_FURL, GATHERER_PID and GATHERER_BASEDIR.
# The first run on a BASEDIR listens on -l 127.0.0.1:0 (a port of the
# kernel's choosing); a later run is given no -l, so that tallyd reuses the
# address of the furl it made, as an operator's restart would (an explicit
# -l 127.0.0.1:0 would pick a new port and rewrite the furl).  ARGs come
# after -i 1 and so override it.
start_gatherer() {
	local base=$1 listen=()

	shift
	[ -e "$base/stats_gatherer.furl" ] || listen=(-l 127.0.0.1:0)
	GATHERER_BASEDIR=$base
	GATHERER_LOG=$T/gatherer.err
	GATHERER_FURL=
	touch "$GATHERER_LOG"
	GATHERER_LOG_START=$(wc -l <"$GATHERER_LOG")
	: >"$T/gatherer.out"
	"$TALLYD" "${listen[@]}" -i 1 "$@" "$base" >"$T/gatherer.out" \
	    2>>"$GATHERER_LOG" </dev/null &
	GATHERER_PID=$!
	NODE_PID[gatherer]=$GATHERER_PID
	wait_for "tallyd to print its furl" gatherer_ready
	export GATHERER_FURL GATHERER_PID GATHERER_BASEDIR
}

# gatherer_ready: tallyd listens; sets GATHERER_FURL.  tallyd prints the
# furl on stdout only when it makes it (a whole line: the lines counted by
# wc -l end in a newline); a later start logs "listening on" and the furl
# is read from BASEDIR/stats_gatherer.furl, as an operator would.  Fails at
# once if tallyd died.
gatherer_ready() {
	local f=$T/gatherer.out n line rc

	n=$(wc -l <"$f" 2>/dev/null) || n=0
	if [ "$n" -gt 0 ] &&
	    line=$(head -n "$n" "$f" | grep -m 1 -E '^tally(\+tls)?://'); then
		GATHERER_FURL=$line
		return 0
	fi
	if gatherer_log_run | grep -q '^tallyd: listening on ' &&
	    line=$(head -n 1 "$GATHERER_BASEDIR/stats_gatherer.furl") &&
	    [ -n "$line" ]; then
		GATHERER_FURL=$line
		return 0
	fi
	if ! node_alive gatherer; then
		wait "$GATHERER_PID" 2>/dev/null
		rc=$?
		unset "NODE_PID[gatherer]"
		fail "tallyd exited ($rc) before printing its furl"
	fi
	return 1
}

# stop_gatherer: SIGTERM, which must end it cleanly (commit, exit 0).
stop_gatherer() {
	local rc

	kill -TERM "$GATHERER_PID" 2>/dev/null ||
	    fail "tallyd ($GATHERER_PID) is not running"
	wait_for "tallyd to stop after SIGTERM" node_gone gatherer
	wait "$GATHERER_PID"
	rc=$?
	unset "NODE_PID[gatherer]"
	[ "$rc" -eq 0 ] || fail "tallyd exited $rc after SIGTERM"
}

# kill_gatherer: SIGKILL, as a crash; like kill_node, tallyd must still be
# running.
kill_gatherer() {
	kill_node gatherer
}

# gatherer_log_run: the gatherer's stderr since the current run started.
gatherer_log_run() {
	tail -n "+$((GATHERER_LOG_START + 1))" "$GATHERER_LOG"
}

# gatherer_connects ID NICKNAME [ALL]: print the gatherer's connect lines
# (the word connect or connected, not disconnect nor connection) naming node
# ID and NICKNAME, from the current run, or from every run if ALL is given;
# false if there is none.
gatherer_connects() {
	{ if [ $# -ge 3 ]; then cat "$GATHERER_LOG"; else gatherer_log_run; fi
	} | grep -iE '\<connect(ed|s)?\>' | grep -F -- "$1" | grep -F -- "$2"
}

# gatherer_disconnects ID: the gatherer's disconnect lines naming ID, from
# the current run; false if there is none.
gatherer_disconnects() {
	gatherer_log_run | grep -iE '\<disconnect(ed|s)?\>' | grep -F -- "$1"
}

# ---- the database, through the stock LMDB tools -----------------------

# db_dump_all [ENV]: every record of every named database of ENV (default
# $STATS) as "db<TAB>key<TAB>value", in mdb_dump -p's printable form (a
# newline in a value reads \0a, a backslash \\).
db_dump_all() {
	mdb_dump -p -a "${1:-$STATS}" 2>/dev/null | awk '
		/^database=/	{ db = substr($0, 10); next }
		/^HEADER=END$/	{ data = 1; havekey = 0; next }
		/^DATA=END$/	{ data = 0; next }
		data		{ line = substr($0, 2)
				  if (!havekey) { key = line; havekey = 1 }
				  else { print db "\t" key "\t" line; havekey = 0 } }'
}

# db_pairs DB [ENV]: the records of one named database as "key<TAB>value";
# false if mdb_dump fails (no such environment or database yet).
db_pairs() {
	mdb_dump -p -s "$1" "${2:-$STATS}" 2>/dev/null | awk '
		/^HEADER=END$/	{ data = 1; havekey = 0; next }
		/^DATA=END$/	{ data = 0; next }
		data		{ line = substr($0, 2)
				  if (!havekey) { key = line; havekey = 1 }
				  else { print key "\t" line; havekey = 0 } }'
	return "${PIPESTATUS[0]}"
}

# db_get DB KEY [ENV]: print the value of KEY.  Status 1 if KEY is absent,
# 2 if the database could not be read.
db_get() {
	local pairs

	pairs=$(db_pairs "$1" "${3:-$STATS}") || return 2
	printf '%s\n' "$pairs" | awk -F '\t' -v k="$2" '
		$1 == k { print $2; found = 1 } END { exit !found }'
}

# db_has_node ID [ENV]: the node has a record in the nodes database.
db_has_node() {
	db_get nodes "$1" "${2:-$STATS}" >/dev/null
}

# node_field ID FIELD [ENV]: one field of a node's record (nickname, time...).
node_field() {
	db_get nodes "$1" "${3:-$STATS}" | awk -v f="$2" '{
		n = split($0, a, /\\0a/)
		for (i = 1; i <= n; i++)
			if (index(a[i], f "=") == 1) {
				print substr(a[i], length(f) + 2); found = 1 }
	} END { exit !found }'
}

# node_id_of NICKNAME [ENV]: the ids of the nodes with that nickname.
node_id_of() {
	db_pairs nodes "${2:-$STATS}" | awk -F '\t' -v nick="$1" '{
		n = split($2, a, /\\0a/)
		for (i = 1; i <= n; i++)
			if (a[i] == "nickname=" nick) { print $1; found = 1 }
	} END { exit !found }'
}

# counter_value ID NAME [ENV]: a node's counter; false if absent.
counter_value() {
	db_get counters "$1/$2" "${3:-$STATS}"
}

# node_newer ID AFTER [ENV]: ID's record in nodes has time > AFTER (UNIX
# seconds), i.e. a snapshot taken after that second has landed.
node_newer() {
	local t

	t=$(node_field "$1" time "${3:-$STATS}") || return 1
	[[ $t =~ ^[0-9]+$ ]] && [ "$t" -gt "$2" ]
}

# node_landed ID AFTER [NAME MIN]: in $STATS, node ID is present with a
# time newer than AFTER (0: any) and, given NAME, its counter NAME >= MIN.
node_landed() {
	local v

	node_newer "$1" "$2" || return 1
	[ $# -ge 4 ] || return 0
	v=$(counter_value "$1" "$3") || return 1
	[[ $v =~ ^-?[0-9]+$ ]] && [ "$v" -ge "$4" ]
}

# wait_landed [-t SECONDS] ID AFTER [NAME MIN]: wait_for node_landed.
wait_landed() {
	local t=()

	if [ "$1" = -t ]; then
		t=(-t "$2")
		shift 2
	fi
	wait_for "${t[@]}" \
	    "node $1 in $STATS with time > $2${3:+ and $3 >= ${4:-}}" \
	    node_landed "$@"
}

# ---- munin ------------------------------------------------------------

# munin_setup [STATSFILE]: a private munin-node.conf, plugin directory and
# plugin-conf.d/tally, whose [tally_*] and [tahoe_*] sections run the plugin
# as root (munin-run drops to nobody otherwise) with env.statsfile set to
# STATSFILE, default $STATS; an explicit empty STATSFILE leaves it unset.
munin_setup() {
	mkdir -p "$T/plugins" "$T/plugin-conf.d"
	: >"$T/munin-node.conf"
	munin_conf "${1-$STATS}"
}

# munin_conf STATSFILE: rewrite plugin-conf.d/tally for STATSFILE.
munin_conf() {
	local sec

	for sec in 'tally_*' 'tahoe_*'; do
		printf '[%s]\n' "$sec"
		[ "$(id -u)" -eq 0 ] && printf 'user root\n'
		[ -n "$1" ] && printf 'env.statsfile %s\n' "$1"
		printf '\n'
	done >"$T/plugin-conf.d/tally"
}

# munin_link NAME...: symlink the plugin under each NAME.
munin_link() {
	local n

	for n; do
		ln -sfn "$PLUGIN" "$T/plugins/$n" || fail "ln $n"
	done
}

# munin_run NAME [COMMAND]: the real munin-run on the private directories.
munin_run() {
	timeout -k 5 "$WAIT_TIMEOUT" munin-run --config "$T/munin-node.conf" \
	    --servicedir "$T/plugins" --sconfdir "$T/plugin-conf.d" \
	    --ignore-systemd-properties "$@" </dev/null
}

# The fields a config output declares (FIELD.label lines), one a line.
config_fields() {
	sed -n 's/^\([^.[:space:]]*\)\.label .*/\1/p' "$1"
}

# The "FIELD VALUE" pairs of a fetch output (FIELD.value lines).
fetch_pairs() {
	sed -n 's/^\([^.[:space:]]*\)\.value \(.*\)$/\1 \2/p' "$1"
}

# ---- messages ---------------------------------------------------------

# tame FILE [MAX]: every line of FILE (a program's stderr) is at most MAX
# bytes (default 300) and holds no control character: what error_quote()
# makes of a hostile argument, path or name.  Says what is wrong if not.
tame() {
	LC_ALL=C awk -v max="${2:-300}" '
		length($0) > max { printf "line %d: %d bytes\n", NR, length($0); bad = 1 }
		/[\001-\011\013-\037\177]/ { printf "line %d: a control character\n", NR; bad = 1 }
		END { exit bad }' "$1"
}

# hostile_arg: 100 KB that start with a terminal escape (red), for argv.
hostile_arg() {
	printf '\033[31m%0100000d' 0
}

is_number() {
	[[ $1 =~ ^-?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]+)?$ ]]
}
