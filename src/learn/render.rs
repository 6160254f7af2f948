//! Merged groups turned into what the user gets: named clusters with their CIDRs, gateways
//! and confidence ([`LearnedCluster`]), the commented `[[clusters]]` TOML, and the summary
//! for stderr. This file owns the naming of clusters no dump names and the doubts that
//! lower confidence.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};

use super::cidr::{CidrSupport, summarise};
use super::evidence::{Group, Role};
use super::{Confidence, Doubt, DumpReport, Learned, ProxySource};

/// One cluster as learned.
#[derive(Debug, Clone)]
pub struct LearnedCluster {
    pub name: String,
    /// Where a real name came from (`endpointShardz`, `--local-cluster`).
    pub named_by: Option<&'static str>,
    /// Why the name is a guess, when it is one.
    pub guessed_from: Option<String>,
    /// Whether the proxies whose endpoint lists were given run in it.
    pub is_local: bool,
    pub network: Option<String>,
    pub region: Option<String>,
    pub zone: Option<String>,
    pub pod_cidrs: Vec<CidrSupport>,
    pub gateways: Vec<LearnedGateway>,
    /// Endpoint rows it rests on, and in how many dumps.
    pub endpoints: usize,
    pub dumps: usize,
    pub confidence: Confidence,
    /// Why confidence is not high, least sure first.
    pub doubts: Vec<Doubt>,
    /// What is worth knowing but lowers no confidence.
    pub notes: Vec<String>,
}

/// An east-west gateway address and how it was seen.
#[derive(Debug, Clone)]
pub struct LearnedGateway {
    pub address: SocketAddr,
    pub endpoints: usize,
    pub dumps: usize,
    pub localities: Vec<String>,
    pub istioctl_only: bool,
}

/// Names, CIDRs and confidence for every merged cluster; the proxies' own first.
pub fn clusters(groups: Vec<Group>) -> Vec<LearnedCluster> {
    let names = assign_names(&groups);
    let networks: BTreeSet<&String> =
        groups.iter().flat_map(|group| group.networks.keys()).collect();
    let mesh_has_networks = networks.len() > 1;
    let mut learned: Vec<LearnedCluster> = groups
        .iter()
        .zip(names)
        .enumerate()
        .map(|(index, (group, name))| {
            let foreign = foreign_ips(&groups, index);
            build(group, name, &foreign, mesh_has_networks)
        })
        .collect();
    learned.sort_by(|a, b| (!a.is_local, &a.name).cmp(&(!b.is_local, &b.name)));
    learned
}

/// Every pod IP of the other clusters.
fn foreign_ips(groups: &[Group], own: usize) -> BTreeSet<IpAddr> {
    let others = groups.iter().enumerate().filter(|(index, _)| *index != own);
    others.flat_map(|(_, group)| group.pods.keys().copied()).collect()
}

/// A name and, when guessed, what from.
type Name = (String, Option<String>);

/// Real names first; guesses made unique with `-2`, `-3`….
fn assign_names(groups: &[Group]) -> Vec<Name> {
    let mut taken: BTreeSet<String> =
        groups.iter().filter_map(|group| group.name.clone()).collect();
    groups
        .iter()
        .map(|group| match &group.name {
            Some(name) => (name.clone(), None),
            None => {
                let (base, why) = guess_name(group);
                let name = unique(&base, &mut taken);
                (name, Some(why))
            }
        })
        .collect()
}

fn unique(base: &str, taken: &mut BTreeSet<String>) -> String {
    let mut name = base.to_owned();
    let mut suffix = 2;
    while taken.contains(&name) {
        name = format!("{base}-{suffix}");
        suffix += 1;
    }
    taken.insert(name.clone());
    name
}

