//! Kafka sources (`[[sources]] type = "kafka"`, librdkafka through `rdkafka`): a
//! member of a consumer group on a thread of its own. Messages are read in batches
//! (up to `max_batch_messages`, or what came within `batch_wait_ms`), parsed and
//! tagged as the HTTP sink's lines are ([`messages`]), and each batch goes through
//! the write-ahead log with the partitions' next offsets as its positions, as a
//! followed file's reads do. So the offsets are stored with the rows they produced:
//! a restart (or a crash) resumes after the batches the WAL and the commit log
//! hold, and nothing is read twice or lost even when Kafka lost a commit. The
//! offsets are committed to Kafka only once the Parquet commit that holds them is
//! published (for lag monitoring and for the next owner of a partition), and on
//! revoke after the rows in memory are committed ([`group`]).

mod group;
mod messages;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use tokio::sync::watch;

use super::body::Record;
use super::fresh::Fresh;
use super::parse::{LineSettings, parse_records};
use super::sink::Sink;
use super::sources::SourceContext;
use crate::config::kafka::KafkaSourceConfig;
use crate::enrich::Topology;
use crate::storage::commit_log::{Checkpoint, CommitRecord, KafkaPosition};
use group::{GroupContext, PartitionKey, Positions};
use messages::MessageReading;

/// Lines longer than this are rejects.
const MAX_LINE_BYTES: usize = meshlog_parsers::parser::DEFAULT_MAX_LINE_BYTES;
/// How long one poll waits for a message.
const POLL: Duration = Duration::from_millis(100);
/// Message bytes in one batch, at most (besides what librdkafka prefetches), so
/// that large messages cannot make a batch outgrow memory.
const BATCH_BYTES: usize = 16 << 20;

/// Why a Kafka source could not start.
#[derive(Debug, thiserror::Error)]
#[error("[[sources]] type = \"kafka\" ({brokers}, topics {topics:?}): {source}")]
pub struct KafkaError {
    brokers: String,
    topics: Vec<String>,
    #[source]
    source: Box<rdkafka::error::KafkaError>,
}

/// One message, read and not yet stored.
struct Pending {
    key: PartitionKey,
    offset: i64,
    records: Vec<Record<'static>>,
}

/// One `[[sources]] type = "kafka"` at work.
pub struct KafkaSource {
    config: KafkaSourceConfig,
    consumer: BaseConsumer<GroupContext>,
    positions: Arc<Mutex<Positions>>,
    topology: Arc<Topology>,
    default_cluster: Option<Arc<str>>,
    format: String,
    fresh: Arc<Fresh>,
    sink: Sink,
    stop: watch::Receiver<bool>,
    max_rows: usize,
    /// Publications of commits seen, and the offsets committed to Kafka so far.
    publications: u64,
    committed: BTreeMap<PartitionKey, i64>,
}

impl KafkaSource {
    /// Joins the group (nothing is read until [`KafkaSource::run`]).
    pub fn new(
        config: &KafkaSourceConfig,
        context: &SourceContext<'_>,
    ) -> Result<KafkaSource, KafkaError> {
        let fail = |source| KafkaError {
            brokers: config.brokers.clone(),
            topics: config.topics.clone(),
            source: Box::new(source),
        };
        let stored = start_positions(context.positions.records(), &config.topics);
        let positions = Arc::new(Mutex::new(Positions::new(stored)));
        let name = format!("kafka {}", config.topics.join(","));
        let group = GroupContext {
            positions: positions.clone(),
            fresh: context.fresh.clone(),
            source: name,
        };
        let mut client = ClientConfig::new();
        for (key, value) in &config.options {
            client.set(key, value);
        }
        client
            .set("bootstrap.servers", &config.brokers)
            .set("group.id", config.group())
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("partition.assignment.strategy", "cooperative-sticky")
            .set("enable.partition.eof", "false");
        let consumer: BaseConsumer<GroupContext> =
            client.create_with_context(group).map_err(fail)?;
        let topics: Vec<&str> = config.topics.iter().map(String::as_str).collect();
        consumer.subscribe(&topics).map_err(fail)?;
        let settings = context.settings;
        Ok(KafkaSource {
            config: config.clone(),
            consumer,
            positions,
            topology: settings.topology.clone(),
            default_cluster: config
                .source_cluster
                .as_deref()
                .map(Arc::from)
                .or_else(|| settings.source_cluster.clone()),
            format: config.format.clone().unwrap_or_else(|| "auto".to_owned()),
            fresh: context.fresh.clone(),
            sink: context.app.sink.clone(),
            stop: context.stop.clone(),
            max_rows: context.max_fresh_rows,
            publications: 0,
            committed: BTreeMap::new(),
        })
    }

    /// Reads and stores batches until the stop signal, then stores what it holds
    /// and leaves the group. Blocks: run it on a thread of its own.
    pub fn run(mut self) {
        tracing::info!(topics = ?self.config.topics, group = self.config.group(), "consuming");
        while !self.stopping() {
            let batch = self.read_batch();
            if !batch.is_empty() && !self.store(batch) {
                break;
            }
            self.commit_published();
        }
        self.commit_published();
        // Leaving the group revokes every partition: what is held is committed
        // first ([`group`]).
        self.consumer.unsubscribe();
    }

