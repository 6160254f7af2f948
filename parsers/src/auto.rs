//! `auto`: reads a stream whose format is unknown. Each line is tried first with the
//! format that read the previous line (a stream rarely changes format), then with
//! every other candidate, newest Istio first; so `kubectl logs` output of any Istio
//! version, Envoy's default, or JSON reads without configuration, and a stream that
//! mixes them (several proxies in one file) still reads line by line. A reading is
//! taken at once only when nothing about it is doubtful (no quoted free-text value
//! holding a `"`, no JSON key the preset does not name); otherwise every candidate
//! is tried and the least doubtful reading wins. So an Istio 1.2 line is not read as
//! 1.1 with the failure reason swallowed into the mixer status.

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
        let mut doubtful: Option<(AccessLogRecord<'a>, u32, usize)> = None;
        for index in self.order() {
            let candidate = &self.candidates[index];
            if candidate.json != json {
                continue;
            }
            match candidate.format.parse_scored(line) {
                Ok((record, _)) if json && !looks_like_access_log(&record) => {}
                Ok((record, 0)) => return Ok(self.accept(record, index)),
                Ok((record, doubt)) => keep_least_doubtful(&mut doubtful, record, doubt, index),
                Err(error) => keep_closest(&mut closest, error, candidate.name),
            }
        }
        match doubtful {
            Some((record, _, index)) => Ok(self.accept(record, index)),
            None => Err(no_match(line, closest)),
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

/// A reading with doubt (a quoted free-text value holding `" "`, a JSON key the
/// preset does not name) may still be right; the least doubtful one wins.
fn keep_least_doubtful<'a>(
    doubtful: &mut Option<(AccessLogRecord<'a>, u32, usize)>,
    record: AccessLogRecord<'a>,
    doubt: u32,
    index: usize,
) {
    if doubtful.as_ref().is_none_or(|(_, best, _)| doubt < *best) {
        *doubtful = Some((record, doubt, index));
    }
}

/// Any JSON object reads with a JSON preset (unknown keys become extras), so `auto`
/// takes a JSON line as an access log only when it has a start time or a response
/// code: `{}` or `{"level":"info"}` from another program is rejected instead.
fn looks_like_access_log(record: &AccessLogRecord<'_>) -> bool {
    record.ts.is_some() || record.response_code.is_some()
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
