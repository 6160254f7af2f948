//! JSON access logs: Envoy's `json_format` (and Istio's JSON encoding) is an object
//! of key → format string, so a JSON format compiles each value with the same
//! operator table as text formats. A value that is one operator (`"%RESPONSE_CODE%"`)
//! maps its key to that column; a value with text around operators (`"%DURATION%ms"`)
//! is read with a small text format; anything else is a constant. Lines may carry
//! values as strings (`"503"`, `"-"`, older proxies) or typed (`503`, `null`); keys
//! the format does not name are kept as extras, never dropped.

use std::borrow::Cow;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

use serde::de::{Deserializer as _, MapAccess, Visitor};

use super::FormatError;
use super::operators::{ColumnClaims, Slot};
use super::text::TextFormat;
use super::tokens::{Token, tokenize};
use super::value::{store, store_absent, store_integer};
use crate::error::{ErrorKind, ParseError};
use crate::field::Field;
use crate::record::{AccessLogRecord, FieldValue};
use crate::time_format::Timestamp;

/// How a format that starts with `{` but is no JSON object is described.
pub(super) const NOT_AN_OBJECT: &str = "not a JSON format object";

/// What one key of a JSON format holds.
#[derive(Debug, Clone)]
enum KeySpec {
    /// Exactly one operator.
    Slot(Slot),
    /// Operators with literal text around them.
    Template(Box<TextFormat>),
    /// No operator: a constant the line repeats.
    Constant(serde_json::Value),
}

/// Keys are looked up once per value of every line. The keys come from the
/// operator's own config (no hash flooding to fear) and differ in length or at an
/// end, so a hash of the length and the first and last eight bytes is enough (equal
/// hashes are told apart by comparing the keys) and costs a few instructions where
/// SipHash, or even FNV over every byte, costs dozens.
type KeyMap = HashMap<Box<str>, KeySpec, BuildHasherDefault<KeyHash>>;

/// Hashes a key by its length and its first and last eight bytes.
#[derive(Default)]
struct KeyHash(u64);

impl Hasher for KeyHash {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let ends = match (bytes.first_chunk::<8>(), bytes.last_chunk::<8>()) {
            (Some(head), Some(tail)) => {
                u64::from_le_bytes(*head) ^ u64::from_le_bytes(*tail).rotate_left(29)
            }
            _ => bytes.iter().fold(0u64, |word, byte| word << 8 | u64::from(*byte)),
        };
        let mixed = self.0 ^ ends ^ (bytes.len() as u64);
        self.0 = mixed.wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(31);
    }
}

/// A compiled JSON access-log format.
#[derive(Debug, Clone)]
pub struct JsonFormat {
    keys: KeyMap,
    /// Keys in the order they were declared, for rendering.
    order: Vec<Box<str>>,
}

impl JsonFormat {
    /// Compiles a `json_format` object: `{"key": "%OPERATOR%", …}`.
    pub fn compile(format: &str) -> Result<JsonFormat, FormatError> {
        let object: serde_json::Map<String, serde_json::Value> = serde_json::from_str(format)
            .map_err(|error| {
                let offset = byte_offset(format.as_bytes(), error.line(), error.column());
                FormatError::new(offset, format!("{NOT_AN_OBJECT}: {error}"))
            })?;
        let mut keys = KeyMap::with_capacity_and_hasher(object.len(), Default::default());
        let mut order = Vec::with_capacity(object.len());
        let mut claims = ColumnClaims::default();
        for (key, value) in object {
            let spec = match key_spec(&key, value)? {
                // A value without a column is named by its key, as the logs show it.
                KeySpec::Slot(Slot::Extra(_)) => {
                    KeySpec::Slot(Slot::Extra(Arc::from(key.as_str())))
                }
                KeySpec::Slot(slot) => KeySpec::Slot(claims.claim(slot, &key)),
                spec => spec,
            };
            order.push(Box::from(key.as_str()));
            keys.insert(Box::from(key), spec);
        }
        Ok(JsonFormat { keys, order })
    }

