#!/usr/bin/env bash
# MCP benchmark: tools/call round trips per second with JSON responses, on one session and across 16
# sessions, over HTTP/1.1 keep-alive and h2, against hermes and, in the same run, the Python SDK's own
# server (mcp 2.3.0 MCPServer, streamable-http, json_response=True) serving the same trivial tool
# (`whoami`, no arguments, a small structured result). Also: p99 latency and hermes' RSS with 1,000 open
# GET /mcp streams.
#
# The load comes from scripts/loadgen/mcp-load (C, one thread, epoll, libnghttp2), built here: one process
# drives every connection and each connection sends its own Mcp-Session-Id. h2load can send only one
# header set per process, so 16 sessions took 16 h2load processes, which used 13-30 µs of CPU per call on
# this 2-core machine (as much as the server), and the 16-session rows measured the client.
# Server CPU per call: the server process's utime + stime over each measurement, divided by the calls made;
# the client's own CPU per call likewise (client and server share the machine's cores, so together they
# bound the rate).
# Prints a markdown table (the numbers behind the MCP section of docs/benchmarks.md).
#
# Load shapes (the same for both servers):
#   one session, HTTP/1.1: 16 keep-alive connections sharing one session, one request in flight on each
#   one session, h2:       4 connections sharing one session, 16 concurrent streams on each
#   16 sessions, HTTP/1.1: 16 keep-alive connections, each on its own session, one request in flight on each
#   16 sessions, h2:       16 connections, each on its own session, 4 concurrent streams on each
# uvicorn (the Python server's HTTP layer) speaks HTTP/1.1 only, so its HTTP/1.1 figure is the reference
# for the h2 rows too. A last pair of rows shows the HTTP floor: the same load on POST /mcp without
# credentials, refused by the gate (401), i.e. the router's async path with no MCP work at all. The last row
# is SwiftNIO's own HTTP/1.1 server (`hermes-bench nio-floor`) answering a constant 200 with the same body
# under the same HTTP/1.1 load: what the framework itself costs per request here.
#
# Usage: scripts/bench-mcp.sh            (DURATION=8 seconds per measurement, ROUNDS=3)
# Every measurement is repeated in ROUNDS rounds, hermes and Python alternating within each round; the
# table shows medians, and each ratio is the median of the rounds' own ratios (each hermes figure against
# the Python figure of its round), listed beside it. This machine is noisy: one round can be off by 10 %.
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${DURATION:-8}
rounds=${ROUNDS:-3}
scripts/python-env
# The binary the Containerfile ships: release, with the Swift runtime linked in statically (that build also
# runs 7-11 % less CPU per request than one calling the runtime's shared libraries).
# HERMES_BINARY: measure another build (an A/B against an earlier commit) instead of building this tree's.
[ -n "${HERMES_BINARY:-}" ] || swift build -c release --product hermes --static-swift-stdlib --scratch-path .build-static >&2
swift build -c release --product hermes-bench --static-swift-stdlib --scratch-path .build-static >&2
binary=${HERMES_BINARY:-.build-static/release/hermes}
python=.venv/bin/python
[ "$(ulimit -n)" = unlimited ] || [ "$(ulimit -n)" -ge 4096 ] || ulimit -n 4096   # 1,000 streams need more than 1,024 descriptors

