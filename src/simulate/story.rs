//! What happens in a simulated run (`meshlog simulate --scenario`): the demo's two
//! failovers, or one of the shapes the failover detector meets on real meshes, each
//! with its truth.
//!
//! - `demo`: locality load balancing; `frontend` and `ratings` of cluster1 fail over
//!   after a burst of 503 `UH` (the local endpoints ejected).
//! - `split`: no locality load balancing, so Istio spreads each service across every
//!   cluster's endpoints: `frontend` (from cluster1's ingress gateway, to cluster2
//!   through its east-west gateway), `reviews` and `ratings` (to cluster3's pods) send
//!   `--split` percent (default 50) away, steadily, and nothing fails over.
//! - `scale-to-zero`: `frontend`'s local deployment is scaled to zero: its pods leave
//!   the endpoint list (and the `/clusters` snapshots) and the traffic goes to cluster2
//!   at once, without errors.
//! - `outlier-ejection`: `frontend`'s local pods answer 5xx for ten seconds, outlier
//!   detection ejects them, and the traffic goes to cluster2.
//! - `gateway-failure`: `frontend` has no local deployment and is served by cluster2
//!   through its east-west gateway; the gateway fails (503 `UF,URX` for ten seconds,
//!   then ejected) and the traffic goes on to cluster3's pods.
//! - `split-collapse`: as `split`, then `frontend`'s local pods fail and are ejected:
//!   the local half collapses and everything goes to cluster2.
//!
//! Noise: `random` (the default) draws each request's destination, `none` spreads the
//! split exactly (round robin).

use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// How a split's destinations vary from request to request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Noise {
    /// Exactly the split, spread evenly.
    None,
    /// Each request drawn.
    #[default]
    Random,
}

impl FromStr for Noise {
    type Err = UnknownName;

    fn from_str(name: &str) -> Result<Noise, UnknownName> {
        match name {
            "none" => Ok(Noise::None),
            "random" => Ok(Noise::Random),
            other => {
                Err(UnknownName { what: "noise", name: other.to_owned(), known: "none, random" })
            }
        }
    }
}

/// What fails in a failover episode, and so what precedes it and what the proxies'
/// snapshots show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Cause {
    /// The demo's: 503 `UH` for 15 s, the local endpoints ejected.
    NoHealthyUpstream,
    /// The local pods leave the endpoint list: no errors.
    ScaleToZero,
    /// The local pods answer 5xx, then are ejected.
    OutlierEjection,
    /// The east-west gateway serving the service fails (503 `UF,URX`), then is ejected.
    GatewayFailure,
}

impl Cause {
    /// How long the errors before the failover last, ms.
    pub fn burst_ms(self) -> i64 {
        match self {
            Cause::NoHealthyUpstream => 15_000,
            Cause::ScaleToZero => 0,
            Cause::OutlierEjection | Cause::GatewayFailure => 10_000,
        }
    }
}

/// What happens in the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Story {
    #[default]
    Demo,
    Split {
        remote_percent: u8,
        noise: Noise,
    },
    ScaleToZero,
    OutlierEjection,
    GatewayFailure,
    SplitCollapse {
        remote_percent: u8,
        noise: Noise,
    },
}

/// A name the simulator does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {name:?}: use one of {known}")]
pub struct UnknownName {
    pub what: &'static str,
    pub name: String,
    pub known: &'static str,
}

/// The names of `--scenario`.
pub const STORY_NAMES: &str =
    "demo, split, scale-to-zero, outlier-ejection, gateway-failure, split-collapse";

impl Story {
    /// The story called `name`; a split sends `remote_percent` away with `noise`.
    pub fn named(name: &str, remote_percent: u8, noise: Noise) -> Result<Story, UnknownName> {
        let remote_percent = remote_percent.min(100);
        Ok(match name {
            "demo" => Story::Demo,
            "split" => Story::Split { remote_percent, noise },
            "scale-to-zero" => Story::ScaleToZero,
            "outlier-ejection" => Story::OutlierEjection,
            "gateway-failure" => Story::GatewayFailure,
            "split-collapse" => Story::SplitCollapse { remote_percent, noise },
            other => {
                let name = other.to_owned();
                return Err(UnknownName { what: "scenario", name, known: STORY_NAMES });
            }
        })
    }

    /// The share of requests, per million, that routes with endpoints in other clusters
    /// send away in normal times, and with which noise; `None`: each route's own spill.
    pub fn split(self) -> Option<(u32, Noise)> {
        match self {
            Story::Split { remote_percent, noise }
            | Story::SplitCollapse { remote_percent, noise } => {
                Some((u32::from(remote_percent) * 10_000, noise))
            }
            _ => None,
        }
    }

    /// Whether `frontend` from cluster1's gateway has no local deployment and is served
    /// by cluster2 in normal times.
    pub fn frontend_served_by_cluster2(self) -> bool {
        self == Story::GatewayFailure
    }
}
