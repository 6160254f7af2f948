//! Parses N generated lines of one preset (or `auto` on a mixed file) five times and
//! prints the count and the median and best lines/s: a fixed workload for
//! instruction-count profiling with `valgrind --tool=callgrind`, which is repeatable
//! where wall time is not, and a quick wall-clock check.
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
    let mut rates = Vec::new();
    let mut parsed = 0;
    for _ in 0..5 {
        let started = std::time::Instant::now();
        parsed = input.iter().filter(|line| parser.parse(line.as_bytes()).is_ok()).count();
        rates.push(input.len() as f64 / started.elapsed().as_secs_f64());
    }
    rates.sort_by(f64::total_cmp);
    println!("{parsed} of {} lines parsed", input.len());
    println!("lines/s over 5 passes: median {:.0}, best {:.0}", rates[2], rates[4]);
}
