//! Finding the next byte that needs attention in a string, eight bytes at a
//! time (SWAR: one `u64` holds eight bytes).
//!
//! JSON text is mostly long runs of plain characters between a few special
//! ones. Byte-by-byte loops with an early exit are not vectorised by the
//! compiler, and inside the WebAssembly sandbox every byte also pays fuel
//! metering, so these loops were the hottest code of a parse. Each mask
//! below is exact per byte: no carry or borrow crosses a byte boundary.

const ONES: u64 = 0x0101_0101_0101_0101;
const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// High bit set in each byte of `w` that is zero.
#[inline(always)]
fn zero(w: u64) -> u64 {
    !(((w & LOW7) + LOW7) | w | LOW7)
}

/// High bit set in each byte equal to `c`.
#[inline(always)]
pub(crate) fn equal(w: u64, c: u8) -> u64 {
    zero(w ^ (ONES * u64::from(c)))
}

/// High bit set in each byte below `n` (`n` ≤ 0x80).
#[inline(always)]
pub(crate) fn below(w: u64, n: u8) -> u64 {
    debug_assert!(n <= 0x80);
    !(((w & LOW7) + ONES * u64::from(0x80 - n)) | w) & HIGHS
}

/// High bit set in each byte at or above `n` (1 ≤ `n` ≤ 0x80).
#[inline(always)]
pub(crate) fn at_least(w: u64, n: u8) -> u64 {
    debug_assert!((1..=0x80).contains(&n));
    (((w & LOW7) + ONES * u64::from(0x80 - n)) | w) & HIGHS
}

/// The eight bytes at `at` as a little-endian word (so the lowest flagged
/// byte is the first one in the text).
#[inline(always)]
pub(crate) fn word(bytes: &[u8], at: usize) -> u64 {
    let mut chunk = [0u8; 8];
    chunk.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(chunk)
}

/// The index of the first byte at or after `from` for which `flag` sets the
/// high bit (word-wise) and `is` holds (for the tail), or `bytes.len()`.
/// `flag` and `is` must describe the same set of bytes.
#[inline(always)]
pub(crate) fn find(bytes: &[u8], from: usize, flag: impl Fn(u64) -> u64, is: impl Fn(u8) -> bool) -> usize {
    let mut i = from;
    while i + 8 <= bytes.len() {
        let hits = flag(word(bytes, i));
        if hits != 0 {
            return i + (hits.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while i < bytes.len() && !is(bytes[i]) {
        i += 1;
    }
    i
}

/// How many bytes of `bytes` `flag` marks (word-wise) / `is` holds for.
#[inline(always)]
pub(crate) fn count(bytes: &[u8], flag: impl Fn(u64) -> u64, is: impl Fn(u8) -> bool) -> usize {
    let mut n = 0;
    let mut i = 0;
    while i + 8 <= bytes.len() {
        n += flag(word(bytes, i)).count_ones() as usize;
        i += 8;
    }
    n + bytes[i..].iter().filter(|&&b| is(b)).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every mask agrees with its byte predicate for every byte value in
    /// every position, next to every other value (carries would show there).
    #[test]
    fn masks_are_exact_per_byte() {
        for b in 0..=255u8 {
            for neighbour in [0u8, 1, 0x1f, 0x20, 0x22, 0x5c, 0x7e, 0x7f, 0x80, 0xf3, 0xff] {
                for pos in 0..8 {
                    let mut bytes = [neighbour; 8];
                    bytes[pos] = b;
                    let w = u64::from_le_bytes(bytes);
                    let check = |mask: u64, is: &dyn Fn(u8) -> bool, what: &str| {
                        for (k, &byte) in bytes.iter().enumerate() {
                            let flagged = mask >> (8 * k + 7) & 1 == 1;
                            assert_eq!(flagged, is(byte), "{what}: byte {byte:#x} at {k} in {bytes:x?}");
                        }
                        assert_eq!(mask & !HIGHS, 0, "{what}: only high bits");
                    };
                    check(equal(w, b'"'), &|x| x == b'"', "equal");
                    check(equal(w, 0), &|x| x == 0, "equal 0");
                    check(equal(w, 0xf3), &|x| x == 0xf3, "equal f3");
                    for n in [1u8, 0x20, 0x7f, 0x80] {
                        check(below(w, n), &|x| x < n, "below");
                        check(at_least(w, n), &|x| x >= n, "at_least");
                    }
                }
            }
        }
    }

    #[test]
    fn find_and_count_agree_with_plain_loops() {
        let text: Vec<u8> =
            (0..300u32).map(|i| [b'a', b'"', b'z', 0x05, b'\\', 0xc3, 0xa9, b' '][(i * i % 97 % 8) as usize]).collect();
        let is = |b: u8| b == b'"' || b < 0x20;
        let flag = |w: u64| equal(w, b'"') | below(w, 0x20);
        for from in 0..text.len() {
            let expected = (from..text.len()).find(|&i| is(text[i])).unwrap_or(text.len());
            assert_eq!(find(&text, from, flag, is), expected, "from {from}");
        }
        for len in 0..40 {
            let part = &text[..len];
            assert_eq!(count(part, flag, is), part.iter().filter(|&&b| is(b)).count());
        }
    }
}
