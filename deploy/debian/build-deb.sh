#!/bin/sh
# make deb: tcptrail_VERSION_ARCH.deb with Debian's own tools. The program is built with
# Debian's hardening flags (dpkg-buildflags) in a build directory of its own, installed with
# `make install DESTDIR=` into a staging tree, which gets the documentation and examples;
# dpkg-shlibdeps computes Depends from the binary's libraries, dpkg-gencontrol writes the
# control file and dpkg-deb builds the package (owned by root, no fakeroot needed).
# Usage (from the top of the repository): sh deploy/debian/build-deb.sh VERSION OUTDIR
set -eu
version=$1
out=$2
make=${MAKE:-make}
arch=$(dpkg --print-architecture)
deb=tcptrail_${version}_${arch}.deb
top=$(pwd)
pkg=$out/pkg
root=$pkg/debian/tcptrail
build=$out/build

rm -rf "$pkg"
mkdir -p "$pkg/debian" "$build"

# Debian's flags, with every hardening feature; CPPFLAGS (_FORTIFY_SOURCE) go with CFLAGS,
# which is all the Makefile passes to the compiler.
export DEB_BUILD_MAINT_OPTIONS=hardening=+all
cflags="$(dpkg-buildflags --get CFLAGS) $(dpkg-buildflags --get CPPFLAGS)"
ldflags=$(dpkg-buildflags --get LDFLAGS)
$make --no-print-directory OUTPUT="$build" BIN="$build/tcptrail" CFLAGS="$cflags" \
	LDFLAGS="$ldflags" install DESTDIR="$top/$root" PREFIX=/usr SYSCONFDIR=/etc \
	SYSTEMD_UNITDIR=/lib/systemd/system >"$out/build.log" 2>&1 || {
	tail -30 "$out/build.log" >&2
	exit 1
}

# What dh_strip, dh_compress, dh_installdocs and dh_installexamples would do.
strip --remove-section=.comment --remove-section=.note "$root/usr/sbin/tcptrail"
gzip -9n "$root/usr/share/man/man8/tcptrail.8"
doc=$root/usr/share/doc/tcptrail
mkdir -p "$doc/examples"
install -m 0644 deploy/debian/copyright "$doc/copyright"
gzip -9n <README.md >"$doc/README.md.gz"
# the reference README.md links to, beside it as in the source tree
mkdir -p "$doc/docs"
for f in docs/*.md; do gzip -9n <"$f" >"$doc/$f.gz"; done
install -m 0644 docs/replay-html.png "$doc/docs/replay-html.png"
install -m 0644 deploy/kubernetes/daemonset.yaml "$doc/examples/daemonset.yaml"
install -m 0644 deploy/prometheus/tcptrail.rules.yml "$doc/examples/tcptrail.rules.yml"
# A native package's changelog: this version, dated by the last commit (reproducible).
when=$(git log -1 --format=%cD 2>/dev/null || date -R)
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
maint=$(sed -n 's/^Maintainer: //p' deploy/debian/control)
cat >"$pkg/debian/changelog" <<END
tcptrail ($version) unstable; urgency=medium

  * Built from the tcptrail repository at commit $commit.

 -- $maint  $when
END
gzip -9n <"$pkg/debian/changelog" >"$doc/changelog.gz"
cp deploy/debian/control "$pkg/debian/control"

mkdir -p "$root/DEBIAN"
for s in postinst prerm postrm; do
	install -m 0755 "deploy/debian/$s" "$root/DEBIAN/$s"
done
# Every file under /etc is a configuration file dpkg keeps until purge.
(cd "$root" && find etc -type f | sed 's|^|/|') >"$root/DEBIAN/conffiles"

# Depends: the packages of the libraries the binary links, with their minimum versions.
(cd "$pkg" && dpkg-shlibdeps -Tdebian/tcptrail.substvars debian/tcptrail/usr/sbin/tcptrail)
(cd "$pkg" && dpkg-gencontrol -ptcptrail -v"$version" -Tdebian/tcptrail.substvars \
	-V"misc:Depends=" -Pdebian/tcptrail)
(cd "$root" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | LC_ALL=C sort -z |
	xargs -0 md5sum >DEBIAN/md5sums)
chmod 0644 "$root/DEBIAN/md5sums" "$root/DEBIAN/conffiles" "$root/DEBIAN/control"
find "$root" -type d -exec chmod 0755 {} +
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
echo "$deb: $(dpkg-deb -f "$deb" Depends)"
