"""End-to-end: where -w writes. Names planted by an unprivileged user (symlinks, their files,
hard links, directories, also at the rotated names) are never followed, moved or written into;
SIGHUP reopens the log after logrotate moved it, losing and repeating nothing; a full disk
(tmpfs) counts exactly the events missing from the file, plain and gzip."""
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
ONLY_ME = ("--netns", str(NETNS))
TMP = tt.temp_dir("logfile")
os.chmod(TMP, 0o711)  # the other user gets through to SHARED, sees nothing else
# A world-writable sticky directory like /tmp, for the other user to plant things in.
SHARED = os.path.join(TMP, "shared")
os.mkdir(SHARED)
os.chmod(SHARED, 0o1777)
# Root's own files, which planted names point at.
PRIVATE = os.path.join(TMP, "private")
os.mkdir(PRIVATE, 0o700)
AS_NOBODY = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"]

# Connections on `port` for `seconds` (or until `count`), at most `rate` a second, then "done".
CHURN = r"""
import socket, sys, time
port, seconds, count, rate = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), \
    float(sys.argv[4])
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", port))
s.listen(128)
end = time.monotonic() + seconds
n = 0
while time.monotonic() < end and n < count:
    c = socket.create_connection(("127.0.0.1", port))
    a, _ = s.accept()
    c.close()
    a.close()
    n += 1
    if rate:
        time.sleep(1 / rate)
s.close()
print("done", n, flush=True)
"""


def nobody(*cmd):
    subprocess.run(AS_NOBODY + list(cmd), check=True)


def victim(name="victim"):
    """A root-only file with content, what a planted name points at."""
    p = os.path.join(PRIVATE, name)
    with open(p, "w") as f:
        f.write("precious\n")
    os.chmod(p, 0o644)
    return p


def unchanged(p):
    st = os.stat(p)
    with open(p) as f:
        return f.read() == "precious\n" and st.st_mode & 0o777 == 0o644 and st.st_uid == 0


def trace(*args, timeout=tt.DEADLINE):
    """A short -q run; (exit code, stderr)."""
    p = subprocess.run([tt.TCPTRAIL, "-q", "-d", "1", *ONLY_ME, *args], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=timeout)
    return p.returncode, p.stderr.decode()


def churn(port, seconds=60.0, count=10 ** 9, rate=0):
    return tt.run_py(CHURN, port, seconds, count, rate)


def replay_states(path):
    """(exit code, stderr, the records) of `tcptrail replay -o json path`."""
    p = subprocess.run([tt.TCPTRAIL, "replay", "-o", "json", path], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=tt.DEADLINE)
    recs = [json.loads(l) for l in p.stdout.decode().splitlines() if l.startswith("{")]
    return p.returncode, p.stderr.decode(), recs


def one_error(err, *words):
    """err is the one line of a refusal, naming the file, the reason and the remedy."""
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("tcptrail: "), err
    for w in words:
        assert w in lines[0], (w, err)


def test_planted_symlink():
    """A symlink another user planted at FILE: refused, exit 1, the target untouched."""
    for name in ("evil.jsonl", "evil.jsonl.gz"):
        target = victim()
        link = os.path.join(SHARED, name)
        nobody("ln", "-s", target, link)
        rc, err = trace("-w", link)
        assert rc == 1, (rc, err)
        one_error(err, link, "symbolic link", "remove it")
        assert unchanged(target)
        assert os.readlink(link) == target
        # dangling: not created through the link either
        missing = os.path.join(PRIVATE, "created-" + name)
        os.unlink(link)
        nobody("ln", "-s", missing, link)
        rc, err = trace("-w", link)
        assert rc == 1 and "symbolic link" in err, (rc, err)
        assert not os.path.exists(missing)
        os.unlink(link)


