#!/bin/bash
# t/munin-e2e.sh: the plugin installed into munin, end to end.
#
# (a) A private munin-node configuration and the real munin-run: a single
#     graph's config and fetch; tally_all as a multigraph plugin (munin-run
#     announces multigraph), its sections the same in config and fetch and
#     each one the single graph's config; dirtyconfig (MUNIN_CAP_DIRTYCONFIG=1)
#     for both; tally_all without the capability (munin's need_multigraph
#     answer); an operator's graph table (env.graphs) adding two graphs, and
#     a bad one failing with its file and line; suggest; and
#     munin-node-configure --suggest --shell proposing the tally_all link
#     (and, with --remove-also, dropping single-graph links).
# (b) Where munin (the master) is installed: a real munin-node on a free
#     loopback port serving only tally_all, spoken to directly (list, cap,
#     dirty config), then the master from a temporary munin.conf, as user
#     munin when run as root (munin refuses root): munin-update until the
#     RRDs of both nodes' fields hold two known values each (rrdtool fetch;
#     that munin.conf keeps a value per 2 s), munin-cron (munin-update,
#     -limits, -html, -graph) drawing a day PNG for tally graphs, the
#     operator's too, and munin-graph drawing the span sampled, without a
#     word from fontconfig.  It says where that PNG is; TALLY_KEEP_TMP=1
#     keeps it.
# A missing munin-node skips the test; a missing master (or rrdtool, or, as
# root, the munin user or setpriv) skips part (b) with exit 77 after part
# (a) passed.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"

require_cmd munin-run munin-node-configure mdb_dump perl
require_built
setup
munin_setup

ID1=e2e-a
NICK1=alpha
ID2=e2e-b
NICK2=beta
# Node a also bumps demo.extra.00000, a stat only the operator's table knows.
start_node a -s "$STATS" -n "$ID1" -N "$NICK1" -i 0.2 -r 100 -c 1
start_node b -s "$STATS" -n "$ID2" -N "$NICK2" -i 0.2 -r 100

# The operator's table: a tally_ name and a bare name; set for every tally_
# link in a plugin-conf.d file of its own (munin merges the sections).
GRAPHS=$T/tally-graphs.tsv
# tsv COLUMN...: one line of the table, its columns separated by tabs.
tsv() {
	local IFS=$'\t'

	printf '%s\n' "$*"
}
{
	tsv '# plugin name' statid category title vlabel 'graph category' \
	    args DERIVE
	tsv tally_get_latency storage_server.latencies.get.mean stats \
	    'Storage get Latency' seconds tally '--lower-limit 0' no
	echo
	tsv demo_extra demo.extra.00000 counters 'Demo Extra Operations' \
	    'operations per second' demo - yes
} >"$GRAPHS"
# graphs_conf FILE: a plugin-conf.d file setting env.graphs FILE, and the
# settings of the bare demo_* name.
graphs_conf() {
	printf '[tally_*]\nenv.graphs %s\n\n[demo_*]\n' "$1"
	[ "$(id -u)" -eq 0 ] && printf 'user root\n'
	printf 'env.statsfile %s\nenv.graphs %s\n' "$STATS" "$1"
}
graphs_conf "$GRAPHS" >"$T/plugin-conf.d/tally-graphs"

munin_link tally_all tally_load_avg tally_get_latency demo_extra tally_

# numeric_values FILE N: FILE's .value lines are N numbers.
numeric_values() {
	local v

	[ "$(fetch_pairs "$1" | wc -l)" -eq "$2" ] || return 1
	for v in $(fetch_pairs "$1" | cut -d ' ' -f 2); do
		is_number "$v" || return 1
	done
}

# Both nodes have written, and their load monitors have a first sample.
load_numeric() {
	nodes_alive a b
	munin_run tally_load_avg >"$T/load.fetch" 2>"$T/load.err" &&
	    numeric_values "$T/load.fetch" 2
}
wait_for "numeric load values for both nodes" load_numeric

# ---- (a) munin-run: single graphs --------------------------------------

