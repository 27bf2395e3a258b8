//! What the pipeline holds at any moment: the entries it has claimed and
//! not yet written or released, and the bytes of their blobs. The claiming
//! stage waits here for room (a limit on both, so a backlog of large feeds
//! cannot take the memory); the writing stage frees room and counts what
//! became of the entries, which the claiming stage steers by.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use cybexp_lake::{EntryId, Outcome};

/// How much may be in flight at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlowLimits {
    /// Entries claimed and not yet written or released.
    pub max_entries: usize,
    /// Bytes of their blobs read so far (and the documents made from them).
    pub max_bytes: u64,
}

#[derive(Default)]
pub(super) struct InFlight {
    state: Mutex<State>,
    changed: Condvar,
    /// The queue length at or below which the claiming stage wants to hear
    /// that a worker took an entry. Waking it for every entry would cost a
    /// context switch each (measured: a few percent of the CPU on 2 cores).
    wake_at: AtomicUsize,
}

/// The counts, as one lock guards them.
#[derive(Default)]
pub(super) struct State {
    pub(super) held: HashSet<EntryId>,
    pub(super) bytes: u64,
    /// Entries finished (written or released) since the flow began.
    pub(super) finished: u64,
    /// Entries marked SUCCESS since the last [`InFlight::take_successes`].
    successes: u64,
    /// Entries marked (any outcome) since the flow began.
    pub(super) marked: u64,
    /// Entries released for a retry in a row, with none marked between:
    /// the archiver's own trouble, not the entries'.
    pub(super) retry_streak: u64,
}

impl InFlight {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The entries of a claim are now held.
    pub(super) fn claimed(&self, ids: impl IntoIterator<Item = EntryId>) {
        self.lock().held.extend(ids);
    }

    /// A worker read a blob of `bytes`.
    pub(super) fn add_bytes(&self, bytes: u64) {
        self.lock().bytes += bytes;
    }

    /// A worker took an entry off the queue, which now holds `queued`: the
    /// claimer hears of it when the queue is low enough to claim again.
    pub(super) fn taken(&self, queued: usize) {
        if queued <= self.wake_at.load(Ordering::Relaxed) {
            self.changed.notify_all();
        }
    }

    /// The claimer wants to hear of takes from `queued` entries down.
    pub(super) fn wake_at(&self, queued: usize) {
        self.wake_at.store(queued, Ordering::Relaxed);
    }

    /// The writer is done with these entries: marked with `outcomes` (one
    /// per marked entry), or released (`retried` of them for a retry).
    pub(super) fn finished(&self, ids: &[EntryId], bytes: u64, outcomes: &[Outcome], retried: u64) {
        let mut state = self.lock();
        for id in ids {
            state.held.remove(id);
        }
        state.bytes = state.bytes.saturating_sub(bytes);
        state.finished += ids.len() as u64;
        state.marked += outcomes.len() as u64;
        state.successes += outcomes.iter().filter(|o| matches!(o, Outcome::Success { .. })).count() as u64;
        if !outcomes.is_empty() {
            state.retry_streak = 0;
        }
        state.retry_streak += retried;
        drop(state);
        self.changed.notify_all();
    }

    /// Successes since the last call (the backoff resets on any).
    pub(super) fn take_successes(&self) -> u64 {
        std::mem::take(&mut self.lock().successes)
    }

    /// The entries held now (the lease keeper renews them).
    pub(super) fn held_ids(&self) -> Vec<EntryId> {
        self.lock().held.iter().cloned().collect()
    }

    /// Reads the counts.
    pub(super) fn read<T>(&self, f: impl FnOnce(&State) -> T) -> T {
        f(&self.lock())
    }

    /// Waits until `ready` holds, or `timeout` passes; `true` if it holds.
    /// `ready` is asked again whenever an entry is taken or finished.
    pub(super) fn wait_until(&self, timeout: Duration, mut ready: impl FnMut(&State) -> bool) -> bool {
        let state = self.lock();
        let (state, _) =
            self.changed.wait_timeout_while(state, timeout, |s| !ready(s)).unwrap_or_else(PoisonError::into_inner);
        ready(&state)
    }
}
