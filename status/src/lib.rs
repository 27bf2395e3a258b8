//! The archiver's status protocol, shared by the daemon (which serves it on
//! a Unix socket) and by `cybexp-archive top` and `status` (which read it):
//! the [`Snapshot`] of the daemon's telemetry and the versioned
//! newline-delimited JSON that carries it ([`protocol`]).

pub mod health;
pub mod protocol;
pub mod snapshot;
pub mod untrusted;

pub use health::{Health, Problem};
pub use protocol::{ClientError, Connection, VERSION};
pub use snapshot::*;
pub use untrusted::Escaped;

/// Wall-clock time in milliseconds since the Unix epoch: the clock of every
/// [`EpochMs`] on the wire. 0 if the clock is before 1970.
pub fn now_ms() -> EpochMs {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}
