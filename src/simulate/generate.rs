//! Decides every value of a line: picks a route by weight, asks the timeline which
//! phase it is in, chooses the upstream (a local pod, a remote gateway, a remote pod
//! on the flat network, an external host or none) and the outcome (success, the
//! faulty endpoint's 500/503 `UF,URX`, 503 `UH`, 404 `NR`), then fills in sizes,
//! durations, addresses and ids.

use super::line::{Addr, Line, Locality};
use super::mesh::{C2, CLIENTS, CLUSTERS, PROXIES, same_network};
use super::rng::Rng;
use super::routes::{Call, FAULTY_PER_MILLION, FRONTEND_GW1, Kind, ROUTES, Route};
use super::story::{Cause, Noise};
use super::timeline::{Phase, Timeline, failover_target};

/// Where a request went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Upstream {
    host: Option<&'static str>,
    dst_cluster: Option<usize>,
    locality: Locality,
}

const NO_UPSTREAM: Upstream =
    Upstream { host: None, dst_cluster: None, locality: Locality::Unknown };

/// How a request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Ok,
    ServerError,
    ConnectFailure,
    NoHealthy,
    NoRoute,
}

const CONNECT_FAILURE_DETAILS: &str = "upstream_reset_before_response_started{remote_connection_failure,delayed_connect_error:_Connection_refused}";
const CONNECT_FAILURE_REASON: &str = "delayed_connect_error:_Connection_refused";
/// Gateways speak HTTP/2 to a third of their clients.
const GATEWAY_PROTOCOLS: &[&str] = &["HTTP/1.1", "HTTP/1.1", "HTTP/2"];
/// Sidecars of the mesh's applications speak HTTP/1.1.
const SIDECAR_PROTOCOLS: &[&str] = &["HTTP/1.1"];

/// Produces the lines of one run; the caller gives each line its start time.
pub struct Generator {
    rng: Rng,
    timeline: Timeline,
    /// Running sums of the route weights.
    cumulative: Vec<u64>,
    /// Per route: requests so far in normal times and those sent away, for a split
    /// spread exactly (no noise).
    spread: Vec<(u64, u64)>,
}

impl Generator {
    /// A generator for `seed` whose routes follow `timeline`.
    pub fn new(seed: u64, timeline: Timeline) -> Generator {
        let cumulative = ROUTES
            .iter()
            .scan(0u64, |sum, route| {
                *sum += u64::from(route.weight);
                Some(*sum)
            })
            .collect();
        Generator { rng: Rng::new(seed), timeline, cumulative, spread: vec![(0, 0); ROUTES.len()] }
    }

    /// The next line, starting at `start_ms`.
    pub fn line(&mut self, start_ms: i64) -> Line {
        let index = self.pick_route();
        let route = &ROUTES[index];
        let phase = self.timeline.phase(index, start_ms);
        let (upstream, outcome) = self.decide(index, phase);
        let mut line = match route.kind {
            Kind::Tcp | Kind::ExternalTcp => self.tcp_line(route, upstream),
            _ => self.http_line(route, upstream, outcome),
        };
        line.route = index;
        line.start_ms = start_ms;
        line
    }

    fn pick_route(&mut self) -> usize {
        let total = self.cumulative.last().copied().unwrap_or(0);
        let draw = self.rng.below(total);
        self.cumulative.partition_point(|&sum| sum <= draw)
    }

    fn decide(&mut self, index: usize, phase: Phase) -> (Upstream, Outcome) {
        let route = &ROUTES[index];
        match (route.kind, phase) {
            (Kind::NoRoute, _) => (NO_UPSTREAM, Outcome::NoRoute),
            (Kind::ExternalTcp | Kind::ExternalHttp, _) => (self.external(route), Outcome::Ok),
            (_, Phase::Burst(cause)) => self.burst(index, cause),
            (_, Phase::Failover { target }) => (self.remote(route, target), Outcome::Ok),
            (_, Phase::Normal) => self.normal(index),
        }
    }

