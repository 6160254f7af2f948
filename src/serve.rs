//! `meshlog serve`: one long-running process, one pipeline, every source. The
//! sources ([`sources`]: the HTTP sink, gRPC (OTLP and Envoy's access-log
//! service), followed files, admin scrape targets) are one closed set, each built from its configuration and run
//! until the stop signal. Pushed batches ([`intake`]) go through the write-ahead
//! log ([`sink`], [`crate::storage::wal`]) into the in-memory rows ([`fresh`]), which the flusher
//! hands to the pipeline when they are many or old enough; followed files
//! ([`follow`]) add their reads to the same rows, checkpointed by file position; the
//! scrape targets send their snapshots to the same pipeline. Queries ([`http`])
//! read the committed files and the rows in memory. On start the WAL's entries that
//! no commit holds are replayed; on SIGTERM or Ctrl-C the server stops taking
//! requests, finishes those under way, hands everything over, commits and exits.

pub mod als;
pub mod batches;
pub mod body;
pub mod compact;
mod follow;
pub mod fresh;
pub mod grpc;
pub mod http;
pub mod intake;
mod kafka;
pub mod otlp;
pub mod parse;
pub mod pg;
pub mod sink;
pub mod sources;

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use tokio::sync::{Semaphore, watch};

use crate::config::Settings;
use crate::config::scrape::ScrapeTarget;
use crate::config::server::ServeSettings;
use crate::metrics::Metrics;
use crate::pipeline::{
    BatchContent, Origin, Pipeline, PipelineError, PipelineInput, PipelineOptions, PipelineReport,
    SourceBatch,
};
use crate::query::limits::QueryLimits;
use crate::query::visible_files::VisibleFiles;
use crate::scrape::ScrapeError;
use crate::storage::staging::StateKind;
use crate::storage::wal::{Wal, WalError};
use batches::{BatchOutcome, RememberedBatches};
use fresh::{Fresh, FreshPart, Handover};
use http::AppState;
use sink::{Sink, SinkShared};
use sources::{SourceConfig, SourceContext};

/// Rows held in memory, in `flush_rows`: one hand-over being committed, one
/// waiting; past that, the sink answers 503 and followed files wait.
const FRESH_ROWS_PER_FLUSH: usize = 2;

/// Threads that parse request bodies (and read files for queries), at most.
const BLOCKING_THREADS: usize = 8;

