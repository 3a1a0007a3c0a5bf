# t/http-lib.sh: helpers of the tests of tallyd's HTTP server (t/http*.sh),
# on top of t/lib.sh, which must be sourced first.
#
#	. "$(dirname "$0")/lib.sh"
#	. "$(dirname "$0")/http-lib.sh"
#
# tallyd --http [ADDR:]PORT logs, once its server runs,
#	tallyd: http: listening on http://127.0.0.1:PORT/
# start_http_gatherer starts it on a port of the kernel's choosing and reads
# the port from that line.  Nodes with counters of known values are
# t/fixednode, started with start_fixed.  Every HTTP request goes through
# curl, bounded in time (--max-time); raw ones (malformed, half-sent,
# HTTP/1.0 to read up to the close) through bash's /dev/tcp under timeout.

FIXED=$TALLY_BUILDDIR/t/fixednode
TALLY=$TALLY_BUILDDIR/tally
HTTP_PORT=
HTTP_URL=
# Seconds one HTTP request may take (a busy machine: generous).
HTTP_MAX_TIME=${TALLY_HTTP_MAX_TIME:-15}

require_fixed() {
	[ -x "$FIXED" ] || fail "$FIXED not built (make t/fixednode, or make check)"
	[ -x "$TALLY" ] || fail "$TALLY not built (run make first)"
}

# start_fixed NAME ARG...: t/fixednode ARG... as start_node NAME starts the
# demo (same protocol: ready, stopped; NODE_PID[NAME]; -g gets -k
# $T/NAME.key).  E.g. start_fixed a -g "$GATHERER_FURL" -n node-a -N A
# storage_server.get=12345.
start_fixed() {
	DEMO=$FIXED start_node "$@"
}

