"""End-to-end: every event, alert and snapshot row carries the socket's own cgroup (issue 13).

The test makes real cgroup v2 directories under the v2 mount (wherever it is: /sys/fs/cgroup or
a hybrid /sys/fs/cgroup/unified): tt-test-A (a plain cgroup), tt-test-B/docker-<64 hex>.scope
(named like a Docker container's scope) and tt-test-K/kubepods.slice/.../cri-containerd-<id>.scope
(a Kubernetes pod's container, made after the tracer started: its cgroup is found by a second walk
of the hierarchy). Each helper process moves itself into its cgroup before it makes a socket (a
socket keeps the cgroup of the process that created it). Everything happens in a private network
namespace on loopback; the directories are removed at the end, also when a test fails.
"""
import atexit
import json
import os
import re
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
import tt  # noqa: E402

tt.enter_private_netns()
NETNS = tt.netns_inode()

CID_B = "b1" * 32
CID_K = "4c6b5a1f2e3d4c5b6a7980e1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5"
POD_UID = "0a1b2c3d-4e5f-6789-abcd-ef0123456789"
REL_A = "/tt-test-A"
REL_B = "/tt-test-B/docker-%s.scope" % CID_B
REL_K = ("/tt-test-K/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod%s.slice/"
         "cri-containerd-%s.scope" % (POD_UID.replace("-", "_"), CID_K))
TOPS = ["/tt-test-A", "/tt-test-B", "/tt-test-K"]


def v2_mount():
    """The cgroup2 mount point, as tcptrail finds it (the one with the whole hierarchy)."""
    best = None
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, right = line.split(" - ", 1)
            fields = left.split()
            if right.split()[0] != "cgroup2":
                continue
            depth = len([c for c in fields[3].split("/") if c])
            point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), fields[4])
            if best is None or depth < best[0]:
                best = (depth, point)
    assert best, "no cgroup v2 mount: this test needs cgroup v2"
    return best[1]


MNT = v2_mount()


def remove_cgroups():
    """rmdir every test cgroup, deepest first; a cgroup empties a moment after its last exit."""
    for top in TOPS:
        path = MNT + top
        if not os.path.isdir(path):
            continue
        dirs = [d for d, _, _ in os.walk(path)]
        for d in sorted(dirs, key=len, reverse=True):
            for _ in range(200):
                try:
                    os.rmdir(d)
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.02)


def make_cgroup(rel):
    os.makedirs(MNT + rel, exist_ok=True)


remove_cgroups()  # leftovers of an earlier run that was killed
atexit.register(remove_cgroups)
make_cgroup(REL_A)
make_cgroup(REL_B)

# argv: cgroup dir, then the role's arguments. The process joins the cgroup first of all and
# drops the dir from argv, so the role reads its own arguments from sys.argv[1].
JOIN = r"""
import os, socket, sys, time
with open(sys.argv.pop(1) + "/cgroup.procs", "w") as f:
    f.write(str(os.getpid()))
"""

SERVER = JOIN + tt.CLOSE_WAIT_SERVER
CLIENT = JOIN + tt.HELLO_CLIENT

# Sockets that stay: a listener, an established pair, a CLOSE_WAIT (its peer in FIN_WAIT2).
HOLDER = JOIN + r"""
port = int(sys.argv[1])
keep = []
if sys.argv[2] == "server":
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen(16)
    print("ready", flush=True)
    keep = [s] + [s.accept()[0] for _ in range(2)]
else:
    keep = [socket.create_connection(("127.0.0.1", port)) for _ in range(2)]
    keep[1].close()  # the server's side stays in CLOSE_WAIT
    print("ready", flush=True)
sys.stdin.read()
"""


def mine(e):
    return e.get("netns") == NETNS and e.get("type") == "state"


def check_cgroup(e, rel, container=None, pod=None):
    """The cgroup keys of an event or row: rel (None: unknown), container id, pod uid."""
    assert e["cgroup"] == rel, ("cgroup", rel, e)
    assert e["container_id"] == container, ("container_id", container, e)
    assert e["container"] == (container[:12] if container else None), e
    assert e["pod"] == pod, ("pod", pod, e)
    assert e["unit"] is None, e


