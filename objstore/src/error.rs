use std::ops::Range;

/// What went wrong with an object.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No object has this name.
    #[error("object {name} not found")]
    NotFound {
        /// The missing object.
        name: String,
    },
    /// A conditional put lost: [`PutMode::Create`](crate::PutMode::Create)
    /// found the name taken, or [`PutMode::Update`](crate::PutMode::Update)
    /// found another version than the one it named.
    #[error("conditional put of {name} refused: {reason}")]
    Precondition {
        /// The object.
        name: String,
        /// What the store found.
        reason: String,
    },
    /// A ranged read asked for bytes past the object's end.
    #[error("object {name} is {size} bytes; bytes {}..{} are out of range", range.start, range.end)]
    OutOfRange {
        /// The object.
        name: String,
        /// Its length.
        size: u64,
        /// The bytes asked for.
        range: Range<u64>,
    },
    /// The name is not a relative `/`-separated path without empty, `.` or
    /// `..` parts.
    #[error("{name:?} is not a valid object name")]
    BadName {
        /// The refused name.
        name: String,
    },
    /// The local file layer failed.
    #[error(transparent)]
    Fs(#[from] vfs::Error),
}

/// `Result` with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
