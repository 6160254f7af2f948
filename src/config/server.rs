//! The `[server]` table and the `[[sources]]` entries of `meshlog serve`
//! (PRODUCT.md §5), checked into [`ServeSettings`]: where the HTTP endpoints listen,
//! their bearer tokens, the body limit, how often rows go to Parquet, and each
//! followed-file source. An address off loopback without tokens is refused unless
//! the config says `insecure = true`; a token is never printed.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::kafka::KafkaSourceConfig;
use super::postgres::{PostgresSettings, PostgresUserConfig};
use super::{ConfigError, ConfigFile, parse_duration_s};
use crate::query::limits::parse_bytes;

/// The default HTTP address: loopback only.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:7280";

/// The `[server]` table as written.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    pub listen: Option<Spanned<String>>,
    #[serde(default)]
    pub tokens: Vec<String>,
    #[serde(default)]
    pub insecure: bool,
    pub max_body_bytes: Option<Spanned<String>>,
    /// Request bodies being read and parsed at once, all together (default 256MiB).
    pub max_inflight_bytes: Option<Spanned<String>>,
    /// Rows held in memory (and the WAL) before they are written to Parquet.
    pub flush_rows: Option<usize>,
    /// Longest time a row waits in memory before it is written to Parquet.
    pub flush_interval: Option<Spanned<String>>,
    /// The format of lines posted without a `format` query parameter.
    pub format: Option<String>,
    /// A dotted path to the reporting cluster in each posted JSON record
    /// (`kubernetes.cluster`), used when no header or parameter names one.
    pub source_cluster_field: Option<String>,
    /// The attribute of an OTLP log record or its resource that names its reporting
    /// cluster (`k8s.cluster.name` is looked at after it).
    pub otlp_cluster_attribute: Option<String>,
    /// Where OTLP's gRPC `LogsService` listens (off when absent).
    pub otlp_grpc_listen: Option<Spanned<String>>,
    /// Retried batches (`X-Meshlog-Batch-Id`) remembered, newest first.
    pub remembered_batches: Option<usize>,
    /// How long SIGTERM waits for requests under way (the last commit follows).
    pub shutdown_timeout: Option<Spanned<String>>,
    /// How often partitions are looked at for small files to merge.
    pub compact_interval: Option<Spanned<String>>,
    /// Small files a partition holds before they are merged.
    pub compact_min_files: Option<usize>,
    /// Where the PostgreSQL wire protocol listens (off when absent).
    pub postgres_listen: Option<Spanned<String>>,
    /// `scram`, `cleartext` or `trust`.
    pub postgres_auth: Option<Spanned<String>>,
    #[serde(default)]
    pub postgres_users: Vec<PostgresUserConfig>,
    pub postgres_tls_cert: Option<String>,
    pub postgres_tls_key: Option<String>,
    /// PostgreSQL sessions open at once.
    pub postgres_max_connections: Option<usize>,
}

/// One `[[sources]]` entry: a closed set of kinds, each with its own keys.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SourceConfig {
    /// Files followed like `tail -F`.
    File(FileSourceConfig),
    /// A Kafka consumer group.
    Kafka(KafkaSourceConfig),
}

/// `type = "file"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSourceConfig {
    /// Paths or glob patterns (`*`, `?`, `[…]` in the file name).
    pub paths: Vec<String>,
    pub source_cluster: Option<String>,
    pub format: Option<String>,
    /// How often the files are looked at, in milliseconds (default 250, at least 10).
    pub poll_ms: Option<u64>,
}

/// Checked server settings.
#[derive(Clone)]
pub struct ServeSettings {
    pub listen: SocketAddr,
    pub tokens: Arc<[String]>,
    pub max_body_bytes: usize,
    pub max_inflight_bytes: usize,
    pub flush_rows: usize,
    pub flush_interval: Duration,
    pub format: String,
    pub source_cluster_field: Option<String>,
    pub otlp_cluster_attribute: Option<String>,
    pub otlp_grpc_listen: Option<SocketAddr>,
    pub remembered_batches: usize,
    pub shutdown_timeout: Duration,
    pub compact_interval: Duration,
    pub compact_min_files: usize,
    pub files: Vec<FileSourceConfig>,
    pub kafka: Vec<KafkaSourceConfig>,
    pub postgres: Option<PostgresSettings>,
}

