"""PostgreSQL drivers against a live `meshlog serve` (tests/cli/postgres.rs runs this).

psycopg2 speaks the simple query protocol (parameters interpolated by the client),
psycopg 3 the extended one (Parse/Bind/Execute, server-side parameters, prepared
statements, binary results). Each runs every named query of queries/ and must get
the rows `meshlog query --saved NAME` prints for the same data; then the read-only
attacks of `meshlog query` must be refused with their SQLSTATE and change nothing.
Prints what differs and exits 1 on any failure.

Usage: pg_clients.py PORT MESHLOG_BINARY DATA_DIR QUERIES_DIR [USER PASSWORD]
"""

import datetime
import decimal
import json
import math
import pathlib
import re
import subprocess
import sys
import threading
import time

import psycopg
import psycopg2

PORT, MESHLOG, DATA_DIR, QUERIES = sys.argv[1], sys.argv[2], sys.argv[3], pathlib.Path(sys.argv[4])
USER, PASSWORD = (sys.argv[5], sys.argv[6]) if len(sys.argv) > 6 else ("meshlog", "")
DSN = f"host=127.0.0.1 port={PORT} dbname=meshlog user={USER} password={PASSWORD} sslmode=disable"
AROUND = "INTERVAL '2 minutes'"  # the default of `-- @param around interval 2m`
failures = []


def canonical(value):
    """One text per value, whichever side (driver or meshlog's JSON) it came from."""
    if value is None:
        return "null"
    if isinstance(value, datetime.datetime):
        return value.astimezone(datetime.timezone.utc).isoformat()
    if isinstance(value, str) and len(value) >= 20 and value[4] == "-" and value[10] == "T":
        parsed = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
        return parsed.astimezone(datetime.timezone.utc).isoformat()
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (float, decimal.Decimal)):
        number = float(value)
        return "nan" if math.isnan(number) else repr(round(number, 9)).removesuffix(".0")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list):
        return "[" + ",".join(canonical(item) for item in value) + "]"
    return str(value)


def expected_rows(name):
    """The rows `meshlog query --saved NAME` prints, in its column order."""
    out = subprocess.run(
        [MESHLOG, "query", "--data-dir", DATA_DIR, "--output", "json", "--saved", name],
        check=True, capture_output=True, text=True,
    ).stdout
    return [[row.get(column) for column in columns_of(name)] for row in json.loads(out)]


def columns_of(name):
    return COLUMNS[name]


def approximate(column):
    """Percentiles from approx_percentile_cont (a t-digest), which depend on how the
    rows are split into batches: the committed files and the rows in memory are split
    one way in the server and another in `meshlog query` reading the WAL."""
    return re.fullmatch(r"p\d+_.*", column) is not None


def close(got, want):
    try:
        got, want = float(got), float(want)
    except ValueError:
        return got == want
    return abs(got - want) <= 0.05 * max(1.0, abs(want))


def compare(client, name, description, rows):
    COLUMNS.setdefault(name, [column.name for column in description])
    loose = [approximate(column) for column in COLUMNS[name]]

    def keyed(row):
        texts = tuple(canonical(value) for value in row)
        return tuple(t for t, skip in zip(texts, loose) if not skip), texts

    got = sorted(keyed(row) for row in rows)
    want = sorted(keyed(row) for row in expected_rows(name))
    differing = [
        (g[1], w[1]) for g, w in zip(got, want)
        if g[0] != w[0] or not all(close(a, b) for a, b, l in zip(g[1], w[1], loose) if l)
    ]
    if len(got) != len(want) or differing:
        failures.append(f"{client} {name}: {len(got)} rows, meshlog query has {len(want)}; "
                        f"first differing: {differing[:1]}")
    elif not got:
        failures.append(f"{client} {name}: no rows (the fixture should give every query some)")


COLUMNS = {}
NAMED = sorted(path.stem for path in QUERIES.glob("*.sql"))


