//! Parser throughput, in lines per second on one core: every text preset, both JSON
//! encodings, and `auto` on a single-format and on a mixed file. Lines are rendered
//! from generated records with the same presets, so every line is valid and varied
//! (user agents, flags, cross-cluster hosts) like a real gateway's.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use meshlog_parsers::LineParser;

mod lines;
use lines::{lines_for, mixed_lines};

const LINES: usize = 10_000;

fn bench_lines(c: &mut Criterion, name: &str, spec: &str, lines: &[String]) {
    let mut group = c.benchmark_group("parse");
    group.throughput(Throughput::Elements(lines.len() as u64));
    let mut parser = LineParser::new(spec).expect("spec compiles");
    group.bench_function(name, |b| {
        b.iter(|| {
            for line in lines {
                let _ = black_box(parser.parse(black_box(line.as_bytes())));
            }
        })
    });
    group.finish();
}

fn presets_bench(c: &mut Criterion) {
    for preset in [
        "istio",
        "istio-1.9",
        "istio-1.8",
        "istio-1.3",
        "istio-1.2",
        "istio-1.1",
        "istio-1.0",
        "envoy",
        "istio-json",
        "envoy-gateway",
    ] {
        bench_lines(c, preset, preset, &lines_for(preset, LINES));
    }
}

fn auto_bench(c: &mut Criterion) {
    bench_lines(c, "auto-istio", "auto", &lines_for("istio", LINES));
    bench_lines(c, "auto-mixed", "auto", &mixed_lines(LINES));
}

criterion_group!(benches, presets_bench, auto_bench);
criterion_main!(benches);
