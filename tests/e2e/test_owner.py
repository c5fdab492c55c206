"""End-to-end: owner truth (issue 10). Every event and every stuck alert names the process that
holds the socket now, as `ss -tanpe` names it at that moment.

One test per process model: a Python pre-fork server, nginx (daemon, 2 workers, binary
upgrade), gunicorn, fork per connection, fork after connect, fd passing with SCM_RIGHTS, socket
activation (plain and --accept), exec, a named thread, SO_REUSEPORT, one port on two addresses
and on two families, a backlog older than the tracer, the AF_UNIX garbage collector, and
close() after shutdown().

The rules checked (pid = thread-group id, comm = /proc/PID/comm of the group leader):
* a child not yet accepted names its listener's owner: a live process holding the listener
  (any member of a SO_REUSEPORT group that still holds its listener);
* from accept on, the accepting process; after socket I/O by another process holding the file
  (fd passing, fork, exec, socket activation), that process;
* close events name the closer; never a kernel thread;
* comm is the process name, refreshed after exec, never a thread's name;
* same-state stores (FIN_WAIT1 -> FIN_WAIT1 when close() follows shutdown()) are no events and
  do not restart the time in state or a stuck timer.

Every scenario runs real processes in this file's private network namespace on loopback; every
process in that namespace is this file's, so cleanup kills exactly those (by pid).
"""
import ctypes
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
import tt  # noqa: E402

tt.enter_private_netns()
NETNS = tt.netns_inode()
ME = os.getpid()
PY = sys.executable
# Orphans (nginx's daemon, its old master after an upgrade) are re-parented to this process,
# which reaps them: no zombie is left behind and "alive" means alive.
ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER

OURS = set()  # pids of the processes started with Popen here (reaped by Popen, not by reap())
PRE_ACCEPT = {("CLOSE", "SYN_RECV"), ("SYN_RECV", "ESTABLISHED")}
CLOSED = ("CLOSE", "TIME_WAIT", "FIN_WAIT2_TW")  # a socket's last event ends in one of these


# ---------------------------------------------------------------- processes and ground truth

def comm_of(pid):
    with open("/proc/%d/comm" % pid) as f:
        return f.read().rstrip("\n")


def proc_stat(pid):
    """(state, ppid, flags) from /proc/PID/stat, or None when the pid is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            s = f.read()
    except OSError:
        return None
    f = s[s.rfind(")") + 2:].split()
    return f[0], int(f[1]), int(f[6])


def alive(pid):
    st = proc_stat(pid)
    return st is not None and st[0] not in "ZX"


def is_kthread(pid):
    st = proc_stat(pid)
    return st is not None and bool(st[2] & 0x00200000)  # PF_KTHREAD


def netns_pids():
    """Every process in this file's network namespace except this one (they are all ours)."""
    pids = []
    for d in os.listdir("/proc"):
        if d.isdigit() and int(d) != ME:
            try:
                if os.stat("/proc/%s/ns/net" % d).st_ino == NETNS:
                    pids.append(int(d))
            except OSError:
                pass
    return pids


def reap():
    """Reaps orphans re-parented to this process (not the Popen children: Popen waits those)."""
    for d in os.listdir("/proc"):
        if d.isdigit() and int(d) not in OURS:
            st = proc_stat(int(d))
            if st and st[0] == "Z" and st[1] == ME:
                try:
                    os.waitpid(int(d), os.WNOHANG)
                except ChildProcessError:
                    pass


def children_of(pid):
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            st = proc_stat(int(d))
            if st and st[1] == pid and st[0] not in "ZX":
                out.append(int(d))
    return out


class SsSock:
    def __init__(self, state, local, peer, users):
        self.state, self.local, self.peer, self.users = state, local, peer, users

    def __repr__(self):
        return "%s %s %s %s" % (self.state, self.local, self.peer, self.users)


USERS_RE = re.compile(r'\("((?:[^"\\]|\\.)*)",pid=(\d+),fd=\d+\)')


def ss():
    """`ss -tanpe` of this namespace: socket cookie -> SsSock (users = {pid: comm})."""
    out = subprocess.run(["ss", "-tanpeH"], capture_output=True, text=True, check=True).stdout
    socks = {}
    for line in out.splitlines():
        f = line.split()
        m = re.search(r"\bsk:([0-9a-f]+)", line)
        if len(f) < 5 or not m:
            continue
        users = {int(p): c for c, p in USERS_RE.findall(line)}
        socks[int(m.group(1), 16)] = SsSock(f[0], f[3], f[4], users)
    return socks


def ep(addr, port):
    return "[%s]:%d" % (addr, port) if ":" in addr else "%s:%d" % (addr, port)


def ss_find(local, peer, state=None, timeout=tt.DEADLINE):
    """Waits until ss lists the socket local -> peer (endpoint strings); (cookie, SsSock)."""
    def look():
        for cookie, s in ss().items():
            if s.local == local and s.peer == peer and (state is None or s.state == state):
                return cookie, s
        return None
    return tt.wait_until(look, timeout, "ss to list %s -> %s %s" % (local, peer, state or ""))


def ss_listener(local, users=None):
    """Waits until the listener on `local` is held by exactly the pids `users` (any if None);
    returns (cookie, {pid: comm}) as ss shows them."""
    def look():
        for cookie, s in ss().items():
            if s.state == "LISTEN" and s.local == local and s.users and (
                    users is None or set(s.users) == set(users)):
                return cookie, s.users
        return None
    return tt.wait_until(look, what="ss: listener %s held by %s" % (local, users))


class Proc:
    """A started process; its stdout and stderr lines are collected for expect()."""

    def __init__(self, argv, **kw):
        self.argv = argv
        self.p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, **kw)
        self.pid = self.p.pid
        OURS.add(self.pid)
        self.lines = []
        self.all = []
        self.cv = threading.Condition()
        self.t = threading.Thread(target=self._read, daemon=True)
        self.t.start()

    def _read(self):
        for raw in self.p.stdout:
            with self.cv:
                line = raw.decode("utf-8", "replace").rstrip("\n")
                self.lines.append(line)
                self.all.append(line)
                self.cv.notify_all()

    def expect(self, pattern, timeout=tt.DEADLINE):
        """Waits for (and consumes) an output line matching the regex; returns the match."""
        rx = re.compile(pattern)
        end = time.monotonic() + timeout
        with self.cv:
            while True:
                for i, line in enumerate(self.lines):
                    m = rx.search(line)
                    if m:
                        del self.lines[i]
                        return m
                left = end - time.monotonic()
                if left <= 0:
                    raise AssertionError("timed out waiting for %r from %s; output: %s" % (
                        pattern, os.path.basename(self.argv[0]), self.all[-20:]))
                self.cv.wait(min(left, 0.1))

    def send(self, line):
        self.p.stdin.write(line.encode() + b"\n")
        self.p.stdin.flush()


class Scenario:
    """Tracers, processes, client sockets and a temp dir of one test; all gone at exit, also
    when the test fails."""

    def __init__(self):
        self.tracers, self.procs, self.socks, self.tmp = [], [], [], None

    def __enter__(self):
        return self

    def trace(self, *args):
        t = tt.Tracer("--netns", str(NETNS), *args)
        OURS.add(t.proc.pid)
        self.tracers.append(t)
        return t

    def start(self, argv, **kw):
        p = Proc(argv, **kw)
        self.procs.append(p)
        return p

    def py(self, code, *args, **kw):
        return self.start([PY, "-c", code] + [str(a) for a in args], **kw)

    def tmpdir(self):
        if self.tmp is None:
            self.tmp = tempfile.mkdtemp(prefix="tt-owner-")
        return self.tmp

    def connect(self, addr, port, **kw):
        fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
        s = socket.socket(fam)
        self.socks.append(s)
        s.settimeout(tt.DEADLINE)
        for k, v in kw.items():
            s.setsockopt(socket.SOL_SOCKET, k, v)
        s.connect((addr, port))
        return s

    def listen(self, addr, port):
        fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
        s = socket.socket(fam)
        self.socks.append(s)
        s.settimeout(tt.DEADLINE)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((addr, port))
        s.listen(16)
        return s

    def accept(self, listener):
        a, peer = listener.accept()
        a.settimeout(tt.DEADLINE)
        self.socks.append(a)
        return a, peer

    def __exit__(self, exc_type, exc, tb):
        for t in self.tracers:
            try:
                t.stop()
            except Exception as e:  # keep cleaning up
                print("cleanup: %s" % e, file=sys.stderr)
        for s in self.socks:
            s.close()
        tt.wait_until(lambda: kill_all(), what="every process of the test to exit")
        for p in self.procs:
            p.p.wait(timeout=tt.DEADLINE)
            p.t.join(tt.DEADLINE)
            p.p.stdin.close()
            p.p.stdout.close()
        reap()
        if self.tmp:
            shutil.rmtree(self.tmp, ignore_errors=True)
        if exc_type is not None:
            for p in self.procs:
                print("-- output of %s (pid %d): %s" % (" ".join(p.argv[:3])[:60], p.pid,
                                                        p.all[-15:]), file=sys.stderr)
        return False


