//! The SQL functions over the rollups' latency sketches (`duration_ms_sketch`, see
//! `analytics::rollup::sketch`), all aggregates:
//! - `sketch_quantile(sketch, q)`: the `q` quantile (0 ≤ q ≤ 1, a constant) of every
//!   value in the sketches of the group, as `percentile_cont` would give it over the
//!   raw rows: equal below 128 ms, within 1/128 above;
//! - `sketch_merge(sketch)`: the sketches of the group merged into one;
//! - `sketch_of(duration_ms)`: a sketch of raw values (to roll up further in SQL).
//!
//! A value that is not a sketch is an error naming the function, never a guess.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, BinaryArray, BooleanArray, Float64Array};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field, FieldRef, Int64Type, Schema};
use datafusion::common::{ScalarValue, exec_err, plan_err};
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::format_state_name;
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, ColumnarValue, EmitTo, GroupsAccumulator,
    Signature, TypeSignature, Volatility,
};
use datafusion::physical_plan::PhysicalExpr;

use crate::analytics::rollup::sketch::LatencySketch;

/// What a sketch function returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    /// `sketch_of`: a sketch of raw values.
    Of,
    /// `sketch_merge`: sketches merged.
    Merge,
    /// `sketch_quantile`: a quantile of sketches.
    Quantile,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Of => "sketch_of",
            Kind::Merge => "sketch_merge",
            Kind::Quantile => QUANTILE_NAME,
        }
    }
}

/// One of the three functions.
#[derive(Debug, PartialEq, Eq, Hash)]
struct SketchFunction {
    kind: Kind,
    signature: Signature,
}

/// The name of `sketch_quantile`.
pub const QUANTILE_NAME: &str = "sketch_quantile";

/// The three functions, to register with a session.
pub fn all() -> [AggregateUDF; 3] {
    [Kind::Of, Kind::Merge, Kind::Quantile].map(function)
}

/// `sketch_merge`.
pub fn merge() -> AggregateUDF {
    function(Kind::Merge)
}

fn function(kind: Kind) -> AggregateUDF {
    let signature = signature(kind);
    AggregateUDF::from(SketchFunction { kind, signature })
}

fn signature(kind: Kind) -> Signature {
    let sketches = [DataType::Binary, DataType::BinaryView, DataType::LargeBinary];
    let signatures = match kind {
        Kind::Of => vec![TypeSignature::Exact(vec![DataType::Int64])],
        Kind::Merge => sketches.map(|sketch| TypeSignature::Exact(vec![sketch])).to_vec(),
        Kind::Quantile => sketches
            .into_iter()
            .flat_map(|sketch| {
                [DataType::Float64, DataType::Int64]
                    .map(|q| TypeSignature::Exact(vec![sketch.clone(), q]))
            })
            .collect(),
    };
    Signature::one_of(signatures, Volatility::Immutable)
}

impl AggregateUDFImpl for SketchFunction {
    fn name(&self) -> &str {
        self.kind.name()
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(match self.kind {
            Kind::Of | Kind::Merge => DataType::Binary,
            Kind::Quantile => DataType::Float64,
        })
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        let quantile = match self.kind {
            Kind::Quantile => Some(constant_quantile(self.name(), &args.exprs[1])?),
            Kind::Of | Kind::Merge => None,
        };
        let sketch = LatencySketch::default();
        Ok(Box::new(SketchAccumulator {
            name: self.kind.name(),
            kind: self.kind,
            quantile,
            sketch,
        }))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        let name = format_state_name(args.name, "sketch");
        Ok(vec![Arc::new(Field::new(name, DataType::Binary, true))])
    }

    fn groups_accumulator_supported(&self, _args: AccumulatorArgs) -> bool {
        true
    }

    fn create_groups_accumulator(
        &self,
        args: AccumulatorArgs,
    ) -> Result<Box<dyn GroupsAccumulator>> {
        let quantile = match self.kind {
            Kind::Quantile => Some(constant_quantile(self.name(), &args.exprs[1])?),
            Kind::Of | Kind::Merge => None,
        };
        let name = self.kind.name();
        Ok(Box::new(SketchGroups { name, kind: self.kind, quantile, sketches: Vec::new() }))
    }
}

/// Every group's sketch, for `GROUP BY` (one call per batch, not per group).
#[derive(Debug)]
struct SketchGroups {
    name: &'static str,
    kind: Kind,
    quantile: Option<f64>,
    sketches: Vec<LatencySketch>,
}

impl SketchGroups {
    fn merge_rows(
        &mut self,
        sketches: &ArrayRef,
        group_indices: &[usize],
        opt_filter: Option<&BooleanArray>,
    ) -> Result<()> {
        let sketches = cast(sketches, &DataType::Binary)?;
        for (row, bytes) in sketches.as_binary::<i32>().iter().enumerate() {
            let (Some(bytes), true) = (bytes, kept(opt_filter, row)) else { continue };
            self.sketches[group_indices[row]]
                .merge_encoded(bytes)
                .map_err(|error| DataFusionError::Execution(format!("{}: {error}", self.name)))?;
        }
        Ok(())
    }
}

