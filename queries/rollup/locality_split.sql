-- locality_split over requests_1m: the same rows as ../locality_split.sql, read from the rollup.
-- @param service text '' only this service (its FQDN, as in requests.service); '' for every service
-- Run instead of the query over requests when the data directory's rollups are complete
-- and the window (--since, --until) starts and ends on whole minutes.
SELECT
  source_cluster,
  service,
  dst_cluster,
  subset,
  sum(requests) AS requests,
  round(CAST(sum(requests) AS DOUBLE) / sum(sum(requests)) OVER (PARTITION BY source_cluster, service), 4) AS share
FROM requests_1m
WHERE (direction IS DISTINCT FROM 'inbound') AND service IS NOT NULL
  AND ($service = '' OR service = $service)
GROUP BY source_cluster, service, dst_cluster, subset
ORDER BY source_cluster, service, share DESC, dst_cluster, subset
