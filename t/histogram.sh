#!/bin/bash
# t/histogram.sh: tally export and tally show on histograms (tally(5):
# H.count, H.sum_ns, H.bucket.<i>, H.refused and the interval's H.mean and
# H.<p>_percentile), in statsfiles written with the stock mdb_load:
#  - export: a Prometheus histogram per node with the exact cumulative
#    counts at le = 2^k s (buckets -240, negative ones, 0, 104, the
#    overflow bucket 112), +Inf = count, the sum in seconds exactly, one
#    TYPE for two nodes, no raw part counters, promtool check metrics
#    passes (both formats), and promtool's OpenMetrics parser reads it;
#  - damaged and hostile histograms (no H.sum_ns, a bucket name with no
#    index or one out of range, a negative bucket, buckets that disagree
#    with H.count): their parts export as counters, with a warning naming
#    the histogram, the output still passes promtool, no crash;
#  - two histograms that make one family, and names of a histogram's
#    samples, are skipped with a warning;
#  - show: one line per histogram, the other metrics unchanged; show
#    --json: a "histograms" object, well-formed.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"

require_cmd mdb_load
TALLY=$TALLY_BUILDDIR/tally
[ -x "$TALLY" ] || fail "$TALLY not built (run make first)"
setup

H=storage_server.latencies.get
M=tally_storage_server_latencies_get_seconds

# load DB: the "key value" lines on stdin (mdb_dump -p's printable form)
# into table DB of $STATS, with the stock mdb_load.
load() {
	{
		printf 'VERSION=3\nformat=print\ntype=btree\nHEADER=END\n'
		while read -r k v; do
			printf ' %s\n %s\n' "$k" "$v"
		done
		printf 'DATA=END\n'
	} | mdb_load -s "$1" "$STATS" 2>"$T/mdb_load.err" ||
	    fail "mdb_load $1: $(cat "$T/mdb_load.err")"
}

# node ID: a node record, now.
node() {
	echo "$1 nickname=$1\\0atime=$(date +%s)\\0asource=local\\0a" | load nodes
}

# tally ARG...: stdout in $T/out, stderr in $T/err, status in $rc.
tally() {
	timeout -k 5 "$WAIT_TIMEOUT" "$TALLY" -s "$STATS" "$@" >"$T/out" \
	    2>"$T/err" </dev/null
	rc=$?
}

# ok WHAT: the last call exited 0, not a crash.
ok() {
	[ "$rc" -eq 0 ] || fail "$1: exit $rc: $(cat "$T/err")"
}

# out_has / out_lacks / err_has PATTERN WHAT (grep -E).
out_has() {
	grep -qE -- "$1" "$T/out" || fail "$2: no /$1/ in: $(head -c 4000 "$T/out")"
}
out_lacks() {
	! grep -E -- "$1" "$T/out" || fail "$2: /$1/ in the output"
}
err_has() {
	grep -qE -- "$1" "$T/err" || fail "$2: stderr lacks /$1/: $(cat "$T/err")"
}

# ---- a good histogram on two nodes ----------------------------------------

echo 'format 1' | load meta
node node-a
node node-b
# Buckets (index: count): -240: 2 (and everything smaller), -161: 1,
# -160: 1 (both up to 2^-20 s), -159: 1, -80: 3, -1: 1, 0: 2 (up to 1 s),
# 1: 1, 8: 1 (up to 2 s), 9: 1, 104: 1 (up to 2^13 s), 105: 1, 112: 2
# (overflow): 18 observations.
for n in node-a node-b; do
	for b in -240:2 -161:1 -160:1 -159:1 -80:3 -1:1 0:2 1:1 8:1 9:1 \
	    104:1 105:1 112:2; do
		echo "$n/$H.bucket.${b%%:*} ${b#*:}"
	done
	echo "$n/$H.count 18"
	echo "$n/$H.sum_ns 12345678901"
	echo "$n/$H.refused 4"
	echo "$n/storage_server.get 7"
done | load counters
for n in node-a node-b; do
	echo "$n/$H.mean 0.5"
	echo "$n/$H.01_0_percentile 1e-06"
	echo "$n/$H.50_0_percentile 0.25"
	echo "$n/$H.99_9_percentile 8192"
	echo "$n/storage_server.allocated 4096"
done | load stats

tally export --prometheus
ok "export --prometheus"
[ ! -s "$T/err" ] || fail "export warned: $(cat "$T/err")"
cp "$T/out" "$T/good.prom"
# le (seconds): the cumulative count there.
want="9.5367431640625e-07:4 1.9073486328125e-06:5 3.814697265625e-06:5
	0.0009765625:8 0.5:8 1:11 2:13 4:14 4096:14 8192:15 +Inf:18"
