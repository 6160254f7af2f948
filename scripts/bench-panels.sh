#!/usr/bin/env bash
# Dashboard panel benchmark: every SQL panel of dashboards/*.json over DAYS days of a
# simulated mesh, asked over `meshlog serve`'s PostgreSQL protocol as Grafana asks it,
# for the last day and the last 7 days, against DuckDB computing the same panels from
# the raw Parquet in the same run (scripts/bench/panels.py prints the table).
#
#   scripts/bench-panels.sh [DAYS] [RATE] [RUNS]
#
# defaults: 7 days at 90 lines/s over the mesh (about 54 M requests), 5 runs per query.
# The logs are simulated without admin snapshots: the panels over endpoint_stats answer
# no rows on either side, and are timed all the same.
# The data is written once into $MESHLOG_BENCH_DIR (default ~/.cache/meshlog-bench-panels,
# about 2 GB for the defaults) and reused while DAYS and RATE stay the same.
# MESHLOG_BIN=path runs that binary; unset, it builds one (cargo build --release).
# Needs python3 with duckdb and psycopg2 (scripts/test.sh installs them).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source-path=SCRIPTDIR/..
source scripts/bench/lib.sh
days="${1:-7}"
rate="${2:-90}"
runs="${3:-5}"
require_count DAYS "$days"
require_count RATE "$rate"
require_count RUNS "$runs"
require_tools
python3 -c 'import psycopg2' 2> /dev/null \
    || fail "python3 cannot import psycopg2: run scripts/test.sh once (it installs it)"
meshlog="$(meshlog_binary)"
bench="${MESHLOG_BENCH_DIR:-$HOME/.cache/meshlog-bench-panels}/days-$days-rate-$rate"
start="2026-11-01T00:00:00Z"
end=$(date -u -d "$start + $days days" +%Y-%m-%dT%H:%M:%SZ)

# Every cluster's lines, simulated and ingested through a pipe (no log on disk).
if [[ ! -f "$bench/complete" ]]; then
    rm -rf "$bench"
    mkdir -p "$bench"
    "$meshlog" simulate --topology > "$bench/mesh.toml"
    sed -i '/^data_dir/d' "$bench/mesh.toml"
    for cluster in cluster1 cluster2 cluster3; do
        echo "simulating and ingesting $cluster's $days days at $rate lines/s over the mesh" >&2
        "$meshlog" simulate --minutes $(( days * 1440 )) --rate "$rate" --start "$start" \
                --source-cluster "$cluster" \
            | "$meshlog" ingest --config "$bench/mesh.toml" --data-dir "$bench/data" \
                --source-cluster "$cluster" --quiet - >&2
    done
    # One rollup file per day and table, as serve's compactor leaves a day once it is
    # over (ingest writes one per commit).
    "$meshlog" rollup --data-dir "$bench/data" >&2
    touch "$bench/complete"
fi
echo "data: $(du -sh "$bench/data" | cut -f1) in $bench/data" >&2

# The server, on free ports, over that data.
work="$(mktemp -d)"
http_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
pg_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
{
    echo "data_dir = \"$bench/data\""
    cat "$bench/mesh.toml"
    printf '[server]\nlisten = "127.0.0.1:%s"\npostgres_listen = "127.0.0.1:%s"\n' "$http_port" "$pg_port"
} > "$work/serve.toml"
"$meshlog" serve --config "$work/serve.toml" 2> "$work/serve.log" &
server=$!
trap 'kill "$server" 2> /dev/null; wait "$server" 2> /dev/null; rm -rf "$work"' EXIT
for _ in $(seq 600); do
    curl -sf "http://127.0.0.1:$http_port/readyz" > /dev/null 2>&1 && break
    kill -0 "$server" 2> /dev/null || { cat "$work/serve.log" >&2; fail "meshlog serve exited"; }
    sleep 0.1
done
rows=$(psql -X -At -h 127.0.0.1 -p "$pg_port" -U bench -d meshlog -c "SELECT count(*) FROM requests")
echo "requests: $rows, $start to $end; $runs runs per query, meshlog and DuckDB in turns" >&2
python3 scripts/bench/panels.py "$pg_port" "$bench/data" dashboards "$end" "$runs"
