#!/bin/sh
# make image: the OCI image IMAGE:VERSION (default registry.example/tcptrail, the name the
# DaemonSet uses), with podman, offline. Its root file system is made from what this machine
# has: the files of tcptrail_VERSION_ARCH.deb (make deb) that the agent needs, the shared
# libraries the program loads (as ldd finds them, each at its path, /lib a link to usr/lib as
# on Debian), /etc/services (service names), a passwd/group naming root, and the copyright
# files of every Debian package those files come from. Then FROM scratch (Containerfile).
# Usage (from the top of the repository): sh deploy/image/build-image.sh VERSION OUTDIR
set -eu
version=$1
out=$2
image=${IMAGE:-registry.example/tcptrail}
arch=$(dpkg --print-architecture)
deb=tcptrail_${version}_${arch}.deb
ctx=$out/context
root=$ctx/rootfs

command -v podman >/dev/null || {
	echo "make image: podman is missing (apt-get install podman)" >&2
	exit 1
}
[ -f "$deb" ] || {
	echo "make image: no $deb (make deb)" >&2
	exit 1
}
rm -rf "$out"
mkdir -p "$root/usr/lib" "$root/usr/lib64" "$root/etc" "$root/var/log/tcptrail" \
	"$root/usr/share/doc"
ln -s usr/lib "$root/lib"
ln -s usr/lib64 "$root/lib64"
dpkg-deb -x "$deb" "$out/deb"
install -D -m 0755 "$out/deb/usr/sbin/tcptrail" "$root/usr/sbin/tcptrail"
mkdir -p "$root/usr/share/doc/tcptrail"
cp "$out/deb/usr/share/doc/tcptrail/copyright" "$root/usr/share/doc/tcptrail/"

# The libraries, and the dynamic loader (ldd's line without "=>").
ldd "$root/usr/sbin/tcptrail" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}' |
	sort -u >"$out/libs"
while read -r lib; do
	# merged /usr: /lib/x86_64-linux-gnu/libc.so.6 is /usr/lib/x86_64-linux-gnu/libc.so.6
	dest=$root/usr${lib#/usr}
	mkdir -p "$(dirname "$dest")"
	cp -L "$lib" "$dest"
	echo "$lib" >>"$out/files"
done <"$out/libs"
cp /etc/services "$root/etc/services"
echo /etc/services >>"$out/files"
echo "root:x:0:0:root:/:/usr/sbin/nologin" >"$root/etc/passwd"
echo "root:x:0:" >"$root/etc/group"

# The licences of what was copied: each file's Debian package's copyright file.
while read -r f; do
	p=$(dpkg -S "$(realpath "$f")" 2>/dev/null || dpkg -S "$f" 2>/dev/null || true)
	p=${p%%:*}
	[ -n "$p" ] && [ -f "/usr/share/doc/$p/copyright" ] || continue
	mkdir -p "$root/usr/share/doc/$p"
	cp "/usr/share/doc/$p/copyright" "$root/usr/share/doc/$p/copyright"
done <"$out/files"

cp deploy/image/Containerfile "$ctx/Containerfile"
# Reproducible: every timestamp is the last commit's.
when=$(git log -1 --format=%ct 2>/dev/null || date +%s)
podman build --pull=never --timestamp "$when" \
	--label org.opencontainers.image.title=tcptrail \
	--label org.opencontainers.image.version="$version" \
	--label org.opencontainers.image.description="eBPF tracer of TCP connection states" \
	-t "$image:$version" -f "$ctx/Containerfile" "$ctx" >"$out/build.log" 2>&1 || {
	cat "$out/build.log" >&2
	exit 1
}
size=$(podman image inspect --format '{{.Size}}' "$image:$version")
echo "$image:$version: $((size / 1024)) KiB, $(wc -l <"$out/libs") libraries"
