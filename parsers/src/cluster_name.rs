//! Envoy cluster names split into their Istio parts. STUB: to be implemented.

/// Which way traffic goes through the cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    Outbound,
    Inbound,
    Other,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Outbound => "outbound",
            Direction::Inbound => "inbound",
            Direction::Other => "other",
        }
    }
}

/// An upstream cluster name split into parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClusterName<'a> {
    /// The name without Istio 1.23's trailing `;`.
    pub name: &'a str,
    pub direction: Direction,
    pub port: Option<u16>,
    pub subset: Option<&'a str>,
    pub service: Option<&'a str>,
}

impl<'a> ClusterName<'a> {
    pub fn parse(name: &'a str) -> ClusterName<'a> {
        ClusterName { name, direction: Direction::Other, port: None, subset: None, service: None }
    }
}
