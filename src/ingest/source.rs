//! Opening an input for ingest: a file (identified by device, inode and a
//! fingerprint of its first bytes, and resumed from its last committed position)
//! or stdin (which cannot be resumed: it is read from wherever it starts).

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::storage::commit_log::{CommitLog, FileIdentity, fnv1a};

/// Bytes hashed into a file's fingerprint.
const FINGERPRINT_BYTES: u64 = 256;

/// An input opened at the position to read from.
pub struct OpenedSource {
    /// How the source is named in rejects and messages: the path, or `stdin`.
    pub name: String,
    pub reader: Box<dyn BufRead + Send>,
    /// `None` for stdin.
    pub identity: Option<FileIdentity>,
    /// Where reading starts: 0, or the last committed offset.
    pub start_offset: u64,
    /// Lines before `start_offset`.
    pub start_line: u64,
    /// The file's size when opened; `None` for stdin.
    pub len: Option<u64>,
}

/// Opens `path` (`-` is stdin), resuming a file from its committed position.
pub fn open_source(path: &Path, log: &CommitLog) -> io::Result<OpenedSource> {
    if path == Path::new("-") {
        let reader = Box::new(BufReader::with_capacity(1 << 18, io::stdin()));
        let name = "stdin".to_owned();
        return Ok(OpenedSource {
            name,
            reader,
            identity: None,
            start_offset: 0,
            start_line: 0,
            len: None,
        });
    }
    let mut file = File::open(path)?;
    let metadata = file.metadata()?;
    let len = metadata.len();
    let (device, inode) = (metadata.dev(), metadata.ino());
    let (start_offset, start_line) = resume_point(
        &mut file,
        log.last_position(device, inode).map(|p| (p.identity, p.offset, p.lines)),
        len,
    )?;
    let fingerprint_len = len.min(FINGERPRINT_BYTES);
    let fingerprint = fnv1a(&read_prefix(&mut file, fingerprint_len)?);
    file.seek(SeekFrom::Start(start_offset))?;
    let identity =
        FileIdentity { device, inode, fingerprint, fingerprint_len: fingerprint_len as u32 };
    Ok(OpenedSource {
        name: path.display().to_string(),
        reader: Box::new(BufReader::with_capacity(1 << 18, file)),
        identity: Some(identity),
        start_offset,
        start_line,
        len: Some(len),
    })
}

/// Where to start: the committed offset when this is the same file (its first
/// bytes hash the same) and it has not shrunk since; else the beginning.
fn resume_point(
    file: &mut File,
    committed: Option<(FileIdentity, u64, u64)>,
    len: u64,
) -> io::Result<(u64, u64)> {
    let Some((identity, offset, lines)) = committed else { return Ok((0, 0)) };
    let prefix_len = u64::from(identity.fingerprint_len);
    if len < offset || len < prefix_len {
        return Ok((0, 0));
    }
    let same = fnv1a(&read_prefix(file, prefix_len)?) == identity.fingerprint;
    Ok(if same { (offset, lines) } else { (0, 0) })
}

fn read_prefix(file: &mut File, len: u64) -> io::Result<Vec<u8>> {
    file.seek(SeekFrom::Start(0))?;
    let mut prefix = Vec::with_capacity(len as usize);
    file.by_ref().take(len).read_to_end(&mut prefix)?;
    Ok(prefix)
}

/// The paths to ingest: `-` or nothing means stdin.
pub fn inputs_or_stdin(paths: &[PathBuf]) -> Vec<PathBuf> {
    if paths.is_empty() { vec![PathBuf::from("-")] } else { paths.to_vec() }
}
