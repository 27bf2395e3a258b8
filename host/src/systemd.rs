//! systemd integration for `run` under `Type=notify`: READY=1 once the
//! daemon is up, STATUS= lines with what `top` would show, STOPPING=1, and
//! watchdog pings (WatchdogSec=) only while the loop is moving. Outside
//! systemd (no $NOTIFY_SOCKET) every call here does nothing.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::pipeline::Liveness;
use sd_notify::NotifyState;

/// Tells systemd the daemon is up.
pub fn ready(status: &str) {
    notify(&[NotifyState::Ready, NotifyState::Status(status)]);
}

/// A one-line status for `systemctl status`.
pub fn status(status: &str) {
    notify(&[NotifyState::Status(status)]);
}

/// A reload begins; [`ready`] ends it.
pub fn reloading() {
    notify(&[NotifyState::Reloading, NotifyState::Status("reloading the config")]);
}

pub fn stopping() {
    notify(&[NotifyState::Stopping, NotifyState::Status("stopping: finishing in-flight entries")]);
}

fn notify(states: &[NotifyState]) {
    if let Err(e) = sd_notify::notify(false, states) {
        tracing::debug!(error = %e, "could not notify systemd");
    }
}

/// Pings systemd's watchdog at half its interval while `liveness` beats
/// within the interval; stops pinging (and says so) once the loop has
/// been silent that long, so systemd restarts the daemon. Stops on drop.
pub struct Watchdog {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Watchdog {
    /// `None` unless systemd asked for a watchdog (WATCHDOG_USEC for this pid).
    pub fn start(liveness: Arc<Liveness>) -> Option<Watchdog> {
        let mut usec = 0;
        if !sd_notify::watchdog_enabled(false, &mut usec) || usec == 0 {
            return None;
        }
        let interval = Duration::from_micros(usec);
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("watchdog".into())
            .spawn(move || {
                let mut stalled = false;
                while !flag.load(Ordering::Relaxed) {
                    let silence = liveness.silence();
                    if silence < interval {
                        stalled = false;
                        notify(&[NotifyState::Watchdog]);
                    } else if !stalled {
                        stalled = true;
                        tracing::error!(
                            silent_ms = silence.as_millis() as u64,
                            watchdog_ms = interval.as_millis() as u64,
                            "the archive loop has stalled; no longer pinging the watchdog, so systemd restarts the daemon"
                        );
                        notify(&[NotifyState::Status("stalled: the archive loop is not moving")]);
                    }
                    std::thread::sleep(interval / 4);
                }
            })
            .expect("spawning the watchdog thread");
        tracing::info!(interval_ms = interval.as_millis() as u64, "systemd watchdog on");
        Some(Watchdog { stop, thread: Some(thread) })
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
