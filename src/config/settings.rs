//! Settings resolved from the config file and the command line: flags override the
//! file, the file overrides defaults. Values are validated here, with the line of
//! the offending key, so later stages can trust them.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{ConfigError, ConfigFile, DEFAULT_DATA_DIR, FailoverConfig, parse_duration_s};
use crate::analytics::failover::{DetectionMode, FailoverSettings};
use crate::enrich::Topology;

/// What the command line says, for the keys it can override.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub config: Option<PathBuf>,
    pub data_dir: Option<PathBuf>,
    pub source_cluster: Option<String>,
}

/// Validated settings.
#[derive(Debug)]
pub struct Settings {
    pub data_dir: PathBuf,
    pub topology: Arc<Topology>,
    pub source_cluster: Option<Arc<str>>,
    pub failover: FailoverSettings,
}

impl Settings {
    /// Reads the config file, if any, and applies the overrides.
    pub fn resolve(overrides: &Overrides) -> Result<Settings, ConfigError> {
        let Some(path) = &overrides.config else {
            return Ok(Settings {
                data_dir: overrides
                    .data_dir
                    .clone()
                    .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR)),
                topology: Arc::new(Topology::default()),
                source_cluster: overrides.source_cluster.as_deref().map(Arc::from),
                failover: FailoverSettings::default(),
            });
        };
        let file = ConfigFile::load(path)?;
        Settings::from_file(&file, overrides)
    }

    /// The config file at `config` and its settings, the data directory overridden
    /// by `data_dir` when given (the commands that require a config).
    pub fn load(
        config: &Path,
        data_dir: Option<PathBuf>,
    ) -> Result<(ConfigFile, Settings), ConfigError> {
        let file = ConfigFile::load(config)?;
        let overrides =
            Overrides { config: Some(config.to_owned()), data_dir, source_cluster: None };
        let settings = Settings::from_file(&file, &overrides)?;
        Ok((file, settings))
    }

    /// Settings from a loaded file and the overrides.
    pub fn from_file(file: &ConfigFile, overrides: &Overrides) -> Result<Settings, ConfigError> {
        let config = &file.config;
        let data_dir = overrides
            .data_dir
            .clone()
            .or_else(|| config.data_dir.as_ref().map(|dir| file.relative(dir)))
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
        let source_cluster =
            overrides.source_cluster.clone().or_else(|| config.source_cluster.clone());
        Ok(Settings {
            data_dir,
            topology: Arc::new(crate::config::topology::from_config(file)?),
            source_cluster: source_cluster.as_deref().map(Arc::from),
            failover: failover_settings(file, &config.failover)?,
        })
    }

    /// Checks that the source cluster is known when a topology is configured: the
    /// local/cross-cluster split depends on it.
    pub fn require_source_cluster(&self) -> Result<(), String> {
        if self.topology.is_empty() {
            return Ok(());
        }
        let names: Vec<&str> =
            self.topology.clusters().iter().map(|cluster| &*cluster.name).collect();
        match &self.source_cluster {
            None => Err(format!(
                "which cluster's proxies wrote these logs? Pass --source-cluster (one of: {}) or set source_cluster in the config",
                names.join(", ")
            )),
            Some(name) if self.topology.id(name).is_none() => Err(format!(
                "source cluster {name:?} is not one of the configured clusters ({})",
                names.join(", ")
            )),
            Some(_) => Ok(()),
        }
    }
}

fn failover_settings(
    file: &ConfigFile,
    config: &FailoverConfig,
) -> Result<FailoverSettings, ConfigError> {
    let mut settings = FailoverSettings::default();
    read_failover_durations(file, config, &mut settings)?;
    read_failover_shares(file, config, &mut settings)?;
    if let Some(min_requests) = config.min_requests {
        settings.min_requests = min_requests;
    }
    if let Some(baseline_min_requests) = config.baseline_min_requests {
        settings.baseline_min_requests = baseline_min_requests;
    }
    if let Some(mode) = &config.mode {
        settings.mode = match mode.get_ref().as_str() {
            "baseline" => DetectionMode::Baseline,
            "absolute" => DetectionMode::Absolute,
            _ => {
                let message = "must be \"baseline\" or \"absolute\"";
                return Err(file.value_error("failover.mode", mode.span(), message));
            }
        };
    }
    Ok(settings)
}