    /// What fails before the traffic moves.
    fn burst(&mut self, index: usize, cause: Cause) -> (Upstream, Outcome) {
        let route = &ROUTES[index];
        match cause {
            // Local endpoints are being ejected: mostly `UH`, some connection failures.
            Cause::NoHealthyUpstream => match self.rng.below(100) {
                0..80 => (NO_UPSTREAM, Outcome::NoHealthy),
                80..95 => (self.local(route), Outcome::ConnectFailure),
                _ => (self.local(route), Outcome::Ok),
            },
            Cause::ScaleToZero => self.normal(index),
            // The local pods answer 5xx until ejected; what goes away still works.
            Cause::OutlierEjection => match self.spill(index) {
                Some(cluster) => (self.remote(route, cluster), Outcome::Ok),
                None => {
                    let outcome = self.mostly(Outcome::ServerError);
                    (self.local(route), outcome)
                }
            },
            Cause::GatewayFailure => {
                let outcome = self.mostly(Outcome::ConnectFailure);
                (self.remote(route, C2), outcome)
            }
        }
    }

    /// `failure` nine times in ten, else success.
    fn mostly(&mut self, failure: Outcome) -> Outcome {
        if self.rng.below(10) < 9 { failure } else { Outcome::Ok }
    }

    /// Where a request of route `index` goes away to in normal times, if it does: the
    /// route's own spill, or the story's split.
    fn spill(&mut self, index: usize) -> Option<usize> {
        let route = &ROUTES[index];
        let Some((per_million, noise)) = self.timeline.story.split() else {
            let spilled = route.spill.filter(|spill| self.rng.per_million(spill.per_million));
            return spilled.map(|spill| spill.cluster);
        };
        let cluster = route.spill.map(|spill| spill.cluster).or(failover_target(index))?;
        let away = match noise {
            Noise::Random => self.rng.per_million(per_million),
            Noise::None => evenly(&mut self.spread[index], per_million),
        };
        away.then_some(cluster)
    }

    /// Baseline: local, but for the route's spill; the faulty endpoint fails often.
    fn normal(&mut self, index: usize) -> (Upstream, Outcome) {
        let route = &ROUTES[index];
        if index == FRONTEND_GW1 && self.timeline.story.frontend_served_by_cluster2() {
            return (self.remote(route, C2), Outcome::Ok);
        }
        if let Some(cluster) = self.spill(index) {
            return (self.remote(route, cluster), Outcome::Ok);
        }
        let upstream = self.local(route);
        let faulty = upstream.host.is_some() && upstream.host == route.faulty;
        if !(faulty && self.rng.per_million(FAULTY_PER_MILLION)) {
            return (upstream, Outcome::Ok);
        }
        match self.rng.below(3) {
            0 => (upstream, Outcome::ServerError),
            _ => (upstream, Outcome::ConnectFailure),
        }
    }

    fn local(&mut self, route: &Route) -> Upstream {
        let cluster = PROXIES[route.proxy].cluster;
        let host = self.rng.pick(route.pods[cluster]);
        Upstream { host: Some(host), dst_cluster: Some(cluster), locality: Locality::Local }
    }

    /// A pod of `target` on a flat network, else `target`'s east-west gateway.
    fn remote(&mut self, route: &Route, target: usize) -> Upstream {
        let source = PROXIES[route.proxy].cluster;
        let host = if same_network(source, target) {
            self.rng.pick(route.pods[target])
        } else {
            CLUSTERS[target].gateway
        };
        Upstream { host: Some(host), dst_cluster: Some(target), locality: Locality::CrossCluster }
    }

    fn external(&mut self, route: &Route) -> Upstream {
        let host = self.rng.pick(route.pods[PROXIES[route.proxy].cluster]);
        Upstream { host: Some(host), dst_cluster: None, locality: Locality::External }
    }

    fn tcp_line(&mut self, route: &Route, upstream: Upstream) -> Line {
        let call = self.rng.pick(route.calls);
        let mut line = self.skeleton(route, upstream);
        line.bytes_received = self.rng.range(call.received.0, call.received.1);
        line.bytes_sent = self.rng.range(call.sent.0, call.sent.1);
        line.duration_ms = self.rng.range(150, 6_000);
        line
    }

