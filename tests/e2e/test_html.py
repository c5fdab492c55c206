"""End-to-end: `tcptrail replay --html` opened in a headless Chromium (tests/e2e/cdp.py).

A real recording (a leaked CLOSE_WAIT with its stuck alert, a reset by SO_LINGER 0, a refused
connect, a TIME_WAIT) becomes a page that loads with no console error and no request but its own
file, whose DOM has the lanes, segments and markers the traffic made, whose filter box narrows
them and whose lanes select; a log with markup and quotes in every string it has stays text.
Skipped, with one line, only when chromium is not installed (tests/deps.sh installs it).
"""
import json
import os
import socket
import stat
import struct
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
import tt  # noqa: E402
import cdp  # noqa: E402

P_LEAK, P_RST, P_REF, P_TW = 7401, 7402, 7403, 7404
SHOTS = os.path.join(tt.ROOT, ".output", "html")

# the CLOSE_WAIT server of tt, renamed so its lane and the holders say who leaked
LEAKY = "open('/proc/self/comm', 'w').write('leaky-srv')\n" + tt.CLOSE_WAIT_SERVER

LANES_JS = """JSON.stringify(Array.from(document.querySelectorAll('#timeline g.lane')).map(g => ({
  sock: g.dataset.sock,
  label: g.querySelector('text.lbl').textContent,
  states: Array.from(g.querySelectorAll('rect.seg')).map(r => r.dataset.state),
  stuck: g.querySelectorAll('.mk-stuck').length,
  ends: Array.from(g.querySelectorAll('.mk-end')).map(e => e.dataset.cause),
  open: g.querySelectorAll('.mk-open').length})))"""


def replay_html(*args):
    p = subprocess.run([tt.TCPTRAIL, "replay"] + list(args), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=120)
    return p.returncode, p.stdout, p.stderr.decode()


def lanes(b):
    return json.loads(b.eval(LANES_JS))


def set_filter(b, text):
    b.eval("(() => { const f = document.getElementById('filter'); f.value = %s; "
           "f.dispatchEvent(new Event('input')); "
           "return new Promise(r => requestAnimationFrame(() => r(1))); })()" % json.dumps(text))
    return lanes(b)


def clean_load(b, path):
    url = "file://" + path
    b.open(url)
    # drawn on the first animation frame after the load
    b.eval("new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(1))))")
    assert b.problems() == [], b.problems()
    assert b.requests() == [url], b.requests()


def record(log):
    """The traffic, recorded with -w; returns the client ports (reset, timewait)."""
    leak = tt.run_py(LEAKY, "127.0.0.1", P_LEAK, 60)
    assert tt.read_line(leak) == "ready"
    tracer = tt.Tracer("-w", log, "--stuck", "CLOSE_WAIT=1s",
                       "--port", "%d,%d,%d,%d" % (P_LEAK, P_RST, P_REF, P_TW))
    try:
        tt.run_py(tt.HELLO_CLIENT, "127.0.0.1", P_LEAK).wait(timeout=20)
        assert tt.read_line(leak) == "eof"
        # a reset: the client closes with SO_LINGER 0 (reset_out), the server gets reset_in
        lst = socket.socket()
        lst.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        lst.bind(("127.0.0.1", P_RST))
        lst.listen(4)
        c = socket.create_connection(("127.0.0.1", P_RST))
        a, _ = lst.accept()
        c.sendall(b"ping")
        assert a.recv(4) == b"ping"
        rport = c.getsockname()[1]
        c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        c.close()
        tracer.wait_events(lambda e: e.get("cause") == "reset_in", 1, what="reset_in")
        a.close()
        lst.close()
        tt.refused_connect(P_REF)
        # a TIME_WAIT: the client closes first, then the server
        lst = socket.socket()
        lst.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        lst.bind(("127.0.0.1", P_TW))
        lst.listen(4)
        c = socket.create_connection(("127.0.0.1", P_TW))
        a, _ = lst.accept()
        twport = c.getsockname()[1]
        c.sendall(b"bye")
        c.shutdown(socket.SHUT_WR)
        assert a.recv(3) == b"bye"
        a.close()
        assert c.recv(10) == b""
        c.close()
        lst.close()
        tracer.wait_events(lambda e: e.get("cause") == "timewait", 1, what="timewait")
        tracer.wait_events(lambda e: e["type"] == "stuck" and e["lport"] == P_LEAK, 1,
                           what="the stuck alert")
    finally:
        code, err = tracer.stop()
        leak.kill()
        leak.wait()
    assert code == 0, err
    return rport, twport