munin_run tally_load_avg config >"$T/load.config" 2>"$T/err" ||
    fail "munin-run tally_load_avg config: $(cat "$T/err")"
config_fields "$T/load.config" | sort >"$T/load.fields"
[ "$(wc -l <"$T/load.fields")" -eq 2 ] ||
    fail "tally_load_avg config has not 2 fields: $(cat "$T/load.config")"
grep -q '\.value ' "$T/load.config" &&
    fail "config without dirtyconfig printed values: $(cat "$T/load.config")"

# dirtyconfig: the same config, then a value for each of its fields.
MUNIN_CAP_DIRTYCONFIG=1 munin_run tally_load_avg config \
    >"$T/load.dirty" 2>"$T/err" ||
    fail "dirty config: $(cat "$T/err")"
head -n "$(wc -l <"$T/load.config")" "$T/load.dirty" |
    cmp -s - "$T/load.config" ||
    fail "the dirty config does not start with the config: $(cat "$T/load.dirty")"
numeric_values "$T/load.dirty" 2 ||
    fail "the dirty config has not 2 numeric values: $(cat "$T/load.dirty")"
fetch_pairs "$T/load.dirty" | cut -d ' ' -f 1 | sort |
    cmp -s - "$T/load.fields" ||
    fail "the dirty config's values are not for its fields: $(cat "$T/load.dirty")"

# The operator's graphs, under both kinds of names.
get_latency_numeric() {
	munin_run tally_get_latency >"$T/lat.fetch" 2>"$T/err" &&
	    numeric_values "$T/lat.fetch" 2
}
wait_for "tally_get_latency values (env.graphs)" get_latency_numeric
munin_run tally_get_latency config >"$T/lat.config" 2>"$T/err" ||
    fail "tally_get_latency config: $(cat "$T/err")"
grep -qx 'graph_title Storage get Latency' "$T/lat.config" ||
    fail "tally_get_latency: not the operator's title: $(cat "$T/lat.config")"
grep -q "^graph_info From the operator's graph table $GRAPHS\." \
    "$T/lat.config" || fail "tally_get_latency: no graph_info: $(cat "$T/lat.config")"
munin_run demo_extra config >"$T/extra.config" 2>"$T/err" ||
    fail "demo_extra config: $(cat "$T/err")"
# A field for node a alone, which has the stat.
[ "$(grep -c '\.type DERIVE$' "$T/extra.config")" -eq 1 ] ||
    fail "demo_extra is not DERIVE for node a alone: $(cat "$T/extra.config")"
grep -q "\.info node $ID1," "$T/extra.config" &&
    ! grep -q "\.info node $ID2," "$T/extra.config" ||
    fail "demo_extra: want node $ID1's field and not $ID2's: $(cat "$T/extra.config")"

# ---- (a) munin-run: tally_all, a multigraph plugin ----------------------

# sections FILE: the multigraph section names of FILE, in order.
sections() {
	sed -n 's/^multigraph //p' "$1"
}

# section FILE NAME: the lines of section NAME, without its header.
section() {
	awk -v s="$2" '/^multigraph / { on = ($2 == s); next } on' "$1"
}

munin_run tally_all config >"$T/all.config" 2>"$T/err" ||
    fail "munin-run tally_all config: $(cat "$T/err")"
head -n 1 "$T/all.config" | grep -q '^multigraph ' ||
    fail "tally_all config does not start with a section: $(head -n 3 "$T/all.config")"
grep -q '\.value ' "$T/all.config" &&
    fail "tally_all config printed values without dirtyconfig"
sections "$T/all.config" >"$T/all.sections"
for s in tally_load_avg tally_uptime tahoe_storage_allocated \
    tahoe_storage_operations_allocate tally_get_latency demo_extra; do
	grep -qx "$s" "$T/all.sections" ||
	    fail "tally_all config has no section $s: $(tr '\n' ' ' <"$T/all.sections")"
