//! The dashboard drawn from fixed snapshots on ratatui's test backend, read
//! back as text: running, backing off, all errors, disconnected (with and
//! without earlier data), 80×24, no colour, the help overlay, and hostile
//! text from the daemon.

use std::collections::BTreeMap;
use std::time::Duration;

use cybexp_status::*;
use cybexp_tui::app::{Action, App, Link, Tab};
use cybexp_tui::view;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::style::Color;

const NOW: u64 = 1_700_000_000_000;

fn typtag(name: &str, parser: Option<&str>, counts: (u64, u64, u64), causes: &[(&str, u64)]) -> TyptagStats {
    TyptagStats {
        typtag: name.into(),
        parser: parser.map(Into::into),
        counts: Counts { success: counts.0, not_supported: counts.1, error: counts.2 },
        retried: 0,
        causes: causes.iter().map(|(c, n)| ((*c).to_owned(), *n)).collect(),
        last_seen_ms: NOW - 3_000,
    }
}

fn parser(name: &str, calls: u64, us: &[u64]) -> ParserStats {
    let mut h = Histogram::with_bounds(&[100, 250, 500, 1_000, 2_500, 5_000, 10_000]);
    for u in us {
        h.observe(*u);
    }
    ParserStats {
        name: name.into(),
        version: "0.1.0".into(),
        calls,
        fuel_total: calls * 40_000,
        fuel_max: 90_000,
        parse_time: h,
        ..Default::default()
    }
}

/// A busy archiver: three typtags flowing, one unsupported, a few errors.
fn running() -> Snapshot {
    let typtags = vec![
        typtag("unr-honeypot", Some("cowrie"), (1_234, 0, 3), &[("parser.invalid_input", 3)]),
        typtag("openphish_feed", Some("url-list"), (88, 0, 1), &[("decrypt.auth", 1)]),
        typtag("misp-event", None, (0, 7, 0), &[]),
        typtag("generic-json", Some("json"), (410, 0, 0), &[]),
    ];
    let mut causes = BTreeMap::new();
    causes.insert("parser.invalid_input".to_owned(), 3);
    causes.insert("decrypt.auth".to_owned(), 1);
    let success: Vec<u32> = (0..300).map(|i| (i % 7) as u32 + 2).collect();
    let error: Vec<u32> = (0..300).map(|i| u32::from(i % 50 == 0)).collect();
    Snapshot {
        taken_at_ms: NOW,
        identity: Identity {
            name: "cybexp-archive".into(),
            version: "0.1.0".into(),
            commit: "0123abcd4567".into(),
            rsa_backend: "aws-lc".into(),
            wasmtime: "48.0.8".into(),
            profile: "release".into(),
            instance: "archiver-1:4242".into(),
            pid: 4242,
            started_at_ms: NOW - 7_380_000,
            lake: "sqlite:/var/lib/cybexp-archive/archive.db".into(),
            archive: "sqlite:/var/lib/cybexp-archive/archive.db".into(),
            key_fingerprints: vec!["3f2a9c0e11aa77b0c4d2e1f0".into()],
            parsers: ["cowrie", "email", "json", "url-list"]
                .map(|n| ParserIdentity {
                    name: n.into(),
                    component: format!("cybexp-{n}"),
                    version: "0.1.0".into(),
                    ..Default::default()
                })
                .to_vec(),
            workers: 2,
            batch_size: 256,
            status_socket: Some("/run/cybexp-archive/status.sock".into()),
            metrics_listen: None,
            config: ConfigState { generation: 1, loaded_at_ms: NOW - 7_380_000, ..Default::default() },
        },
        loop_state: LoopState {
            polls: 5_120,
            poll_errors: 0,
            failures: 0,
            sleep_ms: 1_400,
            last_poll_at_ms: Some(NOW - 200),
            next_poll_at_ms: Some(NOW + 1_200),
            last_error: None,
            last_error_at_ms: None,
            last_outcome_at_ms: Some(NOW - 300),
            stopping: false,
        },
        totals: Counts { success: 1_732, not_supported: 7, error: 4 },
        retried: 0,
        requeued: Counts::default(),
        rates: Rates {
            window_10s: RateWindow { seconds: 10, success: 12.3, not_supported: 0.0, error: 0.2 },
            window_1m: RateWindow { seconds: 60, success: 10.1, not_supported: 0.1, error: 0.05 },
            window_5m: RateWindow { seconds: 300, success: 5.8, not_supported: 0.02, error: 0.01 },
        },
        history: History { step_ms: 1_000, end_ms: NOW, not_supported: vec![0; 300], success, error },
        queue: Queue {
            waiting: Some(1_540),
            skipped: Some(11),
            sampled_at_ms: Some(NOW - 2_000),
            oldest_waiting_at_ms: Some(NOW - 2_000 - 192_000),
            interval_ms: 5_000,
            error: None,
            history: (0..24)
                .map(|i| QueueSample { at_ms: NOW - 120_000 + i * 5_000, waiting: 1_000 + i * 24, skipped: 11 })
                .collect(),
        },
        workers: Workers {
            count: 2,
            in_flight: 1,
            utilisation_10s: 0.45,
            utilisation_1m: 0.4,
            handled: 1_743,
            busy_ms: 90_000,
        },
        typtags,
        parsers: vec![
            parser("cowrie", 1_237, &[90, 300, 420, 800]),
            ParserStats { records: 7_032, malformed: 31, calls_with_malformed: 1, ..parser("url-list", 88, &[1_200]) },
            parser("json", 410, &[150]),
            parser("email", 0, &[]),
        ],
        causes,
        recent_errors: vec![
            ErrorRecord {
                at_ms: NOW - 12_000,
                entry: "6543".into(),
                typtag: "unr-honeypot".into(),
                cause: "parser.invalid_input".into(),
                message: None,
            },
            ErrorRecord {
                at_ms: NOW - 95_000,
                entry: "6120".into(),
                typtag: "openphish_feed".into(),
                cause: "decrypt.auth".into(),
                message: Some("authentication tag mismatch".into()),
            },
        ],
        telemetry: TelemetryHealth { events: 5_000, dropped_events: 0, other_typtag_events: 0, clients: 1 },
    }
}

