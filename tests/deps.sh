#!/bin/sh
# Installs the Debian packages tcptrail needs, if any are missing: to build and run it with
# --run (sudo make run), also to test it by default (sudo make test), also the peers the
# benchmarks compare against with --bench.
set -e
# The build: clang and bpftool for the BPF objects and skeletons, python3 for the build's BPF
# check (tests/bpfcheck.py), libmicrohttpd-dev for the --metrics server, dpkg-dev for make deb
# (dpkg-buildflags, dpkg-shlibdeps, dpkg-gencontrol).
build="make gcc clang llvm pkg-config libbpf-dev libelf-dev zlib1g-dev bpftool libmicrohttpd-dev python3
dpkg-dev"
# The tests: nginx, gunicorn, curl, systemd (systemd-socket-activate) and haproxy are real servers for
# tests/e2e/test_owner.py; nftables drops packets for tests/e2e/test_causes.py (connect timeouts,
# retransmits); prometheus (with promtool), logrotate and python3-yaml test --metrics and the
# deploy/ files; qemu-system-x86, busybox-static and cpio boot Debian's kernels for the kernel
# matrix (tests/kernels/matrix.sh); chromium opens the page of replay --html
# (tests/e2e/test_html.py); lintian checks the package of make deb and podman builds and runs the
# image of make image (tests/pkg/), with runc where crun refuses hybrid cgroups.
test="clang-format libclang-rt-14-dev libcmocka-dev iproute2 net-tools valgrind chromium
nginx gunicorn curl systemd haproxy nftables prometheus logrotate python3-yaml
qemu-system-x86 busybox-static cpio lintian podman runc"
case "${1:-}" in
--run) pkgs=$build ;;
--bench) pkgs="$build $test libbpf-tools" ;;
*) pkgs="$build $test" ;;
esac
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
