//! The dashboard's state and how it changes: terminal and client events
//! become [`Action`]s, [`App::update`] applies them, and the views
//! ([`crate::view`]) only read the state.

use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::time::Duration;

use cybexp_status::untrusted::escape;
use cybexp_status::{Escaped, ParserStats, Snapshot, TyptagStats};
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

/// The connection to the daemon, as the dashboard sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Link {
    /// Not connected yet.
    Connecting,
    Connected {
        server: String,
    },
    /// Lost (or never had) the daemon; `since_ms` on the dashboard's clock.
    Disconnected {
        since_ms: u64,
        last_ms: u64,
        error: String,
        attempts: u64,
    },
}

/// The lower table.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Tab {
    #[default]
    Typtags,
    Parsers,
    Causes,
}

impl Tab {
    pub const ALL: [Tab; 3] = [Tab::Typtags, Tab::Parsers, Tab::Causes];

    pub fn title(self) -> &'static str {
        match self {
            Tab::Typtags => "Typtags",
            Tab::Parsers => "Parsers",
            Tab::Causes => "Causes",
        }
    }

    fn next(self) -> Tab {
        match self {
            Tab::Typtags => Tab::Parsers,
            Tab::Parsers => Tab::Causes,
            Tab::Causes => Tab::Typtags,
        }
    }
}

/// Columns the typtag table sorts by.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SortKey {
    Typtag,
    #[default]
    Total,
    Success,
    NotSupported,
    Error,
    ErrorRate,
    Rate,
    LastSeen,
}

impl SortKey {
    const CYCLE: [SortKey; 8] = [
        SortKey::Typtag,
        SortKey::Total,
        SortKey::Success,
        SortKey::NotSupported,
        SortKey::Error,
        SortKey::ErrorRate,
        SortKey::Rate,
        SortKey::LastSeen,
    ];

    pub fn label(self) -> &'static str {
        match self {
            SortKey::Typtag => "typtag",
            SortKey::Total => "total",
            SortKey::Success => "success",
            SortKey::NotSupported => "not supported",
            SortKey::Error => "errors",
            SortKey::ErrorRate => "error %",
            SortKey::Rate => "rate",
            SortKey::LastSeen => "last seen",
        }
    }

    fn next(self) -> SortKey {
        let i = Self::CYCLE.iter().position(|k| *k == self).unwrap_or(0);
        Self::CYCLE[(i + 1) % Self::CYCLE.len()]
    }

    /// Text sorts A→Z by default, numbers largest first.
    fn descending_by_default(self) -> bool {
        self != SortKey::Typtag
    }
}

/// Everything that changes the dashboard.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// A key press, resolved by [`App::key_action`] against the current state.
    Key(KeyEvent),
    Quit,
    ToggleHelp,
    CloseOverlay,
    NextTab,
    SelectTab(Tab),
    NextSort,
    ReverseSort,
    StartFilter,
    FilterInput(char),
    FilterBackspace,
    /// Keep the filter, stop editing.
    FilterDone,
    /// Drop the filter.
    FilterClear,
    Up,
    Down,
    PageUp,
    PageDown,
    Top,
    Bottom,
    /// The terminal changed size: redraw.
    Resize,
    /// The client: connected, a snapshot, or the link broke.
    Connected(String),
    Snapshot(Box<Snapshot>),
    Disconnected {
        error: String,
        now_ms: u64,
    },
}

/// Per-typtag totals over the last minute, for the rate column.
#[derive(Clone, Debug, Default)]
pub struct RateTracker {
    samples: VecDeque<(u64, BTreeMap<String, u64>)>,
}

/// Samples older than this leave the rate window.
const RATE_WINDOW_MS: u64 = 60_000;

impl RateTracker {
    fn add(&mut self, s: &Snapshot) {
        // A restarted daemon starts from zero: forget the old one's numbers.
        if self.samples.back().is_some_and(|(at, _)| *at > s.taken_at_ms) {
            self.samples.clear();
        }
        let totals = s.typtags.iter().map(|t| (t.typtag.clone(), t.counts.total())).collect();
        self.samples.push_back((s.taken_at_ms, totals));
        while self.samples.len() > 2 && self.samples.front().is_some_and(|(at, _)| at + RATE_WINDOW_MS < s.taken_at_ms)
        {
            self.samples.pop_front();
        }
    }

