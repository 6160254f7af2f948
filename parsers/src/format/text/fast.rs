//! The fast path: reads a valid UTF-8 line taking, at every segment, the first place
//! its value may end. That is the first reading the backtracking matcher would try,
//! so when it reads the whole line it is exactly the reading the matcher would
//! return. On any mismatch it gives up (`None`) and the matcher reads the line, so
//! errors, backtracking and invalid UTF-8 are all the matcher's, unchanged.
//!
//! It keeps no attempt budget and no failure record, and finds most ends with one
//! scan per value, chosen at compile time ([`Scan`]): a `"` in a free-text value is
//! noticed by the same scan that finds its end, for the ambiguity check that
//! follows (see `TextFormat::may_read_two_ways`).

use std::borrow::Cow;

use super::literal::{Literal, find_either};
use super::{EndRule, Segment, Store, TextFormat, starts_with};
use crate::field::ValueClass;
use crate::format::operators::Slot;
use crate::format::value::parse_decimal;
use crate::record::{AccessLogRecord, Columns, set_extra};

/// Digits that always fit a `u64`.
const MAX_SAFE_DIGITS: usize = 19;

/// How the fast path finds where a segment's value ends, decided at compile time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Scan {
    /// A token, ending at its first space or `"`, where the literal must be.
    Token,
    /// An unquoted value, ending at its first `"`, where the literal must be.
    Unquoted,
    /// A number, ending at its first byte that is no digit and no `-`.
    Integer,
    /// Free text or a time, ending where its literal first occurs.
    FreeText,
    /// Any other segment: the rule of its [`EndRule`], read generically.
    Other,
}

impl Scan {
    pub(super) fn new(class: ValueClass, end: EndRule) -> Scan {
        match (end, class) {
            (EndRule::FirstForbidden, ValueClass::Token) => Scan::Token,
            (EndRule::FirstForbidden, ValueClass::Unquoted) => Scan::Unquoted,
            (EndRule::FirstForbidden, ValueClass::Integer) => Scan::Integer,
            (EndRule::EachLiteral, ValueClass::Text | ValueClass::Time) => Scan::FreeText,
            _ => Scan::Other,
        }
    }
}

/// Reads `text` into `record` (a default one) with `format`, taking every first
/// end. Returns whether a free-text value held a `"`, or `None` if the reading
/// failed, leaving `record` partly filled.
pub(super) fn read<'a>(
    format: &TextFormat,
    text: &'a str,
    record: &mut AccessLogRecord<'a>,
) -> Option<bool> {
    let line = text.as_bytes();
    let lead = format.lead.bytes();
    if !starts_with(line, lead) {
        return None;
    }
    let mut reader = Reader { text, columns: record.columns(), quote: false };
    let mut pos = lead.len();
    for segment in &format.segments {
        pos = reader.segment(segment, pos)?;
    }
    (pos == line.len()).then_some(reader.quote)
}

/// The line being read and the record so far.
struct Reader<'a, 'r> {
    text: &'a str,
    columns: Columns<'r, 'a>,
    /// A free-text value held a `"`.
    quote: bool,
}

