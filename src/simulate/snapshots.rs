//! Admin snapshots of the simulated proxies: every `snapshot_every_s` seconds of
//! simulated time, each reporting proxy's `/clusters?format=json` as Envoy would have
//! printed it at that moment, consistent with the lines the proxy logged and with the
//! episodes. [`Recorder`] watches the lines as they are generated (in time order) and
//! hands out a [`Snapshot`] for each proxy whenever the clock passes a snapshot time.
//!
//! ```text
//! Line ─ Recorder::observe ─▶ state::ProxyState (layout::EnvoyCluster + counters::HostCounters
//!   per host) ─ at each snapshot time ─ envoy_json::render ─▶ Snapshot { cluster, proxy, at_ms, json }
//! ```
//!
//! What the snapshots show: the upstream hosts of every Envoy cluster the proxy uses
//! (`layout`: local pods at priority 0, remote pods or east-west gateways at priority
//! 1 or 2, original-destination hosts, the fixed clusters); per host, counters equal
//! to the proxy's lines to that host that started before the snapshot (`counters`);
//! `failed_outlier_check` on the failing service's local hosts from the start of an
//! episode's 503 burst to its end, and on any host after 5 consecutive 5xx for 30 s
//! (the faulty `details` pod now and then) (`state`).

mod counters;
mod envoy_json;
pub(super) mod layout;
mod state;

use std::io;

use super::Scenario;
use super::line::Line;
use super::mesh::{CLUSTERS, PROXIES};
use super::timeline::Timeline;
use state::ProxyState;

/// How often `meshlog simulate --out-dir` snapshots each proxy, in simulated seconds.
pub const DEFAULT_SNAPSHOT_EVERY_S: u32 = 30;

/// One proxy's `/clusters?format=json` at one moment of the simulation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// The proxy's cluster (`cluster1`).
    pub cluster: &'static str,
    /// The proxy's pod name, as its log lines' `kubectl logs --prefix` shows it.
    pub proxy: &'static str,
    /// When it was taken, ms since the epoch.
    pub at_ms: i64,
    /// The admin endpoint's answer, pretty-printed as Envoy prints it.
    pub json: String,
}

impl Snapshot {
    /// Whole seconds since the epoch, as the file name carries them.
    pub fn unix_seconds(&self) -> i64 {
        self.at_ms.div_euclid(1000)
    }

    /// `<proxy>.<unix-seconds>.clusters.json`: the proxy is the name up to the first `.`.
    pub fn file_name(&self) -> String {
        format!("{}.{}.clusters.json", self.proxy, self.unix_seconds())
    }

    /// `admin/<cluster>/<file name>`, with `/` on every platform.
    pub fn relative_path(&self) -> String {
        format!("admin/{}/{}", self.cluster, self.file_name())
    }
}

/// What receives each snapshot as it is taken.
pub type OnSnapshot<'a> = &'a mut dyn FnMut(Snapshot) -> io::Result<()>;

/// Follows the generated lines and takes the snapshots.
#[derive(Debug, Clone)]
pub struct Recorder {
    every_ms: i64,
    next_ms: i64,
    end_ms: i64,
    proxies: Vec<ProxyState>,
    /// `Snapshot::relative_path` of each snapshot taken.
    taken: Vec<String>,
}

impl Recorder {
    /// A recorder for `scenario`'s run, snapshotting at `start + every`, `start + 2 ×
    /// every`, … up to the end of the run; `None` when `every_s` is 0.
    pub fn new(scenario: &Scenario, every_s: u32) -> Option<Recorder> {
        if every_s == 0 {
            return None;
        }
        let start_ms = scenario.start_us.div_euclid(1000);
        let timeline = Timeline::of_story(scenario.story, start_ms, scenario.minutes);
        let every_ms = i64::from(every_s) * 1000;
        Some(Recorder {
            every_ms,
            next_ms: start_ms + every_ms,
            end_ms: start_ms + i64::from(scenario.minutes) * 60_000,
            proxies: (0..PROXIES.len()).map(|proxy| ProxyState::new(proxy, &timeline)).collect(),
            taken: Vec::new(),
        })
    }

    /// Takes the snapshots due before `line` starts, then counts it. Lines must come
    /// in start-time order, as the simulator makes them.
    pub fn observe(&mut self, line: &Line, on_snapshot: OnSnapshot<'_>) -> io::Result<()> {
        self.take_until(line.start_ms, on_snapshot)?;
        for proxy in &mut self.proxies {
            proxy.count(line);
        }
        Ok(())
    }

    /// Takes the snapshots left, up to the end of the run.
    pub fn finish(&mut self, on_snapshot: OnSnapshot<'_>) -> io::Result<()> {
        self.take_until(self.end_ms, on_snapshot)
    }

    /// The `Snapshot::relative_path` of every snapshot taken, in order.
    pub fn into_taken(self) -> Vec<String> {
        self.taken
    }

    fn take_until(&mut self, until_ms: i64, on_snapshot: OnSnapshot<'_>) -> io::Result<()> {
        while self.next_ms <= until_ms && self.next_ms <= self.end_ms {
            for proxy in &self.proxies {
                let snapshot = snapshot(proxy, self.next_ms)?;
                self.taken.push(snapshot.relative_path());
                on_snapshot(snapshot)?;
            }
            self.next_ms += self.every_ms;
        }
        Ok(())
    }
}

fn snapshot(proxy: &ProxyState, at_ms: i64) -> io::Result<Snapshot> {
    let spec = &PROXIES[proxy.proxy];
    Ok(Snapshot {
        cluster: CLUSTERS[spec.cluster].name,
        proxy: spec.name,
        at_ms,
        json: envoy_json::render(proxy, at_ms)?,
    })
}

#[cfg(test)]
mod tests;
