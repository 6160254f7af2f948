//! Splits an Envoy format string into literal text and command operators
//! (`%NAME%`, `%NAME(arg)%`, `%NAME(arg):N%`). A `%` that does not start an operator
//! is literal text, as is `%%`; a `%` followed by an operator name that never closes
//! is an error, because Envoy would refuse that config too.

use nom::bytes::complete::{tag, take_while1};
use nom::character::complete::digit1;
use nom::combinator::{map_res, opt};
use nom::sequence::preceded;
use nom::{IResult, Parser};

use super::FormatError;

/// One command operator as written in the format string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operator {
    /// Upper-case name: `REQ`, `START_TIME`, `DYNAMIC_METADATA`.
    pub name: String,
    /// The text between the parentheses, if any.
    pub arg: Option<String>,
    /// The `:N` length limit, if any.
    pub max_len: Option<usize>,
}

impl Operator {
    /// The operator as written, without the surrounding `%` and length limit:
    /// `REQ(X-B3-TRACEID)`. Used to name values that have no column.
    pub fn label(&self) -> String {
        match &self.arg {
            Some(arg) => format!("{}({arg})", self.name),
            None => self.name.clone(),
        }
    }
}

/// A piece of a format string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token {
    Literal(String),
    Operator(Operator),
}

/// Splits `format` into tokens; adjacent literal text is merged into one token.
pub fn tokenize(format: &str) -> Result<Vec<Token>, FormatError> {
    let mut tokens = Vec::new();
    let mut literal = String::new();
    let mut rest = format;
    while let Some(percent) = rest.find('%') {
        literal.push_str(&rest[..percent]);
        let at = &rest[percent..];
        let offset = format.len() - at.len();
        match operator(at) {
            Ok((after, op)) => {
                flush(&mut literal, &mut tokens);
                tokens.push(Token::Operator(op));
                rest = after;
            }
            Err(_) => rest = literal_percent(at, offset, &mut literal)?,
        }
    }
    literal.push_str(rest);
    flush(&mut literal, &mut tokens);
    Ok(tokens)
}

/// Handles a `%` that does not open a valid operator: `%%` and a lone `%` are text,
/// `%NAME` with no closing `%` is an error.
fn literal_percent<'s>(
    at: &'s str,
    offset: usize,
    literal: &mut String,
) -> Result<&'s str, FormatError> {
    if let Some(after) = at.strip_prefix("%%") {
        literal.push('%');
        return Ok(after);
    }
    let starts_name = at[1..].starts_with(|c: char| c.is_ascii_uppercase() || c == '_');
    if starts_name && operator_name(&at[1..]).is_ok() {
        return Err(FormatError::new(offset, "command operator is not closed with '%'"));
    }
    literal.push('%');
    Ok(&at[1..])
}

fn flush(literal: &mut String, tokens: &mut Vec<Token>) {
    if !literal.is_empty() {
        tokens.push(Token::Literal(std::mem::take(literal)));
    }
}

fn operator(input: &str) -> IResult<&str, Operator> {
    let (input, _) = tag("%")(input)?;
    let (input, name) = operator_name(input)?;
    let (input, arg) = opt(argument).parse(input)?;
    let (input, max_len) =
        opt(preceded(tag(":"), map_res(digit1, str::parse::<usize>))).parse(input)?;
    let (input, _) = tag("%")(input)?;
    let name = name.to_owned();
    Ok((input, Operator { name, arg: arg.map(str::to_owned), max_len }))
}

fn operator_name(input: &str) -> IResult<&str, &str> {
    take_while1(|c: char| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')(input)
}

/// `(arg)`: the argument ends at the first `)` that is followed by `%` or `:N%`, so
/// arguments may hold `%` (time formats) and `)` (CEL expressions).
fn argument(input: &str) -> IResult<&str, &str> {
    let (body, _) = tag("(")(input)?;
    let mut search = 0;
    while let Some(found) = body[search..].find(')') {
        let close = search + found;
        let after = &body[close + 1..];
        if after.starts_with('%') || closes_with_length(after) {
            return Ok((after, &body[..close]));
        }
        search = close + 1;
    }
    Err(nom::Err::Error(nom::error::Error::new(input, nom::error::ErrorKind::Char)))
}

fn closes_with_length(after: &str) -> bool {
    let Some(digits) = after.strip_prefix(':') else { return false };
    let len = digits.bytes().take_while(u8::is_ascii_digit).count();
    len > 0 && digits[len..].starts_with('%')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(name: &str, arg: Option<&str>, max_len: Option<usize>) -> Token {
        let arg = arg.map(str::to_owned);
        Token::Operator(Operator { name: name.to_owned(), arg, max_len })
    }

    fn lit(text: &str) -> Token {
        Token::Literal(text.to_owned())
    }

    #[test]
    fn splits_literals_and_operators() {
        let tokens = tokenize(r#"[%START_TIME%] "%REQ(:METHOD)%" %BYTES_SENT%"#).unwrap();
        assert_eq!(
            tokens,
            vec![
                lit("["),
                op("START_TIME", None, None),
                lit("] \""),
                op("REQ", Some(":METHOD"), None),
                lit("\" "),
                op("BYTES_SENT", None, None),
            ]
        );
    }

    #[test]
    fn reads_arguments_holding_percent_and_length_limits() {
        let tokens = tokenize("%START_TIME(%s.%3f)% %REQ(X-FOO):20%").unwrap();
        assert_eq!(
            tokens,
            vec![
                op("START_TIME", Some("%s.%3f"), None),
                lit(" "),
                op("REQ", Some("X-FOO"), Some(20)),
            ]
        );
    }

    #[test]
    fn argument_may_contain_parentheses() {
        let tokens = tokenize("%CEL(request.headers['x'].size())%").unwrap();
        assert_eq!(tokens, vec![op("CEL", Some("request.headers['x'].size()"), None)]);
    }

    #[test]
    fn stray_percent_is_literal() {
        let tokens = tokenize("100%% done 5% %DURATION%").unwrap();
        assert_eq!(tokens, vec![lit("100% done 5% "), op("DURATION", None, None)]);
    }

    #[test]
    fn unclosed_operator_is_an_error() {
        let error = tokenize("ok %DURATION and more").unwrap_err();
        assert_eq!(error.offset, 3);
    }
}
