#!/bin/bash
# bench-cli.sh BUILDDIR [NODES] [METRICS]: tally export, check and show
# --json on NODES nodes of METRICS metrics each (half counters, half stats),
# in a database built with the stock mdb_load from a generated dump.  Prints
# each figure beside the target; KEEP=1 keeps the database.
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
"$B/tally" -s "$D/stats" check
"$B/tally" -s "$D/stats" export >/dev/null	# warm the page cache

TIMEFORMAT=%R
best() {	# best of three runs of "$@", in seconds
	local t b=
	for _ in 1 2 3; do
		t=$({ time "$@" >/dev/null; } 2>&1)
		if [ -z "$b" ] || awk -v a="$t" -v b="$b" 'BEGIN { exit !(a < b) }'; then b=$t; fi
	done
	echo "$b"
}
echo "tally export, $N nodes x $M metrics ($(du -sh "$D/stats" | cut -f1) database), best of 3:"
printf '  export --openmetrics > /dev/null   %6s s   (target 1 s)\n' \
    "$(best "$B/tally" -s "$D/stats" export --openmetrics)"
printf '  export --prometheus > /dev/null    %6s s\n' \
    "$(best "$B/tally" -s "$D/stats" export --prometheus)"
printf '  export -o FILE (fsync, rename)     %6s s   (%s)\n' \
    "$(best "$B/tally" -s "$D/stats" export -o "$D/tally.prom")" \
    "$(du -h "$D/tally.prom" | cut -f1)"
printf '  check                              %6s s\n' "$(best "$B/tally" -s "$D/stats" check)"
printf '  show --json > /dev/null            %6s s\n' "$(best "$B/tally" -s "$D/stats" show --json)"
