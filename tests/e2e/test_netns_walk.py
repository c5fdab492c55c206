#!/usr/bin/env python3
"""Namespaces no process is in are walked too: one held only by a bind mount (`ip netns add`,
its sockets TIME_WAIT left by a process that has exited) and one only a thread lives in (a
thread that unshared its network namespace, holding a listener). snapshot --all-netns lists
their sockets, the --metrics gauges count them as `ss` does, and -v says how each was found."""
import json
import os
import re
import subprocess
import sys
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
import tt  # noqa: E402

tt.enter_private_netns()
NAME = "tt-empty-%d" % os.getpid()
TW = 20  # TIME_WAIT sockets left in it

# Connections closed actively by the client: TIME_WAIT outlives the process that made them.
MAKE_TW = r"""
import socket, sys
l = socket.socket()
l.bind(("127.0.0.1", 0))
l.listen(64)
pairs = [(socket.create_connection(l.getsockname()), l.accept()[0]) for _ in range(%d)]
for c, a in pairs:
    c.close()
for c, a in pairs:
    assert a.recv(1) == b""
    a.close()
""" % TW

# A thread alone in a namespace of its own, listening there; the process stays in ours.
THREAD = tt.SETNS_PY + r"""
import os, socket, sys, threading
ready = threading.Event()
def run():
    unshare_net()
    l = socket.socket()
    l.bind(("0.0.0.0", int(sys.argv[1])))
    l.listen(1)
    print(os.stat("/proc/thread-self/ns/net").st_ino, threading.get_native_id(), flush=True)
    sys.stdin.read()
threading.Thread(target=run).start()
"""


def in_ns(*cmd):
    return subprocess.run(["ip", "netns", "exec", NAME] + list(cmd), capture_output=True,
                          text=True, check=True, timeout=tt.DEADLINE).stdout


def snapshot(*args):
    p = subprocess.run([tt.TCPTRAIL, "snapshot", "--all-netns", "-n", "-o", "json"] + list(args),
                       capture_output=True, text=True, timeout=tt.DEADLINE)
    assert p.returncode == 0, p.stderr
    return [json.loads(line) for line in p.stdout.splitlines()], said(p.stderr)


def said(stderr):
    """tcptrail's own lines (-v also turns on libbpf's log)."""
    return "".join(l for l in stderr.splitlines(True) if l.startswith("tcptrail:"))


def found(stderr, who):
    """(processes, threads, bind mounts) of a -v 'namespaces found' line."""
    m = re.search(r"tcptrail: %s: \d+ network namespaces? found: (\d+) through processes, "
                  r"(\d+) only through threads, (\d+) only through bind mounts \(ip netns\)\n"
                  % re.escape(who), stderr)
    assert m, stderr
    return tuple(int(g) for g in m.groups())


def ss_time_wait():
    return len(in_ns("ss", "-Htan", "state", "time-wait").splitlines())


def test_bind_mount_only_namespace():
    subprocess.run(["ip", "netns", "add", NAME], check=True)
    try:
        ino = os.stat("/run/netns/" + NAME).st_ino
        in_ns("ip", "link", "set", "lo", "up")
        in_ns(sys.executable, "-c", MAKE_TW)
        # No process is left in it: only the bind mount holds it.
        assert all(tt.netns_inode(p) != ino for p in os.listdir("/proc") if p.isdigit()
                   and os.path.exists("/proc/%s/ns/net" % p))
        want = ss_time_wait()
        assert want == TW, want
        rows, err = snapshot("-a", "-v")
        tw = [r for r in rows if r["netns"] == ino and r["state"] == "TIME_WAIT"]
        assert len(tw) == TW, (len(tw), err)
        assert found(err, "--all-netns")[2] >= 1, err
        # The trace start-up walk says so with -v.
        p = subprocess.run([tt.TCPTRAIL, "-v", "-d", "0.2", "--netns", str(ino)],
                           capture_output=True, text=True, timeout=tt.DEADLINE)
        assert p.returncode == 0 and found(said(p.stderr), "walking existing sockets")[2] >= 1, \
            said(p.stderr)
        # --metrics with --netns: the gauge counts what ss counts there.
        mport = tt.free_port()
        t = tt.Tracer("-q", "-v", "--netns", str(ino), "--metrics", "127.0.0.1:%d" % mport,
                      json_output=False)
        try:
            def gauge():
                url = "http://127.0.0.1:%d/metrics" % mport
                with urllib.request.urlopen(url, timeout=10) as r:
                    text = r.read().decode()
                m = re.search(r'^tcptrail_sockets\{state="TIME_WAIT",family="ipv4"\} (\d+)$',
                              text, re.M)
                return m and int(m.group(1))
            # TIME_WAIT lasts 60 s: the count read by ss just now is still the count.
            assert tt.wait_until(lambda: gauge() == ss_time_wait(), what="the gauge")
        finally:
            code, err = t.stop()
        assert code == 0 and found(said(err), "--metrics")[2] >= 1, said(err)
    finally:
        subprocess.run(["ip", "netns", "del", NAME], check=True)


def test_thread_only_namespace():
    port = tt.free_port()
    p = subprocess.Popen([sys.executable, "-c", THREAD, str(port)], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE)
    try:
        ino, tid = map(int, tt.read_line(p).split())
        assert tt.netns_inode(p.pid) != ino and tt.netns_inode(tid) == ino
        rows, err = snapshot("-l", "-v", "--lport", str(port))
        assert [(r["netns"], r["lport"]) for r in rows] == [(ino, port)], (rows, err)
        assert found(err, "--all-netns")[1] >= 1, err
    finally:
        p.stdin.close()
        p.wait(timeout=tt.DEADLINE)


if __name__ == "__main__":
    tt.main([test_bind_mount_only_namespace, test_thread_only_namespace])
