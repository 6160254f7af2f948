//! The line matcher: reads one line against a compiled [`TextFormat`], segment by
//! segment, storing typed values as it goes. Segments with one possible end are
//! read in a loop; a value that could end at several places is tried at each, with
//! backtracking on a mismatch, within an attempt budget. In `CountReadings` mode it
//! looks for a second complete reading, so a line that reads two ways is rejected
//! rather than guessed.

use std::borrow::Cow;

use super::{EndRule, MAX_ATTEMPTS, Segment, Store, TextFormat, starts_with};
use crate::error::{ErrorKind, ParseError};
use crate::field::ValueClass;
use crate::format::operators::Slot;
use crate::format::value::{parse_decimal, store, strip_semicolon};
use crate::record::AccessLogRecord;

/// How many leading bytes of `bytes` a [`ValueClass::Token`] may hold: the index of
/// the first space or `"`, found with a vectorised search.
#[inline]
fn token_run(bytes: &[u8]) -> usize {
    memchr::memchr2(b' ', b'"', bytes).unwrap_or(bytes.len())
}

/// An integer value: `Some(None)` when absent, `None` when not a number.
#[inline]
fn integer(bytes: &[u8], absent: bool) -> Option<Option<u64>> {
    if absent {
        return Some(None);
    }
    parse_decimal(bytes).map(Some)
}

/// Whether the matcher stops at the first complete reading or looks for a second.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
    First,
    CountReadings,
}

/// The state of reading one line: the record so far, the attempt budget, and the
/// most advanced failure (the best explanation when nothing matches).
pub(super) struct Matcher<'f, 'a> {
    format: &'f TextFormat,
    pub(super) line: &'a [u8],
    /// The line as text when it is valid UTF-8 (checked once, not per value).
    text: Option<&'a str>,
    pub(super) record: AccessLogRecord<'a>,
    attempts: u32,
    /// The attempt budget ran out: the line is called ambiguous, whatever else failed.
    pub(super) exhausted: bool,
    mode: Mode,
    /// Complete readings found so far.
    readings: u32,
    /// A free-text value stored on the way held a `"` (maybe one later replaced by
    /// backtracking: then the extra check is merely unneeded, never missed).
    pub(super) quote_in_free_text: bool,
    failure: Option<(usize, ErrorKind)>,
}

impl<'f, 'a> Matcher<'f, 'a> {
    pub(super) fn new(format: &'f TextFormat, line: &'a [u8], mode: Mode) -> Self {
        let text = std::str::from_utf8(line).ok();
        let record = AccessLogRecord::default();
        Matcher {
            format,
            line,
            text,
            record,
            attempts: 0,
            exhausted: false,
            mode,
            readings: 0,
            quote_in_free_text: false,
            failure: None,
        }
    }

    /// Matches segments from `index` on, with the value of `index` starting at `pos`.
    /// Segments with one possible end are read in a loop; only a segment whose value
    /// may end at several places recurses, to backtrack from there.
    pub(super) fn segment(&mut self, mut index: usize, mut pos: usize) -> bool {
        while let Some(segment) = self.format.segments.get(index) {
            let next = match segment.end {
                EndRule::LineEnd => return self.last_value(segment, pos),
                EndRule::LiteralAtLineEnd => return self.last_with_literal(segment, pos),
                EndRule::EachLiteral => return self.each_end(index, segment, pos),
                EndRule::Adjacent => self.adjacent(segment, pos),
                EndRule::FirstForbidden => self.single_end(segment, pos),
            };
            let Some(next) = next else { return false };
            index += 1;
            pos = next;
        }
        if pos == self.line.len() {
            return self.complete();
        }
        self.fail(pos, ErrorKind::TrailingData)
    }

    /// The last operator, with nothing after it: the value runs to the end of the
    /// line. A token or number followed by a space means text follows the last field.
    fn last_value(&mut self, segment: &Segment, pos: usize) -> bool {
        let rest = &self.line[pos..];
        let run = match segment.class {
            ValueClass::Token | ValueClass::Integer => {
                rest.iter().take_while(|byte| segment.class.allows(**byte)).count()
            }
            _ => rest.len(),
        };
        let stops_at_space = rest.get(run) == Some(&b' ');
        if stops_at_space && self.value(segment, pos, pos + run, true) {
            return self.fail(pos + run, ErrorKind::TrailingData);
        }
        self.value(segment, pos, self.line.len(), false) && self.complete()
    }

    /// The last operator is followed by literal text that must end the line.
    fn last_with_literal(&mut self, segment: &Segment, pos: usize) -> bool {
        let literal = segment.literal.bytes();
        let Some(end) = self.line.len().checked_sub(literal.len()).filter(|end| *end >= pos) else {
            return self.expected(pos, segment);
        };
        if !starts_with(&self.line[end..], literal) {
            return self.expected(end, segment);
        }
        self.value(segment, pos, end, false) && self.complete()
    }

    /// Two operators with nothing between them: the first takes what its class
    /// allows. Returns where the next value starts.
    fn adjacent(&mut self, segment: &Segment, pos: usize) -> Option<usize> {
        let run = self.line[pos..].iter().take_while(|byte| segment.class.allows(**byte)).count();
        let end = pos + run;
        self.value(segment, pos, end, true).then_some(end)
    }

