#!/bin/bash
# t/plugin-errors.sh: every broken statsfile gives a clear message, never a
# crash.  The plugin, through munin-run and run directly: statsfile unset, a
# missing directory, a regular file, a directory with a garbage data.mdb, a
# database of an unknown format -> autoconf "no (reason)" with exit 0, fetch
# a message on stderr and a non-zero exit, config no crash; an unknown
# plugin name -> non-zero, pointing at "list".  The provider (tally-demo-node): missing,
# unwritable, not LMDB, unknown format -> start fails with a message, exit 1,
# and nothing written.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"

require_cmd munin-run mdb_dump mdb_load
require_built
setup
munin_setup
munin_link tahoe_storage_allocated tally_load_avg tally_ \
    tally_no_such_graph tahoe_no_such_graph tahoe_helper_active_uploads

# ---- the broken statsfiles ---------------------------------------------

# A valid one first, with a node in it: the control case, and the source of
# the unknown-format copy.
start_node good -s "$STATS" -n good-node -i 0.05
wait_for "good-node's first flush" db_has_node good-node
stop_node good
out=$(munin_run tahoe_storage_allocated autoconf 2>&1)
[ "$out" = yes ] || fail "autoconf on a valid statsfile says '$out'"
# A graph no node has a value for (no helper here): an empty answer, exit
# 0, nothing on stderr (once an undefined fwrite of nothing, which UBSan
# builds stop on).
out=$(munin_run tahoe_helper_active_uploads 2>"$T/empty.err") ||
    fail "a fetch of a graph no node has exits $?: $(cat "$T/empty.err")"
[ -z "$out" ] || fail "a fetch of a graph no node has printed '$out'"
[ ! -s "$T/empty.err" ] ||
    fail "a fetch of a graph no node has said: $(cat "$T/empty.err")"

MISSING=$T/no-such-dir
REGULAR=$T/regular-file
GARBAGE=$T/garbage
FUTURE=$T/future
echo 'not a statsfile' >"$REGULAR"
mkdir "$GARBAGE"
for _ in $(seq 2048); do printf 'this is not an LMDB environment\n'; done \
    >"$GARBAGE/data.mdb"
# The unknown format: the valid environment, dumped, meta's format set to
# 2, loaded into a fresh directory.
mdb_dump -p -a "$STATS" >"$T/good.dump" || fail "mdb_dump -p -a $STATS"
awk '
	/^database=/	{ db = substr($0, 10) }
	/^HEADER=END$/	{ data = 1; k = 0; print; next }
	/^DATA=END$/	{ data = 0 }
	data && db == "meta" {
		if (k == 0) { key = $0; k = 1 }
		else { if (key == " format") { $0 = " 3"; done = 1 }; k = 0 }
	}
	{ print }
	END { exit !done }' "$T/good.dump" >"$T/future.dump" ||
    fail "no meta/format in the dump of $STATS"
mkdir "$FUTURE"
mdb_load -f "$T/future.dump" "$FUTURE" 2>"$T/mdb_load.err" ||
    fail "mdb_load: $(cat "$T/mdb_load.err")"
[ "$(db_get meta format "$FUTURE")" = 3 ] || fail "could not make format 3"

# The cases: names, and their statsfiles ("" for unset).
CASES=(unset missing regular garbage future)
declare -A SF=([unset]= [missing]=$MISSING [regular]=$REGULAR
    [garbage]=$GARBAGE [future]=$FUTURE)

# ---- the plugin --------------------------------------------------------

# check_autoconf WHAT: stdout is "no (reason)", exit 0.
check_autoconf() {
	local what=$1 rc=$2 out=$3

	[ "$rc" -eq 0 ] || fail "$what: autoconf exited $rc"
	[[ $out =~ ^no\ \(.+\)$ ]] || fail "$what: autoconf says '$out'"
}

