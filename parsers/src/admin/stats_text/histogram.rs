//! The value part of a `/stats` histogram line, read into one sample per percentile or
//! bucket. Envoy prints `P<percent>(<interval>,<cumulative>)` tokens by default and
//! `B<upper bound>(<interval>,<cumulative>)` tokens with `?histogram_buckets=cumulative`
//! or `disjoint`; the pair is the value over the last flush interval and since the
//! proxy started. This file owns the naming, chosen so that a histogram reads the same
//! as Envoy's Prometheus output:
//!
//! - `P50(nan,2.05)` → suffix `{quantile="0.5"}` (the percent moved two places, as
//!   decimal text: `P99.9` → `0.999`, `P100` → `1`), value 2.05;
//! - `B0.5(0,3)` → suffix `_bucket{le="0.5"}` (the bound as a plain number: `B1.8e+06`
//!   → `1800000`), value 3;
//!
//! always the cumulative value; `nan` is `None`. A disjoint dump cannot be told from a
//! cumulative one by its text, so its per-bucket counts come out under the same
//! `_bucket` names; scrape with `histogram_buckets=cumulative`.

/// One percentile or bucket of a histogram line.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct HistogramPoint {
    /// What follows the stat name: `{quantile="0.5"}` or `_bucket{le="0.5"}`.
    pub suffix: String,
    /// The cumulative value; `None` for `nan`.
    pub value: Option<f64>,
}

/// Whether `value` is meant as a histogram summary (`P…(` or `B…(`), right or wrong.
pub(crate) fn looks_like_histogram(value: &str) -> bool {
    matches!(value.as_bytes(), [b'P' | b'B', second, ..] if second.is_ascii_digit() || *second == b'.')
        && value.contains('(')
}

/// Every token of a `P…`/`B…` summary, or the first token that makes no sense.
pub(crate) fn parse_points(value: &str) -> Result<Vec<HistogramPoint>, String> {
    value
        .split_ascii_whitespace()
        .map(|token| parse_token(token).ok_or_else(|| format!("bad histogram token {token:?}")))
        .collect()
}

/// `P<percent>(<interval>,<cumulative>)` or `B<bound>(<interval>,<cumulative>)`.
fn parse_token(token: &str) -> Option<HistogramPoint> {
    let (label, pair) = token.split_once('(')?;
    let pair = pair.strip_suffix(')')?;
    let (interval, cumulative) = pair.split_once(',')?;
    interval.parse::<f64>().ok()?;
    let cumulative = cumulative.parse::<f64>().ok()?;
    let suffix = if let Some(percent) = label.strip_prefix('P') {
        format!("{{quantile=\"{}\"}}", percent_to_quantile(percent)?)
    } else {
        format!("_bucket{{le=\"{}\"}}", bucket_bound(label.strip_prefix('B')?)?)
    };
    Some(HistogramPoint { suffix, value: Some(cumulative).filter(|value| !value.is_nan()) })
}

/// `99.5` → `0.995`, `100` → `1`, `0` → `0`: the decimal point moved left by two.
fn percent_to_quantile(percent: &str) -> Option<String> {
    let (int, frac) = percent.split_once('.').unwrap_or((percent, ""));
    if !is_digits(int) || !(frac.is_empty() || is_digits(frac)) {
        return scaled_fallback(percent);
    }
    let int = int.trim_start_matches('0');
    let split = int.len().saturating_sub(2);
    let (whole, hundredths) = int.split_at(split);
    let fraction = format!("{hundredths:0>2}{frac}");
    let fraction = fraction.trim_end_matches('0');
    let whole = if whole.is_empty() { "0" } else { whole };
    Some(if fraction.is_empty() { whole.to_owned() } else { format!("{whole}.{fraction}") })
}

/// A percent Envoy printed in exponent form (`1e+02`): divided as a float.
fn scaled_fallback(percent: &str) -> Option<String> {
    let value = percent.parse::<f64>().ok().filter(|value| value.is_finite())?;
    Some(format_number(value / 100.0))
}

/// `1.8e+06` → `1800000`, as Envoy's Prometheus output writes `le`.
fn bucket_bound(bound: &str) -> Option<String> {
    let value = bound.parse::<f64>().ok().filter(|value| !value.is_nan())?;
    Some(format_number(value))
}

fn format_number(value: f64) -> String {
    if value.is_infinite() {
        return if value > 0.0 { "+Inf".to_owned() } else { "-Inf".to_owned() };
    }
    format!("{value}")
}

fn is_digits(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn points(value: &str) -> Vec<(String, Option<f64>)> {
        parse_points(value).unwrap().into_iter().map(|p| (p.suffix, p.value)).collect()
    }

    #[test]
    fn percentiles_use_the_cumulative_value() {
        assert_eq!(
            points("P0(nan,1) P25(nan,2.05) P50(3,3.5) P99.5(nan,nan) P100(nan,120)"),
            vec![
                ("{quantile=\"0\"}".to_owned(), Some(1.0)),
                ("{quantile=\"0.25\"}".to_owned(), Some(2.05)),
                ("{quantile=\"0.5\"}".to_owned(), Some(3.5)),
                ("{quantile=\"0.995\"}".to_owned(), None),
                ("{quantile=\"1\"}".to_owned(), Some(120.0)),
            ]
        );
    }

    #[test]
    fn buckets_are_named_like_prometheus() {
        assert_eq!(
            points("B0.5(0,0) B1(0,1) B250(1,7) B1.8e+06(3,9)"),
            vec![
                ("_bucket{le=\"0.5\"}".to_owned(), Some(0.0)),
                ("_bucket{le=\"1\"}".to_owned(), Some(1.0)),
                ("_bucket{le=\"250\"}".to_owned(), Some(7.0)),
                ("_bucket{le=\"1800000\"}".to_owned(), Some(9.0)),
            ]
        );
    }

    #[test]
    fn quantile_text() {
        for (percent, quantile) in [
            ("0", "0"),
            ("5", "0.05"),
            ("25", "0.25"),
            ("50", "0.5"),
            ("90", "0.9"),
            ("99", "0.99"),
            ("99.9", "0.999"),
            ("99.99", "0.9999"),
            ("100", "1"),
            ("0.1", "0.001"),
            ("007", "0.07"),
            ("1e+02", "1"),
        ] {
            assert_eq!(percent_to_quantile(percent).as_deref(), Some(quantile), "{percent}");
        }
        assert_eq!(percent_to_quantile(""), None);
        assert_eq!(percent_to_quantile("x"), None);
    }

    #[test]
    fn bad_tokens_are_errors() {
        for value in
            ["P50", "P50(1,2", "P50(1)", "P50(a,2)", "Px(1,2)", "B(1,2)", "Bnan(1,2)", "Q1(1,2)"]
        {
            assert!(parse_points(value).is_err(), "{value}");
        }
    }

    #[test]
    fn detection() {
        assert!(looks_like_histogram("P0(nan,1)"));
        assert!(looks_like_histogram("B0.5(0,0)"));
        assert!(looks_like_histogram("B.5(0,0)"));
        assert!(!looks_like_histogram("Banana"));
        assert!(!looks_like_histogram("P"));
        assert!(!looks_like_histogram("12"));
    }
}
