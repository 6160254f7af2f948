//! `dashboards/*.json` over Prometheus: every target of every panel, with Grafana's
//! macros and template variables expanded as Grafana expands them, asked as a
//! range query of a real Prometheus scraping a live `meshlog serve`, returns
//! series; each template variable's `label_values` query returns values. The live
//! server is the one of the end-to-end alert test (`alerts.rs`): a simulated
//! failover fed through the HTTP sink, some lines rejected, one scrape target up
//! and one down.

use std::path::Path;

use super::prometheus_support::Prometheus;
use super::support::Value;

/// The dashboards over Prometheus (those over the PostgreSQL protocol are checked by
/// `postgres.rs`).
fn dashboards() -> Vec<(String, Value)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("dashboards");
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|ext| ext == "json") {
            let text = std::fs::read_to_string(&path).unwrap();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let dashboard: Value = serde_json::from_str(&text).unwrap();
            // (reference.json, the rollup panels' raw queries, is no dashboard.)
            let inputs = dashboard["__inputs"].as_array().map(Vec::as_slice).unwrap_or_default();
            if inputs.iter().any(|input| input["pluginId"] == "prometheus") {
                found.push((name, dashboard));
            }
        }
    }
    assert!(!found.is_empty(), "no dashboard");
    found
}

/// `expr` as Grafana sends it with "All" selected in every variable, a 1 s scrape
/// interval and a 1 m dashboard interval.
fn expand(expr: &str, dashboard: &Value) -> String {
    let mut expanded = expr
        .replace("$__rate_interval", "1m")
        .replace("$__interval", "15s")
        .replace("$__range", "5m");
    for variable in query_variables(dashboard) {
        let name = variable["name"].as_str().unwrap();
        let all = variable["allValue"].as_str().unwrap_or(".*");
        expanded = expanded.replace(&format!("${{{name}}}"), all).replace(&format!("${name}"), all);
    }
    expanded
}

/// The variables whose values come from a query (not the data source's own).
fn query_variables(dashboard: &Value) -> Vec<&Value> {
    let variables = dashboard["templating"]["list"].as_array().unwrap();
    variables.iter().filter(|variable| variable["type"] == "query").collect()
}

/// Every (panel title, expression) of the dashboard's Prometheus targets.
fn prometheus_targets(dashboard: &Value) -> Vec<(String, String)> {
    let mut targets = Vec::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().unwrap() {
            let source = &target["datasource"]["type"];
            let source = if source.is_null() { &panel["datasource"]["type"] } else { source };
            if source == "prometheus" {
                let title = panel["title"].as_str().unwrap().to_owned();
                targets.push((title, target["expr"].as_str().unwrap().to_owned()));
            }
        }
    }
    targets
}

/// Every dashboard's template variables return values, and every Prometheus panel
/// target, asked as Grafana asks for a panel over `start..end`, returns series.
pub fn check_every_panel(prometheus: &Prometheus, start: f64, end: f64) {
    for (name, dashboard) in dashboards() {
        for variable in query_variables(&dashboard) {
            let query = expand(variable["definition"].as_str().unwrap(), &dashboard);
            let (label, metric) = query
                .strip_prefix("label_values(")
                .and_then(|rest| rest.strip_suffix(')'))
                .and_then(|args| args.rsplit_once(", "))
                .map(|(metric, label)| (label, metric))
                .unwrap_or_else(|| panic!("{name}: unsupported variable query {query}"));
            let values = prometheus.label_values(label, metric);
            assert!(!values["data"].as_array().unwrap().is_empty(), "{name}: {query}: {values}");
        }
        let targets = prometheus_targets(&dashboard);
        assert!(!targets.is_empty(), "{name}: no Prometheus target");
        for (title, expr) in targets {
            let promql = expand(&expr, &dashboard);
            let answer = prometheus.query_range(&promql, start, end);
            assert_eq!(answer["status"], "success", "{name} / {title}: {promql}: {answer}");
            let series = answer["data"]["result"].as_array().unwrap();
            assert!(!series.is_empty(), "{name} / {title}: {promql} returned no series");
        }
    }
}
