//! The wire format: newline-delimited JSON over a Unix stream socket.
//!
//! ```text
//! server → client (on accept)  {"version":1,"hello":{"protocol":"cybexp-status","server":"cybexp-archive 0.1.0"}}
//! client → server              {"version":1,"request":"snapshot"}
//! server → client              {"version":1,"snapshot":{...}}
//!                           or {"version":1,"error":{"code":"unsupported_request","message":"..."}}
//! ```
//!
//! Every line carries `version`. Within a version, messages only gain
//! fields (with defaults); anything else is a new version, and each side
//! refuses a version it does not speak with a message that says so. The
//! protocol is read-only: no request changes the daemon.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::snapshot::Snapshot;

/// Names the protocol in the hello.
pub const PROTOCOL: &str = "cybexp-status";
/// The version this build speaks.
pub const VERSION: u32 = 1;
/// Longest request line the server reads; requests are tiny.
pub const MAX_REQUEST_BYTES: usize = 4 << 10;
/// Longest response line a client reads.
pub const MAX_RESPONSE_BYTES: usize = 16 << 20;

/// The request kinds of version 1.
pub const REQUEST_SNAPSHOT: &str = "snapshot";

/// A client's request. `request` is a string, not an enum, so a server can
/// answer a newer client's unknown request with a proper error.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    pub version: u32,
    pub request: String,
}

impl Request {
    pub fn snapshot() -> Request {
        Request { version: VERSION, request: REQUEST_SNAPSHOT.to_owned() }
    }
}

/// A server line.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Response {
    pub version: u32,
    #[serde(flatten)]
    pub body: Body,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Body {
    Hello(Hello),
    Snapshot(Box<Snapshot>),
    Error(ErrorBody),
}

impl Response {
    pub fn hello(server: impl Into<String>) -> Response {
        Response { version: VERSION, body: Body::Hello(Hello { protocol: PROTOCOL.to_owned(), server: server.into() }) }
    }

    pub fn error(code: &str, message: impl Into<String>) -> Response {
        Response { version: VERSION, body: Body::Error(ErrorBody { code: code.to_owned(), message: message.into() }) }
    }

    pub fn snapshot(snapshot: Snapshot) -> Response {
        Response { version: VERSION, body: Body::Snapshot(Box::new(snapshot)) }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    pub protocol: String,
    /// e.g. `cybexp-archive 0.1.0`.
    pub server: String,
}

/// Error codes: `bad_request` (not a request line), `unsupported_version`,
/// `unsupported_request`, `too_long`, `busy` (too many clients).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub code: String,
    pub message: String,
}

/// Serialises `message` as one line (JSON never contains a raw newline).
pub fn write_line<T: Serialize>(out: &mut impl Write, message: &T) -> io::Result<()> {
    let mut line = serde_json::to_vec(message).map_err(io::Error::other)?;
    line.push(b'\n');
    out.write_all(&line)?;
    out.flush()
}

/// Reads one line of at most `max` bytes (without its newline). `Ok(None)`
/// at a clean end of stream; `InvalidData` for a longer line or non-UTF-8,
/// `UnexpectedEof` for a line cut off. Interrupted reads are retried.
pub fn read_line(reader: &mut impl BufRead, max: usize) -> io::Result<Option<String>> {
    let mut line = Vec::new();
    // One byte past `max`: a newline there still ends a line of `max` bytes.
    let limit = u64::try_from(max).unwrap_or(u64::MAX).saturating_add(1);
    reader.by_ref().take(limit).read_until(b'\n', &mut line)?;
    if line.last() == Some(&b'\n') {
        line.pop();
    } else if line.len() > max {
        return Err(io::Error::new(io::ErrorKind::InvalidData, format!("line longer than {max} bytes")));
    } else if line.is_empty() {
        return Ok(None);
    } else {
        return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "line cut off"));
    }
    String::from_utf8(line).map(Some).map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "not UTF-8"))
}