/// `local` for the proxies' own cluster, else the zone or region it was seen in; with
/// what the guess rests on.
fn guess_name(group: &Group) -> (String, String) {
    if group.roles.contains(&Role::Local) {
        let why = "a placeholder for the proxies' own cluster (pass --local-cluster)";
        return ("local".into(), why.into());
    }
    let regions = regions(group);
    let zones = zones(group);
    let from = |what: &str| format!("guessed from its {what}");
    match (regions.as_slice(), zones.as_slice()) {
        ([region], [zone]) if zone.starts_with(region.as_str()) => (zone.clone(), from("zone")),
        ([region], [zone]) => (format!("{region}-{zone}"), from("locality")),
        ([region], _) => (region.clone(), from("region")),
        ([], [zone]) => (zone.clone(), from("zone")),
        _ => ("remote".into(), "a placeholder (no locality seen)".into()),
    }
}

fn regions(group: &Group) -> Vec<String> {
    let regions: BTreeSet<&String> =
        group.localities.iter().filter_map(|locality| locality.region.as_ref()).collect();
    regions.into_iter().cloned().collect()
}

fn zones(group: &Group) -> Vec<String> {
    let zones: BTreeSet<&String> =
        group.localities.iter().filter_map(|locality| locality.zone.as_ref()).collect();
    zones.into_iter().cloned().collect()
}

fn build(
    group: &Group,
    (name, guessed_from): Name,
    foreign: &BTreeSet<IpAddr>,
    mesh_has_networks: bool,
) -> LearnedCluster {
    let own: BTreeSet<IpAddr> = group.pods.keys().copied().collect();
    let summary = summarise(&own, foreign);
    let regions = regions(group);
    let zones = zones(group);
    let networks: Vec<&String> = group.networks.keys().collect();
    let gateways = gateways(group);
    let mut doubts = group.doubts.clone();
    if !group.roles.contains(&Role::Shard) {
        doubts.extend(group.membership_doubts.iter().cloned());
    }
    if let Some(guess) = &guessed_from {
        doubts.push(Doubt::low(format!(
            "name is {guess}: set it to the Istio cluster ID (topology.istio.io/cluster)"
        )));
    }
    doubts.extend(cidr_doubts(&summary.cidrs, &summary.shared));
    doubts.extend(gateway_doubts(&gateways));
    doubts.extend(spread_doubts("networks", &networks));
    doubts.extend(spread_doubts("regions", &regions.iter().collect::<Vec<_>>()));
    if group.roles.iter().all(|role| *role == Role::RemoteDirect) {
        doubts.push(Doubt::medium(
            "pods seen only as a proxy's remote endpoints (endpointShardz would confirm them)",
        ));
    }
    if group.endpoints == 0 {
        doubts.push(Doubt::low("no endpoint of it was seen"));
    }
    doubts.sort();
    doubts.dedup();
    let confidence = doubts.iter().map(|doubt| doubt.level).min().unwrap_or(Confidence::High);
    LearnedCluster {
        notes: notes(group, &gateways, &summary.cidrs, mesh_has_networks),
        name,
        named_by: group.named_by,
        guessed_from,
        is_local: group.roles.contains(&Role::Local),
        network: single(&networks).map(|network| (*network).clone()),
        region: single(&regions).cloned(),
        zone: single(&regions).and(single(&zones)).cloned(),
        pod_cidrs: summary.cidrs,
        gateways,
        endpoints: group.endpoints,
        dumps: group.dumps.len(),
        confidence,
        doubts,
    }
}

fn single<T>(items: &[T]) -> Option<&T> {
    match items {
        [only] => Some(only),
        _ => None,
    }
}

fn gateways(group: &Group) -> Vec<LearnedGateway> {
    group
        .gateways
        .iter()
        .map(|(address, seen)| LearnedGateway {
            address: *address,
            endpoints: seen.endpoints,
            dumps: seen.dumps.len(),
            localities: seen.localities.iter().map(ToString::to_string).collect(),
            istioctl_only: seen.sources.iter().all(|source| *source == ProxySource::Istioctl),
        })
        .collect()
}

fn cidr_doubts(cidrs: &[CidrSupport], shared: &[IpAddr]) -> Vec<Doubt> {
    let mut doubts = Vec::new();
    for cidr in cidrs {
        match cidr.ips {
            1 => doubts.push(Doubt::low(format!("{} rests on 1 IP", cidr.net))),
            2 => doubts.push(Doubt::medium(format!("{} rests on 2 IPs", cidr.net))),
            _ => {}
        }
    }
    if let Some(first) = shared.first() {
        doubts.push(Doubt::low(format!(
            "{} pod IP(s) also seen in another cluster (first {first}): overlapping pod networks?",
            shared.len()
        )));
    }
    doubts
}

