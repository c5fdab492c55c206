"""Shared helpers for tcptrail's end-to-end tests (Python 3 standard library only).

Tests run as root inside a private network namespace (see enter_private_netns), start the real
tcptrail binary, make real connections on loopback, and wait for the exact events they expect.
The tracepoint is global, so every assertion is narrowed to this test's netns and ports.
"""
import atexit
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
TCPTRAIL = os.path.join(ROOT, "tcptrail")
HELPERS = os.path.join(ROOT, ".output", "e2e")
DEADLINE = 20.0  # generous: never a fixed sleep, always "wait until, or fail after this"


def enter_private_netns():
    """Re-executes the calling script in a new network namespace with loopback up."""
    if os.environ.get("TT_IN_NETNS") != "1":
        env = dict(os.environ, TT_IN_NETNS="1")
        os.execvpe("unshare", ["unshare", "-n", sys.executable] + sys.argv, env)
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)


# Python 3.11 has no os.unshare/os.setns; for CLONE_NEWNET both change only the calling thread.
SETNS_PY = ("import ctypes\n"
            "libc = ctypes.CDLL(None, use_errno=True)\n"
            "def unshare_net():\n"
            "    if libc.unshare(0x40000000): raise OSError(ctypes.get_errno(), 'unshare')\n"
            "def setns_net(fd):\n"
            "    if libc.setns(fd, 0x40000000): raise OSError(ctypes.get_errno(), 'setns')\n")


def netns_inode(pid="self"):
    return os.stat("/proc/%s/ns/net" % pid).st_ino


def temp_dir(name):
    """A fresh /tmp/tcptrail-<name>-XXXX, removed with all in it when the test exits."""
    d = tempfile.mkdtemp(prefix="tcptrail-%s-" % name)
    atexit.register(shutil.rmtree, d, True)
    return d


def wait_until(pred, timeout=DEADLINE, what="condition"):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(0.01)
    raise AssertionError("timed out after %.0fs waiting for %s" % (timeout, what))


# Tracers a test started: one a failed test left running is killed before the next test, or
# its reader threads would keep the test file from ever exiting.
_started = []


def _reap_tracers():
    while _started:
        t = _started.pop()
        if t.proc.poll() is None:
            t.proc.kill()
            t.proc.wait()
        t.t_out.join()
        t.t_err.join()


