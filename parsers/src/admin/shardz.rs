//! istiod's `/debug/endpointShardz` read into [`ShardEndpoint`] rows: where the control
//! plane believes each endpoint of each service runs. This file owns the dump's nesting,
//! the endpoint fields and the meaning of `HealthStatus` across Istio versions.
//!
//! istiod marshals Go structs with `encoding/json`, so keys are Go field names
//! (`Shards`, `Addresses`, `EndpointPort`…); they are matched ignoring ASCII case. The
//! nesting is `{ "<service fqdn>": { "<namespace>": { "Shards": { "<shard>": [endpoint…] },
//! "ServiceAccounts": {…} } } }`; Istio releases before the namespace level have
//! `{ "<service fqdn>": { "Shards": … } }`, which is read too (namespace from the
//! endpoints). A shard key is `<registry>/<cluster>` (`Kubernetes/cluster1`, Istio
//! 1.13+) or just the cluster ID (older); the endpoint's `Locality.ClusterID` fills the
//! cluster when the key does not.
//!
//! Endpoint fields: `Addresses[0]` (Istio 1.22+, dual stack; the other addresses are
//! not kept) or `Address`, kept bare (`10.112.2.31`, `fd00::5`); `EndpointPort`;
//! `Network`; `Locality.Label` `region/zone/subzone` (empty parts → `None`);
//! `WorkloadName`; `Namespace` when the dump has no namespace level.
//!
//! `HealthStatus` changed meaning: Istio 1.12–1.13 had `0` healthy and `1` unhealthy;
//! later releases have `1` healthy, `2` unhealthy, `3` draining and `4` terminating
//! (both of which take no new traffic, so not healthy). The scheme is decided per dump:
//! any value of 2–4 means the new one; else any `0` means the old one; else the new one
//! (a dump of only `1`s is far likelier a healthy new mesh than a wholly unhealthy old
//! one). A missing `HealthStatus` (releases before it existed, which only listed ready
//! endpoints) is healthy, as is `0` under the new scheme (unset); other values are
//! `None` with an issue.
//!
//! Input that is not JSON or not an object is an [`AdminError`]; an entry that does not
//! read is an [`AdminIssue`] (line 0; the message names the entry).

use serde_json::{Map, Value};

use super::{AdminError, AdminIssue, ShardEndpoint, ShardzDump};

/// Reads an `endpointShardz` dump.
pub fn parse(input: &str) -> Result<ShardzDump, AdminError> {
    let input = input.strip_prefix('\u{feff}').unwrap_or(input);
    let root: Value = serde_json::from_str(input)
        .map_err(|error| AdminError { message: format!("not JSON: {error}") })?;
    let services = match root {
        Value::Object(services) => services,
        Value::Null => Map::new(),
        _ => {
            return Err(AdminError {
                message: "the top level is not an object of services".to_owned(),
            });
        }
    };
    let mut reader = Reader::default();
    for (service, by_namespace) in &services {
        reader.read_service(service, by_namespace);
    }
    Ok(reader.finish())
}

/// Rows read so far, with each row's raw `HealthStatus` until the scheme is known.
#[derive(Default)]
struct Reader {
    dump: ShardzDump,
    health: Vec<Option<i64>>,
}

/// Where an endpoint list sits in the dump.
struct Shard<'a> {
    service: &'a str,
    namespace: Option<&'a str>,
    registry: Option<&'a str>,
    cluster: Option<&'a str>,
}

impl Reader {
    fn read_service(&mut self, service: &str, value: &Value) {
        let Some(fields) = value.as_object() else {
            return self.issue(format!("service {service:?} is not an object"), value);
        };
        // Go writes `Shards` capitalized and namespaces are lower case, so an exact match
        // tells the old layout from a namespace named `shards`.
        if fields.contains_key("Shards") {
            return self.read_shards(service, None, value);
        }
        for (namespace, shards) in fields {
            self.read_shards(service, Some(namespace), shards);
        }
    }

    /// One `EndpointShards` object: every shard's endpoint list (`null` when empty).
    fn read_shards(&mut self, service: &str, namespace: Option<&str>, value: &Value) {
        let context = || format!("service {service:?} namespace {:?}", namespace.unwrap_or("-"));
        let shards = match value.as_object().and_then(|fields| any_case(fields, "Shards")) {
            Some(Value::Object(shards)) => shards,
            Some(Value::Null) => return,
            Some(other) => {
                return self.issue(format!("{}: `Shards` is not an object", context()), other);
            }
            None => return self.issue(format!("{}: no `Shards` object", context()), value),
        };
        for (key, endpoints) in shards {
            let (registry, cluster) = split_shard_key(key);
            let shard = Shard { service, namespace, registry, cluster };
            self.read_endpoints(&shard, endpoints);
        }
    }

