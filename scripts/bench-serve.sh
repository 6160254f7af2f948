#!/usr/bin/env bash
# Side-by-side benchmark of `meshlog serve`'s HTTP sink against `meshlog ingest` on
# the same simulated Istio access log. Each run, in turns: `meshlog ingest` of the
# file (time, peak RSS), then for each mode a fresh `meshlog serve` on a fresh data
# directory, loaded by CLIENTS concurrent keep-alive clients posting the file's lines
# in batches (scripts/bench/serve_load.py; bodies gzipped before the clock starts):
#   text    text/plain lines, Content-Encoding: gzip
#   ndjson  application/x-ndjson, one {"message": line} per line, gzip
# Reports lines/s from the first request to the last 200, p50/p99 acknowledgement
# latency per request, 503s retried, and the server's peak RSS (VmHWM just before
# SIGTERM). Meanwhile a probe posts a unique line about 50 times per run and polls
# POST /api/v1/query until it is visible: freshness p50/p99, ack to visible; after
# the load one probe is also looked up with `meshlog query --data-dir` (the WAL).
# After SIGTERM the server must exit 0 and its tables must hold every acknowledged
# line exactly once (the same rows, distinct ids and bytes as ingest's, plus the
# probes); otherwise the script fails. Prints each run, then a table of medians.
#
#   scripts/bench-serve.sh [LINES] [RUNS] [CLIENTS]   defaults: 2000000 lines, 3 runs, 4 clients
#
# MESHLOG_BIN=path runs that binary; unset, it builds one (cargo build --release).
# BATCH_LINES=N sets the lines per request (default 5000). Needs python3 and GNU time.
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "$0")/.."
# shellcheck source-path=SCRIPTDIR/..
source scripts/bench/lib.sh
lines="${1:-2000000}"
runs="${2:-3}"
clients="${3:-4}"
batch_lines="${BATCH_LINES:-5000}"
require_count LINES "$lines"
require_count RUNS "$runs"
require_count CLIENTS "$clients"
require_count BATCH_LINES "$batch_lines"
require_time_and_python
meshlog="$(meshlog_binary)"
work="$(mktemp -d)"
server=""
# Probe lines carry this request id prefix (scripts/bench/serve_load.py).
PROBE_PREFIX="meshlog-bench-probe-"
# Rows go to Parquet every flush_rows (default 65536) or after this long.
FLUSH_INTERVAL="5s"
MODES=(text ndjson)

cleanup() {
    local status=$?
    if [[ -n "$server" ]] && kill -0 "$server" 2> /dev/null; then
        kill -KILL "$server" 2> /dev/null || true
    fi
    if [[ $status -ne 0 && -s "$work/serve.log" ]]; then
        echo "--- last lines of meshlog serve's log ---" >&2
        tail -n 20 "$work/serve.log" >&2
    fi
    rm -rf "$work"
}
trap cleanup EXIT

simulate_log "$lines" "$work/gateway.log" "$work/mesh.toml"
actual=$(wc -l < "$work/gateway.log")
echo "input: $actual lines, $(du -m "$work/gateway.log" | cut -f1) MB; $clients clients, $batch_lines lines per request"
python3 scripts/bench/serve_load.py prepare "$work/gateway.log" "$work/bodies" --batch-lines "$batch_lines"

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Starts `meshlog serve` on a free port writing $1 (emptied first); sets $server and $port.
start_server() {
    local data="$1"
    rm -rf "$data"
    port=$(free_port)
    {
        cat "$work/mesh.toml"
        printf '\n[server]\nlisten = "127.0.0.1:%s"\nformat = "istio"\nflush_interval = "%s"\n' \
            "$port" "$FLUSH_INTERVAL"
    } > "$work/serve.toml"
    "$meshlog" serve --config "$work/serve.toml" --data-dir "$data" > "$work/serve.log" 2>&1 &
    server=$!
}

# The server's peak RSS so far, in MB.
peak_mb() {
    awk '/^VmHWM:/ { printf "%.0f\n", $2 / 1024 }' "/proc/$server/status"
}

# SIGTERM, then waits (at most 5 minutes) for the server to exit; fails unless it exits 0.
stop_server() {
    local waited=0 status=0
    kill -TERM "$server"
    while [[ -e "/proc/$server" ]] && ! grep -q '^State:.*zombie' "/proc/$server/status" 2> /dev/null; do
        sleep 0.1
        waited=$((waited + 1))
        if ((waited > 3000)); then
            kill -KILL "$server"
            fail "meshlog serve did not exit within 5 minutes of SIGTERM"
        fi
    done
    wait "$server" || status=$?
    server=""
    ((status == 0)) || fail "meshlog serve exited $status after SIGTERM"
}

