"""Checks that DuckDB's ingest outputs hold the same rows as meshlog's `requests` table:
per source, the row count, sum(bytes_sent), count(DISTINCT request_id), rows without an
upstream host, and an order-independent fingerprint of all 24 columns (the sum of one
hash per row). On a fingerprint mismatch it names the columns that differ.

    python3 ingest_check.py INPUT_LINES MESHLOG_DATA_DIR NAME=FILE.parquet...

Exits 1 when a source differs from meshlog.
"""
import sys

import duckdb

from istio import COLUMNS, sql_string

CHECKS = {
    "rows": "count(*)",
    "sum(bytes_sent)": "sum(bytes_sent)",
    "distinct request_id": "count(DISTINCT request_id)",
    "upstream_host null": "count(*) FILTER (WHERE upstream_host IS NULL)",
    "fingerprint": "sum(hash(" + ", ".join(COLUMNS) + ")::HUGEINT)",
}


def summarize(con, relation):
    select = ", ".join(CHECKS.values())
    return con.execute(f"SELECT {select} FROM {relation}").fetchone()


def differing_columns(con, relation, reference):
    sums = ", ".join(f"sum(hash({name})::HUGEINT)" for name in COLUMNS)
    mine = con.execute(f"SELECT {sums} FROM {relation}").fetchone()
    theirs = con.execute(f"SELECT {sums} FROM {reference}").fetchone()
    return [name for name, a, b in zip(COLUMNS, mine, theirs) if a != b]


def main(lines, data_dir, sources):
    con = duckdb.connect()
    con.execute("SET threads = 2")
    meshlog = f"read_parquet({sql_string(data_dir + '/requests/**/*.parquet')}, hive_partitioning = true)"
    relations = {"meshlog": meshlog}
    relations.update({name: f"read_parquet({sql_string(path)})" for name, path in sources})
    expected = summarize(con, meshlog)
    print(f"equivalence on {lines} input lines: " + " | ".join(CHECKS))
    same = True
    for name, relation in relations.items():
        got = summarize(con, relation)
        verdict = "same as meshlog" if got == expected else "DIFFERS in " + ", ".join(
            differing_columns(con, relation, meshlog))
        same = same and got == expected
        print(f"  {name:14} " + " | ".join(str(v) for v in got[:-1]) + f" | {got[-1] % 10**8:08d}…  {verdict}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2], [arg.split("=", 1) for arg in sys.argv[3:]]))
