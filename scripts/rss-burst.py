#!/usr/bin/env python3
"""RSS of `lokal serve` before, during and after a burst of idle connections (issue 15 item 4).

usage: scripts/rss-burst.py LOKAL_BINARY [CONNECTIONS] [ENV=VALUE ...]

Starts the binary on the seed directory with a fresh SQLite store, measures its RSS when ready,
opens CONNECTIONS keep-alive connections that each make one request (so that every connection
has its buffers) and then stay idle, measures the peak, closes them all from the client side,
waits 15 s, and measures again. Loopback only; bounded in count and time.
"""
import os
import re
import socket
import subprocess
import sys
import tempfile
import time

REPO = os.environ.get(
    "LOKAL_REPO", os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
)


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def main():
    binary = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
    extra = dict(a.split("=", 1) for a in sys.argv[3:])
    tmp = tempfile.mkdtemp(prefix="lokal-rss-")
    env = dict(os.environ)
    env.update({
        "LOKAL_DIRECTORY__URL": f"file:{REPO}/seed/directory.ldif",
        "LOKAL_SCHEDULING__POLICIES": f"{REPO}/seed/policies.toml",
        "LOKAL_SCHEDULING__CALENDARS": f"{REPO}/calendars",
        "LOKAL_STORE__URL": f"sqlite:{tmp}/lokal.db",
        "LOKAL_SERVER__DEMO_DATA": "false",
        "RUST_LOG": "warn",
    })
    env.update(extra)
    p = subprocess.Popen([binary, "serve", "--listen", "127.0.0.1:0"], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        line = p.stdout.readline()
        m = re.search(r"http://([\d.]+):(\d+)/", line)
        host, port = m.group(1), int(m.group(2))
        req = b"GET /api/v1/rooms HTTP/1.1\r\nhost: x\r\n\r\n"

        def one_request(s):
            s.sendall(req)
            data = b""
            while b"\r\n\r\n" not in data:
                data += s.recv(65536)
            head, _, body = data.partition(b"\r\n\r\n")
            length = int(re.search(rb"content-length: (\d+)", head, re.I).group(1))
            while len(body) < length:
                body += s.recv(65536)

        warm = socket.create_connection((host, port))
        for _ in range(20):
            one_request(warm)
        warm.close()
        time.sleep(2)
        idle = rss_mb(p.pid)
        conns = []
        for _ in range(n):
            s = socket.create_connection((host, port))
            one_request(s)
            conns.append(s)
        time.sleep(1)
        peak = rss_mb(p.pid)
        for s in conns:
            s.close()
        time.sleep(15)
        after = rss_mb(p.pid)
        print(f"{os.path.basename(binary)} {extra or ''}: idle {idle:.1f} MB, "
              f"{n} open {peak:.1f} MB, 15 s after closing {after:.1f} MB")
    finally:
        p.terminate()
        p.wait(timeout=30)


if __name__ == "__main__":
    main()
