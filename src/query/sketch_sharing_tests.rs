//! [`ShareSketchMerges`] merges a sketch once for several quantiles and changes no
//! answer: the same queries with and without the rule give the same rows, errors
//! stay errors, and a quantile asked alone is left as it is.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use arrow::util::pretty::pretty_format_batches;
use datafusion::execution::SessionStateBuilder;
use datafusion::prelude::SessionContext;

use super::ShareSketchMerges;
use crate::query::sketch_functions;
use crate::query::tests::runtime;

/// Per group `g`, the sketches of a few minutes (one NULL), and a group whose
/// sketches are all NULL.
const TABLE: &str = "CREATE VIEW t AS SELECT g, m, sketch_of(v) AS s FROM (VALUES \
    (1, 1, CAST(3 AS BIGINT)), (1, 1, 9), (1, 2, 20), (1, 2, 700), (1, 3, NULL), \
    (2, 1, 1200), (2, 1, 50000), (2, 2, 130), (2, 2, 131), (2, 3, 4000), \
    (3, 1, NULL)) AS r(g, m, v) GROUP BY g, m";

fn session(share: bool) -> SessionContext {
    let builder = SessionStateBuilder::new().with_default_features();
    let builder =
        if share { builder.with_optimizer_rule(Arc::new(ShareSketchMerges)) } else { builder };
    let ctx = SessionContext::new_with_state(builder.build());
    sketch_functions::all().into_iter().for_each(|function| ctx.register_udaf(function));
    ctx
}

fn answer(share: bool, sql: &str) -> datafusion::error::Result<String> {
    let ctx = session(share);
    runtime().block_on(async {
        ctx.sql(TABLE).await?.collect().await?;
        let batches = ctx.sql(sql).await?.collect().await?;
        Ok(pretty_format_batches(&batches)?.to_string())
    })
}

const QUERIES: [&str; 4] = [
    "SELECT g, sketch_quantile(s, 0.5) AS p50, count(*) AS minutes, sketch_quantile(s, 0.99) \
     AS p99, sketch_quantile(s, 1) AS max FROM t GROUP BY g ORDER BY p99 DESC NULLS LAST, g",
    "SELECT sketch_quantile(s, 0.5), sketch_quantile(s, 0.99) FROM t",
    "SELECT g, sketch_quantile(s, 0.5), sketch_quantile(s, 0.9), sketch_merge(s) FROM t \
     GROUP BY g HAVING sketch_quantile(s, 0.9) > 10 ORDER BY g",
    "SELECT m, sketch_quantile(s, 0.25) AS a, sketch_quantile(s, 0.75) AS b, \
     sketch_quantile(s, 0.75) * 2 AS c FROM t WHERE g < 3 GROUP BY m ORDER BY m",
];

#[test]
fn shared_merges_give_the_answers_of_separate_ones() {
    for sql in QUERIES {
        let separate = answer(false, sql).unwrap();
        assert_eq!(answer(true, sql).unwrap(), separate, "{sql}");
    }
    let grouped = answer(true, QUERIES[0]).unwrap();
    let nulls = "| 3 |        | 1       |                    |         |";
    assert!(grouped.contains(nulls), "a group of NULL sketches has NULL quantiles: {grouped}");
}

#[test]
fn two_quantiles_of_a_sketch_merge_it_once() {
    let plan = answer(true, &format!("EXPLAIN {}", QUERIES[0])).unwrap();
    assert!(plan.contains("sketch_merge(t.s)"), "{plan}");
    assert!(!plan.contains("aggr=[sketch_quantile"), "{plan}");
    assert!(plan.contains("sketch_quantile_of_merged"), "{plan}");
    let alone = answer(true, "EXPLAIN SELECT g, sketch_quantile(s, 0.5) FROM t GROUP BY g");
    assert!(!alone.unwrap().contains("sketch_merge"), "one quantile is left as it is");
}

#[test]
fn a_bad_quantile_is_still_an_error() {
    let sql = "SELECT sketch_quantile(s, 0.5), sketch_quantile(s, 1.5) FROM t";
    let error = answer(true, sql).unwrap_err();
    assert!(error.to_string().contains("between 0 and 1"), "{error}");
}
