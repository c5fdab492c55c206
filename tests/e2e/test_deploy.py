"""End-to-end: the fleet files in deploy/.

- The systemd unit passes `systemd-analyze verify` and keeps its hardening; its exposure score
  (`systemd-analyze security --offline`) stays in the OK band.
- The agent started with `setpriv` as exactly the unit's user with exactly its capabilities
  traces with owners, serves metrics and reports no namespace it could not see; with any one
  capability fewer it says what is missing (a load failure, or the capability named).
- The Kubernetes DaemonSet parses and asks for the same capabilities (drop ALL, add the list).
- The agent run as the unit runs it (its ExecStart, user, capabilities, no new privileges) and
  as the DaemonSet's container does (its args, root with only the added capabilities), each on
  a free port of the test's loopback, keeps answering scrapes, its liveness probe's path and `/`
  within a second under issue 22's attack (tests/e2e/abuse.py), with RSS under the unit's
  MemoryMax and the container's memory limit.
- The Prometheus rule file passes `promtool check rules`.
- logrotate (with deploy/tcptrail.logrotate, its own state file) rotates the live log under
  churn twice: the rotated files and the new one replay to exactly the tracer's event count.
"""
import gzip
import json
import os
import pwd
import re
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
import tt  # noqa: E402
import abuse  # noqa: E402

tt.enter_private_netns()
NETNS = tt.netns_inode()
DEPLOY = os.path.join(tt.ROOT, "deploy")
UNIT = os.path.join(DEPLOY, "tcptrail.service")


def unit_settings():
    """{key: [values]} of the unit's [Service] section."""
    out, section = {}, None
    with open(UNIT) as f:
        for line in f:
            line = line.strip()
            if line.startswith("["):
                section = line
            elif section == "[Service]" and "=" in line and not line.startswith("#"):
                k, v = line.split("=", 1)
                out.setdefault(k, []).append(v)
    return out


def unit_caps():
    caps = unit_settings()["AmbientCapabilities"][0].split()
    assert caps == unit_settings()["CapabilityBoundingSet"][0].split()
    return caps


