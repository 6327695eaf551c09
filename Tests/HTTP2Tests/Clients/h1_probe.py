"""Raw-socket HTTP/1.1 clients for the server's tests: pipelining, malformed requests, slow senders,
timeouts, connection limits, readers that stall or vanish.

Usage: h1_probe.py COMMAND --port PORT [options]; prints one JSON object (the last line of stdout).
"""

import argparse
import json
import select
import socket
import sys
import time


class Closed(Exception):
    pass


class Connection:
    """A TCP connection with a read buffer and a small HTTP/1.1 response parser."""

    def __init__(self, port, host="127.0.0.1", rcvbuf=None):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.connect((host, port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b""
        self.closed = False
        self.reset = False

    def send(self, data):
        try:
            self.sock.sendall(data)
            return True
        except (BrokenPipeError, ConnectionResetError):
            # What the server sent before closing may still be waiting to be read.
            return False

    def fill(self, deadline):
        """Reads more bytes; raises Closed at EOF and TimeoutError past the deadline."""
        if self.closed:
            raise Closed()
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError()
        ready, _, _ = select.select([self.sock], [], [], remaining)
        if not ready:
            raise TimeoutError()
        try:
            data = self.sock.recv(1 << 20)
        except ConnectionResetError:
            self.closed = True
            self.reset = True
            raise Closed()
        if not data:
            self.closed = True
            raise Closed()
        self.buffer += data

    def line(self, deadline):
        while b"\r\n" not in self.buffer:
            self.fill(deadline)
        line, self.buffer = self.buffer.split(b"\r\n", 1)
        return line

    def exactly(self, count, deadline):
        while len(self.buffer) < count:
            self.fill(deadline)
        data, self.buffer = self.buffer[:count], self.buffer[count:]
        return data

    def response(self, seconds=20, head_only=False):
        """Reads one response; None when the connection closed (or timed out) before a status line."""
        deadline = time.monotonic() + seconds
        try:
            status_line = self.line(deadline)
        except (Closed, TimeoutError):
            return None
        parts = status_line.decode(errors="replace").split(" ", 2)
        response = {"status": int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None,
                    "status_line": status_line.decode(errors="replace"), "headers": {}, "body": "", "complete": False}
        try:
            while True:
                line = self.line(deadline)
                if not line:
                    break
                name, _, value = line.decode(errors="replace").partition(":")
                response["headers"][name.strip().lower()] = value.strip()
            if head_only:
                return response
            headers = response["headers"]
            if headers.get("transfer-encoding", "").lower() == "chunked":
                body = b""
                while True:
                    size = int(self.line(deadline).split(b";")[0], 16)
                    if size == 0:
                        self.line(deadline)
                        break
                    body += self.exactly(size, deadline)
                    self.line(deadline)
                response["body"] = body.decode(errors="replace")
            elif "content-length" in headers:
                response["body"] = self.exactly(int(headers["content-length"]), deadline).decode(errors="replace")
            response["complete"] = True
        except (Closed, TimeoutError):
            response["body"] = self.buffer.decode(errors="replace")
        return response

    def wait_closed(self, seconds):
        """Reads (and discards) until the server closes; True if it did within `seconds`."""
        deadline = time.monotonic() + seconds
        try:
            while True:
                self.fill(deadline)
                self.buffer = self.buffer[-65536:]
        except Closed:
            return True
        except TimeoutError:
            return False


def get(path, keep_alive=True):
    connection = "" if keep_alive else "Connection: close\r\n"
    return ("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%s\r\n" % (path, connection)).encode()


def pipeline(args):
    """Sends every request in one write, then reads the responses in order."""
    connection = Connection(args.port)
    connection.send(b"".join(get(path) for path in args.paths))
    responses = [connection.response(args.seconds) for _ in args.paths]
    return {"responses": responses}


def fan_out(args):
    """Opens --count keep-alive connections; each round writes a request on every one of them before reading
    any answer (so many connections become readable in the same event-loop tick), then reads each answer,
    all of them within --seconds."""
    connections = [Connection(args.port) for _ in range(args.count)]
    answered, wrong, missing = 0, [], []
    for round_number in range(args.rounds):
        tags = ["c%d-r%d" % (index, round_number) for index in range(len(connections))]
        for connection, tag in zip(connections, tags):
            connection.send(get("/echo/" + tag))
        deadline = time.monotonic() + args.seconds  # for the whole round
        for connection, tag in zip(connections, tags):
            response = connection.response(max(0.01, deadline - time.monotonic()))
            if response is None or not response["complete"]:
                missing.append(tag)
            elif response["status"] != 200 or response["body"] != "tag:" + tag:
                wrong.append({"tag": tag, "status": response["status"], "body": response["body"]})
            else:
                answered += 1
        if missing:
            break
    return {"answered": answered, "expected": args.count * args.rounds, "wrong": wrong, "missing": missing}


def malformed(args):
    """A request with a broken header line, followed by a valid one in the same write: the server must answer
    400 and close without serving the second."""
    connection = Connection(args.port)
    connection.send(b"GET /fast HTTP/1.1\r\nHost: 127.0.0.1\r\nThis is not a header\r\n\r\n" + get("/fast"))
    first = connection.response(args.seconds)
    started = time.monotonic()
    closed = connection.wait_closed(args.seconds)
    leftover = connection.buffer.decode(errors="replace")
    return {"response": first, "closed": closed, "close_after": time.monotonic() - started, "leftover": leftover}


def big_headers(args):
    """A request whose header fields exceed the server's limit."""
    connection = Connection(args.port)
    fields = "".join("X-Big-%d: %s\r\n" % (index, "v" * 1000) for index in range(args.bytes // 1000))
    connection.send(("GET /fast HTTP/1.1\r\nHost: 127.0.0.1\r\n%s\r\n" % fields).encode())
    response = connection.response(args.seconds)
    closed = connection.wait_closed(args.seconds)
    return {"response": response, "closed": closed}


def slowloris(args):
    """Trickles a request head one byte every `--interval` seconds and never finishes it."""
    connection = Connection(args.port)
    head = b"GET /fast HTTP/1.1\r\nHost: 127.0.0.1\r\n" + b"X-Slow: " + b"s" * 10000
    started = time.monotonic()
    sent = 0
    response = b""
    while time.monotonic() - started < args.seconds and sent < len(head):
        if not connection.send(head[sent:sent + 1]):
            break
        sent += 1
        ready, _, _ = select.select([connection.sock], [], [], args.interval)
        if ready:
            try:
                data = connection.sock.recv(65536)
            except ConnectionResetError:
                connection.closed = True
                break
            if not data:
                connection.closed = True
                break
            response += data
    if not connection.closed:
        connection.closed = connection.wait_closed(0.5)
    return {"closed": connection.closed, "elapsed": time.monotonic() - started, "bytes_sent": sent,
            "response": response.decode(errors="replace")}


def idle(args):
    """One keep-alive request, then silence: how long until the server closes the connection."""
    connection = Connection(args.port)
    # Measured from the request: the server's idle clock starts after its answer, which this process may
    # read late on a busy machine, so time since the request is the bound that cannot come out short.
    sent = time.monotonic()
    connection.send(get("/fast"))
    response = connection.response(args.seconds)
    closed = connection.wait_closed(args.seconds)
    return {"response": response, "closed": closed, "idle_for": time.monotonic() - sent, "closed_at": time.time()}


def silent(args):
    """Connects and sends nothing at all."""
    connection = Connection(args.port)
    started = time.monotonic()
    closed = connection.wait_closed(args.seconds)
    return {"closed": closed, "elapsed": time.monotonic() - started, "data": connection.buffer.decode(errors="replace"),
            "closed_at": time.time()}


def request_timeout(args):
    """A POST whose body stops after 10 of the 100 announced bytes."""
    connection = Connection(args.port)
    connection.send(b"POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n0123456789" % args.path.encode())
    started = time.monotonic()
    response = connection.response(args.seconds)
    elapsed = time.monotonic() - started
    closed = connection.wait_closed(args.seconds)
    return {"response": response, "elapsed": elapsed, "closed": closed}


def upload(args):
    """POSTs `--bytes` bytes to `--path`, chunked or with Content-Length, writing while reading replies."""
    connection = Connection(args.port)
    if args.chunked:
        head = "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n" % args.path
    else:
        head = "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %d\r\n\r\n" % (args.path, args.bytes)
    connection.send(head.encode())
    sent = 0
    piece = b"u" * 16384
    connection.sock.setblocking(False)
    while sent < args.bytes:
        size = min(len(piece), args.bytes - sent)
        data = (b"%x\r\n" % size + piece[:size] + b"\r\n") if args.chunked else piece[:size]
        _, writable, _ = select.select([], [connection.sock], [], 2)
        if not writable:
            break  # the server stopped reading
        try:
            connection.sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError, BlockingIOError):
            break
        sent += size
        readable, _, _ = select.select([connection.sock], [], [], 0)
        if readable:
            break  # the server answered already
    if sent >= args.bytes and args.chunked:
        try:
            connection.sock.sendall(b"0\r\n\r\n")
        except OSError:
            pass
    connection.sock.setblocking(True)
    response = connection.response(args.seconds)
    closed = connection.wait_closed(args.seconds) if response and response["status"] != 200 else None
    return {"response": response, "sent": sent, "closed": closed, "reset": connection.reset}


def max_connections(args):
    """Fills the server's connection limit, checks that one more is refused while the others keep working."""
    held = [Connection(args.port) for _ in range(args.count)]
    first = []
    for connection in held:
        connection.send(get("/fast"))
        first.append(connection.response(args.seconds))
    extra = Connection(args.port)
    extra.send(get("/fast"))
    refused_response = extra.response(args.seconds)
    extra_closed = extra.closed or extra.wait_closed(args.seconds)
    second = []
    for connection in held:
        connection.send(get("/fast"))
        second.append(connection.response(args.seconds))
    return {"first": first, "extra_response": refused_response, "extra_closed": extra_closed, "second": second}


def stall(args):
    """Requests `--path` with a small receive buffer, reads a little, prints "paused", stops reading until
    stdin closes, then vanishes."""
    connection = Connection(args.port, rcvbuf=65536)
    connection.send(get(args.path))
    response = connection.response(args.seconds, head_only=True)
    deadline = time.monotonic() + args.seconds
    while len(connection.buffer) < 1024:
        connection.fill(deadline)
    print("paused", flush=True)
    sys.stdin.read()
    connection.sock.close()
    return {"status": response["status"] if response else None, "received": len(connection.buffer)}


def vanish(args):
    """Reads `--bytes` of a streamed response, then resets the connection (SO_LINGER 0)."""
    connection = Connection(args.port)
    connection.send(get(args.path))
    response = connection.response(args.seconds, head_only=True)
    deadline = time.monotonic() + args.seconds
    while len(connection.buffer) < args.bytes:
        connection.fill(deadline)
    connection.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    connection.sock.close()
    return {"status": response["status"] if response else None, "received": len(connection.buffer)}


def slow_read(args):
    """Downloads `--path` at about `--rate` bytes per second through a small receive buffer."""
    connection = Connection(args.port, rcvbuf=65536)
    connection.send(get(args.path))
    started = time.monotonic()
    response = connection.response(args.seconds, head_only=True)
    length = int(response["headers"].get("content-length", "-1")) if response else -1
    received = len(connection.buffer)
    connection.buffer = b""
    allowed = 0
    connection.sock.setblocking(False)
    eof = False
    while received < length and not eof and time.monotonic() - started < args.seconds:
        time.sleep(0.02)
        allowed = (time.monotonic() - started) * args.rate
        while received < allowed:
            try:
                data = connection.sock.recv(65536)
            except BlockingIOError:
                break
            except ConnectionResetError:
                eof = True
                break
            if not data:
                eof = True
                break
            received += len(data)
    return {"status": response["status"] if response else None, "length": length, "received": received,
            "elapsed": time.monotonic() - started}


def hold(args):
    """Opens `--count` connections that send nothing, prints "holding N", keeps them until stdin closes, then
    reports how many the server had closed meanwhile."""
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = args.count + 256
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, hard) if hard != resource.RLIM_INFINITY else wanted, hard))
    sockets = []
    for index in range(args.count):
        sock = socket.create_connection(("127.0.0.1", args.port), timeout=args.seconds)
        if args.mixed and index % 2:
            # Every other connection becomes an idle HTTP/2 session: preface and empty SETTINGS.
            sock.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00")
        sockets.append(sock)
    print("holding %d" % len(sockets), flush=True)
    sys.stdin.read()
    closed = 0
    for sock in sockets:
        sock.setblocking(False)
        try:
            while True:
                data = sock.recv(65536)  # HTTP/2 sessions have the server's SETTINGS waiting
                if data == b"":
                    closed += 1
                    break
        except BlockingIOError:
            pass
        except ConnectionResetError:
            closed += 1
        sock.close()
    return {"held": len(sockets), "closed_by_server": closed}


