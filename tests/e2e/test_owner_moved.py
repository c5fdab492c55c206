"""End-to-end: owner truth, round 2 (issue 21, items 1-4). An event never names a process that
no longer holds the socket: the holder it remembers closed its fd, passed the socket on and
closed it, or exited, and the transition comes later, from a packet (softirq), where nothing
says who holds the socket now. Such an event names no one and says the owner moved
(`"owner_moved": true`, COMM `(moved)` in text); `ss -tanp` is the ground truth at that moment.

The scenarios, each with real processes in this file's private network namespace:
* an inetd service (systemd-socket-activate --inetd) that reads the request, leaves
  `sleep 20 &` holding the connection on its stdout and exits;
* a connection passed with SCM_RIGHTS and closed by the sender, the receiver doing no I/O;
* fork, then the parent closes its copy, the child doing no I/O;
* a listening socket passed to a process that is not a child (as haproxy -x does on reload),
  the old holder exiting: the next connections' pre-accept events; and haproxy itself;
* a pre-fork server whose connection gets its request and FIN before any worker accepts it:
  its events wait for the acceptor and name it, marked pre_accept (--pid of that worker sees
  them); never accepted, they name the listener's holders.
Each failed on the build before the fix (6 of 6).
"""
import os
import shutil
import socket
import sys

sys.path.insert(0, os.path.dirname(__file__))
import tt  # noqa: E402

tt.enter_private_netns()
import test_owner as ow  # noqa: E402  (its helpers; it is in this namespace already)

PY = sys.executable


def check_truth(e, holders, what):
    """The event names one of `holders` ({pid: comm}, as ss listed them), or no one with the
    moved flag; never a process that does not hold the socket."""
    if e["pid"] is None:
        assert e.get("owner_moved") is True, "%s: %s names no one and no moved flag: %s" % (
            what, ow.desc(e), e)
        return
    assert e["pid"] in holders, "%s: %s names %s/%s (%s); ss: %s" % (
        what, ow.desc(e), e["pid"], e["comm"],
        "alive" if ow.alive(e["pid"]) else "exited", holders)


def test_inetd_service_exits_leaving_a_child():
    if not os.path.exists("/usr/bin/systemd-socket-activate"):
        print("SKIP: systemd-socket-activate is not installed")
        return
    port = 8701
    local = ow.ep("127.0.0.1", port)
    script = "read line; sleep 20 & exit 0"
    with ow.Scenario() as sc:
        main = sc.trace()
        sc.start(["systemd-socket-activate", "--inetd", "-a", "-l", "127.0.0.1:%d" % port,
                  "sh", "-c", script])
        ow.ss_listener(local)
        c = tt.wait_until(lambda: _try_connect(sc, port), what="the inetd listener")
        cport = c.getsockname()[1]
        c.sendall(b"hello\n")
        peer = ow.ep("127.0.0.1", cport)
        # The script has exited: only sleep holds the connection.
        cookie, s = tt.wait_until(lambda: _held_by(local, peer, "sleep"),
                                  what="ss: the connection held by sleep alone")
        holders = s.users
        c.close()
        e = ow.wait_transition(main, cookie, "ESTABLISHED", "CLOSE_WAIT")
        _, s = ow.ss_find(local, peer, "CLOSE-WAIT")
        assert s.users == holders, s
        check_truth(e, holders, "inetd service exited, sleep holds the connection")


def test_scm_rights_sender_closes_receiver_idle():
    port = 8702
    local = ow.ep("127.0.0.1", port)
    with ow.Scenario() as sc:
        main = sc.trace()
        snd, rcv = _joined(sc, READ_THEN_SEND, RECEIVE_IDLE, port)
        snd.expect("^ready")
        c = sc.connect("127.0.0.1", port)
        cport = c.getsockname()[1]
        c.sendall(b"request\n")
        snd.expect(r"^passed %d$" % cport)
        rcv.expect("^got")
        peer = ow.ep("127.0.0.1", cport)
        cookie, s = ow.ss_find(local, peer, "ESTAB")
        assert s.users == {rcv.pid: ow.comm_of(rcv.pid)}, s
        c.close()
        e = ow.wait_transition(main, cookie, "ESTABLISHED", "CLOSE_WAIT")
        check_truth(e, s.users, "passed with SCM_RIGHTS, the sender closed its copy")


