//! The polling loop. [`Scraper::run_round`] GETs every endpoint of every due target at
//! once, each with its target's timeout; a target with a failed GET logs one line and
//! backs off, the others go back to their interval; then all the responses of the
//! round are parsed and committed together, off the async runtime.
//! [`Scraper::run`] repeats rounds as targets fall due until its `until` future
//! completes, finishing (and committing) a round that is under way.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;
use tokio::time::Instant;

use super::ScrapeError;
use super::fetch::{FetchError, Fetched, Fetcher};
use super::report::{RoundReport, ScrapeReport};
use super::schedule::Schedule;
use super::store::{RawSnapshot, RoundStored, into_groups};
use crate::config::scrape::{AdminEndpoint, ScrapeTarget};
use crate::metrics::Metrics;
use crate::pipeline::{BatchContent, Origin, PipelineInput, SourceBatch};

/// Targets due this soon join the round under way rather than make their own commit
/// a moment later.
pub const ROUND_SLACK: Duration = Duration::from_millis(250);

/// The outcome of one GET: which target and endpoint, and the body or the failure.
struct Attempt {
    target: usize,
    endpoint: AdminEndpoint,
    url: String,
    result: Result<Fetched, FetchError>,
}

/// Polls targets and stores what they answer.
pub struct Scraper {
    targets: Vec<ScrapeTarget>,
    schedules: Vec<Schedule>,
    fetcher: Fetcher,
    /// The pipeline that stores each round.
    input: PipelineInput,
    report: ScrapeReport,
    /// Where failures and reachability per target are shown (`meshlog serve`).
    metrics: Option<Arc<Metrics>>,
}

impl Scraper {
    /// A scraper with every target due now.
    pub fn new(targets: Vec<ScrapeTarget>, input: PipelineInput) -> Result<Scraper, ScrapeError> {
        let now = Instant::now();
        let schedules = targets.iter().map(|target| Schedule::new(target.interval, now)).collect();
        let report = ScrapeReport::new(&targets);
        let fetcher = Fetcher::new()?;
        Ok(Scraper { targets, schedules, fetcher, input, report, metrics: None })
    }

    /// Shows each target's failures and whether its last scrape succeeded in `metrics`.
    pub fn report_to(mut self, metrics: Arc<Metrics>) -> Scraper {
        self.metrics = Some(metrics);
        self
    }

    /// What has been done so far.
    pub fn report(&self) -> &ScrapeReport {
        &self.report
    }

    /// The report, once done (this lets go of the pipeline's input).
    pub fn finish(self) -> ScrapeReport {
        self.report
    }

    /// Rounds until `until` completes; a round under way when it does is finished.
    pub async fn run(&mut self, until: impl Future<Output = ()>) -> Result<(), ScrapeError> {
        tokio::pin!(until);
        loop {
            tokio::select! {
                () = &mut until => return Ok(()),
                () = tokio::time::sleep_until(self.next_due()) => {}
            }
            let round = self.run_round();
            tokio::pin!(round);
            tokio::select! {
                result = &mut round => { result?; }
                () = &mut until => {
                    round.await?;
                    return Ok(());
                }
            }
        }
    }

    /// When the next target falls due.
    fn next_due(&self) -> Instant {
        let soonest = self.schedules.iter().map(Schedule::next_due).min();
        soonest.unwrap_or_else(|| Instant::now() + Duration::from_secs(3600))
    }

    /// Polls the targets due now (or within [`ROUND_SLACK`]) and commits what they
    /// answered.
    pub async fn run_round(&mut self) -> Result<RoundReport, ScrapeError> {
        let started = Instant::now();
        let due: Vec<usize> = (0..self.targets.len())
            .filter(|&index| self.schedules[index].is_due(started + ROUND_SLACK))
            .collect();
        if due.is_empty() {
            return Ok(RoundReport::default());
        }
        let attempts = self.fetch_all(&due).await?;
        let snapshots = self.settle(&due, attempts, started);
        let stored = self.store(snapshots).await?;
        let round = RoundReport { targets: due.len(), stored };
        self.report.add_round(&round);
        Ok(round)
    }

