//! The status endpoint: a Unix stream socket speaking
//! [`cybexp_status::protocol`]. Read-only: the only request is `snapshot`.
//!
//! Access is the socket file's: mode 0660 by default (owner and group), in a
//! directory the operator chooses. A stale socket left by a killed daemon is
//! replaced; a live one (another daemon answering) or a non-socket file at
//! the path is refused, never removed.

use std::io::{self, BufReader};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use cybexp_status::protocol::{self, Request, Response};

use crate::Hub;

/// Where and how to listen.
#[derive(Clone, Debug)]
pub struct SocketOptions {
    pub path: PathBuf,
    /// Permission bits of the socket file (connecting needs write permission).
    pub mode: u32,
    /// Group to give the socket (the daemon must be a member), by id.
    pub group: Option<u32>,
    /// Clients served at once; more are told `busy` and closed.
    pub max_clients: u32,
    /// A client silent for this long is disconnected.
    pub idle_timeout: Duration,
}

impl SocketOptions {
    pub fn new(path: impl Into<PathBuf>) -> SocketOptions {
        SocketOptions {
            path: path.into(),
            mode: 0o660,
            group: None,
            max_clients: 16,
            idle_timeout: Duration::from_secs(300),
        }
    }
}

/// A client that does not read its answer within this long is dropped.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// The running endpoint; dropping it stops accepting and removes the socket.
pub struct StatusServer {
    path: PathBuf,
    inode: (u64, u64),
    /// The listening socket, to wake the accept call on drop.
    listener: UnixListener,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl StatusServer {
    /// Binds the socket (replacing a stale one), sets its mode and group,
    /// and serves `hub` on a background thread.
    pub fn start(hub: Hub, options: &SocketOptions) -> io::Result<StatusServer> {
        let path = options.path.clone();
        prepare(&path)?;
        let listener = UnixListener::bind(&path)
            .map_err(|e| io::Error::new(e.kind(), format!("binding status socket {}: {e}", path.display())))?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(options.mode & 0o777))?;
        if let Some(gid) = options.group {
            chown_group(&path, gid)?;
        }
        let meta = std::fs::symlink_metadata(&path)?;
        let stop = Arc::new(AtomicBool::new(false));
        let wake = listener.try_clone()?;
        let thread = {
            let (stop, options) = (stop.clone(), options.clone());
            std::thread::Builder::new()
                .name("status-accept".into())
                .spawn(move || accept_loop(&hub, &listener, &options, &stop))?
        };
        Ok(StatusServer { path, inode: (meta.dev(), meta.ino()), listener: wake, stop, thread: Some(thread) })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for StatusServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Wake the accept call; it sees the flag and returns. Shutting the
        // listening socket down does it on Linux even if the socket file is
        // gone (deleted by hand, or its directory cleaned up).
        shutdown_listener(self.listener.as_raw_fd());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        // Remove the socket only if it is still ours (not a successor's).
        if let Ok(meta) = std::fs::symlink_metadata(&self.path)
            && (meta.dev(), meta.ino()) == self.inode
        {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Makes room for the socket: creates missing parent directories (0750),
/// removes a stale socket, refuses a live one or any other file.
fn prepare(path: &Path) -> io::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty() && !p.exists()) {
        std::fs::DirBuilder::new().recursive(true).mode(0o750).create(parent)?;
    }
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
        Ok(meta) if meta.file_type().is_socket() => match UnixStream::connect(path) {
            Ok(_) => Err(io::Error::new(
                io::ErrorKind::AddrInUse,
                format!("{} is served by another process (another archiver?)", path.display()),
            )),
            // Nobody listening: a killed daemon's leftover.
            Err(_) => std::fs::remove_file(path),
        },
        Ok(_) => Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("{} exists and is not a socket; refusing to replace it", path.display()),
        )),
    }
}

/// `shutdown(2)` on a listening socket: a blocked `accept` returns. (std
/// has `shutdown` only for connected streams.)
pub(crate) fn shutdown_listener(fd: std::os::fd::RawFd) {
    // Errors only mean the socket is gone.
    let _ = nix::sys::socket::shutdown(fd, nix::sys::socket::Shutdown::Both);
}

fn chown_group(path: &Path, gid: u32) -> io::Result<()> {
    // No uid: the owner stays.
    std::os::unix::fs::chown(path, None, Some(gid))
        .map_err(|e| io::Error::new(e.kind(), format!("giving {} to group {gid}: {e}", path.display())))
}

