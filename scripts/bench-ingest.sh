#!/usr/bin/env bash
# Side-by-side ingest benchmark: `meshlog ingest` against DuckDB turning the same
# simulated Istio access log into Parquet with regexp_extract. Prints each run and
# the medians, lines/s and peak memory (RSS), and the ratio.
#
#   scripts/bench-ingest.sh [LINES] [RUNS]      defaults: 2000000 lines, 3 runs
#
# Needs python3 with duckdb (scripts/test.sh installs it) and GNU time.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/meshlog-target}"
lines="${1:-2000000}"
runs="${2:-3}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

cargo build --release --locked --quiet
meshlog="$CARGO_TARGET_DIR/release/meshlog"
# cluster1's proxies write about 70 % of the mesh's lines: scale the rate to get $lines.
rate=$(( lines * 10 / 7 / 600 + 1 ))
"$meshlog" simulate --minutes 10 --rate "$rate" --source-cluster cluster1 > "$work/all.log"
head -n "$lines" "$work/all.log" > "$work/gateway.log"
"$meshlog" simulate --topology > "$work/mesh.toml"
actual=$(wc -l < "$work/gateway.log")
echo "input: $actual lines, $(du -m "$work/gateway.log" | cut -f1) MB"

# One run: prints "<seconds> <peak RSS MB>".
measure() {
    /usr/bin/time -f '%e %M' -o "$work/time" "$@" > /dev/null 2> "$work/stderr" || { cat "$work/stderr"; exit 1; }
    awk '{ printf "%s %.0f\n", $1, $2 / 1024 }' "$work/time"
}

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

bench() {
    local name="$1"; shift
    : > "$work/$name.runs"
    for run in $(seq "$runs"); do
        rm -rf "$work/data" "$work/duck.parquet"
        result=$(measure "$@")
        echo "$name run $run: $result (s, peak MB)"
        echo "$result" >> "$work/$name.runs"
    done
    local seconds memory
    seconds=$(cut -d' ' -f1 "$work/$name.runs" | median)
    memory=$(cut -d' ' -f2 "$work/$name.runs" | median)
    echo "$name median: $seconds s, $(awk -v n="$actual" -v s="$seconds" 'BEGIN { printf "%.0f", n / s }') lines/s, peak $memory MB"
    echo "$seconds" > "$work/$name.median"
}

bench meshlog "$meshlog" ingest --quiet --config "$work/mesh.toml" --data-dir "$work/data" \
    --source-cluster cluster1 --format istio "$work/gateway.log"

cat > "$work/duck.py" <<'PY'
import sys, duckdb
# The Istio default format, field by field, as an operator would write it for DuckDB.
pattern = (r'^\[([^\]]+)\] "(\S+) (\S+) (\S+)" (\d+) (\S+) (\S+) (\S+) "([^"]*)" (\d+) (\d+) (\d+) (\S+) '
           r'"([^"]*)" "([^"]*)" "([^"]*)" "([^"]*)" "([^"]*)" (\S+) (\S+) (\S+) (\S+) (\S+) (\S+)$')
names = ["ts", "method", "path", "protocol", "response_code", "response_flags", "response_code_details",
         "connection_termination_details", "upstream_transport_failure_reason", "bytes_received", "bytes_sent",
         "duration_ms", "upstream_service_time_ms", "x_forwarded_for", "user_agent", "request_id", "authority",
         "upstream_host", "upstream_cluster", "upstream_local_address", "downstream_local_address",
         "downstream_remote_address", "requested_server_name", "route_name"]
casts = {"ts": "CAST({} AS TIMESTAMPTZ)", "response_code": "CAST({} AS INTEGER)",
         "bytes_received": "CAST({} AS BIGINT)", "bytes_sent": "CAST({} AS BIGINT)", "duration_ms": "CAST({} AS BIGINT)",
         "upstream_service_time_ms": "TRY_CAST({} AS BIGINT)"}
# One regexp_extract per line returning a struct of every group (faster than one call per column).
columns = ", ".join(casts.get(name, "NULLIF({}, '-')").format(f"m.{name}") + f" AS {name}" for name in names)
groups = "[" + ", ".join(f"'{name}'" for name in names) + "]"
con = duckdb.connect()
con.execute("SET threads = 2")
con.execute(f"""COPY (SELECT {columns} FROM (SELECT regexp_extract(line, '{pattern}', {groups}) AS m
    FROM read_csv('{sys.argv[1]}', columns = {{'line': 'VARCHAR'}}, delim = '\x01', quote = '', escape = '',
    header = false)) ORDER BY ts) TO '{sys.argv[2]}' (FORMAT parquet, COMPRESSION zstd)""")
PY
bench duckdb python3 "$work/duck.py" "$work/gateway.log" "$work/duck.parquet"

awk -v m="$(cat "$work/meshlog.median")" -v d="$(cat "$work/duckdb.median")" \
    'BEGIN { printf "meshlog is %.1fx DuckDB (regexp_extract) on the same lines\n", d / m }'
