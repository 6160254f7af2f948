//! The sources `meshlog serve` runs, one closed set of kinds: the HTTP sink
//! (`[server]`), followed files (`[[sources]] type = "file"`), the Envoy admin
//! scrape targets (`[[scrape]]`), the gRPC services (`[server] otlp_grpc_listen`),
//! and the PostgreSQL listener that answers queries (`[server] postgres_listen`).
//! Each kind's configuration is built, with what it needs of the server ([`SourceContext`]), into a [`RunningSource`]: a task that
//! runs until the stop signal and then finishes what it holds (the HTTP sink answers
//! the requests under way, up to `shutdown_timeout`; a follower reads once more; a
//! scrape round under way ends). A configuration that cannot start (an address in
//! use, a bad pattern) stops the server before it says it is ready. A new kind of
//! source (OTLP, Kafka) is one more variant here, built the same way.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::ServeError;
use super::follow::{self, StartPositions};
use super::fresh::Fresh;
use super::grpc::{GrpcConfig, GrpcListener};
use super::http::{self, AppState};
use super::kafka::KafkaSource;
use super::pg::PgListener;
use crate::config::Settings;
use crate::config::kafka::KafkaSourceConfig;
use crate::config::postgres::PostgresSettings;
use crate::config::scrape::ScrapeTarget;
use crate::config::server::{FileSourceConfig, ServeSettings};
use crate::pipeline::PipelineInput;
use crate::scrape::Scraper;

/// One source of `meshlog serve`, as configured.
pub enum SourceConfig {
    /// `POST /api/v1/logs` and the rest of the HTTP API, on `[server] listen`.
    Http(HttpSourceConfig),
    /// Files followed like `tail -F`.
    File(FileSourceConfig),
    /// A Kafka consumer group.
    Kafka(KafkaSourceConfig),
    /// Envoy admin endpoints, polled on their schedules.
    Scrape(Vec<ScrapeTarget>),
    /// OTLP's `LogsService` and Envoy's `AccessLogService` over gRPC, on
    /// `[server] otlp_grpc_listen`.
    Grpc(GrpcConfig),
    /// The PostgreSQL wire protocol for queries, on `[server] postgres_listen`.
    Postgres(PostgresSettings),
}

/// Where the HTTP sink listens, and how long it finishes requests once stopping.
pub struct HttpSourceConfig {
    pub listen: std::net::SocketAddr,
    pub shutdown_timeout: Duration,
}

/// What sources are built with.
pub struct SourceContext<'a> {
    pub settings: &'a Settings,
    /// The HTTP handlers' shared state.
    pub app: Arc<AppState>,
    /// The pipeline's queue, for sources that send it batches themselves.
    pub input: PipelineInput,
    /// The rows in memory, for sources whose reads are queryable at once.
    pub fresh: Arc<Fresh>,
    /// Rows in memory past which followed files wait.
    pub max_fresh_rows: usize,
    /// Where followed files start.
    pub positions: &'a StartPositions,
    /// Turns `true` when the server stops.
    pub stop: watch::Receiver<bool>,
}

/// A source at work.
pub struct RunningSource {
    kind: &'static str,
    task: SourceTask,
}

impl SourceConfig {
    /// Every source the config gives: the HTTP sink (`[server]`) first, then the
    /// followed files (`[[sources]]`), then the scrape targets (`[[scrape]]`, when
    /// there are any), then the gRPC services and the PostgreSQL protocol when set.
    pub fn all(serve: &ServeSettings, scrape: &[ScrapeTarget]) -> Vec<SourceConfig> {
        let http =
            HttpSourceConfig { listen: serve.listen, shutdown_timeout: serve.shutdown_timeout };
        let mut sources = vec![SourceConfig::Http(http)];
        sources.extend(serve.files.iter().cloned().map(SourceConfig::File));
        sources.extend(serve.kafka.iter().cloned().map(SourceConfig::Kafka));
        if !scrape.is_empty() {
            sources.push(SourceConfig::Scrape(scrape.to_vec()));
        }
        sources.extend(serve.otlp_grpc_listen.map(|listen| {
            SourceConfig::Grpc(GrpcConfig { listen, shutdown_timeout: serve.shutdown_timeout })
        }));
        sources.extend(serve.postgres.clone().map(SourceConfig::Postgres));
        sources
    }

    /// Builds the source, ready to run: an address is bound, patterns and formats
    /// checked, nothing runs yet — so a source that cannot start stops the server
    /// before any other has started. Must be called within the server's runtime.
    pub async fn build(self, context: &SourceContext<'_>) -> Result<BuiltSource, ServeError> {
        Ok(match self {
            SourceConfig::Http(config) => BuiltSource::Http(build_http(config, context).await?),
            SourceConfig::File(config) => {
                BuiltSource::File(Box::new(follow::Follower::new(&config, context)?))
            }
            SourceConfig::Kafka(config) => {
                let source = KafkaSource::new(&config, context)
                    .map_err(|error| ServeError::Kafka(Box::new(error)))?;
                BuiltSource::Kafka(Box::new(source))
            }
            SourceConfig::Scrape(targets) => BuiltSource::Scrape(Box::new(
                Scraper::new(targets, context.input.clone())?
                    .report_to(context.app.metrics.clone()),
            )),
            SourceConfig::Grpc(config) => {
                BuiltSource::Grpc(Box::new(GrpcListener::bind(config, context.app.clone()).await?))
            }
            SourceConfig::Postgres(settings) => BuiltSource::Postgres(Box::new(
                PgListener::bind(&settings, context.app.clone()).await?,
            )),
        })
    }
}

