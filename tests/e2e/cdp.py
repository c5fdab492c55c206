"""A headless Chromium driven over the Chrome DevTools Protocol, standard library only.

The WebSocket is spoken by hand (RFC 6455: a client masks its frames; text frames, with
continuation frames and the 16/64-bit lengths), enough for CDP's JSON messages. Every event the
browser sends is kept in `events`, so a test can ask afterwards what the page logged, threw or
requested.
"""
import base64
import json
import os
import re
import shutil
import socket
import struct
import subprocess
import tempfile
import threading
import time
import urllib.request

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


class Browser:
    def __init__(self, width=1400, height=1000):
        if not CHROMIUM:
            raise RuntimeError("no chromium")
        self.dir = tempfile.mkdtemp(prefix="tcptrail-chromium-")
        self.proc = subprocess.Popen(
            [CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu",
             "--disable-dev-shm-usage", "--no-first-run", "--no-default-browser-check",
             "--disable-background-networking", "--disable-component-update",
             "--disable-sync", "--disable-extensions", "--mute-audio",
             "--remote-debugging-port=0", "--remote-debugging-address=127.0.0.1",
             "--user-data-dir=" + self.dir, "--window-size=%d,%d" % (width, height),
             "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.stderr = []
        port = self._wait_port()
        self.t_err = threading.Thread(target=self._drain, daemon=True)
        self.t_err.start()
        targets = json.load(urllib.request.urlopen("http://127.0.0.1:%d/json/list" % port,
                                                   timeout=20))
        page = [t for t in targets if t["type"] == "page"][0]
        self.sock = self._connect(page["webSocketDebuggerUrl"])
        self.buf = b""
        self.next_id = 0
        self.events = []

    def _wait_port(self):
        end = time.monotonic() + 30
        while time.monotonic() < end:
            line = self.proc.stderr.readline().decode("utf-8", "replace")
            if not line:
                break
            self.stderr.append(line)
            m = re.search(r"DevTools listening on ws://127\.0\.0\.1:(\d+)/", line)
            if m:
                return int(m.group(1))
        self.close()
        raise RuntimeError("chromium did not start: " + "".join(self.stderr))

    def _drain(self):
        for line in self.proc.stderr:
            self.stderr.append(line.decode("utf-8", "replace"))

    def _connect(self, url):
        m = re.match(r"ws://([^:/]+):(\d+)(/.*)", url)
        s = socket.create_connection((m.group(1), int(m.group(2))), timeout=60)
        key = base64.b64encode(os.urandom(16)).decode()
        s.sendall(("GET %s HTTP/1.1\r\nHost: %s:%s\r\nUpgrade: websocket\r\n"
                   "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                   "Sec-WebSocket-Version: 13\r\n\r\n"
                   % (m.group(3), m.group(1), m.group(2), key)).encode())
        resp = b""
        while b"\r\n\r\n" not in resp:
            chunk = s.recv(4096)
            if not chunk:
                raise RuntimeError("websocket handshake: connection closed")
            resp += chunk
        head, rest = resp.split(b"\r\n\r\n", 1)
        if b" 101 " not in head.split(b"\r\n")[0]:
            raise RuntimeError("websocket handshake refused: %r" % head)
        self.buf = rest
        return s

    def _send(self, text):
        data = text.encode()
        n = len(data)
        if n < 126:
            hdr = struct.pack("!BB", 0x81, 0x80 | n)
        elif n < 65536:
            hdr = struct.pack("!BBH", 0x81, 0x80 | 126, n)
        else:
            hdr = struct.pack("!BBQ", 0x81, 0x80 | 127, n)
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
        self.sock.sendall(hdr + mask + masked)

    def _need(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                raise RuntimeError("devtools connection closed")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def _recv(self):
        msg = b""
        while True:
            b0, b1 = self._need(2)
            n = b1 & 0x7f
            if n == 126:
                n = struct.unpack("!H", self._need(2))[0]
            elif n == 127:
                n = struct.unpack("!Q", self._need(8))[0]
            if b1 & 0x80:
                mask = self._need(4)
                payload = bytes(b ^ mask[i % 4] for i, b in enumerate(self._need(n)))
            else:
                payload = self._need(n)
            op = b0 & 0x0f
            if op == 8:
                raise RuntimeError("devtools closed the websocket")
            if op in (9, 10):  # ping/pong: not CDP's
                continue
            msg += payload
            if b0 & 0x80:
                return json.loads(msg.decode())

    def call(self, method, **params):
        self.next_id += 1
        mid = self.next_id
        self._send(json.dumps({"id": mid, "method": method, "params": params}))
        while True:
            m = self._recv()
            if m.get("id") == mid:
                if "error" in m:
                    raise RuntimeError("%s: %s" % (method, m["error"]))
                return m.get("result", {})
            if "method" in m:
                self.events.append(m)

    def wait_event(self, method, timeout=30):
        end = time.monotonic() + timeout
        self.sock.settimeout(timeout)
        for e in self.events:
            if e["method"] == method:
                return e
        while time.monotonic() < end:
            m = self._recv()
            if "method" in m:
                self.events.append(m)
                if m["method"] == method:
                    return m
        raise RuntimeError("no %s within %ds" % (method, timeout))

    def eval(self, expr):
        """The value of a JavaScript expression (JSON-able), exceptions raised here."""
        r = self.call("Runtime.evaluate", expression=expr, returnByValue=True,
                      awaitPromise=True)
        if "exceptionDetails" in r:
            raise RuntimeError("javascript: %s" % r["exceptionDetails"])
        return r["result"].get("value")

    def open(self, url):
        """Loads url with the page, console, log and network domains watched from the start."""
        for d in ("Page", "Runtime", "Log", "Network"):
            self.call(d + ".enable")
        self.events = []
        self.call("Page.navigate", url=url)
        self.wait_event("Page.loadEventFired")

    def problems(self):
        """Console errors, uncaught exceptions, log errors and dialogs seen so far."""
        out = []
        for e in self.events:
            m, p = e["method"], e.get("params", {})
            if m == "Runtime.exceptionThrown":
                out.append("exception: %s" % p["exceptionDetails"])
            elif m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert",
                                                                        "warning"):
                out.append("console.%s: %s" % (p["type"], p.get("args")))
            elif m == "Log.entryAdded" and p["entry"]["level"] in ("error", "warning"):
                out.append("log: %s" % p["entry"])
            elif m == "Page.javascriptDialogOpening":
                out.append("dialog: %s" % p)
        return out

    def requests(self):
        """URLs the page asked for (Network.requestWillBeSent), the document included."""
        return [e["params"]["request"]["url"] for e in self.events
                if e["method"] == "Network.requestWillBeSent"]

    def screenshot(self, path):
        r = self.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        with open(path, "wb") as f:
            f.write(base64.b64decode(r["data"]))

    def close(self):
        try:
            if getattr(self, "sock", None):
                self.sock.close()
        finally:
            if self.proc.poll() is None:
                self.proc.terminate()
                try:
                    self.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
            shutil.rmtree(self.dir, True)
