"""End-to-end: TIME_WAIT against ss ground truth, and --stuck alerts."""
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
import tt  # noqa: E402

tt.enter_private_netns()
NETNS = tt.netns_inode()

# Accepts `count` connections; for each: read to EOF, then close after `hold` seconds.
SERVER = r"""
import socket, sys, time
addr, port, count, hold = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
s = socket.socket(fam)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((addr, port))
s.listen(64)
print("ready", flush=True)
conns = []
for _ in range(count):
    a, _ = s.accept()
    while a.recv(4096):
        pass
    if hold == 0:
        a.close()
    else:
        conns.append(a)
print("eof", flush=True)
if hold < 0:
    sys.stdin.readline()  # hold until told
else:
    time.sleep(hold)
for a in conns:
    a.close()
s.close()
print("done", flush=True)
"""

# mode "half": shutdown(SHUT_WR), read the server's EOF, close: the peer's FIN is seen first.
# mode "plain": close() at once; the server keeps its end open.
CLIENTS = r"""
import socket, sys
addr, port, count, mode = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
for _ in range(count):
    c = socket.create_connection((addr, port))
    c.sendall(b"x")
    if mode == "half":
        c.shutdown(socket.SHUT_WR)
        while c.recv(4096):
            pass
    c.close()
print("sent", flush=True)
"""


def mine(e):
    return e.get("netns") == NETNS


def endpoint(addr, port):
    return "[%s]:%d" % (addr, port) if ":" in addr else "%s:%d" % (addr, port)


def ss_pairs(state, port):
    """(local, peer) of the sockets ss lists in `state` whose peer port is `port`."""
    out = subprocess.run(["ss", "-tanH", "state", state], capture_output=True, text=True,
                         check=True).stdout
    pairs = set()
    for line in out.splitlines():
        f = line.split()
        if len(f) >= 4 and f[-1].endswith(":%d" % port):
            pairs.add((f[-2], f[-1]))
    return pairs


def event_pairs(events, new):
    return {(endpoint(e["laddr"], e["lport"]), endpoint(e["raddr"], e["rport"]))
            for e in events if e["type"] == "state" and e["new"] == new}


def check_time_wait(addr, port):
    tracer = tt.Tracer("--netns", str(NETNS), "--port", str(port))
    try:
        # Half-closing clients: the server closes right after EOF, so their FIN is seen.
        srv = tt.run_py(SERVER, addr, port, 4, 0)
        assert tt.read_line(srv) == "ready"
        cli = tt.run_py(CLIENTS, addr, port, 4, "half")
        assert tt.read_line(cli) == "sent"
        assert tt.read_line(srv) == "eof" and tt.read_line(srv) == "done"
        # Plain closes while the server holds on: timewait in the FIN_WAIT2 substate.
        srv2 = tt.run_py(SERVER, addr, port + 1, 3, -1)
        assert tt.read_line(srv2) == "ready"
        cli2 = tt.run_py(CLIENTS, addr, port + 1, 3, "plain")
        assert tt.read_line(cli2) == "sent" and tt.read_line(srv2) == "eof"
        tt.wait_until(lambda: len(event_pairs(tracer.events(mine), "TIME_WAIT")) >= 4,
                      what="4 TIME_WAIT events")
    finally:
        code, err = tracer.stop()
    events = tracer.events(mine)
    tw = event_pairs(events, "TIME_WAIT")
    assert len(tw) == 4, tw
    assert tw == ss_pairs("time-wait", port), (tw, ss_pairs("time-wait", port))
    for e in events:
        if e["new"] == "TIME_WAIT":
            assert e["old"] == "FIN_WAIT2" and not e["reset"], e
    # The other port's plain closes were not traced (port filter), but ss agrees they are
    # not TIME_WAIT: they wait in FIN_WAIT2 for the server's FIN.
    tt.wait_until(lambda: len(ss_pairs("fin-wait-2", port + 1)) == 3,
                  what="3 sockets in FIN-WAIT-2 in ss")
    srv2.stdin.write(b"go\n")
    srv2.stdin.flush()
    assert tt.read_line(srv2) == "done"
    srv2.wait()


