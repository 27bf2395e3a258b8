//! Whether the daemon loop is still moving: it beats when a poll starts,
//! when a group of outcomes is written and while it sleeps between polls.
//! A watchdog (systemd's) is pinged only while the beats keep coming, so a
//! loop stuck in a call that never returns gets the daemon restarted.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

pub struct Liveness {
    started: Instant,
    /// Milliseconds after `started` of the last beat.
    last_beat_ms: AtomicU64,
}

impl Default for Liveness {
    fn default() -> Self {
        Liveness { started: Instant::now(), last_beat_ms: AtomicU64::new(0) }
    }
}

impl Liveness {
    pub fn beat(&self) {
        self.last_beat_ms.store(self.started.elapsed().as_millis() as u64, Ordering::Relaxed);
    }

    /// How long since the last beat.
    pub fn silence(&self) -> Duration {
        let now = self.started.elapsed().as_millis() as u64;
        Duration::from_millis(now.saturating_sub(self.last_beat_ms.load(Ordering::Relaxed)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn silence_grows_until_the_next_beat() {
        let liveness = Liveness::default();
        std::thread::sleep(Duration::from_millis(30));
        assert!(liveness.silence() >= Duration::from_millis(30));
        liveness.beat();
        assert!(liveness.silence() < Duration::from_millis(30));
    }
}
