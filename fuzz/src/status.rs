//! `status_protocol`: both directions of the status socket.
//!
//! The first byte picks the side. Daemon side: the bytes are what a socket
//! client sent; they are read line by line as the daemon's `serve_client`
//! does (`protocol::read_line` with `MAX_REQUEST_BYTES`) and answered by
//! `cybexp_telemetry::server::respond`, whose answer must serialise to one
//! line that the client side parses back. Client side (`top`, `status`):
//! the bytes are what the daemon sent; every line is read with
//! `MAX_RESPONSE_BYTES` and parsed with `protocol::parse_response`. Both: no
//! panic, and no line read takes more than its bound (one byte past it at
//! most) from the stream. A second, fuzzer-chosen small bound exercises the
//! limit itself, which the real bounds (4 KiB, 16 MiB) put out of reach of
//! small inputs.

use std::io::{self, BufReader, Cursor, Read};
use std::sync::OnceLock;

use cybexp_status::Identity;
use cybexp_status::protocol::{self, Body, ClientError, Response};
use cybexp_telemetry::{Hub, Options, Setup, Telemetry};

/// A daemon's telemetry with one route, started once (its threads idle).
fn hub() -> &'static Hub {
    static T: OnceLock<(Telemetry, Hub)> = OnceLock::new();
    &T.get_or_init(|| {
        let setup = Setup {
            identity: Identity { name: "cybexp-archive".into(), version: "fuzz".into(), ..Identity::default() },
            routes: vec![("unr-honeypot".into(), "cowrie".into())],
            queue: None,
            stopping: None,
            options: Options::default(),
        };
        let telemetry = Telemetry::start(setup).expect("telemetry starts");
        let hub = telemetry.hub();
        (telemetry, hub)
    })
    .1
}

/// Reads every line of `bytes` with bound `max`, handing each to `each`.
fn lines(bytes: &[u8], max: usize, mut each: impl FnMut(&str) -> bool) {
    let mut reader = BufReader::with_capacity(64, Counting { inner: Cursor::new(bytes), taken: 0 });
    loop {
        let before = reader.get_ref().taken - reader.buffer().len();
        let line = protocol::read_line(&mut reader, max);
        let after = reader.get_ref().taken - reader.buffer().len();
        // Bounded memory: the line, its newline, and no more.
        assert!(after - before <= max.saturating_add(1), "read {} bytes for a line of at most {max}", after - before);
        match line {
            Ok(Some(line)) => {
                assert!(line.len() <= max, "a line of {} bytes past the bound {max}", line.len());
                assert!(!line.contains('\n'));
                if !each(&line) {
                    return;
                }
            }
            Ok(None) => return,
            Err(e) => {
                assert!(matches!(e.kind(), io::ErrorKind::InvalidData | io::ErrorKind::UnexpectedEof), "{e}");
                return;
            }
        }
    }
}

struct Counting<R> {
    inner: R,
    taken: usize,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.taken += n;
        Ok(n)
    }
}

/// The daemon answering one client's bytes, as `serve_client` does.
fn daemon(bytes: &[u8], max: usize) {
    lines(bytes, max, |line| {
        let (response, close) = cybexp_telemetry::server::respond(hub(), line);
        let mut out = Vec::new();
        protocol::write_line(&mut out, &response).expect("a response serialises");
        assert_eq!(out.iter().filter(|&&b| b == b'\n').count(), 1, "a response is one line");
        let text = std::str::from_utf8(&out[..out.len() - 1]).expect("UTF-8");
        let parsed = protocol::parse_response(text).unwrap_or_else(|e| panic!("our own response does not parse: {e}"));
        match parsed.body {
            Body::Snapshot(_) => assert!(!close),
            Body::Error(e) => assert!(!e.code.is_empty() && !e.message.is_empty()),
            Body::Hello(_) => panic!("a hello in answer to a request"),
        }
        !close
    });
}

/// `top`/`status` reading the daemon's bytes.
fn client(bytes: &[u8], max: usize) {
    lines(bytes, max, |line| {
        match protocol::parse_response(line) {
            Ok(Response { version, body }) => {
                assert_eq!(version, protocol::VERSION);
                // What the client would show or hand on re-serialises.
                let mut out = Vec::new();
                protocol::write_line(&mut out, &Response { version, body }).expect("serialises");
            }
            Err(ClientError::Protocol(m)) => assert!(!m.is_empty()),
            Err(ClientError::Version { server }) => assert_ne!(server, u64::from(protocol::VERSION)),
            Err(e) => panic!("parse_response gave a connection error: {e}"),
        }
        true
    });
}

pub fn check(data: &[u8]) {
    let Some((&selector, rest)) = data.split_first() else { return };
    let small = usize::from(selector >> 2);
    match selector % 4 {
        0 => daemon(rest, protocol::MAX_REQUEST_BYTES),
        1 => client(rest, protocol::MAX_RESPONSE_BYTES),
        2 => daemon(rest, small),
        _ => client(rest, small),
    }
}