def test_time_wait_matches_ss_ipv4():
    check_time_wait("127.0.0.1", 7000)


def test_time_wait_matches_ss_ipv6():
    check_time_wait("::1", 7100)


def test_fin_wait2_substate_marked_not_time_wait():
    port = 7200
    tracer = tt.Tracer("--netns", str(NETNS), "--port", str(port))
    try:
        srv = tt.run_py(SERVER, "127.0.0.1", port, 2, -1)
        assert tt.read_line(srv) == "ready"
        cli = tt.run_py(CLIENTS, "127.0.0.1", port, 2, "plain")
        assert tt.read_line(cli) == "sent" and tt.read_line(srv) == "eof"
        tt.wait_until(lambda: len(event_pairs(tracer.events(mine), "FIN_WAIT2_TW")) >= 2,
                      what="2 FIN_WAIT2_TW events")
        marked = event_pairs(tracer.events(mine), "FIN_WAIT2_TW")
        fw2 = ss_pairs("fin-wait-2", port)
        assert marked == fw2, (marked, fw2)
        assert not event_pairs(tracer.events(mine), "TIME_WAIT")
        srv.stdin.write(b"go\n")
        srv.stdin.flush()
        assert tt.read_line(srv) == "done"
    finally:
        tracer.stop()


def test_reset_and_refused_never_time_wait():
    port = 7300
    tracer = tt.Tracer("--netns", str(NETNS), "--port", "%d,%d" % (port, port + 1))
    try:
        lst = socket.socket()
        lst.bind(("127.0.0.1", port))
        lst.listen()
        c = socket.create_connection(("127.0.0.1", port))
        a, _ = lst.accept()
        # SO_LINGER 0: close() sends RST, no FIN handshake, no TIME_WAIT.
        c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        cport = c.getsockname()[1]
        c.close()
        tt.wait_until(lambda: [e for e in tracer.events(mine) if e["lport"] == port
                               and e["new"] == "CLOSE" and e["old"] == "ESTABLISHED"],
                      what="server side reset close")
        a.close()
        lst.close()
        tt.refused_connect(port + 1)
        tt.wait_until(lambda: [e for e in tracer.events(mine) if e["rport"] == port + 1
                               and e["new"] == "CLOSE"], what="refused connect close")
    finally:
        tracer.stop()
    events = tracer.events(mine)
    assert not [e for e in events if e["new"] in ("TIME_WAIT", "FIN_WAIT2_TW")], events
    client = [e for e in events if e["lport"] == cport]
    assert [(e["old"], e["new"]) for e in client][-1] == ("ESTABLISHED", "CLOSE"), client
    server = [e for e in events if e["lport"] == port and e["rport"] == cport]
    assert server[-1]["new"] == "CLOSE" and server[-1]["reset"], server
    refused = [e for e in events if e["rport"] == port + 1]
    assert [(e["old"], e["new"]) for e in refused] == [("CLOSE", "SYN_SENT"),
                                                       ("SYN_SENT", "CLOSE")], refused
    assert refused[-1]["reset"], refused
    assert not ss_pairs("time-wait", port) & {(endpoint("127.0.0.1", cport),
                                         endpoint("127.0.0.1", port))}


def test_tw_buckets_full_warns():
    """No timewait socket when tcp_max_tw_buckets is full: tcptrail says so on stderr."""
    port = 7600
    sysctl = "/proc/sys/net/ipv4/tcp_max_tw_buckets"
    with open(sysctl) as f:
        saved = f.read().strip()
    tracer = tt.Tracer("--netns", str(NETNS), "--port", str(port))
    try:
        with open(sysctl, "w") as f:
            f.write("0")
        srv = tt.run_py(SERVER, "127.0.0.1", port, 3, 0)
        assert tt.read_line(srv) == "ready"
        cli = tt.run_py(CLIENTS, "127.0.0.1", port, 3, "half")
        assert tt.read_line(cli) == "sent" and tt.read_line(srv) == "eof"
        tt.wait_until(lambda: "skipped TIME_WAIT" in "".join(tracer.stderr_lines),
                      what="the tcp_max_tw_buckets warning")
    finally:
        with open(sysctl, "w") as f:
            f.write(saved)
        code, err = tracer.stop()
    assert code == 0
    assert err.count("tcp_max_tw_buckets full") == 2, err  # the live warning, the summary
    assert "3 connections skipped TIME_WAIT" in err, err
    assert not ss_pairs("time-wait", port)


