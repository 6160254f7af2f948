//! Checks that reading `istioctl proxy-config endpoints` tables never panics: the input
//! (lossy UTF-8) is read as a table; in an accepted one every issue points at a line of
//! the input and every host row has a cluster and an address.

#![no_main]

use libfuzzer_sys::fuzz_target;
use meshlog_parsers::admin::istioctl;

fuzz_target!(|data: &[u8]| {
    let input = String::from_utf8_lossy(data);
    if let Ok(dump) = istioctl::parse(&input) {
        let lines = input.lines().count();
        assert!(dump.issues.iter().all(|issue| issue.line >= 1 && issue.line <= lines));
        for host in &dump.hosts {
            assert!(!host.envoy_cluster.is_empty() && !host.address.is_empty());
        }
    }
});