def kill_all():
    pids = netns_pids()
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    reap()
    return not netns_pids()


# ---------------------------------------------------------------- events and checks

def mine(e):
    return e.get("netns") == NETNS


def sock_events(tracer, cookie, kind="state"):
    return [e for e in tracer.events(lambda e: mine(e) and e["type"] == kind
                                     and e["sock"] == cookie)]


def wait_event(tracer, cookie, pred, what):
    return tt.wait_until(lambda: [e for e in sock_events(tracer, cookie) if pred(e)],
                         what="%s (socket %d)" % (what, cookie))[0]


def wait_transition(tracer, cookie, old, new):
    return wait_event(tracer, cookie, lambda e: e["old"] == old and e["new"] == new,
                      "%s -> %s" % (old, new))


def wait_closed(tracer, cookie):
    return wait_event(tracer, cookie, lambda e: e["new"] in CLOSED, "the socket's last event")


def desc(e):
    what = "%s -> %s" % (e["old"], e["new"]) if e["type"] == "state" else "%s >> STUCK" % e["state"]
    return "%s %s %s" % (what, ep(e["laddr"], e["lport"]), ep(e["raddr"], e["rport"]))


def check_owner(e, allowed, why):
    """allowed: {pid: comm} of the processes that may be named (the ground truth)."""
    pid, comm = e["pid"], e["comm"]
    where = "%s: %s" % (why, desc(e))
    if pid is not None and pid not in allowed and is_kthread(pid):
        raise AssertionError("%s names kernel thread %s/%s; expected %s" % (where, pid, comm,
                                                                           allowed))
    assert pid in allowed, "%s names %s/%s (%s); expected %s" % (
        where, pid, comm, "alive" if pid and alive(pid) else "not a live process", allowed)
    assert comm == allowed[pid], "%s names %s/%r; the process is %r" % (where, pid, comm,
                                                                        allowed[pid])


def check_socket(events, rule, what, sequence=None):
    """rule(event) -> (allowed {pid: comm}, why). Owners first (the point of this file), then
    the transitions when their sequence is deterministic."""
    assert events, "%s: no events" % what
    for e in events:
        allowed, why = rule(e)
        check_owner(e, allowed, "%s, %s" % (what, why))
    if sequence is not None:
        got = [(e["old"], e["new"]) for e in events]
        assert got == sequence, "%s: transitions %s, expected %s" % (what, got, sequence)


def same_state(events):
    return [e for e in events if e["type"] == "state" and e["old"] == e["new"]]


def check_alert(alert, holders, why):
    """A stuck alert names who holds the socket when it fires, as ss shows it then (`holders`,
    {pid: comm}), like `snapshot --stuck -p`: a socket no process holds (an orphan after
    close(), a child waiting in the backlog) names no one. The array of all holders (`owners`,
    as in snapshot) is checked when present."""
    if holders:
        check_owner(alert, holders, why)
    else:
        assert alert["pid"] is None and alert["comm"] is None, (
            "%s: %s names %s/%s, but no process holds the socket (ss shows none)"
            % (why, desc(alert), alert["pid"], alert["comm"]))
    for key in ("owners", "pids"):
        if key in alert:
            got = {(o["pid"], o["comm"]) if isinstance(o, dict) else (o, holders.get(o))
                   for o in alert[key]}
            assert got == set(holders.items()), "%s: %s %s, ss holders %s" % (
                why, key, alert[key], holders)


def read_until(s, end=b"\n"):
    data = b""
    while not data.endswith(end):
        d = s.recv(4096)
        if not d:
            break
        data += d
    return data


def read_to_eof(s):
    data = b""
    while True:
        d = s.recv(65536)
        if not d:
            return data
        data += d


def http_get(s):
    """One HTTP/1.1 keep-alive request; returns the body."""
    s.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
    data = b""
    while b"\r\n\r\n" not in data:
        d = s.recv(4096)
        assert d, "server closed the keep-alive connection: %r" % data
        data += d
    head, body = data.split(b"\r\n\r\n", 1)
    n = int(re.search(rb"(?i)content-length:\s*(\d+)", head).group(1))
    while len(body) < n:
        body += s.recv(4096)
    return body


def me():
    return {ME: comm_of(ME)}


def check_mine(tracer, cookie, what):
    """Sockets of the test process itself (clients and servers here) name it on every event."""
    check_socket(sock_events(tracer, cookie), lambda e: (me(), "the test process holds it"),
                 what)


# ---------------------------------------------------------------- 1. Python pre-fork server

PREFORK = r"""
import os, signal, socket, sys
port = int(sys.argv[1])
l = socket.socket()
l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("127.0.0.1", port))
l.listen(16)
kept = []
def release(signum, frame):
    for c in kept:
        c.close()
    kept.clear()
    print("released", os.getpid(), flush=True)
for _ in range(2):
    pid = os.fork()
    if pid == 0:
        signal.signal(signal.SIGUSR1, release)
        while True:
            c, peer = l.accept()
            req = b""
            while not req.endswith(b"\n"):
                d = c.recv(100)
                if not d:
                    break
                req += d
            if req == b"leak\n":
                kept.append(c)  # forgotten: CLOSE_WAIT once the client closes
                print("leak", os.getpid(), peer[1], flush=True)
            else:
                c.sendall(b"bye\n")
                c.close()
                print("served", os.getpid(), peer[1], flush=True)
    print("worker", pid, flush=True)
print("ready", flush=True)
while True:
    signal.pause()
"""


def test_prefork_worker_leak():
    port = 8101
    local = ep("127.0.0.1", port)
    with Scenario() as sc:
        main = sc.trace()
        stuck = sc.trace("--stuck", "CLOSE_WAIT=1s", "-q")
        srv = sc.py(PREFORK, port)
        workers = {int(srv.expect(r"^worker (\d+)").group(1)) for _ in range(2)}
        srv.expect("^ready")
        master = srv.pid
        _, lholders = ss_listener(local, {master} | workers)

        # A served request: the worker answers and closes.
        c1 = sc.connect("127.0.0.1", port)
        p1 = c1.getsockname()[1]
        c1.sendall(b"hello\n")
        assert read_to_eof(c1) == b"bye\n"
        w1 = int(srv.expect(r"^served (\d+) %d$" % p1).group(1))
        w1_comm = comm_of(w1)
        c1.close()

        # A leaked connection: the worker reads the request and forgets the socket.
        c2 = sc.connect("127.0.0.1", port)
        p2 = c2.getsockname()[1]
        c2.sendall(b"leak\n")
        w2 = int(srv.expect(r"^leak (\d+) %d$" % p2).group(1))
        assert w2 in workers and w1 in workers, (w1, w2, workers)
        w2_comm = comm_of(w2)
        child2, s = ss_find(local, ep("127.0.0.1", p2), "ESTAB")
        assert s.users == {w2: w2_comm}, s  # ground truth: only the worker holds it
        by_pid = sc.trace("--pid", str(w2))
        c2.close()
        wait_transition(main, child2, "ESTABLISHED", "CLOSE_WAIT")
        _, s = ss_find(local, ep("127.0.0.1", p2), "CLOSE-WAIT")
        assert s.users == {w2: w2_comm}, s
        alert = tt.wait_until(lambda: sock_events(stuck, child2, "stuck"),
                              what="the CLOSE_WAIT stuck alert")[0]
        _, s = ss_find(local, ep("127.0.0.1", p2), "CLOSE-WAIT")  # still leaking after it
        assert s.users == {w2: w2_comm}, s
        os.kill(w2, signal.SIGUSR1)
        srv.expect(r"^released %d$" % w2)
        wait_transition(main, child2, "LAST_ACK", "CLOSE")
        child1 = [e for e in main.events(mine) if e["lport"] == port and e["rport"] == p1][0]
        wait_closed(main, child1["sock"])

        pre = lambda e: (lholders, "before accept: the listener's holders")  # noqa: E731

        def rule(worker, comm):
            def r(e):
                if (e["old"], e["new"]) in PRE_ACCEPT:
                    return pre(e)
                return {worker: comm}, "the worker that accepted it (ss: %d)" % worker
            return r

        check_socket(sock_events(main, child2), rule(w2, w2_comm), "leaked connection",
                     [("CLOSE", "SYN_RECV"), ("SYN_RECV", "ESTABLISHED"),
                      ("ESTABLISHED", "CLOSE_WAIT"), ("CLOSE_WAIT", "LAST_ACK"),
                      ("LAST_ACK", "CLOSE")])
        check_socket(sock_events(main, child1["sock"]), rule(w1, w1_comm), "served connection")
        for cookie in {e["sock"] for e in main.events(mine) if e["rport"] == port}:
            check_mine(main, cookie, "client")

        assert alert["state"] == "CLOSE_WAIT", alert
        check_alert(alert, {w2: w2_comm}, "stuck alert (ss: the worker holds it)")
        assert len(sock_events(stuck, child2, "stuck")) == 1

        # --pid WORKER: the worker's leak and its close, and nothing of other processes.
        tt.wait_until(lambda: [e for e in sock_events(by_pid, child2)
                               if e["old"] == "LAST_ACK"],
                      what="--pid %d to show the worker's leaked socket closing" % w2)
        got = [(e["old"], e["new"]) for e in sock_events(by_pid, child2)]
        assert got == [("ESTABLISHED", "CLOSE_WAIT"), ("CLOSE_WAIT", "LAST_ACK"),
                       ("LAST_ACK", "CLOSE")], got
        for e in by_pid.events(mine):
            assert e["pid"] == w2, ("--pid %d printed another owner" % w2, e)


