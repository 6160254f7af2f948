//! Envoy response flags as a set. This file owns [`FLAGS`], the one table of every flag
//! Envoy can print in `%RESPONSE_FLAGS%` (short names such as `UH`) or
//! `%RESPONSE_FLAGS_LONG%` (Envoy ≥ 1.27, long names such as `NoHealthyUpstream`), with
//! what each one means, and [`ResponseFlags`], a `u64` bitset read from either form.
//! Bit `i` is `FLAGS[i]`; the table follows the order in which Envoy prints flags, so
//! [`ResponseFlags::names`] and `Display` reproduce Envoy's own text. Flags the table
//! does not know are left out of the set; the caller keeps the raw text and can list them
//! with [`ResponseFlags::unknown`]. Parsing never allocates and never panics.

use std::fmt;
use std::ops::{BitOr, BitOrAssign};

use serde::ser::{Serialize, Serializer};

/// One known response flag: Envoy's short name, its long name and what it means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FlagInfo {
    /// The name `%RESPONSE_FLAGS%` prints, e.g. `UH`.
    pub short: &'static str,
    /// The name `%RESPONSE_FLAGS_LONG%` prints, e.g. `NoHealthyUpstream`.
    pub long: &'static str,
    /// What happened, in a few words, for reports.
    pub description: &'static str,
}

const fn flag(short: &'static str, long: &'static str, description: &'static str) -> FlagInfo {
    FlagInfo { short, long, description }
}

/// Every response flag meshlog knows, in the order Envoy prints them (its
/// `CoreResponseFlag` order). The index of a flag is its bit in [`ResponseFlags`].
pub const FLAGS: [FlagInfo; 30] = [
    flag("LH", "FailedLocalHealthCheck", "local service failed its health check (503)"),
    flag("UH", "NoHealthyUpstream", "no healthy host in the upstream cluster (503)"),
    flag("UT", "UpstreamRequestTimeout", "upstream request timed out (504)"),
    flag("LR", "LocalReset", "connection reset locally (503)"),
    flag("UR", "UpstreamRemoteReset", "upstream reset the connection (503)"),
    flag("UF", "UpstreamConnectionFailure", "could not connect to the upstream (503)"),
    flag("UC", "UpstreamConnectionTermination", "upstream connection terminated (503)"),
    flag("UO", "UpstreamOverflow", "upstream overflow: circuit breaker open (503)"),
    flag("NR", "NoRouteFound", "no route (404) or no filter chain for the connection"),
    flag("DI", "DelayInjected", "request delayed by fault injection"),
    flag("FI", "FaultInjected", "request aborted by fault injection"),
    flag("RL", "RateLimited", "rate limited locally by the HTTP rate limit filter (429)"),
    flag("UAEX", "UnauthorizedExternalService", "denied by the external authorization service"),
    flag("RLSE", "RateLimitServiceError", "rejected because the rate limit service failed"),
    flag("DC", "DownstreamConnectionTermination", "downstream connection terminated"),
    flag("URX", "UpstreamRetryLimitExceeded", "retry or connect-attempt limit reached"),
    flag("SI", "StreamIdleTimeout", "stream idle timeout (408 or 504)"),
    flag("IH", "InvalidEnvoyRequestHeaders", "invalid value in a strictly checked header (400)"),
    flag("DPE", "DownstreamProtocolError", "downstream request broke the HTTP protocol"),
    flag("UMSDR", "UpstreamMaxStreamDurationReached", "upstream max stream duration reached"),
    flag("RFCF", "ResponseFromCacheFilter", "response served by the cache filter"),
    flag("NFCF", "NoFilterConfigFound", "filter config missing at the warming deadline"),
    flag("DT", "DurationTimeout", "request or connection exceeded its max duration"),
    flag("UPE", "UpstreamProtocolError", "upstream response broke the HTTP protocol"),
    flag("NC", "NoClusterFound", "upstream cluster not found"),
    flag("OM", "OverloadManagerTerminated", "terminated by the overload manager"),
    flag("DF", "DnsResolutionFailed", "DNS resolution failed"),
    flag("DO", "DropOverload", "dropped by the cluster's drop_overloads policy (503)"),
    flag("DR", "DownstreamRemoteReset", "downstream reset the stream"),
    flag("UDO", "UnconditionalDropOverload", "dropped because drop_overloads is at 100% (503)"),
];