    /// Reads one JSON object line into a record.
    pub fn parse<'a>(&self, line: &'a [u8]) -> Result<AccessLogRecord<'a>, ParseError> {
        self.parse_scored(line).map(|(record, _)| record)
    }

    /// [`Self::parse`], plus how doubtful the reading is: the number of keys this
    /// format does not name (kept as extras). `auto` prefers the JSON preset that
    /// names every key of a line.
    pub fn parse_scored<'a>(
        &self,
        line: &'a [u8],
    ) -> Result<(AccessLogRecord<'a>, u32), ParseError> {
        match std::str::from_utf8(line) {
            Ok(text) => self.read_object(serde_json::Deserializer::from_str(text), line),
            Err(_) => self.parse_lossy(line),
        }
    }

    /// A line with invalid UTF-8: read its lossy decoding, keep an owned record.
    fn parse_lossy(&self, line: &[u8]) -> Result<(AccessLogRecord<'static>, u32), ParseError> {
        let text = String::from_utf8_lossy(line);
        let deserializer = serde_json::Deserializer::from_str(&text);
        let (record, doubt) = self.read_object(deserializer, line)?;
        let mut record = record.into_owned();
        record.lossy_utf8 = true;
        Ok((record, doubt))
    }

    /// Reads the one JSON object of the line. From `&str` serde_json skips
    /// re-checking UTF-8 string by string: the line was checked once.
    fn read_object<'a, R: serde_json::de::Read<'a>>(
        &self,
        mut deserializer: serde_json::Deserializer<R>,
        line: &[u8],
    ) -> Result<(AccessLogRecord<'a>, u32), ParseError> {
        let visitor = LineVisitor { format: self, line };
        let parsed =
            deserializer.deserialize_map(visitor).map_err(|error| json_error(line, &error))?;
        deserializer.end().map_err(|error| json_error(line, &error))?;
        parsed
    }

    /// The JSON line Envoy would write for `record`.
    pub fn render(&self, record: &AccessLogRecord<'_>) -> String {
        let mut object = serde_json::Map::with_capacity(self.order.len());
        for key in &self.order {
            if let Some(spec) = self.keys.get(key) {
                object.insert(key.to_string(), render_value(spec, record));
            }
        }
        serde_json::Value::Object(object).to_string()
    }
}

fn key_spec(key: &str, value: serde_json::Value) -> Result<KeySpec, FormatError> {
    let text = match value {
        serde_json::Value::String(text) => text,
        serde_json::Value::Object(_) | serde_json::Value::Array(_) => {
            let message = format!("JSON format key {key:?}: nested values are not supported");
            return Err(FormatError::new(0, message));
        }
        constant => return Ok(KeySpec::Constant(constant)),
    };
    let tokens = tokenize(&text)?;
    match tokens.as_slice() {
        [Token::Operator(op)] => Ok(KeySpec::Slot(Slot::for_operator(op, 0)?)),
        tokens if tokens.iter().any(|token| matches!(token, Token::Operator(_))) => {
            Ok(KeySpec::Template(Box::new(TextFormat::compile(&text)?)))
        }
        _ => Ok(KeySpec::Constant(serde_json::Value::String(text))),
    }
}

fn json_error(line: &[u8], error: &serde_json::Error) -> ParseError {
    let offset = byte_offset(line, error.line(), error.column());
    ParseError::at(ErrorKind::InvalidJson { message: error.to_string() }, line, offset)
}

/// serde_json reports 1-based line and column; turn them into a byte offset.
fn byte_offset(text: &[u8], line: usize, column: usize) -> usize {
    let line_start: usize = text
        .split_inclusive(|byte| *byte == b'\n')
        .take(line.saturating_sub(1))
        .map(<[u8]>::len)
        .sum();
    (line_start + column.saturating_sub(1)).min(text.len())
}

struct LineVisitor<'f, 'l> {
    format: &'f JsonFormat,
    /// The raw line, to locate a refused value in error messages.
    line: &'l [u8],
}

impl<'de> Visitor<'de> for LineVisitor<'_, '_> {
    type Value = Result<(AccessLogRecord<'de>, u32), ParseError>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
        let mut record = AccessLogRecord::default();
        let mut invalid = None;
        let mut unknown_keys = 0u32;
        while let Some(JsonKey(key)) = map.next_key::<JsonKey<'de>>()? {
            let value: JsonScalar<'de> = map.next_value()?;
            match self.store_key(&mut record, &key, value) {
                Ok(known) => unknown_keys += u32::from(!known),
                Err(column) => {
                    invalid.get_or_insert((column, key));
                }
            }
        }
        Ok(match invalid {
            None => Ok((record, unknown_keys)),
            Some((column, key)) => Err(self.invalid(column, &key)),
        })
    }
}

