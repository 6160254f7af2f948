//! `meshlog topology learn`: the sample admin dumps of cluster1's ingress gateway and
//! istiod give back the sample mesh (cluster1 10.112.0.0/16; cluster2 10.96.0.0/16 behind
//! 34.168.157.2:15443), as TOML that `meshlog ingest --config` accepts and that tags the
//! sample access log exactly as `samples/mesh.toml` does; kinds are detected from content
//! and `--kind` overrides; bad inputs exit 2 with the file named.

use crate::support::*;

fn admin(name: &str) -> String {
    sample(&format!("admin/{name}")).to_str().unwrap().to_owned()
}

fn learn(args: &[&str]) -> std::process::Output {
    let mut all = vec!["topology", "learn"];
    all.extend_from_slice(args);
    meshlog(&all)
}

fn learn_ok(args: &[&str]) -> (String, String) {
    let output = learn(args);
    assert!(output.status.success(), "learn {args:?} failed: {}", stderr(&output));
    let summary = stderr(&output);
    (String::from_utf8(output.stdout).unwrap(), summary)
}

/// The `[[clusters]]` names of a learned TOML.
fn names(toml: &str) -> Vec<String> {
    let value: toml::Table = toml.parse().unwrap();
    let clusters = value["clusters"].as_array().unwrap();
    clusters.iter().map(|cluster| cluster["name"].as_str().unwrap().to_owned()).collect()
}

fn cluster(toml: &str, name: &str) -> toml::Table {
    let value: toml::Table = toml.parse().unwrap();
    let clusters = value["clusters"].as_array().unwrap();
    let found = clusters.iter().find(|cluster| cluster["name"].as_str() == Some(name));
    found.unwrap_or_else(|| panic!("no cluster {name} in\n{toml}")).as_table().unwrap().clone()
}

fn strings(table: &toml::Table, key: &str) -> Vec<String> {
    let Some(values) = table.get(key) else { return Vec::new() };
    values.as_array().unwrap().iter().map(|value| value.as_str().unwrap().to_owned()).collect()
}

#[test]
fn learning_from_every_sample_dump_gives_back_the_sample_mesh() {
    let files = ["clusters.json", "clusters.txt", "istioctl-endpoints.txt", "endpointShardz.json"];
    let files: Vec<String> = files.iter().map(|name| admin(name)).collect();
    let mut args = vec!["--local-cluster", "cluster1"];
    args.extend(files.iter().map(String::as_str));
    let (toml, summary) = learn_ok(&args);
    assert_eq!(names(&toml), ["cluster1", "cluster2"], "{toml}");
    let cluster1 = cluster(&toml, "cluster1");
    assert_eq!(strings(&cluster1, "pod_cidrs"), ["10.112.0.0/16"]);
    assert_eq!(cluster1["network"].as_str(), Some("network1"));
    assert_eq!(cluster1["region"].as_str(), Some("us-east1"));
    let cluster2 = cluster(&toml, "cluster2");
    assert_eq!(strings(&cluster2, "pod_cidrs"), ["10.96.0.0/16"]);
    assert_eq!(strings(&cluster2, "eastwest_gateways"), ["34.168.157.2:15443"]);
    assert_eq!(cluster2["network"].as_str(), Some("network2"));
    assert!(toml.contains("# cluster1 (name from --local-cluster): inferred from"), "{toml}");
    assert!(summary.contains("learned 2 cluster(s)"), "{summary}");
    assert!(summary.contains("(endpointShardz)"), "{summary}");
}

/// Ingests the sample log with `config` into a fresh data dir under `dir` and returns
/// the rows per (locality, dst_cluster, via_gateway).
fn tag_sample_log(dir: &std::path::Path, config: &std::path::Path) -> Vec<Value> {
    let data = dir.join(format!("data-{}", config.file_name().unwrap().to_str().unwrap()));
    let log = sample("access-logs/istio-1.23.log");
    meshlog_ok(&[
        "ingest",
        "--config",
        config.to_str().unwrap(),
        "--data-dir",
        data.to_str().unwrap(),
        "--source-cluster",
        "cluster1",
        log.to_str().unwrap(),
    ]);
    query_json(
        &data,
        "SELECT locality, dst_cluster, via_gateway, count(*) AS n FROM requests GROUP BY 1, 2, 3 ORDER BY 1, 2",
    )
}

#[test]
fn the_learned_config_tags_the_sample_log_as_the_hand_written_one_does() {
    let dir = scratch("topology-ingest");
    let (toml, _) = learn_ok(&[
        "--local-cluster",
        "cluster1",
        &admin("clusters.json"),
        &admin("endpointShardz.json"),
    ]);
    let learned = dir.join("learned.toml");
    std::fs::write(&learned, toml).unwrap();
    let by_learned = tag_sample_log(&dir, &learned);
    let by_hand = tag_sample_log(&dir, &sample("mesh.toml"));
    assert_eq!(by_learned, by_hand);
    let cross = by_learned.iter().find(|row| row["locality"] == "cross_cluster").unwrap();
    assert_eq!(
        (&cross["dst_cluster"], &cross["via_gateway"]),
        (&Value::from("cluster2"), &Value::from(true))
    );
    assert!(
        by_learned.iter().any(|row| row["locality"] == "local" && row["dst_cluster"] == "cluster1")
    );
}

#[test]
fn a_proxy_dump_alone_guesses_names_and_says_so() {
    let (toml, summary) = learn_ok(&[&admin("clusters.json")]);
    assert_eq!(names(&toml), ["local", "us-west1-a"], "{toml}");
    assert!(
        toml.contains("name = \"us-west1-a\" # guessed: set to the Istio cluster ID"),
        "{toml}"
    );
    assert!(toml.contains("low confidence"), "{toml}");
    assert!(summary.contains("us-west1-a (name guessed)"), "{summary}");
}

