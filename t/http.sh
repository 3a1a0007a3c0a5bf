#!/bin/bash
# t/http.sh: tallyd --http, its HTTP server, with curl and hostile clients.
# One gatherer (tallyd -i 1 --http 127.0.0.1:0), three remote nodes of
# t/fixednode, whose counters hold known values, and a remote demo node
# counting all along, as t/gatherer.sh starts them.  Nicknames: one of
# HTML, quotes and ampersands, one in UTF-8, one with a byte that is not.
#
#  - --http refuses a bad address (nope, port 99999, '', [::1:80, one of
#    no interface here) and a port in use, exit 1 with a message naming
#    it; a port alone means 127.0.0.1; [::1] serves IPv6 (if the machine
#    has ::1);
#  - a tallyd without the tally tool beside it warns at start, and its
#    /metrics (tally export) answers 503 naming it; the rest still serves;
#  - GET /, /metrics and /nodes.json answer 200 with their Content-Type;
#    HEAD the same, without a body, also before a GET on one connection;
#    a query string changes nothing; 404 on unknown paths; 405 with
#    "Allow: GET, HEAD" on other methods;
#  - /metrics: the same series as `tally export --prometheus`, each fixed
#    node's counters with the values it counted, the demo node's between
#    the statsfile's before and after; Accept: application/openmetrics-
#    text gives `tally export --openmetrics`'s (ends with # EOF);
#    Accept-Encoding: gzip gives a gzip body that gunzips to the same;
#  - /nodes.json: UTF-8, parses with jq; every node, sorted by id, with the
#    fields and types of the contract, nicknames as they are (U+FFFD for a
#    byte that is not UTF-8), keys as tallyd logged them; remote nodes
#    connected, tallyd's own node local; a stopped node reads connected
#    false, disconnected, and stale a few intervals later; an impostor
#    (its id, another key) shows in the node's last_error, which keeps its
#    key; once every node has gone, 0 connections;
#  - /: the nodes table (a row per node, with its state), tallyd's
#    section, no external asset, and the hostile nickname escaped;
#  - hostile clients: a malformed request line and binary garbage get 400
#    or a close; a slow client (half a request line, then nothing), a
#    trickling one (a byte at a time) and one that never reads its
#    pipelined answers do not stop others being answered; a 100 KB URL or
#    header gets a 4xx, 1000 query arguments a 4xx or a close; 1100 idle
#    connections at once do not crash tallyd, which closes them (its
#    timeout) and answers again; through all of it, the nodes are still
#    polled, and no descriptor or child is leaked;
#    a slowloris from 8 other loopback addresses, at the connection limit,
#    delays requests but they are answered;
#  - 300 nodes of t/loadgen: all of them in /nodes.json, the page and
#    /metrics;
#  - SIGTERM with an HTTP connection open and scrapes in flight still ends
#    tallyd cleanly (exit 0); --help and tallyd(8) document --http.
# tallyd is checked alive and answering after each hostile client.  A
# wrong field is reported with the others at the end (later, finish); a
# dead or silent server ends the test at once.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/http-lib.sh"

require_cmd curl jq gzip timeout mdb_dump iconv find
require_tallyd
require_fixed
setup

# ---- bad addresses ------------------------------------------------------

# bad_http NAME ARG WANT...: tallyd --http ARG exits 1 (bounded in time),
# its stderr says something, in tame lines, naming each WANT (grep -F).
bad_http() {
	local name=$1 arg=$2 rc w

	shift 2
	timeout -k 5 "$WAIT_TIMEOUT" "$TALLYD" -l 127.0.0.1:0 -i 1 \
	    --http "$arg" "$T/$name" >"$T/$name.stdout" 2>"$T/$name.stderr" \
	    </dev/null
	rc=$?
	[ "$rc" -eq 1 ] ||
	    fail "tallyd --http '$arg' exited $rc, want 1: $(cat "$T/$name.stderr")"
	[ -s "$T/$name.stderr" ] || fail "tallyd --http '$arg': no message"
	tame "$T/$name.stderr" >"$T/$name.tame" ||
	    fail "tallyd --http '$arg': $(cat "$T/$name.tame")"
	for w; do
		grep -qF -- "$w" "$T/$name.stderr" ||
		    fail "tallyd --http '$arg' does not name '$w': $(cat "$T/$name.stderr")"
	done
	grep -qi 'http' "$T/$name.stderr" ||
	    fail "tallyd --http '$arg' does not say it is about --http: $(cat "$T/$name.stderr")"
	note "--http '$arg': $(grep -m 1 -F -- "${1:-$arg}" "$T/$name.stderr")"
}
bad_http bad-nope nope nope
bad_http bad-port 127.0.0.1:99999 99999
bad_http bad-empty '' ''
# An address of no interface here (TEST-NET-1: no DNS asked), and an IPv6
# one without its closing bracket.
bad_http bad-host '192.0.2.1:80' '192.0.2.1:80'
bad_http bad-v6 '[::1:80' '[::1:80'

# ---- the gatherer and its nodes -----------------------------------------

BASE=$T/gatherer
# A poll answered late because the machine is busy is no matter here: 5 s
# (-i 1 would give 0.5 s, and a node missing it is disconnected).
start_http_gatherer "$BASE" --poll-timeout 5
STATS=$BASE/stats
note "tallyd: $HTTP_URL"

IDA=http-a
IDB=http-b
IDX=http-x
NICKA=alpha
# UTF-8, as nicknames may be (tally(5)): the same text in JSON, in HTML.
NICKB='beta ünï two'
# Every character HTML cares for, in text and in attributes; "&amp;" must
# come out as "&amp;amp;"; the script marks the page if it ever runs.
NICKX="<script>document.documentElement.setAttribute('data-pwned','1')</script> \"q\" &amp; <b>x</b>"
GETA=12345
GETB=678
GETX=9
start_fixed a -g "$GATHERER_FURL" -n "$IDA" -N "$NICKA" \
    storage_server.get=$GETA http.test.requests=7
start_fixed b -g "$GATHERER_FURL" -n "$IDB" -N "$NICKB" \
    storage_server.get=$GETB http.test.requests=8
start_fixed x -g "$GATHERER_FURL" -n "$IDX" -N "$NICKX" \
    storage_server.get=$GETX
wait_landed "$IDA" 0 storage_server.get "$GETA"
wait_landed "$IDB" 0 storage_server.get "$GETB"
wait_landed "$IDX" 0 storage_server.get "$GETX"
# And a demo node, as t/gatherer.sh starts them, counting all along.
IDD=http-d
# Not UTF-8: a byte 0xff, which JSON cannot carry; U+FFFD in its place, as
# in /metrics (tally export).
NICKD=$'demo \xff d'
start_node d -g "$GATHERER_FURL" -n "$IDD" -N "$NICKD" -r 200
wait_landed "$IDD" 0 storage_server.get 1
# The gatherer's own node (nickname tallyd) has committed its stats.
gatherer_self() {
	nodes_alive gatherer
	GID=$(node_id_of tallyd) && counter_value "$GID" tallyd.snapshots >/dev/null
}
wait_for "tallyd's own node in the statsfile" gatherer_self

# ---- status codes and types -------------------------------------------

http_get root /
want_header Content-Type 'text/html; charset=utf-8' "$T/root.head" "GET /"
http_get metrics /metrics
want_header Content-Type 'text/plain; version=0.0.4; charset=utf-8' \
    "$T/metrics.head" "GET /metrics"
header Content-Encoding "$T/metrics.head" >/dev/null &&
    fail "GET /metrics without Accept-Encoding: Content-Encoding $(header Content-Encoding "$T/metrics.head")"