# "rows distinct_ids bytes_sent probes rejects" of a data directory, probes apart.
table_counts() {
    local data="$1" requests rejects
    requests=$("$meshlog" query --data-dir "$data" -o csv "
        select sum(case when probe then 0 else 1 end),
               count(distinct case when probe then null else request_id end),
               sum(case when probe then 0 else bytes_sent end),
               sum(case when probe then 1 else 0 end)
        from (select request_id, bytes_sent,
                     coalesce(request_id like '$PROBE_PREFIX%', false) as probe
              from requests)" | tail -n 1)
    rejects=$("$meshlog" query --data-dir "$data" -o csv "select count(*) from rejects" | tail -n 1)
    echo "${requests//,/ } $rejects"
}

# Fails unless the stopped server's tables ($1) hold every acknowledged line once:
# ingest's rows, ids and bytes, the probes, and as many rows and rejects as the 200s said.
check_stored() {
    local data="$1" accepted rejected probes counts rows ids bytes found rejects
    read -r _ _ _ _ _ _ accepted rejected probes _ < "$work/result"
    counts=$(table_counts "$data")
    read -r rows ids bytes found rejects <<< "$counts"
    local got="$rows rows, $ids ids, $bytes bytes, $rejects rejects"
    [[ "$got" == "$(baseline_text)" ]] \
        || fail "serve stored $got; ingest stored $(baseline_text) from the same lines"
    [[ "$found" == "$probes" ]] || fail "serve stored $found probe rows for $probes probes acknowledged"
    ((rows + found == accepted && rejects == rejected)) \
        || fail "serve stored $((rows + found)) rows and $rejects rejects; its 200s said $accepted and $rejected"
}

baseline_text() {
    local rows ids bytes rejects
    read -r rows ids bytes _ rejects < "$work/baseline"
    echo "$rows rows, $ids ids, $bytes bytes, $rejects rejects"
}

# One run of `meshlog ingest`: appends "seconds MB" to ingest.runs.
run_ingest() {
    local run="$1" result
    rm -rf "$work/data"
    cat "$work/gateway.log" > /dev/null
    result=$(measure "$meshlog" ingest --quiet --config "$work/mesh.toml" --data-dir "$work/data" \
        --source-cluster cluster1 --format istio "$work/gateway.log")
    echo "ingest run $run: $result (s, peak MB)"
    echo "$result" >> "$work/ingest.runs"
    [[ -s "$work/baseline" ]] || table_counts "$work/data" > "$work/baseline"
}

# Seconds between probes: about 50 over a load as long as this mode's last run (else
# the last ingest), and not more often than every 20 ms.
probe_gap() {
    local seconds
    if [[ -s "$work/http-$1.runs" ]]; then
        seconds=$(tail -n 1 "$work/http-$1.runs" | cut -d' ' -f11)
    else
        seconds=$(tail -n 1 "$work/ingest.runs" | cut -d' ' -f1)
    fi
    awk -v s="$seconds" 'BEGIN { g = s / 50; printf "%.3f\n", (g < 0.02 ? 0.02 : g) }'
}

# One run of the HTTP sink in one mode: a fresh server, the load, SIGTERM, the checks.
run_serve() {
    local mode="$1" run="$2" data="$work/serve-data" gap peak
    gap=$(probe_gap "$mode")
    start_server "$data"
    python3 scripts/bench/serve_load.py load "$work/bodies" "$mode" --port "$port" \
        --clients "$clients" --tag "$mode-$run" --result "$work/result" --probe-gap "$gap" \
        --meshlog "$meshlog" --data-dir "$data" | sed "s/^/http-$mode run $run: /"
    peak=$(peak_mb)
    stop_server
    check_stored "$data"
    echo "http-$mode run $run: exit 0 after SIGTERM, every line stored once; peak $peak MB"
    echo "$(cat "$work/result") $peak" >> "$work/http-$mode.runs"
}

: > "$work/ingest.runs"
for mode in "${MODES[@]}"; do : > "$work/http-$mode.runs"; done
for run in $(seq "$runs"); do
    run_ingest "$run"
    for mode in "${MODES[@]}"; do run_serve "$mode" "$run"; done
done

read -r base_rows _ _ _ base_rejects < "$work/baseline"
if ((base_rows != actual)); then
    echo "note: ingest stored $base_rows rows and $base_rejects rejects of $actual lines"
fi

# The median of column $2 of runs file $1.
column_median() { cut -d' ' -f"$2" "$work/$1.runs" | median; }

ingest_seconds=$(column_median ingest 1)
ingest_rate=$(awk -v n="$actual" -v s="$ingest_seconds" 'BEGIN { printf "%.0f", n / s }')
row="%-17s %10s %9s %8s %8s %10s %10s %6s %7s %8s\n"
echo
echo "medians of $runs runs: $actual lines, $clients clients, $batch_lines lines per request"
# shellcheck disable=SC2059 # the format is the table's layout
printf "$row" "" "lines/s" "vs ingest" "ack p50" "ack p99" "fresh p50" "fresh p99" "503s" "reconn" "peak MB"
# shellcheck disable=SC2059
printf "$row" "meshlog ingest" "$ingest_rate" "1.00" - - - - - - "$(column_median ingest 2)"
for mode in "${MODES[@]}"; do
    runs_file="http-$mode"
    rate=$(column_median "$runs_file" 1)
    # shellcheck disable=SC2059
    printf "$row" "http $mode+gzip" "$rate" "$(awk -v h="$rate" -v i="$ingest_rate" 'BEGIN { printf "%.2f", h / i }')" \
        "$(column_median "$runs_file" 2)" "$(column_median "$runs_file" 3)" \
        "$(column_median "$runs_file" 4)" "$(column_median "$runs_file" 5)" \
        "$(column_median "$runs_file" 6)" "$(column_median "$runs_file" 12)" \
        "$(column_median "$runs_file" 13)"
done
echo "(latencies in ms; fresh: from a probe's 200 to the first query returning it; 503s: requests"
echo " retried after Retry-After; reconn: connections the server closed; peak: RSS)"
