//! What goes wrong in a store, by kind.

use std::error::Error;
use std::fmt::{self, Display};
use std::sync::Arc;

/// What a [`StoreError`] means for the caller.
///
/// - `Unavailable`: the database cannot be used right now (server
///   unreachable, a timeout, a lock held past the busy timeout); the same
///   call may well succeed later.
/// - `Refused`: the store refuses this request for good, whatever the
///   database's state (an entry that fails [`NewEntry::validate`], an id that
///   is not this store's, an unacknowledged write concern, an archive whose
///   `_hash` index is not unique); retrying the same call is pointless until
///   something changes.
/// - `Other`: any other failure of the database.
///
/// [`NewEntry::validate`]: crate::NewEntry::validate
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreErrorKind {
    Unavailable,
    Refused,
    Other,
}

impl StoreErrorKind {
    /// The word in the error message.
    fn word(self) -> &'static str {
        match self {
            StoreErrorKind::Unavailable => "unavailable",
            StoreErrorKind::Refused => "refused",
            StoreErrorKind::Other => "error",
        }
    }
}

/// A failure of the database itself: never an outcome, nothing is marked and
/// the entry is retried later (reference §5).
///
/// It keeps the driver's error it came from ([`StoreError::cause`]), typed,
/// as `std::io::Error` keeps a custom error: the message already quotes the
/// cause's words, so [`Error::source`] continues with the cause's own
/// source and a printed chain says each thing once.
#[derive(Clone, Debug)]
pub struct StoreError {
    /// The backend's name, e.g. `sqlite`, `mongodb`.
    pub backend: &'static str,
    pub kind: StoreErrorKind,
    pub message: String,
    cause: Option<Arc<dyn Error + Send + Sync + 'static>>,
}

impl StoreError {
    pub fn unavailable(backend: &'static str, message: impl Display) -> Self {
        Self::of(backend, StoreErrorKind::Unavailable, message)
    }

    pub fn refused(backend: &'static str, message: impl Display) -> Self {
        Self::of(backend, StoreErrorKind::Refused, message)
    }

    pub fn other(backend: &'static str, message: impl Display) -> Self {
        Self::of(backend, StoreErrorKind::Other, message)
    }

    pub fn of(backend: &'static str, kind: StoreErrorKind, message: impl Display) -> Self {
        StoreError { backend, kind, message: message.to_string(), cause: None }
    }

    /// The same error, keeping `cause` (the driver's error its message quotes).
    pub fn caused_by(mut self, cause: impl Error + Send + Sync + 'static) -> Self {
        self.cause = Some(Arc::new(cause));
        self
    }

    /// The driver's error this came from, if any: downcast it to ask the
    /// driver's own questions (an error code, a label).
    pub fn cause(&self) -> Option<&(dyn Error + Send + Sync + 'static)> {
        self.cause.as_deref()
    }
}

impl Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} store {}: {}", self.backend, self.kind.word(), self.message)
    }
}

impl Error for StoreError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.cause.as_deref()?.source()
    }
}

/// Reading an entry's blob.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("blob missing: {0}")]
    Missing(String),
    #[error("blob corrupt: {0}")]
    Corrupt(String),
    /// Longer than the caller can use; refused before any of it is read.
    #[error("blob of {size} bytes exceeds the {limit}-byte limit")]
    TooLarge { size: u64, limit: u64 },
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_say_the_backend_and_the_kind() {
        let cases = [
            (
                StoreError::unavailable("sqlite", "locked"),
                StoreErrorKind::Unavailable,
                "sqlite store unavailable: locked",
            ),
            (StoreError::refused("mongodb", "w=0"), StoreErrorKind::Refused, "mongodb store refused: w=0"),
            (StoreError::other("sqlite", 42), StoreErrorKind::Other, "sqlite store error: 42"),
        ];
        for (error, kind, text) in cases {
            assert_eq!(error.kind, kind);
            assert_eq!(error.to_string(), text);
        }
        let blob: BlobError = StoreError::other("mongodb", "x").into();
        assert_eq!(blob.to_string(), "mongodb store error: x");
    }

    #[test]
    fn the_cause_is_kept_typed_and_its_chain_continues() {
        #[derive(Debug, thiserror::Error)]
        #[error("deeper")]
        struct Deeper;
        #[derive(Debug, thiserror::Error)]
        #[error("driver says no")]
        struct Driver(#[source] Deeper);
        let error = StoreError::unavailable("mongodb", "claiming: driver says no").caused_by(Driver(Deeper));
        assert!(error.cause().is_some_and(|c| c.downcast_ref::<Driver>().is_some()));
        let source = error.source().expect("the cause's own source");
        assert!(source.downcast_ref::<Deeper>().is_some());
        assert_eq!(error.clone().to_string(), "mongodb store unavailable: claiming: driver says no");
        assert!(StoreError::other("sqlite", "x").cause().is_none());
    }
}
