//! [`Item`], the compiled form of a time format: one literal or one field per item,
//! walked in order by rendering and by parsing. Also the built-in item lists that need
//! no compiling: the default `%START_TIME%` format and the two RFC 3339 shapes.

/// One compiled piece of a format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Item {
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
pub(super) enum NameStyle {
    Abbreviated,
    Full,
}

impl Item {
    /// Whether the item can begin with a digit, so a greedy number before it must stop.
    pub(super) fn starts_with_digit(&self) -> bool {
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
pub(super) static ENVOY_DEFAULT_ITEMS: [Item; 12] =
    date_time(Item::Byte(b'T'), Item::SecondFrac(3), Item::Byte(b'Z'));
/// RFC 3339 text with microseconds.
pub(super) static RFC3339_MICROS: [Item; 12] =
    date_time(Item::Byte(b'T'), Item::SecondFrac(6), Item::Byte(b'Z'));
/// `%Y-%m-%d%ET%H:%M:%E*S%Ez`: what
/// [`Timestamp::parse_rfc3339`](super::Timestamp::parse_rfc3339) reads.
pub(super) static RFC3339: [Item; 12] =
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