# ---------------------------------------------------------------- 2. nginx

NGINX_CONF = """
# daemon on (the default): the launcher opens the listener, forks the master and exits.
worker_processes 2;
user root;
pid {d}/nginx.pid;
error_log {d}/error.log info;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    keepalive_timeout 60s;
    server {{
        listen 127.0.0.1:{port};
        location / {{ return 200 "hello\\n"; }}
    }}
}}
"""


def read_pidfile(path):
    try:
        with open(path) as f:
            return int(f.read().strip() or 0) or None
    except (OSError, ValueError):
        return None


def start_nginx(sc, port):
    """Starts nginx as a daemon; returns (launcher pid, master pid, worker pids)."""
    d = sc.tmpdir()
    conf = os.path.join(d, "nginx.conf")
    with open(conf, "w") as f:
        f.write(NGINX_CONF.format(d=d, port=port))
    launcher = sc.start(["/usr/sbin/nginx", "-p", d + "/", "-c", conf, "-e",
                         os.path.join(d, "error.log")])
    assert launcher.p.wait(timeout=tt.DEADLINE) == 0, launcher.all
    master = tt.wait_until(lambda: read_pidfile(os.path.join(d, "nginx.pid")),
                           what="nginx.pid")
    workers = set(tt.wait_until(lambda: len(children_of(master)) == 2 and children_of(master),
                                what="2 nginx workers"))
    ss_listener(ep("127.0.0.1", port), {master} | workers)
    return launcher.pid, master, workers


def nginx_keepalive_connection(sc, tracer, port, workers):
    """A keep-alive connection, 2 requests, held, then closed by the client. Returns the server
    socket's cookie, the worker ss shows holding it and the listener's holders at connect."""
    local = ep("127.0.0.1", port)
    _, lholders = ss_listener(local)
    c = sc.connect("127.0.0.1", port)
    cport = c.getsockname()[1]
    assert http_get(c) == b"hello\n"
    assert http_get(c) == b"hello\n"
    cookie, s = ss_find(local, ep("127.0.0.1", cport), "ESTAB")
    assert len(s.users) == 1 and set(s.users) <= workers, (s, workers)
    worker = list(s.users)[0]
    c.close()
    wait_transition(tracer, cookie, "LAST_ACK", "CLOSE")
    return cookie, {worker: s.users[worker]}, lholders


def nginx_rule(lholders, worker):
    def r(e):
        if (e["old"], e["new"]) in PRE_ACCEPT:
            return lholders, "before accept: a live nginx holding the listener (ss)"
        return worker, "the worker serving it (ss)"
    return r


def test_nginx_daemon_two_workers():
    port = 8201
    with Scenario() as sc:
        main = sc.trace()
        launcher, master, workers = start_nginx(sc, port)
        assert not alive(launcher)
        cookie, worker, lholders = nginx_keepalive_connection(sc, main, port, workers)
        # curl: a connection of its own; the server side names a worker, the client side curl.
        cu = sc.start(["curl", "-s", "--local-port", "41001", "http://127.0.0.1:%d/" % port])
        assert cu.p.wait(timeout=tt.DEADLINE) == 0 and cu.expect("^hello$")
        cu_comm = "curl"
        scookie = tt.wait_until(lambda: [e["sock"] for e in main.events(mine)
                                         if e["lport"] == port and e["rport"] == 41001],
                                what="events of curl's connection")[0]
        ccookie = tt.wait_until(lambda: [e["sock"] for e in main.events(mine)
                                         if e["lport"] == 41001], what="curl's socket")[0]
        wait_transition(main, scookie, "LAST_ACK", "CLOSE")
        wait_closed(main, ccookie)

        listen = [e for e in main.events(mine) if e["new"] == "LISTEN" and e["lport"] == port]
        assert len(listen) == 1, listen
        check_owner(listen[0], {launcher: "nginx"}, "listen() by the launcher")
        check_socket(sock_events(main, cookie), nginx_rule(lholders, worker),
                     "keep-alive connection",
                     [("CLOSE", "SYN_RECV"), ("SYN_RECV", "ESTABLISHED"),
                      ("ESTABLISHED", "CLOSE_WAIT"), ("CLOSE_WAIT", "LAST_ACK"),
                      ("LAST_ACK", "CLOSE")])
        ev = sock_events(main, scookie)
        served = {e["pid"] for e in ev if (e["old"], e["new"]) not in PRE_ACCEPT}
        assert len(served) == 1 and served <= workers, (
            "curl's connection: after accept every event must name one nginx worker %s: %s"
            % (workers, [(desc(e), e["pid"]) for e in ev]))
        w = served.pop()
        check_socket(ev, nginx_rule(lholders, {w: "nginx"}), "curl's connection")
        check_socket(sock_events(main, ccookie),
                     lambda e: ({cu.pid: cu_comm}, "curl holds its socket"), "curl's socket")


def test_nginx_binary_upgrade():
    port = 8202
    local = ep("127.0.0.1", port)
    with Scenario() as sc:
        main = sc.trace()
        launcher, old_master, old_workers = start_nginx(sc, port)
        d = sc.tmpdir()
        # A request before the upgrade: the old workers accept.
        cu = sc.start(["curl", "-s", "http://127.0.0.1:%d/" % port])
        assert cu.p.wait(timeout=tt.DEADLINE) == 0
        os.kill(old_master, signal.SIGUSR2)  # exec the new binary: a new master, its workers
        new_master = tt.wait_until(
            lambda: os.path.exists(os.path.join(d, "nginx.pid.oldbin")) and
            read_pidfile(os.path.join(d, "nginx.pid")) not in (None, old_master) and
            read_pidfile(os.path.join(d, "nginx.pid")), what="the new master's pid file")
        new_workers = set(tt.wait_until(
            lambda: len(children_of(new_master)) == 2 and children_of(new_master),
            what="the new master's 2 workers"))
        os.kill(old_master, signal.SIGWINCH)  # old workers stop
        tt.wait_until(lambda: not any(alive(p) for p in old_workers), what="old workers gone")
        os.kill(old_master, signal.SIGQUIT)  # old master exits
        tt.wait_until(lambda: not alive(old_master), what="old master gone")
        _, lholders = ss_listener(local, {new_master} | new_workers)

        cookie, worker, lholders = nginx_keepalive_connection(sc, main, port, new_workers)
        assert lholders.keys() == {new_master} | new_workers, lholders
        check_socket(sock_events(main, cookie), nginx_rule(lholders, worker),
                     "connection after the upgrade",
                     [("CLOSE", "SYN_RECV"), ("SYN_RECV", "ESTABLISHED"),
                      ("ESTABLISHED", "CLOSE_WAIT"), ("CLOSE_WAIT", "LAST_ACK"),
                      ("LAST_ACK", "CLOSE")])


# ---------------------------------------------------------------- 3. gunicorn

GUNICORN_APP = """
import time

def app(environ, start_response):
    # Long enough for 1 s of CLOSE_WAIT after the test's ss polling on a loaded machine.
    time.sleep(5)
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "6")])
    return [b"hello\\n"]
"""


