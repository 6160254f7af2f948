//! The TOML configuration of PRODUCT.md §3: the data directory, the mesh topology
//! (`[[clusters]]`), the failover detector's `[failover]` settings and the admin
//! endpoints `meshlog scrape` polls (`[[scrape]]`). Parsing is
//! strict: an unknown key or a bad value is an error that names the key and the line.
//! Command-line flags override the file; without a file, defaults apply.

pub mod duration;
pub mod kafka;
pub mod postgres;
pub mod scrape;
pub mod server;
pub mod settings;
pub mod topology;

use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

pub use duration::parse_duration_s;
pub use settings::{Overrides, Settings};

/// The default data directory, relative to where meshlog runs.
pub const DEFAULT_DATA_DIR: &str = "meshlog-data";

/// The configuration file as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MeshConfig {
    pub data_dir: Option<PathBuf>,
    /// The cluster whose proxies wrote the logs, when one config serves one cluster.
    pub source_cluster: Option<String>,
    #[serde(default)]
    pub clusters: Vec<ClusterConfig>,
    #[serde(default)]
    pub failover: FailoverConfig,
    /// Envoy admin endpoints to poll (`meshlog scrape`).
    #[serde(default)]
    pub scrape: Vec<scrape::ScrapeConfig>,
    /// `meshlog serve`'s endpoints and limits.
    pub server: Option<server::ServerConfig>,
    /// What `meshlog serve` follows besides its HTTP sink.
    #[serde(default)]
    pub sources: Vec<server::SourceConfig>,
}

/// One `[[clusters]]` entry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterConfig {
    pub name: Spanned<String>,
    pub network: Option<String>,
    pub region: Option<String>,
    pub zone: Option<String>,
    #[serde(default)]
    pub pod_cidrs: Vec<Spanned<String>>,
    #[serde(default)]
    pub eastwest_gateways: Vec<Spanned<String>>,
}

/// The `[failover]` table; every key is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FailoverConfig {
    pub mode: Option<Spanned<String>>,
    pub window: Option<Spanned<String>>,
    pub enter_share: Option<Spanned<f64>>,
    pub exit_share: Option<Spanned<f64>>,
    pub min_shift: Option<Spanned<f64>>,
    pub min_duration: Option<Spanned<String>>,
    pub min_requests: Option<u32>,
    pub max_delay: Option<Spanned<String>>,
    pub baseline_min: Option<Spanned<String>>,
    pub baseline_min_requests: Option<u32>,
    pub baseline_span: Option<Spanned<String>>,
}

/// Why a configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Syntax { path: PathBuf, message: String },
    #[error("{path}:{line}: `{key}`: {message}")]
    Value { path: PathBuf, line: usize, key: String, message: String },
}

/// Something in a configuration that is read, but maybe not as meant: printed on
/// stderr (`tracing::warn!`) by whoever loads the file, never an error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}:{line}: `{key}`: {message}")]
pub struct ConfigWarning {
    pub path: PathBuf,
    pub line: usize,
    pub key: String,
    pub message: String,
}

/// A config file read into memory, so that errors can point at lines.
pub struct ConfigFile {
    pub path: PathBuf,
    pub text: String,
    pub config: MeshConfig,
}

impl ConfigFile {
    /// Reads and parses `path`; structural errors (unknown keys, wrong types) name
    /// the key and the line.
    pub fn load(path: &Path) -> Result<ConfigFile, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Read { path: path.into(), source })?;
        ConfigFile::parse(path, text)
    }

    /// A path the file gives: a relative one is relative to the file's directory.
    pub fn relative(&self, path: impl AsRef<Path>) -> PathBuf {
        let path = path.as_ref();
        if path.is_absolute() {
            return path.to_path_buf();
        }
        self.path.parent().map_or_else(|| path.to_path_buf(), |parent| parent.join(path))
    }

    /// Parses config text that came from `path`.
    pub fn parse(path: &Path, text: String) -> Result<ConfigFile, ConfigError> {
        let config: MeshConfig = toml::from_str(&text).map_err(|error| ConfigError::Syntax {
            path: path.into(),
            message: error.to_string(),
        })?;
        Ok(ConfigFile { path: path.into(), text, config })
    }

    /// An error about the value at `span`, with its line number.
    pub fn value_error(
        &self,
        key: &str,
        span: std::ops::Range<usize>,
        message: impl Into<String>,
    ) -> ConfigError {
        let line = line_of(&self.text, span.start);
        ConfigError::Value {
            path: self.path.clone(),
            line,
            key: key.into(),
            message: message.into(),
        }
    }

    /// A warning about the value at `span`, with its line number.
    pub fn value_warning(
        &self,
        key: &str,
        span: std::ops::Range<usize>,
        message: impl Into<String>,
    ) -> ConfigWarning {
        let line = line_of(&self.text, span.start);
        ConfigWarning { path: self.path.clone(), line, key: key.into(), message: message.into() }
    }

    /// `path:line` of the value at `span`, to name a second place in a message.
    pub fn location(&self, span: std::ops::Range<usize>) -> String {
        format!("{}:{}", self.path.display(), line_of(&self.text, span.start))
    }
}

/// The 1-based line of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end].iter().filter(|&&byte| byte == b'\n').count() + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<ConfigFile, ConfigError> {
        ConfigFile::parse(Path::new("mesh.toml"), text.into())
    }

    #[test]
    fn reads_the_product_spec_example() {
        let file = parse(
            r#"
data_dir = "meshlog-data"
[[clusters]]
name = "cluster1"
network = "network1"
region = "us-west1"
pod_cidrs = ["10.112.0.0/16"]
eastwest_gateways = ["34.168.157.2:15443"]
[[clusters]]
name = "cluster2"
pod_cidrs = ["10.96.0.0/16"]
eastwest_gateways = ["35.200.10.5:15443"]
"#,
        )
        .unwrap();
        assert_eq!(file.config.clusters.len(), 2);
        assert_eq!(file.config.clusters[1].name.get_ref(), "cluster2");
    }

    #[test]
    fn an_unknown_key_is_named_with_its_line() {
        let error = parse("[[clusters]]\nname = \"a\"\npod_cidr = []\n").err().unwrap();
        let message = error.to_string();
        assert!(message.contains("pod_cidr"), "{message}");
        assert!(message.contains("line 3"), "{message}");
    }

    #[test]
    fn value_errors_carry_the_line() {
        let file = parse("\n\n[failover]\nenter_share = 2.0\n").unwrap();
        let span = file.config.failover.enter_share.as_ref().unwrap().span();
        let error = file.value_error("failover.enter_share", span, "must be between 0 and 1");
        assert_eq!(
            error.to_string(),
            "mesh.toml:4: `failover.enter_share`: must be between 0 and 1"
        );
    }
}