# http_listening: the current run of tallyd logged its HTTP address; sets
# HTTP_PORT and HTTP_URL.  Fails at once if tallyd died.
http_listening() {
	local line

	line=$(gatherer_log_run |
	    grep -m 1 -E '^tallyd: http: listening on http://127\.0\.0\.1:[0-9]+/$')
	if [ -n "$line" ]; then
		HTTP_URL=${line#tallyd: http: listening on }
		HTTP_URL=${HTTP_URL%/}
		HTTP_PORT=${HTTP_URL##*:}
		[ "$HTTP_PORT" -gt 0 ] ||
		    fail "tallyd's HTTP server listens on port 0: $line"
		return 0
	fi
	nodes_alive gatherer
	return 1
}

# start_http_gatherer BASEDIR [TALLYD_ARG...]: start_gatherer BASEDIR
# --http 127.0.0.1:0 ARG..., then wait for the HTTP server's line.
start_http_gatherer() {
	local base=$1

	shift
	start_gatherer "$base" --http 127.0.0.1:0 "$@"
	wait_for "tallyd's line 'http: listening on http://127.0.0.1:PORT/'" \
	    http_listening
	export HTTP_PORT HTTP_URL
}

# http NAME METHOD PATH [CURL_ARG...]: one request to tallyd's server with
# curl; the status code on stdout (000: no answer), the headers in
# $T/NAME.head (CRs removed), the body in $T/NAME.body.  True if curl got
# an answer, whatever its status.
http() {
	local name=$1 method=$2 path=$3 code m=(-X "$2") out=$T/$1.body

	shift 3
	# curl --head writes the headers where the body would go: the body
	# of a HEAD is for a raw request to see (see raw).
	[ "$method" = HEAD ] && m=(--head) out=/dev/null
	rm -f "$T/$name.head" "$T/$name.body"
	code=$(curl -sS --max-time "$HTTP_MAX_TIME" "${m[@]}" \
	    -D "$T/$name.head.raw" -o "$out" -w '%{http_code}' \
	    "$@" "$HTTP_URL$path" 2>"$T/$name.curl") ||
	    { echo "${code:-000}"; return 1; }
	tr -d '\r' <"$T/$name.head.raw" >"$T/$name.head"
	[ -e "$T/$name.body" ] || : >"$T/$name.body"
	echo "$code"
}

# http_get NAME PATH [CURL_ARG...]: GET PATH, which must answer 200 (fails
# otherwise); the body in $T/NAME.body, the headers in $T/NAME.head.
http_get() {
	local code

	code=$(http "$1" GET "$2" "${@:3}") ||
	    fail "GET $2: no answer: $(cat "$T/$1.curl")"
	[ "$code" = 200 ] ||
	    fail "GET $2: status $code, want 200: $(head -c 500 "$T/$1.body")"
}

# http_ok PATH: GET PATH answers 200 (for wait conditions; never fails).
http_ok() {
	[ "$(curl -s --max-time "$HTTP_MAX_TIME" -o /dev/null \
	    -w '%{http_code}' "$HTTP_URL$1")" = 200 ]
}

# header NAME FILE: the value of header NAME (case-insensitive) in a
# headers file written by http (the last answer's, if curl followed
# several); false if absent.
header() {
	awk -v h="$(printf '%s' "$1" | tr '[:upper:]' '[:lower:]')" '
		/^HTTP\// { v = ""; found = 0; next }
		{ i = index($0, ":"); if (i == 0) next
		  if (tolower(substr($0, 1, i - 1)) == h) {
			v = substr($0, i + 1); sub(/^[ \t]+/, "", v)
			sub(/[ \t]+$/, "", v); found = 1 } }
		END { if (found) print v; exit !found }' "$2"
}

# want_header NAME VALUE FILE WHAT: header NAME of FILE is VALUE (compared
# case-insensitively, as media types are), or fail.
want_header() {
	local v

	v=$(header "$1" "$3") || fail "$4: no $1 header: $(cat "$3")"
	[ "${v,,}" = "${2,,}" ] || fail "$4: $1 is '$v', want '$2'"
}

# raw PORT FILE SECONDS: send the bytes of FILE on a new connection to
# 127.0.0.1:PORT, then read until the server closes or SECONDS pass; what
# came back in $T/raw.out.  Status 0: the server closed; 124: still open
# after SECONDS; 99: could not connect.
raw() {
	timeout -k 2 "$3" bash -c '
		exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 99
		cat "$2" >&3 || exit 0	# closed under us: a close too
		cat <&3' _ "$1" "$2" >"$T/raw.out" 2>"$T/raw.err"
}

# series FILE: the series of an exposition (sample lines without their
# values) and its comment lines, sorted: what two reads of a gatherer's
# metrics a moment apart share, whatever its own figures did meanwhile.
series() {
	awk '/^#/ { print; next } { sub(/ [^ ]*$/, ""); print }' "$1" | sort
}

# sample FILE NAME NODE: the value of the sample NAME{node="NODE",...} in
# an exposition; false if absent.
sample() {
	awk -v n="$2" -v id="$3" '
		index($0, n "{node=\"" id "\",") == 1 { print $NF; found = 1 }
		END { exit !found }' "$1"
}

# later MESSAGE: a failure that does not stop the test (a wrong field, not
# a dead server): the rest still runs, and finish fails with every one.
LATER=()
later() {
	printf '%s: FAIL (later): %s\n' "$test_name" "$*" >&2
	LATER+=("$*")
}

# finish: exit 0, or fail with the failures later collected.
finish() {
	local m

	[ "${#LATER[@]}" -eq 0 ] && exit 0
	for m in "${LATER[@]}"; do
		printf '%s: FAIL: %s\n' "$test_name" "$m" >&2
	done
	fail "${#LATER[@]} check(s) failed"
}

# settles [-t SECONDS] WHAT CMD [ARG...]: wait_for, but a timeout is a
# later failure, not the end of the test.
settles() {
	local t=$WAIT_TIMEOUT what

	if [ "$1" = -t ]; then
		t=$2
		shift 2
	fi
	what=$1
	shift
	poll_until "$t" "$@" && return 0
	later "timed out after ${t}s waiting for $what"
	return 1
}