def stuck_alerts(tracer, port):
    return [e for e in tracer.events(mine) if e["type"] == "stuck" and e["lport"] == port]


def test_close_wait_leak_alerts_once_naming_the_server():
    port = 7400
    tracer = tt.Tracer("--netns", str(NETNS), "--stuck", "CLOSE_WAIT=1s", "-q")
    try:
        srv = tt.run_py(SERVER, "127.0.0.1", port, 1, 3)
        assert tt.read_line(srv) == "ready"
        cli = tt.run_py(CLIENTS, "127.0.0.1", port, 1, "plain")
        assert tt.read_line(cli) == "sent" and tt.read_line(srv) == "eof"
        tt.wait_until(lambda: stuck_alerts(tracer, port), what="a stuck alert")
        assert tt.read_line(srv) == "done"
        srv.wait()
        cli.wait()
    finally:
        code, err = tracer.stop()
    assert code == 0, err
    alerts = stuck_alerts(tracer, port)
    assert len(alerts) == 1, alerts
    a = alerts[0]
    assert a["pid"] == srv.pid and a["pid"] != cli.pid, (a, srv.pid, cli.pid)
    assert a["owners"] == [{"pid": srv.pid, "comm": "python3"}], a
    assert a["state"] == "CLOSE_WAIT" and a["lport"] == port and a["lservice"] is None
    assert a["laddr"] == "127.0.0.1" and a["raddr"] == "127.0.0.1"
    assert 1000 <= a["ms"] < 3000, a  # raised while the socket was still leaking
    assert "ms_min" not in a and isinstance(a["sock"], int) and a["sock"] > 0
    # -q: alerts only, no transitions.
    assert all(e["type"] == "stuck" for e in tracer.events()), tracer.events()


def test_socket_stuck_before_start_is_reported():
    port = 7500
    srv = tt.run_py(SERVER, "127.0.0.1", port, 1, -1)
    assert tt.read_line(srv) == "ready"
    cli = tt.run_py(CLIENTS, "127.0.0.1", port, 1, "plain")
    assert tt.read_line(cli) == "sent" and tt.read_line(srv) == "eof"
    tracer = tt.Tracer("--stuck", "CLOSE_WAIT=500ms", "--netns", str(NETNS))
    try:
        tt.wait_until(lambda: stuck_alerts(tracer, port), what="alert for a pre-existing CLOSE_WAIT")
        srv.stdin.write(b"go\n")
        srv.stdin.flush()
        assert tt.read_line(srv) == "done"
        tt.wait_until(lambda: [e for e in tracer.events(mine) if e["type"] == "state"
                               and e["old"] == "CLOSE_WAIT"], what="the leak's end")
    finally:
        tracer.stop()
    a = stuck_alerts(tracer, port)
    assert len(a) == 1 and a[0]["pid"] == srv.pid and a[0]["lport"] == port, a
    assert a[0]["ms_min"] is True and a[0]["ms"] >= 500, a
    end = [e for e in tracer.events(mine) if e["type"] == "state" and e["old"] == "CLOSE_WAIT"]
    assert end[0]["pid"] == srv.pid and end[0]["ms_min"] is True, end