http_get nodes /nodes.json
ct=$(header Content-Type "$T/nodes.head") || fail "GET /nodes.json: no Content-Type"
[[ ${ct,,} =~ ^application/json(\;\ *charset=utf-8)?$ ]] ||
    fail "GET /nodes.json: Content-Type '$ct', want application/json"

# HEAD: the GET's status and type (curl), and no body: a raw HTTP/1.0
# HEAD, read up to the server's close, has nothing after the headers.
for p in / /metrics /nodes.json; do
	code=$(http head HEAD "$p") || fail "HEAD $p: no answer: $(cat "$T/head.curl")"
	[ "$code" = 200 ] || fail "HEAD $p: status $code, want 200"
	ct=$(header Content-Type "$T/head.head") ||
	    fail "HEAD $p: no Content-Type: $(cat "$T/head.head")"
	code=$(http get GET "$p") || fail "GET $p: no answer"
	[ "$ct" = "$(header Content-Type "$T/get.head")" ] ||
	    fail "HEAD $p: Content-Type '$ct', GET's '$(header Content-Type "$T/get.head")'"
	printf 'HEAD %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' "$p" >"$T/head.req"
	raw "$HTTP_PORT" "$T/head.req" "$HTTP_MAX_TIME" ||
	    fail "raw HEAD $p: the server did not close an HTTP/1.0 answer (status $?)"
	head -n 1 "$T/raw.out" | grep -qE '^HTTP/1\.[01] 200 ' ||
	    fail "raw HEAD $p: $(head -n 1 "$T/raw.out")"
	# The bytes after the first empty line.
	body=$(awk 'BEGIN { RS = "\r?\n" } past { print } /^$/ { past = 1 }' \
	    "$T/raw.out" | wc -c)
	[ "$body" -eq 0 ] || fail "raw HEAD $p: $body bytes after the headers"
done

# HEAD, then GET, on one kept-alive connection: two answers, the second
# whole (a HEAD that sent its body would shift it).
printf 'HEAD /metrics HTTP/1.1\r\nHost: a\r\n\r\nGET /nodes.json HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n' \
    >"$T/ka.req"
raw "$HTTP_PORT" "$T/ka.req" "$HTTP_MAX_TIME" ||
    fail "HEAD then GET on one connection: not closed after the second (status $?)"
[ "$(grep -ac '^HTTP/1\.1 200 ' "$T/raw.out")" -eq 2 ] ||
    fail "HEAD then GET on one connection: $(grep -a '^HTTP/' "$T/raw.out")"
awk 'BEGIN { RS = "\r?\n" } n == 2 { print } /^$/ { n++ }' "$T/raw.out" |
    jq -e .tallyd >/dev/null 2>&1 ||
    fail "HEAD then GET on one connection: the GET's body is not /nodes.json"

# A query string is not part of the path: Prometheus adds one for a scrape
# config's params.
http_get qs '/metrics?collect%5B%5D=tally&x=1'
grep -q '^tally_storage_server_get_total{' "$T/qs.body" ||
    fail "GET /metrics?...: no metrics: $(head -c 300 "$T/qs.body")"
for p in /nope /metrics/x /nodes.json/x /metricsx '/?x=<b>'; do
	code=$(http nf GET "$p") || fail "GET $p: no answer: $(cat "$T/nf.curl")"
	[ "$code" = 404 ] || [ "$p" = '/?x=<b>' ] ||
	    fail "GET $p: status $code, want 404"
	grep -q '<b>' "$T/nf.body" && fail "GET $p: the body echoes '<b>'"
done

for m in POST PUT DELETE PATCH OPTIONS; do
	for p in / /metrics; do
		code=$(http m "$m" "$p" --data x) ||
		    fail "$m $p: no answer: $(cat "$T/m.curl")"
		[ "$code" = 405 ] || fail "$m $p: status $code, want 405"
		allow=$(header Allow "$T/m.head") ||
		    fail "$m $p: 405 without Allow: $(cat "$T/m.head")"
		[[ $allow =~ ^GET,\ *HEAD$ ]] ||
		    fail "$m $p: Allow '$allow', want 'GET, HEAD'"
	done
done

# ---- /metrics ---------------------------------------------------------

# metrics_match: /metrics has the series of `tally export --prometheus`
# read just before and just after it (the gatherer's own figures move
# between two reads; its set of series settles after the first rounds).
metrics_match() {
	"$TALLY" -s "$STATS" export --prometheus >"$T/export1.prom" 2>"$T/export.err" ||
	    fail "tally export: $(cat "$T/export.err")"
	http_get metrics /metrics
	"$TALLY" -s "$STATS" export --prometheus >"$T/export2.prom" 2>"$T/export.err" ||
	    fail "tally export: $(cat "$T/export.err")"
	series "$T/export1.prom" >"$T/s1"
	series "$T/export2.prom" >"$T/s2"
	series "$T/metrics.body" >"$T/sm"
	cmp -s "$T/s1" "$T/s2" || return 1
	cmp -s "$T/s1" "$T/sm"
}
wait_for "/metrics with the series of tally export --prometheus" metrics_match
for id in "$IDA" "$IDB" "$IDX" "$IDD"; do
	grep -qF "node=\"$id\"" "$T/metrics.body" ||
	    fail "/metrics has no series of $id: $(head -c 2000 "$T/metrics.body")"
done

# want_sample FILE WHAT NAME NODE VALUE
want_sample() {
	local v

	v=$(sample "$1" "$3" "$4") ||
	    fail "$2: no $3{node=\"$4\",...}: $(grep -F "$3" "$1" | head)"
	[ "$v" = "$5" ] || fail "$2: $3 of $4 is $v, want $5"
}
want_sample "$T/metrics.body" /metrics tally_storage_server_get_total "$IDA" "$GETA"
want_sample "$T/metrics.body" /metrics tally_storage_server_get_total "$IDB" "$GETB"
want_sample "$T/metrics.body" /metrics tally_storage_server_get_total "$IDX" "$GETX"
want_sample "$T/metrics.body" /metrics tally_http_test_requests_total "$IDA" 7
want_sample "$T/metrics.body" /metrics tally_http_test_requests_total "$IDB" 8
grep -qF "tally_storage_server_get_total{node=\"$IDA\",nickname=\"$NICKA\"} $GETA" \
    "$T/metrics.body" || fail "/metrics: no sample with $IDA's nickname label"
grep -q '^# TYPE tally_storage_server_get_total counter$' "$T/metrics.body" ||
    fail "/metrics: no TYPE line for the counter"
# The demo node counts all along: /metrics shows a value between what the
# statsfile held just before the request and just after it.
v1=$(counter_value "$IDD" storage_server.get) || fail "no counter of $IDD"
http_get metrics /metrics
v2=$(counter_value "$IDD" storage_server.get) || fail "no counter of $IDD"
v=$(sample "$T/metrics.body" tally_storage_server_get_total "$IDD") ||
    fail "/metrics: no counter of $IDD"
[ "$v1" -le "$v" ] && [ "$v" -le "$v2" ] ||
    fail "/metrics: $IDD counted $v, the statsfile $v1 before and $v2 after"
note "$IDD: /metrics $v, the statsfile $v1 then $v2"