# check_error WHAT RC STDERR: a non-zero exit (not a crash) with a message.
check_error() {
	local what=$1 rc=$2 err=$3

	[ "$rc" -ne 0 ] || fail "$what: exited 0"
	[ "$rc" -lt 124 ] || fail "$what: exited $rc (a crash or a hang?): $err"
	[ -n "$err" ] || fail "$what: no message on stderr"
}

# plugin_direct STATSFILE ARG...: run the plugin binary, as
# tahoe_storage_allocated, with statsfile in its environment (or unset).
plugin_direct() {
	local sf=$1

	shift
	if [ -n "$sf" ]; then
		timeout -k 5 "$WAIT_TIMEOUT" env statsfile="$sf" \
		    "$T/plugins/tahoe_storage_allocated" "$@" </dev/null
	else
		timeout -k 5 "$WAIT_TIMEOUT" env -u statsfile \
		    "$T/plugins/tahoe_storage_allocated" "$@" </dev/null
	fi
}

for name in "${CASES[@]}"; do
	sf=${SF[$name]}
	munin_conf "$sf"

	# munin-run
	out=$(munin_run tahoe_storage_allocated autoconf 2>"$T/err"); rc=$?
	check_autoconf "munin-run autoconf, statsfile $name" "$rc" "$out"
	munin_run tahoe_storage_allocated >"$T/out" 2>"$T/err"; rc=$?
	check_error "munin-run fetch, statsfile $name" "$rc" "$(cat "$T/err")"
	grep -q '\.value' "$T/out" &&
	    fail "munin-run fetch, statsfile $name: printed values: $(cat "$T/out")"
	# config: the brief leaves it open whether it fails or prints a
	# graph without fields; it must not crash, and a failure must say why.
	munin_run tahoe_storage_allocated config >"$T/out" 2>"$T/err"; rc=$?
	[ "$rc" -lt 124 ] || fail "config, statsfile $name: exited $rc"
	[ "$rc" -eq 0 ] || [ -s "$T/err" ] ||
	    fail "config, statsfile $name: exited $rc with no message"
	grep -q '\.value' "$T/out" &&
	    fail "config, statsfile $name: printed values: $(cat "$T/out")"

	# the binary itself
	out=$(plugin_direct "$sf" autoconf 2>"$T/err"); rc=$?
	check_autoconf "autoconf, statsfile $name" "$rc" "$out"
	plugin_direct "$sf" fetch >"$T/out" 2>"$T/err"; rc=$?
	check_error "fetch, statsfile $name" "$rc" "$(cat "$T/err")"
	plugin_direct "$sf" >"$T/out" 2>"$T/err"; rc=$?
	check_error "fetch (no argument), statsfile $name" "$rc" "$(cat "$T/err")"
	case $name in
	unset)	grep -q statsfile "$T/err" ||
		    fail "statsfile unset: the message does not say so: $(cat "$T/err")" ;;
	future) grep -qi format "$T/err" ||
		    fail "unknown format: the message does not say so: $(cat "$T/err")" ;;
	missing) grep -qF "$MISSING" "$T/err" ||
		    fail "missing statsfile: the message does not name it: $(cat "$T/err")" ;;
	esac
	note "plugin, statsfile $name: $(head -n 1 "$T/err")"
done

# An unknown graph name: an error that points at "list", whatever the
# statsfile; and list itself works.
munin_conf "$STATS"
for g in tally_no_such_graph tahoe_no_such_graph; do
	munin_run "$g" >"$T/out" 2>"$T/err"; rc=$?
	check_error "munin-run $g" "$rc" "$(cat "$T/err")"
	grep -q list "$T/err" || fail "munin-run $g: no hint at list: $(cat "$T/err")"
	timeout -k 5 "$WAIT_TIMEOUT" env statsfile="$STATS" "$T/plugins/$g" \
	    config >"$T/out" 2>"$T/err" </dev/null; rc=$?
	check_error "$g config" "$rc" "$(cat "$T/err")"
	grep -q list "$T/err" || fail "$g config: no hint at list: $(cat "$T/err")"