impl<'a> Reader<'a, '_> {
    /// Reads the value of `segment` starting at `pos`; returns where the next starts.
    #[inline(always)]
    fn segment(&mut self, segment: &Segment, pos: usize) -> Option<usize> {
        let rest_text = self.text.get(pos..)?;
        let rest = rest_text.as_bytes();
        let end = match segment.scan {
            Scan::Token => find_either(b' ', b'"', rest).unwrap_or(rest.len()),
            Scan::Unquoted => find_either(b'"', b'"', rest).unwrap_or(rest.len()),
            Scan::Integer => return self.integer(segment, pos, rest),
            Scan::FreeText => self.free_text_end(&segment.literal, rest)?,
            Scan::Other => return self.other(segment, pos, rest_text),
        };
        if !segment.literal.is_at(rest, end) {
            return None;
        }
        self.value(segment, rest_text.get(..end)?)?;
        Some(pos + end + segment.literal.text.len())
    }

    /// A number, read and parsed in one pass: `-` or nothing is absent.
    #[inline(always)]
    fn integer(&mut self, segment: &Segment, pos: usize, rest: &[u8]) -> Option<usize> {
        let (end, number) = decimal_prefix(rest);
        if !(segment.literal.is_at(rest, end) && fits(segment, end)) {
            return None;
        }
        let number = number?;
        match segment.store {
            Store::Integer(_, index) => **self.columns.integer.get_mut(index)? = number,
            Store::ResponseCode => {
                *self.columns.response_code = number.map(u16::try_from).transpose().ok()?;
            }
            _ => return None,
        }
        Some(pos + end + segment.literal.text.len())
    }

    /// Where the first occurrence of `literal` ends a free-text value, noting a `"`
    /// before it. Short literals are found by their first byte, and `"`s found by
    /// the same search.
    #[inline(always)]
    fn free_text_end(&mut self, literal: &Literal, rest: &[u8]) -> Option<usize> {
        let first = *literal.bytes().first()?;
        if literal.bytes().len() > 4 {
            let end = literal.find(rest)?;
            self.quote |= memchr::memchr(b'"', &rest[..end]).is_some();
            return Some(end);
        }
        let mut from = 0;
        loop {
            let at = from + find_either(first, b'"', rest.get(from..)?)?;
            if literal.is_at(rest, at) {
                return Some(at);
            }
            self.quote |= rest[at] == b'"';
            from = at + 1;
        }
    }

    /// A segment with no specialised scan: adjacent operators, the last value, or
    /// a literal the class allows.
    fn other(&mut self, segment: &Segment, pos: usize, rest_text: &'a str) -> Option<usize> {
        let rest = rest_text.as_bytes();
        let literal = segment.literal.bytes();
        let (end, next) = match segment.end {
            EndRule::FirstForbidden => {
                let end = class_run(segment.class, rest);
                starts_with(&rest[end..], literal).then_some((end, end + literal.len()))?
            }
            EndRule::EachLiteral => {
                let end = segment.literal.find(rest)?;
                fits_class(segment.class, &rest[..end]).then_some((end, end + literal.len()))?
            }
            EndRule::Adjacent => {
                let end = class_run(segment.class, rest);
                (end, end)
            }
            EndRule::LineEnd => {
                (fits_class(segment.class, rest).then_some(rest.len())?, rest.len())
            }
            EndRule::LiteralAtLineEnd => {
                let end = rest.len().checked_sub(literal.len())?;
                let fits =
                    starts_with(&rest[end..], literal) && fits_class(segment.class, &rest[..end]);
                fits.then_some((end, rest.len()))?
            }
        };
        if matches!(segment.class, ValueClass::Text | ValueClass::Time) {
            self.quote |= memchr::memchr(b'"', &rest[..end]).is_some();
        }
        self.value(segment, rest_text.get(..end)?)?;
        Some(pos + next)
    }

    /// Checks and stores `text` (its bytes already fit the class).
    #[inline(always)]
    fn value(&mut self, segment: &Segment, text: &'a str) -> Option<()> {
        fits(segment, text.len()).then_some(())?;
        self.store(segment, text)
    }

    #[inline(always)]
    fn store(&mut self, segment: &Segment, text: &'a str) -> Option<()> {
        let absent = text.is_empty() || text == "-";
        match segment.store {
            Store::Text(_, index) => {
                **self.columns.text.get_mut(index)? = (!absent).then_some(Cow::Borrowed(text));
            }
            Store::Integer(_, index) => {
                let number = if absent { None } else { Some(parse_decimal(text.as_bytes())?) };
                **self.columns.integer.get_mut(index)? = number;
            }
            Store::ResponseCode => {
                let code = if absent { None } else { Some(response_code(text)?) };
                *self.columns.response_code = code;
            }
            Store::Cluster(index) => {
                let name = text.strip_suffix(';').unwrap_or(text);
                let present = !(absent || matches!(name, "" | "-"));
                **self.columns.text.get_mut(index)? = present.then_some(Cow::Borrowed(name));
            }
            Store::General => self.general(segment, text, absent)?,
        }
        Some(())
    }

    /// Stores a time or an extra.
    fn general(&mut self, segment: &Segment, text: &'a str, absent: bool) -> Option<()> {
        match &segment.slot {
            Slot::Time(format) => {
                *self.columns.ts = if absent { None } else { Some(format.parse(text)?) };
            }
            Slot::Extra(name) => {
                set_extra(self.columns.extra, name, (!absent).then_some(text.into()))
            }
            Slot::Column(_) => return None,
        }
        Some(())
    }
}

/// Whether a value of `len` bytes fits the segment's length limit and emptiness.
#[inline(always)]
fn fits(segment: &Segment, len: usize) -> bool {
    let fits_length = segment.max_len.is_none_or(|max| len <= max);
    let fits_emptiness = segment.may_be_empty || len != 0;
    fits_length && fits_emptiness
}

