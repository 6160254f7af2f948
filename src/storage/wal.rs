//! The write-ahead log of `meshlog serve`: every batch the HTTP sink accepts is
//! appended here, and fsynced with the other batches of its group (one fsync for many
//! requests), before the client is told it is stored. An entry holds the batch's rows
//! and rejects as Arrow IPC, so that a restart replays them without parsing again and
//! `meshlog query` can read the rows not yet in Parquet. Entries are numbered; a
//! commit records the last entry its Parquet files hold ([`SinkPosition`]), and
//! segments whose entries are all committed are removed.
//!
//! A segment `_meshlog/wal/<first seq>.wal` is a run of frames: magic, payload
//! length, CRC-32 of the payload, payload (sequence number, metadata as JSON, the
//! two IPC streams). A torn frame at the end of the newest segment (a crash while
//! appending: never acknowledged) is cut off; damage anywhere else is an error.
//!
//! [`SinkPosition`]: crate::storage::commit_log::SinkPosition

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use arrow::ipc::reader::StreamReader;
use arrow::ipc::writer::StreamWriter;
use arrow::record_batch::RecordBatch;
use serde::{Deserialize, Serialize};

use super::StorageError;
use super::commit_log::Checkpoint;

/// The WAL's directory, under the data directory.
pub const WAL_DIR: &str = "_meshlog/wal";
const MAGIC: u32 = 0x4D4C_5731;
const HEADER_BYTES: usize = 12;
/// A segment is closed past this size; closed segments can be removed.
const SEGMENT_BYTES: u64 = 64 << 20;

/// Why the WAL cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum WalError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(
        "{path} is damaged at byte {offset} ({problem}); the entries after it cannot be \
         trusted: move the file aside to start without them (their clients were told \
         they were stored)"
    )]
    Damaged { path: PathBuf, offset: u64, problem: String },
    #[error("cannot encode a WAL entry")]
    Encode(#[source] arrow::error::ArrowError),
    #[error("cannot encode a WAL entry's metadata")]
    Meta(#[source] serde_json::Error),
}

fn io<'p>(action: &'static str, path: &'p Path) -> impl FnOnce(std::io::Error) -> WalError + 'p {
    move |source| StorageError::io(action, path, source).into()
}

/// What an entry says besides its rows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryMeta {
    /// The client's `X-Meshlog-Batch-Id`, if it sent one.
    pub batch_id: Option<String>,
    /// Lines stored as rows, and lines rejected.
    pub accepted: u64,
    pub rejected: u64,
    /// Where the sources the rows were read from (followed files) stand once they
    /// are stored (none for pushed batches). Named `files` as it always was: a file's
    /// position reads as it did.
    #[serde(default, rename = "files", skip_serializing_if = "Vec::is_empty")]
    pub positions: Vec<Checkpoint>,
}

/// One accepted batch.
#[derive(Debug, Clone)]
pub struct WalEntry {
    pub seq: u64,
    pub meta: EntryMeta,
    pub requests: RecordBatch,
    pub rejects: RecordBatch,
}

/// The WAL, open for appending.
#[derive(Debug)]
pub struct Wal {
    dir: PathBuf,
    segment: File,
    segment_path: PathBuf,
    segment_bytes: u64,
    next_seq: u64,
    unsynced: bool,
}

impl Wal {
    /// Opens the WAL under `data_dir`: returns the entries after `committed` (the
    /// last entry a commit holds) to replay, and a WAL that numbers new entries on.
    pub fn open(data_dir: &Path, committed: u64) -> Result<(Wal, Vec<WalEntry>), WalError> {
        let dir = data_dir.join(WAL_DIR);
        fs::create_dir_all(&dir).map_err(io("create", &dir))?;
        let segments = segments(&dir)?;
        let mut entries = Vec::new();
        let mut last_seq = committed;
        for (index, (_, path)) in segments.iter().enumerate() {
            let newest = index + 1 == segments.len();
            let read = read_segment(path, committed, newest)?;
            last_seq = last_seq.max(read.last_seq);
            entries.extend(read.entries);
        }
        let next_seq = last_seq + 1;
        let (segment, segment_path) = create_segment(&dir, next_seq)?;
        let wal = Wal { dir, segment, segment_path, segment_bytes: 0, next_seq, unsynced: false };
        Ok((wal, entries))
    }

