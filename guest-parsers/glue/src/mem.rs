//! `memcmp`/`bcmp` for the wasm32 guests, sixteen bytes at a time (wasm
//! SIMD) for long inputs, eight at a time otherwise.
//!
//! Without these the guests link compiler-builtins' byte-by-byte versions,
//! which made array de-duplication in the canonical form (sorting long
//! equality keys) the larger part of a sandboxed parse. Natively the C
//! library's vectorised ones are used, so the difference showed up as the
//! gap between the sandboxed and the native parse. Our strong definitions
//! replace compiler-builtins' weak ones at link time. The SIMD part halved
//! the guest's share of comparing in the 1 MiB JSON bench; it is tested
//! inside the sandbox (the hostile guest's `memcmp-selftest`), where it runs.

/// `memcmp`: the sign of the first differing byte pair (as unsigned bytes),
/// or 0 when the `n` bytes are equal.
///
/// # Safety
/// `a` and `b` must be valid for reads of `n` bytes.
pub unsafe fn compare(a: *const u8, b: *const u8, n: usize) -> i32 {
    // Below this a call to the SIMD function costs more than it saves.
    #[cfg(target_arch = "wasm32")]
    let mut i = if n >= 32 {
        // SAFETY: the caller vouches for n bytes.
        unsafe { simd::equal_blocks(a, b, n) }
    } else {
        0
    };
    #[cfg(not(target_arch = "wasm32"))]
    let mut i = 0;
    while i + 8 <= n {
        // SAFETY: i + 8 <= n, and the caller vouches for n bytes.
        let (x, y) = unsafe { (word(a, i), word(b, i)) };
        if x != y {
            // Little-endian words: the lowest differing bit is in the first
            // differing byte.
            let at = i + ((x ^ y).trailing_zeros() / 8) as usize;
            // SAFETY: at < i + 8 <= n.
            return unsafe { i32::from(*a.add(at)) - i32::from(*b.add(at)) };
        }
        i += 8;
    }
    while i < n {
        // SAFETY: i < n.
        let (x, y) = unsafe { (*a.add(i), *b.add(i)) };
        if x != y {
            return i32::from(x) - i32::from(y);
        }
        i += 1;
    }
    0
}

/// Eight bytes at `p + i` as a little-endian word.
///
/// # Safety
/// `p + i .. p + i + 8` must be valid for reads.
#[inline(always)]
unsafe fn word(p: *const u8, i: usize) -> u64 {
    // SAFETY: as documented; unaligned reads are fine.
    u64::from_le_bytes(unsafe { core::ptr::read_unaligned(p.add(i).cast::<[u8; 8]>()) })
}

#[cfg(target_arch = "wasm32")]
mod simd {
    use core::arch::wasm32::{v128, v128_any_true, v128_load, v128_or, v128_xor};

    /// The length of the longest run of whole equal 16-byte blocks at the
    /// start (a multiple of 16): the first difference, if any, is in the
    /// block that follows.
    ///
    /// # Safety
    /// `a` and `b` must be valid for reads of `n` bytes.
    #[target_feature(enable = "simd128")]
    pub(super) unsafe fn equal_blocks(a: *const u8, b: *const u8, n: usize) -> usize {
        // SAFETY (both closures): callers pass i + 16 <= n; wasm loads need
        // no alignment.
        let block =
            |i: usize| unsafe { v128_xor(v128_load(a.add(i).cast::<v128>()), v128_load(b.add(i).cast::<v128>())) };
        let mut i = 0;
        // Four blocks per step: one branch (and one fuel check) per 64 bytes.
        while i + 64 <= n {
            let diff = v128_or(v128_or(block(i), block(i + 16)), v128_or(block(i + 32), block(i + 48)));
            if v128_any_true(diff) {
                break;
            }
            i += 64;
        }
        while i + 16 <= n {
            if v128_any_true(block(i)) {
                break;
            }
            i += 16;
        }
        i
    }
}

#[cfg(target_arch = "wasm32")]
mod symbols {
    /// # Safety
    /// As C's `memcmp`.
    #[unsafe(no_mangle)]
    pub unsafe extern "C" fn memcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
        // SAFETY: the C contract is ours.
        unsafe { super::compare(a, b, n) }
    }

    /// # Safety
    /// As C's `bcmp` (zero when equal, non-zero otherwise).
    #[unsafe(no_mangle)]
    pub unsafe extern "C" fn bcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
        // SAFETY: the C contract is ours.
        unsafe { super::compare(a, b, n) }
    }
}

#[cfg(test)]
mod tests {
    use super::compare;

    fn sign(x: i32) -> i32 {
        x.signum()
    }

    /// `compare` over two slices of the same length.
    fn compare_slices(a: &[u8], b: &[u8]) -> i32 {
        assert_eq!(a.len(), b.len());
        // SAFETY: both slices are valid for reads of their (equal) length.
        unsafe { compare(a.as_ptr(), b.as_ptr(), a.len()) }
    }

    #[test]
    fn agrees_with_slice_ordering_at_every_length_and_position() {
        for n in 0..40usize {
            let a: Vec<u8> = (0..n).map(|i| (i * 37 % 251) as u8).collect();
            assert_eq!(compare_slices(&a, &a.clone()), 0);
            for at in 0..n {
                for delta in [1u8, 0x80, 0xff] {
                    let mut b = a.clone();
                    b[at] = b[at].wrapping_add(delta);
                    let ours = compare_slices(&a, &b);
                    assert_eq!(sign(ours), a.cmp(&b) as i32, "n={n} at={at} delta={delta}");
                    // Later differences must not matter.
                    if at + 1 < n {
                        let mut c = b.clone();
                        c[n - 1] = c[n - 1].wrapping_sub(0x40);
                        let ours = compare_slices(&a, &c);
                        assert_eq!(sign(ours), a.cmp(&c) as i32, "n={n} at={at}");
                    }
                }
            }
        }
    }

    #[test]
    fn unaligned_starts() {
        let base: Vec<u8> = (0..64u8).collect();
        let mut other = base.clone();
        other[41] = 0;
        for offset in 0..8 {
            let ours = compare_slices(&base[offset..], &other[offset..]);
            assert_eq!(sign(ours), base[offset..].cmp(&other[offset..]) as i32);
        }
    }
}
