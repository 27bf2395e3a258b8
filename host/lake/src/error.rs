//! What goes wrong in a store, by kind.

use std::fmt::Display;

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
#[derive(Clone, Debug, thiserror::Error)]
#[error("{backend} store {}: {message}", .kind.word())]
pub struct StoreError {
    /// The backend's name, e.g. `sqlite`, `mongodb`.
    pub backend: &'static str,
    pub kind: StoreErrorKind,
    pub message: String,
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

    fn of(backend: &'static str, kind: StoreErrorKind, message: impl Display) -> Self {
        StoreError { backend, kind, message: message.to_string() }
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
}
