//! A compiled text format and the line matcher that reads it.
//!
//! A format is a leading literal followed by segments, each an operator and the
//! literal after it. The matcher reads a line left to right: a value ends where the
//! next literal occurs. When a value could end at several places (a `"` inside a user
//! agent makes `" "` occur twice), it tries each in turn, checks every value against
//! its column's [`ValueClass`] and type, and backtracks on a mismatch. So fields never
//! shift: the line either reads exactly, structure and types both, or is rejected.
//! Attempts are bounded, so hostile input cannot make it slow.

use std::borrow::Cow;

use memchr::memmem::Finder;

use super::FormatError;
use super::operators::Slot;
use super::tokens::{Token, tokenize};
use super::value::store;
use crate::error::{ErrorKind, ParseError};
use crate::field::ValueClass;
use crate::record::AccessLogRecord;

/// Candidate value ends tried per line before it is called ambiguous.
const MAX_ATTEMPTS: u32 = 512;
/// Operators a format may hold; more is surely not an access-log format.
const MAX_OPERATORS: usize = 256;

/// Literal text between operators, with a precompiled substring searcher.
#[derive(Debug, Clone)]
pub(crate) struct Literal {
    pub(crate) text: Box<str>,
    finder: Box<Finder<'static>>,
}

impl Literal {
    fn new(text: &str) -> Literal {
        let finder = Box::new(Finder::new(text.as_bytes()).into_owned());
        Literal { text: text.into(), finder }
    }

    fn bytes(&self) -> &[u8] {
        self.text.as_bytes()
    }
}

/// One operator and the literal that follows it (empty at the end of the line or
/// between two adjacent operators).
#[derive(Debug, Clone)]
pub(crate) struct Segment {
    pub(crate) slot: Slot,
    pub(crate) class: ValueClass,
    pub(crate) max_len: Option<usize>,
    pub(crate) literal: Literal,
    /// The literal starts with a byte the class forbids, so the value ends at the
    /// first forbidden byte: one candidate, found in one scan.
    ends_at_forbidden: bool,
}

/// A compiled Envoy text format string.
#[derive(Debug, Clone)]
pub struct TextFormat {
    pub(crate) lead: Literal,
    pub(crate) segments: Vec<Segment>,
}

impl TextFormat {
    /// Compiles a text format string; one trailing newline is ignored.
    pub fn compile(format: &str) -> Result<TextFormat, FormatError> {
        let format = format.strip_suffix('\n').unwrap_or(format);
        let format = format.strip_suffix('\r').unwrap_or(format);
        let tokens = tokenize(format)?;
        let operators = tokens.iter().filter(|token| matches!(token, Token::Operator(_))).count();
        if operators == 0 {
            return Err(FormatError::new(0, "format has no command operators"));
        }
        if operators > MAX_OPERATORS {
            return Err(FormatError::new(0, format!("format has over {MAX_OPERATORS} operators")));
        }
        build(format, &tokens)
    }

    /// Reads one line (no trailing newline) into a record.
    pub fn parse<'a>(&self, line: &'a [u8]) -> Result<AccessLogRecord<'a>, ParseError> {
        let mut matcher = Matcher::new(self, line);
        if !line.starts_with(self.lead.bytes()) {
            let expected = self.lead.text.to_string();
            return Err(ParseError::at(ErrorKind::ExpectedLiteral { expected }, line, 0));
        }
        if matcher.segment(0, self.lead.bytes().len()) {
            return Ok(matcher.record);
        }
        Err(matcher.error())
    }
}

fn build(format: &str, tokens: &[Token]) -> Result<TextFormat, FormatError> {
    let mut lead = "";
    let mut segments = Vec::new();
    let mut previous_literal = "";
    for (index, token) in tokens.iter().enumerate() {
        let Token::Operator(op) = token else {
            if index == 0 {
                lead = literal_text(token);
            }
            previous_literal = literal_text(token);
            continue;
        };
        let next_literal = tokens.get(index + 1).map_or("", literal_text);
        let offset = operator_offset(format, index, tokens);
        let slot = Slot::for_operator(op, offset)?;
        let quoted = previous_literal.ends_with('"') && next_literal.starts_with('"');
        segments.push(segment(slot, quoted, op.max_len, next_literal));
        previous_literal = "";
    }
    Ok(TextFormat { lead: Literal::new(lead), segments })
}

fn literal_text(token: &Token) -> &str {
    match token {
        Token::Literal(text) => text,
        Token::Operator(_) => "",
    }
}

/// Approximate offset of the `index`th token, for error messages.
fn operator_offset(format: &str, index: usize, tokens: &[Token]) -> usize {
    let before: usize = tokens[..index].iter().map(|token| literal_text(token).len()).sum();
    before.min(format.len())
}

fn segment(slot: Slot, quoted: bool, max_len: Option<usize>, literal: &str) -> Segment {
    let class = match &slot {
        Slot::Extra(_) if quoted => ValueClass::Text,
        Slot::Extra(_) => ValueClass::Token,
        Slot::Time(_) => ValueClass::Time,
        Slot::Column(field) => field.class(),
    };
    let ends_at_forbidden = literal.as_bytes().first().is_some_and(|byte| !class.allows(*byte))
        && matches!(class, ValueClass::Token | ValueClass::Integer);
    Segment { slot, class, max_len, literal: Literal::new(literal), ends_at_forbidden }
}

