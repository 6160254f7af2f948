//! Where lines go: each proxy buffers its lines and flushes them on its own schedule
//! (every 0.2–3 s of simulated time, or when its buffer is full), as proxies whose
//! logs are collected independently do, so the merged output interleaves proxies and
//! runs slightly backwards in time at every flush. Memory stays bounded whatever the
//! run's length. This is also where a line is optionally prefixed like
//! `kubectl logs --prefix` and where the chosen few are corrupted.

use std::io::{self, Write};

use super::Scenario;
use super::line::Line;
use super::mesh::{CLUSTERS, PROXIES};
use super::render::Renderer;
use super::rng::Rng;
use super::truth::Tally;

/// A proxy flushes at least this often (simulated time)...
const MIN_FLUSH_MS: u64 = 200;
/// ...and at most this late.
const MAX_FLUSH_MS: u64 = 3_000;
/// A buffer this full is flushed at once, whatever the schedule.
const MAX_BUFFER_BYTES: usize = 256 * 1024;

/// The writer a proxy's lines go to.
pub trait Sink {
    fn writer(&mut self, cluster: usize) -> &mut dyn Write;
}

/// Every cluster's lines into one stream.
pub struct Merged<'w, W: Write>(pub &'w mut W);

impl<W: Write> Sink for Merged<'_, W> {
    fn writer(&mut self, _cluster: usize) -> &mut dyn Write {
        self.0
    }
}

/// One stream per cluster, in `CLUSTERS` order.
pub struct PerCluster<'w, W: Write>(pub &'w mut [W]);

impl<W: Write> Sink for PerCluster<'_, W> {
    fn writer(&mut self, cluster: usize) -> &mut dyn Write {
        &mut self.0[cluster]
    }
}

/// One proxy's unflushed lines.
struct Pending {
    buf: Vec<u8>,
    next_flush_ms: i64,
}

/// Renders lines into their proxy's buffer and flushes buffers when due.
pub struct Output<'s> {
    sink: &'s mut dyn Sink,
    pending: Vec<Pending>,
    renderer: Renderer,
    kubectl_prefix: bool,
    malformed_per_million: u32,
    /// Chance for the flush schedule, apart from the lines' own.
    schedule: Rng,
    /// Chance for corruption, so a malformed share never changes the other lines.
    corruption: Rng,
}

impl<'s> Output<'s> {
    pub fn new(scenario: &Scenario, sink: &'s mut dyn Sink) -> Output<'s> {
        let mut schedule = Rng::new(scenario.seed ^ 0x5c4e_d01e);
        let start_ms = scenario.start_us.div_euclid(1000);
        let pending = PROXIES
            .iter()
            .map(|_| Pending {
                buf: Vec::new(),
                next_flush_ms: start_ms + flush_delay(&mut schedule),
            })
            .collect();
        Output {
            sink,
            pending,
            renderer: Renderer::new(scenario.format),
            kubectl_prefix: scenario.kubectl_prefix,
            malformed_per_million: scenario.malformed_per_million,
            schedule,
            corruption: Rng::new(scenario.seed ^ 0xbad_11e5),
        }
    }

    /// Writes `line` (or a corrupted form of it) and counts it.
    pub fn write(&mut self, line: &Line, tally: &mut Tally) -> io::Result<()> {
        let buf = &mut self.pending[line.proxy].buf;
        if self.kubectl_prefix {
            push_prefix(buf, line.proxy);
        }
        let start = buf.len();
        self.renderer.write(line, buf);
        if self.corruption.per_million(self.malformed_per_million) {
            self.corrupt(line, start);
            tally.count_malformed();
        } else {
            tally.count(line);
        }
        self.flush_due(line.start_ms)
    }

    /// Replaces `line`, just written at `start` of its proxy's buffer (after any
    /// prefix), with a truncated copy (two times in three) or with garbage; either way
    /// it still ends with a newline.
    fn corrupt(&mut self, line: &Line, start: usize) {
        let buf = &mut self.pending[line.proxy].buf;
        let rng = &mut self.corruption;
        let body = buf.len().saturating_sub(start + 1);
        if rng.below(3) < 2 {
            let keep = rng.range(16, (body * 6 / 10) as u64) as usize;
            buf.truncate(start + keep.min(body));
            buf.push(b'\n');
            return;
        }
        buf.truncate(start);
        let garbage = rng.pick(GARBAGE);
        if garbage.starts_with('\t') {
            self.renderer.push_time(buf, line.start_ms);
        }
        buf.extend_from_slice(garbage.as_bytes());
        buf.push(b'\n');
    }

    /// Flushes every buffer that is due at `now_ms` or too full.
    fn flush_due(&mut self, now_ms: i64) -> io::Result<()> {
        for (proxy, pending) in self.pending.iter_mut().enumerate() {
            if now_ms < pending.next_flush_ms && pending.buf.len() < MAX_BUFFER_BYTES {
                continue;
            }
            self.sink.writer(PROXIES[proxy].cluster).write_all(&pending.buf)?;
            pending.buf.clear();
            pending.next_flush_ms = now_ms + flush_delay(&mut self.schedule);
        }
        Ok(())
    }

    /// Flushes what is left, proxy by proxy, then the writers.
    pub fn finish(self) -> io::Result<()> {
        for (proxy, pending) in self.pending.iter().enumerate() {
            self.sink.writer(PROXIES[proxy].cluster).write_all(&pending.buf)?;
        }
        for cluster in 0..CLUSTERS.len() {
            self.sink.writer(cluster).flush()?;
        }
        Ok(())
    }
}

fn flush_delay(rng: &mut Rng) -> i64 {
    rng.range(MIN_FLUSH_MS, MAX_FLUSH_MS) as i64
}

/// `kubectl logs --prefix`: `[pod/NAME/istio-proxy] `.
fn push_prefix(buf: &mut Vec<u8>, proxy: usize) {
    buf.extend_from_slice(b"[pod/");
    buf.extend_from_slice(PROXIES[proxy].name.as_bytes());
    buf.extend_from_slice(b"/istio-proxy] ");
}

/// What a collector sometimes delivers instead of an access-log line: the proxy's own
/// logs (a time goes in front of those starting with a tab) and an application's.
const GARBAGE: &[&str] = &[
    "\twarning\tenvoy config external/envoy/source/extensions/config_subscription/grpc/grpc_stream.h:152\tStreamAggregatedResources gRPC config stream to xds-grpc closed since 41s ago: 14, connection reset\tthread=21",
    "\terror\tenvoy upstream external/envoy/source/common/upstream/health_checker_impl.cc:344\thealth check failure\tthread=17",
    "upstream connect error or disconnect/reset before headers. reset reason: connection termination",
    "\x1b[1;31mpanic: runtime error: invalid memory address or nil pointer dereference\x1b[0m",
];
