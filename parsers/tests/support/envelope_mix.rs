//! Random inputs that mix every container envelope meshlog unwraps, line by line:
//! Envoy lines bare and behind `kubectl logs --prefix --timestamps`, stern (plain,
//! coloured, across namespaces, stamped, `--output json`), kubetail (plain, coloured),
//! Ambassador's `ACCESS `, CRI `F`/`P` lines of both streams, Docker json-file records
//! (whole, without `\n`, and 16 KiB pieces), Filebeat-style `message` records, ANSI
//! garbage, istio-agent lines, other garbage and empty lines, with CRLF endings here and
//! there and perhaps a last line without newline. With each input comes a model of what
//! a correct reader reports: the span (first line, its offset, lines covered) of every
//! line or joined line. Shared by `parsers/tests/line_accounting.rs` and the CLI's
//! end-to-end tests, which include this file by path.

use proptest::prelude::*;

/// Docker's split size: a `log` of this many bytes without `\n` is a piece.
pub const SPLIT: usize = 16 * 1024;
pub const POD: &str = "istio-ingressgateway-7d9f8c6b5-x2x4q";

/// The runtime envelope a line's pieces are joined by, and its output stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Runtime {
    Cri,
    Docker,
}

/// One generated input line.
#[derive(Debug, Clone)]
pub struct InputLine {
    /// The line without its terminator.
    pub text: Vec<u8>,
    /// Its runtime envelope and stream, when it has one.
    pub key: Option<(Runtime, &'static str)>,
    /// A piece that the next piece of its key continues.
    pub partial: bool,
    /// Read alone, an access log line that must parse, with this `proxy`.
    pub access: Option<Option<&'static str>>,
}

/// A whole input and its lines.
#[derive(Debug, Clone)]
pub struct MixedInput {
    pub bytes: Vec<u8>,
    pub lines: Vec<InputLine>,
    /// The byte offset where each line starts.
    pub offsets: Vec<u64>,
}

/// What a correct reader reports for one line or joined line: its first line
/// (1-based), where that starts, and how many input lines it covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ExpectedSpan {
    pub line: u64,
    pub offset: u64,
    pub lines: u64,
}

impl MixedInput {
    /// The spans, ordered by first line: a join runs from a piece (CRI `P`, a 16 KiB
    /// Docker record) through the pieces of the same runtime and stream to the first
    /// one that is not a piece; a line without that runtime envelope gives it up, and
    /// so does the end of the input.
    pub fn expected_spans(&self) -> Vec<ExpectedSpan> {
        let mut spans = Vec::new();
        let mut pending: Vec<((Runtime, &str), ExpectedSpan)> = Vec::new();
        for (index, line) in self.lines.iter().enumerate() {
            let at = ExpectedSpan { line: index as u64 + 1, offset: self.offsets[index], lines: 1 };
            let runtime = line.key.map(|(runtime, _)| runtime);
            let (kept, given_up): (Vec<_>, Vec<_>) =
                pending.drain(..).partition(|(key, _)| Some(key.0) == runtime);
            pending = kept;
            spans.extend(given_up.into_iter().map(|(_, span)| span));
            let key = line.key;
            if let Some(index) =
                pending.iter().position(|(pending_key, _)| Some(*pending_key) == key)
            {
                pending[index].1.lines += 1;
                if !line.partial {
                    spans.push(pending.remove(index).1);
                }
            } else if let (Some(key), true) = (key, line.partial) {
                pending.push((key, at));
            } else {
                spans.push(at);
            }
        }
        spans.extend(pending.into_iter().map(|(_, span)| span));
        spans.sort();
        spans
    }
}

fn istio(n: u32) -> String {
    format!(
        r#"[2022-11-09T00:00:{:02}.{:03}Z] "GET /api/v1/items/{n} HTTP/1.1" 200 - via_upstream - "-" 0 11107 81 80 "10.142.0.66" "curl/8.4.0" "36912637-ba06-41e4-97a2-{n:012}" "34.75.183.246" "10.112.0.68:8080" outbound|80||frontend.mycompany.mesh 10.112.0.50:41008 10.112.0.50:8080 10.142.0.66:16973 - default"#,
        n % 60,
        n % 1000
    )
}

fn json(text: &str) -> String {
    serde_json::to_string(text).expect("a string serialises")
}

fn line(text: String, key: Option<(Runtime, &'static str)>, partial: bool) -> InputLine {
    InputLine { text: text.into_bytes(), key, partial, access: None }
}

fn access(text: String, proxy: Option<&'static str>) -> InputLine {
    InputLine { access: Some(proxy), ..line(text, None, false) }
}

fn stream_name() -> impl Strategy<Value = &'static str> {
    prop_oneof![3 => Just("stdout"), 1 => Just("stderr")]
}