def scenario(tracer, port, clients, hold=0.3):
    """A server in A, one client per (cgroup) in clients; returns the server's pid."""
    srv = tt.run_py(SERVER, MNT + REL_A, "127.0.0.1", port, hold, len(clients))
    assert tt.read_line(srv) == "ready"
    for rel in clients:
        cli = tt.run_py(CLIENT, MNT + rel, "127.0.0.1", port)
        assert tt.read_line(srv) == "eof"
        cli.wait()
        assert cli.returncode == 0
    assert tt.read_line(srv) == "done"
    srv.wait()
    if tracer:
        tt.wait_until(lambda: [e for e in tracer.events(mine) if e["lport"] == port and
                               e["old"] == "LISTEN" and e["new"] == "CLOSE"],
                      what="listener close")
        n = len(clients)
        tt.wait_until(lambda: len([e for e in tracer.events(mine) if e["rport"] == port and
                                   e["old"] in ("FIN_WAIT2", "CLOSING")]) >= n,
                      what="the clients' final events")
    return srv.pid


def test_every_event_its_own_cgroup():
    """Server in A, a client in B (a Docker scope) and one in a pod made after the start."""
    port = 7301
    tracer = tt.Tracer("--netns", str(NETNS), "--port", str(port), "-w", LOG)
    try:
        # made now: the tracer's walk at start did not see it
        make_cgroup(REL_K)
        scenario(tracer, port, [REL_B, REL_K])
    finally:
        code, err = tracer.stop()
    assert code == 0, err
    events = tracer.events(mine)
    server = [e for e in events if e["lport"] == port]
    clients = [e for e in events if e["rport"] == port and e["lport"] != port]
    assert len(server) + len(clients) == len(events), events
    trans = {(e["old"], e["new"]) for e in server}
    # the softirq transitions are there, and carry the server's cgroup like the rest
    assert ("SYN_RECV", "ESTABLISHED") in trans and ("ESTABLISHED", "CLOSE_WAIT") in trans, trans
    for e in server:
        check_cgroup(e, REL_A)
    socks = {}
    for e in clients:
        socks.setdefault(e["sock"], []).append(e)
    assert len(socks) == 2, socks
    seen = set()
    for evs in socks.values():
        first = evs[0]
        assert (first["old"], first["new"]) == ("CLOSE", "SYN_SENT"), evs
        # FIN_WAIT1 -> FIN_WAIT2 comes with the server's ACK (softirq); the last is the
        # handoff to a timewait socket
        assert ("FIN_WAIT1", "FIN_WAIT2") in {(e["old"], e["new"]) for e in evs}, evs
        assert evs[-1]["new"] in ("FIN_WAIT2_TW", "TIME_WAIT"), evs
        rel = first["cgroup"]
        seen.add(rel)
        for e in evs:
            if rel == REL_B:
                check_cgroup(e, REL_B, CID_B)
            else:
                check_cgroup(e, REL_K, CID_K, POD_UID)
    assert seen == {REL_B, REL_K}, seen


def test_text_column():
    """trace -e: CGROUP is the short container id, else the path."""
    port = 7302
    tracer = tt.Tracer("--netns", str(NETNS), "--port", str(port), "-e", "-n",
                       json_output=False)
    try:
        scenario(None, port, [REL_B])
        tt.wait_until(lambda: sum(" LISTEN " in l and l.rstrip().endswith(REL_A)
                                  for l in tracer.lines) == 2 and
                      any("FIN_WAIT2" in l and CID_B[:12] in l for l in tracer.lines),
                      what="text lines")
    finally:
        code, err = tracer.stop()
    assert code == 0, err
    header = tracer.lines[0].split()
    assert header[-3:] == ["SOCK", "NETNS", "CGROUP"], header
    rows = [l.split() for l in tracer.lines[1:] if l.strip()]
    for f in rows:
        lport = int(f[4].rsplit(":", 1)[1]) if f[4].rsplit(":", 1)[1] != "*" else 0
        assert f[-1] == (REL_A if lport == port else CID_B[:12]), f