fn app(snapshot: Option<Snapshot>, color: bool) -> App {
    let mut app = App::new("/run/cybexp-archive/status.sock".into(), Duration::from_secs(1), color);
    app.update(Action::Connected("cybexp-archive 0.1.0".into()));
    if let Some(s) = snapshot {
        app.update(Action::Snapshot(Box::new(s)));
    }
    app
}

fn render(app: &App, width: u16, height: u16) -> (String, Buffer) {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal.draw(|frame| view::draw(frame, app)).unwrap();
    let buffer = terminal.backend().buffer().clone();
    let text = (0..height)
        .map(|y| (0..width).map(|x| buffer[(x, y)].symbol()).collect::<String>().trim_end().to_owned())
        .collect::<Vec<_>>()
        .join("\n");
    (text, buffer)
}

fn line_with<'a>(screen: &'a str, needle: &str) -> &'a str {
    screen.lines().find(|l| l.contains(needle)).unwrap_or_else(|| panic!("no line with {needle:?} in\n{screen}"))
}

/// The whitespace-separated fields of the table row starting with `typtag`.
fn row(screen: &str, typtag: &str) -> Vec<String> {
    let line = screen
        .lines()
        .find(|l| l.split_whitespace().next() == Some(typtag))
        .unwrap_or_else(|| panic!("no row {typtag:?} in\n{screen}"));
    line.split_whitespace().map(str::to_owned).collect()
}

