//! Round trips, truncation, bit flips and header tampering for both
//! envelopes, on every compiled backend (same key material on each).

mod common;

use common::*;
use cybexp_keys::{Envelope, ErrorClass, Keyring, PrivateKey, legacy, v2};

const MSG: &[u8] = "{\"event\": \"cowrie.login\", \"π\": 3.14}".as_bytes();

#[test]
fn round_trips_at_2048() {
    for &b in backends() {
        let key = shared_key_in(b);
        for plain in [MSG, b"" as &[u8], &[b'x'; 100_000]] {
            let l = legacy::encrypt(key.public_key(), plain).unwrap();
            assert_eq!(l.len(), 256 + 32 + plain.len());
            assert_eq!(key.decrypt(&l).unwrap().as_bytes(), plain, "{b}");

            let v = v2::encrypt(key.public_key(), plain).unwrap();
            assert_eq!(v.len(), v2::HEADER_LEN + 256 + plain.len() + 16);
            assert_eq!(&v[..4], &v2::MAGIC);
            let ring = Keyring::from(vec![PrivateKey::from_pem_in(b, &read_vector("priv.pem")).unwrap()]);
            let opened = ring.open(&v).unwrap();
            assert_eq!(opened.plaintext.as_bytes(), plain, "{b}");
            assert_eq!(opened.envelope, Envelope::V2);
            assert_eq!(opened.key_id, key.key_id());
        }
    }
}

#[test]
fn legacy_split_follows_key_size() {
    for &b in backends() {
        // 2048-bit key: 256-byte wrapped key.
        let key = shared_key_in(b);
        let big = big_key_in(b);
        let blob = legacy::encrypt(key.public_key(), MSG).unwrap();
        assert_eq!(blob.len(), 256 + 32 + MSG.len());
        assert_eq!(key.decrypt(&blob).unwrap().as_bytes(), MSG);
        // Under the 3072-bit key's split this blob is too short...
        assert_eq!(err_class(big.decrypt(&blob)), ErrorClass::Format, "{b}");
        // ...and a longer one splits at 384 and does not unwrap.
        let long = legacy::encrypt(key.public_key(), &[b'a'; 200]).unwrap();
        assert_eq!(err_class(big.decrypt(&long)), ErrorClass::Key, "{b}");
        assert_eq!(key.decrypt(&long).unwrap(), "a".repeat(200));
    }
}

#[test]
fn legacy_and_v2_at_3072() {
    for &b in backends() {
        let key = big_key_in(b);
        assert_eq!(key.bits().unwrap(), 3072);
        let blob = legacy::encrypt(key.public_key(), MSG).unwrap();
        assert_eq!(blob.len(), 384 + 32 + MSG.len());
        assert_eq!(key.decrypt(&blob).unwrap().as_bytes(), MSG);
        let blob = v2::encrypt(key.public_key(), MSG).unwrap();
        assert_eq!(key.decrypt(&blob).unwrap().as_bytes(), MSG);
    }
}

#[test]
fn empty_blob_is_format() {
    for &b in backends() {
        assert_eq!(err_class(shared_key_in(b).decrypt(&[])), ErrorClass::Format);
        assert_eq!(err_class(big_key_in(b).decrypt(&[])), ErrorClass::Format);
    }
}

#[test]
fn every_legacy_truncation_fails() {
    for &b in backends() {
        let key = key_in(b, 0);
        let blob = legacy::encrypt(key.public_key(), MSG).unwrap();
        let min = key.size().unwrap() + 32;
        for len in 0..blob.len() {
            let want = if len < min { ErrorClass::Format } else { ErrorClass::Auth };
            assert_eq!(err_class(key.decrypt(&blob[..len])), want, "{b} len {len}");
        }
    }
}

#[test]
fn every_v2_truncation_fails() {
    for &b in backends() {
        let key = key_in(b, 0);
        let blob = v2::encrypt(key.public_key(), MSG).unwrap();
        let body_at = v2::HEADER_LEN + key.size().unwrap();
        for len in 0..blob.len() {
            let want = if len < body_at + 16 { ErrorClass::Format } else { ErrorClass::Auth };
            assert_eq!(err_class(key.decrypt(&blob[..len])), want, "{b} len {len}");
        }
    }
}

fn flip(blob: &[u8], byte: usize, bit: u8) -> Vec<u8> {
    let mut b = blob.to_vec();
    b[byte] ^= 1 << bit;
    b
}

#[test]
fn legacy_bit_flips_in_each_field() {
    for &b in backends() {
        let key = key_in(b, 0);
        let blob = legacy::encrypt(key.public_key(), MSG).unwrap();
        for byte in 0..blob.len() {
            let want = if byte < key.size().unwrap() {
                ErrorClass::Key // wrapped key
            } else {
                ErrorClass::Auth // nonce, tag, ciphertext
            };
            let bit = (byte % 8) as u8;
            assert_eq!(err_class(key.decrypt(&flip(&blob, byte, bit))), want, "{b} byte {byte}");
        }
    }
}

