//! Checks that `LineParser::parse` never panics on any line with any preset or `auto`,
//! and that rendering an accepted record with the format that read it never panics.
//! Input: byte 0 picks the format (`n % (PRESETS.len() + 1)`: 0 is `auto`, `i` is
//! `PRESETS[i - 1]`); the rest is the line.

#![no_main]

use std::cell::RefCell;
use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use meshlog_parsers::presets::PRESETS;
use meshlog_parsers::{Format, LineParser};

/// Every preset compiled once, to render with; a `Format` is immutable.
static COMPILED: LazyLock<Vec<(&str, Format)>> = LazyLock::new(|| {
    PRESETS
        .iter()
        .map(|(name, format)| (*name, Format::compile(format).expect("presets compile")))
        .collect()
});

thread_local! {
    /// One parser per preset, reused: a fixed-format `LineParser` keeps nothing from one
    /// line to the next. `auto` remembers the last format, so it is built fresh for each
    /// input (compiling every preset is most of a run's time otherwise spent).
    static FIXED: RefCell<Vec<LineParser>> = RefCell::new(
        PRESETS.iter().map(|(name, _)| LineParser::new(name).expect("presets are valid")).collect(),
    );
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, line)) = data.split_first() else {
        return;
    };
    match usize::from(selector) % (PRESETS.len() + 1) {
        0 => check(&mut LineParser::new("auto").expect("auto is valid"), line),
        n => FIXED.with_borrow_mut(|parsers| check(&mut parsers[n - 1], line)),
    }
});

fn check(parser: &mut LineParser, line: &[u8]) {
    let Ok(parsed) = parser.parse(line) else {
        return;
    };
    let format = compiled(parsed.format).expect("a line is read by a preset");
    let _ = format.render(&parsed.record);
}

fn compiled(name: &str) -> Option<&'static Format> {
    COMPILED.iter().find(|(preset, _)| *preset == name).map(|(_, format)| format)
}
