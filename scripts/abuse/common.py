"""Helpers the abuse benchmark's clients share (scripts/bench-abuse.sh runs them; see that script)."""
import json
import math
import resource

PROTOCOL_VERSION = "2025-06-18"
HOST = "127.0.0.1"


def raise_open_files(wanted):
    """Raises this process's open-files limit towards `wanted` (as far as the hard limit allows)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def mcp_headers(key, session=None):
    headers = {
        "x-api-key": key,
        "content-type": "application/json",
        "accept": "application/json, text/event-stream",
        "mcp-protocol-version": PROTOCOL_VERSION,
    }
    if session:
        headers["mcp-session-id"] = session
    return headers


def initialize_body(name):
    return json.dumps({
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": PROTOCOL_VERSION, "capabilities": {}, "clientInfo": {"name": name, "version": "1"}},
    })


INITIALIZED = json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"})


def tool_call(call_id, name, arguments=None):
    return json.dumps({"jsonrpc": "2.0", "id": call_id, "method": "tools/call", "params": {"name": name, "arguments": arguments or {}}})


async def open_session(client, base, key, name):
    """initialize + notifications/initialized on Streamable HTTP; returns the session id."""
    response = await client.post(f"{base}/mcp", headers=mcp_headers(key), content=initialize_body(name))
    if response.status_code != 200 or "mcp-session-id" not in response.headers:
        raise RuntimeError(f"initialize answered {response.status_code}: {response.text[:300]}")
    session = response.headers["mcp-session-id"]
    response = await client.post(f"{base}/mcp", headers=mcp_headers(key, session), content=INITIALIZED)
    if response.status_code not in (200, 202):
        raise RuntimeError(f"notifications/initialized answered {response.status_code}: {response.text[:300]}")
    return session


def percentile(values, fraction):
    """The nearest-rank percentile of `values` (None when empty)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(round(len(ordered) * fraction, 6)))
    return ordered[min(len(ordered), rank) - 1]


def bump(counts, key, by=1):
    counts[key] = counts.get(key, 0) + by