# OpenMetrics, by Accept (as Prometheus asks for it).
om_match() {
	"$TALLY" -s "$STATS" export --openmetrics >"$T/export1.om" 2>"$T/export.err" ||
	    fail "tally export: $(cat "$T/export.err")"
	http_get om /metrics -H 'Accept: application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1'
	"$TALLY" -s "$STATS" export --openmetrics >"$T/export2.om" 2>"$T/export.err" ||
	    fail "tally export: $(cat "$T/export.err")"
	series "$T/export1.om" >"$T/s1"
	series "$T/export2.om" >"$T/s2"
	series "$T/om.body" >"$T/sm"
	cmp -s "$T/s1" "$T/s2" || return 1
	cmp -s "$T/s1" "$T/sm"
}
wait_for "/metrics (OpenMetrics) with the series of tally export --openmetrics" om_match
want_header Content-Type 'application/openmetrics-text; version=1.0.0; charset=utf-8' \
    "$T/om.head" "GET /metrics (Accept: OpenMetrics)"
[ "$(tail -n 1 "$T/om.body")" = '# EOF' ] ||
    fail "OpenMetrics /metrics does not end with '# EOF': $(tail -n 3 "$T/om.body")"
want_sample "$T/om.body" OpenMetrics tally_storage_server_get_total "$IDA" "$GETA"
want_sample "$T/om.body" OpenMetrics tally_storage_server_get_total "$IDB" "$GETB"
grep -q '^# TYPE tally_storage_server_get counter$' "$T/om.body" ||
    fail "OpenMetrics: no TYPE line for the counter family"
# The plain Accept of a browser or curl: the Prometheus text format.
http_get plain /metrics -H 'Accept: text/html,*/*;q=0.8'
want_header Content-Type 'text/plain; version=0.0.4; charset=utf-8' \
    "$T/plain.head" "GET /metrics (Accept: text/html)"

# gzip, by Accept-Encoding.
http_get gz /metrics -H 'Accept-Encoding: gzip'
want_header Content-Encoding gzip "$T/gz.head" "GET /metrics (Accept-Encoding: gzip)"
gzip -dc <"$T/gz.body" >"$T/gunzipped" 2>"$T/gunzip.err" ||
    fail "GET /metrics, gzip: the body does not gunzip: $(cat "$T/gunzip.err")"
want_sample "$T/gunzipped" "gzip /metrics" tally_storage_server_get_total "$IDA" "$GETA"
series "$T/gunzipped" >"$T/sg"
series "$T/metrics.body" >"$T/sm"
cmp -s "$T/sg" "$T/sm" ||
    fail "gzip /metrics has other series than /metrics: $(diff "$T/sm" "$T/sg" | head)"
want_header Content-Type 'text/plain; version=0.0.4; charset=utf-8' \
    "$T/gz.head" "GET /metrics (gzip)"
# Both at once: OpenMetrics, gzipped; and curl's own --compressed.
http_get gzom /metrics -H 'Accept-Encoding: gzip' \
    -H 'Accept: application/openmetrics-text; version=1.0.0'
want_header Content-Encoding gzip "$T/gzom.head" "GET /metrics (OpenMetrics, gzip)"
[ "$(gzip -dc <"$T/gzom.body" | tail -n 1)" = '# EOF' ] ||
    fail "OpenMetrics gzip /metrics does not end with '# EOF'"
http_get comp /metrics --compressed
want_sample "$T/comp.body" "curl --compressed /metrics" \
    tally_storage_server_get_total "$IDB" "$GETB"
# What HTTP says of the two headers beyond that: q=0 refuses (RFC 9110
# 12.4.2), names are case-insensitive, and an answer that depends on them
# says so to caches (Vary).
http_get neg /metrics -H 'Accept-Encoding: gzip;q=0'
header Content-Encoding "$T/neg.head" >/dev/null &&
    later "Accept-Encoding: gzip;q=0 got Content-Encoding $(header Content-Encoding "$T/neg.head")"
http_get neg /metrics -H 'Accept-Encoding: deflate, GZIP;q=0.5'
[ "$(header Content-Encoding "$T/neg.head")" = gzip ] ||
    later "Accept-Encoding: deflate, GZIP;q=0.5 got no gzip"
http_get neg /metrics -H 'Accept: application/openmetrics-text;q=0, text/plain'
[[ $(header Content-Type "$T/neg.head") == text/plain* ]] ||
    later "Accept: application/openmetrics-text;q=0 got $(header Content-Type "$T/neg.head")"
vary=$(header Vary "$T/neg.head") || vary=
[[ ${vary,,} == *accept-encoding* && ${vary,,} =~ (^|[ ,])accept([ ,]|$) ]] ||
    later "/metrics: Vary is '$vary', want Accept and Accept-Encoding"

# ---- /nodes.json --------------------------------------------------------

J=$T/nodes.body
jq -e . "$J" >/dev/null 2>"$T/jq.err" ||
    fail "/nodes.json does not parse: $(cat "$T/jq.err"): $(head -c 500 "$J")"
# JSON is UTF-8 (RFC 8259), whatever bytes a nickname holds.
iconv -f UTF-8 -t UTF-8 "$J" >/dev/null 2>&1 ||
    fail "/nodes.json is not UTF-8"
# jqe WHAT FILTER: the filter is true of the last /nodes.json.
jqe() {
	jq -e "$2" "$J" >/dev/null 2>&1 ||
	    fail "/nodes.json: $1 ($2): $(jq -c . "$J" | head -c 3000)"
}
jqe "the tallyd object" '.tallyd | type == "object"'
for f in version node_id; do
	jqe "tallyd.$f a string" ".tallyd.$f | type == \"string\" and length > 0"
done
for f in uptime_seconds connections nodes_connected snapshots_per_minute \
    commit_seconds_last commit_seconds_max commit_failures; do
	jqe "tallyd.$f a number >= 0" ".tallyd.$f | type == \"number\" and . >= 0"
done
v=$(jq -r .tallyd.version "$J")
"$TALLYD" -V | grep -qF -- "$v" ||
    fail "/nodes.json: version '$v' is not in tallyd -V: $("$TALLYD" -V)"
jqe "tallyd.node_id is $GID (the node nicknamed tallyd)" ".tallyd.node_id == \"$GID\""
jqe "no commit failures" '.tallyd.commit_failures == 0'
jqe "nodes an array" '.nodes | type == "array"'
jqe "nodes sorted by id" '[.nodes[].id] == ([.nodes[].id] | sort)'
jqe "one entry per node" '[.nodes[].id] == ([.nodes[].id] | unique)'
jqe "five nodes" '.nodes | length == 5'
jqe "every node's fields and types" '
	all(.nodes[];
	    (.id | type == "string") and
	    (.nickname | type == "string" or . == null) and
	    (.source | type == "string" or . == null) and
	    (.key | type == "string" or . == null) and
	    (.connected | type == "boolean") and
	    (.address | type == "string" or . == null) and
	    (.snapshot_time | type == "number" or . == null) and
	    (.snapshot_age_seconds | type == "number" or . == null) and
	    (.stale | type == "boolean") and
	    (.state | . == "connected" or . == "local" or . == "disconnected") and
	    (.last_error | type == "string" or . == null))'
jqe "tallyd's own node, local" \
    ".nodes[] | select(.id == \"$GID\") | .source == \"local\" and .state == \"local\" and .nickname == \"tallyd\""

