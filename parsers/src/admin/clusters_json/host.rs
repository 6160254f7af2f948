//! One `host_statuses[]` entry of `/clusters?format=json` (`envoy.admin.v3.HostStatus`)
//! read into a [`HostStatus`].
//!
//! * `address`: `socket_address{address, port_value}` → `ip:port` (`[ipv6]:port`; a
//!   missing port is protobuf's 0), `pipe{path}` → `unix://<path>`,
//!   `envoy_internal_address{server_listener_name, endpoint_id}` → `envoy://<listener>/<id>`.
//!   A host without a readable address is an issue and is skipped.
//! * `stats[]`: `{name, value, type}` with the value as a string or a number (the Envoy
//!   1.7 map form `{"<name>": {value, type}}` is read too). When a host has `stats`, each
//!   of the eight standard stats (`cx_active` … `rq_total`) it does not list is **0**:
//!   protobuf JSON leaves out a zero `value` (and the `COUNTER` type), and Envoy's
//!   streaming JSON writer leaves zero stats out altogether, while Envoy always keeps all
//!   eight for every host. Without a `stats` key the stats are unknown (`None`). Other
//!   stats are kept as settings keyed `<address>::<name>`, like the text form.
//! * `health_status`: its booleans and `eds_health_status` (a name, or the enum number)
//!   rendered in Envoy's text form (`healthy`, `/failed_outlier_check`…); missing → `None`.
//! * `priority` missing → 0 (protobuf's zero, and Envoy's streaming writer omits 0 too);
//!   `weight` missing → `None` (Envoy never has weight 0, so it was not printed at all).
//! * `locality{region, zone, sub_zone}`, `hostname`: empty or missing → `None`.
//! * `success_rate{value}`, `local_origin_success_rate{value}`: missing or negative → `None`.

use std::borrow::Cow;

use serde::de::{IgnoredAny, MapAccess, SeqAccess};

use super::stream::{Found, Key, Object, ObjectOrList, Scalar, Sink};
use super::{Collected, Problem, read_percent};
use crate::admin::HostStatus;
use crate::admin::clusters_text::counter_slot;
use crate::admin::health_flags::{HealthFlag, HealthFlags, eds_status_name};
use crate::admin::host_address::socket;

const ADDRESS: Key = Key::plain("address");
const SOCKET_ADDRESS: Key = Key::new("socket_address", "socketAddress");
const PORT_VALUE: Key = Key::new("port_value", "portValue");
const PIPE: Key = Key::plain("pipe");
const PATH: Key = Key::plain("path");
const INTERNAL_ADDRESS: Key = Key::new("envoy_internal_address", "envoyInternalAddress");
const LISTENER_NAME: Key = Key::new("server_listener_name", "serverListenerName");
const ENDPOINT_ID: Key = Key::new("endpoint_id", "endpointId");
const STATS: Key = Key::plain("stats");
const NAME: Key = Key::plain("name");
const VALUE: Key = Key::plain("value");
const HEALTH_STATUS: Key = Key::new("health_status", "healthStatus");
const EDS_HEALTH_STATUS: Key = Key::new("eds_health_status", "edsHealthStatus");
const WEIGHT: Key = Key::plain("weight");
const PRIORITY: Key = Key::plain("priority");
const HOSTNAME: Key = Key::plain("hostname");
const LOCALITY: Key = Key::plain("locality");
const REGION: Key = Key::plain("region");
const ZONE: Key = Key::plain("zone");
const SUB_ZONE: Key = Key::new("sub_zone", "subZone");
const SUCCESS_RATE: Key = Key::new("success_rate", "successRate");
const LOCAL_ORIGIN_SUCCESS_RATE: Key =
    Key::new("local_origin_success_rate", "localOriginSuccessRate");

/// The eight stats Envoy keeps for every host.
const STANDARD_STATS: [&str; 8] = [
    "cx_active",
    "cx_connect_fail",
    "cx_total",
    "rq_active",
    "rq_error",
    "rq_success",
    "rq_timeout",
    "rq_total",
];

