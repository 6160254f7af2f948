//! [`QueryEngine`]: the DataFusion session over a data directory, with its tables
//! registered and every statement checked before it runs. The check is the
//! one `SessionContext::sql_with_options` makes (DDL, DML, `COPY` and statements
//! such as `SET` refused), done as a separate step so a refusal is a
//! [`QueryError::ReadOnly`] that says nothing was written. Parameter values of a
//! named query are bound into the checked plan. With a [`TimeWindow`], each table is
//! registered as a view of itself filtered to the window (by its time column;
//! `failovers` by the overlap of `[started_at, ended_at]`), so that every query sees
//! only the window and the filter on `ts` prunes partitions as a `WHERE` would.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use datafusion::catalog::TableProvider;
use datafusion::catalog::view::ViewTable;
use datafusion::common::ParamValues;
use datafusion::dataframe::DataFrame;
use datafusion::datasource::provider_as_source;
use datafusion::error::DataFusionError;
use datafusion::execution::context::{SQLOptions, SessionConfig, SessionContext};
use datafusion::logical_expr::{Expr, LogicalPlan, LogicalPlanBuilder};
use datafusion::object_store::path::Path as StorePath;
use datafusion::sql::parser::Statement as DfStatement;
use datafusion::sql::sqlparser::ast::Statement;

use datafusion::execution::SessionStateBuilder;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use futures::StreamExt;

use super::fresh::{FreshRows, Visibility};
use super::limits::QueryLimits;
use super::output::{self, OutputFormat};
use super::params::BoundQuery;
use super::sketch_functions;
use super::sketch_sharing::ShareSketchMerges;
use super::table::MeshTable;
use super::visible_files::VisibleFiles;
use super::window::TimeWindow;
use super::yield_points::YieldInJoins;
use super::{QueryError, data_dir};
use crate::analytics::rollup::Rollup;
use crate::storage::rollup_marker::rollups_complete;
use crate::storage::schema::{
    self, CLUSTER_STATS_DIR, ENDPOINT_STATS_DIR, FAILOVERS_DIR, REJECTS_DIR, REQUESTS_DIR,
};
use crate::storage::staging::AppendedTable;

/// A read-only SQL session over the Parquet tables of one data directory.
pub struct QueryEngine {
    ctx: SessionContext,
    data_dir: PathBuf,
    window: TimeWindow,
    limits: QueryLimits,
    /// Whether the rollups count every `requests` row (see `storage::rollup_marker`).
    rollups_complete: bool,
}

/// A query's SQL, how errors name it, and the values of its placeholders.
struct Labeled<'a> {
    label: String,
    sql: &'a str,
    params: Option<&'a ParamValues>,
}

impl QueryEngine {
    /// A session over `data_dir` with `requests`, `rejects`, `endpoint_stats`,
    /// `cluster_stats` and `failovers` registered; a table with no directory yet is
    /// empty. A directory that holds no meshlog data is refused ([`data_dir`]).
    pub fn open(data_dir: &Path) -> Result<QueryEngine, QueryError> {
        QueryEngine::open_window(data_dir, TimeWindow::ALL)
    }

    /// As [`QueryEngine::open`], every table cut to `window`: rows whose time
    /// (`ts`; `ts_ingested` for `rejects`) lies in it, and the `failovers` episodes
    /// that overlap it (an ongoing one overlaps everything after its start).
    pub fn open_window(data_dir: &Path, window: TimeWindow) -> Result<QueryEngine, QueryError> {
        QueryEngine::open_with(data_dir, window, QueryLimits::default())
    }

    /// As [`QueryEngine::open_window`], each query held to `limits`; the rows a
    /// running server has not yet written to Parquet are read from its WAL.
    pub fn open_with(
        data_dir: &Path,
        window: TimeWindow,
        limits: QueryLimits,
    ) -> Result<QueryEngine, QueryError> {
        let data_dir = data_dir::resolve(data_dir)?;
        let (fresh, records) = FreshRows::from_wal(&data_dir)?;
        let visibility = Visibility::of(&records, fresh.visible_commit).map(Arc::new);
        QueryEngine::open_on(data_dir, visibility, window, limits, &fresh)
    }

    /// As [`QueryEngine::open_with`], with `fresh` rows beside the files (the
    /// server's own, from memory) and the committed files as `visible` knows them.
    pub fn open_fresh(
        data_dir: &Path,
        window: TimeWindow,
        limits: QueryLimits,
        fresh: &FreshRows,
        visible: &VisibleFiles,
    ) -> Result<QueryEngine, QueryError> {
        let data_dir = data_dir::resolve(data_dir)?;
        let visibility = visible.of(&data_dir, fresh.visible_commit)?;
        QueryEngine::open_on(data_dir, visibility, window, limits, fresh)
    }

