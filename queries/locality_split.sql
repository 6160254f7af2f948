-- Is locality load balancing doing what the DestinationRule / VirtualService says? Share of each service's requests per dst_cluster and subset.
-- One row per source_cluster (where the calling proxies run), service, dst_cluster (the
-- cluster that served the request; empty when unknown, e.g. no upstream host) and subset.
-- share = requests / all requests of that service from that source_cluster: compare it with
-- the DestinationRule's localityLbSetting distribute weights and the VirtualService route
-- weights (e.g. 75/15/10 across subsets). Inbound sidecar lines are left out.
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
