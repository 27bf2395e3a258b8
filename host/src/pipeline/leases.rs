//! The lease keeper: renews the claims of every entry the pipeline holds,
//! every heartbeat (a third of the lease), however long they take. Entries
//! finished, released or taken over meanwhile are left alone (the store
//! checks), and a renewal that fails leaves two more chances before a
//! lease runs out.

use crossbeam_channel::{Receiver, RecvTimeoutError};

use super::Pipeline;
use super::inflight::InFlight;
use super::stages::{Stage, StageClock};

/// Entries per renewal write (a bounded command on any store).
const RENEW_CHUNK: usize = 1000;

/// Renews until `stop` is dropped.
pub(super) fn run(pipeline: &Pipeline, inflight: &InFlight, stop: &Receiver<()>) {
    while let Err(RecvTimeoutError::Timeout) = stop.recv_timeout(pipeline.heartbeat) {
        let held = inflight.held_ids();
        for chunk in held.chunks(RENEW_CHUNK) {
            let renew = || pipeline.lake.renew(&pipeline.worker_id, chunk);
            if let Err(e) = StageClock::time(pipeline.stages.as_deref(), Stage::Renew, renew) {
                tracing::warn!(entries = chunk.len(), error = %e, "could not renew the leases of the entries in flight");
            }
        }
    }
}