#[test]
fn v2_bit_flips_in_every_header_bit_and_each_field() {
    for &b in backends() {
        let key = key_in(b, 0);
        let blob = v2::encrypt(key.public_key(), MSG).unwrap();
        let w = key.size().unwrap();
        for byte in 0..blob.len() {
            let want = match byte {
                // No magic: read as legacy, whose OAEP unwrap fails.
                0..4 => ErrorClass::Key,
                4 => ErrorClass::Format,               // version
                5..37 => ErrorClass::Key,              // key id: no such key
                37..39 => ErrorClass::Format,          // wrapped-key length
                39..51 => ErrorClass::Auth,            // nonce
                _ if byte < 51 + w => ErrorClass::Key, // wrapped key
                _ => ErrorClass::Auth,                 // ciphertext, tag
            };
            let bits: &[u8] = if byte < v2::HEADER_LEN { &[0, 1, 2, 3, 4, 5, 6, 7] } else { &[3] };
            for &bit in bits {
                let got = err_class(key.decrypt(&flip(&blob, byte, bit)));
                assert_eq!(got, want, "{b} byte {byte} bit {bit}");
            }
        }
    }
}

#[test]
fn v2_bad_wrapped_key_lengths() {
    for &b in backends() {
        let key = key_in(b, 0);
        let blob = v2::encrypt(key.public_key(), MSG).unwrap();
        for w in [0u16, 1, 255, 257, 384, 0xffff] {
            let mut x = blob.clone();
            x[37..39].copy_from_slice(&w.to_be_bytes());
            assert_eq!(err_class(key.decrypt(&x)), ErrorClass::Format, "{b} w={w}");
        }
        // Header only, claiming a huge wrapped key.
        let mut x = blob[..v2::HEADER_LEN].to_vec();
        x[37..39].copy_from_slice(&0xffffu16.to_be_bytes());
        assert_eq!(err_class(key.decrypt(&x)), ErrorClass::Format);
    }
}

#[test]
fn v2_header_swaps_fail_closed() {
    for &be in backends() {
        let (a, b) = (key_in(be, 0), key_in(be, 1));
        let copy = |k: &PrivateKey| PrivateKey::from_pem_in(be, &k.to_pkcs8_pem().unwrap()).unwrap();
        let ring = Keyring::from_iter([copy(a), copy(b)]);
        let x = v2::encrypt(a.public_key(), b"first message, longer than a tag").unwrap();
        let y = v2::encrypt(a.public_key(), b"other message").unwrap();
        let h = v2::HEADER_LEN;
        let w = a.size().unwrap();

        // Header (incl. nonce) of x on y's wrapped key and body.
        let mut swapped = x[..h].to_vec();
        swapped.extend_from_slice(&y[h..]);
        assert_eq!(err_class(ring.decrypt(&swapped)), ErrorClass::Auth);

        // x's header and wrapped key on y's body.
        let mut swapped = x[..h + w].to_vec();
        swapped.extend_from_slice(&y[h + w..]);
        assert_eq!(err_class(ring.decrypt(&swapped)), ErrorClass::Auth);

        // Re-addressed to the other loaded key of the same size.
        let mut readdressed = x.clone();
        readdressed[5..37].copy_from_slice(&b.key_id().0);
        assert_eq!(err_class(ring.decrypt(&readdressed)), ErrorClass::Key);

        // Re-addressed to a loaded key of another size.
        let ring2 = Keyring::from_iter([copy(big_key_in(be)), copy(a)]);
        let mut resized = x.clone();
        resized[5..37].copy_from_slice(&big_key_in(be).key_id().0);
        assert_eq!(err_class(ring2.decrypt(&resized)), ErrorClass::Format);

        // Extra bytes appended, or the tag dropped.
        let mut longer = x.clone();
        longer.push(0);
        assert_eq!(err_class(ring.decrypt(&longer)), ErrorClass::Auth);
        assert_eq!(err_class(ring.decrypt(&x[..x.len() - 16])), ErrorClass::Auth);
        assert_eq!(ring.decrypt(&x).unwrap(), "first message, longer than a tag");
    }
}

#[test]
fn wrong_key_is_key() {
    for &b in backends() {
        let blob_l = legacy::encrypt(key_in(b, 0).public_key(), MSG).unwrap();
        let blob_v = v2::encrypt(key_in(b, 0).public_key(), MSG).unwrap();
        assert_eq!(err_class(key_in(b, 1).decrypt(&blob_l)), ErrorClass::Key);
        assert_eq!(err_class(key_in(b, 1).decrypt(&blob_v)), ErrorClass::Key);
    }
}

#[test]
fn non_utf8_plaintext_is_utf8() {
    for &b in backends() {
        let key = key_in(b, 0);
        for bad in [&b"\xff"[..], b"ok then \xc3\x28", b"\xed\xa0\x80"] {
            let l = legacy::encrypt(key.public_key(), bad).unwrap();
            let v = v2::encrypt(key.public_key(), bad).unwrap();
            assert_eq!(err_class(key.decrypt(&l)), ErrorClass::Utf8);
            assert_eq!(err_class(key.decrypt(&v)), ErrorClass::Utf8);
        }
    }
}

#[test]
fn blobs_are_randomised() {
    for &b in backends() {
        let key = key_in(b, 0);
        let x = v2::encrypt(key.public_key(), MSG).unwrap();
        let y = v2::encrypt(key.public_key(), MSG).unwrap();
        assert_ne!(x, y);
        assert_eq!(x[..37], y[..37]); // magic, version, key id
        let x = legacy::encrypt(key.public_key(), MSG).unwrap();
        let y = legacy::encrypt(key.public_key(), MSG).unwrap();
        assert_ne!(x[..key.size().unwrap()], y[..key.size().unwrap()]); // OAEP is randomised
    }
}
