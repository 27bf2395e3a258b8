//! Drawing: pure functions of the [`App`] state. Laid out for 80×24 first
//! (every panel has a top rule only, no side borders), growing the tables
//! with the terminal. Without colour (`NO_COLOR`), state and emphasis are
//! carried by words, bold and reverse video.

use cybexp_status::{Snapshot, State};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Clear, Paragraph, Row, Sparkline, Table, TableState};

use crate::app::{App, Link, SortKey, Tab};
use crate::text;

/// Styles, with or without colour.
#[derive(Clone, Copy)]
struct Theme {
    color: bool,
}

impl Theme {
    fn fg(self, color: Color) -> Style {
        if self.color { Style::new().fg(color) } else { Style::new() }
    }

    fn success(self) -> Style {
        self.fg(Color::Green)
    }

    fn warn(self) -> Style {
        self.fg(Color::Yellow)
    }

    fn error(self) -> Style {
        self.fg(Color::Red)
    }

    fn dim(self) -> Style {
        if self.color { Style::new().fg(Color::DarkGray) } else { Style::new() }
    }

    fn title(self) -> Style {
        Style::new().add_modifier(Modifier::BOLD)
    }

    fn header(self) -> Style {
        self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
    }

    fn selected(self) -> Style {
        Style::new().add_modifier(Modifier::REVERSED)
    }

    /// The state badge: coloured, and always bold (reversed when it is bad).
    fn badge(self, good: Option<bool>) -> Style {
        let bold = Style::new().add_modifier(Modifier::BOLD);
        match good {
            Some(true) => bold.patch(self.success()),
            None => bold.patch(self.warn()),
            Some(false) => bold.patch(self.error()).add_modifier(Modifier::REVERSED),
        }
    }
}

/// Draws the whole dashboard.
pub fn draw(frame: &mut Frame, app: &App) {
    let theme = Theme { color: app.color };
    let area = frame.area();
    let rest = area.height.saturating_sub(3 + 7 + 1);
    let errors_height = match rest {
        16.. => (rest / 3).min(12),
        8.. => 4,
        _ => 2,
    };
    let [header, middle, lower, errors, footer] = Layout::vertical([
        Constraint::Length(3),
        Constraint::Length(7),
        Constraint::Fill(1),
        Constraint::Length(errors_height),
        Constraint::Length(1),
    ])
    .areas(area);

    draw_header(frame, header, app, theme);
    match &app.snapshot {
        Some(s) => {
            let left_width = (area.width * 3 / 5).clamp(46.min(area.width), 60);
            let [left, right] =
                Layout::horizontal([Constraint::Length(left_width), Constraint::Fill(1)]).spacing(1).areas(middle);
            draw_outcomes(frame, left, s, theme);
            draw_queue(frame, right, s, theme);
            draw_lower(frame, lower, app, s, theme);
            draw_errors(frame, errors, s, theme);
        }
        None => {
            draw_waiting(frame, Rect { height: middle.height + lower.height + errors.height, ..middle }, app, theme)
        }
    }
    draw_footer(frame, footer, app, theme);
    if app.help {
        draw_help(frame, area, theme);
    }
}

fn rule<'a>(title: impl Into<Line<'a>>, theme: Theme) -> Block<'a> {
    Block::new().borders(Borders::TOP).border_style(theme.dim()).title(title.into())
}

/// The state words and whether that is good (`None`: so-so).
fn state_badge(app: &App) -> (String, Option<bool>) {
    match (&app.link, &app.snapshot) {
        (Link::Disconnected { since_ms, last_ms, attempts, .. }, _) => {
            let for_ms = last_ms.saturating_sub(*since_ms);
            (format!("✗ DISCONNECTED {} · retry #{attempts}", text::duration_ms(for_ms)), Some(false))
        }
        (Link::Connecting, _) | (_, None) => ("… CONNECTING".into(), None),
        (Link::Connected { .. }, Some(s)) => {
            let state = s.state();
            let good = match state {
                State::Running { .. } => Some(true),
                State::BackingOff { .. } | State::Stopping => None,
                State::Stalled { .. } => Some(false),
            };
            let dot = if good == Some(true) { "●" } else { "◌" };
            (format!("{dot} {}", text::state(&state)), good)
        }
    }
}

