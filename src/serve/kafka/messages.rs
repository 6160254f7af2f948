//! A Kafka message as the sink's records: a JSON object is a shipper's envelope or
//! an Envoy JSON entry (as in an NDJSON body of `POST /api/v1/logs`), anything else
//! is text, one line per `\n`; an empty message is one empty line (a reject). The
//! reporting cluster: the `cluster_header` header, else the topic's in
//! `topic_clusters`, else the JSON record's `source_cluster_field`.

use std::borrow::Cow;

use crate::config::kafka::KafkaSourceConfig;
use crate::serve::body::{self, BodyKind, Record};

/// What the records of one message are read with.
pub struct MessageReading<'c> {
    pub config: &'c KafkaSourceConfig,
}

impl MessageReading<'_> {
    /// The records of a message of `topic`; `header_cluster` is the value of the
    /// configured header, if the message has it.
    pub fn records(
        &self,
        topic: &str,
        payload: Option<&[u8]>,
        header_cluster: Option<&str>,
    ) -> Vec<Record<'static>> {
        let payload = payload.unwrap_or_default();
        let first = payload.iter().find(|byte| !byte.is_ascii_whitespace());
        let kind = match first {
            Some(b'{') => BodyKind::Json,
            _ => BodyKind::Text,
        };
        let field = self.config.source_cluster_field.as_deref();
        // A JSON object that does not parse is read as a line as it is.
        let mut records = body::records(kind, payload, field).unwrap_or_default();
        if records.is_empty() {
            records.push(Record { line: Cow::Borrowed(b""), source_cluster: None });
        }
        let named = header_cluster
            .map(str::trim)
            .filter(|name| !name.is_empty())
            .or_else(|| self.config.topic_clusters.get(topic).map(String::as_str));
        records
            .into_iter()
            .map(|record| Record {
                line: Cow::Owned(record.line.into_owned()),
                source_cluster: named.map(str::to_owned).or(record.source_cluster),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str) -> KafkaSourceConfig {
        toml::from_str(&format!("brokers = \"b:9092\"\ntopics = [\"logs\"]\n{text}")).unwrap()
    }

    fn lines(records: &[Record<'_>]) -> Vec<(String, Option<String>)> {
        let text = |record: &Record<'_>| String::from_utf8_lossy(&record.line).into_owned();
        records.iter().map(|record| (text(record), record.source_cluster.clone())).collect()
    }

    #[test]
    fn text_json_envelopes_and_empty_messages_are_records() {
        let config = config("source_cluster_field = \"kubernetes.cluster\"");
        let reading = MessageReading { config: &config };
        let text = reading.records(
            "logs",
            Some(b"[2026-11-01T10:00:00.000Z] \"GET / HTTP/1.1\" 200\n"),
            None,
        );
        assert_eq!(
            lines(&text),
            [("[2026-11-01T10:00:00.000Z] \"GET / HTTP/1.1\" 200".into(), None)]
        );
        let vector = br#"{"message":"a line","kubernetes":{"cluster":"cluster2"}}"#;
        let shipped = reading.records("logs", Some(vector), None);
        assert_eq!(lines(&shipped), [("a line".into(), Some("cluster2".into()))]);
        assert_eq!(lines(&reading.records("logs", None, None)), [(String::new(), None)]);
    }

    #[test]
    fn the_header_comes_before_the_topic_and_the_topic_before_the_field() {
        let config = config(
            "source_cluster_field = \"cluster\"\ncluster_header = \"x-cluster\"\n\
             topic_clusters = { logs = \"cluster1\" }",
        );
        let reading = MessageReading { config: &config };
        let message = Some(&br#"{"message":"m","cluster":"cluster3"}"#[..]);
        let cluster =
            |topic, header| reading.records(topic, message, header)[0].source_cluster.clone();
        assert_eq!(cluster("logs", Some("cluster2")).as_deref(), Some("cluster2"));
        assert_eq!(cluster("logs", None).as_deref(), Some("cluster1"));
        assert_eq!(cluster("other", None).as_deref(), Some("cluster3"));
        assert_eq!(
            cluster("logs", Some(" ")).as_deref(),
            Some("cluster1"),
            "a blank header names none"
        );
    }
}
