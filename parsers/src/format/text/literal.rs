//! The literal text between operators: found in a line with a search fitted to its
//! length, and compared in place; and [`find_either`], the byte search the fast
//! path scans values with.

use memchr::memmem::Finder;

/// Literals up to this long are searched by their first byte (see `Literal::find`).
const SHORT_LITERAL_BYTES: usize = 4;

/// Literal text between operators, with a precompiled substring searcher.
#[derive(Debug, Clone)]
pub(crate) struct Literal {
    pub(crate) text: Box<str>,
    finder: Box<Finder<'static>>,
    /// A literal of at most four bytes as a little-endian word, for [`Self::is_at`].
    word: Option<u32>,
    /// Which bits of a four-byte window `word` covers.
    mask: u32,
}

impl Literal {
    pub(super) fn new(text: &str) -> Literal {
        let finder = Box::new(Finder::new(text.as_bytes()).into_owned());
        let mut window = [0; 4];
        let short = window.get_mut(..text.len()).map(|head| head.copy_from_slice(text.as_bytes()));
        let word = short.map(|()| u32::from_le_bytes(window));
        let mask = u32::MAX.checked_shr(32 - 8 * text.len().min(4) as u32).unwrap_or(0);
        Literal { text: text.into(), finder, word, mask }
    }

    pub(super) fn bytes(&self) -> &[u8] {
        self.text.as_bytes()
    }

    /// Whether the literal occurs in `line` at `at`: one word compare when four
    /// bytes of the line are left there and the literal fits in them.
    #[inline(always)]
    pub(super) fn is_at(&self, line: &[u8], at: usize) -> bool {
        let window = line.get(at..at.wrapping_add(4)).and_then(|window| window.try_into().ok());
        match (window, self.word) {
            (Some(window), Some(word)) => u32::from_le_bytes(window) & self.mask == word,
            _ => line.get(at..).is_some_and(|rest| starts_with(rest, self.bytes())),
        }
    }

    /// Where the literal first occurs in `haystack`.
    /// Short literals (`] "`, `" "`) are found by their first byte and compared:
    /// on the short values of a log line that beats a substring searcher's set-up.
    #[inline]
    pub(super) fn find(&self, haystack: &[u8]) -> Option<usize> {
        let literal = self.text.as_bytes();
        match literal {
            [byte] => memchr::memchr(*byte, haystack),
            [first, rest @ ..] if literal.len() <= SHORT_LITERAL_BYTES => {
                let mut from = 0;
                while let Some(found) = memchr::memchr(*first, &haystack[from..]) {
                    let at = from + found;
                    if starts_with(&haystack[at + 1..], rest) {
                        return Some(at);
                    }
                    from = at + 1;
                }
                None
            }
            _ => self.finder.find(haystack),
        }
    }
}

/// `haystack.starts_with(prefix)` without a `memcmp` call for short literals.
#[inline]
pub(super) fn starts_with(haystack: &[u8], prefix: &[u8]) -> bool {
    haystack.len() >= prefix.len() && haystack.iter().zip(prefix).all(|(a, b)| a == b)
}

/// Eight copies of a byte.
const fn splat(byte: u8) -> u64 {
    u64::from_le_bytes([byte; 8])
}

/// A word with the high bit set in (at least) the lowest zero byte of `word`, and
/// in no byte below it: exact for the first zero byte, which is all a search needs.
#[inline(always)]
fn zero_bytes(word: u64) -> u64 {
    word.wrapping_sub(splat(1)) & !word & splat(0x80)
}

/// Where `a` or `b` first occurs in `haystack`: eight bytes a step, in registers.
/// Log values are short, so this beats a vector search's set-up and call.
#[inline(always)]
pub(super) fn find_either(a: u8, b: u8, haystack: &[u8]) -> Option<usize> {
    // Bytes differing in at most one bit (` ` and `"`) are both one pattern once
    // that bit is set in the word and the pattern alike.
    let one_bit = (a ^ b) & (a ^ b).wrapping_sub(1) == 0;
    let mut chunks = haystack.chunks_exact(8);
    let mut offset = 0;
    for chunk in &mut chunks {
        let word = chunk.try_into().map_or(0, u64::from_le_bytes);
        let found = if one_bit {
            zero_bytes((word | splat(a ^ b)) ^ splat(a | b))
        } else {
            zero_bytes(word ^ splat(a)) | zero_bytes(word ^ splat(b))
        };
        if found != 0 {
            return Some(offset + (found.trailing_zeros() / 8) as usize);
        }
        offset += 8;
    }
    let tail = chunks.remainder().iter().position(|byte| *byte == a || *byte == b);
    tail.map(|index| offset + index)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_literal_is_at_a_place_with_or_without_four_bytes_left() {
        let literal = Literal::new("\" \"");
        assert!(literal.is_at(b"a\" \"b", 1));
        assert!(literal.is_at(b"a\" \"", 1));
        assert!(!literal.is_at(b"a\" x\"", 1));
        assert!(!literal.is_at(b"a\" ", 1));
        assert!(!literal.is_at(b"a", 5));
        assert!(Literal::new(" long literal").is_at(b"x long literal", 1));
        assert!(Literal::new("").is_at(b"x", 1));
    }

    #[test]
    fn either_byte_is_found_first_wherever_it_is() {
        let haystack = b"0123456789abcdef\"ghij klmn";
        for (a, b) in [(b' ', b'"'), (b'"', b'"'), (b']', b'"'), (b'k', b'j')] {
            for start in 0..haystack.len() {
                let rest = &haystack[start..];
                let wanted = rest.iter().position(|byte| *byte == a || *byte == b);
                assert_eq!(find_either(a, b, rest), wanted, "{a} {b} from {start}");
            }
        }
        assert_eq!(find_either(b' ', b'"', b"\x80\x01\xff\x21\x23 "), Some(5));
        assert_eq!(find_either(b' ', b'"', b"no separators here at all"), Some(2));
        assert_eq!(find_either(b'"', b'"', b"none"), None);
    }
}
