//! The error type of the crate: every failure names what and where.

use std::path::PathBuf;

use crate::BlobId;

/// Everything that can go wrong in this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The requested layout cannot be built (no data shards, more than 256
    /// shards, a zero or too large stripe, a wrong number of directories).
    #[error("invalid layout: {reason}")]
    InvalidLayout {
        /// What is wrong.
        reason: String,
    },
    /// Too few shards were given to the codec to rebuild a stripe.
    #[error("too few shards: {present} present, {needed} needed")]
    TooFewShards {
        /// Shards present.
        present: usize,
        /// Shards needed (the number of data shards).
        needed: usize,
    },
    /// Shards given to the codec disagree with each other or with the codec
    /// (wrong count, index, length or recorded data length).
    #[error("inconsistent shards: {reason}")]
    InconsistentShards {
        /// What disagrees.
        reason: String,
    },
    /// A stripe of a blob has fewer than `needed` good shards: the blob is lost
    /// unless the bad shards come back.
    #[error(
        "blob {blob}: stripe {stripe} has {good} good shards, {needed} needed; bad shards {bad_shards:?}"
    )]
    Unrecoverable {
        /// The blob.
        blob: BlobId,
        /// The stripe (0-based) that cannot be rebuilt.
        stripe: u64,
        /// Shard indexes that were missing, unreadable or failed their CRC.
        bad_shards: Vec<u16>,
        /// Good shards of that stripe.
        good: usize,
        /// Shards needed (the number of data shards).
        needed: usize,
    },
    /// The rebuilt blob does not match the checksum recorded at `put`.
    #[error("blob {blob}: checksum mismatch, expected {expected:#018x}, found {found:#018x}")]
    BlobChecksum {
        /// The blob.
        blob: BlobId,
        /// The xxh3-64 recorded in the shard headers.
        expected: u64,
        /// The xxh3-64 of the bytes rebuilt.
        found: u64,
    },
    /// No blob has this id (never written, deleted, or no shard header left).
    #[error("blob {blob} not found")]
    NotFound {
        /// The blob.
        blob: BlobId,
    },
    /// A range asked of [`BlobStore::get_range`](crate::BlobStore::get_range)
    /// goes past the end of the blob.
    #[error("blob {blob}: range {offset}+{len} past its end {blob_len}")]
    RangeOutOfBounds {
        /// The blob.
        blob: BlobId,
        /// First byte asked for.
        offset: u64,
        /// Bytes asked for.
        len: u64,
        /// The blob's length.
        blob_len: u64,
    },
    /// A directory's manifest disagrees with the options or with the other
    /// directories.
    #[error("{}: manifest field {field} is {found}, expected {expected}", dir.display())]
    ManifestMismatch {
        /// The directory.
        dir: PathBuf,
        /// The field that differs.
        field: &'static str,
        /// The value expected (from the options or the first directory).
        expected: u64,
        /// The value in this directory's manifest.
        found: u64,
    },
    /// A file's bytes are not what was written (bad magic, version, or CRC).
    #[error("{}: corrupt at offset {offset}: {what}, expected {expected:#x}, found {found:#x}", file.display())]
    Corruption {
        /// The file.
        file: PathBuf,
        /// Byte offset of the corrupt field or block.
        offset: u64,
        /// What was checked.
        what: &'static str,
        /// The value expected.
        expected: u64,
        /// The value found.
        found: u64,
    },
    /// The reader given to `put_reader` or the writer given to `get_to` failed.
    #[error("caller's stream: {0}")]
    Stream(#[source] std::io::Error),
    /// The file layer failed.
    #[error(transparent)]
    Io(#[from] vfs::Error),
    /// An object store of an [`ObjectBlobStore`](crate::ObjectBlobStore)
    /// failed (the error names the operation and object).
    #[error(transparent)]
    Object(#[from] objstore::Error),
}

/// `Result` with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
