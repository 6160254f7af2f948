//! Parsing: text back into a [`Timestamp`]. Two fixed-position fast paths (the default
//! `%START_TIME%` shape and UTC RFC 3339, checked eight bytes at a time) answer the
//! common case or step aside; the general reader walks the items with a [`Cursor`],
//! gathers [`Fields`], and resolves them to one instant in UTC. Never allocates, never
//! panics, never overflows: anything out of range is `None`.

use super::Timestamp;
use super::civil::{
    MICROS_PER_SEC, MONTHS, SECS_PER_DAY, WEEKDAYS, abbreviation, days_from_civil, days_in_month,
    days_in_year, from_parts,
};
use super::item::Item;

/// Longest number read, in digits (`i64::MAX` has 19).
const MAX_NUMBER_DIGITS: usize = 19;
/// Longest variable-width `%Y` read, in digits: every `Timestamp` year fits in six.
const MAX_YEAR_DIGITS: usize = 6;

/// `2022-11-09T00:00:50.336Z` by fixed positions; `None` sends the text to the general
/// reader, which gives the final answer (leap seconds, short fields, other fractions).
pub(super) fn parse_envoy_default(text: &[u8]) -> Option<Timestamp> {
    let (secs, rest) = fast_date_time(text)?;
    let [b'.', f0, f1, f2, b'Z'] = *rest else { return None };
    let millis = fixed_number(&[f0, f1, f2])?;
    Some(Timestamp(secs * MICROS_PER_SEC + i64::from(millis) * 1000))
}

/// `2016-10-06T00:17:09Z` or `…09.669794202Z` by fixed positions, else `None`.
pub(super) fn parse_rfc3339_utc(text: &[u8]) -> Option<Timestamp> {
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
pub(super) fn parse_items(items: &[Item], text: &[u8]) -> Option<Timestamp> {
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
    use crate::time_format::TimeFormat;
    use crate::time_format::item::RFC3339;
    use crate::time_format::tests::{parse, render, ts};

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
    fn two_digit_years_pivot_at_69() {
        assert_eq!(parse("%D", "11/09/22"), Some(ts("2022-11-09T00:00:00Z")));
        assert_eq!(parse("%D", "11/09/69"), Some(ts("1969-11-09T00:00:00Z")));
        assert_eq!(parse("%D", "01/01/68"), Some(ts("2068-01-01T00:00:00Z")));
    }
}
