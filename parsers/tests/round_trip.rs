//! Property tests for the access-log round trip: a random record rendered with a format
//! parses back to exactly that record. Covers every preset (text and JSON), random custom
//! text and JSON formats, `auto` detection (line by line and over a mixed stream), and that
//! parsing and compiling never panic on arbitrary input. Which fields a format carries is
//! derived here from the operator names in its format string (the mapping in
//! `shared/ENVOY.md`), never from the parser, so a wrong column mapping fails the test.

use std::borrow::Cow;
use std::sync::{Arc, LazyLock};

use meshlog_parsers::{AccessLogRecord, Field, FieldValue, Format, LineParser, Timestamp, presets};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::{Index, select, subsequence};
use serde_json::Value;

/// Envoy command operators that fill a column, with the column each fills.
const COLUMN_OPERATORS: &[(&str, Field)] = &[
    ("START_TIME", Field::StartTime),
    ("HOSTNAME", Field::Proxy),
    ("REQ(:METHOD)", Field::Method),
    ("REQ(X-ENVOY-ORIGINAL-PATH?:PATH)", Field::Path),
    ("REQ(:PATH)", Field::Path),
    ("PROTOCOL", Field::Protocol),
    ("RESPONSE_CODE", Field::ResponseCode),
    ("RESPONSE_FLAGS", Field::ResponseFlags),
    ("RESPONSE_FLAGS_LONG", Field::ResponseFlags),
    ("RESPONSE_CODE_DETAILS", Field::ResponseCodeDetails),
    ("CONNECTION_TERMINATION_DETAILS", Field::ConnectionTerminationDetails),
    ("UPSTREAM_TRANSPORT_FAILURE_REASON", Field::UpstreamTransportFailureReason),
    ("BYTES_RECEIVED", Field::BytesReceived),
    ("BYTES_SENT", Field::BytesSent),
    ("DURATION", Field::DurationMs),
    ("RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)", Field::UpstreamServiceTimeMs),
    ("REQ(X-FORWARDED-FOR)", Field::XForwardedFor),
    ("REQ(USER-AGENT)", Field::UserAgent),
    ("REQ(X-REQUEST-ID)", Field::RequestId),
    ("REQ(:AUTHORITY)", Field::Authority),
    ("REQ(HOST)", Field::Authority),
    ("UPSTREAM_HOST", Field::UpstreamHost),
    ("UPSTREAM_REMOTE_ADDRESS", Field::UpstreamHost),
    ("UPSTREAM_CLUSTER", Field::UpstreamCluster),
    ("UPSTREAM_CLUSTER_RAW", Field::UpstreamCluster),
    ("UPSTREAM_LOCAL_ADDRESS", Field::UpstreamLocalAddress),
    ("DOWNSTREAM_LOCAL_ADDRESS", Field::DownstreamLocalAddress),
    ("DOWNSTREAM_REMOTE_ADDRESS", Field::DownstreamRemoteAddress),
    ("REQUESTED_SERVER_NAME", Field::RequestedServerName),
    ("ROUTE_NAME", Field::RouteName),
];

/// `START_TIME` with a custom spec; the second prints whole seconds only.
const TIME_OPERATORS: &[&str] = &["START_TIME(%s.%3f)", "START_TIME(%Y/%m/%d %H:%M:%S)"];
const WHOLE_SECONDS: &str = "START_TIME(%Y/%m/%d %H:%M:%S)";

/// Operators without a column: their values are kept as extras under these names.
const EXTRA_OPERATORS: &[&str] =
    &["REQ(X-B3-TRACEID)", "DYNAMIC_METADATA(a:b)", "REQUEST_DURATION", "FILTER_STATE(x.y:PLAIN)"];
const MIXER: &str = "DYNAMIC_METADATA(istio.mixer:status)";

/// Literal text put between the operators of random custom formats.
const SEPARATORS: &[&str] = &[" ", "\" \"", " | ", ",", "] [", " key="];
const LEADS: &[&str] = &["", "[", "ACCESS "];
const TRAILS: &[&str] = &["", "]", " end"];
/// Stems of random JSON keys (an index is appended to keep them unique).
const KEY_STEMS: &[&str] =
    &["k", "start_time", "x-forwarded-for", ":authority", "clé", "a\"b", "a\\b"];

