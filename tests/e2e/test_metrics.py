"""End-to-end: --metrics and --metrics-file, scraped by a real Prometheus server.

The test runs in a private network namespace (A) with the tracer and a Prometheus server
(Debian's `prometheus`, its own config and storage in a temporary directory, a 1 s scrape of the
tracer). The scenario runs in a second namespace (B) that the tracer follows with --netns, so
Prometheus's own scrapes (in A) are not part of what is counted: listeners, established
connections (some older than the tracer, some IPv6), a leaked CLOSE_WAIT, a TIME_WAIT, refused
connects and an accept queue. Prometheus's query API must then give the gauges `ss` counts in B
and the counters the tracer's own -w log of the scenario.
"""
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
import tt  # noqa: E402

tt.enter_private_netns()

STATES = ["ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2", "TIME_WAIT",
          "CLOSE_WAIT", "LAST_ACK", "LISTEN", "CLOSING"]
SS_STATES = {"ESTAB": "ESTABLISHED", "SYN-SENT": "SYN_SENT", "SYN-RECV": "SYN_RECV",
             "FIN-WAIT-1": "FIN_WAIT1", "FIN-WAIT-2": "FIN_WAIT2", "TIME-WAIT": "TIME_WAIT",
             "CLOSE-WAIT": "CLOSE_WAIT", "LAST-ACK": "LAST_ACK", "LISTEN": "LISTEN",
             "CLOSING": "CLOSING"}

# The scenario, one process in namespace B driven line by line on stdin, so that its sockets
# live as long as the test wants. It names itself "ttscen" (--metrics-by comm).
SCENARIO = r"""
import socket, sys
open("/proc/self/comm", "w").write("ttscen")
P1, P2, P3, P4 = (int(a) for a in sys.argv[1:5])
keep = []
def pair(lst, fam, addr, port):
    c = socket.socket(fam)
    c.connect((addr, port))
    a, _ = lst.accept()
    keep.extend([c, a])
    return c, a
for line in sys.stdin:
    cmd = line.strip()
    if cmd == "pre":
        l1 = socket.socket()
        l1.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        l1.bind(("127.0.0.1", P1))
        l1.listen(16)
        pair(l1, socket.AF_INET, "127.0.0.1", P1)
    elif cmd == "scenario":
        l2 = socket.socket(socket.AF_INET6)
        l2.bind(("::1", P2))
        l2.listen(16)
        pair(l2, socket.AF_INET6, "::1", P2)
        for _ in range(3):
            pair(l1, socket.AF_INET, "127.0.0.1", P1)
        # The leak: the client closes, the server never does (CLOSE_WAIT; FIN_WAIT2 there).
        c6, a6 = pair(l1, socket.AF_INET, "127.0.0.1", P1)
        keep.remove(c6)
        c6.close()
        # A TIME_WAIT: the client closes first, the server after reading the FIN.
        c7, a7 = pair(l1, socket.AF_INET, "127.0.0.1", P1)
        keep.remove(c7)
        keep.remove(a7)
        c7.close()
        assert a7.recv(10) == b""
        a7.close()
        # Refused connects.
        for _ in range(2):
            try:
                socket.create_connection(("127.0.0.1", P3))
                raise SystemExit("connect to a closed port succeeded")
            except ConnectionRefusedError:
                pass
        # An accept queue: two connections nobody accepts.
        l3 = socket.socket()
        l3.bind(("127.0.0.1", P4))
        l3.listen(4)
        for _ in range(2):
            keep.append(socket.create_connection(("127.0.0.1", P4)))
    elif cmd == "close-leak":
        a6.close()
    print("done " + cmd, flush=True)
"""


class NetnsB:
    """A second network namespace, held by a sleeping process; commands run in it by nsenter."""

    def __init__(self):
        self.holder = subprocess.Popen(["unshare", "-n", "sh", "-c",
                                        "ip link set lo up && echo up && exec sleep 1000"],
                                       stdout=subprocess.PIPE)
        assert self.holder.stdout.readline().strip() == b"up"
        self.inode = tt.netns_inode(self.holder.pid)

    def cmd(self, *argv):
        return ["nsenter", "-t", str(self.holder.pid), "-n"] + list(argv)

    def close(self):
        self.holder.kill()
        self.holder.wait()


