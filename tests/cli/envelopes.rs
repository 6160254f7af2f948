//! Container envelopes through the real binary: every input line is accounted once,
//! with its own number and offset, by `meshlog parse` (its JSON lines and summary) and
//! by `meshlog ingest` (its summary and the `rejects` table), on the user trial's file,
//! on the samples and on random mixes of every envelope; stern's and kubetail's pods
//! fill `proxy`.

use std::collections::BTreeMap;
use std::path::Path;

use proptest::prelude::*;

use crate::envelope_mix::{ExpectedSpan, MixedInput, mixed_input};
use crate::support::*;

const ENVOY: &str = r#"[2022-11-09T00:00:50.336Z] "GET / HTTP/1.1" 200 - via_upstream - "-" 0 11107 81 80 "10.142.0.66" "curl/8.4.0" "36912637-ba06-41e4-97a2-07cddd73f849" "34.75.183.246" "10.112.0.68:8080" outbound|80||frontend.mycompany.mesh 10.112.0.50:41008 10.112.0.50:8080 10.142.0.66:16973 - default"#;

/// The user trial's file: Docker/Filebeat records, three without `\n` (two shippers'
/// `message` copies, one Docker record cut short), the sixth no access log.
fn seven_records() -> String {
    let record = |key: &str, text: &str| {
        let text = serde_json::to_string(text).unwrap();
        format!(r#"{{"{key}":{text},"stream":"stdout","time":"2022-11-09T00:00:50.4Z"}}"#)
    };
    let with_newline = format!("{ENVOY}\n");
    let lines = [
        record("log", &with_newline),
        record("message", ENVOY),
        record("message", ENVOY),
        record("log", ENVOY),
        record("log", &with_newline),
        record("log", "not an access log"),
        record("log", ENVOY),
    ];
    lines.join("\n") + "\n"
}

fn ingest_file(data: &Path, path: &Path) -> std::process::Output {
    let config = sample("mesh.toml");
    let (config, data, path) =
        (config.to_str().unwrap(), data.to_str().unwrap(), path.to_str().unwrap());
    meshlog(&[
        "ingest",
        "--config",
        config,
        "--data-dir",
        data,
        "--source-cluster",
        "cluster1",
        "--quiet",
        path,
    ])
}

/// `(line, lines)` of each printed object, and whether it parsed.
fn printed_spans(output: &std::process::Output) -> Vec<(u64, u64, bool)> {
    json_lines(output)
        .iter()
        .map(|line| {
            let lines = line.get("lines").map_or(1, |lines| lines.as_u64().unwrap());
            (line["line"].as_u64().unwrap(), lines, line.get("format").is_some())
        })
        .collect()
}

/// The summary's `N` after `prefix` on the line that holds it.
fn count_after(text: &str, prefix: &str) -> u64 {
    let Some(at) = text.find(prefix) else { return 0 };
    let digits: String =
        text[at + prefix.len()..].chars().take_while(char::is_ascii_digit).collect();
    digits.parse().unwrap()
}

#[test]
fn parse_numbers_records_without_newline_one_line_each() {
    let dir = scratch("seven-parse");
    let path = dir.join("trial.json.log");
    std::fs::write(&path, seven_records()).unwrap();
    let output = meshlog(&["parse", path.to_str().unwrap()]);
    assert!(output.status.success(), "{}", stderr(&output));
    let expected: Vec<_> = (1..=7).map(|n| (n, 1, n != 6)).collect();
    assert_eq!(printed_spans(&output), expected);
    assert!(
        stderr(&output).contains("7 lines, 6 parsed (istio: 6), 1 rejected\n"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn ingest_stores_or_rejects_each_record_without_newline() {
    let dir = scratch("seven-ingest");
    let path = dir.join("trial.json.log");
    let text = seven_records();
    std::fs::write(&path, &text).unwrap();
    let output = ingest_file(&dir.join("data"), &path);
    let summary = stderr(&output);
    assert!(output.status.success(), "{summary}");
    assert!(summary.contains("meshlog ingest: 7 lines"), "{summary}");
    assert!(summary.contains("stored 6 rows and 1 rejects"), "{summary}");
    let rejects = query_json(&dir.join("data"), r#"SELECT line, "offset", lines FROM rejects"#);
    let sixth = text.match_indices('\n').nth(4).unwrap().0 + 1;
    assert_eq!(rejects, vec![serde_json::json!({"line": 6, "offset": sixth, "lines": 1})]);
}

#[test]
fn a_line_docker_split_at_16_kib_reports_its_first_piece_and_both_lines() {
    let path = sample("envelopes/docker.json.log");
    let output = meshlog(&["parse", path.to_str().unwrap()]);
    let spans = printed_spans(&output);
    assert_eq!(spans.iter().map(|(_, lines, _)| lines).sum::<u64>(), 11);
    assert!(spans.contains(&(7, 2, true)), "{spans:?}");
    let summary = stderr(&output);
    assert!(
        summary.contains(
            "11 lines, 9 parsed (istio: 9), 2 rejected; 2 of them were the pieces of 1 split line"
        ),
        "{summary}"
    );

    let data = scratch("docker-split-ingest");
    let output = ingest_file(&data, &path);
    let summary = stderr(&output);
    assert!(summary.contains("meshlog ingest: 11 lines"), "{summary}");
    assert!(summary.contains("stored 8 rows and 2 rejects"), "{summary}");
    assert!(summary.contains("joined 1 lines to the first piece"), "{summary}");
    let rejects = query_json(&data, "SELECT line, lines FROM rejects ORDER BY line");
    assert_eq!(
        rejects,
        vec![
            serde_json::json!({"line": 1, "lines": 1}),
            serde_json::json!({"line": 2, "lines": 1})
        ]
    );
}

#[test]
fn stern_and_kubetail_pods_fill_proxy() {
    for (file, parsed) in [("stern.log", 6), ("stern-color-timestamps.log", 5), ("kubetail.log", 6)]
    {
        let path = sample(&format!("envelopes/{file}"));
        let output = meshlog(&["parse", path.to_str().unwrap()]);
        let lines = json_lines(&output);
        let proxies: Vec<&str> = lines.iter().filter_map(|line| line["proxy"].as_str()).collect();
        assert_eq!(proxies.len(), parsed, "{file}: {}", stderr(&output));
        assert!(proxies.iter().all(|proxy| proxy.starts_with("istio-ingressgateway-7d9f8c6b5-")));
    }
    let data = scratch("kubetail-ingest");
    assert!(ingest_file(&data, &sample("envelopes/kubetail.log")).status.success());
    let by_proxy = query_json(
        &data,
        "SELECT proxy, count(*) AS n FROM requests GROUP BY proxy ORDER BY proxy",
    );
    assert_eq!(
        serde_json::json!(by_proxy),
        serde_json::json!([
            {"proxy": "istio-ingressgateway-7d9f8c6b5-m8kzt", "n": 3},
            {"proxy": "istio-ingressgateway-7d9f8c6b5-x2x4q", "n": 3},
        ])
    );
}

/// `meshlog parse` on a random mix: the printed `(line, lines)` are the model's spans,
/// and the summary counts every input line once.
fn parse_accounts_every_line(input: &MixedInput) -> Result<(), TestCaseError> {
    let output = meshlog_with_stdin(&["parse", "-"], &input.bytes);
    prop_assert!(output.status.success(), "{}", stderr(&output));
    let mut printed: Vec<(u64, u64)> =
        printed_spans(&output).iter().map(|(line, lines, _)| (*line, *lines)).collect();
    printed.sort();
    let expected: Vec<(u64, u64)> =
        input.expected_spans().iter().map(|span| (span.line, span.lines)).collect();
    prop_assert_eq!(printed, expected);
    let summary = stderr(&output);
    let lines = input.lines.len() as u64;
    prop_assert!(summary.contains(&format!("meshlog parse: {lines} lines, ")), "{}", summary);
    let parsed = count_after(&summary, " lines, ");
    let rejected = count_after(&summary, "), ");
    prop_assert_eq!(parsed + rejected, lines, "{}", summary);
    Ok(())
}

/// `meshlog ingest` on a random mix: the summary's lines are the input's and add up
/// (rows + rejects + joined pieces), and the `rejects` table holds the model's spans
/// of the lines `meshlog parse` rejects, with their offsets.
fn ingest_accounts_every_line(input: &MixedInput) -> Result<(), TestCaseError> {
    let dir = scratch("envelope-mix-ingest");
    let path = dir.join("mix.log");
    std::fs::write(&path, &input.bytes).unwrap();
    // A finished file: a last line without its newline is a line, not one being written.
    let touched =
        std::process::Command::new("touch").args(["-d", "1 hour ago"]).arg(&path).status();
    prop_assert!(touched.unwrap().success());
    let output = ingest_file(&dir.join("data"), &path);
    let summary = stderr(&output);
    prop_assert!(output.status.success(), "{}", summary);
    let lines = input.lines.len() as u64;
    prop_assert_eq!(count_after(&summary, "meshlog ingest: "), lines, "{}", summary);
    let (rows, rejects) = (count_after(&summary, "stored "), count_after(&summary, " rows and "));
    prop_assert_eq!(rows + rejects + count_after(&summary, "joined "), lines, "{}", summary);

    let parse = meshlog(&["parse", path.to_str().unwrap()]);
    let mut rejected_by_parse: Vec<u64> =
        printed_spans(&parse).iter().filter(|span| !span.2).map(|span| span.0).collect();
    rejected_by_parse.sort();
    let spans: BTreeMap<u64, ExpectedSpan> =
        input.expected_spans().into_iter().map(|span| (span.line, span)).collect();
    let expected: Vec<serde_json::Value> = rejected_by_parse
        .iter()
        .map(|line| {
            let span = spans[line];
            serde_json::json!({"line": span.line, "offset": span.offset, "lines": span.lines})
        })
        .collect();
    let table =
        query_json(&dir.join("data"), r#"SELECT line, "offset", lines FROM rejects ORDER BY line"#);
    prop_assert_eq!(table, expected);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn parse_and_ingest_account_for_every_line_of_any_envelope_mix(input in mixed_input(30)) {
        parse_accounts_every_line(&input)?;
        ingest_accounts_every_line(&input)?;
    }
}
