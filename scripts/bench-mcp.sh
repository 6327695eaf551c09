#!/usr/bin/env bash
# MCP benchmark: tools/call round trips per second with JSON responses, on one session and across 16
# sessions, over HTTP/1.1 keep-alive and h2 (h2load with a prepared body and session headers), against
# hermes and, in the same run, the Python SDK's own server (mcp 2.3.0 MCPServer, streamable-http,
# json_response=True) serving the same trivial tool (`whoami`, no arguments, a small structured result).
# Also: p99 latency (from h2load's per-request log) and hermes' RSS with 1,000 open GET /mcp streams.
# Server CPU per call: the server process's utime + stime over each measurement, divided by the calls made;
# h2load's own CPU per call likewise (client and server share the machine's cores, so together they bound the rate).
# Prints a markdown table (the numbers behind the MCP section of docs/benchmarks.md).
#
# Load shapes (the same for both servers):
#   one session, HTTP/1.1: 16 keep-alive connections sharing one session, one request in flight on each
#   one session, h2:       4 connections sharing one session, 16 concurrent streams on each
#   16 sessions, HTTP/1.1: 16 h2load processes, each 1 connection on its own session
#   16 sessions, h2:       16 h2load processes, each 1 connection with 4 concurrent streams on its own session
# uvicorn (the Python server's HTTP layer) speaks HTTP/1.1 only, so its HTTP/1.1 figure is the reference
# for the h2 rows too. A last pair of rows shows the HTTP floor: the same load on POST /mcp without
# credentials, refused by the gate (401), i.e. the router's async path with no MCP work at all.
#
# Usage: scripts/bench-mcp.sh            (DURATION=8 seconds per measurement)
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${DURATION:-8}
command -v h2load >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nghttp2-client >/dev/null; }
scripts/python-env
swift build -c release --product hermes --scratch-path .build-release >&2
binary=.build-release/release/hermes
python=.venv/bin/python
[ "$(ulimit -n)" = unlimited ] || [ "$(ulimit -n)" -ge 4096 ] || ulimit -n 4096   # 1,000 streams need more than 1,024 descriptors

