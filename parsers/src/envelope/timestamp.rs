//! The RFC 3339 stamp at the start of a line: the `kubectl logs --timestamps` envelope,
//! plus the reading of a leading stamp that CRI lines share with it (find it, check its
//! shape, parse it). A stamp shaped like Envoy's own `%START_TIME%` (milliseconds) is the
//! access log's, not kubectl's, and stays in the line.

use std::borrow::Cow;

use super::{Envelopes, RuntimeEnvelope};
use crate::time_format::Timestamp;

/// Longest RFC 3339 timestamp looked for at the start of a line (nanoseconds and offset).
const MAX_TIMESTAMP_BYTES: usize = 35;

/// Reads a `kubectl logs --timestamps` stamp: `<RFC 3339 nano time> <line>`.
///
/// kubectl prints UTC with trailing zeros of the nanoseconds trimmed, so any number of
/// fraction digits is kubectl's. A custom format that itself starts with a bare UTC
/// time is read all the same: [`crate::stream::LogStream`] retries the line as it
/// came when the unwrapped line does not parse.
pub(super) fn kubectl_timestamp(body: &[u8]) -> Option<RuntimeEnvelope<'_>> {
    let (time, line) = split_timestamp(body)?;
    let shape = rfc3339_shape(time)?;
    let kubectl_like = shape.utc;
    if !kubectl_like {
        return None;
    }
    let mut envelope = RuntimeEnvelope::around(Envelopes::TIMESTAMP, Cow::Borrowed(line));
    envelope.time = parse_time(time);
    Some(envelope)
}

/// Splits a line at its first space, if that comes early enough to end a timestamp.
/// A line that does not start with a digit (an RFC 3339 year) has no timestamp: most
/// access log lines stop at that first byte, before any search.
pub(super) fn split_timestamp(body: &[u8]) -> Option<(&[u8], &[u8])> {
    if !body.first().is_some_and(u8::is_ascii_digit) {
        return None;
    }
    let window = body.get(..=MAX_TIMESTAMP_BYTES).unwrap_or(body);
    let space = memchr::memchr(b' ', window)?;
    let (time, rest) = body.split_at_checked(space)?;
    Some((time, rest.get(1..)?))
}

pub(super) fn parse_time(time: &[u8]) -> Option<Timestamp> {
    std::str::from_utf8(time).ok().and_then(Timestamp::parse_rfc3339)
}

/// What an RFC 3339 timestamp looks like: kubectl's are always in UTC.
pub(super) struct TimestampShape {
    utc: bool,
}

/// Checks that `token` is `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`, the fraction
/// having 1 to 9 digits.
pub(super) fn rfc3339_shape(token: &[u8]) -> Option<TimestampShape> {
    let (date_time, rest) = token.split_at_checked(19)?;
    if !fits(date_time, b"0000-00-00T00:00:00") {
        return None;
    }
    let zone = match rest.strip_prefix(b".") {
        Some(fraction) => {
            let digits = fraction.iter().take_while(|byte| byte.is_ascii_digit()).count();
            (1..=9).contains(&digits).then_some(())?;
            fraction.get(digits..)?
        }
        None => rest,
    };
    let utc = zone == b"Z";
    if !utc && !fits(zone, b"+00:00") && !fits(zone, b"-00:00") {
        return None;
    }
    Some(TimestampShape { utc })
}

/// Whether `bytes` match `template`, where `0` stands for any ASCII digit.
pub(super) fn fits(bytes: &[u8], template: &[u8]) -> bool {
    bytes.len() == template.len()
        && bytes.iter().zip(template).all(|(&byte, &expected)| match expected {
            b'0' => byte.is_ascii_digit(),
            _ => byte == expected,
        })
}

#[cfg(test)]
mod tests {
    use crate::envelope::tests::{ENVOY_LINE, KUBECTL_TIME, assert_untouched, time};
    use crate::envelope::{Envelopes, unwrap};

    #[test]
    fn kubectl_timestamp_is_removed() {
        let raw = format!("{KUBECTL_TIME} {ENVOY_LINE}");
        let unwrapped = unwrap(raw.as_bytes());
        assert_eq!(&*unwrapped.line, ENVOY_LINE.as_bytes());
        assert_eq!(unwrapped.time, time(KUBECTL_TIME));
        assert!(unwrapped.time.is_some());
        assert_eq!(unwrapped.envelopes, Envelopes::TIMESTAMP);
        assert_eq!(unwrapped.stream, None);
    }

    #[test]
    fn kubectl_stamps_with_trimmed_nanoseconds_are_unwrapped() {
        for raw in ["2022-11-09T00:00:50.418Z GET / 200", "2022-11-09T00:00:50Z GET / 200"] {
            assert_eq!(&*unwrap(raw.as_bytes()).line, b"GET / 200");
        }
    }

    #[test]
    fn timestamp_lookalikes_pass_through() {
        for raw in [
            KUBECTL_TIME,
            "2022-11-09T00:00:50.418245811Z",
            "2022-11-09T00:00:50.418245811+00:00 GET / 200",
            "2022-11-09T00:00:50.4182458111Z GET / 200",
            "2022-11-09 00:00:50.418245811Z GET / 200",
            "2022-11-09T00:00:50.Z GET / 200",
            "2022-11-09T00:00:49.001284Z\tinfo\txdsproxy\tconnected to upstream XDS server",
            "9999-99-99T99:99:99.1234Z\u{e9}",
        ] {
            assert_untouched(raw.as_bytes());
        }
    }
}