/// Tokens are secrets: a debug print says how many there are, never what.
impl std::fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerConfig")
            .field("listen", &self.listen)
            .field("tokens", &self.tokens.len())
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for ServeSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServeSettings")
            .field("listen", &self.listen)
            .field("tokens", &self.tokens.len())
            .field("postgres", &self.postgres)
            .finish_non_exhaustive()
    }
}

impl ServeSettings {
    /// The settings of `file`'s `[server]` and `[[sources]]`, with `listen`
    /// overridden by the command line when given.
    pub fn from_file(
        file: &ConfigFile,
        listen: Option<&str>,
    ) -> Result<ServeSettings, ConfigError> {
        let default = ServerConfig::default();
        let server = file.config.server.as_ref().unwrap_or(&default);
        let listen = listen_address(file, server, listen)?;
        check_exposure(file, server, listen)?;
        let (files, kafka) = sources(file)?;
        let format = server.format.clone().unwrap_or_else(|| "auto".to_owned());
        if let Err(error) = meshlog_parsers::LineParser::new(&format) {
            let message = format!("[server] format {format:?}: {error}");
            return Err(ConfigError::Syntax { path: file.path.clone(), message });
        }
        let settings = ServeSettings {
            listen,
            tokens: server.tokens.clone().into(),
            max_body_bytes: bytes(
                file,
                "max_body_bytes",
                server.max_body_bytes.as_ref(),
                16 << 20,
            )?,
            max_inflight_bytes: bytes(
                file,
                "max_inflight_bytes",
                server.max_inflight_bytes.as_ref(),
                64 << 20,
            )?,
            flush_rows: server.flush_rows.unwrap_or(65_536).max(1),
            flush_interval: duration(file, "flush_interval", server.flush_interval.as_ref(), 60)?,
            format,
            source_cluster_field: server.source_cluster_field.clone(),
            otlp_cluster_attribute: server.otlp_cluster_attribute.clone(),
            otlp_grpc_listen: otlp_grpc_address(file, server)?,
            remembered_batches: server.remembered_batches.unwrap_or(10_000),
            shutdown_timeout: duration(
                file,
                "shutdown_timeout",
                server.shutdown_timeout.as_ref(),
                30,
            )?,
            compact_interval: duration(
                file,
                "compact_interval",
                server.compact_interval.as_ref(),
                300,
            )?,
            compact_min_files: server.compact_min_files.unwrap_or(8).max(2),
            files,
            kafka,
            postgres: PostgresSettings::from_server(file, server)?,
        };
        settings.check_budget(file)?;
        Ok(settings)
    }

    /// Refuses a budget for bodies in flight that one largest body could not fit
    /// (every such request would be told 503 for good).
    fn check_budget(&self, file: &ConfigFile) -> Result<(), ConfigError> {
        if self.max_inflight_bytes >= self.max_body_bytes.saturating_mul(2) {
            return Ok(());
        }
        let message = format!(
            "[server] max_inflight_bytes ({}) must be at least twice max_body_bytes ({}): a \
             request reserves its body and its rows",
            self.max_inflight_bytes, self.max_body_bytes
        );
        Err(ConfigError::Syntax { path: file.path.clone(), message })
    }
}

