//! Writes a record back out as Envoy would have logged it with this format: absent
//! values as `-`, times in the operator's time format, `:N` limits applied. The
//! inverse of parsing, used by round-trip tests and by the traffic simulator.

use std::fmt::Write;

use super::operators::Slot;
use super::text::TextFormat;
use crate::record::{AccessLogRecord, FieldValue};

impl TextFormat {
    /// The line Envoy would log for `record` with this format (no trailing newline).
    pub fn render(&self, record: &AccessLogRecord<'_>) -> String {
        let mut line = String::with_capacity(256);
        line.push_str(&self.lead.text);
        for segment in &self.segments {
            let start = line.len();
            render_value(&segment.slot, record, &mut line);
            if let Some(max) = segment.max_len {
                truncate_at_char(&mut line, start.saturating_add(max));
            }
            line.push_str(&segment.literal.text);
        }
        line
    }
}

fn render_value(slot: &Slot, record: &AccessLogRecord<'_>, line: &mut String) {
    let value = match slot {
        Slot::Extra(name) => {
            let extra = record.extra.iter().find(|extra| extra.name == *name);
            let text = extra.and_then(|extra| extra.value.as_deref()).unwrap_or("-");
            line.push_str(text);
            return;
        }
        Slot::Time(format) => match record.ts {
            Some(ts) => return format.render(ts, line),
            None => FieldValue::Absent,
        },
        Slot::Column(field) => record.get(*field),
    };
    match value {
        FieldValue::Absent => line.push('-'),
        FieldValue::Text(text) => line.push_str(&text),
        FieldValue::Integer(number) => {
            let _ = write!(line, "{number}");
        }
        FieldValue::Time(ts) => line.push_str(&ts.to_rfc3339()),
    }
}

/// Truncates to at most `len` bytes without splitting a character.
fn truncate_at_char(line: &mut String, mut len: usize) {
    if len >= line.len() {
        return;
    }
    while !line.is_char_boundary(len) {
        len -= 1;
    }
    line.truncate(len);
}