    /// Appends an entry (not yet durable: see [`Wal::sync`]); returns its number.
    pub fn append(
        &mut self,
        meta: &EntryMeta,
        requests: &RecordBatch,
        rejects: &RecordBatch,
    ) -> Result<u64, WalError> {
        if self.segment_bytes >= SEGMENT_BYTES {
            self.roll()?;
        }
        let seq = self.next_seq;
        let frame = encode_frame(seq, meta, requests, rejects)?;
        for piece in frame.pieces() {
            self.segment.write_all(piece).map_err(io("append to", &self.segment_path))?;
        }
        self.segment_bytes += frame.len() as u64;
        self.next_seq += 1;
        self.unsynced = true;
        Ok(seq)
    }

    /// Makes every entry appended so far durable.
    pub fn sync(&mut self) -> Result<(), WalError> {
        if self.unsynced {
            self.segment.sync_data().map_err(io("fsync", &self.segment_path))?;
            self.unsynced = false;
        }
        Ok(())
    }

    /// Bytes in the WAL's segments on disk.
    pub fn disk_bytes(&self) -> u64 {
        segment_bytes(&self.dir)
    }

    fn roll(&mut self) -> Result<(), WalError> {
        self.sync()?;
        let (segment, path) = create_segment(&self.dir, self.next_seq)?;
        self.segment = segment;
        self.segment_path = path;
        self.segment_bytes = 0;
        Ok(())
    }
}

/// Bytes in the WAL's segments under `data_dir` (0 when there is none).
pub fn disk_bytes(data_dir: &Path) -> u64 {
    segment_bytes(&data_dir.join(WAL_DIR))
}

fn segment_bytes(dir: &Path) -> u64 {
    segments(dir)
        .unwrap_or_default()
        .iter()
        .filter_map(|(_, path)| fs::metadata(path).ok())
        .map(|metadata| metadata.len())
        .sum()
}

