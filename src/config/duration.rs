//! Durations in the config file and on the command line: a whole number followed by
//! `s`, `m`, `h` or `d` (`10s`, `1m`, `2h`, `7d`), or several of them (`1m30s`).

/// Seconds in a duration such as `10s`, `1m30s`, `2h` or `7d`; `None` when it is not one.
pub fn parse_duration_s(text: &str) -> Option<u32> {
    let mut total: u64 = 0;
    let mut rest = text.trim();
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let number: u64 = rest[..digits].parse().ok()?;
        let unit = rest[digits..].chars().next()?;
        let scale = match unit {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            _ => return None,
        };
        total = total.checked_add(number.checked_mul(scale)?)?;
        rest = &rest[digits + 1..];
    }
    u32::try_from(total).ok()
}

/// A positive duration given on the command line (`--timeout 90s`, `--duration 1h30m`).
pub fn parse_duration_arg(text: &str) -> Result<std::time::Duration, String> {
    parse_duration_s(text)
        .filter(|&seconds| seconds > 0)
        .map(|seconds| std::time::Duration::from_secs(seconds.into()))
        .ok_or_else(|| format!("{text:?} is not a duration such as \"90s\", \"10m\" or \"1h30m\""))
}

#[cfg(test)]
mod tests {
    use super::parse_duration_s;

    #[test]
    fn reads_units_and_sums() {
        assert_eq!(parse_duration_s("10s"), Some(10));
        assert_eq!(parse_duration_s("1m30s"), Some(90));
        assert_eq!(parse_duration_s("2h"), Some(7200));
        assert_eq!(parse_duration_s("1d12h"), Some(129_600));
    }

    #[test]
    fn rejects_what_is_not_a_duration() {
        for text in ["", "10", "s", "10x", "-5s", "1.5m"] {
            assert_eq!(parse_duration_s(text), None, "{text}");
        }
    }
}
