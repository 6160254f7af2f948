//! The run-time parameters of a PostgreSQL session (`SET`, `SHOW`,
//! `current_setting()`), kept in the connection's metadata. A closed list of
//! parameters a client may set (time zone, statement timeout, date style…); every
//! other `SET` is refused as PostgreSQL refuses an unknown parameter, and none
//! reaches DataFusion, whose settings (memory limit, spill directory) are the
//! server's. The time zone is remembered and reported, and timestamps still go out
//! as instants with their offset (`+00`), which every client reads correctly. A
//! statement timeout can only shorten the server's own.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use datafusion::arrow::array::{Array, ArrayRef, StringArray};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::cast::{as_boolean_array, as_string_array};
use datafusion::error::DataFusionError;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, TypeSignature,
    Volatility,
};
use datafusion::sql::sqlparser::ast::{Expr, Set, Value};
use datafusion_postgres::pgwire::api::ClientInfo;
use datafusion_postgres::pgwire::api::results::{Response, Tag};
use datafusion_postgres::pgwire::error::{ErrorInfo, PgWireError, PgWireResult};

/// The PostgreSQL version meshlog answers as: 16, whose catalog it mirrors.
pub const SERVER_VERSION: &str = "16.6";
const SERVER_VERSION_NUM: &str = "160006";

/// The metadata key of the session's statement timeout, in milliseconds.
const TIMEOUT_KEY: &str = "statement_timeout";

/// Parameters a client may `SET`, with the name PostgreSQL reports them by in a
/// `ParameterStatus` (when it does).
const SETTABLE: &[(&str, Option<&str>)] = &[
    ("timezone", Some("TimeZone")),
    ("statement_timeout", None),
    ("datestyle", Some("DateStyle")),
    ("intervalstyle", Some("IntervalStyle")),
    ("application_name", Some("application_name")),
    ("extra_float_digits", None),
    ("search_path", None),
    ("bytea_output", None),
    ("client_min_messages", None),
    ("client_encoding", Some("client_encoding")),
];

/// What a session's parameters read before it sets them.
fn defaults(server_timeout: Duration) -> BTreeMap<String, String> {
    let fixed = [
        ("server_version", SERVER_VERSION),
        ("server_version_num", SERVER_VERSION_NUM),
        ("server_encoding", "UTF8"),
        ("client_encoding", "UTF8"),
        ("timezone", "UTC"),
        ("datestyle", "ISO, YMD"),
        ("intervalstyle", "postgres"),
        ("search_path", "public"),
        ("standard_conforming_strings", "on"),
        ("integer_datetimes", "on"),
        ("transaction_read_only", "on"),
        ("default_transaction_read_only", "on"),
        ("transaction_isolation", "read committed"),
        ("default_transaction_isolation", "read committed"),
        ("is_superuser", "off"),
        ("application_name", ""),
        ("extra_float_digits", "1"),
        ("bytea_output", "hex"),
        ("client_min_messages", "notice"),
        ("max_identifier_length", "63"),
        ("lc_collate", "C"),
        ("lc_ctype", "C"),
    ];
    let mut values: BTreeMap<String, String> =
        fixed.iter().map(|(name, value)| ((*name).to_owned(), (*value).to_owned())).collect();
    values.insert(TIMEOUT_KEY.into(), format!("{}ms", server_timeout.as_millis()));
    values
}

/// A session's parameters at one moment: what `current_setting()` reads.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SessionSettings {
    values: Arc<BTreeMap<String, String>>,
}

impl SessionSettings {
    /// The parameters of `client`'s session (given at start-up or `SET`), over the
    /// defaults.
    pub fn of<C: ClientInfo + ?Sized>(client: &C, server_timeout: Duration) -> SessionSettings {
        let mut values = defaults(server_timeout);
        for (name, value) in client.metadata() {
            let name = name.to_ascii_lowercase();
            if SETTABLE.iter().any(|(settable, _)| *settable == name) {
                values.insert(name, value.clone());
            }
        }
        SessionSettings { values: Arc::new(values) }
    }

