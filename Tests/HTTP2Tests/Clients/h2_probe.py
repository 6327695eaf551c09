"""Crafted HTTP/2 clients (hyperframe frames on a raw socket, HPACK by hand) for the server's tests.

Usage: h2_probe.py COMMAND --port PORT [options]; prints one JSON object (the last line of stdout).
The raw framing lets a test send what a well-behaved library refuses to: floods, overflowing windows,
frames on closed streams, a broken preface.
"""

import argparse
import json
import select
import socket
import sys
import time

import hpack
from hyperframe.frame import (
    ContinuationFrame,
    DataFrame,
    Frame,
    GoAwayFrame,
    HeadersFrame,
    PingFrame,
    RstStreamFrame,
    SettingsFrame,
    WindowUpdateFrame,
)

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
ERROR_NAMES = {
    0: "NO_ERROR", 1: "PROTOCOL_ERROR", 2: "INTERNAL_ERROR", 3: "FLOW_CONTROL_ERROR", 4: "SETTINGS_TIMEOUT",
    5: "STREAM_CLOSED", 6: "FRAME_SIZE_ERROR", 7: "REFUSED_STREAM", 8: "CANCEL", 9: "COMPRESSION_ERROR",
    10: "CONNECT_ERROR", 11: "ENHANCE_YOUR_CALM", 12: "INADEQUATE_SECURITY", 13: "HTTP_1_1_REQUIRED",
}


