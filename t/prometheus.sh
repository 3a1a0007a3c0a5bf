#!/bin/bash
# t/prometheus.sh: tally export against the Prometheus tools of Debian's
# prometheus and prometheus-node-exporter packages.
#
#  - promtool check metrics (which parses the Prometheus text format, not
#    OpenMetrics) passes on export --prometheus, and finds nothing but the
#    expected "no help text" of OpenMetrics counter samples in
#    export --openmetrics;
#  - promtool's OpenMetrics parser (tsdb create-blocks-from openmetrics)
#    accepts export --openmetrics;
#  - prometheus-node-exporter's textfile collector, on a loopback port,
#    serves the metrics of export -o with their labels and no scrape error,
#    also while exports replace the file under it;
#  - promtool check metrics passes on the export of a gatherer's statsfile:
#    tallyd's own metrics and a remote node's.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"

command -v promtool >/dev/null 2>&1 ||
    skip "promtool not found (install prometheus)"
command -v prometheus-node-exporter >/dev/null 2>&1 ||
    skip "prometheus-node-exporter not found (install prometheus-node-exporter)"
TALLY=$TALLY_BUILDDIR/tally
[ -x "$TALLY" ] || fail "$TALLY not built (run make first)"
[ -x "$DEMO" ] || fail "$DEMO not built (run make first)"
require_tallyd
setup

# ---- helpers ------------------------------------------------------------

# http_get PORT PATH: the body of a 200 answer on stdout; false otherwise.
# curl if there is one, else bash's /dev/tcp; bounded in time either way.
http_get() {
	if command -v curl >/dev/null 2>&1; then
		curl -fsS --max-time 5 "http://127.0.0.1:$1$2"
		return
	fi
	timeout -k 2 5 bash -c '
		exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
		printf "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n" "$2" >&3
		cat <&3' _ "$1" "$2" >"$T/http.raw" 2>/dev/null || return 1
	head -n 1 "$T/http.raw" | grep -q '^HTTP/1\.[01] 200 ' || return 1
	sed '1,/^\r*$/d' "$T/http.raw"
}