def test_kernel_filter():
    """--cgroup in the kernel: B's events never reach userspace (the tracer's own count)."""
    port = 7303
    runs = {}
    for name, args in (("all", []), ("abs", ["--cgroup", MNT + REL_A]),
                       ("rel", ["--cgroup", REL_A + "/"]),
                       ("parent", ["--cgroup", "/tt-test-B"])):
        tracer = tt.Tracer("--netns", str(NETNS), "--port", str(port), *args)
        try:
            scenario(None, port, [REL_B])
            if name == "parent":
                tt.wait_until(lambda: [e for e in tracer.events(mine) if
                                       e["new"] in ("FIN_WAIT2_TW", "TIME_WAIT")],
                              what="the client's final event")
            else:
                tt.wait_until(lambda: [e for e in tracer.events(mine) if e["lport"] == port
                                       and e["new"] == "CLOSE" and e["old"] == "LISTEN"],
                              what="listener close")
            if name == "all":
                tt.wait_until(lambda: [e for e in tracer.events(mine) if
                                       e["new"] in ("FIN_WAIT2_TW", "TIME_WAIT")],
                              what="the client's final event")
            time.sleep(0.3)  # anything else would have arrived by now
        finally:
            code, err = tracer.stop()
        assert code == 0, err
        n, lost = tt.summary_counts(err)
        assert lost == 0
        runs[name] = (n, tracer.events(mine))
    n_all, all_events = runs["all"]
    a_events = [e for e in all_events if e["cgroup"] == REL_A]
    b_events = [e for e in all_events if e["cgroup"] == REL_B]
    assert a_events and b_events and len(a_events) + len(b_events) == n_all, all_events
    for name in ("abs", "rel"):
        n, events = runs[name]
        assert n == len(a_events) and len(events) == n, (name, n, events)
        assert all(e["cgroup"] == REL_A for e in events), events
    # a parent matches the cgroups below it
    n, events = runs["parent"]
    assert n == len(b_events) and all(e["cgroup"] == REL_B for e in events), events


def test_container_filter():
    """--container PREFIX (userspace) keeps the container's sockets only."""
    port = 7304
    tracer = tt.Tracer("--netns", str(NETNS), "--port", str(port), "--container",
                       CID_B[:6].upper())
    try:
        scenario(None, port, [REL_B])
        tt.wait_until(lambda: [e for e in tracer.events(mine) if
                               e["new"] in ("FIN_WAIT2_TW", "TIME_WAIT")],
                      what="the client's final event")
        time.sleep(0.3)
    finally:
        code, err = tracer.stop()
    assert code == 0, err
    events = tracer.events(mine)
    n, _ = tt.summary_counts(err)
    assert events and n == len(events), (n, events)
    assert all(e["container_id"] == CID_B for e in events), events


def test_bad_paths():
    for arg, why in (("/tt-test-nope", "no cgroup '/tt-test-nope' under the cgroup v2 mount "
                      + MNT),
                     ("/tt-test-A/../x", "'.' and '..' are not allowed in a cgroup path")):
        p = subprocess.run([tt.TCPTRAIL, "--cgroup", arg, "-d", "1"], capture_output=True,
                           text=True)
        assert p.returncode == 2, p
        assert why in p.stderr and "Try 'tcptrail --help'" in p.stderr, p.stderr
    p = subprocess.run([tt.TCPTRAIL, "snapshot", "--cgroup", "/tt-test-nope"],
                       capture_output=True, text=True)
    assert p.returncode == 2 and "no cgroup '/tt-test-nope'" in p.stderr, p


def ss_cgroups():
    """{cookie: cgroup path} of every socket ss -tanpe names a cgroup for."""
    out = subprocess.run(["ss", "-tanpeH"], check=True, capture_output=True, text=True).stdout
    rows = {}
    for line in out.splitlines():
        sk = re.search(r"\bsk:([0-9a-f]+)", line)
        cg = re.search(r"\bcgroup:(\S+)", line)
        if sk and cg:
            rows[int(sk.group(1), 16)] = cg.group(1)
    return rows


