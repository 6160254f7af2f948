//! `meshlog parse`: reads access-log lines from a file or stdin and prints one JSON
//! object per line, keyed by `requests` column names, plus its line number and the
//! `format` that read it; a rejected line prints its line number, error and raw text.
//! A line a runtime split prints once, with its first piece's number and the count of
//! pieces. Rejects do not fail the command: a summary on stderr counts input lines,
//! per format and per reason, and the pieces joined, so that every line is counted once.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use clap::builder::TypedValueParser;
use meshlog_parsers::envelope::{LinePosition, Span};
use meshlog_parsers::stream::{LogStream, Outcome, Rejected};
use meshlog_parsers::{LineParser, parser::DEFAULT_MAX_LINE_BYTES, presets};
use serde::Serialize;

use crate::Error;
use crate::ingest::lines::{Line, LineReader};

/// Arguments of `meshlog parse`.
#[derive(Debug, clap::Args)]
pub struct ParseArgs {
    /// `auto` (detect per stream, fall back per line), a preset name (see `meshlog
    /// formats`), an Envoy format string, or a JSON format object.
    #[arg(long, short, default_value = "auto")]
    format: String,
    /// Longest line accepted, in bytes; longer lines are rejected with a reason.
    #[arg(long, default_value_t = DEFAULT_MAX_LINE_BYTES,
          value_parser = clap::value_parser!(u32).range(1..=1 << 30).map(|bytes| bytes as usize))]
    max_line_bytes: usize,
    /// File to read; `-` or none reads stdin. Container envelopes (CRI, Docker JSON,
    /// `kubectl logs --prefix/--timestamps`, stern, kubetail) are unwrapped.
    input: Option<PathBuf>,
}

/// A parsed line as printed: its line number, the record's columns and the format name.
#[derive(Serialize)]
struct ParsedLine<'r, 'a> {
    line: u64,
    /// Input lines, when more than one (the pieces of a split line).
    #[serde(skip_serializing_if = "is_one")]
    lines: u64,
    #[serde(flatten)]
    record: &'r meshlog_parsers::AccessLogRecord<'a>,
    format: &'static str,
}

/// A rejected line as printed.
#[derive(Serialize)]
struct RejectedLine<'e> {
    line: u64,
    #[serde(skip_serializing_if = "is_one")]
    lines: u64,
    reason: &'static str,
    error: String,
    raw: &'e str,
}

fn is_one(lines: &u64) -> bool {
    *lines == 1
}

/// What was read, for the summary, in input lines: `lines` is the sum of the formats'
/// and the reasons' counts.
#[derive(Default)]
struct Summary {
    lines: u64,
    by_format: BTreeMap<&'static str, u64>,
    by_reason: BTreeMap<&'static str, u64>,
    /// Lines printed for split lines, and the pieces they were.
    joins: u64,
    pieces: u64,
}

/// Runs `meshlog parse`.
pub fn run(args: &ParseArgs) -> Result<(), Error> {
    let parser = LineParser::new(&args.format)
        .map_err(|source| Error::Format { spec: args.format.clone(), source })?
        .with_max_line_bytes(args.max_line_bytes);
    let path = args.input.clone().unwrap_or_else(|| PathBuf::from("-"));
    let input = open(&path)?;
    let stdout = io::stdout();
    let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
    let outcome = parse_stream(input, &path, LogStream::new(parser), &mut out)
        .and_then(|summary| out.flush().map_err(Error::Write).map(|()| summary));
    match outcome {
        Ok(summary) => print_summary(&summary),
        // `meshlog parse big.log | head`: the reader has all it wanted.
        Err(Error::Write(error)) if error.kind() == io::ErrorKind::BrokenPipe => {}
        Err(error) => return Err(error),
    }
    Ok(())
}