    fn reset(&mut self) {
        self.samples.clear();
    }

    /// Outcomes per minute of `typtag` over the samples held; `None` with
    /// fewer than two samples.
    pub fn per_minute(&self, typtag: &str) -> Option<f64> {
        let ((t0, first), (t1, last)) = (self.samples.front()?, self.samples.back()?);
        let span = t1.checked_sub(*t0).filter(|s| *s > 0)?;
        let (a, b) = (first.get(typtag).copied().unwrap_or(0), last.get(typtag).copied().unwrap_or(0));
        Some(b.saturating_sub(a) as f64 * 60_000.0 / span as f64)
    }
}

/// The dashboard.
#[derive(Clone, Debug)]
pub struct App {
    pub socket: PathBuf,
    pub interval: Duration,
    pub link: Link,
    /// The latest snapshot, escaped once as it arrived (the views print
    /// its strings as they are); kept (and shown as stale) while disconnected.
    pub snapshot: Option<Escaped<Snapshot>>,
    pub rates: RateTracker,
    pub tab: Tab,
    pub sort: SortKey,
    pub descending: bool,
    pub filter: String,
    pub editing_filter: bool,
    /// Selected row of the lower table.
    pub selected: usize,
    pub help: bool,
    pub color: bool,
    pub quit: bool,
}

impl App {
    pub fn new(socket: PathBuf, interval: Duration, color: bool) -> App {
        App {
            socket,
            interval,
            link: Link::Connecting,
            snapshot: None,
            rates: RateTracker::default(),
            tab: Tab::default(),
            sort: SortKey::default(),
            descending: SortKey::default().descending_by_default(),
            filter: String::new(),
            editing_filter: false,
            selected: 0,
            help: false,
            color,
            quit: false,
        }
    }

    /// The action a key stands for (none for most keys). While the filter
    /// is edited, keys are text.
    pub fn key_action(&self, key: KeyEvent) -> Option<Action> {
        if key.kind == KeyEventKind::Release {
            return None;
        }
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        if ctrl && matches!(key.code, KeyCode::Char('c' | 'd')) {
            return Some(Action::Quit);
        }
        if self.editing_filter {
            return match key.code {
                KeyCode::Enter => Some(Action::FilterDone),
                KeyCode::Esc => Some(Action::FilterClear),
                KeyCode::Backspace => Some(Action::FilterBackspace),
                KeyCode::Char(c) if !ctrl => Some(Action::FilterInput(c)),
                _ => None,
            };
        }
        if self.help {
            return match key.code {
                KeyCode::Char('q') => Some(Action::Quit),
                KeyCode::Esc | KeyCode::Char('?' | 'h') | KeyCode::Enter => Some(Action::CloseOverlay),
                _ => None,
            };
        }
        Some(match key.code {
            KeyCode::Char('q') => Action::Quit,
            KeyCode::Esc if !self.filter.is_empty() => Action::FilterClear,
            KeyCode::Esc => Action::Quit,
            KeyCode::Char('?' | 'h') => Action::ToggleHelp,
            KeyCode::Tab | KeyCode::Char('t') => Action::NextTab,
            KeyCode::Char('1') => Action::SelectTab(Tab::Typtags),
            KeyCode::Char('2') => Action::SelectTab(Tab::Parsers),
            KeyCode::Char('3') => Action::SelectTab(Tab::Causes),
            KeyCode::Char('s') => Action::NextSort,
            KeyCode::Char('r' | 'S') => Action::ReverseSort,
            KeyCode::Char('/' | 'f') => Action::StartFilter,
            KeyCode::Up | KeyCode::Char('k') => Action::Up,
            KeyCode::Down | KeyCode::Char('j') => Action::Down,
            KeyCode::PageUp => Action::PageUp,
            KeyCode::PageDown | KeyCode::Char(' ') => Action::PageDown,
            KeyCode::Home | KeyCode::Char('g') => Action::Top,
            KeyCode::End | KeyCode::Char('G') => Action::Bottom,
            _ => return None,
        })
    }