done
env statsfile="$STATS" "$T/plugins/tally_" list >"$T/out" 2>"$T/err" ||
    fail "tally_ list failed: $(cat "$T/err")"
grep -q tahoe_storage_allocated "$T/out" ||
    fail "tally_ list does not list tahoe_storage_allocated: $(cat "$T/out")"

# ---- hostile input ------------------------------------------------------

# plugin_run NAME ARG...: the plugin binary run with argv[0] NAME (any
# bytes: exec -a) and the environment as set, bounded in time; stdout in
# $T/out, stderr in $T/err, status in $rc.
plugin_run() {
	# shellcheck disable=SC2016 # the inner shell expands them
	timeout -k 5 "$WAIT_TIMEOUT" bash -c 'exec -a "$0" "$@"' "$@" \
	    >"$T/out" 2>"$T/err" </dev/null
	rc=$?
}

# check_tame WHAT RC PATTERN: the plugin exited RC with a stderr of short
# lines without control characters (error_quote), matching PATTERN.
check_tame() {
	[ "$rc" -eq "$2" ] || fail "$1: exited $rc, want $2: $(head -c 600 "$T/err")"
	tame "$T/err" || fail "$1: stderr is no tame line: $(head -c 600 "$T/err")"
	grep -qE -- "$3" "$T/err" || fail "$1: stderr lacks /$3/: $(cat "$T/err")"
	note "$1: $(head -c 120 "$T/err")..."
}

# 100 KB of argv[0] or argv[1], an escape code first: a short line with
# the escape quoted, not 100 KB of red on the operator's terminal.
long=$(hostile_arg)
esc=$(printf '\033[31m')
statsfile=$STATS plugin_run "tally_$long" "$PLUGIN"
check_tame "a 100 KB argv[0]" 1 "^tally_: no graph named '\\\\x1b\\[31m0+\\.\\.\\.'"
statsfile=$STATS plugin_run "tally_$long" "$PLUGIN" autoconf
[ "$rc" -eq 0 ] || fail "autoconf as a 100 KB argv[0]: exited $rc"
cp "$T/out" "$T/err"
check_tame "autoconf as a 100 KB argv[0]" 0 "^no \\(no graph named 'tally_\\\\x1b"
statsfile=$STATS plugin_run tally_load_avg "$PLUGIN" "$long"
check_tame "a 100 KB argv[1]" 1 "^tally_: unknown command '\\\\x1b\\[31m0+\\.\\.\\.'"
statsfile="$T/$esc-missing" plugin_run tally_load_avg "$PLUGIN"
check_tame "env.statsfile with an escape code" 2 "^tally_: statsfile $T/\\\\x1b\\[31m-missing: "
statsfile="$long" plugin_run tally_load_avg "$PLUGIN"
check_tame "a 100 KB env.statsfile" 2 "^tally_: statsfile \\\\x1b\\[31m0+\\.\\.\\.: "
statsfile=$STATS graphs="$T/$esc-missing.tsv" plugin_run tally_load_avg "$PLUGIN"
check_tame "env.graphs with an escape code" 3 "^tally_: graphs $T/\\\\x1b\\[31m-missing\\.tsv: No such file"

# env.graphs naming a FIFO that no one writes: opened as a file is, it
# would block the plugin until munin-node gives up on it.  Refused at once;
# a hang fails at the deadline rather than blocking the suite.
mkfifo "$T/graphs.fifo" || fail "mkfifo"
statsfile=$STATS graphs=$T/graphs.fifo plugin_run tally_load_avg "$PLUGIN"
[ "$rc" -lt 124 ] || fail "env.graphs a FIFO: exited $rc (a hang?)"
check_tame "env.graphs a FIFO" 3 "^tally_: graphs file $T/graphs\\.fifo is a FIFO, not a regular file\$"
statsfile=$STATS graphs=$T/graphs.fifo plugin_run tally_load_avg "$PLUGIN" autoconf
[ "$rc" -eq 0 ] || fail "autoconf, env.graphs a FIFO: exited $rc"
grep -qxF "no (graphs file $T/graphs.fifo is a FIFO, not a regular file)" "$T/out" ||
    fail "autoconf, env.graphs a FIFO: $(cat "$T/out")"
