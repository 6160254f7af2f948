//! Checks that reading `/clusters?format=json` (and istioctl's `-o json` list) never
//! panics: the input (lossy UTF-8) is read as a dump; an accepted dump has only rows
//! with a cluster and an address, and excerpts of at most 120 bytes.

#![no_main]

use libfuzzer_sys::fuzz_target;
use meshlog_parsers::admin::clusters_json;

fuzz_target!(|data: &[u8]| {
    let input = String::from_utf8_lossy(data);
    if let Ok(dump) = clusters_json::parse(&input) {
        assert!(dump.issues.iter().all(|issue| issue.line == 0 && issue.excerpt.len() <= 120));
        for host in &dump.hosts {
            assert!(!host.envoy_cluster.is_empty() && !host.address.is_empty());
        }
    }
});
