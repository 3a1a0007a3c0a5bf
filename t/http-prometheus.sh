#!/bin/bash
# t/http-prometheus.sh: the real Prometheus (Debian's prometheus package)
# scrapes tallyd --http every second.  Prometheus asks for OpenMetrics,
# gzipped (its Accept and Accept-Encoding), and parses the answer with its
# own strict parser.  Two remote nodes of t/fixednode count known numbers,
# one with a nickname of quotes, a backslash and UTF-8 in its label; the
# query API (/api/v1/query) must return each node's counter with the very
# value the node counted and its labels, and tallyd's own metrics; the
# target is up (up == 1), its last scrape without error
# (/api/v1/targets).  Prometheus listens on a free loopback port (another
# if that one was taken meanwhile), keeps its database in $T and is stopped
# by its pid at the end (and by lib.sh's cleanup on any exit).
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/http-lib.sh"

command -v prometheus >/dev/null 2>&1 ||
    skip "prometheus not found (install prometheus)"
require_cmd curl jq timeout mdb_dump
require_tallyd
require_fixed
setup

# Prometheus' first scrapes, its startup and its queries on a busy machine.
PWAIT=$((WAIT_TIMEOUT * 3))

BASE=$T/gatherer
# A poll answered late because the machine is busy is no matter here: 5 s
# (-i 1 would give 0.5 s, and a node missing it is disconnected).
start_http_gatherer "$BASE" --poll-timeout 5
STATS=$BASE/stats

ID1=prom-one
NICK1=one
GET1=4242
ID2=prom-two
NICK2='two "quoted" \ ünï'
GET2=17
start_fixed p1 -g "$GATHERER_FURL" -n "$ID1" -N "$NICK1" \
    storage_server.get=$GET1 http.test.requests=1
start_fixed p2 -g "$GATHERER_FURL" -n "$ID2" -N "$NICK2" \
    storage_server.get=$GET2
wait_landed "$ID1" 0 storage_server.get "$GET1"
wait_landed "$ID2" 0 storage_server.get "$GET2"
http_get metrics /metrics
note "tallyd serves $(grep -c '^tally_' "$T/metrics.body") samples on $HTTP_URL/metrics"

# ---- Prometheus ---------------------------------------------------------

