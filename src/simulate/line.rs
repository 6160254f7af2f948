//! [`Line`]: the values of one access-log line the simulator decided on, before it is
//! written in a format. Everything borrows from the static mesh tables, so building a
//! line allocates nothing.

/// An address with its port (`10.112.0.50:41008`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Addr {
    pub ip: &'static str,
    pub port: u16,
}

/// Where a line's upstream is, as meshlog should tag it (the `locality` column); the
/// discriminants index per-locality counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Locality {
    Local,
    CrossCluster,
    External,
    /// No upstream host.
    Unknown,
}

/// One access-log line's values; `None` is logged as `-` (or `null` in JSON).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// Index in `ROUTES` of the route that produced it.
    pub route: usize,
    /// Index in `PROXIES` of the proxy that logged it.
    pub proxy: usize,
    /// `%START_TIME%`, milliseconds since the epoch (the default format's precision).
    pub start_ms: i64,
    pub method: Option<&'static str>,
    pub path: Option<&'static str>,
    pub protocol: Option<&'static str>,
    /// 0 for TCP.
    pub response_code: u16,
    pub response_flags: Option<&'static str>,
    pub response_code_details: Option<&'static str>,
    pub upstream_transport_failure_reason: Option<&'static str>,
    pub bytes_received: u64,
    pub bytes_sent: u64,
    pub duration_ms: u64,
    pub upstream_service_time_ms: Option<u64>,
    pub x_forwarded_for: Option<&'static str>,
    pub user_agent: Option<&'static str>,
    /// A UUID v4, as ASCII.
    pub request_id: Option<[u8; 36]>,
    pub authority: Option<&'static str>,
    pub upstream_host: Option<&'static str>,
    pub upstream_cluster: Option<&'static str>,
    pub upstream_local_address: Option<Addr>,
    pub downstream_local_address: &'static str,
    pub downstream_remote_address: Addr,
    pub requested_server_name: Option<&'static str>,
    pub route_name: Option<&'static str>,
    /// What meshlog should make of the upstream host.
    pub locality: Locality,
    /// The cluster that served it, when one did.
    pub dst_cluster: Option<usize>,
}
