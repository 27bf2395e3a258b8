//! The reconnecting client: a thread that asks the daemon for a snapshot
//! every interval and reports to the dashboard; when the daemon goes away it
//! says so and keeps retrying (every second, or every interval if shorter),
//! so `top` recovers by itself when the daemon comes back.

use std::path::PathBuf;
use std::sync::mpsc::Sender;
use std::time::{Duration, Instant};

use cybexp_status::{Connection, now_ms};

use crate::app::Action;

/// How long one exchange may take before the daemon counts as gone.
pub const IO_TIMEOUT: Duration = Duration::from_secs(5);

/// Polls `socket` every `interval` until `tx`'s receiver is gone.
pub fn run(socket: PathBuf, interval: Duration, tx: Sender<crate::Event>) {
    let retry = interval.min(Duration::from_secs(1));
    let send = |action: Action| tx.send(crate::Event::Action(action)).is_ok();
    loop {
        let mut conn = match Connection::connect(&socket, IO_TIMEOUT) {
            Ok(conn) => conn,
            Err(e) => {
                if !send(Action::Disconnected { error: e.to_string(), now_ms: now_ms() }) {
                    return;
                }
                std::thread::sleep(retry);
                continue;
            }
        };
        if !send(Action::Connected(conn.hello.server.clone())) {
            return;
        }
        loop {
            let started = Instant::now();
            match conn.snapshot() {
                Ok(snapshot) => {
                    if !send(Action::Snapshot(Box::new(snapshot))) {
                        return;
                    }
                }
                Err(e) => {
                    if !send(Action::Disconnected { error: e.to_string(), now_ms: now_ms() }) {
                        return;
                    }
                    break;
                }
            }
            std::thread::sleep(interval.saturating_sub(started.elapsed()));
        }
        std::thread::sleep(retry);
    }
}
