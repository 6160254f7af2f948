//! Checks that `admin::prometheus::parse` never panics on any input (lossy UTF-8), that
//! issues come in line order, point at a line and quote at most 120 bytes, and that
//! every sample line (not blank, not `#`) gives exactly one sample or at least one issue.

#![no_main]

use libfuzzer_sys::fuzz_target;
use meshlog_parsers::admin::prometheus;

fuzz_target!(|data: &[u8]| {
    let input = String::from_utf8_lossy(data);
    let dump = prometheus::parse(&input);
    let sample_lines: Vec<usize> = input
        .lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty() && !line.trim().starts_with('#'))
        .map(|(index, _)| index + 1)
        .collect();
    let lines = input.lines().count();
    let mut issue_lines: Vec<usize> = dump.issues.iter().map(|issue| issue.line).collect();
    assert!(issue_lines.is_sorted());
    assert!(dump.issues.iter().all(|issue| issue.line >= 1 && issue.line <= lines));
    assert!(dump.issues.iter().all(|issue| issue.excerpt.len() <= 120));
    issue_lines.dedup();
    let failed = issue_lines.iter().filter(|line| sample_lines.binary_search(line).is_ok()).count();
    assert_eq!(dump.samples.len() + failed, sample_lines.len());
});