done
[ "$(sort -u "$T/all.sections" | wc -l)" -eq "$(wc -l <"$T/all.sections")" ] ||
    fail "tally_all repeats a section: $(tr '\n' ' ' <"$T/all.sections")"
# Graphs without data have no section (the demo nodes have no helper).
grep -q helper "$T/all.sections" &&
    fail "tally_all has a section with no data: $(tr '\n' ' ' <"$T/all.sections")"
# Each section is that graph's config, as its own link prints it.
section "$T/all.config" tally_load_avg | cmp -s - "$T/load.config" ||
    fail "section tally_load_avg differs from munin-run tally_load_avg config"
while read -r s; do
	section "$T/all.config" "$s" >"$T/sec.config"
	grep -q '^graph_title .' "$T/sec.config" ||
	    fail "section $s has no graph_title"
	n=$(config_fields "$T/sec.config" | wc -l)
	# Both nodes, but node a alone has the operator's demo.extra stat.
	want=2
	[ "$s" = demo_extra ] && want=1
	[ "$n" -eq "$want" ] || fail "section $s declares $n fields, want $want"
done <"$T/all.sections"

# Fetch: the same sections, and values for the same fields.
all_fetch_complete() {
	munin_run tally_all >"$T/all.fetch" 2>"$T/err" || return 1
	sections "$T/all.fetch" | cmp -s - "$T/all.sections" || return 1
	section "$T/all.fetch" tally_load_avg >"$T/sec.fetch"
	numeric_values "$T/sec.fetch" 2
}
wait_for "tally_all fetch with the config's sections" all_fetch_complete
while read -r s; do
	section "$T/all.config" "$s" | config_fields /dev/stdin | sort \
	    >"$T/sec.fields"
	section "$T/all.fetch" "$s" >"$T/sec.fetch"
	fetch_pairs "$T/sec.fetch" | cut -d ' ' -f 1 | sort |
	    cmp -s - "$T/sec.fields" ||
	    fail "section $s: fetch fields differ from config's: $(cat "$T/sec.fetch")"
	grep -q '^graph_' "$T/sec.fetch" && fail "section $s: fetch has config lines"
done <"$T/all.sections"

# dirtyconfig: every section has its config and its values.
MUNIN_CAP_DIRTYCONFIG=1 munin_run tally_all config >"$T/all.dirty" \
    2>"$T/err" || fail "tally_all dirty config: $(cat "$T/err")"
sections "$T/all.dirty" | cmp -s - "$T/all.sections" ||
    fail "tally_all dirty config has other sections than its config"
while read -r s; do
	section "$T/all.dirty" "$s" >"$T/sec.dirty"
	grep -q '^graph_title ' "$T/sec.dirty" ||
	    fail "dirty section $s has no graph_title"
	want=2
	[ "$s" = demo_extra ] && want=1
	[ "$(fetch_pairs "$T/sec.dirty" | wc -l)" -eq "$want" ] ||
	    fail "dirty section $s has not $want values: $(cat "$T/sec.dirty")"
done <"$T/all.sections"

# Without the capability (not from munin-node, not at a terminal): what
# munin's own multigraph plugins print, and exit 0.
plugin_nocap() {
	env -u MUNIN_CAP_MULTIGRAPH statsfile="$STATS" "$T/plugins/tally_all" \
	    "$@" </dev/null
}
plugin_nocap config >"$T/out" 2>"$T/err" ||
    fail "tally_all config without multigraph exited $?: $(cat "$T/err")"
grep -qx 'graph_title This plugin needs multigraph support' "$T/out" ||
    fail "tally_all config without multigraph: $(cat "$T/out")"
grep -q multigraph "$T/err" || fail "no message on stderr: $(cat "$T/err")"
plugin_nocap >"$T/out" 2>"$T/err" ||
    fail "tally_all without multigraph exited $?: $(cat "$T/err")"
[ "$(cat "$T/out")" = 'multigraph.value 0' ] ||
    fail "tally_all fetch without multigraph: $(cat "$T/out")"

# ---- (a) a bad operator's table: its file and line, for every command ----

