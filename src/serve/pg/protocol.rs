//! pgwire's query handlers over [`PgQueries`]. The simple protocol (psql,
//! psycopg2, Grafana's pgx) runs each statement of a request in turn and stops at
//! the first error, as PostgreSQL does, sending the answers before it. The extended
//! protocol (psycopg 3, JDBC) plans a statement at `Parse` on a fresh engine, to
//! describe its placeholders and columns, and plans it again at each `Execute`, so
//! a prepared statement kept for hours still sees the newest rows; its columns go
//! out in the text or binary format the client bound.

use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::logical_expr::expr::Placeholder;
use datafusion::logical_expr::{Expr, LogicalPlan};
use datafusion::sql::sqlparser::ast::Statement;
use datafusion_postgres::arrow_pg::datatypes::df::deserialize_parameters_with_server_types;
use datafusion_postgres::arrow_pg::datatypes::{arrow_schema_to_pg_fields, into_pg_type};
use datafusion_postgres::pgwire::api::portal::{Format, Portal};
use datafusion_postgres::pgwire::api::query::{ExtendedQueryHandler, SimpleQueryHandler};
use datafusion_postgres::pgwire::api::results::{FieldInfo, Response};
use datafusion_postgres::pgwire::api::stmt::QueryParser;
use datafusion_postgres::pgwire::api::store::PortalStore;
use datafusion_postgres::pgwire::api::{ClientInfo, ClientPortalStore, Type};
use datafusion_postgres::pgwire::error::{PgWireError, PgWireResult};
use datafusion_postgres::pgwire::messages::PgWireBackendMessage;
use datafusion_postgres::pgwire::messages::response::TransactionStatus;
use futures::Sink;

use super::settings::user_error;
use super::statements::{Kind, PgQueries, show_table};

/// The simple and extended query handlers of every session.
pub struct PgService {
    queries: Arc<PgQueries>,
    parser: Arc<PgParser>,
}

impl PgService {
    pub fn new(queries: Arc<PgQueries>) -> PgService {
        PgService { parser: Arc::new(PgParser { queries: queries.clone() }), queries }
    }

    /// Runs one statement, refusing all but the end of a failed transaction.
    async fn run<C>(
        &self,
        client: &mut C,
        statement: &Statement,
        params: Option<&datafusion::common::ParamValues>,
        format: &Format,
    ) -> PgWireResult<Response>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let ends_transaction = matches!(Kind::of(statement), Kind::Commit | Kind::Rollback);
        if client.transaction_status() == TransactionStatus::Error && !ends_transaction {
            let message = "current transaction is aborted, commands ignored until end of \
                           transaction block";
            return Err(user_error("25P02", message.to_owned()));
        }
        self.queries.execute(client, statement, params, format).await
    }
}

#[async_trait]
impl SimpleQueryHandler for PgService {
    async fn do_query<C>(&self, client: &mut C, query: &str) -> PgWireResult<Vec<Response>>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let statements = self.queries.parse(query)?;
        if statements.is_empty() {
            return Ok(vec![Response::EmptyQuery]);
        }
        let mut responses = Vec::with_capacity(statements.len());
        for statement in &statements {
            match self.run(client, statement, None, &Format::UnifiedText).await {
                Ok(response) => responses.push(response),
                Err(PgWireError::UserError(error)) => {
                    responses.push(Response::Error(error));
                    break;
                }
                Err(other) => return Err(other),
            }
        }
        Ok(responses)
    }
}

#[async_trait]
impl ExtendedQueryHandler for PgService {
    type Statement = Prepared;
    type QueryParser = PgParser;

    fn query_parser(&self) -> Arc<PgParser> {
        self.parser.clone()
    }

    async fn do_query<C>(
        &self,
        client: &mut C,
        portal: &Portal<Prepared>,
        _max_rows: usize,
    ) -> PgWireResult<Response>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let prepared = &portal.statement.statement;
        let inferred: Vec<Option<&DataType>> = prepared.params.iter().map(Option::as_ref).collect();
        let wire: Vec<Option<&Type>> = prepared.wire_types.iter().map(Some).collect();
        let values = deserialize_parameters_with_server_types(portal, &inferred, &wire)?;
        let params = (portal.parameter_len() > 0).then_some(&values);
        self.run(client, &prepared.statement, params, &portal.result_column_format).await
    }
}

/// A statement as `Parse` left it.
#[derive(Debug, Clone)]
pub struct Prepared {
    statement: Statement,
    /// The types the plan gives `$1`, `$2`… (`None` where it gives none).
    params: Vec<Option<DataType>>,
    /// The types `ParameterDescription` says, and parameters are decoded as.
    wire_types: Vec<Type>,
    /// The columns of its rows; `None` for a statement without rows (`SET`).
    columns: Option<SchemaRef>,
}

