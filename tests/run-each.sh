#!/bin/sh
# Runs test binaries, prints "N passed, N failed" over the binaries, fails if any failed.
kind=$1; shift
pass=0; fail=0
for t in "$@"; do
	echo "== $kind $(basename "$t")"
	if "$t"; then pass=$((pass + 1)); else echo "FAILED: $t"; fail=$((fail + 1)); fi
done
echo "$kind: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
