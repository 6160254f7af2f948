//! Timestamps and Envoy's `%START_TIME(...)%` formats. This file owns [`Timestamp`]
//! (microseconds since the Unix epoch, UTC), its civil-time conversions (proleptic
//! Gregorian, Howard Hinnant's `days_from_civil` / `civil_from_days`), RFC 3339 text, and
//! [`TimeFormat`]: an abseil `FormatTime` spec with Envoy's extensions (`%s`, `%f`,
//! `%1f`..`%9f`), compiled once into items, then rendered and parsed without allocating.
//! The default `%START_TIME%` spec has a fixed-position fast path. Everything is UTC, and
//! nothing here panics on any input: out-of-range text is `None`, never an overflow.

use std::fmt;

const MICROS_PER_SEC: i64 = 1_000_000;
const SECS_PER_DAY: i64 = 86_400;
const MICROS_PER_DAY: i64 = SECS_PER_DAY * MICROS_PER_SEC;
/// Days from 0000-03-01 to 1970-01-01 in Hinnant's shifted calendar.
const EPOCH_SHIFT_DAYS: i64 = 719_468;
const DAYS_PER_ERA: i64 = 146_097;
/// 400-year eras added to years so that they are never negative (`i32::MIN` included).
const ERA_SHIFT: i64 = 1 << 23;
/// 1970-01-01 was a Thursday (Sunday = 0).
const EPOCH_WEEKDAY: i64 = 4;
/// Longest number read, in digits (`i64::MAX` has 19).
const MAX_NUMBER_DIGITS: usize = 19;
/// Longest variable-width `%Y` read, in digits: every `Timestamp` year fits in six.
const MAX_YEAR_DIGITS: usize = 6;

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const WEEKDAYS: [&str; 7] =
    ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];

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
        let items = if civil.micros % 1000 == 0 { &ENVOY_DEFAULT_ITEMS } else { &RFC3339_MICROS };
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

/// `days` days plus `secs` seconds plus `micros` after the epoch, if it fits. Sums in
/// `i128` so that a negative `secs` with a positive `micros` can reach `i64::MIN`.
fn from_parts(days: i64, secs: i64, micros: i64) -> Option<Timestamp> {
    let secs = i128::from(days) * i128::from(SECS_PER_DAY) + i128::from(secs);
    let micros = secs * i128::from(MICROS_PER_SEC) + i128::from(micros);
    i64::try_from(micros).ok().map(Timestamp)
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

fn days_in_year(year: i64) -> u32 {
    if is_leap(year) { 366 } else { 365 }
}

/// Days since 1970-01-01 of a valid date (Hinnant's `days_from_civil`). Callers keep
/// `year` within `i32`; shifting it by [`ERA_SHIFT`] eras makes every division unsigned.
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let shifted_year = (year - i64::from(month <= 2) + ERA_SHIFT * 400) as u64;
    let era = shifted_year / 400;
    let year_of_era = shifted_year % 400;
    let shifted_month = (u64::from(month) + 9) % 12;
    let day_of_year = (153 * shifted_month + 2) / 5 + u64::from(day);
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    (era * DAYS_PER_ERA as u64 + day_of_era) as i64
        - (ERA_SHIFT * DAYS_PER_ERA + EPOCH_SHIFT_DAYS + 1)
}

/// (year, month, day) of a day count since 1970-01-01 (Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let days = days + EPOCH_SHIFT_DAYS;
    let era = days.div_euclid(DAYS_PER_ERA);
    let day_of_era = days - era * DAYS_PER_ERA;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * shifted_month + 2) / 5 + 1) as u32;
    let month = if shifted_month < 10 { shifted_month + 3 } else { shifted_month - 9 } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
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
        let mut compiler = Compiler::default();
        compile_into(&mut compiler, spec)
            .map_err(|message| TimeFormatError(format!("{message} in time format {spec:?}")))?;
        compiler.flush();
        let envoy_default = spec == Self::ENVOY_DEFAULT;
        Ok(TimeFormat { spec: spec.to_owned(), items: compiler.items, envoy_default })
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
        if self.envoy_default {
            if let Some(ts) = parse_envoy_default(text) {
                return Some(ts);
            }
        }
        parse_items(&self.items, text)
    }

    /// Appends `ts` in this format to `out`.
    pub fn render(&self, ts: Timestamp, out: &mut String) {
        let civil = ts.to_civil();
        render_items(&self.items, &civil, ts.0.div_euclid(MICROS_PER_SEC), out);
    }
}

/// One compiled piece of a format.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Item {
    /// A one-byte (so ASCII) literal.
    Byte(u8),
    /// A longer literal.
    Text(Box<str>),
    /// `%Y`; `fixed` (for `%E4Y`, or `%Y` right before another number) reads 4 chars.
    Year {
        fixed: bool,
    },
    /// `%y`.
    Year2,
    Month,
    Day,
    /// `%e`: day padded with a space.
    DaySpace,
    DayOfYear,
    Hour,
    Hour12,
    Minute,
    Second,
    /// `%E#S`: seconds, a dot and that many digits (no dot for 0).
    SecondFrac(u8),
    /// `%E*S`.
    SecondFracAll,
    /// `%Nf`, `%E#f`: that many fraction digits.
    Frac(u8),
    /// `%E*f`.
    FracAll,
    /// `%s`.
    EpochSeconds,
    /// `%s` directly followed by `%Nf` (`%s%3f` = milliseconds since the epoch).
    EpochFrac(u8),
    MonthName(NameStyle),
    WeekdayName(NameStyle),
    /// `%u` (Monday = 1 … Sunday = 7) or `%w` (Sunday = 0).
    WeekdayNumber {
        monday_first: bool,
    },
    AmPm,
    /// `%z` (`+0000`) or `%Ez` (`+00:00`).
    Offset {
        colon: bool,
    },
    /// `%Z`.
    Zone,
    /// `%ET`: renders `T`, reads `T`, `t` or a space.
    DateTimeSep,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NameStyle {
    Abbreviated,
    Full,
}

impl Item {
    /// Whether the item can begin with a digit, so a greedy number before it must stop.
    fn starts_with_digit(&self) -> bool {
        !matches!(
            self,
            Item::Byte(_)
                | Item::Text(_)
                | Item::MonthName(_)
                | Item::WeekdayName(_)
                | Item::AmPm
                | Item::Offset { .. }
                | Item::Zone
                | Item::DateTimeSep
        )
    }
}

/// `%Y-%m-%dT%H:%M:%E3SZ`, also RFC 3339 text of whole milliseconds.
static ENVOY_DEFAULT_ITEMS: [Item; 12] =
    date_time(Item::Byte(b'T'), Item::SecondFrac(3), Item::Byte(b'Z'));
