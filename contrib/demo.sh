#!/bin/bash
# contrib/demo.sh: tally end to end in a minute.
#
#	bash contrib/demo.sh [--no-build | --build-only] [--no-install]
#
# As root on Debian bookworm (or with sudo): installs what is missing, builds
# tally out of the source tree in _demo/, starts a gatherer (tallyd) on a
# temporary base directory, two simulated storage servers (tally-demo-node)
# in local mode writing straight into the gatherer's statsfile and a third in
# remote mode, which dials the gatherer's furl and answers its polls; then
# shows the furl and the gatherer's log, what the real munin-run makes of the
# three nodes for a few graphs, what the munin master stores and draws from
# half a minute of samples, and what the stock mdb_dump sees, and stops
# everything cleanly.  The temporary directory is kept so that you can look
# around.
#
# The build never configures the source tree itself: .ci/run (which owns
# _ci/) and any other out-of-tree build can follow it.  A source tree that
# was configured in place by hand (./config.status) is built in place.
#
# --no-build: use an existing build, in TALLY_BUILDDIR (default: _demo/, or
# the source tree if configured in place); "make demo" runs this way.
# --build-only: install what is missing and build, then stop.
# --no-install: report missing packages instead of installing them.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -euo pipefail

PATH=$PATH:/usr/sbin:/sbin
export LC_ALL=C
srcdir=$(cd "$(dirname "$0")/.." && pwd)
build=1
run=1
install=1

usage() {
	echo "usage: bash contrib/demo.sh [--no-build | --build-only] [--no-install]"
	echo "  --no-build    use the existing build in \$TALLY_BUILDDIR" \
	    "(default: _demo/)"
	echo "  --build-only  install what is missing and build in _demo/" \
	    "(or \$TALLY_BUILDDIR), then stop"
	echo "  --no-install  report missing packages, do not install them"
}

for arg; do
	case $arg in
	--no-build)	build=0 ;;
	--build-only)	run=0 ;;
	--no-install)	install=0 ;;
	-h|--help)	usage; exit 0 ;;
	*)		usage >&2; exit 1 ;;
	esac
done
[ "$build" -eq 1 ] || [ "$run" -eq 1 ] || {
	usage >&2
	exit 1
}

# Where to build: _demo/, a folder .ci/run leaves alone (it removes and
# rebuilds _ci/).  configure refuses to build out of tree beside an
# in-place configuration, so a tree configured in place is built in place.
inplace=0
if [ -n "${TALLY_BUILDDIR:-}" ]; then
	builddir=$TALLY_BUILDDIR
elif [ -f "$srcdir/config.status" ]; then
	builddir=$srcdir
	inplace=1
else
	builddir=$srcdir/_demo
fi

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
pkgs=
cmds=
if [ "$build" -eq 1 ]; then
	pkgs="build-essential autoconf automake libtool pkg-config liblmdb-dev
	    libev-dev libssl-dev libmicrohttpd-dev zlib1g-dev"
	cmds="cc make pkg-config"
	[ -x "$srcdir/configure" ] || cmds="$cmds autoreconf"
fi
if [ "$run" -eq 1 ]; then
	pkgs="$pkgs lmdb-utils munin-node munin rrdtool curl"
	cmds="$cmds mdb_dump munin-run"
fi
missing=
if command -v dpkg-query >/dev/null 2>&1; then
	for p in $pkgs; do
		st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
		[ "${st##* }" = installed ] || missing="$missing $p"
	done
else
	for c in $cmds; do
		command -v "$c" >/dev/null 2>&1 || missing="$missing $c"
	done
	[ -z "$missing" ] ||
	    die "not Debian: please install the equivalents of:$missing"
fi
if [ -z "$missing" ]; then
	echo "all present:" $pkgs
elif [ "$install" -eq 0 ]; then
	echo "missing, not installed (--no-install):$missing"
else
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
fi

# ---- 2. build ----------------------------------------------------------