/// `HostHealthStatus` booleans and the flag each sets.
const HEALTH_BOOLEANS: [(Key, HealthFlag); 7] = [
    (Key::new("failed_active_health_check", "failedActiveHealthCheck"), HealthFlag::FailedActiveHc),
    (Key::new("failed_outlier_check", "failedOutlierCheck"), HealthFlag::FailedOutlierCheck),
    (
        Key::new("failed_active_degraded_check", "failedActiveDegradedCheck"),
        HealthFlag::DegradedActiveHc,
    ),
    (
        Key::new("pending_dynamic_removal", "pendingDynamicRemoval"),
        HealthFlag::PendingDynamicRemoval,
    ),
    (Key::new("pending_active_hc", "pendingActiveHc"), HealthFlag::PendingActiveHc),
    (
        Key::new("excluded_via_immediate_hc_fail", "excludedViaImmediateHcFail"),
        HealthFlag::ExcludedViaImmediateHcFail,
    ),
    (Key::new("active_hc_timeout", "activeHcTimeout"), HealthFlag::ActiveHcTimeout),
];

/// A cluster's `host_statuses` list.
pub(super) struct HostList<'c>(pub(super) &'c mut Collected);

impl<'de> Sink<'de> for HostList<'_> {
    fn item<A: SeqAccess<'de>>(&mut self, index: usize, seq: &mut A) -> Result<bool, A::Error> {
        let mut host = HostEntry::default();
        let Some(found) = seq.next_element_seed(Object(&mut host))? else {
            return Ok(false);
        };
        match found {
            Found::Expected => host.finish(self.0),
            Found::Null => host.problem("bad_entry", "not an object", &Scalar::Null),
            Found::Other(value) => host.problem("bad_entry", "not an object", &value),
        }
        self.0.problems.extend(
            host.problems.into_iter().map(|problem| Problem { host: Some(index), ..problem }),
        );
        Ok(true)
    }
}

/// One host entry as it is read; the address may come after the stats.
#[derive(Default)]
struct HostEntry {
    host: HostStatus,
    address: Option<Result<String, String>>,
    has_priority: bool,
    /// Stats with no [`HostStatus`] field: (name, value).
    other_stats: Vec<(String, String)>,
    problems: Vec<Problem>,
}

impl<'de> Sink<'de> for HostEntry {
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        if ADDRESS.matches(key) {
            self.address = Some(read_address(map)?);
        } else if STATS.matches(key) {
            self.read_stats(map)?;
        } else if HEALTH_STATUS.matches(key) {
            self.read_health(map)?;
        } else if LOCALITY.matches(key) {
            if let Found::Other(value) =
                map.next_value_seed(Object(&mut Locality(&mut self.host)))?
            {
                self.problem("bad_value", "`locality` is not an object", &value);
            }
        } else if SUCCESS_RATE.matches(key) {
            self.host.success_rate = self.success_rate(read_percent(map)?);
        } else if LOCAL_ORIGIN_SUCCESS_RATE.matches(key) {
            self.host.local_origin_success_rate = self.success_rate(read_percent(map)?);
        } else {
            return self.read_scalar_field(key, map);
        }
        Ok(())
    }
}

impl HostEntry {
    fn problem(&mut self, reason: &'static str, message: impl Into<String>, value: &Scalar<'_>) {
        self.problems.push(Problem::new(reason, message, value));
    }

    /// `weight`, `priority`, `hostname`; anything else is skipped.
    fn read_scalar_field<'de, A: MapAccess<'de>>(
        &mut self,
        key: &str,
        map: &mut A,
    ) -> Result<(), A::Error> {
        if WEIGHT.matches(key) {
            let weight = map.next_value()?;
            self.host.weight = self.small_number("weight", &weight);
        } else if PRIORITY.matches(key) {
            let priority = map.next_value()?;
            self.host.priority = self.small_number("priority", &priority);
            self.has_priority = true;
        } else if HOSTNAME.matches(key) {
            let hostname: Scalar<'de> = map.next_value()?;
            self.host.hostname =
                hostname.as_str().filter(|name| !name.is_empty()).map(str::to_owned);
        } else {
            map.next_value::<IgnoredAny>()?;
        }
        Ok(())
    }

