-- What crossing clusters costs: p50/p90/p99 of duration_ms and upstream_service_time_ms per service, locality and dst_cluster.
-- @param service text '' only this service (its FQDN, as in the service column); '' for every service
-- One row per service, locality (local, cross_cluster, external, unknown) and dst_cluster,
-- as seen by the calling proxies (inbound sidecar lines are left out). duration_ms is what
-- the caller waited; upstream_service_time_ms is the time the upstream took to answer (empty
-- when no upstream answered). A gap between cross_cluster and local rows of the same service
-- is the price of the gateway hop. Percentiles are approximate (t-digest).
SELECT
  service,
  locality,
  dst_cluster,
  count(*) AS requests,
  round(approx_percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_ms), 1) AS p50_ms,
  round(approx_percentile_cont(0.9) WITHIN GROUP (ORDER BY duration_ms), 1) AS p90_ms,
  round(approx_percentile_cont(0.99) WITHIN GROUP (ORDER BY duration_ms), 1) AS p99_ms,
  round(approx_percentile_cont(0.5) WITHIN GROUP (ORDER BY upstream_service_time_ms), 1) AS p50_upstream_ms,
  round(approx_percentile_cont(0.9) WITHIN GROUP (ORDER BY upstream_service_time_ms), 1) AS p90_upstream_ms,
  round(approx_percentile_cont(0.99) WITHIN GROUP (ORDER BY upstream_service_time_ms), 1) AS p99_upstream_ms
FROM requests
WHERE (direction IS DISTINCT FROM 'inbound') AND service IS NOT NULL
  AND ($service = '' OR service = $service)
GROUP BY service, locality, dst_cluster
ORDER BY service, locality, dst_cluster