/// RFC 3339 text with microseconds.
static RFC3339_MICROS: [Item; 12] =
    date_time(Item::Byte(b'T'), Item::SecondFrac(6), Item::Byte(b'Z'));
/// `%Y-%m-%d%ET%H:%M:%E*S%Ez`: what [`Timestamp::parse_rfc3339`] reads.
static RFC3339: [Item; 12] =
    date_time(Item::DateTimeSep, Item::SecondFracAll, Item::Offset { colon: true });

/// `%Y-%m-%d<separator>%H:%M<seconds><zone>`.
const fn date_time(separator: Item, seconds: Item, zone: Item) -> [Item; 12] {
    [
        Item::Year { fixed: false },
        Item::Byte(b'-'),
        Item::Month,
        Item::Byte(b'-'),
        Item::Day,
        separator,
        Item::Hour,
        Item::Byte(b':'),
        Item::Minute,
        Item::Byte(b':'),
        seconds,
        zone,
    ]
}

// ---------------------------------------------------------------------------------------
// Compiling a spec.

/// Items compiled so far, and literal text not yet turned into an item.
#[derive(Default)]
struct Compiler {
    items: Vec<Item>,
    literal: String,
}

impl Compiler {
    fn literal(&mut self, text: &str) {
        self.literal.push_str(text);
    }

    /// Turns pending literal text into an item.
    fn flush(&mut self) {
        let text = std::mem::take(&mut self.literal);
        match *text.as_bytes() {
            [] => {}
            [byte] => self.items.push(Item::Byte(byte)),
            _ => self.items.push(Item::Text(text.into_boxed_str())),
        }
    }

    /// Adds a specifier item, adjusting a number right before it so both stay readable.
    fn item(&mut self, item: Item) {
        self.flush();
        match (self.items.last_mut(), &item) {
            (Some(last @ Item::EpochSeconds), Item::Frac(digits)) => {
                *last = Item::EpochFrac(*digits);
                return;
            }
            (Some(Item::Year { fixed }), next) if next.starts_with_digit() => *fixed = true,
            _ => {}
        }
        self.items.push(item);
    }
}

/// Compiles `spec` into `compiler`; the error is a message without the spec.
fn compile_into(compiler: &mut Compiler, spec: &str) -> Result<(), String> {
    let mut rest = spec;
    while let Some((literal, after)) = rest.split_once('%') {
        compiler.literal(literal);
        rest = directive(compiler, after)?;
    }
    compiler.literal(rest);
    Ok(())
}

fn unknown(name: &str) -> String {
    format!("unknown time specifier `{name}`")
}

/// Compiles the specifier at the start of `after` (the text after a `%`), returning
/// the text after it.
fn directive<'s>(compiler: &mut Compiler, after: &'s str) -> Result<&'s str, String> {
    let mut chars = after.chars();
    let Some(letter) = chars.next() else {
        return Err("a lone `%` ends the format (write `%%` for a percent sign)".to_owned());
    };
    let rest = chars.as_str();
    if let Some(expansion) = expansion(letter) {
        compile_into(compiler, expansion)?;
        return Ok(rest);
    }
    match letter {
        '%' => compiler.literal("%"),
        'n' => compiler.literal("\n"),
        't' => compiler.literal("\t"),
        'E' => return extended(compiler, rest),
        '0'..='9' => return with_digits(compiler, after, ""),
        _ => compiler.item(simple_item(letter).ok_or_else(|| unknown(&format!("%{letter}")))?),
    }
    Ok(rest)
}

/// The spec a composite specifier stands for.
fn expansion(letter: char) -> Option<&'static str> {
    match letter {
        'T' | 'X' => Some("%H:%M:%S"),
        'F' => Some("%Y-%m-%d"),
        'D' | 'x' => Some("%m/%d/%y"),
        'R' => Some("%H:%M"),
        'r' => Some("%I:%M:%S %p"),
        'c' => Some("%a %b %e %H:%M:%S %Y"),
        _ => None,
    }
}

/// The item of a one-letter specifier.
fn simple_item(letter: char) -> Option<Item> {
    let item = match letter {
        'Y' => Item::Year { fixed: false },
        'y' => Item::Year2,
        'm' => Item::Month,
        'd' => Item::Day,
        'e' => Item::DaySpace,
        'j' => Item::DayOfYear,
        'H' => Item::Hour,
        'I' => Item::Hour12,
        'M' => Item::Minute,
        'S' => Item::Second,
        's' => Item::EpochSeconds,
        'f' => Item::Frac(9),
        'b' | 'h' => Item::MonthName(NameStyle::Abbreviated),
        'B' => Item::MonthName(NameStyle::Full),
        'a' => Item::WeekdayName(NameStyle::Abbreviated),
        'A' => Item::WeekdayName(NameStyle::Full),
        'u' => Item::WeekdayNumber { monday_first: true },
        'w' => Item::WeekdayNumber { monday_first: false },
        'p' => Item::AmPm,
        'z' => Item::Offset { colon: false },
        'Z' => Item::Zone,
        _ => return None,
    };
    Some(item)
}

/// Compiles `%E` specifiers; `after` is the text after `%E`.
fn extended<'s>(compiler: &mut Compiler, after: &'s str) -> Result<&'s str, String> {
    if after.starts_with(|c: char| c.is_ascii_digit()) {
        return with_digits(compiler, after, "E");
    }
    let (item, rest) = match (after.get(..1), after.get(1..2)) {
        (Some("z"), _) => (Item::Offset { colon: true }, after.get(1..)),
        (Some("T"), _) => (Item::DateTimeSep, after.get(1..)),
        (Some("*"), Some("S")) => (Item::SecondFracAll, after.get(2..)),
        (Some("*"), Some("f")) => (Item::FracAll, after.get(2..)),
        _ => return Err(unknown(&format!("%E{}", first_chars(after, 2)))),
    };
    compiler.item(item);
    Ok(rest.unwrap_or_default())
}