    fn read_endpoints(&mut self, shard: &Shard<'_>, endpoints: &Value) {
        let endpoints = match endpoints {
            Value::Array(endpoints) => endpoints.as_slice(),
            Value::Null => &[],
            other => {
                return self
                    .issue(format!("service {:?}: a shard is not a list", shard.service), other);
            }
        };
        for (index, endpoint) in endpoints.iter().enumerate() {
            match read_endpoint(shard, endpoint) {
                Ok((row, health)) => {
                    self.dump.endpoints.push(row);
                    self.health.push(health);
                }
                Err(message) => self.issue(
                    format!("service {:?} endpoint {index}: {message}", shard.service),
                    endpoint,
                ),
            }
        }
    }

    fn issue(&mut self, message: String, value: &Value) {
        self.dump.issues.push(AdminIssue::new(0, "bad_entry", message, &excerpt(value)));
    }

    /// Fills `healthy` once the dump's `HealthStatus` scheme is known.
    fn finish(mut self) -> ShardzDump {
        let scheme = HealthScheme::of(&self.health);
        for (endpoint, status) in self.dump.endpoints.iter_mut().zip(&self.health) {
            endpoint.healthy = scheme.healthy(*status);
            if endpoint.healthy.is_none() {
                let message = format!(
                    "service {:?} endpoint {}: unknown HealthStatus",
                    endpoint.service, endpoint.address
                );
                let text = status.map(|status| status.to_string()).unwrap_or_default();
                self.dump.issues.push(AdminIssue::new(0, "bad_value", message, &text));
            }
        }
        self.dump
    }
}

/// A short rendering of a value for an issue's excerpt.
fn excerpt(value: &Value) -> String {
    match value {
        Value::Array(items) => format!("[… {} items]", items.len()),
        Value::Object(fields) => {
            let keys: Vec<&str> = fields.keys().take(6).map(String::as_str).collect();
            format!("{{{}}}", keys.join(", "))
        }
        scalar => scalar.to_string(),
    }
}

/// `Kubernetes/cluster1` → (registry, cluster); a key without `/` is a cluster ID.
fn split_shard_key(key: &str) -> (Option<&str>, Option<&str>) {
    match key.split_once('/') {
        Some((registry, cluster)) => (non_empty(registry), non_empty(cluster)),
        None => (None, non_empty(key)),
    }
}

fn non_empty(part: &str) -> Option<&str> {
    Some(part).filter(|part| !part.is_empty())
}

/// One `IstioEndpoint` and its raw `HealthStatus`.
fn read_endpoint(shard: &Shard<'_>, value: &Value) -> Result<(ShardEndpoint, Option<i64>), String> {
    let fields = value.as_object().ok_or("not an object")?;
    let address = first_address(fields).ok_or("no `Addresses` or `Address`")?;
    let locality = field(fields, "Locality").and_then(Value::as_object);
    let label = locality.and_then(|locality| text(locality, "Label"));
    let mut parts = label
        .unwrap_or_default()
        .splitn(3, '/')
        .map(|part| Some(part).filter(|part| !part.is_empty()));
    let port = match field(fields, "EndpointPort") {
        Some(port) => Some(
            port.as_u64()
                .and_then(|port| u16::try_from(port).ok())
                .ok_or("`EndpointPort` is not a port")?,
        ),
        None => None,
    };
    let endpoint = ShardEndpoint {
        service: shard.service.to_owned(),
        namespace: shard.namespace.or_else(|| text(fields, "Namespace")).map(str::to_owned),
        cluster: shard
            .cluster
            .or_else(|| locality.and_then(|locality| text(locality, "ClusterID")))
            .map(str::to_owned),
        registry: shard.registry.map(str::to_owned),
        address: address.to_owned(),
        port,
        network: text(fields, "Network").map(str::to_owned),
        region: parts.next().flatten().map(str::to_owned),
        zone: parts.next().flatten().map(str::to_owned),
        sub_zone: parts.next().flatten().map(str::to_owned),
        workload: text(fields, "WorkloadName").map(str::to_owned),
        healthy: None,
    };
    Ok((endpoint, field(fields, "HealthStatus").and_then(Value::as_i64)))
}

