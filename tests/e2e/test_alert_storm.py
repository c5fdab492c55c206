"""End-to-end: an alert storm (--stuck on 200k sockets at once) loses no event.

mksockets opens N established loopback pairs before the tracer starts, each socket held by
HOLDERS processes as a pre-forking server's are; the tracer's start-up walk seeds them all, so
they cross --stuck ESTABLISHED=5s together, while a paced connection loop keeps events flowing
into a small ring buffer. The owner walk then reads N * HOLDERS socket files (1.6M, 2-3 s): the
build that ran it and emitted the alerts on the thread draining the ring buffer lost 38k-53k
events here (1 MiB holds about 10k events, a second of the loop's), and none without --stuck.
The tracer must lose no event, write one alert per socket to the recording and stdout, count
them in its final report and record every one of the loop's transitions.
"""
import json
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import tt  # noqa: E402

tt.enter_private_netns()
NETNS = tt.netns_inode()
SOCKETS = int(os.environ.get("TT_STORM_SOCKETS", "200000"))
HOLDERS = os.environ.get("TT_STORM_HOLDERS", "8")
PORT = 21000  # mksockets' listeners: PORT, PORT+1, ... one per 18000 sockets
RINGBUF = os.environ.get("TT_STORM_RINGBUF_MB", "1")
RATE = float(os.environ.get("TT_STORM_RATE", "1600"))  # connections/s: about 9k events/s

# Connects to its own listener `rate` times a second until stdin closes; the client resets its
# connection (linger 0: no TIME_WAIT, since mksockets' clients take most ephemeral ports), the
# server's side is closed right after. Prints the count at the end.
LOOP = r"""
import socket, struct, sys, threading, time
port, rate = int(sys.argv[1]), float(sys.argv[2])
l = socket.socket()
l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("127.0.0.1", port))
l.listen(128)
stop = []
threading.Thread(target=lambda: (sys.stdin.read(), stop.append(1)), daemon=True).start()
print("ready", flush=True)
n, t0 = 0, time.monotonic()
while not stop:
    c = socket.create_connection(("127.0.0.1", port))
    a, _ = l.accept()
    c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    c.close()
    a.close()
    n += 1
    ahead = t0 + n / rate - time.monotonic()
    if ahead > 0:
        time.sleep(ahead)
print("conns %d" % n, flush=True)
"""


def log_records(path):
    with open(path) as f:
        return [json.loads(l) for l in f if l.startswith("{")]


def test_alert_storm_loses_no_event():
    d = tt.temp_dir("storm")
    log = os.path.join(d, "storm.jsonl")
    loop_port = tt.free_port()
    tracer = loop = mk = None
    try:
        start = time.monotonic()
        mk = subprocess.Popen([os.path.join(tt.HELPERS, "mksockets"), str(SOCKETS), str(PORT),
                               HOLDERS], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        made = int(tt.read_line(mk, 120).split()[1])
        opened = time.monotonic()
        nproc = (SOCKETS + 17999) // 18000
        # Every socket but the listeners is ESTABLISHED (client and accepted side of a pair).
        expect = made - nproc
        ports = range(PORT, PORT + nproc)
        tracer = tt.Tracer("-q", "-w", log, "--stuck", "ESTABLISHED=5s", "--netns", str(NETNS),
                           "--ringbuf-mb", RINGBUF, "-v", start_timeout=60)
        loop = tt.run_py(LOOP, loop_port, RATE)
        assert tt.read_line(loop) == "ready"
        traced = time.monotonic()

        def storm(e):
            return e.get("type") == "stuck" and (e["lport"] in ports or e["rport"] in ports)

        # -q: stdout holds alerts only. Counted without parsing: 200k lines re-read each turn.
        def nalerts():
            with tracer.lock:
                return sum('"type":"stuck"' in l for l in tracer.lines)
        try:
            tt.wait_until(lambda: nalerts() >= expect, 100, "%d alerts" % expect)
        except AssertionError as ex:
            print("  " + str(ex), flush=True)
        done = time.monotonic()
        loop.stdin.close()
        conns = int(tt.read_line(loop).split()[1])
        loop.wait(tt.DEADLINE)
        code, err = tracer.stop()
    finally:
        for p in (mk, loop):
            if p and p.poll() is None:
                p.stdin.close()
                p.wait(tt.DEADLINE)
        if tracer:
            tracer.stop()
    events, lost = tt.summary_counts(err)
    shown = tracer.events(storm)
    recs = log_records(log)
    lost_recs = [r for r in recs if r.get("type") == "lost"]
    alerts = [r for r in recs if storm(r)]
    # The loop's connections: 5 transitions each on loopback (client CLOSE->SYN_SENT->
    # ESTABLISHED->CLOSE, server ESTABLISHED->CLOSE, after its SYN_RECV->ESTABLISHED).
    loop_events = [r for r in recs if r.get("type") == "state" and loop_port in
                   (r["lport"], r["rport"])]
    said = re.search(r"tcptrail: (\d+) stuck alerts\n", err)
    walks = re.search(r"(\d+) owner walks for stuck alerts, the longest (\d+) ms", err)
    print("  sockets %d x %s holders, alerts %d (stdout %d) %.1fs after the tracer started "
          "(%.1fs to open them), %s, events %d, lost %d, loop %d connections, %d events"
          % (expect, HOLDERS, len(alerts), len(shown), done - traced,
             opened - start, walks.group(0) if walks else "no walk line", events, lost, conns,
             len(loop_events)), flush=True)
    assert code == 0, err
    assert lost == 0 and not lost_recs, "%d events lost: %s" % (lost, err)
    assert len(alerts) == expect, "%d alerts in the log, %d sockets" % (len(alerts), expect)
    assert len({a["sock"] for a in alerts}) == expect
    assert len(shown) == expect
    # Counted and said: every alert, none dropped, none without its holders.
    assert said and int(said.group(1)) == expect, err
    assert walks and int(walks.group(1)) >= 1, err
    assert all(len(a["owners"]) == int(HOLDERS) for a in alerts[:100]), alerts[0]
    assert conns > 0 and len(loop_events) >= 5 * conns - 10, \
        "%d loop events for %d connections" % (len(loop_events), conns)


if __name__ == "__main__":
    tt.main([test_alert_storm_loses_no_event])
