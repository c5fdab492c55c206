"""End-to-end: the live tracer against real sockets in a private network namespace."""
import json
import os
import re
import signal
import subprocess
import sys
import threading

sys.path.insert(0, os.path.dirname(__file__))
import tt  # noqa: E402

tt.enter_private_netns()
NETNS = tt.netns_inode()

SERVER, CLIENT = tt.CLOSE_WAIT_SERVER, tt.HELLO_CLIENT

CLIENT_HALF_CLOSE = r"""
import socket, sys
addr, port = sys.argv[1], int(sys.argv[2])
c = socket.create_connection((addr, port))
c.sendall(b"hello")
c.shutdown(socket.SHUT_WR)
while c.recv(4096):
    pass
c.close()
"""


def mine(e):
    return e.get("netns") == NETNS and e.get("type") == "state"


def by_sock(events, cookie):
    return [e for e in events if e["sock"] == cookie]


def transitions(events):
    return [(e["old"], e["new"]) for e in events]


def run_scenario(tracer, addr, port, hold=1.0, client=CLIENT):
    """Server holds CLOSE_WAIT for `hold` s; returns (server pid, client pid, events)."""
    srv = tt.run_py(SERVER, addr, port, hold)
    assert tt.read_line(srv) == "ready"
    cli = tt.run_py(client, addr, port)
    assert tt.read_line(srv) == "eof"
    assert tt.read_line(srv) == "done"
    srv.wait()
    cli.wait()
    assert cli.returncode == 0 and srv.returncode == 0

    def listener_closed():
        return [e for e in tracer.events(mine)
                if e["old"] == "LISTEN" and e["new"] == "CLOSE" and e["lport"] == port]

    tt.wait_until(listener_closed, what="listener close event")
    # The server child's last event comes before the listener closes; the client's
    # handoff to timewait may trail, so wait for it too.
    tt.wait_until(lambda: any(e["pid"] == cli.pid and e["old"] in ("FIN_WAIT2", "CLOSING")
                              for e in tracer.events(mine)), what="client's final event")
    return srv.pid, cli.pid, tracer.events(mine)


def check_lifecycle(addr, port, service, proto, shown_addr, client=CLIENT):
    tracer = tt.Tracer("--netns", str(NETNS))
    try:
        spid, cpid, events = run_scenario(tracer, addr, port, client=client)
    finally:
        code, err = tracer.stop()
    assert code == 0, err
    n, lost = tt.summary_counts(err)
    assert lost == 0, err
    assert n >= len(events)

    listener = [e for e in events if e["lport"] == port and "LISTEN" in (e["old"], e["new"])]
    assert transitions(listener) == [("CLOSE", "LISTEN"), ("LISTEN", "CLOSE")], listener
    client_open = [e for e in events if e["old"] == "CLOSE" and e["new"] == "SYN_SENT"]
    assert len(client_open) == 1, events
    csock = client_open[0]["sock"]
    cev = by_sock(events, csock)
    child = [e for e in events if e["lport"] == port and e["sock"] not in (
        csock, listener[0]["sock"])]
    assert len({e["sock"] for e in child}) == 1, child

    # Client: the kernel's path for an active close.
    expect_tail = ("FIN_WAIT2", "FIN_WAIT2_TW") if client is CLIENT else ("FIN_WAIT2", "TIME_WAIT")
    assert transitions(cev) == [("CLOSE", "SYN_SENT"), ("SYN_SENT", "ESTABLISHED"),
                                ("ESTABLISHED", "FIN_WAIT1"), ("FIN_WAIT1", "FIN_WAIT2"),
                                expect_tail], transitions(cev)
    # Server child: passive close.
    tr = transitions(child)
    assert tr == [("CLOSE", "SYN_RECV"), ("SYN_RECV", "ESTABLISHED"), ("ESTABLISHED", "CLOSE_WAIT"),
                      ("CLOSE_WAIT", "LAST_ACK"), ("LAST_ACK", "CLOSE")], tr

    # Owners: every server-side event names the server, every client event the client,
    # although many fired in softirq context of the other process.
    for e in listener + child:
        assert e["pid"] == spid and e["comm"].startswith("python"), e
    for e in cev:
        assert e["pid"] == cpid, e

    # Addresses, ports and services.
    for e in listener + child + cev:
        assert e["proto"] == proto and e["laddr"] == shown_addr, e
        assert e["netns"] == NETNS
    for e in child:
        assert e["lport"] == port and e["lservice"] == service and e["raddr"] == shown_addr
        assert e["rport"] == cev[-1]["lport"]
    for e in cev[1:]:
        assert e["rport"] == port and e["rservice"] == service and e["raddr"] == shown_addr
    assert listener[0]["raddr"] in ("0.0.0.0", "::") and listener[0]["rport"] == 0

    # Time in state: the server held CLOSE_WAIT for 1 s (wide margin for a busy machine).
    held = [e for e in child if e["old"] == "CLOSE_WAIT"][0]["ms"]
    assert 900 <= held <= 10000, held
    assert cev[0]["ms"] is None  # nothing known before the socket's first state
    assert all(isinstance(e["ms"], float) for e in cev[1:]), cev
    # The cookie is the socket's; time strings are RFC 3339 UTC with microseconds.
    for e in events:
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", e["time"]), e["time"]
        for k in ("type", "time", "pid", "comm", "proto", "laddr", "lport", "raddr", "rport",
                  "lservice", "rservice", "old", "new", "ms", "sock", "netns"):
            assert k in e, (k, e)


