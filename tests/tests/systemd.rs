//! `run` under systemd's `Type=notify` with a watchdog, against a notify
//! socket of our own: READY=1 once up, STATUS= lines, STOPPING=1 on
//! SIGTERM, and WATCHDOG=1 pings only while the archive loop moves.

use std::os::unix::net::UnixDatagram;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cybexp_tests::Archiver;

/// The daemon as systemd would start it: NOTIFY_SOCKET, and WATCHDOG_USEC
/// with WATCHDOG_PID naming the daemon itself (`exec` keeps the shell's pid).
fn spawn_under_systemd(
    archiver: &Archiver,
    socket: &std::path::Path,
    watchdog: Duration,
    env: &[(&str, &str)],
) -> Child {
    let inner = archiver.command();
    let mut cmd = Command::new("sh");
    cmd.arg("-c").arg(r#"WATCHDOG_PID=$$; export WATCHDOG_PID; exec "$0" "$@""#).arg(inner.get_program());
    cmd.args(inner.get_args()).arg("run");
    for (key, value) in inner.get_envs() {
        match value {
            Some(value) => cmd.env(key, value),
            None => cmd.env_remove(key),
        };
    }
    let log = std::fs::File::create(archiver.dir.path().join("daemon.log")).unwrap();
    cmd.env("CYBEXP_LOG", "info")
        .env("NOTIFY_SOCKET", socket)
        .env("WATCHDOG_USEC", watchdog.as_micros().to_string())
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap()
}

/// Every datagram received within `window`, with when it came.
fn receive_for(socket: &UnixDatagram, window: Duration) -> Vec<(Instant, String)> {
    socket.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
    let (deadline, mut got, mut buf) = (Instant::now() + window, Vec::new(), [0u8; 4096]);
    while Instant::now() < deadline {
        if let Ok(n) = socket.recv(&mut buf) {
            got.push((Instant::now(), String::from_utf8_lossy(&buf[..n]).into_owned()));
        }
    }
    got
}

/// What arrives until READY=1 (start-up may be slow on a busy machine),
/// then everything within `window` after it.
fn receive_after_ready(socket: &UnixDatagram, window: Duration) -> Vec<(Instant, String)> {
    let mut got: Vec<(Instant, String)> = Vec::new();
    cybexp_tests::wait_for("READY=1", Duration::from_secs(60), |seen| {
        got.extend(receive_for(socket, Duration::from_millis(100)));
        *seen = format!("{got:?}");
        got.iter().any(|(_, m)| m.contains("READY=1\n")).then_some(())
    });
    got.extend(receive_for(socket, window));
    got
}

fn pings(messages: &[(Instant, String)]) -> Vec<Instant> {
    messages.iter().filter(|(_, m)| m.lines().any(|l| l == "WATCHDOG=1")).map(|(at, _)| *at).collect()
}

#[test]
fn under_systemd_the_daemon_says_ready_reports_status_and_pings_the_watchdog() {
    let archiver = Archiver::new();
    let path = archiver.dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&path).unwrap();
    let mut daemon = spawn_under_systemd(&archiver, &path, Duration::from_millis(800), &[]);
    let messages = receive_after_ready(&socket, Duration::from_secs(3));
    let text: Vec<&str> = messages.iter().map(|(_, m)| m.as_str()).collect();
    assert!(text.iter().any(|m| m.contains("READY=1\n")), "{text:?}");
    assert!(text.iter().any(|m| m.contains("STATUS=idle (backoff n=")), "the backoff state: {text:?}");
    // Pings every fifth of a second (a quarter of the interval) while the
    // loop sleeps between polls: some 15 in the 3 s after READY.
    assert!(pings(&messages).len() >= 6, "{text:?}");

    assert!(Command::new("kill").args(["-TERM", &daemon.id().to_string()]).status().unwrap().success());
    let after = receive_for(&socket, Duration::from_secs(2));
    assert!(after.iter().any(|(_, m)| m.contains("STOPPING=1")), "{after:?}");
    let exit = daemon.wait().unwrap();
    assert!(exit.success(), "{exit}");
}

#[test]
fn a_loop_that_stops_moving_stops_the_watchdog_pings() {
    let archiver = Archiver::new();
    let path = archiver.dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&path).unwrap();
    let watchdog = Duration::from_millis(600);
    let mut daemon = spawn_under_systemd(&archiver, &path, watchdog, &[("CYBEXP_TEST_HANG_AFTER_POLLS", "1")]);
    let messages = receive_after_ready(&socket, Duration::from_secs(4));
    let text: Vec<&str> = messages.iter().map(|(_, m)| m.as_str()).collect();
    assert!(text.iter().any(|m| m.contains("READY=1\n")), "{text:?}");
    assert!(text.iter().any(|m| m.contains("STATUS=stalled")), "{text:?}");
    // The pings stop within the interval of the hang, for good: systemd
    // would kill and restart it after WatchdogSec.
    let last_ping = pings(&messages).last().copied().unwrap_or(messages[0].0);
    assert!(Instant::now().duration_since(last_ping) > watchdog * 3, "pings went on: {text:?}");
    let log = std::fs::read_to_string(archiver.dir.path().join("daemon.log")).unwrap();
    assert!(log.contains("the archive loop has stalled"), "{log}");
    daemon.kill().unwrap();
    daemon.wait().unwrap();
}
