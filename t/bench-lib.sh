# t/bench-lib.sh: the gatherer benchmarks' shell helpers, sourced by
# t/scale.sh: arithmetic on bash integers, /proc readers, process stops,
# a sleep that forks nothing; t/bench-gatherer.sh sources it too.
#
# The sourcing script sets ME (its name, for messages), an array pids of
# the processes it started (stop removes from it), and bash 5
# (EPOCHREALTIME).  Only bash, coreutils and procps; no awk, bc or python.

# A sleep that forks nothing: a read that times out on an idle pipe.
if { exec {sleep_fd}<> <(:); } 2> /dev/null; then
	nap() { read -r -t "$1" -u "$sleep_fd" _; }
else
	nap() { sleep "$1"; }
fi

# --- arithmetic: bash has integers only --------------------------------

# now_us: REPLY = the wall clock in microseconds.
now_us() {
	local t=$EPOCHREALTIME
	REPLY=$(( 10#${t%.*} * 1000000 + 10#${t#*.} ))
}

# fx NUM DEN DECIMALS: REPLY = NUM / DEN, rounded, with DECIMALS digits.
fx() {
	local num=$1 den=$2 dec=$3 p=1 q i sign=
	if ((num < 0)); then
		sign=-
		num=$((-num))
	fi
	for ((i = 0; i < dec; i++)); do p=$((p * 10)); done
	q=$(( (num * p * 2 + den) / (2 * den) ))
	if ((dec > 0)); then
		printf -v REPLY '%s%d.%0*d' "$sign" $((q / p)) "$dec" $((q % p))
	else
		REPLY=$sign$q
	fi
}

# commas N: REPLY = N with thousands separators, as t/bench prints them.
commas() {
	local n=$1 out=
	while ((n >= 1000)); do
		printf -v out ',%03d%s' $((n % 1000)) "$out"
		n=$((n / 1000))
	done
	REPLY=$n$out
}

# --- processes -------------------------------------------------------------

# status_kib PID FIELD: REPLY = a /proc/PID/status field, in KiB.
status_kib() {
	local k v u
	REPLY=
	while read -r k v u; do
		if [ "$k" = "$2:" ]; then
			REPLY=$v
			return 0
		fi
	done < "/proc/$1/status"
	return 1
}

# cpu_ticks PID: REPLY = user + system clock ticks so far.
cpu_ticks() {
	local line rest
	REPLY=0
	read -r line < "/proc/$1/stat" || return 1
	rest=${line##*) }
	set -- $rest
	# after the command name: state is field 3, utime 14, stime 15
	REPLY=$(( ${12} + ${13} ))
}

alive() {
	kill -0 "$1" 2> /dev/null
}

# stop PID NAME: SIGTERM, wait up to 10 s, SIGKILL; REPLY = exit status.
stop() {
	local pid=$1 i
	kill -TERM "$pid" 2> /dev/null
	for ((i = 0; i < 500; i++)); do
		alive "$pid" || break
		nap 0.02
	done
	if alive "$pid"; then
		echo "$ME: $2 ignored SIGTERM for 10 s; killed" >&2
		kill -KILL "$pid" 2> /dev/null
	fi
	wait "$pid" 2> /dev/null
	REPLY=$?
	local keep=() p
	for p in "${pids[@]}"; do
		[ "$p" = "$pid" ] || keep+=("$p")
	done
	pids=("${keep[@]}")
}

tail_log() {
	echo "--- last lines of $1:" >&2
	tail -n "${2:-15}" "$1" >&2
}
