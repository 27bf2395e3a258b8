//! Round trips, truncation, bit flips and header tampering for both envelopes.

mod common;

use common::*;
use cybexp_keys::{Envelope, ErrorClass, Keyring, PrivateKey, legacy, v2};

const MSG: &[u8] = "{\"event\": \"cowrie.login\", \"π\": 3.14}".as_bytes();

#[test]
fn round_trips_at_2048() {
    let key = shared_key();
    for plain in [MSG, b"" as &[u8], &[b'x'; 100_000]] {
        let l = legacy::encrypt(key.public_key(), plain).unwrap();
        assert_eq!(l.len(), 256 + 32 + plain.len());
        assert_eq!(key.decrypt(&l).unwrap().as_bytes(), plain);

        let b = v2::encrypt(key.public_key(), plain).unwrap();
        assert_eq!(b.len(), v2::HEADER_LEN + 256 + plain.len() + 16);
        assert_eq!(&b[..4], &v2::MAGIC);
        let opened = Keyring::from(vec![PrivateKey::from_pem(&read_vector("priv.pem")).unwrap()]).open(&b).unwrap();
        assert_eq!(opened.plaintext.as_bytes(), plain);
        assert_eq!(opened.envelope, Envelope::V2);
        assert_eq!(opened.key_id, key.key_id());
    }
}

#[test]
fn legacy_split_follows_key_size() {
    // 1024-bit key: 128-byte wrapped key.
    let key = small_key(0);
    let blob = legacy::encrypt(key.public_key(), MSG).unwrap();
    assert_eq!(blob.len(), 128 + 32 + MSG.len());
    assert_eq!(key.decrypt(&blob).unwrap().as_bytes(), MSG);
    // Under the 2048-bit key's split this blob is too short...
    assert_eq!(err_class(shared_key().decrypt(&blob)), ErrorClass::Format);
    // ...and a longer one splits at 256 and does not unwrap.
    let long = legacy::encrypt(key.public_key(), &[b'a'; 200]).unwrap();
    assert_eq!(err_class(shared_key().decrypt(&long)), ErrorClass::Key);
    assert_eq!(key.decrypt(&long).unwrap(), "a".repeat(200));
}

#[test]
fn legacy_at_3072() {
    let key = PrivateKey::generate(3072).unwrap();
    assert_eq!(key.bits(), 3072);
    let blob = legacy::encrypt(key.public_key(), MSG).unwrap();
    assert_eq!(blob.len(), 384 + 32 + MSG.len());
    assert_eq!(key.decrypt(&blob).unwrap().as_bytes(), MSG);
    let blob = v2::encrypt(key.public_key(), MSG).unwrap();
    assert_eq!(key.decrypt(&blob).unwrap().as_bytes(), MSG);
}

#[test]
fn empty_blob_is_format() {
    assert_eq!(err_class(shared_key().decrypt(&[])), ErrorClass::Format);
    assert_eq!(err_class(small_key(0).decrypt(&[])), ErrorClass::Format);
}

#[test]
fn every_legacy_truncation_fails() {
    let key = small_key(0);
    let blob = legacy::encrypt(key.public_key(), MSG).unwrap();
    let min = 128 + 32;
    for len in 0..blob.len() {
        let want = if len < min { ErrorClass::Format } else { ErrorClass::Auth };
        assert_eq!(err_class(key.decrypt(&blob[..len])), want, "len {len}");
    }
}

#[test]
fn every_v2_truncation_fails() {
    let key = small_key(0);
    let blob = v2::encrypt(key.public_key(), MSG).unwrap();
    let body_at = v2::HEADER_LEN + 128;
    for len in 0..blob.len() {
        let want = if len < body_at + 16 { ErrorClass::Format } else { ErrorClass::Auth };
        assert_eq!(err_class(key.decrypt(&blob[..len])), want, "len {len}");
    }
}

fn flip(blob: &[u8], byte: usize, bit: u8) -> Vec<u8> {
    let mut b = blob.to_vec();
    b[byte] ^= 1 << bit;
    b
}

#[test]
fn legacy_bit_flips_in_each_field() {
    let key = small_key(0);
    let blob = legacy::encrypt(key.public_key(), MSG).unwrap();
    for byte in 0..blob.len() {
        let want = if byte < 128 {
            ErrorClass::Key // wrapped key
        } else {
            ErrorClass::Auth // nonce, tag, ciphertext
        };
        let bit = (byte % 8) as u8;
        assert_eq!(err_class(key.decrypt(&flip(&blob, byte, bit))), want, "byte {byte}");
    }
}