/// Compiles `%N…` / `%EN…` (`%3f`, `%E3S`, `%E6f`, `%E4Y`); `after` starts with digits
/// and `prefix` is what came between `%` and them.
fn with_digits<'s>(
    compiler: &mut Compiler,
    after: &'s str,
    prefix: &str,
) -> Result<&'s str, String> {
    let digit_count = after.bytes().take_while(u8::is_ascii_digit).count();
    let (digits, rest) = after.split_at_checked(digit_count).unwrap_or((after, ""));
    let mut chars = rest.chars();
    let letter = chars.next();
    let name = format!("%{prefix}{digits}{}", letter.map(String::from).unwrap_or_default());
    let precision = digits.parse::<u8>().ok().filter(|n| *n <= 9);
    let item = match (prefix, letter, precision) {
        ("E", Some('Y'), Some(4)) => Item::Year { fixed: true },
        ("E", Some('S'), Some(n)) => Item::SecondFrac(n),
        (_, Some('f'), Some(n)) if n >= 1 => Item::Frac(n),
        ("E", Some('S' | 'f'), None) | ("", Some('f'), None) => {
            return Err(format!("`{name}` asks for more than 9 digits"));
        }
        _ => return Err(unknown(&name)),
    };
    compiler.item(item);
    Ok(chars.as_str())
}

/// Up to `count` chars from the start of `text`, for error messages.
fn first_chars(text: &str, count: usize) -> String {
    text.chars().take(count).collect()
}

// ---------------------------------------------------------------------------------------
// Rendering.

fn render_items(items: &[Item], civil: &Civil, epoch_secs: i64, out: &mut String) {
    for item in items {
        render_item(item, civil, epoch_secs, out);
    }
}

fn render_item(item: &Item, c: &Civil, epoch_secs: i64, out: &mut String) {
    match item {
        Item::Byte(byte) => out.push(char::from(*byte)),
        Item::Text(text) => out.push_str(text),
        Item::Year { .. } => push_year(out, i64::from(c.year)),
        Item::Year2 => push_two(out, c.year.rem_euclid(100).unsigned_abs()),
        Item::Month => push_two(out, c.month),
        Item::Day => push_two(out, c.day),
        Item::DaySpace => push_space_padded(out, c.day),
        Item::DayOfYear => push_padded(out, u64::from(c.day_of_year), 3),
        Item::Hour => push_two(out, c.hour),
        Item::Hour12 => push_two(out, (c.hour + 11) % 12 + 1),
        Item::Minute => push_two(out, c.minute),
        Item::Second | Item::SecondFrac(0) => push_two(out, c.second),
        Item::SecondFrac(digits) => push_second_frac(out, c, *digits),
        Item::SecondFracAll => push_second_frac_all(out, c),
        Item::Frac(digits) => push_frac(out, c.micros, *digits),
        Item::FracAll if c.micros == 0 => out.push('0'),
        Item::FracAll => push_frac_trimmed(out, c.micros),
        Item::EpochSeconds => push_signed(out, epoch_secs),
        Item::EpochFrac(digits) => {
            push_signed(out, epoch_secs);
            push_frac(out, c.micros, *digits);
        }
        Item::MonthName(style) => push_name(out, &MONTHS, c.month.wrapping_sub(1), *style),
        Item::WeekdayName(style) => push_name(out, &WEEKDAYS, c.weekday, *style),
        Item::WeekdayNumber { monday_first: true } if c.weekday == 0 => out.push('7'),
        Item::WeekdayNumber { .. } => push_padded(out, u64::from(c.weekday), 1),
        Item::AmPm => out.push_str(if c.hour < 12 { "AM" } else { "PM" }),
        Item::Offset { colon } => out.push_str(if *colon { "+00:00" } else { "+0000" }),
        Item::Zone => out.push_str("UTC"),
        Item::DateTimeSep => out.push('T'),
    }
}

/// Appends `value` in decimal, zero-padded to `width` (at most 20) digits.
fn push_padded(out: &mut String, value: u64, width: usize) {
    let mut buf = [b'0'; 20];
    let mut len = 0;
    let mut rest = value;
    for slot in buf.iter_mut().rev() {
        *slot = b'0' + (rest % 10) as u8;
        rest /= 10;
        len += 1;
        if rest == 0 {
            break;
        }
    }
    let start = buf.len() - len.max(width).min(buf.len());
    let digits = buf.get(start..).unwrap_or_default();
    out.push_str(std::str::from_utf8(digits).unwrap_or_default());
}

/// Appends a calendar field (below 100) as two digits.
fn push_two(out: &mut String, value: u32) {
    if value >= 100 {
        return push_padded(out, u64::from(value), 2);
    }
    out.push(char::from(b'0' + (value / 10) as u8));
    out.push(char::from(b'0' + (value % 10) as u8));
}

fn push_signed(out: &mut String, value: i64) {
    if value < 0 {
        out.push('-');
    }
    push_padded(out, value.unsigned_abs(), 1);
}

/// Years as abseil's `%E4Y`: `0000`–`9999`, `-001`, and all digits beyond.
fn push_year(out: &mut String, year: i64) {
    if year < 0 {
        out.push('-');
        push_padded(out, year.unsigned_abs(), 3);
    } else {
        push_padded(out, year.unsigned_abs(), 4);
    }
}

fn push_space_padded(out: &mut String, value: u32) {
    if value < 10 {
        out.push(' ');
    }
    push_padded(out, u64::from(value), 1);
}

/// The first `digits` (at most 9) digits of the fraction of a second.
fn push_frac(out: &mut String, micros: u32, digits: u8) {
    let digits = u32::from(digits.min(9));
    let nanos = u64::from(micros) * 1000;
    push_padded(out, nanos / 10u64.pow(9 - digits), digits as usize);
}

/// The fraction without trailing zeros (at least one digit).
fn push_frac_trimmed(out: &mut String, micros: u32) {
    let (mut value, mut width) = (micros, 6);
    while width > 1 && value % 10 == 0 {
        value /= 10;
        width -= 1;
    }
    push_padded(out, u64::from(value), width);
}

fn push_second_frac(out: &mut String, c: &Civil, digits: u8) {
    push_two(out, c.second);
    out.push('.');
    push_frac(out, c.micros, digits);
}

fn push_second_frac_all(out: &mut String, c: &Civil) {
    push_two(out, c.second);
    if c.micros != 0 {
        out.push('.');
        push_frac_trimmed(out, c.micros);
    }
}

fn push_name(out: &mut String, names: &[&str], index: u32, style: NameStyle) {
    let Some(name) = names.get(index as usize) else { return };
    match style {
        NameStyle::Full => out.push_str(name),
        NameStyle::Abbreviated => out.push_str(abbreviation(name)),
    }
}

fn abbreviation(name: &str) -> &str {
    name.get(..3).unwrap_or(name)
}

// ---------------------------------------------------------------------------------------
// Parsing.

