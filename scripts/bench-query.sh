#!/usr/bin/env bash
# Side-by-side query benchmark: each named query (`meshlog query --saved NAME --output
# csv`) against DuckDB running the same SQL (or its translation in scripts/bench/duckdb/NAME.sql
# where DuckDB needs one) over the
# same Parquet files, on 2 threads, its result written as CSV too. Simulates ROWS lines
# of cluster1's log, ingests them once, checks that DuckDB's result of each query has
# the same rows and values as meshlog's, then times RUNS runs of each (alternating the
# two), with peak memory (RSS). Prints each run, the medians, the ratio DuckDB time /
# meshlog time, and a Markdown table for the README.
#
#   scripts/bench-query.sh [ROWS] [RUNS]        defaults: 10000000 rows, 3 runs
#
# MESHLOG_BIN=path runs that binary; unset, it builds one (cargo build --release).
# Needs python3 with duckdb (scripts/test.sh installs it) and GNU time.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source-path=SCRIPTDIR/..
source scripts/bench/lib.sh
rows="${1:-10000000}"
runs="${2:-3}"
require_count ROWS "$rows"
require_count RUNS "$runs"
require_tools
meshlog="$(meshlog_binary)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
data="$work/data"

# The SQL DuckDB runs for a named query: its translation in scripts/bench/duckdb/ when
# DuckDB needs one, else the named query itself (most run unchanged).
duckdb_sql() {
    local translation="scripts/bench/duckdb/$1.sql"
    if [[ -f "$translation" ]]; then echo "$translation"; else echo "queries/$1.sql"; fi
}

# Names start a line; the lines under a name (its parameters) are indented.
mapfile -t listed < <("$meshlog" query --list | awk '/^[a-z_]+ / { print $1 }')
[[ ${#listed[@]} -gt 0 ]] || fail "'meshlog query --list' printed no query"
# The benchmark's data is access logs only: queries over proxy snapshots are left out.
queries=()
for name in "${listed[@]}"; do
    if grep -qE 'endpoint_stats|cluster_stats' "queries/$name.sql"; then
        echo "skipped $name: it reads proxy snapshots (endpoint_stats, cluster_stats), which this benchmark does not generate"
    else
        queries+=("$name")
    fi
done
for name in "${queries[@]}"; do
    [[ -f "$(duckdb_sql "$name")" ]] || fail "no SQL for the named query '$name'"
done

simulate_log "$rows" "$work/cluster1.log" "$work/mesh.toml"
echo "input: $(wc -l < "$work/cluster1.log") lines, $(du -m "$work/cluster1.log" | cut -f1) MB"
ingest=$(measure "$meshlog" ingest --quiet --config "$work/mesh.toml" --data-dir "$data" \
    --source-cluster cluster1 --format istio "$work/cluster1.log")
rm -f "$work/cluster1.log"
echo "ingested once: $ingest (s, peak MB); $(du -sm "$data/requests" | cut -f1) MB of requests Parquet," \
    "$(find "$data/requests" -name '*.parquet' | wc -l) files"

# Same rows and values, before timing anything (this also warms the page cache).
differ=()
echo "equivalence (DuckDB's result against meshlog's CSV):"
for name in "${queries[@]}"; do
    "$meshlog" query --data-dir "$data" --saved "$name" --output csv > "$work/$name.csv"
    echo "$(( $(wc -l < "$work/$name.csv") - 1 ))" > "$work/$name.rows"
    echo -n "  "
    python3 scripts/bench/query.py check "$data" "$(duckdb_sql "$name")" "$work/$name.csv" \
        || differ+=("$name")
done

# The fixed cost in each DuckDB time: start python, import duckdb, connect, define the views.
: > "$work/startup.runs"
for _ in $(seq "$runs"); do
    measure python3 scripts/bench/query.py startup "$data" >> "$work/startup.runs"
done
echo "DuckDB startup alone (python3, import, views; median): $(cut -d' ' -f1 "$work/startup.runs" | median) s," \
    "peak $(cut -d' ' -f2 "$work/startup.runs" | median) MB"

# Times one query RUNS times for each engine, alternating; appends its medians to the table.
bench_query() {
    local name="$1" run result
    : > "$work/$name.meshlog"
    : > "$work/$name.duckdb"
    : > "$work/$name.inside"
    for run in $(seq "$runs"); do
        result=$(measure "$meshlog" query --data-dir "$data" --saved "$name" --output csv)
        echo "$name run $run: meshlog $result (s, peak MB)"
        echo "$result" >> "$work/$name.meshlog"
        result=$(measure python3 scripts/bench/query.py run "$data" "$(duckdb_sql "$name")" "$work/inside")
        echo "$name run $run: duckdb  $result (s, peak MB), query alone $(cat "$work/inside") s"
        echo "$result" >> "$work/$name.duckdb"
        cat "$work/inside" >> "$work/$name.inside"
    done
    local m_s m_mb d_s d_mb d_in
    m_s=$(cut -d' ' -f1 "$work/$name.meshlog" | median)
    m_mb=$(cut -d' ' -f2 "$work/$name.meshlog" | median)
    d_s=$(cut -d' ' -f1 "$work/$name.duckdb" | median)
    d_mb=$(cut -d' ' -f2 "$work/$name.duckdb" | median)
    d_in=$(median < "$work/$name.inside")
    echo "$name median: meshlog $m_s s, peak $m_mb MB; DuckDB $d_s s (query alone $d_in s), peak $d_mb MB;" \
        "DuckDB / meshlog = $(ratio "$m_s" "$d_s") ($(ratio "$m_s" "$d_in") for the query alone)"
    echo "| \`$name\` | $(cat "$work/$name.rows") | $m_s s | $m_mb MB | $d_s s | $d_mb MB |" \
        "**$(ratio "$m_s" "$d_s")×** | $d_in s | $(ratio "$m_s" "$d_in")× |" >> "$work/table.md"
}

: > "$work/table.md"
for name in "${queries[@]}"; do
    bench_query "$name"
done

echo
echo "$rows rows, medians of $runs runs. Times are wall times of the whole process (DuckDB's includes"
echo "starting python and importing duckdb); 'query alone' is DuckDB's COPY of the result, timed inside."
echo
echo "| query | result rows | meshlog time | meshlog peak | DuckDB time | DuckDB peak | DuckDB / meshlog |" \
    "DuckDB query alone | query alone / meshlog |"
echo "|---|---|---|---|---|---|---|---|---|"
cat "$work/table.md"
if [[ ${#differ[@]} -gt 0 ]]; then
    fail "DuckDB's result differs from meshlog's for: ${differ[*]} (see above): those timings do not compare the same work"
fi
