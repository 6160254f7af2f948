//! Getting bytes in: framing input streams into lines with bounded memory.

pub mod lines;