# port_free PORT: nothing listens on 127.0.0.1:PORT.
port_free() {
	! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# prometheus_settled: Prometheus says it is ready, or has exited.
prometheus_settled() {
	node_alive prometheus || return 0
	[ "$(curl -s --max-time 5 -o /dev/null -w '%{http_code}' \
	    "http://127.0.0.1:$PPORT/-/ready")" = 200 ]
}

cat >"$T/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: tally
    scrape_interval: 1s
    scrape_timeout: 1s
    static_configs:
      - targets: ['127.0.0.1:$HTTP_PORT']
EOF

# start_prometheus: on a free loopback port (PPORT), another if that one
# was taken between the look and the bind.
start_prometheus() {
	local try

	RANDOM=$$	# seeded: a rerun tries the same ports
	for try in 1 2 3 4 5 6 7 8; do
		PPORT=$((20000 + RANDOM % 40000))
		port_free "$PPORT" || continue
		rm -rf "$T/tsdb"
		: >"$T/prometheus.err"
		prometheus --config.file="$T/prometheus.yml" \
		    --storage.tsdb.path="$T/tsdb" \
		    --web.listen-address="127.0.0.1:$PPORT" \
		    >"$T/prometheus.out" 2>"$T/prometheus.err" </dev/null &
		NODE_PID[prometheus]=$!
		wait_for -t "$PWAIT" "Prometheus to be ready on port $PPORT" \
		    prometheus_settled
		node_alive prometheus && return 0
		wait "${NODE_PID[prometheus]}" 2>/dev/null
		unset "NODE_PID[prometheus]"
		grep -qi 'address already in use' "$T/prometheus.err" ||
		    fail "prometheus exited: $(tail -n 20 "$T/prometheus.err")"
	done
	fail "no free loopback port for Prometheus after $try tries"
}
start_prometheus
note "Prometheus $(prometheus --version 2>&1 | head -n 1 | awk '{ print $3 }') on 127.0.0.1:$PPORT"

# query NAME PROMQL: the query API's answer in $T/NAME.json; false if it
# did not answer success.
query() {
	curl -sS --max-time "$HTTP_MAX_TIME" -G -o "$T/$1.json" \
	    --data-urlencode "query=$2" \
	    "http://127.0.0.1:$PPORT/api/v1/query" 2>"$T/$1.curl" &&
	    jq -e '.status == "success"' "$T/$1.json" >/dev/null 2>&1
}

# has_value NAME PROMQL: the query returns one sample at least (fails at
# once if tallyd or Prometheus died).
has_value() {
	nodes_alive gatherer prometheus
	query "$1" "$2" && jq -e '.data.result | length > 0' "$T/$1.json" >/dev/null
}

# want_value NAME PROMQL VALUE: the query's one sample has VALUE.
want_value() {
	local n v

	n=$(jq '.data.result | length' "$T/$1.json")
	[ "$n" -eq 1 ] || fail "$2: $n samples, want 1: $(jq -c .data "$T/$1.json")"
	v=$(jq -r '.data.result[0].value[1]' "$T/$1.json")
	[ "$v" = "$3" ] || fail "$2 is $v in Prometheus, want $3: $(jq -c .data "$T/$1.json")"
}

Q1="tally_storage_server_get_total{node=\"$ID1\"}"
wait_for -t "$PWAIT" "Prometheus to have scraped $ID1's counter ($Q1)" has_value q1 "$Q1"
want_value q1 "$Q1" "$GET1"
jq -e --arg n "$NICK1" '.data.result[0].metric.nickname == $n and
    .data.result[0].metric.job == "tally"' "$T/q1.json" >/dev/null ||
    fail "$Q1: labels $(jq -c '.data.result[0].metric' "$T/q1.json")"

Q2="tally_storage_server_get_total{node=\"$ID2\"}"
wait_for -t "$PWAIT" "Prometheus to have $ID2's counter ($Q2)" has_value q2 "$Q2"
want_value q2 "$Q2" "$GET2"
jq -e --arg n "$NICK2" '.data.result[0].metric.nickname == $n' "$T/q2.json" >/dev/null ||
    fail "$Q2: nickname label $(jq -c '.data.result[0].metric.nickname' "$T/q2.json"), want $(jq -n --arg n "$NICK2" '$n')"

Q3="tally_http_test_requests_total{node=\"$ID1\"}"
wait_for -t "$PWAIT" "Prometheus to have $Q3" has_value q3 "$Q3"
want_value q3 "$Q3" 1

# tallyd's own node: its snapshots counted, under its nickname.
Q4='tally_tallyd_snapshots_total{nickname="tallyd"} > 0'
wait_for -t "$PWAIT" "Prometheus to have tallyd's own counters ($Q4)" has_value q4 "$Q4"

# The target: up, scraped without error, and not just once.
Q5="up{job=\"tally\"}"
wait_for -t "$PWAIT" "Prometheus' up series" has_value q5 "$Q5"
want_value q5 "$Q5" 1
targets_ok() {
	nodes_alive gatherer prometheus
	curl -sS --max-time "$HTTP_MAX_TIME" -o "$T/targets.json" \
	    "http://127.0.0.1:$PPORT/api/v1/targets" 2>/dev/null || return 1
	jq -e --arg t "127.0.0.1:$HTTP_PORT" '[.data.activeTargets[] |
	    select(.labels.instance == $t)] | length == 1 and
	    .[0].health == "up" and .[0].lastError == ""' "$T/targets.json" \
	    >/dev/null 2>&1
}
wait_for -t "$PWAIT" "the target up without error in /api/v1/targets" targets_ok
Q6='count_over_time(up{job="tally"}[1h]) >= 3'
wait_for -t "$PWAIT" "three scrapes at least" has_value q6 "$Q6"
Q7='max_over_time(scrape_samples_scraped{job="tally"}[1h])'
query q7 "$Q7" || fail "$Q7 failed"
note "Prometheus scraped $(jq -r '.data.result[0].value[1]' "$T/q7.json") samples" \
    "a round; $ID1 counted $GET1, $ID2 $GET2"

# Stop Prometheus by its pid: SIGTERM, a clean exit.
kill -TERM "${NODE_PID[prometheus]}" || fail "prometheus is not running"
wait_for -t "$PWAIT" "Prometheus to stop" node_gone prometheus
wait "${NODE_PID[prometheus]}"
rc=$?
unset "NODE_PID[prometheus]"
[ "$rc" -eq 0 ] || note "prometheus exited $rc after SIGTERM"
stop_node p1
stop_node p2
stop_gatherer
exit 0