    fn stopping(&self) -> bool {
        *self.stop.borrow() || self.stop.has_changed().is_err()
    }

    /// Messages until the batch is full (`max_batch_messages`, or 16 MiB) or
    /// `batch_wait` has passed since the first, without those of partitions revoked
    /// meanwhile.
    fn read_batch(&mut self) -> Vec<Pending> {
        // Room for one batch among the rows in memory, checked once per batch (a
        // batch is at most `max_batch_messages` past the bound).
        while self.fresh.rows() >= self.max_rows && !self.stopping() {
            std::thread::sleep(POLL);
        }
        let reading = MessageReading { config: &self.config };
        let (limit, wait) = (self.config.batch_messages(), self.config.batch_wait());
        let mut batch = Vec::new();
        let mut bytes = 0;
        let mut first = None::<Instant>;
        while !self.stopping()
            && batch.len() < limit
            && bytes < BATCH_BYTES
            && first.is_none_or(|at| at.elapsed() < wait)
        {
            match self.consumer.poll(POLL) {
                Some(Ok(message)) => {
                    first.get_or_insert_with(Instant::now);
                    let header = self.config.cluster_header.as_deref().and_then(|name| {
                        let headers = message.headers()?;
                        let found = headers.iter().find(|header| header.key == name)?;
                        std::str::from_utf8(found.value?).ok().map(str::to_owned)
                    });
                    let topic = message.topic().to_owned();
                    let records = reading.records(&topic, message.payload(), header.as_deref());
                    let key = (topic, message.partition());
                    bytes += message.payload_len();
                    batch.push(Pending { key, offset: message.offset(), records });
                }
                Some(Err(error)) => tracing::warn!(%error, "kafka"),
                None if first.is_none() => break,
                None => {}
            }
        }
        // Partitions revoked while polling (the callbacks run inside `poll`): their
        // messages are the next owner's to read.
        let revoked = self.lock_positions().take_revoked();
        if !revoked.is_empty() {
            batch.retain(|pending| !revoked.contains(&pending.key));
        }
        batch
    }

    fn lock_positions(&self) -> std::sync::MutexGuard<'_, Positions> {
        self.positions.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Parses the batch and stores it with its partitions' next offsets; `false`
    /// when the WAL's writer stopped (the server is stopping after a failure).
    fn store(&mut self, batch: Vec<Pending>) -> bool {
        let mut next: BTreeMap<PartitionKey, i64> = BTreeMap::new();
        let mut records = Vec::new();
        for pending in batch {
            let at = next.entry(pending.key).or_insert(pending.offset + 1);
            *at = (*at).max(pending.offset + 1);
            records.extend(pending.records);
        }
        let source = format!("kafka {}", self.config.topics.join(","));
        let settings = LineSettings {
            topology: &self.topology,
            format: &self.format,
            max_line_bytes: MAX_LINE_BYTES,
            source: &source,
        };
        let parsed = match parse_records(&settings, &records, self.default_cluster.as_ref()) {
            Ok(parsed) => parsed,
            Err(error) => {
                tracing::error!(%error, "cannot build the rows of a Kafka batch");
                return false;
            }
        };
        let positions: Vec<Checkpoint> = next
            .iter()
            .map(|((topic, partition), offset)| {
                let (topic, partition, offset) = (topic.clone(), *partition, *offset);
                Checkpoint::Kafka(KafkaPosition { topic, partition, offset })
            })
            .collect();
        if self.sink.store_blocking(parsed, positions).is_none() {
            return false;
        }
        let mut stored = self.lock_positions();
        for (key, offset) in next {
            stored.stored(key, offset);
        }
        true
    }

    /// Commits to Kafka the offsets of this source's partitions that a newly
    /// published Parquet commit holds.
    fn commit_published(&mut self) {
        let Some((publications, published)) = self.fresh.published_since(self.publications) else {
            return;
        };
        self.publications = publications;
        let mut offsets = TopicPartitionList::new();
        let assigned = self.consumer.assignment().unwrap_or_default();
        for position in published.iter().filter_map(Checkpoint::kafka) {
            let key = (position.topic.clone(), position.partition);
            let mine = assigned.find_partition(&key.0, key.1).is_some();
            if mine && self.committed.get(&key) != Some(&position.offset) {
                let _ =
                    offsets.add_partition_offset(&key.0, key.1, Offset::Offset(position.offset));
                self.committed.insert(key, position.offset);
            }
        }
        let committed = match offsets.count() {
            0 => Ok(()),
            _ => self.consumer.commit(&offsets, CommitMode::Async),
        };
        if let Err(error) = committed {
            tracing::warn!(%error, "cannot commit offsets to Kafka (they are kept in the commit log)");
        }
    }
}

/// The next offset of each partition of `topics` that the commit log and the WAL
/// reach (a later record wins).
fn start_positions(records: &[CommitRecord], topics: &[String]) -> BTreeMap<PartitionKey, i64> {
    let mut positions = BTreeMap::new();
    for record in records {
        for position in record.sources.iter().filter_map(Checkpoint::kafka) {
            if topics.contains(&position.topic) {
                positions.insert((position.topic.clone(), position.partition), position.offset);
            }
        }
    }
    positions
}
