#!/bin/sh
# End-to-end tests: real BPF, real sockets, as root, each test file in its own network namespace.
cd "$(dirname "$0")/../.." || exit 1
if [ "$(id -u)" -ne 0 ]; then
	echo "e2e: the end-to-end tests load BPF programs: run as root (sudo make test)" >&2
	exit 1
fi
status=0
for t in tests/e2e/test_*.py tests/e2e/test_*.sh; do
	[ -e "$t" ] || continue
	echo "== $t"
	case "$t" in
	*.py) python3 "$t" || status=1 ;;
	*.sh) sh "$t" || status=1 ;;
	esac
done
exit $status
