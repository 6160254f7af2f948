-- DuckDB translation of queries/cross_cluster_share.sql: the same SQL, which DuckDB runs unchanged; checked
-- against meshlog's result by scripts/bench-query.sh.
-- Did requests stay in their cluster? Per minute and service: requests, cross-cluster requests and their share, via gateway or direct.
SELECT
  date_trunc('minute', ts) AS minute,
  source_cluster,
  service,
  count(*) AS requests,
  count(*) FILTER (WHERE locality = 'cross_cluster') AS cross_cluster,
  round(CAST(count(*) FILTER (WHERE locality = 'cross_cluster') AS DOUBLE) / count(*), 4) AS cross_share,
  count(*) FILTER (WHERE locality = 'cross_cluster' AND via_gateway) AS via_gateway,
  count(*) FILTER (WHERE locality = 'cross_cluster' AND NOT via_gateway) AS direct,
  count(*) FILTER (WHERE locality = 'unknown') AS unknown
FROM requests
WHERE (direction IS DISTINCT FROM 'inbound') AND service IS NOT NULL
GROUP BY date_trunc('minute', ts), source_cluster, service
ORDER BY minute, source_cluster, service
