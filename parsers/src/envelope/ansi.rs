//! ANSI escape sequences, as multi-pod tailers write them around pod and container
//! names (and around whole lines) on a terminal or with `--color always`: stern's
//! `\x1b[96m…\x1b[0m` (fatih/color), kubetail's `tput setaf N` / `tput sgr0`
//! (`\x1b[32m`, `\x1b[38;5;120m`, `\x1b(B\x1b[m`). Only a line that starts with an
//! escape is stripped, and then throughout, since kubetail colours the line itself too.

/// The escape byte that starts every sequence.
pub(super) const ESC: u8 = 0x1b;

/// `line` without its escape sequences: CSI sequences (`ESC [` parameters, then a final
/// byte, such as SGR colours `ESC [ 1;32 m`), character-set designations (`ESC ( B`)
/// and any other two-byte `ESC x`. A sequence cut short by the end of the line is
/// dropped.
pub(super) fn strip(line: &[u8]) -> Vec<u8> {
    let mut plain = Vec::with_capacity(line.len());
    let mut rest = line;
    while let Some(at) = memchr::memchr(ESC, rest) {
        let (text, sequence) = rest.split_at(at);
        plain.extend_from_slice(text);
        rest = sequence.get(sequence_len(sequence)..).unwrap_or_default();
    }
    plain.extend_from_slice(rest);
    plain
}

/// The length of the escape sequence at the start of `bytes` (which starts with ESC).
fn sequence_len(bytes: &[u8]) -> usize {
    match bytes.get(1) {
        Some(b'[') => {
            let body = bytes.get(2..).unwrap_or_default();
            let params = body.iter().take_while(|byte| (0x20..=0x3f).contains(*byte)).count();
            let ends = body.get(params).is_some_and(|byte| (0x40..=0x7e).contains(byte));
            2 + params + usize::from(ends)
        }
        Some(b'(' | b')' | b'*' | b'+') => 3,
        Some(_) => 2,
        None => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_stern_and_kubetail_colours() {
        let stern =
            b"\x1b[96mistio-ingressgateway-7d9f8c6b5-x2x4q\x1b[0m \x1b[36mistio-proxy\x1b[0m [2022";
        assert_eq!(strip(stern), b"istio-ingressgateway-7d9f8c6b5-x2x4q istio-proxy [2022");
        let kubetail = b"\x1b[38;5;120m[\x1b(B\x1b[m3:\x1b[38;5;120mpod c]\x1b(B\x1b[m \x1b[38;5;120mline\x1b(B\x1b[m";
        assert_eq!(strip(kubetail), b"[3:pod c] line");
        let bold_underline = b"\x1b[1;4;31mpod\x1b[0m";
        assert_eq!(strip(bold_underline), b"pod");
    }

    #[test]
    fn cut_sequences_and_lone_escapes_go() {
        assert_eq!(strip(b"a\x1b[12"), b"a");
        assert_eq!(strip(b"a\x1b"), b"a");
        assert_eq!(strip(b"a\x1b(Bb"), b"ab");
        assert_eq!(strip(b"a\x1bcb"), b"ab");
        assert_eq!(strip(b"\x1b[\xffx"), b"\xffx");
        assert_eq!(strip(b"no escapes"), b"no escapes");
    }
}
