//! Process hardening applied before any private key is loaded: no core
//! dumps (they would hold the key), and not dumpable/ptrace-able by other
//! processes of the same user.

use nix::sys::prctl;
use nix::sys::resource::{Resource, setrlimit};

/// Best effort: a failure is logged, not fatal (e.g. inside a sandbox that
/// already forbids the call).
pub fn protect_key_material() {
    if let Err(e) = setrlimit(Resource::RLIMIT_CORE, 0, 0) {
        tracing::warn!(error = %std::io::Error::from(e), "could not disable core dumps");
    }
    if let Err(e) = prctl::set_dumpable(false) {
        tracing::warn!(error = %std::io::Error::from(e), "could not mark the process non-dumpable");
    }
}

#[cfg(test)]
mod tests {
    use nix::sys::prctl;
    use nix::sys::resource::{Resource, getrlimit};

    #[test]
    fn core_dumps_are_off_afterwards() {
        super::protect_key_material();
        assert_eq!(getrlimit(Resource::RLIMIT_CORE).unwrap(), (0, 0));
        assert!(!prctl::get_dumpable().unwrap());
    }
}
