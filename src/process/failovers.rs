//! The `failovers` table built from the detector's episodes.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, Float64Builder, Int32Builder, Int64Builder, StringBuilder,
    TimestampMicrosecondBuilder,
};
use arrow::record_batch::RecordBatch;

use crate::analytics::failover::{
    DetectorState, Episode, FailoverDetector, FailoverSettings, StateError,
};
use crate::stats::evidence::LocalEndpointsFailed;
use crate::storage::StorageError;
use crate::storage::committer::{PendingCommit, StateKind};
use crate::storage::schema;

fn count(number: u64) -> i64 {
    i64::try_from(number).unwrap_or(i64::MAX)
}

/// The failover detector as the last commit left it, and the settings that differ from
/// those it was saved with (`name: saved → now`), to tell the user.
pub struct LoadedDetector {
    pub detector: FailoverDetector,
    pub settings_changed: Vec<String>,
}

/// Continues the detector from its `saved` state (none: a new data directory) with
/// `settings`.
pub fn load_detector(
    saved: Option<&[u8]>,
    settings: &FailoverSettings,
) -> Result<LoadedDetector, StateError> {
    let Some(bytes) = saved else {
        let detector = FailoverDetector::new(settings.clone(), DetectorState::default());
        return Ok(LoadedDetector { detector, settings_changed: Vec::new() });
    };
    let state = DetectorState::from_json(bytes)?;
    let settings_changed = settings.changes_from(state.settings());
    let detector = FailoverDetector::new(settings.clone(), state);
    Ok(LoadedDetector { detector, settings_changed })
}

/// Tells the detector what snapshots said of services' local endpoints.
pub fn corroborate_all(detector: &mut FailoverDetector, evidence: &[LocalEndpointsFailed]) {
    for found in evidence {
        detector.corroborate(&found.source_cluster, &found.service, found.ts_micros);
    }
}

/// Saves what a commit carries of the failover detector: its state, encoded, to
/// resume from, and every episode known so far as the `failovers` table's rows.
pub fn save_detector(
    pending: &mut PendingCommit,
    detector: &FailoverDetector,
) -> Result<(), StorageError> {
    let state = detector
        .state_json()
        .map_err(|source| StorageError::State { what: "failover detector", source })?;
    pending.save_state(StateKind::Detector, state);
    pending.failovers = Some(failovers_batch(&detector.episodes())?);
    Ok(())
}

/// One row per episode, in the order given.
pub fn failovers_batch(episodes: &[Episode]) -> Result<RecordBatch, StorageError> {
    let mut source_cluster = StringBuilder::new();
    let mut service = StringBuilder::new();
    let mut upstream_cluster = StringBuilder::new();
    let mut target_cluster = StringBuilder::new();
    let mut started_at = TimestampMicrosecondBuilder::new().with_timezone("UTC");
    let mut ended_at = TimestampMicrosecondBuilder::new().with_timezone("UTC");
    let mut duration_s = Float64Builder::new();
    let mut counts: [Int64Builder; 2] = Default::default();
    let mut peak = Float64Builder::new();
    let mut errors_before = Int64Builder::new();
    let mut errors_before_flags = StringBuilder::new();
    let mut errors_before_code = Int32Builder::new();
    let mut confirmed_at = TimestampMicrosecondBuilder::new().with_timezone("UTC");
    let mut baseline = Float64Builder::new();
    for episode in episodes {
        source_cluster.append_value(&episode.source_cluster);
        service.append_value(&episode.service);
        upstream_cluster.append_option(episode.upstream_cluster.as_deref());
        target_cluster.append_option(episode.target_cluster.as_deref());
        started_at.append_value(episode.started_at_micros);
        ended_at.append_option(episode.ended_at_micros);
        duration_s.append_value(episode.duration_s);
        counts[0].append_value(count(episode.requests));
        counts[1].append_value(count(episode.cross_cluster_requests));
        peak.append_value(episode.peak_cross_cluster_share);
        errors_before.append_value(count(episode.errors_before));
        errors_before_flags.append_option(episode.errors_before_flags.as_deref());
        errors_before_code.append_option(episode.errors_before_code);
        confirmed_at.append_value(episode.confirmed_at_micros);
        baseline.append_value(episode.baseline_cross_cluster_share);
    }
    let [mut requests, mut cross] = counts;
    let columns: Vec<(&str, ArrayRef)> = vec![
        ("source_cluster", Arc::new(source_cluster.finish())),
        ("service", Arc::new(service.finish())),
        ("upstream_cluster", Arc::new(upstream_cluster.finish())),
        ("target_cluster", Arc::new(target_cluster.finish())),
        ("started_at", Arc::new(started_at.finish())),
        ("ended_at", Arc::new(ended_at.finish())),
        ("duration_s", Arc::new(duration_s.finish())),
        ("requests", Arc::new(requests.finish())),
        ("cross_cluster_requests", Arc::new(cross.finish())),
        ("peak_cross_cluster_share", Arc::new(peak.finish())),
        ("errors_before", Arc::new(errors_before.finish())),
        ("errors_before_flags", Arc::new(errors_before_flags.finish())),
        ("errors_before_code", Arc::new(errors_before_code.finish())),
        ("confirmed_at", Arc::new(confirmed_at.finish())),
        ("baseline_cross_cluster_share", Arc::new(baseline.finish())),
    ];
    schema::batch_by_name("failovers", &schema::failovers(), columns)
}