#[test]
fn running_at_100x30() {
    let (screen, _) = render(&app(Some(running()), true), 100, 30);
    println!("{screen}");
    let first = screen.lines().next().unwrap();
    assert!(first.starts_with("cybexp-archive 0.1.0 · archiver-1:4242 · up 2h03m"), "{first}");
    assert!(first.ends_with("● RUNNING · next poll 1.2s"), "{first}");
    let second = screen.lines().nth(1).unwrap();
    assert_eq!(second, "workers 2 · 45% busy · lake sqlite:/var/lib/cybexp-archive/archive.db · archive same");
    assert!(screen.contains("keys 3f2a9c0e11aa · parsers 4 · polls 5120 (0 failed)"));
    // Rates over 10 s, 1 min, 5 min, and totals.
    assert_eq!(row(&screen, "SUCCESS")[..5], ["SUCCESS", "12.3", "10.1", "5.8", "1732"]);
    assert_eq!(row(&screen, "NOT_SUPPORTED")[..5], ["NOT_SUPPORTED", "0", "0.10", "0.02", "7"]);
    assert_eq!(row(&screen, "ERROR")[..5], ["ERROR", "0.20", "0.05", "0.01", "4"]);
    // Queue and its trend (24 samples, +24 per 5 s = +288/min).
    assert!(line_with(&screen, "waiting").contains("1540 oldest 3m12s"), "{screen}");
    assert!(line_with(&screen, "skipped").contains("11"));
    assert!(screen.contains("▲ +288/min"), "{screen}");
    assert!(screen.contains("sampled 2.0s ago"));
    // The typtag table at this width has the parser column; sorted by total.
    assert_eq!(row(&screen, "unr-honeypot")[..7], ["unr-honeypot", "cowrie", "1234", "0", "3", "0.2%", "—"]);
    assert_eq!(row(&screen, "misp-event")[..6], ["misp-event", "—", "0", "7", "0", "0%"]);
    let order = ["unr-honeypot", "generic-json", "openphish_feed", "misp-event"];
    let positions: Vec<usize> = order.iter().map(|t| screen.find(&format!("\n{t} ")).unwrap()).collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "sorted by total, largest first");
    // Recent errors with their cause; the decrypt error's message is shown.
    assert!(line_with(&screen, "6543").contains("parser.invalid_input"));
    assert!(line_with(&screen, "6120").contains("authentication tag mismatch"));
    assert!(screen.contains("Recent errors (4 since start)"));
    // Footer.
    assert!(screen.lines().last().unwrap().starts_with("q quit ? help s sort r reverse / filter Tab view"));
}

#[test]
fn a_refused_reload_is_shown_with_its_reason_and_the_generation() {
    let mut snapshot = running();
    snapshot.identity.config.generation = 3;
    snapshot.identity.config.last_reload_error = Some("parser \"my-feed\": the component must import nothing".into());
    snapshot.identity.config.last_reload_at_ms = Some(NOW - 4_000);
    let (screen, _) = render(&app(Some(snapshot.clone()), true), 120, 30);
    let line = line_with(&screen, "reload refused");
    assert!(line.contains("4.0s ago: parser \"my-feed\": the component must import nothing · config 3"), "{line}");
    let report = cybexp_tui::text::StatusReport(&cybexp_status::Escaped::new(snapshot)).to_string();
    assert!(report.contains("config    generation 3, loaded "), "{report}");
    assert!(report.contains("\nbuild     commit 0123abcd4567, RSA aws-lc, wasmtime 48.0.8, release\n"), "{report}");
    assert!(report.contains("\nrecords   url-list 7032 (31 malformed, in 1 of 88 calls)\n"), "{report}");
    assert!(!report.contains("records   cowrie"), "parsers that count no records are left out");
    assert!(report.contains("last reload refused 4.0s ago: parser \"my-feed\""), "{report}");
    let (screen, _) = render(&app(Some(running()), true), 100, 30);
    assert!(screen.contains("polls 5120 (0 failed) · config 1"), "{screen}");
}

#[test]
fn status_reports_the_outcomes_of_requeued_entries() {
    let mut s = running();
    s.requeued = Counts { success: 5, not_supported: 0, error: 2 };
    let text = cybexp_tui::text::StatusReport(&cybexp_status::Escaped::new(s)).to_string();
    assert!(text.contains("\n          of them requeued: SUCCESS 5  NOT_SUPPORTED 0  ERROR 2\n"), "{text}");
}

#[test]
fn status_reports_the_age_of_the_oldest_waiting_entry() {
    let report = |s: Snapshot| cybexp_tui::text::StatusReport(&cybexp_status::Escaped::new(s)).to_string();
    let text = report(running());
    assert!(text.contains("\nqueue     1540 waiting, oldest waiting 3m12s, 11 skipped, trend +288/min"), "{text}");
    assert!(!text.contains("requeued"), "nothing requeued, nothing said: {text}");
    // An empty queue has no lag to show.
    let mut empty = running();
    empty.queue.waiting = Some(0);
    empty.queue.oldest_waiting_at_ms = None;
    let text = report(empty);
    assert!(text.contains("\nqueue     0 waiting, 11 skipped"), "{text}");
}

