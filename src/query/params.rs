//! Parameters of the named queries. A `queries/*.sql` file declares each one in its
//! leading comment block, one line each:
//!
//! ```text
//! -- @param service text '' only this service (FQDN); '' for every service
//! -- @param around interval 2m how far around each episode snapshots are read
//! ```
//!
//! (name, type, default, what it does), and uses it in its SQL as `$service`. Types:
//! `text` (taken as given; a default is quoted, `''` for empty) and `interval` (a
//! duration such as `30s`, `2m`, `1h30m`, `1d`). [`SavedQuery::bind`] checks the
//! `--param NAME=VALUE`s given against the declarations and fills in defaults; the
//! values go to DataFusion as placeholder values, never into the SQL text.

use datafusion::arrow::datatypes::IntervalMonthDayNano;
use datafusion::common::{ParamValues, ScalarValue};

use super::QueryError;
use super::saved::SavedQuery;
use crate::config::parse_duration_s;

/// What a parameter's value is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamType {
    /// Any text, as given.
    Text,
    /// A duration (`30s`, `2m`, `1h30m`, `1d`), bound as an SQL interval.
    Interval,
}

/// A parameter a named query declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Param {
    pub name: &'static str,
    pub kind: ParamType,
    /// The value when none is given, as `--param` would give it.
    pub default: &'static str,
    /// What it does.
    pub about: &'static str,
}

/// A named query with a value for each of its parameters, ready to run.
#[derive(Debug, Clone)]
pub struct BoundQuery {
    pub query: SavedQuery,
    pub values: ParamValues,
}

impl ParamType {
    fn name(self) -> &'static str {
        match self {
            ParamType::Text => "text",
            ParamType::Interval => "interval",
        }
    }

    /// The SQL value of `text`, or what was expected instead.
    fn value(self, text: &str) -> Result<ScalarValue, &'static str> {
        match self {
            ParamType::Text => Ok(ScalarValue::Utf8(Some(text.to_owned()))),
            ParamType::Interval => {
                let seconds = parse_duration_s(text.trim())
                    .ok_or("an interval such as 30s, 2m, 1h30m or 1d")?;
                let nanos = i64::from(seconds) * 1_000_000_000;
                Ok(ScalarValue::IntervalMonthDayNano(Some(IntervalMonthDayNano::new(0, 0, nanos))))
            }
        }
    }
}

impl Param {
    /// `--param NAME=TYPE (default D)`, for `--list`.
    pub fn usage(&self) -> String {
        let default = match self.kind {
            ParamType::Text => format!("'{}'", self.default),
            ParamType::Interval => self.default.to_owned(),
        };
        format!("--param {}={} (default {default})", self.name, self.kind.name().to_uppercase())
    }
}

impl SavedQuery {
    /// The parameters declared in the query's header.
    pub fn params(&self) -> Result<Vec<Param>, QueryError> {
        let header = self.sql.lines().map_while(|line| line.trim().strip_prefix("--"));
        let declarations = header.filter_map(|line| line.trim().strip_prefix("@param "));
        let parsed = declarations.map(|line| {
            declaration(line).ok_or_else(|| QueryError::SavedHeader {
                name: self.name,
                line: format!("-- @param {line}"),
            })
        });
        parsed.collect()
    }

    /// The query with `given` (name, value) pairs for its parameters and the defaults
    /// for the others. An undeclared name, a name given twice or a value of the wrong
    /// type is an error that says what the query takes.
    pub fn bind(&self, given: &[(String, String)]) -> Result<BoundQuery, QueryError> {
        let params = self.params()?;
        for (index, (name, _)) in given.iter().enumerate() {
            if !params.iter().any(|param| param.name == name) {
                return Err(self.unknown_param(name, &params));
            }
            if given[..index].iter().any(|(earlier, _)| earlier == name) {
                return Err(QueryError::ParamTwice { name: name.clone() });
            }
        }
        let values = params.iter().map(|param| {
            let chosen = given.iter().find(|(name, _)| name == param.name);
            let text = chosen.map_or(param.default, |(_, value)| value.as_str());
            let value = param.kind.value(text).map_err(|expected| QueryError::BadParam {
                name: param.name,
                value: text.to_owned(),
                expected,
            })?;
            Ok((param.name.to_owned(), value))
        });
        let values = values.collect::<Result<Vec<_>, QueryError>>()?;
        Ok(BoundQuery { query: *self, values: ParamValues::from(values) })
    }

    fn unknown_param(&self, name: &str, params: &[Param]) -> QueryError {
        QueryError::UnknownParam {
            saved: self.name,
            name: name.to_owned(),
            known: params.iter().map(|param| param.name).collect(),
        }
    }
}

