//! The archiver's status protocol, shared by the daemon (which serves it on
//! a Unix socket) and by `cybexp-archive top` and `status` (which read it):
//! the [`Snapshot`] of the daemon's telemetry and the versioned
//! newline-delimited JSON that carries it ([`protocol`]).

pub mod protocol;
pub mod snapshot;

pub use protocol::{ClientError, Connection, VERSION};
pub use snapshot::*;