class Tracer:
    """A running `tcptrail -o json` (or other args) whose stdout lines are collected."""

    def __init__(self, *args, json_output=True, stdin=None, start_timeout=DEADLINE):
        cmd = [TCPTRAIL] + list(args)
        if json_output and "-o" not in args:
            cmd += ["-o", "json"]
        self.cmd = cmd
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     stdin=stdin)
        self.lines = []
        self.stderr_lines = []
        self.lock = threading.Lock()
        self.t_out = threading.Thread(target=self._read, args=(self.proc.stdout, self.lines))
        self.t_err = threading.Thread(target=self._read, args=(self.proc.stderr,
                                                               self.stderr_lines))
        self.t_out.start()
        self.t_err.start()
        _started.append(self)
        try:
            wait_until(lambda: any(l.startswith("Tracing") for l in self.stderr_lines)
                       or self.proc.poll() is not None, start_timeout, "'Tracing' on stderr")
        except AssertionError:
            # A tracer that never started must not outlive the test (nor keep it waiting).
            self.proc.kill()
            self.proc.wait()
            self.t_out.join()
            self.t_err.join()
            raise
        if self.proc.poll() is not None:
            self.t_err.join()
            raise AssertionError("tcptrail exited early (%d): %s" % (
                self.proc.returncode, "".join(self.stderr_lines)))

    def _read(self, f, sink):
        for raw in f:
            line = raw.decode("utf-8", "replace")
            with self.lock:
                sink.append(line)

    def events(self, pred=lambda e: True):
        out = []
        with self.lock:
            lines = list(self.lines)
        for l in lines:
            if not l.startswith("{"):
                continue
            e = json.loads(l)
            if pred(e):
                out.append(e)
        return out

    def wait_events(self, pred, count, timeout=DEADLINE, what="events"):
        return wait_until(lambda: len(self.events(pred)) >= count and self.events(pred),
                          timeout, what)

    def said_lost(self):
        """The tracer has warned of lost events (it checks about once a second)."""
        with self.lock:
            return any(" events lost " in l for l in self.stderr_lines)

    def stop(self, sig=signal.SIGINT):
        """Stops the tracer; returns (exit code, stderr text)."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout=DEADLINE)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("tcptrail did not stop on %s" % sig)
        self.t_out.join()
        self.t_err.join()
        return self.proc.returncode, "".join(self.stderr_lines)


class EventsLost(Exception):
    """A tracer lost events the test needs: main() runs the test again. The kernel skips a run
    of a tracing program that fires on a CPU where the same program is running (a softirq's
    state event during a system call's), and counts it: other processes' TCP load makes this
    rare, never impossible."""


def wait_scenario(tracers, done, what):
    """Waits until done(tracer) holds for every tracer; EventsLost if one said it lost events
    before that (its scenario may then never be whole)."""
    for t in tracers:
        wait_until(lambda: done(t) or t.said_lost(), what=what)
        if not done(t):
            raise EventsLost("%s: %s" % (what, "".join(t.stderr_lines)))


def fail_if_lost(err):
    """After stop(): EventsLost when the summary line counts lost events."""
    if summary_counts(err)[1]:
        raise EventsLost(err)


def stop_after_write_error(tracer, log):
    """Stops a tracer whose -w log hit a write error: (events seen, events not written), after
    checking the exit status 1, no lost events and the 'could not be written' line."""
    import re
    rc, err = tracer.stop()
    assert rc == 1, err
    events, lost = summary_counts(err)
    assert lost == 0, err
    m = re.search(r"(\d+) events could not be written to %s\n" % re.escape(log), err)
    assert m, err
    return events, int(m.group(1))


def summary_counts(stderr):
    """(events, lost) from the exit summary line 'N events, M lost'."""
    import re
    m = re.search(r"(\d+) events, (\d+) lost", stderr)
    assert m, "no summary line in stderr: %r" % stderr
    return int(m.group(1)), int(m.group(2))


# A server (argv: addr port hold [count, default 1]) that accepts count connections one after
# the other, reads each to the peer's FIN and holds it in CLOSE_WAIT for `hold` s before closing
# it. It prints "ready" when listening, "eof" per connection, "done" at the end.
CLOSE_WAIT_SERVER = r"""
import socket, sys, time
addr, port, hold = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
count = int(sys.argv[4]) if len(sys.argv) > 4 else 1
fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
s = socket.socket(fam)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
if fam == socket.AF_INET6:
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.bind((addr, port))
s.listen(16)
print("ready", flush=True)
for _ in range(count):
    a, _ = s.accept()
    while a.recv(4096):
        pass
    # The peer's FIN is in (softirq: ESTABLISHED -> CLOSE_WAIT): hold CLOSE_WAIT `hold` s.
    print("eof", flush=True)
    time.sleep(hold)
    a.close()
s.close()
print("done", flush=True)
"""

# A client (argv: addr port) that connects, sends "hello" and closes first.
HELLO_CLIENT = r"""
import socket, sys
addr, port = sys.argv[1], int(sys.argv[2])
c = socket.create_connection((addr, port))
c.sendall(b"hello")
c.close()
"""


def refused_connect(port):
    """Connects to a port nobody listens on (SYN_SENT -> CLOSE); returns the client's port."""
    c = socket.socket()
    c.bind(("127.0.0.1", 0))
    cport = c.getsockname()[1]
    try:
        c.connect(("127.0.0.1", port))
        raise AssertionError("connect to a port without a listener succeeded")
    except ConnectionRefusedError:
        pass
    c.close()
    return cport


def free_port(fam=socket.AF_INET, addr="127.0.0.1"):
    """A port nothing listens on now (never 2024, which the environment uses)."""
    while True:
        s = socket.socket(fam)
        s.bind((addr, 0))
        port = s.getsockname()[1]
        s.close()
        if port != 2024:
            return port


def fill_send_buffer(sock):
    """Sends until the peer's receive window and sock's send buffer are full (non-blocking)."""
    sock.setblocking(False)
    try:
        while True:
            sock.send(b"x" * 65536)
    except BlockingIOError:
        pass


def run_py(code, *args):
    """Starts a separate Python process running `code` (real pid for owner checks)."""
    return subprocess.Popen([sys.executable, "-c", code] + [str(a) for a in args],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)


def read_line(proc, timeout=DEADLINE):
    """One line from a helper process' stdout (it prints to say 'ready')."""
    result = []
    t = threading.Thread(target=lambda: result.append(proc.stdout.readline()))
    t.start()
    t.join(timeout)
    if not result or not result[0]:
        raise AssertionError("helper process said nothing")
    return result[0].decode().strip()


LOSS_ATTEMPTS = 3


def main(tests):
    """Runs the test functions, prints 'N passed, N failed', exits 1 on failure."""
    passed = failed = 0
    only = os.environ.get("TT_ONLY")
    for t in tests:
        if only and only not in t.__name__:
            continue
        start = time.monotonic()
        try:
            for attempt in range(LOSS_ATTEMPTS):
                try:
                    t()
                    break
                except EventsLost as e:
                    if attempt == LOSS_ATTEMPTS - 1:
                        raise
                    said = str(e).strip().splitlines() or ["no detail"]
                    print("again %s: the tracer lost events (%s)" % (t.__name__, said[-1]),
                          flush=True)
                    _reap_tracers()
            passed += 1
            print("ok   %s (%.1fs)" % (t.__name__, time.monotonic() - start), flush=True)
        except Exception:
            failed += 1
            print("FAIL %s" % t.__name__, flush=True)
            traceback.print_exc()
        finally:
            _reap_tracers()
    print("%s: %d passed, %d failed" % (os.path.basename(sys.argv[0]), passed, failed))
    sys.exit(1 if failed else 0)
