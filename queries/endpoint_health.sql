-- Per upstream host and minute: what the proxies' own state said (health flags, priority, counter deltas) next to the request errors in the access logs.
-- @param service text '' only this service (its FQDN, as in the service column); '' for every service
-- One row per (source_cluster, service, host, minute) seen in either endpoint_stats
-- (/clusters snapshots, istioctl tables) or requests. From the snapshots of all proxies of
-- source_cluster in that minute: health is 'healthy' when every snapshot said so, else the
-- flags seen (e.g. /failed_outlier_check); priority is 0 for local endpoints and 1+ for
-- remote ones (east-west gateways); rq_delta / rq_error_delta / cx_connect_fail_delta are
-- counter increases since the previous snapshot (restarts handled). From the access logs:
-- requests, errors_5xx and their ratio for the same host and service. A host unhealthy in
-- the snapshots while its 5xx ratio climbs is a failing endpoint; rq_delta without
-- requests means other proxies (not logged) use it.
WITH snapshots AS (
  SELECT
    date_bin(INTERVAL '1 minute', ts, TIMESTAMP '1970-01-01T00:00:00Z') AS minute,
    source_cluster, service, host,
    count(DISTINCT proxy) AS proxies,
    CASE WHEN bool_and(healthy) THEN 'healthy'
      ELSE max(CASE WHEN NOT healthy THEN health_flags END) END AS health,
    min(priority) AS priority,
    max(dst_cluster) AS dst_cluster,
    max(locality) AS locality,
    sum(rq_total_delta) AS rq_delta,
    sum(rq_error_delta) AS rq_error_delta,
    sum(cx_connect_fail_delta) AS cx_connect_fail_delta
  FROM endpoint_stats
  WHERE service IS NOT NULL AND envoy_cluster NOT LIKE 'inbound|%'
    AND ($service = '' OR service = $service)
  GROUP BY 1, source_cluster, service, host
),
logged AS (
  SELECT
    date_bin(INTERVAL '1 minute', ts, TIMESTAMP '1970-01-01T00:00:00Z') AS minute,
    source_cluster, service, upstream_host AS host,
    max(dst_cluster) AS dst_cluster,
    max(locality) AS locality,
    count(*) AS requests,
    count(*) FILTER (WHERE response_code >= 500) AS errors_5xx
  FROM requests
  WHERE upstream_host IS NOT NULL AND service IS NOT NULL
    AND (direction IS DISTINCT FROM 'inbound')
    AND ($service = '' OR service = $service)
  GROUP BY 1, source_cluster, service, upstream_host
)
SELECT
  coalesce(s.minute, l.minute) AS minute,
  coalesce(s.source_cluster, l.source_cluster) AS source_cluster,
  coalesce(s.service, l.service) AS service,
  coalesce(s.host, l.host) AS host,
  coalesce(s.dst_cluster, l.dst_cluster) AS dst_cluster,
  coalesce(s.locality, l.locality) AS locality,
  s.priority,
  s.health,
  s.proxies,
  s.rq_delta,
  s.rq_error_delta,
  s.cx_connect_fail_delta,
  coalesce(l.requests, 0) AS requests,
  coalesce(l.errors_5xx, 0) AS errors_5xx,
  round(CAST(l.errors_5xx AS DOUBLE) / nullif(l.requests, 0), 4) AS ratio_5xx
FROM snapshots AS s
FULL OUTER JOIN logged AS l
  ON s.minute = l.minute
  AND (s.source_cluster IS NOT DISTINCT FROM l.source_cluster)
  AND s.service = l.service
  AND s.host = l.host
ORDER BY minute, source_cluster, service, priority NULLS LAST, host
