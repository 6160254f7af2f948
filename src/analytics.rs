//! Analytics computed while ingesting: the streaming failover detector and the
//! per-minute rollups of `requests`.

pub mod failover;
pub mod rollup;
