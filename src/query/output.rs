//! How a query result is printed: an aligned text table for people, CSV with a
//! header for spreadsheets, or one JSON array of objects for scripts (`jq`). Nulls
//! print as empty cells in the table and CSV and as `null` in JSON; timestamps print
//! as RFC 3339 strings (`2026-11-01T10:00:00Z`, `Z` for UTC) in all three: arrow's
//! default rendering of a timestamp with a time zone.

use std::fmt;
use std::io::Write;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use arrow::error::ArrowError;
use arrow::json::writer::JsonArray;

use super::QueryError;

/// `--output`: how a result is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum OutputFormat {
    /// An aligned text table.
    #[default]
    Table,
    /// CSV with a header line.
    Csv,
    /// One JSON array of objects keyed by column name.
    Json,
}

impl fmt::Display for OutputFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            OutputFormat::Table => "table",
            OutputFormat::Csv => "csv",
            OutputFormat::Json => "json",
        })
    }
}

/// Writes `batches` (of `schema`, which gives the header of an empty result) to `out`.
pub fn write_batches(
    format: OutputFormat,
    schema: &SchemaRef,
    batches: &[RecordBatch],
    out: &mut dyn Write,
) -> Result<(), QueryError> {
    let written = match format {
        OutputFormat::Table => write_table(schema, batches, out),
        OutputFormat::Csv => write_csv(schema, batches, out),
        OutputFormat::Json => write_json(batches, out),
    };
    written.map_err(|source| match source {
        ArrowError::IoError(_, error) => QueryError::Write(error),
        source => QueryError::Format { format, source },
    })
}

fn write_table(
    schema: &SchemaRef,
    batches: &[RecordBatch],
    out: &mut dyn Write,
) -> Result<(), ArrowError> {
    let table = arrow::util::pretty::pretty_format_batches_with_schema(schema.clone(), batches)?;
    writeln!(out, "{table}").map_err(io_error)
}

fn write_csv(
    schema: &SchemaRef,
    batches: &[RecordBatch],
    out: &mut dyn Write,
) -> Result<(), ArrowError> {
    let mut writer = arrow::csv::WriterBuilder::new().with_header(true).build(out);
    if batches.is_empty() {
        return writer.write(&RecordBatch::new_empty(schema.clone()));
    }
    batches.iter().try_for_each(|batch| writer.write(batch))
}

fn write_json(batches: &[RecordBatch], out: &mut dyn Write) -> Result<(), ArrowError> {
    let mut writer = arrow::json::WriterBuilder::new()
        .with_explicit_nulls(true)
        .build::<_, JsonArray>(&mut *out);
    batches.iter().try_for_each(|batch| writer.write(batch))?;
    writer.finish()?;
    writeln!(out).map_err(io_error)
}

fn io_error(error: std::io::Error) -> ArrowError {
    ArrowError::IoError(error.to_string(), error)
}
