"""Compares two CSV results of the same query, meshlog's and DuckDB's, value by value.

Values are read the same way whatever wrote them: timestamps as instants (meshlog writes
2026-11-01T10:00:00Z, DuckDB 2026-11-01 10:00:00+00), numbers as numbers (1 = 1.0), the
rest as text (an empty field is NULL in both). Rows are compared in order; when only the
order of rows differs (ties of the ORDER BY), that is said. Columns named approximate may
differ: their largest relative difference is reported.
"""
import csv
import re
from datetime import datetime, timezone

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d(:?\d\d)?)?$")


def normalize(value):
    """A value in a form that compares equal across the two writers."""
    if TIMESTAMP.match(value):
        text = value.replace(" ", "T").replace("Z", "+00:00")
        if re.search(r"[+-]\d\d$", text):
            text += ":00"
        stamp = datetime.fromisoformat(text)
        if stamp.tzinfo is None:
            stamp = stamp.replace(tzinfo=timezone.utc)
        return stamp.astimezone(timezone.utc).isoformat()
    try:
        return float(value)
    except ValueError:
        return value


def read(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    return rows[0], [[normalize(v) for v in row] for row in rows[1:]]


def relative_difference(a, b):
    if not isinstance(a, float) or not isinstance(b, float):
        return 0.0 if a == b else float("inf")
    return abs(a - b) / max(abs(a), abs(b), 1e-9)


def compare_rows(header, mine, theirs, approximate):
    """(exact values that differ, largest relative difference of the approximate columns)."""
    loose = {i for i, name in enumerate(header) if name in approximate}
    different, worst = 0, 0.0
    for row_a, row_b in zip(mine, theirs):
        for i, (a, b) in enumerate(zip(row_a, row_b)):
            if i in loose:
                worst = max(worst, relative_difference(a, b))
            elif a != b:
                different += 1
    return different, worst


def sort_key(row):
    return [(isinstance(v, float), v if isinstance(v, float) else str(v)) for v in row]


def compare_csv(meshlog_path, duckdb_path, approximate=()):
    """(same, one-line summary) of DuckDB's result against meshlog's."""
    header, mine = read(meshlog_path)
    duck_header, theirs = read(duckdb_path)
    if header != duck_header:
        return False, f"DIFFERENT COLUMNS: meshlog {header}, DuckDB {duck_header}"
    if len(mine) != len(theirs):
        return False, f"DIFFERENT ROW COUNTS: meshlog {len(mine)}, DuckDB {len(theirs)}"
    different, worst = compare_rows(header, mine, theirs, approximate)
    order = "same order"
    if different:
        different, worst = compare_rows(header, sorted(mine, key=sort_key), sorted(theirs, key=sort_key), approximate)
        order = "same rows in another order (ties of ORDER BY)"
    if different:
        return False, f"{len(mine)} rows in both, {different} values DIFFER"
    summary = f"{len(mine)} rows in both, {order}, every value equal"
    if approximate:
        summary = (f"{len(mine)} rows in both, {order}, exact columns equal; approximate "
                   f"{', '.join(approximate)} within {worst:.1%} of meshlog's")
    return True, summary
