#!/bin/bash
# t/house.sh: the layout of the source tree keeps its rules (README, "Where
# things are"):
#   - each program's code in its own folder: src/lib (libtally), src/tallyd,
#     src/tally, munin; a folder's private headers are included from that
#     folder only, and libtally includes nothing of the programs;
#   - the tally tool and the munin plugin read through libtally's public
#     interface only: they include no header of src/lib; the tool links
#     libtally.so and holds none of its internal functions; the plugin,
#     linked with libtally's objects so that it loads neither OpenSSL nor
#     libev, calls nothing of libtally from its own objects but tally_*
#     functions of libtally.so's export list;
#   - no C file over 800 lines and no function over 120 lines in src/ and
#     munin/.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"

# Canonical, as pwd -P gives the folders below (distcheck names the source
# tree through "..").
S=$(cd "$TALLY_SRCDIR" && pwd -P) || fail "no source tree at $TALLY_SRCDIR"
B=$TALLY_BUILDDIR
bad=0
problem() {
	echo "house: $*" >&2
	bad=$((bad + 1))
}

# The quoted includes of a file, one per line.
includes() {
	sed -n 's/^#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$1"
}

# Which folder a header named by a quoted include lives in (first match in
# the order the compiler searches: the including file's folder, then -I).
header_home() {
	local from=$1 h=$2 d
	for d in "$(dirname "$from")" "$S/include" "$S/src/lib"; do
		if [ -f "$d/$h" ]; then
			(cd "$d" && pwd -P)
			return
		fi
	done
	echo "?"
}

for dir in src/lib src/tallyd src/tally munin; do
	home=$(cd "$S/$dir" && pwd -P)
	for f in "$S/$dir"/*.c "$S/$dir"/*.h; do
		[ -f "$f" ] || continue
		rel=${f#"$S"/}
		for h in $(includes "$f"); do
			where=$(header_home "$f" "$h")
			case $where in
			"$home" | "$S/include") ;;
			"$S/src/lib")
				# libtally's internals: only libtally and
				# tallyd, its counterpart on the wire.
				case $dir in
				src/tallyd) ;;
				*) problem "$rel includes $h, a header of" \
				    "libtally's internals (src/lib)" ;;
				esac ;;
			*) problem "$rel includes $h from $where" ;;
			esac
		done
	done
done

# Sizes: files and functions.  A function starts at a line that begins with
# its name and an opening parenthesis, as style(9) lays them out, and ends
# at the closing brace in column 0.
for f in "$S"/src/*/*.c "$S"/munin/*.c; do
	rel=${f#"$S"/}
	n=$(wc -l <"$f")
	[ "$n" -le 800 ] || problem "$rel is $n lines (800 at most)"
	awk -v max=120 -v rel="$rel" '
	/^[A-Za-z_][A-Za-z0-9_]*\(/ && !body { name = $0; start = FNR
		sub(/\(.*/, "", name) }
	/^\{/ && name != "" { body = 1 }
	/^\}/ && body { n = FNR - start + 1
		if (n > max) printf "%s:%d: %s() is %d lines (%d at most)\n",
		    rel, start, name, n, max
		body = 0; name = "" }' "$f" >"$T/fn" || fail "awk failed"
	while read -r line; do
		problem "$line"
	done <"$T/fn"
done

# What the tool and the plugin take from libtally: its public interface, from
# libtally.so, and none of its internals compiled in.
require_cmd nm readelf
nm --defined-only "$B"/.libs/libtallycore.a 2>/dev/null |
    awk '$2 == "T" {print $3}' | sort -u >"$T/internal"
[ -s "$T/internal" ] || fail "cannot list libtally's functions"
for prog in tally munin/tally_; do
	bin=$B/$prog
	[ -x "$bin" ] || fail "$prog is not built"
	[ "$(head -c 4 "$bin" | od -An -c | tr -d ' ')" = '177ELF' ] ||
	    problem "$prog is not an ELF binary (a libtool wrapper?)"
done
nm -D --undefined-only "$B/tally" 2>/dev/null | grep -q ' tally_' ||
    problem "tally does not take tally_* from libtally.so"
nm --defined-only "$B/tally" 2>/dev/null | awk '{print $3}' |
    sort -u | comm -12 - "$T/internal" >"$T/in"
while read -r sym; do
	problem "tally holds libtally's internal $sym"
done <"$T/in"
# The plugin's own objects call into libtally through exported tally_*
# functions only (libtally.so's list), and it loads no OpenSSL, no libev.
nm -D --defined-only "$B"/.libs/libtally.so 2>/dev/null |
    awk '{print $3}' | sort -u >"$T/exported"
[ -s "$T/exported" ] || fail "cannot list libtally.so's exports"
nm --undefined-only "$B"/munin/*.o 2>/dev/null | awk 'NF == 2 {print $2}' |
    sort -u | comm -12 - "$T/internal" | comm -23 - "$T/exported" >"$T/in"
while read -r sym; do
	problem "the plugin calls libtally's internal $sym"
done <"$T/in"
nm --undefined-only "$B"/munin/*.o 2>/dev/null | grep -q ' tally_reader_' ||
    problem "the plugin's objects call no tally_reader_*"
# Linked statically (configure's PLUGIN_LDFLAGS), it loads nothing.
readelf -d "$B/munin/tally_" >"$T/dynamic" 2>"$T/readelf.err" ||
    fail "readelf -d munin/tally_ failed: $(cat "$T/readelf.err")"
grep NEEDED "$T/dynamic" >"$T/needed"
grep -E 'libssl|libcrypto|libev|libtally' "$T/needed" >"$T/in"
while read -r line; do
	problem "the plugin loads what it does not use: $line"
done <"$T/in"

[ "$bad" -eq 0 ] || fail "$bad problem(s) in the source tree's layout"
echo "ok: programs in their folders, sizes within bounds"
