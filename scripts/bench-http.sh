#!/usr/bin/env bash
# HTTP benchmark: h2load against hermes /healthz and, in the same run and alternating, against nghttpd
# serving a static file of the same size; HTTP/1.1 with h2load --h1; RSS with 1,000 idle connections;
# server CPU time per request, and the CPU h2load itself spends per request (client and servers share the
# machine's cores, so the two together bound the rate). Prints a markdown table.
# Usage: scripts/bench-http.sh [runs]   (default 3; HERMES_THREADS=1 for one event-loop thread, like nghttpd)
# With more than one event-loop thread (the default: one per core), the same runs also measure
# `nghttpd -n <threads>`, the reference with as many worker threads as hermes has event loops, and the
# target ratio is taken against it.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
requests=${REQUESTS:-200000}
for tool in h2load nghttpd; do
    command -v $tool >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nghttp2-client nghttp2-server >/dev/null; break; }
done
scripts/install-deps run
# The binary the Containerfile ships: release, with the Swift runtime linked in statically (that build also
# runs 7-11 % less CPU per request than one calling the runtime's shared libraries).
# HERMES_BINARY: measure another build (an A/B against an earlier commit) instead of building this tree's.
[ -n "${HERMES_BINARY:-}" ] || swift build -c release --product hermes --static-swift-stdlib --scratch-path .build-static >&2
binary=${HERMES_BINARY:-.build-static/release/hermes}

work=$(mktemp -d)
nghttpd_threaded_pid=""
trap 'kill $hermes_pid $nghttpd_pid $nghttpd_threaded_pid 2>/dev/null || true; rm -rf "$work"' EXIT
port_hermes=$((20000 + RANDOM % 10000)); port_nghttpd=$((port_hermes + 1)); port_nghttpd_threaded=$((port_hermes + 2))
threads=${HERMES_THREADS:-$(nproc)}

log_level=${LOG_LEVEL:-notice}
CREDENTIAL_ENCRYPTION_KEY=$("$binary" keys generate) HERMES_ENV=production \
    "$binary" serve --state-dir "$work/state" --port $port_hermes --log-level "$log_level" 2>"$work/hermes.log" &
hermes_pid=$!
mkdir -p "$work/www"
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port_hermes/healthz" -o "$work/www/healthz" && break; sleep 0.2; done
nghttpd --no-tls -d "$work/www" $port_nghttpd >/dev/null 2>&1 &
nghttpd_pid=$!
if [ "$threads" -gt 1 ]; then
    nghttpd --no-tls -n "$threads" -d "$work/www" $port_nghttpd_threaded >/dev/null 2>&1 &
    nghttpd_threaded_pid=$!
fi
sleep 0.5