impl LineVisitor<'_, '_> {
    /// Stores the value of `key`; says whether the format names the key, or on
    /// failure returns the column that refused the value.
    fn store_key<'de>(
        &self,
        record: &mut AccessLogRecord<'de>,
        key: &str,
        value: JsonScalar<'de>,
    ) -> Result<bool, String> {
        match self.format.keys.get(key) {
            Some(KeySpec::Slot(slot)) => {
                store_scalar(record, slot, value).map_err(|_| column_of(slot))
            }
            Some(KeySpec::Template(format)) => merge_template(record, format, value),
            Some(KeySpec::Constant(_)) => Ok(()),
            None => {
                let slot = Slot::Extra(Arc::from(key));
                store_scalar(record, &slot, value).map_err(|_| key.to_owned())?;
                return Ok(false);
            }
        }
        .map(|()| true)
    }

    /// A refused value, located at the value of `key` in the line.
    fn invalid(&self, column: String, key: &str) -> ParseError {
        let needle = format!("\"{key}\"");
        let value_at = memchr::memmem::find(self.line, needle.as_bytes()).map(|at| {
            let after_key = at + needle.len();
            let skip = self.line[after_key..]
                .iter()
                .take_while(|byte| byte.is_ascii_whitespace() || **byte == b':')
                .count();
            after_key + skip
        });
        ParseError::at(ErrorKind::InvalidValue { column }, self.line, value_at.unwrap_or(0))
    }
}

/// A map key, borrowed from the line unless it has escapes (serde's `Cow<str>`
/// always copies); read with the value visitor, whose strings borrow the same way.
struct JsonKey<'a>(Cow<'a, str>);

impl<'de> serde::Deserialize<'de> for JsonKey<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match deserializer.deserialize_str(JsonScalarVisitor)? {
            JsonScalar::Text(key) => Ok(JsonKey(key)),
            _ => Err(serde::de::Error::custom("a JSON object key must be a string")),
        }
    }
}

fn column_of(slot: &Slot) -> String {
    match slot {
        Slot::Extra(name) => name.to_string(),
        slot => slot.field().map_or("ts", Field::column).to_owned(),
    }
}

/// One JSON value as an access log holds it, read in a single pass: `null`, a
/// whole number, or text: a string's contents (borrowed when it has no escapes), or
/// the JSON text of any other value (floats, booleans, objects).
enum JsonScalar<'a> {
    Null,
    Integer(u64),
    Text(Cow<'a, str>),
}

impl<'de> serde::Deserialize<'de> for JsonScalar<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(JsonScalarVisitor)
    }
}

struct JsonScalarVisitor;

impl<'de> Visitor<'de> for JsonScalarVisitor {
    type Value = JsonScalar<'de>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        Ok(JsonScalar::Null)
    }

    fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        Ok(JsonScalar::Null)
    }

    fn visit_u64<E: serde::de::Error>(self, number: u64) -> Result<Self::Value, E> {
        Ok(JsonScalar::Integer(number))
    }

    fn visit_i64<E: serde::de::Error>(self, number: i64) -> Result<Self::Value, E> {
        Ok(JsonScalar::Text(Cow::Owned(number.to_string())))
    }

    fn visit_f64<E: serde::de::Error>(self, number: f64) -> Result<Self::Value, E> {
        Ok(JsonScalar::Text(Cow::Owned(serde_json::Value::from(number).to_string())))
    }

    fn visit_bool<E: serde::de::Error>(self, value: bool) -> Result<Self::Value, E> {
        Ok(JsonScalar::Text(Cow::Borrowed(if value { "true" } else { "false" })))
    }

    fn visit_borrowed_str<E: serde::de::Error>(self, text: &'de str) -> Result<Self::Value, E> {
        Ok(JsonScalar::Text(Cow::Borrowed(text)))
    }

    fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Self::Value, E> {
        Ok(JsonScalar::Text(Cow::Owned(text.to_owned())))
    }

    fn visit_string<E: serde::de::Error>(self, text: String) -> Result<Self::Value, E> {
        Ok(JsonScalar::Text(Cow::Owned(text)))
    }

    fn visit_map<M: MapAccess<'de>>(self, map: M) -> Result<Self::Value, M::Error> {
        let deserializer = serde::de::value::MapAccessDeserializer::new(map);
        let value = <serde_json::Value as serde::Deserialize>::deserialize(deserializer)?;
        Ok(JsonScalar::Text(Cow::Owned(value.to_string())))
    }

    fn visit_seq<S: serde::de::SeqAccess<'de>>(self, seq: S) -> Result<Self::Value, S::Error> {
        let deserializer = serde::de::value::SeqAccessDeserializer::new(seq);
        let value = <serde_json::Value as serde::Deserialize>::deserialize(deserializer)?;
        Ok(JsonScalar::Text(Cow::Owned(value.to_string())))
    }
}