    /// A `u32` field (`weight`, `priority`).
    fn small_number(&mut self, field: &str, value: &Scalar<'_>) -> Option<u32> {
        let number = value.whole().and_then(|number| u32::try_from(number).ok());
        if number.is_none() {
            self.problem("bad_value", format!("`{field}` is not a whole number in range"), value);
        }
        number
    }

    /// A success rate in percent; negative (not computed) → `None`.
    fn success_rate(&mut self, rate: Option<Scalar<'_>>) -> Option<f64> {
        let rate = rate?;
        let value = rate.float();
        if value.is_none() {
            self.problem("bad_value", "a success rate is not a number", &rate);
        }
        value.filter(|value| value.is_finite() && *value >= 0.0)
    }

    /// `stats`: the eight standard stats start at 0 because zeros are left out.
    fn read_stats<'de, A: MapAccess<'de>>(&mut self, map: &mut A) -> Result<(), A::Error> {
        for stat in STANDARD_STATS {
            if let Some(slot) = counter_slot(&mut self.host, stat) {
                *slot = Some(0);
            }
        }
        if let Found::Other(value) = map.next_value_seed(ObjectOrList(&mut Stats(self)))? {
            self.problem("bad_value", "`stats` is not a list", &value);
        }
        Ok(())
    }

    /// One stat: a standard one sets its field, any other is kept for a setting.
    fn add_stat(&mut self, name: &str, value: Option<&Scalar<'_>>) {
        let number = value.map_or(Some(0), Scalar::whole);
        if number.is_none() {
            let message = format!("stat `{name}` is not a whole number");
            self.problem("bad_value", message, value.unwrap_or(&Scalar::Null));
        }
        if let Some(slot) = counter_slot(&mut self.host, name) {
            *slot = number;
            return;
        }
        let text = value.and_then(Scalar::text).unwrap_or_else(|| "0".to_owned());
        self.other_stats.push((name.to_owned(), text));
    }

    fn read_health<'de, A: MapAccess<'de>>(&mut self, map: &mut A) -> Result<(), A::Error> {
        let mut health = Health::default();
        match map.next_value_seed(Object(&mut health))? {
            Found::Expected => self.host.health_flags = Some(health.flags.render()),
            Found::Null => {}
            Found::Other(value) => {
                self.problem("bad_value", "`health_status` is not an object", &value)
            }
        }
        self.problems.append(&mut health.problems);
        Ok(())
    }

    /// Moves the host into the cluster's rows, or reports why it cannot be.
    fn finish(&mut self, collected: &mut Collected) {
        let address = match self.address.take() {
            Some(Ok(address)) => address,
            Some(Err(excerpt)) => {
                let message =
                    "`address` has no socket_address, pipe or envoy_internal_address; host skipped";
                let problem = Problem::new("bad_address", message, &Scalar::Null);
                self.problems.push(Problem { excerpt, ..problem });
                return;
            }
            None => {
                self.problem("missing_address", "no `address`; host skipped", &Scalar::Null);
                return;
            }
        };
        if !self.has_priority {
            self.host.priority = Some(0);
        }
        for (name, value) in self.other_stats.drain(..) {
            collected.settings.push((format!("{address}::{name}"), value));
        }
        collected.hosts.push(HostStatus { address, ..std::mem::take(&mut self.host) });
    }
}

/// Reads `address` into [`HostStatus::address`] form, or the excerpt of what was there.
fn read_address<'de, A: MapAccess<'de>>(map: &mut A) -> Result<Result<String, String>, A::Error> {
    let mut address = Address::default();
    Ok(match map.next_value_seed(Object(&mut address))? {
        Found::Expected => address.text().ok_or_else(|| "{…}".to_owned()),
        Found::Null => Err("null".to_owned()),
        Found::Other(value) => Err(value.excerpt()),
    })
}

/// Which kind of `Address` was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AddressKind {
    Socket,
    Pipe,
    Internal,
}

