#!/bin/bash
# t/tls.sh: the TLS transport end to end, with real processes.  tallyd on a
# fresh BASEDIR prints a tally+tls:// furl whose FINGERPRINT is the SHA-256
# of BASEDIR/tallyd.crt (computed here with the openssl tool), the key and
# the certificate mode 0600; `openssl s_client -tls1_3` negotiates TLS 1.3
# and is served that very certificate, while -tls1_2 is refused; a remote
# demo node with the furl lands in the database.  Refused, with nothing
# written: a wrong secret over TLS, a plaintext furl against the TLS
# gatherer, and a man in the middle (a second tallyd with the victim's
# secret and its own key), which the node names by both fingerprints.  A
# restart keeps the furl and names its file instead of printing it; a key
# or furl file of a wider mode, of another user or behind a symlink is
# refused at start; removing the key and certificate makes a new one,
# which nodes holding the old furl refuse.  --plaintext beyond
# loopback is refused; on loopback it serves a tally:// furl.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"

require_cmd openssl mdb_dump base32 timeout stat
require_built
require_tallyd
setup

# tls_start BASEDIR [ARG...]: tallyd -i 1 ARG... BASEDIR in the background
# (NODE_PID[gatherer], so lib.sh's stop_gatherer and cleanup know it);
# FURL is the furl it prints, of either form.
tls_start() {
	local base=$1

	shift
	: >"$T/gatherer.out"
	"$TALLYD" -i 1 "$@" "$base" >"$T/gatherer.out" \
	    2>>"$T/gatherer.err" </dev/null &
	GATHERER_PID=$!
	NODE_PID[gatherer]=$GATHERER_PID
	FURL=
	wait_for "tallyd to print its furl" furl_printed gatherer
}

# furl_printed NAME: process NAME has printed a whole furl line (counted by
# wc -l, so ending in a newline: not one still being written) on
# $T/NAME.out; sets FURL.  Fails at once if NAME died.
furl_printed() {
	local n line

	n=$(wc -l <"$T/$1.out")
	if [ "$n" -gt 0 ] && line=$(head -n "$n" "$T/$1.out" |
	    grep -m 1 -E '^tally(\+tls)?://'); then
		FURL=$line
		return 0
	fi
	nodes_alive "$1"
	return 1
}

# fingerprint_of PEM: the furl's form of the certificate's SHA-256.
fingerprint_of() {
	openssl x509 -in "$1" -outform DER |
	    openssl dgst -sha256 -binary | base32 -w 0 | tr -d = | tr A-Z a-z
}

# logged FILE TEXT: FILE holds TEXT (fixed string).
logged() {
	grep -qF -- "$2" "$1" 2>/dev/null
}

TLS_RE='^tally\+tls://([a-z2-7]{52})@127\.0\.0\.1:([0-9]+)/([a-z2-7]{16,64})$'

# ---- the furl and the identity ------------------------------------------
BASE=$T/gatherer
STATS=$BASE/stats
tls_start "$BASE" -l 127.0.0.1:0
[[ $FURL =~ $TLS_RE ]] ||
    fail "tallyd printed '$FURL', want tally+tls://FINGERPRINT@127.0.0.1:PORT/SECRET"
FP=${BASH_REMATCH[1]} PORT=${BASH_REMATCH[2]} SECRET=${BASH_REMATCH[3]}
FURL0=$FURL
for f in tallyd.key tallyd.crt stats_gatherer.furl; do
	[ -f "$BASE/$f" ] || fail "no $BASE/$f"
	mode=$(stat -c %a "$BASE/$f")
	[ "$mode" = 600 ] || fail "$BASE/$f has mode $mode, want 600"
done
[ "$(cat "$BASE/stats_gatherer.furl")" = "$FURL" ] ||
    fail "stats_gatherer.furl holds '$(cat "$BASE/stats_gatherer.furl")'"
got=$(fingerprint_of "$BASE/tallyd.crt") || fail "openssl x509 failed"
[ "$got" = "$FP" ] ||
    fail "the furl's fingerprint $FP is not tallyd.crt's SHA-256 ($got)"
note "tallyd on port $PORT, fingerprint $FP"

# ---- openssl s_client: TLS 1.3, and the pinned certificate --------------
timeout -k 5 "$WAIT_TIMEOUT" openssl s_client -connect "127.0.0.1:$PORT" \
    -tls1_3 </dev/null >"$T/s_client.out" 2>&1
grep -qE 'New, TLSv1\.3|Protocol *: TLSv1\.3|Protocol version: TLSv1\.3' \
    "$T/s_client.out" ||
    fail "openssl s_client -tls1_3 did not negotiate TLS 1.3: $(cat "$T/s_client.out")"