# Server models for "who holds the leaked socket" (argv: mode, port). Every process names
# itself (prctl PR_SET_NAME; for the main thread that is the process name) and prints
# "role pid" lines; after the client's EOF the socket is in CLOSE_WAIT and held until killed.
#   worker:       the master listens and forks a worker that accepts (pre-fork servers); the
#                 master never holds the connection.
#   fork-close:   the master accepts, forks a handler and closes its copy (fork per connection).
#   fork-both:    the master accepts and forks; neither closes: two holders.
#   thread:       the process is "thr-main"; a thread named "thr-io" accepts and leaks.
HOLDERS = r"""
import ctypes, os, socket, sys, threading, time
libc = ctypes.CDLL(None)
def name(n):
    libc.prctl(15, n.encode(), 0, 0, 0)  # PR_SET_NAME: the calling thread's comm
def say(*a):
    print(*a, flush=True)
def drain(a):
    while a.recv(4096):
        pass
mode, port = sys.argv[1], int(sys.argv[2])
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", port))
s.listen(8)
if mode == "worker":
    name("pf-master")
    if os.fork() == 0:
        name("pf-worker")
        a, _ = s.accept()
        drain(a)
        say("eof", os.getpid())
        time.sleep(3600)
    say("master", os.getpid())
    say("ready")
elif mode in ("fork-close", "fork-both"):
    name("fa-master")
    say("master", os.getpid())
    say("ready")
    a, _ = s.accept()
    if os.fork() == 0:
        name("fa-child")
        say("child", os.getpid())
        drain(a)
        say("eof", os.getpid())
        time.sleep(3600)
    if mode == "fork-close":
        a.close()
elif mode == "thread":
    name("thr-main")
    def io():
        name("thr-io")
        a, _ = s.accept()
        say("tid", threading.get_native_id())
        drain(a)
        say("eof", os.getpid())
        time.sleep(3600)
    threading.Thread(target=io, daemon=True).start()
    say("master", os.getpid())
    say("ready")
time.sleep(3600)
"""