cpu_ticks() { awk '{print $14 + $15}' /proc/$1/stat; }
per_request() { awk -v s="$(cat "$1")" -v n="$requests" 'BEGIN {printf "%.2f\n", s * 1000000 / n}'; }
rps() { sed -n 's/^finished in .*, \([0-9.]*\) req\/s.*/\1/p'; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
ticks_per_second=$(getconf CLK_TCK)

: >"$work/hermes.h2"; : >"$work/nghttpd.h2"; : >"$work/nghttpd-threaded.h2"; : >"$work/hermes.h1"; : >"$work/cpu"; : >"$work/nghttpd.cpu"; : >"$work/client.cpu"; : >"$work/nghttpd.client.cpu"
for run in $(seq "$runs"); do
    before=$(cpu_ticks $hermes_pid)
    scripts/cpu-time "$work/client" h2load -n "$requests" -c 10 -m 10 "http://127.0.0.1:$port_hermes/healthz" | rps >>"$work/hermes.h2"
    after=$(cpu_ticks $hermes_pid)
    awk -v a="$after" -v b="$before" -v t="$ticks_per_second" -v n="$requests" 'BEGIN {printf "%.2f\n", (a - b) * 1000000 / t / n}' >>"$work/cpu"
    per_request "$work/client" >>"$work/client.cpu"
    before=$(cpu_ticks $nghttpd_pid)
    scripts/cpu-time "$work/client" h2load -n "$requests" -c 10 -m 10 "http://127.0.0.1:$port_nghttpd/healthz" | rps >>"$work/nghttpd.h2"
    after=$(cpu_ticks $nghttpd_pid)
    awk -v a="$after" -v b="$before" -v t="$ticks_per_second" -v n="$requests" 'BEGIN {printf "%.2f\n", (a - b) * 1000000 / t / n}' >>"$work/nghttpd.cpu"
    per_request "$work/client" >>"$work/nghttpd.client.cpu"
    if [ -n "$nghttpd_threaded_pid" ]; then
        h2load -n "$requests" -c 10 -m 10 "http://127.0.0.1:$port_nghttpd_threaded/healthz" | rps >>"$work/nghttpd-threaded.h2"
    fi
    h2load --h1 -n "$requests" -c 10 -m 10 "http://127.0.0.1:$port_hermes/healthz" | rps >>"$work/hermes.h1"
done
hermes_h2=$(median <"$work/hermes.h2"); nghttpd_h2=$(median <"$work/nghttpd.h2"); hermes_h1=$(median <"$work/hermes.h1")
cpu_us=$(median <"$work/cpu"); nghttpd_cpu_us=$(median <"$work/nghttpd.cpu")
client_us=$(median <"$work/client.cpu"); nghttpd_client_us=$(median <"$work/nghttpd.client.cpu")
idle=$(python3 scripts/idle-connections.py 127.0.0.1 $port_hermes 1000 $hermes_pid)
ratio=$(awk -v a="$hermes_h2" -v b="$nghttpd_h2" 'BEGIN {printf "%.2f", a / b}')

echo "| measure | hermes | reference | ratio | target |"
echo "|---|---|---|---|---|"
# The target compares equal resources: as many nghttpd worker threads as hermes has event loops. On a
# machine where h2load shares the cores, a second thread competes with the load generator, and nghttpd
# loses about as much from it as hermes does; the one-thread nghttpd row stays for reference.
if [ -n "$nghttpd_threaded_pid" ]; then
    nghttpd_threaded_h2=$(median <"$work/nghttpd-threaded.h2")
    echo "| h2 req/s, h2load -n $requests -c 10 -m 10, median of $runs, $threads threads each | $hermes_h2 | nghttpd --no-tls -n $threads: $nghttpd_threaded_h2 | $(awk -v a="$hermes_h2" -v b="$nghttpd_threaded_h2" 'BEGIN {printf "%.2f", a / b}') | ≥ 1.0 |"
    echo "| the same against nghttpd with one thread (its default) | $hermes_h2 | nghttpd --no-tls: $nghttpd_h2 | $ratio | — |"
else
    echo "| h2 req/s, h2load -n $requests -c 10 -m 10, median of $runs, one thread each | $hermes_h2 | nghttpd --no-tls: $nghttpd_h2 | $ratio | ≥ 1.0 |"
fi
echo "| HTTP/1.1 req/s, h2load --h1 (same), median of $runs | $hermes_h1 | — | — | — |"
echo "| server CPU time per h2 request (µs) | $cpu_us | nghttpd: $nghttpd_cpu_us | $(awk -v a="$nghttpd_cpu_us" -v b="$cpu_us" 'BEGIN {printf "%.2f", a / b}') | — |"
echo "| h2load's own CPU time per h2 request (µs) | $client_us | against nghttpd: $nghttpd_client_us | — | — |"
echo "| 1,000 idle connections | $idle | — | — | RSS ≤ 60 MB |"
echo
echo "runs h2 hermes: $(tr '\n' ' ' <"$work/hermes.h2"); nghttpd: $(tr '\n' ' ' <"$work/nghttpd.h2");${nghttpd_threaded_pid:+ nghttpd -n $threads: $(tr '\n' ' ' <"$work/nghttpd-threaded.h2");} h1 hermes: $(tr '\n' ' ' <"$work/hermes.h1"); log level: $log_level"
