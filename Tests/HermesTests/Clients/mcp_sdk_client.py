"""The real Python MCP SDK (mcp 2.3.0) against the daemon: initialize, list tools, call tools (one with
progress), a bad argument, an unknown tool. Prints one JSON line with what it saw."""

import argparse
import asyncio
import json

import httpx2
from mcp.client.session import ClientSession
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client


def text_of(result):
    return "\n".join(block.text for block in result.content if getattr(block, "type", None) == "text")


async def exercise(session, report):
    init = await session.initialize()
    report["protocol_version"] = init.protocol_version
    report["server_name"] = init.server_info.name
    listed = await session.list_tools()
    report["tools"] = [tool.name for tool in listed.tools]
    whoami = await session.call_tool("whoami", {})
    report["whoami"] = whoami.structured_content
    report["whoami_is_error"] = whoami.is_error
    sent = await session.call_tool("sandbox_send_message", {"to": "bob", "text": report["marker"]})
    report["sent_is_error"] = sent.is_error
    read = await session.call_tool("sandbox_read_messages", {"to": "bob"})
    report["read_texts"] = [m["text"] for m in (read.structured_content or {}).get("messages", [])]
    bad = await session.call_tool("sandbox_send_message", {"to": "bob"})
    report["bad_argument"] = {"is_error": bad.is_error, "text": text_of(bad)}
    progress = []

    async def on_progress(value, total, message):
        progress.append(value)

    counted = await session.call_tool("count_slowly", {"steps": 3}, progress_callback=on_progress)
    report["counted"] = text_of(counted)
    report["progress"] = progress
    try:
        await session.call_tool("no_such_tool", {})
        report["unknown_tool"] = "no error"
    except Exception as error:  # the SDK raises for a JSON-RPC error
        report["unknown_tool"] = f"{type(error).__name__}: {error}"
    await session.send_ping()
    report["pinged"] = True


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--transport", choices=["streamable", "sse"], required=True)
    parser.add_argument("--url", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--marker", default="hello from the python sdk")
    args = parser.parse_args()
    headers = {"Authorization": f"Bearer {args.key}"}
    report = {"transport": args.transport, "marker": args.marker}
    if args.transport == "streamable":
        async with httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30, read=60), trust_env=False) as http:
            async with streamable_http_client(args.url, http_client=http) as streams:
                read, write = streams[0], streams[1]
                async with ClientSession(read, write) as session:
                    await exercise(session, report)
    else:
        async with sse_client(args.url, headers=headers, timeout=30, sse_read_timeout=60) as streams:
            read, write = streams[0], streams[1]
            async with ClientSession(read, write) as session:
                await exercise(session, report)
    print(json.dumps(report))


asyncio.run(main())
