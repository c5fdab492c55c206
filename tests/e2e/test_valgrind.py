"""End-to-end: tcptrail is valgrind-clean (memcheck) while it loads BPF, traces real connections,
watches --stuck sockets, records with -w FILE.gz, takes snapshots and replays a recording.

Skipped with a notice when valgrind is not installed. tests/e2e/valgrind.supp holds the only
suppressions (false positives of valgrind's bpf(2) model, each explained there).
"""
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
import tt  # noqa: E402

VALGRIND = shutil.which("valgrind")
if not VALGRIND:
    print("test_valgrind: valgrind is not installed (apt-get install valgrind): skipped")
    print("test_valgrind.py: 0 passed, 0 failed")
    sys.exit(0)

tt.enter_private_netns()
NETNS = tt.netns_inode()
SUPP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "valgrind.supp")
VG = [VALGRIND, "--suppressions=" + SUPP, "--error-exitcode=99", "--leak-check=full",
      "--errors-for-leak-kinds=definite,indirect", "--track-fds=no"]
VG_DEADLINE = 120.0  # valgrind runs tcptrail some 20-50x slower; still a deadline, not a sleep

# What must never appear in valgrind's report (the leak summary's "definitely lost: 0 bytes"
# line is fine; a loss record or a non-zero count is not).
BAD = [re.compile(p) for p in (
    r"definitely lost: [1-9]", r"indirectly lost: [1-9]", r"are definitely lost",
    r"Invalid read", r"Invalid write", r"Invalid free", r"uninitialised",
    r"Mismatched free", r"ERROR SUMMARY: [1-9]")]


def check_clean(what, rc, err):
    bad = [l for l in err.splitlines() if any(p.search(l) for p in BAD)]
    assert rc == 0 and not bad, "%s under valgrind: exit %d, %s\n%s" % (
        what, rc, bad or "no error lines", err[-6000:])
    assert "ERROR SUMMARY: 0 errors" in err, "%s: no valgrind summary:\n%s" % (what, err[-3000:])


def vg_run(*args, stdin=None):
    p = subprocess.run(VG + [tt.TCPTRAIL] + list(args), capture_output=True, text=True,
                       stdin=stdin, timeout=VG_DEADLINE)
    return p.returncode, p.stdout, p.stderr


class VgTracer(tt.Tracer):
    """tt.Tracer, with valgrind in front of tcptrail."""

    def __init__(self, *args):
        saved = tt.TCPTRAIL
        tt.TCPTRAIL = VG[0]
        try:
            # tt.Tracer adds "-o json" only when "-o" is missing: args always say -o or -q.
            # Under valgrind, loading and verifying the programs alone takes many seconds.
            super().__init__(*(VG[1:] + [saved] + list(args)), start_timeout=VG_DEADLINE)
        finally:
            tt.TCPTRAIL = saved

    def wait_exit(self):
        try:
            self.proc.wait(timeout=VG_DEADLINE)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("tcptrail under valgrind did not exit")
        self.t_out.join()
        self.t_err.join()
        return self.proc.returncode, "".join(self.stderr_lines)


END = ("CLOSE", "TIME_WAIT")


def traffic(port):
    """A graceful IPv4 connection, a reset one, an IPv6 one and a refused one; client ports."""
    ports = []
    for fam, addr in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET, "127.0.0.1"),
                      (socket.AF_INET6, "::1")):
        srv = socket.socket(fam)
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind((addr, port))
        srv.listen(8)
        c = socket.create_connection((addr, port))
        a, _ = srv.accept()
        ports.append(c.getsockname()[1])
        c.sendall(b"hello")
        assert a.recv(5) == b"hello"
        if len(ports) == 2:
            c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        c.close()
        a.close()
        srv.close()
    ports.append(tt.refused_connect(port + 1))
    return ports


def test_trace_json():
    """-o json --netns -d: BPF load, live events for real connections, the deadline exit."""
    t = VgTracer("-o", "json", "--netns", str(NETNS), "-d", "10")
    ports = traffic(18080)
    # Graceful clients end in TIME_WAIT, the reset and the refused ones in CLOSE.
    for p in ports:
        t.wait_events(lambda e, p=p: e.get("lport") == p and e.get("new") in END, 1,
                      timeout=VG_DEADLINE, what="end of client port %d" % p)
    rc, err = t.wait_exit()
    check_clean("trace -o json", rc, err)
    events, lost = tt.summary_counts(err)
    mine = t.events(lambda e: e.get("netns") == NETNS)
    assert lost == 0 and events == len(mine) >= 12, (events, lost, len(mine))
    print("  trace: %d events, %d lost" % (events, lost))