/// A source built and not yet running.
pub enum BuiltSource {
    Http(HttpServer),
    File(Box<follow::Follower>),
    Kafka(Box<KafkaSource>),
    Scrape(Box<Scraper>),
    Grpc(Box<GrpcListener>),
    Postgres(Box<PgListener>),
}

/// The HTTP sink's bound listener and routes.
pub struct HttpServer {
    listener: tokio::net::TcpListener,
    router: axum::Router,
    config: HttpSourceConfig,
}

impl BuiltSource {
    /// Runs the source until `stop` turns `true`.
    pub fn spawn(self, stop: &watch::Receiver<bool>) -> RunningSource {
        let stop = stop.clone();
        match self {
            BuiltSource::Http(server) => {
                RunningSource { kind: "HTTP", task: run_http(server, stop) }
            }
            BuiltSource::File(follower) => {
                RunningSource { kind: "file", task: run_follow(*follower) }
            }
            BuiltSource::Kafka(source) => RunningSource {
                kind: "Kafka",
                task: on_own_thread("kafka", "Kafka consumer", move || source.run()),
            },
            BuiltSource::Scrape(scraper) => {
                RunningSource { kind: "scrape", task: run_scrape(*scraper, stop) }
            }
            BuiltSource::Grpc(listener) => {
                RunningSource { kind: "gRPC", task: tokio::spawn(listener.run(stop)) }
            }
            BuiltSource::Postgres(listener) => {
                RunningSource { kind: "PostgreSQL", task: tokio::spawn(listener.run(stop)) }
            }
        }
    }
}

impl RunningSource {
    /// Waits until the source has finished (after the stop signal).
    pub async fn finish(self) -> Result<(), ServeError> {
        self.task.await.map_err(|_| ServeError::Panicked(self.kind))?
    }
}

/// A source's task: done once it has finished what it held after the stop signal.
type SourceTask = tokio::task::JoinHandle<Result<(), ServeError>>;

/// Binds the address, so that a taken one fails the start.
async fn build_http(
    config: HttpSourceConfig,
    context: &SourceContext<'_>,
) -> Result<HttpServer, ServeError> {
    let address = config.listen;
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .map_err(|source| ServeError::Listen { address, source })?;
    let router = http::router(context.app.clone());
    Ok(HttpServer { listener, router, config })
}

/// Serves until stopped, finishing requests under way until the deadline.
fn run_http(server: HttpServer, stop: watch::Receiver<bool>) -> SourceTask {
    let HttpServer { listener, router, config } = server;
    let address = config.listen;
    tracing::info!(%address, "serving");
    let stopping = stop.clone();
    tokio::spawn(async move {
        let server = axum::serve(listener, router).with_graceful_shutdown(stopped(stopping));
        let served = until_deadline(server, stop, config.shutdown_timeout, "HTTP").await;
        served.map_err(|source| ServeError::Listen { address, source })
    })
}

/// Resolves once `stop` turns `true` (or its sender is gone).
pub async fn stopped(mut stop: watch::Receiver<bool>) {
    let _ = stop.wait_for(|stopped| *stopped).await;
}

/// Runs `server` (one that shuts down gracefully on the stop signal) until it ends,
/// or until `shutdown_timeout` after the stop signal: requests still under way then
/// are cut off.
pub async fn until_deadline<E>(
    server: impl std::future::IntoFuture<Output = Result<(), E>>,
    stop: watch::Receiver<bool>,
    shutdown_timeout: Duration,
    what: &str,
) -> Result<(), E> {
    let cut_off = async move {
        stopped(stop).await;
        tokio::time::sleep(shutdown_timeout).await;
    };
    tokio::select! {
        served = server.into_future() => served,
        () = cut_off => {
            tracing::warn!(deadline = ?shutdown_timeout, what, "requests still under way at the deadline were cut off");
            Ok(())
        }
    }
}

/// Follows on a thread of its own (not one of the runtime's blocking threads, which
/// parse request bodies).
fn run_follow(follower: follow::Follower) -> SourceTask {
    on_own_thread("follow", "file follower", move || follower.run())
}

/// Runs `work` on a thread of its own, told done through a channel.
fn on_own_thread(
    name: &str,
    what: &'static str,
    work: impl FnOnce() + Send + 'static,
) -> SourceTask {
    let (done, finished) = tokio::sync::oneshot::channel();
    let thread = std::thread::Builder::new().name(name.into()).spawn(move || {
        work();
        let _ = done.send(());
    });
    tokio::spawn(async move {
        match thread {
            Ok(_) => finished.await.map_err(|_| ServeError::Panicked(what)),
            Err(source) => Err(ServeError::Start { what, source }),
        }
    })
}

fn run_scrape(mut scraper: Scraper, mut stop: watch::Receiver<bool>) -> SourceTask {
    tokio::spawn(async move {
        let until = async move {
            let _ = stop.wait_for(|stopped| *stopped).await;
        };
        if let Err(error) = scraper.run(until).await {
            // The other sources go on: a scrape failure is the scrape's alone.
            tracing::error!(%error, "scraping stopped");
        }
        Ok(())
    })
}
