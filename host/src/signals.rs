//! SIGINT/SIGTERM: the first asks for a clean stop (finish in-flight
//! entries, release the rest); a second one exits at once. SIGHUP asks
//! for a reload of the config (see `reload.rs`).

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use anyhow::Result;
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::flag;

pub fn install() -> Result<Arc<AtomicBool>> {
    let shutdown = Arc::new(AtomicBool::new(false));
    for signal in [SIGINT, SIGTERM] {
        // Order matters: the conditional exit sees the flag set by an earlier signal.
        flag::register_conditional_shutdown(signal, 130, shutdown.clone())?;
        flag::register(signal, shutdown.clone())?;
    }
    Ok(shutdown)
}

/// A flag SIGHUP sets (and the daemon loop clears as it reloads).
pub fn reload_requests() -> Result<Arc<AtomicBool>> {
    let requested = Arc::new(AtomicBool::new(false));
    flag::register(SIGHUP, requested.clone())?;
    Ok(requested)
}
