//! What a finished reading says about itself: whether the line might read a second
//! way (so the matcher must look for one before the reading is trusted), and how
//! doubtful it is for `auto` (free-text values holding a `"`). Both look only at
//! the record, so they serve the fast path and the matcher alike.

use super::{Separator, TextFormat};
use crate::field::ValueClass;
use crate::format::operators::Slot;
use crate::record::{AccessLogRecord, FieldValue};

impl TextFormat {
    /// Whether another reading might exist: some value holds the literal of a
    /// segment whose value could have ended at several places (`" "` inside a
    /// header, `,` inside a comma-joined value). Spaces alone are left out: a space
    /// inside a user agent after a free-text path is no separator a later token
    /// could take. Lines with no such value skip the second search.
    ///
    /// The common case costs nothing more: only free-text values may hold a `"`
    /// (every other class refuses it), stores note whether one did
    /// (`quote_in_free_text`), and without one no value holds a separator that
    /// contains a `"`.
    pub(super) fn may_read_two_ways(
        &self,
        record: &AccessLogRecord<'_>,
        quote_in_free_text: bool,
    ) -> bool {
        let quotes_only_in_literals = !quote_in_free_text;
        if quotes_only_in_literals && !self.plain_separators {
            return false;
        }
        let segments = &self.segments;
        segments.iter().enumerate().any(|(index, segment)| {
            let may_hide = match segment.separates {
                Separator::No => false,
                Separator::Quoted => !quotes_only_in_literals,
                Separator::Plain => true,
            };
            let literal = segment.literal.text.as_ref();
            may_hide && segments[index..].iter().any(|later| holds(record, &later.slot, literal))
        })
    }

    /// How many free-text values of the reading hold a `"`.
    pub(super) fn doubt(&self, record: &AccessLogRecord<'_>) -> u32 {
        let text_segments = self.segments.iter().filter(|s| s.class == ValueClass::Text);
        let doubtful = text_segments.filter(|segment| holds(record, &segment.slot, "\"")).count();
        u32::try_from(doubtful).unwrap_or(u32::MAX)
    }
}

/// Whether the text value stored for `slot` contains `needle`.
fn holds(record: &AccessLogRecord<'_>, slot: &Slot, needle: &str) -> bool {
    let value = match slot {
        Slot::Extra(name) => {
            let extra = record.extra.iter().find(|extra| extra.name == *name);
            extra.and_then(|extra| extra.value.as_deref())
        }
        slot => match slot.field().map(|field| record.get(field)) {
            Some(FieldValue::Text(text)) => return text.contains(needle),
            _ => None,
        },
    };
    value.is_some_and(|text| text.contains(needle))
}