/// Stores one JSON value: text as text, whole numbers typed, `null` absent.
fn store_scalar<'a>(
    record: &mut AccessLogRecord<'a>,
    slot: &Slot,
    value: JsonScalar<'a>,
) -> Result<(), ()> {
    match value {
        JsonScalar::Null => {
            store_absent(record, slot);
            Ok(())
        }
        JsonScalar::Integer(number) => store_integer(record, slot, number).map_err(|_| ()),
        JsonScalar::Text(text) if matches!(slot, Slot::Time(_)) => store_time(record, slot, text),
        JsonScalar::Text(text) => store(record, slot, text).map_err(|_| ()),
    }
}

/// Times are read with the format's time format, then as RFC 3339 as a fallback.
fn store_time<'a>(
    record: &mut AccessLogRecord<'a>,
    slot: &Slot,
    text: Cow<'a, str>,
) -> Result<(), ()> {
    if store(record, slot, text.clone()).is_ok() {
        return Ok(());
    }
    let ts = Timestamp::parse_rfc3339(&text).ok_or(())?;
    record.ts = Some(ts);
    Ok(())
}

/// A value like `"%DURATION%ms"`: read it with its small text format and copy the
/// fields it yields into the record.
fn merge_template(
    record: &mut AccessLogRecord<'_>,
    format: &TextFormat,
    value: JsonScalar<'_>,
) -> Result<(), String> {
    let text = match value {
        JsonScalar::Null => return Ok(()),
        JsonScalar::Integer(number) => Cow::Owned(number.to_string()),
        JsonScalar::Text(text) if text == "-" => return Ok(()),
        JsonScalar::Text(text) => text,
    };
    let parsed = format
        .parse(text.as_bytes())
        .map_err(|error| format!("a templated value ({})", error.kind))?
        .into_owned();
    for field in Field::ALL {
        let value = match parsed.get(field) {
            FieldValue::Absent => continue,
            FieldValue::Text(text) => FieldValue::Text(Cow::Owned(text.into_owned())),
            FieldValue::Integer(number) => FieldValue::Integer(number),
            FieldValue::Time(ts) => FieldValue::Time(ts),
        };
        record.set(field, value).map_err(|_| field.column().to_owned())?;
    }
    for extra in parsed.extra {
        record.set_extra(&extra.name, extra.value);
    }
    Ok(())
}

