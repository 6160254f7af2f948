//! [`MeshTable`]: a DataFusion table over one of meshlog's Parquet directories.
//! A partitioned table (`requests`, `rejects`) reads the time filters pushed down to
//! its scan, lists only the `date=/hour=` directories whose hour overlaps them (and
//! that pass filters on the `date` and `hour` columns themselves; the daily rollups
//! have `date=` directories and a `date` column only), and hands those
//! files, with their partition values, to DataFusion's Parquet scan, the same one a
//! `ListingTable` builds. Filters are reported `Inexact`: DataFusion still applies
//! them to every row, and pushes them into the Parquet reader for row-group pruning.
//! A table whose directory does not exist yet is empty, with its schema.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};

use arrow::array::{Array, AsArray, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::{DFSchema, project_schema};
use datafusion::datasource::TableType;
use datafusion::datasource::file_format::FileFormat;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::listing::helpers::expr_applicable_for_cols;
use datafusion::datasource::physical_plan::{FileGroup, FileScanConfigBuilder};
use datafusion::datasource::table_schema::TableSchema;
use datafusion::error::Result;
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::logical_expr::expr_rewriter::unnormalize_col;
use datafusion::logical_expr::utils::conjunction;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown};
use datafusion::object_store::ObjectStore;
use datafusion::object_store::path::Path;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::empty::EmptyExec;

use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::physical_plan::union::UnionExec;

use super::fresh::{self, Visibility};
use super::listing::{self, MICROS_PER_DAY};
use super::time_range::{MICROS_PER_HOUR, TimeRange};
use crate::analytics::rollup::{self, Rollup};
use crate::storage::schema::{DAY_PARTITION_COLUMNS, PARTITION_COLUMNS};

/// How a table's files are laid out under its root.
#[derive(Debug, Clone, Copy)]
enum Layout {
    /// `date=YYYY-MM-DD/hour=HH/*.parquet`, by the UTC hour of `time_column`.
    Partitioned { time_column: &'static str },
    /// `date=YYYY-MM-DD/*.parquet`, by the UTC day of `time_column`.
    Daily { time_column: &'static str },
    /// `*.parquet` directly under the root.
    Flat,
}

impl Layout {
    fn time_column(self) -> Option<&'static str> {
        match self {
            Layout::Partitioned { time_column } | Layout::Daily { time_column } => {
                Some(time_column)
            }
            Layout::Flat => None,
        }
    }

    /// The partition columns the directories give, outermost first.
    fn partitions(self) -> &'static [&'static str] {
        match self {
            Layout::Partitioned { .. } => &PARTITION_COLUMNS,
            Layout::Daily { .. } => &DAY_PARTITION_COLUMNS,
            Layout::Flat => &[],
        }
    }
}

/// A table over the Parquet files of one directory of the data dir.
pub struct MeshTable {
    name: &'static str,
    file_schema: SchemaRef,
    schema: SchemaRef,
    root: Path,
    layout: Layout,
    /// Which files are read (all when `None`).
    visibility: Option<Arc<Visibility>>,
    /// Rows not yet in Parquet, as they are held in memory (each scan takes the
    /// rows and columns it reads, with the table's types).
    fresh: Fresh,
}

/// Rows not yet in Parquet: as they are held, or `requests` rows to be rolled up.
#[derive(Default)]
enum Fresh {
    #[default]
    None,
    Rows(Vec<RecordBatch>),
    /// Rolled up when a scan first reads them, so a statement that does not read
    /// the rollup does not pay for it.
    RollupOf {
        rollup: Rollup,
        requests: Vec<RecordBatch>,
        rolled: OnceLock<Vec<RecordBatch>>,
    },
}

impl Fresh {
    fn rows(&self) -> Result<&[RecordBatch]> {
        match self {
            Fresh::None => Ok(&[]),
            Fresh::Rows(rows) => Ok(rows),
            Fresh::RollupOf { rollup, requests, rolled } => {
                if let Some(rows) = rolled.get() {
                    return Ok(rows);
                }
                let rows = vec![rollup::of_batches(*rollup, requests)?];
                Ok(rolled.get_or_init(|| rows))
            }
        }
    }
}