    /// A token or number ends at its first forbidden byte, where the literal must be.
    /// Returns where the next value starts.
    #[inline(always)]
    fn single_end(&mut self, segment: &Segment, pos: usize) -> Option<usize> {
        let rest = &self.line[pos..];
        let run = match segment.class {
            ValueClass::Token => token_run(rest),
            ValueClass::Unquoted => memchr::memchr(b'"', rest).unwrap_or(rest.len()),
            _ => rest.iter().take_while(|byte| segment.class.allows(**byte)).count(),
        };
        let end = pos + run;
        if !starts_with(&self.line[end..], segment.literal.bytes()) {
            self.expected(end, segment);
            return None;
        }
        let next = end + segment.literal.text.len();
        self.value(segment, pos, end, true).then_some(next)
    }

    /// Tries every occurrence of the literal as the end of the value, in order.
    fn each_end(&mut self, index: usize, segment: &Segment, pos: usize) -> bool {
        let mut search = pos;
        while let Some(found) = segment.literal.find(&self.line[search..]) {
            let end = search + found;
            if let Some(bad) = self.line[pos..end].iter().position(|b| !segment.class.allows(*b)) {
                return self.invalid(pos + bad, segment);
            }
            let next = end + segment.literal.text.len();
            self.attempts += 1;
            if self.value(segment, pos, end, true) && self.segment(index + 1, next) {
                return true;
            }
            if self.attempts >= MAX_ATTEMPTS {
                self.exhausted = true;
                return false;
            }
            search = end + 1;
        }
        self.expected(pos, segment)
    }

    /// Checks and stores the value `line[start..end]` for `segment`; `class_checked`
    /// says the caller's scan already proved the bytes fit the class.
    #[inline(always)]
    fn value(&mut self, segment: &Segment, start: usize, end: usize, class_checked: bool) -> bool {
        let bytes = &self.line[start..end];
        let fits_class = class_checked
            || match segment.class {
                ValueClass::Text | ValueClass::Time => true,
                class => bytes.iter().all(|byte| class.allows(*byte)),
            };
        let fits_length = segment.max_len.is_none_or(|max| bytes.len() <= max);
        let fits_emptiness = segment.may_be_empty || !bytes.is_empty();
        if !(fits_class && fits_length && fits_emptiness) {
            return self.invalid(start, segment);
        }
        if matches!(segment.class, ValueClass::Text | ValueClass::Time) {
            self.quote_in_free_text |= memchr::memchr(b'"', bytes).is_some();
        }
        self.store(segment, start, end) || self.invalid(start, segment)
    }

    /// Stores `line[start..end]` as the segment's column; false if it does not fit.
    #[inline(always)]
    fn store(&mut self, segment: &Segment, start: usize, end: usize) -> bool {
        let bytes = &self.line[start..end];
        let absent = bytes.is_empty() || bytes == b"-";
        match segment.store {
            Store::Text(field, _) => {
                let text = (!absent).then(|| self.text_of(start, end));
                self.record.text_slot(field).map(|slot| *slot = text).is_some()
            }
            Store::Cluster(_) => {
                let text = (!absent).then(|| strip_semicolon(self.text_of(start, end)));
                self.record.upstream_cluster =
                    text.filter(|name| !matches!(name.as_ref(), "" | "-"));
                true
            }
            Store::Integer(field, _) => {
                let Some(number) = integer(bytes, absent) else { return false };
                self.record.integer_slot(field).map(|slot| *slot = number).is_some()
            }
            Store::ResponseCode => {
                let Some(number) = integer(bytes, absent) else { return false };
                let Ok(code) = number.map(u16::try_from).transpose() else { return false };
                self.record.response_code = code;
                true
            }
            Store::General => {
                let text = self.text_of(start, end);
                store(&mut self.record, &segment.slot, text).is_ok()
            }
        }
    }

    /// The text of `line[start..end]`. Every split point is at an ASCII byte or the
    /// start of a literal, so slicing valid UTF-8 never splits a character; an
    /// invalid line is decoded per value, replacing bad bytes.
    #[inline(always)]
    fn text_of(&mut self, start: usize, end: usize) -> Cow<'a, str> {
        if let Some(text) = self.text.and_then(|text| text.get(start..end)) {
            return Cow::Borrowed(text);
        }
        let text = String::from_utf8_lossy(&self.line[start..end]);
        self.record.lossy_utf8 |= matches!(text, Cow::Owned(_));
        text
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

    /// A complete reading was found: done, unless counting readings, where the
    /// search goes on until a second one turns up.
    fn complete(&mut self) -> bool {
        self.readings += 1;
        self.mode == Mode::First || self.readings >= 2
    }

    pub(super) fn error(&mut self) -> ParseError {
        if self.exhausted {
            return ParseError::at(ErrorKind::Ambiguous, self.line, 0);
        }
        let (offset, kind) = self.failure.take().unwrap_or((0, ErrorKind::TrailingData));
        ParseError::at(kind, self.line, offset)
    }
}