const _: () = assert!(FLAGS.len() <= u64::BITS as usize, "one bit per flag");

/// The set of known response flags in a `%RESPONSE_FLAGS%` or `%RESPONSE_FLAGS_LONG%`
/// value. Bit `i` stands for [`FLAGS`]`[i]`; bits past the table are never set.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct ResponseFlags(u64);

impl ResponseFlags {
    /// No flag: what Envoy prints as `-`.
    pub const EMPTY: Self = Self(0);
    /// Every known flag.
    pub const ALL: Self = Self(u64::MAX >> (u64::BITS as usize - FLAGS.len()));

    /// `LH`: the local service failed its health check.
    pub const FAILED_LOCAL_HEALTH_CHECK: Self = Self::named("LH");
    /// `UH`: no healthy host in the upstream cluster.
    pub const NO_HEALTHY_UPSTREAM: Self = Self::named("UH");
    /// `UT`: the upstream request timed out.
    pub const UPSTREAM_REQUEST_TIMEOUT: Self = Self::named("UT");
    /// `LR`: the connection was reset locally.
    pub const LOCAL_RESET: Self = Self::named("LR");
    /// `UR`: the upstream reset the connection.
    pub const UPSTREAM_REMOTE_RESET: Self = Self::named("UR");
    /// `UF`: could not connect to the upstream.
    pub const UPSTREAM_CONNECTION_FAILURE: Self = Self::named("UF");
    /// `UC`: the upstream connection was terminated.
    pub const UPSTREAM_CONNECTION_TERMINATION: Self = Self::named("UC");
    /// `UO`: upstream overflow (circuit breaker open).
    pub const UPSTREAM_OVERFLOW: Self = Self::named("UO");
    /// `NR`: no route for the request, or no filter chain for the connection.
    pub const NO_ROUTE_FOUND: Self = Self::named("NR");
    /// `DI`: the request was delayed by fault injection.
    pub const DELAY_INJECTED: Self = Self::named("DI");
    /// `FI`: the request was aborted by fault injection.
    pub const FAULT_INJECTED: Self = Self::named("FI");
    /// `RL`: rate limited locally.
    pub const RATE_LIMITED: Self = Self::named("RL");
    /// `UAEX`: denied by the external authorization service.
    pub const UNAUTHORIZED_EXTERNAL_SERVICE: Self = Self::named("UAEX");
    /// `RLSE`: the rate limit service failed.
    pub const RATE_LIMIT_SERVICE_ERROR: Self = Self::named("RLSE");
    /// `DC`: the downstream connection was terminated.
    pub const DOWNSTREAM_CONNECTION_TERMINATION: Self = Self::named("DC");
    /// `URX`: retry or connect-attempt limit reached.
    pub const UPSTREAM_RETRY_LIMIT_EXCEEDED: Self = Self::named("URX");
    /// `SI`: stream idle timeout.
    pub const STREAM_IDLE_TIMEOUT: Self = Self::named("SI");
    /// `IH`: invalid value in a strictly checked header.
    pub const INVALID_ENVOY_REQUEST_HEADERS: Self = Self::named("IH");
    /// `DPE`: the downstream request broke the HTTP protocol.
    pub const DOWNSTREAM_PROTOCOL_ERROR: Self = Self::named("DPE");
    /// `UMSDR`: the upstream request reached its max stream duration.
    pub const UPSTREAM_MAX_STREAM_DURATION_REACHED: Self = Self::named("UMSDR");
    /// `RFCF`: the response came from the cache filter.
    pub const RESPONSE_FROM_CACHE_FILTER: Self = Self::named("RFCF");
    /// `NFCF`: filter configuration not received in time.
    pub const NO_FILTER_CONFIG_FOUND: Self = Self::named("NFCF");
    /// `DT`: the request or connection exceeded its max duration.
    pub const DURATION_TIMEOUT: Self = Self::named("DT");
    /// `UPE`: the upstream response broke the HTTP protocol.
    pub const UPSTREAM_PROTOCOL_ERROR: Self = Self::named("UPE");
    /// `NC`: the upstream cluster was not found.
    pub const NO_CLUSTER_FOUND: Self = Self::named("NC");
    /// `OM`: terminated by the overload manager.
    pub const OVERLOAD_MANAGER_TERMINATED: Self = Self::named("OM");
    /// `DF`: DNS resolution failed.
    pub const DNS_RESOLUTION_FAILED: Self = Self::named("DF");
    /// `DO`: dropped by the cluster's drop_overloads policy.
    pub const DROP_OVERLOAD: Self = Self::named("DO");
    /// `DR`: the downstream reset the stream.
    pub const DOWNSTREAM_REMOTE_RESET: Self = Self::named("DR");
    /// `UDO`: dropped because drop_overloads is at 100%.
    pub const UNCONDITIONAL_DROP_OVERLOAD: Self = Self::named("UDO");