fn draw_header(frame: &mut Frame, area: Rect, app: &App, theme: Theme) {
    let rows = Layout::vertical([Constraint::Length(1); 3]).split(area);
    let (badge, good) = state_badge(app);
    let badge_width = badge.chars().count() as u16 + 1;
    let [left, right] = Layout::horizontal([Constraint::Fill(1), Constraint::Length(badge_width)]).areas(rows[0]);
    frame.render_widget(Paragraph::new(Line::from(Span::styled(badge, theme.badge(good))).right_aligned()), right);

    let Some(s) = &app.snapshot else {
        let title = format!("cybexp-archive top · {}", app.socket.display());
        frame.render_widget(Paragraph::new(Span::styled(title, theme.title())), left);
        if let Link::Disconnected { error, .. } = &app.link {
            frame.render_widget(Paragraph::new(Span::styled(error.to_owned(), theme.error())), rows[1]);
        }
        return;
    };
    let id = &s.identity;
    let first = Line::from(vec![
        Span::styled(format!("{} {}", &id.name, &id.version), theme.title()),
        Span::styled(" · ", theme.dim()),
        Span::raw(id.instance.clone()),
        Span::styled(" · ", theme.dim()),
        Span::raw(format!("up {}", text::duration_ms(s.uptime_ms()))),
    ]);
    frame.render_widget(Paragraph::new(first), left);

    let archive = if id.archive == id.lake { "same".to_owned() } else { id.archive.clone() };
    let w = &s.workers;
    // Short items first: a long store path is what gets cut on a narrow screen.
    let second = Line::from(vec![
        Span::styled("workers ", theme.dim()),
        Span::raw(format!("{} · {} busy", w.count, text::percent(w.utilisation_10s))),
        Span::styled(" · lake ", theme.dim()),
        Span::raw(id.lake.clone()),
        Span::styled(" · archive ", theme.dim()),
        Span::raw(archive),
    ]);
    frame.render_widget(Paragraph::new(second), rows[1]);

    let l = &s.loop_state;
    let polls = format!("{} ({} failed)", l.polls, l.poll_errors);
    let third = match (&app.link, &l.last_error, l.last_error_at_ms) {
        (Link::Disconnected { error, .. }, _, _) => {
            Line::from(Span::styled(format!("last data shown · {}", error), theme.error()))
        }
        // A poll failed: that matters more than the keys.
        (_, Some(error), Some(at)) => Line::from(vec![
            Span::styled("last error ", theme.dim()),
            Span::styled(format!("{}: {}", text::ago(s.taken_at_ms, at), error), theme.error()),
            Span::styled(" · polls ", theme.dim()),
            Span::raw(polls),
        ]),
        // A reload was refused: the daemon runs on an older config.
        // Its first line here; a longer error (a TOML snippet) is listed
        // line by line under Recent errors.
        _ if id.config.last_reload_error.is_some() => {
            let error = id.config.last_reload_error.as_deref().unwrap_or_default();
            let mut lines = cybexp_status::untrusted::lines(error);
            let first = lines.next().unwrap_or_default();
            let more = match lines.count() {
                0 => String::new(),
                n => format!(" (+{n} lines below)"),
            };
            let at = id.config.last_reload_at_ms.map(|at| text::ago(s.taken_at_ms, at)).unwrap_or_default();
            Line::from(vec![
                Span::styled("reload refused ", theme.dim()),
                Span::styled(format!("{at}: {first}{more}"), theme.error()),
                Span::styled(" · config ", theme.dim()),
                Span::raw(id.config.generation.to_string()),
            ])
        }
        _ => {
            let keys: Vec<&str> = id.key_fingerprints.iter().map(|k| text::short_fingerprint(k)).collect();
            Line::from(vec![
                Span::styled("keys ", theme.dim()),
                Span::raw(keys.join(",")),
                Span::styled(" · parsers ", theme.dim()),
                Span::raw(id.parsers.len().to_string()),
                Span::styled(" · polls ", theme.dim()),
                Span::raw(polls),
                Span::styled(" · config ", theme.dim()),
                Span::raw(id.config.generation.to_string()),
            ])
        }
    };
    frame.render_widget(Paragraph::new(third), rows[2]);
}

