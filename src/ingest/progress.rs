//! The ingest progress bar: bytes, lines per second and ETA, drawn on stderr only
//! when stderr is a terminal; updates are throttled so that the hot loop pays
//! almost nothing for it.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Lines between two updates of the bar.
const UPDATE_EVERY_LINES: u64 = 16 * 1024;

/// A progress bar, or nothing.
pub struct Progress {
    bar: Option<ProgressBar>,
    started: std::time::Instant,
    next_update: u64,
}

impl Progress {
    /// A bar over `total_bytes`, when `wanted` and stderr is a terminal.
    pub fn new(wanted: bool, total_bytes: u64) -> Progress {
        let bar = (wanted && std::io::stderr().is_terminal()).then(|| bar(total_bytes));
        Progress { bar, started: std::time::Instant::now(), next_update: 0 }
    }

    /// Sets the bytes and lines read so far.
    pub fn update(&mut self, bytes: u64, lines: u64) {
        if lines < self.next_update {
            return;
        }
        self.next_update = lines + UPDATE_EVERY_LINES;
        let Some(bar) = &self.bar else { return };
        bar.set_position(bytes);
        let seconds = self.started.elapsed().as_secs_f64().max(1e-3);
        bar.set_message(format!("{lines} lines, {:.0} lines/s", lines as f64 / seconds));
    }

    /// Clears the bar.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

fn bar(total_bytes: u64) -> ProgressBar {
    let style = ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} {msg} ETA {eta}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    let bar = ProgressBar::with_draw_target(Some(total_bytes), ProgressDrawTarget::stderr());
    bar.set_style(style);
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}
