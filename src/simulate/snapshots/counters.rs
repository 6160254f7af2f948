//! The numbers `/clusters` shows for one host, moved by the lines its proxy logs for
//! it. Every counter moves at the line's `START_TIME`, so a snapshot taken at `T`
//! counts exactly the lines that started before `T`. Each line is one connection (the
//! logs show a new upstream local port on each): `cx_total` counts every line and
//! `cx_connect_fail` the `UF` ones; HTTP lines are also requests (`rq_total`,
//! `rq_error` for 5xx, else `rq_success`, `rq_timeout` for 504 or `UT`); TCP lines
//! are connections only. The gauges count what is still open at `T`. Outlier
//! detection runs as Envoy's consecutive-5xx check with Istio's defaults.

use crate::simulate::line::Line;

/// Consecutive 5xx responses after which a host is ejected (`consecutive5xxErrors`).
pub const CONSECUTIVE_5XX: u32 = 5;
/// How long an ejection lasts (`baseEjectionTime`).
pub const EJECTION_MS: i64 = 30_000;

/// One host's counters, gauges and outlier state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostCounters {
    pub cx_connect_fail: u64,
    pub cx_total: u64,
    pub rq_error: u64,
    pub rq_success: u64,
    pub rq_timeout: u64,
    pub rq_total: u64,
    /// The end of each connection that may still be open, and whether it carries an
    /// HTTP request.
    open: Vec<(i64, bool)>,
    consecutive_5xx: u32,
    ejected_until_ms: Option<i64>,
}

/// Open connections above this many are pruned of the closed ones.
const PRUNE_ABOVE: usize = 64;

impl HostCounters {
    /// A host holding one endless request on one connection: the xDS stream.
    pub fn one_stream() -> HostCounters {
        HostCounters { cx_total: 1, rq_total: 1, open: vec![(i64::MAX, true)], ..Self::default() }
    }

    /// Counts `line`, a line of this host.
    pub fn count(&mut self, line: &Line) {
        let connect_failed = has_flag(line, "UF");
        let http = line.protocol.is_some();
        self.cx_total += 1;
        self.cx_connect_fail += u64::from(connect_failed);
        if !connect_failed {
            self.open(line.start_ms, line.start_ms + line.duration_ms as i64, http);
        }
        if http {
            self.count_request(line);
        }
    }

    /// Whether outlier detection has the host ejected at `at_ms`.
    pub fn ejected_at(&self, at_ms: i64) -> bool {
        self.ejected_until_ms.is_some_and(|until| at_ms < until)
    }

    /// `(cx_active, rq_active)` at `at_ms`.
    pub fn active_at(&self, at_ms: i64) -> (u64, u64) {
        let open = self.open.iter().filter(|(end, _)| *end > at_ms);
        open.fold((0, 0), |(cx, rq), (_, http)| (cx + 1, rq + u64::from(*http)))
    }

    /// Whether the host has seen a connection.
    pub fn used(&self) -> bool {
        self.cx_total > 0
    }

    fn open(&mut self, now_ms: i64, end_ms: i64, http: bool) {
        if self.open.len() > PRUNE_ABOVE {
            self.open.retain(|(end, _)| *end > now_ms);
        }
        self.open.push((end_ms, http));
    }

    fn count_request(&mut self, line: &Line) {
        let failed = line.response_code >= 500;
        self.rq_total += 1;
        self.rq_error += u64::from(failed);
        self.rq_success += u64::from(!failed);
        self.rq_timeout += u64::from(line.response_code == 504 || has_flag(line, "UT"));
        self.detect_outlier(line.start_ms, failed);
    }

    fn detect_outlier(&mut self, at_ms: i64, failed: bool) {
        if !failed {
            self.consecutive_5xx = 0;
            return;
        }
        self.consecutive_5xx += 1;
        if self.consecutive_5xx >= CONSECUTIVE_5XX {
            self.ejected_until_ms = Some(at_ms + EJECTION_MS);
            self.consecutive_5xx = 0;
        }
    }
}

fn has_flag(line: &Line, flag: &str) -> bool {
    line.response_flags.is_some_and(|flags| flags.split(',').any(|one| one == flag))
}
