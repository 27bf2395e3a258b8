//! Throughput figures for the envelope primitives (not a test; prints a table).
//!
//! `cargo bench -p cybexp-keys` — about 30 s: RSA-OAEP unwrap at 2048 and
//! 3072 bits, whole small-blob decrypts, EAX and GCM on 64 KiB buffers, and
//! `openssl speed rsa2048 rsa3072` for comparison when `openssl` is on PATH.

use std::hint::black_box;
use std::process::Command;
use std::time::{Duration, Instant};

use aes_gcm::Aes256Gcm;
use aes_gcm::aead::inout::InOutBuf;
use aes_gcm::aead::{AeadInOut, KeyInit};
use cybexp_keys::{PrivateKey, legacy, v2};
use rsa::pkcs8::DecodePrivateKey;
use sha1::Sha1;

const SHARED_PKCS8: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/vectors/envelope_rsa2048/priv_pkcs8.pem");
const BUDGET: Duration = Duration::from_millis(1500);
const BUF: usize = 64 * 1024;

/// Run `f` for about `BUDGET`; return calls per second.
fn rate(mut f: impl FnMut()) -> f64 {
    f(); // warm up
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < BUDGET {
        f();
        n += 1;
    }
    n as f64 / start.elapsed().as_secs_f64()
}

fn mib_s(calls_per_s: f64) -> f64 {
    calls_per_s * BUF as f64 / (1024.0 * 1024.0)
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument is not supported.
    let pem = std::fs::read_to_string(SHARED_PKCS8)
        .unwrap_or_else(|e| panic!("{SHARED_PKCS8}: {e} (shared/ must sit beside the repo)"));
    let t = Instant::now();
    let rsa3072 = rsa::PrivateKey::new(&mut getrandom::SysRng, 3072).expect("keygen");
    println!("keygen rsa3072: {:.2} s", t.elapsed().as_secs_f64());
    let rsa2048 = rsa::PrivateKey::from_pkcs8_pem(&pem).expect("shared key");

    println!("\n{:<44} {:>12}", "operation", "rate");
    let mut ours = Vec::new();
    for (bits, key) in [(2048, &rsa2048), (3072, &rsa3072)] {
        let wrapped = key.to_public_key().oaep_encrypt_with_rng::<Sha1, _>(&mut getrandom::SysRng, &[7u8; 32]).unwrap();
        let ops = rate(|| {
            let k = key.oaep_decrypt_with_rng::<Sha1, _>(&mut getrandom::SysRng, black_box(&wrapped)).unwrap();
            black_box(k);
        });
        println!("{:<44} {:>10.0}/s", format!("RSA-OAEP unwrap, rsa{bits} (blinded)"), ops);
        ours.push((bits, ops));
    }

    let key = PrivateKey::from_pem(&pem).unwrap();
    let blob_l = legacy::encrypt(key.public_key(), b"{\"a\": 1}").unwrap();
    let blob_v = v2::encrypt(key.public_key(), b"{\"a\": 1}").unwrap();
    for (name, blob) in [("legacy", &blob_l), ("v2", &blob_v)] {
        let ops = rate(|| {
            black_box(key.decrypt(black_box(blob)).unwrap());
        });
        println!("{:<44} {:>10.0}/s", format!("decrypt small {name} blob, rsa2048"), ops);
    }

    let session = [0x42u8; 32];
    let mut buf = vec![0x5au8; BUF];
    let eax = eax::Eax::<aes::Aes256>::new_from_slice(&session).unwrap();
    let nonce16 = eax::Nonce::from([1u8; 16]);
    let r = rate(|| {
        black_box(eax.encrypt_inout_detached(&nonce16, &[], buf.as_mut_slice().into()).unwrap());
    });
    println!("{:<44} {:>8.0} MiB/s", "AES-256-EAX encrypt, 64 KiB", mib_s(r));
    let ct = buf.clone();
    let tag = eax.encrypt_inout_detached(&nonce16, &[], buf.as_mut_slice().into()).unwrap();
    let ct = std::mem::replace(&mut buf, ct);
    let r = rate(|| {
        // Decrypt from `ct` into `buf`, leaving `ct` intact for the next round.
        let io = InOutBuf::new(&ct, &mut buf).unwrap();
        eax.decrypt_inout_detached(&nonce16, &[], io, &tag).unwrap();
    });
    println!("{:<44} {:>8.0} MiB/s", "AES-256-EAX decrypt, 64 KiB", mib_s(r));

    let gcm = Aes256Gcm::new_from_slice(&session).unwrap();
    let nonce12 = aes_gcm::Nonce::from([1u8; 12]);
    let r = rate(|| {
        black_box(gcm.encrypt_inout_detached(&nonce12, &[], buf.as_mut_slice().into()).unwrap());
    });
    println!("{:<44} {:>8.0} MiB/s", "AES-256-GCM encrypt, 64 KiB", mib_s(r));
    let ct = buf.clone();
    let tag = gcm.encrypt_inout_detached(&nonce12, &[], buf.as_mut_slice().into()).unwrap();
    let ct = std::mem::replace(&mut buf, ct);
    let r = rate(|| {
        let io = InOutBuf::new(&ct, &mut buf).unwrap();
        gcm.decrypt_inout_detached(&nonce12, &[], io, &tag).unwrap();
    });
    println!("{:<44} {:>8.0} MiB/s", "AES-256-GCM decrypt, 64 KiB", mib_s(r));

    openssl_comparison(&ours);
}

/// Private-key ops/s per modulus size from `openssl speed` (None if unavailable).
fn openssl_comparison(ours: &[(u32, f64)]) {
    let out = match Command::new("openssl").args(["speed", "-seconds", "2", "rsa2048", "rsa3072"]).output() {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).into_owned(),
        Ok(o) => {
            println!("\nopenssl speed failed ({}): skipping comparison", o.status);
            return;
        }
        Err(e) => {
            println!("\nopenssl not runnable ({e}): skipping comparison");
            return;
        }
    };
    // OpenSSL 3.0/3.1 print "sign verify sign/s verify/s"; 3.2+ add encrypt/decrypt
    // columns. Prefer "decr./s" (an RSA private decrypt), else "sign/s".
    let header: Vec<&str> =
        out.lines().find(|l| l.contains("sign/s")).map(|l| l.split_whitespace().collect()).unwrap_or_default();
    let col = header.iter().position(|h| *h == "decr./s").or_else(|| header.iter().position(|h| *h == "sign/s"));
    let Some(col) = col else {
        println!("\nopenssl speed output not understood: skipping comparison");
        return;
    };
    let what = header[col];
    println!("\nopenssl speed ({what} = private-key ops) vs ours (OAEP unwrap):");
    for (bits, our) in ours {
        let prefix = format!("rsa {bits} bits ");
        let theirs = out.lines().find(|l| l.starts_with(&prefix)).and_then(|l| {
            // The row has two leading words ("rsa", "N") and "bits" before the figures.
            let figs: Vec<&str> = l.split_whitespace().skip(3).collect();
            figs.get(col)?.parse::<f64>().ok()
        });
        match theirs {
            Some(t) => {
                println!("  rsa{bits}: openssl {t:>8.0}/s  ours {our:>8.0}/s  ratio ours/openssl {:.2}", our / t)
            }
            None => println!("  rsa{bits}: not in openssl output"),
        }
    }
}
