//! The error type of the engine.

use std::path::PathBuf;

/// Everything that can go wrong in the engine.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The file layer failed (I/O error, or a fault injected by a test).
    #[error(transparent)]
    Io(#[from] vfs::Error),
    /// Bytes on disk failed a check: a checksum, a magic number, a length that
    /// points outside its block. `offset` is where the bad unit starts;
    /// `what` says which check failed and what `expected` and `found` hold
    /// (a checksum, a length, a count, a position inside the unit).
    #[error("corruption in {} at offset {offset}: {what} (expected {expected:#x}, found {found:#x})", file.display())]
    Corruption {
        /// The file holding the bad bytes.
        file: PathBuf,
        /// Byte offset of the bad record, block or footer in `file`.
        offset: u64,
        /// What failed ("block checksum", "footer magic", ...).
        what: &'static str,
        /// The checksum or value the check expected.
        expected: u64,
        /// The checksum or value found.
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
    /// A write, flush, sync, compaction or repair on a handle opened with
    /// [`Db::open_read_only`](crate::Db::open_read_only).
    #[error("database is open read-only")]
    ReadOnly,
    /// Options that cannot work together.
    #[error("invalid option: {0}")]
    InvalidOption(&'static str),
    /// A keyspace name or options it cannot take, or a keyspace that is
    /// not (or no longer) live in this database: the message says which.
    #[error("keyspace: {0}")]
    InvalidKeyspace(String),
    /// A [`Db::delete_range`](crate::Db::delete_range) range it cannot
    /// take: an unbounded end, or a start after the end.
    #[error("invalid range: {0}")]
    InvalidRange(&'static str),
    /// The blob store (key-value separation) failed outside a read of one
    /// key: opening it, or writing a blob at flush.
    #[error("blob store: {0}")]
    BlobStore(#[source] erasure::Error),
    /// The value of `key` lives in a blob that cannot be read: missing, or
    /// more shards of a stripe lost than the code's parity survives.
    #[error("value of key {} in blob {blob:016x}: {source}", Key(key))]
    BlobUnavailable {
        /// The user key whose value is lost.
        key: Vec<u8>,
        /// The blob its reference points into.
        blob: u64,
        /// What the blob store reported.
        #[source]
        source: erasure::Error,
    },
    /// The bytes read for `key` from its blob do not match the checksum in
    /// its reference.
    #[error(
        "value of key {} in blob {blob:016x} at byte offset {offset} ({len} bytes): \
         checksum expected {expected:#x}, found {found:#x}",
        Key(key)
    )]
    BlobChecksum {
        /// The user key.
        key: Vec<u8>,
        /// The blob its reference points into.
        blob: u64,
        /// Byte offset of the value in the blob.
        offset: u64,
        /// Length of the value in bytes.
        len: u64,
        /// xxh3-64 recorded in the reference.
        expected: u64,
        /// xxh3-64 of the bytes read.
        found: u64,
    },
    /// A blob reference stored under `key` does not decode: it is not 32
    /// bytes long.
    #[error(
        "bad blob reference under key {}: expected {} bytes, found {len}",
        Key(key),
        crate::blob::BLOB_REF_LEN
    )]
    BadBlobRef {
        /// The user key.
        key: Vec<u8>,
        /// Bytes of the stored reference.
        len: usize,
    },
    /// A timed value (written under [`Options::ttl`](crate::Options::ttl))
    /// stored under `key` is too short to hold its 8-byte write time.
    #[error(
        "bad timed value under key {}: expected at least 8 bytes, found {len}",
        Key(key)
    )]
    BadTimedValue {
        /// The user key.
        key: Vec<u8>,
        /// Bytes of the stored value.
        len: usize,
    },
    /// The [`CompactionFilter`](crate::CompactionFilter) of
    /// [`Options::compaction_filter`](crate::Options::compaction_filter)
    /// panicked: the compaction wrote nothing and the engine stopped.
    #[error("compaction filter {filter} panicked: {message}")]
    CompactionFilterPanicked {
        /// The filter's [`name`](crate::CompactionFilter::name).
        filter: String,
        /// The panic's message.
        message: String,
    },
    /// The object store of [`Options::table_store`](crate::Options::table_store)
    /// failed a request (a missing table found at open is an
    /// [`Error::Corruption`] instead, naming the object).
    #[error("table store {location}: {source}")]
    TableStore {
        /// Where the store is ([`objstore::Store::location`]).
        location: String,
        /// What the store reported (it names the object).
        #[source]
        source: objstore::Error,
    },
    /// Another writer claimed the store this writer publishes its manifest
    /// to ([`Options::publish_manifest`](crate::Options::publish_manifest)):
    /// this one stopped, and every later write, `sync` and `flush` returns
    /// `Error::Fenced` again. Also returned by an open whose directory's
    /// writer another writer superseded since.
    #[error("fenced out of {location} (writer epoch {epoch}): {reason}")]
    Fenced {
        /// Where the store is.
        location: String,
        /// This writer's epoch, now superseded.
        epoch: u64,
        /// What the store reported.
        reason: String,
    },
    /// An optimistic [`Transaction`](crate::Transaction) could not commit:
    /// `key`, which it read or writes, was written by another writer after
    /// the transaction's snapshot. Nothing was written; begin a new
    /// transaction and retry.
    #[error("transaction conflict on key {}", Key(key))]
    Conflict {
        /// The smallest conflicting key.
        key: Vec<u8>,
    },
    /// [`Db::checkpoint`](crate::Db::checkpoint) was given a destination
    /// that exists and is not an empty directory; nothing was written.
    #[error("checkpoint destination {} exists and is not an empty directory", path.display())]
    CheckpointDestination {
        /// The refused destination.
        path: PathBuf,
    },
    /// A merge ([`Db::merge`](crate::Db::merge)) on a store opened without
    /// [`Options::merge_operator`](crate::Options::merge_operator), or a
    /// read of a key holding merge operands there: nothing was written, or
    /// the key's value cannot be computed.
    #[error("key {} has merge operands and no merge operator is set", Key(key))]
    MergeOperatorMissing {
        /// The key.
        key: Vec<u8>,
    },
    /// The merge operator failed to combine the operands of `key` (an
    /// operand it cannot read). Reads of the key fail until it is
    /// overwritten or deleted; flush and compaction keep its operands.
    #[error("merge operator {operator} failed on key {}: {source}", Key(key))]
    MergeFailed {
        /// The key.
        key: Vec<u8>,
        /// The operator's [`name`](crate::MergeOperator::name).
        operator: String,
        /// What the operator reported.
        #[source]
        source: crate::merge::MergeFailure,
    },
    /// The store was opened with a merge operator named `given`, but its
    /// manifest records the operator `recorded`: its operands were written
    /// for that one. Nothing was changed; open with an operator of the
    /// recorded name.
    #[error("merge operator {given:?} does not match the store's {recorded:?}")]
    MergeOperatorMismatch {
        /// The name the manifest records.
        recorded: String,
        /// The name of [`Options::merge_operator`](crate::Options::merge_operator).
        given: String,
    },
    /// A [`TableWriter`](crate::TableWriter) was given `key`, which does
    /// not sort after the `previous` key (keys must strictly increase);
    /// nothing was added.
    #[error(
        "key {} does not sort after the previous key {}",
        Key(key),
        Key(previous)
    )]
    KeyOrder {
        /// The key added before.
        previous: Vec<u8>,
        /// The refused key.
        key: Vec<u8>,
    },
    /// [`Db::ingest`](crate::Db::ingest) was given two files whose key
    /// ranges overlap; nothing was ingested. Ingest them in two calls (the
    /// later one wins) or write one sorted run.
    #[error("ingested files {} and {} overlap", first.display(), second.display())]
    IngestOverlap {
        /// The file with the smaller first key.
        first: PathBuf,
        /// The file whose range begins inside `first`'s.
        second: PathBuf,
    },
    /// [`Db::ingest`](crate::Db::ingest) found writes landing in the
    /// ingested key ranges after each of `attempts` flushes; nothing was
    /// ingested. Retry once those writes calm down.
    #[error("ingest gave up after {attempts} flushes: writes kept landing in its key ranges")]
    IngestBusy {
        /// Flushes tried.
        attempts: u32,
    },
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

/// A user key in a message: printable ASCII as is, every other byte
/// escaped, as Rust writes a byte string (`b"user\x00\xff"`).
pub(crate) struct Key<'a>(pub(crate) &'a [u8]);

impl std::fmt::Display for Key<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("b\"")?;
        for &b in self.0 {
            write!(f, "{}", std::ascii::escape_default(b))?;
        }
        f.write_str("\"")
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_in_messages_read_as_byte_strings() {
        assert_eq!(Key(b"user\x00\xff\"").to_string(), r#"b"user\x00\xff\"""#);
        let e = Error::BadBlobRef {
            key: b"k1".to_vec(),
            len: 31,
        };
        assert_eq!(
            e.to_string(),
            r#"bad blob reference under key b"k1": expected 32 bytes, found 31"#
        );
    }
}
