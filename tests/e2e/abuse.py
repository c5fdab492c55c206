"""The attack on --metrics of issue 22, shared by test_metrics_abuse.py and test_deploy.py.

Many listeners (series for every scrape to format), clients that ask for /metrics and never
read, and slow-header clients (slowloris) from other local addresses; meanwhile fresh scrapes,
the probe paths and / must each answer within a second. Run inside the test's private network
namespace: the other local addresses are 127.0.0.x and the listeners 127.0.1.x.
"""
import re
import socket
import threading
import time

import tt

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


class Attack:
    """The whole attack on the metrics server at port: 64 clients that never read their
    /metrics, 200 slow-header connections from 127.0.0.2 (listeners made by the caller, with
    open_listeners, before the tracer starts: its walk counts them from the first scrape)."""

    def __init__(self, port, readers=64, slow=200):
        self.readers = non_readers(port, readers)
        self.slow = Slowloris(port, "127.0.0.2", slow)

    def close(self):
        if self.slow:
            self.slow.close()
        for s in self.readers or []:
            s.close()


def probe_under_attack(port, pid, paths=("/metrics", "/", "/healthz"), seconds=8):
    """With Attack running: rounds of GETs of every path, each on a fresh connection from
    127.0.0.1, each due 200 OK within a second, for `seconds` (more than the header deadline
    and the slow clients' period); every /metrics has the event counters. Returns ({path:
    worst seconds}, RSS in KiB at the end)."""
    worst = dict.fromkeys(paths, 0.0)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        for path in paths:
            dt, status, body = timed_get(port, path)
            assert status.endswith("200 OK"), (path, status, body[:200])
            if path == "/metrics":
                assert "tcptrail_events_total" in body, body[:200]
            worst[path] = max(worst[path], dt)
    return worst, rss_kib(pid)


def report(worst, rss):
    return "worst %s, RSS %d KiB" % (
        ", ".join("%s %.3f s" % (p, t) for p, t in worst.items()), rss)
