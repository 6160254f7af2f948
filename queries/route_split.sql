-- How each route splits its traffic: per route, the share of its requests sent to each destination host, subset and cluster (held against VirtualService weights and DestinationRule distribute).
-- @param service text '' only routes that sent requests to this service (its FQDN, as in requests.service); '' for every route
-- One row per source_cluster (where the calling proxies run), route and destination. The route
-- is what the calling proxy matched: route_name (%ROUTE_NAME%: the VirtualService http route's
-- `name`, Istio's 'default' for a service without one; empty when the log format has no route
-- name) and authority (the Host / :authority header as logged, port included: the name the
-- client called, which the VirtualService's `hosts` matched). The destination is service (the
-- FQDN of the Envoy cluster the request went to: the route destination's `host`, such as
-- reviews.default.svc.cluster.local or reviews.default.svc.cluster2.global), subset (the
-- destination's `subset`; empty for none) and dst_cluster (the cluster whose endpoint served
-- the request; empty when unknown, e.g. 503 UH with no upstream host).
-- requests counts the route's requests to that destination served by dst_cluster.
-- destination_share = the route's requests to this service and subset (all dst_clusters) / all
-- the route's requests: hold it against the route's VirtualService weights (e.g. 0.75 / 0.15 /
-- 0.10 for reviews v1, reviews v2 and reviews.default.svc.cluster2.global). cluster_share =
-- requests / the route's requests to this service and subset: where that destination's
-- requests were served, to hold against the DestinationRule's localityLbSetting distribute
-- weights (e.g. 90 % us-west1, 10 % us-central1, as the clusters' regions). Requests without
-- an Envoy cluster of a service (no route, passthrough) and inbound sidecar lines are left out.
WITH per_destination AS (
  SELECT source_cluster, route_name, authority, service, subset, dst_cluster, count(*) AS requests
  FROM requests
  WHERE (direction IS DISTINCT FROM 'inbound') AND service IS NOT NULL
  GROUP BY source_cluster, route_name, authority, service, subset, dst_cluster
),
shares AS (
  SELECT
    source_cluster, route_name, authority, service, subset, dst_cluster, requests,
    round(CAST(sum(requests) OVER (PARTITION BY source_cluster, route_name, authority, service, subset) AS DOUBLE)
      / sum(requests) OVER (PARTITION BY source_cluster, route_name, authority), 4) AS destination_share,
    round(CAST(requests AS DOUBLE)
      / sum(requests) OVER (PARTITION BY source_cluster, route_name, authority, service, subset), 4) AS cluster_share,
    bool_or(service = $service) OVER (PARTITION BY source_cluster, route_name, authority) AS reaches_service
  FROM per_destination
)
SELECT source_cluster, route_name, authority, service, subset, dst_cluster, requests,
  destination_share, cluster_share
FROM shares
WHERE $service = '' OR reaches_service
ORDER BY source_cluster, route_name, authority, destination_share DESC, service, subset,
  cluster_share DESC, dst_cluster
