//! `[[sources]] type = "kafka"`: a Kafka consumer group reading access logs (text
//! lines, JSON entries, or shippers' JSON envelopes, one per message), checked into
//! [`KafkaSourceConfig`]. The reporting cluster of a message comes from a header
//! (`cluster_header`), else the topic (`topic_clusters`), else a field of a JSON
//! message (`source_cluster_field`), else `source_cluster`.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

/// Messages taken into one batch, at most, unless the source says.
const DEFAULT_BATCH_MESSAGES: usize = 10_000;
/// How long a batch waits for more messages, unless the source says.
const DEFAULT_BATCH_WAIT_MS: u64 = 250;

/// `[[sources]] type = "kafka"` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaSourceConfig {
    /// `host:port,host:port` (librdkafka's `bootstrap.servers`).
    pub brokers: String,
    pub topics: Vec<String>,
    /// The consumer group (default `meshlog`): instances in one group share the
    /// partitions.
    pub group_id: Option<String>,
    pub format: Option<String>,
    /// The reporting cluster of messages that name none.
    pub source_cluster: Option<String>,
    /// Topic → reporting cluster.
    #[serde(default)]
    pub topic_clusters: BTreeMap<String, String>,
    /// A message header whose value is the reporting cluster.
    pub cluster_header: Option<String>,
    /// A dotted path to the reporting cluster inside a JSON message.
    pub source_cluster_field: Option<String>,
    /// More librdkafka settings (`security.protocol`, `sasl.*`, `ssl.*`, …).
    #[serde(default)]
    pub options: BTreeMap<String, String>,
    pub max_batch_messages: Option<usize>,
    pub batch_wait_ms: Option<u64>,
}

/// Settings meshlog owns: a source's `options` cannot change them.
pub const OWNED_OPTIONS: [&str; 6] = [
    "bootstrap.servers",
    "group.id",
    "enable.auto.commit",
    "enable.auto.offset.store",
    "partition.assignment.strategy",
    "enable.partition.eof",
];

impl KafkaSourceConfig {
    /// The consumer group.
    pub fn group(&self) -> &str {
        self.group_id.as_deref().unwrap_or("meshlog")
    }

    /// Messages in one batch, at most.
    pub fn batch_messages(&self) -> usize {
        self.max_batch_messages.unwrap_or(DEFAULT_BATCH_MESSAGES).max(1)
    }

    /// How long a batch waits for more messages.
    pub fn batch_wait(&self) -> Duration {
        Duration::from_millis(self.batch_wait_ms.unwrap_or(DEFAULT_BATCH_WAIT_MS))
    }

    /// What is wrong with it, if anything.
    pub fn problem(&self) -> Option<String> {
        if self.brokers.trim().is_empty() {
            return Some("[[sources]] type = \"kafka\": `brokers` is empty".to_owned());
        }
        if self.topics.is_empty() {
            return Some("[[sources]] type = \"kafka\": `topics` is empty".to_owned());
        }
        let owned = self.options.keys().find(|key| OWNED_OPTIONS.contains(&key.as_str()))?;
        Some(format!(
            "[[sources]] type = \"kafka\": options.{owned:?} is set by meshlog (use `brokers` \
             and `group_id`; offsets are meshlog's to store and commit)"
        ))
    }
}
