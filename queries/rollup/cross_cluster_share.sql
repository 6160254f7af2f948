-- cross_cluster_share over requests_1m: the same rows as ../cross_cluster_share.sql, read from the rollup.
-- @param service text '' only this service (its FQDN, as in the service column); '' for every service
-- Run instead of the query over requests when the data directory's rollups are complete
-- and the window (--since, --until) starts and ends on whole minutes.
SELECT
  ts AS minute,
  source_cluster,
  service,
  sum(requests) AS requests,
  sum(CASE WHEN locality = 'cross_cluster' THEN requests ELSE 0 END) AS cross_cluster,
  round(CAST(sum(CASE WHEN locality = 'cross_cluster' THEN requests ELSE 0 END) AS DOUBLE) / sum(requests), 4) AS cross_share,
  sum(CASE WHEN locality = 'cross_cluster' AND via_gateway THEN requests ELSE 0 END) AS via_gateway,
  sum(CASE WHEN locality = 'cross_cluster' AND NOT via_gateway THEN requests ELSE 0 END) AS direct,
  sum(CASE WHEN locality = 'unknown' THEN requests ELSE 0 END) AS unknown
FROM requests_1m
WHERE (direction IS DISTINCT FROM 'inbound') AND service IS NOT NULL
  AND ($service = '' OR service = $service)
GROUP BY ts, source_cluster, service
ORDER BY minute, source_cluster, service