    /// The flag whose short name is `short`. Only used to define the constants above, so
    /// it runs at compile time: a name missing from [`FLAGS`] fails the build.
    const fn named(short: &str) -> Self {
        let mut i = 0;
        while i < FLAGS.len() {
            if const_str_eq(FLAGS[i].short, short) {
                return Self(1 << i);
            }
            i += 1;
        }
        panic!("flag constant names a short name missing from FLAGS")
    }

    /// Reads a `%RESPONSE_FLAGS%` or `%RESPONSE_FLAGS_LONG%` value: `-` or empty is the
    /// empty set; flags are joined by `,` (spaces around them are tolerated); short and
    /// long names may be mixed. Unknown names are skipped (see [`ResponseFlags::unknown`]).
    ///
    /// ```
    /// use meshlog_parsers::ResponseFlags;
    /// let flags = ResponseFlags::parse("UH, UpstreamConnectionFailure");
    /// assert_eq!(flags.names().collect::<Vec<_>>(), ["UH", "UF"]);
    /// assert!(ResponseFlags::parse("-").is_empty());
    /// ```
    pub fn parse(text: &str) -> Self {
        tokens(text).filter_map(Self::from_name).fold(Self::EMPTY, Self::union)
    }

    /// The names in `text` that are not known flags, in the order they appear.
    ///
    /// ```
    /// use meshlog_parsers::ResponseFlags;
    /// assert_eq!(ResponseFlags::unknown("UH,XYZ").collect::<Vec<_>>(), ["XYZ"]);
    /// ```
    pub fn unknown(text: &str) -> impl Iterator<Item = &str> {
        tokens(text).filter(|token| Self::from_name(token).is_none())
    }

    /// The flag with this short or long name (exact, case-sensitive).
    pub fn from_name(name: &str) -> Option<Self> {
        position(|info| info.short == name || info.long == name)
    }

    /// The flag with this short name, e.g. `UH`.
    pub fn from_short_name(short: &str) -> Option<Self> {
        position(|info| info.short == short)
    }

    /// The flag with this long name, e.g. `NoHealthyUpstream`.
    pub fn from_long_name(long: &str) -> Option<Self> {
        position(|info| info.long == long)
    }