section "2. Build"
case $builddir in
/*)	;;
*)	builddir=$PWD/$builddir ;;
esac
if [ "$build" -eq 1 ]; then
	cd "$srcdir"
	if [ "$inplace" -eq 1 ]; then
		echo "The source tree is configured in place ($srcdir/config.status):"
		echo "building there.  Out-of-tree builds, .ci/run's included, need"
		echo "'make distclean' in $srcdir first; this script then builds in"
		echo "$srcdir/_demo."
	elif [ -f "$srcdir/config.status" ] && ! { [ -d "$builddir" ] &&
	    [ "$(cd "$builddir" && pwd)" = "$srcdir" ]; }; then
		die "$srcdir is configured in place (config.status), so" \
		    "configure will not build in $builddir: run 'make distclean'" \
		    "in $srcdir first, or unset TALLY_BUILDDIR to build in place"
	fi
	[ -x configure ] || show autoreconf -fi
	mkdir -p "$builddir"
	builddir=$(cd "$builddir" && pwd)
	cd "$builddir"
	if [ "$inplace" -eq 1 ]; then
		[ -f Makefile ] || show ./config.status
	else
		[ -f Makefile ] || show "$srcdir/configure" -q
	fi
	show make -j"$(nproc 2>/dev/null || echo 2)"
else
	echo "using the build in $builddir"
fi
DEMO=$builddir/contrib/tally-demo-node
PLUGIN=$builddir/munin/tally_
TALLYD=$builddir/tallyd
if [ "$run" -eq 0 ]; then
	echo "built in $builddir; make demo there runs the demo on this build"
	exit 0
fi
for f in "$DEMO" "$PLUGIN" "$TALLYD"; do
	[ -x "$f" ] || die "$f is not built (set TALLY_BUILDDIR to a build," \
	    "or run without --no-build)"
done

# ---- 3. the gatherer ---------------------------------------------------

section "3. A gatherer (tallyd)"
DIR=$(mktemp -d "${TMPDIR:-/tmp}/tally-demo.XXXXXX")
chmod 0755 "$DIR"
BASE=$DIR/gatherer
STATS=$BASE/stats
declare -A pids=()

stop_all() {
	local n

	for n in "${!pids[@]}"; do
		kill -TERM "${pids[$n]}" 2>/dev/null || true
	done
}
trap 'stop_all' EXIT

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

# stop NAME: SIGTERM (a clean stop), up to 10 s, then the exit status.
stop() {
	local rc=0

	kill -TERM "${pids[$1]}"
	wait_until 10 "$1 to stop" eval "! kill -0 ${pids[$1]} 2>/dev/null" ||
	    kill -KILL "${pids[$1]}"
	wait "${pids[$1]}" || rc=$?
	unset "pids[$1]"
	return "$rc"
}

# tallyd prints its furl on stdout once it listens.
furl_printed() {
	[ "$(wc -l <"$DIR/tallyd.out")" -ge 1 ] &&
	    grep -qE '^tally(\+tls)?://' "$DIR/tallyd.out"
}

printf '$ %s -i 1 --http 127.0.0.1:0 %s &    # poll every second (default: 60)\n' \
    "${TALLYD##*/}" "$BASE"
"$TALLYD" -i 1 --http 127.0.0.1:0 "$BASE" >"$DIR/tallyd.out" \
    2>"$DIR/tallyd.log" </dev/null &
pids[tallyd]=$!
wait_until 10 "tallyd's furl" furl_printed ||
    die "tallyd did not start: $(cat "$DIR/tallyd.log")"
FURL=$(grep -m 1 -E '^tally(\+tls)?://' "$DIR/tallyd.out")
echo "  pid ${pids[tallyd]}, log $DIR/tallyd.log; it printed its furl:"
echo "  $FURL"
echo "The furl is a capability: whoever holds it may send stats.  tallyd keeps"
echo "it, with its port, in $BASE/stats_gatherer.furl for later runs."
show ls -l "$BASE"

# ---- 4. three nodes ----------------------------------------------------

section "4. Three demo nodes: two local, one remote"
# (grep reads all its input, so that mdb_dump never dies of SIGPIPE)
has_node() {
	mdb_dump -p -s nodes "$STATS" 2>/dev/null | grep -x " $1" >/dev/null
}
has_stat() {
	mdb_dump -p -s stats "$STATS" 2>/dev/null | grep -x " $1" >/dev/null
}

# node NAME ID NICKNAME MODE_ARG...: start a node, logging to $DIR/NAME.log.
node() {
	local name=$1 id=$2 nick=$3

	shift 3
	printf '$ %s %s -n %s -N "%s" -r 40 &\n' "${DEMO##*/}" "$*" "$id" \
	    "$nick"
	"$DEMO" "$@" -n "$id" -N "$nick" -r 40 \
	    >"$DIR/$name.log" 2>&1 </dev/null &
	pids[$name]=$!
	wait_until 10 "$name to start" grep -q '^ready' "$DIR/$name.log" ||
	    die "$name did not start: $(cat "$DIR/$name.log")"
	echo "  $(grep -m 1 '^ready' "$DIR/$name.log") (pid ${pids[$name]}," \
	    "log $DIR/$name.log)"
}
echo "Local mode: a node writes its own slot of the statsfile (here, every"
echo "second), so these two share the gatherer's statsfile:"
node node1 storage-1 'storage one' -s "$STATS" -i 1
node node2 storage-2 'storage two' -s "$STATS" -i 1
echo "Remote mode: the node dials the furl, the gatherer polls it over that"
echo "connection and writes its slot (the node may be behind NAT).  It has a"
echo "key of its own (made on first use, 0600), which the gatherer binds to its"
echo "node id on first contact, as ssh's known_hosts does:"
node node3 storage-3 'storage three' -g "$FURL" -k "$DIR/storage-3.key"