/// A group's id by name (e.g. the status socket's `[status] group`).
/// `NotFound` when there is no such group; other lookup failures (NSS
/// errors, a group entry over 1 MiB) keep their own kind.
///
/// `nix` calls `getgrnam_r` with a growing buffer: an entry too big for it
/// (a group with many members, or with `/etc/group` any such entry read on
/// the way) fails with `ERANGE`, and nix retries with twice the buffer (from
/// `sysconf(_SC_GETGR_R_SIZE_MAX)` up to 1 MiB), where a fixed buffer took
/// the group for missing. Checked by hand with a 3000-member group (36 KB).
pub fn group_id(name: &str) -> io::Result<u32> {
    match nix::unistd::Group::from_name(name) {
        Ok(Some(group)) => Ok(group.gid.as_raw()),
        Ok(None) => Err(io::Error::new(io::ErrorKind::NotFound, format!("no group named {name:?}"))),
        Err(errno) => {
            let e = io::Error::from(errno);
            Err(io::Error::new(e.kind(), format!("looking up group {name:?}: {e}")))
        }
    }
}

fn accept_loop(hub: &Hub, listener: &UnixListener, options: &SocketOptions, stop: &AtomicBool) {
    for stream in listener.incoming() {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        let Ok(stream) = stream else { continue };
        if hub.shared.counters.clients.load(Ordering::Relaxed) >= options.max_clients {
            let _ = stream.set_write_timeout(Some(WRITE_TIMEOUT));
            let _ = protocol::write_line(&mut &stream, &Response::error("busy", "too many status clients"));
            continue;
        }
        hub.client_connected();
        let (client_hub, idle) = (hub.clone(), options.idle_timeout);
        let spawned = std::thread::Builder::new().name("status-client".into()).spawn(move || {
            let _ = serve_client(&client_hub, stream, idle);
            client_hub.client_disconnected();
        });
        if spawned.is_err() {
            // Out of threads: the closure (and the stream) is dropped unrun.
            hub.client_disconnected();
        }
    }
}

fn serve_client(hub: &Hub, stream: UnixStream, idle: Duration) -> io::Result<()> {
    stream.set_read_timeout(Some(idle))?;
    stream.set_write_timeout(Some(WRITE_TIMEOUT))?;
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    protocol::write_line(&mut writer, &Response::hello(hub.server_name()))?;
    loop {
        let line = match protocol::read_line(&mut reader, protocol::MAX_REQUEST_BYTES) {
            Ok(Some(line)) => line,
            Ok(None) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                let response =
                    Response::error("too_long", format!("requests are at most {} bytes", protocol::MAX_REQUEST_BYTES));
                return protocol::write_line(&mut writer, &response);
            }
            Err(e) => return Err(e),
        };
        let (response, close) = respond(hub, &line);
        protocol::write_line(&mut writer, &response)?;
        if close {
            return Ok(());
        }
    }
}

/// The answer to one request line, and whether to hang up after it.
pub fn respond(hub: &Hub, line: &str) -> (Response, bool) {
    let Ok(request) = serde_json::from_str::<Request>(line) else {
        let message =
            format!(r#"expected a request line such as {{"version":{},"request":"snapshot"}}"#, protocol::VERSION);
        return (Response::error("bad_request", message), true);
    };
    if request.version != protocol::VERSION {
        let message = format!("this daemon speaks status protocol version {}", protocol::VERSION);
        return (Response::error("unsupported_version", message), true);
    }
    match request.request.as_str() {
        protocol::REQUEST_SNAPSHOT => (Response::snapshot(hub.snapshot()), false),
        other => {
            let message = format!("unknown request {other:?}; the status socket is read-only and answers: snapshot");
            (Response::error("unsupported_request", message), false)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_id_by_name() {
        assert_eq!(group_id("root").unwrap(), 0);
        let err = group_id("cybexp-no-such-group").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        assert_eq!(err.to_string(), r#"no group named "cybexp-no-such-group""#);
    }

    #[test]
    fn chown_group_keeps_the_owner() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, "").unwrap();
        let before = std::fs::metadata(&path).unwrap();
        chown_group(&path, before.gid()).unwrap();
        let after = std::fs::metadata(&path).unwrap();
        assert_eq!((after.uid(), after.gid()), (before.uid(), before.gid()));
        let err = chown_group(&dir.path().join("missing"), before.gid()).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        assert!(err.to_string().starts_with("giving "), "{err}");
    }
}
