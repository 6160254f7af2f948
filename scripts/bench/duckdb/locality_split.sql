-- DuckDB translation of queries/locality_split.sql: the same SQL, which DuckDB runs unchanged; checked
-- against meshlog's result by scripts/bench-query.sh.
-- Is locality load balancing doing what the DestinationRule / VirtualService says? Share of each service's requests per dst_cluster and subset.
SELECT
  source_cluster,
  service,
  dst_cluster,
  subset,
  count(*) AS requests,
  round(CAST(count(*) AS DOUBLE) / sum(count(*)) OVER (PARTITION BY source_cluster, service), 4) AS share
FROM requests
WHERE (direction IS DISTINCT FROM 'inbound') AND service IS NOT NULL
GROUP BY source_cluster, service, dst_cluster, subset
ORDER BY source_cluster, service, share DESC, dst_cluster, subset
