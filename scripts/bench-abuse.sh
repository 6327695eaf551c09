#!/usr/bin/env bash
# Abuse benchmark (issue 18): what a flood from one client or customer costs everyone else.
#
# Each flood runs against a fresh daemon (release build with the Swift runtime linked statically, as the
# Containerfile ships it, or HERMES_BINARY) on a fresh copy of one store holding three customers, while a
# second, well-behaved customer (enterprise plan) calls `tools/call whoami` over Streamable HTTP on its own
# session at a steady rate (RATE, default 50 calls/s, open loop) over 4 HTTP/1.1 keep-alive connections
# (scripts/abuse/good.py). A quiet run (the same, no flood) in the same script run is the reference.
# Per run: the daemon's peak RSS (VmRSS sampled every 50 ms, scripts/abuse/rss.py), the good customer's
# calls that succeeded and its p99 latency, and that p99 over the quiet run's.
# Targets: peak RSS ≤ 256 MiB under every flood; every good call succeeds; its p99 within 5× the quiet run's.
#
# Floods (scripts/abuse/flood.py; each bounded in count and to FLOOD seconds, loopback only, run under
# `nice -n 10` so that the load generator, which shares the machine's cores with the daemon, takes CPU from
# neither the daemon nor the good customer before they need it):
#   h1-slow    400 HTTP/1.1 connections each POSTing a 4 MB body to /mcp without credentials, in 64 KiB
#              pieces over 10 s (all of them in flight at once)
#   h1-fast    the same, each body as fast as the connection takes it
#   h2         h2c prior knowledge: 3 connections × 100 streams, each POSTing 4 MB to /mcp without credentials
#   idle       12,000 connections from one address: 8,000 silent, 2,000 with half a request line, 2,000 with
#              a whole request then shutdown(SHUT_WR); a fresh connection probes GET /healthz every 0.5 s
#   sessions   a free-plan customer sending initialize as fast as it can on 8 keep-alive connections
#   authorize  a registered OAuth client's GET /oauth/authorize, as fast as it can from one address
#   unread     an enterprise customer opens 8 GET /sse and 8 GET /mcp streams and never reads them, then
#              POSTs /messages tools/call (sandbox_send_message with 4,000-character texts, then
#              sandbox_read_messages {"limit":100}, ~0.8 MB answers) whose answers go to the unread streams
#
# Usage: scripts/bench-abuse.sh
#   FLOODS="h1-slow h2 …" (default: all, in the order above), RATE (50), FLOOD (12 s per flood),
#   HERMES_BINARY (measure another build), KEEP=1 (keep the results directory and print its path).
# Whole run: about 2-3 minutes plus the build. Prints a markdown table (the numbers behind the abuse section
# of docs/benchmarks.md), then what the daemon logged at notice and above per run.
set -euo pipefail
cd "$(dirname "$0")/.."
rate=${RATE:-50}
flood_seconds=${FLOOD:-12}
good_seconds=$((flood_seconds + 3))   # 1 s quiet before the flood starts, ~2 s after it stops
floods=${FLOODS:-h1-slow h1-fast h2 idle sessions authorize unread}
rss_ceiling_mib=4096                   # rss.py kills the daemon past this: the machine is shared
scripts/python-env
[ -n "${HERMES_BINARY:-}" ] || swift build -c release --product hermes --static-swift-stdlib --scratch-path .build-static >&2
binary=${HERMES_BINARY:-.build-static/release/hermes}
python=.venv/bin/python
# 12,000 flood connections on the client side, and up to the daemon's 10,000-connection cap on its side.
hard=$(ulimit -Hn)
if [ "$hard" = unlimited ]; then ulimit -n 65536; elif [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt "$hard" ]; then ulimit -n "$hard"; fi
[ "$(ulimit -n)" = unlimited ] || [ "$(ulimit -n)" -ge 13000 ] || echo "warning: open-files limit $(ulimit -n): the idle flood and the daemon's connection cap need about 13,000" >&2

