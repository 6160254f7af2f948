-- DuckDB translation of queries/endpoint_errors.sql: the same SQL, which DuckDB runs unchanged; checked
-- against meshlog's result by scripts/bench-query.sh.
-- Which endpoint is failing, in which cluster: requests, 5xx ratio, top response flags and latency per upstream host.
WITH calls AS (
  SELECT
    coalesce(upstream_host, '(none)') AS upstream_host,
    dst_cluster, service, locality, via_gateway, response_code, response_flags, duration_ms
  FROM requests
  WHERE direction IS DISTINCT FROM 'inbound'
),
per_endpoint AS (
  SELECT
    upstream_host, dst_cluster, service, locality, via_gateway,
    count(*) AS requests,
    count(*) FILTER (WHERE response_code >= 500) AS errors_5xx,
    round(percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_ms), 1) AS p50_ms,
    round(percentile_cont(0.99) WITHIN GROUP (ORDER BY duration_ms), 1) AS p99_ms
  FROM calls
  GROUP BY upstream_host, dst_cluster, service, locality, via_gateway
),
flag_counts AS (
  SELECT upstream_host, dst_cluster, service, locality, via_gateway, flag, count(*) AS n
  FROM (
    SELECT upstream_host, dst_cluster, service, locality, via_gateway,
      unnest(string_to_array(response_flags, ',')) AS flag
    FROM calls
    WHERE response_flags IS NOT NULL
  ) AS flags
  GROUP BY upstream_host, dst_cluster, service, locality, via_gateway, flag
),
top_flags AS (
  SELECT upstream_host, dst_cluster, service, locality, via_gateway,
    string_agg(concat(flag, '=', CAST(n AS VARCHAR)), ' ' ORDER BY n DESC, flag) AS top_flags
  FROM (
    SELECT *, row_number() OVER (
      PARTITION BY upstream_host, dst_cluster, service, locality, via_gateway
      ORDER BY n DESC, flag) AS rank
    FROM flag_counts
  ) AS ranked
  WHERE rank <= 3
  GROUP BY upstream_host, dst_cluster, service, locality, via_gateway
)
SELECT
  e.upstream_host, e.dst_cluster, e.service, e.locality, e.via_gateway,
  e.requests, e.errors_5xx,
  round(CAST(e.errors_5xx AS DOUBLE) / e.requests, 4) AS ratio_5xx,
  f.top_flags, e.p50_ms, e.p99_ms
FROM per_endpoint AS e
LEFT JOIN top_flags AS f
  ON e.upstream_host = f.upstream_host
  AND (e.dst_cluster IS NOT DISTINCT FROM f.dst_cluster)
  AND (e.service IS NOT DISTINCT FROM f.service)
  AND e.locality = f.locality
  AND e.via_gateway = f.via_gateway
ORDER BY ratio_5xx DESC, e.requests DESC, e.upstream_host, e.service
