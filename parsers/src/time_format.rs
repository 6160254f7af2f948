//! Timestamps and Envoy's `%START_TIME(...)%` formats. This module owns [`Timestamp`]
//! (microseconds since the Unix epoch, UTC), its civil-time conversions (proleptic
//! Gregorian, Howard Hinnant's `days_from_civil` / `civil_from_days`), RFC 3339 text, and
//! [`TimeFormat`]: an abseil `FormatTime` spec with Envoy's extensions (`%s`, `%f`,
//! `%1f`..`%9f`), compiled once into items, then rendered and parsed without allocating.
//! The default `%START_TIME%` spec has a fixed-position fast path. Everything is UTC, and
//! nothing here panics on any input: out-of-range text is `None`, never an overflow.
//!
//! This file holds the public types and their methods; the work is in the submodules:
//! `civil` (calendar arithmetic and names), `item` (the compiled form and the built-in
//! item lists), `compile` (spec → items), `render` (timestamp → text) and `parse`
//! (text → timestamp, with the fast paths).

mod civil;
mod compile;
mod item;
mod parse;
mod render;

use std::fmt;

use civil::{
    EPOCH_WEEKDAY, MICROS_PER_DAY, MICROS_PER_SEC, civil_from_days, days_from_civil, days_in_month,
    from_parts,
};
use item::{ENVOY_DEFAULT_ITEMS, Item, RFC3339, RFC3339_MICROS};
use parse::{parse_envoy_default, parse_items, parse_rfc3339_utc};
use render::render_items;

/// Microseconds since the Unix epoch, UTC.
///
/// ```
/// use meshlog_parsers::Timestamp;
/// let ts = Timestamp::parse_rfc3339("2016-10-06T00:17:09.669794202Z").unwrap();
/// assert_eq!(ts.to_rfc3339(), "2016-10-06T00:17:09.669794Z");
/// let civil = Timestamp::from_civil(1970, 1, 1, 0, 0, 1, 500);
/// assert_eq!(civil, Some(Timestamp::from_micros(1_000_500)));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

/// A [`Timestamp`] split into UTC calendar fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Civil {
    /// Proleptic Gregorian year; year 0 is 1 BC, and it may be negative.
    pub year: i32,
    /// 1–12.
    pub month: u32,
    /// 1–31.
    pub day: u32,
    /// 0–23.
    pub hour: u32,
    /// 0–59.
    pub minute: u32,
    /// 0–59.
    pub second: u32,
    /// 0–999 999.
    pub micros: u32,
    /// 0 = Sunday … 6 = Saturday.
    pub weekday: u32,
    /// 1–366.
    pub day_of_year: u32,
}

impl Timestamp {
    /// 1970-01-01T00:00:00Z.
    pub const EPOCH: Timestamp = Timestamp(0);

    /// The instant `micros` microseconds after the epoch (before it when negative).
    pub fn from_micros(micros: i64) -> Timestamp {
        Timestamp(micros)
    }

    /// Microseconds since the epoch.
    pub fn micros(self) -> i64 {
        self.0
    }

    /// The instant at a UTC calendar time, or `None` when a field is out of range
    /// (month 1–12, day within that month, hour 0–23, minute and second 0–59, micros
    /// below 1 000 000) or the instant does not fit in an `i64` of microseconds.
    pub fn from_civil(
        year: i32,
        month: u32,
        day: u32,
        hour: u32,
        minute: u32,
        second: u32,
        micros: u32,
    ) -> Option<Timestamp> {
        let year = i64::from(year);
        let date_ok = (1..=12).contains(&month) && day >= 1 && day <= days_in_month(year, month);
        let time_ok = hour < 24 && minute < 60 && second < 60 && micros < 1_000_000;
        if !(date_ok && time_ok) {
            return None;
        }
        let secs = i64::from(hour * 3600 + minute * 60 + second);
        from_parts(days_from_civil(year, month, day), secs, i64::from(micros))
    }

