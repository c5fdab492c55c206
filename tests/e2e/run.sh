#!/bin/sh
# End-to-end tests: real BPF, real sockets, as root, each test file in its own network namespace.
cd "$(dirname "$0")/../.." || exit 1
if [ "$(id -u)" -ne 0 ]; then
	echo "e2e: the end-to-end tests load BPF programs: run as root (sudo make test)" >&2
	exit 1
fi
# Every test starts the tracer: if this kernel cannot load it, say so once, with the reason,
# instead of failing each test with the same traceback. A refused optional part fails too.
pre=$(unshare -n ./tcptrail -d 0.1 --port 1 2>&1 >/dev/null)
rc=$?
if [ $rc -ne 0 ] || echo "$pre" | grep -q "refused"; then
	echo "e2e: the tracer does not load cleanly on this kernel ($(uname -r)); no end-to-end test" >&2
	echo "e2e: can run until it does. tcptrail said:" >&2
	echo "$pre" | sed 's/^/e2e:   /' >&2
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
