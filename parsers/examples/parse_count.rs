//! Parses N generated lines of one preset (or `auto` on a mixed file) five times and
//! prints the count and the median and best lines/s: a fixed workload for
//! instruction-count profiling with `valgrind --tool=callgrind`, which is repeatable
//! where wall time is not, and a quick wall-clock check. With `stream` as the third
//! argument the lines go through [`LogStream`] (envelope detection, then the parser),
//! as `meshlog ingest` and `meshlog parse` read them.
//! Usage: `parse_count <preset|auto-mixed> <lines> [stream]`.

#[path = "../benches/lines.rs"]
#[allow(dead_code)]
mod lines;

use meshlog_parsers::LineParser;
use meshlog_parsers::envelope::LinePosition;
use meshlog_parsers::stream::LogStream;

/// One pass over the input: how many lines parsed.
type Pass = Box<dyn FnMut(&[String]) -> usize>;

fn main() {
    let mut args = std::env::args().skip(1);
    let preset = args.next().unwrap_or_else(|| "istio".to_owned());
    let count: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(100_000);
    let through_stream = args.next().as_deref() == Some("stream");
    let (spec, input) = match preset.as_str() {
        "auto-mixed" => ("auto", lines::mixed_lines(count)),
        preset => (preset, lines::lines_for(preset, count)),
    };
    let Ok(parser) = LineParser::new(spec) else {
        eprintln!("unknown preset {spec}");
        std::process::exit(2);
    };
    let mut pass = if through_stream { stream_pass(parser) } else { parser_pass(parser) };
    let mut rates = Vec::new();
    let mut parsed = 0;
    for _ in 0..5 {
        let started = std::time::Instant::now();
        parsed = pass(&input);
        rates.push(input.len() as f64 / started.elapsed().as_secs_f64());
    }
    rates.sort_by(f64::total_cmp);
    println!("{parsed} of {} lines parsed", input.len());
    println!("lines/s over 5 passes: median {:.0}, best {:.0}", rates[2], rates[4]);
}

/// One pass with the parser alone: how many lines parsed.
fn parser_pass(mut parser: LineParser) -> Pass {
    Box::new(move |input| input.iter().filter(|line| parser.parse(line.as_bytes()).is_ok()).count())
}

/// One pass through a [`LogStream`]: how many lines parsed.
fn stream_pass(parser: LineParser) -> Pass {
    let mut stream = LogStream::new(parser);
    Box::new(move |input| {
        let mut parsed = 0;
        let mut at = LinePosition::default();
        for line in input {
            at.line += 1;
            parsed += usize::from(matches!(stream.read(line.as_bytes(), at), Some((_, Ok(_)))));
            at.offset += line.len() as u64 + 1;
        }
        parsed
    })
}
