//! `meshlog parse`: JSON lines on stdout, the summary on stderr, the exit code.

use crate::support::*;

#[test]
fn parse_prints_one_json_object_per_line_keyed_by_column() {
    let path = sample("access-logs/istio-1.23.log");
    let output = meshlog(&["parse", path.to_str().unwrap()]);
    assert!(output.status.success(), "{}", stderr(&output));
    let lines = json_lines(&output);
    assert_eq!(lines.len(), 11);
    insta::assert_json_snapshot!("two_real_ingress_lines", &lines[..2]);
    assert!(lines.iter().all(|line| line["format"] == "istio"));
    assert!(stderr(&output).contains("11 lines, 11 parsed (istio: 11), 0 rejected"));
}

#[test]
fn rejected_lines_print_line_number_error_and_raw_and_exit_zero() {
    let path = sample("access-logs/malformed.log");
    let output = meshlog(&["parse", "--format", "istio", path.to_str().unwrap()]);
    assert!(output.status.success(), "rejects must not fail the command");
    let lines = json_lines(&output);
    let rejects: Vec<&Value> = lines.iter().filter(|line| line.get("error").is_some()).collect();
    assert_eq!(rejects.len(), 6);
    let first = rejects[0];
    assert_eq!(first["line"], 1);
    assert_eq!(first["reason"], "unexpected_text");
    assert!(first["raw"].as_str().unwrap().contains("xdsproxy"));
    assert!(stderr(&output).contains("6 rejected"), "{}", stderr(&output));
    assert!(stderr(&output).contains("rejected 1: empty_line"));
}

#[test]
fn reads_stdin_with_a_dash() {
    let input = std::fs::read(sample("access-logs/envoy.log")).unwrap();
    let output = meshlog_with_stdin(&["parse", "--format", "envoy", "-"], &input);
    assert!(output.status.success());
    assert_eq!(json_lines(&output).len(), 10);
}

#[test]
fn compiles_the_operators_own_format_string() {
    let format = std::fs::read_to_string(sample("access-logs/custom.format")).unwrap();
    let path = sample("access-logs/custom.log");
    let output = meshlog(&["parse", "--format", &format, path.to_str().unwrap()]);
    assert!(output.status.success(), "{}", stderr(&output));
    let lines = json_lines(&output);
    assert_eq!(lines.len(), 7);
    assert_eq!(lines[0]["format"], "custom");
    assert_eq!(lines[0]["ts"], "2022-11-09T00:00:50.336Z");
    assert_eq!(lines[0]["extra"]["REQ(X-B3-TRACEID)"], "463ac35c9f6413ad");
}

#[test]
fn unknown_format_is_a_usage_error_naming_the_presets() {
    let output = meshlog(&["parse", "--format", "istio-9.99", "-"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("unknown format \"istio-9.99\""));
    assert!(stderr(&output).contains("istio-1.8"));
}

#[test]
fn bad_format_string_says_where() {
    let output = meshlog(&["parse", "--format", "[%START_TIME(%Q)%] %DURATION%", "-"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("%Q"), "{}", stderr(&output));
}

#[test]
fn missing_input_file_fails_with_its_path() {
    let output = meshlog(&["parse", "/nonexistent/access.log"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("/nonexistent/access.log"));
}

#[test]
fn line_limit_rejects_long_lines_and_keeps_reading() {
    let path = sample("access-logs/istio-1.23.log");
    let output = meshlog(&["parse", "--max-line-bytes", "400", path.to_str().unwrap()]);
    assert!(output.status.success());
    let lines = json_lines(&output);
    assert_eq!(lines.len(), 11);
    let too_long = lines.iter().filter(|line| line["reason"] == "line_too_long").count();
    assert_eq!(too_long, 7, "lines of 378, 382, 392 and 393 bytes fit in 400");
}

#[test]
fn kubectl_prefix_fills_proxy() {
    let path = sample("envelopes/kubectl-prefix-timestamps.log");
    let output = meshlog(&["parse", path.to_str().unwrap()]);
    let lines = json_lines(&output);
    let parsed: Vec<&Value> = lines.iter().filter(|line| line.get("format").is_some()).collect();
    assert!(!parsed.is_empty());
    assert!(
        parsed.iter().all(|line| line["proxy"].as_str().is_some_and(|p| p.starts_with("istio-")))
    );
}

#[test]
fn formats_lists_every_preset_with_its_string() {
    let output = meshlog(&["formats"]);
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    for preset in
        ["istio", "istio-1.0", "istio-1.1", "istio-1.2", "istio-1.3", "istio-1.8", "istio-1.9"]
    {
        assert!(text.lines().any(|line| line == preset), "{preset} missing");
    }
    assert!(text.contains("%UPSTREAM_CLUSTER_RAW%"));
}