/// The last `n` values of a per-second series, as sparkline data.
fn tail(series: &[u32], n: usize) -> Vec<u64> {
    series[series.len().saturating_sub(n)..].iter().map(|v| u64::from(*v)).collect()
}

fn draw_outcomes(frame: &mut Frame, area: Rect, s: &Snapshot, theme: Theme) {
    let block = rule(Span::styled("Outcomes/s ", theme.title()), theme);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let [table_area, spark_ok, spark_err] =
        Layout::vertical([Constraint::Length(4), Constraint::Length(1), Constraint::Length(1)]).areas(inner);
    let r = &s.rates;
    let t = &s.totals;
    let row = |label: &'static str, style: Style, pick: fn(&cybexp_status::RateWindow) -> f64, total: u64| {
        Row::new(vec![
            Cell::from(Span::styled(label, style)),
            Cell::from(Line::from(text::rate(pick(&r.window_10s))).right_aligned()),
            Cell::from(Line::from(text::rate(pick(&r.window_1m))).right_aligned()),
            Cell::from(Line::from(text::rate(pick(&r.window_5m))).right_aligned()),
            Cell::from(Line::from(text::count(total)).right_aligned()),
        ])
    };
    let rows = vec![
        row("SUCCESS", theme.success(), |w| w.success, t.success),
        row("NOT_SUPPORTED", theme.warn(), |w| w.not_supported, t.not_supported),
        row("ERROR", theme.error(), |w| w.error, t.error),
    ];
    let header = Row::new(
        ["", "10s", "1m", "5m", "total"]
            .map(|h| Cell::from(Line::from(Span::styled(h, theme.header())).right_aligned())),
    );
    let widths = [
        Constraint::Length(13),
        Constraint::Length(7),
        Constraint::Length(7),
        Constraint::Length(7),
        Constraint::Length(8),
    ];
    frame.render_widget(Table::new(rows, widths).header(header).column_spacing(1), table_area);

    for (area, label, series, style) in
        [(spark_ok, "ok ", &s.history.success, theme.success()), (spark_err, "err", &s.history.error, theme.error())]
    {
        let [label_area, spark] = Layout::horizontal([Constraint::Length(4), Constraint::Fill(1)]).areas(area);
        frame.render_widget(Paragraph::new(Span::styled(label, theme.dim())), label_area);
        let data = tail(series, spark.width as usize);
        frame.render_widget(Sparkline::default().data(&data).style(style), spark);
    }
}