for n in node-a node-b; do
	for p in $want; do
		le=${p%:*} c=${p##*:}
		out_has "^${M}_bucket\\{node=\"$n\",nickname=\"$n\",le=\"${le//+/\\+}\"\\} $c\$" \
		    "$n's bucket le=$le"
	done
	out_has "^${M}_count\\{node=\"$n\",nickname=\"$n\"\\} 18\$" "$n's count"
	out_has "^${M}_sum\\{node=\"$n\",nickname=\"$n\"\\} 12\\.345678901\$" \
	    "$n's sum in seconds"
	out_has "^tally_storage_server_latencies_get_refused_total\\{node=\"$n\",nickname=\"$n\"\\} 4\$" \
	    "$n's refused, a counter"
	out_has "^tally_storage_server_latencies_get_50_0_percentile\\{node=\"$n\",nickname=\"$n\"\\} 0\\.25\$" \
	    "$n's median, a gauge"
done
[ "$(grep -c "_bucket{node=\"node-a\"" "$T/out")" -eq 35 ] ||
    fail "node-a has $(grep -c "_bucket{node=\"node-a\"" "$T/out") bucket lines, want 34 and +Inf"
[ "$(grep -c "^# TYPE $M histogram\$" "$T/out")" -eq 1 ] ||
    fail "not one TYPE line for $M: $(grep '^# TYPE' "$T/out")"
out_has "^# HELP $M tally histogram $H\$" "the HELP line"
out_lacks '_bucket_|_count_total|_sum_ns' "the raw part counters"
out_has '^tally_storage_server_get_total\{node="node-a",nickname="node-a"\} 7$' \
    "an ordinary counter"
# Buckets in le order, as numbers: each le above the one before.
grep "^${M}_bucket{node=\"node-a\"" "$T/out" | sed 's/.*le="\([^"]*\)".*/\1/' |
    awk '$1 == "+Inf" { inf = 1; next }
	inf || (NR > 1 && $1 + 0 <= last) { exit 1 } { last = $1 + 0 }' ||
    fail "le bounds out of order"

command -v promtool >/dev/null 2>&1 || skip "promtool not found (install prometheus)"
promtool check metrics <"$T/good.prom" >"$T/promtool.out" 2>&1 ||
    fail "promtool check metrics: $(cat "$T/promtool.out")"

tally export --openmetrics
ok "export --openmetrics"
cp "$T/out" "$T/good.om"
out_has "^${M}_bucket\\{node=\"node-a\",nickname=\"node-a\",le=\"1\\.0\"\\} 11\$" \
    "OpenMetrics le=\"1.0\""
out_has '^# EOF$' "# EOF"
awk '/^#/ { print; next } { print $0 " 1700000000" }' "$T/good.om" >"$T/backfill.om"
promtool tsdb create-blocks-from openmetrics "$T/backfill.om" "$T/blocks" \
    >"$T/backfill.out" 2>&1 ||
    fail "promtool's OpenMetrics parser: $(cat "$T/backfill.out")"

# ---- show ---------------------------------------------------------------

tally show node-a
ok "show"
out_has "^  hist     $H +count=18 sum=12\\.345678901s refused=4 mean=0\\.5 p1=1e-06 p50=0\\.25 p99\\.9=8192\$" \
    "the histogram's line"
out_lacks 'bucket|sum_ns|percentile|\.mean' "the histogram's parts"
out_has '^  counter  storage_server\.get +7$' "an ordinary counter"
out_has '^  stat     storage_server\.allocated +4096$' "an ordinary stat"
tally show --json node-a
ok "show --json"
json=$(tr -d ' \n' <"$T/out")
[[ $json == *"\"histograms\":{\"$H\":{\"count\":18,\"sum_ns\":12345678901,\"sum\":12.345678901,\"refused\":4,\"buckets\":{\"-240\":2,\"-161\":1,"* ]] ||
    fail "show --json: no histogram object: $(cat "$T/out")"
[[ $json == *"\"mean\":0.5,\"percentiles\":{\"1\":1e-06,\"10\":null,\"50\":0.25,"* ]] ||
    fail "show --json: no interval stats: $(cat "$T/out")"
[[ $json != *bucket.* && $json != *sum_ns\":12345678901,\"$H* ]] ||
    fail "show --json: raw parts: $(cat "$T/out")"

# ---- damaged and hostile histograms ------------------------------------

# Each node has one fault; their parts export as counters, with a
# warning that names the histogram (none for bad-nosum: no H.sum_ns, no
# histogram).
STATS=$T/hostile
mkdir "$STATS"
echo 'format 1' | load meta
for n in good bad-nosum bad-noindex bad-range bad-lead0 bad-neg bad-sum; do
	node "$n"
done
{
	for b in -1:1 0:2; do echo "good/$H.bucket.${b%%:*} ${b#*:}"; done
	echo "good/$H.count 3"
	echo "good/$H.sum_ns 1500000000"
	echo "bad-nosum/$H.count 3"
	echo "bad-nosum/$H.bucket.0 3"
	for n in noindex range lead0 neg sum; do
		echo "bad-$n/$H.count 3"
		echo "bad-$n/$H.sum_ns 1"
	done
	echo "bad-noindex/$H.bucket.x 3"
	echo "bad-range/$H.bucket.113 3"
	echo "bad-lead0/$H.bucket.07 3"
	echo "bad-neg/$H.bucket.0 -1"
	echo "bad-neg/$H.bucket.1 4"
	echo "bad-sum/$H.bucket.0 2"
} | load counters
printf '' | load stats
tally export --prometheus
ok "export of hostile histograms"
cp "$T/out" "$T/hostile.prom"
for n in noindex range lead0 neg sum; do
	err_has "histogram '$H' of node bad-$n: .*exported as counters" \
	    "bad-$n's warning"
	out_has "^tally_storage_server_latencies_get_count_total\\{node=\"bad-$n\"" \
	    "bad-$n's count as a counter"
done
! grep -q "node bad-nosum" "$T/err" || fail "bad-nosum warned: $(cat "$T/err")"
out_has '^tally_storage_server_latencies_get_count_total\{node="bad-nosum"' \
    "bad-nosum's count as a counter"
out_has '^tally_storage_server_latencies_get_bucket_x_total\{node="bad-noindex",nickname="bad-noindex"\} 3$' \
    "bad-noindex's bucket as a counter"
err_has "counter '$H.bucket.0' of node bad-neg is negative" "the negative bucket"
out_has "^${M}_bucket\\{node=\"good\",nickname=\"good\",le=\"1\"\\} 3\$" \
    "the good node's histogram beside them"
out_has "^${M}_sum\\{node=\"good\",nickname=\"good\"\\} 1\\.5\$" \
    "the good node's sum"
out_lacks "^${M}_[a-z]*\\{node=\"bad" "a histogram for a damaged one"
# The fallback's H.sum_ns counter draws promtool's lint on its name
# ("abbreviated units", exit 3); anything else is a fault.
promtool check metrics <"$T/hostile.prom" >"$T/promtool.out" 2>&1
rc=$?
[ "$rc" -eq 0 ] || [ "$rc" -eq 3 ] ||
    fail "promtool check metrics cannot parse hostile histograms (exit $rc): $(cat "$T/promtool.out")"
! grep -v '^tally_storage_server_latencies_get_sum_ns_total metric names should not contain abbreviated units$' \
    "$T/promtool.out" ||
    fail "promtool check metrics on hostile histograms: $(cat "$T/promtool.out")"
tally show
ok "show of hostile histograms"
out_has "^  counter  $H\\.bucket\\.113 +3\$" "bad-range's bucket as a counter"
out_has "^  hist     $H +count=3 sum=1\\.5s\$" "the good node's line"
err_has "histogram '$H' of node bad-sum: buckets that do not add up" \
    "show's warning"
tally show --json
ok "show --json of hostile histograms"

# ---- clashes -------------------------------------------------------------

# Two histograms of one node that make one family (x.y and x_y), and a
# counter and a stat of another node named as its samples: the later ones
# are skipped with a warning, as for any two names that make one metric.
STATS=$T/clash
mkdir "$STATS"
echo 'format 1' | load meta
node a
node b
printf '%s\n' "a/x.y.count 1" "a/x.y.sum_ns 5" "a/x.y.bucket.0 1" \
    "a/x_y.count 2" "a/x_y.sum_ns 5" "a/x_y.bucket.3 2" \
    "b/x.y_seconds_count 9" | load counters
echo "b/x.y_seconds_sum 1" | load stats
tally export --prometheus
ok "export of clashing histograms"
err_has "histogram 'x_y' of node a: another of the node's names gives metric tally_x_y_seconds" \
    "the second histogram's warning"
err_has "counter 'x.y_seconds_count' of node b clashes with histogram metric tally_x_y_seconds" \
    "the counter's warning"
out_has '^tally_x_y_seconds_bucket\{node="a",nickname="a",le="1"\} 1$' \
    "the first histogram"
[ "$(grep -c '^tally_x_y_seconds_count' "$T/out")" -eq 1 ] ||
    fail "not one _count sample: $(cat "$T/out")"
promtool check metrics <"$T/out" >"$T/promtool.out" 2>&1 ||
    fail "promtool check metrics on clashes: $(cat "$T/promtool.out")"

note "histograms export as Prometheus histograms and show as one line;" \
    "damaged ones as their counters"
exit 0