sed -n '/-----BEGIN CERTIFICATE-----/,/-----END CERTIFICATE-----/p' \
    "$T/s_client.out" >"$T/served.crt"
got=$(fingerprint_of "$T/served.crt") || fail "no certificate from s_client"
[ "$got" = "$FP" ] || fail "tallyd served a certificate of fingerprint $got"
note "s_client: $(grep -m 1 -E 'New, TLSv1' "$T/s_client.out")"
if timeout -k 5 "$WAIT_TIMEOUT" openssl s_client \
    -connect "127.0.0.1:$PORT" -tls1_2 </dev/null >"$T/s_client12.out" 2>&1
then
	grep -q 'New, TLSv1\.2' "$T/s_client12.out" &&
	    fail "tallyd negotiated TLS 1.2: $(cat "$T/s_client12.out")"
fi

# ---- a remote node through the TLS furl ---------------------------------
start_node r1 -g "$FURL" -n tls-node -N 'tls node' -r 100
wait_landed tls-node 0
src=$(node_field tls-node source) || fail "tls-node has no source"
[[ $src =~ ^remote\ 127\.0\.0\.1:[0-9]+$ ]] || fail "tls-node: source='$src'"
wait_for "tallyd's connect line for tls-node" \
    logged "$T/gatherer.err" "connected node tls-node (tls node)"

# ---- refused, and nothing written ---------------------------------------
# A wrong secret, inside TLS.
start_node w -g "${FURL%/*}/abcdefghijklmnopqrstuvwxyz234567" \
    -n wrong-secret
wait_for "the node's log of its refusal" logged "$T/w.err" \
    "refused: wrong secret"
wait_for "tallyd's log of the wrong secret" logged "$T/gatherer.err" \
    "wrong secret (from node wrong-secret)"
kill_node w

# A plaintext furl against the TLS gatherer.
start_node p -g "tally://127.0.0.1:$PORT/$SECRET" -n plain-node
wait_for "the node's log of its refusal" logged "$T/p.err" \
    "this gatherer speaks TLS only"
kill_node p

# A man in the middle: the victim's secret, a key of its own, on the port
# where the node thinks the victim is.  A second tallyd, run by hand.
MBASE=$T/mitm
mkdir "$MBASE"
cp "$BASE/stats_gatherer.furl" "$MBASE/"
"$TALLYD" -i 1 -l 127.0.0.1:0 "$MBASE" >"$T/mitm.out" 2>"$T/mitm.err" \
    </dev/null &
NODE_PID[mitm]=$!
FURL_VICTIM=$FURL
wait_for "the impostor's furl" furl_printed mitm
MFURL=$FURL FURL=$FURL_VICTIM
[[ $MFURL =~ $TLS_RE ]] || fail "the impostor printed '$MFURL'"
MFP=${BASH_REMATCH[1]} MPORT=${BASH_REMATCH[2]}
[ "${BASH_REMATCH[3]}" = "$SECRET" ] || fail "the impostor has another secret"
[ "$MFP" != "$FP" ] || fail "the impostor has the victim's certificate"
start_node m -g "tally+tls://$FP@127.0.0.1:$MPORT/$SECRET" -n mitm-victim
want="gatherer 127.0.0.1:$MPORT: certificate fingerprint mismatch (expected $FP, got $MFP)"
wait_for "the node to name both fingerprints" logged "$T/m.err" "$want"
wait_for "the impostor's log of the refused handshake" \
    logged "$T/mitm.err" "bad certificate"
kill_node m
kill_node mitm

for id in wrong-secret plain-node mitm-victim; do
	db_has_node "$id" && fail "$id has a slot: $(db_get nodes "$id")"
	db_has_node "$id" "$MBASE/stats" && fail "$id has a slot at the impostor"
done
grep -qF -- "$SECRET" "$T/gatherer.err" "$T/mitm.err" &&
    fail "a log line quotes the secret"
note "refused: a wrong secret, a plaintext furl, a man in the middle"

# ---- restart: the same furl, not printed; a new key: a new furl ---------
stop_gatherer
n0=$(wc -l <"$T/gatherer.err")
"$TALLYD" -i 1 "$BASE" >"$T/gatherer.out" 2>>"$T/gatherer.err" </dev/null &
GATHERER_PID=$!
NODE_PID[gatherer]=$GATHERER_PID
restarted() {
	nodes_alive gatherer
	tail -n "+$((n0 + 1))" "$T/gatherer.err" | grep -q "listening on"
}
wait_for "tallyd to restart" restarted
# The secret is printed once, when made: a restart names the file.
[ -s "$T/gatherer.out" ] && fail "a restart printed '$(cat "$T/gatherer.out")'"
tail -n "+$((n0 + 1))" "$T/gatherer.err" |
    grep -qF "the furl is in $BASE/stats_gatherer.furl (certificate fingerprint $FP)" ||
    fail "a restart did not name the furl file: $(tail -n 3 "$T/gatherer.err")"