work=$(mktemp -d)
results="$work/results"
mkdir -p "$results"
pids=()
cleanup() {
    local pid
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    sleep 0.5
    for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    if [ -n "${KEEP:-}" ]; then echo "results kept in $results" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

encryption_key=$("$binary" keys generate)
export CREDENTIAL_ENCRYPTION_KEY=$encryption_key HERMES_ENV=production
unset MCP_API_KEY

# One store with the three customers, copied for every run (so each daemon starts fresh: no sessions, full
# rate buckets, no usage).
template="$work/template"
base_port=$((20000 + RANDOM % 10000))
run_index=0
# The customers commands need an existing store: a daemon makes it, and is stopped once they are created.
"$binary" serve --state-dir "$template" --port $((base_port + 99)) --log-level warning 2>"$work/template.log" &
template_daemon=$!
pids+=("$template_daemon")
for _ in $(seq 150); do curl -sf "http://127.0.0.1:$((base_port + 99))/healthz" >/dev/null && break; sleep 0.1; done
create_customer() {
    "$binary" customers create --state-dir "$template" --email "$1" --plan "$2" | awk '/^api key:/ {print $3}'
}
good_key=$(create_customer good@example.com enterprise)
free_key=$(create_customer flooder@example.com free)
streams_key=$(create_customer streams@example.com enterprise)
kill -TERM "$template_daemon"
wait "$template_daemon" || { echo "the daemon that made the store failed: $(cat "$work/template.log")" >&2; exit 1; }
pids=()
[ -n "$good_key" ] && [ -n "$free_key" ] && [ -n "$streams_key" ] || { echo "could not create the customers" >&2; exit 1; }

# run <name> [flood kind [flood options]]: a fresh daemon, the good customer, and the flood if any.
run() {
    local name=$1; shift
    local port=$((base_port + run_index)) state="$work/state-$name"
    run_index=$((run_index + 1))
    cp -a "$template" "$state"
    "$binary" serve --state-dir "$state" --port "$port" --log-level notice 2>"$results/$name.log" &
    local daemon=$!
    pids+=("$daemon")
    local up=""
    for _ in $(seq 150); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && { up=yes; break; }; sleep 0.1; done
    [ -n "$up" ] || { echo "the daemon did not start for $name; its log:" >&2; cat "$results/$name.log" >&2; exit 1; }

    "$python" scripts/abuse/rss.py "$daemon" 50 "$rss_ceiling_mib" >"$results/$name.rss" &
    local sampler=$!
    pids+=("$sampler")
    "$python" scripts/abuse/good.py --port "$port" --key "$good_key" --rate "$rate" --duration "$good_seconds" \
        --ready-file "$work/$name.ready" >"$results/$name.good" 2>"$results/$name.good.err" &
    local good=$!
    pids+=("$good")
    for _ in $(seq 300); do [ -f "$work/$name.ready" ] && break; sleep 0.1; done
    sleep 1
    if [ $# -gt 0 ]; then
        # The flood stops itself at its deadline; past it plus a margin, timeout kills it.
        nice -n 10 timeout -s KILL $((flood_seconds + 25)) "$python" scripts/abuse/flood.py "$@" --port "$port" \
            --duration "$flood_seconds" >"$results/$name.flood" 2>"$results/$name.flood.err" &
        local flood=$!
        pids+=("$flood")
        local status=0
        wait "$flood" || status=$?
        if [ "$status" != 0 ]; then
            echo "{\"error\": \"flood.py exited with $status: $(tail -1 "$results/$name.flood.err" | tr -d '"\\' | cut -c1-200)\"}" >>"$results/$name.flood"
        fi
    fi
    wait "$good" || echo "good.py for $name exited with an error: $(tail -1 "$results/$name.good.err")" >&2
    kill "$sampler" 2>/dev/null || true
    wait "$sampler" || true
    local alive=no code=""
    if kill -0 "$daemon" 2>/dev/null; then
        alive=yes
        kill -TERM "$daemon"
        for _ in $(seq 150); do kill -0 "$daemon" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$daemon" 2>/dev/null && { kill -9 "$daemon"; code="(killed: still running 15 s after SIGTERM) "; }
    fi
    local exit_status=0
    wait "$daemon" || exit_status=$?
    echo "alive=$alive exit=$exit_status $code" >"$results/$name.daemon"
    rm -rf "$state"
    pids=()   # every process of this run has been waited for
    echo "$name: done ($(tr -d '\n' <"$results/$name.daemon"))" >&2
}

labels=("quiet=quiet run (no flood)")
run quiet
for flood in $floods; do
    case $flood in
    h1-slow)
        run h1-slow h1-body-slow --connections 400 --body-bytes 4000000 --send-seconds 10
        labels+=("h1-slow=1a. unauthenticated 4 MB bodies, HTTP/1.1, sent slowly (400 connections, each body over 10 s)") ;;
    h1-fast)
        run h1-fast h1-body-fast --connections 400 --body-bytes 4000000
        labels+=("h1-fast=1b. unauthenticated 4 MB bodies, HTTP/1.1, sent as fast as possible (400 connections)") ;;
    h2)
        run h2 h2-body --connections 3 --streams 100 --body-bytes 4000000
        labels+=("h2=2. unauthenticated 4 MB bodies, h2c (3 connections × 100 streams)") ;;
    idle)
        run idle idle --silent 8000 --half-line 2000 --shut-wr 2000
        labels+=("idle=3. idle and half-open connections (8,000 silent, 2,000 half a request line, 2,000 a request then SHUT_WR)") ;;
    sessions)
        run sessions sessions --key "$free_key" --connections 8
        labels+=("sessions=4. MCP session exhaustion (free-plan customer, initialize on 8 connections)") ;;
    authorize)
        run authorize authorize --connections 8
        labels+=("authorize=5. pending sign-ins (GET /oauth/authorize from one address, 8 connections)") ;;
    unread)
        run unread unread-streams --key "$streams_key" --streams 8 --connections 8
        labels+=("unread=6. unread event streams (enterprise customer: 8 GET /sse + 8 GET /mcp, POST /messages)") ;;
    *) echo "unknown flood $flood" >&2; exit 2 ;;
    esac
done

"$python" scripts/abuse/report.py "$results" quiet "${labels[@]}"
echo
echo "Good customer: enterprise plan, own Streamable HTTP session, tools/call whoami at $rate calls/s (open loop) over 4 HTTP/1.1 keep-alive connections for $good_seconds s; each flood starts 1 s in and lasts at most $flood_seconds s (under nice -n 10). Peak RSS: VmRSS every 50 ms. $(nproc) cores, everything on one machine; hermes --log-level notice."
