//! Watching a running archiver: the real `cybexp-archive run` with
//! submitted data, read through `status`, the Prometheus endpoint and `top`
//! (in tmux, as an operator would), every number checked against `dump`.
//! `top` must show a killed daemon as disconnected and recover when it is
//! back. No status output may carry key material or plaintext.
//!
//! tmux: missing outside CI, the `top` tests print a loud SKIPPED line; under
//! `CI=true` they fail (`.ci/run` installs it). MongoDB: as in `embedded.rs`.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use cybexp_tests::{Archiver, Backend, Daemon, new_entry, tool_or_skip, vector_cases, wait_for};
use serde_json::Value;

cybexp_tests::on_both_backends!(status_and_metrics_match_dump_and_leak_nothing, top_shows_the_numbers_dump_shows);

/// In one feed's plaintext; must never appear in any status output.
const PLAINTEXT_MARKER: &str = "PLAINTEXT-MARKER-5d1c9e";

/// A `cybexp-archive run` child, started and answering on its status socket.
fn start_daemon(archiver: &Archiver) -> Daemon {
    let daemon = Daemon::spawn(archiver, "warn");
    let pid = daemon.pid();
    wait_for("the daemon's status socket", Duration::from_secs(60), |seen| {
        let snapshot = status_json(archiver, seen)?;
        (snapshot["identity"]["pid"] == pid).then_some(())
    });
    daemon
}

/// `status --json`, parsed; `None` (and what happened in `seen`) if it failed.
fn status_json(archiver: &Archiver, seen: &mut String) -> Option<Value> {
    let out = archiver.run(&["status", "--json"]);
    *seen = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    out.status.success().then(|| serde_json::from_slice(&out.stdout).unwrap())
}

/// What `dump cache` says, per typtag: [success, not supported, error], and
/// the ERROR causes.
#[derive(Debug, Default, PartialEq)]
struct Expected {
    typtags: BTreeMap<String, [u64; 3]>,
    causes: BTreeMap<String, u64>,
}

impl Expected {
    fn total(&self) -> u64 {
        self.typtags.values().flatten().sum()
    }
}

fn from_dump(archiver: &Archiver) -> Expected {
    let mut expected = Expected::default();
    for entry in archiver.dump("cache") {
        let counts = expected.typtags.entry(entry["typtag"].as_str().unwrap().to_owned()).or_default();
        if entry["processed"] == true {
            counts[0] += 1;
        } else if entry["state"] == "not_supported" {
            counts[1] += 1;
        } else if entry["skip"] == true {
            counts[2] += 1;
            *expected.causes.entry(entry["cause"].as_str().unwrap().to_owned()).or_default() += 1;
        }
    }
    expected
}

/// The same, from a status snapshot.
fn from_status(snapshot: &Value) -> Expected {
    let mut seen = Expected::default();
    for t in snapshot["typtags"].as_array().unwrap() {
        let n = |k: &str| t[k].as_u64().unwrap();
        let counts = [n("success"), n("not_supported"), n("error")];
        if counts != [0; 3] {
            seen.typtags.insert(t["typtag"].as_str().unwrap().to_owned(), counts);
        }
    }
    for (cause, n) in snapshot["causes"].as_object().unwrap() {
        seen.causes.insert(cause.clone(), n.as_u64().unwrap());
    }
    seen
}

/// Submits all three outcomes: vector feeds (SUCCESS), an unrouted typtag
/// (NOT_SUPPORTED), input the parser refuses and a tampered blob (ERROR).
/// Returns how many entries.
fn submit_mix(archiver: &Archiver) -> u64 {
    let lake = archiver.lake();
    let key = archiver.public_key();
    let seal = |text: &str| cybexp_keys::legacy::encrypt(&key, text.as_bytes()).unwrap();
    let mut n = 0;
    for (i, case) in vector_cases("vectors/raw_documents.json").iter().enumerate() {
        let entry = new_entry(case["typtag"].as_str().unwrap(), &format!("vector-{i}"));
        lake.submit(&entry, &seal(case["plaintext"].as_str().unwrap())).unwrap();
        n += 1;
    }
    for i in 0..3 {
        lake.submit(&new_entry("generic-json", &format!("json-{i}")), &seal(&format!("{{\"ioc\": {i}}}"))).unwrap();
        lake.submit(&new_entry("misp-event", &format!("misp-{i}")), &seal("{\"event\": 1}")).unwrap();
        n += 2;
    }
    for i in 0..2 {
        let text = format!("not a cowrie event: {PLAINTEXT_MARKER} {i}");
        lake.submit(&new_entry("unr-honeypot", &format!("bad-{i}")), &seal(&text)).unwrap();
        n += 1;
    }
    let mut tampered = seal("http://example.test/phish");
    *tampered.last_mut().unwrap() ^= 0x55;
    lake.submit(&new_entry("openphish_feed", "tampered"), &tampered).unwrap();
    n + 1
}