#[test]
fn istioctl_tables_of_every_vintage_give_the_local_cidr_and_the_gateway() {
    for name in ["istioctl-endpoints.txt", "istioctl-endpoints-old.txt", "istioctl-eds.txt"] {
        let (toml, summary) = learn_ok(&["--local-cluster", "cluster1", &admin(name)]);
        assert_eq!(strings(&cluster(&toml, "cluster1"), "pod_cidrs"), ["10.112.0.0/16"], "{name}");
        assert!(toml.contains("\"34.168.157.2:15443\""), "{name}: {toml}");
        assert!(summary.contains("(istioctl endpoints)"), "{name}: {summary}");
    }
}

#[test]
fn text_and_camel_case_json_dumps_agree_with_the_json_one() {
    let learned = |name: &str| {
        let (toml, _) = learn_ok(&["--local-cluster", "cluster1", &admin(name)]);
        toml.parse::<toml::Table>().unwrap()
    };
    let json = learned("clusters.json");
    for name in ["clusters.txt", "clusters-camel.json", "clusters-istio-1.23.txt"] {
        assert_eq!(learned(name), json, "{name}");
    }
}

#[test]
fn endpoint_shardz_from_stdin_names_both_clusters_and_notes_the_missing_gateway() {
    let input = std::fs::read(sample("admin/endpointShardz.json")).unwrap();
    let output = meshlog_with_stdin(&["topology", "learn", "-"], &input);
    assert!(output.status.success(), "{}", stderr(&output));
    let toml = String::from_utf8(output.stdout).unwrap();
    assert_eq!(names(&toml), ["cluster1", "cluster2"], "{toml}");
    assert!(toml.contains("no east-west gateway address known"), "{toml}");
}

/// `istioctl proxy-config endpoints POD | grep reviews` (pod rows and `ip:15443` rows,
/// no header) plus istiod's endpointShardz: exactly the two clusters of the mesh, the
/// gateway in cluster2, and no third cluster called `remote`.
#[test]
fn a_grepped_istioctl_fragment_plus_endpoint_shardz_gives_exactly_the_two_clusters() {
    for fragment in ["istioctl-endpoints-grep.txt", "istioctl-endpoints-old-grep.txt"] {
        let (toml, summary) = learn_ok(&[&admin(fragment), &admin("endpointShardz.json")]);
        assert_eq!(names(&toml), ["cluster1", "cluster2"], "{fragment}: {toml}");
        let cluster2 = cluster(&toml, "cluster2");
        assert_eq!(strings(&cluster2, "eastwest_gateways"), ["34.168.157.2:15443"], "{fragment}");
        assert_eq!(strings(&cluster2, "pod_cidrs"), ["10.96.0.0/16"], "{fragment}");
        assert!(toml.contains("gateway matched to cluster2"), "{fragment}: {toml}");
        assert!(summary.contains("(istioctl endpoints)"), "{fragment}: {summary}");
        assert!(!summary.contains("warning"), "{fragment}: {summary}");
    }
}

#[test]
fn every_pasted_capture_shape_is_taken_as_it_is() {
    for (name, kind) in [
        ("istioctl-endpoints-grep.txt", "istioctl endpoints"),
        ("istioctl-eds-grep.txt", "istioctl endpoints"),
        ("istioctl-endpoints.yaml", "istioctl -o yaml"),
        ("istioctl-endpoints-jq.json", "/clusters?format=json"),
        ("clusters-grep.txt", "/clusters"),
        ("clusters-pasted.txt", "/clusters"),
    ] {
        let (toml, summary) = learn_ok(&["--local-cluster", "cluster1", &admin(name)]);
        assert!(summary.contains(&format!("({kind})")), "{name}: {summary}");
        assert!(toml.contains("\"34.168.157.2:15443\""), "{name}: {toml}");
        assert_eq!(strings(&cluster(&toml, "cluster1"), "pod_cidrs"), ["10.112.0.0/16"], "{name}");
    }
}

#[test]
fn kind_overrides_detection() {
    let wrong = learn(&["--kind", "clusters-json", &admin("istioctl-endpoints.txt")]);
    assert_eq!(wrong.status.code(), Some(2));
    assert!(stderr(&wrong).contains("cannot read as clusters-json"), "{}", stderr(&wrong));
    let right = learn(&["--kind", "istioctl-endpoints", &admin("istioctl-endpoints.txt")]);
    assert!(right.status.success(), "{}", stderr(&right));
    let rows = learn(&["--kind", "istioctl-endpoints", &admin("istioctl-endpoints-grep.txt")]);
    assert!(rows.status.success(), "header-less rows with --kind: {}", stderr(&rows));
    let yaml = learn(&["--kind", "clusters-yaml", &admin("istioctl-endpoints.yaml")]);
    assert!(yaml.status.success(), "{}", stderr(&yaml));
}

#[test]
fn an_access_log_or_a_stats_dump_is_refused_with_its_name() {
    let log = sample("access-logs/istio-1.23.log");
    let output = learn(&[log.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("istio-1.23.log: not a /clusters"), "{}", stderr(&output));
    let stats = learn(&[&admin("stats.txt")]);
    assert_eq!(stats.status.code(), Some(2));
    assert!(stderr(&stats).contains("lists no endpoints"), "{}", stderr(&stats));
    let unknown = learn(&["--kind", "nonsense", &admin("stats.txt")]);
    assert_eq!(unknown.status.code(), Some(2));
}
