-- Each failover episode next to the proxies' own state around it: local (priority-0) hosts failing health or outlier checks, remote (priority-1+) hosts taking the traffic.
-- One row per episode (from failovers), phase and host of the failed-over service, from
-- the endpoint_stats snapshots of the same source_cluster taken from 2 minutes before the
-- episode to 2 minutes after it (phase 'before', 'during', 'after'). unhealthy counts the
-- snapshots in which the host was not healthy, flags shows what they said; rq_delta and
-- rq_error_delta are the requests and errors the proxies sent to the host in that phase.
-- evidence reads the row: 'local host failing checks' (priority 0, unhealthy),
-- 'remote host taking traffic' (priority 1+, requests during the episode), 'local host
-- recovered' (priority 0, healthy again after it). An episode with no snapshot around it
-- has no rows: ingest /clusters snapshots (or run `meshlog scrape`) to see why it happened.
WITH episodes AS (
  SELECT source_cluster, service, target_cluster, started_at, ended_at
  FROM failovers
),
around AS (
  SELECT
    e.source_cluster, e.service, e.target_cluster, e.started_at, e.ended_at,
    CASE
      WHEN s.ts < e.started_at THEN 'before'
      WHEN e.ended_at IS NULL OR s.ts <= e.ended_at THEN 'during'
      ELSE 'after'
    END AS phase,
    s.host, s.priority, s.dst_cluster, s.locality, s.healthy, s.health_flags,
    s.rq_total_delta, s.rq_error_delta
  FROM episodes AS e
  JOIN endpoint_stats AS s
    ON s.service = e.service
    AND (s.source_cluster IS NOT DISTINCT FROM e.source_cluster)
    AND s.ts >= e.started_at - INTERVAL '2 minutes'
    AND (e.ended_at IS NULL OR s.ts <= e.ended_at + INTERVAL '2 minutes')
  WHERE s.envoy_cluster NOT LIKE 'inbound|%'
),
per_host AS (
  SELECT
    source_cluster, service, target_cluster, started_at, ended_at, phase,
    host, min(priority) AS priority, max(dst_cluster) AS dst_cluster,
    max(locality) AS locality,
    count(*) AS snapshots,
    count(*) FILTER (WHERE NOT healthy) AS unhealthy,
    max(CASE WHEN NOT healthy THEN health_flags END) AS flags,
    sum(rq_total_delta) AS rq_delta,
    sum(rq_error_delta) AS rq_error_delta
  FROM around
  GROUP BY source_cluster, service, target_cluster, started_at, ended_at, phase, host
)
SELECT
  source_cluster, service, target_cluster, started_at, ended_at, phase,
  host, priority, dst_cluster, locality, snapshots, unhealthy, flags, rq_delta, rq_error_delta,
  CASE
    WHEN priority = 0 AND unhealthy > 0 THEN 'local host failing checks'
    WHEN priority >= 1 AND phase = 'during' AND rq_delta > 0 THEN 'remote host taking traffic'
    WHEN priority = 0 AND phase = 'after' AND unhealthy = 0 THEN 'local host recovered'
    ELSE ''
  END AS evidence
FROM per_host
ORDER BY started_at DESC, source_cluster, service,
  CASE phase WHEN 'before' THEN 0 WHEN 'during' THEN 1 ELSE 2 END,
  priority, host
