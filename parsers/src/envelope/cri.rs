//! CRI lines, as containerd and CRI-O write them under `/var/log/pods`:
//! `<RFC 3339 time> <stdout|stderr> <F|P> <line>`, where `P` marks a piece of a line the
//! runtime split and `F` its last piece (or a whole line); some old runtimes wrote no tag.
//! Joining the pieces is the decoder's business, not this file's.

use std::borrow::Cow;

use super::timestamp::{parse_time, rfc3339_shape, split_timestamp};
use super::{Envelopes, RuntimeEnvelope, Stream};

/// Reads a CRI line: `<RFC 3339 time> <stdout|stderr> <F|P> <line>`, or without the
/// `F`/`P` tag as some old runtimes wrote it.
pub(super) fn cri_line(body: &[u8]) -> Option<RuntimeEnvelope<'_>> {
    let (time, rest) = split_timestamp(body)?;
    rfc3339_shape(time)?;
    let (word, rest) = split_once(rest, b' ')?;
    let stream = Stream::from_word(word)?;
    let (partial, line) = match rest {
        [b'F'] => (false, &[][..]),
        [b'P'] => (true, &[][..]),
        [b'F', b' ', line @ ..] => (false, line),
        [b'P', b' ', line @ ..] => (true, line),
        line => (false, line),
    };
    let mut envelope = RuntimeEnvelope::around(Envelopes::CRI, Cow::Borrowed(line));
    envelope.time = parse_time(time);
    envelope.stream = Some(stream);
    envelope.partial = partial;
    Some(envelope)
}

/// Splits `bytes` around the first `separator`.
fn split_once(bytes: &[u8], separator: u8) -> Option<(&[u8], &[u8])> {
    let at = memchr::memchr(separator, bytes)?;
    let (head, rest) = bytes.split_at_checked(at)?;
    Some((head, rest.get(1..)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::tests::{ENVOY_LINE, KUBECTL_TIME, time};
    use crate::envelope::unwrap;

    #[test]
    fn cri_full_line() {
        let raw = format!("{KUBECTL_TIME} stdout F {ENVOY_LINE}");
        let unwrapped = unwrap(raw.as_bytes());
        assert_eq!(&*unwrapped.line, ENVOY_LINE.as_bytes());
        assert_eq!(unwrapped.stream, Some(Stream::Stdout));
        assert_eq!(unwrapped.time, time(KUBECTL_TIME));
        assert_eq!(unwrapped.envelopes, Envelopes::CRI);
        assert!(!unwrapped.partial);
    }

    #[test]
    fn cri_partial_stderr_offset_and_old_forms() {
        let partial =
            unwrap(b"2022-11-09T01:00:50.1+01:00 stderr P [2022-11-09T00:00:50.336Z] \"GE");
        assert_eq!(&*partial.line, b"[2022-11-09T00:00:50.336Z] \"GE");
        assert_eq!(partial.stream, Some(Stream::Stderr));
        assert!(partial.partial);

        let untagged = unwrap(b"2016-10-06T00:17:09.669794202Z stdout Fetched 3 items");
        assert_eq!(&*untagged.line, b"Fetched 3 items");
        assert_eq!(untagged.envelopes, Envelopes::CRI);

        let empty = unwrap(b"2016-10-06T00:17:09.669794202Z stdout F ");
        assert_eq!(&*empty.line, b"");
        assert_eq!(empty.envelopes, Envelopes::CRI);
    }
}