def test_real_recording():
    """The page of a real recording shows the leak, its holder, the resets and the TIME_WAIT."""
    d = tt.temp_dir("html")
    log = os.path.join(d, "rec.jsonl.gz")
    rport, twport = record(log)
    page = os.path.join(d, "rec.html")
    rc, out, err = replay_html("--html", page, log)
    assert rc == 0 and out == b"" and err == "", err
    assert stat.S_IMODE(os.stat(page).st_mode) == 0o666 & ~os.umask(0o22), oct(
        os.stat(page).st_mode)
    assert [f for f in os.listdir(d) if f.startswith(".")] == [], os.listdir(d)
    b = cdp.Browser()
    try:
        clean_load(b, page)
        all_lanes = lanes(b)
        leaks = [l for l in all_lanes if "leaky-srv" in l["label"] and l["stuck"]]
        assert len(leaks) == 1, all_lanes
        leak = leaks[0]
        assert leak["states"][-1] == "CLOSE_WAIT" and leak["open"] == 1, leak
        assert ":%d " % P_LEAK in leak["label"] + " ", leak
        ends = sorted(c for l in all_lanes for c in l["ends"])
        for cause in ("reset_in", "reset_out", "refused", "timewait"):
            assert cause in ends, (cause, all_lanes)
        tw = [l for l in all_lanes if "127.0.0.1:%d \u2192" % twport in l["label"]]
        assert len(tw) == 1 and tw[0]["ends"] == ["timewait"], tw
        # the overview: CLOSE_WAIT sockets, a reset, and who held CLOSE_WAIT longest
        assert b.eval("document.querySelectorAll('#overview polygon[data-state=CLOSE_WAIT]')"
                      ".length") == 1
        assert b.eval("document.querySelectorAll('#overview .ov-reset').length") >= 1
        assert b.eval("document.querySelectorAll('#overview .ov-stuck').length") >= 1
        top = b.eval("document.querySelector('#cwprocs tr').textContent")
        assert "leaky-srv" in top, top
        # the filter box narrows the lanes, and clearing it brings them back
        only = set_filter(b, "port:%d" % P_TW)
        assert 0 < len(only) < len(all_lanes), only
        assert all(":%d" % P_TW in l["label"] for l in only), only
        assert [l["ends"] for l in set_filter(b, "cause:reset-in")] == [["reset_in"]]
        assert [l["sock"] for l in set_filter(b, "stuck")] == [leak["sock"]]
        assert [l["sock"] for l in set_filter(b, "comm:leaky state:close_wait")] == [
            leak["sock"]]
        assert set_filter(b, "port:1") == []
        assert len(set_filter(b, "")) == len(all_lanes)
        # a click on a lane lists its events as text
        b.eval("(() => { const g = document.querySelector('#timeline g.lane[data-sock=\"%s\"] "
               ".lane-bg'); const r = g.getBoundingClientRect(); "
               "for (const t of ['mousedown', 'mouseup']) g.dispatchEvent(new MouseEvent(t, "
               "{bubbles: true, clientX: r.left + 5, clientY: r.top + 5})); return 1; })()"
               % leak["sock"])
        details = b.eval("document.getElementById('details').textContent")
        assert "ESTABLISHED -> CLOSE_WAIT" in details and "STUCK in CLOSE_WAIT" in details, details
        assert "leaky-srv" in details, details
        # zoom and pan redraw without errors
        b.eval("document.getElementById('zin').click(); document.getElementById('zin').click();"
               " document.getElementById('zreset').click(); 1")
        b.eval("new Promise(r => requestAnimationFrame(() => r(1)))")
        assert len(lanes(b)) == len(all_lanes)
        assert b.problems() == [], b.problems()
        os.makedirs(SHOTS, exist_ok=True)
        shot = os.path.join(SHOTS, "real.png")
        b.screenshot(shot)
        with open(shot, "rb") as f:
            png = f.read()
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10000, len(png)
    finally:
        b.close()
    # the filters of replay narrow the page's lanes too
    page2 = os.path.join(d, "rst.html")
    rc, out, err = replay_html("--html", page2, "--port", str(P_RST), log)
    assert rc == 0, err
    b = cdp.Browser()
    try:
        clean_load(b, page2)
        got = lanes(b)
        assert sorted(c for l in got for c in l["ends"]) == ["listener_closed", "reset_in",
                                                             "reset_out"], got
        assert all(":%d" % P_RST in l["label"] for l in got), got
    finally:
        b.close()


