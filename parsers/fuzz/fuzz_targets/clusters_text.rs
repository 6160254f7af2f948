//! Checks that reading Envoy `/clusters` text never panics: the input (lossy UTF-8) is
//! read as a dump; every issue points at a line of the input with an excerpt of at most
//! 120 bytes, and every host row has a cluster and an address.

#![no_main]

use libfuzzer_sys::fuzz_target;
use meshlog_parsers::admin::clusters_text;

fuzz_target!(|data: &[u8]| {
    let input = String::from_utf8_lossy(data);
    let dump = clusters_text::parse(&input);
    let lines = input.lines().count();
    for issue in &dump.issues {
        assert!(issue.line >= 1 && issue.line <= lines, "issue line {} of {lines}", issue.line);
        assert!(issue.excerpt.len() <= 120);
    }
    for host in &dump.hosts {
        assert!(!host.envoy_cluster.is_empty() && !host.address.is_empty());
    }
});