echo "waiting for their first snapshots and first load samples..."
wait_until 20 "the first snapshots" \
    eval 'has_node storage-1 && has_node storage-2 && has_node storage-3' ||
    true
wait_until 10 "the load monitor" \
    eval 'has_stat storage-1/load_monitor.avg_load &&
	has_stat storage-2/load_monitor.avg_load &&
	has_stat storage-3/load_monitor.avg_load' || true

echo
printf '$ cat %s    # a line per connection (-v: per snapshot too)\n' \
    "$DIR/tallyd.log"
sed 's/^/  | /' "$DIR/tallyd.log"
printf '$ cat %s\n' "$DIR/node3.log"
sed 's/^/  | /' "$DIR/node3.log"

# tallyd --http: what Prometheus scrapes, and the fleet at a glance.
HTTP=$(sed -n 's/^tallyd: http: listening on //p' "$DIR/tallyd.log" |
    head -n 1)
if [ -n "$HTTP" ] && command -v curl >/dev/null 2>&1; then
	echo
	echo "tallyd --http serves Prometheus (/metrics), a status page (/) and"
	echo "/nodes.json at $HTTP while it runs:"
	printf '$ curl -s %smetrics | grep ^tally_storage_server_get_total\n' \
	    "$HTTP"
	curl -s --max-time 10 "${HTTP}metrics" |
	    grep '^tally_storage_server_get_total' | sed 's/^/  | /' || true
	printf '$ curl -s %snodes.json\n' "$HTTP"
	curl -s --max-time 10 "${HTTP}nodes.json" | cut -c 1-160 |
	    sed 's/^/  | /' || true
fi

