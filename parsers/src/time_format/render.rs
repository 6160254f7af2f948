//! Rendering: a [`Civil`] instant written out item by item, without allocating beyond
//! `out`. Numbers are zero-padded by hand (no `format!`), fractions are truncated to the
//! digits asked for or trimmed to the shortest exact form, and names are English.

use super::Civil;
use super::civil::{MONTHS, WEEKDAYS, abbreviation};
use super::item::{Item, NameStyle};

/// Appends `civil` (whose instant is `epoch_secs` whole seconds after the epoch) as
/// `items` to `out`.
pub(super) fn render_items(items: &[Item], civil: &Civil, epoch_secs: i64, out: &mut String) {
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

#[cfg(test)]
mod tests {
    use crate::time_format::Timestamp;
    use crate::time_format::civil::MICROS_PER_DAY;
    use crate::time_format::tests::{parse, render, ts};

    fn days_later(ts: Timestamp, days: i64) -> Timestamp {
        Timestamp::from_micros(ts.micros() + days * MICROS_PER_DAY)
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
    fn rfc3339_prints_the_shortest_exact_fraction() {
        assert_eq!(ts("2022-11-09T00:00:50.336Z").to_rfc3339(), "2022-11-09T00:00:50.336Z");
        assert_eq!(ts("2022-11-09T00:00:50.336123Z").to_rfc3339(), "2022-11-09T00:00:50.336123Z");
        assert_eq!(ts("2022-11-09T00:00:50Z").to_rfc3339(), "2022-11-09T00:00:50.000Z");
        assert_eq!(ts("2022-11-09T00:00:50.000001Z").to_string(), "2022-11-09T00:00:50.000001Z");
    }
}