    /// Applies an action; returns whether the screen changed.
    pub fn update(&mut self, action: Action) -> bool {
        match action {
            Action::Key(key) => {
                return match self.key_action(key) {
                    Some(action) => self.update(action),
                    None => false,
                };
            }
            Action::Quit => self.quit = true,
            Action::ToggleHelp => self.help = !self.help,
            Action::CloseOverlay => self.help = false,
            Action::NextTab => self.select_tab(self.tab.next()),
            Action::SelectTab(tab) => self.select_tab(tab),
            Action::NextSort => {
                self.sort = self.sort.next();
                self.descending = self.sort.descending_by_default();
            }
            Action::ReverseSort => self.descending = !self.descending,
            Action::StartFilter => self.editing_filter = true,
            Action::FilterInput(c) => {
                if self.filter.chars().count() < 40 && !c.is_control() {
                    self.filter.push(c);
                    self.selected = 0;
                }
            }
            Action::FilterBackspace => {
                self.filter.pop();
            }
            Action::FilterDone => self.editing_filter = false,
            Action::FilterClear => {
                self.filter.clear();
                self.editing_filter = false;
            }
            Action::Up => self.selected = self.selected.saturating_sub(1),
            Action::Down => self.selected = (self.selected + 1).min(self.rows().saturating_sub(1)),
            Action::PageUp => self.selected = self.selected.saturating_sub(10),
            Action::PageDown => self.selected = (self.selected + 10).min(self.rows().saturating_sub(1)),
            Action::Top => self.selected = 0,
            Action::Bottom => self.selected = self.rows().saturating_sub(1),
            Action::Resize => {}
            Action::Connected(server) => self.link = Link::Connected { server: escape(&server).into_owned() },
            Action::Snapshot(snapshot) => {
                if !matches!(self.link, Link::Connected { .. }) {
                    self.link = Link::Connected { server: String::new() };
                }
                let restarted = self.snapshot.as_ref().is_some_and(|old| {
                    old.identity.started_at_ms != snapshot.identity.started_at_ms
                        || old.identity.pid != snapshot.identity.pid
                });
                if restarted {
                    self.rates.reset();
                }
                let snapshot = Escaped::new(*snapshot);
                self.rates.add(&snapshot);
                self.snapshot = Some(snapshot);
                self.selected = self.selected.min(self.rows().saturating_sub(1));
            }
            // Each failed attempt redraws: "disconnected for 12s" moves on (at
            // most once per retry, which is at most once per interval).
            Action::Disconnected { error, now_ms } => {
                // Our own words, but an error may quote what the daemon sent.
                let error = escape(&error).into_owned();
                match &mut self.link {
                    Link::Disconnected { last_ms, error: old, attempts, .. } => {
                        *attempts += 1;
                        *last_ms = now_ms;
                        *old = error;
                    }
                    _ => self.link = Link::Disconnected { since_ms: now_ms, last_ms: now_ms, error, attempts: 1 },
                }
            }
        }
        true
    }

    fn select_tab(&mut self, tab: Tab) {
        if self.tab != tab {
            self.tab = tab;
            self.selected = 0;
        }
    }

    fn matches(&self, text: &str) -> bool {
        self.filter.is_empty() || text.to_lowercase().contains(&self.filter.to_lowercase())
    }

    /// Rows of the current tab.
    pub fn rows(&self) -> usize {
        match self.tab {
            Tab::Typtags => self.typtag_rows().len(),
            Tab::Parsers => self.parser_rows().len(),
            Tab::Causes => self.cause_rows().len(),
        }
    }