/// Parses a server line: checks `version` before anything else, so a daemon
/// speaking another version gets a clear error, not a parse failure.
pub fn parse_response(line: &str) -> Result<Response, ClientError> {
    let value: serde_json::Value =
        serde_json::from_str(line).map_err(|e| ClientError::Protocol(format!("not JSON: {e}")))?;
    match value.get("version").and_then(serde_json::Value::as_u64) {
        Some(v) if v == u64::from(VERSION) => {}
        Some(v) => return Err(ClientError::Version { server: v }),
        None => return Err(ClientError::Protocol("a line without `version`".into())),
    }
    serde_json::from_value(value).map_err(|e| ClientError::Protocol(format!("unexpected message: {e}")))
}

/// Why a client could not get a snapshot.
///
/// No variant names a `source`: each message already ends with the cause's
/// text, so an error chain (`{:#}`) would print it twice.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// No daemon there (no socket, or nobody listening), or no permission.
    #[error("cannot connect to {}: {error}{}", .path.display(), connect_hint(.error))]
    Connect { path: PathBuf, error: io::Error },
    /// The connection broke or timed out.
    #[error("connection lost: {0}")]
    Io(io::Error),
    /// The other side does not speak this protocol.
    #[error("not a cybexp-status server: {0}")]
    Protocol(String),
    /// The daemon speaks another version.
    #[error("the daemon speaks status protocol version {server}; this client speaks {VERSION}")]
    Version { server: u64 },
    /// The daemon answered with an error.
    #[error("the daemon refused: {} ({})", .0.message, .0.code)]
    Server(ErrorBody),
}

/// What to try when connecting failed with `error`.
fn connect_hint(error: &io::Error) -> &'static str {
    match error.kind() {
        io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused => {
            " (is `cybexp-archive run` running? is this its socket?)"
        }
        io::ErrorKind::PermissionDenied => " (the socket is for its owner and group: see README)",
        _ => "",
    }
}

// Not `#[from]`: that would make the `io::Error` the source as well.
impl From<io::Error> for ClientError {
    fn from(e: io::Error) -> Self {
        ClientError::Io(e)
    }
}

/// A client connection: handshake done, ready for requests.
pub struct Connection {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
    pub hello: Hello,
}

impl Connection {
    /// Connects and reads the hello; `timeout` bounds every read and write.
    pub fn connect(path: &Path, timeout: Duration) -> Result<Connection, ClientError> {
        let stream =
            UnixStream::connect(path).map_err(|error| ClientError::Connect { path: path.to_owned(), error })?;
        stream.set_read_timeout(Some(timeout))?;
        stream.set_write_timeout(Some(timeout))?;
        let writer = stream.try_clone()?;
        let mut reader = BufReader::new(stream);
        let line = read_line(&mut reader, MAX_RESPONSE_BYTES)?
            .ok_or_else(|| ClientError::Protocol("closed before the hello".into()))?;
        let hello = match parse_response(&line)?.body {
            Body::Hello(hello) if hello.protocol == PROTOCOL => hello,
            Body::Hello(hello) => return Err(ClientError::Protocol(format!("protocol {:?}", hello.protocol))),
            Body::Error(e) => return Err(ClientError::Server(e)),
            Body::Snapshot(_) => return Err(ClientError::Protocol("no hello".into())),
        };
        Ok(Connection { reader, writer, hello })
    }