class Connection:
    """One HTTP/2 connection driven frame by frame; records what the server sends."""

    def __init__(self, port, host="127.0.0.1", settings=None, preface=True, window_updates=True, rcvbuf=None):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.connect((host, port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.encoder = hpack.Encoder()
        self.decoder = hpack.Decoder()
        self.decoder.max_header_list_size = 1 << 24
        self.window_updates = window_updates
        self.inbound = b""
        self.closed = False
        self.send_failed = False
        self.reset_by_peer = False
        self.goaway = None
        self.resets = {}
        self.streams = {}
        self.frames = []
        self.pending_block = None
        # Flow control as the server grants it: what this client may still send, and every increment.
        self.settings_seen = False
        self.initial_window = 65535
        self.connection_window = 65535
        self.stream_windows = {}
        self.increments = {}
        if preface:
            self.send(PREFACE + SettingsFrame(0, settings=settings or {}).serialize())

    # Sending

    def send(self, data):
        """Sends bytes; returns False once the server has closed the connection."""
        if self.send_failed:
            return False
        try:
            self.sock.sendall(data)
            return True
        except (BrokenPipeError, ConnectionResetError):
            # What the server sent before closing may still be waiting to be read.
            self.send_failed = True
            return False

    def header_block(self, path, method="GET", extra=(), authority="127.0.0.1"):
        headers = [(":method", method), (":scheme", "http"), (":authority", authority), (":path", path)]
        headers += list(extra)
        return self.encoder.encode(headers)

    def request(self, stream_id, path, method="GET", extra=(), end_stream=True, authority="127.0.0.1"):
        """Sends a request head, split into HEADERS and CONTINUATION frames of at most 16 KiB."""
        block = self.header_block(path, method, extra, authority)
        chunks = [block[i:i + 16384] for i in range(0, len(block), 16384)] or [b""]
        data = b""
        for index, chunk in enumerate(chunks):
            last = index == len(chunks) - 1
            if index == 0:
                frame = HeadersFrame(stream_id, data=chunk)
                if end_stream:
                    frame.flags.add("END_STREAM")
            else:
                frame = ContinuationFrame(stream_id, data=chunk)
            if last:
                frame.flags.add("END_HEADERS")
            data += frame.serialize()
        self.stream(stream_id)
        return self.send(data)

    def data(self, stream_id, payload, end_stream=False):
        frame = DataFrame(stream_id, data=payload)
        if end_stream:
            frame.flags.add("END_STREAM")
        return self.send(frame.serialize())

    # Receiving

    def stream(self, stream_id):
        return self.streams.setdefault(stream_id, {
            "status": None, "headers": {}, "body": b"", "ended": False, "chunks": [], "reset": None,
        })

    def read(self, timeout):
        """Reads what arrives within `timeout` seconds; returns False once the connection is closed."""
        if self.closed:
            return False
        ready, _, _ = select.select([self.sock], [], [], max(0.0, timeout))
        if not ready:
            return True
        try:
            data = self.sock.recv(1 << 20)
        except ConnectionResetError:
            self.closed = True
            self.reset_by_peer = True
            return False
        if not data:
            self.closed = True
            return False
        self.inbound += data
        self.parse()
        return True

    def parse(self):
        while len(self.inbound) >= 9:
            frame, length = Frame.parse_frame_header(memoryview(self.inbound[:9]))
            if len(self.inbound) < 9 + length:
                return
            frame.parse_body(memoryview(self.inbound[9:9 + length]))
            self.inbound = self.inbound[9 + length:]
            self.handle(frame)

    def handle(self, frame):
        self.frames.append(frame.type)
        if isinstance(frame, SettingsFrame):
            if "ACK" not in frame.flags:
                self.settings_seen = True
                initial = frame.settings.get(SettingsFrame.INITIAL_WINDOW_SIZE)
                if initial is not None:
                    for stream_id in self.stream_windows:
                        self.stream_windows[stream_id] += initial - self.initial_window
                    self.initial_window = initial
                self.send(SettingsFrame(0, flags=["ACK"]).serialize())
        elif isinstance(frame, WindowUpdateFrame):
            self.increments[frame.stream_id] = self.increments.get(frame.stream_id, 0) + frame.window_increment
            if frame.stream_id == 0:
                self.connection_window += frame.window_increment
            elif frame.stream_id in self.stream_windows:
                self.stream_windows[frame.stream_id] += frame.window_increment
        elif isinstance(frame, PingFrame):
            if "ACK" not in frame.flags:
                self.send(PingFrame(0, opaque_data=frame.opaque_data, flags=["ACK"]).serialize())
        elif isinstance(frame, (HeadersFrame, ContinuationFrame)):
            if isinstance(frame, HeadersFrame):
                self.pending_block = b""
            self.pending_block += frame.data
            if "END_HEADERS" in frame.flags:
                stream = self.stream(frame.stream_id)
                for name, value in self.decoder.decode(self.pending_block, raw=True):
                    name, value = name.decode(), value.decode(errors="replace")
                    if name == ":status":
                        stream["status"] = int(value)
                    else:
                        stream["headers"][name] = value
                self.pending_block = None
            if "END_STREAM" in frame.flags:
                self.stream(frame.stream_id)["ended"] = True
        elif isinstance(frame, DataFrame):
            stream = self.stream(frame.stream_id)
            stream["body"] += frame.data
            if frame.data:
                stream["chunks"].append({"t": time.monotonic(), "size": len(frame.data)})
            if "END_STREAM" in frame.flags:
                stream["ended"] = True
            if self.window_updates and frame.flow_controlled_length:
                update = WindowUpdateFrame(0, window_increment=frame.flow_controlled_length).serialize()
                if "END_STREAM" not in frame.flags:
                    update += WindowUpdateFrame(frame.stream_id, window_increment=frame.flow_controlled_length).serialize()
                self.send(update)
        elif isinstance(frame, RstStreamFrame):
            self.resets[frame.stream_id] = frame.error_code
            self.stream(frame.stream_id)["reset"] = frame.error_code
        elif isinstance(frame, GoAwayFrame):
            if self.goaway is None or frame.error_code != 0:
                self.goaway = {"error": frame.error_code, "error_name": ERROR_NAMES.get(frame.error_code, "?"),
                               "last_stream_id": frame.last_stream_id}

    def read_until(self, predicate, seconds):
        """Reads until `predicate()` holds, the connection closes, or time runs out; returns predicate()."""
        deadline = time.monotonic() + seconds
        while not predicate() and time.monotonic() < deadline:
            if not self.read(min(0.2, deadline - time.monotonic())):
                break
        return predicate()

    def wait_closed(self, seconds):
        return self.read_until(lambda: self.closed, seconds)

    def finished(self, stream_id):
        stream = self.streams.get(stream_id)
        return bool(stream) and (stream["ended"] or stream["reset"] is not None)

    def summary(self, stream_id):
        stream = self.stream(stream_id)
        return {"status": stream["status"], "body": stream["body"].decode(errors="replace"), "ended": stream["ended"],
                "reset": stream["reset"], "headers": stream["headers"]}

    def report(self):
        return {"closed": self.closed, "reset_by_peer": self.reset_by_peer, "goaway": self.goaway,
                "resets": {str(key): value for key, value in self.resets.items()}, "frame_types": sorted(set(self.frames))}


def normal_request(port):
    """A plain GET on a fresh connection: what every client should still get after an attack."""
    connection = Connection(port)
    connection.request(1, "/fast")
    connection.read_until(lambda: connection.finished(1), 20)
    result = connection.summary(1)
    connection.sock.close()
    return result


# Commands


def bad_preface(args):
    """Sends a wrong preface (`--preface`, hex; by default the right start followed by garbage); the server
    must answer GOAWAY and close."""
    connection = Connection(args.port, preface=False)
    connection.send(bytes.fromhex(args.preface) if args.preface else b"PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n" + b"\x00" * 64)
    started = time.monotonic()
    connection.wait_closed(args.seconds)
    return {**connection.report(), "elapsed": time.monotonic() - started,
            "http1_response": connection.inbound.startswith(b"HTTP/1")}


def big_headers(args):
    """A request whose header block exceeds the server's limit, then a normal request on the same connection."""
    connection = Connection(args.port)
    value = "v" * 1000
    extra = [("x-big-%d" % index, value) for index in range(args.bytes // 1000)]
    connection.request(1, "/fast", extra=extra)
    connection.read_until(lambda: connection.finished(1) or connection.goaway is not None, args.seconds)
    first = connection.summary(1)
    connection.request(3, "/fast")
    connection.read_until(lambda: connection.finished(3) or connection.closed, args.seconds)
    return {**connection.report(), "first": first, "second": connection.summary(3)}


def continuation_flood(args):
    """HEADERS without END_HEADERS followed by endless CONTINUATION frames (CVE-2024-27316 style)."""
    connection = Connection(args.port)
    block = connection.header_block("/fast")
    connection.send(HeadersFrame(1, data=block, flags=["END_STREAM"]).serialize())
    encoder = hpack.Encoder()
    fragment = encoder.encode([("x-flood", "f" * 100)])
    sent = 0
    started = time.monotonic()
    while sent < args.count and not connection.closed and not connection.send_failed:
        batch = b"".join(ContinuationFrame(1, data=fragment).serialize() for _ in range(100))
        if not connection.send(batch):
            break
        sent += 100
        connection.read(0)
        if connection.goaway is not None:
            break
    connection.wait_closed(args.seconds)
    return {**connection.report(), "frames_sent": sent, "elapsed": time.monotonic() - started}


def rst_flood(args):
    """Opens streams and resets them at once, as fast as possible (rapid reset, CVE-2023-44487)."""
    connection = Connection(args.port)
    connection.read(0.2)
    stream_id = 1
    sent = 0
    started = time.monotonic()
    while sent < args.count and not connection.closed and not connection.send_failed and connection.goaway is None:
        batch = b""
        for _ in range(50):
            headers = connection.header_block("/slow?ms=2000")
            batch += HeadersFrame(stream_id, data=headers, flags=["END_HEADERS", "END_STREAM"]).serialize()
            batch += RstStreamFrame(stream_id, error_code=8).serialize()
            stream_id += 2
            sent += 1
        if not connection.send(batch):
            break
        connection.read(0)
    connection.read_until(lambda: connection.goaway is not None, args.seconds)
    connection.wait_closed(args.seconds)
    return {**connection.report(), "streams_reset": sent, "elapsed": time.monotonic() - started}


def window_overflow(args):
    """A WINDOW_UPDATE that takes the connection window past 2^31-1."""
    connection = Connection(args.port)
    connection.read(0.2)
    connection.send(WindowUpdateFrame(0, window_increment=0x7FFFFFFF).serialize())
    connection.wait_closed(args.seconds)
    return connection.report()


def data_after_close(args):
    """A complete request, its complete response, then DATA on the now closed stream."""
    connection = Connection(args.port)
    connection.request(1, "/fast")
    connection.read_until(lambda: connection.finished(1), args.seconds)
    response = connection.summary(1)
    connection.data(1, b"late data", end_stream=True)
    connection.read_until(lambda: connection.goaway is not None or 1 in connection.resets, args.seconds)
    # Give the server a moment to close if it chose GOAWAY.
    connection.read_until(lambda: connection.closed, 2 if connection.goaway is not None else 0.5)
    return {**connection.report(), "response": response}


def request_timeout(args):
    """A request whose body never completes: the server answers 408 after its request timeout."""
    connection = Connection(args.port)
    connection.request(1, args.path, method="POST", extra=[("content-length", "100")], end_stream=False)
    connection.data(1, b"0123456789")
    started = time.monotonic()
    connection.read_until(lambda: connection.finished(1) or connection.closed, args.seconds)
    return {**connection.report(), "response": connection.summary(1), "elapsed": time.monotonic() - started}


def upload(args):
    """POSTs `--bytes` bytes to `--path` in 16 KiB DATA frames, as far as the server lets it."""
    connection = Connection(args.port)
    extra = [("content-length", str(args.bytes))] if args.content_length else []
    connection.request(1, args.path, method="POST", extra=extra, end_stream=False)
    sent = 0
    chunk = b"u" * 16384
    while sent < args.bytes and not connection.finished(1) and not connection.closed:
        size = min(len(chunk), args.bytes - sent)
        # Stay within the server's flow-control window (1 MiB initial): the server resets or answers first.
        if not connection.data(1, chunk[:size], end_stream=sent + size >= args.bytes):
            break
        sent += size
        connection.read(0)
        if sent >= 900 * 1024:
            break
    connection.read_until(lambda: connection.finished(1) or connection.closed, args.seconds)
    return {**connection.report(), "response": connection.summary(1), "sent": sent}


PATTERN = bytes(range(251))


def pattern(offset, size):
    """Bytes `offset..<offset+size` of the test payload: 0, 1, ..., 250, 0, 1, ... (the Swift tests hash the same)."""
    start = offset % len(PATTERN)
    repeated = PATTERN * ((start + size) // len(PATTERN) + 1)
    return repeated[start:start + size]


def send_within_window(connection, stream_id, payload, deadline):
    """Sends `payload` on a stream as flow control allows, then ends the stream; False if time ran out."""
    sent = 0
    while not connection.finished(stream_id) and not connection.closed and time.monotonic() < deadline:
        allowed = min(16384, len(payload) - sent, connection.connection_window, connection.stream_windows[stream_id])
        if allowed <= 0 and sent < len(payload):
            connection.read(0.05)
            continue
        connection.data(stream_id, payload[sent:sent + allowed], end_stream=sent + allowed >= len(payload))
        connection.connection_window -= allowed
        connection.stream_windows[stream_id] -= allowed
        sent += allowed
        connection.read(0)
        if sent >= len(payload):
            return True
    return False


def side_requests(connection, first_stream, seconds):
    """While stream 1 is held up: a GET and a 200 KiB POST on other streams of the same connection."""
    deadline = time.monotonic() + seconds
    get_id, post_id = first_stream, first_stream + 2
    connection.request(get_id, "/fast")
    connection.request(post_id, "/echo-length", method="POST", end_stream=False)
    connection.stream_windows[post_id] = connection.initial_window
    send_within_window(connection, post_id, b"s" * (200 * 1024), deadline)
    connection.read_until(lambda: connection.finished(get_id) and connection.finished(post_id), max(0.0, deadline - time.monotonic()))
    return {"get": connection.summary(get_id), "post": connection.summary(post_id)}


def upload_flow(args):
    """POSTs `--bytes` of the test pattern on stream 1 without content-length, as fast as the server's flow
    control allows, and reports what the server granted. Once held up for a second by the stream's window it
    prints `blocked {...}` (and, with --side-requests, first makes two requests on other streams); with
    --reset-after it resets stream 1 after that many bytes instead of finishing."""
    connection = Connection(args.port)
    connection.read_until(lambda: connection.settings_seen, 5)
    extra = [("content-length", str(args.bytes))] if args.content_length else []
    connection.request(1, args.path, method="POST", extra=extra, end_stream=False)
    connection.stream_windows[1] = connection.initial_window
    deadline = time.monotonic() + args.seconds
    sent = 0
    blocked = None
    blocked_since = None
    side = None
    reset = False
    while sent < args.bytes and not connection.finished(1) and not connection.closed and time.monotonic() < deadline:
        allowed = min(16384, args.bytes - sent, connection.connection_window, connection.stream_windows[1])
        if args.reset_after:
            allowed = min(allowed, args.reset_after - sent)
        if allowed <= 0:
            blocked_since = blocked_since or time.monotonic()
            if blocked is None and time.monotonic() - blocked_since >= 1.0 and connection.stream_windows[1] <= 0:
                blocked = {"sent": sent, "stream_increments": connection.increments.get(1, 0),
                           "connection_increments": connection.increments.get(0, 0)}
                if args.side_requests:
                    side = side_requests(connection, 3, 10)
                print("blocked " + json.dumps(blocked), flush=True)
            connection.read(0.05)
            continue
        blocked_since = None
        if not connection.data(1, pattern(sent, allowed), end_stream=sent + allowed >= args.bytes):
            break
        connection.connection_window -= allowed
        connection.stream_windows[1] -= allowed
        sent += allowed
        if args.stop_after and sent >= args.stop_after:
            break  # stop sending, without ending the stream
        if args.reset_after and sent >= args.reset_after:
            connection.send(RstStreamFrame(1, error_code=8).serialize())
            reset = True
            if args.side_requests:
                side = side_requests(connection, 3, 10)
            break
        connection.read(0)
    if not reset:
        connection.read_until(lambda: connection.finished(1) or connection.closed, max(1.0, deadline - time.monotonic()))
    if args.await_reset:
        # A server that answered without reading the whole body ends the stream with RST_STREAM after its answer.
        connection.read_until(lambda: connection.stream(1)["reset"] is not None or connection.closed, 5)
    return {**connection.report(), "response": connection.summary(1), "sent": sent, "blocked": blocked,
            "side": side, "reset_sent": reset, "stream_increments": connection.increments.get(1, 0)}


def idle(args):
    """One request, then nothing: the server closes the idle connection after its idle timeout."""
    connection = Connection(args.port)
    connection.request(1, "/fast")
    connection.read_until(lambda: connection.finished(1), args.seconds)
    answered = time.monotonic()
    connection.wait_closed(args.seconds)
    return {**connection.report(), "response": connection.summary(1), "idle_for": time.monotonic() - answered,
            "closed_at": time.time()}


def silent(args):
    """Connects and sends only the preface and SETTINGS: the server closes after its header/idle timeout."""
    connection = Connection(args.port)
    started = time.monotonic()
    connection.wait_closed(args.seconds)
    return {**connection.report(), "elapsed": time.monotonic() - started}


def stream(args):
    """Reads a streamed response frame by frame with arrival times."""
    connection = Connection(args.port)
    started = time.monotonic()
    connection.request(1, args.path)
    connection.read_until(lambda: connection.finished(1), args.seconds)
    result = connection.summary(1)
    chunks = [{"t": chunk["t"] - started, "size": chunk["size"]} for chunk in connection.stream(1)["chunks"]]
    return {**connection.report(), "response": result, "chunks": chunks}


def stall(args):
    """Requests `--path` and stops reading: no WINDOW_UPDATE is sent and the socket is not read after the
    first bytes. Prints "paused", waits for stdin to close, then vanishes (closes the socket)."""
    window = 0x7FFFFFFF if args.big_window else 65535
    connection = Connection(args.port, settings={SettingsFrame.INITIAL_WINDOW_SIZE: window},
                            window_updates=False, rcvbuf=65536)
    if args.big_window:
        # Flow control allows 2 GiB: only TCP (the socket buffers) can hold the server back.
        connection.send(WindowUpdateFrame(0, window_increment=0x7FFFFFFF - 65535).serialize())
    connection.request(1, args.path)
    connection.read_until(lambda: len(connection.stream(1)["body"]) > 0 or connection.finished(1), args.seconds)
    received = len(connection.stream(1)["body"])
    print("paused", flush=True)
    sys.stdin.read()
    connection.sock.close()
    return {"received": received, "status": connection.stream(1)["status"]}


def vanish(args):
    """Reads `--bytes` of a streamed response (granting window as it goes), then closes the socket."""
    connection = Connection(args.port)
    connection.request(1, args.path)
    connection.read_until(lambda: len(connection.stream(1)["body"]) >= args.bytes or connection.finished(1), args.seconds)
    received = len(connection.stream(1)["body"])
    connection.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    connection.sock.close()
    return {"received": received, "status": connection.stream(1)["status"]}


def slow_read(args):
    """Downloads `--path` at about `--rate` bytes per second, granting window only for what it has read."""
    connection = Connection(args.port, rcvbuf=65536)
    started = time.monotonic()
    connection.request(1, args.path)
    read = 0
    while not connection.finished(1) and not connection.closed and time.monotonic() - started < args.seconds:
        time.sleep(0.02)
        allowed = (time.monotonic() - started) * args.rate
        while read < allowed and not connection.closed:
            ready, _, _ = select.select([connection.sock], [], [], 0)
            if not ready:
                break
            try:
                data = connection.sock.recv(65536)
            except ConnectionResetError:
                connection.closed = True
                break
            if not data:
                connection.closed = True
                break
            read += len(data)
            connection.inbound += data
            connection.parse()
    stream = connection.stream(1)
    return {**connection.report(), "status": stream["status"], "received": len(stream["body"]),
            "length": int(stream["headers"].get("content-length", "-1")), "ended": stream["ended"],
            "elapsed": time.monotonic() - started}


# (authority, regular fields) of requests sent back to back on one connection: repeats, then one change at a time.
HEADER_SEQUENCE = [
    ("a.test", [("x-a", "1"), ("x-b", "2")]),
    ("a.test", [("x-a", "1"), ("x-b", "2")]),
    ("b.test", [("x-a", "1"), ("x-b", "2")]),
    ("b.test", [("x-a", "1")]),
    ("b.test", [("x-a", "1"), ("x-b", "2"), ("x-c", "3")]),
    ("b.test", [("x-a", "9"), ("x-b", "2")]),
    ("b.test", [("x-a", "1"), ("x-b", "2"), ("host", "c.test")]),
    ("b.test", []),
    ("b.test", []),
    ("a.test", [("x-a", "1"), ("x-b", "2")]),
]


def header_sequence(args):
    """Sends HEADER_SEQUENCE in one write to /headers (which echoes the fields it got) and reports each answer."""
    connection = Connection(args.port)
    data = b""
    ids = []
    for index, (authority, fields) in enumerate(HEADER_SEQUENCE):
        stream_id = 1 + 2 * index
        ids.append(stream_id)
        block = connection.header_block("/headers", extra=fields, authority=authority)
        frame = HeadersFrame(stream_id, data=block)
        frame.flags.add("END_STREAM")
        frame.flags.add("END_HEADERS")
        data += frame.serialize()
        connection.stream(stream_id)
    connection.send(data)
    connection.read_until(lambda: all(connection.finished(i) for i in ids), args.seconds)
    answers = [connection.summary(i) for i in ids]
    connection.sock.close()
    return {"sent": [{"authority": a, "fields": [list(f) for f in fields]} for a, fields in HEADER_SEQUENCE],
            "answers": [{"status": a["status"], "body": a["body"]} for a in answers]}


def normal(args):
    return normal_request(args.port)


COMMANDS = {
    "bad-preface": bad_preface, "big-headers": big_headers, "continuation-flood": continuation_flood,
    "rst-flood": rst_flood, "window-overflow": window_overflow, "data-after-close": data_after_close,
    "request-timeout": request_timeout, "upload": upload, "upload-flow": upload_flow, "idle": idle, "silent": silent, "stream": stream,
    "stall": stall, "vanish": vanish, "normal": normal, "slow-read": slow_read,
    "header-sequence": header_sequence,
}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=sorted(COMMANDS))
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--bytes", type=int, default=20000)
    parser.add_argument("--count", type=int, default=10000)
    parser.add_argument("--path", default="/fast")
    parser.add_argument("--content-length", action="store_true")
    parser.add_argument("--big-window", action="store_true")
    parser.add_argument("--rate", type=int, default=5 << 20)
    parser.add_argument("--reset-after", type=int, default=0)
    parser.add_argument("--side-requests", action="store_true")
    parser.add_argument("--await-reset", action="store_true")
    parser.add_argument("--stop-after", type=int, default=0)
    parser.add_argument("--preface", default="")
    args = parser.parse_args()
    result = COMMANDS[args.command](args)
    print(json.dumps(result, default=str))


if __name__ == "__main__":
    main()
