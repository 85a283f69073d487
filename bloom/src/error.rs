//! The error type of the `bloom` crate.

use crate::Kind;

/// What went wrong building, combining or decoding a filter.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A constructor argument is out of range.
    #[error("invalid argument: {name} = {value} ({reason})")]
    InvalidArgument {
        /// The argument's name.
        name: &'static str,
        /// Its value, as text.
        value: String,
        /// The accepted range.
        reason: &'static str,
    },
    /// `union` or `intersect` of filters of different shapes.
    #[error("filters differ in shape: {left} vs {right}")]
    ShapeMismatch {
        /// The shape of `self` (slots and probes).
        left: String,
        /// The shape of the other filter.
        right: String,
    },
    /// The bytes end before the filter does.
    #[error("truncated filter: {len} bytes, need at least {len_min}")]
    Truncated {
        /// How many bytes were given.
        len: usize,
        /// How many the header says there must be.
        len_min: usize,
    },
    /// The bytes go on past the filter's end.
    #[error("trailing bytes: {len} bytes, the filter is {len_expected}")]
    TrailingBytes {
        /// How many bytes were given.
        len: usize,
        /// How many the header says there are.
        len_expected: usize,
    },
    /// The bytes do not start with the filter magic.
    #[error("not a serialized filter: magic {found:02x?}")]
    BadMagic {
        /// The first four bytes found.
        found: [u8; 4],
    },
    /// A format version this code does not read.
    #[error("unsupported format version {found} (this code reads {supported})")]
    UnsupportedVersion {
        /// The version in the bytes.
        found: u8,
        /// The version this code reads.
        supported: u8,
    },
    /// The kind byte names no known filter kind.
    #[error("unknown filter kind {found}")]
    UnknownKind {
        /// The kind byte found.
        found: u8,
    },
    /// The bytes hold a valid filter of another kind.
    #[error("wrong filter kind: expected {expected:?}, found {found:?}")]
    WrongKind {
        /// The kind the caller asked for.
        expected: Kind,
        /// The kind in the bytes.
        found: Kind,
    },
    /// The CRC-32 stored after the filter does not match its bytes.
    #[error("corrupt filter: CRC-32 expected {expected:#010x}, found {found:#010x}")]
    Checksum {
        /// The CRC-32 stored in the bytes.
        expected: u32,
        /// The CRC-32 of the bytes as read.
        found: u32,
    },
    /// The header's parameters are inconsistent (e.g. payload length does not
    /// match the number of slots), though its CRC holds.
    #[error("corrupt filter header: {reason}")]
    BadHeader {
        /// What is inconsistent.
        reason: &'static str,
    },
}

/// `Result` with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

pub(crate) fn invalid(name: &'static str, value: impl ToString, reason: &'static str) -> Error {
    Error::InvalidArgument {
        name,
        value: value.to_string(),
        reason,
    }
}
