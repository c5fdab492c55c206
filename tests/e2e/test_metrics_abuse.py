"""End-to-end: --metrics under abuse (issue 22, items 1 and 2).

Slow-header clients (slowloris) and clients that ask for /metrics and never read must not keep
a scrape or the liveness probe from answering within a second, nor grow the tracer's memory
with the number of clients; thousands of listeners must not make thousands of series.
Everything runs in a private network namespace; other local addresses are 127.0.0.x.
"""
import os
import re
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
import tt  # noqa: E402

tt.enter_private_netns()

MAX_LISTENERS = 1000  # MT_MAX_LISTENERS

# Opens listeners argv[1] to argv[2] - 1 on 127.0.1.x (ports 10000-29999: never the tracer's
# nor 2024) and queues argv[3] connections on each of the first three; says "ready", holds them
# until stdin closes. Descriptors: the hard limit may be low, so several of these share the work.
LISTENERS = r"""
import resource, socket, sys
first, end, q = (int(a) for a in sys.argv[1:4])
hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
keep = []
for i in range(first, end):
    s = socket.socket()
    s.bind(("127.0.1.%d" % (1 + i // 20000), 10000 + i % 20000))
    s.listen(8)
    keep.append(s)
for s in keep[:3]:
    for _ in range(q):
        c = socket.socket()
        c.connect(s.getsockname())
        keep.append(c)
print("ready", flush=True)
sys.stdin.read()
"""


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))


def timed_get(port, path, timeout=1.0):
    """(seconds, status line, body) of one GET on a fresh connection from 127.0.0.1."""
    start = time.monotonic()
    c = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        c.sendall(("GET %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n" % path).encode())
        data = b""
        while True:
            chunk = c.recv(65536)
            if not chunk:
                break
            data += chunk
            if time.monotonic() - start > timeout:
                raise socket.timeout("slow answer")
    finally:
        c.close()
    head, _, body = data.partition(b"\r\n\r\n")
    return time.monotonic() - start, head.split(b"\r\n")[0].decode(), body.decode()


def open_listeners(n, q=0):
    procs = [tt.run_py(LISTENERS, i, min(i + 8000, n), q if i == 0 else 0)
             for i in range(0, n, 8000)]
    for p in procs:
        assert tt.read_line(p, 120) == "ready"
    return procs


def close_helper(procs):
    for p in procs:
        p.stdin.close()
        p.wait()


class Slowloris:
    """count connections from src, each sending the request line, then a header every 2 s."""

    def __init__(self, port, src, count):
        self.socks = []
        for _ in range(count):
            s = socket.socket()
            s.bind((src, 0))
            try:
                s.connect(("127.0.0.1", port))
                s.sendall(b"GET /metrics HTTP/1.1\r\n")
            except OSError:
                pass
            self.socks.append(s)
        self.stop = threading.Event()
        self.t = threading.Thread(target=self.trickle)
        self.t.start()

    def trickle(self):
        while not self.stop.wait(2):
            for s in self.socks:
                try:
                    s.send(b"X-Slow: 1\r\n")
                except OSError:
                    pass

    def close(self):
        self.stop.set()
        self.t.join()
        for s in self.socks:
            s.close()


def non_readers(port, count):
    """count clients (over four addresses) that send a full request for /metrics, never read."""
    out = []
    for i in range(count):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.bind(("127.0.0.%d" % (3 + i % 4), 0))
        try:
            s.connect(("127.0.0.1", port))
            s.sendall(b"GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n")
        except OSError:
            pass
        out.append(s)
    return out


def test_slowloris_and_non_readers():
    helper = open_listeners(20000)
    mport = tt.free_port()
    tracer = tt.Tracer("-q", "--metrics", ":%d" % mport, json_output=False)
    slow = readers = None
    try:
        t0, status, body = timed_get(mport, "/metrics", 20)
        assert status.endswith("200 OK"), status
        print("   idle: scrape %.3f s, body %d bytes, RSS %d KiB" % (t0, len(body),
                                                                     rss_kib(tracer.proc.pid)))
        readers = non_readers(mport, 64)
        slow = Slowloris(mport, "127.0.0.2", 200)
        worst = {"/metrics": 0, "/": 0, "/healthz": 0}
        # Several rounds, over more than the header deadline and the trickle's period.
        end = time.monotonic() + 8
        while time.monotonic() < end:
            for path in worst:
                dt, status, body = timed_get(mport, path)
                assert status.endswith("200 OK"), (path, status)
                worst[path] = max(worst[path], dt)
            assert "tcptrail_events_total" in timed_get(mport, "/metrics")[2]
        rss = rss_kib(tracer.proc.pid)
        print("   under attack: worst /metrics %.3f s, / %.3f s, /healthz %.3f s, RSS %d KiB"
              % (worst["/metrics"], worst["/"], worst["/healthz"], rss))
        assert rss < 256 * 1024, rss
    finally:
        if slow:
            slow.close()
        for s in readers or []:
            s.close()
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


if __name__ == "__main__":
    tt.main([test_slowloris_and_non_readers, test_header_deadline, test_many_listeners_capped])
