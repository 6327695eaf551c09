"""httpx as a real-world client: HTTP/2 over TLS (ALPN) or prior knowledge, HTTP/1.1, streamed reads.

Usage: httpx_client.py get|stream URL... [--http2] [--http1] [--insecure] [--header NAME:VALUE]
Prints one JSON object (the last line of stdout).
"""

import argparse
import json
import time

import httpx


def client(args):
    return httpx.Client(http1=args.http1, http2=args.http2, verify=not args.insecure, timeout=args.seconds,
                        trust_env=False)


def get(args):
    headers = dict(header.split(":", 1) for header in args.header)
    responses = []
    with client(args) as session:
        for url in args.urls:
            response = session.get(url, headers=headers)
            stream = response.extensions.get("network_stream")
            alpn = None
            if stream is not None:
                ssl_object = stream.get_extra_info("ssl_object")
                alpn = ssl_object.selected_alpn_protocol() if ssl_object is not None else None
            responses.append({"status": response.status_code, "http_version": response.http_version,
                              "body": response.text, "alpn": alpn, "headers": dict(response.headers)})
    return {"responses": responses}


def stream(args):
    chunks = []
    started = time.monotonic()
    with client(args) as session:
        with session.stream("GET", args.urls[0]) as response:
            body = b""
            for chunk in response.iter_raw():
                chunks.append({"t": time.monotonic() - started, "size": len(chunk)})
                body += chunk
            return {"status": response.status_code, "http_version": response.http_version,
                    "body": body.decode(errors="replace"), "chunks": chunks}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=["get", "stream"])
    parser.add_argument("urls", nargs="+")
    parser.add_argument("--http2", action="store_true")
    parser.add_argument("--http1", action="store_true")
    parser.add_argument("--insecure", action="store_true")
    parser.add_argument("--header", action="append", default=[])
    parser.add_argument("--seconds", type=float, default=30)
    args = parser.parse_args()
    result = get(args) if args.command == "get" else stream(args)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
