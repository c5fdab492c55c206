#!/bin/sh
# Runs each libFuzzer binary for a bounded time from its seed corpus (tests/fuzz/corpus/NAME).
secs=$1; shift
status=0
for f in "$@"; do
	name=$(basename "$f")
	seeds="tests/fuzz/corpus/${name#fuzz_}"
	work=$(mktemp -d)
	[ -d "$seeds" ] && cp -r "$seeds"/. "$work"/ 2>/dev/null
	if "$f" -max_total_time="$secs" -max_len=65536 -timeout=10 -print_final_stats=0 \
		-artifact_prefix="$work/" "$work" >"$work.log" 2>&1; then
		echo "fuzz $name: ok ($(grep -o 'stat::number_of_executed_units: [0-9]*' "$work.log" | grep -o '[0-9]*$' || echo '?') runs)"
	else
		echo "fuzz $name: FAILED"; tail -40 "$work.log"; ls "$work"/crash-* 2>/dev/null
		status=1
	fi
	rm -rf "$work" "$work.log"
done
exit $status
