//! The error type of the `merkle` crate.

/// What went wrong building a proof, verifying one, or decoding bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A leaf index at or past the tree size.
    #[error("leaf index {index} out of range for tree size {tree_size}")]
    IndexOutOfRange {
        /// The index given.
        index: u64,
        /// The size of the tree it was meant for.
        tree_size: u64,
    },
    /// A tree size the operation cannot take (larger than the tree, zero
    /// where RFC 9162 forbids it, or an old size past the new one).
    #[error("invalid tree size: {reason} (sizes {first} and {second})")]
    InvalidSize {
        /// Why.
        reason: &'static str,
        /// The first (or only) size involved.
        first: u64,
        /// The second size, or the tree's length.
        second: u64,
    },
    /// Leaf indices of a multi-leaf proof not strictly increasing.
    #[error("leaf indices must be strictly increasing: {previous} then {got}")]
    UnsortedIndices {
        /// The index before.
        previous: u64,
        /// The index that should have been larger.
        got: u64,
    },
    /// A proof with the wrong number of hashes for its sizes and indices.
    #[error("proof has {found} hashes, its shape needs {expected}")]
    ProofLength {
        /// Hashes the shape needs (or, where it cannot be known in advance,
        /// how many were consumed before the proof ran out or overflowed).
        expected: usize,
        /// Hashes the proof has.
        found: usize,
    },
    /// The number of leaf hashes given does not match the proof's indices.
    #[error("{found} leaf hashes given for {expected} leaf indices")]
    LeafCount {
        /// Indices in the proof.
        expected: usize,
        /// Leaf hashes given.
        found: usize,
    },
    /// A well-formed proof that does not lead to the given root(s).
    #[error("proof does not verify: the computed root differs from the expected one")]
    RootMismatch,
    /// Serialized bytes end early.
    #[error("truncated: {len} bytes, need at least {len_min}")]
    Truncated {
        /// Bytes given.
        len: usize,
        /// Bytes needed.
        len_min: usize,
    },
    /// Serialized bytes continue past the end.
    #[error("trailing bytes: {len} bytes, expected {len_expected}")]
    TrailingBytes {
        /// Bytes given.
        len: usize,
        /// Bytes the encoding has.
        len_expected: usize,
    },
    /// Not a serialized object of this crate, or not of the kind asked for.
    #[error("bad header: {reason}")]
    BadHeader {
        /// What is wrong.
        reason: &'static str,
    },
    /// The CRC-32 of serialized bytes does not match.
    #[error("corrupt bytes: CRC-32 expected {expected:#010x}, found {found:#010x}")]
    Checksum {
        /// The CRC stored.
        expected: u32,
        /// The CRC computed.
        found: u32,
    },
    /// Two range trees over different boundaries cannot be compared.
    #[error("range trees have different boundaries")]
    BoundaryMismatch,
}

/// `Result` with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
