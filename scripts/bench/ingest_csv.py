"""DuckDB's second ingest method: its CSV reader splits each Istio line on spaces with '"'
quoting (22 raw fields, all VARCHAR); SQL then strips the brackets of [ts], splits the
quoted request line "METHOD PATH PROTOCOL" into three columns, types the values, sorts by
ts and writes zstd Parquet. Lines the CSV reader cannot split into 22 fields (a '"'
inside a user agent, a truncated line) are skipped and counted, never guessed.

    python3 ingest_csv.py LOG OUT.parquet [REJECTS_FILE]

REJECTS_FILE receives the number of lines the CSV reader rejected (store_rejects). A
quote left open by a broken line can also swallow the lines after it into one value:
compare the output rows with the input lines.
"""
import sys

import duckdb

from istio import sql_string, typed_select

# The fields the CSV reader sees, in line order: "[ts]" and the request line are one field each.
RAW_FIELDS = ["ts", "request", "response_code", "response_flags", "response_code_details",
              "connection_termination_details", "upstream_transport_failure_reason", "bytes_received", "bytes_sent",
              "duration_ms", "upstream_service_time_ms", "x_forwarded_for", "user_agent", "request_id", "authority",
              "upstream_host", "upstream_cluster", "upstream_local_address", "downstream_local_address",
              "downstream_remote_address", "requested_server_name", "route_name"]

# The CSV dialect of an Istio line: space-separated, '"' quotes (a doubled '"' inside a
# quoted value, RFC 4180, which Envoy never writes), no header, no type sniffing.
CSV_OPTIONS = ("delim = ' ', quote = '\"', escape = '\"', header = false, auto_detect = false, "
               "store_rejects = true")


def raw_values():
    """The SQL of each output column's raw VARCHAR value."""
    raw = {name: f"r.{name}" for name in RAW_FIELDS if name not in ("ts", "request")}
    raw["ts"] = "trim(r.ts, '[]')"
    for position, name in enumerate(["method", "path", "protocol"], start=1):
        raw[name] = f"split_part(r.request, ' ', {position})"
    return raw


def main(log, out, rejects_file=None):
    columns = "{" + ", ".join(f"{sql_string(name)}: 'VARCHAR'" for name in RAW_FIELDS) + "}"
    con = duckdb.connect()
    con.execute("SET threads = 2")
    con.execute(f"""COPY (SELECT {typed_select(raw_values())}
        FROM read_csv({sql_string(log)}, columns = {columns}, {CSV_OPTIONS}) AS r
        ORDER BY ts) TO {sql_string(out)} (FORMAT parquet, COMPRESSION zstd)""")
    rejected = con.execute("SELECT count(DISTINCT (scan_id, file_id, line)) FROM reject_errors").fetchone()[0]
    if rejects_file:
        with open(rejects_file, "w") as f:
            f.write(f"{rejected}\n")


if __name__ == "__main__":
    main(*sys.argv[1:4])
