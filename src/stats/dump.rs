//! One admin dump read from an input: which kind it is (sniffed from its content, or
//! `--kind`), which proxy it describes (`--proxy`, or the file name up to its first
//! `.`), when it was taken (`--at`, or the file's modification time), and what its
//! parser made of it. A dump that cannot be read at all is still a [`Dump`], with its
//! error, so the run stores it as a reject and goes on with the other inputs.

use meshlog_parsers::admin::{
    AdminError, AdminIssue, AdminKind, ClustersDump, ShardzDump, StatsDump, clusters_json,
    clusters_text, clusters_yaml, istioctl, prometheus, shardz, stats_text,
};

/// What a dump's parser made of it.
#[derive(Debug)]
pub enum DumpContent {
    Clusters(ClustersDump),
    Stats(StatsDump),
    Shardz(ShardzDump),
    /// The dump as a whole could not be read.
    Unreadable(AdminError),
}

/// One snapshot of one proxy (or of istiod).
#[derive(Debug)]
pub struct Dump {
    /// The input's name, for rejects and messages.
    pub source: String,
    pub kind: AdminKind,
    pub proxy: Option<String>,
    /// When the snapshot was taken, µs since the epoch.
    pub ts: i64,
    pub content: DumpContent,
}

impl Dump {
    /// Parses `text` as a dump of `kind`.
    pub fn parse(
        source: String,
        kind: AdminKind,
        proxy: Option<String>,
        ts: i64,
        text: &str,
    ) -> Dump {
        let content = parse_content(kind, text);
        Dump { source, kind, proxy, ts, content }
    }

    /// The parts of the dump its parser could not read.
    pub fn issues(&self) -> &[AdminIssue] {
        match &self.content {
            DumpContent::Clusters(dump) => &dump.issues,
            DumpContent::Stats(dump) => &dump.issues,
            DumpContent::Shardz(dump) => &dump.issues,
            DumpContent::Unreadable(_) => &[],
        }
    }
}

fn parse_content(kind: AdminKind, text: &str) -> DumpContent {
    let clusters = |result: Result<ClustersDump, AdminError>| {
        result.map_or_else(DumpContent::Unreadable, DumpContent::Clusters)
    };
    match kind {
        AdminKind::StatsText => DumpContent::Stats(stats_text::parse(text)),
        AdminKind::StatsPrometheus => DumpContent::Stats(prometheus::parse(text)),
        AdminKind::ClustersText => DumpContent::Clusters(clusters_text::parse(text)),
        AdminKind::ClustersJson => clusters(clusters_json::parse(text)),
        AdminKind::ClustersYaml => clusters(clusters_yaml::parse(text)),
        AdminKind::IstioctlEndpoints => clusters(istioctl::parse(text)),
        AdminKind::EndpointShardz => {
            shardz::parse(text).map_or_else(DumpContent::Unreadable, DumpContent::Shardz)
        }
    }
}

/// The proxy a dump file describes when `--proxy` is not given: its file name up to
/// the first `.` (`productpage-v1-7d9f.clusters.json` → `productpage-v1-7d9f`).
pub fn proxy_from_file_name(path: &std::path::Path) -> Option<String> {
    let name = path.file_name()?.to_str()?;
    let stem = name.split('.').next().unwrap_or(name);
    (!stem.is_empty()).then(|| stem.to_owned())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    #[test]
    fn the_proxy_is_the_file_name_up_to_its_first_dot() {
        let proxy = |path: &str| proxy_from_file_name(Path::new(path));
        assert_eq!(proxy("/tmp/admin/gw-1.1793527230.clusters.json").as_deref(), Some("gw-1"));
        assert_eq!(proxy("productpage").as_deref(), Some("productpage"));
        assert_eq!(proxy(".hidden"), None);
    }
}