/// The `[[sources]]`: followed files and Kafka consumers, each checked.
fn sources(
    file: &ConfigFile,
) -> Result<(Vec<FileSourceConfig>, Vec<KafkaSourceConfig>), ConfigError> {
    let (mut files, mut kafka) = (Vec::new(), Vec::new());
    for source in &file.config.sources {
        match source {
            SourceConfig::File(source) => files.push(source.clone()),
            SourceConfig::Kafka(source) => {
                let format = source.format.as_deref().unwrap_or("auto");
                let problem = source.problem().or_else(|| {
                    let error = meshlog_parsers::LineParser::new(format).err()?;
                    Some(format!("[[sources]] type = \"kafka\": format {format:?}: {error}"))
                });
                if let Some(message) = problem {
                    return Err(ConfigError::Syntax { path: file.path.clone(), message });
                }
                kafka.push(source.clone());
            }
        }
    }
    Ok((files, kafka))
}

fn listen_address(
    file: &ConfigFile,
    server: &ServerConfig,
    flag: Option<&str>,
) -> Result<SocketAddr, ConfigError> {
    if let Some(flag) = flag {
        return flag.parse().map_err(|_| ConfigError::Syntax {
            path: file.path.clone(),
            message: format!("--listen {flag:?} is not an address such as 127.0.0.1:7280"),
        });
    }
    let Some(listen) = &server.listen else {
        return Ok(DEFAULT_LISTEN.parse().unwrap_or_else(|_| unreachable!()));
    };
    listen.get_ref().parse().map_err(|_| {
        file.value_error("listen", listen.span(), "not an address such as \"127.0.0.1:7280\"")
    })
}

/// Refuses an address reachable from elsewhere without tokens, unless `insecure`.
fn check_exposure(
    file: &ConfigFile,
    server: &ServerConfig,
    listen: SocketAddr,
) -> Result<(), ConfigError> {
    if listen.ip().is_loopback() || !server.tokens.is_empty() || server.insecure {
        return Ok(());
    }
    let span = server.listen.as_ref().map_or(0..0, Spanned::span);
    Err(file.value_error(
        "listen",
        span,
        format!(
            "{listen} is reachable from other hosts: set `tokens` (clients send \
             `Authorization: Bearer <token>`), or `insecure = true` to serve without them"
        ),
    ))
}

/// `otlp_grpc_listen`, refused off loopback as `listen` is (the same tokens).
fn otlp_grpc_address(
    file: &ConfigFile,
    server: &ServerConfig,
) -> Result<Option<SocketAddr>, ConfigError> {
    let Some(listen) = &server.otlp_grpc_listen else { return Ok(None) };
    let address: SocketAddr = listen.get_ref().parse().map_err(|_| {
        file.value_error(
            "otlp_grpc_listen",
            listen.span(),
            "not an address such as \"0.0.0.0:4317\"",
        )
    })?;
    if address.ip().is_loopback() || !server.tokens.is_empty() || server.insecure {
        return Ok(Some(address));
    }
    Err(file.value_error(
        "otlp_grpc_listen",
        listen.span(),
        format!(
            "{address} is reachable from other hosts: set `tokens` (exporters send the metadata \
             `authorization: Bearer <token>`), or `insecure = true` to serve without them"
        ),
    ))
}

fn bytes(
    file: &ConfigFile,
    key: &str,
    value: Option<&Spanned<String>>,
    default: usize,
) -> Result<usize, ConfigError> {
    let Some(value) = value else { return Ok(default) };
    parse_bytes(value.get_ref())
        .filter(|&bytes| bytes > 0)
        .ok_or_else(|| file.value_error(key, value.span(), "not a size such as \"16MiB\""))
}