/// The parts of an `Address`, over its two levels (`{"socket_address": {"address": …}}`).
#[derive(Default)]
struct Address {
    kind: Option<AddressKind>,
    ip: Option<String>,
    port: Option<Option<u64>>,
    path: Option<String>,
    listener: Option<String>,
    endpoint_id: Option<String>,
}

impl<'de> Sink<'de> for Address {
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        let kind = [
            (SOCKET_ADDRESS, AddressKind::Socket),
            (PIPE, AddressKind::Pipe),
            (INTERNAL_ADDRESS, AddressKind::Internal),
        ]
        .into_iter()
        .find(|(json, _)| json.matches(key));
        if let Some((_, kind)) = kind.filter(|_| self.kind.is_none()) {
            self.kind = Some(kind);
            if let Found::Other(Scalar::Text(path)) = map.next_value_seed(Object(&mut *self))? {
                self.path = Some(path.into_owned());
            }
            return Ok(());
        }
        let value: Scalar<'de> = map.next_value()?;
        let text = || value.as_str().map(str::to_owned);
        if ADDRESS.matches(key) {
            self.ip = text();
        } else if PORT_VALUE.matches(key) {
            self.port = Some(value.whole());
        } else if PATH.matches(key) || PIPE.matches(key) {
            self.path = text();
        } else if LISTENER_NAME.matches(key) {
            self.listener = text();
        } else if ENDPOINT_ID.matches(key) {
            self.endpoint_id = text();
        }
        Ok(())
    }
}

impl Address {
    fn text(&self) -> Option<String> {
        match self.kind? {
            AddressKind::Socket => {
                let port =
                    self.port.unwrap_or(Some(0)).filter(|port| *port <= u64::from(u16::MAX))?;
                Some(socket(self.ip.as_deref()?, port))
            }
            AddressKind::Pipe => Some(format!("unix://{}", self.path.as_deref()?)),
            AddressKind::Internal => {
                let listener = self.listener.as_deref().unwrap_or_default();
                Some(format!(
                    "envoy://{listener}/{}",
                    self.endpoint_id.as_deref().unwrap_or_default()
                ))
            }
        }
    }
}

/// `stats`: a list of `{name, value, type}` or the old map `{name: {value, type}}`.
struct Stats<'h>(&'h mut HostEntry);

impl<'de> Sink<'de> for Stats<'_> {
    fn item<A: SeqAccess<'de>>(&mut self, _index: usize, seq: &mut A) -> Result<bool, A::Error> {
        let mut stat = Stat::default();
        let Some(found) = seq.next_element_seed(Object(&mut stat))? else {
            return Ok(false);
        };
        match (found, stat.name) {
            (Found::Expected, Some(name)) => self.0.add_stat(&name, stat.value.as_ref()),
            (Found::Other(value), _) => {
                self.0.problem("bad_value", "a `stats` entry is not an object", &value)
            }
            _ => self.0.problem("bad_value", "a `stats` entry has no name", &Scalar::Object),
        }
        Ok(true)
    }

    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        let mut stat = Stat::default();
        map.next_value_seed(Object(&mut stat))?;
        self.0.add_stat(key, stat.value.as_ref());
        Ok(())
    }
}

/// One `SimpleMetric`; its `type` is not needed.
#[derive(Default)]
struct Stat<'de> {
    name: Option<Cow<'de, str>>,
    value: Option<Scalar<'de>>,
}

impl<'de> Sink<'de> for Stat<'de> {
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        if NAME.matches(key) {
            if let Scalar::Text(name) = map.next_value()? {
                self.name = Some(name);
            }
        } else if VALUE.matches(key) {
            self.value = Some(map.next_value()?).filter(|value| *value != Scalar::Null);
        } else {
            map.next_value::<IgnoredAny>()?;
        }
        Ok(())
    }
}

/// `health_status`, rendered as Envoy's flags.
#[derive(Default)]
struct Health {
    flags: HealthFlags,
    problems: Vec<Problem>,
}

