//! Analytics computed while ingesting: the streaming failover detector.

pub mod failover;
