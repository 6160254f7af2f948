//! Where `tracing` events go: stderr, one line each, in the form of meshlog's errors
//! (`meshlog: warning: mesh.toml:3: …`), warnings and errors only. Library code
//! reports through `tracing::warn!` and never prints; the binary installs this once.

use std::fmt;

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// Sends events of `level` and above to stderr; a second call changes nothing.
pub fn init(level: Level) {
    let subscriber = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(level)
        .event_format(Plain)
        .finish();
    // Only fails when a subscriber is already installed (a test harness): keep it.
    let _ = tracing::subscriber::set_global_default(subscriber);
}

/// `meshlog: warning: <message> <fields>`.
struct Plain;

impl<S, N> FormatEvent<S, N> for Plain
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let level = match *event.metadata().level() {
            Level::ERROR => "error",
            Level::WARN => "warning",
            Level::INFO => "info",
            Level::DEBUG => "debug",
            Level::TRACE => "trace",
        };
        write!(writer, "meshlog: {level}: ")?;
        ctx.field_format().format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
}