/// Removes the closed segments under `data_dir` whose entries are all at or
/// before `committed` (the newest segment is never removed: it may be appended to).
pub fn remove_committed(data_dir: &Path, committed: u64) -> Result<usize, WalError> {
    let dir = data_dir.join(WAL_DIR);
    let segments = segments(&dir)?;
    let mut removed = 0;
    for pair in segments.windows(2) {
        let [(_, path), (next_first, _)] = pair else { continue };
        if next_first.saturating_sub(1) <= committed {
            fs::remove_file(path).map_err(io("remove", path))?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// The entries after `committed`, for a reader beside the server (`meshlog
/// query`): a torn end is where a write is under way, and a segment removed while
/// reading was committed meanwhile.
pub fn read_after(data_dir: &Path, committed: u64) -> Result<Vec<WalEntry>, WalError> {
    let dir = data_dir.join(WAL_DIR);
    if !dir.exists() {
        return Ok(Vec::new());
    }
    let mut entries = Vec::new();
    for (_, path) in segments(&dir)? {
        match read_segment_as_reader(&path, committed) {
            Ok(read) => entries.extend(read),
            Err(WalError::Storage(StorageError::Io { source, .. }))
                if source.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => return Err(error),
        }
    }
    Ok(entries)
}

/// Segments under `dir`, oldest first, with the number of their first entry.
fn segments(dir: &Path) -> Result<Vec<(u64, PathBuf)>, WalError> {
    let mut segments = Vec::new();
    for entry in fs::read_dir(dir).map_err(io("list", dir))? {
        let path = entry.map_err(io("list", dir))?.path();
        let name = path.file_name().and_then(|name| name.to_str()).unwrap_or_default();
        if let Some(first) = name.strip_suffix(".wal").and_then(|first| first.parse().ok()) {
            segments.push((first, path));
        }
    }
    segments.sort();
    Ok(segments)
}

fn create_segment(dir: &Path, first_seq: u64) -> Result<(File, PathBuf), WalError> {
    let path = dir.join(format!("{first_seq:020}.wal"));
    let file =
        OpenOptions::new().create(true).append(true).open(&path).map_err(io("create", &path))?;
    let dir_file = File::open(dir).map_err(io("open", dir))?;
    dir_file.sync_all().map_err(io("fsync", dir))?;
    Ok((file, path))
}

struct SegmentRead {
    entries: Vec<WalEntry>,
    last_seq: u64,
}

/// Reads a segment for replay; a torn end of the newest segment is cut off.
fn read_segment(path: &Path, committed: u64, newest: bool) -> Result<SegmentRead, WalError> {
    let bytes = fs::read(path).map_err(io("read", path))?;
    let mut read = SegmentRead { entries: Vec::new(), last_seq: 0 };
    let mut offset = 0;
    while offset < bytes.len() {
        match next_frame(&bytes[offset..]) {
            Ok((payload, len)) => {
                let (seq, entry) = decode_payload(payload, committed)
                    .map_err(|problem| damaged(path, offset, problem))?;
                read.last_seq = seq;
                read.entries.extend(entry);
                offset += len;
            }
            Err(problem) if newest => {
                tracing::warn!(path = %path.display(), offset, %problem, "cutting off a torn WAL entry that was never acknowledged");
                truncate(path, offset as u64)?;
                break;
            }
            Err(problem) => return Err(damaged(path, offset, problem)),
        }
    }
    Ok(read)
}

/// Reads a segment beside its writer: stops at the first incomplete frame.
fn read_segment_as_reader(path: &Path, committed: u64) -> Result<Vec<WalEntry>, WalError> {
    let bytes = fs::read(path).map_err(io("read", path))?;
    let mut entries = Vec::new();
    let mut offset = 0;
    while let Ok((payload, len)) = next_frame(&bytes[offset..]) {
        let (_, entry) =
            decode_payload(payload, committed).map_err(|problem| damaged(path, offset, problem))?;
        entries.extend(entry);
        offset += len;
    }
    Ok(entries)
}

fn damaged(path: &Path, offset: usize, problem: String) -> WalError {
    WalError::Damaged { path: path.to_owned(), offset: offset as u64, problem }
}

fn truncate(path: &Path, len: u64) -> Result<(), WalError> {
    let file = OpenOptions::new().write(true).open(path).map_err(io("open", path))?;
    file.set_len(len).map_err(io("truncate", path))?;
    file.sync_all().map_err(io("fsync", path))
}

/// A frame in three pieces, written one after another: the header with the payload's
/// start, then the two IPC streams as they were encoded (not copied into one buffer).
struct Frame {
    head: Vec<u8>,
    requests: Vec<u8>,
    rejects: Vec<u8>,
}

impl Frame {
    fn pieces(&self) -> [&[u8]; 3] {
        [&self.head, &self.requests, &self.rejects]
    }

    fn len(&self) -> usize {
        self.pieces().iter().map(|piece| piece.len()).sum()
    }
}

fn encode_frame(
    seq: u64,
    meta: &EntryMeta,
    requests: &RecordBatch,
    rejects: &RecordBatch,
) -> Result<Frame, WalError> {
    let meta = serde_json::to_vec(meta).map_err(WalError::Meta)?;
    let requests = ipc_bytes(requests)?;
    let rejects = ipc_bytes(rejects)?;
    let mut start = Vec::with_capacity(20 + meta.len());
    start.extend_from_slice(&seq.to_le_bytes());
    start.extend_from_slice(&(meta.len() as u32).to_le_bytes());
    start.extend_from_slice(&meta);
    start.extend_from_slice(&(requests.len() as u64).to_le_bytes());
    let payload_len = start.len() + requests.len() + rejects.len();
    let mut crc = crc32fast::Hasher::new();
    for piece in [&start, &requests, &rejects] {
        crc.update(piece);
    }
    let mut head = Vec::with_capacity(HEADER_BYTES + start.len());
    head.extend_from_slice(&MAGIC.to_le_bytes());
    head.extend_from_slice(&(payload_len as u32).to_le_bytes());
    head.extend_from_slice(&crc.finalize().to_le_bytes());
    head.extend_from_slice(&start);
    Ok(Frame { head, requests, rejects })
}

fn ipc_bytes(batch: &RecordBatch) -> Result<Vec<u8>, WalError> {
    let mut bytes = Vec::new();
    let mut writer =
        StreamWriter::try_new(&mut bytes, &batch.schema()).map_err(WalError::Encode)?;
    writer.write(batch).map_err(WalError::Encode)?;
    writer.finish().map_err(WalError::Encode)?;
    drop(writer);
    Ok(bytes)
}

/// The payload of the frame at the start of `bytes`, and the frame's length.
fn next_frame(bytes: &[u8]) -> Result<(&[u8], usize), String> {
    let header = bytes.get(..HEADER_BYTES).ok_or("a frame header is cut short")?;
    let word = |at: usize| {
        u32::from_le_bytes([header[at], header[at + 1], header[at + 2], header[at + 3]])
    };
    if word(0) != MAGIC {
        return Err("no frame starts here".into());
    }
    let len = word(4) as usize;
    let payload = bytes.get(HEADER_BYTES..HEADER_BYTES + len).ok_or("a frame is cut short")?;
    if crc32fast::hash(payload) != word(8) {
        return Err("a frame's checksum does not match".into());
    }
    Ok((payload, HEADER_BYTES + len))
}

/// The entry's number, and the entry itself unless it is at or before `committed`.
fn decode_payload(payload: &[u8], committed: u64) -> Result<(u64, Option<WalEntry>), String> {
    let mut cursor = Cursor { bytes: payload, at: 0 };
    let seq = u64::from_le_bytes(cursor.array()?);
    if seq <= committed {
        return Ok((seq, None));
    }
    let meta_len = u32::from_le_bytes(cursor.array()?) as usize;
    let meta = serde_json::from_slice(cursor.take(meta_len)?).map_err(|error| error.to_string())?;
    let requests_len =
        usize::try_from(u64::from_le_bytes(cursor.array()?)).map_err(|error| error.to_string())?;
    let requests = read_ipc(cursor.take(requests_len)?)?;
    let rejects = read_ipc(cursor.rest())?;
    Ok((seq, Some(WalEntry { seq, meta, requests, rejects })))
}

fn read_ipc(bytes: &[u8]) -> Result<RecordBatch, String> {
    let mut reader = StreamReader::try_new(bytes, None).map_err(|error| error.to_string())?;
    let schema = reader.schema();
    match reader.next() {
        Some(batch) => batch.map_err(|error| error.to_string()),
        None => Ok(RecordBatch::new_empty(schema)),
    }
}

struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, len: usize) -> Result<&'a [u8], String> {
        let end = self.at.checked_add(len).ok_or("a length overflows")?;
        let taken = self.bytes.get(self.at..end).ok_or("a field runs past its frame")?;
        self.at = end;
        Ok(taken)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], String> {
        let taken = self.take(N)?;
        taken.try_into().map_err(|_| "a field is cut short".to_owned())
    }

    fn rest(&mut self) -> &'a [u8] {
        let rest = &self.bytes[self.at..];
        self.at = self.bytes.len();
        rest
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Int64Array, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};

    use super::*;

    fn batch(values: &[i64]) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![Field::new("n", DataType::Int64, false)]));
        RecordBatch::try_new(schema, vec![Arc::new(Int64Array::from(values.to_vec()))]).unwrap()
    }

    fn rejects() -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![Field::new("reason", DataType::Utf8, false)]));
        RecordBatch::try_new(schema, vec![Arc::new(StringArray::from(vec!["bad"]))]).unwrap()
    }

    fn meta(id: &str) -> EntryMeta {
        EntryMeta { batch_id: Some(id.into()), accepted: 2, rejected: 1, positions: Vec::new() }
    }

    /// Entries written before positions were any source's still read.
    #[test]
    fn a_files_position_reads_as_it_was_written() {
        let written = r#"{"batch_id":null,"accepted":1,"rejected":0,"files":[{"path":"/var/log/a.log",
            "identity":{"device":1,"inode":2,"fingerprint":3,"fingerprint_len":4},"offset":5,"lines":6}]}"#;
        let meta: EntryMeta = serde_json::from_str(written).unwrap();
        let Some(Checkpoint::File(position)) = meta.positions.first() else { panic!("{meta:?}") };
        assert_eq!(
            (position.path.as_str(), position.offset, position.lines),
            ("/var/log/a.log", 5, 6)
        );
        let again: EntryMeta =
            serde_json::from_str(&serde_json::to_string(&meta).unwrap()).unwrap();
        assert_eq!(again, meta);
    }

    #[test]
    fn replays_what_no_commit_holds_and_numbers_on() {
        let dir = tempdir();
        let (mut wal, replayed) = Wal::open(&dir, 0).unwrap();
        assert!(replayed.is_empty());
        assert_eq!(wal.append(&meta("a"), &batch(&[1, 2]), &rejects()).unwrap(), 1);
        assert_eq!(wal.append(&meta("b"), &batch(&[3, 4]), &rejects()).unwrap(), 2);
        wal.sync().unwrap();
        drop(wal);
        let (mut wal, replayed) = Wal::open(&dir, 1).unwrap();
        assert_eq!(replayed.len(), 1);
        assert_eq!(replayed[0].seq, 2);
        assert_eq!(replayed[0].meta, meta("b"));
        assert_eq!(replayed[0].requests, batch(&[3, 4]));
        assert_eq!(replayed[0].rejects, rejects());
        assert_eq!(wal.append(&meta("c"), &batch(&[5]), &rejects()).unwrap(), 3);
        assert_eq!(read_after(&dir, 0).unwrap().len(), 3);
    }

    #[test]
    fn cuts_off_a_torn_last_entry() {
        let dir = tempdir();
        let (mut wal, _) = Wal::open(&dir, 0).unwrap();
        wal.append(&meta("a"), &batch(&[1]), &rejects()).unwrap();
        wal.append(&meta("b"), &batch(&[2]), &rejects()).unwrap();
        wal.sync().unwrap();
        let path = wal.segment_path.clone();
        drop(wal);
        let len = fs::metadata(&path).unwrap().len();
        truncate(&path, len - 5).unwrap();
        let (_, replayed) = Wal::open(&dir, 0).unwrap();
        assert_eq!(replayed.iter().map(|entry| entry.seq).collect::<Vec<_>>(), [1]);
    }

    #[test]
    fn damage_in_an_older_segment_is_an_error_naming_it() {
        let dir = tempdir();
        let (mut wal, _) = Wal::open(&dir, 0).unwrap();
        wal.append(&meta("a"), &batch(&[1]), &rejects()).unwrap();
        wal.sync().unwrap();
        let older = wal.segment_path.clone();
        drop(wal);
        let (mut wal, _) = Wal::open(&dir, 0).unwrap();
        assert_ne!(wal.segment_path, older);
        wal.append(&meta("b"), &batch(&[2]), &rejects()).unwrap();
        wal.sync().unwrap();
        drop(wal);
        let mut bytes = fs::read(&older).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        fs::write(&older, bytes).unwrap();
        let error = Wal::open(&dir, 0).unwrap_err().to_string();
        assert!(error.contains("damaged at byte 0"), "{error}");
        assert!(error.contains("00000000000000000001.wal"), "{error}");
    }

    #[test]
    fn removes_only_closed_committed_segments() {
        let dir = tempdir();
        for seq in [1_u64, 5, 9] {
            fs::create_dir_all(dir.join(WAL_DIR)).unwrap();
            fs::write(dir.join(WAL_DIR).join(format!("{seq:020}.wal")), b"").unwrap();
        }
        assert_eq!(remove_committed(&dir, 4).unwrap(), 1);
        assert_eq!(remove_committed(&dir, 100).unwrap(), 1);
        assert_eq!(segments(&dir.join(WAL_DIR)).unwrap().len(), 1);
    }

    fn tempdir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "meshlog-wal-{}-{}",
            std::process::id(),
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()
        ));
        fs::create_dir_all(&dir).unwrap();
        dir
    }
}