{
	tsv tally_ok node.uptime stats Up s tally - no
	tsv tally_bad node.uptime gauge Up s tally - no
} >"$T/bad.tsv"
graphs_conf "$T/bad.tsv" >"$T/plugin-conf.d/tally-graphs"
for args in "tally_load_avg" "tally_load_avg config" "tally_all" \
    "tally_ suggest"; do
	# shellcheck disable=SC2086
	munin_run $args >"$T/out" 2>"$T/err"; rc=$?
	# 3: the graph table is bad.
	[ "$rc" -eq 3 ] ||
	    fail "munin-run $args with a bad env.graphs exited $rc, want 3"
	grep -qF "graphs $T/bad.tsv:2: category 'gauge' must be counters or stats" \
	    "$T/err" || fail "munin-run $args: message: $(cat "$T/err")"
	[ -s "$T/out" ] && fail "munin-run $args printed: $(cat "$T/out")"
done
out=$(munin_run tally_load_avg autoconf 2>&1) ||
    fail "autoconf with a bad env.graphs exited non-zero"
[[ $out == "no (graphs $T/bad.tsv:2: "* ]] ||
    fail "autoconf with a bad env.graphs says '$out'"
note "a bad env.graphs: $(head -n 1 "$T/err")"
graphs_conf "$GRAPHS" >"$T/plugin-conf.d/tally-graphs"

# ---- (a) suggest and munin-node-configure --------------------------------

# munin-run (and munin-node-configure) announce multigraph: one link.
munin_run tally_ suggest >"$T/out" 2>"$T/err" ||
    fail "suggest: $(cat "$T/err")"
[ "$(cat "$T/out")" = all ] || fail "suggest under munin says '$(cat "$T/out")', want all"
# By hand, the graphs with data, the operator's included.
env -u MUNIN_CAP_MULTIGRAPH statsfile="$STATS" graphs="$GRAPHS" \
    "$PLUGIN" suggest >"$T/out" 2>"$T/err" </dev/null ||
    fail "suggest without multigraph: $(cat "$T/err")"
for g in load_avg tahoe_storage_allocated get_latency demo_extra; do
	grep -qx "$g" "$T/out" || fail "suggest does not list $g: $(cat "$T/out")"
done

# munin-node-configure reads the markers from the binary, asks autoconf and
# suggest, and proposes the link; no daemon is needed.
mkdir "$T/lib" "$T/svc"
ln -s "$PLUGIN" "$T/lib/tally_"
mnc() {
	timeout -k 5 "$WAIT_TIMEOUT" munin-node-configure \
	    --config "$T/munin-node.conf" --libdir "$T/lib" \
	    --servicedir "$T/svc" --sconfdir "$T/plugin-conf.d" "$@" </dev/null
}
mnc --suggest --shell >"$T/mnc.out" 2>"$T/mnc.err" ||
    fail "munin-node-configure --suggest --shell: $(cat "$T/mnc.err")"
[ "$(cat "$T/mnc.out")" = "ln -s '$T/lib/tally_' '$T/svc/tally_all'" ] ||
    fail "munin-node-configure proposes: $(cat "$T/mnc.out" "$T/mnc.err")"
mnc --suggest >"$T/mnc.table" 2>&1 || fail "munin-node-configure --suggest"
grep -Eq '^tally_ +\| no +\| yes \(\+all\)' "$T/mnc.table" ||
    fail "munin-node-configure's table: $(cat "$T/mnc.table")"
# An older single-graph link: replaced by tally_all with --remove-also.
ln -s "$T/lib/tally_" "$T/svc/tally_load_avg"
mnc --shell --remove-also >"$T/mnc.out" 2>"$T/mnc.err" ||
    fail "munin-node-configure --remove-also: $(cat "$T/mnc.err")"
for want in "ln -s '$T/lib/tally_' '$T/svc/tally_all'" \
    "rm -f '$T/svc/tally_load_avg'"; do
	grep -qxF "$want" "$T/mnc.out" ||
	    fail "munin-node-configure --remove-also proposes: $(cat "$T/mnc.out")"
