#!/bin/sh
# Where the state handler's time goes: BPF ns per transition under connection churn, from a
# measurement build (BPF_EXTRA_CFLAGS=-DTT_TRANSITION_COST: set_state() timed per transition,
# the sums in a map). The two clock reads that time a run are in every number (~25-30 ns here),
# and the program's dispatch is not: compare builds with each other, not with bpf_stats.
#
#   sh tests/bench/transitions.sh [BIN...]
#
# With no BIN, builds this tree's measurement binary (.output/transitions/tcptrail). Several
# BINs (measurement builds of other trees) run in turn, TRANSITIONS_ROUNDS times (3), each for
# BENCH_SECONDS of churn (5, one worker on CPU 0, reset close); the table shows medians per
# binary, and each run's figure goes to stderr.
# Root: it loads BPF programs and makes a network namespace.
cd "$(dirname "$0")/../.." || exit 1
if [ "$(id -u)" -ne 0 ]; then
	echo "transitions: loads BPF programs and makes a network namespace: run as root" >&2
	exit 1
fi
if [ $# -eq 0 ]; then
	make -s OUTPUT=.output/transitions BIN=.output/transitions/tcptrail \
		BPF_EXTRA_CFLAGS=-DTT_TRANSITION_COST .output/transitions/tcptrail >&2 || exit 1
	set -- .output/transitions/tcptrail
fi
make -s .output/bench/churn >&2 || exit 1
exec python3 - "$@" <<'PY'
import json, os, statistics, subprocess, sys, time

STATES = ["?", "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2", "TIME_WAIT",
          "CLOSE", "CLOSE_WAIT", "LAST_ACK", "LISTEN", "CLOSING", "NEW_SYN_RECV"]
CONNECT = (2 << 4) | 7  # CLOSE -> SYN_SENT (key: new << 4 | old): one per connection
secs = os.environ.get("BENCH_SECONDS", "5")
rounds = int(os.environ.get("TRANSITIONS_ROUNDS", "3"))
scratch = os.environ.get("BENCH_DIR", "/var/tmp/tcptrail-bench")
os.makedirs(scratch, exist_ok=True)
err_path = os.path.join(scratch, "transitions.err")


def num(b):
    return int.from_bytes(bytes(int(x, 16) for x in b), "little")


def map_ids(pid):
    ids = set()
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            if os.readlink("/proc/%d/fd/%s" % (pid, fd)) != "anon_inode:bpf-map":
                continue
            with open("/proc/%d/fdinfo/%s" % (pid, fd)) as f:
                for line in f:
                    if line.startswith("map_id:"):
                        ids.add(int(line.split()[1]))
        except OSError:
            pass
    return ids


def one_run(binary):
    with open(err_path, "w") as err:
        p = subprocess.Popen([binary], stderr=err, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while "Tracing" not in open(err_path).read():
        if p.poll() is not None or time.monotonic() > deadline:
            p.kill()
            sys.exit("transitions: %s did not start: %s" % (binary, open(err_path).read()[-300:]))
        time.sleep(0.05)
    mid = None
    for i in map_ids(p.pid):
        info = json.loads(subprocess.run(["bpftool", "-j", "map", "show", "id", str(i)],
                                         capture_output=True, text=True).stdout or "{}")
        if info.get("name") == "transition_cost":
            mid = i
    if mid is None:
        p.terminate()
        p.wait()
        sys.exit("transitions: %s is not a measurement build (no transition_cost map): "
                 "build it with BPF_EXTRA_CFLAGS=-DTT_TRANSITION_COST" % binary)
    # On one CPU (BENCH_CHURN_CPU, as make bench): the scheduler's moves of the loop between
    # CPUs were most of the spread.
    cpu = os.environ.get("BENCH_CHURN_CPU", "0")
    pin = "taskset -c %s " % cpu if cpu and (os.cpu_count() or 1) > 1 else ""
    subprocess.run(["unshare", "-n", "sh", "-c", "ip link set lo up; exec %s.output/bench/churn "
                    "-s %s" % (pin, secs)], check=True, stdout=subprocess.DEVNULL)
    dump = json.loads(subprocess.run(["bpftool", "-j", "map", "dump", "id", str(mid)],
                                     capture_output=True, text=True).stdout)
    p.send_signal(2)
    p.wait()
    out, ns_all, runs_all = {}, 0, 0
    for e in dump:
        key = num(e["key"])
        ns = sum(num(v["value"][:8]) for v in e["values"])
        runs = sum(num(v["value"][8:16]) for v in e["values"])
        ns_all += ns
        runs_all += runs
        if runs:
            out[key] = (ns, runs)
    out["all"] = (ns_all, runs_all)
    return out


results = {b: [] for b in sys.argv[1:]}
for r in range(rounds):
    for b in sys.argv[1:]:
        res = one_run(b)
        results[b].append(res)
        # Each run's figure too, on stderr: the spread tells whether a difference is real.
        print("transitions: round %d %s: all %.1f ns" % (r + 1, b, res["all"][0] / max(
            res["all"][1], 1)), file=sys.stderr, flush=True)
print("### BPF ns per transition under churn (%s s, 1 worker, reset close; median of %d runs; "
      "each includes its own timing, ~25-30 ns)" % (secs, rounds))
print()
print("| build | transition | runs per connection | ns per run |")
print("|---|---|---:|---:|")
for b, runs in results.items():
    keys = sorted({k for r in runs for k in r if k != "all" and r[k][1] * 100 > r["all"][1]})
    conns = statistics.median(r.get(CONNECT, (0, 1))[1] for r in runs) or 1
    for k in keys + ["all"]:
        name = "all" if k == "all" else "%s -> %s" % (STATES[k & 15], STATES[k >> 4])
        per = statistics.median(r[k][0] / r[k][1] for r in runs if k in r and r[k][1])
        cnt = statistics.median(r[k][1] for r in runs if k in r)
        print("| %s | %s | %.2f | %.0f |" % (b, name, cnt / conns, per))
PY