def test_unit_verifies_and_is_hardened():
    s = unit_settings()
    for k, v in (("NoNewPrivileges", "yes"), ("ProtectSystem", "strict"), ("ProtectHome", "yes"),
                 ("PrivateTmp", "yes"), ("ReadWritePaths", "/var/log/tcptrail"),
                 ("UMask", "0077")):
        assert s.get(k) == [v], (k, s.get(k))
    assert s["User"] != ["root"] and "MemoryMax" in s and "RestrictAddressFamilies" in s
    assert "--metrics" in s["ExecStart"][0] and "-w /var/log/tcptrail/" in s["ExecStart"][0]
    # verify checks that ExecStart exists: point it at this build unless installed.
    work = tempfile.mkdtemp(prefix="tt-unit-")
    try:
        unit = os.path.join(work, "tcptrail.service")
        with open(UNIT) as f:
            text = f.read()
        if not os.access("/usr/local/sbin/tcptrail", os.X_OK):
            text = text.replace("/usr/local/sbin/tcptrail", tt.TCPTRAIL)
        with open(unit, "w") as f:
            f.write(text)
        p = subprocess.run(["systemd-analyze", "verify", "--man=no", unit],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert p.returncode == 0 and not p.stdout.strip(), p.stdout
        p = subprocess.run(["systemd-analyze", "security", "--offline=yes", "--no-pager", unit],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        m = re.search(r"Overall exposure level for tcptrail.service: ([\d.]+) (\w+)", p.stdout)
        assert m, p.stdout[-500:]
        print("   systemd-analyze security: %s %s" % (m.group(1), m.group(2)))
        assert float(m.group(1)) < 4.0, m.group(0)
    finally:
        shutil.rmtree(work)


def test_daemonset_matches_unit():
    import yaml
    with open(os.path.join(DEPLOY, "kubernetes", "daemonset.yaml")) as f:
        docs = [d for d in yaml.safe_load_all(f) if d]
    ds = [d for d in docs if d["kind"] == "DaemonSet"]
    assert len(ds) == 1, [d["kind"] for d in docs]
    spec = ds[0]["spec"]["template"]["spec"]
    meta = ds[0]["spec"]["template"]["metadata"]
    assert spec["hostPID"] is True
    assert {"operator": "Exists"} in spec["tolerations"]
    assert meta["annotations"]["prometheus.io/scrape"] == "true"
    (c,) = spec["containers"]
    sc = c["securityContext"]
    assert sc["capabilities"]["drop"] == ["ALL"]
    want = sorted(x[len("CAP_"):] for x in unit_caps())
    assert sorted(sc["capabilities"]["add"]) == want, (sc["capabilities"]["add"], want)
    assert sc.get("privileged") is False and sc["allowPrivilegeEscalation"] is False
    assert sc["readOnlyRootFilesystem"] is True
    assert meta["annotations"]["prometheus.io/port"] == str(c["ports"][0]["containerPort"])
    assert ":%s" % meta["annotations"]["prometheus.io/port"] in c["args"]
    for k in ("requests", "limits"):
        assert c["resources"][k]["memory"] and c["resources"][k]["cpu"], c["resources"]
    mounts = {m["mountPath"]: m for m in c["volumeMounts"]}
    assert mounts["/sys/fs/cgroup"]["readOnly"] is True
    assert not mounts["/var/log/tcptrail"].get("readOnly")
    assert "/var/log/tcptrail/events.jsonl" in c["args"]
    vols = {v["name"]: v for v in spec["volumes"]}
    assert vols[mounts["/var/log/tcptrail"]["name"]]["hostPath"]["path"] == "/var/log/tcptrail"
    # Every read-only mount the agent has is a hostPath it reads.
    for m in c["volumeMounts"]:
        assert "hostPath" in vols[m["name"]], m


def test_rules_check():
    p = subprocess.run(["promtool", "check", "rules",
                        os.path.join(DEPLOY, "prometheus", "tcptrail.rules.yml")],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert p.returncode == 0 and "SUCCESS" in p.stdout, p.stdout


def unit_user():
    """The unit's user, made (as a system user) when the machine has none (DynamicUser=yes
    would make one at start)."""
    name = unit_settings()["User"][0]
    try:
        pwd.getpwnam(name)
        return name, False
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell",
                        "/usr/sbin/nologin", name], check=True)
        return name, True


def run_agent(user, caps, work):
    """The agent as user with exactly caps for one connection; (exit code, stderr, events,
    metrics text or None)."""
    spec = ",".join(["-all"] + ["+" + c[len("CAP_"):].lower() for c in caps])
    port, mport = tt.free_port(), tt.free_port()
    log = os.path.join(work, "ev.jsonl")
    if os.path.exists(log):
        os.unlink(log)
    cmd = ["setpriv", "--reuid=" + user, "--regid=" + user, "--clear-groups",
           "--inh-caps=" + spec, "--ambient-caps=" + spec, "--bounding-set=" + spec,
           tt.TCPTRAIL, "-v", "-o", "json", "--netns", str(NETNS), "--port", str(port),
           "--stuck", "CLOSE_WAIT=1h", "--metrics", "127.0.0.1:%d" % mport, "-w", log]
    srv = socket.socket()
    srv.bind(("127.0.0.1", port))
    srv.listen(4)
    try:
        tracer = TracerCmd(cmd)
    except AssertionError as e:
        srv.close()
        return 1, str(e), [], None
    try:
        c = socket.create_connection(("127.0.0.1", port))
        a, _ = srv.accept()
        c.close()
        a.close()
        tracer.wait_events(lambda e: e.get("lport") == port and e["new"] == "CLOSE", 1,
                           what="the server's CLOSE")
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % mport, timeout=10) as r:
            text = r.read().decode()
    finally:
        srv.close()
        code, err = tracer.stop()
    return code, err, tracer.events(lambda e: e.get("type") == "state"), text


class TracerCmd(tt.Tracer):
    """tt.Tracer for a full command line (setpriv first)."""

    def __init__(self, cmd):
        saved = tt.TCPTRAIL
        tt.TCPTRAIL = cmd[0]
        try:
            super().__init__(*cmd[1:], json_output=False)
        finally:
            tt.TCPTRAIL = saved


