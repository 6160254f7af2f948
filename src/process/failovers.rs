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

/// What each commit carries of the failover detector: its state, encoded, to resume
/// from, and every episode known so far as the `failovers` table's rows.
pub fn detector_snapshot(
    detector: &FailoverDetector,
) -> Result<(Vec<u8>, RecordBatch), StorageError> {
    let state = detector
        .state_json()
        .map_err(|source| StorageError::State { what: "failover detector", source })?;
    Ok((state, failovers_batch(&detector.episodes())?))
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
    let columns: Vec<ArrayRef> = vec![
        Arc::new(source_cluster.finish()),
        Arc::new(service.finish()),
        Arc::new(upstream_cluster.finish()),
        Arc::new(target_cluster.finish()),
        Arc::new(started_at.finish()),
        Arc::new(ended_at.finish()),
        Arc::new(duration_s.finish()),
        Arc::new(requests.finish()),
        Arc::new(cross.finish()),
        Arc::new(peak.finish()),
        Arc::new(errors_before.finish()),
        Arc::new(errors_before_flags.finish()),
        Arc::new(errors_before_code.finish()),
        Arc::new(confirmed_at.finish()),
        Arc::new(baseline.finish()),
    ];
    RecordBatch::try_new(schema::failovers(), columns)
        .map_err(|source| StorageError::Arrow { table: "failovers", source })
}
