//! Tests of the whole simulator against the real parser: determinism, every line
//! parsing (and every corrupted one rejected), values surviving the round trip, the
//! episodes and the baseline spill visible in the parsed data, and the truth adding up.

use std::borrow::Cow;
use std::collections::BTreeMap;

use meshlog_parsers::stream::LogStream;
use meshlog_parsers::{AccessLogRecord, Format, LineParser, Timestamp, presets};

use super::generate::Generator;
use super::line::Line;
use super::render::Renderer;
use super::timeline::Timeline;
use super::*;

mod episodes;
mod stories;

fn scenario(format: OutputFormat) -> Scenario {
    Scenario { format, ..Scenario::default() }
}

fn output(scenario: &Scenario) -> (Vec<u8>, Truth) {
    let mut out = Vec::new();
    let truth = run(scenario, &mut out).unwrap();
    (out, truth)
}

fn lines(bytes: &[u8]) -> impl Iterator<Item = &[u8]> {
    bytes.strip_suffix(b"\n").unwrap_or(bytes).split(|&byte| byte == b'\n')
}

/// Every line parsed with `preset`, and the number rejected.
fn parse_all(bytes: &[u8], preset: &str) -> (Vec<AccessLogRecord<'static>>, usize) {
    let mut parser = LineParser::new(preset).unwrap();
    let mut records = Vec::new();
    let mut rejected = 0;
    for line in lines(bytes) {
        match parser.parse(line) {
            Ok(parsed) => records.push(parsed.record.into_owned()),
            Err(_) => rejected += 1,
        }
    }
    (records, rejected)
}

/// What the parser must read back from `line`.
fn expected(line: &Line) -> AccessLogRecord<'static> {
    let text = |value: Option<&'static str>| value.map(Cow::Borrowed);
    let addr = |addr: super::line::Addr| Cow::Owned(format!("{}:{}", addr.ip, addr.port));
    let request_id = line.request_id.map(|id| Cow::Owned(String::from_utf8(id.to_vec()).unwrap()));
    AccessLogRecord {
        ts: Some(Timestamp::from_micros(line.start_ms * 1000)),
        method: text(line.method),
        path: text(line.path),
        protocol: text(line.protocol),
        response_code: Some(line.response_code),
        response_flags: text(line.response_flags),
        response_code_details: text(line.response_code_details),
        upstream_transport_failure_reason: text(line.upstream_transport_failure_reason),
        bytes_received: Some(line.bytes_received),
        bytes_sent: Some(line.bytes_sent),
        duration_ms: Some(line.duration_ms),
        upstream_service_time_ms: line.upstream_service_time_ms,
        x_forwarded_for: text(line.x_forwarded_for),
        user_agent: text(line.user_agent),
        request_id,
        authority: text(line.authority),
        upstream_host: text(line.upstream_host),
        upstream_cluster: text(line.upstream_cluster),
        upstream_local_address: line.upstream_local_address.map(addr),
        downstream_local_address: Some(Cow::Borrowed(line.downstream_local_address)),
        downstream_remote_address: Some(addr(line.downstream_remote_address)),
        requested_server_name: text(line.requested_server_name),
        route_name: text(line.route_name),
        ..AccessLogRecord::default()
    }
}

/// Lines of every route and phase: a ten-minute timeline sampled through its episodes.
fn sample_lines() -> Vec<Line> {
    let timeline = Timeline::new(DEFAULT_START_US / 1000, 10);
    let mut generator = Generator::new(42, timeline);
    let step_ms = 600_000 / 30_000;
    (0..30_000).map(|i| generator.line(DEFAULT_START_US / 1000 + i * step_ms)).collect()
}

#[test]
fn same_seed_same_bytes_other_seed_other_bytes() {
    for format in [OutputFormat::Istio, OutputFormat::Json] {
        let base = Scenario { minutes: 2, malformed_per_million: 1_000, ..scenario(format) };
        assert_eq!(output(&base), output(&base));
        assert_ne!(output(&base).0, output(&Scenario { seed: 2, ..base.clone() }).0);
    }
}

#[test]
fn every_line_parses_with_the_istio_presets_and_auto() {
    for format in [OutputFormat::Istio, OutputFormat::Json] {
        let (out, truth) = output(&scenario(format));
        assert_eq!((truth.lines, truth.malformed), (60_000, 0));
        assert_eq!(parse_all(&out, format.parser_preset()).0.len(), 60_000);
        let (out, _) = output(&Scenario { minutes: 2, ..scenario(format) });
        assert_eq!(parse_all(&out, "auto"), (parse_all(&out, format.parser_preset()).0, 0));
    }
}

#[test]
fn parsed_values_equal_the_generated_ones() {
    for (format, preset) in [(OutputFormat::Istio, "istio"), (OutputFormat::Json, "istio-json")] {
        let mut parser = LineParser::new(preset).unwrap();
        let mut renderer = Renderer::new(format);
        for line in sample_lines() {
            let mut buf = Vec::new();
            renderer.write(&line, &mut buf);
            let parsed = parser.parse(buf.strip_suffix(b"\n").unwrap()).unwrap();
            assert_eq!(parsed.record, expected(&line), "{}", String::from_utf8_lossy(&buf));
        }
    }
}

