"""tcptrail benchmarks (issues 6 and 10), run by tests/bench/run.sh as root.

Every case runs the churn generator (tests/bench/churn.c) in a fresh private network namespace
on 127.0.0.1 for BENCH_SECONDS, untraced or with a tracer attached, BENCH_REPS times, with an
untraced run between any two traced runs (each traced run is compared with the mean of its two
neighbours), and reports medians. The ping-pong section (issue 10) does the same with
tests/bench/pingpong.c: 1-byte request/response on established connections, which makes no
state changes, so it measures the tracer's hooks on socket I/O; then the ns per run of every
program tcptrail loads, with kernel.bpf_stats_enabled. Environment knobs:
  BENCH_SECONDS (10)  BENCH_REPS (3)  BENCH_WORKERS (comma list; default 1 and one per CPU)
  BENCH_RSS_EVENTS (10000000)  BENCH_DIR (scratch files, /var/tmp/tcptrail-bench)
  BENCH_OUT (markdown table written here too)
  BENCH_SKIP (comma list: churn,graceful,kernel,rss,fmt,pingpong)
  BENCH_ONLY (comma list of sections to run, all others skipped: churn,graceful,kernel,rss,fmt,
    pingpong; `sh tests/bench/run.sh pingpong` sets it)
  BENCH_CASES (comma list of reset-close cases to run)  BENCH_TCPTRAIL (binary to measure)
  BENCH_TCPTRAIL_B (a second tcptrail build, e.g. the previous release: its "B: tcptrail -q -w
    FILE" case joins the churn, ping-pong and syscall tables, measured in the same runs)
  BENCH_SYSCALLS (8000000: getppid calls per run of the syscall-tax section, which also runs
    pingpong -u: AF_UNIX socket I/O while each tracer runs)
  BENCH_PP_SECONDS (5)  BENCH_PP_PAIRS (2)  BENCH_PP_REPS (BENCH_REPS)
  BENCH_QUIET_WAIT (30: seconds to wait before a run for other processes' BPF tracepoint
    programs to go away)  BENCH_RETRIES (2: runs again a run that overlapped other processes'
    BPF tracers or program loads; runs that still do are counted under their table)
  BENCH_TCPTRAIL_DISPATCH (a measurement build whose state handler returns at once; by default
    this tree's, built here: its "reference" case joins the reset-close churn table, the cost of
    the kernel's calls of the programs and of an idle reader, which no work in the handler can
    go under)
  BENCH_CHURN_CPU (0: the CPU a single churn loop is pinned to, traced or not; "" leaves it to
    the scheduler, whose moves of the loop between CPUs were most of the spread of the ratios)
"""
import ctypes
import json
import os
import re
import shutil
import signal
import socket
import statistics
import threading
import urllib.request
import subprocess
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
TCPTRAIL = os.environ.get("BENCH_TCPTRAIL") or os.path.join(ROOT, "tcptrail")
CHURN = os.path.join(ROOT, ".output", "bench", "churn")
TCPSTATES = shutil.which("tcpstates") or "/usr/sbin/tcpstates"
SECONDS = float(os.environ.get("BENCH_SECONDS", "10"))
REPS = int(os.environ.get("BENCH_REPS", "3"))
RSS_EVENTS = int(os.environ.get("BENCH_RSS_EVENTS", "10000000"))
SCRATCH = os.environ.get("BENCH_DIR", "/var/tmp/tcptrail-bench")
SKIP = set(filter(None, os.environ.get("BENCH_SKIP", "").split(",")))
SECTIONS = ("churn", "graceful", "kernel", "rss", "fmt", "pingpong", "syscalls")
ONLY = set(filter(None, os.environ.get("BENCH_ONLY", "").split(",")))
if ONLY - set(SECTIONS):
    sys.exit("bench: unknown section in BENCH_ONLY: %s (sections: %s)" % (
        ",".join(sorted(ONLY - set(SECTIONS))), ",".join(SECTIONS)))
if ONLY:
    SKIP |= set(SECTIONS) - ONLY
PINGPONG = os.path.join(ROOT, ".output", "bench", "pingpong")
GETPPID = os.path.join(ROOT, ".output", "bench", "getppid")
TCPTRAIL_B = os.environ.get("BENCH_TCPTRAIL_B")
B_CASE = "B: tcptrail -q -w FILE"
TCPTRAIL_DISPATCH = os.environ.get("BENCH_TCPTRAIL_DISPATCH") or os.path.join(
    ROOT, ".output", "dispatch", "tcptrail")
DISPATCH_CASE = "reference: state handler returns at once, -q -w FILE"
SYSCALLS = int(os.environ.get("BENCH_SYSCALLS", "8000000"))
PP_SECONDS = float(os.environ.get("BENCH_PP_SECONDS", "5"))
PP_PAIRS = int(os.environ.get("BENCH_PP_PAIRS", "2"))
PP_REPS = int(os.environ.get("BENCH_PP_REPS", str(REPS)))
PP_PORT = 21000      # clear of churn's BASE_PORT + workers; never 2024
QUIET_WAIT = float(os.environ.get("BENCH_QUIET_WAIT", "30"))
RETRIES = int(os.environ.get("BENCH_RETRIES", "2"))
EVENTS_PER_CONN = 6  # reset close: SYN_SENT, ESTABLISHED, CLOSE x client and server child
BASE_PORT = 20000    # never 2024
CHURN_CPU = os.environ.get("BENCH_CHURN_CPU", "0")


