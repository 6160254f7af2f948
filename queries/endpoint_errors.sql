-- Which endpoint is failing, in which cluster: requests, 5xx ratio, top response flags and latency per upstream host.
-- @param service text '' only this service (its FQDN, as in the service column); '' for every service
-- One row per upstream host (a local pod, a remote pod, or the east-west gateway of another
-- cluster) and the service it served, as seen by the calling proxies (inbound sidecar lines
-- are left out so that each request counts once). Requests that never reached a host
-- (503 UH no healthy upstream, NR no route) are grouped under upstream_host '(none)'.
-- ratio_5xx = errors_5xx / requests; top_flags lists the three most frequent response flags
-- as FLAG=count; p50_ms / p99_ms are exact percentiles of duration_ms, interpolated as
-- percentile_cont does, read off a histogram of each endpoint's durations (a duration is a
-- whole number of milliseconds) instead of keeping every duration.
-- Worst first: highest 5xx ratio, then most requests.
WITH calls AS (
  SELECT
    coalesce(upstream_host, '(none)') AS upstream_host,
    dst_cluster, service, locality, via_gateway, response_code, response_flags, duration_ms
  FROM requests
  WHERE (direction IS DISTINCT FROM 'inbound') AND ($service = '' OR service = $service)
),
histogram AS (
  SELECT upstream_host, dst_cluster, service, locality, via_gateway, duration_ms,
    count(*) AS n,
    count(*) FILTER (WHERE response_code >= 500) AS errors_5xx
  FROM calls
  GROUP BY upstream_host, dst_cluster, service, locality, via_gateway, duration_ms
),
cumulative AS (
  SELECT upstream_host, dst_cluster, service, locality, via_gateway, duration_ms, n, errors_5xx,
    -- timed: the endpoint's requests with a duration; at_most: those no longer than this one
    sum(CASE WHEN duration_ms IS NOT NULL THEN n END) OVER (
      PARTITION BY upstream_host, dst_cluster, service, locality, via_gateway) AS timed,
    sum(CASE WHEN duration_ms IS NOT NULL THEN n END) OVER (
      PARTITION BY upstream_host, dst_cluster, service, locality, via_gateway
      ORDER BY duration_ms ROWS UNBOUNDED PRECEDING) AS at_most
  FROM histogram
),
per_endpoint AS (
  -- The k-th shortest duration (from 0) is the first whose at_most exceeds k.
  SELECT upstream_host, dst_cluster, service, locality, via_gateway,
    sum(n) AS requests, sum(errors_5xx) AS errors_5xx, max(timed) AS timed,
    min(duration_ms) FILTER (WHERE at_most > floor(0.5 * (timed - 1))) AS p50_low,
    min(duration_ms) FILTER (WHERE at_most > ceil(0.5 * (timed - 1))) AS p50_high,
    min(duration_ms) FILTER (WHERE at_most > floor(0.99 * (timed - 1))) AS p99_low,
    min(duration_ms) FILTER (WHERE at_most > ceil(0.99 * (timed - 1))) AS p99_high
  FROM cumulative
  GROUP BY upstream_host, dst_cluster, service, locality, via_gateway
),
flag_counts AS (
  SELECT upstream_host, dst_cluster, service, locality, via_gateway, flag, count(*) AS n
  FROM (
    SELECT upstream_host, dst_cluster, service, locality, via_gateway,
      unnest(string_to_array(response_flags, ',')) AS flag
    FROM calls
    WHERE response_flags IS NOT NULL
  ) AS flags
  GROUP BY upstream_host, dst_cluster, service, locality, via_gateway, flag
),
top_flags AS (
  SELECT upstream_host, dst_cluster, service, locality, via_gateway,
    string_agg(concat(flag, '=', CAST(n AS VARCHAR)), ' ' ORDER BY n DESC, flag) AS top_flags
  FROM (
    SELECT *, row_number() OVER (
      PARTITION BY upstream_host, dst_cluster, service, locality, via_gateway
      ORDER BY n DESC, flag) AS rank
    FROM flag_counts
  ) AS ranked
  WHERE rank <= 3
  GROUP BY upstream_host, dst_cluster, service, locality, via_gateway
)
SELECT
  e.upstream_host, e.dst_cluster, e.service, e.locality, e.via_gateway,
  e.requests, e.errors_5xx,
  round(CAST(e.errors_5xx AS DOUBLE) / e.requests, 4) AS ratio_5xx,
  f.top_flags,
  -- low + (high - low) × (the fraction of the rank, cut to six decimals): percentile_cont's
  -- operations in its order, so that the doubles, and so the rounding, are the same
  round(CAST(e.p50_low AS DOUBLE) + CAST(e.p50_high - e.p50_low AS DOUBLE)
    * (floor((0.5 * (e.timed - 1) - floor(0.5 * (e.timed - 1))) * 1000000) / 1000000), 1) AS p50_ms,
  round(CAST(e.p99_low AS DOUBLE) + CAST(e.p99_high - e.p99_low AS DOUBLE)
    * (floor((0.99 * (e.timed - 1) - floor(0.99 * (e.timed - 1))) * 1000000) / 1000000), 1) AS p99_ms
FROM per_endpoint AS e
LEFT JOIN top_flags AS f
  ON e.upstream_host = f.upstream_host
  AND (e.dst_cluster IS NOT DISTINCT FROM f.dst_cluster)
  AND (e.service IS NOT DISTINCT FROM f.service)
  AND e.locality = f.locality
  AND e.via_gateway = f.via_gateway
ORDER BY ratio_5xx DESC, e.requests DESC, e.upstream_host, e.service