# node_is ID FILTER: node ID of the last /nodes.json satisfies FILTER.
node_is() {
	jq -e --arg id "$1" "[.nodes[] | select(.id == \$id)] | length == 1 and (.[0] | $2)" \
	    "$J" >/dev/null 2>&1
}
for n in a b x d; do
	case $n in a) id=$IDA nick=$NICKA ;; b) id=$IDB nick=$NICKB ;;
	x) id=$IDX nick=$NICKX ;; d) id=$IDD nick=$NICKD ;; esac
	node_is "$id" '.connected == true and .state == "connected" and .stale == false' ||
	    fail "/nodes.json: $id is not connected: $(jq -c --arg id "$id" '.nodes[] | select(.id == $id)' "$J")"
	# (jq makes U+FFFD of a byte that is not UTF-8 in --arg.)
	jq -e --arg id "$id" --arg nick "$nick" \
	    '.nodes[] | select(.id == $id) | .nickname == $nick' "$J" >/dev/null ||
	    later "/nodes.json: $id's nickname is not '$nick': $(jq -c --arg id "$id" '.nodes[] | select(.id == $id)' "$J")"
	src=$(node_field "$id" source) || fail "$id has no source in the statsfile"
	jq -e --arg id "$id" --arg src "$src" \
	    '.nodes[] | select(.id == $id) | .source == $src' "$J" >/dev/null ||
	    fail "/nodes.json: $id's source is not the statsfile's '$src'"
	node_is "$id" '(.address | test("127\\.0\\.0\\.1")) and (.snapshot_time > 1000000000) and (.snapshot_age_seconds >= 0)' ||
	    fail "/nodes.json: $id's address or snapshot: $(jq -c --arg id "$id" '.nodes[] | select(.id == $id)' "$J")"
	# The key: the fingerprint of the node's key, as tallyd logged it.
	fp=$(gatherer_connects "$id" "$nick" | sed -n 's/.*, key \([a-z2-7]*\).*/\1/p' | tail -n 1)
	if [ -n "$fp" ]; then
		jq -e --arg id "$id" --arg fp "$fp" \
		    '.nodes[] | select(.id == $id) | .key == $fp' "$J" >/dev/null ||
		    fail "/nodes.json: $id's key is not $fp, which tallyd logged"
	fi
done
jqe "four nodes connected" '.tallyd.nodes_connected == 4'
snapshots_counted() {
	http_get nodes /nodes.json
	jq -e '.tallyd.snapshots_per_minute > 0' "$J" >/dev/null
}
wait_for "/nodes.json to count snapshots in the last minute" snapshots_counted

# ---- the page ---------------------------------------------------------

H=$T/root.body
# rows FILE: a line per <tr class="node">: id, state, stale, and the
# cells nickname, id, source, key, state, age, error (raw HTML), tab-
# separated.
rows() {
	awk 'BEGIN { RS = "</tr>"; OFS = "\t" }
	function attr(tag, a,   m) {
		if (match(tag, " " a "=\"[^\"]*\"")) {
			m = substr(tag, RSTART, RLENGTH)
			sub("^ " a "=\"", "", m); sub("\"$", "", m); return m }
		return "?" }
	function cell(row, c,   s, e) {
		if (!match(row, "<td class=\"" c "\"[^>]*>")) return "?"
		s = substr(row, RSTART + RLENGTH)
		e = index(s, "</td>")
		if (e == 0) return "?"
		s = substr(s, 1, e - 1); gsub(/[\t\n]/, " ", s); return s }
	{ gsub(/\r/, "")
	  if (!match($0, "<tr [^>]*class=\"node\"[^>]*>")) next
	  tag = substr($0, RSTART, RLENGTH); row = substr($0, RSTART + RLENGTH)
	  print attr(tag, "data-id"), attr(tag, "data-state"),
	      attr(tag, "data-stale"), cell(row, "nickname"), cell(row, "id"),
	      cell(row, "source"), cell(row, "key"), cell(row, "state"),
	      cell(row, "age"), cell(row, "error") }' "$1"
}

# unhtml: decode the entities a server may use for text.
unhtml() {
	sed -e 's/<[^>]*>//g' -e 's/&lt;/</g' -e 's/&gt;/>/g' -e 's/&quot;/"/g' \
	    -e 's/&#34;/"/g' -e "s/&#39;/'/g" -e "s/&#x27;/'/g" -e "s/&apos;/'/g" \
	    -e 's/&#x22;/"/g' -e 's/&amp;/\&/g' -e 's/^[[:space:]]*//' \
	    -e 's/[[:space:]]*$//'
}

grep -qiE '<meta http-equiv="refresh" content="[0-9]+' "$H" ||
    fail "/: no <meta http-equiv=\"refresh\" content=...>"
grep -q '<table[^>]* id="nodes"' "$H" || fail "/: no <table id=\"nodes\">"
grep -q '<section[^>]* id="tallyd"' "$H" || fail "/: no <section id=\"tallyd\">"
grep -qiE '<(script|link|img|iframe)[^>]* (src|href)=' "$H" &&
    fail "/: an external asset: $(grep -oiE '<(script|link|img|iframe)[^>]* (src|href)=[^>]*>' "$H" | head -3)"
grep -qiE '(src|href)="?(https?:)?//' "$H" &&
    fail "/: a link off the page: $(grep -oiE '(src|href)="?(https?:)?//[^ >]*' "$H" | head -3)"
rows "$H" >"$T/rows"
[ "$(wc -l <"$T/rows")" -eq 5 ] ||
    fail "/: $(wc -l <"$T/rows") node rows, want 5: $(cat "$T/rows")"
cut -f 1 "$T/rows" >"$T/row-ids"
sort "$T/row-ids" | cmp -s - "$T/row-ids" || fail "/: rows not sorted by id: $(cat "$T/row-ids")"
for id in "$IDA" "$IDB" "$IDX" "$IDD" "$GID"; do
	row=$(awk -F '\t' -v id="$id" '$1 == id' "$T/rows")
	[ -n "$row" ] || fail "/: no row data-id=\"$id\": $(cat "$T/rows")"
	# shellcheck disable=SC2034 # read through ${!c} below
	IFS=$'\t' read -r _ state stale cnick cid csrc ckey cstate cage cerr <<<"$row"
	[ "$id" = "$GID" ] && want=local || want=connected
	[ "$state" = "$want" ] || fail "/: $id has data-state=\"$state\", want $want"
	[ "$stale" = 0 ] || fail "/: $id has data-stale=\"$stale\", want 0"
	[ "$(unhtml <<<"$cid")" = "$id" ] || fail "/: $id's id cell is '$cid'"
	for c in cnick csrc ckey cstate cage cerr; do
		[ "${!c}" != '?' ] || fail "/: $id's row has no <td class=\"${c#c}\">: $row"
	done
done
# The hostile nickname: escaped, never raw; decoded, it is the nickname.
grep -qF "<script>document" "$H" && fail "/: the nickname's <script> is in the page raw"
grep -qF "<b>x</b>" "$H" && fail "/: the nickname's <b> is in the page raw"
cnick=$(awk -F '\t' -v id="$IDX" '$1 == id { print $4 }' "$T/rows")
[[ $cnick == *'&amp;amp;'* ]] ||
    fail "/: the nickname's '&amp;' is not '&amp;amp;' in its cell: $cnick"
[[ $cnick == *'&lt;script&gt;'* ]] ||
    fail "/: the nickname's '<script>' is not '&lt;script&gt;' in its cell: $cnick"
# Only the entities: no tag in the cell (a tag would be the nickname's).
[[ $cnick != *'<'* ]] || fail "/: a tag in the nickname cell: $cnick"
dec=$(unhtml <<<"$cnick")
[ "$dec" = "$NICKX" ] || fail "/: the nickname cell decodes to '$dec', want '$NICKX'"
cnick=$(awk -F '\t' -v id="$IDB" '$1 == id { print $4 }' "$T/rows")
[ "$(unhtml <<<"$cnick")" = "$NICKB" ] || fail "/: $IDB's nickname cell: $cnick"
# The page and /nodes.json agree on every node's state and staleness (read
# a moment apart, with every node steady).
jq -r '.nodes[] | [.id, .state, (if .stale then 1 else 0 end)] | @tsv' \
    "$J" | sort >"$T/json-states"