    /// The UTC calendar fields of this instant.
    pub fn to_civil(self) -> Civil {
        let days = self.0.div_euclid(MICROS_PER_DAY);
        let micros_of_day = self.0.rem_euclid(MICROS_PER_DAY);
        let secs_of_day = micros_of_day / MICROS_PER_SEC;
        let (year, month, day) = civil_from_days(days);
        Civil {
            year: year as i32,
            month,
            day,
            hour: (secs_of_day / 3600) as u32,
            minute: (secs_of_day / 60 % 60) as u32,
            second: (secs_of_day % 60) as u32,
            micros: (micros_of_day % MICROS_PER_SEC) as u32,
            weekday: (days + EPOCH_WEEKDAY).rem_euclid(7) as u32,
            day_of_year: (days - days_from_civil(year, 1, 1) + 1) as u32,
        }
    }

    /// RFC 3339 in UTC with the shortest exact fraction of at least three digits:
    /// `2022-11-09T00:00:50.336Z`, `2022-11-09T00:00:50.336123Z`, `…50.000Z`.
    pub fn to_rfc3339(self) -> String {
        let mut out = String::with_capacity(32);
        self.write_rfc3339(&mut out);
        out
    }

    /// Appends [`Timestamp::to_rfc3339`]'s text to `out`.
    pub fn write_rfc3339(self, out: &mut String) {
        let civil = self.to_civil();
        let items =
            if civil.micros.is_multiple_of(1000) { &ENVOY_DEFAULT_ITEMS } else { &RFC3339_MICROS };
        render_items(items, &civil, 0, out);
    }

    /// Reads RFC 3339 (`2016-10-06T00:17:09.669794202Z`, `…09+05:30`, `…09.5-0700`):
    /// any number of fraction digits (kept to microseconds, truncated), `Z`, `z` or an
    /// offset, and `T`, `t` or a space between date and time. `None` if it is not one.
    pub fn parse_rfc3339(text: &str) -> Option<Timestamp> {
        let text = text.as_bytes();
        parse_rfc3339_utc(text).or_else(|| parse_items(&RFC3339, text))
    }
}

impl fmt::Display for Timestamp {
    /// Writes [`Timestamp::to_rfc3339`]'s text.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut text = String::with_capacity(32);
        self.write_rfc3339(&mut text);
        f.write_str(&text)
    }
}

/// A compiled `%START_TIME(...)%` format, always in UTC.
///
/// Specifiers: `%Y` (year, at least 4 digits; read as up to 6, or exactly-4 when a
/// number follows with no separator), `%E4Y`, `%y` (read 69–99 as 19xx, else 20xx),
/// `%m %d %e %j %H %I %M %S %p`, `%b %h %B %a %A` (English, read case-insensitively,
/// full or abbreviated), `%u %w`, `%T %F %D %R %r %c %x %X` (their usual expansions),
/// `%z` (`+0000`), `%Ez` (`+00:00`), `%Z` (`UTC`), `%ET` (`T`), `%s` (whole seconds
/// since the epoch), `%1f`..`%9f` and `%E1f`..`%E9f` (fraction digits; `%f` = `%9f`),
/// `%E*f`, `%E#S` (seconds with `#` fraction digits, `%E3S` → `50.336`), `%E*S` (seconds
/// with the exact fraction, no dot when whole), `%n %t %%`, and literal text.
///
/// Reading: literal text must match exactly; `%z`/`%Ez` accept `Z`, `+05`, `+0530`,
/// `-07:00` and convert to UTC; `%Z` accepts `UTC`, `GMT` or `Z`; every fraction reads
/// all its digits and keeps microseconds (truncating); `%E#S` also reads a fraction of
/// any length, or none. Weekday names and numbers are checked for form but ignored.
/// `%s` wins over date fields. Missing fields default to 1970-01-01 00:00:00, so a spec
/// like `%H:%M` compiles and reads times on the epoch day. `%p` only matters with `%I`.
///
/// ```
/// use meshlog_parsers::{TimeFormat, Timestamp};
/// let format = TimeFormat::compile("%s.%3f").unwrap();
/// let ts = format.parse("1667952050.336").unwrap();
/// let mut text = String::new();
/// TimeFormat::envoy_default().render(ts, &mut text);
/// assert_eq!(text, "2022-11-09T00:00:50.336Z");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeFormat {
    spec: String,
    items: Vec<Item>,
    /// The spec is [`TimeFormat::ENVOY_DEFAULT`]: try the fixed-position reader first.
    envoy_default: bool,
}

