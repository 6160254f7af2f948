//! `dashboards/alerts/`: the Prometheus rules pass `promtool check rules` with every
//! lint fatal, and their unit tests (`promtool test rules`) pass — each alert fires
//! on the series its test feeds and stays silent before. End to end, a real
//! Prometheus (Debian's package) scraping a live `meshlog serve` fed a simulated
//! failover through the HTTP sink sees the failover alert go pending, fire, and
//! resolve once the episode ends; then every dashboard panel is asked over that run
//! ([`super::dashboards`]).

use std::path::Path;
use std::process::Command;

use super::dashboards::check_every_panel;
use super::prometheus_support::{Prometheus, unix_now};
use super::serve_support::{Server, scrape_up_and_down, write_config_with};
use super::support::{Value, meshlog_ok, scratch};

fn promtool(args: &[&str], dir: &Path) {
    let output = Command::new("promtool")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("promtool (Debian package prometheus; scripts/test.sh installs it)");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "promtool {args:?}: {said}");
}

fn alerts_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("dashboards/alerts")
}

#[test]
fn alert_rules_pass_promtool_lint() {
    promtool(&["check", "rules", "--lint=all", "--lint-fatal", "meshlog.rules.yml"], &alerts_dir());
}

#[test]
fn alert_rules_pass_their_unit_tests() {
    promtool(&["test", "rules", "tests/meshlog.test.yml"], &alerts_dir());
}

#[test]
fn every_alert_has_a_unit_test_and_a_runbook_section() {
    let rules = std::fs::read_to_string(alerts_dir().join("meshlog.rules.yml")).unwrap();
    let tests = std::fs::read_to_string(alerts_dir().join("tests/meshlog.test.yml")).unwrap();
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let alerts: Vec<&str> =
        rules.lines().filter_map(|line| line.trim().strip_prefix("- alert: ")).collect();
    assert!(alerts.len() >= 10, "{alerts:?}");
    for alert in alerts {
        assert!(tests.contains(&format!("alertname: {alert}\n")), "{alert} has no unit test");
        assert!(readme.contains(&format!("\n#### {alert}\n")), "{alert} has no runbook section");
        let anchor = format!("README.md#{}\n", alert.to_lowercase());
        assert!(rules.contains(&anchor), "{alert}'s runbook_url is not its README section");
    }
}

/// The second of the simulated run a line of the simulator's Istio log is stamped
/// with (every run starts on the hour).
fn log_second(line: &str) -> u64 {
    let minutes: u64 = line[15..17].parse().unwrap();
    let seconds: u64 = line[18..20].parse().unwrap();
    minutes * 60 + seconds
}

#[test]
fn a_simulated_failover_fires_the_alert_and_fills_every_dashboard_panel() {
    let dir = scratch("alert-fires");
    let sim = dir.join("sim");
    meshlog_ok(&["simulate", "--out-dir", sim.to_str().unwrap(), "--minutes", "8", "--rate", "60"]);
    let truth: Value =
        serde_json::from_str(&std::fs::read_to_string(sim.join("truth.json")).unwrap()).unwrap();
    let episode = &truth["episodes"][0];
    assert_eq!(episode["source_cluster"], "cluster1");
    let service = episode["service"].as_str().unwrap().to_owned();
    // Admin scrape targets for the endpoint panels: one answering, one down.
    let (config, port) = write_config_with(
        &sim.join("mesh.toml"),
        &dir,
        "flush_interval = \"1s\"",
        &scrape_up_and_down(),
    );
    let server = Server::start(&config, port);
    // The rules as shipped, their `for` durations cut to 3 s to fit a test.
    let rules = std::fs::read_to_string(alerts_dir().join("meshlog.rules.yml")).unwrap();
    let rules = with_short_for_durations(&rules);
    let prometheus = Prometheus::start(&dir, port, &rules);
    // The cluster's log, replayed at 6× its pace: 3 s of log time every half second.
    let log = std::fs::read_to_string(sim.join("cluster1.log")).unwrap();
    let lines: Vec<String> = log.lines().map(str::to_owned).collect();
    let mut seen: Vec<String> = Vec::new();
    let started = std::time::Instant::now();
    let started_unix = unix_now();
    let mut next = 0;
    for (step, until) in (3..=8 * 60 + 3).step_by(3).enumerate() {
        let mut batch: Vec<String> =
            lines[next..].iter().take_while(|line| log_second(line) < until).cloned().collect();
        next += batch.len();
        batch.push("a line cut short by a shipper".into());
        assert_eq!(server.post_lines(&batch, &[]).status, 200);
        seen.extend(prometheus.alert_states("MeshlogFailoverStarted", &service));
        let due = started + std::time::Duration::from_millis(500 * (step as u64 + 1));
        std::thread::sleep(due.saturating_duration_since(std::time::Instant::now()));
    }
    assert_eq!(next, lines.len());
    seen.dedup();
    assert!(seen.contains(&"pending".to_owned()), "never pending: {seen:?}");
    assert!(seen.contains(&"firing".to_owned()), "never firing: {seen:?}");
    let pending = seen.iter().position(|state| state == "pending");
    let firing = seen.iter().position(|state| state == "firing");
    assert!(pending < firing, "{seen:?}");
    // The episode ended in the log: the alert resolves.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !prometheus.alert_states("MeshlogFailoverStarted", &service).is_empty() {
        assert!(std::time::Instant::now() < deadline, "the alert never resolved");
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
    // Every dashboard panel has data over the run, as Grafana would show it.
    check_every_panel(&prometheus, started_unix, unix_now());
    assert!(server.stop().success());
}

/// `rules` with every `for:` duration set to 3 s.
fn with_short_for_durations(rules: &str) -> String {
    rules
        .lines()
        .map(|line| match line.trim_start().strip_prefix("for: ") {
            Some(_) => format!("{}for: 3s\n", &line[..line.len() - line.trim_start().len()]),
            None => format!("{line}\n"),
        })
        .collect()
}
