//! The named queries of `queries/*.sql`, built into the binary so that
//! `meshlog query --saved NAME` works from any directory. Each file opens with `--`
//! comment lines saying what it answers and how to read the result; the first one is
//! the summary `meshlog query --list` prints, under it the parameters the file
//! declares (`-- @param`, see [`super::params`]).

use super::QueryError;

/// A built-in named query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SavedQuery {
    /// The name `--saved` takes (the file name without `.sql`).
    pub name: &'static str,
    /// The SQL, comments included.
    pub sql: &'static str,
    /// The same query over the rollups (`queries/rollup/NAME.sql`), giving the same
    /// rows, for when they count every request of a whole-minute window.
    pub rollup_sql: Option<&'static str>,
}

macro_rules! saved {
    ($($name:literal $(+ $rollup:ident)?),* $(,)?) => {
        &[$(SavedQuery {
            name: $name,
            sql: include_str!(concat!("../../queries/", $name, ".sql")),
            rollup_sql: saved!(@rollup $name $($rollup)?),
        }),*]
    };
    (@rollup $name:literal rollup) => {
        Some(include_str!(concat!("../../queries/rollup/", $name, ".sql")))
    };
    (@rollup $name:literal) => {
        None
    };
}

/// Every built-in query, in the order `--list` prints them; `+ rollup` marks those
/// with a variant over the rollups.
pub const SAVED_QUERIES: &[SavedQuery] = saved![
    "failovers",
    "endpoint_errors",
    "cross_cluster_share" + rollup,
    "locality_split" + rollup,
    "route_split",
    "response_flags" + rollup,
    "latency_by_locality",
    "endpoint_health",
    "failover_evidence",
];

impl SavedQuery {
    /// The query called `name`; the error lists the known names.
    pub fn find(name: &str) -> Result<SavedQuery, QueryError> {
        let found = SAVED_QUERIES.iter().find(|query| query.name == name);
        found.copied().ok_or_else(|| QueryError::UnknownSaved {
            name: name.to_owned(),
            known: SAVED_QUERIES.iter().map(|query| query.name).collect(),
        })
    }

    /// The text of the first `--` comment line: what the query answers.
    pub fn summary(&self) -> &'static str {
        let comments = self.sql.lines().map_while(|line| line.trim().strip_prefix("--"));
        comments.map(str::trim).find(|text| !text.is_empty()).unwrap_or_default()
    }
}

/// One line per query, its name then its summary, and under it one line per
/// parameter: how to give it, its default and what it does.
pub fn list() -> Result<String, QueryError> {
    let width = SAVED_QUERIES.iter().map(|query| query.name.len()).max().unwrap_or(0);
    let mut listed = String::new();
    for query in SAVED_QUERIES {
        listed.push_str(&format!("{:width$}  {}\n", query.name, query.summary()));
        for param in query.params()? {
            listed.push_str(&format!("{:width$}    {}  {}\n", "", param.usage(), param.about));
        }
    }
    Ok(listed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_query_starts_with_comment_lines() {
        for query in SAVED_QUERIES {
            assert!(query.sql.starts_with("-- "), "{} lacks a leading comment", query.name);
            assert!(!query.summary().is_empty(), "{} has no summary", query.name);
        }
    }

    #[test]
    fn a_rollup_variant_declares_the_parameters_of_its_query() {
        for query in SAVED_QUERIES {
            let Some(rollup_sql) = query.rollup_sql else { continue };
            let declared = |sql: &str| -> Vec<String> {
                sql.lines()
                    .filter(|line| line.starts_with("-- @param"))
                    .map(str::to_owned)
                    .collect()
            };
            assert_eq!(declared(rollup_sql), declared(query.sql), "{}", query.name);
        }
    }

    #[test]
    fn unknown_name_lists_the_known_ones() {
        let error = SavedQuery::find("nope").unwrap_err().to_string();
        assert!(error.contains("\"nope\""), "{error}");
        assert!(error.contains("failovers, endpoint_errors, cross_cluster_share"), "{error}");
    }

    #[test]
    fn list_prints_names_summaries_and_parameters() {
        let listed = list().unwrap();
        let names = listed.lines().filter(|line| !line.starts_with(' '));
        assert_eq!(names.count(), SAVED_QUERIES.len());
        assert!(listed.starts_with("failovers "), "{listed}");
        let evidence = listed.split("failover_evidence ").nth(1).unwrap_or_default();
        assert!(
            evidence.contains("\n                       --param around=INTERVAL (default 2m)  "),
            "{listed}"
        );
    }
}
