//! Calendar arithmetic behind [`Timestamp`]: the time-unit constants, leap years and
//! month lengths of the proleptic Gregorian calendar, Howard Hinnant's
//! `days_from_civil` / `civil_from_days` (shifted so that every division is unsigned or
//! Euclidean, for any `i32` year), and the English month and weekday names with their
//! abbreviations. Everything is UTC and nothing here overflows.

use super::Timestamp;

pub(super) const MICROS_PER_SEC: i64 = 1_000_000;
pub(super) const SECS_PER_DAY: i64 = 86_400;
pub(super) const MICROS_PER_DAY: i64 = SECS_PER_DAY * MICROS_PER_SEC;
/// Days from 0000-03-01 to 1970-01-01 in Hinnant's shifted calendar.
const EPOCH_SHIFT_DAYS: i64 = 719_468;
const DAYS_PER_ERA: i64 = 146_097;
/// 400-year eras added to years so that they are never negative (`i32::MIN` included).
const ERA_SHIFT: i64 = 1 << 23;
/// 1970-01-01 was a Thursday (Sunday = 0).
pub(super) const EPOCH_WEEKDAY: i64 = 4;

pub(super) const MONTHS: [&str; 12] = [
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
pub(super) const WEEKDAYS: [&str; 7] =
    ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];

/// `days` days plus `secs` seconds plus `micros` after the epoch, if it fits. Sums in
/// `i128` so that a negative `secs` with a positive `micros` can reach `i64::MIN`.
pub(super) fn from_parts(days: i64, secs: i64, micros: i64) -> Option<Timestamp> {
    let secs = i128::from(days) * i128::from(SECS_PER_DAY) + i128::from(secs);
    let micros = secs * i128::from(MICROS_PER_SEC) + i128::from(micros);
    i64::try_from(micros).ok().map(Timestamp)
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

pub(super) fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

pub(super) fn days_in_year(year: i64) -> u32 {
    if is_leap(year) { 366 } else { 365 }
}

/// Days since 1970-01-01 of a valid date (Hinnant's `days_from_civil`). Callers keep
/// `year` within `i32`; shifting it by [`ERA_SHIFT`] eras makes every division unsigned.
pub(super) fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
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
pub(super) fn civil_from_days(days: i64) -> (i64, u32, u32) {
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

/// The three-letter form of an English month or weekday name.
pub(super) fn abbreviation(name: &str) -> &str {
    name.get(..3).unwrap_or(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time_format::tests::{parse, ts};

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
}
