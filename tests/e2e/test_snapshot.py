"""End-to-end: `tcptrail snapshot` against `ss` in a private network namespace.

A helper process builds a v4 and a v6 listener, a SYN_RECV request socket, ESTABLISHED pairs
with unread data (one of them with a full send queue), a CLOSE_WAIT (its peer then sits in
FIN_WAIT2) and a TIME_WAIT socket; a child of the helper shares the v4 listener. snapshot must
list the same rows as `ss -tan` run in the same netns (state, addresses, ports, queues) and the
same owners as `ss -tanp`. Queues can move for a moment while loopback settles, so each
comparison is retried until both tools agree or the deadline passes.
"""
import json
import os
import re
import signal
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
import tt  # noqa: E402

tt.enter_private_netns()
NETNS = tt.netns_inode()
# A SYN from 10.99.0.2 (nobody) leaves a request socket in SYN_RECV: its SYN-ACK is routed back
# into lo for a non-local address and dropped, so the handshake never completes.
subprocess.run("ip addr add 10.99.0.1/32 dev lo && ip route add 10.99.0.2/32 dev lo",
               shell=True, check=True)

HELPER = r"""
import json, os, socket, struct, sys, time
S = socket
P = int(sys.argv[1])  # P: v4, P+1: small-window, P+2: v6, P+3: SYN_RECV listener
def csum(b):
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff
def send_syn(sport, dport):
    src, dst = S.inet_aton("10.99.0.2"), S.inet_aton("10.99.0.1")
    tcp = struct.pack("!HHIIBBHHH", sport, dport, 12345, 0, 5 << 4, 0x02, 65535, 0, 0)
    c = csum(src + dst + struct.pack("!BBH", 0, 6, len(tcp)) + tcp)
    tcp = tcp[:16] + struct.pack("!H", c) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 1, 0, 64, 6, 0, src, dst)
    r = S.socket(S.AF_INET, S.SOCK_RAW, S.IPPROTO_RAW)
    r.sendto(ip + tcp, ("10.99.0.1", 0))
    r.close()
def listener(fam, addr, port, rcvbuf=0):
    l = S.socket(fam)
    l.setsockopt(S.SOL_SOCKET, S.SO_REUSEADDR, 1)
    if rcvbuf:
        l.setsockopt(S.SOL_SOCKET, S.SO_RCVBUF, rcvbuf)  # inherited by accepted sockets
    l.bind((addr, port))
    l.listen(16)
    return l
L4 = listener(S.AF_INET, "127.0.0.1", P)
L6 = listener(S.AF_INET6, "::1", P + 2)
SMALL = listener(S.AF_INET, "127.0.0.1", P + 1, rcvbuf=4096)
HALF = listener(S.AF_INET, "10.99.0.1", P + 3)
send_syn(40000 + P, P + 3)
keep = []
# ESTABLISHED, 1000 unread bytes on the server side
c1 = S.create_connection(("127.0.0.1", P)); s1, _ = L4.accept(); c1.sendall(b"x" * 1000)
# ESTABLISHED over IPv6, 77 unread bytes on the client side
c2 = S.create_connection(("::1", P + 2)); s2, _ = L6.accept(); s2.sendall(b"y" * 77)
# ESTABLISHED with a full receive window: Send-Q > 0 on the client
c5 = S.create_connection(("127.0.0.1", P + 1)); s5, _ = SMALL.accept()
c5.setblocking(False)
try:
    while True:
        c5.send(b"z" * 65536)
except BlockingIOError:
    pass
# CLOSE_WAIT on the server side (the FIN counts in Recv-Q), FIN_WAIT2 on the client side
c3 = S.create_connection(("127.0.0.1", P)); s3, _ = L4.accept(); c3.close()
# TIME_WAIT on the client side
c4 = S.create_connection(("127.0.0.1", P)); s4, _ = L4.accept(); c4.close()
while s4.recv(100):
    pass
s4.close()
keep += [c1, s1, c2, s2, c5, s5, s3]
pid = os.fork()
if pid == 0:
    # The child shares only the v4 listener.
    fd = L4.fileno()
    os.closerange(3, fd)
    os.closerange(fd + 1, 4096)
    sys.stdin.read()
    os._exit(0)
print(json.dumps({"pid": os.getpid(), "child": pid, "l4": L4.fileno()}), flush=True)
sys.stdin.read()
os.kill(pid, 9)
"""

