//! Process hardening applied before any private key is loaded: no core
//! dumps (they would hold the key), and not dumpable/ptrace-able by other
//! processes of the same user.

/// Best effort: a failure is logged, not fatal (e.g. inside a sandbox that
/// already forbids the call).
pub fn protect_key_material() {
    // SAFETY: plain syscalls with valid arguments; no memory is shared.
    let limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    if unsafe { libc::setrlimit(libc::RLIMIT_CORE, &limit) } != 0 {
        tracing::warn!(error = %std::io::Error::last_os_error(), "could not disable core dumps");
    }
    // SAFETY: as above.
    if unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) } != 0 {
        tracing::warn!(error = %std::io::Error::last_os_error(), "could not mark the process non-dumpable");
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn core_dumps_are_off_afterwards() {
        super::protect_key_material();
        let mut limit = libc::rlimit { rlim_cur: 1, rlim_max: 1 };
        // SAFETY: valid pointer to a local.
        assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_CORE, &mut limit) }, 0);
        assert_eq!((limit.rlim_cur, limit.rlim_max), (0, 0));
        // SAFETY: no arguments read.
        assert_eq!(unsafe { libc::prctl(libc::PR_GET_DUMPABLE, 0, 0, 0, 0) }, 0);
    }
}