    /// The typtag table: filtered (typtag, parser or cause) and sorted.
    pub fn typtag_rows(&self) -> Vec<&TyptagStats> {
        let Some(s) = &self.snapshot else { return Vec::new() };
        let mut rows: Vec<&TyptagStats> = s
            .typtags
            .iter()
            .filter(|t| {
                self.matches(&t.typtag)
                    || t.parser.as_deref().is_some_and(|p| self.matches(p))
                    || t.causes.keys().any(|c| self.matches(c))
            })
            .collect();
        let rate = |t: &TyptagStats| self.rates.per_minute(&t.typtag).unwrap_or(0.0);
        rows.sort_by(|a, b| {
            let order = match self.sort {
                SortKey::Typtag => a.typtag.cmp(&b.typtag),
                SortKey::Total => a.counts.total().cmp(&b.counts.total()),
                SortKey::Success => a.counts.success.cmp(&b.counts.success),
                SortKey::NotSupported => a.counts.not_supported.cmp(&b.counts.not_supported),
                SortKey::Error => a.counts.error.cmp(&b.counts.error),
                SortKey::ErrorRate => a.counts.error_ratio().total_cmp(&b.counts.error_ratio()),
                SortKey::Rate => rate(a).total_cmp(&rate(b)),
                SortKey::LastSeen => a.last_seen_ms.cmp(&b.last_seen_ms),
            };
            // Ties: by typtag, always A→Z, so the order is stable.
            let order = if self.descending { order.reverse() } else { order };
            order.then_with(|| a.typtag.cmp(&b.typtag))
        });
        rows
    }

    /// The parser table: filtered by name, busiest first.
    pub fn parser_rows(&self) -> Vec<&ParserStats> {
        let Some(s) = &self.snapshot else { return Vec::new() };
        let mut rows: Vec<&ParserStats> = s.parsers.iter().filter(|p| self.matches(&p.name)).collect();
        rows.sort_by(|a, b| b.calls.cmp(&a.calls).then_with(|| a.name.cmp(&b.name)));
        if !self.descending {
            rows.reverse();
        }
        rows
    }