/// Lines that name no runtime, each an access log line read whole.
fn pod_prefixed(n: u32, variant: u8) -> InputLine {
    let envoy = istio(n);
    let stern_colours = |name: &str, colour: u8| format!("\x1b[{colour}m{name}\x1b[0m");
    match variant % 10 {
        0 => access(envoy, None),
        1 => access(
            format!("[pod/{POD}/istio-proxy] 2022-11-09T00:00:50.418245811Z {envoy}"),
            Some(POD),
        ),
        2 => access(format!("{POD} istio-proxy {envoy}"), Some(POD)),
        3 => access(
            format!("{} {} {envoy}", stern_colours(POD, 96), stern_colours("istio-proxy", 36)),
            Some(POD),
        ),
        4 => access(
            format!("istio-system {POD} istio-proxy 2022-11-09T09:00:50.418245811+09:00 {envoy}"),
            Some(POD),
        ),
        5 => access(format!("{POD} istio-proxy 11-09 09:00:50 {envoy}"), Some(POD)),
        6 => access(format!("[{POD}] {envoy}"), Some(POD)),
        7 => access(
            format!(
                "\x1b[38;5;10m[\x1b(B\x1b[m4:\x1b[38;5;10m{POD} istio-proxy]\x1b(B\x1b[m \x1b[38;5;10m{envoy}\x1b(B\x1b[m"
            ),
            Some(POD),
        ),
        8 => access(format!("[pod/{POD}/istio-proxy] ACCESS {envoy}"), Some(POD)),
        _ => access(
            format!(
                r#"{{"message":{},"nodeName":"node-1","namespace":"istio-system","podName":"{POD}","containerName":"istio-proxy","labels":{{"app":"gw"}}}}"#,
                json(&envoy)
            ),
            Some(POD),
        ),
    }
}

/// CRI lines: whole (`F`) or pieces (`P`), of an access log or a fragment.
fn cri() -> impl Strategy<Value = InputLine> {
    (stream_name(), any::<bool>(), 0..3u8, any::<u32>()).prop_map(|(stream, piece, content, n)| {
        let tag = if piece { "P" } else { "F" };
        let text = match content {
            0 => format!("2022-11-09T00:00:50.524698517Z {stream} {tag} {}", istio(n)),
            1 => format!("2022-11-09T00:00:50.524698517Z {stream} {tag} fragment {n}"),
            _ => format!("2022-11-09T00:00:50.524698517Z {stream} {tag}"),
        };
        let mut line = line(text, Some((Runtime::Cri, stream)), piece);
        if !piece && content == 0 {
            line.access = Some(None);
        }
        line
    })
}

/// Docker json-file records: whole, cut short without `\n`, a 16 KiB piece, and a
/// shipper's `message` copy (never a piece, even at 16 KiB).
fn docker() -> impl Strategy<Value = InputLine> {
    (stream_name(), 0..5u8, any::<u32>()).prop_map(|(stream, shape, n)| {
        let record = |key: &str, text: &str| {
            format!(
                r#"{{"{key}":{},"stream":"{stream}","time":"2022-11-09T00:00:50.418245811Z"}}"#,
                json(text)
            )
        };
        let key = Some((Runtime::Docker, stream));
        let filler: String = "ab\"&<x".chars().cycle().take(SPLIT).collect();
        let mut line = match shape {
            0 => line(record("log", &format!("{}\n", istio(n))), key, false),
            1 => line(record("log", &istio(n)), key, false),
            2 => line(record("log", &filler), key, true),
            3 => line(record("message", &istio(n)), key, false),
            _ => line(record("message", &filler), key, false),
        };
        if shape <= 1 || shape == 3 {
            line.access = Some(None);
        }
        line
    })
}

/// Lines that are no access log and have no runtime envelope.
fn other() -> impl Strategy<Value = InputLine> {
    prop_oneof![
        "[A-Z!#%&()*+,./:;<=>?@^_~|][ -~]{0,30}".prop_map(|text| line(text, None, false)),
        Just(line(String::new(), None, false)),
        Just(line("\x1b[31mERROR\x1b[0m upstream reset".to_owned(), None, false)),
        Just(line(
            "2022-11-09T00:00:49.001284Z\tinfo\txdsproxy\tconnected to upstream XDS server"
                .to_owned(),
            None,
            false
        )),
        Just(line(format!("+ {POD} \u{203a} istio-proxy"), None, false)),
    ]
}

/// One input line of any kind.
pub fn input_line() -> impl Strategy<Value = InputLine> {
    prop_oneof![
        4 => (any::<u32>(), any::<u8>()).prop_map(|(n, variant)| pod_prefixed(n, variant)),
        4 => cri(),
        4 => docker(),
        2 => other(),
    ]
}

/// A whole input of up to `max_lines` lines, some ending in CRLF, the last perhaps
/// without a newline.
pub fn mixed_input(max_lines: usize) -> impl Strategy<Value = MixedInput> {
    (
        proptest::collection::vec(input_line(), 0..max_lines),
        proptest::collection::vec(any::<bool>(), max_lines),
        any::<bool>(),
    )
        .prop_map(|(lines, crlf, unterminated_last)| assemble(lines, &crlf, unterminated_last))
}

fn assemble(mut lines: Vec<InputLine>, crlf: &[bool], unterminated_last: bool) -> MixedInput {
    let mut bytes = Vec::new();
    let mut offsets = Vec::new();
    let count = lines.len();
    for (index, line) in lines.iter_mut().enumerate() {
        offsets.push(bytes.len() as u64);
        if crlf[index] {
            line.text.push(b'\r');
        }
        bytes.extend_from_slice(&line.text);
        let last = index + 1 == count;
        if !(last && unterminated_last && !line.text.is_empty()) {
            bytes.push(b'\n');
        }
    }
    MixedInput { bytes, lines, offsets }
}
