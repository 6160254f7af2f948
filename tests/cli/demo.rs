//! `meshlog demo`, the README's first command: it simulates the mesh, ingests the logs
//! and the proxies' `/clusters` snapshots, and reports the failovers next to the
//! simulated ones, the worst endpoints, the cross-cluster share and the evidence.

use crate::support::*;

#[test]
fn the_demo_finds_both_failovers_and_shows_their_evidence() {
    let scratch = scratch("demo");
    let dir = scratch.join("meshlog-demo");
    let report = meshlog_ok(&["demo", "--dir", dir.to_str().unwrap()]);
    assert!(report.contains("Failovers: 2 simulated, 2 found"), "{report}");
    assert!(!report.contains("MISSED") && !report.contains("found but not simulated"), "{report}");
    let evidence = report.split("Why:").nth(1).expect("an evidence section");
    for service in ["frontend.shop.svc.cluster.local", "ratings.default.svc.cluster.local"] {
        for what in
            ["local host failing checks", "remote host taking traffic", "local host recovered"]
        {
            assert!(
                evidence.lines().any(|line| line.contains(service) && line.contains(what)),
                "{service}: no '{what}' in {evidence}"
            );
        }
    }
    let again = meshlog(&["demo", "--dir", dir.to_str().unwrap()]);
    assert!(
        again.status.success(),
        "a second demo run reuses its own directory: {}",
        stderr(&again)
    );
}