fn render_value(spec: &KeySpec, record: &AccessLogRecord<'_>) -> serde_json::Value {
    use serde_json::Value;
    let slot = match spec {
        KeySpec::Constant(value) => return value.clone(),
        KeySpec::Template(format) => return Value::String(format.render(record)),
        KeySpec::Slot(slot) => slot,
    };
    let value = match slot {
        Slot::Extra(name) => {
            let extra = record.extra.iter().find(|extra| extra.name == *name);
            let text = extra.and_then(|extra| extra.value.as_deref());
            return text.map_or(Value::Null, |text| Value::String(text.to_owned()));
        }
        Slot::Time(format) => match record.ts {
            Some(ts) => {
                let mut text = String::new();
                format.render(ts, &mut text);
                return Value::String(text);
            }
            None => FieldValue::Absent,
        },
        Slot::Column(field) => record.get(*field),
    };
    match value {
        FieldValue::Absent => Value::Null,
        FieldValue::Text(text) => Value::String(text.into_owned()),
        FieldValue::Integer(number) => Value::from(number),
        FieldValue::Time(ts) => Value::String(ts.to_rfc3339()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FORMAT: &str =
        r#"{"ts":"%START_TIME%","code":"%RESPONSE_CODE%","took":"%DURATION%ms","kind":"access"}"#;

    fn parse<'a>(format: &str, line: &'a str) -> Result<(AccessLogRecord<'a>, u32), ParseError> {
        JsonFormat::compile(format).unwrap().parse_scored(line.as_bytes())
    }

    #[test]
    fn trailing_blanks_after_the_object_are_accepted() {
        let line = "{\"code\":503,\"took\":\"81ms\"} \t ";
        assert_eq!(parse(FORMAT, line).unwrap().0.response_code, Some(503));
    }

    #[test]
    fn keys_map_to_operator_columns_and_templates_read_their_text() {
        let line = r#"{"ts":"2022-11-09T00:00:50.336Z","code":503,"took":"81ms","kind":"access"}"#;
        let (record, doubt) = parse(FORMAT, line).unwrap();
        assert_eq!(record.ts.map(Timestamp::micros), Some(1_667_952_050_336_000));
        assert_eq!(record.response_code, Some(503));
        assert_eq!(record.duration_ms, Some(81));
        assert_eq!(doubt, 0);
    }

    #[test]
    fn string_typed_and_typed_values_read_alike() {
        let strings = parse(FORMAT, r#"{"code":"503","took":"-ms"}"#).unwrap().0;
        let typed = parse(FORMAT, r#"{"code":503,"took":null}"#).unwrap().0;
        assert_eq!(strings, typed);
        assert_eq!(typed.duration_ms, None);
    }

    #[test]
    fn unknown_keys_are_kept_as_extras_and_counted_as_doubt() {
        let (record, doubt) = parse(FORMAT, r#"{"code":200,"tenant":"a","n":1.5}"#).unwrap();
        let extras: Vec<_> =
            record.extra.iter().map(|e| (e.name.as_ref(), e.value.as_deref())).collect();
        assert_eq!(extras, [("tenant", Some("a")), ("n", Some("1.5"))]);
        assert_eq!(doubt, 2);
    }

    #[test]
    fn escaped_values_are_unescaped() {
        let format = r#"{"ua":"%REQ(USER-AGENT)%"}"#;
        let (record, _) = parse(format, r#"{"ua":"Mozilla \"x\" \u00e9"}"#).unwrap();
        assert_eq!(record.user_agent.as_deref(), Some("Mozilla \"x\" é"));
    }

    #[test]
    fn a_value_of_the_wrong_type_names_its_column() {
        let error = parse(FORMAT, r#"{"code":"OK"}"#).unwrap_err();
        assert_eq!(error.kind, ErrorKind::InvalidValue { column: "response_code".into() });
        assert_eq!(error.offset, 8);
    }

    #[test]
    fn broken_json_is_invalid_json_with_its_offset() {
        let error = parse(FORMAT, r#"{"code": 200,"#).unwrap_err();
        assert_eq!(error.code(), "invalid_json");
        assert_eq!(error.offset, 12);
        assert_eq!(parse(FORMAT, "[1]").unwrap_err().code(), "invalid_json");
    }

    #[test]
    fn invalid_utf8_is_replaced_and_flagged() {
        let format = JsonFormat::compile(r#"{"ua":"%REQ(USER-AGENT)%"}"#).unwrap();
        let record = format.parse(b"{\"ua\":\"a\xffb\"}").unwrap();
        assert_eq!(record.user_agent.as_deref(), Some("a\u{fffd}b"));
        assert!(record.lossy_utf8);
    }

    #[test]
    fn times_fall_back_to_rfc3339() {
        let format = r#"{"t":"%START_TIME(%s)%"}"#;
        let (record, _) = parse(format, r#"{"t":"2022-11-09T00:00:50.336+01:00"}"#).unwrap();
        assert_eq!(record.ts.map(Timestamp::micros), Some(1_667_948_450_336_000));
        let (record, _) = parse(format, r#"{"t":1667952050}"#).unwrap();
        assert_eq!(record.ts.map(Timestamp::micros), Some(1_667_952_050_000_000));
    }

    #[test]
    fn nested_format_values_are_refused_with_their_key() {
        let error = JsonFormat::compile(r#"{"a":{"b":"%DURATION%"}}"#).unwrap_err();
        assert!(error.message.contains("\"a\""), "{error}");
    }

    #[test]
    fn renders_what_it_reads() {
        let format = JsonFormat::compile(FORMAT).unwrap();
        let line = r#"{"code":503,"kind":"access","took":"81ms","ts":"2022-11-09T00:00:50.336Z"}"#;
        let record = format.parse(line.as_bytes()).unwrap();
        assert_eq!(format.parse(format.render(&record).as_bytes()).unwrap(), record);
    }
}
