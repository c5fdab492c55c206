#!/bin/sh
# make deb, then the package as a user gets it: its contents and computed Depends, lintian
# without errors, `apt-get install ./tcptrail_*.deb` on this machine, the installed program
# (snapshot -an, a recording and its replay, the man page, the completion), `apt-get remove`
# leaving nothing but the logs (and the logrotate conffile dpkg keeps until purge), and
# `apt-get purge` leaving nothing. Root. Ends with one PASS, FAIL or SKIP line; the package is
# never left installed, and a /var/log/tcptrail that was there before is put back.
cd "$(dirname "$0")/../.." || exit 1
tmp=$(mktemp -d)
saved=""
failed=0

say() { echo "deb: $*"; }
cleanup() {
	if dpkg-query -W -f='${Status}' tcptrail 2>/dev/null | grep -qv 'not-installed'; then
		apt-get purge -y -qq tcptrail >/dev/null 2>&1
	fi
	if [ -n "$saved" ]; then
		rm -rf /var/log/tcptrail
		mv "$saved" /var/log/tcptrail
	fi
	rm -rf "$tmp"
}
skip() {
	echo "deb: SKIP: $*"
	rm -rf "$tmp"
	exit 0
}
check() { # check WHAT COMMAND...: runs it, says FAIL: WHAT when it fails
	what=$1
	shift
	if ! "$@" >"$tmp/out" 2>&1; then
		say "FAIL: $what"
		sed 's/^/deb:   /' "$tmp/out" | head -20
		failed=1
	fi
}
# The files a package could leave (dpkg's and apt's own state, journals and containers aside).
files() {
	find /etc /usr /opt /var/lib /var/log /var/cache/tcptrail -xdev \( -path /var/lib/dpkg \
		-o -path /var/lib/apt -o -path /var/log/apt -o -path /var/log/journal \
		-o -path /var/lib/containers -o -path /var/log/dpkg.log \) -prune -o -print \
		2>/dev/null | LC_ALL=C sort
}

[ "$(id -u)" -eq 0 ] || skip "needs root (apt-get install)"
for t in dpkg-deb dpkg-shlibdeps dpkg-gencontrol lintian apt-get; do
	command -v $t >/dev/null || skip "$t is missing (make deps installs it)"
done
if dpkg-query -W -f='${Status}' tcptrail 2>/dev/null | grep -qv 'not-installed'; then
	skip "a tcptrail package is already on this machine: left alone"
fi
trap 'cleanup; exit 1' INT TERM

say "make deb"
make --no-print-directory deb >"$tmp/build" 2>&1 || {
	cat "$tmp/build"
	echo "deb: FAIL: make deb"
	cleanup
	exit 1
}
cat "$tmp/build"
version=$(sed -n 's/^VERSION *:= *//p' Makefile)
deb=tcptrail_${version}_$(dpkg --print-architecture).deb
[ -f "$deb" ] || {
	echo "deb: FAIL: no $deb"
	cleanup
	exit 1
}

say "contents and Depends"
dpkg-deb -c "$deb" | awk '{print $6}' >"$tmp/contents"
for f in ./usr/sbin/tcptrail ./usr/share/man/man8/tcptrail.8.gz \
	./lib/systemd/system/tcptrail.service ./etc/logrotate.d/tcptrail \
	./usr/share/bash-completion/completions/tcptrail ./usr/share/doc/tcptrail/copyright \
	./usr/share/doc/tcptrail/examples/daemonset.yaml \
	./usr/share/doc/tcptrail/examples/tcptrail.rules.yml; do
	check "$f in the package" grep -qx "$f" "$tmp/contents"
done
depends=$(dpkg-deb -f "$deb" Depends)
say "Depends: $depends"
for p in libbpf1 zlib1g libmicrohttpd12 libc6; do
	check "Depends names $p" sh -c "echo '$depends' | grep -q '\\b$p\\b'"
done
# libelf is libbpf's: the program calls none of its functions, so it is not linked (NEEDED)
# and comes with libbpf1.
check "libbpf1 depends on libelf1" sh -c \
	"dpkg-query -W -f='\${Depends}' libbpf1 | grep -q libelf1"