# munin_draw STATSFILE PLUGIN DIR SAMPLES: serve tally_all for STATSFILE from
# a real munin-node on a free loopback port, and run the munin master from
# DIR/master/munin.conf (as user munin when root: munin refuses root):
# munin-update SAMPLES times, 2 s apart (a dot each on fd 3), then
# munin-graph for the span sampled, of each graph in MUNIN_GRAPHS.  Sets
# MUNIN_NODE_PID (also in pids, for stop_all), MUNIN_SAMPLES (how many
# were taken), MUNIN_KNOWN ("K of N": of tally_load_avg's N lines, K hold
# two known values or more) and MUNIN_PNG (its graph).  Call it directly,
# not in $(...).
munin_draw() {
	local stats=$1 plugin=$2 dir=$3 samples=$4 port i g as=() libdir
	local t0 now next first last f n known span

	mkdir -p "$dir/node/plugins" "$dir/node/plugin-conf.d" \
	    "$dir/master/db" "$dir/master/www" "$dir/master/log" \
	    "$dir/master/run" "$dir/master/cache" || return 1
	ln -sfn "$plugin" "$dir/node/plugins/tally_all"
	{
		echo '[tally_*]'
		[ "$(id -u)" -eq 0 ] && echo 'user root'
		echo "env.statsfile $stats"
	} >"$dir/node/plugin-conf.d/tally"
	port=$(perl -MIO::Socket::INET -e 'print IO::Socket::INET->new(
	    LocalAddr => "127.0.0.1", LocalPort => 0, Listen => 1)->sockport')
	{
		echo "log_file $dir/node/munin-node.log"
		echo "pid_file $dir/node/munin-node.pid"
		echo 'background 0'
		echo 'setsid 0'
		[ "$(id -u)" -eq 0 ] && printf 'user root\ngroup root\n'
		echo 'host_name localhost'
		echo 'host 127.0.0.1'
		echo "port $port"
		echo 'allow ^127\.0\.0\.1$'
	} >"$dir/node/munin-node.conf"
	# munin-node has no option for its plugin directories: they are
	# under MUNIN_CONFDIR, which this sets before running it.
	perl -MMunin::Common::Defaults -e '
		$Munin::Common::Defaults::MUNIN_CONFDIR = shift;
		do "/usr/sbin/munin-node"; die $@ if $@; exit main();' \
	    "$dir/node" --config "$dir/node/munin-node.conf" \
	    >"$dir/node/munin-node.out" 2>&1 </dev/null &
	MUNIN_NODE_PID=$!
	pids[munin-node]=$MUNIN_NODE_PID
	for ((i = 0; i < 100; i++)); do
		timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" &&
		    head -n 1 <&3' _ "$port" 2>/dev/null | grep -q '^# munin node' &&
		    break
		kill -0 "$MUNIN_NODE_PID" 2>/dev/null || return 1
		sleep 0.1
	done
	# munin's RRDs keep a value per 5 minutes by default, so a graph
	# needs a quarter of an hour of samples before it shows a line: this
	# master keeps one per 2 s for an hour (update_rate, graph_data_size),
	# and 5-minute averages for two days, which its day to year graphs
	# use (a day graph has 300 s a pixel).  So the demo draws the span it
	# sampled, as munin's zoom does (a "pinpoint" graph), 600 pixels wide
	# for its long title.
	cat >"$dir/master/munin.conf" <<EOC
dbdir $dir/master/db
htmldir $dir/master/www
logdir $dir/master/log
rundir $dir/master/run
tmpldir /etc/munin/templates
staticdir /etc/munin/static
update_rate 2
graph_data_size custom 1h, 5m for 2d
graph_width 600

[localhost]
    address 127.0.0.1
    port $port
EOC
	if [ "$(id -u)" -eq 0 ]; then
		chmod 0755 "$dir"
		chown -R munin: "$dir/master"
		as=(setpriv --reuid=munin --regid=munin --init-groups)
	fi
	# rrdtool's fonts want a writable cache (fontconfig complains
	# otherwise, e.g. as user munin with root's HOME).
	as+=(env HOME="$dir/master" XDG_CACHE_HOME="$dir/master/cache")
	libdir=$(perl -MMunin::Common::Defaults -e \
	    'print $Munin::Common::Defaults::MUNIN_LIBDIR') || return 1
	t0=${EPOCHREALTIME/[.,]/}
	for ((i = 0; i < samples; i++)); do
		# Start one every 2 s (a bash sleep: pacing, not a wait).
		now=${EPOCHREALTIME/[.,]/}
		next=$((t0 + i * 2000000))
		[ "$now" -ge "$next" ] ||
		    sleep "$(printf '%d.%06d' $(((next - now) / 1000000)) \
			$(((next - now) % 1000000)))"
		[ "$i" -gt 0 ] || first=$(date +%s)
		"${as[@]}" "$libdir/munin-update" \
		    --config "$dir/master/munin.conf" </dev/null || return 1
		printf . >&3
		MUNIN_SAMPLES=$((i + 1))
	done
	last=$(date +%s)
	printf '\n' >&3
	# What the master stored: tally_load_avg's RRD for each node, its
	# known (not NaN) 2-second averages over the span.
	n=0 known=0
	for f in "$dir/master/db/localhost/localhost-tally_load_avg-"*.rrd; do
		[ -f "$f" ] || continue
		n=$((n + 1))
		rrdtool fetch "$f" AVERAGE -s "$((first - 2))" -e "$last" |
		    awk '/^[0-9]+:/ && $2 !~ /nan/ { k++ } END { exit k < 2 }' &&
		    known=$((known + 1))
	done
	MUNIN_KNOWN="$known of $n"
	[ "$n" -gt 0 ] && [ "$known" -eq "$n" ] || return 1
	# munin-graph draws the graphs that munin-html lists in its dbdir;
	# list the span sampled of a few.
	span="pinpoint=$((first - 4)),$((last + 2))"
	for g in $MUNIN_GRAPHS; do
		echo "/localhost/localhost/$g-$span.png"
	done >"$dir/master/graphs"
	"${as[@]}" cp "$dir/master/graphs" "$dir/master/db/graphs" &&
	"${as[@]}" "$libdir/munin-graph" --config "$dir/master/munin.conf" \
	    </dev/null || return 1
	MUNIN_PNG=$dir/master/www/localhost/localhost/tally_load_avg-$span.png
	[ -s "$MUNIN_PNG" ]
}

# ---- 5. munin ----------------------------------------------------------

section "5. What munin sees"
mkdir "$DIR/plugins" "$DIR/plugin-conf.d"
: >"$DIR/munin-node.conf"
for sec in 'tally_*' 'tahoe_*'; do
	printf '[%s]\n' "$sec"
	[ "$(id -u)" -ne 0 ] || printf 'user root\n'
	printf 'env.statsfile %s\n\n' "$STATS"
