"""End-to-end: recording with -w (plain, gzip, rotation, kill -9) and `tcptrail replay`."""
import gzip
import json
import os
import random
import re
import signal
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
import tt  # noqa: E402

tt.enter_private_netns()
NETNS = tt.netns_inode()
TMP = tt.temp_dir("log")
ONLY_ME = ("--netns", str(NETNS))

SERVER, CLIENT = tt.CLOSE_WAIT_SERVER, tt.HELLO_CLIENT

CHURN = r"""
import socket, sys
n, port = int(sys.argv[1]), int(sys.argv[2])
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", port))
s.listen(128)
for _ in range(n):
    c = socket.create_connection(("127.0.0.1", port))
    a, _ = s.accept()
    c.close()
    a.close()
s.close()
print("done", flush=True)
"""

# What the scenario's port-80 sockets must show: client, server child, listener.
SCENARIO = {("CLOSE", "SYN_SENT"), ("SYN_SENT", "ESTABLISHED"), ("ESTABLISHED", "FIN_WAIT1"),
            ("FIN_WAIT1", "FIN_WAIT2"),
            ("SYN_RECV", "ESTABLISHED"), ("ESTABLISHED", "CLOSE_WAIT"),
            ("CLOSE_WAIT", "LAST_ACK"), ("LAST_ACK", "CLOSE"), ("CLOSE", "LISTEN"),
            ("LISTEN", "CLOSE")}


def mine(e, port=80):
    return (e.get("type") == "state" and e.get("netns") == NETNS
            and port in (e.get("lport"), e.get("rport")))


def scenario(hold=1.0):
    srv = tt.run_py(SERVER, "127.0.0.1", 80, hold)
    assert tt.read_line(srv) == "ready"
    cli = tt.run_py(CLIENT, "127.0.0.1", 80)
    assert tt.read_line(srv) == "eof"
    assert tt.read_line(srv) == "done"
    srv.wait()
    cli.wait()
    assert srv.returncode == 0 and cli.returncode == 0


# The client's handoff to a timewait socket: FIN_WAIT2_TW when it comes before the server's FIN.
HANDOFF = {("FIN_WAIT2", "FIN_WAIT2_TW"), ("FIN_WAIT2", "TIME_WAIT")}


def scenario_done(events):
    seen = {(e["old"], e["new"]) for e in events if mine(e)}
    return seen >= SCENARIO and bool(seen & HANDOFF)


def replay(*args, stdin=None):
    p = subprocess.run([tt.TCPTRAIL, "replay"] + list(args), input=stdin,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=tt.DEADLINE)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def read_log(path):
    with open(path, "rb") as f:
        data = f.read()
    if data[:2] == b"\x1f\x8b":
        d = __import__("zlib").decompressobj(31)
        data = d.decompress(data)  # tolerates a missing trailer (kill -9)
    return data.decode().splitlines(keepends=True)


SEQ = re.compile(r',"seq":(\d+)\}\n$')


def unseq(line):
    """A log line without its "seq", as live -o json prints it."""
    return SEQ.sub("}\n", line)


def seqs(lines):
    """The "seq" of each record line (not the header)."""
    out = []
    for l in lines:
        m = SEQ.search(l)
        assert m, "no seq at the end: " + l
        out.append(int(m.group(1)))
    return out


def path(name):
    return os.path.join(TMP, name)