SS_STATES = {
    "ESTAB": "ESTABLISHED", "SYN-SENT": "SYN_SENT", "SYN-RECV": "SYN_RECV",
    "FIN-WAIT-1": "FIN_WAIT1", "FIN-WAIT-2": "FIN_WAIT2", "TIME-WAIT": "TIME_WAIT",
    "UNCONN": "CLOSE", "CLOSE-WAIT": "CLOSE_WAIT", "LAST-ACK": "LAST_ACK",
    "LISTEN": "LISTEN", "CLOSING": "CLOSING",
}


def norm_addr(a):
    a = a.strip("[]").split("%")[0]
    if a.startswith("::ffff:") and "." in a:
        a = a[7:]
    if a in ("*", "0.0.0.0", "::"):
        return "*"
    return a


def split_endpoint(ep):
    addr, port = ep.rsplit(":", 1)
    return norm_addr(addr), 0 if port == "*" else int(port)


def ss_rows(programs=False):
    """{(state, laddr, lport, raddr, rport, recvq, sendq): owners} from ss -tanH[p]."""
    out = subprocess.run(["ss", "-tanHp" if programs else "-tanH"], check=True,
                         capture_output=True, text=True).stdout
    rows = {}
    for line in out.splitlines():
        f = line.split()
        if len(f) < 5:
            continue
        la, lp = split_endpoint(f[3])
        ra, rp = split_endpoint(f[4])
        key = (SS_STATES[f[0]], la, lp, ra, rp, int(f[1]), int(f[2]))
        owners = set()
        if programs and len(f) > 5:
            for comm, pid in re.findall(r'\("([^"]*)",pid=(\d+),', " ".join(f[5:])):
                owners.add((int(pid), comm))
        rows[key] = owners
    return rows


def snap(*args):
    p = subprocess.run([tt.TCPTRAIL, "snapshot"] + list(args), capture_output=True, text=True,
                       timeout=tt.DEADLINE)
    assert p.returncode == 0, "snapshot %s exited %d: %s" % (args, p.returncode, p.stderr)
    assert p.stderr == "", "snapshot %s said on stderr: %s" % (args, p.stderr)
    return p.stdout


def snap_json(*args):
    return [json.loads(l) for l in snap("-o", "json", *args).splitlines()]


def json_key(e):
    return (e["state"], norm_addr(e["laddr"]), e["lport"], norm_addr(e["raddr"]), e["rport"],
            e["recvq"], e["sendq"])


def snap_rows(programs=False):
    rows = {}
    for e in snap_json("-a", *(["-p"] if programs else [])):
        owners = {(o["pid"], o["comm"]) for o in e.get("owners", [])}
        rows[json_key(e)] = owners
    return rows


def text_rows():
    """Rows of the netstat-style text output (-an), keyed like ss_rows."""
    lines = snap("-an").splitlines()
    assert lines[0] == "Active Internet connections (servers and established)", lines[0]
    assert lines[1].split() == ["Proto", "Recv-Q", "Send-Q", "Local", "Address", "Foreign",
                                "Address", "State"], lines[1]
    rows = {}
    for line in lines[2:]:
        proto, rq, sq, local, peer, state = line.split()
        assert proto in ("tcp", "tcp6"), line
        la, lp = split_endpoint(local)
        ra, rp = split_endpoint(peer)
        rows[(state, la, lp, ra, rp, int(rq), int(sq))] = set()
    return rows


def agree(ours, theirs, what):
    """Retries until both sides list the same rows; fails with the difference."""
    last = {}

    def same():
        a, b = ours(), theirs()
        last["a"], last["b"] = a, b
        return a == b

    try:
        tt.wait_until(same, what=what)
    except AssertionError:
        a, b = last["a"], last["b"]
        raise AssertionError("%s: only tcptrail: %s; only ss: %s; differing: %s" % (
            what, sorted(set(a) - set(b)), sorted(set(b) - set(a)),
            sorted(k for k in set(a) & set(b) if a[k] != b[k])))