work=$(mktemp -d)
hermes_pid=""; python_pid=""
cleanup() {
    kill $hermes_pid $python_pid 2>/dev/null || true
    sleep 1
    kill -9 $python_pid 2>/dev/null || true   # uvicorn may wait for its MCP sessions to close
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
port_hermes=$((20000 + RANDOM % 10000)); port_python=$((port_hermes + 1))
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

for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port_hermes/healthz" >/dev/null && break; sleep 0.2; done
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


# One h2load run: prints "<req/s> <non-2xx count>"; per-request log in $log, its CPU seconds in $log.cpu.
h2load_run() {
    local log=$1; shift
    scripts/cpu-time "$log.cpu" h2load -D "$duration" --warm-up-time=1 --log-file="$log" -d "$work/call.json" "${common[@]}" \
        -H "mcp-protocol-version: $version" "$@" 2>&1 | awk '
        /^finished in/ { for (i = 1; i <= NF; i++) if ($(i+1) ~ /^req\/s/) rps = $i }
        /^status codes:/ { ok = $3; other = $5 + $7 + $9 }
        /^requests:/ { failed = $10; errored = $12 }
        END { gsub(",", "", rps); printf "%s %d\n", rps, other + failed + errored }'
}

# 99th percentile of h2load's per-request durations (third column, microseconds), in milliseconds.
p99() {
    awk '{print $3}' "$@" | sort -n | awk '{a[NR] = $1} END { if (NR == 0) { print "-"; exit } i = int(NR * 0.99); if (i < 1) i = 1; printf "%.2f", a[i] / 1000 }'
}

# measure <server> <url> <label> <h1|h2> <sessions|floor>: prints "<server> <label> <calls/s> <p99 ms> <failures>".
# CPU time (utime + stime, in clock ticks) a process has used so far.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

measure() {
    local name=$1 url=$2 label=$3 protocol=$4 sessions=$5
    local pid=$hermes_pid; [ "$name" = python ] && pid=$python_pid
    local ticks_before; ticks_before=$(cpu_ticks "$pid")
    local flags=(); [ "$protocol" = h1 ] && flags=(--h1)
    local shape=(-c 4 -m 16); [ "$protocol" = h1 ] && shape=(-c 16 -m 1)
    rm -f "$work"/run-*.log "$work"/run-*.out "$work"/run-*.cpu
    if [ "$sessions" = floor ]; then
        # No credentials: every request stops at the gate with 401 (counted as non-2xx, expected here).
        scripts/cpu-time "$work/run-0.log.cpu" h2load -D "$duration" --warm-up-time=1 --log-file="$work/run-0.log" -d "$work/call.json" \
            -H "content-type: application/json" "${flags[@]}" "${shape[@]}" "$url" 2>&1 \
            | awk '/^finished in/ { for (i = 1; i <= NF; i++) if ($(i+1) ~ /^req\/s/) rps = $i } END { gsub(",", "", rps); print rps, 0 }' >"$work/run-0.out"
    elif [ "$sessions" = 1 ]; then
        local session; session=$(new_session "$url"); check_call "$url" "$session"
        h2load_run "$work/run-0.log" "${flags[@]}" "${shape[@]}" -H "mcp-session-id: $session" "$url" >"$work/run-0.out"
    else
        local i ids=()
        for i in $(seq 0 $((sessions - 1))); do ids+=("$(new_session "$url")"); done
        check_call "$url" "${ids[0]}"
        local streams=1; [ "$protocol" = h2 ] && streams=4
        for i in $(seq 0 $((sessions - 1))); do
            h2load_run "$work/run-$i.log" "${flags[@]}" -c 1 -m $streams -H "mcp-session-id: ${ids[$i]}" "$url" >"$work/run-$i.out" &
        done
        wait $(jobs -p | grep -v -e "^$hermes_pid\$" -e "^$python_pid\$") 2>/dev/null || true
    fi
    local rps bad
    rps=$(awk '{s += $1} END {printf "%.0f", s}' "$work"/run-*.out)
    bad=$(awk '{s += $2} END {print s + 0}' "$work"/run-*.out)
    # Server CPU per call over the whole run (warm-up included, so requests ≈ rate × (duration + 1 s)).
    local cpu; cpu=$(awk -v a="$(cpu_ticks "$pid")" -v b="$ticks_before" -v t="$(getconf CLK_TCK)" -v r="$rps" -v d="$duration" \
        'BEGIN { if (r > 0) printf "%.1f", (a - b) * 1000000 / t / (r * (d + 1)); else print "-" }')
    local client; client=$(cat "$work"/run-*.log.cpu | awk -v r="$rps" -v d="$duration" '{s += $1} END { if (r > 0) printf "%.1f", s * 1000000 / (r * (d + 1)); else print "-" }')
    echo "$name $label $rps $(p99 "$work"/run-*.log) $bad $cpu $client"
}

results="$work/results"
: >"$results"
for shape in "one-session h1 1" "one-session h2 1" "16-sessions h1 16" "16-sessions h2 16"; do
    set -- $shape
    measure hermes "http://127.0.0.1:$port_hermes/mcp" "$1-$2" "$2" "$3" >>"$results"
    if [ "$2" = h1 ]; then
        measure python "http://127.0.0.1:$port_python/mcp" "$1-$2" "$2" "$3" >>"$results"
    fi
done
measure hermes "http://127.0.0.1:$port_hermes/mcp" floor-h1 h1 floor >>"$results"
measure hermes "http://127.0.0.1:$port_hermes/mcp" floor-h2 h2 floor >>"$results"


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

row() { awk -v n="$1" -v l="$2" '$1 == n && $2 == l {print $3, $4, $5, $6, $7}' "$results"; }
echo "| tools/call, JSON responses | hermes calls/s | hermes p99 ms | hermes CPU µs/call | h2load CPU µs/call | Python SDK calls/s | Python p99 ms | Python CPU µs/call | hermes ÷ Python | target |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for label in one-session-h1 one-session-h2 16-sessions-h1 16-sessions-h2; do
    read -r h_rps h_p99 h_bad h_cpu h_client <<<"$(row hermes $label)"
    read -r p_rps p_p99 p_bad p_cpu _ <<<"$(row python "${label%-h?}-h1")"
    ratio=$(awk -v a="$h_rps" -v b="$p_rps" 'BEGIN {printf "%.1f×", a / b}')
    note=""; [ "${label##*-}" = h2 ] && note=" (its HTTP/1.1)"
    echo "| $label | $h_rps | $h_p99 | $h_cpu | $h_client | $p_rps$note | $p_p99 | $p_cpu | $ratio | ≥ 50× |"
    [ "$h_bad" = 0 ] && [ "$p_bad" = 0 ] || echo "| ↳ non-2xx or failed requests: hermes $h_bad, Python $p_bad | | | | | | | | | |"
done
for label in floor-h1 floor-h2; do
    read -r f_rps f_p99 _ f_cpu f_client <<<"$(row hermes $label)"
    echo "| HTTP floor ${label#floor-}: same load, POST /mcp refused by the gate (401) | $f_rps | $f_p99 | $f_cpu | $f_client | | | | | |"
done
echo "| hermes RSS, idle → with $streams_open open GET /mcp streams (MiB) | $rss_before → $rss_during | | | | | | | | ≤ 100 MB |"
echo
echo "DURATION=$duration s per measurement (after 1 s warm-up), $(nproc) cores, h2load and both servers on the same machine; hermes --log-level notice, Python server log_level WARNING."