done
note "part (a): munin-run and munin-node-configure, tally_all with" \
    "$(wc -l <"$T/all.sections") sections"

# ---- (b) a real munin-node and the munin master ------------------------

MASTER_LIB=/usr/share/munin
for f in munin-update munin-limits munin-html munin-graph; do
	[ -x "$MASTER_LIB/$f" ] ||
	    skip "part (b): $MASTER_LIB/$f not found (install munin); part (a) passed"
done
command -v munin-cron >/dev/null 2>&1 ||
    skip "part (b): munin-cron not found (install munin); part (a) passed"
command -v rrdtool >/dev/null 2>&1 ||
    skip "part (b): rrdtool not found (install rrdtool); part (a) passed"
[ -x /usr/sbin/munin-node ] ||
    skip "part (b): /usr/sbin/munin-node not found (install munin-node); part (a) passed"
# munin-update refuses to run as root: run the master as user munin.
AS_MASTER=()
if [ "$(id -u)" -eq 0 ]; then
	id munin >/dev/null 2>&1 ||
	    skip "part (b): no user munin to run the master as; part (a) passed"
	command -v setpriv >/dev/null 2>&1 ||
	    skip "part (b): setpriv not found (install util-linux); part (a) passed"
	AS_MASTER=(setpriv --reuid=munin --regid=munin --init-groups)
fi

# munin-node reads its plugins and plugin-conf.d under MUNIN_CONFDIR, fixed
# at build time: run it with that one variable pointed at $T/node.  Only
# tally_all is linked, so every tally graph the master draws came through
# a multigraph section.
NODE=$T/node
mkdir -p "$NODE/plugins" "$NODE/plugin-conf.d"
ln -s "$PLUGIN" "$NODE/plugins/tally_all"
cp "$T/plugin-conf.d/tally" "$T/plugin-conf.d/tally-graphs" \
    "$NODE/plugin-conf.d/"

free_port() {
	perl -MIO::Socket::INET -e 'my $s = IO::Socket::INET->new(
	    LocalAddr => "127.0.0.1", LocalPort => 0, Listen => 1,
	    ReuseAddr => 1) or die "bind: $!\n"; print $s->sockport, "\n"'
}

# munin_node_up: munin-node answers with its banner (or died: true too,
# and the caller looks).
munin_node_up() {
	node_alive munin_node || return 0
	timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" && head -n 1 <&3' \
	    _ "$PORT" 2>/dev/null | grep -q '^# munin node at '
}

start_munin_node() {
	local attempt

	for attempt in 1 2 3; do
		PORT=$(free_port) || fail "no free port"
		{
			printf 'log_level 4\nlog_file %s\npid_file %s\n' \
			    "$T/munin-node.log" "$NODE/munin-node.pid"
			printf 'background 0\nsetsid 0\n'
			if [ "$(id -u)" -eq 0 ]; then
				printf 'user root\ngroup root\n'
			fi
			printf 'host_name localhost\nhost 127.0.0.1\nport %s\n' \
			    "$PORT"
			printf 'allow ^127\\.0\\.0\\.1$\n'
		} >"$NODE/munin-node.conf"
		perl -MMunin::Common::Defaults -e '
			$Munin::Common::Defaults::MUNIN_CONFDIR = shift;
			do "/usr/sbin/munin-node";
			die $@ if $@;
			exit main();' "$NODE" --config "$NODE/munin-node.conf" \
		    >"$T/munin-node.out" 2>>"$T/munin-node.err" </dev/null &
		# shellcheck disable=SC2154 # NODE_PID is lib.sh's, associative
		NODE_PID[munin_node]=$!
		wait_for "munin-node on port $PORT" munin_node_up
		node_alive munin_node && return 0
		wait "${NODE_PID[munin_node]}" 2>/dev/null
		unset "NODE_PID[munin_node]"
		note "munin-node did not start on port $PORT (attempt $attempt)"
	done
	fail "munin-node did not start: $(tail -n 5 "$T/munin-node.err")"
}
start_munin_node