#[test]
fn a_multi_line_reload_error_is_listed_line_by_line_each_escaped() {
    let mut snapshot = running();
    snapshot.identity.config.last_reload_error = Some(
        "in config /etc/cybexp/archive.toml\nTOML parse error at line 3, column 1\n  |\n3 | [[x\u{1b}[2J\n".into(),
    );
    snapshot.identity.config.last_reload_at_ms = Some(NOW - 4_000);
    let (screen, _) = render(&app(Some(snapshot), true), 120, 40);
    let header = line_with(&screen, "reload refused 4.0s ago");
    assert!(header.contains("in config /etc/cybexp/archive.toml (+3 lines below)"), "{header}");
    let listed: Vec<&str> = screen.lines().skip_while(|l| !l.starts_with("Recent errors")).skip(1).take(4).collect();
    assert!(
        listed[0].contains("reload refused") && listed[0].ends_with("in config /etc/cybexp/archive.toml"),
        "{screen}"
    );
    assert!(listed[1].ends_with("  TOML parse error at line 3, column 1"), "{screen}");
    assert!(listed[2].ends_with("    |"), "{screen}");
    assert!(listed[3].ends_with("  3 | [[x\\u{1b}[2J"), "{screen}");
    assert!(!screen.contains("none"), "{screen}");
}

#[test]
fn fits_80x24() {
    let (screen, _) = render(&app(Some(running()), false), 80, 24);
    println!("{screen}");
    let lines: Vec<&str> = screen.lines().collect();
    assert_eq!(lines.len(), 24);
    assert!(lines[0].contains("cybexp-archive 0.1.0") && lines[0].contains("RUNNING"), "{}", lines[0]);
    for needle in ["Outcomes/s", "Queue (every 5.0s)", "1 Typtags", "Recent errors", "q quit"] {
        assert!(screen.contains(needle), "{needle} missing at 80x24:\n{screen}");
    }
    // Every typtag row visible, numbers intact (no parser column at 80).
    assert_eq!(row(&screen, "unr-honeypot")[..4], ["unr-honeypot", "1234", "0", "3"]);
    assert_eq!(row(&screen, "openphish_feed")[..4], ["openphish_feed", "88", "0", "1"]);
    assert_eq!(row(&screen, "misp-event")[..4], ["misp-event", "0", "7", "0"]);
    assert_eq!(row(&screen, "generic-json")[..4], ["generic-json", "410", "0", "0"]);
    assert!(lines[23].starts_with("q quit"), "{}", lines[23]);
    assert!(line_with(&screen, "waiting").ends_with("1540 oldest 3m12s"), "the lag fits at 80 columns:\n{screen}");
}

#[test]
fn backing_off_shows_the_countdown_and_last_error() {
    let mut s = running();
    s.loop_state.failures = 5;
    s.loop_state.sleep_ms = 32_400;
    s.loop_state.next_poll_at_ms = Some(NOW + 12_300);
    s.loop_state.poll_errors = 2;
    s.loop_state.last_error = Some("sqlite store unavailable: database is locked".into());
    s.loop_state.last_error_at_ms = Some(NOW - 65_000);
    let (screen, _) = render(&app(Some(s), true), 100, 30);
    let first = screen.lines().next().unwrap();
    assert!(first.ends_with("◌ BACKING OFF (n=5) · next poll 12.3s"), "{first}");
    let third = screen.lines().nth(2).unwrap();
    assert_eq!(third, "last error 1m05s ago: sqlite store unavailable: database is locked · polls 5120 (2 failed)");
}

#[test]
fn stalled_when_nothing_moves() {
    let mut s = running();
    s.loop_state.next_poll_at_ms = Some(NOW - 95_000);
    s.loop_state.last_poll_at_ms = Some(NOW - 96_000);
    s.loop_state.last_outcome_at_ms = Some(NOW - 97_000);
    let (screen, _) = render(&app(Some(s), true), 80, 24);
    assert!(screen.lines().next().unwrap().ends_with("STALLED? no progress for 1m35s"), "{screen}");
}

#[test]
fn all_errors() {
    let mut s = running();
    s.typtags = vec![
        typtag("unr-honeypot", Some("cowrie"), (0, 0, 40), &[("parser.fuel", 30), ("parser.trap", 10)]),
        typtag("openphish_feed", Some("url-list"), (0, 0, 9), &[("decrypt.key", 9)]),
    ];
    s.totals = Counts { success: 0, not_supported: 0, error: 49 };
    s.rates.window_10s = RateWindow { seconds: 10, success: 0.0, not_supported: 0.0, error: 4.9 };
    s.history.success = vec![0; 300];
    s.causes = BTreeMap::from([("parser.fuel".into(), 30), ("parser.trap".into(), 10), ("decrypt.key".into(), 9)]);
    let mut app = app(Some(s), true);
    let (screen, _) = render(&app, 80, 24);
    assert_eq!(row(&screen, "SUCCESS")[1..5], ["0", "10.1", "5.8", "0"]);
    assert_eq!(row(&screen, "ERROR")[1], "4.9");
    assert_eq!(row(&screen, "unr-honeypot")[..6], ["unr-honeypot", "0", "0", "40", "100%", "—"]);
    assert_eq!(row(&screen, "unr-honeypot")[6], "parser.fuel", "the most frequent cause");
    assert_eq!(row(&screen, "openphish_feed")[6], "decrypt.key");
    // The causes view: shares of all errors, and which typtags.
    app.update(Action::SelectTab(Tab::Causes));
    let (screen, _) = render(&app, 80, 24);
    assert_eq!(row(&screen, "parser.fuel")[..4], ["parser.fuel", "30", "61%", "unr-honeypot"]);
    assert_eq!(row(&screen, "decrypt.key")[..4], ["decrypt.key", "9", "18%", "openphish_feed"]);
}

