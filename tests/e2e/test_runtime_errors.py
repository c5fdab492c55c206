"""End-to-end: runtime errors and warnings (issue 11 items 2, 3, 7, 9, 11).

Output that cannot be written makes every command exit 1; a stalled reader's dropped lines are
counted as lost; namespaces that cannot be read are reported with the reason; load failures
under resource limits name the limit; a --netns filter warns when its namespace is gone.
"""
import json
import os
import resource
import re
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
TMP = tempfile.mkdtemp(prefix="tt-errors-")


def run(args, shell_redirect="", **kw):
    """Runs tcptrail with a shell redirection of stdout ('>/dev/full', '>&-')."""
    cmd = "exec %s %s %s" % (tt.TCPTRAIL, " ".join(args), shell_redirect)
    return subprocess.run(["sh", "-c", cmd], capture_output=not shell_redirect,
                          stderr=subprocess.PIPE if shell_redirect else None, text=True,
                          timeout=tt.DEADLINE, **kw)


def header_only_log():
    log = os.path.join(TMP, "hdr.jsonl")
    p = subprocess.run([tt.TCPTRAIL, "-q", "-w", log, "-d", "0.2", "--netns", str(NETNS)],
                       capture_output=True, text=True, timeout=tt.DEADLINE)
    assert p.returncode == 0, p.stderr
    return log


def test_unwritable_stdout_exits_1():
    """snapshot, replay and trace: the one-line error, then exit 1, for a full disk and for a
    closed stdout (which must not be reused by a file tcptrail opens)."""
    log = header_only_log()
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)  # a row for the JSON snapshot, which prints nothing without one
    cases = {
        "snapshot": ["snapshot", "-a"],
        "snapshot json": ["snapshot", "-a", "-o", "json"],
        "replay json": ["replay", "-o", "json", log],
        "replay summary": ["replay", "--summary", log],
        "trace": ["-d", "0.3", "--netns", str(NETNS)],
    }
    for redirect, why in ((">/dev/full", "No space left on device"),
                          (">&-", "Bad file descriptor")):
        for name, args in cases.items():
            p = run(args, redirect)
            assert p.returncode == 1, (name, redirect, p.returncode, p.stderr)
            assert "tcptrail: writing output: %s\n" % why in p.stderr, (name, redirect, p.stderr)
    # A closed pipe is still the normal end, not an error.
    for name, args in cases.items():
        if name == "trace":
            continue
        p = subprocess.run(["sh", "-c", "exec %s %s | true" % (tt.TCPTRAIL, " ".join(args))],
                           capture_output=True, text=True, timeout=tt.DEADLINE)
        assert p.returncode == 0 and "writing output" not in p.stderr, (name, p.stderr)
    listener.close()


def limited(args, limit, value):
    """tcptrail under a resource limit (soft and hard, as the shell's ulimit sets it)."""
    def lower():
        resource.setrlimit(limit, (value, value))
    return subprocess.run([tt.TCPTRAIL] + args, capture_output=True, text=True,
                          preexec_fn=lower, timeout=tt.DEADLINE)


def test_load_errors_name_the_limit():
    """Short of files, libbpf's feature probes fail and the kernel refuses the program (EINVAL);
    short of address space, libbpf cannot read the BTF and calls it missing. The error names the
    limit instead of an old kernel or a missing BTF."""
    for n in (10, 11, 12):
        p = limited(["-d", "1", "--netns", str(NETNS)], resource.RLIMIT_NOFILE, n)
        assert p.returncode == 1, (n, p.returncode, p.stderr)
        assert p.stderr == ("tcptrail: loading the BPF programs: too many open files: raise the "
                            "limit (ulimit -n: now %d, needs about 64)\n" % n), (n, p.stderr)
    p = limited(["snapshot", "-ap"], resource.RLIMIT_NOFILE, 8)
    assert p.returncode == 1, p.stderr
    assert re.fullmatch(r"tcptrail: [^:]+: too many open files: raise the limit \(ulimit -n: "
                        r"now 8, needs about 16\)\n", p.stderr), p.stderr
    kib = 15000
    for args, what in ((["-d", "1", "--netns", str(NETNS)], "loading the BPF programs"),
                       (["snapshot"], "loading the snapshot iterators")):
        p = limited(args, resource.RLIMIT_AS, kib * 1024)
        assert p.returncode == 1, (args, p.returncode, p.stderr)
        assert p.stderr == ("tcptrail: %s: out of memory: raise the limits (ulimit -v: now %d KiB; "
                            "ulimit -l before Linux 5.11) or free memory\n" % (what, kib)), \
            (args, p.stderr)
    # With room to spare the same commands work.
    p = limited(["snapshot"], resource.RLIMIT_NOFILE, 1024)
    assert p.returncode == 0, p.stderr


