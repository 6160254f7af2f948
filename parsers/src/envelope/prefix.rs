//! Plain-text prefixes that carry no runtime envelope: the `[pod/NAME/CONTAINER] ` that
//! `kubectl logs --prefix` writes in front of every line, naming the proxy and its
//! container, and the `ACCESS ` that Ambassador and Emissary write in front of the access
//! log itself. Both are matched exactly, so an Envoy line's own `[2022-…]` never is one.

use std::borrow::Cow;

use super::{Envelopes, Unwrapped};

/// The longest pod name (DNS-1123 subdomain) and container name (DNS-1123 label).
pub(super) const MAX_POD_NAME: usize = 253;
pub(super) const MAX_CONTAINER_NAME: usize = 63;

/// Removes Ambassador's `ACCESS ` prefix.
pub(super) fn peel_access(unwrapped: &mut Unwrapped<'_>) {
    if strip_prefix(&mut unwrapped.line, b"ACCESS ") {
        unwrapped.envelopes |= Envelopes::ACCESS;
    }
}

/// `[pod/NAME/CONTAINER] ` split off the front of a line.
pub(super) struct KubectlPrefix<'a> {
    pub(super) pod: &'a str,
    pub(super) container: &'a str,
    pub(super) rest: &'a [u8],
}

/// Reads a `kubectl logs --prefix` prefix: exactly `[pod/NAME/CONTAINER] ` with
/// Kubernetes name characters, so an Envoy line's `[2022-…]` never matches.
pub(super) fn kubectl_prefix(line: &[u8]) -> Option<KubectlPrefix<'_>> {
    let names = line.strip_prefix(b"[pod/")?;
    let (pod, rest) = take_name(names, is_subdomain_byte, MAX_POD_NAME)?;
    let rest = rest.strip_prefix(b"/")?;
    let (container, rest) = take_name(rest, is_label_byte, MAX_CONTAINER_NAME)?;
    let rest = rest.strip_prefix(b"] ")?;
    Some(KubectlPrefix { pod, container, rest })
}

/// Splits a non-empty run of name bytes, at most `max` long, off the front of `bytes`.
pub(super) fn take_name(
    bytes: &[u8],
    allowed: fn(u8) -> bool,
    max: usize,
) -> Option<(&str, &[u8])> {
    let len = bytes.iter().take_while(|&&byte| allowed(byte)).count();
    if len == 0 || len > max {
        return None;
    }
    let (name, rest) = bytes.split_at_checked(len)?;
    Some((std::str::from_utf8(name).ok()?, rest))
}

pub(super) fn is_label_byte(byte: u8) -> bool {
    byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-'
}

pub(super) fn is_subdomain_byte(byte: u8) -> bool {
    is_label_byte(byte) || byte == b'.'
}

/// Removes `prefix` from the front of `line`, if it is there.
fn strip_prefix(line: &mut Cow<'_, [u8]>, prefix: &[u8]) -> bool {
    if !line.starts_with(prefix) {
        return false;
    }
    match line {
        Cow::Borrowed(bytes) => *bytes = bytes.get(prefix.len()..).unwrap_or_default(),
        Cow::Owned(bytes) => drop(bytes.drain(..prefix.len().min(bytes.len()))),
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::tests::{ENVOY_LINE, POD, assert_untouched};
    use crate::envelope::unwrap;

    #[test]
    fn kubectl_prefix_gives_proxy_and_container() {
        let raw = format!("[pod/{POD}/istio-proxy] {ENVOY_LINE}");
        let unwrapped = unwrap(raw.as_bytes());
        assert_eq!(&*unwrapped.line, ENVOY_LINE.as_bytes());
        assert_eq!(unwrapped.proxy.as_deref(), Some(POD));
        assert_eq!(unwrapped.container.as_deref(), Some("istio-proxy"));
        assert_eq!(unwrapped.envelopes, Envelopes::PREFIX);
        assert!(matches!(unwrapped.line, Cow::Borrowed(_)));
    }

    #[test]
    fn almost_prefixes_pass_through() {
        for raw in [
            "[pod/x] GET /",
            "[pod/a/b]",
            "[pod/a/b]GET /",
            "[pod//b] GET /",
            "[pod/a/] GET /",
            "[pod/A/b] GET /",
            "[pod/a/b.c] GET /",
            "[pod/a/b/c] GET /",
            "[deployment/a/b] GET /",
            "[pod/",
        ] {
            assert_untouched(raw.as_bytes());
        }
        let long_pod = format!("[pod/{}/c] x", "a".repeat(MAX_POD_NAME + 1));
        assert_untouched(long_pod.as_bytes());
    }

    #[test]
    fn ambassador_access_prefix() {
        let raw = format!("ACCESS {ENVOY_LINE}");
        let unwrapped = unwrap(raw.as_bytes());
        assert_eq!(&*unwrapped.line, ENVOY_LINE.as_bytes());
        assert_eq!(unwrapped.envelopes, Envelopes::ACCESS);
        assert_untouched(b"ACCESSED [x]");
    }
}
