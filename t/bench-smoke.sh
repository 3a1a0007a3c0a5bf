#!/bin/bash
# t/bench-smoke.sh: make bench's gatherer figures still come out, on a
# small fleet (40 nodes x 20 metrics, both transports, loadgen on two
# threads).  No figure is judged: make bench prints figures, and tests
# never assert a timing.  What is checked is what bench-gatherer.sh
# promises of every phase: it ran on its whole fleet, every round
# completed, and tallyd and loadgen (with its threads, and tallyd's
# handshake threads) exited cleanly.  bench-gatherer.sh's exit status says
# so; its kept files are then read again here, from both ends: no loadgen
# lost a connection, tallyd logged each connecting, and timed none out.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"

require_cmd mdb_stat mdb_dump grep
require_tallyd
LOADGEN=$TALLY_BUILDDIR/t/loadgen
[ -x "$LOADGEN" ] || fail "$LOADGEN not built (make check builds it)"
setup

# -i 2 for the steady rounds (bench-gatherer.sh then allows a poll 4 s):
# ample for 40 small snapshots even under the sanitizers on a busy
# machine, and the steady phase's 7 rounds in under 15 s.
BENCH_CONNECTIONS=40 BENCH_METRICS=20 BENCH_REPEAT=2 BENCH_HANDSHAKES=5 \
    BENCH_RESTART_FLEETS=40 BENCH_RESTART_METRICS=20 \
    BENCH_LOADGEN_THREADS=2 BENCH_STEADY_INTERVAL=2 BENCH_KEEP=1 TMPDIR=$T \
    bash "$TALLY_SRCDIR/t/bench-gatherer.sh" "$TALLYD" "$LOADGEN" \
    >"$T/bench.out" 2>"$T/bench.err"
rc=$?
[ "$rc" -eq 0 ] || fail "bench-gatherer.sh exited $rc: $(tail -n 12 "$T/bench.err")"
for row in \
    "round, 40 conns x 20 metrics, plain" \
    "round, 40 conns x 20 metrics, TLS 1.3" \
    "round, TLS vs plaintext, median of 2 each" \
    "steady round, connections up: tallyd CPU, TLS" \
    "idle connection, after the round" \
    "handshake, one connection at a time, TLS" \
    "first round after a restart, 40 x 20, TLS" \
    "resumed TLS handshakes: 40 of 40" \
    "the same, full handshakes (no ticket keys)" \
    "fleet: each of the 16 phases above ran on its whole fleet"; do
	grep -qF -- "$row" "$T/bench.out" ||
	    fail "no row '$row' in: $(cat "$T/bench.out")"
done

# The same property, read from what the processes wrote.
K=$(sed -n 's/^bench-gatherer: kept //p' "$T/bench.err")
[ -n "$K" ] && [ -d "$K" ] || fail "bench-gatherer.sh kept no directory"
phases=0
for out in "$K"/*.loadgen.out; do
	phase=${out##*/}
	phase=${phase%.loadgen.out}
	phases=$((phases + 1))
	! grep -q '^lost ' "$out" ||
	    fail "$phase: loadgen lost connections: $(grep -c '^lost ' "$out")"
	done_line=$(grep '^done ' "$out") || fail "$phase: loadgen printed no done line"
	set -- $done_line
	n=$3 twice=$3
	# A restart phase's fleet connects twice: before and after it.
	case $phase in restart-*) twice=$((2 * n)) ;; esac
	case " $done_line " in
	*" connected $twice handshaken $twice "*" errors 0 closed 0 "*) ;;
	*) fail "$phase: loadgen's fleet was not whole: $done_line" ;;
	esac
	# tallyd's end: no timeout of its own (loadgen's stop, which closes
	# every connection, may add resets, but never a timeout).
	other=$(grep -E '^tallyd: .*(unanswered after|idle for|within) [0-9.]+ s$' \
	    "$K/$phase.err")
	[ -z "$other" ] || fail "$phase: tallyd timed connections out: $other"
	[ "$(grep -c '^tallyd: connected node ' "$K/$phase.err")" -eq "$n" ] ||
	    fail "$phase: tallyd did not log $n connections"
done
# two rounds of each transport, then steady, small, handshakes and restart
# on each
[ "$phases" -eq 13 ] || fail "$phases loadgen runs kept, not 13"
note "every phase ran on its whole fleet; tallyd and loadgen exited cleanly"
