#!/bin/bash
# t/quickstart.sh: the README's quick start, "bash contrib/demo.sh" then
# "bash .ci/run" (in either order, each twice), needs the demo to leave the
# source tree unconfigured and to build where .ci/run does not remove.
#
# In a scratch copy of the source, contrib/demo.sh --build-only, twice:
# configure runs for real, in _demo/, and only the first time; no file
# appears in the tree outside _demo/ (no config.status, Makefile, ...);
# _demo/ is not a folder .ci/run removes.  Then a copy configured in place
# by hand (its config.status) is built in place, with a word on make
# distclean, and a TALLY_BUILDDIR beside it is refused with that word.
# make is a stub that notes where it ran: a build takes longer than this
# test should, and make check has just done one; configure's own probes
# get the real make through $MAKE.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"

require_cmd tar make
setup

# The source without history, builds (.ci/run's, the demo's, make
# distcheck's, any folder holding a configured build) or an in-place
# build's products: what a fresh clone has once autoreconf has run.
SRC=$T/src
mkdir "$SRC" || fail "mkdir $SRC"
excl=(--exclude=./.git --exclude=./_ci --exclude=./_demo
    --exclude='./tally-[0-9]*' --exclude=./gatherer
    --exclude=./config.status --exclude=./config.log --exclude=./Makefile
    --exclude=./libtool --exclude=./tally.pc --exclude='*.o'
    --exclude='*.lo' --exclude=.libs --exclude=.deps)
while read -r d; do
	excl+=("--exclude=./$d")
done < <(cd "$TALLY_SRCDIR" && find . -mindepth 2 -maxdepth 3 \
    -name config.status | cut -d / -f 2 | sort -u)
tar -C "$TALLY_SRCDIR" "${excl[@]}" -cf - . | tar -C "$SRC" -xf - ||
    fail "copying $TALLY_SRCDIR to $SRC"
# make distcheck's source tree is read-only, and so is the copy.
chmod -R u+w "$SRC"
[ -x "$SRC/configure" ] || fail "no configure in $TALLY_SRCDIR"
[ -f "$SRC/contrib/demo.sh" ] || fail "no contrib/demo.sh in $TALLY_SRCDIR"

mkdir "$T/bin" || fail "mkdir $T/bin"
# shellcheck disable=SC2016 # expanded by the stub
printf '#!/bin/sh\necho "$PWD $*" >>"$STUB_MAKE_LOG"\n' >"$T/bin/make"
chmod +x "$T/bin/make"
MAKE_LOG=$T/make.log
: >"$MAKE_LOG"
REAL_MAKE=$(command -v make)

# demo OUT [VAR=VALUE...]: contrib/demo.sh --build-only --no-install in the
# copy, output in $T/OUT; its exit status.  Nothing of make check's
# environment (TALLY_BUILDDIR, its make's flags and jobserver) reaches it.
demo() {
	local out=$1

	shift
	env -u TALLY_BUILDDIR -u MAKEFLAGS -u MFLAGS -u MAKELEVEL \
	    PATH="$T/bin:$PATH" MAKE="$REAL_MAKE" STUB_MAKE_LOG="$MAKE_LOG" "$@" \
	    timeout -k 5 $((WAIT_TIMEOUT * 15)) \
	    bash "$SRC/contrib/demo.sh" --build-only --no-install \
	    >"$T/$out" 2>&1 </dev/null
}

# tree_files: the copy's files and folders outside _demo/, one a line.
tree_files() {
	(cd "$SRC" && find . -path ./_demo -prune -o -print) | sort
}

# last_make: the folder the stub make last ran in.
last_make() {
	tail -n 1 "$MAKE_LOG" | cut -d ' ' -f 1
}

tree_files >"$T/before"

# ---- twice in a fresh tree ------------------------------------------------

demo demo1.out || fail "demo.sh --build-only: exit $?: $(cat "$T/demo1.out")"
[ -f "$SRC/_demo/config.status" ] && [ -f "$SRC/_demo/Makefile" ] ||
    fail "demo.sh did not configure in _demo/: $(cat "$T/demo1.out")"
[ "$(wc -l <"$MAKE_LOG")" -eq 1 ] && [ "$(last_make)" = "$SRC/_demo" ] ||
    fail "demo.sh ran make in: $(cat "$MAKE_LOG")"
tree_files >"$T/after"
diff "$T/before" "$T/after" >"$T/diff" ||
    fail "demo.sh left files in the source tree: $(cat "$T/diff")"

# .ci/run removes and rebuilds its folders: the demo's is none of them.
[ -f "$SRC/.ci/run" ] || fail "no .ci/run in $TALLY_SRCDIR"
sed -n 's/.*rm -rf \([^ ;&|]*\).*/\1/p' "$SRC/.ci/run" >"$T/ci-dirs"
[ -s "$T/ci-dirs" ] || fail ".ci/run removes no folder: has it changed?"
built=$(last_make)
built=${built#"$SRC"/}/
while read -r d; do
	d=${d#./}
	case $built in
	"${d%/}"/*) fail "the demo builds in $built, in $d, which .ci/run removes" ;;
	esac
done <"$T/ci-dirs"

demo demo2.out || fail "demo.sh a second time: exit $?: $(cat "$T/demo2.out")"
grep -q '/configure' "$T/demo2.out" &&
    fail "demo.sh configured again: $(cat "$T/demo2.out")"
[ "$(wc -l <"$MAKE_LOG")" -eq 2 ] && [ "$(last_make)" = "$SRC/_demo" ] ||
    fail "demo.sh ran make the second time in: $(cat "$MAKE_LOG")"
tree_files >"$T/after"
diff "$T/before" "$T/after" >"$T/diff" ||
    fail "demo.sh left files in the source tree: $(cat "$T/diff")"
note "demo.sh configured in _demo/ once, left the tree unconfigured"

# ---- a tree configured in place by hand ----------------------------------

# Stand-ins for its config.status and Makefile: the demo looks for the
# first (configure refuses to build out of tree beside one), make reads the
# second.
printf '#!/bin/sh\nexit 0\n' >"$SRC/config.status"
: >"$SRC/Makefile"
demo inplace.out || fail "demo.sh in a tree configured in place: exit $?:" \
    "$(cat "$T/inplace.out")"
grep -q '/configure' "$T/inplace.out" &&
    fail "demo.sh configured a tree configured in place: $(cat "$T/inplace.out")"
[ "$(last_make)" = "$SRC" ] ||
    fail "demo.sh in a tree configured in place ran make in: $(cat "$MAKE_LOG")"
grep -q 'make distclean' "$T/inplace.out" ||
    fail "demo.sh does not say what out-of-tree builds need: $(cat "$T/inplace.out")"

demo beside.out TALLY_BUILDDIR="$T/elsewhere" &&
    fail "demo.sh built in $T/elsewhere beside an in-place configuration"
grep -q 'make distclean' "$T/beside.out" ||
    fail "demo.sh refused TALLY_BUILDDIR without saying why: $(cat "$T/beside.out")"
[ -e "$T/elsewhere" ] &&
    fail "demo.sh made $T/elsewhere beside an in-place configuration"
note "a tree configured in place: built in place; TALLY_BUILDDIR beside it refused"
exit 0