[ "$(cat "$BASE/stats_gatherer.furl")" = "$FURL0" ] ||
    fail "after a restart the furl file holds '$(cat "$BASE/stats_gatherer.furl")'"
t=$(date +%s)
wait_landed tls-node "$t"

# Key and furl files that others may read, or that another user owns, are
# refused at start, and left as they are.
stop_gatherer
refused_start() {
	local what=$1

	shift
	if timeout -k 5 "$WAIT_TIMEOUT" "$TALLYD" -i 1 "$BASE" \
	    >"$T/refused.out" 2>"$T/refused.err" </dev/null; then
		fail "tallyd started with $what"
	fi
	grep -qF -- "$1" "$T/refused.err" ||
	    fail "tallyd with $what said: $(cat "$T/refused.err")"
	[ -s "$T/refused.out" ] && fail "tallyd with $what printed a furl"
	return 0
}
chmod 644 "$BASE/tallyd.key"
refused_start "a 0644 key" "$BASE/tallyd.key has mode 0644, wider than 0600: refused"
[ "$(stat -c %a "$BASE/tallyd.key")" = 644 ] || fail "tallyd changed the key's mode"
chmod 600 "$BASE/tallyd.key"
chmod 640 "$BASE/stats_gatherer.furl"
refused_start "a 0640 furl file" "$BASE/stats_gatherer.furl has mode 0640, wider than 0600: refused"
chmod 600 "$BASE/stats_gatherer.furl"
if [ "$(id -u)" = 0 ]; then
	chown 65534 "$BASE/tallyd.key"
	refused_start "a key of another user" "$BASE/tallyd.key is owned by uid 65534, not by tallyd's user (uid 0): refused"
	chown 0 "$BASE/tallyd.key"
else
	note "not root: the key of another user is not tried"
fi
mv "$BASE/tallyd.key" "$BASE/real.key"
ln -s real.key "$BASE/tallyd.key"
refused_start "a symlinked key" "$BASE/tallyd.key is not a regular file"
rm "$BASE/tallyd.key"
mv "$BASE/real.key" "$BASE/tallyd.key"

rm "$BASE/tallyd.key" "$BASE/tallyd.crt"
tls_start "$BASE"
[[ $FURL =~ $TLS_RE ]] || fail "after rotation tallyd printed '$FURL'"
NFP=${BASH_REMATCH[1]}
[ "$NFP" != "$FP" ] || fail "a new key kept the fingerprint $FP"
[ "${BASH_REMATCH[2]}/${BASH_REMATCH[3]}" = "$PORT/$SECRET" ] ||
    fail "a new key changed more than the fingerprint: $FURL"
[ "$(fingerprint_of "$BASE/tallyd.crt")" = "$NFP" ] ||
    fail "the new furl does not pin the new certificate"
logged "$T/gatherer.err" "the furl changed (a new certificate)" ||
    fail "tallyd did not say that the furl changed"
# The node with the old furl refuses the new certificate ...
wait_for "the old furl's node to refuse the new certificate" \
    logged "$T/r1.err" "certificate fingerprint mismatch (expected $FP, got $NFP)"
# ... and one with the new furl lands.
start_node r2 -g "$FURL" -n tls-node-2
wait_landed tls-node-2 0
stop_node r2
stop_node r1
stop_gatherer

# ---- plaintext: loopback only --------------------------------------------
if timeout -k 5 "$WAIT_TIMEOUT" "$TALLYD" --plaintext -l 0.0.0.0:0 \
    "$T/plain0" >"$T/plain0.out" 2>"$T/plain0.err" </dev/null; then
	fail "tallyd --plaintext -l 0.0.0.0:0 ran"
fi
logged "$T/plain0.err" "--plaintext is for loopback only" ||
    fail "tallyd --plaintext beyond loopback: $(cat "$T/plain0.err")"
[ -s "$T/plain0.out" ] && fail "tallyd --plaintext beyond loopback printed a furl"

PBASE=$T/plain
STATS=$PBASE/stats
tls_start "$PBASE" --plaintext -l 127.0.0.1:0
[[ $FURL =~ ^tally://127\.0\.0\.1:[0-9]+/[a-z2-7]{16,64}$ ]] ||
    fail "tallyd --plaintext printed '$FURL'"
[ -e "$PBASE/tallyd.key" ] && fail "tallyd --plaintext made a key"
start_node pl -g "$FURL" -n plain-ok
wait_landed plain-ok 0
stop_node pl
stop_gatherer

note "TLS 1.3, pinned; plaintext on loopback only"
exit 0