/// `Addresses[0]` (Istio 1.22+) or `Address`.
fn first_address(fields: &Map<String, Value>) -> Option<&str> {
    let from_list =
        field(fields, "Addresses").and_then(Value::as_array).and_then(|list| list.first());
    from_list
        .or_else(|| field(fields, "Address"))
        .and_then(Value::as_str)
        .filter(|address| !address.is_empty())
}

/// A field by its Go name, in any ASCII case; `null` counts as missing.
fn field<'v>(fields: &'v Map<String, Value>, name: &str) -> Option<&'v Value> {
    any_case(fields, name).filter(|value| !value.is_null())
}

/// A field by its Go name, in any ASCII case, `null` included.
fn any_case<'v>(fields: &'v Map<String, Value>, name: &str) -> Option<&'v Value> {
    fields.get(name).or_else(|| {
        fields.iter().find(|(key, _)| key.eq_ignore_ascii_case(name)).map(|(_, value)| value)
    })
}

/// A non-empty string field.
fn text<'v>(fields: &'v Map<String, Value>, name: &str) -> Option<&'v str> {
    field(fields, name).and_then(Value::as_str).filter(|text| !text.is_empty())
}

/// Which meaning `HealthStatus` numbers have in this dump.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HealthScheme {
    /// Istio 1.12–1.13: 0 healthy, 1 unhealthy.
    ZeroHealthy,
    /// Later: 1 healthy, 2 unhealthy, 3 draining, 4 terminating (0 = unset).
    OneHealthy,
}

impl HealthScheme {
    fn of(statuses: &[Option<i64>]) -> HealthScheme {
        let any = |wanted: fn(i64) -> bool| statuses.iter().flatten().any(|status| wanted(*status));
        if !any(|status| (2..=4).contains(&status)) && any(|status| status == 0) {
            HealthScheme::ZeroHealthy
        } else {
            HealthScheme::OneHealthy
        }
    }

