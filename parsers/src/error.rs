//! Why a line was rejected: a [`ParseError`] carries a stable machine-readable kind
//! (the `reason` column of the `rejects` table), the byte offset where the line stopped
//! making sense, and a short excerpt from that offset, so an operator can see at once
//! which part of the line the format did not expect.

use std::fmt;

/// How many bytes of the line an error quotes, from its offset.
const EXCERPT_BYTES: usize = 40;

/// What went wrong, in words stable enough to group rejects by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorKind {
    /// The line has nothing but white space.
    Empty,
    /// The line is longer than the configured limit.
    TooLong { len: usize, limit: usize },
    /// The format's literal text was not found where it had to be.
    ExpectedLiteral { expected: String },
    /// A value does not fit its field (`response_code` that is not a number…).
    InvalidValue { column: String },
    /// Text remained after the last field of the format.
    TrailingData,
    /// The line could be split in too many ways to pick one safely.
    Ambiguous,
    /// A JSON line that is not a JSON object, or not valid JSON.
    InvalidJson { message: String },
    /// `auto` found no known format that reads this line; `closest` names the
    /// format that read furthest into it and why it stopped.
    NoFormatMatched { closest: Option<String> },
}

impl ErrorKind {
    /// A short snake_case name, used as the `reason` of a reject.
    pub fn code(&self) -> &'static str {
        match self {
            ErrorKind::Empty => "empty_line",
            ErrorKind::TooLong { .. } => "line_too_long",
            ErrorKind::ExpectedLiteral { .. } => "unexpected_text",
            ErrorKind::InvalidValue { .. } => "invalid_value",
            ErrorKind::TrailingData => "trailing_data",
            ErrorKind::Ambiguous => "ambiguous_line",
            ErrorKind::InvalidJson { .. } => "invalid_json",
            ErrorKind::NoFormatMatched { .. } => "no_format_matched",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorKind::Empty => write!(f, "empty line"),
            ErrorKind::TooLong { len, limit } => {
                write!(f, "line of {len} bytes is longer than the limit of {limit} bytes")
            }
            ErrorKind::ExpectedLiteral { expected } => write!(f, "expected {expected:?}"),
            ErrorKind::InvalidValue { column } => write!(f, "invalid value for {column}"),
            ErrorKind::TrailingData => write!(f, "unexpected text after the last field"),
            ErrorKind::Ambiguous => write!(f, "line splits into fields in too many ways"),
            ErrorKind::InvalidJson { message } => write!(f, "invalid JSON: {message}"),
            ErrorKind::NoFormatMatched { closest: None } => {
                write!(f, "no known access-log format matches")
            }
            ErrorKind::NoFormatMatched { closest: Some(closest) } => {
                write!(f, "no known access-log format matches (closest: {closest})")
            }
        }
    }
}

/// A rejected line: what went wrong, where, and the text there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub kind: ErrorKind,
    /// Byte offset into the line (after any envelope was removed).
    pub offset: usize,
    /// Up to 40 bytes of the line from `offset`, lossily decoded.
    pub excerpt: String,
}

impl ParseError {
    /// An error of `kind` at `offset` of `line`, quoting the line from there.
    pub fn at(kind: ErrorKind, line: &[u8], offset: usize) -> ParseError {
        let start = offset.min(line.len());
        let end = (start + EXCERPT_BYTES).min(line.len());
        let excerpt = String::from_utf8_lossy(&line[start..end]).into_owned();
        ParseError { kind, offset: start, excerpt }
    }

    /// The `reason` code of this error.
    pub fn code(&self) -> &'static str {
        self.kind.code()
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at byte {}", self.kind, self.offset)?;
        if !self.excerpt.is_empty() {
            write!(f, " near {:?}", self.excerpt)?;
        }
        Ok(())
    }
}

impl std::error::Error for ParseError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpt_is_cut_at_forty_bytes_from_the_offset() {
        let line = [b'a'; 100];
        let error = ParseError::at(ErrorKind::TrailingData, &line, 10);
        assert_eq!(error.excerpt.len(), 40);
        assert_eq!(error.offset, 10);
    }

    #[test]
    fn offset_past_the_end_is_clamped() {
        let error = ParseError::at(ErrorKind::Empty, b"abc", 9);
        assert_eq!(error.offset, 3);
        assert_eq!(error.excerpt, "");
        assert_eq!(error.to_string(), "empty line at byte 3");
    }
}
