//! Prometheus text exposition (format 0.0.4) of a [`Snapshot`], and a small
//! HTTP listener serving it at `/metrics`, with `/health` (liveness) and
//! `/ready` (readiness) beside it. Off unless configured; meant for
//! loopback (a local agent scrapes it).
//!
//! Names follow the conventions: `cybexp_archive_` prefix, `_total` for
//! counters, base units (`_seconds`), a histogram for parse time, gauges for
//! the queue and the backoff, `_info` gauges (value 1) for identity.
//!
//! Hand-written, not the `prometheus` or `prometheus-client` crates: every
//! value is read from one [`Snapshot`] at scrape time, so their registry of
//! live metric objects would be a second copy of the telemetry to keep in
//! step; the text format is two comment lines and a few samples per family,
//! and `tests/tests/dashboard.rs` checks it with `promtool check metrics`.

use std::fmt::{Display, Write as _};
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use cybexp_status::{Problem, Snapshot};

use crate::Hub;

/// The `Content-Type` of the text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The text being written. Each family is opened once with its name, type
/// and help ([`Exposition::family`]), and its samples are written through
/// what that returns, so a metric's name is typed once.
struct Exposition {
    text: String,
}

/// A metric family's type.
#[derive(Clone, Copy)]
enum Kind {
    Counter,
    Gauge,
    Histogram,
}

impl Exposition {
    fn family(&mut self, name: &'static str, kind: Kind, help: &str) -> Family<'_> {
        let kind = match kind {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        };
        let _ = writeln!(self.text, "# HELP {name} {help}");
        let _ = writeln!(self.text, "# TYPE {name} {kind}");
        Family { text: &mut self.text, name }
    }
}

/// An open family: its samples.
struct Family<'a> {
    text: &'a mut String,
    name: &'static str,
}

impl Family<'_> {
    fn sample(&mut self, labels: &[(&str, &str)], value: impl Display) -> &mut Self {
        self.series("", labels, value)
    }

    /// A sample of one of the family's series (a histogram's `_bucket`,
    /// `_sum`, `_count`).
    fn series(&mut self, suffix: &str, labels: &[(&str, &str)], value: impl Display) -> &mut Self {
        self.text.push_str(self.name);
        self.text.push_str(suffix);
        if !labels.is_empty() {
            self.text.push('{');
            for (i, (key, value)) in labels.iter().enumerate() {
                if i > 0 {
                    self.text.push(',');
                }
                let _ = write!(self.text, "{key}=\"{}\"", escape_label(value));
            }
            self.text.push('}');
        }
        let _ = writeln!(self.text, " {value}");
        self
    }
}