fn read_failover_durations(
    file: &ConfigFile,
    config: &FailoverConfig,
    settings: &mut FailoverSettings,
) -> Result<(), ConfigError> {
    let duration = |key: &str, value: &Option<toml::Spanned<String>>, seconds: &mut u32| {
        let Some(value) = value else { return Ok(()) };
        *seconds =
            parse_duration_s(value.get_ref()).filter(|&seconds| seconds > 0).ok_or_else(|| {
                file.value_error(
                    key,
                    value.span(),
                    "is not a duration such as \"10s\", \"1m\" or \"1m30s\"",
                )
            })?;
        Ok(())
    };
    duration("failover.window", &config.window, &mut settings.window_s)?;
    duration("failover.min_duration", &config.min_duration, &mut settings.min_duration_s)?;
    duration("failover.max_delay", &config.max_delay, &mut settings.max_delay_s)?;
    duration("failover.baseline_min", &config.baseline_min, &mut settings.baseline_min_s)?;
    duration("failover.baseline_span", &config.baseline_span, &mut settings.baseline_span_s)?;
    if let Some(span) = config.baseline_span.as_ref().or(config.baseline_min.as_ref())
        && settings.baseline_span_s < settings.baseline_min_s
    {
        let message = "baseline_span must not be shorter than baseline_min";
        return Err(file.value_error("failover.baseline_span", span.span(), message));
    }
    Ok(())
}

fn read_failover_shares(
    file: &ConfigFile,
    config: &FailoverConfig,
    settings: &mut FailoverSettings,
) -> Result<(), ConfigError> {
    let share = |key: &str, value: &Option<toml::Spanned<f64>>, share: &mut f64| {
        let Some(value) = value else { return Ok(()) };
        let read = *value.get_ref();
        if !(read > 0.0 && read <= 1.0) {
            return Err(file.value_error(key, value.span(), "must be above 0 and at most 1"));
        }
        *share = read;
        Ok(())
    };
    share("failover.enter_share", &config.enter_share, &mut settings.enter_share)?;
    share("failover.exit_share", &config.exit_share, &mut settings.exit_share)?;
    share("failover.min_shift", &config.min_shift, &mut settings.min_shift)?;
    if let Some(exit) = &config.exit_share
        && settings.exit_share > settings.enter_share
    {
        let message = "must not be above enter_share";
        return Err(file.value_error("failover.exit_share", exit.span(), message));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(text: &str, overrides: &Overrides) -> Result<Settings, ConfigError> {
        let file = ConfigFile::parse(Path::new("/etc/meshlog/mesh.toml"), text.into())?;
        Settings::from_file(&file, overrides)
    }

    #[test]
    fn flags_override_the_file_and_data_dir_is_relative_to_it() {
        let text = "data_dir = \"data\"\nsource_cluster = \"a\"\n[[clusters]]\nname = \"a\"\n[[clusters]]\nname = \"b\"\n";
        let from_file = settings(text, &Overrides::default()).unwrap();
        assert_eq!(from_file.data_dir, PathBuf::from("/etc/meshlog/data"));
        assert_eq!(from_file.source_cluster.as_deref(), Some("a"));
        let overrides = Overrides {
            data_dir: Some("/tmp/d".into()),
            source_cluster: Some("b".into()),
            config: None,
        };
        let flagged = settings(text, &overrides).unwrap();
        assert_eq!(flagged.data_dir, PathBuf::from("/tmp/d"));
        assert_eq!(flagged.source_cluster.as_deref(), Some("b"));
    }

    #[test]
    fn failover_keys_are_read_and_checked() {
        let text = "[failover]\nwindow = \"5s\"\nmin_duration = \"1m\"\nenter_share = 0.6\nexit_share = 0.1\n";
        let read = settings(text, &Overrides::default()).unwrap().failover;
        assert_eq!((read.window_s, read.min_duration_s), (5, 60));
        assert_eq!((read.enter_share, read.exit_share), (0.6, 0.1));
        let bad = settings("[failover]\n\nwindow = \"ten\"\n", &Overrides::default()).unwrap_err();
        assert!(bad.to_string().contains("mesh.toml:3: `failover.window`"), "{bad}");
        let inverted =
            settings("[failover]\nexit_share = 0.9\n", &Overrides::default()).unwrap_err();
        assert!(inverted.to_string().contains("must not be above enter_share"), "{inverted}");
    }

    #[test]
    fn an_unknown_source_cluster_is_refused() {
        let text = "[[clusters]]\nname = \"a\"\n";
        let none = settings(text, &Overrides::default()).unwrap();
        assert!(none.require_source_cluster().unwrap_err().contains("--source-cluster"));
        let wrong = Overrides { source_cluster: Some("z".into()), ..Overrides::default() };
        assert!(settings(text, &wrong).unwrap().require_source_cluster().is_err());
    }
}