    /// The cause table: filtered, most frequent first.
    pub fn cause_rows(&self) -> Vec<(&str, u64)> {
        let Some(s) = &self.snapshot else { return Vec::new() };
        let mut rows: Vec<(&str, u64)> =
            s.causes.iter().filter(|(c, _)| self.matches(c)).map(|(c, n)| (c.as_str(), *n)).collect();
        rows.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
        if !self.descending {
            rows.reverse();
        }
        rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cybexp_status::{Counts, Identity};

    fn typtag(name: &str, success: u64, error: u64) -> TyptagStats {
        TyptagStats {
            typtag: name.into(),
            parser: Some("json".into()),
            counts: Counts { success, not_supported: 0, error },
            ..Default::default()
        }
    }

    fn app_with(typtags: Vec<TyptagStats>) -> App {
        let mut app = App::new("/x.sock".into(), Duration::from_secs(1), true);
        let snapshot = Snapshot { taken_at_ms: 1_000, typtags, ..Default::default() };
        app.update(Action::Snapshot(Box::new(snapshot)));
        app
    }

    fn names(app: &App) -> Vec<&str> {
        app.typtag_rows().iter().map(|t| t.typtag.as_str()).collect()
    }

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    #[test]
    fn sorts_and_reverses() {
        let mut app = app_with(vec![typtag("b", 5, 0), typtag("a", 1, 9), typtag("c", 5, 1)]);
        assert_eq!(names(&app), ["a", "c", "b"], "total, largest first");
        app.update(Action::NextSort);
        assert_eq!(app.sort, SortKey::Success);
        assert_eq!(names(&app), ["b", "c", "a"], "ties by typtag");
        app.update(Action::ReverseSort);
        assert_eq!(names(&app), ["a", "b", "c"]);
        for _ in 0..6 {
            app.update(Action::NextSort);
        }
        assert_eq!(app.sort, SortKey::Typtag);
        assert!(!app.descending, "text sorts A→Z first");
        assert_eq!(names(&app), ["a", "b", "c"]);
    }

    #[test]
    fn filter_by_typing() {
        let mut app = app_with(vec![typtag("openphish_feed", 1, 0), typtag("unr-honeypot", 1, 0)]);
        for k in [KeyCode::Char('/'), KeyCode::Char('P'), KeyCode::Char('h'), KeyCode::Char('i')] {
            let action = app.key_action(key(k)).unwrap();
            app.update(action);
        }
        assert!(app.editing_filter);
        assert_eq!(app.filter, "Phi");
        assert_eq!(names(&app), ["openphish_feed"], "case-insensitive substring");
        // While editing, 'q' is text, not quit.
        let action = app.key_action(key(KeyCode::Char('q'))).unwrap();
        assert_eq!(action, Action::FilterInput('q'));
        app.update(action);
        assert_eq!(names(&app), Vec::<&str>::new());
        app.update(app.key_action(key(KeyCode::Backspace)).unwrap());
        app.update(app.key_action(key(KeyCode::Enter)).unwrap());
        assert!(!app.editing_filter);
        assert_eq!(app.filter, "Phi");
        // Esc first clears the filter, then quits.
        app.update(app.key_action(key(KeyCode::Esc)).unwrap());
        assert_eq!(names(&app).len(), 2);
        assert_eq!(app.key_action(key(KeyCode::Esc)), Some(Action::Quit));
    }

    #[test]
    fn navigation_stays_in_bounds() {
        let mut app = app_with(vec![typtag("a", 1, 0), typtag("b", 1, 0), typtag("c", 1, 0)]);
        app.update(Action::Down);
        app.update(Action::PageDown);
        assert_eq!(app.selected, 2);
        app.update(Action::Up);
        assert_eq!(app.selected, 1);
        app.update(Action::Top);
        assert_eq!(app.selected, 0);
        app.update(Action::NextTab);
        assert_eq!((app.tab, app.selected), (Tab::Parsers, 0));
        assert_eq!(app.key_action(key(KeyCode::Char('3'))), Some(Action::SelectTab(Tab::Causes)));
    }

    #[test]
    fn help_overlay_takes_the_keys() {
        let mut app = app_with(vec![]);
        app.update(app.key_action(key(KeyCode::Char('?'))).unwrap());
        assert!(app.help);
        assert_eq!(app.key_action(key(KeyCode::Char('s'))), None);
        app.update(app.key_action(key(KeyCode::Esc)).unwrap());
        assert!(!app.help);
        let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(app.key_action(ctrl_c), Some(Action::Quit));
    }

    #[test]
    fn rates_per_typtag_and_restarts() {
        let mut app = App::new("/x.sock".into(), Duration::from_secs(1), true);
        let identity = Identity { started_at_ms: 1, pid: 7, ..Default::default() };
        let at = |ms: u64, n: u64| Snapshot {
            taken_at_ms: ms,
            identity: identity.clone(),
            typtags: vec![typtag("a", n, 0)],
            ..Default::default()
        };
        app.update(Action::Snapshot(Box::new(at(10_000, 0))));
        assert_eq!(app.rates.per_minute("a"), None);
        app.update(Action::Snapshot(Box::new(at(40_000, 50))));
        assert_eq!(app.rates.per_minute("a"), Some(100.0));
        // The daemon restarted: counts start over, and so do the rates.
        let restarted =
            Snapshot { identity: Identity { started_at_ms: 50_000, pid: 8, ..Default::default() }, ..at(51_000, 1) };
        app.update(Action::Snapshot(Box::new(restarted)));
        assert_eq!(app.rates.per_minute("a"), None);
    }

    #[test]
    fn disconnects_count_attempts() {
        let mut app = App::new("/x.sock".into(), Duration::from_secs(1), true);
        app.update(Action::Disconnected { error: "refused".into(), now_ms: 5 });
        app.update(Action::Disconnected { error: "not found".into(), now_ms: 1_005 });
        let expect = Link::Disconnected { since_ms: 5, last_ms: 1_005, error: "not found".into(), attempts: 2 };
        assert_eq!(app.link, expect);
        app.update(Action::Connected("cybexp-archive 0.1.0".into()));
        assert_eq!(app.link, Link::Connected { server: "cybexp-archive 0.1.0".into() });
    }
}