def test_fork_parent_closes_child_idle():
    port = 8703
    local = ow.ep("127.0.0.1", port)
    with ow.Scenario() as sc:
        main = sc.trace()
        srv = sc.py(READ_THEN_FORK, port)
        srv.expect("^ready")
        c = sc.connect("127.0.0.1", port)
        cport = c.getsockname()[1]
        c.sendall(b"request\n")
        child = int(srv.expect(r"^forked (\d+)$").group(1))
        peer = ow.ep("127.0.0.1", cport)
        cookie, s = tt.wait_until(lambda: _held_by(local, peer, None, {child}),
                                  what="ss: the connection held by the child alone")
        c.close()
        e = ow.wait_transition(main, cookie, "ESTABLISHED", "CLOSE_WAIT")
        check_truth(e, s.users, "fork, the parent closed its copy")


def test_listener_passed_to_a_non_child():
    port = 8704
    local = ow.ep("127.0.0.1", port)
    with ow.Scenario() as sc:
        main = sc.trace()
        old, new = _joined(sc, LISTEN_THEN_PASS, RECEIVE_LISTENER, port)
        old.expect("^ready")
        # One connection served by the old holder: its accept and I/O make it the owner.
        c = sc.connect("127.0.0.1", port)
        c.sendall(b"one\n")
        old.expect("^served")
        c.close()
        old.send("pass")
        new.expect("^got")
        old.p.wait(timeout=tt.DEADLINE)  # the old holder exits, as haproxy's old process does
        newh = {new.pid: ow.comm_of(new.pid)}
        _, users = ow.ss_listener(local, set(newh))
        c = sc.connect("127.0.0.1", port)
        cport = c.getsockname()[1]
        peer = ow.ep("127.0.0.1", cport)
        cookie, _ = ow.ss_find(local, peer)
        e = ow.wait_transition(main, cookie, "SYN_RECV", "ESTABLISHED")
        first = ow.wait_transition(main, cookie, "CLOSE", "SYN_RECV")
        for ev in (first, e):
            check_truth(ev, users, "listener passed to a non-child, the old holder exited")
        c.sendall(b"two\n")
        new.expect("^served")
        c.close()
        ow.wait_transition(main, cookie, "ESTABLISHED", "CLOSE_WAIT")
        for ev in ow.sock_events(main, cookie):
            if (ev["old"], ev["new"]) not in ow.PRE_ACCEPT:
                check_truth(ev, newh, "after the new holder's accept and I/O")


HAPROXY_CFG = """global
    stats socket %(dir)s/stats.sock mode 600 level admin expose-fd listeners
defaults
    mode tcp
    timeout connect 5s
    timeout client 30s
    timeout server 30s
frontend fe
    bind 127.0.0.1:%(port)d
    default_backend be
backend be
    server s1 127.0.0.1:%(bport)d
"""