impl fmt::Debug for MeshTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MeshTable").field("name", &self.name).field("root", &self.root).finish()
    }
}

impl MeshTable {
    /// A table partitioned by `date`/`hour` of `time_column`; `date` and `hour` are
    /// appended to the columns, as text.
    pub fn partitioned(
        name: &'static str,
        file_schema: &Schema,
        root: Path,
        time_column: &'static str,
    ) -> MeshTable {
        MeshTable::with_layout(name, file_schema, root, Layout::Partitioned { time_column })
    }

    /// A table partitioned by `date` of `time_column` (the rollups); `date` is
    /// appended to the columns, as text.
    pub fn daily(
        name: &'static str,
        file_schema: &Schema,
        root: Path,
        time_column: &'static str,
    ) -> MeshTable {
        MeshTable::with_layout(name, file_schema, root, Layout::Daily { time_column })
    }

    fn with_layout(
        name: &'static str,
        file_schema: &Schema,
        root: Path,
        layout: Layout,
    ) -> MeshTable {
        let file_schema = Arc::new(with_view_types(file_schema));
        let mut fields = file_schema.fields().to_vec();
        fields.extend(partition_fields(layout.partitions()).into_iter().map(Arc::new));
        let schema = Arc::new(Schema::new(fields));
        let fresh = Fresh::None;
        MeshTable { name, file_schema, schema, root, layout, visibility: None, fresh }
    }

    /// A table of the files directly under `root`.
    pub fn flat(name: &'static str, file_schema: &Schema, root: Path) -> MeshTable {
        MeshTable::with_layout(name, file_schema, root, Layout::Flat)
    }

    /// The table with rows not yet in Parquet besides its files, of which it reads
    /// those `visibility` shows (all when `None`).
    pub fn with_fresh(
        mut self,
        visibility: Option<Arc<Visibility>>,
        rows: &[RecordBatch],
    ) -> Result<MeshTable> {
        if !rows.is_empty() {
            self.read_strings_as_held();
            self.fresh = Fresh::Rows(rows.to_vec());
        }
        self.visibility = visibility;
        Ok(self)
    }

    /// As [`MeshTable::with_fresh`], the fresh rows being `requests` rows this rollup
    /// table rolls up when a scan reads it.
    pub fn with_fresh_rollup(
        mut self,
        visibility: Option<Arc<Visibility>>,
        rollup: Rollup,
        requests: &[RecordBatch],
    ) -> MeshTable {
        let requests: Vec<RecordBatch> =
            requests.iter().filter(|batch| batch.num_rows() > 0).cloned().collect();
        if !requests.is_empty() {
            self.read_strings_as_held();
            self.fresh = Fresh::RollupOf { rollup, requests, rolled: OnceLock::new() };
        }
        self.visibility = visibility;
        self
    }

    /// Text read as it is held in memory (`Utf8`), so that the rows in memory join
    /// the files' without a copy of their text.
    fn read_strings_as_held(&mut self) {
        self.file_schema = Arc::new(with_plain_strings(&self.file_schema));
        self.schema = Arc::new(with_plain_strings(&self.schema));
    }

    /// The table's name in SQL.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The files a scan with these filters reads.
    pub async fn files_for(
        &self,
        state: &dyn Session,
        filters: &[Expr],
    ) -> Result<Vec<PartitionedFile>> {
        let store = state.runtime_env().object_store(ObjectStoreUrl::local_filesystem())?;
        let mut files = match self.layout.time_column() {
            None => flat_files(store.as_ref(), &self.root).await?,
            Some(time_column) => {
                let range = TimeRange::from_filters(time_column, filters);
                let partitions = self.layout.partitions();
                let partition_filter = PartitionFilter::new(state, filters, partitions)?;
                let listed = Listed { root: &self.root, range: &range, filter: &partition_filter };
                match partitions.len() {
                    1 => daily_files(store.as_ref(), &listed).await?,
                    _ => partitioned_files(store.as_ref(), &listed).await?,
                }
            }
        };
        if let Some(visibility) = &self.visibility {
            files.retain(|file| visibility.shows(&self.relative_path(&file.object_meta.location)));
        }
        Ok(files)
    }

