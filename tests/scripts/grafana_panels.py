"""Every SQL panel of dashboards/*.json, as Grafana's PostgreSQL data source runs it
(tests/cli/postgres.rs runs this against a live `meshlog serve`).

Grafana expands its macros and template variables in a target's rawSql, then sends
the text over the simple query protocol (pgx `Exec`). So does this: macros as
`pkg/tsdb/grafana-postgresql-datasource/macros.go` writes them (`$__timeFilter(c)` is
`c BETWEEN '<from>' AND '<to>'` in RFC 3339 UTC, `$__timeFrom()`/`$__timeTo()` the quoted
bounds), `$__interval`/`$__interval_ms` for a 1 m interval, and each multi-value
variable with "All" selected as its values single-quoted and comma-separated (each
variable's own query is run first to find them). Each panel target and annotation must
answer `SELECT n` with n > 0 rows; a time series' `time` column, and any table's, must
be a timestamptz (OID 1184). Prints what fails and exits 1.

Usage: grafana_panels.py PORT DASHBOARDS_DIR FROM TO   (FROM and TO in RFC 3339)
"""

import datetime
import json
import pathlib
import re
import sys

import psycopg2

PORT, DIR, FROM, TO = sys.argv[1], pathlib.Path(sys.argv[2]), sys.argv[3], sys.argv[4]
TIMESTAMPTZ = 1184
failures = []
checked = 0


def rfc3339(text):
    moment = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment.astimezone(datetime.timezone.utc).isoformat().replace("+00:00", "Z")


def macros(sql):
    start, end = rfc3339(FROM), rfc3339(TO)
    sql = re.sub(r"\$__timeFilter\(([^)]*)\)",
                 lambda m: f"{m.group(1).strip()} BETWEEN '{start}' AND '{end}'", sql)
    sql = sql.replace("$__timeFrom()", f"'{start}'").replace("$__timeTo()", f"'{end}'")
    return sql.replace("$__interval_ms", "60000").replace("$__interval", "1m")


def with_variables(sql, values):
    for name, quoted in sorted(values.items(), key=lambda item: -len(item[0])):
        sql = sql.replace("${" + name + "}", quoted).replace("$" + name, quoted)
    return sql


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


def is_sql_dashboard(board):
    return any(i.get("pluginId") == "grafana-postgresql-datasource" for i in board.get("__inputs", []))


def check(path, board, cur):
    values = {}
    for variable in board["templating"]["list"]:
        if variable["type"] != "query":
            continue
        where = f"{path.name} variable {variable['name']}"
        rows = run(cur, where, with_variables(macros(variable["query"]), values))
        if rows:
            values[variable["name"]] = ",".join("'" + str(row[0]).replace("'", "''") + "'" for row in rows)
    targets = [(f"{path.name} / {p['title']}", t) for p in board["panels"] for t in p.get("targets", [])]
    targets += [(f"{path.name} annotation {a['name']}", a["target"])
                for a in board["annotations"]["list"] if "target" in a]
    for where, target in targets:
        sql = with_variables(macros(target["rawSql"]), values)
        if run(cur, where, sql) is not None:
            check_time_column(cur, where, target.get("format") == "time_series")


connection = psycopg2.connect(f"host=127.0.0.1 port={PORT} dbname=meshlog user=grafana sslmode=disable")
connection.autocommit = True
cursor = connection.cursor()
dashboards = sorted(DIR.glob("*.json"))
sql_dashboards = 0
for dashboard_path in dashboards:
    dashboard = json.loads(dashboard_path.read_text())
    if is_sql_dashboard(dashboard):
        sql_dashboards += 1
        check(dashboard_path, dashboard, cursor)
if sql_dashboards < 3:
    failures.append(f"only {sql_dashboards} SQL dashboards in {DIR}")
for failure in failures:
    print(failure)
print(f"{checked} queries of {sql_dashboards} dashboards checked", file=sys.stderr)
sys.exit(1 if failures else 0)
