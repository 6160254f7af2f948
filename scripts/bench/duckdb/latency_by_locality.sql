-- DuckDB translation of queries/latency_by_locality.sql; checked against meshlog's result by scripts/bench-query.sh.
-- DataFusion's approx_percentile_cont(q) WITHIN GROUP (ORDER BY x) is DuckDB's approx_quantile(x, q),
-- also a t-digest; x is cast to DOUBLE so that the result is interpolated like DataFusion's, not
-- rounded to the integer type of x. The two digests differ, so the percentiles are close, not equal:
-- approximate: p50_ms, p90_ms, p99_ms, p50_upstream_ms, p90_upstream_ms, p99_upstream_ms
-- What crossing clusters costs: p50/p90/p99 of duration_ms and upstream_service_time_ms per service, locality and dst_cluster.
SELECT
  service,
  locality,
  dst_cluster,
  count(*) AS requests,
  round(approx_quantile(CAST(duration_ms AS DOUBLE), 0.5), 1) AS p50_ms,
  round(approx_quantile(CAST(duration_ms AS DOUBLE), 0.9), 1) AS p90_ms,
  round(approx_quantile(CAST(duration_ms AS DOUBLE), 0.99), 1) AS p99_ms,
  round(approx_quantile(CAST(upstream_service_time_ms AS DOUBLE), 0.5), 1) AS p50_upstream_ms,
  round(approx_quantile(CAST(upstream_service_time_ms AS DOUBLE), 0.9), 1) AS p90_upstream_ms,
  round(approx_quantile(CAST(upstream_service_time_ms AS DOUBLE), 0.99), 1) AS p99_upstream_ms
FROM requests
WHERE (direction IS DISTINCT FROM 'inbound') AND service IS NOT NULL
GROUP BY service, locality, dst_cluster
ORDER BY service, locality, dst_cluster