class Helper:
    """The helper's sockets on ports P, P+1, P+2; each test gets fresh ports, so what earlier
    helpers left behind (TIME_WAIT and such) does not count."""
    next_port = 8000

    def __enter__(self):
        self.p = Helper.next_port
        Helper.next_port += 10
        self.ports = ",".join(str(self.p + i) for i in range(4))
        self.proc = tt.run_py(HELPER, self.p)
        self.info = json.loads(tt.read_line(self.proc))
        # The TIME_WAIT side is ready once ss sees it.
        tt.wait_until(lambda: any(k[0] == "TIME_WAIT" and k[4] == self.p for k in ss_rows()),
                      what="TIME_WAIT")
        tt.wait_until(lambda: any(k[0] == "SYN_RECV" and k[2] == self.p + 3
                                  for k in ss_rows()), what="SYN_RECV")
        return self

    def __exit__(self, *exc):
        self.proc.stdin.close()
        self.proc.wait(timeout=tt.DEADLINE)


def test_rows_match_ss():
    with Helper():
        agree(lambda: {k: set() for k in snap_rows()}, ss_rows, "snapshot -a vs ss -tan")
        states = {k[0] for k in snap_rows()}
        for s in ("LISTEN", "SYN_RECV", "ESTABLISHED", "CLOSE_WAIT", "FIN_WAIT2", "TIME_WAIT"):
            assert s in states, "no %s row: %s" % (s, states)
        rows = snap_rows()
        assert any(k[0] == "CLOSE_WAIT" and k[5] == 1 for k in rows), "CLOSE_WAIT Recv-Q != 1"
        assert any(k[0] == "ESTABLISHED" and k[5] == 1000 for k in rows), rows
        assert any(k[0] == "ESTABLISHED" and k[1] == "::1" and k[5] == 77 for k in rows), rows
        assert any(k[0] == "ESTABLISHED" and k[6] > 0 for k in rows), "no Send-Q > 0"


def test_text_matches_ss():
    with Helper():
        agree(text_rows, lambda: ss_rows(), "snapshot -an text vs ss -tan")


def test_owners_match_ss():
    with Helper() as h:
        agree(lambda: snap_rows(programs=True), lambda: ss_rows(programs=True),
              "snapshot -ap vs ss -tanp")
        l4 = [e for e in snap_json("-lp") if e["lport"] == h.p]
        assert len(l4) == 1, l4
        pids = sorted(o["pid"] for o in l4[0]["owners"])
        assert pids == sorted([h.info["pid"], h.info["child"]]), l4[0]
        text = [l for l in snap("-lnp").splitlines() if ":%d " % h.p in l]
        assert len(text) == 1, text
        owners = text[0].split()[-1]
        assert set(owners.split(",")) == {"%d/python3" % h.info["pid"],
                                          "%d/python3" % h.info["child"]}, text[0]
        # --pid narrows to the sockets that process holds: the child has only the listener.
        only = snap_json("-a", "--pid", str(h.info["child"]))
        assert [(e["state"], e["lport"]) for e in only] == [("LISTEN", h.p)], only