def log(msg):
    print("bench: " + msg, file=sys.stderr, flush=True)


def wait_until(pred, timeout=30.0, what="condition"):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(0.02)
    raise RuntimeError("timed out waiting for " + what)


def churn_cpu(workers):
    """The CPU a churn of `workers` loops is pinned to, or None: one loop on one CPU (the others
    left to the tracer and the rest of the machine), the same for untraced and traced runs."""
    if workers == 1 and CHURN_CPU and (os.cpu_count() or 1) > 1:
        return CHURN_CPU
    return None


def churn_cmd(seconds, workers, graceful=False, progress=False, any_addr=False):
    args = [CHURN, "-s", str(seconds), "-w", str(workers), "-p", str(BASE_PORT)]
    if graceful:
        args.append("--graceful")
    if any_addr:
        args.append("--any")
    if progress:
        args.append("--progress")
    if churn_cpu(workers):
        args = ["taskset", "-c", churn_cpu(workers)] + args
    inner = "ip link set lo up && exec " + " ".join(args)
    return ["unshare", "-n", "sh", "-c", inner]


def parse_churn(out):
    m = re.search(r"connections=(\d+) seconds=([\d.]+) rate=(\d+)", out)
    if not m:
        raise RuntimeError("churn printed no result: " + out)
    return {"conns": int(m.group(1)), "seconds": float(m.group(2)), "rate": int(m.group(3))}


