#!/usr/bin/env python3
# make image, then the image run as deploy/kubernetes/daemonset.yaml runs it: podman's options
# are derived from the manifest (host pid and network, the user, the capabilities dropped and
# added, no privilege escalation, the read-only root, the memory and CPU limits, its args and
# its hostPath mounts, the log's on a scratch directory), the metrics port moved to a free one.
# Checks that the image is named as the DaemonSet names it and is small, that the agent traces
# a connection of this test, serves /metrics and /healthz, writes the log (a replayable one,
# without a seq gap) and ends with its final line on SIGTERM. Root. Ends with one PASS, FAIL or
# SKIP line; the container and the test's image are removed whatever happens.
import json
import os
import re
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MANIFEST = os.path.join(ROOT, "deploy", "kubernetes", "daemonset.yaml")
TEST_IMAGE = "localhost/tcptrail-pkgtest"
NAME = "tcptrail-pkgtest-%d" % os.getpid()
failures = []


def say(*a):
    print("image:", *a, flush=True)


def check(ok, what):
    if not ok:
        failures.append(what)
        say("FAIL:", what)
    return ok


def skip(why):
    say("SKIP:", why)
    sys.exit(0)


def run(*cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url, timeout=2.0):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode()
    except OSError as e:
        return None, str(e)


def wait(cond, secs, what):
    end = time.time() + secs
    while time.time() < end:
        if cond():
            return True
        time.sleep(0.2)
    return check(False, "timed out waiting for " + what)


def daemonset():
    import yaml
    with open(MANIFEST) as f:
        for doc in yaml.safe_load_all(f):
            if doc and doc.get("kind") == "DaemonSet":
                return doc
    raise SystemExit("image: FAIL: no DaemonSet in " + MANIFEST)


def podman_args(ds, logdir, port):
    """podman run's options and the agent's args, as the manifest says."""
    spec = ds["spec"]["template"]["spec"]
    c = spec["containers"][0]
    sc = c.get("securityContext", {})
    opts = []
    if spec.get("hostPID"):
        opts += ["--pid", "host"]
    if spec.get("hostNetwork"):
        opts += ["--network", "host"]
    if "runAsUser" in sc:
        opts += ["--user", str(sc["runAsUser"])]
    if sc.get("privileged"):
        opts += ["--privileged"]
    if sc.get("allowPrivilegeEscalation") is False:
        opts += ["--security-opt", "no-new-privileges"]
    if sc.get("readOnlyRootFilesystem"):
        # Kubernetes puts no tmpfs anywhere; podman would on /tmp, /run, /var/tmp
        opts += ["--read-only", "--read-only-tmpfs=false"]
    caps = sc.get("capabilities", {})
    for d in caps.get("drop", []):
        opts += ["--cap-drop", d]
    if caps.get("add"):
        opts += ["--cap-add", ",".join(caps["add"])]
    # seccompProfile RuntimeDefault: podman's default profile, nothing to add
    lim = c.get("resources", {}).get("limits", {})
    if "memory" in lim:
        m = re.fullmatch(r"(\d+)Mi", lim["memory"])
        opts += ["--memory", "%dm" % int(m.group(1))]
    if "cpu" in lim:
        opts += ["--cpus", str(lim["cpu"])]
    vols = {v["name"]: v for v in spec.get("volumes", [])}
    for vm in c.get("volumeMounts", []):
        host = vols[vm["name"]]["hostPath"]["path"]
        if vm["mountPath"] == "/var/log/tcptrail":
            host = logdir  # the node's log directory: a scratch one here
        opts += ["-v", "%s:%s%s" % (host, vm["mountPath"], ":ro" if vm.get("readOnly") else "")]
    args = [str(a) for a in c.get("args", [])]
    mport = next(p["containerPort"] for p in c["ports"] if p["name"] == "metrics")
    args = [re.sub(r":%d$" % mport, ":%d" % port, a) for a in args]
    return c["image"], opts, args, c


def main():
    if os.geteuid() != 0:
        skip("needs root (podman runs the agent with the DaemonSet's capabilities)")
    if not shutil.which("podman"):
        skip("podman is missing (make deps installs it)")
    r = run("podman", "info", "--format", "json")
    if r.returncode:
        skip("podman cannot run here: " + (r.stderr.strip().splitlines() or ["?"])[-1])
    info = json.loads(r.stdout)
    try:
        import yaml  # noqa: F401
    except ImportError:
        skip("python3-yaml is missing (make deps installs it)")

    ds = daemonset()
    r = run("make", "-s", "--no-print-directory", "print-image", cwd=ROOT)
    ds_image = ds["spec"]["template"]["spec"]["containers"][0]["image"]
    check(r.stdout.strip() == ds_image,
          "the DaemonSet's image %s is not what make image tags (%s)" % (ds_image, r.stdout.strip()))
    version = r.stdout.strip().rsplit(":", 1)[1]
    image = "%s:%s" % (TEST_IMAGE, version)

    say("make image IMAGE=%s" % TEST_IMAGE)
    r = run("make", "--no-print-directory", "image", "IMAGE=" + TEST_IMAGE, cwd=ROOT)
    print(r.stdout, end="")
    if r.returncode:
        print(r.stderr, end="")
        say("FAIL: make image")
        return 1
    logdir = tempfile.mkdtemp(prefix="tcptrail-image-")
    try:
        return with_image(info, ds, image, version, logdir)
    finally:
        run("podman", "rm", "-f", "-t", "0", NAME)
        run("podman", "rmi", "-f", image)
        shutil.rmtree(logdir, ignore_errors=True)


