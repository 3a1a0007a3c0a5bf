#!/bin/bash
# t/http-browser.sh: tallyd's page in a real browser, headless Chromium
# (Debian's chromium).  A gatherer with two remote nodes of t/fixednode,
# one of them stopped, and a third whose nickname is a script that would
# mark the page if it ever ran.  chromium --dump-dom gives the DOM as the
# browser built it: a row per node (data-id) with its state, connected or
# disconnected, and tallyd's own (local); the nicknames as text, UTF-8
# included; the script never run.  Then --screenshot of a 1280x800
# window, kept in the build directory as t/http-browser.png for a human to
# look at: a PNG (signature, IHDR of 1280x800), larger than a blank page's.
#
# Chromium runs as whoever runs the test (root too: --no-sandbox), with
# HOME and its profile in $T, no GPU, every run bounded by timeout.
# TALLY_CHROMIUM names the browser if it is not chromium (chromium-browser
# and google-chrome are tried too).
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/http-lib.sh"

CHROMIUM=${TALLY_CHROMIUM:-}
if [ -z "$CHROMIUM" ]; then
	for c in chromium chromium-browser google-chrome; do
		command -v "$c" >/dev/null 2>&1 && { CHROMIUM=$c; break; }
	done
fi
[ -n "$CHROMIUM" ] || skip "chromium not found (install chromium)"
require_cmd curl jq timeout od mdb_dump
require_tallyd
require_fixed
setup

# A cold start of Chromium on a busy machine takes seconds.
CWAIT=$((WAIT_TIMEOUT * 3))
SHOT=$TALLY_BUILDDIR/t/http-browser.png

# chromium NAME ARG...: one headless run, bounded; stdout in $T/NAME.out,
# stderr in $T/NAME.log (not .err: its D-Bus complaints are noise).
chromium() {
	local name=$1

	shift
	mkdir -p "$T/home" "$T/profile"
	HOME=$T/home XDG_CONFIG_HOME=$T/home/.config XDG_CACHE_HOME=$T/home/.cache \
	    timeout -k 5 "$CWAIT" "$CHROMIUM" --headless --no-sandbox \
	    --disable-gpu --disable-dev-shm-usage --no-first-run \
	    --no-default-browser-check --disable-extensions \
	    --user-data-dir="$T/profile" "$@" \
	    >"$T/$name.out" 2>"$T/$name.log" </dev/null
}

BASE=$T/gatherer
# A poll answered late because the machine is busy is no matter here: 5 s
# (-i 1 would give 0.5 s, and a node missing it is disconnected).
start_http_gatherer "$BASE" --poll-timeout 5
STATS=$BASE/stats

IDA=web-a
IDB=web-b
IDX=web-x
NICKX="<script>document.documentElement.setAttribute('data-pwned','1')</script> & co"
start_fixed a -g "$GATHERER_FURL" -n "$IDA" -N 'node A, ünïcödé ✓' storage_server.get=1
start_fixed b -g "$GATHERER_FURL" -n "$IDB" -N 'node B' storage_server.get=2
start_fixed x -g "$GATHERER_FURL" -n "$IDX" -N "$NICKX" storage_server.get=3
wait_landed "$IDA" 0 storage_server.get 1
wait_landed "$IDB" 0 storage_server.get 2
wait_landed "$IDX" 0 storage_server.get 3
gatherer_self() {
	nodes_alive gatherer
	GID=$(node_id_of tallyd)
}
wait_for "tallyd's own node in the statsfile" gatherer_self

# Node B stops: wait until tallyd's JSON says so, then the page must too.
stop_node b
b_disconnected() {
	nodes_alive gatherer
	http_get nodes /nodes.json
	jq -e --arg id "$IDB" '.nodes[] | select(.id == $id) |
	    .connected == false and .state == "disconnected"' \
	    "$T/nodes.body" >/dev/null 2>&1
}
wait_for "/nodes.json to show $IDB disconnected" b_disconnected

# ---- the DOM ------------------------------------------------------------