/// Whether the filter keeps `row` (no filter keeps all).
fn kept(filter: Option<&BooleanArray>, row: usize) -> bool {
    filter.is_none_or(|filter| filter.is_valid(row) && filter.value(row))
}

/// Sketches as a column (NULL for an empty one).
fn encoded_column(sketches: &[LatencySketch]) -> ArrayRef {
    let encoded = sketches.iter().map(|sketch| (!sketch.is_empty()).then(|| sketch.encode()));
    Arc::new(encoded.collect::<BinaryArray>())
}

impl GroupsAccumulator for SketchGroups {
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        opt_filter: Option<&BooleanArray>,
        total_num_groups: usize,
    ) -> Result<()> {
        self.sketches.resize_with(total_num_groups, LatencySketch::default);
        if self.kind != Kind::Of {
            return self.merge_rows(&values[0], group_indices, opt_filter);
        }
        let values = values[0].as_primitive_opt::<Int64Type>().ok_or_else(|| {
            DataFusionError::Execution(format!("{}: values must be BIGINT", self.name))
        })?;
        for (row, value) in values.iter().enumerate() {
            if let (Some(value), true) = (value, kept(opt_filter, row)) {
                self.sketches[group_indices[row]].add(value);
            }
        }
        Ok(())
    }

    fn evaluate(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        let sketches = emit_to.take_needed(&mut self.sketches);
        Ok(match self.quantile {
            Some(q) => {
                Arc::new(sketches.iter().map(|sketch| sketch.quantile(q)).collect::<Float64Array>())
            }
            None => encoded_column(&sketches),
        })
    }

    fn state(&mut self, emit_to: EmitTo) -> Result<Vec<ArrayRef>> {
        Ok(vec![encoded_column(&emit_to.take_needed(&mut self.sketches))])
    }

    fn merge_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        total_num_groups: usize,
    ) -> Result<()> {
        self.sketches.resize_with(total_num_groups, LatencySketch::default);
        self.merge_rows(&values[0], group_indices, None)
    }

    fn convert_to_state(
        &self,
        values: &[ArrayRef],
        opt_filter: Option<&BooleanArray>,
    ) -> Result<Vec<ArrayRef>> {
        let mut states = Vec::with_capacity(values[0].len());
        if self.kind == Kind::Of {
            let values = values[0].as_primitive_opt::<Int64Type>().ok_or_else(|| {
                DataFusionError::Execution(format!("{}: values must be BIGINT", self.name))
            })?;
            for (row, value) in values.iter().enumerate() {
                let mut sketch = LatencySketch::default();
                if let (Some(value), true) = (value, kept(opt_filter, row)) {
                    sketch.add(value);
                }
                states.push(sketch);
            }
            return Ok(vec![encoded_column(&states)]);
        }
        let sketches = cast(&values[0], &DataType::Binary)?;
        let kept_rows = sketches
            .as_binary::<i32>()
            .iter()
            .enumerate()
            .map(|(row, bytes)| bytes.filter(|_| kept(opt_filter, row)));
        Ok(vec![Arc::new(kept_rows.collect::<BinaryArray>())])
    }

    fn size(&self) -> usize {
        let heap: usize = self.sketches.iter().map(LatencySketch::heap_bytes).sum();
        heap + self.sketches.capacity() * size_of::<LatencySketch>()
    }
}

/// `q`, which must be a constant from 0 to 1.
fn constant_quantile(function: &str, expr: &Arc<dyn PhysicalExpr>) -> Result<f64> {
    let empty = arrow::array::RecordBatch::new_empty(Arc::new(Schema::empty()));
    let value = match expr.evaluate(&empty) {
        Ok(ColumnarValue::Scalar(value)) => value,
        _ => return plan_err!("{function}: the quantile must be a constant"),
    };
    match value.cast_to(&DataType::Float64)? {
        ScalarValue::Float64(Some(q)) => check_quantile(function, q),
        _ => plan_err!("{function}: the quantile must be a number"),
    }
}

/// `q` if it is from 0 to 1.
pub fn check_quantile(function: &str, q: f64) -> Result<f64> {
    if !(0.0..=1.0).contains(&q) {
        return plan_err!("{function}: the quantile must be between 0 and 1, not {q}");
    }
    Ok(q)
}

/// The sketch of a group so far.
#[derive(Debug)]
struct SketchAccumulator {
    name: &'static str,
    kind: Kind,
    quantile: Option<f64>,
    sketch: LatencySketch,
}