cut -f 1-3 "$T/rows" | sort >"$T/page-states"
cmp -s "$T/json-states" "$T/page-states" ||
    later "/ and /nodes.json disagree on states: $(diff "$T/json-states" "$T/page-states")"

# ---- a node stops -------------------------------------------------------

stop_node b
b_disconnected() {
	nodes_alive gatherer
	http_get nodes /nodes.json
	node_is "$IDB" '.connected == false and .state == "disconnected"'
}
wait_for "/nodes.json to show $IDB disconnected" b_disconnected
node_is "$IDA" '.connected == true and .state == "connected"' ||
    fail "/nodes.json: $IDA is not connected after $IDB stopped"
jqe "three nodes connected" '.tallyd.nodes_connected == 3'
http_get root /
rows "$T/root.body" >"$T/rows"
awk -F '\t' -v id="$IDB" '$1 == id && $2 == "disconnected"' "$T/rows" | grep -q . ||
    fail "/: $IDB is not disconnected: $(cat "$T/rows")"
awk -F '\t' -v id="$IDA" '$1 == id && $2 == "connected"' "$T/rows" | grep -q . ||
    fail "/: $IDA is not connected: $(cat "$T/rows")"
# Its counter stays, with the value it counted.
http_get metrics /metrics
want_sample "$T/metrics.body" "/metrics after $IDB stopped" \
    tally_storage_server_get_total "$IDB" "$GETB"

# ---- an impostor --------------------------------------------------------

# A node that claims $IDA with another key: tallyd refuses it (the id is
# bound to $IDA's key); /nodes.json says so in $IDA's last_error, which the
# page shows escaped, and $IDA stays connected, with its own key.
keya=$(jq -r --arg id "$IDA" '.nodes[] | select(.id == $id) | .key' "$J")
start_fixed imp -g "$GATHERER_FURL" -n "$IDA" -N "impostor <i>" \
    -k "$T/impostor.key" storage_server.get=1
refused_shown() {
	nodes_alive gatherer
	http_get nodes /nodes.json
	jq -e --arg id "$IDA" '.nodes[] | select(.id == $id) |
	    .last_error | type == "string" and test("refused")' "$J" >/dev/null
}
settles "/nodes.json to show $IDA's impostor refused in its last_error" \
    refused_shown &&
    note "$IDA's last_error: $(jq -r --arg id "$IDA" '.nodes[] | select(.id == $id) | .last_error' "$J")"
node_is "$IDA" '.connected == true and .state == "connected"' ||
    fail "/nodes.json: $IDA is not connected while an impostor is refused"
jq -e --arg id "$IDA" --arg k "$keya" '.nodes[] | select(.id == $id) |
    .key == $k' "$J" >/dev/null ||
    fail "/nodes.json: $IDA's key is not its own while an impostor is refused"
jq -e --arg id "$IDA" '.nodes[] | select(.id == $id) | .nickname == "alpha"' \
    "$J" >/dev/null || fail "/nodes.json: the impostor's nickname replaced $IDA's"
http_get root /
grep -q '<i>' "$T/root.body" && fail "/: the impostor's nickname is in the page raw"
stop_node imp
nodes_alive gatherer

# ---- hostile clients --------------------------------------------------

# What tallyd holds before the hostile clients: its descriptors (node
# connections, listeners, the statsfile), and the time its nodes' last
# snapshots were taken: the polls must go on throughout.
fds() {
	find "/proc/$GATHERER_PID/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l
}
FDS0=$(fds)
T0=$(date +%s)

# serving WHAT: tallyd is alive and answers GET /metrics (with the
# known counter) within the usual deadline.
serving() {
	nodes_alive gatherer
	http_get metrics /metrics
	want_sample "$T/metrics.body" "/metrics $1" \
	    tally_storage_server_get_total "$IDA" "$GETA"
}

# rejected WHAT FILE: FILE sent raw gets a 4xx or a close (not a 2xx, nor
# a connection left hanging), then tallyd still serves.
rejected() {
	local rc

	raw "$HTTP_PORT" "$2" "$HTTP_MAX_TIME"
	rc=$?
	[ "$rc" -eq 0 ] ||
	    fail "$1: the server neither answered nor closed within ${HTTP_MAX_TIME}s (status $rc)"
	if [ -s "$T/raw.out" ]; then
		head -n 1 "$T/raw.out" | grep -qE '^HTTP/1\.[01] 4[0-9][0-9] ' ||
		    fail "$1: answered '$(head -n 1 "$T/raw.out" | cat -v)', want a 4xx"
		note "$1: $(head -n 1 "$T/raw.out" | tr -d '\r')"
	else
		note "$1: closed without an answer"
	fi
	serving "after $1"
}
# tolerated WHAT FILE: FILE (a request with "Connection: close") sent raw
# gets whatever answer libmicrohttpd makes of it, or a close, but not a
# connection left hanging; then tallyd still serves.
tolerated() {
	local rc

	raw "$HTTP_PORT" "$2" "$HTTP_MAX_TIME"
	rc=$?
	[ "$rc" -eq 0 ] ||
	    fail "$1: the server neither answered nor closed within ${HTTP_MAX_TIME}s (status $rc)"
	note "$1: $(head -n 1 "$T/raw.out" | tr -d '\r' | cat -v)"
	serving "after $1"
}
printf 'GARBAGE\r\n\r\n' >"$T/req"
rejected "a request line of one word" "$T/req"
printf 'GET / HTTP/1.1 x y\r\nHost: a\r\n\r\n' >"$T/req"
rejected "a request line of four words" "$T/req"
printf 'GET / HTTP/1.1\r\nHost: a\r\nno colon here\r\n\r\n' >"$T/req"
rejected "a header line without a colon" "$T/req"
# Binary: a TLS ClientHello's start (a client that took the port for the
# node port, or https), NULs and high bytes, then a line end.
printf '\026\003\001\002\000\001\000\001\374\003\003\000\377\376\001\r\n\r\n' >"$T/req"
head -c 3000 /dev/zero | tr '\0' '\377' >>"$T/req"
printf '\r\n\r\n' >>"$T/req"
rejected "binary garbage" "$T/req"
# Odd but not all malformed: libmicrohttpd's call (a 505, a 400, or, for a
# NUL in the URL, the URL up to the NUL).
printf 'GET / HTTP/9.9\r\nHost: a\r\nConnection: close\r\n\r\n' >"$T/req"
tolerated "HTTP/9.9" "$T/req"
printf 'GET / HTTP/1.1\r\nHost: a\r\nContent-Length: -5\r\nConnection: close\r\n\r\n' >"$T/req"
tolerated "Content-Length -5" "$T/req"
printf 'GET /\000metrics HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n' >"$T/req"
tolerated "a NUL in the URL" "$T/req"
printf 'GET /metrics HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\nzz\r\n' >"$T/req"
tolerated "a GET with a bad chunked body" "$T/req"