def test_gunicorn_worker():
    port = 8301
    local = ep("127.0.0.1", port)
    with Scenario() as sc:
        main = sc.trace()
        stuck = sc.trace("--stuck", "CLOSE_WAIT=1s", "-q")
        d = sc.tmpdir()
        with open(os.path.join(d, "slowapp.py"), "w") as f:
            f.write(GUNICORN_APP)
        g = sc.start(["/usr/bin/gunicorn", "-w", "1", "-b", local, "--chdir", d,
                      "slowapp:app"])
        worker = int(g.expect(r"Booting worker with pid: (\d+)").group(1))
        master = g.pid
        _, lholders = ss_listener(local, {master, worker})
        c = sc.connect("127.0.0.1", port)
        cport = c.getsockname()[1]
        c.sendall(b"GET / HTTP/1.0\r\nHost: t\r\n\r\n")
        # The handler sleeps 5 s: meanwhile ss shows who holds the connection.
        cookie, s = tt.wait_until(
            lambda: [(k, v) for k, v in ss().items() if v.local == local and
                     v.peer == ep("127.0.0.1", cport) and v.users],
            what="ss to show the accepted connection's holder")[0]
        assert s.users == {worker: comm_of(worker)}, (s, "master", master)
        wcomm = s.users[worker]
        # The client half-closes while the worker is in the handler: CLOSE_WAIT, then the
        # stuck alert, both while ss shows the worker holding the socket.
        c.shutdown(socket.SHUT_WR)
        wait_transition(main, cookie, "ESTABLISHED", "CLOSE_WAIT")
        alert = tt.wait_until(lambda: sock_events(stuck, cookie, "stuck"),
                              what="the CLOSE_WAIT alert during the slow handler")[0]
        _, s = ss_find(local, ep("127.0.0.1", cport), "CLOSE-WAIT")
        assert s.users == {worker: wcomm}, s
        assert read_to_eof(c).endswith(b"hello\n")
        c.close()
        wait_closed(main, cookie)

        def rule(e):
            if (e["old"], e["new"]) in PRE_ACCEPT:
                return lholders, "before accept: master or worker (both hold the listener)"
            return {worker: wcomm}, "the worker (ss), not the master %d" % master
        check_socket(sock_events(main, cookie), rule, "gunicorn connection",
                     [("CLOSE", "SYN_RECV"), ("SYN_RECV", "ESTABLISHED"),
                      ("ESTABLISHED", "CLOSE_WAIT"), ("CLOSE_WAIT", "LAST_ACK"),
                      ("LAST_ACK", "CLOSE")])
        check_alert(alert, {worker: wcomm}, "stuck alert (ss: the worker holds it)")


# ---------------------------------------------------------------- 4. fork per connection

FORK_PER_CONN = r"""
import os, signal, socket, sys
port = int(sys.argv[1])
l = socket.socket()
l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("127.0.0.1", port))
l.listen(16)
print("ready", flush=True)
while True:
    c, peer = l.accept()
    pid = os.fork()
    if pid == 0:
        l.close()
        def release(signum, frame):
            c.close()
            print("released", flush=True)
        signal.signal(signal.SIGUSR1, release)
        # One write(2) per line: the parent prints to the same pipe at the same time.
        os.write(1, b"child %d\n" % os.getpid())
        req = b""
        while not req.endswith(b"\n"):
            req += c.recv(100)
        os.write(1, b"read %d\n" % os.getpid())  # and leaks it
        while True:
            signal.pause()
    c.close()  # the parent's copy
    os.write(1, b"forked %d %d\n" % (pid, peer[1]))
"""


def test_fork_per_connection():
    port = 8401
    local = ep("127.0.0.1", port)
    with Scenario() as sc:
        main = sc.trace()
        srv = sc.py(FORK_PER_CONN, port)
        srv.expect("^ready")
        parent = {srv.pid: comm_of(srv.pid)}
        c = sc.connect("127.0.0.1", port)
        cport = c.getsockname()[1]
        child = int(srv.expect(r"^forked (\d+) %d$" % cport).group(1))
        srv.expect(r"^child %d$" % child)
        c.sendall(b"query\n")  # only now: the parent has closed its copy
        srv.expect(r"^read %d$" % child)
        cookie, s = ss_find(local, ep("127.0.0.1", cport), "ESTAB")
        ccomm = comm_of(child)
        assert s.users == {child: ccomm}, s
        c.close()
        wait_transition(main, cookie, "ESTABLISHED", "CLOSE_WAIT")
        _, s = ss_find(local, ep("127.0.0.1", cport), "CLOSE-WAIT")
        assert s.users == {child: ccomm}, s
        os.kill(child, signal.SIGUSR1)
        srv.expect("^released")
        wait_transition(main, cookie, "LAST_ACK", "CLOSE")

        def rule(e):
            if (e["old"], e["new"]) in PRE_ACCEPT:
                return parent, "before accept: the listening parent"
            return {child: ccomm}, "the forked child that serves it (the parent closed its copy)"
        check_socket(sock_events(main, cookie), rule, "connection",
                     [("CLOSE", "SYN_RECV"), ("SYN_RECV", "ESTABLISHED"),
                      ("ESTABLISHED", "CLOSE_WAIT"), ("CLOSE_WAIT", "LAST_ACK"),
                      ("LAST_ACK", "CLOSE")])


# ---------------------------------------------------------------- 5. fork after connect

FORK_AFTER_CONNECT = r"""
import os, signal, socket, sys
c = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
print("connected", c.getsockname()[1], flush=True)
r, w = os.pipe()
pid = os.fork()
if pid == 0:
    os.close(w)
    os.read(r, 1)  # until the parent has closed its copy
    def release(signum, frame):
        c.close()
        print("released", flush=True)
    signal.signal(signal.SIGUSR1, release)
    c.sendall(b"hello\n")
    print("sent", os.getpid(), flush=True)
    while True:
        signal.pause()
c.close()
print("closed", pid, flush=True)
os.write(w, b"x")
while True:
    signal.pause()
"""


def test_fork_after_connect():
    port = 8501
    with Scenario() as sc:
        main = sc.trace()
        lst = sc.listen("127.0.0.1", port)
        cli = sc.py(FORK_AFTER_CONNECT, port)
        parent = {cli.pid: comm_of(cli.pid)}
        cport = int(cli.expect(r"^connected (\d+)$").group(1))
        a, _ = sc.accept(lst)
        child = int(cli.expect(r"^closed (\d+)$").group(1))
        cli.expect(r"^sent %d$" % child)
        assert read_until(a) == b"hello\n"
        ccomm = comm_of(child)
        cookie, s = ss_find(ep("127.0.0.1", cport), ep("127.0.0.1", port), "ESTAB")
        assert s.users == {child: ccomm}, s
        a.close()  # the server closes: the child's socket goes to CLOSE_WAIT
        wait_transition(main, cookie, "ESTABLISHED", "CLOSE_WAIT")
        os.kill(child, signal.SIGUSR1)
        cli.expect("^released")
        wait_transition(main, cookie, "LAST_ACK", "CLOSE")

        def rule(e):
            if e["new"] in ("SYN_SENT", "ESTABLISHED"):
                return parent, "connect() by the parent, before the fork"
            return {child: ccomm}, "the child, after its send() (the parent closed its copy)"
        check_socket(sock_events(main, cookie), rule, "client connection",
                     [("CLOSE", "SYN_SENT"), ("SYN_SENT", "ESTABLISHED"),
                      ("ESTABLISHED", "CLOSE_WAIT"), ("CLOSE_WAIT", "LAST_ACK"),
                      ("LAST_ACK", "CLOSE")])


# ---------------------------------------------------------------- 6. fd passing

FD_SENDER = r"""
import os, socket, sys
port, ufd = int(sys.argv[1]), int(sys.argv[2])
u = socket.socket(fileno=ufd)
l = socket.socket()
l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("127.0.0.1", port))
l.listen(16)
print("ready", flush=True)
c, peer = l.accept()
socket.send_fds(u, [b"c"], [c.fileno()])
c.close()  # the sender's copy
print("passed", peer[1], flush=True)
sys.stdin.readline()
"""

FD_RECEIVER = r"""
import os, socket, sys
u = socket.socket(fileno=int(sys.argv[1]))
_, fds, _, _ = socket.recv_fds(u, 10, 1)
c = socket.socket(fileno=fds[0])
print("got", flush=True)
for cmd in sys.stdin:
    if cmd.strip() == "read":
        req = b""
        while not req.endswith(b"\n"):
            req += c.recv(100)
        print("read", flush=True)  # and leaks it
    elif cmd.strip() == "release":
        c.close()
        print("released", flush=True)
"""


def test_fd_passing_scm_rights():
    port = 8601
    local = ep("127.0.0.1", port)
    with Scenario() as sc:
        main = sc.trace()
        us, ur = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            snd = sc.py(FD_SENDER, port, us.fileno(), pass_fds=[us.fileno()])
            rcv = sc.py(FD_RECEIVER, ur.fileno(), pass_fds=[ur.fileno()])
        finally:
            us.close()
            ur.close()
        snd.expect("^ready")
        sender = {snd.pid: comm_of(snd.pid)}
        receiver = {rcv.pid: comm_of(rcv.pid)}
        c = sc.connect("127.0.0.1", port)
        cport = c.getsockname()[1]
        snd.expect(r"^passed %d$" % cport)
        rcv.expect("^got")
        c.sendall(b"request\n")
        rcv.send("read")
        rcv.expect("^read")
        cookie, s = ss_find(local, ep("127.0.0.1", cport), "ESTAB")
        assert s.users == receiver, s
        c.close()
        wait_transition(main, cookie, "ESTABLISHED", "CLOSE_WAIT")
        _, s = ss_find(local, ep("127.0.0.1", cport), "CLOSE-WAIT")
        assert s.users == receiver, s
        rcv.send("release")
        rcv.expect("^released")
        wait_transition(main, cookie, "LAST_ACK", "CLOSE")

        def rule(e):
            if (e["old"], e["new"]) in PRE_ACCEPT:
                return sender, "before accept: the listening sender"
            return receiver, "the receiver of the fd, after its recv() (the sender closed)"
        check_socket(sock_events(main, cookie), rule, "passed connection",
                     [("CLOSE", "SYN_RECV"), ("SYN_RECV", "ESTABLISHED"),
                      ("ESTABLISHED", "CLOSE_WAIT"), ("CLOSE_WAIT", "LAST_ACK"),
                      ("LAST_ACK", "CLOSE")])