def test_planted_file():
    """Another user's file (mode 666, held open by them), a hard link, a directory, a FIFO."""
    f = os.path.join(SHARED, "theirs.jsonl")
    holder = subprocess.Popen(AS_NOBODY + [
        sys.executable, "-c",
        "import os, sys; f = open(sys.argv[1], 'w'); os.chmod(sys.argv[1], 0o666); "
        "print('ready', flush=True); sys.stdin.readline(); print(repr(open(sys.argv[1]).read()))",
        f], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert tt.read_line(holder) == "ready"
    rc, err = trace("-w", f)
    assert rc == 1, (rc, err)
    one_error(err, f, "belongs to uid 65534", "remove it")
    holder.stdin.write(b"\n")
    holder.stdin.flush()
    assert tt.read_line(holder) == "''"  # nothing reached them
    holder.wait()
    assert os.stat(f).st_size == 0

    # a second name of root's file (fs.protected_hardlinks=1 stops nobody: root plants it)
    target = victim()
    hard = os.path.join(SHARED, "hard.jsonl")
    os.link(target, hard)
    rc, err = trace("-w", hard)
    assert rc == 1, (rc, err)
    one_error(err, hard, "2 hard links")
    assert unchanged(target)

    d = os.path.join(SHARED, "dir.jsonl")
    nobody("mkdir", d)
    rc, err = trace("-w", d)
    assert rc == 1, (rc, err)
    one_error(err, d, "a directory", "-w -")

    fifo = os.path.join(SHARED, "fifo.jsonl")
    nobody("mkfifo", fifo)
    rc, err = trace("-w", fifo)  # no reader: refused at once, not blocked
    assert rc == 1, (rc, err)
    one_error(err, fifo, "FIFO")

    # root's own existing file is replaced, and made 0600
    own = os.path.join(SHARED, "own.jsonl")
    with open(own, "w") as f2:
        f2.write("old\n")
    os.chmod(own, 0o644)
    rc, err = trace("-w", own)
    assert rc == 0, err
    assert os.stat(own).st_mode & 0o777 == 0o600
    with open(own) as f2:
        assert json.loads(f2.readline())["type"] == "header"


def rotating_run(log, port):
    """Records 300 connections (~700 KB) with --rotate 4k --keep 5; (exit code, stderr,
    events)."""
    t = tt.Tracer("-q", "-w", log, "--rotate", "4k", "--keep", "5", *ONLY_ME,
                  json_output=False)
    c = churn(port, count=300)
    assert tt.read_line(c).startswith("done")
    c.wait()
    rc, err = t.stop()
    events, lost = tt.summary_counts(err)
    assert lost == 0, err
    return rc, err, events


def test_rotation_planted_first():
    """A directory or symlink planted at FILE.1: never moved or followed; FILE keeps every
    event; the failure is said once and counted at the end."""
    for kind in ("dir", "symlink"):
        log = os.path.join(SHARED, "rot-%s.jsonl" % kind)
        first = log + ".1"
        target = victim("rot-victim")
        if kind == "dir":
            nobody("mkdir", first)
            nobody("touch", os.path.join(first, "inside"))
        else:
            nobody("ln", "-s", target, first)
        rc, err, events = rotating_run(log, 8101)
        assert rc == 1, (rc, err)
        assert err.count("cannot rotate %s: %s is a " % (log, first)) == 1, err
        m = re.search(r"(\d+) of (\d+) rotations of %s went wrong" % re.escape(log), err)
        assert m and m.group(1) == m.group(2) and int(m.group(1)) >= 2, err
        # not moved, not followed, nothing made further up
        if kind == "dir":
            assert os.path.isdir(first) and os.listdir(first) == ["inside"]
        else:
            assert os.readlink(first) == target
        assert unchanged(target)
        assert not os.path.lexists(log + ".2")
        base = os.path.basename(log)
        assert sorted(n for n in os.listdir(SHARED) if n.startswith(base)) == \
            [base, base + ".1"]  # no temporary file left either
        # every event in FILE, which replays
        rrc, rerr, recs = replay_states(log)
        assert rrc == 0, rerr
        assert sum(r["type"] == "state" for r in recs) == events, (len(recs), events)


def test_rotation_planted_higher():
    """A symlink planted at FILE.3 (keep 5): rotation goes on below it, the link and its
    target are left alone, the shortened chain is said once."""
    log = os.path.join(SHARED, "high.jsonl")
    target = victim("high-victim")
    nobody("ln", "-s", target, log + ".3")
    rc, err, events = rotating_run(log, 8102)
    assert rc == 1, (rc, err)
    assert err.count("is a symbolic link, not one of its rotated logs") == 1, err
    assert os.readlink(log + ".3") == target and unchanged(target)
    assert not os.path.lexists(log + ".4")
    for f in (log, log + ".1", log + ".2"):
        st = os.lstat(f)
        assert st.st_uid == 0 and st.st_mode & 0o777 == 0o600, f
        rrc, rerr, _ = replay_states(f)
        assert rrc == 0, rerr


def chain_gaps(recs):
    """Transitions of one socket that do not start where its previous one ended."""
    last, gaps = {}, 0
    for e in recs:
        if e["type"] != "state":
            continue
        k = e["sock"]
        if k in last and last[k] != e["old"]:
            gaps += 1
        last[k] = e["new"]
    return gaps


def test_sighup_reopens():
    """logrotate: mv FILE FILE.1, kill -HUP, under churn. Both files replay, finished, and
    hold every event once between them (the tracer's own count), none lost at the switch."""
    for name in ("hup.jsonl.gz", "hup.jsonl"):
        log = os.path.join(TMP, name)
        moved = log + ".1"
        t = tt.Tracer("-q", "-w", log, *ONLY_ME, json_output=False)
        c = churn(8103, seconds=3.0, rate=1000)

        def states_in(f):
            try:
                return sum('"type":"state"' in l for l in open_log(f))
            except (OSError, ValueError, EOFError):
                return 0
        tt.wait_until(lambda: states_in(log) >= 200, what="events before the move")
        os.rename(log, moved)
        t.proc.send_signal(signal.SIGHUP)
        tt.wait_until(lambda: os.path.exists(log), what="a new %s after SIGHUP" % name)
        assert tt.read_line(c).startswith("done")
        c.wait()
        tt.wait_until(lambda: states_in(log) >= 200, what="events after the reopen")
        rc, err = t.stop()
        assert rc == 0, err
        events, lost = tt.summary_counts(err)
        assert lost == 0, err
        assert "could not" not in err and "cannot" not in err, err
        assert os.stat(log).st_mode & 0o777 == 0o600
        both = []
        for f, part in ((moved, 0), (log, 1)):
            rrc, rerr, recs = replay_states(f)
            assert rrc == 0, (f, rerr)  # a gzip file finished before it was closed
            head = json.loads(open_log(f)[0])
            assert head["type"] == "header" and head["part"] == part, head
            states = [r for r in recs if r["type"] == "state"]
            assert len(states) >= 200, (f, len(states))
            both += states
        assert len(both) == events, (len(both), events)
        keys = [(r["sock"], r["time"], r["old"], r["new"]) for r in both]
        assert len(set(keys)) == len(keys), "an event is in both files"
        assert chain_gaps(both) == 0, "a socket's transitions skip a state at the switch"
        os.unlink(moved)


def open_log(path):
    with open(path, "rb") as f:
        data = f.read()
    if data[:2] == b"\x1f\x8b":
        data = __import__("zlib").decompressobj(31).decompress(data)
    return data.decode().splitlines()


def test_sighup_without_file():
    """Without -w (and with -w -) SIGHUP is ignored: tracing goes on and ends normally."""
    for args in ((), ("-q", "-w", "-")):
        t = tt.Tracer(*args, *ONLY_ME, json_output=not args)
        t.proc.send_signal(signal.SIGHUP)
        c = churn(8104, count=5)
        assert tt.read_line(c).startswith("done")
        c.wait()
        if not args:
            t.wait_events(lambda e: e.get("lport") == 8104, 5, what="events after SIGHUP")
        assert t.proc.poll() is None, "SIGHUP ended the tracer"
        rc, err = t.stop()
        assert rc == 0, err
        events, _ = tt.summary_counts(err)
        assert events >= 20, err
        if args:
            lines = [l for l in t.lines if l.startswith('{"type":"state"')]
            assert len(lines) == events


def test_long_names():
    """Any name the file system takes works: a 255-byte -w name rotates (its FILE.k and the
    temporary name are cut to fit in 255 bytes), a 250-byte --metrics-file name is written."""
    d = os.path.join(TMP, "long")
    os.mkdir(d, 0o700)
    name = "l" * (255 - len(".jsonl")) + ".jsonl"
    rc, err, events = rotating_run(os.path.join(d, name), 8106)
    assert rc == 0 and "rotat" not in err, err
    names = sorted(os.listdir(d))
    assert name in names and len(names) == 6, names  # the live file and --keep 5
    for n in names:
        assert len(n) <= 255 and n[:200] == name[:200], n
        with open(os.path.join(d, n)) as f:
            assert json.loads(f.readline())["type"] == "header", n
    prom = os.path.join(d, "m" * (250 - len(".prom")) + ".prom")
    rc, err = trace("--metrics-file", prom)
    assert rc == 0, err
    with open(prom) as f:
        assert "tcptrail_" in f.read()
    assert len(os.listdir(d)) == 7, os.listdir(d)  # no temporary file left


def test_full_disk():
    """A 64 KiB tmpfs fills up: 'N events could not be written' is exactly the events missing
    from what replays, gzip and plain, and the header is no event."""
    mnt = os.path.join(TMP, "full")
    os.mkdir(mnt)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k,mode=0700", "tcptrail-test", mnt],
                   check=True)
    try:
        for name in ("full.jsonl.gz", "full.jsonl"):
            log = os.path.join(mnt, name)
            t = tt.Tracer("-q", "-w", log, *ONLY_ME, json_output=False)
            # slow enough for flushes (once a second) before the disk is full
            c = churn(8105, seconds=30.0, rate=100)
            tt.wait_until(lambda: any("no longer recorded" in l for l in t.stderr_lines),
                          timeout=30, what="the disk to fill up")
            c.kill()
            c.wait()
            events, unwritten = tt.stop_after_write_error(t, log)
            # replay what is readable (a gzip trailer may not have fitted: "truncated")
            rrc, rerr, recs = replay_states(log)
            assert rrc == 0 or "truncated" in rerr, (rrc, rerr)
            states = sum(r["type"] == "state" for r in recs)
            assert states + unwritten == events, (states, unwritten, events)
            assert states > 0 and unwritten > 0, (states, unwritten)
            os.unlink(log)
    finally:
        subprocess.run(["umount", mnt], check=True)


if __name__ == "__main__":
    tt.main([test_planted_symlink, test_planted_file, test_rotation_planted_first,
             test_rotation_planted_higher, test_sighup_reopens, test_sighup_without_file,
             test_long_names, test_full_disk])
