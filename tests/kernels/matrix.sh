#!/bin/sh
# The kernel matrix: boots Debian's cloud kernels (12's stock 6.1, and 6.12) under qemu (TCG)
# with an initramfs holding busybox, ./tcptrail with its libraries and the guest checks
# (tests/kernels/guest.sh), and reads their results from the serial console.
#
#   TT_KERNELS="6.1 6.12"   the kernel series to boot (the newest cloud-amd64 package of each)
#   TT_MATRIX=0             skip the matrix
#   TT_KERNEL_CACHE=DIR     downloaded packages and their kernels (/var/cache/tcptrail/kernels)
#   TT_KERNEL_TIMEOUT=300   seconds per kernel before the guest counts as hung
#
# Without apt access the matrix fails under CI=true, and is skipped with a warning otherwise.
# Consoles go to .output/kernels/console-SERIES.log. Called by `make matrix` (after the build).
set -eu
cd "$(dirname "$0")/../.."

out=.output/kernels
helper=$out/guest_traffic
cache=${TT_KERNEL_CACHE:-/var/cache/tcptrail/kernels}
kernels=$(echo "${TT_KERNELS:-6.1 6.12}" | tr , " ")
limit=${TT_KERNEL_TIMEOUT:-300}
checks="load events accept io filters stuck snapshot-noconfig snapshot-config replay"

say() { echo "matrix: $*"; }

# Something the matrix needs is missing: an error in CI, a skipped matrix elsewhere.
unavailable() {
	if [ "${CI:-}" = true ]; then
		say "FAIL: $*" >&2
		exit 1
	fi
	say "WARNING: $*; kernel matrix skipped" >&2
	exit 0
}

if [ "${TT_MATRIX:-1}" = 0 ]; then
	say "skipped (TT_MATRIX=0)"
	exit 0
fi
for tool in qemu-system-x86_64 cpio gzip dpkg-deb apt-cache apt-get timeout; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		unavailable "$tool is not installed (sh tests/deps.sh)"
	fi
done
[ -x /bin/busybox ] || unavailable "/bin/busybox is missing (apt-get install busybox-static)"
if [ ! -x ./tcptrail ] || [ ! -x "$helper" ]; then
	say "build first: make matrix-build" >&2
	exit 1
fi
case $cache in *[[:space:]]*)
	say "TT_KERNEL_CACHE must not contain white space" >&2
	exit 1
	;;
esac
mkdir -p "$out" "$cache" 2>/dev/null || unavailable "cannot create the kernel cache $cache"
[ -w "$cache" ] || unavailable "the kernel cache $cache is not writable (TT_KERNEL_CACHE)"

# Package names of a series: Debian 12's 6.1 is linux-image-6.1.0-ABI-cloud-amd64-unsigned,
# the backported ones linux-image-6.12.N+deb12-cloud-amd64-unsigned.
pkg_regex() {
	v=$(echo "$1" | sed 's/\./\\./g')
	echo "^linux-image-$v(\\.0-[0-9]+|\\.[0-9]+\\+deb[0-9]+)-cloud-amd64-unsigned\$"
}

candidates() {
	apt-cache pkgnames linux-image- 2>/dev/null | grep -E "$(pkg_regex "$1")" | sort -rV || true
}

# Unpacks a package's kernel and config into $cache/PKG/ (once).
unpack() {
	deb=$1 dir=$cache/$2
	[ -d "$dir" ] && return 0
	tmp=$(mktemp -d "$cache/.unpack.XXXXXX")
	if ! dpkg-deb -x "$deb" "$tmp"; then
		rm -rf "$tmp"
		return 1
	fi
	mkdir "$tmp/keep"
	if ! mv "$tmp"/boot/vmlinuz-* "$tmp"/boot/config-* "$tmp/keep/"; then
		say "$deb has no boot/vmlinuz-* and boot/config-*" >&2
		rm -rf "$tmp"
		return 1
	fi
	mv "$tmp/keep" "$dir"
	rm -rf "$tmp"
}

# Prints the cache directory with the newest kernel of series $1, downloading it if needed.
fetch_kernel() {
	series=$1
	for pkg in $(candidates "$series"); do
		if [ -d "$cache/$pkg" ]; then
			echo "$cache/$pkg"
			return 0
		fi
		set -- "$cache/${pkg}"_*.deb
		if [ ! -f "$1" ]; then
			say "downloading $pkg" >&2
			# As root apt's sandbox user could not write to the cache: no sandbox.
			sandbox=
			[ "$(id -u)" != 0 ] || sandbox=-oAPT::Sandbox::User=root
			(cd "$cache" && apt-get download -qq ${sandbox:+"$sandbox"} "$pkg" >&2) ||
				continue
			set -- "$cache/${pkg}"_*.deb
		fi
		[ -f "$1" ] && unpack "$1" "$pkg" >&2 && echo "$cache/$pkg" && return 0
	done
	# No apt access: the newest kernel of the series already unpacked, if any.
	for dir in $(find "$cache" -mindepth 1 -maxdepth 1 -type d -name 'linux-image-*' |
		sort -rV); do
		if basename "$dir" | grep -Eq "$(pkg_regex "$series")"; then
			say "WARNING: cannot download a $series kernel;" \
				"using the cached $(basename "$dir")" >&2
			echo "$dir"
			return 0
		fi
	done
	return 1
}

