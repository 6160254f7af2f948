//! What one query may use: a time limit and a memory limit. The memory limit bounds
//! DataFusion's operators (sorts, joins, aggregations spill or fail through its
//! memory pool) and the result gathered to print, so a cross join of `requests` ends
//! in an error naming the limit instead of growing until the machine swaps.

use std::time::Duration;

/// The limits of one query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueryLimits {
    pub timeout: Duration,
    /// Bytes for the operators' working memory, and again for the result.
    pub memory_bytes: usize,
}

impl Default for QueryLimits {
    /// 2 minutes and 1 GiB: a named query over 10 M rows takes about a second and
    /// 100 MB.
    fn default() -> Self {
        QueryLimits { timeout: Duration::from_secs(120), memory_bytes: 1 << 30 }
    }
}

/// A size given on the command line (`--memory-limit 512MiB`).
pub fn parse_size_arg(text: &str) -> Result<usize, String> {
    parse_bytes(text)
        .ok_or_else(|| format!("{text:?} is not a size such as \"512MiB\" or \"2GiB\""))
}

/// Bytes in a size such as `512MiB`, `2GiB`, `1GB` or `1048576`.
pub fn parse_bytes(text: &str) -> Option<usize> {
    let text = text.trim();
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    let number: usize = text[..digits].parse().ok()?;
    let scale: usize = match text[digits..].trim() {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "KB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        _ => return None,
    };
    number.checked_mul(scale).filter(|bytes| *bytes > 0)
}

#[cfg(test)]
mod tests {
    use super::parse_bytes;

    #[test]
    fn sizes_read_with_binary_and_decimal_units() {
        assert_eq!(parse_bytes("512MiB"), Some(512 << 20));
        assert_eq!(parse_bytes("2GiB"), Some(2 << 30));
        assert_eq!(parse_bytes("1GB"), Some(1_000_000_000));
        assert_eq!(parse_bytes("4096"), Some(4096));
        assert_eq!(parse_bytes("0"), None);
        assert_eq!(parse_bytes("2 potatoes"), None);
    }
}
