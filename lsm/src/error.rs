//! The error type of the engine.

use std::path::PathBuf;

/// Everything that can go wrong in the engine.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The file layer failed (I/O error, or a fault injected by a test).
    #[error(transparent)]
    Fs(#[from] vfs::Error),
    /// Bytes on disk failed a check: a checksum, a magic number, a length that
    /// points outside its block. `offset` is where the bad unit starts.
    #[error("corruption in {} at offset {offset}: {what} (expected {expected:#x}, found {found:#x})", file.display())]
    Corruption {
        /// The file holding the bad bytes.
        file: PathBuf,
        /// Byte offset of the bad record, block or footer in `file`.
        offset: u64,
        /// What failed ("block checksum", "footer magic", ...).
        what: &'static str,
        /// The expected checksum or value (0 when not a checksum).
        expected: u64,
        /// The value found (0 when not a checksum).
        found: u64,
    },
    /// A key longer than [`KEY_LEN_MAX`](crate::KEY_LEN_MAX).
    #[error("key of {len} bytes exceeds the maximum of {len_max}")]
    KeyTooLarge {
        /// Length of the rejected key.
        len: usize,
        /// The maximum allowed.
        len_max: usize,
    },
    /// A value longer than [`VALUE_LEN_MAX`](crate::VALUE_LEN_MAX).
    #[error("value of {len} bytes exceeds the maximum of {len_max}")]
    ValueTooLarge {
        /// Length of the rejected value.
        len: usize,
        /// The maximum allowed.
        len_max: usize,
    },
    /// The database is closed, or a background thread failed and stopped it.
    #[error("database is closed{}", reason.as_deref().map(|r| format!(": {r}")).unwrap_or_default())]
    Closed {
        /// Why, when a background failure closed it.
        reason: Option<String>,
    },
    /// Options that cannot work together.
    #[error("invalid option: {0}")]
    InvalidOption(&'static str),
}

impl Error {
    pub(crate) fn corruption(
        file: impl Into<PathBuf>,
        offset: u64,
        what: &'static str,
        expected: u64,
        found: u64,
    ) -> Error {
        Error::Corruption {
            file: file.into(),
            offset,
            what,
            expected,
            found,
        }
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