/// `2022-11-09T00:00:50.336Z` by fixed positions; `None` sends the text to the general
/// reader, which gives the final answer (leap seconds, short fields, other fractions).
fn parse_envoy_default(text: &[u8]) -> Option<Timestamp> {
    let (secs, rest) = fast_date_time(text)?;
    let [b'.', f0, f1, f2, b'Z'] = *rest else { return None };
    let millis = fixed_number(&[f0, f1, f2])?;
    Some(Timestamp(secs * MICROS_PER_SEC + i64::from(millis) * 1000))
}

/// `2016-10-06T00:17:09Z` or `…09.669794202Z` by fixed positions, else `None`.
fn parse_rfc3339_utc(text: &[u8]) -> Option<Timestamp> {
    let (secs, rest) = fast_date_time(text)?;
    let micros = match rest {
        [b'Z'] => 0,
        [b'.', digits @ .., b'Z'] if digits.len() <= 9 => fraction(digits)?,
        _ => return None,
    };
    Some(Timestamp(secs * MICROS_PER_SEC + i64::from(micros)))
}

/// Seconds since the epoch of a leading `YYYY-MM-DDTHH:MM:SS` (no leap second), and the
/// text after it.
fn fast_date_time(text: &[u8]) -> Option<(i64, &[u8])> {
    let (head, rest) = text.split_first_chunk::<19>()?;
    if !matches_date_time_shape(head) {
        return None;
    }
    let [y0, y1, y2, y3, _, mo0, mo1, _, d0, d1, _, h0, h1, _, mi0, mi1, _, s0, s1] = *head;
    let year = i64::from(pair(y0, y1) * 100 + pair(y2, y3));
    let (month, day) = (pair(mo0, mo1), pair(d0, d1));
    let (hour, minute, second) = (pair(h0, h1), pair(mi0, mi1), pair(s0, s1));
    let date_ok = (1..=12).contains(&month) && (1..=days_in_month(year, month)).contains(&day);
    if !(date_ok && hour < 24 && minute < 60 && second < 60) {
        return None;
    }
    // Years 0000–9999 keep every product far inside `i64`.
    let secs = days_from_civil(year, month, day) * SECS_PER_DAY
        + i64::from(hour * 3600 + minute * 60 + second);
    Some((secs, rest))
}

/// The value of two ASCII digits already checked to be digits.
fn pair(tens: u8, ones: u8) -> u32 {
    u32::from(tens.wrapping_sub(b'0')) * 10 + u32::from(ones.wrapping_sub(b'0'))
}

/// `0000-00-00T00:00` as two little-endian words, and where its digits (`0`) are.
const DATE_TIME_WORDS: [u64; 2] = shape_words(b"0000-00-00T00:00", false);
const DATE_TIME_DIGITS: [u64; 2] = shape_words(b"0000-00-00T00:00", true);

/// `shape` as words of its bytes, or (`digit_lanes`) with `0xff` where it has `0`.
const fn shape_words(shape: &[u8; 16], digit_lanes: bool) -> [u64; 2] {
    let mut words = [0; 2];
    let mut i = 0;
    while i < 16 {
        let lane = match (digit_lanes, shape[i]) {
            (false, byte) => byte as u64,
            (true, b'0') => 0xff,
            (true, _) => 0,
        };
        words[i / 8] |= lane << (8 * (i % 8));
        i += 1;
    }
    words
}

/// Whether `head` is `dddd-dd-ddTdd:dd:dd` (`d` an ASCII digit), 8 bytes at a time.
fn matches_date_time_shape(head: &[u8; 19]) -> bool {
    let [.., colon, s0, s1] = *head;
    let words_ok = (0..2).fold(true, |ok, i| {
        let expected = DATE_TIME_WORDS.get(i).copied().unwrap_or_default();
        let digits = DATE_TIME_DIGITS.get(i).copied().unwrap_or_default();
        ok & word_matches(word_at(head, i * 8), expected, digits)
    });
    words_ok & (colon == b':') & s0.is_ascii_digit() & s1.is_ascii_digit()
}

/// The 8 bytes from `start` as a little-endian word (0 past the end).
fn word_at(bytes: &[u8], start: usize) -> u64 {
    let chunk = bytes.get(start..).and_then(<[u8]>::first_chunk::<8>);
    u64::from_le_bytes(chunk.copied().unwrap_or_default())
}

/// Whether `word` has a byte `0x30..=0x39` in each `digits` lane and the bytes of
/// `expected` elsewhere. A digit byte's high nibble is 3, and adding 6 keeps it 3
/// (lanes over `0xf9`, which could carry, already failed the first test).
fn word_matches(word: u64, expected: u64, digits: u64) -> bool {
    const HIGH_NIBBLES: u64 = 0xf0f0_f0f0_f0f0_f0f0;
    const THREES: u64 = 0x3030_3030_3030_3030;
    const SIXES: u64 = 0x0606_0606_0606_0606;
    let fixed_ok = (word ^ expected) & !digits == 0;
    let lanes = word & digits;
    let high_ok = lanes & HIGH_NIBBLES == THREES & digits;
    let low_ok = lanes.wrapping_add(SIXES & digits) & HIGH_NIBBLES == THREES & digits;
    fixed_ok & high_ok & low_ok
}

/// The value of a short run of ASCII digits.
fn fixed_number(digits: &[u8]) -> Option<u32> {
    digits.iter().try_fold(0u32, |value, &byte| Some(value * 10 + digit(byte)?))
}

fn digit(byte: u8) -> Option<u32> {
    let value = byte.wrapping_sub(b'0');
    (value < 10).then_some(u32::from(value))
}

/// What the items read so far say about the instant.
#[derive(Default)]
struct Fields {
    year: Option<i64>,
    month: Option<u32>,
    day: Option<u32>,
    day_of_year: Option<u32>,
    hour: u32,
    hour12: Option<u32>,
    pm: bool,
    minute: u32,
    second: u32,
    micros: u32,
    epoch_secs: Option<i64>,
    offset_secs: i64,
}

impl Fields {
    /// The instant: `%s` if read, else the date (default 1970-01-01) and time, less
    /// the offset.
    fn resolve(&self) -> Option<Timestamp> {
        let micros = i64::from(self.micros);
        if let Some(secs) = self.epoch_secs {
            return from_parts(0, secs, micros);
        }
        let days = self.days()?;
        let hour = match self.hour12 {
            Some(hour12) => hour12 % 12 + if self.pm { 12 } else { 0 },
            None => self.hour,
        };
        let secs = i64::from(hour * 3600 + self.minute * 60 + self.second) - self.offset_secs;
        from_parts(days, secs, micros)
    }