def ss_holders(lport, rport):
    """{pid: name} of the processes `ss -tanpe` names for 127.0.0.1:lport <-> :rport."""
    out = subprocess.run(["ss", "-tanpeH"], capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        f = line.split()
        if len(f) >= 5 and f[3] == "127.0.0.1:%d" % lport and f[4].endswith(":%d" % rport):
            return {int(p): n for n, p in re.findall(r'\("([^"]*)",pid=(\d+),fd=\d+\)', line)}
    raise AssertionError("ss does not list 127.0.0.1:%d <-> :%d:\n%s" % (lport, rport, out))


def snapshot_row(cookie, *args):
    """`snapshot -p -o json` row of the socket with this cookie (None if not listed)."""
    out = subprocess.run([tt.TCPTRAIL, "snapshot", "-p", "-o", "json"] + list(args),
                         capture_output=True, text=True, check=True).stdout
    rows = [json.loads(l) for l in out.splitlines() if l.startswith("{")]
    rows = [r for r in rows if r["sock"] == cookie]
    assert len(rows) <= 1, rows
    return rows[0] if rows else None


def owners_of(record):
    return {(o["pid"], o["comm"]) for o in record["owners"]}


def check_holders(alert, holders):
    """The alert names exactly `holders` ({pid: comm}, as ss has them), first the lowest pid."""
    assert holders, "nobody holds the socket in ss"
    first = min(holders)
    assert (alert["pid"], alert["comm"]) == (first, holders[first]), (alert, holders)
    assert [o["pid"] for o in alert["owners"]] == sorted(holders), (alert, holders)
    assert owners_of(alert) == set(holders.items()), (alert, holders)
    assert "owners_more" not in alert, alert


def leak(mode, port):
    """Starts a HOLDERS server, makes the client leak a CLOSE_WAIT on it; returns
    (server process, {role: pid}, client port)."""
    srv = subprocess.Popen([sys.executable, "-c", HOLDERS, mode, str(port)],
                           stdout=subprocess.PIPE, start_new_session=True)
    roles = {}
    try:
        while True:
            line = tt.read_line(srv).split()
            if line[0] == "ready":
                break
            roles[line[0]] = int(line[1])
        c = socket.create_connection(("127.0.0.1", port))
        cport = c.getsockname()[1]
        c.sendall(b"x")
        c.close()  # the client's FIN: the server side goes to CLOSE_WAIT and stays
        while True:
            line = tt.read_line(srv).split()
            roles[line[0]] = int(line[1])
            if line[0] == "eof":
                break
    except BaseException:
        os.killpg(srv.pid, signal.SIGKILL)
        srv.wait()
        raise
    return srv, roles, cport


def check_stuck_holders(mode, port, expect, while_held=None):
    """A leak in `mode`: the alert, ss and `snapshot --stuck -p` name the same holders;
    expect(roles) gives the pids that must hold it; while_held(roles) runs before the end."""
    log = os.path.join(tempfile.mkdtemp(), "stuck.jsonl.gz")
    tracer = tt.Tracer("--netns", str(NETNS), "--stuck", "CLOSE_WAIT=1s", "-q", "-w", log)
    srv = None
    try:
        srv, roles, cport = leak(mode, port)
        alert = tt.wait_until(lambda: stuck_alerts(tracer, port), what="the stuck alert")[0]
        holders = ss_holders(port, cport)
        assert set(holders) == set(expect(roles)), (holders, roles)
        check_holders(alert, holders)
        snap = snapshot_row(alert["sock"], "--stuck", "CLOSE_WAIT=1s")
        assert snap, "snapshot --stuck does not list the socket"
        assert (snap["pid"], snap["comm"]) == (alert["pid"], alert["comm"]), (snap, alert)
        assert snap["owners"] == alert["owners"], (snap, alert)
        # Text output names them as snapshot's PID/Program name does.
        text = subprocess.run([tt.TCPTRAIL, "snapshot", "-p", "-n", "--stuck", "CLOSE_WAIT=1s"],
                              capture_output=True, text=True, check=True).stdout
        names = ",".join("%d/%s" % (p, holders[p]) for p in sorted(holders))
        assert re.search(r":%d\s.*CLOSE_WAIT\s+%s$" % (cport, re.escape(names)), text, re.M), text
        if while_held:
            while_held(roles)
    finally:
        code, err = tracer.stop()
        if srv:
            os.killpg(srv.pid, signal.SIGKILL)
            srv.wait()
    assert code == 0, err
    assert len(stuck_alerts(tracer, port)) == 1
    # The log keeps the holders: replay prints the alert as it was printed live (and the log's
    # "seq", which live output has not).
    rep = subprocess.run([tt.TCPTRAIL, "replay", "-o", "json", log], capture_output=True,
                         text=True, check=True).stdout
    replayed = [r for r in map(json.loads, rep.splitlines()) if r["type"] == "stuck"]
    assert [r.pop("seq") > 0 for r in replayed] == [True] and replayed == [alert], rep
    rep = subprocess.run([tt.TCPTRAIL, "replay", "-n", log], capture_output=True, text=True,
                         check=True).stdout
    assert re.search(r">> STUCK\s+\S+\s+%s$" % re.escape(names), rep, re.M), rep
    return alert, roles


def test_stuck_names_the_worker_not_the_master():
    alert, roles = check_stuck_holders("worker", 7700, lambda r: [r["eof"]])
    assert alert["pid"] != roles["master"] and alert["comm"] == "pf-worker", alert


def test_stuck_fork_per_connection_names_the_child():
    alert, roles = check_stuck_holders("fork-close", 7710, lambda r: [r["child"]])
    assert alert["comm"] == "fa-child", alert


def test_stuck_names_every_holder():
    alert, roles = check_stuck_holders("fork-both", 7720, lambda r: [r["master"], r["child"]])
    assert [o["comm"] for o in alert["owners"]] == ["fa-master", "fa-child"], alert


def test_stuck_comm_is_the_process_name_not_the_thread():
    def names(roles):
        def comm(path):
            with open(path) as f:
                return f.read().strip()
        assert comm("/proc/%d/comm" % roles["master"]) == "thr-main"
        assert comm("/proc/%d/task/%d/comm" % (roles["master"], roles["tid"])) == "thr-io"

    alert, roles = check_stuck_holders("thread", 7730, lambda r: [r["master"]], names)
    assert alert["comm"] == "thr-main" and alert["pid"] == roles["master"], alert


def test_stuck_orphan_names_no_one():
    """A socket no process holds any more (closed with unsent data, stuck in FIN_WAIT1 behind
    a peer that does not read): no pid, no comm, no owners; not the process that closed it."""
    port = 7740
    lst = socket.socket()
    lst.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # inherited: a small window
    lst.bind(("127.0.0.1", port))
    lst.listen()
    tracer = tt.Tracer("--netns", str(NETNS), "--stuck", "FIN_WAIT1=1s", "-q")
    try:
        c = socket.socket()
        c.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        c.connect(("127.0.0.1", port))
        a, _ = lst.accept()  # never reads
        cport = c.getsockname()[1]
        tt.fill_send_buffer(c)
        c.close()  # FIN queued behind the unsent data: FIN_WAIT1, orphaned
        alerts = tt.wait_until(lambda: [e for e in tracer.events(mine) if e["type"] == "stuck"
                                        and e["lport"] == cport], what="the FIN_WAIT1 alert")
        assert ss_holders(cport, port) == {}, "ss names a holder of the orphan"
        snap = snapshot_row(alerts[0]["sock"], "-a")
    finally:
        tracer.stop()
        a.close()
        lst.close()
    a = alerts[0]
    assert a["state"] == "FIN_WAIT1" and a["pid"] is None and a["comm"] is None, a
    assert a["owners"] == [], a
    assert snap and snap["pid"] is None and snap["owners"] == [], snap


def test_socket_stuck_before_start_obeys_filters():
    """Sockets older than the tracer are found by a walk the kernel does not filter: an alert
    for one outside --port is still never raised."""
    port = 7550
    servers, clients = [], []
    for p in (port, port + 1):
        srv = tt.run_py(SERVER, "127.0.0.1", p, 1, -1)
        assert tt.read_line(srv) == "ready"
        cli = tt.run_py(CLIENTS, "127.0.0.1", p, 1, "plain")
        assert tt.read_line(cli) == "sent" and tt.read_line(srv) == "eof"
        servers.append(srv)
        clients.append(cli)
    tracer = tt.Tracer("--stuck", "CLOSE_WAIT=500ms", "--port", str(port))
    try:
        tt.wait_until(lambda: stuck_alerts(tracer, port), what="alert for the port traced")
    finally:
        tracer.stop()  # both sockets fell due in the same tick: no need to wait longer
        for srv in servers:
            srv.stdin.write(b"go\n")
            srv.stdin.flush()
            assert tt.read_line(srv) == "done"
            srv.wait()
    alerts = [e for e in tracer.events() if e["type"] == "stuck"]
    assert [(a["lport"], a["pid"]) for a in alerts] == [(port, servers[0].pid)], alerts


def test_stuck_time_wait_rejected_while_tracing():
    p = subprocess.run([tt.TCPTRAIL, "--stuck", "TIME_WAIT=1s"], capture_output=True, text=True)
    assert p.returncode == 2 and "snapshot" in p.stderr, p.stderr


if __name__ == "__main__":
    tt.main([test_time_wait_matches_ss_ipv4, test_time_wait_matches_ss_ipv6,
             test_fin_wait2_substate_marked_not_time_wait, test_reset_and_refused_never_time_wait,
             test_close_wait_leak_alerts_once_naming_the_server,
             test_socket_stuck_before_start_is_reported,
             test_socket_stuck_before_start_obeys_filters, test_stuck_time_wait_rejected_while_tracing,
             test_tw_buckets_full_warns, test_stuck_names_the_worker_not_the_master,
             test_stuck_fork_per_connection_names_the_child, test_stuck_names_every_holder,
             test_stuck_comm_is_the_process_name_not_the_thread, test_stuck_orphan_names_no_one])