    /// Asks for one snapshot.
    pub fn snapshot(&mut self) -> Result<Snapshot, ClientError> {
        write_line(&mut self.writer, &Request::snapshot())?;
        let line = read_line(&mut self.reader, MAX_RESPONSE_BYTES)?
            .ok_or_else(|| ClientError::Io(io::Error::new(io::ErrorKind::UnexpectedEof, "the daemon closed")))?;
        match parse_response(&line)?.body {
            Body::Snapshot(snapshot) => Ok(*snapshot),
            Body::Error(e) => Err(ClientError::Server(e)),
            Body::Hello(_) => Err(ClientError::Protocol("a second hello".into())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_shapes_are_as_documented() {
        assert_eq!(serde_json::to_string(&Request::snapshot()).unwrap(), r#"{"version":1,"request":"snapshot"}"#);
        assert_eq!(
            serde_json::to_string(&Response::hello("cybexp-archive 0.1.0")).unwrap(),
            r#"{"version":1,"hello":{"protocol":"cybexp-status","server":"cybexp-archive 0.1.0"}}"#
        );
        assert_eq!(
            serde_json::to_string(&Response::error("busy", "too many clients")).unwrap(),
            r#"{"version":1,"error":{"code":"busy","message":"too many clients"}}"#
        );
    }

    #[test]
    fn snapshot_round_trips_and_tolerates_unknown_fields() {
        let mut snapshot = Snapshot { taken_at_ms: 7, retried: 2, ..Default::default() };
        snapshot.totals.error = 3;
        let line = serde_json::to_string(&Response::snapshot(snapshot.clone())).unwrap();
        assert_eq!(parse_response(&line).unwrap().body, Body::Snapshot(Box::new(snapshot.clone())));
        // A newer daemon (same version) added fields: still readable.
        let newer = line.replacen("\"retried\":2", "\"retried\":2,\"added_later\":{\"x\":1}", 1);
        assert_ne!(newer, line);
        assert_eq!(parse_response(&newer).unwrap().body, Body::Snapshot(Box::new(snapshot)));
    }

    #[test]
    fn other_versions_are_refused_clearly() {
        let err = parse_response(r#"{"version":2,"hello":{"protocol":"cybexp-status","server":"x"}}"#).unwrap_err();
        assert!(matches!(err, ClientError::Version { server: 2 }), "{err}");
        assert!(err.to_string().contains("version 2"), "{err}");
        assert!(matches!(parse_response(r#"{"hello":{}}"#), Err(ClientError::Protocol(_))));
        assert!(matches!(parse_response("HTTP/1.1 200 OK"), Err(ClientError::Protocol(_))));
    }

    #[test]
    fn read_line_is_bounded() {
        let mut input = io::Cursor::new(b"short\nthis one is far too long\nlast".to_vec());
        assert_eq!(read_line(&mut input, 10).unwrap().as_deref(), Some("short"));
        assert_eq!(read_line(&mut input, 10).unwrap_err().kind(), io::ErrorKind::InvalidData);
        let mut input = io::Cursor::new(b"a\n".to_vec());
        assert_eq!(read_line(&mut input, 10).unwrap().as_deref(), Some("a"));
        assert_eq!(read_line(&mut input, 10).unwrap(), None);
        let mut cut = io::Cursor::new(b"no newline".to_vec());
        assert_eq!(read_line(&mut cut, 100).unwrap_err().kind(), io::ErrorKind::UnexpectedEof);
    }

    #[test]
    fn read_line_edges() {
        // Exactly `max` bytes, with and without the newline.
        let mut input = io::Cursor::new(b"0123456789\n0123456789".to_vec());
        assert_eq!(read_line(&mut input, 10).unwrap().as_deref(), Some("0123456789"));
        assert_eq!(read_line(&mut input, 10).unwrap_err().kind(), io::ErrorKind::UnexpectedEof);
        // One more, with or without the newline.
        for text in [&b"0123456789a\n"[..], b"0123456789a"] {
            let err = read_line(&mut io::Cursor::new(text.to_vec()), 10).unwrap_err();
            assert_eq!((err.kind(), err.to_string()), (io::ErrorKind::InvalidData, "line longer than 10 bytes".into()));
        }
        let mut input = io::Cursor::new(b"\n\xff\n".to_vec());
        assert_eq!(read_line(&mut input, 10).unwrap().as_deref(), Some(""));
        let err = read_line(&mut input, 10).unwrap_err();
        assert_eq!((err.kind(), err.to_string()), (io::ErrorKind::InvalidData, "not UTF-8".into()));
        assert_eq!(read_line(&mut io::Cursor::new(Vec::new()), 0).unwrap(), None);
        assert_eq!(read_line(&mut io::Cursor::new(b"\n".to_vec()), usize::MAX).unwrap().as_deref(), Some(""));
    }

    /// A reader whose every other read is interrupted by a signal.
    struct Interrupting {
        inner: io::Cursor<Vec<u8>>,
        interrupt: bool,
    }

    impl Read for Interrupting {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.interrupt = !self.interrupt;
            if self.interrupt {
                return Err(io::ErrorKind::Interrupted.into());
            }
            // A byte at a time, so a line takes many reads.
            let n = buf.len().min(1);
            self.inner.read(&mut buf[..n])
        }
    }

    #[test]
    fn read_line_retries_interrupted_reads() {
        let inner = io::Cursor::new(b"{\"version\":1}\nnext\n".to_vec());
        let mut reader = BufReader::new(Interrupting { inner, interrupt: false });
        assert_eq!(read_line(&mut reader, 100).unwrap().as_deref(), Some("{\"version\":1}"));
        assert_eq!(read_line(&mut reader, 100).unwrap().as_deref(), Some("next"));
        assert_eq!(read_line(&mut reader, 100).unwrap(), None);
    }

    #[test]
    fn client_errors_read_as_before() {
        let connect = |kind: io::ErrorKind| ClientError::Connect {
            path: "/run/x.sock".into(),
            error: io::Error::new(kind, "boom"),
        };
        let cases = [
            (
                connect(io::ErrorKind::NotFound),
                "cannot connect to /run/x.sock: boom (is `cybexp-archive run` running? is this its socket?)",
            ),
            (
                connect(io::ErrorKind::ConnectionRefused),
                "cannot connect to /run/x.sock: boom (is `cybexp-archive run` running? is this its socket?)",
            ),
            (
                connect(io::ErrorKind::PermissionDenied),
                "cannot connect to /run/x.sock: boom (the socket is for its owner and group: see README)",
            ),
            (connect(io::ErrorKind::Other), "cannot connect to /run/x.sock: boom"),
            (ClientError::from(io::Error::new(io::ErrorKind::TimedOut, "slow")), "connection lost: slow"),
            (ClientError::Protocol("no hello".into()), "not a cybexp-status server: no hello"),
            (ClientError::Version { server: 2 }, "the daemon speaks status protocol version 2; this client speaks 1"),
            (
                ClientError::Server(ErrorBody { code: "busy".into(), message: "too many".into() }),
                "the daemon refused: too many (busy)",
            ),
        ];
        for (err, want) in cases {
            assert_eq!(err.to_string(), want);
            assert!(std::error::Error::source(&err).is_none(), "{want}");
        }
    }

    #[test]
    fn connection_handshake_and_request_over_a_socket_pair() {
        let (client, server) = UnixStream::pair().unwrap();
        let daemon = std::thread::spawn(move || {
            let mut reader = BufReader::new(server.try_clone().unwrap());
            let mut out = server;
            write_line(&mut out, &Response::hello("test 1")).unwrap();
            let request: Request =
                serde_json::from_str(&read_line(&mut reader, MAX_REQUEST_BYTES).unwrap().unwrap()).unwrap();
            assert_eq!(request, Request::snapshot());
            write_line(&mut out, &Response::snapshot(Snapshot { taken_at_ms: 42, ..Default::default() })).unwrap();
            let _ = read_line(&mut reader, MAX_REQUEST_BYTES).unwrap();
            write_line(&mut out, &Response::error("unsupported_request", "no")).unwrap();
        });
        // connect() needs a path; this drives the same reading code over a socket pair.
        client.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let writer = client.try_clone().unwrap();
        let mut reader = BufReader::new(client);
        let hello = parse_response(&read_line(&mut reader, MAX_RESPONSE_BYTES).unwrap().unwrap()).unwrap();
        let Body::Hello(hello) = hello.body else { panic!("no hello") };
        let mut conn = Connection { reader, writer, hello };
        assert_eq!(conn.hello.server, "test 1");
        assert_eq!(conn.snapshot().unwrap().taken_at_ms, 42);
        assert!(matches!(conn.snapshot(), Err(ClientError::Server(e)) if e.code == "unsupported_request"));
        daemon.join().unwrap();
    }

    #[test]
    fn connect_to_nothing_says_so() {
        let path = std::env::temp_dir().join(format!("cybexp-status-none-{}.sock", std::process::id()));
        let err = Connection::connect(&path, Duration::from_secs(1)).err().expect("no daemon");
        assert!(matches!(err, ClientError::Connect { .. }));
        assert!(err.to_string().contains("is `cybexp-archive run` running?"), "{err}");
    }
}