def test_haproxy_reload_with_x():
    """haproxy reloaded with -x: the new process takes the listening socket over the old one's
    stats socket (not a child of it) and the old one exits. The next connection's events name
    the new haproxy or no one (owner_moved), never the old one's parent."""
    if not shutil.which("haproxy"):
        print("SKIP: haproxy is not installed")
        return
    port, bport = 8706, 8707
    local = ow.ep("127.0.0.1", port)
    with ow.Scenario() as sc:
        main = sc.trace()
        backend = sc.listen("127.0.0.1", bport)
        cfg = os.path.join(sc.tmpdir(), "haproxy.cfg")
        with open(cfg, "w") as f:
            f.write(HAPROXY_CFG % {"dir": sc.tmpdir(), "port": port, "bport": bport})
        sock = os.path.join(sc.tmpdir(), "stats.sock")
        old = sc.start(["haproxy", "-db", "-f", cfg])
        ow.ss_listener(local, {old.pid})
        tt.wait_until(lambda: os.path.exists(sock), what="haproxy's stats socket")
        new = sc.start(["haproxy", "-db", "-f", cfg, "-x", sock, "-sf", str(old.pid)])
        old.p.wait(timeout=tt.DEADLINE)  # soft-stopped: it exits, the new one holds it
        _, users = ow.ss_listener(local, {new.pid})
        c = sc.connect("127.0.0.1", port)
        cport = c.getsockname()[1]
        a, _ = sc.accept(backend)
        c.sendall(b"hello\n")
        assert ow.read_until(a) == b"hello\n"
        peer = ow.ep("127.0.0.1", cport)
        cookie, s = ow.ss_find(local, peer, "ESTAB")
        assert s.users == users, s
        a.close()  # the backend closes: haproxy closes the client side
        assert ow.read_to_eof(c) == b""
        c.close()
        ow.wait_closed(main, cookie)
        for e in ow.sock_events(main, cookie):
            check_truth(e, users, "haproxy reloaded with -x")


def test_prefork_accept_queue_names_the_acceptor():
    """A request and the client's FIN arrive while the connection waits in the accept queue of a
    listener a master and two workers hold: its events wait until the worker that accepts it is
    known and name that worker, marked pre_accept; --pid of that worker sees them all."""
    port = 8705
    local = ow.ep("127.0.0.1", port)
    with ow.Scenario() as sc:
        main = sc.trace()
        srv = sc.py(PREFORK_GATED, port)
        workers = [int(srv.expect(r"^worker (\d+)$").group(1)) for _ in range(2)]
        srv.expect("^ready")
        ow.ss_listener(local, set(workers) | {srv.pid})
        late = workers[1]
        # Started after the listener: its group comes from the start-up walk.
        only_late = sc.trace("--pid", str(late))
        c = sc.connect("127.0.0.1", port)
        cport = c.getsockname()[1]
        c.sendall(b"request\n")
        c.shutdown(socket.SHUT_WR)
        peer = ow.ep("127.0.0.1", cport)
        cookie, s = ow.ss_find(local, peer, "CLOSE-WAIT")
        assert not s.users, s  # still in the queue: no process holds it
        os.kill(late, 10)  # SIGUSR1: this worker accepts and reads
        srv.expect(r"^read %d %d$" % (late, cport))
        _, s = ow.ss_find(local, peer, "CLOSE-WAIT")
        assert set(s.users) == {late}, s
        for tracer in (main, only_late):
            ow.wait_transition(tracer, cookie, "ESTABLISHED", "CLOSE_WAIT")
            got = ow.sock_events(tracer, cookie)
            assert [(e["old"], e["new"]) for e in got] == [
                ("CLOSE", "SYN_RECV"), ("SYN_RECV", "ESTABLISHED"),
                ("ESTABLISHED", "CLOSE_WAIT")], got
            for e in got:
                assert e["pid"] == late and e.get("pre_accept") is True, (
                    "%s names %s/%s pre_accept=%s; the acceptor is %d" % (
                        ow.desc(e), e["pid"], e["comm"], e.get("pre_accept"), late))
        # Never accepted: the listener's holders exit; the child is reset with the listener.
        holders = set(workers) | {srv.pid}
        c2 = sc.connect("127.0.0.1", port)
        c2.sendall(b"request\n")
        c2.shutdown(socket.SHUT_WR)
        cookie2, _ = ow.ss_find(local, ow.ep("127.0.0.1", c2.getsockname()[1]), "CLOSE-WAIT")
        for pid in holders:
            os.kill(pid, 9)
        end = ow.wait_closed(main, cookie2)
        assert end["cause"] == "listener_closed", end
        for e in ow.sock_events(main, cookie2):
            assert e["pid"] in holders and e.get("pre_accept") is True, (
                "never accepted: %s names %s pre_accept=%s; the listener's holders are %s" % (
                    ow.desc(e), e["pid"], e.get("pre_accept"), holders))


