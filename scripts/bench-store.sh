#!/usr/bin/env bash
# Benchmarks Hermes Appliance's store on this machine and compares its durable appends with Redis's
# durable LPUSH (AOF with appendfsync always), both measured in the same run on the same disk.
#
#   scripts/bench-store.sh [--runs N] [--quick] [--out DIR] [--strict] [-- hermes-bench options]
#   scripts/bench-store.sh --report-from DIR     (re-print the report of a run saved with --out DIR)
#
# What it does, in one go:
#   1. installs what is missing (redis-server redis-tools liblmdb-dev libsodium-dev pkg-config jq);
#   2. builds `hermes-bench` (swift build -c release --product hermes-bench) in the repository root;
#   3. N times (default 3): starts a private redis-server on a free loopback port with
#      --appendonly yes --appendfsync always --save '' in a temporary directory, runs
#      `redis-benchmark -t lpush -n 200000 -q` with -c 1, 16 and 64, stops it, then runs
#      `hermes-bench store --json` with its scratch state in the same temporary directory;
#   4. prints a markdown report on stdout: the machine, the durable-append comparison with Redis, every
#      target with pass/fail, and every figure, as medians of the N runs (progress goes to stderr).
#      --out DIR keeps the raw results (run-N.json, logs, report.md); --strict exits 1 if a target is missed.
#
# Disk figures (fsync) depend on everything else that uses the disk: run it on an otherwise idle machine.
# The load average and I/O pressure before each run are recorded in the report.
#
# Environment (all optional):
#   HERMES_BENCH_PACKAGE_DIR  the Swift package to build (default: this repository)
#   HERMES_BENCH_BIN          a hermes-bench binary to use instead of building one
#   HERMES_BENCH_SCRATCH      where the temporary directory goes (default /var/tmp); it must be on the
#                             disk you want to measure, and is deleted at the end
#   REDIS_REQUESTS            requests per redis-benchmark run (default 200000)
#
# Example: scripts/bench-store.sh > /tmp/bench.md
set -euo pipefail

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
package_dir="${HERMES_BENCH_PACKAGE_DIR:-$(cd "$script_dir/.." && pwd)}"
scratch_parent="${HERMES_BENCH_SCRATCH:-/var/tmp}"
redis_requests="${REDIS_REQUESTS:-200000}"
runs=3
quick=0
strict=0
out_dir=""
report_from=""
bench_args=()

usage() {
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//'
}

while (($#)); do
    case "$1" in
        --runs) runs="${2:?--runs needs a number}"; shift 2 ;;
        --quick) quick=1; shift ;;
        --out) out_dir="${2:?--out needs a directory}"; shift 2 ;;
        --strict) strict=1; shift ;;
        --report-from) report_from="${2:?--report-from needs a directory}"; shift 2 ;;
        -h | --help) usage; exit 0 ;;
        --) shift; bench_args+=("$@"); break ;;
        *) echo "bench-store.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done
if ! [[ "$runs" =~ ^[1-9][0-9]*$ ]]; then
    echo "bench-store.sh: --runs needs a positive whole number, not $runs" >&2
    exit 2
fi
user_bench_args=("${bench_args[@]}")
if ((quick)); then
    bench_args=(--quick "${bench_args[@]}")
    redis_requests="${REDIS_REQUESTS:-20000}"
fi

log() { printf '%s\n' "bench-store: $*" >&2; }