# A 100 KB URL; a 100 KB header: a 4xx (414, 431, 413, 400), not a crash.
long=$(head -c 100000 /dev/zero | tr '\0' a)
code=$(http long GET "/$long") || true
[[ $code =~ ^4[0-9][0-9]$ ]] || fail "a 100 KB URL: status $code, want a 4xx"
note "a 100 KB URL: $code"
serving "after a 100 KB URL"
code=$(http long GET / -H "X-Long: $long") || true
[[ $code =~ ^4[0-9][0-9]$ ]] || fail "a 100 KB header: status $code, want a 4xx"
note "a 100 KB header: $code"
serving "after a 100 KB header"
hdrs=()
for i in $(seq 2000); do hdrs+=(-H "X-H$i: $i"); done
code=$(http many GET / "${hdrs[@]}") || true
[[ $code =~ ^(200|4[0-9][0-9])$ ]] || fail "2000 headers: status $code, want 200 or a 4xx"
note "2000 headers: $code"
serving "after 2000 headers"
# 1000 query arguments (7 KB): libmicrohttpd keeps a record for each in the
# connection's memory; it runs out and closes, or answers a 4xx.
args=$(for i in $(seq 1000); do printf 'a%d=1&' "$i"; done)
code=$(http args GET "/metrics?$args") || true
[[ $code =~ ^(000|4[0-9][0-9])$ ]] ||
    fail "1000 query arguments: status $code, want a 4xx or a close"
note "1000 query arguments: $code"
serving "after 1000 query arguments"

# A slow client: half a request line, then nothing, its connection held
# open here (fd 7) while others are answered.
exec 7<>"/dev/tcp/127.0.0.1/$HTTP_PORT" || fail "cannot connect to $HTTP_PORT"
printf 'GET /metr' >&7
for i in 1 2 3; do
	serving "while a client has sent half a request line"
done
# A trickling client: one byte every 0.2 s (that is its pace, not a wait
# for anything), a request whose header never ends.
(
	exec 3<>"/dev/tcp/127.0.0.1/$HTTP_PORT" || exit 1
	printf 'G' >&3
	echo started >"$T/trickle.out"
	s=$'ET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: '
	for ((i = 0; ; i++)); do
		if [ "$i" -lt "${#s}" ]; then
			printf '%s' "${s:i:1}"
		else
			printf 'z'
		fi >&3 || exit 0
		sleep 0.2
	done
) 2>"$T/trickle.err" &
NODE_PID[trickle]=$!
wait_for "the trickling client to start" grep -q started "$T/trickle.out"
for i in 1 2 3; do
	serving "while a client trickles a byte at a time"
	http_get nodes /nodes.json
	http_get root /
done
node_alive trickle || note "tallyd closed the trickling client's connection"
kill -KILL "${NODE_PID[trickle]}" 2>/dev/null
wait "${NODE_PID[trickle]}" 2>/dev/null
unset "NODE_PID[trickle]"
exec 7>&-
serving "after the slow clients left"

# A client that sends 200 pipelined requests and reads none of the
# answers: its socket fills, the others are still served.
exec 7<>"/dev/tcp/127.0.0.1/$HTTP_PORT" || fail "cannot connect to $HTTP_PORT"
for i in $(seq 200); do
	printf 'GET /metrics HTTP/1.1\r\nHost: a\r\n\r\n'
done >&7 2>/dev/null
for i in 1 2 3; do
	serving "while a client does not read its answers"
	http_get root /
done
exec 7>&-
serving "after a client that did not read"

# Many connections at once, idle (half of them with half a request): held
# by one process here, which reports how many it opened.
IDLE=${TALLY_HTTP_IDLE:-1100}
(
	fds=()
	for ((i = 0; i < IDLE; i++)); do
		exec {fd}<>"/dev/tcp/127.0.0.1/$HTTP_PORT" 2>/dev/null || break
		fds+=("$fd")
		[ $((i % 2)) -eq 1 ] && printf 'GET / HTTP/1.1\r\n' 1>&"$fd"
	done
	echo "$i" >"$T/idle.out"
	exec sleep 3600
) 2>"$T/idle.err" &
NODE_PID[idle]=$!
wait_for "$IDLE connections to be opened" test -s "$T/idle.out"
opened=$(cat "$T/idle.out")
note "$opened idle connections open at once"
[ "$opened" -ge 100 ] || fail "only $opened connections could be opened"
nodes_alive gatherer
if http_ok /metrics; then
	note "tallyd answered while $opened connections were idle"
else
	note "tallyd did not answer while $opened connections were idle"
fi
# Idle connections do not keep others out for good: tallyd closes them
# (libmicrohttpd's connection timeout), and answers again while their
# holder is still there, having not reconnected.
idle_outlived() {
	nodes_alive gatherer idle
	http_ok /metrics
}
wait_for -t $((WAIT_TIMEOUT * 3)) \
    "tallyd to answer again while $opened connections it closed are held" \
    idle_outlived
kill_node idle
nodes_alive gatherer
wait_for "tallyd to answer once the idle connections are gone" http_ok /metrics
serving "after $opened idle connections"

