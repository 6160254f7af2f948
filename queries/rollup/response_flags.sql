-- response_flags over requests_1m: the same rows as ../response_flags.sql, read from the rollup.
-- @param service text '' only this service (its FQDN, as in the service column); '' for every service
-- Run instead of the query over requests when the data directory's rollups are complete
-- and the window (--since, --until) starts and ends on whole minutes.
WITH combos AS (
  SELECT service, dst_cluster, response_flags, sum(requests) AS n
  FROM requests_1m
  WHERE $service = '' OR service = $service
  GROUP BY service, dst_cluster, response_flags
),
with_totals AS (
  SELECT service, dst_cluster, response_flags, n,
    sum(n) OVER (PARTITION BY service, dst_cluster) AS total
  FROM combos
),
flagged AS (
  SELECT unnest(string_to_array(response_flags, ',')) AS flag, service, dst_cluster, n, total
  FROM with_totals
  WHERE response_flags IS NOT NULL
)
SELECT
  flag,
  service,
  dst_cluster,
  sum(n) AS requests,
  round(CAST(sum(n) AS DOUBLE) / max(total), 4) AS share
FROM flagged
GROUP BY flag, service, dst_cluster
ORDER BY requests DESC, flag, service, dst_cluster
