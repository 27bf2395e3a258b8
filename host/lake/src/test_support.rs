//! Checks every [`CacheLake`] must pass, shared by the stores' tests
//! (feature `test-support`).

use std::collections::HashSet;
use std::sync::{Arc, Barrier};

use crate::{BatchQuery, CacheLake, EntryId};

/// Four threads, spread over `handles` (as separate processes would hold
/// them), claim `batch` entries at a time until nothing is left. Asserts
/// that no entry went to two of them and that together they claimed exactly
/// `all`; returns how many each claimed.
pub fn assert_claims_are_exclusive<L>(handles: &[L], batch: usize, all: &HashSet<EntryId>) -> Vec<usize>
where
    L: CacheLake + Clone + 'static,
{
    const THREADS: usize = 4;
    let barrier = Arc::new(Barrier::new(THREADS));
    let workers: Vec<_> = (0..THREADS)
        .map(|n| {
            let lake = handles[n % handles.len()].clone();
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                barrier.wait();
                let query = BatchQuery { limit: batch, ..BatchQuery::default() };
                let mut mine = Vec::new();
                loop {
                    let claimed = lake.claim_batch(&format!("w{n}"), &query).unwrap();
                    if claimed.is_empty() {
                        return mine;
                    }
                    mine.extend(claimed.into_iter().map(|e| e.id));
                }
            })
        })
        .collect();
    let mut seen = HashSet::new();
    let mut counts = Vec::new();
    for worker in workers {
        let mine = worker.join().unwrap();
        counts.push(mine.len());
        for id in mine {
            assert!(seen.insert(id.clone()), "{id} claimed twice");
        }
    }
    assert_eq!(&seen, all, "every entry claimed exactly once");
    counts
}