def test_stuck_seeded_and_sigint():
    """--stuck with a socket already in CLOSE_WAIT (seeded) and a new one; stopped by SIGINT."""
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 18090))
    srv.listen(8)
    held = []

    def close_wait():
        c = socket.create_connection(("127.0.0.1", 18090))
        a, _ = srv.accept()
        port = c.getsockname()[1]
        c.close()  # the server end stays open: CLOSE_WAIT
        held.append(a)
        return port

    before = close_wait()
    t = VgTracer("-o", "json", "-e", "--netns", str(NETNS), "--stuck", "CLOSE_WAIT=200ms",
                 "--stuck", "SYN_SENT=10s")
    after = close_wait()
    for p, what in ((before, "seeded"), (after, "traced")):
        t.wait_events(lambda e, p=p: e.get("type") == "stuck" and e.get("rport") == p, 1,
                      timeout=VG_DEADLINE, what="stuck alert for the %s socket" % what)
    rc, err = t.stop(signal.SIGINT)
    check_clean("trace --stuck", rc, err)
    for a in held:
        a.close()
    srv.close()
    alerts = t.events(lambda e: e.get("type") == "stuck")
    assert len([a for a in alerts if a.get("rport") in (before, after)]) == 2, alerts


def test_record_gz_and_replay():
    """-q -w FILE.gz -d 2 records; replay (text, JSON, --summary, stdin) reads it back."""
    with tempfile.TemporaryDirectory() as d:
        log = os.path.join(d, "rec.jsonl.gz")
        t = VgTracer("-q", "-w", log, "--netns", str(NETNS), "-d", "2")
        ports = traffic(18100)
        rc, err = t.wait_exit()
        check_clean("trace -q -w FILE.gz", rc, err)
        events, lost = tt.summary_counts(err)
        assert events >= 12 and lost == 0, (events, lost)
        assert not "".join(t.lines), "-q printed events"

        rc, out, err = vg_run("replay", "-n", log)
        check_clean("replay", rc, err)
        for p in ports:
            assert ":%d " % p in out, "client port %d not in replay:\n%s" % (p, out)
        rc, out, err = vg_run("replay", "-o", "json", "--port", str(18100), log)
        check_clean("replay -o json --port", rc, err)
        assert out.count('"new":"CLOSE"') >= 6, out
        rc, out, err = vg_run("replay", "--summary", log)
        check_clean("replay --summary", rc, err)
        assert out.strip(), "empty summary"
        with open(log, "rb") as f:
            rc, out, err = vg_run("replay", "-o", "json", "-", stdin=f)
        check_clean("replay - (stdin)", rc, err)
        assert out.count('"type":"state"') == events, (out.count('"type":"state"'), events)
        print("  recorded and replayed %d events" % events)


def test_snapshot():
    """snapshot -anp -e (and JSON, --stuck, --all-netns) with sockets in several states."""
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 18110))
    srv.listen(8)
    c1 = socket.create_connection(("127.0.0.1", 18110))
    a1, _ = srv.accept()
    c2 = socket.create_connection(("127.0.0.1", 18110))
    a2, _ = srv.accept()
    c2.close()  # a2: CLOSE_WAIT, c2: FIN_WAIT2
    c1.sendall(b"unread")
    try:
        rc, out, err = vg_run("snapshot", "-anp", "-e")
        check_clean("snapshot -anp -e", rc, err)
        assert "18110" in out and "CLOSE_WAIT" in out and "ESTABLISHED" in out, out
        rc, out, err = vg_run("snapshot", "-a", "-o", "json", "--stuck", "CLOSE_WAIT=1ms")
        check_clean("snapshot -o json --stuck", rc, err)
        assert "CLOSE_WAIT" in out, out
        rc, out, err = vg_run("snapshot", "-l", "-p", "--all-netns")
        check_clean("snapshot -l -p --all-netns", rc, err)
    finally:
        for s in (c1, a1, a2, srv):
            s.close()


if __name__ == "__main__":
    tt.main([test_trace_json, test_stuck_seeded_and_sigint, test_record_gz_and_replay,
             test_snapshot])
