//! The error type of the `hyperloglog` crate.

/// What went wrong building, combining or decoding a sketch.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A precision outside 4..=18.
    #[error("precision {precision} out of range {min}..={max}")]
    Precision {
        /// The precision given.
        precision: u8,
        /// The smallest allowed.
        min: u8,
        /// The largest allowed.
        max: u8,
    },
    /// `merge` of sketches of different precisions (reduce one first).
    #[error("precisions differ: {left} vs {right} (reduce the larger first)")]
    PrecisionMismatch {
        /// The precision of `self`.
        left: u8,
        /// The precision of the other sketch.
        right: u8,
    },
    /// `merge` of sketches that hash items differently (xxh3 vs Redis).
    #[error("sketches hash items differently (xxh3 vs Redis mode)")]
    ModeMismatch,
    /// Bytes that are not a valid Redis HyperLogLog string.
    #[error("not a valid Redis HyperLogLog: {reason}")]
    Redis {
        /// What is wrong.
        reason: &'static str,
    },
    /// `reduce` to a precision larger than the sketch's.
    #[error("cannot reduce precision {from} to the larger {to}")]
    ReduceUp {
        /// The sketch's precision.
        from: u8,
        /// The precision asked for.
        to: u8,
    },
    /// The bytes end before the sketch does.
    #[error("truncated sketch: {len} bytes, need {len_expected}")]
    Truncated {
        /// Bytes given.
        len: usize,
        /// Bytes the header says there are.
        len_expected: usize,
    },
    /// The bytes go on past the sketch.
    #[error("trailing bytes: {len} bytes, the sketch is {len_expected}")]
    TrailingBytes {
        /// Bytes given.
        len: usize,
        /// Bytes the sketch has.
        len_expected: usize,
    },
    /// Not a serialized sketch, or a version or encoding this code does not read.
    #[error("bad header: {reason}")]
    BadHeader {
        /// What is wrong.
        reason: &'static str,
    },
    /// The CRC-32 does not match the bytes.
    #[error("corrupt sketch: CRC-32 expected {expected:#010x}, found {found:#010x}")]
    Checksum {
        /// The CRC stored.
        expected: u32,
        /// The CRC computed.
        found: u32,
    },
    /// A register holds a value no hash can produce at this precision.
    #[error(
        "register {index} holds {value}, which no stream of hashes produces (largest valid: {max})"
    )]
    RegisterValue {
        /// The register.
        index: usize,
        /// Its value.
        value: u8,
        /// The largest value possible.
        max: u8,
    },
}

/// `Result` with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
