#!/bin/bash
# t/bench-smoke.sh: make bench's gatherer figures still come out, on a
# small fleet (40 nodes x 20 metrics, both transports, loadgen on two
# threads).  No figure is judged: make bench prints figures, and tests
# never assert a timing.  What is checked is that every round completed,
# that tallyd and loadgen (with its threads, and tallyd's handshake
# threads) exited cleanly, which bench-gatherer.sh's own exit status
# says, and that each row the README quotes is printed.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"

require_cmd mdb_stat mdb_dump grep
require_tallyd
LOADGEN=$TALLY_BUILDDIR/t/loadgen
[ -x "$LOADGEN" ] || fail "$LOADGEN not built (make check builds it)"
setup

BENCH_CONNECTIONS=40 BENCH_METRICS=20 BENCH_REPEAT=2 BENCH_HANDSHAKES=5 \
    BENCH_LOADGEN_THREADS=2 TMPDIR=$T \
    bash "$TALLY_SRCDIR/t/bench-gatherer.sh" "$TALLYD" "$LOADGEN" \
    >"$T/bench.out" 2>"$T/bench.err"
rc=$?
[ "$rc" -eq 0 ] || fail "bench-gatherer.sh exited $rc: $(tail -n 5 "$T/bench.err")"
for row in \
    "gatherer round, 40 conns x 20 metrics, plaintext" \
    "gatherer round, 40 conns x 20 metrics, TLS 1.3" \
    "round, TLS vs plaintext, median of 2 each" \
    "steady round, connections up: tallyd CPU, TLS" \
    "idle connection, after the round" \
    "handshake, one connection at a time, TLS"; do
	grep -qF -- "$row" "$T/bench.out" ||
	    fail "no row '$row' in: $(cat "$T/bench.out")"
done
note "every round completed; tallyd and loadgen exited cleanly"
