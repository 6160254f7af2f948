//! When each target is next due. A target is polled every `interval`; after a failed
//! poll it waits `interval × 2^failures` instead (capped at [`MAX_BACKOFF`], never
//! below the interval), and the first success brings it back to its interval.

use std::time::Duration;

use tokio::time::Instant;

/// The longest wait between two polls of a failing target.
pub const MAX_BACKOFF: Duration = Duration::from_secs(5 * 60);

/// The wait before the next poll of a target polled every `interval` that failed
/// `failures` times in a row.
pub fn backoff_delay(interval: Duration, failures: u32) -> Duration {
    let factor = 2u32.saturating_pow(failures);
    interval.saturating_mul(factor).min(MAX_BACKOFF).max(interval)
}

/// One target's place in the schedule.
#[derive(Debug, Clone, Copy)]
pub struct Schedule {
    interval: Duration,
    /// Failed polls in a row.
    failures: u32,
    next_due: Instant,
}

impl Schedule {
    /// A target due at `now`.
    pub fn new(interval: Duration, now: Instant) -> Schedule {
        Schedule { interval, failures: 0, next_due: now }
    }

    pub fn is_due(&self, now: Instant) -> bool {
        self.next_due <= now
    }

    pub fn next_due(&self) -> Instant {
        self.next_due
    }

    /// Failed polls in a row.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// A poll that started at `started` succeeded: next one an interval later.
    pub fn succeeded(&mut self, started: Instant) {
        self.failures = 0;
        self.next_due = started + self.interval;
    }

    /// A poll failed at `now`; returns how long the target now waits.
    pub fn failed(&mut self, now: Instant) -> Duration {
        self.failures = self.failures.saturating_add(1);
        let delay = backoff_delay(self.interval, self.failures);
        self.next_due = now + delay;
        delay
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    #[test]
    fn the_wait_doubles_with_each_failure_up_to_five_minutes() {
        let waits: Vec<u64> =
            (0..12).map(|failures| backoff_delay(30 * SECOND, failures).as_secs()).collect();
        assert_eq!(waits, [30, 60, 120, 240, 300, 300, 300, 300, 300, 300, 300, 300]);
        assert_eq!(backoff_delay(SECOND, 3), 8 * SECOND);
        assert_eq!(backoff_delay(SECOND, u32::MAX), MAX_BACKOFF);
    }

    #[test]
    fn an_interval_above_the_cap_is_kept() {
        assert_eq!(backoff_delay(600 * SECOND, 4), 600 * SECOND);
    }

    #[test]
    fn a_success_resets_the_back_off() {
        let start = Instant::now();
        let mut schedule = Schedule::new(10 * SECOND, start);
        assert!(schedule.is_due(start));
        assert_eq!(schedule.failed(start), 20 * SECOND);
        assert_eq!(schedule.failed(start), 40 * SECOND);
        assert_eq!((schedule.failures(), schedule.next_due()), (2, start + 40 * SECOND));
        assert!(!schedule.is_due(start + 39 * SECOND));
        schedule.succeeded(start + 40 * SECOND);
        assert_eq!((schedule.failures(), schedule.next_due()), (0, start + 50 * SECOND));
    }
}
