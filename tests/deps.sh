#!/bin/sh
# Installs the Debian packages tcptrail needs to build, run and test, if any are missing.
# nginx, gunicorn, curl and systemd (systemd-socket-activate) are real servers for tests/e2e/test_owner.py;
# nftables drops packets for tests/e2e/test_causes.py (connect timeouts, retransmits).
set -e
pkgs="make gcc clang clang-format llvm libclang-rt-14-dev pkg-config libbpf-dev libelf-dev zlib1g-dev bpftool
libcmocka-dev python3 iproute2 net-tools valgrind
nginx gunicorn curl systemd nftables"
# libmicrohttpd-dev builds the --metrics server; prometheus (with promtool), logrotate and
# python3-yaml test it and the deploy/ files (tests/e2e/test_metrics.py, tests/e2e/test_deploy.py).
pkgs="$pkgs libmicrohttpd-dev prometheus logrotate python3-yaml"
# qemu-system-x86, busybox-static and cpio boot Debian's kernels for the kernel matrix
# (tests/kernels/matrix.sh).
pkgs="$pkgs qemu-system-x86 busybox-static cpio"
[ "${1:-}" = "--bench" ] && pkgs="$pkgs libbpf-tools"
missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
	echo "tcptrail: missing Debian packages:$missing; run as root (sudo) to install them" >&2
	exit 1
fi
echo "Installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
