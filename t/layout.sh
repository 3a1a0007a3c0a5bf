#!/bin/bash
# t/layout.sh: the database layout of tally(5), as the stock mdb_dump sees
# it after a demo node has flushed: exactly the named databases meta,
# nodes, counters and stats, with printable text keys and values, files
# 0660, and an environment mdb_stat accepts.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"

require_cmd mdb_dump mdb_stat stat
require_built
setup

ID=layout-node-1
NICK='Layout Node #1'
start_node n1 -s "$STATS" -n "$ID" -N "$NICK" -i 0.1 -r 200

# Wait for a flush that holds the producer's values and the simulated
# operations, then stop: SIGTERM makes a final flush, and the dump below
# reads a database nobody writes any more.
has_data() {
	db_get stats "$ID/storage_server.allocated" >/dev/null &&
	    [ "$(db_get counters "$ID/storage_server.get" 2>/dev/null ||
	    echo 0)" -gt 0 ]
}
wait_for "a flush with data from $ID" has_data
stop_node n1
start=$(date +%s)

db_dump_all >"$T/dump" || fail "mdb_dump -p -a failed"
mdb_dump -p -a "$STATS" >"$T/dump.raw" 2>"$T/dump.err" ||
    fail "mdb_dump -p -a: $(cat "$T/dump.err")"
[ -s "$T/dump" ] || fail "mdb_dump -p -a shows nothing"

# Exactly the four named databases (mdb_dump -a lists them in key order).
dbs=$(sed -n 's/^database=//p' "$T/dump.raw" | sort | tr '\n' ' ')
[ "$dbs" = "counters meta nodes stats " ] ||
    fail "named databases are '$dbs', want 'counters meta nodes stats'"
# mdb_dump -p writes a value as is unless a byte is not printable: the keys
# and values are text, with no escapes but \0a (newline, in records).
if grep -v '^\(nodes\)	' "$T/dump" | grep -q '\\'; then
	fail "escaped (non-printable) bytes in: $(grep '\\' "$T/dump" | head -3)"
fi

# meta: format = 1 (no stat index: tally index makes it), nothing else.
meta=$(awk -F '\t' '$1 == "meta"' "$T/dump")
[ "$meta" = "$(printf 'meta\tformat\t1')" ] ||
    fail "meta is '$meta', want one record format=1"

# nodes: one record, keyed by the node id, one field=value per line.
nodes=$(awk -F '\t' '$1 == "nodes"' "$T/dump")
[ "$(printf '%s\n' "$nodes" | wc -l)" -eq 1 ] ||
    fail "nodes holds more than one record: $nodes"
[ "$(printf '%s' "$nodes" | cut -f 2)" = "$ID" ] ||
    fail "nodes key is not '$ID': $nodes"
record=$(printf '%s' "$nodes" | cut -f 3)
case $record in
*'\0a') ;;
*) fail "the node record does not end with a newline: $record" ;;
esac
[[ $record =~ ^([a-z_]+=[^\\]*\\0a)+$ ]] ||
    fail "the node record is not field=value lines: $record"
nick=$(node_field "$ID" nickname) || fail "no nickname= in $record"
[ "$nick" = "$NICK" ] || fail "nickname=$nick, want $NICK"
time=$(node_field "$ID" time) || fail "no time= in $record"
[[ $time =~ ^[0-9]+$ ]] || fail "time=$time is not decimal UNIX seconds"
[ "$time" -le "$start" ] && [ "$time" -gt $((start - 120)) ] ||
    fail "time=$time is not a recent UNIX time (now $start)"
source=$(node_field "$ID" source) || fail "no source= in $record"
[ "$source" = local ] || fail "source=$source, want local"

# counters: <node id>/<stat name> -> int64 as decimal text.
awk -F '\t' '$1 == "counters"' "$T/dump" >"$T/dump.counters"
[ -s "$T/dump.counters" ] || fail "no counters"
while IFS=$'\t' read -r _ key value; do
	[[ $key =~ ^$ID/[A-Za-z0-9_.:-]{1,255}$ ]] ||
	    fail "counter key '$key' is not $ID/<stat name>"
	[[ $value =~ ^-?(0|[1-9][0-9]{0,18})$ ]] ||
	    fail "counter $key = '$value' is not a decimal int64"
done <"$T/dump.counters"
for c in allocate get writev readv bytes_added bytes_freed; do
	v=$(db_get counters "$ID/storage_server.$c") ||
	    fail "no counter $ID/storage_server.$c"
	[ "$v" -ge 0 ] || fail "counter storage_server.$c = $v < 0"