def with_image(info, ds, image, version, logdir):
    r = run("podman", "image", "inspect", image)
    meta = json.loads(r.stdout)[0]
    size = meta["Size"]
    say("image %s: %d KiB" % (image, size // 1024))
    check(size < 32 << 20, "image larger than 32 MiB: %d" % size)
    cfg = meta["Config"]
    check(cfg.get("User") == "0", "image user %r, want 0" % cfg.get("User"))
    check(cfg.get("Entrypoint") == ["/usr/sbin/tcptrail"], "entrypoint %r" % cfg.get("Entrypoint"))

    port = free_port()
    _, opts, args, c = podman_args(ds, logdir, port)
    check(cfg.get("Cmd") == [str(a) for a in c.get("args", [])],
          "the image's default args %r are not the DaemonSet's" % cfg.get("Cmd"))
    # runc where crun refuses this machine's hybrid cgroups (a v2 hierarchy holding
    # controllers); the limits of this process, as a node's runtime passes its own (podman's
    # default raises them, which needs CAP_SYS_RESOURCE).
    runtime = []
    if info.get("host", {}).get("cgroupVersion") == "v1" and shutil.which("runc"):
        runtime = ["--runtime", "runc"]
    # (RLIMIT_NPROC lowered: runc is refused even this process's own; the agent, root with
    # CAP_SYS_ADMIN, is not held to it anyway.)
    nofile = resource.getrlimit(resource.RLIMIT_NOFILE)
    nproc = min(resource.getrlimit(resource.RLIMIT_NPROC)[0], 4096)
    ulimits = ["--ulimit", "nofile=%d:%d" % nofile, "--ulimit", "nproc=%d:%d" % (nproc, nproc)]
    cmd = ["podman", "run", "-d", "--name", NAME] + runtime + ulimits + opts + [image] + args
    say(" ".join(cmd))
    r = run(*cmd)
    if r.returncode:
        msg = r.stderr.strip()
        if "hybrid mode not supported" in msg:
            skip("crun refuses this machine's hybrid cgroups and runc is missing: " + msg)
        check(False, "podman run: " + msg)
        return 1

    base = "http://127.0.0.1:%d" % port
    if not wait(lambda: get(base + "/healthz")[0] == 200, 30, "/healthz"):
        print(run("podman", "logs", NAME).stderr)
        return 1
    check(get(base + "/healthz") == (200, "ok\n") or get(base + "/healthz")[1].strip() == "ok",
          "/healthz answers ok")
    say("agent up: /healthz ok on port %d" % port)

    # A connection of this test, on the host's network the agent traces.
    srv = socket.create_server(("127.0.0.1", 0))
    sport = srv.getsockname()[1]
    for _ in range(3):
        cl = socket.create_connection(("127.0.0.1", sport))
        a, _ = srv.accept()
        cl.close()
        a.close()
        time.sleep(0.2)
    srv.close()
    pat = b'"lport":%d,' % sport

    def logged():
        for f in os.listdir(logdir):
            with open(os.path.join(logdir, f), "rb") as fh:
                for line in fh:
                    if pat in line and b'"comm":"python3"' in line and \
                            b'"pid":%d,' % os.getpid() in line:
                        return True
        return False
    if wait(logged, 20, "the test's connection in the log"):
        say("the log holds this test's connection, owned by pid %d" % os.getpid())

    status, body = get(base + "/metrics", timeout=10)
    check(status == 200, "/metrics: %s" % status)
    check('tcptrail_build_info{version="%s"' % version in body, "/metrics has tcptrail_build_info")
    check("tcptrail_transitions_total{" in body, "/metrics has tcptrail_transitions_total")
    check("tcptrail_events_total " in body, "/metrics has tcptrail_events_total")

    # SIGTERM, as the kubelet stops it: exit 0 and the final line.
    grace = str(ds["spec"]["template"]["spec"].get("terminationGracePeriodSeconds", 30))
    run("podman", "stop", "-t", grace, NAME)
    code = run("podman", "inspect", "--format", "{{.State.ExitCode}}", NAME).stdout.strip()
    logs = run("podman", "logs", NAME)
    out = logs.stdout + logs.stderr
    check(code == "0", "exit status %s after SIGTERM: %s" % (code, out[-500:]))
    m = re.search(r"tcptrail: (\d+) events, (\d+) lost", out)
    check(m is not None, "no final line: " + out[-500:])
    if m:
        say("final line: " + m.group(0))

    # The log: every file (newest last) replays, with this test's connection and no seq gap.
    files = sorted(os.listdir(logdir), key=lambda f: -int(f.rsplit(".", 1)[1])
                   if f[-1].isdigit() else 1)
    say("log files: " + " ".join(files))
    check(files and files[-1] == "events.jsonl", "no events.jsonl in the log directory")
    r = run(os.path.join(ROOT, "tcptrail"), "replay", "-n", "--port", str(sport),
            *[os.path.join(logdir, f) for f in files])
    check(r.returncode == 0, "replay failed: " + r.stderr[-500:])
    check(":%d " % sport in r.stdout and "python3" in r.stdout, "replay lacks the connection")
    check("missing" not in r.stderr and "goes back" not in r.stderr, "seq gap: " + r.stderr)
    with open(os.path.join(logdir, files[0])) as fh:
        head = json.loads(fh.readline())
    check(head.get("type") == "header", "the first file starts with a header")
    return 0


if __name__ == "__main__":
    rc = main()
    if rc or failures:
        say("FAIL (%d checks failed)" % len(failures))
        sys.exit(1)
    say("PASS")
