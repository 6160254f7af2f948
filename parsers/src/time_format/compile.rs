//! Compiling a time-format spec into [`Item`]s: literal text is gathered into
//! `Byte`/`Text` items, composite specifiers (`%T`, `%F`, `%c`, …) expand into their
//! parts, `%E…` and `%N…` specifiers take their digits, and a number right before
//! another number is fixed-width (`%Y%m`) or merged (`%s%3f`) so that it stays readable.
//! Errors are messages naming the first unknown or malformed specifier.

use super::item::{Item, NameStyle};

/// Items compiled so far, and literal text not yet turned into an item.
#[derive(Default)]
struct Compiler {
    items: Vec<Item>,
    literal: String,
}

impl Compiler {
    fn literal(&mut self, text: &str) {
        self.literal.push_str(text);
    }

    /// Turns pending literal text into an item.
    fn flush(&mut self) {
        let text = std::mem::take(&mut self.literal);
        match *text.as_bytes() {
            [] => {}
            [byte] => self.items.push(Item::Byte(byte)),
            _ => self.items.push(Item::Text(text.into_boxed_str())),
        }
    }

    /// Adds a specifier item, adjusting a number right before it so both stay readable.
    fn item(&mut self, item: Item) {
        self.flush();
        match (self.items.last_mut(), &item) {
            (Some(last @ Item::EpochSeconds), Item::Frac(digits)) => {
                *last = Item::EpochFrac(*digits);
                return;
            }
            (Some(Item::Year { fixed }), next) if next.starts_with_digit() => *fixed = true,
            _ => {}
        }
        self.items.push(item);
    }
}

/// The items of `spec`; the error is a message without the spec.
pub(super) fn items(spec: &str) -> Result<Vec<Item>, String> {
    let mut compiler = Compiler::default();
    compile_into(&mut compiler, spec)?;
    compiler.flush();
    Ok(compiler.items)
}

/// Compiles `spec` into `compiler`; the error is a message without the spec.
fn compile_into(compiler: &mut Compiler, spec: &str) -> Result<(), String> {
    let mut rest = spec;
    while let Some((literal, after)) = rest.split_once('%') {
        compiler.literal(literal);
        rest = directive(compiler, after)?;
    }
    compiler.literal(rest);
    Ok(())
}

fn unknown(name: &str) -> String {
    format!("unknown time specifier `{name}`")
}

/// Compiles the specifier at the start of `after` (the text after a `%`), returning
/// the text after it.
fn directive<'s>(compiler: &mut Compiler, after: &'s str) -> Result<&'s str, String> {
    let mut chars = after.chars();
    let Some(letter) = chars.next() else {
        return Err("a lone `%` ends the format (write `%%` for a percent sign)".to_owned());
    };
    let rest = chars.as_str();
    if let Some(expansion) = expansion(letter) {
        compile_into(compiler, expansion)?;
        return Ok(rest);
    }
    match letter {
        '%' => compiler.literal("%"),
        'n' => compiler.literal("\n"),
        't' => compiler.literal("\t"),
        'E' => return extended(compiler, rest),
        '0'..='9' => return with_digits(compiler, after, ""),
        _ => compiler.item(simple_item(letter).ok_or_else(|| unknown(&format!("%{letter}")))?),
    }
    Ok(rest)
}

/// The spec a composite specifier stands for.
fn expansion(letter: char) -> Option<&'static str> {
    match letter {
        'T' | 'X' => Some("%H:%M:%S"),
        'F' => Some("%Y-%m-%d"),
        'D' | 'x' => Some("%m/%d/%y"),
        'R' => Some("%H:%M"),
        'r' => Some("%I:%M:%S %p"),
        'c' => Some("%a %b %e %H:%M:%S %Y"),
        _ => None,
    }
}

/// The item of a one-letter specifier.
fn simple_item(letter: char) -> Option<Item> {
    let item = match letter {
        'Y' => Item::Year { fixed: false },
        'y' => Item::Year2,
        'm' => Item::Month,
        'd' => Item::Day,
        'e' => Item::DaySpace,
        'j' => Item::DayOfYear,
        'H' => Item::Hour,
        'I' => Item::Hour12,
        'M' => Item::Minute,
        'S' => Item::Second,
        's' => Item::EpochSeconds,
        'f' => Item::Frac(9),
        'b' | 'h' => Item::MonthName(NameStyle::Abbreviated),
        'B' => Item::MonthName(NameStyle::Full),
        'a' => Item::WeekdayName(NameStyle::Abbreviated),
        'A' => Item::WeekdayName(NameStyle::Full),
        'u' => Item::WeekdayNumber { monday_first: true },
        'w' => Item::WeekdayNumber { monday_first: false },
        'p' => Item::AmPm,
        'z' => Item::Offset { colon: false },
        'Z' => Item::Zone,
        _ => return None,
    };
    Some(item)
}