#[test]
fn v2_bit_flips_in_every_header_bit_and_each_field() {
    let key = small_key(0);
    let blob = v2::encrypt(key.public_key(), MSG).unwrap();
    let w = 128;
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
            assert_eq!(got, want, "byte {byte} bit {bit}");
        }
    }
}

#[test]
fn v2_bad_wrapped_key_lengths() {
    let key = small_key(0);
    let blob = v2::encrypt(key.public_key(), MSG).unwrap();
    for w in [0u16, 1, 127, 129, 256, 0xffff] {
        let mut b = blob.clone();
        b[37..39].copy_from_slice(&w.to_be_bytes());
        assert_eq!(err_class(key.decrypt(&b)), ErrorClass::Format, "w={w}");
    }
    // Header only, claiming a huge wrapped key.
    let mut b = blob[..v2::HEADER_LEN].to_vec();
    b[37..39].copy_from_slice(&0xffffu16.to_be_bytes());
    assert_eq!(err_class(key.decrypt(&b)), ErrorClass::Format);
}

#[test]
fn v2_header_swaps_fail_closed() {
    let (a, b) = (small_key(0), small_key(1));
    let ring = Keyring::from_iter([
        PrivateKey::from_pem(&a.to_pkcs8_pem().unwrap()).unwrap(),
        PrivateKey::from_pem(&b.to_pkcs8_pem().unwrap()).unwrap(),
    ]);
    let x = v2::encrypt(a.public_key(), b"first message, longer than a tag").unwrap();
    let y = v2::encrypt(a.public_key(), b"other message").unwrap();
    let h = v2::HEADER_LEN;

    // Header (incl. nonce) of x on y's wrapped key and body.
    let mut swapped = x[..h].to_vec();
    swapped.extend_from_slice(&y[h..]);
    assert_eq!(err_class(ring.decrypt(&swapped)), ErrorClass::Auth);

    // x's header and wrapped key on y's body.
    let mut swapped = x[..h + 128].to_vec();
    swapped.extend_from_slice(&y[h + 128..]);
    assert_eq!(err_class(ring.decrypt(&swapped)), ErrorClass::Auth);

    // Re-addressed to the other loaded key of the same size.
    let mut readdressed = x.clone();
    readdressed[5..37].copy_from_slice(&b.key_id().0);
    assert_eq!(err_class(ring.decrypt(&readdressed)), ErrorClass::Key);

    // Re-addressed to a loaded key of another size.
    let ring2 = Keyring::from_iter([
        PrivateKey::from_pem(&read_vector("priv.pem")).unwrap(),
        PrivateKey::from_pem(&a.to_pkcs8_pem().unwrap()).unwrap(),
    ]);
    let mut resized = x.clone();
    resized[5..37].copy_from_slice(&shared_key().key_id().0);
    assert_eq!(err_class(ring2.decrypt(&resized)), ErrorClass::Format);

    // Extra bytes appended, or the tag dropped.
    let mut longer = x.clone();
    longer.push(0);
    assert_eq!(err_class(ring.decrypt(&longer)), ErrorClass::Auth);
    assert_eq!(err_class(ring.decrypt(&x[..x.len() - 16])), ErrorClass::Auth);
    assert_eq!(ring.decrypt(&x).unwrap(), "first message, longer than a tag");
}

#[test]
fn wrong_key_is_key() {
    let blob_l = legacy::encrypt(small_key(0).public_key(), MSG).unwrap();
    let blob_v = v2::encrypt(small_key(0).public_key(), MSG).unwrap();
    assert_eq!(err_class(small_key(1).decrypt(&blob_l)), ErrorClass::Key);
    assert_eq!(err_class(small_key(1).decrypt(&blob_v)), ErrorClass::Key);
}

#[test]
fn non_utf8_plaintext_is_utf8() {
    let key = small_key(0);
    for bad in [&b"\xff"[..], b"ok then \xc3\x28", b"\xed\xa0\x80"] {
        let l = legacy::encrypt(key.public_key(), bad).unwrap();
        let v = v2::encrypt(key.public_key(), bad).unwrap();
        assert_eq!(err_class(key.decrypt(&l)), ErrorClass::Utf8);
        assert_eq!(err_class(key.decrypt(&v)), ErrorClass::Utf8);
    }
}

#[test]
fn blobs_are_randomised() {
    let key = small_key(0);
    let a = v2::encrypt(key.public_key(), MSG).unwrap();
    let b = v2::encrypt(key.public_key(), MSG).unwrap();
    assert_ne!(a, b);
    assert_eq!(a[..37], b[..37]); // magic, version, key id
}
