//! Who holds a claim: `host:pid:started`, so an archiver can tell a claim of
//! a dead process on its own host (take it back at once) from one of a live
//! process, of a process whose pid was reused since, or of another host
//! (whose lease must run out by itself).

use std::fmt;
use std::str::FromStr;

/// A claim owner: host name, process id and the process's start time (in
/// clock ticks since boot, `/proc/PID/stat` field 22), which tells a reused
/// pid from the process that made the claim.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Owner {
    pub host: String,
    pub pid: u32,
    pub started: u64,
}

impl Owner {
    /// This process.
    pub fn this_process() -> Owner {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
        let pid = std::process::id();
        Owner { host: host.trim().to_owned(), pid, started: start_time(pid).unwrap_or(0) }
    }

    /// True when this owner was a process on this host (`host`) that is gone:
    /// no such pid, or the pid now belongs to a process started at another
    /// time. Owners of other hosts are never gone as far as we can tell.
    pub fn is_gone_from(&self, host: &str) -> bool {
        self.host == host && start_time(self.pid) != Some(self.started)
    }
}

/// When process `pid` started, in clock ticks since boot; `None` when there
/// is no such process (or no `/proc`).
fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: fields start after the last ')'.
    let fields = stat.rsplit_once(')')?.1;
    // `state` is field 3 overall, `starttime` field 22: the 20th after the name.
    fields.split_whitespace().nth(19)?.parse().ok()
}

impl fmt::Display for Owner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.host, self.pid, self.started)
    }
}

/// Not an owner id this crate writes (another tool's, or an older
/// archiver's `host:pid`): such claims are left to their lease.
#[derive(Debug, PartialEq, Eq)]
pub struct NotAnOwner;

impl FromStr for Owner {
    type Err = NotAnOwner;

    fn from_str(s: &str) -> Result<Owner, NotAnOwner> {
        let mut parts = s.rsplitn(3, ':');
        let started = parts.next().and_then(|p| p.parse().ok()).ok_or(NotAnOwner)?;
        let pid = parts.next().and_then(|p| p.parse().ok()).ok_or(NotAnOwner)?;
        let host = parts.next().ok_or(NotAnOwner)?.to_owned();
        Ok(Owner { host, pid, started })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_other_formats() {
        let owner = Owner { host: "cybex:1".into(), pid: 42, started: 7 };
        assert_eq!(owner.to_string().parse::<Owner>(), Ok(owner));
        assert_eq!("host:42".parse::<Owner>(), Err(NotAnOwner), "an older archiver's id");
        assert_eq!("local".parse::<Owner>(), Err(NotAnOwner));
    }

    #[test]
    fn this_process_is_alive_and_a_dead_or_reused_pid_is_gone() {
        let me = Owner::this_process();
        assert!(me.started > 0);
        assert!(!me.is_gone_from(&me.host), "this process is alive");
        let reused = Owner { started: me.started + 1, ..me.clone() };
        assert!(reused.is_gone_from(&me.host), "same pid, another start time");
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        let dead = Owner { pid, ..me.clone() };
        assert!(dead.is_gone_from(&me.host), "a process that exited");
        assert!(!dead.is_gone_from("another-host"), "other hosts' claims wait for their lease");
    }
}