/// Compiles `%E` specifiers; `after` is the text after `%E`.
fn extended<'s>(compiler: &mut Compiler, after: &'s str) -> Result<&'s str, String> {
    if after.starts_with(|c: char| c.is_ascii_digit()) {
        return with_digits(compiler, after, "E");
    }
    let (item, rest) = match (after.get(..1), after.get(1..2)) {
        (Some("z"), _) => (Item::Offset { colon: true }, after.get(1..)),
        (Some("T"), _) => (Item::DateTimeSep, after.get(1..)),
        (Some("*"), Some("S")) => (Item::SecondFracAll, after.get(2..)),
        (Some("*"), Some("f")) => (Item::FracAll, after.get(2..)),
        _ => return Err(unknown(&format!("%E{}", first_chars(after, 2)))),
    };
    compiler.item(item);
    Ok(rest.unwrap_or_default())
}

/// Compiles `%N…` / `%EN…` (`%3f`, `%E3S`, `%E6f`, `%E4Y`); `after` starts with digits
/// and `prefix` is what came between `%` and them.
fn with_digits<'s>(
    compiler: &mut Compiler,
    after: &'s str,
    prefix: &str,
) -> Result<&'s str, String> {
    let digit_count = after.bytes().take_while(u8::is_ascii_digit).count();
    let (digits, rest) = after.split_at_checked(digit_count).unwrap_or((after, ""));
    let mut chars = rest.chars();
    let letter = chars.next();
    let name = format!("%{prefix}{digits}{}", letter.map(String::from).unwrap_or_default());
    let precision = digits.parse::<u8>().ok().filter(|n| *n <= 9);
    let item = match (prefix, letter, precision) {
        ("E", Some('Y'), Some(4)) => Item::Year { fixed: true },
        ("E", Some('S'), Some(n)) => Item::SecondFrac(n),
        (_, Some('f'), Some(n)) if n >= 1 => Item::Frac(n),
        ("E", Some('S' | 'f'), None) | ("", Some('f'), None) => {
            return Err(format!("`{name}` asks for more than 9 digits"));
        }
        _ => return Err(unknown(&name)),
    };
    compiler.item(item);
    Ok(chars.as_str())
}

/// Up to `count` chars from the start of `text`, for error messages.
fn first_chars(text: &str, count: usize) -> String {
    text.chars().take(count).collect()
}

#[cfg(test)]
mod tests {
    use crate::time_format::tests::{parse, render, ts};
    use crate::time_format::{TimeFormat, Timestamp};

    #[test]
    fn envoy_default_equals_compiled_default() {
        let compiled = TimeFormat::compile(TimeFormat::ENVOY_DEFAULT).expect("compiles");
        assert_eq!(compiled, TimeFormat::envoy_default());
    }

    #[test]
    fn adjacent_numbers_split_at_fixed_widths() {
        let ts = ts("2022-11-09T00:00:50Z");
        assert_eq!(render("%Y%m%d%H%M%S", ts), "20221109000050");
        assert_eq!(parse("%Y%m%d%H%M%S", "20221109000050"), Some(ts));
        assert_eq!(
            parse("%E4Y-%m-%d", "-001-03-01"),
            Some(Timestamp::from_civil(-1, 3, 1, 0, 0, 0, 0).expect("valid"))
        );
    }

    #[test]
    fn literals_and_percent() {
        let ts = ts("2022-11-09T00:00:50Z");
        assert_eq!(render("[%% %H:%M é]%n", ts), "[% 00:00 é]\n");
        assert_eq!(parse("[%% %H:%M é]%n", "[% 00:00 é]\n"), Some(Timestamp::EPOCH));
    }

    #[test]
    fn unknown_specifiers_are_named() {
        let error = TimeFormat::compile("%Y-%Q").expect_err("unknown");
        assert_eq!(error.to_string(), "unknown time specifier `%Q` in time format \"%Y-%Q\"");
        for (spec, name) in [
            ("%E*z", "%E*z"),
            ("%Eq", "%Eq"),
            ("%0f", "%0f"),
            ("%3x", "%3x"),
            ("%é", "%é"),
            ("%E", "%E"),
        ] {
            let message = TimeFormat::compile(spec).expect_err(spec).0;
            assert!(message.contains(&format!("`{name}`")), "{message}");
        }
        assert!(TimeFormat::compile("%E12S").expect_err("too long").0.contains("more than 9"));
        assert!(TimeFormat::compile("100%").expect_err("lone").0.contains("lone `%`"));
    }

    #[test]
    fn extended_specifiers() {
        let ts = ts("2022-11-09T00:00:50.25Z");
        assert_eq!(render("%Y-%m-%d%ET%H:%M:%E*S", ts), "2022-11-09T00:00:50.25");
        assert_eq!(parse("%Y-%m-%d%ET%H:%M:%E*S", "2022-11-09t00:00:50.25"), Some(ts));
        assert_eq!(parse("%T.%E*f", "00:00:50.25"), Some(Timestamp::from_micros(50_250_000)));
        let year_one_bc = Timestamp::from_civil(0, 6, 1, 0, 0, 0, 0).expect("valid");
        assert_eq!(render("%E4Y|%Y", year_one_bc), "0000|0000");
        let before = Timestamp::from_civil(-5, 6, 1, 0, 0, 0, 0).expect("valid");
        assert_eq!(render("%E4Y", before), "-005");
        assert_eq!(parse("%E4Y-%m", "-005-06"), Some(before));
    }
}