check "conffiles: the logrotate file" sh -c \
	"dpkg-deb --ctrl-tarfile $deb | tar -xO ./conffiles | grep -qx /etc/logrotate.d/tcptrail"

say "lintian"
lintian --display-info "$deb" >"$tmp/lintian" 2>&1
sed 's/^/deb:   /' "$tmp/lintian" | grep -v 'running with root privileges'
check "lintian reports no error" sh -c "! grep -q '^E:' $tmp/lintian"

# /var/log/tcptrail of someone else: kept aside, put back at the end.
if [ -e /var/log/tcptrail ]; then
	saved=$tmp/saved-logs
	mv /var/log/tcptrail "$saved"
fi
files >"$tmp/before"

say "apt-get install ./$deb"
if ! apt-get install -y -qq --no-install-recommends "./$deb" >"$tmp/apt" 2>&1; then
	sed 's/^/deb:   /' "$tmp/apt"
	echo "deb: FAIL: apt-get install ./$deb"
	cleanup
	exit 1
fi
check "installed as $version" sh -c "dpkg-query -W -f='\${Version}' tcptrail | grep -qx $version"
check "tcptrail on PATH is /usr/sbin/tcptrail" sh -c \
	"[ \"\$(command -v tcptrail)\" = /usr/sbin/tcptrail ]"
check "tcptrail -V" sh -c "tcptrail -V | grep -q $version"
check "tcptrail snapshot -an" sh -c \
	"tcptrail snapshot -an >$tmp/snap && grep -q '^Active Internet connections' $tmp/snap \
	&& grep -q LISTEN $tmp/snap"
sed 's/^/deb:   /' "$tmp/snap" | head -5
check "man tcptrail" sh -c "man -w tcptrail | grep -q /usr/share/man/man8/tcptrail.8.gz"
check "the completion loads" bash -c \
	". /usr/share/bash-completion/completions/tcptrail && complete -p tcptrail"
# Logs, as the agent writes them: a short recording of a connection, then its replay.
mkdir -p /var/log/tcptrail
check "a recording in /var/log/tcptrail" unshare -n sh -c "ip link set lo up &&
	tcptrail -q -w /var/log/tcptrail/events.jsonl -d 4 --port 5599 & sleep 1;
	python3 -c 'import socket, time
s = socket.create_server((\"127.0.0.1\", 5599))
for i in range(20):
    c = socket.create_connection((\"127.0.0.1\", 5599)); a = s.accept()[0]; c.close(); a.close()
    time.sleep(0.1)'; wait"
check "replay of it" sh -c "tcptrail replay /var/log/tcptrail/events.jsonl | grep -q 5599"

say "apt-get remove tcptrail"
check "apt-get remove" apt-get remove -y -qq tcptrail
files >"$tmp/after-remove"
LC_ALL=C comm -13 "$tmp/before" "$tmp/after-remove" >"$tmp/left"
sed 's/^/deb:   left: /' "$tmp/left"
check "remove leaves only the logs and the logrotate conffile" sh -c \
	"! grep -v -e '^/var/log/tcptrail\$' -e '^/var/log/tcptrail/' \
	-e '^/etc/logrotate.d/tcptrail\$' $tmp/left"
check "the logs are left" test -s /var/log/tcptrail/events.jsonl
check "dpkg keeps only the configuration (rc)" sh -c \
	"dpkg-query -W -f='\${db:Status-Abbrev}' tcptrail | grep -q '^rc'"
LC_ALL=C comm -23 "$tmp/before" "$tmp/after-remove" >"$tmp/gone"
check "remove takes nothing that was there before" test ! -s "$tmp/gone"

say "apt-get purge tcptrail"
check "apt-get purge" apt-get purge -y -qq tcptrail
files >"$tmp/after-purge"
LC_ALL=C comm -13 "$tmp/before" "$tmp/after-purge" >"$tmp/left"
check "purge leaves nothing" test ! -s "$tmp/left"
sed 's/^/deb:   left: /' "$tmp/left"

warnings=$(grep -c '^W:' "$tmp/lintian")
cleanup
if [ $failed -ne 0 ]; then
	echo "deb: FAIL"
	exit 1
fi
echo "deb: PASS ($deb; lintian: no error, $warnings warnings)"
