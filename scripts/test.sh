#!/usr/bin/env bash
# Runs every test of the workspace: unit tests, golden snapshots over samples/,
# property tests, and end-to-end tests of the real binary. Works on a fresh machine
# with the Rust toolchain and python3: it installs DuckDB and pyarrow (PyPI) when
# missing, since a test reads meshlog's Parquet with them, and Debian's `prometheus`
# package when `promtool` is missing, since tests lint `/metrics` and the alert rules
# with it and run a real Prometheus against `meshlog serve`.
# Snapshots are never rewritten here: a changed reading fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/meshlog-target}"
export INSTA_UPDATE=no
if ! python3 -c 'import duckdb, pyarrow' >/dev/null 2>&1; then
    python3 -m pip install --quiet --disable-pip-version-check duckdb pyarrow
fi
if ! command -v promtool >/dev/null 2>&1 || ! command -v prometheus >/dev/null 2>&1; then
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get install -y --no-install-recommends prometheus >/dev/null \
        || { $sudo apt-get update >/dev/null && $sudo apt-get install -y --no-install-recommends prometheus >/dev/null; }
fi
cargo test --workspace --locked "$@"