# munin_talk LINE...: a session with munin-node, ended by quit.
munin_talk() {
	timeout -k 5 "$WAIT_TIMEOUT" bash -c '
		port=$1; shift
		exec 3<>"/dev/tcp/127.0.0.1/$port" || exit 1
		printf "%s\n" "$@" quit >&3
		cat <&3' _ "$PORT" "$@"
}

# A master without multigraph sees no tally_all (munin-node hides it);
# one with it gets the sections; with dirtyconfig, config has the values.
munin_talk list >"$T/talk.list" || fail "munin-node: list failed"
grep -q tally_all "$T/talk.list" &&
    fail "munin-node lists tally_all to a master without multigraph"
munin_talk "cap multigraph" list "config tally_all" >"$T/talk.config" ||
    fail "munin-node: config failed"
grep -qx 'tally_all' "$T/talk.config" ||
    fail "munin-node does not list tally_all: $(head -n 3 "$T/talk.config")"
grep -qx 'multigraph tally_load_avg' "$T/talk.config" ||
    fail "munin-node: tally_all config has no tally_load_avg section"
grep -q '\.value ' "$T/talk.config" &&
    fail "munin-node: values in config without dirtyconfig"
munin_talk "cap multigraph dirtyconfig" "config tally_all" >"$T/talk.dirty" ||
    fail "munin-node: dirty config failed"
grep -qx 'cap multigraph dirtyconfig' "$T/talk.dirty" ||
    fail "munin-node does not announce dirtyconfig: $(head -n 3 "$T/talk.dirty")"
section "$T/talk.dirty" tally_load_avg >"$T/sec.dirty"
[ "$(fetch_pairs "$T/sec.dirty" | wc -l)" -eq 2 ] ||
    fail "munin-node: dirty config of tally_load_avg has no 2 values: $(cat "$T/sec.dirty")"

# The master: its own directories, owned by whoever runs it.  munin's RRDs
# keep a value per 5 minutes by default, so a graph shows no line before a
# quarter of an hour of samples: this master keeps one per 2 s for an hour
# (update_rate, graph_data_size), and 5-minute averages for two days for
# its week to year graphs (which would otherwise read an hour of 2-second
# rows spread over a year, slowly); 600 pixels wide for a span's long title.
M=$T/master
mkdir -p "$M/db" "$M/www" "$M/log" "$M/run" "$M/cache"
cat >"$M/munin.conf" <<EOF
dbdir $M/db
htmldir $M/www
logdir $M/log
rundir $M/run
tmpldir /etc/munin/templates
staticdir /etc/munin/static
update_rate 2
graph_data_size custom 1h, 5m for 2d
graph_width 600

[localhost]
    address 127.0.0.1
    port $PORT
EOF
if [ "$(id -u)" -eq 0 ]; then
	chmod 0755 "$T"
	chown -R munin: "$M"
fi
# rrdtool's fonts want a writable cache: fontconfig complains otherwise
# (as user munin with root's HOME, say).
AS_MASTER+=(env HOME="$M" XDG_CACHE_HOME="$M/cache")

# The RRDs the master stores for a graph's fields: NAME FIELDS_FILE TYPE.
rrds() {
	local f

	for f in $(cat "$2"); do
		echo "$M/db/localhost/localhost-$1-$f-$3.rrd"
	done
}
# A field per node, named alike in every graph.
{
	rrds tally_load_avg "$T/load.fields" g	# GAUGE: a stat
	rrds tahoe_storage_operations_get "$T/load.fields" d	# DERIVE: a counter
} >"$T/rrds"
[ "$(wc -l <"$T/rrds")" -eq 4 ] || fail "not 2 + 2 fields: $(cat "$T/rrds")"

# known_values RRD: how many known (not NaN) 2-second averages RRD holds
# since the first munin-update.
known_values() {
	rrdtool fetch "$1" AVERAGE -s "$((FIRST_UPDATE - 4))" -e now 2>/dev/null |
	    awk '/^[0-9]+:/ && $2 !~ /nan/ { n++ } END { print n + 0 }'
}

