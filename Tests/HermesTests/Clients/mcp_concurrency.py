"""Many MCP sessions at once over raw HTTP: each initializes, sends a sandbox message, reads it back, asks
whoami and deletes its session. Prints one JSON summary line; exits 1 if any session went wrong."""

import argparse
import asyncio
import json
import sys

import httpx


async def one(client, url, key, index):
    headers = {"authorization": f"Bearer {key}", "accept": "application/json, text/event-stream", "content-type": "application/json"}

    async def post(body, session=None):
        extra = dict(headers)
        if session:
            extra["mcp-session-id"] = session
            extra["mcp-protocol-version"] = "2025-06-18"
        return await client.post(url, headers=extra, content=json.dumps(body))

    init = await post({"jsonrpc": "2.0", "id": 1, "method": "initialize",
                       "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": f"c{index}", "version": "1"}}})
    assert init.status_code == 200, init.text
    session = init.headers["mcp-session-id"]
    note = await post({"jsonrpc": "2.0", "method": "notifications/initialized"}, session)
    assert note.status_code == 202, note.status_code
    recipient = f"peer-{index}"
    text = f"message number {index}"
    sent = await post({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                       "params": {"name": "sandbox_send_message", "arguments": {"to": recipient, "text": text}}}, session)
    assert sent.json()["result"]["isError"] is False, sent.text
    read = await post({"jsonrpc": "2.0", "id": 3, "method": "tools/call",
                       "params": {"name": "sandbox_read_messages", "arguments": {"to": recipient}}}, session)
    messages = read.json()["result"]["structuredContent"]["messages"]
    assert [m["text"] for m in messages] == [text], read.text
    who = await post({"jsonrpc": "2.0", "id": 4, "method": "tools/call", "params": {"name": "whoami"}}, session)
    assert who.json()["id"] == 4 and who.json()["result"]["structuredContent"]["customer"] == "single-user", who.text
    deleted = await client.delete(url, headers={**headers, "mcp-session-id": session})
    assert deleted.status_code == 204, deleted.status_code
    return session


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--sessions", type=int, default=64)
    args = parser.parse_args()
    limits = httpx.Limits(max_connections=args.sessions, max_keepalive_connections=args.sessions)
    async with httpx.AsyncClient(limits=limits, timeout=30, trust_env=False) as client:
        results = await asyncio.gather(*(one(client, args.url, args.key, i) for i in range(args.sessions)), return_exceptions=True)
    failures = [repr(r) for r in results if isinstance(r, BaseException)]
    sessions = [r for r in results if isinstance(r, str)]
    print(json.dumps({"sessions": args.sessions, "ok": len(sessions), "distinct_session_ids": len(set(sessions)), "failures": failures[:5]}))
    sys.exit(1 if failures else 0)


asyncio.run(main())