    fn healthy(self, status: Option<i64>) -> Option<bool> {
        match (self, status) {
            (_, None) => Some(true),
            (HealthScheme::ZeroHealthy, Some(0)) => Some(true),
            (HealthScheme::ZeroHealthy, Some(1)) => Some(false),
            (HealthScheme::OneHealthy, Some(0 | 1)) => Some(true),
            (HealthScheme::OneHealthy, Some(2..=4)) => Some(false),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn endpoint(address: &str, health: Value) -> Value {
        json!({
            "Labels": {"app": "reviews", "version": "v1"},
            "Addresses": [address],
            "ServicePortName": "http",
            "LegacyClusterPortKey": 0,
            "ServiceAccount": "spiffe://cluster.local/ns/default/sa/bookinfo-reviews",
            "Network": "network1",
            "Locality": {"Label": "us-east1/us-east1-b/", "ClusterID": "cluster1"},
            "EndpointPort": 9080,
            "LbWeight": 0,
            "TLSMode": "istio",
            "Namespace": "default",
            "WorkloadName": "reviews-v1",
            "HostName": "",
            "SubDomain": "",
            "HealthStatus": health,
            "SendUnhealthyEndpoints": false,
            "NodeName": "gke-cluster1-pool-1"
        })
    }

    fn dump(shards: Value) -> ShardzDump {
        let root = json!({"reviews.default.svc.cluster.local": {"default": {"Shards": shards, "ServiceAccounts": {}}}});
        parse(&root.to_string()).unwrap()
    }

    #[test]
    fn current_istio_endpoint() {
        let dump = dump(json!({"Kubernetes/cluster1": [endpoint("10.112.2.40", json!(1))]}));
        assert_eq!(dump.issues, []);
        assert_eq!(
            dump.endpoints,
            [ShardEndpoint {
                service: "reviews.default.svc.cluster.local".to_owned(),
                namespace: Some("default".to_owned()),
                cluster: Some("cluster1".to_owned()),
                registry: Some("Kubernetes".to_owned()),
                address: "10.112.2.40".to_owned(),
                port: Some(9080),
                network: Some("network1".to_owned()),
                region: Some("us-east1".to_owned()),
                zone: Some("us-east1-b".to_owned()),
                sub_zone: None,
                workload: Some("reviews-v1".to_owned()),
                healthy: Some(true),
            }]
        );
    }

    #[test]
    fn health_scheme_with_one_healthy() {
        let dump = dump(json!({"Kubernetes/cluster1": [
            endpoint("10.0.0.1", json!(1)), endpoint("10.0.0.2", json!(2)),
            endpoint("10.0.0.3", json!(3)), endpoint("10.0.0.4", json!(4)), endpoint("10.0.0.5", json!(0))
        ]}));
        let healthy: Vec<_> = dump.endpoints.iter().map(|endpoint| endpoint.healthy).collect();
        assert_eq!(healthy, [Some(true), Some(false), Some(false), Some(false), Some(true)]);
    }

    #[test]
    fn health_scheme_with_zero_healthy() {
        let dump = dump(
            json!({"cluster1": [endpoint("10.0.0.1", json!(0)), endpoint("10.0.0.2", json!(1))]}),
        );
        let healthy: Vec<_> = dump.endpoints.iter().map(|endpoint| endpoint.healthy).collect();
        assert_eq!(healthy, [Some(true), Some(false)]);
        assert_eq!(
            (dump.endpoints[0].registry.as_deref(), dump.endpoints[0].cluster.as_deref()),
            (None, Some("cluster1"))
        );
    }

    #[test]
    fn only_ones_are_healthy_and_missing_is_healthy() {
        let mut no_status = endpoint("10.0.0.2", json!(null));
        no_status.as_object_mut().unwrap().remove("HealthStatus");
        let dump =
            dump(json!({"Kubernetes/cluster1": [endpoint("10.0.0.1", json!(1)), no_status]}));
        assert!(dump.endpoints.iter().all(|endpoint| endpoint.healthy == Some(true)));
    }

    #[test]
    fn unknown_health_status_is_an_issue() {
        let dump = dump(
            json!({"Kubernetes/cluster1": [endpoint("10.0.0.1", json!(9)), endpoint("10.0.0.2", json!("x"))]}),
        );
        assert_eq!(dump.endpoints[0].healthy, None);
        assert_eq!(
            dump.endpoints[1].healthy,
            Some(true),
            "a non-number HealthStatus reads as missing"
        );
        assert_eq!(dump.issues.len(), 1);
    }

    #[test]
    fn older_layouts_and_key_cases() {
        let old = json!({
            "reviews.default.svc.cluster.local": {"Shards": {"Kubernetes": [{
                "Address": "10.112.2.40", "EndpointPort": 9080, "namespace": "default",
                "locality": {"label": "us-east1/us-east1-b/rack7", "clusterID": "Kubernetes"}
            }]}}
        });
        let dump = parse(&old.to_string()).unwrap();
        assert_eq!(dump.issues, []);
        let endpoint = &dump.endpoints[0];
        assert_eq!(
            (
                endpoint.namespace.as_deref(),
                endpoint.cluster.as_deref(),
                endpoint.registry.as_deref()
            ),
            (Some("default"), Some("Kubernetes"), None)
        );
        assert_eq!(
            (endpoint.address.as_str(), endpoint.sub_zone.as_deref(), endpoint.healthy),
            ("10.112.2.40", Some("rack7"), Some(true))
        );
    }

    #[test]
    fn cluster_falls_back_to_the_endpoints_cluster_id() {
        let dump = dump(json!({"Kubernetes/": [endpoint("10.0.0.1", json!(1))]}));
        assert_eq!(dump.endpoints[0].cluster.as_deref(), Some("cluster1"));
    }

    #[test]
    fn null_shards_and_empty_dumps() {
        assert_eq!(dump(json!({"Kubernetes/cluster1": null})), ShardzDump::default());
        assert_eq!(dump(json!(null)), ShardzDump::default());
        assert_eq!(parse("{}").unwrap(), ShardzDump::default());
        assert_eq!(parse("null").unwrap(), ShardzDump::default());
    }

    #[test]
    fn bad_entries_are_issues() {
        let root = json!({
            "a.svc": 5,
            "b.svc": {"default": {"NoShards": 1}},
            "c.svc": {"default": {"Shards": {"Kubernetes/c1": [7, {"Addresses": []}, {"Address": "1.1.1.1", "EndpointPort": 70000}]}}},
            "d.svc": {"default": {"Shards": {"Kubernetes/c1": {"x": 1}}}},
            "e.svc": {"default": {"Shards": 3}}
        });
        let dump = parse(&root.to_string()).unwrap();
        assert_eq!(dump.endpoints, []);
        assert_eq!(dump.issues.len(), 7, "{:#?}", dump.issues);
    }

    #[test]
    fn wrong_whole_inputs_are_errors() {
        for input in ["", "[]", "42", "not json", r#"{"a": "#] {
            assert!(parse(input).is_err(), "{input}");
        }
    }
}