/// The state of reading one line: the record so far, the attempt budget, and the
/// most advanced failure (the best explanation when nothing matches).
struct Matcher<'f, 'a> {
    format: &'f TextFormat,
    line: &'a [u8],
    record: AccessLogRecord<'a>,
    attempts: u32,
    failure: Option<(usize, ErrorKind)>,
}

impl<'f, 'a> Matcher<'f, 'a> {
    fn new(format: &'f TextFormat, line: &'a [u8]) -> Self {
        Matcher { format, line, record: AccessLogRecord::default(), attempts: 0, failure: None }
    }

    /// Matches segments from `index` on, with the value of `index` starting at `pos`.
    fn segment(&mut self, index: usize, pos: usize) -> bool {
        let Some(segment) = self.format.segments.get(index) else {
            return pos == self.line.len() || self.fail(pos, ErrorKind::TrailingData);
        };
        let is_last = index + 1 == self.format.segments.len();
        match (is_last, segment.literal.text.is_empty()) {
            (true, true) => self.value(segment, pos, self.line.len()),
            (true, false) => self.last_with_literal(segment, pos),
            (false, true) => self.adjacent(index, segment, pos),
            (false, false) if segment.ends_at_forbidden => self.single_end(index, segment, pos),
            (false, false) => self.each_end(index, segment, pos),
        }
    }

    /// The last operator is followed by literal text that must end the line.
    fn last_with_literal(&mut self, segment: &Segment, pos: usize) -> bool {
        let literal = segment.literal.bytes();
        let Some(end) = self.line.len().checked_sub(literal.len()).filter(|end| *end >= pos) else {
            return self.expected(pos, segment);
        };
        if !self.line[end..].starts_with(literal) {
            return self.expected(end, segment);
        }
        self.value(segment, pos, end)
    }

    /// Two operators with nothing between them: the first takes what its class allows.
    fn adjacent(&mut self, index: usize, segment: &Segment, pos: usize) -> bool {
        let run = self.line[pos..].iter().take_while(|byte| segment.class.allows(**byte)).count();
        let end = pos + run;
        self.value(segment, pos, end) && self.segment(index + 1, end)
    }

    /// A token or number ends at its first forbidden byte, where the literal must be.
    fn single_end(&mut self, index: usize, segment: &Segment, pos: usize) -> bool {
        let rest = &self.line[pos..];
        let run = match segment.class {
            ValueClass::Token => memchr::memchr3(b' ', b'"', b'\t', rest).unwrap_or(rest.len()),
            _ => rest.iter().take_while(|byte| segment.class.allows(**byte)).count(),
        };
        let end = pos + run;
        if !self.line[end..].starts_with(segment.literal.bytes()) {
            return self.expected(end, segment);
        }
        self.value(segment, pos, end) && self.segment(index + 1, end + segment.literal.text.len())
    }

    /// Tries every occurrence of the literal as the end of the value, in order.
    fn each_end(&mut self, index: usize, segment: &Segment, pos: usize) -> bool {
        let mut search = pos;
        while let Some(found) = segment.literal.finder.find(&self.line[search..]) {
            let end = search + found;
            if let Some(bad) = self.line[pos..end].iter().position(|b| !segment.class.allows(*b)) {
                return self.invalid(pos + bad, segment);
            }
            let next = end + segment.literal.text.len();
            if self.value(segment, pos, end) && self.segment(index + 1, next) {
                return true;
            }
            if self.attempts >= MAX_ATTEMPTS {
                return self.fail(pos, ErrorKind::Ambiguous);
            }
            search = end + 1;
        }
        self.expected(pos, segment)
    }

    /// Checks and stores the value `line[start..end]` for `segment`.
    fn value(&mut self, segment: &Segment, start: usize, end: usize) -> bool {
        self.attempts += 1;
        let bytes = &self.line[start..end];
        let fits_class = match segment.class {
            ValueClass::Text | ValueClass::Time => true,
            class => bytes.iter().all(|byte| class.allows(*byte)),
        };
        let fits_length = segment.max_len.is_none_or(|max| bytes.len() <= max);
        if !(fits_class && fits_length) {
            return self.invalid(start, segment);
        }
        let text = String::from_utf8_lossy(bytes);
        self.record.lossy_utf8 |= matches!(text, Cow::Owned(_));
        store(&mut self.record, &segment.slot, text).is_ok() || self.invalid(start, segment)
    }

    fn expected(&mut self, pos: usize, segment: &Segment) -> bool {
        let expected = segment.literal.text.to_string();
        self.fail(pos, ErrorKind::ExpectedLiteral { expected })
    }

    fn invalid(&mut self, pos: usize, segment: &Segment) -> bool {
        let column = match &segment.slot {
            Slot::Extra(name) => name.to_string(),
            slot => slot.field().map_or("ts", |field| field.column()).to_owned(),
        };
        self.fail(pos, ErrorKind::InvalidValue { column })
    }

    /// Remembers the failure that got furthest into the line; always false.
    fn fail(&mut self, pos: usize, kind: ErrorKind) -> bool {
        if self.failure.as_ref().is_none_or(|(furthest, _)| pos >= *furthest) {
            self.failure = Some((pos, kind));
        }
        false
    }

    fn error(self) -> ParseError {
        let (offset, kind) = self.failure.unwrap_or((0, ErrorKind::TrailingData));
        ParseError::at(kind, self.line, offset)
    }
}
