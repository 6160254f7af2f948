//! The detector fed from batches must end in exactly the state it reaches when fed
//! record by record, from what each parsed record and its enrichment say: checked
//! on a simulated mesh with failover episodes, with dictionary and plain columns.

use std::path::Path;
use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field, Schema};
use meshlog_parsers::{AccessLogRecord, ClusterName, Direction, LineParser, ResponseFlags};

use super::*;
use crate::analytics::failover::{DetectorState, FailoverSettings};
use crate::config::ConfigFile;
use crate::enrich::{Enricher, HostCache, Topology};
use crate::process::{LineOrigin, Processor};
use crate::simulate::{Scenario, run_per_cluster, topology_toml};

const SOURCE: &str = "cluster1";

fn topology() -> Topology {
    let file = ConfigFile::parse(Path::new("mesh.toml"), topology_toml()).unwrap();
    crate::config::topology::from_config(&file).unwrap()
}

/// cluster1's lines of a 12-minute simulated mesh (long enough for its episodes).
fn simulated_lines() -> Vec<u8> {
    let scenario = Scenario { minutes: 12, requests_per_second: 60, ..Scenario::default() };
    let mut outs = vec![Vec::new(), Vec::new(), Vec::new()];
    run_per_cluster(&scenario, &mut outs).unwrap();
    outs.swap_remove(0)
}

/// The detector fed record by record, as the record itself describes the request.
fn fed_by_records(lines: &[u8], topology: &Topology) -> DetectorState {
    let mut detector = FailoverDetector::new(FailoverSettings::default(), DetectorState::default());
    let mut parser = LineParser::new("istio").unwrap();
    let enricher = Enricher::new(topology, topology.id(SOURCE));
    let mut hosts = HostCache::default();
    for line in lines.split(|byte| *byte == b'\n').filter(|line| !line.is_empty()) {
        let Ok(parsed) = parser.parse(line) else { continue };
        let record = &parsed.record;
        let Some(ts) = record.ts else { continue };
        let Some(cluster) = record.upstream_cluster.as_deref().map(ClusterName::parse) else {
            continue;
        };
        let tags = enricher.enrich(record, Some(cluster), &mut hosts);
        let Some(service) = cluster.service.filter(|_| cluster.direction != Direction::Inbound)
        else {
            continue;
        };
        detector.observe(&Observation {
            ts_micros: ts.micros(),
            source_cluster: SOURCE,
            service,
            upstream_cluster: Some(cluster.name),
            destination: match tags.locality {
                Locality::Local => Destination::Local,
                Locality::CrossCluster => {
                    Destination::Remote(tags.dst_cluster.map(|id| &**topology.name(id)))
                }
                _ => Destination::Elsewhere,
            },
            failure: failure(record),
        });
    }
    detector.state()
}

fn failure<'a>(record: &'a AccessLogRecord<'_>) -> Option<Failure<'a>> {
    let failed = ResponseFlags::NO_HEALTHY_UPSTREAM
        .union(ResponseFlags::UPSTREAM_CONNECTION_FAILURE)
        .union(ResponseFlags::UPSTREAM_RETRY_LIMIT_EXCEEDED);
    let failed = record.response_code.is_some_and(|code| code >= 500)
        || record.response_flag_set().intersects(failed);
    failed.then(|| Failure {
        code: record.response_code.map_or(0, i32::from),
        flags: record.response_flags.as_deref(),
    })
}

/// The `requests` batches the reading thread builds from `lines`, `rows` at a time.
fn batches(lines: &[u8], topology: Topology, rows: usize) -> Vec<RecordBatch> {
    let mut processor = Processor::new(Arc::new(topology), Some(SOURCE.into()));
    let mut parser = LineParser::new("istio").unwrap();
    let mut batches = Vec::new();
    let origin = LineOrigin { source: "test", offset: 0, line: 0, lines: 1 };
    for line in lines.split(|byte| *byte == b'\n').filter(|line| !line.is_empty()) {
        if let Ok(parsed) = parser.parse(line) {
            processor.handle_parsed(&parsed.record, line, origin);
        }
        if processor.buffered() >= rows {
            batches.push(processor.take_batches().unwrap().0);
        }
    }
    batches.push(processor.take_batches().unwrap().0);
    batches
}

fn fed_by_batches(batches: &[RecordBatch]) -> DetectorState {
    let mut detector = FailoverDetector::new(FailoverSettings::default(), DetectorState::default());
    for batch in batches {
        observe_requests(&mut detector, batch).unwrap();
    }
    detector.state()
}

