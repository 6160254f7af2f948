//! [`QueryEngine`]: the DataFusion session over a data directory, with the three
//! tables registered and every statement checked before it runs. The check is the
//! one `SessionContext::sql_with_options` makes (DDL, DML, `COPY` and statements
//! such as `SET` refused), done as a separate step so a refusal is a
//! [`QueryError::ReadOnly`] that says nothing was written.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use datafusion::dataframe::DataFrame;
use datafusion::error::DataFusionError;
use datafusion::execution::context::{SQLOptions, SessionConfig, SessionContext};
use datafusion::logical_expr::LogicalPlan;
use datafusion::object_store::path::Path as StorePath;

use super::QueryError;
use super::output::{self, OutputFormat};
use super::saved::SavedQuery;
use super::table::MeshTable;
use crate::storage::schema::{
    self, CLUSTER_STATS_DIR, ENDPOINT_STATS_DIR, FAILOVERS_DIR, REJECTS_DIR, REQUESTS_DIR,
};

/// A read-only SQL session over the Parquet tables of one data directory.
pub struct QueryEngine {
    ctx: SessionContext,
    data_dir: PathBuf,
}

/// A query's SQL and how errors name it.
struct Labeled<'a> {
    label: String,
    sql: &'a str,
}

impl QueryEngine {
    /// A session over `data_dir` with `requests`, `rejects`, `endpoint_stats`,
    /// `cluster_stats` and `failovers` registered; a table with no directory yet is empty.
    pub fn open(data_dir: &Path) -> Result<QueryEngine, QueryError> {
        let config = SessionConfig::new().with_information_schema(true);
        let ctx = SessionContext::new_with_config(config);
        let engine = QueryEngine { ctx, data_dir: data_dir.to_path_buf() };
        engine.register(MeshTable::partitioned(
            REQUESTS_DIR,
            &schema::requests(),
            engine.store_path(REQUESTS_DIR)?,
            "ts",
        ))?;
        engine.register(MeshTable::partitioned(
            REJECTS_DIR,
            &schema::rejects(),
            engine.store_path(REJECTS_DIR)?,
            "ts_ingested",
        ))?;
        for (dir, table_schema) in [
            (ENDPOINT_STATS_DIR, schema::endpoint_stats()),
            (CLUSTER_STATS_DIR, schema::cluster_stats()),
        ] {
            engine.register(MeshTable::partitioned(
                dir,
                &table_schema,
                engine.store_path(dir)?,
                "ts",
            ))?;
        }
        let failovers = engine.store_path(FAILOVERS_DIR)?;
        engine.register(MeshTable::flat(FAILOVERS_DIR, &schema::failovers(), failovers))?;
        Ok(engine)
    }

    /// The DataFusion session (for the server and tests). Statements run on it
    /// directly are not checked: use [`QueryEngine::sql`].
    pub fn context(&self) -> &SessionContext {
        &self.ctx
    }

    /// Plans `sql`, refusing anything that would write.
    pub async fn sql(&self, sql: &str) -> Result<DataFrame, QueryError> {
        self.plan(&Labeled { label: short_label(sql), sql }).await
    }

    /// Runs `sql` and collects the result.
    pub async fn collect(&self, sql: &str) -> Result<(SchemaRef, Vec<RecordBatch>), QueryError> {
        self.collect_labeled(&Labeled { label: short_label(sql), sql }).await
    }

    /// Runs a named query and collects the result.
    pub async fn collect_saved(
        &self,
        query: &SavedQuery,
    ) -> Result<(SchemaRef, Vec<RecordBatch>), QueryError> {
        let label = format!("saved query {}", query.name);
        self.collect_labeled(&Labeled { label, sql: query.sql }).await
    }

    /// Runs `sql` and writes the result to `out`.
    pub async fn run(
        &self,
        sql: &str,
        format: OutputFormat,
        out: &mut dyn Write,
    ) -> Result<(), QueryError> {
        let (schema, batches) = self.collect(sql).await?;
        output::write_batches(format, &schema, &batches, out)
    }

    /// Runs a named query and writes the result to `out`.
    pub async fn run_saved(
        &self,
        query: &SavedQuery,
        format: OutputFormat,
        out: &mut dyn Write,
    ) -> Result<(), QueryError> {
        let (schema, batches) = self.collect_saved(query).await?;
        output::write_batches(format, &schema, &batches, out)
    }

    async fn collect_labeled(
        &self,
        query: &Labeled<'_>,
    ) -> Result<(SchemaRef, Vec<RecordBatch>), QueryError> {
        let frame = self.plan(query).await?;
        let schema = Arc::new(frame.schema().as_arrow().clone());
        let batches = frame
            .collect()
            .await
            .map_err(|source| QueryError::Execute { sql: query.label.clone(), source })?;
        Ok((schema, batches))
    }

    async fn plan(&self, query: &Labeled<'_>) -> Result<DataFrame, QueryError> {
        let plan_error = |source| QueryError::Plan { sql: query.label.clone(), source };
        let state = self.ctx.state();
        let plan = state.create_logical_plan(query.sql).await.map_err(plan_error)?;
        read_only().verify_plan(&plan).map_err(|source| QueryError::ReadOnly {
            sql: query.label.clone(),
            kind: write_kind(&plan),
            source,
        })?;
        self.ctx.execute_logical_plan(plan).await.map_err(plan_error)
    }

    fn register(&self, table: MeshTable) -> Result<(), QueryError> {
        let name = table.name();
        let registered = self.ctx.register_table(name, Arc::new(table));
        registered.map(drop).map_err(|source| self.table_error(name, source))
    }

    /// The object-store path of a table directory (which need not exist).
    fn store_path(&self, table: &'static str) -> Result<StorePath, QueryError> {
        let dir = self.data_dir.join(table);
        let absolute = std::path::absolute(&dir)
            .map_err(|error| self.table_error(table, DataFusionError::IoError(error)))?;
        StorePath::from_absolute_path(&absolute)
            .map_err(|source| datafusion::object_store::Error::InvalidPath { source })
            .map_err(|error| self.table_error(table, DataFusionError::ObjectStore(Box::new(error))))
    }

    fn table_error(&self, table: &'static str, source: DataFusionError) -> QueryError {
        QueryError::Table { table, path: self.data_dir.join(table), source }
    }
}

/// What the query path allows: reading.
fn read_only() -> SQLOptions {
    SQLOptions::new().with_allow_ddl(false).with_allow_dml(false).with_allow_statements(false)
}

/// The kind of write a refused plan would have made, for the error message.
fn write_kind(plan: &LogicalPlan) -> String {
    match plan {
        LogicalPlan::Ddl(ddl) => format!("DDL {}", ddl.name()),
        LogicalPlan::Dml(dml) => format!("DML {}", dml.op),
        LogicalPlan::Copy(_) => "COPY".to_owned(),
        LogicalPlan::Statement(statement) => format!("statement {}", statement.name()),
        LogicalPlan::Explain(explain) => write_kind(&explain.plan),
        LogicalPlan::Analyze(analyze) => write_kind(&analyze.input),
        other => other.display().to_string(),
    }
}

/// The SQL on one line, cut to a length an error message can quote.
fn short_label(sql: &str) -> String {
    const MAX_CHARS: usize = 120;
    let line = sql.split_whitespace().collect::<Vec<_>>().join(" ");
    match line.char_indices().nth(MAX_CHARS) {
        Some((cut, _)) => format!("{}…", &line[..cut]),
        None => line,
    }
}