    /// Days since the epoch of the date read; day of year counts only without month/day.
    fn days(&self) -> Option<i64> {
        let year = self.year.unwrap_or(1970);
        if let (None, None, Some(day_of_year)) = (self.month, self.day, self.day_of_year) {
            let valid = day_of_year <= days_in_year(year);
            return valid.then(|| days_from_civil(year, 1, 1) + i64::from(day_of_year) - 1);
        }
        let (month, day) = (self.month.unwrap_or(1), self.day.unwrap_or(1));
        (day <= days_in_month(year, month)).then(|| days_from_civil(year, month, day))
    }
}

/// Reads `text` with `items`, which must consume all of it.
fn parse_items(items: &[Item], text: &[u8]) -> Option<Timestamp> {
    let mut cursor = Cursor { rest: text };
    let mut fields = Fields::default();
    for item in items {
        parse_item(item, &mut cursor, &mut fields)?;
    }
    if !cursor.rest.is_empty() {
        return None;
    }
    fields.resolve()
}

fn parse_item(item: &Item, cur: &mut Cursor<'_>, f: &mut Fields) -> Option<()> {
    match item {
        Item::Byte(byte) => cur.expect(*byte)?,
        Item::Text(text) => cur.expect_bytes(text.as_bytes())?,
        Item::Year { fixed } => f.year = Some(parse_year(cur, *fixed)?),
        Item::Year2 => f.year = Some(century_year(cur.ranged(2, 0, 99)?)),
        Item::Month => f.month = Some(cur.ranged(2, 1, 12)?),
        Item::Day => f.day = Some(cur.ranged(2, 1, 31)?),
        Item::DaySpace => {
            cur.eat(b' ');
            f.day = Some(cur.ranged(2, 1, 31)?);
        }
        Item::DayOfYear => f.day_of_year = Some(cur.ranged(3, 1, 366)?),
        Item::Hour => f.hour = cur.ranged(2, 0, 23)?,
        Item::Hour12 => f.hour12 = Some(cur.ranged(2, 1, 12)?),
        Item::Minute => f.minute = cur.ranged(2, 0, 59)?,
        // 60 is a leap second; it reads as the next minute's 00.
        Item::Second => f.second = cur.ranged(2, 0, 60)?,
        Item::SecondFrac(_) | Item::SecondFracAll => parse_second_frac(cur, f)?,
        Item::Frac(_) | Item::FracAll => f.micros = cur.fraction()?,
        Item::EpochSeconds => f.epoch_secs = Some(parse_epoch(cur)?),
        Item::EpochFrac(digits) => parse_epoch_frac(cur, f, *digits)?,
        Item::MonthName(_) => f.month = Some(cur.name(&MONTHS)? + 1),
        Item::WeekdayName(_) => _ = cur.name(&WEEKDAYS)?,
        Item::WeekdayNumber { monday_first } => parse_weekday_number(cur, *monday_first)?,
        Item::AmPm => f.pm = parse_am_pm(cur)?,
        Item::Offset { .. } => f.offset_secs = parse_offset(cur)?,
        Item::Zone => parse_zone(cur)?,
        Item::DateTimeSep => cur.expect_any(b"Tt ")?,
    }
    Some(())
}

/// The unread rest of the text.
struct Cursor<'a> {
    rest: &'a [u8],
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<u8> {
        self.rest.first().copied()
    }

    fn advance(&mut self, count: usize) {
        self.rest = self.rest.get(count..).unwrap_or_default();
    }

    /// Consumes `byte` if it is next.
    fn eat(&mut self, byte: u8) -> bool {
        let found = self.peek() == Some(byte);
        if found {
            self.advance(1);
        }
        found
    }

    fn expect(&mut self, byte: u8) -> Option<()> {
        self.eat(byte).then_some(())
    }

    fn expect_any(&mut self, bytes: &[u8]) -> Option<()> {
        let byte = self.peek().filter(|byte| bytes.contains(byte))?;
        self.expect(byte)
    }

    fn expect_bytes(&mut self, text: &[u8]) -> Option<()> {
        self.rest = self.rest.strip_prefix(text)?;
        Some(())
    }

    /// Consumes `word`, ignoring ASCII case, if it is next.
    fn eat_ignore_case(&mut self, word: &str) -> bool {
        match self.rest.split_at_checked(word.len()) {
            Some((head, tail)) if head.eq_ignore_ascii_case(word.as_bytes()) => {
                self.rest = tail;
                true
            }
            _ => false,
        }
    }

    /// The index of the name (full, else its three-letter abbreviation) that is next.
    fn name(&mut self, names: &[&str]) -> Option<u32> {
        let index = names.iter().position(|name| {
            self.eat_ignore_case(name) || self.eat_ignore_case(abbreviation(name))
        })?;
        u32::try_from(index).ok()
    }

    /// All the digits that are next (maybe none).
    fn digits(&mut self) -> &'a [u8] {
        let count = self.rest.iter().take_while(|byte| byte.is_ascii_digit()).count();
        let (digits, rest) = self.rest.split_at_checked(count).unwrap_or((self.rest, &[]));
        self.rest = rest;
        digits
    }

    /// 1 to `max_digits` digits with a value in `min..=max`.
    fn ranged(&mut self, max_digits: usize, min: u32, max: u32) -> Option<u32> {
        let count = self.rest.iter().take(max_digits).take_while(|b| b.is_ascii_digit()).count();
        let (digits, rest) = self.rest.split_at_checked(count)?;
        let value = u32::try_from(number(digits)?).ok().filter(|v| (min..=max).contains(v))?;
        self.rest = rest;
        Some(value)
    }

    /// A fraction of a second of at least one digit, in microseconds (truncated).
    fn fraction(&mut self) -> Option<u32> {
        fraction(self.digits())
    }
}

/// The value of 1 to 19 digits.
fn number(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || digits.len() > MAX_NUMBER_DIGITS {
        return None;
    }
    digits.iter().try_fold(0u64, |value, &byte| Some(value * 10 + u64::from(digit(byte)?)))
}

/// Microseconds of a fraction of at least one digit (all of them checked).
fn fraction(digits: &[u8]) -> Option<u32> {
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let kept = digits.get(..6).unwrap_or(digits);
    let value = fixed_number(kept)?;
    Some(value * 10u32.pow(6 - kept.len() as u32))
}

/// A year with an optional `-`: up to 6 digits, or 4 chars in all when `fixed`.
fn parse_year(cur: &mut Cursor<'_>, fixed: bool) -> Option<i64> {
    let negative = cur.eat(b'-');
    let max_digits = match (fixed, negative) {
        (true, true) => 3,
        (true, false) => 4,
        (false, _) => MAX_YEAR_DIGITS,
    };
    let year = i64::from(cur.ranged(max_digits, 0, 999_999)?);
    Some(if negative { -year } else { year })
}