# ---------------------------------------------------------------- 7. socket activation

ACTIVATED = r"""
import os, socket, sys
assert os.environ.get("LISTEN_FDS") == "1", os.environ.get("LISTEN_FDS")
l = socket.socket(fileno=3)
kept = []
print("activated", os.getpid(), flush=True)
while True:
    c, peer = l.accept()
    req = b""
    while not req.endswith(b"\n"):
        req += c.recv(100)
    kept.append(c)  # leaked
    print("read", peer[1], flush=True)
"""

ACTIVATED_CONN = r"""
import os, socket, sys
c = socket.socket(fileno=3)  # --accept: the connection itself
req = b""
while not req.endswith(b"\n"):
    req += c.recv(100)
print("read", os.getpid(), c.getpeername()[1], flush=True)
while c.recv(100):
    pass
print("eof", os.getpid(), flush=True)
sys.stdin.readline()  # holds the leak until the test kills it
"""


def test_socket_activation():
    port = 8701
    local = ep("127.0.0.1", port)
    with Scenario() as sc:
        main = sc.trace()
        ssa = sc.start(["systemd-socket-activate", "-l", local, PY, "-c", ACTIVATED])
        pid = ssa.pid
        ssa_comm = comm_of(pid)
        ss_listener(local, {pid})
        # The first connection makes it exec the program (same pid, fd 3 the listener).
        c1 = sc.connect("127.0.0.1", port)
        p1 = c1.getsockname()[1]
        ssa.expect(r"^activated %d$" % pid)
        prog = {pid: comm_of(pid)}
        assert prog[pid] != ssa_comm, prog
        c1.sendall(b"one\n")
        ssa.expect(r"^read %d$" % p1)
        _, lholders = ss_listener(local, {pid})
        assert lholders == prog, lholders
        # A second connection, to the program that runs now.
        c2 = sc.connect("127.0.0.1", port)
        p2 = c2.getsockname()[1]
        c2.sendall(b"two\n")
        ssa.expect(r"^read %d$" % p2)
        cookies = {}
        for p, c in ((p1, c1), (p2, c2)):
            cookies[p], s = ss_find(local, ep("127.0.0.1", p), "ESTAB")
            assert s.users == prog, s
            c.close()
        for p in (p1, p2):
            wait_transition(main, cookies[p], "ESTABLISHED", "CLOSE_WAIT")
            _, s = ss_find(local, ep("127.0.0.1", p), "CLOSE-WAIT")
            assert s.users == prog, s

        listen = [e for e in main.events(mine) if e["new"] == "LISTEN" and e["lport"] == port]
        check_owner(listen[0], {pid: ssa_comm}, "listen() by systemd-socket-activate")

        def rule1(e):
            if (e["old"], e["new"]) in PRE_ACCEPT:  # before the exec or just after it
                return {pid: e["comm"] if e["comm"] in (ssa_comm, prog[pid]) else prog[pid]}, \
                    "before accept: the activator, or the program it became"
            return prog, "the activated program (pid %d after exec)" % pid
        check_socket(sock_events(main, cookies[p1]), rule1, "first connection")
        check_socket(sock_events(main, cookies[p2]),
                     lambda e: (prog, "the activated program, which holds the listener now"),
                     "second connection",
                     [("CLOSE", "SYN_RECV"), ("SYN_RECV", "ESTABLISHED"),
                      ("ESTABLISHED", "CLOSE_WAIT")])


def test_socket_activation_accept():
    port = 8702
    local = ep("127.0.0.1", port)
    with Scenario() as sc:
        main = sc.trace()
        ssa = sc.start(["systemd-socket-activate", "-l", local, "--accept", PY, "-c",
                        ACTIVATED_CONN])
        ssa_pid = ssa.pid
        _, lholders = ss_listener(local, {ssa_pid})
        c = sc.connect("127.0.0.1", port)
        cport = c.getsockname()[1]
        c.sendall(b"hello\n")
        child = int(ssa.expect(r"^read (\d+) %d$" % cport).group(1))
        prog = {child: comm_of(child)}
        assert child != ssa_pid
        cookie, s = ss_find(local, ep("127.0.0.1", cport), "ESTAB")
        assert s.users == prog, s
        c.close()
        ssa.expect(r"^eof %d$" % child)
        wait_transition(main, cookie, "ESTABLISHED", "CLOSE_WAIT")
        _, s = ss_find(local, ep("127.0.0.1", cport), "CLOSE-WAIT")
        assert s.users == prog, s
        os.kill(child, signal.SIGKILL)  # its exit closes the leak
        wait_transition(main, cookie, "LAST_ACK", "CLOSE")

        def rule(e):
            if (e["old"], e["new"]) in PRE_ACCEPT:
                return lholders, "before accept: systemd-socket-activate's listener"
            return prog, "the per-connection program (fd 3), after its recv()"
        check_socket(sock_events(main, cookie), rule, "accepted connection",
                     [("CLOSE", "SYN_RECV"), ("SYN_RECV", "ESTABLISHED"),
                      ("ESTABLISHED", "CLOSE_WAIT"), ("CLOSE_WAIT", "LAST_ACK"),
                      ("LAST_ACK", "CLOSE")])


# ---------------------------------------------------------------- 8. exec

EXEC_PY = r"""
import socket, sys
c = socket.socket(fileno=3)
c.sendall(b"hello\n")
print("sent", flush=True)
sys.stdin.readline()
c.close()
print("released", flush=True)
sys.stdin.readline()
"""


def test_exec_keeps_fd():
    port = 8801
    with Scenario() as sc:
        main = sc.trace()
        lst = sc.listen("127.0.0.1", port)
        # bash connects on fd 3, then becomes python (same pid), which writes to fd 3.
        sh = sc.start(["bash", "-c", 'exec 3<>/dev/tcp/127.0.0.1/%d; echo connected; '
                       'exec "$0" -c "$1"' % port, PY, EXEC_PY])
        pid = sh.pid
        bash = {pid: "bash"}
        sh.expect("^connected")
        a, peer = sc.accept(lst)
        sh.expect("^sent")
        assert read_until(a) == b"hello\n"
        prog = {pid: comm_of(pid)}
        assert prog[pid] != "bash", prog
        cookie, s = ss_find(ep("127.0.0.1", peer[1]), ep("127.0.0.1", port), "ESTAB")
        assert s.users == prog, s
        a.close()
        wait_transition(main, cookie, "ESTABLISHED", "CLOSE_WAIT")
        sh.send("close")
        sh.expect("^released")
        wait_transition(main, cookie, "LAST_ACK", "CLOSE")

        # bash connects, then execs sleep, which holds fd 3 and never touches it.
        sl = sc.start(["bash", "-c", 'exec 3<>/dev/tcp/127.0.0.1/%d; echo connected; '
                       'exec sleep 1000' % port])
        sl.expect("^connected")
        a2, peer2 = sc.accept(lst)
        tt.wait_until(lambda: comm_of(sl.pid) == "sleep", what="bash to exec sleep")
        cookie2, s = ss_find(ep("127.0.0.1", peer2[1]), ep("127.0.0.1", port), "ESTAB")
        assert s.users == {sl.pid: "sleep"}, s
        a2.close()
        wait_transition(main, cookie2, "ESTABLISHED", "CLOSE_WAIT")
        os.kill(sl.pid, signal.SIGTERM)  # sleep's exit closes fd 3
        wait_transition(main, cookie2, "LAST_ACK", "CLOSE")

        def rule(e):
            if e["new"] in ("SYN_SENT", "ESTABLISHED"):
                return bash, "connect() by bash, before the exec"
            return prog, "after the exec and the program's send(): the new program's name"
        check_socket(sock_events(main, cookie), rule, "exec then I/O",
                     [("CLOSE", "SYN_SENT"), ("SYN_SENT", "ESTABLISHED"),
                      ("ESTABLISHED", "CLOSE_WAIT"), ("CLOSE_WAIT", "LAST_ACK"),
                      ("LAST_ACK", "CLOSE")])

        def rule2(e):
            if e["new"] in ("SYN_SENT", "ESTABLISHED"):
                return {sl.pid: "bash"}, "connect() by bash, before the exec"
            return {sl.pid: "sleep"}, "after exec sleep (ss names sleep)"
        check_socket(sock_events(main, cookie2), rule2, "exec sleep",
                     [("CLOSE", "SYN_SENT"), ("SYN_SENT", "ESTABLISHED"),
                      ("ESTABLISHED", "CLOSE_WAIT"), ("CLOSE_WAIT", "LAST_ACK"),
                      ("LAST_ACK", "CLOSE")])


# ---------------------------------------------------------------- 9. named threads