/// Status and the daemon's socket, with everything submitted processed.
fn processed_snapshot(archiver: &Archiver, submitted: u64) -> Value {
    wait_for("every entry processed", Duration::from_secs(60), |seen| {
        let snapshot = status_json(archiver, seen)?;
        let t = &snapshot["totals"];
        let done = t["success"].as_u64()? + t["not_supported"].as_u64()? + t["error"].as_u64()?;
        // The per-typtag breakdown lags the totals by a collector drain: wait for both.
        (done == submitted && from_status(&snapshot).total() == submitted).then_some(snapshot)
    })
}

fn assert_no_secrets(what: &str, text: &str, archiver: &Archiver) {
    assert!(!text.contains(PLAINTEXT_MARKER), "{what} carries plaintext:\n{text}");
    assert!(!text.contains("PRIVATE KEY"), "{what} carries a key:\n{text}");
    let private = std::fs::read_to_string(archiver.dir.path().join("priv.pem")).unwrap();
    for line in private.lines().filter(|l| !l.starts_with("-----")) {
        assert!(!text.contains(line), "{what} carries key material");
    }
}

fn http_get(addr: &str, path: &str) -> (String, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    (head.to_owned(), body.to_owned())
}

fn status_and_metrics_match_dump_and_leak_nothing(backend: Backend, test: &str) {
    let extra = "[metrics]\nlisten = \"127.0.0.1:0\"\n";
    let Some(archiver) = Archiver::on_with(backend, test, extra) else { return };
    // One parser failure, worked off and requeued before the daemon starts:
    // it fails again there, an outcome of a requeued entry.
    let key = archiver.public_key();
    let requeued = cybexp_keys::legacy::encrypt(&key, format!("not cowrie either: {PLAINTEXT_MARKER}").as_bytes());
    archiver.lake().submit(&new_entry("unr-honeypot", "requeued"), &requeued.unwrap()).unwrap();
    archiver.ok(&["once"]);
    assert!(archiver.ok(&["requeue", "--cause", "parser."]).starts_with("queued 1 of 1"));
    let submitted = submit_mix(&archiver) + 1;
    let daemon = start_daemon(&archiver);
    let snapshot = processed_snapshot(&archiver, submitted);

    // status --json: the same numbers as dump, per typtag and per cause.
    let expected = from_dump(&archiver);
    assert_eq!(expected.total(), submitted);
    assert_eq!(from_status(&snapshot), expected);
    assert_eq!(expected.typtags["misp-event"], [0, 3, 0]);
    assert_eq!(expected.typtags["generic-json"], [3, 0, 0]);
    assert_eq!(expected.causes["decrypt.auth"], 1);
    assert_eq!(snapshot["identity"]["key_fingerprints"].as_array().unwrap().len(), 1);
    assert_eq!(snapshot["identity"]["workers"], 2);
    let lake = snapshot["identity"]["lake"].as_str().unwrap();
    assert!(lake.starts_with(if backend == Backend::Sqlite { "sqlite:" } else { "mongodb://" }), "{lake}");
    // The queue is sampled on an interval: it reaches zero waiting.
    wait_for("the queue sampled empty", Duration::from_secs(30), |seen| {
        let s = status_json(&archiver, seen)?;
        (s["queue"]["waiting"] == 0
            && s["queue"]["skipped"] == expected.total() - expected.typtags.values().map(|c| c[0]).sum::<u64>())
        .then_some(())
    });
    // Nothing waits: no oldest waiting entry.
    assert_eq!(status_json(&archiver, &mut String::new()).unwrap()["queue"]["oldest_waiting_at_ms"], Value::Null);
    assert_eq!(snapshot["requeued"], serde_json::json!({ "success": 0, "not_supported": 0, "error": 1 }));
    // Parser costs: every SUCCESS and parser ERROR ran in the sandbox.
    let calls: u64 = snapshot["parsers"].as_array().unwrap().iter().map(|p| p["calls"].as_u64().unwrap()).sum();
    let parsed = submitted - 3 /* unrouted */ - 1 /* tampered */;
    assert_eq!(calls, parsed, "{}", snapshot["parsers"]);

    // The socket is 0660 by default, in the data dir without systemd.
    let socket = archiver.data_dir().join("status.sock");
    assert_eq!(std::fs::metadata(&socket).unwrap().permissions().mode() & 0o777, 0o660);

    // The text form: the same totals.
    let text = archiver.ok(&["status"]);
    let [s, ns, e] = expected.typtags.values().fold([0; 3], |acc, c| [acc[0] + c[0], acc[1] + c[1], acc[2] + c[2]]);
    assert!(text.contains(&format!("SUCCESS {s}  NOT_SUPPORTED {ns}  ERROR {e}")), "{text}");
    assert!(text.contains("state     "), "{text}");

    // Prometheus: a valid exposition with the same numbers.
    let addr = snapshot["identity"]["metrics_listen"].as_str().expect("metrics address in the snapshot").to_owned();
    assert!(addr.starts_with("127.0.0.1:"), "{addr}");
    let (head, body) = http_get(&addr, "/metrics");
    assert!(head.starts_with("HTTP/1.1 200") && head.contains("text/plain; version=0.0.4"), "{head}");
    let metrics = cybexp_telemetry::prometheus::check::parse(&body).unwrap_or_else(|e| panic!("{e}\n{body}"));
    for (typtag, counts) in &expected.typtags {
        for (outcome, n) in ["success", "not_supported", "error"].iter().zip(counts) {
            let labels = [("typtag", typtag.as_str()), ("outcome", *outcome)];
            assert_eq!(metrics.get("cybexp_archive_outcomes_total", &labels), Some(*n as f64), "{typtag} {outcome}");
        }
    }
    assert_eq!(metrics.sum("cybexp_archive_errors_total"), e as f64);
    assert_eq!(metrics.sum("cybexp_archive_parse_duration_seconds_count"), parsed as f64);
    assert_eq!(metrics.get("cybexp_archive_workers", &[]), Some(2.0));
    assert!(metrics.get("cybexp_archive_backoff_failures", &[]).is_some());
    let requeued_outcome = |outcome| metrics.get("cybexp_archive_requeued_outcomes_total", &[("outcome", outcome)]);
    assert_eq!(
        (requeued_outcome("success"), requeued_outcome("not_supported"), requeued_outcome("error")),
        (Some(0.0), Some(0.0), Some(1.0))
    );
    assert_eq!(metrics.get("cybexp_archive_queue_oldest_waiting_age_seconds", &[]), Some(0.0), "nothing waits");
    // Prometheus's own checker too, where it is installed (`.ci/run` installs it).
    if let Some(promtool) = tool_or_skip(test, "promtool") {
        let file = archiver.dir.path().join("metrics.prom");
        std::fs::write(&file, &body).unwrap();
        let out = Command::new(promtool)
            .args(["check", "metrics"])
            .stdin(std::fs::File::open(&file).unwrap())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "promtool: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    // Nothing secret anywhere.
    assert_no_secrets("status --json", &snapshot.to_string(), &archiver);
    assert_no_secrets("status", &text, &archiver);
    assert_no_secrets("metrics", &body, &archiver);
    daemon.stop("-TERM");
    assert!(!archiver.data_dir().join("status.sock").exists(), "a clean stop removes the socket");
}

#[test]
fn status_exits_non_zero_when_the_daemon_is_unreachable() {
    let archiver = Archiver::new();
    let out = archiver.run(&["status"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("cannot connect to") && stderr.contains("status.sock"), "{stderr}");
    let out = archiver.run(&["status", "--json", "--socket", "/nonexistent/x.sock"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
}

/// A broken config file is when an operator most needs `status`: it warns,
/// asks the daemon on the socket it would use without the config, and
/// shows the refused reload's TOML error as indented lines, not one line
/// of `\n`s. `replay`, which needs the config, says so.
#[test]
fn status_with_a_broken_config_asks_the_daemon_and_shows_the_reload_error_as_lines() {
    let archiver = Archiver::new();
    let mut daemon = start_daemon(&archiver);
    let original = std::fs::read_to_string(&archiver.config).unwrap();
    std::fs::write(&archiver.config, format!("{original}\n[pipeline\n")).unwrap();
    daemon.signal("-HUP");
    let data_dir = archiver.data_dir();
    let data_dir = data_dir.to_str().unwrap();
    wait_for("the refused reload", Duration::from_secs(60), |seen| {
        let out = archiver.run(&["status", "--json", "--data-dir", data_dir]);
        *seen = String::from_utf8_lossy(&out.stderr).into_owned();
        let snapshot: Value = serde_json::from_slice(&out.stdout).ok()?;
        snapshot["identity"]["config"]["last_reload_error"].is_string().then_some(())
    });

    let out = archiver.run(&["status", "--data-dir", data_dir]);
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{stdout}{stderr}");
    let socket = archiver.data_dir().join("status.sock");
    let warning =
        format!("warning: the config {} could not be read (TOML parse error at line ", archiver.config.display());
    assert!(stderr.starts_with(&warning), "{stderr}");
    assert!(stderr.contains(&format!("asking the daemon on the default socket {}\n", socket.display())), "{stderr}");
    assert!(stdout.starts_with("cybexp-archive ") && stdout.contains(&format!(":{}", daemon.pid())), "{stdout}");
    let backend = cybexp_keys::Backend::ACTIVE;
    assert!(
        stdout.contains("\nbuild     commit ") && stdout.contains(&format!(", RSA {backend}, wasmtime ")),
        "{stdout}"
    );
    let refused: Vec<&str> = stdout.lines().skip_while(|l| !l.contains("last reload refused")).take(4).collect();
    let first = format!("in config {}: TOML parse error at line ", archiver.config.display());
    assert!(refused[0].contains(&first), "{stdout}");
    assert!(refused[1..].iter().all(|line| line.starts_with("            ")), "{stdout}");
    assert!(refused.iter().any(|line| line.contains("[pipeline")), "{stdout}");
    assert!(!stdout.contains("\\n"), "no escaped newlines: {stdout}");

    // --socket is used as given, with the same warning.
    let out = archiver.run(&["status", "--json", "--socket", socket.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let snapshot: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(snapshot["identity"]["pid"], daemon.pid());
    assert!(String::from_utf8_lossy(&out.stderr).contains("asking the daemon on the socket "));

    let out = archiver.run(&["replay", "some-entry"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.starts_with("error: `replay` needs the stores, keys and parser budgets the config names"),
        "{stderr}"
    );
    assert!(daemon.is_running());
    daemon.stop("-TERM");
}

/// `status --check` exits 0 healthy, 1 unreachable, 2 degraded, with one
/// line; `/health` and `/ready` answer from the same verdict (a refused
/// reload degrades the daemon but leaves it live and ready).
#[test]
fn status_check_and_the_health_endpoints() {
    let archiver = Archiver::with_extra_config("[metrics]\nlisten = \"127.0.0.1:0\"\n");
    let socket = archiver.data_dir().join("status.sock");
    let check = || {
        let out = archiver.run(&["status", "--check", "--socket", socket.to_str().unwrap()]);
        let stdout = String::from_utf8(out.stdout).unwrap();
        assert_eq!(stdout.lines().count(), 1, "one line: {stdout}");
        (out.status.code(), stdout)
    };
    let (code, line) = check();
    assert_eq!(code, Some(1), "{line}");
    assert!(line.starts_with("unreachable: cannot connect to "), "{line}");

    let mut daemon = start_daemon(&archiver);
    let (code, line) = check();
    assert_eq!(code, Some(0), "{line}");
    assert!(line.starts_with("healthy: "), "{line}");
    let snapshot = status_json(&archiver, &mut String::new()).unwrap();
    let addr = snapshot["identity"]["metrics_listen"].as_str().unwrap().to_owned();
    let (head, body) = http_get(&addr, "/health");
    assert!(head.starts_with("HTTP/1.1 200") && body == "live\n", "{head}\n{body}");
    let (head, body) = http_get(&addr, "/ready");
    assert!(head.starts_with("HTTP/1.1 200") && body == "ready\n", "{head}\n{body}");

    let original = std::fs::read_to_string(&archiver.config).unwrap();
    std::fs::write(&archiver.config, format!("{original}\n[pipeline\n")).unwrap();
    daemon.signal("-HUP");
    let line = wait_for("the degraded check", Duration::from_secs(60), |seen| {
        let (code, line) = check();
        *seen = line.clone();
        (code == Some(2)).then_some(line)
    });
    let expected = format!(
        "degraded: last reload refused, running on the previous config: in config {}: TOML parse error at line ",
        archiver.config.display()
    );
    assert!(line.starts_with(&expected), "{line}");
    let (head, _) = http_get(&addr, "/ready");
    assert!(head.starts_with("HTTP/1.1 200"), "a refused reload leaves it ready: {head}");
    assert!(daemon.is_running());
    daemon.stop("-TERM");
}

/// `top` in a detached tmux session of its own server, at a fixed size.
struct Top {
    tmux: PathBuf,
    server: String,
}

impl Top {
    fn start(tmux: PathBuf, archiver: &Archiver, width: u16, height: u16) -> Top {
        let server =
            format!("cybexp-top-{}-{}", std::process::id(), archiver.dir.path().file_name().unwrap().to_string_lossy());
        let command = format!(
            "env -u RUNTIME_DIRECTORY NO_COLOR=1 CYBEXP_LOG=warn '{}' --config '{}' top --interval 250",
            cybexp_tests::archiver_bin().display(),
            archiver.config.display()
        );
        let top = Top { tmux, server };
        let (w, h) = (width.to_string(), height.to_string());
        top.tmux(&["new-session", "-d", "-s", "top", "-x", &w, "-y", &h, &command]);
        top
    }

    fn tmux(&self, args: &[&str]) -> String {
        let out = Command::new(&self.tmux).arg("-L").arg(&self.server).args(args).output().unwrap();
        assert!(out.status.success(), "tmux {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    }

    fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-t", "top"])
    }

    fn keys(&self, keys: &str) {
        self.tmux(&["send-keys", "-t", "top", keys]);
    }

    /// Waits until the screen satisfies `f`.
    fn wait<T>(&self, what: &str, mut f: impl FnMut(&str) -> Option<T>) -> T {
        wait_for(what, Duration::from_secs(30), |seen| {
            *seen = self.screen();
            f(seen)
        })
    }

    fn running(&self) -> bool {
        Command::new(&self.tmux)
            .arg("-L")
            .arg(&self.server)
            .args(["has-session", "-t", "top"])
            .output()
            .unwrap()
            .status
            .success()
    }
}

impl Drop for Top {
    fn drop(&mut self) {
        let _ = Command::new(&self.tmux).arg("-L").arg(&self.server).arg("kill-server").output();
    }
}

/// The typtag rows on screen at 100 columns: typtag → [success, not supported, error].
fn typtag_rows(screen: &str) -> BTreeMap<String, [u64; 3]> {
    let mut rows = BTreeMap::new();
    let mut in_table = false;
    for line in screen.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.first() == Some(&"TYPTAG") {
            in_table = true;
            continue;
        }
        if in_table && line.starts_with("Recent errors") {
            break;
        }
        if in_table && fields.len() >= 5 {
            let n = |i: usize| fields[i].parse::<u64>().ok();
            if let (Some(s), Some(ns), Some(e)) = (n(2), n(3), n(4)) {
                rows.insert(fields[0].to_owned(), [s, ns, e]);
            }
        }
    }
    rows
}

fn top_shows_the_numbers_dump_shows(backend: Backend, test: &str) {
    let Some(tmux) = tool_or_skip(test, "tmux") else { return };
    let Some(archiver) = Archiver::on(backend, test) else { return };
    let submitted = submit_mix(&archiver);
    let daemon = start_daemon(&archiver);
    let top = Top::start(tmux, &archiver, 100, 30);
    processed_snapshot(&archiver, submitted);
    let expected = from_dump(&archiver);

    // Every typtag row shows what dump shows (zero rows of idle routes aside).
    let screen = top.wait("top's typtag rows to match dump", |screen| {
        let mut rows = typtag_rows(screen);
        rows.retain(|_, counts| *counts != [0; 3]);
        (rows == expected.typtags).then(|| screen.to_owned())
    });
    let total: [u64; 3] = expected.typtags.values().fold([0; 3], |a, c| [a[0] + c[0], a[1] + c[1], a[2] + c[2]]);
    let outcome_total = |label: &str| -> u64 {
        let line = screen.lines().find(|l| l.starts_with(label)).unwrap();
        line.split_whitespace().nth(4).unwrap().parse().unwrap()
    };
    assert_eq!([outcome_total("SUCCESS"), outcome_total("NOT_SUPPORTED"), outcome_total("ERROR")], total, "{screen}");
    assert!(screen.contains(&format!("Recent errors ({} since start)", total[2])), "{screen}");
    let first = screen.lines().next().unwrap();
    assert!(first.contains(&format!(":{}", daemon.pid())), "the instance is shown: {first}");
    assert!(first.contains("RUNNING") || first.contains("BACKING OFF"), "{first}");
    for cause in expected.causes.keys() {
        assert!(screen.contains(cause.as_str()), "cause {cause} missing:\n{screen}");
    }
    assert_no_secrets("top", &screen, &archiver);

    // The keys work: the causes view, the help, and quit.
    top.keys("3");
    top.wait("the causes view", |s| (s.contains("CAUSE") && s.contains("SHARE")).then_some(()));
    top.keys("?");
    top.wait("the help overlay", |s| s.contains("Help — any of").then_some(()));
    top.keys("Escape");
    top.wait("the help closed", |s| (!s.contains("Help — any of")).then_some(()));
    top.keys("q");
    wait_for("top to quit on q", Duration::from_secs(10), |_| (!top.running()).then_some(()));
    daemon.stop("-TERM");
}

#[test]
fn top_shows_a_killed_daemon_disconnected_and_recovers() {
    let Some(tmux) = tool_or_skip("top_shows_a_killed_daemon_disconnected_and_recovers", "tmux") else { return };
    let archiver = Archiver::new();
    let mut daemon = start_daemon(&archiver);
    let top = Top::start(tmux, &archiver, 100, 30);
    let first_pid = daemon.pid();
    top.wait("top connected", |s| s.lines().next()?.contains(&format!(":{first_pid}")).then_some(()));

    daemon.kill(); // SIGKILL: the socket file stays behind, stale.
    let screen = top.wait("DISCONNECTED", |s| s.contains("DISCONNECTED").then(|| s.to_owned()));
    assert!(screen.lines().nth(2).unwrap().starts_with("last data shown · "), "{screen}");

    // A new daemon replaces the stale socket; top reconnects by itself.
    let daemon = start_daemon(&archiver);
    let pid = daemon.pid();
    let screen = top.wait("top reconnected to the new daemon", |s| {
        let first = s.lines().next()?;
        (first.contains(&format!(":{pid}")) && !s.contains("DISCONNECTED")).then(|| s.to_owned())
    });
    let first = screen.lines().next().unwrap();
    assert!(first.contains("RUNNING") || first.contains("BACKING OFF"), "{first}");
    daemon.stop("-TERM");
    top.wait("DISCONNECTED after a clean stop", |s| s.contains("DISCONNECTED").then_some(()));
}

#[test]
fn top_fits_80x24_without_colour() {
    let Some(tmux) = tool_or_skip("top_fits_80x24_without_colour", "tmux") else { return };
    let archiver = Archiver::new();
    let submitted = submit_mix(&archiver);
    let daemon = start_daemon(&archiver);
    processed_snapshot(&archiver, submitted);
    let top = Top::start(tmux, &archiver, 80, 24);
    let screen = top.wait("a full screen", |s| s.contains("unr-honeypot").then(|| s.to_owned()));
    let lines: Vec<&str> = screen.lines().collect();
    assert_eq!(lines.len(), 24, "{screen}");
    assert!(lines.iter().all(|l| l.chars().count() <= 80));
    assert!(lines[0].starts_with("cybexp-archive ") && lines[0].contains("up "), "{screen}");
    assert!(lines[23].starts_with("q quit"), "{screen}");
    for panel in ["Outcomes/s", "Queue (every", "1 Typtags", "Recent errors"] {
        assert!(screen.contains(panel), "{panel} missing at 80x24:\n{screen}");
    }
    // NO_COLOR: the pane has attributes (bold, reverse) but no colours.
    let styled = top.tmux(&["capture-pane", "-p", "-e", "-t", "top"]);
    assert!(styled.contains("\x1b["), "capture -e shows attributes");
    for sgr in sgr_parameters(&styled) {
        assert!(
            !(30..=37).contains(&sgr)
                && !(40..=47).contains(&sgr)
                && !(90..=107).contains(&sgr)
                && sgr != 38
                && sgr != 48,
            "colour {sgr} with NO_COLOR:\n{styled}"
        );
    }
    daemon.stop("-TERM");
}

/// Every SGR parameter in `text`'s escape sequences.
fn sgr_parameters(text: &str) -> Vec<u32> {
    let mut out = Vec::new();
    for part in text.split("\x1b[").skip(1) {
        if let Some(end) = part.find('m') {
            out.extend(part[..end].split(';').filter_map(|p| p.parse::<u32>().ok()));
        }
    }
    out
}

/// What a submitter can put in the metadata: an OSC that retitles the
/// terminal, a screen clear, a newline followed by a forged log line, a
/// right-to-left override, an 8-bit CSI.
const FORGED: &str = "2026-01-01T00:00:00.000000Z ERROR cybexp_archive::context: private key file replaced";

fn hostile(what: &str) -> String {
    format!("{what}\u{1b}]0;pwned\u{7}\u{1b}[2J\n{FORGED}\u{202e}\u{9b}31m")
}

/// Nothing a submission wrote reaches the text log, `status` or `top` raw:
/// each shows it escaped (`\u{1b}`), and the terminal running `top` keeps
/// its title.
#[test]
fn hostile_metadata_is_shown_escaped_in_the_log_status_and_top() {
    let archiver = Archiver::new();
    let lake = archiver.lake();
    let key = archiver.public_key();
    let seal = |text: &str| cybexp_keys::legacy::encrypt(&key, text.as_bytes()).unwrap();
    let mut entry = new_entry(&hostile("evil"), &hostile("name"));
    entry.orgid = hostile("org");
    entry.timezone = hostile("tz");
    lake.submit(&entry, &seal("{}")).unwrap();
    // A routed typtag that fails, so the metadata also rides an ERROR.
    let mut failing = new_entry("unr-honeypot", &hostile("name"));
    (failing.orgid, failing.timezone) = (hostile("org"), hostile("tz"));
    lake.submit(&failing, &seal("not a cowrie event")).unwrap();
    let daemon = Daemon::spawn(&archiver, "info");
    processed_snapshot(&archiver, 2);

    let raw = |text: &str| text.chars().any(|c| c != '\n' && cybexp_status::untrusted::is_unsafe(c));
    let forged_line = |text: &str| text.lines().any(|l| l.trim_start().starts_with(FORGED));
    let escaped_typtag = "evil\\u{1b}]0;pwned\\u{7}\\u{1b}[2J\\n2026-01-01";

    let status = archiver.ok(&["status"]);
    assert!(!raw(&status) && !forged_line(&status), "status:\n{status:?}");
    assert!(status.contains(escaped_typtag), "status shows the typtag escaped:\n{status}");

    if let Some(tmux) = tool_or_skip("hostile_metadata_is_shown_escaped_in_the_log_status_and_top", "tmux") {
        let top = Top::start(tmux, &archiver, 200, 40);
        top.wait("the hostile typtag, escaped", |s| s.contains("evil\\u{1b}]0;pwned").then_some(()));
        let styled = top.tmux(&["capture-pane", "-p", "-e", "-t", "top"]);
        // tmux writes its own SGR attributes; anything else was sent to the terminal.
        let unstyled: String = styled
            .split("\u{1b}[")
            .enumerate()
            .map(|(i, part)| if i == 0 { part } else { part.split_once('m').map_or(part, |(_, rest)| rest) })
            .collect();
        assert!(!raw(&unstyled) && !forged_line(&unstyled), "top's pane:\n{styled:?}");
        let title = top.tmux(&["display-message", "-p", "-t", "top", "#{pane_title}"]);
        assert!(!title.contains("pwned"), "the typtag retitled the terminal: {title}");
    }

    let log = daemon.stop("-TERM");
    assert!(!raw(&log) && !forged_line(&log), "the log:\n{log:?}");
    assert!(log.contains(escaped_typtag), "the log shows the typtag escaped:\n{log}");
}