statsfile=$STATS graphs=$T plugin_run tally_load_avg "$PLUGIN" config
check_tame "env.graphs a directory" 3 "^tally_: graphs file $T is a directory, not a regular file\$"

# Snapshot times that are not sane (tally(5): before 2000, or more than a
# day ahead): a node whose clock is in 2100 is stale, not fresh for ever,
# and INT64_MIN or INT64_MAX overflow nothing (UBSan would abort).
INSANE=$T/insane
mkdir "$INSANE"
now=$(date +%s)
{
	printf 'VERSION=3\nformat=print\ntype=btree\nHEADER=END\n'
	printf ' format\n 1\n'
	printf 'DATA=END\n'
} | mdb_load -s meta "$INSANE" || fail "mdb_load meta"
for n in "t2100:future:4102444800" "tmax:max:9223372036854775807" \
    "tmin:min:-9223372036854775808" "tnow:now:$now"; do
	IFS=: read -r id nick t <<<"$n"
	printf 'VERSION=3\nformat=print\ntype=btree\nHEADER=END\n %s\n %s\nDATA=END\n' \
	    "$id" "nickname=$nick\\0atime=$t\\0asource=local\\0a" |
	    mdb_load -s nodes "$INSANE" || fail "mdb_load nodes $id"
	printf 'VERSION=3\nformat=print\ntype=btree\nHEADER=END\n %s\n %s\nDATA=END\n' \
	    "$id/storage_server.allocated" 5 |
	    mdb_load -s stats "$INSANE" || fail "mdb_load stats $id"
done
printf 'VERSION=3\nformat=print\ntype=btree\nHEADER=END\nDATA=END\n' |
    mdb_load -s counters "$INSANE" || fail "mdb_load counters"
statsfile=$INSANE plugin_run tahoe_storage_allocated "$PLUGIN"
[ "$rc" -eq 0 ] || fail "fetch of insane times: exited $rc: $(cat "$T/err")"
fetch_pairs "$T/out" | sort >"$T/pairs"
printf '%s\n' 'future_t2100 U' 'max_tmax U' 'min_tmin U' 'now_tnow 5' |
    cmp -s - "$T/pairs" || fail "fetch of insane times: $(cat "$T/out")"
munin_conf "$INSANE"
munin_run tahoe_storage_allocated >"$T/out" 2>"$T/err" ||
    fail "munin-run fetch of insane times: $(cat "$T/err")"
grep -qx 'future_t2100.value U' "$T/out" ||
    fail "munin-run: the node in 2100 is not stale: $(cat "$T/out")"

# ---- the provider ------------------------------------------------------

# check_start_fails WHAT [RUNNER...] -- ARG...: tally-demo-node ARG... exits 1
# with "tally-demo-node: ..." on stderr and never says ready.
check_start_fails() {
	local what=$1 rc

	shift
	"$@" >"$T/out" 2>"$T/err"; rc=$?
	[ "$rc" -eq 1 ] ||
	    fail "demo node, $what: exited $rc, want 1: $(cat "$T/err")"
	grep -q '^ready' "$T/out" && fail "demo node, $what: said ready"
	grep -q '^tally-demo-node: ..*' "$T/err" ||
	    fail "demo node, $what: no message: $(cat "$T/err")"
	note "demo node, $what: $(head -n 1 "$T/err")"
}

check_start_fails "missing statsfile" run_demo -s "$MISSING" -n p1 -i 0.05
grep -qF "$MISSING" "$T/err" || fail "the message does not name $MISSING"
[ -e "$MISSING" ] && fail "the missing statsfile was created"

check_start_fails "statsfile a regular file" run_demo -s "$REGULAR" -n p1
[ "$(cat "$REGULAR")" = 'not a statsfile' ] || fail "$REGULAR was changed"

