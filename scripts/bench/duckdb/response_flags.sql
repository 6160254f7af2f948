-- DuckDB translation of queries/response_flags.sql: the same SQL, which DuckDB runs unchanged; checked
-- against meshlog's result by scripts/bench-query.sh.
-- Why requests failed at the proxy: count of each Envoy response flag per service and dst_cluster.
WITH combos AS (
  SELECT service, dst_cluster, response_flags, count(*) AS n
  FROM requests
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
