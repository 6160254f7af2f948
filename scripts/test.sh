#!/usr/bin/env bash
# Runs every test of the workspace: unit tests, golden snapshots over samples/,
# property tests, and end-to-end tests of the real binary. Works on a fresh machine
# with the Rust toolchain; installs nothing today (later suites start their own
# services). Snapshots are never rewritten here: a changed reading fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/meshlog-target}"
export INSTA_UPDATE=no
cargo test --workspace --locked "$@"