/// The leading digits and `-`s of `rest`: how many, and their value as a column
/// stores it (`Some(None)` when absent, `None` when no plain decimal that fits).
/// Plain digits, too few to overflow, are read in one pass; anything else (a `-`,
/// twenty digits) is measured and parsed as the matcher does.
#[inline(always)]
fn decimal_prefix(rest: &[u8]) -> (usize, Option<Option<u64>>) {
    let mut number = 0u64;
    let mut end = 0;
    while let Some(digit) = rest.get(end).map(|byte| byte.wrapping_sub(b'0')).filter(|d| *d < 10) {
        number = number * 10 + u64::from(digit);
        end += 1;
        if end == MAX_SAFE_DIGITS {
            break;
        }
    }
    if end == MAX_SAFE_DIGITS || rest.get(end) == Some(&b'-') {
        let end = class_run(ValueClass::Integer, rest);
        let absent = end == 0 || &rest[..end] == b"-";
        let value = if absent { Some(None) } else { parse_decimal(&rest[..end]).map(Some) };
        return (end, value);
    }
    (end, Some((end > 0).then_some(number)))
}

fn response_code(text: &str) -> Option<u16> {
    u16::try_from(parse_decimal(text.as_bytes())?).ok()
}

/// How many leading bytes of `rest` the class allows.
#[inline(always)]
fn class_run(class: ValueClass, rest: &[u8]) -> usize {
    rest.iter().take_while(|byte| class.allows(**byte)).count()
}

/// Whether every byte of `value` fits the class.
fn fits_class(class: ValueClass, value: &[u8]) -> bool {
    match class {
        ValueClass::Text | ValueClass::Time => true,
        class => value.iter().all(|byte| class.allows(*byte)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fast path's reading, or `None` when it hands the line on.
    fn fast<'a>(format: &str, line: &'a str) -> Option<(AccessLogRecord<'a>, bool)> {
        let format = TextFormat::compile(format).unwrap();
        let mut record = AccessLogRecord::default();
        read(&format, line, &mut record).map(|quote| (record, quote))
    }

    #[test]
    fn reads_what_the_matcher_reads_at_its_first_try() {
        let format = r#"[%START_TIME%] "%REQ(:METHOD)% %REQ(:PATH)%" %RESPONSE_CODE% %DURATION% "%REQ(USER-AGENT)%" %UPSTREAM_CLUSTER% %REQ(X-FOO)%"#;
        let line = r#"[2022-11-09T00:00:50.336Z] "GET /a b" 200 - "curl "x"y" outbound|80||a; -"#;
        let (record, quote) = fast(format, line).unwrap();
        assert_eq!(record, TextFormat::compile(format).unwrap().parse(line.as_bytes()).unwrap());
        assert_eq!(record.path.as_deref(), Some("/a b"));
        assert_eq!(record.user_agent.as_deref(), Some(r#"curl "x"y"#));
        assert_eq!(record.upstream_cluster.as_deref(), Some("outbound|80||a"));
        assert_eq!((record.response_code, record.duration_ms), (Some(200), None));
        assert!(quote, "a quote in free text is noticed");
    }

    #[test]
    fn hands_on_what_needs_the_matcher() {
        let agent = r#""%REQ(USER-AGENT)%" %DURATION%"#;
        assert!(fast(agent, r#""a" 5" 6"#).is_none(), "the first end does not read");
        assert!(fast("%DURATION% %RESPONSE_CODE%", "5 200 extra").is_none());
        assert!(fast("%RESPONSE_CODE% %DURATION%", "70000 1").is_none());
        assert!(fast("%DURATION% %BYTES_SENT%", "1 99999999999999999999").is_none());
        assert!(fast("[%DURATION%]", "5]").is_none());
    }

    #[test]
    fn numbers_read_in_one_pass_match_the_decimal_parser() {
        for text in ["0", "7", "1234567890123456789", "12345678901234567890", "-", "", "1-", "--"] {
            let (end, value) = decimal_prefix(text.as_bytes());
            assert_eq!(end, text.len(), "{text}");
            let absent = text.is_empty() || text == "-";
            let wanted = if absent { Some(None) } else { parse_decimal(text.as_bytes()).map(Some) };
            assert_eq!(value, wanted, "{text}");
        }
        assert_eq!(decimal_prefix(b"42 x"), (2, Some(Some(42))));
    }
}