    /// The session over a resolved `data_dir` whose committed files `visibility`
    /// names (every file when `None`: nothing is committed yet).
    fn open_on(
        data_dir: PathBuf,
        visibility: Option<Arc<Visibility>>,
        window: TimeWindow,
        limits: QueryLimits,
        fresh: &FreshRows,
    ) -> Result<QueryEngine, QueryError> {
        let config = SessionConfig::new().with_information_schema(true);
        let runtime = RuntimeEnvBuilder::new()
            .with_memory_limit(limits.memory_bytes, 1.0)
            .build_arc()
            .map_err(|source| QueryError::Table {
                table: "runtime",
                path: data_dir.clone(),
                source,
            })?;
        let state = SessionStateBuilder::new()
            .with_config(config)
            .with_runtime_env(runtime)
            .with_default_features()
            .with_optimizer_rule(Arc::new(ShareSketchMerges))
            .with_physical_optimizer_rule(Arc::new(YieldInJoins))
            .build();
        let ctx = SessionContext::new_with_state(state);
        sketch_functions::all().into_iter().for_each(|function| ctx.register_udaf(function));
        let rollups_complete = rollups_complete(&data_dir);
        let engine = QueryEngine { ctx, data_dir, window, limits, rollups_complete };
        let partitioned = [
            (REQUESTS_DIR, schema::requests(), "ts", fresh.requests.as_slice()),
            (REJECTS_DIR, schema::rejects(), "ts_ingested", fresh.rejects.as_slice()),
            (ENDPOINT_STATS_DIR, schema::endpoint_stats(), "ts", &[]),
            (CLUSTER_STATS_DIR, schema::cluster_stats(), "ts", &[]),
        ];
        for (dir, table_schema, time_column, rows) in partitioned {
            let path = engine.store_path(dir)?;
            let table = MeshTable::partitioned(dir, &table_schema, path, time_column)
                .with_fresh(visibility.clone(), rows)
                .map_err(|source| engine.table_error(dir, source))?;
            engine.register(table, window.rows(time_column))?;
        }
        for rollup in Rollup::ALL {
            let dir = AppendedTable::of_rollup(rollup).dir();
            let path = engine.store_path(dir)?;
            let table = MeshTable::daily(dir, &rollup.schema(), path, "ts").with_fresh_rollup(
                visibility.clone(),
                rollup,
                &fresh.requests,
            );
            engine.register(table, window.rows("ts"))?;
        }
        let failovers = engine.store_path(FAILOVERS_DIR)?;
        let table = MeshTable::flat(FAILOVERS_DIR, &schema::failovers(), failovers)
            .with_fresh(visibility, &[])
            .map_err(|source| engine.table_error(FAILOVERS_DIR, source))?;
        engine.register(table, window.spans("started_at", "ended_at"))?;
        Ok(engine)
    }

    /// Whether a named query may read the rollups instead of `requests`: they count
    /// every row of the directory, and the window cuts no minute in two.
    fn rollups_answer(&self) -> bool {
        let whole_minute = |at: Option<i64>| at.is_none_or(|micros| micros % 60_000_000 == 0);
        self.rollups_complete && whole_minute(self.window.since) && whole_minute(self.window.until)
    }

    /// The window every table is cut to.
    pub fn window(&self) -> TimeWindow {
        self.window
    }

    /// The DataFusion session (for the server and tests). Statements run on it
    /// directly are not checked: use [`QueryEngine::sql`].
    pub fn context(&self) -> &SessionContext {
        &self.ctx
    }

    /// Plans `sql`, refusing anything that would write.
    pub async fn sql(&self, sql: &str) -> Result<DataFrame, QueryError> {
        self.plan(&Labeled { label: short_label(sql), sql, params: None }).await
    }

    /// Runs `sql` and collects the result.
    pub async fn collect(&self, sql: &str) -> Result<(SchemaRef, Vec<RecordBatch>), QueryError> {
        self.collect_labeled(&Labeled { label: short_label(sql), sql, params: None }).await
    }

    /// Runs `sql` with values for its `$name` placeholders (those of a named query it
    /// wraps: [`BoundQuery::values`]) and collects the result.
    pub async fn collect_with(
        &self,
        sql: &str,
        params: &ParamValues,
    ) -> Result<(SchemaRef, Vec<RecordBatch>), QueryError> {
        let label = short_label(sql);
        self.collect_labeled(&Labeled { label, sql, params: Some(params) }).await
    }

    /// Runs a named query and collects the result.
    pub async fn collect_saved(
        &self,
        query: &BoundQuery,
    ) -> Result<(SchemaRef, Vec<RecordBatch>), QueryError> {
        let label = format!("saved query {}", query.query.name);
        let sql = match query.query.rollup_sql {
            Some(rollup_sql) if self.rollups_answer() => rollup_sql,
            _ => query.query.sql,
        };
        self.collect_labeled(&Labeled { label, sql, params: Some(&query.values) }).await
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
        query: &BoundQuery,
        format: OutputFormat,
        out: &mut dyn Write,
    ) -> Result<(), QueryError> {
        let (schema, batches) = self.collect_saved(query).await?;
        output::write_batches(format, &schema, &batches, out)
    }