# The polls went on, and nothing leaked: no more descriptors than before
# (libmicrohttpd may take a moment to close the last), no child left
# unreaped (tallyd --http-reader, one per request).
wait_landed "$IDA" "$T0" storage_server.get "$GETA"
wait_landed "$IDX" "$T0" storage_server.get "$GETX"
fds_back() {
	nodes_alive gatherer
	[ "$(fds)" -le $((FDS0 + 2)) ]
}
wait_for "tallyd's descriptors back to $FDS0 (+2)" fds_back
# no_zombie: no child of tallyd is a zombie (/proc/PID/stat: after the
# command's name in parentheses, the state, then the parent's pid).
no_zombie() {
	local f s

	for f in /proc/[0-9]*/stat; do
		read -r s 2>/dev/null <"$f" || continue
		s=${s##*) }
		[[ $s == "Z $GATHERER_PID "* ]] && return 1
	done
	return 0
}
wait_for "no unreaped child of tallyd" no_zombie
note "tallyd holds $(fds) descriptors, $FDS0 before the hostile clients"

# ---- IPv6, a port alone, a port in use ---------------------------------

# second NAME ARG...: another tallyd (-l 127.0.0.1:0 -i 1 ARG...
# $T/NAME), NODE_PID[NAME], stderr in $T/NAME.err.
second() {
	local name=$1

	shift
	"$TALLYD" -l 127.0.0.1:0 -i 1 "$@" "$T/$name" >"$T/$name.out" \
	    2>"$T/$name.err" </dev/null &
	NODE_PID[$name]=$!
}
second_http() {
	nodes_alive "$1"
	grep -m 1 -E "^tallyd: http: listening on $2" "$T/$1.err"
}
# stop_second NAME: SIGTERM, which must end it, exit 0.
stop_second() {
	local rc

	kill -TERM "${NODE_PID[$1]}" || fail "tallyd $1 is not running"
	wait_for "tallyd $1 to stop" node_gone "$1"
	wait "${NODE_PID[$1]}"
	rc=$?
	unset "NODE_PID[$1]"
	[ "$rc" -eq 0 ] || fail "tallyd $1 exited $rc after SIGTERM: $(cat "$T/$1.err")"
}

# A port alone is 127.0.0.1: the gatherer's own port is taken.
timeout -k 5 "$WAIT_TIMEOUT" "$TALLYD" -l 127.0.0.1:0 -i 1 --http "$HTTP_PORT" \
    "$T/inuse" >"$T/inuse.stdout" 2>"$T/inuse.stderr" </dev/null
rc=$?
[ "$rc" -eq 1 ] ||
    fail "tallyd --http $HTTP_PORT (in use) exited $rc, want 1: $(cat "$T/inuse.stderr")"
grep -qF "127.0.0.1:$HTTP_PORT" "$T/inuse.stderr" ||
    fail "tallyd --http $HTTP_PORT (in use) does not name 127.0.0.1:$HTTP_PORT: $(cat "$T/inuse.stderr")"
tame "$T/inuse.stderr" >"$T/inuse.tame" ||
    fail "tallyd --http $HTTP_PORT (in use): $(cat "$T/inuse.tame")"
note "--http $HTTP_PORT (in use): $(grep -m 1 -F "$HTTP_PORT" "$T/inuse.stderr")"
serving "after another tallyd tried its port"

# --http 0: a port alone, the kernel's choice, on 127.0.0.1.
second portonly --http 0
wait_for "tallyd --http 0 on 127.0.0.1" \
    second_http portonly 'http://127\.0\.0\.1:[1-9][0-9]*/$'
stop_second portonly
# A tallyd with no tally tool beside it (/metrics runs it: tally export):
# a warning at start; /metrics answers 503 naming what it could not run,
# at once; / and /nodes.json still answer.
mkdir "$T/alone-bin"
cp "$TALLYD" "$T/alone-bin/tallyd" || fail "cp $TALLYD"
TALLYD=$T/alone-bin/tallyd second alone --http 127.0.0.1:0
wait_for "the lone tallyd's HTTP server" \
    second_http alone 'http://127\.0\.0\.1:[1-9][0-9]*/$'
grep -q 'warning.*tally' "$T/alone.err" ||
    later "a tallyd without its tally tool gives no warning at start: $(cat "$T/alone.err")"
url=$(second_http alone 'http://127\.0\.0\.1:[1-9][0-9]*/$')
url=${url#tallyd: http: listening on }
code=$(curl -s --max-time "$HTTP_MAX_TIME" -o "$T/alone.body" -w '%{http_code}' \
    "${url}metrics")
[[ $code == 5[0-9][0-9] ]] ||
    later "/metrics without the tally tool: status $code, want a 5xx"
grep -qF "$T/alone-bin/tally" "$T/alone.body" ||
    later "/metrics without the tally tool does not name it: $(head -c 300 "$T/alone.body")"
for p in nodes.json ''; do
	code=$(curl -s --max-time "$HTTP_MAX_TIME" -o /dev/null -w '%{http_code}' "$url$p")
	[ "$code" = 200 ] || later "/$p without the tally tool: status $code"
done
stop_second alone
if grep -q '^0\{31\}1 ' /proc/net/if_inet6 2>/dev/null; then
	second v6 --http '[::1]:0'
	wait_for "tallyd --http [::1]:0" second_http v6 'http://\[::1\]:[1-9][0-9]*/$'
	url=$(second_http v6 'http://\[::1\]:[1-9][0-9]*/$')
	url=${url#tallyd: http: listening on }
	code=$(curl -sS -g --max-time "$HTTP_MAX_TIME" -o "$T/v6.body" \
	    -w '%{http_code}' "${url}nodes.json" 2>"$T/v6.curl") ||
	    fail "GET ${url}nodes.json: $(cat "$T/v6.curl")"
	[ "$code" = 200 ] || fail "GET ${url}nodes.json: status $code"
	jq -e .tallyd "$T/v6.body" >/dev/null || fail "${url}nodes.json does not parse"
	note "IPv6: $url"
	stop_second v6
else
	note "no ::1 here: IPv6 not tried"
fi

# ---- slowloris at the connection limit ----------------------------------

# t/attack -m onebyte from 8 other loopback addresses, 16 connections each
# (tallyd takes 16 from one address, 128 in all): a byte, then silence,
# and a new connection as soon as tallyd closes one.  The server is full;
# a request waits in the listen queue until tallyd's timeout frees a
# place, and is answered then: later, never lost.
ATTACK=$TALLY_BUILDDIR/t/attack
loris_ready() {
	nodes_alive gatherer "$1"
	grep -q '^attacking ' "$T/$1.out" 2>/dev/null && return 0
	if grep -q 'bind' "$T/$1.err" 2>/dev/null; then
		LORIS_BIND=$(grep -m 1 bind "$T/$1.err")
		return 0
	fi
	return 1
}
LORIS_BIND=
LORIS=()
if [ -x "$ATTACK" ]; then
	for k in 2 3 4 5 6 7 8 9; do
		"$ATTACK" -m onebyte -c 16 -b "127.0.0.$k" -q "127.0.0.1:$HTTP_PORT" \
		    >"$T/loris$k.out" 2>"$T/loris$k.err" </dev/null &
		NODE_PID[loris$k]=$!
		LORIS+=("loris$k")
		wait_for "attacker 127.0.0.$k to attack" loris_ready "loris$k"
		[ -z "$LORIS_BIND" ] || break
	done
	if [ -n "$LORIS_BIND" ]; then
		note "no slowloris: $LORIS_BIND"
	else
		for i in 1 2; do
			nodes_alive gatherer "${LORIS[@]}"
			HTTP_MAX_TIME=$((WAIT_TIMEOUT * 3)) http_get loris /metrics
			note "a request under slowloris: $(curl -s -o /dev/null \
			    -w '%{http_code} in %{time_total} s' --max-time \
			    $((WAIT_TIMEOUT * 3)) "$HTTP_URL/nodes.json")"
		done
	fi
	for n in "${LORIS[@]}"; do
		kill -TERM "${NODE_PID[$n]}" 2>/dev/null
		wait_for "$n to stop" node_gone "$n"
		wait "${NODE_PID[$n]}" 2>/dev/null
		unset "NODE_PID[$n]"
	done
	wait_for "tallyd to answer once the slowloris is gone" http_ok /metrics
	serving "after a slowloris"
else
	note "$ATTACK not built (make t/attack): no slowloris"
fi

# ---- a stale node -------------------------------------------------------

# $IDB, stopped a while ago, has no snapshot younger than a few intervals
# now: stale in /nodes.json and on the page; the nodes still polled are not.
b_stale() {
	nodes_alive gatherer
	http_get nodes /nodes.json
	node_is "$IDB" '.stale == true and .state == "disconnected"'
}
settles -t $((WAIT_TIMEOUT * 3)) "/nodes.json to show $IDB stale" b_stale
node_is "$IDA" '.stale == false' || later "/nodes.json: $IDA, polled, is stale"
http_get root /
rows "$T/root.body" >"$T/rows"
awk -F '\t' -v id="$IDB" '$1 == id && $3 == "1"' "$T/rows" | grep -q . ||
    later "/: $IDB is not data-stale=\"1\": $(grep -F "$IDB" "$T/rows")"
awk -F '\t' -v id="$IDA" '$1 == id && $3 == "0"' "$T/rows" | grep -q . ||
    later "/: $IDA is not data-stale=\"0\": $(grep -F "$IDA" "$T/rows")"

# ---- many nodes -----------------------------------------------------------

# t/loadgen's fleet (node ids load-NNNNN, nicknames "load N", 4 metrics
# each), a window of 32 handshakes at a time (tallyd takes 64 from one
# address): tallyd's tables of nodes grow past their first sizes, and
# every answer holds them all.
LOADGEN=$TALLY_BUILDDIR/t/loadgen
NLOAD=${TALLY_HTTP_NODES:-300}
if [ -x "$LOADGEN" ]; then
	"$LOADGEN" -f "$GATHERER_FURL" -n "$NLOAD" -m 4 -w 32 -q \
	    >"$T/loadgen.out" 2>"$T/loadgen.err" </dev/null &
	NODE_PID[loadgen]=$!
	# Requests all along while the fleet connects: every one answered, in
	# JSON that parses, while tallyd's tables grow under them.
	(
		n=0
		while [ ! -e "$T/hammer.stop" ]; do
			code=$(curl -s --max-time "$HTTP_MAX_TIME" -o "$T/hammer.json" \
			    -w '%{http_code}' "$HTTP_URL/nodes.json")
			[ "$code" = 200 ] && jq -e .tallyd "$T/hammer.json" >/dev/null 2>&1 ||
			    { echo "request $n: status $code"; exit 1; }
			code=$(curl -s --max-time "$HTTP_MAX_TIME" -o /dev/null \
			    -w '%{http_code}' "$HTTP_URL/")
			[ "$code" = 200 ] || { echo "request $n: GET /: $code"; exit 1; }
			n=$((n + 1))
			echo "$n" >"$T/hammer.count"
		done
	) >"$T/hammer.out" 2>&1 &
	NODE_PID[hammer]=$!
	fleet_answered() {
		nodes_alive gatherer loadgen
		grep -q "^answered $NLOAD " "$T/loadgen.out"
	}
	wait_for -t $((WAIT_TIMEOUT * 3)) "$NLOAD nodes of t/loadgen to answer" \
	    fleet_answered
	: >"$T/hammer.stop"
	wait_for -t $((WAIT_TIMEOUT * 3)) "the requests during the fleet's arrival to end" \
	    node_gone hammer
	wait "${NODE_PID[hammer]}" ||
	    fail "during the fleet's arrival: $(cat "$T/hammer.out")"
	unset "NODE_PID[hammer]"
	note "$(cat "$T/hammer.count" 2>/dev/null || echo 0) requests answered while the fleet arrived"
	# FLEET: the fleet's connections not lost (t/loadgen prints a "lost"
	# line each; without -r it does not reconnect): all of them, but on a
	# machine so busy that tallyd's timeouts closed some.
	fleet_size() {
		FLEET=$((NLOAD - $(grep -c '^lost ' "$T/loadgen.out")))
		[ "$FLEET" -ge $((NLOAD / 2)) ] ||
		    fail "t/loadgen lost $((NLOAD - FLEET)) of its $NLOAD connections: $(grep -m 3 . "$T/loadgen.err")"
	}
	fleet_listed() {
		nodes_alive gatherer loadgen
		fleet_size
		http_get nodes /nodes.json
		jq -e --argjson n "$FLEET" '[.nodes[] | select(.id | startswith("load-")) |
		    select(.state == "connected" and .snapshot_time != null)] |
		    length == $n' "$J" >/dev/null
	}
	wait_for "/nodes.json to list the nodes of t/loadgen connected, with a snapshot" \
	    fleet_listed
	[ "$FLEET" -eq "$NLOAD" ] ||
	    note "t/loadgen lost $((NLOAD - FLEET)) of $NLOAD connections (a busy machine)"
	NL=$(jq '[.nodes[] | select(.id | startswith("load-"))] | length' "$J")
	jqe "$((NL + 5)) nodes" ".nodes | length == $((NL + 5))"
	jqe "nodes sorted by id" '[.nodes[].id] == ([.nodes[].id] | sort)'
	jqe "every node connected counted" \
	    ".tallyd.nodes_connected as \$n | [.nodes[] | select(.connected)] | length == \$n"
	jqe "the fleet's nicknames" \
	    '[.nodes[] | select(.id | startswith("load-")) |
	      select(.nickname != "load \(.id[5:] | tonumber)")] | length == 0'
	http_get root /
	rows "$T/root.body" >"$T/rows"
	[ "$(wc -l <"$T/rows")" -eq $((NL + 5)) ] ||
	    fail "/: $(wc -l <"$T/rows") node rows, /nodes.json $((NL + 5))"
	fleet_size
	[ "$(awk -F '\t' '$1 ~ /^load-/ && $2 == "connected"' "$T/rows" | wc -l)" -eq "$FLEET" ] ||
	    fail "/: not all $FLEET nodes of t/loadgen connected"
	wait_for "/metrics with the series of tally export --prometheus ($NLOAD more nodes)" \
	    metrics_match
	n=$(grep -c '^tally_load_counter_0000_total{node="load-' "$T/metrics.body")
	[ "$n" -ge "$FLEET" ] || fail "/metrics: $n nodes' load.counter.0000, want $FLEET"
	http_get gz /metrics -H 'Accept-Encoding: gzip'
	[ "$(gzip -dc <"$T/gz.body" | grep -c '^tally_load_counter_0000_total{')" -ge "$FLEET" ] ||
	    fail "gzip /metrics: not $FLEET nodes' load.counter.0000"
	note "$NLOAD more nodes: /metrics $(wc -c <"$T/metrics.body") bytes," \
	    "gzip $(wc -c <"$T/gz.body"), /nodes.json $(wc -c <"$J"), / $(wc -c <"$T/root.body")"
	kill -TERM "${NODE_PID[loadgen]}"
	wait_for "t/loadgen to stop" node_gone loadgen
	wait "${NODE_PID[loadgen]}"
	unset "NODE_PID[loadgen]"
else
	note "$LOADGEN not built (make t/loadgen): no fleet"
fi

# ---- the nodes go -------------------------------------------------------

# The remaining nodes stop at once: /nodes.json counts no connection and
# no node connected, and lists them all disconnected.
for n in a x d; do
	kill -TERM "${NODE_PID[$n]}" || fail "node $n is not running"
done
for n in a x d; do
	wait_for "node $n to stop" node_gone "$n"
	wait "${NODE_PID[$n]}" || fail "node $n exited $? after SIGTERM"
	unset "NODE_PID[$n]"
done
all_gone() {
	nodes_alive gatherer
	http_get nodes /nodes.json
	jq -e '[.nodes[] | select(.state == "connected")] | length == 0' "$J" \
	    >/dev/null
}
wait_for "/nodes.json to show every node disconnected" all_gone
no_connection() {
	http_get nodes /nodes.json
	jq -e '.tallyd.connections == 0 and .tallyd.nodes_connected == 0' "$J" \
	    >/dev/null
}
settles "/nodes.json to count 0 connections, 0 nodes connected" no_connection ||
    LATER[-1]+=": it says $(jq -c '.tallyd | {connections, nodes_connected}' "$J")"

# ---- SIGTERM with HTTP connections open and requests in flight ---------

# One connection with half a request; another client asking for /metrics
# over and over (a reader process may be running when SIGTERM comes):
# tallyd still stops cleanly, exit 0, within the usual deadline.
exec 7<>"/dev/tcp/127.0.0.1/$HTTP_PORT" || fail "cannot connect to $HTTP_PORT"
printf 'GET / HTTP/1.1\r\n' >&7
(
	n=0
	while curl -s --max-time "$HTTP_MAX_TIME" -o /dev/null "$HTTP_URL/metrics"; do
		n=$((n + 1))
		echo "$n" >"$T/scraper.count"
	done
) 2>/dev/null &
NODE_PID[scraper]=$!
wait_for "a few scrapes before SIGTERM" \
    eval '[ "$(cat "$T/scraper.count" 2>/dev/null || echo 0)" -ge 3 ]'
stop_gatherer
exec 7>&-
wait_for "the scraper to see tallyd gone" node_gone scraper
wait "${NODE_PID[scraper]}" 2>/dev/null
unset "NODE_PID[scraper]"

# ---- the documentation -------------------------------------------------

"$TALLYD" --help 2>&1 | grep -q -- "--http" ||
    later "tallyd --help does not mention --http"
grep -qE -- '(Fl \\-|\\-\\-)http\>' "$TALLY_SRCDIR/src/tallyd/tallyd.8" ||
    later "tallyd(8) does not mention --http"
note "tallyd served /, /metrics (text, OpenMetrics, gzip) and /nodes.json," \
    "refused the rest, and outlived its hostile clients"
finish
