"""Serves Client ID Metadata Documents over real https on loopback for the CIMD test.

Usage: cimd_server.py --cert CERT --key KEY; prints the port on the first line of stdout. Documents are
set by POSTing JSON to /_set?path=/clients/x.json (plain body), served at GET <path>. A GET of
/slow/<milliseconds>/... waits that long before answering, as a slow or stalling server would."""

import argparse
import http.server
import json
import ssl
import sys
import threading
import time
from urllib.parse import parse_qs, urlparse

documents = {}


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        path = urlparse(self.path).path
        if path.startswith("/slow/"):
            time.sleep(int(path.split("/")[2]) / 1000)
        body = documents.get(path)
        if body is None:
            self.send_response(404)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        data = self.rfile.read(length)
        path = parse_qs(urlparse(self.path).query)["path"][0]
        documents[path] = data
        self.send_response(204)
        self.end_headers()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    args = parser.parse_args()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(args.cert, args.key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    print(server.server_address[1], flush=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    sys.stdin.read()  # runs until the test closes stdin


main()
