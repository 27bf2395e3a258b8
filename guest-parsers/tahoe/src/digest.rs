//! SHA-256 for `_hash`. Natively the sha2 crate, which uses the CPU's SHA
//! instructions. In the wasm32 parsers the host's `cybexp:parser/digest`
//! import: compiled to WebAssembly, sha2 was the largest single cost of a
//! sandboxed cowrie parse (a tenth of it), five times slower than natively.

/// The SHA-256 digest of `parts`, concatenated.
pub fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    imp::sha256(parts)
}

/// Lowercase hex of [`sha256`] of `parts`.
pub fn sha256_hex(parts: &[&[u8]]) -> String {
    hex(&sha256(parts))
}

/// A digest as lowercase hex.
pub fn hex(digest: &[u8; 32]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut hex = String::with_capacity(64);
    for byte in digest {
        hex.push(char::from(DIGITS[usize::from(byte >> 4)]));
        hex.push(char::from(DIGITS[usize::from(byte & 0xf)]));
    }
    hex
}

#[cfg(not(target_arch = "wasm32"))]
mod imp {
    use sha2::{Digest, Sha256};

    pub(super) fn sha256(parts: &[&[u8]]) -> [u8; 32] {
        let mut hasher = Sha256::new();
        for part in parts {
            hasher.update(part);
        }
        hasher.finalize().into()
    }
}

#[cfg(target_arch = "wasm32")]
mod imp {
    #[allow(clippy::all, unsafe_op_in_unsafe_fn)]
    mod bindings {
        wit_bindgen::generate!({ path: "../wit", world: "digest-user" });
    }

    pub(super) fn sha256(parts: &[&[u8]]) -> [u8; 32] {
        // One call, so one copy into a buffer: cheaper than a call per part.
        let digest = match parts {
            [only] => bindings::cybexp::parser::digest::sha256(only),
            _ => bindings::cybexp::parser::digest::sha256(&parts.concat()),
        };
        // The host returns exactly 32 bytes; anything else is a broken host.
        digest.try_into().unwrap_or_else(|d: Vec<u8>| panic!("host sha256 returned {} bytes", d.len()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_hash_as_their_concatenation() {
        // FIPS 180-2 test vector: SHA-256("abc").
        let abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        assert_eq!(sha256_hex(&[b"abc"]), abc);
        assert_eq!(sha256_hex(&[b"a", b"", b"bc"]), abc);
        assert_eq!(sha256_hex(&[]), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    }
}