    /// The table entry of a single flag; `None` unless exactly one flag is set.
    pub fn info(self) -> Option<&'static FlagInfo> {
        if self.len() != 1 {
            return None;
        }
        FLAGS.get(self.0.trailing_zeros() as usize)
    }

    /// The short name of a single flag; `None` unless exactly one flag is set.
    pub fn short_name(self) -> Option<&'static str> {
        self.info().map(|info| info.short)
    }

    /// The long name of a single flag; `None` unless exactly one flag is set.
    pub fn long_name(self) -> Option<&'static str> {
        self.info().map(|info| info.long)
    }

    /// What the flag named `name` (short or long) means, for reports.
    pub fn description(name: &str) -> Option<&'static str> {
        Self::from_name(name).and_then(Self::info).map(|info| info.description)
    }

    /// The table entries of the flags in the set, in [`FLAGS`] order.
    pub fn infos(self) -> impl Iterator<Item = &'static FlagInfo> {
        FLAGS
            .iter()
            .enumerate()
            .filter(move |(bit, _)| self.0 & (1 << bit) != 0)
            .map(|(_, info)| info)
    }

    /// The short names of the flags in the set, in [`FLAGS`] order: the order Envoy
    /// prints them in (`LH UH UT LR UR UF UC UO NR DI FI RL UAEX RLSE DC URX SI IH DPE
    /// UMSDR RFCF NFCF DT UPE NC OM DF DO DR UDO`).
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        self.infos().map(|info| info.short)
    }

    /// The long names of the flags in the set, in [`FLAGS`] order.
    pub fn long_names(self) -> impl Iterator<Item = &'static str> {
        self.infos().map(|info| info.long)
    }

    /// Whether every flag of `other` is in `self` (always true for an empty `other`).
    pub fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether `self` and `other` have a flag in common.
    pub fn intersects(self, other: Self) -> bool {
        self.0 & other.0 != 0
    }

    /// Whether no flag is set.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// How many flags are set.
    pub fn len(self) -> usize {
        self.0.count_ones() as usize
    }

    /// The raw bits (bit `i` is [`FLAGS`]`[i]`), e.g. to store in a column.
    pub fn bits(self) -> u64 {
        self.0
    }

    /// The set with these bits; bits past [`FLAGS`] are dropped.
    pub fn from_bits(bits: u64) -> Self {
        Self(bits & Self::ALL.0)
    }

    /// Adds the flags of `other`.
    pub fn insert(&mut self, other: Self) {
        self.0 |= other.0;
    }

    /// The flags in either set.
    pub fn union(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }
}

/// The non-empty, non-`-` names in a flags value, trimmed of ASCII spaces.
fn tokens(text: &str) -> impl Iterator<Item = &str> {
    text.split(',').map(str::trim_ascii).filter(|token| !token.is_empty() && *token != "-")
}

/// The single-flag set of the first table entry matching `pred`.
fn position(pred: impl Fn(&FlagInfo) -> bool) -> Option<ResponseFlags> {
    FLAGS.iter().position(pred).map(|bit| ResponseFlags(1 << bit))
}

const fn const_str_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

impl BitOr for ResponseFlags {
    type Output = Self;

    fn bitor(self, other: Self) -> Self {
        self.union(other)
    }
}

impl BitOrAssign for ResponseFlags {
    fn bitor_assign(&mut self, other: Self) {
        self.insert(other);
    }
}

/// Envoy's own `%RESPONSE_FLAGS%` text: `-` when empty, else short names joined by `,`.
impl fmt::Display for ResponseFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("-");
        }
        for (i, name) in self.names().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            f.write_str(name)?;
        }
        Ok(())
    }
}

impl fmt::Debug for ResponseFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ResponseFlags({self})")
    }
}

