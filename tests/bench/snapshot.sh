#!/bin/sh
# Snapshot benchmark (as root): SNAP_SOCKETS (100000) TCP sockets held by one process in a
# private netns, then `tcptrail snapshot -an` / `-anp` against `ss -tan`, `ss -tanp`,
# `netstat -tan`, `netstat -tanp`. Prints a markdown table of median wall times over SNAP_REPS
# (5) runs and each tool's time as a ratio of tcptrail's (ratio > 1: tcptrail is faster).
# Not a test: nothing is asserted. Reproduce: sudo sh tests/bench/snapshot.sh
cd "$(dirname "$0")/../.." || exit 1
. tests/bench/held_sockets.sh
bench_enter snapshot "$@"

N=${SNAP_SOCKETS:-100000}
REPS=${SNAP_REPS:-5}
hold_sockets "$N"

# Median wall time in ms of REPS runs of "$@", output discarded.
median_ms() {
	: >"$dir/t"
	r=0
	while [ $r -lt "$REPS" ]; do
		t0=$(date +%s%N)
		"$@" >/dev/null 2>&1
		t1=$(date +%s%N)
		echo $(((t1 - t0) / 1000000)) >>"$dir/t"
		r=$((r + 1))
	done
	sort -n "$dir/t" | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : int((v[NR / 2] + v[NR / 2 + 1]) / 2) }'
}

# One line per command: name, median, ratio against the tcptrail baseline.
row() {
	base=$1
	shift
	name=$1
	shift
	if ! command -v "$1" >/dev/null 2>&1; then
		printf '| %-28s | %10s | %8s |\n' "$name" "n/a" "n/a"
		return
	fi
	ms=$(median_ms "$@")
	ratio=$(awk -v a="$ms" -v b="$base" 'BEGIN { printf "%.2fx", (b > 0 ? a / b : 0) }')
	printf '| %-28s | %10s | %8s |\n' "$name" "$ms" "$ratio"
}

snap=$(median_ms ./tcptrail snapshot -an)
snapp=$(median_ms ./tcptrail snapshot -anp)
echo "### Snapshot: $count sockets in one netns, median of $REPS runs"
echo
echo "| command                      | median ms  | vs tcptrail |"
echo "|------------------------------|-----------:|---------:|"
printf '| %-28s | %10s | %8s |\n' "tcptrail snapshot -an" "$snap" "1.00x"
row "$snap" "ss -tan" ss -tan
row "$snap" "netstat -tan" netstat -tan
printf '| %-28s | %10s | %8s |\n' "tcptrail snapshot -anp" "$snapp" "1.00x"
row "$snapp" "ss -tanp" ss -tanp
row "$snapp" "netstat -tanp" netstat -tanp
echo
echo "Ratios: the other tool's median divided by tcptrail's (-an rows against -an, -anp rows against -anp)."

release_sockets
