//! What PostgreSQL clients expect beside meshlog's tables: the `pg_catalog` schema
//! (from `datafusion-pg-catalog`), its functions (`format_type`, `quote_ident`,
//! `has_table_privilege`…), `::regclass`-style casts, and `current_setting()`.
//! [`PgCompat`] is built once at start and installed into each statement's fresh
//! session, so a table keeps one OID for the life of the server (psql's `\d`
//! asks for a table's OID, then by it, in two statements) and the static catalog
//! tables are read once.

use std::sync::Arc;

use datafusion::catalog::{CatalogProviderList, SchemaProvider};
use datafusion::error::DataFusionError;
use datafusion::prelude::SessionContext;
use datafusion_postgres::datafusion_pg_catalog::pg_catalog::context::EmptyContextProvider;
use datafusion_postgres::datafusion_pg_catalog::pg_catalog::{
    self as pg, PgCatalogSchemaProvider, PgCatalogStaticTables, array_bounds_udf, format_type,
    generate_series_arg_coercion::CoerceIntArgsToBigInt, has_privilege_udf,
    oid_type_planner::PgOidTypePlanner, pg_get_expr_udf, quote_ident_udf,
};

use super::settings::{SessionSettings, current_setting_udf};

/// The catalog every PostgreSQL session's context shares.
pub struct PgCompat {
    pg_catalog: Arc<dyn SchemaProvider>,
    static_tables: Arc<PgCatalogStaticTables>,
}

impl PgCompat {
    /// The catalog of `template`'s tables (only their names and schemas matter).
    pub fn new(template: &SessionContext) -> Result<PgCompat, DataFusionError> {
        let static_tables = Arc::new(PgCatalogStaticTables::try_new()?);
        let tables: Arc<dyn CatalogProviderList> = template.state().catalog_list().clone();
        let pg_catalog: Arc<dyn SchemaProvider> = Arc::new(PgCatalogSchemaProvider::try_new(
            tables,
            static_tables.clone(),
            EmptyContextProvider,
        )?);
        let compat = PgCompat { pg_catalog, static_tables };
        compat.register_schema(template)?;
        Ok(compat)
    }

    /// Makes `ctx` answer what PostgreSQL clients ask of a server, for the
    /// session whose settings are `session`.
    pub fn install(
        &self,
        ctx: &SessionContext,
        session: SessionSettings,
    ) -> Result<(), DataFusionError> {
        self.register_schema(ctx)?;
        register_functions(ctx, &self.static_tables);
        ctx.register_udf(current_setting_udf(session));
        let state = ctx.state_ref();
        let planned = datafusion::execution::session_state::SessionStateBuilder::new_from_existing(
            state.read().clone(),
        )
        .with_type_planner(Arc::new(PgOidTypePlanner))
        .build();
        *state.write() = planned;
        CoerceIntArgsToBigInt::widen(ctx);
        Ok(())
    }

    fn register_schema(&self, ctx: &SessionContext) -> Result<(), DataFusionError> {
        let catalog_name = ctx.state().config().options().catalog.default_catalog.clone();
        let catalog = ctx.catalog(&catalog_name).ok_or_else(|| {
            DataFusionError::Configuration(format!("no catalog {catalog_name} for pg_catalog"))
        })?;
        catalog.register_schema("pg_catalog", self.pg_catalog.clone()).map(drop)
    }
}

/// The functions `setup_pg_catalog` registers, without rebuilding the catalog.
fn register_functions(ctx: &SessionContext, static_tables: &PgCatalogStaticTables) {
    let catalog_name = ctx.state().config().options().catalog.default_catalog.clone();
    for udf in [
        pg::create_current_database_udf(&catalog_name),
        pg::create_current_schema_udf(),
        pg::create_current_schemas_udf(),
        pg::create_pg_get_userbyid_udf(),
        has_privilege_udf::create_has_privilege_udf("has_table_privilege"),
        has_privilege_udf::create_has_privilege_udf("has_schema_privilege"),
        has_privilege_udf::create_has_privilege_udf("has_database_privilege"),
        has_privilege_udf::create_has_privilege_udf("has_any_column_privilege"),
        pg::create_pg_table_is_visible(),
        format_type::create_format_type_udf(),
        pg::create_session_user_udf(),
        pg_get_expr_udf::create_pg_get_expr_udf(),
        pg::create_pg_get_partkeydef_udf(),
        pg::create_pg_relation_is_publishable_udf(),
        pg::create_pg_get_statisticsobjdef_columns_udf(),
        pg::create_pg_encoding_to_char_udf(),
        pg::create_pg_backend_pid_udf(),
        pg::create_pg_relation_size_udf(),
        pg::create_pg_total_relation_size_udf(),
        pg::create_pg_stat_get_numscans(),
        pg::create_pg_get_constraintdef(),
        pg::create_pg_get_partition_ancestors_udf(),
        quote_ident_udf::create_quote_ident_udf(),
        quote_ident_udf::create_parse_ident_udf(),
        array_bounds_udf::create_array_upper_udf(),
        array_bounds_udf::create_array_lower_udf(),
    ] {
        ctx.register_udf(udf);
    }
    ctx.register_udtf("pg_get_keywords", static_tables.pg_get_keywords.clone());
}