/// A list of short names, e.g. `["UH","UF"]`; the empty set is `[]`.
impl Serialize for ResponseFlags {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.names())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(flags: ResponseFlags) -> Vec<&'static str> {
        flags.names().collect()
    }

    #[test]
    fn every_short_name_parses_to_its_own_bit() {
        for (bit, info) in FLAGS.iter().enumerate() {
            let flags = ResponseFlags::parse(info.short);
            assert_eq!(flags.bits(), 1 << bit, "{}", info.short);
            assert_eq!(flags.short_name(), Some(info.short));
            assert_eq!(ResponseFlags::from_short_name(info.short), Some(flags));
            assert_eq!(ResponseFlags::from_long_name(info.short), None);
        }
    }

    #[test]
    fn every_long_name_parses_to_the_same_bit_as_its_short_name() {
        for info in &FLAGS {
            let flags = ResponseFlags::parse(info.long);
            assert_eq!(flags, ResponseFlags::parse(info.short), "{}", info.long);
            assert_eq!(flags.long_name(), Some(info.long));
            assert_eq!(ResponseFlags::from_long_name(info.long), Some(flags));
            assert_eq!(ResponseFlags::from_short_name(info.long), None);
        }
    }

    #[test]
    fn names_are_unique_and_described() {
        for (i, a) in FLAGS.iter().enumerate() {
            assert!(!a.description.is_empty());
            assert_eq!(ResponseFlags::description(a.short), Some(a.description));
            assert_eq!(ResponseFlags::description(a.long), Some(a.description));
            for b in FLAGS.iter().skip(i + 1) {
                assert!(a.short != b.short && a.long != b.long, "{} {}", a.short, b.short);
            }
        }
    }

    #[test]
    fn brief_pairs_match_envoy() {
        let pairs = [
            ("UH", "NoHealthyUpstream"),
            ("UF", "UpstreamConnectionFailure"),
            ("UO", "UpstreamOverflow"),
            ("NR", "NoRouteFound"),
            ("URX", "UpstreamRetryLimitExceeded"),
            ("NC", "NoClusterFound"),
            ("DT", "DurationTimeout"),
            ("DC", "DownstreamConnectionTermination"),
            ("LH", "FailedLocalHealthCheck"),
            ("UT", "UpstreamRequestTimeout"),
            ("LR", "LocalReset"),
            ("UR", "UpstreamRemoteReset"),
            ("UC", "UpstreamConnectionTermination"),
            ("DI", "DelayInjected"),
            ("FI", "FaultInjected"),
            ("RL", "RateLimited"),
            ("UAEX", "UnauthorizedExternalService"),
            ("RLSE", "RateLimitServiceError"),
            ("IH", "InvalidEnvoyRequestHeaders"),
            ("SI", "StreamIdleTimeout"),
            ("DPE", "DownstreamProtocolError"),
            ("UPE", "UpstreamProtocolError"),
            ("UMSDR", "UpstreamMaxStreamDurationReached"),
            ("RFCF", "ResponseFromCacheFilter"),
            ("NFCF", "NoFilterConfigFound"),
            ("OM", "OverloadManagerTerminated"),
            ("DF", "DnsResolutionFailed"),
            ("DO", "DropOverload"),
            ("DR", "DownstreamRemoteReset"),
            ("UDO", "UnconditionalDropOverload"),
        ];
        assert_eq!(pairs.len(), FLAGS.len());
        for (short, long) in pairs {
            assert_eq!(
                ResponseFlags::from_short_name(short).and_then(ResponseFlags::long_name),
                Some(long)
            );
        }
    }

    #[test]
    fn constants_name_their_flags() {
        assert_eq!(ResponseFlags::NO_HEALTHY_UPSTREAM.short_name(), Some("UH"));
        assert_eq!(ResponseFlags::UPSTREAM_CONNECTION_FAILURE.short_name(), Some("UF"));
        assert_eq!(ResponseFlags::UPSTREAM_OVERFLOW.long_name(), Some("UpstreamOverflow"));
        assert_eq!(ResponseFlags::OVERLOAD_MANAGER_TERMINATED.short_name(), Some("OM"));
        assert_eq!(ResponseFlags::UNCONDITIONAL_DROP_OVERLOAD.short_name(), Some("UDO"));
        assert_eq!(ResponseFlags::ALL.len(), FLAGS.len());
    }

    #[test]
    fn combinations_parse_in_any_order_and_spacing() {
        let expected =
            ResponseFlags::NO_HEALTHY_UPSTREAM | ResponseFlags::UPSTREAM_CONNECTION_FAILURE;
        for text in
            ["UH,UF", "UF,UH", "UH, UF", " UH , UF ", "UH,,UF", "NoHealthyUpstream,UF", "UH,UH,UF"]
        {
            assert_eq!(ResponseFlags::parse(text), expected, "{text:?}");
        }
        assert_eq!(names(expected), ["UH", "UF"]);
        assert_eq!(
            expected.long_names().collect::<Vec<_>>(),
            ["NoHealthyUpstream", "UpstreamConnectionFailure"]
        );
    }

    #[test]
    fn names_follow_envoy_print_order() {
        assert_eq!(names(ResponseFlags::parse("UDO,DC,UH,LH")), ["LH", "UH", "DC", "UDO"]);
    }

    #[test]
    fn dash_and_empty_are_the_empty_set() {
        for text in ["-", "", " ", ",", "-,-", " - "] {
            assert!(ResponseFlags::parse(text).is_empty(), "{text:?}");
            assert_eq!(ResponseFlags::unknown(text).count(), 0, "{text:?}");
        }
    }

    #[test]
    fn unknown_flags_are_skipped_and_listed() {
        let text = "UH,XYZ, uh ,NoSuchFlag,UF";
        assert_eq!(names(ResponseFlags::parse(text)), ["UH", "UF"]);
        assert_eq!(ResponseFlags::unknown(text).collect::<Vec<_>>(), ["XYZ", "uh", "NoSuchFlag"]);
    }

    #[test]
    fn garbage_does_not_panic() {
        for text in ["\u{0}", "UH UF", "||||", ",,,,", "\u{fffd}UH", "UHUF", "U", "-UH", "🙂,UH"]
        {
            let flags = ResponseFlags::parse(text);
            let _ = ResponseFlags::unknown(text).count();
            assert!(flags.is_empty() || flags == ResponseFlags::NO_HEALTHY_UPSTREAM, "{text:?}");
        }
    }

    #[test]
    fn set_operations() {
        let mut flags = ResponseFlags::EMPTY;
        assert!(flags.is_empty() && flags.contains(ResponseFlags::EMPTY));
        flags.insert(ResponseFlags::UPSTREAM_OVERFLOW);
        flags |= ResponseFlags::NO_ROUTE_FOUND;
        assert_eq!(flags.len(), 2);
        assert!(flags.contains(ResponseFlags::UPSTREAM_OVERFLOW));
        assert!(!flags.contains(ResponseFlags::UPSTREAM_OVERFLOW | ResponseFlags::LOCAL_RESET));
        assert!(flags.intersects(ResponseFlags::UPSTREAM_OVERFLOW | ResponseFlags::LOCAL_RESET));
        assert_eq!(flags.short_name(), None);
        assert_eq!(ResponseFlags::EMPTY.info(), None);
    }

    #[test]
    fn bits_round_trip_and_unknown_bits_are_dropped() {
        let flags = ResponseFlags::parse("UH,UF,DO");
        assert_eq!(ResponseFlags::from_bits(flags.bits()), flags);
        assert_eq!(ResponseFlags::from_bits(u64::MAX), ResponseFlags::ALL);
        assert_eq!(ResponseFlags::from_bits(1 << 63), ResponseFlags::EMPTY);
    }

    #[test]
    fn display_is_envoy_text_and_parses_back() {
        assert_eq!(ResponseFlags::EMPTY.to_string(), "-");
        assert_eq!(ResponseFlags::parse("UF,UH").to_string(), "UH,UF");
        assert_eq!(ResponseFlags::parse(&ResponseFlags::ALL.to_string()), ResponseFlags::ALL);
        assert_eq!(format!("{:?}", ResponseFlags::NO_HEALTHY_UPSTREAM), "ResponseFlags(UH)");
    }

    #[test]
    fn serializes_as_short_names() -> Result<(), serde_json::Error> {
        assert_eq!(serde_json::to_string(&ResponseFlags::parse("UF,UH"))?, r#"["UH","UF"]"#);
        assert_eq!(serde_json::to_string(&ResponseFlags::EMPTY)?, "[]");
        Ok(())
    }
}
