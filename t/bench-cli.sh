#!/bin/bash
# bench-cli.sh BUILDDIR [NODES] [METRICS]: tally export, check and show
# --json on NODES nodes of METRICS metrics each (half counters, half stats),
# in a database built with the stock mdb_load from a generated dump.  Prints
# each figure beside the target; KEEP=1 keeps the database.  Each command's
# output is first checked to cover the whole fleet, NODES x METRICS values;
# if one does not, that is said and the script exits 1 with no figure.
set -eu
B=${1:-.} N=${2:-1000} M=${3:-1000}
export LC_ALL=C
D=$(mktemp -d "${TMPDIR:-/tmp}/tally-bench-cli.XXXXXX")
if [ -n "${KEEP:-}" ]; then echo "database: $D/stats"; else trap 'rm -rf "$D"' EXIT; fi
mkdir "$D/stats"
# A real tally environment (meta/format and the four tables), then the bulk.
"$B/contrib/tally-demo-node" -s "$D/stats" -n seed -i 0.1 -d 0.2 -r 0 >/dev/null
now=$(date +%s)
hdr() { printf 'VERSION=3\nformat=print\ntype=btree\nmapsize=4294967296\nHEADER=END\n'; }
{ hdr; awk -v n="$N" -v t="$now" 'BEGIN { for (i = 0; i < n; i++)
	printf " node-%05d\n nickname=storage %05d\\0atime=%d\\0asource=local\\0ainterval=10\\0a\n", i, i, t - i }'
  echo DATA=END; } | mdb_load -s nodes "$D/stats"
{ hdr; awk -v n="$N" -v m="$M" 'BEGIN { for (i = 0; i < n; i++) for (j = 0; j < m / 2; j++)
	printf " node-%05d/storage_server.ops_%04d\n %d\n", i, j, i * 7919 + j * 104729 }'
  echo DATA=END; } | mdb_load -s counters "$D/stats"
{ hdr; awk -v n="$N" -v m="$M" 'BEGIN { for (i = 0; i < n; i++) for (j = 0; j < m / 2; j++)
	printf " node-%05d/storage_server.latencies.get_%04d\n %.17g\n", i, j, (i + 1) / (j + 3) }'
  echo DATA=END; } | mdb_load -s stats "$D/stats"
"$B/tally" -s "$D/stats" check | tee "$D/check.out"

# The fleet in each command's output (the seed node aside): every node,
# and for the exports every value, else no figure.
short() {
	echo "bench-cli: $1: $2, not $3: the fleet is short; no figure" >&2
	exit 1
}
case $(cat "$D/check.out") in
*": ok ($((N + 1)) nodes, "*) ;;
*) short check "$(cat "$D/check.out")" "$((N + 1)) nodes" ;;
esac
samples() {	# sample lines of node-NNNNN, less their snapshot times
	grep -v -e '^#' -e '^tally_node_last_snapshot' "$1" |
	    grep -c '{node="node-' || true
}
# These runs also warm the page cache; export -o's file is checked after
# its timed runs made it.
"$B/tally" -s "$D/stats" export --openmetrics >"$D/om.txt"
"$B/tally" -s "$D/stats" export --prometheus >"$D/prom.txt"
"$B/tally" -s "$D/stats" show --json >"$D/show.json"
for f in om.txt prom.txt; do
	n=$(samples "$D/$f")
	[ "$n" -eq $((N * M)) ] || short "export ($f)" "$n values" "$((N * M))"
done
n=$(grep -c '"id": "node-' "$D/show.json" || true)
[ "$n" -eq "$N" ] || short "show --json" "$n nodes" "$N"
rm -f "$D/om.txt" "$D/prom.txt" "$D/show.json"

TIMEFORMAT=%R
best() {	# best of three runs of "$@", in seconds; a failed run, no figure
	local t b=
	for _ in 1 2 3; do
		if ! t=$({ time "$@" >/dev/null 2>"$D/err"; } 2>&1); then
			echo "bench-cli: $* failed: $(cat "$D/err")" >&2
			exit 1
		fi
		if [ -z "$b" ] || awk -v a="$t" -v b="$b" 'BEGIN { exit !(a < b) }'; then b=$t; fi
	done
	echo "$b"
}
echo "tally export, $N nodes x $M metrics ($(du -sh "$D/stats" | cut -f1) database), best of 3:"
t=$(best "$B/tally" -s "$D/stats" export --openmetrics)
printf '  export --openmetrics > /dev/null   %6s s   (target 1 s)\n' "$t"
t=$(best "$B/tally" -s "$D/stats" export --prometheus)
printf '  export --prometheus > /dev/null    %6s s\n' "$t"
t=$(best "$B/tally" -s "$D/stats" export -o "$D/tally.prom")
n=$(samples "$D/tally.prom")
[ "$n" -eq $((N * M)) ] || short "export -o FILE" "$n values" "$((N * M))"
printf '  export -o FILE (fsync, rename)     %6s s   (%s)\n' "$t" \
    "$(du -h "$D/tally.prom" | cut -f1)"
t=$(best "$B/tally" -s "$D/stats" check)
printf '  check                              %6s s\n' "$t"
t=$(best "$B/tally" -s "$D/stats" show --json)
printf '  show --json > /dev/null            %6s s\n' "$t"
