#!/bin/bash
# t/munin-two-nodes.sh: two demo nodes write into one statsfile, and the real
# munin-run shows a field for each of them in the config and fetch output of
# a stats graph, a DERIVE counters graph and a built-in monitor's graph,
# under the plain and the tally_-prefixed plugin names; autoconf says yes and
# suggest lists graphs.  Then a fleet of 3,000 nodes in one fetch.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"

require_cmd munin-run mdb_dump mdb_load
require_built
setup
munin_setup

# The second node's id and nickname start with a digit, and the nickname
# has a space: both must still give valid, distinct munin field names.
ID1=storage-a1
NICK1=alpha
ID2=9b-storage
NICK2='2nd storage'
start_node a -s "$STATS" -n "$ID1" -N "$NICK1" -i 0.2 -r 100
start_node b -s "$STATS" -n "$ID2" -N "$NICK2" -i 0.2 -r 100

both_nodes() {
	db_has_node "$ID1" && db_has_node "$ID2"
}
wait_for "both nodes in the nodes database" both_nodes

GRAPHS='tahoe_storage_allocated tahoe_storage_operations_allocate
	tally_load_avg tally_tahoe_storage_allocated'
# shellcheck disable=SC2086
munin_link $GRAPHS tally_

# fetch_numeric GRAPH: munin-run GRAPH gives a numeric value for exactly the
# two nodes (the load monitor needs a second before its first sample, a
# counter a flush with operations).
fetch_numeric() {
	local out=$T/$1.fetch

	munin_run "$1" >"$out" 2>"$T/$1.fetch.err" || return 1
	[ "$(fetch_pairs "$out" | wc -l)" -eq 2 ] || return 1
	! fetch_pairs "$out" | awk '{ print $2 }' | grep -qvE \
	    '^-?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]+)?$'
}

# config_two GRAPH: munin-run GRAPH config succeeds and lists two fields. A
# graph lists the nodes that have its stat, and a node has the load
# monitor's only after its first sample, a second after it starts.
config_two() {
	munin_run "$1" config >"$T/$1.config" 2>"$T/$1.config.err" ||
	    return 1
	[ "$(config_fields "$T/$1.config" | wc -l)" -ge 2 ]
}