def test_setpriv_unit_user_and_caps():
    user, made = unit_user()
    caps = unit_caps()
    work = tempfile.mkdtemp(prefix="tt-caps-")
    os.chown(work, pwd.getpwnam(user).pw_uid, pwd.getpwnam(user).pw_gid)
    try:
        code, err, events, text = run_agent(user, caps, work)
        assert code == 0, err
        assert "could not be" not in err and "CAP_" not in err, err
        # Owners: the test process holds both ends.
        mine = [e for e in events if e.get("pid") == os.getpid()]
        assert len(mine) >= 4 and all(e["comm"] for e in mine), events
        assert "tcptrail_transitions_total" in text and "tcptrail_build_info" in text
        assert os.stat(os.path.join(work, "ev.jsonl")).st_uid == pwd.getpwnam(user).pw_uid
        # One capability fewer: what is missing is said.
        for drop in caps:
            code, err, events, text = run_agent(user, [c for c in caps if c != drop], work)
            if drop == "CAP_SYS_ADMIN":
                # Without it nothing grants what BPF needs: the load fails, naming why.
                assert code == 1 and "CAP_BPF and CAP_PERFMON" in err, (drop, code, err)
            else:
                assert code == 0 and drop in err, (drop, code, err)
            print("   without %s: %s" % (drop, [l for l in err.splitlines()
                                                if "CAP_" in l][0][:150]))
    finally:
        shutil.rmtree(work)
        if made:
            subprocess.run(["userdel", user], check=False)


def daemonset_container():
    import yaml
    with open(os.path.join(DEPLOY, "kubernetes", "daemonset.yaml")) as f:
        docs = [d for d in yaml.safe_load_all(f) if d]
    (ds,) = [d for d in docs if d["kind"] == "DaemonSet"]
    (c,) = ds["spec"]["template"]["spec"]["containers"]
    return c


def mem_kib(q):
    """KiB of a systemd (512M) or Kubernetes (512Mi) memory size."""
    m = re.fullmatch(r"(\d+)(K|M|G|Ki|Mi|Gi)?", q)
    assert m, q
    return int(m.group(1)) * {None: 1.0 / 1024, "K": 1, "M": 1024, "G": 1 << 20,
                              "Ki": 1, "Mi": 1024, "Gi": 1 << 20}[m.group(2)]


def retarget(args, mport, log):
    """args with --metrics's port made mport (its address kept: every address, here only
    the test's loopback) and -w made log; the metrics port it had."""
    args = list(args)
    i = args.index("--metrics") + 1
    host, port = args[i].rsplit(":", 1)
    args[i] = "%s:%d" % (host, mport)
    args[args.index("-w") + 1] = log
    return args, int(port)


def setpriv(caps, user=None):
    """setpriv's arguments for exactly caps (user, or root), with no new privileges."""
    spec = ",".join(["-all"] + ["+" + c[len("CAP_"):].lower() for c in caps])
    who = ["--reuid=" + user, "--regid=" + user, "--clear-groups"] if user else []
    return ["setpriv"] + who + ["--inh-caps=" + spec, "--ambient-caps=" + spec,
                                "--bounding-set=" + spec, "--no-new-privs"]


def attack_agent(cmd, mport, probe, limit_kib):
    """Runs cmd (an agent serving --metrics on mport) under the attack: scrapes, the probe's
    path and / within a second each, RSS under limit_kib; it then stops cleanly."""
    helper = abuse.open_listeners(20000)
    attack = None
    try:
        tracer = TracerCmd(cmd)
        try:
            dt, status, _ = abuse.timed_get(mport, "/metrics", 20)
            assert status.endswith("200 OK"), status
            attack = abuse.Attack(mport)
            worst, rss = abuse.probe_under_attack(mport, tracer.proc.pid,
                                                  ("/metrics", probe, "/"))
            print("   under attack: %s (limit %d KiB)" % (abuse.report(worst, rss), limit_kib))
            assert rss < limit_kib, (rss, limit_kib)
        finally:
            if attack:
                attack.close()
            code, err = tracer.stop()
        assert code == 0, err
    finally:
        abuse.close_helper(helper)


def test_unit_under_metrics_abuse():
    s = unit_settings()
    user, made = unit_user()
    work = tempfile.mkdtemp(prefix="tt-unit-abuse-")
    os.chown(work, pwd.getpwnam(user).pw_uid, pwd.getpwnam(user).pw_gid)
    try:
        argv = shlex.split(s["ExecStart"][0])
        assert argv[0] == "/usr/local/sbin/tcptrail", argv
        mport = tt.free_port()
        args, _ = retarget(argv[1:], mport, os.path.join(work, "events.jsonl"))
        # The unit has no liveness probe: what a probe of it would ask is /healthz.
        attack_agent(setpriv(unit_caps(), user) + [tt.TCPTRAIL] + args, mport, "/healthz",
                     mem_kib(s["MemoryMax"][0]))
    finally:
        shutil.rmtree(work)
        if made:
            subprocess.run(["userdel", user], check=False)


