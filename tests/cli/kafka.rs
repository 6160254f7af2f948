//! Kafka sources against a real broker (tansu, [`super::kafka_support`]): every
//! produced record is stored exactly once (by request id) across graceful restarts
//! and SIGKILLs at random moments, since offsets are stored with the rows they
//! produced. A canary checks the broker itself resumes a group at an offset
//! committed inside a record batch, so that a broker fault is told apart from a
//! meshlog fault. librdkafka's mock cluster fails every offset commit, to show the
//! offsets in meshlog's own logs are the ones that count.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::message::Message;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};

use super::kafka_support::{Broker, produce_to};
use super::serve_support::{Server, line, write_config};
use super::support::{query_json, scratch};

/// Rebalances and first fetches of a new group member take seconds.
const SETTLE: Duration = Duration::from_secs(90);

fn consumer(broker: &Broker, group: &str) -> BaseConsumer {
    ClientConfig::new()
        .set("bootstrap.servers", broker.address())
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()
        .expect("a consumer")
}

#[test]
fn canary_the_broker_resumes_a_group_at_an_offset_inside_a_record_batch() {
    let broker = Broker::start();
    broker.create_topic("canary", 1);
    let values: Vec<String> = (0..10).map(|index| format!("message {index}")).collect();
    broker.produce("canary", &values);
    let mut at_five = TopicPartitionList::new();
    at_five.add_partition_offset("canary", 0, Offset::Offset(5)).unwrap();
    let first = consumer(&broker, "canary");
    first.assign(&at_five).unwrap();
    first.commit(&at_five, CommitMode::Sync).expect("the commit is taken");
    drop(first);

    let second = consumer(&broker, "canary");
    let mut stored = TopicPartitionList::new();
    stored.add_partition_offset("canary", 0, Offset::Stored).unwrap();
    second.assign(&stored).unwrap();
    let deadline = Instant::now() + SETTLE;
    let message = loop {
        assert!(Instant::now() < deadline, "no message within {SETTLE:?}");
        if let Some(message) = second.poll(Duration::from_millis(200)) {
            break message.expect("a message");
        }
    };
    assert_eq!(message.offset(), 5, "the group resumes where it committed");
    assert_eq!(message.payload(), Some(&b"message 5"[..]));
}

/// A `[[sources]]` entry reading `topic` at `brokers` as cluster1's lines, with a
/// session timeout short enough that a killed member's partitions move within
/// seconds; `more` adds keys.
fn kafka_source(brokers: &str, topic: &str, more: &str) -> String {
    format!(
        "[[sources]]\ntype = \"kafka\"\nbrokers = \"{brokers}\"\ntopics = [\"{topic}\"]\n\
         source_cluster = \"cluster1\"\n\
         options = {{ \"session.timeout.ms\" = \"6000\", \"heartbeat.interval.ms\" = \"500\" }}\n\
         {more}\n"
    )
}

/// Access-log lines whose request ids are `{prefix}-{index:05}` for `from..to`.
fn numbered_lines(prefix: &str, from: usize, to: usize) -> Vec<String> {
    (from..to).map(|index| line(&format!("{prefix}-{index:05}"))).collect()
}

/// A pseudo-random number below `bound`, from a seed the test prints.
fn next(seed: &mut u64, bound: u64) -> u64 {
    *seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
    (*seed >> 33) % bound
}

fn stored_rows(server: &Server) -> (u64, u64) {
    let sql = "SELECT count(*) AS n, count(DISTINCT request_id) AS ids FROM requests";
    let row = &server.query(sql)[0];
    (row["n"].as_u64().unwrap(), row["ids"].as_u64().unwrap())
}

