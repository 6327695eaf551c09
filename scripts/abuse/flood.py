#!/usr/bin/env python3
"""The floods of scripts/bench-abuse.sh. Each is bounded in count and in time (--duration), talks only to
127.0.0.1, closes everything it opened when it stops, and prints one JSON line saying what it got.

Usage: flood.py KIND --port P --duration SECONDS [options]

Kinds:
  h1-body-slow   --connections 400 --body-bytes 4000000: POST /mcp without credentials over HTTP/1.1, each
                 connection sending its body in 64 KiB pieces spread over --send-seconds (default 10), so
                 that all of them are in flight at once.
  h1-body-fast   the same, each body sent as fast as the connection takes it.
  h2-body        --connections 3 --streams 100 --body-bytes 4000000: h2c (prior knowledge), every stream a
                 POST /mcp without credentials sending its body as fast as flow control lets it.
  idle           --silent 8000 connections that send nothing, --half-line 2000 that send half a request
                 line ("POST /mcp HT"), --shut-wr 2000 that send a whole GET /healthz and then
                 shutdown(SHUT_WR), interleaved; all held until the end, while a fresh connection's
                 GET /healthz probes every 0.5 s whether anyone else can still connect.
  sessions       --key (a free-plan customer) --connections 8: POST /mcp initialize as fast as the server
                 answers, on 8 keep-alive connections.
  authorize      --connections 8: registers an OAuth client, then GET /oauth/authorize (a valid request,
                 a new PKCE challenge each) as fast as the server answers, from one address.
  unread-streams --key (an enterprise customer) --streams 8: opens 8 legacy GET /sse streams and 8
                 Streamable HTTP GET /mcp streams with a 4 KiB receive buffer and never reads them past
                 their first event; then POST /messages tools/call on the SSE sessions (the answers go to
                 the unread streams): 100 sandbox_send_message with 4,000-character texts, then
                 sandbox_read_messages {"limit": 100} (~0.8 MB answers) as fast as the server accepts them.
"""
import argparse
import asyncio
import base64
import hashlib
import json
import os
import secrets
import socket
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import HOST, bump, mcp_headers, open_session, raise_open_files, tool_call  # noqa: E402


def status_of(head):
    """The status code of an HTTP/1.1 status line (bytes), or None."""
    parts = head.split(b" ", 2)
    if len(parts) >= 2 and parts[0].startswith(b"HTTP/") and parts[1].isdigit():
        return int(parts[1])
    return None


def abort(writer):
    try:
        writer.transport.abort()
    except Exception:
        pass


# MARK: unauthenticated big bodies, HTTP/1.1