fn draw_queue(frame: &mut Frame, area: Rect, s: &Snapshot, theme: Theme) {
    let q = &s.queue;
    let title = format!("Queue (every {}) ", text::duration_ms(q.interval_ms));
    let block = rule(Span::styled(title, theme.title()), theme);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let rows = Layout::vertical([Constraint::Length(1); 6]).split(inner);
    let number = |n: Option<u64>| n.map(text::count).unwrap_or_else(|| "—".into());
    let line = |label: &'static str, value: String| {
        Line::from(vec![Span::styled(format!("{label:<9}"), theme.dim()), Span::raw(format!("{value:>8}"))])
    };
    // The lag beside the count it explains: a busy queue stays young, a
    // stuck one ages (the panel has no spare row; it fits 80 columns).
    let mut waiting = line("waiting", number(q.waiting));
    if let (Some(age), Some(1..)) = (q.oldest_waiting_age_ms(), q.waiting) {
        waiting.push_span(Span::styled(format!(" oldest {}", text::duration_ms(age)), theme.dim()));
    }
    frame.render_widget(Paragraph::new(waiting), rows[0]);
    frame.render_widget(Paragraph::new(line("skipped", number(q.skipped))), rows[1]);
    let trend = match q.trend_per_min() {
        Some(t) if t > 0.5 => Span::styled(format!("▲ +{t:.0}/min"), theme.warn()),
        Some(t) if t < -0.5 => Span::styled(format!("▼ {t:.0}/min"), theme.success()),
        Some(_) => Span::raw("= steady"),
        None => Span::styled("—", theme.dim()),
    };
    frame.render_widget(Paragraph::new(Line::from(vec![Span::styled("trend    ", theme.dim()), trend])), rows[2]);
    let waiting: Vec<u64> = q.history.iter().map(|h| h.waiting).collect();
    let data = &waiting[waiting.len().saturating_sub(rows[3].width as usize)..];
    frame.render_widget(Sparkline::default().data(data).style(theme.warn()), rows[3]);
    let sampled = match (q.sampled_at_ms, &q.error) {
        (_, Some(error)) => Span::styled(format!("sample failed: {}", error), theme.error()),
        (Some(at), None) => Span::styled(format!("sampled {}", text::ago(s.taken_at_ms, at)), theme.dim()),
        (None, None) => Span::styled("not sampled yet", theme.dim()),
    };
    frame.render_widget(Paragraph::new(sampled), rows[4]);
    if s.retried > 0 {
        let retried = Span::styled(format!("retried  {:>8}", text::count(s.retried)), theme.warn());
        frame.render_widget(Paragraph::new(retried), rows[5]);
    }
}

fn tabs_title(app: &App, theme: Theme) -> Line<'static> {
    let mut spans = Vec::new();
    for (i, tab) in Tab::ALL.iter().enumerate() {
        let label = format!(" {} {} ", i + 1, tab.title());
        let style = if *tab == app.tab { theme.title().add_modifier(Modifier::REVERSED) } else { theme.dim() };
        spans.push(Span::styled(label, style));
    }
    let arrow = if app.descending { "▼" } else { "▲" };
    let sort = match app.tab {
        Tab::Typtags => app.sort.label(),
        Tab::Parsers => "calls",
        Tab::Causes => "count",
    };
    spans.push(Span::styled(format!(" sort {sort} {arrow} "), theme.dim()));
    if !app.filter.is_empty() || app.editing_filter {
        spans.push(Span::styled(format!(" filter \"{}\" ", app.filter), theme.warn().add_modifier(Modifier::BOLD)));
    }
    Line::from(spans)
}

fn header_cells<'a>(names: &[(&'a str, bool)], sorted: Option<usize>, descending: bool, theme: Theme) -> Row<'a> {
    Row::new(names.iter().enumerate().map(|(i, (name, right))| {
        let name = if sorted == Some(i) {
            format!("{name}{}", if descending { "▼" } else { "▲" })
        } else {
            (*name).to_owned()
        };
        let line = Line::from(Span::styled(name, theme.header()));
        Cell::from(if *right { line.right_aligned() } else { line })
    }))
}

fn right(text: String) -> Cell<'static> {
    Cell::from(Line::from(text).right_aligned())
}

fn draw_lower(frame: &mut Frame, area: Rect, app: &App, s: &Snapshot, theme: Theme) {
    let block = rule(tabs_title(app, theme), theme);
    let mut state = TableState::default().with_selected(Some(app.selected));
    let table = match app.tab {
        Tab::Typtags => typtag_table(app, s, area.width, theme),
        Tab::Parsers => parser_table(app, area.width, theme),
        Tab::Causes => cause_table(app, s, theme),
    };
    let empty = app.rows() == 0;
    frame.render_stateful_widget(table.block(block).row_highlight_style(theme.selected()), area, &mut state);
    if empty {
        let note = if app.filter.is_empty() { "nothing yet" } else { "nothing matches the filter" };
        let y = area.y + 2;
        if y < area.bottom() {
            frame.render_widget(Paragraph::new(Span::styled(note, theme.dim())), Rect { y, height: 1, ..area });
        }
    }
}