done

# stats: <node id>/<stat name> -> double as shortest round-trip text.
awk -F '\t' '$1 == "stats"' "$T/dump" >"$T/dump.stats"
[ -s "$T/dump.stats" ] || fail "no stats"
while IFS=$'\t' read -r _ key value; do
	[[ $key =~ ^$ID/[A-Za-z0-9_.:-]{1,255}$ ]] ||
	    fail "stat key '$key' is not $ID/<stat name>"
	[[ $value =~ ^(nan|-?inf|-?([0-9]+(\.[0-9]+)?|\.[0-9]+)([eE][-+]?[0-9]+)?)$ ]] ||
	    fail "stat $key = '$value' is not a double as text"
	# Shortest round-trip text never pads the fraction with zeros.
	[[ $value =~ \.[0-9]*0($|[eE]) ]] &&
	    fail "stat $key = '$value' is not the shortest round-trip text"
done <"$T/dump.stats"
for s in allocated consumed latencies.get.mean latencies.get.99_9_percentile
do
	db_get stats "$ID/storage_server.$s" >/dev/null ||
	    fail "no stat $ID/storage_server.$s"
done
# The get latencies: 200 ops/s for a while, so some gets were timed: the
# histogram's count, a counter.  Its mean is the last interval's (tally(5),
# "Histograms"): nan when the stop's flush came before any get of its own,
# as it can on a busy machine, else a number.
v=$(db_get counters "$ID/storage_server.latencies.get.count") ||
    fail "no counter $ID/storage_server.latencies.get.count"
[ "$v" -gt 0 ] || fail "latencies.get.count = $v, want some gets timed"
v=$(db_get stats "$ID/storage_server.latencies.get.mean")
is_number "$v" || [ "$v" = nan ] ||
    fail "latencies.get.mean = $v, want a number or nan"

# The stat index, made by tally index: each table's keys once more as
# <stat name>/<node id>, with the same values, and nothing else.
"$TALLY_BUILDDIR/tally" -s "$STATS" index >"$T/index.out" 2>&1 ||
    fail "tally index: $(cat "$T/index.out")"
db_dump_all >"$T/dump" || fail "mdb_dump -p -a failed"
mdb_dump -p -a "$STATS" >"$T/dump.raw" 2>"$T/dump.err" ||
    fail "mdb_dump -p -a: $(cat "$T/dump.err")"
dbs=$(sed -n 's/^database=//p' "$T/dump.raw" | sort | tr '\n' ' ')
[ "$dbs" = "counters counters-by-stat meta nodes stats stats-by-stat " ] ||
    fail "after tally index, named databases are '$dbs'"
[ "$(awk -F '\t' '$1 == "meta"' "$T/dump")" = "$(printf 'meta\tformat\t2')" ] ||
    fail "after tally index, meta is not format=2"
for t in counters stats; do
	awk -F '\t' -v t="$t" '$1 == t { n = split($2, p, "/");
	    print p[2] "/" p[1] "\t" $3 }' "$T/dump" | sort >"$T/want.idx"
	awk -F '\t' -v t="$t-by-stat" '$1 == t { print $2 "\t" $3 }' \
	    "$T/dump" | sort >"$T/got.idx"
	[ -s "$T/got.idx" ] || fail "$t-by-stat is empty"
	cmp -s "$T/want.idx" "$T/got.idx" ||
	    fail "$t-by-stat is not $t keyed by stat: $(diff "$T/want.idx" "$T/got.idx" | head -5)"
done

# Files 0660 (LMDB readers need write access to lock.mdb), even under the
# umask 022 this test runs with.
# nodes.lock holds the writers' node locks (one live writer per node id).
for f in data.mdb lock.mdb nodes.lock; do
	[ -f "$STATS/$f" ] || fail "no $STATS/$f"
	mode=$(stat -c %a "$STATS/$f")
	[ "$mode" = 660 ] || fail "$f has mode $mode, want 660"
done
[ "$(ls -A "$STATS" | sort | tr '\n' ' ')" = \
    "data.mdb lock.mdb nodes.lock " ] ||
    fail "unexpected files in the statsfile: $(ls -A "$STATS")"

mdb_stat -a "$STATS" >"$T/stat" 2>&1 || fail "mdb_stat -a: $(cat "$T/stat")"
mdb_stat -e "$STATS" >"$T/stat" 2>&1 || fail "mdb_stat -e: $(cat "$T/stat")"

note "layout ok: $(wc -l <"$T/dump.counters") counters, $(wc -l <"$T/dump.stats") stats"
exit 0
