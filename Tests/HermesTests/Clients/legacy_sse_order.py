"""Legacy HTTP+SSE: which a client sees first, a POST's 202 or the answer to it on the event stream.

Opens GET /sse on one connection, then POSTs `--rounds` JSON-RPC requests to the endpoint it names, each
on a fresh connection. For each round it reads the stream until the answer arrives and then looks, without
waiting, whether the 202 is already there to read: a server that sends the 202 first always has it there.
Prints {"rounds", "answer_first", "statuses"} as JSON.
"""
import argparse
import json
import select
import socket
import time


def connect(port):
    sock = socket.create_connection(("127.0.0.1", port), timeout=60)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


class Stream:
    def __init__(self, port, key):
        self.sock = connect(port)
        self.sock.sendall(("GET /sse HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n"
                           "Accept: text/event-stream\r\n\r\n" % key).encode())
        self.buffer = b""
        head = self.read_until(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 200"):
            raise SystemExit("GET /sse answered %r" % head[:200])

    def read_until(self, marker, seconds=10):
        deadline = time.monotonic() + seconds
        while marker not in self.buffer:
            if time.monotonic() > deadline:
                raise SystemExit("timed out waiting for %r; have %r" % (marker, self.buffer[-300:]))
            data = self.sock.recv(65536)
            if not data:
                raise SystemExit("the stream closed; have %r" % self.buffer[-300:])
            self.buffer += data
        index = self.buffer.index(marker) + len(marker)
        found, self.buffer = self.buffer[:index], self.buffer[index:]
        return found


def post(port, key, path, body):
    sock = connect(port)
    payload = json.dumps(body).encode()
    sock.sendall(("POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\n"
                  "Content-Length: %d\r\n\r\n" % (path, key, len(payload))).encode() + payload)
    return sock


def status_now(sock):
    """The status of a response already readable on `sock`, else None (does not wait)."""
    readable, _, _ = select.select([sock], [], [], 0)
    if not readable:
        return None
    data = sock.recv(65536)
    return int(data.split(b" ")[1]) if data.startswith(b"HTTP/1.1 ") else -1


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    stream = Stream(args.port, args.key)
    endpoint = stream.read_until(b"\n\n").decode()
    path = next(line[len("data: "):] for line in endpoint.splitlines() if line.startswith("data: "))
    messages = [{"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2024-11-05", "capabilities": {}, "clientInfo": {"name": "order", "version": "1"}}}]
    messages += [{"jsonrpc": "2.0", "id": index, "method": "ping"} for index in range(2, args.rounds + 1)]
    answer_first = 0
    statuses = []
    for message in messages:
        sock = post(args.port, args.key, path, message)
        stream.read_until(('"id":%d' % message["id"]).encode())
        stream.read_until(b"\n\n")
        status = status_now(sock)
        if status is None:
            answer_first += 1
            sock.settimeout(60)
            data = sock.recv(65536)
            status = int(data.split(b" ")[1]) if data.startswith(b"HTTP/1.1 ") else -1
        statuses.append(status)
        sock.close()
    print(json.dumps({"rounds": len(messages), "answer_first": answer_first, "statuses": statuses}))


if __name__ == "__main__":
    main()