/// `%u` (1–7) or `%w` (0–6), read and ignored.
fn parse_weekday_number(cur: &mut Cursor<'_>, monday_first: bool) -> Option<()> {
    let (min, max) = if monday_first { (1, 7) } else { (0, 6) };
    cur.ranged(1, min, max).map(|_| ())
}

/// POSIX `%y`: 69–99 are 1969–1999, 00–68 are 2000–2068.
fn century_year(two_digits: u32) -> i64 {
    i64::from(two_digits) + if two_digits < 69 { 2000 } else { 1900 }
}

fn signed(digits: &[u8], negative: bool) -> Option<i64> {
    let value = i64::try_from(number(digits)?).ok()?;
    Some(if negative { -value } else { value })
}

fn parse_epoch(cur: &mut Cursor<'_>) -> Option<i64> {
    let negative = cur.eat(b'-');
    let digits = cur.digits();
    signed(digits, negative)
}

/// `%s%Nf`: the last `frac_digits` digits of the run are the fraction.
fn parse_epoch_frac(cur: &mut Cursor<'_>, f: &mut Fields, frac_digits: u8) -> Option<()> {
    let negative = cur.eat(b'-');
    let digits = cur.digits();
    let split = digits.len().checked_sub(usize::from(frac_digits))?;
    let (secs, frac) = digits.split_at_checked(split)?;
    f.epoch_secs = Some(signed(secs, negative)?);
    f.micros = fraction(frac)?;
    Some(())
}

/// Seconds, then optionally a dot and a fraction of any length.
fn parse_second_frac(cur: &mut Cursor<'_>, f: &mut Fields) -> Option<()> {
    f.second = cur.ranged(2, 0, 60)?;
    if cur.eat(b'.') {
        f.micros = cur.fraction()?;
    }
    Some(())
}

/// `true` for PM.
fn parse_am_pm(cur: &mut Cursor<'_>) -> Option<bool> {
    if cur.eat_ignore_case("AM") {
        return Some(false);
    }
    cur.eat_ignore_case("PM").then_some(true)
}

/// `Z`, `z`, `±hh`, `±hhmm` or `±hh:mm`, as seconds east of UTC.
fn parse_offset(cur: &mut Cursor<'_>) -> Option<i64> {
    if cur.eat(b'Z') || cur.eat(b'z') {
        return Some(0);
    }
    let negative = cur.eat(b'-');
    if !negative {
        cur.expect(b'+')?;
    }
    let hours = exactly_two_digits(cur, 23)?;
    let has_minutes = cur.eat(b':') || cur.peek().is_some_and(|b| b.is_ascii_digit());
    let minutes = if has_minutes { exactly_two_digits(cur, 59)? } else { 0 };
    let secs = i64::from(hours * 3600 + minutes * 60);
    Some(if negative { -secs } else { secs })
}

fn exactly_two_digits(cur: &mut Cursor<'_>, max: u32) -> Option<u32> {
    let (digits, rest) = cur.rest.split_at_checked(2)?;
    let value = fixed_number(digits).filter(|value| *value <= max)?;
    cur.rest = rest;
    Some(value)
}

