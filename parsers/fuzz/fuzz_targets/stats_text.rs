//! Checks that `admin::stats_text::parse` never panics on any input (lossy UTF-8), that
//! every issue points at a line of the input and quotes at most 120 bytes, and that
//! every histogram row has a histogram-shaped name.

#![no_main]

use libfuzzer_sys::fuzz_target;
use meshlog_parsers::admin::{StatKind, stats_text};

fuzz_target!(|data: &[u8]| {
    let input = String::from_utf8_lossy(data);
    let dump = stats_text::parse(&input);
    let lines = input.lines().count();
    for issue in &dump.issues {
        assert!(issue.line >= 1 && issue.line <= lines, "{issue:?} of {lines} lines");
        assert!(issue.excerpt.len() <= 120);
    }
    for sample in &dump.samples {
        assert!(!sample.stat.is_empty() || sample.envoy_cluster.is_none());
        if sample.kind == StatKind::Histogram {
            assert!(sample.stat.ends_with('}') || sample.stat.ends_with("_count"), "{sample:?}");
        }
        if sample.kind == StatKind::Text {
            assert!(sample.value.is_none() && sample.text.is_some());
        }
    }
});
