#!/usr/bin/env bash
# Runs every test of the workspace: unit tests, golden snapshots over samples/,
# property tests, and end-to-end tests of the real binary. Works on a fresh machine
# with the Rust toolchain and python3: it installs DuckDB and pyarrow (PyPI) when
# missing, since a test reads meshlog's Parquet with them. Snapshots are never
# rewritten here: a changed reading fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/meshlog-target}"
export INSTA_UPDATE=no
if ! python3 -c 'import duckdb, pyarrow' >/dev/null 2>&1; then
    python3 -m pip install --quiet --disable-pip-version-check duckdb pyarrow
fi
cargo test --workspace --locked "$@"
