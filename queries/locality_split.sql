-- Is locality load balancing doing what the DestinationRule says? Share of each service's requests per dst_cluster and subset.
-- @param service text '' only this service (its FQDN, as in requests.service); '' for every service
-- One row per source_cluster (where the calling proxies run), service (the destination host:
-- the FQDN in the Envoy cluster the request went to), dst_cluster (the cluster that served
-- the request; empty when unknown, e.g. 503 UH with no upstream host) and subset (empty for
-- none). share = requests / all requests of that service from that source_cluster: hold the
-- shares of one subset's clusters against the DestinationRule's localityLbSetting
-- distribute weights (e.g. 90 % to us-west1, 10 % to us-central1, as the clusters' regions),
-- and the subsets' shares against VirtualService weights between subsets of this one host.
-- A VirtualService that splits a route across different hosts (reviews v1 and v2 next to
-- reviews.default.svc.cluster2.global) shows here as separate services, each at 100 %: see
-- route_split for the split per route. Inbound sidecar lines are left out.
SELECT
  source_cluster,
  service,
  dst_cluster,
  subset,
  count(*) AS requests,
  round(CAST(count(*) AS DOUBLE) / sum(count(*)) OVER (PARTITION BY source_cluster, service), 4) AS share
FROM requests
WHERE (direction IS DISTINCT FROM 'inbound') AND service IS NOT NULL
  AND ($service = '' OR service = $service)
GROUP BY source_cluster, service, dst_cluster, subset
ORDER BY source_cluster, service, share DESC, dst_cluster, subset