#[test]
fn disconnected_with_earlier_data_keeps_it_and_says_so() {
    let mut app = app(Some(running()), true);
    let error = "cannot connect to /run/cybexp-archive/status.sock: Connection refused (os error 111)";
    app.update(Action::Disconnected { error: error.into(), now_ms: 1_000 });
    for i in 1..=12 {
        app.update(Action::Disconnected { error: error.into(), now_ms: 1_000 + i * 1_000 });
    }
    let (screen, _) = render(&app, 100, 30);
    let first = screen.lines().next().unwrap();
    assert!(first.ends_with("✗ DISCONNECTED 12.0s · retry #13"), "{first}");
    assert!(screen.lines().nth(2).unwrap().starts_with("last data shown · cannot connect to"), "{screen}");
    assert_eq!(row(&screen, "unr-honeypot")[2], "1234", "the last data is still there");
    // And it recovers on the next snapshot.
    app.update(Action::Connected("cybexp-archive 0.1.0".into()));
    app.update(Action::Snapshot(Box::new(running())));
    let (screen, _) = render(&app, 100, 30);
    assert!(screen.lines().next().unwrap().ends_with("● RUNNING · next poll 1.2s"));
    assert!(!screen.contains("DISCONNECTED"));
}

#[test]
fn disconnected_before_any_data() {
    let mut app = App::new("/tmp/x/status.sock".into(), Duration::from_secs(1), false);
    app.update(Action::Disconnected { error: "cannot connect to /tmp/x/status.sock: No such file".into(), now_ms: 0 });
    let (screen, _) = render(&app, 80, 24);
    assert!(screen.lines().next().unwrap().starts_with("cybexp-archive top · /tmp/x/status.sock"));
    assert!(screen.lines().next().unwrap().ends_with("✗ DISCONNECTED 0ms · retry #1"));
    assert!(screen.contains("Waiting for the archiver at /tmp/x/status.sock"), "{screen}");
    assert!(screen.contains("Start it with `cybexp-archive run`"));
    assert!(matches!(app.link, Link::Disconnected { .. }));
}

#[test]
fn no_color_means_no_colour() {
    let mut s = running();
    s.loop_state.failures = 2;
    let app = app(Some(s), false);
    let (_, buffer) = render(&app, 100, 30);
    for cell in buffer.content() {
        assert_eq!((cell.fg, cell.bg), (Color::Reset, Color::Reset), "{cell:?}");
    }
    // The colour version does use colour (so the check above can fail).
    let (_, coloured) = render(&self::app(Some(running()), true), 100, 30);
    assert!(coloured.content().iter().any(|c| c.fg == Color::Green));
}

#[test]
fn help_overlay() {
    let mut app = app(Some(running()), true);
    app.update(Action::ToggleHelp);
    let (screen, _) = render(&app, 80, 24);
    println!("{screen}");
    assert!(screen.contains("Help — any of ? Esc Enter closes"), "{screen}");
    // Every line of the help fits the 80-column box.
    assert!(screen.contains("│/  f                filter typtag, parser, cause; Enter keeps, Esc clears"), "{screen}");
    assert!(screen.contains("BACKING OFF (n)"));
    assert!(screen.contains("reverse the sort"));
}

