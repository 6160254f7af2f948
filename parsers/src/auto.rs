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
/// their lines are identical. `istio-1.0` comes after `envoy`: neither reads the
/// other's lines (a 1.0 line is an Envoy line plus five fields), and Envoy lines are
/// the more common, so they are not first read through to their end as 1.0 lines.
const TEXT_CANDIDATES: &[&str] =
    &["istio", "istio-1.8", "istio-1.3", "istio-1.2", "istio-1.1", "envoy", "istio-1.0"];
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
        let mut record = AccessLogRecord::default();
        let name = self.parse_into(line, &mut record)?;
        Ok((record, name))
    }

    /// [`Self::parse`] into `record`, a default one, where the record stays: it is
    /// large, and a line read at the first try is then never moved. On an error
    /// `record` is left default.
    pub fn parse_into<'a>(
        &mut self,
        line: &'a [u8],
        record: &mut AccessLogRecord<'a>,
    ) -> Result<&'static str, ParseError> {
        let json = line.first() == Some(&b'{');
        let mut closest: Option<(ParseError, &'static str)> = None;
        let mut doubtful: Option<(AccessLogRecord<'a>, u32, usize)> = None;
        for index in self.order() {
            let candidate = &self.candidates[index];
            if candidate.json != json {
                continue;
            }
            match candidate.format.parse_scored_into(line, record) {
                Ok(_) if json && !looks_like_access_log(record) => {
                    *record = AccessLogRecord::default();
                }
                Ok(0) => return Ok(self.accept(index)),
                Ok(doubt) => {
                    keep_least_doubtful(&mut doubtful, std::mem::take(record), doubt, index);
                }
                Err(error) => {
                    *record = AccessLogRecord::default();
                    keep_closest(&mut closest, error, candidate.name);
                }
            }
        }
        match doubtful {
            Some((best, _, index)) => {
                *record = best;
                Ok(self.accept(index))
            }
            None => Err(no_match(line, closest)),
        }
    }

    fn accept(&mut self, index: usize) -> &'static str {
        self.last = index;
        self.candidates[index].name
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

#[cfg(test)]
mod tests {
    use super::*;

    const ISTIO: &str = r#"[2022-11-09T00:00:50.336Z] "GET / HTTP/1.1" 200 - via_upstream - "-" 0 11107 81 80 "10.142.0.66" "curl/8.4.0" "36912637-ba06-41e4-97a2-07cddd73f849" "34.75.183.246" "10.112.0.68:8080" outbound|80||frontend.mycompany.mesh 10.112.0.50:41008 10.112.0.50:8080 10.142.0.66:16973 - default"#;

    /// The in-place reading is the reading, whichever candidate takes the line
    /// (the last one, another one, or the least doubtful of several).
    #[test]
    fn reading_in_place_reads_what_parse_returns() {
        let doubtful = ISTIO.replace("curl/8.4.0", r#"curl "8.4.0""#);
        let json = r#"{"start_time":"2022-11-09T00:00:50.336Z","response_code":"503"}"#;
        let lines = [ISTIO, doubtful.as_str(), json, ISTIO, doubtful.as_str()];
        let (mut by_parse, mut in_place) = (AutoFormat::new(), AutoFormat::new());
        for line in lines {
            let (expected, name) = by_parse.parse(line.as_bytes()).unwrap();
            let mut record = AccessLogRecord::default();
            assert_eq!(in_place.parse_into(line.as_bytes(), &mut record), Ok(name));
            assert_eq!(record, expected, "{line}");
        }
    }

    /// Lines shaped like istio.io's multi-cluster pages: late 2018 (Envoy's default plus
    /// five fields, a `:15443` upstream), then mid 2019 (Istio 1.1, mixer status `-`).
    const ISTIO_1_0_LINE: &str = r#"[2018-11-25T12:37:52.077Z] "GET /hello HTTP/1.1" 200 - 0 60 190 189 "-" "curl/7.60.0" "0c1e9d4a-51b2-4c3e-9b0e-2f0a6f1d7c11" "helloworld.sample:5000" "34.168.157.2:15443" outbound|5000||helloworld.sample.svc.cluster.local - 10.116.4.21:5000 10.112.3.9:59496 -"#;
    const ISTIO_1_1_LINE: &str = r#"[2019-05-25T08:06:11.468Z] "GET /hello HTTP/1.1" 200 - "-" 0 60 177 176 "-" "curl/7.60.0" "58cfb92b-0d6e-4a51-8f3e-6a9c1b2d3e44" "helloworld.sample:5000" "35.200.10.5:15443" outbound|5000||helloworld.sample.svc.cluster.local - 10.96.117.235:5000 10.96.0.10:36840 -"#;
    const ENVOY_LINE: &str = r#"[2018-11-25T12:37:52.077Z] "GET /hello HTTP/1.1" 200 - 0 60 190 189 "-" "curl/7.60.0" "0c1e9d4a-51b2-4c3e-9b0e-2f0a6f1d7c11" "helloworld.sample:5000" "34.168.157.2:15443""#;

    #[test]
    fn istio_1_0_lines_read_as_istio_1_0_and_nothing_else_does() {
        let mut auto = AutoFormat::new();
        let lines = [ISTIO_1_0_LINE, ISTIO_1_1_LINE, ENVOY_LINE, ISTIO_1_0_LINE, ENVOY_LINE, ISTIO];
        let names: Vec<&str> =
            lines.iter().map(|line| auto.parse(line.as_bytes()).unwrap().1).collect();
        assert_eq!(names, ["istio-1.0", "istio-1.1", "envoy", "istio-1.0", "envoy", "istio"]);
        let (record, _) = auto.parse(ISTIO_1_0_LINE.as_bytes()).unwrap();
        assert_eq!(record.upstream_host.as_deref(), Some("34.168.157.2:15443"));
        assert_eq!(
            record.upstream_cluster.as_deref(),
            Some("outbound|5000||helloworld.sample.svc.cluster.local")
        );
        assert_eq!(record.downstream_remote_address.as_deref(), Some("10.112.3.9:59496"));
        assert_eq!((record.upstream_local_address, record.requested_server_name), (None, None));
    }

    #[test]
    fn a_line_no_candidate_reads_leaves_the_record_default() {
        let mut auto = AutoFormat::new();
        let mut record = AccessLogRecord::default();
        let broken = ISTIO.replace(" 200 ", " OK ");
        let error = auto.parse_into(broken.as_bytes(), &mut record).unwrap_err();
        assert_eq!(error.code(), "no_format_matched");
        assert_eq!(record, AccessLogRecord::default());
    }
}
