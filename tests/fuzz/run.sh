#!/bin/sh
# Runs each libFuzzer binary for a bounded time from its seed corpus (tests/fuzz/corpus/NAME).
# Seeds are copied to a scratch dir so new inputs never land in the repo. A crashing input is
# kept in .output/fuzz/artifacts/ (reproduce: BINARY ARTIFACT).
secs=$1; shift
status=0
keep=.output/fuzz/artifacts
for f in "$@"; do
	name=$(basename "$f")
	seeds="tests/fuzz/corpus/${name#fuzz_}"
	work=$(mktemp -d)
	mkdir "$work/corpus" "$work/art"
	[ -d "$seeds" ] && cp -r "$seeds"/. "$work/corpus"/ 2>/dev/null
	if "$f" -max_total_time="$secs" -max_len=65536 -timeout=10 -print_final_stats=1 \
		-artifact_prefix="$work/art/" "$work/corpus" >"$work/log" 2>&1; then
		runs=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$work/log")
		echo "fuzz $name: ok (${runs:-?} runs in ${secs}s)"
	else
		echo "fuzz $name: FAILED"
		tail -40 "$work/log"
		mkdir -p "$keep"
		for a in "$work"/art/*; do
			[ -e "$a" ] || continue
			cp "$a" "$keep/$name-$(basename "$a")"
			echo "artifact: $keep/$name-$(basename "$a")"
		done
		status=1
	fi
	rm -rf "$work"
done
exit $status
