//! SIGINT/SIGTERM: the first asks for a clean stop (finish in-flight
//! entries, release the rest); a second one exits at once.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use anyhow::Result;
use signal_hook::consts::{SIGINT, SIGTERM};
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
