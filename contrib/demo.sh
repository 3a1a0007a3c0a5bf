#!/bin/bash
# contrib/demo.sh: tally end to end in a minute.
#
#	bash contrib/demo.sh [--no-build]
#
# As root on Debian bookworm (or with sudo): installs what is missing, builds
# tally, starts two simulated storage servers (tally-demo-node) writing into
# one temporary statsfile, shows what the real munin-run makes of it for a
# few graphs and what the stock mdb_dump sees, then stops the nodes cleanly.
# The temporary directory is kept so that you can look around.
#
# --no-build: use an existing build, in TALLY_BUILDDIR (default: the source
# tree); "make demo" runs this way.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -euo pipefail

PATH=$PATH:/usr/sbin:/sbin
export LC_ALL=C
srcdir=$(cd "$(dirname "$0")/.." && pwd)
builddir=${TALLY_BUILDDIR:-$srcdir}
build=1

usage() {
	echo "usage: bash contrib/demo.sh [--no-build]"
	echo "  --no-build  use the existing build in \$TALLY_BUILDDIR" \
	    "(default: the source tree)"
}

for arg; do
	case $arg in
	--no-build)	build=0 ;;
	-h|--help)	usage; exit 0 ;;
	*)		usage >&2; exit 1 ;;
	esac
done

if [ -t 1 ]; then
	bold=$'\033[1m' plain=$'\033[0m'
else
	bold= plain=
fi
section() {
	printf '\n%s== %s ==%s\n' "$bold" "$*" "$plain"
}

die() {
	printf 'demo.sh: %s\n' "$*" >&2
	exit 1
}

# show CMD...: print the command, then run it.
show() {
	printf '$ %s\n' "$*"
	"$@"
}

# ---- 1. packages -------------------------------------------------------

section "1. Packages"
if [ "$build" -eq 1 ]; then
	pkgs="build-essential autoconf automake libtool pkg-config liblmdb-dev
	    libev-dev lmdb-utils munin-node"
else
	pkgs="lmdb-utils munin-node"
fi
missing=
if command -v dpkg-query >/dev/null 2>&1; then
	for p in $pkgs; do
		st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
		[ "${st##* }" = installed ] || missing="$missing $p"
	done
else
	for c in mdb_dump munin-run; do
		command -v "$c" >/dev/null 2>&1 || missing="$missing $c"
	done
	[ -z "$missing" ] ||
	    die "not Debian: please install the equivalents of:$missing"
fi
if [ -n "$missing" ]; then
	SUDO=
	if [ "$(id -u)" -ne 0 ]; then
		command -v sudo >/dev/null 2>&1 ||
		    die "missing packages:$missing (run as root, or install them)"
		SUDO=sudo
	fi
	echo "installing:$missing"
	$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q
	# shellcheck disable=SC2086
	$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
	    --no-install-recommends $missing
else
	echo "all present:" $pkgs
fi

# ---- 2. build ----------------------------------------------------------

section "2. Build"
if [ "$build" -eq 1 ]; then
	cd "$srcdir"
	[ -x configure ] || show autoreconf -fi
	mkdir -p "$builddir"
	cd "$builddir"
	[ -f Makefile ] || show "$srcdir/configure" -q
	show make -j"$(nproc 2>/dev/null || echo 2)"
else
	echo "using the build in $builddir"
fi
DEMO=$builddir/contrib/tally-demo-node
PLUGIN=$builddir/munin/tally_
[ -x "$DEMO" ] || die "$DEMO is not built"
[ -x "$PLUGIN" ] || die "$PLUGIN is not built"

# ---- 3. two nodes ------------------------------------------------------

section "3. Two demo nodes, one statsfile"
DIR=$(mktemp -d "${TMPDIR:-/tmp}/tally-demo.XXXXXX")
chmod 0755 "$DIR"
STATS=$DIR/stats
mkdir "$STATS"
declare -A pids=()

stop_nodes() {
	local n

	for n in "${!pids[@]}"; do
		kill -TERM "${pids[$n]}" 2>/dev/null || true
	done
}
trap 'stop_nodes' EXIT

# wait_until SECONDS WHAT CMD...: poll CMD every 0.1 s, up to SECONDS.
wait_until() {
	local t=$1 what=$2 i

	shift 2
	for ((i = 0; i < t * 10; i++)); do
		"$@" && return 0
		sleep 0.1
	done
	echo "(gave up waiting for $what after ${t}s)"
	return 1
}

# (grep reads all its input, so that mdb_dump never dies of SIGPIPE)
has_node() {
	mdb_dump -p -s nodes "$STATS" 2>/dev/null | grep -x " $1" >/dev/null
}
has_stat() {
	mdb_dump -p -s stats "$STATS" 2>/dev/null | grep -x " $1" >/dev/null
}