def simple_protocol():
    """psycopg2: the SQL with its parameters' defaults written in."""
    conn = psycopg2.connect(DSN)
    conn.autocommit = False  # psycopg2 sends BEGIN first, as it does by default
    cur = conn.cursor()
    for name in NAMED:
        sql = (QUERIES / f"{name}.sql").read_text()
        sql = sql.replace("$service", "''").replace("$around", AROUND)
        cur.execute(sql)
        compare("psycopg2", name, cur.description, cur.fetchall())
    conn.commit()
    conn.close()


def extended_protocol():
    """psycopg 3: `service` bound as a parameter; prepared, and in binary."""
    conn = psycopg.connect(DSN, autocommit=True)
    for binary in (False, True):
        cur = conn.cursor(binary=binary)
        for name in NAMED:
            sql = (QUERIES / f"{name}.sql").read_text().replace("%", "%%")
            sql = sql.replace("$service", "%(service)s").replace("$around", AROUND)
            params = {"service": ""} if "%(service)s" in sql else None
            # Past psycopg's prepare threshold, a named server-side statement.
            for _ in range(2):
                cur.execute(sql, params, prepare=True)
                rows = cur.fetchall()
            compare(f"psycopg3 binary={binary}", name, cur.description, rows)
    cur = conn.cursor()
    cur.execute("select ts from requests order by ts limit 1")
    if cur.description[0].type_code != 1184:
        failures.append(f"ts went out as type {cur.description[0].type_code}, not timestamptz (1184)")
    since = cur.fetchone()[0]
    cur.execute("select count(*) from requests where ts >= %s", [since])
    cur_total = conn.cursor()
    cur_total.execute("select count(*) from requests")
    if cur.fetchone()[0] != cur_total.fetchone()[0]:
        failures.append("a timestamptz parameter did not select every row from the first one")
    conn.close()


def cancel():
    """A client's cancel request stops its query (psycopg 3 sends one on Ctrl-C)."""
    conn = psycopg.connect(DSN, autocommit=True)
    timer = threading.Timer(1.0, conn.cancel_safe)
    timer.start()
    started = time.monotonic()
    try:
        # A cross join with a large build side emits batches without reading its
        # inputs, so it stops only at the yield points meshlog puts in joins.
        conn.execute("select count(*) from range(0, 10000000) a, range(0, 1000000000) b")
        failures.append("a cross join finished before its cancel")
    except psycopg.errors.QueryCanceled:
        if time.monotonic() - started > 10:
            failures.append(f"the cancel took {time.monotonic() - started:.1f} s")
    timer.join()
    conn.close()


ATTACKS = [
    ("CREATE TABLE t (a INT)", "25006"),
    ("INSERT INTO requests SELECT * FROM requests LIMIT 1", "25006"),
    ("DELETE FROM requests", "25006"),
    ("DROP TABLE requests", "25006"),
    ("SELECT * INTO copied FROM requests", "25006"),
    ("CREATE VIEW v AS SELECT 1", "25006"),
    ("CREATE EXTERNAL TABLE secrets STORED AS CSV LOCATION '/etc/passwd'", "42601"),
    ("COPY requests TO '/tmp/meshlog-copied.csv'", "0A000"),
    ("SET datafusion.runtime.memory_limit = '1T'", "42704"),
    ("SET datafusion.execution.target_partitions = 1", "42704"),
    ("PREPARE p AS SELECT 1", "25006"),
    ("SELECT * FROM read_csv('/etc/passwd')", "42883"),
]


def read_only():
    conn = psycopg2.connect(DSN)
    conn.autocommit = True
    cur = conn.cursor()
    cur.execute("select count(*) from requests")
    before = cur.fetchone()[0]
    for sql, code in ATTACKS:
        try:
            cur.execute(sql)
            failures.append(f"not refused: {sql}")
        except psycopg2.Error as error:
            if error.pgcode != code:
                failures.append(f"{sql}: SQLSTATE {error.pgcode} ({error.pgerror.strip()}), not {code}")
    cur.execute("select count(*) from requests")
    if cur.fetchone()[0] != before:
        failures.append("an attack changed the requests table")
    if pathlib.Path("/tmp/meshlog-copied.csv").exists():
        failures.append("COPY wrote a file")
    conn.close()


simple_protocol()
extended_protocol()
cancel()
read_only()
for failure in failures:
    print(failure)
sys.exit(1 if failures else 0)
