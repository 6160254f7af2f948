#!/usr/bin/env bash
# Side-by-side ingest benchmark: `meshlog ingest` against DuckDB turning the same
# Istio access log into typed, ts-sorted, zstd Parquet in two ways an
# operator would write it: one regexp_extract per line, and DuckDB's CSV reader
# splitting the line on spaces with '"' quoting (helpers in scripts/bench/). The three
# take turns, run after run. Prints each run and the medians, lines/s and peak memory
# (RSS), checks that all three hold the same rows and values, and prints meshlog's
# ratio to each DuckDB method.
#
#   scripts/bench-ingest.sh [LINES] [RUNS] [WORKLOAD]
#
# defaults: 2000000 lines, 3 runs, simulated. WORKLOAD is the log the three read:
#   simulated   `meshlog simulate`'s cluster1 log (10 minutes; few distinct values per column)
#   realistic   scripts/bench/realistic_log.py: an ingress gateway, an east-west gateway and
#               sidecars over 6 hours, as real gateways log: a new client ip:port on nearly
#               every line, thousands of pod IPs, hundreds of paths, dozens of user agents
#
# MESHLOG_BIN=path runs that binary; unset, it builds one (cargo build --release).
# Needs python3 with duckdb (scripts/test.sh installs it) and GNU time.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source-path=SCRIPTDIR/..
source scripts/bench/lib.sh
lines="${1:-2000000}"
runs="${2:-3}"
workload="${3:-simulated}"
require_count LINES "$lines"
require_count RUNS "$runs"
[[ "$workload" == simulated || "$workload" == realistic ]] \
    || fail "WORKLOAD must be simulated or realistic, got '$workload'"
require_tools
meshlog="$(meshlog_binary)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

if [[ "$workload" == realistic ]]; then
    realistic_log "$lines" "$work/gateway.log" "$work/mesh.toml"
else
    simulate_log "$lines" "$work/gateway.log" "$work/mesh.toml"
fi
actual=$(wc -l < "$work/gateway.log")
echo "input ($workload): $actual lines, $(du -m "$work/gateway.log" | cut -f1) MB"

# One run of a method: removes its output, times it, appends "seconds MB" to its runs.
run_once() {
    local name="$1" run="$2" output="$3"; shift 3
    rm -rf "$output"
    # Every run starts with the input in the page cache, whatever ran before it.
    cat "$work/gateway.log" > /dev/null
    result=$(measure "$@")
    echo "$name run $run: $result (s, peak MB)"
    echo "$result" >> "$work/$name.runs"
}

# Prints a method's medians and keeps its median time for the ratios.
summarize() {
    local name="$1" seconds memory
    seconds=$(cut -d' ' -f1 "$work/$name.runs" | median)
    memory=$(cut -d' ' -f2 "$work/$name.runs" | median)
    echo "$name median: $seconds s, $(awk -v n="$actual" -v s="$seconds" 'BEGIN { printf "%.0f", n / s }') lines/s, peak $memory MB"
    echo "$seconds" > "$work/$name.median"
}

# The methods take turns, run after run, so that a shared host slowing down for a
# while slows all three alike instead of skewing their ratio. Each keeps its last output.
methods=(meshlog duckdb-regexp duckdb-csv)
for name in "${methods[@]}"; do : > "$work/$name.runs"; done
for run in $(seq "$runs"); do
    run_once meshlog "$run" "$work/data" "$meshlog" ingest --quiet --config "$work/mesh.toml" \
        --data-dir "$work/data" --source-cluster cluster1 --format istio "$work/gateway.log"
    run_once duckdb-regexp "$run" "$work/regexp.parquet" \
        python3 scripts/bench/ingest_regexp.py "$work/gateway.log" "$work/regexp.parquet"
    run_once duckdb-csv "$run" "$work/csv.parquet" \
        python3 scripts/bench/ingest_csv.py "$work/gateway.log" "$work/csv.parquet" "$work/csv.rejects"
done
for name in "${methods[@]}"; do summarize "$name"; done

echo "duckdb-csv: the CSV reader rejected $(cat "$work/csv.rejects") lines (skipped: ignore_errors via store_rejects)"
equivalent=yes
python3 scripts/bench/ingest_check.py "$actual" "$work/data" \
    duckdb-regexp="$work/regexp.parquet" duckdb-csv="$work/csv.parquet" || equivalent=no

m=$(cat "$work/meshlog.median")
regexp=$(cat "$work/duckdb-regexp.median")
csv=$(cat "$work/duckdb-csv.median")
echo "meshlog is $(ratio "$m" "$regexp")x DuckDB regexp_extract and $(ratio "$m" "$csv")x DuckDB read_csv on the same lines"
if awk -v r="$regexp" -v c="$csv" 'BEGIN { exit !(c <= r) }'; then
    faster="read_csv" fastest="$csv"
else
    faster="regexp_extract" fastest="$regexp"
fi
echo "meshlog is $(ratio "$m" "$fastest")x DuckDB's faster method ($faster)"
if [[ "$equivalent" == no ]]; then
    fail "the outputs differ (see above): the timings do not compare the same work"
fi
