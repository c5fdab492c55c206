"""End-to-end: `tcptrail -q --stuck ... -w FILE` as a long-running watchdog keeps its memory
bounded while a million connections come and go, and loses no events.

tests/bench/churn.c makes the connections on 127.0.0.1 in this test's private netns (reset
closes, so no TIME_WAIT and no port exhaustion), with one worker: the tracer keeps the other core.
The tracer's VmRSS is sampled once 100k connections have passed and again after the millionth.
"""
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
import tt  # noqa: E402

tt.enter_private_netns()
NETNS = tt.netns_inode()
CHURN = os.path.join(tt.ROOT, ".output", "bench", "churn")
TOTAL = 1000000
EARLY = 100000
CHURN_SECONDS = 150  # a cap, not a sleep: churn is stopped as soon as TOTAL have passed
EVENTS_PER_CONN = 6  # SYN_SENT, ESTABLISHED, CLOSE on each side (reset close)


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS for pid %d" % pid)


def hwm_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        return int(re.search(r"VmHWM:\s+(\d+)", f.read()).group(1))


class Churn:
    """churn --progress in its own process group; `conns` follows its progress lines."""

    def __init__(self, workers):
        self.proc = subprocess.Popen([CHURN, "-s", str(CHURN_SECONDS), "-w", str(workers),
                                      "-p", "21000", "--progress"], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, start_new_session=True)
        self.conns = 0
        self.elapsed = 0.0
        self.t = threading.Thread(target=self._read)
        self.t.start()

    def _read(self):
        for raw in self.proc.stdout:
            f = raw.decode().split()
            if len(f) == 3 and f[0] == "progress":
                self.elapsed, self.conns = float(f[1]), int(f[2])

    def stop(self):
        # The workers loop until the parent says stop; the group kill ends them all at once.
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        self.t.join()
        return self.proc.stderr.read().decode()


def test_million_connections():
    assert os.access(CHURN, os.X_OK), "build the churn generator: make .output/bench/churn"
    with tempfile.TemporaryDirectory() as d:
        log = os.path.join(d, "watchdog.jsonl.gz")
        t = tt.Tracer("-q", "--stuck", "SYN_SENT=2s", "--stuck", "CLOSE_WAIT=30s",
                      "--netns", str(NETNS), "-w", log)
        start = time.monotonic()
        churn = Churn(workers=1)
        try:
            tt.wait_until(lambda: churn.conns >= EARLY or churn.proc.poll() is not None,
                          timeout=CHURN_SECONDS, what="%d connections" % EARLY)
            assert churn.proc.poll() is None, "churn ended early: %s" % churn.stop()
            early_conns, early = churn.conns, rss_kib(t.proc.pid)
            tt.wait_until(lambda: churn.conns >= TOTAL or churn.proc.poll() is not None,
                          timeout=CHURN_SECONDS + 10, what="%d connections" % TOTAL)
        finally:
            err = churn.stop()
        conns, secs = churn.conns, churn.elapsed
        assert conns >= TOTAL, "only %d connections in %.0fs: %s" % (conns, secs, err)
        end, peak = rss_kib(t.proc.pid), hwm_kib(t.proc.pid)
        rc, stderr = t.stop()
        events, lost = tt.summary_counts(stderr)
        size = os.path.getsize(log)
        print("  %d connections in %.1fs (%.0f/s, 1 worker); tracer VmRSS %d KiB after %d, "
              "%d KiB at the end, VmHWM %d KiB; %d events, %d lost; log %.1f MiB gzip; "
              "%.1fs in all" % (conns, secs, conns / secs, early, early_conns, end, peak,
                                events, lost, size / 2**20, time.monotonic() - start),
              flush=True)
        assert rc == 0, stderr
        assert end <= early * 1.5 + 8192, "RSS grew from %d to %d KiB" % (early, end)
        assert lost == 0, "%d events lost at %.0f connections/s" % (lost, conns / secs)
        # Connections past the last progress line also made events: at least, not exactly.
        assert events >= EVENTS_PER_CONN * conns, (events, conns)
        # -q prints stuck alerts only, and no socket stays 2 s in SYN_SENT or 30 s in CLOSE_WAIT.
        assert not "".join(t.lines).strip(), "unexpected stuck alerts: %s" % t.lines[:5]
        # The recording was closed properly (a complete gzip stream).
        subprocess.run(["gzip", "-t", log], check=True)


if __name__ == "__main__":
    tt.main([test_million_connections])