# node NAME ID NICKNAME: start a node, logging to $DIR/NAME.log.
node() {
	printf '$ %s -s %s -n %s -N "%s" -i 1 -r 40 &\n' \
	    "${DEMO##*/}" "$STATS" "$2" "$3"
	"$DEMO" -s "$STATS" -n "$2" -N "$3" -i 1 -r 40 \
	    >"$DIR/$1.log" 2>&1 </dev/null &
	pids[$1]=$!
	wait_until 10 "$1 to start" grep -q '^ready' "$DIR/$1.log" ||
	    die "$1 did not start: $(cat "$DIR/$1.log")"
	echo "  $(grep -m 1 '^ready' "$DIR/$1.log") (pid ${pids[$1]}," \
	    "log $DIR/$1.log)"
}
node node1 storage-1 'storage one'
node node2 storage-2 'storage two'

echo "waiting for their first flush (every second) and first load sample..."
wait_until 20 "the first flush" \
    eval 'has_node storage-1 && has_node storage-2' || true
wait_until 10 "the load monitor" \
    eval 'has_stat storage-1/load_monitor.avg_load &&
	has_stat storage-2/load_monitor.avg_load' || true

# ---- 4. munin ----------------------------------------------------------

section "4. What munin sees"
mkdir "$DIR/plugins" "$DIR/plugin-conf.d"
: >"$DIR/munin-node.conf"
for sec in 'tally_*' 'tahoe_*'; do
	printf '[%s]\n' "$sec"
	[ "$(id -u)" -ne 0 ] || printf 'user root\n'
	printf 'env.statsfile %s\n\n' "$STATS"
done >"$DIR/plugin-conf.d/tally"
GRAPHS="tahoe_storage_allocated tahoe_storage_operations_get tally_load_avg"
for g in $GRAPHS tally_; do
	ln -sfn "$PLUGIN" "$DIR/plugins/$g"
done
echo "plugin links in $DIR/plugins -> $PLUGIN; their configuration:"
sed 's/^/  | /' "$DIR/plugin-conf.d/tally"

munin() {
	munin-run --config "$DIR/munin-node.conf" \
	    --servicedir "$DIR/plugins" --sconfdir "$DIR/plugin-conf.d" \
	    --ignore-systemd-properties "$@" </dev/null || true
}
for g in $GRAPHS; do
	echo
	printf '$ munin-run %s config\n' "$g"
	munin "$g" config
	printf '$ munin-run %s\n' "$g"
	munin "$g"
done
echo
printf '$ munin-run tally_ suggest   # graphs with data, to link as tally_NAME\n'
munin tally_ suggest

# ---- 5. the database ---------------------------------------------------

section "5. The statsfile, as the stock mdb_dump sees it"
printf '$ mdb_dump -p -a %s | head -n 100\n' "$STATS"
mdb_dump -p -a "$STATS" >"$DIR/dump.txt"
head -n 100 "$DIR/dump.txt"
total=$(wc -l <"$DIR/dump.txt")
[ "$total" -le 100 ] ||
    echo "... ($((total - 100)) more lines in $DIR/dump.txt)"

# ---- 6. stop -----------------------------------------------------------

section "6. Stopping the nodes (SIGTERM: a final flush, then exit)"
for n in node1 node2; do
	kill -TERM "${pids[$n]}"
	wait_until 10 "$n to stop" eval "! kill -0 ${pids[$n]} 2>/dev/null" ||
	    kill -KILL "${pids[$n]}"
	rc=0
	wait "${pids[$n]}" || rc=$?
	unset "pids[$n]"
	echo "  $n: $(grep -m 1 '^stopped' "$DIR/$n.log" ||
	    echo 'did not say stopped'), exit $rc"
done
trap - EXIT

section "Where things are"
cat <<EOF
  statsfile (LMDB):   $STATS
                      mdb_dump -p -a $STATS;  mdb_stat -a $STATS
  node logs:          $DIR/node1.log $DIR/node2.log
  munin plugin:       $PLUGIN, linked from $DIR/plugins
  plugin config:      $DIR/plugin-conf.d/tally
  run a graph again:  munin-run --ignore-systemd-properties \\
                        --servicedir $DIR/plugins \\
                        --sconfdir $DIR/plugin-conf.d tahoe_storage_allocated
EOF
[ ! -d /run/systemd/system ] || cat <<EOF
  note: munin-node runs with PrivateTmp=true under systemd, so a real
        statsfile must live outside /tmp (e.g. /var/lib/tally/stats);
        --ignore-systemd-properties lets munin-run see this demo's /tmp.
EOF
cat <<EOF
  all graphs:         statsfile=$STATS $PLUGIN list
  a node of your own: $DEMO -h
  tests:              make check  (in $builddir)
  clean up:           rm -rf $DIR
EOF
