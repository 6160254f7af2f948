//! Opening an input for ingest. A regular file is identified by device, inode and a
//! fingerprint of its first bytes (decompressed, for gzip), and resumed from its last
//! committed position: the same file's, or that of a file with the same first bytes
//! (a copy renamed into place, as rsync does; a log rotated by `copytruncate`; a
//! rotated log compressed to `.gz`), so a copy is never read again from zero. A file
//! shorter than its committed position but with the same first bytes was truncated:
//! it resumes at its end. gzip files (by their magic bytes) are read decompressed,
//! positions counting decompressed bytes. Anything that is not a regular file (stdin,
//! a FIFO, `<(zcat …)`) is a stream: read once from where it is, never resumed.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use flate2::read::MultiGzDecoder;

use crate::storage::commit_log::{CommitLog, FileIdentity, FilePosition, fnv1a};

/// Bytes hashed into a file's fingerprint.
const FINGERPRINT_BYTES: u64 = 256;
/// A file is recognised by content alone only when at least this many of its first
/// bytes were fingerprinted: fewer could be shared by chance.
const MIN_CONTENT_MATCH: u32 = 64;
/// A file modified this recently may still be written to: an unterminated last line
/// is left for the next read instead of being taken as a whole line.
pub const LIVE_WITHIN: Duration = Duration::from_secs(300);
/// The buffer of a source's reader.
const READ_BUFFER: usize = 1 << 18;

/// An input opened at the position to read from.
pub struct OpenedSource {
    /// How the source is named in rejects and messages: the path, or `stdin`.
    pub name: String,
    pub reader: Box<dyn BufRead + Send>,
    /// `None` for a stream.
    pub identity: Option<FileIdentity>,
    /// Where reading starts: 0, or the last committed offset.
    pub start_offset: u64,
    /// Lines before `start_offset`.
    pub start_line: u64,
    /// The bytes there are to read, when known (a regular, uncompressed file).
    pub len: Option<u64>,
    /// Whether an unterminated last line is left for the next read (a file that
    /// may still be written to).
    pub hold_partial_line: bool,
    /// The file whose committed position this one resumed from, when another
    /// (this one is its copy, or its rotated and compressed self).
    pub resumed_as: Option<String>,
    /// Whether it starts before the position committed for it (it was truncated):
    /// the new position is then committed even if nothing is read.
    pub moved_back: bool,
}

/// Opens `path` (`-` is stdin), resuming a file from its committed position.
pub fn open_source(path: &Path, log: &CommitLog) -> io::Result<OpenedSource> {
    if path == Path::new("-") {
        return Ok(stream("stdin".to_owned(), Box::new(io::stdin())));
    }
    let metadata = std::fs::metadata(path)?;
    if !metadata.is_file() {
        return Ok(stream(path.display().to_string(), Box::new(File::open(path)?)));
    }
    open_file(path.display().to_string(), File::open(path)?, &metadata, log)
}

/// Opens the regular file `file` (named `name`, with `metadata`), resuming it from
/// its committed position.
pub fn open_file(
    name: String,
    mut file: File,
    metadata: &std::fs::Metadata,
    log: &CommitLog,
) -> io::Result<OpenedSource> {
    let gzip = is_gzip(&mut file)?;
    let prefix = read_prefix(&file, gzip)?;
    let identity = FileIdentity {
        device: metadata.dev(),
        inode: metadata.ino(),
        fingerprint: fnv1a(&prefix),
        fingerprint_len: prefix.len() as u32,
    };
    let len = (!gzip).then_some(metadata.len());
    let resume = resume_point(log, &identity, &prefix, len);
    let (start_offset, mut start_line) =
        resume.as_ref().map_or((0, 0), |found| (found.offset, found.lines));
    let committed =
        log.last_position(identity.device, identity.inode).map(|position| position.offset);
    let moved_back = committed.is_some_and(|committed| start_offset < committed);
    if moved_back {
        // Truncated: lines go on being numbered as they stand in the file now.
        start_line = count_lines(&file, start_offset)?;
    }
    let reader = open_at(file, gzip, start_offset)?;
    let modified =
        metadata.modified().ok().and_then(|at| SystemTime::now().duration_since(at).ok());
    Ok(OpenedSource {
        resumed_as: resume.map(|found| found.path.clone()).filter(|previous| *previous != name),
        name,
        reader,
        identity: Some(identity),
        start_offset,
        start_line,
        len,
        hold_partial_line: !gzip && modified.is_none_or(|age| age < LIVE_WITHIN),
        moved_back,
    })
}

