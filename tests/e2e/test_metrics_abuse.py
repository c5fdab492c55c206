"""End-to-end: --metrics under abuse (issue 22, items 1 and 2).

Slow-header clients (slowloris) and clients that ask for /metrics and never read must not keep
a scrape or the liveness probe from answering within a second, nor grow the tracer's memory
with the number of clients; thousands of listeners must not make thousands of series.
Everything runs in a private network namespace; other local addresses are 127.0.0.x.
"""
import os
import re
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import tt  # noqa: E402
import abuse  # noqa: E402
from abuse import close_helper, open_listeners, rss_kib, timed_get  # noqa: E402

tt.enter_private_netns()

MAX_LISTENERS = 1000  # MT_MAX_LISTENERS


def test_slowloris_and_non_readers():
    helper = open_listeners(20000)
    mport = tt.free_port()
    tracer = tt.Tracer("-q", "--metrics", ":%d" % mport, json_output=False)
    attack = None
    try:
        t0, status, body = timed_get(mport, "/metrics", 20)
        assert status.endswith("200 OK"), status
        print("   idle: scrape %.3f s, body %d bytes, RSS %d KiB" % (t0, len(body),
                                                                     rss_kib(tracer.proc.pid)))
        attack = abuse.Attack(mport)
        worst, rss = abuse.probe_under_attack(mport, tracer.proc.pid)
        print("   under attack: " + abuse.report(worst, rss))
        assert rss < 256 * 1024, rss
    finally:
        if attack:
            attack.close()
        code, err = tracer.stop()
        close_helper(helper)
    assert code == 0, err


def test_header_deadline():
    """A client sending a header line every second is cut off after the deadline (5 s)."""
    mport = tt.free_port()
    tracer = tt.Tracer("-q", "--metrics", ":%d" % mport, json_output=False)
    try:
        s = socket.socket()
        s.bind(("127.0.0.4", 0))
        s.connect(("127.0.0.1", mport))
        s.settimeout(1)
        start = time.monotonic()
        s.sendall(b"GET /metrics HTTP/1.1\r\n")
        closed = False
        while time.monotonic() - start < 15 and not closed:
            try:
                s.send(b"X-Slow: 1\r\n")
                closed = s.recv(4096) == b""
            except socket.timeout:
                pass
            except OSError:
                closed = True
        took = time.monotonic() - start
        s.close()
        print("   slow headers cut off after %.1f s" % took)
        assert closed and took < 8, took
    finally:
        code, err = tracer.stop()
    assert code == 0, err


def series(body, name):
    return [l for l in body.splitlines() if l.startswith(name + "{")]


def test_many_listeners_capped():
    helper = open_listeners(20000, 2)
    mport = tt.free_port()
    tracer = tt.Tracer("-q", "--netns", str(tt.netns_inode()), "--metrics",
                       "127.0.0.1:%d" % mport, json_output=False)
    try:
        dt, status, body = timed_get(mport, "/metrics", 20)
        assert status.endswith("200 OK"), status
        qlen = series(body, "tcptrail_listen_queue_length")
        qmax = series(body, "tcptrail_listen_queue_limit")
        print("   20000 listeners: %d + %d series, body %d bytes, scrape %.3f s" % (
            len(qlen), len(qmax), len(body), dt))
        assert len(qlen) <= MAX_LISTENERS + 1 and len(qmax) <= MAX_LISTENERS + 1, len(qlen)
        other = [l for l in qmax if 'laddr="_other"' in l]
        assert len(other) == 1, other
        # The three busy ones are kept; the rest's limits are summed into _other.
        for port in (10000, 10001, 10002):
            line = ('tcptrail_listen_queue_length{laddr="127.0.1.1",lport="%d",netns="%d"} 2'
                    % (port, tt.netns_inode()))
            assert line in qlen, line
        n = int(re.search(r"^tcptrail_listeners (\d+)$", body, re.M).group(1))
        assert n >= 20000, n
        kept = len(qmax) - 1
        assert int(other[0].split()[-1]) == 8 * (n - kept), (other, n, kept)
    finally:
        code, err = tracer.stop()
        close_helper(helper)
    assert code == 0, err


def ptrace(req, tid):
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
    if libc.ptrace(req, tid, None, None) == -1:
        e = ctypes.get_errno()
        raise OSError(e, "ptrace(%#x, %d): %s" % (req, tid, os.strerror(e)))


PTRACE_DETACH, PTRACE_SEIZE, PTRACE_INTERRUPT = 17, 0x4206, 0x4207
WALL = 0x40000000


def test_healthz_says_wedged_loop():
    """/healthz is 503 with its reason once the event loop has not turned for 30 s, and 200
    again when it turns: the main thread (the event loop) alone is stopped by ptrace, the
    metrics server's threads go on answering."""
    mport = tt.free_port()
    tracer = tt.Tracer("-q", "--metrics", "127.0.0.1:%d" % mport, json_output=False)
    seized = False
    try:
        dt, status, body = timed_get(mport, "/healthz")
        assert status.endswith("200 OK") and body == "ok\n", (status, body)
        pid = tracer.proc.pid
        # SEIZE and INTERRUPT stop this one thread; a SIGSTOP would stop them all.
        ptrace(PTRACE_SEIZE, pid)
        seized = True
        ptrace(PTRACE_INTERRUPT, pid)
        os.waitpid(pid, WALL)
        start = time.monotonic()
        # Healthy for the limit's length (each probe answered within a second), then not.
        def unhealthy():
            dt, status, body = timed_get(mport, "/healthz")
            return None if status.endswith("200 OK") else (status, body)

        status, body = tt.wait_until(unhealthy, 45, "/healthz to say the loop is wedged")
        took = time.monotonic() - start
        print("   wedged loop: %s after %.1f s: %r" % (status, took, body))
        assert status.endswith("503 Service Unavailable"), status
        assert re.fullmatch(r"unhealthy: the event loop has not turned for 3\d s "
                            r"\(limit 30 s\)\n", body), body
        assert 29 < took < 35, took
        # / still answers; a scrape serves the last numbers after waiting a second for them.
        assert timed_get(mport, "/")[1].endswith("200 OK")
        dt, status, body = timed_get(mport, "/metrics", 5)
        assert status.endswith("200 OK") and "tcptrail_events_total" in body, status
        ptrace(PTRACE_DETACH, pid)
        seized = False
        tt.wait_until(lambda: timed_get(mport, "/healthz")[2] == "ok\n", 5, "healthy again")
    finally:
        if seized:
            ptrace(PTRACE_DETACH, tracer.proc.pid)
        code, err = tracer.stop()
    assert code == 0, err


if __name__ == "__main__":
    tt.main([test_slowloris_and_non_readers, test_header_deadline, test_many_listeners_capped,
             test_healthz_says_wedged_loop])
