//! Where an event's time goes, stage by stage: wall time and the thread's
//! own CPU time, summed over every event. Opt-in (the pipeline bench turns
//! it on): a disabled clock costs one branch per stage.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use nix::time::{ClockId, clock_gettime};

/// The stages of one event, in the order they happen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// Claiming entries (the claiming stage, per claim).
    Claim,
    /// Reading the blob (worker).
    BlobRead,
    /// RSA unwrap and AES (worker).
    Decrypt,
    /// The sandboxed parse, instance creation included (worker).
    Parse,
    /// Writing a group: its documents, then its outcomes (writer, per group).
    Write,
    /// Telemetry hooks (both).
    Telemetry,
    /// Renewing the batch's leases (heartbeat thread).
    Renew,
}

impl Stage {
    pub const ALL: [Stage; 7] =
        [Stage::Claim, Stage::BlobRead, Stage::Decrypt, Stage::Parse, Stage::Write, Stage::Telemetry, Stage::Renew];

    pub fn name(self) -> &'static str {
        match self {
            Stage::Claim => "claim",
            Stage::BlobRead => "blob read",
            Stage::Decrypt => "unwrap + AES",
            Stage::Parse => "parse",
            Stage::Write => "write",
            Stage::Telemetry => "telemetry",
            Stage::Renew => "renew",
        }
    }
}

#[derive(Default)]
struct Totals {
    wall_ns: AtomicU64,
    cpu_ns: AtomicU64,
    calls: AtomicU64,
}

/// Summed time per stage; shared by every thread of a pipeline.
#[derive(Default)]
pub struct StageClock {
    totals: [Totals; Stage::ALL.len()],
}

/// One stage's sums.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StageTotal {
    pub stage: Stage,
    pub wall: Duration,
    pub cpu: Duration,
    pub calls: u64,
}

impl StageClock {
    /// Runs `f` as `stage` on `clock`, if there is one.
    pub fn time<T>(clock: Option<&StageClock>, stage: Stage, f: impl FnOnce() -> T) -> T {
        let Some(clock) = clock else { return f() };
        let (wall, cpu) = (Instant::now(), thread_cpu());
        let out = f();
        clock.add(stage, wall.elapsed(), thread_cpu().saturating_sub(cpu));
        out
    }

    fn add(&self, stage: Stage, wall: Duration, cpu: Duration) {
        let totals = &self.totals[stage as usize];
        totals.wall_ns.fetch_add(wall.as_nanos() as u64, Ordering::Relaxed);
        totals.cpu_ns.fetch_add(cpu.as_nanos() as u64, Ordering::Relaxed);
        totals.calls.fetch_add(1, Ordering::Relaxed);
    }

    pub fn totals(&self) -> Vec<StageTotal> {
        Stage::ALL
            .iter()
            .map(|&stage| {
                let totals = &self.totals[stage as usize];
                StageTotal {
                    stage,
                    wall: Duration::from_nanos(totals.wall_ns.load(Ordering::Relaxed)),
                    cpu: Duration::from_nanos(totals.cpu_ns.load(Ordering::Relaxed)),
                    calls: totals.calls.load(Ordering::Relaxed),
                }
            })
            .collect()
    }
}

/// This thread's CPU time so far (zero if the clock cannot be read).
fn thread_cpu() -> Duration {
    clock_gettime(ClockId::CLOCK_THREAD_CPUTIME_ID).map(Duration::from).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_sum_wall_and_cpu_and_a_missing_clock_just_runs() {
        let clock = StageClock::default();
        // Spins until this thread has had 20 ms of CPU, however long that
        // takes on a busy machine.
        let spin = || {
            let until = thread_cpu() + Duration::from_millis(20);
            let mut n = 0u64;
            while thread_cpu() < until {
                n = n.wrapping_add(1);
            }
            n
        };
        StageClock::time(Some(&clock), Stage::Parse, spin);
        StageClock::time(Some(&clock), Stage::Parse, || std::thread::sleep(Duration::from_millis(20)));
        assert_eq!(StageClock::time(None, Stage::Parse, || 7), 7);
        let parse = clock.totals()[Stage::Parse as usize];
        assert_eq!(parse.calls, 2);
        assert!(parse.wall >= Duration::from_millis(40), "{parse:?}");
        // The spin is on CPU, the sleep is not.
        assert!(parse.cpu >= Duration::from_millis(20) && parse.cpu < parse.wall, "{parse:?}");
        assert_eq!(clock.totals()[Stage::Claim as usize].calls, 0);
    }
}