impl SketchAccumulator {
    fn merge_sketches(&mut self, sketches: &ArrayRef) -> Result<()> {
        let name = self.name;
        let sketch = &mut self.sketch;
        let merge = |bytes: &[u8]| -> Result<()> {
            sketch
                .merge_encoded(bytes)
                .map_err(|error| DataFusionError::Execution(format!("{name}: {error}")))
        };
        match sketches.data_type() {
            DataType::Binary => sketches.as_binary::<i32>().iter().flatten().try_for_each(merge),
            DataType::LargeBinary => {
                sketches.as_binary::<i64>().iter().flatten().try_for_each(merge)
            }
            DataType::BinaryView => sketches.as_binary_view().iter().flatten().try_for_each(merge),
            other => exec_err!("{name}: a sketch is binary, not {other}"),
        }
    }

    fn encoded(&self) -> ScalarValue {
        ScalarValue::Binary((!self.sketch.is_empty()).then(|| self.sketch.encode()))
    }
}

impl Accumulator for SketchAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        match self.kind {
            Kind::Of => {
                let values = values[0].as_primitive_opt::<Int64Type>().ok_or_else(|| {
                    DataFusionError::Execution(format!("{}: values must be BIGINT", self.name))
                })?;
                values.iter().flatten().for_each(|value| self.sketch.add(value));
                Ok(())
            }
            Kind::Merge | Kind::Quantile => self.merge_sketches(&values[0]),
        }
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        Ok(match self.quantile {
            Some(q) => ScalarValue::Float64(self.sketch.quantile(q)),
            None => self.encoded(),
        })
    }

    fn size(&self) -> usize {
        size_of::<Self>() + self.sketch.heap_bytes()
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![self.encoded()])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        self.merge_sketches(&states[0])
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use arrow::util::pretty::pretty_format_batches;
    use datafusion::prelude::SessionContext;

    use super::*;
    use crate::query::tests::runtime;

    fn answer(sql: &str) -> Result<String> {
        let ctx = SessionContext::new();
        all().into_iter().for_each(|function| ctx.register_udaf(function));
        runtime().block_on(async {
            let batches = ctx.sql(sql).await?.collect().await?;
            Ok(pretty_format_batches(&batches)?.to_string())
        })
    }

    const VALUES: &str = "(VALUES (1, 3), (1, 9), (1, 20), (2, 700), (2, 1200), (2, 50000))";

    #[test]
    fn quantiles_of_merged_sketches_match_percentile_cont_within_the_bound() {
        let sql = format!(
            "SELECT sketch_quantile(s, 0.5) AS median, sketch_quantile(s, 1) AS max, \
             sketch_quantile(s, 0) AS min FROM (SELECT column1, sketch_of(column2) AS s \
             FROM {VALUES} GROUP BY column1)"
        );
        let shown = answer(&sql).unwrap();
        // percentile_cont(0.5) = (20 + 700) / 2 = 360; 700 is read as its bucket's
        // middle, 699.5 (the bucket 696..=703).
        assert!(shown.contains("| 359.75 | 50000.0 | 3.0 |"), "{shown}");
        let merged = format!(
            "SELECT sketch_quantile(m, 0.5) AS median FROM (SELECT sketch_merge(s) AS m FROM \
             (SELECT column1, sketch_of(column2) AS s FROM {VALUES} GROUP BY column1))"
        );
        assert!(answer(&merged).unwrap().contains("| 359.75 |"));
    }

    #[test]
    fn grouped_quantiles_are_each_groups_own() {
        let sql = format!(
            "SELECT column1, sketch_quantile(s, 0.5) AS median FROM (SELECT column1, \
             sketch_of(column2) AS s FROM {VALUES} GROUP BY column1) GROUP BY column1 ORDER BY 1"
        );
        let shown = answer(&sql).unwrap();
        // 9 exactly; 1200 as the middle of its bucket 1200..=1215.
        assert!(shown.contains("| 1       | 9.0    |"), "{shown}");
        assert!(shown.contains("| 2       | 1207.5 |"), "{shown}");
    }

    #[test]
    fn a_bad_quantile_or_a_value_that_is_no_sketch_is_an_error() {
        let of_one = "(SELECT sketch_of(CAST(1 AS BIGINT)) AS s)";
        let error = answer(&format!("SELECT sketch_quantile(s, 1.5) FROM {of_one}")).unwrap_err();
        assert!(error.to_string().contains("between 0 and 1"), "{error}");
        let error = answer("SELECT sketch_quantile(CAST('x' AS BYTEA), 0.5)").unwrap_err();
        assert!(error.to_string().contains("not a meshlog latency sketch"), "{error}");
        let nothing = "(SELECT sketch_of(CAST(NULL AS BIGINT)) AS s)";
        let empty = answer(&format!("SELECT sketch_quantile(s, 0.5) IS NULL AS q FROM {nothing}"));
        assert!(empty.unwrap().contains("| true |"));
    }
}
