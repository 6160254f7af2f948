//! Envoy response flags as a set. STUB: to be implemented.

/// The set of known response flags in a `%RESPONSE_FLAGS%` value.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct ResponseFlags(u64);

impl ResponseFlags {
    pub fn parse(_text: &str) -> ResponseFlags {
        ResponseFlags(0)
    }

    pub fn names(self) -> impl Iterator<Item = &'static str> {
        std::iter::empty()
    }
}
