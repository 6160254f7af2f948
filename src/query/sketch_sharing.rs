//! [`ShareSketchMerges`]: a logical optimizer rule that merges a group's latency
//! sketches once for every quantile asked of them. In
//! `SELECT …, sketch_quantile(s, 0.5), sketch_quantile(s, 0.99) … GROUP BY …` each
//! aggregate would decode and merge every row's sketch on its own (the latency
//! panels' main cost); the rule has the aggregate compute `sketch_merge(s)` once
//! and reads each quantile off the merged sketch in a projection above it, under
//! the original names, so the plan's columns and answers are unchanged.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Float64Array};
use arrow::compute::cast;
use arrow::datatypes::DataType;
use datafusion::common::tree_node::Transformed;
use datafusion::common::{Column, ScalarValue, exec_err};
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::logical_plan::{Aggregate, Projection};
use datafusion::logical_expr::{
    ColumnarValue, Expr, LogicalPlan, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    TypeSignature, Volatility,
};
use datafusion::optimizer::optimizer::ApplyOrder;
use datafusion::optimizer::{OptimizerConfig, OptimizerRule};

use super::sketch_functions::{self, QUANTILE_NAME, check_quantile};
use crate::analytics::rollup::sketch::LatencySketch;

/// The rule; see the module's documentation.
#[derive(Debug)]
pub struct ShareSketchMerges;

impl OptimizerRule for ShareSketchMerges {
    fn name(&self) -> &str {
        "share_sketch_merges"
    }

    fn apply_order(&self) -> Option<ApplyOrder> {
        Some(ApplyOrder::BottomUp)
    }

    fn supports_rewrite(&self) -> bool {
        true
    }

    fn rewrite(
        &self,
        plan: LogicalPlan,
        _config: &dyn OptimizerConfig,
    ) -> Result<Transformed<LogicalPlan>> {
        let LogicalPlan::Aggregate(aggregate) = plan else {
            return Ok(Transformed::no(plan));
        };
        match share(&aggregate)? {
            Some(shared) => Ok(Transformed::yes(shared)),
            None => Ok(Transformed::no(LogicalPlan::Aggregate(aggregate))),
        }
    }
}

/// The sketch and quantile of a plain `sketch_quantile(sketch, constant)`.
fn quantile_of(expr: &Expr) -> Option<(&Expr, &Expr)> {
    let Expr::AggregateFunction(function) = expr else {
        return None;
    };
    let params = &function.params;
    let plain = !params.distinct
        && params.filter.is_none()
        && params.order_by.is_empty()
        && params.null_treatment.is_none();
    let constant = matches!(params.args.get(1), Some(Expr::Literal(..)));
    (function.func.name() == QUANTILE_NAME && plain && constant && params.args.len() == 2)
        .then(|| (&params.args[0], &params.args[1]))
}

/// The sketches of `aggregate` that two or more quantiles read.
fn shared_sketches(aggregate: &Aggregate) -> Vec<&Expr> {
    let mut counts: Vec<(&Expr, usize)> = Vec::new();
    for (sketch, _) in aggregate.aggr_expr.iter().filter_map(quantile_of) {
        match counts.iter_mut().find(|(seen, _)| *seen == sketch) {
            Some((_, count)) => *count += 1,
            None => counts.push((sketch, 1)),
        }
    }
    counts.into_iter().filter(|(_, count)| *count > 1).map(|(sketch, _)| sketch).collect()
}