    /// A file's path relative to the data directory (`requests/date=…/….parquet`).
    fn relative_path(&self, location: &Path) -> String {
        let mut relative = self.name.to_owned();
        for part in location.prefix_match(&self.root).into_iter().flatten() {
            relative.push('/');
            relative.push_str(part.as_ref());
        }
        relative
    }

    async fn plan_scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let files_plan = self.plan_files(state, projection, filters, limit).await?;
        if matches!(self.fresh, Fresh::None) {
            return Ok(files_plan);
        }
        let time_column = self.layout.time_column();
        let range =
            time_column.map_or(TimeRange::ALL, |column| TimeRange::from_filters(column, filters));
        let columns = projection.map(Vec::as_slice);
        let partitions = self.layout.partitions();
        let rows = fresh::scanned_rows(
            self.fresh.rows()?,
            &self.schema,
            time_column,
            partitions,
            columns,
            range,
        )?;
        if rows.is_empty() {
            return Ok(files_plan);
        }
        let schema = project_schema(&self.schema, projection)?;
        let fresh = MemorySourceConfig::try_new_exec(&[rows], schema, None)?;
        UnionExec::try_new(vec![files_plan, fresh])
    }

    async fn plan_files(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let files = self.files_for(state, filters).await?;
        if files.is_empty() {
            let schema = project_schema(&self.schema, projection)?;
            return Ok(Arc::new(EmptyExec::new(schema)));
        }
        let groups = FileGroup::new(files).split_files(state.config().target_partitions());
        let format = ParquetFormat::default().with_options(state.table_options().parquet.clone());
        let source = format.file_source(self.table_schema());
        let config = FileScanConfigBuilder::new(ObjectStoreUrl::local_filesystem(), source)
            .with_file_groups(groups)
            .with_projection_indices(projection.cloned())?
            .with_limit(limit)
            .build();
        format.create_physical_plan(state, config).await
    }

    fn table_schema(&self) -> TableSchema {
        let builder = TableSchema::builder(self.file_schema.clone());
        match self.layout {
            Layout::Flat => builder.build(),
            _ => builder
                .with_table_partition_cols(partition_fields(self.layout.partitions()))
                .build(),
        }
    }
}

impl TableProvider for MeshTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> Result<Vec<TableProviderFilterPushDown>> {
        Ok(vec![TableProviderFilterPushDown::Inexact; filters.len()])
    }

    // `async fn scan` as `#[async_trait]` expands it (the crate is not a dependency).
    fn scan<'life0, 'life1, 'life2, 'life3, 'async_trait>(
        &'life0 self,
        state: &'life1 dyn Session,
        projection: Option<&'life2 Vec<usize>>,
        filters: &'life3 [Expr],
        limit: Option<usize>,
    ) -> Pin<Box<dyn Future<Output = Result<Arc<dyn ExecutionPlan>>> + Send + 'async_trait>>
    where
        'life0: 'async_trait,
        'life1: 'async_trait,
        'life2: 'async_trait,
        'life3: 'async_trait,
        Self: 'async_trait,
    {
        Box::pin(self.plan_scan(state, projection, filters, limit))
    }
}

/// Partition columns (`date`, `hour`), as the partition directories name them.
fn partition_fields(names: &[&str]) -> Vec<Field> {
    names.iter().map(|name| Field::new(*name, DataType::Utf8, false)).collect()
}

/// Text columns read as `Utf8View`, as DataFusion reads Parquet by default: faster
/// grouping and filtering on strings, same values.
fn with_view_types(schema: &Schema) -> Schema {
    let fields = schema.fields().iter().map(|field| match field.data_type() {
        DataType::Utf8 | DataType::LargeUtf8 => {
            Arc::new(field.as_ref().clone().with_data_type(DataType::Utf8View))
        }
        _ => field.clone(),
    });
    Schema::new_with_metadata(fields.collect::<Vec<_>>(), schema.metadata().clone())
}