/// `batch` with every dictionary column turned into plain strings.
fn plain(batch: &RecordBatch) -> RecordBatch {
    let columns: Vec<ArrayRef> = batch
        .columns()
        .iter()
        .map(|column| match column.data_type() {
            DataType::Dictionary(..) => cast(column, &DataType::Utf8).unwrap(),
            _ => column.clone(),
        })
        .collect();
    let fields: Vec<Field> = batch
        .schema()
        .fields()
        .iter()
        .zip(&columns)
        .map(|(field, column)| field.as_ref().clone().with_data_type(column.data_type().clone()))
        .collect();
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap()
}

#[test]
fn batches_feed_the_detector_exactly_as_records_do() {
    let lines = simulated_lines();
    let by_records = fed_by_records(&lines, &topology());
    let batches = batches(&lines, topology(), 5_000);
    assert!(batches.len() > 2, "several batches");
    let by_batches = fed_by_batches(&batches);
    let detector = FailoverDetector::new(FailoverSettings::default(), by_batches.clone());
    assert!(!detector.episodes().is_empty(), "the simulated mesh fails over");
    assert_eq!(by_batches, by_records);
    let plain: Vec<RecordBatch> = batches.iter().map(plain).collect();
    assert!(plain[0].column_by_name("direction").unwrap().data_type() == &DataType::Utf8);
    assert_eq!(fed_by_batches(&plain), by_records, "plain string columns");
}

#[test]
fn a_batch_without_the_columns_is_an_error_not_a_panic() {
    let schema = Schema::new(vec![Field::new("ts", DataType::Int64, false)]);
    let ts: ArrayRef = Arc::new(arrow::array::Int64Array::from(vec![1]));
    let batch = RecordBatch::try_new(Arc::new(schema), vec![ts]).unwrap();
    let mut detector = FailoverDetector::new(FailoverSettings::default(), DetectorState::default());
    let error = observe_requests(&mut detector, &batch).unwrap_err();
    assert!(format!("{error:?}").contains("SchemaError"), "{error:?}");
}

/// A record of an outbound request to `reviews` with `code` and `flags`.
fn request(code: Option<u16>, flags: Option<&'static str>) -> AccessLogRecord<'static> {
    AccessLogRecord {
        ts: Some(meshlog_parsers::Timestamp::from_micros(1_700_000_000_000_000)),
        response_code: code,
        response_flags: flags.map(Into::into),
        upstream_cluster: Some("outbound|9080||reviews.default.svc.cluster.local".into()),
        ..AccessLogRecord::default()
    }
}

#[test]
fn a_failed_connection_is_an_error_whatever_the_code_and_inbound_requests_are_ignored() {
    let cases = [
        (Some(503), None, true),
        (Some(200), None, false),
        (None, Some("UF,URX"), true),
        (Some(0), Some("UH"), true),
        (Some(200), Some("DC"), false),
        (Some(0), Some("URX"), true),
        (None, None, false),
    ];
    for source in [Some(SOURCE), None] {
        check_errors_and_inbound(source, &cases);
    }
}

/// `cases` (code, flags, error) as rows written by `source`'s proxies, then inbound
/// rows, fed from a batch: the same state as the expected observations.
fn check_errors_and_inbound(
    source: Option<&str>,
    cases: &[(Option<u16>, Option<&'static str>, bool)],
) {
    let mut processor = Processor::new(Arc::new(topology()), source.map(Into::into));
    let origin = LineOrigin { source: "test", offset: 0, line: 0, lines: 1 };
    for &(code, flags, _) in cases {
        processor.handle_parsed(&request(code, flags), b"", origin);
    }
    // Inbound traffic is no evidence of failover, and a name with no service neither.
    for cluster in ["inbound|9080||reviews.default.svc.cluster.local", "PassthroughCluster"] {
        let record =
            AccessLogRecord { upstream_cluster: Some(cluster.into()), ..request(Some(503), None) };
        processor.handle_parsed(&record, b"", origin);
    }
    let batch = processor.take_batches().unwrap().0;
    for batch in [batch.clone(), plain(&batch)] {
        let by_batch = fed_by_batches(std::slice::from_ref(&batch));
        let mut expected =
            FailoverDetector::new(FailoverSettings::default(), DetectorState::default());
        let mut all_ok = expected.clone();
        for &(code, flags, error) in cases {
            let observation = Observation {
                ts_micros: 1_700_000_000_000_000,
                // A row of no known reporting cluster counts under "".
                source_cluster: source.unwrap_or(""),
                service: "reviews.default.svc.cluster.local",
                upstream_cluster: Some("outbound|9080||reviews.default.svc.cluster.local"),
                // No upstream host: served nowhere known.
                destination: Destination::Elsewhere,
                failure: error.then(|| Failure { code: code.map_or(0, i32::from), flags }),
            };
            expected.observe(&observation);
            all_ok.observe(&Observation { failure: None, ..observation });
        }
        assert_eq!(by_batch, expected.state());
        assert_ne!(by_batch, all_ok.state(), "errors are part of the state");
    }
}