/// Pieces of generated values, by what they add to a value's class.
#[rustfmt::skip]
const TOKEN_ATOMS: &[&str] = &[
    "a", "Zq", "0", "97", ".", ":", "/", "|", "-", "_", ";", "=", ",", "[", "]", "{", "}",
    "%", "?", "&", "\\", "é", "日本", "😀", "key=", "outbound|80||frontend.mycompany.mesh",
    "10.112.0.68:8080", "GET", "HTTP/1.1", "via_upstream",
];
const SPACE_ATOMS: &[&str] = &[" ", "\t", ", ", "] [", " | ", " key=", "  "];
const QUOTE_ATOMS: &[&str] = &["\"", "\" \"", "\"-\"", "\" ", " \"", "\"\""];

/// Every preset, compiled once: name, format string, compiled format.
static PRESETS: LazyLock<Vec<(&str, &str, Format)>> = LazyLock::new(|| {
    presets::PRESETS.iter().map(|(name, text)| (*name, *text, compile(text))).collect()
});

/// Microseconds from the epoch to 2200-01-01T00:00:00Z.
const YEAR_2200_MICROS: i64 = 7_258_118_400_000_000;

/// What a generated text value may contain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// No space, tab or `"`.
    Token,
    /// No `"`.
    Unquoted,
    /// Anything printable but line breaks, with many quotes.
    Text,
    /// Any character at all (JSON values).
    Any,
}

/// 256 cases (`PROPTEST_CASES` overrides), and no regression files written.
fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|cases| cases.parse().ok());
    ProptestConfig {
        cases: cases.unwrap_or(256),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// The operator labels of a format string with no `%` outside its operators (every
/// preset): between each pair of `%`.
fn preset_labels(format: &str) -> Vec<String> {
    format.split('%').skip(1).step_by(2).map(str::to_owned).collect()
}

/// The column an operator label fills, or `None` for an extra.
fn field_of(label: &str) -> Option<Field> {
    if label.starts_with("START_TIME") {
        return Some(Field::StartTime);
    }
    COLUMN_OPERATORS.iter().find(|(op, _)| *op == label).map(|(_, field)| *field)
}

/// The class a text column's values have in a text format. Paths hold anything,
/// even the `"` RFC 3986 forbids: `"GET /a "       "x" " HTTP/1.1" 200 …` once read
/// as path `/a` with empty protocol to duration, before unquoted tokens and numbers
/// were refused when empty.
fn text_kind(field: Field) -> Kind {
    match field {
        Field::UserAgent | Field::Path => Kind::Text,
        Field::XForwardedFor | Field::UpstreamTransportFailureReason => Kind::Unquoted,
        _ => Kind::Token,
    }
}

/// Microsecond step of generated times: whole seconds if a format prints no fraction.
fn time_step<S: AsRef<str>>(labels: &[S]) -> i64 {
    let whole_seconds = labels.iter().any(|label| label.as_ref() == WHOLE_SECONDS);
    if whole_seconds { 1_000_000 } else { 1000 }
}

fn is_json(format: &str) -> bool {
    format.trim_start().starts_with('{')
}

/// The name `auto` reports for a preset's lines (1.9 and 1.23 print identical lines).
fn auto_name(preset: &str) -> &str {
    match preset {
        "istio-1.9" | "istio-1.23" => "istio",
        other => other,
    }
}

/// Every operator a random custom format may use.
fn custom_operators() -> Vec<&'static str> {
    let columns = COLUMN_OPERATORS.iter().map(|(op, _)| *op);
    columns.chain(TIME_OPERATORS.iter().copied()).chain(EXTRA_OPERATORS.iter().copied()).collect()
}

/// A value that reads back as present: never empty, never `-`.
fn present(text: String) -> String {
    if text == "-" { "-x".to_owned() } else { text }
}

/// An `upstream_cluster` value without the trailing `;` the parser strips.
fn without_semicolon(mut text: String) -> String {
    if text.ends_with(';') {
        text.push('x');
    }
    text
}

/// A text value of `kind`: one to seven atoms.
fn text_value(kind: Kind) -> BoxedStrategy<String> {
    let atoms = |atoms: &'static [&'static str]| select(atoms).prop_map(str::to_owned);
    let atom = match kind {
        Kind::Token => atoms(TOKEN_ATOMS).boxed(),
        Kind::Unquoted => prop_oneof![3 => atoms(TOKEN_ATOMS), 1 => atoms(SPACE_ATOMS)].boxed(),
        Kind::Text => prop_oneof![
            4 => atoms(TOKEN_ATOMS),
            1 => atoms(SPACE_ATOMS),
            2 => atoms(QUOTE_ATOMS)
        ]
        .boxed(),
        Kind::Any => prop_oneof![
            1 => atoms(TOKEN_ATOMS),
            1 => atoms(QUOTE_ATOMS),
            2 => any::<char>().prop_map(String::from)
        ]
        .boxed(),
    };
    vec(atom, 1..8).prop_map(|atoms| present(atoms.concat())).boxed()
}