fn typtag_table<'a>(app: &'a App, s: &Snapshot, width: u16, theme: Theme) -> Table<'a> {
    let wide = width >= 100;
    let sorted_column = |key: SortKey| match key {
        SortKey::Typtag => Some(0),
        SortKey::Total => None,
        SortKey::Success => Some(if wide { 2 } else { 1 }),
        SortKey::NotSupported => Some(if wide { 3 } else { 2 }),
        SortKey::Error => Some(if wide { 4 } else { 3 }),
        SortKey::ErrorRate => Some(if wide { 5 } else { 4 }),
        SortKey::Rate => Some(if wide { 6 } else { 5 }),
        SortKey::LastSeen => wide.then_some(8),
    };
    let mut names = vec![("TYPTAG", false)];
    if wide {
        names.push(("PARSER", false));
    }
    names.extend([
        ("SUCCESS", true),
        ("NOT_SUP", true),
        ("ERROR", true),
        ("ERR%", true),
        ("/MIN", true),
        ("TOP CAUSE", false),
    ]);
    if wide {
        names.push(("LAST", true));
    }
    let header = header_cells(&names, sorted_column(app.sort), app.descending, theme);
    let rows = app.typtag_rows().into_iter().map(|t| {
        let mut cells = vec![Cell::from(t.typtag.clone())];
        if wide {
            cells.push(Cell::from(Span::styled(t.parser.as_deref().unwrap_or("—").to_owned(), theme.dim())));
        }
        let error_style = if t.counts.error > 0 { theme.error() } else { Style::new() };
        cells.extend([
            right(text::count(t.counts.success)),
            right(text::count(t.counts.not_supported)),
            Cell::from(Line::from(Span::styled(text::count(t.counts.error), error_style)).right_aligned()),
            right(if t.counts.total() == 0 { "—".into() } else { text::percent(t.counts.error_ratio()) }),
            right(app.rates.per_minute(&t.typtag).map(|r| format!("{r:.0}")).unwrap_or_else(|| "—".into())),
            Cell::from(Span::styled(t.top_cause().map(|(c, _)| c.to_owned()).unwrap_or_default(), theme.error())),
        ]);
        if wide {
            let last = if t.last_seen_ms == 0 { "—".into() } else { text::ago(s.taken_at_ms, t.last_seen_ms) };
            cells.push(right(last));
        }
        Row::new(cells)
    });
    let mut widths = vec![Constraint::Fill(1)];
    if wide {
        widths.push(Constraint::Length(10));
    }
    widths.extend([
        Constraint::Length(8),
        Constraint::Length(8),
        Constraint::Length(6),
        Constraint::Length(5),
        Constraint::Length(5),
        Constraint::Length(if wide { 22 } else { 20 }),
    ]);
    if wide {
        widths.push(Constraint::Length(10));
    }
    Table::new(rows, widths).header(header).column_spacing(1)
}