    /// Plans a statement the PostgreSQL wire protocol parsed (and rewrote for
    /// DataFusion), refusing anything that would write: what a `Describe` answers
    /// from. Placeholders (`$1`) stay unbound.
    pub async fn plan_statement(&self, statement: &Statement) -> Result<LogicalPlan, QueryError> {
        let label = short_label(&statement.to_string());
        let plan = self.statement_plan(&label, statement).await?;
        self.check(&label, &plan)?;
        Ok(plan)
    }

    /// Runs a parsed statement, with values for its placeholders, as
    /// [`QueryEngine::collect_with`] runs SQL text: checked, under the same limits.
    pub async fn collect_statement(
        &self,
        statement: &Statement,
        params: Option<&ParamValues>,
    ) -> Result<(SchemaRef, Vec<RecordBatch>), QueryError> {
        let label = short_label(&statement.to_string());
        let plan = self.statement_plan(&label, statement).await?;
        let frame = self.frame(&label, plan, params).await?;
        self.collect_frame(&label, frame).await
    }

    async fn statement_plan(
        &self,
        label: &str,
        statement: &Statement,
    ) -> Result<LogicalPlan, QueryError> {
        let statement = DfStatement::Statement(Box::new(statement.clone()));
        let planned = self.ctx.state().statement_to_plan(statement).await;
        planned.map_err(|source| QueryError::Plan { sql: label.to_owned(), source })
    }

    async fn collect_labeled(
        &self,
        query: &Labeled<'_>,
    ) -> Result<(SchemaRef, Vec<RecordBatch>), QueryError> {
        let frame = self.plan(query).await?;
        self.collect_frame(&query.label, frame).await
    }

    /// Runs `frame` within the time limit.
    async fn collect_frame(
        &self,
        label: &str,
        frame: DataFrame,
    ) -> Result<(SchemaRef, Vec<RecordBatch>), QueryError> {
        let schema = Arc::new(frame.schema().as_arrow().clone());
        let timeout = self.limits.timeout;
        let batches = tokio::time::timeout(timeout, self.gather(label, frame))
            .await
            .map_err(|_| QueryError::Timeout { sql: label.to_owned(), timeout })??;
        Ok((schema, batches))
    }

    /// The result's batches, refusing more than the memory limit of them.
    async fn gather(&self, label: &str, frame: DataFrame) -> Result<Vec<RecordBatch>, QueryError> {
        let execute_error = |source| QueryError::Execute { sql: label.to_owned(), source };
        let mut stream = frame.execute_stream().await.map_err(execute_error)?;
        let (mut batches, mut bytes) = (Vec::new(), 0usize);
        while let Some(batch) = stream.next().await {
            let batch = batch.map_err(execute_error)?;
            bytes += batch.get_array_memory_size();
            if bytes > self.limits.memory_bytes {
                let limit = self.limits.memory_bytes;
                return Err(QueryError::ResultTooLarge { sql: label.to_owned(), limit });
            }
            batches.push(batch);
        }
        Ok(batches)
    }

    async fn plan(&self, query: &Labeled<'_>) -> Result<DataFrame, QueryError> {
        let plan_error = |source| QueryError::Plan { sql: query.label.clone(), source };
        let state = self.ctx.state();
        let plan = state.create_logical_plan(query.sql).await.map_err(plan_error)?;
        self.frame(&query.label, plan, query.params).await
    }

    /// `plan`, checked and bound to `params`, ready to run.
    async fn frame(
        &self,
        label: &str,
        plan: LogicalPlan,
        params: Option<&ParamValues>,
    ) -> Result<DataFrame, QueryError> {
        let plan_error = |source| QueryError::Plan { sql: label.to_owned(), source };
        self.check(label, &plan)?;
        let plan = match params {
            Some(values) => plan.with_param_values(values.clone()).map_err(plan_error)?,
            None => plan,
        };
        self.ctx.execute_logical_plan(plan).await.map_err(plan_error)
    }

    /// Refuses a plan that would write.
    fn check(&self, label: &str, plan: &LogicalPlan) -> Result<(), QueryError> {
        read_only().verify_plan(plan).map_err(|source| QueryError::ReadOnly {
            sql: label.to_owned(),
            kind: write_kind(plan),
            source,
        })
    }

    /// Registers `table`, or a view of it keeping the rows that pass `window`.
    fn register(&self, table: MeshTable, window: Option<Expr>) -> Result<(), QueryError> {
        let name = table.name();
        let table: Arc<dyn TableProvider> = Arc::new(table);
        let provider = match window {
            Some(filter) => Arc::new(
                windowed(name, table, filter).map_err(|source| self.table_error(name, source))?,
            ),
            None => table,
        };
        let registered = self.ctx.register_table(name, provider);
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

/// A view of `table` that keeps the rows passing `filter`.
fn windowed(
    name: &str,
    table: Arc<dyn TableProvider>,
    filter: Expr,
) -> Result<ViewTable, DataFusionError> {
    let plan =
        LogicalPlanBuilder::scan(name, provider_as_source(table), None)?.filter(filter)?.build()?;
    Ok(ViewTable::new(plan, None))
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