    /// A parameter's value, by its name in any case.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(&name.to_ascii_lowercase()).map(String::as_str)
    }

    /// The statement timeout: the session's, never longer than the server's.
    pub fn timeout(&self, server_timeout: Duration) -> Duration {
        let session = self.get(TIMEOUT_KEY).and_then(parse_timeout).filter(|t| !t.is_zero());
        session.map_or(server_timeout, |session| session.min(server_timeout))
    }
}

/// `current_setting(name [, missing_ok])` over `session`.
pub fn current_setting_udf(session: SessionSettings) -> ScalarUDF {
    let signature = Signature::one_of(
        vec![
            TypeSignature::Exact(vec![DataType::Utf8]),
            TypeSignature::Exact(vec![DataType::Utf8, DataType::Boolean]),
        ],
        Volatility::Stable,
    );
    ScalarUDF::new_from_impl(CurrentSetting { session, signature })
}

/// `current_setting`, in its one- and two-argument forms.
#[derive(Debug, PartialEq, Eq, Hash)]
struct CurrentSetting {
    session: SessionSettings,
    signature: Signature,
}

impl ScalarUDFImpl for CurrentSetting {
    fn name(&self) -> &str {
        "current_setting"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> Result<DataType, DataFusionError> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue, DataFusionError> {
        let args = ColumnarValue::values_to_arrays(&args.args)?;
        let names = as_string_array(&args[0])?;
        let missing_ok = args.get(1).map(|flags| as_boolean_array(flags)).transpose()?;
        let mut values = Vec::with_capacity(names.len());
        for row in 0..names.len() {
            let tolerant = missing_ok.is_some_and(|flags| flags.is_valid(row) && flags.value(row));
            values.push(setting_value(&self.session, names, row, tolerant)?);
        }
        Ok(ColumnarValue::Array(Arc::new(StringArray::from(values)) as ArrayRef))
    }
}

fn setting_value(
    session: &SessionSettings,
    names: &StringArray,
    row: usize,
    missing_ok: bool,
) -> Result<Option<String>, DataFusionError> {
    if names.is_null(row) {
        return Ok(None);
    }
    match session.get(names.value(row)) {
        Some(value) => Ok(Some(value.to_owned())),
        None if missing_ok => Ok(None),
        None => Err(DataFusionError::Plan(format!(
            "unrecognized configuration parameter \"{}\"",
            names.value(row)
        ))),
    }
}

/// What a `SET` does to the session: the parameters it changes, or why not.
pub fn apply_set<C: ClientInfo + ?Sized>(
    client: &mut C,
    set: &Set,
) -> PgWireResult<Vec<(String, String)>> {
    let (name, value) = match set {
        Set::SingleAssignment { variable, values, .. } => {
            (variable.to_string().to_ascii_lowercase(), setting_text(values))
        }
        Set::SetTimeZone { value, .. } => ("timezone".to_owned(), setting_text([value])),
        Set::SetNames { charset_name, .. } => {
            ("client_encoding".to_owned(), charset_name.value.clone())
        }
        // Transaction characteristics: every transaction here is read-only already.
        Set::SetTransaction { .. } => return Ok(Vec::new()),
        other => return Err(unsupported(&other.to_string())),
    };
    let value = checked_value(&name, value)?;
    let reported = SETTABLE.iter().find(|(settable, _)| *settable == name);
    let Some((key, status)) = reported else { return Err(unknown_parameter(&name)) };
    client.metadata_mut().insert((*key).to_owned(), value.clone());
    Ok(status.map(|status| (status.to_owned(), value)).into_iter().collect())
}

/// The text of a `SET`'s values (`'UTC'`, `5000`, `public, "$user"`, `DEFAULT`).
fn setting_text<'a>(values: impl IntoIterator<Item = &'a Expr>) -> String {
    let texts: Vec<String> = values
        .into_iter()
        .map(|value| match value {
            Expr::Value(value) => match &value.value {
                Value::SingleQuotedString(text) | Value::DoubleQuotedString(text) => text.clone(),
                other => other.to_string(),
            },
            Expr::Identifier(ident) => ident.value.clone(),
            other => other.to_string(),
        })
        .collect();
    texts.join(", ")
}