def flood_behind(args):
    """Sends `--requests` (one whole request, \\r\\n written as such) and reads its response head; then, while that
    response is still open, keeps writing `--bytes` more (valid GET requests, back to back) for `--seconds`
    without reading, and reports how many bytes the kernel took: a server that stops reading holds them in
    socket buffers, one that goes on reading takes them all."""
    connection = Connection(args.port)
    connection.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 65536)
    connection.send(args.requests[0].encode().decode("unicode_escape").encode("latin-1"))
    response = connection.response(args.seconds, head_only=True)
    filler = b"GET /echo/f HTTP/1.1\r\nHost: x\r\n\r\n" * 2048
    connection.sock.setblocking(False)
    sent = 0
    deadline = time.monotonic() + args.seconds
    while sent < args.bytes and time.monotonic() < deadline:
        _, writable, _ = select.select([], [connection.sock], [], max(0.0, deadline - time.monotonic()))
        if not writable:
            break
        try:
            sent += connection.sock.send(filler[: args.bytes - sent])
        except BlockingIOError:
            continue
        except (BrokenPipeError, ConnectionResetError):
            break
    return {"status": response["status"] if response else None, "sent": sent}


def exchange(args):
    """Sends each `--requests` entry (a whole request, with \\r\\n written as such) on one connection, one at a
    time, reading each response (head only for a HEAD request); then reports whether the server closed the
    connection within a second, and any bytes it sent beyond the responses."""
    connection = Connection(args.port)
    responses = []
    for text in args.requests:
        request = text.encode().decode("unicode_escape").encode("latin-1")
        if not connection.send(request):
            break
        # A request entry may hold several pipelined requests: one response for each.
        for _ in range(max(1, request.count(b" HTTP/1."))):
            response = connection.response(args.seconds, head_only=request.startswith(b"HEAD "))
            responses.append(response)
            if response is None:
                break
        if responses[-1] is None:
            break
    if responses and responses[-1] is not None and "content-length" not in responses[-1]["headers"] \
            and "transfer-encoding" not in responses[-1]["headers"] and not args.requests[-1].startswith("HEAD "):
        # A body that ends with the connection.
        try:
            while True:
                connection.fill(time.monotonic() + args.seconds)
        except (Closed, TimeoutError):
            pass
        responses[-1]["body"] = connection.buffer.decode(errors="replace")
        connection.buffer = b""
    stray = connection.buffer
    closed = connection.wait_closed(1)
    return {"responses": responses, "closed": closed, "stray": (stray + connection.buffer).decode(errors="replace")}


COMMANDS = {
    "exchange": exchange,
    "fan-out": fan_out, "pipeline": pipeline, "malformed": malformed, "big-headers": big_headers, "slowloris": slowloris, "idle": idle,
    "silent": silent, "request-timeout": request_timeout, "upload": upload, "max-connections": max_connections,
    "stall": stall, "vanish": vanish, "hold": hold, "slow-read": slow_read, "flood-behind": flood_behind,
}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=sorted(COMMANDS))
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--interval", type=float, default=0.2)
    parser.add_argument("--bytes", type=int, default=20000)
    parser.add_argument("--count", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--path", default="/fast")
    parser.add_argument("--chunked", action="store_true")
    parser.add_argument("--mixed", action="store_true")
    parser.add_argument("--rate", type=int, default=5 << 20)
    parser.add_argument("--paths", nargs="+", default=[])
    parser.add_argument("--requests", nargs="+", default=[])
    args = parser.parse_args()
    print(json.dumps(COMMANDS[args.command](args), default=str))


if __name__ == "__main__":
    main()