    fn http_line(&mut self, route: &Route, upstream: Upstream, outcome: Outcome) -> Line {
        let call = self.rng.pick(route.calls);
        let mut line = self.skeleton(route, upstream);
        line.method = Some(call.method);
        line.path = Some(call.path);
        line.protocol = Some(self.protocol(route));
        self.set_outcome(&mut line, &call, outcome);
        self.set_timing(&mut line, route, outcome);
        self.set_request_headers(&mut line, route);
        line
    }

    /// The values every line has: upstream, addresses, SNI and route name.
    fn skeleton(&mut self, route: &Route, upstream: Upstream) -> Line {
        let proxy = &PROXIES[route.proxy];
        let local_ip = if route.kind == Kind::Inbound { "127.0.0.6" } else { proxy.ip };
        let upstream_local = upstream.host.map(|_| Addr { ip: local_ip, port: self.rng.port() });
        let remote_ip = self.rng.pick(route.callers);
        Line {
            route: 0,
            proxy: route.proxy,
            start_ms: 0,
            method: None,
            path: None,
            protocol: None,
            response_code: 0,
            response_flags: None,
            response_code_details: None,
            upstream_transport_failure_reason: None,
            bytes_received: 0,
            bytes_sent: 0,
            duration_ms: 0,
            upstream_service_time_ms: None,
            x_forwarded_for: None,
            user_agent: None,
            request_id: None,
            authority: None,
            upstream_host: upstream.host,
            upstream_cluster: route.upstream_cluster,
            upstream_local_address: upstream_local,
            downstream_local_address: route.downstream_local,
            downstream_remote_address: Addr { ip: remote_ip, port: self.rng.port() },
            requested_server_name: route.sni,
            route_name: route.route_name,
            locality: upstream.locality,
            dst_cluster: upstream.dst_cluster,
        }
    }

    fn protocol(&mut self, route: &Route) -> &'static str {
        let choices = match route.kind {
            Kind::Gateway | Kind::NoRoute => GATEWAY_PROTOCOLS,
            _ => SIDECAR_PROTOCOLS,
        };
        self.rng.pick(choices)
    }

    fn set_outcome(&mut self, line: &mut Line, call: &Call, outcome: Outcome) {
        line.bytes_received = self.rng.range(call.received.0, call.received.1);
        let (code, flags, details, sent) = match outcome {
            Outcome::Ok => (call.code, None, "via_upstream", call.sent),
            Outcome::ServerError => (500, None, "via_upstream", (60, 120)),
            Outcome::ConnectFailure => (503, Some("UF,URX"), CONNECT_FAILURE_DETAILS, (190, 190)),
            Outcome::NoHealthy => (503, Some("UH"), "no_healthy_upstream", (19, 19)),
            Outcome::NoRoute => (404, Some("NR"), "route_not_found", (0, 0)),
        };
        line.response_code = code;
        line.response_flags = flags;
        line.response_code_details = Some(details);
        line.bytes_sent = self.rng.range(sent.0, sent.1);
        if outcome == Outcome::ConnectFailure {
            line.upstream_transport_failure_reason = Some(CONNECT_FAILURE_REASON);
        }
    }

    /// Local requests take 1–30 ms, cross-cluster ones 30–60 ms more; failures that
    /// reached no upstream take none, connection failures the time of their retries.
    fn set_timing(&mut self, line: &mut Line, route: &Route, outcome: Outcome) {
        let (low, high) = match (outcome, route.kind) {
            (Outcome::NoHealthy | Outcome::NoRoute, _) => return,
            (Outcome::ConnectFailure, _) => (20, 80),
            (_, Kind::Gateway) => (5, 30),
            (_, Kind::ExternalHttp) => (40, 120),
            (_, Kind::Inbound) => (1, 12),
            _ => (2, 15),
        };
        let detour = match line.locality {
            Locality::CrossCluster => self.rng.range(30, 60),
            _ => 0,
        };
        line.duration_ms = self.rng.range(low, high) + detour;
        if outcome != Outcome::ConnectFailure {
            let overhead = self.rng.range(0, 2).min(line.duration_ms);
            line.upstream_service_time_ms = Some(line.duration_ms - overhead);
        }
    }

    fn set_request_headers(&mut self, line: &mut Line, route: &Route) {
        let client = self.rng.pick(CLIENTS);
        if matches!(route.kind, Kind::Gateway | Kind::NoRoute) {
            line.downstream_remote_address.ip = client;
        }
        line.x_forwarded_for = route.forwarded.then_some(client);
        line.user_agent = Some(self.rng.pick(route.agents));
        line.request_id = Some(uuid(&mut self.rng));
        line.authority = Some(self.rng.pick(route.authorities));
    }
}