fn open(path: &Path) -> Result<Box<dyn BufRead>, Error> {
    if path == Path::new("-") {
        return Ok(Box::new(BufReader::with_capacity(1 << 18, io::stdin())));
    }
    let file = File::open(path).map_err(|source| Error::Read { path: path.into(), source })?;
    Ok(Box::new(BufReader::with_capacity(1 << 18, file)))
}

fn parse_stream(
    input: Box<dyn BufRead>,
    path: &Path,
    mut stream: LogStream,
    out: &mut impl Write,
) -> Result<Summary, Error> {
    let mut reader = LineReader::new(input, stream.max_line_bytes());
    let mut summary = Summary::default();
    loop {
        let at = LinePosition::new(summary.lines + 1, reader.offset());
        let line =
            reader.next_line().map_err(|source| Error::Read { path: path.into(), source })?;
        let Some(line) = line else { break };
        summary.lines = at.line;
        match line {
            Line::Complete(raw) => {
                if let Some((span, outcome)) = stream.read(raw, at) {
                    report(span, outcome, &mut summary, out)?;
                }
            }
            Line::TooLong { len, head } => {
                let error = stream.too_long(len, head);
                let rejected = Rejected { error, line: head.into() };
                report(Span::one(at), Err(rejected), &mut summary, out)?;
            }
        }
        while let Some((span, outcome)) = stream.flushed() {
            report(span, outcome, &mut summary, out)?;
        }
    }
    while let Some((span, outcome)) = stream.finish() {
        report(span, outcome, &mut summary, out)?;
    }
    Ok(summary)
}

/// Prints what the input lines `span` became, and counts them.
fn report(
    span: Span,
    outcome: Outcome<'_>,
    summary: &mut Summary,
    out: &mut impl Write,
) -> Result<(), Error> {
    if span.lines > 1 {
        summary.joins += 1;
        summary.pieces += span.lines;
    }
    let (line, lines) = (span.first.line, span.lines);
    let written = match outcome {
        Ok(parsed) => {
            *summary.by_format.entry(parsed.format).or_default() += lines;
            let printed = ParsedLine { line, lines, record: &parsed.record, format: parsed.format };
            serde_json::to_writer(&mut *out, &printed)
        }
        Err(Rejected { error, line: raw }) => {
            *summary.by_reason.entry(error.code()).or_default() += lines;
            let raw = String::from_utf8_lossy(&raw);
            let error_text = error.to_string();
            let printed =
                RejectedLine { line, lines, reason: error.code(), error: error_text, raw: &raw };
            serde_json::to_writer(&mut *out, &printed)
        }
    };
    written.map_err(io::Error::from).map_err(Error::Write)?;
    out.write_all(b"\n").map_err(Error::Write)
}

fn print_summary(summary: &Summary) {
    let parsed: u64 = summary.by_format.values().sum();
    let rejected: u64 = summary.by_reason.values().sum();
    let formats = join_counts(&summary.by_format);
    let joined = match summary.joins {
        0 => String::new(),
        1 => format!("; {} of them were the pieces of 1 split line", summary.pieces),
        joins => format!("; {} of them were the pieces of {joins} split lines", summary.pieces),
    };
    say!(
        "meshlog parse: {} lines, {parsed} parsed ({formats}), {rejected} rejected{joined}",
        summary.lines
    );
    for (reason, count) in &summary.by_reason {
        say!("  rejected {count}: {reason}");
    }
}

fn join_counts(counts: &BTreeMap<&'static str, u64>) -> String {
    let parts: Vec<String> =
        counts.iter().map(|(name, count)| format!("{name}: {count}")).collect();
    parts.join(", ")
}

/// Runs `meshlog formats`: every preset with its format string.
pub fn list_formats() -> Result<(), Error> {
    let stdout = io::stdout();
    let mut out = stdout.lock();
    for (name, format) in presets::PRESETS {
        writeln!(out, "{name}\n  {}\n", format.trim_end()).map_err(Error::Write)?;
    }
    Ok(())
}
