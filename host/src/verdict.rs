//! What a parser's answer means for an entry, and how the command line
//! exits on it: decided here once, for the daemon, `parse`, `parser check`
//! and `replay`. A leaf: it imports no other module of this crate.
//!
//! Only an entry's own content may make it ERROR. The archiver's trouble
//! (the sandbox unavailable, a routed parser not loaded) is a retry
//! everywhere: the daemon releases the entry, the commands exit
//! [`EXIT_RETRY`].

use std::process::ExitCode;

use cybexp_lake::{ErrorCause, Outcome};
use cybexp_sandbox::{ParseError, ParsedDocument};

/// `parse`, `replay` and `parser check` exit 0 on SUCCESS, this on NOT_SUPPORTED,
pub const EXIT_NOT_SUPPORTED: u8 = 3;
/// this on ERROR (and `decrypt` when it cannot decrypt),
pub const EXIT_ERROR: u8 = 4;
/// and sysexits' `EX_TEMPFAIL` when the archiver, not the input, failed:
/// the daemon would retry the entry.
pub const EXIT_RETRY: u8 = 75;
/// `check-config` when the daemon would not start: sysexits' `EX_CONFIG`.
pub const EXIT_CONFIG: u8 = 78;

/// What a parser's answer decides.
#[derive(Debug)]
pub enum Verdict {
    /// A document: store it, then mark the entry SUCCESS.
    Parsed(ParsedDocument),
    /// The entry's own content decided: NOT_SUPPORTED or ERROR. `why` is
    /// the parser's reason, for people (it may quote the feed).
    Finish { outcome: Outcome, why: String },
    /// The archiver's own trouble, not the entry's: retry, mark nothing.
    Retry(String),
}

impl Verdict {
    pub fn of(result: Result<ParsedDocument, ParseError>) -> Verdict {
        match result {
            Ok(doc) => Verdict::Parsed(doc),
            Err(e) if e.is_archiver_trouble() => Verdict::Retry(e.to_string()),
            Err(ParseError::NotSupported(why)) => Verdict::Finish { outcome: Outcome::NotSupported, why },
            Err(e) => Verdict::Finish {
                outcome: Outcome::Error { cause: ErrorCause::Parser(e.reason().to_owned()), message: e.to_string() },
                why: e.to_string(),
            },
        }
    }

    pub fn exit_code(&self) -> ExitCode {
        match self {
            Verdict::Parsed(_) => ExitCode::SUCCESS,
            Verdict::Finish { outcome, .. } => exit_code(outcome),
            Verdict::Retry(_) => ExitCode::from(EXIT_RETRY),
        }
    }
}

/// How a command exits on an outcome.
pub fn exit_code(outcome: &Outcome) -> ExitCode {
    match outcome {
        Outcome::Success { .. } => ExitCode::SUCCESS,
        Outcome::NotSupported => ExitCode::from(EXIT_NOT_SUPPORTED),
        Outcome::Error { .. } => ExitCode::from(EXIT_ERROR),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every kind of parser failure, and what it decides.
    #[test]
    fn each_parse_error_decides_once() {
        let not_supported = || ParseError::NotSupported("not a cowrie log".into());
        let cases: Vec<(ParseError, &str, u8)> = vec![
            (not_supported(), "NOT_SUPPORTED", EXIT_NOT_SUPPORTED),
            (ParseError::InvalidInput("line 3".into()), "ERROR parser.invalid_input", EXIT_ERROR),
            (ParseError::InputTooLarge { size: 2, limit: 1 }, "ERROR parser.input_too_large", EXIT_ERROR),
            (ParseError::OutputTooLarge { size: 2, limit: 1 }, "ERROR parser.output_too_large", EXIT_ERROR),
            (ParseError::BadOutput("no _hash".into()), "ERROR parser.bad_output", EXIT_ERROR),
            (ParseError::Fuel(9), "ERROR parser.fuel", EXIT_ERROR),
            (ParseError::Deadline(9), "ERROR parser.deadline", EXIT_ERROR),
            (ParseError::Memory(9), "ERROR parser.memory", EXIT_ERROR),
            (ParseError::Trap("unreachable".into()), "ERROR parser.trap", EXIT_ERROR),
            (ParseError::UnknownParser("gone".into()), "RETRY", EXIT_RETRY),
            (ParseError::Unavailable("pool exhausted".into()), "RETRY", EXIT_RETRY),
        ];
        for (error, expected, exit) in cases {
            let shown = error.to_string();
            let verdict = Verdict::of(Err(error));
            let decided = match &verdict {
                Verdict::Parsed(_) => "SUCCESS".to_owned(),
                Verdict::Finish { outcome: Outcome::NotSupported, .. } => "NOT_SUPPORTED".to_owned(),
                Verdict::Finish { outcome: Outcome::Error { cause, message }, why } => {
                    assert_eq!((message, why), (&shown, &shown));
                    format!("ERROR {}", cause.code())
                }
                Verdict::Finish { outcome: Outcome::Success { .. }, .. } => unreachable!("a failure is never SUCCESS"),
                Verdict::Retry(why) => {
                    assert_eq!(why, &shown);
                    "RETRY".to_owned()
                }
            };
            assert_eq!(decided, expected, "{shown}");
            assert_eq!(verdict.exit_code(), ExitCode::from(exit), "{shown}");
        }
        assert_eq!(exit_code(&Outcome::Success { hash: "h".into() }), ExitCode::SUCCESS);
    }
}
