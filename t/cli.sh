#!/bin/bash
# t/cli.sh: the tally command line tool on a database written by two real
# demo nodes: show (table, chosen nodes, an unknown node, --json), export
# (OpenMetrics and Prometheus text, to stdout and atomically to a file),
# prune (a threshold too young removes nothing, an aged node goes, a bad
# duration), check (ok, then damaged records and keys injected with the
# stock mdb_load), forget and show of nodes' key fingerprints (records with
# key= written with mdb_load, as tallyd would), and every command on a
# missing, empty, garbage, truncated, foreign and unknown-format database.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"

require_cmd mdb_dump mdb_load
TALLY=$TALLY_BUILDDIR/tally
[ -x "$TALLY" ] || fail "$TALLY not built (run make first)"
[ -x "$DEMO" ] || fail "$DEMO not built (run make first)"
setup

# ---- helpers ------------------------------------------------------------

# tally ARG...: run the tool, bounded in time; stdout in $T/out, stderr in
# $T/err, status in $rc.
tally() {
	timeout -k 5 "$WAIT_TIMEOUT" "$TALLY" "$@" >"$T/out" 2>"$T/err" </dev/null
	rc=$?
}

# expect RC WHAT: the last tally call exited RC.
expect() {
	[ "$rc" -eq "$1" ] || fail "$2: exit $rc, want $1; stdout: $(head -c 2000 "$T/out"); stderr: $(cat "$T/err")"
}

# out_has / err_has PATTERN WHAT: grep -E in the last call's stdout/stderr.
out_has() {
	grep -qE -- "$1" "$T/out" || fail "$2: stdout lacks /$1/: $(head -c 3000 "$T/out")"
}
err_has() {
	grep -qE -- "$1" "$T/err" || fail "$2: stderr lacks /$1/: $(cat "$T/err")"
}

# db_put DB KEY VALUE [ENV]: write one record with the stock mdb_load; KEY
# and VALUE in mdb_dump -p's printable form (\xx for a byte).  A
# <node>/<stat> key of counters or stats goes to the stat index too
# (DB-by-stat, <stat>/<node>), as the store writes it (tally(5)), if the
# statsfile has one.
db_put() {
	printf 'VERSION=3\nformat=print\ntype=btree\nHEADER=END\n %s\n %s\nDATA=END\n' \
	    "$2" "$3" | mdb_load -s "$1" "${4:-$STATS}" 2>"$T/mdb_load.err" ||
	    fail "mdb_load $1 '$2': $(cat "$T/mdb_load.err")"
	case $1/$2 in
	counters/*/* | stats/*/*)
		mdb_stat -s "$1-by-stat" "${4:-$STATS}" >/dev/null 2>&1 &&
		    db_put "$1-by-stat" "${2#*/}/${2%%/*}" "$3" "${4:-$STATS}" ;;
	esac
}

# db_copy NAME: a copy of $STATS (the nodes are stopped by then), printed.
db_copy() {
	rm -rf "${T:?}/$1"
	cp -r "$STATS" "$T/$1" || fail "cp $STATS"
	printf '%s\n' "$T/$1"
}

# json_ok FILE: FILE is one well-formed JSON value (a recursive descent
# parser in POSIX awk, so that no jq or python is needed).
json_ok() {
	awk '
	function err(m) { printf "bad JSON: %s at byte %d: %s\n", m, pos,
		substr(s, pos, 40) > "/dev/stderr"; exit 1 }
	function ws() { while (pos <= n && index(" \t\n\r", substr(s, pos, 1)))
		pos++ }
	function val(   c) {
		ws(); c = substr(s, pos, 1)
		if (c == "{") { obj(); return }
		if (c == "[") { arr(); return }
		if (c == "\"") { str(); return }
		if (c ~ /[-0-9]/) { num(); return }
		if (substr(s, pos, 4) == "true" || substr(s, pos, 4) == "null") {
			pos += 4; return }
		if (substr(s, pos, 5) == "false") { pos += 5; return }
		err("unexpected character")
	}
	function obj(   c) {
		pos++; ws()
		if (substr(s, pos, 1) == "}") { pos++; return }
		for (;;) {
			ws()
			if (substr(s, pos, 1) != "\"") err("expected a key")
			str(); ws()
			if (substr(s, pos, 1) != ":") err("expected :")
			pos++; val(); ws()
			c = substr(s, pos++, 1)
			if (c == "}") return
			if (c != ",") err("expected , or }")
		}
	}
	function arr(   c) {
		pos++; ws()
		if (substr(s, pos, 1) == "]") { pos++; return }
		for (;;) {
			val(); ws()
			c = substr(s, pos++, 1)
			if (c == "]") return
			if (c != ",") err("expected , or ]")
		}
	}
	function str(   c) {
		pos++
		for (;;) {
			if (pos > n) err("unterminated string")
			c = substr(s, pos, 1)
			if (c == "\"") { pos++; return }
			if (index(ctl, c)) err("raw control character in a string")
			if (c == "\\") {
				c = substr(s, pos + 1, 1)
				if (c == "u") {
					if (substr(s, pos + 2, 4) !~ /^[0-9a-fA-F][0-9a-fA-F][0-9a-fA-F][0-9a-fA-F]$/)
						err("bad \\u escape")
					pos += 6
				} else if (index("\"\\/bfnrt", c))
					pos += 2
				else
					err("bad escape")
				continue
			}
			pos++
		}
	}
	function num() {
		if (!match(substr(s, pos), /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?/))
			err("bad number")
		pos += RLENGTH
	}
	BEGIN { for (i = 1; i < 32; i++) ctl = ctl sprintf("%c", i) }
	{ s = s $0 "\n" }
	END { n = length(s); pos = 1; val(); ws(); if (pos <= n) err("trailing data") }
	' "$1"
}

