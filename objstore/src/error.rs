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
    /// An object's stored bytes are not what was written: a bad header, a
    /// length that disagrees with the file, or content whose checksum does
    /// not match. Nothing is returned from a damaged object.
    #[error("object {name} is damaged at byte {offset}: expected {expected}, found {found}")]
    Corrupt {
        /// The object.
        name: String,
        /// Where in the stored file (header included) the damage was seen.
        offset: u64,
        /// What should be there.
        expected: String,
        /// What is there.
        found: String,
    },
    /// A request to a remote store failed, after the retries it was allowed
    /// (see `RemoteOptions`); `cause` is the last failure.
    #[error("{op} of object {name} failed: {cause}")]
    Remote {
        /// The operation: `put`, `get`, `get_range`, `head`, `list`,
        /// `delete`.
        op: &'static str,
        /// The object (for `list`, the prefix).
        name: String,
        /// What the store or the network said.
        cause: String,
    },
    /// A request to a remote store did not complete within its timeout, on
    /// its last try.
    #[error("{op} of object {name} timed out after {timeout_ms} ms")]
    Timeout {
        /// The operation, as in [`Error::Remote`].
        op: &'static str,
        /// The object (for `list`, the prefix).
        name: String,
        /// The per-request timeout.
        timeout_ms: u64,
    },
    /// A conditional put whose outcome could not be found out: the request
    /// failed in a way that leaves open whether it was applied, and reading
    /// the object back failed too. The caller must read the object to know.
    #[error("conditional put of {name} may or may not have happened: {cause}")]
    OutcomeUnknown {
        /// The object.
        name: String,
        /// The failure of the put, and of the read back.
        cause: String,
    },
    /// The remote store does not do this (`object_store`'s local file
    /// store has no `If-Match` put, for one).
    #[error("{op} of object {name} is not supported by this store: {cause}")]
    Unsupported {
        /// The operation, as in [`Error::Remote`].
        op: &'static str,
        /// The object.
        name: String,
        /// What the store said.
        cause: String,
    },
    /// The local file layer failed.
    #[error(transparent)]
    Io(#[from] vfs::Error),
}

/// `Result` with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
