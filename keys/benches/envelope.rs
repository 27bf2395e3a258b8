//! Throughput figures for the envelope primitives (not a test; prints tables).
//!
//! `cargo bench -p cybexp-keys` — about a minute: RSA-OAEP unwrap at 2048,
//! 3072 and 4096 bits on each compiled backend (the dev-dependency on this
//! crate compiles both), beside `openssl speed` for the same sizes as ratios;
//! AES-256-GCM of both backends and EAX on 64 KiB; whole v2 decrypts; the v3
//! unwrap (HPKE with X-Wing) beside RSA-2048 and RSA-3072, with its parts
//! (ML-KEM-768 decapsulation, X25519, the key schedule and GCM), the one-time
//! seed expansion, and the `hpke` crate's whole open, which re-expands the
//! seed on every call.
//!
//! "Unwrap" is `PrivateKey::decrypt` of a legacy blob with an 8-byte plaintext:
//! the OAEP-SHA1 private-key operation plus EAX over 8 bytes (under 1 µs), i.e.
//! what the archiver pays per blob. One thread, rates per CPU-second of that
//! thread, like `openssl speed` (see `rate`).

use std::hint::black_box;
use std::process::Command;
use std::time::{Duration, Instant};

use cybexp_keys::{Backend, PrivateKey, legacy, v2, v3};

const BUDGET: Duration = Duration::from_millis(1500);
const BUF: usize = 64 * 1024;
const SIZES: [usize; 3] = [2048, 3072, 4096];

/// CPU time of the calling thread.
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_THREAD_CPUTIME_ID is
    // supported on every Linux; the call writes only `ts`.
    #[allow(unsafe_code)]
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Run `f` for about `BUDGET` of this thread's CPU time; return calls per
/// CPU-second. `openssl speed` divides by user CPU time too (unless
/// `-elapsed`), so on a shared, loaded machine the two stay comparable where
/// wall-clock rates would not.
fn rate(mut f: impl FnMut()) -> f64 {
    f(); // warm up
    let (wall, cpu) = (Instant::now(), thread_cpu());
    let mut n = 0u64;
    while thread_cpu() - cpu < BUDGET && wall.elapsed() < 4 * BUDGET {
        f();
        n += 1;
    }
    n as f64 / (thread_cpu() - cpu).as_secs_f64()
}