# Writes the markdown header (command, machine, software) for a run into $1.
write_header() {
    local dir="$1" scratch_fs scratch_device disk_info="" swift_version cpu_model command
    scratch_fs="$(findmnt -n -o SOURCE,FSTYPE,OPTIONS -T "$dir" 2>/dev/null || df -T "$dir" | tail -1)"
    scratch_device="$(findmnt -n -o SOURCE -T "$dir" 2>/dev/null || true)"
    if [[ -n "$scratch_device" && -b "$scratch_device" ]]; then
        disk_info="$(lsblk -dno NAME,SIZE,ROTA,MODEL "$scratch_device" 2>/dev/null \
            | awk '{ $3 = ($3 == "1" ? "rotational" : "non-rotational"); print }' || true)"
    fi
    swift_version="$(swift --version 2>/dev/null | grep -m1 -i 'swift version' || echo 'Swift: unknown')"
    cpu_model="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
    command="scripts/bench-store.sh"
    ((runs != 3)) && command+=" --runs $runs"
    ((quick)) && command+=" --quick"
    ((${#user_bench_args[@]})) && command+=" -- ${user_bench_args[*]}"
    {
        echo "# Hermes store benchmark"
        echo
        echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
        echo "- command: \`$command\` ($runs run(s) of redis-benchmark then hermes-bench; figures are medians)"
        echo "- machine: $(nproc) cores, ${cpu_model:-unknown CPU}, $(free -g | awk '/^Mem:/ {print $2}') GiB memory, kernel $(uname -sr)"
        echo "- scratch directory: $scratch_parent on ${scratch_fs:-unknown}${disk_info:+ (disk: $disk_info)}"
        echo "- software: $swift_version; liblmdb $(package_version liblmdb0); libsodium $(package_version libsodium23); redis-server $(package_version redis-server)"
    } >"$dir/header.md"
}

package_version() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || echo unknown; }

# Prints the markdown report of the runs saved in $1 (header.md, run-*.json).
render_report() {
    local dir="$1"
    cat "$dir/header.md" 2>/dev/null || echo "# Hermes store benchmark"
    echo
    jq -rs '
    def median: map(select(. != null)) | sort
        | if length == 0 then null elif length % 2 == 1 then .[(length - 1) / 2] else (.[length / 2 - 1] + .[length / 2]) / 2 end;
    def commas: tostring | if length <= 3 then . else (.[0:length - 3] | commas) + "," + .[length - 3:] end;
    def fmt: if . == null then "—"
        elif (. | fabs) >= 1000 then (. | round | commas)
        elif (. | fabs) >= 100 then (. * 10 | round / 10 | tostring)
        else (. * 100 | round / 100 | tostring) end;
    def values($p): [.[] | getpath($p)];
    def pass($v; $cmp; $target): if $v == null then "—"
        elif ($cmp == ">=" and $v >= $target) or ($cmp == "<=" and $v <= $target) then "**pass**" else "**FAIL**" end;
    . as $runs
    | ($runs | values(["hermes", "appends", "group_commit", "writers_64", "per_s"]) | median) as $ours64
    | ($runs | values(["redis", "c64", "rps"]) | median) as $redis64
    | ($runs[0].hermes.sweep | (.sequential.entries // .random.entries // .random_indexed.entries // 0) | commas) as $n
    | "- load average (1, 5, 15 min) before each run: \([$runs[] | .conditions.load_average // "unknown"] | join("; "))",
      "- I/O pressure before each run: \([$runs[] | .conditions.io_pressure // "unknown"] | join("; "))",
      "",
      "## Durable appends against Redis",
      "",
      "Hermes: tasks looping `await store.append(.logs, …)` (durable: returns after fsync), with group commit and with one fsync'"'"'d transaction per write (`maximumBatchSize: 1`). Redis: `redis-benchmark -t lpush -n \($runs[0].conditions.redis_requests // "N") -c C -q` against a private redis-server with `--appendonly yes --appendfsync always --save '"''"'`.",
      "",
      "| concurrent writers | Hermes, group commit (/s) | Hermes, 1 fsync per write (/s) | Redis LPUSH, AOF always (/s) | Hermes group commit ÷ Redis |",
      "|---:|---:|---:|---:|---:|",
      ([1, 16, 64][] as $c
        | ($runs | values(["hermes", "appends", "group_commit", "writers_\($c)", "per_s"]) | median) as $g
        | ($runs | values(["hermes", "appends", "one_fsync_per_write", "writers_\($c)", "per_s"]) | median) as $s
        | ($runs | values(["redis", "c\($c)", "rps"]) | median) as $r
        | "| \($c) | \($g | fmt) | \($s | fmt) | \($r | fmt) | \(if $g != null and $r != null and $r > 0 then ($g / $r * 100 | round / 100 | tostring) + "×" else "—" end) |"),
      "",
      "**Hermes durable appends at 64 writers ÷ Redis LPUSH at -c 64 (medians): \(if $ours64 != null and $redis64 != null and $redis64 > 0 then ($ours64 / $redis64 * 100 | round / 100 | tostring) + "×" else "—" end)** (\($ours64 | fmt)/s against \($redis64 | fmt)/s).",
      "",
      "Ratio at 64 writers, run by run: \([$runs[] | if .hermes.appends.group_commit.writers_64.per_s != null then (.hermes.appends.group_commit.writers_64.per_s / .redis.c64.rps * 100 | round / 100 | tostring) + "×" else "—" end] | join(", ")).",
      "",
      "## Targets",
      "",
      "| figure | median | runs | target | result |",
      "|---|---:|---|---:|:---:|",
      ([
        ["durable appends/s, 64 writers, group commit", ["hermes", "appends", "group_commit", "writers_64", "per_s"], ">=", 40000, ""],
        ["credential resolve median (µs)", ["hermes", "credential_resolve", "median_us"], "<=", 2, ""],
        ["sweep of \($n) expired, keys in deadline order (entries/s)", ["hermes", "sweep", "sequential", "per_s"], ">=", 200000, ""],
        ["sweep of \($n) expired, keys in deadline order: longest write txn (ms)", ["hermes", "sweep", "sequential", "longest_write_transaction_ms"], "<=", 10, ""],
        ["sweep of \($n) expired, random keys in expiry generations (entries/s)", ["hermes", "sweep", "random", "per_s"], ">=", 200000, ""],
        ["sweep of \($n) expired, random keys in expiry generations: longest write txn (ms)", ["hermes", "sweep", "random", "longest_write_transaction_ms"], "<=", 10, ""]
      ][] as [$title, $path, $cmp, $target]
        | ($runs | values($path)) as $v
        | select($v | map(select(. != null)) | length > 0)
        | ($v | median) as $m
        | "| \($title) | \($m | fmt) | \($v | map(fmt) | join(" / ")) | \($cmp) \($target | fmt) | \(pass($m; $cmp; $target)) |"),
      "",
      "## Key figures",
      "",
      "| figure | median | runs |",
      "|---|---:|---|",
      ([
        ["gets/s, 1 thread (`store.get`, random keys)", ["hermes", "gets", "single_thread_per_s"]],
        ["gets/s, 2 threads", ["hermes", "gets", "two_threads_per_s"]],
        ["gets/s, 1 thread, inside one read transaction", ["hermes", "gets", "one_read_transaction_per_s"]],
        ["durable puts/s (`store.put`, 64 tasks)", ["hermes", "puts", "durable_per_s"]],
        ["puts/s batched in one `store.write`, before the commit", ["hermes", "puts", "batched_per_s_without_commit"]],
        ["ns per batched put", ["hermes", "puts", "batched_ns_per_put"]],
        ["puts/s batched in one `store.write`, commit included", ["hermes", "puts", "batched_per_s_with_commit"]],
        ["durable appends/s, 1 writer, group commit", ["hermes", "appends", "group_commit", "writers_1", "per_s"]],
        ["durable appends/s, 16 writers, group commit", ["hermes", "appends", "group_commit", "writers_16", "per_s"]],
        ["durable appends/s, 64 writers, group commit", ["hermes", "appends", "group_commit", "writers_64", "per_s"]],
        ["durable appends/s, 1 writer, 1 fsync per write", ["hermes", "appends", "one_fsync_per_write", "writers_1", "per_s"]],
        ["durable appends/s, 16 writers, 1 fsync per write", ["hermes", "appends", "one_fsync_per_write", "writers_16", "per_s"]],
        ["durable appends/s, 64 writers, 1 fsync per write", ["hermes", "appends", "one_fsync_per_write", "writers_64", "per_s"]],
        ["append latency p99 (µs), 64 writers, group commit", ["hermes", "appends", "group_commit", "writers_64", "latency_p99_us"]],
        ["Redis LPUSH/s, -c 1", ["redis", "c1", "rps"]],
        ["Redis LPUSH/s, -c 16", ["redis", "c16", "rps"]],
        ["Redis LPUSH/s, -c 64", ["redis", "c64", "rps"]],
        ["Redis LPUSH p99 (ms), -c 64", ["redis", "c64", "p99_ms"]],
        ["credential resolve median (µs)", ["hermes", "credential_resolve", "median_us"]],
        ["credential resolve p99 (µs)", ["hermes", "credential_resolve", "p99_us"]],
        ["of which `creds` get, median (µs)", ["hermes", "credential_resolve", "get_median_us"]],
        ["of which envelope open, median (µs)", ["hermes", "credential_resolve", "open_median_us"]],
        ["sweep, keys in deadline order (entries/s)", ["hermes", "sweep", "sequential", "per_s"]],
        ["sweep, keys in deadline order: longest write txn (ms)", ["hermes", "sweep", "sequential", "longest_write_transaction_ms"]],
        ["sweep, keys in deadline order: bytes written per entry", ["hermes", "sweep", "sequential", "written_bytes_per_entry"]],
        ["sweep, random keys in expiry generations (entries/s)", ["hermes", "sweep", "random", "per_s"]],
        ["sweep, random keys in expiry generations: longest write txn (ms)", ["hermes", "sweep", "random", "longest_write_transaction_ms"]],
        ["sweep, random keys in expiry generations: bytes written per entry", ["hermes", "sweep", "random", "written_bytes_per_entry"]],
        ["sweep, random keys in an indexed keyspace, reference (entries/s)", ["hermes", "sweep", "random_indexed", "per_s"]],
        ["sweep, random keys in an indexed keyspace: longest write txn (ms)", ["hermes", "sweep", "random_indexed", "longest_write_transaction_ms"]],
        ["sweep, random keys in an indexed keyspace: bytes written per entry", ["hermes", "sweep", "random_indexed", "written_bytes_per_entry"]]
      ][] as [$title, $path]
        | ($runs | values($path)) as $v
        | select($v | map(select(. != null)) | length > 0)
        | "| \($title) | \($v | median | fmt) | \($v | map(fmt) | join(" / ")) |"),
      "",
      "## Every figure",
      "",
      "Medians of \($runs | length) run(s); paths name fields of `hermes-bench store --json` (under `hermes`) and of redis-benchmark (under `redis`).",
      "",
      "| figure | median | min | max |",
      "|---|---:|---:|---:|",
      ([$runs[0] | paths(numbers)]
        | map(select(.[0] != "hermes" or (.[1] != "checks" and .[1] != "machine" and .[1] != "schema")))[] as $p
        | ($runs | values($p)) as $v
        | "| \($p | map(tostring) | join(".")) | \($v | median | fmt) | \($v | min | fmt) | \($v | max | fmt) |")
' "$dir"/run-*.json
}

# Exits 1 when a target is missed in the medians of the runs saved in $1.
check_targets() {
    local missed
    missed="$(jq -rs '
        def median: sort | if length % 2 == 1 then .[(length - 1) / 2] else (.[length / 2 - 1] + .[length / 2]) / 2 end;
        [.[].hermes.checks[]] | group_by(.name)[]
        | (map(.value) | median) as $m | .[0] as $c
        | select(($c.comparison == ">=" and $m < $c.target) or ($c.comparison == "<=" and $m > $c.target)) | $c.name
    ' "$1"/run-*.json)"
    if [[ -n "$missed" ]]; then
        log "targets missed: $(tr '\n' ' ' <<<"$missed")"
        exit 1
    fi
}

if [[ -n "$report_from" ]]; then
    render_report "$report_from"
    ((strict)) && check_targets "$report_from"
    exit 0
fi

# ---------------------------------------------------------------------------------------------------
# 1. Packages

sudo_cmd=()
if [[ "$(id -u)" != 0 ]]; then
    if command -v sudo >/dev/null; then sudo_cmd=(sudo); fi
fi

install_missing() {
    local wanted=(redis-server redis-tools liblmdb-dev libsodium-dev pkg-config jq) missing=() package
    for package in "${wanted[@]}"; do
        if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed'; then
            missing+=("$package")
        fi
    done
    if ((${#missing[@]})); then
        log "installing ${missing[*]}"
        "${sudo_cmd[@]}" apt-get update -q >&2
        "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >&2
    fi
}
install_missing

# ---------------------------------------------------------------------------------------------------
# 2. Build

if [[ -n "${HERMES_BENCH_BIN:-}" ]]; then
    bench_bin="$HERMES_BENCH_BIN"
else
    if ! command -v swift >/dev/null; then
        echo "bench-store.sh: the Swift toolchain (swift) is not on PATH; install Swift 6.1 or later first" >&2
        exit 1
    fi
    log "building hermes-bench (release) in $package_dir"
    (cd "$package_dir" && swift build -c release --product hermes-bench >&2)
    bench_bin="$(cd "$package_dir" && swift build -c release --product hermes-bench --show-bin-path)/hermes-bench"
fi
if [[ ! -x "$bench_bin" ]]; then
    echo "bench-store.sh: no hermes-bench binary at $bench_bin" >&2
    exit 1
fi

# ---------------------------------------------------------------------------------------------------
# 3. Runs

mkdir -p "$scratch_parent"
work="$(mktemp -d "$scratch_parent/hermes-bench-run-XXXXXX")"
redis_pid=""
redis_port=""

stop_redis() {
    [[ -n "$redis_pid" ]] || return 0
    redis-cli -p "$redis_port" shutdown nosave >/dev/null 2>&1 || kill "$redis_pid" 2>/dev/null || true
    local waited=0
    while kill -0 "$redis_pid" 2>/dev/null && ((waited < 100)); do
        sleep 0.1
        waited=$((waited + 1))
    done
    kill -0 "$redis_pid" 2>/dev/null && kill -9 "$redis_pid" 2>/dev/null
    redis_pid=""
}

# shellcheck disable=SC2317  # invoked by the EXIT trap
cleanup() {
    stop_redis
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Starts redis-server on a free loopback port; sets redis_pid and redis_port.
start_redis() {
    local dir="$1" port
    for _ in $(seq 1 20); do
        port=$((20000 + RANDOM % 30000))
        port_in_use "$port" && continue
        rm -f "$dir/redis.pid"
        if ! redis-server --port "$port" --bind 127.0.0.1 --dir "$dir" \
            --appendonly yes --appendfsync always --save '' \
            --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" >/dev/null 2>&1; then
            continue
        fi
        local waited=0
        while ((waited < 100)); do
            if [[ "$(redis-cli -p "$port" ping 2>/dev/null)" == PONG ]]; then
                redis_port="$port"
                redis_pid="$(cat "$dir/redis.pid")"
                return 0
            fi
            sleep 0.1
            waited=$((waited + 1))
        done
        if [[ -f "$dir/redis.pid" ]]; then kill "$(cat "$dir/redis.pid")" 2>/dev/null || true; fi
    done
    echo "bench-store.sh: could not start redis-server on a free loopback port; see $dir/redis.log" >&2
    exit 1
}

# Prints {"rps":…, "p50_ms":…, "p99_ms":…} for redis-benchmark LPUSH with $1 clients.
redis_lpush() {
    local clients="$1" line
    line="$(redis-benchmark -h 127.0.0.1 -p "$redis_port" -t lpush -c "$clients" -n "$redis_requests" -q --csv 2>/dev/null \
        | tr '\r' '\n' | grep '^"LPUSH"' | tail -1)"
    if [[ -z "$line" ]]; then
        echo "bench-store.sh: redis-benchmark -c $clients printed no LPUSH result" >&2
        exit 1
    fi
    # "LPUSH","rps","avg","min","p50","p95","p99","max"
    awk -F'"' '{ printf "{\"rps\": %s, \"p50_ms\": %s, \"p99_ms\": %s}\n", $4, $10, $14 }' <<<"$line"
}

write_header "$work"

for run in $(seq 1 "$runs"); do
    conditions="$(jq -n --arg load "$(cut -d' ' -f1-3 /proc/loadavg)" --arg io "$(grep '^some' /proc/pressure/io 2>/dev/null || echo unknown)" \
        --argjson requests "$redis_requests" '{load_average: $load, io_pressure: $io, redis_requests: $requests}')"
    log "run $run/$runs: load average $(jq -r .load_average <<<"$conditions")"
    redis_dir="$work/redis-$run"
    mkdir -p "$redis_dir"
    start_redis "$redis_dir"
    log "run $run/$runs: redis-server $(redis-server --version | awk '{print $3}') on 127.0.0.1:$redis_port (AOF, appendfsync always)"
    declare -A redis_result=()
    for clients in 1 16 64; do
        redis_result[$clients]="$(redis_lpush "$clients")"
        log "  redis LPUSH -c $clients: $(jq -r '.rps | floor' <<<"${redis_result[$clients]}") requests/s"
    done
    stop_redis
    rm -rf "$redis_dir"

    log "run $run/$runs: hermes-bench store --json ${bench_args[*]}"
    "$bench_bin" store --json --scratch-dir "$work" "${bench_args[@]}" \
        >"$work/hermes-$run.json" 2> >(tee "$work/hermes-$run.log" >&2)
    jq -n \
        --argjson c1 "${redis_result[1]}" --argjson c16 "${redis_result[16]}" --argjson c64 "${redis_result[64]}" \
        --argjson conditions "$conditions" --slurpfile hermes "$work/hermes-$run.json" \
        '{conditions: $conditions, redis: {c1: $c1, c16: $c16, c64: $c64}, hermes: $hermes[0]}' >"$work/run-$run.json"
    unset redis_result
done

# ---------------------------------------------------------------------------------------------------
# 4. Report

render_report "$work" | tee "$work/report.md"
if [[ -n "$out_dir" ]]; then
    mkdir -p "$out_dir"
    cp "$work/report.md" "$work/header.md" "$work"/run-*.json "$work"/*.log "$out_dir"/ 2>/dev/null || true
fi
((strict)) && check_targets "$work"
exit 0
