//! The format-string compiler: any Envoy access-log format (text, or a JSON object
//! of key → format string) becomes a [`Format`] that reads lines into
//! [`AccessLogRecord`]s. Presets are nothing but format strings fed to the same
//! [`Format::compile`].

mod json;
mod operators;
mod render;
mod text;
mod tokens;
mod value;

use std::fmt;

pub use json::JsonFormat;
pub use text::TextFormat;

use crate::error::ParseError;
use crate::record::AccessLogRecord;

/// A format string that could not be compiled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormatError {
    /// Byte offset in the format string where the problem is.
    pub offset: usize,
    pub message: String,
}

impl FormatError {
    pub(crate) fn new(offset: usize, message: impl Into<String>) -> FormatError {
        FormatError { offset, message: message.into() }
    }

    /// The format started with `{` but is not a JSON object at all.
    fn is_not_an_object(&self) -> bool {
        self.message.starts_with(json::NOT_AN_OBJECT)
    }
}

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (at byte {} of the format)", self.message, self.offset)
    }
}

impl std::error::Error for FormatError {}

/// A compiled access-log format: Envoy's text `format` or its `json_format`.
#[derive(Debug, Clone)]
pub enum Format {
    Text(TextFormat),
    Json(JsonFormat),
}

impl Format {
    /// Compiles a format string. A string that is a JSON object (`{"code":
    /// "%RESPONSE_CODE%", …}`, as in Envoy's `json_format` or Istio's
    /// `accessLogFormat` with JSON encoding) compiles to a JSON format.
    /// A string starting with `{` that is not a JSON object (`{"status":
    /// %RESPONSE_CODE%}`, JSON-looking text) compiles as a text format.
    pub fn compile(format: &str) -> Result<Format, FormatError> {
        if !format.trim_start().starts_with('{') {
            return TextFormat::compile(format).map(Format::Text);
        }
        match JsonFormat::compile(format) {
            Ok(json) => Ok(Format::Json(json)),
            Err(json_error) if json_error.is_not_an_object() => {
                TextFormat::compile(format).map(Format::Text).map_err(|_| json_error)
            }
            Err(error) => Err(error),
        }
    }

    /// Reads one line (no trailing newline) into a record.
    pub fn parse<'a>(&self, line: &'a [u8]) -> Result<AccessLogRecord<'a>, ParseError> {
        match self {
            Format::Text(format) => format.parse(line),
            Format::Json(format) => format.parse(line),
        }
    }

    /// [`Self::parse`] into `record`, a default one (left partly filled on an
    /// error; a text record is read where it stays), returning how doubtful the
    /// reading is (0 = certain): free-text values holding `"` for text formats,
    /// unnamed keys for JSON formats.
    pub fn parse_scored_into<'a>(
        &self,
        line: &'a [u8],
        record: &mut AccessLogRecord<'a>,
    ) -> Result<u32, ParseError> {
        match self {
            Format::Text(format) => format.parse_scored_into(line, record),
            Format::Json(format) => {
                let (parsed, doubt) = format.parse_scored(line)?;
                *record = parsed;
                Ok(doubt)
            }
        }
    }

    /// The line Envoy would write for `record` with this format.
    pub fn render(&self, record: &AccessLogRecord<'_>) -> String {
        match self {
            Format::Text(format) => format.render(record),
            Format::Json(format) => format.render(record),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_json_object_compiles_to_a_json_format() {
        assert!(matches!(Format::compile(r#"{"code":"%RESPONSE_CODE%"}"#), Ok(Format::Json(_))));
    }

    #[test]
    fn json_looking_text_compiles_to_a_text_format() {
        let format = Format::compile(r#"{"status": %RESPONSE_CODE%, "ms": %DURATION%}"#).unwrap();
        let record = format.parse(br#"{"status": 503, "ms": 12}"#).unwrap();
        assert_eq!((record.response_code, record.duration_ms), (Some(503), Some(12)));
    }

    #[test]
    fn broken_json_without_operators_reports_the_json_error() {
        let error = Format::compile(r#"{"code": }"#).unwrap_err();
        assert!(error.message.contains("not a JSON format object"), "{error}");
        assert_eq!(error.offset, 9);
    }
}
