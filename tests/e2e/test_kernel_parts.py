"""End-to-end: each optional BPF part degrades alone (issue 19, items 3 and 7).

A part the verifier refuses is switched off with one line saying what is lost, the rest traces
with correct owners; a refused core is one clear error. The refusals are real: the loader's
TCPTRAIL_TEST_REFUSE makes a part's programs read past a map value, which the verifier refuses.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
import tt  # noqa: E402

tt.enter_private_netns()
NETNS = tt.netns_inode()


def refusing(keys, fn):
    os.environ["TCPTRAIL_TEST_REFUSE"] = keys
    try:
        return fn()
    finally:
        del os.environ["TCPTRAIL_TEST_REFUSE"]


def part_lines(stderr, what):
    return [l for l in stderr.splitlines() if what in l]


def test_refused_parts_switch_off_alone():
    t = refusing("send,recv,exec", lambda: tt.Tracer("--netns", str(NETNS)))
    port = tt.free_port()
    server = tt.run_py(tt.CLOSE_WAIT_SERVER, "127.0.0.1", port, 0)
    assert tt.read_line(server) == "ready"
    client = tt.run_py(tt.HELLO_CLIENT, "127.0.0.1", port)
    client.wait(timeout=tt.DEADLINE)
    mine = lambda e: port in (e["lport"], e["rport"])
    t.wait_events(lambda e: mine(e) and e["old"] == "SYN_SENT" and e["new"] == "ESTABLISHED"
                  and e["pid"] == client.pid, 1, what="the client's ESTABLISHED")
    t.wait_events(lambda e: mine(e) and e["old"] == "SYN_RECV" and e["new"] == "ESTABLISHED"
                  and e["pid"] == server.pid, 1, what="the server's ESTABLISHED")
    server.wait(timeout=tt.DEADLINE)
    rc, err = t.stop()
    assert rc == 0, err
    send = part_lines(err, "refused the programs for owners followed through TCP sends")
    recv = part_lines(err, "refused the programs for owners followed through TCP receives")
    ex = part_lines(err, "refused the programs for sockets renamed at exec")
    assert len(send) == 1 and len(recv) == 1 and len(ex) == 1, err
    assert "Linux 6.1+" in send[0] and send[0].endswith("-v says why"), send
    assert "only sends on it is named from its first receive or close" in send[0], send
    assert "only receives on it is named from its first send or close" in recv[0], recv
    assert "the rest runs" in ex[0] and "take the new name at their next I/O" in ex[0], ex
    # Nothing else was switched off.
    assert len(part_lines(err, "refused")) == 3, err


def test_verbose_names_the_verifier_reason():
    t = refusing("handoff", lambda: tt.Tracer("-v", "--netns", str(NETNS)))
    rc, err = t.stop()
    assert rc == 0, err
    assert len(part_lines(err, "refused the programs for listeners handed on at exit")) == 1
    reasons = [l for l in err.splitlines() if l.startswith("tcptrail:   verifier: handle_")]
    assert len(reasons) == 1 and "memory range" in reasons[0], reasons


def test_refused_core_is_one_clear_error():
    p = refusing("core", lambda: tt.subprocess.run(
        [tt.TCPTRAIL, "--netns", str(NETNS), "-d", "1"], capture_output=True, text=True,
        timeout=tt.DEADLINE))
    assert p.returncode == 1, (p.returncode, p.stderr)
    lines = p.stderr.splitlines()
    assert len(lines) == 1, p.stderr
    assert lines[0].startswith("tcptrail: loading the BPF programs (handle_set_state: "), lines
    assert "verifier" in lines[0] and "Tracing" not in p.stderr, lines


def test_no_hook_slows_other_processes():
    """Issue 20: no syscall tracepoint (or any perf-event tracepoint or kprobe) is attached: each
    of those puts every system call of every process on the slow path. Every program is a BTF
    tracing program (tp_btf, fexit, iterators) attached through a BPF link."""
    t = tt.Tracer("--netns", str(NETNS))
    pid = t.proc.pid
    kinds, tracepoints = [], []
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            target = os.readlink("/proc/%d/fd/%s" % (pid, fd))
            with open("/proc/%d/fdinfo/%s" % (pid, fd)) as f:
                info = dict(l.split(":", 1) for l in f.read().splitlines() if ":" in l)
        except OSError:
            continue
        if "perf_event" in target:
            kinds.append("perf_event")
        elif "bpf-prog" in target:
            kinds.append("prog_type %s" % info["prog_type"].strip())
        elif "bpf_link" in target:
            kinds.append("link %s" % info["link_type"].strip())
            if "tp_name" in info:
                tracepoints.append(info["tp_name"].strip())
    t.stop()
    assert "perf_event" not in kinds, kinds
    # BPF_PROG_TYPE_TRACING is 26; tracepoint (5) and kprobe (2) programs would be the taxing kind.
    progs = [k for k in kinds if k.startswith("prog_type")]
    assert progs and all(k == "prog_type 26" for k in progs), kinds
    # The socket I/O hooks are TCP's own: sock:sock_*_length fire for every unix, UDP and
    # netlink socket's I/O too. The generic send hook only where no TCP one exists.
    assert "inet_sock_set_state" in tracepoints and "sock_recv_length" not in tracepoints, \
        tracepoints
    with open("/sys/kernel/btf/vmlinux", "rb") as f:
        has_tcp_send_tp = b"\0btf_trace_tcp_sendmsg_locked\0" in f.read()
    if has_tcp_send_tp:
        assert "tcp_sendmsg_locked" in tracepoints, tracepoints
        assert "sock_send_length" not in tracepoints, tracepoints


def test_refused_metrics_iterator_keeps_the_event_gauges():
    """--metrics' socket walk is optional too: refused, the endpoint serves the event counters
    and says once what it cannot report."""
    import urllib.request
    port = tt.free_port()
    t = refusing("metrics", lambda: tt.Tracer("-q", "--metrics", "127.0.0.1:%d" % port,
                                              "--netns", str(NETNS), json_output=False))
    body = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port,
                                  timeout=tt.DEADLINE).read().decode()
    rc, err = t.stop()
    assert rc == 0, err
    assert "tcptrail_transitions_total" in body and "tcptrail_build_info" in body, body[:500]
    lines = part_lines(err, "refused the socket iterator")
    assert len(lines) == 1 and "listen queues are not reported" in lines[0], err


if __name__ == "__main__":
    tt.main([test_refused_parts_switch_off_alone, test_verbose_names_the_verifier_reason,
             test_refused_core_is_one_clear_error, test_no_hook_slows_other_processes,
             test_refused_metrics_iterator_keeps_the_event_gauges])
