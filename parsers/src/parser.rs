//! [`LineParser`]: the one entry point callers need. It turns a `--format` value
//! (`auto`, a preset name, an Envoy format string, or a JSON format object) into a
//! parser, enforces the line-length limit, drops a trailing `\r`, and reports which
//! format read each line.

use crate::auto::AutoFormat;
use crate::error::{ErrorKind, ParseError};
use crate::format::{Format, FormatError};
use crate::presets;
use crate::record::AccessLogRecord;

/// Lines longer than this are rejected unless configured otherwise.
pub const DEFAULT_MAX_LINE_BYTES: usize = 64 * 1024;

/// Name reported for a line read with an operator's own text format string.
pub const CUSTOM: &str = "custom";
/// Name reported for a line read with an operator's own JSON format.
pub const CUSTOM_JSON: &str = "custom-json";

enum Mode {
    Fixed { name: &'static str, format: Format },
    Auto(AutoFormat),
}

/// Reads lines of one stream with a fixed or detected format.
pub struct LineParser {
    mode: Mode,
    max_line_bytes: usize,
}

/// A line that was read, and the name of the format that read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed<'a> {
    pub record: AccessLogRecord<'a>,
    pub format: &'static str,
}

impl LineParser {
    /// A parser for `spec`: `auto`, a preset name, or a format string.
    pub fn new(spec: &str) -> Result<LineParser, FormatError> {
        let mode = match spec {
            "auto" => Mode::Auto(AutoFormat::new()),
            name if presets::preset(name).is_some() => fixed_preset(name)?,
            custom if custom.contains('%') || custom.trim_start().starts_with('{') => {
                let format = Format::compile(custom)?;
                let name = if matches!(format, Format::Json(_)) { CUSTOM_JSON } else { CUSTOM };
                Mode::Fixed { name, format }
            }
            unknown => return Err(unknown_preset(unknown)),
        };
        Ok(LineParser { mode, max_line_bytes: DEFAULT_MAX_LINE_BYTES })
    }

    /// Sets the longest line accepted, in bytes.
    pub fn with_max_line_bytes(mut self, max_line_bytes: usize) -> LineParser {
        self.max_line_bytes = max_line_bytes;
        self
    }

    /// The longest line accepted, in bytes.
    pub fn max_line_bytes(&self) -> usize {
        self.max_line_bytes
    }

    /// Reads one line (without its `\n`; a trailing `\r` is ignored).
    pub fn parse<'a>(&mut self, line: &'a [u8]) -> Result<Parsed<'a>, ParseError> {
        let mut parsed = Parsed { record: AccessLogRecord::default(), format: "" };
        parsed.format = self.parse_into(line, &mut parsed.record)?;
        Ok(parsed)
    }

    /// [`Self::parse`] into `record`, which must be a default one (the reading sets
    /// only the fields its format has), returning the format's name.
    /// A record is large: read where it stays, it is never moved. On an error
    /// `record` may be left partly filled.
    pub fn parse_into<'a>(
        &mut self,
        line: &'a [u8],
        record: &mut AccessLogRecord<'a>,
    ) -> Result<&'static str, ParseError> {
        debug_assert!(*record == AccessLogRecord::default(), "a record is read into a default one");
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.len() > self.max_line_bytes {
            let kind = ErrorKind::TooLong { len: line.len(), limit: self.max_line_bytes };
            return Err(ParseError::at(kind, line, 0));
        }
        if line.iter().all(u8::is_ascii_whitespace) {
            return Err(ParseError::at(ErrorKind::Empty, line, 0));
        }
        match &mut self.mode {
            Mode::Fixed { name, format } => format.parse_scored_into(line, record).map(|_| *name),
            Mode::Auto(auto) => auto.parse_into(line, record),
        }
    }
}

fn fixed_preset(name: &str) -> Result<Mode, FormatError> {
    let (name, format) = presets::PRESETS
        .iter()
        .find(|(preset, _)| *preset == name)
        .ok_or_else(|| unknown_preset(name))?;
    Ok(Mode::Fixed { name, format: Format::compile(format)? })
}

fn unknown_preset(name: &str) -> FormatError {
    let known: Vec<&str> = presets::names().collect();
    let message = format!(
        "unknown format {name:?}: use auto, a preset ({}), an Envoy format string, \
         or a JSON format object",
        known.join(", ")
    );
    FormatError::new(0, message)
}