fn parser_table<'a>(app: &'a App, width: u16, theme: Theme) -> Table<'a> {
    // Narrow: the version and the fuel maximum give way to the records, so
    // a feed degrading (MALFORMED) shows at 80 columns too.
    let wide = width >= 100;
    let mut names = vec![("PARSER", false)];
    if wide {
        names.push(("VERSION", false));
    }
    names.extend([("CALLS", true), ("MEAN", true), ("P50", true), ("P95", true), ("FUEL/CALL", true)]);
    if wide {
        names.push(("FUEL MAX", true));
    }
    names.extend([("RECORDS", true), ("MALFORMED", true)]);
    let header = header_cells(&names, Some(if wide { 2 } else { 1 }), app.descending, theme);
    let us = |v: Option<u64>| v.map(text::duration_us).unwrap_or_else(|| "—".into());
    let rows = app.parser_rows().into_iter().map(move |p| {
        let h = &p.parse_time;
        let mut cells = vec![Cell::from(p.name.clone())];
        if wide {
            cells.push(Cell::from(Span::styled(p.version.clone(), theme.dim())));
        }
        cells.extend([
            right(text::count(p.calls)),
            right(us(h.mean_us())),
            right(us(h.quantile_us(0.5))),
            right(us(h.quantile_us(0.95))),
            right(p.fuel_mean().map(text::count).unwrap_or_else(|| "—".into())),
        ]);
        if wide {
            cells.push(right(if p.calls == 0 { "—".into() } else { text::count(p.fuel_max) }));
        }
        // A parser that counts no records (json) shows none.
        let (records, malformed) = if p.records == 0 {
            ("—".to_owned(), Cell::from(Line::from("—").right_aligned()))
        } else {
            let style = if p.malformed > 0 { theme.error().add_modifier(Modifier::BOLD) } else { Style::default() };
            (
                text::count(p.records),
                Cell::from(Line::from(Span::styled(text::count(p.malformed), style)).right_aligned()),
            )
        };
        cells.extend([right(records), malformed]);
        Row::new(cells)
    });
    let mut widths = vec![Constraint::Fill(1)];
    if wide {
        widths.push(Constraint::Length(8));
    }
    widths.extend([Constraint::Length(7); 4]);
    widths.push(Constraint::Length(9));
    if wide {
        widths.push(Constraint::Length(9));
    }
    widths.extend([Constraint::Length(9), Constraint::Length(9)]);
    Table::new(rows, widths).header(header).column_spacing(1)
}

fn cause_table<'a>(app: &'a App, s: &Snapshot, theme: Theme) -> Table<'a> {
    let names = [("CAUSE", false), ("COUNT", true), ("SHARE", true), ("TYPTAGS", false)];
    let header = header_cells(&names, Some(1), app.descending, theme);
    let errors = s.totals.error.max(1) as f64;
    let rows = app.cause_rows().into_iter().map(|(cause, n)| {
        let typtags: Vec<String> =
            s.typtags.iter().filter(|t| t.causes.contains_key(cause)).map(|t| t.typtag.clone()).collect();
        Row::new(vec![
            Cell::from(Span::styled(cause.to_owned(), theme.error())),
            right(text::count(n)),
            right(text::percent(n as f64 / errors)),
            Cell::from(typtags.join(", ")),
        ])
    });
    let widths = [Constraint::Length(24), Constraint::Length(7), Constraint::Length(6), Constraint::Fill(1)];
    Table::new(rows, widths).header(header).column_spacing(1)
}

fn draw_errors(frame: &mut Frame, area: Rect, s: &Snapshot, theme: Theme) {
    let title = format!("Recent errors ({} since start) ", text::count(s.totals.error));
    let block = rule(Span::styled(title, theme.title()), theme);
    // A refused reload whose error runs over lines: all of them first,
    // indented, since the header has room for one.
    let config = &s.identity.config;
    let mut reload_lines: Vec<&str> = config
        .last_reload_error
        .as_deref()
        .map(|error| cybexp_status::untrusted::lines(error).collect())
        .unwrap_or_default();
    if reload_lines.len() < 2 {
        reload_lines.clear();
    }
    let nothing = reload_lines.is_empty() && s.recent_errors.is_empty();
    let reload_rows = reload_lines.into_iter().enumerate().map(|(i, line)| {
        let (at, label) = match (i, config.last_reload_at_ms) {
            (0, Some(at)) => (text::ago(s.taken_at_ms, at), "reload refused"),
            _ => (String::new(), ""),
        };
        let indent = if i == 0 { "" } else { "  " };
        Row::new(vec![
            Cell::from(Span::styled(at, theme.dim())),
            Cell::from(""),
            Cell::from(Span::styled(label, theme.error())),
            Cell::from(format!("{indent}{line}")),
        ])
    });
    let rows = reload_rows.chain(s.recent_errors.iter().map(|e| {
        let message = e.message.as_deref().map(|m| format!("  {}", m)).unwrap_or_default();
        Row::new(vec![
            Cell::from(Span::styled(text::ago(s.taken_at_ms, e.at_ms), theme.dim())),
            Cell::from(e.typtag.clone()),
            Cell::from(Span::styled(e.cause.clone(), theme.error())),
            Cell::from(format!("entry {}{message}", &e.entry)),
        ])
    }));
    let widths = [Constraint::Length(10), Constraint::Length(16), Constraint::Length(22), Constraint::Fill(1)];
    frame.render_widget(Table::new(rows, widths).block(block).column_spacing(1), area);
    if nothing && area.height > 1 {
        let none = Span::styled("none", theme.dim());
        frame.render_widget(Paragraph::new(none), Rect { y: area.y + 1, height: 1, ..area });
    }
}

