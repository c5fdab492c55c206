"""tcptrail benchmarks (issue 6), run by tests/bench/run.sh as root.

Every case runs the churn generator (tests/bench/churn.c) in a fresh private network namespace
on 127.0.0.1 for BENCH_SECONDS, untraced or with a tracer attached, BENCH_REPS times, with an
untraced run between any two traced runs (each traced run is compared with the mean of its two
neighbours), and reports medians. Environment knobs:
  BENCH_SECONDS (10)  BENCH_REPS (3)  BENCH_WORKERS (comma list; default 1 and one per CPU)
  BENCH_RSS_EVENTS (10000000)  BENCH_DIR (scratch files, /var/tmp/tcptrail-bench)
  BENCH_OUT (markdown table written here too)  BENCH_SKIP (comma list: graceful,kernel,rss,fmt)
  BENCH_CASES (comma list of reset-close cases to run)  BENCH_TCPTRAIL (binary to measure)
"""
import json
import os
import re
import shutil
import signal
import statistics
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
EVENTS_PER_CONN = 6  # reset close: SYN_SENT, ESTABLISHED, CLOSE x client and server child
BASE_PORT = 20000    # never 2024


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


def churn_cmd(seconds, workers, graceful=False, progress=False):
    args = [CHURN, "-s", str(seconds), "-w", str(workers), "-p", str(BASE_PORT)]
    if graceful:
        args.append("--graceful")
    if progress:
        args.append("--progress")
    inner = "ip link set lo up && exec " + " ".join(args)
    return ["unshare", "-n", "sh", "-c", inner]


def parse_churn(out):
    m = re.search(r"connections=(\d+) seconds=([\d.]+) rate=(\d+)", out)
    if not m:
        raise RuntimeError("churn printed no result: " + out)
    return {"conns": int(m.group(1)), "seconds": float(m.group(2)), "rate": int(m.group(3))}


def run_churn(seconds, workers, graceful=False):
    p = subprocess.run(churn_cmd(seconds, workers, graceful), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True)
    if p.returncode:
        raise RuntimeError("churn failed: " + p.stderr.strip())
    return parse_churn(p.stdout)


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


def tracer_argv(case, path):
    """argv and stdout file of a case; path is the case's scratch output file."""
    if case == "tcptrail -q -w FILE":
        return [TCPTRAIL, "-q", "-w", path], os.devnull, "tcptrail"
    if case == "tcptrail text >/dev/null":
        return [TCPTRAIL], os.devnull, "tcptrail"
    if case == "tcptrail -o json >FILE":
        return [TCPTRAIL, "-o", "json"], path, "tcptrail"
    if case == "tcpstates >FILE":
        return [TCPSTATES], path, "tcpstates"
    raise ValueError(case)


def one_run(case, workers, graceful=False, seconds=SECONDS):
    """One churn run under `case`; returns a dict, or {"na": reason}."""
    if case == "untraced":
        return run_churn(seconds, workers, graceful)
    path = os.path.join(SCRATCH, "out.data")
    argv, stdout_path, kind = tracer_argv(case, path)
    try:
        t = Tracer(case, argv, stdout_path, kind)
    except RuntimeError as e:
        return {"na": str(e)}
    try:
        r = run_churn(seconds, workers, graceful)
    finally:
        res = t.stop()
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


def rate_suite(cases, workers, graceful):
    """Untraced runs bracket every traced run (u A u B u ... u, REPS times): each traced run is
    compared with the mean of the untraced runs just before and just after it, so a machine
    whose speed drifts (a shared VM host) shifts both sides of a ratio alike."""
    rows = {c: [] for c in cases}
    traced = [c for c in cases if c != "untraced"]

    def run(c, rep):
        r = one_run(c, workers, graceful)
        if "na" in r:
            log("%s: n/a (%s)" % (c, r["na"]))
        else:
            log("rep %d %s%s: %d conn/s%s" % (
                rep + 1, c, " (graceful)" if graceful else "", r["rate"],
                "" if "events" not in r else ", %s events, %s lost, %.2f s CPU" % (
                    r.get("events"), r.get("lost"), r["cpu_s"])))
        return r

    before = run("untraced", 0)
    rows["untraced"].append(before)
    for rep in range(REPS):
        for c in traced:
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


def rate_table(title, rows, untraced_key="untraced"):
    out = ["### " + title, "",
           "| case | conn/s (median) | min-max | vs untraced (median of per-run ratios; untraced runs before and after each) "
           "| events/run | lost (max) "
           "| tracer CPU s per 1M events (user+sys; = us/event) |",
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
            fmt_num(med(rs, "cpu_per_m"), "%.2f") if c != untraced_key else ""))
    if notes:
        out += [""] + notes
    return out


def prog_stats(pid):
    ids = set(attached_progs(pid))
    progs = [p for p in bpftool_json("prog", "show") if p.get("id") in ids]
    return {p.get("name", "?"): (p.get("run_time_ns", 0), p.get("run_cnt", 0)) for p in progs}


def kernel_cost(workers):
    """ns per run of each tracer's programs, with kernel.bpf_stats_enabled only meanwhile."""
    cases = ["tcptrail -q -w FILE", "tcptrail text >/dev/null", "tcpstates >FILE"]
    if os.environ.get("BENCH_CASES"):
        cases = [c for c in cases if c in os.environ["BENCH_CASES"].split(",")]
    res = {c: [] for c in cases}
    path = os.path.join(SCRATCH, "out.data")
    with open("/proc/sys/kernel/bpf_stats_enabled") as f:
        saved = f.read().strip()
    try:
        for rep in range(REPS):
            for c in cases:
                argv, stdout_path, kind = tracer_argv(c, path)
                try:
                    t = Tracer(c, argv, stdout_path, kind)
                except RuntimeError as e:
                    res[c] = [{"na": str(e)}]
                    continue
                try:
                    with open("/proc/sys/kernel/bpf_stats_enabled", "w") as f:
                        f.write("1")
                    before = prog_stats(t.proc.pid)
                    run_churn(min(SECONDS, 5), workers)
                    after = prog_stats(t.proc.pid)
                finally:
                    with open("/proc/sys/kernel/bpf_stats_enabled", "w") as f:
                        f.write(saved)
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
    finally:
        with open("/proc/sys/kernel/bpf_stats_enabled", "w") as f:
            f.write(saved)
    out = ["### In-kernel cost per event (kernel.bpf_stats_enabled, bpftool prog show)", "",
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


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def main():
    for p in (TCPTRAIL, CHURN):
        if not os.access(p, os.X_OK):
            sys.exit("bench: %s missing: run make bench" % p)
    os.makedirs(SCRATCH, exist_ok=True)
    load0 = loadavg()
    lines = ["## tcptrail benchmarks", "",
             "%s, %d CPUs, kernel %s; churn %g s per run, %d runs per case (median)." % (
                 time.strftime("%Y-%m-%d %H:%M"), os.cpu_count(), os.uname().release,
                 SECONDS, REPS)]
    counts = worker_counts()
    lines.append("Churn workers: %s (each a connect/accept/close loop in one process)." %
                 " and ".join(str(w) for w in counts))
    lines.append("")
    cases = ["untraced", "tcptrail -q -w FILE", "tcptrail text >/dev/null",
             "tcptrail -o json >FILE", "tcpstates >FILE"]
    if os.environ.get("BENCH_CASES"):
        cases = ["untraced"] + [c for c in cases if c in os.environ["BENCH_CASES"].split(",")]
    for workers in counts:
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