def test_ipv4_lifecycle_owners_services():
    check_lifecycle("127.0.0.1", 80, "http", "tcp", "127.0.0.1")


def test_ipv6_lifecycle_true_time_wait():
    # The client half-closes and reads EOF first: the peer's FIN is seen, a real TIME_WAIT.
    check_lifecycle("::1", 443, "https", "tcp6", "::1", client=CLIENT_HALF_CLOSE)


def test_ipv4_mapped_printed_as_ipv4():
    tracer = tt.Tracer("--netns", str(NETNS), "--port", "8080")
    try:
        srv = tt.run_py(SERVER, "::", 8080, 0)
        assert tt.read_line(srv) == "ready"
        cli = tt.run_py(CLIENT, "127.0.0.1", 8080)
        assert tt.read_line(srv) == "eof"
        srv.wait()
        cli.wait()
        tt.wait_until(lambda: [e for e in tracer.events(mine) if e["new"] == "CLOSE"
                               and e["old"] == "LAST_ACK"], what="child close")
    finally:
        code, err = tracer.stop()
    child = [e for e in tracer.events(mine) if e["old"] == "LAST_ACK"][0]
    assert child["proto"] == "tcp6" and child["laddr"] == "127.0.0.1", child
    assert child["raddr"] == "127.0.0.1" and child["lservice"] == "http-alt", child


def test_listener_older_than_tracer_gives_children_its_owner():
    """The start walk joins socket files to sockets: a child of an old listener is the server's."""
    port = 7080
    srv = tt.run_py(SERVER, "127.0.0.1", port, 0)
    assert tt.read_line(srv) == "ready"
    tracer = tt.Tracer("--netns", str(NETNS), "--port", str(port))
    try:
        cli = tt.run_py(CLIENT, "127.0.0.1", port)
        assert tt.read_line(srv) == "eof" and tt.read_line(srv) == "done"
        srv.wait()
        cli.wait()
        tt.wait_until(lambda: [e for e in tracer.events(mine) if e["old"] == "LAST_ACK"],
                      what="the server child's close")
    finally:
        code, err = tracer.stop()
    assert code == 0, err
    events = tracer.events(mine)
    child = [e for e in events if e["lport"] == port and e["old"] != "LISTEN" and
             e["new"] != "LISTEN"]
    assert transitions(child)[:2] == [("CLOSE", "SYN_RECV"), ("SYN_RECV", "ESTABLISHED")], child
    for e in child:
        assert e["pid"] == srv.pid and e["comm"].startswith("python"), e
    closed = [e for e in events if e["old"] == "LISTEN" and e["new"] == "CLOSE"]
    assert len(closed) == 1 and closed[0]["pid"] == srv.pid, closed
    assert closed[0]["ms_min"] is True, closed  # LISTEN began before the tracer did