#[test]
fn filter_sort_and_views_show_on_screen() {
    let mut app = app(Some(running()), true);
    for c in "phish".chars() {
        app.update(Action::FilterInput(c));
    }
    let (screen, _) = render(&app, 100, 30);
    assert!(screen.contains("filter \"phish\""), "{screen}");
    assert!(screen.contains("\nopenphish_feed "));
    assert!(!screen.contains("\nunr-honeypot "), "filtered out");
    app.update(Action::FilterClear);
    app.update(Action::NextSort); // success
    app.update(Action::NextSort); // not supported
    let (screen, _) = render(&app, 100, 30);
    assert!(screen.contains("sort not supported ▼"), "{screen}");
    assert!(screen.contains("NOT_SUP▼"));
    let misp = screen.find("\nmisp-event ").unwrap();
    assert!(misp < screen.find("\nunr-honeypot ").unwrap());
    app.update(Action::SelectTab(Tab::Parsers));
    let (screen, _) = render(&app, 100, 30);
    assert_eq!(row(&screen, "cowrie")[..7], ["cowrie", "0.1.0", "1237", "402µs", "500µs", "1.0ms", "40000"]);
    assert_eq!(row(&screen, "email")[2..], ["0", "—", "—", "—", "—", "—", "—", "—"]);
    assert!(line_with(&screen, "PARSER").ends_with("FUEL MAX   RECORDS MALFORMED"), "{screen}");
    assert_eq!(row(&screen, "url-list")[8..], ["7032", "31"]);
}

#[test]
fn malformed_records_show_in_the_parser_table_at_80_columns() {
    let mut parsers = app(Some(running()), true);
    parsers.update(Action::SelectTab(Tab::Parsers));
    let (screen, _) = render(&parsers, 80, 24);
    let header = line_with(&screen, "PARSER");
    assert!(!header.contains("VERSION") && !header.contains("FUEL MAX"), "{header}");
    assert!(header.ends_with("FUEL/CALL   RECORDS MALFORMED"), "{header}");
    assert_eq!(row(&screen, "url-list")[1..], ["88", "1.2ms", "2.5ms", "2.5ms", "40000", "7032", "31"]);
    assert_eq!(row(&screen, "cowrie")[6..], ["—", "—"], "no records counted: none shown");
    // The malformed count stands out, in colour or not.
    for color in [true, false] {
        let mut colored = app(Some(running()), color);
        colored.update(Action::SelectTab(Tab::Parsers));
        let (screen, buffer) = render(&colored, 80, 24);
        let y = screen.lines().position(|l| l.starts_with("url-list")).unwrap();
        let x = screen.lines().nth(y).unwrap().chars().count() - 1;
        let (x, y) = (x as u16, y as u16);
        assert_eq!(buffer[(x, y)].symbol(), "1");
        assert!(buffer[(x, y)].modifier.contains(ratatui::style::Modifier::BOLD), "colour {color}");
        assert!(!buffer[(x - 10, y)].modifier.contains(ratatui::style::Modifier::BOLD), "only the count");
    }
}

#[test]
fn hostile_text_from_the_daemon_is_defused() {
    let mut s = running();
    s.typtags.push(typtag("evil\x1b]0;pwned\x07tag", None, (0, 1, 0), &[]));
    s.recent_errors[0].typtag = "\x1b[2J".into();
    s.recent_errors[0].cause = "rtl\u{202e}exe.txt".into();
    s.identity.instance = "host\n:1".into();
    let (screen, buffer) = render(&app(Some(s.clone()), true), 120, 30);
    assert!(screen.contains("evil\\u{1b}]0;pwned\\u{7}tag"), "{screen}");
    assert!(screen.contains("\\u{1b}[2J"), "{screen}");
    assert!(screen.contains("host\\n:1"), "{screen}");
    let unsafe_cell = |c: &ratatui::buffer::Cell| c.symbol().chars().any(cybexp_status::untrusted::is_unsafe);
    assert!(!buffer.content().iter().any(unsafe_cell));
    // The status text prints the same snapshot escaped.
    let report = cybexp_tui::text::StatusReport(&cybexp_status::Escaped::new(s)).to_string();
    assert!(!report.chars().any(|c| c != '\n' && cybexp_status::untrusted::is_unsafe(c)), "{report:?}");
    assert!(report.contains("\\u{1b}[2J parser.fuel") || report.contains("\\u{1b}[2J"), "{report}");
    assert!(report.contains("rtl\\u{202e}exe.txt"), "{report}");
}

#[test]
fn tiny_terminals_do_not_panic() {
    for (w, h) in [(1, 1), (20, 5), (40, 12), (80, 10), (200, 60)] {
        render(&app(Some(running()), true), w, h);
        let mut help = app(Some(running()), false);
        help.update(Action::ToggleHelp);
        render(&help, w, h);
    }
}
