#!/usr/bin/env python3
"""The well-behaved customer of scripts/bench-abuse.sh: its own Streamable HTTP session, `tools/call whoami`
at a steady rate over a few HTTP/1.1 keep-alive connections, for a fixed time. Prints one JSON line: calls
scheduled, calls that succeeded (200 and a tool result with "isError":false), failures by kind, and latency
percentiles in ms.

Open loop: call i is due at start + i / rate whatever happened to the calls before it, and its latency runs
from when it was due to when its answer was read, so time spent waiting for a free connection (or for this
process to be scheduled) counts.

Usage: good.py --port P --key K [--rate 50] [--connections 4] [--duration 15] [--timeout 10] [--ready-file F]
"""
import argparse
import asyncio
import json
import os
import sys

import httpx

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import HOST, bump, mcp_headers, open_session, percentile, tool_call  # noqa: E402


async def main(args):
    base = f"http://{HOST}:{args.port}"
    limits = httpx.Limits(max_connections=args.connections, max_keepalive_connections=args.connections)
    async with httpx.AsyncClient(http1=True, http2=False, limits=limits, timeout=httpx.Timeout(args.timeout), trust_env=False) as client:
        session = await open_session(client, base, args.key, "good-customer")
        headers = mcp_headers(args.key, session)
        check = await client.post(f"{base}/mcp", headers=headers, content=tool_call(1, "whoami"))
        if check.status_code != 200 or '"isError":false' not in check.text:
            raise RuntimeError(f"whoami answered {check.status_code}: {check.text[:300]}")
        # Open every connection of the pool before the clock starts (calls made at once, not counted).
        await asyncio.gather(*(client.post(f"{base}/mcp", headers=headers, content=tool_call(2 + i, "whoami")) for i in range(args.connections)))

        loop = asyncio.get_running_loop()
        latencies = []
        failures = {}
        late = [0.0]

        async def call(call_id, due):
            try:
                response = await client.post(f"{base}/mcp", headers=headers, content=tool_call(call_id, "whoami"))
                done = loop.time()
                if response.status_code != 200:
                    bump(failures, f"HTTP {response.status_code}")
                elif '"isError":false' not in response.text:
                    bump(failures, "not a tool result")
                else:
                    latencies.append((done - due) * 1000)
            except httpx.TimeoutException:
                bump(failures, f"no answer in {args.timeout:g} s")
            except httpx.HTTPError as error:
                bump(failures, type(error).__name__)

        total = int(args.duration * args.rate)
        start = loop.time() + 0.05
        if args.ready_file:
            with open(args.ready_file, "w") as ready:
                ready.write("ready\n")
        tasks = []
        for index in range(total):
            due = start + index / args.rate
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            else:
                late[0] = max(late[0], -delay)
            tasks.append(asyncio.create_task(call(100 + index, due)))
        await asyncio.gather(*tasks)

    print(json.dumps({
        "calls": total,
        "ok": len(latencies),
        "failures": failures,
        "p50_ms": percentile(latencies, 0.50),
        "p99_ms": percentile(latencies, 0.99),
        "max_ms": max(latencies) if latencies else None,
        "scheduler_late_ms": late[0] * 1000,
    }))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--rate", type=float, default=50)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--duration", type=float, default=15)
    parser.add_argument("--timeout", type=float, default=10)
    parser.add_argument("--ready-file")
    asyncio.run(main(parser.parse_args()))