def test_snapshot_matches_ss():
    """snapshot JSON and -e agree with ss -tanpe's cgroup: column, sockets without process too."""
    port = 7305
    srv = tt.run_py(HOLDER, MNT + REL_A, port, "server")
    assert tt.read_line(srv) == "ready"
    cli = tt.run_py(HOLDER, MNT + REL_B, port, "client")
    assert tt.read_line(cli) == "ready"
    try:
        # a third connection nobody accepts: the server's side is a child no process holds,
        # in its listener's cgroup (the client closes: it sits in CLOSE_WAIT)
        extra = tt.run_py(CLIENT, MNT + REL_B, "127.0.0.1", port)
        extra.wait()

        def rows(*args):
            p = subprocess.run([tt.TCPTRAIL, "snapshot", "-a", "-p", "-o", "json", "--port",
                                str(port)] + list(args), capture_output=True, text=True)
            assert p.returncode == 0, p.stderr
            return [json.loads(l) for l in p.stdout.splitlines()]

        def agree():
            snap, ss = rows(), ss_cgroups()
            by_cookie = {r["sock"]: r for r in snap}
            checked = [c for c in ss if c in by_cookie]
            if len(checked) < 5 or any(by_cookie[c]["cgroup"] != ss[c] for c in checked):
                return False
            if len([r for r in snap if r["lport"] == port and r["state"] == "CLOSE_WAIT"]) < 2:
                return False
            return snap

        snap = tt.wait_until(agree, what="snapshot rows agreeing with ss -tanpe")
        for r in snap:
            if r["timer"] == "timewait":
                check_cgroup(r, None)  # the kernel keeps no cgroup in a timewait socket
            elif r["lport"] == port:
                check_cgroup(r, REL_A)
            else:
                check_cgroup(r, REL_B, CID_B)
        # the child nobody accepted; the extra client's own side may still be an orphan in
        # FIN_WAIT1 (no process either, rightly in B) until its FIN is acknowledged
        nobody = [r for r in snap if r["pid"] is None and r["timer"] != "timewait"
                  and r["lport"] == port]
        assert nobody and all(r["cgroup"] == REL_A for r in nobody), snap

        # -e text: the Cgroup column, before PID/Program name
        p = subprocess.run([tt.TCPTRAIL, "snapshot", "-a", "-e", "-p", "-n", "--port",
                            str(port)], capture_output=True, text=True)
        lines = p.stdout.splitlines()
        assert "Lastsnd  Cgroup" in lines[1] and lines[1].endswith("PID/Program name"), lines
        text = [l for l in lines[2:] if "LISTEN" in l or "ESTABLISHED" in l]
        assert any(" %s " % REL_A in l for l in text), text
        assert any(" %s " % CID_B[:12] in l for l in text), text

        # filters: by path (a parent matches), by container
        a_rows = rows("--cgroup", MNT + REL_A)
        assert a_rows and all(r["cgroup"] == REL_A for r in a_rows), a_rows
        b_rows = rows("--cgroup", "/tt-test-B")
        assert b_rows and all(r["container_id"] == CID_B for r in b_rows), b_rows
        c_rows = rows("--container", CID_B[:12])
        assert c_rows and all(r["container_id"] == CID_B for r in c_rows), c_rows
    finally:
        for p in (srv, cli):
            p.stdin.close()
            p.wait()


def test_stuck_alerts():
    """Alerts carry the cgroup; --cgroup keeps out older sockets of other cgroups (the kernel
    does not filter the start-up walk)."""
    port = 7306
    procs = []
    try:
        # a CLOSE_WAIT in A (port) and one in B (port + 1), both older than the tracer
        for rel, p, role in ((REL_A, port, "server"), (REL_B, port, "client"),
                             (REL_B, port + 1, "server"), (REL_A, port + 1, "client")):
            procs.append(tt.run_py(HOLDER, MNT + rel, p, role))
            assert tt.read_line(procs[-1]) == "ready"
        ports = "%d,%d" % (port, port + 1)

        def stuck(tracer):
            return tracer.events(lambda e: e.get("type") == "stuck" and e["netns"] == NETNS)

        tracer = tt.Tracer("--port", ports, "--stuck", "CLOSE_WAIT=300ms")
        try:
            tt.wait_until(lambda: len(stuck(tracer)) >= 2, what="two stuck alerts")
        finally:
            code, err = tracer.stop()
        assert code == 0, err
        by_port = {e["lport"]: e for e in stuck(tracer)}
        check_cgroup(by_port[port], REL_A)
        check_cgroup(by_port[port + 1], REL_B, CID_B)

        tracer = tt.Tracer("--port", ports, "--stuck", "CLOSE_WAIT=300ms", "--cgroup",
                           "/tt-test-B")
        try:
            tt.wait_until(lambda: stuck(tracer), what="B's alert")
            time.sleep(1.0)  # A's would be due by now
        finally:
            code, err = tracer.stop()
        assert code == 0, err
        alerts = stuck(tracer)
        assert [e["lport"] for e in alerts] == [port + 1], alerts
        check_cgroup(alerts[0], REL_B, CID_B)
    finally:
        for p in procs:
            p.stdin.close()
            p.wait()


