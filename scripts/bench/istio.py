"""The Istio default access-log format as DuckDB sees it: the 24 columns both ingest
methods produce (same names and types as meshlog's `requests` table) and the SQL that
types one raw VARCHAR value of each."""

# The columns in line order, as meshlog names them.
COLUMNS = ["ts", "method", "path", "protocol", "response_code", "response_flags", "response_code_details",
           "connection_termination_details", "upstream_transport_failure_reason", "bytes_received", "bytes_sent",
           "duration_ms", "upstream_service_time_ms", "x_forwarded_for", "user_agent", "request_id", "authority",
           "upstream_host", "upstream_cluster", "upstream_local_address", "downstream_local_address",
           "downstream_remote_address", "requested_server_name", "route_name"]

# Typed columns; every other column is VARCHAR with Envoy's '-' read as NULL.
CASTS = {"ts": "CAST({} AS TIMESTAMPTZ)", "response_code": "CAST({} AS INTEGER)",
         "bytes_received": "CAST({} AS BIGINT)", "bytes_sent": "CAST({} AS BIGINT)",
         "duration_ms": "CAST({} AS BIGINT)", "upstream_service_time_ms": "TRY_CAST({} AS BIGINT)"}


def typed_select(raw):
    """The SELECT list turning raw VARCHAR values into the typed columns; raw maps a column
    name to the SQL expression of its raw value."""
    return ", ".join(CASTS.get(name, "NULLIF({}, '-')").format(raw[name]) + f" AS {name}" for name in COLUMNS)


def sql_string(value):
    """A SQL string literal."""
    return "'" + str(value).replace("'", "''") + "'"