work=$(mktemp -d)
cc -O2 -Wall -Wextra -o "$work/mcp-load" scripts/loadgen/mcp-load.c -lnghttp2
hermes_pid=""; python_pid=""; nio_pid=""
cleanup() {
    kill $hermes_pid $python_pid $nio_pid 2>/dev/null || true
    sleep 1
    kill -9 $python_pid 2>/dev/null || true   # uvicorn may wait for its MCP sessions to close
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
port_hermes=$((20000 + RANDOM % 10000)); port_python=$((port_hermes + 1)); port_nio=$((port_hermes + 2))
key="bench-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"

MCP_API_KEY="$key" CREDENTIAL_ENCRYPTION_KEY=$("$binary" keys generate) HERMES_ENV=production \
    "$binary" serve --state-dir "$work/state" --port $port_hermes --log-level notice 2>"$work/hermes.log" &
hermes_pid=$!

cat >"$work/reference.py" <<'PY'
import sys
from mcp.server.mcpserver import MCPServer

server = MCPServer("bench", log_level="WARNING")


@server.tool()
def whoami() -> dict:
    """Tells who is calling."""
    return {"customer": "single-user", "mode": "single-user", "plan": "single-user"}


server.run("streamable-http", host="127.0.0.1", port=int(sys.argv[1]), json_response=True)
PY
"$python" "$work/reference.py" $port_python >"$work/python.log" 2>&1 &
python_pid=$!

# The framework's floor: SwiftNIO's own HTTP/1.1 server pipeline answering every request with the 336-byte
# body of hermes' tools/call answer, no routing, JSON or MCP (see Sources/HermesBenchmarks/NIOFloorServer.swift).
.build-static/release/hermes-bench nio-floor --port $port_nio 2>"$work/nio.log" &
nio_pid=$!

for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port_hermes/healthz" >/dev/null && break; sleep 0.2; done
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port_nio/" && break; sleep 0.2; done
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port_python/mcp" && break; sleep 0.2; done

version=2025-06-18
common=(-H "content-type: application/json" -H "accept: application/json, text/event-stream" -H "authorization: Bearer $key")

# A new session on a server: initialize, then notifications/initialized; prints the session id.
new_session() {
    local url=$1
    local id
    id=$(curl -sS -D - -o /dev/null "${common[@]}" "$url" \
        -d "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"$version\",\"capabilities\":{},\"clientInfo\":{\"name\":\"bench\",\"version\":\"1\"}}}" \
        | tr -d '\r' | awk -F': ' 'tolower($1) == "mcp-session-id" {print $2}')
    [ -n "$id" ] || { echo "no session from $url" >&2; exit 1; }
    curl -sS -o /dev/null "${common[@]}" -H "mcp-session-id: $id" -H "mcp-protocol-version: $version" "$url" \
        -d '{"jsonrpc":"2.0","method":"notifications/initialized"}'
    echo "$id"
}

echo '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"whoami","arguments":{}}}' >"$work/call.json"

# Checks that a session's tools/call really answers with a tool result.
check_call() {
    local url=$1 session=$2 body
    body=$(curl -sS "${common[@]}" -H "mcp-session-id: $session" -H "mcp-protocol-version: $version" "$url" -d @"$work/call.json")
    echo "$body" | grep -q '"isError":false' || { echo "tools/call on $url did not answer a tool result: $body" >&2; exit 1; }
}


# measure <server> <url> <label> <h1|h2> <1|16|floor>: prints "<server> <label> <calls/s> <p99 ms> <failures> <server CPU µs/call> <client CPU µs/call>".
# CPU time (utime + stime, in clock ticks) a process has used so far.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

measure() {
    local name=$1 url=$2 label=$3 protocol=$4 sessions=$5
    local pid=$hermes_pid; [ "$name" = python ] && pid=$python_pid; [ "$name" = nio ] && pid=$nio_pid
    local shape=(--h2 -c 4 -m 16); [ "$protocol" = h1 ] && shape=(--h1 -c 16 -m 1)
    local credentials=(-H "authorization: Bearer $key")
    : >"$work/sessions"
    if [ "$sessions" = floor ]; then
        credentials=()   # every request stops at the gate with 401 (counted as non-2xx, expected here)
        echo unused >"$work/sessions"
    else
        local i
        for i in $(seq "$sessions"); do new_session "$url" >>"$work/sessions"; done
        check_call "$url" "$(head -1 "$work/sessions")"
        [ "$sessions" = 16 ] && [ "$protocol" = h2 ] && shape=(--h2 -c 16 -m 4)
    fi
    local ticks_before; ticks_before=$(cpu_ticks "$pid")
    local out
    out=$("$work/mcp-load" "${shape[@]}" -D "$duration" --warm-up 1 -d "$work/call.json" --session-file "$work/sessions" \
        -H "content-type: application/json" -H "accept: application/json, text/event-stream" -H "mcp-protocol-version: $version" \
        "${credentials[@]}" "$url")
    local ticks_after; ticks_after=$(cpu_ticks "$pid")
    value() { tr ' ' '\n' <<<"$out" | awk -F= -v k="$1" '$1 == k {print $2}'; }
    local rps requests p99 bad client_cpu
    rps=$(value rps); requests=$(value requests); p99=$(value p99_ms)
    bad=$(( $(value status_other) + $(value errors) )); [ "$sessions" = floor ] && bad=$(value errors)
    client_cpu=$(value cpu_s)
    # Server CPU over the whole run, warm-up included, so calls ≈ rate × (duration + 1 s).
    local cpu; cpu=$(awk -v a="$ticks_after" -v b="$ticks_before" -v t="$(getconf CLK_TCK)" -v r="$rps" -v d="$duration" \
        'BEGIN { if (r > 0) printf "%.1f", (a - b) * 1000000 / t / (r * (d + 1)); else print "-" }')
    local client; client=$(awk -v c="$client_cpu" -v n="$requests" 'BEGIN { if (n > 0) printf "%.1f", c * 1000000 / n; else print "-" }')
    printf '%s %s %.0f %.2f %s %s %s\n' "$name" "$label" "$rps" "$p99" "$bad" "$cpu" "$client"
}

results="$work/results"
: >"$results"
for round in $(seq "$rounds"); do
    for shape in "one-session h1 1" "one-session h2 1" "16-sessions h1 16" "16-sessions h2 16"; do
        set -- $shape
        measure hermes "http://127.0.0.1:$port_hermes/mcp" "$1-$2" "$2" "$3" >>"$results"
        if [ "$2" = h1 ]; then
            measure python "http://127.0.0.1:$port_python/mcp" "$1-$2" "$2" "$3" >>"$results"
        fi
    done
    measure hermes "http://127.0.0.1:$port_hermes/mcp" floor-h1 h1 floor >>"$results"
    measure hermes "http://127.0.0.1:$port_hermes/mcp" floor-h2 h2 floor >>"$results"
    measure nio "http://127.0.0.1:$port_nio/mcp" floor-h1 h1 floor >>"$results"
    echo "round $round of $rounds measured" >&2
done


# RSS of hermes with 1,000 open GET /mcp streams (one per session, as the protocol allows one per session).
"$python" - "$port_hermes" "$key" "$hermes_pid" >"$work/rss" <<'PY'
import asyncio, json, sys, time
import httpx

port, key, pid = int(sys.argv[1]), sys.argv[2], sys.argv[3]
count = 1000

def rss_mib():
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024

async def main():
    headers = {"authorization": f"Bearer {key}", "accept": "application/json, text/event-stream", "content-type": "application/json"}
    before = rss_mib()
    sessions = []
    with httpx.Client(trust_env=False) as client:
        for i in range(count):
            r = client.post(f"http://127.0.0.1:{port}/mcp", headers=headers, content=json.dumps(
                {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "rss", "version": "1"}}}))
            sessions.append(r.headers["mcp-session-id"])
    writers = []
    for session in sessions:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write((f"GET /mcp HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {key}\r\nAccept: text/event-stream\r\n"
                      f"Mcp-Session-Id: {session}\r\nMcp-Protocol-Version: 2025-06-18\r\n\r\n").encode())
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        assert b" 200 " in head.split(b"\r\n")[0], head
        writers.append(writer)
    time.sleep(1)
    during = rss_mib()
    for writer in writers:
        writer.close()
    print(f"{before:.1f} {during:.1f} {len(writers)}")