/// Why a time format could not be compiled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeFormatError(pub String);

impl fmt::Display for TimeFormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TimeFormatError {}

impl TimeFormat {
    /// What `%START_TIME%` without an argument prints: `2022-11-09T00:00:50.336Z`.
    pub const ENVOY_DEFAULT: &'static str = "%Y-%m-%dT%H:%M:%E3SZ";

    /// Compiles `spec`; fails naming the first unknown or malformed specifier.
    pub fn compile(spec: &str) -> Result<TimeFormat, TimeFormatError> {
        let items = compile::items(spec)
            .map_err(|message| TimeFormatError(format!("{message} in time format {spec:?}")))?;
        let envoy_default = spec == Self::ENVOY_DEFAULT;
        Ok(TimeFormat { spec: spec.to_owned(), items, envoy_default })
    }

    /// The format of `%START_TIME%` without an argument ([`TimeFormat::ENVOY_DEFAULT`]).
    pub fn envoy_default() -> TimeFormat {
        TimeFormat {
            spec: Self::ENVOY_DEFAULT.to_owned(),
            items: ENVOY_DEFAULT_ITEMS.to_vec(),
            envoy_default: true,
        }
    }

    /// The spec this format was compiled from.
    pub fn spec(&self) -> &str {
        &self.spec
    }

    /// Reads `text`, which must match the whole format; `None` otherwise or when the
    /// instant is invalid (`2022-02-30`) or out of range. Never allocates.
    pub fn parse(&self, text: &str) -> Option<Timestamp> {
        self.parse_bytes(text.as_bytes())
    }

    /// [`TimeFormat::parse`] on bytes, for callers that have not checked UTF-8.
    pub fn parse_bytes(&self, text: &[u8]) -> Option<Timestamp> {
        if self.envoy_default
            && let Some(ts) = parse_envoy_default(text)
        {
            return Some(ts);
        }
        parse_items(&self.items, text)
    }

