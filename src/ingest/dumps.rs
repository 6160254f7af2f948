//! Admin dumps among the inputs of `meshlog ingest`: each input's head is sniffed
//! (`/clusters`, `/stats`, istioctl, `endpointShardz`…; `--kind` overrides), dumps are
//! read whole and handed to the pipeline as one batch before the access logs, and
//! everything else is left to the access-log readers. A dump file is identified by device, inode and a
//! hash of its whole content and time, so re-ingesting an unchanged snapshot stores
//! nothing, while a file rewritten with a new snapshot is read again.

use std::fs::File;
use std::io::{self, BufRead, Read};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use meshlog_parsers::admin::{AdminKind, detect};

use super::IngestError;
use crate::stats::StatsCounts;
use crate::stats::dump::{Dump, proxy_from_file_name};
use crate::storage::commit_log::{CommitLog, FileIdentity, FilePosition, fnv1a};
use crate::storage::committer::CommitStats;

/// Bytes of an input's head looked at to tell a dump from an access log.
const SNIFF_BYTES: usize = 64 * 1024;

/// How dumps are read.
#[derive(Debug, Clone, Default)]
pub struct DumpOptions {
    /// Every input is a dump of this kind (`--kind`); else each is sniffed.
    pub kind: Option<AdminKind>,
    /// The proxy the dumps describe (`--proxy`); else each file's name up to its first `.`.
    pub proxy: Option<String>,
    /// When the dumps were taken, µs (`--at`); else each file's modification time.
    pub at: Option<i64>,
}

/// A dump read from one input, and the position that marks it stored.
pub struct DumpInput {
    pub dump: Dump,
    /// `None` for stdin.
    pub position: Option<FilePosition>,
}

/// An access-log input: a path to open, or a stream (a FIFO, `<(zcat …)`) already
/// opened to look at its head, which cannot be opened a second time.
pub enum LogInput {
    Path(PathBuf),
    Stream { name: String, reader: Box<dyn BufRead + Send> },
}

/// The inputs split into dumps and access logs.
#[derive(Default)]
pub struct SortedInputs {
    /// In time order.
    pub dumps: Vec<DumpInput>,
    pub logs: Vec<LogInput>,
    /// Dump files already stored, unchanged since.
    pub unchanged: Vec<String>,
}

/// Reads the dumps among `inputs` (`-` is stdin) and lists the rest as access logs.
pub fn sort_inputs(
    inputs: &[PathBuf],
    options: &DumpOptions,
    log: &CommitLog,
) -> Result<SortedInputs, IngestError> {
    let mut sorted = SortedInputs::default();
    for path in inputs {
        let read_error = |source| IngestError::Read { path: path.clone(), source };
        let outcome = if path == Path::new("-") {
            read_stdin(options).map_err(read_error)?
        } else if std::fs::metadata(path).map_err(read_error)?.is_file() {
            read_file(path, options, log).map_err(read_error)?
        } else {
            read_stream(path, options).map_err(read_error)?
        };
        match outcome {
            Input::Dump(input) => sorted.dumps.push(*input),
            Input::Unchanged => sorted.unchanged.push(path.display().to_string()),
            Input::Log => sorted.logs.push(LogInput::Path(path.clone())),
            Input::Stream(reader) => {
                sorted.logs.push(LogInput::Stream { name: path.display().to_string(), reader })
            }
        }
    }
    sorted.dumps.sort_by_key(|input| input.dump.ts);
    Ok(sorted)
}

enum Input {
    Dump(Box<DumpInput>),
    Unchanged,
    Log,
    /// An access log read from a stream, its head already buffered.
    Stream(Box<dyn BufRead + Send>),
}

fn kind_of(head: &[u8], options: &DumpOptions) -> Option<AdminKind> {
    options.kind.or_else(|| detect(head))
}

/// stdin is peeked through its own buffer, so an access log loses nothing to the sniff.
fn read_stdin(options: &DumpOptions) -> io::Result<Input> {
    let stdin = io::stdin();
    let mut locked = stdin.lock();
    let Some(kind) = kind_of(locked.fill_buf()?, options) else { return Ok(Input::Log) };
    let mut bytes = Vec::new();
    locked.read_to_end(&mut bytes)?;
    let ts = options.at.unwrap_or_else(|| chrono::Utc::now().timestamp_micros());
    let text = String::from_utf8_lossy(&bytes);
    let dump = Dump::parse("stdin".into(), kind, options.proxy.clone(), ts, &text);
    Ok(Input::Dump(Box::new(DumpInput { dump, position: None })))
}

/// A FIFO or other stream is opened once and peeked through its own buffer.
fn read_stream(path: &Path, options: &DumpOptions) -> io::Result<Input> {
    let mut reader = io::BufReader::with_capacity(SNIFF_BYTES, File::open(path)?);
    let Some(kind) = kind_of(reader.fill_buf()?, options) else {
        return Ok(Input::Stream(Box::new(reader)));
    };
    let mut bytes = Vec::new();
    reader.read_to_end(&mut bytes)?;
    let ts = options.at.unwrap_or_else(|| chrono::Utc::now().timestamp_micros());
    let text = String::from_utf8_lossy(&bytes);
    let name = path.display().to_string();
    let proxy = options.proxy.clone().or_else(|| proxy_from_file_name(path));
    let dump = Dump::parse(name, kind, proxy, ts, &text);
    Ok(Input::Dump(Box::new(DumpInput { dump, position: None })))
}

fn read_file(path: &Path, options: &DumpOptions, log: &CommitLog) -> io::Result<Input> {
    let mut file = File::open(path)?;
    let mut head = Vec::with_capacity(SNIFF_BYTES);
    file.by_ref().take(SNIFF_BYTES as u64).read_to_end(&mut head)?;
    let Some(kind) = kind_of(&head, options) else { return Ok(Input::Log) };
    let mut bytes = head;
    file.read_to_end(&mut bytes)?;
    let metadata = file.metadata()?;
    let ts = match options.at {
        Some(at) => at,
        None => modified_micros(&metadata)?,
    };
    let identity = FileIdentity {
        device: metadata.dev(),
        inode: metadata.ino(),
        fingerprint: fnv1a(&[bytes.as_slice(), &ts.to_le_bytes()].concat()),
        fingerprint_len: u32::try_from(bytes.len()).unwrap_or(u32::MAX),
    };
    let stored = log.last_position(identity.device, identity.inode);
    if stored.is_some_and(|position| position.identity == identity) {
        return Ok(Input::Unchanged);
    }
    let text = String::from_utf8_lossy(&bytes);
    let name = path.display().to_string();
    let proxy = options.proxy.clone().or_else(|| proxy_from_file_name(path));
    let position = FilePosition {
        path: name.clone(),
        identity,
        offset: bytes.len() as u64,
        lines: memchr::memchr_iter(b'\n', &bytes).count() as u64,
    };
    let dump = Dump::parse(name, kind, proxy, ts, &text);
    Ok(Input::Dump(Box::new(DumpInput { dump, position: Some(position) })))
}

fn modified_micros(metadata: &std::fs::Metadata) -> io::Result<i64> {
    let modified = chrono::DateTime::<chrono::Utc>::from(metadata.modified()?);
    Ok(modified.timestamp_micros())
}

/// What storing the dumps of a run did.
#[derive(Debug, Default)]
pub struct SnapshotReport {
    pub counts: StatsCounts,
    pub stored: CommitStats,
    /// Dump files already stored, unchanged since.
    pub unchanged: Vec<String>,
}
