//! Timestamps and Envoy `START_TIME` formats. STUB: to be implemented.

/// Microseconds since the Unix epoch, UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    pub fn from_micros(micros: i64) -> Timestamp {
        Timestamp(micros)
    }

    pub fn micros(self) -> i64 {
        self.0
    }

    pub fn to_rfc3339(self) -> String {
        String::new()
    }
}

/// A compiled `%START_TIME(...)%` format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeFormat {
    spec: String,
}

/// Why a time format could not be compiled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeFormatError(pub String);

impl TimeFormat {
    pub const ENVOY_DEFAULT: &'static str = "%Y-%m-%dT%H:%M:%E3SZ";

    pub fn compile(spec: &str) -> Result<TimeFormat, TimeFormatError> {
        Ok(TimeFormat { spec: spec.to_owned() })
    }

    pub fn envoy_default() -> TimeFormat {
        TimeFormat { spec: Self::ENVOY_DEFAULT.to_owned() }
    }

    pub fn spec(&self) -> &str {
        &self.spec
    }

    pub fn parse(&self, _text: &str) -> Option<Timestamp> {
        None
    }

    pub fn render(&self, _ts: Timestamp, _out: &mut String) {}
}
