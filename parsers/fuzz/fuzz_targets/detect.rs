//! Checks that admin content detection never panics on any head of bytes (cut anywhere,
//! not UTF-8), and that a detected kind's name reads back as that kind.

#![no_main]

use libfuzzer_sys::fuzz_target;
use meshlog_parsers::admin::{AdminKind, detect};

fuzz_target!(|data: &[u8]| {
    if let Some(kind) = detect(data) {
        assert_eq!(kind.as_str().parse::<AdminKind>().ok(), Some(kind));
    }
});
