#!/bin/sh
# The packaging tests: the completion against the program (no root), the .deb installed and
# removed on this machine, the OCI image run as the DaemonSet runs it (root; each says SKIP
# with its reason where it cannot run). Each test ends with one PASS, FAIL or SKIP line.
cd "$(dirname "$0")/../.." || exit 1
status=0
for t in tests/pkg/test_*; do
	echo "== $t"
	case "$t" in
	*.py) python3 "$t" || status=1 ;;
	*.sh) sh "$t" || status=1 ;;
	esac
done
exit $status
