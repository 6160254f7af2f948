//! Pure, synchronous parsers for Envoy and Istio access logs.
//!
//! ```text
//! bytes ─ envelope::EnvelopeDecoder ─▶ inner line ─ LineParser (Format | Auto) ─▶ AccessLogRecord
//!                                                     ▲
//!                         format::Format::compile("<Envoy format string>" | preset | JSON)
//! ```
//!
//! No I/O, no async, no Arrow: callers hand in bytes and get typed, borrowed records or
//! a [`ParseError`] that says why and where. Nothing here panics on any input.

pub mod admin;
pub mod auto;
pub mod cluster_name;
pub mod envelope;
pub mod error;
pub mod field;
pub mod flags;
pub mod format;
pub mod parser;
pub mod presets;
pub mod record;
pub mod stream;
pub mod time_format;

pub use cluster_name::{ClusterName, Direction};
pub use error::{ErrorKind, ParseError};
pub use field::{Field, ValueClass};
pub use flags::ResponseFlags;
pub use format::{Format, FormatError, JsonFormat, TextFormat};
pub use parser::{LineParser, Parsed};
pub use record::{AccessLogRecord, ExtraField, FieldValue};
pub use time_format::{TimeFormat, Timestamp};
