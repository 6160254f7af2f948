//! Turns one value's text into its typed form and stores it in the record: `-` and
//! empty text are absent, integers must be plain decimal that fits the column, times
//! are read with the operator's time format, and `upstream_cluster` loses Istio
//! 1.23's trailing `;` so that one service groups together across versions.

use std::borrow::Cow;

use super::operators::Slot;
use crate::field::{Field, ValueClass};
use crate::record::{AccessLogRecord, FieldValue};

/// Why a value was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidValue;

/// Stores `text` in `slot` of `record`, typed.
pub fn store<'a>(
    record: &mut AccessLogRecord<'a>,
    slot: &Slot,
    text: Cow<'a, str>,
) -> Result<(), InvalidValue> {
    let absent = is_absent(&text);
    match slot {
        Slot::Extra(name) => record.set_extra(name, (!absent).then_some(text)),
        _ if absent => record.set(field_of(slot), FieldValue::Absent).map_err(|_| InvalidValue)?,
        Slot::Time(format) => {
            let ts = format.parse(&text).ok_or(InvalidValue)?;
            record.ts = Some(ts);
        }
        Slot::Column(field) => store_column(record, *field, text)?,
    }
    Ok(())
}

/// Stores an integer that arrived typed (a JSON number).
pub fn store_integer(
    record: &mut AccessLogRecord<'_>,
    slot: &Slot,
    number: u64,
) -> Result<(), InvalidValue> {
    match slot {
        Slot::Column(field) if field.class() == ValueClass::Integer => {
            record.set(*field, FieldValue::Integer(number)).map_err(|_| InvalidValue)
        }
        _ => store(record, slot, Cow::Owned(number.to_string())),
    }
}

/// Clears `slot` (a JSON `null`).
pub fn store_absent(record: &mut AccessLogRecord<'_>, slot: &Slot) {
    match slot {
        Slot::Extra(name) => record.set_extra(name, None),
        _ => {
            let _ = record.set(field_of(slot), FieldValue::Absent);
        }
    }
}

fn field_of(slot: &Slot) -> Field {
    slot.field().unwrap_or(Field::StartTime)
}

fn is_absent(text: &str) -> bool {
    text.is_empty() || text == "-"
}

fn store_column<'a>(
    record: &mut AccessLogRecord<'a>,
    field: Field,
    text: Cow<'a, str>,
) -> Result<(), InvalidValue> {
    let value = match field.class() {
        ValueClass::Integer => {
            FieldValue::Integer(parse_decimal(text.as_bytes()).ok_or(InvalidValue)?)
        }
        _ if field == Field::UpstreamCluster => match strip_semicolon(text) {
            name if is_absent(&name) => FieldValue::Absent,
            name => FieldValue::Text(name),
        },
        _ => FieldValue::Text(text),
    };
    record.set(field, value).map_err(|_| InvalidValue)
}

/// Plain decimal digits, no sign, no overflow.
#[inline]
pub fn parse_decimal(text: &[u8]) -> Option<u64> {
    if text.is_empty() || text.len() > 20 {
        return None;
    }
    text.iter().try_fold(0u64, |number, &byte| {
        let digit = byte.checked_sub(b'0').filter(|digit| *digit < 10)?;
        number.checked_mul(10)?.checked_add(u64::from(digit))
    })
}

pub(crate) fn strip_semicolon(text: Cow<'_, str>) -> Cow<'_, str> {
    match text {
        Cow::Borrowed(text) => Cow::Borrowed(text.strip_suffix(';').unwrap_or(text)),
        Cow::Owned(mut text) => {
            if text.ends_with(';') {
                text.pop();
            }
            Cow::Owned(text)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_parsing_refuses_signs_and_overflow() {
        assert_eq!(parse_decimal(b"503"), Some(503));
        assert_eq!(parse_decimal(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_decimal(b"18446744073709551616"), None);
        assert_eq!(parse_decimal(b"-1"), None);
        assert_eq!(parse_decimal(b""), None);
        assert_eq!(parse_decimal(b"1.5"), None);
    }

    #[test]
    fn dash_is_absent_and_cluster_loses_semicolon() {
        let mut record = AccessLogRecord::default();
        let cluster = Slot::Column(Field::UpstreamCluster);
        store(&mut record, &cluster, Cow::Borrowed("outbound|80||a.b;")).unwrap();
        assert_eq!(record.upstream_cluster.as_deref(), Some("outbound|80||a.b"));
        store(&mut record, &cluster, Cow::Borrowed("-")).unwrap();
        assert_eq!(record.upstream_cluster, None);
    }

    #[test]
    fn response_code_must_fit_sixteen_bits() {
        let mut record = AccessLogRecord::default();
        let code = Slot::Column(Field::ResponseCode);
        assert_eq!(store(&mut record, &code, Cow::Borrowed("70000")), Err(InvalidValue));
        store(&mut record, &code, Cow::Borrowed("0")).unwrap();
        assert_eq!(record.response_code, Some(0));
    }
}
