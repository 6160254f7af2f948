-- Each failover episode next to the proxies' own state around it: local hosts failing health or outlier checks or gone from the endpoints (scaled to zero), remote hosts taking the traffic.
-- @param service text '' only episodes of this service (its FQDN, as in failovers.service); '' for every service
-- @param around interval 2m how long before each episode's start and after its end the snapshots are read
-- One row per episode (from failovers), phase and upstream host of the failed-over service,
-- from the endpoint_stats snapshots (/clusters, istioctl tables, istiod's endpointShardz)
-- taken for the same source_cluster from `around` before the episode to `around` after it:
-- phase 'before' (before started_at), 'during' (up to ended_at; everything after the start
-- while the episode is ongoing), 'after'. A host is local when it is a pod of source_cluster
-- (locality 'local') at priority 0 (a dump without priorities, such as istioctl's, counts
-- as priority 0); remote when another cluster serves it (locality 'cross_cluster') or the
-- proxy put it at priority 1 or more. snapshots counts the host's rows in the phase,
-- unhealthy those not healthy, flags shows what they said; rq_delta and rq_error_delta are
-- the requests and errors the proxies sent to the host in the phase.
-- last_seen and first_missing are set for a local host that a proxy listed and then left
-- out of its next snapshot (same proxy, same kind of dump) that still listed the service,
-- before the episode ended: its pods were scaled to zero or deleted, it is gone from the
-- endpoints (EDS). first_missing is the earliest such snapshot, of any proxy; last_seen
-- the latest snapshot, of any proxy, that still listed the host (up to the episode's end).
-- They are on the row of the phase the host was last seen in.
-- evidence reads the row: 'local host gone from EDS' (with last_seen / first_missing; 'local
-- host failing checks, then gone from EDS' when it was unhealthy first), 'local host failing
-- checks' (unhealthy), 'remote host taking traffic' (requests during the episode), 'local
-- host recovered' (healthy after it). An episode with no snapshot around it has no rows:
-- ingest /clusters snapshots (or run `meshlog scrape`) to see why it happened.
WITH episodes AS (
  SELECT source_cluster, service, target_cluster, started_at, ended_at
  FROM failovers
  WHERE $service = '' OR service = $service
),
around AS (
  SELECT
    e.source_cluster, e.service, e.target_cluster, e.started_at, e.ended_at,
    CASE
      WHEN s.ts < e.started_at THEN 'before'
      WHEN e.ended_at IS NULL OR s.ts <= e.ended_at THEN 'during'
      ELSE 'after'
    END AS phase,
    s.ts, s.proxy, s.dump_kind,
    s.host, s.priority, s.dst_cluster, s.locality, s.healthy, s.health_flags,
    s.rq_total_delta, s.rq_error_delta,
    s.locality = 'local' AND coalesce(s.priority, 0) = 0 AS local_host,
    s.locality = 'cross_cluster' OR (s.locality <> 'local' AND s.priority >= 1) AS remote_host
  FROM episodes AS e
  JOIN endpoint_stats AS s
    ON s.service = e.service
    AND (s.source_cluster IS NOT DISTINCT FROM e.source_cluster)
    AND s.ts >= e.started_at - CAST($around AS INTERVAL)
    AND (e.ended_at IS NULL OR s.ts <= e.ended_at + CAST($around AS INTERVAL))
  WHERE s.envoy_cluster IS NULL OR s.envoy_cluster NOT LIKE 'inbound|%'
),
-- Every snapshot (one proxy, one kind of dump, one time) that listed the service.
listings AS (
  SELECT DISTINCT source_cluster, service, started_at, ended_at, proxy, dump_kind, ts
  FROM around
),
sightings AS (
  SELECT DISTINCT source_cluster, service, started_at, ended_at, proxy, dump_kind, host, ts
  FROM around
  WHERE local_host
),
-- Each local host a proxy listed, against every snapshot of that proxy: was it there?
presence AS (
  SELECT
    l.source_cluster, l.service, l.started_at, l.ended_at, l.proxy, l.dump_kind, h.host, l.ts,
    seen.ts IS NOT NULL AS present
  FROM (SELECT DISTINCT source_cluster, service, started_at, proxy, dump_kind, host FROM sightings) AS h
  JOIN listings AS l
    ON l.source_cluster = h.source_cluster AND l.service = h.service
    AND l.started_at = h.started_at
    AND (l.proxy IS NOT DISTINCT FROM h.proxy) AND l.dump_kind = h.dump_kind
  LEFT JOIN sightings AS seen
    ON seen.source_cluster = h.source_cluster AND seen.service = h.service
    AND seen.started_at = h.started_at
    AND (seen.proxy IS NOT DISTINCT FROM h.proxy) AND seen.dump_kind = h.dump_kind
    AND seen.host = h.host AND seen.ts = l.ts
),
-- A snapshot without the host right after one of the same proxy with it: gone.
missing AS (
  SELECT source_cluster, service, started_at, ended_at, host, present, ts,
    lag(present) OVER (PARTITION BY source_cluster, service, started_at, proxy, dump_kind, host
      ORDER BY ts) AS was_present
  FROM presence
),
gone AS (
  SELECT m.source_cluster, m.service, m.started_at, m.host,
    max(s.ts) AS last_seen, min(m.ts) AS first_missing
  FROM missing AS m
  JOIN sightings AS s
    ON s.source_cluster = m.source_cluster AND s.service = m.service
    AND s.started_at = m.started_at AND s.host = m.host
    AND (s.ended_at IS NULL OR s.ts <= s.ended_at)
  WHERE m.was_present AND NOT m.present AND (m.ended_at IS NULL OR m.ts <= m.ended_at)
  GROUP BY m.source_cluster, m.service, m.started_at, m.host
),
per_host AS (
  SELECT
    source_cluster, service, target_cluster, started_at, ended_at, phase,
    host, min(priority) AS priority, max(dst_cluster) AS dst_cluster,
    max(locality) AS locality,
    bool_or(local_host) AS local_host,
    bool_or(remote_host) AS remote_host,
    count(*) AS snapshots,
    count(*) FILTER (WHERE NOT healthy) AS unhealthy,
    max(CASE WHEN NOT healthy THEN health_flags END) AS flags,
    sum(rq_total_delta) AS rq_delta,
    sum(rq_error_delta) AS rq_error_delta
  FROM around
  GROUP BY source_cluster, service, target_cluster, started_at, ended_at, phase, host
)
SELECT
  p.source_cluster, p.service, p.target_cluster, p.started_at, p.ended_at, p.phase,
  p.host, p.priority, p.dst_cluster, p.locality, p.snapshots, p.unhealthy, p.flags,
  p.rq_delta, p.rq_error_delta, g.last_seen, g.first_missing,
  CASE
    WHEN g.host IS NOT NULL AND p.unhealthy > 0 THEN 'local host failing checks, then gone from EDS'
    WHEN g.host IS NOT NULL THEN 'local host gone from EDS'
    WHEN p.local_host AND p.unhealthy > 0 THEN 'local host failing checks'
    WHEN p.remote_host AND p.phase = 'during' AND p.rq_delta > 0 THEN 'remote host taking traffic'
    WHEN p.local_host AND p.phase = 'after' AND p.unhealthy = 0 THEN 'local host recovered'
    ELSE ''
  END AS evidence
FROM per_host AS p
LEFT JOIN gone AS g
  ON g.source_cluster = p.source_cluster AND g.service = p.service
  AND g.started_at = p.started_at AND g.host = p.host
  AND p.phase = CASE WHEN g.last_seen < p.started_at THEN 'before'
    WHEN p.ended_at IS NULL OR g.last_seen <= p.ended_at THEN 'during' ELSE 'after' END
ORDER BY p.started_at DESC, p.source_cluster, p.service,
  CASE p.phase WHEN 'before' THEN 0 WHEN 'during' THEN 1 ELSE 2 END,
  p.priority, p.host