chromium dom --dump-dom "$HTTP_URL/"
rc=$?
[ "$rc" -eq 0 ] || fail "chromium --dump-dom exited $rc: $(grep -v -i dbus "$T/dom.log" | tail -n 5)"
D=$T/dom.out
grep -q '<table[^>]* id="nodes"' "$D" ||
    fail "the DOM has no <table id=\"nodes\">: $(head -c 2000 "$D")"
grep -q '<section[^>]* id="tallyd"' "$D" ||
    fail "the DOM has no <section id=\"tallyd\">"
grep -qE '<html[^>]* data-pwned="1"' "$D" &&
    fail "the nickname's script ran in the browser"

# row_state ID: the data-state of the DOM's <tr class="node" data-id="ID">
# (Chromium keeps the attributes as the page wrote them).
row_state() {
	grep -oE "<tr [^>]*data-id=\"$1\"[^>]*>" "$D" | head -n 1 |
	    sed -n 's/.* data-state="\([a-z]*\)".*/\1/p'
}
n=$(grep -oE '<tr [^>]*class="node"[^>]*>' "$D" | wc -l)
[ "$n" -eq 4 ] || fail "the DOM has $n node rows, want 4: $(grep -oE '<tr [^>]*>' "$D")"
for pair in "$IDA connected" "$IDB disconnected" "$IDX connected" "$GID local"; do
	id=${pair% *}
	want=${pair#* }
	st=$(row_state "$id")
	[ -n "$st" ] || fail "the DOM has no row data-id=\"$id\": $(grep -oE '<tr [^>]*>' "$D")"
	[ "$st" = "$want" ] || fail "the DOM shows $id $st, want $want"
done
# The hostile nickname is text in the DOM: Chromium serialises a text
# "<" as "&lt;"; a <script> element would come out as a tag.
grep -qF '&lt;script&gt;document.documentElement' "$D" ||
    fail "the nickname is not text in the DOM: $(grep -F "$IDX" "$D" | head -c 1000)"
grep -qF "<script>document.documentElement" "$D" &&
    fail "the nickname became a <script> element"
# UTF-8 in a nickname: the same text in the DOM.
grep -qF 'node A, ünïcödé ✓' "$D" ||
    fail "the DOM does not show $IDA's nickname in UTF-8: $(grep -F "$IDA" "$D" | head -c 1000)"
note "the DOM lists $IDA connected, $IDB disconnected, $IDX connected, $GID local"

# ---- a screenshot -------------------------------------------------------

mkdir -p "$(dirname "$SHOT")"
rm -f "$SHOT"
chromium shot --screenshot="$SHOT" --window-size=1280,800 \
    --hide-scrollbars "$HTTP_URL/"
rc=$?
[ "$rc" -eq 0 ] || fail "chromium --screenshot exited $rc: $(grep -v -i dbus "$T/shot.log" | tail -n 5)"
[ -s "$SHOT" ] || fail "no screenshot in $SHOT: $(cat "$T/shot.out")"
# The PNG signature, then the IHDR chunk: width and height, big-endian.
sig=$(od -An -tx1 -N8 "$SHOT" | tr -d ' \n')
[ "$sig" = 89504e470d0a1a0a ] || fail "$SHOT is not a PNG (starts $sig)"
ihdr=$(od -An -tx1 -j12 -N12 "$SHOT" | tr -d ' \n')
[ "$ihdr" = 494844520000050000000320 ] ||
    fail "$SHOT: IHDR $ihdr, want a 1280x800 image"
size=$(wc -c <"$SHOT")
# Not a blank page: larger than the screenshot of one (some 5 KB), by more
# than a line of text adds (about 1.5 KB); a table of four nodes and
# tallyd's figures add several times that.
chromium blank --screenshot="$T/blank.png" --window-size=1280,800 \
    --hide-scrollbars about:blank ||
    fail "chromium --screenshot about:blank failed: $(grep -v -i dbus "$T/blank.log" | tail -n 5)"
blank=$(wc -c <"$T/blank.png") || fail "no screenshot of about:blank"
[ "$size" -gt $((blank + 2000)) ] ||
    fail "$SHOT is $size bytes, a blank page $blank: the page is blank?"
note "screenshot: $SHOT ($size bytes)"

stop_node a
stop_node x
stop_gatherer
exit 0