def test_selection_and_filters():
    with Helper() as h:
        P = ["--port", h.ports]
        default = snap_json(*P)
        assert default and all(e["state"] != "LISTEN" for e in default), default
        listening = snap_json("-l", *P)
        assert sorted(e["lport"] for e in listening) == [h.p + i for i in range(4)], listening
        assert snap("-l").splitlines()[0] == "Active Internet connections (only servers)"
        assert snap().splitlines()[0] == "Active Internet connections (w/o servers)"
        cw = snap_json("--state", "close-wait", *P)
        assert [e["state"] for e in cw] == ["CLOSE_WAIT"], cw
        tw = snap_json("--state", "TIME_WAIT,FIN_WAIT2", *P)
        assert sorted(e["state"] for e in tw) == ["FIN_WAIT2", "TIME_WAIT"], tw
        assert all(e["timer"] == "timewait" and e["timer_ms"] > 0 for e in tw), tw
        sr = snap_json("--state", "syn-recv", *P)
        assert [(e["state"], e["raddr"], e["timer"]) for e in sr] == [
            ("SYN_RECV", "10.99.0.2", "on")], sr
        v6 = snap_json("-a", "-6", *P)
        assert v6 and all(e["proto"] == "tcp6" for e in v6), v6
        v4 = snap_json("-a", "-4", *P)
        assert v4 and all(e["proto"] == "tcp" for e in v4), v4
        lp = snap_json("-a", "--lport", str(h.p + 1))
        assert [e["state"] for e in lp] == ["LISTEN", "ESTABLISHED"], lp
        rp = snap_json("--rport", str(h.p + 1))
        assert len(rp) == 1 and rp[0]["sendq"] > 0, rp
        for e in snap_json("-a", *P):
            assert e["netns"] == NETNS, e
            if e["state"] in ("ESTABLISHED", "CLOSE_WAIT"):
                assert e["inode"] > 0 and e["sock"] > 0 and e["lastrcv_ms"] is not None, e
        # The extended text has the extra columns.
        head = snap("-ae").splitlines()[1].split()
        for col in ("User", "Inode", "Sock", "Timer", "Lastrcv", "Lastsnd"):
            assert col in head, head


def test_stuck_close_wait():
    with Helper() as h:
        # lastrcv of the CLOSE_WAIT socket: how long the peer's FIN has been ignored.
        P = ["--port", h.ports]
        rows = tt.wait_until(lambda: snap_json("--stuck", "CLOSE_WAIT=300ms", *P),
                             what="CLOSE_WAIT idle 300ms")
        assert [e["state"] for e in rows] == ["CLOSE_WAIT"], rows
        assert rows[0]["lastrcv_ms"] >= 300, rows
        assert snap_json("--stuck", "CLOSE_WAIT=1h", *P) == []


def test_all_netns():
    other = subprocess.Popen(
        ["unshare", "-n", "sh", "-c",
         "ip link set lo up && exec python3 -c \"import socket,sys\n"
         "l=socket.socket(); l.bind(('127.0.0.1', 9999)); l.listen(1)\n"
         "import os; print(os.stat('/proc/self/ns/net').st_ino, flush=True); sys.stdin.read()\""],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        other_ns = int(tt.read_line(other))
        with Helper() as h:
            rows = snap_json("-l", "--all-netns", "--lport", "%d,9999" % h.p)
            got = {(e["netns"], e["lport"]) for e in rows}
            assert (NETNS, h.p) in got and (other_ns, 9999) in got, got
            assert (NETNS, 9999) not in got and (other_ns, h.p) not in got, got
            text = snap("-l", "--all-netns", "--lport", "9999").splitlines()
            assert "Netns" in text[1].split(), text
            assert any(str(other_ns) in l for l in text[2:]), text
            # Without --all-netns only our own.
            assert {e["netns"] for e in snap_json("-l")} == {NETNS}
    finally:
        other.stdin.close()
        other.wait(timeout=tt.DEADLINE)


def test_continuous():
    with Helper() as h:
        p = subprocess.Popen([tt.TCPTRAIL, "snapshot", "-l", "-c", "0.1", "-o", "json"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        seen = []
        try:
            for line in p.stdout:
                e = json.loads(line)
                if e["lport"] == h.p:
                    seen.append(e)
                if len(seen) >= 3:
                    break
        finally:
            p.send_signal(signal.SIGINT)
            rc = p.wait(timeout=tt.DEADLINE)
        assert len(seen) >= 3, seen
        assert rc == 0, (rc, p.stderr.read())


def test_ownerless_sockets():
    # Sockets without an owner (TIME_WAIT, orphaned FIN_WAIT2) still show, owner "-".
    with Helper() as h:
        lines = [l for l in snap("-anp", "--port", h.ports).splitlines()[2:] if "TIME_WAIT" in l]
        assert lines and all(l.split()[-1] == "-" for l in lines), lines


tt.main([test_rows_match_ss, test_text_matches_ss, test_owners_match_ss,
         test_selection_and_filters, test_stuck_close_wait, test_all_netns, test_continuous,
         test_ownerless_sockets])