fn parse_zone(cur: &mut Cursor<'_>) -> Option<()> {
    let utc = cur.eat_ignore_case("UTC") || cur.eat_ignore_case("GMT") || cur.eat_ignore_case("Z");
    utc.then_some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(text: &str) -> Timestamp {
        Timestamp::parse_rfc3339(text).expect(text)
    }

    fn render(spec: &str, ts: Timestamp) -> String {
        let mut out = String::new();
        TimeFormat::compile(spec).expect(spec).render(ts, &mut out);
        out
    }

    fn days_later(ts: Timestamp, days: i64) -> Timestamp {
        Timestamp::from_micros(ts.micros() + days * MICROS_PER_DAY)
    }

    fn parse(spec: &str, text: &str) -> Option<Timestamp> {
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
    fn envoy_default_equals_compiled_default() {
        let compiled = TimeFormat::compile(TimeFormat::ENVOY_DEFAULT).expect("compiles");
        assert_eq!(compiled, TimeFormat::envoy_default());
    }

    #[test]
    fn default_format_slow_path_agrees_with_fast_path() {
        let format = TimeFormat::envoy_default();
        for text in ["2022-11-09T00:00:50Z", "2022-11-9T00:00:50.3361Z", "2022-11-09T00:00:60.000Z"]
        {
            assert!(format.parse(text).is_some(), "{text}");
            assert_eq!(parse_items(&format.items, text.as_bytes()), format.parse(text));
        }
        assert_eq!(
            format.parse("2022-11-09T00:00:59.999Z"),
            parse_items(&format.items, b"2022-11-09T00:00:59.999Z")
        );
    }

    #[test]
    fn default_format_rejects_bad_text() {
        let format = TimeFormat::envoy_default();
        for text in [
            "",
            "2022-13-01T00:00:50.336Z",
            "2022-02-29T00:00:50.336Z",
            "2022-11-09T24:00:50.336Z",
            "2022-11-09T00:00:50.336Z ",
            "2022-11-09T00:00:50.336Zx",
            "2022-11-09 00:00:50.336Z",
            "2022-11-09T00:00:50.Z",
            "2022-11-09T00:00:50.336",
            "-",
            "２０２２-11-09T00:00:50.336Z",
        ] {
            assert_eq!(format.parse(text), None, "{text:?}");
        }
    }

    #[test]
    fn leap_years_follow_the_400_year_rule() {
        assert!(Timestamp::from_civil(2000, 2, 29, 0, 0, 0, 0).is_some());
        assert!(Timestamp::from_civil(2100, 2, 29, 0, 0, 0, 0).is_none());
        assert!(Timestamp::from_civil(2024, 2, 29, 0, 0, 0, 0).is_some());
        assert!(Timestamp::from_civil(2023, 2, 29, 0, 0, 0, 0).is_none());
        assert_eq!(ts("2000-03-01T00:00:00Z").to_civil().day_of_year, 61);
        assert_eq!(ts("2100-03-01T00:00:00Z").to_civil().day_of_year, 60);
        assert_eq!(ts("2100-12-31T00:00:00Z").to_civil().day_of_year, 365);
        assert_eq!(parse("%Y %j", "2000 366"), Some(ts("2000-12-31T00:00:00Z")));
        assert_eq!(parse("%Y %j", "2100 366"), None);
    }

    #[test]
    fn dates_before_1970_are_negative() {
        assert_eq!(ts("1969-12-31T23:59:59.999999Z").micros(), -1);
        let civil = Timestamp::from_micros(-1).to_civil();
        assert_eq!((civil.year, civil.month, civil.day), (1969, 12, 31));
        assert_eq!((civil.hour, civil.minute, civil.second, civil.micros), (23, 59, 59, 999_999));
        assert_eq!(civil.weekday, 3);
        let old = Timestamp::from_civil(1900, 1, 1, 0, 0, 0, 0).expect("valid");
        assert_eq!(old.micros(), -2_208_988_800_000_000);
        assert_eq!(old.to_rfc3339(), "1900-01-01T00:00:00.000Z");
        assert_eq!(old.to_civil().weekday, 1);
        assert_eq!(Timestamp::EPOCH.to_civil().weekday, 4);
    }

    #[test]
    fn civil_round_trips_over_many_days() {
        for days in (-800_000..800_000).step_by(97) {
            let ts = Timestamp::from_micros(days * MICROS_PER_DAY + 12_345);
            let c = ts.to_civil();
            let back =
                Timestamp::from_civil(c.year, c.month, c.day, c.hour, c.minute, c.second, c.micros);
            assert_eq!(back, Some(ts));
        }
    }

    #[test]
    fn epoch_seconds_with_millis() {
        let ts = ts("2022-11-09T00:00:50.336Z");
        assert_eq!(render("%s.%3f", ts), "1667952050.336");
        assert_eq!(parse("%s.%3f", "1667952050.336"), Some(ts));
        assert_eq!(render("%s%3f", ts), "1667952050336");
        assert_eq!(parse("%s%3f", "1667952050336"), Some(ts));
        assert_eq!(parse("%s%3f", "336"), None);
    }

    #[test]
    fn epoch_seconds_alone_and_negative() {
        assert_eq!(render("%s", ts("2022-11-09T00:00:50.336Z")), "1667952050");
        assert_eq!(parse("%s", "1667952050"), Some(ts("2022-11-09T00:00:50Z")));
        let before = Timestamp::from_micros(-1_500_000);
        assert_eq!(render("%s.%3f", before), "-2.500");
        assert_eq!(parse("%s.%3f", "-2.500"), Some(before));
        assert_eq!(parse("%s", "99999999999999999999"), None);
        assert_eq!(parse("%s", "9223372036854775807"), None);
        assert_eq!(parse("%s", ""), None);
    }

    #[test]
    fn offsets_convert_to_utc() {
        let spec = "%Y/%m/%d %H:%M:%S %z";
        let utc = ts("2022-11-09T00:00:50Z");
        assert_eq!(render(spec, utc), "2022/11/09 00:00:50 +0000");
        assert_eq!(parse(spec, "2022/11/09 05:30:50 +0530"), Some(utc));
        assert_eq!(parse(spec, "2022/11/08 17:00:50 -07:00"), Some(utc));
        assert_eq!(parse(spec, "2022/11/09 00:00:50 Z"), Some(utc));
        assert_eq!(parse(spec, "2022/11/09 02:00:50 +02"), Some(utc));
        assert_eq!(parse(spec, "2022/11/09 00:00:50 +2400"), None);
        assert_eq!(parse(spec, "2022/11/09 00:00:50 +05:7"), None);
        assert_eq!(parse("%FT%T%Ez", "2022-11-09T05:30:50+05:30"), Some(utc));
        assert_eq!(render("%FT%T%Ez", utc), "2022-11-09T00:00:50+00:00");
        assert_eq!(parse("%F %T %Z", "2022-11-09 00:00:50 GMT"), Some(utc));
        assert_eq!(parse("%F %T %Z", "2022-11-09 00:00:50 CET"), None);
    }

    #[test]
    fn nine_fraction_digits_truncate_to_micros() {
        let ts = ts("2022-11-09T00:00:50.336123Z");
        assert_eq!(render("%s.%9f", ts), "1667952050.336123000");
        assert_eq!(render("%T.%f", ts), "00:00:50.336123000");
        assert_eq!(parse("%s.%9f", "1667952050.336123999"), Some(ts));
        assert_eq!(render("%T.%1f", ts), "00:00:50.3");
        assert_eq!(render("%E6f|%E*f", ts), "336123|336123");
    }

    #[test]
    fn star_seconds_print_the_exact_fraction() {
        let spec = "%Y-%m-%dT%H:%M:%E*S%Ez";
        assert_eq!(render(spec, ts("2022-11-09T00:00:50Z")), "2022-11-09T00:00:50+00:00");
        assert_eq!(render(spec, ts("2022-11-09T00:00:50.5Z")), "2022-11-09T00:00:50.5+00:00");
        assert_eq!(render("%E*S", ts("2022-11-09T00:00:50.000120Z")), "50.00012");
        assert_eq!(render("%E*f", ts("2022-11-09T00:00:50Z")), "0");
        assert_eq!(
            parse(spec, "2022-11-09T00:00:50.123456789+00:00"),
            Some(ts("2022-11-09T00:00:50.123456Z"))
        );
        assert_eq!(render("%E0S|%E3S", ts("2022-11-09T00:00:05.25Z")), "05|05.250");
    }

    #[test]
    fn month_and_weekday_names() {
        let ts = ts("2022-11-09T15:04:05Z");
        assert_eq!(render("%a %b %e %H:%M:%S %Y", ts), "Wed Nov  9 15:04:05 2022");
        assert_eq!(render("%A, %B %d %Y %I:%M %p", ts), "Wednesday, November 09 2022 03:04 PM");
        assert_eq!(render("%c", ts), "Wed Nov  9 15:04:05 2022");
        assert_eq!(parse("%b %e %T %Y", "nov  9 15:04:05 2022"), Some(ts));
        assert_eq!(parse("%b %e %T %Y", "NOVEMBER 9 15:04:05 2022"), Some(ts));
        assert_eq!(parse("%a %b %e %T %Y", "Wed Nov 19 15:04:05 2022"), Some(days_later(ts, 10)));
        assert_eq!(parse("%B %d %Y %r", "November 09 2022 03:04:05 pm"), Some(ts));
        assert_eq!(parse("%b %d %Y", "Nox 09 2022"), None);
        assert_eq!(render("%u %w %j %y %D", ts), "3 3 313 22 11/09/22");
        assert_eq!(render("%u %w", days_later(ts, -3)), "7 0");
    }

    #[test]
    fn twelve_hour_clock_edges() {
        assert_eq!(render("%I %p", ts("2022-11-09T00:30:00Z")), "12 AM");
        assert_eq!(render("%I %p", ts("2022-11-09T12:30:00Z")), "12 PM");
        assert_eq!(parse("%F %I:%M %p", "2022-11-09 12:30 AM"), Some(ts("2022-11-09T00:30:00Z")));
        assert_eq!(parse("%F %I:%M %p", "2022-11-09 12:30 PM"), Some(ts("2022-11-09T12:30:00Z")));
        assert_eq!(parse("%F %I:%M %p", "2022-11-09 13:30 PM"), None);
    }

    #[test]
    fn partial_specs_default_to_the_epoch_day() {
        assert_eq!(parse("%H:%M", "01:02"), Some(Timestamp::from_micros(3_720_000_000)));
        assert_eq!(parse("%Y", "2022"), Some(ts("2022-01-01T00:00:00Z")));
        assert_eq!(parse("", ""), Some(Timestamp::EPOCH));
        assert_eq!(parse("", "x"), None);
    }

    #[test]
    fn adjacent_numbers_split_at_fixed_widths() {
        let ts = ts("2022-11-09T00:00:50Z");
        assert_eq!(render("%Y%m%d%H%M%S", ts), "20221109000050");
        assert_eq!(parse("%Y%m%d%H%M%S", "20221109000050"), Some(ts));
        assert_eq!(
            parse("%E4Y-%m-%d", "-001-03-01"),
            Some(Timestamp::from_civil(-1, 3, 1, 0, 0, 0, 0).expect("valid"))
        );
    }

    #[test]
    fn literals_and_percent() {
        let ts = ts("2022-11-09T00:00:50Z");
        assert_eq!(render("[%% %H:%M é]%n", ts), "[% 00:00 é]\n");
        assert_eq!(parse("[%% %H:%M é]%n", "[% 00:00 é]\n"), Some(Timestamp::EPOCH));
    }

    #[test]
    fn unknown_specifiers_are_named() {
        let error = TimeFormat::compile("%Y-%Q").expect_err("unknown");
        assert_eq!(error.to_string(), "unknown time specifier `%Q` in time format \"%Y-%Q\"");
        for (spec, name) in [
            ("%E*z", "%E*z"),
            ("%Eq", "%Eq"),
            ("%0f", "%0f"),
            ("%3x", "%3x"),
            ("%é", "%é"),
            ("%E", "%E"),
        ] {
            let message = TimeFormat::compile(spec).expect_err(spec).0;
            assert!(message.contains(&format!("`{name}`")), "{message}");
        }
        assert!(TimeFormat::compile("%E12S").expect_err("too long").0.contains("more than 9"));
        assert!(TimeFormat::compile("100%").expect_err("lone").0.contains("lone `%`"));
    }

    #[test]
    fn rfc3339_parses_nanos_and_offsets() {
        let expected = Timestamp::from_civil(2016, 10, 6, 0, 17, 9, 669_794).expect("valid");
        assert_eq!(Timestamp::parse_rfc3339("2016-10-06T00:17:09.669794202Z"), Some(expected));
        assert_eq!(Timestamp::parse_rfc3339("2016-10-06 02:17:09.669794+02:00"), Some(expected));
        assert_eq!(Timestamp::parse_rfc3339("2016-10-05t19:17:09.669794-0500"), Some(expected));
        assert_eq!(
            Timestamp::parse_rfc3339("2016-10-06T00:17:09z"),
            Some(ts("2016-10-06T00:17:09Z"))
        );
        for text in [
            "",
            "2016-10-06T00:17:09",
            "2016-10-06T00:17:09.Z",
            "2016-10-06T00:17:09Z ",
            "2016-10-32T00:17:09Z",
        ] {
            assert_eq!(Timestamp::parse_rfc3339(text), None, "{text:?}");
        }
    }

    #[test]
    fn rfc3339_fast_path_agrees_with_the_general_reader() {
        for text in [
            "2016-10-06T00:17:09Z",
            "2016-10-06T00:17:09.6Z",
            "2016-10-06T00:17:09.669794202Z",
            "2016-10-06T00:17:09.6697942021Z",
            "2016-10-06T00:17:09.66979x202Z",
            "0000-01-01T00:00:00Z",
            "9999-12-31T23:59:59.999999Z",
            "2016-02-30T00:17:09Z",
        ] {
            let general = parse_items(&RFC3339, text.as_bytes());
            assert_eq!(Timestamp::parse_rfc3339(text), general, "{text}");
            let fast = parse_rfc3339_utc(text.as_bytes());
            assert!(fast.is_none() || fast == general, "{text}");
        }
    }

    #[test]
    fn extended_specifiers() {
        let ts = ts("2022-11-09T00:00:50.25Z");
        assert_eq!(render("%Y-%m-%d%ET%H:%M:%E*S", ts), "2022-11-09T00:00:50.25");
        assert_eq!(parse("%Y-%m-%d%ET%H:%M:%E*S", "2022-11-09t00:00:50.25"), Some(ts));
        assert_eq!(parse("%T.%E*f", "00:00:50.25"), Some(Timestamp::from_micros(50_250_000)));
        let year_one_bc = Timestamp::from_civil(0, 6, 1, 0, 0, 0, 0).expect("valid");
        assert_eq!(render("%E4Y|%Y", year_one_bc), "0000|0000");
        let before = Timestamp::from_civil(-5, 6, 1, 0, 0, 0, 0).expect("valid");
        assert_eq!(render("%E4Y", before), "-005");
        assert_eq!(parse("%E4Y-%m", "-005-06"), Some(before));
    }

    #[test]
    fn rfc3339_prints_the_shortest_exact_fraction() {
        assert_eq!(ts("2022-11-09T00:00:50.336Z").to_rfc3339(), "2022-11-09T00:00:50.336Z");
        assert_eq!(ts("2022-11-09T00:00:50.336123Z").to_rfc3339(), "2022-11-09T00:00:50.336123Z");
        assert_eq!(ts("2022-11-09T00:00:50Z").to_rfc3339(), "2022-11-09T00:00:50.000Z");
        assert_eq!(ts("2022-11-09T00:00:50.000001Z").to_string(), "2022-11-09T00:00:50.000001Z");
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
    fn two_digit_years_pivot_at_69() {
        assert_eq!(parse("%D", "11/09/22"), Some(ts("2022-11-09T00:00:00Z")));
        assert_eq!(parse("%D", "11/09/69"), Some(ts("1969-11-09T00:00:00Z")));
        assert_eq!(parse("%D", "01/01/68"), Some(ts("2068-01-01T00:00:00Z")));
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