fn duration(
    file: &ConfigFile,
    key: &str,
    value: Option<&Spanned<String>>,
    default_s: u64,
) -> Result<Duration, ConfigError> {
    let Some(value) = value else { return Ok(Duration::from_secs(default_s)) };
    parse_duration_s(value.get_ref())
        .filter(|&seconds| seconds > 0)
        .map(|seconds| Duration::from_secs(seconds.into()))
        .ok_or_else(|| file.value_error(key, value.span(), "not a duration such as \"30s\""))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn settings(text: &str) -> Result<ServeSettings, ConfigError> {
        let file = ConfigFile::parse(Path::new("mesh.toml"), text.into())?;
        ServeSettings::from_file(&file, None)
    }

    #[test]
    fn defaults_listen_on_loopback() {
        let settings = settings("").unwrap();
        assert_eq!(settings.listen.to_string(), DEFAULT_LISTEN);
        assert_eq!(settings.max_body_bytes, 16 << 20);
    }

    #[test]
    fn refuses_an_open_address_without_tokens() {
        let error = settings("[server]\nlisten = \"0.0.0.0:7280\"\n").unwrap_err().to_string();
        assert!(error.contains("mesh.toml:2: `listen`"), "{error}");
        assert!(error.contains("tokens"), "{error}");
        settings("[server]\nlisten = \"0.0.0.0:7280\"\ntokens = [\"t\"]\n").unwrap();
        settings("[server]\nlisten = \"0.0.0.0:7280\"\ninsecure = true\n").unwrap();
    }

    #[test]
    fn otlp_grpc_is_off_unless_configured_and_needs_tokens_off_loopback() {
        assert_eq!(settings("").unwrap().otlp_grpc_listen, None);
        let on = settings("[server]\notlp_grpc_listen = \"127.0.0.1:4317\"\n").unwrap();
        assert_eq!(on.otlp_grpc_listen, Some("127.0.0.1:4317".parse().unwrap()));
        let open = settings_error("[server]\notlp_grpc_listen = \"0.0.0.0:4317\"\n");
        assert!(open.contains("otlp_grpc_listen") && open.contains("tokens"), "{open}");
        let text = "[server]\notlp_grpc_listen = \"0.0.0.0:4317\"\ntokens = [\"t0ken\"]\n";
        assert!(settings(text).unwrap().otlp_grpc_listen.is_some());
        assert!(settings_error("[server]\notlp_grpc_listen = \"4317\"\n").contains("0.0.0.0:4317"));
    }

    #[test]
    fn reads_kafka_sources_and_keeps_their_offsets_settings_to_itself() {
        let kafka = "[[sources]]\ntype = \"kafka\"\nbrokers = \"k:9092\"\ntopics = [\"logs\"]\n\
                     topic_clusters = { logs = \"cluster1\" }\n";
        let settings = settings(kafka).unwrap();
        assert_eq!(settings.kafka[0].group(), "meshlog");
        assert_eq!(settings.kafka[0].topic_clusters["logs"], "cluster1");
        let owned =
            settings_error(&format!("{kafka}options = {{ \"enable.auto.commit\" = \"true\" }}\n"));
        assert!(owned.contains("enable.auto.commit"), "{owned}");
        let no_topics =
            settings_error("[[sources]]\ntype = \"kafka\"\nbrokers = \"k:9092\"\ntopics = []\n");
        assert!(no_topics.contains("topics"), "{no_topics}");
    }

    #[test]
    fn reads_file_sources() {
        let settings = settings(
            "[[sources]]\ntype = \"file\"\npaths = [\"/var/log/istio/*.log\"]\n\
             source_cluster = \"cluster1\"\nformat = \"auto\"\n",
        )
        .unwrap();
        assert_eq!(settings.files[0].paths, ["/var/log/istio/*.log"]);
        let error = settings_error("[[sources]]\ntype = \"ftp\"\npaths = []\n");
        assert!(error.contains("ftp"), "{error}");
    }

    #[test]
    fn refuses_an_inflight_budget_one_body_cannot_fit() {
        let error = settings_error(
            "[server]\nmax_body_bytes = \"16MiB\"\nmax_inflight_bytes = \"20MiB\"\n",
        );
        assert!(error.contains("at least twice"), "{error}");
        let error = settings_error("[server]\nformat = \"%NOPE\"\n");
        assert!(error.contains("[server] format"), "{error}");
    }

    fn settings_error(text: &str) -> String {
        settings(text).unwrap_err().to_string()
    }
}
