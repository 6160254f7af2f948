"""Grafana's expansion of the SQL panels of dashboards/*.json, for the test that runs
every panel (tests/scripts/grafana_panels.py) and the panel benchmark
(scripts/bench/panels.py).

Grafana's PostgreSQL data source expands its macros and template variables in a
target's rawSql, then sends the text over the simple query protocol. Macros as
`pkg/tsdb/grafana-postgresql-datasource/macros.go` writes them: `$__timeFilter(c)` is
`c BETWEEN '<from>' AND '<to>'` in RFC 3339 UTC, `$__timeFrom()` and `$__timeTo()` the
quoted bounds; `$__interval` and `$__interval_ms` are the panel's interval. A
multi-value variable with "All" selected is its values, single-quoted and
comma-separated.
"""

import datetime
import json
import pathlib
import re


def rfc3339(moment):
    return moment.astimezone(datetime.timezone.utc).isoformat().replace("+00:00", "Z")


def parse_time(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


def interval_text(milliseconds):
    """`$__interval` as Grafana writes it: 30s, 1m, 10m, 1h."""
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        if milliseconds % size == 0:
            return f"{milliseconds // size}{unit}"
    return f"{milliseconds}ms"


def expand(sql, start, end, interval_ms, values):
    """`sql` as Grafana sends it for the range start..end (datetimes), its interval and
    the variables' `values` (name -> already quoted text)."""
    since, until = rfc3339(start), rfc3339(end)
    sql = re.sub(r"\$__timeFilter\(([^)]*)\)",
                 lambda m: f"{m.group(1).strip()} BETWEEN '{since}' AND '{until}'", sql)
    sql = sql.replace("$__timeFrom()", f"'{since}'").replace("$__timeTo()", f"'{until}'")
    sql = sql.replace("$__interval_ms", str(interval_ms))
    sql = sql.replace("$__interval", interval_text(interval_ms))
    for name, quoted in sorted(values.items(), key=lambda item: -len(item[0])):
        sql = sql.replace("${" + name + "}", quoted).replace("$" + name, quoted)
    return sql


def quoted_values(rows):
    """A variable's values with "All" selected: each single-quoted, comma-separated."""
    return ",".join("'" + str(row[0]).replace("'", "''") + "'" for row in rows)


def sql_dashboards(directory):
    """(path, dashboard) of each dashboard over the PostgreSQL data source."""
    found = []
    for path in sorted(pathlib.Path(directory).glob("*.json")):
        board = json.loads(path.read_text())
        inputs = board.get("__inputs", [])
        if any(i.get("pluginId") == "grafana-postgresql-datasource" for i in inputs):
            found.append((path, board))
    return found


def query_variables(board):
    return [v for v in board["templating"]["list"] if v["type"] == "query"]


def targets(path, board):
    """(where, target) of each panel target and each annotation with a query."""
    found = [(f"{path.name} / {p['title']}", t) for p in board["panels"] for t in p.get("targets", [])]
    found += [(f"{path.name} annotation {a['name']}", a["target"])
              for a in board["annotations"]["list"] if "target" in a]
    return found


def references(directory):
    """Each rollup panel's query over raw `requests` (dashboards/reference.json), by the
    panel's name as `targets` gives it."""
    return json.loads((pathlib.Path(directory) / "reference.json").read_text())["panels"]
