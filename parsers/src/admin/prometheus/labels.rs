//! The `{name="value",…}` part of a Prometheus sample line: reading it (with the
//! exposition format's escapes `\\`, `\"` and `\n`; any other `\x` is kept as written)
//! and writing the labels back, sorted by name, into a stat name. Scans bytes and only
//! slices at ASCII delimiters, so it never splits a character and never panics.

use std::borrow::Cow;

/// One label of a sample, its value unescaped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Label<'a> {
    pub name: &'a str,
    pub value: Cow<'a, str>,
}

/// Reads the labels after the opening `{` up to and including the closing `}`, and
/// returns them with the text after the `}`. Whitespace between parts and a trailing
/// comma are allowed.
pub(crate) fn parse_labels(text: &str) -> Result<(Vec<Label<'_>>, &str), String> {
    let bytes = text.as_bytes();
    let mut labels = Vec::new();
    let mut pos = skip_spaces(bytes, 0);
    loop {
        match bytes.get(pos) {
            None => return Err("labels have no closing }".to_owned()),
            Some(b'}') => return Ok((labels, &text[pos + 1..])),
            Some(_) => {}
        }
        let (label, end) = read_label(text, pos)?;
        labels.push(label);
        pos = skip_spaces(bytes, end);
        match bytes.get(pos) {
            Some(b',') => pos = skip_spaces(bytes, pos + 1),
            Some(b'}') => {}
            _ => return Err(format!("expected , or }} after label {:?}", text_before(text, pos))),
        }
    }
}

/// `name = "value"` starting at `start`; returns the label and the index after it.
fn read_label(text: &str, start: usize) -> Result<(Label<'_>, usize), String> {
    let bytes = text.as_bytes();
    let mut pos = start;
    while bytes.get(pos).is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_') {
        pos += 1;
    }
    if pos == start {
        return Err(
            "a label name is missing or has a character Prometheus does not allow".to_owned()
        );
    }
    let name = &text[start..pos];
    pos = skip_spaces(bytes, pos);
    if bytes.get(pos) != Some(&b'=') {
        return Err(format!("label {name:?} has no ="));
    }
    pos = skip_spaces(bytes, pos + 1);
    if bytes.get(pos) != Some(&b'"') {
        return Err(format!("label {name:?} has no quoted value"));
    }
    let (value, end) =
        read_quoted(text, pos + 1).ok_or_else(|| format!("label {name:?} has no closing quote"))?;
    Ok((Label { name, value }, end))
}

/// The value from `start` to the next unescaped `"`, unescaped, and the index after
/// that quote.
fn read_quoted(text: &str, start: usize) -> Option<(Cow<'_, str>, usize)> {
    let bytes = text.as_bytes();
    let mut pos = start;
    let mut escaped = false;
    while let Some(&byte) = bytes.get(pos) {
        match byte {
            b'\\' => {
                escaped = true;
                pos += 2;
            }
            b'"' => return Some((unescape(&text[start..pos], escaped), pos + 1)),
            _ => pos += 1,
        }
    }
    None
}

fn unescape(raw: &str, escaped: bool) -> Cow<'_, str> {
    if !escaped {
        return Cow::Borrowed(raw);
    }
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some(other @ ('\\' | '"')) => out.push(other),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    Cow::Owned(out)
}

fn skip_spaces(bytes: &[u8], mut pos: usize) -> usize {
    while bytes.get(pos).is_some_and(|b| *b == b' ' || *b == b'\t') {
        pos += 1;
    }
    pos
}

/// Up to 40 bytes before `pos`, for messages.
fn text_before(text: &str, pos: usize) -> &str {
    let mut start = pos.saturating_sub(40).min(text.len());
    while !text.is_char_boundary(start) {
        start -= 1;
    }
    let end = pos.min(text.len());
    text.get(start..end).unwrap_or_default()
}

/// `{a="1",b="x\"y"}` with the labels sorted by name (stable, so repeated names keep
/// their order) and values escaped again; empty when there are none.
pub(crate) fn render_labels(labels: &mut [Label<'_>]) -> String {
    if labels.is_empty() {
        return String::new();
    }
    labels.sort_by(|a, b| a.name.cmp(b.name));
    let mut out = String::from("{");
    for (index, label) in labels.iter().enumerate() {
        if index > 0 {
            out.push(',');
        }
        out.push_str(label.name);
        out.push_str("=\"");
        push_escaped(&mut out, &label.value);
        out.push('"');
    }
    out.push('}');
    out
}

fn push_escaped(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            other => out.push(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(text: &str) -> (Vec<(&str, String)>, &str) {
        let (labels, rest) = parse_labels(text).unwrap();
        (labels.into_iter().map(|l| (l.name, l.value.into_owned())).collect(), rest)
    }

    #[test]
    fn plain_labels() {
        assert_eq!(
            pairs("a=\"1\",b=\"two\"} 3"),
            (vec![("a", "1".to_owned()), ("b", "two".to_owned())], " 3")
        );
    }

    #[test]
    fn empty_braces_spaces_and_trailing_comma() {
        assert_eq!(pairs("} 1"), (vec![], " 1"));
        assert_eq!(
            pairs(" a = \"1\" , b=\"2\", } 1"),
            (vec![("a", "1".to_owned()), ("b", "2".to_owned())], " 1")
        );
    }

    #[test]
    fn escapes() {
        assert_eq!(
            pairs(
                r#"a="say \"hi\"",b="C:\\temp",c="two\nlines",d="keep \t",e="}, not the end"} 1"#
            )
            .0,
            vec![
                ("a", "say \"hi\"".to_owned()),
                ("b", "C:\\temp".to_owned()),
                ("c", "two\nlines".to_owned()),
                ("d", "keep \\t".to_owned()),
                ("e", "}, not the end".to_owned()),
            ]
        );
    }

    #[test]
    fn render_sorts_and_escapes() {
        let (mut labels, _) = parse_labels(r#"z="1",a="q\"\\\n"} 1"#).unwrap();
        assert_eq!(render_labels(&mut labels), r#"{a="q\"\\\n",z="1"}"#);
        assert_eq!(render_labels(&mut []), "");
    }

    #[test]
    fn broken_labels_are_errors() {
        for text in [
            "a=\"1\"",
            "a=1}",
            "a\"1\"}",
            "=\"1\"}",
            "a=\"1\" b=\"2\"}",
            "a=\"open}",
            "a-b=\"1\"}",
            "a=\"\\\"}",
        ] {
            assert!(parse_labels(text).is_err(), "{text}");
        }
    }

    #[test]
    fn multibyte_text_does_not_panic() {
        for text in ["é=\"1\"}", "a=\"\\é\"}", "a=\"é\"é}", "a=\"1\"\u{2028}}", "\\é"] {
            let _ = parse_labels(text);
        }
        assert_eq!(pairs("a=\"\\é\"}").0, vec![("a", "\\é".to_owned())]);
    }
}
