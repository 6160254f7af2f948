//! `meshlog topology learn`: reads proxies' endpoint lists (`/clusters` JSON or text,
//! `istioctl proxy-config endpoints`) and istiod's `/debug/endpointShardz`, each file's
//! kind detected from its content unless `--kind` says, and prints the `[[clusters]]`
//! TOML that [`crate::learn`] infers, with a summary of what is uncertain on stderr.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use clap::Subcommand;
use meshlog_parsers::admin::{
    AdminError, AdminIssue, AdminKind, clusters_json, clusters_text, clusters_yaml, detect,
    istioctl, shardz,
};

use crate::Error;
use crate::learn::{LearnOptions, Learner, ProxySource};

/// How many bytes of a file content sniffing reads.
const DETECT_HEAD_BYTES: usize = 16 * 1024;

/// Arguments of `meshlog topology`.
#[derive(Debug, clap::Args)]
pub struct TopologyArgs {
    #[command(subcommand)]
    command: TopologyCommand,
}

#[derive(Debug, Subcommand)]
enum TopologyCommand {
    /// Infer the `[[clusters]]` config (pod CIDRs, east-west gateways, networks,
    /// localities) from admin dumps; prints TOML for `meshlog ingest --config`.
    Learn(LearnArgs),
}

/// Arguments of `meshlog topology learn`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Inputs: a proxy's `/clusters?format=json` or `/clusters` (e.g. \
`kubectl exec POD -c istio-proxy -- pilot-agent request GET 'clusters?format=json'`, or \
`istioctl experimental envoy-stats POD --type clusters`), `istioctl proxy-config endpoints \
POD` (a table, rows without their header as `grep` leaves them, `-o json` or `-o yaml`), \
and istiod's `/debug/endpointShardz`. \
Try: meshlog topology learn --local-cluster cluster1 clusters.json endpointShardz.json > mesh.toml")]
pub struct LearnArgs {
    /// The Istio cluster ID of the proxies whose endpoint lists are given (their own
    /// pods are this cluster's); without it that cluster is called `local`.
    #[arg(long, value_name = "NAME")]
    local_cluster: Option<String>,
    /// Read every file as this kind instead of detecting it: `clusters-json`,
    /// `clusters-yaml`, `clusters`, `istioctl-endpoints` or `endpointshardz`.
    #[arg(long, value_name = "KIND")]
    kind: Option<AdminKind>,
    /// Dumps to read; `-` reads stdin.
    #[arg(required = true, value_name = "FILES")]
    files: Vec<PathBuf>,
}

/// Runs `meshlog topology …`.
pub fn run(args: &TopologyArgs) -> Result<(), Error> {
    match &args.command {
        TopologyCommand::Learn(args) => learn(args),
    }
}

fn learn(args: &LearnArgs) -> Result<(), Error> {
    if args.local_cluster.as_deref().is_some_and(|name| name.trim().is_empty()) {
        return Err(Error::Usage("--local-cluster must not be empty".into()));
    }
    let mut learner = Learner::new(LearnOptions { local_cluster: args.local_cluster.clone() });
    for path in &args.files {
        add_file(&mut learner, path, args.kind)?;
    }
    let learned = learner.finish();
    let mut stdout = io::stdout().lock();
    stdout
        .write_all(learned.to_toml().as_bytes())
        .and_then(|()| stdout.flush())
        .map_err(Error::Write)?;
    eprint!("{}", learned.summary());
    if learned.clusters.is_empty() {
        return Err(Error::Usage("no mesh endpoint found in the dumps given".into()));
    }
    Ok(())
}

/// Reads, detects and parses one file into the learner.
fn add_file(learner: &mut Learner, path: &Path, kind: Option<AdminKind>) -> Result<(), Error> {
    let bytes = read(path)?;
    let label = path.display().to_string();
    let head = &bytes[..bytes.len().min(DETECT_HEAD_BYTES)];
    let Some(kind) = kind.or_else(|| detect(head)) else {
        return Err(Error::Usage(format!(
            "{label}: not a /clusters, istioctl endpoints or endpointShardz dump (pass --kind if it is one)"
        )));
    };
    let text = String::from_utf8_lossy(&bytes);
    let bad = |error: AdminError| Error::Usage(format!("{label}: cannot read as {kind}: {error}"));
    match kind {
        AdminKind::ClustersJson => {
            let dump = clusters_json::parse(&text).map_err(bad)?;
            report_issues(&label, &dump.issues);
            learner.add_proxy_dump(&label, ProxySource::ClustersJson, &dump);
        }
        AdminKind::ClustersYaml => {
            let dump = clusters_yaml::parse(&text).map_err(bad)?;
            report_issues(&label, &dump.issues);
            learner.add_proxy_dump(&label, ProxySource::ClustersYaml, &dump);
        }
        AdminKind::ClustersText => {
            let dump = clusters_text::parse(&text);
            report_issues(&label, &dump.issues);
            learner.add_proxy_dump(&label, ProxySource::ClustersText, &dump);
        }
        AdminKind::IstioctlEndpoints => {
            let dump = istioctl::parse(&text).map_err(bad)?;
            report_issues(&label, &dump.issues);
            learner.add_proxy_dump(&label, ProxySource::Istioctl, &dump);
        }
        AdminKind::EndpointShardz => {
            let dump = shardz::parse(&text).map_err(bad)?;
            report_issues(&label, &dump.issues);
            learner.add_shardz(&label, &dump);
        }
        AdminKind::StatsText | AdminKind::StatsPrometheus => {
            return Err(Error::Usage(format!(
                "{label}: a {kind} dump lists no endpoints; give /clusters, istioctl endpoints or endpointShardz"
            )));
        }
    }
    Ok(())
}

fn read(path: &Path) -> Result<Vec<u8>, Error> {
    let mut bytes = Vec::new();
    let read = if path == Path::new("-") {
        io::stdin().lock().read_to_end(&mut bytes)
    } else {
        File::open(path).and_then(|mut file| file.read_to_end(&mut bytes))
    };
    read.map_err(|source| Error::Read { path: path.into(), source })?;
    Ok(bytes)
}

/// Parts of a dump that did not read, on stderr (the rest is still used).
fn report_issues(label: &str, issues: &[AdminIssue]) {
    let Some(first) = issues.first() else {
        return;
    };
    say!("{label}: {} part(s) could not be read and were skipped; first: {first}", issues.len());
}
