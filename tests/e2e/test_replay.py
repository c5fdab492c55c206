"""End-to-end: `tcptrail replay` on hand-made logs (no tracing, no privileges needed).

Hostile strings never reach the terminal, empty inputs are named, impossible dates are refused,
--since 0 / --until 0 mean the epoch, the summed lost count saturates, and the summary's memory
bound (lowered through TCPTRAIL_SUMMARY_MEM) keeps exact counts and says what it left out.
"""
import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile
import atexit

sys.path.insert(0, os.path.dirname(__file__))
import tt  # noqa: E402

TMP = tempfile.mkdtemp(prefix="tcptrail-replay-")
atexit.register(shutil.rmtree, TMP, True)

HEADER = ('{"type":"header","time":"2026-11-26T15:00:00.000000Z","version":"0.1.0",'
          '"hostname":"h","kernel":"k","boot_time":"2026-11-26T14:00:00.000000Z",'
          '"start_time":"2026-11-26T15:00:00.000000Z","part":0,"filters":{},"stuck":[]}\n')


# Strings go in as tcptrail writes them: raw UTF-8, only control characters escaped (it reads
# \u0080-\u00ff as the single bytes its writer escapes that way, so "\u00e9" is not an e-acute).
def state(time="2026-11-26T15:00:01.000001Z", pid=1, comm="a", lsvc="http", rsvc=None,
          old="ESTABLISHED", new="CLOSE_WAIT", sock=1, raddr="127.0.0.1", rport=5555):
    return json.dumps({"type": "state", "time": time, "pid": pid, "comm": comm, "proto": "tcp",
                       "laddr": "127.0.0.1", "lport": 80, "raddr": raddr, "rport": rport,
                       "lservice": lsvc, "rservice": rsvc, "old": old, "new": new,
                       "ms": 1.0, "sock": sock, "netns": 1, "reset": False},
                      separators=(",", ":"), ensure_ascii=False) + "\n"


def write(name, text):
    p = os.path.join(TMP, name)
    with open(p, "wb") as f:
        f.write(text.encode() if isinstance(text, str) else text)
    return p


def replay(*args, env=None):
    p = subprocess.run([tt.TCPTRAIL, "replay"] + list(args), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60,
                       env=dict(os.environ, **(env or {})))
    return p.returncode, p.stdout, p.stderr.decode()


def no_control(out):
    """No C0 but newline, no DEL, no C1 (raw or UTF-8 encoded) in bytes meant for a terminal."""
    text = out.decode("utf-8", errors="strict")  # valid UTF-8 too
    bad = [c for c in text if (ord(c) < 0x20 and c != "\n") or 0x7f <= ord(c) <= 0x9f]
    assert not bad, (bad, text)


def test_hostile_strings():
    """A log's strings cannot drive the terminal: text sanitises, JSON escapes, UTF-8 stays.

    The C1 controls and DEL arrive raw (valid JSON), ESC and BEL escaped (\u001b, \u0007)."""
    evil = "\x1b]0;pwned\x07"
    lines = [HEADER,
             state(comm=evil, lsvc=evil, rsvc="x\u009b31m", sock=1),
             state(comm="caf\u00e9", lsvc="caf\u00e9", rsvc="\x7f", sock=2, rport=5556,
                   new="LAST_ACK", old="CLOSE_WAIT"),
             # a stuck alert naming hostile holders
             json.dumps({"type": "stuck", "time": "2026-11-26T15:00:02.000000Z", "pid": 3,
                         "comm": evil, "owners": [{"pid": 3, "comm": evil},
                                                  {"pid": 4, "comm": "\u0085w"}],
                         "proto": "tcp", "laddr": "127.0.0.1", "lport": 80,
                         "raddr": "127.0.0.1", "rport": 5557, "lservice": evil,
                         "rservice": evil, "state": "CLOSE_WAIT", "ms": 1000.0, "sock": 3,
                         "netns": 1}, separators=(",", ":"), ensure_ascii=False) + "\n"]
    f = write("evil.jsonl", "".join(lines))
    for args in ((), ("-e",), ("--summary",), ("--summary", "-e")):
        rc, out, err = replay(*args, f)
        assert rc == 0, err
        assert b"\x1b" not in out and b"\x07" not in out, out
        no_control(out)
        assert "caf\u00e9".encode() in out, out
        assert b"?]0;pwned?" in out, out
    rc, out, err = replay(f)
    text = out.decode()
    assert "127.0.0.1:?]0;pwned?" in text and "127.0.0.1:x??31m" in text, text
    assert "3/?]0;pwned?,4/??w" in text, text
    # JSON escapes instead, and reads back to the same strings
    rc, out, err = replay("-o", "json", f)
    assert rc == 0 and b"\x1b" not in out and b"\x07" not in out, out
    # split on b"\n" only: str.splitlines() would also split at U+0085 inside a string
    recs = [json.loads(x) for x in out.split(b"\n") if x]
    assert recs[1]["comm"] == evil and recs[1]["lservice"] == evil, recs[1]
    assert recs[3]["owners"][0]["comm"] == evil, recs[3]
    rc, out, err = replay("--summary", "-o", "json", f)
    assert rc == 0 and b"\x1b" not in out and b"\x07" not in out, out
    assert json.loads(out)["top_processes"], out