/// Whether the next of `seen.0` requests goes away, so that exactly
/// `floor(n * per_million / 1e6)` of the first n do.
fn evenly(seen: &mut (u64, u64), per_million: u32) -> bool {
    let (n, away) = *seen;
    let go = (n + 1) * u64::from(per_million) / 1_000_000 > away;
    *seen = (n + 1, away + u64::from(go));
    go
}

/// A random (version 4) UUID in its 36-character text form.
fn uuid(rng: &mut Rng) -> [u8; 36] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bits = (u128::from(rng.next_u64()) << 64) | u128::from(rng.next_u64());
    let bits = (bits & !(0xf << 76) & !(0x3 << 62)) | (0x4 << 76) | (0x2 << 62);
    let mut text = [b'-'; 36];
    let mut nibble = 0;
    for (at, slot) in text.iter_mut().enumerate() {
        if matches!(at, 8 | 13 | 18 | 23) {
            continue;
        }
        *slot = HEX[((bits >> (124 - 4 * nibble)) & 0xf) as usize];
        nibble += 1;
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simulate::routes::{FRONTEND_GW1, RATINGS};

    fn lines(timeline: Timeline, count: i64) -> Vec<Line> {
        let mut generator = Generator::new(5, timeline);
        (0..count).map(|at| generator.line(at)).collect()
    }

    #[test]
    fn uuid_is_version_4_with_the_rfc_variant() {
        let id = uuid(&mut Rng::new(1));
        let text = std::str::from_utf8(&id).unwrap();
        assert_eq!(text.len(), 36);
        assert_eq!(&text[14..15], "4");
        assert!(matches!(&text[19..20], "8" | "9" | "a" | "b"), "{text}");
        assert_eq!(text.matches('-').count(), 4);
    }

    #[test]
    fn every_route_is_played() {
        let seen: std::collections::BTreeSet<usize> =
            lines(Timeline::default(), 50_000).iter().map(|line| line.route).collect();
        assert_eq!(seen.len(), ROUTES.len());
    }

    #[test]
    fn the_faulty_endpoint_fails_about_30_percent_and_alone() {
        let faulty = ROUTES.iter().find_map(|route| route.faulty).unwrap();
        let all = lines(Timeline::default(), 100_000);
        let failed = |line: &Line| line.response_code >= 500;
        let at_faulty: Vec<&Line> =
            all.iter().filter(|l| l.upstream_host == Some(faulty)).collect();
        let failures = at_faulty.iter().filter(|line| failed(line)).count();
        let share = failures as f64 / at_faulty.len() as f64;
        assert!((0.25..0.35).contains(&share), "{share}");
        assert!(all.iter().filter(|line| failed(line)).all(|l| l.upstream_host == Some(faulty)));
    }

    #[test]
    fn failover_sends_frontend_through_cluster2s_gateway_and_ratings_to_cluster3_pods() {
        let timeline = Timeline::new(0, 10);
        let episodes = timeline.episodes.clone();
        let mut generator = Generator::new(9, timeline);
        let during = |episode: usize| episodes[episode].start_ms + 1_000;
        let hosts = |generator: &mut Generator, route, at| {
            let lines = (0..20_000).map(|_| generator.line(at));
            lines
                .filter(|line| line.route == route)
                .map(|line| line.upstream_host)
                .collect::<Vec<_>>()
        };
        let frontend = hosts(&mut generator, FRONTEND_GW1, during(0));
        assert!(frontend.iter().all(|host| *host == Some("35.200.10.5:15443")));
        let ratings = hosts(&mut generator, RATINGS, during(1));
        assert!(ratings.iter().all(|host| host.is_some_and(|h| h.starts_with("10.128."))));
    }
}
