//! Grafana's query builder lists tables and columns with a subquery that splits
//! `current_setting('search_path')` into schemas (`generate_series` over array
//! bounds, `s[i]`, `"$user"`). DataFusion cannot plan it, and the compatibility
//! parser replaces it by `''`, so the builder would list nothing. A session's
//! search path here is always `public`, so [`answer_search_path`] puts that in the
//! subquery's place, before the parser sees the text. Tokens are compared, not
//! text, so Grafana's indentation does not matter.

use std::borrow::Cow;
use std::sync::LazyLock;

use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer};

/// The subquery as Grafana writes it (`postgresMetaQuery.ts`).
const GRAFANA_SEARCH_PATH: &str = r#"SELECT
    CASE WHEN trim(s[i]) = '"$user"' THEN user ELSE trim(s[i]) END
  FROM
    generate_series(
      array_lower(string_to_array(current_setting('search_path'),','),1),
      array_upper(string_to_array(current_setting('search_path'),','),1)
    ) as i,
    string_to_array(current_setting('search_path'),',') s"#;

/// The schemas on every session's search path.
const SEARCH_PATH: &str = "'public'";

static PATTERN: LazyLock<Vec<Token>> =
    LazyLock::new(|| significant(tokens(GRAFANA_SEARCH_PATH).unwrap_or_default()));

/// `sql` with Grafana's search-path subquery answered; unchanged when it has none
/// (or does not tokenize: the parser then says why).
pub fn answer_search_path(sql: &str) -> Cow<'_, str> {
    if !sql.contains("current_setting('search_path')") || PATTERN.is_empty() {
        return Cow::Borrowed(sql);
    }
    let Some(all) = tokens(sql) else { return Cow::Borrowed(sql) };
    let positions: Vec<usize> = (0..all.len()).filter(|&at| is_significant(&all[at])).collect();
    let mut out = String::with_capacity(sql.len());
    let (mut next, mut copied_to) = (0, 0);
    while next + PATTERN.len() <= positions.len() {
        let window = &positions[next..next + PATTERN.len()];
        if window.iter().zip(PATTERN.iter()).all(|(&at, token)| same(&all[at], token)) {
            all[copied_to..window[0]].iter().for_each(|token| out.push_str(&token.to_string()));
            out.push_str(SEARCH_PATH);
            copied_to = window[PATTERN.len() - 1] + 1;
            next += PATTERN.len();
        } else {
            next += 1;
        }
    }
    if copied_to == 0 {
        return Cow::Borrowed(sql);
    }
    all[copied_to..].iter().for_each(|token| out.push_str(&token.to_string()));
    Cow::Owned(out)
}

fn tokens(sql: &str) -> Option<Vec<Token>> {
    Tokenizer::new(&PostgreSqlDialect {}, sql).tokenize().ok()
}

fn significant(tokens: Vec<Token>) -> Vec<Token> {
    tokens.into_iter().filter(is_significant).collect()
}

/// Equal tokens, words unquoted in any case.
fn same(given: &Token, expected: &Token) -> bool {
    match (given, expected) {
        (Token::Word(given), Token::Word(expected)) if given.quote_style.is_none() => {
            expected.quote_style.is_none() && given.value.eq_ignore_ascii_case(&expected.value)
        }
        _ => given == expected,
    }
}

fn is_significant(token: &Token) -> bool {
    !matches!(token, Token::Whitespace(_))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_grafanas_subquery_however_it_is_indented() {
        let sql = format!(
            "select quote_ident(table_name) as \"table\" from information_schema.tables \
             where table_type = 'BASE TABLE' and quote_ident(table_schema) IN ({})",
            GRAFANA_SEARCH_PATH
                .split_whitespace()
                .collect::<Vec<_>>()
                .join("\n ")
                .replace("FROM", "from")
        );
        let answered = answer_search_path(&sql);
        assert!(answered.ends_with("IN ('public')"), "{answered}");
        assert!(answered.starts_with("select quote_ident(table_name) as \"table\""));
    }

    #[test]
    fn leaves_other_queries_alone() {
        let sql = "SELECT current_setting('search_path')";
        assert!(matches!(answer_search_path(sql), Cow::Borrowed(_)));
    }
}