# sampled: run munin-update once a clock second (rrdtool takes one update a
# second); true once every RRD holds two known values (a DERIVE needs
# three samples for two).
LAST_UPDATE=0
sampled() {
	local rrd

	nodes_alive a b munin_node
	[ "$(date +%s)" -gt "$LAST_UPDATE" ] || return 1
	LAST_UPDATE=$(date +%s)
	timeout -k 5 "$WAIT_TIMEOUT" "${AS_MASTER[@]}" "$MASTER_LIB/munin-update" \
	    --config "$M/munin.conf" >>"$T/munin-update.out" 2>&1 </dev/null ||
	    fail "munin-update exited $?: $(tail -n 20 "$T/munin-update.out" "$M/log/munin-update.log")"
	while read -r rrd; do
		[ -f "$rrd" ] && [ "$(known_values "$rrd")" -ge 2 ] || return 1
	done <"$T/rrds"
}
FIRST_UPDATE=$(date +%s)
# Usually 3 to 5 s; the deadline allows for a loaded machine.
wait_for -t $((WAIT_TIMEOUT * 6)) "two known values in each node's RRDs" \
    sampled
LAST_SAMPLE=$(date +%s)
while read -r rrd; do
	note "${rrd##*/}: $(known_values "$rrd") known values"
done <"$T/rrds"

# munin-cron: munin-update, munin-limits, munin-html, munin-graph --cron,
# each given --config.
timeout -k 5 120 "${AS_MASTER[@]}" munin-cron --config "$M/munin.conf" \
    >"$T/munin-cron.out" 2>&1 </dev/null ||
    fail "munin-cron exited $?: $(cat "$T/munin-cron.out"; tail -n 20 "$M"/log/*.log)"
grep -i fontconfig "$T/munin-cron.out" &&
    fail "munin-cron: fontconfig complains: $(cat "$T/munin-cron.out")"

is_png() {
	[ -s "$1" ] &&
	[ "$(head -c 8 "$1" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ]
}
HOSTDIR=$M/www/localhost/localhost
for g in tally_load_avg tahoe_storage_allocated tally_get_latency demo_extra; do
	is_png "$HOSTDIR/$g-day.png" ||
	    fail "no PNG for $g in $HOSTDIR: $(ls "$HOSTDIR" 2>&1 | head; tail -n 20 "$M"/log/*.log)"
done

# The day graph has 5 minutes a pixel: the span sampled is drawn as munin's
# zoom draws it (a pinpoint graph), from the 2-second rows checked above.
# munin-graph draws what munin-html listed in the dbdir: list that one.
SPAN=pinpoint=$((FIRST_UPDATE - 4)),$((LAST_SAMPLE + 2))
printf '/localhost/localhost/tally_load_avg-%s.png\n' "$SPAN" >"$T/graphs"
"${AS_MASTER[@]}" cp "$T/graphs" "$M/db/graphs" ||
    fail "cannot write $M/db/graphs"
timeout -k 5 120 "${AS_MASTER[@]}" "$MASTER_LIB/munin-graph" \
    --config "$M/munin.conf" >"$T/munin-graph.out" 2>&1 </dev/null ||
    fail "munin-graph exited $?: $(cat "$T/munin-graph.out"; tail -n 20 "$M/log/munin-graph.log")"
PNG=$HOSTDIR/tally_load_avg-$SPAN.png
is_png "$PNG" ||
    fail "no PNG at $PNG: $(cat "$T/munin-graph.out"; tail -n 20 "$M/log/munin-graph.log")"
grep -i fontconfig "$T/munin-graph.out" &&
    fail "munin-graph: fontconfig complains: $(cat "$T/munin-graph.out")"

note "part (b): munin-node on 127.0.0.1:$PORT, munin-cron drew $(find "$HOSTDIR" -name '*-day.png' | wc -l) day graphs"
note "PNG: $PNG"
exit 0
