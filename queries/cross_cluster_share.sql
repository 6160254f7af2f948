-- Did requests stay in their cluster? Per minute and service: requests, cross-cluster requests and their share, via gateway or direct.
-- @param service text '' only this service (its FQDN, as in the service column); '' for every service
-- One row per minute (UTC), source_cluster (the cluster whose proxies logged the requests)
-- and service, as seen by the calling proxies (inbound sidecar lines are left out).
-- cross_share = cross_cluster / requests: a step from near 0 to near 1 is a failover,
-- a steady small share is locality spill (e.g. a DestinationRule sending 10 % away).
-- via_gateway counts cross-cluster requests through an east-west gateway, direct those
-- sent straight to a remote pod (flat network); unknown counts requests with no upstream host.
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
  AND ($service = '' OR service = $service)
GROUP BY date_trunc('minute', ts), source_cluster, service
ORDER BY minute, source_cluster, service
