"""Runs a DuckDB translation of a named query (scripts/bench/duckdb/NAME.sql) over a
meshlog data directory, with the tables `requests` and `failovers` as views over its
Parquet files, on 2 threads, in UTC.

    python3 query.py run DATA_DIR NAME.sql [SECONDS]     the result as CSV to /dev/null (timed)
    python3 query.py check DATA_DIR NAME.sql MESHLOG.csv  compares with meshlog's CSV; exit 1 if it differs
    python3 query.py startup DATA_DIR                     only start, connect and define the views

The timed run fetches the whole result and writes it as CSV, as `meshlog query --output csv`
does; SECONDS, when given, receives the time of that alone (no python start, import or views). A translation may list approximate columns on a line `-- approximate: col, col`:
`check` reports how far those are from meshlog's instead of requiring equality.
"""
import glob
import os
import re
import sys
import tempfile
import time

import duckdb

from compare import compare_csv

FAILOVERS_COLUMNS = ("source_cluster VARCHAR, service VARCHAR, upstream_cluster VARCHAR, target_cluster VARCHAR, "
                     "started_at TIMESTAMPTZ, ended_at TIMESTAMPTZ, duration_s DOUBLE, requests BIGINT, "
                     "cross_cluster_requests BIGINT, peak_cross_cluster_share DOUBLE, errors_before BIGINT")


def quoted(value):
    return "'" + value.replace("'", "''") + "'"


def table_source(data_dir, table, hive):
    """read_parquet over a table's files, or None when the table has none yet."""
    pattern = os.path.join(data_dir, table, "**", "*.parquet")
    if not glob.glob(pattern, recursive=True):
        return None
    return f"read_parquet({quoted(pattern)}, hive_partitioning = {str(hive).lower()})"


def connect(data_dir):
    con = duckdb.connect()
    con.execute("SET threads = 2")
    con.execute("SET TimeZone = 'UTC'")
    requests = table_source(data_dir, "requests", hive=True)
    if requests is None:
        sys.exit(f"error: no Parquet files under {data_dir}/requests")
    con.execute(f"CREATE VIEW requests AS SELECT * FROM {requests}")
    failovers = table_source(data_dir, "failovers", hive=False)
    if failovers is None:  # no episode stored yet: an empty table of the same schema
        con.execute(f"CREATE TABLE failovers ({FAILOVERS_COLUMNS})")
    else:
        con.execute(f"CREATE VIEW failovers AS SELECT * FROM {failovers}")
    return con


def read_query(path):
    with open(path) as f:
        sql = f.read().strip().rstrip(";")
    approximate = []
    defaults = {}
    for line in sql.splitlines():
        if line.startswith("-- approximate:"):
            approximate = [c.strip() for c in line.split(":", 1)[1].split(",") if c.strip()]
        # `-- @param NAME TYPE DEFAULT description`: meshlog binds the default when no
        # --param is given, as this benchmark runs it; DuckDB gets the same value.
        match = re.match(r"-- @param (\w+) \w+ ('(?:[^']|'')*'|\S+)", line)
        if match:
            defaults[match.group(1)] = match.group(2)
    for name in sorted(defaults, key=len, reverse=True):
        sql = re.sub(r"\$" + name + r"\b", defaults[name], sql)
    return sql, approximate


def copy_csv(con, sql, out):
    con.execute(f"COPY ({sql}\n) TO {quoted(out)} (FORMAT csv, HEADER true)")


def check(con, sql, approximate, meshlog_csv, name):
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "duckdb.csv")
        copy_csv(con, sql, out)
        same, summary = compare_csv(meshlog_csv, out, approximate)
    print(f"{name}: {summary}")
    return 0 if same else 1


def main(args):
    command, data_dir = args[0], args[1]
    con = connect(data_dir)
    if command == "startup":
        con.execute("SELECT 1").fetchall()
        return 0
    sql, approximate = read_query(args[2])
    if command == "run":
        start = time.perf_counter()
        copy_csv(con, sql, "/dev/null")
        if len(args) > 3:
            with open(args[3], "w") as f:
                f.write(f"{time.perf_counter() - start:.3f}\n")
        return 0
    name = os.path.splitext(os.path.basename(args[2]))[0]
    return check(con, sql, approximate, args[3], name)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
