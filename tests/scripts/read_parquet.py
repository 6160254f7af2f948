"""Reads a meshlog data directory with DuckDB and with pyarrow, as a user would,
and prints one JSON object of aggregates per reader, so the end-to-end test can
check both see exactly the rows meshlog's own query engine sees."""
import json
import sys

import duckdb
import pyarrow.compute as pc
import pyarrow.dataset as ds

data_dir = sys.argv[1]
glob = f"{data_dir}/requests/**/*.parquet"
row = duckdb.connect().execute(
    f"""SELECT count(*), count(DISTINCT request_id), sum(bytes_sent),
               count(*) FILTER (WHERE locality = 'cross_cluster'), min(ts)::VARCHAR, count(DISTINCT hour)
        FROM read_parquet('{glob}', hive_partitioning = true)"""
).fetchone()
print(json.dumps({"reader": "duckdb", "rows": row[0], "request_ids": row[1], "bytes_sent": int(row[2]),
                  "cross_cluster": row[3], "min_ts": row[4], "hours": row[5]}))

table = ds.dataset(f"{data_dir}/requests", format="parquet", partitioning="hive").to_table()
print(json.dumps({"reader": "pyarrow", "rows": table.num_rows,
                  "request_ids": len(pc.unique(table["request_id"].drop_null())),
                  "bytes_sent": pc.sum(table["bytes_sent"]).as_py(),
                  "cross_cluster": pc.sum(pc.equal(table["locality"], "cross_cluster")).as_py(),
                  "ts_type": str(table.schema.field("ts").type)}))
