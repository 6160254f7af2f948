//! What one PostgreSQL statement does, shared by the simple and the extended
//! protocol: [`PgQueries`] parses text with `datafusion-pg-catalog`'s
//! PostgreSQL-compatibility parser (it rewrites what clients' catalog queries ask
//! into what DataFusion plans), and runs each statement by its [`Kind`].
//! Transactions are acknowledged (everything is read-only), `SET` and `SHOW` go to
//! the session's parameters, and everything else is planned on a fresh
//! [`QueryEngine`] over the committed files and the rows in memory, checked
//! read-only and held to the query limits exactly as `POST /api/v1/query` is.

use std::sync::Arc;

use datafusion::arrow::array::{RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::common::ParamValues;
use datafusion::error::DataFusionError;
use datafusion::logical_expr::LogicalPlan;
use datafusion::sql::sqlparser::ast::{Set, Statement};
use datafusion_postgres::arrow_pg::datatypes::{arrow_schema_to_pg_fields, encode_recordbatch};
use datafusion_postgres::datafusion_pg_catalog::sql::PostgresCompatibilityParser;
use datafusion_postgres::pgwire::api::ClientInfo;
use datafusion_postgres::pgwire::api::portal::Format;
use datafusion_postgres::pgwire::api::results::{QueryResponse, Response, Tag};
use datafusion_postgres::pgwire::error::{PgWireError, PgWireResult};
use datafusion_postgres::pgwire::messages::PgWireBackendMessage;
use datafusion_postgres::pgwire::messages::startup::ParameterStatus;
use datafusion_postgres::pgwire::types::format::FormatOptions;
use futures::{Sink, SinkExt, stream};

use super::catalog::PgCompat;
use super::search_path::answer_search_path;
use super::settings::{self, SessionSettings, user_error};
use super::text_rows::text_rows;
use crate::query::limits::QueryLimits;
use crate::query::{QueryEngine, QueryError, TimeWindow};
use crate::serve::http::AppState;

/// What a statement is, for how it runs.
pub enum Kind<'a> {
    Begin,
    Commit,
    Rollback,
    Set(&'a Set),
    Show(String),
    /// Anything else: planned, checked read-only, run.
    Query,
}

impl Kind<'_> {
    pub fn of(statement: &Statement) -> Kind<'_> {
        match statement {
            Statement::StartTransaction { .. } => Kind::Begin,
            Statement::Commit { .. } => Kind::Commit,
            Statement::Rollback { .. } => Kind::Rollback,
            Statement::Set(set) => Kind::Set(set),
            Statement::ShowVariable { variable } => {
                let words: Vec<&str> = variable.iter().map(|word| word.value.as_str()).collect();
                Kind::Show(words.join(" "))
            }
            _ => Kind::Query,
        }
    }
}

/// Parses and runs statements for every PostgreSQL session of the server.
pub struct PgQueries {
    app: Arc<AppState>,
    compat: PgCompat,
    parser: PostgresCompatibilityParser,
}

impl PgQueries {
    pub fn new(app: Arc<AppState>, compat: PgCompat) -> PgQueries {
        PgQueries { app, compat, parser: PostgresCompatibilityParser::new() }
    }

    /// The statements of `text` (none for a comment or blanks).
    pub fn parse(&self, text: &str) -> PgWireResult<Vec<Statement>> {
        let text = answer_search_path(text);
        self.parser.parse(&text).map_err(|error| user_error("42601", error.to_string()))
    }

    /// The session's parameters, as statements see them.
    pub fn session<C: ClientInfo + ?Sized>(&self, client: &C) -> SessionSettings {
        SessionSettings::of(client, self.app.query_limits.timeout)
    }