def ss_counts(b):
    """{(state, family): n} of every TCP socket in namespace B, as ss sees them."""
    out = {}
    for fam, flag in (("ipv4", "-4"), ("ipv6", "-6")):
        text = subprocess.run(b.cmd("ss", "-tanH", flag), stdout=subprocess.PIPE, text=True,
                              check=True).stdout
        for line in text.splitlines():
            st = SS_STATES[line.split()[0]]
            out[(st, fam)] = out.get((st, fam), 0) + 1
    return out


class Prometheus:
    def __init__(self, target):
        self.dir = tempfile.mkdtemp(prefix="tt-prom-")
        self.port = tt.free_port()
        cfg = os.path.join(self.dir, "prometheus.yml")
        with open(cfg, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                    "  evaluation_interval: 1s\n"
                    "scrape_configs:\n  - job_name: tcptrail\n"
                    "    static_configs:\n      - targets: ['%s']\n" % target)
        self.log = open(os.path.join(self.dir, "log"), "w")
        self.proc = subprocess.Popen(
            ["prometheus", "--config.file=" + cfg,
             "--storage.tsdb.path=" + os.path.join(self.dir, "data"),
             "--web.listen-address=127.0.0.1:%d" % self.port, "--log.level=warn"],
            stdout=self.log, stderr=subprocess.STDOUT)
        tt.wait_until(self.ready, 60, "prometheus to be ready")

    def get(self, path):
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (self.port, path),
                                    timeout=5) as r:
            return r.read()

    def ready(self):
        assert self.proc.poll() is None, open(self.log.name).read()[-2000:]
        try:
            return self.get("/-/ready")
        except (urllib.error.URLError, ConnectionError):
            return None

    def query(self, q):
        """{frozenset(labels.items()): value} of an instant query."""
        body = json.loads(self.get("/api/v1/query?query=" + urllib.parse.quote(q)))
        assert body["status"] == "success", body
        return {frozenset((k, v) for k, v in r["metric"].items()
                          if k not in ("job", "instance", "__name__")): float(r["value"][1])
                for r in body["data"]["result"]}

    def value(self, q):
        r = self.query(q)
        return next(iter(r.values())) if len(r) == 1 else None

    def close(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def http(port, path, method="GET", accept=None):
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path), method=method)
    if accept:
        req.add_header("Accept", accept)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, dict(r.headers), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read().decode()


