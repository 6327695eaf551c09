#!/usr/bin/env python3
"""Samples a process's resident set (VmRSS in /proc/<pid>/status) every INTERVAL ms until SIGTERM or until the
process is gone, then prints one JSON line: the first, peak and last sample in KiB, the number of samples,
and whether the process was still alive.

A safety ceiling protects the shared machine: past CEILING_MIB the process is killed (SIGKILL) and the line
says so ("killed_at_ceiling").

Usage: rss.py PID [INTERVAL_MS=50] [CEILING_MIB=4096]
"""
import json
import os
import signal
import sys
import time

pid = int(sys.argv[1])
interval = (int(sys.argv[2]) if len(sys.argv) > 2 else 50) / 1000
ceiling_kib = (int(sys.argv[3]) if len(sys.argv) > 3 else 4096) * 1024
stop = False


def on_term(_signum, _frame):
    global stop
    stop = True


signal.signal(signal.SIGTERM, on_term)
signal.signal(signal.SIGINT, on_term)


def rss_kib():
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        return None
    return None


first = peak = last = None
samples = 0
killed = False
alive = True
next_sample = time.monotonic()
while not stop:
    value = rss_kib()
    if value is None:
        alive = False
        break
    samples += 1
    first = value if first is None else first
    peak = value if peak is None else max(peak, value)
    last = value
    if value > ceiling_kib and not killed:
        os.kill(pid, signal.SIGKILL)
        killed = True
    next_sample += interval
    time.sleep(max(0.0, next_sample - time.monotonic()))

print(json.dumps({"first_kib": first, "peak_kib": peak, "last_kib": last, "samples": samples, "alive": alive and not killed, "killed_at_ceiling": killed}))