#[test]
fn text_lines_are_byte_for_byte_what_the_parsers_renderer_writes() {
    let Ok(Format::Text(format)) = Format::compile(presets::ISTIO_1_23) else { panic!() };
    let mut renderer = Renderer::new(OutputFormat::Istio);
    for line in sample_lines() {
        let mut buf = Vec::new();
        renderer.write(&line, &mut buf);
        assert_eq!(String::from_utf8(buf).unwrap(), format.render(&expected(&line)) + "\n");
    }
}

#[test]
fn tcp_and_no_upstream_lines_look_like_envoys() {
    let (out, _) = output(&Scenario { minutes: 1, ..Scenario::default() });
    let text = String::from_utf8(out).unwrap();
    let tcp = text.lines().find(|line| line.contains("mysql")).unwrap();
    assert!(tcp.contains(r#""- - -" 0 - - - "-" "#), "{tcp}");
    assert!(tcp.contains(r#" - "-" "-" "-" "-" "10.96.6.5:3306" outbound|3306||mysql"#), "{tcp}");
    let no_route = text.lines().find(|line| line.contains(" 404 NR ")).unwrap();
    assert!(no_route.contains(r#" 0 0 0 - "#) && no_route.contains(r#""-" - - 10.112.0.50:8080"#));
}

#[test]
fn corrupted_lines_are_exactly_the_rejected_ones() {
    for format in [OutputFormat::Istio, OutputFormat::Json] {
        let noisy = Scenario { malformed_per_million: 20_000, minutes: 3, ..scenario(format) };
        let (out, truth) = output(&noisy);
        assert_eq!(truth.lines, 18_000);
        assert!(truth.malformed > 300, "{}", truth.malformed);
        let (records, rejected) = parse_all(&out, format.parser_preset());
        assert_eq!(rejected as u64, truth.malformed);
        assert_eq!(records.len() as u64, truth.requests);
    }
}

#[test]
fn corruption_leaves_the_other_lines_alone() {
    let clean = output(&scenario(OutputFormat::Istio)).0;
    let noisy = output(&Scenario { malformed_per_million: 10_000, ..Scenario::default() }).0;
    let (clean, _) = parse_all(&clean, "istio");
    let (noisy, _) = parse_all(&noisy, "istio");
    let clean: std::collections::HashSet<_> = clean.iter().map(|r| r.request_id.clone()).collect();
    assert!(noisy.iter().all(|record| clean.contains(&record.request_id)));
}

#[test]
fn kubectl_prefixes_name_the_proxy() {
    let prefixed = Scenario {
        kubectl_prefix: true,
        malformed_per_million: 5_000,
        minutes: 2,
        ..Scenario::default()
    };
    let (out, truth) = output(&prefixed);
    let mut stream = LogStream::new(LineParser::new("auto").unwrap());
    let mut proxies = BTreeMap::new();
    let mut rejected = 0;
    for line in lines(&out) {
        match stream.read(line, Default::default()) {
            Some((_, Ok(parsed))) => {
                *proxies.entry(parsed.record.proxy.unwrap().into_owned()).or_insert(0) += 1
            }
            _ => rejected += 1,
        }
    }
    assert_eq!(rejected, truth.malformed);
    let names: Vec<_> = truth.proxies.iter().map(|proxy| proxy.name.clone()).collect();
    assert_eq!(
        proxies.keys().cloned().collect::<std::collections::BTreeSet<_>>(),
        names.into_iter().collect()
    );
}

#[test]
fn proxies_flush_independently_a_few_seconds_out_of_order() {
    let (out, _) = output(&Scenario::default());
    let (records, _) = parse_all(&out, "istio");
    let times: Vec<i64> = records.iter().map(|record| record.ts.unwrap().micros()).collect();
    let mut latest = times[0];
    let mut worst_step_back = 0;
    for &ts in &times {
        worst_step_back = worst_step_back.max(latest - ts);
        latest = latest.max(ts);
    }
    assert!((1_000_000..=3_100_000).contains(&worst_step_back), "{worst_step_back}");
}

/// Generation speed, release mode: `cargo test --release --lib simulate::tests::throughput
/// -- --ignored --nocapture`. Prints lines/s; asserts nothing about time.
#[test]
#[ignore]
fn throughput() {
    for format in [OutputFormat::Istio, OutputFormat::Json] {
        let big = Scenario { requests_per_second: 3_334, ..scenario(format) };
        let started = std::time::Instant::now();
        let truth = run(&big, &mut std::io::sink()).unwrap();
        let seconds = started.elapsed().as_secs_f64();
        println!(
            "{format:?}: {} lines in {seconds:.2} s, {:.0} lines/s",
            truth.lines,
            truth.lines as f64 / seconds
        );
    }
}
