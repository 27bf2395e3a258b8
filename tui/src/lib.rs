//! `cybexp-archive top`: a terminal dashboard of a running archiver, read
//! from its status socket ([`cybexp_status`]). Built like `vector top` and
//! tokio-console: terminal and client events become [`app::Action`]s, the
//! [`app::App`] state is updated, and [`view`] draws it. The screen is
//! redrawn only when something changed, so at most once per interval
//! (plus keystrokes), which keeps a slow SSH link quiet.
//!
//! `cybexp-archive status` prints the same snapshot once ([`text::status_report`]).

use std::io;
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Duration;

use ratatui::crossterm::event::{self, Event as TermEvent};

pub mod app;
pub mod client;
pub mod text;
pub mod view;

pub use app::{Action, App};

/// The default refresh interval.
pub const DEFAULT_INTERVAL: Duration = Duration::from_millis(1000);
/// Shortest and longest interval accepted.
pub const MIN_INTERVAL: Duration = Duration::from_millis(100);
pub const MAX_INTERVAL: Duration = Duration::from_secs(60);

/// What wakes the dashboard.
pub enum Event {
    Action(Action),
    /// The terminal's input broke: stop.
    InputError(io::Error),
}

/// `top`'s options.
#[derive(Clone, Debug)]
pub struct Options {
    pub socket: PathBuf,
    pub interval: Duration,
    /// Colour unless `NO_COLOR` is set (to anything non-empty).
    pub color: bool,
}

impl Options {
    pub fn new(socket: PathBuf, interval: Duration) -> Options {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Options { socket, interval: interval.clamp(MIN_INTERVAL, MAX_INTERVAL), color: !no_color }
    }
}

/// Runs the dashboard until the operator quits. The terminal is restored on
/// return and on panic.
pub fn run(options: Options) -> io::Result<()> {
    let (tx, rx) = mpsc::channel();
    {
        let (socket, interval, tx) = (options.socket.clone(), options.interval, tx.clone());
        std::thread::Builder::new().name("top-client".into()).spawn(move || client::run(socket, interval, tx))?;
    }
    std::thread::Builder::new().name("top-input".into()).spawn(move || {
        loop {
            let event = match event::read() {
                Ok(TermEvent::Key(key)) => Event::Action(Action::Key(key)),
                Ok(TermEvent::Resize(..)) => Event::Action(Action::Resize),
                Ok(_) => continue,
                Err(e) => Event::InputError(e),
            };
            let stop = matches!(event, Event::InputError(_));
            if tx.send(event).is_err() || stop {
                return;
            }
        }
    })?;

    let mut terminal = ratatui::try_init()?;
    let result = event_loop(&mut terminal, &rx, App::new(options.socket, options.interval, options.color));
    ratatui::restore();
    result
}

fn event_loop(terminal: &mut ratatui::DefaultTerminal, rx: &mpsc::Receiver<Event>, mut app: App) -> io::Result<()> {
    let mut dirty = true;
    loop {
        if dirty {
            terminal.draw(|frame| view::draw(frame, &app))?;
            dirty = false;
        }
        let event = rx.recv().map_err(|_| io::Error::other("the dashboard's threads stopped"))?;
        dirty |= handle(&mut app, event)?;
        // Apply whatever else is queued before drawing once.
        while let Ok(event) = rx.try_recv() {
            dirty |= handle(&mut app, event)?;
        }
        if app.quit {
            return Ok(());
        }
    }
}

fn handle(app: &mut App, event: Event) -> io::Result<bool> {
    match event {
        Event::InputError(e) => Err(e),
        Event::Action(action) => Ok(app.update(action)),
    }
}
