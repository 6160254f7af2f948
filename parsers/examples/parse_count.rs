//! Parses N generated lines of one preset (or `auto` on a mixed file) and prints the
//! count: a fixed workload for instruction-count profiling with
//! `valgrind --tool=callgrind`, which is repeatable where wall time is not.
//! Usage: `parse_count <preset|auto-mixed> <lines>`.

#[path = "../benches/lines.rs"]
#[allow(dead_code)]
mod lines;

use meshlog_parsers::LineParser;

fn main() {
    let mut args = std::env::args().skip(1);
    let preset = args.next().unwrap_or_else(|| "istio".to_owned());
    let count: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(100_000);
    let (spec, input) = match preset.as_str() {
        "auto-mixed" => ("auto", lines::mixed_lines(count)),
        preset => (preset, lines::lines_for(preset, count)),
    };
    let Ok(mut parser) = LineParser::new(spec) else {
        eprintln!("unknown preset {spec}");
        std::process::exit(2);
    };
    let parsed = input.iter().filter(|line| parser.parse(line.as_bytes()).is_ok()).count();
    println!("{parsed} of {} lines parsed", input.len());
}