cksum <"$GARBAGE/data.mdb" >"$T/garbage.sum"
check_start_fails "statsfile not LMDB" run_demo -s "$GARBAGE" -n p1
cksum <"$GARBAGE/data.mdb" | cmp -s - "$T/garbage.sum" ||
    fail "the garbage data.mdb was changed"

check_start_fails "unknown format" run_demo -s "$FUTURE" -n p1
grep -qi format "$T/err" || fail "the message does not mention the format"
[ "$(db_get meta format "$FUTURE")" = 3 ] || fail "the format was changed"
db_has_node p1 "$FUTURE" && fail "a node was written into a format-2 database"

# Unwritable: root ignores permissions, so run as nobody when root.
RO=$T/readonly
mkdir "$RO"
if [ "$(id -u)" -eq 0 ]; then
	as_nobody() {
		if command -v setpriv >/dev/null 2>&1; then
			setpriv --reuid=65534 --regid=65534 --clear-groups "$@"
		else
			runuser -u nobody -- "$@"
		fi
	}
	chmod 0755 "$T"
	chown 65534:65534 "$RO"
	chmod 0500 "$RO"
	if ! as_nobody "$DEMO" -h >/dev/null 2>&1; then
		note "SKIP the unwritable case: nobody cannot run $DEMO"
	else
		check_start_fails "unwritable statsfile" \
		    as_nobody timeout -k 5 "$WAIT_TIMEOUT" "$DEMO" -s "$RO" \
		    -n p1 -i 0.05
	fi
else
	chmod 0500 "$RO"
	check_start_fails "unwritable statsfile" run_demo -s "$RO" -n p1
fi
[ -z "$(ls -A "$RO")" ] || fail "files were created in the unwritable dir"

# A reader must write lock.mdb: a plugin that cannot says what to change in
# munin's terms, the lock's mode or the group its section must run as (by
# its name in /etc/group; the plugin may be linked statically, and reads
# that file itself).  Root ignores permissions: only when root.
# nobody_run: the plugin, through its graph's link, as nobody.
nobody_run() {
	statsfile=$LK timeout -k 5 "$WAIT_TIMEOUT" setpriv --reuid=65534 \
	    --regid=65534 --clear-groups "$T/plugins/tahoe_storage_allocated" \
	    >"$T/out" 2>"$T/err" </dev/null
	rc=$?
}
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null 2>&1 &&
    setpriv --reuid=65534 --regid=65534 --clear-groups "$PLUGIN" list \
    >/dev/null 2>&1; then
	LK=$T/locked
	mkdir "$LK"
	cp "$STATS/data.mdb" "$STATS/lock.mdb" "$LK/"
	gid=$(awk -F: '$3 != 0 && $3 != 65534 && $1 != "" { print $3; exit }' /etc/group)
	gname=$(awk -F: -v g="$gid" '$3 == g { print $1; exit }' /etc/group)
	[ -n "$gid" ] && [ -n "$gname" ] || fail "no group in /etc/group to test with"
	chmod 0755 "$LK"
	chmod 0644 "$LK/data.mdb"
	chgrp "$gid" "$LK/lock.mdb"
	chmod 0660 "$LK/lock.mdb"
	cksum <"$LK/data.mdb" >"$T/locked.sum"
	nobody_run
	check_tame "lock.mdb not writable by the plugin's user" 2 \
	    "lock\.mdb is not writable by uid 65534 gid 65534.*set 'group $gname' in this plugin's plugin-conf\.d section"
	chmod 0640 "$LK/lock.mdb"
	nobody_run
	check_tame "lock.mdb not group-writable" 2 \
	    "lock\.mdb has mode 0640, and LMDB readers must write it: make it 0660"
	cksum <"$LK/data.mdb" | cmp -s - "$T/locked.sum" ||
	    fail "the plugin changed a data.mdb it could not lock"
fi

exit 0