def test_record_replay():
    """Live -o json output, the file and `replay -o json` are the same lines, plain and gzip."""
    plain, gz, text = path("rec.jsonl"), path("rec.jsonl.gz"), path("text.jsonl")
    for f in (plain, gz, text):  # a run again after lost events starts anew
        if os.path.exists(f):
            os.unlink(f)
    # --netns: other tests trace concurrently, keep this test's work proportional to its events
    t1 = tt.Tracer("-w", plain, *ONLY_ME)
    t2 = tt.Tracer("-w", gz, *ONLY_ME)
    t3 = tt.Tracer("-o", "text", "-w", text, *ONLY_ME)
    scenario()
    tt.wait_scenario((t1, t2), lambda t: scenario_done(t.events()), "whole scenario")
    tt.wait_scenario((t3,), lambda t: sum(" 127.0.0.1:http " in l and "LAST_ACK    -> CLOSE" in l
                                          for l in t.lines), "text scenario")
    for t in (t1, t2, t3):
        rc, err = t.stop()
        assert rc == 0, err
        tt.fail_if_lost(err)
    for f in (plain, gz, text):
        assert os.stat(f).st_mode & 0o777 == 0o600, oct(os.stat(f).st_mode)
    with open(gz, "rb") as f:
        assert f.read(2) == b"\x1f\x8b"

    for t, f in ((t1, plain), (t2, gz)):
        rec = read_log(f)
        head = json.loads(rec[0])
        assert head["type"] == "header" and head["version"] and head["hostname"], rec[0]
        assert head["kernel"] == os.uname().release and "start_time" in head
        assert [unseq(l) for l in rec[1:]] == t.lines, "file differs from live output"
        # every record numbered from where the header says, one by one
        assert head["seq"] == 1, rec[0]
        assert seqs(rec[1:]) == list(range(1, len(rec))), rec
        rc, out, err = replay("-o", "json", f)
        assert rc == 0 and err == "", err
        assert out.splitlines(keepends=True) == rec, "replay -o json differs from the file"
        # the netns' own lines, through the filters too
        rc, out, err = replay("-o", "json", "--netns", str(NETNS), "--port", "80", f)
        assert rc == 0, err
        live = [l for l in t.lines if mine(json.loads(l))]
        assert [unseq(l) for l in out.splitlines(keepends=True)
                if l.startswith('{"type":"state"')] == live
    # a hole cut out of the log: replay names it, in order with the events, and goes on
    rec = read_log(plain)
    assert len(rec) > 8, rec
    holed = path("holed.jsonl")
    with open(holed, "w") as f:
        f.writelines(rec[:4] + rec[7:])
    rc, out, err = replay(holed)
    assert rc == 0, err
    assert err == "tcptrail: %s:5: 3 records missing (seq 4 to 6): not written, or cut out of " \
        "the file\n" % holed, err
    assert len(out.splitlines()) == len(rec) - 3, out  # column titles and the other records
    rc, out, err = replay("--summary", holed)
    assert rc == 0 and "3 records missing (seq 4 to 6)" in err, err
    # a log of a version before "seq": no gap said
    old = path("old.jsonl")
    with open(old, "w") as f:
        f.writelines([SEQ.sub("}\n", l).replace(',"seq":1,', ',') for l in rec[:4] + rec[7:]])
    rc, out, err = replay(old)
    assert rc == 0 and err == "", err
    # text replay prints what live text tracing printed
    rc, out, err = replay(text)
    assert rc == 0, err
    assert out.splitlines(keepends=True) == t3.lines, "text replay differs from live text"
    rc, out, err = replay("-n", "--netns", str(NETNS), text)
    assert " 127.0.0.1:80 " in out and ":http" not in out, out
    # from stdin, gzip detected by content
    with open(gz, "rb") as f:
        rc, out, err = replay("-o", "json", "-", stdin=f.read())
    assert rc == 0 and out.splitlines(keepends=True) == read_log(gz), err

    # --state and --since/--until
    rc, out, err = replay("-o", "json", "--netns", str(NETNS), "--state", "CLOSE_WAIT", plain)
    ev = [json.loads(l) for l in out.splitlines() if '"type":"state"' in l]
    assert {(e["old"], e["new"]) for e in ev} == {("ESTABLISHED", "CLOSE_WAIT"),
                                                 ("CLOSE_WAIT", "LAST_ACK")}, ev
    cw = [e for e in ev if e["new"] == "CLOSE_WAIT"][0]
    rc, out, err = replay("-o", "json", "--netns", str(NETNS), "--since", cw["time"], plain)
    times = [json.loads(l)["time"] for l in out.splitlines() if '"type":"state"' in l]
    assert times and min(times) >= cw["time"], times
    rc, out, err = replay("-o", "json", "--netns", str(NETNS), "--until", cw["time"], plain)
    times = [json.loads(l)["time"] for l in out.splitlines() if '"type":"state"' in l]
    assert times and max(times) < cw["time"], times

    # the summary of the known scenario
    rc, out, err = replay("--summary", "-o", "json", "--netns", str(NETNS), "--port", "80", gz)
    assert rc == 0, err
    s = json.loads(out)
    cwd = s["durations"]["CLOSE_WAIT"]
    assert cwd["count"] == 1 and 900 <= cwd["max_ms"] <= 5000, cwd
    assert cwd["p50_ms"] == cwd["max_ms"]
    assert s["durations"]["SYN_SENT"]["count"] == 1
    assert s["connections"]["opened"] == 2 and s["connections"]["closed"] == 2, s
    assert s["connections"]["resets"] == 0
    assert s["open_total"] == 0, s["open_at_end"]
    assert s["transitions_total"] == len([l for l in t1.lines if mine(json.loads(l))])
    assert s["top_remotes"][0]["rport"] in (80,) or any(r["rport"] == 80
                                                         for r in s["top_remotes"])
    rc, out, err = replay("--summary", "--netns", str(NETNS), "--port", "80", gz)
    assert rc == 0 and "CLOSE_WAIT" in out and "Open at end of log: 0" in out, out


