"""End-to-end: a stop (SIGINT or SIGTERM) at any moment of start-up ends the run cleanly: exit 0
and the final 'N events, M lost' line, also when SIGINT starts ignored (a shell's background
job). The signals are held from tcptrail's first instruction (the executable's pre-init, before
the libraries' initializers) and acted on once start-up is done."""
import os
import random
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import tt  # noqa: E402

tt.enter_private_netns()
NETNS = tt.netns_inode()
RUNS = int(os.environ.get("TT_SIGNAL_RUNS", "200"))


def held(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("SigBlk:"):
                mask = 1 << (signal.SIGHUP - 1) | 1 << (signal.SIGINT - 1) | \
                    1 << (signal.SIGTERM - 1)
                return int(line.split()[1], 16) & mask == mask
    return False


def stop_during_startup(sig, delay, ignore_int=False):
    """Starts tcptrail, sends sig after delay s; (exit code, stderr)."""
    pre = (lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)) if ignore_int else None
    p = subprocess.Popen([tt.TCPTRAIL, "-o", "json", "--netns", str(NETNS)], stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, preexec_fn=pre)
    # From tcptrail's first instruction (before the libraries' initializers) on: what comes
    # before is the dynamic loader's, where a signal does what it does to any program.
    tt.wait_until(lambda: held(p.pid), what="SIGINT, SIGTERM and SIGHUP held at start")
    end = time.monotonic() + delay
    while time.monotonic() < end:  # a busy wait: sleep's granularity would skew the delays
        pass
    p.send_signal(sig)
    try:
        _, err = p.communicate(timeout=tt.DEADLINE)
    except subprocess.TimeoutExpired:
        p.kill()
        p.communicate()
        raise AssertionError("tcptrail did not stop on %s sent after %.1f ms" % (
            signal.Signals(sig).name, delay * 1000))
    return p.returncode, err.decode()


def check_runs(ignore_int):
    rnd = random.Random(22)
    for i in range(RUNS):
        sig = signal.SIGTERM if i % 2 else signal.SIGINT
        delay = rnd.uniform(0, 0.05)
        rc, err = stop_during_startup(sig, delay, ignore_int)
        what = "run %d: %s after %.1f ms" % (i, signal.Signals(sig).name, delay * 1000)
        assert rc == 0, "%s: exit %d: %s" % (what, rc, err)
        tt.summary_counts(err)  # the final line is there


def test_stop_during_startup():
    check_runs(False)


def test_stop_during_startup_background():
    """Started as a shell's background job: SIGINT ignored at exec still stops the run."""
    check_runs(True)


if __name__ == "__main__":
    tt.main([test_stop_during_startup, test_stop_during_startup_background])