def test_stalled_reader_loses_nothing():
    """stdout is a pipe nobody reads during a churn burst far larger than the 4 MiB ring: the
    event loop must not block on the pipe, so every connection's six events arrive. (With 1 MiB,
    2048 records per CPU, a 250k-events/s burst outran the reader's 10 ms poll on a faster VM
    with any build: the ring, not the pipe, lost events.)"""
    churn = os.path.join(tt.ROOT, ".output", "bench", "churn")
    port = 7090
    rfd, wfd = os.pipe()
    proc = subprocess.Popen([tt.TCPTRAIL, "-o", "json", "--netns", str(NETNS), "--ringbuf-mb",
                             "4"], stdout=wfd, stderr=subprocess.PIPE)
    os.close(wfd)
    err_lines = []
    t_err = threading.Thread(target=lambda: err_lines.extend(proc.stderr))
    t_err.start()
    chunks = []
    reader = threading.Thread(target=lambda: chunks.extend(iter(lambda: os.read(rfd, 1 << 16),
                                                                b"")))
    try:
        tt.wait_until(lambda: any(l.startswith(b"Tracing") for l in err_lines) or
                      proc.poll() is not None, what="'Tracing' on stderr")
        out = subprocess.run([churn, "-s", "1", "-w", "1", "-p", str(port)], capture_output=True,
                             text=True, check=True).stdout
        conns = int(re.search(r"connections=(\d+)", out).group(1))
    finally:
        reader.start()  # only now: the pipe stayed full during the whole burst
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=tt.DEADLINE)
        reader.join()
        t_err.join()
        os.close(rfd)
    err = b"".join(err_lines).decode()
    assert proc.returncode == 0, err
    n, lost = tt.summary_counts(err)
    assert lost == 0, err
    mine_ev = [e for e in (json.loads(l) for l in b"".join(chunks).decode().splitlines())
               if e["netns"] == NETNS and port in (e["lport"], e["rport"])]
    # The ring holds ~26k records (4 MiB of 160-byte slots); the burst made more than that.
    assert conns * 6 > (4 << 20) // 160, conns
    assert 6 * conns + 2 <= len(mine_ev) <= 6 * (conns + 1) + 2, (conns, len(mine_ev))


def test_filters_in_kernel():
    """Excluded ports, states, pids and families produce no event at all."""
    tracer = tt.Tracer("--netns", str(NETNS), "--port", "80", "--state", "CLOSE_WAIT")
    try:
        # Port 81 first (must not show), then port 80 (must show CLOSE_WAIT transitions only).
        for port in (81, 80):
            srv = tt.run_py(SERVER, "127.0.0.1", port, 0)
            assert tt.read_line(srv) == "ready"
            cli = tt.run_py(CLIENT, "127.0.0.1", port)
            assert tt.read_line(srv) == "eof"
            srv.wait()
            cli.wait()
        tt.wait_until(lambda: [e for e in tracer.events(mine) if e["old"] == "CLOSE_WAIT"],
                      what="CLOSE_WAIT -> LAST_ACK on port 80")
    finally:
        code, err = tracer.stop()
    assert code == 0
    events = tracer.events(mine)
    assert events and all(e["lport"] == 80 or e["rport"] == 80 for e in events), events
    assert all("CLOSE_WAIT" in (e["old"], e["new"]) for e in events), events
    assert transitions(events) == [("ESTABLISHED", "CLOSE_WAIT"), ("CLOSE_WAIT", "LAST_ACK")]


def test_pid_comm_and_family_filters():
    srv = tt.run_py(SERVER, "127.0.0.1", 90, 0)
    assert tt.read_line(srv) == "ready"
    by_pid = tt.Tracer("--netns", str(NETNS), "--pid", str(srv.pid))
    v6only = tt.Tracer("--netns", str(NETNS), "-6")
    by_comm = tt.Tracer("--netns", str(NETNS), "--comm", "nosuchcomm,python3")
    try:
        cli = tt.run_py(CLIENT, "127.0.0.1", 90)
        assert tt.read_line(srv) == "eof"
        srv.wait()
        cli.wait()
        for t in (by_pid, by_comm):
            t.wait_events(lambda e: mine(e) and e["old"] == "LAST_ACK", 1, what="child close")
    finally:
        for t in (by_pid, v6only, by_comm):
            t.stop()
    assert all(e["pid"] == srv.pid for e in by_pid.events(mine)), by_pid.events(mine)
    assert not any(e["pid"] == cli.pid for e in by_pid.events(mine))
    assert {e["pid"] for e in by_comm.events(mine)} >= {srv.pid, cli.pid}
    assert v6only.events(mine) == []


def test_text_output_and_numeric():
    tracer = tt.Tracer("--netns", str(NETNS), "--port", "80", json_output=False)
    numeric = tt.Tracer("--netns", str(NETNS), "--port", "80", "-n", json_output=False)
    try:
        srv = tt.run_py(SERVER, "127.0.0.1", 80, 0)
        assert tt.read_line(srv) == "ready"
        cli = tt.run_py(CLIENT, "127.0.0.1", 80)
        srv.wait()
        cli.wait()
        for t in (tracer, numeric):
            tt.wait_until(lambda: any("LAST_ACK" in l and "CLOSE" in l for l in t.lines),
                          what="text LAST_ACK -> CLOSE")
    finally:
        tracer.stop()
        numeric.stop()
    assert tracer.lines[0].split()[:4] == ["TIME", "PID", "COMM", "PROTO"]
    line = [l for l in tracer.lines if "CLOSE_WAIT -> LAST_ACK" in l.replace("  ", " ")
            or ("CLOSE_WAIT" in l and "LAST_ACK" in l)][0]
    f = line.split()
    assert re.fullmatch(r"\d\d:\d\d:\d\d\.\d{3}", f[0]) and f[1] == str(srv.pid), f
    assert f[4] == "127.0.0.1:http" and f[5].startswith("127.0.0.1:"), f
    nline = [l for l in numeric.lines if "CLOSE_WAIT" in l and "LAST_ACK" in l][0]
    assert nline.split()[4] == "127.0.0.1:80", nline