asyncio.run(main())
PY
read -r rss_before rss_during streams_open <"$work/rss"

# An awk function: the median of values[1...count] (sorts them in place).
awk_median='
    function median(values, count,    i, j, t) {
        for (i = 2; i <= count; i++) for (j = i; j > 1 && values[j - 1] > values[j]; j--) { t = values[j]; values[j] = values[j - 1]; values[j - 1] = t }
        return count % 2 ? values[(count + 1) / 2] : (values[count / 2] + values[count / 2 + 1]) / 2
    }'
# row <server> <label>: the medians over the rounds of calls/s, p99, CPU and client CPU, and the sum of failures.
row() {
    awk -v n="$1" -v l="$2" "$awk_median"'
        $1 == n && $2 == l { k++; rps[k] = $3; p99[k] = $4; bad += $5; cpu[k] = $6; client[k] = $7 }
        END { printf "%.0f %.2f %d %.1f %.1f\n", median(rps, k), median(p99, k), bad, median(cpu, k), median(client, k) }
    ' "$results"
}
# ratios <hermes label> <python label>: each round's hermes calls/s over that round's Python calls/s, then
# "<median> <all, in round order>".
ratios() {
    awk -v h="$1" -v p="$2" "$awk_median"'
        $1 == "hermes" && $2 == h { hk++; hr[hk] = $3 }
        $1 == "python" && $2 == p { pk++; pr[pk] = $3 }
        END {
            for (i = 1; i <= hk && i <= pk; i++) { r[i] = hr[i] / pr[i]; all = all (i > 1 ? " / " : "") sprintf("%.1f×", r[i]) }
            printf "%.1f× %s\n", median(r, i - 1), all
        }
    ' "$results"
}
echo "| tools/call, JSON responses | hermes calls/s | hermes p99 ms | hermes CPU µs/call | client CPU µs/call | Python SDK calls/s | Python p99 ms | Python CPU µs/call | hermes ÷ Python | target |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for label in one-session-h1 one-session-h2 16-sessions-h1 16-sessions-h2; do
    read -r h_rps h_p99 h_bad h_cpu h_client <<<"$(row hermes $label)"
    read -r p_rps p_p99 p_bad p_cpu _ <<<"$(row python "${label%-h?}-h1")"
    read -r ratio each <<<"$(ratios "$label" "${label%-h?}-h1")"
    note=""; [ "${label##*-}" = h2 ] && note=" (its HTTP/1.1)"
    echo "| $label | $h_rps | $h_p99 | $h_cpu | $h_client | $p_rps$note | $p_p99 | $p_cpu | $ratio ($each) | ≥ 50× |"
    [ "$h_bad" = 0 ] && [ "$p_bad" = 0 ] || echo "| ↳ non-2xx or failed requests: hermes $h_bad, Python $p_bad | | | | | | | | | |"
done
for label in floor-h1 floor-h2; do
    read -r f_rps f_p99 _ f_cpu f_client <<<"$(row hermes $label)"
    echo "| HTTP floor ${label#floor-}: same load, POST /mcp refused by the gate (401) | $f_rps | $f_p99 | $f_cpu | $f_client | | | | | |"
done
read -r n_rps n_p99 n_bad n_cpu n_client <<<"$(row nio floor-h1)"
echo "| SwiftNIO's own HTTP/1.1 server, same load, a constant 200 with the same body (hermes-bench nio-floor) | $n_rps | $n_p99 | $n_cpu | $n_client | | | | | |"
[ "$n_bad" = 0 ] || echo "| ↳ failed requests: $n_bad | | | | | | | | | |"
echo "| hermes RSS, idle → with $streams_open open GET /mcp streams (MiB) | $rss_before → $rss_during | | | | | | | | ≤ 100 MB |"
echo
echo "Medians of $rounds rounds (ratios: the median of the rounds' own ratios, then each round's). DURATION=$duration s per measurement (after 1 s warm-up), $(nproc) cores, mcp-load and both servers on the same machine; hermes --log-level notice, Python server log_level WARNING."
