//! No line is ever lost or renumbered: random inputs mixing every envelope
//! (`support/envelope_mix.rs`) are read through [`LogStream`] the way `meshlog ingest`
//! frames them (a last line without newline is a line), and the spans of the outcomes
//! must cover each input line exactly once: their line counts add up to the input's,
//! no first line comes twice, and each span is the model's (joins only where a runtime
//! marked a piece). Every access line read alone parses, with its pod as `proxy`.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

#[path = "support/envelope_mix.rs"]
mod envelope_mix;

use std::collections::BTreeSet;

use envelope_mix::{ExpectedSpan, MixedInput, mixed_input};
use meshlog_parsers::LineParser;
use meshlog_parsers::envelope::{LinePosition, Span};
use meshlog_parsers::stream::{LogStream, Outcome};
use proptest::prelude::*;

/// Splits `bytes` into lines as `meshlog`'s framing does.
fn framed(bytes: &[u8]) -> Vec<&[u8]> {
    if bytes.is_empty() {
        return Vec::new();
    }
    let bytes = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    bytes.split(|&byte| byte == b'\n').collect()
}

/// Every outcome the stream gives for `input`, with its span.
fn read_all(input: &MixedInput) -> Vec<(Span, Outcome<'static>)> {
    let mut stream = LogStream::new(LineParser::new("auto").unwrap());
    let mut outcomes = Vec::new();
    let mut offset = 0;
    for (number, raw) in (1..).zip(framed(&input.bytes)) {
        if let Some((span, outcome)) = stream.read(raw, LinePosition::new(number, offset)) {
            outcomes.push((span, owned(outcome)));
        }
        while let Some(flushed) = stream.flushed() {
            outcomes.push(flushed);
        }
        offset += raw.len() as u64 + 1;
    }
    while let Some(held) = stream.finish() {
        outcomes.push(held);
    }
    assert!(!stream.has_pending());
    outcomes
}

fn owned(outcome: Outcome<'_>) -> Outcome<'static> {
    match outcome {
        Ok(parsed) => Ok(meshlog_parsers::Parsed {
            record: parsed.record.into_owned(),
            format: parsed.format,
        }),
        Err(rejected) => Err(meshlog_parsers::stream::Rejected {
            error: rejected.error,
            line: rejected.line.into_owned().into(),
        }),
    }
}

fn check(input: &MixedInput) -> Result<(), TestCaseError> {
    let outcomes = read_all(input);
    let lines = framed(&input.bytes).len() as u64;
    prop_assert_eq!(lines, input.lines.len() as u64);
    let accounted: u64 = outcomes.iter().map(|(span, _)| span.lines).sum();
    prop_assert_eq!(accounted, lines, "lines accounted = input lines");
    let firsts: BTreeSet<u64> = outcomes.iter().map(|(span, _)| span.first.line).collect();
    prop_assert_eq!(firsts.len(), outcomes.len(), "no line number twice");
    let mut spans: Vec<ExpectedSpan> = outcomes
        .iter()
        .map(|(span, _)| ExpectedSpan {
            line: span.first.line,
            offset: span.first.offset,
            lines: span.lines,
        })
        .collect();
    spans.sort();
    prop_assert_eq!(spans, input.expected_spans());
    for (span, outcome) in &outcomes {
        let index = usize::try_from(span.first.line - 1).unwrap();
        let Some(proxy) = input.lines[index].access.filter(|_| span.lines == 1) else { continue };
        let text = String::from_utf8_lossy(&input.lines[index].text);
        let parsed = outcome.as_ref().map_err(|rejected| {
            TestCaseError::fail(format!("line {} {text:?}: {}", span.first.line, rejected.error))
        })?;
        prop_assert_eq!(parsed.record.proxy.as_deref(), proxy, "{}", text);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(384))]

    #[test]
    fn every_input_line_is_accounted_once_with_its_own_number(input in mixed_input(40)) {
        check(&input)?;
    }
}

/// The user trial's file: 7 records, some without `\n` (Filebeat-style `message`
/// copies, and a Docker record cut short), read as 7 lines numbered 1 to 7.
#[test]
fn a_seven_line_file_of_records_without_newline_is_seven_lines() {
    let record = |key: &str, text: &str| {
        format!(r#"{{"{key}":{text:?},"stream":"stdout","time":"2022-11-09T00:00:50.4Z"}}"#)
    };
    let envoy = r#"[2022-11-09T00:00:50.336Z] "GET / HTTP/1.1" 200 - via_upstream - "-" 0 11107 81 80 "10.142.0.66" "curl/8.4.0" "36912637-ba06-41e4-97a2-07cddd73f849" "34.75.183.246" "10.112.0.68:8080" outbound|80||frontend.mycompany.mesh 10.112.0.50:41008 10.112.0.50:8080 10.142.0.66:16973 - default"#;
    let lines = [
        record("log", &format!("{envoy}\n")),
        record("message", envoy),
        record("message", envoy),
        record("log", envoy),
        record("log", &format!("{envoy}\n")),
        record("log", "not an access log"),
        record("log", envoy),
    ];
    let bytes = lines.join("\n").into_bytes();
    let outcomes = read_all(&MixedInput { bytes, lines: Vec::new(), offsets: Vec::new() });
    let numbers: Vec<(u64, u64, bool)> = outcomes
        .iter()
        .map(|(span, outcome)| (span.first.line, span.lines, outcome.is_ok()))
        .collect();
    let expected: Vec<(u64, u64, bool)> = (1..=7).map(|n| (n, 1, n != 6)).collect();
    assert_eq!(numbers, expected);
}
