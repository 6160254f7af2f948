//! Checks that `Format::compile` never panics on any format string, and that a format
//! that compiles never panics parsing any line nor rendering a record it accepted.
//! Input: the format string (lossy UTF-8), a 0x00 byte, then the line; without a 0x00
//! the whole input is the format and the line is empty.

#![no_main]

use libfuzzer_sys::fuzz_target;
use meshlog_parsers::Format;

fuzz_target!(|data: &[u8]| {
    let (format, line) = match data.iter().position(|&byte| byte == 0) {
        Some(nul) => (&data[..nul], &data[nul + 1..]),
        None => (data, &[][..]),
    };
    let Ok(format) = Format::compile(&String::from_utf8_lossy(format)) else {
        return;
    };
    if let Ok(record) = format.parse(line) {
        let _ = format.render(&record);
    }
});
