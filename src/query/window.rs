//! `--since` / `--until`: the time window a query is limited to. Each bound is an
//! instant in RFC 3339 (`2026-11-01T10:00:00Z`, `2026-11-01T12:00:00+02:00`), a date
//! (`2026-11-01`, midnight UTC), `now`, or how long ago (`30m`, `1h`, `1h30m`, `2d`,
//! counted back from one "now" taken when the query starts). The window is half-open,
//! `[since, until)`; either side may be left open. [`TimeWindow::rows`] and
//! [`TimeWindow::spans`] are the filters every table is read through (see
//! `QueryEngine::open_window`), so that any query, named or not, sees only the window,
//! and the filters on `ts` prune `date=/hour=` directories as a `WHERE` would.

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use datafusion::common::ScalarValue;
use datafusion::logical_expr::Expr;
use datafusion::logical_expr::utils::conjunction;
use datafusion::prelude::{col, lit};

use super::QueryError;
use crate::config::parse_duration_s;

/// Bounds in microseconds since the epoch (UTC): from `since` (inclusive) to `until`
/// (exclusive); `None` leaves that side open.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TimeWindow {
    pub since: Option<i64>,
    pub until: Option<i64>,
}

impl TimeWindow {
    /// No limit.
    pub const ALL: TimeWindow = TimeWindow { since: None, until: None };

    /// The window of `--since` and `--until`, relative forms counted back from `now`.
    pub fn parse(
        since: Option<&str>,
        until: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<TimeWindow, QueryError> {
        let since = since.map(|text| instant("--since", text, now)).transpose()?;
        let until = until.map(|text| instant("--until", text, now)).transpose()?;
        if let (Some(from), Some(to)) = (since, until)
            && from >= to
        {
            return Err(QueryError::EmptyWindow { since: rfc3339(from), until: rfc3339(to) });
        }
        Ok(TimeWindow { since, until })
    }

    /// Whether the window leaves everything in.
    pub fn is_all(&self) -> bool {
        self.since.is_none() && self.until.is_none()
    }

    /// The filter keeping rows whose `column` (a timestamp) lies in the window.
    pub fn rows(&self, column: &str) -> Option<Expr> {
        let from = self.since.map(|at| col(column).gt_eq(timestamp(at)));
        let to = self.until.map(|at| col(column).lt(timestamp(at)));
        conjunction(from.into_iter().chain(to))
    }

    /// The filter keeping spans from `start` to `end` (NULL while still open) that
    /// overlap the window: they start before its end and end at or after its start.
    pub fn spans(&self, start: &str, end: &str) -> Option<Expr> {
        let ends_in = self.since.map(|at| col(end).is_null().or(col(end).gt_eq(timestamp(at))));
        let starts_in = self.until.map(|at| col(start).lt(timestamp(at)));
        conjunction(starts_in.into_iter().chain(ends_in))
    }
}

/// A UTC timestamp literal, typed as the tables' time columns are.
fn timestamp(micros: i64) -> Expr {
    lit(ScalarValue::TimestampMicrosecond(Some(micros), Some("UTC".into())))
}

/// The instant `text` stands for, in µs since the epoch.
fn instant(flag: &'static str, text: &str, now: DateTime<Utc>) -> Result<i64, QueryError> {
    let text = text.trim();
    let bad = || QueryError::BadTime { flag, value: text.to_owned() };
    if text == "now" {
        return Ok(now.timestamp_micros());
    }
    if let Ok(time) = DateTime::parse_from_rfc3339(text) {
        return Ok(time.timestamp_micros());
    }
    if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        let midnight = date.and_hms_opt(0, 0, 0).ok_or_else(bad)?;
        return Ok(midnight.and_utc().timestamp_micros());
    }
    let seconds = parse_duration_s(text).ok_or_else(bad)?;
    Ok(now.timestamp_micros() - i64::from(seconds) * 1_000_000)
}

/// An instant for messages.
fn rfc3339(micros: i64) -> String {
    let time = DateTime::<Utc>::from_timestamp_micros(micros).unwrap_or_default();
    time.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-01T12:00:00Z").unwrap().with_timezone(&Utc)
    }

    fn micros(text: &str) -> i64 {
        DateTime::parse_from_rfc3339(text).unwrap().timestamp_micros()
    }

    fn window(since: Option<&str>, until: Option<&str>) -> Result<TimeWindow, QueryError> {
        TimeWindow::parse(since, until, now())
    }

    #[test]
    fn absolute_dates_and_relative_bounds() {
        let found = window(Some("2026-11-01T11:00:00+01:00"), Some("2026-11-02")).unwrap();
        assert_eq!(found.since, Some(micros("2026-11-01T10:00:00Z")));
        assert_eq!(found.until, Some(micros("2026-11-02T00:00:00Z")));
        let relative = window(Some("1h30m"), Some("30m")).unwrap();
        assert_eq!(relative.since, Some(micros("2026-11-01T10:30:00Z")));
        assert_eq!(relative.until, Some(micros("2026-11-01T11:30:00Z")));
        let days = window(Some("2d"), Some("now")).unwrap();
        assert_eq!(days.since, Some(micros("2026-10-30T12:00:00Z")));
        assert_eq!(days.until, Some(micros("2026-11-01T12:00:00Z")));
        assert!(window(None, None).unwrap().is_all());
        assert!(window(Some("2026-11-01T10:00:00.5Z"), None).is_ok());
    }

    #[test]
    fn bad_times_and_empty_windows_are_refused() {
        for text in ["yesterday", "10", "-1h", "2026-13-01", "2026-11-01T10:00:00", "1.5h"] {
            let error = window(Some(text), None).unwrap_err();
            assert!(matches!(error, QueryError::BadTime { flag: "--since", .. }), "{text}");
            assert_eq!(error.exit_code(), 2);
        }
        let error = window(Some("1h"), Some("2h")).unwrap_err().to_string();
        assert_eq!(
            error,
            "--since 2026-11-01T11:00:00Z is not before --until 2026-11-01T10:00:00Z: the window \
             is empty"
        );
        assert!(window(Some("now"), Some("now")).is_err());
    }

    #[test]
    fn filters_for_rows_and_spans() {
        let both = window(Some("2026-11-01T10:00:00Z"), Some("2026-11-01T11:00:00Z")).unwrap();
        let rows = both.rows("ts").unwrap().to_string();
        assert_eq!(
            rows,
            "ts >= TimestampMicrosecond(1793527200000000, Some(\"UTC\")) \
             AND ts < TimestampMicrosecond(1793530800000000, Some(\"UTC\"))"
        );
        let spans = both.spans("started_at", "ended_at").unwrap().to_string();
        assert_eq!(
            spans,
            "started_at < TimestampMicrosecond(1793530800000000, Some(\"UTC\")) \
             AND (ended_at IS NULL OR ended_at >= TimestampMicrosecond(1793527200000000, Some(\"UTC\")))"
        );
        assert!(TimeWindow::ALL.rows("ts").is_none());
        assert!(TimeWindow::ALL.spans("started_at", "ended_at").is_none());
    }
}