def run_churn(seconds, workers, graceful=False, any_addr=False):
    p = subprocess.run(churn_cmd(seconds, workers, graceful, any_addr=any_addr),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if p.returncode:
        raise RuntimeError("churn failed: " + p.stderr.strip())
    return parse_churn(p.stdout)


def pingpong_cmd(seconds, pairs):
    args = [PINGPONG, "-s", str(seconds), "-n", str(pairs), "-p", str(PP_PORT)]
    return ["unshare", "-n", "sh", "-c", "ip link set lo up && exec " + " ".join(args)]


def run_pingpong_cmd(cmd, what):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    m = re.search(r"roundtrips=(\d+) seconds=([\d.]+) rate=(\d+) pairs=\d+ all=(\d+)", p.stdout)
    if p.returncode or not m:
        raise RuntimeError(what + " failed: " + (p.stderr.strip() or p.stdout.strip()))
    return {"trips": int(m.group(1)), "seconds": float(m.group(2)), "rate": int(m.group(3)),
            "all_trips": int(m.group(4))}


def run_pingpong(seconds=None, pairs=None):
    return run_pingpong_cmd(pingpong_cmd(seconds or PP_SECONDS, pairs or PP_PAIRS), "pingpong")


def run_unix_pingpong():
    """Round trips per second over AF_UNIX socket pairs: other processes' (non-TCP) socket I/O."""
    return run_pingpong_cmd([PINGPONG, "-u", "-s", str(PP_SECONDS), "-n", str(PP_PAIRS)],
                            "pingpong -u")


def run_getppid():
    """getppid(2) calls per second: the system call tax a tracer puts on every process."""
    p = subprocess.run([GETPPID, "-n", str(SYSCALLS)], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True)
    m = re.search(r"calls=(\d+) seconds=([\d.]+) rate=(\d+) ns=([\d.]+)", p.stdout)
    if p.returncode or not m:
        raise RuntimeError("getppid failed: " + (p.stderr.strip() or p.stdout.strip()))
    return {"rate": int(m.group(3)), "ns": float(m.group(4))}


def with_b(cases):
    """The cases, with the second build's after the first tcptrail case when one is given."""
    if not TCPTRAIL_B:
        return cases
    i = next((n for n, c in enumerate(cases) if c.startswith("tcptrail")), len(cases) - 1)
    return cases[:i + 1] + [B_CASE] + cases[i + 1:]


def syscalls_section():
    """Issue 20: while each tracer runs idle (no TCP traffic of its own), what one getppid(2)
    costs every other process; untraced runs bracket each traced run."""
    cases = with_b(["untraced", "tcptrail -q -w FILE", "tcpstates >FILE"])
    rows = rate_suite(cases, 1, False, load=run_getppid, unit="calls/s")
    out = ["### System call tax: getppid(2) while each tracer runs (%d calls per run)" % SYSCALLS,
           "", "| case | ns per call (median) | vs untraced (rate ratio) |", "|---|---:|---:|"]
    for c in cases:
        rs = [r for r in rows[c] if "ns" in r]
        if not rs:
            out.append("| %s | n/a | |" % c)
            continue
        ratio = "" if c == "untraced" else fmt_num(med(rs, "ratio"), "%.2f")
        out.append("| %s | %.1f | %s |" % (c, med(rs, "ns"), ratio))
    out += ["", "1.00 is no tax; a syscalls:* tracepoint shows as ~0.8 (every system call slower)."]
    rows = rate_suite(cases, PP_PAIRS, False, load=run_unix_pingpong, unit="round trips/s",
                      reps=PP_REPS)
    out += [""] + rate_table("Socket I/O tax: 1-byte ping-pong over AF_UNIX socket pairs "
                             "(%d pairs, %g s runs) while each tracer runs" % (
                                 PP_PAIRS, PP_SECONDS), rows, unit="round trips/s")
    out += ["", "No TCP here: this is the host's other socket I/O (D-Bus, journald, local "
            "database clients). A hook that fires for every socket's I/O "
            "(sock:sock_send_length/sock_recv_length) runs twice per round trip; the table "
            "below counts the runs."]
    out += [""] + pingpong_kernel_cost([c for c in cases if c.startswith(("tcptrail", "B:"))],
                                       load=run_unix_pingpong, what="AF_UNIX ping-pong")
    return out


def bpftool_json(*args):
    p = subprocess.run(["bpftool", "-j"] + list(args), stdout=subprocess.PIPE,
                       stderr=subprocess.DEVNULL, text=True)
    try:
        return json.loads(p.stdout or "[]")
    except ValueError:
        return []


def attached_progs(pid):
    """IDs of the BPF programs process pid has attached to tracepoints."""
    return [a["prog_id"] for a in bpftool_json("perf", "show") if a.get("pid") == pid]


def comm_of(pid):
    try:
        with open("/proc/%d/comm" % pid) as f:
            return f.read().strip()
    except OSError:
        return "?"


def foreign_tracers(own=()):
    """"comm[pid]" of other processes with BPF programs on tracepoints: on a shared machine
    another tcptrail (a test run) would trace the untraced runs too and load the traced ones."""
    pids = {a.get("pid") for a in bpftool_json("perf", "show")} - set(own) - {None}
    return sorted("%s[%d]" % (comm_of(p), p) for p in pids)


def wait_quiet(own=()):
    """Waits up to QUIET_WAIT seconds for foreign_tracers() to go; returns those still there."""
    end = time.monotonic() + QUIET_WAIT
    others = foreign_tracers(own)
    if others:
        log("waiting up to %gs for other BPF tracers to exit: %s" % (QUIET_WAIT,
                                                                   ", ".join(others)))
    while others and time.monotonic() < end:
        time.sleep(1)
        others = foreign_tracers(own)
    return others


class Tracer:
    """A tracer process: started, awaited until attached, stopped with SIGINT, accounted."""

    def __init__(self, name, argv, stdout_path, kind):
        self.name, self.kind = name, kind
        os.makedirs(SCRATCH, exist_ok=True)
        self.err_path = os.path.join(SCRATCH, "stderr.txt")
        self.stdout_path = stdout_path
        out = open(stdout_path, "wb")
        err = open(self.err_path, "wb")
        self.proc = subprocess.Popen(argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        out.close()
        err.close()
        self.rusage = None
        try:
            if kind == "tcptrail":
                # Printed after the programs are attached.
                wait_until(lambda: "Tracing" in self.stderr() or self.proc.poll() is not None,
                           what=name + " to start")
            else:
                wait_until(lambda: self.proc.poll() is not None or attached_progs(self.proc.pid),
                           what=name + " to attach")
        except RuntimeError:
            self.proc.kill()
            self.proc.wait()
            raise
        if self.proc.poll() is not None:
            raise RuntimeError("%s exited: %s" % (name, self.stderr().strip()[-300:]))

    def stderr(self):
        with open(self.err_path, "r", errors="replace") as f:
            return f.read()

    def vmrss_kb(self, field="VmRSS"):
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
        return 0

    def stop(self):
        """SIGINT, wait; returns {events, lost, cpu_s, user_s, sys_s}."""
        self.proc.send_signal(signal.SIGINT)
        _, status, ru = os.wait4(self.proc.pid, 0)
        self.proc.returncode = os.waitstatus_to_exitcode(status)
        err = self.stderr()
        res = {"user_s": ru.ru_utime, "sys_s": ru.ru_stime, "cpu_s": ru.ru_utime + ru.ru_stime,
               "maxrss_kb": ru.ru_maxrss, "exit": self.proc.returncode}
        if self.kind == "tcptrail":
            m = re.search(r"tcptrail: (\d+) events, (\d+) lost", err)
            res["events"] = int(m.group(1)) if m else None
            res["lost"] = int(m.group(2)) if m else None
        else:
            # Perf-buffer overruns: "lost N events on CPU #C".
            res["lost"] = sum(int(n) for n in re.findall(r"lost (\d+) events", err))
            with open(self.stdout_path, "rb") as f:
                res["events"] = max(0, sum(1 for _ in f) - 1)  # minus the header
        return res


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port if port != 2024 else free_port()


METRICS_PORT = None


def tracer_argv(case, path):
    """argv and stdout file of a case; path is the case's scratch output file."""
    global METRICS_PORT
    if "--metrics" in case and METRICS_PORT is None:
        METRICS_PORT = free_port()
    if case == "tcptrail -q -w FILE":
        return [TCPTRAIL, "-q", "-w", path], os.devnull, "tcptrail"
    if case == B_CASE:
        return [TCPTRAIL_B, "-q", "-w", path], os.devnull, "tcptrail"
    if case == DISPATCH_CASE:
        return [TCPTRAIL_DISPATCH, "-q", "-w", path], os.devnull, "tcptrail"
    if case == "tcptrail -q -w FILE --metrics":
        return ([TCPTRAIL, "-q", "-w", path, "--metrics", "127.0.0.1:%d" % METRICS_PORT],
                os.devnull, "tcptrail")
    if case == "tcptrail -q --metrics":
        return ([TCPTRAIL, "-q", "--metrics", "127.0.0.1:%d" % METRICS_PORT], os.devnull,
                "tcptrail")
    if case == "tcptrail text >/dev/null":
        return [TCPTRAIL], os.devnull, "tcptrail"
    if case == "tcptrail -o json >FILE":
        return [TCPTRAIL, "-o", "json"], path, "tcptrail"
    if case == "tcpstates >FILE":
        return [TCPSTATES], path, "tcpstates"
    raise ValueError(case)


class Scraper:
    """Scrapes the tracer's /metrics once a second while a --metrics case runs, as an
    aggressive Prometheus would: the churn pays for the scrapes too."""

    def __init__(self):
        self.stop_ev = threading.Event()
        self.times, self.errors = [], 0
        self.thread = threading.Thread(target=self.run)

    def start(self):
        self.thread.start()

    def run(self):
        while not self.stop_ev.wait(1.0):
            t0 = time.monotonic()
            try:
                with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % METRICS_PORT,
                                            timeout=10) as r:
                    r.read()
                self.times.append(time.monotonic() - t0)
            except OSError:
                self.errors += 1

    def stop(self):
        self.stop_ev.set()
        self.thread.join()
        return {"scrapes": len(self.times), "scrape_errors": self.errors,
                "scrape_ms": statistics.median(self.times) * 1000 if self.times else None}


def prog_ids():
    return {p.get("id") for p in bpftool_json("prog", "show")}


def one_run(case, workers, graceful=False, seconds=SECONDS, load=None):
    """One churn run (or one run of `load`, a function returning {"rate": ...}) under `case`;
    returns a dict, or {"na": reason}. A run during which another process had BPF programs on
    tracepoints, or loaded any BPF program, is run again (RETRIES times at most): the machine
    is shared with test suites that start tcptrail, whose hooks would slow the untraced runs
    too. "foreign" names what the last attempt still overlapped."""
    if load is None:
        load = lambda: run_churn(seconds, workers, graceful)
    for attempt in range(RETRIES + 1):
        r = one_attempt(case, load)
        if "na" in r or not r["foreign"] or attempt == RETRIES:
            return r
        log("%s: %d/s, overlapped other BPF activity (%s): running it again" % (
            case, r["rate"], ", ".join(r["foreign"])))
    return r


def one_attempt(case, load):
    others = set(wait_quiet())
    known = prog_ids()
    if case == "untraced":
        r = load()
        new = prog_ids() - known
        others |= set(foreign_tracers())
        if new:
            others.add("%d BPF program%s loaded" % (len(new), "s" if len(new) > 1 else ""))
        r["foreign"] = sorted(others)
        return r
    path = os.path.join(SCRATCH, "out.data")
    argv, stdout_path, kind = tracer_argv(case, path)
    try:
        t = Tracer(case, argv, stdout_path, kind)
    except RuntimeError as e:
        return {"na": str(e)}
    scraper = Scraper() if "--metrics" in case else None
    try:
        known |= own_prog_ids(t.proc.pid) if kind == "tcptrail" else set(attached_progs(
            t.proc.pid))
        if scraper:
            scraper.start()
        r = load()
        if scraper:
            r.update(scraper.stop())
        new = prog_ids() - known
        others |= set(foreign_tracers([t.proc.pid]))
        if new:
            others.add("%d BPF program%s loaded" % (len(new), "s" if len(new) > 1 else ""))
    finally:
        res = t.stop()
    r["foreign"] = sorted(others)
    r.update(res)
    if res.get("events"):
        r["cpu_per_m"] = res["cpu_s"] / res["events"] * 1e6
    for p in (path,):
        if os.path.exists(p):
            r["file_bytes"] = os.path.getsize(p)
            os.unlink(p)
    return r


def med(rows, key):
    vals = [r[key] for r in rows if r.get(key) is not None]
    return statistics.median(vals) if vals else None


def worker_counts():
    """Churn loops to run side by side: 1 (the issue's single loop, a CPU left for the tracer)
    and one per CPU (the machine saturated: every tracer cycle comes out of the churn)."""
    if os.environ.get("BENCH_WORKERS"):
        return [int(w) for w in os.environ["BENCH_WORKERS"].split(",")]
    return sorted({1, os.cpu_count() or 1})


def rate_suite(cases, workers, graceful, load=None, unit="conn/s", reps=REPS):
    """Untraced runs bracket every traced run (u A u B u ... u, REPS times, each round's order
    rotated by one): each traced run is compared with the mean of the untraced runs just before
    and just after it, so a machine whose speed drifts (a shared VM host) shifts both sides of a
    ratio alike."""
    rows = {c: [] for c in cases}
    traced = [c for c in cases if c != "untraced"]

    def run(c, rep):
        r = one_run(c, workers, graceful, load=load)
        if "na" in r:
            log("%s: n/a (%s)" % (c, r["na"]))
        else:
            log("rep %d %s%s: %d %s%s%s" % (
                rep + 1, c, " (graceful)" if graceful else "", r["rate"], unit,
                "" if "events" not in r else ", %s events, %s lost, %.2f s CPU" % (
                    r.get("events"), r.get("lost"), r["cpu_s"]),
                "" if not r.get("foreign") else ", overlapped " + ", ".join(r["foreign"])))
        return r

    before = run("untraced", 0)
    rows["untraced"].append(before)
    for rep in range(reps):
        # Each round starts one case later: a slot of the round that is slow (the second run
        # after a pause, say) falls on every case in turn, not always on the same one.
        for c in traced[rep % len(traced):] + traced[:rep % len(traced)]:
            if rows[c] and "na" in rows[c][0]:
                continue
            r = run(c, rep)
            after = run("untraced", rep)
            rows["untraced"].append(after)
            rows[c].append(r)
            if "rate" in r:
                r["ratio"] = r["rate"] / ((before["rate"] + after["rate"]) / 2)
            before = after
    return rows


def fmt_num(v, fmt="%.0f"):
    return "n/a" if v is None else fmt % v


def rate_table(title, rows, untraced_key="untraced", unit="conn/s"):
    """unit other than conn/s: a workload without state changes, whose few events make CPU per
    event meaningless; the tracer's CPU per run is shown instead."""
    per_run = unit != "conn/s"
    out = ["### " + title, "",
           "| case | " + unit + " (median) | min-max | vs untraced (median of per-run ratios; untraced runs before and after each) "
           "| events/run | lost (max) "
           + ("| tracer CPU s per run (user+sys, start-up included) |" if per_run else
              "| tracer CPU s per 1M events (user+sys; = us/event) |"),
           "|---|---:|---:|---:|---:|---:|---:|"]
    notes = []
    for c, rs in rows.items():
        if not rs or "na" in rs[0]:
            reason = rs[0]["na"] if rs else "not run"
            out.append("| %s | n/a | | | | | |" % c)
            notes.append("n/a: %s: %s" % (c, reason.replace("|", "/").strip()[-200:]))
            continue
        rate = med(rs, "rate")
        rates = [r["rate"] for r in rs]
        lost = [r["lost"] for r in rs if r.get("lost") is not None]
        out.append("| %s | %s | %d-%d | %s | %s | %s | %s |" % (
            c, fmt_num(rate), min(rates), max(rates),
            "" if c == untraced_key else fmt_num(med(rs, "ratio"), "%.2f"),
            "" if c == untraced_key else fmt_num(med(rs, "events")),
            "" if not lost else max(lost),
            "" if c == untraced_key else
            fmt_num(med(rs, "cpu_s" if per_run else "cpu_per_m"), "%.2f")))
    for c, rs in rows.items():
        sc = [r for r in rs if "scrapes" in r]
        if sc:
            notes.append("%s: scraped once a second meanwhile: %d scrapes, %d failed, median %s "
                         "ms per scrape." % (c, sum(r["scrapes"] for r in sc),
                                             sum(r["scrape_errors"] for r in sc),
                                             fmt_num(med(sc, "scrape_ms"), "%.1f")))
    overlapped = [r for rs in rows.values() for r in rs if r.get("foreign")]
    if overlapped:
        who = sorted({p for r in overlapped for p in r["foreign"]})
        notes.append("%d of %d runs overlapped other processes' BPF tracers or program loads "
                     "after %d retries (%s): their rates are suspect." % (
                         len(overlapped), sum(len(rs) for rs in rows.values()), RETRIES,
                         ", ".join(who)))
    if notes:
        out += [""] + notes
    return out


def prog_stats(pid):
    ids = set(attached_progs(pid))
    progs = [p for p in bpftool_json("prog", "show") if p.get("id") in ids]
    return {p.get("name", "?"): (p.get("run_time_ns", 0), p.get("run_cnt", 0)) for p in progs}


BPF_NR = {"x86_64": 321, "aarch64": 280, "riscv64": 280, "s390x": 351, "ppc64le": 361}
BPF_ENABLE_STATS = 32
STATS_SYSCTL = "/proc/sys/kernel/bpf_stats_enabled"


class BpfStats:
    """BPF run-time stats (run_cnt, run_time_ns of every program) on while entered.
    bpf(BPF_ENABLE_STATS) (Linux 5.8) counts its enablers: closing the fd turns off only what
    this process turned on, so another user of kernel.bpf_stats_enabled (a second bench or a
    developer's sysctl on this shared VM) is neither undone by us nor undoes us, which saving and
    restoring the sysctl cannot promise when two of them interleave. Fallback: the sysctl, set to
    1 and restored to what was read."""

    def __enter__(self):
        self.fd, self.saved = -1, None
        nr = BPF_NR.get(os.uname().machine)
        if nr:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.syscall.restype = ctypes.c_long
            attr = ctypes.create_string_buffer(8)  # enable_stats.type = BPF_STATS_RUN_TIME (0)
            self.fd = libc.syscall(ctypes.c_long(nr), ctypes.c_int(BPF_ENABLE_STATS), attr,
                                   ctypes.c_uint(len(attr)))
        if self.fd < 0:
            with open(STATS_SYSCTL) as f:
                self.saved = f.read().strip()
            with open(STATS_SYSCTL, "w") as f:
                f.write("1")
        return self

    def __exit__(self, *exc):
        if self.fd >= 0:
            os.close(self.fd)
        else:
            with open(STATS_SYSCTL, "w") as f:
                f.write(self.saved)
        return False


ANY_SUFFIX = ", listener on 0.0.0.0"


def kernel_cost(workers):
    """ns per run of each tracer's programs, with kernel.bpf_stats_enabled only meanwhile. The
    churn's listener is on 127.0.0.1; the ANY_SUFFIX row's on the wildcard address, as most
    servers listen (a child's listener is looked up by its own address first)."""
    cases = ["tcptrail -q -w FILE", "tcptrail -q -w FILE" + ANY_SUFFIX,
             "tcptrail text >/dev/null", "tcpstates >FILE"]
    if os.environ.get("BENCH_CASES"):
        cases = [c for c in cases if c.replace(ANY_SUFFIX, "") in
                 os.environ["BENCH_CASES"].split(",")]
    res = {c: [] for c in cases}
    path = os.path.join(SCRATCH, "out.data")
    for rep in range(REPS):
        for c in cases:
            argv, stdout_path, kind = tracer_argv(c.replace(ANY_SUFFIX, ""), path)
            try:
                t = Tracer(c, argv, stdout_path, kind)
            except RuntimeError as e:
                res[c] = [{"na": str(e)}]
                continue
            try:
                with BpfStats():
                    before = prog_stats(t.proc.pid)
                    run_churn(min(SECONDS, 5), workers, any_addr=c.endswith(ANY_SUFFIX))
                    after = prog_stats(t.proc.pid)
            finally:
                t.stop()
                if os.path.exists(path):
                    os.unlink(path)
            d = {n: (after[n][0] - before.get(n, (0, 0))[0],
                     after[n][1] - before.get(n, (0, 0))[1]) for n in after}
            main = next((n for n in d if n.startswith("handle_set_stat")), None)
            if not main or not d[main][1]:
                res[c].append({"na": "no runs of the state program"})
                continue
            total_ns = sum(v[0] for v in d.values())
            res[c].append({"ns_per_run": d[main][0] / d[main][1],
                           "ns_per_event_all": total_ns / d[main][1],
                           "runs": d[main][1]})
            log("kernel cost %s: %.0f ns/run (all programs %.0f ns per state event)" % (
                c, res[c][-1]["ns_per_run"], res[c][-1]["ns_per_event_all"]))
    out = ["### In-kernel cost per event (BPF run-time stats, bpftool prog show)", "",
           "| tracer | inet_sock_set_state program ns/run | all its programs, ns per state event "
           "| runs per measurement |", "|---|---:|---:|---:|"]
    for c, rs in res.items():
        if not rs or "na" in rs[0]:
            out.append("| %s | n/a | n/a | |" % c)
            continue
        out.append("| %s | %.0f | %.0f | %.0f |" % (c, med(rs, "ns_per_run"),
                                                    med(rs, "ns_per_event_all"),
                                                    med(rs, "runs")))
    return out


def rss_check(workers):
    """VmRSS (and its anonymous part) of the tracer every million events of churn, up to
    RSS_EVENTS: flat means no growth from one million to the next."""
    path = os.path.join(SCRATCH, "rss.data")
    case = "tcptrail -q -w FILE"
    argv, stdout_path, kind = tracer_argv(case, path)
    try:
        t = Tracer(case, argv, stdout_path, kind)
    except RuntimeError:
        case = "tcptrail text >/dev/null"
        argv, stdout_path, kind = tracer_argv(case, path)
        t = Tracer(case, argv, stdout_path, kind)
    samples = []
    start = (t.vmrss_kb(), t.vmrss_kb("RssAnon"))
    limit = RSS_EVENTS / EVENTS_PER_CONN / 20000 + 60  # generous: even at 20k conn/s
    ch = subprocess.Popen(churn_cmd(limit, workers, progress=True), stdout=subprocess.PIPE,
                          text=True, start_new_session=True)
    step = 1000000
    mark = step
    try:
        for line in ch.stdout:
            m = re.match(r"progress ([\d.]+) (\d+)", line)
            if not m:
                continue
            ev = int(m.group(2)) * EVENTS_PER_CONN
            if ev >= mark:
                samples.append((mark, t.vmrss_kb(), t.vmrss_kb("RssAnon")))
                mark += step
            if mark > RSS_EVENTS:
                break
    finally:
        os.killpg(ch.pid, signal.SIGTERM)
        ch.wait()
        res = t.stop()
        if os.path.exists(path):
            os.unlink(path)
    cols = ["start"] + ["%gM" % (m / 1e6) for m, _, _ in samples]
    cells = ["%d (%d)" % start] + ["%d (%d)" % (r, a) for _, r, a in samples]
    out = ["### Memory (%s, %d worker%s): VmRSS (RssAnon) in KiB after N events" % (
               case, workers, "s" if workers > 1 else ""), "",
           "| " + " | ".join(cols) + " | max RSS | events | lost |",
           "|" + "---:|" * (len(cols) + 3),
           "| " + " | ".join(cells) + " | %d | %s | %s |" % (
               res["maxrss_kb"], res.get("events"), res.get("lost")),
           "",
           "RssAnon is the tracer's heap (output buffers); the rest of VmRSS is mostly the ring "
           "buffer's shared pages, mapped twice."]
    log("rss: start %s, samples %s, maxrss %d KiB" % (start, samples, res["maxrss_kb"]))
    return out


def fmt_cost():
    """Userspace formatting alone (tests/bench/fmtbench.c), median of REPS runs."""
    exe = os.path.join(ROOT, ".output", "bench", "fmtbench")
    if not os.access(exe, os.X_OK):
        return []
    res = {}
    for _ in range(max(REPS, 3)):
        out = subprocess.run([exe, "3000000"], stdout=subprocess.PIPE, text=True).stdout
        for m in re.finditer(r"(\w+) ns_per_event=([\d.]+) bytes_per_event=([\d.]+)", out):
            res.setdefault(m.group(1), []).append((float(m.group(2)), float(m.group(3))))
    out = ["### Userspace formatting alone (fmtbench: churn-like events into the output buffer)",
           "", "| format | ns/event | bytes/event |", "|---|---:|---:|"]
    for k, v in res.items():
        out.append("| %s | %.0f | %.0f |" % (k, statistics.median(x[0] for x in v), v[0][1]))
    return out


def own_prog_ids(pid):
    """IDs of every BPF program process pid holds: its program fds and the programs of its link
    fds (attached or not, so iterators and programs added later are listed too)."""
    ids = set()
    fddir = "/proc/%d/fd" % pid
    for fd in os.listdir(fddir):
        try:
            target = os.readlink(os.path.join(fddir, fd))
            if target not in ("anon_inode:bpf-prog", "anon_inode:bpf_link"):
                continue
            with open("/proc/%d/fdinfo/%s" % (pid, fd)) as f:
                m = re.search(r"^prog_id:\s*(\d+)", f.read(), re.M)
        except OSError:
            continue
        if m:
            ids.add(int(m.group(1)))
    return ids


def all_prog_stats(ids):
    """{id: (name, run_time_ns, run_cnt)} for the programs ids (bpftool omits zero counters)."""
    return {p["id"]: (p.get("name", "?"), p.get("run_time_ns", 0), p.get("run_cnt", 0))
            for p in bpftool_json("prog", "show") if p.get("id") in ids}


def pingpong_kernel_cost(cases, load=run_pingpong, what="Ping-pong"):
    """ns per run of every program tcptrail loads during ping-pong (load), with BPF run-time
    stats on only meanwhile (their own timing, two clock reads per run, is in every number).
    Separate runs from the rate suite so that the stats' cost does not bias its ratios."""
    path = os.path.join(SCRATCH, "out.data")
    per = {c: {} for c in cases}   # case -> name -> [(ns_per_run, runs_per_trip)]
    tot = {c: [] for c in cases}   # case -> [(bpf ns per round trip, rate)]
    notes = []
    for rep in range(PP_REPS):
        for c in cases:
            argv, stdout_path, kind = tracer_argv(c, path)
            others = wait_quiet()
            try:
                t = Tracer(c, argv, stdout_path, kind)
            except RuntimeError as e:
                notes.append("n/a: %s: %s" % (c, str(e).strip()[-200:]))
                continue
            try:
                ids = own_prog_ids(t.proc.pid)
                with BpfStats():
                    before = all_prog_stats(ids)
                    r = load()
                    after = all_prog_stats(ids)
                others += foreign_tracers([t.proc.pid])
            finally:
                t.stop()
                if os.path.exists(path):
                    os.unlink(path)
            total_ns = 0
            for i, (name, ns, cnt) in sorted(after.items(), key=lambda kv: kv[1][0]):
                dns = ns - before.get(i, (name, 0, 0))[1]
                dcnt = cnt - before.get(i, (name, 0, 0))[2]
                total_ns += dns
                per[c].setdefault(name, []).append(
                    (dns / dcnt if dcnt else None, dcnt / r["all_trips"]))
            tot[c].append((total_ns / r["all_trips"], r["rate"]))
            if others:
                notes.append("%s rep %d overlapped other BPF tracers: %s" % (
                    c, rep + 1, ", ".join(sorted(set(others)))))
            log("%s kernel cost %s: %s; %.0f ns of BPF per round trip at %d/s" % (
                what, c, ", ".join("%s %s ns/run x %.2f/trip" % (
                    n, "-" if v[-1][0] is None else "%.0f" % v[-1][0], v[-1][1])
                    for n, v in per[c].items()), tot[c][-1][0], r["rate"]))
    out = ["### %s: in-kernel cost of each tcptrail program (BPF run-time stats, "
           "median of %d runs)" % (what, PP_REPS), "",
           "| tracer | program | ns/run | runs per round trip | ns per round trip |",
           "|---|---|---:|---:|---:|"]
    for c in cases:
        for name, vals in per[c].items():
            ns = [v[0] for v in vals if v[0] is not None]
            rpt = statistics.median(v[1] for v in vals)
            out.append("| %s | %s | %s | %s | %s |" % (
                c, name, "%.0f" % statistics.median(ns) if ns else "no runs",
                "%.2f" % rpt if rpt >= 0.01 or not rpt else "<0.01",
                "%.0f" % (statistics.median(ns) * rpt) if ns else "0"))
        if tot[c]:
            out.append("| %s | **all programs** | | | %.0f (at %.0f round trips/s with stats on) |"
                       % (c, statistics.median(v[0] for v in tot[c]),
                          statistics.median(v[1] for v in tot[c])))
    if notes:
        out += [""] + notes
    return out


def pingpong_section():
    """Issue 10: 1-byte ping-pong on PP_PAIRS established loopback connections (TCP_NODELAY),
    untraced runs bracketing traced ones, then the per-program kernel cost."""
    cases = with_b(["untraced", "tcptrail -q -w FILE", "tcptrail text >/dev/null"])
    rows = rate_suite(cases, PP_PAIRS, False, load=run_pingpong, unit="round trips/s",
                      reps=PP_REPS)
    out = rate_table("Ping-pong: 1-byte request/response, %d established loopback connection%s "
                     "(TCP_NODELAY, a client and a server process each), %g s runs" % (
                         PP_PAIRS, "s" if PP_PAIRS > 1 else "", PP_SECONDS),
                     rows, unit="round trips/s")
    out += ["", "Issue 10's bar: tcptrail keeps at least 0.90 of the untraced round-trip rate."]
    if "kernel" not in SKIP or "pingpong" in ONLY:
        out += [""] + pingpong_kernel_cost(cases[1:])
    return out


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def main():
    need = [TCPTRAIL]
    if set(SECTIONS) - {"pingpong", "fmt"} - SKIP:
        need.append(CHURN)
    if "pingpong" not in SKIP or "syscalls" not in SKIP:
        need.append(PINGPONG)
    if "syscalls" not in SKIP:
        need.append(GETPPID)
    for p in need:
        if not os.access(p, os.X_OK):
            sys.exit("bench: %s missing: run make bench" % p)
    if "churn" not in SKIP and not os.environ.get("BENCH_TCPTRAIL_DISPATCH"):
        # The churn's reference case, a measurement build of this tree (as transitions.sh's).
        if subprocess.run(["make", "-s", "-C", ROOT, "OUTPUT=.output/dispatch",
                           "BIN=" + TCPTRAIL_DISPATCH, "BPF_EXTRA_CFLAGS=-DTT_DISPATCH_ONLY",
                           TCPTRAIL_DISPATCH], stdout=sys.stderr).returncode:
            sys.exit("bench: the reference build (BPF_EXTRA_CFLAGS=-DTT_DISPATCH_ONLY) failed")
    os.makedirs(SCRATCH, exist_ok=True)
    load0 = loadavg()
    lines = ["## tcptrail benchmarks", "",
             "%s, %d CPUs, kernel %s; churn %g s per run, %d runs per case (median)." % (
                 time.strftime("%Y-%m-%d %H:%M"), os.cpu_count(), os.uname().release,
                 SECONDS, REPS)]
    if ONLY:
        lines[-1] = "%s, %d CPUs, kernel %s; sections: %s." % (
            time.strftime("%Y-%m-%d %H:%M"), os.cpu_count(), os.uname().release,
            ",".join(s for s in SECTIONS if s not in SKIP))
    counts = worker_counts()
    if "churn" not in SKIP:
        lines.append("Churn workers: %s (each a connect/accept/close loop in one process)%s." % (
            " and ".join(str(w) for w in counts),
            "; a single loop runs on CPU %s" % churn_cpu(1) if churn_cpu(1) else ""))
    lines.append("")
    cases = ["untraced", "tcptrail -q -w FILE", "tcptrail -q -w FILE --metrics",
             "tcptrail -q --metrics", "tcptrail text >/dev/null", "tcptrail -o json >FILE",
             "tcpstates >FILE"]
    if os.environ.get("BENCH_CASES"):
        cases = ["untraced"] + [c for c in cases if c in os.environ["BENCH_CASES"].split(",")]
    cases = with_b(cases)
    if "churn" not in SKIP:
        cases.append(DISPATCH_CASE)
    for workers in (counts if "churn" not in SKIP else []):
        rows = rate_suite(cases, workers, graceful=False)
        lines += rate_table("Connection churn, reset close (SO_LINGER 0, 6 events per "
                            "connection), %d worker%s" % (workers, "s" if workers > 1 else ""),
                            rows)
        lines.append("")
    if "graceful" not in SKIP:
        grows = rate_suite(["untraced", "tcptrail -q -w FILE", "tcptrail text >/dev/null",
                            "tcpstates >FILE"], counts[0], graceful=True)
        lines += rate_table("Connection churn, graceful close (bound by TIME_WAIT and ports), "
                            "%d worker%s" % (counts[0], "s" if counts[0] > 1 else ""), grows)
        lines.append("")
    if "pingpong" not in SKIP:
        lines += pingpong_section()
        lines.append("")
    if "syscalls" not in SKIP:
        lines += syscalls_section()
        lines.append("")
    if "kernel" not in SKIP:
        lines += kernel_cost(counts[0])
        lines.append("")
    if "rss" not in SKIP:
        lines += rss_check(counts[-1])
        lines.append("")
    if "fmt" not in SKIP:
        lines += fmt_cost()
        lines.append("")
    lines.append("Load average at the start: %s; at the end: %s." % (load0, loadavg()))
    lines.append("")
    text = "\n".join(lines)
    print(text, flush=True)
    if os.environ.get("BENCH_OUT"):
        with open(os.environ["BENCH_OUT"], "w") as f:
            f.write(text + "\n")
    shutil.rmtree(SCRATCH, ignore_errors=True)


if __name__ == "__main__":
    main()