/// `aggregate` with each shared sketch merged once and a projection on top that
/// gives its quantiles, or `None` when no sketch is read twice.
fn share(aggregate: &Aggregate) -> Result<Option<LogicalPlan>> {
    let grouping_sets = aggregate.group_expr.iter().any(|e| matches!(e, Expr::GroupingSet(_)));
    let shared = shared_sketches(aggregate);
    if grouping_sets || shared.is_empty() {
        return Ok(None);
    }
    let is_shared = |expr: &Expr| quantile_of(expr).is_some_and(|(s, _)| shared.contains(&s));
    let merge = sketch_functions::merge();
    let merges: Vec<Expr> =
        shared.iter().map(|sketch| merge.call(vec![(*sketch).clone()])).collect();
    let mut aggr_expr: Vec<Expr> =
        aggregate.aggr_expr.iter().filter(|expr| !is_shared(expr)).cloned().collect();
    for merged in &merges {
        if !aggr_expr.contains(merged) {
            aggr_expr.push(merged.clone());
        }
    }
    let merged_aggregate =
        Aggregate::try_new(aggregate.input.clone(), aggregate.group_expr.clone(), aggr_expr)?;
    let quantile = ScalarUDF::from(QuantileOfMerged::new());
    let groups = aggregate.group_expr.len();
    let mut columns = Vec::with_capacity(aggregate.schema.fields().len());
    for (index, (qualifier, field)) in aggregate.schema.iter().enumerate() {
        let asked = index.checked_sub(groups).map(|nth| &aggregate.aggr_expr[nth]);
        let column = match asked.filter(|expr| is_shared(expr)).and_then(quantile_of) {
            Some((sketch, q)) => {
                let nth = shared.iter().position(|shared| *shared == sketch).unwrap_or_default();
                let merged = Expr::Column(Column::from_name(merges[nth].schema_name().to_string()));
                quantile
                    .call(vec![merged, q.clone()])
                    .alias_qualified(qualifier.cloned(), field.name())
            }
            None => Expr::Column(Column::new(qualifier.cloned(), field.name())),
        };
        columns.push(column);
    }
    let input = Arc::new(LogicalPlan::Aggregate(merged_aggregate));
    Ok(Some(LogicalPlan::Projection(Projection::try_new(columns, input)?)))
}

/// The scalar half of a shared `sketch_quantile`: the quantile of one merged
/// sketch (NULL for NULL, as the aggregate gives for a group of no sketches).
#[derive(Debug, PartialEq, Eq, Hash)]
struct QuantileOfMerged {
    signature: Signature,
}

impl QuantileOfMerged {
    fn new() -> QuantileOfMerged {
        let signatures = [DataType::Float64, DataType::Int64]
            .map(|q| TypeSignature::Exact(vec![DataType::Binary, q]))
            .to_vec();
        QuantileOfMerged { signature: Signature::one_of(signatures, Volatility::Immutable) }
    }
}

impl ScalarUDFImpl for QuantileOfMerged {
    fn name(&self) -> &str {
        "sketch_quantile_of_merged"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let q = match &args.args[1] {
            ColumnarValue::Scalar(q) => match q.cast_to(&DataType::Float64)? {
                ScalarValue::Float64(Some(q)) => check_quantile(QUANTILE_NAME, q)?,
                _ => return exec_err!("{QUANTILE_NAME}: the quantile must be a number"),
            },
            ColumnarValue::Array(_) => {
                return exec_err!("{QUANTILE_NAME}: the quantile must be a constant");
            }
        };
        let sketches: ArrayRef = match &args.args[0] {
            ColumnarValue::Array(array) => cast(array, &DataType::Binary)?,
            ColumnarValue::Scalar(scalar) => scalar.to_array_of_size(args.number_rows)?,
        };
        let quantiles = sketches
            .as_binary::<i32>()
            .iter()
            .map(|bytes| bytes.map_or(Ok(None), |bytes| quantile_of_encoded(bytes, q)))
            .collect::<Result<Vec<Option<f64>>>>()?;
        let quantiles: ArrayRef = Arc::new(Float64Array::from(quantiles));
        debug_assert_eq!(quantiles.len(), args.number_rows);
        Ok(ColumnarValue::Array(quantiles))
    }
}

fn quantile_of_encoded(bytes: &[u8], q: f64) -> Result<Option<f64>> {
    let sketch = LatencySketch::decode(bytes)
        .map_err(|error| DataFusionError::Execution(format!("{QUANTILE_NAME}: {error}")))?;
    Ok(sketch.quantile(q))
}

#[cfg(test)]
#[path = "sketch_sharing_tests.rs"]
mod tests;