/// Text columns as `Utf8`, undoing [`with_view_types`].
fn with_plain_strings(schema: &Schema) -> Schema {
    let fields = schema.fields().iter().map(|field| match field.data_type() {
        DataType::Utf8View => Arc::new(field.as_ref().clone().with_data_type(DataType::Utf8)),
        _ => field.clone(),
    });
    Schema::new_with_metadata(fields.collect::<Vec<_>>(), schema.metadata().clone())
}

async fn flat_files(store: &dyn ObjectStore, root: &Path) -> Result<Vec<PartitionedFile>> {
    let files = listing::parquet_files(store, root).await?;
    Ok(files.into_iter().map(PartitionedFile::new_from_meta).collect())
}

/// What a partitioned table's scan lists: the partitions under `root` that overlap
/// `range` and pass `filter`.
struct Listed<'a> {
    root: &'a Path,
    range: &'a TimeRange,
    filter: &'a PartitionFilter,
}

async fn partitioned_files(
    store: &dyn ObjectStore,
    listed: &Listed<'_>,
) -> Result<Vec<PartitionedFile>> {
    let mut files = Vec::new();
    if listed.range.is_empty() {
        return Ok(files);
    }
    for date in listing::date_dirs(store, listed.root).await? {
        if !listed.range.overlaps(date.start, MICROS_PER_DAY) {
            continue;
        }
        for hour in listing::hour_dirs(store, &date).await? {
            let values = [hour.date.as_str(), hour.hour.as_str()];
            if listed.range.overlaps(hour.start, MICROS_PER_HOUR) && listed.filter.keeps(&values)? {
                files.extend(files_with_values(store, &hour.path, &values).await?);
            }
        }
    }
    Ok(files)
}

async fn daily_files(store: &dyn ObjectStore, listed: &Listed<'_>) -> Result<Vec<PartitionedFile>> {
    let mut files = Vec::new();
    if listed.range.is_empty() {
        return Ok(files);
    }
    for date in listing::date_dirs(store, listed.root).await? {
        let values = [date.date.as_str()];
        if listed.range.overlaps(date.start, MICROS_PER_DAY) && listed.filter.keeps(&values)? {
            files.extend(files_with_values(store, &date.path, &values).await?);
        }
    }
    Ok(files)
}

/// The data files in `dir`, each with the partition `values` of its directory.
async fn files_with_values(
    store: &dyn ObjectStore,
    dir: &Path,
    values: &[&str],
) -> Result<Vec<PartitionedFile>> {
    let values: Vec<_> = values.iter().map(|value| (*value).into()).collect();
    let files = listing::parquet_files(store, dir).await?;
    let with_values =
        |meta| PartitionedFile::new_from_meta(meta).with_partition_values(values.clone());
    Ok(files.into_iter().map(with_values).collect())
}

/// The pushed-down filters that read only the partition columns, evaluated once per
/// partition directory.
struct PartitionFilter {
    predicate: Option<Arc<dyn PhysicalExpr>>,
    schema: SchemaRef,
}

impl PartitionFilter {
    fn new(state: &dyn Session, filters: &[Expr], partitions: &[&str]) -> Result<PartitionFilter> {
        let schema = Arc::new(Schema::new(partition_fields(partitions)));
        let applicable = filters
            .iter()
            .filter(|filter| expr_applicable_for_cols(partitions, filter))
            .map(|filter| unnormalize_col(filter.clone()));
        let predicate = match conjunction(applicable) {
            Some(expr) => {
                Some(state.create_physical_expr(expr, &DFSchema::try_from(schema.clone())?)?)
            }
            None => None,
        };
        Ok(PartitionFilter { predicate, schema })
    }

    /// Whether the directory with these partition values is read.
    fn keeps(&self, values: &[&str]) -> Result<bool> {
        let Some(predicate) = &self.predicate else {
            return Ok(true);
        };
        let columns = values.iter().map(|value| Arc::new(StringArray::from(vec![*value])) as _);
        let batch = RecordBatch::try_new(self.schema.clone(), columns.collect())?;
        let result = predicate.evaluate(&batch)?.into_array(1)?;
        let kept = result.as_boolean_opt().is_some_and(|kept| kept.is_valid(0) && kept.value(0));
        Ok(kept)
    }
}
