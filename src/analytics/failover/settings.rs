//! The `[failover]` settings of the detector, their defaults and their checks.

use serde::{Deserialize, Serialize};

/// What a window is judged against.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DetectionMode {
    /// The pair's own learned baseline (the default).
    #[default]
    Baseline,
    /// A local-only baseline: the plain cross-cluster share against the thresholds.
    Absolute,
}

/// The `[failover]` settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FailoverSettings {
    /// `baseline` (default) or `absolute`.
    pub mode: DetectionMode,
    /// Window length, seconds (default 10).
    pub window_s: u32,
    /// A window departs when more than this share of the traffic the baseline sent
    /// elsewhere now goes to remote clusters (default 0.5).
    pub enter_share: f64,
    /// An episode ends at the first window whose departure is below this (default 0.2).
    pub exit_share: f64,
    /// A departing window's remote share rose by at least this much (default 0.2).
    pub min_shift: f64,
    /// How long the departure must last, uncorroborated, seconds (default 30).
    #[serde(alias = "min_duration")]
    pub min_duration_s: u32,
    /// Requests with a known destination a window needs to count (default 5).
    pub min_requests: u32,
    /// How far behind the newest timestamp a request may arrive and still count,
    /// seconds (default 60).
    pub max_delay_s: u32,
    /// Traffic a baseline needs before it is established, seconds of windows (default 300).
    #[serde(alias = "baseline_min")]
    pub baseline_min_s: u32,
    /// Requests a baseline needs before it is established (default 200).
    pub baseline_min_requests: u32,
    /// How much recent traffic of normal times the baseline covers, seconds of windows
    /// (default 1800).
    #[serde(alias = "baseline_span")]
    pub baseline_span_s: u32,
}

impl Default for FailoverSettings {
    fn default() -> Self {
        FailoverSettings {
            mode: DetectionMode::Baseline,
            window_s: 10,
            enter_share: 0.5,
            exit_share: 0.2,
            min_shift: 0.2,
            min_duration_s: 30,
            min_requests: 5,
            max_delay_s: 60,
            baseline_min_s: 300,
            baseline_min_requests: 200,
            baseline_span_s: 1800,
        }
    }
}

/// Settings the detector cannot work with.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum FailoverSettingsError {
    #[error("failover.window must be at least 1 second")]
    ZeroWindow,
    #[error("failover.{name} must be between 0 and 1, got {value}")]
    ShareOutOfRange { name: &'static str, value: f64 },
    #[error("failover.exit_share ({exit}) must not be above failover.enter_share ({enter})")]
    ExitAboveEnter { exit: f64, enter: f64 },
    #[error(
        "failover.baseline_span ({span} s) must not be shorter than failover.baseline_min ({min} s)"
    )]
    SpanBelowMin { span: u32, min: u32 },
}

impl FailoverSettings {
    /// Checks what [`FailoverDetector::new`](super::FailoverDetector::new) would
    /// otherwise quietly clamp.
    pub fn validate(&self) -> Result<(), FailoverSettingsError> {
        if self.window_s == 0 {
            return Err(FailoverSettingsError::ZeroWindow);
        }
        check_share("enter_share", self.enter_share)?;
        check_share("exit_share", self.exit_share)?;
        check_share("min_shift", self.min_shift)?;
        if self.exit_share > self.enter_share {
            let (exit, enter) = (self.exit_share, self.enter_share);
            return Err(FailoverSettingsError::ExitAboveEnter { exit, enter });
        }
        if self.baseline_span_s < self.baseline_min_s {
            let (span, min) = (self.baseline_span_s, self.baseline_min_s);
            return Err(FailoverSettingsError::SpanBelowMin { span, min });
        }
        Ok(())
    }

    /// The settings that differ from `other`, as `name: other → self`, for telling a user
    /// that a saved state was made with other settings.
    pub fn changes_from(&self, other: &FailoverSettings) -> Vec<String> {
        let (ours, theirs) = (serde_json::to_value(self), serde_json::to_value(other));
        let (Ok(serde_json::Value::Object(ours)), Ok(serde_json::Value::Object(theirs))) =
            (ours, theirs)
        else {
            return Vec::new();
        };
        ours.iter()
            .filter(|(name, value)| theirs.get(*name) != Some(value))
            .map(|(name, value)| {
                let before = theirs.get(name).map_or_else(String::new, ToString::to_string);
                format!("{name}: {before} → {value}")
            })
            .collect()
    }
}

fn check_share(name: &'static str, value: f64) -> Result<(), FailoverSettingsError> {
    if (0.0..=1.0).contains(&value) {
        return Ok(());
    }
    Err(FailoverSettingsError::ShareOutOfRange { name, value })
}
