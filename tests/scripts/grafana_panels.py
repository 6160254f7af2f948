"""Every SQL panel of dashboards/*.json, as Grafana's PostgreSQL data source runs it
(tests/cli/postgres.rs runs this against a live `meshlog serve`).

Each variable's query is run first, to find its values ("All" selected); then each
panel target and annotation, its macros and variables expanded as Grafana expands
them (dashboards/grafana_sql.py) for a 1 m interval, goes over the simple query
protocol (as pgx `Exec` sends it). Each must answer `SELECT n` with n > 0 rows; a
time series' `time` column, and any table's, must be a timestamptz (OID 1184). A panel
over the rollups must answer what its reference over raw `requests` answers
(dashboards/reference.json): the same rows and counts, ratios to 1e-9, and each
`*_ms` quantile within 1/128 of the exact `percentile_cont`, the sketch's bound.
Prints what fails and exits 1.

Usage: grafana_panels.py PORT DASHBOARDS_DIR FROM TO   (FROM and TO in RFC 3339)
"""

import pathlib
import sys

import psycopg2

sys.dont_write_bytecode = True  # no __pycache__ in dashboards/
sys.path.insert(0, str(pathlib.Path(sys.argv[2]).resolve()))
import grafana_sql  # noqa: E402  (dashboards/grafana_sql.py)

PORT, DIR = sys.argv[1], sys.argv[2]
START, END = grafana_sql.parse_time(sys.argv[3]), grafana_sql.parse_time(sys.argv[4])
INTERVAL_MS = 60_000
TIMESTAMPTZ = 1184
failures = []
checked = 0


def run(cur, where, sql):
    global checked
    try:
        cur.execute(sql)
    except psycopg2.Error as error:
        failures.append(f"{where}: {error.pgcode} {error.pgerror}\n{sql}")
        return None
    checked += 1
    rows = cur.fetchall()
    if cur.statusmessage != f"SELECT {len(rows)}":
        failures.append(f"{where}: command tag {cur.statusmessage!r} for {len(rows)} rows")
    if not rows:
        failures.append(f"{where}: no rows\n{sql}")
    return rows


def check_time_column(cur, where, required):
    names = [column.name for column in cur.description]
    if "time" not in names:
        if required:
            failures.append(f"{where}: a time series without a time column: {names}")
        return
    oid = cur.description[names.index("time")].type_code
    if oid != TIMESTAMPTZ:
        failures.append(f"{where}: the time column is type {oid}, not timestamptz")


def check(path, board, cur):
    values = {}
    for variable in grafana_sql.query_variables(board):
        sql = grafana_sql.expand(variable["query"], START, END, INTERVAL_MS, values)
        rows = run(cur, f"{path.name} variable {variable['name']}", sql)
        if rows:
            values[variable["name"]] = grafana_sql.quoted_values(rows)
    for where, target in grafana_sql.targets(path, board):
        sql = grafana_sql.expand(target["rawSql"], START, END, INTERVAL_MS, values)
        rows = run(cur, where, sql)
        if rows is None:
            continue
        check_time_column(cur, where, target.get("format") == "time_series")
        names = [column.name for column in cur.description]
        if where in REFERENCES:
            reference = grafana_sql.expand(REFERENCES.pop(where), START, END, INTERVAL_MS, values)
            compare(where, names, rows, run(cur, f"{where} (reference)", reference) or [])


def compare(where, names, rows, expected):
    """Rows equal to the reference's, in any order, quantiles within the sketch's bound."""
    def key(row):
        return tuple(str(value) for value in row if not isinstance(value, float))

    if len(rows) != len(expected):
        failures.append(f"{where}: {len(rows)} rows, its reference {len(expected)}")
        return
    for got, want in zip(sorted(rows, key=key), sorted(expected, key=key)):
        for name, value, wanted in zip(names, got, want):
            if isinstance(wanted, float) and value is not None:
                bound = abs(wanted) / 128 if name.endswith("_ms") else 1e-9
                same = abs(value - wanted) <= bound + 1e-9
            else:
                same = value == wanted
            if not same:
                failures.append(f"{where}: {name} = {value!r}, its reference {wanted!r} in {want}")
                return


connection = psycopg2.connect(f"host=127.0.0.1 port={PORT} dbname=meshlog user=grafana sslmode=disable")
connection.autocommit = True
cursor = connection.cursor()
REFERENCES = grafana_sql.references(DIR)
dashboards = grafana_sql.sql_dashboards(DIR)
for dashboard_path, dashboard in dashboards:
    check(dashboard_path, dashboard, cursor)
for unused in REFERENCES:
    failures.append(f"reference.json names {unused!r}, which no dashboard has")
if len(dashboards) < 3:
    failures.append(f"only {len(dashboards)} SQL dashboards in {DIR}")
for failure in failures:
    print(failure)
print(f"{checked} queries of {len(dashboards)} dashboards checked", file=sys.stderr)
sys.exit(1 if failures else 0)