/// A value as the session keeps it, refused where meshlog cannot honour it.
fn checked_value(name: &str, value: String) -> PgWireResult<String> {
    match name {
        "statement_timeout" => parse_timeout(&value)
            .map(|timeout| format!("{}ms", timeout.as_millis()))
            .ok_or_else(|| invalid_value(name, &value)),
        "client_encoding"
            if !matches!(value.to_ascii_uppercase().as_str(), "UTF8" | "UTF-8" | "UNICODE") =>
        {
            Err(invalid_value(name, &value))
        }
        "client_encoding" => Ok("UTF8".to_owned()),
        _ => Ok(value),
    }
}

/// A duration as PostgreSQL writes `statement_timeout`: milliseconds, or with a
/// unit (`ms`, `s`, `min`, `h`).
fn parse_timeout(text: &str) -> Option<Duration> {
    let text = text.trim();
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    let number: u64 = text[..digits].parse().ok()?;
    let millis = match text[digits..].trim() {
        "" | "ms" => number,
        "s" => number.checked_mul(1_000)?,
        "min" => number.checked_mul(60_000)?,
        "h" => number.checked_mul(3_600_000)?,
        _ => return None,
    };
    Some(Duration::from_millis(millis))
}

/// `SHOW name`: the parameter's value, in a column named after it.
pub fn show_value(session: &SessionSettings, name: &str) -> PgWireResult<String> {
    let name = match name.to_ascii_lowercase().as_str() {
        "time zone" => "timezone".to_owned(),
        "transaction isolation level" => "transaction_isolation".to_owned(),
        other => other.to_owned(),
    };
    session.get(&name).map(str::to_owned).ok_or_else(|| unknown_parameter(&name))
}

/// The `SET` command tag.
pub fn set_done() -> Response {
    Response::Execution(Tag::new("SET"))
}

fn unknown_parameter(name: &str) -> PgWireError {
    user_error("42704", format!("unrecognized configuration parameter \"{name}\""))
}

fn invalid_value(name: &str, value: &str) -> PgWireError {
    user_error("22023", format!("invalid value for parameter \"{name}\": \"{value}\""))
}

fn unsupported(statement: &str) -> PgWireError {
    user_error("0A000", format!("meshlog does not support {statement}"))
}

/// An error the client caused, with its SQLSTATE.
pub fn user_error(code: &str, message: String) -> PgWireError {
    PgWireError::UserError(Box::new(ErrorInfo::new("ERROR".to_owned(), code.to_owned(), message)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_timeouts_as_postgresql_writes_them() {
        assert_eq!(parse_timeout("5000"), Some(Duration::from_millis(5000)));
        assert_eq!(parse_timeout("30s"), Some(Duration::from_secs(30)));
        assert_eq!(parse_timeout("2min"), Some(Duration::from_secs(120)));
        assert_eq!(parse_timeout("soon"), None);
    }

    #[test]
    fn a_session_timeout_only_shortens_the_servers() {
        let server = Duration::from_secs(120);
        let mut values = defaults(server);
        let session = |values: &BTreeMap<String, String>| SessionSettings {
            values: Arc::new(values.clone()),
        };
        assert_eq!(session(&values).timeout(server), server);
        values.insert(TIMEOUT_KEY.into(), "5000ms".into());
        assert_eq!(session(&values).timeout(server), Duration::from_secs(5));
        values.insert(TIMEOUT_KEY.into(), "86400000ms".into());
        assert_eq!(session(&values).timeout(server), server);
        values.insert(TIMEOUT_KEY.into(), "0ms".into());
        assert_eq!(session(&values).timeout(server), server);
    }
}