    /// Runs `statement` (with `params` bound to its placeholders), its rows in
    /// `format`.
    pub async fn execute<C>(
        &self,
        client: &mut C,
        statement: &Statement,
        params: Option<&ParamValues>,
        format: &Format,
    ) -> PgWireResult<Response>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let options = Arc::new(FormatOptions::from_client_metadata(client.metadata()));
        match Kind::of(statement) {
            Kind::Begin => Ok(Response::TransactionStart(Tag::new("BEGIN"))),
            Kind::Commit => Ok(Response::TransactionEnd(Tag::new("COMMIT"))),
            Kind::Rollback => Ok(Response::TransactionEnd(Tag::new("ROLLBACK"))),
            Kind::Set(set) => {
                for (name, value) in settings::apply_set(client, set)? {
                    let status = ParameterStatus::new(name, value);
                    client.feed(PgWireBackendMessage::ParameterStatus(status)).await?;
                }
                Ok(settings::set_done())
            }
            Kind::Show(name) => {
                let value = settings::show_value(&self.session(client), &name)?;
                let (schema, batches) = show_table(&name, value)?;
                Ok(Response::Query(encode(&schema, batches, format, options)?))
            }
            Kind::Query => {
                let session = self.session(client);
                let engine = self.engine(&session)?;
                let result = engine.collect_statement(statement, params).await;
                let (schema, batches) = result.map_err(wire_error)?;
                Ok(Response::Query(encode(&schema, batches, format, options)?))
            }
        }
    }

    /// The plan of a query on a fresh engine: its placeholders' types and its
    /// columns, for `Describe`.
    pub async fn plan<C: ClientInfo + ?Sized>(
        &self,
        client: &C,
        statement: &Statement,
    ) -> PgWireResult<LogicalPlan> {
        let engine = self.engine(&self.session(client))?;
        engine.plan_statement(statement).await.map_err(wire_error)
    }

    /// A session over the committed files and the rows in memory now, with what
    /// PostgreSQL clients expect of a server.
    fn engine(&self, session: &SessionSettings) -> PgWireResult<QueryEngine> {
        let fresh = self.app.fresh.snapshot();
        let server = self.app.query_limits;
        let limits = QueryLimits { timeout: session.timeout(server.timeout), ..server };
        let app = &self.app;
        let engine = QueryEngine::open_fresh(
            &app.data_dir,
            TimeWindow::ALL,
            limits,
            &fresh,
            &app.visible_files,
        )
        .map_err(wire_error)?;
        self.compat.install(engine.context(), session.clone()).map_err(|error| internal(&error))?;
        Ok(engine)
    }
}

/// `SHOW name`'s answer: one text column named after the parameter.
pub fn show_table(name: &str, value: String) -> PgWireResult<(SchemaRef, Vec<RecordBatch>)> {
    let schema = Arc::new(Schema::new(vec![Field::new(name, DataType::Utf8, false)]));
    let column = Arc::new(StringArray::from(vec![value]));
    let batch =
        RecordBatch::try_new(schema.clone(), vec![column]).map_err(|error| internal(&error))?;
    Ok((schema, vec![batch]))
}

/// The rows of `batches` as PostgreSQL sends them, each column in `format`: in
/// the text format by [`text_rows`] where it can, by arrow-pg otherwise.
fn encode(
    schema: &Schema,
    batches: Vec<RecordBatch>,
    format: &Format,
    options: Arc<FormatOptions>,
) -> PgWireResult<QueryResponse> {
    let fields = Arc::new(arrow_schema_to_pg_fields(schema, format, Some(options))?);
    let row_fields = fields.clone();
    let rows = batches.into_iter().flat_map(move |batch| -> Box<dyn Iterator<Item = _> + Send> {
        match text_rows(&row_fields, &batch) {
            Some(rows) => Box::new(rows.into_iter()),
            None => encode_recordbatch(row_fields.clone(), batch),
        }
    });
    Ok(QueryResponse::new(fields, stream::iter(rows)))
}

/// A query error as PostgreSQL reports one: the message with its causes, and the
/// SQLSTATE that says what kind of failure it was.
pub fn wire_error(error: QueryError) -> PgWireError {
    let code = match &error {
        QueryError::ReadOnly { .. } => "25006",
        QueryError::Timeout { .. } => "57014",
        QueryError::ResultTooLarge { .. } => "54000",
        QueryError::Execute { source, .. } if exhausted(source) => "53200",
        QueryError::Plan { source, .. } => plan_code(source),
        _ if error.exit_code() == 2 => "22023",
        _ => "XX000",
    };
    user_error(code, full_message(&error))
}

/// What kind of mistake a statement that does not plan makes.
fn plan_code(error: &DataFusionError) -> &'static str {
    let message = error.to_string();
    match error.find_root() {
        DataFusionError::SQL(..) => "42601",
        DataFusionError::NotImplemented(_) => "0A000",
        _ if message.contains("table '") && message.contains("not found") => "42P01",
        _ if message.contains("No field named") => "42703",
        _ if message.contains("Invalid function") => "42883",
        _ if message.contains("function") && message.contains("not found") => "42883",
        _ => "42000",
    }
}

fn exhausted(error: &DataFusionError) -> bool {
    matches!(error.find_root(), DataFusionError::ResourcesExhausted(_))
}

fn internal(error: &dyn std::error::Error) -> PgWireError {
    user_error("XX000", full_message(error))
}

/// The error and each of its causes not already in it, on one line.
fn full_message(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        // DataFusion's errors print their causes already.
        let cause_text = cause.to_string();
        if !message.contains(&cause_text) {
            message.push_str(&format!(": {cause_text}"));
        }
        source = cause.source();
    }
    message
}