def promtool_check(text):
    p = subprocess.run(["promtool", "check", "metrics"], input=text, text=True,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert p.returncode == 0 and not p.stdout.strip(), p.stdout


def log_transitions(path):
    """{(from, to): n} of the state records of a -w log (a live one: whole lines only)."""
    out = {}
    with open(path) as f:
        for line in f:
            if not line.endswith("\n"):
                break
            r = json.loads(line)
            if r.get("type") == "state":
                out[(r["old"], r["new"])] = out.get((r["old"], r["new"]), 0) + 1
    return out


def run_step(scen, cmd):
    scen.stdin.write((cmd + "\n").encode())
    scen.stdin.flush()
    assert tt.read_line(scen) == "done " + cmd


def test_prometheus_scrapes_what_ss_sees():
    b = NetnsB()
    ports = [tt.free_port() for _ in range(4)]
    scen = subprocess.Popen(b.cmd(sys.executable, "-c", SCENARIO, *map(str, ports)),
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    work = tempfile.mkdtemp(prefix="tt-metrics-")
    log = os.path.join(work, "events.jsonl")
    textfile = os.path.join(work, "tcptrail.prom")
    mport = tt.free_port()
    tracer = prom = None
    try:
        run_step(scen, "pre")  # sockets older than the tracer: seeded
        tracer = tt.Tracer("-q", "--netns", str(b.inode), "--stuck", "CLOSE_WAIT=1s",
                           "--metrics", "127.0.0.1:%d" % mport, "--metrics-file", textfile,
                           "--metrics-interval", "500ms", "-w", log, json_output=False)
        prom = Prometheus("127.0.0.1:%d" % mport)
        run_step(scen, "scenario")

        def gauges_match():
            # Both sides settle (a FIN's ACK, the next scrape): ss is asked again each time.
            want = ss_counts(b)
            got = prom.query("tcptrail_sockets")
            diff = {}
            for st in STATES:
                for fam in ("ipv4", "ipv6"):
                    v = got.get(frozenset({("state", st), ("family", fam)}))
                    if v != want.get((st, fam), 0):
                        diff[(st, fam)] = (v, want.get((st, fam), 0))
            last[0] = diff
            return not diff
        last = [None]
        try:
            tt.wait_until(gauges_match, 30, "Prometheus's tcptrail_sockets to equal ss")
        except AssertionError:
            print("tcptrail_sockets (got, ss): %s; targets: %s" % (last[0], prom.get(
                "/api/v1/targets")))
            raise
        want = ss_counts(b)
        assert want == {("LISTEN", "ipv4"): 2, ("LISTEN", "ipv6"): 1, ("ESTABLISHED", "ipv4"): 12,
                        ("ESTABLISHED", "ipv6"): 2, ("CLOSE_WAIT", "ipv4"): 1,
                        ("FIN_WAIT2", "ipv4"): 1, ("TIME_WAIT", "ipv4"): 1}, want
        # The leaked CLOSE_WAIT passes its --stuck rule.
        tt.wait_until(lambda: prom.value('tcptrail_stuck_sockets{state="CLOSE_WAIT"}') == 1,
                      30, "tcptrail_stuck_sockets{CLOSE_WAIT} = 1")
        assert prom.value('tcptrail_stuck_alerts_total{state="CLOSE_WAIT"}') == 1
        assert prom.value("tcptrail_connect_failures_total") == 2
        # Connections made after the start: 1 + 3 + 1 + 1 (v6, plain, leak, timewait) client
        # and server sides, plus the 2 queued (their children are established too).
        assert prom.value('tcptrail_connections_opened_total{direction="active"}') == 8
        assert prom.value('tcptrail_connections_opened_total{direction="passive"}') == 8
        q = prom.query("tcptrail_listen_queue_length")
        assert q == {frozenset({("laddr", "127.0.0.1"), ("lport", str(ports[3])),
                                ("netns", str(b.inode))}): 2,
                     frozenset({("laddr", "127.0.0.1"), ("lport", str(ports[0])),
                                ("netns", str(b.inode))}): 0,
                     frozenset({("laddr", "::1"), ("lport", str(ports[1])),
                                ("netns", str(b.inode))}): 0}, q
        assert prom.value('tcptrail_listen_queue_limit{lport="%d"}' % ports[3]) == 4
        # Close the leak: no longer stuck; the alert stays counted.
        run_step(scen, "close-leak")
        tt.wait_until(lambda: prom.value('tcptrail_stuck_sockets{state="CLOSE_WAIT"}') == 0
                      and prom.value('tcptrail_sockets{state="CLOSE_WAIT",family="ipv4"}') == 0,
                      30, "the leak to be closed in Prometheus")
        assert prom.value('tcptrail_stuck_alerts_total{state="CLOSE_WAIT"}') == 1

        # Counters: exactly the transitions the tracer recorded of the scenario.
        def counters_match():
            want_t = log_transitions(log)
            got = prom.query("tcptrail_transitions_total")
            got_t = {(dict(k)["from"], dict(k)["to"]): v for k, v in got.items()}
            events = prom.value("tcptrail_events_total")
            last[0] = (got_t, want_t, events)
            return got_t == want_t and events == sum(want_t.values())
        try:
            tt.wait_until(counters_match, 30, "transitions_total to equal the -w log")
        except AssertionError:
            print("transitions (prometheus, log, events): %s" % (last[0],))
            raise
        t = log_transitions(log)
        assert t[("SYN_SENT", "CLOSE")] == 2 and t[("CLOSE", "LISTEN")] == 2, t
        assert t[("CLOSE_WAIT", "LAST_ACK")] == 2, t
        assert prom.value("tcptrail_events_lost_total") == 0
        # Durations: every transition out of a state the tracer saw entered is observed.
        n = prom.value('tcptrail_state_duration_seconds_count{state="SYN_SENT"}')
        assert n == t[("SYN_SENT", "ESTABLISHED")] + t[("SYN_SENT", "CLOSE")], (n, t)
        assert prom.value('tcptrail_build_info{version=~".+",kernel="%s"}' %
                          os.uname().release) == 1
        # The exposition is clean for promtool, over HTTP and in the textfile.
        code, headers, text = http(mport, "/metrics")
        assert code == 200 and headers["Content-Type"].startswith("text/plain; version=0.0.4")
        promtool_check(text)
        # The leak's client got the FIN at last: two TIME_WAIT now, counted by the iterator.
        assert 'tcptrail_sockets{state="TIME_WAIT",family="ipv4"} 2\n' in text, text
        with open(textfile) as f:
            promtool_check(f.read())
        assert os.stat(textfile).st_mode & 0o777 == 0o644
    finally:
        if prom:
            prom.close()
        if tracer:
            code, err = tracer.stop()
            assert code == 0, err
        scen.kill()
        scen.wait()
        b.close()
    # After the stop: the final numbers in the file, no temporary file left behind.
    with open(textfile) as f:
        final = f.read()
    events, lost = tt.summary_counts(err)
    assert "tcptrail_events_total %d\n" % events in final, (events, final[-800:])
    assert os.listdir(work) == ["events.jsonl", "tcptrail.prom"] or \
        sorted(os.listdir(work)) == ["events.jsonl", "tcptrail.prom"], os.listdir(work)
    shutil.rmtree(work)


def test_http_paths_methods_formats():
    mport = tt.free_port()
    tracer = tt.Tracer("-q", "--netns", str(tt.netns_inode()), "--metrics",
                       "[::1]:%d" % mport, json_output=False)
    try:
        req = urllib.request.Request("http://[::1]:%d/" % mport)
        with urllib.request.urlopen(req, timeout=10) as r:
            assert r.status == 200 and 'href="/metrics"' in r.read().decode()
        for path in ("/nope", "/metrics/", "/metricsx", "/favicon.ico"):
            req = urllib.request.Request("http://[::1]:%d%s" % (mport, path))
            try:
                urllib.request.urlopen(req, timeout=10)
                raise AssertionError(path + " answered 200")
            except urllib.error.HTTPError as e:
                assert e.code == 404, (path, e.code)
        for method in ("POST", "PUT", "DELETE"):
            req = urllib.request.Request("http://[::1]:%d/metrics" % mport, method=method,
                                         data=b"x" if method != "DELETE" else None)
            try:
                urllib.request.urlopen(req, timeout=10)
                raise AssertionError(method + " answered 200")
            except urllib.error.HTTPError as e:
                assert e.code == 405 and e.headers["Allow"] == "GET, HEAD", (method, e.code)
        req = urllib.request.Request("http://[::1]:%d/metrics" % mport, method="HEAD")
        with urllib.request.urlopen(req, timeout=10) as r:
            assert r.status == 200 and r.read() == b""
        # OpenMetrics when asked for, as Prometheus asks.
        req = urllib.request.Request("http://[::1]:%d/metrics" % mport)
        req.add_header("Accept", "application/openmetrics-text;version=1.0.0,text/plain;"
                                 "version=0.0.4;q=0.5,*/*;q=0.1")
        with urllib.request.urlopen(req, timeout=10) as r:
            body = r.read().decode()
            assert r.headers["Content-Type"].startswith("application/openmetrics-text; "
                                                        "version=1.0.0"), r.headers
        assert body.endswith("# EOF\n")
        assert "# TYPE tcptrail_transitions counter\n" in body
        assert "# TYPE tcptrail_build info\n" in body
    finally:
        code, err = tracer.stop()
    assert code == 0, err


def test_metrics_by_comm():
    b = NetnsB()
    ports = [tt.free_port() for _ in range(4)]
    mport = tt.free_port()
    tracer = tt.Tracer("-q", "--netns", str(b.inode), "--metrics", "127.0.0.1:%d" % mport,
                       "--metrics-by", "comm", json_output=False)
    scen = subprocess.Popen(b.cmd(sys.executable, "-c", SCENARIO, *map(str, ports)),
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        run_step(scen, "pre")
        line = 'tcptrail_sockets{state="LISTEN",family="ipv4",comm="ttscen"} 1\n'
        tt.wait_until(lambda: line in http(mport, "/metrics")[2], what=line.strip())
        text = http(mport, "/metrics")[2]
        assert ('tcptrail_sockets{state="ESTABLISHED",family="ipv4",comm="ttscen"} 2\n'
                in text), text
        assert ('tcptrail_transitions_total{from="CLOSE",to="LISTEN",comm="ttscen"} 1\n'
                in text), text
        promtool_check(text)
    finally:
        scen.kill()
        scen.wait()
        code, err = tracer.stop()
        b.close()
    assert code == 0, err


def test_bad_address_and_busy_port():
    p = subprocess.run([tt.TCPTRAIL, "--metrics", "9717"], stderr=subprocess.PIPE, text=True)
    assert p.returncode == 2 and "--metrics wants ADDR:PORT" in p.stderr, p.stderr
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    try:
        p = subprocess.run([tt.TCPTRAIL, "-q", "--metrics", "127.0.0.1:%d" %
                            busy.getsockname()[1]], stderr=subprocess.PIPE, text=True,
                           timeout=120)
    finally:
        busy.close()
    assert p.returncode == 1, p.stderr
    assert re.search(r"--metrics 127\.0\.0\.1:\d+: cannot serve HTTP there", p.stderr), p.stderr


def test_valgrind_clean():
    """The server, the textfile writer and the hand-over under memcheck: no error, no leak."""
    vg = shutil.which("valgrind")
    if not vg:
        print("   valgrind is not installed: skipped")
        return
    supp = os.path.join(os.path.dirname(os.path.abspath(__file__)), "valgrind.supp")
    work = tempfile.mkdtemp(prefix="tt-vg-")
    mport, port = tt.free_port(), tt.free_port()
    saved = tt.TCPTRAIL
    tt.TCPTRAIL = vg
    try:
        tracer = tt.Tracer("--suppressions=" + supp, "--error-exitcode=99", "--leak-check=full",
                           "--errors-for-leak-kinds=definite,indirect", "--track-fds=no",
                           saved, "-q", "--netns", str(tt.netns_inode()), "--metrics",
                           "127.0.0.1:%d" % mport, "--metrics-file",
                           os.path.join(work, "t.prom"), "--metrics-interval", "200ms",
                           "--metrics-by", "comm", "--stuck", "CLOSE_WAIT=100ms",
                           json_output=False, start_timeout=120)
    finally:
        tt.TCPTRAIL = saved
    try:
        srv = socket.socket()
        srv.bind(("127.0.0.1", port))
        srv.listen(4)
        c = socket.create_connection(("127.0.0.1", port))
        a, _ = srv.accept()
        c.close()  # a CLOSE_WAIT past its rule
        tt.wait_until(lambda: 'tcptrail_stuck_sockets{state="CLOSE_WAIT",comm="python3"} 1' in
                      http(mport, "/metrics")[2], 120, "the stuck gauge under valgrind")
        assert http(mport, "/metrics", accept="application/openmetrics-text")[2].endswith(
            "# EOF\n")
        assert http(mport, "/nope")[0] == 404 and http(mport, "/", method="POST")[0] == 405
        a.close()
        srv.close()
        tt.wait_until(lambda: os.path.exists(os.path.join(work, "t.prom")), 120, "the textfile")
    finally:
        code, err = tracer.stop()
        shutil.rmtree(work)
    bad = [l for l in err.splitlines() if re.search(
        r"definitely lost: [1-9]|indirectly lost: [1-9]|are definitely lost|Invalid (read|write|"
        r"free)|uninitialised|Mismatched free|ERROR SUMMARY: [1-9]", l)]
    assert code == 0 and not bad and "ERROR SUMMARY: 0 errors" in err, (code, bad, err[-4000:])


if __name__ == "__main__":
    tt.main([test_prometheus_scrapes_what_ss_sees, test_http_paths_methods_formats,
             test_metrics_by_comm, test_bad_address_and_busy_port, test_valgrind_clean])