/// Label values escape `\`, `"` and newlines.
pub fn escape_label(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

fn seconds(ms: u64) -> f64 {
    ms as f64 / 1000.0
}

/// The whole exposition for one snapshot.
pub fn render(s: &Snapshot) -> String {
    let mut m = Exposition { text: String::with_capacity(4096) };
    identity(&mut m, s);
    outcomes(&mut m, s);
    parsers(&mut m, s);
    queue_and_loop(&mut m, s);
    workers_and_telemetry(&mut m, s);
    m.text
}

fn identity(m: &mut Exposition, s: &Snapshot) {
    use Kind::Gauge;
    let id = &s.identity;
    let labels = [
        ("version", &id.version),
        ("instance", &id.instance),
        ("commit", &id.commit),
        ("rsa_backend", &id.rsa_backend),
        ("wasmtime", &id.wasmtime),
        ("profile", &id.profile),
    ];
    m.family(
        "cybexp_archive_build_info",
        Gauge,
        "The archiver's version, instance, commit, RSA backend, wasmtime version and build profile; always 1.",
    )
    .sample(&labels.map(|(name, value)| (name, value.as_str())), 1);
    m.family("cybexp_archive_store_info", Gauge, "The configured backends; always 1.")
        .sample(&[("role", "lake"), ("backend", &id.lake)], 1)
        .sample(&[("role", "archive"), ("backend", &id.archive)], 1);
    let mut keys = m.family("cybexp_archive_key_info", Gauge, "Fingerprints of the loaded private keys; always 1.");
    for fingerprint in &id.key_fingerprints {
        keys.sample(&[("fingerprint", fingerprint)], 1);
    }
    let mut parsers =
        m.family("cybexp_archive_parser_info", Gauge, "Loaded parser components and their versions; always 1.");
    for p in &id.parsers {
        parsers.sample(
            &[("parser", &p.name), ("component", &p.component), ("version", &p.version), ("sha256", &p.sha256)],
            1,
        );
    }
    m.family("cybexp_archive_start_time_seconds", Gauge, "When the daemon started, seconds since the epoch.")
        .sample(&[], seconds(id.started_at_ms));
    m.family(
        "cybexp_archive_config_generation",
        Gauge,
        "The config in effect: 1 at start, +1 per reload that took effect.",
    )
    .sample(&[], id.config.generation);
    m.family("cybexp_archive_config_loaded_time_seconds", Gauge, "When the config in effect was loaded.")
        .sample(&[], seconds(id.config.loaded_at_ms));
    m.family(
        "cybexp_archive_config_last_reload_failed",
        Gauge,
        "1 when the last reload was refused (the daemon runs on the previous config), else 0.",
    )
    .sample(&[], u8::from(id.config.last_reload_error.is_some()));
}

fn outcomes(m: &mut Exposition, s: &Snapshot) {
    let mut outcomes =
        m.family("cybexp_archive_outcomes_total", Kind::Counter, "Entries marked, by typtag and outcome.");
    for t in &s.typtags {
        for (outcome, n) in
            [("success", t.counts.success), ("not_supported", t.counts.not_supported), ("error", t.counts.error)]
        {
            outcomes.sample(&[("typtag", &t.typtag), ("outcome", outcome)], n);
        }
    }
    let mut errors = m.family("cybexp_archive_errors_total", Kind::Counter, "ERROR outcomes by typtag and cause.");
    for t in &s.typtags {
        for (cause, n) in &t.causes {
            errors.sample(&[("typtag", &t.typtag), ("cause", cause)], n);
        }
    }
    m.family("cybexp_archive_retries_total", Kind::Counter, "Entries released for a retry after a database failure.")
        .sample(&[], s.retried);
    let mut requeued = m.family(
        "cybexp_archive_requeued_outcomes_total",
        Kind::Counter,
        "Outcomes of entries an operator had requeued (they carry a requeue history), by outcome.",
    );
    let r = &s.requeued;
    for (outcome, n) in [("success", r.success), ("not_supported", r.not_supported), ("error", r.error)] {
        requeued.sample(&[("outcome", outcome)], n);
    }
}

fn parsers(m: &mut Exposition, s: &Snapshot) {
    let mut time =
        m.family("cybexp_archive_parse_duration_seconds", Kind::Histogram, "Time of one sandboxed parse, by parser.");
    for p in &s.parsers {
        let h = &p.parse_time;
        let mut cumulative = 0;
        for (bound, n) in h.bounds_us.iter().zip(&h.counts) {
            cumulative += n;
            let le = (*bound as f64 / 1e6).to_string();
            time.series("_bucket", &[("parser", &p.name), ("le", &le)], cumulative);
        }
        time.series("_bucket", &[("parser", &p.name), ("le", "+Inf")], h.count)
            .series("_sum", &[("parser", &p.name)], h.sum_us as f64 / 1e6)
            .series("_count", &[("parser", &p.name)], h.count);
    }
    // One counter per parser each: (name, help, the value).
    type PerParser = fn(&cybexp_status::ParserStats) -> u64;
    let counters: [(&'static str, &str, PerParser); 3] = [
        ("cybexp_archive_parse_fuel_total", "Fuel (wasm instructions, roughly) used, by parser.", |p| p.fuel_total),
        ("cybexp_archive_parse_records_total", "Records (URLs, events, messages) parsed, by parser.", |p| p.records),
        (
            "cybexp_archive_parse_malformed_records_total",
            "Malformed records stored as received (a feed degrading), by parser.",
            |p| p.malformed,
        ),
    ];
    for (name, help, value) in counters {
        let mut family = m.family(name, Kind::Counter, help);
        for p in &s.parsers {
            family.sample(&[("parser", &p.name)], value(p));
        }
    }
}

fn queue_and_loop(m: &mut Exposition, s: &Snapshot) {
    use Kind::{Counter, Gauge};
    let mut entries =
        m.family("cybexp_archive_queue_entries", Gauge, "Entries in the cache lake: waiting, or skipped.");
    if let (Some(waiting), Some(skipped)) = (s.queue.waiting, s.queue.skipped) {
        entries.sample(&[("state", "waiting")], waiting).sample(&[("state", "skipped")], skipped);
    }
    let mut lag = m.family(
        "cybexp_archive_queue_oldest_waiting_age_seconds",
        Gauge,
        "How long the oldest waiting entry had waited when the queue was sampled; 0 when none waits.",
    );
    if let Some(age) = s.queue.oldest_waiting_age_ms() {
        lag.sample(&[], seconds(age));
    }
    let mut sampled =
        m.family("cybexp_archive_queue_sampled_timestamp_seconds", Gauge, "When the queue depth was last sampled.");
    if let Some(at) = s.queue.sampled_at_ms {
        sampled.sample(&[], seconds(at));
    }

    let l = &s.loop_state;
    m.family("cybexp_archive_polls_total", Counter, "Polls of the cache lake.").sample(&[], l.polls);
    m.family("cybexp_archive_poll_errors_total", Counter, "Polls that failed (store unavailable).")
        .sample(&[], l.poll_errors);
    m.family("cybexp_archive_backoff_failures", Gauge, "The backoff's count of polls in a row without a SUCCESS.")
        .sample(&[], l.failures);
    m.family("cybexp_archive_backoff_sleep_seconds", Gauge, "The sleep chosen after the last poll.")
        .sample(&[], seconds(l.sleep_ms));
    let next = l.next_poll_at_ms.map_or(0, |next| next.saturating_sub(s.taken_at_ms));
    m.family("cybexp_archive_next_poll_seconds", Gauge, "Time until the next poll; 0 while working.")
        .sample(&[], seconds(next));
}

fn workers_and_telemetry(m: &mut Exposition, s: &Snapshot) {
    use Kind::{Counter, Gauge};
    m.family("cybexp_archive_workers", Gauge, "Worker threads.").sample(&[], s.workers.count);
    m.family("cybexp_archive_entries_in_flight", Gauge, "Entries being decrypted and parsed now.")
        .sample(&[], s.workers.in_flight);
    m.family(
        "cybexp_archive_worker_busy_seconds_total",
        Counter,
        "Worker time spent on entries; rate() over workers is the utilisation.",
    )
    .sample(&[], seconds(s.workers.busy_ms));
    m.family(
        "cybexp_archive_telemetry_events_dropped_total",
        Counter,
        "Telemetry detail events dropped (totals stay exact).",
    )
    .sample(&[], s.telemetry.dropped_events);
    m.family("cybexp_archive_status_clients", Gauge, "Clients connected to the status socket.")
        .sample(&[], s.telemetry.clients);
}

/// The running listener; dropping it stops it.
///
/// Each connection is answered on its own thread, at most
/// [`MAX_CONNECTIONS`] at once, and each has [`REQUEST_DEADLINE`] for the
/// whole exchange (reading the request and writing the answer), so a client
/// that trickles bytes neither holds the listener nor outlives the deadline.
/// A connection beyond the cap is answered `503` at once by the accepting
/// thread and closed. Threads, not an async runtime: scrapes are rare, and
/// the cap bounds the threads (`tests/endpoints.rs` checks both bounds).
pub struct MetricsServer {
    addr: SocketAddr,
    listener: TcpListener,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// The bound on one whole exchange: reading the request and writing the
/// answer. Half Prometheus's default 10 s scrape timeout.
pub const REQUEST_DEADLINE: Duration = Duration::from_secs(5);
/// Connections answered at once; more are told `503` and closed. A scraper
/// or two plus a curl need far fewer; a flood gets no more threads than this.
pub const MAX_CONNECTIONS: usize = 8;
/// How long the accepting thread spends telling an extra connection `503`
/// (a fresh socket's send buffer takes it at once; this only bounds a
/// pathological peer).
const BUSY_WRITE_TIMEOUT: Duration = Duration::from_millis(100);
/// Longest request head read.
const MAX_HEAD: usize = 8 << 10;

/// Gives back a connection slot when a connection's thread ends (or fails to start).
struct Slot(Arc<AtomicUsize>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl MetricsServer {
    /// Listens on `addr` (port 0 picks one: see [`MetricsServer::local_addr`]).
    pub fn start(hub: Hub, addr: SocketAddr) -> io::Result<MetricsServer> {
        let listener = TcpListener::bind(addr)
            .map_err(|e| io::Error::new(e.kind(), format!("binding the metrics listener {addr}: {e}")))?;
        let addr = listener.local_addr()?;
        let wake = listener.try_clone()?;
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let stop = stop.clone();
            std::thread::Builder::new().name("metrics".into()).spawn(move || accept_loop(&hub, &listener, &stop))?
        };
        Ok(MetricsServer { addr, listener: wake, stop, thread: Some(thread) })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }
}

fn accept_loop(hub: &Hub, listener: &TcpListener, stop: &AtomicBool) {
    let active = Arc::new(AtomicUsize::new(0));
    for stream in listener.incoming() {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        let Ok(mut stream) = stream else {
            // E.g. out of file descriptors: do not spin on it.
            std::thread::sleep(Duration::from_millis(10));
            continue;
        };
        if active.fetch_add(1, Ordering::AcqRel) >= MAX_CONNECTIONS {
            active.fetch_sub(1, Ordering::AcqRel);
            let _ = busy(&mut stream);
            continue;
        }
        let deadline = Instant::now() + REQUEST_DEADLINE;
        let slot = Slot(active.clone());
        let hub = hub.clone();
        // A failed spawn drops the closure: the slot comes back, the client sees a close.
        let _ = std::thread::Builder::new().name("metrics-conn".into()).spawn(move || {
            let _slot = slot;
            let _ = answer(&hub, stream, deadline);
        });
    }
}

fn busy(stream: &mut TcpStream) -> io::Result<()> {
    stream.set_write_timeout(Some(BUSY_WRITE_TIMEOUT))?;
    let body = b"busy: too many metrics connections\n";
    let head = format!(
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nRetry-After: 1\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    // Closing with unread bytes sends a reset, which may discard the answer
    // at the peer: read off what has arrived, without waiting for more.
    stream.shutdown(std::net::Shutdown::Write)?;
    stream.set_nonblocking(true)?;
    while matches!(stream.read(&mut [0u8; 1024]), Ok(1..)) {}
    Ok(())
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        crate::server::shutdown_listener(std::os::fd::AsRawFd::as_raw_fd(&self.listener));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// What is left until `deadline`, or `TimedOut` once it has passed.
fn remaining(deadline: Instant) -> io::Result<Duration> {
    match deadline.checked_duration_since(Instant::now()) {
        Some(left) if !left.is_zero() => Ok(left),
        _ => Err(io::Error::new(io::ErrorKind::TimedOut, "metrics request deadline passed")),
    }
}

fn answer(hub: &Hub, mut stream: TcpStream, deadline: Instant) -> io::Result<()> {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && !head.windows(2).any(|w| w == b"\n\n") {
        // Each read may wait only for what is left of the whole request's time.
        stream.set_read_timeout(Some(remaining(deadline)?))?;
        let n = stream.read(&mut buf)?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
        if head.len() > MAX_HEAD {
            return respond(&mut stream, deadline, "431 Request Header Fields Too Large", "text/plain", b"", false);
        }
    }
    let head = String::from_utf8_lossy(&head);
    let mut parts = head.lines().next().unwrap_or_default().split_whitespace();
    let (method, target) = (parts.next().unwrap_or_default(), parts.next().unwrap_or_default());
    let path = target.split('?').next().unwrap_or_default();
    let head_only = method == "HEAD";
    let stream = &mut stream;
    match (method, path) {
        ("GET" | "HEAD", "/metrics") => {
            let body = render(&hub.snapshot());
            respond(stream, deadline, "200 OK", CONTENT_TYPE, body.as_bytes(), head_only)
        }
        ("GET" | "HEAD", "/health" | "/ready") => {
            let (status, body) = probe(&hub.snapshot(), path == "/ready");
            respond(stream, deadline, status, "text/plain", body.as_bytes(), head_only)
        }
        ("GET" | "HEAD", "/") => {
            let body = b"cybexp-archive: metrics at /metrics, liveness at /health, readiness at /ready\n";
            respond(stream, deadline, "200 OK", "text/plain", body, head_only)
        }
        ("GET" | "HEAD", _) => respond(stream, deadline, "404 Not Found", "text/plain", b"not found\n", head_only),
        _ => respond(stream, deadline, "405 Method Not Allowed", "text/plain", b"GET only\n", false),
    }
}

/// `/health` (liveness) or `/ready` (readiness): 200 or 503, and one line
/// saying why, as [`Snapshot::health`] decides (the same verdict as
/// `status --check`). Escaped: a store's error may quote anything.
fn probe(snapshot: &Snapshot, readiness: bool) -> (&'static str, String) {
    let health = snapshot.health();
    let (what, keep): (&str, fn(&Problem) -> bool) =
        if readiness { ("ready", Problem::ready) } else { ("live", Problem::live) };
    match health.why_not(keep) {
        None => ("200 OK", format!("{what}\n")),
        Some(problem) => (
            "503 Service Unavailable",
            format!("not {what}: {}\n", cybexp_status::untrusted::escape(&problem.to_string())),
        ),
    }
}

fn respond(
    stream: &mut TcpStream,
    deadline: Instant,
    status: &str,
    content_type: &str,
    body: &[u8],
    head_only: bool,
) -> io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nAllow: GET, HEAD\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let body = if head_only { &[][..] } else { body };
    for mut piece in [head.as_bytes(), body] {
        // `write_all` would bound each write, not the whole: write by hand.
        while !piece.is_empty() {
            stream.set_write_timeout(Some(remaining(deadline)?))?;
            match stream.write(piece) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => piece = &piece[n..],
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
    stream.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape_label("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
    }

    #[test]
    fn the_lag_is_the_oldest_waiting_entry_at_the_sample() {
        const LAG: &str = "cybexp_archive_queue_oldest_waiting_age_seconds";
        let lag = |queue: cybexp_status::Queue| {
            let text = render(&Snapshot { queue, ..Default::default() });
            check::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}")).get(LAG, &[])
        };
        let sampled = |oldest_waiting_at_ms| cybexp_status::Queue {
            waiting: Some(3),
            skipped: Some(0),
            sampled_at_ms: Some(1_000_000),
            oldest_waiting_at_ms,
            ..Default::default()
        };
        assert_eq!(lag(sampled(Some(808_000))), Some(192.0));
        assert_eq!(lag(sampled(None)), Some(0.0), "nothing waits: no lag");
        assert_eq!(lag(cybexp_status::Queue::default()), None, "absent until the first sample");
    }
}

/// A strict reader of the text format, independent of [`render`]: the tests
/// (here and end to end) check every exposition with it.
pub mod check {
    use std::collections::{BTreeMap, BTreeSet};

    /// Label pairs, sorted by name.
    pub type Labels = Vec<(String, String)>;
    /// One series: metric name and sorted labels.
    pub type Series = (String, Labels);

    /// What a valid exposition holds: each family's type, and each series' value.
    #[derive(Debug, Default)]
    pub struct Parsed {
        pub types: BTreeMap<String, String>,
        pub values: BTreeMap<Series, f64>,
    }

    impl Parsed {
        /// The value of `name` with exactly these labels.
        pub fn get(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
            let mut labels: Vec<(String, String)> =
                labels.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
            labels.sort();
            self.values.get(&(name.to_owned(), labels)).copied()
        }

        /// Sum over every series of `name`.
        pub fn sum(&self, name: &str) -> f64 {
            self.values.iter().filter(|((n, _), _)| n == name).map(|(_, v)| v).sum()
        }
    }

    fn is_name(s: &str, colons: bool) -> bool {
        let mut chars = s.chars();
        matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || (colons && c == ':'))
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || (colons && c == ':'))
    }

    fn value(s: &str) -> Option<f64> {
        match s {
            "NaN" => Some(f64::NAN),
            "+Inf" | "Inf" => Some(f64::INFINITY),
            "-Inf" => Some(f64::NEG_INFINITY),
            _ => s.parse().ok().filter(|v: &f64| v.is_finite()),
        }
    }

    /// `{a="x",b="y"}` → labels, and the rest of the line.
    fn labels(s: &str) -> Result<(Labels, &str), String> {
        let mut out = Vec::new();
        let mut rest = s.strip_prefix('{').ok_or("expected '{'")?;
        loop {
            rest = rest.trim_start();
            if let Some(after) = rest.strip_prefix('}') {
                return Ok((out, after));
            }
            let eq = rest.find('=').ok_or("label without '='")?;
            let name = rest[..eq].trim();
            if !is_name(name, false) || name.starts_with("__") {
                return Err(format!("bad label name {name:?}"));
            }
            rest = rest[eq + 1..].strip_prefix('"').ok_or("label value not quoted")?;
            let mut val = String::new();
            let mut chars = rest.char_indices();
            let end = loop {
                match chars.next() {
                    None => return Err("unterminated label value".into()),
                    Some((i, '"')) => break i,
                    Some((_, '\\')) => match chars.next() {
                        Some((_, '\\')) => val.push('\\'),
                        Some((_, '"')) => val.push('"'),
                        Some((_, 'n')) => val.push('\n'),
                        other => return Err(format!("bad escape {other:?}")),
                    },
                    Some((_, '\n')) => return Err("raw newline in label value".into()),
                    Some((_, c)) => val.push(c),
                }
            };
            if out.iter().any(|(n, _): &(String, String)| n == name) {
                return Err(format!("label {name} twice"));
            }
            out.push((name.to_owned(), val));
            rest = &rest[end + 1..];
            rest = rest.strip_prefix(',').unwrap_or(rest);
        }
    }

    /// The family a sample belongs to, given the declared types.
    fn family<'a>(name: &'a str, types: &BTreeMap<String, String>) -> &'a str {
        for suffix in ["_bucket", "_sum", "_count"] {
            if let Some(base) = name.strip_suffix(suffix)
                && types.get(base).is_some_and(|t| t == "histogram" || t == "summary")
            {
                return base;
            }
        }
        name
    }

    /// Checks the grammar and the conventions this exporter promises:
    /// HELP and TYPE before a family's samples, families contiguous, no
    /// duplicate series, counters named `_total` and never negative,
    /// histograms with ascending `le`, cumulative buckets, `+Inf == _count`
    /// and a `_sum`.
    pub fn parse(text: &str) -> Result<Parsed, String> {
        let mut parsed = Parsed::default();
        let mut helped = BTreeSet::new();
        let mut finished = BTreeSet::new();
        let mut current: Option<String> = None;
        if !text.is_empty() && !text.ends_with('\n') {
            return Err("the exposition must end with a newline".into());
        }
        for (n, line) in text.lines().enumerate() {
            let at = |why: String| format!("line {}: {why}: {line:?}", n + 1);
            if line.trim().is_empty() {
                continue;
            }
            if let Some(comment) = line.strip_prefix('#') {
                let mut words = comment.trim_start().splitn(3, ' ');
                match (words.next(), words.next(), words.next()) {
                    (Some("HELP"), Some(name), _) if !is_name(name, true) || !helped.insert(name.to_owned()) => {
                        return Err(at("bad or repeated HELP".into()));
                    }
                    (Some("TYPE"), Some(name), Some(kind)) => {
                        if !["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind) {
                            return Err(at(format!("unknown type {kind}")));
                        }
                        if parsed.types.insert(name.to_owned(), kind.to_owned()).is_some() {
                            return Err(at("TYPE repeated".into()));
                        }
                        if kind == "counter" && !name.ends_with("_total") {
                            return Err(at("a counter's name must end in _total".into()));
                        }
                        if kind != "counter" && name.ends_with("_total") {
                            return Err(at("only counters end in _total".into()));
                        }
                    }
                    _ => {}
                }
                continue;
            }
            let name_end = line.find(['{', ' ']).ok_or_else(|| at("no value".into()))?;
            let name = &line[..name_end];
            if !is_name(name, true) {
                return Err(at(format!("bad metric name {name:?}")));
            }
            let (mut labels, rest) = if line[name_end..].starts_with('{') {
                labels(&line[name_end..]).map_err(at)?
            } else {
                (Vec::new(), &line[name_end..])
            };
            let mut fields = rest.split_whitespace();
            let v = fields.next().and_then(value).ok_or_else(|| at("bad value".into()))?;
            if let Some(ts) = fields.next()
                && ts.parse::<i64>().is_err()
            {
                return Err(at("bad timestamp".into()));
            }
            if fields.next().is_some() {
                return Err(at("trailing fields".into()));
            }
            let family = family(name, &parsed.types).to_owned();
            let kind = parsed.types.get(&family).ok_or_else(|| at("sample before its TYPE".into()))?.clone();
            if !helped.contains(&family) {
                return Err(at("sample without HELP".into()));
            }
            if current.as_deref() != Some(family.as_str()) {
                if finished.contains(&family) {
                    return Err(at("family split in two".into()));
                }
                if let Some(previous) = current.replace(family.clone()) {
                    finished.insert(previous);
                }
            }
            if kind == "counter" && v < 0.0 {
                return Err(at("negative counter".into()));
            }
            if kind == "histogram" && name.ends_with("_bucket") && !labels.iter().any(|(k, _)| k == "le") {
                return Err(at("bucket without le".into()));
            }
            labels.sort();
            if parsed.values.insert((name.to_owned(), labels), v).is_some() {
                return Err(at("duplicate series".into()));
            }
        }
        check_histograms(&parsed)?;
        Ok(parsed)
    }

    fn check_histograms(parsed: &Parsed) -> Result<(), String> {
        for (family, _) in parsed.types.iter().filter(|(_, kind)| *kind == "histogram") {
            // Group buckets by their labels without `le`.
            let mut groups: BTreeMap<Labels, Vec<(f64, f64)>> = BTreeMap::new();
            for ((name, labels), v) in &parsed.values {
                if *name != format!("{family}_bucket") {
                    continue;
                }
                let le = labels.iter().find(|(k, _)| k == "le").map(|(_, v)| v.as_str()).unwrap_or_default();
                let le = value(le).ok_or_else(|| format!("{family}: bad le {le:?}"))?;
                let rest: Vec<_> = labels.iter().filter(|(k, _)| k != "le").cloned().collect();
                groups.entry(rest).or_default().push((le, *v));
            }
            for (labels, mut buckets) in groups {
                buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
                if buckets.last().map(|b| b.0) != Some(f64::INFINITY) {
                    return Err(format!("{family}{labels:?}: no +Inf bucket"));
                }
                if buckets.windows(2).any(|w| w[1].1 < w[0].1) {
                    return Err(format!("{family}{labels:?}: buckets not cumulative"));
                }
                let count = parsed.values.get(&(format!("{family}_count"), labels.clone()));
                if count != buckets.last().map(|b| &b.1) {
                    return Err(format!("{family}{labels:?}: _count {count:?} is not the +Inf bucket"));
                }
                if !parsed.values.contains_key(&(format!("{family}_sum"), labels.clone())) {
                    return Err(format!("{family}{labels:?}: no _sum"));
                }
            }
        }
        Ok(())
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn accepts_a_valid_exposition() {
            let text = "# HELP a_total A.\n# TYPE a_total counter\na_total{x=\"q\\\"\\\\\\n\"} 3\n\
                        # HELP h H.\n# TYPE h histogram\nh_bucket{le=\"0.5\"} 1\nh_bucket{le=\"+Inf\"} 2\n\
                        h_sum 0.7\nh_count 2\n";
            let parsed = parse(text).unwrap();
            assert_eq!(parsed.get("a_total", &[("x", "q\"\\\n")]), Some(3.0));
            assert_eq!(parsed.get("h_count", &[]), Some(2.0));
        }

        #[test]
        fn refuses_what_prometheus_would_refuse_or_flag() {
            let bad = [
                ("a 1\n", "before its TYPE"),
                ("# HELP a_total A.\n# TYPE a_total counter\na_total -1\n", "negative"),
                ("# HELP a A.\n# TYPE a counter\na 1\n", "_total"),
                ("# HELP a A.\n# TYPE a gauge\na{b=\"1\"} 1\na{b=\"1\"} 2\n", "duplicate"),
                ("# HELP a A.\n# TYPE a gauge\na{b=1} 1\n", "not quoted"),
                ("# HELP a A.\n# TYPE a gauge\na{b=\"\\t\"} 1\n", "bad escape"),
                ("# HELP a A.\n# TYPE a gauge\na one\n", "bad value"),
                ("# HELP a A.\n# TYPE a gauge\n# HELP b B.\n# TYPE b gauge\na 1\nb 1\na{x=\"1\"} 1\n", "split"),
                (
                    "# HELP h H.\n# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n",
                    "cumulative",
                ),
                ("# HELP h H.\n# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 3\n", "_count"),
                ("# HELP h H.\n# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_sum 1\nh_count 2\n", "+Inf"),
                ("# HELP a A.\n# TYPE a gauge\na 1", "newline"),
            ];
            for (text, why) in bad {
                let err = parse(text).expect_err(text);
                assert!(err.contains(why), "{text:?}: {err}");
            }
        }
    }
}