fn draw_waiting(frame: &mut Frame, area: Rect, app: &App, theme: Theme) {
    let error = match &app.link {
        Link::Disconnected { error, .. } => error.to_owned(),
        _ => "connecting…".into(),
    };
    let lines = vec![
        Line::from(""),
        Line::from(Span::styled(format!("Waiting for the archiver at {}", app.socket.display()), theme.title())),
        Line::from(Span::styled(error, theme.error())),
        Line::from(""),
        Line::from("Start it with `cybexp-archive run`: this screen connects by itself."),
        Line::from(Span::styled("q quits", theme.dim())),
    ];
    frame.render_widget(Paragraph::new(lines).centered(), area);
}

fn draw_footer(frame: &mut Frame, area: Rect, app: &App, theme: Theme) {
    let key = |k: &'static str| Span::styled(k, theme.title().add_modifier(Modifier::REVERSED));
    let words = |w: &'static str| Span::styled(w, theme.dim());
    let line = if app.editing_filter {
        Line::from(vec![
            Span::raw(" filter: "),
            Span::styled(format!("{}▏", app.filter), theme.warn().add_modifier(Modifier::BOLD)),
            words("  "),
            key("Enter"),
            words(" keep "),
            key("Esc"),
            words(" clear"),
        ])
    } else {
        Line::from(vec![
            key("q"),
            words(" quit "),
            key("?"),
            words(" help "),
            key("s"),
            words(" sort "),
            key("r"),
            words(" reverse "),
            key("/"),
            words(" filter "),
            key("Tab"),
            words(" view "),
            key("↑↓"),
            words(" scroll "),
            words(" every "),
            Span::styled(text::duration_ms(app.interval.as_millis() as u64), theme.dim()),
        ])
    };
    frame.render_widget(Paragraph::new(line), area);
}

const HELP: &[(&str, &str)] = &[
    ("q  Esc  Ctrl-C", "quit (Esc first clears a filter)"),
    ("?  h", "this help"),
    ("Tab  t  1 2 3", "typtags, parsers, error causes"),
    ("s", "sort by the next column"),
    ("r", "reverse the sort"),
    ("/  f", "filter typtag, parser, cause; Enter keeps, Esc clears"),
    ("↑↓ jk PgUp PgDn g G", "move in the table"),
    ("", ""),
    ("RUNNING", "working, or waiting for its next regular poll"),
    ("BACKING OFF (n)", "n polls without a SUCCESS: sleeps 2^n s (max 1 h)"),
    ("STALLED?", "a poll is due but nothing happened for 60 s"),
    ("DISCONNECTED", "no daemon at the socket; retrying every second"),
    ("rates", "outcomes per second over 10 s, 1 min, 5 min"),
];

fn draw_help(frame: &mut Frame, area: Rect, theme: Theme) {
    let width = area.width.min(76);
    let height = (HELP.len() as u16 + 2).min(area.height);
    let popup = Rect { x: area.x + (area.width - width) / 2, y: area.y + (area.height - height) / 2, width, height };
    let lines: Vec<Line> = HELP
        .iter()
        .map(|(keys, what)| Line::from(vec![Span::styled(format!("{keys:<20}"), theme.title()), Span::raw(*what)]))
        .collect();
    let block = Block::bordered().title(Span::styled(" Help — any of ? Esc Enter closes ", theme.title()));
    frame.render_widget(Clear, popup);
    frame.render_widget(Paragraph::new(lines).block(block), popup);
}
