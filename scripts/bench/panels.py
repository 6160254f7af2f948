"""Times every SQL dashboard panel (scripts/bench-panels.sh runs this): over a live
`meshlog serve`'s PostgreSQL protocol, as Grafana sends it (dashboards/grafana_sql.py),
for the last day and the last 7 days of the data; and the same panels computed by
DuckDB over the raw Parquet files, in the same run, as the reference (a panel over the
rollups is computed from raw `requests` by its query in dashboards/reference.json). Each query runs
RUNS times, in turns; prints one markdown row per panel with the median milliseconds,
each side's rows (they must agree) and the 7-day/1-day ratio.

Usage: panels.py PORT DATA_DIR DASHBOARDS_DIR END RUNS   (END: the data's end, RFC 3339)
"""

import datetime
import pathlib
import re
import statistics
import sys
import time

import duckdb
import psycopg2

sys.dont_write_bytecode = True
sys.path.insert(0, str(pathlib.Path(sys.argv[3]).resolve()))
import grafana_sql  # noqa: E402  (dashboards/grafana_sql.py)

PORT, DATA, DIR = sys.argv[1], pathlib.Path(sys.argv[2]), sys.argv[3]
END = grafana_sql.parse_time(sys.argv[4])
RUNS = int(sys.argv[5])
# The interval Grafana picks for a panel about 1 400 pixels wide.
WINDOWS = [("1 day", datetime.timedelta(days=1), 60_000),
           ("7 days", datetime.timedelta(days=7), 600_000)]


def duckdb_session():
    """DuckDB with meshlog's tables as views of their Parquet files."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    for table in ("requests", "failovers", "endpoint_stats"):
        files = sorted(str(p) for p in (DATA / table).rglob("*.parquet"))
        if not files:
            continue
        hive = "true" if table != "failovers" else "false"
        con.execute(f"CREATE VIEW {table} AS SELECT * FROM read_parquet({files!r}, "
                    f"hive_partitioning = {hive}, union_by_name = true)")
    return con


def duckdb_dialect(sql):
    """A panel's SQL in DuckDB's dialect: time_bucket for date_bin, approx_quantile for
    approx_percentile_cont … WITHIN GROUP (percentile_cont … WITHIN GROUP, exact, DuckDB
    reads as it is), VARCHAR casts kept."""
    sql = re.sub(r"date_bin\((INTERVAL '[^']*'), ", r"time_bucket(\1, ", sql)
    sql = re.sub(r"approx_percentile_cont\(([0-9.]+)\) WITHIN GROUP \(ORDER BY ([a-z_]+)\)",
                 r"approx_quantile(\2, \1)", sql)
    return sql


def timed(run, sql):
    started = time.perf_counter()
    rows = run(sql)
    return (time.perf_counter() - started) * 1000, len(rows)


def main():
    pg = psycopg2.connect(f"host=127.0.0.1 port={PORT} dbname=meshlog user=bench sslmode=disable")
    pg.autocommit = True
    cur = pg.cursor()

    def meshlog(sql):
        cur.execute(sql)
        return cur.fetchall()

    duck = duckdb_session()
    references = grafana_sql.references(DIR)

    def reference(sql):
        try:
            return duck.execute(duckdb_dialect(sql)).fetchall()
        except duckdb.CatalogException:
            return []  # a table with no files yet (endpoint_stats without snapshots)

    print("| panel | meshlog 1 day | meshlog 7 days | 7 d / 1 d | DuckDB 1 day | DuckDB 7 days | rows 7 d (meshlog / DuckDB) |")
    print("|---|---|---|---|---|---|---|")
    medians = []
    for path, board in grafana_sql.sql_dashboards(DIR):
        values = {}
        start = END - WINDOWS[-1][1]
        for variable in grafana_sql.query_variables(board):
            sql = grafana_sql.expand(variable["query"], start, END, 60_000, values)
            values[variable["name"]] = grafana_sql.quoted_values(meshlog(sql))
        for where, target in grafana_sql.targets(path, board):
            cells, rows = [], {}
            raw = references.get(where, target["rawSql"])
            for label, span, interval in WINDOWS:
                sql = grafana_sql.expand(target["rawSql"], END - span, END, interval, values)
                raw_sql = grafana_sql.expand(raw, END - span, END, interval, values)
                ours, theirs = [], []
                for _ in range(RUNS):
                    ms, rows[("meshlog", label)] = timed(meshlog, sql)
                    ours.append(ms)
                    ms, rows[("duckdb", label)] = timed(reference, raw_sql)
                    theirs.append(ms)
                cells.append((statistics.median(ours), statistics.median(theirs)))
            (ours_1d, duck_1d), (ours_7d, duck_7d) = cells
            medians.append((ours_1d, ours_7d))
            growth = ours_7d / ours_1d if ours_1d else float("nan")
            print(f"| {where} | {ours_1d:.0f} ms | {ours_7d:.0f} ms | {growth:.1f} | {duck_1d:.0f} ms | "
                  f"{duck_7d:.0f} ms | {rows[('meshlog', '7 days')]} / {rows[('duckdb', '7 days')]} |",
                  flush=True)
    under = sum(1 for _, week in medians if week < 100)
    print(f"\n{under} of {len(medians)} panels under 100 ms over 7 days (median of {RUNS} runs).")


main()