fn mib_s(calls_per_s: f64, bytes: usize) -> f64 {
    calls_per_s * bytes as f64 / (1024.0 * 1024.0)
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument is not supported.
    println!("backends compiled: {:?} (active: {})", Backend::COMPILED, Backend::ACTIVE);
    if Backend::COMPILED.len() < 2 {
        println!("(for both backends side by side: cargo bench -p cybexp-keys --features rust-crypto)");
    }

    // Keys are generated here, on the active backend, then loaded on each one.
    let mut pems = Vec::new();
    for bits in SIZES {
        let t = Instant::now();
        let key = PrivateKey::generate(bits).expect("keygen");
        println!("keygen rsa{bits} on {}: {:.2} s", key.backend(), t.elapsed().as_secs_f64());
        pems.push(key.to_pkcs8_pem().unwrap());
    }

    println!("\n{:<52} {:>12}", "operation (one thread)", "rate");
    // ours[backend][size] = unwrap ops/s
    let mut ours: Vec<(Backend, Vec<f64>)> = Vec::new();
    for &b in Backend::COMPILED {
        let mut row = Vec::new();
        for (bits, pem) in SIZES.iter().zip(&pems) {
            let key = PrivateKey::from_pem_in(b, pem).unwrap();
            let blob = legacy::encrypt(key.public_key(), b"{\"a\":1}").unwrap();
            let ops = rate(|| {
                black_box(key.decrypt(black_box(&blob)).unwrap());
            });
            println!("{:<52} {:>10.0}/s", format!("unwrap rsa{bits}, {b}"), ops);
            row.push(ops);
        }
        ours.push((b, row));
    }

    let mut gcm_rates = Vec::new();
    for &b in Backend::COMPILED {
        let key = PrivateKey::from_pem_in(b, &pems[0]).unwrap();
        let small = v2::encrypt(key.public_key(), b"{\"a\":1}").unwrap();
        let ops = rate(|| {
            black_box(key.decrypt(black_box(&small)).unwrap());
        });
        println!("{:<52} {:>10.0}/s", format!("decrypt small v2 blob, rsa2048, {b}"), ops);
        let plain = "x".repeat(1 << 20);
        let big = v2::encrypt(key.public_key(), plain.as_bytes()).unwrap();
        let ops = rate(|| {
            black_box(key.decrypt(black_box(&big)).unwrap());
        });
        println!("{:<52} {:>8.0} MiB/s", format!("decrypt 1 MiB v2 blob, rsa2048, {b}"), mib_s(ops, 1 << 20));
        gcm_rates.push((b, gcm_decrypt_mib_s(b)));
    }
    eax_figures();
    for (b, r) in &gcm_rates {
        println!("{:<52} {:>8.0} MiB/s", format!("AES-256-GCM decrypt, 64 KiB, {b}"), r);
    }
    if let [(a, ra), (c, rc)] = gcm_rates[..] {
        let (fast, slow, ratio) = if ra >= rc { (a, c, ra / rc) } else { (c, a, rc / ra) };
        println!("GCM: {fast} is {ratio:.1}x {slow}; each backend's v2 uses its own GCM (keys/src/backend/mod.rs)");
    }

    openssl_comparison(&ours);
    v3_figures(&ours);
}

/// The v3 unwrap: `PrivateKey::decrypt` of a v3 blob with an 8-byte
/// plaintext (X-Wing decapsulation, the HPKE key schedule, GCM over 8
/// bytes), as the archiver pays it per blob; beside the RSA unwraps measured
/// above (AWS-LC), and its parts.
fn v3_figures(ours: &[(Backend, Vec<f64>)]) {
    if !cybexp_keys::XWING_SUPPORTED {
        println!("\nv3 (X-Wing): not in this build (it needs the aws-lc backend)");
        return;
    }
    let seed = [0x42u8; 32];
    let expand = rate(|| {
        black_box(PrivateKey::from_xwing_seed(black_box(&seed)).unwrap());
    });
    let key = PrivateKey::from_xwing_seed(&seed).unwrap();
    let blob = v3::encrypt(key.public_key(), b"{\"a\":1}").unwrap();
    let unwrap = rate(|| {
        black_box(key.decrypt(black_box(&blob)).unwrap());
    });
    let seal = rate(|| {
        black_box(v3::encrypt(key.public_key(), black_box(b"{\"a\":1}")).unwrap());
    });
    let big = v3::encrypt(key.public_key(), "x".repeat(1 << 20).as_bytes()).unwrap();
    let big_rate = rate(|| {
        black_box(key.decrypt(black_box(&big)).unwrap());
    });
    println!("\nv3: HPKE with X-Wing (ML-KEM-768 + X25519), HKDF-SHA256, AES-256-GCM; AWS-LC");
    println!("{:<52} {:>10.0}/s {:>8.1} µs", "v3 unwrap (whole decrypt, 8-byte plaintext)", unwrap, 1e6 / unwrap);
    parts();
    println!("{:<52} {:>10.0}/s {:>8.1} µs", "v3 seal (producer side)", seal, 1e6 / seal);
    println!("{:<52} {:>8.0} MiB/s", "decrypt 1 MiB v3 blob", mib_s(big_rate, 1 << 20));
    println!(
        "{:<52} {:>10.0}/s {:>8.1} µs",
        "seed expansion, once per key load (SHAKE256, ml-kem)",
        expand,
        1e6 / expand
    );
    hpke_crate_open(&seed, &blob);
    if let Some((_, row)) = ours.iter().find(|(b, _)| *b == Backend::ACTIVE) {
        let per = |ops: f64| 1e6 / ops;
        println!(
            "v3 unwrap {:.1} µs = {:.2} of the RSA-2048 unwrap ({:.1} µs; goal <= 0.20) and {:.2} of RSA-3072 ({:.1} µs), {}",
            per(unwrap),
            row[0] / unwrap,
            per(row[0]),
            row[1] / unwrap,
            per(row[1]),
            Backend::ACTIVE
        );
    }
}

