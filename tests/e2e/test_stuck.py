"""End-to-end: TIME_WAIT against ss ground truth, and --stuck alerts."""
import os
import socket
import subprocess
import sys

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
        r = socket.socket()
        try:
            r.connect(("127.0.0.1", port + 1))
        except ConnectionRefusedError:
            pass
        r.close()
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


def test_stuck_time_wait_rejected_while_tracing():
    p = subprocess.run([tt.TCPTRAIL, "--stuck", "TIME_WAIT=1s"], capture_output=True, text=True)
    assert p.returncode == 2 and "snapshot" in p.stderr, p.stderr


if __name__ == "__main__":
    tt.main([test_time_wait_matches_ss_ipv4, test_time_wait_matches_ss_ipv6,
             test_fin_wait2_substate_marked_not_time_wait, test_reset_and_refused_never_time_wait,
             test_close_wait_leak_alerts_once_naming_the_server,
             test_socket_stuck_before_start_is_reported, test_stuck_time_wait_rejected_while_tracing,
             test_tw_buckets_full_warns])