def test_replay():
    """The log of the first test replays with its cgroups: JSON as recorded, filters, summary."""
    if not os.path.exists(LOG):  # run alone (TT_ONLY=replay): record it first
        test_every_event_its_own_cgroup()
    raw = subprocess.run(["gzip", "-dc", LOG], check=True, capture_output=True,
                         text=True).stdout.splitlines()
    assert raw and json.loads(raw[0])["type"] == "header"
    events = [l for l in raw[1:] if json.loads(l)["type"] == "state"]
    p = subprocess.run([tt.TCPTRAIL, "replay", "-o", "json", LOG], capture_output=True,
                       text=True)
    assert p.returncode == 0, p.stderr
    out = p.stdout.splitlines()
    assert out[1:] == raw[1:], "replay -o json differs from the recording"
    for name, args, want in (
            ("A", ["--cgroup", REL_A], lambda e: e["cgroup"] == REL_A),
            ("B+K by parent", ["--cgroup", "/tt-test-B,/tt-test-K"],
             lambda e: e["cgroup"] in (REL_B, REL_K)),
            ("mount stripped", ["--cgroup", MNT + "/tt-test-K/kubepods.slice"],
             lambda e: e["cgroup"] == REL_K),
            ("container", ["--container", CID_K[:8]], lambda e: e["container_id"] == CID_K)):
        p = subprocess.run([tt.TCPTRAIL, "replay", "-o", "json"] + args + [LOG],
                           capture_output=True, text=True)
        assert p.returncode == 0, (name, p.stderr)
        got = [l for l in p.stdout.splitlines() if json.loads(l)["type"] == "state"]
        assert got == [l for l in events if want(json.loads(l))] and got, name
    # text -e: the CGROUP column as live
    p = subprocess.run([tt.TCPTRAIL, "replay", "-e", LOG], capture_output=True, text=True)
    lines = p.stdout.splitlines()
    assert lines[0].split()[-1] == "CGROUP", lines[0]
    assert {l.split()[-1] for l in lines[1:]} == {REL_A, CID_B[:12], CID_K[:12]}, lines
    # the summary: top containers/units, each with its connections
    p = subprocess.run([tt.TCPTRAIL, "replay", "--summary", "-o", "json", LOG],
                       capture_output=True, text=True)
    top = {(t["kind"], t["name"]): t for t in json.loads(p.stdout)["top_containers"]}
    assert top[("cgroup", REL_A)]["connections"] == 3, top  # the listener and two children
    assert top[("container", CID_B)]["connections"] == 1, top
    assert top[("container", CID_K)]["pod"] == POD_UID, top
    p = subprocess.run([tt.TCPTRAIL, "replay", "--summary", LOG], capture_output=True,
                       text=True)
    assert "Top containers/units:" in p.stdout, p.stdout
    assert re.search(r"container  %s  pod %s\n" % (CID_K[:12], POD_UID), p.stdout), p.stdout
    # a log from before the cgroup keys (they are the last ones) replays as it was written
    old = os.path.join(TMP, "old.jsonl")
    old_lines = [re.sub(r',"cgroup":.*\}$', "}", l) for l in raw]
    assert all("cgroup" not in l for l in old_lines[1:]), old_lines
    with open(old, "w") as f:
        f.write("\n".join(old_lines) + "\n")
    p = subprocess.run([tt.TCPTRAIL, "replay", "-o", "json", old], capture_output=True,
                       text=True)
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines() == old_lines, p.stdout
    p = subprocess.run([tt.TCPTRAIL, "replay", "--summary", old], capture_output=True,
                       text=True)
    assert p.returncode == 0 and "Top containers/units" not in p.stdout, p.stdout


def test_header_records_filters():
    log = os.path.join(TMP, "hdr.jsonl")
    p = subprocess.run([tt.TCPTRAIL, "-q", "-d", "200ms", "-w", log, "--cgroup",
                        MNT + REL_A + "," + REL_B, "--container", "B1B1"],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    with open(log) as f:
        hdr = json.loads(f.readline())
    assert hdr["filters"]["cgroup"] == [REL_A, REL_B], hdr
    assert hdr["filters"]["container"] == ["b1b1"], hdr


TMP = tempfile.mkdtemp(prefix="tt-cgroup-")
LOG = os.path.join(TMP, "cg.jsonl.gz")
atexit.register(lambda: subprocess.run(["rm", "-rf", TMP]))

try:
    tt.main([test_every_event_its_own_cgroup, test_text_column, test_kernel_filter,
             test_container_filter, test_bad_paths, test_snapshot_matches_ss, test_stuck_alerts,
             test_replay, test_header_records_filters])
finally:
    remove_cgroups()
