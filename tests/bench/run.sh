#!/bin/sh
# tcptrail benchmarks (`make bench`, as root): connection churn untraced vs traced by tcptrail
# and by libbpf-tools tcpstates, in-kernel ns per event, tracer CPU per million events, RSS
# after 10M events, 1-byte request/response (ping-pong) untraced vs traced with the ns per run of
# each tcptrail program, the state handler's BPF time per transition (tests/bench/transitions.sh)
# and the snapshot benchmark (tests/bench/snapshot.sh) when present.
# Prints a markdown table (medians of BENCH_REPS runs); knobs are listed in tests/bench/bench.py.
# Reproduce: sudo make bench   (or BENCH_REPS=5 BENCH_SECONDS=10 sudo make bench)
# Some sections only: sh tests/bench/run.sh SECTION... (churn graceful kernel rss fmt pingpong syscalls
# snapshot scrape html transitions), e.g. `sudo sh tests/bench/run.sh pingpong` after make bench has built everything,
# or `sudo make bench BENCH_ONLY=pingpong`.
cd "$(dirname "$0")/../.." || exit 1
# Arguments (or BENCH_ONLY, comma-separated) name the sections to run; snapshot is this
# script's, the others are bench.py's.
sections="$*"
[ -n "$sections" ] || sections=$(echo "$BENCH_ONLY" | tr ',' ' ')
snapshot=1
scrape=1
html=1
transitions=1
if [ -n "$sections" ]; then
	BENCH_ONLY=
	snapshot=0
	scrape=0
	html=0
	transitions=0
	for s in $sections; do
		if [ "$s" = snapshot ]; then
			snapshot=1
		elif [ "$s" = scrape ]; then
			scrape=1
		elif [ "$s" = html ]; then
			html=1
		elif [ "$s" = transitions ]; then
			transitions=1
		else
			BENCH_ONLY="${BENCH_ONLY:+$BENCH_ONLY,}$s"
		fi
	done
	# Only the snapshot, the scrape, the page or the transitions: bench.py has nothing to run.
	[ -n "$BENCH_ONLY" ] || BENCH_ONLY=none
fi
export BENCH_ONLY
if [ "$(id -u)" -ne 0 ]; then
	echo "bench: loads BPF programs and makes network namespaces: run as root (sudo make bench)" >&2
	exit 1
fi
sh tests/deps.sh --bench || exit 1
[ -x tcptrail ] && [ -x .output/bench/churn ] && [ -x .output/bench/pingpong ] || {
	echo "bench: build first: make bench" >&2
	exit 1
}
# tcpstates attaches a plain tracepoint, which needs tracefs.
if [ ! -d /sys/kernel/tracing/events ]; then
	mount -t tracefs nodev /sys/kernel/tracing || {
		echo "bench: cannot mount tracefs on /sys/kernel/tracing" >&2
		exit 1
	}
fi
mkdir -p .output/bench
if [ "$BENCH_ONLY" = none ]; then
	: >.output/bench/results.md
else
	BENCH_OUT=.output/bench/results.md python3 tests/bench/bench.py || exit 1
fi
if [ "$snapshot" = 0 ]; then
	:
elif [ -f tests/bench/snapshot.sh ]; then
	echo
	sh tests/bench/snapshot.sh | tee .output/bench/snapshot.md
	cat .output/bench/snapshot.md >> .output/bench/results.md
else
	echo
	echo "### Snapshot: n/a (tests/bench/snapshot.sh not present)" | tee -a .output/bench/results.md
fi
# Where the state handler's time goes, per transition (a measurement build).
if [ "$transitions" = 1 ]; then
	echo
	sh tests/bench/transitions.sh | tee .output/bench/transitions.md
	cat .output/bench/transitions.md >> .output/bench/results.md
fi
# The --metrics scrape with 100k sockets (tests/bench/scrape.sh).
if [ "$scrape" = 1 ]; then
	echo
	sh tests/bench/scrape.sh | tee .output/bench/scrape.md
	cat .output/bench/scrape.md >> .output/bench/results.md
fi
# replay --html of a generated 1M-event recording: time, peak RSS, page size (tests/bench/html.py).
if [ "$html" = 1 ]; then
	echo
	python3 tests/bench/html.py | tee .output/bench/html.md
	cat .output/bench/html.md >> .output/bench/results.md
fi
echo
echo "bench: table saved to .output/bench/results.md"
