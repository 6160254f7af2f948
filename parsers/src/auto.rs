//! `auto`: reads a stream whose format is unknown. Each line is tried first with the
//! format that read the previous line (a stream rarely changes format), then with
//! every other candidate, newest Istio first; so `kubectl logs` output of any Istio
//! version, Envoy's default, or JSON reads without configuration, and a stream that
//! mixes them (several proxies in one file) still reads line by line. A text format
//! reads a line exactly or not at all; a JSON preset is taken at once only when it
//! names every key of the line, else the preset naming the most keys wins.

use crate::error::{ErrorKind, ParseError};
use crate::format::Format;
use crate::presets;
use crate::record::AccessLogRecord;

/// Text presets in the order `auto` tries them. `istio` stands for 1.9–1.22 too:
/// their lines are identical.
const TEXT_CANDIDATES: &[&str] =
    &["istio", "istio-1.8", "istio-1.3", "istio-1.2", "istio-1.1", "envoy"];
/// JSON presets in the order `auto` tries them.
const JSON_CANDIDATES: &[&str] = &["istio-json", "envoy-gateway"];

struct Candidate {
    name: &'static str,
    format: Format,
    json: bool,
}

/// Per-stream format detection; remembers which format read the last line.
pub struct AutoFormat {
    candidates: Vec<Candidate>,
    last: usize,
}

impl Default for AutoFormat {
    fn default() -> Self {
        AutoFormat::new()
    }
}

impl AutoFormat {
    /// Detection over every built-in preset.
    pub fn new() -> AutoFormat {
        let text = TEXT_CANDIDATES.iter().map(|name| (*name, false));
        let json = JSON_CANDIDATES.iter().map(|name| (*name, true));
        let candidates = text
            .chain(json)
            .filter_map(|(name, json)| {
                let format = presets::compile(name)?.ok()?;
                Some(Candidate { name, format, json })
            })
            .collect();
        AutoFormat { candidates, last: 0 }
    }

    /// Reads `line` with the first candidate that accepts it, returning its name.
    pub fn parse<'a>(
        &mut self,
        line: &'a [u8],
    ) -> Result<(AccessLogRecord<'a>, &'static str), ParseError> {
        let json = line.first() == Some(&b'{');
        let mut closest: Option<(ParseError, &'static str)> = None;
        let mut partial: Option<(AccessLogRecord<'a>, usize)> = None;
        for index in self.order() {
            let candidate = &self.candidates[index];
            if candidate.json != json {
                continue;
            }
            match candidate.format.parse(line) {
                Ok(record) if record.extra.is_empty() => return Ok(self.accept(record, index)),
                Ok(record) => keep_fewest_extras(&mut partial, record, index),
                Err(error) => keep_closest(&mut closest, error, candidate.name),
            }
        }
        match partial {
            Some((record, index)) if has_any_column(&record) => Ok(self.accept(record, index)),
            _ => Err(no_match(line, closest)),
        }
    }

    fn accept<'a>(
        &mut self,
        record: AccessLogRecord<'a>,
        index: usize,
    ) -> (AccessLogRecord<'a>, &'static str) {
        self.last = index;
        (record, self.candidates[index].name)
    }

    /// The last format first, then the others in preference order.
    fn order(&self) -> impl Iterator<Item = usize> + use<> {
        let last = self.last;
        std::iter::once(last).chain((0..self.candidates.len()).filter(move |index| *index != last))
    }
}

/// A JSON line with keys a preset does not name may still be that preset (extra
/// fields added by the operator); the preset that names the most keys wins.
fn keep_fewest_extras<'a>(
    partial: &mut Option<(AccessLogRecord<'a>, usize)>,
    record: AccessLogRecord<'a>,
    index: usize,
) {
    if partial.as_ref().is_none_or(|(best, _)| record.extra.len() < best.extra.len()) {
        *partial = Some((record, index));
    }
}

/// A JSON object with none of a preset's keys is some other JSON, not this format.
fn has_any_column(record: &AccessLogRecord<'_>) -> bool {
    let columns = crate::field::Field::ALL;
    columns.iter().any(|field| !matches!(record.get(*field), crate::record::FieldValue::Absent))
}

fn keep_closest(
    closest: &mut Option<(ParseError, &'static str)>,
    error: ParseError,
    name: &'static str,
) {
    if closest.as_ref().is_none_or(|(best, _)| error.offset > best.offset) {
        *closest = Some((error, name));
    }
}

fn no_match(line: &[u8], closest: Option<(ParseError, &'static str)>) -> ParseError {
    let Some((error, name)) = closest else {
        return ParseError::at(ErrorKind::NoFormatMatched { closest: None }, line, 0);
    };
    let detail = format!("{name}: {}", error.kind);
    let kind = ErrorKind::NoFormatMatched { closest: Some(detail) };
    ParseError::at(kind, line, error.offset)
}
