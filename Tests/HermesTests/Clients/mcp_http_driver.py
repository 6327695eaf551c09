"""Raw HTTP driver for the MCP tests: reads one JSON command per line on stdin, answers one JSON line on stdout.

Commands (each carries "seq", echoed back):
  {"op": "request", "method", "url", "headers", "body", "http2"}     -> {"status", "headers", "body", "http_version"}
  {"op": "open", "name", "method", "url", "headers", "body", "http2"} -> {"status", "headers"} once the head arrived;
      the body is then read in the background and parsed as server-sent events
  {"op": "events", "name", "count", "comments", "timeout"}          -> {"events", "comments", "ended", "raw"} once the
      stream has `count` events and `comments` comments, or it ended, or the timeout passed
  {"op": "close", "name"}                                           -> {} after dropping the stream's connection
  {"op": "exit"}
Events are {"id", "event", "data"} with None for absent fields.
"""

import json
import sys
import threading
import time

import httpx


class Stream:
    def __init__(self, client, response):
        self.client = client
        self.response = response
        self.events = []
        self.comments = 0
        self.raw = ""
        self.ended = False
        self.error = None
        self.lock = threading.Condition()
        self.thread = threading.Thread(target=self.read, daemon=True)
        self.thread.start()

    def read(self):
        buffer = ""
        try:
            for chunk in self.response.iter_text():
                with self.lock:
                    self.raw += chunk
                    buffer += chunk
                    while "\n\n" in buffer:
                        block, buffer = buffer.split("\n\n", 1)
                        self.parse(block)
                    self.lock.notify_all()
        except Exception as error:  # the connection was dropped on purpose, or the server went away
            self.error = f"{type(error).__name__}: {error}"
        with self.lock:
            self.ended = True
            self.lock.notify_all()

    def parse(self, block):
        event = {"id": None, "event": None, "data": None}
        saw_field = False
        for line in block.split("\n"):
            if line.startswith(":"):
                self.comments += 1
                continue
            name, _, value = line.partition(":")
            if value.startswith(" "):
                value = value[1:]
            if name in ("id", "event", "data"):
                saw_field = True
                if name == "data" and event["data"] is not None:
                    event["data"] += "\n" + value
                else:
                    event[name] = value
        if saw_field:
            self.events.append(event)


def headers_of(response):
    return {name.lower(): value for name, value in response.headers.items()}


def main():
    clients = {False: httpx.Client(timeout=30, trust_env=False), True: httpx.Client(http1=False, http2=True, timeout=30, trust_env=False)}
    streams = {}
    for line in sys.stdin:
        if not line.strip():
            continue
        command = json.loads(line)
        op = command["op"]
        result = {"seq": command.get("seq")}
        try:
            if op == "exit":
                break
            elif op == "request":
                client = clients[bool(command.get("http2"))]
                response = client.request(command["method"], command["url"], headers=command.get("headers") or {},
                                          content=(command.get("body") or "").encode() if command.get("body") is not None else None)
                result.update(status=response.status_code, headers=headers_of(response), body=response.text,
                              http_version=response.http_version)
            elif op == "open":
                client = httpx.Client(http1=not command.get("http2"), http2=bool(command.get("http2")), timeout=httpx.Timeout(30, read=None), trust_env=False)
                request = client.build_request(command.get("method", "GET"), command["url"], headers=command.get("headers") or {},
                                               content=command["body"].encode() if command.get("body") is not None else None)
                response = client.send(request, stream=True)
                streams[command["name"]] = Stream(client, response)
                result.update(status=response.status_code, headers=headers_of(response), http_version=response.http_version)
            elif op == "events":
                stream = streams[command["name"]]
                deadline = time.monotonic() + command.get("timeout", 10)
                with stream.lock:
                    while not stream.ended and (len(stream.events) < command.get("count", 0) or stream.comments < command.get("comments", 0)):
                        left = deadline - time.monotonic()
                        if left <= 0:
                            break
                        stream.lock.wait(left)
                    result.update(events=list(stream.events), comments=stream.comments, ended=stream.ended, raw=stream.raw[-4000:], error=stream.error)
            elif op == "close":
                stream = streams.pop(command["name"])
                stream.response.close()
                stream.client.close()
            else:
                result["failure"] = f"unknown op {op}"
        except Exception as error:
            result["failure"] = f"{type(error).__name__}: {error}"
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