    /// Appends `ts` in this format to `out`.
    pub fn render(&self, ts: Timestamp, out: &mut String) {
        let civil = ts.to_civil();
        render_items(&self.items, &civil, ts.0.div_euclid(MICROS_PER_SEC), out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Helpers shared with the submodules' tests.
    pub(super) fn ts(text: &str) -> Timestamp {
        Timestamp::parse_rfc3339(text).expect(text)
    }

    pub(super) fn render(spec: &str, ts: Timestamp) -> String {
        let mut out = String::new();
        TimeFormat::compile(spec).expect(spec).render(ts, &mut out);
        out
    }

    pub(super) fn parse(spec: &str, text: &str) -> Option<Timestamp> {
        TimeFormat::compile(spec).expect(spec).parse(text)
    }

    #[test]
    fn default_format_parses_and_renders() {
        let format = TimeFormat::envoy_default();
        let parsed = format.parse("2022-11-09T00:00:50.336Z").expect("parses");
        assert_eq!(parsed, Timestamp::from_micros(1_667_952_050_336_000));
        let mut out = String::new();
        format.render(parsed, &mut out);
        assert_eq!(out, "2022-11-09T00:00:50.336Z");
        assert_eq!(format.spec(), TimeFormat::ENVOY_DEFAULT);
    }

    #[test]
    fn extreme_timestamps_render_and_do_not_overflow() {
        for micros in [i64::MIN, i64::MAX, 0, -1] {
            let ts = Timestamp::from_micros(micros);
            assert_eq!(Timestamp::parse_rfc3339(&ts.to_rfc3339()), Some(ts));
            let mut out = String::new();
            TimeFormat::compile("%c %s%3f %j %E*S %y").expect("compiles").render(ts, &mut out);
        }
        assert_eq!(Timestamp::from_civil(i32::MAX, 12, 31, 23, 59, 59, 0), None);
        assert_eq!(Timestamp::from_civil(i32::MIN, 1, 1, 0, 0, 0, 0), None);
        assert_eq!(Timestamp::parse_rfc3339("999999-12-31T23:59:59Z"), None);
        let min = Timestamp::from_micros(i64::MIN);
        assert_eq!(parse("%s.%6f", "-9223372036855.224192"), Some(min));
        assert_eq!(parse("%s.%6f", "-9223372036855.224191"), None);
        assert_eq!(parse("%s.%6f", "9223372036854.775808"), None);
    }

    /// Deterministic 64-bit LCG (Knuth's MMIX constants).
    struct Lcg(u64);

    impl Lcg {
        fn next(&mut self) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            self.0 >> 11
        }
    }

    #[test]
    fn round_trips_through_many_specs() {
        // (spec, precision in micros)
        let specs: [(&str, i64); 11] = [
            (TimeFormat::ENVOY_DEFAULT, 1000),
            ("%Y-%m-%dT%H:%M:%E*S%Ez", 1),
            ("%s.%6f", 1),
            ("%s%3f", 1000),
            ("%s", MICROS_PER_SEC),
            ("%a, %d %b %Y %H:%M:%S %z", MICROS_PER_SEC),
            ("%A %B %e %I:%M:%S.%f %p %Y", 1),
            ("%Y %j %T.%E*f", 1),
            ("%Y%m%d%H%M%S", MICROS_PER_SEC),
            ("%F %T %Z", MICROS_PER_SEC),
            ("%E4Y-%m-%d %H:%M:%E9S", 1),
        ];
        let formats: Vec<_> =
            specs.iter().map(|(spec, p)| (TimeFormat::compile(spec).expect(spec), *p)).collect();
        let start = ts("1900-01-01T00:00:00Z").micros();
        let span = (ts("2200-01-01T00:00:00Z").micros() - start) as u64;
        let mut lcg = Lcg(42);
        let mut text = String::new();
        for _ in 0..5_000 {
            let ts = Timestamp::from_micros(start + (lcg.next() % span) as i64);
            for (format, precision) in &formats {
                text.clear();
                format.render(ts, &mut text);
                let expected =
                    Timestamp::from_micros(ts.micros().div_euclid(*precision) * precision);
                assert_eq!(format.parse(&text), Some(expected), "{} {text}", format.spec());
            }
            assert_eq!(Timestamp::parse_rfc3339(&ts.to_rfc3339()), Some(ts));
        }
    }

    #[test]
    fn garbage_never_panics() {
        let specs =
            ["%Y-%m-%dT%H:%M:%E3SZ", "%s%3f", "%b %e %Y %z", "%E4Y%m%d", "%Y %j %p %I", "%c"];
        let formats: Vec<_> = specs.iter().map(|s| TimeFormat::compile(s).expect(s)).collect();
        let alphabet = b"0123456789-+:.TZz %AaPpMmNnOoVv\xc3\xa9";
        let mut lcg = Lcg(7);
        let mut bytes = Vec::new();
        for _ in 0..20_000 {
            bytes.clear();
            for _ in 0..(lcg.next() % 30) {
                bytes.push(alphabet[(lcg.next() % alphabet.len() as u64) as usize]);
            }
            for format in &formats {
                let _ = format.parse_bytes(&bytes);
            }
            let _ = Timestamp::parse_rfc3339(&String::from_utf8_lossy(&bytes));
            let _ = TimeFormat::compile(&String::from_utf8_lossy(&bytes));
        }
    }
}