/// The v3 unwrap's two asymmetric parts, on AWS-LC directly.
#[cfg(feature = "aws-lc")]
fn parts() {
    use aws_lc_rs::{agreement, kem};
    let dk = kem::DecapsulationKey::generate(&kem::ML_KEM_768).unwrap();
    let (ct, _) = dk.encapsulation_key().unwrap().encapsulate().unwrap();
    let ct = ct.as_ref().to_vec();
    let r = rate(|| {
        black_box(dk.decapsulate(kem::Ciphertext::from(black_box(&ct[..]))).unwrap());
    });
    println!("{:<52} {:>10.0}/s {:>8.1} µs", "  of which ML-KEM-768 decapsulation", r, 1e6 / r);
    let mine = agreement::PrivateKey::generate(&agreement::X25519).unwrap();
    let theirs = agreement::PrivateKey::generate(&agreement::X25519).unwrap().compute_public_key().unwrap();
    let theirs = theirs.as_ref().to_vec();
    let r = rate(|| {
        let peer = agreement::UnparsedPublicKey::new(&agreement::X25519, black_box(&theirs[..]));
        black_box(agreement::agree(&mine, peer, (), |s| Ok(s[0])).unwrap());
    });
    println!("{:<52} {:>10.0}/s {:>8.1} µs", "  of which X25519", r, 1e6 / r);
}

#[cfg(not(feature = "aws-lc"))]
fn parts() {}

/// The `hpke` crate (pure Rust; a dev-dependency) opening the same blob:
/// `x-wing` expands the seed on every decapsulation.
#[cfg(feature = "aws-lc")]
fn hpke_crate_open(seed: &[u8; 32], blob: &[u8]) {
    use hpke::{Deserializable, OpModeR};
    type Kem = hpke::kem::XWing;
    let sk = <Kem as hpke::Kem>::PrivateKey::from_bytes(seed).unwrap();
    let (info, rest) = blob.split_at(v3::HEADER_LEN);
    let (enc, sealed) = rest.split_at(v3::ENC_LEN);
    let enc = <Kem as hpke::Kem>::EncappedKey::from_bytes(enc).unwrap();
    let r = rate(|| {
        let open = hpke::single_shot_open::<hpke::aead::AesGcm256, hpke::kdf::HkdfSha256, Kem>;
        black_box(open(&OpModeR::Base, &sk, &enc, info, sealed, b"").unwrap());
    });
    println!("{:<52} {:>10.0}/s {:>8.1} µs", "`hpke` 0.15.1 open, same blob (re-expands the seed)", r, 1e6 / r);
}

#[cfg(not(feature = "aws-lc"))]
fn hpke_crate_open(_: &[u8; 32], _: &[u8]) {}

