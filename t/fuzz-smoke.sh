#!/bin/sh
# fuzz-smoke.sh BUILDDIR [SECONDS]: run each libFuzzer target of a build
# configured with --enable-fuzzing for SECONDS (60 by default), two at a
# time, each from a copy of its seed corpus (t/fuzz/<target>/, plus the
# reproducers t/fuzz/regress/<target>-*) with its dictionary
# (t/fuzz/<target>.dict).  The source tree is never written.
#
# Prints a line per target with its executions, and for a crash the
# sanitizer's or the invariant's summary, the reproducer's path (under
# BUILDDIR/fuzz-crashes/, never in the source tree) and its first bytes in
# hex.  Exits non-zero if any target crashed, timed out or did not run.
#
# Reproduce a crash with:  BUILDDIR/t/fuzz_<target> PATH
# Environment: FUZZ_JOBS (2) targets at once; FUZZ_TARGETS to pick some;
# TALLY_SRCDIR (the source tree, by default this script's parent).
set -u

usage() {
	echo "usage: fuzz-smoke.sh BUILDDIR [SECONDS]" >&2
	exit 2
}

[ $# -ge 1 ] && [ $# -le 2 ] || usage
builddir=$1
secs=${2:-60}
case $secs in
''|*[!0-9]*) usage ;;
esac
srcdir=${TALLY_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
jobs=${FUZZ_JOBS:-2}
targets=${FUZZ_TARGETS:-wire furl name record}
crashdir=$builddir/fuzz-crashes

for t in $targets; do
	if [ ! -x "$builddir/t/fuzz_$t" ]; then
		echo "fuzz-smoke: $builddir/t/fuzz_$t not built (configure" \
		    "with CC=clang --enable-fuzzing, then make fuzz-smoke)" >&2
		exit 1
	fi
	if [ ! -d "$srcdir/t/fuzz/$t" ] || [ ! -f "$srcdir/t/fuzz/$t.dict" ]
	then
		echo "fuzz-smoke: no corpus or dictionary for $t in" \
		    "$srcdir/t/fuzz" >&2
		exit 1
	fi
done

work=$(mktemp -d "${TMPDIR:-/tmp}/tally-fuzz.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT TERM
mkdir -p "$crashdir" || exit 1

# run TARGET: one target in the background; its log and status in $work.
# The reproducers of fixed crashes (t/fuzz/regress/TARGET-*) join the seeds,
# so that every run replays them first.
run() {
	mkdir "$work/$1" &&
	cp "$srcdir/t/fuzz/$1"/* "$work/$1"/ || return 1
	for r in "$srcdir/t/fuzz/regress/$1"-*; do
		[ -f "$r" ] && { cp "$r" "$work/$1"/ || return 1; }
	done
	(
		# A per-input limit well under the run, so that a slow input
		# is reported (as a timeout-* file) rather than eating it.
		"$builddir/t/fuzz_$1" \
		    -max_total_time="$secs" \
		    -timeout=25 \
		    -rss_limit_mb=2048 \
		    -dict="$srcdir/t/fuzz/$1.dict" \
		    -artifact_prefix="$crashdir/$1-" \
		    -print_final_stats=1 \
		    "$work/$1" >"$work/$1.log" 2>&1
		echo $? >"$work/$1.rc"
	) &
}

# report TARGET: its line; returns non-zero if it failed.
report() {
	log=$work/$1.log
	rc=$(cat "$work/$1.rc" 2>/dev/null || echo 1)
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" |
	    tail -n 1)
	execs=${execs:-?}
	if [ "$rc" -eq 0 ] && [ "$execs" != "?" ]; then
		printf 'fuzz_%s: %s executions in %s s, no crash\n' "$1" \
		    "$execs" "$secs"
		return 0
	fi
	file=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" |
	    tail -n 1)
	why=$(grep -E 'invariant failed|runtime error|^SUMMARY|ERROR: libFuzzer' \
	    "$log" | head -n 3)
	printf 'fuzz_%s: CRASH after %s executions (exit %s)\n' "$1" \
	    "$execs" "$rc"
	[ -n "$why" ] && printf '%s\n' "$why" | sed 's/^/  /'
	if [ -n "$file" ] && [ -f "$file" ]; then
		printf '  reproducer: %s (%s bytes)\n' "$file" \
		    "$(wc -c <"$file" | tr -d ' ')"
		printf '  hex: %s\n' "$(od -An -v -tx1 "$file" | head -n 4 |
		    tr -s ' \n' ' ' | sed 's/^ //; s/ $//')"
		printf '  rerun: %s/t/fuzz_%s %s\n' "$builddir" "$1" "$file"
	else
		echo "  no reproducer written; the end of the log:"
		tail -n 20 "$log" | sed 's/^/  /'
	fi
	return 1
}

failed=0
set -- $targets
while [ $# -gt 0 ]; do
	batch=
	n=0
	while [ $# -gt 0 ] && [ "$n" -lt "$jobs" ]; do
		run "$1" || { echo "fuzz-smoke: cannot set up $1" >&2; exit 1; }
		batch="$batch $1"
		n=$((n + 1))
		shift
	done
	wait
	for t in $batch; do
		report "$t" || failed=$((failed + 1))
	done
done

if [ "$failed" -gt 0 ]; then
	echo "fuzz-smoke: $failed target(s) crashed; reproducers in $crashdir"
	exit 1
fi
echo "fuzz-smoke: all targets ran ${secs} s without a crash"
