//! What the filters of a scan say about the time column: the [`TimeRange`] of
//! timestamps that can match, so that a partitioned table lists only the
//! `date=/hour=` directories that overlap it. Understood: comparisons (`>`, `>=`,
//! `<`, `<=`, `=`) between the column (possibly cast to another timestamp unit) and
//! a literal (timestamp, date or string; DataFusion's simplifier has already folded
//! `now() - INTERVAL '1 hour'` into one), `BETWEEN`, `IN` lists, `AND` and `OR`.
//! Anything else leaves the range open: pruning is only ever an optimisation, the
//! filters still run on every row read.

use arrow::datatypes::{DataType, TimeUnit};
use datafusion::common::ScalarValue;
use datafusion::logical_expr::{Between, BinaryExpr, Expr, Operator};

/// One hour in microseconds.
pub const MICROS_PER_HOUR: i64 = 3_600_000_000;

/// Inclusive bounds, in microseconds since the epoch (UTC), on the timestamps a scan
/// can return; `None` is unbounded on that side.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TimeRange {
    pub start: Option<i64>,
    pub end: Option<i64>,
}

impl TimeRange {
    /// Every timestamp.
    pub const ALL: TimeRange = TimeRange { start: None, end: None };

    /// The range allowed by all of `filters` (a conjunction) on `column`.
    pub fn from_filters(column: &str, filters: &[Expr]) -> TimeRange {
        filters
            .iter()
            .filter_map(|filter| range_of(column, filter))
            .fold(TimeRange::ALL, TimeRange::intersect)
    }

    /// Timestamps in both ranges.
    pub fn intersect(self, other: TimeRange) -> TimeRange {
        TimeRange { start: max_bound(self.start, other.start), end: min_bound(self.end, other.end) }
    }

    /// The smallest range holding both (for `OR`).
    pub fn hull(self, other: TimeRange) -> TimeRange {
        let start = self.start.zip(other.start).map(|(a, b)| a.min(b));
        let end = self.end.zip(other.end).map(|(a, b)| a.max(b));
        TimeRange { start, end }
    }

    /// Whether no timestamp can match.
    pub fn is_empty(&self) -> bool {
        matches!((self.start, self.end), (Some(start), Some(end)) if start > end)
    }

    /// Whether the half-open span `[from, from + length)` (µs) holds a timestamp of
    /// the range.
    pub fn overlaps(&self, from: i64, length: i64) -> bool {
        let after_start = self.start.is_none_or(|start| from.saturating_add(length) > start);
        let before_end = self.end.is_none_or(|end| from <= end);
        after_start && before_end && !self.is_empty()
    }
}