done >"$DIR/plugin-conf.d/tally"
# The 99th percentile of the get latencies: the histogram
# storage_server.latencies.get, spelled in a link name (tally_(8)).
P99=tally_hist_storage_server__latencies__get_p99_0
GRAPHS="tahoe_storage_allocated tahoe_storage_operations_get tally_load_avg $P99"
for g in $GRAPHS tally_; do
	ln -sfn "$PLUGIN" "$DIR/plugins/$g"
done
echo "plugin links in $DIR/plugins -> $PLUGIN; their configuration:"
sed 's/^/  | /' "$DIR/plugin-conf.d/tally"
echo "A line per node: the three demo nodes (see each field's info for its"
echo "source), and tallyd's own, which has no storage values (U)."

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
printf '$ munin-run tally_ suggest   # under munin: link tally_all\n'
munin tally_ suggest
ln -sfn "$PLUGIN" "$DIR/plugins/tally_all"
printf '$ munin-run tally_all | head -n 12   # every graph, one run\n'
munin tally_all | head -n 12

echo
SAMPLES=16
MUNIN_GRAPHS="tally_load_avg $P99 tahoe_storage_operations_get tahoe_storage_allocated"
echo "The real munin master: munin-node serves tally_all, munin-update"
echo "fetches it $SAMPLES times, 2 s apart, and munin-graph draws those"
echo "$((SAMPLES * 2)) seconds.  (munin keeps a value per 5 minutes by default,"
echo "so its day graphs need hours: this master's munin.conf says update_rate 2.)"
MUNIN_PNG=
MUNIN_KNOWN=
MUNIN_SAMPLES=0
printf '  sampling '
if command -v rrdtool >/dev/null 2>&1 &&
    munin_draw "$STATS" "$PLUGIN" "$DIR/munin" "$SAMPLES" \
	3>&1 >"$DIR/munin-draw.log" 2>&1
then
	echo "  tally_load_avg: $MUNIN_KNOWN lines with data in the RRDs" \
	    "(rrdtool fetch)"
	echo "  drawn: $MUNIN_PNG"
	echo "  and ${MUNIN_GRAPHS#* }, beside it"
	echo "  the 99th percentile of get latencies: ${MUNIN_PNG/tally_load_avg-/$P99-}"
else
	[ "$MUNIN_SAMPLES" -eq "$SAMPLES" ] || echo
	echo "  (not drawn${MUNIN_KNOWN:+: $MUNIN_KNOWN lines of tally_load_avg" \
	    "with data}; see $DIR/munin-draw.log)"
	MUNIN_PNG=
fi

# ---- 6. the database ---------------------------------------------------

section "6. The statsfile, as the stock mdb_dump sees it"
printf '$ mdb_dump -p -s nodes %s    # who wrote, when, from where\n' "$STATS"
mdb_dump -p -s nodes "$STATS"
printf '$ mdb_dump -p -a %s | head -n 60\n' "$STATS"
mdb_dump -p -a "$STATS" >"$DIR/dump.txt"
head -n 60 "$DIR/dump.txt"
total=$(wc -l <"$DIR/dump.txt")
[ "$total" -le 60 ] ||
    echo "... ($((total - 60)) more lines in $DIR/dump.txt)"

# ---- 7. stop -----------------------------------------------------------

section "7. Stopping (SIGTERM: nodes flush a last time, tallyd commits)"
for n in node1 node2 node3; do
	rc=0
	stop "$n" || rc=$?
	echo "  $n: $(grep -m 1 '^stopped' "$DIR/$n.log" ||
	    echo 'did not say stopped'), exit $rc"
done
[ -z "${pids[munin-node]:-}" ] || stop munin-node || true
rc=0
stop tallyd || rc=$?
echo "  tallyd: exit $rc; the end of its log:"
tail -n 5 "$DIR/tallyd.log" | sed 's/^/  | /'
trap - EXIT

section "Where things are"
cat <<EOF
  gatherer:           $TALLYD -i 1 --http 127.0.0.1:0 $BASE
                      (run again, it reuses its furl: port and secret)
  furl:               $BASE/stats_gatherer.furl
  statsfile (LMDB):   $STATS
                      mdb_dump -p -a $STATS;  mdb_stat -a $STATS
  logs:               $DIR/tallyd.log
                      $DIR/node1.log $DIR/node2.log $DIR/node3.log
  munin plugin:       $PLUGIN, linked from $DIR/plugins
  plugin config:      $DIR/plugin-conf.d/tally
  munin graph (PNG):  ${MUNIN_PNG:-(not drawn)}
  munin master:       $DIR/munin/master/munin.conf, its RRDs in db/,
                      its log in $DIR/munin-draw.log
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