async def h1_bodies(args, slow):
    size = args.body_bytes
    chunk = 64 * 1024 if slow else 256 * 1024
    body = b"x" * chunk
    pieces = -(-size // chunk)
    pace = args.send_seconds / pieces if slow else 0
    head = (f"POST /mcp HTTP/1.1\r\nHost: {HOST}:{args.port}\r\nContent-Type: application/json\r\n"
            f"Accept: application/json, text/event-stream\r\nContent-Length: {size}\r\n\r\n").encode()
    outcomes = {}
    sent_total = [0]
    writers = []
    began = time.monotonic()
    answer_times = []
    connect_gate = asyncio.Semaphore(100)

    async def one():
        try:
            async with connect_gate:
                reader, writer = await asyncio.open_connection(HOST, args.port)
        except OSError as error:
            bump(outcomes, f"connect failed: {type(error).__name__}")
            return
        writers.append(writer)
        response = asyncio.create_task(reader.readline())
        sent = 0
        error = None
        answered_at = []
        response.add_done_callback(lambda _: (answered_at.append(sent), answer_times.append(time.monotonic() - began)))
        try:
            writer.write(head)
            while sent < size and not response.done():
                piece = min(chunk, size - sent)
                writer.write(body[:piece])
                await writer.drain()
                sent += piece
                sent_total[0] += piece
                if pace:
                    await asyncio.sleep(pace)
        except (ConnectionError, OSError) as failure:
            error = type(failure).__name__
        try:
            line = await asyncio.wait_for(asyncio.shield(response), timeout=args.duration)
        except (asyncio.TimeoutError, ConnectionError, OSError):
            line = b""
        status = status_of(line)
        when = "after the whole body" if sent >= size else "before the body was sent"
        if status and answered_at and answered_at[0] < size:
            when = f"after {answered_at[0] / 1e6:.1f} MB of the body" if answered_at[0] else "before any of the body"
        if status:
            bump(outcomes, f"{status} {when}")
        else:
            bump(outcomes, f"closed without an answer {when}" + (f" ({error})" if error else ""))
        abort(writer)

    tasks = [asyncio.create_task(one()) for _ in range(args.connections)]
    done, pending = await asyncio.wait(tasks, timeout=args.duration)
    for task in pending:
        task.cancel()
    if pending:
        bump(outcomes, "still sending or waiting at the deadline", len(pending))
    for writer in writers:
        abort(writer)
    await asyncio.gather(*pending, return_exceptions=True)
    return {"connections": args.connections, "body_bytes": size, "bytes_sent": sent_total[0], "outcomes": outcomes,
            "answers_between_s": [round(min(answer_times), 1), round(max(answer_times), 1)] if answer_times else None}


# MARK: unauthenticated big bodies, h2c

async def h2_bodies(args):
    import h2.config
    import h2.connection
    import h2.events
    import h2.exceptions
    import h2.settings

    size = args.body_bytes
    outcomes = {}
    totals = {"bytes_sent": 0, "goaway": 0}
    began = time.monotonic()
    answer_times = []

    async def connection():
        reader, writer = await asyncio.open_connection(HOST, args.port)
        conn = h2.connection.H2Connection(config=h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
        conn.initiate_connection()
        writer.write(conn.data_to_send())
        await writer.drain()
        streams = {}
        opened = 0
        wake = asyncio.Event()
        finished = asyncio.Event()
        closed = [False]

        def settle():
            if all(s["done"] for s in streams.values()) and opened == args.streams:
                finished.set()

        async def read_loop():
            try:
                while True:
                    data = await reader.read(65536)
                    if not data:
                        break
                    for event in conn.receive_data(data):
                        stream = streams.get(getattr(event, "stream_id", None) or -1)
                        if isinstance(event, h2.events.ResponseReceived) and stream:
                            stream["status"] = int(dict(event.headers).get(":status", "0"))
                            stream["sent_at_status"] = stream["sent"]
                            answer_times.append(time.monotonic() - began)
                        elif isinstance(event, h2.events.DataReceived):
                            conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                        elif isinstance(event, h2.events.StreamEnded) and stream:
                            stream["done"] = True
                        elif isinstance(event, h2.events.StreamReset) and stream:
                            stream["reset"] = event.error_code
                            stream["done"] = True
                        elif isinstance(event, h2.events.ConnectionTerminated):
                            totals["goaway"] += 1
                            closed[0] = True
                    out = conn.data_to_send()
                    if out:
                        writer.write(out)
                    wake.set()
                    settle()
                    if closed[0]:
                        break
            except (ConnectionError, OSError, h2.exceptions.ProtocolError):
                pass
            closed[0] = True
            wake.set()
            finished.set()

        reading = asyncio.create_task(read_loop())
        headers = [(":method", "POST"), (":scheme", "http"), (":authority", f"{HOST}:{args.port}"), (":path", "/mcp"),
                   ("content-type", "application/json"), ("accept", "application/json, text/event-stream"),
                   ("content-length", str(size))]
        piece = b"x" * 16384
        try:
            for _ in range(args.streams):
                stream_id = conn.get_next_available_stream_id()
                conn.send_headers(stream_id, headers)
                streams[stream_id] = {"sent": 0, "status": None, "reset": None, "done": False}
                opened += 1
            writer.write(conn.data_to_send())
            await writer.drain()
            # Round robin, resuming after the last stream served: the connection's flow-control window, not
            # the streams', is what usually runs out, and every stream should keep its body in flight.
            order = list(streams)
            turn = 0
            while not closed[0]:
                progress = False
                start = turn
                for step in range(len(order)):
                    stream_id = order[(start + step) % len(order)]
                    stream = streams[stream_id]
                    if stream["done"] or stream["sent"] >= size:
                        continue
                    try:
                        window = min(conn.local_flow_control_window(stream_id), conn.max_outbound_frame_size, size - stream["sent"])
                        if window <= 0:
                            continue
                        conn.send_data(stream_id, piece[:window], end_stream=stream["sent"] + window >= size)
                        stream["sent"] += window
                        progress = True
                        turn = (start + step + 1) % len(order)
                    except (h2.exceptions.StreamClosedError, h2.exceptions.ProtocolError):
                        stream["done"] = True
                out = conn.data_to_send()
                if out:
                    writer.write(out)
                    await writer.drain()
                if not progress:
                    if all(s["done"] or s["sent"] >= size for s in streams.values()):
                        break
                    wake.clear()
                    await wake.wait()
            await finished.wait()
        except (ConnectionError, OSError):
            pass
        finally:
            for stream in streams.values():
                totals["bytes_sent"] += stream["sent"]
                when = "after the whole body" if stream["sent"] >= size else "before the body was sent"
                if stream["status"] and stream.get("sent_at_status", size) < size:
                    at = stream["sent_at_status"]
                    when = f"after {at / 1e6:.1f} MB of the body" if at else "before any of the body"
                if stream["status"]:
                    bump(outcomes, f"{stream['status']} {when}")
                elif stream["reset"] is not None:
                    bump(outcomes, f"RST_STREAM {stream['reset']} {when}")
                else:
                    bump(outcomes, f"no answer {when}")
            reading.cancel()
            abort(writer)

    tasks = [asyncio.create_task(connection()) for _ in range(args.connections)]
    done, pending = await asyncio.wait(tasks, timeout=args.duration)
    for task in pending:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    for task in done:
        if task.exception():
            bump(outcomes, f"connection failed: {type(task.exception()).__name__}")
    return {"connections": args.connections, "streams_per_connection": args.streams, "body_bytes": size,
            "bytes_sent": totals["bytes_sent"], "goaway": totals["goaway"], "cut_at_deadline": len(pending), "outcomes": outcomes,
            "answers_between_s": [round(min(answer_times), 1), round(max(answer_times), 1)] if answer_times else None}


# MARK: idle and half-open connections

async def idle(args):
    counts = {"silent": args.silent, "half request line": args.half_line, "request then SHUT_WR": args.shut_wr}
    raise_open_files(sum(counts.values()) + 200)
    payloads = {
        "silent": b"",
        "half request line": b"POST /mcp HT",
        "request then SHUT_WR": f"GET /healthz HTTP/1.1\r\nHost: {HOST}:{args.port}\r\n\r\n".encode(),
    }
    deadline = time.monotonic() + args.duration
    held = []
    outcomes = {}
    gate = asyncio.Semaphore(200)

    async def one(kind):
        try:
            async with gate:
                reader, writer = await asyncio.wait_for(asyncio.open_connection(HOST, args.port), timeout=max(0.1, deadline - time.monotonic()))
        except (OSError, asyncio.TimeoutError) as error:
            bump(outcomes, f"{kind}: connect failed ({type(error).__name__})")
            return
        try:
            if payloads[kind]:
                writer.write(payloads[kind])
                await writer.drain()
            if kind == "request then SHUT_WR":
                writer.write_eof()
        except (ConnectionError, OSError):
            pass
        held.append((kind, reader, writer))

    # Interleaved, so that every kind is spread over the opening time.
    order = []
    remaining = dict(counts)
    while any(remaining.values()):
        for kind in counts:
            if remaining[kind]:
                order.append(kind)
                remaining[kind] -= 1
    opening = time.monotonic()
    await asyncio.wait([asyncio.create_task(one(kind)) for kind in order], timeout=max(0.1, deadline - time.monotonic() - 2))
    opened_in = time.monotonic() - opening

    async def probe():
        """A fresh connection's GET /healthz: its status, "closed" (refused at accept) or the error."""
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(HOST, args.port), timeout=2)
            writer.write(f"GET /healthz HTTP/1.1\r\nHost: {HOST}:{args.port}\r\nConnection: close\r\n\r\n".encode())
            line = await asyncio.wait_for(reader.readline(), timeout=2)
            abort(writer)
            return str(status_of(line) or "closed")
        except (OSError, asyncio.TimeoutError) as error:
            return type(error).__name__

    probes = {}
    while time.monotonic() < deadline - 0.5:
        bump(probes, await probe())
        await asyncio.sleep(0.5)
    for kind, reader, writer in held:
        # What arrived so far, without waiting: asyncio reads each socket into its StreamReader as data comes.
        data = bytes(getattr(reader, "_buffer", b""))
        answered = status_of(data.split(b"\r\n", 1)[0]) if data else None
        server_closed = getattr(reader, "_eof", False) or reader.exception() is not None or writer.transport.is_closing()
        state = "closed by the server" if server_closed else "still open"
        bump(outcomes, f"{kind}: {state}" + (f", answered {answered}" if answered else ""))
        abort(writer)
    return {"connections": len(order), "opened": len(held), "opened_in_s": round(opened_in, 1), "probes": probes, "outcomes": outcomes}


# MARK: MCP session exhaustion

async def sessions(args):
    import httpx
    from common import initialize_body

    base = f"http://{HOST}:{args.port}"
    outcomes = {}
    deadline = time.monotonic() + args.duration
    limits = httpx.Limits(max_connections=args.connections, max_keepalive_connections=args.connections)
    async with httpx.AsyncClient(limits=limits, timeout=5, trust_env=False) as client:
        async def worker():
            while time.monotonic() < deadline:
                try:
                    response = await client.post(f"{base}/mcp", headers=mcp_headers(args.key), content=initialize_body("flooder"))
                    bump(outcomes, f"HTTP {response.status_code}")
                except httpx.HTTPError as error:
                    bump(outcomes, type(error).__name__)
        await asyncio.gather(*(worker() for _ in range(args.connections)))
    return {"initialize_requests": sum(outcomes.values()), "outcomes": outcomes}


# MARK: pending sign-in exhaustion

async def authorize(args):
    import httpx

    base = f"http://{HOST}:{args.port}"
    outcomes = {}
    deadline = time.monotonic() + args.duration
    limits = httpx.Limits(max_connections=args.connections, max_keepalive_connections=args.connections)
    async with httpx.AsyncClient(limits=limits, timeout=5, trust_env=False) as client:
        redirect = "http://127.0.0.1:9/callback"
        registered = await client.post(f"{base}/oauth/register", json={
            "client_name": "abuse", "redirect_uris": [redirect], "token_endpoint_auth_method": "none",
            "grant_types": ["authorization_code", "refresh_token"]})
        if registered.status_code != 201:
            raise RuntimeError(f"registration answered {registered.status_code}: {registered.text[:300]}")
        client_id = registered.json()["client_id"]

        def query():
            verifier = secrets.token_urlsafe(48)
            challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
            return urllib.parse.urlencode([
                ("response_type", "code"), ("client_id", client_id), ("redirect_uri", redirect), ("state", secrets.token_hex(8)),
                ("code_challenge", challenge), ("code_challenge_method", "S256"), ("scope", "mcp offline_access"),
                ("resource", f"{base}/mcp")])

        async def worker():
            while time.monotonic() < deadline:
                try:
                    response = await client.get(f"{base}/oauth/authorize?{query()}")
                    bump(outcomes, f"HTTP {response.status_code}")
                except httpx.HTTPError as error:
                    bump(outcomes, type(error).__name__)
        await asyncio.gather(*(worker() for _ in range(args.connections)))
    return {"authorize_requests": sum(outcomes.values()), "outcomes": outcomes}


# MARK: unread event streams

async def unread_streams(args):
    import httpx

    base = f"http://{HOST}:{args.port}"
    loop = asyncio.get_running_loop()
    deadline = time.monotonic() + args.duration
    outcomes = {}
    sockets = []

    async def stalled_stream(request, until):
        """Sends `request` on a socket with a 4 KiB receive buffer, reads until `until` has arrived, then never
        reads again; returns what it read."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setblocking(False)
        await loop.sock_connect(sock, (HOST, args.port))
        sockets.append(sock)
        await loop.sock_sendall(sock, request)
        seen = b""
        while until not in seen:
            data = await asyncio.wait_for(loop.sock_recv(sock, 4096), timeout=5)
            if not data:
                raise RuntimeError(f"stream closed before it started: {seen[:300]!r}")
            seen += data
        return seen

    sse_sessions = []
    for _ in range(args.streams):
        seen = await stalled_stream(
            (f"GET /sse HTTP/1.1\r\nHost: {HOST}:{args.port}\r\nx-api-key: {args.key}\r\nAccept: text/event-stream\r\n\r\n").encode(),
            b"sessionId=")
        while b"\n" not in seen.split(b"sessionId=", 1)[1]:
            seen += await asyncio.wait_for(loop.sock_recv(sockets[-1], 4096), timeout=5)
        sse_sessions.append(seen.split(b"sessionId=", 1)[1].split(b"\n", 1)[0].strip().decode())

    limits = httpx.Limits(max_connections=args.connections, max_keepalive_connections=args.connections)
    async with httpx.AsyncClient(limits=limits, timeout=10, trust_env=False) as client:
        for _ in range(args.streams):
            session = await open_session(client, base, args.key, "unread-streams")
            await stalled_stream(
                (f"GET /mcp HTTP/1.1\r\nHost: {HOST}:{args.port}\r\nx-api-key: {args.key}\r\nAccept: text/event-stream\r\n"
                 f"Mcp-Session-Id: {session}\r\nMcp-Protocol-Version: 2025-06-18\r\n\r\n").encode(),
                b"\r\n\r\n")

        post_headers = {"x-api-key": args.key, "content-type": "application/json"}
        counter = [0]
        published = {"sandbox_send_message": 0, "sandbox_read_messages": 0}
        text = "m" * 4000

        async def post(name, arguments):
            counter[0] += 1
            session = sse_sessions[counter[0] % len(sse_sessions)]
            try:
                response = await client.post(f"{base}/messages?sessionId={session}", headers=post_headers,
                                             content=tool_call(counter[0], name, arguments))
                bump(outcomes, f"{name}: HTTP {response.status_code}")
                if response.status_code == 202:
                    published[name] += 1
                return response.status_code
            except httpx.HTTPError as error:
                bump(outcomes, f"{name}: {type(error).__name__}")
                return None

        sends = iter(range(100))

        async def sender():
            for _ in sends:
                if time.monotonic() >= deadline:
                    return
                await post("sandbox_send_message", {"to": "abuse", "text": text})

        await asyncio.gather(*(sender() for _ in range(args.connections)))

        async def reader_worker():
            while time.monotonic() < deadline:
                status = await post("sandbox_read_messages", {"limit": 100})
                if status == 429:
                    await asyncio.sleep(0.2)

        await asyncio.gather(*(reader_worker() for _ in range(args.connections)))

    open_at_end = 0
    for sock in sockets:
        try:
            data = sock.recv(1, socket.MSG_PEEK)
            open_at_end += 1 if data else 0
        except BlockingIOError:
            open_at_end += 1
        except OSError:
            pass
        sock.close()
    return {"sse_streams": args.streams, "mcp_get_streams": args.streams, "streams_open_at_end": open_at_end,
            "calls_accepted": published, "outcomes": outcomes}


async def main(args):
    started = time.monotonic()
    raise_open_files(20000)
    if args.kind == "h1-body-slow":
        result = await h1_bodies(args, slow=True)
    elif args.kind == "h1-body-fast":
        result = await h1_bodies(args, slow=False)
    elif args.kind == "h2-body":
        result = await h2_bodies(args)
    elif args.kind == "idle":
        result = await idle(args)
    elif args.kind == "sessions":
        result = await sessions(args)
    elif args.kind == "authorize":
        result = await authorize(args)
    elif args.kind == "unread-streams":
        result = await unread_streams(args)
    else:
        raise SystemExit(f"unknown flood {args.kind}")
    result["kind"] = args.kind
    result["elapsed_s"] = round(time.monotonic() - started, 1)
    print(json.dumps(result))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("kind")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--duration", type=float, default=12)
    parser.add_argument("--key")
    parser.add_argument("--connections", type=int)
    parser.add_argument("--streams", type=int)
    parser.add_argument("--body-bytes", type=int, default=4_000_000)
    parser.add_argument("--send-seconds", type=float, default=10)
    parser.add_argument("--silent", type=int, default=8000, help="idle: connections that send nothing")
    parser.add_argument("--half-line", type=int, default=2000, help="idle: connections that send half a request line")
    parser.add_argument("--shut-wr", type=int, default=2000, help="idle: connections that send a request, then shutdown(SHUT_WR)")
    arguments = parser.parse_args()
    defaults = {"h1-body-slow": (400, None), "h1-body-fast": (400, None), "h2-body": (3, 100), "idle": (None, None),
                "sessions": (8, None), "authorize": (8, None), "unread-streams": (8, 8)}
    connections, streams = defaults.get(arguments.kind, (None, None))
    arguments.connections = arguments.connections or connections
    arguments.streams = arguments.streams or streams
    asyncio.run(main(arguments))
