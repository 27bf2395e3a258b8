//! Which entries an operator asks for.

use std::convert::Infallible;
use std::fmt;
use std::str::FromStr;

/// A selection of entries by where they stand. `Processed`, `Unprocessed`
/// (not processed and not skipped: waiting) and `Skipped` (not processed,
/// skipped) split the entries in three, as [`QueueDepth`](crate::QueueDepth)
/// counts them; `State` is a literal `state` value (`not_supported`,
/// `bad_data`, ...).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum EntryState {
    Processed,
    Unprocessed,
    Skipped,
    State(String),
}

impl EntryState {
    pub fn as_str(&self) -> &str {
        match self {
            EntryState::Processed => "processed",
            EntryState::Unprocessed => "unprocessed",
            EntryState::Skipped => "skipped",
            EntryState::State(state) => state,
        }
    }
}

/// `processed`, `unprocessed`, `skipped`; anything else is a `state` value.
impl FromStr for EntryState {
    type Err = Infallible;

    fn from_str(s: &str) -> Result<Self, Infallible> {
        Ok(match s {
            "processed" => EntryState::Processed,
            "unprocessed" => EntryState::Unprocessed,
            "skipped" => EntryState::Skipped,
            state => EntryState::State(state.to_owned()),
        })
    }
}

impl fmt::Display for EntryState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_back() {
        for (text, state) in [
            ("processed", EntryState::Processed),
            ("unprocessed", EntryState::Unprocessed),
            ("skipped", EntryState::Skipped),
            ("not_supported", EntryState::State("not_supported".into())),
            ("", EntryState::State(String::new())),
        ] {
            assert_eq!(text.parse::<EntryState>(), Ok(state.clone()));
            assert_eq!(state.to_string(), text);
        }
    }
}
