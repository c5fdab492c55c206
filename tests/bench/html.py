"""replay --html on a recording of 1M events (section `html` of `make bench`): the time, the peak
memory and the page's size. Needs no privileges: the recording is generated.

The log (BENCH_HTML_EVENTS events, default 1,000,000; gzip) is short connections of many
processes (6 transitions each: connect, accept, close by both ends), with one in 50 ending in a
reset, one in 500 leaking a CLOSE_WAIT with a stuck alert, a listener per port, and a lost
record every 100,000 events. Prints a markdown table.
"""
import gzip
import os
import resource
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
TCPTRAIL = os.path.join(ROOT, "tcptrail")
EVENTS = int(os.environ.get("BENCH_HTML_EVENTS", "1000000"))

HDR = ('{"type":"header","time":"2026-11-26T15:00:00.000000Z","version":"0.1.0",'
       '"hostname":"bench","kernel":"6.1","boot_time":"2026-11-26T14:00:00.000000Z",'
       '"start_time":"2026-11-26T15:00:00.000000Z","part":0,"filters":{},"stuck":[]}\n')
TOT = (',"cause":"%s","error":null,"sk_err":0,"reset_reason":null,"bytes_sent":100,'
       '"bytes_received":2000,"segs_out":6,"segs_in":5,"retrans":0,"syn_retrans":0,'
       '"srtt_ms":0.030,"rttvar_ms":0.010,"life_ms":%.3f')
CG = ',"cgroup":"/system.slice/app%d.service","container":null,"container_id":null,' \
     '"pod":null,"unit":"app%d.service"'


def ts(us):
    s, u = divmod(us, 1000000)
    m, s = divmod(s, 60)
    h, m = divmod(m, 60)
    return "2026-11-26T%02d:%02d:%02d.%06dZ" % (15 + h, m, s, u)


def ev(us, pid, comm, lp, rp, old, new, sock, extra="", reset="false", cg=0):
    return ('{"type":"state","time":"%s","pid":%d,"comm":"%s","proto":"tcp",'
            '"laddr":"10.0.0.1","lport":%d,"raddr":"10.0.0.2","rport":%d,"lservice":null,'
            '"rservice":null,"old":"%s","new":"%s","ms":0.050,"sock":%d,"netns":1,'
            '"reset":%s%s%s}\n' % (ts(us), pid, comm, lp, rp, old, new, sock, reset, extra,
                                   CG % (cg, cg)))


def generate(path):
    n = 0
    us = 0
    sock = 1000
    i = 0
    with gzip.open(path, "wt", compresslevel=1) as f:
        f.write(HDR)
        while n < EVENTS:
            i += 1
            us += 37
            port = 8000 + i % 8
            srv, cli = 100 + i % 8, 5000 + i % 997
            c, s = sock, sock + 1
            sock += 2
            cp = 10000 + i % 50000
            app = i % 8
            lines = [ev(us, cli, "client%d" % (i % 97), cp, port, "CLOSE", "SYN_SENT", c, cg=app),
                     ev(us + 5, srv, "server%d" % (i % 8), port, cp, "CLOSE", "SYN_RECV", s,
                        cg=app),
                     ev(us + 9, cli, "client%d" % (i % 97), cp, port, "SYN_SENT", "ESTABLISHED",
                        c, cg=app),
                     ev(us + 10, srv, "server%d" % (i % 8), port, cp, "SYN_RECV", "ESTABLISHED",
                        s, cg=app)]
            if i % 50 == 0:
                lines += [ev(us + 20, cli, "client%d" % (i % 97), cp, port, "ESTABLISHED",
                             "CLOSE", c, TOT % ("reset_out", 0.02), "true", app),
                          ev(us + 25, srv, "server%d" % (i % 8), port, cp, "ESTABLISHED",
                             "CLOSE", s, TOT % ("reset_in", 0.02), "true", app)]
            elif i % 500 == 1:
                lines += [ev(us + 20, srv, "server%d" % (i % 8), port, cp, "ESTABLISHED",
                             "CLOSE_WAIT", s, cg=app),
                          '{"type":"stuck","time":"%s","pid":%d,"comm":"server%d","owners":'
                          '[{"pid":%d,"comm":"server%d"}],"proto":"tcp","laddr":"10.0.0.1",'
                          '"lport":%d,"raddr":"10.0.0.2","rport":%d,"lservice":null,'
                          '"rservice":null,"state":"CLOSE_WAIT","ms":1000.0,"sock":%d,'
                          '"netns":1}\n' % (ts(us + 1000020), srv, i % 8, srv, i % 8, port,
                                            cp, s)]
            else:
                lines += [ev(us + 20, cli, "client%d" % (i % 97), cp, port, "ESTABLISHED",
                             "FIN_WAIT1", c, cg=app),
                          ev(us + 25, srv, "server%d" % (i % 8), port, cp, "ESTABLISHED",
                             "CLOSE_WAIT", s, cg=app)]
                if n % 3 == 0:
                    lines += [ev(us + 30, srv, "server%d" % (i % 8), port, cp, "CLOSE_WAIT",
                                 "CLOSE", s, TOT % ("closed", 0.03), cg=app)]
                else:
                    lines += [ev(us + 30, srv, "server%d" % (i % 8), port, cp, "CLOSE_WAIT",
                                 "LAST_ACK", s, cg=app),
                              ev(us + 40, srv, "server%d" % (i % 8), port, cp, "LAST_ACK",
                                 "CLOSE", s, TOT % ("closed", 0.04), cg=app)]
                lines += [ev(us + 45, cli, "client%d" % (i % 97), cp, port, "FIN_WAIT1",
                             "TIME_WAIT", c, TOT % ("timewait", 0.04), cg=app)]
            before = n // 100000
            n += len(lines)
            if n // 100000 != before:
                lines.append('{"type":"lost","time":"%s","count":42,"total":%d}\n'
                             % (ts(us + 50), 42 * (n // 100000)))
            f.write("".join(lines))
    return n


def main():
    d = tempfile.mkdtemp(prefix="tcptrail-bench-html-")
    log = os.path.join(d, "big.jsonl.gz")
    page = os.path.join(d, "big.html")
    t = time.monotonic()
    n = generate(log)
    gen = time.monotonic() - t
    t = time.monotonic()
    p = subprocess.run([TCPTRAIL, "replay", "--html", page, log], stderr=subprocess.PIPE)
    wall = time.monotonic() - t
    if p.returncode:
        sys.exit("bench html: replay --html failed: %s" % p.stderr.decode())
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    size = os.path.getsize(page)
    t = time.monotonic()
    subprocess.run([TCPTRAIL, "replay", "--summary", log], stdout=subprocess.DEVNULL)
    summ = time.monotonic() - t
    print("### replay --html: %d events (%.1f MB gzip log, generated in %.0f s)" % (
        n, os.path.getsize(log) / 1e6, gen))
    print()
    print("| events | replay --html | peak RSS | page | replay --summary, same log |")
    print("|---:|---:|---:|---:|---:|")
    print("| %d | %.1f s | %d KiB | %.2f MB | %.1f s |" % (n, wall, rss, size / 1e6, summ))
    os.unlink(log)
    os.unlink(page)
    os.rmdir(d)


if __name__ == "__main__":
    main()