def test_kill9():
    """SIGKILL right after the traffic: the 1 s flush put every event in the file already."""
    for name in ("k.jsonl", "k.jsonl.gz"):
        f = path(name)
        t = tt.Tracer("-q", "-w", f, *ONLY_ME, json_output=False)
        scenario(hold=0.2)

        def recorded():
            try:
                return scenario_done([json.loads(l) for l in read_log(f)
                                      if l.endswith("\n")])
            except (OSError, ValueError, EOFError):
                return False
        tt.wait_until(recorded, what="events in %s" % name)
        t.proc.send_signal(signal.SIGKILL)
        t.stop()
        rc, out, err = replay("-o", "json", f)
        if name.endswith(".gz"):
            # no gzip trailer after kill -9: everything, then one clear error
            assert rc == 1 and "truncated" in err and name in err, (rc, err)
        else:
            assert rc == 0, err
        assert scenario_done([json.loads(l) for l in out.splitlines()]), out


def test_bad_input():
    good = path("good.jsonl")
    with open(good, "w") as f:
        f.write('{"type":"header","version":"x"}\n')
        f.write('{"type":"state","time":"2026-11-26T13:07:01.000001Z","pid":1,"comm":"a",'
                '"proto":"tcp","laddr":"127.0.0.1","lport":80,"raddr":"127.0.0.1",'
                '"rport":5555,"lservice":"http","rservice":null,"old":"ESTABLISHED",'
                '"new":"CLOSE_WAIT","ms":1.000,"sock":1,"netns":1,"reset":false}\n')
    with open(good) as f:
        lines = f.readlines()

    rc, out, err = replay(path("missing.jsonl"))
    assert rc == 1 and err == "tcptrail: %s: No such file or directory\n" % path("missing.jsonl"),\
        err
    # header only: no output, success, and a word that the recording is empty
    hdr = path("hdr.jsonl")
    with open(hdr, "w") as f:
        f.write(lines[0])
    assert replay(hdr) == (0, "", "tcptrail: %s: no records: a recording with a header and "
                                  "no events\n" % hdr)
    # a broken line after a good one: the good one, then one error naming file and line
    bad = path("bad.jsonl")
    with open(bad, "w") as f:
        f.write(lines[0] + lines[1] + lines[1][:40] + "\n" + lines[1])
    rc, out, err = replay("-o", "json", bad)
    assert rc == 1 and out == lines[0] + lines[1], out
    assert err.startswith("tcptrail: %s:3: " % bad) and err.count("\n") == 1, err
    # truncated gzip, anywhere
    gzf = path("g.jsonl.gz")
    with gzip.open(gzf, "wb") as f:
        f.write(("".join(lines[:1] + lines[1:] * 200)).encode())
    with open(gzf, "rb") as f:
        data = f.read()
    for cut in (len(data) // 3, len(data) - 4):
        with open(gzf + ".cut", "wb") as f:
            f.write(data[:cut])
        rc, out, err = replay("-o", "json", gzf + ".cut")
        assert rc == 1 and err.startswith("tcptrail: %s.cut:" % gzf), err
        assert err.count("\n") == 1
        assert all(l in lines for l in out.splitlines(keepends=True))
    # random bytes, with and without the gzip magic
    rnd = random.Random(7)
    for i in range(20):
        blob = bytes(rnd.getrandbits(8) for _ in range(rnd.randint(1, 5000)))
        if i % 2:
            blob = b"\x1f\x8b" + blob
        rf = path("rnd%d" % i)
        with open(rf, "wb") as f:
            f.write(blob)
        rc, out, err = replay(rf)
        assert rc == 1 and err.startswith("tcptrail: %s" % rf) and err.count("\n") == 1, err
    # a directory, and the one error stops before later files
    rc, out, err = replay(TMP, good)
    assert rc == 1 and out == "" and "Is a directory" in err, err


def test_rotation():
    """Every event lands in exactly one of the rotated files, plain and gzip."""
    plain, gz = path("rot.jsonl"), path("rot.jsonl.gz")
    t1 = tt.Tracer("-q", "-w", plain, "--rotate", "16k", "--keep", "1000", *ONLY_ME,
                   json_output=False)
    t2 = tt.Tracer("-q", "-w", gz, "--rotate", "4k", "--keep", "1000", *ONLY_ME,
                   json_output=False)
    churn = tt.run_py(CHURN, 300, 8080)
    assert tt.read_line(churn) == "done"
    churn.wait()

    def count(f):
        files = [f] + [f + ".%d" % k for k in range(1, 1001) if os.path.exists(f + ".%d" % k)]
        n = 0
        for x in files:
            for l in read_log(x):
                e = json.loads(l)
                n += e["type"] == "state" and e["netns"] == NETNS and 8080 in (e["lport"],
                                                                              e["rport"])
        return n, files
    # 300 connections: 2 * 4 transitions at least (CLOSE_WAIT/LAST_ACK or FIN_WAITs) each
    def enough(f):
        try:
            return count(f)[0] >= 2400
        except (OSError, ValueError):  # a file renamed or half written while we read
            return False
    tt.wait_until(lambda: enough(plain) and enough(gz), what="churn")
    totals = []
    for t, f in ((t1, plain), (t2, gz)):
        rc, err = t.stop()
        assert rc == 0, err
        events, lost = tt.summary_counts(err)
        n, files = count(f)
        assert len(files) > 3, files
        recorded = 0
        for x in files:
            assert os.stat(x).st_mode & 0o777 == 0o600
            rec = read_log(x)
            assert json.loads(rec[0])["type"] == "header", x
            recorded += sum('"type":"state"' in l for l in rec)
        assert recorded == events, (recorded, events, lost)
        # replay of all files in order: the same count
        rc, out, err = replay("-o", "json", "--netns", str(NETNS), "--port", "8080",
                              *reversed(files))
        assert rc == 0, err
        assert sum('"type":"state"' in l for l in out.splitlines()) == n
        assert err == "", err  # no seq gap across the files
        # each file starts where the one before it ended
        nxt = 1
        for x in reversed(files):
            rec = read_log(x)
            assert json.loads(rec[0])["seq"] == nxt, (x, rec[0], nxt)
            s = seqs(rec[1:])
            assert s == list(range(nxt, nxt + len(s))), x
            nxt += len(s)
        # a file left out: the next one's header says how many records are missing
        gone = files[-2]
        ahead = json.loads(read_log(files[-3])[0])["seq"]
        rc, out, err = replay(*[x for x in reversed(files) if x != gone])
        assert rc == 0, err
        assert err == "tcptrail: %s:1: %d records missing (seq %d to %d) before this file: a " \
            "file of the recording is missing\n" % (files[-3], ahead - json.loads(
                read_log(gone)[0])["seq"], json.loads(read_log(gone)[0])["seq"], ahead - 1), err
        totals.append(n)
    assert totals[0] == totals[1], totals


if __name__ == "__main__":
    tt.main([test_record_replay, test_kill9, test_bad_input, test_rotation])