/// AES-256-GCM decrypt of 64 KiB with the backend's own AEAD, as `v2::open`
/// does it: copy the ciphertext into the output buffer, decrypt in place.
fn gcm_decrypt_mib_s(b: Backend) -> f64 {
    let key = [0x42u8; 32];
    let nonce = [1u8; 12];
    let mut buf = vec![0x5au8; BUF];
    match b {
        #[cfg(feature = "aws-lc")]
        Backend::AwsLc => {
            use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
            let k = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &key).unwrap());
            let n = || Nonce::assume_unique_for_key(nonce);
            let tag = k.seal_in_place_separate_tag(n(), Aad::empty(), &mut buf).unwrap();
            let ct = buf.clone();
            let r = rate(|| {
                buf.copy_from_slice(&ct);
                k.open_in_place_separate_tag(n(), Aad::empty(), tag.as_ref(), &mut buf).unwrap();
            });
            mib_s(r, BUF)
        }
        #[cfg(feature = "rust-crypto")]
        Backend::RustCrypto => {
            use aes_gcm::aead::{AeadInOut, KeyInit};
            let gcm = aes_gcm::Aes256Gcm::new_from_slice(&key).unwrap();
            let n = aes_gcm::Nonce::from(nonce);
            let tag = gcm.encrypt_inout_detached(&n, &[], buf.as_mut_slice().into()).unwrap();
            let ct = buf.clone();
            let r = rate(|| {
                buf.copy_from_slice(&ct);
                gcm.decrypt_inout_detached(&n, &[], buf.as_mut_slice().into(), &tag).unwrap();
            });
            mib_s(r, BUF)
        }
        other => unreachable!("backend {other} is not compiled"),
    }
}

/// EAX (RustCrypto on every backend: AWS-LC has none).
fn eax_figures() {
    use eax::aead::{AeadInOut, KeyInit, inout::InOutBuf};
    let eax = eax::Eax::<aes::Aes256>::new_from_slice(&[0x42u8; 32]).unwrap();
    let nonce = eax::Nonce::from([1u8; 16]);
    let mut buf = vec![0x5au8; BUF];
    let r = rate(|| {
        black_box(eax.encrypt_inout_detached(&nonce, &[], buf.as_mut_slice().into()).unwrap());
    });
    println!("{:<52} {:>8.0} MiB/s", "AES-256-EAX encrypt, 64 KiB (both backends)", mib_s(r, BUF));
    let ct = buf.clone();
    let tag = eax.encrypt_inout_detached(&nonce, &[], buf.as_mut_slice().into()).unwrap();
    let ct = std::mem::replace(&mut buf, ct);
    let r = rate(|| {
        let io = InOutBuf::new(&ct, &mut buf).unwrap();
        eax.decrypt_inout_detached(&nonce, &[], io, &tag).unwrap();
    });
    println!("{:<52} {:>8.0} MiB/s", "AES-256-EAX decrypt, 64 KiB (both backends)", mib_s(r, BUF));
}

/// Private-key ops/s per modulus size from `openssl speed`, beside ours.
fn openssl_comparison(ours: &[(Backend, Vec<f64>)]) {
    let args = ["speed", "-seconds", "3", "rsa2048", "rsa3072", "rsa4096"];
    let out = match Command::new("openssl").args(args).output() {
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
    let version = Command::new("openssl")
        .arg("version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
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
    println!("\n`openssl {}` ({version}; {what} = private-key ops/s) vs ours (unwrap ops/s):", args.join(" "));
    let mut head = format!("{:<8} {:>10}", "size", "openssl");
    for (b, _) in ours {
        head += &format!(" {:>12} {:>8}", b.as_str(), "ratio");
    }
    println!("{head}");
    for (i, bits) in SIZES.iter().enumerate() {
        let prefix = format!("rsa {bits} bits ");
        let theirs = out.lines().find(|l| l.starts_with(&prefix)).and_then(|l| {
            // The row has two leading words ("rsa", "N") and "bits" before the figures.
            let figs: Vec<&str> = l.split_whitespace().skip(3).collect();
            figs.get(col)?.parse::<f64>().ok()
        });
        let Some(t) = theirs else {
            println!("rsa{bits}: not in openssl output");
            continue;
        };
        let mut line = format!("{:<8} {:>8.0}/s", format!("rsa{bits}"), t);
        for (_, row) in ours {
            line += &format!(" {:>10.0}/s {:>7.2}x", row[i], row[i] / t);
        }
        println!("{line}");
    }
    println!("goal: aws-lc >= 0.9x openssl at rsa2048 and >= 2x at rsa3072");
}