#[test]
fn every_record_is_stored_once_across_restarts_and_kills() {
    let dir = scratch("kafka-exactly-once");
    let broker = Broker::start();
    broker.create_topic("istio-logs", 3);
    let more = "group_id = \"meshlog-test\"\nmax_batch_messages = 200";
    let source = kafka_source(&broker.address(), "istio-logs", more);
    let (config, port) = write_config(&dir, "flush_rows = 300\nflush_interval = \"1s\"", &source);
    let mut seed = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos() as u64;
    eprintln!("seed {seed}");
    let mut produced = 0;
    let mut produce = |count: usize| {
        broker.produce("istio-logs", &numbered_lines("k", produced, produced + count));
        produced += count;
        produced as u64
    };

    produce(1000);
    let mut seen = Vec::new();
    let mut before = 0;
    for round in 0..5 {
        let server = Server::start(&config, port);
        produce(3000);
        // Killed at a random moment once it reads: while reading, storing or
        // committing.
        let joined = Instant::now();
        while stored_rows(&server).0 <= before {
            assert!(joined.elapsed() < SETTLE, "round {round}: nothing read: {}", server.log());
            std::thread::sleep(Duration::from_millis(20));
        }
        eprintln!("round {round}: reading after {:?}", joined.elapsed());
        std::thread::sleep(Duration::from_millis(next(&mut seed, 300)));
        let (rows, ids) = stored_rows(&server);
        before = rows;
        assert_eq!(rows, ids, "round {round}: a record stored twice");
        seen.push(rows);
        server.kill();
    }
    eprintln!("rows stored when killed: {seen:?}");
    assert!(seen.iter().any(|rows| *rows > 0), "nothing was consumed before the kills");
    let server = Server::start(&config, port);
    let total = produce(500);
    std::thread::sleep(Duration::from_millis(500));
    assert!(server.stop().success(), "a graceful stop");

    let server = Server::start(&config, port);
    let done = || stored_rows(&server).0 >= total;
    let waited = Instant::now();
    while !done() {
        assert!(waited.elapsed() < SETTLE, "{:?} of {total} stored", stored_rows(&server));
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(stored_rows(&server), (total, total), "every record once");
    let clusters = server.query("SELECT DISTINCT source_cluster FROM requests");
    assert_eq!(clusters, [serde_json::json!({ "source_cluster": "cluster1" })]);
    assert!(server.stop().success());
}

/// The request ids of `server`'s rows.
fn request_ids(server: &Server) -> Vec<String> {
    let rows = server.query("SELECT request_id FROM requests");
    rows.iter().map(|row| row["request_id"].as_str().unwrap().to_owned()).collect()
}

#[test]
fn members_joining_and_leaving_the_group_store_every_record_once_between_them() {
    let broker = Broker::start();
    broker.create_topic("shared-logs", 6);
    let more = "group_id = \"meshlog-group\"\nmax_batch_messages = 100";
    let source = kafka_source(&broker.address(), "shared-logs", more);
    // Each member writes its own data directory.
    let members: Vec<_> = ["kafka-member-a", "kafka-member-b", "kafka-member-c"]
        .iter()
        .map(|name| {
            let dir = scratch(name);
            // Rows stay in memory until a revoke makes them committed.
            let (config, port) = write_config(&dir, "flush_interval = \"60s\"", &source);
            (dir, config, port)
        })
        .collect();
    let mut produced = 0;
    let mut produce = |count: usize| {
        broker.produce("shared-logs", &numbered_lines("g", produced, produced + count));
        produced += count;
        produced as u64
    };
    let a = Server::start(&members[0].1, members[0].2);
    produce(600);
    let b = Server::start(&members[1].1, members[1].2);
    produce(600);
    let c = Server::start(&members[2].1, members[2].2);
    produce(600);
    std::thread::sleep(Duration::from_secs(5));
    // A leaves: its partitions move to B and C, after what it read is committed.
    let a_data = a.data_dir.clone();
    assert!(a.stop().success());
    let a_ids: Vec<String> = query_json(&a_data, "SELECT request_id FROM requests")
        .iter()
        .map(|row| row["request_id"].as_str().unwrap().to_owned())
        .collect();
    let total = produce(600);

    let waited = Instant::now();
    loop {
        let mut all = a_ids.clone();
        all.extend(request_ids(&b));
        all.extend(request_ids(&c));
        let stored = all.len() as u64;
        all.sort();
        all.dedup();
        assert_eq!(all.len() as u64, stored, "a record stored by two members");
        if stored == total {
            break;
        }
        assert!(waited.elapsed() < SETTLE, "{stored} of {total} stored");
        std::thread::sleep(Duration::from_millis(500));
    }
    let counts = [a_ids.len(), request_ids(&b).len(), request_ids(&c).len()];
    eprintln!("rows per member: {counts:?}");
    assert!(counts.iter().filter(|rows| **rows > 0).count() >= 2, "the group shared the work");
    assert!(b.stop().success());
    assert!(c.stop().success());
}

#[test]
fn offsets_kafka_never_got_are_made_up_by_those_in_the_commit_log() {
    let mock = rdkafka::mocking::MockCluster::new(1).expect("librdkafka's mock cluster");
    mock.create_topic("lost-commits", 3, 1).unwrap();
    // Every offset commit fails, as when the group coordinator loses them.
    let failure = rdkafka::types::RDKafkaRespErr::RD_KAFKA_RESP_ERR_OFFSET_METADATA_TOO_LARGE;
    mock.request_errors(rdkafka::types::RDKafkaApiKey::OffsetCommit, &[failure; 5000]);
    let bootstrap = mock.bootstrap_servers();
    let dir = scratch("kafka-lost-commits");
    let source = kafka_source(&bootstrap, "lost-commits", "");
    let (config, port) = write_config(&dir, "flush_interval = \"1s\"", &source);
    produce_to(&bootstrap, "lost-commits", &numbered_lines("lost", 0, 1000));
    let wait_for = |server: &Server, rows: u64| {
        let waited = Instant::now();
        while stored_rows(server).0 < rows {
            assert!(waited.elapsed() < SETTLE, "{:?} of {rows}", stored_rows(server));
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    let server = Server::start(&config, port);
    wait_for(&server, 1000);
    std::thread::sleep(Duration::from_secs(2));
    assert!(server.stop().success());
    assert!(
        std::fs::read_to_string(dir.join("serve.log")).unwrap().contains("cannot commit"),
        "the commits to Kafka failed"
    );

    produce_to(&bootstrap, "lost-commits", &numbered_lines("lost", 1000, 1500));
    let server = Server::start(&config, port);
    wait_for(&server, 1500);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(stored_rows(&server), (1500, 1500), "read again from the start");
    assert!(server.stop().success());
}
