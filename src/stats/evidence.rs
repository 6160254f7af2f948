//! What the proxies' own snapshots say about a service's local endpoints, for the
//! failover detector: a local (priority-0) host failing health or outlier checks, or
//! a local host gone from the endpoint list since the same proxy's previous snapshot
//! of that Envoy cluster (scaled to zero, removed from EDS). Either corroborates a
//! failover of that service from that source cluster (see
//! [`crate::analytics::failover`]).

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

/// Evidence that a service's local endpoints failed, seen in a snapshot at `ts_micros`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalEndpointsFailed {
    pub source_cluster: String,
    pub service: String,
    pub ts_micros: i64,
}

/// The local hosts one proxy's Envoy cluster listed in a snapshot.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Listing {
    ts: i64,
    hosts: Vec<String>,
}

/// The local hosts each proxy's Envoy clusters listed in their last snapshot, by key
/// (source cluster, proxy, Envoy cluster); saved between runs with the counters.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ListedHosts {
    last: HashMap<String, Listing>,
}

impl ListedHosts {
    /// Records that the snapshot of `key` at `ts` lists the local `hosts` (sorted) and
    /// says whether one the previous snapshot listed is gone. An older snapshot than the
    /// last one says nothing and changes nothing.
    pub fn replace(&mut self, key: String, ts: i64, hosts: Vec<String>) -> bool {
        let listing = Listing { ts, hosts };
        let Some(previous) = self.last.get(&key) else {
            self.last.insert(key, listing);
            return false;
        };
        if ts <= previous.ts {
            return false;
        }
        let gone = previous.hosts.iter().any(|host| listing.hosts.binary_search(host).is_err());
        self.last.insert(key, listing);
        gone
    }
}

/// The local hosts of one snapshot, per Envoy cluster, as its hosts are read.
#[derive(Debug, Default)]
pub struct SnapshotHosts {
    /// Envoy cluster → its service, its local hosts, and whether one is unhealthy.
    clusters: BTreeMap<String, (String, Vec<String>, bool)>,
}

impl SnapshotHosts {
    /// Notes a host of `envoy_cluster` (of `service`); `local` when it is a priority-0
    /// host of the source cluster itself.
    pub fn add(
        &mut self,
        envoy_cluster: &str,
        service: &str,
        host: &str,
        local: bool,
        unhealthy: bool,
    ) {
        let entry = match self.clusters.get_mut(envoy_cluster) {
            Some(entry) => entry,
            None => self
                .clusters
                .entry(envoy_cluster.to_owned())
                .or_insert_with(|| (service.to_owned(), Vec::new(), false)),
        };
        if local {
            entry.1.push(host.to_owned());
            entry.2 |= unhealthy;
        }
    }

    /// The evidence of this snapshot (taken at `ts` by `proxy` of `source_cluster`), with
    /// `listed` updated to what it lists.
    pub fn evidence(
        self,
        source_cluster: &str,
        proxy: Option<&str>,
        ts: i64,
        listed: &mut ListedHosts,
    ) -> Vec<LocalEndpointsFailed> {
        let mut found = Vec::new();
        for (envoy_cluster, (service, mut hosts, unhealthy)) in self.clusters {
            hosts.sort_unstable();
            hosts.dedup();
            let key = super::counters::key(&[Some(source_cluster), proxy, Some(&envoy_cluster)]);
            let gone = listed.replace(key, ts, hosts);
            if gone || unhealthy {
                let source_cluster = source_cluster.to_owned();
                found.push(LocalEndpointsFailed { source_cluster, service, ts_micros: ts });
            }
        }
        found
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn snapshot(hosts: &[(&str, bool, bool)]) -> SnapshotHosts {
        let mut snapshot = SnapshotHosts::default();
        for (host, local, unhealthy) in hosts {
            snapshot.add("outbound|80||frontend", "frontend", host, *local, *unhealthy);
        }
        snapshot
    }

    #[test]
    fn a_local_host_gone_since_the_last_snapshot_or_failing_checks_is_evidence() {
        let mut listed = ListedHosts::default();
        let both = [("10.0.0.1:80", true, false), ("10.0.0.2:80", true, false)];
        assert!(snapshot(&both).evidence("c1", Some("gw"), 10, &mut listed).is_empty());
        assert!(snapshot(&both).evidence("c1", Some("gw"), 20, &mut listed).is_empty());
        let one_gone = [("10.0.0.1:80", true, false), ("35.0.0.1:15443", false, false)];
        let found = snapshot(&one_gone).evidence("c1", Some("gw"), 30, &mut listed);
        let expected = LocalEndpointsFailed {
            source_cluster: "c1".into(),
            service: "frontend".into(),
            ts_micros: 30,
        };
        assert_eq!(found, vec![expected]);
        let failing = [("10.0.0.1:80", true, true)];
        assert_eq!(snapshot(&failing).evidence("c1", Some("gw"), 40, &mut listed).len(), 1);
        let remote_failing = [("10.0.0.1:80", true, false), ("35.0.0.1:15443", false, true)];
        assert!(snapshot(&remote_failing).evidence("c1", Some("gw"), 50, &mut listed).is_empty());
    }

    #[test]
    fn proxies_are_compared_with_their_own_previous_snapshot_only() {
        let mut listed = ListedHosts::default();
        let both = [("10.0.0.1:80", true, false), ("10.0.0.2:80", true, false)];
        snapshot(&both).evidence("c1", Some("gw"), 10, &mut listed);
        let one = [("10.0.0.1:80", true, false)];
        assert!(snapshot(&one).evidence("c1", Some("sidecar"), 20, &mut listed).is_empty());
        assert!(snapshot(&one).evidence("c1", Some("gw"), 5, &mut listed).is_empty(), "older");
        let json = serde_json::to_vec(&listed).unwrap();
        let mut restored: ListedHosts = serde_json::from_slice(&json).unwrap();
        assert_eq!(snapshot(&one).evidence("c1", Some("gw"), 30, &mut restored).len(), 1);
    }
}
