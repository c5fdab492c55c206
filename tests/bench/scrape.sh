#!/bin/sh
# Metrics scrape benchmark (as root): SCRAPE_SOCKETS (100000) TCP sockets held by one process in
# a private netns (tests/e2e/mksockets.c), then `tcptrail -q --metrics` started beside them (its
# start-up walk seeds the gauges with every one of them) and scraped SCRAPE_REPS (20) times over
# HTTP: 5 scrapes 3 s apart (each walks every namespace's sockets again), then SCRAPE_REPS back
# to back in text and OpenMetrics (served from the last walk). Prints a markdown table of median
# and max scrape times (curl's time_total) and sizes, the walk's own time, the tracer's
# start-up time (seeding the gauges from those sockets) and its RSS.
# Not a test: nothing is asserted. Reproduce: sudo sh tests/bench/scrape.sh
cd "$(dirname "$0")/../.." || exit 1
. tests/bench/held_sockets.sh
bench_enter scrape "$@"

N=${SCRAPE_SOCKETS:-100000}
REPS=${SCRAPE_REPS:-20}
PORT=${SCRAPE_PORT:-19717}
hold_sockets "$N"

t0=$(date +%s%N)
./tcptrail -q --metrics "127.0.0.1:$PORT" 2>"$dir/err" &
tracer=$!
until grep -q Tracing "$dir/err" 2>/dev/null; do
	kill -0 "$tracer" 2>/dev/null || { cat "$dir/err" >&2; exit 1; }
	sleep 0.01
done
t1=$(date +%s%N)
start_ms=$(((t1 - t0) / 1000000))

# "median max bytes" of $2 scrapes (ms), Accept: $1, $3 seconds apart.
scrape() {
	: >"$dir/t"
	r=0
	while [ $r -lt "$2" ]; do
		[ "$3" = 0 ] || sleep "$3"
		curl -s -o "$dir/body" -w '%{time_total}\n' -H "Accept: $1" \
			"http://127.0.0.1:$PORT/metrics" >>"$dir/t"
		grep '^tcptrail_socket_walk_seconds' "$dir/body" | awk '{ print $2 * 1000 }' >>"$dir/w"
		r=$((r + 1))
	done
	sort -n "$dir/t" | awk -v b="$(wc -c <"$dir/body")" '{ v[NR] = $1 * 1000 }
		END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2;
		      printf "%.1f %.1f %d\n", m, v[NR], b }'
}

: >"$dir/w"
# Scrapes far enough apart that each walks the sockets again (a walk waits 9x its duration).
walked=$(scrape "text/plain" 5 3)
walk=$(sort -n "$dir/w" | awk '{ v[NR] = $1 } END { printf "%.1f", v[int((NR + 1) / 2)] }')
text=$(scrape "text/plain" "$REPS" 0)
om=$(scrape "application/openmetrics-text;version=1.0.0" "$REPS" 0)
gauge=$(grep '^tcptrail_sockets{state="ESTABLISHED",family="ipv4"}' "$dir/body" | awk '{print $2}')
nns=$(ls -L -i /proc/[0-9]*/ns/net 2>/dev/null | awk '{ print $1 }' | sort -u | wc -l)
rss=$(awk '/^VmRSS/ { print $2 }' "/proc/$tracer/status")
echo "### Metrics scrape: $count sockets in one netns (the gauge says $gauge established), $nns namespaces on the machine"
echo
echo "| scrape | median ms | max ms | bytes |"
echo "|---|---:|---:|---:|"
echo "$walked" | awk '{ printf "| text, each walking the sockets again (5, 3 s apart) | %s | %s | %s |\n", $1, $2, $3 }'
echo "$text" | awk -v n="$REPS" '{ printf "| text, %d back to back (between walks) | %s | %s | %s |\n", n, $1, $2, $3 }'
echo "$om" | awk -v n="$REPS" '{ printf "| OpenMetrics, %d back to back | %s | %s | %s |\n", n, $1, $2, $3 }'
echo
echo "The walk of every namespace's sockets (tcptrail_socket_walk_seconds), median: $walk ms."
echo "Tracer start-up with the gauges seeded from those sockets: $start_ms ms; VmRSS after the scrapes: $rss KiB."
kill -INT "$tracer"
wait "$tracer"
release_sockets