THREADS = r"""
import ctypes, socket, sys, threading
libc = ctypes.CDLL(None)
libc.prctl(15, b"thr-main", 0, 0, 0)  # PR_SET_NAME: the process name
def io():
    libc.prctl(15, b"thr-io", 0, 0, 0)
    c = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
    c.sendall(b"hello\n")
    print("sent", c.getsockname()[1], threading.get_native_id(), flush=True)
    while c.recv(100):
        pass
    print("eof", flush=True)
    sys.stdin.readline()
    c.close()
    print("closed", flush=True)
t = threading.Thread(target=io)
t.start()
t.join()
sys.stdin.readline()
"""


def test_named_threads_process_name():
    port = 8901
    with Scenario() as sc:
        main = sc.trace()
        by_comm = sc.trace("--comm", "thr-main")
        by_thread = sc.trace("--comm", "thr-io")
        lst = sc.listen("127.0.0.1", port)
        p = sc.py(THREADS, port)
        a, _ = sc.accept(lst)
        m = p.expect(r"^sent (\d+) (\d+)$")
        cport, tid = int(m.group(1)), int(m.group(2))
        assert comm_of(p.pid) == "thr-main"
        with open("/proc/%d/task/%d/comm" % (p.pid, tid)) as f:
            assert f.read().strip() == "thr-io"
        proc = {p.pid: "thr-main"}
        cookie, s = ss_find(ep("127.0.0.1", cport), ep("127.0.0.1", port), "ESTAB")
        assert s.users == proc, s
        assert read_until(a) == b"hello\n"
        a.close()
        p.expect("^eof")
        wait_transition(main, cookie, "ESTABLISHED", "CLOSE_WAIT")
        p.send("close")
        p.expect("^closed")
        wait_transition(main, cookie, "LAST_ACK", "CLOSE")
        seq = [("CLOSE", "SYN_SENT"), ("SYN_SENT", "ESTABLISHED"),
               ("ESTABLISHED", "CLOSE_WAIT"), ("CLOSE_WAIT", "LAST_ACK"), ("LAST_ACK", "CLOSE")]
        check_socket(sock_events(main, cookie),
                     lambda e: (proc, "the process (thread group), named by its main thread"),
                     "socket of thread thr-io", seq)
        tt.wait_until(lambda: [e for e in sock_events(by_comm, cookie) if e["old"] == "LAST_ACK"],
                      what="--comm thr-main to show the socket")
        got = [(e["old"], e["new"]) for e in sock_events(by_comm, cookie)]
        assert got == seq, ("--comm thr-main", got)
        assert not sock_events(by_thread, cookie), ("--comm thr-io matched a thread's name",
                                                    sock_events(by_thread, cookie))


# ---------------------------------------------------------------- 10. listeners on one port

SERVER = r"""
import os, selectors, socket, sys
addr, port, flags = sys.argv[1], int(sys.argv[2]), sys.argv[3].split(",")
fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
l = socket.socket(fam)
if "reuseport" in flags:
    l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
if fam == socket.AF_INET6:
    l.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
l.bind((addr, port))
l.listen(16)
sel = selectors.DefaultSelector()
sel.register(0, selectors.EVENT_READ, "cmd")
if "noaccept" not in flags:
    sel.register(l, selectors.EVENT_READ, "listener")
conns = {}
buf = b""
print("ready", os.getpid(), flush=True)
while True:
    for key, _ in sel.select():
        if key.data == "cmd":
            d = os.read(0, 100)
            if not d:
                sys.exit(0)
            buf += d
            while b"\n" in buf:
                cmd, buf = buf.split(b"\n", 1)
                if cmd == b"close-listener":
                    if "noaccept" not in flags:
                        sel.unregister(l)
                    l.close()
                elif cmd == b"release":
                    for c, reg in conns.values():
                        if reg:
                            sel.unregister(c)
                        c.close()
                    conns = {}
                elif cmd == b"exit":
                    sys.exit(0)
                print("done", cmd.decode(), flush=True)
        elif key.data == "listener":
            c, peer = l.accept()
            conns[peer[1]] = (c, True)
            sel.register(c, selectors.EVENT_READ, peer[1])
            print("acc", peer[1], flush=True)
        else:
            c = key.fileobj
            if c.recv(4096):
                print("read", key.data, flush=True)
            else:
                sel.unregister(c)  # kept open: CLOSE_WAIT until "release"
                conns[key.data] = (c, False)
                print("eof", key.data, flush=True)
"""


def start_server(sc, addr, port, flags=""):
    p = sc.py(SERVER, addr, port, flags or "-")
    p.expect(r"^ready %d$" % p.pid)
    p.owner = {p.pid: comm_of(p.pid)}
    return p


def served_connection(sc, tracer, server, addr, port, pre_allowed, pre_why):
    """Connects to addr:port, the server accepts and reads; the client closes, the server
    leaks, then releases. Returns the server socket's cookie and a rule for its owners."""
    c = sc.connect(addr, port)
    cport = c.getsockname()[1]
    server.expect(r"^acc %d$" % cport)
    c.sendall(b"x")
    server.expect(r"^read %d$" % cport)
    local, peer = ep(addr, port), ep(*c.getsockname()[:2])  # 127.0.0.2 is reached from .1
    cookie, s = ss_find(local, peer, "ESTAB")
    assert s.users == server.owner, s
    c.close()
    server.expect(r"^eof %d$" % cport)
    wait_transition(tracer, cookie, "ESTABLISHED", "CLOSE_WAIT")

    def rule(e):
        if (e["old"], e["new"]) in PRE_ACCEPT:
            return pre_allowed, pre_why
        return server.owner, "the server that accepted it (ss)"
    return cookie, rule


def test_reuseport_group_member_closes():
    port = 9001
    local = ep("127.0.0.1", port)
    with Scenario() as sc:
        main = sc.trace()
        a, b, c = (start_server(sc, "127.0.0.1", port, "reuseport") for _ in range(3))
        group = {**a.owner, **b.owner, **c.owner}
        # Connections while all three listen: each goes to one member.
        checks = []
        cli = [sc.connect("127.0.0.1", port) for _ in range(6)]
        owner_of = {}
        for s in cli:
            cport = s.getsockname()[1]
            owner_of[cport] = tt.wait_until(
                lambda: [m for m in (a, b, c) if any(l == "acc %d" % cport for l in m.lines)],
                what="a member to accept %d" % cport)[0]
        for s in cli:
            cport = s.getsockname()[1]
            m = owner_of[cport]
            m.expect(r"^acc %d$" % cport)
            s.sendall(b"x")
            m.expect(r"^read %d$" % cport)
            cookie, st = ss_find(local, ep("127.0.0.1", cport), "ESTAB")
            assert st.users == m.owner, st
            s.close()
            m.expect(r"^eof %d$" % cport)
            wait_transition(main, cookie, "ESTABLISHED", "CLOSE_WAIT")
            checks.append((cookie, m.owner, group, "before accept: a live member of the group"))
        # The first and the last member close their listeners: b is the group.
        for m in (a, c):
            m.send("close-listener")
            m.expect("^done close-listener")
        ss_listener(local, set(b.owner))
        for _ in range(3):
            cookie, rule = served_connection(sc, main, b, "127.0.0.1", port, b.owner,
                                             "before accept: the group's only listener left")
            checks.append((cookie, b.owner, b.owner, "before accept: the only member left"))
        for m in (a, b, c):
            m.send("release")
            m.expect("^done release")
        for cookie, *_ in checks:
            wait_transition(main, cookie, "LAST_ACK", "CLOSE")
        for i, (cookie, owner, pre, why) in enumerate(checks):
            def rule(e, owner=owner, pre=pre, why=why):
                if (e["old"], e["new"]) in PRE_ACCEPT:
                    return pre, why
                return owner, "the member that accepted it (ss)"
            check_socket(sock_events(main, cookie), rule,
                         "connection %d (%s)" % (i + 1, "3 members" if i < 6 else "1 member"),
                         [("CLOSE", "SYN_RECV"), ("SYN_RECV", "ESTABLISHED"),
                          ("ESTABLISHED", "CLOSE_WAIT"), ("CLOSE_WAIT", "LAST_ACK"),
                          ("LAST_ACK", "CLOSE")])


def check_two_listeners(port, addr1, addr2, flags="", via=None):
    """A listener on addr1, then one on addr2, same port, each held by its own process: each
    child names its own listener's owner before accept. via: the addresses connected to (the
    listeners' by default; a wildcard listener is reached through another loopback address)."""
    via = via or (addr1, addr2)
    with Scenario() as sc:
        main = sc.trace()
        x = start_server(sc, addr1, port, flags)
        y = start_server(sc, addr2, port, flags)
        ss_listener(ep(addr1, port), set(x.owner))
        ss_listener(ep(addr2, port), set(y.owner))
        got = []
        for srv, addr, to in ((x, addr1, via[0]), (y, addr2, via[1])):
            cookie, rule = served_connection(sc, main, srv, to, port, srv.owner,
                                             "before accept: the owner of the listener on %s"
                                             % ep(addr, port))
            got.append((cookie, rule, to))
        for srv in (x, y):
            srv.send("release")
            srv.expect("^done release")
        for cookie, rule, addr in got:
            wait_transition(main, cookie, "LAST_ACK", "CLOSE")
            check_socket(sock_events(main, cookie), rule, "child of %s" % ep(addr, port),
                         [("CLOSE", "SYN_RECV"), ("SYN_RECV", "ESTABLISHED"),
                          ("ESTABLISHED", "CLOSE_WAIT"), ("CLOSE_WAIT", "LAST_ACK"),
                          ("LAST_ACK", "CLOSE")])