    /// GETs every endpoint of the `due` targets concurrently.
    async fn fetch_all(&self, due: &[usize]) -> Result<Vec<Attempt>, ScrapeError> {
        let mut tasks = JoinSet::new();
        for &target_index in due {
            let target = &self.targets[target_index];
            for &endpoint in &target.endpoints {
                let (fetcher, url, timeout) =
                    (self.fetcher.clone(), target.url(endpoint), target.timeout);
                tasks.spawn(async move {
                    let result = fetcher.fetch(&url, timeout).await;
                    Attempt { target: target_index, endpoint, url, result }
                });
            }
        }
        let mut attempts = Vec::new();
        while let Some(attempt) = tasks.join_next().await {
            attempts.push(attempt.map_err(ScrapeError::Task)?);
        }
        attempts.sort_by_key(|attempt| (attempt.target, attempt.endpoint));
        Ok(attempts)
    }

    /// Reschedules the `due` targets by how their GETs went, logs the failures, and
    /// returns the responses.
    fn settle(
        &mut self,
        due: &[usize],
        attempts: Vec<Attempt>,
        started: Instant,
    ) -> Vec<RawSnapshot> {
        let mut snapshots = Vec::new();
        let mut failures: Vec<Vec<String>> = vec![Vec::new(); self.targets.len()];
        for attempt in attempts {
            let target = &self.targets[attempt.target];
            match attempt.result {
                Ok(fetched) => {
                    self.report.targets[attempt.target].snapshots += 1;
                    snapshots.push(RawSnapshot {
                        source_cluster: target.source_cluster.clone(),
                        proxy: target.name.clone(),
                        kind: attempt.endpoint.kind(),
                        url: attempt.url,
                        ts: fetched.ts,
                        text: fetched.text,
                    });
                }
                Err(error) => {
                    failures[attempt.target].push(format!("GET {}: {error}", attempt.url))
                }
            }
        }
        for &index in due {
            let up = failures[index].is_empty();
            if up {
                self.schedules[index].succeeded(started);
            } else {
                self.failed(index, &failures[index]);
            }
            if let Some(metrics) = &self.metrics {
                let target = [self.targets[index].name.as_str()];
                metrics.scrape_up.with_label_values(&target).set(i64::from(up));
                if !up {
                    metrics.scrape_failures.with_label_values(&target).inc();
                }
            }
        }
        snapshots
    }

    /// Backs a target off and says why, in one warning.
    fn failed(&mut self, index: usize, reasons: &[String]) {
        let delay = self.schedules[index].failed(Instant::now());
        let failures = self.schedules[index].failures();
        self.report.targets[index].failures += 1;
        tracing::warn!(
            target = %self.targets[index].name,
            reason = ?reasons.join("; "),
            next_try_s = delay.as_secs_f64(),
            failed_in_a_row = failures,
            "scrape failed",
        );
    }

    /// Parses the round on a blocking thread (no work for the async runtime), hands
    /// it to the pipeline and waits until it is durable.
    async fn store(&mut self, snapshots: Vec<RawSnapshot>) -> Result<RoundStored, ScrapeError> {
        if snapshots.is_empty() {
            return Ok(RoundStored::default());
        }
        let groups = tokio::task::spawn_blocking(move || into_groups(snapshots))
            .await
            .map_err(ScrapeError::Task)?;
        let origin =
            Origin { source: "scrape".into(), source_cluster: None, format: "admin".into() };
        let (ack, acknowledged) = tokio::sync::oneshot::channel();
        let content = BatchContent::Snapshots(groups);
        let batch = SourceBatch {
            origin,
            content,
            checkpoints: Vec::new(),
            states: Vec::new(),
            ack: Some(ack),
        };
        self.input.send(batch).await.map_err(|_| ScrapeError::PipelineStopped)?;
        let done = acknowledged.await.map_err(|_| ScrapeError::PipelineStopped)?;
        Ok(RoundStored { counts: done.snapshots, stored: done.stored })
    }
}
