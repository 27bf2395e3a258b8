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
        self.beat_at(Instant::now());
    }

    /// How long since the last beat.
    pub fn silence(&self) -> Duration {
        self.silence_at(Instant::now())
    }

    fn beat_at(&self, now: Instant) {
        self.last_beat_ms.store(self.ms_since_start(now), Ordering::Relaxed);
    }

    fn silence_at(&self, now: Instant) -> Duration {
        Duration::from_millis(self.ms_since_start(now).saturating_sub(self.last_beat_ms.load(Ordering::Relaxed)))
    }

    fn ms_since_start(&self, now: Instant) -> u64 {
        now.saturating_duration_since(self.started).as_millis() as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn silence_grows_until_the_next_beat() {
        let liveness = Liveness::default();
        let at = |ms: u64| liveness.started + Duration::from_millis(ms);
        assert_eq!(liveness.silence_at(at(30)), Duration::from_millis(30));
        liveness.beat_at(at(30));
        assert_eq!(liveness.silence_at(at(30)), Duration::ZERO);
        assert_eq!(liveness.silence_at(at(45)), Duration::from_millis(15));
        // A clock read before the beat (another thread's) is no silence.
        assert_eq!(liveness.silence_at(at(10)), Duration::ZERO);
    }
}