def _joined(sc, sender, receiver, port):
    """Starts a sender (argv: port, its end's fd) and a receiver (argv: its end's fd) joined by
    a unix socket pair, neither the other's child."""
    us, ur = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        return (sc.py(sender, port, us.fileno(), pass_fds=[us.fileno()]),
                sc.py(receiver, ur.fileno(), pass_fds=[ur.fileno()]))
    finally:
        us.close()
        ur.close()


# The sender's start, shared by its two scripts: a listener on the port, "ready", the unix end u.
LISTENING = r"""
import socket, sys
port, ufd = int(sys.argv[1]), int(sys.argv[2])
u = socket.socket(fileno=ufd)
l = socket.socket()
l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("127.0.0.1", port))
l.listen(16)
print("ready", flush=True)
"""


def _try_connect(sc, port):
    try:
        return sc.connect("127.0.0.1", port)
    except ConnectionRefusedError:
        return None


def _held_by(local, peer, comm=None, pids=None):
    for cookie, s in ow.ss().items():
        if s.local != local or s.peer != peer or not s.users:
            continue
        if comm is not None and set(s.users.values()) == {comm}:
            return cookie, s
        if pids is not None and set(s.users) == pids:
            return cookie, s
    return None


READ_THEN_SEND = LISTENING + r"""
c, peer = l.accept()
req = b""
while not req.endswith(b"\n"):
    req += c.recv(100)
socket.send_fds(u, [b"c"], [c.fileno()])
c.close()
print("passed", peer[1], flush=True)
sys.stdin.readline()
"""

RECEIVE_IDLE = r"""
import socket, sys
u = socket.socket(fileno=int(sys.argv[1]))
_, fds, _, _ = socket.recv_fds(u, 10, 1)
print("got", flush=True)
sys.stdin.readline()
"""

READ_THEN_FORK = r"""
import os, socket, sys, time
port = int(sys.argv[1])
l = socket.socket()
l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("127.0.0.1", port))
l.listen(16)
print("ready", flush=True)
c, peer = l.accept()
req = b""
while not req.endswith(b"\n"):
    req += c.recv(100)
pid = os.fork()
if pid == 0:
    l.close()
    time.sleep(60)
    os._exit(0)
c.close()
print("forked", pid, flush=True)
sys.stdin.readline()
"""

LISTEN_THEN_PASS = LISTENING + r"""
c, peer = l.accept()
req = b""
while not req.endswith(b"\n"):
    req += c.recv(100)
c.close()
print("served", flush=True)
sys.stdin.readline()
socket.send_fds(u, [b"l"], [l.fileno()])
"""

RECEIVE_LISTENER = r"""
import socket, sys
u = socket.socket(fileno=int(sys.argv[1]))
_, fds, _, _ = socket.recv_fds(u, 10, 1)
l = socket.socket(fileno=fds[0])
print("got", flush=True)
c, peer = l.accept()
req = b""
while not req.endswith(b"\n"):
    req += c.recv(100)
print("served", flush=True)
sys.stdin.readline()
"""

PREFORK_GATED = r"""
import os, signal, socket, sys
port = int(sys.argv[1])
l = socket.socket()
l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("127.0.0.1", port))
l.listen(16)
for _ in range(2):
    pid = os.fork()
    if pid == 0:
        signal.signal(signal.SIGUSR1, lambda s, f: None)
        signal.pause()  # accepts only when told to
        c, peer = l.accept()
        req = b""
        while not req.endswith(b"\n"):
            req += c.recv(100)
        print("read", os.getpid(), peer[1], flush=True)
        signal.pause()
        os._exit(0)
    print("worker", pid, flush=True)
print("ready", flush=True)
while True:
    signal.pause()
"""

if __name__ == "__main__":
    tt.main([test_inetd_service_exits_leaving_a_child,
             test_scm_rights_sender_closes_receiver_idle, test_fork_parent_closes_child_idle,
             test_listener_passed_to_a_non_child, test_haproxy_reload_with_x,
             test_prefork_accept_queue_names_the_acceptor])