# om_ok FILE [prom]: FILE is well-formed exposition text as tally writes it:
# each family once, as a HELP line, then a TYPE line (counter or gauge; none
# for an unknown type), then all its samples, which are named after it (a
# counter's with _total) and carry the labels node and nickname and a
# value; "# EOF" last for OpenMetrics and absent from the Prometheus format.
om_ok() {
	awk -v prom="${2:-}" '
	function err(m) { printf "bad exposition, line %d: %s: %s\n", NR, m,
		$0 > "/dev/stderr"; bad = 1; exit 1 }
	eof { err("text after # EOF") }
	/^# EOF$/ { if (prom) err("# EOF in the Prometheus format"); eof = 1; next }
	/^# HELP / {
		fam = $3; type = ""; want = fam
		if (fam in nsamples) err("family " fam " is not contiguous")
		nsamples[fam] = 0
		next
	}
	/^# TYPE / {
		if ($3 != fam || type != "" || nsamples[fam] > 0)
			err("TYPE not right after its HELP")
		type = $4
		if (type !~ /^(counter|gauge|histogram)$/) err("type " type)
		if (type == "counter" && prom && fam !~ /_total$/)
			err("a Prometheus counter family without _total")
		if (type == "counter" && !prom) want = fam "_total"
		next
	}
	/^#/ { err("unexpected comment") }
	{
		if (fam == "") err("a sample before any HELP")
		name = $0; sub(/\{.*/, "", name)
		# A histogram: _bucket samples with an le label, _sum, _count.
		if (type == "histogram") {
			if (name != fam "_bucket" && name != fam "_sum" &&
			    name != fam "_count")
				err("sample " name " in histogram " fam)
			if ((name == fam "_bucket") != ($0 ~ /,le="[^"]+"\} /))
				err("le label on a sample other than _bucket")
		} else if (name != want)
			err("sample " name " in family " fam)
		if ($0 !~ /^[a-zA-Z_][a-zA-Z0-9_]*\{node="[a-z0-9_-]+",nickname="([^"\\]|\\[\\"n])*"(,le="[^"]+")?\} [^ ]+$/)
			err("malformed sample")
		v = $NF
		if (v !~ /^([-+]?[0-9]*\.?[0-9]+([eE][-+]?[0-9]+)?|[-+]?[0-9]+\.|NaN|[-+]Inf)$/)
			err("bad value " v)
		if (type == "counter" && v ~ /^-/) err("a negative counter")
		nsamples[fam]++
	}
	END {
		if (bad) exit 1
		if (!prom && !eof) { print "no # EOF at the end" > "/dev/stderr"; exit 1 }
		for (f in nsamples) if (nsamples[f] == 0) {
			print "family " f " has no samples" > "/dev/stderr"; exit 1 }
	}' "$1"
}

# ---- a database written by two real nodes --------------------------------

ID1=storage-a1
NICK1=alpha
ID2=9b-storage
# Quotes, a backslash and UTF-8: escaped in labels and JSON, kept in show.
NICK2='b "quoted" \ ünïcode'
start_node a -s "$STATS" -n "$ID1" -N "$NICK1" -i 0.1 -r 200
# No operations: its get latencies stay unknown (NaN).
start_node b -s "$STATS" -n "$ID2" -N "$NICK2" -i 0.1 -r 0
wait_landed "$ID1" 0 storage_server.get 1
wait_landed "$ID2" 0
# A quiet database from here on: values and ages hold still.
stop_node a
stop_node b

# ---- show -----------------------------------------------------------------

tally -s "$STATS" show
expect 0 "show"
out_has '^NODE +NICKNAME +AGE +SOURCE$' "show's header"
out_has "^$ID1 +$NICK1 +[0-9]+[smhd] +local\$" "show's line for $ID1"
out_has "^$ID2 +b \"quoted\" \\\\ ünïcode +[0-9]+[smhd] +local\$" "show's line for $ID2"
out_has "^  counter  storage_server\.get +[1-9][0-9]*\$" "show's counters"
# A histogram is one line; b (-r 0) observed nothing: no mean, no
# percentile (nan) on it.  a's counted; its last interval (from its last
# flush to its stop) may have seen no get: then it has no mean either,
# else the mean and every percentile.
out_has '^  hist     storage_server\.latencies\.get +count=0 sum=0s$' \
    "show's histogram without observations"
out_has '^  hist     storage_server\.latencies\.get +count=[1-9][0-9]* sum=[0-9.]+s( mean=[0-9.e-]+ p1=[0-9.e-]+ p10=[0-9.e-]+ p50=[0-9.e-]+ p90=[0-9.e-]+ p95=[0-9.e-]+ p99=[0-9.e-]+ p99\.9=[0-9.e-]+)?$' \
    "show's histogram with observations"
grep -q '^  \(counter\|stat\) .*storage_server\.latencies\.get\.' "$T/out" &&
    fail "show prints a histogram's parts: $(cat "$T/out")"
# Sorted by node id: 9b-storage before storage-a1.
[ "$(sed -n '2,3s/ .*//p' "$T/out" | tr '\n' ' ')" = "$ID2 $ID1 " ] ||
    fail "show is not sorted by id: $(cat "$T/out")"
[ ! -s "$T/err" ] || fail "show wrote to stderr: $(cat "$T/err")"

# The statsfile from the environment, and -s after the command.
statsfile=$STATS tally show
expect 0 "show with \$statsfile"
out_has "^$ID1 " "show with \$statsfile"
tally show -s "$STATS" "$ID1"
expect 0 "show -s after the command"

# show NODE: that node only.
tally -s "$STATS" show "$ID1"
expect 0 "show $ID1"
out_has "^$ID1 \\($NICK1\\)\$" "show $ID1"
! grep -q "$ID2" "$T/out" || fail "show $ID1 shows $ID2 too: $(cat "$T/out")"

# An unknown node: the others still shown, a message, exit 1.
tally -s "$STATS" show "$ID1" nosuch
expect 1 "show of an unknown node"
err_has "^tally: no node 'nosuch' in $STATS\$" "show of an unknown node"
out_has "^$ID1 \\($NICK1\\)\$" "show of a known and an unknown node"
# Only unknown nodes: nothing on stdout (the file has nodes), exit 1.
tally -s "$STATS" show nosuch
expect 1 "show of only an unknown node"
err_has "^tally: no node 'nosuch' in $STATS\$" "show of only an unknown node"
[ ! -s "$T/out" ] || fail "show of only an unknown node printed: $(cat "$T/out")"

# --json: one well-formed document.
tally -s "$STATS" show --json
expect 0 "show --json"
cp "$T/out" "$T/show.json"
json_ok "$T/show.json" || fail "show --json is not JSON: $(cat "$T/show.json")"
grep -q "\"id\": \"$ID1\"" "$T/show.json" || fail "no $ID1 in JSON"
# The file's format, as mdb_dump shows it, not the tool's newest.
fmt=$(db_get meta format "$STATS")
grep -q "^  \"format\": $fmt,\$" "$T/show.json" ||
    fail "show --json says $(grep '"format"' "$T/show.json"); meta says $fmt"
grep -q '"nickname": "b \\"quoted\\" \\\\ ünïcode"' "$T/show.json" ||
    fail "nickname not escaped in JSON: $(grep nickname "$T/show.json")"
grep -q '"mean": null' "$T/show.json" ||
    fail "a NaN mean is not null in JSON"
if command -v jq >/dev/null 2>&1; then
	jq -e --arg n2 "$NICK2" '
	    (.nodes | length) == 2 and
	    ([.nodes[].id] == ["9b-storage", "storage-a1"]) and
	    (.nodes[0].nickname == $n2) and
	    (.nodes[1].counters["storage_server.get"] >= 1) and
	    (.nodes[0].histograms["storage_server.latencies.get"].mean == null) and
	    (.nodes[0].histograms["storage_server.latencies.get"].count == 0) and
	    (.nodes[1].histograms["storage_server.latencies.get"].count ==
	     ([.nodes[1].histograms["storage_server.latencies.get"].buckets[]] | add)) and
	    (.nodes[1].age >= 0) and (.nodes[1].source == "local") and
	    (.nodes[1].time | type == "number")' "$T/show.json" >/dev/null ||
	    fail "jq disagrees with show --json: $(cat "$T/show.json")"
fi

# ---- export ---------------------------------------------------------------

tally -s "$STATS" export --openmetrics
expect 0 "export --openmetrics"
cp "$T/out" "$T/export.om"
[ ! -s "$T/err" ] || fail "export wrote to stderr: $(cat "$T/err")"
[ "$(tail -n 1 "$T/export.om")" = '# EOF' ] || fail "export does not end with # EOF"
om_ok "$T/export.om" || fail "export --openmetrics is malformed"
grep -qE "^tally_storage_server_get_total\\{node=\"$ID1\",nickname=\"$NICK1\"\\} [1-9][0-9]*\$" \
    "$T/export.om" || fail "no counter sample for $ID1: $(grep get_total "$T/export.om")"
grep -qx '# TYPE tally_storage_server_get counter' "$T/export.om" ||
    fail "no counter TYPE line"
grep -qF "tally_storage_server_latencies_get_mean{node=\"$ID2\",nickname=\"b \\\"quoted\\\" \\\\ ünïcode\"} NaN" \
    "$T/export.om" || fail "no NaN sample with an escaped nickname for $ID2: $(grep latencies_get_mean "$T/export.om")"
grep -qE "^tally_node_last_snapshot_timestamp_seconds\\{node=\"$ID1\",nickname=\"$NICK1\"\\} [0-9]+\$" \
    "$T/export.om" || fail "no snapshot time gauge for $ID1"
# cpu_monitor.total: a stat that looks like a counter by its name goes
# without a type (unknown to OpenMetrics, untyped to Prometheus).
grep -q '^# HELP tally_cpu_monitor_total ' "$T/export.om" &&
    ! grep -q '^# TYPE tally_cpu_monitor_total' "$T/export.om" ||
    fail "cpu_monitor.total is not of unknown type: $(grep cpu_monitor_total "$T/export.om")"
# The default format is OpenMetrics.
tally -s "$STATS" export
cmp -s "$T/out" "$T/export.om" || fail "export without a format differs from --openmetrics"

tally -s "$STATS" export --prometheus
expect 0 "export --prometheus"
cp "$T/out" "$T/export.prom"
om_ok "$T/export.prom" prom || fail "export --prometheus is malformed"
grep -qx '# TYPE tally_storage_server_get_total counter' "$T/export.prom" ||
    fail "no Prometheus counter TYPE line"

# -o FILE: complete, mode 0644 whatever the umask, no temporary file left,
# and replaced in place by the next export.
mkdir "$T/textfile"
echo stale >"$T/textfile/tally.prom"
(umask 077 && exec "$TALLY" -s "$STATS" export --openmetrics \
    -o "$T/textfile/tally.prom") >"$T/out" 2>"$T/err"
rc=$?
expect 0 "export -o"
cmp -s "$T/textfile/tally.prom" "$T/export.om" || fail "export -o wrote something else than stdout"
[ "$(stat -c %a "$T/textfile/tally.prom")" = 644 ] ||
    fail "export -o made mode $(stat -c %a "$T/textfile/tally.prom")"
[ "$(ls "$T/textfile")" = tally.prom ] || fail "export -o left: $(ls "$T/textfile")"
tally -s "$STATS" export -o "$T/nodir/tally.prom"
expect 1 "export -o into a missing directory"
err_has "^tally: $T/nodir/tally\\.prom: cannot make a temporary file beside it: No such file or directory\$" \
    "export -o into a missing directory"

# -o never renames over anything but a regular file: a FIFO, a symlink, a
# directory or a device (as root, /dev/full was once replaced) is refused
# and left as it was.
mkfifo "$T/fifo.prom"
ln -s "$T/textfile/tally.prom" "$T/link.prom"
mkdir "$T/dir.prom"
targets=(fifo.prom link.prom dir.prom)
if mknod "$T/null.prom" c 1 3 2>/dev/null; then
	targets+=(null.prom)
fi
for f in "${targets[@]}"; do
	before=$(stat -c %F "$T/$f")
	timeout 20 "$TALLY" -s "$STATS" export -o "$T/$f" >"$T/out" 2>"$T/err"
	rc=$?
	expect 1 "export -o $f"
	err_has "^tally: $T/$f: is a (FIFO|symlink|directory|device), not a regular file" \
	    "export -o $f"
	[ "$(stat -c %F "$T/$f")" = "$before" ] ||
	    fail "export -o replaced $f ($before) with a $(stat -c %F "$T/$f")"
done
[ -z "$(ls "$T" | grep '\.tmp\.')" ] || fail "export -o left a temporary file"

# The longest names export makes: a histogram of a 248-byte name is family
# tally_<name>_seconds (262 bytes) with samples up to _bucket (269), and
# 300 counters beside it make the family table grow and rehash every name
# (under ASan, a name buffer a byte short was caught there).
long=$(db_copy longnames)
H=$(printf 'h%.0s' $(seq 248))
{
	printf 'VERSION=3\nformat=print\ntype=btree\nHEADER=END\n'
	printf ' long-one\n nickname=long\\0atime=%s\\0asource=local\\0ainterval=60\\0a\n' \
	    "$(date +%s)"
	echo DATA=END
} | mdb_load -s nodes "$long" || fail "mdb_load nodes"
{
	printf 'VERSION=3\nformat=print\ntype=btree\nHEADER=END\n'
	printf ' long-one/%s.count\n 0\n long-one/%s.sum_ns\n 0\n' "$H" "$H"
	for i in $(seq 300); do printf ' long-one/c%03d\n 1\n' "$i"; done
	echo DATA=END
} | mdb_load -s counters "$long" || fail "mdb_load counters"
tally -s "$long" export --openmetrics
expect 0 "export of 248-byte histogram names"
om_ok "$T/out" || fail "export of long names is malformed"
grep -q "^tally_${H}_seconds_count{node=\"long-one\"" "$T/out" ||
    fail "no 262-byte histogram family: $(grep -c "$H" "$T/out") lines name it"
grep -q '^tally_c300_total{node="long-one"' "$T/out" ||
    fail "the 300th counter is missing"

# A nickname is sent to the terminal as text only: a C1 control (U+009B,
# CSI to some terminals: '??'; a lone 0x9b byte: '?') and other bytes that
# are no whole UTF-8 character print as '?', and UTF-8 text as itself.
c1=$(db_copy c1nick)
{
	printf 'VERSION=3\nformat=print\ntype=btree\nHEADER=END\n'
	printf ' c1-node\n nickname=a\\c2\\9b31mb\\9bc\\c3\\a9\\e2\\80\\94d\\0atime=%s\\0asource=local\\0ainterval=60\\0a\n' \
	    "$(date +%s)"
	echo DATA=END
} | mdb_load -s nodes "$c1" || fail "mdb_load nodes"
tally -s "$c1" show c1-node
expect 0 "show of a C1 nickname"
LC_ALL=C grep -q $'\x9b' "$T/out" && fail "show sent a C1 control: $(od -c "$T/out" | head)"
out_has "a\?\?31mb\?c$(printf '\xc3\xa9\xe2\x80\x94')d" "show of a C1 nickname"

# ---- check ----------------------------------------------------------------

tally -s "$STATS" check
expect 0 "check"
out_has "^$STATS: ok \\(2 nodes, [1-9][0-9]* counters, [1-9][0-9]* stats\\)\$" "check"

# ---- index ----------------------------------------------------------------
# tally index makes the stat index in a copy (format 2, the two tables),
# says so, refuses to make it twice, and check and show agree with it;
# --off drops it again.
idx=$(db_copy indexed)
tally -s "$idx" index
expect 0 "index"
out_has "stat index made\$" "index"
[ "$(db_get meta format "$idx")" = 2 ] || fail "index left format $(db_get meta format "$idx")"
mdb_stat -s counters-by-stat "$idx" >/dev/null 2>&1 || fail "index made no counters-by-stat"
tally -s "$idx" index
expect 1 "index, twice"
err_has "the stat index is there already" "index, twice"
tally -s "$idx" check
expect 0 "check of an indexed database"
tally -s "$idx" index --off
expect 0 "index --off"
out_has "stat index dropped\$" "index --off"
[ "$(db_get meta format "$idx")" = 1 ] || fail "index --off left format $(db_get meta format "$idx")"
mdb_stat -s counters-by-stat "$idx" >/dev/null 2>&1 && fail "index --off left counters-by-stat"
tally -s "$T/no-such-dir" index
expect 1 "index of a missing statsfile"
[ -e "$T/no-such-dir" ] && fail "index created a statsfile"

# Damaged records and keys, each in a copy of the database: exit 1 and the
# reason.
check_bad() {
	local db=$1 want=$2

	tally -s "$db" check
	expect 1 "check of a database with $3"
	out_has "$want" "check of a database with $3"
	err_has "check failed: [0-9]+ problems? found" "check of a database with $3"
}
db=$(db_copy bad-time)
db_put nodes "$ID1" 'nickname=alpha\0atime=yesterday\0asource=local\0a' "$db"
check_bad "$db" "^$db: node $ID1: bad time in node record" "a bad time"
db=$(db_copy bad-nodekey)
db_put nodes 'Bad Id' 'nickname=x\0atime=1\0asource=local\0a' "$db"
check_bad "$db" "^$db: nodes key 'Bad Id': not a valid node id" "a bad node id"
db=$(db_copy bad-statname)
db_put counters "$ID1/no spaces" 1 "$db"
check_bad "$db" "^$db: counters key '$ID1/no spaces': not a valid stat name" "a bad stat name"
db=$(db_copy bad-counter)
db_put counters "$ID1/storage_server.get" 12abc "$db"
check_bad "$db" "^$db: counters key '$ID1/storage_server\\.get': value '12abc' is not a 64-bit integer" \
    "a bad counter"
db=$(db_copy bad-stat)
db_put stats "$ID2/storage_server.allocated" 0x10 "$db"
check_bad "$db" "^$db: stats key '$ID2/storage_server\\.allocated': value '0x10' is not a number" \
    "a bad stat"
# Keys of no node: tally_statsfile_check walks every key of both tables.
db=$(db_copy orphan)
db_put stats "gone-node/storage_server.allocated" 1 "$db"
check_bad "$db" "^$db: stats key 'gone-node/storage_server\\.allocated': node gone-node is not in the nodes table" \
    "an orphan"
db=$(db_copy bad-key)
db_put counters "no-slash" 1 "$db"
check_bad "$db" "^$db: counters key 'no-slash': not <node id>/<stat name>" "a key without a node"

# show and export skip what they cannot read, and say so.
db=$T/bad-counter
tally -s "$db" show
expect 1 "show of a database with a bad counter"
err_has "node $ID1: skipping unreadable counter 'storage_server\\.get' = '12abc'" "show of a bad counter"
# Two more: the first is named, the others counted (they went unsaid).
db_put counters "$ID1/storage_server.get2" 12abd "$db"
db_put counters "$ID1/storage_server.get3" 12abe "$db"
tally -s "$db" show
expect 1 "show of a database with three bad counters"
err_has "node $ID1: 2 more unreadable values skipped\$" \
    "show of three bad counters"
tally -s "$db" export
expect 0 "export of a database with a bad counter"
err_has "node $ID1: skipping unreadable counter" "export of a bad counter"
om_ok "$T/out" || fail "export of a database with a bad counter is malformed"

# Bytes a record should not hold still make valid JSON and exposition text:
# a control character in the source, invalid UTF-8 in the nickname.
db=$(db_copy odd-bytes)
db_put nodes odd 'nickname=bad\ffutf8\0atime=1\0asource=remote 10.0.0.1:7\01\0a' "$db"
tally -s "$db" show --json
expect 0 "show --json of odd bytes"
json_ok "$T/out" || fail "show --json of odd bytes is not JSON: $(cat "$T/out")"
grep -qF '"nickname": "bad\ufffdutf8"' "$T/out" || fail "invalid UTF-8 not replaced in JSON"
grep -qF '"source": "remote 10.0.0.1:7\u0001"' "$T/out" || fail "a control character not escaped in JSON"
tally -s "$db" export
expect 0 "export of odd bytes"
grep -qF 'node="odd",nickname="bad�utf8"' "$T/out" || fail "invalid UTF-8 not replaced in a label"
om_ok "$T/out" || fail "export of odd bytes is malformed"

# ---- prune ----------------------------------------------------------------

# Nothing is that old yet.
tally -s "$STATS" prune --older-than 1h
expect 0 "prune --older-than 1h"
out_has "^no node in $STATS is older than 1h\$" "prune of young nodes"
db_has_node "$ID1" && db_has_node "$ID2" || fail "prune of young nodes removed one"

# Age the second node by three days, as a departed node would be.
now=$(date +%s)
old=$((now - 3 * 86400))
db_put nodes "$ID2" "nickname=gone\\0atime=$old\\0asource=local\\0ainterval=0.1\\0a"
[ "$(node_field "$ID2" time)" = "$old" ] || fail "the record was not aged"

# Younger than asked (3 days < 4 days, or 300000 s): kept.
for d in 4d 300000; do
	tally -s "$STATS" prune --older-than "$d"
	expect 0 "prune --older-than $d"
	db_has_node "$ID2" || fail "prune --older-than $d removed a node 3 days old"
done
# A dry run names it and keeps it.
tally -s "$STATS" prune --older-than 2d --dry-run
expect 0 "prune --dry-run"
out_has "^would remove $ID2 \\(gone\\), last snapshot 3d ago\$" "prune --dry-run"
db_has_node "$ID2" || fail "prune --dry-run removed a node"
# Older than asked: the whole slot goes, and only it.
tally -s "$STATS" prune --older-than 2d
expect 0 "prune --older-than 2d"
out_has "^removed $ID2 \\(gone\\), last snapshot 3d ago\$" "prune --older-than 2d"
! db_has_node "$ID2" || fail "prune did not remove $ID2"
! db_dump_all | grep -q "	$ID2/" || fail "prune left keys of $ID2: $(db_dump_all | grep "$ID2/")"
db_has_node "$ID1" || fail "prune removed $ID1 too"
counter_value "$ID1" storage_server.get >/dev/null || fail "prune removed $ID1's counters"
tally -s "$STATS" check
expect 0 "check after prune"
out_has "^$STATS: ok \\(1 nodes" "check after prune"

# Every unit; bad durations.
for d in 90s 15m 12h 7d 2w 86400; do
	tally -s "$STATS" prune --older-than "$d" --dry-run
	expect 0 "prune --older-than $d"
done
for d in 3x 1.5h -5 '' 10dd h 99999999999999999999; do
	tally -s "$STATS" prune --older-than "$d"
	expect 1 "prune --older-than '$d'"
	err_has "^tally: bad duration '$d' \\(use e\\.g\\. 30m, 12h, 7d\\)\$" "prune --older-than '$d'"
done
db_has_node "$ID1" || fail "a bad duration removed a node"

# ---- key fingerprints and forget ------------------------------------------

# tallyd binds a remote node's id to the fingerprint of its TLS key on its
# first contact (a key= line in its record, tally(5)); tally forget removes
# it.  Records written with mdb_load here, as tallyd would write them.
FP1=jp6carkyxellvxjfu7fn4eggy4vydkzflcjqbgkmzug65tboe7pq
FP2=farcxg7nqma7npwngh3zuayibu7lgebg6kfjdjgjllq4hsot4w6a
db=$(db_copy keys)
now=$(date +%s)
far_rec="nickname=far away\0atime=$now\0asource=remote 192.0.2.7:40312\0ainterval=60\0a"
db_put nodes far "${far_rec}key=$FP1\0a" "$db"
db_put counters far/storage_server.get 42 "$db"
db_put stats far/storage_server.allocated 1.5 "$db"
db_put nodes far2 "nickname=two\0atime=$now\0asource=remote 192.0.2.8:1\0akey=$FP2\0a" "$db"
db_put nodes far3 "nickname=three\0atime=$now\0asource=remote 192.0.2.9:1\0akey=$FP2\0a" "$db"

# key_line NODE: the key line of NODE's section in the last show's output.
key_line() {
	awk -v n="$1" 'index($0, n " (") == 1 { getline; print; exit }' "$T/out"
}

tally -s "$db" show
expect 0 "show of nodes with keys"
out_has "^far +far away +[0-9]+[smhd] +remote 192\.0\.2\.7:40312\$" "show's line for a node with a key"
[ "$(key_line far)" = "  key      $FP1" ] ||
    fail "show does not print far's key: $(cat "$T/out")"
[ "$(key_line "$ID1")" = "  key      -" ] ||
    fail "show does not print '-' for a node without a key: $(cat "$T/out")"
out_has '^  counter  storage_server\.get +42$' "show of a node with a key: its counters"
[ ! -s "$T/err" ] || fail "show of nodes with keys wrote to stderr: $(cat "$T/err")"

tally -s "$db" show --json
expect 0 "show --json of nodes with keys"
json_ok "$T/out" || fail "show --json of nodes with keys is not JSON: $(cat "$T/out")"
grep -qxF "      \"key\": \"$FP1\"," "$T/out" || fail "show --json lacks far's key: $(grep key "$T/out")"
[ "$(grep -cxF '      "key": null,' "$T/out")" -eq 1 ] ||
    fail "show --json: not one key null (for $ID1): $(grep key "$T/out")"
if command -v jq >/dev/null 2>&1; then
	jq -e --arg fp "$FP1" --arg id "$ID1" '
	    (.nodes[] | select(.id == "far") | .key) == $fp and
	    (.nodes[] | select(.id == $id) | .key) == null' "$T/out" >/dev/null ||
	    fail "jq disagrees with show --json of keys: $(cat "$T/out")"
fi

# export and check read such records as any other.
tally -s "$db" export --prometheus
expect 0 "export of nodes with keys"
om_ok "$T/out" prom || fail "export of nodes with keys is malformed"
grep -qx 'tally_storage_server_get_total{node="far",nickname="far away"} 42' "$T/out" ||
    fail "export lacks far's counter: $(grep get_total "$T/out")"
! grep -q "$FP1" "$T/out" || fail "export gives a key: $(grep "$FP1" "$T/out")"
[ ! -s "$T/err" ] || fail "export of nodes with keys wrote to stderr: $(cat "$T/err")"
tally -s "$db" check
expect 0 "check of nodes with keys"

# forget: the key line goes, and nothing else.
before=$(db_get nodes far "$db")
tally -s "$db" forget far
expect 0 "forget far"
out_has '^node far: key forgotten; its next connection binds a new key$' "forget far"
[ ! -s "$T/err" ] || fail "forget wrote to stderr: $(cat "$T/err")"
mdb_dump -p -s nodes "$db" >"$T/nodes.dump" 2>&1 || fail "mdb_dump: $(cat "$T/nodes.dump")"
! grep -qF "$FP1" "$T/nodes.dump" || fail "forget left far's key: $(cat "$T/nodes.dump")"
grep -qF "key=$FP2" "$T/nodes.dump" || fail "forget far removed the others' keys: $(cat "$T/nodes.dump")"
[ "$(db_get nodes far "$db")" = "$far_rec" ] ||
    fail "forget changed more than the key: '$before' became '$(db_get nodes far "$db")'"
[ "$(counter_value far storage_server.get "$db")" = 42 ] ||
    fail "forget changed far's counter: $(db_dump_all "$db" | grep far/)"
[ "$(db_get stats far/storage_server.allocated "$db")" = 1.5 ] ||
    fail "forget changed far's stat: $(db_dump_all "$db" | grep far/)"
tally -s "$db" show far
expect 0 "show after forget"
[ "$(key_line far)" = "  key      -" ] || fail "show after forget: $(cat "$T/out")"
tally -s "$db" check
expect 0 "check after forget"

# Twice: no key bound any more; an unknown node; a local node.
tally -s "$db" forget far
expect 1 "forget far twice"
err_has '^tally: node far: no key bound$' "forget far twice"
[ ! -s "$T/out" ] || fail "forget far twice printed: $(cat "$T/out")"
tally -s "$db" forget nosuch
expect 1 "forget of an unknown node"
err_has '^tally: node nosuch: no such node$' "forget of an unknown node"
! db_has_node nosuch "$db" || fail "forget created a node"

# Several nodes: each done or reported, in order, exit 1 if one failed;
# -s after the command.
tally forget -s "$db" nosuch far2 "$ID1"
expect 1 "forget of several nodes"
out_has '^node far2: key forgotten; its next connection binds a new key$' "forget of several nodes"
err_has '^tally: node nosuch: no such node$' "forget of several nodes"
err_has "^tally: node $ID1: no key bound\$" "forget of several nodes"
[ "$(counter_value "$ID1" storage_server.get "$db")" = "$(counter_value "$ID1" storage_server.get)" ] ||
    fail "forget of a local node changed its counter"

# Invalid node ids and no node are usage errors: nothing is done.
for args in "far3 Bad-Id" "far3 a/b" "far3 ''" ''; do
	eval "set -- $args"
	tally -s "$db" forget "$@"
	expect 2 "forget $args"
	err_has "^tally: forget: .*\(try 'tally -h'\)\$" "forget $args"
done
err_has "^tally: forget: NODE is required" "forget with no node"
tally -s "$db" forget far3 Bad-Id
err_has "^tally: forget: invalid node id 'Bad-Id' \(try 'tally -h'\)\$" "forget of an invalid id"
mdb_dump -p -s nodes "$db" | grep -q "three.*key=$FP2" ||
    fail "forget with an invalid id among the nodes forgot far3's key"

# A key that is no fingerprint makes the record unreadable (check, show);
# forget removes it, and the record reads again.
bad=$(db_copy bad-key-line)
db_put nodes odd-key "nickname=odd\0atime=$now\0asource=local\0akey=NOT-A-KEY\0a" "$bad"
check_bad "$bad" "^$bad: node odd-key: bad key in node record" "a bad key line"
tally -s "$bad" show
expect 1 "show of a bad key line"
err_has "skipping node odd-key: bad key in node record" "show of a bad key line"
tally -s "$bad" forget odd-key
expect 0 "forget of a bad key line"
tally -s "$bad" check
expect 0 "check after forgetting a bad key line"

# ---- snapshot times that are not sane -------------------------------------

# tally(5): a time is sane from 2000-01-01T00:00:00Z (946684800) to a day
# past the reader's clock.  Any other is shown raw and marked, never as an
# age (INT64_MIN's age overflows, which UBSan makes an abort); check counts
# it as a problem; prune takes it as older than any cutoff, so that a node
# whose clock is in 2100 can be removed.  Written with mdb_load, as a
# hostile peer or a broken clock would leave them.
db=$(db_copy insane)
db_put nodes t-min 'nickname=min\0atime=-9223372036854775808\0asource=local\0a' "$db"
db_put nodes t-max 'nickname=max\0atime=9223372036854775807\0asource=local\0a' "$db"
db_put nodes t-2100 'nickname=y2100\0atime=4102444800\0asource=local\0a' "$db"
db_put counters t-2100/storage_server.get 7 "$db"
db_put stats t-2100/storage_server.allocated 1.5 "$db"
db_put nodes t-1999 'nickname=y1999\0atime=946684799\0asource=local\0a' "$db"
ahead=$(( $(date +%s) + 3 * 86400 ))
db_put nodes t-ahead "nickname=ahead\\0atime=$ahead\\0asource=local\\0a" "$db"

tally -s "$db" show
expect 0 "show of insane times"
out_has '^t-min +min +time -9223372036854775808 out of range +local$' "show of INT64_MIN"
out_has '^t-max +max +time 9223372036854775807 out of range +local$' "show of INT64_MAX"
out_has '^t-2100 +y2100 +time 4102444800 out of range +local$' "show of 2100"
out_has '^t-1999 +y1999 +time 946684799 out of range +local$' "show of 1999"
out_has "^t-ahead +ahead +time $ahead out of range +local\$" "show of 3 days ahead"
out_has "^$ID1 +$NICK1 +[0-9]+[smhd] +local\$" "show of a sane time beside insane ones"
out_has '^  counter  storage_server\.get +7$' "show of an insane node's counters"
[ ! -s "$T/err" ] || fail "show of insane times wrote to stderr: $(cat "$T/err")"

tally -s "$db" show --json
expect 0 "show --json of insane times"
cp "$T/out" "$T/insane.json"
json_ok "$T/insane.json" || fail "show --json of insane times is not JSON: $(cat "$T/insane.json")"
# The raw time, and no age: "age": null right after it.
for t in -9223372036854775808 9223372036854775807 4102444800 946684799 "$ahead"; do
	grep -A 1 -xF "      \"time\": $t," "$T/insane.json" |
	    grep -qxF '      "age": null,' ||
	    fail "show --json: time $t has an age: $(grep -A 1 -F "\"time\": $t," "$T/insane.json")"
done
[ "$(grep -cxE '      "age": [0-9]+,' "$T/insane.json")" -eq 1 ] ||
    fail "show --json: $ID1 lost its age: $(grep '"age"' "$T/insane.json")"

tally -s "$db" show t-min
expect 0 "show t-min"
out_has '^t-min +min +time -9223372036854775808 out of range +local$' "show t-min"

tally -s "$db" export
expect 0 "export of insane times"
om_ok "$T/out" || fail "export of insane times is malformed"
grep -qxF 'tally_node_last_snapshot_timestamp_seconds{node="t-min",nickname="min"} -9223372036854775808' \
    "$T/out" || fail "export does not give INT64_MIN raw: $(grep node_last "$T/out")"

tally -s "$db" check
expect 1 "check of insane times"
out_has "^$db: node t-2100: time 4102444800 out of range" "check of 2100"
out_has "^$db: node t-min: time -9223372036854775808 out of range" "check of INT64_MIN"
out_has "^$db: 5 problems " "check of insane times"

# A dry run names them all, whatever the cutoff; the sane node stays.
tally -s "$db" prune --older-than 2w --dry-run
expect 0 "prune --dry-run of insane times"
for n in t-min:min:-9223372036854775808 t-max:max:9223372036854775807 \
    t-2100:y2100:4102444800 t-1999:y1999:946684799 "t-ahead:ahead:$ahead"; do
	IFS=: read -r id nick t <<<"$n"
	out_has "^would remove $id \\($nick\\), last snapshot time $t out of range\$" \
	    "prune --dry-run of $id"
done
grep -q "$ID1" "$T/out" && fail "prune --dry-run --older-than 2w names $ID1: $(cat "$T/out")"
db_has_node t-2100 "$db" || fail "prune --dry-run removed t-2100"

tally -s "$db" prune --older-than 2w
expect 0 "prune of insane times"
out_has '^removed t-2100 \(y2100\), last snapshot time 4102444800 out of range$' "prune of 2100"
out_has '^removed t-max \(max\), last snapshot time 9223372036854775807 out of range$' "prune of INT64_MAX"
for n in t-min t-max t-2100 t-1999 t-ahead; do
	! db_has_node "$n" "$db" || fail "prune left $n"
done
! db_dump_all "$db" | grep -q "	t-2100/" || fail "prune left keys of t-2100: $(db_dump_all "$db" | grep t-2100/)"
db_has_node "$ID1" "$db" || fail "prune of insane times removed $ID1"
tally -s "$db" check
expect 0 "check after the prune of insane times"

# ---- databases that are not good tally databases --------------------------

mkdir "$T/empty" "$T/garbage" "$T/foreign"
# Garbage where data.mdb should be (fixed bytes: the test repeats).
yes 'not an lmdb page' | head -c 65536 >"$T/garbage/data.mdb"
# An LMDB environment of someone else.
printf 'VERSION=3\nformat=print\ntype=btree\nHEADER=END\n colour\n blue\nDATA=END\n' |
    mdb_load "$T/foreign" 2>"$T/mdb_load.err" || fail "mdb_load: $(cat "$T/mdb_load.err")"
# A tally database of a future format.
fmt=$(db_copy future)
db_put meta format 3 "$fmt"
# A data.mdb cut short: its pages are gone (LMDB itself would SIGBUS).
cut=$(db_copy truncated)
truncate -s 8192 "$cut/data.mdb"

declare -A WANT=(
	[$T/missing]='No such file or directory \(it must be an existing directory\)'
	[$T/empty]='no database yet'
	[$T/garbage]='not an LMDB environment'
	[$T/foreign]='not a tally database'
	[$fmt]="database format '3' is not supported"
	# tally's SIGBUS handler, or the store finding it short first.
	[$cut]='(bus error reading data\.mdb: the database is truncated or damaged|damaged \(.*truncated)'
)
for db in "${!WANT[@]}"; do
	for cmd in show 'show --json' 'show x' export "export -o $T/x.prom" \
	    'prune --older-than 1s' 'prune --older-than 1s --dry-run' \
	    'forget x' check; do
		# shellcheck disable=SC2086
		tally -s "$db" $cmd
		expect 1 "$cmd on ${db##*/}"
		err_has "^tally: (statsfile )?$db: .*${WANT[$db]}" "$cmd on ${db##*/}"
	done
	[ ! -e "$T/x.prom" ] || fail "export -o on ${db##*/} wrote a file"
done

# A page LMDB asserts on (abort) in the middle of check's walk: a leaf of
# the stats table, after many keys, flagged a branch page.  The walk runs
# in a child, so check lives to say what is wrong and exits 1, not 134; once
# the store catches the assertion itself, the child says so instead.  The
# page header is LMDB 0.9's (flags at byte 10 on 64-bit): another layout is
# reported and the case left out.
db=$(db_copy assert)
{
	printf 'VERSION=3\nformat=print\ntype=btree\nHEADER=END\n'
	for i in $(seq -w 0 999); do
		printf ' %s/zz.stat%s\n %s\n' "$ID1" "$i" "$i"
	done
	printf 'DATA=END\n'
} | mdb_load -s stats "$db" 2>"$T/mdb_load.err" || fail "mdb_load: $(cat "$T/mdb_load.err")"
psize=$(mdb_stat -e "$db" | sed -n 's/^ *Page size: *//p')
offs=$(grep -obUaF "$ID1/zz.stat999" "$db/data.mdb" | cut -d: -f1)
if [ -z "$psize" ] || [ "$(printf '%s\n' "$offs" | grep -c .)" -ne 1 ]; then
	note "SKIP the LMDB assertion case: page size '$psize', key at '$offs'"
else
	page=$((offs / psize))
	flags=$(od -An -tx1 -j $((page * psize + 10)) -N 2 "$db/data.mdb" | tr -d ' ')
	if [ "$flags" != 0200 ]; then
		note "SKIP the LMDB assertion case: page $page has flags $flags, not a leaf's"
	else
		printf '\001' | dd of="$db/data.mdb" bs=1 seek=$((page * psize + 10)) \
		    conv=notrunc status=none || fail "dd"
		tally -s "$db" check
		expect 1 "check of a page LMDB asserts on"
		grep -qiE "^tally: (statsfile )?$db: .*(damaged|corrupt)" "$T/err" ||
		    fail "check of a page LMDB asserts on: $(cat "$T/err")"
		tame "$T/err" 600 || fail "check of a page LMDB asserts on: $(cat "$T/err")"
		note "check of a page LMDB asserts on: $(tail -n 1 "$T/err")"
		# The readers run in-process: the store's own wall
		# (store.c) turns the assertion into an error, which they
		# print before they fail.
		for cmd in show 'show --json' export; do
			# shellcheck disable=SC2086
			tally -s "$db" $cmd
			expect 1 "$cmd of a page LMDB asserts on"
			grep -qiE "^tally: (statsfile )?$db: .*(damaged|corrupt)" "$T/err" ||
			    fail "$cmd of a page LMDB asserts on: $(cat "$T/err")"
		done
	fi
fi

# Whatever kills the walk's child, check lives to say so, and a signal
# that is no fault (not SEGV, BUS, ABRT, ILL, FPE or TRAP) calls no file
# damaged.  No damage is needed: a child whose report (stdout, a regular
# file) may not grow (ulimit -f 0) dies of SIGXFSZ at its first write,
# while the parent writes only to stderr, a pipe, which the limit does not
# reach.
db=$(db_copy walk-dies)
(ulimit -f 0 && exec timeout -k 5 "$WAIT_TIMEOUT" "$TALLY" -s "$db" check \
    >"$T/out" </dev/null) 2>&1 | cat >"$T/err"
rc=${PIPESTATUS[0]}
expect 1 "check whose walk dies of SIGXFSZ"
err_has "^tally: statsfile $db: not checked: the walk was ended by SIGXFSZ, not by a fault in the file; run tally check again\$" \
    "check whose walk dies of SIGXFSZ"
grep -q damaged "$T/err" && fail "check whose walk dies of SIGXFSZ called the file damaged: $(cat "$T/err")"
tame "$T/err" || fail "check whose walk dies: $(cat "$T/err")"

# No writer was let loose on an empty directory.
[ -z "$(ls "$T/empty")" ] || fail "a command created files in an empty directory: $(ls "$T/empty")"
ls "$T" | grep -q 'x\.prom' && fail "a temporary export file was left: $(ls "$T")"

# ---- usage ----------------------------------------------------------------

tally --version
expect 0 "--version"
out_has '^tally [0-9]+\.[0-9]+\.[0-9]+ \(database format 2\)$' "--version"
tally -h
expect 0 "-h"
out_has '^usage: tally ' "-h"
for args in '' frob 'show --frob' 'export extra' 'prune' 'check extra' '-s' \
    forget 'forget --frob x'; do
	# shellcheck disable=SC2086
	tally $args
	expect 2 "tally $args"
	err_has "^tally: .*\\(try 'tally -h'\\)\$" "tally $args"
done

# ---- messages quote what they are given ------------------------------------

# 100 KB of argument, starting with an escape code, makes a line of a few
# hundred bytes with the escape quoted (error_quote), in every message.
long=$(hostile_arg)
check_tame() {
	tame "$T/err" || fail "$1: stderr is no tame line: $(head -c 600 "$T/err")"
	err_has "$2" "$1"
}
tally -s "$STATS" show "$long"
expect 1 "show of a 100 KB node name"
check_tame "show of a 100 KB node name" "^tally: no node '\\\\x1b\\[31m0+\\.\\.\\.' in $STATS\$"
tally -s "$STATS" "$long"
expect 2 "a 100 KB command"
check_tame "a 100 KB command" "unknown command '\\\\x1b\\[31m0+\\.\\.\\.'"
tally -s "$STATS" prune --older-than "$long"
expect 1 "a 100 KB duration"
check_tame "a 100 KB duration" "bad duration '\\\\x1b"
tally -s "$STATS" show "--$long=x"
expect 2 "a 100 KB option"
check_tame "a 100 KB option" "unknown option '--\\\\x1b"
tally -s "$STATS" forget "$long"
expect 2 "a 100 KB node id for forget"
check_tame "a 100 KB node id for forget" "invalid node id '\\\\x1b\\[31m0+\\.\\.\\.'"
tally -s "$STATS" export "$long"
expect 2 "a 100 KB argument of export"
check_tame "a 100 KB argument of export" "unexpected argument '\\\\x1b"
tally -s "$long" show
expect 1 "a 100 KB statsfile"
check_tame "a 100 KB statsfile" "^tally: statsfile \\\\x1b\\[31m0+\\.\\.\\.: "
esc=$(printf '\033[31m')
statsfile="$T/$esc-missing" tally show
expect 1 "a statsfile with an escape code, from the environment"
check_tame "a statsfile with an escape code" "^tally: statsfile $T/\\\\x1b\\[31m-missing: No such file"
tally -s "$STATS" export -o "$T/nodir/$esc.prom"
expect 1 "export -o a file with an escape code"
check_tame "export -o a file with an escape code" "^tally: $T/nodir/\\\\x1b\\[31m\\.prom: cannot make a temporary file beside it: No such file"

# ---- stdout that takes nothing -----------------------------------------
# --help, --version and the plugin's list on a full disk or a closed
# stdout: exit non-zero and say so, as every command's output does.
for prog in "$TALLY --version" "$TALLY -h" "$TALLYD --version" \
    "$TALLYD --help" "$PLUGIN list"; do
	want=1
	case $prog in "$PLUGIN"*) want=2 ;; esac
	for sink in full closed; do
		if [ $sink = full ]; then
			timeout 20 $prog >/dev/full 2>"$T/err"
		else
			timeout 20 $prog >&- 2>"$T/err"
		fi
		rc=$?
		expect $want "$prog to a $sink stdout"
		err_has ": writing to stdout: (No space left on device|Bad file descriptor)\$" \
		    "$prog to a $sink stdout"
	done
done

# The plugin's autoconf answers exit 0 always, as munin wants, and says
# what it could not write.
timeout 20 env statsfile="$STATS" "$PLUGIN" autoconf >/dev/full 2>"$T/err"
rc=$?
expect 0 "autoconf to a full stdout"
err_has ": writing to stdout: No space left on device\$" \
    "autoconf to a full stdout"

# ---- export -o: limits of the file -------------------------------------
# A file-size limit fails the write (EFBIG), said, with no temporary file
# left beside FILE (SIGXFSZ killed it, leaving FILE.tmp.PID); a name of
# 250 bytes is written (FILE.tmp.PID was past NAME_MAX).
mkdir "$T/lim"
(ulimit -f 0 && exec "$TALLY" -s "$STATS" export -o "$T/lim/t.prom" \
    </dev/null) 2>&1 | cat >"$T/err"	# stderr a pipe, past the limit
rc=${PIPESTATUS[0]}
expect 1 "export -o past a file-size limit"
err_has "^tally: writing .*\\.tally-export\\.[A-Za-z0-9]{6}: File too large\$" \
    "export -o past a file-size limit"
[ -z "$(ls -A "$T/lim")" ] ||
    fail "export -o past a file-size limit left: $(ls -A "$T/lim")"
# A SIGTERM while the temporary file is there (raised from the rename, by
# a preloaded rename of our own: the moment is the same every run) ends
# export by that signal, and the file goes with it.
cat >"$T/rename-term.c" <<'EOF'
#include <signal.h>
int
rename(const char *from, const char *to)
{
	(void)from;
	(void)to;
	raise(SIGTERM);
	return -1;
}
EOF
if ${CC:-cc} -shared -fPIC -o "$T/rename-term.so" "$T/rename-term.c" \
    2>"$T/cc.err"; then
	ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0 \
	    LD_PRELOAD="$T/rename-term.so" "$TALLY" -s "$STATS" export \
	    -o "$T/lim/t.prom" </dev/null >/dev/null 2>"$T/err"
	rc=$?
	expect 143 "export -o ended by SIGTERM"
	[ -z "$(ls -A "$T/lim")" ] ||
	    fail "export -o ended by SIGTERM left: $(ls -A "$T/lim")"
else
	fail "cannot build a preloaded rename: $(cat "$T/cc.err")"
fi
long=$(printf 'f%.0s' $(seq 250))
tally -s "$STATS" export -o "$T/lim/$long"
expect 0 "export -o a name of 250 bytes"
[ "$(ls -A "$T/lim")" = "$long" ] ||
    fail "export -o a name of 250 bytes left: $(ls -A "$T/lim")"

note "show, export, prune, forget and check on two demo nodes"
exit 0