fn gateway_doubts(gateways: &[LearnedGateway]) -> Vec<Doubt> {
    let istioctl_only = gateways.iter().filter(|gateway| gateway.istioctl_only);
    istioctl_only
        .map(|gateway| {
            Doubt::low(format!(
                "gateway {} seen only in istioctl tables (no priority{})",
                gateway.address,
                if gateway.localities.is_empty() { " or locality" } else { "" }
            ))
        })
        .collect()
}

fn spread_doubts<T: std::fmt::Display>(what: &str, values: &[T]) -> Option<Doubt> {
    if values.len() < 2 {
        return None;
    }
    let list: Vec<String> = values.iter().map(ToString::to_string).collect();
    Some(Doubt::medium(format!("endpoints in {} {what}: {}", list.len(), list.join(", "))))
}

fn notes(
    group: &Group,
    gateways: &[LearnedGateway],
    cidrs: &[CidrSupport],
    mesh_has_networks: bool,
) -> Vec<String> {
    let mut notes = Vec::new();
    if !group.eastwest_pods.is_empty() {
        let pods: Vec<String> = group.eastwest_pods.iter().map(ToString::to_string).collect();
        notes.push(format!(
            "runs east-west gateway pods ({}); their external address is not in endpointShardz: add a /clusters dump of a proxy in another network",
            pods.join(", ")
        ));
    } else if mesh_has_networks && gateways.is_empty() && !group.networks.is_empty() {
        notes.push(
            "no east-west gateway address known (endpointShardz lists none): add a /clusters dump of a proxy in another network".into(),
        );
    }
    if cidrs.is_empty() && !gateways.is_empty() {
        notes.push("no pod CIDR: its pods are reached only through its east-west gateway".into());
    }
    notes
}

/// The commented `[[clusters]]` TOML.
pub fn toml(learned: &Learned) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Mesh topology learned by `meshlog topology learn` from {} dump(s):",
        learned.dumps.len()
    );
    for dump in &learned.dumps {
        let _ = writeln!(out, "#   {} ({})", one_line(&dump.label), dump.kind);
    }
    out.push_str("# Check each cluster's comment before use; a guessed name must be set to the\n");
    out.push_str("# Istio cluster ID (topology.istio.io/cluster).\n");
    if learned.clusters.is_empty() {
        out.push_str("# No cluster could be inferred: the dumps hold no mesh endpoint.\n");
    }
    for cluster in &learned.clusters {
        out.push('\n');
        write_cluster(&mut out, cluster);
    }
    out
}

fn write_cluster(out: &mut String, cluster: &LearnedCluster) {
    let _ = writeln!(out, "# {}", one_line(&verdict(cluster)));
    for note in &cluster.notes {
        let _ = writeln!(out, "# note: {}", one_line(note));
    }
    out.push_str("[[clusters]]\n");
    let _ = write!(out, "name = {}", toml_string(&cluster.name));
    if cluster.guessed_from.is_some() {
        out.push_str(" # guessed: set to the Istio cluster ID");
    }
    out.push('\n');
    let keys =
        [("network", &cluster.network), ("region", &cluster.region), ("zone", &cluster.zone)];
    for (key, value) in keys {
        if let Some(value) = value {
            let _ = writeln!(out, "{key} = {}", toml_string(value));
        }
    }
    let cidrs = cluster.pod_cidrs.iter().map(|cidr| (cidr.net.to_string(), ips_seen(cidr.ips)));
    write_array(out, "pod_cidrs", cidrs);
    let gateways =
        cluster.gateways.iter().map(|gateway| (gateway.address.to_string(), gateway_seen(gateway)));
    write_array(out, "eastwest_gateways", gateways);
}