/// A time between 1970 and 2200 that is a multiple of `step` microseconds.
fn timestamp(step: i64) -> impl Strategy<Value = Timestamp> {
    (0..YEAR_2200_MICROS / step).prop_map(move |n| Timestamp::from_micros(n * step))
}

/// A byte count or duration, often small, sometimes huge.
fn integer() -> impl Strategy<Value = u64> {
    prop_oneof![0..2000u64, any::<u64>(), Just(u64::MAX)]
}

/// A present value for `field`; text of any character when `json`.
fn column_value(field: Field, json: bool, step: i64) -> BoxedStrategy<FieldValue<'static>> {
    let kind = if json { Kind::Any } else { text_kind(field) };
    match field {
        Field::StartTime => timestamp(step).prop_map(FieldValue::Time).boxed(),
        Field::ResponseCode => {
            any::<u16>().prop_map(|code| FieldValue::Integer(code.into())).boxed()
        }
        Field::BytesReceived
        | Field::BytesSent
        | Field::DurationMs
        | Field::UpstreamServiceTimeMs => integer().prop_map(FieldValue::Integer).boxed(),
        Field::UpstreamCluster => text_value(kind)
            .prop_map(|text| FieldValue::Text(Cow::Owned(without_semicolon(text))))
            .boxed(),
        _ => text_value(kind).prop_map(|text| FieldValue::Text(Cow::Owned(text))).boxed(),
    }
}

/// How many of 256 values are absent: per record, so that dense records and lines of
/// nothing but `-` both come up often.
fn absent_share() -> impl Strategy<Value = u8> {
    select(&[0u8, 13, 51, 128, 243, 255][..])
}

/// A record with a value (or absence) for every column and for each named extra.
fn full_record(
    json: bool,
    step: i64,
    extras: Vec<(String, Kind)>,
) -> impl Strategy<Value = AccessLogRecord<'static>> {
    let columns: Vec<_> =
        Field::ALL.into_iter().map(|field| column_value(field, json, step)).collect();
    let extra_values: Vec<_> = extras.iter().map(|(_, kind)| text_value(*kind)).collect();
    let rolls = vec(any::<u8>(), Field::ALL.len() + extras.len());
    (columns, extra_values, rolls, absent_share()).prop_map(move |(values, texts, rolls, share)| {
        let mut rolls = rolls.into_iter().map(|roll| roll >= share);
        let mut record = AccessLogRecord::default();
        for (field, value) in Field::ALL.into_iter().zip(values) {
            let value = if rolls.next() == Some(true) { value } else { FieldValue::Absent };
            record.set(field, value).expect("a generated value fits its column");
        }
        for ((name, _), text) in extras.iter().zip(texts) {
            let value = (rolls.next() == Some(true)).then_some(Cow::Owned(text));
            record.set_extra(&Arc::from(name.as_str()), value);
        }
        record
    })
}

/// A record for the presets: the mixer status is their only extra (quoted in text).
/// In text presets the mixer status holds no `"`, as real ones do: with one it can
/// make a line that truly reads two ways (mixer `] [" - | "` also reads as path
/// `a a" 0 a "]`, protocol `[`, flags `|`, empty mixer), which the parser rightly
/// rejects as ambiguous. Quotes in free text stay covered by user agents and paths.
fn preset_record(json: bool) -> impl Strategy<Value = AccessLogRecord<'static>> {
    let kind = if json { Kind::Any } else { Kind::Unquoted };
    full_record(json, 1000, vec![(MIXER.to_owned(), kind)])
}

/// A text-preset record whose mixer status holds no `"`, as real ones do. (With `" "`
/// in it, an istio-1.1 line is also an exact istio-1.2 line: `"" ""` is mixer `" "`,
/// or mixer and failure reason both empty; no detector can tell them apart.)
fn realistic_record() -> impl Strategy<Value = AccessLogRecord<'static>> {
    full_record(false, 1000, vec![(MIXER.to_owned(), Kind::Unquoted)])
}

