"""DuckDB's first ingest method: one regexp_extract per line returning a struct of all 24
fields, typed, sorted by ts, written as zstd Parquet.

    python3 ingest_regexp.py LOG OUT.parquet
"""
import sys

import duckdb

from istio import COLUMNS, sql_string, typed_select

# The Istio default format, field by field, as an operator would write it for DuckDB.
PATTERN = (r'^\[([^\]]+)\] "(\S+) (\S+) (\S+)" (\d+) (\S+) (\S+) (\S+) "([^"]*)" (\d+) (\d+) (\d+) (\S+) '
           r'"([^"]*)" "([^"]*)" "([^"]*)" "([^"]*)" "([^"]*)" (\S+) (\S+) (\S+) (\S+) (\S+) (\S+)$')


def main(log, out):
    # One regexp_extract per line returning a struct of every group (faster than one call per column).
    groups = "[" + ", ".join(sql_string(name) for name in COLUMNS) + "]"
    columns = typed_select({name: f"m.{name}" for name in COLUMNS})
    con = duckdb.connect()
    con.execute("SET threads = 2")
    con.execute(f"""COPY (SELECT {columns} FROM (SELECT regexp_extract(line, {sql_string(PATTERN)}, {groups}) AS m
        FROM read_csv({sql_string(log)}, columns = {{'line': 'VARCHAR'}}, delim = '\x01', quote = '', escape = '',
        header = false)) ORDER BY ts) TO {sql_string(out)} (FORMAT parquet, COMPRESSION zstd)""")


if __name__ == "__main__":
    main(*sys.argv[1:3])
