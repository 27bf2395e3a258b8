//! The embedded store's writer on its own: `cargo bench -p cybexp-archive --bench writer`.
//!
//! How many entries a second one writer thread can finish (store each
//! document durably, then mark its entry) when the workers feed it faster
//! than it writes: the ceiling the whole pipeline meets on many cores. A
//! group in one transaction (the store's `GroupWriter`) beside the same
//! group as two writes (documents, then outcomes), for a few group sizes,
//! in alternating rounds.

use std::sync::Arc;
use std::time::Instant;

use cybexp_lake::{BatchQuery, CacheLake, EntryId, Finished, GroupWriter, LakeAdmin, RawDocument, SeparateStores};
use cybexp_store_sqlite::SqliteStore;

mod common;

/// A store with `n` claimed entries, and their finished work (a cowrie
/// document each), ready to write.
fn claimed(n: usize, dir: &std::path::Path, name: &str) -> (Arc<SqliteStore>, Vec<(EntryId, Finished)>) {
    let store = Arc::new(SqliteStore::open(dir.join(name)).unwrap());
    common::submit_all(&store, &vec![b"blob".to_vec(); n]);
    let entries = store.claim_batch("bench", &BatchQuery { limit: n, ..BatchQuery::default() }).unwrap();
    assert_eq!(entries.len(), n);
    let work = entries
        .into_iter()
        .enumerate()
        .map(|(i, entry)| {
            let doc = RawDocument {
                sub_type: "unr_honeypot".into(),
                data_json: common::cowrie_event(i),
                orgid: "org".into(),
                timezone: "UTC".into(),
                hash: format!("{i:064x}"),
            };
            (entry.id, Finished::Store(doc))
        })
        .collect();
    (store, work)
}

/// Entries a second, writing `work` in groups of `group`.
fn rate(writer: &dyn GroupWriter, work: &[(EntryId, Finished)], group: usize) -> f64 {
    let started = Instant::now();
    for chunk in work.chunks(group) {
        writer.write_group(chunk).unwrap();
    }
    work.len() as f64 / started.elapsed().as_secs_f64()
}

fn main() {
    let n: usize = std::env::var("BENCH_WRITER_ENTRIES").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000);
    let dir = tempfile::tempdir().unwrap();
    println!("embedded store, one writer thread, {n} cowrie documents per run (synchronous=FULL, WAL)");
    for group in [16, 64, 256, 1024] {
        let mut one = Vec::new();
        let mut two = Vec::new();
        for round in 0..3 {
            let (store, work) = claimed(n, dir.path(), &format!("one-{group}-{round}.db"));
            one.push(rate(&*store, &work, group));
            let (store, work) = claimed(n, dir.path(), &format!("two-{group}-{round}.db"));
            let separate = SeparateStores { lake: store.clone(), archive: store.clone(), groups_in_flight: 1 };
            two.push(rate(&separate, &work, group));
            assert_eq!(store.queue_depth().unwrap().waiting, 0);
        }
        let median = |v: &mut Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        let (one, two) = (median(&mut one), median(&mut two));
        println!(
            "groups of {group:>4}: one transaction {one:>8.0} entries/s, two writes {two:>8.0} entries/s ({:.2}x)",
            one / two
        );
    }
}
