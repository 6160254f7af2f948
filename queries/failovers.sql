-- Every failover episode, newest first: when a service's traffic moved to another cluster, for how long, how much of it.
-- @param service text '' only this service (its FQDN, as in the service column); '' for every service
-- One row per episode of a (source_cluster, service): traffic seen from source_cluster went
-- to target_cluster. state is 'ongoing' while the episode has not ended (ended_at empty).
-- duration is human-readable (duration_s holds the seconds); cross_share is the share of
-- the episode's requests served cross-cluster, peak_share the highest share in one window,
-- baseline_share the share the service normally has (what the episode departed from).
-- errors_before counts 5xx / UH / UF / URX responses from a minute before it started until
-- it was confirmed, error_flags and error_code the most frequent of them: non-zero means the
-- endpoints were failing, zero suggests a deliberate shift (weights, scale-down).
SELECT
  source_cluster,
  service,
  target_cluster,
  CASE WHEN ended_at IS NULL THEN 'ongoing' ELSE 'ended' END AS state,
  started_at,
  ended_at,
  CASE
    WHEN duration_s >= 3600 THEN concat(
      CAST(floor(duration_s / 3600) AS BIGINT), 'h ',
      lpad(CAST(CAST(floor(duration_s % 3600 / 60) AS BIGINT) AS VARCHAR), 2, '0'), 'm ',
      lpad(CAST(CAST(floor(duration_s % 60) AS BIGINT) AS VARCHAR), 2, '0'), 's')
    WHEN duration_s >= 60 THEN concat(
      CAST(floor(duration_s / 60) AS BIGINT), 'm ',
      lpad(CAST(CAST(floor(duration_s % 60) AS BIGINT) AS VARCHAR), 2, '0'), 's')
    ELSE concat(CAST(round(duration_s, 1) AS VARCHAR), 's')
  END AS duration,
  duration_s,
  requests,
  cross_cluster_requests,
  round(CAST(cross_cluster_requests AS DOUBLE) / nullif(requests, 0), 3) AS cross_share,
  round(peak_cross_cluster_share, 3) AS peak_share,
  round(baseline_cross_cluster_share, 3) AS baseline_share,
  errors_before,
  errors_before_flags AS error_flags,
  errors_before_code AS error_code,
  upstream_cluster
FROM failovers
WHERE $service = '' OR service = $service
ORDER BY started_at DESC, source_cluster, service
