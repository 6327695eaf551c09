#!/usr/bin/env python3
"""Opens N idle connections to a server (half HTTP/1.1 keep-alive after one request, half HTTP/2 after the
preface and SETTINGS), holds them, and prints the server's RSS while they are open.

Usage: idle-connections.py HOST PORT COUNT SERVER_PID
"""
import resource
import socket
import sys
import time

host, port, count, pid = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, count + 100), max(hard, count + 100)))

def rss_kib():
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1

before = rss_kib()
sockets = []
preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"
for index in range(count):
    s = socket.create_connection((host, port))
    if index % 2 == 0:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        s.recv(4096)
    else:
        s.sendall(preface)
        s.recv(4096)
    sockets.append(s)
time.sleep(1.0)
held = rss_kib()
# A normal request still succeeds while they are held.
probe = socket.create_connection((host, port))
probe.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
reply = probe.recv(4096)
ok = reply.startswith(b"HTTP/1.1 200")
alive = 0
for s in sockets:
    s.setblocking(False)
    try:
        alive += 0 if s.recv(1) == b"" else 1
    except BlockingIOError:
        alive += 1
print(f"rss_before_kib={before} rss_with_{count}_idle_kib={held} probe_ok={ok} still_open={alive}")
for s in sockets:
    s.close()
