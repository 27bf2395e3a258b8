//! Replays the committed seeds and every saved crash (`regressions/TARGET/`)
//! through the fuzz targets' checks, on plain stable `cargo test` (no
//! cargo-fuzz, no instrumentation): a fixed crash stays fixed.

use std::path::{Path, PathBuf};

use cybexp_archive_fuzz::{envelope, envelope_v3, parsers, status, tahoe};

fn files(target: &str) -> Vec<PathBuf> {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut out = Vec::new();
    for dir in ["seeds", "regressions"] {
        if let Ok(entries) = std::fs::read_dir(here.join(dir).join(target)) {
            out.extend(entries.filter_map(Result::ok).map(|e| e.path()).filter(|p| p.is_file()));
        }
    }
    out.sort();
    out
}

fn replay(target: &str, check: impl Fn(&[u8])) {
    for path in files(target) {
        let data = std::fs::read(&path).unwrap();
        eprintln!("{}", path.display());
        check(&data);
    }
}

#[test]
fn tahoe_json() {
    replay("tahoe_json", tahoe::check);
    // Budgets on deep nesting, at and past the limit, with each selector kind.
    for selector in [0u8, 2, 3, 0x7e, 0xff] {
        for n in [1, 16, 127, 128, 129, 1000] {
            let mut data = vec![selector];
            data.extend("[".repeat(n).bytes().chain("]".repeat(n).bytes()));
            tahoe::check(&data);
            let mut data = vec![selector];
            data.extend("{\"a\":".repeat(n).bytes().chain("1".bytes()).chain("}".repeat(n).bytes()));
            tahoe::check(&data);
        }
    }
}

#[test]
fn parsers() {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    for (target, parser, samples) in [
        ("json", &parsers::JSON, "json"),
        ("cowrie", &parsers::COWRIE, "cowrie"),
        ("url_list", &parsers::URL_LIST, "url-list"),
        ("email", &parsers::EMAIL, "email"),
    ] {
        replay(target, |data| parsers::check(parser, data));
        // The crate's samples and its real published files.
        let dir = here.join("../guest-parsers").join(samples).join("tests/samples");
        for dir in [dir.clone(), dir.join("real")] {
            let entries = std::fs::read_dir(dir).into_iter().flatten().filter_map(Result::ok);
            for path in entries.map(|e| e.path()).filter(|p| p.is_file()) {
                let data = std::fs::read(&path).unwrap();
                for parser in [&parsers::JSON, &parsers::COWRIE, &parsers::URL_LIST, &parsers::EMAIL] {
                    parsers::check(parser, &data);
                }
            }
        }
    }
}

#[test]
fn envelope() {
    replay("envelope", envelope::check);
    // Every shared and v2 vector, raw, and every valid one unedited.
    for path in envelope::vector_files() {
        for (_, blob) in envelope::all_blobs(&path).into_iter().filter(|(_, b)| b.len() <= 64 << 10) {
            envelope::check(&[[0u8].as_slice(), &blob].concat());
        }
    }
    for base in 0..envelope::fixture().bases.len() {
        envelope::check(&[(base as u8) << 1 | 1]);
    }
}

#[test]
fn envelope_v3() {
    replay("envelope_v3", envelope_v3::check);
    // Every v3 vector raw and after a header of ours, every valid one
    // unedited, and short bodies after the header.
    for (_, blob) in envelope::all_blobs(&envelope_v3::vector_file()) {
        envelope_v3::check(&[[0u8].as_slice(), &blob].concat());
        envelope_v3::check(&[[2u8].as_slice(), &blob].concat());
    }
    for base in 0u8..5 {
        envelope_v3::check(&[base << 1 | 1]);
    }
    for len in [0usize, 1, 1119, 1120, 1135, 1136, 1137, 2000] {
        envelope_v3::check(&[vec![2u8], vec![0x5a; len]].concat());
    }
}

#[test]
fn status_protocol() {
    replay("status_protocol", status::check);
}

#[cfg(feature = "config")]
#[test]
fn config() {
    replay("config", cybexp_archive_fuzz::config::check);
    let toml = std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("../dist/archiver.toml")).unwrap();
    cybexp_archive_fuzz::config::check(&[[0u8].as_slice(), &toml].concat());
}

/// Writes the status_protocol seeds (`cargo test --test replay -- --ignored`).
#[test]
#[ignore]
fn write_status_seeds() {
    use cybexp_status::Snapshot;
    use cybexp_status::protocol::{Response, write_line};
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds/status_protocol");
    std::fs::create_dir_all(&dir).unwrap();
    let requests = b"{\"version\":1,\"request\":\"snapshot\"}\n{\"version\":1,\"request\":\"stop\"}\n{\"version\":2,\"request\":\"snapshot\"}\n";
    for (name, selector) in [("daemon-requests", 0u8), ("daemon-requests-small-bound", 0x42)] {
        std::fs::write(dir.join(name), [&[selector][..], requests].concat()).unwrap();
    }
    let mut server = vec![1u8];
    write_line(&mut server, &Response::hello("cybexp-archive 0.1.0")).unwrap();
    let mut snapshot = Snapshot { taken_at_ms: 1_764_000_000_000, retried: 2, ..Default::default() };
    snapshot.totals.success = 3;
    write_line(&mut server, &Response::snapshot(snapshot)).unwrap();
    write_line(&mut server, &Response::error("unsupported_request", "no")).unwrap();
    std::fs::write(dir.join("client-session"), &server).unwrap();
    server[0] = 0x83;
    std::fs::write(dir.join("client-session-small-bound"), &server).unwrap();
}