def other_namespaces():
    """Network namespace inodes of every process but ours (full privileges)."""
    found = set()
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                found.add(tt.netns_inode(pid))
            except OSError:
                pass
    return found - {NETNS}


def no_ptrace(args, **kw):
    """tcptrail as root without CAP_SYS_PTRACE (CAP_BPF, CAP_PERFMON, CAP_SYS_ADMIN kept)."""
    return subprocess.run(["setpriv", "--inh-caps=-sys_ptrace", "--bounding-set=-sys_ptrace",
                           tt.TCPTRAIL] + args, capture_output=True, text=True,
                          timeout=tt.DEADLINE, **kw)


def in_other_netns(port):
    """A listener on 127.0.0.1:port in a namespace of its own; (process, its netns inode)."""
    p = subprocess.Popen(
        ["unshare", "-n", "sh", "-c",
         "ip link set lo up && exec python3 -c \"import socket,sys,os\n"
         "l=socket.socket(); l.bind(('127.0.0.1', %d)); l.listen(1)\n"
         "print(os.stat('/proc/self/ns/net').st_ino, flush=True); sys.stdin.read()\"" % port],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    return p, int(tt.read_line(p))


SKIP_RE = (r"tcptrail: %s: (\d+) network namespaces? could not be read \(/proc/PID/ns/net: "
           r"Permission denied; needs CAP_SYS_PTRACE\): %s\n")


def test_unreadable_namespaces_are_counted():
    """Without CAP_SYS_PTRACE no other process' /proc/PID/ns/net can be opened: snapshot
    --all-netns -v and the trace start-up walk say how many namespaces they missed and why."""
    port = 7311
    other, other_ns = in_other_netns(port)
    try:
        before = other_namespaces()
        # With every privilege: the other namespace's listener is listed, nothing is skipped.
        p = subprocess.run([tt.TCPTRAIL, "snapshot", "-l", "--all-netns", "-v", "-n",
                            "--lport", str(port)], capture_output=True, text=True,
                           timeout=tt.DEADLINE)
        assert p.returncode == 0 and "could not be read" not in p.stderr, p.stderr
        assert str(other_ns) in p.stdout, p.stdout
        p = no_ptrace(["snapshot", "-l", "--all-netns", "-v", "-n", "--lport", str(port)])
        after = other_namespaces()
        assert p.returncode == 0, p.stderr
        m = re.search(SKIP_RE % ("--all-netns", "their sockets are not listed"), p.stderr)
        assert m, p.stderr
        # Every other namespace was unreadable; some may have come or gone meanwhile.
        assert len(before & after) <= int(m.group(1)) <= len(before | after), (m.group(1),
                                                                             before, after)
        assert other_ns in before and str(other_ns) not in p.stdout, p.stdout
        # Without CAP_SYS_ADMIN the namespaces are read but cannot be entered.
        p = subprocess.run(["setpriv", "--inh-caps=-sys_admin", "--bounding-set=-sys_admin",
                            tt.TCPTRAIL, "snapshot", "-l", "--all-netns", "-v", "-n", "--lport",
                            str(port)], capture_output=True, text=True, timeout=tt.DEADLINE)
        assert p.returncode == 0, p.stderr
        m = re.search(r"tcptrail: --all-netns: (\d+) network namespaces? could not be entered "
                      r"\(setns: Operation not permitted; needs CAP_SYS_ADMIN; first "
                      r"/proc/\d+/ns/net\): their sockets "
                      r"are not listed\n", p.stderr)
        assert m and int(m.group(1)) >= 1 and str(other_ns) not in p.stdout, p.stderr
        # Without -v, snapshot lists what it can and says nothing.
        p = no_ptrace(["snapshot", "-l", "--all-netns"])
        assert p.returncode == 0 and p.stderr == "", p.stderr
        # The trace start-up walk: said with -v, and always with --stuck (its alerts need it).
        consequence = (r"their sockets older than the tracer show no time in state and raise "
                       r"no --stuck alert")
        for args in (["-v"], ["--stuck", "CLOSE_WAIT=1s", "-q"]):
            p = no_ptrace(["-d", "0.2", "--netns", str(NETNS), "-o", "json"] + args)
            assert p.returncode == 0, p.stderr
            assert re.search(SKIP_RE % ("walking existing sockets", consequence), p.stderr), \
                p.stderr
        p = no_ptrace(["-d", "0.2", "--netns", str(NETNS)])
        assert p.returncode == 0 and "could not be read" not in p.stderr, p.stderr
    finally:
        other.stdin.close()
        other.wait(timeout=tt.DEADLINE)


def held_namespaces(pid):
    """Namespace inodes a process holds open (fds on nsfs: net:[INODE], or an ip netns file)."""
    nsfs = os.stat("/proc/self/ns/net").st_dev
    held = set()
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            st = os.stat("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue
        if st.st_dev == nsfs:
            held.add(st.st_ino)
    return held


def test_netns_filter_holds_its_namespace():
    """--netns INODE: the namespace is held open from the start, so when its last process
    exits (or `ip netns del` drops it) its number cannot go to a new namespace that the filter
    would then follow; a number that matches no namespace is a warning."""
    other, other_ns = in_other_netns(7312)
    name = "tt-e2e-hold-%d" % os.getpid()
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        named_ns = os.stat("/run/netns/" + name).st_ino
        t = tt.Tracer("--netns", "%d,%d" % (other_ns, named_ns))
        try:
            assert held_namespaces(t.proc.pid) >= {other_ns, named_ns}, \
                held_namespaces(t.proc.pid)
            # Its last process gone, and the ip netns name removed: both are still held.
            other.stdin.close()
            other.wait(timeout=tt.DEADLINE)
            subprocess.run(["ip", "netns", "del", name], check=True)
            assert held_namespaces(t.proc.pid) >= {other_ns, named_ns}, \
                held_namespaces(t.proc.pid)
        finally:
            code, err = t.stop()
        assert code == 0 and "warning" not in err, err
    finally:
        if other.poll() is None:
            other.stdin.close()
            other.wait(timeout=tt.DEADLINE)
        subprocess.run(["ip", "netns", "del", name], capture_output=True)
    missing = 4294967295
    p = subprocess.run([tt.TCPTRAIL, "--netns", str(missing), "-d", "0.2"], capture_output=True,
                       text=True, timeout=tt.DEADLINE)
    assert p.returncode == 0, p.stderr
    # This machine may have processes even root cannot look at (they are named as the cause).
    assert re.search(r"^tcptrail: warning: --netns %d: no network namespace has this number now"
                     r"( \(some could not be read: [^)]+\))?: one that gets it later is traced "
                     r"\(and held\)$" % missing, p.stderr, re.M), p.stderr


def test_netns_filter_finds_a_namespace_later():
    """A --netns namespace no task is in and no mount holds (only an open fd, which tcptrail
    does not look at) is missing at the start, said once; when a process enters it, the next
    search (every 5 s) finds it, holds it and says so."""
    holder = subprocess.Popen(
        [sys.executable, "-c", tt.SETNS_PY +
         "import os,sys\n"
         "home = os.open('/proc/self/ns/net', os.O_RDONLY)\n"
         "unshare_net()\n"
         "fd = os.open('/proc/self/ns/net', os.O_RDONLY)\n"
         "setns_net(home)\n"
         "print(os.fstat(fd).st_ino, fd, flush=True); sys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    sleeper = None
    try:
        ino, fd = map(int, tt.read_line(holder).split())
        t = tt.Tracer("--netns", str(ino))
        try:
            err = lambda: "".join(t.stderr_lines)
            assert "tcptrail: warning: --netns %d: no network namespace has this number now" \
                % ino in err(), err()
            assert ino not in held_namespaces(t.proc.pid)
            sleeper = subprocess.Popen(["nsenter", "--net=/proc/%d/fd/%d" % (holder.pid, fd),
                                        "sleep", "60"])
            tt.wait_until(lambda: "tcptrail: --netns %d: the namespace exists now\n" % ino
                          in err(), timeout=15, what="the namespace to be found")
            assert ino in held_namespaces(t.proc.pid)
        finally:
            code, text = t.stop()
        assert code == 0, text
        assert text.count("--netns %d" % ino) == 2, text  # missing once, found once
    finally:
        if sleeper:
            sleeper.kill()
            sleeper.wait()
        holder.stdin.close()
        holder.wait(timeout=tt.DEADLINE)


def test_stalled_reader_lines_dropped_are_lost():
    """stdout a pipe whose reader is stopped (SIGSTOP) under churn: past the bound on lines
    waiting in memory (lowered to 1 MB by TCPTRAIL_QUEUE_MAX) lines are dropped, said while it
    happens, and counted as lost at the end ('N events, M lost (K not written)', exit 1): what
    the reader got and what was not written add up to every event."""
    churn = os.path.join(tt.ROOT, ".output", "bench", "churn")
    got = os.path.join(TMP, "got.jsonl")
    rfd, wfd = os.pipe()
    with open(got, "wb") as sink:
        reader = subprocess.Popen(["cat"], stdin=rfd, stdout=sink)
    os.close(rfd)
    env = dict(os.environ, TCPTRAIL_QUEUE_MAX=str(1 << 20))
    proc = subprocess.Popen([tt.TCPTRAIL, "-o", "json", "--netns", str(NETNS), "--ringbuf-mb",
                             "64"], stdout=wfd, stderr=subprocess.PIPE, env=env)
    os.close(wfd)
    err_lines = []
    t_err = threading.Thread(target=lambda: err_lines.extend(l.decode() for l in proc.stderr))
    t_err.start()
    try:
        tt.wait_until(lambda: any(l.startswith("Tracing") for l in err_lines) or
                      proc.poll() is not None, what="'Tracing' on stderr")
        reader.send_signal(signal.SIGSTOP)
        # ~300 bytes a line: 1 MB waiting plus the pipe's 64 KiB is some 4,000 events.
        subprocess.run([churn, "-s", "2", "-w", "1", "-p", "7320"], capture_output=True,
                       check=True)
        tt.wait_until(lambda: any("lines not written" in l for l in err_lines),
                      what="the warning about lines not written")
    finally:
        reader.send_signal(signal.SIGCONT)
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=tt.DEADLINE)
        reader.wait(timeout=tt.DEADLINE)
        t_err.join()
    err = "".join(err_lines)
    assert proc.returncode == 1, err
    m = re.search(r"^tcptrail: (\d+) events, (\d+) lost \((\d+) not written\)$", err, re.M)
    assert m, err
    events, lost, not_written = map(int, m.groups())
    ring_lost = re.findall(r"events lost \(ring buffer.* (\d+) in total", err)
    assert lost == not_written + (int(ring_lost[-1]) if ring_lost else 0), err
    assert re.search(r"^tcptrail: WARNING: \d+ lines not written, \d+ in total: standard output "
                     r"is not read fast enough", err, re.M), err
    with open(got, "rb") as f:
        lines = f.read().splitlines()
    for line in lines:
        json.loads(line)  # whole lines only: drops never cut one
    assert not_written > 0 and len(lines) + not_written == events, (len(lines), events, err)
    # The same without the stall: nothing lost, exit 0.
    p = subprocess.run([tt.TCPTRAIL, "-o", "json", "--netns", str(NETNS), "-d", "0.3"],
                       capture_output=True, text=True, env=env, timeout=tt.DEADLINE)
    assert p.returncode == 0 and re.search(r"\d+ events, 0 lost\n", p.stderr), p.stderr


if __name__ == "__main__":
    tt.main([test_unwritable_stdout_exits_1, test_load_errors_name_the_limit,
             test_unreadable_namespaces_are_counted, test_netns_filter_holds_its_namespace,
             test_netns_filter_finds_a_namespace_later,
             test_stalled_reader_lines_dropped_are_lost])