impl<'de> Sink<'de> for Health {
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        let flag = HEALTH_BOOLEANS.iter().find(|(json, _)| json.matches(key));
        if flag.is_none() && !EDS_HEALTH_STATUS.matches(key) {
            return map.next_value::<IgnoredAny>().map(drop);
        }
        let value: Scalar<'de> = map.next_value()?;
        match (flag, &value) {
            (Some((_, flag)), Scalar::Bool(true)) => self.flags.set(*flag),
            (Some(_), Scalar::Bool(false) | Scalar::Null) => {}
            (Some((json, _)), _) => {
                let message = format!("`{}` is not a boolean", json.snake());
                self.problems.push(Problem::new("bad_value", message, &value));
            }
            (None, _) => self.set_eds_status(&value),
        }
        Ok(())
    }
}

impl Health {
    fn set_eds_status(&mut self, status: &Scalar<'_>) {
        let name = status.as_str().or_else(|| status.whole().and_then(eds_status_name));
        if !name.is_some_and(|name| self.flags.set_eds_status(name)) {
            self.problems.push(Problem::new("bad_value", "unknown `eds_health_status`", status));
        }
    }
}

/// `locality`, straight into the host.
struct Locality<'h>(&'h mut HostStatus);

impl<'de> Sink<'de> for Locality<'_> {
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        let slot = if REGION.matches(key) {
            &mut self.0.region
        } else if ZONE.matches(key) {
            &mut self.0.zone
        } else if SUB_ZONE.matches(key) {
            &mut self.0.sub_zone
        } else {
            return map.next_value::<IgnoredAny>().map(drop);
        };
        let value: Scalar<'de> = map.next_value()?;
        *slot = value.as_str().filter(|text| !text.is_empty()).map(str::to_owned);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::super::parse;
    use crate::admin::ClustersDump;

    fn one_host(host: Value) -> ClustersDump {
        let dump = json!({"cluster_statuses": [{"name": "c", "host_statuses": [host]}]});
        parse(&dump.to_string()).unwrap()
    }

    #[test]
    fn envoy_host_with_string_counters_and_omitted_zeros() {
        let dump = one_host(json!({
            "address": {"socket_address": {"address": "10.112.2.40", "port_value": 9080}},
            "stats": [
                {"name": "cx_connect_fail", "value": "3"},
                {"name": "cx_total", "value": "41"},
                {"name": "rq_error", "value": "7"},
                {"name": "rq_success", "value": "120"},
                {"name": "rq_timeout"},
                {"name": "rq_total", "value": "127"},
                {"type": "GAUGE", "name": "cx_active", "value": "2"},
                {"type": "GAUGE", "name": "rq_active"}
            ],
            "health_status": {"failed_outlier_check": true, "eds_health_status": "HEALTHY"},
            "weight": 1,
            "locality": {"region": "us-east1", "zone": "us-east1-b"}
        }));
        assert_eq!(dump.issues, []);
        let host = &dump.hosts[0];
        assert_eq!((host.envoy_cluster.as_str(), host.address.as_str()), ("c", "10.112.2.40:9080"));
        assert_eq!(
            (host.cx_active, host.cx_connect_fail, host.cx_total, host.rq_active),
            (Some(2), Some(3), Some(41), Some(0))
        );
        assert_eq!(
            (host.rq_error, host.rq_success, host.rq_timeout, host.rq_total),
            (Some(7), Some(120), Some(0), Some(127))
        );
        assert_eq!(host.health_flags.as_deref(), Some("/failed_outlier_check"));
        assert_eq!((host.weight, host.priority), (Some(1), Some(0)));
        assert_eq!(
            (host.region.as_deref(), host.zone.as_deref(), host.sub_zone.as_deref()),
            (Some("us-east1"), Some("us-east1-b"), None)
        );
        assert_eq!((host.success_rate, host.hostname.as_deref(), host.canary), (None, None, None));
    }

    #[test]
    fn stats_left_out_entirely_are_zero_but_no_stats_key_is_unknown() {
        let with_empty_stats = one_host(json!({"address": {"pipe": {"path": "/s"}}, "stats": []}));
        assert_eq!(with_empty_stats.hosts[0].rq_total, Some(0));
        let without_stats = one_host(json!({"address": {"pipe": {"path": "/s"}}}));
        assert_eq!(without_stats.hosts[0].rq_total, None);
        assert_eq!(without_stats.hosts[0].health_flags, None);
        assert_eq!(without_stats.hosts[0].weight, None);
    }

    #[test]
    fn camel_case_host() {
        let dump = one_host(json!({
            "address": {"socketAddress": {"address": "34.168.157.2", "portValue": 15443}},
            "stats": [{"name": "rq_total", "value": "9"}],
            "healthStatus": {"failedOutlierCheck": true, "edsHealthStatus": "UNHEALTHY"},
            "weight": 3,
            "priority": 1,
            "hostname": "gw.example",
            "locality": {"region": "us-west1", "zone": "us-west1-a", "subZone": "rack7"},
            "successRate": {"value": 92.5},
            "localOriginSuccessRate": {"value": 100}
        }));
        assert_eq!(dump.issues, []);
        let host = &dump.hosts[0];
        assert_eq!(host.address, "34.168.157.2:15443");
        assert_eq!(host.health_flags.as_deref(), Some("/failed_outlier_check/failed_eds_health"));
        assert_eq!(
            (host.weight, host.priority, host.sub_zone.as_deref(), host.hostname.as_deref()),
            (Some(3), Some(1), Some("rack7"), Some("gw.example"))
        );
        assert_eq!((host.success_rate, host.local_origin_success_rate), (Some(92.5), Some(100.0)));
    }

    #[test]
    fn every_health_boolean_renders_in_envoy_order() {
        let dump = one_host(json!({
            "address": {"pipe": {"path": "/s"}},
            "health_status": {
                "active_hc_timeout": true, "excluded_via_immediate_hc_fail": true,
                "pending_active_hc": true, "pending_dynamic_removal": true,
                "failed_active_degraded_check": true, "failed_outlier_check": true,
                "failed_active_health_check": true, "eds_health_status": "DEGRADED"
            }
        }));
        assert_eq!(
            dump.hosts[0].health_flags.as_deref(),
            Some(
                "/failed_active_hc/failed_outlier_check/degraded_active_hc/degraded_eds_health/\
                 pending_dynamic_removal/pending_active_hc/excluded_via_immediate_hc_fail/active_hc_timeout"
            )
        );
    }

    #[test]
    fn eds_status_as_number_and_draining() {
        let flags = |status: Value| {
            let host = json!({"address": {"pipe": {"path": "/s"}}, "health_status": {"eds_health_status": status}});
            one_host(host).hosts[0].health_flags.clone()
        };
        assert_eq!(flags(json!(2)).as_deref(), Some("/failed_eds_health"));
        assert_eq!(flags(json!("DRAINING")).as_deref(), Some("/eds_status_draining"));
        assert_eq!(flags(json!("HEALTHY")).as_deref(), Some("healthy"));
        assert_eq!(
            one_host(json!({"address": {"pipe": {"path": "/s"}}, "health_status": {}})).hosts[0]
                .health_flags
                .as_deref(),
            Some("healthy")
        );
    }

    #[test]
    fn addresses_of_every_kind() {
        let address =
            |address: Value| one_host(json!({"address": address})).hosts[0].address.clone();
        assert_eq!(
            address(json!({"socket_address": {"address": "fd00::5", "port_value": 80}})),
            "[fd00::5]:80"
        );
        assert_eq!(address(json!({"socket_address": {"address": "10.0.0.1"}})), "10.0.0.1:0");
        assert_eq!(
            address(json!({"socket_address": {"port_value": "80", "address": "10.0.0.1"}})),
            "10.0.0.1:80"
        );
        assert_eq!(
            address(json!({"pipe": {"path": "./etc/istio/proxy/XDS"}})),
            "unix://./etc/istio/proxy/XDS"
        );
        assert_eq!(address(json!({"pipe": {"pipe": "/sock"}})), "unix:///sock");
        assert_eq!(
            address(
                json!({"envoy_internal_address": {"server_listener_name": "connect_originate", "endpoint_id": "10.96.3.22:9080"}})
            ),
            "envoy://connect_originate/10.96.3.22:9080"
        );
    }

    #[test]
    fn the_address_may_come_last() {
        let dump = one_host(json!({
            "stats": [{"name": "rq_new", "value": "1"}],
            "address": {"socket_address": {"address": "10.0.0.1", "port_value": 80}}
        }));
        assert_eq!(dump.settings[0].key, "10.0.0.1:80::rq_new");
    }

    #[test]
    fn hosts_without_a_readable_address_are_skipped_with_an_issue() {
        for (host, reason) in [
            (json!({"stats": []}), "missing_address"),
            (json!({"address": {"socket_address": {"port_value": 80}}}), "bad_address"),
            (
                json!({"address": {"socket_address": {"address": "1.1.1.1", "port_value": 70000}}}),
                "bad_address",
            ),
            (
                json!({"address": {"socket_address": {"address": "1.1.1.1", "port_value": -1}}}),
                "bad_address",
            ),
            (json!({"address": "10.0.0.1:80"}), "bad_address"),
            (json!({"address": {}}), "bad_address"),
            (json!({"address": null}), "bad_address"),
            (json!(7), "bad_entry"),
            (json!(null), "bad_entry"),
        ] {
            let dump = one_host(host.clone());
            assert_eq!(dump.hosts, [], "{host}");
            assert_eq!(dump.issues[0].reason, reason, "{host}");
            assert!(
                dump.issues[0].message.starts_with("cluster \"c\" host_statuses[0]: "),
                "{host}"
            );
        }
    }

    #[test]
    fn bad_values_are_issues_and_the_host_is_kept() {
        let dump = one_host(json!({
            "address": {"pipe": {"path": "/s"}},
            "stats": [{"name": "rq_total", "value": "many"}, {"value": "1"}, 5, {"name": "cx_total", "value": "4"}],
            "health_status": {"failed_outlier_check": "yes", "eds_health_status": "SICK"},
            "weight": -1,
            "priority": 4294967296u64,
            "success_rate": {"value": "fast"}
        }));
        assert_eq!(dump.hosts.len(), 1);
        let host = &dump.hosts[0];
        assert_eq!(
            (host.rq_total, host.cx_total, host.weight, host.priority),
            (None, Some(4), None, None)
        );
        assert_eq!(host.health_flags.as_deref(), Some("healthy"));
        assert_eq!(dump.issues.len(), 8, "{:#?}", dump.issues);
        assert!(dump.issues.iter().all(|issue| issue.reason == "bad_value"));
    }

    #[test]
    fn containers_of_the_wrong_type_are_issues() {
        let dump = one_host(
            json!({"address": {"pipe": {"path": "/s"}}, "stats": 3, "health_status": [true], "locality": 1}),
        );
        assert_eq!(dump.hosts.len(), 1);
        assert_eq!(dump.issues.len(), 3, "{:#?}", dump.issues);
    }

    #[test]
    fn unknown_stats_become_settings() {
        let dump = one_host(json!({
            "address": {"socket_address": {"address": "10.0.0.1", "port_value": 80}},
            "stats": [{"name": "rq_retry_budget", "value": "7", "type": "GAUGE"}, {"name": "rq_new"}]
        }));
        let settings: Vec<_> = dump
            .settings
            .iter()
            .map(|setting| {
                (setting.envoy_cluster.as_str(), setting.key.as_str(), setting.value.as_str())
            })
            .collect();
        assert_eq!(
            settings,
            [("c", "10.0.0.1:80::rq_retry_budget", "7"), ("c", "10.0.0.1:80::rq_new", "0")]
        );
    }

    #[test]
    fn envoy_1_7_stats_map() {
        let dump = one_host(json!({
            "address": {"pipe": {"path": "/s"}},
            "stats": {"cx_active": {"type": "GAUGE"}, "rq_total": {"value": "12"}, "rq_error": {}}
        }));
        assert_eq!((dump.hosts[0].rq_total, dump.hosts[0].cx_active), (Some(12), Some(0)));
    }

    #[test]
    fn negative_success_rate_is_none() {
        let dump =
            one_host(json!({"address": {"pipe": {"path": "/s"}}, "success_rate": {"value": -1}}));
        assert_eq!((dump.hosts[0].success_rate, dump.issues.len()), (None, 0));
    }
}