def test_duration_and_sigterm_end_cleanly():
    t = tt.Tracer("--netns", str(NETNS), "-d", "1")
    tt.wait_until(lambda: t.proc.poll() is not None, what="-d 1 to stop the tracer")
    code, err = t.stop()
    assert code == 0 and re.search(r"\d+ events, 0 lost", err), (code, err)
    t = tt.Tracer("--netns", str(NETNS))
    code, err = t.stop(signal.SIGTERM)
    assert code == 0 and re.search(r"\d+ events, 0 lost", err), (code, err)


def test_usage_errors_exit_2():
    for args in (["--bogus"], ["--state", "NOPE"], ["--port", "70000"], ["-o", "xml"],
                 ["frobnicate"], ["-4", "-6"], ["--pid"], ["--stuck", "CLOSE_WAIT"]):
        p = subprocess.run([tt.TCPTRAIL] + args, capture_output=True, text=True)
        assert p.returncode == 2, (args, p.returncode, p.stderr)
        lines = p.stderr.strip().splitlines()
        assert lines[0].startswith("tcptrail: ") and "--help" in lines[-1], (args, p.stderr)
        assert p.stdout == ""
    p = subprocess.run([tt.TCPTRAIL, "--help"], capture_output=True, text=True)
    assert p.returncode == 0
    for word in ("trace", "snapshot", "replay", "-w", "--stuck"):
        assert word in p.stdout, word


def held_bpf_ids():
    """(kind, id) of every BPF object a live process holds, directly or through a program."""
    held = set()
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            fds = os.listdir("/proc/%s/fdinfo" % pid)
        except OSError:
            continue
        for fd in fds:
            try:
                with open("/proc/%s/fdinfo/%s" % (pid, fd)) as f:
                    text = f.read()
            except OSError:
                continue
            for kind in ("prog", "map", "link"):
                m = re.search(r"^%s_id:\s*(\d+)" % kind, text, re.M)
                if m:
                    held.add((kind, int(m.group(1))))
    progs = json.loads(subprocess.run(["bpftool", "-j", "prog", "show"], capture_output=True,
                                      text=True).stdout or "[]")
    for p in progs:
        if ("prog", p["id"]) in held:
            held.update(("map", m) for m in p.get("map_ids", []))
    return held


OUR_NAMES = {"handle_set_state", "handle_send_reset", "handle_send_reset_reason", "seed_owners",
             "sk_infos", "listeners", "events", "lost"}


def our_bpf_objects():
    """(kind, id) of BPF programs and maps named like tcptrail's."""
    objs = set()
    for kind in ("prog", "map"):
        out = subprocess.run(["bpftool", "-j", kind, "show"], capture_output=True, text=True)
        for o in json.loads(out.stdout or "[]"):
            name = o.get("name", "")
            if name in OUR_NAMES or name.startswith("tcptrail"):
                objs.add((kind, o["id"]))
    return objs


def test_start_stop_50_times_leaks_nothing():
    before = set(our_bpf_objects())
    for _ in range(50):
        t = tt.Tracer("--netns", str(NETNS))
        code, err = t.stop()
        assert code == 0, err

    def leaked():
        held = held_bpf_ids()
        return sorted(k for k in our_bpf_objects() - before if k not in held)

    # Freeing is deferred (RCU), so give the kernel a moment before calling it a leak.
    tt.wait_until(lambda: not leaked(), what="no tcptrail BPF objects left: %s" % leaked())


if __name__ == "__main__":
    tt.main([test_ipv4_lifecycle_owners_services, test_ipv6_lifecycle_true_time_wait,
             test_ipv4_mapped_printed_as_ipv4,
             test_listener_older_than_tracer_gives_children_its_owner,
             test_stalled_reader_loses_nothing, test_filters_in_kernel,
             test_pid_comm_and_family_filters, test_text_output_and_numeric,
             test_duration_and_sigterm_end_cleanly, test_usage_errors_exit_2,
             test_start_stop_50_times_leaks_nothing])
