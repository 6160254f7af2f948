//! The prefixes multi-pod log tailers write in front of each line, naming the proxy:
//! stern's default template `{{.PodName}} {{.ContainerName}} {{.Message}}` (with
//! `{{.Namespace}} ` in front across namespaces, and `{{.Timestamp}} ` before the
//! message with `--timestamps`), and kubetail's `[POD] ` (one container) or
//! `[POD CONTAINER] ` (`[N:POD CONTAINER] ` with `--show-color-index`). Colours are
//! removed before (`ansi`). Names must be Kubernetes names whose first byte is a
//! lowercase letter, so Envoy's own `[2022-11-09T00:00:50.336Z] "GET …`, a
//! `[%START_TIME(%s)%]` stamp (`[1668…]`) and `ACCESS [` never match; a line that only
//! looks like a prefix is still read as it came (see `stream`).

use super::prefix::{
    MAX_CONTAINER_NAME, MAX_POD_NAME, is_label_byte, is_subdomain_byte, take_name,
};
use super::timestamp::{fits, parse_time, rfc3339_shape, split_timestamp};
use super::{Envelopes, RuntimeEnvelope};

/// A tailer's prefix split off the front of a line.
pub(super) struct TailPrefix<'a> {
    /// [`Envelopes::STERN`] or [`Envelopes::KUBETAIL`].
    pub(super) kind: Envelopes,
    pub(super) pod: &'a str,
    pub(super) container: Option<&'a str>,
    pub(super) rest: &'a [u8],
}

/// Reads a stern or kubetail prefix. `coloured` admits kubetail's colour index, which
/// it only prints in colour.
pub(super) fn tail_prefix(line: &[u8], coloured: bool) -> Option<TailPrefix<'_>> {
    match line.first()? {
        b'[' => kubetail_prefix(line, coloured),
        byte if byte.is_ascii_lowercase() => stern_prefix(line),
        _ => None,
    }
}

/// `[POD] `, `[POD CONTAINER] `, or (coloured) `[N:POD CONTAINER] `.
fn kubetail_prefix(line: &[u8], coloured: bool) -> Option<TailPrefix<'_>> {
    let names = line.strip_prefix(b"[")?;
    let names = if coloured { skip_colour_index(names) } else { names };
    let (pod, rest) = pod_name(names)?;
    let (container, rest) = match rest.strip_prefix(b" ") {
        Some(rest) => {
            let (container, rest) = take_name(rest, is_label_byte, MAX_CONTAINER_NAME)?;
            (Some(container), rest)
        }
        None => (None, rest),
    };
    let rest = rest.strip_prefix(b"] ")?;
    Some(TailPrefix { kind: Envelopes::KUBETAIL, pod, container, rest })
}

/// Skips kubetail's `N:` colour index, if there is one.
fn skip_colour_index(names: &[u8]) -> &[u8] {
    let digits = names.iter().take_while(|byte| byte.is_ascii_digit()).count();
    match names.get(digits..) {
        Some([b':', rest @ ..]) if digits > 0 => rest,
        _ => names,
    }
}

/// `POD CONTAINER `, or `NAMESPACE POD CONTAINER ` when a third name and a space follow
/// the second (an access log line never starts with a lowercase name and a space).
fn stern_prefix(line: &[u8]) -> Option<TailPrefix<'_>> {
    let (first, rest) = pod_name(line)?;
    let (second, rest) = take_name(rest.strip_prefix(b" ")?, is_subdomain_byte, MAX_POD_NAME)?;
    let rest = rest.strip_prefix(b" ")?;
    if let Some((container, message)) = name_and_space(rest)
        && is_label(first)
    {
        let kind = Envelopes::STERN;
        return Some(TailPrefix { kind, pod: second, container: Some(container), rest: message });
    }
    is_label(second).then_some(TailPrefix {
        kind: Envelopes::STERN,
        pod: first,
        container: Some(second),
        rest,
    })
}

/// A pod name: a DNS-1123 subdomain that starts with a lowercase letter.
fn pod_name(bytes: &[u8]) -> Option<(&str, &[u8])> {
    if !bytes.first()?.is_ascii_lowercase() {
        return None;
    }
    take_name(bytes, is_subdomain_byte, MAX_POD_NAME)
}

/// A container name that starts with a lowercase letter (so not stern's short stamp,
/// `11-09 09:00:50`), followed by a space, and what follows the space.
fn name_and_space(bytes: &[u8]) -> Option<(&str, &[u8])> {
    if !bytes.first()?.is_ascii_lowercase() {
        return None;
    }
    let (name, rest) = take_name(bytes, is_label_byte, MAX_CONTAINER_NAME)?;
    Some((name, rest.strip_prefix(b" ")?))
}

fn is_label(name: &str) -> bool {
    name.len() <= MAX_CONTAINER_NAME && name.bytes().all(is_label_byte)
}

/// Reads the stamp stern writes after its prefix with `--timestamps`: RFC 3339 with
/// nanoseconds in `--timezone` (`2006-01-02T15:04:05.000000000Z07:00`, so any offset,
/// unlike kubectl's UTC), or `--timestamps=short` (`01-02 15:04:05`, no year: the time
/// is not kept). Older stern printed the API's own UTC stamp, which kubectl's rule reads.
pub(super) fn tail_timestamp(body: &[u8]) -> Option<RuntimeEnvelope<'_>> {
    if let Some((short, rest)) = body.split_at_checked(SHORT_STAMP.len())
        && fits(short, SHORT_STAMP)
    {
        return Some(RuntimeEnvelope::around(Envelopes::TIMESTAMP, rest.into()));
    }
    let (time, line) = split_timestamp(body)?;
    rfc3339_shape(time)?;
    let mut envelope = RuntimeEnvelope::around(Envelopes::TIMESTAMP, line.into());
    envelope.time = parse_time(time);
    Some(envelope)
}