/// `NAME TYPE DEFAULT ABOUT…`; a text default is quoted (`''`, `'v1'`).
fn declaration(line: &'static str) -> Option<Param> {
    let (name, rest) = line.trim().split_once(' ')?;
    let (kind, rest) = rest.trim_start().split_once(' ')?;
    let kind = match kind {
        "text" => ParamType::Text,
        "interval" => ParamType::Interval,
        _ => return None,
    };
    let rest = rest.trim_start();
    let (default, about) = match kind {
        ParamType::Text => {
            let quoted = rest.strip_prefix('\'')?;
            let end = quoted.find('\'')?;
            (&quoted[..end], &quoted[end + 1..])
        }
        ParamType::Interval => rest.split_once(' ')?,
    };
    kind.value(default).ok()?;
    let valid_name = name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    valid_name.then_some(Param { name, kind, default, about: about.trim() })
}

/// Parses `NAME=VALUE` (`--param`): the name, then everything after the first `=`.
pub fn parse_assignment(text: &str) -> Result<(String, String), String> {
    let (name, value) =
        text.split_once('=').ok_or_else(|| format!("{text:?} is not NAME=VALUE"))?;
    Ok((name.trim().to_owned(), value.to_owned()))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::query::saved::SAVED_QUERIES;

    const EVIDENCE: SavedQuery = SavedQuery {
        name: "test",
        sql: "-- What it answers.\n\
              -- @param service text '' only this service; '' for all\n\
              -- @param around interval 2m how far around\n\
              SELECT $service, $around",
        rollup_sql: None,
    };

    #[test]
    fn declarations_are_read_from_the_header() {
        let params = EVIDENCE.params().unwrap();
        assert_eq!(
            params,
            [
                Param {
                    name: "service",
                    kind: ParamType::Text,
                    default: "",
                    about: "only this service; '' for all",
                },
                Param {
                    name: "around",
                    kind: ParamType::Interval,
                    default: "2m",
                    about: "how far around",
                },
            ]
        );
        assert_eq!(params[1].usage(), "--param around=INTERVAL (default 2m)");
        assert_eq!(params[0].usage(), "--param service=TEXT (default '')");
    }

    #[test]
    fn given_values_and_defaults_are_bound_with_their_types() {
        let given = [("around".to_owned(), "1h30m".to_owned())];
        let bound = EVIDENCE.bind(&given).unwrap();
        let ParamValues::Map(values) = bound.values else { panic!("named values") };
        assert_eq!(values["service"].value, ScalarValue::Utf8(Some(String::new())));
        let ninety_minutes = IntervalMonthDayNano::new(0, 0, 5_400_000_000_000);
        assert_eq!(values["around"].value, ScalarValue::IntervalMonthDayNano(Some(ninety_minutes)));
    }

    #[test]
    fn unknown_twice_given_and_mistyped_parameters_are_refused() {
        let unknown = EVIDENCE.bind(&[("servce".to_owned(), "x".to_owned())]).unwrap_err();
        assert_eq!(
            unknown.to_string(),
            "saved query test has no parameter \"servce\"; it takes: service, around"
        );
        assert_eq!(unknown.exit_code(), 2);
        let twice =
            [("service".to_owned(), "a".to_owned()), ("service".to_owned(), "b".to_owned())];
        assert!(matches!(EVIDENCE.bind(&twice), Err(QueryError::ParamTwice { .. })));
        let bad = EVIDENCE.bind(&[("around".to_owned(), "ten".to_owned())]).unwrap_err();
        assert_eq!(
            bad.to_string(),
            "--param around=\"ten\": expected an interval such as 30s, 2m, 1h30m or 1d"
        );
        assert_eq!(bad.exit_code(), 2);
        let none = SavedQuery { name: "plain", sql: "-- Nothing.\nSELECT 1", rollup_sql: None };
        let error = none.bind(&[("service".to_owned(), "x".to_owned())]).unwrap_err();
        assert!(error.to_string().ends_with("it takes none"), "{error}");
    }

    #[test]
    fn assignments_split_at_the_first_equals_sign() {
        assert_eq!(parse_assignment("service=a=b"), Ok(("service".to_owned(), "a=b".to_owned())));
        assert_eq!(parse_assignment("service="), Ok(("service".to_owned(), String::new())));
        assert!(parse_assignment("service").is_err());
    }

    /// The `$name`s an SQL text uses outside comments.
    fn placeholders(sql: &str) -> BTreeSet<String> {
        let code = sql.lines().map(|line| line.split("--").next().unwrap_or_default());
        let mut found = BTreeSet::new();
        for line in code {
            for (_, rest) in line.match_indices('$').map(|(at, _)| line.split_at(at + 1)) {
                let name: String =
                    rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
                found.insert(name);
            }
        }
        found
    }

    #[test]
    fn every_saved_query_declares_exactly_the_parameters_it_uses() {
        for query in SAVED_QUERIES {
            let declared: BTreeSet<String> =
                query.params().unwrap().iter().map(|param| param.name.to_owned()).collect();
            assert_eq!(declared, placeholders(query.sql), "{}", query.name);
            assert!(query.bind(&[]).is_ok(), "{}: a default does not bind", query.name);
        }
    }
}