fn max_bound(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

fn min_bound(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The range a filter allows, or `None` when it does not constrain `column` in a way
/// understood here.
fn range_of(column: &str, filter: &Expr) -> Option<TimeRange> {
    match filter {
        Expr::BinaryExpr(BinaryExpr { left, op: Operator::And, right }) => {
            let left = range_of(column, left).unwrap_or(TimeRange::ALL);
            Some(left.intersect(range_of(column, right).unwrap_or(TimeRange::ALL)))
        }
        Expr::BinaryExpr(BinaryExpr { left, op: Operator::Or, right }) => {
            Some(range_of(column, left)?.hull(range_of(column, right)?))
        }
        Expr::BinaryExpr(BinaryExpr { left, op, right }) => comparison(column, left, *op, right),
        Expr::Between(between) => between_range(column, between),
        Expr::InList(in_list) if !in_list.negated && is_column(column, &in_list.expr) => in_list
            .list
            .iter()
            .map(|item| comparison_with(Operator::Eq, literal_nanos(item)?))
            .reduce(|a, b| Some(a?.hull(b?)))
            .flatten(),
        _ => None,
    }
}

fn comparison(column: &str, left: &Expr, op: Operator, right: &Expr) -> Option<TimeRange> {
    if is_column(column, left) {
        return comparison_with(op, literal_nanos(right)?);
    }
    if is_column(column, right) {
        return comparison_with(op.swap()?, literal_nanos(left)?);
    }
    None
}

fn between_range(column: &str, between: &Between) -> Option<TimeRange> {
    if between.negated || !is_column(column, &between.expr) {
        return None;
    }
    let low = comparison_with(Operator::GtEq, literal_nanos(&between.low)?)?;
    Some(low.intersect(comparison_with(Operator::LtEq, literal_nanos(&between.high)?)?))
}

/// The range of µs timestamps `t` with `t <op> nanos`.
fn comparison_with(op: Operator, nanos: i64) -> Option<TimeRange> {
    let floor = nanos.div_euclid(1_000);
    let exact = nanos.rem_euclid(1_000) == 0;
    let (start, end) = match op {
        Operator::Eq if exact => (Some(floor), Some(floor)),
        Operator::Eq => (Some(floor + 1), Some(floor)),
        Operator::Gt => (Some(floor + 1), None),
        Operator::GtEq => (Some(if exact { floor } else { floor + 1 }), None),
        Operator::Lt => (None, Some(if exact { floor - 1 } else { floor })),
        Operator::LtEq => (None, Some(floor)),
        _ => return None,
    };
    Some(TimeRange { start, end })
}

/// Whether `expr` is `column`, possibly cast to a timestamp type that keeps every
/// microsecond (so comparing the cast compares the column).
fn is_column(column: &str, expr: &Expr) -> bool {
    match expr {
        Expr::Column(found) => found.name == column,
        Expr::Cast(cast) => {
            lossless_timestamp(cast.field.data_type()) && is_column(column, &cast.expr)
        }
        Expr::TryCast(cast) => {
            lossless_timestamp(cast.field.data_type()) && is_column(column, &cast.expr)
        }
        _ => false,
    }
}

fn lossless_timestamp(data_type: &DataType) -> bool {
    matches!(data_type, DataType::Timestamp(TimeUnit::Microsecond | TimeUnit::Nanosecond, _))
}

/// The instant a literal stands for, in nanoseconds since the epoch (UTC), read as
/// DataFusion reads it when comparing with a UTC timestamp.
fn literal_nanos(expr: &Expr) -> Option<i64> {
    let scalar = match expr {
        Expr::Literal(scalar, _) => scalar,
        Expr::Cast(cast) if lossless_timestamp(cast.field.data_type()) => {
            return literal_nanos(&cast.expr);
        }
        _ => return None,
    };
    let target = DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into()));
    match scalar.cast_to(&target).ok()? {
        ScalarValue::TimestampNanosecond(nanos, _) => nanos,
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use datafusion::prelude::{col, lit};

    use super::*;

    fn ts(text: &str) -> Expr {
        lit(ScalarValue::TimestampMicrosecond(Some(micros(text)), Some("UTC".into())))
    }

    fn micros(text: &str) -> i64 {
        chrono::DateTime::parse_from_rfc3339(text).map(|time| time.timestamp_micros()).unwrap()
    }

    fn range(filters: &[Expr]) -> TimeRange {
        TimeRange::from_filters("ts", filters)
    }

    #[test]
    fn half_open_interval_from_two_comparisons() {
        let from = "2026-11-01T10:00:00Z";
        let to = "2026-11-01T11:00:00Z";
        let found = range(&[col("ts").gt_eq(ts(from)), col("ts").lt(ts(to))]);
        assert_eq!(found.start, Some(micros(from)));
        assert_eq!(found.end, Some(micros(to) - 1));
        assert!(found.overlaps(micros(from), MICROS_PER_HOUR));
        assert!(!found.overlaps(micros(to), MICROS_PER_HOUR));
        assert!(!found.overlaps(micros(from) - MICROS_PER_HOUR, MICROS_PER_HOUR));
    }

    #[test]
    fn literal_on_the_left_and_strings() {
        let found = range(&[lit("2026-11-01T10:30:00Z").lt_eq(col("ts"))]);
        assert_eq!(found, TimeRange { start: Some(micros("2026-11-01T10:30:00Z")), end: None });
    }

    #[test]
    fn between_in_list_or_and_cast() {
        let a = "2026-11-01T10:00:00Z";
        let b = "2026-11-01T12:00:00Z";
        let between = col("ts").between(ts(a), ts(b));
        assert_eq!(range(&[between]), TimeRange { start: Some(micros(a)), end: Some(micros(b)) });
        let listed = col("ts").in_list(vec![ts(b), ts(a)], false);
        assert_eq!(range(&[listed]), TimeRange { start: Some(micros(a)), end: Some(micros(b)) });
        let either = col("ts").eq(ts(a)).or(col("ts").eq(ts(b)));
        assert_eq!(range(&[either]).start, Some(micros(a)));
        let nanos = DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into()));
        let cast = datafusion::prelude::cast(col("ts"), nanos).gt(ts(a));
        assert_eq!(range(&[cast]).start, Some(micros(a) + 1));
    }

    #[test]
    fn unknown_filters_leave_the_range_open() {
        let other = col("service").eq(lit("frontend"));
        let half_known = col("ts").gt(ts("2026-11-01T10:00:00Z")).or(other.clone());
        assert_eq!(range(&[other, half_known]), TimeRange::ALL);
        assert_eq!(range(&[col("ts_ingested").gt(ts("2026-11-01T10:00:00Z"))]), TimeRange::ALL);
    }

    #[test]
    fn contradictory_filters_are_empty() {
        let found = range(&[
            col("ts").gt(ts("2026-11-01T12:00:00Z")),
            col("ts").lt(ts("2026-11-01T10:00:00Z")),
        ]);
        assert!(found.is_empty());
        assert!(!found.overlaps(micros("2026-11-01T11:00:00Z"), MICROS_PER_HOUR));
    }
}
