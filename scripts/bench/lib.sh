# shellcheck shell=bash
# Shared by the scripts/bench-*.sh benchmarks (sourced, not run): the
# meshlog binary, the tools the benchmarks need, the input logs (simulated or realistic),
# and timing one run with GNU time.
# The functions that write files use $work, the caller's temporary directory, and
# simulate_log runs $meshlog.

# The python helpers import each other: keep __pycache__ out of the source tree.
export PYTHONDONTWRITEBYTECODE=1

# Prints the meshlog binary to run: $MESHLOG_BIN when set, else a release build.
meshlog_binary() {
    if [[ -n "${MESHLOG_BIN:-}" ]]; then
        [[ -x "$MESHLOG_BIN" ]] || fail "MESHLOG_BIN=$MESHLOG_BIN is not an executable file"
        echo "$MESHLOG_BIN"
        return
    fi
    export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/meshlog-target}"
    echo "building meshlog (cargo build --release; set MESHLOG_BIN to use a built binary)" >&2
    cargo build --release --locked --quiet >&2 || fail "cargo build --release failed"
    echo "$CARGO_TARGET_DIR/release/meshlog"
}

fail() {
    echo "error: $*" >&2
    exit 1
}

# Checks for GNU time and python3 before any long step.
require_time_and_python() {
    [[ -x /usr/bin/time ]] || fail "GNU time (/usr/bin/time) is missing: install it (apt-get install time)"
    command -v python3 > /dev/null || fail "python3 is missing"
}

# Checks for GNU time and python3 with DuckDB before any long step.
require_tools() {
    require_time_and_python
    python3 -c 'import duckdb' 2> /dev/null \
        || fail "python3 cannot import duckdb: run scripts/test.sh once (it installs it) or 'python3 -m pip install duckdb'"
}

# Checks that a command-line argument is a positive integer.
require_count() {
    [[ "$2" =~ ^[1-9][0-9]*$ ]] || fail "$1 must be a positive integer, got '$2'"
}

# Simulates cluster1's log, cut to exactly $1 lines, into $2; the mesh's config into $3.
simulate_log() {
    local lines="$1" log="$2" config="$3"
    # cluster1's proxies write 70-80 % of the mesh's lines: ask for a bit more, then cut.
    local rate=$(( lines * 10 / 7 / 600 + 1 ))
    "${meshlog:?}" simulate --minutes 10 --rate "$rate" --source-cluster cluster1 > "${work:?}/all.log"
    head -n "$lines" "$work/all.log" > "$log"
    rm -f "$work/all.log"
    "$meshlog" simulate --topology > "$config"
}

# Writes the realistic workload, $1 lines, into $2 and its mesh's config into $3 (seed 1:
# the same bytes every time).
realistic_log() {
    python3 "$(dirname "${BASH_SOURCE[0]}")/realistic_log.py" "$1" "$2" "$3" --seed 1
}

# One run of a command, its output thrown away: prints "<seconds> <peak RSS MB>".
measure() {
    if ! /usr/bin/time -f '%e %M' -o "$work/time" "$@" > /dev/null 2> "$work/stderr"; then
        echo "error: this run failed: $*" >&2
        cat "$work/stderr" >&2
        return 1
    fi
    awk '{ printf "%s %.0f\n", $1, $2 / 1024 }' "$work/time"
}

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# "DuckDB seconds / meshlog seconds", two decimals: a ratio just under a target
# (1.97 against 2x) must not print as the target.
ratio() { awk -v m="$1" -v d="$2" 'BEGIN { if (m > 0) printf "%.2f", d / m; else print "n/a" }'; }
