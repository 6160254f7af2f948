//! istioctl's `proxy-config endpoints POD -o yaml` (and `experimental envoy-stats POD
//! --type clusters -o yaml`) read into [`ClustersDump`] rows. istioctl prints the JSON
//! of [`clusters_json`](super::clusters_json) through `sigs.k8s.io/yaml` (keys sorted,
//! 2-space indent, list items at their parent's indent, 64-bit counters as quoted
//! strings), so this file owns only the YAML side: the document is read with
//! `serde-saphyr` (pure Rust, panic-free, with limits on what a document may make it
//! allocate) straight into the same serde visitors as the JSON, which own every rule
//! about the cluster statuses, so both forms give the same rows.
//!
//! A document that is not YAML, or YAML of another shape, is an [`AdminError`]; a
//! cluster or host entry that does not read is an [`AdminIssue`], as for JSON.

use serde::{Deserialize, Deserializer};

use super::clusters_json::read_clusters;
use super::{AdminError, ClustersDump, split_at_banners};

/// Reads istioctl's `-o yaml` cluster statuses.
pub fn parse(input: &str) -> Result<ClustersDump, AdminError> {
    let mut dump = ClustersDump::default();
    for document in split_at_banners(input) {
        let read: Read = serde_saphyr::from_str(document).map_err(|error| AdminError {
            message: format!("not istioctl's -o yaml cluster statuses: {error}"),
        })?;
        let Read(part) = read;
        dump.hosts.extend(part.hosts);
        dump.settings.extend(part.settings);
        dump.issues.extend(part.issues);
    }
    Ok(dump)
}

/// One document's rows.
struct Read(ClustersDump);

impl<'de> Deserialize<'de> for Read {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut dump = ClustersDump::default();
        read_clusters(deserializer, 0, &mut dump)?;
        Ok(Read(dump))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A cluster as istioctl prints it (sigs.k8s.io/yaml of protojson).
    const REVIEWS: &str = r#"- addedViaApi: true
  circuitBreakers:
    thresholds:
    - maxConnections: 4294967295
      maxPendingRequests: 4294967295
      maxRequests: 4294967295
      maxRetries: 4294967295
    - maxConnections: 1024
      maxPendingRequests: 1024
      maxRequests: 1024
      maxRetries: 3
      priority: HIGH
  edsServiceName: outbound|9080||reviews.default.svc.cluster.local
  hostStatuses:
  - address:
      socketAddress:
        address: 10.112.2.40
        portValue: 9080
    healthStatus:
      edsHealthStatus: HEALTHY
      failedOutlierCheck: true
    locality:
      region: us-east1
      zone: us-east1-b
    stats:
    - name: cx_connect_fail
    - name: cx_total
      value: "12"
    - name: rq_error
      value: "7"
    - name: rq_total
      value: "40"
    - name: cx_active
      type: GAUGE
      value: "1"
    - name: rq_active
      type: GAUGE
    weight: 1
  - address:
      socketAddress:
        address: 34.168.157.2
        portValue: 15443
    healthStatus:
      edsHealthStatus: HEALTHY
    locality:
      region: us-west1
      zone: us-west1-a
    priority: 1
    weight: 3
  name: outbound|9080||reviews.default.svc.cluster.local
  observabilityName: outbound|9080||reviews.default.svc.cluster.local
"#;

    #[test]
    fn istioctl_yaml_reads_like_its_json() {
        let dump = parse(REVIEWS).unwrap();
        assert_eq!(dump.issues, []);
        let [ejected, gateway] = dump.hosts.as_slice() else { panic!("{dump:?}") };
        assert_eq!(ejected.envoy_cluster, "outbound|9080||reviews.default.svc.cluster.local");
        assert_eq!(ejected.address, "10.112.2.40:9080");
        assert_eq!(ejected.health_flags.as_deref(), Some("/failed_outlier_check"));
        assert_eq!(
            (ejected.rq_total, ejected.rq_error, ejected.cx_connect_fail),
            (Some(40), Some(7), Some(0))
        );
        assert_eq!((ejected.priority, ejected.weight), (Some(0), Some(1)));
        assert_eq!(gateway.address, "34.168.157.2:15443");
        assert_eq!((gateway.priority, gateway.zone.as_deref()), (Some(1), Some("us-west1-a")));
        let keys: Vec<&str> = dump.settings.iter().map(|setting| setting.key.as_str()).collect();
        assert!(keys.contains(&"high_priority::max_retries"), "{keys:?}");
    }

    #[test]
    fn envoy_stats_yaml_with_its_banner() {
        let input = "\nThe result of pod productpage-v1:\n\ncluster_statuses:\n- host_statuses:\n  - address:\n      socket_address:\n        address: 10.112.2.31\n        port_value: 9080\n  name: outbound|9080||reviews.default.svc.cluster.local\n";
        let dump = parse(input).unwrap();
        assert_eq!(dump.issues, []);
        assert_eq!(dump.hosts[0].address, "10.112.2.31:9080");
    }

    #[test]
    fn bad_entries_are_issues_and_other_documents_errors() {
        let dump = parse("- name: x\n  hostStatuses:\n  - 5\n- 7\n").unwrap();
        let reasons: Vec<&str> = dump.issues.iter().map(|issue| issue.reason).collect();
        assert_eq!(reasons, ["bad_entry", "bad_entry"]);
        assert_eq!(parse("- a\n- b\n").unwrap().issues.len(), 2, "as the JSON list [\"a\", \"b\"]");
        for input in ["", "key: [unclosed", "just text", "42", "The result of pod a:\n"] {
            assert!(parse(input).is_err(), "{input:?}");
        }
    }
}
