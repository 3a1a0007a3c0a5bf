#!/bin/bash
# t/munin-hist.sh: histogram graphs through the real munin-run.  A demo
# node makes the statsfile; the stock mdb_load then adds two nodes whose
# snapshots carry histogram storage_server.latencies.get as tally(5)
# stores one (H.count, H.sum_ns, H.bucket.<i> counters; H.mean and
# H.<P>_percentile stats, nan on one node), values known to the test; the
# demo node's own histogram has observed nothing (-r 0).  A link per stat gives a config (title, vlabel
# seconds, a valid unique field per node that has the stat) and a fetch
# (numbers, U for nan); tally_all has a section per stat; suggest lists
# them; a malformed histogram link fails with a clear message and a
# non-zero exit, and autoconf says "no (reason)".
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"

require_cmd munin-run mdb_dump mdb_load
require_built
setup
munin_setup

start_node seed -s "$STATS" -n seed-node -N seed -i 0.05 -r 0
wait_for "seed-node's first flush" db_has_node seed-node
stop_node seed

H=storage_server.latencies.get
SPELLED=storage_server__latencies__get
NOW=$(date +%s)
ID1=hist-a1
NICK1=alpha
ID2=9hist-b2
NICK2='2nd beta'

# load DB KEY VALUE...: put pairs into a named database with mdb_load, in
# mdb_dump's printable form (values here hold no backslash).
load() {
	local db=$1

	shift
	{
		printf 'VERSION=3\nformat=print\ntype=btree\nHEADER=END\n'
		while [ $# -ge 2 ]; do
			printf ' %s\n %s\n' "$1" "$2"
			shift 2
		done
		printf 'DATA=END\n'
	} >"$T/$db.dump"
	mdb_load -s "$db" -f "$T/$db.dump" "$STATS" 2>"$T/mdb_load.err" ||
	    fail "mdb_load $db: $(cat "$T/mdb_load.err")"
}

load nodes \
    "$ID1" "nickname=$NICK1\\0atime=$NOW\\0asource=local\\0a" \
    "$ID2" "nickname=$NICK2\\0atime=$NOW\\0asource=local\\0a"
load counters \
    "$ID1/$H.bucket.-80" 3 "$ID1/$H.bucket.-72" 1 "$ID1/$H.count" 4 \
    "$ID1/$H.sum_ns" 12000000 \
    "$ID2/$H.bucket.-80" 7 "$ID2/$H.count" 7 "$ID2/$H.sum_ns" 700 \
    "$ID2/lonely.count" 1
load stats \
    "$ID1/$H.mean" 0.003 "$ID1/$H.01_0_percentile" 0.001 \
    "$ID1/$H.10_0_percentile" 0.001 "$ID1/$H.50_0_percentile" 0.001 \
    "$ID1/$H.90_0_percentile" 0.0045 "$ID1/$H.95_0_percentile" 0.0045 \
    "$ID1/$H.99_0_percentile" 0.0045 "$ID1/$H.99_9_percentile" 0.25 \
    "$ID2/$H.mean" nan "$ID2/$H.99_9_percentile" nan
[ "$(db_get counters "$ID1/$H.count")" = 4 ] || fail "mdb_load lost a counter"

P999=tally_hist_${SPELLED}_p99_9
MEAN=tally_hist_${SPELLED}_mean
P50=tally_hist_${SPELLED}_p50_0
BAD1=tally_hist_${SPELLED}_p98_0
BAD2=tally_hist_a____b_mean
munin_link "$P999" "$MEAN" "$P50" "$BAD1" "$BAD2" tally_all tally_

# Config: the title, seconds, a valid field per node that has the stat:
# the two loaded nodes and the demo node, whose histogram of get latencies
# has observed nothing at -r 0 (its stats are nan).
for g in "$P999" "$MEAN"; do
	munin_run "$g" config >"$T/$g.config" 2>"$T/$g.config.err" ||
	    fail "$g config: $(cat "$T/$g.config.err")"
	grep -q '^graph_vlabel seconds$' "$T/$g.config" ||
	    fail "$g config: no graph_vlabel seconds: $(cat "$T/$g.config")"
	grep -q '^graph_category latency$' "$T/$g.config" ||
	    fail "$g config: not in category latency: $(cat "$T/$g.config")"
	config_fields "$T/$g.config" | sort >"$T/$g.fields"
	[ "$(sort -u "$T/$g.fields" | wc -l)" -eq 3 ] ||
	    fail "$g config: want 3 distinct fields: $(cat "$T/$g.config")"
	while read -r f; do
		[[ $f =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] ||
		    fail "$g: '$f' is not a valid munin field name"
	done <"$T/$g.fields"
done
grep -qx "graph_title $H 99.9th percentile" "$T/$P999.config" ||
    fail "$P999 title: $(grep title "$T/$P999.config")"
grep -qx "graph_title $H mean" "$T/$MEAN.config" ||
    fail "$MEAN title: $(grep title "$T/$MEAN.config")"
grep -q "^graph_info .*Stat: $H.99_9_percentile" "$T/$P999.config" ||
    fail "$P999 graph_info does not name the stat"

# Fetch: the numbers, U for nan, the same fields as the config.
munin_run "$P999" >"$T/p999.fetch" 2>"$T/p999.err" ||
    fail "$P999 fetch: $(cat "$T/p999.err")"
f1=$(sed -n 's/^\([^.]*\)\.label '"$NICK1"'$/\1/p' "$T/$P999.config")
f2=$(sed -n 's/^\([^.]*\)\.label '"$NICK2"'$/\1/p' "$T/$P999.config")
[ -n "$f1" ] && [ -n "$f2" ] || fail "no labels: $(cat "$T/$P999.config")"
v1=$(fetch_pairs "$T/p999.fetch" | awk -v f="$f1" '$1 == f { print $2 }')
v2=$(fetch_pairs "$T/p999.fetch" | awk -v f="$f2" '$1 == f { print $2 }')
[ "$v1" = 0.25 ] || fail "$NICK1's 99.9th percentile is '$v1': $(cat "$T/p999.fetch")"
[ "$v2" = U ] || fail "$NICK2's nan reads '$v2', want U"
fetch_pairs "$T/p999.fetch" | cut -d ' ' -f 1 | sort >"$T/p999.fetched"
cmp -s "$T/$P999.fields" "$T/p999.fetched" ||
    fail "fetch fields differ from config's"
# The median: the first node has it, and the demo node's histogram (no
# operation at -r 0) reads U; the second node has none.
munin_run "$P50" >"$T/p50.fetch" 2>&1 || fail "$P50: $(cat "$T/p50.fetch")"
[ "$(fetch_pairs "$T/p50.fetch" | grep -c .)" -eq 2 ] &&
    fetch_pairs "$T/p50.fetch" | grep -qx "$f1 0.001" &&
    fetch_pairs "$T/p50.fetch" | grep -qx "seed_seed_node_[0-9a-f]* U" ||
    fail "$P50 fetch: $(cat "$T/p50.fetch")"

# tally_all: a section per stat with data, as its own link prints it.
munin_run tally_all >"$T/all.fetch" 2>"$T/all.err" ||
    fail "tally_all: $(cat "$T/all.err")"
for p in mean p01_0 p10_0 p50_0 p90_0 p95_0 p99_0 p99_9; do
	grep -qx "multigraph tally_hist_${SPELLED}_$p" "$T/all.fetch" ||
	    fail "tally_all has no section for $p: $(cat "$T/all.fetch")"
done
awk -v s="multigraph $P999" '$0 == s { on = 1; next }
    /^multigraph / { on = 0 } on' "$T/all.fetch" >"$T/all.p999"
cmp -s "$T/all.p999" "$T/p999.fetch" ||
    fail "tally_all's $P999 section differs from the link's fetch"
grep -q lonely "$T/all.fetch" && fail "lonely.count made a histogram"
munin_run tally_all config >"$T/all.config" 2>"$T/all.err" ||
    fail "tally_all config: $(cat "$T/all.err")"
grep -qx "graph_title $H 99.9th percentile" "$T/all.config" ||
    fail "tally_all config has no histogram title"

# suggest: all under munin; without multigraph, every histogram stat.
munin_run tally_ suggest >"$T/suggest" 2>"$T/suggest.err" ||
    fail "suggest: $(cat "$T/suggest.err")"
[ "$(cat "$T/suggest")" = all ] || fail "suggest says '$(cat "$T/suggest")'"
env -u MUNIN_CAP_MULTIGRAPH statsfile="$STATS" "$PLUGIN" suggest \
    >"$T/suggest" 2>"$T/suggest.err" </dev/null ||
    fail "suggest: $(cat "$T/suggest.err")"
for p in mean p01_0 p50_0 p99_9; do
	grep -qx "hist_${SPELLED}_$p" "$T/suggest" ||
	    fail "suggest lacks hist_${SPELLED}_$p: $(cat "$T/suggest")"
done

# autoconf: yes for a histogram's link, no (reason) for a malformed one.
out=$(munin_run "$P999" autoconf 2>&1) || fail "autoconf exited non-zero"
[ "$out" = yes ] || fail "autoconf of $P999 says '$out'"
out=$(munin_run "$BAD1" autoconf 2>&1) || fail "autoconf exited non-zero"
[[ $out == "no ('$BAD1' names no histogram graph"* ]] ||
    fail "autoconf of $BAD1 says '$out'"

# A malformed name: a clear message, a non-zero exit, nothing on stdout.
for g in "$BAD1" "$BAD2"; do
	munin_run "$g" >"$T/bad.out" 2>"$T/bad.err" &&
	    fail "$g succeeded: $(cat "$T/bad.out")"
	[ -s "$T/bad.out" ] && fail "$g printed: $(cat "$T/bad.out")"
done
statsfile=$STATS "$T/plugins/$BAD2" >/dev/null 2>"$T/bad.err" &&
    fail "$BAD2 succeeded"
[ $? -eq 1 ] || fail "$BAD2 exit status is not 1"
grep -q "spells no histogram name: 4 '_' in a row" "$T/bad.err" ||
    fail "$BAD2 message: $(cat "$T/bad.err")"
statsfile=$STATS "$T/plugins/$BAD1" >/dev/null 2>"$T/bad.err" &&
    fail "$BAD1 succeeded"
grep -q "names no histogram graph: .*mean p01_0 p10_0" "$T/bad.err" ||
    fail "$BAD1 message: $(cat "$T/bad.err")"

note "histogram graphs of $H shown by munin-run"
exit 0
