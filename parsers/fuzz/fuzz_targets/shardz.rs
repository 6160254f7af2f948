//! Checks that reading istiod's `/debug/endpointShardz` never panics: the input (lossy
//! UTF-8) is read as a dump; an accepted dump has only endpoints with a service and an
//! address.

#![no_main]

use libfuzzer_sys::fuzz_target;
use meshlog_parsers::admin::shardz;

fuzz_target!(|data: &[u8]| {
    let input = String::from_utf8_lossy(data);
    if let Ok(dump) = shardz::parse(&input) {
        assert!(dump.endpoints.iter().all(|endpoint| !endpoint.address.is_empty()));
        assert!(dump.issues.iter().all(|issue| issue.excerpt.len() <= 120));
    }
});