for g in $GRAPHS; do
	# config: a graph with one labelled field per node.
	wait_for "two fields in munin-run $g config" config_two "$g"
	grep -q '^graph_title .' "$T/$g.config" ||
	    fail "$g config has no graph_title: $(cat "$T/$g.config")"
	config_fields "$T/$g.config" | sort >"$T/$g.fields"
	[ "$(wc -l <"$T/$g.fields")" -eq 2 ] ||
	    fail "$g config has $(wc -l <"$T/$g.fields") fields, want 2: $(cat "$T/$g.config")"
	[ "$(sort -u "$T/$g.fields" | wc -l)" -eq 2 ] ||
	    fail "$g config repeats a field: $(cat "$T/$g.fields")"
	while read -r f; do
		[[ $f =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] ||
		    fail "$g: '$f' is not a valid munin field name"
	done <"$T/$g.fields"
	for nick in "$NICK1" "$NICK2"; do
		grep -q "\.label .*$nick" "$T/$g.config" ||
		    fail "$g config has no label for '$nick': $(cat "$T/$g.config")"
	done

	# fetch: numeric values, for the same fields.
	wait_for "numeric values for both nodes from munin-run $g" \
	    fetch_numeric "$g"
	fetch_pairs "$T/$g.fetch" | cut -d ' ' -f 1 | sort >"$T/$g.fetched"
	cmp -s "$T/$g.fields" "$T/$g.fetched" ||
	    fail "$g: fetch fields ($(tr '\n' ' ' <"$T/$g.fetched")) differ from config's ($(tr '\n' ' ' <"$T/$g.fields"))"
done

# The storage graphs: from the original system's table.
grep -q '^graph_args.*--base 1024' "$T/tahoe_storage_allocated.config" ||
    fail "tahoe_storage_allocated lost its --base 1024"
# The prefixed name is the same graph.
cmp -s "$T/tahoe_storage_allocated.config" \
    "$T/tally_tahoe_storage_allocated.config" ||
    fail "tally_tahoe_storage_allocated config differs from tahoe_storage_allocated's"
# Operations are DERIVE counters with min 0, one pair per node.
g=tahoe_storage_operations_allocate
for f in $(cat "$T/$g.fields"); do
	grep -q "^$f\.type DERIVE\$" "$T/$g.config" ||
	    fail "$g: $f is not DERIVE: $(cat "$T/$g.config")"
	grep -q "^$f\.min 0\$" "$T/$g.config" ||
	    fail "$g: $f has no min 0: $(cat "$T/$g.config")"
done
# A counter's value is the one in the database, which only grows.
for id in "$ID1" "$ID2"; do
	v=$(db_get counters "$id/storage_server.allocate") ||
	    fail "no storage_server.allocate counter for $id"
	[ "$v" -ge 0 ] || fail "$id: storage_server.allocate = $v"
done

# autoconf: yes, exit 0.
out=$(munin_run tahoe_storage_allocated autoconf 2>&1) ||
    fail "autoconf exited non-zero: $out"
[ "$out" = yes ] || fail "autoconf says '$out', want yes"

# suggest: under munin, which announces multigraph, the one tally_all
# link; without the capability, the graphs there are data for, one a line.
munin_run tally_ suggest >"$T/suggest" 2>"$T/suggest.err" ||
    fail "suggest failed: $(cat "$T/suggest.err")"
[ "$(cat "$T/suggest")" = all ] ||
    fail "suggest under munin-run says '$(cat "$T/suggest")', want all"
env -u MUNIN_CAP_MULTIGRAPH statsfile="$STATS" "$PLUGIN" suggest \
    >"$T/suggest" 2>"$T/suggest.err" </dev/null ||
    fail "suggest failed: $(cat "$T/suggest.err")"
for g in tahoe_storage_allocated tahoe_storage_operations_get load_avg; do
	grep -q "$g" "$T/suggest" ||
	    fail "suggest does not list $g: $(cat "$T/suggest")"
done

# A node whose snapshot is older than 300 s shows U, the other its value.
# Stop the second node, then age its record with the stock mdb_load.
stop_node b
record=$(db_get nodes "$ID2") || fail "no record for $ID2"
old=$(( $(node_field "$ID2" time) - 1000 ))
aged=$(printf '%s' "$record" |
    sed 's/\(^\|\\0a\)time=[0-9]*/\1time='"$old"'/')
[ "$aged" != "$record" ] || fail "could not age the record: $record"
printf 'VERSION=3\nformat=print\ntype=btree\nHEADER=END\n %s\n %s\nDATA=END\n' \
    "$ID2" "$aged" >"$T/aged.dump"
mdb_load -s nodes -f "$T/aged.dump" "$STATS" 2>"$T/mdb_load.err" ||
    fail "mdb_load: $(cat "$T/mdb_load.err")"
[ "$(node_field "$ID2" time)" = "$old" ] || fail "the record was not aged"
g=tahoe_storage_allocated
munin_run "$g" config >"$T/stale.config" 2>&1 || fail "config: $(cat "$T/stale.config")"
munin_run "$g" >"$T/stale.fetch" 2>&1 || fail "fetch: $(cat "$T/stale.fetch")"
f1=$(sed -n 's/^\([^.]*\)\.label .*'"$NICK1"'.*/\1/p' "$T/stale.config")
f2=$(sed -n 's/^\([^.]*\)\.label .*'"$NICK2"'.*/\1/p' "$T/stale.config")
v1=$(fetch_pairs "$T/stale.fetch" | awk -v f="$f1" '$1 == f { print $2 }')
v2=$(fetch_pairs "$T/stale.fetch" | awk -v f="$f2" '$1 == f { print $2 }')
is_number "$v1" || fail "the fresh node's value is '$v1': $(cat "$T/stale.fetch")"
[ "$v2" = U ] || fail "the stale node's value is '$v2', want U: $(cat "$T/stale.fetch")"

# A fleet whose answer outgrows the plugin's first buffer (64 KiB, grown
# by doubling): 3,000 nodes, each line whole and in its place, read in id
# order by munin-run.
FLEET=$T/fleet
mkdir "$FLEET"
hdr='VERSION=3\nformat=print\ntype=btree\nHEADER=END\n'
printf "$hdr"' format\n 1\nDATA=END\n' | mdb_load -s meta "$FLEET" ||
    fail "mdb_load meta"
printf "$hdr"'DATA=END\n' | mdb_load -s counters "$FLEET" ||
    fail "mdb_load counters"
now=$(date +%s)
awk -v now="$now" -v h="$hdr" 'BEGIN {
	printf "%s", h
	for (i = 0; i < 3000; i++)
		printf " f%05d\n nickname=fleet\\0atime=%d\\0asource=local\\0a\n",
		    i, now
	print "DATA=END"
}' | mdb_load -s nodes "$FLEET" || fail "mdb_load nodes"
awk -v h="$hdr" 'BEGIN {
	printf "%s", h
	for (i = 0; i < 3000; i++)
		printf " f%05d/storage_server.allocated\n %d.5\n", i, i
	print "DATA=END"
}' | mdb_load -s stats "$FLEET" || fail "mdb_load stats"
munin_conf "$FLEET"
munin_run tahoe_storage_allocated >"$T/fleet.fetch" 2>"$T/fleet.err" ||
    fail "fetch of 3,000 nodes: $(cat "$T/fleet.err")"
size=$(wc -c <"$T/fleet.fetch")
[ "$size" -gt 65536 ] || fail "the fleet's answer is $size bytes, not past 64 KiB"
fetch_pairs "$T/fleet.fetch" | awk '
	$1 != sprintf("fleet_f%05d", NR - 1) || $2 != (NR - 1) ".5" { bad++ }
	END { exit !(NR == 3000 && bad == 0) }' ||
    fail "fetch of 3,000 nodes: not each node's line in order ($size bytes)"
munin_conf "$STATS"

stop_node a
note "two nodes shown by munin-run for: $(echo $GRAPHS); 3,000 in one fetch"
exit 0