def test_same_port_two_addresses():
    check_two_listeners(9101, "127.0.0.1", "127.0.0.2")


def test_same_port_two_families():
    check_two_listeners(9201, "127.0.0.1", "::1")


def test_wildcard_then_specific_listener():
    """The kernel gives a child to the listener on its own address before the wildcard one:
    so does the owner, also when the specific listener came after the wildcard's (the tracer
    skips the lookup of a child's own address on ports without a specific listener)."""
    check_two_listeners(9211, "0.0.0.0", "127.0.0.1", "reuseport", via=("127.0.0.2", "127.0.0.1"))



def test_specific_listener_after_a_child():
    """A child of the wildcard listener, then a listener on that child's own address: the next
    child on the address names the new listener's owner. Each CPU keeps its last listener
    lookup for children (bpf/listeners.bpf.h, listener_memo); a new listener must make it stale.
    The connections come from one CPU, so that both children are looked up on it."""
    port = 9221
    cpus = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(cpus)})
    try:
        with Scenario() as sc:
            main = sc.trace()
            x = start_server(sc, "0.0.0.0", port, "reuseport")
            ss_listener(ep("0.0.0.0", port), set(x.owner))
            got = [served_connection(sc, main, x, "127.0.0.1", port, x.owner,
                                     "before accept: the wildcard listener's owner, the only "
                                     "listener yet")]
            y = start_server(sc, "127.0.0.1", port, "reuseport")
            ss_listener(ep("127.0.0.1", port), set(y.owner))
            got.append(served_connection(sc, main, y, "127.0.0.1", port, y.owner,
                                         "before accept: the owner of the listener on the "
                                         "child's own address, opened after the first child"))
            for srv in (x, y):
                srv.send("release")
                srv.expect("^done release")
            for i, (cookie, rule) in enumerate(got):
                wait_transition(main, cookie, "LAST_ACK", "CLOSE")
                check_socket(sock_events(main, cookie), rule, "child %d" % (i + 1),
                             [("CLOSE", "SYN_RECV"), ("SYN_RECV", "ESTABLISHED"),
                              ("ESTABLISHED", "CLOSE_WAIT"), ("CLOSE_WAIT", "LAST_ACK"),
                              ("LAST_ACK", "CLOSE")])
    finally:
        os.sched_setaffinity(0, cpus)


# ---------------------------------------------------------------- 11. backlog older than tracer

def test_backlog_older_than_tracer():
    port = 9301
    local = ep("127.0.0.1", port)
    with Scenario() as sc:
        lsn = start_server(sc, "127.0.0.1", port, "noaccept")
        clients = [sc.connect("127.0.0.1", port) for _ in range(2)]
        for c in clients:
            c.sendall(b"x")
        children = {}
        for c in clients:
            cport = c.getsockname()[1]
            children[cport], s = ss_find(local, ep("127.0.0.1", cport), "ESTAB")
            assert s.users == {}, s  # not accepted: no process holds the child's file
        _, lholders = ss_listener(local, set(lsn.owner))
        main = sc.trace("--stuck", "ESTABLISHED=1s")
        alerts = {}
        for cport, cookie in children.items():
            alerts[cport] = tt.wait_until(lambda: sock_events(main, cookie, "stuck"),
                                          what="the ESTABLISHED alert of a backlog child")[0]
        for cport in children:
            _, s = ss_find(local, ep("127.0.0.1", cport), "ESTAB")
            assert s.users == {}, s  # still nobody's when the alert fired
        for c in clients:
            c.close()
        for cookie in children.values():
            wait_transition(main, cookie, "ESTABLISHED", "CLOSE_WAIT")
        lsn.send("exit")  # closing the listener ends its backlog
        for cookie in children.values():
            wait_event(main, cookie, lambda e: e["new"] == "CLOSE", "-> CLOSE")
        why = "child in the backlog of %s's listener (ss: held by %s)" % (local, lholders)
        for cport, cookie in children.items():
            ev = sock_events(main, cookie)
            check_socket(ev, lambda e: (lholders, why), "backlog child")
            assert [(e["old"], e["new"]) for e in ev][0] == ("ESTABLISHED", "CLOSE_WAIT"), ev
        for cport, cookie in children.items():
            check_alert(alerts[cport], {}, "stuck alert of a " + why)


# ---------------------------------------------------------------- 12. AF_UNIX garbage collector

GC_CYCLE = r"""
import socket, sys
c = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
c.sendall(b"x")
print("connected", c.getsockname()[1], flush=True)
sys.stdin.readline()
# The TCP socket in flight inside an AF_UNIX cycle: a in b's queue, b in a's queue.
a, b = socket.socketpair()
socket.send_fds(a, [b"x"], [a.fileno(), c.fileno()])
socket.send_fds(b, [b"x"], [b.fileno()])
a.close()
b.close()
c.close()
# Releasing any AF_UNIX socket while fds are in flight starts the collector (a kernel worker),
# which drops the cycle and with it the TCP socket's last reference.
x, y = socket.socketpair()
x.close()
y.close()
print("closed", flush=True)
sys.stdin.readline()
"""


def test_unix_gc_not_a_kernel_thread():
    port = 9401
    with Scenario() as sc:
        main = sc.trace()
        lst = sc.listen("127.0.0.1", port)
        p = sc.py(GC_CYCLE, port)
        owner = {p.pid: comm_of(p.pid)}
        cport = int(p.expect(r"^connected (\d+)$").group(1))
        a, _ = sc.accept(lst)
        assert a.recv(10) == b"x"
        cookie, s = ss_find(ep("127.0.0.1", cport), ep("127.0.0.1", port), "ESTAB")
        assert s.users == owner, s
        p.send("go")
        p.expect("^closed")
        wait_transition(main, cookie, "ESTABLISHED", "FIN_WAIT1")
        assert read_to_eof(a) == b""
        a.close()
        wait_closed(main, cookie)
        assert alive(p.pid)
        check_socket(sock_events(main, cookie),
                     lambda e: (owner, "the process that connected it and dropped it into the "
                                "cycle (the last real owner), not the collector's kworker"),
                     "TCP socket freed by the AF_UNIX garbage collector")


# ---------------------------------------------------------------- 13. close() after shutdown()

SHUTDOWN_CLOSE = r"""
import socket, sys, time
port, hold = int(sys.argv[1]), float(sys.argv[2])
l = socket.socket()
l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("127.0.0.1", port))
l.listen(4)
print("ready", flush=True)
c, peer = l.accept()
req = b""
while not req.endswith(b"\n"):
    req += c.recv(100)
c.setblocking(False)
try:  # fill the peer's receive window and the send buffer: the FIN waits behind the data
    while True:
        c.send(b"x" * 65536)
except BlockingIOError:
    pass
c.shutdown(socket.SHUT_WR)  # ESTABLISHED -> FIN_WAIT1, the FIN not acknowledged
print("shutdown", flush=True)
time.sleep(hold)  # part of the scenario: FIN_WAIT1 lasts `hold` s before close()
c.close()  # the kernel stores FIN_WAIT1 again: no transition
print("closed", flush=True)
sys.stdin.readline()
"""