/// stern's `--timestamps=short` stamp and its space, `0` standing for a digit.
const SHORT_STAMP: &[u8] = b"00-00 00:00:00 ";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::tests::{ENVOY_LINE, POD, assert_untouched, time};
    use crate::envelope::unwrap;

    fn assert_tail(raw: &str, kind: Envelopes, pod: &str, container: Option<&str>) {
        let unwrapped = unwrap(raw.as_bytes());
        assert_eq!(&*unwrapped.line, ENVOY_LINE.as_bytes(), "{raw}");
        assert!(unwrapped.envelopes.contains(kind), "{raw}: {}", unwrapped.envelopes);
        assert_eq!(unwrapped.proxy.as_deref(), Some(pod), "{raw}");
        assert_eq!(unwrapped.container.as_deref(), container, "{raw}");
    }

    #[test]
    fn stern_default_template_with_and_without_namespace() {
        let stern = Envelopes::STERN;
        assert_tail(&format!("{POD} istio-proxy {ENVOY_LINE}"), stern, POD, Some("istio-proxy"));
        let across = format!("istio-system {POD} istio-proxy {ENVOY_LINE}");
        assert_tail(&across, stern, POD, Some("istio-proxy"));
        let dotted = format!("web-0.web istio-proxy {ENVOY_LINE}");
        assert_tail(&dotted, stern, "web-0.web", Some("istio-proxy"));
    }

    #[test]
    fn stern_in_colour_with_its_stamps() {
        let coloured = format!("\x1b[96m{POD}\x1b[0m \x1b[36mistio-proxy\x1b[0m {ENVOY_LINE}");
        assert_tail(&coloured, Envelopes::ANSI | Envelopes::STERN, POD, Some("istio-proxy"));
        let local = format!("{POD} istio-proxy 2022-11-09T09:00:50.418245811+09:00 {ENVOY_LINE}");
        assert_tail(&local, Envelopes::TIMESTAMP, POD, Some("istio-proxy"));
        let stamp = unwrap(local.as_bytes()).time;
        assert_eq!(stamp, time("2022-11-09T00:00:50.418245811Z"));
        let short = format!("{POD} istio-proxy 11-09 09:00:50 {ENVOY_LINE}");
        assert_tail(&short, Envelopes::TIMESTAMP, POD, Some("istio-proxy"));
        let namespaced = format!(
            "\x1b[96mistio-system\x1b[0m \x1b[96m{POD}\x1b[0m \x1b[36mistio-proxy\x1b[0m 2022-11-09T00:00:50.418245811Z {ENVOY_LINE}"
        );
        assert_tail(&namespaced, Envelopes::TIMESTAMP, POD, Some("istio-proxy"));
    }

    #[test]
    fn kubetail_prefixes_plain_and_coloured() {
        let kubetail = Envelopes::KUBETAIL;
        assert_tail(&format!("[{POD}] {ENVOY_LINE}"), kubetail, POD, None);
        let two = format!("[{POD} istio-proxy] {ENVOY_LINE}");
        assert_tail(&two, kubetail, POD, Some("istio-proxy"));
        // `--colored-output line` (the default on a terminal), 256 colours, the index.
        let coloured = format!(
            "\x1b[38;5;10m[\x1b(B\x1b[m2:\x1b[38;5;10m{POD} istio-proxy]\x1b(B\x1b[m \x1b[38;5;10m{ENVOY_LINE}\x1b(B\x1b[m"
        );
        assert_tail(&coloured, Envelopes::ANSI | kubetail, POD, Some("istio-proxy"));
        let single =
            format!("\x1b(B\x1b[m[\x1b(B\x1b[m\x1b(B\x1b[m{POD}]\x1b(B\x1b[m {ENVOY_LINE}");
        assert_tail(&single, kubetail, POD, None);
    }

    #[test]
    fn envoy_and_ambassador_lines_are_not_tailer_prefixes() {
        for raw in [
            ENVOY_LINE,
            r#"[1668000050] "GET / HTTP/1.1" 200"#,
            r#"[2022-11-09 00:00:50.336][15][info] starting"#,
            "[3:pod] uncoloured lines have no colour index",
            "[pod]x",
            "[pod c d] x",
            "[Pod] x",
            "pod container",
            "pod Container x",
            "+ istio-ingressgateway-7d9f8c6b5-x2x4q › istio-proxy",
        ] {
            assert_untouched(raw.as_bytes());
        }
        let ambassador = unwrap(br#"ACCESS [2022-11-09T00:00:50.336Z] "GET / HTTP/1.1" 200"#);
        assert_eq!((ambassador.envelopes, ambassador.proxy), (Envelopes::ACCESS, None));
    }

    #[test]
    fn stern_reads_the_first_two_names_when_no_third_follows() {
        let unwrapped = unwrap(b"pod-a istio-proxy {\"code\":200}");
        assert_eq!(&*unwrapped.line, b"{\"code\":200}");
        assert_eq!(unwrapped.proxy.as_deref(), Some("pod-a"));
        let dotted_pod_first = unwrap(b"web-0.web istio-proxy info started");
        assert_eq!(&*dotted_pod_first.line, b"info started");
    }
}
