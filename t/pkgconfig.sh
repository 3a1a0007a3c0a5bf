#!/bin/bash
# t/pkgconfig.sh: a program outside the tree builds against libtally the
# way the README says, with `pkg-config --cflags --libs tally`, both against
# the shared library and, with `pkg-config --static`, against libtally.a
# alone; each binary then counts into a statsfile, and mdb_dump sees it.
# Then the example reader of libtally(3), as the page prints it, builds the
# same way and reads those counts back through tally_reader_*.
# tally.pc is the one this build generated, with its libdir and includedir
# pointed at the build, as an installed copy points at PREFIX.
#
# Environment (from make check): TALLY_CC, TALLY_CFLAGS, TALLY_LDFLAGS, the
# compiler and flags of this build, so that a sanitised build links its
# runtime too.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"

require_cmd pkg-config mdb_dump
CC=${TALLY_CC:-cc}
read -r -a CFLAGS <<<"${TALLY_CFLAGS:-}"
read -r -a LDFLAGS <<<"${TALLY_LDFLAGS:-}"
[ -f "$TALLY_BUILDDIR/tally.pc" ] || fail "$TALLY_BUILDDIR/tally.pc not built"
[ -f "$TALLY_BUILDDIR/.libs/libtally.a" ] ||
    fail "$TALLY_BUILDDIR/.libs/libtally.a not built"
setup

cat >"$T/app.c" <<'EOF'
#include <stdio.h>
#include <tally.h>

int
main(int argc, char **argv)
{
	tally_options	 opt = { 0 };
	tally_provider	*p;
	int		 rc;

	if (argc != 3)
		return 2;
	opt.node_id = argv[1];
	opt.statsfile = argv[2];
	opt.flags = TALLY_F_NO_MONITORS;
	if ((rc = tally_provider_new(&p, &opt)) != 0) {
		fprintf(stderr, "app: %s\n", tally_strerror(rc));
		return 1;
	}
	tally_count(p, "app.linked", 7);
	tally_count(p, "x", 3);
	if ((rc = tally_provider_start(p)) != 0 ||
	    (rc = tally_provider_stop(p)) != 0) {
		fprintf(stderr, "app: %s\n", tally_provider_errmsg(p));
		tally_provider_free(p);
		return 1;
	}
	tally_provider_free(p);
	return 0;
}
EOF

# pc ARGS...: pkg-config on this build's tally.pc, libtally from $LIBDIR.
pc() {
	mkdir -p "$T/pc" &&
	    sed -e "s|^libdir=.*|libdir=$LIBDIR|" \
		-e "s|^includedir=.*|includedir=$TALLY_SRCDIR/include|" \
		"$TALLY_BUILDDIR/tally.pc" >"$T/pc/tally.pc" &&
	    PKG_CONFIG_PATH=$T/pc pkg-config "$@" tally
}

# build_and_run KIND ID: link app-KIND and count into $STATS as node ID.
build_and_run() {
	local kind=$1 id=$2 flags cflags libs

	[ "$kind" = static ] && flags=--static || flags=
	cflags=$(pc --cflags) || fail "pkg-config --cflags tally failed"
	libs=$(pc $flags --libs) || fail "pkg-config $flags --libs tally failed"
	note "$kind: $CC app.c $cflags $libs"
	# shellcheck disable=SC2086
	"$CC" "${CFLAGS[@]}" $cflags -o "$T/app-$kind" "$T/app.c" \
	    "${LDFLAGS[@]}" $libs >"$T/cc-$kind.err" 2>&1 ||
	    fail "$kind link failed: $(cat "$T/cc-$kind.err")"
	LD_LIBRARY_PATH=$LIBDIR "$T/app-$kind" "$id" "$STATS" \
	    >"$T/app-$kind.out" 2>&1 ||
	    fail "app-$kind failed: $(cat "$T/app-$kind.out")"
}

# Shared: libdir is the build's .libs, where libtool put libtally.so.
LIBDIR=$TALLY_BUILDDIR/.libs
build_and_run shared shared-app
# The binary uses the shared library, not a static copy.
ldd "$T/app-shared" | grep -q 'libtally\.so' ||
    fail "app-shared does not use libtally.so: $(ldd "$T/app-shared")"

# Static: a libdir holding libtally.a and nothing else, so that -ltally
# can only mean the archive and every dependency must come from tally.pc.
LIBDIR=$T/lib
mkdir "$LIBDIR" && cp "$TALLY_BUILDDIR/.libs/libtally.a" "$LIBDIR/" ||
    fail "cannot copy libtally.a"
build_and_run static static-app
! ldd "$T/app-static" | grep -q 'libtally' ||
    fail "app-static still needs a shared libtally"

dump=$(mdb_dump -p -s counters "$STATS") || fail "mdb_dump failed"
for id in shared-app static-app; do
	printf '%s\n' "$dump" | grep -A1 -x " $id/app.linked" |
	    grep -qx ' 7' || fail "no $id/app.linked = 7 in: $dump"
done
note "both links count into the statsfile"

# libtally(3)'s reader example: the literal block after "This program
# prints every node's counter", with mdoc's \e turned back into \.
man=$TALLY_SRCDIR/src/lib/libtally.3
awk '/^This program prints every node.s counter/ { want = 1; next }
	want && /^\.Bd/ { on = 1; next }
	on && /^\.Ed/ { exit }
	on { gsub(/\\e/, "\\"); print }' "$man" >"$T/reader.c"
grep -q 'tally_reader_open' "$T/reader.c" ||
    fail "no reader example found in $man"
LIBDIR=$TALLY_BUILDDIR/.libs
cflags=$(pc --cflags) && libs=$(pc --libs) || fail "pkg-config failed"
# shellcheck disable=SC2086
"$CC" "${CFLAGS[@]}" $cflags -Wall -Wextra -Werror -o "$T/reader" \
    "$T/reader.c" "${LDFLAGS[@]}" $libs >"$T/cc-reader.err" 2>&1 ||
    fail "libtally(3)'s reader example does not build: $(cat "$T/cc-reader.err")"
LD_LIBRARY_PATH=$LIBDIR "$T/reader" "$STATS" >"$T/reader.out" 2>&1 ||
    fail "libtally(3)'s reader example failed: $(cat "$T/reader.out")"
printf 'shared-app 3\nstatic-app 3\n' | cmp -s - "$T/reader.out" ||
    fail "libtally(3)'s reader example printed: $(cat "$T/reader.out")"
note "libtally(3)'s reader example reads both counts back"
exit 0
