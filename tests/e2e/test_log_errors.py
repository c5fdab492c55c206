"""End-to-end: a recording whose file system goes read-only mid-run (an ext4 error with
errors=remount-ro) says exactly how many events are missing from the file, although the cut back
to the last flush fails too (EROFS) and what was written past it stays."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
import tt  # noqa: E402

# Mounts in a mount namespace of our own: nothing outlives the test, even if it is killed.
if os.environ.get("TT_IN_MNTNS") != "1":
    env = dict(os.environ, TT_IN_MNTNS="1")
    os.execvpe("unshare", ["unshare", "-m", "--propagation", "private", sys.executable]
               + sys.argv, env)
tt.enter_private_netns()
NETNS = tt.netns_inode()
TMP = tt.temp_dir("logerr")

# Connections as fast as they go until killed.
CHURN = r"""
import socket, sys
port = int(sys.argv[1])
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", port))
s.listen(128)
print("ready", flush=True)
while True:
    c = socket.create_connection(("127.0.0.1", port))
    a, _ = s.accept()
    c.close()
    a.close()
"""


def ext4(name):
    """A fresh 64 MiB ext4 on a loop device that remounts read-only on an error: its mount."""
    img = os.path.join(TMP, name + ".img")
    mnt = os.path.join(TMP, name)
    subprocess.run(["truncate", "-s", "64M", img], check=True)
    subprocess.run(["mkfs.ext4", "-q", img], check=True)
    os.mkdir(mnt)
    subprocess.run(["mount", "-o", "loop,errors=remount-ro", img, mnt], check=True)
    return mnt


def ext4_error(mnt):
    """An ext4 error, as on a bad sector: the file system goes read-only (EROFS)."""
    dev = os.path.basename(subprocess.run(["findmnt", "-no", "SOURCE", mnt], check=True,
                                          stdout=subprocess.PIPE).stdout.decode().strip())
    with open("/sys/fs/ext4/%s/trigger_fs_error" % dev, "w") as f:
        f.write("tcptrail test\n")


def in_file(path):
    """Event lines that a reader gets back from the file: whole lines only."""
    if path.endswith(".gz"):
        data = subprocess.run("zcat < %s" % path, shell=True, stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL).stdout
    else:
        with open(path, "rb") as f:
            data = f.read()
    lines = data.split(b"\n")[:-1]  # the part after the last newline is no line
    return sum(b'"type":"state"' in l for l in lines), len(lines)


def run(log, fail, port):
    """Traces churn into log, makes its file system fail once some flushes are in, stops."""
    t = tt.Tracer("-q", "-w", log, "--netns", str(NETNS), json_output=False)
    c = tt.run_py(CHURN, port)
    try:
        assert tt.read_line(c) == "ready"
        # several flushes and some unflushed data in the file
        tt.wait_until(lambda: os.path.exists(log) and os.stat(log).st_size > 3 * 1024 * 1024,
                      timeout=60, what="a few MiB in %s" % log)
        fail()
        tt.wait_until(lambda: any("no longer recorded" in l for l in t.stderr_lines),
                      what="the write error")
    finally:
        c.kill()
        c.wait()
    events, unwritten = tt.stop_after_write_error(t, log)
    states, _ = in_file(log)
    assert states > 0 and unwritten > 0, (states, unwritten)
    assert states + unwritten == events, "file %d + not written %d != %d events (%d off)" % (
        states, unwritten, events, states + unwritten - events)


def case(fs_fail, name, port):
    mnt = ext4(name)
    try:
        run(os.path.join(mnt, name), lambda: fs_fail(mnt), port)
    finally:
        subprocess.run(["umount", "-l", mnt], check=True)


def test_erofs_gzip():
    case(ext4_error, "ro.jsonl.gz", 8131)


def test_erofs_plain():
    case(ext4_error, "ro.jsonl", 8132)


if __name__ == "__main__":
    tt.main([test_erofs_gzip, test_erofs_plain])
