//! A real Prometheus server (Debian's `prometheus` package) for a test: started on a
//! free port, scraping one `meshlog serve` every second, evaluating the rules given,
//! and asked through its HTTP API.

use std::path::Path;
use std::process::Command;

use super::serve_support::{free_port, try_request};
use super::support::Value;

/// A Prometheus server (Debian's package) for one test, stopped when dropped.
pub struct Prometheus {
    child: std::process::Child,
    port: u16,
}

impl Prometheus {
    /// Starts Prometheus scraping `target` and evaluating `rules` every second.
    pub fn start(dir: &Path, target: u16, rules: &str) -> Prometheus {
        std::fs::write(dir.join("rules.yml"), rules).unwrap();
        let config = format!(
            "global: {{scrape_interval: 1s, evaluation_interval: 1s}}\n\
             rule_files: [rules.yml]\n\
             scrape_configs:\n  - job_name: meshlog\n    static_configs: [{{targets: [\"127.0.0.1:{target}\"]}}]\n"
        );
        std::fs::write(dir.join("prometheus.yml"), config).unwrap();
        let port = free_port();
        let log = std::fs::File::create(dir.join("prometheus.log")).unwrap();
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", dir.join("prometheus.yml").display()))
            .arg(format!("--storage.tsdb.path={}", dir.join("tsdb").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(std::process::Stdio::null())
            .stderr(log)
            .spawn()
            .expect("prometheus (Debian package prometheus; scripts/test.sh installs it)");
        Prometheus { child, port }
    }

    /// The state (`pending`, `firing`) of each active alert named `name` whose labels
    /// include `service`.
    pub fn alert_states(&self, name: &str, service: &str) -> Vec<String> {
        let Ok(answer) = try_request(self.port, "GET", "/api/v1/alerts", &[], b"") else {
            return Vec::new();
        };
        let Ok(alerts) = serde_json::from_str::<Value>(&answer.body) else { return Vec::new() };
        let listed = alerts["data"]["alerts"].as_array().cloned().unwrap_or_default();
        listed
            .iter()
            .filter(|alert| alert["labels"]["alertname"] == name)
            .filter(|alert| alert["labels"]["service"] == service)
            .map(|alert| alert["state"].as_str().unwrap_or_default().to_owned())
            .collect()
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Prometheus {
    /// The answer of a range query (`/api/v1/query_range`, a 1 s step), as Grafana
    /// asks for a time-series panel.
    pub fn query_range(&self, promql: &str, start: f64, end: f64) -> Value {
        let body = format!("query={}&start={start:.3}&end={end:.3}&step=1", percent_encode(promql));
        let headers = [("Content-Type", "application/x-www-form-urlencoded")];
        let path = "/api/v1/query_range";
        let answer = try_request(self.port, "POST", path, &headers, body.as_bytes())
            .unwrap_or_else(|error| panic!("prometheus: {error}"));
        serde_json::from_str(&answer.body).unwrap_or_else(|_| panic!("{promql}: {answer:?}"))
    }

    /// The values of label `name` on the series of `metric` (Grafana's `label_values`).
    pub fn label_values(&self, name: &str, metric: &str) -> Value {
        let path = format!("/api/v1/label/{name}/values?match[]={}", percent_encode(metric));
        let answer = try_request(self.port, "GET", &path, &[], b"").unwrap();
        serde_json::from_str(&answer.body).unwrap()
    }
}

/// `text` percent-encoded for a query string or form body.
fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (byte as char).to_string()
            }
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

/// Now, in Unix seconds (for range queries).
pub fn unix_now() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64()
}