/// Why the server stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    #[error(transparent)]
    Wal(#[from] WalError),
    #[error(transparent)]
    Scrape(#[from] ScrapeError),
    #[error("cannot listen on {address}")]
    Listen {
        address: std::net::SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("the gRPC services on {address} failed")]
    Grpc {
        address: std::net::SocketAddr,
        #[source]
        source: tonic::transport::Error,
    },
    #[error("cannot start {what}")]
    Start {
        what: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("the saved batch ids (_meshlog/sink-batches-*.json) do not read")]
    Batches(#[source] serde_json::Error),
    #[error("the {0} thread panicked")]
    Panicked(&'static str),
    #[error(transparent)]
    Follow(#[from] follow::FollowError),
    #[error(transparent)]
    Kafka(Box<kafka::KafkaError>),
    #[error("cannot set up the metrics")]
    Metrics(#[from] prometheus::Error),
    #[error("cannot start the PostgreSQL protocol: {what}")]
    Postgres {
        what: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// What `meshlog serve` is told.
pub struct ServeOptions {
    pub settings: Settings,
    pub serve: ServeSettings,
    pub scrape: Vec<ScrapeTarget>,
    pub query_limits: QueryLimits,
}

/// What a server did, once stopped.
#[derive(Debug)]
pub struct ServeReport {
    pub pipeline: PipelineReport,
    pub replayed: usize,
}

/// Runs the server until SIGTERM or Ctrl-C.
pub fn run(options: ServeOptions) -> Result<ServeReport, ServeError> {
    let data_dir = options.settings.data_dir.clone();
    let fresh = Arc::new(Fresh::new(data_dir.clone()));
    let metrics = Arc::new(Metrics::new()?);
    let pipeline_options = PipelineOptions {
        data_dir: data_dir.clone(),
        topology: options.settings.topology.clone(),
        failover: options.settings.failover.clone(),
        queue_depth: 2,
        observer: Some(fresh.clone()),
        metrics: Some(metrics.clone()),
    };
    let (mut pipeline, input) = Pipeline::open(&pipeline_options)?;
    if let Some(summary) = pipeline.take_recovery().summary() {
        tracing::warn!("{summary}");
    }
    let wal_committed = pipeline.log().last_wal_seq();
    let last_commit = pipeline.log().records().last().map(|record| record.seq);
    fresh.start_at(wal_committed, last_commit);
    let remembered = remembered_batches(&pipeline, options.serve.remembered_batches)?;
    let (wal, replay) = Wal::open(&data_dir, wal_committed)?;
    let replayed = replay.len();
    let replayed_files: Vec<_> = replay.iter().map(|entry| entry.meta.positions.clone()).collect();
    for entry in replay {
        if let Some(id) = entry.meta.batch_id {
            let outcome =
                BatchOutcome { accepted: entry.meta.accepted, rejected: entry.meta.rejected };
            remembered
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .insert(id, outcome);
        }
        let part = FreshPart {
            wal_seq: entry.seq,
            requests: entry.requests,
            rejects: entry.rejects,
            positions: entry.meta.positions,
        };
        fresh.push(part);
    }
    if replayed > 0 {
        tracing::info!(entries = replayed, "replayed the write-ahead log");
    }
    let follow_start = follow::StartPositions::of(pipeline.log(), replayed_files);
    let committing = std::thread::Builder::new()
        .name("pipeline".into())
        .spawn(move || pipeline.run())
        .map_err(|source| ServeError::Start { what: "the pipeline thread", source })?;
    let max_fresh_rows = options.serve.flush_rows.saturating_mul(FRESH_ROWS_PER_FLUSH);
    // Told when the WAL's writer or the pipeline fails: the server then stops.
    let failed = Arc::new(tokio::sync::Notify::new());
    let shared = SinkShared {
        fresh: fresh.clone(),
        batches: remembered.clone(),
        max_fresh_rows,
        metrics: metrics.clone(),
        failed: failed.clone(),
    };
    let (sink, writer) = Sink::start(wal, shared)
        .map_err(|source| ServeError::Start { what: "the WAL thread", source })?;
    let compactor = compact::Compactor {
        data_dir: data_dir.clone(),
        input: input.clone(),
        interval: options.serve.compact_interval,
        min_files: options.serve.compact_min_files,
        stop: Arc::new(std::sync::atomic::AtomicBool::new(false)),
        metrics: Some(metrics.clone()),
    };
    let stop_compacting = compactor.stop.clone();
    let flusher = Flusher {
        fresh: fresh.clone(),
        input: input.clone(),
        remembered,
        options: &options,
        failed: failed.clone(),
    };
    let served = std::thread::scope(|scope| {
        let flushing = scope.spawn(|| flusher.run());
        let compacting = scope.spawn(|| compactor.run());
        let state = AppState {
            settings: options.serve.clone(),
            topology: options.settings.topology.clone(),
            default_cluster: options.settings.source_cluster.clone(),
            sink,
            fresh: fresh.clone(),
            data_dir: data_dir.clone(),
            query_limits: options.query_limits,
            visible_files: VisibleFiles::default(),
            inflight: Arc::new(Semaphore::new(
                options.serve.max_inflight_bytes.min(Semaphore::MAX_PERMITS),
            )),
            ready: false.into(),
            metrics: metrics.clone(),
            queue: input.watch(),
        };
        let served = serve_until_stopped(&options, state, input, follow_start, &failed);
        // The HTTP side is done: the WAL thread ends once its queue is empty, then
        // the flusher hands everything over and lets go of the pipeline.
        let written = writer.join().map_err(|_| ServeError::Panicked("WAL"));
        fresh.stop();
        let flushed = flushing.join().map_err(|_| ServeError::Panicked("flusher"));
        stop_compacting.store(true, Ordering::Release);
        let compacted = compacting.join().map_err(|_| ServeError::Panicked("compactor"));
        served?;
        written??;
        compacted?;
        flushed?
    });
    let pipeline = committing.join().map_err(|_| ServeError::Panicked("pipeline"))?;
    served?;
    Ok(ServeReport { pipeline: pipeline?, replayed })
}

fn remembered_batches(
    pipeline: &Pipeline,
    capacity: usize,
) -> Result<Arc<Mutex<RememberedBatches>>, ServeError> {
    let remembered = match pipeline.state(StateKind::SinkBatches)? {
        Some(bytes) => RememberedBatches::decode(&bytes, capacity).map_err(ServeError::Batches)?,
        None => RememberedBatches::new(capacity),
    };
    Ok(Arc::new(Mutex::new(remembered)))
}

/// Runs every source on a runtime until a stop signal; returns once each has
/// finished what it held (the HTTP sink: requests under way, up to the deadline).
fn serve_until_stopped(
    options: &ServeOptions,
    state: AppState,
    input: PipelineInput,
    follow_start: follow::StartPositions,
    failed: &tokio::sync::Notify,
) -> Result<(), ServeError> {
    // Parsing runs on the blocking threads: a few of them keep both cores busy, and
    // fewer threads mean fewer allocator arenas holding memory.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(BLOCKING_THREADS)
        .build()
        .map_err(|source| ServeError::Start { what: "the async runtime", source })?;
    runtime.block_on(async move {
        let (stop_sender, stop) = watch::channel(false);
        let state = Arc::new(state);
        let context = SourceContext {
            settings: &options.settings,
            app: state.clone(),
            input,
            fresh: state.fresh.clone(),
            max_fresh_rows: options.serve.flush_rows.saturating_mul(FRESH_ROWS_PER_FLUSH),
            positions: &follow_start,
            stop,
        };
        let mut built = Vec::new();
        for source in SourceConfig::all(&options.serve, &options.scrape) {
            built.push(source.build(&context).await?);
        }
        // The sources hold the pipeline's queue from here on.
        let stop = context.stop.clone();
        drop(context);
        let running: Vec<_> = built.into_iter().map(|source| source.spawn(&stop)).collect();
        state.ready.store(true, Ordering::Release);
        let signal = tokio::select! {
            signal = crate::shutdown::stop_signal() => signal,
            () = failed.notified() => "the write-ahead log or the pipeline failed",
        };
        tracing::info!(signal, "stopping: finishing requests under way, then committing");
        state.ready.store(false, Ordering::Release);
        let _ = stop_sender.send(true);
        for source in running {
            source.finish().await?;
        }
        Ok(())
    })
}

/// Hands the in-memory rows to the pipeline when they are many or old enough.
struct Flusher<'o> {
    fresh: Arc<Fresh>,
    input: PipelineInput,
    remembered: Arc<Mutex<RememberedBatches>>,
    options: &'o ServeOptions,
    /// Told if the pipeline stops taking batches (it failed).
    failed: Arc<tokio::sync::Notify>,
}

impl Flusher<'_> {
    fn run(self) -> Result<(), ServeError> {
        let (rows, age) = (self.options.serve.flush_rows, self.options.serve.flush_interval);
        while let Some(handover) = self.fresh.wait_due(rows, age) {
            let batch = self.batch(handover);
            if self.input.send_blocking(batch).is_err() {
                // The pipeline failed (its own error is the one reported): stop the
                // server, which then is not ready.
                tracing::error!("the pipeline stopped; stopping");
                self.failed.notify_one();
                break;
            }
        }
        Ok(())
    }

    /// The parts handed over, as they are: the stager sorts them into one time
    /// order without joining them first.
    fn batch(&self, handover: Handover) -> SourceBatch {
        let Handover { requests, rejects, checkpoints, .. } = handover;
        let saved =
            self.remembered.lock().unwrap_or_else(std::sync::PoisonError::into_inner).encode();
        SourceBatch {
            origin: Origin { source: "serve".into(), source_cluster: None, format: "mixed".into() },
            content: BatchContent::Requests { requests, rejects },
            checkpoints,
            states: vec![(StateKind::SinkBatches, saved)],
            ack: None,
        }
    }
}