def test_empty_input():
    """No records: exit 0, and stderr tells an empty input from a recording of no events."""
    empty = write("empty.jsonl", "")
    blank = write("blank.jsonl", "\n\n\n")
    gz = write("empty.jsonl.gz", gzip.compress(b""))
    hdr = write("hdr.jsonl", HEADER)
    hdr_gz = write("hdr.jsonl.gz", gzip.compress(HEADER.encode()))
    for f in (empty, blank, gz, "/dev/null"):
        for args in ((), ("--summary",), ("-o", "json")):
            rc, out, err = replay(*args, f)
            assert rc == 0, err
            assert err == "tcptrail: %s: no records, and no header: empty input, not a " \
                          "recording\n" % f, (f, err)
            if not args:
                assert out == b"", out
    for f in (hdr, hdr_gz):
        rc, out, err = replay(f)
        assert (rc, out) == (0, b"") and err == \
            "tcptrail: %s: no records: a recording with a header and no events\n" % f, err
    p = subprocess.run([tt.TCPTRAIL, "replay", "-"], stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    assert p.returncode == 0 and p.stderr.decode() == \
        "tcptrail: stdin: no records, and no header: empty input, not a recording\n", p.stderr
    # filtered out is not empty: a file with records says nothing
    good = write("good.jsonl", HEADER + state())
    # a header alone beside a file with records (a rotated set's newest file) says nothing;
    # several files of headers only are each said
    for files in ((good, hdr), (hdr, good), (hdr_gz, good, hdr)):
        rc, out, err = replay(*files)
        assert (rc, err) == (0, ""), (files, err)
    rc, out, err = replay(hdr, hdr_gz)
    assert (rc, out) == (0, b"") and err == "".join(
        "tcptrail: %s: no records: a recording with a header and no events\n" % f
        for f in (hdr, hdr_gz)), err
    rc, out, err = replay("--port", "9", good)
    assert (rc, out, err) == (0, b"", ""), err
    # each file on its own: the empty one is named, the good one replays
    rc, out, err = replay(empty, good)
    assert rc == 0 and b"CLOSE_WAIT" in out and err.count("\n") == 1 and empty in err, err


def test_impossible_dates():
    """2026-02-31 is no date: refused in options (usage, exit 2) and in logs (exit 1)."""
    f = write("ok.jsonl", HEADER + state())
    for opt, val, why in (("--since", "2026-02-31T00:00:00Z",
                           "no such day: February 2026 has 28 days"),
                          ("--until", "2026-13-01T00:00:00Z", "no such month: 13"),
                          ("--since", "2026-01-01T25:00:00Z", "no such hour: 25"),
                          ("--until", "2024-02-30 10:00:00+02:00",
                           "no such day: February 2024 has 29 days")):
        rc, out, err = replay(opt, val, f)
        assert rc == 2 and out == b"", (rc, err)
        assert err.startswith("tcptrail: %s '%s': %s\n" % (opt, val, why)), err
        assert "Try 'tcptrail --help'" in err, err
    for t, why in (("2026-02-31T13:07:01.000001Z", "no such day: February 2026 has 28 days"),
                   ("2026-04-31T13:07:01Z", "no such day: April 2026 has 30 days"),
                   ("2026-01-01T24:00:00.000000Z", "no such hour: 24")):
        bad = write("bad.jsonl", HEADER + state() + state(time=t))
        rc, out, err = replay(bad)
        assert rc == 1 and err == 'tcptrail: %s:3: impossible "time": %s\n' % (bad, why), err
        assert out.count(b"CLOSE_WAIT") == 1, out  # what came before is printed
    # a leap day is a day
    leap = write("leap.jsonl", HEADER + state(time="2024-02-29T12:00:00.000000Z"))
    rc, out, err = replay("--since", "2024-02-29T00:00:00Z", "--until", "2024-03-01T00:00:00Z",
                          "-o", "json", leap)
    assert rc == 0 and len(out.splitlines()) == 2, (out, err)


def test_epoch_bounds():
    """--since 0 and --until 0 are the epoch: --until 0 keeps nothing, --since 0 everything."""
    f = write("epoch.jsonl", HEADER + state(time="1970-01-01T00:00:00.000000Z") + state(sock=2))
    rc, out, err = replay("-o", "json", "--since", "0", f)
    assert rc == 0 and out.count(b'"type":"state"') == 2, out
    rc, out, err = replay("-o", "json", "--until", "0", f)
    assert rc == 0 and out.count(b'"type":"state"') == 0, out
    rc, out, err = replay("-o", "json", "--until", "1", f)
    assert rc == 0 and out.count(b'"type":"state"') == 1, out
    rc, out, err = replay("--since", "0", "--until", "0", f)
    assert rc == 2 and "--until must be after --since" in err, err
    # an event at the epoch is an event: the summary's span starts there
    rc, out, err = replay("--summary", "-o", "json", f)
    assert json.loads(out)["first"] == "1970-01-01T00:00:00.000000Z", out


def test_lost_saturates():
    """Lost counts that would wrap 64 bits saturate at 2^64-1."""
    big = 2 ** 64 - 10
    lost = ('{"type":"lost","time":"2026-11-26T15:00:02.000000Z","count":%d,"total":%d}\n'
            % (big, big))
    f = write("lost.jsonl", HEADER + lost + lost + lost)
    rc, out, err = replay("--summary", "-o", "json", f)
    assert rc == 0 and json.loads(out)["lost"] == 2 ** 64 - 1, out
    rc, out, err = replay("--summary", f)
    assert rc == 0 and b" stuck alerts, 18446744073709551615 lost\n" in out, out


def test_summary_bound():
    """A small bound: counts equal the unbounded summary's, and what was left out is said."""
    n = 5000
    lines = [HEADER]
    for i in range(n):
        lines.append(state(time="2026-11-26T15:00:%02d.%06dZ" % (i // 1000, i % 1000 * 1000),
                           pid=100 + i, comm="w%d" % i, old="CLOSE", new="SYN_RECV",
                           sock=10 + i, raddr="10.0.%d.%d" % (i // 256, i % 256),
                           rport=1024 + i))
    f = write("many.jsonl.gz", gzip.compress("".join(lines).encode()))
    rc, out, err = replay("--summary", "-o", "json", f)
    assert rc == 0, err
    full = json.loads(out)
    assert full["open_total"] == n and full["untracked"]["sockets"] == 0, full["untracked"]
    # 1 MiB: the fixed part (the histograms of times in state and of lifetimes) and a table
    # too small for every socket
    rc, out, err = replay("--summary", "-o", "json", f,
                          env={"TCPTRAIL_SUMMARY_MEM": str(1 << 20)})
    assert rc == 0, err
    part = json.loads(out)
    u = part["untracked"]
    assert part["memory_bound"] == 1 << 20, part["memory_bound"]
    assert 0 < u["sockets"] < n and part["open_total"] + u["sockets"] == n, u
    assert u["process_events"] > 0 and u["remote_events"] > 0, u
    for k in ("first", "last", "transitions_total", "stuck_total", "lost", "connections",
              "transitions", "durations", "ends", "traffic", "lifetimes", "stuck_by_state"):
        assert part[k] == full[k], k
    assert len(part["open_at_end"]) == min(1000, part["open_total"])
    rc, out, err = replay("--summary", f, env={"TCPTRAIL_SUMMARY_MEM": str(1 << 20)})
    text = out.decode()
    assert "NOTE: the memory bound (1 MiB) was reached" in text, text
    assert "Open at end of log: at least %d; %d sockets not tracked (memory bound)\n" % (
        part["open_total"], u["sockets"]) in text, text
    assert "(and %d events of processes first seen past the memory bound" % (
        u["process_events"]) in text, text
    # the variable only lowers the bound: a larger value is ignored
    rc, out, err = replay("--summary", "-o", "json", f,
                          env={"TCPTRAIL_SUMMARY_MEM": str(1 << 40)})
    assert json.loads(out)["memory_bound"] == 248 << 20


if __name__ == "__main__":
    tt.main([test_hostile_strings, test_empty_input, test_impossible_dates, test_epoch_bounds,
             test_lost_saturates, test_summary_bound])