/// Parses and describes statements for the extended protocol.
pub struct PgParser {
    queries: Arc<PgQueries>,
}

#[async_trait]
impl QueryParser for PgParser {
    type Statement = Prepared;

    async fn parse_sql<C>(
        &self,
        client: &C,
        sql: &str,
        types: &[Option<Type>],
    ) -> PgWireResult<Option<Prepared>>
    where
        C: ClientInfo + Unpin + Send + Sync,
    {
        let mut statements = self.queries.parse(sql)?;
        if statements.len() > 1 {
            let message = "cannot insert multiple commands into a prepared statement";
            return Err(user_error("42601", message.to_owned()));
        }
        let Some(statement) = statements.pop() else { return Ok(None) };
        let (params, columns) = match Kind::of(&statement) {
            Kind::Query => {
                let plan = self.queries.plan(client, &statement).await?;
                (placeholder_types(&plan)?, Some(plan_columns(&plan)))
            }
            Kind::Show(name) => (Vec::new(), Some(show_table(&name, String::new())?.0)),
            _ => (Vec::new(), None),
        };
        let wire_types = wire_types(&params, types);
        Ok(Some(Prepared { statement, params, wire_types, columns }))
    }

    fn get_parameter_types(&self, prepared: &Prepared) -> PgWireResult<Vec<Type>> {
        Ok(prepared.wire_types.clone())
    }

    fn get_result_schema(
        &self,
        prepared: &Prepared,
        format: Option<&Format>,
    ) -> PgWireResult<Vec<FieldInfo>> {
        let Some(columns) = &prepared.columns else { return Ok(Vec::new()) };
        arrow_schema_to_pg_fields(columns, format.unwrap_or(&Format::UnifiedText), None)
    }
}

fn plan_columns(plan: &LogicalPlan) -> SchemaRef {
    Arc::new(plan.schema().as_arrow().clone())
}

/// The plan's placeholders `$1…$n` in order, each with the first type the plan
/// gives it. A placeholder compared with a `Utf8` literal and a `Utf8View` column
/// has two types to DataFusion (which then refuses to say either); on the wire
/// both are text.
fn placeholder_types(plan: &LogicalPlan) -> PgWireResult<Vec<Option<DataType>>> {
    let mut found: Vec<(String, Option<DataType>)> = Vec::new();
    let visited = plan.apply_with_subqueries(|node| {
        for expression in node.expressions() {
            expression.apply(|expression| {
                if let Expr::Placeholder(placeholder) = expression {
                    note_placeholder(&mut found, placeholder);
                }
                Ok(TreeNodeRecursion::Continue)
            })?;
        }
        Ok(TreeNodeRecursion::Continue)
    });
    visited.map_err(|error| user_error("42P18", format!("cannot type the parameters: {error}")))?;
    let mut ordered = Vec::new();
    for (id, data_type) in found {
        let position: usize = id.trim_start_matches('$').parse().unwrap_or(0);
        if position == 0 {
            return Err(user_error("42P18", format!("parameter {id} is not $1, $2…")));
        }
        if ordered.len() < position {
            ordered.resize(position, None);
        }
        ordered[position - 1] = data_type;
    }
    Ok(ordered)
}

/// Records `placeholder`, keeping the first type seen for its id.
fn note_placeholder(found: &mut Vec<(String, Option<DataType>)>, placeholder: &Placeholder) {
    let data_type = placeholder.field.as_ref().map(|field| field.data_type().clone());
    match found.iter_mut().find(|(id, _)| *id == placeholder.id) {
        Some((_, known)) => {
            if known.is_none() {
                *known = data_type;
            }
        }
        None => found.push((placeholder.id.clone(), data_type)),
    }
}

/// Each parameter's type: the client's when it gave one, else the plan's, else
/// `text` (as PostgreSQL types a parameter nothing else types).
fn wire_types(params: &[Option<DataType>], given: &[Option<Type>]) -> Vec<Type> {
    let count = params.len().max(given.len());
    (0..count)
        .map(|index| {
            let given = given.get(index).cloned().flatten().filter(|given| *given != Type::UNKNOWN);
            let planned = params.get(index).cloned().flatten();
            given
                .or_else(|| planned.and_then(|planned| into_pg_type(&planned).ok()))
                .unwrap_or(Type::TEXT)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_parameter_takes_the_clients_type_then_the_plans_then_text() {
        let params = [Some(DataType::Int64), None, Some(DataType::Utf8)];
        let given = [None, None, Some(Type::VARCHAR)];
        let types = wire_types(&params, &given);
        assert_eq!(types, [Type::INT8, Type::TEXT, Type::VARCHAR]);
    }
}
