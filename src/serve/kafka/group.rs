//! The consumer group's side of a Kafka source: where an assigned partition starts
//! and what happens to a revoked one (librdkafka calls these from inside `poll`,
//! on the source's own thread, with cooperative-sticky assignment).
//!
//! - **Assigned**: a partition starts at the larger of this server's own position
//!   (its commit log and write-ahead log: it is right even when Kafka lost a
//!   commit) and the group's committed offset (another instance may have taken the
//!   partition further since); with neither, at the earliest offset.
//! - **Revoked**: every row held in memory is committed to Parquet first, then the
//!   revoked partitions' positions are committed to Kafka, before the rebalance
//!   completes, so the next owner starts exactly after them. Messages of those
//!   partitions polled but not yet stored are dropped, to be read by the next owner.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rdkafka::ClientContext;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext};
use rdkafka::error::KafkaResult;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use rdkafka::types::RDKafkaRespErr;

use crate::serve::fresh::Fresh;

/// A topic and partition.
pub type PartitionKey = (String, i32);

/// How long a revoke waits for the rows in memory to be committed.
const REVOKE_COMMIT_WAIT: Duration = Duration::from_secs(60);
/// How long a broker call in a rebalance may take.
const BROKER_WAIT: Duration = Duration::from_secs(10);

/// What the source's thread and the group's callbacks share.
#[derive(Default)]
pub struct Positions {
    /// The next offset of each partition whose messages are durable here.
    stored: BTreeMap<PartitionKey, i64>,
    /// Partitions revoked since the source last looked.
    revoked: BTreeSet<PartitionKey>,
}

impl Positions {
    /// Starts from the positions this server has stored.
    pub fn new(stored: BTreeMap<PartitionKey, i64>) -> Positions {
        Positions { stored, revoked: BTreeSet::new() }
    }

    /// A batch up to `offset` (the next one to read) is durable.
    pub fn stored(&mut self, key: PartitionKey, offset: i64) {
        let at = self.stored.entry(key).or_insert(offset);
        *at = (*at).max(offset);
    }

    /// The partitions revoked since the last call.
    pub fn take_revoked(&mut self) -> BTreeSet<PartitionKey> {
        std::mem::take(&mut self.revoked)
    }
}

/// The librdkafka context of a Kafka source.
pub struct GroupContext {
    pub positions: Arc<Mutex<Positions>>,
    pub fresh: Arc<Fresh>,
    pub source: String,
}

impl ClientContext for GroupContext {}

impl GroupContext {
    fn positions(&self) -> std::sync::MutexGuard<'_, Positions> {
        self.positions.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sets each assigned partition's start offset.
    fn starts(&self, consumer: &BaseConsumer<GroupContext>, assigned: &mut TopicPartitionList) {
        let committed = consumer.committed_offsets(assigned.clone(), BROKER_WAIT);
        if let Err(error) = &committed {
            tracing::warn!(source = %self.source, %error, "cannot read the group's committed offsets");
        }
        let committed = committed.ok();
        let positions = self.positions();
        let keys: Vec<PartitionKey> = assigned
            .elements()
            .iter()
            .map(|element| (element.topic().to_owned(), element.partition()))
            .collect();
        for key in keys {
            let group = committed
                .as_ref()
                .and_then(|list| list.find_partition(&key.0, key.1))
                .and_then(|found| match found.offset() {
                    Offset::Offset(offset) => Some(offset),
                    _ => None,
                });
            let own = positions.stored.get(&key).copied();
            let start = own.max(group).map_or(Offset::Beginning, Offset::Offset);
            tracing::info!(source = %self.source, topic = %key.0, partition = key.1, ?start, ?own, ?group, "partition assigned");
            let _ = assigned.set_partition_offset(&key.0, key.1, start);
        }
    }

    /// Commits what is held and the revoked partitions' positions.
    fn hand_back(&self, consumer: &BaseConsumer<GroupContext>, revoked: &TopicPartitionList) {
        if !self.fresh.commit_now(REVOKE_COMMIT_WAIT) {
            tracing::warn!(source = %self.source, "revoked partitions: the rows in memory were not committed in time; the next owner may read some messages again");
        }
        let mut offsets = TopicPartitionList::new();
        let mut positions = self.positions();
        for element in revoked.elements() {
            let key = (element.topic().to_owned(), element.partition());
            if let Some(offset) = positions.stored.remove(&key) {
                let _ = offsets.add_partition_offset(&key.0, key.1, Offset::Offset(offset));
            }
            positions.revoked.insert(key);
        }
        drop(positions);
        let committed = match offsets.count() {
            0 => Ok(()),
            _ => consumer.commit(&offsets, CommitMode::Sync),
        };
        if let Err(error) = committed {
            tracing::warn!(source = %self.source, %error, "cannot commit the revoked partitions' offsets");
        }
    }
}

impl ConsumerContext for GroupContext {
    fn commit_callback(&self, result: KafkaResult<()>, _offsets: &TopicPartitionList) {
        if let Err(error) = result {
            tracing::warn!(source = %self.source, %error, "cannot commit offsets to Kafka (this server's logs keep them)");
        }
    }

    fn rebalance(
        &self,
        consumer: &BaseConsumer<GroupContext>,
        err: RDKafkaRespErr,
        partitions: &mut TopicPartitionList,
    ) {
        let result: KafkaResult<()> = match err {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => {
                self.starts(consumer, partitions);
                consumer.incremental_assign(partitions)
            }
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS => {
                if !consumer.assignment_lost() {
                    self.hand_back(consumer, partitions);
                } else {
                    // Lost, not handed over: another member may already read them;
                    // what this one stored stays (its positions are in the logs).
                    let mut positions = self.positions();
                    for element in partitions.elements() {
                        let key = (element.topic().to_owned(), element.partition());
                        positions.stored.remove(&key);
                        positions.revoked.insert(key);
                    }
                }
                consumer.incremental_unassign(partitions)
            }
            other => {
                tracing::warn!(source = %self.source, error = ?other, "rebalance failed");
                Ok(())
            }
        };
        if let Err(error) = result {
            tracing::warn!(source = %self.source, %error, "cannot apply the rebalance");
        }
    }
}