/// `inferred from 14 endpoints in 3 dumps; high confidence` and the doubts.
fn verdict(cluster: &LearnedCluster) -> String {
    let named_by = cluster.named_by.map(|by| format!(" (name from {by})")).unwrap_or_default();
    let mut text = format!(
        "{}{named_by}: inferred from {} endpoint(s) in {} dump(s); {} confidence",
        cluster.name,
        cluster.endpoints,
        cluster.dumps,
        cluster.confidence.as_str()
    );
    let doubts: Vec<&str> = cluster.doubts.iter().map(|doubt| doubt.why.as_str()).collect();
    if !doubts.is_empty() {
        let _ = write!(text, ": {}", doubts.join("; "));
    }
    text
}

fn ips_seen(ips: usize) -> String {
    if ips == 1 { "1 pod IP seen".into() } else { format!("{ips} pod IPs seen") }
}

fn gateway_seen(gateway: &LearnedGateway) -> String {
    let mut text = format!("{} endpoint(s) in {} dump(s)", gateway.endpoints, gateway.dumps);
    if !gateway.localities.is_empty() {
        let _ = write!(text, ", locality {}", gateway.localities.join(", "));
    }
    text
}

/// A multi-line array with a comment per item; nothing when empty.
fn write_array(out: &mut String, key: &str, items: impl Iterator<Item = (String, String)>) {
    let items: Vec<(String, String)> = items.collect();
    if items.is_empty() {
        return;
    }
    let _ = writeln!(out, "{key} = [");
    for (value, comment) in items {
        let _ = writeln!(out, "    {}, # {}", toml_string(&value), one_line(&comment));
    }
    out.push_str("]\n");
}

/// A TOML basic string.
fn toml_string(text: &str) -> String {
    let mut quoted = String::with_capacity(text.len() + 2);
    quoted.push('"');
    for character in text.chars() {
        match character {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            control if control.is_control() => {
                let _ = write!(quoted, "\\u{:04X}", u32::from(control));
            }
            other => quoted.push(other),
        }
    }
    quoted.push('"');
    quoted
}

/// Text made safe for a one-line comment.
fn one_line(text: &str) -> String {
    text.chars().map(|character| if character.is_control() { ' ' } else { character }).collect()
}

/// What was read and inferred, and what is uncertain.
pub fn summary(learned: &Learned) -> String {
    let mut out = String::new();
    for dump in &learned.dumps {
        let _ = writeln!(out, "{}", dump_line(dump));
    }
    let _ = writeln!(out, "learned {} cluster(s):", learned.clusters.len());
    for cluster in &learned.clusters {
        let _ = writeln!(out, "  {}", cluster_line(cluster));
        for doubt in &cluster.doubts {
            let _ = writeln!(out, "    {}: {}", doubt.level.as_str(), doubt.why);
        }
        for note in &cluster.notes {
            let _ = writeln!(out, "    note: {note}");
        }
    }
    for warning in &learned.warnings {
        let _ = writeln!(out, "warning: {warning}");
    }
    out
}

fn dump_line(dump: &DumpReport) -> String {
    let mut line = format!(
        "read {} ({}): {} of {} endpoints used",
        dump.label, dump.kind, dump.used, dump.rows
    );
    let skipped: Vec<String> =
        dump.skipped.iter().map(|(reason, count)| format!("{count} {reason}")).collect();
    if !skipped.is_empty() {
        let _ = write!(line, "; skipped {}", skipped.join(", "));
    }
    line
}

fn cluster_line(cluster: &LearnedCluster) -> String {
    let mut parts: Vec<String> = Vec::new();
    let cidrs: Vec<String> =
        cluster.pod_cidrs.iter().map(|cidr| format!("{} ({} IPs)", cidr.net, cidr.ips)).collect();
    if !cidrs.is_empty() {
        parts.push(format!("pods {}", cidrs.join(", ")));
    }
    let gateways: Vec<String> =
        cluster.gateways.iter().map(|gateway| gateway.address.to_string()).collect();
    if !gateways.is_empty() {
        parts.push(format!("gateway {}", gateways.join(", ")));
    }
    let guessed = if cluster.guessed_from.is_some() { " (name guessed)" } else { "" };
    format!(
        "{}{guessed}: {}; {} confidence",
        cluster.name,
        parts.join(", "),
        cluster.confidence.as_str()
    )
}