def hostile_log(path):
    evil = "<script>'\"&"  # 15 bytes at most: a comm
    svc = "</script><img src=x onerror=window.pwned=1>"
    cg = "/x.slice/</script><script>window.pwned=2</script>.scope"
    hdr = {"type": "header", "time": "2026-11-26T15:00:00.000000Z", "version": "0.1.0",
           "hostname": "<b>host</b>\"'", "kernel": "</script><!--", "boot_time":
           "2026-11-26T14:00:00.000000Z", "start_time": "2026-11-26T15:00:00.000000Z",
           "part": 0, "filters": {}, "stuck": []}

    def state(t, old, new, **kw):
        d = {"type": "state", "time": "2026-11-26T15:00:0%d.000000Z" % t, "pid": 7,
             "comm": evil, "proto": "tcp", "laddr": "127.0.0.1", "lport": 80,
             "raddr": "127.0.0.1", "rport": 5555, "lservice": svc, "rservice": svc,
             "old": old, "new": new, "ms": 1.0, "sock": 1, "netns": 1, "reset": False,
             "cgroup": cg, "container": None, "container_id": None, "pod": None,
             "unit": None}
        d.update(kw)
        return json.dumps(d, ensure_ascii=False)
    stuck = {"type": "stuck", "time": "2026-11-26T15:00:05.000000Z", "pid": 7, "comm": evil,
             "owners": [{"pid": 7, "comm": evil}, {"pid": 8, "comm": "</script>"}],
             "proto": "tcp", "laddr": "127.0.0.1", "lport": 80, "raddr": "127.0.0.1",
             "rport": 5555, "lservice": svc, "rservice": svc, "state": "CLOSE_WAIT",
             "ms": 3000.0, "sock": 1, "netns": 1}
    lines = [json.dumps(hdr), state(1, "CLOSE", "SYN_RECV"),
             state(2, "SYN_RECV", "ESTABLISHED"), state(3, "ESTABLISHED", "CLOSE_WAIT"),
             json.dumps(stuck)]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return evil, svc, cg


def test_hostile_strings():
    """Markup and quotes in comm, services, holders, cgroup, host and kernel stay text."""
    d = tt.temp_dir("html-evil")
    log = os.path.join(d, "evil.jsonl")
    evil, svc, cg = hostile_log(log)
    page = os.path.join(d, "evil.html")
    rc, out, err = replay_html("--html", page, log)
    assert rc == 0, err
    with open(page, encoding="utf-8") as f:
        text = f.read()
    # the page's own two scripts and nothing the log said as markup
    assert text.count("<script") == 2 and text.count("</script>") == 2, text.count("<script")
    assert "<img" not in text and "<b>" not in text, text
    b = cdp.Browser()
    try:
        clean_load(b, page)
        got = lanes(b)
        assert len(got) == 1 and got[0]["stuck"] == 1, got
        assert got[0]["label"].startswith("7/" + evil), got
        assert b.eval("document.querySelectorAll('script').length") == 2
        assert b.eval("document.querySelectorAll('img, iframe').length") == 0
        assert not b.eval("Array.from(document.querySelectorAll('b'))"
                          ".some(e => e.textContent == 'host')")
        assert b.eval("typeof window.pwned") == "undefined"
        assert b.eval("document.title") == "tcptrail: <b>host</b>\"'"
        assert "</script><!--" in b.eval("document.getElementById('meta').textContent")
        b.eval("window.ttSelect(0); 1")
        details = b.eval("document.getElementById('details').textContent")
        assert "8/</script>" in details and cg in details, details
        assert set_filter(b, "comm:<script>") != []
        assert b.problems() == [], b.problems()
    finally:
        b.close()


def test_usage_and_files():
    """Usage errors exit 2; a file that cannot be written exits 1 and leaves nothing."""
    d = tt.temp_dir("html-cli")
    log = os.path.join(d, "x.jsonl")
    hostile_log(log)
    for args in (("--summary",), ("-o", "json"), ("-e",)):
        rc, out, err = replay_html("--html", os.path.join(d, "a.html"), *args, log)
        assert rc == 2 and err.startswith("tcptrail: --html writes a page: not with "), err
    rc, out, err = replay_html("--html", "", log)
    assert rc == 2 and "--html wants a file name" in err, err
    rc, out, err = tt_trace_html(d)
    assert rc == 2 and "--html does not apply to 'trace'" in err, err
    rc, out, err = replay_html("--html", os.path.join(d, "no", "a.html"), log)
    assert rc == 1 and err.startswith("tcptrail: %s: cannot create " % os.path.join(
        d, "no", "a.html")), err
    # replaced whole: the old file stays until the new one is complete
    page = os.path.join(d, "a.html")
    with open(page, "w") as f:
        f.write("old")
    rc, out, err = replay_html("--html", page, log)
    assert rc == 0 and open(page).read().startswith("<!DOCTYPE html>"), err
    assert sorted(os.listdir(d)) == ["a.html", "x.jsonl"], os.listdir(d)
    # - is standard output
    rc, out, err = replay_html("--html", "-", log)
    assert rc == 0 and out.startswith(b"<!DOCTYPE html>") and out.endswith(b"</html>\n"), err


def tt_trace_html(d):
    p = subprocess.run([tt.TCPTRAIL, "--html", os.path.join(d, "t.html")],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    return p.returncode, p.stdout, p.stderr.decode()


if __name__ == "__main__":
    if not cdp.CHROMIUM:
        print("test_html.py: SKIP: chromium is not installed (tests/deps.sh installs it)")
        sys.exit(0)
    tt.enter_private_netns()
    tt.main([test_real_recording, test_hostile_strings, test_usage_and_files])
