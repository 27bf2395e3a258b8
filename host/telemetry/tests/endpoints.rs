//! The status socket and the metrics listener, served from a real
//! telemetry instance and read by real clients.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::time::{Duration, Instant};

use cybexp_lake::{ErrorCause, Outcome};
use cybexp_status::protocol::{self, Body};
use cybexp_status::{Connection, Identity, ParserIdentity};
use cybexp_telemetry::prometheus::{self, MetricsServer, check};
use cybexp_telemetry::server::{SocketOptions, StatusServer};
use cybexp_telemetry::{Options, Probe, RecordCounts, Setup, Telemetry, now_ms};

fn telemetry() -> Telemetry {
    telemetry_started_at(now_ms())
}

fn telemetry_started_at(started_at_ms: u64) -> Telemetry {
    let identity = Identity {
        name: "cybexp-archive".into(),
        version: "9.9.9".into(),
        instance: "host:1".into(),
        commit: "0123abcd4567".into(),
        rsa_backend: "aws-lc".into(),
        wasmtime: "48.0.8".into(),
        profile: "release".into(),
        workers: 2,
        started_at_ms,
        lake: "sqlite:/x.db".into(),
        archive: "sqlite:/x.db".into(),
        key_fingerprints: vec!["00ff".into()],
        parsers: vec![ParserIdentity {
            name: "json".into(),
            component: "cybexp-json".into(),
            version: "1.0".into(),
            ..Default::default()
        }],
        ..Default::default()
    };
    let setup = Setup {
        identity,
        routes: vec![("feed".into(), "json".into())],
        queue: None,
        stopping: None,
        options: Options::default(),
    };
    Telemetry::start(setup).unwrap()
}

fn some_traffic(probe: &Probe) {
    probe.parsed("json", 5_000, Duration::from_micros(300), RecordCounts::default());
    probe.parsed("json", 7_000, Duration::from_millis(30), RecordCounts { records: 7_000, malformed: 31 });
    probe.outcome("feed", "1", &Outcome::Success { hash: "ab".into() });
    let trap = Outcome::Error { cause: ErrorCause::Parser("trap".into()), message: "unreachable".into() };
    probe.outcome("feed", "2", &trap);
    probe.outcome("we\"ird\\typ\ntag", "3", &Outcome::NotSupported);
    probe.retried("feed");
}

#[test]
fn status_socket_serves_snapshots_with_0660() {
    let dir = tempfile::tempdir().unwrap();
    let t = telemetry();
    some_traffic(&t.probe());
    assert!(t.flush(Duration::from_secs(5)));
    let path = dir.path().join("run/status.sock");
    let server = StatusServer::start(t.hub(), &SocketOptions::new(&path)).unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o660);
    let parent_mode = std::fs::metadata(path.parent().unwrap()).unwrap().permissions().mode() & 0o777;
    assert_eq!(parent_mode, 0o750, "created parents: group may traverse");

    let mut conn = Connection::connect(&path, Duration::from_secs(5)).unwrap();
    assert_eq!(conn.hello.server, "cybexp-archive 9.9.9");
    let s = conn.snapshot().unwrap();
    assert_eq!((s.totals.success, s.totals.error, s.totals.not_supported), (1, 1, 1));
    assert_eq!(s.telemetry.clients, 1);
    assert_eq!(s.typtag("feed").unwrap().causes["parser.trap"], 1);
    // The same connection keeps answering.
    assert_eq!(conn.snapshot().unwrap().identity.key_fingerprints, ["00ff"]);
    drop(conn);
    drop(server);
    assert!(!path.exists(), "the socket is removed on stop");
}

fn raw_exchange(path: &std::path::Path, line: &[u8]) -> (String, String) {
    let stream = UnixStream::connect(path).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut hello = String::new();
    reader.read_line(&mut hello).unwrap();
    (&stream).write_all(line).unwrap();
    let mut answer = String::new();
    reader.read_line(&mut answer).unwrap();
    (hello, answer)
}

#[test]
fn status_socket_is_read_only_and_strict() {
    let dir = tempfile::tempdir().unwrap();
    let t = telemetry();
    let path = dir.path().join("status.sock");
    let _server = StatusServer::start(t.hub(), &SocketOptions::new(&path)).unwrap();

    let (hello, answer) = raw_exchange(&path, b"{\"version\":1,\"request\":\"reset\"}\n");
    assert!(hello.contains("\"protocol\":\"cybexp-status\""), "{hello}");
    let Body::Error(e) = protocol::parse_response(&answer).unwrap().body else { panic!("{answer}") };
    assert_eq!(e.code, "unsupported_request");
    assert!(e.message.contains("read-only"), "{}", e.message);

    let (_, answer) = raw_exchange(&path, b"{\"version\":7,\"request\":\"snapshot\"}\n");
    let Body::Error(e) = protocol::parse_response(&answer).unwrap().body else { panic!("{answer}") };
    assert_eq!(e.code, "unsupported_version");

    let (_, answer) = raw_exchange(&path, b"GET / HTTP/1.0\n");
    assert!(answer.contains("bad_request"), "{answer}");

    let mut long = vec![b'x'; protocol::MAX_REQUEST_BYTES + 10];
    long.push(b'\n');
    let (_, answer) = raw_exchange(&path, &long);
    assert!(answer.contains("too_long"), "{answer}");
}