# port_free PORT: nothing listens on 127.0.0.1:PORT.
port_free() {
	! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# exporter_settled: node_exporter answers /metrics, or has exited.
exporter_settled() {
	node_alive exporter || return 0
	http_get "$PORT" /metrics >/dev/null
}

# start_exporter DIR: node_exporter with only the textfile collector on DIR,
# on a free loopback port (PORT); another port if that one was taken
# meanwhile.
start_exporter() {
	local try

	RANDOM=$$	# seeded: a rerun tries the same ports
	for try in 1 2 3 4 5 6 7 8; do
		PORT=$((20000 + RANDOM % 40000))
		port_free "$PORT" || continue
		: >"$T/exporter.err"
		prometheus-node-exporter --web.listen-address="127.0.0.1:$PORT" \
		    --collector.disable-defaults --collector.textfile \
		    --collector.textfile.directory="$1" \
		    >"$T/exporter.out" 2>"$T/exporter.err" </dev/null &
		NODE_PID[exporter]=$!
		wait_for "node_exporter on port $PORT" exporter_settled
		node_alive exporter && return 0
		wait "${NODE_PID[exporter]}" 2>/dev/null
		unset "NODE_PID[exporter]"
		grep -qi 'address already in use' "$T/exporter.err" ||
		    fail "node_exporter exited: $(cat "$T/exporter.err")"
	done
	fail "no free loopback port for node_exporter after $try tries"
}

# scrape: GET /metrics into $T/metrics; false if it failed.
scrape() {
	http_get "$PORT" /metrics >"$T/metrics.tmp" || return 1
	mv "$T/metrics.tmp" "$T/metrics"
}

# tally_export ARG...: tally -s $STATS export ARG..., which must succeed.
tally_export() {
	"$TALLY" -s "$STATS" export "$@" 2>"$T/export.err" ||
	    fail "tally export $*: $(cat "$T/export.err")"
	[ ! -s "$T/export.err" ] || fail "tally export $* warned: $(cat "$T/export.err")"
}

# ---- a database written by two real nodes --------------------------------

ID1=storage-a1
NICK1=alpha
ID2=9b-storage
NICK2='b "quoted" \ ünïcode'
start_node a -s "$STATS" -n "$ID1" -N "$NICK1" -i 0.1 -r 200
start_node b -s "$STATS" -n "$ID2" -N "$NICK2" -i 0.1 -r 0
wait_landed "$ID1" 0 storage_server.get 1
wait_landed "$ID2" 0
stop_node a
stop_node b
tally_export --openmetrics >"$T/export.om"
tally_export --prometheus >"$T/export.prom"

# ---- promtool -------------------------------------------------------------

promtool check metrics <"$T/export.prom" >"$T/promtool.out" 2>&1 ||
    fail "promtool check metrics rejects export --prometheus: $(cat "$T/promtool.out")"

# promtool 2.42 reads OpenMetrics as the Prometheus text format: a counter
# family foo with samples foo_total reads as an untyped foo_total without
# HELP.  Anything else it says about the OpenMetrics export is a fault.
promtool check metrics <"$T/export.om" >"$T/promtool-om.out" 2>&1
rc=$?
[ "$rc" -eq 0 ] || [ "$rc" -eq 3 ] ||
    fail "promtool check metrics cannot parse export --openmetrics (exit $rc): $(cat "$T/promtool-om.out")"
! grep -v '^tally_[a-zA-Z0-9_]*_total no help text$' "$T/promtool-om.out" ||
    fail "promtool check metrics on export --openmetrics: $(cat "$T/promtool-om.out")"

# Prometheus' own OpenMetrics parser, as used for backfilling.  It wants a
# timestamp on every sample, which an export has none of (node_exporter
# refuses them): add one.
awk '/^#/ { print; next } { print $0 " 1700000000" }' "$T/export.om" >"$T/backfill.om"
promtool tsdb create-blocks-from openmetrics "$T/backfill.om" "$T/blocks" \
    >"$T/backfill.out" 2>&1 ||
    fail "promtool's OpenMetrics parser rejects the export: $(cat "$T/backfill.out")"
samples=$(grep -vc '^#' "$T/export.om")
grep -qE "^[0-9A-Z]+ +1700000000000 +[0-9]+ +[0-9a-z]+ +$samples +" "$T/backfill.out" ||
    fail "promtool did not read all $samples samples: $(cat "$T/backfill.out")"

# ---- node_exporter's textfile collector ----------------------------------

mkdir "$T/textfile"
"$TALLY" -s "$STATS" export --openmetrics -o "$T/textfile/tally.prom" \
    2>"$T/export.err" || fail "export -o: $(cat "$T/export.err")"
start_exporter "$T/textfile"
scrape || fail "GET /metrics failed"

# metric_has PATTERN WHAT: a line of the last scrape matches (grep -E).
metric_has() {
	grep -qE -- "$1" "$T/metrics" ||
	    fail "$2: no /$1/ on /metrics: $(grep -E '^(# [A-Z]+ )?(tally_|node_textfile)' "$T/metrics" | head -40)"
}
metric_has '^node_textfile_scrape_error 0$' "textfile scrape error"
metric_has "^node_textfile_mtime_seconds\\{file=\"$T/textfile/tally\\.prom\"\\} " "textfile mtime"
# node_exporter orders labels by name: nickname, then node.
metric_has "^tally_storage_server_get_total\\{nickname=\"$NICK1\",node=\"$ID1\"\\} [1-9][0-9]*\$" \
    "$ID1's counter"
metric_has "^tally_storage_server_latencies_get_mean\\{nickname=\"b \\\\\"quoted\\\\\" \\\\\\\\ ünïcode\",node=\"$ID2\"\\} NaN\$" \
    "$ID2's unknown latency, with an escaped nickname"
metric_has "^tally_node_last_snapshot_timestamp_seconds\\{nickname=\"$NICK1\",node=\"$ID1\"\\} [0-9.e+]+\$" \
    "$ID1's snapshot time"
metric_has '^# TYPE tally_storage_server_allocated gauge$' "a gauge"
want=$(grep -c '^tally_' "$T/export.om")
[ "$(grep -c '^tally_' "$T/metrics")" -eq "$want" ] ||
    fail "/metrics has $(grep -c '^tally_' "$T/metrics") tally samples, the export $want"

# The Prometheus text format keeps the counters' type through the textfile
# collector (which reads that format; OpenMetrics counters come out untyped).
"$TALLY" -s "$STATS" export --prometheus -o "$T/textfile/tally.prom" \
    2>"$T/export.err" || fail "export --prometheus -o: $(cat "$T/export.err")"
scrape || fail "GET /metrics failed"
metric_has '^node_textfile_scrape_error 0$' "textfile scrape error (Prometheus format)"
metric_has '^# TYPE tally_storage_server_get_total counter$' "a counter's type"
metric_has "^tally_storage_server_get_total\\{nickname=\"$NICK1\",node=\"$ID1\"\\} [1-9][0-9]*\$" \
    "$ID1's counter (Prometheus format)"

# Exports replacing the file while node_exporter scrapes it: every scrape
# sees a whole file, never half of one.  The exports go on from before the
# first scrape until a stop file says the last one is done, so that every
# scrape falls among them however the two loops are scheduled.
(
	while [ ! -e "$T/loop.stop" ]; do
		"$TALLY" -s "$STATS" export -o "$T/textfile/tally.prom" || exit 1
		echo >>"$T/loop.count"
	done
) 2>"$T/loop.err" &
loop=$!
NODE_PID[exports]=$loop
wait_for "the first export of the loop" test -s "$T/loop.count"
for i in $(seq 30); do
	scrape || fail "GET /metrics failed during exports"
	metric_has '^node_textfile_scrape_error 0$' "textfile scrape error during exports"
	n=$(grep -c '^tally_' "$T/metrics")
	[ "$n" -eq "$want" ] || fail "scrape $i during exports saw $n tally samples, not $want"
done
: >"$T/loop.stop"
wait "$loop" || fail "export -o failed in the loop: $(cat "$T/loop.err")"
unset "NODE_PID[exports]"
[ "$(ls "$T/textfile")" = tally.prom ] || fail "exports left: $(ls "$T/textfile")"

# ---- a gatherer's statsfile ----------------------------------------------

# tallyd's own metrics (connections, commits, commit latency in seconds)
# and a remote node's, as export writes them, pass promtool's naming and
# format checks too.
STATS=$T/gatherer/stats
start_gatherer "$T/gatherer"
start_node r -g "$GATHERER_FURL" -n remote-r1 -N remote -r 50
wait_landed remote-r1 0 storage_server.get 1
# gatherer_self_ready: tallyd's own node has committed its stats.
gatherer_self_ready() {
	local id

	id=$(node_id_of tallyd) || return 1
	db_get stats "$id/tallyd.commit_latency_seconds" >/dev/null &&
	    counter_value "$id" tallyd.snapshots >/dev/null
}
wait_for "tallyd's own stats" gatherer_self_ready
stop_node r
stop_gatherer
tally_export --prometheus >"$T/gatherer.prom"
promtool check metrics <"$T/gatherer.prom" >"$T/promtool-g.out" 2>&1 ||
    fail "promtool check metrics rejects a gatherer's export: $(cat "$T/promtool-g.out")"
for m in tally_tallyd_commit_latency_seconds tally_tallyd_commit_latency_max_seconds \
    tally_tallyd_connected tally_tallyd_snapshots_total \
    tally_tallyd_bytes_in_total tally_storage_server_get_total; do
	grep -q "^$m{" "$T/gatherer.prom" ||
	    fail "no $m in a gatherer's export: $(grep -v '^#' "$T/gatherer.prom" | head -40)"
done

note "promtool and node_exporter (port $PORT) read tally's export," \
    "a gatherer's included"
exit 0
