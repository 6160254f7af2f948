-- DuckDB translation of queries/failovers.sql: the same SQL, which DuckDB runs unchanged; checked
-- against meshlog's result by scripts/bench-query.sh.
-- Every failover episode, newest first: when a service's traffic moved to another cluster, for how long, how much of it.
SELECT
  source_cluster,
  service,
  target_cluster,
  CASE WHEN ended_at IS NULL THEN 'ongoing' ELSE 'ended' END AS state,
  started_at,
  ended_at,
  CASE
    WHEN duration_s >= 3600 THEN concat(
      CAST(floor(duration_s / 3600) AS BIGINT), 'h ',
      lpad(CAST(CAST(floor(duration_s % 3600 / 60) AS BIGINT) AS VARCHAR), 2, '0'), 'm ',
      lpad(CAST(CAST(floor(duration_s % 60) AS BIGINT) AS VARCHAR), 2, '0'), 's')
    WHEN duration_s >= 60 THEN concat(
      CAST(floor(duration_s / 60) AS BIGINT), 'm ',
      lpad(CAST(CAST(floor(duration_s % 60) AS BIGINT) AS VARCHAR), 2, '0'), 's')
    ELSE concat(CAST(round(duration_s, 1) AS VARCHAR), 's')
  END AS duration,
  duration_s,
  requests,
  cross_cluster_requests,
  round(CAST(cross_cluster_requests AS DOUBLE) / nullif(requests, 0), 3) AS cross_share,
  round(peak_cross_cluster_share, 3) AS peak_share,
  errors_before,
  upstream_cluster
FROM failovers
ORDER BY started_at DESC, source_cluster, service
