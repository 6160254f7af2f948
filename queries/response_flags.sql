-- Why requests failed at the proxy: count of each Envoy response flag per service and dst_cluster.
-- @param service text '' only this service (its FQDN, as in the service column); '' for every service
-- One row per response flag (UH no healthy upstream, UF upstream connection failure, URX
-- retry limit, NR no route, UO overflow, DC downstream disconnect…), service and dst_cluster
-- (empty when no upstream host was chosen). A line logged with several flags ('UH,URX')
-- counts once for each. share = requests with the flag / all requests of that service and
-- dst_cluster. Most frequent first.
WITH combos AS (
  SELECT service, dst_cluster, response_flags, count(*) AS n
  FROM requests
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