/// Copies a borrowed field value.
fn owned(value: FieldValue<'_>) -> FieldValue<'static> {
    match value {
        FieldValue::Absent => FieldValue::Absent,
        FieldValue::Text(text) => FieldValue::Text(Cow::Owned(text.into_owned())),
        FieldValue::Integer(number) => FieldValue::Integer(number),
        FieldValue::Time(ts) => FieldValue::Time(ts),
    }
}

/// The value of the extra called `name` in `record`.
fn extra_value(record: &AccessLogRecord<'_>, name: &str) -> Option<Cow<'static, str>> {
    let extra = record.extra.iter().find(|extra| &*extra.name == name)?;
    extra.value.as_deref().map(|text| Cow::Owned(text.to_owned()))
}

/// What a format with operators `labels` carries of `record`: those columns, and the
/// extras in operator order (absent ones as `None`); nothing else.
fn project<S: AsRef<str>>(record: &AccessLogRecord<'_>, labels: &[S]) -> AccessLogRecord<'static> {
    let mut expected = AccessLogRecord::default();
    for label in labels.iter().map(AsRef::as_ref) {
        match field_of(label) {
            Some(field) => expected.set(field, owned(record.get(field))).expect("same column"),
            None => expected.set_extra(&Arc::from(label), extra_value(record, label)),
        }
    }
    expected
}

/// `record` with its extras renamed as a JSON format names them: by the key whose
/// value is that operator (`"istio_policy_status": "%DYNAMIC_METADATA(…)%"`).
fn extras_by_key(format: &str, record: &AccessLogRecord<'_>) -> AccessLogRecord<'static> {
    let mut record = record.clone().into_owned();
    let Ok(Value::Object(object)) = serde_json::from_str::<Value>(format) else { return record };
    for (key, value) in object {
        let Some(label) = value.as_str().and_then(|v| v.strip_prefix('%')?.strip_suffix('%'))
        else {
            continue;
        };
        if let Some(extra) = record.extra.iter_mut().find(|extra| &*extra.name == label) {
            extra.name = Arc::from(key.as_str());
        }
    }
    record
}

/// `record` with extras in name order (JSON key order is not the format's).
fn sorted_extras(mut record: AccessLogRecord<'_>) -> AccessLogRecord<'_> {
    record.extra.sort_by(|a, b| a.name.cmp(&b.name));
    record
}

/// Renders `record` with `format` and parses the line back.
fn round_trip(format: &Format, record: &AccessLogRecord<'_>) -> (String, AccessLogRecord<'static>) {
    let line = format.render(record);
    let parsed = format.parse(line.as_bytes()).map(AccessLogRecord::into_owned);
    let parsed = parsed.unwrap_or_else(|error| panic!("{line:?} does not parse back: {error}"));
    (line, parsed)
}

fn compile(format: &str) -> Format {
    Format::compile(format).unwrap_or_else(|error| panic!("{format:?} does not compile: {error}"))
}

/// A random custom text format and what the test knows about it.
#[derive(Debug, Clone)]
struct CustomFormat {
    text: String,
    labels: Vec<&'static str>,
    /// The literal after each operator (the last one's may be empty).
    after: Vec<String>,
    /// Whether each operator sits between literals ending and starting with `"`.
    quoted: Vec<bool>,
}

impl CustomFormat {
    /// Joins `ops` with `seps`, wrapping an operator in `"…"` where `wraps` says so.
    fn build(
        ops: Vec<&'static str>,
        seps: &[&str],
        wraps: &[bool],
        lead: &str,
        trail: &str,
    ) -> Self {
        let quote = |index: usize| if wraps[index] { "\"" } else { "" };
        let after: Vec<String> = (0..ops.len())
            .map(|index| match seps.get(index) {
                Some(sep) => format!("{}{sep}{}", quote(index), quote(index + 1)),
                None => format!("{}{trail}", quote(index)),
            })
            .collect();
        let mut before = vec![format!("{lead}{}", quote(0))];
        before.extend(after.iter().cloned());
        let mut text = before[0].clone();
        for (op, literal) in ops.iter().zip(&after) {
            text.push_str(&format!("%{op}%{literal}"));
        }
        let quoted = (0..ops.len()).map(|i| before[i].ends_with('"') && after[i].starts_with('"'));
        CustomFormat { text, labels: ops, quoted: quoted.collect(), after }
    }

    /// The extras of this format and their class: free text when quoted, else a token.
    fn extra_kinds(&self) -> Vec<(String, Kind)> {
        let extras =
            self.labels.iter().zip(&self.quoted).filter(|(label, _)| field_of(label).is_none());
        extras
            .map(|(label, quoted)| {
                (label.to_string(), if *quoted { Kind::Text } else { Kind::Token })
            })
            .collect()
    }
}

/// Whether no two operators fill the same column (a second one would become an
/// extra under its own name, which `one_column_each` keeps out of these properties).
fn one_column_each(ops: &[&'static str]) -> bool {
    let mut fields: Vec<Field> = ops.iter().filter_map(|op| field_of(op)).collect();
    let count = fields.len();
    fields.sort();
    fields.dedup();
    fields.len() == count
}

/// A random text format: up to twelve distinct operators between random separators.
fn custom_format() -> impl Strategy<Value = CustomFormat> {
    subsequence(custom_operators(), 1..=12)
        .prop_filter("one operator per column", |ops| one_column_each(ops))
        .prop_shuffle()
        .prop_flat_map(|ops| {
            let count = ops.len();
            let seps = vec(select(SEPARATORS), count - 1);
            (Just(ops), seps, vec(any::<bool>(), count), select(LEADS), select(TRAILS))
        })
        .prop_map(|(ops, seps, wraps, lead, trail)| {
            CustomFormat::build(ops, &seps, &wraps, lead, trail)
        })
}

/// Where `literal` first occurs in `value` followed by `literal`, if before its end.
fn early_match(value: &str, literal: &str) -> Option<usize> {
    format!("{value}{literal}").find(literal).filter(|at| *at < value.len())
}

/// Drops characters from `value` until no literal can end it early, so a line splits
/// only one way; a value left empty or `-` becomes `v`.
fn unambiguous(value: &str, literals: &[String]) -> String {
    let mut value = value.to_owned();
    let literals: Vec<&String> = literals.iter().filter(|literal| !literal.is_empty()).collect();
    while let Some(at) = literals.iter().find_map(|literal| early_match(&value, literal)) {
        value.remove(at);
    }
    if value.is_empty() || value == "-" { "v".to_owned() } else { value }
}

/// `record` with every text value made [`unambiguous`] against `literals`.
fn without_literals(record: &AccessLogRecord<'_>, literals: &[String]) -> AccessLogRecord<'static> {
    let mut clean = record.clone().into_owned();
    for field in Field::ALL {
        if let FieldValue::Text(text) = record.get(field) {
            let mut text = unambiguous(&text, literals);
            if field == Field::UpstreamCluster {
                text = without_semicolon(text);
            }
            clean.set(field, FieldValue::Text(Cow::Owned(text))).expect("same column");
        }
    }
    for extra in &mut clean.extra {
        extra.value = extra.value.take().map(|text| Cow::Owned(unambiguous(&text, literals)));
    }
    clean
}

/// A custom text format and a record whose values it can carry unambiguously.
fn custom_case() -> impl Strategy<Value = (CustomFormat, AccessLogRecord<'static>)> {
    custom_format()
        .prop_flat_map(|format| {
            let record = full_record(false, time_step(&format.labels), format.extra_kinds());
            (Just(format), record)
        })
        .prop_map(|(format, record)| {
            let record = without_literals(&record, &format.after);
            let record = without_trailing_blanks(record, &format);
            (format, record)
        })
}

/// A line's trailing blanks are no part of its last value: when nothing follows the
/// last operator, its value is given none (a value left empty becomes `v`).
fn without_trailing_blanks(
    mut record: AccessLogRecord<'static>,
    format: &CustomFormat,
) -> AccessLogRecord<'static> {
    let (Some(label), Some("")) = (format.labels.last(), format.after.last().map(String::as_str))
    else {
        return record;
    };
    let trim = |text: &str| {
        let text = text.trim_end_matches([' ', '\t']);
        if text.is_empty() || text == "-" { "v".to_owned() } else { text.to_owned() }
    };
    match field_of(label) {
        Some(field) => {
            if let FieldValue::Text(text) = record.get(field) {
                let text = trim(&text);
                record.set(field, FieldValue::Text(Cow::Owned(text))).expect("same column");
            }
        }
        None => {
            for extra in record.extra.iter_mut().filter(|extra| extra.name.as_ref() == *label) {
                extra.value = extra.value.take().map(|text| Cow::Owned(trim(&text)));
            }
        }
    }
    record
}

/// A random JSON format (`{"k0": "%OP%", …}`, maybe with a constant) and its labels.
fn json_format() -> impl Strategy<Value = (String, Vec<&'static str>)> {
    let ops = subsequence(custom_operators(), 1..=12)
        .prop_filter("one operator per column", |ops| one_column_each(ops))
        .prop_shuffle();
    (ops, vec(select(KEY_STEMS), 12), any::<bool>()).prop_map(|(ops, stems, constant)| {
        let mut object = serde_json::Map::new();
        for (index, (op, stem)) in ops.iter().zip(stems).enumerate() {
            object.insert(format!("{stem}{index}"), Value::String(format!("%{op}%")));
        }
        if constant {
            object.insert("log_type".to_owned(), Value::String("envoy".to_owned()));
            object.insert("version".to_owned(), Value::from(2));
        }
        (Value::Object(object).to_string(), ops)
    })
}

/// A JSON format and a record for it.
fn json_case() -> impl Strategy<Value = (String, Vec<&'static str>, AccessLogRecord<'static>)> {
    json_format().prop_flat_map(|(format, labels)| {
        let extras = EXTRA_OPERATORS.iter().map(|name| (name.to_string(), Kind::Any)).collect();
        let record = full_record(true, time_step(&labels), extras);
        (Just(format), Just(labels), record)
    })
}

/// `line` as older proxies print it: numbers as strings, `null` as `"-"`.
fn stringified(line: &str) -> String {
    let mut object: serde_json::Map<String, Value> =
        serde_json::from_str(line).expect("a rendered JSON line is an object");
    for value in object.values_mut() {
        let text = match value {
            Value::Number(number) => number.to_string(),
            Value::Null => "-".to_owned(),
            _ => continue,
        };
        *value = Value::String(text);
    }
    Value::Object(object).to_string()
}

/// A preset line with up to eight random byte edits (insert, delete, overwrite).
fn mutated_line() -> impl Strategy<Value = Vec<u8>> {
    let edits = vec((any::<Index>(), any::<u8>(), 0..3u8), 0..8);
    (any::<Index>(), preset_record(false), edits).prop_map(|(preset, record, edits)| {
        let (_, _, format) = &PRESETS[preset.index(PRESETS.len())];
        let mut line = format.render(&record).into_bytes();
        for (at, byte, edit) in edits {
            let at = at.index(line.len() + 1);
            match edit {
                0 => line.insert(at, byte),
                1 if at < line.len() => drop(line.remove(at)),
                _ if at < line.len() => line[at] = byte,
                _ => line.push(byte),
            }
        }
        line
    })
}

/// A preset line whose user agent or path is many `" "` or spaces: the most
/// backtracking a line can ask for.
fn storm_line() -> impl Strategy<Value = Vec<u8>> {
    let piece = select(&["\" \"", " ", "\"", "\" "][..]);
    (any::<Index>(), piece, 0..600usize, any::<bool>()).prop_map(
        |(preset, piece, count, in_path)| {
            let (_, _, format) = &PRESETS[preset.index(PRESETS.len())];
            let mut record = AccessLogRecord::default();
            let field = if in_path { Field::Path } else { Field::UserAgent };
            let text = format!("x{}", piece.repeat(count));
            record.set(field, FieldValue::Text(Cow::Owned(text))).expect("text column");
            format.render(&record).into_bytes()
        },
    )
}

/// Text that looks like format strings: operators, time specs, JSON punctuation.
fn format_like() -> impl Strategy<Value = String> {
    const ATOMS: &[&str] = &[
        "%",
        "%%",
        "(",
        ")",
        ":",
        "12",
        "99999999999999999999999",
        "START_TIME",
        "REQ",
        "RESP",
        "DYNAMIC_METADATA",
        "X-B3",
        "?",
        ":PATH",
        "USER-AGENT",
        "DURATION",
        "UPSTREAM_CLUSTER",
        "{",
        "}",
        "\"",
        ",",
        " ",
        "%s",
        "%3f",
        "%9f",
        "%f",
        "%E3S",
        "%E*S",
        "%E*f",
        "%E#S",
        "%Y",
        "%E4Y",
        "%y",
        "%m",
        "%d",
        "%e",
        "%H",
        "%I",
        "%p",
        "%M",
        "%S",
        "%j",
        "%z",
        "%Ez",
        "%Z",
        "%b",
        "%B",
        "%a",
        "%A",
        "%u",
        "%w",
        "%ET",
        "%T",
        "%D",
        "%F",
        "%R",
        "%c",
        "%n",
        "%t",
        "{\"k\":\"",
        "\"}",
        "\":",
        "[",
        "]",
        "null",
        "1.5",
        "é",
        "\\",
    ];
    vec(select(ATOMS), 0..24).prop_map(|atoms| atoms.concat())
}

proptest! {
    #![proptest_config(config())]

    /// Every preset reads back exactly the fields its format string names.
    #[test]
    fn every_preset_reads_back_what_it_renders(
        text in preset_record(false),
        json in preset_record(true),
    ) {
        for (name, format_text, format) in PRESETS.iter() {
            let record = if is_json(format_text) { &json } else { &text };
            let (line, parsed) = round_trip(format, &extras_by_key(format_text, record));
            let expected = extras_by_key(format_text, &project(record, &preset_labels(format_text)));
            prop_assert_eq!(sorted_extras(parsed), sorted_extras(expected), "{}: {}", name, line);
        }
    }

    /// Istio 1.23–1.24 print `upstream_cluster` with a trailing `;`; it is dropped.
    #[test]
    fn upstream_cluster_loses_a_trailing_semicolon(
        record in preset_record(false),
        cluster in text_value(Kind::Token).prop_map(without_semicolon),
    ) {
        let mut record = record;
        let logged = FieldValue::Text(Cow::Owned(format!("{cluster};")));
        record.set(Field::UpstreamCluster, logged).expect("text column");
        for (name, format_text, format) in PRESETS.iter() {
            if !preset_labels(format_text).iter().any(|label| label.starts_with("UPSTREAM_CLUSTER")) {
                continue;
            }
            let (line, parsed) = round_trip(format, &record);
            prop_assert_eq!(parsed.upstream_cluster.as_deref(), Some(cluster.as_str()), "{}: {}", name, line);
        }
    }

    /// Random text formats read back what they render when values hold no separator.
    #[test]
    fn custom_text_formats_read_back_what_they_render((format, record) in custom_case()) {
        let (line, parsed) = round_trip(&compile(&format.text), &record);
        let expected = project(&record, &format.labels);
        prop_assert_eq!(parsed, expected, "format {:?}, line {:?}", format.text, line);
    }

    /// Random JSON formats read back typed values and the all-strings form of them.
    #[test]
    fn custom_json_formats_read_back_typed_and_string_values((format, labels, record) in json_case()) {
        let compiled = compile(&format);
        let expected = sorted_extras(extras_by_key(&format, &project(&record, &labels)));
        let (line, parsed) = round_trip(&compiled, &extras_by_key(&format, &record));
        prop_assert_eq!(sorted_extras(parsed), expected.clone(), "format {}, line {}", format, line);
        let strings = stringified(&line);
        let parsed = compiled.parse(strings.as_bytes());
        prop_assert!(parsed.is_ok(), "{} does not parse: {:?}", strings, parsed.err());
        let parsed = parsed.expect("checked").into_owned();
        prop_assert_eq!(sorted_extras(parsed), expected, "format {}, line {}", format, strings);
    }

    /// No preset and not `auto` panics on any bytes, however mangled.
    #[test]
    fn parsing_never_panics_on_any_bytes(
        line in prop_oneof![vec(any::<u8>(), 0..400), mutated_line(), storm_line()],
    ) {
        for name in presets::names().chain(["auto"]) {
            let mut parser = LineParser::new(name).expect("built-in formats compile");
            let _ = parser.parse(&line);
        }
    }

    /// No string panics the format compiler, and no compiled format panics on a line.
    #[test]
    fn compiling_never_panics_on_any_string(
        format in prop_oneof![any::<String>(), format_like()],
        line in vec(any::<u8>(), 0..200),
        record in preset_record(false),
    ) {
        let _ = LineParser::new(&format);
        let _ = LineParser::new(&format!("[%START_TIME({format})%] %DURATION%"));
        if let Ok(compiled) = Format::compile(&format) {
            let rendered = compiled.render(&record);
            let _ = compiled.parse(rendered.as_bytes());
            let _ = compiled.parse(&line);
        }
    }

    /// `auto` reads a line of any preset as that preset does.
    #[test]
    fn auto_reads_each_preset_line_like_the_preset(
        text in realistic_record(),
        json in preset_record(true),
    ) {
        for (name, format_text, format) in PRESETS.iter() {
            let record = if is_json(format_text) { &json } else { &text };
            let (line, fixed) = round_trip(format, &as_access_log(record));
            let auto = LineParser::new("auto").expect("auto").parse(line.as_bytes());
            prop_assert!(auto.is_ok(), "auto rejects {} line {}: {:?}", name, line, auto.err());
            let auto = auto.expect("checked");
            prop_assert_eq!(auto.format, auto_name(name), "{}", line);
            prop_assert_eq!(auto.record.into_owned(), fixed, "{}: {}", name, line);
        }
    }

    /// `auto` reads a stream mixing presets line by line, whatever came before.
    #[test]
    fn auto_reads_a_stream_that_mixes_presets(
        lines in vec((any::<Index>(), realistic_record()), 1..8),
    ) {
        let mut auto = LineParser::new("auto").expect("auto");
        for (preset, record) in lines {
            let (name, _, format) = &PRESETS[preset.index(PRESETS.len())];
            let (line, fixed) = round_trip(format, &as_access_log(&record));
            let parsed = auto.parse(line.as_bytes());
            prop_assert!(parsed.is_ok(), "auto rejects {} line {}: {:?}", name, line, parsed.err());
            let parsed = parsed.expect("checked");
            prop_assert_eq!(parsed.format, auto_name(name), "{}", line);
            prop_assert_eq!(parsed.record.into_owned(), fixed, "{}: {}", name, line);
        }
    }
}

/// `auto` takes a JSON object as an access log only when it has a start time or a
/// response code; records for the `auto` properties get a response code if they
/// have neither.
fn as_access_log(record: &AccessLogRecord<'static>) -> AccessLogRecord<'static> {
    let mut record = record.clone();
    if record.ts.is_none() && record.response_code.is_none() {
        record.response_code = Some(200);
    }
    record
}

/// User agents holding `"` and `" "` read back whole in every text preset: no field
/// shifts into its neighbour.
#[test]
fn quoted_user_agents_never_shift_fields() {
    let agents =
        ["a\" \"b", "\" \"", "\"", "x\" \"y\" \"z", "ends\"", "\" starts", "\"-\"", "\"\" \"\""];
    for (name, format_text, format) in PRESETS.iter().filter(|(_, text, _)| !is_json(text)) {
        for agent in agents {
            let record = AccessLogRecord {
                user_agent: Some(Cow::Borrowed(agent)),
                request_id: Some(Cow::Borrowed("r1")),
                x_forwarded_for: Some(Cow::Borrowed("10.0.0.1, 10.0.0.2")),
                response_code: Some(200),
                ..AccessLogRecord::default()
            };
            let (line, parsed) = round_trip(format, &record);
            assert_eq!(parsed, project(&record, &preset_labels(format_text)), "{name}: {line}");
        }
    }
}

/// Regression: after an istio-1.1 line `auto` tried istio-1.1 first, and an istio-1.2
/// line read with it too, the quoted mixer status swallowing the transport failure
/// reason (`"ok" "tls"` → mixer `ok" "tls`, reason lost).
#[test]
fn auto_keeps_the_failure_reason_of_an_istio_1_2_line_after_an_istio_1_1_line() {
    let mut record = AccessLogRecord {
        response_code: Some(200),
        upstream_transport_failure_reason: Some(Cow::Borrowed("tls")),
        ..AccessLogRecord::default()
    };
    record.set_extra(&Arc::from(MIXER), Some(Cow::Borrowed("ok")));
    let first = compile(presets::ISTIO_1_1).render(&record);
    let second = compile(presets::ISTIO_1_2).render(&record);
    let mut auto = LineParser::new("auto").expect("auto");
    assert_eq!(auto.parse(first.as_bytes()).expect("1.1 line").format, "istio-1.1");
    let parsed = auto.parse(second.as_bytes()).expect("1.2 line");
    assert_eq!((parsed.format, parsed.record), ("istio-1.2", record), "{second}");
}

/// Regression: `auto` rejected an istio-1.1–1.3 line whose every value is `-`, which
/// its own preset reads, counting the absent mixer status as an unnamed (JSON) extra.
#[test]
fn auto_reads_an_istio_1_3_line_with_every_value_absent() {
    let line = compile(presets::ISTIO_1_3).render(&AccessLogRecord::default());
    let parsed = LineParser::new("auto").expect("auto").parse(line.as_bytes());
    assert_eq!(parsed.map(|parsed| parsed.format), Ok("istio-1.3"), "{line}");
}
