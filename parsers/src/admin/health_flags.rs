//! Envoy's host health flags and their text form. This file owns the one rendering that
//! `/clusters` text prints (`healthy`, or `/failed_outlier_check/failed_eds_health`…),
//! so that the JSON `health_status` object and istioctl's STATUS and OUTLIER CHECK
//! columns land in [`HostStatus::health_flags`](super::HostStatus) exactly as the text
//! dump would have shown them.
//!
//! The order and the words are Envoy's `HostUtility::healthFlagsToString`; the EDS
//! status mapping is Envoy's `setEdsHealthFlag`: `UNHEALTHY` and `TIMEOUT` set
//! `failed_eds_health`, `DEGRADED` sets `degraded_eds_health`, `DRAINING` sets
//! `eds_status_draining` (Envoy 1.27+; older proxies printed `failed_eds_health`), and
//! `HEALTHY`/`UNKNOWN` set nothing.

/// One host health flag, in the order Envoy prints them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HealthFlag {
    FailedActiveHc,
    FailedOutlierCheck,
    FailedEdsHealth,
    DegradedActiveHc,
    DegradedEdsHealth,
    PendingDynamicRemoval,
    PendingActiveHc,
    ExcludedViaImmediateHcFail,
    ActiveHcTimeout,
    EdsStatusDraining,
}

/// Every flag, in Envoy's printing order.
const ALL_FLAGS: [HealthFlag; 10] = [
    HealthFlag::FailedActiveHc,
    HealthFlag::FailedOutlierCheck,
    HealthFlag::FailedEdsHealth,
    HealthFlag::DegradedActiveHc,
    HealthFlag::DegradedEdsHealth,
    HealthFlag::PendingDynamicRemoval,
    HealthFlag::PendingActiveHc,
    HealthFlag::ExcludedViaImmediateHcFail,
    HealthFlag::ActiveHcTimeout,
    HealthFlag::EdsStatusDraining,
];

impl HealthFlag {
    /// The flag's part of the text form, with its leading `/`.
    fn text(self) -> &'static str {
        match self {
            HealthFlag::FailedActiveHc => "/failed_active_hc",
            HealthFlag::FailedOutlierCheck => "/failed_outlier_check",
            HealthFlag::FailedEdsHealth => "/failed_eds_health",
            HealthFlag::DegradedActiveHc => "/degraded_active_hc",
            HealthFlag::DegradedEdsHealth => "/degraded_eds_health",
            HealthFlag::PendingDynamicRemoval => "/pending_dynamic_removal",
            HealthFlag::PendingActiveHc => "/pending_active_hc",
            HealthFlag::ExcludedViaImmediateHcFail => "/excluded_via_immediate_hc_fail",
            HealthFlag::ActiveHcTimeout => "/active_hc_timeout",
            HealthFlag::EdsStatusDraining => "/eds_status_draining",
        }
    }

    fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

/// The flags set on one host.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct HealthFlags(u16);

impl HealthFlags {
    pub(crate) fn set(&mut self, flag: HealthFlag) {
        self.0 |= flag.bit();
    }

    /// Sets the flag an EDS health status name stands for (`HEALTHY`, `UNHEALTHY`,
    /// `DRAINING`, `TIMEOUT`, `DEGRADED`, `UNKNOWN`, any case). `false` when the name is
    /// none of these.
    pub(crate) fn set_eds_status(&mut self, name: &str) -> bool {
        match eds_status_flag(name) {
            Some(Some(flag)) => self.set(flag),
            Some(None) => {}
            None => return false,
        }
        true
    }

    /// Envoy's text form: the flags in order, or `healthy` when none is set.
    pub(crate) fn render(self) -> String {
        let mut text = String::new();
        for flag in ALL_FLAGS.into_iter().filter(|flag| self.0 & flag.bit() != 0) {
            text.push_str(flag.text());
        }
        if text.is_empty() { "healthy".to_owned() } else { text }
    }
}

/// The flag an EDS health status sets: `Some(None)` for a status that sets none,
/// `None` for a name that is no status.
fn eds_status_flag(name: &str) -> Option<Option<HealthFlag>> {
    const STATUSES: [(&str, Option<HealthFlag>); 6] = [
        ("UNKNOWN", None),
        ("HEALTHY", None),
        ("UNHEALTHY", Some(HealthFlag::FailedEdsHealth)),
        ("DRAINING", Some(HealthFlag::EdsStatusDraining)),
        ("TIMEOUT", Some(HealthFlag::FailedEdsHealth)),
        ("DEGRADED", Some(HealthFlag::DegradedEdsHealth)),
    ];
    STATUSES.iter().find(|(status, _)| status.eq_ignore_ascii_case(name)).map(|(_, flag)| *flag)
}

/// The name of an EDS health status given as its protobuf enum number
/// (`envoy.config.core.v3.HealthStatus`), as some JSON encoders print it.
pub(crate) fn eds_status_name(number: u64) -> Option<&'static str> {
    const NAMES: [&str; 6] = ["UNKNOWN", "HEALTHY", "UNHEALTHY", "DRAINING", "TIMEOUT", "DEGRADED"];
    usize::try_from(number).ok().and_then(|index| NAMES.get(index).copied())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_flag_is_healthy() {
        assert_eq!(HealthFlags::default().render(), "healthy");
    }

    #[test]
    fn flags_render_in_envoy_order_whatever_the_setting_order() {
        let mut flags = HealthFlags::default();
        flags.set(HealthFlag::EdsStatusDraining);
        flags.set(HealthFlag::FailedOutlierCheck);
        flags.set(HealthFlag::FailedActiveHc);
        assert_eq!(flags.render(), "/failed_active_hc/failed_outlier_check/eds_status_draining");
    }

    #[test]
    fn every_flag_renders_like_envoys_test() {
        let mut flags = HealthFlags::default();
        ALL_FLAGS.into_iter().for_each(|flag| flags.set(flag));
        assert_eq!(
            flags.render(),
            "/failed_active_hc/failed_outlier_check/failed_eds_health/degraded_active_hc/\
             degraded_eds_health/pending_dynamic_removal/pending_active_hc/\
             excluded_via_immediate_hc_fail/active_hc_timeout/eds_status_draining"
        );
    }

    #[test]
    fn eds_statuses_map_like_envoy() {
        let render = |name| {
            let mut flags = HealthFlags::default();
            assert!(flags.set_eds_status(name), "{name}");
            flags.render()
        };
        assert_eq!(render("HEALTHY"), "healthy");
        assert_eq!(render("UNKNOWN"), "healthy");
        assert_eq!(render("UNHEALTHY"), "/failed_eds_health");
        assert_eq!(render("TIMEOUT"), "/failed_eds_health");
        assert_eq!(render("DEGRADED"), "/degraded_eds_health");
        assert_eq!(render("draining"), "/eds_status_draining");
    }

    #[test]
    fn unknown_eds_status_is_refused() {
        assert!(!HealthFlags::default().set_eds_status("SICK"));
        assert!(!HealthFlags::default().set_eds_status(""));
    }

    #[test]
    fn eds_status_numbers() {
        assert_eq!(eds_status_name(2), Some("UNHEALTHY"));
        assert_eq!(eds_status_name(5), Some("DEGRADED"));
        assert_eq!(eds_status_name(6), None);
        assert_eq!(eds_status_name(u64::MAX), None);
    }
}