def test_daemonset_under_metrics_abuse():
    c = daemonset_container()
    sc = c["securityContext"]
    assert sc["runAsUser"] == 0 and sc["capabilities"]["drop"] == ["ALL"]
    caps = ["CAP_" + x for x in sc["capabilities"]["add"]]
    assert sc["allowPrivilegeEscalation"] is False  # no_new_privs
    work = tempfile.mkdtemp(prefix="tt-ds-abuse-")
    try:
        mport = tt.free_port()
        args, port = retarget(c["args"], mport, os.path.join(work, "events.jsonl"))
        probe = c["livenessProbe"]["httpGet"]
        assert probe["port"] in (port, "metrics"), (probe, port)
        attack_agent(setpriv(caps) + [tt.TCPTRAIL] + args, mport, probe["path"],
                     mem_kib(c["resources"]["limits"]["memory"]))
    finally:
        shutil.rmtree(work)


def test_logrotate_under_churn():
    work = tempfile.mkdtemp(prefix="tt-logrotate-")
    log = os.path.join(work, "events.jsonl")
    state = os.path.join(work, "logrotate.state")
    tracer = tt.Tracer("-q", "-w", log, "--netns", str(NETNS), json_output=False)
    conf = os.path.join(work, "logrotate.conf")
    with open(os.path.join(DEPLOY, "tcptrail.logrotate")) as f:
        text = f.read()
    assert "/var/log/tcptrail/events.jsonl" in text and "copytruncate" in text
    assert re.search(r"postrotate\s+systemctl kill --kill-whom=main --signal=HUP", text)
    # Ours: this log, and SIGHUP to this tracer (the unit's main process there).
    text = text.replace("/var/log/tcptrail/events.jsonl", log)
    text = re.sub(r"systemctl kill [^\n]*", "kill -HUP %d" % tracer.proc.pid, text)
    with open(conf, "w") as f:
        f.write(text)
    stop = threading.Event()
    made = [0]
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(128)
    port = srv.getsockname()[1]

    def churn():
        while not stop.is_set() and made[0] < 20000:
            c = socket.create_connection(("127.0.0.1", port))
            a, _ = srv.accept()
            c.close()
            a.close()
            made[0] += 1

    t = threading.Thread(target=churn)
    t.start()
    try:
        for n in (1, 2):
            tt.wait_until(lambda: made[0] >= 300 * n, what="churn")
            p = subprocess.run(["logrotate", "-f", "-s", state, conf], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
            assert p.returncode == 0, p.stdout
            # The tracer reopened: a new file with its header at the path.
            tt.wait_until(lambda: os.path.exists(log) and os.path.getsize(log) > 0,
                          what="the reopened log")
        tt.wait_until(lambda: made[0] >= 900, what="churn after the rotations")
    finally:
        stop.set()
        t.join()
        srv.close()
        code, err = tracer.stop()
    assert code == 0, err
    events, lost = tt.summary_counts(err)
    files = sorted(os.listdir(work))
    # delaycompress: the newest rotated file stays plain, the older one is compressed.
    assert "events.jsonl.1" in files and "events.jsonl.2.gz" in files, files
    order = [os.path.join(work, f) for f in ("events.jsonl.2.gz", "events.jsonl.1",
                                             "events.jsonl")]
    p = subprocess.run([tt.TCPTRAIL, "replay", "-o", "json"] + order, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True)
    assert p.returncode == 0, p.stderr
    replayed = [json.loads(l) for l in p.stdout.splitlines() if l.startswith("{")]
    states = [r for r in replayed if r.get("type") == "state"]
    assert lost == 0 and len(states) == events, (len(states), events, lost)
    # Each file starts with its own header line.
    for path in order:
        opener = gzip.open if path.endswith(".gz") else open
        with opener(path, "rt") as f:
            assert json.loads(f.readline())["type"] == "header", path
    shutil.rmtree(work)


if __name__ == "__main__":
    tt.main([test_unit_verifies_and_is_hardened, test_daemonset_matches_unit, test_rules_check,
             test_setpriv_unit_user_and_caps, test_unit_under_metrics_abuse,
             test_daemonset_under_metrics_abuse, test_logrotate_under_churn])