# Copies a file to the same path under the initramfs root $root, resolving symbolic links.
put() {
	mkdir -p "$root$(dirname "$1")"
	cp -L "$1" "$root$1"
}

# A program and every library it loads (at the paths ldd gives, the dynamic loader included).
put_with_libs() {
	for lib in $(ldd "$1" 2>/dev/null | sed -n -e 's/.*=> \(\/[^ ]*\) .*/\1/p' \
		-e 's/^[[:space:]]*\(\/[^ ]*\) .*/\1/p'); do
		put "$lib"
	done
}

# Builds $out/initrd-SERIES.gz for the kernel in $1 (its config goes to /kconfig).
make_initrd() {
	kdir=$1 initrd=$2
	root=$out/root-$series
	rm -rf "$root"
	mkdir -p "$root/bin" "$root/dev" "$root/etc" "$root/proc" "$root/sys" "$root/tmp" \
		"$root/sbin" "$root/usr/bin" "$root/usr/sbin"
	cp /bin/busybox "$root/bin/busybox"
	put_with_libs /bin/busybox
	cp ./tcptrail "$root/tcptrail"
	put_with_libs ./tcptrail
	cp "$helper" "$root/bin/guest_traffic"
	put_with_libs "$helper"
	cp /etc/services "$root/etc/services"
	cp tests/kernels/guest.sh "$root/guest.sh"
	cp "$kdir"/config-* "$root/kconfig"
	cat >"$root/init" <<-'EOF'
		#!/bin/busybox sh
		/bin/busybox --install -s
		mount -t devtmpfs devtmpfs /dev 2>/dev/null
		exec </dev/console >/dev/console 2>&1
		sh /guest.sh
		echo "TT-GUEST-EXIT $?"
		poweroff -f
	EOF
	chmod 0755 "$root/init"
	(cd "$root" && find . | cpio -o -H newc -R 0:0 --quiet) | gzip -1 >"$initrd"
	rm -rf "$root"
}

# Boots a kernel with an initrd, the console in $log: timeout's status (124: timed out).
boot() {
	vmlinuz=$1 initrd=$2
	timeout -k 5 "$limit" qemu-system-x86_64 -machine q35,accel=tcg -cpu max -m 1024 -smp 2 \
		-nographic -no-reboot -kernel "$vmlinuz" -initrd "$initrd" \
		-append "console=ttyS0 panic=-1 quiet" </dev/null >"$log" 2>&1
}

# The package lists are refreshed once, if they lack a series.
for series in $kernels; do
	if [ -z "$(candidates "$series")" ]; then
		say "no $series cloud kernel in the package lists: apt-get update"
		apt-get update -qq || true
		break
	fi
done

status=0
table=$out/summary.txt
: >"$table"
printf '%-30s' KERNEL >>"$table"
for c in $checks; do printf ' %-17s' "$c" >>"$table"; done
printf ' %5s\n' SECS >>"$table"
# Every kernel first: a missing one skips the whole matrix, never the rest of it after a failure.
found=
for series in $kernels; do
	if ! kdir=$(fetch_kernel "$series"); then
		unavailable "no Debian $series cloud kernel could be downloaded (apt-get download)"
	fi
	found="$found $series=$kdir"
done

for pair in $found; do
	series=${pair%%=*} kdir=${pair#*=}
	initrd=$out/initrd-$series.gz
	log=$out/console-$series.log
	make_initrd "$kdir" "$initrd"
	say "booting $(basename "$kdir") (console: $log)"
	start=$(date +%s)
	boot_rc=0
	boot "$kdir"/vmlinuz-* "$initrd" || boot_rc=$?
	secs=$(($(date +%s) - start))
	# Carriage returns, and the escape sequences of the firmware's screen clearing.
	sed -e 's/\r//g' -e 's/\x1b\[[0-9;?]*[A-Za-z]//g' -e 's/\x1bc/\n/g' "$log" >"$log.tmp"
	mv "$log.tmp" "$log"
	version=$(sed -n 's/^TT-KERNEL //p' "$log" | head -n 1)
	printf '%-30s' "${version:-$series (no guest)}" >>"$table"
	none=
	for c in $checks; do
		r=$(awk -v c="$c" '$1 == "TT-RESULT" && $2 == c { print $3; exit }' "$log")
		[ "$r" = PASS ] || status=1
		[ -n "$r" ] || none="$none $c"
		printf ' %-17s' "${r:--}" >>"$table"
	done
	[ -z "$none" ] || say "$series: no result for:$none" >&2
	printf ' %5s\n' "$secs" >>"$table"
	grep '^TT-RESULT .* FAIL' "$log" | sed "s/^/  $series: /" || true
	grep -e '^TT-INFO ' -e '^TT-LOG guest:' "$log" | sed "s/^/  $series: /" || true
	if [ "$boot_rc" = 124 ] || [ "$boot_rc" = 137 ]; then
		say "$series: timed out after $limit s" >&2
		status=1
	fi
	if ! grep -q '^TT-DONE' "$log"; then
		say "$series: the guest never printed TT-DONE (qemu exit $boot_rc);" \
			"its last 40 lines:" >&2
		tail -n 40 "$log" >&2
		status=1
	fi
done
echo
cat "$table"
if [ "$status" != 0 ]; then
	say "FAILED (consoles in $out/console-*.log)" >&2
	exit 1
fi
say "all checks passed"