#[test]
fn stale_sockets_are_replaced_live_ones_and_files_are_not() {
    let dir = tempfile::tempdir().unwrap();
    let t = telemetry();

    // A killed daemon's leftover: a socket nobody listens on.
    let stale = dir.path().join("stale.sock");
    drop(UnixListener::bind(&stale).unwrap());
    assert!(stale.exists());
    let server = StatusServer::start(t.hub(), &SocketOptions::new(&stale)).unwrap();
    assert!(Connection::connect(&stale, Duration::from_secs(5)).is_ok());

    // A second daemon on the same path is refused, and the first keeps serving.
    let err = StatusServer::start(t.hub(), &SocketOptions::new(&stale)).err().expect("in use");
    assert_eq!(err.kind(), std::io::ErrorKind::AddrInUse, "{err}");
    assert!(Connection::connect(&stale, Duration::from_secs(5)).is_ok());
    drop(server);

    // Not a socket: never removed.
    let file = dir.path().join("precious");
    std::fs::write(&file, "data").unwrap();
    let err = StatusServer::start(t.hub(), &SocketOptions::new(&file)).err().expect("a file");
    assert!(err.to_string().contains("not a socket"), "{err}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "data");
}

#[test]
fn too_many_clients_are_told_busy() {
    let dir = tempfile::tempdir().unwrap();
    let t = telemetry();
    let path = dir.path().join("status.sock");
    let options = SocketOptions { max_clients: 1, ..SocketOptions::new(&path) };
    let _server = StatusServer::start(t.hub(), &options).unwrap();
    let _first = Connection::connect(&path, Duration::from_secs(5)).unwrap();
    match Connection::connect(&path, Duration::from_secs(5)) {
        Err(cybexp_status::ClientError::Server(e)) => assert_eq!(e.code, "busy"),
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("second client served"),
    }
}

fn http(addr: SocketAddr, request: &str) -> (String, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    (head.to_owned(), body.to_owned())
}

#[test]
fn metrics_endpoint_serves_a_valid_exposition() {
    let t = telemetry();
    some_traffic(&t.probe());
    t.probe().polled(4, Duration::from_secs(16), None);
    assert!(t.flush(Duration::from_secs(5)));
    let server = MetricsServer::start(t.hub(), "127.0.0.1:0".parse().unwrap()).unwrap();
    let (head, body) = http(server.local_addr(), "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(head.contains(prometheus::CONTENT_TYPE), "{head}");
    let parsed = check::parse(&body).unwrap_or_else(|e| panic!("{e}\n{body}"));
    let outcome =
        |typtag, outcome| parsed.get("cybexp_archive_outcomes_total", &[("typtag", typtag), ("outcome", outcome)]);
    assert_eq!(outcome("feed", "success"), Some(1.0));
    assert_eq!(outcome("feed", "error"), Some(1.0));
    assert_eq!(outcome("we\"ird\\typ\ntag", "not_supported"), Some(1.0), "odd typtags survive escaping");
    assert_eq!(parsed.get("cybexp_archive_errors_total", &[("typtag", "feed"), ("cause", "parser.trap")]), Some(1.0));
    assert_eq!(parsed.get("cybexp_archive_retries_total", &[]), Some(1.0));
    assert_eq!(parsed.get("cybexp_archive_parse_duration_seconds_count", &[("parser", "json")]), Some(2.0));
    assert_eq!(
        parsed.get("cybexp_archive_parse_duration_seconds_bucket", &[("parser", "json"), ("le", "0.0005")]),
        Some(1.0)
    );
    assert_eq!(parsed.get("cybexp_archive_parse_duration_seconds_sum", &[("parser", "json")]), Some(0.0303));
    assert_eq!(parsed.get("cybexp_archive_parse_fuel_total", &[("parser", "json")]), Some(12_000.0));
    assert_eq!(parsed.get("cybexp_archive_parse_records_total", &[("parser", "json")]), Some(7_000.0));
    assert_eq!(parsed.get("cybexp_archive_parse_malformed_records_total", &[("parser", "json")]), Some(31.0));
    assert_eq!(parsed.types["cybexp_archive_parse_malformed_records_total"], "counter");
    assert_eq!(parsed.get("cybexp_archive_backoff_failures", &[]), Some(4.0));
    assert_eq!(parsed.get("cybexp_archive_backoff_sleep_seconds", &[]), Some(16.0));
    assert_eq!(parsed.get("cybexp_archive_key_info", &[("fingerprint", "00ff")]), Some(1.0));
    let build = [
        ("version", "9.9.9"),
        ("instance", "host:1"),
        ("commit", "0123abcd4567"),
        ("rsa_backend", "aws-lc"),
        ("wasmtime", "48.0.8"),
        ("profile", "release"),
    ];
    assert_eq!(parsed.get("cybexp_archive_build_info", &build), Some(1.0), "{body}");
    assert_eq!(parsed.types["cybexp_archive_parse_duration_seconds"], "histogram");
    assert_eq!(parsed.types["cybexp_archive_queue_entries"], "gauge");

    let (head, _) = http(server.local_addr(), "GET /nope HTTP/1.1\r\n\r\n");
    assert!(head.starts_with("HTTP/1.1 404"), "{head}");
    let (head, _) = http(server.local_addr(), "POST /metrics HTTP/1.1\r\n\r\n");
    assert!(head.starts_with("HTTP/1.1 405"), "{head}");
    let (head, body) = http(server.local_addr(), "HEAD /metrics HTTP/1.1\r\n\r\n");
    assert!(head.starts_with("HTTP/1.1 200") && body.is_empty(), "{head}");
}

/// `/health` and `/ready` answer as `Snapshot::health` decides: a failed
/// poll leaves the daemon live but not ready; a loop that has not moved for
/// minutes is neither. One line each, escaped.
#[test]
fn health_and_ready_follow_the_health_verdict() {
    let get = |server: &MetricsServer, path: &str| {
        let (head, body) = http(server.local_addr(), &format!("GET {path} HTTP/1.1\r\n\r\n"));
        (head.lines().next().unwrap().to_owned(), body)
    };
    let t = telemetry();
    let server = MetricsServer::start(t.hub(), "127.0.0.1:0".parse().unwrap()).unwrap();
    assert_eq!(get(&server, "/health"), ("HTTP/1.1 200 OK".into(), "live\n".into()));
    assert_eq!(get(&server, "/ready"), ("HTTP/1.1 200 OK".into(), "ready\n".into()));

    t.probe().polled(1, Duration::from_secs(2), Some("sqlite store unavailable: locked\u{1b}[2J\nat line 2"));
    assert!(t.flush(Duration::from_secs(5)));
    assert_eq!(get(&server, "/health"), ("HTTP/1.1 200 OK".into(), "live\n".into()));
    let (status, body) = get(&server, "/ready");
    assert_eq!(status, "HTTP/1.1 503 Service Unavailable");
    assert_eq!(body, "not ready: store unavailable: sqlite store unavailable: locked\\u{1b}[2J\n");
    let (head, body) = http(server.local_addr(), "HEAD /ready HTTP/1.1\r\n\r\n");
    assert!(head.starts_with("HTTP/1.1 503") && body.is_empty(), "{head}");

    // Started ten minutes ago and never polled: stalled.
    let t = telemetry_started_at(now_ms() - 600_000);
    let server = MetricsServer::start(t.hub(), "127.0.0.1:0".parse().unwrap()).unwrap();
    let (status, body) = get(&server, "/health");
    assert_eq!(status, "HTTP/1.1 503 Service Unavailable");
    assert!(body.starts_with("not live: loop stalled: no progress for ") && body.ends_with(" s\n"), "{body}");
    assert!(get(&server, "/ready").1.starts_with("not ready: loop stalled"));
}

/// One scrape with its own bound, timed: `Err` when it did not finish in `limit`.
fn timed_scrape(addr: SocketAddr, limit: Duration) -> Result<(String, Duration), String> {
    let started = Instant::now();
    let mut stream = TcpStream::connect(addr).map_err(|e| e.to_string())?;
    stream.set_read_timeout(Some(limit)).unwrap();
    stream.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n").map_err(|e| e.to_string())?;
    let mut response = String::new();
    stream.read_to_string(&mut response).map_err(|e| format!("after {:?}: {e}", started.elapsed()))?;
    Ok((response, started.elapsed()))
}

#[test]
fn a_slow_client_blocks_no_scrape_and_is_cut_off_at_the_request_deadline() {
    let t = telemetry();
    let server = MetricsServer::start(t.hub(), "127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = server.local_addr();

    // A byte every 200 ms of a head that never ends: each read is quick, the request is not.
    let slow = TcpStream::connect(addr).unwrap();
    let started = Instant::now();
    let trickle = {
        let mut slow = slow.try_clone().unwrap();
        std::thread::spawn(move || {
            let mut bytes = b"GET /metrics HTTP/1.1\r\n".iter().chain(std::iter::repeat(&b'x'));
            while started.elapsed() < Duration::from_secs(15) {
                if slow.write_all(&[*bytes.next().unwrap()]).is_err() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(200));
            }
        })
    };

    std::thread::sleep(Duration::from_millis(500));
    for _ in 0..3 {
        // Its read bound is far shorter than the slow request's deadline:
        // a scrape that waited on the slow client fails here.
        let (response, _) = timed_scrape(addr, Duration::from_secs(3)).expect("a scrape waited on the slow client");
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    }

    // The server hangs up on the slow client once its whole request's time is up.
    slow.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    let mut answer = Vec::new();
    let hung_up = (&slow).read_to_end(&mut answer);
    let cut_after = started.elapsed();
    // The server ended it (the read saw the end, not its own timeout), and
    // not before the deadline. How soon after is not this test's to say.
    assert!(
        hung_up.is_ok() && cut_after >= prometheus::REQUEST_DEADLINE - Duration::from_millis(200),
        "the slow client ({hung_up:?}) after {cut_after:?}, the deadline is {:?}",
        prometheus::REQUEST_DEADLINE
    );
    assert!(answer.is_empty(), "an unfinished request gets no answer: {:?}", String::from_utf8_lossy(&answer));
    trickle.join().unwrap();
}

#[test]
fn connections_beyond_the_cap_are_told_busy_at_once() {
    let t = telemetry();
    let server = MetricsServer::start(t.hub(), "127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = server.local_addr();
    // A flood of idle connections takes every slot...
    let idle: Vec<TcpStream> = (0..prometheus::MAX_CONNECTIONS).map(|_| TcpStream::connect(addr).unwrap()).collect();
    // ... so the next one (accepted after them, in order) is answered 503 at once, not queued.
    // The idle ones hold their slots until the request deadline, longer
    // than these reads wait: an answer within them was not queued.
    assert!(prometheus::REQUEST_DEADLINE > Duration::from_secs(2));
    let mut extra = TcpStream::connect(addr).unwrap();
    extra.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let mut response = String::new();
    extra.read_to_string(&mut response).expect("the extra connection was not answered");
    assert!(response.starts_with("HTTP/1.1 503"), "{response}");
    // A scraper that sent its request first is answered (or, if its request
    // arrived after the answer, reset) at once too: never left waiting.
    match timed_scrape(addr, Duration::from_secs(2)) {
        Ok((response, _)) => assert!(response.starts_with("HTTP/1.1 503"), "{response}"),
        Err(e) => assert!(e.contains("reset"), "{e}"),
    }
    // Once the flood hangs up its slots come back, before the deadline
    // would have freed them.
    drop(idle);
    cybexp_test_kit::wait_for("a slot after the flood left", prometheus::REQUEST_DEADLINE / 2, |seen| {
        let (response, _) = timed_scrape(addr, Duration::from_secs(2)).unwrap();
        *seen = response;
        seen.starts_with("HTTP/1.1 200").then_some(())
    });
}

#[test]
fn an_idle_daemon_renders_a_valid_exposition_too() {
    let t = telemetry();
    let text = prometheus::render(&t.snapshot());
    let parsed = check::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(parsed.get("cybexp_archive_outcomes_total", &[("typtag", "feed"), ("outcome", "success")]), Some(0.0));
    assert_eq!(parsed.get("cybexp_archive_parse_duration_seconds_count", &[("parser", "json")]), Some(0.0));
}

/// Runs `f` on a thread and insists it returns within `limit`.
fn returns_within(limit: Duration, f: impl FnOnce() + Send + 'static) {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        f();
        let _ = tx.send(());
    });
    rx.recv_timeout(limit).expect("did not return in time");
}

#[test]
fn stopping_never_hangs_even_without_the_socket_file() {
    let dir = tempfile::tempdir().unwrap();
    let t = telemetry();
    let path = dir.path().join("status.sock");
    let server = StatusServer::start(t.hub(), &SocketOptions::new(&path)).unwrap();
    let client = Connection::connect(&path, Duration::from_secs(5)).unwrap();
    // Someone removed the file (tmpfiles, an operator): the daemon must still stop.
    std::fs::remove_file(&path).unwrap();
    returns_within(Duration::from_secs(5), move || drop(server));
    drop(client);
    let metrics = MetricsServer::start(t.hub(), "127.0.0.1:0".parse().unwrap()).unwrap();
    returns_within(Duration::from_secs(5), move || drop(metrics));
    returns_within(Duration::from_secs(5), move || drop(t));
}
