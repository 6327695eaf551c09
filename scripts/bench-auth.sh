#!/usr/bin/env bash
# Auth benchmark: what the auth step plus metering adds to one request, for a customer API key and for an
# OAuth access token (obtained through the real registration, consent and token routes), timed call by
# call on a real store; the single-user static-key check is printed beside them as the floor.
#
# Usage: scripts/bench-auth.sh [runs] [requests]      (defaults: 3 runs of 100,000 requests each)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
requests=${2:-100000}
swift build -c release --product hermes-bench >&2
binary=.build/release/hermes-bench
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load $(cut -d' ' -f1-3 /proc/loadavg)"
for run in $(seq "$runs"); do
    echo "run $run:"
    "$binary" auth --requests "$requests"
done