def test_close_after_shutdown_no_same_state_event():
    port, web = 9501, 9502
    hold = 1.0
    with Scenario() as sc:
        main = sc.trace()
        stuck = sc.trace("--stuck", "FIN_WAIT1=1500ms", "-q")
        # Python's http.server: shutdown(SHUT_WR) then close() on every connection.
        d = sc.tmpdir()
        with open(os.path.join(d, "f.txt"), "w") as f:
            f.write("hello\n")
        hs = sc.start([PY, "-m", "http.server", "--bind", "127.0.0.1", "--directory", d,
                       str(web)])
        _, hholders = ss_listener(ep("127.0.0.1", web), {hs.pid})
        hcookies = []
        for _ in range(3):
            c = sc.connect("127.0.0.1", web)
            cport = c.getsockname()[1]
            c.sendall(b"GET /f.txt HTTP/1.0\r\n\r\n")
            assert read_to_eof(c).endswith(b"hello\n")
            c.close()
            hcookies.append(tt.wait_until(
                lambda: [e["sock"] for e in main.events(mine)
                         if e["lport"] == web and e["rport"] == cport], what="events")[0])
        for cookie in hcookies:
            wait_closed(main, cookie)

        # The same store with the FIN certainly unacknowledged: FIN_WAIT1 -> FIN_WAIT1.
        srv = sc.py(SHUTDOWN_CLOSE, port, hold)
        srv.expect("^ready")
        owner = {srv.pid: comm_of(srv.pid)}
        c = sc.connect("127.0.0.1", port)
        cport = c.getsockname()[1]
        c.sendall(b"GET\n")
        srv.expect("^shutdown")
        cookie, s = ss_find(ep("127.0.0.1", port), ep("127.0.0.1", cport), "FIN-WAIT-1")
        assert s.users == owner, s
        srv.expect("^closed")
        alert = tt.wait_until(lambda: sock_events(stuck, cookie, "stuck"),
                              what="the FIN_WAIT1 stuck alert")[0]
        _, s = ss_find(ep("127.0.0.1", port), ep("127.0.0.1", cport), "FIN-WAIT-1")
        aholders = s.users  # none: the server has closed it
        assert read_to_eof(c)
        c.close()
        fw2 = wait_transition(main, cookie, "FIN_WAIT1", "FIN_WAIT2")
        wait_closed(main, cookie)

        events = main.events(mine)
        assert not same_state(events), "same-state stores printed: %s" % [
            (desc(e), e["sock"]) for e in same_state(events)]
        assert not same_state(stuck.events(mine))
        for cookie_h in hcookies:
            check_socket(sock_events(main, cookie_h), lambda e: (
                hholders, "http.server, which accepted and closed it"), "http.server connection")
        ev = sock_events(main, cookie)
        check_socket(ev, lambda e: (owner, "the server, which shut down and closed it"),
                     "shutdown+close connection")
        seq = [(e["old"], e["new"]) for e in ev]
        assert seq[:4] == [("CLOSE", "SYN_RECV"), ("SYN_RECV", "ESTABLISHED"),
                           ("ESTABLISHED", "FIN_WAIT1"), ("FIN_WAIT1", "FIN_WAIT2")], seq
        # Time in FIN_WAIT1 counts from shutdown(), not from close(): equal to the span between
        # the two events' own timestamps.
        entered = [e for e in ev if e["new"] == "FIN_WAIT1"][0]
        span = (parse_time(fw2["time"]) - parse_time(entered["time"])) * 1000
        assert span > hold * 1000, (span, fw2)
        assert abs(fw2["ms"] - span) < 300, (
            "FIN_WAIT1 -> FIN_WAIT2 ms %.3f, but FIN_WAIT1 began %.3f ms earlier (shutdown; "
            "close() was %.0f ms later)" % (fw2["ms"], span, hold * 1000))
        # The stuck timer was not restarted by close(): ms is the time since shutdown().
        since = (parse_time(alert["time"]) - parse_time(entered["time"])) * 1000
        assert abs(alert["ms"] - since) < 300, (
            "FIN_WAIT1 alert says %.3f ms in the state, raised %.3f ms after it began"
            % (alert["ms"], since))
        check_alert(alert, aholders, "FIN_WAIT1 stuck alert (an orphan: the server closed it)")


# ---------------------------------------------------------------- 14. a launcher with many listeners

LAUNCHER = r"""
import ctypes, os, socket, sys, time
libc = ctypes.CDLL(None)
libc.prctl(15, b"tt-launch", 0, 0, 0)
ls = []
for p in sys.argv[1:]:
    l = socket.socket()
    l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    l.bind(("127.0.0.1", int(p)))
    l.listen(16)
    ls.append(l)
r, w = os.pipe()
if os.fork():
    os.read(r, 1)  # the daemon has its name
    os._exit(0)  # the launcher goes; the daemon keeps the listeners and never accepts
libc.prctl(15, b"tt-daemon", 0, 0, 0)
os.write(w, b"x")
print("daemon", os.getpid(), flush=True)
time.sleep(1000)
"""


def test_launcher_many_listeners():
    """The launcher's exit hands each of its listener groups to the daemon it forked: with a
    few listeners (the exit visits the groups noted for the launcher) and with more than the
    notes hold (the exit walks the listener table)."""
    for ports in ([9601, 9602], list(range(9611, 9618))):
        with Scenario() as sc:
            main = sc.trace()
            launcher = sc.py(LAUNCHER, *ports)
            daemon = int(launcher.expect(r"^daemon (\d+)$").group(1))
            tt.wait_until(lambda: launcher.p.poll() is not None, what="the launcher to exit")
            for port in ports:
                ss_listener(ep("127.0.0.1", port), {daemon})
            owner = {daemon: "tt-daemon"}
            for port in ports:
                c = sc.connect("127.0.0.1", port)
                cport = c.getsockname()[1]
                cookie, s = ss_find(ep("127.0.0.1", port), ep("127.0.0.1", cport), "ESTAB")
                wait_transition(main, cookie, "SYN_RECV", "ESTABLISHED")
                check_socket(sock_events(main, cookie),
                             lambda e: (owner, "not accepted yet: the daemon holds the listener "
                                        "(%d listeners)" % len(ports)),
                             "child on port %d" % port,
                             [("CLOSE", "SYN_RECV"), ("SYN_RECV", "ESTABLISHED")])


# ---------------------------------------------------------------- 15. a process renames itself

RENAMER = r"""
import ctypes, socket, sys
libc = ctypes.CDLL(None)
libc.prctl(15, b"tt-before", 0, 0, 0)
l = socket.socket()
l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("127.0.0.1", int(sys.argv[2])))
l.listen(16)
c = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
c.sendall(b"hello\n")
print("sent", c.getsockname()[1], flush=True)
sys.stdin.readline()
# setproctitle and daemons name themselves this way: no exec, same pid, a new /proc/PID/comm
libc.prctl(15, b"tt-after", 0, 0, 0)
print("renamed", flush=True)
sys.stdin.readline()
c.close()
print("closed", flush=True)
sys.stdin.readline()
"""


def test_rename_without_exec():
    """prctl(PR_SET_NAME) by the process's main thread: the events after it name the new name,
    as ss does, for its connection (softirq transitions) and its listener's children."""
    port, lport = 9701, 9702
    with Scenario() as sc:
        main = sc.trace()
        lst = sc.listen("127.0.0.1", port)
        p = sc.py(RENAMER, port, lport)
        cport = int(p.expect(r"^sent (\d+)$").group(1))
        a, _ = sc.accept(lst)
        assert read_until(a) == b"hello\n"
        cookie, s = ss_find(ep("127.0.0.1", cport), ep("127.0.0.1", port), "ESTAB")
        assert s.users == {p.pid: "tt-before"}, s
        p.send("rename")
        p.expect("^renamed")
        after = {p.pid: "tt-after"}
        _, s = ss_find(ep("127.0.0.1", cport), ep("127.0.0.1", port), "ESTAB")
        assert s.users == after, s
        a.close()
        wait_transition(main, cookie, "ESTABLISHED", "CLOSE_WAIT")
        c = sc.connect("127.0.0.1", lport)
        child, _ = ss_find(ep("127.0.0.1", lport), ep("127.0.0.1", c.getsockname()[1]), "ESTAB")
        wait_transition(main, child, "SYN_RECV", "ESTABLISHED")
        p.send("close")
        p.expect("^closed")
        wait_transition(main, cookie, "LAST_ACK", "CLOSE")

        def rule(e):
            if e["new"] in ("SYN_SENT", "ESTABLISHED"):
                return {p.pid: "tt-before"}, "connect() before the rename"
            return after, "after prctl(PR_SET_NAME): the new name, as ss shows it"
        check_socket(sock_events(main, cookie), rule, "connection of a renamed process",
                     [("CLOSE", "SYN_SENT"), ("SYN_SENT", "ESTABLISHED"),
                      ("ESTABLISHED", "CLOSE_WAIT"), ("CLOSE_WAIT", "LAST_ACK"),
                      ("LAST_ACK", "CLOSE")])
        check_socket(sock_events(main, child),
                     lambda e: (after, "not accepted yet: the renamed process holds the listener"),
                     "child of a renamed process's listener",
                     [("CLOSE", "SYN_RECV"), ("SYN_RECV", "ESTABLISHED")])


def parse_time(t):
    from datetime import datetime, timezone
    return datetime.strptime(t, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=timezone.utc).timestamp()


if __name__ == "__main__":
    tt.main([test_prefork_worker_leak, test_nginx_daemon_two_workers, test_nginx_binary_upgrade,
             test_gunicorn_worker, test_fork_per_connection, test_fork_after_connect,
             test_fd_passing_scm_rights, test_socket_activation, test_socket_activation_accept,
             test_exec_keeps_fd, test_named_threads_process_name,
             test_reuseport_group_member_closes, test_same_port_two_addresses,
             test_same_port_two_families, test_wildcard_then_specific_listener,
             test_specific_listener_after_a_child,
             test_backlog_older_than_tracer,
             test_unix_gc_not_a_kernel_thread, test_close_after_shutdown_no_same_state_event,
             test_launcher_many_listeners, test_rename_without_exec])
