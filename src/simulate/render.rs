//! Writes a [`Line`] as Envoy would log it with Istio's default text format (`istio`,
//! `-` for absent values, `"- - -"` for TCP) or Istio's JSON encoding (keys sorted as
//! Envoy prints them, numbers typed, `null` for absent values, `"-"` for no response
//! flags, the upstream service time as the header's string). Both append to a byte
//! buffer without allocating: each format is a table of (separator, value) pairs.
//! Speed matters here (benchmark inputs of millions of lines): the text of the current
//! second is cached, and JSON keys are copied with their punctuation in one piece.

use meshlog_parsers::Timestamp;

use super::OutputFormat;
use super::line::{Addr, Line};

/// One logged value.
#[derive(Debug, Clone, Copy)]
enum Value<'a> {
    Text(Option<&'a str>),
    Int(u64),
    /// A number carried by a header: a string in JSON.
    HeaderInt(Option<u64>),
    Time(i64),
    Addr(Option<Addr>),
    Ascii(Option<&'a [u8]>),
}

/// Writes lines in one format, remembering the text of the last whole second (lines
/// come in time order, so most share it).
#[derive(Debug, Clone)]
pub struct Renderer {
    format: OutputFormat,
    second: i64,
    /// `2026-11-01T10:00:50` for `second`.
    second_text: Vec<u8>,
}

impl Renderer {
    pub fn new(format: OutputFormat) -> Renderer {
        let mut second_text = Vec::with_capacity(24);
        push_second(&mut second_text, 0);
        Renderer { format, second: 0, second_text }
    }

    /// Appends `line` with its newline.
    pub fn write(&mut self, line: &Line, buf: &mut Vec<u8>) {
        match self.format {
            OutputFormat::Istio => self.write_istio(line, buf),
            OutputFormat::Json => self.write_json(line, buf),
        }
    }

    /// `%START_TIME%`'s default text: `2022-11-09T00:00:50.336Z`.
    pub fn push_time(&mut self, buf: &mut Vec<u8>, ms: i64) {
        let second = ms.div_euclid(1000);
        if second != self.second {
            self.second = second;
            self.second_text.clear();
            push_second(&mut self.second_text, second);
        }
        buf.extend_from_slice(&self.second_text);
        buf.push(b'.');
        push_fixed(buf, ms.rem_euclid(1000) as u64, 3);
        buf.push(b'Z');
    }

    fn write_istio(&mut self, line: &Line, buf: &mut Vec<u8>) {
        let request_id = line.request_id.as_ref().map(|id| &id[..]);
        let fields: [(&[u8], Value<'_>); 24] = [
            (b"[", Value::Time(line.start_ms)),
            (b"] \"", Value::Text(line.method)),
            (b" ", Value::Text(line.path)),
            (b" ", Value::Text(line.protocol)),
            (b"\" ", Value::Int(u64::from(line.response_code))),
            (b" ", Value::Text(line.response_flags)),
            (b" ", Value::Text(line.response_code_details)),
            (b" ", Value::Text(None)),
            (b" \"", Value::Text(line.upstream_transport_failure_reason)),
            (b"\" ", Value::Int(line.bytes_received)),
            (b" ", Value::Int(line.bytes_sent)),
            (b" ", Value::Int(line.duration_ms)),
            (b" ", Value::HeaderInt(line.upstream_service_time_ms)),
            (b" \"", Value::Text(line.x_forwarded_for)),
            (b"\" \"", Value::Text(line.user_agent)),
            (b"\" \"", Value::Ascii(request_id)),
            (b"\" \"", Value::Text(line.authority)),
            (b"\" \"", Value::Text(line.upstream_host)),
            (b"\" ", Value::Text(line.upstream_cluster)),
            (b" ", Value::Addr(line.upstream_local_address)),
            (b" ", Value::Text(Some(line.downstream_local_address))),
            (b" ", Value::Addr(Some(line.downstream_remote_address))),
            (b" ", Value::Text(line.requested_server_name)),
            (b" ", Value::Text(line.route_name)),
        ];
        for (separator, value) in fields {
            push_separator(buf, separator);
            self.push_text_value(buf, value);
        }
        buf.push(b'\n');
    }

    fn write_json(&mut self, line: &Line, buf: &mut Vec<u8>) {
        let request_id = line.request_id.as_ref().map(|id| &id[..]);
        let flags = line.response_flags.unwrap_or("-");
        let failure_reason = line.upstream_transport_failure_reason;
        let fields: [(&[u8], Value<'_>); 24] = [
            (b"{\"authority\":", Value::Text(line.authority)),
            (b",\"bytes_received\":", Value::Int(line.bytes_received)),
            (b",\"bytes_sent\":", Value::Int(line.bytes_sent)),
            (b",\"connection_termination_details\":", Value::Text(None)),
            (b",\"downstream_local_address\":", Value::Text(Some(line.downstream_local_address))),
            (b",\"downstream_remote_address\":", Value::Addr(Some(line.downstream_remote_address))),
            (b",\"duration\":", Value::Int(line.duration_ms)),
            (b",\"method\":", Value::Text(line.method)),
            (b",\"path\":", Value::Text(line.path)),
            (b",\"protocol\":", Value::Text(line.protocol)),
            (b",\"request_id\":", Value::Ascii(request_id)),
            (b",\"requested_server_name\":", Value::Text(line.requested_server_name)),
            (b",\"response_code\":", Value::Int(u64::from(line.response_code))),
            (b",\"response_code_details\":", Value::Text(line.response_code_details)),
            (b",\"response_flags\":", Value::Text(Some(flags))),
            (b",\"route_name\":", Value::Text(line.route_name)),
            (b",\"start_time\":", Value::Time(line.start_ms)),
            (b",\"upstream_cluster\":", Value::Text(line.upstream_cluster)),
            (b",\"upstream_host\":", Value::Text(line.upstream_host)),
            (b",\"upstream_local_address\":", Value::Addr(line.upstream_local_address)),
            (b",\"upstream_service_time\":", Value::HeaderInt(line.upstream_service_time_ms)),
            (b",\"upstream_transport_failure_reason\":", Value::Text(failure_reason)),
            (b",\"user_agent\":", Value::Text(line.user_agent)),
            (b",\"x_forwarded_for\":", Value::Text(line.x_forwarded_for)),
        ];
        for (key, value) in fields {
            buf.extend_from_slice(key);
            self.push_json_value(buf, value);
        }
        buf.extend_from_slice(b"}\n");
    }

    fn push_text_value(&mut self, buf: &mut Vec<u8>, value: Value<'_>) {
        match value {
            Value::Text(Some(text)) => buf.extend_from_slice(text.as_bytes()),
            Value::Ascii(Some(text)) => buf.extend_from_slice(text),
            Value::Int(number) | Value::HeaderInt(Some(number)) => push_u64(buf, number),
            Value::Time(ms) => self.push_time(buf, ms),
            Value::Addr(Some(addr)) => push_addr(buf, addr),
            Value::Text(None) | Value::Ascii(None) | Value::HeaderInt(None) | Value::Addr(None) => {
                buf.push(b'-')
            }
        }
    }

    fn push_json_value(&mut self, buf: &mut Vec<u8>, value: Value<'_>) {
        match value {
            Value::Text(Some(text)) => push_json_string(buf, text.as_bytes()),
            Value::Ascii(Some(text)) => push_json_string(buf, text),
            Value::Int(number) => push_u64(buf, number),
            Value::HeaderInt(Some(_)) | Value::Time(_) | Value::Addr(Some(_)) => {
                buf.push(b'"');
                self.push_text_value(buf, value);
                buf.push(b'"');
            }
            Value::Text(None) | Value::Ascii(None) | Value::HeaderInt(None) | Value::Addr(None) => {
                buf.extend_from_slice(b"null")
            }
        }
    }
}

/// One-byte separators are pushed, longer ones copied.
fn push_separator(buf: &mut Vec<u8>, separator: &[u8]) {
    match separator {
        [byte] => buf.push(*byte),
        _ => buf.extend_from_slice(separator),
    }
}

/// A JSON string. The mesh tables hold plain ASCII, so the check comes first (without
/// an early exit, which lets it run on whole vectors); escaping is the rare path.
fn push_json_string(buf: &mut Vec<u8>, text: &[u8]) {
    buf.push(b'"');
    if !text.iter().fold(false, |found, &byte| found | needs_escape(byte)) {
        buf.extend_from_slice(text);
        buf.push(b'"');
        return;
    }
    let mut rest = text;
    while let Some(at) = rest.iter().position(|&byte| needs_escape(byte)) {
        buf.extend_from_slice(&rest[..at]);
        push_escaped(buf, rest[at]);
        rest = &rest[at + 1..];
    }
    buf.extend_from_slice(rest);
    buf.push(b'"');
}

fn needs_escape(byte: u8) -> bool {
    byte == b'"' || byte == b'\\' || byte < 0x20
}

fn push_escaped(buf: &mut Vec<u8>, byte: u8) {
    if byte == b'"' || byte == b'\\' {
        buf.extend_from_slice(&[b'\\', byte]);
        return;
    }
    buf.extend_from_slice(b"\\u00");
    push_fixed(buf, u64::from(byte >> 4), 1);
    buf.push(b"0123456789abcdef"[usize::from(byte & 0xf)]);
}

/// `2022-11-09T00:00:50`: a whole second since the epoch as `%START_TIME%` prints it.
fn push_second(buf: &mut Vec<u8>, second: i64) {
    let civil = Timestamp::from_micros(second.saturating_mul(1_000_000)).to_civil();
    push_fixed(buf, u64::try_from(civil.year).unwrap_or(0), 4);
    let parts = [
        (b'-', civil.month),
        (b'-', civil.day),
        (b'T', civil.hour),
        (b':', civil.minute),
        (b':', civil.second),
    ];
    for (separator, value) in parts {
        buf.push(separator);
        push_fixed(buf, u64::from(value), 2);
    }
}

fn push_addr(buf: &mut Vec<u8>, addr: Addr) {
    buf.extend_from_slice(addr.ip.as_bytes());
    buf.push(b':');
    push_u64(buf, u64::from(addr.port));
}

/// `number` in decimal.
fn push_u64(buf: &mut Vec<u8>, mut number: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (number % 10) as u8;
        number /= 10;
        if number == 0 {
            break;
        }
    }
    buf.extend_from_slice(&digits[at..]);
}

/// The last `width` decimal digits of `number`, zero-padded.
fn push_fixed(buf: &mut Vec<u8>, mut number: u64, width: usize) {
    let start = buf.len();
    buf.resize(start + width, b'0');
    for slot in buf[start..].iter_mut().rev() {
        *slot = b'0' + (number % 10) as u8;
        number /= 10;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_print_like_envoy_across_seconds() {
        let mut renderer = Renderer::new(OutputFormat::Istio);
        let mut buf = Vec::new();
        for ms in [1_667_952_050_336, 1_667_952_050_999, 1_667_952_051_000, 0] {
            renderer.push_time(&mut buf, ms);
            buf.push(b' ');
        }
        let expected = "2022-11-09T00:00:50.336Z 2022-11-09T00:00:50.999Z \
                        2022-11-09T00:00:51.000Z 1970-01-01T00:00:00.000Z ";
        assert_eq!(String::from_utf8(buf).unwrap(), expected);
    }

    #[test]
    fn numbers_and_escapes() {
        let mut buf = Vec::new();
        push_u64(&mut buf, 0);
        buf.push(b' ');
        push_u64(&mut buf, u64::MAX);
        buf.push(b' ');
        push_json_string(&mut buf, b"a\"b\\c\n");
        assert_eq!(String::from_utf8(buf).unwrap(), r#"0 18446744073709551615 "a\"b\\c\u000a""#);
    }
}