/// Newlines in the first `len` bytes of a (plain) file.
fn count_lines(file: &File, len: u64) -> io::Result<u64> {
    let mut file = file.try_clone()?;
    file.seek(SeekFrom::Start(0))?;
    let mut reader = BufReader::with_capacity(READ_BUFFER, file.take(len));
    let mut lines = 0;
    loop {
        let available = reader.fill_buf()?;
        if available.is_empty() {
            return Ok(lines);
        }
        lines += memchr::memchr_iter(b'\n', available).count() as u64;
        let consumed = available.len();
        reader.consume(consumed);
    }
}

/// A source read once from where it is.
pub fn stream(name: String, reader: Box<dyn Read + Send>) -> OpenedSource {
    OpenedSource {
        name,
        reader: Box::new(BufReader::with_capacity(READ_BUFFER, reader)),
        identity: None,
        start_offset: 0,
        start_line: 0,
        len: None,
        hold_partial_line: false,
        resumed_as: None,
        moved_back: false,
    }
}

fn is_gzip(file: &mut File) -> io::Result<bool> {
    let mut magic = [0u8; 2];
    let read = file.read(&mut magic)?;
    file.seek(SeekFrom::Start(0))?;
    Ok(read == 2 && magic == [0x1f, 0x8b])
}

/// The first [`FINGERPRINT_BYTES`] of the content (decompressed, for gzip).
fn read_prefix(file: &File, gzip: bool) -> io::Result<Vec<u8>> {
    let mut file = file.try_clone()?;
    file.seek(SeekFrom::Start(0))?;
    let mut prefix = Vec::with_capacity(FINGERPRINT_BYTES as usize);
    match gzip {
        true => MultiGzDecoder::new(file).take(FINGERPRINT_BYTES).read_to_end(&mut prefix)?,
        false => file.take(FINGERPRINT_BYTES).read_to_end(&mut prefix)?,
    };
    Ok(prefix)
}

/// A reader at `offset` of the content.
fn open_at(mut file: File, gzip: bool, offset: u64) -> io::Result<Box<dyn BufRead + Send>> {
    file.seek(SeekFrom::Start(0))?;
    if !gzip {
        file.seek(SeekFrom::Start(offset))?;
        return Ok(Box::new(BufReader::with_capacity(READ_BUFFER, file)));
    }
    let mut reader = BufReader::with_capacity(READ_BUFFER, MultiGzDecoder::new(file));
    io::copy(&mut reader.by_ref().take(offset), &mut io::sink())?;
    Ok(Box::new(reader))
}

/// Where to start: the committed position of this file (same device and inode,
/// same first bytes), else that of another file with the same first bytes; at most
/// the content's length (a truncated file resumes at its end).
fn resume_point(
    log: &CommitLog,
    identity: &FileIdentity,
    prefix: &[u8],
    len: Option<u64>,
) -> Option<FilePosition> {
    let same_file = log
        .last_position(identity.device, identity.inode)
        .filter(|position| starts_like(&position.identity, prefix));
    let found = same_file.or_else(|| {
        log.last_position_where(|position| {
            position.identity.fingerprint_len >= MIN_CONTENT_MATCH
                && starts_like(&position.identity, prefix)
        })
    })?;
    let mut position = found.clone();
    if let Some(len) = len.filter(|len| *len < position.offset) {
        position.offset = len;
    }
    Some(position)
}

/// Whether content starting with `prefix` starts as the fingerprinted file did.
fn starts_like(identity: &FileIdentity, prefix: &[u8]) -> bool {
    let len = identity.fingerprint_len as usize;
    len <= prefix.len() && fnv1a(&prefix[..len]) == identity.fingerprint
}

/// The paths to ingest: `-` or nothing means stdin.
pub fn inputs_or_stdin(paths: &[PathBuf]) -> Vec<PathBuf> {
    if paths.is_empty() { vec![PathBuf::from("-")] } else { paths.to_vec() }
}
